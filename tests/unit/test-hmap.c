/*
 * test-hmap.c - unit tests for common/hmap.c.  Each key set in the table
 * (sequential ids, scattered 64-bit keys, keys differing only in their
 * high or middle bits) goes through the same life: insert 100000 keys,
 * find them all, overwrite one, iterate, delete every third key and check
 * that every other key is still found, then delete the rest.  A random mix
 * of puts and deletes on small key ranges is then checked against a plain
 * array after every step, which exercises backward-shift deletion across
 * the end of the table.  Exits non-zero if any case fails.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hmap.h"

#define NKEYS		100000
#define NABSENT		1000

/*
 * Key sets.  Each maps an index to a key, is one-to-one over
 * [0, NKEYS + NABSENT) and never yields 0, so keys past NKEYS are known
 * to be absent.
 */

static uint64_t
key_seq(size_t i)
{
	return (uint64_t)i + 1;
}

/* Odd multipliers and xor-shifts are invertible, so this is one-to-one. */
static uint64_t
key_scatter(size_t i)
{
	uint64_t	x = (uint64_t)i + 1;

	x *= 0xd1342543de82ef95ULL;
	x ^= x >> 31;
	x *= 0xa0761d6478bd642fULL;
	x ^= x >> 27;
	return x;
}

static uint64_t
key_high(size_t i)
{
	return ((uint64_t)i + 1) << 32;
}

static uint64_t
key_aligned(size_t i)
{
	return ((uint64_t)i + 1) << 12;
}

static uint64_t
key_top(size_t i)
{
	return UINT64_MAX - i;
}

static const struct {
	const char	*reason;
	uint64_t	(*key)(size_t);
} sets[] = {
	{ "sequential ids from 1", key_seq },
	{ "scattered 64-bit keys", key_scatter },
	{ "keys differing only in the high 32 bits", key_high },
	{ "multiples of 4096, like aligned pointers", key_aligned },
	{ "keys counting down from UINT64_MAX", key_top },
};

static int	slot[NKEYS];	/* values are &slot[i] */

/* Index of the first key in [from, to) whose lookup is wrong, or to. */
static size_t
first_bad(const struct hmap *h, uint64_t (*key)(size_t), size_t from,
    size_t to, int step_deleted)
{
	void	*want, *got;
	size_t	 i;

	for (i = from; i < to; i++) {
		if (i >= NKEYS || (step_deleted && i % 3 == 0))
			want = NULL;
		else
			want = &slot[i];
		got = hmap_get(h, key(i));
		if (got != want)
			return i;
	}
	return to;
}

/*
 * Walk the whole map; every value must be &slot[i] for a key of this set
 * still present, and each must come up exactly once.
 */
static void
check_iter(const struct hmap *h, uint64_t (*key)(size_t), int step_deleted,
    const char *set, const char *when)
{
	static unsigned char	 seen[NKEYS];
	uint64_t		 k;
	void			*v;
	size_t			 iter = 0, visits = 0, want = 0, i, idx;
	int			 stray = 0, twice = 0, missed = 0;

	memset(seen, 0, sizeof(seen));
	while (hmap_next(h, &iter, &k, &v)) {
		visits++;
		if ((int *)v < slot || (int *)v >= slot + NKEYS) {
			stray++;
			continue;
		}
		idx = (size_t)((int *)v - slot);
		if (key(idx) != k || (step_deleted && idx % 3 == 0))
			stray++;
		else if (seen[idx]++)
			twice++;
	}
	for (i = 0; i < NKEYS; i++) {
		if (step_deleted && i % 3 == 0)
			continue;
		want++;
		if (!seen[i])
			missed++;
	}
	check(visits == want && stray == 0 && twice == 0 && missed == 0 &&
	    visits == hmap_count(h), "iteration visits each key exactly once",
	    "%s, %s: %zu visits, %zu keys, count %zu, %d stray, %d twice, "
	    "%d missed", set, when, visits, want, hmap_count(h), stray, twice,
	    missed);
	check(hmap_next(h, &iter, &k, &v) == 0,
	    "finished iteration stays finished", "%s, %s", set, when);
}

