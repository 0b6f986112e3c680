/*
 * db.c - a non-blocking MariaDB connection with a query queue.
 *
 * States: DOWN (waiting to reconnect) -> CONNECTING -> IDLE <-> QUERY ->
 * RESULT -> IDLE, and for a job with parameters IDLE -> [PREPARE ->]
 * EXECUTE -> IDLE.  Every wait re-arms one event on the connection's
 * socket for the flags the library asked for, plus its timeout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <mysql.h>
#include <errmsg.h>

#include "config.h"
#include "db.h"
#include "log.h"

enum db_state {
	DB_DOWN = 0,
	DB_CONNECTING,
	DB_IDLE,
	DB_QUERY,
	DB_RESULT,
	DB_PREPARE,
	DB_EXECUTE,
};

#define DB_MAX_STMTS	4	/* distinct prepared statements per connection */
#define ER_NEED_REPREPARE	1615

struct db_job {
	struct db_job	*j_next;
	db_cb		*j_cb;
	void		*j_arg;
	const char	*j_stmt;	/* prepared statement, or NULL: j_sql */
	unsigned	 j_rows;	/* parameter sets in j_bind's arrays */
	unsigned	 j_nparams;
	MYSQL_BIND	*j_bind;	/* j_nparams, stored after the job */
	int		 j_reprepared;
	size_t		 j_len;
	char		 j_sql[];
};

/* A statement prepared on the current connection, keyed by its text's
 * address: callers pass static strings. */
struct db_stmt {
	const char	*s_sql;
	MYSQL_STMT	*s_stmt;
};

struct db {
	struct event_base	*d_base;
	const struct config	*d_conf;
	const char		*d_name;
	int			 d_autocommit;
	MYSQL			*d_mysql;
	enum db_state		 d_state;
	struct event		*d_ev;		/* socket wait */
	struct event		*d_retry;	/* reconnect timer */
	int			 d_backoff_ms;
	struct db_job		*d_head, **d_tail;
	size_t			 d_queued;
	int			 d_ret;		/* status of the running call */
	MYSQL			*d_conn_ret;
	MYSQL_RES		*d_res;
	int			 d_errlogged;
	struct db_stmt		 d_stmts[DB_MAX_STMTS];
	int			 d_nstmts;
	MYSQL_STMT		*d_cur;		/* of the running job */
};

static void	db_step(struct db *, int wait_status);
static void	db_drop_stmts(struct db *);
static void	db_start_next(struct db *);
static void	db_down(struct db *);

static int
db_is_conn_error(unsigned err)
{
	/* Client-side errors (2000-2999) mean the connection is unusable;
	 * the server's own errors (a duplicate key, a syntax error) go back
	 * to the caller. */
	return err >= 2000 && err < 3000;
}

static void
db_set_options(MYSQL *m, const struct config *c, int nonblock, int autocommit)
{
	unsigned int	timeout = 10;
	const char	*init = autocommit ?
	    "SET time_zone = '+00:00', autocommit = 1" :
	    "SET time_zone = '+00:00', autocommit = 0";

	(void)c;
	if (nonblock)
		mysql_options(m, MYSQL_OPT_NONBLOCK, 0);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	timeout = 30;
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_INIT_COMMAND, init);
}

MYSQL *
db_connect_blocking(const struct config *c, char *err, size_t errsz)
{
	MYSQL	*m;

	if ((m = mysql_init(NULL)) == NULL) {
		snprintf(err, errsz, "mysql_init: out of memory");
		return NULL;
	}
	db_set_options(m, c, 0, 1);
	if (mysql_real_connect(m, c->db_socket[0] ? NULL : c->db_host,
	    c->db_user, c->db_password, c->db_name, c->db_port,
	    c->db_socket[0] ? c->db_socket : NULL, 0) == NULL) {
		snprintf(err, errsz, "cannot connect to MariaDB as %s@%s: %s",
		    c->db_user, c->db_socket[0] ? c->db_socket : c->db_host,
		    mysql_error(m));
		mysql_close(m);
		return NULL;
	}
	return m;
}

