/*
 * bench.c - chat-bench: drive a chat server described by a fixture file
 * ("chatctl provision" output) with P pairs of participants and N idle
 * connections, and report delivered messages/s, latency percentiles from
 * send to the recipient's receipt, messages never delivered, connect rate
 * and errors.
 *
 * Both participants of a pair live in the same process, so one monotonic
 * clock timestamps the send and the receipt.  Load is spread over child
 * processes (each under the open-file limit), which connect, wait for a
 * common start signal, run, drain and report their counters and
 * histogram back through a pipe.
 */
#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "fixture.h"
#include "hist.h"
#include "log.h"
#include "wsc.h"

#define FDS_PER_PROC	18000
#define CONNECT_BURST	256	/* connects in flight per process */
#define DRAIN_S		5

struct result {
	uint64_t	sent, acked, delivered;
	uint64_t	errors;		/* messages answered "failed" */
	uint64_t	other_errors;	/* refused receipts and the like */
	uint64_t	sent_measured, delivered_measured;
	uint64_t	conn_ok, conn_fail, dropped;
	uint64_t	receipts;	/* message_delivered/_read sent */
	double		connect_secs;
	struct hist	lat;
};

struct pair;

struct side {
	struct pair	*sd_pair;
	struct wsc	*sd_c;
	int		 sd_who;	/* 0 = participant1, 1 = participant2 */
	int		 sd_open;
	uint64_t	 sd_sent, sd_acked;
};

struct pair {
	const struct fx_room	*p_room;
	struct side		 p_side[2];
};

struct idle {
	struct wsc	*i_c;
	int		 i_open;
};

/* Options. */
static const char	*fixture_path;
static size_t		 npairs = 100, nidle;
static double		 rate;		/* messages/s in all, 0 = as fast as possible */
static unsigned		 window = 4;	/* in flight per sender, closed loop */
static double		 duration = 10, warmup = 2;
static int		 nprocs = 1, nsrc = 1, json_out;
static int		 receipts;	/* -R: answer with receipts */

/* Per process. */
static struct fixture	 fx;
static struct event_base *base;
static struct wsc_target target;
static SSL_CTX		*tls;
static struct pair	*pairs;
static size_t		 my_pairs;
static struct idle	*idles;
static size_t		 my_idle;
static struct result	 res;
static size_t		 pending_connects, next_connect, total_connects;
static int		 phase;		/* 0 connect, 1 wait, 2 run, 3 drain, 4 done */
static uint64_t		 t_run0, t_measure0, t_stop;
static size_t		 rr_pair;
static int		 rr_side;
static int		 go_fd, report_fd;
static struct event	*tick_ev, *go_ev;
static uint64_t		 run_id;	/* keeps temp_ids unique across runs */

static void
send_one(struct side *sd)
{
	char	msg[160];
	int	n;

	/* A message to nobody would count as undelivered. */
	if (!sd->sd_pair->p_side[!sd->sd_who].sd_open)
		return;
	n = snprintf(msg, sizeof(msg), "{\"type\":\"message\",\"content\":"
	    "\"b%d %" PRIu64 "\",\"temp_id\":\"t%" PRIx64 "_%" PRIu64 "\"}",
	    sd->sd_who, mono_us(), run_id, sd->sd_sent);
	if (wsc_send_text(sd->sd_c, msg, n) == 0) {
		sd->sd_sent++;
		res.sent++;
		if (phase == 2 && mono_us() >= t_measure0)
			res.sent_measured++;
	}
}

static void	connect_more(void);
static void	ready_check(void);

/* What a chat app answers to a message it shows: delivered, then read. */
static void
send_receipts(struct wsc *c, const char *s, size_t n)
{
	static const char	*const kinds[] = { "delivered", "read" };
	const char		*p;
	char			 msg[96];
	uint64_t		 id;
	size_t			 i;
	int			 len;

	if ((p = memmem(s, n, "\"id\":", 5)) == NULL)
		return;
	id = strtoull(p + 5, NULL, 10);
	for (i = 0; i < 2; i++) {
		len = snprintf(msg, sizeof(msg), "{\"type\":\"message_%s\","
		    "\"message_id\":%" PRIu64 "}", kinds[i], id);
		if (wsc_send_text(c, msg, len) == 0)
			res.receipts++;
	}
}

