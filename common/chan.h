/*
 * chan.h - a framed channel over a stream socket (socketpair or Unix
 * socket), driven by libevent.  Frames are built in the channel's scratch
 * buffer and queued on the socket; everything queued in one loop turn
 * leaves in one write at its end (flush.h).  Incoming frames are handed
 * to the owner's callback one at a time.
 */
#ifndef CHATD_CHAN_H
#define CHATD_CHAN_H

#include "buf.h"
#include "wire.h"

struct event_base;
struct chan;

/* Return 0, or -1 if the frame is malformed: the channel is then closed
 * and the close callback runs. */
typedef int	chan_msg_cb(struct chan *, struct wire_msg *, void *);
/* The peer is gone (EOF, error, malformed frame).  The owner frees c. */
typedef void	chan_close_cb(struct chan *, void *);

/* Takes fd: it is closed by chan_free(), also when this fails. */
struct chan	*chan_new(struct event_base *, int fd, chan_msg_cb *,
		    chan_close_cb *, void *arg);
void		 chan_free(struct chan *);

/* Build a frame: off = chan_begin(c, type, id); buf_add_*(chan_out(c)...);
 * chan_send(c, off).  chan_send returns -1 if the frame was dropped. */
struct buf	*chan_out(struct chan *);
size_t		 chan_begin(struct chan *, uint16_t type, uint64_t id);
int		 chan_send(struct chan *, size_t off);
/* Queue already-encoded frames. */
int		 chan_send_raw(struct chan *, const void *, size_t);
size_t		 chan_pending(const struct chan *);	/* bytes not yet written */
void		 chan_set_arg(struct chan *, void *);

#endif
