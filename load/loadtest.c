/*
 * loadtest.c - chat-loadtest URL TOKEN MODE SECONDS: test one connection
 * to a chat room the way an app would.
 *
 *   basic   connect, then check ping/pong, connection_check and a message
 *           round trip; then one message a second until SECONDS.
 *   long    hold the connection for SECONDS, answering the server's
 *           heartbeat; passes if it stays up.
 *   stress  send messages as fast as the server acknowledges them (32 in
 *           flight) for SECONDS; report the rate and latency.
 *
 * Exit status 0 when the mode's checks passed.
 */
#include <err.h>
#include <inttypes.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "hist.h"
#include "log.h"
#include "wsc.h"

#define STRESS_WINDOW	32
#define STEP_TIMEOUT_S	5

enum mode {
	MODE_BASIC = 0,
	MODE_LONG,
	MODE_STRESS,
};

static struct event_base *base;
static struct wsc	*conn;
static enum mode	 mode;
static double		 seconds;
static uint64_t		 t_start, t_established, seq, acked, errors;
static uint64_t		 server_pings, pongs, reconnects;
static int		 established, closed_code = -1, failed;
static const char	*step;		/* basic: what we wait for */
static uint64_t		 step_t0;
static struct hist	 lat;
static struct event	*tick_ev;

static void
iso_now(char out[32])
{
	struct timespec	ts;
	struct tm	tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + 19, 13, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
}

static void
send_json(const char *fmt, ...)
{
	char	buf[512];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (conn != NULL)
		wsc_send_text(conn, buf, n);
}

static void
send_message(void)
{
	send_json("{\"type\":\"message\",\"content\":\"lt %" PRIu64 " %" PRIu64
	    "\",\"temp_id\":\"lt_%d_%" PRIu64 "\"}", seq, mono_us(),
	    (int)getpid(), seq);
	seq++;
}

static void
basic_expect(const char *what)
{
	step = what;
	step_t0 = mono_us();
}

static void
basic_pass(const char *name)
{
	printf("ok   %-22s %6.1f ms\n", name, (mono_us() - step_t0) / 1000.0);
}

static int
has(const char *s, size_t n, const char *needle)
{
	return memmem(s, n, needle, strlen(needle)) != NULL;
}

/* The basic mode's script: each answer starts the next step. */
static void
basic_step(const char *s, size_t n)
{
	char	now[32];

	if (step == NULL)
		return;
	if (strcmp(step, "pong") == 0 && has(s, n, "\"type\":\"pong\"")) {
		basic_pass("ping -> pong");
		basic_expect("connection_status");
		iso_now(now);
		send_json("{\"type\":\"connection_check\",\"timestamp\":\"%s\"}",
		    now);
	} else if (strcmp(step, "connection_status") == 0 &&
	    has(s, n, "\"type\":\"connection_status\"")) {
		basic_pass("connection_check");
		basic_expect("message");
		send_message();
	} else if (strcmp(step, "message") == 0 &&
	    has(s, n, "\"type\":\"message\"") && has(s, n, "\"temp_id\"")) {
		basic_pass("message round trip");
		step = NULL;
	}
}

static void
text_cb(struct wsc *c, const char *s, size_t n, void *arg)
{
	const char	*p;
	char		 now[32];

	(void)c;
	(void)arg;
	if (!established) {
		if (!has(s, n, "\"type\":\"connection_established\""))
			return;
		established = 1;
		t_established = mono_us();
		printf("ok   %-22s %6.1f ms\n", "connection_established",
		    (t_established - t_start) / 1000.0);
		if (mode == MODE_BASIC) {
			basic_expect("pong");
			iso_now(now);
			send_json("{\"type\":\"ping\",\"timestamp\":\"%s\"}", now);
		} else if (mode == MODE_STRESS)
			for (int i = 0; i < STRESS_WINDOW; i++)
				send_message();
		return;
	}
	if (has(s, n, "\"type\":\"ping\"")) {
		server_pings++;
		iso_now(now);
		send_json("{\"type\":\"pong\",\"timestamp\":\"%s\","
		    "\"client_time\":\"%s\"}", now, now);
		return;
	}
	if (has(s, n, "\"type\":\"pong\""))
		pongs++;
	if (has(s, n, "\"type\":\"reconnect_suggested\""))
		reconnects++;
	if (has(s, n, "\"type\":\"error\"")) {
		errors++;
		if (errors <= 5)
			printf("error: %.*s\n", (int)n, s);
		if (step != NULL) {
			printf("FAIL %s\n", step);
			failed = 1;
			step = NULL;
		}
		/* A refused message (rate limit) frees its slot too. */
		if (mode == MODE_STRESS &&
		    mono_us() - t_established < seconds * 1e6)
			send_message();
	}
	if ((p = memmem(s, n, "\"content\":\"lt ", 14)) != NULL &&
	    has(s, n, "\"temp_id\"")) {
		uint64_t t0;

		p += 14;
		p = strchr(p, ' ');
		t0 = strtoull(p + 1, NULL, 10);
		hist_add(&lat, mono_us() - t0);
		acked++;
		if (mode == MODE_STRESS &&
		    mono_us() - t_established < seconds * 1e6)
			send_message();
	}
	if (mode == MODE_BASIC)
		basic_step(s, n);
}

