/*
 * test-config.c - unit tests for common/config.c: defaults, one row per
 * accepted or refused config_set() value, whole files through
 * config_load() (comments, blank lines, errors naming file and line), and
 * the keyword list a worker is sent.  Every row says why it is there.
 * Exits non-zero if any case fails.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

/*
 * The test's own view of which keyword sets which field, so rows can say
 * what a keyword should have stored.  Pseudo-keywords: "nlisten", and
 * "listenN" for entry N as "host|port".
 */

#define FI(k, f)	{ k, offsetof(struct config, f), 1 }
#define FS(k, f)	{ k, offsetof(struct config, f), 0 }

static const struct {
	const char	*key;
	size_t		 off;
	int		 isint;
} fields[] = {
	FI("connection_timeout", connection_timeout),
	FS("control_socket", control_socket),
	FS("cors_origins", cors_origins),
	FS("database_host", db_host),
	FS("database_name", db_name),
	FS("database_password", db_password),
	FI("database_port", db_port),
	FS("database_socket", db_socket),
	FS("database_user", db_user),
	FI("heartbeat_interval", heartbeat_interval),
	FS("jwt_algorithm", jwt_algorithm),
	FS("jwt_secret", jwt_secret),
	FS("jwt_user_claim", jwt_user_claim),
	FI("max_reconnect_attempts", max_reconnect_attempts),
	FI("message_cache_rooms", message_cache_rooms),
	FI("message_size_limit", message_size_limit),
	FS("pid_file", pid_file),
	FI("profile_lifetime", profile_lifetime),
	FI("ping_timeout", ping_timeout),
	FS("public_url", public_url),
	FI("rest_timeout", rest_timeout),
	FI("room_list_lifetime", room_list_lifetime),
	FI("syslog_facility", syslog_facility),
	FS("worker_path", worker_path),
	FI("workers", workers),
	FI("ws_max_message", ws_max_frame),
};

/* The current value of key in c as text; "?" for an unknown key. */
static const char *
field(const struct config *c, const char *key)
{
	static char	 out[1024];
	const char	*p = (const char *)c;
	size_t		 i;
	int		 n;

	if (strcmp(key, "nlisten") == 0) {
		snprintf(out, sizeof(out), "%d", c->nlisten);
		return out;
	}
	if (strncmp(key, "listen", 6) == 0 && key[6] >= '0' && key[6] <= '9') {
		n = key[6] - '0';
		if (n >= c->nlisten)
			return "(none)";
		snprintf(out, sizeof(out), "%s|%s", c->listen[n].la_host,
		    c->listen[n].la_port);
		return out;
	}
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strcmp(fields[i].key, key) != 0)
			continue;
		if (fields[i].isint)
			snprintf(out, sizeof(out), "%d",
			    *(const int *)(p + fields[i].off));
		else
			snprintf(out, sizeof(out), "%s", p + fields[i].off);
		return out;
	}
	return "?";
}

/* A string of n copies of ch; the caller frees it. */
static char *
repeat(int ch, size_t n)
{
	char	*s;

	if ((s = malloc(n + 1)) == NULL) {
		fprintf(stderr, "malloc failed\n");
		exit(2);
	}
	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

/*
 * Defaults.
 */

static const struct {
	const char	*key;
	const char	*want;
} defaults[] = {
	{ "heartbeat_interval", "30" },
	{ "connection_timeout", "14400" },
	{ "ping_timeout", "10" },
	{ "max_reconnect_attempts", "5" },
	{ "message_size_limit", "1000" },
	{ "jwt_algorithm", "HS256" },
	{ "jwt_user_claim", "user_id" },
	{ "jwt_secret", "" },
	{ "nlisten", "0" },
	{ "rest_timeout", "10" },
	{ "room_list_lifetime", "1" },
	{ "message_cache_rooms", "20000" },
	{ "profile_lifetime", "60" },
	{ "public_url", "" },
	{ "cors_origins", "" },
};

static void
test_defaults(void)
{
	struct config	c;
	const char	*got;
	size_t		i;

	memset(&c, 0x5a, sizeof(c));
	config_defaults(&c);
	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		got = field(&c, defaults[i].key);
		check(strcmp(got, defaults[i].want) == 0, "default value",
		    "%s: got \"%s\" want \"%s\"", defaults[i].key, got,
		    defaults[i].want);
	}
}

