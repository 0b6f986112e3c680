/*
 * broker.c - chatd: main(), start-up, signals and event-loop wiring.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>
#include <mysql.h>

#include "broker.h"
#include "config.h"
#include "control.h"
#include "daemon.h"
#include "db.h"
#include "log.h"
#include "order.h"
#include "profile.h"
#include "query.h"
#include "roomlist.h"
#include "schema.h"
#include "status.h"
#include "supervise.h"

#ifndef LIBEXECDIR
#define LIBEXECDIR	"/usr/local/libexec"
#endif
#ifndef SYSCONFDIR
#define SYSCONFDIR	"/usr/local/etc"
#endif

#define LISTEN_BACKLOG	4096
#define DRAIN_MAX_MS	10000	/* SIGTERM: longest wait for the write batch */

static struct broker	 the_broker;
struct broker		*broker = &the_broker;
static struct lsock	 lsocks[CONFIG_MAX_LISTEN_FDS];
static int		 nlsocks;
static struct event	*drain_timer;
static int64_t		 drain_deadline;

int64_t
now_ms(void)
{
	struct timeval	tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: chatd [-dfit] [-c config]\n");
	exit(1);
}

/* A TCP socket bound to sa, with SO_REUSEPORT if asked; -1 and errno. */
static int
socket_bound(const struct sockaddr *sa, socklen_t len, int reuseport)
{
	int	fd, one = 1, e;

	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (sa->sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
	    (!reuseport || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)) == 0) &&
	    bind(fd, sa, len) == 0)
		return fd;
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/*
 * Whether sa is free, for a group of SO_REUSEPORT sockets: those would
 * join another listener's group (a second chatd started by mistake)
 * instead of failing as a single socket does.
 */
static int
address_free(const struct sockaddr *sa, socklen_t len)
{
	int	fd;

	if ((fd = socket_bound(sa, len, 0)) == -1)
		return 0;
	close(fd);
	return 1;
}

/* group: 0 a single socket, 1 the first of a SO_REUSEPORT group. */
static int
listen_on(const struct listen_addr *la, int group)
{
	struct addrinfo	 hints, *res, *ai;
	int		 fd = -1, e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((e = getaddrinfo(la->la_host[0] ? la->la_host : NULL, la->la_port,
	    &hints, &res)) != 0)
		fatalx("listen %s: %s", la->la_text, gai_strerror(e));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (group == 1 && !address_free(ai->ai_addr, ai->ai_addrlen))
			continue;
		if ((fd = socket_bound(ai->ai_addr, ai->ai_addrlen,
		    group != 0)) == -1)
			continue;
		if (listen(fd, LISTEN_BACKLOG) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
		errno = e;
	}
	freeaddrinfo(res);
	if (fd == -1)
		fatal("listen %s", la->la_text);
	return fd;
}

/* Another socket of first's SO_REUSEPORT group, on exactly its address
 * (a host name may have several). */
static int
listen_again(int first, const struct listen_addr *la)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);
	int			fd;

	if (getsockname(first, (struct sockaddr *)&ss, &len) == -1 ||
	    (fd = socket_bound((struct sockaddr *)&ss, len, 1)) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1)
		fatal("listen %s", la->la_text);
	return fd;
}

/* n sockets for each chat address, one for the admin address. */
static void
listen_all(int n)
{
	const struct config	*c = &broker->b_conf;
	struct lsock		*ls;
	int			 i, k;

	for (i = 0; i < c->nlisten; i++)
		for (k = 0; k < n; k++) {
			ls = &lsocks[nlsocks++];
			ls->ls_fd = k == 0 ? listen_on(&c->listen[i], n > 1) :
			    listen_again(lsocks[nlsocks - 1 - k].ls_fd,
			    &c->listen[i]);
			ls->ls_kind = c->listen[i].la_tls ? 't' : 'p';
			ls->ls_k = k;
			ls->ls_n = n;
		}
	if (c->admin_listen.la_port[0] != '\0') {
		ls = &lsocks[nlsocks++];
		ls->ls_fd = listen_on(&c->admin_listen, 0);
		ls->ls_kind = 'a';
		ls->ls_k = 0;
		ls->ls_n = 1;
	}
}

/* chatd-worker next to this chatd (a build tree), else the installed one. */
static void
find_worker(char *out, size_t outsz)
{
	char	self[PATH_MAX], *slash;
	ssize_t	n;

	if (broker->b_conf.worker_path[0] != '\0') {
		snprintf(out, outsz, "%s", broker->b_conf.worker_path);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			snprintf(slash + 1, sizeof(self) - (slash + 1 - self),
			    "chatd-worker");
			if (access(self, X_OK) == 0) {
				snprintf(out, outsz, "%s", self);
				return;
			}
		}
	}
	snprintf(out, outsz, "%s/chatd-worker", LIBEXECDIR);
}

static void
write_pid_file(int required)
{
	FILE	*f;

	if ((f = fopen(broker->b_conf.pid_file, "w")) == NULL) {
		if (required)
			fatal("pid file %s", broker->b_conf.pid_file);
		log_debug("no pid file %s: %s", broker->b_conf.pid_file,
		    strerror(errno));
		return;
	}
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
}

