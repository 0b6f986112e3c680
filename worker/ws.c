/*
 * ws.c - RFC 6455 server-side framing.
 *
 * The reader is a small state machine: read a frame header once all of it
 * has arrived, then stream the payload out of the evbuffer as it comes,
 * unmasking and (for text) validating UTF-8 on the way, so a bad byte is
 * refused the moment it is seen and an oversized message is refused from
 * its header alone, before any of its payload is buffered.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/evp.h>

#include "utf8.h"
#include "ws.h"

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_HDR_MAX	14	/* 2 + 8 (64-bit length) + 4 (mask) */

enum wr_state {
	WR_HEADER = 0,		/* waiting for a complete frame header */
	WR_PAYLOAD,		/* wr_left payload bytes still to come */
	WR_DONE			/* closed or failed; reads nothing more */
};

/* Idle connections are counted in tens of thousands per worker. */
_Static_assert(sizeof(struct ws_reader) <= 64, "struct ws_reader grew");

/* What an empty message or close reason points at: never NULL. */
static const uint8_t	ws_empty[1];

static int		 opcode_known(int);
static size_t		 reason_fit(const char *, size_t);
static void		 release(struct ws_reader *);
static enum ws_event	 fail(struct ws_reader *, struct ws_msg *, uint16_t,
			    const char *);
static const char	*check_start(const struct ws_reader *, uint8_t,
			    uint8_t);
static enum ws_event	 read_header(struct ws_reader *, struct evbuffer *,
			    struct ws_msg *);
static void		 start_frame(struct ws_reader *, const uint8_t *,
			    uint64_t, const uint8_t *);
static enum ws_event	 read_payload(struct ws_reader *, struct evbuffer *,
			    struct ws_msg *);
static int		 msg_reserve(struct ws_reader *, size_t);
static void		 unmask(uint8_t *, size_t, uint8_t [4]);
static enum ws_event	 frame_done(struct ws_reader *, struct ws_msg *);
static enum ws_event	 message_done(struct ws_reader *, struct ws_msg *);
static enum ws_event	 close_done(struct ws_reader *, struct ws_msg *);
static int		 close_code_ok(uint16_t);

void
ws_accept_key(const char *client_key, char out[29])
{
	static const char	 guid[] = WS_GUID;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0;
	EVP_MD_CTX		*ctx;
	int			 ok;

	out[0] = '\0';
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return;
	ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, client_key, strlen(client_key)) == 1 &&
	    EVP_DigestUpdate(ctx, guid, sizeof(guid) - 1) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok || mdlen != 20)
		return;
	/* 20 bytes encode to 28 characters; EVP_EncodeBlock adds the NUL. */
	if (EVP_EncodeBlock((unsigned char *)out, md, 20) != 28)
		out[0] = '\0';
}

int
ws_frame_head(uint8_t h[WS_HEAD_MAX], int opcode, size_t len)
{
	int	hlen, i;

	if (!opcode_known(opcode))
		return -1;
	if (opcode >= WS_OP_CLOSE && len > WS_CONTROL_MAX)
		return -1;
	if (len > SIZE_MAX - WS_HEAD_MAX)
		return -1;
	h[0] = 0x80 | opcode;		/* FIN; servers never fragment */
	if (len < 126) {
		h[1] = len;
		hlen = 2;
	} else if (len <= UINT16_MAX) {
		h[1] = 126;
		h[2] = len >> 8;
		h[3] = len & 0xff;
		hlen = 4;
	} else {
		h[1] = 127;
		for (i = 0; i < 8; i++)
			h[2 + i] = (uint64_t)len >> (56 - 8 * i);
		hlen = 10;
	}
	return hlen;
}

int
ws_write_frame(struct evbuffer *out, int opcode, const void *data,
    size_t len)
{
	uint8_t	h[WS_HEAD_MAX];
	int	hlen;

	if ((hlen = ws_frame_head(h, opcode, len)) == -1)
		return -1;
	/*
	 * Reserve room for the whole frame first: after that the two adds
	 * cannot fail, so a half-written frame never corrupts the stream.
	 */
	if (evbuffer_expand(out, hlen + len) == -1)
		return -1;
	if (evbuffer_add(out, h, hlen) == -1)
		return -1;
	if (len > 0 && evbuffer_add(out, data, len) == -1)
		return -1;
	return 0;
}

