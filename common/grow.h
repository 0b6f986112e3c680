/*
 * grow.h - room for more elements in a heap array, by doubling.
 * Doubling keeps appends amortised O(1); the caller keeps its own count
 * of elements in use, this only ever looks at the capacity.
 */
#ifndef CHATD_GROW_H
#define CHATD_GROW_H

#include <stddef.h>

/*
 * Make the array at *arrayp hold at least need elements of elem bytes
 * (elem > 0).  arrayp is the address of the array pointer, which may be
 * NULL while *cap is 0.  An empty array starts at min elements, then the
 * capacity doubles until need fits.  Returns 0, with *arrayp and *cap
 * updated when it had to grow; -1 with errno ENOMEM, leaving both as
 * they were, when memory runs out or need * elem does not fit in size_t.
 */
int	grow(void *arrayp, size_t *cap, size_t need, size_t min, size_t elem);

#endif
