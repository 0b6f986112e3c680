/*
 * rest.c - REST endpoints.  Not served yet: every path answers a JSON
 * 404, so clients get a clear answer instead of an HTML page.
 */
#include <stdlib.h>

#include "rest.h"

struct rest_req {
	int	unused;
};

enum MHD_Result
rest_handle(struct MHD_Connection *c, const char *url, const char *method,
    const char *upload_data, size_t *upload_data_size,
    struct rest_req **state)
{
	static const char	notfound[] = "{\"detail\":\"Not found.\"}";

	(void)url;
	(void)method;
	(void)upload_data;
	(void)state;
	if (*upload_data_size != 0) {
		*upload_data_size = 0;	/* discard the body */
		return MHD_YES;
	}
	return http_reply(c, MHD_HTTP_NOT_FOUND, notfound,
	    sizeof(notfound) - 1);
}

void
rest_free(struct rest_req *r)
{
	free(r);
}
