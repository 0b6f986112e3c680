/*
 * log.c - stderr or syslog, one line per message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char	*log_ident = "chatd";
static int		 log_use_syslog;
static int		 log_verbose;
static int		 log_facility = -1;
static FILE		*log_fp;
static const char	*log_path;

void
log_init(const char *ident, int debug)
{
	log_ident = ident;
	log_verbose = debug;
}

void
log_set_ident(const char *ident)
{
	log_ident = ident;
	if (log_use_syslog) {
		closelog();
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	}
}

void
log_to_syslog(int facility)
{
	openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
	log_use_syslog = 1;
	log_facility = facility;
}

int
log_syslog_facility(void)
{
	return log_facility;
}

const char *
log_file_path(void)
{
	return log_path;
}

int
log_to_file(const char *path)
{
	FILE	*f;

	if ((f = fopen(path, "a")) == NULL)
		return -1;
	setvbuf(f, NULL, _IOLBF, 0);
	if (log_fp != NULL)
		fclose(log_fp);
	log_fp = f;
	log_path = path;
	return 0;
}

int
log_reopen(void)
{
	return log_path == NULL ? 0 : log_to_file(log_path);
}

int
log_debugging(void)
{
	return log_verbose;
}

static void
log_vwrite(int pri, const char *fmt, va_list ap, int with_errno)
{
	char	msg[1024];
	int	saved = errno;
	size_t	n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	if (log_fp != NULL) {
		char		ts[32];
		time_t		t = time(NULL);
		struct tm	tm;

		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S",
		    localtime_r(&t, &tm));
		fprintf(log_fp, "%s %s[%d]: %s\n", ts, log_ident,
		    (int)getpid(), msg);
	} else if (log_use_syslog)
		syslog(pri, "%s", msg);
	else
		fprintf(stderr, "%s[%d]: %s\n", log_ident, (int)getpid(), msg);
	errno = saved;
}

#define LOG_BODY(pri, e) do {						\
	va_list ap;							\
	va_start(ap, fmt);						\
	log_vwrite(pri, fmt, ap, e);					\
	va_end(ap);							\
} while (0)

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, 1);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, 0);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_INFO, 0);
}

void
log_debug(const char *fmt, ...)
{
	if (!log_verbose)
		return;
	LOG_BODY(LOG_DEBUG, 0);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, 1);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, 0);
	exit(1);
}