static void
db_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db	*d = arg;
	int		 status = 0;

	(void)fd;
	if (what & EV_READ)
		status |= MYSQL_WAIT_READ;
	if (what & EV_WRITE)
		status |= MYSQL_WAIT_WRITE;
	if (what & EV_TIMEOUT)
		status |= MYSQL_WAIT_TIMEOUT;
	db_step(d, status);
}

/* Arm the socket event for what the library waits on. */
static void
db_arm(struct db *d, int status)
{
	short		what = 0;
	struct timeval	tv;
	unsigned int	ms;

	if (status & MYSQL_WAIT_READ)
		what |= EV_READ;
	if (status & MYSQL_WAIT_WRITE)
		what |= EV_WRITE;
	if (d->d_ev != NULL)
		event_free(d->d_ev);
	d->d_ev = event_new(d->d_base, mysql_get_socket(d->d_mysql), what,
	    db_event_cb, d);
	if (d->d_ev == NULL)
		fatalx("%s: event_new failed", __func__);
	if (status & MYSQL_WAIT_TIMEOUT) {
		ms = mysql_get_timeout_value_ms(d->d_mysql);
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		event_add(d->d_ev, &tv);
	} else
		event_add(d->d_ev, NULL);
}

/* After a *_start call: wait for what it asks, or go on if it finished. */
static void
db_started(struct db *d, int status)
{
	if (status != 0)
		db_arm(d, status);
	else
		db_step(d, 0);
}

static void
db_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db	*d = arg;

	(void)fd;
	(void)what;
	if ((d->d_mysql = mysql_init(NULL)) == NULL) {
		log_warnx("%s: mysql_init failed", d->d_name);
		db_down(d);
		return;
	}
	db_set_options(d->d_mysql, d->d_conf, 1, d->d_autocommit);
	d->d_state = DB_CONNECTING;
	db_started(d, mysql_real_connect_start(&d->d_conn_ret, d->d_mysql,
	    d->d_conf->db_socket[0] ? NULL : d->d_conf->db_host,
	    d->d_conf->db_user, d->d_conf->db_password, d->d_conf->db_name,
	    d->d_conf->db_port,
	    d->d_conf->db_socket[0] ? d->d_conf->db_socket : NULL, 0));
}

/* Drop the connection and schedule a new one; queued jobs stay queued. */
static void
db_down(struct db *d)
{
	struct timeval	tv;

	if (d->d_ev != NULL) {
		event_free(d->d_ev);
		d->d_ev = NULL;
	}
	if (d->d_res != NULL) {
		mysql_free_result(d->d_res);
		d->d_res = NULL;
	}
	if (d->d_mysql != NULL) {
		mysql_close(d->d_mysql);
		d->d_mysql = NULL;
	}
	db_drop_stmts(d);
	d->d_state = DB_DOWN;
	d->d_backoff_ms = d->d_backoff_ms ? d->d_backoff_ms * 2 : 100;
	if (d->d_backoff_ms > 5000)
		d->d_backoff_ms = 5000;
	tv.tv_sec = d->d_backoff_ms / 1000;
	tv.tv_usec = (d->d_backoff_ms % 1000) * 1000;
	evtimer_add(d->d_retry, &tv);
}

static void
db_finish_job(struct db *d, unsigned err, const char *errstr)
{
	struct db_job		*j = d->d_head;
	unsigned long long	 affected = 0;
	MYSQL_RES		*res = d->d_res;

	d->d_res = NULL;
	if (err == 0 && res == NULL)
		affected = j->j_stmt != NULL ?
		    mysql_stmt_affected_rows(d->d_cur) :
		    mysql_affected_rows(d->d_mysql);
	if ((d->d_head = j->j_next) == NULL)
		d->d_tail = &d->d_head;
	d->d_queued--;
	d->d_state = DB_IDLE;
	d->d_cur = NULL;
	/* The callback may queue more work: run it with the queue consistent. */
	j->j_cb(res, err, errstr, affected, j->j_arg);
	if (res != NULL)
		mysql_free_result(res);
	free(j);
}

