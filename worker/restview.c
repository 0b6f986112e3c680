/*
 * restview.c - render REST answers from the broker's records.
 *
 * Users arrive before the rooms and messages that name them, so rooms
 * and messages are rendered as they arrive, into v_results; the envelope
 * (pagination, or the single object) is put around them at the end.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "grow.h"
#include "json.h"
#include "restview.h"
#include "wire.h"
#include "worker.h"

#define USERS_MAX	256	/* per answer; a page names at most 2 * 100 */
/* First reservations, so that a page's writers grow once or twice, not
 * from 256 bytes up: about a page of 20 messages, and a user object. */
#define RESULTS_RESERVE	(16 * 1024)
#define USER_RESERVE	512
#define ENVELOPE_MAX	(3 * 1024)	/* count and two links */

static const char *const status_names[][2] = {
	{ "sending", "Sending" },
	{ "sent", "Sent" },
	{ "delivered", "Delivered" },
	{ "read", "Read" },
	{ "failed", "Failed" },
};

void
rview_init(struct rview *v)
{
	memset(v, 0, sizeof(*v));
	jw_init(&v->v_results);
	jw_arr_open(&v->v_results);
}

static void
ruser_clear(struct ruser *u)
{
	free(u->username);
	free(u->json);
}

void
rview_free(struct rview *v)
{
	size_t	i;

	for (i = 0; i < v->v_nusers; i++)
		ruser_clear(&v->v_users[i]);
	free(v->v_users);
	v->v_users = NULL;
	v->v_nusers = v->v_users_cap = 0;
	jw_free(&v->v_results);
}

static struct ruser *
find_user(const struct rview *v, uint64_t id)
{
	size_t	i;

	for (i = 0; i < v->v_nusers; i++)
		if (v->v_users[i].id == id)
			return &v->v_users[i];
	return NULL;
}

/* Copy s to p as a C string; returns p. */
static char *
put_cstr(char *p, const struct str *s)
{
	memcpy(p, s->s, s->len);
	p[s->len] = '\0';
	return p;
}

/* The three strings of a user in one allocation, owned by username. */
static int
ruser_strings(struct ruser *u, const struct str *name,
    const struct str *display, const struct str *urls)
{
	char	*p;

	if ((p = malloc(name->len + display->len + urls->len + 3)) == NULL)
		return -1;
	u->username = put_cstr(p, name);
	u->display_name = put_cstr(p + name->len + 1, display);
	u->image_urls = put_cstr(p + name->len + display->len + 2, urls);
	return 0;
}

/* Room for one more user; -1 on ENOMEM. */
static int
users_grow(struct rview *v)
{
	return grow(&v->v_users, &v->v_users_cap, v->v_nusers + 1, 8,
	    sizeof(*v->v_users));
}

int
rview_user(struct rview *v, struct rd *r)
{
	struct ruser	 u;
	struct str	 name, display, urls;
	uint64_t	 seen;
	uint8_t		 online;

	memset(&u, 0, sizeof(u));
	if (rd_u64(r, &u.id) == -1 || rd_u8(r, &online) == -1 ||
	    rd_u64(r, &seen) == -1 || rd_str(r, &name) == -1 ||
	    rd_str(r, &display) == -1 || rd_str(r, &urls) == -1 ||
	    rd_left(r) != 0)
		return -1;
	if (find_user(v, u.id) != NULL || v->v_nusers >= USERS_MAX)
		return 0;
	u.online = online != 0;
	u.last_seen_ms = (int64_t)seen;
	if (users_grow(v) == -1 ||
	    ruser_strings(&u, &name, &display, &urls) == -1) {
		v->v_results.err = 1;	/* the answer cannot be complete */
		return 0;
	}
	v->v_users[v->v_nusers++] = u;
	return 0;
}

/* users.image_urls is JSON text written by the application: render its
 * strings, and an empty list for anything that is not an array. */
