/*
 * presence.h - who is online.  A user is online while they have at
 * least one WebSocket connection, in any room, on any worker.  Going
 * online (first connection) and offline (last one gone) is announced to
 * the other participant of every room they share that is open on the
 * other side, and last_seen is stored.  "Is this user online" is asked
 * here only, so that it can later be answered by a shared engine when
 * there is more than one broker.
 */
#ifndef CHATD_PRESENCE_H
#define CHATD_PRESENCE_H

#include <stdint.h>

struct bconn;

/* c has just been admitted to its room. */
void	presence_conn_open(struct bconn *);
/* c has just left its room (already unlinked). */
void	presence_conn_close(struct bconn *);
int	presence_online(uint64_t user);

#endif
