/*
 * utf8.c - UTF-8 validation and counting (RFC 3629).
 *
 * The validator keeps the bits of the code point gathered so far and,
 * after every byte, asks whether any completion of the sequence could
 * still be a valid code point.  That makes it fail at the first bad byte
 * (0xED 0xA0 is refused at 0xA0, 0xF4 0x90 at 0x90), which WebSocket
 * peers expect, without a table per lead byte.
 */
#include <stdint.h>
#include <string.h>

#include "utf8.h"

#define UTF8_FAILED	UINT32_MAX		/* need: sticky failure */
#define HIGH_BITS	0x8080808080808080ULL	/* bit 7 of each byte */

static const uint8_t	*skip_ascii(const uint8_t *, const uint8_t *);
static int		 utf8_lead(struct utf8_state *, uint8_t);
static int		 utf8_cont(struct utf8_state *, uint8_t);
static int		 utf8_possible(const struct utf8_state *);

void
utf8_init(struct utf8_state *s)
{
	s->need = 0;
	s->cp = 0;
	s->min = 0;
}

int
utf8_feed(struct utf8_state *s, const uint8_t *p, size_t n)
{
	const uint8_t	*end = p + n;

	if (s->need == UTF8_FAILED)
		return -1;
	while (p < end) {
		if (s->need == 0) {
			p = skip_ascii(p, end);
			if (p == end)
				break;
			if (utf8_lead(s, *p++) == -1)
				goto fail;
		} else if (utf8_cont(s, *p++) == -1)
			goto fail;
	}
	return 0;
 fail:
	s->need = UTF8_FAILED;
	return -1;
}

int
utf8_complete(const struct utf8_state *s)
{
	return s->need == 0;
}

int
utf8_valid(const void *p, size_t n)
{
	struct utf8_state	s;

	utf8_init(&s);
	if (utf8_feed(&s, p, n) == -1)
		return 0;
	return utf8_complete(&s);
}

/*
 * Every byte except a continuation byte (10xxxxxx) starts a code point.
 * A byte is a continuation byte when bit 7 is set and bit 6 is clear;
 * shifting the word left by one lines bit 6 up under bit 7 of the same
 * byte, so eight bytes are classified at once.
 */
size_t
utf8_chars(const void *buf, size_t n)
{
	const uint8_t	*p = buf, *end = p + n;
	uint64_t	 w, cont;
	size_t		 count = 0;

	while (end - p >= 8) {
		memcpy(&w, p, sizeof(w));
		cont = w & ~(w << 1) & HIGH_BITS;
		count += 8 - (size_t)__builtin_popcountll(cont);
		p += 8;
	}
	for (; p < end; p++)
		if ((*p & 0xC0) != 0x80)
			count++;
	return count;
}

/* Chat text is mostly ASCII: step over it eight bytes at a time. */
static const uint8_t *
skip_ascii(const uint8_t *p, const uint8_t *end)
{
	uint64_t	w;

	while (end - p >= 8) {
		memcpy(&w, p, sizeof(w));
		if ((w & HIGH_BITS) != 0)
			break;
		p += 8;
	}
	while (p < end && *p < 0x80)
		p++;
	return p;
}

static int
utf8_lead(struct utf8_state *s, uint8_t b)
{
	if (b < 0x80)
		return 0;
	if (b < 0xC0)			/* continuation byte with no lead */
		return -1;
	if (b < 0xE0) {
		s->need = 1;
		s->cp = b & 0x1F;
		s->min = 0x80;
	} else if (b < 0xF0) {
		s->need = 2;
		s->cp = b & 0x0F;
		s->min = 0x800;
	} else if (b < 0xF8) {
		s->need = 3;
		s->cp = b & 0x07;
		s->min = 0x10000;
	} else				/* 5- and 6-byte forms are gone */
		return -1;
	/* Refuses 0xC0, 0xC1 and 0xF5-0xF7 right here. */
	return utf8_possible(s) ? 0 : -1;
}

static int
utf8_cont(struct utf8_state *s, uint8_t b)
{
	if ((b & 0xC0) != 0x80)
		return -1;
	s->cp = (s->cp << 6) | (b & 0x3F);
	s->need--;
	return utf8_possible(s) ? 0 : -1;
}

/*
 * Can the sequence still end as a valid code point?  The missing
 * 6 * need low bits may take any value, so the result lies in [lo, hi].
 * Surrogates fill whole 64-value blocks, so for a 3-byte sequence the
 * answer is exact once the second byte is in.
 */
static int
utf8_possible(const struct utf8_state *s)
{
	uint32_t	shift = 6 * s->need;
	uint32_t	lo = s->cp << shift;
	uint32_t	hi = lo | ((UINT32_C(1) << shift) - 1);

	if (hi < s->min)		/* overlong */
		return 0;
	if (lo > 0x10FFFF)
		return 0;
	if (lo >= 0xD800 && hi <= 0xDFFF)
		return 0;
	return 1;
}
