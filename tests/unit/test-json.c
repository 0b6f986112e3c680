/*
 * test-json.c - unit tests for common/json.c: writer escaping and commas,
 * ISO 8601 times both ways, strict parsing, unescaping, integer limits.
 * Every row says why it is there.  Exits non-zero if any case fails.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json.h"

/* Length of a table string: 0 means "use strlen", so rows can carry NULs. */
static size_t
rowlen(const char *s, size_t len)
{
	return len != 0 ? len : strlen(s);
}

/*
 * Writer: string escaping.
 */

static const struct {
	const char	*reason;
	const char	*in;
	size_t		 len;
	const char	*want;
} str_cases[] = {
	{ "plain ASCII passes", "hello", 0, "\"hello\"" },
	{ "empty string", "", 0, "\"\"" },
	{ "quote and backslash escaped", "a\"b\\c", 0, "\"a\\\"b\\\\c\"" },
	{ "short escapes for \\n \\t \\r \\b \\f", "\n\t\r\b\f", 0,
	    "\"\\n\\t\\r\\b\\f\"" },
	{ "other controls as \\u00XX", "\x01\x1f", 0, "\"\\u0001\\u001f\"" },
	{ "NUL inside the length is escaped", "a\0b", 3, "\"a\\u0000b\"" },
	{ "DEL and slash need no escape", "\x7f/", 0, "\"\x7f/\"" },
	{ "2-, 3- and 4-byte UTF-8 pass",
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 0,
	    "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"" },
	{ "U+2028 and U+2029 escaped for JavaScript",
	    "a\xe2\x80\xa8" "b\xe2\x80\xa9", 0, "\"a\\u2028b\\u2029\"" },
	{ "stray continuation byte replaced", "a\x80z", 0, "\"a\\ufffdz\"" },
	{ "truncated sequence replaced per byte", "\xe2\x82", 0,
	    "\"\\ufffd\\ufffd\"" },
	{ "overlong encoding replaced", "\xc0\xaf", 0, "\"\\ufffd\\ufffd\"" },
	{ "UTF-8 surrogate replaced", "\xed\xa0\x80", 0,
	    "\"\\ufffd\\ufffd\\ufffd\"" },
	{ "beyond U+10FFFF replaced", "\xf4\x90\x80\x80", 0,
	    "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
	{ "long run of safe bytes then escape",
	    "abcdefghijklmnopqrstuvwxyz0123456789\n", 0,
	    "\"abcdefghijklmnopqrstuvwxyz0123456789\\n\"" },
};

static void
test_str(void)
{
	struct jw	w;
	size_t		i;

	jw_init(&w);
	for (i = 0; i < sizeof(str_cases) / sizeof(str_cases[0]); i++) {
		jw_reset(&w);
		jw_str(&w, str_cases[i].in, rowlen(str_cases[i].in,
		    str_cases[i].len));
		check(!w.err && strcmp(w.buf, str_cases[i].want) == 0,
		    str_cases[i].reason, "got %s want %s",
		    w.buf ? w.buf : "(null)", str_cases[i].want);
	}
	jw_free(&w);
}

/* The escape of one ASCII byte as the writer must give it. */
static const char *
want_escape(unsigned char c, char buf[8])
{
	switch (c) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\n':
		return "\\n";
	case '\t':
		return "\\t";
	case '\r':
		return "\\r";
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	}
	if (c < 0x20) {
		snprintf(buf, 8, "\\u%04x", c);
		return buf;
	}
	buf[0] = (char)c;
	buf[1] = '\0';
	return buf;
}

/*
 * Every byte that needs an escape, and a non-ASCII one, at every position
 * of strings of 1 to 20 bytes: the writer scans eight bytes at a time, so
 * a special byte must be found whichever word and place it falls in.
 */
static void
test_str_positions(void)
{
	static const unsigned char	special[] = { '"', '\\', '\n', 0x01,
	    0x1f, 0x00, 0x7f, 0x20, 0xe9 };
	struct jw			w;
	char				in[24], want[64], esc[8];
	size_t				n, pos, k;
	int				bad = 0;

	jw_init(&w);
	for (k = 0; k < sizeof(special) && !bad; k++)
		for (n = 1; n <= 20 && !bad; n++)
			for (pos = 0; pos < n && !bad; pos++) {
				memset(in, 'a', n);
				in[pos] = (char)special[k];
				jw_reset(&w);
				jw_str(&w, in, n);
				if (special[k] == 0xe9)	/* lone byte: invalid */
					snprintf(esc, sizeof(esc), "\\ufffd");
				snprintf(want, sizeof(want), "\"%.*s%s%.*s\"",
				    (int)pos, in, special[k] == 0xe9 ? esc :
				    want_escape(special[k], esc),
				    (int)(n - pos - 1), in + pos + 1);
				bad = w.err || strcmp(w.buf, want) != 0;
			}
	check(!bad, "special byte found at any position", "byte 0x%02x at "
	    "%zu of %zu: got %s want %s", special[k - 1], pos - 1, n - 1,
	    w.buf ? w.buf : "(null)", want);
	jw_free(&w);
}

/* jw_plain_text() says yes exactly for the bytes a string keeps as
 * they are. */
static void
test_plain_text(void)
{
	char	s[2];
	int	c, want, bad = -1;

	for (c = 1; c < 256 && bad == -1; c++) {
		s[0] = (char)c;
		s[1] = '\0';
		want = c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
		if (jw_plain_text(s, 1) != want)
			bad = c;
	}
	check(bad == -1, "plain bytes are printable ASCII but quote and "
	    "backslash", "byte 0x%02x", bad);
	check(jw_plain_text("status_display", 14) &&
	    !jw_plain_text("a\"b", 3), "literal keys", "");
}

/*
 * Keys take a shorter path when they need no escaping; one that does, at
 * any position, or a long one, must come out the same as a string would.
 */
static void
test_key_positions(void)
{
	static const unsigned char	special[] = { '"', '\\', '\n', 0x01 };
	struct jw			w;
	char				key[80], want[200], esc[8];
	size_t				n, pos, k;
	int				bad = 0;

	jw_init(&w);
	for (k = 0; k < sizeof(special) && !bad; k++)
		for (n = 1; n <= 12 && !bad; n++)
			for (pos = 0; pos < n && !bad; pos++) {
				memset(key, 'k', n);
				key[n] = '\0';
				key[pos] = (char)special[k];
				jw_reset(&w);
				jw_obj_open(&w);
				jw_kint(&w, key, 1);
				jw_obj_close(&w);
				snprintf(want, sizeof(want), "{\"%.*s%s%s\":1}",
				    (int)pos, key, want_escape(special[k], esc),
				    key + pos + 1);
				bad = w.err || strcmp(w.buf, want) != 0 ||
				    strlen(w.buf) != w.len;
			}
	check(!bad, "escaped key at any position", "got %s want %s",
	    w.buf ? w.buf : "(null)", want);
	memset(key, 'x', 70);
	key[70] = '\0';
	jw_reset(&w);
	jw_obj_open(&w);
	jw_knull(&w, key);
	jw_obj_close(&w);
	snprintf(want, sizeof(want), "{\"%s\":null}", key);
	check(!w.err && strcmp(w.buf, want) == 0, "long plain key",
	    "got %s", w.buf ? w.buf : "(null)");
	jw_free(&w);
}

/*
 * Writer: shapes.  Each builder writes into a fresh writer.
 */

static void
b_empty_obj(struct jw *w)
{
	jw_obj_open(w);
	jw_obj_close(w);
}

static void
b_nested(struct jw *w)
{
	jw_obj_open(w);
	jw_key(w, "a");
	jw_arr_open(w);
	jw_int(w, 1);
	jw_int(w, 2);
	jw_obj_open(w);
	jw_knull(w, "b");
	jw_obj_close(w);
	jw_arr_close(w);
	jw_kbool(w, "c", 1);
	jw_obj_close(w);
}

static void
b_empty_arrays(struct jw *w)
{
	jw_arr_open(w);
	jw_arr_open(w);
	jw_arr_close(w);
	jw_arr_open(w);
	jw_arr_close(w);
	jw_arr_close(w);
}

static void
b_shorthands(struct jw *w)
{
	jw_obj_open(w);
	jw_kstr(w, "s", "x\"y", 3);
	jw_kcstr(w, "c", "z");
	jw_kcstr(w, "n", NULL);
	jw_kint(w, "i", -7);
	jw_kuint(w, "u", 7);
	jw_kbool(w, "f", 0);
	jw_ktime_ms(w, "t", 1735122600123LL);
	jw_ktime_ms(w, "z", 0);
	jw_obj_close(w);
}

static void
b_key_escaped(struct jw *w)
{
	jw_obj_open(w);
	jw_kint(w, "a\"b\n", 1);
	jw_obj_close(w);
}

static void
b_int_limits(struct jw *w)
{
	jw_arr_open(w);
	jw_int(w, INT64_MIN);
	jw_int(w, INT64_MAX);
	jw_int(w, 0);
	jw_uint(w, UINT64_MAX);
	jw_arr_close(w);
}

static void
b_doubles(struct jw *w)
{
	jw_arr_open(w);
	jw_double(w, 0.1);
	jw_double(w, 1.5);
	jw_double(w, 3.0);
	jw_double(w, -2.25);
	jw_double(w, 1e300);
	jw_double(w, NAN);
	jw_double(w, INFINITY);
	jw_arr_close(w);
}

static void
b_time_null(struct jw *w)
{
	jw_arr_open(w);
	jw_time_ms(w, 0);
	jw_time_ms(w, -5);
	jw_time_ms(w, 1);
	jw_arr_close(w);
}

static void
b_raw(struct jw *w)
{
	jw_obj_open(w);
	jw_key(w, "r");
	jw_raw(w, "{\"x\":[1]}", 9);
	jw_kint(w, "after", 2);
	jw_obj_close(w);
}

static void
b_reset_reuse(struct jw *w)
{
	jw_obj_open(w);
	jw_kcstr(w, "old", "value");
	jw_reset(w);
	jw_arr_open(w);
	jw_int(w, 1);
	jw_arr_close(w);
}

static void
b_close_underflow(struct jw *w)
{
	jw_obj_open(w);
	jw_obj_close(w);
	jw_obj_close(w);
}

static void
b_too_deep(struct jw *w)
{
	int	i;

	for (i = 0; i < JW_MAX_DEPTH + 1; i++)
		jw_arr_open(w);
}

static void
b_max_depth(struct jw *w)
{
	int	i;

	for (i = 0; i < JW_MAX_DEPTH; i++)
		jw_arr_open(w);
	jw_int(w, 1);
	jw_int(w, 2);
	for (i = 0; i < JW_MAX_DEPTH; i++)
		jw_arr_close(w);
}

/* Large enough to force several reallocations. */
static void
b_grow(struct jw *w)
{
	int	i;

	jw_arr_open(w);
	for (i = 0; i < 1000; i++)
		jw_cstr(w, "0123456789");
	jw_arr_close(w);
}

static const struct {
	const char	*reason;
	void		(*build)(struct jw *);
	int		 want_err;
	const char	*want;		/* NULL: check below */
} shape_cases[] = {
	{ "empty object", b_empty_obj, 0, "{}" },
	{ "commas at every depth, none after keys", b_nested, 0,
	    "{\"a\":[1,2,{\"b\":null}],\"c\":true}" },
	{ "empty arrays inside an array", b_empty_arrays, 0, "[[],[]]" },
	{ "every shorthand", b_shorthands, 0,
	    "{\"s\":\"x\\\"y\",\"c\":\"z\",\"n\":null,\"i\":-7,\"u\":7,"
	    "\"f\":false,\"t\":\"2024-12-25T10:30:00.123Z\",\"z\":null}" },
	{ "keys are escaped too", b_key_escaped, 0, "{\"a\\\"b\\n\":1}" },
	{ "int64 and uint64 limits", b_int_limits, 0,
	    "[-9223372036854775808,9223372036854775807,0,"
	    "18446744073709551615]" },
	{ "doubles shortest, non-finite null", b_doubles, 0,
	    "[0.1,1.5,3,-2.25,1e+300,null,null]" },
	{ "time <= 0 is null", b_time_null, 0,
	    "[null,null,\"1970-01-01T00:00:00.001Z\"]" },
	{ "raw value gets commas like any other", b_raw, 0,
	    "{\"r\":{\"x\":[1]},\"after\":2}" },
	{ "reset forgets content and commas", b_reset_reuse, 0, "[1]" },
	{ "closing more than opened fails", b_close_underflow, 1, NULL },
	{ "nesting past JW_MAX_DEPTH fails", b_too_deep, 1, NULL },
	{ "nesting to JW_MAX_DEPTH works", b_max_depth, 0, NULL },
	{ "buffer grows past initial size", b_grow, 0, NULL },
};

static void
test_shapes(void)
{
	struct jw	w;
	size_t		i;
	char		want[16384];
	size_t		n;
	int		k, ok;

	for (i = 0; i < sizeof(shape_cases) / sizeof(shape_cases[0]); i++) {
		jw_init(&w);
		shape_cases[i].build(&w);
		if (shape_cases[i].want_err)
			ok = w.err != 0;
		else if (shape_cases[i].want != NULL)
			ok = !w.err && strcmp(w.buf, shape_cases[i].want) == 0;
		else if (shape_cases[i].build == b_max_depth) {
			for (k = 0; k < JW_MAX_DEPTH; k++)
				want[k] = '[';
			memcpy(want + k, "1,2", 3);
			for (k = 0; k < JW_MAX_DEPTH; k++)
				want[JW_MAX_DEPTH + 3 + k] = ']';
			want[2 * JW_MAX_DEPTH + 3] = '\0';
			ok = !w.err && strcmp(w.buf, want) == 0;
		} else {
			/* [ + 1000 * (12 + comma) ] fits in want. */
			want[0] = '[';
			n = 1;
			for (k = 0; k < 1000; k++) {
				if (k)
					want[n++] = ',';
				memcpy(want + n, "\"0123456789\"", 12);
				n += 12;
			}
			memcpy(want + n, "]", 2);
			ok = !w.err && strcmp(w.buf, want) == 0 &&
			    w.len == strlen(want);
		}
		check(ok, shape_cases[i].reason, "err %d got %s", w.err,
		    w.buf ? w.buf : "(null)");
		jw_free(&w);
	}
}

/*
 * Times.
 */

static const struct {
	const char	*reason;
	int64_t		 ms;
	const char	*want;		/* "" = refused */
} time_cases[] = {
	{ "epoch", 0, "1970-01-01T00:00:00.000Z" },
	{ "one millisecond", 1, "1970-01-01T00:00:00.001Z" },
	{ "spec example with ms", 1735122600123LL, "2024-12-25T10:30:00.123Z" },
	{ "leap day, 400-year rule", 951782400000LL,
	    "2000-02-29T00:00:00.000Z" },
	{ "day after leap day", 951868800000LL, "2000-03-01T00:00:00.000Z" },
	{ "leap day 2024", 1709164800000LL, "2024-02-29T00:00:00.000Z" },
	{ "first leap day after epoch + 1", 68256000000LL,
	    "1972-03-01T00:00:00.000Z" },
	{ "2100 is not leap: Feb 28 end", 4107542399999LL,
	    "2100-02-28T23:59:59.999Z" },
	{ "2100 is not leap: then Mar 1", 4107542400000LL,
	    "2100-03-01T00:00:00.000Z" },
	{ "last ms of a year", 1704067199999LL, "2023-12-31T23:59:59.999Z" },
	{ "last four-digit year instant", 253402300799999LL,
	    "9999-12-31T23:59:59.999Z" },
	{ "year 10000 refused", 253402300800000LL, "" },
	{ "negative refused", -1, "" },
};

static void
test_time(void)
{
	char	out[32];
	size_t	i, k, n, ncase = sizeof(time_cases) / sizeof(time_cases[0]);

	/* Forwards, backwards, and each twice in a row: the writer keeps
	 * the last text, which must never answer for another instant. */
	for (k = 0; k < 4 * ncase; k++) {
		i = k < ncase ? k : k < 2 * ncase ? 2 * ncase - 1 - k :
		    (k - 2 * ncase) / 2;
		memset(out, 'X', sizeof(out));
		n = iso8601_ms(out, time_cases[i].ms);
		check(n == strlen(time_cases[i].want) &&
		    strcmp(out, time_cases[i].want) == 0, time_cases[i].reason,
		    "got \"%.31s\" (%zu) want \"%s\"", out, n,
		    time_cases[i].want);
	}
}

static const struct {
	const char	*reason;
	const char	*in;
	int		 rc;
	int64_t		 ms;
} tparse_cases[] = {
	{ "whole seconds with Z", "2024-12-25T10:30:00Z", 0, 1735122600000LL },
	{ "milliseconds", "2024-12-25T10:30:00.123Z", 0, 1735122600123LL },
	{ "one fraction digit is tenths", "2024-12-25T10:30:00.1Z", 0,
	    1735122600100LL },
	{ "microseconds truncated", "2024-12-25T10:30:00.123999Z", 0,
	    1735122600123LL },
	{ "+00:00 offset", "2024-12-25T10:30:00+00:00", 0, 1735122600000LL },
	{ "epoch", "1970-01-01T00:00:00Z", 0, 0 },
	{ "before epoch is negative", "1969-12-31T23:59:59.999Z", 0, -1 },
	{ "leap day 2000", "2000-02-29T00:00:00Z", 0, 951782400000LL },
	{ "Feb 29 in 2023 refused", "2023-02-29T00:00:00Z", -1, 0 },
	{ "Feb 29 in 2100 refused", "2100-02-29T00:00:00Z", -1, 0 },
	{ "Feb 30 refused", "2024-02-30T00:00:00Z", -1, 0 },
	{ "month 13 refused", "2024-13-01T00:00:00Z", -1, 0 },
	{ "hour 24 refused", "2024-12-25T24:00:00Z", -1, 0 },
	{ "leap second refused", "2024-12-31T23:59:60Z", -1, 0 },
	{ "other offset refused", "2024-12-25T10:30:00+01:00", -1, 0 },
	{ "no zone refused", "2024-12-25T10:30:00", -1, 0 },
	{ "lowercase z refused", "2024-12-25T10:30:00z", -1, 0 },
	{ "space for T refused", "2024-12-25 10:30:00Z", -1, 0 },
	{ "empty fraction refused", "2024-12-25T10:30:00.Z", -1, 0 },
	{ "trailing byte refused", "2024-12-25T10:30:00Z ", -1, 0 },
	{ "one-digit month refused", "2024-1-25T10:30:00Z", -1, 0 },
	{ "empty refused", "", -1, 0 },
};

static void
test_tparse(void)
{
	static const int64_t	rt[] = { 1, 999, 951782400000LL,
	    1735122600123LL, 4107542399999LL, 253402300799999LL };
	char			buf[32];
	int64_t			ms;
	size_t			i;
	int			rc, ok;

	for (i = 0; i < sizeof(tparse_cases) / sizeof(tparse_cases[0]); i++) {
		ms = 42;
		rc = iso8601_parse_ms(tparse_cases[i].in,
		    strlen(tparse_cases[i].in), &ms);
		ok = rc == tparse_cases[i].rc && (rc == 0 ?
		    ms == tparse_cases[i].ms : ms == 42);
		check(ok, tparse_cases[i].reason, "rc %d ms %lld", rc,
		    (long long)ms);
	}
	ok = 1;
	for (i = 0; i < sizeof(rt) / sizeof(rt[0]); i++)
		if (iso8601_ms(buf, rt[i]) == 0 ||
		    iso8601_parse_ms(buf, strlen(buf), &ms) == -1 ||
		    ms != rt[i])
			ok = 0;
	check(ok, "format then parse round-trips", "lost at %s", buf);
}

/*
 * Reader: what jdoc_parse accepts.
 */

static const struct {
	const char	*reason;
	const char	*in;
	size_t		 len;
	int		 rc;
} parse_cases[] = {
	{ "minimal object", "{\"a\":1}", 0, 0 },
	{ "empty object", "{}", 0, 0 },
	{ "white space around and inside", " \t\r\n{ \"a\" : [ 1 , 2 ] }\n", 0,
	    0 },
	{ "every value type", "{\"s\":\"x\",\"n\":-1.5e+3,\"t\":true,"
	    "\"f\":false,\"z\":null,\"o\":{},\"a\":[]}", 0, 0 },
	{ "number forms", "{\"a\":[0,-0,0.5,1E9,2e-1,10]}", 0, 0 },
	{ "escapes and raw UTF-8", "{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t"
	    "\\u00e9\xc3\xa9\"}", 0, 0 },
	{ "empty input", "", 0, -1 },
	{ "unclosed object", "{", 0, -1 },
	{ "top level array", "[]", 0, -1 },
	{ "top level string", "\"a\"", 0, -1 },
	{ "top level number", "1", 0, -1 },
	{ "missing value", "{\"a\":}", 0, -1 },
	{ "missing colon", "{\"a\" 1}", 0, -1 },
	{ "double colon", "{\"a\"::1}", 0, -1 },
	{ "trailing comma in object", "{\"a\":1,}", 0, -1 },
	{ "leading comma in object", "{,\"a\":1}", 0, -1 },
	{ "double comma", "{\"a\":1,,\"b\":2}", 0, -1 },
	{ "trailing comma in array", "{\"a\":[1,]}", 0, -1 },
	{ "missing comma in array", "{\"a\":[1 2]}", 0, -1 },
	{ "truncated word", "{\"a\":tru}", 0, -1 },
	{ "overlong word", "{\"a\":nulll}", 0, -1 },
	{ "capitalised word", "{\"a\":True}", 0, -1 },
	{ "bare word", "{\"a\":yes}", 0, -1 },
	{ "unquoted key", "{a:1}", 0, -1 },
	{ "number as key", "{1:1}", 0, -1 },
	{ "trailing garbage", "{\"a\":1} x", 0, -1 },
	{ "second object", "{\"a\":1}{}", 0, -1 },
	{ "extra close", "{\"a\":1}}", 0, -1 },
	{ "mismatched close", "{\"a\":[1}}", 0, -1 },
	{ "leading zero", "{\"a\":01}", 0, -1 },
	{ "dot without digits", "{\"a\":1.}", 0, -1 },
	{ "no integer part", "{\"a\":.5}", 0, -1 },
	{ "bare minus", "{\"a\":-}", 0, -1 },
	{ "empty exponent", "{\"a\":1e}", 0, -1 },
	{ "plus sign", "{\"a\":+1}", 0, -1 },
	{ "hex number", "{\"a\":0x1}", 0, -1 },
	{ "number glued to word", "{\"a\":1true}", 0, -1 },
	{ "raw tab in string", "{\"a\":\"x\ty\"}", 0, -1 },
	{ "raw newline in string", "{\"a\":\"x\ny\"}", 0, -1 },
	{ "invalid escape", "{\"a\":\"\\x41\"}", 0, -1 },
	{ "short \\u escape", "{\"a\":\"\\u12\"}", 0, -1 },
	{ "non-hex \\u escape", "{\"a\":\"\\u12G4\"}", 0, -1 },
	{ "unterminated string", "{\"a\":\"abc}", 0, -1 },
	{ "invalid UTF-8 byte", "{\"a\":\"\xff\"}", 0, -1 },
	{ "overlong UTF-8", "{\"a\":\"\xc0\xaf\"}", 0, -1 },
	{ "UTF-8 surrogate", "{\"a\":\"\xed\xa0\x80\"}", 0, -1 },
	{ "truncated UTF-8", "{\"a\":\"\xe2\x82\"}", 0, -1 },
	{ "NUL inside a string", "{\"a\":\"x\0y\"}", 10, -1 },
	{ "NUL after the object", "{\"a\":1}\0", 8, -1 },
	{ "single quotes", "{'a':1}", 0, -1 },
};

static void
test_parse(void)
{
	struct jdoc	d;
	size_t		i;
	int		rc;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		rc = jdoc_parse(&d, parse_cases[i].in,
		    rowlen(parse_cases[i].in, parse_cases[i].len));
		check(rc == parse_cases[i].rc, parse_cases[i].reason,
		    "rc %d want %d", rc, parse_cases[i].rc);
		if (rc == -1)
			check(jdoc_find(&d, "a") == -1,
			    "failed parse finds nothing", "%s",
			    parse_cases[i].reason);
	}
}

