/*
 * fixture.c - the fixture reader.  A fixture for 100 000 users is tens of
 * megabytes, so it is parsed with jsmn into a token array sized by a first
 * counting pass, not with the small fixed-size reader of common/json.c.
 * Parent links matter at that size: without them jsmn finds the enclosing
 * array after every object by scanning back to the array's first token,
 * which is quadratic in the number of users (tens of seconds for 100 000).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "fixture.h"

struct fx_parse {
	const char	*js;
	jsmntok_t	*t;
	int		 n;
};

/* Index just past token i and everything inside it. */
static int
fx_skip(const struct fx_parse *p, int i)
{
	int	end = p->t[i].end;

	for (i++; i < p->n && p->t[i].start < end; i++)
		;
	return i;
}

static int
fx_eq(const struct fx_parse *p, int i, const char *s)
{
	size_t	n = strlen(s);

	return p->t[i].type == JSMN_STRING &&
	    (size_t)(p->t[i].end - p->t[i].start) == n &&
	    memcmp(p->js + p->t[i].start, s, n) == 0;
}

static char *
fx_str(const struct fx_parse *p, int i)
{
	return strndup(p->js + p->t[i].start, p->t[i].end - p->t[i].start);
}

static uint64_t
fx_u64(const struct fx_parse *p, int i)
{
	return strtoull(p->js + p->t[i].start, NULL, 10);
}

/* Objects of an array: call f on each, with the object's index. */
static int
fx_array(struct fx_parse *p, int i, int (*f)(struct fx_parse *, int, void *),
    void *arg)
{
	int	k, n = p->t[i].size;

	if (p->t[i].type != JSMN_ARRAY)
		return -1;
	for (k = 0, i++; k < n; k++) {
		if (f(p, i, arg) == -1)
			return -1;
		i = fx_skip(p, i);
	}
	return 0;
}

static int
fx_user(struct fx_parse *p, int i, void *arg)
{
	struct fixture	*fx = arg;
	struct fx_user	*u = &fx->users[fx->nusers++];
	int		 k, n = p->t[i].size;

	for (k = 0, i++; k < n; k++) {
		if (fx_eq(p, i, "id"))
			u->id = fx_u64(p, i + 1);
		else if (fx_eq(p, i, "token"))
			u->token = fx_str(p, i + 1);
		i = fx_skip(p, i + 1);
	}
	return u->id && u->token ? 0 : -1;
}

static int
fx_room(struct fx_parse *p, int i, void *arg)
{
	struct fixture	*fx = arg;
	struct fx_room	*r = &fx->rooms[fx->nrooms++];
	int		 k, n = p->t[i].size;

	for (k = 0, i++; k < n; k++) {
		if (fx_eq(p, i, "id"))
			r->id = fx_u64(p, i + 1);
		else if (fx_eq(p, i, "participant1"))
			r->p1 = fx_u64(p, i + 1);
		else if (fx_eq(p, i, "participant2"))
			r->p2 = fx_u64(p, i + 1);
		i = fx_skip(p, i + 1);
	}
	return r->id && r->p1 && r->p2 ? 0 : -1;
}

static char *
fx_read(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 cap = 0, n = 0, r;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	do {
		if (cap - n < 65536) {
			char *nb = realloc(buf, cap = cap * 2 + 65536);

			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	*len = n;
	return buf;
}

static int
compare_users(const void *a, const void *b)
{
	const struct fx_user	*x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

int
fixture_load(struct fixture *fx, const char *path, char *err, size_t errsz)
{
	struct fx_parse	 p;
	jsmn_parser	 jp;
	char		*js;
	size_t		 len;
	int		 i, k;

	memset(fx, 0, sizeof(*fx));
	if ((js = fx_read(path, &len)) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	jsmn_init(&jp);
	p.js = js;
	if ((p.n = jsmn_parse(&jp, js, len, NULL, 0)) < 1 ||
	    (p.t = calloc(p.n, sizeof(*p.t))) == NULL) {
		snprintf(err, errsz, "%s: not JSON", path);
		return -1;
	}
	jsmn_init(&jp);
	if (jsmn_parse(&jp, js, len, p.t, p.n) != p.n ||
	    p.t[0].type != JSMN_OBJECT) {
		snprintf(err, errsz, "%s: not a JSON object", path);
		return -1;
	}
	for (k = 0, i = 1; k < p.t[0].size; k++) {
		if (fx_eq(&p, i, "ws_base"))
			fx->ws_base = fx_str(&p, i + 1);
		else if (fx_eq(&p, i, "http_base"))
			fx->http_base = fx_str(&p, i + 1);
		else if (fx_eq(&p, i, "users")) {
			fx->users = calloc(p.t[i + 1].size + 1,
			    sizeof(*fx->users));
			if (fx->users == NULL ||
			    fx_array(&p, i + 1, fx_user, fx) == -1) {
				snprintf(err, errsz, "%s: bad users", path);
				return -1;
			}
		} else if (fx_eq(&p, i, "rooms")) {
			fx->rooms = calloc(p.t[i + 1].size + 1,
			    sizeof(*fx->rooms));
			if (fx->rooms == NULL ||
			    fx_array(&p, i + 1, fx_room, fx) == -1) {
				snprintf(err, errsz, "%s: bad rooms", path);
				return -1;
			}
		}
		i = fx_skip(&p, i + 1);
	}
	free(p.t);
	free(js);
	if (fx->ws_base == NULL || fx->nusers == 0 || fx->nrooms == 0) {
		snprintf(err, errsz, "%s: needs ws_base, users and rooms",
		    path);
		return -1;
	}
	qsort(fx->users, fx->nusers, sizeof(*fx->users), compare_users);
	return 0;
}

const char *
fixture_token(const struct fixture *fx, uint64_t id)
{
	size_t	lo = 0, hi = fx->nusers;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (fx->users[mid].id == id)
			return fx->users[mid].token;
		if (fx->users[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
