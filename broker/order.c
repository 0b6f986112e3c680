/*
 * order.c - ids, de-duplication, group commit and delivery after COMMIT.
 *
 * Messages queue in "waiting" while a batch is in flight; when the batch
 * commits, the next one is every message that arrived meanwhile, in one
 * INSERT executed with arrays of parameters (MariaDB's bulk protocol: no
 * SQL text per row to build, escape or parse).  No timer adds latency: an
 * idle broker flushes at once, a busy one makes large batches on its own.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "buf.h"
#include "conn.h"
#include "db.h"
#include "fanout.h"
#include "hmap.h"
#include "link.h"
#include "log.h"
#include "order.h"
#include "recent.h"
#include "room.h"
#include "stats.h"
#include "status.h"
#include "wire.h"

#define BATCH_MAX_ROWS	4000
/* A row's share of the bulk packet: its strings and about 80 bytes of
 * numbers, times, lengths and indicators. */
#define ROW_BYTES(content_len, temp_len)	((content_len) + (temp_len) + 96)
#define BATCH_MAX_BYTES	(8 * 1024 * 1024)	/* half the default packet */
#define QUEUE_MAX	200000			/* then senders get "failed" */
#define DEDUP_MAX	65536			/* remembered (sender, temp_id) pairs */

struct pqueue {
	struct pmsg	*q_head, **q_tail;
	size_t		 q_len;
};

/*
 * A recent (sender, temp_id) and the message it was given to.  The room
 * and a hash of the content tell a retry of that message (answered with
 * it) from a new message that reuses the temp_id (refused).
 */
struct dedup {
	uint64_t	 d_hash;
	uint64_t	 d_sender;
	uint64_t	 d_msg_id;
	uint64_t	 d_room;
	uint64_t	 d_content_hash;
	int64_t		 d_created_ms;
	uint64_t	 d_echo_conn;	/* a retry's connection, 0 = none */
	int		 d_committed;
	size_t		 d_temp_len;
	char		 d_temp[];
};

const char	order_temp_reused[] = "temp_id already used for another "
    "message";

static uint64_t		next_id = 1;
static struct pqueue	waiting = { NULL, &waiting.q_head, 0 };
static struct pqueue	inflight = { NULL, &inflight.q_head, 0 };
static struct hmap	dedup_map;
static struct dedup	*dedup_ring[DEDUP_MAX];
static size_t		 dedup_pos;
static struct buf	 sql;
static int		 rowwise;	/* a failed batch is being retried row by row */
static size_t		 rowwise_left;	/* its rows not answered yet */
static int64_t		 batch_start_us;
static size_t		 batch_max_bytes = BATCH_MAX_BYTES;

static void	flush(void);
static int	find_twin(struct pmsg *);

/*
 * The write batch's parameters, column by column as db_execute() takes
 * them: values for the numbers, pointers for strings and times.  Sized
 * for the largest batch; a row-by-row retry binds one row of them.
 */
static struct {
	uint64_t	 id[BATCH_MAX_ROWS];
	uint64_t	 room[BATCH_MAX_ROWS];
	uint64_t	 sender[BATCH_MAX_ROWS];
	char		*content[BATCH_MAX_ROWS];
	unsigned long	 content_len[BATCH_MAX_ROWS];
	char		*temp[BATCH_MAX_ROWS];
	unsigned long	 temp_len[BATCH_MAX_ROWS];
	char		 temp_ind[BATCH_MAX_ROWS];	/* STMT_INDICATOR_* */
	MYSQL_TIME	 time[BATCH_MAX_ROWS];
	MYSQL_TIME	*time_ptr[BATCH_MAX_ROWS];
} cols;

void
order_init(uint64_t max_id, uint64_t max_packet)
{
	size_t	i;

	next_id = max_id + 1;
	/* A statement over max_allowed_packet costs the connection, and
	 * the retry would fail the same way forever: batches stay within
	 * half of it, and a message that cannot fit is refused. */
	if (max_packet > 0 && max_packet / 2 < batch_max_bytes) {
		batch_max_bytes = max_packet / 2;
		log_warnx("MariaDB's max_allowed_packet is %" PRIu64 " bytes: "
		    "write batches of at most %zu bytes", max_packet,
		    batch_max_bytes);
	}
	hmap_init(&dedup_map);
	buf_init(&sql);
	for (i = 0; i < BATCH_MAX_ROWS; i++)
		cols.time_ptr[i] = &cols.time[i];
}

