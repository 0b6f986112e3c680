/*
 * render.h - the JSON of the server -> client chat messages, with the
 * keys and types of the API document and nothing else.  Each renders one
 * whole message into j (reset first); none sends anything.
 */
#ifndef CHATD_RENDER_H
#define CHATD_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct jw;

/* A message as it goes to clients (live or replayed). */
struct delivery {
	uint64_t	room;
	uint64_t	id;
	uint64_t	sender;
	int64_t		created_ms;
	uint32_t	sender_conn;
	int		status;		/* 1 sent, 2 delivered, 3 read */
	struct str	username;
	struct str	temp_id;
	struct str	content;
};

const char	*render_status_name(int);
/* with_temp adds the sender's temp_id. */
void	render_delivery(struct jw *, const struct delivery *, int with_temp);
void	render_error(struct jw *, const char *text);
/* An error about one chat message: names its temp_id (if any) as failed. */
void	render_failed(struct jw *, const char *text, const char *temp_id,
	    size_t temp_len);
void	render_status_update(struct jw *, uint64_t msg_id, int status,
	    int64_t ts_ms, uint64_t updated_by);
void	render_typing(struct jw *, uint64_t user, const struct str *username,
	    int on);
void	render_user_status(struct jw *, uint64_t user,
	    const struct str *username, int online, int64_t last_seen_ms);
void	render_ping(struct jw *, uint32_t seq);
void	render_pong(struct jw *);
void	render_reconnect(struct jw *, const char *reason, unsigned attempts,
	    unsigned max_attempts);
void	render_connection_status(struct jw *, int64_t opened_ms,
	    int64_t last_activity_ms);

#endif
