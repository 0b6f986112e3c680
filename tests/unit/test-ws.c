/*
 * test-ws.c - tables for worker/ws.c.  Every reader case is fed three
 * ways (all at once, one byte at a time, 7 bytes at a time) and must give
 * the same events each way; fail-fast cases also say after which input
 * byte the error must come out.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "ws.h"

#define FIN	0x80
#define RSV1	0x40
#define RSV2	0x20
#define RSV3	0x10

#define DEFAULT_MAX	100000
#define MAX_EVENTS	8

/* A client frame to build.  payload NULL means len bytes of pattern(). */
struct frame {
	uint8_t		 b0;		/* FIN, RSV and opcode as sent */
	const char	*payload;
	size_t		 len;
	int		 unmasked;
	int		 lenbytes;	/* 0: shortest form, else 1, 2 or 8 */
	uint64_t	 announce;	/* length in the header, if not len */
};

struct expect {
	enum ws_event	 ev;
	const char	*data;		/* NULL: len bytes of pattern() */
	size_t		 len;
	uint16_t	 code;
};

struct wcase {
	const char		*why;
	size_t			 max;	/* 0: DEFAULT_MAX */
	const char		*raw;	/* sent before the frames */
	size_t			 rawlen;
	const struct frame	*frames;
	size_t			 nframes;
	const struct expect	*expect;
	size_t			 nexpect;
	size_t			 err_at;	/* input bytes fed when the
						   error must appear, or 0 */
};

#define S(s)		(s), sizeof(s) - 1
#define RAW(s)		.raw = (s), .rawlen = sizeof(s) - 1
#define FRAMES(...)	.frames = (const struct frame[]){ __VA_ARGS__ }, \
	.nframes = sizeof((const struct frame[]){ __VA_ARGS__ }) / \
	    sizeof(struct frame)
#define EXPECT(...)	.expect = (const struct expect[]){ __VA_ARGS__ }, \
	.nexpect = sizeof((const struct expect[]){ __VA_ARGS__ }) / \
	    sizeof(struct expect)
#define F(b0, s)	{ (b0), S(s), 0, 0, 0 }
#define FN(b0, n)	{ (b0), NULL, (n), 0, 0, 0 }
#define E(ev, s)	{ (ev), S(s), 0 }
#define EN(ev, n)	{ (ev), NULL, (n), 0 }
#define CLOSED(c, s)	{ WS_EV_CLOSE, S(s), (c) }
#define ERR(c)		{ WS_EV_ERROR, NULL, 0, (c) }

#define REASON123 \
	"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz" \
	"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz" \
	"abcdefghijklmnopqrs"

#define TEXT	WS_OP_TEXT
#define BIN	WS_OP_BINARY
#define CONT	WS_OP_CONT
#define CLOSE	WS_OP_CLOSE
#define PING	WS_OP_PING
#define PONG	WS_OP_PONG

