/*
 * roomlist.c - per-user room lists read from MariaDB with a lifetime;
 * see roomlist.h.
 *
 * A list's age counts from when its read was queued, not from when the
 * answer came: a room committed before that moment is in the answer, so
 * "older than the lifetime" never hides a room for longer than that.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "broker.h"
#include "db.h"
#include "hmap.h"
#include "idset.h"
#include "log.h"
#include "roomlist.h"
#include "stats.h"

#define SWEEP_S	10	/* how often lists past their lifetime are dropped */

struct waiter {
	struct waiter	*w_next;
	roomlist_cb	*w_cb;
	void		*w_arg;
};

struct ulist {
	uint64_t	 ul_user;
	struct idset	 ul_rooms;
	int64_t		 ul_read_ms;	/* when the last good read was queued,
					   0 = never */
	int64_t		 ul_asked_ms;	/* when the read in flight was queued */
	int		 ul_reading;
	struct waiter	*ul_waiters;	/* of the read in flight */
};

static struct hmap	 lists;
static struct event	*sweep_ev;

static int
is_fresh(const struct ulist *ul, int64_t now)
{
	return ul->ul_read_ms != 0 && now - ul->ul_read_ms <
	    (int64_t)broker->b_conf.room_list_lifetime * 1000;
}

const uint64_t *
roomlist_ids(uint64_t user, int any_age, size_t *n_out)
{
	static const uint64_t	 none[1];
	struct ulist		*ul = hmap_get(&lists, user);

	if (ul == NULL || ul->ul_read_ms == 0 ||
	    (!any_age && !is_fresh(ul, now_ms())))
		return NULL;
	*n_out = ul->ul_rooms.is_n;
	/* A user in no room has an empty list, not a missing one. */
	return ul->ul_rooms.is_ids != NULL ? ul->ul_rooms.is_ids : none;
}

static void
ulist_free(struct ulist *ul)
{
	struct waiter	*w;

	while ((w = ul->ul_waiters) != NULL) {
		ul->ul_waiters = w->w_next;
		free(w);
	}
	idset_free(&ul->ul_rooms);
	free(ul);
}

/* The rows of a read (one column, room ids) into the list.  Rooms added
 * meanwhile stay: the product deletes no rooms, so a union is right. */
static int
store_rows(struct ulist *ul, MYSQL_RES *res)
{
	MYSQL_ROW	 row;
	uint64_t	*ids;
	size_t		 n = 0;
	int		 rv;

	if ((ids = calloc(mysql_num_rows(res) + 1, sizeof(*ids))) == NULL)
		return -1;
	while ((row = db_row(res)) != NULL)
		if (row[0] != NULL)
			ids[n++] = strtoull(row[0], NULL, 10);
	rv = idset_add_many(&ul->ul_rooms, ids, n);
	free(ids);
	return rv;
}

static void
read_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	struct ulist	*ul = arg;
	struct waiter	*w, *next;
	int		 ok = 1;

	(void)affected;
	if (err != 0 || res == NULL) {
		log_warnx("%s: user %" PRIu64 ": %s", __func__, ul->ul_user,
		    err ? errstr : "no result");
		ok = -1;
	} else if (store_rows(ul, res) == -1) {
		log_warnx("%s: user %" PRIu64 ": out of memory", __func__,
		    ul->ul_user);
		ok = -1;
	} else
		ul->ul_read_ms = ul->ul_asked_ms;
	/* Waiters may ask again (a new read gets new waiters) but never
	 * free the list: only the sweep does, and not while reading. */
	w = ul->ul_waiters;
	ul->ul_waiters = NULL;
	ul->ul_reading = 0;
	for (; w != NULL; w = next) {
		next = w->w_next;
		w->w_cb(ok, w->w_arg);
		free(w);
	}
}

