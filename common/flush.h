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
 *
 * A bufferevent that encrypts (TLS) writes each addition to its output
 * at once, arming and disarming EPOLLOUT around it.  A staged flusher
 * collects the turn's bytes in a buffer lent from a pool for the turn
 * (idle connections hold none) and gives them to the owner's writer at
 * the turn's end, which writes them in one piece or queues them on the
 * bufferevent.
 */
#ifndef CHATD_FLUSH_H
#define CHATD_FLUSH_H

#include <sys/queue.h>

struct bufferevent;
struct evbuffer;

/* Takes every byte of stage: writes it, or moves it to bev's output. */
typedef void	flush_writer(struct bufferevent *bev, struct evbuffer *stage);

struct flusher {
	TAILQ_ENTRY(flusher)	 f_entry;
	struct bufferevent	*f_bev;
	flush_writer		*f_write;	/* staged flushers only */
	struct evbuffer		*f_stage;	/* this turn's bytes, if any */
	int			 f_queued;
};

/* bev must be a socket bufferevent; its socket is made non-blocking and
 * its EV_WRITE is turned off. */
int	flush_attach(struct flusher *, struct bufferevent *);
/* bev writes by itself (EV_WRITE stays as it is); bytes go to the buffer
 * flush_stage() lends and reach write at the turn's end. */
int	flush_attach_staged(struct flusher *, struct bufferevent *,
	    flush_writer *writer);
/* Where to queue bytes on a staged flusher; NULL for a plain or detached
 * one (or out of memory), meaning the bufferevent's own output. */
struct evbuffer	*flush_stage(struct flusher *);
/* Bytes were queued on the bufferevent's output. */
void	flush_later(struct flusher *);
/* All written after a wait for EV_WRITE: direct writes again. */
void	flush_drained(struct flusher *);
/* Before the bufferevent is freed. */
void	flush_detach(struct flusher *);
/* Let libevent write from now on, and call the write callback when the
 * output is empty (e.g. to finish a close).  Staged bytes go first. */
int	flush_handover(struct flusher *);

#endif
