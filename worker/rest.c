/*
 * rest.c - the REST API under /api/v1.0/chat/: routing, authentication,
 * request bodies, CORS, and the trip to the broker.
 *
 * Checks run in the order Django REST framework runs them: unknown path
 * (404), then the token (401), then the method (405), then parameters and
 * body (404 for a bad page, 400 for a bad body).  A request that needs
 * the broker is suspended in MHD and sent as MSG_REST_QUERY; the answer's
 * frames are collected in the request's rview, and MSG_REST_DONE (or the
 * rest_timeout) resumes the connection with the rendered JSON.  MHD only
 * notices a client that went away while suspended when it writes the
 * answer; the request lives until MHD's completion callback either way.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <microhttpd.h>

#include "chan.h"
#include "content.h"
#include "hmap.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "rest.h"
#include "restview.h"
#include "token.h"
#include "wire.h"
#include "worker.h"

#define REST_PREFIX	"/api/v1.0/chat/"
#define PAGE_SIZE	20
#define TEMP_ID_MAX	64

#define TXT_NO_CREDENTIALS	"Authentication credentials were not provided."
#define TXT_BAD_TOKEN		"Given token not valid for any token type"
#define TXT_REQUIRED		"This field is required."

enum rq_state {
	RQ_NEW = 0,	/* reading the body */
	RQ_WAIT,	/* suspended, waiting for the broker */
	RQ_DONE,	/* answer ready in rq_out */
};

struct rest_req {
	struct MHD_Connection	*rq_conn;
	enum rq_state		 rq_state;
	int			 rq_kind;	/* REST_Q_*, -1 = no such path */
	uint64_t		 rq_room;
	uint64_t		 rq_id;		/* broker request, 0 = none */
	char			*rq_body;
	size_t			 rq_len, rq_cap;
	int			 rq_too_big;
	struct event		*rq_timer;
	struct rview		 rq_view;
	unsigned		 rq_status;
	int			 rq_empty;	/* answer without a body */
	struct jw		 rq_out;
	char			 rq_base[300];
	char			 rq_path[96];
};

static struct hmap	pending;	/* rq_id -> rest_req */
static uint64_t		next_req;

/* Which method each kind takes; GET ones take HEAD as well. */
static const char *const kind_method[REST_Q_MAX] = {
	[REST_Q_ROOMS] = "GET",
	[REST_Q_ROOM] = "GET",
	[REST_Q_MESSAGES] = "GET",
	[REST_Q_POST] = "POST",
	[REST_Q_STATS] = "GET",
	[REST_Q_ROOM_HEALTH] = "GET",
	[REST_Q_HEALTH_ALL] = "POST",
};

/* A path segment that is a room id: digits that fit, not 0. */
static uint64_t
parse_id(const char *s, size_t n)
{
	uint64_t	v = 0;
	size_t		i;

	if (n == 0 || n > 20)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v;
}

/*
 * Route the path below REST_PREFIX; the trailing slash may be left out.
 * Sets rq_kind (-1 if nothing matches), rq_room and the canonical path.
 */
static void
route(struct rest_req *rq, const char *url)
{
	const char	*p, *seg[4];
	size_t		 len[4], n = 0;

	rq->rq_kind = -1;
	if (strncmp(url, REST_PREFIX, sizeof(REST_PREFIX) - 1) != 0)
		return;
	p = url + sizeof(REST_PREFIX) - 1;
	while (*p != '\0') {
		if (n == 4)
			return;
		seg[n] = p;
		len[n] = strcspn(p, "/");
		if (len[n] == 0)
			return;		/* "//" */
		p += len[n];
		n++;
		if (*p == '/')
			p++;
	}
#define SEG(i, s)	(len[i] == sizeof(s) - 1 && \
	    memcmp(seg[i], s, sizeof(s) - 1) == 0)
	if (n == 1 && SEG(0, "rooms"))
		rq->rq_kind = REST_Q_ROOMS;
	else if (n == 1 && SEG(0, "messages"))
		rq->rq_kind = REST_Q_POST;
	else if (n == 1 && SEG(0, "stats"))
		rq->rq_kind = REST_Q_STATS;
	else if (n == 1 && SEG(0, "health-check"))
		rq->rq_kind = REST_Q_HEALTH_ALL;
	else if (n >= 2 && n <= 3 && SEG(0, "rooms") &&
	    (rq->rq_room = parse_id(seg[1], len[1])) != 0) {
		if (n == 2)
			rq->rq_kind = REST_Q_ROOM;
		else if (SEG(2, "messages"))
			rq->rq_kind = REST_Q_MESSAGES;
		else if (SEG(2, "health"))
			rq->rq_kind = REST_Q_ROOM_HEALTH;
	}
