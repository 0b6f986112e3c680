/*
 * config.c - the chatd.conf parser and its keyword table.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"

enum cfg_kind {
	CK_INT = 0,
	CK_STR,
	CK_LISTEN,
	CK_FACILITY,
	CK_ADMIN,
};

struct keyword {
	const char	*k_name;
	enum cfg_kind	 k_kind;
	int		 k_groups;
	size_t		 k_off;
	size_t		 k_size;	/* strings: buffer size */
	long		 k_min, k_max;	/* ints */
};

static int	parse_listen(struct listen_addr *, const char *, char *,
		    size_t);

#define KINT(n, f, g, lo, hi) \
	{ n, CK_INT, g, offsetof(struct config, f), 0, lo, hi }
#define KSTR(n, f, g) \
	{ n, CK_STR, g, offsetof(struct config, f), \
	    sizeof(((struct config *)0)->f), 0, 0 }

/* Sorted by name: looked up with bsearch. */
static const struct keyword keywords[] = {
	{ "admin_listen", CK_ADMIN, CFG_BROKER, 0, 0, 0, 0 },
	KINT("connection_timeout", connection_timeout, CFG_WORKER, 1, 31536000),
	KSTR("control_socket", control_socket, CFG_BROKER),
	KSTR("cors_origins", cors_origins, CFG_WORKER),
	KSTR("database_host", db_host, CFG_BROKER),
	KSTR("database_name", db_name, CFG_BROKER),
	KSTR("database_password", db_password, CFG_BROKER),
	KINT("database_port", db_port, CFG_BROKER, 0, 65535),
	KSTR("database_socket", db_socket, CFG_BROKER),
	KSTR("database_user", db_user, CFG_BROKER),
	KSTR("group", group, CFG_BROKER),
	KINT("header_timeout", header_timeout, CFG_WORKER, 1, 3600),
	KINT("heartbeat_interval", heartbeat_interval, CFG_WORKER, 1, 86400),
	KSTR("jwt_algorithm", jwt_algorithm, CFG_WORKER),
	KSTR("jwt_secret", jwt_secret, CFG_WORKER),
	KSTR("jwt_user_claim", jwt_user_claim, CFG_WORKER),
	{ "listen", CK_LISTEN, CFG_BROKER, 0, 0, 0, 0 },
	KSTR("log_file", log_file, CFG_BROKER),
	KINT("max_body_size", max_body_size, CFG_WORKER, 0, 104857600),
	KINT("max_connections", max_connections, CFG_WORKER | CFG_BROKER, 1,
	    1000000),
	KINT("max_connections_per_ip", max_connections_per_ip, CFG_WORKER, 0,
	    1000000),
	KINT("max_header_size", max_header_size, CFG_WORKER, 1024, 1048576),
	KINT("max_reconnect_attempts", max_reconnect_attempts, CFG_WORKER, 0, 1000),
	KINT("message_cache_rooms", message_cache_rooms, CFG_BROKER, 1,
	    100000000),
	/* messages.content is TEXT: 65 535 bytes, 4 per character at most. */
	KINT("message_size_limit", message_size_limit, CFG_WORKER, 1, 16383),
	KSTR("pid_file", pid_file, CFG_BROKER),
	KINT("ping_timeout", ping_timeout, CFG_WORKER, 1, 86400),
	KINT("profile_lifetime", profile_lifetime, CFG_BROKER, 0, 86400),
	KSTR("public_url", public_url, CFG_WORKER),
	KINT("rate_limit_messages", rate_limit_messages, CFG_WORKER, 1, 1000000),
	KINT("rate_limit_window", rate_limit_window, CFG_WORKER, 1, 86400),
	KINT("rest_timeout", rest_timeout, CFG_WORKER, 1, 3600),
	KINT("room_list_lifetime", room_list_lifetime, CFG_BROKER, 0, 86400),
	{ "syslog_facility", CK_FACILITY, CFG_BROKER, 0, 0, 0, 0 },
	KSTR("tls_certificate", tls_certificate, CFG_WORKER),
	KSTR("tls_key", tls_key, CFG_WORKER),
	KINT("typing_timeout", typing_timeout, CFG_BROKER, 1, 3600),
	KSTR("user", user, CFG_BROKER),
	KSTR("worker_path", worker_path, CFG_BROKER),
	KINT("workers", workers, CFG_BROKER, 0, 2 * CONFIG_MAX_WORKERS),
	KINT("ws_max_message", ws_max_frame, CFG_WORKER, 1024, 16777216),
	KINT("ws_max_unread", ws_max_unread, CFG_WORKER, 1048576, 1073741824),
};

