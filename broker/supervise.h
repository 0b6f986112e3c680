/*
 * supervise.h - the worker processes: fork and exec chatd-worker over a
 * socketpair, hand it the listen sockets, respawn it when it dies.
 * Worker indexes are stable: a respawned worker takes the index (and the
 * share of the work) of the one it replaces.
 */
#ifndef CHATD_SUPERVISE_H
#define CHATD_SUPERVISE_H

#include <stdint.h>
#include <sys/types.h>

struct chan;

struct worker {
	int		 w_index;
	pid_t		 w_pid;		/* -1 = not running */
	struct chan	*w_chan;	/* NULL until forked, or after loss */
	int		 w_ready;	/* said MSG_HELLO */
	unsigned	 w_restarts;
	int64_t		 w_started_ms;
};

void		 supervise_init(const int *listen_fds, int nlisten, int nworkers,
		    const char *worker_path);
/* One letter per listen socket for chatd-worker -k (see worker/listen.h). */
void		 supervise_set_kinds(const char *kinds);
void		 supervise_start(void);
void		 supervise_stop(void);
struct worker	*supervise_worker(int index);	/* NULL if out of range */
int		 supervise_nworkers(void);
/* The channel to a worker, or NULL if it is not running. */
struct chan	*supervise_chan(int index);

#endif
