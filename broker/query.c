/*
 * query.c - REST queries: find what an answer needs, load what memory
 * lacks, decide, answer.
 *
 * A query is stepped again (query_step) every time its outstanding loads
 * have all finished; each step checks from the top what is still missing,
 * so a step never depends on how it was reached.  Flags remember what was
 * looked up already, so a missing row ends in an answer, not a loop.
 * Every answer ends the query: exactly one MSG_REST_DONE per query.
 *
 * A load may finish inside the call that starts it (db.c runs a query at
 * once on an idle connection, and a message can commit inside
 * order_post_rest()), so after starting one a step returns without
 * touching q: it may be answered and freed already.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "buf.h"
#include "chan.h"
#include "db.h"
#include "health.h"
#include "log.h"
#include "order.h"
#include "profile.h"
#include "query.h"
#include "recent.h"
#include "room.h"
#include "roomlist.h"
#include "supervise.h"

#define PAGE_SIZE_MAX	100
#define MAX_ROUNDS	6	/* loads per query before giving up */
#define SQL_24H		"created_at >= NOW(3) - INTERVAL 1 DAY"

#define TXT_UNAVAILABLE	"Service temporarily unavailable, try again later."
#define TXT_NOT_FOUND	"Not found."
#define TXT_FORBIDDEN	"You do not have permission to perform this action."

struct query {
	struct query	*q_next, **q_prevp;	/* all live queries */
	int		 q_worker;
	uint64_t	 q_req;
	int		 q_kind;
	uint64_t	 q_user;
	uint64_t	 q_room;
	uint64_t	 q_page;
	uint64_t	 q_before;
	uint32_t	 q_psize;
	char		*q_temp;
	size_t		 q_temp_len;
	char		*q_content;
	size_t		 q_content_len;

	unsigned	 q_waits;	/* loads outstanding */
	int		 q_failed;	/* a load failed: answer 503 */
	int		 q_rounds;
	int64_t		 q_started_ms;
	int		 q_user_looked;
	int		 q_room_looked;
	int		 q_ids_read;	/* the room list was read for us */
	int		 q_posted;	/* handed to order.c */

	uint64_t	*q_ids;		/* the asker's rooms, once known */
	size_t		 q_nids;

	/* Results of SQL queries, once q_have_sql. */
	int		 q_have_sql;
	uint64_t	 q_n[3];
	struct rmsg	*q_rows;
	size_t		 q_nrows;

	struct buf	 q_out;		/* the answer's frames */
};

static struct query	*queries;

static void	query_step(struct query *);

static struct query *
query_new(int worker, uint64_t req)
{
	struct query	*q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	q->q_worker = worker;
	q->q_req = req;
	q->q_started_ms = mono_ms();	/* profile.c's clock */
	buf_init(&q->q_out);
	if ((q->q_next = queries) != NULL)
		queries->q_prevp = &q->q_next;
	q->q_prevp = &queries;
	queries = q;
	return q;
}

static void
query_free(struct query *q)
{
	size_t	i;

	if ((*q->q_prevp = q->q_next) != NULL)
		q->q_next->q_prevp = q->q_prevp;
	for (i = 0; i < q->q_nrows; i++)
		recent_msg_clear(&q->q_rows[i]);
	free(q->q_rows);
	free(q->q_ids);
	free(q->q_temp);
	free(q->q_content);
	buf_free(&q->q_out);
	free(q);
}

/*
 * The answer's frames are built in q_out and go to the asking worker in
 * one write when the query ends: a page is twenty-odd frames, and a
 * write per frame was a large share of the broker's work for it.  A
 * worker that died meanwhile misses them; its successor never had the
 * request.
 */

static struct buf *
frame_begin(struct query *q, uint16_t type, size_t *off)
{
	*off = wire_begin(&q->q_out, type, q->q_req);
	return &q->q_out;
}

static void
frame_end(struct query *q, size_t off)
{
	if (wire_end(&q->q_out, off) == -1)
		log_warnx("%s: query %" PRIu64 ": frame dropped (too large or "
		    "out of memory)", __func__, q->q_req);
}

