/*
 * link.c - decode and route frames from the broker.
 */
#include <string.h>
#include <unistd.h>

#include "chan.h"
#include "link.h"
#include "log.h"
#include "rest.h"
#include "metrics.h"
#include "session.h"
#include "worker.h"

/* Set by worker.c: called once the configuration is complete. */
extern void	worker_configured(void);

static int	configured;

static int
recv_cfg_set(struct wire_msg *m)
{
	struct str	k, v;
	char		key[64], val[1024], err[256];

	if (rd_str(&m->payload, &k) == -1 || rd_str(&m->payload, &v) == -1 ||
	    rd_left(&m->payload) != 0 || k.len >= sizeof(key) ||
	    v.len >= sizeof(val))
		return -1;
	memcpy(key, k.s, k.len);
	key[k.len] = '\0';
	memcpy(val, v.s, v.len);
	val[v.len] = '\0';
	if (config_set(&wctx->w_conf, key, val, err, sizeof(err)) == -1)
		fatalx("configuration from broker: %s", err);
	return 0;
}

static int
recv_ws_accept(struct wire_msg *m)
{
	uint64_t	user, room;
	struct str	name;

	if (rd_u64(&m->payload, &user) == -1 ||
	    rd_u64(&m->payload, &room) == -1 ||
	    rd_str(&m->payload, &name) == -1 || rd_left(&m->payload) != 0)
		return -1;
	session_accepted((uint32_t)m->hdr.id, name.s, name.len);
	return 0;
}

/* A string of a frame as a C string, cut to fit out. */
static void
str_copy(char *out, size_t outsz, const struct str *v)
{
	size_t	n = v->len < outsz - 1 ? v->len : outsz - 1;

	memcpy(out, v->s, n);
	out[n] = '\0';
}

/* u16 close code, str reason: the payload of a close request. */
static int
read_close(struct wire_msg *m, uint16_t *code, char *text, size_t textsz)
{
	struct str	reason;

	if (rd_u16(&m->payload, code) == -1 ||
	    rd_str(&m->payload, &reason) == -1 || rd_left(&m->payload) != 0)
		return -1;
	str_copy(text, textsz, &reason);
	return 0;
}

static int
recv_ws_refuse(struct wire_msg *m)
{
	uint16_t	code;
	char		text[124];

	if (read_close(m, &code, text, sizeof(text)) == -1)
		return -1;
	session_refused((uint32_t)m->hdr.id, code, text);
	return 0;
}

static int
recv_deliver(struct wire_msg *m)
{
	struct delivery	d;
	uint64_t	created, sconn;

	d.room = m->hdr.id;
	if (rd_u64(&m->payload, &d.id) == -1 ||
	    rd_u64(&m->payload, &d.sender) == -1 ||
	    rd_u64(&m->payload, &created) == -1 ||
	    rd_u64(&m->payload, &sconn) == -1 ||
	    rd_str(&m->payload, &d.username) == -1 ||
	    rd_str(&m->payload, &d.temp_id) == -1 ||
	    rd_str(&m->payload, &d.content) == -1 ||
	    rd_left(&m->payload) != 0 || sconn > UINT32_MAX)
		return -1;
	d.created_ms = (int64_t)created;
	d.sender_conn = (uint32_t)sconn;
	d.status = 1;
	session_deliver(&d);
	return 0;
}

static int
recv_send_fail(struct wire_msg *m)
{
	struct str	temp, reason;
	char		text[128];

	if (rd_str(&m->payload, &temp) == -1 ||
	    rd_str(&m->payload, &reason) == -1 || rd_left(&m->payload) != 0)
		return -1;
	str_copy(text, sizeof(text), &reason);
	session_send_failed((uint32_t)m->hdr.id, &temp, text);
	return 0;
}

static int
recv_ws_kick(struct wire_msg *m)
{
	uint16_t	code;
	char		text[124];

	if (read_close(m, &code, text, sizeof(text)) == -1)
		return -1;
	session_kick((uint32_t)m->hdr.id, code, text);
	return 0;
}

static int
recv_conn_error(struct wire_msg *m)
{
	struct str	text;
	char		buf[256];

	if (rd_str(&m->payload, &text) == -1 || rd_left(&m->payload) != 0)
		return -1;
	str_copy(buf, sizeof(buf), &text);
	session_conn_error((uint32_t)m->hdr.id, buf);
	return 0;
}

static int
recv_status_update(struct wire_msg *m)
{
	uint64_t	msg_id, ms, by;
	uint32_t	conn;
	uint8_t		status;

	if (rd_u64(&m->payload, &msg_id) == -1 ||
	    rd_u8(&m->payload, &status) == -1 ||
	    rd_u64(&m->payload, &ms) == -1 || rd_u64(&m->payload, &by) == -1 ||
	    rd_u32(&m->payload, &conn) == -1 || rd_left(&m->payload) != 0)
		return -1;
	session_status_update(m->hdr.id, msg_id, status, (int64_t)ms, by, conn);
	return 0;
}