static struct ulist *
ulist_get_or_new(uint64_t user)
{
	struct ulist	*ul;

	if ((ul = hmap_get(&lists, user)) != NULL)
		return ul;
	if ((ul = calloc(1, sizeof(*ul))) == NULL)
		return NULL;
	ul->ul_user = user;
	idset_init(&ul->ul_rooms);
	if (hmap_put(&lists, user, ul) == -1) {
		free(ul);
		return NULL;
	}
	return ul;
}

/*
 * Queue the read of ul; -1 if it could not be queued.  Waiters must be
 * in place first: db.c may run the query, and read_cb, before this
 * returns.
 */
static int
start_read(struct ulist *ul)
{
	char	sql[256];
	int	n;

	/* Two index lookups; an OR would scan the table. */
	n = snprintf(sql, sizeof(sql), "SELECT id FROM rooms WHERE"
	    " participant1 = %" PRIu64 " UNION ALL SELECT id FROM rooms WHERE"
	    " participant2 = %" PRIu64, ul->ul_user, ul->ul_user);
	ul->ul_asked_ms = now_ms();
	ul->ul_reading = 1;
	stats.roomlist_reads++;
	if (db_query(broker->b_dbr, sql, (size_t)n, read_cb, ul) == -1) {
		ul->ul_reading = 0;
		return -1;
	}
	return 0;
}

void
roomlist_read(uint64_t user, roomlist_cb *cb, void *arg)
{
	struct ulist	*ul;
	struct waiter	*w;

	if ((ul = ulist_get_or_new(user)) == NULL ||
	    (w = malloc(sizeof(*w))) == NULL) {
		cb(-1, arg);
		return;
	}
	w->w_cb = cb;
	w->w_arg = arg;
	w->w_next = ul->ul_waiters;
	ul->ul_waiters = w;
	if (ul->ul_reading)
		return;
	if (start_read(ul) == -1) {
		/* Nothing was in flight, so w is the only waiter. */
		ul->ul_waiters = NULL;
		free(w);
		cb(-1, arg);
	}
}

static void
add_to(uint64_t user, uint64_t id)
{
	struct ulist	*ul = hmap_get(&lists, user);

	if (ul == NULL || idset_has(&ul->ul_rooms, id))
		return;
	if (idset_add(&ul->ul_rooms, id) == -1) {
		/* The next ask reads the whole list again. */
		log_warnx("%s: out of memory", __func__);
		ul->ul_read_ms = 0;
	}
}

void
roomlist_add(uint64_t id, uint64_t p1, uint64_t p2)
{
	add_to(p1, id);
	add_to(p2, id);
}

size_t
roomlist_count(void)
{
	return hmap_count(&lists);
}

/* Drop the lists past their lifetime: asking again reads them anyway. */
static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ulist	*ul;
	uint64_t	*drop, key;
	void		*v;
	size_t		 i = 0, n = 0;
	int64_t		 now = now_ms();

	(void)fd;
	(void)what;
	(void)arg;
	if ((drop = calloc(hmap_count(&lists) + 1, sizeof(*drop))) == NULL)
		return;		/* next time */
	while (hmap_next(&lists, &i, &key, &v)) {
		ul = v;
		if (!ul->ul_reading && !is_fresh(ul, now))
			drop[n++] = key;
	}
	for (i = 0; i < n; i++)
		ulist_free(hmap_del(&lists, drop[i]));
	free(drop);
}

int
roomlist_init(void)
{
	struct timeval	tv = { SWEEP_S, 0 };

	sweep_ev = event_new(broker->b_base, -1, EV_PERSIST, sweep_cb, NULL);
	if (sweep_ev == NULL || event_add(sweep_ev, &tv) == -1)
		return -1;
	return 0;
}

void
roomlist_shutdown(void)
{
	uint64_t	key;
	void		*v;
	size_t		i = 0;

	if (sweep_ev != NULL)
		event_free(sweep_ev);
	sweep_ev = NULL;
	while (hmap_next(&lists, &i, &key, &v))
		ulist_free(v);
	hmap_free(&lists);
}
