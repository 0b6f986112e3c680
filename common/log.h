/*
 * log.h - logging for every chatd program.
 * Messages go to stderr until log_to_syslog() is called (after the
 * process detaches), then to syslog.  Never pass a token, password or
 * message body to anything above log_debug.
 */
#ifndef CHATD_LOG_H
#define CHATD_LOG_H

#include <stdarg.h>

#define LOG_FMT(a, b)	__attribute__((format(printf, a, b)))

void		log_init(const char *ident, int debug);
void		log_to_syslog(int facility);
void		log_set_ident(const char *ident);
/* Append to a file instead (log_file); -1 if it cannot be opened. */
int		log_to_file(const char *path);
/* Reopen that file (after rotation); -1 on failure, old file kept. */
int		log_reopen(void);
int		log_syslog_facility(void);	/* -1 = not logging to syslog */
const char	*log_file_path(void);		/* NULL = no log file */
int		log_debugging(void);
void		log_warn(const char *, ...) LOG_FMT(1, 2);
void		log_warnx(const char *, ...) LOG_FMT(1, 2);
void		log_info(const char *, ...) LOG_FMT(1, 2);
void		log_debug(const char *, ...) LOG_FMT(1, 2);
_Noreturn void	fatal(const char *, ...) LOG_FMT(1, 2);
_Noreturn void	fatalx(const char *, ...) LOG_FMT(1, 2);

/* Our own data structures disagree: we want the core file. */
#define CHATD_ASSERT(x) do {						\
	if (!(x)) {							\
		log_warnx("%s:%d: assertion failed: %s", __FILE__,	\
		    __LINE__, #x);					\
		abort();						\
	}								\
} while (0)

#endif
