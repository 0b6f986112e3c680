/*
 * heartbeat.h - the per-connection heartbeat as a pure state machine:
 * when to send the next ping, when a ping went unanswered, when the
 * connection has lived long enough.  It sends nothing and owns no timer;
 * session.c sweeps all connections from one timer and acts on the answer.
 */
#ifndef CHATD_HEARTBEAT_H
#define CHATD_HEARTBEAT_H

#include <stdint.h>

struct config;

struct hb {
	int64_t		hb_opened_ms;
	int64_t		hb_next_ping_ms;
	int64_t		hb_ping_sent_ms;	/* 0 = no ping outstanding */
	uint32_t	hb_missed;		/* unanswered pings in a row */
	uint32_t	hb_seq;			/* of the last ping sent */
};

enum hb_action {
	HB_NONE = 0,
	HB_PING,	/* send ping with hb_seq */
	HB_MISSED,	/* suggest a reconnect: hb_missed of max attempts */
	HB_GIVE_UP,	/* the same, then close (missed the maximum) */
	HB_EXPIRED,	/* older than connection_timeout: suggest, then close */
};

void		hb_init(struct hb *, const struct config *, int64_t now);
/* What is due at now; call again until HB_NONE. */
enum hb_action	hb_check(struct hb *, const struct config *, int64_t now);
/* The client answered: a pong, as JSON or as a WebSocket frame. */
void		hb_pong(struct hb *);
/* How often to sweep, in ms, for these settings. */
int		hb_sweep_ms(const struct config *);

#endif
