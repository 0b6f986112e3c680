/*
 * status.c - message status transitions, their batch writes and
 * announcements.
 *
 * The index of recent messages is a ring of RECENT_MAX entries with a hash
 * map on the id; the oldest entry makes room for the newest.  An entry's
 * status is moved forward when a change is accepted, before it is written,
 * so a second request for the same change finds nothing to do.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "wire.h"
#include "buf.h"
#include "conn.h"
#include "db.h"
#include "fanout.h"
#include "grow.h"
#include "hmap.h"
#include "json.h"
#include "log.h"
#include "recent.h"
#include "room.h"
#include "stats.h"
#include "status.h"

#define RECENT_MAX	65536
#define BATCH_MAX	2000
#define BATCH_ROWS	20000	/* changes per UPDATE, about 2 MiB of SQL */
#define LOOKUP_BATCH	1000	/* messages per SELECT of older messages */
#define LOOKUP_MAX	100000	/* waiting in all; more are "try again" */
#define LOOKUP_CONN_MAX	5000	/* waiting for one connection */

struct recent {
	uint64_t	e_id;		/* 0 = free slot */
	uint64_t	e_room;
	uint64_t	e_sender;
	int		e_status;
};

struct change {
	uint64_t	ch_id;
	uint64_t	ch_room;
	uint64_t	ch_by;
	int64_t		ch_ms;
	int		ch_status;
};

struct cbatch {
	struct change	*b_rows;
	size_t		 b_len, b_cap;
};

/* A lookup of an older message, on behalf of one connection. */
struct lookup {
	uint64_t	lk_conn;
	uint64_t	lk_serial;	/* of the connection: c_key is reused */
	uint64_t	lk_msg;
	int		lk_status;
};

/* Lookups in arrival order: [l_head, l_head + l_inflight) are in the
 * SELECT in flight, the rest up to l_len wait for the next one. */
struct lookups {
	struct lookup	*l_rows;
	size_t		 l_head, l_inflight, l_len, l_cap;
};

static struct recent	ring[RECENT_MAX];
static size_t		ring_pos;
static size_t		inflight_rows;	/* messages the batch in flight updates */
static struct hmap	recent_map;
static struct cbatch	waiting, inflight;
static struct cbatch	sorted;		/* flush()'s scratch */
static struct buf	sql;
static struct lookups	lookups;
static struct buf	lsql;		/* lookup_flush()'s SELECT */

size_t
status_pending(void)
{
	return waiting.b_len + inflight.b_len;
}

static struct recent *
recent_put(uint64_t id, uint64_t room, uint64_t sender, int status)
{
	struct recent	*e;

	if ((e = hmap_get(&recent_map, id)) != NULL)
		return e;
	e = &ring[ring_pos];
	ring_pos = (ring_pos + 1) % RECENT_MAX;
	if (e->e_id != 0)
		hmap_del(&recent_map, e->e_id);
	e->e_id = id;
	e->e_room = room;
	e->e_sender = sender;
	e->e_status = status;
	if (hmap_put(&recent_map, id, e) == -1) {
		e->e_id = 0;
		return NULL;
	}
	return e;
}

void
status_note_stored(uint64_t msg_id, uint64_t room, uint64_t sender)
{
	if (recent_put(msg_id, room, sender, MS_SENT) == NULL)
		log_warnx("%s: out of memory", __func__);
}

static void
ms_sql(struct buf *b, int64_t ms)
{
	char	t[48];
	int	n;

	n = snprintf(t, sizeof(t), "FROM_UNIXTIME(%" PRId64 ".%03d)",
	    ms / 1000, (int)(ms % 1000));
	buf_add(b, t, n);
}

static void	flush(void);
static void	lookup_flush(void);