/*
 * config_set(), one fresh config per row.  On success the field must read
 * back as want; on failure err must contain want and the field must keep
 * its default.  value NULL means len copies of 'x'.
 */

static const struct {
	const char	*reason;
	const char	*key;
	const char	*value;
	size_t		 len;
	int		 rc;
	const char	*want;
	const char	*readback;	/* key to read back, if not key */
} set_cases[] = {
	/* keywords */
	{ "unknown keyword is named", "listne", "8080", 0, -1,
	    "unknown keyword \"listne\"", "nlisten" },
	{ "keywords are case-sensitive", "Heartbeat_interval", "5", 0, -1,
	    "unknown keyword \"Heartbeat_interval\"", "heartbeat_interval" },
	{ "empty keyword", "", "5", 0, -1, "unknown keyword \"\"", "nlisten" },
	{ "prefix of a keyword is not one", "heartbeat", "5", 0, -1,
	    "unknown keyword \"heartbeat\"", "heartbeat_interval" },

	/* integers: every int keyword at its limits */
	{ "heartbeat at its minimum", "heartbeat_interval", "1", 0, 0, "1",
	    NULL },
	{ "heartbeat at its maximum", "heartbeat_interval", "86400", 0, 0,
	    "86400", NULL },
	{ "heartbeat 0 below range", "heartbeat_interval", "0", 0, -1,
	    "\"0\" is not a number from 1 to 86400", NULL },
	{ "heartbeat above range", "heartbeat_interval", "86401", 0, -1,
	    "\"86401\" is not a number", NULL },
	{ "negative heartbeat", "heartbeat_interval", "-1", 0, -1,
	    "\"-1\" is not a number", NULL },
	{ "trailing junk after a number", "heartbeat_interval", "5x", 0, -1,
	    "\"5x\" is not a number", NULL },
	{ "not a number at all", "heartbeat_interval", "abc", 0, -1,
	    "\"abc\" is not a number", NULL },
	{ "empty number", "heartbeat_interval", "", 0, -1,
	    "is not a number", NULL },
	{ "number overflowing long", "heartbeat_interval",
	    "99999999999999999999999", 0, -1, "is not a number", NULL },
	{ "number fits long, not int", "connection_timeout", "4294967297", 0,
	    -1, "is not a number", NULL },
	{ "connection_timeout one year", "connection_timeout", "31536000", 0,
	    0, "31536000", NULL },
	{ "connection_timeout over a year", "connection_timeout", "31536001",
	    0, -1, "is not a number from 1 to 31536000", NULL },
	{ "ping_timeout in range", "ping_timeout", "60", 0, 0, "60", NULL },
	{ "ping_timeout 0", "ping_timeout", "0", 0, -1, "is not a number",
	    NULL },
	{ "max_reconnect_attempts may be 0", "max_reconnect_attempts", "0", 0,
	    0, "0", NULL },
	{ "max_reconnect_attempts 1001", "max_reconnect_attempts", "1001", 0,
	    -1, "is not a number from 0 to 1000", NULL },
	{ "message_size_limit at its maximum", "message_size_limit",
	    "16383", 0, 0, "16383", NULL },
	{ "message_size_limit above its maximum", "message_size_limit",
	    "16384", 0, -1, "is not a number from 1 to 16383", NULL },
	{ "message_size_limit 0", "message_size_limit", "0", 0, -1,
	    "is not a number", NULL },
	{ "database_port 0 (default port)", "database_port", "0", 0, 0, "0",
	    NULL },
	{ "database_port 65535", "database_port", "65535", 0, 0, "65535",
	    NULL },
	{ "database_port 65536", "database_port", "65536", 0, -1,
	    "is not a number from 0 to 65535", NULL },
	{ "workers 0 means one per CPU", "workers", "0", 0, 0, "0", NULL },
	{ "workers 64", "workers", "64", 0, 0, "64", NULL },
	{ "workers 65", "workers", "65", 0, -1, "is not a number", NULL },
	{ "ws_max_message at its minimum", "ws_max_message", "1024", 0, 0,
	    "1024", NULL },
	{ "ws_max_message below its minimum", "ws_max_message", "1023", 0, -1,
	    "is not a number from 1024 to 16777216", NULL },
	{ "ws_max_message at its maximum", "ws_max_message", "16777216", 0, 0,
	    "16777216", NULL },
	{ "room_list_lifetime 0 reads every time", "room_list_lifetime", "0",
	    0, 0, "0", NULL },
	{ "room_list_lifetime one day", "room_list_lifetime", "86400", 0, 0,
	    "86400", NULL },
	{ "room_list_lifetime over a day", "room_list_lifetime", "86401", 0,
	    -1, "room_list_lifetime: \"86401\" is not a number from 0 to "
	    "86400", NULL },
	{ "room_list_lifetime negative", "room_list_lifetime", "-1", 0, -1,
	    "is not a number from 0 to 86400", NULL },
	{ "room_list_lifetime with a unit", "room_list_lifetime", "1s", 0, -1,
	    "\"1s\" is not a number", NULL },
	{ "message_cache_rooms of one", "message_cache_rooms", "1", 0, 0,
	    "1", NULL },
	{ "message_cache_rooms zero", "message_cache_rooms", "0", 0, -1,
	    "is not a number from 1 to 100000000", NULL },

	/* strings */
	{ "jwt_algorithm", "jwt_algorithm", "HS512", 0, 0, "HS512", NULL },
	{ "jwt_algorithm of 15 characters fits", "jwt_algorithm", NULL, 15, 0,
	    NULL, NULL },
	{ "jwt_algorithm of 16 characters too long", "jwt_algorithm", NULL,
	    16, -1, "jwt_algorithm: value too long (max 15)", NULL },
	{ "jwt_secret of 511 characters fits", "jwt_secret", NULL, 511, 0,
	    NULL, NULL },
	{ "jwt_secret of 512 characters too long", "jwt_secret", NULL, 512,
	    -1, "value too long (max 511)", NULL },
	{ "jwt_secret keeps inner spaces", "jwt_secret", "a b  c", 0, 0,
	    "a b  c", NULL },
	{ "jwt_user_claim", "jwt_user_claim", "sub", 0, 0, "sub", NULL },
	{ "jwt_user_claim of 64 characters too long", "jwt_user_claim", NULL,
	    64, -1, "value too long (max 63)", NULL },
	{ "database_password", "database_password", "hunter2", 0, 0,
	    "hunter2", NULL },
	{ "database_host", "database_host", "db.example", 0, 0, "db.example",
	    NULL },
	{ "database_name", "database_name", "chat", 0, 0, "chat", NULL },
	{ "database_user", "database_user", "chat", 0, 0, "chat", NULL },
	{ "database_socket", "database_socket", "/run/mysqld/mysqld.sock", 0,
	    0, "/run/mysqld/mysqld.sock", NULL },
	{ "control_socket", "control_socket", "/tmp/c.sock", 0, 0,
	    "/tmp/c.sock", NULL },
	{ "pid_file", "pid_file", "/tmp/chatd.pid", 0, 0, "/tmp/chatd.pid",
	    NULL },
	{ "worker_path", "worker_path", "/usr/libexec/chatd-worker", 0, 0,
	    "/usr/libexec/chatd-worker", NULL },
	{ "empty string value", "worker_path", "", 0, 0, "", NULL },

	/* listen */
	{ "listen IPv4 host and port", "listen", "127.0.0.1:8080", 0, 0,
	    "127.0.0.1|8080", "listen0" },
	{ "listen bracketed IPv6", "listen", "[::1]:8080", 0, 0, "::1|8080",
	    "listen0" },
	{ "listen :port means all addresses", "listen", ":8080", 0, 0,
	    "|8080", "listen0" },
	{ "listen bare port means all addresses", "listen", "8080", 0, 0,
	    "|8080", "listen0" },
	{ "listen host name", "listen", "localhost:443", 0, 0,
	    "localhost|443", "listen0" },
	{ "listen lowest port", "listen", "h:1", 0, 0, "h|1", "listen0" },
	{ "listen highest port", "listen", "h:65535", 0, 0, "h|65535",
	    "listen0" },
	{ "listen bracketed all-zero IPv6", "listen", "[::]:80", 0, 0,
	    "::|80", "listen0" },
	{ "listen with the tls option", "listen", "127.0.0.1:8443 tls", 0, 0,
	    "127.0.0.1|8443", "listen0" },
	{ "listen with an unknown option", "listen", "127.0.0.1:8443 ssl", 0,
	    -1, "unknown listen option \"ssl\" (want \"tls\")", "nlisten" },
	{ "listen without a port", "listen", "host:", 0, -1,
	    "bad listen address \"host:\"", "nlisten" },
	{ "listen port 0", "listen", "host:0", 0, -1,
	    "bad listen address \"host:0\"", "nlisten" },
	{ "listen port above 65535", "listen", "host:70000", 0, -1,
	    "bad listen address \"host:70000\"", "nlisten" },
	{ "listen IPv6 without a colon after ]", "listen", "[::1]8080", 0, -1,
	    "bad listen address \"[::1]8080\"", "nlisten" },
	{ "listen unclosed bracket", "listen", "[::1:8080", 0, -1,
	    "bad listen address", "nlisten" },
	{ "listen IPv6 without a port", "listen", "[::1]", 0, -1,
	    "bad listen address", "nlisten" },
	{ "listen IPv6 with an empty port", "listen", "[::1]:", 0, -1,
	    "bad listen address", "nlisten" },
	{ "listen empty", "listen", "", 0, -1, "bad listen address",
	    "nlisten" },
	{ "listen lone colon", "listen", ":", 0, -1, "bad listen address",
	    "nlisten" },
	{ "listen bare name", "listen", "localhost", 0, -1,
	    "bad listen address", "nlisten" },
	{ "listen port with junk", "listen", "host:80x", 0, -1,
	    "bad listen address", "nlisten" },
	{ "listen negative port", "listen", "host:-80", 0, -1,
	    "bad listen address", "nlisten" },

	/* syslog */
	{ "syslog_facility unknown", "syslog_facility", "kern", 0, -1,
	    "unknown syslog facility \"kern\"", NULL },
	{ "syslog_facility names are lower case", "syslog_facility", "LOCAL3",
	    0, -1, "unknown syslog facility", NULL },
};

