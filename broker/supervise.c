/*
 * supervise.c - fork, exec and respawn the chatd-worker processes.
 *
 * A worker gets its broker channel as fd 3 and the listen sockets as
 * fds 4, 5, ...; it execs a separate binary so that nothing of the
 * broker's memory (the database password) is in its address space.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "broker.h"
#include "chan.h"
#include "conn.h"
#include "link.h"
#include "log.h"
#include "stats.h"
#include "supervise.h"

#define WORKER_CHAN_FD		3
#define WORKER_LISTEN_FD	4
#define RESPAWN_FAST_MS		1000	/* died sooner than this: wait before respawn */

static struct worker	 workers[MAX_WORKERS];
static int		 nworkers;	/* wanted in the current set */
static const struct lsock *lsocks;
static int		 nlsocks;
static char		 worker_path[1024];
static struct event	*sigchld_ev;
static int		 stopping;

static void	worker_spawn(struct worker *);

int
supervise_nworkers(void)
{
	return nworkers;
}

struct worker *
supervise_worker(int index)
{
	if (index < 0 || index >= MAX_WORKERS || !workers[index].w_used)
		return NULL;
	return &workers[index];
}

struct chan *
supervise_chan(int index)
{
	struct worker	*w = supervise_worker(index);

	return w == NULL ? NULL : w->w_chan;
}

/*
 * Whether the worker at pos of n accepts on ls.  Every socket always has
 * a worker: with fewer workers than sockets (after a reload) some take
 * several, with more some share one.
 */
static int
worker_takes(const struct lsock *ls, int pos, int n)
{
	if (ls->ls_n <= 1)
		return 1;
	if (n <= ls->ls_n)
		return ls->ls_k % n == pos;
	return ls->ls_k == pos % ls->ls_n;
}

static _Noreturn void
exec_failed(const char *what)
{
	fprintf(stderr, "chatd: starting a worker: %s: %s\n", what,
	    strerror(errno));
	_exit(127);
}

/* In the child: put the channel and this worker's listen sockets where
 * the worker expects them, then exec. */
static _Noreturn void
worker_exec(struct worker *w, int chan_fd)
{
	static char	kinds[CONFIG_MAX_LISTEN_FDS + 1];
	static int	mine[CONFIG_MAX_LISTEN_FDS], high[CONFIG_MAX_LISTEN_FDS];
	char		index[16], count[16], facility[16], *argv[16];
	const char	*logfile;
	int		hchan, i, argc = 0, fd, nmine = 0, top;

	for (i = 0; i < nlsocks && nmine < CONFIG_MAX_LISTEN_FDS; i++)
		if (worker_takes(&lsocks[i], w->w_pos, nworkers)) {
			kinds[nmine] = lsocks[i].ls_kind;
			mine[nmine++] = lsocks[i].ls_fd;
		}
	kinds[nmine] = '\0';
	/* Copy everything just above the target range first, so that no
	 * dup2 below clobbers a descriptor still to be moved (and a low
	 * open-file limit still has room). */
	if ((hchan = top = fcntl(chan_fd, F_DUPFD, WORKER_LISTEN_FD +
	    nmine)) == -1)
		exec_failed("channel");
	for (i = 0; i < nmine; i++) {
		if ((high[i] = fcntl(mine[i], F_DUPFD, WORKER_LISTEN_FD +
		    nmine)) == -1)
			exec_failed("listen socket");
		if (high[i] > top)
			top = high[i];
	}
	if (dup2(hchan, WORKER_CHAN_FD) == -1)
		exec_failed("channel");
	for (i = 0; i < nmine; i++)
		if (dup2(high[i], WORKER_LISTEN_FD + i) == -1)
			exec_failed("listen socket");
	/* Close everything else: the MariaDB sockets, the control socket,
	 * the other workers' listen sockets, the copies above. */
	for (fd = WORKER_LISTEN_FD + nmine; fd < 1024 || fd <= top; fd++)
		close(fd);
	snprintf(index, sizeof(index), "%d", w->w_index);
	snprintf(count, sizeof(count), "%d", nmine);
	argv[argc++] = "chatd-worker";
	argv[argc++] = "-w";
	argv[argc++] = index;
	argv[argc++] = "-l";
	argv[argc++] = count;
	if (log_debugging())
		argv[argc++] = "-d";
	argv[argc++] = "-k";
	argv[argc++] = kinds;
	if (log_syslog_facility() != -1) {
		snprintf(facility, sizeof(facility), "%d",
		    log_syslog_facility());
		argv[argc++] = "-s";
		argv[argc++] = facility;
	}
	if ((logfile = log_file_path()) != NULL) {
		argv[argc++] = "-o";
		argv[argc++] = (char *)logfile;
	}
	argv[argc] = NULL;
	execv(worker_path, argv);
	fprintf(stderr, "chatd: exec %s: %s\n", worker_path, strerror(errno));
	_exit(127);
}

static void
worker_chan_closed_cb(struct chan *ch, void *arg)
{
	struct worker	*w = arg;

	(void)ch;
	if (w->w_chan == NULL)
		return;
	chan_free(w->w_chan);
	w->w_chan = NULL;
	w->w_ready = 0;
	conn_drop_worker(w->w_index);
	/* A worker whose channel broke is of no use: make sure it dies, so
	 * SIGCHLD respawns it. */
	if (w->w_pid > 0)
		kill(w->w_pid, SIGTERM);
}

static void
respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;

	(void)fd;
	(void)what;
	/* A reload may have retired or reused the slot meanwhile. */
	if (!stopping && w->w_used && !w->w_retiring && w->w_pid == -1)
		worker_spawn(w);
}

