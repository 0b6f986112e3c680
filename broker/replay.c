/*
 * replay.c - replay a room from a message id, with two queries on the
 * read connection: where and when that message is, then what came after
 * it.  Both run after the connection joined its room, so every message
 * committed before is found by the second query and every one committed
 * after is also delivered live (the worker drops the second copy).
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
#include "log.h"
#include "replay.h"
#include "room.h"

/* Rows per replay; past it the client is told to ask again. */
#define REPLAY_MAX	1000

struct replay {
	uint64_t	rp_conn;	/* conn_key */
	uint64_t	rp_since;
};

static void
finish(struct bconn *c, const char *notice)
{
	struct buf	b;

	buf_init(&b);
	buf_add_cstr(&b, notice);
	fanout_conn(c, MSG_REPLAY_DONE, &b);
	buf_free(&b);
}

/* The connection, if it is still open; else rp is freed. */
static struct bconn *
still_open(struct replay *rp)
{
	struct bconn	*c = conn_get(rp->rp_conn);

	if (c == NULL || c->c_state != BC_OPEN) {
		free(rp);
		return NULL;
	}
	return c;
}

static void
send_row(struct bconn *c, MYSQL_ROW row, uint64_t since)
{
	struct room	*r = c->c_room;
	uint64_t	 id = strtoull(row[0], NULL, 10);
	uint64_t	 sender = strtoull(row[1], NULL, 10);
	struct conn_msg	 cm;
	struct buf	 b;

	if (id > since) {
		cm.room = c->c_room_id;
		cm.id = id;
		cm.sender = sender;
		cm.created_ms = strtoll(row[2], NULL, 10);
		cm.status = atoi(row[3]);
		cm.username = row[5];
		cm.temp_id = sender == c->c_user ? row[7] : NULL;
		cm.temp_len = cm.temp_id != NULL ? strlen(cm.temp_id) : 0;
		cm.content = row[6];
		cm.content_len = strlen(row[6]);
		fanout_conn_msg(c, MSG_REPLAY_MSG, &cm);
		return;
	}
	/* Only the recipient moves a status: it was the other one. */
	buf_init(&b);
	buf_add_u64(&b, id);
	buf_add_u8(&b, (uint8_t)atoi(row[3]));
	buf_add_u64(&b, strtoull(row[4], NULL, 10));
	buf_add_u64(&b, sender == r->r_p1 ? r->r_p2 : r->r_p1);
	buf_add_u32(&b, c->c_id);
	fanout_worker(c->c_worker, MSG_STATUS_UPDATE, c->c_room_id, &b);
	buf_free(&b);
}

/*
 * The connection a replay query answered for, or NULL when there is
 * nothing more to do: the connection is gone, or the query failed (the
 * client is told).  rp is freed whenever NULL is returned.
 */
static struct bconn *
query_answered(struct replay *rp, unsigned err, const char *errstr)
{
	struct bconn	*c;

	if ((c = still_open(rp)) == NULL)
		return NULL;
	if (err != 0) {
		log_warnx("replay: %s", errstr);
		finish(c, "Replay failed: the server could not read the "
		    "history, try again");
		free(rp);
		return NULL;
	}
	return c;
}

static void
rows_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	struct replay	*rp = arg;
	struct bconn	*c;
	MYSQL_ROW	 row;
	uint64_t	 last = rp->rp_since;
	size_t		 n = 0;
	char		 notice[160];

	(void)affected;
	if ((c = query_answered(rp, err, errstr)) == NULL)
		return;
	notice[0] = '\0';
	while ((row = db_row(res)) != NULL) {
		if (n++ == REPLAY_MAX) {
			snprintf(notice, sizeof(notice), "Replay incomplete: "
			    "more than %d messages; reconnect with since=%"
			    PRIu64 " for the rest", REPLAY_MAX, last);
			break;
		}
		send_row(c, row, rp->rp_since);
		if (strtoull(row[0], NULL, 10) > last)
			last = strtoull(row[0], NULL, 10);
	}
	finish(c, notice);
	free(rp);
}

static void
anchor_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	struct replay	*rp = arg;
	struct bconn	*c;
	MYSQL_ROW	 row = NULL;
	char		 q[640], notice[160];
	int64_t		 created;
	int		 n;

	(void)affected;
	if ((c = query_answered(rp, err, errstr)) == NULL)
		return;
	row = db_row(res);
	if (row == NULL || strtoull(row[0], NULL, 10) != c->c_room_id) {
		snprintf(notice, sizeof(notice), "Cannot replay: message %"
		    PRIu64 " is not in this room", rp->rp_since);
		finish(c, notice);
		free(rp);
		return;
	}
	created = strtoll(row[1], NULL, 10);
	n = snprintf(q, sizeof(q), "SELECT m.id, m.sender_id,"
	    " FLOOR(UNIX_TIMESTAMP(m.created_at) * 1000), m.status,"
	    " FLOOR(UNIX_TIMESTAMP(m.updated_at) * 1000), u.username,"
	    " m.content, m.temp_id"
	    " FROM messages m JOIN users u ON u.id = m.sender_id"
	    " WHERE m.room_id = %" PRIu64 " AND (m.id > %" PRIu64
	    " OR (m.status > 1 AND m.updated_at > FROM_UNIXTIME(%" PRId64
	    ".%03d))) ORDER BY m.id LIMIT %d", c->c_room_id, rp->rp_since,
	    created / 1000, (int)(created % 1000), REPLAY_MAX + 1);
	if (n < 0 || (size_t)n >= sizeof(q) ||
	    db_query(broker->b_dbr, q, n, rows_cb, rp) == -1) {
		finish(c, "Replay failed: out of memory");
		free(rp);
	}
}

void
replay_start(struct bconn *c, uint64_t since)
{
	struct replay	*rp;
	char		 q[160];
	int		 n;

	if ((rp = malloc(sizeof(*rp))) == NULL) {
		finish(c, "Replay failed: out of memory");
		return;
	}
	rp->rp_conn = c->c_key;
	rp->rp_since = since;
	n = snprintf(q, sizeof(q), "SELECT room_id, FLOOR(UNIX_TIMESTAMP("
	    "created_at) * 1000) FROM messages WHERE id = %" PRIu64, since);
	if (db_query(broker->b_dbr, q, n, anchor_cb, rp) == -1) {
		free(rp);
		finish(c, "Replay failed: out of memory");
	}
}
