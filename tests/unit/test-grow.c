/*
 * test-grow.c - unit tests for common/grow.c: the first allocation, a
 * need already met, doubling, a need past double, and needs too large
 * for size_t that must leave the array and its capacity as they were.
 * Exits non-zero if any case fails.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "grow.h"

/* Elements 0 .. n-1 hold their own index. */
static void
fill(uint64_t *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		v[i] = i;
}

static int
filled(const uint64_t *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (v[i] != i)
			return 0;
	return 1;
}

static void
test_grow(void)
{
	/* Rows run in order on one array; "fresh" empties it first. */
	static const struct {
		const char	*reason;
		int		 fresh;
		size_t		 need, min;
		size_t		 cap;	/* afterwards */
	} rows[] = {
		{ "nothing needed of an empty array", 1, 0, 4, 0 },
		{ "first element: starts at min", 0, 1, 4, 4 },
		{ "need met exactly: untouched", 0, 4, 4, 4 },
		{ "need below the capacity: untouched", 0, 2, 4, 4 },
		{ "one past the capacity doubles", 0, 5, 4, 8 },
		{ "past double: doubles until it fits", 0, 50, 4, 64 },
		{ "one past again doubles once", 0, 65, 4, 128 },
		{ "a larger min changes nothing once allocated", 0, 129, 512,
		    256 },
		{ "empty, need within min: min", 1, 3, 8, 8 },
		{ "empty, need past min: min doubled", 1, 9, 8, 16 },
		{ "empty, need far past min: doubled until it fits", 1, 100,
		    8, 128 },
		{ "min 0 counts as 1", 1, 3, 0, 4 },
		{ "min 0, need 1", 1, 1, 0, 1 },
	};
	uint64_t	*v = NULL, *before;
	size_t		 cap = 0, old, i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (rows[i].fresh) {
			free(v);
			v = NULL;
			cap = 0;
		}
		before = v;
		old = cap;
		if (grow(&v, &cap, rows[i].need, rows[i].min,
		    sizeof(*v)) == -1) {
			check(0, rows[i].reason, "grow failed");
			break;
		}
		check(cap == rows[i].cap, rows[i].reason, "capacity %zu, "
		    "want %zu", cap, rows[i].cap);
		if (rows[i].need <= old)
			check(v == before, rows[i].reason, "array moved");
		check(filled(v, old), rows[i].reason, "elements lost");
		/* Every slot written, so a sanitizer build catches an
		 * array shorter than cap. */
		fill(v, cap);
	}
	free(v);
}

static void
test_overflow(void)
{
	static const struct {
		const char	*reason;
		size_t		 need;
	} rows[] = {
		{ "need * elem one element past SIZE_MAX",
		    SIZE_MAX / sizeof(uint64_t) + 1 },
		{ "need SIZE_MAX", SIZE_MAX },
	};
	uint64_t	*v = NULL, *before;
	size_t		 cap = 0, i;

	if (grow(&v, &cap, 4, 4, sizeof(*v)) == -1) {
		check(0, "overflow setup", "grow failed");
		return;
	}
	fill(v, cap);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		before = v;
		errno = 0;
		check(grow(&v, &cap, rows[i].need, 4, sizeof(*v)) == -1 &&
		    errno == ENOMEM, rows[i].reason, "not refused with ENOMEM");
		check(v == before && cap == 4 && filled(v, cap),
		    rows[i].reason, "array or capacity changed");
	}
	/* And from empty: nothing allocated, nothing to free. */
	free(v);
	v = NULL;
	cap = 0;
	check(grow(&v, &cap, SIZE_MAX, 4, sizeof(*v)) == -1 && v == NULL &&
	    cap == 0, "too large from empty leaves it empty", "");
}

int
main(void)
{
	test_grow();
	test_overflow();
	return check_report("test-grow");
}
