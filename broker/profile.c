/*
 * profile.c - avatar URLs and last_seen of users, cached with a TTL.
 * Concurrent loads of one user are not merged: both answers are the
 * same row and the later one simply replaces the earlier.  A sweep drops
 * the profiles nobody asked for since they went stale, so memory follows
 * the users shown lately, not every user ever shown.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "broker.h"
#include "db.h"
#include "grow.h"
#include "hmap.h"
#include "log.h"
#include "profile.h"
#include "room.h"

struct profile {
	int64_t	 p_loaded_ms;
	int64_t	 p_last_seen_ms;
	char	*p_image_urls;
};

struct profile_req {
	struct profile_req	*pr_next, **pr_prevp;	/* all in flight */
	uint64_t	 pr_user;
	profile_load_cb	*pr_cb;
	void		*pr_arg;
};

static struct hmap		 profiles;
static struct profile_req	*inflight;
static struct event		*sweep_ev;

static void	sweep_arm(void);

static void
req_unlink(struct profile_req *pr)
{
	if ((*pr->pr_prevp = pr->pr_next) != NULL)
		pr->pr_next->pr_prevp = pr->pr_prevp;
}

int
profile_ready(uint64_t user)
{
	struct profile	*p = hmap_get(&profiles, user);

	return p != NULL && mono_ms() - p->p_loaded_ms < profile_lifetime_ms();
}

int
profile_read_since(uint64_t user, int64_t since_ms)
{
	struct profile	*p = hmap_get(&profiles, user);

	return p != NULL && p->p_loaded_ms >= since_ms;
}

int64_t
profile_lifetime_ms(void)
{
	return (int64_t)broker->b_conf.profile_lifetime * 1000;
}

const char *
profile_image_urls(uint64_t user)
{
	struct profile	*p = hmap_get(&profiles, user);

	return p != NULL && p->p_image_urls != NULL ? p->p_image_urls : "[]";
}

int64_t
profile_last_seen(uint64_t user)
{
	struct profile	*p = hmap_get(&profiles, user);

	return p != NULL ? p->p_last_seen_ms : 0;
}

/* Store a row (or no row: urls NULL); -1 on ENOMEM. */
static int
profile_store(uint64_t user, const char *urls, const char *last_seen)
{
	struct profile	*p;
	char		*copy;

	if ((copy = strdup(urls != NULL ? urls : "[]")) == NULL)
		return -1;
	if ((p = hmap_get(&profiles, user)) == NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL ||
		    hmap_put(&profiles, user, p) == -1) {
			free(p);
			free(copy);
			return -1;
		}
	}
	free(p->p_image_urls);
	p->p_image_urls = copy;
	p->p_last_seen_ms = last_seen != NULL ? strtoll(last_seen, NULL, 10)
	    : 0;
	p->p_loaded_ms = mono_ms();
	sweep_arm();
	return 0;
}

/* A query uses a profile at most rest_timeout after it was read. */
static int64_t
keep_ms(void)
{
	return profile_lifetime_ms() +
	    (int64_t)broker->b_conf.rest_timeout * 1000 + 1000;
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct profile	*p;
	uint64_t	*gone = NULL, key;
	size_t		 cap = 0, n = 0, i = 0;
	int64_t		 now = mono_ms();
	void		*v;

	(void)fd;
	(void)what;
	(void)arg;
	/* Collect first: the map must not change while it is walked. */
	while (hmap_next(&profiles, &i, &key, &v)) {
		p = v;
		if (now - p->p_loaded_ms <= keep_ms())
			continue;
		if (grow(&gone, &cap, n + 1, 256, sizeof(*gone)) == -1)
			break;		/* the rest go next time */
		gone[n++] = key;
	}
	for (i = 0; i < n; i++) {
		p = hmap_del(&profiles, gone[i]);
		free(p->p_image_urls);
		free(p);
	}
	free(gone);
	sweep_arm();
}

static void
sweep_arm(void)
{
	struct timeval	tv = { keep_ms() / 1000, 0 };

	if (sweep_ev == NULL &&
	    (sweep_ev = evtimer_new(broker->b_base, sweep_cb, NULL)) == NULL)
		return;		/* profiles then stay until replaced */
	if (hmap_count(&profiles) > 0 && !evtimer_pending(sweep_ev, NULL))
		evtimer_add(sweep_ev, &tv);
}

size_t
profile_count(void)
{
	return hmap_count(&profiles);
}

static void
profile_loaded_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	struct profile_req	*pr = arg;
	MYSQL_ROW		 row = NULL;
	int			 ok = 1;

	(void)affected;
	if (err != 0) {
		log_warnx("%s: user %" PRIu64 ": %s", __func__, pr->pr_user,
		    errstr);
		ok = -1;
	} else {
		row = db_row(res);
		if (profile_store(pr->pr_user, row ? row[0] : NULL,
		    row ? row[1] : NULL) == -1)
			ok = -1;
		if (row != NULL)
			user_rename(pr->pr_user, row[2], row[3]);
	}
	req_unlink(pr);
	pr->pr_cb(ok, pr->pr_arg);
	free(pr);
}

void
profile_load(uint64_t user, profile_load_cb *cb, void *arg)
{
	struct profile_req	*pr;
	char			 q[256];
	int			 n;

	if ((pr = malloc(sizeof(*pr))) == NULL) {
		cb(-1, arg);
		return;
	}
	pr->pr_user = user;
	pr->pr_cb = cb;
	pr->pr_arg = arg;
	n = snprintf(q, sizeof(q), "SELECT image_urls,"
	    " FLOOR(UNIX_TIMESTAMP(last_seen) * 1000), username, display_name"
	    " FROM users WHERE id = %" PRIu64, user);
	if ((pr->pr_next = inflight) != NULL)
		inflight->pr_prevp = &pr->pr_next;
	pr->pr_prevp = &inflight;
	inflight = pr;
	if (db_query(broker->b_dbr, q, n, profile_loaded_cb, pr) == -1) {
		req_unlink(pr);
		free(pr);
		cb(-1, arg);
	}
}

void
profile_shutdown(void)
{
	struct profile_req	*pr;

	while ((pr = inflight) != NULL) {
		req_unlink(pr);
		free(pr);
	}
	if (sweep_ev != NULL) {
		event_free(sweep_ev);
		sweep_ev = NULL;
	}
}