static void
test_set(void)
{
	struct config	 c, def;
	const char	*rb, *got, *want;
	char		 err[256], before[1024], *value, *gen;
	size_t		 i;
	int		 rc;

	config_defaults(&def);
	for (i = 0; i < sizeof(set_cases) / sizeof(set_cases[0]); i++) {
		gen = NULL;
		if ((value = (char *)set_cases[i].value) == NULL)
			value = gen = repeat('x', set_cases[i].len);
		rb = set_cases[i].readback ? set_cases[i].readback :
		    set_cases[i].key;
		config_defaults(&c);
		snprintf(before, sizeof(before), "%s", field(&def, rb));
		err[0] = '\0';
		rc = config_set(&c, set_cases[i].key, value, err, sizeof(err));
		got = field(&c, rb);
		if (set_cases[i].rc == 0) {
			want = set_cases[i].want ? set_cases[i].want : value;
			check(rc == 0 && strcmp(got, want) == 0,
			    set_cases[i].reason, "rc %d (%s), %s is \"%s\"",
			    rc, err, rb, got);
		} else {
			check(rc == -1 && strstr(err, set_cases[i].want) !=
			    NULL && strcmp(got, before) == 0,
			    set_cases[i].reason, "rc %d err \"%s\" want "
			    "\"%s\", %s is \"%s\" (was \"%s\")", rc, err,
			    set_cases[i].want, rb, got, before);
		}
		free(gen);
	}
}