static void
send_user(struct query *q, uint64_t id)
{
	struct user	*u = user_get(id);
	struct buf	*b;
	size_t		 off;
	int64_t		 seen;

	if (u == NULL)
		return;
	seen = u->u_last_seen_ms ? u->u_last_seen_ms : profile_last_seen(id);
	b = frame_begin(q, MSG_REST_USER, &off);
	buf_add_u64(b, id);
	buf_add_u8(b, u->u_nconns > 0);
	buf_add_u64(b, (uint64_t)seen);
	buf_add_cstr(b, u->u_username);
	buf_add_cstr(b, u->u_display_name);
	buf_add_cstr(b, profile_image_urls(id));
	frame_end(q, off);
}

static void
send_room(struct query *q, const struct room *r)
{
	const struct rmsg	*last = recent_last(r->r_id);
	struct buf		*b;
	size_t			 off;
	int64_t			 now = mono_ms();	/* typing.c's clock */
	uint8_t			 typing = 0;

	if (r->r_typing_until[0] > now)
		typing |= 1;
	if (r->r_typing_until[1] > now)
		typing |= 2;
	b = frame_begin(q, MSG_REST_ROOM, &off);
	buf_add_u64(b, r->r_id);
	buf_add_u64(b, r->r_p1);
	buf_add_u64(b, r->r_p2);
	buf_add_u64(b, r->r_match);
	buf_add_u64(b, (uint64_t)r->r_created_ms);
	buf_add_u64(b, recent_unread(r, q->q_user));
	buf_add_u8(b, typing);
	buf_add_u64(b, last ? last->id : 0);
	buf_add_u64(b, last ? last->sender : 0);
	buf_add_u8(b, last ? (uint8_t)last->status : 0);
	buf_add_u64(b, last ? (uint64_t)last->created_ms : 0);
	if (last != NULL)
		buf_add_str(b, last->content, last->content_len);
	else
		buf_add_str(b, "", 0);
	frame_end(q, off);
}

static void
send_message(struct query *q, const struct rmsg *m)
{
	struct buf	*b;
	size_t		 off;

	b = frame_begin(q, MSG_REST_MESSAGE, &off);
	buf_add_u64(b, m->id);
	buf_add_u64(b, m->room);
	buf_add_u64(b, m->sender);
	buf_add_u8(b, (uint8_t)m->status);
	buf_add_u64(b, (uint64_t)m->sent_ms);
	buf_add_u64(b, (uint64_t)m->delivered_ms);
	buf_add_u64(b, (uint64_t)m->read_ms);
	buf_add_u64(b, (uint64_t)m->created_ms);
	buf_add_u64(b, (uint64_t)m->updated_ms);
	buf_add_str(b, m->content, m->content_len);
	frame_end(q, off);
}

static void
add_done(struct query *q, uint16_t status, uint64_t count, int more,
    const char *field, const char *text)
{
	struct buf	*b;
	size_t		 off;
	int		 i;

	b = frame_begin(q, MSG_REST_DONE, &off);
	buf_add_u16(b, status);
	buf_add_u64(b, count);
	buf_add_u8(b, more != 0);
	for (i = 0; i < 3; i++)
		buf_add_u64(b, q->q_n[i]);
	buf_add_cstr(b, field ? field : "");
	buf_add_cstr(b, text ? text : "");
	frame_end(q, off);
}

/* End the query with its answer; frees q. */
static void
finish(struct query *q, uint16_t status, uint64_t count, int more,
    const char *field, const char *text)
{
	struct chan	*ch;

	add_done(q, status, count, more, field, text);
	if (q->q_out.b_err) {
		/* Out of memory: the bare refusal may still fit. */
		buf_reset(&q->q_out);
		add_done(q, 503, 0, 0, NULL, TXT_UNAVAILABLE);
	}
	if (!q->q_out.b_err && (ch = supervise_chan(q->q_worker)) != NULL)
		chan_send_raw(ch, q->q_out.b_data, q->q_out.b_len);
	query_free(q);
}

static void
fail(struct query *q, uint16_t status, const char *text)
{
	finish(q, status, 0, 0, NULL, text);
}

/* Waiting for loads.  hold/release bracket a batch of loads so that
 * one finishing at once does not step the query in mid-issue. */

static void
wait_done(struct query *q, int ok)
{
	if (ok == -1)
		q->q_failed = 1;
	if (--q->q_waits == 0)
		query_step(q);
}

static void
load_cb(int found, void *arg)
{
	wait_done(arg, found == -1 ? -1 : 1);
}

/* Returns 1 if nothing was issued (all there), else 0: the query is
 * stepped again when the loads finish, perhaps already. */
static int
release(struct query *q, unsigned issued)
{
	if (issued == 0) {
		q->q_waits--;
		return 1;
	}
	wait_done(q, 1);
	return 0;
}

