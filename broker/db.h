/*
 * db.h - one MariaDB connection driven by the broker's event loop with the
 * non-blocking client API, and a FIFO of queries run one after another on
 * it.  Nothing here blocks.  A query whose connection breaks is retried on
 * a new connection (with a growing delay), so callers see either a result
 * or a server-side error, never a lost query.  SQL text is the caller's:
 * this module knows no table.
 */
#ifndef CHATD_DB_H
#define CHATD_DB_H

#include <stddef.h>

#include <mysql.h>

struct event_base;
struct config;
struct db;

/*
 * Called once per query.  res is the result set (NULL for statements
 * without one, or on error; freed after the callback returns).  err is 0
 * or MariaDB's error number, errstr its text.  affected is
 * mysql_affected_rows() for statements.
 */
typedef void	db_cb(MYSQL_RES *res, unsigned err, const char *errstr,
		    unsigned long long affected, void *arg);

struct db	*db_new(struct event_base *, const struct config *,
		    const char *name, int autocommit);
void		 db_free(struct db *);
/* Queue a query; sql is copied.  -1 only on ENOMEM. */
int		 db_query(struct db *, const char *sql, size_t len, db_cb *,
		    void *arg);
/*
 * Queue one execution of a prepared statement with column-wise arrays of
 * rows parameter sets (MariaDB's bulk protocol: no SQL text to parse per
 * row).  stmt must be a string that lives as long as the db: it is
 * prepared once per connection and found again by its address.  bind is
 * copied, but the arrays it points to are the caller's until cb runs.
 * Statements with a result set are not supported.  -1 only on ENOMEM.
 */
int		 db_execute(struct db *, const char *stmt, const MYSQL_BIND *,
		    unsigned nparams, unsigned rows, db_cb *, void *arg);
size_t		 db_queued(const struct db *);
/* The next row of a callback's result, NULL when none (or no result). */
MYSQL_ROW	 db_row(MYSQL_RES *);
int		 db_connected(const struct db *);
/* Escape into out (2 * n + 1 bytes); returns the length written. */
unsigned long	 db_escape(struct db *, char *out, const char *in,
		    unsigned long n);

/* Blocking helpers for start-up only (before the event loop runs). */
MYSQL		*db_connect_blocking(const struct config *, char *err,
		    size_t errsz);

#endif