size_t
order_pending(void)
{
	/* Rows retried one by one count until answered: shutting down
	 * waits for them like for any batch. */
	return waiting.q_len + inflight.q_len + rowwise_left;
}

static void
pq_push(struct pqueue *q, struct pmsg *m)
{
	m->m_next = NULL;
	*q->q_tail = m;
	q->q_tail = &m->m_next;
	q->q_len++;
}

/* Content and temp_id live in the same allocation. */
static void
pmsg_free(struct pmsg *m)
{
	free(m);
}

#define FNV_BASIS	0xcbf29ce484222325ULL

static uint64_t
fnv64(uint64_t h, const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t
dedup_hash(uint64_t sender, const char *t, size_t n)
{
	uint64_t	h = fnv64(FNV_BASIS ^ sender, t, n);

	return h ? h : 1;
}

/* Same room, same content: the client sends d's message again. */
static int
dedup_is_retry(const struct dedup *d, uint64_t room, const char *content,
    size_t len)
{
	return d->d_room == room &&
	    d->d_content_hash == fnv64(FNV_BASIS, content, len);
}

static struct dedup *
dedup_find(uint64_t sender, const char *t, size_t n)
{
	struct dedup	*d;

	d = hmap_get(&dedup_map, dedup_hash(sender, t, n));
	if (d == NULL || d->d_sender != sender || d->d_temp_len != n ||
	    memcmp(d->d_temp, t, n) != 0)
		return NULL;
	return d;
}

static void
dedup_add(struct pmsg *m)
{
	struct dedup	*d, *old;

	if (m->m_temp_id == NULL)
		return;
	if ((d = malloc(sizeof(*d) + m->m_temp_len)) == NULL)
		return;		/* only retries lose their shortcut */
	d->d_hash = dedup_hash(m->m_sender, m->m_temp_id, m->m_temp_len);
	d->d_sender = m->m_sender;
	d->d_msg_id = m->m_id;
	d->d_room = m->m_room;
	d->d_content_hash = fnv64(FNV_BASIS, m->m_content, m->m_content_len);
	d->d_created_ms = m->m_created_ms;
	d->d_echo_conn = 0;
	d->d_committed = 0;
	d->d_temp_len = m->m_temp_len;
	memcpy(d->d_temp, m->m_temp_id, m->m_temp_len);
	if ((old = dedup_ring[dedup_pos]) != NULL) {
		if (hmap_get(&dedup_map, old->d_hash) == old)
			hmap_del(&dedup_map, old->d_hash);
		free(old);
	}
	dedup_ring[dedup_pos] = d;
	m->m_dedup = dedup_pos + 1;
	dedup_pos = (dedup_pos + 1) % DEDUP_MAX;
	if (hmap_put(&dedup_map, d->d_hash, d) == -1)
		log_warnx("%s: out of memory", __func__);
}

/* m's entry, found by its slot: no hashing on the way to delivery.  A
 * slot taken over by a newer message holds another id. */
static struct dedup *
dedup_of(const struct pmsg *m)
{
	struct dedup	*d;

	if (m->m_dedup == 0 || (d = dedup_ring[m->m_dedup - 1]) == NULL ||
	    d->d_msg_id != m->m_id || d->d_sender != m->m_sender)
		return NULL;
	return d;
}

/* Fan one committed message out to the workers holding the room; the
 * copy for sender_conn (a conn_key, 0 = none) carries the temp_id. */
static void
deliver(const struct pmsg *m, uint64_t sender_conn)
{
	struct room	*r;
	struct bconn	*sc;
	uint64_t	 mask;
	int		 w;

	status_note_stored(m->m_id, m->m_room, m->m_sender);
	if ((r = room_get(m->m_room)) == NULL || r->r_nconns == 0)
		return;
	sc = sender_conn ? conn_get(sender_conn) : NULL;
	mask = room_workers(r);
	for (w = 0; mask != 0; w++, mask >>= 1)
		if (mask & 1) {
			send_deliver(w, m, sc != NULL && sc->c_worker == w ?
			    sc->c_id : 0);
			stats.deliver_frames++;
		}
}

/* Tell the client on connection conn_key (if still open) that m failed. */
static void
tell_failed(uint64_t conn_key, const struct pmsg *m, const char *reason)
{
	struct bconn	*c;

	if (conn_key != 0 && (c = conn_get(conn_key)) != NULL)
		send_send_fail(c->c_worker, c->c_id, m->m_temp_id,
		    m->m_temp_len, reason);
}

static void
fail_msg(const struct pmsg *m, const char *reason)
{
	struct dedup	*d;
	uint64_t	 echo_conn = 0;

	/* A client's retry of a failed message is a new try, not a copy of
	 * one on its way. */
	if ((d = dedup_of(m)) != NULL) {
		echo_conn = d->d_echo_conn;
		if (hmap_get(&dedup_map, d->d_hash) == d)
			hmap_del(&dedup_map, d->d_hash);
	}

	stats.msgs_failed++;
	tell_failed(m->m_sender_conn, m, reason);
	/* A retry on another connection waits for the answer there. */
	if (echo_conn != m->m_sender_conn)
		tell_failed(echo_conn, m, reason);
	if (m->m_done != NULL)
		m->m_done(m, reason, m->m_done_arg);
}

/*
 * m is in MariaDB: remember it, cache it, fan it out and answer the REST
 * request waiting for it.  fresh is 0 for a retry found stored under an
 * earlier id: that row is not new.
 */
static void
stored(const struct pmsg *m, int fresh)
{
	struct dedup	*d = dedup_of(m);
	uint64_t	 sender_conn = m->m_sender_conn;

	if (d != NULL) {
		d->d_committed = 1;
		/* Retried on another connection while on its way: the
		 * client waits for its temp_id there. */
		if (d->d_echo_conn != 0)
			sender_conn = d->d_echo_conn;
	}
	if (fresh)
		recent_committed(m);
	deliver(m, sender_conn);
	if (m->m_done != NULL)
		m->m_done(m, NULL, m->m_done_arg);
}

/*
 * Make a pmsg with the next id and queue it for the next batch; NULL if
 * the queue is full or memory is short.  De-duplication is the caller's.
 */
static struct pmsg *
order_accept(uint64_t user, uint64_t room, uint64_t sender_conn,
    const char *temp_id, size_t temp_len, const char *content,
    size_t content_len)
{
	struct pmsg	*m;

	if (order_pending() >= QUEUE_MAX ||
	    ROW_BYTES(content_len, temp_len) > batch_max_bytes)
		return NULL;
	/* One allocation for the message, its content and its temp_id. */
	if ((m = malloc(sizeof(*m) + content_len + 1 + temp_len + 1)) == NULL)
		return NULL;
	memset(m, 0, sizeof(*m));
	m->m_content = (char *)(m + 1);
	if (temp_len > 0)
		m->m_temp_id = m->m_content + content_len + 1;
	/* Assigned before the INSERT is issued: delivery order must not
	 * depend on which query happens to complete first. */
	m->m_id = next_id++;
	m->m_room = room;
	m->m_sender = user;
	m->m_sender_conn = sender_conn;
	m->m_created_ms = now_ms();
	memcpy(m->m_content, content, content_len);
	m->m_content[content_len] = '\0';
	m->m_content_len = content_len;
	if (temp_len > 0) {
		memcpy(m->m_temp_id, temp_id, temp_len);
		m->m_temp_id[temp_len] = '\0';
		m->m_temp_len = temp_len;
	}
	dedup_add(m);
	stats.msgs_received++;
	pq_push(&waiting, m);
	return m;
}

/*
 * Answer a retry of a stored message on the connection it came on: the
 * stored message with its temp_id, as the sender's copy was.
 */
static void
echo_stored(const struct bconn *c, const struct dedup *d,
    const char *content, size_t content_len)
{
	const struct rmsg	*rm;
	const struct user	*u = user_get(c->c_user);
	struct conn_msg		 cm;
	int			 more;

	cm.room = d->d_room;
	cm.id = d->d_msg_id;
	cm.sender = d->d_sender;
	cm.created_ms = d->d_created_ms;
	/* Its status now, if memory holds it; a replay tells the rest. */
	cm.status = MS_SENT;
	if (recent_ready(d->d_room) && recent_slice(d->d_room, 0,
	    d->d_msg_id + 1, 1, &rm, &more) == 1 && rm->id == d->d_msg_id)
		cm.status = rm->status;
	cm.username = u != NULL ? u->u_username : NULL;
	cm.temp_id = d->d_temp;
	cm.temp_len = d->d_temp_len;
	cm.content = content;
	cm.content_len = content_len;
	fanout_conn_msg(c, MSG_ECHO, &cm);
}

void
order_post(struct bconn *c, const char *temp_id, size_t temp_len,
    const char *content, size_t content_len)
{
	struct dedup	*d;

	if (temp_len > 0 && (d = dedup_find(c->c_user, temp_id, temp_len))
	    != NULL) {
		if (!dedup_is_retry(d, c->c_room_id, content, content_len)) {
			send_send_fail(c->c_worker, c->c_id, temp_id, temp_len,
			    order_temp_reused);
			return;
		}
		/* A client retry: the first copy is stored or on its way. */
		log_debug("%s: retry of message %" PRIu64 " (%s)", __func__,
		    d->d_msg_id, d->d_committed ? "stored" : "pending");
		stats.msgs_duplicate++;
		if (d->d_committed)
			echo_stored(c, d, content, content_len);
		else
			d->d_echo_conn = c->c_key;
		return;
	}
	if (order_accept(c->c_user, c->c_room_id, c->c_key, temp_id,
	    temp_len, content, content_len) == NULL) {
		send_send_fail(c->c_worker, c->c_id, temp_id, temp_len,
		    "Message sending failed");
		return;
	}
	flush();
}

enum order_res
order_post_rest(uint64_t user, uint64_t room, const char *temp_id,
    size_t temp_len, const char *content, size_t content_len,
    order_done_cb *done, void *arg, uint64_t *dup_out)
{
	struct dedup	*d;
	struct pmsg	*m;

	if (temp_len > 0 && (d = dedup_find(user, temp_id, temp_len))
	    != NULL) {
		if (!dedup_is_retry(d, room, content, content_len))
			return ORDER_DUP_OTHER;
		stats.msgs_duplicate++;
		*dup_out = d->d_msg_id;
		return d->d_committed ? ORDER_DUP_STORED : ORDER_DUP_PENDING;
	}
	if ((m = order_accept(user, room, 0, temp_id, temp_len, content,
	    content_len)) == NULL)
		return ORDER_FAILED;
	m->m_done = done;
	m->m_done_arg = arg;
	flush();
	return ORDER_QUEUED;
}

static void
sql_string(struct buf *b, const char *s, size_t n)
{
	unsigned long	len;

	if (buf_reserve(b, 2 * n + 3) == -1)
		return;
	b->b_data[b->b_len++] = '\'';
	len = db_escape(broker->b_dbw, (char *)b->b_data + b->b_len, s, n);
	b->b_len += len;
	b->b_data[b->b_len++] = '\'';
}

/* The three times (sent, created, updated) are the same one. */
static const char insert_stmt[] = "INSERT INTO messages (id, room_id, "
    "sender_id, content, status, temp_id, sent_at, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)";
#define INSERT_PARAMS	8

/* Milliseconds since the epoch as a UTC DATETIME(3); one gmtime a second. */
static void
ms_to_time(int64_t ms, MYSQL_TIME *t)
{
	static time_t		cached_sec = -1;
	static struct tm	tm;
	time_t			sec = ms / 1000;

	if (sec != cached_sec) {
		gmtime_r(&sec, &tm);
		cached_sec = sec;
	}
	memset(t, 0, sizeof(*t));
	t->year = tm.tm_year + 1900;
	t->month = tm.tm_mon + 1;
	t->day = tm.tm_mday;
	t->hour = tm.tm_hour;
	t->minute = tm.tm_min;
	t->second = tm.tm_sec;
	t->second_part = (unsigned long)(ms % 1000) * 1000;
	t->time_type = MYSQL_TIMESTAMP_DATETIME;
}

static void
cols_set(size_t i, struct pmsg *m)
{
	cols.id[i] = m->m_id;
	cols.room[i] = m->m_room;
	cols.sender[i] = m->m_sender;
	cols.content[i] = m->m_content;
	cols.content_len[i] = m->m_content_len;
	cols.temp[i] = m->m_temp_id;
	cols.temp_len[i] = m->m_temp_len;
	cols.temp_ind[i] = m->m_temp_id != NULL ? STMT_INDICATOR_NONE :
	    STMT_INDICATOR_NULL;
	ms_to_time(m->m_created_ms, &cols.time[i]);
}

static void
bind_u64(MYSQL_BIND *b, uint64_t *v)
{
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = v;
	b->is_unsigned = 1;
}

static void
bind_str(MYSQL_BIND *b, char **v, unsigned long *len)
{
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = v;
	b->length = len;
}

/* Bind the rows of cols from row first on. */
static void
bind_rows(MYSQL_BIND b[INSERT_PARAMS], size_t first)
{
	int	i;

	memset(b, 0, INSERT_PARAMS * sizeof(*b));
	bind_u64(&b[0], &cols.id[first]);
	bind_u64(&b[1], &cols.room[first]);
	bind_u64(&b[2], &cols.sender[first]);
	bind_str(&b[3], &cols.content[first], &cols.content_len[first]);
	bind_str(&b[4], &cols.temp[first], &cols.temp_len[first]);
	b[4].u.indicator = &cols.temp_ind[first];
	for (i = 5; i < INSERT_PARAMS; i++) {
		b[i].buffer_type = MYSQL_TYPE_DATETIME;
		b[i].buffer = &cols.time_ptr[first];
	}
}

static void	batch_done_cb(MYSQL_RES *, unsigned, const char *,
		    unsigned long long, void *);
static void	row_done_cb(MYSQL_RES *, unsigned, const char *,
		    unsigned long long, void *);
static void	rowwise_done_cb(MYSQL_RES *, unsigned, const char *,
		    unsigned long long, void *);

static void
flush(void)
{
	struct pmsg	*m;
	MYSQL_BIND	 b[INSERT_PARAMS];
	size_t		 bytes = 0;

	if (inflight.q_len > 0 || rowwise || waiting.q_len == 0)
		return;
	while ((m = waiting.q_head) != NULL &&
	    inflight.q_len < BATCH_MAX_ROWS && (inflight.q_len == 0 ||
	    bytes + ROW_BYTES(m->m_content_len, m->m_temp_len) <=
	    batch_max_bytes)) {
		if ((waiting.q_head = m->m_next) == NULL)
			waiting.q_tail = &waiting.q_head;
		waiting.q_len--;
		cols_set(inflight.q_len, m);
		bytes += ROW_BYTES(m->m_content_len, m->m_temp_len);
		pq_push(&inflight, m);
	}
	bind_rows(b, 0);
	/* The batch may complete inside db_execute(). */
	batch_start_us = now_us();
	if (db_execute(broker->b_dbw, insert_stmt, b, INSERT_PARAMS,
	    inflight.q_len, batch_done_cb, NULL) == -1)
		fatalx("%s: out of memory queueing the write batch", __func__);
}

static void
finish_inflight(void)
{
	struct pmsg	*m;

	while ((m = inflight.q_head) != NULL) {
		inflight.q_head = m->m_next;
		pmsg_free(m);
	}
	inflight.q_tail = &inflight.q_head;
	inflight.q_len = 0;
}

static void
batch_done_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	struct pmsg	*m, *next, *rows;
	size_t		 i;
	static const char marker[] = "DO 1";

	(void)res;
	(void)arg;
	(void)affected;
	if (err == 0) {
		stats.batches++;
		stats.msgs_stored += inflight.q_len;
		stats.commit_us_total += now_us() - batch_start_us;
		if (inflight.q_len > stats.batch_rows_max)
			stats.batch_rows_max = inflight.q_len;
		for (m = inflight.q_head; m != NULL; m = m->m_next)
			stored(m, 1);
		finish_inflight();
		flush();
		return;
	}
	/*
	 * The batch is atomic, so nothing of it is stored.  Retry row by
	 * row: one bad row (or a retry of a message stored before a
	 * restart, caught by the (sender, temp_id) key) must not sink the
	 * others.
	 */
	log_warnx("%s: batch of %zu failed (%s), retrying row by row",
	    __func__, inflight.q_len, errstr);
	/* The rows are owned by their queries from here: a query may
	 * finish (and free its row) inside db_query(). */
	rows = inflight.q_head;
	rowwise = 1;
	rowwise_left = inflight.q_len;
	inflight.q_len = 0;
	inflight.q_head = NULL;
	inflight.q_tail = &inflight.q_head;
	for (i = 0, m = rows; m != NULL; i++, m = next) {
		MYSQL_BIND	b[INSERT_PARAMS];

		next = m->m_next;
		bind_rows(b, i);
		if (db_execute(broker->b_dbw, insert_stmt, b, INSERT_PARAMS, 1,
		    row_done_cb, m) == -1)
			fatalx("%s: out of memory", __func__);
	}
	/* A marker query: when it completes, every row above has. */
	if (db_query(broker->b_dbw, marker, sizeof(marker) - 1,
	    rowwise_done_cb, NULL) == -1)
		fatalx("%s: out of memory", __func__);
}

