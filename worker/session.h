/*
 * session.h - WebSocket connections after the upgrade: RFC 6455 framing
 * through ws.c, the chat protocol's JSON messages, and the worker's index
 * of which local connections are in which room.  A session is admitted
 * only when the broker accepts it; until then it reads nothing.
 */
#ifndef CHATD_SESSION_H
#define CHATD_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct MHD_UpgradeResponseHandle;
struct bufferevent;

/*
 * Take over an upgraded socket.  user 0 means the token was refused and
 * room 0 that the path named no room: the client is closed with 4001 or
 * 4004 without asking the broker.  extra_in is what the client sent after
 * its handshake; it is copied.
 */
void	session_start(int fd, struct MHD_UpgradeResponseHandle *,
	    uint64_t user, uint64_t room, const char *extra_in, size_t extra_len);
/* The same over an existing stream (a TLS connection, say).  Takes bev;
 * it must not own the socket, which MHD closes. */
void	session_start_bev(struct bufferevent *bev,
	    struct MHD_UpgradeResponseHandle *, uint64_t user, uint64_t room,
	    const char *extra_in, size_t extra_len);

/* Broker answers, by connection id. */
void	session_accepted(uint32_t id, const char *username, size_t len);
void	session_refused(uint32_t id, uint16_t code, const char *reason);
void	session_send_failed(uint32_t id, const struct str *temp_id,
	    const char *reason);

/* A committed message for every local connection in the room. */
struct delivery {
	uint64_t	room;
	uint64_t	id;
	uint64_t	sender;
	int64_t		created_ms;
	uint32_t	sender_conn;
	struct str	username;
	struct str	temp_id;
	struct str	content;
};
void	session_deliver(const struct delivery *);

/* Answer the room's clients with health_check_response. */
void	session_health_check(uint64_t room);

/* An administrator closes one session with code and reason. */
void	session_kick(uint32_t id, uint16_t code, const char *reason);

/* Close every session with 1001 (going away). */
void	session_close_all(void);
size_t	session_count(void);

#endif
