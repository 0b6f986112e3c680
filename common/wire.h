/*
 * wire.h - the catalogue of every message that crosses a process boundary
 * in chatd: broker <-> worker (socketpair) and chatctl <-> broker (control
 * socket).  A frame is a 16-byte header followed by a payload of
 * big-endian fixed-width integers and strings (u32 length + bytes, no NUL).
 *
 * Every channel opens with MSG_HELLO carrying WIRE_VERSION.  A frame that
 * fails to decode comes from a trusted peer and is a bug: the receiver
 * drops that channel.  Handlers consume the payload exactly; leftover bytes
 * mean the frame is malformed.
 */
#ifndef CHATD_WIRE_H
#define CHATD_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct evbuffer;

#define WIRE_VERSION	1			/* bump on any incompatible change */
#define WIRE_HDR_SIZE	16
#define WIRE_MAX_SIZE	(4 * 1024 * 1024)	/* header included; larger = protocol error */

struct wire_hdr {
	uint32_t	len;		/* header + payload, bytes */
	uint16_t	type;		/* enum msg_type */
	uint16_t	flags;		/* WIRE_F_* */
	uint64_t	id;		/* connection, room or request this concerns */
};

enum msg_type {
	MSG_NONE = 0,

	/* any channel, both directions, first frame */
	MSG_HELLO,		/* u32 version, u32 worker index (0 for chatctl), u32 pid */

	/* broker -> worker */
	MSG_CFG_SET,		/* str keyword, str value: one config line */
	MSG_CFG_DONE,		/* empty: configuration complete, start serving */
	MSG_WS_ACCEPT,		/* id=conn; u64 user, u64 room, str username */
	MSG_WS_REFUSE,		/* id=conn; u16 close code, str reason */
	MSG_DELIVER,		/* id=room; u64 msg id, u64 sender, u64 created ms,
				   u64 sender conn (0 = none), str username,
				   str temp_id, str content */
	MSG_SEND_FAIL,		/* id=conn; str temp_id, str reason */
	MSG_HEALTH_CHECK,	/* id=room; empty: every connection in the room
				   answers its client with health_check_response */

	/* worker -> broker */
	MSG_WS_OPEN,		/* id=conn; u64 user, u64 room (JWT already verified) */
	MSG_WS_CLOSE,		/* id=conn; empty: connection is gone */
	MSG_SEND,		/* id=conn; str temp_id, str content (validated UTF-8,
				   within the size limit) */

	/* broker -> worker, for chatctl */
	MSG_WS_KICK,		/* id=conn; u16 close code, str reason: close it */