/* Start-up checks that may block: the loop is not running yet. */
static void
check_database(int install, uint64_t *max_id, uint64_t *max_packet)
{
	MYSQL		*m;
	char		 err[512];

	if ((m = db_connect_blocking(&broker->b_conf, err, sizeof(err)))
	    == NULL)
		fatalx("%s", err);
	if (install) {
		if (schema_install(m, err, sizeof(err)) == -1)
			fatalx("schema install failed: %s", err);
		log_info("schema is at version %d", schema_wanted());
		mysql_close(m);
		exit(0);
	}
	if (schema_check(m, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (schema_write_state(m, max_id, max_packet, err, sizeof(err)) == -1)
		fatalx("%s", err);
	mysql_close(m);
}

static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	tv = { 0, 20000 };

	(void)fd;
	(void)what;
	(void)arg;
	if (order_pending() == 0 && status_pending() == 0) {
		event_base_loopexit(broker->b_base, NULL);
		return;
	}
	if (now_ms() >= drain_deadline) {
		log_warnx("exiting with %zu messages not stored",
		    order_pending());
		event_base_loopexit(broker->b_base, NULL);
		return;
	}
	evtimer_add(drain_timer, &tv);
}

static void
sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	int	i;

	(void)what;
	(void)arg;
	if (drain_timer != NULL)
		return;
	log_info("signal %d: shutting down", (int)sig);
	for (i = 0; i < nlsocks; i++)
		close(lsocks[i].ls_fd);
	/* Workers close their clients with 1001 and exit; whatever they
	 * sent before is in our input and still gets stored. */
	supervise_stop();
	drain_deadline = now_ms() + DRAIN_MAX_MS;
	if ((drain_timer = evtimer_new(broker->b_base, drain_cb, NULL)) == NULL)
		fatalx("evtimer_new failed");
	drain_cb(-1, 0, NULL);
}

int
main(int argc, char *argv[])
{
	const char	*conf_path = SYSCONFDIR "/chatd.conf";
	char		 err[1024], worker_path[PATH_MAX];
	int		 ch, debug = 0, foreground = 0, test = 0, install = 0;
	int		 i, nworkers;
	uint64_t	 max_id, max_packet;
	struct event	*ev_term, *ev_int;

	while ((ch = getopt(argc, argv, "c:dfit")) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'i':
			install = 1;
			break;
		case 't':
			test = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("chatd", debug);
	config_defaults(&broker->b_conf);
	broker->b_conf_path = conf_path;
	if (config_load(&broker->b_conf, conf_path, err, sizeof(err)) == -1 ||
	    daemon_check_tls(&broker->b_conf, err, sizeof(err)) == -1 ||
	    daemon_check_user(&broker->b_conf, err, sizeof(err)) == -1) {
		if (test) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		fatalx("%s", err);
	}
	if (test) {
		fprintf(stderr, "configuration OK\n");
		return 0;
	}
	check_database(install, &max_id, &max_packet);
	nworkers = daemon_nworkers(&broker->b_conf);
	listen_all(nworkers);
	/* -f: stderr, whatever the file says. */
	if (!foreground && broker->b_conf.log_file[0] != '\0' &&
	    log_to_file(broker->b_conf.log_file) == -1)
		fatal("log file %s", broker->b_conf.log_file);
	if (!foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		if (broker->b_conf.log_file[0] == '\0')
			log_to_syslog(broker->b_conf.syslog_facility);
	}
	write_pid_file(!foreground);
	control_bind();
	daemon_raise_nofile(&broker->b_conf);
	daemon_drop_privileges(&broker->b_conf);
	signal(SIGPIPE, SIG_IGN);
	mysql_library_init(0, NULL, NULL);
	broker->b_started_ms = now_ms();
	if ((broker->b_base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	broker->b_dbw = db_new(broker->b_base, &broker->b_conf, "writer", 1);
	broker->b_dbs = db_new(broker->b_base, &broker->b_conf, "status writer",
	    1);
	broker->b_dbr = db_new(broker->b_base, &broker->b_conf, "reader", 1);
	if (broker->b_dbw == NULL || broker->b_dbs == NULL ||
	    broker->b_dbr == NULL)
		fatalx("cannot set up database connections");
	order_init(max_id, max_packet);
	if (roomlist_init() == -1)
		fatalx("cannot set up the room lists");
	control_init();
	find_worker(worker_path, sizeof(worker_path));
	supervise_init(lsocks, nlsocks, nworkers, worker_path);
	daemon_signals_init(worker_path);
	ev_term = evsignal_new(broker->b_base, SIGTERM, sigterm_cb, NULL);
	ev_int = evsignal_new(broker->b_base, SIGINT, sigterm_cb, NULL);
	if (ev_term == NULL || ev_int == NULL ||
	    evsignal_add(ev_term, NULL) == -1 || evsignal_add(ev_int, NULL) == -1)
		fatalx("cannot watch signals");
	supervise_start();
	for (i = 0; i < broker->b_conf.nlisten; i++)
		log_info("listening on %s%s with %d workers",
		    broker->b_conf.listen[i].la_text,
		    broker->b_conf.listen[i].la_tls ? " (TLS)" : "", nworkers);
	if (broker->b_conf.admin_listen.la_port[0] != '\0')
		log_info("metrics on http://%s:%s/metrics",
		    broker->b_conf.admin_listen.la_host,
		    broker->b_conf.admin_listen.la_port);
	event_base_dispatch(broker->b_base);
	control_close();
	db_free(broker->b_dbw);
	db_free(broker->b_dbs);
	db_free(broker->b_dbr);
	query_shutdown();
	profile_shutdown();
	roomlist_shutdown();
	unlink(broker->b_conf.pid_file);
	log_info("stopped");
	return 0;
}
