/*
 * recent.c - per-room message state in memory: count, unread counts and
 * the newest messages.
 *
 * Loading reads two things with two queries on the read connection: the
 * counts (with the highest id they saw) and the newest RECENT_KEEP rows.
 * Messages committed while those run are kept aside and merged by id when
 * both are in: ids grow with commit order, so a committed message with an
 * id above what a query saw is one that query missed.  A status change
 * during a load cannot be merged that way, so the load starts over.
 *
 * Memory: at most RECENT_MAX messages per room that was asked about; a
 * room nobody asks about over REST costs nothing.  Ready states are kept
 * in order of last use, and loading one more than message_cache_rooms
 * drops the least recently used, which is loaded again if asked about.
 * A state used within rest_timeout stays even over the limit: a request
 * may still be waiting for it along with others still loading.  The
 * times are the monotonic clock's: a clock set back or forward must
 * neither stop eviction nor drop what is in use.
 */
#include <sys/queue.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "db.h"
#include "grow.h"
#include "hmap.h"
#include "log.h"
#include "order.h"
#include "recent.h"
#include "room.h"
#include "stats.h"

#define RECENT_KEEP	40	/* newest messages kept after a trim; two pages */
#define RECENT_MAX	64	/* trim at this many: a power of 2, no slack */

enum rs_state {
	RS_LOADING = 0,
	RS_READY,
};

struct rwait {
	struct rwait	*w_next;
	recent_load_cb	*w_cb;
	void		*w_arg;
};

struct rlist {
	struct rmsg	*l_msgs;	/* ascending id */
	size_t		 l_n, l_cap;
};

struct rstate {
	uint64_t	 rs_room;
	uint64_t	 rs_p1, rs_p2;
	enum rs_state	 rs_state;
	int		 rs_reload;	/* a status changed while loading */
	int		 rs_failed;	/* a load query failed */
	uint64_t	 rs_count;
	uint64_t	 rs_unread[2];	/* unread messages by p1, by p2 */
	uint64_t	 rs_count_max;	/* loading: highest id the count saw */
	struct rlist	 rs_recent;
	struct rlist	 rs_pend;	/* loading: committed meanwhile */
	struct rwait	*rs_waiters;
	TAILQ_ENTRY(rstate) rs_lru;	/* ready states only */
	int64_t		 rs_used_ms;
};

TAILQ_HEAD(rstate_lru, rstate);

static struct hmap		states;
static struct rstate_lru	lru = TAILQ_HEAD_INITIALIZER(lru);
static size_t			nready;

static void	load_start(struct rstate *);
static void	state_free(struct rstate *);

/* Make room for one more ready state: drop the least recently used. */
static void
evict(void)
{
	struct rstate	*rs;
	size_t		 max = (size_t)broker->b_conf.message_cache_rooms;
	int64_t		 idle = (int64_t)broker->b_conf.rest_timeout * 1000;
	int64_t		 now = mono_ms();

	while (nready >= max && (rs = TAILQ_LAST(&lru, rstate_lru)) != NULL &&
	    now - rs->rs_used_ms >= idle) {
		state_free(rs);
		stats.recent_evicted++;
	}
}

size_t
recent_rooms(void)
{
	return nready;
}

void
recent_msg_clear(struct rmsg *m)
{
	free(m->content);
	m->content = NULL;
}

static void
rlist_clear(struct rlist *l)
{
	size_t	i;

	for (i = 0; i < l->l_n; i++)
		recent_msg_clear(&l->l_msgs[i]);
	free(l->l_msgs);
	l->l_msgs = NULL;
	l->l_n = l->l_cap = 0;
}

/* Append m (taking its content); -1 on ENOMEM, m then cleared. */
static int
rlist_push(struct rlist *l, struct rmsg *m)
{
	if (grow(&l->l_msgs, &l->l_cap, l->l_n + 1, 8,
	    sizeof(*l->l_msgs)) == -1) {
		recent_msg_clear(m);
		return -1;
	}
	l->l_msgs[l->l_n++] = *m;
	return 0;
}

static void
rlist_trim(struct rlist *l)
{
	size_t	i, drop;

	if (l->l_n < RECENT_MAX)
		return;
	drop = l->l_n - RECENT_KEEP;
	for (i = 0; i < drop; i++)
		recent_msg_clear(&l->l_msgs[i]);
	memmove(l->l_msgs, l->l_msgs + drop, RECENT_KEEP * sizeof(*l->l_msgs));
	l->l_n = RECENT_KEEP;
}

