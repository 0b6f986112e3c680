/*
 * http.c - libmicrohttpd inside the worker's libevent loop.
 *
 * MHD runs with no threads and no listen socket: listen.c hands it each
 * accepted socket, its epoll fd is a persistent read event here, and a
 * timer armed from MHD_get_timeout() after every MHD_run() makes its
 * connection timeouts fire.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <microhttpd.h>

#include "guard.h"
#include "http.h"
#include "listen.h"
#include "metrics.h"
#include "token.h"
#include "log.h"
#include "rest.h"
#include "session.h"
#include "stats.h"
#include "tls.h"
#include "worker.h"
#include "ws.h"

#define HTTP_CONN_TIMEOUT_S	30	/* idle keep-alive and slow headers */
#define HTTP_CONN_SLACK		(4 * 1024)
#define HTTP_CONN_LIMIT		1000000

static struct MHD_Daemon	*mhd;
static struct event		*mhd_ev;
static struct event		*mhd_timer;
static struct event		*mhd_soon;	/* activated, never added */

/* Per-request state, MHD's con_cls. */
struct req {
	int		 r_calls;
	uint64_t	 r_user;	/* WebSocket: verified user, 0 = refused */
	uint64_t	 r_room;	/* WebSocket: 0 = not a room id */
	struct rest_req	*r_rest;
	uint64_t	 r_since;	/* WebSocket: ?since=, 0 = none */
	int		 r_since_bad;	/* ?since= that is no message id */
	struct metrics_req *r_metrics;
};

static void
http_arm_timer(void)
{
	MHD_UNSIGNED_LONG_LONG	ms;
	struct timeval		tv;

	if (MHD_get_timeout(mhd, &ms) != MHD_YES) {
		evtimer_del(mhd_timer);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(mhd_timer, &tv);
}

void
http_kick(void)
{
	if (mhd == NULL)
		return;
	MHD_run(mhd);
	http_arm_timer();
}

void
http_kick_soon(void)
{
	if (mhd != NULL)
		event_active(mhd_soon, EV_TIMEOUT, 0);
}

static void
http_event_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	http_kick();
}

/* Handed to notify_cb while MHD_add_connection() runs (see tls.c). */
static struct tls_conn	*adding_tls;
static int		 adding_kind = LISTEN_PLAIN;

int
http_add_connection_as(int fd, const struct sockaddr *sa, socklen_t len,
    struct tls_conn *t, int kind)
{
	int	rv = 0;

	adding_tls = t;
	adding_kind = kind;
	if (mhd == NULL || MHD_add_connection(mhd, fd, sa, len) != MHD_YES) {
		log_debug("%s: connection refused by MHD", __func__);
		rv = -1;
	}
	adding_tls = NULL;
	adding_kind = LISTEN_PLAIN;
	/* Let MHD read what may already be waiting on the socket. */
	http_kick();
	return rv;
}

void
http_add_connection(int fd, const struct sockaddr *sa, socklen_t len)
{
	(void)http_add_connection_as(fd, sa, len, NULL, LISTEN_PLAIN);
}

/* Every connection's socket context is its struct hconn (guard.c). */
static void
notify_cb(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		*socket_context = guard_open(c, adding_tls, adding_kind);
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED &&
	    *socket_context != NULL) {
		guard_close(*socket_context);
		*socket_context = NULL;
	}
}

/* A JSON answer with one more header if name is not NULL. */
static int
http_reply_with(struct MHD_Connection *c, unsigned status, const char *json,
    size_t len, const char *name, const char *value)
{
	struct MHD_Response	*r;
	enum MHD_Result		 rv;

	r = MHD_create_response_from_buffer(len, (void *)json,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json") != MHD_YES || (name != NULL &&
	    MHD_add_response_header(r, name, value) != MHD_YES)) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	rv = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rv;
}

int
http_reply(struct MHD_Connection *c, unsigned status, const char *json,
    size_t len)
{
	return http_reply_with(c, status, json, len, NULL, NULL);
}

