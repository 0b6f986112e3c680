/*
 * tls.c - TLS termination with OpenSSL in front of libmicrohttpd.
 *
 * Why a socketpair, and only until the upgrade: libmicrohttpd reads and
 * writes plaintext on a socket it owns (its own TLS is GnuTLS, which we
 * do not use), so during the HTTP phase each TLS connection gets a
 * socketpair.  MHD_add_connection() takes one end; the other end and the
 * real TCP socket are two bufferevents here, and this file pumps
 * plaintext between them: TLS input -> socketpair, socketpair -> TLS
 * output.  HTTP requests are short, so the extra hop costs little there.
 * Chat traffic is long-lived and hot, so after a WebSocket upgrade the
 * socketpair is drained and dropped and session.c frames directly on
 * the TLS bufferevent: a chat message crosses no extra socket.
 *
 * MHD_add_connection() takes no user pointer.  http.c sets the TLS
 * connection as MHD's socket context from the NOTIFY_CONNECTION "started"
 * callback (it runs inside MHD_add_connection()), and the upgrade handler
 * reads it back; tables keyed by fd would be wrong once fds are reused.
 *
 * Byte order at the upgrade: MHD's 101 response is usually still unread
 * in our end of the socketpair, so it goes to the TLS output before any
 * WebSocket frame.  The client's bytes after its handshake are, oldest
 * first: MHD's extra_in, what is unread on MHD's end, what we had not yet
 * written into the socketpair, and what TLS decrypted but we had not yet
 * pumped.  They are joined in that order for the session.
 *
 * Certificates are read by the worker from the configured paths, as the
 * user it runs as: a reload (SIGHUP) starts new workers, which read the
 * files again.  The key must therefore be readable by chatd's user.
 *
 * Memory: an idle WSS connection keeps about 15 KB here, nearly all of it
 * OpenSSL's (the SSL object alone is 7.6 KB, then the two AEAD contexts,
 * the session, both key shares and the transcript hash, which OpenSSL
 * keeps until SSL_free()).  None of that can be let go while the
 * connection lives, so what this file controls is what comes on top:
 * no session cache, one ticket, AES-128 before AES-256 in TLS 1.3, and
 * giving back the heap pages that handshakes and record buffers leave
 * free (tls_trim_cb()).
 */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <microhttpd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "http.h"
#include "listen.h"
#include "log.h"
#include "session.h"
#include "tls.h"
#include "worker.h"

/* TLS 1.2 suites with forward secrecy and AEAD only; 1.3 has its own. */
#define TLS12_CIPHERS	"ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!SHA1"
/* All three 1.3 suites, AES-128-GCM first as browsers ask: with SHA-256
 * a connection keeps some 200 bytes less than with AES-256 and SHA-384
 * (OpenSSL's default first choice), and it is the fastest of the three
 * on CPUs with AES instructions. */
#define TLS13_SUITES	"TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:" \
			"TLS_AES_256_GCM_SHA384"
#define PUMP_HIGH	(256 * 1024)	/* stop reading TLS while MHD lags */
#define TRIM_BUSY_S	1		/* from a handshake to malloc_trim() */
#define TRIM_IDLE_S	10		/* between trims without handshakes */

struct tls_conn {
	struct bufferevent	*t_tls;		/* owns the TCP socket and SSL */
	struct bufferevent	*t_pair;	/* our end of the socketpair */
	int			 t_mhd_open;	/* MHD still has its end */
	int			 t_flushing;	/* MHD closed: flush, then close */
};

static SSL_CTX		*ssl_ctx;
static struct event	*trim_timer;
static int		 trim_soon;	/* armed for TRIM_BUSY_S */

static void
tls_log_errors(const char *what)
{
	unsigned long	e;
	char		buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_warnx("%s: %s", what, buf);
	}
}

/* ALPN: we speak HTTP/1.1 only; a client offering only h2 gets no ALPN. */
static int
alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char	http11[] = "\x08http/1.1";

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, http11,
	    sizeof(http11) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	return SSL_TLSEXT_ERR_OK;
}

/*
 * A handshake allocates and frees some 40 KB (record buffers, the
 * certificate message, key exchange temporaries) around the 15 KB the
 * connection keeps, and every later write to an idle connection (a
 * ping) takes and frees a 17 KB record buffer.  glibc returns only the
 * top of the heap by itself, so whole free pages pile up between live
 * objects; malloc_trim() gives those back too.  It walks the free
 * lists (about 1 ms with 10 000 connections), so it runs a second after
 * handshakes, at most once a second, and otherwise every ten seconds.
 */
