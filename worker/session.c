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
#include <fcntl.h>
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

#include "buf.h"
#include "chan.h"
#include "content.h"
#include "flush.h"
#include "heartbeat.h"
#include "guard.h"
#include "hmap.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "ratelimit.h"
#include "render.h"
#include "session.h"
#include "utf8.h"
#include "wire.h"
#include "worker.h"
#include "ws.h"

#define CLOSE_WAIT_S		2
#define TEMP_ID_MAX		64	/* bytes; the column's width */
#define READ_CHUNK		16384

#define HELD_MAX		4096	/* live frames held during a replay */

#define CLOSE_TRY_AGAIN		1013
#define OUT_PAUSE_MAX		(1024 * 1024)	/* see session_pause_reading */
#define CLOSE_AUTH		4001
#define CLOSE_NO_ROOM		4004
/* Server-side closes of the heartbeat (see README): too many pongs
 * missed, and open longer than connection_timeout. */
#define CLOSE_PING_TIMEOUT	4008
#define CLOSE_CONN_TIMEOUT	4009

enum s_state {
	S_PENDING = 0,		/* waiting for the broker's verdict */
	S_OPEN,
	S_CLOSING,		/* our close frame is queued or sent */
};

struct session {
	uint32_t			 s_id;
	struct MHD_UpgradeResponseHandle *s_urh;
	uint64_t			 s_hold;	/* guard count, 0 = none */
	enum s_state			 s_state;
	int				 s_registered;	/* broker knows it */
	int				 s_peer_closed;	/* got its close frame */
	int				 s_linked;	/* in its room's list */
	struct bufferevent		*s_bev;
	struct event			*s_timer;
	struct evbuffer			*s_pre;		/* extra_in, NULL once used */
	struct evbuffer			*s_out;		/* s_bev's output */
	struct evbuffer_cb_entry	*s_out_watch;	/* reading paused */
	struct flusher			 s_flush;	/* plain sockets only */
	struct ws_reader		 s_rd;
	uint64_t			 s_user;
	uint64_t			 s_room;
	int64_t				 s_opened_ms;
	int64_t				 s_last_ms;
	int64_t				 s_prev_ms;	/* before this read */
	struct session			*s_room_next;
	struct hb			 s_hb;
	struct bucket			 s_bucket;	/* chat messages */
	/* Replay: live traffic waits in s_held until the broker's
	 * MSG_REPLAY_DONE; messages the replay carried are dropped. */
	uint64_t			 s_replay_since;
	int				 s_replay_bad;
	int				 s_replaying;
	uint64_t			 s_replay_max;	/* highest replayed */
	struct held			*s_held, **s_held_tail;
	size_t				 s_nheld;
};