/* Values whose result is not plain text, and the listen limit. */
static void
test_set_misc(void)
{
	struct config	 c;
	char		 err[256], text[16], text_long[100];
	int		 i, rc;

	config_defaults(&c);
	rc = config_set(&c, "syslog_facility", "local3", err, sizeof(err));
	check(rc == 0 && c.syslog_facility == LOG_LOCAL3,
	    "syslog_facility local3", "rc %d value %d", rc,
	    c.syslog_facility);
	rc = config_set(&c, "syslog_facility", "user", err, sizeof(err));
	check(rc == 0 && c.syslog_facility == LOG_USER,
	    "syslog_facility user", "rc %d value %d", rc, c.syslog_facility);
	config_defaults(&c);
	check(c.syslog_facility == LOG_DAEMON,
	    "syslog_facility defaults to daemon", "%d", c.syslog_facility);

	config_defaults(&c);
	rc = config_set(&c, "listen", "[::1]:8080", err, sizeof(err));
	check(rc == 0 && strcmp(c.listen[0].la_text, "[::1]:8080") == 0,
	    "listen keeps the text as written", "\"%s\"", c.listen[0].la_text);

	config_defaults(&c);
	for (i = 0; i < CONFIG_MAX_LISTEN; i++) {
		snprintf(text, sizeof(text), ":%d", 8000 + i);
		if (config_set(&c, "listen", text, err, sizeof(err)) == -1)
			break;
	}
	check(i == CONFIG_MAX_LISTEN && c.nlisten == CONFIG_MAX_LISTEN &&
	    strcmp(c.listen[CONFIG_MAX_LISTEN - 1].la_port, "8007") == 0,
	    "CONFIG_MAX_LISTEN listen lines accepted", "stopped at %d: %s", i,
	    err);
	err[0] = '\0';
	rc = config_set(&c, "listen", ":9000", err, sizeof(err));
	check(rc == -1 && c.nlisten == CONFIG_MAX_LISTEN &&
	    strstr(err, "too many listen lines") != NULL,
	    "one listen line too many", "rc %d nlisten %d err \"%s\"", rc,
	    c.nlisten, err);

	/* la_host holds 95 characters. */
	memset(text_long, 'h', sizeof(text_long));
	memcpy(text_long + 95, ":80", 4);
	config_defaults(&c);
	rc = config_set(&c, "listen", text_long, err, sizeof(err));
	check(rc == 0 && c.nlisten == 1 && strlen(c.listen[0].la_host) == 95,
	    "listen host of 95 characters fits", "rc %d: %s", rc, err);
	memset(text_long, 'h', sizeof(text_long));
	memcpy(text_long + 96, ":80", 4);
	config_defaults(&c);
	rc = config_set(&c, "listen", text_long, err, sizeof(err));
	check(rc == -1 && c.nlisten == 0, "listen host of 96 characters too "
	    "long", "rc %d", rc);

	/* A small error buffer truncates, never overflows. */
	config_defaults(&c);
	rc = config_set(&c, "no_such_keyword", "1", err, 8);
	check(rc == -1 && strlen(err) == 7, "error truncated to errsz",
	    "\"%s\"", err);
}

