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
/* Staging buffers between turns: as many as flushers that had bytes in
 * one turn, up to STAGE_POOL_MAX. */
#define STAGE_POOL_MAX	256
static struct evbuffer		*stage_pool[STAGE_POOL_MAX];
static size_t			 stage_free;

static void
stage_put(struct evbuffer *b)
{
	if (b == NULL)
		return;
	if (evbuffer_get_length(b) > 0 || stage_free == STAGE_POOL_MAX) {
		evbuffer_free(b);
		return;
	}
	stage_pool[stage_free++] = b;
}

static void
stage_return(struct flusher *f)
{
	stage_put(f->f_stage);
	f->f_stage = NULL;
}

static void
flush_staged(struct flusher *f)
{
	if (f->f_stage != NULL && evbuffer_get_length(f->f_stage) > 0)
		f->f_write(f->f_bev, f->f_stage);
	stage_return(f);
}

static void
flush_one(struct flusher *f)
{
	struct bufferevent	*bev = f->f_bev;
	struct evbuffer		*out = bufferevent_get_output(bev);
	int			 n;

	if (f->f_write != NULL) {
		flush_staged(f);
		return;
	}
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
	f->f_write = NULL;
	f->f_stage = NULL;
	f->f_queued = 0;
	return bufferevent_disable(bev, EV_WRITE);
}

int
flush_attach_staged(struct flusher *f, struct bufferevent *bev,
    flush_writer *writer)
{
	if (flush_ev == NULL &&
	    (flush_ev = event_new(bufferevent_get_base(bev), -1, 0, flush_cb,
	    NULL)) == NULL)
		return -1;
	f->f_bev = bev;
	f->f_write = writer;
	f->f_stage = NULL;
	f->f_queued = 0;
	return 0;
}

struct evbuffer *
flush_stage(struct flusher *f)
{
	if (f->f_write == NULL || f->f_bev == NULL)
		return NULL;
	if (f->f_stage == NULL) {
		if (stage_free > 0)
			f->f_stage = stage_pool[--stage_free];
		else
			f->f_stage = evbuffer_new();
	}
	return f->f_stage;
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
	if (f->f_bev != NULL && f->f_write == NULL)
		bufferevent_disable(f->f_bev, EV_WRITE);
}

int
flush_handover(struct flusher *f)
{
	struct bufferevent	*bev = f->f_bev;
	struct evbuffer		*stage = f->f_stage;
	int			 rc = 0;

	/* Done with f first: handing bytes to a bufferevent that writes
	 * them at once may run the owner's callbacks. */
	f->f_stage = NULL;
	flush_detach(f);
	if (bev == NULL) {
		stage_put(stage);
		return 0;
	}
	if (stage != NULL && evbuffer_get_length(stage) > 0 &&
	    evbuffer_add_buffer(bufferevent_get_output(bev), stage) == -1)
		rc = -1;
	stage_put(stage);
	if (rc == 0 && bufferevent_enable(bev, EV_WRITE) == -1)
		rc = -1;
	return rc;
}

void
flush_detach(struct flusher *f)
{
	if (f->f_queued)
		TAILQ_REMOVE(&queue, f, f_entry);
	f->f_queued = 0;
	f->f_bev = NULL;
	/* A closing owner's unsent bytes go with it. */
	if (f->f_stage != NULL)
		evbuffer_drain(f->f_stage, evbuffer_get_length(f->f_stage));
	stage_return(f);
}