static void
batch_done_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	struct change	*c;
	size_t		 i;

	(void)res;
	(void)affected;
	(void)arg;
	if (err != 0)
		/* XXX The index already says so; a server-side error on a
		 * plain UPDATE means a broken schema, not a busy server. */
		log_warnx("%s: %zu status changes not stored: %s", __func__,
		    inflight.b_len, errstr);
	else {
		stats.status_batches++;
		stats.status_rows += inflight_rows;
		stats.status_changes += inflight.b_len;
		for (i = 0; i < inflight.b_len; i++) {
			c = &inflight.b_rows[i];
			status_applied(c->ch_room, c->ch_id, c->ch_status,
			    c->ch_ms, c->ch_by);
		}
	}
	inflight.b_len = 0;
	flush();
}

/* Changes to one message are accepted only forward, so by id and then
 * status is by id and then time. */
static int
change_cmp(const void *a, const void *b)
{
	const struct change	*x = a, *y = b;

	if (x->ch_id != y->ch_id)
		return x->ch_id < y->ch_id ? -1 : 1;
	return (x->ch_status > y->ch_status) - (x->ch_status < y->ch_status);
}

static void
sql_text(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
sql_ms_or_null(struct buf *b, int64_t ms)
{
	if (ms == 0)
		buf_add(b, "NULL", 4);
	else
		ms_sql(b, ms);
}

/* Keep the statement well under max_allowed_packet: what is past
 * BATCH_ROWS goes back to waiting (empty here), in order. */
static int
batch_split(void)
{
	size_t	rest = inflight.b_len - BATCH_ROWS;

	if (grow(&waiting.b_rows, &waiting.b_cap, rest, 64,
	    sizeof(*waiting.b_rows)) == -1)
		return -1;
	memcpy(waiting.b_rows, inflight.b_rows + BATCH_ROWS,
	    rest * sizeof(*waiting.b_rows));
	waiting.b_len = rest;
	inflight.b_len = BATCH_ROWS;
	return 0;
}

/*
 * One UPDATE for a batch, joined to a derived table with one row
 * per message: its furthest status, the first time it was delivered and
 * read (a message read at once was delivered then too) and the time of
 * its last change.  A join keeps the statement's cost linear in the
 * batch, where CASE id WHEN ... per column would be quadratic.
 * GREATEST/COALESCE never move a stored status back or overwrite a
 * stored time.
 */
static void
flush(void)
{
	const struct change	*c;
	struct cbatch		 tmp;
	char			 t[96];
	size_t			 i, rows = 0;
	int64_t			 dl = 0, rd = 0;
	int			 n, st = 0, first;

	if (inflight.b_len > 0 || waiting.b_len == 0)
		return;
	tmp = inflight;
	inflight = waiting;
	waiting = tmp;
	if (inflight.b_len > BATCH_ROWS && batch_split() == -1)
		fatalx("%s: out of memory", __func__);
	/* A sorted copy: batch_done_cb announces the changes in the order
	 * they were accepted. */
	if (grow(&sorted.b_rows, &sorted.b_cap, inflight.b_len, 64,
	    sizeof(*sorted.b_rows)) == -1)
		fatalx("%s: out of memory", __func__);
	memcpy(sorted.b_rows, inflight.b_rows, inflight.b_len *
	    sizeof(*sorted.b_rows));
	sorted.b_len = inflight.b_len;
	qsort(sorted.b_rows, sorted.b_len, sizeof(*sorted.b_rows),
	    change_cmp);
	buf_reset(&sql);
	sql_text(&sql, "UPDATE messages m JOIN (");
	for (i = 0; i < sorted.b_len; i++) {
		c = &sorted.b_rows[i];
		if (c->ch_status > st)
			st = c->ch_status;
		if (c->ch_status >= MS_DELIVERED && dl == 0)
			dl = c->ch_ms;
		if (c->ch_status >= MS_READ && rd == 0)
			rd = c->ch_ms;
		if (i + 1 < sorted.b_len && sorted.b_rows[i + 1].ch_id ==
		    c->ch_id)
			continue;
		/* The first row names the columns. */
		first = rows++ == 0;
		n = snprintf(t, sizeof(t), "%sSELECT %" PRIu64 "%s,%d%s,",
		    first ? "" : " UNION ALL ", c->ch_id, first ? " id" : "",
		    st, first ? " st" : "");
		buf_add(&sql, t, n);
		sql_ms_or_null(&sql, dl);
		sql_text(&sql, first ? " dl," : ",");
		sql_ms_or_null(&sql, rd);
		sql_text(&sql, first ? " rd," : ",");
		ms_sql(&sql, c->ch_ms);
		if (first)
			sql_text(&sql, " up");
		st = 0;
		dl = rd = 0;
	}
	inflight_rows = rows;
	sql_text(&sql, ") v ON m.id = v.id SET"
	    " m.status = GREATEST(m.status, v.st),"
	    " m.delivered_at = COALESCE(m.delivered_at, v.dl),"
	    " m.read_at = COALESCE(m.read_at, v.rd), m.updated_at = v.up");
	if (sql.b_err || db_query(broker->b_dbs, (char *)sql.b_data,
	    sql.b_len, batch_done_cb, NULL) == -1)
		fatalx("%s: out of memory building a status batch", __func__);
}

static int
batch_add(const struct change *c)
{
	if (grow(&waiting.b_rows, &waiting.b_cap, waiting.b_len + 1, 64,
	    sizeof(*waiting.b_rows)) == -1)
		return -1;
	waiting.b_rows[waiting.b_len++] = *c;
	return 0;
}

/* Decide on a request against a known message; answers the client. */
static void
decide(struct bconn *c, struct recent *e, int status)
{
	struct change	ch;

	if (e->e_room != c->c_room_id) {
		fanout_conn_error(c, "Message not found");
		return;
	}
	if (e->e_sender == c->c_user) {
		fanout_conn_error(c, "Only the recipient can update the status "
		    "of a message");
		return;
	}
	if (status <= e->e_status)
		return;		/* repeated or backward: nothing changes */
	if (waiting.b_len >= BATCH_MAX * 64) {
		fanout_conn_error(c, "Status update failed, try again");
		return;
	}
	ch.ch_id = e->e_id;
	ch.ch_room = e->e_room;
	ch.ch_by = c->c_user;
	ch.ch_ms = now_ms();
	ch.ch_status = status;
	if (batch_add(&ch) == -1) {
		fanout_conn_error(c, "Status update failed, try again");
		return;
	}
	e->e_status = status;
	flush();
}

/* The open connection that asked, if it is still there. */
static struct bconn *
lookup_conn(const struct lookup *lk)
{
	struct bconn	*c = conn_get(lk->lk_conn);

	if (c == NULL || c->c_serial != lk->lk_serial ||
	    c->c_state != BC_OPEN)
		return NULL;
	return c;
}

/* The batch of lookups in flight answered: decide each one. */
static void
lookups_done_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	struct lookup	 lk;
	struct bconn	*c;
	struct recent	*e;
	MYSQL_ROW	 row;
	size_t		 i, end = lookups.l_head + lookups.l_inflight;

	(void)affected;
	(void)arg;
	if (err != 0)
		log_warnx("%s: %zu status lookups failed: %s", __func__,
		    lookups.l_inflight, errstr);
	while ((row = db_row(res)) != NULL)
		if (recent_put(strtoull(row[0], NULL, 10),
		    strtoull(row[1], NULL, 10), strtoull(row[2], NULL, 10),
		    atoi(row[3])) == NULL)
			log_warnx("%s: out of memory", __func__);
	for (i = lookups.l_head; i < end; i++) {
		lk = lookups.l_rows[i];
		if ((c = lookup_conn(&lk)) == NULL)
			continue;
		c->c_lookups--;
		if (err != 0)
			fanout_conn_error(c, "Status update failed, try again");
		else if ((e = hmap_get(&recent_map, lk.lk_msg)) == NULL)
			fanout_conn_error(c, "Message not found");
		else
			decide(c, e, lk.lk_status);
	}
	lookups.l_head = end;
	lookups.l_inflight = 0;
	lookup_flush();
}