static void
render_image_urls(struct jw *j, const char *text)
{
	struct jdoc	 doc;
	char		 local[512], *wrapped, *s;
	size_t		 n, len;
	int		 idx, k, e, size;

	jw_arr_open(j);
	n = strlen(text);
	/* Short lists, the usual, are wrapped on the stack. */
	if (n + 8 <= sizeof(local))
		wrapped = local;
	else if ((wrapped = malloc(n + 8)) == NULL) {
		jw_arr_close(j);
		return;
	}
	memcpy(wrapped, "{\"a\":", 5);
	memcpy(wrapped + 5, text, n);
	memcpy(wrapped + 5 + n, "}", 2);
	if (jdoc_parse(&doc, wrapped, n + 6) == 0 &&
	    (idx = jdoc_find(&doc, "a")) != -1 &&
	    jdoc_type(&doc, idx) == JT_ARRAY) {
		size = doc.tok[idx].size;
		for (k = idx + 1, e = 0; e < size && k < doc.ntok; e++) {
			if (jdoc_type(&doc, k) == JT_STRING &&
			    (s = jdoc_strdup(&doc, k, &len)) != NULL) {
				jw_str(j, s, len);
				free(s);
			}
			/* Skip the element and anything nested in it. */
			for (n = (size_t)doc.tok[k++].end; k < doc.ntok &&
			    (size_t)doc.tok[k].start < n; k++)
				;
		}
	}
	if (wrapped != local)
		free(wrapped);
	jw_arr_close(j);
}

static void
render_user_object(struct jw *j, const struct ruser *u)
{
	jw_obj_open(j);
	jw_kuint(j, "id", u->id);
	jw_kcstr(j, "username", u->username);
	jw_kcstr(j, "display_name", u->display_name);
	jw_key(j, "imageUrls");
	render_image_urls(j, u->image_urls);
	jw_kbool(j, "is_online", u->online);
	jw_ktime_ms(j, "last_seen", u->last_seen_ms);
	jw_obj_close(j);
}

/*
 * A user object, rendered once per answer and then copied: a page of
 * messages names the same two users over and over, and parsing the
 * avatar list is the dearest part.
 */
static void
render_user(struct jw *j, struct rview *v, uint64_t id)
{
	struct ruser	*u = find_user(v, id);
	struct jw	 one;

	if (u == NULL) {
		jw_null(j);
		return;
	}
	if (u->json == NULL) {
		jw_init(&one);
		jw_reserve(&one, USER_RESERVE);
		render_user_object(&one, u);
		if (one.err) {
			jw_free(&one);
			j->err = 1;	/* the answer cannot be complete */
			return;
		}
		u->json = one.buf;	/* taken over */
		u->json_len = one.len;
	}
	jw_raw(j, u->json, u->json_len);
}

static const char *const *
status_name(unsigned status)
{
	if (status >= sizeof(status_names) / sizeof(status_names[0]))
		status = 0;
	return status_names[status];
}

int
rview_room(struct rview *v, struct rd *r)
{
	struct jw		*j = &v->v_results;
	const struct ruser	*u;
	struct str		 content;
	uint64_t		 id, p1, p2, match, created, unread, last_id;
	uint64_t		 last_sender, last_created, who[2];
	uint8_t			 typing, last_status;
	int			 i;

	if (rd_u64(r, &id) == -1 || rd_u64(r, &p1) == -1 ||
	    rd_u64(r, &p2) == -1 || rd_u64(r, &match) == -1 ||
	    rd_u64(r, &created) == -1 || rd_u64(r, &unread) == -1 ||
	    rd_u8(r, &typing) == -1 || rd_u64(r, &last_id) == -1 ||
	    rd_u64(r, &last_sender) == -1 || rd_u8(r, &last_status) == -1 ||
	    rd_u64(r, &last_created) == -1 || rd_str(r, &content) == -1 ||
	    rd_left(r) != 0)
		return -1;
	if (v->v_nresults == 0)
		jw_reserve(j, RESULTS_RESERVE);
	jw_obj_open(j);
	jw_kuint(j, "id", id);
	jw_key(j, "participant1");
	render_user(j, v, p1);
	jw_key(j, "participant2");
	render_user(j, v, p2);
	jw_key(j, "other_participant");
	render_user(j, v, v->v_caller == p1 ? p2 : p1);
	if (match != 0)
		jw_kuint(j, "match", match);
	else
		jw_knull(j, "match");
	jw_key(j, "last_message");
	if (last_id == 0)
		jw_null(j);
	else {
		jw_obj_open(j);
		jw_kuint(j, "id", last_id);
		jw_kstr(j, "content", content.s, content.len);
		jw_kuint(j, "sender_id", last_sender);
		jw_kcstr(j, "status", status_name(last_status)[0]);
		jw_ktime_ms(j, "created_at", (int64_t)last_created);
		jw_obj_close(j);
	}
	jw_kuint(j, "unread_count", unread);
	jw_key(j, "typing_users");
	jw_arr_open(j);
	who[0] = p1;
	who[1] = p2;
	for (i = 0; i < 2; i++) {
		if (!(typing & (1 << i)) || (u = find_user(v, who[i])) == NULL)
			continue;
		jw_obj_open(j);
		jw_kuint(j, "id", u->id);
		jw_kcstr(j, "username", u->username);
		jw_kcstr(j, "display_name", u->display_name);
		jw_obj_close(j);
	}
	jw_arr_close(j);
	jw_ktime_ms(j, "created_at", (int64_t)created);
	jw_obj_close(j);
	v->v_nresults++;
	return 0;
}