/*
 * config_load() on temporary files.  err_tail is what follows the path
 * in the error; on success up to three key=value pairs are checked.
 */

static const struct {
	const char	*reason;
	const char	*text;
	int		 rc;
	const char	*err_tail;
	const char	*want[3][2];
} load_cases[] = {
	{ "comments, blank lines, trailing spaces",
	    "# chatd.conf\n"
	    "\n"
	    "listen 127.0.0.1:8080   \n"
	    "   \n"
	    "\theartbeat_interval\t45\t# seconds\n"
	    "  # indented comment\n"
	    "jwt_secret   s3cret  \n",
	    0, NULL, { { "listen0", "127.0.0.1|8080" },
	    { "heartbeat_interval", "45" }, { "jwt_secret", "s3cret" } } },
	{ "'#' inside a value is part of it (secrets may hold one)",
	    "listen 8080\njwt_secret ab#cd # the key\n", 0, NULL,
	    { { "jwt_secret", "ab#cd" }, { "nlisten", "1" } } },
	{ "last line without a newline", "workers 3\nlisten :80", 0, NULL,
	    { { "listen0", "|80" }, { "workers", "3" } } },
	{ "CRLF line endings", "listen :80\r\nping_timeout 20\r\n", 0, NULL,
	    { { "listen0", "|80" }, { "ping_timeout", "20" } } },
	{ "two listen lines", "listen :80\nlisten [::1]:81\n", 0, NULL,
	    { { "nlisten", "2" }, { "listen1", "::1|81" } } },
	{ "a later line overrides an earlier one",
	    "listen :80\nworkers 2\nworkers 4\n", 0, NULL,
	    { { "workers", "4" } } },
	{ "unset keywords keep their defaults", "listen :80\n", 0, NULL,
	    { { "heartbeat_interval", "30" }, { "jwt_algorithm", "HS256" },
	    { "message_size_limit", "1000" } } },
	{ "unknown keyword on line 3", "listen :80\n# ok\nlistne :81\n", -1,
	    ":3: unknown keyword \"listne\"", { { NULL, NULL } } },
	{ "bad number on line 3",
	    "\n\nheartbeat_interval 0\nlisten :80\n", -1,
	    ":3: heartbeat_interval: \"0\" is not a number from 1 to 86400",
	    { { NULL, NULL } } },
	{ "bad listen on line 3", "workers 1\nworkers 2\nlisten host:0\n", -1,
	    ":3: bad listen address \"host:0\" (want host:port)",
	    { { NULL, NULL } } },
	{ "missing value", "listen :80\nheartbeat_interval\n", -1,
	    ":2: heartbeat_interval: missing value", { { NULL, NULL } } },
	{ "missing value, comment after the keyword",
	    "listen :80\njwt_secret   # todo\n", -1,
	    ":2: jwt_secret: missing value", { { NULL, NULL } } },
	{ "missing value, spaces after the keyword",
	    "listen :80\nworkers   \n", -1, ":2: workers: missing value",
	    { { NULL, NULL } } },
	{ "no listen line", "workers 2\n", -1, ": no listen line",
	    { { NULL, NULL } } },
	{ "empty file has no listen line", "", -1, ": no listen line",
	    { { NULL, NULL } } },
	{ "only comments has no listen line", "# listen :80\n\n", -1,
	    ": no listen line", { { NULL, NULL } } },
};

