/*
 * json.c - JSON writer and strict jsmn-based reader; see json.h.
 */

/* The jsmn implementation lives in this object only, as static functions.
 * It must come before json.h, which would otherwise pull in just the
 * declarations and close jsmn.h's include guard. */
#define JSMN_STATIC
#include <jsmn.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define JW_INITIAL_CAP	256

/* 9999-12-31T23:59:59.999Z: the last instant with a four-digit year. */
#define ISO8601_MAX_MS	INT64_C(253402300799999)
#define MS_PER_DAY	INT64_C(86400000)

static const char	hexdigit[] = "0123456789abcdef";

/*
 * Length of the UTF-8 sequence at s (1-4) with its code point in *cp_out,
 * or 0 if it is not a shortest-form encoding of a scalar value: overlong
 * forms, surrogates and anything above U+10FFFF are refused.
 */
static size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp_out)
{
	uint32_t	cp;
	size_t		len, i;

	if (s[0] < 0x80) {
		*cp_out = s[0];
		return 1;
	}
	if (s[0] < 0xc2)	/* stray continuation byte, or overlong */
		return 0;
	if (s[0] < 0xe0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_out = cp;
	return len;
}

static size_t
utf8_encode(uint32_t cp, unsigned char out[4])
{
	if (cp < 0x80) {
		out[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = 0xc0 | (cp >> 6);
		out[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = 0xe0 | (cp >> 12);
		out[1] = 0x80 | ((cp >> 6) & 0x3f);
		out[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	out[0] = 0xf0 | (cp >> 18);
	out[1] = 0x80 | ((cp >> 12) & 0x3f);
	out[2] = 0x80 | ((cp >> 6) & 0x3f);
	out[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/*
 * Writer.
 */

void
jw_init(struct jw *w)
{
	memset(w, 0, sizeof(*w));
}

void
jw_reset(struct jw *w)
{
	w->len = 0;
	w->depth = 0;
	w->comma = 0;
	w->err = 0;
	if (w->buf != NULL)
		w->buf[0] = '\0';
}

void
jw_free(struct jw *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

/* Make room for n more bytes and the trailing NUL.  Doubling keeps a
 * reused writer allocation-free once it has seen its largest message. */
static int
jw_grow(struct jw *w, size_t n)
{
	size_t	 need, ncap;
	char	*nbuf;

	if (w->err)
		return -1;
	if (n > SIZE_MAX - 1 - w->len) {
		w->err = 1;
		return -1;
	}
	need = w->len + n + 1;
	if (need <= w->cap)
		return 0;
	ncap = w->cap != 0 ? w->cap : JW_INITIAL_CAP;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2) {
			ncap = need;
			break;
		}
		ncap *= 2;
	}
	if ((nbuf = realloc(w->buf, ncap)) == NULL) {
		w->err = 1;
		return -1;
	}
	w->buf = nbuf;
	w->cap = ncap;
	return 0;
}

/*
 * Room for n more bytes and the NUL: 0, or -1 once the writer has failed.
 * Inline, since it runs for every token written and nearly always finds
 * the room there already; only growing is out of line.  cap is never
 * below len + 1 once allocated, and both are 0 before.
 */
static inline int
jw_room(struct jw *w, size_t n)
{
	if (!w->err && n < w->cap - w->len)
		return 0;
	return jw_grow(w, n);
}

void
jw_reserve(struct jw *w, size_t n)
{
	(void)jw_room(w, n);	/* a failure sets err */
}

static inline void
jw_put(struct jw *w, const char *s, size_t n)
{
	if (n == 0 || jw_room(w, n) == -1)
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static inline void
jw_putc(struct jw *w, char c)
{
	if (jw_room(w, 1) == -1)
		return;
	w->buf[w->len++] = c;
	w->buf[w->len] = '\0';
}

/*
 * Called before every value and key: writes the separating comma if this
 * level already holds something, and records that the next one will need
 * a comma.  -1 if the writer has failed.
 */
static inline int
jw_begin(struct jw *w)
{
	uint64_t	bit;

	if (w->err)
		return -1;
	bit = UINT64_C(1) << w->depth;
	if (w->comma & bit)
		jw_putc(w, ',');
	w->comma |= bit;
	return w->err ? -1 : 0;
}

static void
jw_open(struct jw *w, char c)
{
	if (w->err)
		return;
	if (w->depth >= JW_MAX_DEPTH) {
		w->err = 1;
		return;
	}
	if (jw_begin(w) == -1)
		return;
	jw_putc(w, c);
	w->depth++;
	w->comma &= ~(UINT64_C(1) << w->depth);
}

static void
jw_close(struct jw *w, char c)
{
	if (w->err)
		return;
	if (w->depth == 0) {
		w->err = 1;
		return;
	}
	w->depth--;
	jw_putc(w, c);
}

void
jw_obj_open(struct jw *w)
{
	jw_open(w, '{');
}

void
jw_obj_close(struct jw *w)
{
	jw_close(w, '}');
}

void
jw_arr_open(struct jw *w)
{
	jw_open(w, '[');
}

void
jw_arr_close(struct jw *w)
{
	jw_close(w, ']');
}

/* Write the escape for one byte that may not appear raw in a string. */
static void
jw_escape_ctl(struct jw *w, unsigned char c)
{
	char	esc[6] = { '\\', 'u', '0', '0', 0, 0 };

	switch (c) {
	case '"':
		jw_put(w, "\\\"", 2);
		return;
	case '\\':
		jw_put(w, "\\\\", 2);
		return;
	case '\n':
		jw_put(w, "\\n", 2);
		return;
	case '\t':
		jw_put(w, "\\t", 2);
		return;
	case '\r':
		jw_put(w, "\\r", 2);
		return;
	case '\b':
		jw_put(w, "\\b", 2);
		return;
	case '\f':
		jw_put(w, "\\f", 2);
		return;
	}
	esc[4] = hexdigit[c >> 4];
	esc[5] = hexdigit[c & 0xf];
	jw_put(w, esc, sizeof(esc));
}

/* 1 for the bytes a JSON string holds as they are: printable ASCII
 * but '"' (0x22) and '\\' (0x5c). */
static const unsigned char	plain_byte[256] = {
	[0x20 ... 0x21] = 1,
	[0x23 ... 0x5b] = 1,
	[0x5d ... 0x7f] = 1,
};

#define BYTES(c)	(UINT64_C(0x0101010101010101) * (c))
#define HIGH_BITS	BYTES(0x80)

/*
 * How many bytes at the start of s JSON takes as they are: printable
 * ASCII other than '"' and '\\'.  Eight at a time while none of the
 * eight is special (the classic "has a zero / smaller byte" word tricks,
 * exact as yes-or-no answers), then byte by byte.
 */
static size_t
plain_run(const unsigned char *s, size_t n)
{
	uint64_t	w, q, b;
	size_t		i = 0;

	for (; n - i >= 8; i += 8) {
		memcpy(&w, s + i, 8);
		q = w ^ BYTES('"');
		b = w ^ BYTES('\\');
		if (((w - BYTES(0x20)) & ~w & HIGH_BITS) != 0 ||
		    ((q - BYTES(1)) & ~q & HIGH_BITS) != 0 ||
		    ((b - BYTES(1)) & ~b & HIGH_BITS) != 0 ||
		    (w & HIGH_BITS) != 0)
			break;
	}
	while (i < n && plain_byte[s[i]])
		i++;
	return i;
}

/*
 * Quote and escape s.  Runs of bytes that need no escaping are copied with
 * one memcpy.  U+2028 and U+2029 are escaped because they end a line in
 * older JavaScript.  Invalid UTF-8 becomes U+FFFD, one per bad byte, so the
 * output is always valid whatever a caller passes in.
 */
static void
jw_quote(struct jw *w, const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, run = 0, len;
	uint32_t		 cp = 0;

	/* Most strings need no escapes: one reservation covers them. */
	if (n < SIZE_MAX - 2 && jw_room(w, n + 2) == -1)
		return;
	jw_putc(w, '"');
	while (i < n) {
		if ((i += plain_run(p + i, n - i)) == n)
			break;
		len = 1;
		if (p[i] >= 0x80) {
			len = utf8_decode(p + i, n - i, &cp);
			if (len != 0 && cp != 0x2028 && cp != 0x2029) {
				i += len;
				continue;
			}
		}
		jw_put(w, s + run, i - run);
		if (p[i] < 0x80)
			jw_escape_ctl(w, p[i]);
		else if (len == 0) {
			jw_put(w, "\\ufffd", 6);
			len = 1;
		} else if (cp == 0x2028)
			jw_put(w, "\\u2028", 6);
		else
			jw_put(w, "\\u2029", 6);
		i += len;
		run = i;
	}
	jw_put(w, s + run, i - run);
	jw_putc(w, '"');
}

/*
 * Write "key": for a key of n bytes that needs no escaping, copying and
 * checking in one pass; 0, or -1 (nothing written) for any other key.
 * Keys are short literals: a writer call per byte run, a strlen and a
 * memcpy call each were most of their cost.
 */
static int
jw_plain_key(struct jw *w, const char *key, size_t n)
{
	const unsigned char	*k = (const unsigned char *)key;
	char			*o;
	size_t			 i;

	if (jw_room(w, n + 3) == -1)
		return -1;
	o = w->buf + w->len;
	/* o[0] is the NUL at len: it stays until the key is known good. */
	for (i = 0; i < n; i++) {
		if (!plain_byte[k[i]])
			return -1;
		o[i + 1] = (char)k[i];
	}
	o[0] = '"';
	o[n + 1] = '"';
	o[n + 2] = ':';
	o[n + 3] = '\0';
	w->len += n + 3;
	return 0;
}

void
jw_key_plain(struct jw *w, const char *key, size_t n)
{
	char	*o;

	if (jw_begin(w) == -1 || jw_room(w, n + 3) == -1)
		return;
	o = w->buf + w->len;
	o[0] = '"';
	memcpy(o + 1, key, n);
	o[n + 1] = '"';
	o[n + 2] = ':';
	o[n + 3] = '\0';
	w->len += n + 3;
	/* The value that follows belongs to this key: no comma before it. */
	w->comma &= ~(UINT64_C(1) << w->depth);
}

void
jw_key_n(struct jw *w, const char *key, size_t n)
{
	if (jw_begin(w) == -1)
		return;
	if (jw_plain_key(w, key, n) == -1) {
		jw_quote(w, key, n);
		jw_putc(w, ':');
	}
	/* The value that follows belongs to this key: no comma before it. */
	w->comma &= ~(UINT64_C(1) << w->depth);
}

void
jw_null(struct jw *w)
{
	if (jw_begin(w) == -1)
		return;
	jw_put(w, "null", 4);
}

void
jw_str(struct jw *w, const char *s, size_t n)
{
	if (s == NULL) {
		jw_null(w);
		return;
	}
	if (jw_begin(w) == -1)
		return;
	jw_quote(w, s, n);
}

void
jw_cstr(struct jw *w, const char *s)
{
	jw_str(w, s, s != NULL ? strlen(s) : 0);
}

char *
fmt_u64(char *end, uint64_t v)
{
	do {
		*--end = '0' + v % 10;
		v /= 10;
	} while (v != 0);
	return end;
}

void
jw_uint(struct jw *w, uint64_t v)
{
	char	 b[20], *p;

	if (jw_begin(w) == -1)
		return;
	p = fmt_u64(b + sizeof(b), v);
	jw_put(w, p, b + sizeof(b) - p);
}

void
jw_int(struct jw *w, int64_t v)
{
	char	 b[21], *p;

	if (jw_begin(w) == -1)
		return;
	/* Negate in unsigned arithmetic: -INT64_MIN does not fit. */
	p = fmt_u64(b + sizeof(b), v < 0 ? UINT64_C(0) - (uint64_t)v :
	    (uint64_t)v);
	if (v < 0)
		*--p = '-';
	jw_put(w, p, b + sizeof(b) - p);
}

void
jw_bool(struct jw *w, int v)
{
	if (jw_begin(w) == -1)
		return;
	if (v)
		jw_put(w, "true", 4);
	else
		jw_put(w, "false", 5);
}

void
jw_raw(struct jw *w, const char *json, size_t n)
{
	if (jw_begin(w) == -1)
		return;
	jw_put(w, json, n);
}

/*
 * Shortest of %.15g and %.17g that reads back as the same double, so 0.1
 * prints as 0.1, not 0.10000000000000001.  %g never yields a form JSON
 * refuses except in a locale with a decimal comma, which is undone here.
 */
void
jw_double(struct jw *w, double v)
{
	char	b[32];
	int	n;
	size_t	i;

	if (!isfinite(v)) {
		jw_null(w);
		return;
	}
	if (jw_begin(w) == -1)
		return;
	n = snprintf(b, sizeof(b), "%.15g", v);
	if (n > 0 && (size_t)n < sizeof(b) && strtod(b, NULL) != v)
		n = snprintf(b, sizeof(b), "%.17g", v);
	if (n <= 0 || (size_t)n >= sizeof(b)) {
		w->err = 1;
		return;
	}
	for (i = 0; i < (size_t)n; i++)
		if (b[i] == ',')
			b[i] = '.';
	jw_put(w, b, n);
}

void
jw_time_ms(struct jw *w, int64_t ms)
{
	char	b[32];
	size_t	n;

	if (ms <= 0 || (n = iso8601_ms(b, ms)) == 0) {
		jw_null(w);
		return;
	}
	if (jw_begin(w) == -1 || jw_room(w, n + 2) == -1)
		return;
	w->buf[w->len] = '"';
	memcpy(w->buf + w->len + 1, b, n);
	w->buf[w->len + n + 1] = '"';
	w->len += n + 2;
	w->buf[w->len] = '\0';
}

/*
 * Time.  Calendar arithmetic is done here instead of with gmtime_r(): it is
 * a few integer operations and does not depend on TZ.  Proleptic Gregorian calendar, with
 * years counted from March so that the leap day falls at the end.
 */

static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;				/* 0..399 */
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;	/* 0..365 */
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;	/* 0..146096 */
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y_out, int *m_out, int *d_out)
{
	int64_t	era, doe, yoe, doy, mp;

	z += 719468;			/* count from 0000-03-01 */
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;	/* 0 = March */
	*d_out = doy - (153 * mp + 2) / 5 + 1;
	*m_out = mp < 10 ? mp + 3 : mp - 9;
	*y_out = yoe + era * 400 + (*m_out <= 2);
}

/* Zero-padded decimal of v in exactly width digits at p. */
static void
put_digits(char *p, unsigned int v, int width)
{
	while (width-- > 0) {
		p[width] = '0' + v % 10;
		v /= 10;
	}
}

/* "YYYY-MM-DD" of day z (days since the epoch) at out. */
static void
put_date(char *out, int64_t z)
{
	/* The times of one answer nearly all fall on one day: the last
	 * day's text saves the calendar arithmetic. */
	static int64_t	last_day = -1;
	static char	last_text[10];
	int64_t		y;
	int		m, d;

	if (z != last_day) {
		civil_from_days(z, &y, &m, &d);
		put_digits(last_text, y, 4);
		last_text[4] = '-';
		put_digits(last_text + 5, m, 2);
		last_text[7] = '-';
		put_digits(last_text + 8, d, 2);
		last_day = z;
	}
	memcpy(out, last_text, sizeof(last_text));
}

/* Two decimal digits of v (0-99) at p. */
static void
put2(char *p, unsigned int v)
{
	p[0] = '0' + v / 10;
	p[1] = '0' + v % 10;
}

size_t
iso8601_ms(char out[32], int64_t ms)
{
	/* A message's sent, created and updated times are often the same
	 * instant: the last text is kept whole. */
	static int64_t	last_ms = -1;
	static char	last_text[25];
	unsigned int	rem;

	if (ms < 0 || ms > ISO8601_MAX_MS) {
		out[0] = '\0';
		return 0;
	}
	if (ms != last_ms) {
		put_date(last_text, ms / MS_PER_DAY);
		rem = (unsigned int)(ms % MS_PER_DAY);
		last_text[10] = 'T';
		put2(last_text + 11, rem / 3600000);
		last_text[13] = ':';
		put2(last_text + 14, rem / 60000 % 60);
		last_text[16] = ':';
		put2(last_text + 17, rem / 1000 % 60);
		last_text[19] = '.';
		put_digits(last_text + 20, rem % 1000, 3);
		last_text[23] = 'Z';
		last_text[24] = '\0';
		last_ms = ms;
	}
	memcpy(out, last_text, sizeof(last_text));
	return 24;
}

/* Exactly width decimal digits at s into *out; -1 on anything else. */
static int
get_digits(const char *s, int width, int *out)
{
	int	v = 0;

	while (width-- > 0) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	*out = v;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int	mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return mdays[m - 1];
}

int
iso8601_parse_ms(const char *s, size_t n, int64_t *out)
{
	int	y, mo, d, h, mi, sec, frac = 0, fdigits = 0;
	size_t	i;

	/* "YYYY-MM-DDTHH:MM:SS" and at least the "Z". */
	if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	if (get_digits(s, 4, &y) == -1 || get_digits(s + 5, 2, &mo) == -1 ||
	    get_digits(s + 8, 2, &d) == -1 || get_digits(s + 11, 2, &h) == -1 ||
	    get_digits(s + 14, 2, &mi) == -1 ||
	    get_digits(s + 17, 2, &sec) == -1)
		return -1;
	/* No leap seconds: nothing we produce or store has them. */
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
	    h > 23 || mi > 59 || sec > 59)
		return -1;
	i = 19;
	if (s[i] == '.') {
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			if (fdigits < 3) {
				frac = frac * 10 + (s[i] - '0');
				fdigits++;
			}
		if (i == 20)
			return -1;
		for (; fdigits < 3; fdigits++)
			frac *= 10;
	}
	if (!((n - i == 1 && s[i] == 'Z') ||
	    (n - i == 6 && memcmp(s + i, "+00:00", 6) == 0)))
		return -1;
	*out = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec;
	*out = *out * 1000 + frac;
	return 0;
}

/*
 * Reader.  jsmn in non-strict mode accepts a lot that is not JSON ("{"a" 1}",
 * trailing commas, bare words, garbage after the object), and its strict
 * mode still misses some of it.  So the text is first checked against the
 * RFC 8259 grammar here, counting tokens the way jsmn does; jsmn only runs
 * on text already known to be good, which it tokenises correctly.
 */

struct jscan {
	const unsigned char	*p;
	const unsigned char	*end;
	int			 ntok;
	int			 too_many;	/* stopped at the token limit */
};

static int	scan_value(struct jscan *);

static void
scan_ws(struct jscan *sc)
{
	while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' ||
	    *sc->p == '\n' || *sc->p == '\r'))
		sc->p++;
}

/* Every token costs one slot.  Nesting needs a token per level, so this
 * limit also bounds the recursion depth of the scanner. */
static int
scan_token(struct jscan *sc)
{
	if (++sc->ntok > JDOC_MAX_TOKENS) {
		sc->too_many = 1;
		return -1;
	}
	return 0;
}

static int
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* A string from its opening quote: valid escapes, no raw control
 * characters, valid UTF-8.  What the escapes encode is checked only when
 * the string is unescaped. */
static int
scan_string(struct jscan *sc)
{
	uint32_t	cp;
	size_t		len;
	int		i;

	if (scan_token(sc) == -1)
		return -1;
	sc->p++;
	while (sc->p < sc->end) {
		if (*sc->p == '"') {
			sc->p++;
			return 0;
		}
		if (*sc->p == '\\') {
			if (sc->end - sc->p < 2)
				return -1;
			switch (sc->p[1]) {
			case '"': case '\\': case '/': case 'b':
			case 'f': case 'n': case 'r': case 't':
				sc->p += 2;
				continue;
			case 'u':
				if (sc->end - sc->p < 6)
					return -1;
				for (i = 2; i < 6; i++)
					if (!is_hex(sc->p[i]))
						return -1;
				sc->p += 6;
				continue;
			default:
				return -1;
			}
		}
		if (*sc->p < 0x20)
			return -1;
		if ((len = utf8_decode(sc->p, sc->end - sc->p, &cp)) == 0)
			return -1;
		sc->p += len;
	}
	return -1;
}

static int
scan_digits(struct jscan *sc)
{
	const unsigned char	*start = sc->p;

	while (sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9')
		sc->p++;
	return sc->p == start ? -1 : 0;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?  What follows is up to the
 * caller, which wants a separator: that is how "01" and "1x" fail. */
static int
scan_number(struct jscan *sc)
{
	if (scan_token(sc) == -1)
		return -1;
	if (*sc->p == '-')
		sc->p++;
	if (sc->p < sc->end && *sc->p == '0')
		sc->p++;
	else if (scan_digits(sc) == -1)
		return -1;
	if (sc->p < sc->end && *sc->p == '.') {
		sc->p++;
		if (scan_digits(sc) == -1)
			return -1;
	}
	if (sc->p < sc->end && (*sc->p == 'e' || *sc->p == 'E')) {
		sc->p++;
		if (sc->p < sc->end && (*sc->p == '+' || *sc->p == '-'))
			sc->p++;
		if (scan_digits(sc) == -1)
			return -1;
	}
	return 0;
}

static int
scan_word(struct jscan *sc, const char *word)
{
	size_t	len = strlen(word);

	if (scan_token(sc) == -1)
		return -1;
	if ((size_t)(sc->end - sc->p) < len || memcmp(sc->p, word, len) != 0)
		return -1;
	sc->p += len;
	return 0;
}

/* Expect c after optional white space, and step over it. */
static int
scan_expect(struct jscan *sc, unsigned char c)
{
	scan_ws(sc);
	if (sc->p == sc->end || *sc->p != c)
		return -1;
	sc->p++;
	return 0;
}

static int
scan_object(struct jscan *sc)
{
	if (scan_token(sc) == -1)
		return -1;
	sc->p++;
	scan_ws(sc);
	if (sc->p < sc->end && *sc->p == '}') {
		sc->p++;
		return 0;
	}
	for (;;) {
		scan_ws(sc);
		if (sc->p == sc->end || *sc->p != '"')
			return -1;
		if (scan_string(sc) == -1 || scan_expect(sc, ':') == -1 ||
		    scan_value(sc) == -1)
			return -1;
		scan_ws(sc);
		if (sc->p == sc->end)
			return -1;
		if (*sc->p == '}') {
			sc->p++;
			return 0;
		}
		if (*sc->p++ != ',')
			return -1;
	}
}

static int
scan_array(struct jscan *sc)
{
	if (scan_token(sc) == -1)
		return -1;
	sc->p++;
	scan_ws(sc);
	if (sc->p < sc->end && *sc->p == ']') {
		sc->p++;
		return 0;
	}
	for (;;) {
		if (scan_value(sc) == -1)
			return -1;
		scan_ws(sc);
		if (sc->p == sc->end)
			return -1;
		if (*sc->p == ']') {
			sc->p++;
			return 0;
		}
		if (*sc->p++ != ',')
			return -1;
	}
}

static int
scan_value(struct jscan *sc)
{
	scan_ws(sc);
	if (sc->p == sc->end)
		return -1;
	switch (*sc->p) {
	case '{':
		return scan_object(sc);
	case '[':
		return scan_array(sc);
	case '"':
		return scan_string(sc);
	case 't':
		return scan_word(sc, "true");
	case 'f':
		return scan_word(sc, "false");
	case 'n':
		return scan_word(sc, "null");
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return scan_number(sc);
	default:
		return -1;
	}
}

/* The whole text is one object, white space around it allowed.  A NUL
 * anywhere fails here, which matters: jsmn would stop at it. */
static int
scan_document(const char *js, size_t len, int *ntok_out)
{
	struct jscan	sc;

	sc.p = (const unsigned char *)js;
	sc.end = sc.p + len;
	sc.ntok = 0;
	sc.too_many = 0;
	scan_ws(&sc);
	if (sc.p == sc.end || *sc.p != '{')
		return -1;
	if (scan_object(&sc) == -1)
		return sc.too_many ? JDOC_TOO_BIG : -1;
	scan_ws(&sc);
	if (sc.p != sc.end)
		return -1;
	*ntok_out = sc.ntok;
	return 0;
}

int
jdoc_parse(struct jdoc *d, const char *js, size_t len)
{
	jsmn_parser	p;
	int		ntok, r;

	d->js = js;
	d->len = len;
	d->ntok = 0;
	/* jsmn keeps offsets in int. */
	if (js == NULL || len > INT_MAX)
		return -1;
	if ((r = scan_document(js, len, &ntok)) != 0)
		return r;
	jsmn_init(&p);
	r = jsmn_parse(&p, js, len, d->tok, JDOC_MAX_TOKENS);
	/* Disagreement means the scanner or jsmn is wrong: refuse rather
	 * than hand out a tree nobody checked. */
	if (r != ntok || d->tok[0].type != JSMN_OBJECT)
		return -1;
	d->ntok = r;
	return 0;
}

static const jsmntok_t *
jdoc_tok(const struct jdoc *d, int idx)
{
	if (idx < 0 || idx >= d->ntok)
		return NULL;
	return &d->tok[idx];
}

/* Index of the token after idx and everything nested in it.  Children lie
 * within their parent's byte range, so no parent links are needed. */
static int
jdoc_skip(const struct jdoc *d, int idx)
{
	int	end = d->tok[idx].end;

	for (idx++; idx < d->ntok && d->tok[idx].start < end; idx++)
		;
	return idx;
}

static int
hex4(const char *s)
{
	int	v = 0, i;

	for (i = 0; i < 4; i++) {
		if (!is_hex(s[i]))
			return -1;
		v = v * 16 + (s[i] <= '9' ? s[i] - '0' : (s[i] | 0x20) - 'a' +
		    10);
	}
	return v;
}

/*
 * Decode the escape at *pp (a backslash) into UTF-8 in out, advance *pp
 * past it and return the byte count, or -1 for a lone or reversed
 * surrogate, for U+0000 (a C string cannot hold it) and for malformed
 * escapes.
 */
static int
jstr_escape(const char **pp, const char *end, unsigned char out[4])
{
	const char	*p = *pp;
	int		 cp, lo;

	if (end - p < 2)
		return -1;
	switch (p[1]) {
	case '"': case '\\': case '/':
		out[0] = p[1];
		break;
	case 'b':
		out[0] = '\b';
		break;
	case 'f':
		out[0] = '\f';
		break;
	case 'n':
		out[0] = '\n';
		break;
	case 'r':
		out[0] = '\r';
		break;
	case 't':
		out[0] = '\t';
		break;
	case 'u':
		if (end - p < 6 || (cp = hex4(p + 2)) == -1 || cp == 0 ||
		    (cp >= 0xdc00 && cp <= 0xdfff))
			return -1;
		p += 6;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
			    (lo = hex4(p + 2)) == -1 || lo < 0xdc00 ||
			    lo > 0xdfff)
				return -1;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			p += 6;
		}
		*pp = p;
		return utf8_encode(cp, out);
	default:
		return -1;
	}
	*pp = p + 2;
	return 1;
}

/*
 * Unescape s[0..n) into out, or with out NULL only measure.  Raw bytes
 * are copied as they are: jdoc_parse() already checked them as UTF-8.
 */
static int
jstr_unescape(const char *s, size_t n, char *out, size_t *len_out)
{
	const char	*p = s, *end = s + n, *bs;
	unsigned char	 u8[4];
	size_t		 len = 0, run;
	int		 m;

	while (p < end) {
		if ((bs = memchr(p, '\\', end - p)) == NULL)
			bs = end;
		run = bs - p;
		if (out != NULL && run != 0)
			memcpy(out + len, p, run);
		len += run;
		p = bs;
		if (p == end)
			break;
		if ((m = jstr_escape(&p, end, u8)) == -1)
			return -1;
		if (out != NULL)
			memcpy(out + len, u8, m);
		len += m;
	}
	*len_out = len;
	return 0;
}

/* Does string token idx unescape to exactly key[0..klen)? */
static int
jstr_equals(const struct jdoc *d, int idx, const char *key, size_t klen)
{
	const char	*p = d->js + d->tok[idx].start;
	const char	*end = d->js + d->tok[idx].end;
	unsigned char	 u8[4];
	size_t		 k = 0;
	int		 m;

	if (memchr(p, '\\', end - p) == NULL)
		return (size_t)(end - p) == klen && memcmp(p, key, klen) == 0;
	while (p < end) {
		if (*p != '\\') {
			if (k == klen || *p++ != key[k++])
				return 0;
			continue;
		}
		if ((m = jstr_escape(&p, end, u8)) == -1 ||
		    (size_t)m > klen - k || memcmp(u8, key + k, m) != 0)
			return 0;
		k += m;
	}
	return k == klen;
}

/* O(tokens): members are walked in order, skipping nested values. */
int
jdoc_find(const struct jdoc *d, const char *key)
{
	size_t	klen = strlen(key);
	int	i, found = -1;

	for (i = 1; i + 1 < d->ntok; i = jdoc_skip(d, i + 1))
		if (jstr_equals(d, i, key, klen))
			found = i + 1;
	return found;
}

enum jtype
jdoc_type(const struct jdoc *d, int idx)
{
	const jsmntok_t	*t;

	if ((t = jdoc_tok(d, idx)) == NULL)
		return JT_NONE;
	switch (t->type) {
	case JSMN_OBJECT:
		return JT_OBJECT;
	case JSMN_ARRAY:
		return JT_ARRAY;
	case JSMN_STRING:
		return JT_STRING;
	case JSMN_PRIMITIVE:
		switch (d->js[t->start]) {
		case 't':
		case 'f':
			return JT_BOOL;
		case 'n':
			return JT_NULL;
		default:
			return JT_NUMBER;
		}
	default:
		return JT_NONE;
	}
}

int
jdoc_str(const struct jdoc *d, int idx, char *out, size_t outsz,
    size_t *len_out)
{
	const char	*s;
	size_t		 n, len;

	if (jdoc_type(d, idx) != JT_STRING)
		return -1;
	s = d->js + d->tok[idx].start;
	n = d->tok[idx].end - d->tok[idx].start;
	/* Measure first so that a failure leaves out untouched. */
	if (jstr_unescape(s, n, NULL, &len) == -1 || len >= outsz)
		return -1;
	if (jstr_unescape(s, n, out, &len) == -1)
		return -1;
	out[len] = '\0';
	if (len_out != NULL)
		*len_out = len;
	return 0;
}

char *
jdoc_strdup(const struct jdoc *d, int idx, size_t *len_out)
{
	const char	*s;
	char		*out;
	size_t		 n, len;

	if (jdoc_type(d, idx) != JT_STRING)
		return NULL;
	s = d->js + d->tok[idx].start;
	n = d->tok[idx].end - d->tok[idx].start;
	if (jstr_unescape(s, n, NULL, &len) == -1)
		return NULL;
	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	if (jstr_unescape(s, n, out, &len) == -1) {
		free(out);
		return NULL;
	}
	out[len] = '\0';
	if (len_out != NULL)
		*len_out = len;
	return out;
}

int
jdoc_int64(const struct jdoc *d, int idx, int64_t *out)
{
	const char	*p, *end;
	uint64_t	 v = 0, limit = INT64_MAX;
	int		 neg = 0, digit;

	if (jdoc_type(d, idx) != JT_NUMBER)
		return -1;
	p = d->js + d->tok[idx].start;
	end = d->js + d->tok[idx].end;
	if (*p == '-') {
		neg = 1;
		limit = (uint64_t)INT64_MAX + 1;
		p++;
	}
	if (p == end)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;	/* fraction or exponent */
		digit = *p - '0';
		if (v > (limit - digit) / 10)
			return -1;
		v = v * 10 + digit;
	}
	if (!neg)
		*out = (int64_t)v;
	else if (v == limit)
		*out = INT64_MIN;
	else
		*out = -(int64_t)v;
	return 0;
}

int
jdoc_bool(const struct jdoc *d, int idx, int *out)
{
	if (jdoc_type(d, idx) != JT_BOOL)
		return -1;
	*out = d->js[d->tok[idx].start] == 't';
	return 0;
}

int
jdoc_raw_eq(const struct jdoc *d, int idx, const char *s)
{
	const jsmntok_t	*t;
	size_t		 n;

	if ((t = jdoc_tok(d, idx)) == NULL)
		return 0;
	n = t->end - t->start;
	return strlen(s) == n && memcmp(d->js + t->start, s, n) == 0;
}