static unsigned
need_profile(struct query *q, uint64_t user)
{
	/* A profile read for this query will do even if it went stale
	 * while others loaded: it must not send the query round again. */
	if (profile_ready(user) || profile_read_since(user, q->q_started_ms))
		return 0;
	q->q_waits++;
	profile_load(user, load_cb, q);
	return 1;
}

/*
 * Everything an answer about rooms ids[] needs in memory: the rooms, their
 * message state and their participants' profiles.  Rooms that turn out not
 * to exist are left out.  1 = all there, 0 = wait (or answered).
 */
static int
need_rooms(struct query *q, const uint64_t *ids, size_t n)
{
	struct room	*r;
	unsigned	 issued = 0;
	size_t		 i;
	int		 first = q->q_rounds == 0;

	if (q->q_rounds++ >= MAX_ROUNDS) {
		log_warnx("%s: query %" PRIu64 " still lacks data", __func__,
		    q->q_req);
		fail(q, 503, TXT_UNAVAILABLE);
		return 0;
	}
	q->q_waits++;	/* hold */
	for (i = 0; i < n; i++) {
		if ((r = room_get(ids[i])) == NULL) {
			if (first) {
				q->q_waits++;
				issued++;
				room_load(ids[i], load_cb, q);
			}
			continue;
		}
		if (!recent_ready(r->r_id)) {
			q->q_waits++;
			issued++;
			recent_load(r, load_cb, q);
		}
		issued += need_profile(q, r->r_p1);
		issued += need_profile(q, r->r_p2);
	}
	return release(q, issued);
}

/* The asker exists: 1, else 0 (waiting or answered). */
static int
need_user(struct query *q)
{
	if (user_get(q->q_user) != NULL)
		return 1;
	if (q->q_user_looked) {
		fail(q, 401, "User not found");
		return 0;
	}
	q->q_user_looked = 1;
	q->q_waits++;
	user_load(q->q_user, load_cb, q);
	return 0;
}

/* The room of the query, if the asker may see it. */
static struct room *
need_room(struct query *q)
{
	struct room	*r;
	char		 text[96];

	if ((r = room_get(q->q_room)) == NULL) {
		if (!q->q_room_looked) {
			q->q_room_looked = 1;
			q->q_waits++;
			room_load(q->q_room, load_cb, q);
			return NULL;
		}
		if (q->q_kind == REST_Q_POST) {
			/* A field of the body, not the path. */
			snprintf(text, sizeof(text), "Invalid pk \"%" PRIu64
			    "\" - object does not exist.", q->q_room);
			finish(q, 400, 0, 0, "room", text);
		} else
			fail(q, 404, TXT_NOT_FOUND);
		return NULL;
	}
	if (!room_is_participant(r, q->q_user)) {
		fail(q, 403, TXT_FORBIDDEN);
		return NULL;
	}
	return r;
}

/* SQL for the parts memory does not hold; one query per query. */

/*
 * Check a result and allocate room for its rows (n + 1 of size each) in
 * *out.  Returns the number of rows, or -1 after failing the wait.
 */
static ssize_t
result_rows(struct query *q, MYSQL_RES *res, unsigned err,
    const char *errstr, size_t size, void **out)
{
	size_t	n;

	if (err != 0 || res == NULL) {
		log_warnx("%s: %s", __func__, err ? errstr : "no result");
		wait_done(q, -1);
		return -1;
	}
	n = mysql_num_rows(res);
	if ((*out = calloc(n + 1, size)) == NULL) {
		wait_done(q, -1);
		return -1;
	}
	return (ssize_t)n;
}

static void
counts_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	struct query	*q = arg;
	MYSQL_ROW	 row;
	unsigned	 i;

	(void)affected;
	if (err != 0 || (row = db_row(res)) == NULL) {
		log_warnx("%s: %s", __func__, err ? errstr : "no row");
		wait_done(q, -1);
		return;
	}
	for (i = 0; i < 3 && i < mysql_num_fields(res); i++)
		q->q_n[i] = row[i] ? strtoull(row[i], NULL, 10) : 0;
	wait_done(q, 1);
}

