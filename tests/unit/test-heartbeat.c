/*
 * test-heartbeat.c - unit tests for worker/heartbeat.c and
 * worker/ratelimit.c, the two clocks of a WebSocket session.  Both are
 * pure functions of a caller-given time, so each case is a timeline of
 * (time, expected action) rows.  Exits non-zero if any case fails.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "heartbeat.h"
#include "ratelimit.h"

struct step {
	int64_t		 at;		/* ms after open */
	int		 pong;		/* answered before this check */
	enum hb_action	 want;
	const char	*why;
};

/* interval 10 s, ping timeout 3 s, 2 attempts, lifetime 100 s */
static const struct step missing[] = {
	{ 0, 0, HB_NONE, "nothing at open" },
	{ 9999, 0, HB_NONE, "no ping before the interval" },
	{ 10000, 0, HB_PING, "first ping at the interval" },
	{ 12999, 0, HB_NONE, "within the ping timeout" },
	{ 13000, 0, HB_MISSED, "first miss at the ping timeout" },
	{ 13001, 0, HB_NONE, "next ping not yet due" },
	{ 20000, 0, HB_PING, "second ping one interval after the first" },
	{ 23000, 0, HB_GIVE_UP, "second miss of two: give up" },
};

static const struct step answering[] = {
	{ 10000, 0, HB_PING, "first ping" },
	{ 11000, 1, HB_NONE, "answered: no miss" },
	{ 13000, 0, HB_NONE, "still none after the timeout" },
	{ 20000, 0, HB_PING, "second ping" },
	{ 23000, 0, HB_MISSED, "missed once" },
	{ 30000, 0, HB_PING, "third ping" },
	{ 31000, 1, HB_NONE, "a pong resets the count" },
	{ 40000, 0, HB_PING, "fourth ping" },
	{ 43000, 0, HB_MISSED, "missed once again, not twice" },
	{ 100000, 0, HB_EXPIRED, "connection_timeout wins" },
};

static void
run(const char *name, const struct step *steps, size_t n)
{
	struct config	c;
	struct hb	h;
	enum hb_action	got;
	size_t		i;

	config_defaults(&c);
	c.heartbeat_interval = 10;
	c.ping_timeout = 3;
	c.max_reconnect_attempts = 2;
	c.connection_timeout = 100;
	hb_init(&h, &c, 1000000);
	for (i = 0; i < n; i++) {
		if (steps[i].pong)
			hb_pong(&h);
		got = hb_check(&h, &c, 1000000 + steps[i].at);
		check(got == steps[i].want, steps[i].why,
		    "%s row %zu: action %d, want %d", name, i, got,
		    steps[i].want);
	}
}

static void
test_sequence(void)
{
	struct config	c;
	struct hb	h;
	uint32_t	last = 0;
	int64_t		t;

	config_defaults(&c);
	c.heartbeat_interval = 1;
	hb_init(&h, &c, 0);
	for (t = 0; t < 10000; t += 100) {
		if (hb_check(&h, &c, t) == HB_PING) {
			check(h.hb_seq == last + 1, "sequence grows by one",
			    "%u after %u", h.hb_seq, last);
			last = h.hb_seq;
			hb_pong(&h);
		}
	}
	check(last == 9, "one ping per interval", "%u pings in 10 s", last);
}

static void
test_zero_attempts(void)
{
	struct config	c;
	struct hb	h;

	config_defaults(&c);
	c.heartbeat_interval = 1;
	c.ping_timeout = 1;
	c.max_reconnect_attempts = 0;
	hb_init(&h, &c, 0);
	check(hb_check(&h, &c, 1000) == HB_PING, "ping", "at 1 s");
	check(hb_check(&h, &c, 2000) == HB_GIVE_UP,
	    "no attempts allowed: first miss gives up", "at 2 s");
}

static void
test_sweep(void)
{
	struct config	c;

	config_defaults(&c);
	check(hb_sweep_ms(&c) == 1000, "long settings sweep once a second",
	    "%d", hb_sweep_ms(&c));
	c.heartbeat_interval = 1;
	check(hb_sweep_ms(&c) == 250, "quarter of the shortest period", "%d",
	    hb_sweep_ms(&c));
}

static void
test_bucket(void)
{
	struct bucket	b;
	int		i, ok = 0;

	bucket_init(&b, 5, 0);
	for (i = 0; i < 10; i++)
		ok += bucket_take(&b, 5, 10, 0);
	check(ok == 5, "a burst of the limit, no more", "%d taken", ok);
	check(bucket_take(&b, 5, 10, 1999) == 0, "refill is gradual",
	    "a token before 2 s");
	check(bucket_take(&b, 5, 10, 2000) == 1, "one token per window/limit",
	    "none after 2 s");
	check(bucket_take(&b, 5, 10, 2000) == 0, "and only one", "at 2 s");
	ok = 0;
	for (i = 0; i < 10; i++)
		ok += bucket_take(&b, 5, 10, 1000000);
	check(ok == 5, "an idle bucket holds no more than the limit",
	    "%d taken", ok);
	check(bucket_take(&b, 5, 10, 999000) == 0,
	    "a clock going back adds nothing", "at 999 s");
}

int
main(void)
{
	run("missing", missing, sizeof(missing) / sizeof(missing[0]));
	run("answering", answering, sizeof(answering) / sizeof(answering[0]));
	test_sequence();
	test_zero_attempts();
	test_sweep();
	test_bucket();
	return check_report("test-heartbeat");
}