/* {"a":[0,0,...]} holds 3 + zeros tokens. */
static void
test_token_limit(void)
{
	struct jdoc	d;
	char		buf[1024];
	int		zeros, k, rc;
	size_t		n;

	for (zeros = JDOC_MAX_TOKENS - 3; zeros <= JDOC_MAX_TOKENS - 2;
	    zeros++) {
		n = 0;
		memcpy(buf, "{\"a\":[", 6);
		n = 6;
		for (k = 0; k < zeros; k++) {
			if (k)
				buf[n++] = ',';
			buf[n++] = '0';
		}
		memcpy(buf + n, "]}", 2);
		n += 2;
		rc = jdoc_parse(&d, buf, n);
		if (zeros + 3 <= JDOC_MAX_TOKENS)
			check(rc == 0 && d.ntok == JDOC_MAX_TOKENS,
			    "exactly JDOC_MAX_TOKENS tokens fit", "rc %d", rc);
		else
			check(rc == JDOC_TOO_BIG, "one token too many refused "
			    "as too big", "rc %d", rc);
	}
}

/*
 * Reader: finding top-level keys.
 */

static const struct {
	const char	*reason;
	const char	*in;
	const char	*key;
	enum jtype	 type;		/* JT_NONE: not found */
	const char	*raw;		/* raw text of the found value */
} find_cases[] = {
	{ "simple key", "{\"type\":\"message\"}", "type", JT_STRING,
	    "message" },
	{ "absent key", "{\"type\":1}", "typ", JT_NONE, NULL },
	{ "key prefix is not a match", "{\"typex\":1}", "type", JT_NONE, NULL },
	{ "nested key is not top level", "{\"x\":{\"type\":1}}", "type",
	    JT_NONE, NULL },
	{ "string value equal to key is not a key",
	    "{\"a\":[\"type\",\"b\"],\"b\":\"type\"}", "type", JT_NONE, NULL },
	{ "key after nested values",
	    "{\"x\":{\"y\":[1,{\"z\":2}]},\"type\":3}", "type", JT_NUMBER,
	    "3" },
	{ "last repeated key wins", "{\"a\":1,\"a\":true}", "a", JT_BOOL,
	    "true" },
	{ "escaped key matches", "{\"\\u0074ype\":null}", "type", JT_NULL,
	    "null" },
	{ "escaped key longer than target", "{\"typ\\u0065s\":1}", "type",
	    JT_NONE, NULL },
	{ "object value", "{\"o\":{\"k\":1}}", "o", JT_OBJECT, "{\"k\":1}" },
	{ "array value", "{\"l\":[1,2]}", "l", JT_ARRAY, "[1,2]" },
	{ "empty object has no keys", "{}", "a", JT_NONE, NULL },
};