int
ws_write_close(struct evbuffer *out, uint16_t code, const char *reason)
{
	uint8_t	p[WS_CONTROL_MAX];
	size_t	rlen = 0;

	/* 1005 means "no code" and must not appear on the wire. */
	if (code == 0 || code == WS_CLOSE_NO_STATUS)
		return ws_write_frame(out, WS_OP_CLOSE, NULL, 0);
	p[0] = code >> 8;
	p[1] = code & 0xff;
	if (reason != NULL) {
		rlen = reason_fit(reason, sizeof(p) - 2);
		memcpy(p + 2, reason, rlen);
	}
	return ws_write_frame(out, WS_OP_CLOSE, p, 2 + rlen);
}

static int
opcode_known(int op)
{
	switch (op) {
	case WS_OP_CONT:
	case WS_OP_TEXT:
	case WS_OP_BINARY:
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		return 1;
	default:
		return 0;
	}
}

/* Length of s cut to at most max bytes, never inside a character. */
static size_t
reason_fit(const char *s, size_t max)
{
	size_t	n;

	for (n = 0; n <= max && s[n] != '\0'; n++)
		;
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((uint8_t)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

void
ws_reader_init(struct ws_reader *r, size_t max_message)
{
	memset(r, 0, sizeof(*r));
	/* evbuffer_remove() counts in int; nobody needs 2 GiB messages. */
	r->wr_max = max_message > INT_MAX ? INT_MAX : max_message;
	r->wr_state = WR_HEADER;
	utf8_init(&r->wr_utf8);
}

void
ws_reader_free(struct ws_reader *r)
{
	free(r->wr_msg);
	r->wr_msg = NULL;
	free(r->wr_ctl);
	r->wr_ctl = NULL;
	r->wr_msg_len = r->wr_msg_cap = 0;
	r->wr_msg_op = 0;
}

/*
 * Each step below returns WS_EV_ERROR, an event for the caller, or
 * WS_EV_NONE; on WS_EV_NONE the loop looks at the state to tell "need
 * more bytes" from "go on".
 */
enum ws_event
ws_reader_next(struct ws_reader *r, struct evbuffer *in, struct ws_msg *out)
{
	enum ws_event	ev;

	memset(out, 0, sizeof(*out));
	release(r);
	if (r->wr_state == WR_DONE)
		return WS_EV_NONE;
	for (;;) {
		if (r->wr_state == WR_HEADER) {
			if (read_header(r, in, out) == WS_EV_ERROR)
				return WS_EV_ERROR;
			if (r->wr_state == WR_HEADER)
				return WS_EV_NONE;
		}
		if (read_payload(r, in, out) == WS_EV_ERROR)
			return WS_EV_ERROR;
		if (r->wr_left > 0)
			return WS_EV_NONE;	/* in is empty */
		r->wr_state = WR_HEADER;
		if ((ev = frame_done(r, out)) != WS_EV_NONE)
			return ev;
	}
}

/*
 * Free what the previous call returned: a finished message, a control
 * payload, or everything once the reader is done.  Keeps idle readers at
 * zero heap bytes.
 */
static void
release(struct ws_reader *r)
{
	if (r->wr_msg_op == 0) {
		free(r->wr_msg);
		r->wr_msg = NULL;
		r->wr_msg_len = r->wr_msg_cap = 0;
	}
	if (r->wr_state != WR_PAYLOAD || r->wr_opcode < WS_OP_CLOSE) {
		free(r->wr_ctl);
		r->wr_ctl = NULL;
	}
}

/* The peer broke the protocol: report code and why, read nothing more. */
static enum ws_event
fail(struct ws_reader *r, struct ws_msg *out, uint16_t code, const char *why)
{
	ws_reader_free(r);
	r->wr_state = WR_DONE;
	out->data = NULL;
	out->len = 0;
	out->close_code = code;
	out->reason = why;
	return WS_EV_ERROR;
}

/*
 * Everything that can be judged from the first two bytes, so a bad frame
 * fails before its length or payload arrive.  Returns why, or NULL.
 * Every failure here is a protocol error (1002).
 */
static const char *
check_start(const struct ws_reader *r, uint8_t b0, uint8_t b1)
{
	if ((b0 & 0x70) != 0)
		return "reserved bit set";
	if ((b1 & 0x80) == 0)
		return "client frame not masked";
	switch (b0 & 0x0F) {
	case WS_OP_CONT:
		if (r->wr_msg_op == 0)
			return "continuation frame without a message";
		return NULL;
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		if (r->wr_msg_op != 0)
			return "new message inside a fragmented message";
		return NULL;
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if ((b0 & 0x80) == 0)
			return "fragmented control frame";
		if ((b1 & 0x7F) > WS_CONTROL_MAX)
			return "control frame longer than 125 bytes";
		return NULL;
	default:
		return "unknown opcode";
	}
}

static enum ws_event
read_header(struct ws_reader *r, struct evbuffer *in, struct ws_msg *out)
{
	uint8_t		 h[WS_HDR_MAX];
	size_t		 avail, want, lenlen, i;
	uint64_t	 len;
	const char	*why;

	avail = evbuffer_get_length(in);
	if (avail < 2)
		return WS_EV_NONE;
	want = avail < sizeof(h) ? avail : sizeof(h);
	if (evbuffer_copyout(in, h, want) != (ev_ssize_t)want)
		return fail(r, out, WS_CLOSE_INTERNAL, "evbuffer_copyout");
	if ((why = check_start(r, h[0], h[1])) != NULL)
		return fail(r, out, WS_CLOSE_PROTOCOL, why);

	len = h[1] & 0x7F;
	lenlen = len == 126 ? 2 : len == 127 ? 8 : 0;
	if (avail < 2 + lenlen + 4)
		return WS_EV_NONE;
	if (lenlen > 0) {
		for (len = 0, i = 0; i < lenlen; i++)
			len = len << 8 | h[2 + i];
		if (len >> 63 != 0)
			return fail(r, out, WS_CLOSE_PROTOCOL,
			    "frame length has the top bit set");
	}
	/* Refused from the header: the payload is never buffered. */
	if ((h[0] & 0x0F) < WS_OP_CLOSE && len > r->wr_max - r->wr_msg_len)
		return fail(r, out, WS_CLOSE_TOO_BIG, "message too big");

	if (evbuffer_drain(in, 2 + lenlen + 4) == -1)
		return fail(r, out, WS_CLOSE_INTERNAL, "evbuffer_drain");
	if ((h[0] & 0x0F) >= WS_OP_CLOSE &&
	    (r->wr_ctl = malloc(WS_CONTROL_MAX + 1)) == NULL)
		return fail(r, out, WS_CLOSE_INTERNAL, "out of memory");
	start_frame(r, h, len, h + 2 + lenlen);
	return WS_EV_NONE;
}

/* len fits: the caller checked it against wr_max or WS_CONTROL_MAX. */
static void
start_frame(struct ws_reader *r, const uint8_t *h, uint64_t len,
    const uint8_t *mask)
{
	r->wr_opcode = h[0] & 0x0F;
	r->wr_fin = (h[0] & 0x80) != 0;
	r->wr_left = len;
	memcpy(r->wr_mask, mask, sizeof(r->wr_mask));
	if (r->wr_opcode >= WS_OP_CLOSE)
		r->wr_ctl_len = len;
	else if (r->wr_opcode != WS_OP_CONT) {
		r->wr_msg_op = r->wr_opcode;
		r->wr_msg_len = 0;
		utf8_init(&r->wr_utf8);
	}
	r->wr_state = WR_PAYLOAD;
}

/* Take as much of the frame's payload as has arrived. */
static enum ws_event
read_payload(struct ws_reader *r, struct evbuffer *in, struct ws_msg *out)
{
	size_t	 avail, n;
	uint8_t	*dst;

	avail = evbuffer_get_length(in);
	n = r->wr_left < avail ? r->wr_left : avail;
	if (n == 0)
		return WS_EV_NONE;
	if (r->wr_opcode >= WS_OP_CLOSE)
		dst = r->wr_ctl + (r->wr_ctl_len - r->wr_left);
	else {
		if (msg_reserve(r, n) == -1)
			return fail(r, out, WS_CLOSE_INTERNAL, "out of memory");
		dst = r->wr_msg + r->wr_msg_len;
	}
	if (evbuffer_remove(in, dst, n) != (int)n)
		return fail(r, out, WS_CLOSE_INTERNAL, "evbuffer_remove");
	unmask(dst, n, r->wr_mask);
	r->wr_left -= n;
	if (r->wr_opcode >= WS_OP_CLOSE)
		return WS_EV_NONE;
	r->wr_msg_len += n;
	if (r->wr_msg_op == WS_OP_TEXT && utf8_feed(&r->wr_utf8, dst, n) == -1)
		return fail(r, out, WS_CLOSE_BAD_DATA,
		    "invalid UTF-8 in text message");
	return WS_EV_NONE;
}

/*
 * Grow the message buffer for n more bytes, doubling so that many small
 * fragments cost few copies, but never past wr_max.  The header check
 * guarantees wr_msg_len + n <= wr_max.
 */
static int
msg_reserve(struct ws_reader *r, size_t n)
{
	size_t	 need = (size_t)r->wr_msg_len + n, cap;
	uint8_t	*p;

	if (need <= r->wr_msg_cap)
		return 0;
	cap = (size_t)r->wr_msg_cap * 2;
	if (cap > r->wr_max)
		cap = r->wr_max;
	if (cap < need)
		cap = need;
	if ((p = realloc(r->wr_msg, cap)) == NULL)
		return -1;
	r->wr_msg = p;
	r->wr_msg_cap = cap;
	return 0;
}

/*
 * XOR with the masking key eight bytes at a time, then rotate the key so
 * that the next chunk of this frame starts again at mask[0].  The 64-bit
 * key is built from the mask bytes in memory order, so byte order of the
 * host does not matter.
 */
static void
unmask(uint8_t *p, size_t n, uint8_t mask[4])
{
	uint8_t		k[8];
	uint64_t	key, w;
	size_t		i;

	for (i = 0; i < sizeof(k); i++)
		k[i] = mask[i & 3];
	memcpy(&key, k, sizeof(key));
	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, sizeof(w));
		w ^= key;
		memcpy(p + i, &w, sizeof(w));
	}
	for (; i < n; i++)
		p[i] ^= mask[i & 3];
	for (i = 0; i < 4; i++)
		k[i] = mask[(i + n) & 3];
	memcpy(mask, k, 4);
}