static void
open_cb(struct wsc *c, void *arg)
{
	(void)c;
	(void)arg;
}

static void
close_cb(struct wsc *c, int code, void *arg)
{
	(void)c;
	(void)arg;
	conn = NULL;
	closed_code = code;
	event_base_loopexit(base, NULL);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	static uint64_t	last_send;
	uint64_t	now = mono_us();

	(void)fd;
	(void)what;
	(void)arg;
	if (!established) {
		if (now - t_start > STEP_TIMEOUT_S * 1000000ULL) {
			printf("FAIL connection_established: no answer\n");
			failed = 1;
			event_base_loopexit(base, NULL);
		}
		return;
	}
	if (step != NULL && now - step_t0 > STEP_TIMEOUT_S * 1000000ULL) {
		printf("FAIL %-22s no answer in %d s\n", step, STEP_TIMEOUT_S);
		failed = 1;
		step = NULL;
	}
	if (now - t_established >= seconds * 1e6) {
		if (conn != NULL)
			wsc_close(conn);
		event_base_loopexit(base, NULL);
		return;
	}
	if (mode == MODE_BASIC && step == NULL && now - last_send > 1000000) {
		send_message();
		last_send = now;
	}
}

static void
report(void)
{
	double	held = established ? (mono_us() - t_established) / 1e6 : 0;

	printf("held %.1f s; server pings %" PRIu64 ", pongs %" PRIu64
	    ", reconnect_suggested %" PRIu64 ", errors %" PRIu64 "\n", held,
	    server_pings, pongs, reconnects, errors);
	if (acked > 0)
		printf("messages acknowledged %" PRIu64 " of %" PRIu64
		    " (%.0f/s); latency us p50 %" PRIu64 " p99 %" PRIu64
		    " max %" PRIu64 "\n", acked, seq, acked / (held > 0 ? held :
		    1), hist_quantile(&lat, .5), hist_quantile(&lat, .99),
		    lat.h_max);
	if (closed_code >= 0 && closed_code != 1000)
		printf("FAIL connection closed early (code %d)\n",
		    closed_code);
}

int
main(int argc, char *argv[])
{
	struct wsc_target	 t;
	static const struct wsc_cbs cbs = { open_cb, text_cb, close_cb };
	char			 path[4096], full[8192];
	struct timeval		 tv = { 0, 100000 };
	SSL_CTX			*ctx = NULL;

	log_init("chat-loadtest", 0);
	if (argc != 5) {
		fprintf(stderr, "usage: chat-loadtest URL TOKEN "
		    "basic|long|stress SECONDS\n");
		return 2;
	}
	if (strcmp(argv[3], "basic") == 0)
		mode = MODE_BASIC;
	else if (strcmp(argv[3], "long") == 0)
		mode = MODE_LONG;
	else if (strcmp(argv[3], "stress") == 0)
		mode = MODE_STRESS;
	else
		errx(2, "unknown mode %s (basic, long or stress)", argv[3]);
	if ((seconds = atof(argv[4])) <= 0)
		errx(2, "SECONDS must be positive");
	if (wsc_parse_url(argv[1], &t, path, sizeof(path)) == -1)
		errx(2, "bad URL %s (ws://HOST:PORT/ws/chat/ROOM/)", argv[1]);
	snprintf(full, sizeof(full), "%s%stoken=%s", path,
	    strchr(path, '?') ? "&" : "?", argv[2]);
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		errx(1, "event_base_new");
	if (t.tls && (ctx = wsc_tls_ctx()) == NULL)
		errx(1, "TLS context");
	t_start = mono_us();
	if ((conn = wsc_open(base, &t, ctx, NULL, 0, full, &cbs, NULL)) == NULL)
		err(1, "connect");
	tick_ev = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick_ev, &tv);
	event_base_dispatch(base);
	if (!established && !failed) {
		printf("FAIL connection refused or lost (code %d)\n",
		    closed_code);
		failed = 1;
	}
	if (step != NULL) {
		printf("FAIL %-22s no answer before the end\n", step);
		failed = 1;
	}
	report();
	if (closed_code >= 0 && closed_code != 1000)
		failed = 1;
	if (mode == MODE_STRESS && acked == 0)
		failed = 1;
	printf("%s\n", failed ? "FAIL" : "PASS");
	return failed ? 1 : 0;
}
