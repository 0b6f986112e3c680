/*
 * daemon.c - privileges, limits, TLS file checks, reload and log
 * rotation for the broker.
 *
 * Reload (SIGHUP) parses the file into a fresh struct config and swaps it
 * in only if it is valid.  New workers start on the same listen sockets
 * with the new settings (and read the certificate files again); the old
 * ones stop accepting and keep serving their open connections until the
 * clients leave, so a reload drops nobody.  The listen sockets, user,
 * group, pid file and log destination stay as they were: changing them
 * needs a restart, and the reload says so.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "broker.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "supervise.h"

/* Per worker connection: the client socket, and for TLS MHD's end of
 * the socketpair (ours too, briefly, until the upgrade). */
#define FDS_PER_CONN	2
#define FDS_MARGIN	64

static char	worker_path[1024];

int
daemon_check_tls(const struct config *c, char *err, size_t errsz)
{
	SSL_CTX		*ctx;
	const char	*bad = NULL;
	unsigned long	 e;
	int		 i, tls = 0;

	for (i = 0; i < c->nlisten; i++)
		tls |= c->listen[i].la_tls;
	if (!tls)
		return 0;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(err, errsz, "cannot set up OpenSSL");
		return -1;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_certificate) != 1)
		bad = c->tls_certificate;
	else if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		bad = c->tls_key;
	SSL_CTX_free(ctx);
	if (bad == NULL)
		return 0;
	e = ERR_get_error();
	ERR_clear_error();
	snprintf(err, errsz, "%s: %s", bad, e != 0 ?
	    ERR_reason_error_string(e) : "cannot load");
	return -1;
}