static enum ws_event
frame_done(struct ws_reader *r, struct ws_msg *out)
{
	switch (r->wr_opcode) {
	case WS_OP_PING:
		out->data = r->wr_ctl;
		out->len = r->wr_ctl_len;
		return WS_EV_PING;
	case WS_OP_PONG:
		out->data = r->wr_ctl;
		out->len = r->wr_ctl_len;
		return WS_EV_PONG;
	case WS_OP_CLOSE:
		return close_done(r, out);
	default:
		if (!r->wr_fin)
			return WS_EV_NONE;	/* more fragments follow */
		return message_done(r, out);
	}
}

/* The buffer handed out here is freed by release() on the next call. */
static enum ws_event
message_done(struct ws_reader *r, struct ws_msg *out)
{
	enum ws_event	ev;

	if (r->wr_msg_op == WS_OP_TEXT && !utf8_complete(&r->wr_utf8))
		return fail(r, out, WS_CLOSE_BAD_DATA,
		    "text message ends inside a character");
	ev = r->wr_msg_op == WS_OP_TEXT ? WS_EV_TEXT : WS_EV_BINARY;
	out->data = r->wr_msg != NULL ? r->wr_msg : ws_empty;
	out->len = r->wr_msg_len;
	r->wr_msg_op = 0;
	return ev;
}

