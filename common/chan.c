/*
 * chan.c - framed channels on bufferevents.
 */
#include <stdlib.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "chan.h"
#include "flush.h"
#include "log.h"

#define CHAN_READ_MAX	(256 * 1024)

struct chan {
	struct bufferevent	*c_bev;
	chan_msg_cb		*c_msg_cb;
	chan_close_cb		*c_close_cb;
	void			*c_arg;
	struct buf		 c_out;
	struct flusher		 c_flush;
	int			 c_in_cb;	/* dispatching: defer the free */
	int			 c_dead;
	int			 c_free_me;
};

static void
chan_fail(struct chan *c)
{
	if (c->c_dead)
		return;
	c->c_dead = 1;
	flush_detach(&c->c_flush);
	bufferevent_disable(c->c_bev, EV_READ | EV_WRITE);
	c->c_close_cb(c, c->c_arg);
}

static void
chan_read_cb(struct bufferevent *bev, void *arg)
{
	struct chan	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct wire_msg	 m;
	int		 r = 0;

	/* A callback may free the channel; chan_free() then only marks it
	 * and the free happens here, after the last use. */
	c->c_in_cb = 1;
	while (!c->c_dead && (r = wire_next(in, &m)) == 1) {
		if (c->c_msg_cb(c, &m, c->c_arg) == -1) {
			log_warnx("%s: malformed %s", __func__,
			    msg_type_name(m.hdr.type));
			chan_fail(c);
			break;
		}
		if (!c->c_dead)
			wire_consume(in, &m);
	}
	if (!c->c_dead && r == -1) {
		log_warnx("%s: undecodable frame", __func__);
		chan_fail(c);
	}
	c->c_in_cb = 0;
	if (c->c_free_me)
		chan_free(c);
}

static void
chan_write_cb(struct bufferevent *bev, void *arg)
{
	struct chan	*c = arg;

	(void)bev;
	flush_drained(&c->c_flush);
}

static void
chan_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct chan	*c = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		chan_fail(c);
}

struct chan *
chan_new(struct event_base *base, int fd, chan_msg_cb *msg_cb,
    chan_close_cb *close_cb, void *arg)
{
	struct chan	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return NULL;
	}
	c->c_bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->c_bev == NULL) {
		close(fd);
		free(c);
		return NULL;
	}
	c->c_msg_cb = msg_cb;
	c->c_close_cb = close_cb;
	c->c_arg = arg;
	buf_init(&c->c_out);
	bufferevent_setcb(c->c_bev, chan_read_cb, chan_write_cb, chan_event_cb,
	    c);
	/* Frames between processes come in bulk: fewer, larger reads. */
	bufferevent_set_max_single_read(c->c_bev, CHAN_READ_MAX);
	if (flush_attach(&c->c_flush, c->c_bev) == -1 ||
	    bufferevent_enable(c->c_bev, EV_READ) == -1) {
		chan_free(c);
		return NULL;
	}
	return c;
}

void
chan_free(struct chan *c)
{
	if (c == NULL)
		return;
	if (c->c_in_cb) {
		c->c_dead = 1;
		c->c_free_me = 1;
		bufferevent_disable(c->c_bev, EV_READ | EV_WRITE);
		return;
	}
	flush_detach(&c->c_flush);
	bufferevent_free(c->c_bev);
	buf_free(&c->c_out);
	free(c);
}

void
chan_set_arg(struct chan *c, void *arg)
{
	c->c_arg = arg;
}

struct buf *
chan_out(struct chan *c)
{
	return &c->c_out;
}

size_t
chan_begin(struct chan *c, uint16_t type, uint64_t id)
{
	buf_reset(&c->c_out);
	return wire_begin(&c->c_out, type, id);
}

int
chan_send(struct chan *c, size_t off)
{
	int	rv;

	if (wire_end(&c->c_out, off) == -1) {
		log_warnx("%s: frame dropped (too large or out of memory)",
		    __func__);
		buf_reset(&c->c_out);
		return -1;
	}
	rv = chan_send_raw(c, c->c_out.b_data + off, c->c_out.b_len - off);
	buf_reset(&c->c_out);
	return rv;
}

int
chan_send_raw(struct chan *c, const void *p, size_t n)
{
	if (c->c_dead)
		return -1;
	if (bufferevent_write(c->c_bev, p, n) == -1) {
		log_warnx("%s: bufferevent_write failed", __func__);
		return -1;
	}
	flush_later(&c->c_flush);
	return 0;
}

size_t
chan_pending(const struct chan *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->c_bev));
}