/* Rows of RECENT_COLUMNS: messages. */
static void
rows_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	struct query	*q = arg;
	MYSQL_ROW	 row;
	ssize_t		 n, i;
	void		*p;

	(void)affected;
	if ((n = result_rows(q, res, err, errstr, sizeof(*q->q_rows), &p))
	    == -1)
		return;
	q->q_rows = p;
	for (i = 0; i < n && (row = mysql_fetch_row(res)) != NULL; i++)
		if (recent_parse_row(row, mysql_fetch_lengths(res),
		    &q->q_rows[q->q_nrows++]) == -1) {
			wait_done(q, -1);
			return;
		}
	wait_done(q, 1);
}

/* Run sql once for this query; 1 = its result is in, 0 = wait. */
static int
need_sql(struct query *q, const char *sql, int n, db_cb *cb)
{
	if (q->q_have_sql)
		return 1;
	q->q_have_sql = 1;
	q->q_waits++;
	if (db_query(broker->b_dbr, sql, (size_t)n, cb, q) == -1)
		wait_done(q, -1);
	return 0;
}

/*
 * The asker's room ids into q_ids: 1 when there, 0 = wait (or answered).
 * Once read for this query, a list of any age will do, or a lifetime of
 * 0 would read forever.  The ids are copied: loads started for them may
 * add to the list, which moves it.
 */
static int
need_room_ids(struct query *q)
{
	const uint64_t	*ids;
	size_t		 n = 0;

	if (q->q_ids != NULL)
		return 1;
	if ((ids = roomlist_ids(q->q_user, q->q_ids_read, &n)) == NULL) {
		if (q->q_ids_read) {
			/* Read, and dropped before use: not for long. */
			fail(q, 503, TXT_UNAVAILABLE);
			return 0;
		}
		q->q_ids_read = 1;
		q->q_waits++;
		roomlist_read(q->q_user, load_cb, q);
		return 0;
	}
	if ((q->q_ids = calloc(n + 1, sizeof(*ids))) == NULL) {
		fail(q, 503, TXT_UNAVAILABLE);
		return 0;
	}
	memcpy(q->q_ids, ids, n * sizeof(*ids));
	q->q_nids = n;
	return 1;
}

/* Send both participants, the users every room answer names. */
static void
send_participants(struct query *q, const struct room *r)
{
	send_user(q, r->r_p1);
	send_user(q, r->r_p2);
}

/* Rooms list: most recent activity first. */
struct ritem {
	struct room	*r;
	int64_t		 active_ms;
};

static int
ritem_cmp(const void *a, const void *b)
{
	const struct ritem	*x = a, *y = b;

	if (x->active_ms != y->active_ms)
		return x->active_ms > y->active_ms ? -1 : 1;
	return x->r->r_id > y->r->r_id ? -1 : x->r->r_id < y->r->r_id;
}

/* The page of items to answer: 1 with *first_out and *n_out set, or 0
 * after answering 404 for a page past the end. */
static int
page_bounds(struct query *q, uint64_t count, size_t *first_out,
    size_t *n_out)
{
	uint64_t	pages, first;

	pages = count == 0 ? 1 : (count + q->q_psize - 1) / q->q_psize;
	if (q->q_page < 1 || q->q_page > pages) {
		fail(q, 404, "Invalid page.");
		return 0;
	}
	first = (q->q_page - 1) * q->q_psize;
	*first_out = (size_t)first;
	*n_out = count - first < q->q_psize ? (size_t)(count - first) :
	    q->q_psize;
	return 1;
}

static void
answer_rooms(struct query *q)
{
	struct ritem		*items;
	const struct rmsg	*last;
	struct room		*r;
	size_t			 i, n = 0, first, count;

	if ((items = calloc(q->q_nids + 1, sizeof(*items))) == NULL) {
		fail(q, 503, TXT_UNAVAILABLE);
		return;
	}
	for (i = 0; i < q->q_nids; i++) {
		if ((r = room_get(q->q_ids[i])) == NULL)
			continue;
		last = recent_last(r->r_id);
		items[n].r = r;
		items[n++].active_ms = last ? last->created_ms : r->r_created_ms;
	}
	qsort(items, n, sizeof(*items), ritem_cmp);
	if (page_bounds(q, n, &first, &count)) {
		for (i = first; i < first + count; i++) {
			send_participants(q, items[i].r);
			send_room(q, items[i].r);
		}
		finish(q, 200, n, first + count < n, NULL, NULL);
	}
	free(items);
}

static void
step_rooms(struct query *q)
{
	if (!need_room_ids(q) || !need_rooms(q, q->q_ids, q->q_nids))
		return;
	answer_rooms(q);
}

