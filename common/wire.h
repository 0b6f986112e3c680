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

	/* daemon: connection limits and /metrics */
	MSG_WORKER_REFUSED,	/* worker -> broker; u32 reason (enum refusal in
				   broker/stats.h): a client hit a limit */
	MSG_METRICS_GET,	/* worker -> broker; id=request; empty */
	MSG_METRICS,		/* broker -> worker; id=request; str Prometheus
				   text exposition */

	MSG_TYPE_MAX		/* keep last; not a message */
};

#define WIRE_F_NONE	0x0000

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
