/*
 * ctlstore.c - chatctl requests that read or write users and rooms in
 * MariaDB, and token minting.  Everything goes through ctl_query(), on
 * the control connection, so an administrator's listing never delays a
 * chat message.
 *
 * A USER argument that is all digits is a user id, anything else a
 * username; so chatctl refuses to create an all-digit username.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "buf.h"
#include "control.h"
#include "db.h"
#include "json.h"
#include "mint.h"
#include "room.h"
#include "roomlist.h"
#include "wire.h"

#define USERNAME_MAX	150	/* characters: the column's width */
#define DISPLAY_MAX	255
#define TTL_MAX		(10L * 366 * 86400)

/* Columns of a user row, in the order user_json() reads them. */
#define USER_COLS	"id, username, display_name, image_urls," \
	" FLOOR(UNIX_TIMESTAMP(last_seen) * 1000)," \
	" FLOOR(UNIX_TIMESTAMP(created_at) * 1000)"
#define ROOM_SELECT	"SELECT r.id, r.participant1, u1.username," \
	" r.participant2, u2.username, r.match_id," \
	" FLOOR(UNIX_TIMESTAMP(r.created_at) * 1000)," \
	" (SELECT COUNT(*) FROM messages m WHERE m.room_id = r.id)" \
	" FROM rooms r JOIN users u1 ON u1.id = r.participant1" \
	" JOIN users u2 ON u2.id = r.participant2"

