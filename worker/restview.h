/*
 * restview.h - the JSON of REST answers, rendered from the broker's
 * record frames (MSG_REST_USER, _ROOM, _MESSAGE, _DONE).  Keys, types and
 * nesting follow the API contract exactly; nothing here does I/O.
 */
#ifndef CHATD_RESTVIEW_H
#define CHATD_RESTVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "json.h"

struct config;

struct ruser {
	uint64_t	 id;
	int		 online;
	int64_t		 last_seen_ms;
	char		*username;	/* owns the block of all three */
	char		*display_name;
	char		*image_urls;	/* JSON text as stored */
	char		*json;		/* the user object, once rendered */
	size_t		 json_len;
};

/* What an answer needs to be rendered once MSG_REST_DONE arrives. */
struct rview {
	uint64_t	 v_caller;
	int		 v_kind;	/* REST_Q_* */
	uint64_t	 v_room;
	uint64_t	 v_page;	/* 0 = cursor paging */
	uint64_t	 v_before;
	uint32_t	 v_psize;
	const char	*v_base;	/* "http://host", no trailing slash */
	const char	*v_path;	/* "/api/v1.0/chat/rooms/" */
	struct ruser	*v_users;
	size_t		 v_nusers, v_users_cap;
	struct jw	 v_results;	/* rendered rooms or messages */
	size_t		 v_nresults;
	uint64_t	 v_oldest;	/* smallest message id rendered */
};

void	rview_init(struct rview *);
void	rview_free(struct rview *);

/* Decode one record frame into the view; -1 if it is malformed. */
int	rview_user(struct rview *, struct rd *);
int	rview_room(struct rview *, struct rd *);
int	rview_message(struct rview *, struct rd *);

/*
 * Decode MSG_REST_DONE and render the whole answer into out; returns the
 * HTTP status, or -1 if the frame is malformed.
 */
int	rview_done(struct rview *, struct rd *, const struct config *,
	    struct jw *out);

/* {"detail": text}, and {"field": [text]} for a field error. */
void	rview_detail(struct jw *, const char *text);
void	rview_field_error(struct jw *, const char *field, const char *text);
/* "field": [text], inside an object the caller has opened. */
void	rview_field(struct jw *, const char *field, const char *text);

#endif