#undef SEG
	if (rq->rq_kind == -1)
		return;
	/* Links in answers use the canonical form, with the slash. */
	snprintf(rq->rq_path, sizeof(rq->rq_path), "%s%.*s", REST_PREFIX,
	    (int)(p - (url + sizeof(REST_PREFIX) - 1)),
	    url + sizeof(REST_PREFIX) - 1);
	n = strlen(rq->rq_path);
	if (rq->rq_path[n - 1] != '/' && n + 1 < sizeof(rq->rq_path)) {
		rq->rq_path[n] = '/';
		rq->rq_path[n + 1] = '\0';
	}
}

/* "scheme://host" for absolute links: public_url, else the Host header
 * if it looks like a host, else localhost. */
static void
base_url(struct rest_req *rq)
{
	const char	*host, *pub = wctx->w_conf.public_url;
	size_t		 n, i;

	if (*pub != '\0') {
		n = strlen(pub);
		while (n > 0 && pub[n - 1] == '/')
			n--;
		snprintf(rq->rq_base, sizeof(rq->rq_base), "%.*s", (int)n, pub);
		return;
	}
	host = MHD_lookup_connection_value(rq->rq_conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_HOST);
	if (host == NULL || *host == '\0' || strlen(host) > 255)
		host = "localhost";
	for (i = 0; host[i] != '\0'; i++)
		if (!isalnum((unsigned char)host[i]) &&
		    strchr(".-_:[]", host[i]) == NULL) {
			host = "localhost";
			break;
		}
	snprintf(rq->rq_base, sizeof(rq->rq_base), "http://%s", host);
}

/* The value for Access-Control-Allow-Origin, or NULL: the request's
 * Origin if cors_origins lists it, "*" if it lists "*". */
static const char *
cors_origin(struct MHD_Connection *c)
{
	const char	*origin, *p = wctx->w_conf.cors_origins;
	size_t		 n, olen;

	origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	if (origin == NULL || *origin == '\0')
		return NULL;
	olen = strlen(origin);
	while (*p != '\0') {
		p += strspn(p, " \t");
		n = strcspn(p, " \t");
		if (n == 1 && *p == '*')
			return "*";
		if (n == olen && n > 0 && strncasecmp(p, origin, n) == 0)
			return origin;
		p += n;
	}
	return NULL;
}

static enum MHD_Result
add_headers(struct rest_req *rq, struct MHD_Response *r)
{
	struct MHD_Connection	*c = rq->rq_conn;
	const char		*origin = cors_origin(c);
	const char		*method;
	int			 ok = 1;

	if (!rq->rq_empty)
		ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		    "application/json") == MHD_YES;
	if (origin != NULL) {
		ok &= MHD_add_response_header(r, "Access-Control-Allow-Origin",
		    origin) == MHD_YES;
		ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_VARY,
		    "Origin") == MHD_YES;
	}
	if (rq->rq_status == MHD_HTTP_UNAUTHORIZED)
		ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"api\"") == MHD_YES;
	if (rq->rq_kind >= 0 && (rq->rq_status == MHD_HTTP_METHOD_NOT_ALLOWED
	    || rq->rq_empty)) {
		method = kind_method[rq->rq_kind];
		ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
		    strcmp(method, "GET") == 0 ? "GET, HEAD, OPTIONS" :
		    "POST, OPTIONS") == MHD_YES;
	}
	if (rq->rq_empty && origin != NULL) {
		/* A CORS preflight. */
		ok &= MHD_add_response_header(r, "Access-Control-Allow-Methods",
		    "GET, POST, OPTIONS") == MHD_YES;
		ok &= MHD_add_response_header(r, "Access-Control-Allow-Headers",
		    "authorization, content-type, accept, x-requested-with")
		    == MHD_YES;
		ok &= MHD_add_response_header(r, "Access-Control-Max-Age",
		    "86400") == MHD_YES;
	}
	return ok ? MHD_YES : MHD_NO;
}

