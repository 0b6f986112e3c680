/*
 * ctlfmt.c - tables and JSON documents from the broker's rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlfmt.h"
#include "grow.h"
#include "json.h"

#define VALUE_MAX	4096
#define RING		12

static _Noreturn void
oom(void)
{
	fputs("chatctl: out of memory\n", stderr);
	exit(1);
}

void
rows_add(struct rows *r, const char *s, size_t n)
{
	if (grow(&r->text, &r->cap, r->n + 1, 16, sizeof(*r->text)) == -1)
		oom();
	if ((r->text[r->n] = strndup(s, n)) == NULL)
		oom();
	r->n++;
}

void
rows_clear(struct rows *r)
{
	size_t	i;

	for (i = 0; i < r->n; i++)
		free(r->text[i]);
	r->n = 0;
}

/* The text of doc's member idx, as a person reads it. */
static void
value_text(const struct jdoc *d, int idx, char *out, size_t outsz)
{
	const jsmntok_t	*t;
	int		 b;

	out[0] = '\0';
	switch (jdoc_type(d, idx)) {
	case JT_STRING:
		if (jdoc_str(d, idx, out, outsz, NULL) == -1)
			snprintf(out, outsz, "?");
		return;
	case JT_BOOL:
		if (jdoc_bool(d, idx, &b) == 0)
			snprintf(out, outsz, "%s", b ? "yes" : "no");
		return;
	case JT_NULL:
		snprintf(out, outsz, "-");
		return;
	case JT_NONE:
		return;
	default:
		t = &d->tok[idx];
		snprintf(out, outsz, "%.*s", t->end - t->start,
		    d->js + t->start);
	}
}

const char *
row_value(const struct rows *r, size_t i, const char *key)
{
	/* A few at a time: one printf may show several values. */
	static char	ring[RING][VALUE_MAX];
	static int	next;
	char		*out = ring[next++ % RING];
	struct jdoc	d;

	out[0] = '\0';
	if (i < r->n && jdoc_parse(&d, r->text[i], strlen(r->text[i])) == 0)
		value_text(&d, jdoc_find(&d, key), out, VALUE_MAX);
	return out;
}

void
print_table(const struct rows *r, size_t first, const struct column *cols)
{
	size_t	i, w[16], k, ncols;

	for (ncols = 0; cols[ncols].label != NULL && ncols < 16; ncols++)
		w[ncols] = strlen(cols[ncols].label);
	for (i = first; i < r->n; i++)
		for (k = 0; k < ncols; k++)
			if (strlen(row_value(r, i, cols[k].key)) > w[k])
				w[k] = strlen(row_value(r, i, cols[k].key));
	for (k = 0; k < ncols; k++)
		printf("%-*s%s", (int)w[k], cols[k].label,
		    k + 1 < ncols ? "  " : "\n");
	for (i = first; i < r->n; i++)
		for (k = 0; k < ncols; k++)
			printf("%-*s%s", k + 1 < ncols ? (int)w[k] : 0,
			    row_value(r, i, cols[k].key),
			    k + 1 < ncols ? "  " : "\n");
}

void
print_fields(const struct rows *r, const struct column *fields)
{
	size_t	k, w = 0;

	for (k = 0; fields[k].label != NULL; k++)
		if (strlen(fields[k].label) > w)
			w = strlen(fields[k].label);
	for (k = 0; fields[k].label != NULL; k++)
		printf("%-*s  %s\n", (int)w, fields[k].label,
		    row_value(r, 0, fields[k].key));
}

void
print_array(const struct rows *r, size_t first)
{
	size_t	i;

	printf("[");
	for (i = first; i < r->n; i++)
		printf("%s%s", i > first ? ",\n" : "\n", r->text[i]);
	printf("%s]\n", r->n > first ? "\n" : "");
}

void
print_object(const struct rows *r)
{
	printf("%s\n", r->n > 0 ? r->text[0] : "{}");
}

void
print_nested(const struct rows *r, const char *key)
{
	size_t	len = strlen(r->text[0]), i;

	/* Rows are compact objects: the last byte closes row 0. */
	printf("%.*s,\"%s\":[", (int)(len - 1), r->text[0], key);
	for (i = 1; i < r->n; i++)
		printf("%s%s", i > 1 ? "," : "", r->text[i]);
	printf("]}\n");
}

