/*
 * test-idset.c - unit tests for broker/idset.c: single adds in every
 * position, repeats, bulk adds in any order with repeats and overlap with
 * what the set holds, and a random mix checked against a plain bitmap
 * after every step.  Exits non-zero if any case fails.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "idset.h"

#define RANGE	200	/* ids of the random mix: 1 .. RANGE */

/* The set holds exactly want[0..n), ascending. */
static void
check_is(const struct idset *s, const uint64_t *want, size_t n,
    const char *reason)
{
	size_t	i;
	int	same = s->is_n == n;

	for (i = 0; same && i < n; i++)
		same = s->is_ids[i] == want[i];
	check(same, reason, "%zu ids, want %zu", s->is_n, n);
}

static void
test_add_one(void)
{
	static const struct {
		const char	*reason;
		uint64_t	 id;
		uint64_t	 after[5];
		size_t		 n;
	} rows[] = {
		{ "first id into an empty set", 50, { 50 }, 1 },
		{ "below everything goes first", 10, { 10, 50 }, 2 },
		{ "above everything goes last", 90, { 10, 50, 90 }, 3 },
		{ "between two goes between", 30, { 10, 30, 50, 90 }, 4 },
		{ "a repeat changes nothing", 30, { 10, 30, 50, 90 }, 4 },
		{ "the largest id there is", UINT64_MAX,
		    { 10, 30, 50, 90, UINT64_MAX }, 5 },
	};
	struct idset	s;
	size_t		i;

	idset_init(&s);
	check(!idset_has(&s, 1), "empty set has nothing", "");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		check(idset_add(&s, rows[i].id) == 0, rows[i].reason,
		    "idset_add failed");
		check_is(&s, rows[i].after, rows[i].n, rows[i].reason);
		check(idset_has(&s, rows[i].id), rows[i].reason,
		    "added id not found");
	}
	check(!idset_has(&s, 40) && !idset_has(&s, 0) && !idset_has(&s, 91),
	    "ids never added are absent", "");
	idset_free(&s);
	check(s.is_n == 0 && s.is_ids == NULL, "freed set is empty", "");
}

static void
test_add_many(void)
{
	static const uint64_t	first[] = { 7, 3, 7, 1, 3 };
	static const uint64_t	want1[] = { 1, 3, 7 };
	static const uint64_t	second[] = { 9, 2, 3, 9 };
	static const uint64_t	want2[] = { 1, 2, 3, 7, 9 };
	struct idset		s;

	idset_init(&s);
	check(idset_add_many(&s, NULL, 0) == 0, "nothing into nothing", "");
	check_is(&s, NULL, 0, "nothing into nothing stays empty");
	check(idset_add_many(&s, first, 5) == 0, "unsorted with repeats", "");
	check_is(&s, want1, 3, "unsorted with repeats: sorted, once each");
	check(idset_add_many(&s, second, 4) == 0, "overlapping a set", "");
	check_is(&s, want2, 5, "overlap with the set: a union");
	check(idset_add(&s, 5) == 0 && idset_has(&s, 5) && s.is_n == 6,
	    "single add after a bulk add", "");
	idset_free(&s);
}

/* A tiny generator, so a failure reproduces. */
static uint64_t
next_rand(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

static void
test_random_mix(void)
{
	struct idset	s;
	uint64_t	rng = 88172645463325252ULL, batch[8], want[RANGE];
	char		in[RANGE + 1];
	size_t		step, i, n, k;
	int		ok = 1;

	idset_init(&s);
	memset(in, 0, sizeof(in));
	for (step = 0; step < 2000 && ok; step++) {
		k = next_rand(&rng) % 3 == 0 ? next_rand(&rng) % 8 : 0;
		if (k == 0) {
			batch[0] = 1 + next_rand(&rng) % RANGE;
			ok &= idset_add(&s, batch[0]) == 0;
			in[batch[0]] = 1;
		} else {
			for (i = 0; i < k; i++) {
				batch[i] = 1 + next_rand(&rng) % RANGE;
				in[batch[i]] = 1;
			}
			ok &= idset_add_many(&s, batch, k) == 0;
		}
		for (i = 1, n = 0; i <= RANGE; i++)
			if (in[i])
				want[n++] = i;
		ok &= s.is_n == n && memcmp(s.is_ids, want, n *
		    sizeof(want[0])) == 0;
		for (i = 1; i <= RANGE; i++)
			ok &= idset_has(&s, i) == in[i];
	}
	check(ok, "random adds agree with a bitmap", "step %zu", step);
	idset_free(&s);
}

int
main(void)
{
	test_add_one();
	test_add_many();
	test_random_mix();
	return check_report("test-idset");
}
