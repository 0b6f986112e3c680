/*
 * metrics.c - /metrics on the admin listener: suspend the request, ask
 * the broker, resume with its text.
 */
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "hmap.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "rest.h"
#include "wire.h"
#include "worker.h"

#define METRICS_CTYPE	"text/plain; version=0.0.4; charset=utf-8"

struct metrics_req {
	struct MHD_Connection	*m_conn;
	uint64_t		 m_id;		/* 0 = not asked yet */
	char			*m_text;	/* the answer, once in */
	size_t			 m_len;
};

static struct hmap	waiting;	/* id -> struct metrics_req */
static uint64_t		next_id = 1;

static enum MHD_Result
metrics_reply(struct metrics_req *m)
{
	struct MHD_Response	*r;
	enum MHD_Result		 rv;

	r = MHD_create_response_from_buffer(m->m_len, m->m_text,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    METRICS_CTYPE);
	rv = MHD_queue_response(m->m_conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rv;
}

enum MHD_Result
metrics_handle(struct MHD_Connection *c, const char *url, const char *method,
    size_t *upload_data_size, struct metrics_req **state)
{
	static const char	notfound[] =
	    "{\"detail\":\"Only /metrics is served here.\"}";
	struct metrics_req	*m = *state;
	struct chan		*ch = wctx->w_broker;
	size_t			 off;

	if (*upload_data_size != 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") != 0 || (strcmp(method, "GET") != 0 &&
	    strcmp(method, "HEAD") != 0))
		return http_reply(c, MHD_HTTP_NOT_FOUND, notfound,
		    sizeof(notfound) - 1);
	if (m != NULL && m->m_text != NULL)
		return metrics_reply(m);
	if (m != NULL)
		return MHD_YES;		/* still waiting */
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return MHD_NO;
	m->m_conn = c;
	m->m_id = next_id++;
	if (hmap_put(&waiting, m->m_id, m) == -1) {
		free(m);
		return MHD_NO;
	}
	*state = m;
	off = chan_begin(ch, MSG_METRICS_GET, m->m_id);
	chan_send(ch, off);
	MHD_suspend_connection(c);
	return MHD_YES;
}

void
metrics_answer(uint64_t id, const char *text, size_t len)
{
	struct metrics_req	*m;

	if ((m = hmap_del(&waiting, id)) == NULL)
		return;
	if ((m->m_text = malloc(len + 1)) == NULL) {
		m->m_len = 0;
		m->m_text = strdup("");
	} else {
		memcpy(m->m_text, text, len);
		m->m_len = len;
	}
	MHD_resume_connection(m->m_conn);
	http_kick();
}

void
metrics_free(struct metrics_req *m)
{
	if (m == NULL)
		return;
	if (m->m_id != 0)
		hmap_del(&waiting, m->m_id);
	free(m->m_text);
	free(m);
}
