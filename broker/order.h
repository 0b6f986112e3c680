/*
 * order.h - the message path: de-duplication of client retries, id
 * allocation, the write batch (group commit), and delivery after COMMIT.
 * A message is delivered only once MariaDB has committed it, and every
 * accepted message is either committed or answered with a failure naming
 * its temp_id: nothing acknowledged is ever lost.
 */
#ifndef CHATD_ORDER_H
#define CHATD_ORDER_H

#include <stddef.h>
#include <stdint.h>

struct bconn;

/* A message between acceptance and delivery. */
struct pmsg {
	struct pmsg	*m_next;
	uint64_t	 m_id;
	uint64_t	 m_room;
	uint64_t	 m_sender;
	uint64_t	 m_sender_conn;	/* conn_key of the sender, 0 = none */
	int64_t		 m_created_ms;
	char		*m_temp_id;	/* NULL = none */
	size_t		 m_temp_len;
	char		*m_content;
	size_t		 m_content_len;
};

/* Read the highest stored id; must run before the first order_post(). */
void	order_init(uint64_t max_id);
/* Accept a message from an open connection (content already validated). */
void	order_post(struct bconn *, const char *temp_id, size_t temp_len,
	    const char *content, size_t content_len);
size_t	order_pending(void);

#endif
