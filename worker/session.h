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
#include "render.h"

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
/* The same over an existing stream (a TLS connection, say).  Takes bev,
 * which owns its socket; MHD's own socket for the connection is given back
 * to MHD once the session is admitted. */
void	session_start_bev(struct bufferevent *bev,
	    struct MHD_UpgradeResponseHandle *, uint64_t user, uint64_t room,
	    const char *extra_in, size_t extra_len);

/* Broker answers, by connection id. */
void	session_accepted(uint32_t id, const char *username, size_t len);
void	session_refused(uint32_t id, uint16_t code, const char *reason);
void	session_send_failed(uint32_t id, const struct str *temp_id,
	    const char *reason);

/* A committed message for every local connection in the room. */
void	session_deliver(const struct delivery *);

/*
 * Options of the next session_start*() call, taken from the upgrade
 * request: replay the room after message id since (0 = no replay); bad
 * means a since parameter was given but is not a message id.  The next
 * session_start*() consumes them.
 */
/* The connection-limit count (guard.c) the next session holds. */
void	session_next_hold(uint64_t);
/* The next session will not start after all: drop what was set for it. */
void	session_next_drop(void);
void	session_next_replay(uint64_t since, int bad);

/* Broker notices for the clients (chat protocol). */
void	session_conn_error(uint32_t id, const char *text);
void	session_status_update(uint64_t room, uint64_t msg_id, int status,
	    int64_t ts_ms, uint64_t updated_by, uint32_t only_conn);
void	session_typing(uint64_t room, uint64_t user, int on,
	    const struct str *username);
void	session_presence(uint64_t room, uint64_t user, int online,
	    int64_t last_seen_ms, const struct str *username);
void	session_replay_msg(uint32_t id, const struct delivery *);
/* A retry of a message stored before: the stored one, with its temp_id. */
void	session_echo(uint32_t id, const struct delivery *);
void	session_replay_done(uint32_t id, const char *notice);

/* Answer the room's clients with health_check_response. */
void	session_health_check(uint64_t room);

/* An administrator closes one session with code and reason. */
void	session_kick(uint32_t id, uint16_t code, const char *reason);

/* Close every session with 1001 (going away). */
void	session_close_all(void);
size_t	session_count(void);

#endif