static void
test_set(const char *set, uint64_t (*key)(size_t))
{
	struct hmap	 h;
	uint64_t	 k;
	size_t		 i, bad, ndel, wrongdel;
	int		 other, putfail;
	void		*old, *v;

	hmap_init(&h);
	putfail = 0;
	for (i = 0; i < NKEYS; i++)
		if (hmap_put(&h, key(i), &slot[i]) == -1)
			putfail++;
	check(putfail == 0 && hmap_count(&h) == NKEYS, "insert many keys",
	    "%s: %d failed puts, count %zu", set, putfail, hmap_count(&h));
	bad = first_bad(&h, key, 0, NKEYS + NABSENT, 0);
	check(bad == NKEYS + NABSENT, "every key found, absent keys not",
	    "%s: key %zu wrong", set, bad);
	check(hmap_get(&h, 0) == NULL, "key 0 never found", "%s", set);

	/* Overwrite: same count, new value, then put the old one back. */
	check(hmap_put(&h, key(7), &other) == 0 && hmap_count(&h) == NKEYS &&
	    hmap_get(&h, key(7)) == &other, "overwrite keeps the count",
	    "%s: count %zu", set, hmap_count(&h));
	hmap_put(&h, key(7), &slot[7]);
	check(hmap_get(&h, key(7)) == &slot[7] && hmap_get(&h, key(6)) ==
	    &slot[6] && hmap_get(&h, key(8)) == &slot[8],
	    "overwrite touches only that key", "%s", set);

	check_iter(&h, key, 0, set, "full");

	/* Delete every third key; all the others must stay findable. */
	ndel = 0;
	wrongdel = 0;
	for (i = 0; i < NKEYS; i += 3) {
		if (hmap_del(&h, key(i)) != &slot[i])
			wrongdel++;
		ndel++;
	}
	check(wrongdel == 0 && hmap_count(&h) == NKEYS - ndel,
	    "delete returns the old value", "%s: %zu wrong, count %zu", set,
	    wrongdel, hmap_count(&h));
	bad = first_bad(&h, key, 0, NKEYS + NABSENT, 1);
	check(bad == NKEYS + NABSENT, "every third key deleted, every other "
	    "key still found", "%s: key %zu wrong", set, bad);
	check(hmap_del(&h, key(0)) == NULL && hmap_del(&h, key(NKEYS)) ==
	    NULL && hmap_count(&h) == NKEYS - ndel,
	    "deleting an absent key changes nothing", "%s: count %zu", set,
	    hmap_count(&h));
	check_iter(&h, key, 1, set, "after deleting every third key");

	/* Delete the rest. */
	wrongdel = 0;
	for (i = 0; i < NKEYS; i++)
		if (i % 3 != 0 && hmap_del(&h, key(i)) != &slot[i])
			wrongdel++;
	old = NULL;
	for (i = 0; i < NKEYS && old == NULL; i++)
		old = hmap_get(&h, key(i));
	check(wrongdel == 0 && hmap_count(&h) == 0 && old == NULL,
	    "delete everything", "%s: %zu wrong, count %zu", set, wrongdel,
	    hmap_count(&h));
	i = 0;
	check(hmap_next(&h, &i, &k, &v) == 0, "emptied map iterates nothing",
	    "%s", set);

	/* The emptied table is reusable. */
	check(hmap_put(&h, key(5), &slot[5]) == 0 && hmap_count(&h) == 1 &&
	    hmap_get(&h, key(5)) == &slot[5], "reuse after emptying", "%s",
	    set);
	hmap_free(&h);
	check(hmap_count(&h) == 0 && hmap_get(&h, key(5)) == NULL,
	    "hmap_free leaves an empty map", "%s", set);
}

static void
test_sets(void)
{
	size_t	i;

	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		test_set(sets[i].reason, sets[i].key);
}

