/*
 * hmap.h - a hash map from non-zero 64-bit keys to pointers.
 * Open addressing with linear probing and backward-shift deletion, so
 * there are no tombstones and lookups stay short.  Key 0 is reserved
 * (it marks an empty slot).  Not safe to modify while iterating: collect
 * the keys first.
 */
#ifndef CHATD_HMAP_H
#define CHATD_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_slot {
	uint64_t	 key;
	void		*val;
};

struct hmap {
	struct hmap_slot	*h_slots;
	size_t			 h_mask;	/* capacity - 1, capacity a power of 2 */
	size_t			 h_count;
};

void	 hmap_init(struct hmap *);
void	 hmap_free(struct hmap *);		/* does not free values */
void	*hmap_get(const struct hmap *, uint64_t key);
int	 hmap_put(struct hmap *, uint64_t key, void *val);	/* -1 ENOMEM or key 0 */
void	*hmap_del(struct hmap *, uint64_t key);	/* returns the old value */
size_t	 hmap_count(const struct hmap *);

/* for (i = 0; hmap_next(h, &i, &k, &v); ) ... */
int	 hmap_next(const struct hmap *, size_t *iter, uint64_t *key_out,
	    void **val_out);

#endif
