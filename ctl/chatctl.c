/*
 * chatctl.c - the administrator's tool: one request to chatd over its
 * control socket, the answer printed as a table (or --json).
 *
 * chatctl is a plain blocking client: it connects, says MSG_HELLO, sends
 * one request and reads frames until MSG_CTL_END or MSG_CTL_FAIL.  It
 * never waits forever: every read has a deadline.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "ctlfmt.h"
#include "json.h"
#include "wire.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/usr/local/etc"
#endif

#define REPLY_TIMEOUT_MS	120000	/* between two frames of a reply */
#define SHUTDOWN_WAIT_MS	60000
#define MAX_OPTS		64

static const char	*sock_path;
static int		 sock_fd = -1;
static int		 json_out;
static struct rows	 reply;		/* of the one request */

struct opt {
	const char	*name;
	const char	*value;
};

struct args {
	const char	*pos[MAX_OPTS];
	int		 npos;
	struct opt	 opts[MAX_OPTS];
	int		 nopts;
};

static _Noreturn void
usage(void)
{
	fprintf(stderr,
	    "usage: chatctl [-c config] [-s socket] [--json] command [args]\n"
	    "commands:\n"
	    "  status | monitor [--interval N] [--count K] | check\n"
	    "  connections [--room R] [--user U]\n"
	    "  kick USER | kick --conn ID   [--code N] [--reason TEXT]\n"
	    "  health-check [ROOM]\n"
	    "  user add USERNAME [--display-name N] [--image-url U]...\n"
	    "  user list [--match TEXT] [--limit N] | user show USER\n"
	    "  room create USER1 USER2 [--match M]\n"
	    "  room list [--user U] [--limit N] | room show ROOM\n"
	    "  token USER [--ttl SECONDS]\n"
	    "  provision --users N --rooms M [--base-url URL]\n"
	    "  reload | shutdown\n");
	exit(2);
}

/* "chatctl: " message tail, on stderr, then exit. */
static _Noreturn void
vdie(int status, const char *tail, const char *fmt, va_list ap)
{
	fputs("chatctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "%s\n", tail);
	exit(status);
}

static _Noreturn void
die(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vdie(1, "", fmt, ap);
}

static _Noreturn void
bad_usage(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vdie(2, " (chatctl -h for help)", fmt, ap);
}

/* Is w one of the space-separated words of list? */
static int
word_in(const char *list, const char *w)
{
	size_t	n = strlen(w), k;

	while (n > 0 && *list != '\0') {
		k = strcspn(list, " ");
		if (k == n && strncmp(list, w, n) == 0)
			return 1;
		list += k;
		list += strspn(list, " ");
	}
	return 0;
}

/* Split argv into positionals and --name VALUE options from allowed
 * ("room user": names without dashes, space-separated). */
static void
parse_args(struct args *a, int argc, char **argv, const char *allowed)
{
	char	name[64], *eq;
	int	i;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
			if (a->npos == MAX_OPTS)
				bad_usage("too many arguments");
			a->pos[a->npos++] = argv[i];
			continue;
		}
		snprintf(name, sizeof(name), "%s", argv[i] + 2);
		if ((eq = strchr(name, '=')) != NULL)
			*eq = '\0';
		if (!word_in(allowed, name))
			bad_usage("unknown option --%s", name);
		if (a->nopts == MAX_OPTS)
			bad_usage("too many options");
		a->opts[a->nopts].name = argv[i] + 2;
		if (eq != NULL)
			a->opts[a->nopts].value = strchr(argv[i], '=') + 1;
		else if (i + 1 < argc)
			a->opts[a->nopts].value = argv[++i];
		else
			bad_usage("--%s needs a value", name);
		a->nopts++;
	}
}

/* The last value of --name, or NULL. */
static const char *
opt(const struct args *a, const char *name)
{
	const char	*v = NULL;
	size_t		 n = strlen(name);
	int		 i;

	for (i = 0; i < a->nopts; i++)
		if (strncmp(a->opts[i].name, name, n) == 0 &&
		    (a->opts[i].name[n] == '\0' || a->opts[i].name[n] == '='))
			v = a->opts[i].value;
	return v;
}

