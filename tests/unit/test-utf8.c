/*
 * test-utf8.c - tables for common/utf8.c: valid and invalid sequences,
 * the byte at which the validator must give up, and character counts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#define S(s)	s, sizeof(s) - 1

struct vcase {
	const char	*why;
	const char	*s;
	size_t		 len;
	int		 valid;
	long		 fail_at;	/* byte utf8_feed() must refuse, or -1 */
};

static const struct vcase vcases[] = {
	{ "empty", S(""), 1, -1 },
	{ "ASCII", S("hello, world"), 1, -1 },
	{ "embedded NUL is a character", S("a\0b"), 1, -1 },
	{ "U+0080, smallest 2-byte", S("\xc2\x80"), 1, -1 },
	{ "U+07FF, largest 2-byte", S("\xdf\xbf"), 1, -1 },
	{ "U+0800, smallest 3-byte", S("\xe0\xa0\x80"), 1, -1 },
	{ "U+D7FF, just below surrogates", S("\xed\x9f\xbf"), 1, -1 },
	{ "U+E000, just above surrogates", S("\xee\x80\x80"), 1, -1 },
	{ "U+FFFF, largest 3-byte", S("\xef\xbf\xbf"), 1, -1 },
	{ "U+10000, smallest 4-byte", S("\xf0\x90\x80\x80"), 1, -1 },
	{ "U+10FFFF, largest code point", S("\xf4\x8f\xbf\xbf"), 1, -1 },
	{ "Greek kosme", S("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"),
	    1, -1 },
	{ "2-byte character across an 8-byte word",
	    S("abcdefg\xc3\xa9" "abcdefgh"), 1, -1 },
	{ "emoji after 16 ASCII bytes",
	    S("0123456789abcdef\xf0\x9f\x98\x80"), 1, -1 },
	{ "overlong NUL C0 80", S("\xc0\x80"), 0, 0 },
	{ "overlong C1 BF", S("\xc1\xbf"), 0, 0 },
	{ "overlong 3-byte NUL", S("\xe0\x80\x80"), 0, 1 },
	{ "overlong 3-byte U+07FF", S("\xe0\x9f\xbf"), 0, 1 },
	{ "overlong 4-byte NUL", S("\xf0\x80\x80\x80"), 0, 1 },
	{ "overlong 4-byte U+FFFF", S("\xf0\x8f\xbf\xbf"), 0, 1 },
	{ "surrogate U+D800", S("\xed\xa0\x80"), 0, 1 },
	{ "surrogate U+DFFF", S("\xed\xbf\xbf"), 0, 1 },
	{ "surrogate pair", S("\xed\xa0\x80\xed\xb0\x80"), 0, 1 },
	{ "U+110000", S("\xf4\x90\x80\x80"), 0, 1 },
	{ "lead F5 can only exceed U+10FFFF", S("\xf5\x80\x80\x80"), 0, 0 },
	{ "lead F7", S("\xf7\xbf\xbf\xbf"), 0, 0 },
	{ "5-byte form", S("\xf8\x88\x80\x80\x80"), 0, 0 },
	{ "6-byte form", S("\xfc\x84\x80\x80\x80\x80"), 0, 0 },
	{ "byte FE", S("\xfe"), 0, 0 },
	{ "byte FF", S("\xff"), 0, 0 },
	{ "lone continuation byte", S("\x80"), 0, 0 },
	{ "continuation after ASCII", S("a\xbf"), 0, 1 },
	{ "truncated 2-byte", S("\xc2"), 0, -1 },
	{ "truncated 3-byte", S("\xe2\x82"), 0, -1 },
	{ "truncated 4-byte", S("\xf0\x9f\x98"), 0, -1 },
	{ "ASCII where a continuation belongs", S("\xc2" "A"), 0, 1 },
	{ "ASCII as third byte", S("\xe2\x82" "A"), 0, 2 },
	{ "new lead where a continuation belongs", S("\xe2\xc2\xa2"), 0, 1 },
	{ "kosme then a surrogate, Autobahn 6.4 style",
	    S("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
	    "edited"), 0, 12 },
	{ "bad byte after a full ASCII word", S("abcdefgh\x80"), 0, 8 },
	{ "bad byte in second ASCII word", S("abcdefghijklm\xff" "xy"),
	    0, 13 },
};

struct ccase {
	const char	*why;
	const char	*s;
	size_t		 len;
	size_t		 chars;
};

