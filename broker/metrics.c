/*
 * metrics.c - render the broker's counters (stats.h) and gauges in the
 * Prometheus text exposition format, version 0.0.4.
 */
#include <stdarg.h>
#include <stdio.h>

#include "broker.h"
#include "conn.h"
#include "metrics.h"
#include "order.h"
#include "profile.h"
#include "recent.h"
#include "roomlist.h"
#include "stats.h"
#include "supervise.h"

static const char *const refusal_names[REFUSED_MAX] = {
	[REFUSED_AUTH] = "auth",
	[REFUSED_FORBIDDEN] = "forbidden",
	[REFUSED_NO_ROOM] = "no_room",
	[REFUSED_UNAVAILABLE] = "unavailable",
	[REFUSED_BUSY] = "max_connections",
	[REFUSED_PER_IP] = "max_connections_per_ip",
	[REFUSED_HEADER_TIMEOUT] = "header_timeout",
	[REFUSED_BODY_SIZE] = "body_too_large",
};

static void
add(struct buf *b, const char *fmt, ...)
{
	char	line[512];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_add(b, line, (size_t)n < sizeof(line) ? (size_t)n :
		    sizeof(line) - 1);
}

struct metric {
	const char		*name;
	const char		*type;
	const char		*help;
	unsigned long long	 value;
};

void
metrics_render(struct buf *b)
{
	int	i, nw = 0;

	for (i = 0; i < MAX_WORKERS; i++)
		if (supervise_chan(i) != NULL)
			nw++;
	const struct metric	rows[] = {
		{ "chatd_websocket_connections", "gauge",
		    "Open WebSocket chat connections.", conn_count() },
		{ "chatd_websocket_connections_opened_total", "counter",
		    "WebSocket connections admitted.", stats.conns_opened },
		{ "chatd_messages_received_total", "counter",
		    "Chat messages accepted from clients.", stats.msgs_received },
		{ "chatd_messages_stored_total", "counter",
		    "Chat messages committed to the database.",
		    stats.msgs_stored },
		{ "chatd_messages_failed_total", "counter",
		    "Chat messages answered as failed.", stats.msgs_failed },
		{ "chatd_messages_replayed_total", "counter",
		    "Client retries of stored messages, not stored again.",
		    stats.msgs_duplicate },
		{ "chatd_deliveries_total", "counter",
		    "Message deliveries sent to workers.", stats.deliver_frames },
		{ "chatd_messages_pending", "gauge",
		    "Messages waiting for the write batch.", order_pending() },
		{ "chatd_write_batches_total", "counter", "Group commits.",
		    stats.batches },
		{ "chatd_write_batch_rows_max", "gauge",
		    "Largest write batch so far, in messages.",
		    stats.batch_rows_max },
		{ "chatd_status_changes_total", "counter",
		    "Delivered and read changes stored.",
		    stats.status_changes },
		{ "chatd_status_rows_total", "counter",
		    "Messages written by status UPDATEs, once per message "
		    "per UPDATE.",
		    stats.status_rows },
		{ "chatd_status_batches_total", "counter",
		    "Status UPDATEs committed.", stats.status_batches },
		{ "chatd_status_lookups_total", "counter",
		    "Status requests for messages not in memory, looked up "
		    "in the database.", stats.status_lookups },
		{ "chatd_status_lookup_queries_total", "counter",
		    "SELECTs those lookups took.", stats.status_lookup_queries },
		{ "chatd_worker_restarts_total", "counter",
		    "Workers that died and were started again.",
		    stats.worker_restarts },
		{ "chatd_room_lists", "gauge",
		    "Users whose rooms are held in memory.", roomlist_count() },
		{ "chatd_room_list_reads_total", "counter",
		    "Users' room lists read from the database.",
		    stats.roomlist_reads },
		{ "chatd_message_cache_rooms", "gauge",
		    "Rooms whose newest messages and counts are held in "
		    "memory.", recent_rooms() },
		{ "chatd_message_cache_evictions_total", "counter",
		    "Rooms dropped from that cache as least recently used.",
		    stats.recent_evicted },
		{ "chatd_profile_cache_users", "gauge",
		    "Users whose avatars and names were read lately and are "
		    "held in memory.", profile_count() },
		{ "chatd_workers", "gauge", "Running worker processes.",
		    (unsigned long long)nw },
		{ "chatd_uptime_seconds", "gauge", "Seconds since start.",
		    (unsigned long long)(now_ms() - broker->b_started_ms) / 1000 },
	};
	size_t	j;

	for (j = 0; j < sizeof(rows) / sizeof(rows[0]); j++)
		add(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", rows[j].name,
		    rows[j].help, rows[j].name, rows[j].type, rows[j].name,
		    rows[j].value);
	/* Batch sizes: rows stored over batches gives the mean. */
	add(b, "# HELP chatd_commit_seconds Write batch commit latency.\n"
	    "# TYPE chatd_commit_seconds summary\n"
	    "chatd_commit_seconds_sum %.6f\nchatd_commit_seconds_count %llu\n",
	    (double)stats.commit_us_total / 1e6,
	    (unsigned long long)stats.batches);
	add(b, "# HELP chatd_refused_total Connections and requests refused, "
	    "by reason.\n# TYPE chatd_refused_total counter\n");
	for (i = 0; i < REFUSED_MAX; i++)
		add(b, "chatd_refused_total{reason=\"%s\"} %llu\n",
		    refusal_names[i], (unsigned long long)stats.refused[i]);
}