int
daemon_nworkers(const struct config *c)
{
	int	n = c->workers;

	if (n == 0 && (n = (int)sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		n = 1;
	if (n > CONFIG_MAX_WORKERS) {
		log_warnx("workers %d: running %d, the most there can be", n,
		    CONFIG_MAX_WORKERS);
		n = CONFIG_MAX_WORKERS;
	}
	return n;
}

void
daemon_raise_nofile(const struct config *c)
{
	struct rlimit	rl;
	rlim_t		need;

	/* Each worker has its own limit, inherited from us. */
	need = (rlim_t)c->max_connections * FDS_PER_CONN + FDS_MARGIN;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit");
		return;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return;
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) {
		rl.rlim_cur = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			return;
	} else if (setrlimit(RLIMIT_NOFILE, &(struct rlimit){ need, need })
	    == 0)
		return;		/* root may raise the hard limit */
	/* Take what we may, and say what it means. */
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	log_warnx("open file limit is %llu, below the %llu that "
	    "max_connections %d needs: connections beyond it will fail",
	    (unsigned long long)rl.rlim_cur, (unsigned long long)need,
	    c->max_connections);
}

/*
 * The user and group to become, and whether we can: 0 with *uid_out set
 * (or -1 for "stay as we are"), -1 with a reason if impossible.
 */
static int
resolve_user(const struct config *c, uid_t *uid_out, gid_t *gid_out,
    char *err, size_t errsz)
{
	struct passwd	*pw;
	struct group	*gr;

	*uid_out = (uid_t)-1;
	if (c->user[0] == '\0') {
		if (c->group[0] == '\0')
			return 0;
		snprintf(err, errsz, "group %s needs a user too", c->group);
		return -1;
	}
	if ((pw = getpwnam(c->user)) == NULL) {
		snprintf(err, errsz, "unknown user %s", c->user);
		return -1;
	}
	*gid_out = pw->pw_gid;
	if (c->group[0] != '\0') {
		if ((gr = getgrnam(c->group)) == NULL) {
			snprintf(err, errsz, "unknown group %s", c->group);
			return -1;
		}
		*gid_out = gr->gr_gid;
	}
	if (geteuid() != 0 && (geteuid() != pw->pw_uid ||
	    getegid() != *gid_out)) {
		snprintf(err, errsz, "must be started as root to become user "
		    "%s", c->user);
		return -1;
	}
	*uid_out = pw->pw_uid;
	return 0;
}

int
daemon_check_user(const struct config *c, char *err, size_t errsz)
{
	uid_t	uid;
	gid_t	gid;

	return resolve_user(c, &uid, &gid, err, errsz);
}

void
daemon_drop_privileges(const struct config *c)
{
	char	err[256];
	uid_t	uid;
	gid_t	gid;

	if (resolve_user(c, &uid, &gid, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (uid == (uid_t)-1 || geteuid() == uid)
		return;		/* no user, or already that user */
	/* Workers open the log file too, and SIGUSR1 reopens it. */
	if (log_file_path() != NULL && chown(log_file_path(), uid, gid) == -1)
		log_warn("chown %s", log_file_path());
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		fatal("cannot become user %s", c->user);
	/* Refuse to run as root when a user was asked for. */
	if (uid != 0 && (setuid(0) != -1 || geteuid() == 0))
		fatalx("could not drop root privileges");
	log_info("running as user %s", c->user);
}

/* Settings a reload cannot change: keep the running ones, say so. */
static void
keep_fixed(struct config *nc, const struct config *oc)
{
	int	changed = 0;

	changed |= nc->nlisten != oc->nlisten ||
	    memcmp(nc->listen, oc->listen, sizeof(nc->listen)) != 0 ||
	    memcmp(&nc->admin_listen, &oc->admin_listen,
	    sizeof(nc->admin_listen)) != 0;
	changed |= strcmp(nc->user, oc->user) != 0 ||
	    strcmp(nc->group, oc->group) != 0;
	changed |= strcmp(nc->pid_file, oc->pid_file) != 0 ||
	    strcmp(nc->log_file, oc->log_file) != 0 ||
	    nc->syslog_facility != oc->syslog_facility;
	changed |= strcmp(nc->control_socket, oc->control_socket) != 0;
	if (changed)
		log_warnx("reload: listen, admin_listen, user, group, pid_file, "
		    "log_file, syslog_facility and control_socket changes "
		    "take effect at the next restart");
	memcpy(nc->listen, oc->listen, sizeof(nc->listen));
	nc->nlisten = oc->nlisten;
	nc->admin_listen = oc->admin_listen;
	memcpy(nc->user, oc->user, sizeof(nc->user));
	memcpy(nc->group, oc->group, sizeof(nc->group));
	memcpy(nc->pid_file, oc->pid_file, sizeof(nc->pid_file));
	memcpy(nc->log_file, oc->log_file, sizeof(nc->log_file));
	memcpy(nc->control_socket, oc->control_socket,
	    sizeof(nc->control_socket));
	nc->syslog_facility = oc->syslog_facility;
}

static void
sighup_cb(evutil_socket_t sig, short what, void *arg)
{
	static struct config	nc;
	char			err[1024];

	(void)sig;
	(void)what;
	(void)arg;
	config_defaults(&nc);
	if (config_load(&nc, broker->b_conf_path, err, sizeof(err)) == -1 ||
	    daemon_check_tls(&nc, err, sizeof(err)) == -1) {
		log_warnx("reload failed, configuration unchanged: %s", err);
		return;
	}
	keep_fixed(&nc, &broker->b_conf);
	if (nc.worker_path[0] != '\0')
		snprintf(worker_path, sizeof(worker_path), "%s",
		    nc.worker_path);
	broker->b_conf = nc;
	/* New workers inherit the limit; without root only the soft one
	 * can still grow, and it says so if that is not enough. */
	daemon_raise_nofile(&nc);
	if (supervise_reload(daemon_nworkers(&nc), worker_path) == -1) {
		log_warnx("reload: too many old workers still draining; "
		    "new settings apply to workers started from now on");
		return;
	}
	log_info("reloaded %s: new workers started, old ones finish "
	    "their connections", broker->b_conf_path);
}

static void
sigusr1_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	if (log_file_path() == NULL)
		return;
	if (log_reopen() == -1)
		log_warn("cannot reopen %s", log_file_path());
	supervise_signal(SIGUSR1);
}

void
daemon_signals_init(const char *path)
{
	struct event	*hup, *usr1;

	snprintf(worker_path, sizeof(worker_path), "%s", path);
	hup = evsignal_new(broker->b_base, SIGHUP, sighup_cb, NULL);
	usr1 = evsignal_new(broker->b_base, SIGUSR1, sigusr1_cb, NULL);
	if (hup == NULL || usr1 == NULL || evsignal_add(hup, NULL) == -1 ||
	    evsignal_add(usr1, NULL) == -1)
		fatalx("cannot watch SIGHUP and SIGUSR1");
}