/* A live frame's JSON held back during a replay. */
struct held {
	struct held	*h_next;
	uint64_t	 h_msg;		/* message id, 0 = not a message */
	size_t		 h_len;
	char		 h_json[];
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
static struct event	*sweep_ev;	/* heartbeats of every session */
static uint64_t		 next_since;	/* see session_next_replay() */
static uint64_t		 next_hold;	/* see session_next_hold() */
static int		 next_since_bad;

static void	session_destroy(struct session *);
static void	session_close(struct session *, uint16_t, const char *);
static void	session_read(struct session *);
static void	session_new(struct bufferevent *, int,
		    struct MHD_UpgradeResponseHandle *, uint64_t, uint64_t,
		    const char *, size_t);
static int	sweep_start(void);

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
 * Everything queued on s_out in one loop turn leaves in one write: at the
 * turn's end for a plain socket (flush.h), when the TLS bufferevent
 * writes for a TLS one.
 */
static void
session_flush_later(struct session *s)
{
	/* A client that reads nothing while messages keep coming for it:
	 * they are stored, so it reconnects and replays them rather than
	 * have this process hold them without end.  A replay itself sends
	 * up to its limit at once, by design. */
	if (s->s_state == S_OPEN && !s->s_replaying &&
	    evbuffer_get_length(s->s_out) > (size_t)wctx->w_conf.ws_max_unread) {
		session_close(s, CLOSE_TRY_AGAIN, "Too much waiting to be read");
		return;
	}
	flush_later(&s->s_flush);
}

/* Unread bytes at which a client's own requests wait: a quarter of what
 * ends the connection, at most OUT_PAUSE_MAX. */
static size_t
out_pause(void)
{
	size_t	max = (size_t)wctx->w_conf.ws_max_unread / 4;

	return max < OUT_PAUSE_MAX ? max : OUT_PAUSE_MAX;
}

static void
out_drained_cb(struct evbuffer *b, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct session	*s = arg;

	if (info->n_deleted == 0 || evbuffer_get_length(b) > out_pause() / 2)
		return;
	evbuffer_remove_cb_entry(b, s->s_out_watch);
	s->s_out_watch = NULL;
	if (s->s_state == S_OPEN && bufferevent_enable(s->s_bev, EV_READ) == -1)
		session_close(s, WS_CLOSE_INTERNAL, "Internal error");
}

/*
 * Every request gets an answer, so a client that sends without reading
 * would have its answers pile up here: once they pass out_pause(), stop
 * reading it until half of them are gone.  Its requests then wait in
 * the kernel, and its sending blocks.
 */
static void
session_pause_reading(struct session *s)
{
	if (s->s_state != S_OPEN || s->s_out_watch != NULL ||
	    evbuffer_get_length(s->s_out) <= out_pause())
		return;
	if ((s->s_out_watch = evbuffer_add_cb(s->s_out, out_drained_cb, s))
	    == NULL)
		return;		/* ws_max_unread still bounds it */
	bufferevent_disable(s->s_bev, EV_READ);
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
	render_error(&out_json, message);
	session_send_jw(s, &out_json);
}

/*
 * Traffic that is not an answer to this client: held while a replay
 * runs, so that it arrives after what the client missed.  msg_id names
 * a chat message (0 for anything else).
 */
static void
session_send_live(struct session *s, const struct jw *j, uint64_t msg_id)
{
	struct held	*h;

	if (j->err || s->s_state != S_OPEN)
		return;
	if (!s->s_replaying) {
		session_send_text(s, j->buf, j->len);
		return;
	}
	if (s->s_nheld >= HELD_MAX ||
	    (h = malloc(sizeof(*h) + j->len)) == NULL) {
		session_close(s, CLOSE_TRY_AGAIN, "Too much traffic during "
		    "replay");
		return;
	}
	h->h_next = NULL;
	h->h_msg = msg_id;
	h->h_len = j->len;
	memcpy(h->h_json, j->buf, j->len);
	*s->s_held_tail = h;
	s->s_held_tail = &h->h_next;
	s->s_nheld++;
}

/* Send (or, with send 0, drop) what was held, in order. */
static void
held_flush(struct session *s, int send)
{
	struct held	*h;

	while ((h = s->s_held) != NULL) {
		s->s_held = h->h_next;
		if (send && (h->h_msg == 0 || h->h_msg > s->s_replay_max))
			session_send_text(s, h->h_json, h->h_len);
		free(h);
	}
	s->s_held_tail = &s->s_held;
	s->s_nheld = 0;
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct session	*s = arg;
	struct timeval	 now = { 0, 0 };

	(void)bev;
	/* Our close frame is out and theirs is in: the handshake is done.
	 * A TLS bufferevent writes as soon as bytes are queued and may call
	 * this from inside session_close(), which must not lose s, so the
	 * timer finishes the session. */
	if (s->s_state == S_CLOSING && s->s_peer_closed) {
		evtimer_add(s->s_timer, &now);
		return;
	}
	flush_drained(&s->s_flush);
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
	/* libevent writes from here on, and write_cb sees the close frame
	 * leave. */
	if (ws_write_close(s->s_out, code, reason) == -1 ||
	    flush_handover(&s->s_flush) == -1) {
		evtimer_add(s->s_timer, &now);
		return;
	}
	/* Already answered and written (write_cb ran): done next turn. */
	if (s->s_peer_closed && evbuffer_get_length(s->s_out) == 0) {
		evtimer_add(s->s_timer, &now);
		return;
	}
	/* Keep reading: the peer's close frame or EOF ends the wait. */
	bufferevent_enable(s->s_bev, EV_READ);
	evtimer_add(s->s_timer, &tv);
}

/*
 * Let MHD forget the connection: it frees its per-connection memory pool
 * (most of an idle connection's cost) and closes its own socket, which
 * the session does not use.
 */
static void
session_release_mhd(struct session *s)
{
	if (s->s_urh == NULL)
		return;
	MHD_upgrade_action(s->s_urh, MHD_UPGRADE_ACTION_CLOSE);
	s->s_urh = NULL;
	http_kick();
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
	held_flush(s, 0);
	event_free(s->s_timer);
	if (s->s_pre != NULL)
		evbuffer_free(s->s_pre);
	ws_reader_free(&s->s_rd);
	flush_detach(&s->s_flush);
	if (s->s_out_watch != NULL)
		evbuffer_remove_cb_entry(s->s_out, s->s_out_watch);
	/* The bufferevent owns its socket: a copy of MHD's for plain
	 * connections, the TCP socket for TLS ones. */
	bufferevent_free(s->s_bev);
	session_release_mhd(s);
	guard_unhold(s->s_hold);
	free(s);
}

void
session_start(int fd, struct MHD_UpgradeResponseHandle *urh, uint64_t user,
    uint64_t room, const char *extra_in, size_t extra_len)
{
	struct bufferevent	*bev;
	int			 own;

	/* A copy of the socket, so that MHD can be let go of its own as
	 * soon as the session is admitted (see session_release_mhd). */
	if ((own = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("%s: dup", __func__);
		session_next_drop();
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	bev = bufferevent_socket_new(wctx->w_base, own, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		log_warnx("%s: out of memory", __func__);
		close(own);
		session_next_drop();
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	session_new(bev, 1, urh, user, room, extra_in, extra_len);
}

void
session_start_bev(struct bufferevent *bev, struct MHD_UpgradeResponseHandle *urh,
    uint64_t user, uint64_t room, const char *extra_in, size_t extra_len)
{
	session_new(bev, 0, urh, user, room, extra_in, extra_len);
}

/* direct: bev is a socket bufferevent, written at the end of each loop
 * turn (flush.h). */
static void
session_new(struct bufferevent *bev, int direct,
    struct MHD_UpgradeResponseHandle *urh, uint64_t user, uint64_t room,
    const char *extra_in, size_t extra_len)
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
	s->s_opened_ms = s->s_last_ms = s->s_prev_ms = now_ms();
	s->s_held_tail = &s->s_held;
	s->s_hold = next_hold;
	next_hold = 0;
	s->s_replay_since = next_since;
	s->s_replay_bad = next_since_bad;
	next_since = 0;
	next_since_bad = 0;
	if (sweep_start() == -1)
		goto fail_free;
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
	if ((direct ? flush_attach(&s->s_flush, bev) :
	    bufferevent_enable(bev, EV_WRITE)) == -1) {
		session_destroy(s);
		return;
	}
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
	guard_unhold(s->s_hold);
	free(s);
fail:
	log_warnx("%s: out of memory", __func__);
	session_next_drop();
	bufferevent_free(bev);
	MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

void
session_next_hold(uint64_t ipkey)
{
	next_hold = ipkey;
}

void
session_next_drop(void)
{
	guard_unhold(next_hold);
	next_hold = 0;
	next_since = 0;
	next_since_bad = 0;
}

void
session_next_replay(uint64_t since, int bad)
{
	next_since = since;
	next_since_bad = bad;
}

void
session_accepted(uint32_t id, const char *username, size_t len)
{
	struct session	*s = hmap_get(&sessions, id);
	struct jw	*j = &out_json;
	struct chan	*ch = wctx->w_broker;
	size_t		 off;

	(void)username;
	(void)len;
	if (s == NULL || s->s_state != S_PENDING)
		return;
	s->s_state = S_OPEN;
	/* Outside MHD's callbacks now, so it may be told. */
	session_release_mhd(s);
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
	hb_init(&s->s_hb, &wctx->w_conf, now_ms());
	bucket_init(&s->s_bucket, wctx->w_conf.rate_limit_messages, now_ms());
	if (s->s_replay_bad)
		send_error(s, "Cannot replay: since must be a message id");
	else if (s->s_replay_since != 0) {
		/* From here on live traffic waits for the replay. */
		s->s_replaying = 1;
		off = chan_begin(ch, MSG_REPLAY, s->s_id);
		buf_add_u64(chan_out(ch), s->s_replay_since);
		chan_send(ch, off);
	}
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
	render_failed(j, reason, temp_id->s, temp_id->len);
	session_send_jw(s, j);
}

void
session_deliver(const struct delivery *d)
{
	static struct buf frame;	/* reused: no allocation per message */
	struct wroom	*r = hmap_get(&rooms, d->room);
	struct session	*s;
	uint8_t		 head[WS_HEAD_MAX];
	int		 hlen, rendered = 0;

	if (r == NULL)
		return;
	/* One frame for everyone but the sender: render and frame once. */
	for (s = r->wr_head; s != NULL; s = s->s_room_next) {
		if (s->s_state != S_OPEN)
			continue;
		/* The replay's query may see a commit before the broker
		 * hears of it, so a replayed message can still come live
		 * after the replay: ids only grow, so drop it. */
		if (d->id <= s->s_replay_max)
			continue;
		if (s->s_replaying) {
			render_delivery(&out_json, d,
			    s->s_id == d->sender_conn && d->temp_id.len > 0);
			session_send_live(s, &out_json, d->id);
			continue;
		}
		if (s->s_id == d->sender_conn && d->temp_id.len > 0) {
			render_delivery(&out_json, d, 1);
			session_send_jw(s, &out_json);
			continue;
		}
		if (!rendered) {
			render_delivery(&out_json, d, 0);
			if (out_json.err || (hlen = ws_frame_head(head,
			    WS_OP_TEXT, out_json.len)) == -1)
				fatalx("%s: cannot render a message", __func__);
			buf_reset(&frame);
			buf_add(&frame, head, hlen);
			buf_add(&frame, out_json.buf, out_json.len);
			if (frame.b_err)
				fatal("%s: out of memory", __func__);
			rendered = 1;
		}
		if (evbuffer_add(s->s_out, frame.b_data, frame.b_len) == -1) {
			session_close(s, WS_CLOSE_INTERNAL, "Internal error");
			continue;
		}
		session_flush_later(s);
	}
}

/* The refusal of a chat message names its temp_id, so that the client
 * can mark it failed. */
static void
refuse_message(struct session *s, const char *why, const char *temp,
    size_t tlen)
{
	render_failed(&out_json, why, temp, tlen);
	session_send_jw(s, &out_json);
}

static void
handle_message(struct session *s, const struct jdoc *doc)
{
	struct chan	*ch = wctx->w_broker;
	const struct config *conf = &wctx->w_conf;
	char		 temp[TEMP_ID_MAX + 1], err[96];
	char		*content;
	size_t		 clen, tlen = 0, off;
	int		 ci, ti;

	ti = jdoc_find(doc, "temp_id");
	if (ti != -1 && jdoc_type(doc, ti) != JT_NULL) {
		if (jdoc_type(doc, ti) != JT_STRING ||
		    jdoc_str(doc, ti, temp, sizeof(temp), &tlen) == -1) {
			send_error(s, "temp_id must be a string of at most 64 "
			    "bytes");
			return;
		}
	}
	ci = jdoc_find(doc, "content");
	if (ci == -1 || jdoc_type(doc, ci) == JT_NULL) {
		refuse_message(s, "Message content cannot be empty", temp,
		    tlen);
		return;
	}
	if (jdoc_type(doc, ci) != JT_STRING) {
		refuse_message(s, "Message content must be a string", temp,
		    tlen);
		return;
	}
	if ((content = jdoc_strdup(doc, ci, &clen)) == NULL) {
		refuse_message(s, "Invalid JSON format", temp, tlen);
		return;
	}
	if (content_check(content, clen, conf->message_size_limit, err,
	    sizeof(err)) == -1) {
		refuse_message(s, err, temp, tlen);
		free(content);
		return;
	}
	/* Counted only for messages that would be stored. */
	if (!bucket_take(&s->s_bucket, conf->rate_limit_messages,
	    conf->rate_limit_window, now_ms())) {
		snprintf(err, sizeof(err), "Rate limit exceeded (max %d "
		    "messages per %d seconds)", conf->rate_limit_messages,
		    conf->rate_limit_window);
		refuse_message(s, err, temp, tlen);
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
handle_ping(struct session *s, const struct jdoc *doc)
{
	(void)doc;
	render_pong(&out_json);
	session_send_jw(s, &out_json);
}

static void
handle_pong(struct session *s, const struct jdoc *doc)
{
	(void)doc;
	hb_pong(&s->s_hb);
}

static void
handle_connection_check(struct session *s, const struct jdoc *doc)
{
	(void)doc;
	render_connection_status(&out_json, s->s_opened_ms, s->s_prev_ms);
	session_send_jw(s, &out_json);
}

static void
send_typing(struct session *s, int on)
{
	struct chan	*ch = wctx->w_broker;
	size_t		 off;

	off = chan_begin(ch, MSG_TYPING, s->s_id);
	buf_add_u8(chan_out(ch), on);
	chan_send(ch, off);
}

static void
handle_typing_on(struct session *s, const struct jdoc *doc)
{
	(void)doc;
	send_typing(s, 1);
}

static void
handle_typing_off(struct session *s, const struct jdoc *doc)
{
	(void)doc;
	send_typing(s, 0);
}

/*
 * message_id as a JSON integer, or as a string of digits: browsers read
 * ids back from data-* attributes as strings.  0 and an error sent, or
 * the id.
 */
static uint64_t
doc_message_id(struct session *s, const struct jdoc *doc)
{
	char		 text[24];
	size_t		 n, i;
	int64_t		 v;
	int		 mi;

	mi = jdoc_find(doc, "message_id");
	if (mi == -1 || jdoc_type(doc, mi) == JT_NULL) {
		send_error(s, "message_id is required");
		return 0;
	}
	if (jdoc_type(doc, mi) == JT_NUMBER && jdoc_int64(doc, mi, &v) == 0 &&
	    v > 0)
		return (uint64_t)v;
	if (jdoc_type(doc, mi) == JT_STRING &&
	    jdoc_str(doc, mi, text, sizeof(text), &n) == 0 && n > 0 &&
	    n <= 18 && text[0] != '0') {
		for (i = 0; i < n && text[i] >= '0' && text[i] <= '9'; i++)
			;
		if (i == n)
			return strtoull(text, NULL, 10);
	}
	send_error(s, "message_id must be a positive integer");
	return 0;
}

static void
send_status(struct session *s, const struct jdoc *doc, int status)
{
	struct chan	*ch = wctx->w_broker;
	uint64_t	 id;
	size_t		 off;

	if ((id = doc_message_id(s, doc)) == 0)
		return;
	off = chan_begin(ch, MSG_STATUS, s->s_id);
	buf_add_u64(chan_out(ch), id);
	buf_add_u8(chan_out(ch), status);
	chan_send(ch, off);
}

static void
handle_delivered(struct session *s, const struct jdoc *doc)
{
	send_status(s, doc, 2);
}

static void
handle_read(struct session *s, const struct jdoc *doc)
{
	send_status(s, doc, 3);
}

/* Client -> server message types, sorted for bsearch. */
static const struct handler {
	const char	*h_type;
	void		(*h_fn)(struct session *, const struct jdoc *);
} handlers[] = {
	{ "connection_check", handle_connection_check },
	{ "message", handle_message },
	{ "message_delivered", handle_delivered },
	{ "message_read", handle_read },
	{ "ping", handle_ping },
	{ "pong", handle_pong },
	{ "typing_off", handle_typing_off },
	{ "typing_on", handle_typing_on },
};

static int
handler_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct handler *)elem)->h_type);
}

static void
handle_text(struct session *s, const uint8_t *data, size_t len)
{
	const struct handler	*h;
	struct jdoc		 doc;
	char			 type[64], err[96];
	int			 ti;

	if ((ti = jdoc_parse(&doc, (const char *)data, len)) != 0) {
		send_error(s, ti == JDOC_TOO_BIG ? "Message too complex: more "
		    "than 128 JSON values" : "Invalid JSON format");
		return;
	}
	ti = jdoc_find(&doc, "type");
	if (ti == -1 || jdoc_type(&doc, ti) != JT_STRING) {
		send_error(s, "Message type is required");
		return;
	}
	if (jdoc_str(&doc, ti, type, sizeof(type), NULL) == -1) {
		send_error(s, "Unknown message type");
		return;
	}
	h = bsearch(type, handlers, sizeof(handlers) / sizeof(handlers[0]),
	    sizeof(handlers[0]), handler_cmp);
	if (h == NULL) {
		snprintf(err, sizeof(err), "Unknown message type: %.40s",
		    type);
		send_error(s, err);
		return;
	}
	h->h_fn(s, &doc);
}

static void
session_read(struct session *s)
{
	struct ws_msg	 m;
	enum ws_event	 ev;
	struct evbuffer	*in;

	s->s_prev_ms = s->s_last_ms;
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
			hb_pong(&s->s_hb);
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
	session_pause_reading(s);
}

/*
 * The heartbeat of one session; returns at once for sessions not open.
 * Never frees s (closing only starts the handshake), so the sweep may go
 * on walking the map.
 */
static void
heartbeat(struct session *s, int64_t now)
{
	const struct config	*conf = &wctx->w_conf;
	enum hb_action		 a;

	while (s->s_state == S_OPEN &&
	    (a = hb_check(&s->s_hb, conf, now)) != HB_NONE) {
		switch (a) {
		case HB_PING:
			render_ping(&out_json, s->s_hb.hb_seq);
			break;
		case HB_MISSED:
		case HB_GIVE_UP:
			render_reconnect(&out_json, "ping_timeout",
			    s->s_hb.hb_missed, conf->max_reconnect_attempts);
			break;
		default:
			render_reconnect(&out_json, "connection_timeout",
			    s->s_hb.hb_missed, conf->max_reconnect_attempts);
			break;
		}
		session_send_jw(s, &out_json);
		if (a == HB_GIVE_UP)
			session_close(s, CLOSE_PING_TIMEOUT, "Ping timeout");
		else if (a == HB_EXPIRED)
			session_close(s, CLOSE_CONN_TIMEOUT,
			    "Connection timeout");
	}
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t	 key;
	void		*v;
	size_t		 i = 0;
	int64_t		 now = now_ms();

	(void)fd;
	(void)what;
	(void)arg;
	while (hmap_next(&sessions, &i, &key, &v))
		heartbeat(v, now);
}

/* One persistent timer for all sessions, started with the first. */
static int
sweep_start(void)
{
	struct timeval	tv;
	int		ms;

	if (sweep_ev != NULL)
		return 0;
	ms = hb_sweep_ms(&wctx->w_conf);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	sweep_ev = event_new(wctx->w_base, -1, EV_PERSIST, sweep_cb, NULL);
	if (sweep_ev == NULL || event_add(sweep_ev, &tv) == -1) {
		if (sweep_ev != NULL)
			event_free(sweep_ev);
		sweep_ev = NULL;
		return -1;
	}
	return 0;
}

void
session_conn_error(uint32_t id, const char *text)
{
	struct session	*s = hmap_get(&sessions, id);

	if (s != NULL && s->s_state == S_OPEN)
		send_error(s, text);
}

/* j to the room's open sessions of every user but skip_user. */
static void
room_send_others(uint64_t room, uint64_t skip_user, const struct jw *j)
{
	struct wroom	*r = hmap_get(&rooms, room);
	struct session	*s;

	if (r == NULL)
		return;
	for (s = r->wr_head; s != NULL; s = s->s_room_next)
		if (s->s_user != skip_user)
			session_send_live(s, j, 0);
}

void
session_status_update(uint64_t room, uint64_t msg_id, int status,
    int64_t ts_ms, uint64_t updated_by, uint32_t only_conn)
{
	struct session	*s;

	render_status_update(&out_json, msg_id, status, ts_ms, updated_by);
	if (only_conn == 0) {
		room_send_others(room, 0, &out_json);
		return;
	}
	/* Part of a replay: goes out now, before the held live traffic. */
	s = hmap_get(&sessions, only_conn);
	if (s != NULL && s->s_room == room && s->s_state == S_OPEN)
		session_send_jw(s, &out_json);
}

void
session_typing(uint64_t room, uint64_t user, int on,
    const struct str *username)
{
	render_typing(&out_json, user, username, on);
	room_send_others(room, user, &out_json);
}

void
session_presence(uint64_t room, uint64_t user, int online,
    int64_t last_seen_ms, const struct str *username)
{
	render_user_status(&out_json, user, username, online, last_seen_ms);
	room_send_others(room, user, &out_json);
}

void
session_replay_msg(uint32_t id, const struct delivery *d)
{
	struct session	*s = hmap_get(&sessions, id);

	if (s == NULL || s->s_state != S_OPEN || !s->s_replaying ||
	    d->room != s->s_room)
		return;
	/* The user's own messages carry their temp_id: one sent during the
	 * replay may come only this way. */
	render_delivery(&out_json, d, d->sender == s->s_user &&
	    d->temp_id.len > 0);
	session_send_jw(s, &out_json);
	if (d->id > s->s_replay_max)
		s->s_replay_max = d->id;
}

void
session_echo(uint32_t id, const struct delivery *d)
{
	struct session	*s = hmap_get(&sessions, id);

	/* A replay may have carried it, temp_id and all, already. */
	if (s == NULL || s->s_state != S_OPEN || d->room != s->s_room ||
	    d->id <= s->s_replay_max)
		return;
	render_delivery(&out_json, d, d->temp_id.len > 0);
	session_send_live(s, &out_json, d->id);
}

void
session_replay_done(uint32_t id, const char *notice)
{
	struct session	*s = hmap_get(&sessions, id);

	if (s == NULL || s->s_state != S_OPEN || !s->s_replaying)
		return;
	if (notice[0] != '\0')
		send_error(s, notice);
	s->s_replaying = 0;
	held_flush(s, 1);
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

void
session_kick(uint32_t id, uint16_t code, const char *reason)
{
	struct session	*s = hmap_get(&sessions, id);

	if (s == NULL)
		return;		/* gone on its own meanwhile */
	session_close(s, code, reason);
}
