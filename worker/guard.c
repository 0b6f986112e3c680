/*
 * guard.c - connection accounting and limits for the worker's HTTP side.
 *
 * Limits are per worker: each worker accepts on its own, so a client's
 * connections spread over workers and the real per-address ceiling is up
 * to max_connections_per_ip times the number of workers.  Counting across
 * workers would cost a broker round trip on every accept.
 *
 * A refused connection is still handed to MHD, which answers it with a
 * JSON 503 or 429 and "Connection: close": a client learns why, instead
 * of seeing a reset.  It costs one short-lived connection.
 *
 * The header clock: MHD's own timeout only measures silence, so a client
 * sending one byte every few seconds would hold a connection forever.
 * Each connection gets header_timeout seconds from its start (and from
 * the end of each answered request) to deliver a complete request head,
 * and as long again from there for its body; past that its socket is
 * shut down, MHD sees the end of the stream and closes it.  For TLS
 * connections this also bounds the TLS handshake.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <microhttpd.h>

#include "chan.h"
#include "guard.h"
#include "hmap.h"
#include "http.h"
#include "listen.h"
#include "log.h"
#include "stats.h"
#include "tls.h"
#include "wire.h"
#include "worker.h"

struct hconn {
	struct MHD_Connection	*h_conn;
	struct tls_conn		*h_tls;
	struct event		*h_timer;
	uint64_t		 h_ipkey;	/* key in by_addr */
	unsigned		 h_refuse;	/* HTTP status, 0 = serve */
	int			 h_kind;
	int			 h_upgraded;
	unsigned		 h_answered;	/* requests answered */
};

static struct hmap	by_addr;	/* address key -> open connections */
static size_t		nconns;

/* FNV-1a over the address bytes; never 0 (hmap's empty key). */
static uint64_t
addr_key(const struct sockaddr *sa)
{
	const unsigned char	*p;
	size_t			 n, i;
	uint64_t		 h = 1469598103934665603ULL;

	if (sa == NULL)
		return 1;
	if (sa->sa_family == AF_INET) {
		p = (const unsigned char *)
		    &((const struct sockaddr_in *)sa)->sin_addr;
		n = 4;
	} else if (sa->sa_family == AF_INET6) {
		p = (const unsigned char *)
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;
		n = 16;
	} else
		return 1;
	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h == 0 ? 1 : h;
}

static void
count_add(uint64_t ipkey, int delta)
{
	uintptr_t	n = (uintptr_t)hmap_get(&by_addr, ipkey);

	CHATD_ASSERT(delta > 0 || (n > 0 && nconns > 0));
	if (n + delta == 0)
		hmap_del(&by_addr, ipkey);
	else if (hmap_put(&by_addr, ipkey, (void *)(n + delta)) == -1)
		log_warnx("%s: out of memory", __func__);
	nconns += delta;
}

void
guard_count_refusal(int reason)
{
	struct chan	*ch = wctx->w_broker;
	size_t		 off;

	if (ch == NULL)
		return;
	off = chan_begin(ch, MSG_WORKER_REFUSED, 0);
	buf_add_u32(chan_out(ch), (uint32_t)reason);
	chan_send(ch, off);
}

static void
header_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hconn			*h = arg;
	const union MHD_ConnectionInfo	*ci;

	(void)fd;
	(void)what;
	ci = MHD_get_connection_info(h->h_conn,
	    MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci == NULL)
		return;
	log_debug("closing a connection that sent no complete request "
	    "within %d s", wctx->w_conf.header_timeout);
	/* An idle keep-alive connection ending is no refusal. */
	if (h->h_answered == 0)
		guard_count_refusal(REFUSED_HEADER_TIMEOUT);
	shutdown(ci->connect_fd, SHUT_RDWR);
	http_kick();
}

static void
header_clock(struct hconn *h)
{
	struct timeval	tv = { wctx->w_conf.header_timeout, 0 };

	if (!h->h_upgraded)
		evtimer_add(h->h_timer, &tv);
}

struct hconn *
guard_open(struct MHD_Connection *c, struct tls_conn *t, int kind)
{
	const union MHD_ConnectionInfo	*ci;
	struct hconn			*h;
	uintptr_t			 n;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	if ((h->h_timer = evtimer_new(wctx->w_base, header_timer_cb, h))
	    == NULL) {
		free(h);
		return NULL;
	}
	h->h_conn = c;
	h->h_tls = t;
	h->h_kind = kind;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	h->h_ipkey = addr_key(ci == NULL ? NULL : ci->client_addr);
	n = (uintptr_t)hmap_get(&by_addr, h->h_ipkey);
	/* The admin listener is for the operator: never refused. */
	if (kind != LISTEN_ADMIN) {
		if (nconns >= (size_t)wctx->w_conf.max_connections)
			h->h_refuse = MHD_HTTP_SERVICE_UNAVAILABLE;
		else if (wctx->w_conf.max_connections_per_ip > 0 &&
		    n >= (uintptr_t)wctx->w_conf.max_connections_per_ip)
			h->h_refuse = MHD_HTTP_TOO_MANY_REQUESTS;
	}
	if (hmap_put(&by_addr, h->h_ipkey, (void *)(n + 1)) == -1) {
		event_free(h->h_timer);
		free(h);
		return NULL;
	}
	nconns++;
	if (h->h_refuse != 0)
		guard_count_refusal(h->h_refuse == MHD_HTTP_SERVICE_UNAVAILABLE ?
		    REFUSED_BUSY : REFUSED_PER_IP);
	header_clock(h);
	return h;
}

void
guard_close(struct hconn *h)
{
	count_add(h->h_ipkey, -1);
	if (h->h_tls != NULL)
		tls_mhd_closed(h->h_tls);
	event_free(h->h_timer);
	free(h);
}

struct hconn *
guard_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo	*ci;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci == NULL ? NULL : ci->socket_context;
}

struct tls_conn *
guard_tls(const struct hconn *h)
{
	return h == NULL ? NULL : h->h_tls;
}

int
guard_kind(const struct hconn *h)
{
	return h == NULL ? LISTEN_PLAIN : h->h_kind;
}

unsigned
guard_refusal(const struct hconn *h, const char **detail_out)
{
	if (h == NULL || h->h_refuse == 0)
		return 0;
	*detail_out = h->h_refuse == MHD_HTTP_SERVICE_UNAVAILABLE ?
	    "Server busy, try again later." :
	    "Too many connections from your address.";
	return h->h_refuse;
}

void
guard_headers_done(struct hconn *h)
{
	/* The body's turn: a fresh header_timeout. */
	if (h != NULL)
		header_clock(h);
}

void
guard_body_done(struct hconn *h)
{
	/* Waiting for the broker is rest_timeout's business. */
	if (h != NULL)
		evtimer_del(h->h_timer);
}

void
guard_request_done(struct hconn *h)
{
	if (h == NULL)
		return;
	h->h_answered++;
	header_clock(h);
}

/*
 * The WebSocket session outlives MHD's connection (it lets MHD go once
 * admitted), so it takes a count of its own, given back with
 * guard_unhold(); for a moment the connection counts twice.
 */
uint64_t
guard_upgraded(struct hconn *h)
{
	if (h == NULL)
		return 0;
	h->h_upgraded = 1;
	evtimer_del(h->h_timer);
	count_add(h->h_ipkey, 1);
	return h->h_ipkey;
}

void
guard_unhold(uint64_t ipkey)
{
	if (ipkey != 0)
		count_add(ipkey, -1);
}

size_t
guard_connections(void)
{
	return nconns;
}