static int
http_detail(struct MHD_Connection *c, unsigned status, const char *detail)
{
	char	json[256];
	int	n;

	n = snprintf(json, sizeof(json), "{\"detail\":\"%s\"}", detail);
	return http_reply(c, status, json, n);
}

struct framing {
	size_t		bytes;		/* of the head, about */
	unsigned	lengths;	/* Content-Length headers */
	unsigned	codings;	/* Transfer-Encoding headers */
	int		chunked;	/* the last of those says "chunked" */
	int		bad_name;	/* a header name with blanks in it */
};

static enum MHD_Result
framing_cb(void *arg, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct framing	*f = arg;

	/* "Key: value\r\n", or "key=value&" in the query string. */
	f->bytes += strlen(key) + (value != NULL ? strlen(value) : 0) + 4;
	if (kind != MHD_HEADER_KIND)
		return MHD_YES;
	if (key[strcspn(key, " \t")] != '\0')
		f->bad_name = 1;
	else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		f->lengths++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->codings++;
		f->chunked = value != NULL && strcasecmp(value, "chunked") == 0;
	}
	return MHD_YES;
}

/*
 * A request head within max_header_size, and one that leaves no doubt
 * where the body ends: a proxy in front of chatd that read two lengths,
 * a length and a coding, or a header name with a blank before its colon
 * differently would take the rest of the body for a request of its own
 * (request smuggling).  Answered before the body, so MHD closes the
 * connection after the answer.
 */
static unsigned
http_check_head(struct MHD_Connection *c, const char *method,
    const char *url, const char **detail)
{
	struct framing	f;

	memset(&f, 0, sizeof(f));
	f.bytes = strlen(method) + strlen(url) + sizeof(" HTTP/1.1\r\n");
	MHD_get_connection_values(c, MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND,
	    framing_cb, &f);
	/* MHD's pool, which holds the head, has room for a little more
	 * than max_header_size: the limit itself is kept here. */
	if (f.bytes > (size_t)wctx->w_conf.max_header_size) {
		*detail = "Request head too large.";
		return MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
	}
	if (f.bad_name) {
		*detail = "Malformed header name.";
		return MHD_HTTP_BAD_REQUEST;
	}
	if (f.lengths > 1 || (f.lengths > 0 && f.codings > 0)) {
		*detail = "Conflicting Content-Length or Transfer-Encoding.";
		return MHD_HTTP_BAD_REQUEST;
	}
	if (f.codings > 1 || (f.codings == 1 && !f.chunked)) {
		*detail = "Transfer-Encoding not supported.";
		return MHD_HTTP_NOT_IMPLEMENTED;
	}
	return 0;
}

/*
 * 413 if the request's body is over max_body_size, by its Content-Length
 * or by the bytes seen so far; 0 if it may go on.
 */
static unsigned
http_check_body(struct MHD_Connection *c, uint64_t seen)
{
	const char	*cl;
	uint64_t	 max = (uint64_t)wctx->w_conf.max_body_size;

	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (seen > max || (cl != NULL && strtoull(cl, NULL, 10) > max)) {
		guard_count_refusal(REFUSED_BODY_SIZE);
		return MHD_HTTP_CONTENT_TOO_LARGE;
	}
	return 0;
}

static int
header_has_token(struct MHD_Connection *c, const char *name, const char *tok)
{
	const char	*v, *p;
	size_t		 n = strlen(tok);

	if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name)) == NULL)
		return 0;
	/* Comma-separated, case-insensitive ("keep-alive, Upgrade"). */
	for (p = v; *p != '\0'; p++)
		if (strncasecmp(p, tok, n) == 0 && (p == v || p[-1] == ' ' ||
		    p[-1] == ',') && (p[n] == '\0' || p[n] == ',' ||
		    p[n] == ' '))
			return 1;
	return 0;
}

/* "/ws/chat/123/" -> 123 (also "123" alone); 0 if the id is not a
 * positive number that fits. */
