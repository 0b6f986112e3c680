/*
 * fanout.c - frames from the broker to the workers of a room.
 */
#include <string.h>

#include "broker.h"
#include "wire.h"
#include "chan.h"
#include "conn.h"
#include "fanout.h"
#include "room.h"
#include "supervise.h"

void
fanout_worker(int worker, uint16_t type, uint64_t id, const struct buf *b)
{
	struct chan	*ch;
	size_t		 off;

	if ((ch = supervise_chan(worker)) == NULL)
		return;
	off = chan_begin(ch, type, id);
	buf_add(chan_out(ch), b->b_data, b->b_len);
	chan_send(ch, off);
}

void
fanout_room(const struct room *r, uint16_t type, const struct buf *b)
{
	uint64_t	mask;
	int		w;

	if (r == NULL || r->r_nconns == 0 || b->b_err)
		return;
	mask = room_workers(r);
	for (w = 0; mask != 0; w++, mask >>= 1)
		if (mask & 1)
			fanout_worker(w, type, r->r_id, b);
}

void
fanout_conn(const struct bconn *c, uint16_t type, const struct buf *b)
{
	if (!b->b_err)
		fanout_worker(c->c_worker, type, c->c_id, b);
}

void
fanout_conn_msg(const struct bconn *c, uint16_t type, const struct conn_msg *m)
{
	struct buf	b;

	buf_init(&b);
	buf_add_u64(&b, m->room);
	buf_add_u64(&b, m->id);
	buf_add_u64(&b, m->sender);
	buf_add_u64(&b, (uint64_t)m->created_ms);
	buf_add_u8(&b, (uint8_t)m->status);
	buf_add_cstr(&b, m->username);
	buf_add_str(&b, m->temp_id ? m->temp_id : "", m->temp_len);
	buf_add_str(&b, m->content, m->content_len);
	fanout_conn(c, type, &b);
	buf_free(&b);
}

void
fanout_conn_error(const struct bconn *c, const char *text)
{
	struct buf	b;

	buf_init(&b);
	buf_add_cstr(&b, text);
	fanout_conn(c, MSG_CONN_ERROR, &b);
	buf_free(&b);
}