static void
row_done_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	struct pmsg	*m = arg;

	(void)res;
	(void)affected;
	rowwise_left--;
	if (err == 0) {
		stats.msgs_stored++;
		stored(m, 1);
	} else if (err == 1062 && strstr(errstr, "PRIMARY") != NULL) {
		/* Stored by an earlier try whose answer was lost with its
		 * connection. */
		stored(m, 1);
	} else if (err == 1062 && m->m_temp_id != NULL) {
		/* A retry of a message stored before the broker restarted:
		 * it counts as pending (a REST retry hears "retry shortly")
		 * until the twin's id is known. */
		if (find_twin(m) == 0)
			return;		/* twin_found_cb frees m */
		fail_msg(m, "Message sending failed");
	} else {
		log_warnx("%s: message %" PRIu64 " not stored: %s", __func__,
		    m->m_id, errstr);
		fail_msg(m, "Message sending failed");
	}
	pmsg_free(m);
}

static void
rowwise_done_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	(void)res;
	(void)err;
	(void)errstr;
	(void)affected;
	(void)arg;
	rowwise = 0;
	flush();
}

/* d stands for the stored row (id, created ms, room_id, content) now. */
static void
dedup_set_stored(struct dedup *d, MYSQL_ROW row)
{
	d->d_msg_id = strtoull(row[0], NULL, 10);
	d->d_created_ms = strtoll(row[1], NULL, 10);
	d->d_room = strtoull(row[2], NULL, 10);
	d->d_content_hash = fnv64(FNV_BASIS, row[3], strlen(row[3]));
}

