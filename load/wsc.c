/*
 * wsc.c - WebSocket client connections for the load tools.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "flush.h"
#include "wsc.h"

enum wsc_state {
	WSC_CONNECTING = 0,
	WSC_HANDSHAKE,
	WSC_OPEN,
	WSC_CLOSING,
};

struct wsc {
	struct bufferevent	*c_bev;
	enum wsc_state		 c_state;
	int			 c_tls;
	const struct wsc_cbs	*c_cbs;
	void			*c_arg;
	uint32_t		 c_mask_seed;
	char			*c_request;
	/* Plain connections, once open, write at the end of the loop's
	 * turn: a load generator that armed EPOLLOUT for every frame would
	 * spend on epoll_ctl the CPU it shares with the server it
	 * measures. */
	struct flusher		 c_flush;
};

int
wsc_parse_url(const char *url, struct wsc_target *t, char *path_out,
    size_t pathsz)
{
	const char	*p, *slash, *colon;
	char		 port[8] = "80";
	struct addrinfo	 hints, *res;
	size_t		 hlen;

	memset(t, 0, sizeof(*t));
	if (strncmp(url, "ws://", 5) == 0)
		p = url + 5;
	else if (strncmp(url, "wss://", 6) == 0) {
		p = url + 6;
		t->tls = 1;
		snprintf(port, sizeof(port), "443");
	} else
		return -1;
	if ((slash = strchr(p, '/')) == NULL)
		slash = p + strlen(p);
	hlen = slash - p;
	if (hlen == 0 || hlen >= sizeof(t->host))
		return -1;
	memcpy(t->host, p, hlen);
	t->host[hlen] = '\0';
	snprintf(path_out, pathsz, "%s", *slash ? slash : "/");
	/* Split off the port (not inside an IPv6 literal). */
	if (t->host[0] == '[') {
		char *end = strchr(t->host, ']');

		if (end == NULL)
			return -1;
		if (end[1] == ':')
			snprintf(port, sizeof(port), "%s", end + 2);
		end[0] = '\0';
		memmove(t->host, t->host + 1, strlen(t->host + 1) + 1);
	} else if ((colon = strrchr(t->host, ':')) != NULL) {
		snprintf(port, sizeof(port), "%s", colon + 1);
		t->host[colon - t->host] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(t->host, port, &hints, &res) != 0)
		return -1;
	memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
	t->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

SSL_CTX *
wsc_tls_ctx(void)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

void
wsc_free(struct wsc *c)
{
	if (c == NULL)
		return;
	flush_detach(&c->c_flush);
	bufferevent_free(c->c_bev);
	free(c->c_request);
	free(c);
}

static void
wsc_fail(struct wsc *c, int code)
{
	c->c_cbs->close_cb(c, code, c->c_arg);
	wsc_free(c);
}

/* A frame of ours: FIN, opcode, masked payload. */
static int
wsc_frame(struct wsc *c, int opcode, const void *data, size_t len)
{
	struct evbuffer		*out = bufferevent_get_output(c->c_bev);
	struct evbuffer_iovec	 v;
	uint8_t			*p, mask[4];
	const uint8_t		*d = data;
	size_t			 i, hl;

	if (evbuffer_reserve_space(out, len + 14, &v, 1) < 1)
		return -1;
	p = v.iov_base;
	p[0] = 0x80 | opcode;
	if (len < 126) {
		p[1] = 0x80 | len;
		hl = 2;
	} else if (len < 65536) {
		p[1] = 0x80 | 126;
		p[2] = len >> 8;
		p[3] = len;
		hl = 4;
	} else {
		p[1] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			p[2 + i] = (uint64_t)len >> (56 - 8 * i);
		hl = 10;
	}
	/* xorshift: masks only need to be unpredictable to proxies. */
	c->c_mask_seed ^= c->c_mask_seed << 13;
	c->c_mask_seed ^= c->c_mask_seed >> 17;
	c->c_mask_seed ^= c->c_mask_seed << 5;
	memcpy(mask, &c->c_mask_seed, 4);
	memcpy(p + hl, mask, 4);
	hl += 4;
	for (i = 0; i < len; i++)
		p[hl + i] = d[i] ^ mask[i & 3];
	v.iov_len = hl + len;
	if (evbuffer_commit_space(out, &v, 1) == -1)
		return -1;
	flush_later(&c->c_flush);
	return 0;
}

int
wsc_send_text(struct wsc *c, const char *s, size_t n)
{
	if (c->c_state != WSC_OPEN)
		return -1;
	return wsc_frame(c, 0x1, s, n);
}

int
wsc_send_ping(struct wsc *c)
{
	if (c->c_state != WSC_OPEN)
		return -1;
	return wsc_frame(c, 0x9, "p", 1);
}

void
wsc_close(struct wsc *c)
{
	uint8_t	code[2] = { 1000 >> 8, 1000 & 0xff };

	if (c->c_state != WSC_OPEN)
		return;
	c->c_state = WSC_CLOSING;
	wsc_frame(c, 0x8, code, 2);
}

static int
wsc_handshake_done(struct evbuffer *in)
{
	struct evbuffer_ptr	 end;
	char			 line[16];
	size_t			 n;

	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos == -1)
		return evbuffer_get_length(in) > 8192 ? -1 : 0;
	n = evbuffer_copyout(in, line, sizeof(line) - 1);
	line[n] = '\0';
	if (strncmp(line, "HTTP/1.1 101", 12) != 0)
		return -1;
	evbuffer_drain(in, end.pos + 4);
	return 1;
}