static void
test_find(void)
{
	struct jdoc	d;
	size_t		i;
	int		idx, ok;

	for (i = 0; i < sizeof(find_cases) / sizeof(find_cases[0]); i++) {
		ok = jdoc_parse(&d, find_cases[i].in,
		    strlen(find_cases[i].in)) == 0;
		idx = ok ? jdoc_find(&d, find_cases[i].key) : -2;
		if (find_cases[i].type == JT_NONE)
			ok = ok && idx == -1;
		else
			ok = ok && jdoc_type(&d, idx) == find_cases[i].type &&
			    jdoc_raw_eq(&d, idx, find_cases[i].raw);
		check(ok, find_cases[i].reason, "idx %d", idx);
	}
}

/*
 * Reader: unescaping the string under key "s".
 */

static const struct {
	const char	*reason;
	const char	*in;
	size_t		 outsz;
	int		 rc;
	const char	*want;
} unesc_cases[] = {
	{ "plain", "{\"s\":\"abc\"}", 64, 0, "abc" },
	{ "empty", "{\"s\":\"\"}", 64, 0, "" },
	{ "simple escapes", "{\"s\":\"a\\nb\\t\\\"\\\\\\/\"}", 64, 0,
	    "a\nb\t\"\\/" },
	{ "two-byte \\u", "{\"s\":\"\\u00e9\"}", 64, 0, "\xc3\xa9" },
	{ "three-byte \\u", "{\"s\":\"\\u20AC\"}", 64, 0, "\xe2\x82\xac" },
	{ "U+2028 decodes", "{\"s\":\"\\u2028\"}", 64, 0, "\xe2\x80\xa8" },
	{ "surrogate pair to four bytes", "{\"s\":\"\\ud83d\\ude00\"}", 64, 0,
	    "\xf0\x9f\x98\x80" },
	{ "uppercase surrogate pair", "{\"s\":\"\\uD83D\\uDE00!\"}", 64, 0,
	    "\xf0\x9f\x98\x80!" },
	{ "raw UTF-8 kept", "{\"s\":\"\xf0\x9f\x98\x80\"}", 64, 0,
	    "\xf0\x9f\x98\x80" },
	{ "lone high surrogate", "{\"s\":\"\\ud83d\"}", 64, -1, NULL },
	{ "high surrogate then text", "{\"s\":\"\\ud83dx\"}", 64, -1, NULL },
	{ "lone low surrogate", "{\"s\":\"\\ude00\"}", 64, -1, NULL },
	{ "high then non-surrogate", "{\"s\":\"\\ud83d\\u0041\"}", 64, -1,
	    NULL },
	{ "two high surrogates", "{\"s\":\"\\ud83d\\ud83d\"}", 64, -1, NULL },
	{ "\\u0000 cannot be a C string", "{\"s\":\"a\\u0000b\"}", 64, -1,
	    NULL },
	{ "exact fit with NUL", "{\"s\":\"abcd\"}", 5, 0, "abcd" },
	{ "one byte short", "{\"s\":\"abcd\"}", 4, -1, NULL },
	{ "escaped text measured decoded", "{\"s\":\"\\u00e9\"}", 3, 0,
	    "\xc3\xa9" },
	{ "zero-size buffer", "{\"s\":\"\"}", 0, -1, NULL },
	{ "number is not a string", "{\"s\":12}", 64, -1, NULL },
	{ "null is not a string", "{\"s\":null}", 64, -1, NULL },
};

