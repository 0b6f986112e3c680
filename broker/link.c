/*
 * link.c - decode, check and route frames from workers; encode frames to
 * them.
 */
#include <inttypes.h>
#include <string.h>

#include "broker.h"
#include "chan.h"
#include "conn.h"
#include "link.h"
#include "log.h"
#include "metrics.h"
#include "order.h"
#include "presence.h"
#include "profile.h"
#include "replay.h"
#include "query.h"
#include "room.h"
#include "stats.h"
#include "status.h"
#include "supervise.h"
#include "typing.h"

/* WebSocket close codes for refused connections (see README). */
#define CLOSE_AUTH		4001
#define CLOSE_FORBIDDEN		4003
#define CLOSE_NO_ROOM		4004
#define CLOSE_TRY_AGAIN		1013

static void	conn_resolve(struct bconn *);

static void
conn_refuse(struct bconn *c, uint16_t code, const char *reason)
{
	switch (code) {
	case CLOSE_AUTH:
		stats.refused[REFUSED_AUTH]++;
		break;
	case CLOSE_FORBIDDEN:
		stats.refused[REFUSED_FORBIDDEN]++;
		break;
	case CLOSE_NO_ROOM:
		stats.refused[REFUSED_NO_ROOM]++;
		break;
	default:
		stats.refused[REFUSED_UNAVAILABLE]++;
	}
	send_ws_refuse(c->c_worker, c->c_id, code, reason);
	conn_free(c);
}

static void
conn_lookup_cb(int found, void *arg)
{
	struct bconn	*c = conn_get((uint64_t)(uintptr_t)arg);

	if (c == NULL)
		return;		/* closed while we looked */
	if (found == -1) {
		conn_refuse(c, CLOSE_TRY_AGAIN, "Service unavailable");
		return;
	}
	conn_resolve(c);
}

/* A background read of a user's names needs no answer. */
static void
names_read_cb(int ok, void *arg)
{
	(void)ok;
	(void)arg;
}

/*
 * Decide on a new connection once the user and room are known; looks up
 * whatever the cache misses first.  Unknown user beats unknown room: an
 * unauthenticated client learns nothing about which rooms exist.
 */
static void
conn_resolve(struct bconn *c)
{
	struct user	*u;
	struct room	*r;
	void		*key = (void *)(uintptr_t)c->c_key;

	if ((u = user_get(c->c_user)) == NULL) {
		if (c->c_user_looked) {
			conn_refuse(c, CLOSE_AUTH, "Authentication failed");
			return;
		}
		c->c_user_looked = 1;
		user_load(c->c_user, conn_lookup_cb, key);
		return;
	}
	if ((r = room_get(c->c_room_id)) == NULL) {
		if (c->c_room_looked) {
			conn_refuse(c, CLOSE_NO_ROOM, "Room not found");
			return;
		}
		c->c_room_looked = 1;
		room_load(c->c_room_id, conn_lookup_cb, key);
		return;
	}
	if (!room_is_participant(r, c->c_user)) {
		conn_refuse(c, CLOSE_FORBIDDEN, "Not a participant");
		return;
	}
	/* Names read long ago are read again, in the background: this
	 * connection is admitted with the cached ones. */
	if (mono_ms() - u->u_names_ms >= profile_lifetime_ms() &&
	    !profile_ready(c->c_user))
		profile_load(c->c_user, names_read_cb, NULL);
	stats.conns_opened++;
	c->c_state = BC_OPEN;
	c->c_room = r;
	room_add_conn(r, c);
	presence_conn_open(c);
	send_ws_accept(c->c_worker, c->c_id, c->c_user, r->r_id,
	    u->u_username);
}

static int
recv_hello(struct worker *w, struct wire_msg *m)
{
	uint32_t	version, index, pid;

	if (rd_u32(&m->payload, &version) == -1 ||
	    rd_u32(&m->payload, &index) == -1 ||
	    rd_u32(&m->payload, &pid) == -1 || rd_left(&m->payload) != 0)
		return -1;
	if (version != WIRE_VERSION || (int)index != w->w_index) {
		log_warnx("worker %d: version %u index %u, want %d and %d",
		    w->w_index, version, index, WIRE_VERSION, w->w_index);
		return -1;
	}
	w->w_ready = 1;
	log_debug("worker %d (pid %u) is up", w->w_index, pid);
	return 0;
}