static enum ws_event
close_done(struct ws_reader *r, struct ws_msg *out)
{
	uint8_t		*p = r->wr_ctl;
	size_t		 len = r->wr_ctl_len;
	uint16_t	 code;

	if (len == 1)
		return fail(r, out, WS_CLOSE_PROTOCOL, "close payload of 1 byte");
	if (len == 0) {
		out->data = ws_empty;
		out->close_code = WS_CLOSE_NO_STATUS;
		out->reason = "";
	} else {
		code = (uint16_t)(p[0] << 8 | p[1]);
		if (!close_code_ok(code))
			return fail(r, out, WS_CLOSE_PROTOCOL,
			    "invalid close code");
		if (!utf8_valid(p + 2, len - 2))
			return fail(r, out, WS_CLOSE_BAD_DATA,
			    "invalid UTF-8 in close reason");
		p[len] = '\0';		/* wr_ctl has room for it */
		out->data = p + 2;
		out->len = len - 2;
		out->close_code = code;
		out->reason = (const char *)(p + 2);
	}
	/* A message cut short by the close is dropped. */
	free(r->wr_msg);
	r->wr_msg = NULL;
	r->wr_msg_len = r->wr_msg_cap = 0;
	r->wr_msg_op = 0;
	r->wr_state = WR_DONE;
	return WS_EV_CLOSE;
}

/*
 * Codes a peer may send (RFC 6455 7.4, as the Autobahn 7.x cases read
 * it): the defined ones except those reserved for local use (1004-1006,
 * 1015) and the IANA-registered 1012-2999, plus the 3000-4999
 * library/application range.
 */
static int
close_code_ok(uint16_t code)
{
	if (code >= 3000 && code <= 4999)
		return 1;
	switch (code) {
	case 1000:
	case 1001:
	case 1002:
	case 1003:
	case 1007:
	case 1008:
	case 1009:
	case 1010:
	case 1011:
		return 1;
	default:
		return 0;
	}
}
