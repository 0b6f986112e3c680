/*
 * render.c - JSON for the server -> client messages.
 */
#include <inttypes.h>
#include <stdio.h>

#include "json.h"
#include "render.h"
#include "worker.h"

const char *
render_status_name(int s)
{
	switch (s) {
	case 2:
		return "delivered";
	case 3:
		return "read";
	default:
		return "sent";
	}
}

static void
open_typed(struct jw *j, const char *type)
{
	jw_reset(j);
	jw_obj_open(j);
	jw_kcstr(j, "type", type);
}

void
render_delivery(struct jw *j, const struct delivery *d, int with_temp)
{
	char		 did[64], *p = did + sizeof(did);
	uint64_t	 ms = d->created_ms > 0 ? (uint64_t)d->created_ms : 0;

	open_typed(j, "message");
	jw_key(j, "message");
	jw_obj_open(j);
	jw_kuint(j, "id", d->id);
	jw_kstr(j, "content", d->content.s, d->content.len);
	jw_kuint(j, "sender_id", d->sender);
	jw_kstr(j, "sender_username", d->username.s, d->username.len);
	jw_kcstr(j, "status", render_status_name(d->status));
	jw_ktime_ms(j, "created_at", d->created_ms);
	jw_kuint(j, "room_id", d->room);
	if (with_temp)
		jw_kstr(j, "temp_id", d->temp_id.s, d->temp_id.len);
	jw_obj_close(j);
	/* "msg_<id>_<seconds>.<milliseconds>", built from the end: one
	 * per delivery, where snprintf was a tenth of the rendering. */
	*--p = '0' + ms % 10;
	*--p = '0' + ms / 10 % 10;
	*--p = '0' + ms / 100 % 10;
	*--p = '.';
	p = fmt_u64(p, ms / 1000);
	*--p = '_';
	p = fmt_u64(p, d->id);
	p -= 4;
	memcpy(p, "msg_", 4);
	jw_kstr(j, "delivery_id", p, did + sizeof(did) - p);
	if (with_temp)
		jw_kstr(j, "temp_id", d->temp_id.s, d->temp_id.len);
	jw_obj_close(j);
}

void
render_error(struct jw *j, const char *text)
{
	open_typed(j, "error");
	jw_kcstr(j, "message", text);
	jw_ktime_ms(j, "timestamp", now_ms());
	jw_obj_close(j);
}

void
render_failed(struct jw *j, const char *text, const char *temp_id,
    size_t temp_len)
{
	open_typed(j, "error");
	jw_kcstr(j, "message", text);
	if (temp_len > 0) {
		jw_kstr(j, "temp_id", temp_id, temp_len);
		jw_kcstr(j, "status", "failed");
	}
	jw_ktime_ms(j, "timestamp", now_ms());
	jw_obj_close(j);
}

void
render_status_update(struct jw *j, uint64_t msg_id, int status,
    int64_t ts_ms, uint64_t updated_by)
{
	open_typed(j, "message_status_update");
	jw_kuint(j, "message_id", msg_id);
	jw_kcstr(j, "status", render_status_name(status));
	jw_ktime_ms(j, "timestamp", ts_ms);
	jw_kuint(j, "updated_by", updated_by);
	jw_obj_close(j);
}

void
render_typing(struct jw *j, uint64_t user, const struct str *username, int on)
{
	open_typed(j, "typing");
	jw_kuint(j, "user_id", user);
	jw_kstr(j, "username", username->s, username->len);
	jw_kbool(j, "is_typing", on);
	jw_ktime_ms(j, "timestamp", now_ms());
	jw_obj_close(j);
}

void
render_user_status(struct jw *j, uint64_t user, const struct str *username,
    int online, int64_t last_seen_ms)
{
	open_typed(j, "user_status_change");
	jw_kuint(j, "user_id", user);
	jw_kstr(j, "username", username->s, username->len);
	jw_kbool(j, "is_online", online);
	jw_ktime_ms(j, "last_seen", last_seen_ms);
	jw_obj_close(j);
}

void
render_ping(struct jw *j, uint32_t seq)
{
	open_typed(j, "ping");
	jw_ktime_ms(j, "timestamp", now_ms());
	jw_kuint(j, "sequence", seq);
	jw_obj_close(j);
}

void
render_pong(struct jw *j)
{
	int64_t	now = now_ms();

	open_typed(j, "pong");
	jw_ktime_ms(j, "timestamp", now);
	jw_ktime_ms(j, "server_time", now);
	jw_obj_close(j);
}

void
render_reconnect(struct jw *j, const char *reason, unsigned attempts,
    unsigned max_attempts)
{
	open_typed(j, "reconnect_suggested");
	jw_kcstr(j, "reason", reason);
	jw_kuint(j, "attempts", attempts);
	jw_kuint(j, "max_attempts", max_attempts);
	jw_obj_close(j);
}

void
render_connection_status(struct jw *j, int64_t opened_ms,
    int64_t last_activity_ms)
{
	int64_t	now = now_ms();

	open_typed(j, "connection_status");
	jw_kcstr(j, "status", "healthy");
	jw_kint(j, "duration_seconds", (now - opened_ms) / 1000);
	jw_ktime_ms(j, "last_activity", last_activity_ms);
	jw_ktime_ms(j, "timestamp", now);
	jw_obj_close(j);
}
