/*
 * content.h - the rules for a chat message's content, the same whether it
 * comes over WebSocket or REST: not empty or only white space, and at most
 * message_size_limit characters (not bytes).  Content is stored as sent,
 * never trimmed.
 */
#ifndef CHATD_CONTENT_H
#define CHATD_CONTENT_H

#include <stddef.h>

/* 0 if s (n bytes of valid UTF-8) may be sent, else -1 with the error
 * text clients match on in why. */
int	content_check(const char *s, size_t n, int max_chars, char *why,
	    size_t whysz);

#endif
