/*
 * control.c - the control socket: accepting chatctl, the HELLO exchange,
 * dispatching requests, and the requests answered from the broker's own
 * memory (status, check, connections, kick, health checks, reload and
 * shutdown).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <pwd.h>
#include <inttypes.h>
#include <math.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "broker.h"
#include "chan.h"
#include "conn.h"
#include "control.h"
#include "db.h"
#include "health.h"
#include "hmap.h"
#include "json.h"
#include "link.h"
#include "log.h"
#include "order.h"
#include "profile.h"
#include "rate.h"
#include "recent.h"
#include "room.h"
#include "schema.h"
#include "stats.h"
#include "supervise.h"

#define KICK_CODE_MIN	3000	/* application close codes only */
#define KICK_CODE_MAX	4999
#define CHECK_WAIT_MS	5000

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

struct ctl {
	uint64_t	 c_id;
	struct chan	*c_chan;
	uid_t		 c_uid;
	int		 c_hello;	/* exchanged MSG_HELLO */
	int		 c_refused;	/* version mismatch: drop what follows */
	int		 c_busy;	/* a request is being answered */
};

static int		 ctl_fd = -1;
static struct event	*ctl_ev;
static struct hmap	 ctls;
static uint64_t		 next_ctl_id = 1;
static struct db	*ctl_dbh;	/* admin work, off the message path */
static char		 ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

/* Both write connections: messages, and status and last_seen. */
static int
writers_connected(void)
{
	return db_connected(broker->b_dbw) && db_connected(broker->b_dbs);
}

struct ctl *
ctl_get(uint64_t id)
{
	return hmap_get(&ctls, id);
}

uint64_t
ctl_id(const struct ctl *c)
{
	return c->c_id;
}

size_t
ctl_pending(const struct ctl *c)
{
	return chan_pending(c->c_chan);
}

void
ctl_row(struct ctl *c, const struct jw *j)
{
	size_t	off;

	if (j->err) {
		ctl_fail(c, "out of memory");
		return;
	}
	off = chan_begin(c->c_chan, MSG_CTL_ROW, 0);
	buf_add_str(chan_out(c->c_chan), j->buf, j->len);
	chan_send(c->c_chan, off);
}

void
ctl_data(struct ctl *c, const char *p, size_t n)
{
	size_t	off;

	off = chan_begin(c->c_chan, MSG_CTL_DATA, 0);
	buf_add(chan_out(c->c_chan), p, n);
	chan_send(c->c_chan, off);
}

void
ctl_end(struct ctl *c)
{
	size_t	off;

	off = chan_begin(c->c_chan, MSG_CTL_END, 0);
	chan_send(c->c_chan, off);
	c->c_busy = 0;
}

void
ctl_fail(struct ctl *c, const char *fmt, ...)
{
	char	reason[512];
	va_list	ap;
	size_t	off;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	off = chan_begin(c->c_chan, MSG_CTL_FAIL, 0);
	buf_add_cstr(chan_out(c->c_chan), reason);
	chan_send(c->c_chan, off);
	c->c_busy = 0;
}

/* A reply of the one row in j; frees j. */
static void
ctl_one_row(struct ctl *c, struct jw *j)
{
	ctl_row(c, j);
	ctl_end(c);
	jw_free(j);
}

struct ctl_q {
	uint64_t	 q_ctl;
	ctl_db_cb	*q_cb;
	void		*q_state;
};

static void
ctl_query_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	struct ctl_q	*q = arg;
	struct ctl	*c;

	if ((c = ctl_get(q->q_ctl)) != NULL)
		q->q_cb(c, res, err, errstr, affected, q->q_state);
	free(q->q_state);
	free(q);
}

void
ctl_query(struct ctl *c, const char *sql, size_t len, ctl_db_cb *cb,
    void *state)
{
	struct ctl_q	*q;

	if (!db_connected(ctl_dbh)) {
		ctl_fail(c, "MariaDB is not reachable");
		free(state);
		return;
	}
	if ((q = malloc(sizeof(*q))) == NULL) {
		ctl_fail(c, "out of memory");
		free(state);
		return;
	}
	q->q_ctl = c->c_id;
	q->q_cb = cb;
	q->q_state = state;
	if (db_query(ctl_dbh, sql, len, ctl_query_cb, q) == -1) {
		ctl_fail(c, "out of memory");
		free(state);
		free(q);
	}
}

struct db *
ctl_db(void)
{
	return ctl_dbh;
}