/* Write text to a new temporary file; its name goes to path. */
static int
write_temp(const char *text, size_t len, char *path, size_t pathsz)
{
	const char	*dir;
	int		 fd;

	if ((dir = getenv("TMPDIR")) == NULL || *dir == '\0')
		dir = "/tmp";
	snprintf(path, pathsz, "%s/test-config.XXXXXX", dir);
	if ((fd = mkstemp(path)) == -1)
		return -1;
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

static void
test_load(void)
{
	struct config	 c;
	const char	*got;
	char		 path[512], err[1024], want[1024];
	size_t		 i, j;
	int		 rc, ok;

	for (i = 0; i < sizeof(load_cases) / sizeof(load_cases[0]); i++) {
		if (write_temp(load_cases[i].text, strlen(load_cases[i].text),
		    path, sizeof(path)) == -1) {
			check(0, load_cases[i].reason, "temporary file: %s",
			    strerror(errno));
			continue;
		}
		config_defaults(&c);
		err[0] = '\0';
		rc = config_load(&c, path, err, sizeof(err));
		unlink(path);
		if (load_cases[i].rc == -1) {
			snprintf(want, sizeof(want), "%s%s", path,
			    load_cases[i].err_tail);
			check(rc == -1 && strcmp(err, want) == 0,
			    load_cases[i].reason, "rc %d\n got  \"%s\"\n "
			    "want \"%s\"", rc, err, want);
			continue;
		}
		check(rc == 0, load_cases[i].reason, "rc %d err \"%s\"", rc,
		    err);
		for (j = 0; j < 3 && load_cases[i].want[j][0] != NULL; j++) {
			got = field(&c, load_cases[i].want[j][0]);
			ok = strcmp(got, load_cases[i].want[j][1]) == 0;
			check(ok, load_cases[i].reason, "%s: got \"%s\" want "
			    "\"%s\"", load_cases[i].want[j][0], got,
			    load_cases[i].want[j][1]);
		}
	}
}

static void
test_load_misc(void)
{
	struct config	 c;
	char		 path[512], err[1024], want[1024], *text;
	int		 rc;

	config_defaults(&c);
	snprintf(path, sizeof(path), "/nonexistent/chatd.conf");
	rc = config_load(&c, path, err, sizeof(err));
	snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	check(rc == -1 && strcmp(err, want) == 0, "missing file named with "
	    "the reason", "got \"%s\" want \"%s\"", err, want);

	/* Line 2 is 2000 characters: longer than the line buffer. */
	text = repeat('#', 11 + 2000 + 1);
	memcpy(text, "listen :80\n", 11);
	text[11 + 2000] = '\n';
	if (write_temp(text, 11 + 2000 + 1, path, sizeof(path)) == 0) {
		config_defaults(&c);
		err[0] = '\0';
		rc = config_load(&c, path, err, sizeof(err));
		unlink(path);
		snprintf(want, sizeof(want), "%s:2: line too long", path);
		check(rc == -1 && strcmp(err, want) == 0, "overlong line "
		    "refused with its number", "rc %d got \"%s\"", rc, err);
	} else
		check(0, "overlong line refused with its number",
		    "temporary file: %s",
		    strerror(errno));
	free(text);

	/* A 1000-character line still fits the line buffer. */
	text = repeat('#', 11 + 1000 + 1);
	memcpy(text, "listen :80\n", 11);
	memcpy(text + 11, "jwt_secret ", 11);
	memset(text + 22, 's', 500);
	text[22 + 500] = ' ';
	text[11 + 1000] = '\n';
	if (write_temp(text, 11 + 1000 + 1, path, sizeof(path)) == 0) {
		config_defaults(&c);
		err[0] = '\0';
		rc = config_load(&c, path, err, sizeof(err));
		unlink(path);
		check(rc == 0 && strlen(c.jwt_secret) == 500,
		    "1000-character line with a comment loads",
		    "rc %d err \"%s\"", rc, err);
	} else
		check(0, "1000-character line with a comment loads",
		    "temporary file: %s", strerror(errno));
	free(text);
}

/*
 * config_worker_item(): what a worker is sent.
 */

static const char *const worker_keys[] = {
	"connection_timeout", "heartbeat_interval", "jwt_algorithm",
	"jwt_secret", "jwt_user_claim", "max_reconnect_attempts",
	"message_size_limit", "ping_timeout", "ws_max_message", "ws_max_unread",
	"rate_limit_messages", "rate_limit_window",
	"cors_origins", "public_url", "rest_timeout",
	"header_timeout", "max_body_size", "max_connections",
	"max_connections_per_ip", "max_header_size", "tls_certificate",
	"tls_key",
};

/* Broker-only: must never leave the broker. */
static const char *const broker_keys[] = {
	"control_socket", "database_host", "database_name",
	"database_password", "database_port", "database_socket",
	"database_user", "listen", "pid_file", "syslog_facility",
	"worker_path", "workers", "typing_timeout", "admin_listen", "group",
	"log_file", "user", "room_list_lifetime", "message_cache_rooms",
	"profile_lifetime",
};

#define NWORKER	(sizeof(worker_keys) / sizeof(worker_keys[0]))
#define NBROKER	(sizeof(broker_keys) / sizeof(broker_keys[0]))

/* Non-default values for every keyword, as a file would set them. */
static const char *const sample[][2] = {
	{ "listen", "127.0.0.1:8080" },
	{ "database_password", "pw-that-must-stay-home" },
	{ "database_user", "dbuser" },
	{ "database_port", "3307" },
	{ "jwt_secret", "s3cret with spaces" },
	{ "jwt_algorithm", "HS384" },
	{ "jwt_user_claim", "sub" },
	{ "heartbeat_interval", "45" },
	{ "connection_timeout", "600" },
	{ "ping_timeout", "7" },
	{ "max_reconnect_attempts", "9" },
	{ "message_size_limit", "2000" },
	{ "ws_max_message", "131072" },
	{ "cors_origins", "https://app.example.com *" },
	{ "public_url", "https://chat.example.com" },
	{ "rest_timeout", "4" },
	{ "workers", "3" },
	{ "max_connections", "77" },
	{ "max_connections_per_ip", "5" },
	{ "header_timeout", "4" },
	{ "max_header_size", "8192" },
	{ "max_body_size", "1000" },
	{ "tls_certificate", "/etc/ssl/chat.pem" },
	{ "tls_key", "/etc/ssl/chat.key" },
	{ "user", "chatd" },
	{ "log_file", "/var/log/chatd.log" },
	{ "room_list_lifetime", "5" },
	{ "message_cache_rooms", "300" },
	{ "profile_lifetime", "5" },
};

static void
test_worker_items(void)
{
	struct config	 src, dst;
	const char	*key, *got;
	char		 err[256], val[1024];
	size_t		 iter, i, n, seen_w[NWORKER], seen_b[NBROKER];
	int		 rc, leaked = 0, refused = 0;

	config_defaults(&src);
	for (i = 0; i < sizeof(sample) / sizeof(sample[0]); i++) {
		rc = config_set(&src, sample[i][0], sample[i][1], err,
		    sizeof(err));
		check(rc == 0, "sample config accepted", "%s %s: %s",
		    sample[i][0], sample[i][1], err);
	}

	memset(seen_w, 0, sizeof(seen_w));
	memset(seen_b, 0, sizeof(seen_b));
	config_defaults(&dst);
	iter = 0;
	n = 0;
	while (n < 1000 && config_worker_item(&src, &iter, &key, val,
	    sizeof(val))) {
		n++;
		for (i = 0; i < NWORKER; i++)
			if (strcmp(key, worker_keys[i]) == 0)
				seen_w[i]++;
		for (i = 0; i < NBROKER; i++)
			if (strcmp(key, broker_keys[i]) == 0)
				seen_b[i]++;
		if (strstr(val, "pw-that-must-stay-home") != NULL)
			leaked = 1;
		/* What the worker does with a MSG_CFG_SET. */
		if (config_set(&dst, key, val, err, sizeof(err)) == -1) {
			refused = 1;
			check(0, "worker accepts every item it is sent",
			    "%s \"%s\": %s", key, val, err);
		}
	}
	check(n < 1000, "config_worker_item ends", "%zu items", n);
	for (i = 0; i < NWORKER; i++)
		check(seen_w[i] == 1, "worker keyword sent exactly once",
		    "%s sent %zu times", worker_keys[i], seen_w[i]);
	for (i = 0; i < NBROKER; i++)
		check(seen_b[i] == 0, "broker keyword never sent to a worker",
		    "%s sent %zu times", broker_keys[i], seen_b[i]);
	check(!leaked, "database password never in a worker value", "");
	check(n == NWORKER, "only worker keywords are sent", "%zu items, "
	    "%zu worker keywords", n, NWORKER);

	/* The worker ends up with the broker's values. */
	for (i = 0; i < NWORKER && !refused; i++) {
		snprintf(val, sizeof(val), "%s", field(&src, worker_keys[i]));
		got = field(&dst, worker_keys[i]);
		check(strcmp(got, val) == 0, "worker value survives the trip",
		    "%s: got \"%s\" want \"%s\"", worker_keys[i], got, val);
	}
	check(strcmp(dst.db_password, "") == 0 && dst.nlisten == 0 &&
	    dst.workers == 0, "worker copy has no broker values", "");

	/* Values as text. */
	iter = 0;
	while (config_worker_item(&src, &iter, &key, val, sizeof(val))) {
		if (strcmp(key, "heartbeat_interval") == 0)
			check(strcmp(val, "45") == 0, "heartbeat sent as "
			    "decimal text", "\"%s\"", val);
		if (strcmp(key, "jwt_secret") == 0)
			check(strcmp(val, "s3cret with spaces") == 0,
			    "jwt_secret sent verbatim", "\"%s\"", val);
		if (strcmp(key, "message_size_limit") == 0)
			check(strcmp(val, "2000") == 0, "message_size_limit "
			    "sent as decimal text", "\"%s\"", val);
	}
	rc = config_worker_item(&src, &iter, &key, val, sizeof(val));
	check(rc == 0, "finished iterator stays finished", "rc %d", rc);
}

int
main(void)
{
	test_defaults();
	test_set();
	test_set_misc();
	test_load();
	test_load_misc();
	test_worker_items();
	return check_report("test-config");
}
