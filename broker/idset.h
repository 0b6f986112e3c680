/*
 * idset.h - a set of non-zero 64-bit ids kept as one sorted array, for
 * small sets that are read far more often than changed (a user's rooms).
 * Membership is a binary search; adding one id moves the ids above it.
 * Nothing here knows what the ids are.
 */
#ifndef CHATD_IDSET_H
#define CHATD_IDSET_H

#include <stddef.h>
#include <stdint.h>

struct idset {
	uint64_t	*is_ids;	/* ascending, no repeats */
	size_t		 is_n;
	size_t		 is_cap;
};

void	idset_init(struct idset *);
void	idset_free(struct idset *);
int	idset_has(const struct idset *, uint64_t id);
/* Add one id; 0 (also if it was there already), -1 on ENOMEM. */
int	idset_add(struct idset *, uint64_t id);
/* Add n ids in any order, repeats allowed; -1 on ENOMEM (set unchanged). */
int	idset_add_many(struct idset *, const uint64_t *ids, size_t n);

#endif
