/*
 * recent.h - what the broker keeps in memory about each room's messages,
 * so that room lists, room details and the newest page of a room are
 * answered without MariaDB: how many messages the room has, how many of
 * each participant's are unread, and its newest messages.
 *
 * A room's state is loaded from MariaDB on first use and then kept right
 * by the two places that change messages: order.c after every COMMIT
 * (recent_committed) and whoever applies a status change
 * (recent_set_status).  Messages changed behind chatd's back in MariaDB
 * are not seen until the broker restarts.
 */
#ifndef CHATD_RECENT_H
#define CHATD_RECENT_H

#include <stddef.h>
#include <stdint.h>

struct pmsg;
struct room;

/* Message status, as stored. */
#define MSG_STATUS_SENT		1
#define MSG_STATUS_DELIVERED	2
#define MSG_STATUS_READ		3

/* One stored message.  Times in ms since the epoch, 0 = not set. */
struct rmsg {
	uint64_t	 id;
	uint64_t	 room;
	uint64_t	 sender;
	int		 status;
	int64_t		 sent_ms;
	int64_t		 delivered_ms;
	int64_t		 read_ms;
	int64_t		 created_ms;
	int64_t		 updated_ms;
	char		*content;
	size_t		 content_len;
};

/* ok: 1 = loaded, -1 = database error. */
typedef void	recent_load_cb(int ok, void *arg);

/* Rooms whose state is in memory. */
size_t	recent_rooms(void);
/* 1 if the room's state is in memory. */
int	recent_ready(uint64_t room_id);
/* Load it (the room must be cached); cb runs once it is ready, perhaps
 * before this returns. */
void	recent_load(const struct room *, recent_load_cb *, void *arg);

/* A new message is committed (order.c). */
void	recent_committed(const struct pmsg *);
/*
 * Message msg_id of the room moved forward to status at ts_ms (committed
 * already).  Every applied status change must come through here, cached
 * message or not: unread counts depend on it.
 */
void	recent_set_status(uint64_t room_id, uint64_t msg_id, int status,
	    int64_t ts_ms);

/* For a ready room: its message count, the messages of user's peer
 * that are not read, and the newest message (NULL if none). */
uint64_t		 recent_count(uint64_t room_id);
uint64_t		 recent_unread(const struct room *, uint64_t user);
const struct rmsg	*recent_last(uint64_t room_id);

/*
 * Up to n messages of a ready room, newest first: those with id < before
 * if before is not 0, else those after skipping the offset newest.
 * Fills out[] and returns how many, or -1 if memory does not hold that
 * range (ask MariaDB).  *more_out is 1 if older messages exist.
 */
int	recent_slice(uint64_t room_id, uint64_t offset, uint64_t before,
	    size_t n, const struct rmsg **out, int *more_out);

/* Parse the columns of RECENT_COLUMNS into m (content is copied). */
#define RECENT_COLUMNS	"id, room_id, sender_id, status," \
	" COALESCE(FLOOR(UNIX_TIMESTAMP(sent_at) * 1000), 0)," \
	" COALESCE(FLOOR(UNIX_TIMESTAMP(delivered_at) * 1000), 0)," \
	" COALESCE(FLOOR(UNIX_TIMESTAMP(read_at) * 1000), 0)," \
	" FLOOR(UNIX_TIMESTAMP(created_at) * 1000)," \
	" FLOOR(UNIX_TIMESTAMP(updated_at) * 1000), content"
int	recent_parse_row(char **row, unsigned long *lengths, struct rmsg *m);
/* A just-committed message as stored; m->content points into pm. */
void	recent_from_pmsg(struct rmsg *m, const struct pmsg *pm);
void	recent_msg_clear(struct rmsg *);

#endif