static void
step_room(struct query *q)
{
	struct room	*r;

	if ((r = need_room(q)) == NULL || !need_rooms(q, &q->q_room, 1))
		return;
	send_participants(q, r);
	send_room(q, r);
	finish(q, 200, 1, 0, NULL, NULL);
}

static void
step_messages(struct query *q)
{
	const struct rmsg	*page[PAGE_SIZE_MAX + 1];
	struct room		*r;
	char			 sql[1024];
	uint64_t		 count;
	size_t			 first = 0, n = 0, i;
	int			 k, more = 0;

	if ((r = need_room(q)) == NULL || !need_rooms(q, &q->q_room, 1))
		return;
	count = recent_count(r->r_id);
	if (q->q_before == 0 && !page_bounds(q, count, &first, &n))
		return;
	if (!q->q_have_sql) {
		k = recent_slice(r->r_id, first, q->q_before, q->q_psize, page,
		    &more);
		if (k >= 0) {
			send_participants(q, r);
			for (i = 0; i < (size_t)k; i++)
				send_message(q, page[i]);
			finish(q, 200, count, more, NULL, NULL);
			return;
		}
	}
	/* Older history: the (room_id, id) index, newest first.  One row
	 * more than the page tells whether older ones exist. */
	if (q->q_before != 0)
		k = snprintf(sql, sizeof(sql), "SELECT " RECENT_COLUMNS
		    " FROM messages WHERE room_id = %" PRIu64 " AND id < %"
		    PRIu64 " ORDER BY id DESC LIMIT %u", r->r_id, q->q_before,
		    q->q_psize + 1);
	else
		k = snprintf(sql, sizeof(sql), "SELECT " RECENT_COLUMNS
		    " FROM messages WHERE room_id = %" PRIu64 " ORDER BY id"
		    " DESC LIMIT %u OFFSET %zu", r->r_id, q->q_psize + 1, first);
	if (!need_sql(q, sql, k, rows_cb))
		return;
	send_participants(q, r);
	for (i = 0; i < q->q_nrows && i < q->q_psize; i++)
		send_message(q, &q->q_rows[i]);
	finish(q, 200, count, q->q_nrows > q->q_psize, NULL, NULL);
}

static void
send_pmsg(struct query *q, const struct pmsg *pm)
{
	struct rmsg	m;

	recent_from_pmsg(&m, pm);
	send_user(q, q->q_user);
	send_message(q, &m);
}

static void
posted_cb(const struct pmsg *m, const char *err, void *arg)
{
	struct query	*q = arg;

	if (err != NULL) {
		fail(q, err == order_temp_reused ? 400 : 503, err);
		return;
	}
	send_pmsg(q, m);
	finish(q, 201, 1, 0, NULL, NULL);
}

/* A retry of a stored message: answer with the stored one. */
static void
answer_stored(struct query *q, uint64_t id)
{
	char	sql[512];
	int	n;

	n = snprintf(sql, sizeof(sql), "SELECT " RECENT_COLUMNS
	    " FROM messages WHERE id = %" PRIu64, id);
	if (!need_sql(q, sql, n, rows_cb))
		return;
	if (q->q_nrows == 0) {
		fail(q, 503, "Message sending failed");
		return;
	}
	send_user(q, q->q_user);
	send_message(q, &q->q_rows[0]);
	finish(q, 200, 1, 0, NULL, NULL);
}

static void
step_post(struct query *q)
{
	struct room	*r;
	uint64_t	 dup;

	if (q->q_posted) {
		answer_stored(q, q->q_n[0]);
		return;
	}
	if ((r = need_room(q)) == NULL || !need_rooms(q, &q->q_room, 1))
		return;
	q->q_posted = 1;
	switch (order_post_rest(q->q_user, r->r_id, q->q_temp, q->q_temp_len,
	    q->q_content, q->q_content_len, posted_cb, q, &dup)) {
	case ORDER_QUEUED:
		/* posted_cb answers, perhaps already: q may be gone. */
		return;
	case ORDER_DUP_STORED:
		q->q_n[0] = dup;
		answer_stored(q, dup);
		return;
	case ORDER_DUP_PENDING:
		fail(q, 409, "A message with this temp_id is still being "
		    "stored; retry shortly.");
		return;
	case ORDER_DUP_OTHER:
		fail(q, 400, order_temp_reused);
		return;
	case ORDER_FAILED:
		fail(q, 503, "Message sending failed");
		return;
	}
}

