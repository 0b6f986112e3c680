/*
 * presence.c - online/offline per user, from the connection count.
 *
 * A change is told in the user's cached rooms (room.h keeps a list per
 * user): a room that is not cached has no connections to tell.
 */
#include <inttypes.h>
#include <stdio.h>

#include "broker.h"
#include "buf.h"
#include "conn.h"
#include "db.h"
#include "wire.h"
#include "fanout.h"
#include "log.h"
#include "presence.h"
#include "room.h"

struct change {
	const struct user	*pc_user;
	int			 pc_online;
};

int
presence_online(uint64_t user)
{
	struct user	*u = user_get(user);

	return u != NULL && u->u_nconns > 0;
}

static void
store_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	(void)res;
	(void)affected;
	(void)arg;
	if (err != 0)
		log_warnx("%s: last_seen not stored: %s", __func__, errstr);
}

static void
store_last_seen(const struct user *u)
{
	char	q[160];
	int	n;

	n = snprintf(q, sizeof(q), "UPDATE users SET last_seen = "
	    "FROM_UNIXTIME(%" PRId64 ".%03d) WHERE id = %" PRIu64,
	    u->u_last_seen_ms / 1000, (int)(u->u_last_seen_ms % 1000),
	    u->u_id);
	if (db_query(broker->b_dbs, q, n, store_cb, NULL) == -1)
		log_warnx("%s: out of memory", __func__);
}

/* Tell the other participant of r, if connected, about pc. */
static void
tell_room(struct room *r, void *arg)
{
	const struct change	*pc = arg;
	const struct bconn	*c;
	uint64_t		 me = pc->pc_user->u_id;
	struct buf		 b;

	for (c = r->r_conns; c != NULL; c = c->c_room_next)
		if (c->c_user != me)
			break;
	if (c == NULL)
		return;
	buf_init(&b);
	buf_add_u64(&b, me);
	buf_add_u8(&b, pc->pc_online ? 1 : 0);
	buf_add_u64(&b, (uint64_t)pc->pc_user->u_last_seen_ms);
	buf_add_cstr(&b, pc->pc_user->u_username);
	fanout_room(r, MSG_PRESENCE, &b);
	buf_free(&b);
}

static void
changed(struct user *u, int online)
{
	struct change	pc = { u, online };

	u->u_last_seen_ms = now_ms();
	store_last_seen(u);
	user_foreach_room(u, tell_room, &pc);
}

void
presence_conn_open(struct bconn *c)
{
	struct user	*u = user_get(c->c_user);

	if (u != NULL && u->u_nconns++ == 0)
		changed(u, 1);
}

void
presence_conn_close(struct bconn *c)
{
	struct user	*u = user_get(c->c_user);

	if (u != NULL && u->u_nconns > 0 && --u->u_nconns == 0)
		changed(u, 0);
}
