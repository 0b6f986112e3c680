/*
 * wsc.h - a minimal WebSocket client for the load tools: TCP or TLS,
 * the opening handshake, masked text frames out, unmasked frames in.
 * It trusts the server it measures: frames are parsed for speed, not
 * audited (a malformed frame just closes the connection).
 */
#ifndef CHATD_WSC_H
#define CHATD_WSC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

struct event_base;
struct wsc;

struct wsc_cbs {
	void	(*open_cb)(struct wsc *, void *);
	void	(*text_cb)(struct wsc *, const char *, size_t, void *);
	/* code: the server's close code, or 0 for a network error or a
	 * refused handshake; the connection is freed after this returns. */
	void	(*close_cb)(struct wsc *, int code, void *);
};

struct wsc_target {
	struct sockaddr_storage	addr;
	socklen_t		addrlen;
	char			host[256];	/* Host header, TLS SNI */
	int			tls;
};

/* "ws://host:port/path" or "wss://..."; path (with query) to *path_out. */
int		 wsc_parse_url(const char *url, struct wsc_target *,
		    char *path_out, size_t pathsz);
struct wsc	*wsc_open(struct event_base *, const struct wsc_target *,
		    SSL_CTX *, const struct sockaddr *bind_addr, socklen_t,
		    const char *path, const struct wsc_cbs *, void *arg);
int		 wsc_send_text(struct wsc *, const char *, size_t);
int		 wsc_send_ping(struct wsc *);
/* Start a clean close (1000); close_cb runs when the server answers. */
void		 wsc_close(struct wsc *);
/* Drop at once, no close frame, no callback. */
void		 wsc_free(struct wsc *);
SSL_CTX		*wsc_tls_ctx(void);	/* trusts any certificate: for tests */

#endif
