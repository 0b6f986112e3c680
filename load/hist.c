/*
 * hist.c - log-linear latency histogram.
 */
#include <time.h>

#include "hist.h"

static unsigned
hist_index(uint64_t v)
{
	unsigned	p;

	if (v < HIST_SUB)
		return (unsigned)v;
	p = 63 - __builtin_clzll(v);		/* v in [2^p, 2^(p+1)) */
	/* Top 6 bits below the leading one choose the sub-bucket. */
	return (p - 5) * HIST_SUB + (unsigned)((v >> (p - 6)) & (HIST_SUB - 1));
}

static uint64_t
hist_value(unsigned i)
{
	unsigned	p;

	if (i < HIST_SUB)
		return i;
	p = i / HIST_SUB + 5;
	/* Middle of the bucket. */
	return ((uint64_t)(HIST_SUB + i % HIST_SUB) << (p - 6)) +
	    ((1ULL << (p - 6)) >> 1);
}

void
hist_add(struct hist *h, uint64_t us)
{
	unsigned	i = hist_index(us);

	if (i >= HIST_BUCKETS)
		i = HIST_BUCKETS - 1;
	h->h_b[i]++;
	h->h_count++;
	if (us > h->h_max)
		h->h_max = us;
}

void
hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned	i;

	for (i = 0; i < HIST_BUCKETS; i++)
		dst->h_b[i] += src->h_b[i];
	dst->h_count += src->h_count;
	if (src->h_max > dst->h_max)
		dst->h_max = src->h_max;
}

uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t	rank, seen = 0;
	unsigned	i;

	if (h->h_count == 0)
		return 0;
	rank = (uint64_t)(q * (double)h->h_count);
	if (rank >= h->h_count)
		rank = h->h_count - 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->h_b[i];
		if (seen > rank)
			return hist_value(i) < h->h_max ? hist_value(i) : h->h_max;
	}
	return h->h_max;
}

uint64_t
mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
