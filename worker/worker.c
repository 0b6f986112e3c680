/*
 * worker.c - chatd-worker: main(), signals and event-loop wiring.
 *
 * Started by the broker only: fd 3 is the broker channel and fds 4...
 * the listen sockets.  It serves nothing until the broker has sent the
 * configuration.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "chan.h"
#include "guard.h"
#include "http.h"
#include "link.h"
#include "listen.h"
#include "log.h"
#include "session.h"
#include "tls.h"
#include "worker.h"

#define BROKER_FD		3
#define FIRST_LISTEN_FD		4
#define DRAIN_MS		1500	/* after SIGTERM, for close handshakes */

static struct wctx	 the_wctx;
struct wctx		*wctx = &the_wctx;
static int		 nlisten;
static const char	*listen_kinds = "";
static struct event	*drain_timer;
static int64_t		 drain_deadline;

int64_t
now_ms(void)
{
	struct timeval	tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void
worker_configured(void)
{
	if (http_init() == -1)
		fatalx("cannot start the HTTP engine");
	if (strchr(listen_kinds, LISTEN_TLS) != NULL &&
	    tls_init(wctx->w_conf.tls_certificate, wctx->w_conf.tls_key) == -1)
		fatalx("cannot load the TLS certificate or key");
	if (drain_timer != NULL)	/* retired before it began */
		return;
	if (listen_start(FIRST_LISTEN_FD, nlisten, listen_kinds) == -1)
		fatal("cannot watch the listen sockets");
	log_debug("worker %d serving", wctx->w_index);
}

static void
broker_gone_cb(struct chan *ch, void *arg)
{
	(void)ch;
	(void)arg;
	/* Without the broker no decision can be made: exit, and a new
	 * broker starts new workers. */
	log_warnx("worker %d: broker channel closed, exiting", wctx->w_index);
	exit(0);
}

static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	tv = { 0, 50000 };

	(void)fd;
	(void)what;
	(void)arg;
	if (session_count() == 0 || now_ms() >= drain_deadline) {
		event_base_loopexit(wctx->w_base, NULL);
		return;
	}
	evtimer_add(drain_timer, &tv);
}

static void
sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	if (wctx->w_stopping)
		return;
	wctx->w_stopping = 1;
	listen_stop();
	session_close_all();
	drain_deadline = now_ms() + DRAIN_MS;
	if (drain_timer != NULL)	/* was retiring */
		event_free(drain_timer);
	if ((drain_timer = evtimer_new(wctx->w_base, drain_cb, NULL)) == NULL)
		exit(0);
	drain_cb(-1, 0, NULL);
}

/*
 * Retire timer: a replaced worker (SIGUSR2, sent on reload) exits once
 * its last connection, WebSocket or HTTP, has closed.  Nobody is cut off.
 */
static void
retire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	tv = { 0, 200000 };

	(void)fd;
	(void)what;
	(void)arg;
	if (guard_connections() == 0 && session_count() == 0) {
		log_debug("worker %d: retired, last connection closed",
		    wctx->w_index);
		event_base_loopexit(wctx->w_base, NULL);
		return;
	}
	evtimer_add(drain_timer, &tv);
}

static void
sigusr2_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	if (wctx->w_stopping || drain_timer != NULL)
		return;
	listen_stop();
	if ((drain_timer = evtimer_new(wctx->w_base, retire_cb, NULL)) == NULL)
		exit(0);
	retire_cb(-1, 0, NULL);
}

/* The broker rotated the log file. */
static void
sigusr1_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	if (log_reopen() == -1)
		log_warn("cannot reopen %s", log_file_path());
}

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: chatd-worker -w index -l nlisten [-d] "
	    "[-k kinds] [-s facility]\n"
	    "chatd-worker is started by chatd, not by hand.\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct event	*sigterm_ev, *sigint_ev;
	int		 ch, debug = 0, facility = -1;
	const char	*logfile = NULL;
	struct event	*sigusr1_ev, *sigusr2_ev;
	char		 ident[32];

	wctx->w_index = -1;
	while ((ch = getopt(argc, argv, "dk:l:o:s:w:")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'k':
			listen_kinds = optarg;
			break;
		case 'o':
			logfile = optarg;
			break;
		case 's':
			facility = atoi(optarg);
			break;
		case 'l':
			nlisten = atoi(optarg);
			break;
		case 'w':
			wctx->w_index = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (wctx->w_index < 0 || nlisten < 1)
		usage();
	snprintf(ident, sizeof(ident), "chatd-worker/%d", wctx->w_index);
	log_init(strdup(ident), debug);
	/* The broker logs to syslog: so do we. */
	if (facility != -1)
		log_to_syslog(facility);
	if (logfile != NULL && log_to_file(logfile) == -1)
		fatal("log file %s", logfile);
	config_defaults(&wctx->w_conf);
	signal(SIGPIPE, SIG_IGN);
	if ((wctx->w_base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	wctx->w_broker = chan_new(wctx->w_base, BROKER_FD, wlink_recv,
	    broker_gone_cb, NULL);
	if (wctx->w_broker == NULL)
		fatalx("cannot open the broker channel");
	sigterm_ev = evsignal_new(wctx->w_base, SIGTERM, sigterm_cb, NULL);
	sigint_ev = evsignal_new(wctx->w_base, SIGINT, sigterm_cb, NULL);
	if (sigterm_ev == NULL || sigint_ev == NULL ||
	    evsignal_add(sigterm_ev, NULL) == -1 ||
	    evsignal_add(sigint_ev, NULL) == -1)
		fatalx("cannot watch signals");
	sigusr1_ev = evsignal_new(wctx->w_base, SIGUSR1, sigusr1_cb, NULL);
	sigusr2_ev = evsignal_new(wctx->w_base, SIGUSR2, sigusr2_cb, NULL);
	if (sigusr1_ev == NULL || evsignal_add(sigusr1_ev, NULL) == -1 ||
	    sigusr2_ev == NULL || evsignal_add(sigusr2_ev, NULL) == -1)
		fatalx("cannot watch signals");
	wlink_send_hello();
	event_base_dispatch(wctx->w_base);
	http_shutdown();
	return 0;
}
