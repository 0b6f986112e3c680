/*
 * test-wire.c - unit tests for common/wire.c and common/buf.c: frames
 * built with wire_begin()/buf_add_*()/wire_end() come back unchanged
 * through wire_next() and the rd_*() getters, whether they arrive together,
 * one byte at a time or cut short; impossible headers are refused; failing
 * getters leave both the reader and their out-parameter alone.  One frame is
 * compared byte for byte with a hand-written encoding, so a change to the
 * layout shows up as a failure here.  Exits non-zero if any case fails.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "check.h"
#include "buf.h"
#include "wire.h"

static struct evbuffer *
evbuf_new(void)
{
	struct evbuffer	*ev;

	if ((ev = evbuffer_new()) == NULL) {
		fprintf(stderr, "evbuffer_new failed\n");
		exit(2);
	}
	return ev;
}

/* Write v as n big-endian bytes, independently of buf.c. */
static void
put_be(uint8_t *p, uint64_t v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/*
 * Round trips.  A frame is a type, an id and a list of payload fields;
 * each field is encoded with the matching buf_add_*() and read back with
 * the matching rd_*().
 */

enum field_kind {
	F_END = 0,
	F_U8,
	F_U16,
	F_U32,
	F_U64,
	F_STR,
};

struct field {
	enum field_kind	 kind;
	uint64_t	 n;
	const char	*s;
	size_t		 slen;
};

#define MAX_FIELDS	8

#define U8(v)	{ F_U8, (v), NULL, 0 }
#define U16(v)	{ F_U16, (v), NULL, 0 }
#define U32(v)	{ F_U32, (v), NULL, 0 }
#define U64(v)	{ F_U64, (v), NULL, 0 }
#define STR(s)	{ F_STR, 0, (s), sizeof(s) - 1 }

struct rcase {
	const char	*reason;
	uint16_t	 type;
	uint64_t	 id;
	struct field	 fields[MAX_FIELDS];
};

static const struct rcase rcases[] = {
	{ "MSG_HELLO: three u32", MSG_HELLO, 0,
	    { U32(WIRE_VERSION), U32(3), U32(4242) } },
	{ "MSG_HELLO from chatctl: worker index 0", MSG_HELLO, 0,
	    { U32(WIRE_VERSION), U32(0), U32(UINT32_MAX) } },
	{ "MSG_CFG_SET: two strings", MSG_CFG_SET, 0,
	    { STR("heartbeat_interval"), STR("30") } },
	{ "MSG_CFG_SET: empty value string", MSG_CFG_SET, 0,
	    { STR("jwt_secret"), STR("") } },
	{ "MSG_CFG_DONE: empty payload", MSG_CFG_DONE, 0,
	    { { F_END, 0, NULL, 0 } } },
	{ "MSG_WS_ACCEPT: u64, u64, str", MSG_WS_ACCEPT, 17,
	    { U64(1001), U64(7), STR("ann") } },
	{ "MSG_WS_REFUSE: u16 close code and reason", MSG_WS_REFUSE, 18,
	    { U16(4001), STR("room is full") } },
	{ "MSG_DELIVER: four u64 and three strings", MSG_DELIVER, 7,
	    { U64(42), U64(1001), U64(1735122600123ULL), U64(0), STR("ann"),
	    STR("tmp-1"), STR("hello, world") } },
	{ "MSG_DELIVER: UTF-8 and an embedded NUL survive", MSG_DELIVER,
	    UINT64_MAX, { U64(1), U64(2), U64(3), U64(UINT64_MAX),
	    STR("\xc3\xa9l\xc3\xa8ve"), STR(""),
	    STR("a\0b\xf0\x9f\x98\x80") } },
	{ "MSG_SEND_FAIL: two strings", MSG_SEND_FAIL, 19,
	    { STR("tmp-2"), STR("message too long") } },
	{ "MSG_HEALTH_CHECK: empty payload, id only", MSG_HEALTH_CHECK, 7,
	    { { F_END, 0, NULL, 0 } } },
	{ "MSG_WS_OPEN: two u64 with the high bit set", MSG_WS_OPEN,
	    0x8000000000000001ULL, { U64(0x8000000000000000ULL),
	    U64(0xfedcba9876543210ULL) } },
	{ "MSG_WS_CLOSE: empty payload, id only", MSG_WS_CLOSE, 20,
	    { { F_END, 0, NULL, 0 } } },
	{ "MSG_SEND: two strings", MSG_SEND, 21,
	    { STR("tmp-3"), STR("hi") } },
	{ "u8 fields and extreme u16 values", MSG_SEND, 22,
	    { U8(0), U8(0xff), U16(0), U16(0xffff), U32(0x80000000) } },
};

#define NRCASES	(sizeof(rcases) / sizeof(rcases[0]))

static void
encode_frame(struct buf *b, const struct rcase *c)
{
	const struct field	*f;
	size_t			 off, i;

	off = wire_begin(b, c->type, c->id);
	for (i = 0; i < MAX_FIELDS && c->fields[i].kind != F_END; i++) {
		f = &c->fields[i];
		switch (f->kind) {
		case F_U8:
			buf_add_u8(b, (uint8_t)f->n);
			break;
		case F_U16:
			buf_add_u16(b, (uint16_t)f->n);
			break;
		case F_U32:
			buf_add_u32(b, (uint32_t)f->n);
			break;
		case F_U64:
			buf_add_u64(b, f->n);
			break;
		case F_STR:
			buf_add_str(b, f->s, f->slen);
			break;
		case F_END:
			break;
		}
	}
	if (wire_end(b, off) == -1) {
		fprintf(stderr, "wire_end failed for \"%s\"\n", c->reason);
		exit(2);
	}
}

/* Read every field of c from r; on a mismatch say which in why. */
static int
decode_fields(struct rd *r, const struct rcase *c, char *why, size_t whysz)
{
	const struct field	*f;
	struct str		 s;
	uint64_t		 v64;
	uint32_t		 v32;
	uint16_t		 v16;
	uint8_t			 v8;
	uint64_t		 got;
	size_t			 i;
	int			 rc;

	for (i = 0; i < MAX_FIELDS && c->fields[i].kind != F_END; i++) {
		f = &c->fields[i];
		got = 0;
		switch (f->kind) {
		case F_U8:
			rc = rd_u8(r, &v8);
			got = v8;
			break;
		case F_U16:
			rc = rd_u16(r, &v16);
			got = v16;
			break;
		case F_U32:
			rc = rd_u32(r, &v32);
			got = v32;
			break;
		case F_U64:
			rc = rd_u64(r, &v64);
			got = v64;
			break;
		case F_STR:
			if ((rc = rd_str(r, &s)) == -1)
				break;
			if (s.len != f->slen || memcmp(s.s, f->s, s.len) != 0) {
				snprintf(why, whysz, "field %zu: string of "
				    "length %zu differs", i, s.len);
				return 0;
			}
			continue;
		default:
			rc = -1;
			break;
		}
		if (rc == -1) {
			snprintf(why, whysz, "field %zu: getter failed", i);
			return 0;
		}
		if (got != f->n) {
			snprintf(why, whysz, "field %zu: got %llu want %llu", i,
			    (unsigned long long)got, (unsigned long long)f->n);
			return 0;
		}
	}
	if (rd_left(r) != 0) {
		snprintf(why, whysz, "%zu bytes left over", rd_left(r));
		return 0;
	}
	return 1;
}

/* Check a parsed frame against c, including the header. */
static void
check_msg(const struct wire_msg *m, const struct rcase *c, size_t framelen,
    const char *how)
{
	struct rd	r = m->payload;
	char		why[128] = "";
	int		ok;

	ok = m->hdr.type == c->type && m->hdr.id == c->id &&
	    m->hdr.flags == WIRE_F_NONE && m->hdr.len == framelen;
	if (!ok)
		snprintf(why, sizeof(why), "header type %u id %llu flags %u "
		    "len %u", m->hdr.type, (unsigned long long)m->hdr.id,
		    m->hdr.flags, m->hdr.len);
	else
		ok = decode_fields(&r, c, why, sizeof(why));
	check(ok, c->reason, "%s: %s", how, why);
}

static void
test_roundtrip(void)
{
	struct evbuffer	*ev = evbuf_new();
	struct wire_msg	 m;
	struct buf	 b;
	size_t		 i;
	int		 rc;

	buf_init(&b);
	for (i = 0; i < NRCASES; i++) {
		buf_reset(&b);
		encode_frame(&b, &rcases[i]);
		evbuffer_add(ev, b.b_data, b.b_len);
		rc = wire_next(ev, &m);
		check(rc == 1, rcases[i].reason, "alone: wire_next %d", rc);
		if (rc != 1) {
			evbuffer_drain(ev, evbuffer_get_length(ev));
			continue;
		}
		check_msg(&m, &rcases[i], b.b_len, "alone");
		wire_consume(ev, &m);
		check(evbuffer_get_length(ev) == 0, rcases[i].reason,
		    "alone: %zu bytes left after wire_consume",
		    evbuffer_get_length(ev));
	}
	buf_free(&b);
	evbuffer_free(ev);
}

/* Every case in one buffer, then read back in order. */
static void
test_many(void)
{
	struct evbuffer	*ev = evbuf_new();
	struct wire_msg	 m;
	struct buf	 b;
	size_t		 ends[NRCASES], start, i;
	int		 rc;

	buf_init(&b);
	for (i = 0; i < NRCASES; i++) {
		encode_frame(&b, &rcases[i]);
		ends[i] = b.b_len;
	}
	evbuffer_add(ev, b.b_data, b.b_len);
	for (i = 0, start = 0; i < NRCASES; start = ends[i], i++) {
		if ((rc = wire_next(ev, &m)) != 1) {
			check(0, "several frames in one buffer",
			    "frame %zu: wire_next %d", i, rc);
			break;
		}
		check_msg(&m, &rcases[i], ends[i] - start, "in one buffer");
		wire_consume(ev, &m);
	}
	rc = wire_next(ev, &m);
	check(rc == 0 && evbuffer_get_length(ev) == 0,
	    "several frames: nothing after the last", "wire_next %d, %zu "
	    "bytes left", rc, evbuffer_get_length(ev));
	buf_free(&b);
	evbuffer_free(ev);
}

/* Every case back to back, fed one byte at a time. */
static void
test_bytewise(void)
{
	struct evbuffer	*ev = evbuf_new();
	struct wire_msg	 m;
	struct buf	 b;
	size_t		 ends[NRCASES], start, fed, k;
	int		 rc, early = 0;

	buf_init(&b);
	for (k = 0; k < NRCASES; k++) {
		encode_frame(&b, &rcases[k]);
		ends[k] = b.b_len;
	}
	k = 0;
	start = 0;
	for (fed = 0; fed < b.b_len && !early; fed++) {
		evbuffer_add(ev, b.b_data + fed, 1);
		while ((rc = wire_next(ev, &m)) == 1) {
			if (k >= NRCASES || fed + 1 != ends[k]) {
				check(0, "byte at a time: frame complete only "
				    "on its last byte", "frame %zu after %zu "
				    "bytes", k, fed + 1);
				early = 1;
				break;
			}
			check_msg(&m, &rcases[k], ends[k] - start,
			    "byte at a time");
			wire_consume(ev, &m);
			start = ends[k++];
		}
		if (rc == -1) {
			check(0, "byte at a time: never malformed",
			    "wire_next -1 after %zu bytes", fed + 1);
			early = 1;
		}
	}
	check(k == NRCASES, "byte at a time: every frame came out",
	    "%zu of %zu", k, NRCASES);
	buf_free(&b);
	evbuffer_free(ev);
}

/* Every proper prefix of every case needs more bytes. */
static void
test_truncated(void)
{
	struct evbuffer	*ev;
	struct wire_msg	 m;
	struct buf	 b;
	size_t		 i, n;
	int		 rc;

	buf_init(&b);
	for (i = 0; i < NRCASES; i++) {
		buf_reset(&b);
		encode_frame(&b, &rcases[i]);
		rc = 0;
		for (n = 0; n < b.b_len; n++) {
			ev = evbuf_new();
			evbuffer_add(ev, b.b_data, n);
			rc = wire_next(ev, &m);
			evbuffer_free(ev);
			if (rc != 0)
				break;
		}
		check(rc == 0, "truncated frame needs more bytes",
		    "%s: %zu of %zu bytes gave %d", rcases[i].reason, n,
		    b.b_len, rc);
	}
	buf_free(&b);
}

/*
 * Headers written by hand: wire_hdr_decode() and wire_next() on the
 * header alone.  A header whose length is impossible must be refused at
 * once, not after waiting for bytes that never come.
 */

static const struct {
	const char	*reason;
	uint32_t	 len;
	uint16_t	 type;
	uint16_t	 flags;
	uint64_t	 id;
	int		 decode;	/* wire_hdr_decode */
	int		 next;		/* wire_next on these 16 bytes */
} hcases[] = {
	{ "header-only frame is complete", 16, MSG_CFG_DONE, 0, 0, 0, 1 },
	{ "last real type accepted", 16, MSG_TYPE_MAX - 1, 0, 9, 0, 1 },
	{ "largest id passes through", 16, MSG_WS_CLOSE, 0, UINT64_MAX, 0, 1 },
	{ "payload announced: wait for it", 17, MSG_SEND, 0, 1, 0, 0 },
	{ "largest frame announced: wait for it", WIRE_MAX_SIZE, MSG_SEND, 0,
	    1, 0, 0 },
	{ "len 15 is shorter than the header", 15, MSG_SEND, 0, 1, -1, -1 },
	{ "len 0 is shorter than the header", 0, MSG_SEND, 0, 1, -1, -1 },
	{ "len 1 is shorter than the header", 1, MSG_HELLO, 0, 0, -1, -1 },
	{ "len one over WIRE_MAX_SIZE", WIRE_MAX_SIZE + 1, MSG_SEND, 0, 1,
	    -1, -1 },
	{ "len 0xffffffff", UINT32_MAX, MSG_SEND, 0, 1, -1, -1 },
	{ "type 0 is MSG_NONE, never sent", 16, MSG_NONE, 0, 1, -1, -1 },
	{ "type MSG_TYPE_MAX is not a message", 16, MSG_TYPE_MAX, 0, 1, -1,
	    -1 },
	{ "type 0xffff", 16, 0xffff, 0, 1, -1, -1 },
	{ "bad type with a payload announced", 100, MSG_TYPE_MAX, 0, 1, -1,
	    -1 },
};

static void
test_headers(void)
{
	struct evbuffer	*ev;
	struct wire_msg	 m;
	struct wire_hdr	 h, sentinel;
	uint8_t		 raw[WIRE_HDR_SIZE];
	size_t		 i;
	int		 rc;

	memset(&sentinel, 0xa5, sizeof(sentinel));
	for (i = 0; i < sizeof(hcases) / sizeof(hcases[0]); i++) {
		put_be(raw, hcases[i].len, 4);
		put_be(raw + 4, hcases[i].type, 2);
		put_be(raw + 6, hcases[i].flags, 2);
		put_be(raw + 8, hcases[i].id, 8);

		h = sentinel;
		rc = wire_hdr_decode(raw, &h);
		if (hcases[i].decode == 0)
			check(rc == 0 && h.len == hcases[i].len &&
			    h.type == hcases[i].type &&
			    h.flags == hcases[i].flags && h.id == hcases[i].id,
			    hcases[i].reason, "wire_hdr_decode %d len %u "
			    "type %u id %llu", rc, h.len, h.type,
			    (unsigned long long)h.id);
		else
			check(rc == -1 && memcmp(&h, &sentinel,
			    sizeof(h)) == 0, hcases[i].reason,
			    "wire_hdr_decode %d, out %s", rc,
			    memcmp(&h, &sentinel, sizeof(h)) == 0 ?
			    "untouched" : "changed");

		ev = evbuf_new();
		evbuffer_add(ev, raw, sizeof(raw));
		rc = wire_next(ev, &m);
		check(rc == hcases[i].next, hcases[i].reason,
		    "wire_next %d want %d", rc, hcases[i].next);
		if (rc == 1)
			check(rd_left(&m.payload) == 0 && m.hdr.id ==
			    hcases[i].id, hcases[i].reason,
			    "payload %zu id %llu", rd_left(&m.payload),
			    (unsigned long long)m.hdr.id);
		evbuffer_free(ev);
	}
}

/* A bad header behind a good frame: the good one still comes out. */
static void
test_bad_after_good(void)
{
	struct evbuffer	*ev = evbuf_new();
	struct wire_msg	 m;
	struct buf	 b;
	uint8_t		 raw[WIRE_HDR_SIZE];
	int		 rc1, rc2 = 99;

	buf_init(&b);
	encode_frame(&b, &rcases[0]);
	put_be(raw, 8, 4);
	put_be(raw + 4, MSG_SEND, 2);
	put_be(raw + 6, 0, 2);
	put_be(raw + 8, 1, 8);
	evbuffer_add(ev, b.b_data, b.b_len);
	evbuffer_add(ev, raw, sizeof(raw));
	if ((rc1 = wire_next(ev, &m)) == 1) {
		check_msg(&m, &rcases[0], b.b_len, "before a bad header");
		wire_consume(ev, &m);
		rc2 = wire_next(ev, &m);
	}
	check(rc1 == 1 && rc2 == -1, "good frame, then a bad header",
	    "wire_next %d then %d", rc1, rc2);
	buf_free(&b);
	evbuffer_free(ev);
}

/*
 * The reader: each row runs one getter on the given bytes.  On failure
 * the out-parameter keeps its sentinel and the reader does not move.
 */

enum rd_op {
	OP_U8 = 0,
	OP_U16,
	OP_U32,
	OP_U64,
	OP_STR,
};

#define B(s)	(s), sizeof(s) - 1

static const struct {
	const char	*reason;
	enum rd_op	 op;
	const char	*in;
	size_t		 inlen;
	int		 rc;
	uint64_t	 want;		/* integers */
	const char	*wants;		/* strings */
	size_t		 wantslen;
	size_t		 left;		/* after a success */
} rdcases[] = {
	{ "u8 from one byte", OP_U8, B("\xfe"), 0, 0xfe, NULL, 0, 0 },
	{ "u8 from nothing", OP_U8, B(""), -1, 0, NULL, 0, 0 },
	{ "u16 is big-endian", OP_U16, B("\x01\x02"), 0, 0x0102, NULL, 0, 0 },
	{ "u16 from one byte", OP_U16, B("\x01"), -1, 0, NULL, 0, 0 },
	{ "u32 is big-endian", OP_U32, B("\xde\xad\xbe\xef"), 0, 0xdeadbeef,
	    NULL, 0, 0 },
	{ "u32 from three bytes", OP_U32, B("\x01\x02\x03"), -1, 0, NULL, 0,
	    0 },
	{ "u64 is big-endian", OP_U64, B("\x01\x02\x03\x04\x05\x06\x07\x08"),
	    0, 0x0102030405060708ULL, NULL, 0, 0 },
	{ "u64 all ones", OP_U64, B("\xff\xff\xff\xff\xff\xff\xff\xff"), 0,
	    UINT64_MAX, NULL, 0, 0 },
	{ "u64 leaves the rest", OP_U64,
	    B("\x00\x00\x00\x00\x00\x00\x00\x01\x09"), 0, 1, NULL, 0, 1 },
	{ "u64 from seven bytes", OP_U64, B("\x01\x02\x03\x04\x05\x06\x07"),
	    -1, 0, NULL, 0, 0 },
	{ "str exactly fills the reader", OP_STR, B("\x00\x00\x00\x03" "abc"),
	    0, 0, B("abc"), 0 },
	{ "empty str", OP_STR, B("\x00\x00\x00\x00"), 0, 0, B(""), 0 },
	{ "str leaves the rest", OP_STR, B("\x00\x00\x00\x02" "abc"), 0, 0,
	    B("ab"), 1 },
	{ "str with a NUL inside", OP_STR, B("\x00\x00\x00\x03" "a\0b"), 0, 0,
	    B("a\0b"), 0 },
	{ "str length one beyond the payload", OP_STR,
	    B("\x00\x00\x00\x04" "abc"), -1, 0, NULL, 0, 0 },
	{ "str length 0xffffffff", OP_STR, B("\xff\xff\xff\xff" "ab"), -1, 0,
	    NULL, 0, 0 },
	{ "str length beyond an empty payload", OP_STR, B("\x00\x00\x00\x01"),
	    -1, 0, NULL, 0, 0 },
	{ "str length itself truncated", OP_STR, B("\x00\x00\x00"), -1, 0,
	    NULL, 0, 0 },
	{ "str from nothing", OP_STR, B(""), -1, 0, NULL, 0, 0 },
};

static const char	str_sentinel[] = "untouched";

static void
test_rd(void)
{
	struct rd	 r, before;
	struct str	 s;
	uint64_t	 got, v64;
	uint32_t	 v32;
	uint16_t	 v16;
	uint8_t		 v8;
	size_t		 i;
	int		 rc, same;

	for (i = 0; i < sizeof(rdcases) / sizeof(rdcases[0]); i++) {
		rd_init(&r, rdcases[i].in, rdcases[i].inlen);
		before = r;
		v8 = 0x5a;
		v16 = 0x5a5a;
		v32 = 0x5a5a5a5a;
		v64 = 0x5a5a5a5a5a5a5a5aULL;
		s.s = str_sentinel;
		s.len = sizeof(str_sentinel) - 1;
		got = 0;
		switch (rdcases[i].op) {
		case OP_U8:
			rc = rd_u8(&r, &v8);
			got = v8;
			same = v8 == 0x5a;
			break;
		case OP_U16:
			rc = rd_u16(&r, &v16);
			got = v16;
			same = v16 == 0x5a5a;
			break;
		case OP_U32:
			rc = rd_u32(&r, &v32);
			got = v32;
			same = v32 == 0x5a5a5a5a;
			break;
		case OP_U64:
			rc = rd_u64(&r, &v64);
			got = v64;
			same = v64 == 0x5a5a5a5a5a5a5a5aULL;
			break;
		default:
			rc = rd_str(&r, &s);
			same = s.s == str_sentinel &&
			    s.len == sizeof(str_sentinel) - 1;
			break;
		}
		if (rdcases[i].rc == -1) {
			check(rc == -1 && same && r.r_p == before.r_p &&
			    r.r_left == before.r_left, rdcases[i].reason,
			    "rc %d, out %s, reader %s", rc,
			    same ? "untouched" : "changed",
			    r.r_p == before.r_p && r.r_left == before.r_left ?
			    "untouched" : "moved");
		} else if (rdcases[i].op == OP_STR) {
			check(rc == 0 && s.len == rdcases[i].wantslen &&
			    memcmp(s.s, rdcases[i].wants, s.len) == 0 &&
			    s.s == rdcases[i].in + 4 &&
			    rd_left(&r) == rdcases[i].left, rdcases[i].reason,
			    "rc %d len %zu left %zu", rc, s.len, rd_left(&r));
		} else {
			check(rc == 0 && got == rdcases[i].want &&
			    rd_left(&r) == rdcases[i].left, rdcases[i].reason,
			    "rc %d got %llu left %zu", rc,
			    (unsigned long long)got, rd_left(&r));
		}
	}
}

/* Reading on after the payload is used up. */
static void
test_rd_past_end(void)
{
	static const uint8_t	 in[] = { 0, 0, 0, 7, 0, 0, 0, 2, 'h', 'i' };
	struct rd		 r;
	struct str		 s;
	uint64_t		 v64 = 99;
	uint32_t		 v32 = 99, a = 0;
	uint16_t		 v16 = 99;
	uint8_t			 v8 = 99;
	int			 ok;

	rd_init(&r, in, sizeof(in));
	ok = rd_u32(&r, &a) == 0 && a == 7 && rd_str(&r, &s) == 0 &&
	    s.len == 2 && memcmp(s.s, "hi", 2) == 0 && rd_left(&r) == 0;
	check(ok, "u32 then str consume the payload exactly", "");
	s.s = str_sentinel;
	s.len = 1;
	check(rd_u8(&r, &v8) == -1 && rd_u16(&r, &v16) == -1 &&
	    rd_u32(&r, &v32) == -1 && rd_u64(&r, &v64) == -1 &&
	    rd_str(&r, &s) == -1, "every getter fails at the end", "");
	check(v8 == 99 && v16 == 99 && v32 == 99 && v64 == 99 &&
	    s.s == str_sentinel && s.len == 1 && rd_left(&r) == 0,
	    "failed getters at the end leave out-params alone",
	    "u8 %u u16 %u u32 %u u64 %llu", v8, v16, v32,
	    (unsigned long long)v64);
}

static void
test_str_dup(void)
{
	struct str	 s;
	char		*p;

	s.s = "abcdef";
	s.len = 3;
	p = str_dup(&s);
	check(p != NULL && strcmp(p, "abc") == 0,
	    "str_dup copies len bytes and terminates", "got %s",
	    p ? p : "(null)");
	free(p);
	s.len = 0;
	p = str_dup(&s);
	check(p != NULL && p[0] == '\0', "str_dup of an empty string", "");
	free(p);
}

/*
 * wire_end() limits.
 */

static void
test_wire_end(void)
{
	struct evbuffer	*ev;
	struct wire_msg	 m;
	struct buf	 b;
	uint8_t		*zeros, *first;
	size_t		 off, firstlen;
	int		 rc;

	if ((zeros = calloc(1, WIRE_MAX_SIZE)) == NULL) {
		fprintf(stderr, "calloc failed\n");
		exit(2);
	}
	buf_init(&b);

	/* The largest frame allowed is accepted and parses back. */
	off = wire_begin(&b, MSG_SEND, 5);
	buf_add(&b, zeros, WIRE_MAX_SIZE - WIRE_HDR_SIZE);
	rc = wire_end(&b, off);
	check(rc == 0 && b.b_len == WIRE_MAX_SIZE,
	    "frame of exactly WIRE_MAX_SIZE accepted", "rc %d len %zu", rc,
	    b.b_len);
	ev = evbuf_new();
	evbuffer_add(ev, b.b_data, b.b_len);
	rc = wire_next(ev, &m);
	check(rc == 1 && m.hdr.len == WIRE_MAX_SIZE &&
	    rd_left(&m.payload) == WIRE_MAX_SIZE - WIRE_HDR_SIZE,
	    "frame of exactly WIRE_MAX_SIZE parses", "wire_next %d", rc);
	evbuffer_free(ev);

	/* One byte more is refused and dropped; earlier frames stay. */
	buf_reset(&b);
	encode_frame(&b, &rcases[0]);
	firstlen = b.b_len;
	if ((first = malloc(firstlen)) == NULL) {
		fprintf(stderr, "malloc failed\n");
		exit(2);
	}
	memcpy(first, b.b_data, firstlen);
	off = wire_begin(&b, MSG_SEND, 6);
	buf_add(&b, zeros, WIRE_MAX_SIZE - WIRE_HDR_SIZE + 1);
	rc = wire_end(&b, off);
	check(rc == -1, "frame one byte over WIRE_MAX_SIZE refused", "rc %d",
	    rc);
	check(b.b_len == firstlen && memcmp(b.b_data, first, firstlen) == 0,
	    "refused frame dropped, earlier frame kept", "len %zu want %zu",
	    b.b_len, firstlen);
	encode_frame(&b, &rcases[1]);
	ev = evbuf_new();
	evbuffer_add(ev, b.b_data, b.b_len);
	if ((rc = wire_next(ev, &m)) == 1) {
		check_msg(&m, &rcases[0], firstlen, "around a dropped frame");
		wire_consume(ev, &m);
		if ((rc = wire_next(ev, &m)) == 1)
			check_msg(&m, &rcases[1], b.b_len - firstlen,
			    "after a dropped frame");
	}
	check(rc == 1, "buffer usable after a dropped frame", "wire_next %d",
	    rc);
	evbuffer_free(ev);
	free(first);

	/* Shorter than a header: nothing was begun at off. */
	buf_reset(&b);
	buf_add_u32(&b, 1);
	rc = wire_end(&b, 0);
	check(rc == -1 && b.b_len == 0, "frame shorter than a header refused",
	    "rc %d len %zu", rc, b.b_len);

	buf_reset(&b);
	off = wire_begin(&b, MSG_CFG_DONE, 0);
	rc = wire_end(&b, b.b_len + 1);
	check(rc == -1 && b.b_len == WIRE_HDR_SIZE,
	    "offset beyond the buffer refused", "rc %d len %zu", rc, b.b_len);

	buf_reset(&b);
	off = wire_begin(&b, MSG_CFG_DONE, 0);
	b.b_err = 1;
	rc = wire_end(&b, off);
	check(rc == -1, "buffer that failed to grow refused", "rc %d", rc);

	buf_free(&b);
	free(zeros);
}

static void
test_buf(void)
{
	struct buf	b;

	buf_init(&b);
	buf_add_cstr(&b, NULL);
	check(b.b_len == 4 && memcmp(b.b_data, "\0\0\0\0", 4) == 0,
	    "buf_add_cstr(NULL) writes an empty string", "len %zu", b.b_len);
	buf_reset(&b);
	buf_add_cstr(&b, "ab");
	check(b.b_len == 6 && memcmp(b.b_data, "\0\0\0\2ab", 6) == 0,
	    "buf_add_cstr writes length then bytes, no NUL", "len %zu",
	    b.b_len);
	buf_put_u32_at(&b, 3, 0xffffffff);
	check(memcmp(b.b_data, "\0\0\0\2ab", 6) == 0,
	    "buf_put_u32_at past the end does nothing", "");
	buf_put_u32_at(&b, 2, 0x01020304);
	check(memcmp(b.b_data, "\0\0\1\2\3\4", 6) == 0,
	    "buf_put_u32_at patches in place, big-endian", "");
	buf_free(&b);
	check(b.b_data == NULL && b.b_len == 0 && b.b_cap == 0,
	    "buf_free leaves an empty buffer", "");
}

/*
 * Message names, for logs.
 */

#define N(t)	{ t, #t }

static const struct {
	uint32_t	 type;
	const char	*name;
} names[] = {
	N(MSG_NONE), N(MSG_HELLO), N(MSG_CFG_SET), N(MSG_CFG_DONE),
	N(MSG_WS_ACCEPT), N(MSG_WS_REFUSE), N(MSG_DELIVER), N(MSG_SEND_FAIL),
	N(MSG_HEALTH_CHECK), N(MSG_WS_OPEN), N(MSG_WS_CLOSE), N(MSG_SEND),
	/* chatctl */
	N(MSG_WS_KICK), N(MSG_CTL_STATUS), N(MSG_CTL_CHECK), N(MSG_CTL_CONNS),
	N(MSG_CTL_KICK), N(MSG_CTL_HEALTH), N(MSG_CTL_USER_ADD),
	N(MSG_CTL_USER_LIST), N(MSG_CTL_USER_SHOW), N(MSG_CTL_ROOM_CREATE),
	N(MSG_CTL_ROOM_LIST), N(MSG_CTL_ROOM_SHOW), N(MSG_CTL_TOKEN),
	N(MSG_CTL_PROVISION), N(MSG_CTL_RELOAD), N(MSG_CTL_SHUTDOWN),
	N(MSG_CTL_ROW), N(MSG_CTL_DATA), N(MSG_CTL_END), N(MSG_CTL_FAIL),
	/* chat protocol */
	N(MSG_TYPING), N(MSG_STATUS), N(MSG_REPLAY), N(MSG_CONN_ERROR),
	N(MSG_STATUS_UPDATE), N(MSG_TYPING_UPDATE), N(MSG_PRESENCE),
	N(MSG_REPLAY_MSG), N(MSG_REPLAY_DONE),
	N(MSG_REST_QUERY), N(MSG_REST_USER), N(MSG_REST_ROOM),
	N(MSG_REST_MESSAGE), N(MSG_REST_DONE),
	N(MSG_WORKER_REFUSED), N(MSG_METRICS_GET), N(MSG_METRICS),
	N(MSG_ECHO),
};

static const uint32_t	unknown_types[] = { MSG_TYPE_MAX, 0xffff,
    0x10000 | MSG_HELLO, UINT32_MAX };

static void
test_names(void)
{
	const char	*s;
	uint32_t	 t;
	size_t		 i;

	check(sizeof(names) / sizeof(names[0]) == MSG_TYPE_MAX,
	    "name table covers every message type", "%zu rows, %d types",
	    sizeof(names) / sizeof(names[0]), MSG_TYPE_MAX);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		s = msg_type_name(names[i].type);
		check(strcmp(s, names[i].name) == 0, "msg_type_name of a real "
		    "type", "%u: got %s want %s", names[i].type, s,
		    names[i].name);
	}
	for (t = 0; t < MSG_TYPE_MAX; t++) {
		s = msg_type_name(t);
		check(s != NULL && strncmp(s, "MSG_", 4) == 0 &&
		    strcmp(s, "MSG_UNKNOWN") != 0,
		    "every type below MSG_TYPE_MAX has its own name",
		    "%u: %s", t, s ? s : "(null)");
	}
	for (i = 0; i < sizeof(unknown_types) / sizeof(unknown_types[0]);
	    i++) {
		s = msg_type_name(unknown_types[i]);
		check(s != NULL && strcmp(s, "MSG_UNKNOWN") == 0,
		    "unknown type named MSG_UNKNOWN", "%u: %s",
		    unknown_types[i], s ? s : "(null)");
	}
}

