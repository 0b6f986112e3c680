/*
 * daemon.h - what makes chatd an ordinary Unix daemon: checking the TLS
 * files, the open-file limit, dropping root, and the signals an admin
 * sends (SIGHUP reload, SIGUSR1 reopen the log file).  main() in broker.c
 * calls these in order; nothing here touches clients or the database.
 */
#ifndef CHATD_DAEMON_H
#define CHATD_DAEMON_H

#include <stddef.h>

struct config;

/* Load the TLS certificate and key as a worker will; -1 with a reason. */
int	daemon_check_tls(const struct config *, char *err, size_t errsz);
/* Workers to run: the configured number, or one per CPU. */
int	daemon_nworkers(const struct config *);
/* Raise RLIMIT_NOFILE to what the configuration needs; logs if it cannot. */
void	daemon_raise_nofile(const struct config *);
/* Whether the configured user and group exist and we may become them. */
int	daemon_check_user(const struct config *, char *err, size_t errsz);
/* Become the configured user and group; fatal if that is impossible. */
void	daemon_drop_privileges(const struct config *);
/* Watch SIGHUP and SIGUSR1 on the broker's event base. */
void	daemon_signals_init(const char *worker_path);

#endif
