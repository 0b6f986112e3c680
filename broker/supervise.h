/*
 * supervise.h - the worker processes: fork and exec chatd-worker over a
 * socketpair, hand it the listen sockets, respawn it when it dies.
 * Worker indexes are stable: a respawned worker takes the index (and the
 * share of the work) of the one it replaces.  A reload starts a new set
 * of workers in free slots and retires the old ones: they stop accepting
 * and exit once their last connection has closed.
 */
#ifndef CHATD_SUPERVISE_H
#define CHATD_SUPERVISE_H

#include <stdint.h>
#include <sys/types.h>

struct chan;

struct worker {
	int		 w_index;
	int		 w_pos;		/* place in the current set: its sockets */
	pid_t		 w_pid;		/* -1 = not running */
	struct chan	*w_chan;	/* NULL until forked, or after loss */
	int		 w_ready;	/* said MSG_HELLO */
	int		 w_used;	/* slot holds a worker, running or due */
	int		 w_retiring;	/* replaced by a reload: no respawn */
	unsigned	 w_restarts;
	int64_t		 w_started_ms;
};

/*
 * A listen socket.  Each listen address has one socket per worker
 * (SO_REUSEPORT: the kernel spreads connections over them by address and
 * port), so a worker that is busy or full does not take another's share;
 * the admin address has one socket that every worker shares.
 */
struct lsock {
	int	ls_fd;
	char	ls_kind;	/* chatd-worker -k letter (worker/listen.h) */
	int	ls_k;		/* the ls_k-th of its address's ls_n sockets */
	int	ls_n;		/* 1: shared by every worker */
};

void		 supervise_init(const struct lsock *socks, int nsocks,
		    int nworkers, const char *worker_path);
void		 supervise_start(void);
void		 supervise_stop(void);
/*
 * Start count new workers (exec'ing path) and retire the running ones.
 * -1 if there are not enough free slots (too many old workers still
 * draining); nothing changes then.
 */
int		 supervise_reload(int count, const char *path);
/* Send sig to every worker, current and retiring. */
void		 supervise_signal(int sig);
struct worker	*supervise_worker(int index);	/* NULL if no such worker */
int		 supervise_nworkers(void);
/* The channel to a worker, or NULL if it is not running. */
struct chan	*supervise_chan(int index);

#endif