int
rview_message(struct rview *v, struct rd *r)
{
	struct jw		*j = &v->v_results;
	const char *const	*name;
	struct str		 content;
	uint64_t		 id, room, sender, t[5];
	uint8_t			 status;
	int			 i;

	if (rd_u64(r, &id) == -1 || rd_u64(r, &room) == -1 ||
	    rd_u64(r, &sender) == -1 || rd_u8(r, &status) == -1)
		return -1;
	for (i = 0; i < 5; i++)
		if (rd_u64(r, &t[i]) == -1)
			return -1;
	if (rd_str(r, &content) == -1 || rd_left(r) != 0)
		return -1;
	name = status_name(status);
	if (v->v_nresults == 0)
		jw_reserve(j, RESULTS_RESERVE);
	jw_obj_open(j);
	jw_kuint(j, "id", id);
	jw_kuint(j, "room", room);
	jw_key(j, "sender");
	render_user(j, v, sender);
	jw_kstr(j, "content", content.s, content.len);
	jw_kcstr(j, "status", name[0]);
	jw_kcstr(j, "status_display", name[1]);
	jw_ktime_ms(j, "sent_at", (int64_t)t[0]);
	jw_ktime_ms(j, "delivered_at", (int64_t)t[1]);
	jw_ktime_ms(j, "read_at", (int64_t)t[2]);
	jw_kbool(j, "is_read", status == 3);
	jw_ktime_ms(j, "created_at", (int64_t)t[3]);
	jw_ktime_ms(j, "updated_at", (int64_t)t[4]);
	jw_obj_close(j);
	if (v->v_oldest == 0 || id < v->v_oldest)
		v->v_oldest = id;
	v->v_nresults++;
	return 0;
}

void
rview_detail(struct jw *j, const char *text)
{
	jw_reset(j);
	jw_obj_open(j);
	jw_kcstr(j, "detail", text);
	jw_obj_close(j);
}

void
rview_field(struct jw *j, const char *field, const char *text)
{
	jw_key(j, field);
	jw_arr_open(j);
	jw_cstr(j, text);
	jw_arr_close(j);
}

void
rview_field_error(struct jw *j, const char *field, const char *text)
{
	jw_reset(j);
	jw_obj_open(j);
	rview_field(j, field, text);
	jw_obj_close(j);
}

/* An absolute link to the same list: "?page=N" (page 1 without it, as
 * Django REST framework does), or "?before=ID" for cursor paging. */
static void
render_link(struct jw *j, const struct rview *v, const char *param,
    uint64_t n)
{
	char	url[1024];
	int	len;

	if (n == 0 || (strcmp(param, "page") == 0 && n == 1))
		len = snprintf(url, sizeof(url), "%s%s", v->v_base, v->v_path);
	else
		len = snprintf(url, sizeof(url), "%s%s?%s=%" PRIu64, v->v_base,
		    v->v_path, param, n);
	if (len < 0 || (size_t)len >= sizeof(url))
		jw_null(j);
	else
		jw_str(j, url, (size_t)len);
}