static void
test_unescape(void)
{
	struct jdoc	d;
	char		out[64], *dup;
	size_t		i, len, duplen;
	int		idx, rc, ok;

	for (i = 0; i < sizeof(unesc_cases) / sizeof(unesc_cases[0]); i++) {
		if (jdoc_parse(&d, unesc_cases[i].in,
		    strlen(unesc_cases[i].in)) == -1) {
			check(0, unesc_cases[i].reason, "parse failed");
			continue;
		}
		idx = jdoc_find(&d, "s");
		memset(out, 'X', sizeof(out));
		len = 999;
		rc = jdoc_str(&d, idx, out, unesc_cases[i].outsz, &len);
		if (unesc_cases[i].rc == 0)
			ok = rc == 0 && strcmp(out, unesc_cases[i].want) == 0 &&
			    len == strlen(unesc_cases[i].want);
		else
			ok = rc == -1 && out[0] == 'X' && len == 999;
		/* jdoc_strdup must agree, buffer size aside. */
		duplen = 999;
		dup = jdoc_strdup(&d, idx, &duplen);
		if (rc == 0)
			ok = ok && dup != NULL && duplen == len &&
			    memcmp(dup, out, len + 1) == 0;
		else if (unesc_cases[i].outsz == 64)
			ok = ok && dup == NULL && duplen == 999;
		free(dup);
		check(ok, unesc_cases[i].reason, "rc %d len %zu", rc, len);
	}
}

