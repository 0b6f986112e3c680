/*
 * heartbeat.c - ping, pong and connection lifetime decisions.
 */
#include "config.h"
#include "heartbeat.h"

void
hb_init(struct hb *h, const struct config *c, int64_t now)
{
	h->hb_opened_ms = now;
	h->hb_next_ping_ms = now + (int64_t)c->heartbeat_interval * 1000;
	h->hb_ping_sent_ms = 0;
	h->hb_missed = 0;
	h->hb_seq = 0;
}

enum hb_action
hb_check(struct hb *h, const struct config *c, int64_t now)
{
	if (now - h->hb_opened_ms >= (int64_t)c->connection_timeout * 1000)
		return HB_EXPIRED;
	if (h->hb_ping_sent_ms != 0 &&
	    now - h->hb_ping_sent_ms >= (int64_t)c->ping_timeout * 1000) {
		h->hb_ping_sent_ms = 0;
		h->hb_missed++;
		return h->hb_missed >= (uint32_t)c->max_reconnect_attempts ?
		    HB_GIVE_UP : HB_MISSED;
	}
	/* One ping at a time: the next waits for the answer or the miss. */
	if (h->hb_ping_sent_ms == 0 && now >= h->hb_next_ping_ms) {
		h->hb_seq++;
		h->hb_ping_sent_ms = now;
		h->hb_next_ping_ms = now +
		    (int64_t)c->heartbeat_interval * 1000;
		return HB_PING;
	}
	return HB_NONE;
}

void
hb_pong(struct hb *h)
{
	h->hb_ping_sent_ms = 0;
	h->hb_missed = 0;
}

int
hb_sweep_ms(const struct config *c)
{
	int	s = c->heartbeat_interval < c->ping_timeout ?
		    c->heartbeat_interval : c->ping_timeout;
	int	ms = s * 1000 / 4;

	/* Four sweeps per shortest period: a deadline is at most a quarter
	 * late; never more than once a second for long settings. */
	if (ms < 50)
		ms = 50;
	if (ms > 1000)
		ms = 1000;
	return ms;
}