static const struct {
	const char	*name;
	int		 value;
} facilities[] = {
	{ "daemon", LOG_DAEMON }, { "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 }, { "user", LOG_USER },
};

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->workers = 0;
	snprintf(c->control_socket, sizeof(c->control_socket),
	    "/run/chatd/control.sock");
	snprintf(c->pid_file, sizeof(c->pid_file), "/run/chatd/chatd.pid");
	snprintf(c->db_host, sizeof(c->db_host), "localhost");
	snprintf(c->db_user, sizeof(c->db_user), "chatd");
	snprintf(c->db_name, sizeof(c->db_name), "chatd");
	snprintf(c->jwt_algorithm, sizeof(c->jwt_algorithm), "HS256");
	snprintf(c->jwt_user_claim, sizeof(c->jwt_user_claim), "user_id");
	c->heartbeat_interval = 30;
	c->connection_timeout = 14400;
	c->ping_timeout = 10;
	c->max_reconnect_attempts = 5;
	c->message_size_limit = 1000;
	c->ws_max_frame = 65536;
	c->ws_max_unread = 32 * 1024 * 1024;
	c->syslog_facility = LOG_DAEMON;
	c->typing_timeout = 5;
	/* 30 a second on average, bursts of 300: a client flushing its
	 * outbox after a reconnect is not refused. */
	c->rate_limit_messages = 300;
	c->rate_limit_window = 10;
	c->rest_timeout = 10;
	/* Rooms the application inserts show within a second, and a
	 * client polling its rooms list costs MariaDB one query a second. */
	c->room_list_lifetime = 1;
	/* 7 to 10 KiB each with short messages: 130 to 200 MiB when full. */
	c->message_cache_rooms = 20000;
	/* A rename or a new avatar shows within a minute; a busy rooms
	 * list reads each user at most once a minute. */
	c->profile_lifetime = 60;
	c->max_connections = 8192;
	c->max_connections_per_ip = 0;
	c->header_timeout = 10;
	c->max_header_size = 16384;
	c->max_body_size = 65536;
}

static int
keyword_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct keyword *)elem)->k_name);
}

static const struct keyword *
keyword_find(const char *name)
{
	return bsearch(name, keywords, sizeof(keywords) / sizeof(keywords[0]),
	    sizeof(keywords[0]), keyword_cmp);
}

/*
 * "ADDR [tls]": the address, then options.  Only "tls" exists; the
 * admin listener takes none.
 */
static int
parse_listen_line(struct listen_addr *la, const char *v, int options,
    char *err, size_t errsz)
{
	char		 addr[sizeof(la->la_text)];
	const char	*opt;
	size_t		 n = strcspn(v, " \t");

	opt = v + n + strspn(v + n, " \t");
	if (n >= sizeof(addr)) {
		snprintf(err, errsz, "bad listen address \"%s\"", v);
		return -1;
	}
	memcpy(addr, v, n);
	addr[n] = '\0';
	if (parse_listen(la, addr, err, errsz) == -1)
		return -1;
	if (*opt == '\0')
		return 0;
	if (options && strcmp(opt, "tls") == 0) {
		la->la_tls = 1;
		return 0;
	}
	snprintf(err, errsz, "unknown listen option \"%s\"%s", opt,
	    options ? " (want \"tls\")" : "");
	return -1;
}

/* "host:port", "[v6]:port" or ":port"/"port" (all addresses). */
static int
parse_listen(struct listen_addr *la, const char *v, char *err, size_t errsz)
{
	const char	*port_s, *host, *end;
	size_t		 hlen, i;
	long		 port = 0;

	memset(la, 0, sizeof(*la));
	if (strlen(v) >= sizeof(la->la_text))
		goto bad;
	snprintf(la->la_text, sizeof(la->la_text), "%s", v);
	if (v[0] == '[') {
		if ((end = strchr(v, ']')) == NULL || end[1] != ':')
			goto bad;
		host = v + 1;
		hlen = end - host;
		port_s = end + 2;
	} else if ((end = strchr(v, ':')) != NULL) {
		/* An IPv6 address needs brackets: "::1" alone is refused. */
		if (strchr(end + 1, ':') != NULL)
			goto bad;
		host = v;
		hlen = end - v;
		port_s = end + 1;
	} else {
		host = "";
		hlen = 0;
		port_s = v;
	}
	if (hlen >= sizeof(la->la_host))
		goto bad;
	memcpy(la->la_host, host, hlen);
	la->la_host[hlen] = '\0';
	for (i = 0; port_s[i] != '\0'; i++) {
		if (port_s[i] < '0' || port_s[i] > '9' || i >= 5)
			goto bad;
		port = port * 10 + (port_s[i] - '0');
	}
	if (i == 0 || port < 1 || port > 65535)
		goto bad;
	snprintf(la->la_port, sizeof(la->la_port), "%ld", port);
	return 0;
bad:
	snprintf(err, errsz, "bad listen address \"%s\" (want host:port)", v);
	return -1;
}

