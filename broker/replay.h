/*
 * replay.h - what a reconnecting client missed (?since=<message id>):
 * the room's messages after that id, in order, and the current status of
 * earlier ones whose status changed since that message was sent.  The
 * worker holds the connection's live traffic until MSG_REPLAY_DONE and
 * drops live messages the replay already carried, so nothing is lost or
 * seen twice.  A replay that cannot be complete says so in the notice.
 */
#ifndef CHATD_REPLAY_H
#define CHATD_REPLAY_H

#include <stdint.h>

struct bconn;

/* c is open; ends with MSG_REPLAY_DONE to its worker, always. */
void	replay_start(struct bconn *, uint64_t since);

#endif