/*
 * Ask MariaDB about the next LOOKUP_BATCH waiting messages in one SELECT;
 * one at a time, so requests and loads that share the read connection
 * wait behind one batch at most.
 */
static void
lookup_flush(void)
{
	struct lookup	*rows;
	size_t		 i, n, r, w;
	char		 num[24], *p;

	if (lookups.l_inflight > 0)
		return;
	if (lookups.l_head > lookups.l_len / 2) {
		memmove(lookups.l_rows, lookups.l_rows + lookups.l_head,
		    (lookups.l_len - lookups.l_head) *
		    sizeof(*lookups.l_rows));
		lookups.l_len -= lookups.l_head;
		lookups.l_head = 0;
	}
	/* The next batch, without the lookups of connections gone since:
	 * a client that floods and reconnects must not fill the queue. */
	rows = lookups.l_rows;
	for (r = w = lookups.l_head, n = 0; r < lookups.l_len &&
	    n < LOOKUP_BATCH; r++)
		if (lookup_conn(&rows[r]) != NULL) {
			rows[w++] = rows[r];
			n++;
		}
	if (w < r) {
		memmove(rows + w, rows + r, (lookups.l_len - r) *
		    sizeof(*rows));
		lookups.l_len -= r - w;
	}
	if (n == 0) {
		lookups.l_head = lookups.l_len = 0;
		return;
	}
	buf_reset(&lsql);
	sql_text(&lsql, "SELECT id, room_id, sender_id, status FROM messages"
	    " WHERE id IN (");
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_add(&lsql, ",", 1);
		p = fmt_u64(num + sizeof(num),
		    lookups.l_rows[lookups.l_head + i].lk_msg);
		buf_add(&lsql, p, num + sizeof(num) - p);
	}
	buf_add(&lsql, ")", 1);
	lookups.l_inflight = n;
	stats.status_lookups += n;
	stats.status_lookup_queries++;
	/* The answer may come inside db_query(). */
	if (lsql.b_err || db_query(broker->b_dbr, (char *)lsql.b_data,
	    lsql.b_len, lookups_done_cb, NULL) == -1)
		fatalx("%s: out of memory", __func__);
}

