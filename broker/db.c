/*
 * db.c - a non-blocking MariaDB connection with a query queue.
 *
 * States: DOWN (waiting to reconnect) -> CONNECTING -> IDLE <-> QUERY ->
 * RESULT -> IDLE.  Every wait re-arms one event on the connection's socket
 * for the flags the library asked for, plus its timeout.
 */
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
};

struct db_job {
	struct db_job	*j_next;
	db_cb		*j_cb;
	void		*j_arg;
	size_t		 j_len;
	char		 j_sql[];
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
};

static void	db_step(struct db *, int wait_status);
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

static void
db_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db	*d = arg;
	int		 status;

	(void)fd;
	(void)what;
	if ((d->d_mysql = mysql_init(NULL)) == NULL) {
		log_warnx("%s: mysql_init failed", d->d_name);
		db_down(d);
		return;
	}
	db_set_options(d->d_mysql, d->d_conf, 1, d->d_autocommit);
	d->d_state = DB_CONNECTING;
	status = mysql_real_connect_start(&d->d_conn_ret, d->d_mysql,
	    d->d_conf->db_socket[0] ? NULL : d->d_conf->db_host,
	    d->d_conf->db_user, d->d_conf->db_password, d->d_conf->db_name,
	    d->d_conf->db_port,
	    d->d_conf->db_socket[0] ? d->d_conf->db_socket : NULL, 0);
	if (status != 0)
		db_arm(d, status);
	else
		db_step(d, 0);
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
		affected = mysql_affected_rows(d->d_mysql);
	if ((d->d_head = j->j_next) == NULL)
		d->d_tail = &d->d_head;
	d->d_queued--;
	d->d_state = DB_IDLE;
	/* The callback may queue more work: run it with the queue consistent. */
	j->j_cb(res, err, errstr, affected, j->j_arg);
	if (res != NULL)
		mysql_free_result(res);
	free(j);
}

static void
db_fail_or_retry(struct db *d)
{
	unsigned	err = mysql_errno(d->d_mysql);

	if (db_is_conn_error(err) || err == 0) {
		if (!d->d_errlogged)
			log_warnx("%s: MariaDB connection lost: %s", d->d_name,
			    mysql_error(d->d_mysql));
		d->d_errlogged = 1;
		db_down(d);
		return;
	}
	db_finish_job(d, err, mysql_error(d->d_mysql));
	db_start_next(d);
}

static void
db_step(struct db *d, int wait_status)
{
	int	status;

	switch (d->d_state) {
	case DB_CONNECTING:
		status = wait_status == 0 ? 0 :
		    mysql_real_connect_cont(&d->d_conn_ret, d->d_mysql,
		    wait_status);
		if (status != 0) {
			db_arm(d, status);
			return;
		}
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
		db_start_next(d);
		return;
	case DB_QUERY:
		/* wait_status 0: the _start call already completed. */
		status = wait_status == 0 ? 0 :
		    mysql_real_query_cont(&d->d_ret, d->d_mysql, wait_status);
		if (status != 0) {
			db_arm(d, status);
			return;
		}
		break;
	case DB_RESULT:
		status = wait_status == 0 ? 0 :
		    mysql_store_result_cont(&d->d_res, d->d_mysql, wait_status);
		if (status != 0) {
			db_arm(d, status);
			return;
		}
		if (d->d_res == NULL && mysql_errno(d->d_mysql) != 0) {
			db_fail_or_retry(d);
			return;
		}
		db_finish_job(d, 0, NULL);
		db_start_next(d);
		return;
	default:
		return;
	}
	/* The query itself finished (DB_QUERY). */
	if (d->d_ret != 0) {
		db_fail_or_retry(d);
		return;
	}
	if (mysql_field_count(d->d_mysql) == 0) {
		db_finish_job(d, 0, NULL);
		db_start_next(d);
		return;
	}
	d->d_state = DB_RESULT;
	status = mysql_store_result_start(&d->d_res, d->d_mysql);
	if (status != 0) {
		db_arm(d, status);
		return;
	}
	db_step(d, 0);
}

static void
db_start_next(struct db *d)
{
	struct db_job	*j;
	int		 status;

	if (d->d_state != DB_IDLE || (j = d->d_head) == NULL)
		return;
	d->d_state = DB_QUERY;
	status = mysql_real_query_start(&d->d_ret, d->d_mysql, j->j_sql,
	    j->j_len);
	if (status != 0) {
		db_arm(d, status);
		return;
	}
	db_step(d, 0);
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
	free(d);
}

int
db_query(struct db *d, const char *sql, size_t len, db_cb *cb, void *arg)
{
	struct db_job	*j;

	if ((j = malloc(sizeof(*j) + len + 1)) == NULL)
		return -1;
	j->j_next = NULL;
	j->j_cb = cb;
	j->j_arg = arg;
	j->j_len = len;
	memcpy(j->j_sql, sql, len);
	j->j_sql[len] = '\0';
	*d->d_tail = j;
	d->d_tail = &j->j_next;
	d->d_queued++;
	db_start_next(d);
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
