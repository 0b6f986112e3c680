/*
 * token.h - verify the JSON Web Tokens clients present.  Only the configured
 * algorithm is accepted ("none" never is), the signature must match the
 * configured key, "exp" must be in the future and "nbf" (if present) in
 * the past, and the configured claim must name a user id.  Whether that
 * user exists is the broker's call.
 */
#ifndef CHATD_TOKEN_H
#define CHATD_TOKEN_H

#include <stdint.h>

struct config;

/* Returns the user id, or 0 with a reason (for logs, not clients). */
uint64_t	token_verify(const struct config *, const char *token,
		    const char **why_out);

#endif
