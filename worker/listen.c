/*
 * listen.c - the accept loop.  A worker accepts on its own sockets of
 * each chat address (the kernel spreads connections over the workers'
 * sockets) and on the admin socket, which every worker shares: there the
 * kernel wakes one or more and the rest see EAGAIN, which is cheap.
 */
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "http.h"
#include "listen.h"
#include "log.h"
#include "tls.h"
#include "worker.h"

#define ACCEPT_BATCH	64	/* per wake-up, so one busy listener cannot starve the loop */

static struct event	*accept_ev[CONFIG_MAX_LISTEN_FDS];
static int		 naccept;

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			fd, i, one = 1;

	(void)what;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != ECONNABORTED && errno != EINTR)
				log_warn("%s: accept", __func__);
			return;
		}
		/* Without this every small reply waits for the peer's
		 * delayed ACK (Nagle). */
		if (ss.ss_family != AF_UNIX)
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
		if (*(const char *)arg == LISTEN_TLS)
			tls_accept(fd, (struct sockaddr *)&ss, len);
		else
			(void)http_add_connection_as(fd, (struct sockaddr *)&ss,
			    len, NULL, *(const char *)arg);
	}
}

static char	kinds[CONFIG_MAX_LISTEN_FDS + 1];

int
listen_start(int first_fd, int count, const char *kind)
{
	int	i;

	snprintf(kinds, sizeof(kinds), "%s", kind);
	for (i = 0; i < count && i < (int)sizeof(kinds) - 1; i++) {
		if (kinds[i] == '\0')
			kinds[i] = LISTEN_PLAIN;
		if (evutil_make_socket_nonblocking(first_fd + i) == -1)
			return -1;
		accept_ev[i] = event_new(wctx->w_base, first_fd + i,
		    EV_READ | EV_PERSIST, accept_cb, &kinds[i]);
		if (accept_ev[i] == NULL || event_add(accept_ev[i], NULL) == -1)
			return -1;
		naccept++;
	}
	return 0;
}

void
listen_stop(void)
{
	int	i;

	for (i = 0; i < naccept; i++) {
		event_free(accept_ev[i]);
		accept_ev[i] = NULL;
	}
	naccept = 0;
}