/* Open means admitted: the server said connection_established. */
static void
admitted(int *open)
{
	pending_connects--;
	res.conn_ok++;
	*open = 1;
	connect_more();
	ready_check();
}

static int
is_established(const char *s, size_t n)
{
	static const char	needle[] = "\"type\":\"connection_established\"";

	return memmem(s, n, needle, sizeof(needle) - 1) != NULL;
}

static void
text_cb(struct wsc *c, const char *s, size_t n, void *arg)
{
	struct side	*sd = arg;
	const char	*p;
	uint64_t	 t0, now;
	int		 who;

	(void)c;
	if (!sd->sd_open) {
		if (is_established(s, n))
			admitted(&sd->sd_open);
		return;
	}
	p = memmem(s, n, "\"content\":\"b", 12);
	if (p == NULL) {
		/* Only a failed message carries "status":"failed"; an error
		 * about a receipt is no message lost. */
		if (memmem(s, n, "\"type\":\"error\"", 14) != NULL) {
			if (memmem(s, n, "\"status\":\"failed\"", 17) != NULL)
				res.errors++;
			else
				res.other_errors++;
		}
		return;
	}
	p += 12;
	who = *p - '0';
	t0 = strtoull(p + 2, NULL, 10);
	if (who == sd->sd_who) {
		sd->sd_acked++;
		res.acked++;
		/* Closed loop: the ack frees a slot in the window. */
		if (rate == 0 && phase == 2 && sd->sd_sent - sd->sd_acked <
		    window)
			send_one(sd);
		return;
	}
	now = mono_us();
	res.delivered++;
	if (receipts)
		send_receipts(c, s, n);
	if (t0 >= t_measure0 && t0 < t_stop) {
		res.delivered_measured++;
		hist_add(&res.lat, now - t0);
	}
}

static void	connect_more(void);

static void
ready_check(void)
{
	char	b = 'c';

	if (phase != 0 || pending_connects > 0 || next_connect < total_connects)
		return;
	phase = 1;
	if (write(report_fd, &b, 1) != 1)
		err(1, "write");
}

static void
close_cb(struct wsc *c, int code, void *arg)
{
	(void)c;
	if (*(int *)arg == 0) {
		/* A few reasons are worth seeing; thousands are not. */
		if (res.conn_fail < 3)
			fprintf(stderr, "chat-bench: connection failed (%s %d)\n",
			    code ? "close code" : "network error or refused "
			    "handshake", code);
		pending_connects--;
		res.conn_fail++;
		connect_more();
		ready_check();
	} else if (phase < 3)
		res.dropped++;
	*(int *)arg = 0;
}

static void
side_open_cb(struct wsc *c, void *arg)
{
	(void)c;
	(void)arg;
}

static void
side_close_cb(struct wsc *c, int code, void *arg)
{
	struct side	*sd = arg;

	sd->sd_c = NULL;
	close_cb(c, code, &sd->sd_open);
}

static void
idle_text_cb(struct wsc *c, const char *s, size_t n, void *arg)
{
	struct idle	*i = arg;

	(void)c;
	if (!i->i_open && is_established(s, n))
		admitted(&i->i_open);
}

static void
idle_close_cb(struct wsc *c, int code, void *arg)
{
	struct idle	*i = arg;

	i->i_c = NULL;
	close_cb(c, code, &i->i_open);
}

static const struct wsc_cbs side_cbs = { side_open_cb, text_cb, side_close_cb };
static const struct wsc_cbs idle_cbs = { side_open_cb, idle_text_cb, idle_close_cb };

