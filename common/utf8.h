/*
 * utf8.h - UTF-8 validation and counting, as RFC 3629 defines it.
 * Overlong forms, surrogates (U+D800-U+DFFF), code points above U+10FFFF
 * and bytes 0xC0, 0xC1, 0xF5-0xFF are refused.  Nothing here decodes,
 * normalises or allocates: callers only need to know "is this valid" and
 * "how many characters", for WebSocket text frames and message limits.
 */
#ifndef CHATD_UTF8_H
#define CHATD_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * State of the incremental validator; a sequence may be split across any
 * number of utf8_feed() calls.  Fields are public so that the state can be
 * embedded in other structs; treat them as private.
 */
struct utf8_state {
	uint32_t	need;	/* continuation bytes still expected */
	uint32_t	cp;	/* code point bits gathered so far */
	uint32_t	min;	/* smallest code point the sequence may encode */
};

void	utf8_init(struct utf8_state *);

/*
 * Feed n more bytes.  Returns 0 if everything seen so far can still be
 * valid, -1 at the first byte that makes it invalid (for example 0xF5, or
 * 0xA0 after 0xED).  After -1 the state stays failed until utf8_init().
 */
int	utf8_feed(struct utf8_state *, const uint8_t *, size_t);

/* 1 if the input ends on a character boundary (and has not failed). */
int	utf8_complete(const struct utf8_state *);

/* 1 if the n bytes at p are valid UTF-8, else 0. */
int	utf8_valid(const void *, size_t);

/* Number of code points in n bytes of valid UTF-8 (not checked here). */
size_t	utf8_chars(const void *, size_t);

#endif /* CHATD_UTF8_H */
