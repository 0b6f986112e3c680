/*
 * session.c - WebSocket sessions and the chat protocol on them.
 *
 * A session reads and writes through a bufferevent, so the same code
 * serves a plain socket and a TLS stream.  What the client sent with its
 * handshake (MHD's extra_in) sits in s_pre and is parsed before anything
 * read from the bufferevent; a socket bufferevent's input cannot be
 * prepended to.
 *
 * Close handshake: whoever closes first sends a close frame; the session
 * then waits (at most CLOSE_WAIT_S) for the peer's close frame or EOF and
 * only then lets MHD close the socket.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <microhttpd.h>

#include "chan.h"
#include "content.h"
#include "hmap.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "session.h"
#include "utf8.h"
#include "wire.h"
#include "worker.h"
#include "ws.h"

#define CLOSE_WAIT_S		2
#define TEMP_ID_MAX		64	/* bytes; the column's width */
#define READ_CHUNK		16384

#define CLOSE_AUTH		4001
#define CLOSE_NO_ROOM		4004

enum s_state {
	S_PENDING = 0,		/* waiting for the broker's verdict */
	S_OPEN,
	S_CLOSING,		/* our close frame is queued or sent */
};

struct session {
	uint32_t			 s_id;
	struct MHD_UpgradeResponseHandle *s_urh;
	enum s_state			 s_state;
	int				 s_registered;	/* broker knows it */
	int				 s_peer_closed;	/* got its close frame */
	int				 s_linked;	/* in its room's list */
	struct bufferevent		*s_bev;
	struct event			*s_timer;
	struct evbuffer			*s_pre;		/* extra_in, NULL once used */
	struct evbuffer			*s_out;		/* s_bev's output */
	struct ws_reader		 s_rd;
	uint64_t			 s_user;
	uint64_t			 s_room;
	int64_t				 s_opened_ms;
	int64_t				 s_last_ms;
	struct session			*s_room_next;
};

/* The local connections of one room. */
struct wroom {
	struct session	*wr_head;
	unsigned	 wr_count;
};

static struct hmap	sessions;	/* id -> session */
static struct hmap	rooms;		/* room id -> wroom */
static uint32_t		next_id = 1;
static struct jw	out_json;	/* scratch; one message at a time */

static void	session_destroy(struct session *);
static void	session_close(struct session *, uint16_t, const char *);
static void	session_read(struct session *);

size_t
session_count(void)
{
	return hmap_count(&sessions);
}

static void
room_link(struct session *s)
{
	struct wroom	*r;

	if ((r = hmap_get(&rooms, s->s_room)) == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL ||
		    hmap_put(&rooms, s->s_room, r) == -1)
			fatal("%s: out of memory", __func__);
	}
	s->s_room_next = r->wr_head;
	r->wr_head = s;
	r->wr_count++;
	s->s_linked = 1;
}

static void
room_unlink(struct session *s)
{
	struct wroom	*r;
	struct session	**pp;

	if (!s->s_linked)
		return;
	s->s_linked = 0;
	if ((r = hmap_get(&rooms, s->s_room)) == NULL)
		return;
	for (pp = &r->wr_head; *pp != NULL; pp = &(*pp)->s_room_next)
		if (*pp == s) {
			*pp = s->s_room_next;
			r->wr_count--;
			break;
		}
	if (r->wr_count == 0) {
		hmap_del(&rooms, s->s_room);
		free(r);
	}
}

/*
 * Bytes queued on s_out are written by the bufferevent when the socket is
 * ready, so everything queued in one loop turn leaves in one write.
 */
static void
session_flush_later(struct session *s)
{
	(void)s;
}

static void
session_send_text(struct session *s, const char *json, size_t len)
{
	if (s->s_state == S_CLOSING)
		return;
	if (ws_write_frame(s->s_out, WS_OP_TEXT, json, len) == -1) {
		session_close(s, WS_CLOSE_INTERNAL, "Internal error");
		return;
	}
	session_flush_later(s);
}