static void
worker_spawn(struct worker *w)
{
	int	sv[2];
	pid_t	pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("%s: socketpair", __func__);
	switch ((pid = fork())) {
	case -1:
		fatal("%s: fork", __func__);
	case 0:
		close(sv[0]);
		worker_exec(w, sv[1]);
	}
	close(sv[1]);
	w->w_pid = pid;
	w->w_started_ms = now_ms();
	w->w_ready = 0;
	if ((w->w_chan = chan_new(broker->b_base, sv[0], link_recv,
	    worker_chan_closed_cb, w)) == NULL)
		fatalx("%s: cannot set up the worker channel", __func__);
	link_send_config(w);
	log_debug("worker %d started, pid %d", w->w_index, (int)pid);
}

static struct worker *
worker_by_pid(pid_t pid)
{
	int	i;

	for (i = 0; i < MAX_WORKERS; i++)
		if (workers[i].w_used && workers[i].w_pid == pid)
			return &workers[i];
	return NULL;
}

static void
sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker	*w;
	struct timeval	 tv = { 1, 0 };
	pid_t		 pid;
	int		 status;

	(void)sig;
	(void)what;
	(void)arg;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((w = worker_by_pid(pid)) == NULL)
			continue;
		if (WIFSIGNALED(status) && !w->w_retiring)
			log_warnx("lost worker %d (pid %d): signal %d",
			    w->w_index, (int)pid, WTERMSIG(status));
		else if (!stopping && !w->w_retiring)
			log_warnx("lost worker %d (pid %d): exit %d",
			    w->w_index, (int)pid, WEXITSTATUS(status));
		w->w_pid = -1;
		worker_chan_closed_cb(NULL, w);
		if (w->w_retiring) {
			log_info("retired worker %d (pid %d) has finished",
			    w->w_index, (int)pid);
			w->w_used = w->w_retiring = 0;
			continue;
		}
		if (stopping)
			continue;
		w->w_restarts++;
		stats.worker_restarts++;
		/* A worker that dies at once would spin: wait a second. */
		if (now_ms() - w->w_started_ms < RESPAWN_FAST_MS)
			event_base_once(broker->b_base, -1, EV_TIMEOUT,
			    respawn_cb, w, &tv);
		else
			worker_spawn(w);
	}
}

void
supervise_init(const struct lsock *socks, int n, int count, const char *path)
{
	int	i;

	lsocks = socks;
	nlsocks = n;
	nworkers = count;
	if (nworkers > MAX_WORKERS)
		nworkers = MAX_WORKERS;
	snprintf(worker_path, sizeof(worker_path), "%s", path);
	for (i = 0; i < MAX_WORKERS; i++) {
		workers[i].w_index = i;
		workers[i].w_pid = -1;
	}
	sigchld_ev = evsignal_new(broker->b_base, SIGCHLD, sigchld_cb, NULL);
	if (sigchld_ev == NULL || evsignal_add(sigchld_ev, NULL) == -1)
		fatalx("%s: cannot watch SIGCHLD", __func__);
}

void
supervise_start(void)
{
	int	i;

	for (i = 0; i < nworkers; i++) {
		workers[i].w_used = 1;
		workers[i].w_pos = i;
		worker_spawn(&workers[i]);
	}
}

int
supervise_reload(int count, const char *path)
{
	int	i, n, nfree = 0;

	if (count > MAX_WORKERS / 2)
		count = MAX_WORKERS / 2;
	for (i = 0; i < MAX_WORKERS; i++)
		if (!workers[i].w_used)
			nfree++;
	if (nfree < count)
		return -1;
	/* Old first: SIGUSR2 makes them stop accepting; their sessions
	 * stay with them until the clients leave. */
	for (i = 0; i < MAX_WORKERS; i++) {
		if (!workers[i].w_used || workers[i].w_retiring)
			continue;
		if (workers[i].w_pid > 0) {
			workers[i].w_retiring = 1;
			kill(workers[i].w_pid, SIGUSR2);
		} else
			workers[i].w_used = 0;	/* was waiting to respawn */
	}
	snprintf(worker_path, sizeof(worker_path), "%s", path);
	nworkers = count;
	for (i = 0, n = 0; i < MAX_WORKERS && n < count; i++) {
		if (workers[i].w_used)
			continue;
		workers[i].w_used = 1;
		workers[i].w_restarts = 0;
		workers[i].w_pos = n++;
		worker_spawn(&workers[i]);
	}
	return 0;
}

void
supervise_signal(int sig)
{
	int	i;

	for (i = 0; i < MAX_WORKERS; i++)
		if (workers[i].w_used && workers[i].w_pid > 0)
			kill(workers[i].w_pid, sig);
}

void
supervise_stop(void)
{
	int	i, status, left;
	int64_t	deadline;

	stopping = 1;
	for (i = 0; i < MAX_WORKERS; i++)
		if (workers[i].w_pid > 0)
			kill(workers[i].w_pid, SIGTERM);
	/* Give workers a moment to close their clients cleanly. */
	deadline = now_ms() + 5000;
	do {
		left = 0;
		for (i = 0; i < MAX_WORKERS; i++) {
			if (workers[i].w_pid <= 0)
				continue;
			if (waitpid(workers[i].w_pid, &status, WNOHANG) ==
			    workers[i].w_pid)
				workers[i].w_pid = -1;
			else
				left++;
		}
		if (left)
			usleep(20000);
	} while (left && now_ms() < deadline);
	for (i = 0; i < MAX_WORKERS; i++)
		if (workers[i].w_pid > 0) {
			kill(workers[i].w_pid, SIGKILL);
			waitpid(workers[i].w_pid, &status, 0);
		}
}