	/*
	 * chatctl <-> broker, over the control socket.  chatctl sends
	 * MSG_HELLO, the broker answers MSG_HELLO (or MSG_CTL_FAIL and
	 * closes).  Then one request at a time; every request is answered by
	 * rows or data and MSG_CTL_END, or by MSG_CTL_FAIL.  USER arguments
	 * are a user id (all digits) or a username.
	 */
	MSG_CTL_STATUS,		/* empty; one summary row, then one row per worker */
	MSG_CTL_CHECK,		/* empty; one row per check: name, ok, detail */
	MSG_CTL_CONNS,		/* u64 room (0 = any), str user ("" = any) */
	MSG_CTL_KICK,		/* u64 conn (0 = by user), str user, u16 code,
				   str reason */
	MSG_CTL_HEALTH,		/* id=room (0 = every room with connections);
				   empty; one row per room asked */
	MSG_CTL_USER_ADD,	/* str username, str display name,
				   str image urls (JSON array) */
	MSG_CTL_USER_LIST,	/* str username substring ("" = all), u32 limit
				   (0 = no limit) */
	MSG_CTL_USER_SHOW,	/* str user */
	MSG_CTL_ROOM_CREATE,	/* str user1, str user2, u64 match (0 = none) */
	MSG_CTL_ROOM_LIST,	/* str user ("" = all), u32 limit (0 = no limit) */
	MSG_CTL_ROOM_SHOW,	/* id=room; empty */
	MSG_CTL_TOKEN,		/* str user, u32 ttl seconds */
	MSG_CTL_PROVISION,	/* u32 users, u32 rooms, str base URL ("" = from
				   the first listen address); answered with
				   MSG_CTL_DATA chunks of one JSON document */
	MSG_CTL_RELOAD,		/* empty; as SIGHUP */
	MSG_CTL_SHUTDOWN,	/* empty; as SIGTERM */
	MSG_CTL_ROW,		/* str JSON object: one row of a reply */
	MSG_CTL_DATA,		/* bytes (no length prefix): part of a document */
	MSG_CTL_END,		/* empty: the reply is complete */
	MSG_CTL_FAIL,		/* str reason: the request failed */
	/*
	 * Chat protocol: typing, message status, presence, replay.  Status
	 * numbers are the messages.status column: 1 sent, 2 delivered, 3 read.
	 */
	MSG_TYPING,		/* w->b id=conn; u8 1 = typing_on, 0 = typing_off */
	MSG_STATUS,		/* w->b id=conn; u64 msg id, u8 status (2 or 3) */
	MSG_REPLAY,		/* w->b id=conn; u64 since: replay the room after
				   that message id; sent once MSG_WS_ACCEPT came */
	MSG_CONN_ERROR,		/* b->w id=conn; str text: send the client an error */
	MSG_STATUS_UPDATE,	/* b->w id=room; u64 msg id, u8 status, u64 ms,
				   u64 updated_by, u32 conn (0 = every connection
				   in the room, else that one only) */
	MSG_TYPING_UPDATE,	/* b->w id=room; u64 user, u8 is_typing,
				   str username: to the other user's connections */
	MSG_PRESENCE,		/* b->w id=room; u64 user, u8 online, u64 last seen
				   ms, str username: to the other user's connections */
	MSG_REPLAY_MSG,		/* b->w id=conn; u64 room, u64 msg id, u64 sender,
				   u64 created ms, u8 status, str username,
				   str temp_id ("" unless the connection's user
				   sent it), str content: one missed message */
	MSG_REPLAY_DONE,	/* b->w id=conn; str notice ("" = complete) */
	/*
	 * REST API.  A worker asks with one MSG_REST_QUERY; the broker
	 * answers with record frames (users first, then the rooms or
	 * messages that name them) and ends every answer with one
	 * MSG_REST_DONE.  Times are ms since the epoch, 0 = null.  The
	 * worker renders the JSON; the broker never sees HTTP.
	 */
	MSG_REST_QUERY,		/* worker -> broker; id=request; u8 kind (REST_Q_*),
				   u64 user (JWT verified), u64 room, u64 page,
				   u64 before (0 = none), u32 page size,
				   str temp_id, str content */
	MSG_REST_USER,		/* broker -> worker; id=request; u64 user,
				   u8 online, u64 last seen, str username,
				   str display_name, str image_urls (JSON text) */
	MSG_REST_ROOM,		/* broker -> worker; id=request; u64 room, u64 p1,
				   u64 p2, u64 match (0 = none), u64 created,
				   u64 unread (the asker's), u8 typing (bit 0 = p1,
				   bit 1 = p2), u64 last id (0 = no message),
				   u64 last sender, u8 last status, u64 last
				   created, str last content */
	MSG_REST_MESSAGE,	/* broker -> worker; id=request; u64 id, u64 room,
				   u64 sender, u8 status (1 sent, 2 delivered,
				   3 read), u64 sent, u64 delivered, u64 read,
				   u64 created, u64 updated, str content */
	MSG_REST_DONE,		/* broker -> worker; id=request; u16 HTTP status,
				   u64 count, u8 more, u64 n1, u64 n2, u64 n3,
				   str field ("" = detail), str error text */
	/* daemon: connection limits and /metrics */
	MSG_WORKER_REFUSED,	/* worker -> broker; u32 reason (enum refusal in
				   broker/stats.h): a client hit a limit */
	MSG_METRICS_GET,	/* worker -> broker; id=request; empty */
	MSG_METRICS,		/* broker -> worker; id=request; str Prometheus
				   text exposition */
	MSG_ECHO,		/* b->w id=conn; as MSG_REPLAY_MSG: a retried
				   message, stored before, for the retrying
				   connection */

	MSG_TYPE_MAX		/* keep last; not a message */
};

#define WIRE_F_NONE	0x0000

/* MSG_REST_QUERY kinds. */
enum rest_kind {
	REST_Q_ROOMS = 0,	/* the asker's rooms, a page of them */
	REST_Q_ROOM,		/* one room */
	REST_Q_MESSAGES,	/* a page of a room's messages, newest first */
	REST_Q_POST,		/* store a message (temp_id, content) */
	REST_Q_STATS,		/* n1 rooms, n2 active today, n3 messages 24h */
	REST_Q_ROOM_HEALTH,	/* n1 connections asked, n2 messages 24h */
	REST_Q_HEALTH_ALL,	/* n1 rooms asked, n2 rooms */
	REST_Q_MAX
};

/*
 * Decoding.  A struct wire_msg points into the input buffer: it is valid
 * until wire_consume() drains it.
 */
struct wire_msg {
	struct wire_hdr	 hdr;
	struct rd	 payload;
};

const char	*msg_type_name(uint32_t);

/* Start a frame at the end of b; returns its offset for wire_end(). */
size_t	wire_begin(struct buf *b, uint16_t type, uint64_t id);
/* Patch the frame's length.  -1 if the frame is too large or b failed. */
int	wire_end(struct buf *b, size_t off);

/* Parse a header from raw bytes; -1 if len or type is impossible. */
int	wire_hdr_decode(const uint8_t *p, struct wire_hdr *out);
/*
 * Peek at the next complete frame in in.  1 = frame in *out (pulled up to
 * contiguous memory), 0 = need more bytes, -1 = malformed stream.
 */
int	wire_next(struct evbuffer *in, struct wire_msg *out);
void	wire_consume(struct evbuffer *in, const struct wire_msg *);

#endif