static struct db_stmt *
db_stmt_find(struct db *d, const char *sql)
{
	int	i;

	for (i = 0; i < d->d_nstmts; i++)
		if (d->d_stmts[i].s_sql == sql)
			return &d->d_stmts[i];
	return NULL;
}

/* Close a statement: after mysql_close() this only frees memory. */
static void
db_stmt_forget(struct db *d, MYSQL_STMT *stmt)
{
	int	i;

	for (i = 0; i < d->d_nstmts; i++)
		if (d->d_stmts[i].s_stmt == stmt) {
			d->d_stmts[i] = d->d_stmts[--d->d_nstmts];
			break;
		}
	mysql_stmt_close(stmt);
}

static void
db_drop_stmts(struct db *d)
{
	while (d->d_nstmts > 0)
		db_stmt_forget(d, d->d_stmts[0].s_stmt);
	d->d_cur = NULL;
}

static void
db_fail_or_retry(struct db *d)
{
	struct db_job	*j = d->d_head;
	unsigned	 err = mysql_errno(d->d_mysql);
	const char	*errstr = mysql_error(d->d_mysql);
	char		 copy[512];

	if (d->d_cur != NULL && mysql_stmt_errno(d->d_cur) != 0) {
		err = mysql_stmt_errno(d->d_cur);
		errstr = mysql_stmt_error(d->d_cur);
	}
	if (db_is_conn_error(err) || err == 0) {
		if (!d->d_errlogged)
			log_warnx("%s: MariaDB connection lost: %s", d->d_name,
			    errstr);
		d->d_errlogged = 1;
		db_down(d);
		return;
	}
	if (d->d_state == DB_PREPARE || (err == ER_NEED_REPREPARE &&
	    j->j_stmt != NULL && !j->j_reprepared)) {
		/* A statement that failed to prepare must not be found by
		 * the next job, which may be queued by the callback. */
		snprintf(copy, sizeof(copy), "%s", errstr);
		errstr = copy;
		db_stmt_forget(d, d->d_cur);
		d->d_cur = NULL;
		if (err == ER_NEED_REPREPARE && d->d_state != DB_PREPARE) {
			/* The table changed under the statement: once more,
			 * freshly prepared. */
			j->j_reprepared = 1;
			d->d_state = DB_IDLE;
			db_start_next(d);
			return;
		}
	}
	db_finish_job(d, err, errstr);
	db_start_next(d);
}

/* Bind the job's parameter arrays and send them in one execution. */
static void
db_execute_job(struct db *d, struct db_job *j)
{
	unsigned int	rows = j->j_rows;

	d->d_state = DB_EXECUTE;
	if (mysql_stmt_attr_set(d->d_cur, STMT_ATTR_ARRAY_SIZE, &rows) ||
	    mysql_stmt_bind_param(d->d_cur, j->j_bind)) {
		/* The caller's binding is wrong: no new connection mends
		 * that, so it is an answer, not a retry. */
		db_finish_job(d, mysql_stmt_errno(d->d_cur),
		    mysql_stmt_error(d->d_cur));
		db_start_next(d);
		return;
	}
	db_started(d, mysql_stmt_execute_start(&d->d_ret, d->d_cur));
}