static struct wsc *
open_conn(uint64_t room, uint64_t user, const struct wsc_cbs *cbs, void *arg,
    size_t k)
{
	char			 path[1024];
	const char		*tok = fixture_token(&fx, user);
	struct sockaddr_in	 src;

	if (tok == NULL)
		errx(1, "no token for user %" PRIu64, user);
	snprintf(path, sizeof(path), "/ws/chat/%" PRIu64 "/?token=%s", room,
	    tok);
	if (nsrc > 1 && target.addr.ss_family == AF_INET) {
		/* More source addresses, more ephemeral ports. */
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(0x7f000001 + (k % nsrc));
		return wsc_open(base, &target, tls, (struct sockaddr *)&src,
		    sizeof(src), path, cbs, arg);
	}
	return wsc_open(base, &target, tls, NULL, 0, path, cbs, arg);
}

/* Keep at most CONNECT_BURST connects in flight. */
static void
connect_more(void)
{
	size_t	k;

	while (pending_connects < CONNECT_BURST &&
	    next_connect < total_connects) {
		k = next_connect++;
		pending_connects++;
		if (k < 2 * my_pairs) {
			struct pair	*p = &pairs[k / 2];
			struct side	*sd = &p->p_side[k % 2];

			sd->sd_c = open_conn(p->p_room->id, k % 2 ?
			    p->p_room->p2 : p->p_room->p1, &side_cbs, sd, k);
			if (sd->sd_c == NULL) {
				pending_connects--;
				res.conn_fail++;
			}
		} else {
			struct idle		*i = &idles[k - 2 * my_pairs];
			const struct fx_room	*r = &fx.rooms[(k * 7919) %
			    fx.nrooms];

			i->i_c = open_conn(r->id, k % 2 ? r->p2 : r->p1,
			    &idle_cbs, i, k);
			if (i->i_c == NULL) {
				pending_connects--;
				res.conn_fail++;
			}
		}
	}
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t	now = mono_us(), due;
	double		my_rate = rate / nprocs;
	size_t		tries;

	(void)fd;
	(void)what;
	(void)arg;
	if (phase == 2 && now >= t_stop) {
		phase = 3;
		t_stop = now;
	}
	if (phase == 3) {
		if (res.delivered >= res.sent - res.errors ||
		    now >= t_stop + DRAIN_S * 1000000ULL)
			phase = 4;
		return;
	}
	if (phase == 4) {
		/* One tick more: the last receipts leave before the
		 * connections close. */
		event_base_loopexit(base, NULL);
		return;
	}
	if (phase != 2 || rate == 0 || my_pairs == 0)
		return;
	/* Open loop: send what the schedule says is due by now. */
	due = (uint64_t)(my_rate * (double)(now - t_run0) / 1e6);
	for (tries = 0; res.sent < due && tries < 4 * my_pairs + 1000; tries++) {
		struct side *sd = &pairs[rr_pair].p_side[rr_side];

		if (sd->sd_open)
			send_one(sd);
		if ((rr_side ^= 1) == 0)
			rr_pair = (rr_pair + 1) % my_pairs;
	}
}

static void
go_cb(evutil_socket_t fd, short what, void *arg)
{
	char	b;
	size_t	i;
	int	s;

	(void)what;
	(void)arg;
	if (read(fd, &b, 1) != 1)
		exit(1);
	phase = 2;
	t_run0 = mono_us();
	t_measure0 = t_run0 + (uint64_t)(warmup * 1e6);
	t_stop = t_run0 + (uint64_t)(duration * 1e6);
	if (rate == 0)
		for (i = 0; i < my_pairs; i++)
			for (s = 0; s < 2; s++)
				for (unsigned w = 0; w < window &&
				    pairs[i].p_side[s].sd_open; w++)
					send_one(&pairs[i].p_side[s]);
}