static int
recv_ws_open(struct worker *w, struct wire_msg *m)
{
	uint64_t	 user, room;
	struct bconn	*c;

	if (rd_u64(&m->payload, &user) == -1 ||
	    rd_u64(&m->payload, &room) == -1 || rd_left(&m->payload) != 0 ||
	    m->hdr.id == 0 || m->hdr.id > UINT32_MAX)
		return -1;
	if ((c = conn_new(w->w_index, (uint32_t)m->hdr.id, user, room))
	    == NULL) {
		send_ws_refuse(w->w_index, (uint32_t)m->hdr.id,
		    CLOSE_TRY_AGAIN, "Service unavailable");
		return 0;
	}
	conn_resolve(c);
	return 0;
}

static int
recv_ws_close(struct worker *w, struct wire_msg *m)
{
	struct bconn	*c;

	if (rd_left(&m->payload) != 0 || m->hdr.id > UINT32_MAX)
		return -1;
	/* A refused connection is already gone here: nothing to do. */
	if ((c = conn_get(conn_key(w->w_index, (uint32_t)m->hdr.id))) != NULL)
		conn_free(c);
	return 0;
}

/* An open connection of this worker, or NULL for a malformed frame:
 * the worker only speaks for connections the broker accepted. */
static struct bconn *
open_conn(struct worker *w, struct wire_msg *m)
{
	struct bconn	*c;

	if (m->hdr.id > UINT32_MAX)
		return NULL;
	c = conn_get(conn_key(w->w_index, (uint32_t)m->hdr.id));
	if (c == NULL || c->c_state != BC_OPEN) {
		log_warnx("worker %d: %s for unknown connection %" PRIu64,
		    w->w_index, msg_type_name(m->hdr.type), m->hdr.id);
		return NULL;
	}
	return c;
}

static int
recv_send(struct worker *w, struct wire_msg *m)
{
	struct str	 temp, content;
	struct bconn	*c;

	if (rd_str(&m->payload, &temp) == -1 ||
	    rd_str(&m->payload, &content) == -1 ||
	    rd_left(&m->payload) != 0 || (c = open_conn(w, m)) == NULL)
		return -1;
	order_post(c, temp.s, temp.len, content.s, content.len);
	return 0;
}

static int
recv_typing(struct worker *w, struct wire_msg *m)
{
	struct bconn	*c;
	uint8_t		 on;

	if (rd_u8(&m->payload, &on) == -1 || rd_left(&m->payload) != 0 ||
	    on > 1 || (c = open_conn(w, m)) == NULL)
		return -1;
	typing_set(c, on);
	return 0;
}

static int
recv_status(struct worker *w, struct wire_msg *m)
{
	struct bconn	*c;
	uint64_t	 msg_id;
	uint8_t		 status;

	if (rd_u64(&m->payload, &msg_id) == -1 ||
	    rd_u8(&m->payload, &status) == -1 || rd_left(&m->payload) != 0 ||
	    (status != MS_DELIVERED && status != MS_READ) ||
	    (c = open_conn(w, m)) == NULL)
		return -1;
	status_request(c, msg_id, status);
	return 0;
}

/* Sent once the worker has MSG_WS_ACCEPT; the client may be gone since. */
static int
recv_replay(struct worker *w, struct wire_msg *m)
{
	struct bconn	*c;
	uint64_t	 since;

	if (rd_u64(&m->payload, &since) == -1 || rd_left(&m->payload) != 0 ||
	    since == 0 || m->hdr.id > UINT32_MAX)
		return -1;
	c = conn_get(conn_key(w->w_index, (uint32_t)m->hdr.id));
	if (c != NULL && c->c_state == BC_OPEN)
		replay_start(c, since);
	return 0;
}

static int
recv_worker_refused(struct wire_msg *m)
{
	uint32_t	reason;

	if (rd_u32(&m->payload, &reason) == -1 || rd_left(&m->payload) != 0 ||
	    reason >= REFUSED_MAX)
		return -1;
	stats.refused[reason]++;
	return 0;
}

static int
recv_metrics_get(struct worker *w, struct wire_msg *m)
{
	struct buf	text;
	size_t		off;

	if (rd_left(&m->payload) != 0)
		return -1;
	buf_init(&text);
	metrics_render(&text);
	off = chan_begin(w->w_chan, MSG_METRICS, m->hdr.id);
	buf_add_str(chan_out(w->w_chan), (const char *)text.b_data,
	    text.b_len);
	chan_send(w->w_chan, off);
	buf_free(&text);
	return 0;
}