/* The stored twin of a retried message: deliver it under its own id. */
static void
twin_found_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	struct pmsg	*m = arg;
	struct dedup	*d;
	MYSQL_ROW	 row;

	(void)affected;
	if (err != 0 || (row = db_row(res)) == NULL) {
		log_warnx("%s: message %" PRIu64 ": stored twin not found: %s",
		    __func__, m->m_id, err ? errstr : "no row");
		fail_msg(m, "Message sending failed");
	} else if (strtoull(row[2], NULL, 10) != m->m_room ||
	    strlen(row[3]) != m->m_content_len ||
	    memcmp(row[3], m->m_content, m->m_content_len) != 0) {
		/* Not a retry: a new message under a temp_id used before. */
		d = dedup_of(m);
		fail_msg(m, order_temp_reused);
		/* The entry now stands for the stored message, so that more
		 * reuses are refused, and retries of it answered, without
		 * failing a write batch on MariaDB's key each time. */
		if (d != NULL) {
			dedup_set_stored(d, row);
			d->d_echo_conn = 0;
			d->d_committed = 1;
			if (hmap_put(&dedup_map, d->d_hash, d) == -1)
				log_warnx("%s: out of memory", __func__);
		}
	} else {
		/* Retries from now on are answered with the stored id. */
		if ((d = dedup_of(m)) != NULL)
			dedup_set_stored(d, row);
		m->m_id = strtoull(row[0], NULL, 10);
		m->m_created_ms = strtoll(row[1], NULL, 10);
		stored(m, 0);
	}
	pmsg_free(m);
}

static int
find_twin(struct pmsg *m)
{
	char	q[256];
	int	n;

	n = snprintf(q, sizeof(q), "SELECT id, FLOOR(UNIX_TIMESTAMP(created_at)"
	    " * 1000), room_id, content FROM messages WHERE sender_id = %" PRIu64
	    " AND temp_id = ", m->m_sender);
	buf_reset(&sql);
	buf_add(&sql, q, n);
	sql_string(&sql, m->m_temp_id, m->m_temp_len);
	return sql.b_err ? -1 : db_query(broker->b_dbr, (char *)sql.b_data,
	    sql.b_len, twin_found_cb, m);
}