int
config_set(struct config *c, const char *key, const char *value, char *err,
    size_t errsz)
{
	const struct keyword	*k;
	char			*ep;
	long			 n;
	size_t			 i;

	if ((k = keyword_find(key)) == NULL) {
		snprintf(err, errsz, "unknown keyword \"%s\"", key);
		return -1;
	}
	switch (k->k_kind) {
	case CK_INT:
		errno = 0;
		n = strtol(value, &ep, 10);
		if (*value == '\0' || *ep != '\0' || errno != 0 ||
		    n < k->k_min || n > k->k_max) {
			snprintf(err, errsz, "%s: \"%s\" is not a number "
			    "from %ld to %ld", key, value, k->k_min, k->k_max);
			return -1;
		}
		*(int *)((char *)c + k->k_off) = (int)n;
		return 0;
	case CK_STR:
		if (strlen(value) >= k->k_size) {
			snprintf(err, errsz, "%s: value too long (max %zu)",
			    key, k->k_size - 1);
			return -1;
		}
		memcpy((char *)c + k->k_off, value, strlen(value) + 1);
		return 0;
	case CK_LISTEN:
		if (c->nlisten == CONFIG_MAX_LISTEN) {
			snprintf(err, errsz, "too many listen lines (max %d)",
			    CONFIG_MAX_LISTEN);
			return -1;
		}
		if (parse_listen_line(&c->listen[c->nlisten], value, 1, err,
		    errsz) == -1)
			return -1;
		c->nlisten++;
		return 0;
	case CK_ADMIN:
		if (parse_listen_line(&c->admin_listen, value, 0, err, errsz)
		    == -1)
			return -1;
		/* A bare port is loopback here: metrics are not public. */
		if (c->admin_listen.la_host[0] == '\0')
			snprintf(c->admin_listen.la_host,
			    sizeof(c->admin_listen.la_host), "127.0.0.1");
		return 0;
	case CK_FACILITY:
		for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
			if (strcmp(facilities[i].name, value) == 0) {
				c->syslog_facility = facilities[i].value;
				return 0;
			}
		snprintf(err, errsz, "unknown syslog facility \"%s\"", value);
		return -1;
	}
	snprintf(err, errsz, "%s: internal error", key);
	return -1;
}

/* Split a line into keyword and value in place; 0 = blank or comment. */
static int
split_line(char *line, char **key, char **value)
{
	char	*p, *e;

	/* '#' starts a comment at the start of a line or after white space,
	 * so a secret or password may contain one. */
	for (p = line; *p != '\0'; p++)
		if (*p == '#' && (p == line || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			break;
		}
	for (p = line; isspace((unsigned char)*p); p++)
		;
	if (*p == '\0')
		return 0;
	*key = p;
	while (*p != '\0' && !isspace((unsigned char)*p))
		p++;
	if (*p != '\0')
		*p++ = '\0';
	while (isspace((unsigned char)*p))
		p++;
	*value = p;
	e = p + strlen(p);
	while (e > p && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return 1;
}

/* Checks that need the whole file: a TLS listener needs its files. */
static int
config_check(const struct config *c, const char *path, char *err,
    size_t errsz)
{
	int	i, tls = 0;

	for (i = 0; i < c->nlisten; i++)
		tls |= c->listen[i].la_tls;
	if (tls && (c->tls_certificate[0] == '\0' || c->tls_key[0] == '\0')) {
		snprintf(err, errsz, "%s: a tls listener needs tls_certificate "
		    "and tls_key", path);
		return -1;
	}
	if (tls && (access(c->tls_certificate, R_OK) == -1 ||
	    access(c->tls_key, R_OK) == -1)) {
		snprintf(err, errsz, "%s: cannot read %s: %s", path,
		    access(c->tls_certificate, R_OK) == -1 ?
		    c->tls_certificate : c->tls_key, strerror(errno));
		return -1;
	}
	return 0;
}

int
config_load(struct config *c, const char *path, char *err, size_t errsz)
{
	FILE	*f;
	char	 line[1024], reason[512], *key, *value;
	int	 lineno = 0, rv = 0;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errsz, "%s:%d: line too long", path,
			    lineno);
			rv = -1;
			break;
		}
		if (!split_line(line, &key, &value))
			continue;
		if (*value == '\0') {
			snprintf(err, errsz, "%s:%d: %s: missing value", path,
			    lineno, key);
			rv = -1;
			break;
		}
		if (config_set(c, key, value, reason, sizeof(reason)) == -1) {
			snprintf(err, errsz, "%s:%d: %s", path, lineno, reason);
			rv = -1;
			break;
		}
	}
	if (rv == 0 && ferror(f)) {
		snprintf(err, errsz, "%s: read error", path);
		rv = -1;
	}
	fclose(f);
	if (rv == 0 && c->nlisten == 0) {
		snprintf(err, errsz, "%s: no listen line", path);
		rv = -1;
	}
	if (rv == 0)
		rv = config_check(c, path, err, errsz);
	return rv;
}

int
config_worker_item(const struct config *c, size_t *iter, const char **key_out,
    char *val, size_t valsz)
{
	const struct keyword	*k;

	while (*iter < sizeof(keywords) / sizeof(keywords[0])) {
		k = &keywords[(*iter)++];
		if (!(k->k_groups & CFG_WORKER))
			continue;
		*key_out = k->k_name;
		if (k->k_kind == CK_INT)
			snprintf(val, valsz, "%d",
			    *(const int *)((const char *)c + k->k_off));
		else
			snprintf(val, valsz, "%s", (const char *)c + k->k_off);
		return 1;
	}
	return 0;
}