static uint64_t
parse_room_id(const char *p)
{
	uint64_t	v = 0;

	if (*p < '1' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (*p - '0');
	}
	if (*p == '/')
		p++;
	return *p == '\0' ? v : 0;
}

static void
upgrade_cb(void *cls, struct MHD_Connection *c, void *con_cls,
    const char *extra_in, size_t extra_in_size, MHD_socket sock,
    struct MHD_UpgradeResponseHandle *urh)
{
	struct req	*r = con_cls;
	struct hconn	*h = guard_of(c);
	struct tls_conn	*t;

	(void)cls;
	session_next_replay(r->r_since, r->r_since_bad);
	session_next_hold(guard_upgraded(h));
	if ((t = guard_tls(h)) != NULL)
		tls_upgrade(t, sock, urh, r->r_user, r->r_room, extra_in,
		    extra_in_size);
	else
		session_start(sock, urh, r->r_user, r->r_room, extra_in,
		    extra_in_size);
}

/* RFC 6455 4.1: the key is 16 bytes in base64, 24 characters. */
static int
ws_key_valid(const char *key)
{
	static const char	b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";

	return key != NULL && strlen(key) == 24 &&
	    strspn(key, b64) == 22 && strcmp(key + 22, "==") == 0;
}

static enum MHD_Result
ws_handshake(struct MHD_Connection *c, struct req *r, const char *path)
{
	struct MHD_Response	*resp;
	const char		*key, *ver, *token, *why, *since;
	char			 accept[32];
	enum MHD_Result		 rv;

	key = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "Sec-WebSocket-Key");
	ver = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "Sec-WebSocket-Version");
	if (!header_has_token(c, "Upgrade", "websocket") ||
	    !header_has_token(c, "Connection", "upgrade") ||
	    !ws_key_valid(key))
		return http_detail(c, MHD_HTTP_BAD_REQUEST,
		    "Expected a WebSocket upgrade request.");
	if (ver == NULL || strcmp(ver, "13") != 0) {
		static const char json[] = "{\"detail\":\"Unsupported "
		    "WebSocket version: 13 is spoken here.\"}";

		return http_reply_with(c, MHD_HTTP_UPGRADE_REQUIRED, json,
		    sizeof(json) - 1, "Sec-WebSocket-Version", "13");
	}
	/*
	 * Refusals happen after the upgrade, with a close code: a browser
	 * cannot see the status of a refused handshake, and the client must
	 * tell "Authentication failed" from a network error.
	 */
	token = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
	r->r_user = token_verify(&wctx->w_conf, token, &why);
	if (r->r_user == 0)
		log_debug("websocket refused: %s", why);
	r->r_room = parse_room_id(path);
	since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
	if (since != NULL) {
		r->r_since = parse_room_id(since);	/* same digits rule */
		r->r_since_bad = r->r_since == 0;
	}
	if (r->r_user == 0 || r->r_room == 0)
		guard_count_refusal(r->r_user == 0 ? REFUSED_AUTH :
		    REFUSED_NO_ROOM);
	ws_accept_key(key, accept);
	if ((resp = MHD_create_response_for_upgrade(upgrade_cb, NULL)) == NULL)
		return MHD_NO;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE,
	    "websocket") != MHD_YES ||
	    MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept)
	    != MHD_YES) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	rv = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
	MHD_destroy_response(resp);
	return rv;
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct req	*r = *con_cls;
	struct hconn	*h;
	const char	*detail;
	unsigned	 status;
	static const char ws_prefix[] = "/ws/chat/";

	(void)cls;
	if (r == NULL) {
		h = guard_of(c);
		guard_headers_done(h);
		/* Refusals answer at once: MHD then closes the connection,
		 * which is what a refusal wants. */
		if ((status = guard_refusal(h, &detail)) != 0 ||
		    (status = http_check_head(c, method, url, &detail)) != 0)
			return http_detail(c, status, detail);
		if ((status = http_check_body(c, 0)) != 0)
			return http_detail(c, status, "Request body too large.");
		/* First call: headers only.  Answering now would make MHD
		 * close the connection instead of keeping it alive. */
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return MHD_NO;
		*con_cls = r;
		if (strncmp(url, ws_prefix, sizeof(ws_prefix) - 1) != 0)
			return rest_early(c, url, method, &r->r_rest);
		return MHD_YES;
	}
	r->r_calls++;
	if (*upload_data_size == 0)
		guard_body_done(guard_of(c));
	/* A chunked body over the limit is the REST handler's to refuse:
	 * it keeps reading and answers 413 once the request is complete,
	 * since MHD cannot answer in the middle of an upload. */
	if (guard_kind(guard_of(c)) == LISTEN_ADMIN)
		return metrics_handle(c, url, method, upload_data_size,
		    &r->r_metrics);
	if (strncmp(url, ws_prefix, sizeof(ws_prefix) - 1) == 0) {
		if (*upload_data_size != 0) {
			*upload_data_size = 0;
			return MHD_YES;
		}
		if (strcmp(method, "GET") != 0)
			return http_detail(c, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "Method not allowed.");
		/* MHD upgrades HTTP/1.1 requests only. */
		if (strcmp(version, MHD_HTTP_VERSION_1_1) != 0)
			return http_detail(c, MHD_HTTP_BAD_REQUEST,
			    "A WebSocket upgrade needs HTTP/1.1.");
		return ws_handshake(c, r, url + sizeof(ws_prefix) - 1);
	}
	return rest_handle(c, url, method, upload_data, upload_data_size,
	    &r->r_rest);
}