char *
ctl_escape(const char *s, size_t len)
{
	char	*out;

	if ((out = malloc(2 * len + 1)) == NULL)
		return NULL;
	db_escape(ctl_dbh, out, s, len);
	return out;
}

/* The figures of status and monitor. */
static void
status_summary(struct jw *j)
{
	struct hmap	 users, rooms;
	struct bconn	*bc;
	struct worker	*w;
	size_t		 i = 0, nconns = 0;
	int		 k, running = 0;
	double		 stored, delivered;

	hmap_init(&users);
	hmap_init(&rooms);
	while ((bc = conn_next(&i)) != NULL) {
		if (bc->c_state != BC_OPEN)
			continue;
		nconns++;
		if (hmap_put(&users, bc->c_user, bc) == -1 ||
		    hmap_put(&rooms, bc->c_room_id, bc) == -1)
			j->err = 1;
	}
	for (k = 0; k < MAX_WORKERS; k++)
		if ((w = supervise_worker(k)) != NULL && !w->w_retiring)
			running += w->w_pid > 0 && w->w_ready;
	rate_get(&stored, &delivered);
	jw_obj_open(j);
	jw_kint(j, "pid", getpid());
	jw_kcstr(j, "version", PACKAGE_VERSION);
	jw_kint(j, "uptime_seconds", (now_ms() - broker->b_started_ms) / 1000);
	jw_ktime_ms(j, "started_at", broker->b_started_ms);
	jw_ktime_ms(j, "sampled_at", now_ms());
	jw_kuint(j, "connections", nconns);
	jw_kuint(j, "online_users", hmap_count(&users));
	jw_kuint(j, "active_rooms", hmap_count(&rooms));
	/* Rates to a tenth: more digits are noise, and tables show them. */
	jw_key(j, "stored_per_second");
	jw_double(j, round(stored * 10) / 10);
	jw_key(j, "delivered_per_second");
	jw_double(j, round(delivered * 10) / 10);
	jw_kuint(j, "messages_stored", stats.msgs_stored);
	jw_kuint(j, "messages_failed", stats.msgs_failed);
	jw_kuint(j, "deliveries", stats.deliver_frames);
	jw_kuint(j, "pending_writes", order_pending());
	jw_kbool(j, "db_writer_connected", writers_connected());
	jw_kbool(j, "db_reader_connected", db_connected(broker->b_dbr));
	jw_kint(j, "worker_count", supervise_nworkers());
	jw_kint(j, "workers_running", running);
	jw_kuint(j, "worker_restarts", stats.worker_restarts);
	jw_kuint(j, "cached_rooms", recent_rooms());
	jw_kuint(j, "cached_rooms_dropped", stats.recent_evicted);
	jw_kuint(j, "cached_profiles", profile_count());
	jw_kuint(j, "status_lookups", stats.status_lookups);
	jw_kuint(j, "status_lookup_queries", stats.status_lookup_queries);
	jw_obj_close(j);
	hmap_free(&users);
	hmap_free(&rooms);
}

static int
recv_status(struct ctl *c, struct wire_msg *m)
{
	struct jw	 j;
	struct worker	*w;
	struct bconn	*bc;
	unsigned	 per[MAX_WORKERS] = { 0 };
	size_t		 i = 0;
	int		 k;

	if (rd_left(&m->payload) != 0)
		return -1;
	jw_init(&j);
	status_summary(&j);
	ctl_row(c, &j);
	while ((bc = conn_next(&i)) != NULL)
		if (bc->c_state == BC_OPEN && bc->c_worker < MAX_WORKERS)
			per[bc->c_worker]++;
	for (k = 0; k < MAX_WORKERS; k++) {
		/* Slots are not contiguous after a reload. */
		if ((w = supervise_worker(k)) == NULL)
			continue;
		jw_reset(&j);
		jw_obj_open(&j);
		jw_kint(&j, "index", w->w_index);
		if (w->w_pid > 0)
			jw_kint(&j, "pid", w->w_pid);
		else
			jw_knull(&j, "pid");
		jw_kuint(&j, "connections", per[k]);
		jw_kuint(&j, "restarts", w->w_restarts);
		jw_kbool(&j, "running", w->w_pid > 0 && w->w_ready);
		jw_kbool(&j, "retiring", w->w_retiring);
		jw_ktime_ms(&j, "started_at", w->w_started_ms);
		jw_obj_close(&j);
		ctl_row(c, &j);
	}
	ctl_end(c);
	jw_free(&j);
	return 0;
}

