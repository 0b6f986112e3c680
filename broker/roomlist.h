/*
 * roomlist.h - which rooms each user is in, kept in memory for the REST
 * rooms list.
 *
 * The application creates rooms straight in MariaDB, so a user's list is
 * read from there when first needed and read again once it is older than
 * room_list_lifetime seconds: a room inserted behind chatd's back shows
 * within that time.  Rooms the broker learns of itself (loaded for a
 * connection or a request, created by chatctl) are added at once.  One
 * read per user at a time: whoever asks while it is in flight waits for
 * it.  A periodic sweep drops lists past their lifetime, so memory
 * follows the users asked about recently, not every user ever seen.
 * Rooms are never taken out of a list: the product does not delete rooms.
 */
#ifndef CHATD_ROOMLIST_H
#define CHATD_ROOMLIST_H

#include <stddef.h>
#include <stdint.h>

/* ok: 1 = read, -1 = database error or no memory. */
typedef void	roomlist_cb(int ok, void *arg);

/* Start the sweep; after the event base exists. */
int		 roomlist_init(void);
/*
 * The user's room ids, ascending, and their number in *n_out; NULL if
 * the list is not in memory, or is older than the lifetime and any_age
 * is 0.  Valid until the next roomlist_add() or roomlist_read().
 */
const uint64_t	*roomlist_ids(uint64_t user, int any_age, size_t *n_out);
/* Read the list from MariaDB, or join the read in flight; cb runs when
 * it ends, perhaps before this returns. */
void		 roomlist_read(uint64_t user, roomlist_cb *, void *arg);
/* Room id joins users p1 and p2: add it to whichever lists exist. */
void		 roomlist_add(uint64_t id, uint64_t p1, uint64_t p2);
/* Lists in memory, for metrics. */
size_t		 roomlist_count(void);
/* Free everything; after the database is closed (reads in flight are
 * forgotten, their waiters are not called). */
void		 roomlist_shutdown(void);

#endif