/*
 * Reader: numbers, booleans, raw comparison.
 */

static const struct {
	const char	*reason;
	const char	*in;
	int		 rc;
	int64_t		 want;
} int_cases[] = {
	{ "zero", "{\"n\":0}", 0, 0 },
	{ "negative zero", "{\"n\":-0}", 0, 0 },
	{ "positive", "{\"n\":123}", 0, 123 },
	{ "negative", "{\"n\":-123}", 0, -123 },
	{ "INT64_MAX", "{\"n\":9223372036854775807}", 0, INT64_MAX },
	{ "INT64_MAX + 1 overflows", "{\"n\":9223372036854775808}", -1, 0 },
	{ "INT64_MIN", "{\"n\":-9223372036854775808}", 0, INT64_MIN },
	{ "INT64_MIN - 1 overflows", "{\"n\":-9223372036854775809}", -1, 0 },
	{ "twenty digits overflow", "{\"n\":99999999999999999999}", -1, 0 },
	{ "fraction refused", "{\"n\":1.0}", -1, 0 },
	{ "exponent refused", "{\"n\":1e3}", -1, 0 },
	{ "numeric string refused", "{\"n\":\"1\"}", -1, 0 },
	{ "boolean refused", "{\"n\":true}", -1, 0 },
	{ "missing key refused", "{\"m\":1}", -1, 0 },
};

