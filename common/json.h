/*
 * json.h - JSON out and JSON in.
 *
 * The writer (jw_*) renders into one growing buffer with commas placed
 * automatically; it never calls malloc per token and never uses printf for
 * strings.  Output is always valid UTF-8: invalid input bytes become U+FFFD.
 * It does not check that keys and values alternate: callers own the shape.
 *
 * The reader (jdoc_*) accepts exactly one JSON object of at most
 * JDOC_MAX_TOKENS tokens, validated strictly (RFC 8259 grammar, UTF-8 in
 * strings), and then gives access to its top-level members.  It refuses
 * anything jsmn alone would let through: trailing bytes, bare words,
 * malformed numbers, raw control characters, bad escapes.  Strings are
 * unescaped only on request, into caller memory.  A parsed jdoc points into
 * the caller's text: keep the text alive as long as the jdoc.
 *
 * jsmn is compiled into json.c only; other files see just its token type.
 */
#ifndef CHATD_JSON_H
#define CHATD_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef JSMN_H
#define JSMN_HEADER
#include <jsmn.h>
#undef JSMN_HEADER
#endif

/*
 * Writer.  After any call, buf (once allocated) is NUL-terminated at len.
 * err is set on allocation failure or on nesting misuse (closing more than
 * was opened, nesting deeper than JW_MAX_DEPTH); every later call then does
 * nothing until jw_reset(), and the contents must not be sent.
 */
#define JW_MAX_DEPTH	63

struct jw {
	char		*buf;
	size_t		 len;
	size_t		 cap;
	uint32_t	 depth;
	uint64_t	 comma;		/* bit per depth: comma before next */
	int		 err;
};

void	jw_init(struct jw *);
void	jw_reset(struct jw *);		/* empty again, memory kept */
void	jw_free(struct jw *);
/* Make room for n more bytes now: a writer that knows roughly what it
 * will hold grows once instead of doubling its way up. */
void	jw_reserve(struct jw *, size_t n);

void	jw_obj_open(struct jw *);
void	jw_obj_close(struct jw *);
void	jw_arr_open(struct jw *);
void	jw_arr_close(struct jw *);
/* Strings are escaped, keys too (jw_key() is below); a NULL s writes
 * null. */
void	jw_str(struct jw *, const char *s, size_t n);
void	jw_cstr(struct jw *, const char *s);
void	jw_int(struct jw *, int64_t);
void	jw_uint(struct jw *, uint64_t);
/* Decimal digits of v, written to end just before `end`; returns where
 * they start (at most 20 bytes). */
char	*fmt_u64(char *end, uint64_t v);
void	jw_bool(struct jw *, int);
void	jw_null(struct jw *);
/* json is one complete, valid JSON value: it is copied unchecked. */
void	jw_raw(struct jw *, const char *json, size_t n);
/* ISO 8601 UTC with milliseconds; ms <= 0 (never set) writes null. */
void	jw_time_ms(struct jw *, int64_t ms);
/* Shortest form that reads back the same; NaN and infinities write null. */
void	jw_double(struct jw *, double);

/* jw_key() with the key's length given. */
void	jw_key_n(struct jw *, const char *key, size_t n);
/* A key of n bytes that jw_plain_text() passed: copied, not escaped. */
void	jw_key_plain(struct jw *, const char *key, size_t n);

/* The bytes a JSON string holds as they are: printable ASCII but '"'
 * and '\\'. */
#define JW_PLAIN_BYTES \
	" !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`" \
	"abcdefghijklmnopqrstuvwxyz{|}~\x7f"

/* 1 if the n bytes at s (a C string) need no escaping.  strspn() of two
 * literals is worked out by the compiler. */
static inline int
jw_plain_text(const char *s, size_t n)
{
	return strspn(s, JW_PLAIN_BYTES) == n;
}

/*
 * A key.  Inline so that, for a literal key (nearly all of them), the
 * compiler knows its length and works out jw_plain_text() itself:
 * renderers write hundreds of keys per answer, and checking each at run
 * time was a fair share of a REST request's cost.
 */