void
status_request(struct bconn *c, uint64_t msg_id, int status)
{
	struct recent	*e;
	struct lookup	*lk;

	if ((e = hmap_get(&recent_map, msg_id)) != NULL) {
		decide(c, e, status);
		return;
	}
	if (c->c_lookups >= LOOKUP_CONN_MAX ||
	    lookups.l_len - lookups.l_head >= LOOKUP_MAX ||
	    grow(&lookups.l_rows, &lookups.l_cap, lookups.l_len + 1, 64,
	    sizeof(*lookups.l_rows)) == -1) {
		fanout_conn_error(c, "Status update failed, try again");
		return;
	}
	lk = &lookups.l_rows[lookups.l_len++];
	lk->lk_conn = c->c_key;
	lk->lk_serial = c->c_serial;
	lk->lk_msg = msg_id;
	lk->lk_status = status;
	c->c_lookups++;
	lookup_flush();
}

void
status_applied(uint64_t room, uint64_t msg_id, int status, int64_t ts_ms,
    uint64_t updated_by)
{
	struct buf	b;

	/* The REST view's cache (last_message, unread counts) first. */
	recent_set_status(room, msg_id, status, ts_ms);
	buf_init(&b);
	buf_add_u64(&b, msg_id);
	buf_add_u8(&b, (uint8_t)status);
	buf_add_u64(&b, (uint64_t)ts_ms);
	buf_add_u64(&b, updated_by);
	buf_add_u32(&b, 0);
	fanout_room(room_get(room), MSG_STATUS_UPDATE, &b);
	buf_free(&b);
}
