/*
 * mint.c - JWTs signed with libjwt, so that they are made by the same
 * library that checks them in the workers.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <jwt.h>

#include "config.h"
#include "mint.h"

char *
mint_token(const struct config *c, uint64_t user_id, long ttl,
    const char **why_out)
{
	jwt_t		*jwt;
	jwt_alg_t	 alg;
	char		*s = NULL;
	time_t		 now = time(NULL);

	alg = jwt_str_alg(c->jwt_algorithm);
	if (alg == JWT_ALG_INVAL || alg == JWT_ALG_NONE ||
	    alg > JWT_ALG_HS512 || c->jwt_secret[0] == '\0') {
		*why_out = "no usable jwt_secret and HMAC jwt_algorithm "
		    "configured";
		return NULL;
	}
	if (jwt_new(&jwt) != 0) {
		*why_out = "out of memory";
		return NULL;
	}
	if (jwt_set_alg(jwt, alg, (const unsigned char *)c->jwt_secret,
	    strlen(c->jwt_secret)) != 0 ||
	    jwt_add_grant_int(jwt, c->jwt_user_claim, (long)user_id) != 0 ||
	    jwt_add_grant_int(jwt, "iat", (long)now) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)now + ttl) != 0 ||
	    (s = jwt_encode_str(jwt)) == NULL)
		*why_out = "cannot sign the token";
	jwt_free(jwt);
	return s;
}