static void
session_send_jw(struct session *s, struct jw *j)
{
	if (j->err) {
		log_warnx("%s: could not build a reply", __func__);
		return;
	}
	session_send_text(s, j->buf, j->len);
}

static void
send_error(struct session *s, const char *message)
{
	struct jw	*j = &out_json;

	jw_reset(j);
	jw_obj_open(j);
	jw_kcstr(j, "type", "error");
	jw_kcstr(j, "message", message);
	jw_ktime_ms(j, "timestamp", now_ms());
	jw_obj_close(j);
	session_send_jw(s, j);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct session	*s = arg;

	(void)bev;
	/* Our close frame is out and theirs is in: the handshake is done. */
	if (s->s_state == S_CLOSING && s->s_peer_closed)
		session_destroy(s);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	session_read(arg);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	/* Gone without a close frame, or after ours. */
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		session_destroy(arg);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	/* The peer never finished the close handshake. */
	session_destroy(arg);
}

/*
 * Start the close handshake: queue a close frame, stop acting on input,
 * and give the peer CLOSE_WAIT_S to answer.  Never frees s, so callers
 * may go on using it.
 */
static void
session_close(struct session *s, uint16_t code, const char *reason)
{
	struct timeval	tv = { CLOSE_WAIT_S, 0 }, now = { 0, 0 };

	if (s->s_state == S_CLOSING)
		return;
	s->s_state = S_CLOSING;
	if (ws_write_close(s->s_out, code, reason) == -1) {
		evtimer_add(s->s_timer, &now);
		return;
	}
	/* Keep reading: the peer's close frame or EOF ends the wait. */
	bufferevent_enable(s->s_bev, EV_READ);
	evtimer_add(s->s_timer, &tv);
}

static void
session_destroy(struct session *s)
{
	struct chan	*ch = wctx->w_broker;
	size_t		 off;

	if (s->s_registered && ch != NULL) {
		off = chan_begin(ch, MSG_WS_CLOSE, s->s_id);
		chan_send(ch, off);
	}
	room_unlink(s);
	hmap_del(&sessions, s->s_id);
	event_free(s->s_timer);
	if (s->s_pre != NULL)
		evbuffer_free(s->s_pre);
	ws_reader_free(&s->s_rd);
	/* The bufferevent does not own the socket: MHD does, and closes it. */
	bufferevent_free(s->s_bev);
	MHD_upgrade_action(s->s_urh, MHD_UPGRADE_ACTION_CLOSE);
	free(s);
	http_kick();
}