static void
check_row(struct ctl *c, const char *name, int ok, const char *fmt, ...)
{
	struct jw	j;
	char		detail[256];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	jw_init(&j);
	jw_obj_open(&j);
	jw_kcstr(&j, "check", name);
	jw_kbool(&j, "ok", ok);
	jw_kcstr(&j, "detail", detail);
	jw_obj_close(&j);
	ctl_row(c, &j);
	jw_free(&j);
}

static void
check_finish(struct ctl *c, int db_ok, const char *db_detail)
{
	struct worker	*w;
	int		 k, n = supervise_nworkers(), running = 0;

	check_row(c, "broker", 1, "pid %d, up %" PRId64 " s", (int)getpid(),
	    (now_ms() - broker->b_started_ms) / 1000);
	check_row(c, "database", db_ok, "%s", db_detail);
	for (k = 0; k < MAX_WORKERS; k++)
		if ((w = supervise_worker(k)) != NULL && !w->w_retiring)
			running += w->w_pid > 0 && w->w_ready;
	check_row(c, "workers", running == n, "%d of %d running", running, n);
	ctl_end(c);
}

/*
 * A check waits for its query at most CHECK_WAIT_MS: a MariaDB that hangs
 * is a failed check, not a hung chatctl.  The query and the timer both
 * hold the request; whichever comes first answers, the last one frees.
 */
struct check_req {
	uint64_t	cq_ctl;
	int		cq_refs;
	int		cq_answered;
};

static void
check_answer(struct check_req *cq, int ok, const char *detail)
{
	struct ctl	*c;

	if (!cq->cq_answered && (c = ctl_get(cq->cq_ctl)) != NULL)
		check_finish(c, ok, detail);
	cq->cq_answered = 1;
	if (--cq->cq_refs == 0)
		free(cq);
}

static void
check_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	char	detail[64];

	(void)fd;
	(void)what;
	snprintf(detail, sizeof(detail), "no answer from MariaDB within "
	    "%d s", CHECK_WAIT_MS / 1000);
	check_answer(arg, 0, detail);
}

static void
check_db_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	MYSQL_ROW	 row;
	long		 v = -1;
	char		 detail[256];

	(void)affected;
	if (err != 0) {
		snprintf(detail, sizeof(detail), "query failed: %s", errstr);
		check_answer(arg, 0, detail);
		return;
	}
	if ((row = db_row(res)) != NULL && row[0])
		v = strtol(row[0], NULL, 10);
	snprintf(detail, sizeof(detail), "schema version %ld, want %d%s", v,
	    schema_wanted(), writers_connected() ? "" :
	    "; writer connection down");
	check_answer(arg, v == schema_wanted() && writers_connected(), detail);
}

static int
recv_check(struct ctl *c, struct wire_msg *m)
{
	static const char	 sql[] = "SELECT MAX(version) FROM schema_version";
	struct timeval		 tv = { CHECK_WAIT_MS / 1000, 0 };
	struct check_req	*cq;

	if (rd_left(&m->payload) != 0)
		return -1;
	/* The reader is the connection chatd uses: test that one. */
	if (!db_connected(broker->b_dbr)) {
		check_finish(c, 0, "reader connection down: MariaDB not "
		    "reachable");
		return 0;
	}
	if ((cq = calloc(1, sizeof(*cq))) == NULL) {
		check_finish(c, 0, "out of memory");
		return 0;
	}
	cq->cq_ctl = c->c_id;
	cq->cq_refs = 2;
	if (event_base_once(broker->b_base, -1, EV_TIMEOUT, check_timeout_cb,
	    cq, &tv) == -1)
		cq->cq_refs--;
	if (db_query(broker->b_dbr, sql, sizeof(sql) - 1, check_db_cb, cq)
	    == -1)
		check_answer(cq, 0, "out of memory");
	return 0;
}

static void
conn_row(struct ctl *c, struct jw *j, const struct bconn *bc)
{
	struct user	*u = user_get(bc->c_user);

	jw_reset(j);
	jw_obj_open(j);
	jw_kuint(j, "id", bc->c_key);
	jw_kint(j, "worker", bc->c_worker);
	jw_kuint(j, "user_id", bc->c_user);
	jw_kcstr(j, "username", u ? u->u_username : "");
	jw_kuint(j, "room_id", bc->c_room_id);
	jw_ktime_ms(j, "since", bc->c_opened_ms);
	jw_obj_close(j);
	ctl_row(c, j);
}