static void
tls_trim_arm(int secs)
{
	struct timeval	tv = { secs, 0 };

	if (evtimer_add(trim_timer, &tv) == -1)
		log_warnx("%s: cannot arm the trim timer", __func__);
}

static void
tls_trim_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	trim_soon = 0;
	tls_trim_arm(TRIM_IDLE_S);
}

/* A handshake happened or a connection went: trim soon. */
static void
tls_trim_later(void)
{
	if (trim_timer == NULL || trim_soon)
		return;
	trim_soon = 1;
	tls_trim_arm(TRIM_BUSY_S);
}

int
tls_init(const char *cert_path, const char *key_path)
{
	SSL_CTX	*c;

	if (trim_timer == NULL) {
		if ((trim_timer = evtimer_new(wctx->w_base, tls_trim_cb,
		    NULL)) == NULL) {
			log_warnx("%s: evtimer_new", __func__);
			return -1;
		}
		tls_trim_arm(TRIM_IDLE_S);
	}
	if ((c = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_log_errors("SSL_CTX_new");
		return -1;
	}
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	/* Idle connections give their read and write buffers back. */
	SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_alpn_select_cb(c, alpn_cb, NULL);
	/*
	 * Resumption by stateless ticket only.  A session cache would be
	 * this worker's alone and would lose every session whose connection
	 * closed without close_notify (OpenSSL drops those, and our close
	 * sends none): it would hold little but the sessions of open
	 * connections, at an insert and a removal per handshake.  The
	 * ticket key is random per worker: a ticket resumes on the worker
	 * that issued it, and elsewhere the client gets a full handshake.
	 */
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	/* TLS 1.3 sends two tickets by default; a browser uses one per
	 * connection, and each costs a session copy, an encryption and a
	 * record in every handshake. */
	if (SSL_CTX_set_num_tickets(c, 1) != 1) {
		tls_log_errors("SSL_CTX_set_num_tickets");
		SSL_CTX_free(c);
		return -1;
	}
	if (SSL_CTX_set_cipher_list(c, TLS12_CIPHERS) != 1 ||
	    SSL_CTX_set_ciphersuites(c, TLS13_SUITES) != 1 ||
	    SSL_CTX_use_certificate_chain_file(c, cert_path) != 1) {
		tls_log_errors(cert_path);
		SSL_CTX_free(c);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(c, key_path, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(c) != 1) {
		tls_log_errors(key_path);
		SSL_CTX_free(c);
		return -1;
	}
	SSL_CTX_free(ssl_ctx);
	ssl_ctx = c;
	return 0;
}

/* Free t once both the TLS side and MHD are done with it. */
static void
tls_maybe_free(struct tls_conn *t)
{
	if (t->t_tls == NULL && t->t_pair == NULL && !t->t_mhd_open)
		free(t);
}

/* The client is gone or we are done: close TCP and our socketpair end
 * (MHD then sees EOF on its end and cleans up). */
static void
tls_drop(struct tls_conn *t)
{
	if (t->t_tls != NULL)
		bufferevent_free(t->t_tls);
	t->t_tls = NULL;
	if (t->t_pair != NULL)
		bufferevent_free(t->t_pair);
	t->t_pair = NULL;
	tls_maybe_free(t);
	tls_trim_later();
}

static void
tls_read_cb(struct bufferevent *bev, void *arg)
{
	struct tls_conn	*t = arg;

	if (t->t_flushing) {
		evbuffer_drain(bufferevent_get_input(bev),
		    evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	bufferevent_write_buffer(t->t_pair, bufferevent_get_input(bev));
	if (evbuffer_get_length(bufferevent_get_output(t->t_pair)) > PUMP_HIGH)
		bufferevent_disable(bev, EV_READ);
}

static void
tls_write_cb(struct bufferevent *bev, void *arg)
{
	struct tls_conn	*t = arg;

	(void)bev;
	if (t->t_flushing)
		tls_drop(t);
}

static void
tls_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tls_conn	*t = arg;
	const char	*why;

	if (what & BEV_EVENT_CONNECTED) {
		tls_trim_later();
		return;
	}
	/* A browser's problem (plain HTTP, old TLS, bad record): debug. */
	if (what & BEV_EVENT_ERROR) {
		why = ERR_reason_error_string(bufferevent_get_openssl_error(bev));
		log_debug("tls: connection failed: %s", why ? why : "closed");
	}
	tls_drop(t);
}

static void
pair_read_cb(struct bufferevent *bev, void *arg)
{
	struct tls_conn	*t = arg;

	bufferevent_write_buffer(t->t_tls, bufferevent_get_input(bev));
}

static void
pair_write_cb(struct bufferevent *bev, void *arg)
{
	struct tls_conn	*t = arg;

	(void)bev;
	/* MHD caught up: read the client again. */
	if (!t->t_flushing)
		bufferevent_enable(t->t_tls, EV_READ);
}

static void
pair_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tls_conn	*t = arg;

	(void)what;
	/* MHD closed the connection: send what it wrote, then close. */
	bufferevent_write_buffer(t->t_tls, bufferevent_get_input(bev));
	bufferevent_free(t->t_pair);
	t->t_pair = NULL;
	t->t_flushing = 1;
	if (evbuffer_get_length(bufferevent_get_output(t->t_tls)) == 0)
		tls_drop(t);
}

void
tls_accept(int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct tls_conn	*t;
	SSL		*ssl = NULL;
	int		 sp[2] = { -1, -1 };

	if (ssl_ctx == NULL || (t = calloc(1, sizeof(*t))) == NULL) {
		close(fd);
		return;
	}
	if ((ssl = SSL_new(ssl_ctx)) == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1)
		goto fail;
	t->t_tls = bufferevent_openssl_socket_new(wctx->w_base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	ssl = NULL;	/* the bufferevent owns it now, also on failure */
	fd = -1;
	if (t->t_tls == NULL)
		goto fail;
	t->t_pair = bufferevent_socket_new(wctx->w_base, sp[0],
	    BEV_OPT_CLOSE_ON_FREE);
	if (t->t_pair == NULL)
		goto fail;
	sp[0] = -1;
	bufferevent_setcb(t->t_tls, tls_read_cb, tls_write_cb, tls_event_cb, t);
	bufferevent_setcb(t->t_pair, pair_read_cb, pair_write_cb,
	    pair_event_cb, t);
	bufferevent_enable(t->t_tls, EV_READ | EV_WRITE);
	bufferevent_enable(t->t_pair, EV_READ | EV_WRITE);
	t->t_mhd_open = 1;
	if (http_add_connection_as(sp[1], sa, salen, t, LISTEN_TLS) == -1) {
		t->t_mhd_open = 0;
		tls_drop(t);
	}
	return;
fail:
	log_warnx("%s: cannot set up a TLS connection", __func__);
	SSL_free(ssl);
	if (fd != -1)
		close(fd);
	if (sp[0] != -1)
		close(sp[0]);
	if (sp[1] != -1)
		close(sp[1]);
	tls_drop(t);
}

void
tls_mhd_closed(struct tls_conn *t)
{
	t->t_mhd_open = 0;
	tls_maybe_free(t);
}

/* Read what is waiting on fd into dst without blocking. */
static void
drain_fd(int fd, struct evbuffer *dst)
{
	char	buf[4096];
	ssize_t	n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		evbuffer_add(dst, buf, n);
}

void
tls_upgrade(struct tls_conn *t, int sock, struct MHD_UpgradeResponseHandle *urh,
    uint64_t user, uint64_t room, const char *extra_in, size_t extra_len)
{
	struct evbuffer		*pre, *pend, *out;
	struct bufferevent	*bev;
	unsigned char		*p;
	size_t			 n;

	if (t->t_tls == NULL || t->t_pair == NULL ||
	    (pre = evbuffer_new()) == NULL) {
		session_next_drop();	/* not for the next session */
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	out = bufferevent_get_output(t->t_tls);
	/* The 101 response, before any frame. */
	evbuffer_add_buffer(out, bufferevent_get_input(t->t_pair));
	drain_fd(bufferevent_getfd(t->t_pair), out);
	/* Client bytes, oldest first.  Our socketpair output is frozen at
	 * its start, so it is copied, not moved. */
	evbuffer_add(pre, extra_in, extra_len);
	drain_fd(sock, pre);
	pend = bufferevent_get_output(t->t_pair);
	if ((n = evbuffer_get_length(pend)) > 0 &&
	    (p = malloc(n)) != NULL) {
		evbuffer_copyout(pend, p, n);
		evbuffer_add(pre, p, n);
		free(p);
	}
	evbuffer_add_buffer(pre, bufferevent_get_input(t->t_tls));
	bufferevent_free(t->t_pair);
	t->t_pair = NULL;
	bev = t->t_tls;
	t->t_tls = NULL;	/* the session owns the TLS stream now */
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	n = evbuffer_get_length(pre);
	session_start_bev(bev, urh, user, room,
	    (const char *)evbuffer_pullup(pre, -1), n);
	evbuffer_free(pre);
}