static const struct wcase wcases[] = {
	{ "RFC 6455 5.7: masked \"Hello\"",
	    RAW("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
	    EXPECT(E(WS_EV_TEXT, "Hello")) },
	{ "RFC 6455 5.7: masked pong \"Hello\"",
	    RAW("\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
	    EXPECT(E(WS_EV_PONG, "Hello")) },
	{ "ping then text",
	    FRAMES(F(FIN | PING, "are you there"), F(FIN | TEXT, "yes")),
	    EXPECT(E(WS_EV_PING, "are you there"), E(WS_EV_TEXT, "yes")) },
	{ "empty text message",
	    FRAMES(F(FIN | TEXT, "")), EXPECT(E(WS_EV_TEXT, "")) },
	{ "binary message",
	    FRAMES(F(FIN | BIN, "\x00\xff\xfe")),
	    EXPECT(E(WS_EV_BINARY, "\x00\xff\xfe")) },
	{ "binary is not UTF-8 checked",
	    FRAMES(F(FIN | BIN, "\xed\xa0\x80")),
	    EXPECT(E(WS_EV_BINARY, "\xed\xa0\x80")) },
	{ "16-bit length, 126 bytes",
	    FRAMES(FN(FIN | TEXT, 126)), EXPECT(EN(WS_EV_TEXT, 126)) },
	{ "16-bit length, 65535 bytes",
	    FRAMES(FN(FIN | BIN, 65535)), EXPECT(EN(WS_EV_BINARY, 65535)) },
	{ "64-bit length, 70000 bytes",
	    FRAMES(FN(FIN | TEXT, 70000)), EXPECT(EN(WS_EV_TEXT, 70000)) },
	{ "longer than needed length forms are accepted",
	    FRAMES({ FIN | TEXT, S("Hi"), 0, 8, 0 },
	    { FIN | TEXT, S("there"), 0, 2, 0 }),
	    EXPECT(E(WS_EV_TEXT, "Hi"), E(WS_EV_TEXT, "there")) },
	{ "text in two fragments",
	    FRAMES(F(TEXT, "Hel"), F(FIN | CONT, "lo")),
	    EXPECT(E(WS_EV_TEXT, "Hello")) },
	{ "pings and pongs between fragments",
	    FRAMES(F(TEXT, "fra"), F(FIN | PING, "p1"), F(CONT, "gme"),
	    F(FIN | PONG, ""), F(FIN | PING, "p2"), F(FIN | CONT, "nts")),
	    EXPECT(E(WS_EV_PING, "p1"), E(WS_EV_PONG, ""),
	    E(WS_EV_PING, "p2"), E(WS_EV_TEXT, "fragments")) },
	{ "empty fragments",
	    FRAMES(F(BIN, ""), F(CONT, "ab"), F(CONT, ""), F(FIN | CONT, "")),
	    EXPECT(E(WS_EV_BINARY, "ab")) },
	{ "messages back to back",
	    FRAMES(F(FIN | TEXT, "one"), F(FIN | BIN, "two"),
	    F(FIN | TEXT, "three")),
	    EXPECT(E(WS_EV_TEXT, "one"), E(WS_EV_BINARY, "two"),
	    E(WS_EV_TEXT, "three")) },
	{ "character split across fragments",
	    FRAMES(F(TEXT, "\xce"), F(CONT, "\xba\xe1"),
	    F(FIN | CONT, "\xbd\xb9")),
	    EXPECT(E(WS_EV_TEXT, "\xce\xba\xe1\xbd\xb9")) },
	{ "ping of 125 bytes",
	    FRAMES(FN(FIN | PING, 125)), EXPECT(EN(WS_EV_PING, 125)) },
	{ "message of exactly max_message bytes", .max = 10,
	    FRAMES(F(TEXT, "12345"), F(FIN | CONT, "67890")),
	    EXPECT(E(WS_EV_TEXT, "1234567890")) },

	{ "1009: frame over max_message, from its header", .max = 10,
	    FRAMES(F(FIN | TEXT, "12345678901")),
	    EXPECT(ERR(WS_CLOSE_TOO_BIG)), .err_at = 6 },
	{ "1009: 1 MiB announced, no payload sent", .max = 1000,
	    FRAMES({ FIN | BIN, S(""), 0, 8, 1 << 20 }),
	    EXPECT(ERR(WS_CLOSE_TOO_BIG)), .err_at = 14 },
	{ "1009: fragments add up to more than max_message", .max = 10,
	    FRAMES(F(TEXT, "123456"), F(FIN | CONT, "12345")),
	    EXPECT(ERR(WS_CLOSE_TOO_BIG)), .err_at = 18 },
	{ "1009: control frames do not count toward max_message", .max = 4,
	    FRAMES(F(TEXT, "12"), F(FIN | PING, "123456"), F(FIN | CONT, "34"),
	    F(FIN | BIN, "12345")),
	    EXPECT(E(WS_EV_PING, "123456"), E(WS_EV_TEXT, "1234"),
	    ERR(WS_CLOSE_TOO_BIG)) },

	{ "1002: unmasked client frame",
	    FRAMES({ FIN | TEXT, S("Hello"), 1, 0, 0 }),
	    EXPECT(ERR(WS_CLOSE_PROTOCOL)), .err_at = 2 },
	{ "1002: RSV1 without an extension",
	    FRAMES(F(FIN | RSV1 | TEXT, "x")),
	    EXPECT(ERR(WS_CLOSE_PROTOCOL)), .err_at = 2 },
	{ "1002: RSV2", FRAMES(F(FIN | RSV2 | TEXT, "x")),
	    EXPECT(ERR(WS_CLOSE_PROTOCOL)), .err_at = 2 },
	{ "1002: RSV3 on a ping", FRAMES(F(FIN | RSV3 | PING, "x")),
	    EXPECT(ERR(WS_CLOSE_PROTOCOL)), .err_at = 2 },
	{ "1002: opcode 3", FRAMES(F(FIN | 3, "")),
	    EXPECT(ERR(WS_CLOSE_PROTOCOL)), .err_at = 2 },
	{ "1002: opcode 7", FRAMES(F(FIN | 7, "x")),
	    EXPECT(ERR(WS_CLOSE_PROTOCOL)), .err_at = 2 },
	{ "1002: opcode 0xB", FRAMES(F(FIN | 0xB, "")),
	    EXPECT(ERR(WS_CLOSE_PROTOCOL)), .err_at = 2 },
	{ "1002: opcode 0xF", FRAMES(F(FIN | 0xF, "x")),
	    EXPECT(ERR(WS_CLOSE_PROTOCOL)), .err_at = 2 },
	{ "1002: ping of 126 bytes", FRAMES(FN(FIN | PING, 126)),
	    EXPECT(ERR(WS_CLOSE_PROTOCOL)), .err_at = 2 },
	{ "1002: fragmented ping", FRAMES(F(PING, "x")),
	    EXPECT(ERR(WS_CLOSE_PROTOCOL)), .err_at = 2 },
	{ "1002: fragmented close", FRAMES(F(CLOSE, "\x03\xe8")),
	    EXPECT(ERR(WS_CLOSE_PROTOCOL)), .err_at = 2 },
	{ "1002: continuation with no message",
	    FRAMES(F(FIN | CONT, "x")),
	    EXPECT(ERR(WS_CLOSE_PROTOCOL)), .err_at = 2 },
	{ "1002: continuation after a finished message",
	    FRAMES(F(FIN | TEXT, "a"), F(FIN | CONT, "b")),
	    EXPECT(E(WS_EV_TEXT, "a"), ERR(WS_CLOSE_PROTOCOL)),
	    .err_at = 9 },
	{ "1002: new text inside a fragmented message",
	    FRAMES(F(TEXT, "a"), F(FIN | TEXT, "b")),
	    EXPECT(ERR(WS_CLOSE_PROTOCOL)), .err_at = 9 },
	{ "1002: 64-bit length with the top bit set",
	    FRAMES({ FIN | BIN, S(""), 0, 8, 0x8000000000000000ULL }),
	    EXPECT(ERR(WS_CLOSE_PROTOCOL)), .err_at = 14 },
	{ "1002: nothing is read after an error",
	    FRAMES({ FIN | TEXT, S("x"), 1, 0, 0 }, F(FIN | TEXT, "y")),
	    EXPECT(ERR(WS_CLOSE_PROTOCOL)) },

	{ "1007: invalid UTF-8 in one frame",
	    FRAMES(F(FIN | TEXT, "ab\xff" "cd")),
	    EXPECT(ERR(WS_CLOSE_BAD_DATA)), .err_at = 9 },
	{ "1007: surrogate split across fragments fails at its 2nd byte",
	    FRAMES(F(TEXT, "\xce\xba\xed"), F(FIN | CONT, "\xa0\x80")),
	    EXPECT(ERR(WS_CLOSE_BAD_DATA)), .err_at = 16 },
	{ "1007: fails before the rest of the frame arrives",
	    FRAMES({ FIN | TEXT, S("ab\xf5"), 0, 0, 100 }),
	    EXPECT(ERR(WS_CLOSE_BAD_DATA)), .err_at = 9 },
	{ "1007: Autobahn 6.4.1 style, kosme then U+D800",
	    FRAMES(F(FIN | TEXT, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	    "\xed\xa0\x80" "edited")),
	    EXPECT(ERR(WS_CLOSE_BAD_DATA)), .err_at = 19 },
	{ "1007: message ends inside a character",
	    FRAMES(F(FIN | TEXT, "ok\xce")),
	    EXPECT(ERR(WS_CLOSE_BAD_DATA)), .err_at = 9 },
	{ "1007: fragmented message ends inside a character",
	    FRAMES(F(TEXT, "a"), F(FIN | CONT, "\xe2\x82")),
	    EXPECT(ERR(WS_CLOSE_BAD_DATA)), .err_at = 15 },
	{ "1007: UTF-8 state is not reset by a ping in between",
	    FRAMES(F(TEXT, "\xe2"), F(FIN | PING, ""), F(FIN | CONT, "A")),
	    EXPECT(E(WS_EV_PING, ""), ERR(WS_CLOSE_BAD_DATA)),
	    .err_at = 20 },

	{ "close without payload reports 1005",
	    FRAMES(F(FIN | CLOSE, "")), EXPECT(CLOSED(1005, "")) },
	{ "close 1000 with a reason",
	    FRAMES(F(FIN | CLOSE, "\x03\xe8" "bye")),
	    EXPECT(CLOSED(1000, "bye")) },
	{ "close 4999 with a UTF-8 reason",
	    FRAMES(F(FIN | CLOSE, "\x13\x87" "\xce\xba")),
	    EXPECT(CLOSED(4999, "\xce\xba")) },
	{ "close with a 123-byte reason, the most that fits",
	    FRAMES(F(FIN | CLOSE, "\x03\xe8" REASON123)),
	    EXPECT(CLOSED(1000, REASON123)) },
	{ "close drops a fragmented message and ends reading",
	    FRAMES(F(TEXT, "lost"), F(FIN | CLOSE, "\x03\xe9"),
	    F(FIN | TEXT, "after")),
	    EXPECT(CLOSED(1001, "")) },
	{ "1002: close payload of 1 byte",
	    FRAMES(F(FIN | CLOSE, "\x03")),
	    EXPECT(ERR(WS_CLOSE_PROTOCOL)), .err_at = 7 },
	{ "1007: close reason not UTF-8",
	    FRAMES(F(FIN | CLOSE, "\x03\xe8" "\xce\xba\xed\xa0\x80")),
	    EXPECT(ERR(WS_CLOSE_BAD_DATA)) },
};

/* Payload byte i of generated frames; the pattern() function. */
static uint8_t
pattern(size_t i)
{
	return 'a' + i % 26;
}

struct bytes {
	uint8_t	*p;
	size_t	 len;
	size_t	 cap;
};

static int	passed, failed;

static void
result(int ok, const char *what, const char *why)
{
	if (ok)
		passed++;
	else {
		failed++;
		printf("FAIL: %s: %s\n", what, why);
	}
}

static void
put(struct bytes *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		if ((b->p = realloc(b->p, b->cap)) == NULL) {
			perror("realloc");
			exit(2);
		}
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
put_byte(struct bytes *b, uint8_t c)
{
	put(b, &c, 1);
}

/* Encode f as a client would, with a mask that differs per frame. */
static void
put_frame(struct bytes *b, const struct frame *f, size_t idx)
{
	uint8_t		key[4] = { 0x37 + idx, 0xfa, 0x21 ^ idx, 0x3d };
	uint64_t	len = f->announce != 0 ? f->announce : f->len;
	uint8_t		mbit = f->unmasked ? 0 : 0x80, c;
	int		lenbytes = f->lenbytes, i;
	size_t		j;

	if (lenbytes == 0)
		lenbytes = len < 126 ? 1 : len <= 0xffff ? 2 : 8;
	put_byte(b, f->b0);
	if (lenbytes == 1)
		put_byte(b, mbit | len);
	else {
		put_byte(b, mbit | (lenbytes == 2 ? 126 : 127));
		for (i = lenbytes - 1; i >= 0; i--)
			put_byte(b, len >> (8 * i));
	}
	if (!f->unmasked)
		put(b, key, 4);
	for (j = 0; j < f->len; j++) {
		c = f->payload != NULL ? (uint8_t)f->payload[j] : pattern(j);
		put_byte(b, f->unmasked ? c : c ^ key[j % 4]);
	}
}

struct got {
	enum ws_event	 ev;
	uint8_t		*data;
	size_t		 len;
	uint16_t	 code;
	size_t		 at;	/* input bytes fed when it came out */
};

static int
same_data(const struct expect *e, const struct got *g)
{
	size_t	i;

	if (e->len != g->len)
		return 0;
	if (e->data != NULL)
		return memcmp(e->data, g->data, g->len) == 0;
	for (i = 0; i < g->len; i++)
		if (g->data[i] != pattern(i))
			return 0;
	return 1;
}

static int
matches(const struct wcase *c, const struct got *g, size_t ngot, int bytewise)
{
	const struct expect	*e;
	size_t			 i;

	if (ngot != c->nexpect) {
		printf("  got %zu events, want %zu\n", ngot, c->nexpect);
		return 0;
	}
	for (i = 0; i < ngot; i++) {
		e = &c->expect[i];
		if (g[i].ev != e->ev) {
			printf("  event %zu: got %d, want %d\n", i, g[i].ev,
			    e->ev);
			return 0;
		}
		if (e->ev == WS_EV_ERROR) {
			if (g[i].code != e->code) {
				printf("  error code %u, want %u\n",
				    g[i].code, e->code);
				return 0;
			}
			if (bytewise && c->err_at != 0 && g[i].at != c->err_at) {
				printf("  error after byte %zu, want %zu\n",
				    g[i].at, c->err_at);
				return 0;
			}
			continue;
		}
		if (e->ev == WS_EV_CLOSE && e->code != 0 &&
		    g[i].code != e->code) {
			printf("  close code %u, want %u\n", g[i].code,
			    e->code);
			return 0;
		}
		if (!same_data(e, &g[i])) {
			printf("  event %zu: payload differs (len %zu)\n", i,
			    g[i].len);
			return 0;
		}
	}
	return 1;
}

/* Run the reader until it wants more; record and copy what it returns. */
static int
drain_events(struct ws_reader *r, struct evbuffer *in, struct got *g,
    size_t *ngot, size_t fed)
{
	struct ws_msg	m;
	enum ws_event	ev;

	while ((ev = ws_reader_next(r, in, &m)) != WS_EV_NONE) {
		if (*ngot == MAX_EVENTS)
			return -1;
		g[*ngot].ev = ev;
		g[*ngot].len = m.len;
		g[*ngot].code = m.close_code;
		g[*ngot].at = fed;
		if ((g[*ngot].data = malloc(m.len + 1)) == NULL)
			return -1;
		if (m.len > 0)
			memcpy(g[*ngot].data, m.data, m.len);
		if (ev == WS_EV_ERROR && m.reason == NULL)
			return -1;	/* errors always say why */
		if (ev != WS_EV_ERROR && m.data == NULL)
			return -1;	/* never NULL, even when empty */
		(*ngot)++;
	}
	return 0;
}

/* Feed input in pieces of chunk bytes (0: all at once). */
static int
run_case(const struct wcase *c, const struct bytes *input, size_t chunk)
{
	struct ws_reader	 r;
	struct evbuffer		*in;
	struct got		 g[MAX_EVENTS];
	size_t			 off = 0, n, ngot = 0, i;
	int			 ok = 1;

	if ((in = evbuffer_new()) == NULL)
		return 0;
	ws_reader_init(&r, c->max != 0 ? c->max : DEFAULT_MAX);
	while (ok && off < input->len) {
		n = input->len - off;
		if (chunk != 0 && n > chunk)
			n = chunk;
		if (evbuffer_add(in, input->p + off, n) == -1)
			ok = 0;
		off += n;
		if (ok && drain_events(&r, in, g, &ngot, off) == -1)
			ok = 0;
	}
	if (ok)
		ok = matches(c, g, ngot, chunk == 1);
	for (i = 0; i < ngot; i++)
		free(g[i].data);
	ws_reader_free(&r);
	evbuffer_free(in);
	return ok;
}

static void
test_reader_cases(void)
{
	static const size_t	 chunks[] = { 0, 1, 7 };
	const struct wcase	*c;
	struct bytes		 input;
	size_t			 i, k;
	char			 what[64];

	for (i = 0; i < sizeof(wcases) / sizeof(wcases[0]); i++) {
		c = &wcases[i];
		memset(&input, 0, sizeof(input));
		if (c->raw != NULL)
			put(&input, c->raw, c->rawlen);
		for (k = 0; k < c->nframes; k++)
			put_frame(&input, &c->frames[k], k);
		for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
			snprintf(what, sizeof(what), "reader, %zu-byte pieces",
			    chunks[k]);
			result(run_case(c, &input, chunks[k]), what, c->why);
		}
		free(input.p);
	}
}

/* Autobahn 7.7.x and 7.9.x: which close codes a peer may send. */
static void
test_close_codes(void)
{
	static const uint16_t	good[] = { 1000, 1001, 1002, 1003, 1007,
				    1008, 1009, 1010, 1011, 3000, 3999, 4000,
				    4999 };
	static const uint16_t	bad[] = { 0, 999, 1004, 1005, 1006, 1012,
				    1013, 1014, 1015, 1016, 1100, 2000, 2999,
				    5000, 65535 };
	struct expect		 e;
	struct frame		 f;
	struct wcase		 c;
	struct bytes		 input;
	char			 p[2], why[64];
	size_t			 i, n = sizeof(good) / sizeof(good[0]);

	for (i = 0; i < n + sizeof(bad) / sizeof(bad[0]); i++) {
		uint16_t code = i < n ? good[i] : bad[i - n];

		p[0] = code >> 8;
		p[1] = code & 0xff;
		f = (struct frame){ FIN | CLOSE, p, 2, 0, 0, 0 };
		e = i < n ? (struct expect){ WS_EV_CLOSE, "", 0, code } :
		    (struct expect)ERR(WS_CLOSE_PROTOCOL);
		snprintf(why, sizeof(why), "close code %u is %s", code,
		    i < n ? "accepted" : "refused with 1002");
		c = (struct wcase){ .why = why, .frames = &f, .nframes = 1,
		    .expect = &e, .nexpect = 1 };
		memset(&input, 0, sizeof(input));
		put_frame(&input, &f, 0);
		result(run_case(&c, &input, 0), "reader", why);
		free(input.p);
	}
}

/* Idle readers hold no heap memory; finished ones read nothing more. */
static void
test_reader_memory(void)
{
	static const struct frame	 hello = F(FIN | TEXT, "hello");
	static const struct frame	 part = F(TEXT, "partial");
	static const struct frame	 bye = F(FIN | CLOSE, "\x03\xe8");
	struct ws_reader		 r;
	struct ws_msg			 m;
	struct evbuffer			*in;
	struct bytes			 b;
	int				 ok;

	result(sizeof(struct ws_reader) < 64, "reader",
	    "struct ws_reader is under 64 bytes");

	if ((in = evbuffer_new()) == NULL) {
		result(0, "reader", "evbuffer_new");
		return;
	}
	memset(&b, 0, sizeof(b));
	put_frame(&b, &hello, 0);
	put_frame(&b, &part, 1);
	ws_reader_init(&r, 1000);
	ok = evbuffer_add(in, b.p, b.len) == 0 &&
	    ws_reader_next(&r, in, &m) == WS_EV_TEXT &&
	    ws_reader_next(&r, in, &m) == WS_EV_NONE &&
	    r.wr_msg != NULL && r.wr_ctl == NULL;
	result(ok, "reader", "a partial message is kept between calls");
	/* ASan reports a leak here if ws_reader_free() misses it. */
	ws_reader_free(&r);

	b.len = 0;
	put_frame(&b, &hello, 0);
	ws_reader_init(&r, 1000);
	ok = evbuffer_add(in, b.p, b.len) == 0 &&
	    ws_reader_next(&r, in, &m) == WS_EV_TEXT &&
	    ws_reader_next(&r, in, &m) == WS_EV_NONE &&
	    r.wr_msg == NULL && r.wr_ctl == NULL &&
	    evbuffer_get_length(in) == 0;
	result(ok, "reader", "no heap memory once a message is consumed");

	b.len = 0;
	put_frame(&b, &bye, 0);
	put_frame(&b, &hello, 1);
	ok = evbuffer_add(in, b.p, b.len) == 0 &&
	    ws_reader_next(&r, in, &m) == WS_EV_CLOSE &&
	    m.close_code == 1000 &&
	    ws_reader_next(&r, in, &m) == WS_EV_NONE &&
	    ws_reader_next(&r, in, &m) == WS_EV_NONE &&
	    evbuffer_get_length(in) == 11 &&
	    r.wr_msg == NULL && r.wr_ctl == NULL;
	result(ok, "reader", "after close, later bytes stay unread");
	ws_reader_free(&r);
	free(b.p);
	evbuffer_free(in);
}

static void
test_accept_key(void)
{
	char	out[29];

	ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
	result(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0,
	    "ws_accept_key", "RFC 6455 1.3 example");
}

struct wrcase {
	const char	*why;
	int		 opcode;
	size_t		 len;
	int		 rc;
	const char	*hdr;		/* expected frame header */
	size_t		 hdrlen;
};

static const struct wrcase wrcases[] = {
	{ "empty text", WS_OP_TEXT, 0, 0, S("\x81\x00") },
	{ "125 bytes: 7-bit length", WS_OP_TEXT, 125, 0, S("\x81\x7d") },
	{ "126 bytes: 16-bit length", WS_OP_BINARY, 126, 0,
	    S("\x82\x7e\x00\x7e") },
	{ "65535 bytes: 16-bit length", WS_OP_TEXT, 65535, 0,
	    S("\x81\x7e\xff\xff") },
	{ "65536 bytes: 64-bit length", WS_OP_TEXT, 65536, 0,
	    S("\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00") },
	{ "ping of 125 bytes", WS_OP_PING, 125, 0, S("\x89\x7d") },
	{ "pong of 126 bytes is refused", WS_OP_PONG, 126, -1, S("") },
	{ "close of 126 bytes is refused", WS_OP_CLOSE, 126, -1, S("") },
	{ "opcode 3 is refused", 3, 1, -1, S("") },
	{ "opcode 0xB is refused", 0xB, 1, -1, S("") },
};

static int
check_output(struct evbuffer *out, const void *want, size_t len)
{
	const uint8_t	*p;

	if (evbuffer_get_length(out) != len)
		return 0;
	if (len == 0)
		return 1;
	if ((p = evbuffer_pullup(out, -1)) == NULL)
		return 0;
	return memcmp(p, want, len) == 0;
}

static void
test_writer(void)
{
	const struct wrcase	*c;
	struct evbuffer		*out;
	uint8_t			*data, *want;
	size_t			 i;
	int			 ok;

	if ((out = evbuffer_new()) == NULL || (data = malloc(70000)) == NULL ||
	    (want = malloc(70010)) == NULL) {
		result(0, "ws_write_frame", "out of memory");
		return;
	}
	for (i = 0; i < 70000; i++)
		data[i] = pattern(i);
	for (c = wrcases; c < wrcases + sizeof(wrcases) / sizeof(wrcases[0]);
	    c++) {
		ok = ws_write_frame(out, c->opcode, data, c->len) == c->rc;
		memcpy(want, c->hdr, c->hdrlen);
		if (c->rc == 0)
			memcpy(want + c->hdrlen, data, c->len);
		ok = ok && check_output(out, want,
		    c->rc == 0 ? c->hdrlen + c->len : 0);
		result(ok, "ws_write_frame", c->why);
		evbuffer_drain(out, evbuffer_get_length(out));
	}

	ok = ws_write_frame(out, WS_OP_TEXT, "Hello", 5) == 0 &&
	    check_output(out, "\x81\x05" "Hello", 7);
	result(ok, "ws_write_frame", "RFC 6455 5.7 unmasked \"Hello\"");
	evbuffer_drain(out, evbuffer_get_length(out));

	ok = ws_write_close(out, 1000, "bye") == 0 &&
	    check_output(out, "\x88\x05\x03\xe8" "bye", 7);
	result(ok, "ws_write_close", "code and reason");
	evbuffer_drain(out, evbuffer_get_length(out));

	ok = ws_write_close(out, 4001, NULL) == 0 &&
	    check_output(out, "\x88\x02\x0f\xa1", 4);
	result(ok, "ws_write_close", "code without a reason");
	evbuffer_drain(out, evbuffer_get_length(out));

	ok = ws_write_close(out, 0, "ignored") == 0 &&
	    ws_write_close(out, 1005, NULL) == 0 &&
	    check_output(out, "\x88\x00\x88\x00", 4);
	result(ok, "ws_write_close", "0 and 1005 send an empty close");
	evbuffer_drain(out, evbuffer_get_length(out));

	/* 122 'a' then a 2-byte character: 124 bytes, 1 too many. */
	memset(data, 'a', 122);
	memcpy(data + 122, "\xc3\xa9", 3);
	ok = ws_write_close(out, 1000, (char *)data) == 0 &&
	    evbuffer_get_length(out) == 2 + 2 + 122;
	result(ok, "ws_write_close", "long reason cut before a character");
	evbuffer_drain(out, evbuffer_get_length(out));

	free(want);
	free(data);
	evbuffer_free(out);
}

int
main(void)
{
	test_accept_key();
	test_writer();
	test_reader_cases();
	test_close_codes();
	test_reader_memory();
	printf("test-ws: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
