/*
 * metrics.h - GET /metrics on the admin listener.  The figures live in
 * the broker, which renders them as Prometheus text; this module only
 * asks for them (MSG_METRICS_GET) and answers the HTTP request with the
 * reply.  Nothing else is served on the admin listener.
 */
#ifndef CHATD_METRICS_H
#define CHATD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

struct metrics_req;

enum MHD_Result	metrics_handle(struct MHD_Connection *, const char *url,
		    const char *method, size_t *upload_data_size,
		    struct metrics_req **state);
void		metrics_free(struct metrics_req *);
/* The broker's answer to request id; text is copied. */
void		metrics_answer(uint64_t id, const char *text, size_t len);

#endif
