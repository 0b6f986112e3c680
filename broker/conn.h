/*
 * conn.h - every WebSocket connection the broker knows of, whichever
 * worker holds it.  A connection is named by (worker index, the worker's
 * connection id); the broker never sees its socket.
 */
#ifndef CHATD_CONN_H
#define CHATD_CONN_H

#include <stdint.h>

struct room;

enum bconn_state {
	BC_RESOLVING = 0,	/* waiting for user/room lookups */
	BC_OPEN,
};

struct bconn {
	uint64_t	 c_key;
	int		 c_worker;
	uint32_t	 c_id;
	uint64_t	 c_user;
	uint64_t	 c_room_id;
	struct room	*c_room;	/* set once open */
	enum bconn_state c_state;
	int		 c_user_looked;	/* a miss was already looked up */
	int		 c_room_looked;
	struct bconn	*c_room_next;
	int64_t		 c_opened_ms;
	unsigned	 c_lookups;	/* status lookups waiting in MariaDB */
	/* Never reused, unlike c_key: a restarted worker numbers its
	 * connections from 1 again. */
	uint64_t	 c_serial;
};

static inline uint64_t
conn_key(int worker, uint32_t id)
{
	return ((uint64_t)(worker + 1) << 32) | id;
}

struct bconn	*conn_new(int worker, uint32_t id, uint64_t user, uint64_t room);
struct bconn	*conn_get(uint64_t key);
void		 conn_free(struct bconn *);
/* Forget every connection of a worker that died. */
void		 conn_drop_worker(int worker);
size_t		 conn_count(void);
/* for (i = 0; (c = conn_next(&i)) != NULL; ) ...; do not free meanwhile. */
struct bconn	*conn_next(size_t *iter);

#endif