/*
 * Golden frame: MSG_DELIVER for room 0x0102030405060708, message 42 from
 * user 1001, created 1735122600123 ms, no sender connection, username
 * "ann", temp_id "t-1", content "hi".  Written out by hand.
 */
static const char golden_deliver[] =
	"00000044"		/* len 68 */
	"0006"			/* type MSG_DELIVER */
	"0000"			/* flags */
	"0102030405060708"	/* id = room */
	"000000000000002a"	/* msg id 42 */
	"00000000000003e9"	/* sender 1001 */
	"00000193fd5dc0bb"	/* created 1735122600123 ms */
	"0000000000000000"	/* sender conn: none */
	"00000003" "616e6e"	/* "ann" */
	"00000003" "742d31"	/* "t-1" */
	"00000002" "6869";	/* "hi" */

static void
test_golden(void)
{
	static const struct rcase	 c = { "golden MSG_DELIVER parses back",
	    MSG_DELIVER, 0x0102030405060708ULL, { U64(42), U64(1001),
	    U64(1735122600123ULL), U64(0), STR("ann"), STR("t-1"),
	    STR("hi") } };
	struct evbuffer			*ev;
	struct wire_msg			 m;
	struct buf			 b;
	char				 hex[2 * sizeof(golden_deliver)];
	size_t				 off, i;
	int				 rc;

	check(MSG_DELIVER == 6, "MSG_DELIVER is type 6 on the wire",
	    "MSG_DELIVER is %d", MSG_DELIVER);
	buf_init(&b);
	off = wire_begin(&b, MSG_DELIVER, 0x0102030405060708ULL);
	buf_add_u64(&b, 42);
	buf_add_u64(&b, 1001);
	buf_add_u64(&b, 1735122600123ULL);
	buf_add_u64(&b, 0);
	buf_add_cstr(&b, "ann");
	buf_add_str(&b, "t-1", 3);
	buf_add_cstr(&b, "hi");
	rc = wire_end(&b, off);
	hex[0] = '\0';
	for (i = 0; i < b.b_len && 2 * i + 2 < sizeof(hex); i++)
		snprintf(hex + 2 * i, 3, "%02x", b.b_data[i]);
	check(rc == 0 && strcmp(hex, golden_deliver) == 0,
	    "golden MSG_DELIVER bytes", "\n got  %s\n want %s", hex,
	    golden_deliver);

	ev = evbuf_new();
	evbuffer_add(ev, b.b_data, b.b_len);
	rc = wire_next(ev, &m);
	check(rc == 1, c.reason, "wire_next %d", rc);
	if (rc == 1)
		check_msg(&m, &c, (sizeof(golden_deliver) - 1) / 2, "golden");
	evbuffer_free(ev);
	buf_free(&b);
}

int
main(void)
{
	test_roundtrip();
	test_many();
	test_bytewise();
	test_truncated();
	test_headers();
	test_bad_after_good();
	test_rd();
	test_rd_past_end();
	test_str_dup();
	test_wire_end();
	test_buf();
	test_names();
	test_golden();
	return check_report("test-wire");
}