static void
child_run(size_t pair0, size_t np, size_t idle0, size_t ni)
{
	struct timeval	 tv = { 0, 1000 };
	uint64_t	 t0;
	size_t		 i;

	(void)idle0;
	if ((base = event_base_new()) == NULL)
		errx(1, "event_base_new");
	run_id = ((uint64_t)time(NULL) << 20) ^ ((uint64_t)getpid() << 4) ^
	    mono_us();
	if (target.tls && (tls = wsc_tls_ctx()) == NULL)
		errx(1, "TLS context");
	my_pairs = np;
	my_idle = ni;
	pairs = calloc(np + 1, sizeof(*pairs));
	idles = calloc(ni + 1, sizeof(*idles));
	if (pairs == NULL || idles == NULL)
		err(1, "calloc");
	for (i = 0; i < np; i++) {
		pairs[i].p_room = &fx.rooms[(pair0 + i) % fx.nrooms];
		pairs[i].p_side[0].sd_pair = pairs[i].p_side[1].sd_pair =
		    &pairs[i];
		pairs[i].p_side[1].sd_who = 1;
	}
	total_connects = 2 * np + ni;
	tick_ev = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	go_ev = event_new(base, go_fd, EV_READ, go_cb, NULL);
	event_add(tick_ev, &tv);
	event_add(go_ev, NULL);
	t0 = mono_us();
	connect_more();
	ready_check();
	/* Until connected, run the loop; the go byte starts traffic. */
	while (phase < 1)
		event_base_loop(base, EVLOOP_ONCE);
	res.connect_secs = (mono_us() - t0) / 1e6;
	event_base_dispatch(base);
	if (write(report_fd, &res, sizeof(res)) != (ssize_t)sizeof(res))
		err(1, "report");
	_exit(0);
}

static void
usage(void)
{
	fprintf(stderr, "usage: chat-bench -f fixture.json [-p pairs] "
	    "[-r rate] [-w window] [-d seconds] [-W warmup] [-i idle] "
	    "[-j procs] [-s source_addrs] [-R] [-J]\n");
	exit(2);
}

static void
print_result(const struct result *r, double secs)
{
	double	mps = r->delivered_measured / secs;

	if (json_out) {
		printf("{\"pairs\":%zu,\"idle\":%zu,\"rate_target\":%.0f,"
		    "\"sent\":%" PRIu64 ",\"delivered\":%" PRIu64
		    ",\"undelivered\":%" PRId64 ",\"errors\":%" PRIu64
		    ",\"other_errors\":%" PRIu64
		    ",\"delivered_per_s\":%.1f,\"p50_us\":%" PRIu64
		    ",\"p90_us\":%" PRIu64 ",\"p99_us\":%" PRIu64
		    ",\"p999_us\":%" PRIu64 ",\"max_us\":%" PRIu64
		    ",\"conn_ok\":%" PRIu64 ",\"conn_fail\":%" PRIu64
		    ",\"dropped\":%" PRIu64 ",\"connect_per_s\":%.1f"
		    ",\"receipts\":%" PRIu64 "}\n",
		    npairs, nidle, rate, r->sent, r->delivered,
		    (int64_t)(r->sent - r->errors - r->delivered), r->errors,
		    r->other_errors, mps, hist_quantile(&r->lat, .5), hist_quantile(&r->lat, .9),
		    hist_quantile(&r->lat, .99), hist_quantile(&r->lat, .999),
		    r->lat.h_max, r->conn_ok, r->conn_fail, r->dropped,
		    r->connect_secs > 0 ? r->conn_ok / r->connect_secs : 0,
		    r->receipts);
		return;
	}
	printf("connections: %" PRIu64 " open, %" PRIu64 " failed, %.1f/s; "
	    "%" PRIu64 " dropped during the run\n", r->conn_ok, r->conn_fail,
	    r->connect_secs > 0 ? r->conn_ok / r->connect_secs : 0,
	    r->dropped);
	printf("messages: %" PRIu64 " sent, %" PRIu64 " delivered, %" PRId64
	    " never delivered, %" PRIu64 " failed; %" PRIu64 " other errors\n",
	    r->sent, r->delivered, (int64_t)(r->sent - r->errors -
	    r->delivered), r->errors, r->other_errors);
	printf("delivered: %.0f messages/s over %.1f s\n", mps, secs);
	printf("latency us: p50 %" PRIu64 "  p90 %" PRIu64 "  p99 %" PRIu64
	    "  p99.9 %" PRIu64 "  max %" PRIu64 "\n",
	    hist_quantile(&r->lat, .5), hist_quantile(&r->lat, .9),
	    hist_quantile(&r->lat, .99), hist_quantile(&r->lat, .999),
	    r->lat.h_max);
}

