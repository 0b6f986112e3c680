/*
 * stats.c - the broker's counters.
 */
#include <stddef.h>
#include <sys/time.h>

#include "stats.h"

struct bstats	stats;

int64_t
now_us(void)
{
	struct timeval	tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}