void
session_start(int fd, struct MHD_UpgradeResponseHandle *urh, uint64_t user,
    uint64_t room, const char *extra_in, size_t extra_len)
{
	struct bufferevent	*bev;

	bev = bufferevent_socket_new(wctx->w_base, fd, 0);
	if (bev == NULL) {
		log_warnx("%s: out of memory", __func__);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	session_start_bev(bev, urh, user, room, extra_in, extra_len);
}

void
session_start_bev(struct bufferevent *bev, struct MHD_UpgradeResponseHandle *urh,
    uint64_t user, uint64_t room, const char *extra_in, size_t extra_len)
{
	struct session	*s;
	struct chan	*ch = wctx->w_broker;
	size_t		 off;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto fail;
	s->s_bev = bev;
	s->s_urh = urh;
	s->s_user = user;
	s->s_room = room;
	s->s_opened_ms = s->s_last_ms = now_ms();
	ws_reader_init(&s->s_rd, wctx->w_conf.ws_max_frame);
	s->s_out = bufferevent_get_output(bev);
	s->s_timer = evtimer_new(wctx->w_base, timer_cb, s);
	if (s->s_timer == NULL)
		goto fail_free;
	if (extra_len > 0 && ((s->s_pre = evbuffer_new()) == NULL ||
	    evbuffer_add(s->s_pre, extra_in, extra_len) == -1))
		goto fail_free;
	do {
		s->s_id = next_id++;
	} while (s->s_id == 0 || hmap_get(&sessions, s->s_id) != NULL);
	if (hmap_put(&sessions, s->s_id, s) == -1)
		goto fail_free;
	/* Nothing is read until the broker admits the session. */
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, s);
	bufferevent_disable(bev, EV_READ);
	bufferevent_enable(bev, EV_WRITE);
	if (user == 0) {
		session_close(s, CLOSE_AUTH, "Authentication failed");
		return;
	}
	if (room == 0) {
		session_close(s, CLOSE_NO_ROOM, "Room not found");
		return;
	}
	room_link(s);
	s->s_registered = 1;
	off = chan_begin(ch, MSG_WS_OPEN, s->s_id);
	buf_add_u64(chan_out(ch), user);
	buf_add_u64(chan_out(ch), room);
	chan_send(ch, off);
	return;
fail_free:
	if (s->s_timer)
		event_free(s->s_timer);
	if (s->s_pre)
		evbuffer_free(s->s_pre);
	free(s);
fail:
	log_warnx("%s: out of memory", __func__);
	bufferevent_free(bev);
	MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

void
session_accepted(uint32_t id, const char *username, size_t len)
{
	struct session	*s = hmap_get(&sessions, id);
	struct jw	*j = &out_json;

	(void)username;
	(void)len;
	if (s == NULL || s->s_state != S_PENDING)
		return;
	s->s_state = S_OPEN;
	jw_reset(j);
	jw_obj_open(j);
	jw_kcstr(j, "type", "connection_established");
	jw_kuint(j, "room_id", s->s_room);
	jw_kuint(j, "user_id", s->s_user);
	jw_ktime_ms(j, "timestamp", now_ms());
	jw_kint(j, "heartbeat_interval", wctx->w_conf.heartbeat_interval);
	jw_kint(j, "connection_timeout", wctx->w_conf.connection_timeout);
	jw_obj_close(j);
	session_send_jw(s, j);
	if (bufferevent_enable(s->s_bev, EV_READ) == -1) {
		session_close(s, WS_CLOSE_INTERNAL, "Internal error");
		return;
	}
	/* Frames that came with the handshake, or while we waited. */
	session_read(s);
}

void
session_refused(uint32_t id, uint16_t code, const char *reason)
{
	struct session	*s = hmap_get(&sessions, id);

	if (s == NULL)
		return;
	/* The broker has forgotten it already. */
	s->s_registered = 0;
	room_unlink(s);
	s->s_state = S_OPEN;	/* so that session_close acts */
	session_close(s, code, reason);
}

void
session_send_failed(uint32_t id, const struct str *temp_id,
    const char *reason)
{
	struct session	*s = hmap_get(&sessions, id);
	struct jw	*j = &out_json;

	if (s == NULL)
		return;
	jw_reset(j);
	jw_obj_open(j);
	jw_kcstr(j, "type", "error");
	jw_kcstr(j, "message", reason);
	if (temp_id->len > 0)
		jw_kstr(j, "temp_id", temp_id->s, temp_id->len);
	jw_kcstr(j, "status", "failed");
	jw_ktime_ms(j, "timestamp", now_ms());
	jw_obj_close(j);
	session_send_jw(s, j);
}

/* Render a delivery; with_temp adds the sender's temp_id. */
static void
render_delivery(struct jw *j, const struct delivery *d, int with_temp)
{
	char	did[64];
	int	n;

	jw_reset(j);
	jw_obj_open(j);
	jw_kcstr(j, "type", "message");
	jw_key(j, "message");
	jw_obj_open(j);
	jw_kuint(j, "id", d->id);
	jw_kstr(j, "content", d->content.s, d->content.len);
	jw_kuint(j, "sender_id", d->sender);
	jw_kstr(j, "sender_username", d->username.s, d->username.len);
	jw_kcstr(j, "status", "sent");
	jw_ktime_ms(j, "created_at", d->created_ms);
	jw_kuint(j, "room_id", d->room);
	if (with_temp)
		jw_kstr(j, "temp_id", d->temp_id.s, d->temp_id.len);
	jw_obj_close(j);
	n = snprintf(did, sizeof(did), "msg_%" PRIu64 "_%" PRId64 ".%03d",
	    d->id, d->created_ms / 1000, (int)(d->created_ms % 1000));
	jw_kstr(j, "delivery_id", did, n);
	if (with_temp)
		jw_kstr(j, "temp_id", d->temp_id.s, d->temp_id.len);
	jw_obj_close(j);
}

void
session_deliver(const struct delivery *d)
{
	struct wroom	*r = hmap_get(&rooms, d->room);
	struct session	*s;
	struct evbuffer	*frame;
	int		 rendered = 0;

	if (r == NULL)
		return;
	/* One frame for everyone but the sender: render and frame once. */
	if ((frame = evbuffer_new()) == NULL)
		fatal("%s: out of memory", __func__);
	for (s = r->wr_head; s != NULL; s = s->s_room_next) {
		if (s->s_state != S_OPEN)
			continue;
		if (s->s_id == d->sender_conn && d->temp_id.len > 0) {
			render_delivery(&out_json, d, 1);
			session_send_jw(s, &out_json);
			continue;
		}
		if (!rendered) {
			render_delivery(&out_json, d, 0);
			if (out_json.err || ws_write_frame(frame, WS_OP_TEXT,
			    out_json.buf, out_json.len) == -1)
				fatalx("%s: cannot render a message", __func__);
			rendered = 1;
		}
		if (evbuffer_add(s->s_out, evbuffer_pullup(frame, -1),
		    evbuffer_get_length(frame)) == -1) {
			session_close(s, WS_CLOSE_INTERNAL, "Internal error");
			continue;
		}
		session_flush_later(s);
	}
	evbuffer_free(frame);
}

static void
handle_message(struct session *s, const struct jdoc *doc)
{
	struct chan	*ch = wctx->w_broker;
	char		 temp[TEMP_ID_MAX + 1], err[96];
	char		*content;
	size_t		 clen, tlen = 0, off;
	int		 ci, ti;

	ci = jdoc_find(doc, "content");
	if (ci == -1 || jdoc_type(doc, ci) != JT_STRING) {
		send_error(s, "Message content cannot be empty");
		return;
	}
	ti = jdoc_find(doc, "temp_id");
	if (ti != -1 && jdoc_type(doc, ti) != JT_NULL) {
		if (jdoc_type(doc, ti) != JT_STRING ||
		    jdoc_str(doc, ti, temp, sizeof(temp), &tlen) == -1) {
			send_error(s, "temp_id must be a string of at most 64 "
			    "bytes");
			return;
		}
	}
	if ((content = jdoc_strdup(doc, ci, &clen)) == NULL) {
		send_error(s, "Invalid JSON format");
		return;
	}
	if (content_check(content, clen, wctx->w_conf.message_size_limit,
	    err, sizeof(err)) == -1) {
		send_error(s, err);
		free(content);
		return;
	}
	off = chan_begin(ch, MSG_SEND, s->s_id);
	buf_add_str(chan_out(ch), temp, tlen);
	buf_add_str(chan_out(ch), content, clen);
	chan_send(ch, off);
	free(content);
}

static void
handle_ping(struct session *s)
{
	struct jw	*j = &out_json;
	int64_t		 now = now_ms();

	jw_reset(j);
	jw_obj_open(j);
	jw_kcstr(j, "type", "pong");
	jw_ktime_ms(j, "timestamp", now);
	jw_ktime_ms(j, "server_time", now);
	jw_obj_close(j);
	session_send_jw(s, j);
}

static void
handle_text(struct session *s, const uint8_t *data, size_t len)
{
	struct jdoc	 doc;
	char		 type[64], err[96];
	int		 ti;

	if (jdoc_parse(&doc, (const char *)data, len) == -1) {
		send_error(s, "Invalid JSON format");
		return;
	}
	ti = jdoc_find(&doc, "type");
	if (ti == -1 || jdoc_type(&doc, ti) != JT_STRING ||
	    jdoc_str(&doc, ti, type, sizeof(type), NULL) == -1) {
		send_error(s, "Message type is required");
		return;
	}
	if (strcmp(type, "message") == 0)
		handle_message(s, &doc);
	else if (strcmp(type, "ping") == 0)
		handle_ping(s);
	else if (strcmp(type, "pong") == 0)
		;	/* liveness only; last activity is already updated */
	else {
		snprintf(err, sizeof(err), "Unknown message type: %.40s",
		    type);
		send_error(s, err);
	}
}

static void
session_read(struct session *s)
{
	struct ws_msg	 m;
	enum ws_event	 ev;
	struct evbuffer	*in;

	s->s_last_ms = now_ms();
	if (s->s_pre != NULL) {
		/* Keep stream order: bytes read since go behind extra_in. */
		evbuffer_add_buffer(s->s_pre, bufferevent_get_input(s->s_bev));
		in = s->s_pre;
	} else
		in = bufferevent_get_input(s->s_bev);
	while ((ev = ws_reader_next(&s->s_rd, in, &m)) != WS_EV_NONE) {
		switch (ev) {
		case WS_EV_TEXT:
			if (s->s_state == S_OPEN)
				handle_text(s, m.data, m.len);
			break;
		case WS_EV_BINARY:
			session_close(s, WS_CLOSE_UNSUPPORTED,
			    "Binary messages are not supported");
			return;
		case WS_EV_PING:
			if (s->s_state == S_OPEN &&
			    ws_write_frame(s->s_out, WS_OP_PONG, m.data,
			    m.len) == 0)
				session_flush_later(s);
			break;
		case WS_EV_PONG:
			break;
		case WS_EV_CLOSE:
			s->s_peer_closed = 1;
			if (s->s_state == S_CLOSING) {
				/* Our close was first: done once it is out. */
				if (evbuffer_get_length(s->s_out) == 0)
					session_destroy(s);
				return;
			}
			/* Echo the peer's code, as RFC 6455 asks. */
			session_close(s, m.close_code == WS_CLOSE_NO_STATUS ?
			    0 : m.close_code, NULL);
			return;
		case WS_EV_ERROR:
			log_debug("session %u: %s", s->s_id, m.reason);
			/* Failing the connection: drop TCP as soon as our
			 * close frame is out, without waiting for theirs. */
			s->s_peer_closed = 1;
			session_close(s, m.close_code, NULL);
			evbuffer_drain(in, evbuffer_get_length(in));
			return;
		default:
			return;
		}
	}
	if (s->s_pre != NULL && evbuffer_get_length(s->s_pre) == 0) {
		evbuffer_free(s->s_pre);
		s->s_pre = NULL;
	}
}

void
session_health_check(uint64_t room)
{
	struct wroom	*r = hmap_get(&rooms, room);
	struct session	*s;
	struct jw	*j = &out_json;
	int64_t		 now = now_ms();

	if (r == NULL)
		return;
	for (s = r->wr_head; s != NULL; s = s->s_room_next) {
		if (s->s_state != S_OPEN)
			continue;
		jw_reset(j);
		jw_obj_open(j);
		jw_kcstr(j, "type", "health_check_response");
		jw_kuint(j, "room_id", s->s_room);
		jw_kuint(j, "user_id", s->s_user);
		jw_kint(j, "connection_duration",
		    (now - s->s_opened_ms) / 1000);
		jw_ktime_ms(j, "last_activity", s->s_last_ms);
		jw_kbool(j, "is_alive", 1);
		jw_ktime_ms(j, "timestamp", now);
		jw_obj_close(j);
		session_send_jw(s, j);
	}
}

void
session_close_all(void)
{
	struct session	*s;
	uint64_t	 key;
	void		*v;
	size_t		 i = 0;

	while (hmap_next(&sessions, &i, &key, &v)) {
		s = v;
		session_close(s, WS_CLOSE_GOING_AWAY, "Server shutting down");
	}
}
