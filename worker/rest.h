/*
 * rest.h - the REST API under /api/v1.0/chat/.  Handlers authenticate
 * the caller, ask the broker (the worker never touches the database) and
 * answer with JSON; errors follow Django REST framework's shapes
 * ({"detail": "..."}, {"field": ["..."]}).
 */
#ifndef CHATD_REST_H
#define CHATD_REST_H

#include <stddef.h>

#include <microhttpd.h>

struct rest_req;
struct wire_msg;

enum MHD_Result	rest_handle(struct MHD_Connection *, const char *url,
		    const char *method, const char *upload_data,
		    size_t *upload_data_size, struct rest_req **state);
/*
 * On the first call of a request (headers only): answer 413 at once if
 * the declared body is over the limit, so that it is never read.  MHD_YES
 * with *state untouched if there is nothing to refuse.
 */
enum MHD_Result	rest_early(struct MHD_Connection *, const char *url,
		    const char *method, struct rest_req **state);
void		rest_free(struct rest_req *);
/* A MSG_REST_* answer frame from the broker; -1 if malformed. */
int		rest_reply(struct wire_msg *);
/* Answer every request still waiting for the broker with 503. */
void		rest_shutdown(void);
/* Queue a JSON reply with the given status. */
int		http_reply(struct MHD_Connection *, unsigned status,
		    const char *json, size_t len);

#endif
