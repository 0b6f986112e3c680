/*
 * ratelimit.c - token bucket.
 */
#include "ratelimit.h"

void
bucket_init(struct bucket *b, int limit, int64_t now)
{
	b->b_tokens = limit;
	b->b_last_ms = now;
}

int
bucket_take(struct bucket *b, int limit, int window_s, int64_t now)
{
	if (now > b->b_last_ms) {
		b->b_tokens += (double)(now - b->b_last_ms) * limit /
		    ((double)window_s * 1000);
		if (b->b_tokens > limit)
			b->b_tokens = limit;
		b->b_last_ms = now;
	}
	if (b->b_tokens < 1)
		return 0;
	b->b_tokens -= 1;
	return 1;
}
