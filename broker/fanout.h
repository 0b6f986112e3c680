/*
 * fanout.h - send one frame to every worker that holds connections in a
 * room, or to one connection.  The payload is encoded once by the caller;
 * the workers pick the local connections it is for.
 */
#ifndef CHATD_FANOUT_H
#define CHATD_FANOUT_H

#include <stdint.h>

#include "buf.h"

struct room;
struct bconn;

/* One frame to one worker. */
void	fanout_worker(int worker, uint16_t type, uint64_t id,
	    const struct buf *b);
/* One frame of type with id=room per worker in the room; b is the payload. */
void	fanout_room(const struct room *, uint16_t type, const struct buf *b);
/* One frame of type with id=the connection's worker-side id. */
void	fanout_conn(const struct bconn *, uint16_t type, const struct buf *b);
/* Tell one connection's client about a refused request ("error"). */
void	fanout_conn_error(const struct bconn *, const char *text);

/* A stored message for one connection (MSG_REPLAY_MSG, MSG_ECHO). */
struct conn_msg {
	uint64_t	 room;
	uint64_t	 id;
	uint64_t	 sender;
	int64_t		 created_ms;
	int		 status;
	const char	*username;
	const char	*temp_id;	/* NULL: not the connection's own */
	size_t		 temp_len;
	const char	*content;
	size_t		 content_len;
};
void	fanout_conn_msg(const struct bconn *, uint16_t type,
	    const struct conn_msg *);

#endif
