/*
 * http.h - HTTP/1.1 for the worker, by libmicrohttpd running inside the
 * worker's libevent loop (no MHD threads, no MHD listen socket).  Routes
 * requests; hands WebSocket upgrades of /ws/chat/{room}/ to session.c.
 */
#ifndef CHATD_HTTP_H
#define CHATD_HTTP_H

#include <sys/socket.h>

int	http_init(void);
void	http_shutdown(void);
/* Takes fd: MHD owns and closes it from here, also on failure. */
void	http_add_connection(int fd, const struct sockaddr *, socklen_t);
/* The same for a socket from a listener of another kind (listen.h), or
 * for the plaintext end of a TLS connection's socketpair (t); -1 if MHD
 * refused it (and closed fd). */
struct tls_conn;
int	http_add_connection_as(int fd, const struct sockaddr *, socklen_t,
	    struct tls_conn *t, int kind);
/* Let MHD run now (after a resume or an upgraded socket's release). */
void	http_kick(void);
/* Let MHD run once the current event callbacks are done: many resumes
 * in one loop turn then share one MHD_run(). */
void	http_kick_soon(void);

#endif
