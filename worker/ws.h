/*
 * ws.h - RFC 6455 WebSocket framing for the server side.
 * A pure codec on evbuffers: it turns client bytes into whole messages and
 * control frames, and writes unmasked server frames.  It never touches a
 * socket, a timer or the event loop, never answers pings or closes by
 * itself (the caller decides what to send), and negotiates no extension,
 * so any RSV bit is a protocol error.
 */
#ifndef CHATD_WS_H
#define CHATD_WS_H

#include <stddef.h>
#include <stdint.h>

#include "utf8.h"	/* struct ws_reader embeds a struct utf8_state */

struct evbuffer;

#define WS_OP_CONT	0x0
#define WS_OP_TEXT	0x1
#define WS_OP_BINARY	0x2
#define WS_OP_CLOSE	0x8
#define WS_OP_PING	0x9
#define WS_OP_PONG	0xA

#define WS_CLOSE_NORMAL		1000
#define WS_CLOSE_GOING_AWAY	1001
#define WS_CLOSE_PROTOCOL	1002
#define WS_CLOSE_UNSUPPORTED	1003	/* e.g. a binary message */
#define WS_CLOSE_NO_STATUS	1005	/* never sent; "peer gave no code" */
#define WS_CLOSE_BAD_DATA	1007	/* invalid UTF-8 */
#define WS_CLOSE_POLICY		1008
#define WS_CLOSE_TOO_BIG	1009
#define WS_CLOSE_INTERNAL	1011

#define WS_CONTROL_MAX	125	/* payload limit of a control frame */

/*
 * Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)),
 * 28 characters and a NUL.  On an OpenSSL failure out is the empty string,
 * so a caller comparing or sending it fails the handshake.
 */
void	ws_accept_key(const char *, char out[29]);

/*
 * Append one unmasked frame with FIN set.  Control frames (close, ping,
 * pong) longer than 125 bytes and unknown opcodes are refused.  Returns 0,
 * or -1 with nothing appended.
 */
int	ws_write_frame(struct evbuffer *, int, const void *, size_t);
/* The header of an unmasked, unfragmented frame of len payload bytes;
 * returns its length, or -1 for a bad opcode or size. */
#define WS_HEAD_MAX	10
int	ws_frame_head(uint8_t h[WS_HEAD_MAX], int opcode, size_t len);

/*
 * Append a close frame.  Code 0 or 1005 sends an empty payload (the way to
 * answer a close that carried no code); reason may be NULL and is cut, on a
 * character boundary, to fit in 123 bytes.  Returns 0 or -1.
 */
int	ws_write_close(struct evbuffer *, uint16_t, const char *);

/*
 * Per-connection reader.  Embed it and treat the fields as private.  While
 * idle it holds no heap memory: buffers exist only while a message or a
 * control frame is being read or has just been returned.
 */
struct ws_reader {
	uint8_t			*wr_msg;	/* data message being assembled */
	uint8_t			*wr_ctl;	/* control frame payload */
	uint32_t		 wr_msg_len;
	uint32_t		 wr_msg_cap;
	uint32_t		 wr_max;	/* max_message, clamped to 32 bits */
	uint32_t		 wr_left;	/* payload bytes of this frame to come */
	struct utf8_state	 wr_utf8;	/* across all fragments of a text */
	uint8_t			 wr_mask[4];	/* rotated so byte 0 is next */
	uint8_t			 wr_state;
	uint8_t			 wr_opcode;	/* of the frame being read */
	uint8_t			 wr_fin;
	uint8_t			 wr_msg_op;	/* TEXT/BINARY while fragmented, or 0 */
	uint8_t			 wr_ctl_len;
};

enum ws_event {
	WS_EV_NONE = 0,		/* need more bytes, or finished */
	WS_EV_TEXT,		/* whole message, valid UTF-8 */
	WS_EV_BINARY,
	WS_EV_PING,
	WS_EV_PONG,
	WS_EV_CLOSE,		/* peer closed; echo close_code (1005: none) */
	WS_EV_ERROR		/* send close_code and drop the connection */
};

struct ws_msg {
	const uint8_t	*data;		/* payload, never NULL except for
					   ERROR; close: the reason bytes */
	size_t		 len;
	uint16_t	 close_code;	/* CLOSE: peer's code; ERROR: ours */
	const char	*reason;	/* CLOSE: peer's, NUL-terminated;
					   ERROR: why, for logs and the close */
};

/* max_message bounds a data message's payload, fragments added up. */
void		ws_reader_init(struct ws_reader *, size_t);

/* Frees any partial message; the reader may be initialised again. */
void		ws_reader_free(struct ws_reader *);

/*
 * Consume bytes from in and return the next event.  Call it until it
 * returns WS_EV_NONE.  out->data and out->reason point into the reader and
 * stay valid until the next call or ws_reader_free().  After WS_EV_CLOSE or
 * WS_EV_ERROR the reader reads nothing more and returns WS_EV_NONE.
 */
enum ws_event	ws_reader_next(struct ws_reader *, struct evbuffer *,
		    struct ws_msg *);

#endif /* CHATD_WS_H */
