/*
 * status.h - the message status flow: sent -> delivered -> read.
 *
 * Only the recipient (the room's other participant) moves a message
 * forward, never backward; read implies delivered.  A repeated or
 * backward update changes nothing and tells nobody.  To decide, the
 * broker keeps a bounded index of recent messages (room, sender, status)
 * and asks MariaDB, on the read connection, about older ones: up to a
 * thousand in one SELECT, one SELECT at a time, so a client marking many
 * old messages (or flooding unknown ids) holds up nobody's reads.
 * Accepted changes are written in batches on the write connection (one
 * UPDATE per batch, the next batch when it returns) and announced after
 * the write.
 */
#ifndef CHATD_STATUS_H
#define CHATD_STATUS_H

#include <stdint.h>

struct bconn;

enum msg_status {
	MS_SENT = 1,		/* the numbers are the messages.status column */
	MS_DELIVERED = 2,
	MS_READ = 3,
};

/* A message was committed: remember it as "sent". */
void	status_note_stored(uint64_t msg_id, uint64_t room, uint64_t sender);
/* A client asks to move msg_id to status (MS_DELIVERED or MS_READ). */
void	status_request(struct bconn *, uint64_t msg_id, int status);
/*
 * Every status change that is stored goes through here, once, after the
 * write: it tells the room's connections.  Caches of messages kept by
 * other modules are to be updated here too.
 */
void	status_applied(uint64_t room, uint64_t msg_id, int status,
	    int64_t ts_ms, uint64_t updated_by);
/* Changes accepted and not yet written (for a clean shutdown). */
size_t	status_pending(void);

#endif
