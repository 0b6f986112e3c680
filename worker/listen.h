/*
 * listen.h - accept connections on the listen sockets inherited from the
 * broker and pass them to http.c.
 */
#ifndef CHATD_LISTEN_H
#define CHATD_LISTEN_H

int	listen_start(int first_fd, int count);
void	listen_stop(void);

#endif