int
link_recv(struct chan *ch, struct wire_msg *m, void *arg)
{
	struct worker	*w = arg;

	(void)ch;
	if (!w->w_ready && m->hdr.type != MSG_HELLO)
		return -1;
	switch (m->hdr.type) {
	case MSG_HELLO:
		return recv_hello(w, m);
	case MSG_WS_OPEN:
		return recv_ws_open(w, m);
	case MSG_WS_CLOSE:
		return recv_ws_close(w, m);
	case MSG_SEND:
		return recv_send(w, m);
	case MSG_TYPING:
		return recv_typing(w, m);
	case MSG_STATUS:
		return recv_status(w, m);
	case MSG_REPLAY:
		return recv_replay(w, m);
	case MSG_REST_QUERY:
		return query_recv(w->w_index, m);
	case MSG_WORKER_REFUSED:
		return recv_worker_refused(m);
	case MSG_METRICS_GET:
		return recv_metrics_get(w, m);
	default:
		log_warnx("worker %d sent %s, which only the broker sends",
		    w->w_index, msg_type_name(m->hdr.type));
		return -1;
	}
}

void
link_send_config(struct worker *w)
{
	const char	*key;
	char		 val[1024];
	size_t		 iter = 0, off;
	struct chan	*ch = w->w_chan;

	while (config_worker_item(&broker->b_conf, &iter, &key, val,
	    sizeof(val))) {
		off = chan_begin(ch, MSG_CFG_SET, 0);
		buf_add_cstr(chan_out(ch), key);
		buf_add_cstr(chan_out(ch), val);
		chan_send(ch, off);
	}
	off = chan_begin(ch, MSG_CFG_DONE, 0);
	chan_send(ch, off);
}

void
send_ws_accept(int worker, uint32_t conn, uint64_t user, uint64_t room,
    const char *username)
{
	struct chan	*ch;
	size_t		 off;

	if ((ch = supervise_chan(worker)) == NULL)
		return;
	off = chan_begin(ch, MSG_WS_ACCEPT, conn);
	buf_add_u64(chan_out(ch), user);
	buf_add_u64(chan_out(ch), room);
	buf_add_cstr(chan_out(ch), username);
	chan_send(ch, off);
}

/* A close request to a worker: refusal or kick, same payload. */
static void
send_close(int worker, uint16_t type, uint32_t conn, uint16_t code,
    const char *reason)
{
	struct chan	*ch;
	size_t		 off;

	if ((ch = supervise_chan(worker)) == NULL)
		return;
	off = chan_begin(ch, type, conn);
	buf_add_u16(chan_out(ch), code);
	buf_add_cstr(chan_out(ch), reason);
	chan_send(ch, off);
}

void
send_ws_refuse(int worker, uint32_t conn, uint16_t code, const char *reason)
{
	send_close(worker, MSG_WS_REFUSE, conn, code, reason);
}

void
send_ws_kick(int worker, uint32_t conn, uint16_t code, const char *reason)
{
	send_close(worker, MSG_WS_KICK, conn, code, reason);
}

void
send_send_fail(int worker, uint32_t conn, const char *temp_id,
    size_t temp_len, const char *reason)
{
	struct chan	*ch;
	size_t		 off;

	if ((ch = supervise_chan(worker)) == NULL)
		return;
	off = chan_begin(ch, MSG_SEND_FAIL, conn);
	buf_add_str(chan_out(ch), temp_id ? temp_id : "", temp_len);
	buf_add_cstr(chan_out(ch), reason);
	chan_send(ch, off);
}

void
send_deliver(int worker, const struct pmsg *m, uint32_t sender_conn)
{
	struct chan	*ch;
	struct user	*u;
	size_t		 off;

	if ((ch = supervise_chan(worker)) == NULL)
		return;
	u = user_get(m->m_sender);
	off = chan_begin(ch, MSG_DELIVER, m->m_room);
	buf_add_u64(chan_out(ch), m->m_id);
	buf_add_u64(chan_out(ch), m->m_sender);
	buf_add_u64(chan_out(ch), (uint64_t)m->m_created_ms);
	buf_add_u64(chan_out(ch), sender_conn);
	buf_add_cstr(chan_out(ch), u ? u->u_username : "");
	buf_add_str(chan_out(ch), m->m_temp_id ? m->m_temp_id : "",
	    m->m_temp_len);
	buf_add_str(chan_out(ch), m->m_content, m->m_content_len);
	chan_send(ch, off);
}
