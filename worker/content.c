/*
 * content.c - checks on a chat message's content.
 */
#include <stdio.h>

#include "content.h"
#include "utf8.h"

/* Is there anything but white space? */
static int
has_text(const char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' &&
		    p[i] != '\r' && p[i] != '\f' && p[i] != '\v')
			return 1;
	return 0;
}

int
content_check(const char *s, size_t n, int max_chars, char *why,
    size_t whysz)
{
	if (!has_text(s, n)) {
		snprintf(why, whysz, "Message content cannot be empty");
		return -1;
	}
	if (utf8_chars(s, n) > (size_t)max_chars) {
		snprintf(why, whysz, "Message too long (max %d characters)",
		    max_chars);
		return -1;
	}
	return 0;
}
