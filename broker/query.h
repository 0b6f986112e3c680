/*
 * query.h - the broker's side of the REST API: answer one MSG_REST_QUERY
 * from a worker with record frames and a MSG_REST_DONE.  Answers come
 * from memory (room.c, recent.c, profile.c) where it holds them, and from
 * MariaDB on the read connection otherwise; nothing here blocks.  The
 * worker has verified the token, the route and the body; this module
 * decides who may see what.
 */
#ifndef CHATD_QUERY_H
#define CHATD_QUERY_H

#include "wire.h"

/* Decode and start a query; -1 if the frame is malformed. */
int	query_recv(int worker, struct wire_msg *);
/* Free every query still in progress; after the database is closed. */
void	query_shutdown(void);

#endif