static void
test_empty_and_zero(void)
{
	struct hmap	 h;
	uint64_t	 k = 99;
	void		*v = &k;
	size_t		 iter = 0;
	int		 x;

	hmap_init(&h);
	check(hmap_count(&h) == 0 && hmap_get(&h, 1) == NULL &&
	    hmap_del(&h, 1) == NULL, "empty map finds nothing", "");
	check(hmap_next(&h, &iter, &k, &v) == 0 && k == 99 && v == &k,
	    "empty map iterates nothing, out-params untouched", "");
	check(hmap_put(&h, 0, &x) == -1 && hmap_count(&h) == 0 &&
	    hmap_get(&h, 0) == NULL, "key 0 refused on an empty map",
	    "count %zu", hmap_count(&h));
	check(hmap_put(&h, 1, &x) == 0 && hmap_count(&h) == 1,
	    "first put", "count %zu", hmap_count(&h));
	check(hmap_put(&h, 0, &x) == -1 && hmap_count(&h) == 1 &&
	    hmap_get(&h, 0) == NULL && hmap_del(&h, 0) == NULL,
	    "key 0 refused on a used map", "count %zu", hmap_count(&h));
	iter = 0;
	check(hmap_next(&h, &iter, &k, &v) == 1 && k == 1 && v == &x &&
	    hmap_next(&h, &iter, &k, &v) == 0,
	    "one key iterates once", "");
	check(hmap_del(&h, 1) == &x && hmap_count(&h) == 0 &&
	    hmap_get(&h, 1) == NULL, "delete the only key", "");
	hmap_free(&h);
	hmap_free(&h);
	check(hmap_count(&h) == 0, "hmap_free twice is harmless", "");
}

/*
 * Random puts and deletes on a small key range, checked against a plain
 * array after every step.  Few keys keep the table small and full, so
 * probe runs are long and often wrap around its end.
 */

static const struct {
	const char	*reason;
	size_t		 range;		/* keys 1..range, times spread */
	uint64_t	 spread;
	unsigned	 ops;
} mixes[] = {
	{ "random mix, 10 keys", 10, 1, 200000 },
	{ "random mix, 12 keys near the growth point", 12, 1, 200000 },
	{ "random mix, 100 keys", 100, 1, 200000 },
	{ "random mix, 100 keys spread in the high bits", 100,
	    (uint64_t)1 << 40, 200000 },
	{ "random mix, 3000 keys", 3000, 1, 400000 },
};

static uint64_t	rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
test_mix(const char *reason, size_t range, uint64_t spread, unsigned ops)
{
	struct hmap	  h;
	void		**model;
	int		  vals[2];
	size_t		  count = 0, k, j;
	unsigned	  n;
	void		 *v, *got;
	int		  ok = 1;

	if ((model = calloc(range + 1, sizeof(*model))) == NULL) {
		fprintf(stderr, "calloc failed\n");
		exit(2);
	}
	hmap_init(&h);
	for (n = 0; n < ops && ok; n++) {
		k = 1 + rng() % range;
		if (rng() % 2) {
			v = &vals[rng() % 2];
			if (hmap_put(&h, k * spread, v) == -1) {
				ok = 0;
				check(0, reason, "op %u: put %zu failed", n, k);
				break;
			}
			if (model[k] == NULL)
				count++;
			model[k] = v;
		} else {
			got = hmap_del(&h, k * spread);
			if (got != model[k]) {
				ok = 0;
				check(0, reason, "op %u: del %zu returned %p "
				    "want %p", n, k, got, model[k]);
				break;
			}
			if (model[k] != NULL)
				count--;
			model[k] = NULL;
		}
		if (hmap_count(&h) != count) {
			ok = 0;
			check(0, reason, "op %u: count %zu want %zu", n,
			    hmap_count(&h), count);
			break;
		}
		/* Small ranges: check every key every time. */
		for (j = 1; j <= range && (range <= 100 || n % 97 == 0); j++)
			if (hmap_get(&h, j * spread) != model[j]) {
				ok = 0;
				check(0, reason, "op %u: key %zu wrong", n, j);
				break;
			}
	}
	for (j = 1; j <= range && ok; j++)
		if (hmap_get(&h, j * spread) != model[j]) {
			ok = 0;
			check(0, reason, "at the end: key %zu wrong", j);
		}
	if (ok)
		check(1, reason, "");
	hmap_free(&h);
	free(model);
}

static void
test_mixes(void)
{
	size_t	i;

	for (i = 0; i < sizeof(mixes) / sizeof(mixes[0]); i++)
		test_mix(mixes[i].reason, mixes[i].range, mixes[i].spread,
		    mixes[i].ops);
}

int
main(void)
{
	test_empty_and_zero();
	test_sets();
	test_mixes();
	return check_report("test-hmap");
}
