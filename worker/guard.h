/*
 * guard.h - per-connection bookkeeping and the worker's HTTP limits:
 * connections per worker and per client address, and the deadline for
 * a request's headers (slowloris).  Every MHD connection has one struct
 * hconn as its socket context, made when MHD starts the connection and
 * freed when it closes.  Decides; http.c does the answering.
 */
#ifndef CHATD_GUARD_H
#define CHATD_GUARD_H

#include <stddef.h>

struct MHD_Connection;
struct hconn;
struct tls_conn;

/* kind: a LISTEN_* letter (listen.h).  NULL on out of memory. */
struct hconn	*guard_open(struct MHD_Connection *, struct tls_conn *, int kind);
void		 guard_close(struct hconn *);
struct hconn	*guard_of(struct MHD_Connection *);	/* NULL if none */
struct tls_conn	*guard_tls(const struct hconn *);
int		 guard_kind(const struct hconn *);
/*
 * The HTTP status this connection must be refused with (503 or 429),
 * 0 if it may be served; *detail_out is the JSON detail text.
 */
unsigned	 guard_refusal(const struct hconn *, const char **detail_out);
/* A request's headers are in: its body gets a header_timeout of its own. */
void		 guard_headers_done(struct hconn *);
/* The body is in too: the clock stops until the answer. */
void		 guard_body_done(struct hconn *);
/* The request is answered: the next one's headers are on the clock. */
void		 guard_request_done(struct hconn *);
/* The connection is a WebSocket now: no more header clock. */
/* Returns a count the WebSocket session holds until guard_unhold(). */
uint64_t	 guard_upgraded(struct hconn *);
void		 guard_unhold(uint64_t);
/* Tell the broker a client hit a limit (enum refusal). */
void		 guard_count_refusal(int reason);
size_t		 guard_connections(void);

#endif