static int
recv_typing_update(struct wire_msg *m)
{
	uint64_t	user;
	uint8_t		on;
	struct str	name;

	if (rd_u64(&m->payload, &user) == -1 || rd_u8(&m->payload, &on) == -1 ||
	    rd_str(&m->payload, &name) == -1 || rd_left(&m->payload) != 0)
		return -1;
	session_typing(m->hdr.id, user, on != 0, &name);
	return 0;
}

static int
recv_presence(struct wire_msg *m)
{
	uint64_t	user, seen;
	uint8_t		online;
	struct str	name;

	if (rd_u64(&m->payload, &user) == -1 ||
	    rd_u8(&m->payload, &online) == -1 ||
	    rd_u64(&m->payload, &seen) == -1 ||
	    rd_str(&m->payload, &name) == -1 || rd_left(&m->payload) != 0)
		return -1;
	session_presence(m->hdr.id, user, online != 0, (int64_t)seen, &name);
	return 0;
}

/* One message for one connection: a replayed one or a retry's echo. */
static int
recv_conn_msg(struct wire_msg *m, void (*deliver)(uint32_t,
    const struct delivery *))
{
	struct delivery	d;
	uint64_t	created;
	uint8_t		status;

	memset(&d, 0, sizeof(d));
	if (rd_u64(&m->payload, &d.room) == -1 ||
	    rd_u64(&m->payload, &d.id) == -1 ||
	    rd_u64(&m->payload, &d.sender) == -1 ||
	    rd_u64(&m->payload, &created) == -1 ||
	    rd_u8(&m->payload, &status) == -1 ||
	    rd_str(&m->payload, &d.username) == -1 ||
	    rd_str(&m->payload, &d.temp_id) == -1 ||
	    rd_str(&m->payload, &d.content) == -1 || rd_left(&m->payload) != 0)
		return -1;
	d.created_ms = (int64_t)created;
	d.status = status;
	deliver((uint32_t)m->hdr.id, &d);
	return 0;
}

static int
recv_replay_done(struct wire_msg *m)
{
	struct str	notice;
	char		buf[256];

	if (rd_str(&m->payload, &notice) == -1 || rd_left(&m->payload) != 0)
		return -1;
	str_copy(buf, sizeof(buf), &notice);
	session_replay_done((uint32_t)m->hdr.id, buf);
	return 0;
}

static int
recv_metrics(struct wire_msg *m)
{
	struct str	text;

	if (rd_str(&m->payload, &text) == -1 || rd_left(&m->payload) != 0)
		return -1;
	metrics_answer(m->hdr.id, text.s, text.len);
	return 0;
}

int
wlink_recv(struct chan *ch, struct wire_msg *m, void *arg)
{
	(void)ch;
	(void)arg;
	if (!configured) {
		switch (m->hdr.type) {
		case MSG_CFG_SET:
			return recv_cfg_set(m);
		case MSG_CFG_DONE:
			if (rd_left(&m->payload) != 0)
				return -1;
			configured = 1;
			worker_configured();
			return 0;
		default:
			return -1;
		}
	}
	switch (m->hdr.type) {
	case MSG_WS_ACCEPT:
		return recv_ws_accept(m);
	case MSG_WS_REFUSE:
		return recv_ws_refuse(m);
	case MSG_DELIVER:
		return recv_deliver(m);
	case MSG_SEND_FAIL:
		return recv_send_fail(m);
	case MSG_METRICS:
		return recv_metrics(m);
	case MSG_HEALTH_CHECK:
		if (rd_left(&m->payload) != 0)
			return -1;
		session_health_check(m->hdr.id);
		return 0;
	case MSG_WS_KICK:
		return recv_ws_kick(m);
	case MSG_CONN_ERROR:
		return recv_conn_error(m);
	case MSG_STATUS_UPDATE:
		return recv_status_update(m);
	case MSG_TYPING_UPDATE:
		return recv_typing_update(m);
	case MSG_PRESENCE:
		return recv_presence(m);
	case MSG_REPLAY_MSG:
		return recv_conn_msg(m, session_replay_msg);
	case MSG_ECHO:
		return recv_conn_msg(m, session_echo);
	case MSG_REPLAY_DONE:
		return recv_replay_done(m);
	case MSG_REST_USER:
	case MSG_REST_ROOM:
	case MSG_REST_MESSAGE:
	case MSG_REST_DONE:
		return rest_reply(m);
	default:
		log_warnx("broker sent %s, which only workers send",
		    msg_type_name(m->hdr.type));
		return -1;
	}
}

void
wlink_send_hello(void)
{
	struct chan	*ch = wctx->w_broker;
	size_t		 off;

	off = chan_begin(ch, MSG_HELLO, 0);
	buf_add_u32(chan_out(ch), WIRE_VERSION);
	buf_add_u32(chan_out(ch), (uint32_t)wctx->w_index);
	buf_add_u32(chan_out(ch), (uint32_t)getpid());
	chan_send(ch, off);
}
