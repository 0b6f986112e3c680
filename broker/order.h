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
struct pmsg;

/*
 * Told once about a message posted by order_post_rest(): err is NULL when
 * it is stored (m is then the stored message), else the reason it is not.
 * m is valid during the call only.
 */
typedef void	order_done_cb(const struct pmsg *m, const char *err, void *arg);

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
	size_t		 m_dedup;	/* its de-duplication slot + 1, 0 = none */
	order_done_cb	*m_done;	/* a REST request waits; NULL = none */
	void		*m_done_arg;
};

/* What order_post_rest() did with a message. */
enum order_res {
	ORDER_QUEUED = 0,	/* done will be called */
	ORDER_DUP_STORED,	/* a retry of message *dup_out, stored */
	ORDER_DUP_PENDING,	/* a retry of message *dup_out, not stored yet */
	ORDER_FAILED,		/* queue full or out of memory */
	ORDER_DUP_OTHER,	/* the temp_id was given to another message */
};

/* The refusal of a new message that reuses a temp_id. */
extern const char	order_temp_reused[];

/* Read the highest stored id; must run before the first order_post(). */
/* max_packet: MariaDB's max_allowed_packet, which a batch must fit. */
void	order_init(uint64_t max_id, uint64_t max_packet);
/* Accept a message from an open connection (content already validated). */
void	order_post(struct bconn *, const char *temp_id, size_t temp_len,
	    const char *content, size_t content_len);
/* Accept a message sent without a WebSocket (REST): the same checks,
 * ids and ordering; the caller has checked membership and content. */
enum order_res	order_post_rest(uint64_t user, uint64_t room,
		    const char *temp_id, size_t temp_len, const char *content,
		    size_t content_len, order_done_cb *, void *arg,
		    uint64_t *dup_out);
size_t	order_pending(void);

#endif