static void
completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req	*r = *con_cls;

	(void)cls;
	(void)toe;
	guard_request_done(guard_of(c));
	if (r == NULL)
		return;
	metrics_free(r->r_metrics);
	rest_free(r->r_rest);
	free(r);
	*con_cls = NULL;
}

static void
mhd_log_cb(void *cls, const char *fmt, va_list ap)
{
	char	msg[512];

	(void)cls;
	/* MHD warns about TCP options on AF_UNIX sockets and about every
	 * client that goes away; none of it is worth more than debug. */
	if (!log_debugging())
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("mhd: %s", msg);
}

/*
 * MHD keeps a request's head in its per-connection pool: sizing the pool
 * from max_header_size makes a bigger head fail with MHD's own 431.
 */
static size_t
http_memory_limit(void)
{
	/* Room for the head plus MHD's read and write buffers. */
	return (size_t)wctx->w_conf.max_header_size + HTTP_CONN_SLACK;
}

int
http_init(void)
{
	const union MHD_DaemonInfo	*info;

	mhd = MHD_start_daemon(MHD_USE_NO_LISTEN_SOCKET | MHD_USE_EPOLL |
	    MHD_ALLOW_UPGRADE | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, access_cb, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log_cb, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_CONN_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, http_memory_limit(),
	    /* Upgraded WebSockets count against MHD's limit too, and its
	     * default (about 1000) is far below what a worker holds; our
	     * own max_connections is the limit that answers clients. */
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONN_LIMIT,
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, NULL,
	    MHD_OPTION_NOTIFY_CONNECTION, notify_cb, NULL,
	    MHD_OPTION_END);
	if (mhd == NULL)
		return -1;
	info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL)
		return -1;
	mhd_ev = event_new(wctx->w_base, info->epoll_fd, EV_READ | EV_PERSIST,
	    http_event_cb, NULL);
	mhd_timer = evtimer_new(wctx->w_base, http_event_cb, NULL);
	mhd_soon = evtimer_new(wctx->w_base, http_event_cb, NULL);
	if (mhd_ev == NULL || mhd_timer == NULL || mhd_soon == NULL ||
	    event_add(mhd_ev, NULL) == -1)
		return -1;
	return 0;
}

void
http_shutdown(void)
{
	if (mhd == NULL)
		return;
	rest_shutdown();
	MHD_run(mhd);
	event_free(mhd_ev);
	event_free(mhd_timer);
	event_free(mhd_soon);
	MHD_stop_daemon(mhd);
	mhd = NULL;
}
