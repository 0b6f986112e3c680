/*
 * token.c - token checks on top of libjwt.  libjwt's jwt_decode() verifies
 * the signature with whatever algorithm the token names, so the algorithm
 * is compared with the configured one here, and time claims are checked
 * here too.
 *
 * Verifying costs an HMAC and a JSON parse, and a client sends the same
 * token with every REST request, so tokens that passed are remembered
 * (their user and time claims) in a small table per worker.  A worker's
 * key, algorithm and claim never change (a reload starts new workers), so
 * a remembered verdict holds until the token's own times end it; those
 * are checked on every use.  Refused tokens are not remembered.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>
#include <openssl/crypto.h>

#include "config.h"
#include "token.h"

#define JWT_LEEWAY_S	30	/* clock skew tolerated on exp and nbf */
#define CACHE_SLOTS	512	/* tokens remembered per worker */
#define CACHE_TOKEN_MAX	1024	/* longer ones are verified every time */
#define NO_NBF		LONG_MIN

struct verdict {
	char		*v_token;	/* NULL = empty slot */
	size_t		 v_len;
	uint64_t	 v_user;
	long		 v_exp;
	long		 v_nbf;		/* NO_NBF if the token has none */
};

static struct verdict	cache[CACHE_SLOTS];

static int
claim_user_id(jwt_t *jwt, const char *claim, uint64_t *out)
{
	const char	*s;
	char		*ep;
	long		 n;
	unsigned long long v;

	/* An integer claim (the usual) or a string of digits, which libjwt
	 * reads as the integer 0. */
	errno = 0;
	n = jwt_get_grant_int(jwt, claim);
	if (errno == 0 && n > 0) {
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

/* exp and nbf against now; 0, or -1 with the reason. */
static int
times_ok(long exp, long nbf, time_t now, const char **why_out)
{
	/* The leeway goes on now's side: exp or nbf near the ends of a
	 * long would overflow. */
	if (exp < now - JWT_LEEWAY_S) {
		*why_out = "expired";
		return -1;
	}
	if (nbf != NO_NBF && nbf > now + JWT_LEEWAY_S) {
		*why_out = "not yet valid";
		return -1;
	}
	return 0;
}

static struct verdict *
slot_of(const char *token, size_t len)
{
	uint64_t	h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	size_t		i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)token[i]) * 0x100000001b3ULL;
	return &cache[h % CACHE_SLOTS];
}

/* The remembered verdict on token, or NULL.  The compare takes the same
 * time wherever the bytes differ: a timing must not reveal how much of
 * someone else's token a guess got right. */
static const struct verdict *
recall(const char *token, size_t len)
{
	const struct verdict	*v = slot_of(token, len);

	if (v->v_token == NULL || v->v_len != len ||
	    CRYPTO_memcmp(v->v_token, token, len) != 0)
		return NULL;
	return v;
}

static void
remember(const char *token, size_t len, uint64_t user, long exp, long nbf)
{
	struct verdict	*v = slot_of(token, len);
	char		*copy;

	if (len > CACHE_TOKEN_MAX || (copy = malloc(len)) == NULL)
		return;		/* verified again next time */
	memcpy(copy, token, len);
	free(v->v_token);
	v->v_token = copy;
	v->v_len = len;
	v->v_user = user;
	v->v_exp = exp;
	v->v_nbf = nbf;
}

/* The full check with libjwt; the claims go to the out-parameters. */
static uint64_t
verify(const struct config *c, const char *token, time_t now, long *exp_out,
    long *nbf_out, const char **why_out)
{
	jwt_t		*jwt = NULL;
	jwt_alg_t	 want;
	uint64_t	 uid = 0;
	long		 exp, nbf;

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
	errno = 0;
	nbf = jwt_get_grant_int(jwt, "nbf");
	if (errno != 0)
		nbf = NO_NBF;
	if (times_ok(exp, nbf, now, why_out) == -1)
		goto out;
	if (claim_user_id(jwt, c->jwt_user_claim, &uid) == -1) {
		*why_out = "no user id claim";
		uid = 0;
		goto out;
	}
	*exp_out = exp;
	*nbf_out = nbf;
	*why_out = NULL;
out:
	jwt_free(jwt);
	return uid;
}

uint64_t
token_verify(const struct config *c, const char *token, const char **why_out)
{
	const struct verdict	*v;
	uint64_t		 uid;
	size_t			 len;
	long			 exp, nbf;
	time_t			 now = time(NULL);

	*why_out = "invalid token";
	if (token == NULL || *token == '\0') {
		*why_out = "no token";
		return 0;
	}
	len = strlen(token);
	if ((v = recall(token, len)) != NULL) {
		if (times_ok(v->v_exp, v->v_nbf, now, why_out) == -1)
			return 0;
		*why_out = NULL;
		return v->v_user;
	}
	if ((uid = verify(c, token, now, &exp, &nbf, why_out)) != 0)
		remember(token, len, uid, exp, nbf);
	return uid;
}
