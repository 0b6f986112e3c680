/*
 * link.h - the broker's side of the broker <-> worker protocol: the
 * dispatcher for frames from workers, and one send_ function per frame
 * the broker sends.  Decisions are made elsewhere (conn.c, room.c,
 * order.c); this file only decodes, validates and routes.
 */
#ifndef CHATD_LINK_H
#define CHATD_LINK_H

#include <stdint.h>

#include "wire.h"

struct chan;
struct worker;
struct pmsg;

int	link_recv(struct chan *, struct wire_msg *, void *worker);
void	link_send_config(struct worker *);
void	send_ws_accept(int worker, uint32_t conn, uint64_t user, uint64_t room,
	    const char *username);
void	send_ws_refuse(int worker, uint32_t conn, uint16_t code,
	    const char *reason);
void	send_ws_kick(int worker, uint32_t conn, uint16_t code,
	    const char *reason);
void	send_send_fail(int worker, uint32_t conn, const char *temp_id,
	    size_t temp_len, const char *reason);
/* One DELIVER of m to worker; sender_conn is that worker's id of the
 * sending connection, or 0. */
void	send_deliver(int worker, const struct pmsg *m, uint32_t sender_conn);

#endif