static void
db_start_stmt(struct db *d, struct db_job *j)
{
	struct db_stmt	*s;

	if ((s = db_stmt_find(d, j->j_stmt)) != NULL) {
		d->d_cur = s->s_stmt;
		db_execute_job(d, j);
		return;
	}
	if (d->d_nstmts == DB_MAX_STMTS)
		fatalx("%s: more than %d prepared statements", __func__,
		    DB_MAX_STMTS);
	if ((d->d_cur = mysql_stmt_init(d->d_mysql)) == NULL) {
		log_warnx("%s: mysql_stmt_init: out of memory", d->d_name);
		db_down(d);
		return;
	}
	d->d_stmts[d->d_nstmts].s_sql = j->j_stmt;
	d->d_stmts[d->d_nstmts++].s_stmt = d->d_cur;
	d->d_state = DB_PREPARE;
	db_started(d, mysql_stmt_prepare_start(&d->d_ret, d->d_cur, j->j_stmt,
	    strlen(j->j_stmt)));
}

/* Continue the running call with what its socket wait saw. */
static int
db_continue(struct db *d, int wait_status)
{
	/* wait_status 0: the _start call already completed. */
	if (wait_status == 0)
		return 0;
	switch (d->d_state) {
	case DB_CONNECTING:
		return mysql_real_connect_cont(&d->d_conn_ret, d->d_mysql,
		    wait_status);
	case DB_QUERY:
		return mysql_real_query_cont(&d->d_ret, d->d_mysql,
		    wait_status);
	case DB_RESULT:
		return mysql_store_result_cont(&d->d_res, d->d_mysql,
		    wait_status);
	case DB_PREPARE:
		return mysql_stmt_prepare_cont(&d->d_ret, d->d_cur,
		    wait_status);
	case DB_EXECUTE:
		return mysql_stmt_execute_cont(&d->d_ret, d->d_cur,
		    wait_status);
	default:
		return 0;
	}
}

static void
db_step(struct db *d, int wait_status)
{
	int	status;

	if (d->d_state == DB_DOWN || d->d_state == DB_IDLE)
		return;
	if ((status = db_continue(d, wait_status)) != 0) {
		db_arm(d, status);
		return;
	}
	switch (d->d_state) {
	case DB_CONNECTING:
		if (d->d_conn_ret == NULL) {
			if (!d->d_errlogged)
				log_warnx("%s: cannot connect to MariaDB: %s",
				    d->d_name, mysql_error(d->d_mysql));
			d->d_errlogged = 1;
			db_down(d);
			return;
		}
		if (d->d_errlogged)
			log_info("%s: MariaDB connection restored", d->d_name);
		d->d_errlogged = 0;
		d->d_backoff_ms = 0;
		d->d_state = DB_IDLE;
		break;
	case DB_QUERY:
		if (d->d_ret != 0) {
			db_fail_or_retry(d);
			return;
		}
		if (mysql_field_count(d->d_mysql) != 0) {
			d->d_state = DB_RESULT;
			db_started(d, mysql_store_result_start(&d->d_res,
			    d->d_mysql));
			return;
		}
		db_finish_job(d, 0, NULL);
		break;
	case DB_RESULT:
		if (d->d_res == NULL && mysql_errno(d->d_mysql) != 0) {
			db_fail_or_retry(d);
			return;
		}
		db_finish_job(d, 0, NULL);
		break;
	case DB_PREPARE:
		if (d->d_ret != 0)
			db_fail_or_retry(d);
		else if (mysql_stmt_param_count(d->d_cur) !=
		    d->d_head->j_nparams)
			fatalx("%s: %s: %lu parameters, %u bound", d->d_name,
			    d->d_head->j_stmt, mysql_stmt_param_count(d->d_cur),
			    d->d_head->j_nparams);
		else
			db_execute_job(d, d->d_head);
		return;
	case DB_EXECUTE:
		if (d->d_ret != 0) {
			db_fail_or_retry(d);
			return;
		}
		/* Only statements without a result set come this way. */
		db_finish_job(d, 0, NULL);
		break;
	default:
		return;
	}
	db_start_next(d);
}

