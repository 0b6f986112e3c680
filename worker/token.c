/*
 * token.c - token checks on top of libjwt.  libjwt's jwt_decode() verifies
 * the signature with whatever algorithm the token names, so the algorithm
 * is compared with the configured one here, and time claims are checked
 * here too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>

#include "config.h"
#include "token.h"

#define JWT_LEEWAY_S	30	/* clock skew tolerated on exp and nbf */

static int
claim_user_id(jwt_t *jwt, const char *claim, uint64_t *out)
{
	const char	*s;
	char		*ep;
	long		 n;
	unsigned long long v;

	/* An integer claim (the usual) or a string of digits. */
	errno = 0;
	n = jwt_get_grant_int(jwt, claim);
	if (errno == 0) {
		if (n <= 0)
			return -1;
		*out = (uint64_t)n;
		return 0;
	}
	if ((s = jwt_get_grant(jwt, claim)) == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &ep, 10);
	if (*ep != '\0' || errno != 0 || v == 0)
		return -1;
	*out = v;
	return 0;
}

uint64_t
token_verify(const struct config *c, const char *token, const char **why_out)
{
	jwt_t		*jwt = NULL;
	jwt_alg_t	 want;
	uint64_t	 uid = 0;
	long		 exp, nbf;
	time_t		 now = time(NULL);

	*why_out = "invalid token";
	if (token == NULL || *token == '\0') {
		*why_out = "no token";
		return 0;
	}
	if ((want = jwt_str_alg(c->jwt_algorithm)) == JWT_ALG_INVAL ||
	    want == JWT_ALG_NONE) {
		*why_out = "server has no usable jwt_algorithm";
		return 0;
	}
	if (jwt_decode(&jwt, token, (const unsigned char *)c->jwt_secret,
	    (int)strlen(c->jwt_secret)) != 0 || jwt == NULL) {
		*why_out = "bad signature or malformed token";
		return 0;
	}
	if (jwt_get_alg(jwt) != want) {
		*why_out = "wrong algorithm";
		goto out;
	}
	errno = 0;
	exp = jwt_get_grant_int(jwt, "exp");
	if (errno != 0) {
		*why_out = "no exp claim";
		goto out;
	}
	if (exp + JWT_LEEWAY_S < now) {
		*why_out = "expired";
		goto out;
	}
	errno = 0;
	nbf = jwt_get_grant_int(jwt, "nbf");
	if (errno == 0 && nbf - JWT_LEEWAY_S > now) {
		*why_out = "not yet valid";
		goto out;
	}
	if (claim_user_id(jwt, c->jwt_user_claim, &uid) == -1) {
		*why_out = "no user id claim";
		uid = 0;
		goto out;
	}
	*why_out = NULL;
out:
	jwt_free(jwt);
	return uid;
}