static void
step_stats(struct query *q)
{
	char	sql[1024];
	int	n;

	n = snprintf(sql, sizeof(sql), "SELECT"
	    " (SELECT COUNT(*) FROM rooms WHERE participant1 = %" PRIu64
	    " OR participant2 = %" PRIu64 "),"
	    " COUNT(DISTINCT IF(m.created_at >= UTC_DATE(), m.room_id, NULL)),"
	    " COUNT(m.id) FROM rooms r JOIN messages m ON m.room_id = r.id"
	    " WHERE (r.participant1 = %" PRIu64 " OR r.participant2 = %" PRIu64
	    ") AND m." SQL_24H, q->q_user, q->q_user, q->q_user, q->q_user);
	if (!need_sql(q, sql, n, counts_cb))
		return;
	finish(q, 200, 0, 0, NULL, NULL);
}

static void
step_room_health(struct query *q)
{
	char	sql[256];
	int	n;

	if (need_room(q) == NULL)
		return;
	n = snprintf(sql, sizeof(sql), "SELECT 0, COUNT(*) FROM messages"
	    " WHERE room_id = %" PRIu64 " AND " SQL_24H, q->q_room);
	if (!need_sql(q, sql, n, counts_cb))
		return;
	q->q_n[0] = health_check_room(q->q_room);
	finish(q, 200, 0, 0, NULL, NULL);
}

static void
step_health_all(struct query *q)
{
	size_t	i;

	if (!need_room_ids(q))
		return;
	/* A room nobody has opened is not loaded and has nobody to ask. */
	for (i = 0; i < q->q_nids; i++)
		if (health_check_room(q->q_ids[i]) > 0)
			q->q_n[0]++;
	q->q_n[1] = q->q_nids;
	finish(q, 200, 0, 0, NULL, NULL);
}

static void
query_step(struct query *q)
{
	if (q->q_failed) {
		fail(q, 503, q->q_posted ? "Message sending failed" :
		    TXT_UNAVAILABLE);
		return;
	}
	if (!need_user(q))
		return;
	switch (q->q_kind) {
	case REST_Q_ROOMS:
		step_rooms(q);
		break;
	case REST_Q_ROOM:
		step_room(q);
		break;
	case REST_Q_MESSAGES:
		step_messages(q);
		break;
	case REST_Q_POST:
		step_post(q);
		break;
	case REST_Q_STATS:
		step_stats(q);
		break;
	case REST_Q_ROOM_HEALTH:
		step_room_health(q);
		break;
	case REST_Q_HEALTH_ALL:
		step_health_all(q);
		break;
	}
}

int
query_recv(int worker, struct wire_msg *m)
{
	struct query	*q;
	struct str	 temp, content;
	uint8_t		 kind;
	uint64_t	 user, room, page, before;
	uint32_t	 psize;

	if (rd_u8(&m->payload, &kind) == -1 ||
	    rd_u64(&m->payload, &user) == -1 ||
	    rd_u64(&m->payload, &room) == -1 ||
	    rd_u64(&m->payload, &page) == -1 ||
	    rd_u64(&m->payload, &before) == -1 ||
	    rd_u32(&m->payload, &psize) == -1 ||
	    rd_str(&m->payload, &temp) == -1 ||
	    rd_str(&m->payload, &content) == -1 ||
	    rd_left(&m->payload) != 0 || kind >= REST_Q_MAX || user == 0 ||
	    psize == 0 || psize > PAGE_SIZE_MAX)
		return -1;
	if ((q = query_new(worker, m->hdr.id)) == NULL)
		goto nomem;
	q->q_kind = kind;
	q->q_user = user;
	q->q_room = room;
	q->q_page = page;
	q->q_before = before;
	q->q_psize = psize;
	if ((q->q_temp = str_dup(&temp)) == NULL ||
	    (q->q_content = str_dup(&content)) == NULL) {
		query_free(q);
		goto nomem;
	}
	q->q_temp_len = temp.len;
	q->q_content_len = content.len;
	query_step(q);
	return 0;
nomem:
	log_warnx("%s: out of memory", __func__);
	if ((q = query_new(worker, m->hdr.id)) != NULL)
		fail(q, 503, TXT_UNAVAILABLE);
	return 0;
}

void
query_shutdown(void)
{
	/* Whatever still waits for MariaDB is never answered now. */
	while (queries != NULL)
		query_free(queries);
}
