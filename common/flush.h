/*
 * flush.h - socket writes at the end of the event loop's turn.
 *
 * A socket bufferevent with EV_WRITE enabled arms EPOLLOUT whenever bytes
 * are queued and disarms it once they are written: two epoll_ctl calls
 * and an extra loop turn for every write.  A flusher instead writes what
 * was queued during a turn straight to the socket once the turn's other
 * callbacks have run, so everything queued in one turn leaves in one
 * write.  Only what the socket does not take waits for EV_WRITE, and the
 * bufferevent's write callback hands the socket back with
 * flush_drained().  Errors also go to EV_WRITE, so the owner hears of
 * them through its event callback as before.
 */
#ifndef CHATD_FLUSH_H
#define CHATD_FLUSH_H

#include <sys/queue.h>

struct bufferevent;

struct flusher {
	TAILQ_ENTRY(flusher)	 f_entry;
	struct bufferevent	*f_bev;
	int			 f_queued;
};

/* bev must be a socket bufferevent; its socket is made non-blocking and
 * its EV_WRITE is turned off. */
int	flush_attach(struct flusher *, struct bufferevent *);
/* Bytes were queued on the bufferevent's output. */
void	flush_later(struct flusher *);
/* All written after a wait for EV_WRITE: direct writes again. */
void	flush_drained(struct flusher *);
/* Before the bufferevent is freed. */
void	flush_detach(struct flusher *);
/* Let libevent write from now on, and call the write callback when the
 * output is empty (e.g. to finish a close). */
int	flush_handover(struct flusher *);

#endif