static const struct ccase ccases[] = {
	{ "empty", S(""), 0 },
	{ "ASCII", S("hello"), 5 },
	{ "Greek kosme", S("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"), 5 },
	{ "euro sign", S("\xe2\x82\xac"), 1 },
	{ "emoji", S("\xf0\x9f\x98\x80"), 1 },
	{ "mix across words",
	    S("abcdefgh\xe2\x82\xac" "ijklmnop\xf0\x9f\x98\x80q"), 19 },
	{ "16 two-byte characters",
	    S("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"),
	    16 },
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

/* Index of the byte utf8_feed() refuses when fed one at a time, or -1. */
static long
fail_index(const char *s, size_t len, int *complete)
{
	struct utf8_state	st;
	size_t			i;

	utf8_init(&st);
	for (i = 0; i < len; i++)
		if (utf8_feed(&st, (const uint8_t *)s + i, 1) == -1) {
			*complete = utf8_complete(&st);
			return (long)i;
		}
	*complete = utf8_complete(&st);
	return -1;
}

/* Feeding in two pieces, split anywhere, must agree with one piece. */
static int
splits_agree(const struct vcase *c)
{
	struct utf8_state	 st;
	const uint8_t		*p = (const uint8_t *)c->s;
	size_t			 cut;
	int			 ok;

	for (cut = 0; cut <= c->len; cut++) {
		utf8_init(&st);
		ok = utf8_feed(&st, p, cut) == 0 &&
		    utf8_feed(&st, p + cut, c->len - cut) == 0 &&
		    utf8_complete(&st);
		if (ok != c->valid)
			return 0;
	}
	return 1;
}

static void
test_valid(void)
{
	const struct vcase	*c;
	long			 at;
	int			 complete, ok;

	for (c = vcases; c < vcases + sizeof(vcases) / sizeof(vcases[0]);
	    c++) {
		at = fail_index(c->s, c->len, &complete);
		ok = utf8_valid(c->s, c->len) == c->valid && at == c->fail_at &&
		    (at != -1 || complete == c->valid) && splits_agree(c);
		if (!ok)
			printf("  valid %d, failed at %ld (want %d, %ld)\n",
			    utf8_valid(c->s, c->len), at, c->valid, c->fail_at);
		result(ok, "utf8_valid", c->why);
	}
}

static void
test_sticky(void)
{
	struct utf8_state	st;

	utf8_init(&st);
	result(utf8_feed(&st, (const uint8_t *)"\xff", 1) == -1 &&
	    utf8_feed(&st, (const uint8_t *)"a", 1) == -1 &&
	    !utf8_complete(&st), "utf8_feed",
	    "stays failed after an invalid byte");
}

static void
test_chars(void)
{
	const struct ccase	*c;
	char			*big;
	size_t			 i;

	for (c = ccases; c < ccases + sizeof(ccases) / sizeof(ccases[0]);
	    c++)
		result(utf8_chars(c->s, c->len) == c->chars, "utf8_chars",
		    c->why);

	/* The worker's limit is 1000 characters, not 1000 bytes. */
	if ((big = malloc(2000)) == NULL) {
		result(0, "utf8_chars", "malloc");
		return;
	}
	for (i = 0; i < 2000; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	result(utf8_valid(big, 2000) && utf8_chars(big, 2000) == 1000,
	    "utf8_chars", "1000 two-byte characters in 2000 bytes");
	free(big);
}

/*
 * A slow decoder written straight from RFC 3629, to compare against:
 * 1 if the n bytes at p are valid UTF-8.
 */
static int
naive_valid(const uint8_t *p, size_t n)
{
	uint32_t	cp;
	size_t		len, i;

	while (n > 0) {
		if (p[0] < 0x80)
			len = 1, cp = p[0];
		else if (p[0] >= 0xC2 && p[0] <= 0xDF)
			len = 2, cp = p[0] & 0x1F;
		else if (p[0] >= 0xE0 && p[0] <= 0xEF)
			len = 3, cp = p[0] & 0x0F;
		else if (p[0] >= 0xF0 && p[0] <= 0xF4)
			len = 4, cp = p[0] & 0x07;
		else
			return 0;
		if (len > n)
			return 0;
		for (i = 1; i < len; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3F);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000))
			return 0;
		if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		p += len;
		n -= len;
	}
	return 1;
}

/* Every 1-, 2- and 3-byte string, and 4-byte ones around the edges. */
static void
test_exhaustive(void)
{
	static const uint8_t	edge[] = { 0x00, 0x7F, 0x80, 0x8F, 0x90,
				    0x9F, 0xA0, 0xBF, 0xC0, 0xFF };
	uint8_t			b[4];
	uint32_t		i;
	size_t			j, k, bad = 0;

	for (i = 0; i < 0x1000000; i++) {
		b[0] = i >> 16;
		b[1] = i >> 8;
		b[2] = i;
		if (utf8_valid(b, 3) != naive_valid(b, 3))
			bad++;
		if (i < 0x10000 && utf8_valid(b + 1, 2) != naive_valid(b + 1, 2))
			bad++;
		if (i < 0x100 && utf8_valid(b + 2, 1) != naive_valid(b + 2, 1))
			bad++;
	}
	for (i = 0xF0; i <= 0xFF; i++)
		for (j = 0; j < 256; j++)
			for (k = 0; k < sizeof(edge) * sizeof(edge); k++) {
				b[0] = i;
				b[1] = j;
				b[2] = edge[k % sizeof(edge)];
				b[3] = edge[k / sizeof(edge)];
				if (utf8_valid(b, 4) != naive_valid(b, 4))
					bad++;
			}
	if (bad != 0)
		printf("  %zu strings disagree\n", bad);
	result(bad == 0, "utf8_valid", "agrees with a naive decoder on "
	    "all 1- to 3-byte strings and 4-byte edges");
}

int
main(void)
{
	test_valid();
	test_exhaustive();
	test_sticky();
	test_chars();
	printf("test-utf8: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
