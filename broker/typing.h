/*
 * typing.h - who is typing in which room.  The state lives in struct
 * room (r_typing_until) so that room details can show typing_users; this
 * module changes it, expires a typing_on left standing for
 * typing_timeout seconds, and tells the other participant.
 */
#ifndef CHATD_TYPING_H
#define CHATD_TYPING_H

struct bconn;

void	typing_set(struct bconn *, int on);
/* c has left its room: clear its user's typing if no other connection of
 * theirs is in the room. */
void	typing_conn_closed(struct bconn *);

#endif
