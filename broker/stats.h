/*
 * stats.h - the broker's counters, for chatctl status and /metrics.
 * Plain counters that only ever grow (rates are the reader's business),
 * plus a few gauges read from the modules that own them.
 */
#ifndef CHATD_STATS_H
#define CHATD_STATS_H

#include <stdint.h>

enum refusal {
	REFUSED_AUTH = 0,	/* 4001 */
	REFUSED_FORBIDDEN,	/* 4003 */
	REFUSED_NO_ROOM,	/* 4004 */
	REFUSED_UNAVAILABLE,	/* 1013 */
	/* HTTP limits, counted by workers (MSG_WORKER_REFUSED) */
	REFUSED_BUSY,		/* 503: max_connections */
	REFUSED_PER_IP,		/* 429: max_connections_per_ip */
	REFUSED_HEADER_TIMEOUT,	/* closed: header_timeout */
	REFUSED_BODY_SIZE,	/* 413: max_body_size */
	REFUSED_MAX
};

struct bstats {
	uint64_t	msgs_received;		/* accepted from clients */
	uint64_t	msgs_stored;		/* committed */
	uint64_t	msgs_failed;		/* answered "failed" */
	uint64_t	msgs_duplicate;		/* client retries not stored again */
	uint64_t	deliver_frames;		/* MSG_DELIVER sent to workers */
	uint64_t	batches;		/* group commits */
	uint64_t	batch_rows_max;		/* largest batch seen */
	uint64_t	commit_us_total;	/* sum of batch commit latencies */
	uint64_t	status_changes;		/* delivered/read changes stored */
	uint64_t	status_rows;		/* messages rows those updated */
	uint64_t	status_batches;		/* UPDATEs that wrote them */
	uint64_t	status_lookups;		/* older messages asked of MariaDB */
	uint64_t	status_lookup_queries;	/* SELECTs that asked */
	uint64_t	conns_opened;
	uint64_t	refused[REFUSED_MAX];
	uint64_t	worker_restarts;
	uint64_t	roomlist_reads;		/* users' room lists read from MariaDB */
	uint64_t	recent_evicted;		/* rooms' message state dropped */
};

extern struct bstats	stats;

int64_t	now_us(void);

#endif
