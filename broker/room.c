/*
 * room.c - users and rooms cached from MariaDB, and room membership.
 *
 * A room's participants never change.  A user's names do when the
 * application renames someone: profile.c reads them again with the
 * avatars, at most profile_lifetime after they were last read, and hands
 * them to user_rename().  Rooms and users are not deleted in the
 * product, so the cache never holds a row that is gone.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "conn.h"
#include "db.h"
#include "grow.h"
#include "hmap.h"
#include "log.h"
#include "room.h"
#include "roomlist.h"

static struct hmap	users;
static struct hmap	rooms;

struct load_req {
	uint64_t	 lr_id;
	room_load_cb	*lr_cb;
	void		*lr_arg;
};

struct user *
user_get(uint64_t id)
{
	return hmap_get(&users, id);
}

struct room *
room_get(uint64_t id)
{
	return hmap_get(&rooms, id);
}

static char *
strdup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

/* Insert or keep a user row: (id, username, display_name). */
static struct user *
user_cache(const char *id, const char *username, const char *display)
{
	struct user	*u;
	uint64_t	 uid = strtoull(id, NULL, 10);

	if ((u = user_get(uid)) != NULL)
		return u;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	u->u_id = uid;
	u->u_username = strdup_or_empty(username);
	u->u_display_name = strdup_or_empty(display);
	u->u_names_ms = mono_ms();
	if (u->u_username == NULL || u->u_display_name == NULL ||
	    hmap_put(&users, uid, u) == -1) {
		free(u->u_username);
		free(u->u_display_name);
		free(u);
		return NULL;
	}
	return u;
}

/* Add r to u's rooms; -1 when out of memory. */
static int
user_add_room(struct user *u, struct room *r)
{
	size_t	cap = u->u_rooms_cap;

	if (grow(&u->u_rooms, &cap, (size_t)u->u_nrooms + 1, 4,
	    sizeof(*u->u_rooms)) == -1)
		return -1;
	u->u_rooms_cap = cap;
	u->u_rooms[u->u_nrooms++] = r;
	return 0;
}

/*
 * Insert or keep a room row (id, participant1, participant2, match_id,
 * created ms, username1, display1, username2, display2) and both its
 * users.  A room is cached only with both users and in both their room
 * lists, so presence never misses it.
 */
static struct room *
room_cache(uint64_t id, MYSQL_ROW row)
{
	struct user	*u1, *u2;
	struct room	*r;

	if ((r = room_get(id)) != NULL)
		return r;
	if ((u1 = user_cache(row[1], row[5], row[6])) == NULL ||
	    (u2 = user_cache(row[2], row[7], row[8])) == NULL ||
	    (r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->r_id = id;
	r->r_p1 = u1->u_id;
	r->r_p2 = u2->u_id;
	r->r_match = row[3] ? strtoull(row[3], NULL, 10) : 0;
	r->r_created_ms = strtoll(row[4], NULL, 10);
	if (user_add_room(u1, r) == -1)
		goto fail;
	if (user_add_room(u2, r) == -1) {
		u1->u_nrooms--;
		goto fail;
	}
	if (hmap_put(&rooms, r->r_id, r) == -1) {
		u1->u_nrooms--;
		u2->u_nrooms--;
		goto fail;
	}
	roomlist_add(r->r_id, r->r_p1, r->r_p2);
	return r;
fail:
	free(r);
	return NULL;
}

void
user_rename(uint64_t id, const char *username, const char *display)
{
	struct user	*u = user_get(id);
	char		*un, *dn;

	if (u == NULL || username == NULL || display == NULL)
		return;
	if (strcmp(u->u_username, username) != 0 ||
	    strcmp(u->u_display_name, display) != 0) {
		if ((un = strdup(username)) == NULL ||
		    (dn = strdup(display)) == NULL) {
			free(un);
			return;	/* the old names stay until the next read */
		}
		free(u->u_username);
		free(u->u_display_name);
		u->u_username = un;
		u->u_display_name = dn;
	}
	u->u_names_ms = mono_ms();
}

void
user_foreach_room(const struct user *u, void (*fn)(struct room *, void *),
    void *arg)
{
	unsigned	i;

	for (i = 0; i < u->u_nrooms; i++)
		fn(u->u_rooms[i], arg);
}

static void
user_loaded_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	struct load_req	*lr = arg;
	MYSQL_ROW	 row;
	int		 found = 0;

	(void)affected;
	if (err != 0) {
		log_warnx("%s: user %" PRIu64 ": %s", __func__, lr->lr_id,
		    errstr);
		found = -1;
	} else if ((row = db_row(res)) != NULL)
		found = user_cache(row[0], row[1], row[2]) ? 1 : -1;
	lr->lr_cb(found, lr->lr_arg);
	free(lr);
}

static void
room_loaded_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	struct load_req	*lr = arg;
	MYSQL_ROW	 row;
	int		 found = 0;

	(void)affected;
	if (err != 0) {
		log_warnx("%s: room %" PRIu64 ": %s", __func__, lr->lr_id,
		    errstr);
		found = -1;
	} else if ((row = db_row(res)) != NULL)
		found = room_cache(lr->lr_id, row) == NULL ? -1 : 1;
	lr->lr_cb(found, lr->lr_arg);
	free(lr);
}

static void
load(const char *sql, uint64_t id, db_cb *done, room_load_cb *cb, void *arg)
{
	struct load_req	*lr;
	char		 q[512];
	int		 n;

	n = snprintf(q, sizeof(q), sql, id);
	if ((lr = malloc(sizeof(*lr))) == NULL) {
		cb(-1, arg);
		return;
	}
	lr->lr_id = id;
	lr->lr_cb = cb;
	lr->lr_arg = arg;
	if (db_query(broker->b_dbr, q, n, done, lr) == -1) {
		free(lr);
		cb(-1, arg);
	}
}

void
user_load(uint64_t id, room_load_cb *cb, void *arg)
{
	load("SELECT id, username, display_name FROM users WHERE id = %"
	    PRIu64, id, user_loaded_cb, cb, arg);
}

void
room_load(uint64_t id, room_load_cb *cb, void *arg)
{
	load("SELECT r.id, r.participant1, r.participant2, r.match_id,"
	    " FLOOR(UNIX_TIMESTAMP(r.created_at) * 1000),"
	    " u1.username, u1.display_name, u2.username, u2.display_name"
	    " FROM rooms r JOIN users u1 ON u1.id = r.participant1"
	    " JOIN users u2 ON u2.id = r.participant2 WHERE r.id = %" PRIu64,
	    id, room_loaded_cb, cb, arg);
}

int
room_is_participant(const struct room *r, uint64_t user_id)
{
	return user_id != 0 && (r->r_p1 == user_id || r->r_p2 == user_id);
}

void
room_add_conn(struct room *r, struct bconn *c)
{
	c->c_room_next = r->r_conns;
	r->r_conns = c;
	r->r_nconns++;
}

void
room_del_conn(struct room *r, struct bconn *c)
{
	struct bconn	**pp;

	for (pp = &r->r_conns; *pp != NULL; pp = &(*pp)->c_room_next)
		if (*pp == c) {
			*pp = c->c_room_next;
			c->c_room_next = NULL;
			r->r_nconns--;
			return;
		}
	CHATD_ASSERT(0 && "connection not in its room");
}

uint64_t
room_workers(const struct room *r)
{
	const struct bconn	*c;
	uint64_t		 mask = 0;

	for (c = r->r_conns; c != NULL; c = c->c_room_next)
		mask |= 1ULL << c->c_worker;
	return mask;
}