/* Rows for the open connections, filtered by room and user (0 = any). */
static void
list_conns(struct ctl *c, uint64_t room, uint64_t user)
{
	struct jw	 j;
	struct bconn	*bc;
	size_t		 i = 0;

	jw_init(&j);
	while ((bc = conn_next(&i)) != NULL)
		if (bc->c_state == BC_OPEN &&
		    (room == 0 || bc->c_room_id == room) &&
		    (user == 0 || bc->c_user == user))
			conn_row(c, &j, bc);
	jw_free(&j);
	ctl_end(c);
}

static void
conns_user_cb(struct ctl *c, uint64_t id, const char *username, void *state)
{
	(void)username;
	list_conns(c, *(uint64_t *)state, id);
}

static int
recv_conns(struct ctl *c, struct wire_msg *m)
{
	struct str	user;
	uint64_t	room;

	if (rd_u64(&m->payload, &room) == -1 ||
	    rd_str(&m->payload, &user) == -1 || rd_left(&m->payload) != 0)
		return -1;
	if (user.len == 0)
		list_conns(c, room, 0);
	else
		ctl_find_user(c, &user, conns_user_cb, &room, sizeof(room));
	return 0;
}

struct kick_req {
	uint16_t	kr_code;
	char		kr_reason[124];
};

static void
kick_reply(struct ctl *c, unsigned n)
{
	struct jw	j;

	jw_init(&j);
	jw_obj_open(&j);
	jw_kuint(&j, "kicked", n);
	jw_obj_close(&j);
	ctl_one_row(c, &j);
}

static void
kick_user_cb(struct ctl *c, uint64_t id, const char *username, void *state)
{
	struct kick_req	*kr = state;
	struct bconn	*bc;
	size_t		 i = 0;
	unsigned	 n = 0;

	(void)username;
	while ((bc = conn_next(&i)) != NULL)
		if (bc->c_state == BC_OPEN && bc->c_user == id) {
			send_ws_kick(bc->c_worker, bc->c_id, kr->kr_code,
			    kr->kr_reason);
			n++;
		}
	log_info("control: kicked %u connections of user %" PRIu64, n, id);
	kick_reply(c, n);
}

static int
recv_kick(struct ctl *c, struct wire_msg *m)
{
	struct kick_req	 kr;
	struct bconn	*bc;
	struct str	 user, reason;
	uint64_t	 conn;
	uint16_t	 code;

	if (rd_u64(&m->payload, &conn) == -1 ||
	    rd_str(&m->payload, &user) == -1 ||
	    rd_u16(&m->payload, &code) == -1 ||
	    rd_str(&m->payload, &reason) == -1 || rd_left(&m->payload) != 0)
		return -1;
	if (code < KICK_CODE_MIN || code > KICK_CODE_MAX) {
		ctl_fail(c, "close code %u is not between %d and %d", code,
		    KICK_CODE_MIN, KICK_CODE_MAX);
		return 0;
	}
	/* A close frame's reason is at most 123 bytes. */
	memset(&kr, 0, sizeof(kr));
	kr.kr_code = code;
	snprintf(kr.kr_reason, sizeof(kr.kr_reason), "%.*s",
	    (int)reason.len, reason.s);
	if (conn == 0) {
		ctl_find_user(c, &user, kick_user_cb, &kr, sizeof(kr));
		return 0;
	}
	if ((bc = conn_get(conn)) == NULL || bc->c_state != BC_OPEN) {
		ctl_fail(c, "no connection %" PRIu64, conn);
		return 0;
	}
	send_ws_kick(bc->c_worker, bc->c_id, kr.kr_code, kr.kr_reason);
	log_info("control: kicked connection %" PRIu64, conn);
	kick_reply(c, 1);
	return 0;
}

static void
health_row(struct ctl *c, struct jw *j, uint64_t room, unsigned n)
{
	jw_reset(j);
	jw_obj_open(j);
	jw_kuint(j, "room_id", room);
	jw_kbool(j, "health_check_sent", n > 0);
	jw_kuint(j, "connections", n);
	jw_obj_close(j);
	ctl_row(c, j);
}