static void
db_start_next(struct db *d)
{
	struct db_job	*j;

	if (d->d_state != DB_IDLE || (j = d->d_head) == NULL)
		return;
	if (j->j_stmt != NULL) {
		db_start_stmt(d, j);
		return;
	}
	d->d_state = DB_QUERY;
	db_started(d, mysql_real_query_start(&d->d_ret, d->d_mysql, j->j_sql,
	    j->j_len));
}

struct db *
db_new(struct event_base *base, const struct config *conf, const char *name,
    int autocommit)
{
	struct db	*d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->d_base = base;
	d->d_conf = conf;
	d->d_name = name;
	d->d_autocommit = autocommit;
	d->d_tail = &d->d_head;
	if ((d->d_retry = evtimer_new(base, db_retry_cb, d)) == NULL) {
		free(d);
		return NULL;
	}
	db_retry_cb(-1, 0, d);
	return d;
}

void
db_free(struct db *d)
{
	struct db_job	*j;

	if (d == NULL)
		return;
	while ((j = d->d_head) != NULL) {
		d->d_head = j->j_next;
		free(j);
	}
	if (d->d_ev != NULL)
		event_free(d->d_ev);
	event_free(d->d_retry);
	if (d->d_res != NULL)
		mysql_free_result(d->d_res);
	if (d->d_mysql != NULL)
		mysql_close(d->d_mysql);
	db_drop_stmts(d);
	free(d);
}

static struct db_job *
db_job_new(size_t extra, db_cb *cb, void *arg)
{
	struct db_job	*j;

	/* Only the header is cleared: extra is about to be filled, and it
	 * can be megabytes of SQL. */
	if ((j = malloc(sizeof(*j) + extra)) == NULL)
		return NULL;
	memset(j, 0, sizeof(*j));
	j->j_cb = cb;
	j->j_arg = arg;
	return j;
}

static void
db_job_queue(struct db *d, struct db_job *j)
{
	*d->d_tail = j;
	d->d_tail = &j->j_next;
	d->d_queued++;
	db_start_next(d);
}

int
db_query(struct db *d, const char *sql, size_t len, db_cb *cb, void *arg)
{
	struct db_job	*j;

	if ((j = db_job_new(len + 1, cb, arg)) == NULL)
		return -1;
	j->j_len = len;
	memcpy(j->j_sql, sql, len);
	j->j_sql[len] = '\0';
	db_job_queue(d, j);
	return 0;
}

int
db_execute(struct db *d, const char *stmt, const MYSQL_BIND *bind,
    unsigned nparams, unsigned rows, db_cb *cb, void *arg)
{
	struct db_job	*j;
	size_t		 align = _Alignof(MYSQL_BIND);
	size_t		 off = (sizeof(*j) + align - 1) / align * align;

	if ((j = db_job_new(off - sizeof(*j) + nparams * sizeof(*bind), cb,
	    arg)) == NULL)
		return -1;
	j->j_stmt = stmt;
	j->j_rows = rows;
	j->j_nparams = nparams;
	j->j_bind = (MYSQL_BIND *)((char *)j + off);
	memcpy(j->j_bind, bind, nparams * sizeof(*bind));
	db_job_queue(d, j);
	return 0;
}

MYSQL_ROW
db_row(MYSQL_RES *res)
{
	return res == NULL ? NULL : mysql_fetch_row(res);
}

size_t
db_queued(const struct db *d)
{
	return d->d_queued;
}

int
db_connected(const struct db *d)
{
	return d->d_state != DB_DOWN && d->d_state != DB_CONNECTING;
}

unsigned long
db_escape(struct db *d, char *out, const char *in, unsigned long n)
{
	if (d->d_mysql != NULL)
		return mysql_real_escape_string(d->d_mysql, out, in, n);
	/* No connection to ask for its charset: utf8mb4 escaping is the
	 * same either way for our use. */
	return mysql_escape_string(out, in, n);
}