/* Parse complete server frames; returns -1 when the connection is over. */
static int
wsc_frames(struct wsc *c, struct evbuffer *in)
{
	uint8_t		 h[10], *p;
	uint64_t	 len;
	size_t		 hl, avail;
	int		 op, code;

	while ((avail = evbuffer_get_length(in)) >= 2) {
		evbuffer_copyout(in, h, avail < 10 ? avail : 10);
		op = h[0] & 0x0f;
		len = h[1] & 0x7f;
		hl = 2;
		if (len == 126) {
			if (avail < 4)
				return 0;
			len = (uint64_t)h[2] << 8 | h[3];
			hl = 4;
		} else if (len == 127) {
			if (avail < 10)
				return 0;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | h[2 + i];
			hl = 10;
		}
		if (len > 64 * 1024 * 1024)
			return -1;
		if (avail < hl + len)
			return 0;
		p = evbuffer_pullup(in, hl + len) + hl;
		switch (op) {
		case 0x1:
			c->c_cbs->text_cb(c, (const char *)p, len, c->c_arg);
			break;
		case 0x8:
			code = len >= 2 ? (p[0] << 8 | p[1]) : 1005;
			if (c->c_state == WSC_OPEN) {
				uint8_t echo[2] = { p[0], p[1] };

				wsc_frame(c, 0x8, echo, len >= 2 ? 2 : 0);
			}
			evbuffer_drain(in, hl + len);
			wsc_fail(c, code);
			return -1;
		case 0x9:
			wsc_frame(c, 0xA, p, len);
			break;
		default:
			break;
		}
		evbuffer_drain(in, hl + len);
	}
	return 0;
}

static void
wsc_read_cb(struct bufferevent *bev, void *arg)
{
	struct wsc	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	int		 r;

	if (c->c_state == WSC_HANDSHAKE) {
		if ((r = wsc_handshake_done(in)) == 0)
			return;
		if (r == -1) {
			wsc_fail(c, 0);
			return;
		}
		c->c_state = WSC_OPEN;
		if (!c->c_tls && flush_attach(&c->c_flush, bev) == -1) {
			wsc_fail(c, 0);
			return;
		}
		c->c_cbs->open_cb(c, c->c_arg);
	}
	wsc_frames(c, in);
}

/* What waited for EV_WRITE is written: direct writes again. */
static void
wsc_write_cb(struct bufferevent *bev, void *arg)
{
	struct wsc	*c = arg;

	(void)bev;
	flush_drained(&c->c_flush);
}

static void
wsc_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct wsc	*c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		int	one = 1;

		(void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP,
		    TCP_NODELAY, &one, sizeof(one));
		c->c_state = WSC_HANDSHAKE;
		bufferevent_write(bev, c->c_request, strlen(c->c_request));
		free(c->c_request);
		c->c_request = NULL;
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		wsc_fail(c, c->c_state == WSC_CLOSING ? 1000 : 0);
}

struct wsc *
wsc_open(struct event_base *base, const struct wsc_target *t, SSL_CTX *ctx,
    const struct sockaddr *bind_addr, socklen_t bind_len, const char *path,
    const struct wsc_cbs *cbs, void *arg)
{
	struct wsc	*c;
	uint8_t		 rnd[16];
	char		 key[32];
	int		 fd, n;
	SSL		*ssl;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->c_cbs = cbs;
	c->c_arg = arg;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto fail;
	memcpy(&c->c_mask_seed, rnd, 4);
	c->c_mask_seed |= 1;
	EVP_EncodeBlock((unsigned char *)key, rnd, sizeof(rnd));
	n = asprintf(&c->c_request, "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
	    path, t->host, key);
	if (n == -1)
		goto fail;
	if ((fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		goto fail;
	if (bind_addr != NULL && bind(fd, bind_addr, bind_len) == -1) {
		close(fd);
		goto fail;
	}
	if (t->tls) {
		if ((ssl = SSL_new(ctx)) == NULL) {
			close(fd);
			goto fail;
		}
		SSL_set_tlsext_host_name(ssl, t->host);
		c->c_bev = bufferevent_openssl_socket_new(base, fd, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	} else
		c->c_bev = bufferevent_socket_new(base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if (c->c_bev == NULL) {
		close(fd);
		goto fail;
	}
	c->c_tls = t->tls;
	bufferevent_setcb(c->c_bev, wsc_read_cb, wsc_write_cb, wsc_event_cb,
	    c);
	bufferevent_enable(c->c_bev, EV_READ | EV_WRITE);
	if (t->tls) {
		/* The TLS handshake waits for the TCP connect by itself;
		 * BEV_EVENT_CONNECTED comes once it is done. */
		if (connect(fd, (const struct sockaddr *)&t->addr,
		    t->addrlen) == -1 && errno != EINPROGRESS) {
			wsc_free(c);
			return NULL;
		}
	} else if (bufferevent_socket_connect(c->c_bev,
	    (const struct sockaddr *)&t->addr, t->addrlen) == -1) {
		wsc_free(c);
		return NULL;
	}
	return c;
fail:
	free(c->c_request);
	free(c);
	return NULL;
}