static uint64_t
number(const char *s, const char *what, uint64_t min, uint64_t max)
{
	char			*end;
	unsigned long long	 v;

	errno = 0;
	if (s == NULL || *s < '0' || *s > '9' ||
	    (v = strtoull(s, &end, 10), errno != 0) || *end != '\0' ||
	    v < min || v > max)
		bad_usage("%s must be a number from %" PRIu64 " to %" PRIu64
		    ", not \"%s\"", what, min, max, s ? s : "");
	return v;
}

static uint64_t
opt_number(const struct args *a, const char *name, uint64_t dflt,
    uint64_t min, uint64_t max)
{
	const char	*v = opt(a, name);
	char		 what[64];

	if (v == NULL)
		return dflt;
	snprintf(what, sizeof(what), "--%s", name);
	return number(v, what, min, max);
}

static void
need_pos(const struct args *a, int min, int max, const char *synopsis)
{
	if (a->npos < min || a->npos > max)
		bad_usage("usage: chatctl %s", synopsis);
}

/* I/O on the control socket. */

/* -1 with errno if the peer is gone. */
static int
write_all(const void *p, size_t n)
{
	const char	*s = p;
	ssize_t		 w;

	while (n > 0) {
		if ((w = send(sock_fd, s, n, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read exactly n bytes; 0 = EOF before the first byte. */
static int
read_all(void *p, size_t n, int timeout_ms)
{
	char		*s = p;
	struct pollfd	 pfd;
	ssize_t		 r;
	size_t		 got = 0;
	int		 rv;

	while (got < n) {
		pfd.fd = sock_fd;
		pfd.events = POLLIN;
		if ((rv = poll(&pfd, 1, timeout_ms)) == -1) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (rv == 0)
			die("chatd did not answer within %d s", timeout_ms /
			    1000);
		if ((r = read(sock_fd, s + got, n - got)) == -1) {
			if (errno == EINTR)
				continue;
			die("lost the connection to chatd at %s: %s",
			    sock_path, strerror(errno));
		}
		if (r == 0) {
			if (got == 0)
				return 0;
			die("chatd closed the connection mid-frame");
		}
		got += (size_t)r;
	}
	return 1;
}

struct frame {
	struct wire_hdr	 hdr;
	uint8_t		*data;
	struct rd	 payload;
};

/* Next frame; 0 at EOF. */
static int
read_frame(struct frame *f, int timeout_ms)
{
	uint8_t	h[WIRE_HDR_SIZE];

	free(f->data);
	f->data = NULL;
	if (!read_all(h, sizeof(h), timeout_ms))
		return 0;
	if (wire_hdr_decode(h, &f->hdr) == -1)
		die("chatd sent an undecodable frame: is it the same version "
		    "as this chatctl?");
	if ((f->data = malloc(f->hdr.len - WIRE_HDR_SIZE + 1)) == NULL)
		die("out of memory");
	if (f->hdr.len > WIRE_HDR_SIZE &&
	    !read_all(f->data, f->hdr.len - WIRE_HDR_SIZE, timeout_ms))
		die("chatd closed the connection mid-frame");
	rd_init(&f->payload, f->data, f->hdr.len - WIRE_HDR_SIZE);
	return 1;
}

static _Noreturn void
die_fail(struct frame *f)
{
	struct str	reason;

	if (rd_str(&f->payload, &reason) == -1)
		die("chatd refused the request");
	die("%.*s", (int)reason.len, reason.s);
}

/* Send a frame; if chatd hung up, it may have said why first. */
static void
send_frame(struct buf *b, size_t off)
{
	struct frame	f = { .data = NULL };
	int		e;

	if (wire_end(b, off) == -1)
		die("request too large");
	if (write_all(b->b_data + off, b->b_len - off) == 0)
		return;
	e = errno;
	if (read_frame(&f, 1000) && f.hdr.type == MSG_CTL_FAIL)
		die_fail(&f);
	die("lost the connection to chatd at %s: %s", sock_path, strerror(e));
}

static void
ctl_connect(void)
{
	struct sockaddr_un	sun;
	struct frame		f = { .data = NULL };
	struct buf		b;
	uint32_t		version;
	size_t			off;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(sock_path) >= sizeof(sun.sun_path))
		die("cannot connect to chatd at %s: path too long", sock_path);
	memcpy(sun.sun_path, sock_path, strlen(sock_path) + 1);
	if ((sock_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket: %s", strerror(errno));
	if (connect(sock_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die("cannot connect to chatd at %s: %s", sock_path,
		    strerror(errno));
	buf_init(&b);
	off = wire_begin(&b, MSG_HELLO, 0);
	buf_add_u32(&b, WIRE_VERSION);
	buf_add_u32(&b, 0);
	buf_add_u32(&b, (uint32_t)getpid());
	send_frame(&b, off);
	buf_free(&b);
	if (!read_frame(&f, REPLY_TIMEOUT_MS))
		die("chatd at %s closed the connection", sock_path);
	if (f.hdr.type == MSG_CTL_FAIL)
		die_fail(&f);
	if (f.hdr.type != MSG_HELLO || rd_u32(&f.payload, &version) == -1)
		die("chatd at %s did not answer MSG_HELLO", sock_path);
	if (version != WIRE_VERSION)
		die("chatd speaks wire version %u, this chatctl %d: use the "
		    "chatctl installed with chatd", version, WIRE_VERSION);
	free(f.data);
}

/*
 * Send one request and collect its rows (JSON texts).  MSG_CTL_DATA goes
 * straight to stdout.  A MSG_CTL_FAIL ends chatctl with its reason.
 */
static void
request(struct buf *b, size_t off, struct rows *out)
{
	struct frame	f = { .data = NULL };
	struct str	s;

	send_frame(b, off);
	buf_free(b);
	for (;;) {
		if (!read_frame(&f, REPLY_TIMEOUT_MS))
			die("chatd closed the connection before answering");
		switch (f.hdr.type) {
		case MSG_CTL_ROW:
			if (rd_str(&f.payload, &s) == -1)
				die("chatd sent a malformed row");
			rows_add(out, s.s, s.len);
			break;
		case MSG_CTL_DATA:
			if (fwrite(f.data, 1, rd_left(&f.payload), stdout) !=
			    rd_left(&f.payload))
				die("stdout: %s", strerror(errno));
			break;
		case MSG_CTL_END:
			free(f.data);
			return;
		case MSG_CTL_FAIL:
			die_fail(&f);
		default:
			die("chatd sent %s in a reply",
			    msg_type_name(f.hdr.type));
		}
	}
}

/* Start a request frame in a fresh buffer. */
static size_t
begin(struct buf *b, uint16_t type, uint64_t id)
{
	buf_init(b);
	return wire_begin(b, type, id);
}

/* A request with no arguments, answered by rows. */
static void
simple(uint16_t type, uint64_t id, struct rows *r)
{
	struct buf	b;
	size_t		off = begin(&b, type, id);

	request(&b, off, r);
}

static const struct column	worker_cols[] = {
	{ "index", "WORKER" }, { "pid", "PID" },
	{ "connections", "CONNECTIONS" }, { "restarts", "RESTARTS" },
	{ "running", "RUNNING" }, { NULL, NULL }
};

static int
cmd_status(struct args *a)
{
	need_pos(a, 0, 0, "status");
	simple(MSG_CTL_STATUS, 0, &reply);
	if (reply.n == 0)
		die("chatd sent no status");
	if (json_out) {
		print_nested(&reply, "workers");
		return 0;
	}
	print_status(&reply);
	printf("\n");
	print_table(&reply, 1, worker_cols);
	return 0;
}

static int
cmd_monitor(struct args *a)
{
	uint64_t	interval, count, i;

	need_pos(a, 0, 0, "monitor [--interval N] [--count K]");
	interval = opt_number(a, "interval", 60, 1, 86400);
	count = opt_number(a, "count", 0, 0, UINT32_MAX);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; count == 0 || i < count; i++) {
		if (i > 0)
			sleep((unsigned)interval);
		rows_clear(&reply);
		simple(MSG_CTL_STATUS, 0, &reply);
		if (reply.n == 0)
			die("chatd sent no status");
		if (json_out)
			printf("%s\n", reply.text[0]);
		else
			print_monitor_line(&reply, i % 20 == 0);
	}
	return 0;
}

static int
cmd_check(struct args *a)
{
	int		ok;

	need_pos(a, 0, 0, "check");
	simple(MSG_CTL_CHECK, 0, &reply);
	ok = print_checks(&reply, json_out);
	return ok ? 0 : 1;
}

static const struct column	conn_cols[] = {
	{ "id", "ID" }, { "worker", "WORKER" }, { "user_id", "USER" },
	{ "username", "USERNAME" }, { "room_id", "ROOM" },
	{ "since", "SINCE" }, { NULL, NULL }
};

static void
print_list(struct rows *r, const struct column *cols)
{
	if (json_out)
		print_array(r, 0);
	else
		print_table(r, 0, cols);
}

/* "user list" and "room list": one filter option, --limit, a table. */
static void
list_cmd(struct args *a, uint16_t type, const char *filter,
    const char *synopsis, const struct column *cols)
{
	struct buf	 b;
	const char	*s = opt(a, filter);
	size_t		 off;

	need_pos(a, 1, 1, synopsis);
	off = begin(&b, type, 0);
	buf_add_cstr(&b, s ? s : "");
	buf_add_u32(&b, (uint32_t)opt_number(a, "limit", 0, 1, UINT32_MAX));
	request(&b, off, &reply);
	print_list(&reply, cols);
}

static int
cmd_connections(struct args *a)
{
	struct buf	b;
	const char	*user = opt(a, "user");
	size_t		off;

	need_pos(a, 0, 0, "connections [--room R] [--user U]");
	off = begin(&b, MSG_CTL_CONNS, 0);
	buf_add_u64(&b, opt_number(a, "room", 0, 1, UINT64_MAX >> 1));
	buf_add_cstr(&b, user ? user : "");
	if (user != NULL && *user == '\0')
		bad_usage("--user needs a user id or username");
	request(&b, off, &reply);
	print_list(&reply, conn_cols);
	return 0;
}

static int
cmd_kick(struct args *a)
{
	struct buf	 b;
	const char	*reason = opt(a, "reason");
	uint64_t	 conn = opt_number(a, "conn", 0, 1, UINT64_MAX);
	size_t		 off;

	if (conn == 0)
		need_pos(a, 1, 1, "kick USER | kick --conn ID");
	else
		need_pos(a, 0, 0, "kick USER | kick --conn ID");
	off = begin(&b, MSG_CTL_KICK, 0);
	buf_add_u64(&b, conn);
	buf_add_cstr(&b, conn ? "" : a->pos[0]);
	buf_add_u16(&b, (uint16_t)opt_number(a, "code", 4000, 3000, 4999));
	buf_add_cstr(&b, reason ? reason : "Kicked by administrator");
	request(&b, off, &reply);
	if (json_out)
		print_object(&reply);
	else
		print_kicked(&reply);
	return 0;
}

static int
cmd_health(struct args *a)
{
	uint64_t	room = 0;

	need_pos(a, 0, 1, "health-check [ROOM]");
	if (a->npos == 1)
		room = number(a->pos[0], "ROOM", 1, UINT64_MAX >> 1);
	simple(MSG_CTL_HEALTH, room, &reply);
	if (json_out && room != 0)
		print_object(&reply);
	else if (json_out)
		print_array(&reply, 0);
	else
		print_health(&reply, room);
	return 0;
}

static const struct column	user_cols[] = {
	{ "id", "ID" }, { "username", "USERNAME" },
	{ "display_name", "DISPLAY NAME" }, { "is_online", "ONLINE" },
	{ "last_seen", "LAST SEEN" }, { "created_at", "CREATED" },
	{ NULL, NULL }
};

static const struct column	user_fields[] = {
	{ "id", "id" }, { "username", "username" },
	{ "display_name", "display name" }, { "imageUrls", "image URLs" },
	{ "is_online", "online" }, { "connections", "connections" },
	{ "rooms", "rooms" }, { "last_seen", "last seen" },
	{ "created_at", "created" }, { NULL, NULL }
};

/* The image URLs as a JSON array, from repeated --image-url. */
static void
image_urls(const struct args *a, struct jw *j)
{
	int	i;

	jw_arr_open(j);
	for (i = 0; i < a->nopts; i++)
		if (strncmp(a->opts[i].name, "image-url", 9) == 0)
			jw_cstr(j, a->opts[i].value);
	jw_arr_close(j);
}

static int
cmd_user(struct args *a)
{
	struct buf	 b;
	struct jw	 j;
	const char	*s;
	size_t		 off;

	if (a->npos < 1)
		bad_usage("usage: chatctl user add|list|show ...");
	if (strcmp(a->pos[0], "add") == 0) {
		need_pos(a, 2, 2, "user add USERNAME [--display-name N] "
		    "[--image-url U]...");
		jw_init(&j);
		image_urls(a, &j);
		off = begin(&b, MSG_CTL_USER_ADD, 0);
		buf_add_cstr(&b, a->pos[1]);
		s = opt(a, "display-name");
		buf_add_cstr(&b, s ? s : "");
		buf_add_str(&b, j.buf, j.len);
		jw_free(&j);
		request(&b, off, &reply);
		if (!json_out)
			printf("added user %s (id %s)\n", a->pos[1],
			    row_value(&reply, 0, "id"));
		else
			print_object(&reply);
	} else if (strcmp(a->pos[0], "list") == 0)
		list_cmd(a, MSG_CTL_USER_LIST, "match",
		    "user list [--match TEXT] [--limit N]", user_cols);
	else if (strcmp(a->pos[0], "show") == 0) {
		need_pos(a, 2, 2, "user show USER");
		off = begin(&b, MSG_CTL_USER_SHOW, 0);
		buf_add_cstr(&b, a->pos[1]);
		request(&b, off, &reply);
		if (json_out)
			print_object(&reply);
		else
			print_fields(&reply, user_fields);
	} else
		bad_usage("unknown command \"user %s\"", a->pos[0]);
	return 0;
}

static const struct column	room_cols[] = {
	{ "id", "ID" }, { "participant1_username", "USER1" },
	{ "participant2_username", "USER2" }, { "match", "MATCH" },
	{ "messages", "MESSAGES" }, { "connections", "CONNECTIONS" },
	{ "created_at", "CREATED" }, { NULL, NULL }
};

static const struct column	room_fields[] = {
	{ "id", "id" }, { "participant1", "participant1" },
	{ "participant1_username", "participant1 name" },
	{ "participant2", "participant2" },
	{ "participant2_username", "participant2 name" },
	{ "match", "match" }, { "messages", "messages" },
	{ "connections", "connections" }, { "created_at", "created" },
	{ NULL, NULL }
};

static int
cmd_room(struct args *a)
{
	struct buf	b;
	size_t		off;

	if (a->npos < 1)
		bad_usage("usage: chatctl room create|list|show ...");
	if (strcmp(a->pos[0], "create") == 0) {
		need_pos(a, 3, 3, "room create USER1 USER2 [--match M]");
		off = begin(&b, MSG_CTL_ROOM_CREATE, 0);
		buf_add_cstr(&b, a->pos[1]);
		buf_add_cstr(&b, a->pos[2]);
		buf_add_u64(&b, opt_number(a, "match", 0, 1, UINT64_MAX >> 1));
		request(&b, off, &reply);
		if (!json_out)
			printf("created room %s for %s and %s\n",
			    row_value(&reply, 0, "id"),
			    row_value(&reply, 0, "participant1_username"),
			    row_value(&reply, 0, "participant2_username"));
		else
			print_object(&reply);
	} else if (strcmp(a->pos[0], "list") == 0)
		list_cmd(a, MSG_CTL_ROOM_LIST, "user",
		    "room list [--user U] [--limit N]", room_cols);
	else if (strcmp(a->pos[0], "show") == 0) {
		need_pos(a, 2, 2, "room show ROOM");
		simple(MSG_CTL_ROOM_SHOW, number(a->pos[1], "ROOM", 1,
		    UINT64_MAX >> 1), &reply);
		if (json_out)
			print_object(&reply);
		else
			print_fields(&reply, room_fields);
	} else
		bad_usage("unknown command \"room %s\"", a->pos[0]);
	return 0;
}

static int
cmd_token(struct args *a)
{
	struct buf	b;
	size_t		off;

	need_pos(a, 1, 1, "token USER [--ttl SECONDS]");
	off = begin(&b, MSG_CTL_TOKEN, 0);
	buf_add_cstr(&b, a->pos[0]);
	buf_add_u32(&b, (uint32_t)opt_number(a, "ttl", 3600, 1,
	    10L * 366 * 86400));
	request(&b, off, &reply);
	if (json_out)
		print_object(&reply);
	else
		printf("%s\n", row_value(&reply, 0, "token"));
	return 0;
}

static int
cmd_provision(struct args *a)
{
	struct buf	 b;
	const char	*base = opt(a, "base-url");
	size_t		 off;

	need_pos(a, 0, 0, "provision --users N --rooms M [--base-url URL]");
	if (opt(a, "users") == NULL)
		bad_usage("provision needs --users N");
	off = begin(&b, MSG_CTL_PROVISION, 0);
	buf_add_u32(&b, (uint32_t)opt_number(a, "users", 0, 0, 1000000));
	buf_add_u32(&b, (uint32_t)opt_number(a, "rooms", 0, 0, 1000000));
	buf_add_cstr(&b, base ? base : "");
	/* The document is the output, in both modes. */
	request(&b, off, &reply);
	printf("\n");
	return 0;
}

static int
cmd_signal(struct args *a, uint16_t type)
{
	struct frame	f = { .data = NULL };

	need_pos(a, 0, 0, type == MSG_CTL_RELOAD ? "reload" : "shutdown");
	simple(type, 0, &reply);
	if (type == MSG_CTL_SHUTDOWN) {
		/* chatd drains and exits; our connection ends with it. */
		while (read_frame(&f, SHUTDOWN_WAIT_MS))
			;
	}
	if (json_out)
		printf("{\"ok\":true}\n");
	else
		printf(type == MSG_CTL_RELOAD ? "reload requested\n" :
		    "chatd stopped\n");
	return 0;
}

static int
cmd_reload(struct args *a)
{
	return cmd_signal(a, MSG_CTL_RELOAD);
}

static int
cmd_shutdown(struct args *a)
{
	return cmd_signal(a, MSG_CTL_SHUTDOWN);
}

/* Each command with the options it takes (names without dashes). */
static const struct command {
	const char	*name;
	int		(*run)(struct args *);
	const char	*opts;
} commands[] = {
	{ "status", cmd_status, "" },
	{ "monitor", cmd_monitor, "interval count" },
	{ "check", cmd_check, "" },
	{ "connections", cmd_connections, "room user" },
	{ "kick", cmd_kick, "conn code reason" },
	{ "health-check", cmd_health, "" },
	{ "user", cmd_user, "display-name image-url match limit" },
	{ "room", cmd_room, "match user limit" },
	{ "token", cmd_token, "ttl" },
	{ "provision", cmd_provision, "users rooms base-url" },
	{ "reload", cmd_reload, "" },
	{ "shutdown", cmd_shutdown, "" },
	{ NULL, NULL, NULL }
};

static const char *
socket_from_config(const char *conf_path, int explicit)
{
	static struct config	conf;
	char			err[1024];

	config_defaults(&conf);
	if (config_load(&conf, conf_path, err, sizeof(err)) == -1 && explicit &&
	    strstr(err, "no listen line") == NULL)
		die("%s", err);
	return conf.control_socket;
}

int
main(int argc, char *argv[])
{
	const char		*conf_path = SYSCONFDIR "/chatd.conf", *cmd;
	const struct command	*c;
	struct args		 a;
	int			 ch, i, j, conf_given = 0;

	/* --json may stand anywhere. */
	for (i = j = 1; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
			json_out = 1;
		else
			argv[j++] = argv[i];
	argc = j;
	argv[argc] = NULL;
	while ((ch = getopt(argc, argv, "+c:hs:")) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			conf_given = 1;
			break;
		case 's':
			sock_path = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	cmd = argv[0];
	if (sock_path == NULL)
		sock_path = socket_from_config(conf_path, conf_given);
	for (c = commands; c->name != NULL; c++)
		if (strcmp(cmd, c->name) == 0) {
			parse_args(&a, argc - 1, argv + 1, c->opts);
			ctl_connect();
			return c->run(&a);
		}
	bad_usage("unknown command \"%s\"", cmd);
}
