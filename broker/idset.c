/*
 * idset.c - sorted arrays of ids, see idset.h.
 */
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "idset.h"

void
idset_init(struct idset *s)
{
	s->is_ids = NULL;
	s->is_n = s->is_cap = 0;
}

void
idset_free(struct idset *s)
{
	free(s->is_ids);
	idset_init(s);
}

/* Index of the first id >= id. */
static size_t
lower_bound(const struct idset *s, uint64_t id)
{
	size_t	lo = 0, hi = s->is_n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->is_ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
idset_has(const struct idset *s, uint64_t id)
{
	size_t	i = lower_bound(s, id);

	return i < s->is_n && s->is_ids[i] == id;
}

static int
reserve(struct idset *s, size_t n)
{
	return grow(&s->is_ids, &s->is_cap, n, 8, sizeof(*s->is_ids));
}

int
idset_add(struct idset *s, uint64_t id)
{
	size_t	i = lower_bound(s, id);

	if (i < s->is_n && s->is_ids[i] == id)
		return 0;
	if (reserve(s, s->is_n + 1) == -1)
		return -1;
	memmove(&s->is_ids[i + 1], &s->is_ids[i],
	    (s->is_n - i) * sizeof(s->is_ids[0]));
	s->is_ids[i] = id;
	s->is_n++;
	return 0;
}

static int
id_cmp(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int
idset_add_many(struct idset *s, const uint64_t *ids, size_t n)
{
	size_t	i, out;

	if (n == 0)
		return 0;
	if (n > SIZE_MAX / 2 - s->is_n || reserve(s, s->is_n + n) == -1)
		return -1;
	/* Append, sort, squeeze out repeats: n log n, where one
	 * idset_add() per id would be quadratic for a large first read. */
	memcpy(&s->is_ids[s->is_n], ids, n * sizeof(ids[0]));
	s->is_n += n;
	qsort(s->is_ids, s->is_n, sizeof(s->is_ids[0]), id_cmp);
	for (i = out = 0; i < s->is_n; i++)
		if (out == 0 || s->is_ids[out - 1] != s->is_ids[i])
			s->is_ids[out++] = s->is_ids[i];
	s->is_n = out;
	return 0;
}