static void
render_page(struct jw *out, struct rview *v, uint64_t count, int more)
{
	jw_obj_open(out);
	jw_kuint(out, "count", count);
	jw_key(out, "next");
	if (!more)
		jw_null(out);
	else if (v->v_page == 0)
		render_link(out, v, "before", v->v_oldest);
	else
		render_link(out, v, "page", v->v_page + 1);
	jw_key(out, "previous");
	if (v->v_page > 1)
		render_link(out, v, "page", v->v_page - 1);
	else
		jw_null(out);
	jw_key(out, "results");
	jw_raw(out, v->v_results.buf, v->v_results.len);
	jw_obj_close(out);
}

static void
render_stats(struct jw *out, const struct rview *v, const uint64_t n[3],
    const struct config *c)
{
	jw_obj_open(out);
	jw_kuint(out, "user_id", v->v_caller);
	jw_kuint(out, "total_rooms", n[0]);
	jw_kuint(out, "active_rooms_today", n[1]);
	jw_kuint(out, "recent_messages_24h", n[2]);
	jw_kcstr(out, "channel_layer_status", "available");
	jw_ktime_ms(out, "timestamp", now_ms());
	jw_key(out, "connection_settings");
	jw_obj_open(out);
	jw_kint(out, "heartbeat_interval", c->heartbeat_interval);
	jw_kint(out, "connection_timeout", c->connection_timeout);
	jw_kint(out, "ping_timeout", c->ping_timeout);
	jw_kint(out, "max_reconnect_attempts", c->max_reconnect_attempts);
	jw_obj_close(out);
	jw_obj_close(out);
}

int
rview_done(struct rview *v, struct rd *r, const struct config *c,
    struct jw *out)
{
	struct str	field, text;
	uint64_t	count, n[3];
	uint16_t	status;
	uint8_t		more;
	char		msg[256], group[32];
	int		i;

	if (rd_u16(r, &status) == -1 || rd_u64(r, &count) == -1 ||
	    rd_u8(r, &more) == -1)
		return -1;
	for (i = 0; i < 3; i++)
		if (rd_u64(r, &n[i]) == -1)
			return -1;
	if (rd_str(r, &field) == -1 || rd_str(r, &text) == -1 ||
	    rd_left(r) != 0 || status < 200 || status > 599)
		return -1;
	jw_reset(out);
	if (status >= 400) {
		snprintf(msg, sizeof(msg), "%.*s", (int)text.len, text.s);
		if (field.len > 0) {
			snprintf(group, sizeof(group), "%.*s", (int)field.len,
			    field.s);
			rview_field_error(out, group, msg);
		} else
			rview_detail(out, msg);
		return status;
	}
	jw_arr_close(&v->v_results);
	if (v->v_results.err)
		goto incomplete;
	switch (v->v_kind) {
	case REST_Q_ROOMS:
	case REST_Q_MESSAGES:
		jw_reserve(out, v->v_results.len + ENVELOPE_MAX);
		render_page(out, v, count, more);
		break;
	case REST_Q_ROOM:
	case REST_Q_POST:
		if (v->v_nresults != 1)
			goto incomplete;
		/* The one object, without the list's brackets. */
		jw_raw(out, v->v_results.buf + 1, v->v_results.len - 2);
		break;
	case REST_Q_STATS:
		render_stats(out, v, n, c);
		break;
	case REST_Q_ROOM_HEALTH:
		snprintf(group, sizeof(group), "chat_%" PRIu64, v->v_room);
		jw_obj_open(out);
		jw_kuint(out, "room_id", v->v_room);
		jw_kcstr(out, "group_name", group);
		jw_kbool(out, "health_check_sent", n[0] > 0);
		jw_kuint(out, "recent_messages_count", n[1]);
		jw_ktime_ms(out, "timestamp", now_ms());
		jw_obj_close(out);
		break;
	case REST_Q_HEALTH_ALL:
		jw_obj_open(out);
		jw_kuint(out, "health_checks_sent", n[0]);
		jw_kuint(out, "total_rooms", n[1]);
		jw_ktime_ms(out, "timestamp", now_ms());
		jw_obj_close(out);
		break;
	default:
		return -1;
	}
	return status;
incomplete:
	rview_detail(out, "Service temporarily unavailable, try again later.");
	return 503;
}