static int
all_digits(const char *s, size_t n)
{
	size_t	i;

	if (n == 0 || n > 19)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static size_t
utf8_len(const char *s, size_t n)
{
	size_t	i, chars = 0;

	for (i = 0; i < n; i++)
		chars += ((unsigned char)s[i] & 0xc0) != 0x80;
	return chars;
}

static uint64_t
row_u64(const char *v)
{
	return v ? strtoull(v, NULL, 10) : 0;
}

static int64_t
row_ms(const char *v)
{
	return v ? strtoll(v, NULL, 10) : 0;
}

static void
vqueryf(struct ctl *c, ctl_db_cb *cb, void *state, const char *fmt,
    va_list ap)
{
	char	*sql;
	int	 n;

	if ((n = vasprintf(&sql, fmt, ap)) == -1) {
		ctl_fail(c, "out of memory");
		free(state);
		return;
	}
	ctl_query(c, sql, (size_t)n, cb, state);
	free(sql);
}

/* Run printf-built SQL; "%s" arguments must be escaped already.  state
 * is malloc'd (or NULL) and freed after cb. */
static void
queryf(struct ctl *c, ctl_db_cb *cb, void *state, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
queryf(struct ctl *c, ctl_db_cb *cb, void *state, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vqueryf(c, cb, state, fmt, ap);
	va_end(ap);
}

/* "id = N" or "username = '...'" for a USER argument; NULL on ENOMEM. */
static char *
user_where(const struct str *user)
{
	char	*esc, *w = NULL;

	if (all_digits(user->s, user->len)) {
		if (asprintf(&w, "id = %.*s", (int)user->len, user->s) == -1)
			return NULL;
		return w;
	}
	if ((esc = ctl_escape(user->s, user->len)) == NULL)
		return NULL;
	if (asprintf(&w, "username = '%s'", esc) == -1)
		w = NULL;
	free(esc);
	return w;
}

/* A stored image_urls value, only if it is the JSON array it should be. */
static void
image_urls_json(struct jw *j, const char *v)
{
	struct jdoc	 d;
	char		*wrapped;
	int		 i;

	jw_key(j, "imageUrls");
	if (v != NULL && asprintf(&wrapped, "{\"a\":%s}", v) != -1) {
		i = jdoc_parse(&d, wrapped, strlen(wrapped)) == 0 ?
		    jdoc_find(&d, "a") : -1;
		if (jdoc_type(&d, i) == JT_ARRAY) {
			jw_raw(j, v, strlen(v));
			free(wrapped);
			return;
		}
		free(wrapped);
	}
	jw_arr_open(j);
	jw_arr_close(j);
}

/* A user row (USER_COLS) as an object left open for more members. */
static void
user_json(struct jw *j, MYSQL_ROW row)
{
	uint64_t	 id = row_u64(row[0]);
	struct user	*u = user_get(id);
	unsigned	 n = u ? u->u_nconns : 0;

	jw_reset(j);
	jw_obj_open(j);
	jw_kuint(j, "id", id);
	jw_kcstr(j, "username", row[1]);
	jw_kcstr(j, "display_name", row[2]);
	image_urls_json(j, row[3]);
	jw_kbool(j, "is_online", n > 0);
	jw_kuint(j, "connections", n);
	jw_ktime_ms(j, "last_seen", row_ms(row[4]));
	jw_ktime_ms(j, "created_at", row_ms(row[5]));
}

/* Reply with every row of res through fill(); "none" fails instead when
 * nothing matched (NULL: an empty listing is fine). */
static void
rows_reply(struct ctl *c, MYSQL_RES *res, void (*fill)(struct jw *,
    MYSQL_ROW), const char *none)
{
	struct jw	j;
	MYSQL_ROW	row;
	size_t		n = 0;

	jw_init(&j);
	while ((row = db_row(res)) != NULL) {
		fill(&j, row);
		ctl_row(c, &j);
		n++;
	}
	jw_free(&j);
	if (n == 0 && none != NULL)
		ctl_fail(c, "%s", none);
	else
		ctl_end(c);
}

static int
db_failed(struct ctl *c, unsigned err, const char *errstr)
{
	if (err == 0)
		return 0;
	ctl_fail(c, "database: %s", errstr);
	return 1;
}

/* How to answer a query whose rows are the reply. */
struct rows_req {
	void		(*rr_fill)(struct jw *, MYSQL_ROW);
	const char	*rr_none;
};

static void
rows_cb(struct ctl *c, MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *state)
{
	struct rows_req	*rr = state;

	(void)affected;
	if (!db_failed(c, err, errstr))
		rows_reply(c, res, rr->rr_fill, rr->rr_none);
}

/* Run the query and reply with its rows through fill(); none: as in
 * rows_reply(). */
static void
query_rows(struct ctl *c, void (*fill)(struct jw *, MYSQL_ROW),
    const char *none, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
query_rows(struct ctl *c, void (*fill)(struct jw *, MYSQL_ROW),
    const char *none, const char *fmt, ...)
{
	struct rows_req	*rr;
	va_list		 ap;

	if ((rr = malloc(sizeof(*rr))) == NULL) {
		ctl_fail(c, "out of memory");
		return;
	}
	rr->rr_fill = fill;
	rr->rr_none = none;
	va_start(ap, fmt);
	vqueryf(c, rows_cb, rr, fmt, ap);
	va_end(ap);
}

static void
user_fill(struct jw *j, MYSQL_ROW row)
{
	user_json(j, row);
	jw_obj_close(j);
}

static void
user_show_fill(struct jw *j, MYSQL_ROW row)
{
	user_json(j, row);
	jw_kuint(j, "rooms", row_u64(row[6]));
	jw_obj_close(j);
}

static void
user_added_cb(struct ctl *c, MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *state)
{
	(void)affected;
	(void)state;
	if (err == 1062) {
		ctl_fail(c, "a user with that username already exists");
		return;
	}
	if (db_failed(c, err, errstr))
		return;
	rows_reply(c, res, user_fill, "the new user was not returned");
}

/* An image URL list from chatctl: a JSON array of strings. */
static int
valid_url_list(const struct str *s)
{
	struct jdoc	 d;
	char		*wrapped;
	int		 ok, i, k, end;

	if (s->len == 0)
		return 1;
	if (asprintf(&wrapped, "{\"a\":%.*s}", (int)s->len, s->s) == -1)
		return 0;
	ok = jdoc_parse(&d, wrapped, strlen(wrapped)) == 0 &&
	    jdoc_type(&d, i = jdoc_find(&d, "a")) == JT_ARRAY;
	/* Every token after the array's own is one of its strings. */
	if (ok) {
		end = i + 1 + d.tok[i].size;
		for (k = i + 1; k < end && k < d.ntok; k++)
			ok &= jdoc_type(&d, k) == JT_STRING;
	}
	free(wrapped);
	return ok;
}

int
ctl_user_add(struct ctl *c, struct wire_msg *m)
{
	struct str	 name, display, urls;
	char		*en = NULL, *ed = NULL, *eu = NULL;

	if (rd_str(&m->payload, &name) == -1 ||
	    rd_str(&m->payload, &display) == -1 ||
	    rd_str(&m->payload, &urls) == -1 || rd_left(&m->payload) != 0)
		return -1;
	if (name.len == 0 || utf8_len(name.s, name.len) > USERNAME_MAX ||
	    memchr(name.s, '\0', name.len) != NULL) {
		ctl_fail(c, "a username has 1 to %d characters", USERNAME_MAX);
		return 0;
	}
	if (all_digits(name.s, name.len)) {
		ctl_fail(c, "a username may not be all digits: those name "
		    "user ids");
		return 0;
	}
	if (utf8_len(display.s, display.len) > DISPLAY_MAX) {
		ctl_fail(c, "a display name has at most %d characters",
		    DISPLAY_MAX);
		return 0;
	}
	if (!valid_url_list(&urls)) {
		ctl_fail(c, "image URLs must be a JSON array of strings");
		return 0;
	}
	if (display.len == 0)
		display = name;
	if ((en = ctl_escape(name.s, name.len)) == NULL ||
	    (ed = ctl_escape(display.s, display.len)) == NULL ||
	    (eu = ctl_escape(urls.len ? urls.s : "[]", urls.len ? urls.len :
	    2)) == NULL)
		ctl_fail(c, "out of memory");
	else
		queryf(c, user_added_cb, NULL, "INSERT INTO users (username,"
		    " display_name, image_urls) VALUES ('%s', '%s', '%s')"
		    " RETURNING " USER_COLS, en, ed, eu);
	free(en);
	free(ed);
	free(eu);
	return 0;
}

/* " LIMIT n", or "" for no limit. */
static void
limit_sql(char out[32], uint32_t limit)
{
	out[0] = '\0';
	if (limit > 0)
		snprintf(out, 32, " LIMIT %u", limit);
}

int
ctl_user_list(struct ctl *c, struct wire_msg *m)
{
	struct str	 match;
	uint32_t	 limit;
	char		*esc, lim[32];

	if (rd_str(&m->payload, &match) == -1 ||
	    rd_u32(&m->payload, &limit) == -1 || rd_left(&m->payload) != 0)
		return -1;
	limit_sql(lim, limit);
	if ((esc = ctl_escape(match.s, match.len)) == NULL) {
		ctl_fail(c, "out of memory");
		return 0;
	}
	/* LOCATE, not LIKE: the substring is taken literally. */
	query_rows(c, user_fill, NULL, "SELECT " USER_COLS " FROM users%s%s%s"
	    " ORDER BY id%s", match.len ? " WHERE LOCATE('" : "", esc,
	    match.len ? "', username) > 0" : "", lim);
	free(esc);
	return 0;
}

int
ctl_user_show(struct ctl *c, struct wire_msg *m)
{
	struct str	 user;
	char		*where;

	if (rd_str(&m->payload, &user) == -1 || rd_left(&m->payload) != 0)
		return -1;
	if ((where = user_where(&user)) == NULL) {
		ctl_fail(c, "out of memory");
		return 0;
	}
	query_rows(c, user_show_fill, "no such user", "SELECT " USER_COLS ", (SELECT COUNT(*)"
	    " FROM rooms r WHERE r.participant1 = users.id OR"
	    " r.participant2 = users.id) FROM users WHERE %s", where);
	free(where);
	return 0;
}

struct find {
	ctl_user_cb	*f_cb;
	char		 f_name[64];	/* as asked, for the error */
	size_t		 f_len;
	uint8_t		 f_state[];	/* the caller's, copied */
};

static void
find_cb(struct ctl *c, MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *state)
{
	struct find	*f = state;
	MYSQL_ROW	 row;

	(void)affected;
	if (db_failed(c, err, errstr))
		return;
	if ((row = db_row(res)) == NULL) {
		ctl_fail(c, "no user %s", f->f_name);
		return;
	}
	f->f_cb(c, row_u64(row[0]), row[1], f->f_len ? f->f_state : NULL);
}

void
ctl_find_user(struct ctl *c, const struct str *user, ctl_user_cb *cb,
    const void *state, size_t len)
{
	struct find	*f;
	char		*where;

	if ((f = calloc(1, sizeof(*f) + len)) == NULL ||
	    (where = user_where(user)) == NULL) {
		free(f);
		ctl_fail(c, "out of memory");
		return;
	}
	f->f_cb = cb;
	snprintf(f->f_name, sizeof(f->f_name), "%.*s", (int)user->len,
	    user->s);
	f->f_len = len;
	if (len)
		memcpy(f->f_state, state, len);
	queryf(c, find_cb, f, "SELECT id, username FROM users WHERE %s",
	    where);
	free(where);
}

static void
room_fill(struct jw *j, MYSQL_ROW row)
{
	uint64_t	 id = row_u64(row[0]);
	struct room	*r = room_get(id);

	jw_reset(j);
	jw_obj_open(j);
	jw_kuint(j, "id", id);
	jw_kuint(j, "participant1", row_u64(row[1]));
	jw_kcstr(j, "participant1_username", row[2]);
	jw_kuint(j, "participant2", row_u64(row[3]));
	jw_kcstr(j, "participant2_username", row[4]);
	if (row[5] != NULL)
		jw_kuint(j, "match", row_u64(row[5]));
	else
		jw_knull(j, "match");
	jw_ktime_ms(j, "created_at", row_ms(row[6]));
	jw_kuint(j, "messages", row_u64(row[7]));
	jw_kuint(j, "connections", r ? r->r_nconns : 0);
	jw_obj_close(j);
}

static void
room_show_id(struct ctl *c, uint64_t id)
{
	query_rows(c, room_fill, "no such room", ROOM_SELECT " WHERE r.id = %"
	    PRIu64, id);
}

int
ctl_room_show(struct ctl *c, struct wire_msg *m)
{
	if (rd_left(&m->payload) != 0)
		return -1;
	if (m->hdr.id == 0) {
		ctl_fail(c, "no such room");
		return 0;
	}
	room_show_id(c, m->hdr.id);
	return 0;
}

struct room_list {
	uint32_t	rl_limit;
};

static void
room_list_user_cb(struct ctl *c, uint64_t id, const char *username,
    void *state)
{
	struct room_list	*rl = state;
	char			 lim[32];

	(void)username;
	limit_sql(lim, rl->rl_limit);
	query_rows(c, room_fill, NULL, ROOM_SELECT " WHERE r.participant1 = %"
	    PRIu64 " OR r.participant2 = %" PRIu64 " ORDER BY r.id%s", id, id,
	    lim);
}

int
ctl_room_list(struct ctl *c, struct wire_msg *m)
{
	struct room_list	rl;
	struct str		user;
	char			lim[32];

	if (rd_str(&m->payload, &user) == -1 ||
	    rd_u32(&m->payload, &rl.rl_limit) == -1 ||
	    rd_left(&m->payload) != 0)
		return -1;
	if (user.len > 0) {
		ctl_find_user(c, &user, room_list_user_cb, &rl, sizeof(rl));
		return 0;
	}
	limit_sql(lim, rl.rl_limit);
	query_rows(c, room_fill, NULL, ROOM_SELECT " ORDER BY r.id%s", lim);
	return 0;
}

struct room_new {
	uint64_t	rn_match;
	uint64_t	rn_user1;
	uint64_t	rn_user2_id;
	char		rn_user2[4 * 150 + 1];	/* a username, in bytes */
};

static void
room_created_cb(struct ctl *c, MYSQL_RES *res, unsigned err,
    const char *errstr, unsigned long long affected, void *state)
{
	MYSQL_ROW	row;

	(void)affected;
	(void)state;
	if (db_failed(c, err, errstr))
		return;
	if ((row = db_row(res)) == NULL) {
		ctl_fail(c, "the new room was not returned");
		return;
	}
	/* Its users' rooms lists show it now, not after their lifetime. */
	roomlist_add(row_u64(row[0]), row_u64(row[1]), row_u64(row[2]));
	room_show_id(c, row_u64(row[0]));
}

/* The match as SQL: a number or NULL. */
static void
match_sql(char out[32], uint64_t match)
{
	snprintf(out, 32, match ? "%" PRIu64 : "NULL", match);
}

static void
room_dup_cb(struct ctl *c, MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *state)
{
	struct room_new	*rn = state;
	MYSQL_ROW	 row;
	char		 match[32];

	(void)affected;
	if (db_failed(c, err, errstr))
		return;
	if ((row = db_row(res)) != NULL) {
		ctl_fail(c, "room %s already joins these users with this match",
		    row[0]);
		return;
	}
	match_sql(match, rn->rn_match);
	queryf(c, room_created_cb, NULL, "INSERT INTO rooms (participant1,"
	    " participant2, match_id) VALUES (%" PRIu64 ", %" PRIu64 ", %s)"
	    " RETURNING id, participant1, participant2", rn->rn_user1,
	    rn->rn_user2_id, match);
}

static void
room_user2_cb(struct ctl *c, uint64_t id, const char *username, void *state)
{
	struct room_new	*rn = state, *copy;
	char		 match[32];

	if (id == rn->rn_user1) {
		ctl_fail(c, "a room joins two different users, not %s twice",
		    username);
		return;
	}
	if ((copy = malloc(sizeof(*copy))) == NULL) {
		ctl_fail(c, "out of memory");
		return;
	}
	*copy = *rn;
	copy->rn_user2_id = id;
	match_sql(match, rn->rn_match);
	/* One room per pair and match: a second one would split the chat. */
	queryf(c, room_dup_cb, copy, "SELECT id FROM rooms WHERE"
	    " ((participant1 = %" PRIu64 " AND participant2 = %" PRIu64 ") OR"
	    " (participant1 = %" PRIu64 " AND participant2 = %" PRIu64 "))"
	    " AND match_id <=> %s LIMIT 1", rn->rn_user1, id, id,
	    rn->rn_user1, match);
}

static void
room_user1_cb(struct ctl *c, uint64_t id, const char *username, void *state)
{
	struct room_new	*rn = state;
	struct str	 u2;

	(void)username;
	rn->rn_user1 = id;
	u2.s = rn->rn_user2;
	u2.len = strlen(rn->rn_user2);
	ctl_find_user(c, &u2, room_user2_cb, rn, sizeof(*rn));
}

int
ctl_room_create(struct ctl *c, struct wire_msg *m)
{
	struct room_new	rn;
	struct str	u1, u2;

	memset(&rn, 0, sizeof(rn));
	if (rd_str(&m->payload, &u1) == -1 || rd_str(&m->payload, &u2) == -1 ||
	    rd_u64(&m->payload, &rn.rn_match) == -1 ||
	    rd_left(&m->payload) != 0)
		return -1;
	if (u2.len >= sizeof(rn.rn_user2) || u1.len == 0 || u2.len == 0) {
		ctl_fail(c, "no such user");
		return 0;
	}
	memcpy(rn.rn_user2, u2.s, u2.len);
	ctl_find_user(c, &u1, room_user1_cb, &rn, sizeof(rn));
	return 0;
}

static void
token_user_cb(struct ctl *c, uint64_t id, const char *username, void *state)
{
	long		 ttl = *(long *)state;
	const char	*why;
	char		*tok;
	struct jw	 j;

	if ((tok = mint_token(&broker->b_conf, id, ttl, &why)) == NULL) {
		ctl_fail(c, "cannot mint a token: %s", why);
		return;
	}
	jw_init(&j);
	jw_obj_open(&j);
	jw_kuint(&j, "user_id", id);
	jw_kcstr(&j, "username", username);
	jw_kcstr(&j, "token", tok);
	jw_ktime_ms(&j, "expires_at", (now_ms() / 1000 + ttl) * 1000);
	jw_obj_close(&j);
	ctl_row(c, &j);
	ctl_end(c);
	jw_free(&j);
	free(tok);
}

int
ctl_token(struct ctl *c, struct wire_msg *m)
{
	struct str	user;
	uint32_t	ttl32;
	long		ttl;

	if (rd_str(&m->payload, &user) == -1 ||
	    rd_u32(&m->payload, &ttl32) == -1 || rd_left(&m->payload) != 0)
		return -1;
	if (ttl32 == 0 || ttl32 > TTL_MAX) {
		ctl_fail(c, "a token lives 1 to %ld seconds", TTL_MAX);
		return 0;
	}
	ttl = ttl32;
	ctl_find_user(c, &user, token_user_cb, &ttl, sizeof(ttl));
	return 0;
}