int
main(int argc, char *argv[])
{
	char		 path[512], errbuf[512];
	int		 ch, i, go[64][2], rep[64][2], status;
	pid_t		 pids[64];
	size_t		 per, extra, p0 = 0, i0 = 0, total;
	struct result	 sum, r;
	struct rlimit	 rl;
	char		 b;

	log_init("chat-bench", 0);
	while ((ch = getopt(argc, argv, "d:f:i:j:Jp:r:Rs:w:W:")) != -1) {
		switch (ch) {
		case 'd': duration = atof(optarg); break;
		case 'f': fixture_path = optarg; break;
		case 'i': nidle = strtoul(optarg, NULL, 10); break;
		case 'j': nprocs = atoi(optarg); break;
		case 'J': json_out = 1; break;
		case 'p': npairs = strtoul(optarg, NULL, 10); break;
		case 'r': rate = atof(optarg); break;
		case 'R': receipts = 1; break;
		case 's': nsrc = atoi(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 'W': warmup = atof(optarg); break;
		default: usage();
		}
	}
	if (fixture_path == NULL || duration <= warmup || window < 1)
		usage();
	if (fixture_load(&fx, fixture_path, errbuf, sizeof(errbuf)) == -1)
		errx(1, "%s", errbuf);
	if (wsc_parse_url(fx.ws_base, &target, path, sizeof(path)) == -1)
		errx(1, "bad ws_base %s", fx.ws_base);
	if (npairs > fx.nrooms)
		npairs = fx.nrooms;
	total = 2 * npairs + nidle;
	if ((size_t)nprocs * FDS_PER_PROC < total)
		nprocs = (int)((total + FDS_PER_PROC - 1) / FDS_PER_PROC);
	if (nprocs > 64)
		errx(1, "too many connections");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < nprocs; i++) {
		size_t	np, ni;

		per = npairs / nprocs;
		extra = (size_t)i < npairs % nprocs;
		np = per + extra;
		ni = nidle / nprocs + ((size_t)i < nidle % nprocs);
		if (pipe(go[i]) == -1 || pipe(rep[i]) == -1)
			err(1, "pipe");
		if ((pids[i] = fork()) == -1)
			err(1, "fork");
		if (pids[i] == 0) {
			go_fd = go[i][0];
			report_fd = rep[i][1];
			child_run(p0, np, i0, ni);
		}
		close(go[i][0]);
		close(rep[i][1]);
		p0 += np;
		i0 += ni;
	}
	/* Everyone connected: start together. */
	for (i = 0; i < nprocs; i++)
		if (read(rep[i][0], &b, 1) != 1)
			errx(1, "a load process died while connecting");
	/* Scripts that measure the server's memory wait for this line. */
	fprintf(stderr, "chat-bench: all connections open\n");
	for (i = 0; i < nprocs; i++)
		if (write(go[i][1], "g", 1) != 1)
			err(1, "write");
	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < nprocs; i++) {
		size_t	got = 0;
		ssize_t	n;

		while (got < sizeof(r) && (n = read(rep[i][0],
		    (char *)&r + got, sizeof(r) - got)) > 0)
			got += n;
		if (got != sizeof(r))
			errx(1, "a load process died");
		sum.sent += r.sent;
		sum.acked += r.acked;
		sum.delivered += r.delivered;
		sum.errors += r.errors;
		sum.other_errors += r.other_errors;
		sum.sent_measured += r.sent_measured;
		sum.delivered_measured += r.delivered_measured;
		sum.conn_ok += r.conn_ok;
		sum.conn_fail += r.conn_fail;
		sum.dropped += r.dropped;
		sum.receipts += r.receipts;
		if (r.connect_secs > sum.connect_secs)
			sum.connect_secs = r.connect_secs;
		hist_merge(&sum.lat, &r.lat);
		waitpid(pids[i], &status, 0);
	}
	print_result(&sum, duration - warmup);
	return sum.conn_fail == 0 && sum.sent == sum.delivered + sum.errors ?
	    0 : 1;
}