/* Index of the first message with id >= id. */
static size_t
rlist_lower(const struct rlist *l, uint64_t id)
{
	size_t	lo = 0, hi = l->l_n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (l->l_msgs[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* rs is in use: it goes to the head of the eviction order. */
static void
touch(struct rstate *rs)
{
	rs->rs_used_ms = mono_ms();
	TAILQ_REMOVE(&lru, rs, rs_lru);
	TAILQ_INSERT_HEAD(&lru, rs, rs_lru);
}

static struct rstate *
ready_state(uint64_t room_id)
{
	struct rstate	*rs = hmap_get(&states, room_id);

	if (rs == NULL || rs->rs_state != RS_READY)
		return NULL;
	touch(rs);
	return rs;
}

int
recent_ready(uint64_t room_id)
{
	return ready_state(room_id) != NULL;
}

static void
state_free(struct rstate *rs)
{
	if (rs->rs_state == RS_READY) {
		TAILQ_REMOVE(&lru, rs, rs_lru);
		nready--;
	}
	hmap_del(&states, rs->rs_room);
	rlist_clear(&rs->rs_recent);
	rlist_clear(&rs->rs_pend);
	free(rs);
}

/* Tell everyone waiting; a failed state is dropped so the next use
 * tries again. */
static void
load_finish(struct rstate *rs, int ok)
{
	struct rwait	*w, *next;

	w = rs->rs_waiters;
	rs->rs_waiters = NULL;
	if (ok == -1)
		state_free(rs);
	for (; w != NULL; w = next) {
		next = w->w_next;
		w->w_cb(ok, w->w_arg);
		free(w);
	}
}

static int
add_waiter(struct rstate *rs, recent_load_cb *cb, void *arg)
{
	struct rwait	*w;

	if ((w = malloc(sizeof(*w))) == NULL)
		return -1;
	w->w_cb = cb;
	w->w_arg = arg;
	w->w_next = rs->rs_waiters;
	rs->rs_waiters = w;
	return 0;
}

void
recent_load(const struct room *r, recent_load_cb *cb, void *arg)
{
	struct rstate	*rs;

	if ((rs = hmap_get(&states, r->r_id)) != NULL) {
		if (rs->rs_state == RS_READY) {
			touch(rs);
			cb(1, arg);
		} else if (add_waiter(rs, cb, arg) == -1)
			cb(-1, arg);
		return;
	}
	if ((rs = calloc(1, sizeof(*rs))) == NULL ||
	    hmap_put(&states, r->r_id, rs) == -1) {
		free(rs);
		cb(-1, arg);
		return;
	}
	rs->rs_room = r->r_id;
	rs->rs_p1 = r->r_p1;
	rs->rs_p2 = r->r_p2;
	rs->rs_state = RS_LOADING;
	if (add_waiter(rs, cb, arg) == -1) {
		state_free(rs);
		cb(-1, arg);
		return;
	}
	load_start(rs);
}

static uint64_t
col_u64(const char *s)
{
	return s != NULL ? strtoull(s, NULL, 10) : 0;
}

int
recent_parse_row(char **row, unsigned long *lengths, struct rmsg *m)
{
	memset(m, 0, sizeof(*m));
	m->id = col_u64(row[0]);
	m->room = col_u64(row[1]);
	m->sender = col_u64(row[2]);
	m->status = (int)col_u64(row[3]);
	m->sent_ms = (int64_t)col_u64(row[4]);
	m->delivered_ms = (int64_t)col_u64(row[5]);
	m->read_ms = (int64_t)col_u64(row[6]);
	m->created_ms = (int64_t)col_u64(row[7]);
	m->updated_ms = (int64_t)col_u64(row[8]);
	m->content_len = lengths[9];
	if ((m->content = malloc(m->content_len + 1)) == NULL)
		return -1;
	memcpy(m->content, row[9] ? row[9] : "", m->content_len);
	m->content[m->content_len] = '\0';
	return 0;
}

static void
counts_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	struct rstate	*rs = arg;
	MYSQL_ROW	 row;

	(void)affected;
	if (err != 0 || (row = db_row(res)) == NULL) {
		log_warnx("%s: room %" PRIu64 ": %s", __func__, rs->rs_room,
		    err ? errstr : "no row");
		rs->rs_failed = 1;
		return;
	}
	rs->rs_count = col_u64(row[0]);
	rs->rs_unread[0] = col_u64(row[1]);
	rs->rs_unread[1] = col_u64(row[2]);
	rs->rs_count_max = col_u64(row[3]);
}

static int
sender_index(const struct rstate *rs, uint64_t sender)
{
	return sender == rs->rs_p1 ? 0 : 1;
}

/* Merge what was committed during the load, then serve. */
static void
load_merge(struct rstate *rs)
{
	struct rmsg	*p;
	uint64_t	 rows_max;
	size_t		 i;

	rows_max = rs->rs_recent.l_n ?
	    rs->rs_recent.l_msgs[rs->rs_recent.l_n - 1].id : 0;
	for (i = 0; i < rs->rs_pend.l_n; i++) {
		p = &rs->rs_pend.l_msgs[i];
		if (p->id > rs->rs_count_max) {
			rs->rs_count++;
			rs->rs_unread[sender_index(rs, p->sender)]++;
		}
		if (p->id > rows_max && rlist_push(&rs->rs_recent, p) == 0) {
			p->content = NULL;	/* moved */
			rows_max = p->id;
		}
	}
	rlist_clear(&rs->rs_pend);
	rlist_trim(&rs->rs_recent);
	evict();
	rs->rs_state = RS_READY;
	rs->rs_used_ms = mono_ms();
	TAILQ_INSERT_HEAD(&lru, rs, rs_lru);
	nready++;
}

static void
rows_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	struct rstate	*rs = arg;
	struct rmsg	 m;
	MYSQL_ROW	 row;
	size_t		 i, n;

	(void)affected;
	if (err != 0 || res == NULL)
		rs->rs_failed = 1;
	while (!rs->rs_failed && (row = mysql_fetch_row(res)) != NULL) {
		if (recent_parse_row(row, mysql_fetch_lengths(res), &m) == -1 ||
		    rlist_push(&rs->rs_recent, &m) == -1)
			rs->rs_failed = 1;
	}
	if (rs->rs_failed) {
		log_warnx("%s: room %" PRIu64 " not loaded: %s", __func__,
		    rs->rs_room, err ? errstr : "out of memory");
		load_finish(rs, -1);
		return;
	}
	/* Newest first from the query; kept oldest first. */
	n = rs->rs_recent.l_n;
	for (i = 0; i < n / 2; i++) {
		m = rs->rs_recent.l_msgs[i];
		rs->rs_recent.l_msgs[i] = rs->rs_recent.l_msgs[n - 1 - i];
		rs->rs_recent.l_msgs[n - 1 - i] = m;
	}
	if (rs->rs_reload) {
		load_start(rs);
		return;
	}
	load_merge(rs);
	load_finish(rs, 1);
}

static void
load_start(struct rstate *rs)
{
	char	q[1024];
	int	n;

	/* A new pair of queries sees everything committed so far. */
	rlist_clear(&rs->rs_recent);
	rlist_clear(&rs->rs_pend);
	rs->rs_reload = 0;
	n = snprintf(q, sizeof(q), "SELECT COUNT(*),"
	    " COALESCE(SUM(sender_id = %" PRIu64 " AND status < 3), 0),"
	    " COALESCE(SUM(sender_id = %" PRIu64 " AND status < 3), 0),"
	    " COALESCE(MAX(id), 0) FROM messages WHERE room_id = %" PRIu64,
	    rs->rs_p1, rs->rs_p2, rs->rs_room);
	if (db_query(broker->b_dbr, q, n, counts_cb, rs) == -1) {
		load_finish(rs, -1);
		return;
	}
	/* Queued right behind: its callback runs after counts_cb. */
	n = snprintf(q, sizeof(q), "SELECT " RECENT_COLUMNS " FROM messages"
	    " WHERE room_id = %" PRIu64 " ORDER BY id DESC LIMIT %d",
	    rs->rs_room, RECENT_KEEP);
	if (db_query(broker->b_dbr, q, n, rows_cb, rs) == -1)
		fatalx("%s: out of memory", __func__);
}

void
recent_from_pmsg(struct rmsg *m, const struct pmsg *pm)
{
	memset(m, 0, sizeof(*m));
	m->id = pm->m_id;
	m->room = pm->m_room;
	m->sender = pm->m_sender;
	m->status = MSG_STATUS_SENT;
	m->sent_ms = m->created_ms = m->updated_ms = pm->m_created_ms;
	m->content = pm->m_content;
	m->content_len = pm->m_content_len;
}

void
recent_committed(const struct pmsg *pm)
{
	struct rstate	*rs;
	struct rmsg	 m;

	if ((rs = hmap_get(&states, pm->m_room)) == NULL)
		return;		/* loaded from MariaDB when first asked */
	recent_from_pmsg(&m, pm);
	if ((m.content = malloc(m.content_len + 1)) == NULL)
		goto lost;
	memcpy(m.content, pm->m_content, m.content_len + 1);
	if (rs->rs_state == RS_LOADING) {
		if (rlist_push(&rs->rs_pend, &m) == -1)
			goto lost;
		return;
	}
	touch(rs);
	rs->rs_count++;
	rs->rs_unread[sender_index(rs, m.sender)]++;
	if (rlist_push(&rs->rs_recent, &m) == -1)
		goto lost;
	rlist_trim(&rs->rs_recent);
	return;
lost:
	/* Without memory the state cannot be trusted: load it again. */
	log_warnx("%s: out of memory, room %" PRIu64 " reloads", __func__,
	    pm->m_room);
	if (rs->rs_state == RS_LOADING)
		rs->rs_reload = 1;
	else
		state_free(rs);
}

void
recent_set_status(uint64_t room_id, uint64_t msg_id, int status,
    int64_t ts_ms)
{
	struct rstate	*rs;
	struct rlist	*l;
	struct rmsg	*m;
	size_t		 i;
	int		 k;

	if ((rs = hmap_get(&states, room_id)) == NULL)
		return;
	if (rs->rs_state == RS_LOADING) {
		rs->rs_reload = 1;
		return;
	}
	touch(rs);
	l = &rs->rs_recent;
	i = rlist_lower(l, msg_id);
	if (i == l->l_n || l->l_msgs[i].id != msg_id) {
		/* Older than what is kept: its sender and old status are
		 * unknown here, so the counts are read again when next
		 * needed.  Delivered changes no count. */
		if (status >= MSG_STATUS_READ)
			state_free(rs);
		return;
	}
	m = &l->l_msgs[i];
	if (status <= m->status)
		return;
	if (status >= MSG_STATUS_READ && m->status < MSG_STATUS_READ) {
		k = sender_index(rs, m->sender);
		if (rs->rs_unread[k] > 0)
			rs->rs_unread[k]--;
		if (m->read_ms == 0)
			m->read_ms = ts_ms;
	}
	if (status >= MSG_STATUS_DELIVERED && m->delivered_ms == 0)
		m->delivered_ms = ts_ms;
	m->status = status;
	m->updated_ms = ts_ms;
}

uint64_t
recent_count(uint64_t room_id)
{
	struct rstate	*rs = ready_state(room_id);

	return rs != NULL ? rs->rs_count : 0;
}

uint64_t
recent_unread(const struct room *r, uint64_t user)
{
	struct rstate	*rs = ready_state(r->r_id);

	if (rs == NULL)
		return 0;
	/* The peer's messages are the ones user has to read. */
	return rs->rs_unread[user == rs->rs_p1 ? 1 : 0];
}

const struct rmsg *
recent_last(uint64_t room_id)
{
	struct rstate	*rs = ready_state(room_id);

	if (rs == NULL || rs->rs_recent.l_n == 0)
		return NULL;
	return &rs->rs_recent.l_msgs[rs->rs_recent.l_n - 1];
}

int
recent_slice(uint64_t room_id, uint64_t offset, uint64_t before, size_t n,
    const struct rmsg **out, int *more_out)
{
	struct rstate	*rs = ready_state(room_id);
	const struct rlist *l;
	uint64_t	 end, older;	/* messages strictly older than the slice */
	size_t		 top, i, k;
	int		 all;

	if (rs == NULL)
		return -1;
	l = &rs->rs_recent;
	all = rs->rs_count <= l->l_n;	/* memory holds the whole room */
	if (before != 0) {
		top = rlist_lower(l, before);	/* l_msgs[0..top) qualify */
		if (top <= n && !all)
			return -1;	/* the page reaches into MariaDB */
		k = top < n ? top : n;
		older = top - k;
	} else {
		end = offset + n;
		if (end > l->l_n && !all)
			return -1;
		if (offset >= l->l_n)
			k = 0;
		else
			k = l->l_n - offset < n ? l->l_n - offset : n;
		top = offset < l->l_n ? l->l_n - offset : 0;
		older = rs->rs_count > offset + k ? rs->rs_count - offset - k : 0;
	}
	for (i = 0; i < k; i++)
		out[i] = &l->l_msgs[top - 1 - i];
	*more_out = older > 0;
	return (int)k;
}
