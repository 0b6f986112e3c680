/*
 * mint.h - sign JWTs with the configured key, for chatctl token and
 * chatctl provision.  The key never leaves the broker except in what an
 * administrator asks for explicitly.
 */
#ifndef CHATD_MINT_H
#define CHATD_MINT_H

#include <stdint.h>

struct config;

/*
 * A token for user_id with exp = now + ttl seconds, in the claim and with
 * the algorithm the workers check.  Returns a malloc'd string, or NULL
 * with a reason in *why_out (the algorithm is unusable, out of memory).
 */
char	*mint_token(const struct config *, uint64_t user_id, long ttl,
	    const char **why_out);

#endif