static void
test_int(void)
{
	struct jdoc	d;
	int64_t		v;
	size_t		i;
	int		rc;

	for (i = 0; i < sizeof(int_cases) / sizeof(int_cases[0]); i++) {
		v = 42;
		rc = jdoc_parse(&d, int_cases[i].in, strlen(int_cases[i].in));
		if (rc == 0)
			rc = jdoc_int64(&d, jdoc_find(&d, "n"), &v);
		check(rc == int_cases[i].rc && v == (rc == 0 ?
		    int_cases[i].want : 42), int_cases[i].reason,
		    "rc %d v %lld", rc, (long long)v);
	}
}

static void
test_misc(void)
{
	struct jdoc	 d;
	const char	*js = "{\"t\":true,\"f\":false,\"z\":null,\"n\":1,"
	    "\"type\":\"message\",\"e\":\"\\u006dessage\"}";
	int		 b, ok;

	ok = jdoc_parse(&d, js, strlen(js)) == 0;
	check(ok, "misc document parses", "");
	if (!ok)
		return;
	b = 5;
	check(jdoc_bool(&d, jdoc_find(&d, "t"), &b) == 0 && b == 1,
	    "bool true", "b %d", b);
	b = 5;
	check(jdoc_bool(&d, jdoc_find(&d, "f"), &b) == 0 && b == 0,
	    "bool false", "b %d", b);
	b = 5;
	check(jdoc_bool(&d, jdoc_find(&d, "z"), &b) == -1 && b == 5,
	    "null is not a bool", "b %d", b);
	check(jdoc_bool(&d, jdoc_find(&d, "n"), &b) == -1 && b == 5,
	    "number is not a bool", "b %d", b);
	check(jdoc_raw_eq(&d, jdoc_find(&d, "type"), "message") == 1,
	    "raw_eq matches plain string", "");
	check(jdoc_raw_eq(&d, jdoc_find(&d, "type"), "messag") == 0 &&
	    jdoc_raw_eq(&d, jdoc_find(&d, "type"), "messages") == 0,
	    "raw_eq needs the same length", "");
	check(jdoc_raw_eq(&d, jdoc_find(&d, "e"), "message") == 0,
	    "raw_eq does not unescape", "");
	check(jdoc_type(&d, -1) == JT_NONE &&
	    jdoc_type(&d, d.ntok) == JT_NONE && jdoc_raw_eq(&d, 999, "x") == 0,
	    "out-of-range index is nothing", "");
	check(jdoc_type(&d, 0) == JT_OBJECT, "token 0 is the document", "");
}

static void
test_fmt_u64(void)
{
	static const struct {
		uint64_t	 v;
		const char	*want;
	} cases[] = {
		{ 0, "0" }, { 7, "7" }, { 10, "10" }, { 1703419800, "1703419800" },
		{ UINT64_MAX, "18446744073709551615" },
	};
	char	 b[24], *p;
	size_t	 i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(b, 'x', sizeof(b));
		p = fmt_u64(b + sizeof(b), cases[i].v);
		n = b + sizeof(b) - p;
		check(n == strlen(cases[i].want) && memcmp(p, cases[i].want,
		    n) == 0 && (p == b || p[-1] == 'x'), "fmt_u64 digits",
		    "%s: got %.*s", cases[i].want, (int)n, p);
	}
}

int
main(void)
{
	test_fmt_u64();
	test_str();
	test_str_positions();
	test_key_positions();
	test_plain_text();
	test_shapes();
	test_time();
	test_tparse();
	test_parse();
	test_token_limit();
	test_find();
	test_unescape();
	test_int();
	test_misc();
	return check_report("test-json");
}
