/*
 * listen.h - accept connections on the listen sockets inherited from the
 * broker and pass them to http.c.
 */
#ifndef CHATD_LISTEN_H
#define CHATD_LISTEN_H

/* What a listen socket serves, one letter per socket on the command
 * line (-k): plain HTTP, TLS, or the admin (metrics) listener. */
#define LISTEN_PLAIN	'p'
#define LISTEN_TLS	't'
#define LISTEN_ADMIN	'a'

/* kind: one LISTEN_* letter per socket; missing letters mean plain. */
int	listen_start(int first_fd, int count, const char *kind);
void	listen_stop(void);

#endif