void
print_status(const struct rows *r)
{
	printf("chatd %s pid %s, up %s s (since %s)\n",
	    row_value(r, 0, "version"), row_value(r, 0, "pid"),
	    row_value(r, 0, "uptime_seconds"), row_value(r, 0, "started_at"));
	printf("connections       %s\n", row_value(r, 0, "connections"));
	printf("online users      %s\n", row_value(r, 0, "online_users"));
	printf("active rooms      %s\n", row_value(r, 0, "active_rooms"));
	printf("stored/s          %s (%s stored since start)\n",
	    row_value(r, 0, "stored_per_second"),
	    row_value(r, 0, "messages_stored"));
	printf("delivered/s       %s (%s deliveries since start)\n",
	    row_value(r, 0, "delivered_per_second"),
	    row_value(r, 0, "deliveries"));
	printf("pending writes    %s\n", row_value(r, 0, "pending_writes"));
	printf("MariaDB writer    %s\n", strcmp(row_value(r, 0,
	    "db_writer_connected"), "yes") == 0 ? "connected" : "DOWN");
	printf("MariaDB reader    %s\n", strcmp(row_value(r, 0,
	    "db_reader_connected"), "yes") == 0 ? "connected" : "DOWN");
	printf("workers           %s of %s running, %s restarts\n",
	    row_value(r, 0, "workers_running"), row_value(r, 0, "worker_count"),
	    row_value(r, 0, "worker_restarts"));
	printf("cached rooms      %s (%s dropped since start)\n",
	    row_value(r, 0, "cached_rooms"),
	    row_value(r, 0, "cached_rooms_dropped"));
	printf("cached profiles   %s\n", row_value(r, 0, "cached_profiles"));
	printf("status lookups    %s in %s queries\n",
	    row_value(r, 0, "status_lookups"),
	    row_value(r, 0, "status_lookup_queries"));
}

void
print_monitor_line(const struct rows *r, int header)
{
	char	db[16], when[32];

	if (header)
		printf("%-20s %6s %6s %6s %9s %9s %7s %7s %s\n", "TIME",
		    "CONNS", "USERS", "ROOMS", "STORED/S", "DELIV/S",
		    "PENDING", "WORKERS", "DB");
	snprintf(db, sizeof(db), "%s/%s",
	    strcmp(row_value(r, 0, "db_writer_connected"), "yes") ? "down" :
	    "up", strcmp(row_value(r, 0, "db_reader_connected"), "yes") ?
	    "down" : "up");
	/* To the second: one line a second at the most. */
	snprintf(when, sizeof(when), "%.19sZ", row_value(r, 0, "sampled_at"));
	printf("%-20.20s %6s %6s %6s %9s %9s %7s %3s/%-3s %s\n", when,
	    row_value(r, 0, "connections"), row_value(r, 0, "online_users"),
	    row_value(r, 0, "active_rooms"),
	    row_value(r, 0, "stored_per_second"),
	    row_value(r, 0, "delivered_per_second"),
	    row_value(r, 0, "pending_writes"),
	    row_value(r, 0, "workers_running"), row_value(r, 0, "worker_count"),
	    db);
}

int
print_checks(const struct rows *r, int json)
{
	size_t	i;
	int	ok = r->n > 0;

	for (i = 0; i < r->n; i++)
		ok &= strcmp(row_value(r, i, "ok"), "yes") == 0;
	if (json) {
		printf("{\"ok\":%s,\"checks\":", ok ? "true" : "false");
		print_array(r, 0);
		printf("}\n");
		return ok;
	}
	for (i = 0; i < r->n; i++)
		printf("%-9s %-6s %s\n", row_value(r, i, "check"),
		    strcmp(row_value(r, i, "ok"), "yes") == 0 ? "ok" : "FAILED",
		    row_value(r, i, "detail"));
	return ok;
}

void
print_kicked(const struct rows *r)
{
	const char	*n = row_value(r, 0, "kicked");

	printf("kicked %s connection%s\n", n, strcmp(n, "1") ? "s" : "");
}

void
print_health(const struct rows *r, unsigned long long room)
{
	size_t	i;

	if (r->n == 0 && room == 0)
		printf("no rooms with live connections\n");
	for (i = 0; i < r->n; i++) {
		if (strcmp(row_value(r, i, "connections"), "0") == 0)
			printf("room %s: no live connections\n",
			    row_value(r, i, "room_id"));
		else
			printf("room %s: health check sent to %s "
			    "connection(s)\n", row_value(r, i, "room_id"),
			    row_value(r, i, "connections"));
	}
}
