/*
 * grow.c - array growth, see grow.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

int
grow(void *arrayp, size_t *cap, size_t need, size_t min, size_t elem)
{
	void	*p;
	size_t	 max = SIZE_MAX / elem, n;

	if (need <= *cap)
		return 0;
	/* Refused here rather than by reallocarray: sanitizers abort on an
	 * allocation that overflows instead of returning NULL. */
	if (need > max) {
		errno = ENOMEM;
		return -1;
	}
	n = *cap ? *cap : min ? min : 1;
	/* Where doubling would pass max, need alone is the most that fits. */
	while (n < need)
		n = n > max / 2 ? need : 2 * n;
	/* arrayp points to some object pointer type: copy the pointer
	 * rather than dereference arrayp as a void **. */
	memcpy(&p, arrayp, sizeof(p));
	if ((p = reallocarray(p, n, elem)) == NULL)
		return -1;
	memcpy(arrayp, &p, sizeof(p));
	*cap = n;
	return 0;
}