static int
recv_health(struct ctl *c, struct wire_msg *m)
{
	struct jw	 j;
	struct hmap	 rooms;
	struct bconn	*bc;
	size_t		 i = 0;

	if (rd_left(&m->payload) != 0)
		return -1;
	jw_init(&j);
	if (m->hdr.id != 0) {
		health_row(c, &j, m->hdr.id, health_check_room(m->hdr.id));
		jw_free(&j);
		ctl_end(c);
		return 0;
	}
	hmap_init(&rooms);
	while ((bc = conn_next(&i)) != NULL)
		if (bc->c_state == BC_OPEN &&
		    hmap_get(&rooms, bc->c_room_id) == NULL &&
		    hmap_put(&rooms, bc->c_room_id, bc) == 0)
			health_row(c, &j, bc->c_room_id,
			    health_check_room(bc->c_room_id));
	hmap_free(&rooms);
	jw_free(&j);
	ctl_end(c);
	return 0;
}

static int
recv_signal(struct ctl *c, struct wire_msg *m, int sig)
{
	struct sigaction	sa;

	if (rd_left(&m->payload) != 0)
		return -1;
	/* The signal path is the one implementation; without a handler
	 * the signal would kill chatd instead. */
	if (sigaction(sig, NULL, &sa) == -1 || sa.sa_handler == SIG_DFL ||
	    sa.sa_handler == SIG_IGN) {
		ctl_fail(c, "this chatd has no %s handler: %s is not "
		    "supported", sig == SIGHUP ? "SIGHUP" : "signal",
		    sig == SIGHUP ? "reload" : "this request");
		return 0;
	}
	log_info("control: %s requested", sig == SIGHUP ? "reload" :
	    "shutdown");
	ctl_end(c);
	if (kill(getpid(), sig) == -1)
		log_warn("control: kill");
	return 0;
}

static int
recv_hello(struct ctl *c, struct wire_msg *m)
{
	uint32_t	version, index, pid;
	size_t		off;

	if (m->hdr.type != MSG_HELLO || rd_u32(&m->payload, &version) == -1 ||
	    rd_u32(&m->payload, &index) == -1 ||
	    rd_u32(&m->payload, &pid) == -1 || rd_left(&m->payload) != 0)
		return -1;
	if (version != WIRE_VERSION) {
		ctl_fail(c, "chatd speaks wire version %d, this chatctl %u: "
		    "use the chatctl installed with this chatd", WIRE_VERSION,
		    version);
		c->c_refused = 1;
		return 0;
	}
	c->c_hello = 1;
	off = chan_begin(c->c_chan, MSG_HELLO, 0);
	buf_add_u32(chan_out(c->c_chan), WIRE_VERSION);
	buf_add_u32(chan_out(c->c_chan), 0);
	buf_add_u32(chan_out(c->c_chan), (uint32_t)getpid());
	chan_send(c->c_chan, off);
	return 0;
}

static int
ctl_dispatch(struct ctl *c, struct wire_msg *m)
{
	switch (m->hdr.type) {
	case MSG_CTL_STATUS:
		return recv_status(c, m);
	case MSG_CTL_CHECK:
		return recv_check(c, m);
	case MSG_CTL_CONNS:
		return recv_conns(c, m);
	case MSG_CTL_KICK:
		return recv_kick(c, m);
	case MSG_CTL_HEALTH:
		return recv_health(c, m);
	case MSG_CTL_USER_ADD:
		return ctl_user_add(c, m);
	case MSG_CTL_USER_LIST:
		return ctl_user_list(c, m);
	case MSG_CTL_USER_SHOW:
		return ctl_user_show(c, m);
	case MSG_CTL_ROOM_CREATE:
		return ctl_room_create(c, m);
	case MSG_CTL_ROOM_LIST:
		return ctl_room_list(c, m);
	case MSG_CTL_ROOM_SHOW:
		return ctl_room_show(c, m);
	case MSG_CTL_TOKEN:
		return ctl_token(c, m);
	case MSG_CTL_PROVISION:
		return ctl_provision(c, m);
	case MSG_CTL_RELOAD:
		return recv_signal(c, m, SIGHUP);
	case MSG_CTL_SHUTDOWN:
		return recv_signal(c, m, SIGTERM);
	default:
		log_warnx("control: client sent %s, which is not a request",
		    msg_type_name(m->hdr.type));
		return -1;
	}
}

static int
ctl_recv(struct chan *ch, struct wire_msg *m, void *arg)
{
	struct ctl	*c = arg;

	(void)ch;
	if (c->c_refused)
		return -1;
	if (!c->c_hello)
		return recv_hello(c, m);
	/* chatctl waits for each answer: a second request is a bug. */
	if (c->c_busy) {
		log_warnx("control: %s while a request is running",
		    msg_type_name(m->hdr.type));
		return -1;
	}
	c->c_busy = 1;
	return ctl_dispatch(c, m);
}

