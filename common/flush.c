/*
 * flush.c - socket writes at the end of the event loop's turn.
 */
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "flush.h"
#include "log.h"

static TAILQ_HEAD(, flusher)	 queue = TAILQ_HEAD_INITIALIZER(queue);
/* Made active when the first flusher of a turn queues: active events run
 * after every callback already due in this turn. */
static struct event		*flush_ev;

static void
flush_one(struct flusher *f)
{
	struct bufferevent	*bev = f->f_bev;
	struct evbuffer		*out = bufferevent_get_output(bev);
	int			 n;

	/* Waiting for the socket: libevent writes when it is ready. */
	if (bufferevent_get_enabled(bev) & EV_WRITE)
		return;
	if (evbuffer_get_length(out) == 0)
		return;
	/* A socket bufferevent keeps the front of its output frozen except
	 * while it writes itself. */
	evbuffer_unfreeze(out, 1);
	n = evbuffer_write(out, bufferevent_getfd(bev));
	evbuffer_freeze(out, 1);
	/* A full socket or an error: EV_WRITE retries, and reports an
	 * error to the owner's event callback. */
	if ((n == -1 || evbuffer_get_length(out) > 0) &&
	    bufferevent_enable(bev, EV_WRITE) == -1)
		log_warnx("%s: cannot wait for the socket", __func__);
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct flusher	*f;

	(void)fd;
	(void)what;
	(void)arg;
	while ((f = TAILQ_FIRST(&queue)) != NULL) {
		TAILQ_REMOVE(&queue, f, f_entry);
		f->f_queued = 0;
		flush_one(f);
	}
}

int
flush_attach(struct flusher *f, struct bufferevent *bev)
{
	if (flush_ev == NULL &&
	    (flush_ev = event_new(bufferevent_get_base(bev), -1, 0, flush_cb,
	    NULL)) == NULL)
		return -1;
	/* A write to a blocking socket whose peer is busy writing back
	 * would wait for it forever. */
	if (evutil_make_socket_nonblocking(bufferevent_getfd(bev)) == -1)
		return -1;
	f->f_bev = bev;
	f->f_queued = 0;
	return bufferevent_disable(bev, EV_WRITE);
}

void
flush_later(struct flusher *f)
{
	if (f->f_queued || f->f_bev == NULL)
		return;
	if (TAILQ_EMPTY(&queue))
		event_active(flush_ev, EV_WRITE, 0);
	TAILQ_INSERT_TAIL(&queue, f, f_entry);
	f->f_queued = 1;
}

void
flush_drained(struct flusher *f)
{
	if (f->f_bev != NULL)
		bufferevent_disable(f->f_bev, EV_WRITE);
}

int
flush_handover(struct flusher *f)
{
	struct bufferevent	*bev = f->f_bev;

	flush_detach(f);
	return bev == NULL ? 0 : bufferevent_enable(bev, EV_WRITE);
}

void
flush_detach(struct flusher *f)
{
	if (f->f_queued)
		TAILQ_REMOVE(&queue, f, f_entry);
	f->f_queued = 0;
	f->f_bev = NULL;
}
