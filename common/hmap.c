/*
 * hmap.c - open-addressing hash map, see hmap.h.
 */
#include <stdlib.h>

#include "hmap.h"

static size_t
hmap_hash(uint64_t k)
{
	/* Ids are sequential: mix them so they spread over the table. */
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k;
}

void
hmap_init(struct hmap *h)
{
	h->h_slots = NULL;
	h->h_mask = 0;
	h->h_count = 0;
}

void
hmap_free(struct hmap *h)
{
	free(h->h_slots);
	hmap_init(h);
}

size_t
hmap_count(const struct hmap *h)
{
	return h->h_count;
}

void *
hmap_get(const struct hmap *h, uint64_t key)
{
	size_t	i;

	if (h->h_slots == NULL || key == 0)
		return NULL;
	for (i = hmap_hash(key) & h->h_mask; h->h_slots[i].key != 0;
	    i = (i + 1) & h->h_mask)
		if (h->h_slots[i].key == key)
			return h->h_slots[i].val;
	return NULL;
}

static void
hmap_insert(struct hmap_slot *slots, size_t mask, uint64_t key, void *val)
{
	size_t	i;

	for (i = hmap_hash(key) & mask; slots[i].key != 0; i = (i + 1) & mask)
		;
	slots[i].key = key;
	slots[i].val = val;
}

static int
hmap_grow(struct hmap *h)
{
	size_t			 cap = h->h_slots ? (h->h_mask + 1) * 2 : 16;
	struct hmap_slot	*slots;
	size_t			 i;

	if ((slots = calloc(cap, sizeof(*slots))) == NULL)
		return -1;
	if (h->h_slots != NULL)
		for (i = 0; i <= h->h_mask; i++)
			if (h->h_slots[i].key != 0)
				hmap_insert(slots, cap - 1, h->h_slots[i].key,
				    h->h_slots[i].val);
	free(h->h_slots);
	h->h_slots = slots;
	h->h_mask = cap - 1;
	return 0;
}

int
hmap_put(struct hmap *h, uint64_t key, void *val)
{
	size_t	i;

	if (key == 0)
		return -1;
	if (h->h_slots != NULL)
		for (i = hmap_hash(key) & h->h_mask; h->h_slots[i].key != 0;
		    i = (i + 1) & h->h_mask)
			if (h->h_slots[i].key == key) {
				h->h_slots[i].val = val;
				return 0;
			}
	/* Keep the load under 3/4. */
	if (h->h_slots == NULL || (h->h_count + 1) * 4 > (h->h_mask + 1) * 3)
		if (hmap_grow(h) == -1)
			return -1;
	hmap_insert(h->h_slots, h->h_mask, key, val);
	h->h_count++;
	return 0;
}

void *
hmap_del(struct hmap *h, uint64_t key)
{
	size_t	 i, j, home;
	void	*old;

	if (h->h_slots == NULL || key == 0)
		return NULL;
	for (i = hmap_hash(key) & h->h_mask; h->h_slots[i].key != key;
	    i = (i + 1) & h->h_mask)
		if (h->h_slots[i].key == 0)
			return NULL;
	old = h->h_slots[i].val;
	/* Backward shift: move later members of the probe run into the
	 * hole when their home slot allows it. */
	for (j = (i + 1) & h->h_mask; h->h_slots[j].key != 0;
	    j = (j + 1) & h->h_mask) {
		home = hmap_hash(h->h_slots[j].key) & h->h_mask;
		if (((j - home) & h->h_mask) >= ((j - i) & h->h_mask)) {
			h->h_slots[i] = h->h_slots[j];
			i = j;
		}
	}
	h->h_slots[i].key = 0;
	h->h_slots[i].val = NULL;
	h->h_count--;
	return old;
}

int
hmap_next(const struct hmap *h, size_t *iter, uint64_t *key_out,
    void **val_out)
{
	size_t	i;

	if (h->h_slots == NULL)
		return 0;
	for (i = *iter; i <= h->h_mask; i++)
		if (h->h_slots[i].key != 0) {
			*key_out = h->h_slots[i].key;
			*val_out = h->h_slots[i].val;
			*iter = i + 1;
			return 1;
		}
	*iter = i;
	return 0;
}