static void
ctl_closed(struct chan *ch, void *arg)
{
	struct ctl	*c = arg;

	(void)ch;
	hmap_del(&ctls, c->c_id);
	chan_free(c->c_chan);
	free(c);
}

/* Tell a peer that may not come in why, then hang up. */
static void
ctl_refuse(int fd, uid_t uid)
{
	struct buf	b;
	char		reason[128];
	size_t		off;

	snprintf(reason, sizeof(reason), "permission denied: uid %u is "
	    "neither root nor chatd's uid %u", (unsigned)uid,
	    (unsigned)geteuid());
	buf_init(&b);
	off = wire_begin(&b, MSG_CTL_FAIL, 0);
	buf_add_cstr(&b, reason);
	if (wire_end(&b, off) == 0)
		(void)send(fd, b.b_data, b.b_len, MSG_DONTWAIT | MSG_NOSIGNAL);
	buf_free(&b);
	close(fd);
}

static void
ctl_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	struct ctl	*c;
	int		 fd;

	(void)what;
	(void)arg;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK))
	    == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("control: accept");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("control: SO_PEERCRED");
		close(fd);
		return;
	}
	if (cred.uid != 0 && cred.uid != geteuid()) {
		log_info("control: refused uid %u (pid %d)",
		    (unsigned)cred.uid, (int)cred.pid);
		ctl_refuse(fd, cred.uid);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->c_id = next_ctl_id++;
	c->c_uid = cred.uid;
	if ((c->c_chan = chan_new(broker->b_base, fd, ctl_recv, ctl_closed,
	    c)) == NULL || hmap_put(&ctls, c->c_id, c) == -1) {
		log_warnx("control: out of memory");
		chan_free(c->c_chan);
		free(c);
	}
}

/* Remove a socket file left by a chatd that died; refuse a live one. */
static void
ctl_clear_stale(const struct sockaddr_un *sun)
{
	struct stat	st;
	int		fd;

	if (lstat(sun->sun_path, &st) == -1)
		return;
	if (!S_ISSOCK(st.st_mode))
		fatalx("control socket %s exists and is not a socket",
		    sun->sun_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("control socket: socket");
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0)
		fatalx("control socket %s is in use: is chatd already "
		    "running?", sun->sun_path);
	close(fd);
	if (unlink(sun->sun_path) == -1)
		fatal("control socket: unlink %s", sun->sun_path);
}

void
control_bind(void)
{
	struct sockaddr_un	 sun;
	struct passwd		*pw;
	const char		*path = broker->b_conf.control_socket;
	char			 dir[sizeof(sun.sun_path)];
	mode_t			 old;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		fatalx("control socket %s: path too long (max %zu)", path,
		    sizeof(sun.sun_path) - 1);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	/* The directory is usually /run/chatd, which a reboot empties. */
	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0755) == -1 && errno != EEXIST)
		fatal("control socket: mkdir %s", dir);
	ctl_clear_stale(&sun);
	if ((ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		fatal("control socket: socket");
	old = umask(0117);
	if (bind(ctl_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("control socket: bind %s", path);
	umask(old);
	if (chmod(path, 0660) == -1 || listen(ctl_fd, 16) == -1)
		fatal("control socket %s", path);
	snprintf(ctl_path, sizeof(ctl_path), "%s", path);
	/* Bound as root: hand it to the user chatd will run as, who must be
	 * able to remove it at exit. */
	if (broker->b_conf.user[0] != '\0' &&
	    (pw = getpwnam(broker->b_conf.user)) != NULL &&
	    chown(path, pw->pw_uid, (gid_t)-1) == -1)
		fatal("control socket %s: chown", path);
}

void
control_init(void)
{
	hmap_init(&ctls);
	ctl_ev = event_new(broker->b_base, ctl_fd, EV_READ | EV_PERSIST,
	    ctl_accept_cb, NULL);
	if (ctl_ev == NULL || event_add(ctl_ev, NULL) == -1)
		fatalx("control socket: cannot watch it");
	if ((ctl_dbh = db_new(broker->b_base, &broker->b_conf, "control", 1))
	    == NULL)
		fatalx("control: cannot set up its database connection");
	rate_init();
}

void
control_close(void)
{
	if (ctl_fd == -1)
		return;
	event_free(ctl_ev);
	ctl_ev = NULL;
	close(ctl_fd);
	ctl_fd = -1;
	unlink(ctl_path);
	db_free(ctl_dbh);
	ctl_dbh = NULL;
}
