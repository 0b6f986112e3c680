/*
 * rate.c - a ring of counter samples taken once a second.
 */
#include <event2/event.h>

#include "broker.h"
#include "log.h"
#include "rate.h"
#include "stats.h"

#define NSAMPLES	(RATE_WINDOW_S + 1)

struct sample {
	int64_t		ms;		/* 0 = empty slot */
	uint64_t	stored;
	uint64_t	delivered;
};

static struct sample	ring[NSAMPLES];
static int		next_slot;
static struct event	*tick;

static void
take_sample(struct sample *s)
{
	s->ms = now_ms();
	s->stored = stats.msgs_stored;
	s->delivered = stats.deliver_frames;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	take_sample(&ring[next_slot]);
	next_slot = (next_slot + 1) % NSAMPLES;
}

void
rate_init(void)
{
	struct timeval	tv = { 1, 0 };

	take_sample(&ring[next_slot++]);
	tick = event_new(broker->b_base, -1, EV_PERSIST, tick_cb, NULL);
	if (tick == NULL || event_add(tick, &tv) == -1)
		fatalx("%s: cannot start the sampling timer", __func__);
}

void
rate_get(double *stored_out, double *delivered_out)
{
	struct sample	 now, *old = NULL;
	int		 i;

	take_sample(&now);
	/* The oldest sample still inside the window. */
	for (i = 0; i < NSAMPLES; i++) {
		if (ring[i].ms == 0 ||
		    now.ms - ring[i].ms > RATE_WINDOW_S * 1000 + 500)
			continue;
		if (old == NULL || ring[i].ms < old->ms)
			old = &ring[i];
	}
	*stored_out = *delivered_out = 0;
	if (old == NULL || now.ms - old->ms < 100)
		return;
	*stored_out = (double)(now.stored - old->stored) * 1000 /
	    (now.ms - old->ms);
	*delivered_out = (double)(now.delivered - old->delivered) * 1000 /
	    (now.ms - old->ms);
}