static inline void
jw_key(struct jw *w, const char *key)
{
	size_t	n = strlen(key);

	if (jw_plain_text(key, n))
		jw_key_plain(w, key, n);
	else
		jw_key_n(w, key, n);
}

/* Key and value in one call. */
static inline void
jw_kstr(struct jw *w, const char *k, const char *s, size_t n)
{
	jw_key(w, k);
	jw_str(w, s, n);
}

static inline void
jw_kcstr(struct jw *w, const char *k, const char *s)
{
	jw_key(w, k);
	jw_cstr(w, s);
}

static inline void
jw_kint(struct jw *w, const char *k, int64_t v)
{
	jw_key(w, k);
	jw_int(w, v);
}

static inline void
jw_kuint(struct jw *w, const char *k, uint64_t v)
{
	jw_key(w, k);
	jw_uint(w, v);
}

static inline void
jw_kbool(struct jw *w, const char *k, int v)
{
	jw_key(w, k);
	jw_bool(w, v);
}

static inline void
jw_knull(struct jw *w, const char *k)
{
	jw_key(w, k);
	jw_null(w);
}

static inline void
jw_ktime_ms(struct jw *w, const char *k, int64_t ms)
{
	jw_key(w, k);
	jw_time_ms(w, ms);
}

/*
 * "2024-12-25T10:30:00.123Z" for milliseconds since the epoch.  Returns the
 * length (24), or 0 with out empty if ms is negative or past year 9999.
 */
size_t	iso8601_ms(char out[32], int64_t ms);

/*
 * Parse "YYYY-MM-DDTHH:MM:SS[.f...]Z" or the same ending in "+00:00".
 * Fraction digits past milliseconds are dropped.  Returns 0 and sets *out,
 * or -1 (out untouched) on anything else, including other offsets.
 */
int	iso8601_parse_ms(const char *s, size_t n, int64_t *out);

/* Reader. */
#define JDOC_MAX_TOKENS	128

struct jdoc {
	const char	*js;
	size_t		 len;
	int		 ntok;
	jsmntok_t	 tok[JDOC_MAX_TOKENS];
};

enum jtype {
	JT_NONE = 0,
	JT_OBJECT,
	JT_ARRAY,
	JT_STRING,
	JT_NUMBER,
	JT_BOOL,
	JT_NULL
};

/* 0; JDOC_TOO_BIG for more than JDOC_MAX_TOKENS tokens (what follows the
 * limit is not checked); -1 on invalid JSON or a top level not an object.
 * After an error the jdoc is empty and every lookup fails. */
#define JDOC_TOO_BIG	(-2)
int		 jdoc_parse(struct jdoc *, const char *js, size_t len);

/* Index of the value of top-level key, or -1.  Escapes in the document's
 * keys are honoured; of repeated keys the last one wins. */
int		 jdoc_find(const struct jdoc *, const char *key);
/* JT_NONE for an index out of range, so jdoc_find()'s -1 can go here. */
enum jtype	 jdoc_type(const struct jdoc *, int idx);

/*
 * Unescape string token idx into out and NUL-terminate it; *len_out (may be
 * NULL) gets the length without the NUL.  -1 if idx is not a string, if it
 * holds a lone surrogate or \u0000, or if out is too small; out and *len_out
 * are then untouched.
 */
int		 jdoc_str(const struct jdoc *, int idx, char *out, size_t outsz,
		    size_t *len_out);
/* The same into a malloc'd copy the caller frees; NULL on error. */
char		*jdoc_strdup(const struct jdoc *, int idx, size_t *len_out);

/* Integer tokens only: no fraction, no exponent, no overflow.  0 or -1;
 * *out untouched on failure. */
int		 jdoc_int64(const struct jdoc *, int idx, int64_t *out);
/* true or false only.  0 or -1; *out untouched on failure. */
int		 jdoc_bool(const struct jdoc *, int idx, int *out);

/* 1 if the raw token text (strings: between the quotes) equals s, else 0. */
int		 jdoc_raw_eq(const struct jdoc *, int idx, const char *s);

#endif