static enum MHD_Result
respond(struct rest_req *rq)
{
	struct MHD_Response	*r;
	enum MHD_Result		 rv;

	if (rq->rq_out.err) {
		log_warnx("%s: could not render an answer", __func__);
		return MHD_NO;
	}
	if (rq->rq_empty || rq->rq_out.buf == NULL)
		r = MHD_create_response_from_buffer(0, NULL,
		    MHD_RESPMEM_PERSISTENT);
	else if ((r = MHD_create_response_from_buffer(rq->rq_out.len,
	    rq->rq_out.buf, MHD_RESPMEM_MUST_FREE)) != NULL)
		jw_init(&rq->rq_out);	/* MHD frees the body now */
	if (r == NULL)
		return MHD_NO;
	if (add_headers(rq, r) != MHD_YES) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	rv = MHD_queue_response(rq->rq_conn, rq->rq_status, r);
	MHD_destroy_response(r);
	return rv;
}

static enum MHD_Result
answer_detail(struct rest_req *rq, unsigned status, const char *text)
{
	rview_detail(&rq->rq_out, text);
	rq->rq_status = status;
	return respond(rq);
}

static void
req_unlink(struct rest_req *rq)
{
	if (rq->rq_id != 0) {
		hmap_del(&pending, rq->rq_id);
		rq->rq_id = 0;
	}
	if (rq->rq_timer != NULL)
		evtimer_del(rq->rq_timer);
}

/* The answer is in rq_out: let MHD call us again to queue it.  Answers
 * arrive from the broker many to a read, so MHD runs once for them all. */
static void
req_resume(struct rest_req *rq)
{
	req_unlink(rq);
	rq->rq_state = RQ_DONE;
	MHD_resume_connection(rq->rq_conn);
	http_kick_soon();
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rest_req	*rq = arg;

	(void)fd;
	(void)what;
	log_warnx("%s: no answer from the broker in %d s", __func__,
	    wctx->w_conf.rest_timeout);
	if (rq->rq_kind == REST_Q_STATS) {
		/* The one endpoint that reports on the broker itself. */
		jw_reset(&rq->rq_out);
		jw_obj_open(&rq->rq_out);
		jw_kcstr(&rq->rq_out, "detail",
		    "The chat service did not answer in time.");
		jw_kcstr(&rq->rq_out, "channel_layer_status", "unavailable");
		jw_obj_close(&rq->rq_out);
	} else
		rview_detail(&rq->rq_out,
		    "The chat service did not answer in time; try again.");
	rq->rq_status = MHD_HTTP_SERVICE_UNAVAILABLE;
	req_resume(rq);
}

/* Ask the broker and suspend until it answers or rest_timeout passes. */
static enum MHD_Result
ask_broker(struct rest_req *rq, uint64_t user, uint64_t page,
    uint64_t before, const char *temp, size_t temp_len, const char *content,
    size_t content_len)
{
	struct chan	*ch = wctx->w_broker;
	struct timeval	 tv = { wctx->w_conf.rest_timeout, 0 };
	size_t		 off;

	if (next_req == 0)	/* unique across worker restarts */
		next_req = ((uint64_t)getpid() << 32) | 1;
	if (rq->rq_timer == NULL &&
	    (rq->rq_timer = evtimer_new(wctx->w_base, timeout_cb, rq)) == NULL)
		return MHD_NO;
	rq->rq_id = next_req++;
	if (hmap_put(&pending, rq->rq_id, rq) == -1) {
		rq->rq_id = 0;
		return MHD_NO;
	}
	rq->rq_view.v_caller = user;
	rq->rq_view.v_kind = rq->rq_kind;
	rq->rq_view.v_room = rq->rq_room;
	rq->rq_view.v_page = before != 0 ? 0 : page;
	rq->rq_view.v_before = before;
	rq->rq_view.v_psize = PAGE_SIZE;
	rq->rq_view.v_base = rq->rq_base;
	rq->rq_view.v_path = rq->rq_path;
	off = chan_begin(ch, MSG_REST_QUERY, rq->rq_id);
	buf_add_u8(chan_out(ch), (uint8_t)rq->rq_kind);
	buf_add_u64(chan_out(ch), user);
	buf_add_u64(chan_out(ch), rq->rq_room);
	buf_add_u64(chan_out(ch), page);
	buf_add_u64(chan_out(ch), before);
	buf_add_u32(chan_out(ch), PAGE_SIZE);
	buf_add_str(chan_out(ch), temp, temp_len);
	buf_add_str(chan_out(ch), content, content_len);
	if (chan_send(ch, off) == -1) {
		req_unlink(rq);
		return answer_detail(rq, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "The chat service is unavailable.");
	}
	rq->rq_state = RQ_WAIT;
	evtimer_add(rq->rq_timer, &tv);
	MHD_suspend_connection(rq->rq_conn);
	return MHD_YES;
}

