/*
 * worker.h - what every worker module shares.
 */
#ifndef CHATD_WORKER_H
#define CHATD_WORKER_H

#include <stdint.h>

#include "config.h"

struct event_base;
struct chan;

struct wctx {
	struct event_base	*w_base;
	struct config		 w_conf;	/* as pushed by the broker */
	struct chan		*w_broker;
	int			 w_index;
	int			 w_stopping;
};

extern struct wctx	*wctx;

int64_t	now_ms(void);

#endif
