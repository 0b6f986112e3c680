/*
 * test-restview.c - unit tests for worker/restview.c: broker record frames
 * in, the API's JSON out.  Avatar lists as the application may have
 * stored them, rooms from either participant's side, message status
 * names, pagination links, error shapes, and frames that are truncated or
 * too long.  Every row says why it is there.  Exits non-zero if any case
 * fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "config.h"
#include "json.h"
#include "restview.h"
#include "wire.h"

/* restview.c stamps "timestamp" with the worker's clock. */
int64_t
now_ms(void)
{
	return 1735122600000LL;		/* 2024-12-25T10:30:00Z */
}

static int
starts_with(const char *s, const char *prefix)
{
	return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

static void
add_user(struct buf *b, uint64_t id, int online, uint64_t seen,
    const char *name, const char *urls)
{
	buf_add_u64(b, id);
	buf_add_u8(b, online);
	buf_add_u64(b, seen);
	buf_add_cstr(b, name);
	buf_add_cstr(b, "Display");
	buf_add_cstr(b, urls);
}

static int
feed(struct rview *v, int (*fn)(struct rview *, struct rd *),
    const struct buf *b, size_t cut)
{
	struct rd	r;

	rd_init(&r, b->b_data, b->b_len - cut);
	return fn(v, &r);
}

static void
add_done(struct buf *b, uint16_t status, uint64_t count, int more,
    const char *field, const char *text)
{
	buf_add_u16(b, status);
	buf_add_u64(b, count);
	buf_add_u8(b, more);
	buf_add_u64(b, 3);
	buf_add_u64(b, 2);
	buf_add_u64(b, 1);
	buf_add_cstr(b, field);
	buf_add_cstr(b, text);
}

/* Render DONE into out; returns the status. */
static int
done(struct rview *v, uint16_t status, uint64_t count, int more,
    const char *field, const char *text, struct jw *out)
{
	struct config	c;
	struct buf	b;
	struct rd	r;
	int		rv;

	config_defaults(&c);
	buf_init(&b);
	add_done(&b, status, count, more, field, text);
	rd_init(&r, b.b_data, b.b_len);
	rv = rview_done(v, &r, &c, out);
	buf_free(&b);
	return rv;
}

/*
 * users.image_urls as the application may have written it.
 */

static const struct {
	const char	*reason;
	const char	*stored;
	const char	*want;
} url_cases[] = {
	{ "a list of strings is kept in order", "[\"a.jpg\",\"b.jpg\"]",
	    "[\"a.jpg\",\"b.jpg\"]" },
	{ "an empty list", "[]", "[]" },
	{ "white space around the list", "  [ \"x\" ]  ", "[\"x\"]" },
	{ "escapes are decoded and encoded again", "[\"caf\\u00e9\\/1\"]",
	    "[\"caf\xc3\xa9/1\"]" },
	{ "non-strings are left out, nested ones skipped whole",
	    "[\"a\",5,{\"k\":[1,2,\"no\"]},[\"no\"],null,\"b\"]",
	    "[\"a\",\"b\"]" },
	{ "not JSON at all gives an empty list", "not json", "[]" },
	{ "an object is not a list", "{\"a\":\"b\"}", "[]" },
	{ "a bare string is not a list", "\"a.jpg\"", "[]" },
	{ "an empty column", "", "[]" },
	{ "trailing garbage makes it unreadable", "[\"a\"] x", "[]" },
};

static void
test_image_urls(void)
{
	struct rview	v;
	struct jw	out;
	struct buf	b;
	char		want[512];
	size_t		i;

	for (i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
		rview_init(&v);
		jw_init(&out);
		buf_init(&b);
		v.v_kind = REST_Q_POST;
		add_user(&b, 7, 0, 0, "u", url_cases[i].stored);
		check(feed(&v, rview_user, &b, 0) == 0, url_cases[i].reason,
		    "user frame refused");
		buf_reset(&b);
		buf_add_u64(&b, 1);		/* id */
		buf_add_u64(&b, 2);		/* room */
		buf_add_u64(&b, 7);		/* sender */
		buf_add_u8(&b, 1);
		buf_add_u64(&b, 0); buf_add_u64(&b, 0); buf_add_u64(&b, 0);
		buf_add_u64(&b, 0); buf_add_u64(&b, 0);
		buf_add_cstr(&b, "hi");
		check(feed(&v, rview_message, &b, 0) == 0, url_cases[i].reason,
		    "message frame refused");
		check(done(&v, 201, 1, 0, "", "", &out) == 201,
		    url_cases[i].reason, "status");
		snprintf(want, sizeof(want), "\"imageUrls\":%s,",
		    url_cases[i].want);
		check(out.buf != NULL && strstr(out.buf, want) != NULL,
		    url_cases[i].reason, "want %s in %s", want,
		    out.buf ? out.buf : "(null)");
		buf_free(&b);
		jw_free(&out);
		rview_free(&v);
	}
}

/*
 * A room, seen by either participant.
 */

static void
room_frame(struct buf *b, uint64_t match, uint8_t typing, uint64_t last_id)
{
	buf_add_u64(b, 10);			/* room */
	buf_add_u64(b, 1);			/* p1 */
	buf_add_u64(b, 2);			/* p2 */
	buf_add_u64(b, match);
	buf_add_u64(b, 1735113600000ULL);	/* 2024-12-25T08:00:00Z */
	buf_add_u64(b, 4);			/* unread */
	buf_add_u8(b, typing);
	buf_add_u64(b, last_id);
	buf_add_u64(b, 2);
	buf_add_u8(b, 3);
	buf_add_u64(b, 1735122300000ULL);	/* 10:25 */
	buf_add_cstr(b, "Hey");
}

static const char room_as_p1[] = "{\"id\":10,"
    "\"participant1\":{\"id\":1,\"username\":\"john\",\"display_name\":"
    "\"Display\",\"imageUrls\":[],\"is_online\":true,\"last_seen\":null},"
    "\"participant2\":{\"id\":2,\"username\":\"jane\",\"display_name\":"
    "\"Display\",\"imageUrls\":[\"j.jpg\"],\"is_online\":false,\"last_seen\":"
    "\"2024-12-25T09:15:00.000Z\"},"
    "\"other_participant\":{\"id\":2,\"username\":\"jane\",\"display_name\":"
    "\"Display\",\"imageUrls\":[\"j.jpg\"],\"is_online\":false,\"last_seen\":"
    "\"2024-12-25T09:15:00.000Z\"},"
    "\"match\":123,\"last_message\":{\"id\":456,\"content\":\"Hey\","
    "\"sender_id\":2,\"status\":\"read\",\"created_at\":"
    "\"2024-12-25T10:25:00.000Z\"},\"unread_count\":4,"
    "\"typing_users\":[{\"id\":2,\"username\":\"jane\",\"display_name\":"
    "\"Display\"}],\"created_at\":\"2024-12-25T08:00:00.000Z\"}";

static void
test_room(void)
{
	struct rview	 v;
	struct jw	 out;
	struct buf	 b;
	const char	*p;
	size_t		 cut;

	rview_init(&v);
	jw_init(&out);
	buf_init(&b);
	v.v_caller = 1;
	v.v_kind = REST_Q_ROOM;
	add_user(&b, 1, 1, 0, "john", "[]");
	feed(&v, rview_user, &b, 0);
	buf_reset(&b);
	add_user(&b, 2, 0, 1735118100000ULL, "jane", "[\"j.jpg\"]");
	feed(&v, rview_user, &b, 0);
	buf_reset(&b);
	room_frame(&b, 123, 2, 456);
	check(feed(&v, rview_room, &b, 0) == 0, "room frame", "refused");
	check(done(&v, 200, 1, 0, "", "", &out) == 200, "room status", "");
	check(out.buf && strcmp(out.buf, room_as_p1) == 0,
	    "room as the spec shows it, from participant1's side",
	    "\n got %s\nwant %s", out.buf, room_as_p1);
	rview_free(&v);

	/* The other side, no match, no message, nobody typing. */
	rview_init(&v);
	v.v_caller = 2;
	v.v_kind = REST_Q_ROOM;
	buf_reset(&b);
	add_user(&b, 1, 1, 0, "john", "[]");
	feed(&v, rview_user, &b, 0);
	buf_reset(&b);
	room_frame(&b, 0, 0, 0);
	feed(&v, rview_room, &b, 0);
	done(&v, 200, 1, 0, "", "", &out);
	p = out.buf ? strstr(out.buf, "\"other_participant\":{\"id\":1,") : NULL;
	check(p != NULL, "other_participant is the one who is not the caller",
	    "%s", out.buf);
	check(strstr(out.buf, "\"participant2\":null") != NULL,
	    "a user the broker did not send is null, not garbage", "%s",
	    out.buf);
	check(strstr(out.buf, "\"match\":null,\"last_message\":null,") != NULL
	    && strstr(out.buf, "\"typing_users\":[]") != NULL,
	    "no match, no message, nobody typing", "%s", out.buf);
	rview_free(&v);

	/* Every truncation of a room frame is refused, and so is an extra
	 * byte. */
	buf_reset(&b);
	room_frame(&b, 1, 0, 1);
	for (cut = 1; cut <= b.b_len; cut++) {
		rview_init(&v);
		check(feed(&v, rview_room, &b, cut) == -1,
		    "truncated room frame refused", "cut %zu", cut);
		rview_free(&v);
	}
	buf_add_u8(&b, 0);
	rview_init(&v);
	check(feed(&v, rview_room, &b, 0) == -1, "trailing byte refused", "");
	rview_free(&v);
	buf_free(&b);
	jw_free(&out);
}

/*
 * Messages: status names, null times, pagination links.
 */

static void
message_frame(struct buf *b, uint64_t id, uint8_t status, uint64_t delivered)
{
	buf_add_u64(b, id);
	buf_add_u64(b, 10);
	buf_add_u64(b, 2);
	buf_add_u8(b, status);
	buf_add_u64(b, 1735122301000ULL);
	buf_add_u64(b, delivered);
	buf_add_u64(b, 0);
	buf_add_u64(b, 1735122300000ULL);
	buf_add_u64(b, 1735122301000ULL);
	buf_add_cstr(b, "x");
}

static const struct {
	const char	*reason;
	uint8_t		 status;
	const char	*want;
} status_cases[] = {
	{ "1 is sent", 1, "\"status\":\"sent\",\"status_display\":\"Sent\"" },
	{ "2 is delivered", 2,
	    "\"status\":\"delivered\",\"status_display\":\"Delivered\"" },
	{ "3 is read, and is_read", 3,
	    "\"status\":\"read\",\"status_display\":\"Read\"" },
	{ "an unknown number is not rendered as garbage", 9,
	    "\"status\":\"sending\",\"status_display\":\"Sending\"" },
};

/* Two messages (ids 30, 29) of 45 on a page. */
static const struct {
	const char	*reason;
	uint64_t	 page;		/* 0 = cursor paging */
	int		 more;
	const char	*base;
	const char	*want;
} link_cases[] = {
	{ "page 2 of 3 links both ways; page 1 without ?page", 2, 1,
	    "http://h:1", "{\"count\":45,\"next\":\"http://h:1/m/?page=3\","
	    "\"previous\":\"http://h:1/m/\",\"results\":[{\"id\":30," },
	{ "the last page has no next", 3, 0, "http://h",
	    "{\"count\":45,\"next\":null,\"previous\":\"http://h/m/?page=2\"," },
	{ "page 1 has no previous", 1, 1, "http://h",
	    "{\"count\":45,\"next\":\"http://h/m/?page=2\",\"previous\":null," },
	{ "a cursor page names the oldest message shown", 0, 1, "https://x",
	    "{\"count\":45,\"next\":\"https://x/m/?before=29\","
	    "\"previous\":null," },
	{ "the oldest cursor page has no next", 0, 0, "https://x",
	    "{\"count\":45,\"next\":null,\"previous\":null," },
};

static void
test_messages(void)
{
	struct rview	v;
	struct jw	out;
	struct buf	b;
	size_t		i, k;

	jw_init(&out);
	buf_init(&b);
	for (i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
		rview_init(&v);
		v.v_kind = REST_Q_POST;
		buf_reset(&b);
		message_frame(&b, 5, status_cases[i].status, 0);
		feed(&v, rview_message, &b, 0);
		done(&v, 201, 1, 0, "", "", &out);
		check(strstr(out.buf, status_cases[i].want) != NULL,
		    status_cases[i].reason, "%s", out.buf);
		check(strstr(out.buf, status_cases[i].status == 3 ?
		    "\"is_read\":true" : "\"is_read\":false") != NULL,
		    status_cases[i].reason, "is_read in %s", out.buf);
		check(strstr(out.buf, "\"delivered_at\":null,\"read_at\":null")
		    != NULL, "unset times are null", "%s", out.buf);
		rview_free(&v);
	}

	for (i = 0; i < sizeof(link_cases) / sizeof(link_cases[0]); i++) {
		rview_init(&v);
		v.v_kind = REST_Q_MESSAGES;
		v.v_page = link_cases[i].page;
		v.v_base = link_cases[i].base;
		v.v_path = "/m/";
		for (k = 0; k < 2; k++) {
			buf_reset(&b);
			message_frame(&b, 30 - k, 1, 0);
			feed(&v, rview_message, &b, 0);
		}
		done(&v, 200, 45, link_cases[i].more, "", "", &out);
		check(starts_with(out.buf, link_cases[i].want),
		    link_cases[i].reason, "\n got %s\nwant %s...", out.buf,
		    link_cases[i].want);
		rview_free(&v);
	}
	buf_free(&b);
	jw_free(&out);
}

/*
 * Errors and the fixed shapes.
 */

static void
test_done(void)
{
	struct rview	 v;
	struct jw	 out;
	struct buf	 b;
	struct config	 c;
	struct rd	 r;
	size_t		 cut;
	static const char stats[] = "{\"user_id\":5,\"total_rooms\":3,"
	    "\"active_rooms_today\":2,\"recent_messages_24h\":1,"
	    "\"channel_layer_status\":\"available\",\"timestamp\":"
	    "\"2024-12-25T10:30:00.000Z\",\"connection_settings\":"
	    "{\"heartbeat_interval\":30,\"connection_timeout\":14400,"
	    "\"ping_timeout\":10,\"max_reconnect_attempts\":5}}";

	jw_init(&out);
	rview_init(&v);
	check(done(&v, 404, 0, 0, "", "Not found.", &out) == 404 &&
	    strcmp(out.buf, "{\"detail\":\"Not found.\"}") == 0,
	    "an error is a detail", "%s", out.buf);
	rview_free(&v);
	rview_init(&v);
	check(done(&v, 400, 0, 0, "room", "Invalid \"9\"", &out) == 400 &&
	    strcmp(out.buf, "{\"room\":[\"Invalid \\\"9\\\"\"]}") == 0,
	    "a field error is a list under the field", "%s", out.buf);
	rview_free(&v);
	rview_init(&v);
	v.v_kind = REST_Q_STATS;
	v.v_caller = 5;
	done(&v, 200, 0, 0, "", "", &out);
	check(strcmp(out.buf, stats) == 0, "stats shape", "\n got %s\nwant %s",
	    out.buf, stats);
	rview_free(&v);
	rview_init(&v);
	v.v_kind = REST_Q_ROOM_HEALTH;
	v.v_room = 4;
	done(&v, 200, 0, 0, "", "", &out);
	check(strcmp(out.buf, "{\"room_id\":4,\"group_name\":\"chat_4\","
	    "\"health_check_sent\":true,\"recent_messages_count\":2,"
	    "\"timestamp\":\"2024-12-25T10:30:00.000Z\"}") == 0,
	    "room health shape", "%s", out.buf);
	rview_free(&v);
	rview_init(&v);
	v.v_kind = REST_Q_ROOM;
	check(done(&v, 200, 1, 0, "", "", &out) == 503,
	    "a room answer without its room is a 503, not an empty object",
	    "%s", out.buf);
	rview_free(&v);

	config_defaults(&c);
	buf_init(&b);
	add_done(&b, 200, 1, 0, "", "");
	for (cut = 1; cut <= b.b_len; cut++) {
		rview_init(&v);
		rd_init(&r, b.b_data, b.b_len - cut);
		check(rview_done(&v, &r, &c, &out) == -1,
		    "truncated DONE refused", "cut %zu", cut);
		rview_free(&v);
	}
	buf_reset(&b);
	add_done(&b, 99, 1, 0, "", "");
	rview_init(&v);
	rd_init(&r, b.b_data, b.b_len);
	check(rview_done(&v, &r, &c, &out) == -1, "status 99 refused", "");
	rview_free(&v);
	buf_free(&b);
	jw_free(&out);
}

int
main(void)
{
	test_image_urls();
	test_room();
	test_messages();
	test_done();
	return check_report("test-restview");
}