/* The caller's user id from "Authorization: Bearer <JWT>", or 0 after
 * answering 401. */
static uint64_t
authenticate(struct rest_req *rq, enum MHD_Result *rv)
{
	const char	*h, *why;
	uint64_t	 user;

	h = MHD_lookup_connection_value(rq->rq_conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	if (h == NULL || strncasecmp(h, "Bearer", 6) != 0 ||
	    (h[6] != ' ' && h[6] != '\0')) {
		*rv = answer_detail(rq, MHD_HTTP_UNAUTHORIZED,
		    TXT_NO_CREDENTIALS);
		return 0;
	}
	for (h += 6; *h == ' '; h++)
		;
	if ((user = token_verify(&wctx->w_conf, h, &why)) == 0) {
		log_debug("rest: token refused: %s", why);
		*rv = answer_detail(rq, MHD_HTTP_UNAUTHORIZED, TXT_BAD_TOKEN);
	}
	return user;
}

/* A positive integer query parameter: 1 = *out set (or dflt when absent),
 * 0 = present but not a positive integer. */
static int
uint_param(struct rest_req *rq, const char *name, uint64_t dflt,
    uint64_t *out)
{
	const char	*v;

	v = MHD_lookup_connection_value(rq->rq_conn, MHD_GET_ARGUMENT_KIND,
	    name);
	if (v == NULL) {
		*out = dflt;
		return 1;
	}
	*out = parse_id(v, strlen(v));
	return *out != 0;
}

/* One field error into an open object of errors. */
static void
field_error(struct jw *j, int *nerr, const char *field, const char *text)
{
	if ((*nerr)++ == 0) {
		jw_reset(j);
		jw_obj_open(j);
	}
	rview_field(j, field, text);
}

/* The "room" member of a message body: 0 after a field error. */
static uint64_t
body_room(const struct jdoc *doc, struct jw *err, int *nerr)
{
	char		 text[96], raw[24];
	int64_t		 n;
	uint64_t	 id;
	int		 i;

	i = jdoc_find(doc, "room");
	switch (jdoc_type(doc, i)) {
	case JT_NONE:
		field_error(err, nerr, "room", TXT_REQUIRED);
		return 0;
	case JT_NULL:
		field_error(err, nerr, "room", "This field may not be null.");
		return 0;
	case JT_NUMBER:
		if (jdoc_int64(doc, i, &n) == 0 && n > 0)
			return (uint64_t)n;
		break;
	case JT_STRING:
		if (jdoc_str(doc, i, raw, sizeof(raw), NULL) == 0 &&
		    (id = parse_id(raw, strlen(raw))) != 0)
			return id;
		break;
	default:
		field_error(err, nerr, "room",
		    "Incorrect type. Expected pk value.");
		return 0;
	}
	snprintf(text, sizeof(text), "Invalid pk \"%.*s\" - object does not "
	    "exist.", doc->tok[i].end - doc->tok[i].start > 24 ? 24 :
	    doc->tok[i].end - doc->tok[i].start, doc->js + doc->tok[i].start);
	field_error(err, nerr, "room", text);
	return 0;
}

/* The "content" member, checked as a WebSocket message is: NULL after a
 * field error.  The caller frees it. */
static char *
body_content(const struct jdoc *doc, size_t *len_out, struct jw *err,
    int *nerr)
{
	char	*s, why[96];
	int	 i;

	i = jdoc_find(doc, "content");
	switch (jdoc_type(doc, i)) {
	case JT_NONE:
		field_error(err, nerr, "content", TXT_REQUIRED);
		return NULL;
	case JT_NULL:
		field_error(err, nerr, "content", "This field may not be null.");
		return NULL;
	case JT_STRING:
		break;
	default:
		field_error(err, nerr, "content", "Not a valid string.");
		return NULL;
	}
	if ((s = jdoc_strdup(doc, i, len_out)) == NULL) {
		field_error(err, nerr, "content", "Not a valid string.");
		return NULL;
	}
	if (content_check(s, *len_out, wctx->w_conf.message_size_limit, why,
	    sizeof(why)) == -1) {
		field_error(err, nerr, "content", why);
		free(s);
		return NULL;
	}
	return s;
}

static enum MHD_Result
post_message(struct rest_req *rq, uint64_t user)
{
	struct jdoc	 doc;
	struct jw	*err = &rq->rq_out;
	char		 temp[TEMP_ID_MAX + 1], *content;
	size_t		 clen = 0, tlen = 0;
	enum MHD_Result	 rv;
	int		 nerr = 0, ti;

	if ((ti = jdoc_parse(&doc, rq->rq_len ? rq->rq_body : "{}",
	    rq->rq_len ? rq->rq_len : 2)) != 0)
		return answer_detail(rq, MHD_HTTP_BAD_REQUEST,
		    ti == JDOC_TOO_BIG ? "JSON parse error - more than 128 "
		    "JSON values" : "JSON parse error - Invalid JSON format");
	rq->rq_room = body_room(&doc, err, &nerr);
	content = body_content(&doc, &clen, err, &nerr);
	ti = jdoc_find(&doc, "temp_id");
	if (jdoc_type(&doc, ti) == JT_STRING) {
		if (jdoc_str(&doc, ti, temp, sizeof(temp), &tlen) == -1)
			field_error(err, &nerr, "temp_id", "Ensure this field "
			    "has no more than 64 characters.");
	} else if (ti != -1 && jdoc_type(&doc, ti) != JT_NULL)
		field_error(err, &nerr, "temp_id", "Not a valid string.");
	if (nerr > 0) {
		free(content);
		jw_obj_close(err);
		rq->rq_status = MHD_HTTP_BAD_REQUEST;
		return respond(rq);
	}
	rv = ask_broker(rq, user, 0, 0, temp, tlen, content, clen);
	free(content);
	return rv;
}

/* The whole request is in: decide, or ask the broker. */
static enum MHD_Result
rest_start(struct rest_req *rq, const char *method)
{
	enum MHD_Result	 rv = MHD_NO;
	uint64_t	 user, page = 1, before = 0;
	char		 text[64];
	const char	*want;

	if (rq->rq_kind == -1)
		return answer_detail(rq, MHD_HTTP_NOT_FOUND, "Not found.");
	if (strcmp(method, "OPTIONS") == 0) {
		rq->rq_empty = 1;
		rq->rq_status = MHD_HTTP_OK;
		return respond(rq);
	}
	if (rq->rq_too_big) {
		snprintf(text, sizeof(text), "Request body too large (max %d "
		    "bytes).", wctx->w_conf.max_body_size);
		return answer_detail(rq, MHD_HTTP_CONTENT_TOO_LARGE, text);
	}
	if ((user = authenticate(rq, &rv)) == 0)
		return rv;
	want = kind_method[rq->rq_kind];
	if (strcmp(method, want) != 0 && !(strcmp(want, "GET") == 0 &&
	    strcmp(method, "HEAD") == 0)) {
		snprintf(text, sizeof(text), "Method \"%.20s\" not allowed.",
		    method);
		return answer_detail(rq, MHD_HTTP_METHOD_NOT_ALLOWED, text);
	}
	base_url(rq);
	switch (rq->rq_kind) {
	case REST_Q_POST:
		return post_message(rq, user);
	case REST_Q_MESSAGES:
		if (!uint_param(rq, "before", 0, &before))
			return answer_detail(rq, MHD_HTTP_NOT_FOUND,
			    "Invalid cursor.");
		/* FALLTHROUGH */
	case REST_Q_ROOMS:
		if (!uint_param(rq, "page", 1, &page))
			return answer_detail(rq, MHD_HTTP_NOT_FOUND,
			    "Invalid page.");
		break;
	default:
		break;
	}
	return ask_broker(rq, user, page, before, "", 0, "", 0);
}

/* Keep a body chunk, up to max_body_size bytes. */
static void
take_body(struct rest_req *rq, const char *data, size_t n)
{
	size_t	 max = (size_t)wctx->w_conf.max_body_size, cap;
	char	*p;

	if (rq->rq_too_big || rq->rq_kind == -1)
		return;
	if (n > max - rq->rq_len) {
		rq->rq_too_big = 1;
		free(rq->rq_body);
		rq->rq_body = NULL;
		rq->rq_len = rq->rq_cap = 0;
		return;
	}
	if (rq->rq_len + n > rq->rq_cap) {
		cap = rq->rq_cap ? rq->rq_cap : 1024;
		while (cap < rq->rq_len + n)
			cap *= 2;
		if ((p = realloc(rq->rq_body, cap)) == NULL) {
			rq->rq_too_big = 1;	/* the only safe answer */
			return;
		}
		rq->rq_body = p;
		rq->rq_cap = cap;
	}
	memcpy(rq->rq_body + rq->rq_len, data, n);
	rq->rq_len += n;
}

static struct rest_req *
req_new(struct MHD_Connection *c, const char *url)
{
	struct rest_req	*rq;

	if ((rq = calloc(1, sizeof(*rq))) == NULL)
		return NULL;
	rq->rq_conn = c;
	jw_init(&rq->rq_out);
	rview_init(&rq->rq_view);
	route(rq, url);
	return rq;
}

enum MHD_Result
rest_early(struct MHD_Connection *c, const char *url, const char *method,
    struct rest_req **state)
{
	const char	*v;
	struct rest_req	*rq;

	v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (v == NULL || strtoull(v, NULL, 10) <=
	    (unsigned long long)wctx->w_conf.max_body_size)
		return MHD_YES;
	if ((rq = req_new(c, url)) == NULL)
		return MHD_NO;
	*state = rq;
	rq->rq_too_big = 1;
	return rest_start(rq, method);
}

enum MHD_Result
rest_handle(struct MHD_Connection *c, const char *url, const char *method,
    const char *upload_data, size_t *upload_data_size,
    struct rest_req **state)
{
	struct rest_req	*rq = *state;

	if (rq == NULL && (rq = *state = req_new(c, url)) == NULL)
		return MHD_NO;
	if (*upload_data_size != 0) {
		take_body(rq, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	switch (rq->rq_state) {
	case RQ_NEW:
		return rest_start(rq, method);
	case RQ_WAIT:
		return MHD_YES;		/* not answered yet */
	case RQ_DONE:
		break;
	}
	return respond(rq);
}

void
rest_free(struct rest_req *rq)
{
	if (rq == NULL)
		return;
	req_unlink(rq);
	if (rq->rq_timer != NULL)
		event_free(rq->rq_timer);
	rview_free(&rq->rq_view);
	jw_free(&rq->rq_out);
	free(rq->rq_body);
	free(rq);
}

int
rest_reply(struct wire_msg *m)
{
	struct rest_req	*rq = hmap_get(&pending, m->hdr.id);
	int		 status;

	if (rq == NULL)
		return 0;	/* timed out, or asked by a worker before us */
	switch (m->hdr.type) {
	case MSG_REST_USER:
		return rview_user(&rq->rq_view, &m->payload);
	case MSG_REST_ROOM:
		return rview_room(&rq->rq_view, &m->payload);
	case MSG_REST_MESSAGE:
		return rview_message(&rq->rq_view, &m->payload);
	case MSG_REST_DONE:
		status = rview_done(&rq->rq_view, &m->payload, &wctx->w_conf,
		    &rq->rq_out);
		if (status == -1)
			return -1;
		rq->rq_status = (unsigned)status;
		req_resume(rq);
		return 0;
	default:
		return -1;
	}
}

void
rest_shutdown(void)
{
	struct rest_req	**all;
	uint64_t	  key;
	void		 *v;
	size_t		  i = 0, n = 0;

	/* MHD must not be stopped with suspended connections. */
	if ((all = calloc(hmap_count(&pending) + 1, sizeof(*all))) == NULL)
		return;
	while (hmap_next(&pending, &i, &key, &v))
		all[n++] = v;
	for (i = 0; i < n; i++) {
		rview_detail(&all[i]->rq_out, "The server is shutting down.");
		all[i]->rq_status = MHD_HTTP_SERVICE_UNAVAILABLE;
		req_resume(all[i]);
	}
	free(all);
}
