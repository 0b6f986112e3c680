/*
 * wire.c - frame header codec for the channels catalogued in wire.h.
 */
#include <event2/buffer.h>

#include "wire.h"

static const char *const msg_names[MSG_TYPE_MAX] = {
	[MSG_NONE] = "MSG_NONE",
	[MSG_HELLO] = "MSG_HELLO",
	[MSG_CFG_SET] = "MSG_CFG_SET",
	[MSG_CFG_DONE] = "MSG_CFG_DONE",
	[MSG_WS_ACCEPT] = "MSG_WS_ACCEPT",
	[MSG_WS_REFUSE] = "MSG_WS_REFUSE",
	[MSG_DELIVER] = "MSG_DELIVER",
	[MSG_SEND_FAIL] = "MSG_SEND_FAIL",
	[MSG_HEALTH_CHECK] = "MSG_HEALTH_CHECK",
	[MSG_WS_OPEN] = "MSG_WS_OPEN",
	[MSG_WS_CLOSE] = "MSG_WS_CLOSE",
	[MSG_SEND] = "MSG_SEND",
	[MSG_WS_KICK] = "MSG_WS_KICK",
	[MSG_CTL_STATUS] = "MSG_CTL_STATUS",
	[MSG_CTL_CHECK] = "MSG_CTL_CHECK",
	[MSG_CTL_CONNS] = "MSG_CTL_CONNS",
	[MSG_CTL_KICK] = "MSG_CTL_KICK",
	[MSG_CTL_HEALTH] = "MSG_CTL_HEALTH",
	[MSG_CTL_USER_ADD] = "MSG_CTL_USER_ADD",
	[MSG_CTL_USER_LIST] = "MSG_CTL_USER_LIST",
	[MSG_CTL_USER_SHOW] = "MSG_CTL_USER_SHOW",
	[MSG_CTL_ROOM_CREATE] = "MSG_CTL_ROOM_CREATE",
	[MSG_CTL_ROOM_LIST] = "MSG_CTL_ROOM_LIST",
	[MSG_CTL_ROOM_SHOW] = "MSG_CTL_ROOM_SHOW",
	[MSG_CTL_TOKEN] = "MSG_CTL_TOKEN",
	[MSG_CTL_PROVISION] = "MSG_CTL_PROVISION",
	[MSG_CTL_RELOAD] = "MSG_CTL_RELOAD",
	[MSG_CTL_SHUTDOWN] = "MSG_CTL_SHUTDOWN",
	[MSG_CTL_ROW] = "MSG_CTL_ROW",
	[MSG_CTL_DATA] = "MSG_CTL_DATA",
	[MSG_CTL_END] = "MSG_CTL_END",
	[MSG_CTL_FAIL] = "MSG_CTL_FAIL",
	/* chat protocol */
	[MSG_TYPING] = "MSG_TYPING",
	[MSG_STATUS] = "MSG_STATUS",
	[MSG_REPLAY] = "MSG_REPLAY",
	[MSG_CONN_ERROR] = "MSG_CONN_ERROR",
	[MSG_STATUS_UPDATE] = "MSG_STATUS_UPDATE",
	[MSG_TYPING_UPDATE] = "MSG_TYPING_UPDATE",
	[MSG_PRESENCE] = "MSG_PRESENCE",
	[MSG_REPLAY_MSG] = "MSG_REPLAY_MSG",
	[MSG_ECHO] = "MSG_ECHO",
	[MSG_REPLAY_DONE] = "MSG_REPLAY_DONE",
	[MSG_REST_QUERY] = "MSG_REST_QUERY",
	[MSG_REST_USER] = "MSG_REST_USER",
	[MSG_REST_ROOM] = "MSG_REST_ROOM",
	[MSG_REST_MESSAGE] = "MSG_REST_MESSAGE",
	[MSG_REST_DONE] = "MSG_REST_DONE",
	[MSG_WORKER_REFUSED] = "MSG_WORKER_REFUSED",
	[MSG_METRICS_GET] = "MSG_METRICS_GET",
	[MSG_METRICS] = "MSG_METRICS",
};

const char *
msg_type_name(uint32_t type)
{
	if (type >= MSG_TYPE_MAX || msg_names[type] == NULL)
		return "MSG_UNKNOWN";
	return msg_names[type];
}

size_t
wire_begin(struct buf *b, uint16_t type, uint64_t id)
{
	size_t	off = b->b_len;

	buf_add_u32(b, 0);
	buf_add_u16(b, type);
	buf_add_u16(b, WIRE_F_NONE);
	buf_add_u64(b, id);
	return off;
}

int
wire_end(struct buf *b, size_t off)
{
	size_t	len;

	if (b->b_err || off > b->b_len)
		return -1;
	len = b->b_len - off;
	if (len < WIRE_HDR_SIZE || len > WIRE_MAX_SIZE) {
		b->b_len = off;		/* drop the partial frame */
		return -1;
	}
	buf_put_u32_at(b, off, (uint32_t)len);
	return 0;
}

int
wire_hdr_decode(const uint8_t *p, struct wire_hdr *out)
{
	struct rd	r;
	struct wire_hdr	h;

	rd_init(&r, p, WIRE_HDR_SIZE);
	if (rd_u32(&r, &h.len) == -1 || rd_u16(&r, &h.type) == -1 ||
	    rd_u16(&r, &h.flags) == -1 || rd_u64(&r, &h.id) == -1)
		return -1;
	if (h.len < WIRE_HDR_SIZE || h.len > WIRE_MAX_SIZE)
		return -1;
	if (h.type == MSG_NONE || h.type >= MSG_TYPE_MAX)
		return -1;
	*out = h;
	return 0;
}

int
wire_next(struct evbuffer *in, struct wire_msg *out)
{
	uint8_t		 hb[WIRE_HDR_SIZE];
	struct wire_hdr	 h;
	unsigned char	*p;

	if (evbuffer_get_length(in) < WIRE_HDR_SIZE)
		return 0;
	if (evbuffer_copyout(in, hb, sizeof(hb)) != (ev_ssize_t)sizeof(hb))
		return -1;
	if (wire_hdr_decode(hb, &h) == -1)
		return -1;
	if (evbuffer_get_length(in) < h.len)
		return 0;
	if ((p = evbuffer_pullup(in, h.len)) == NULL)
		return -1;
	out->hdr = h;
	rd_init(&out->payload, p + WIRE_HDR_SIZE, h.len - WIRE_HDR_SIZE);
	return 1;
}

void
wire_consume(struct evbuffer *in, const struct wire_msg *m)
{
	evbuffer_drain(in, m->hdr.len);
}
