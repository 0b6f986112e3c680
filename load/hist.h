/*
 * hist.h - a latency histogram with bounded relative error: 64 linear
 * sub-buckets per power of two of microseconds (under 1.6% error), from
 * 1 us to about 2^31 us.  Fixed size, so it can be summed across
 * processes by adding arrays.
 */
#ifndef CHATD_HIST_H
#define CHATD_HIST_H

#include <stdint.h>

#define HIST_SUB	64
#define HIST_POW	32
#define HIST_BUCKETS	(HIST_SUB * HIST_POW)

struct hist {
	uint64_t	h_count;
	uint64_t	h_max;
	uint64_t	h_b[HIST_BUCKETS];
};

void		hist_add(struct hist *, uint64_t us);
void		hist_merge(struct hist *dst, const struct hist *src);
/* The value at quantile q (0..1), in microseconds; 0 if empty. */
uint64_t	hist_quantile(const struct hist *, double q);
/* Microseconds on the monotonic clock, for latencies. */
uint64_t	mono_us(void);

#endif
