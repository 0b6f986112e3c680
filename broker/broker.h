/*
 * broker.h - what every broker module shares: the event base, the running
 * configuration and the two database connections.
 */
#ifndef CHATD_BROKER_H
#define CHATD_BROKER_H

#include <stdint.h>

#include "config.h"

struct event_base;
struct db;

/* Worker slots: the running set and, during a reload, the retiring one. */
#define MAX_WORKERS	(2 * CONFIG_MAX_WORKERS)

struct broker {
	struct event_base	*b_base;
	struct config		 b_conf;
	const char		*b_conf_path;
	struct db		*b_dbw;		/* message writes (group commit) */
	/* Status and last_seen writes: their commits overlap the
	 * messages' instead of queueing behind them. */
	struct db		*b_dbs;
	struct db		*b_dbr;		/* lookups and reads */
	int64_t			 b_started_ms;
};

extern struct broker	*broker;

int64_t	now_ms(void);
/* A clock that never steps, for intervals and expiries. */
int64_t	mono_ms(void);

#endif
