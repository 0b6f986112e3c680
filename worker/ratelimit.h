/*
 * ratelimit.h - a token bucket per connection: up to `limit` messages at
 * once, refilled at `limit` per `window` seconds.  Pure arithmetic on the
 * caller's clock.
 */
#ifndef CHATD_RATELIMIT_H
#define CHATD_RATELIMIT_H

#include <stdint.h>

struct bucket {
	double	b_tokens;
	int64_t	b_last_ms;
};

void	bucket_init(struct bucket *, int limit, int64_t now);
/* 1 and one token taken, or 0: over the limit, nothing taken. */
int	bucket_take(struct bucket *, int limit, int window_s, int64_t now);

#endif
