/*
 * control.h - the control socket chatctl talks to: a Unix socket (mode
 * 0660) that only root and the uid chatd runs as may use (checked with
 * SO_PEERCRED).  Each connection opens with MSG_HELLO, then carries one
 * request at a time; the replies are rows (JSON objects) or data chunks
 * and end with MSG_CTL_END, or fail with MSG_CTL_FAIL and a reason.
 *
 * control.c owns the socket, the connections and the requests answered
 * from memory; ctlstore.c the ones that read or write MariaDB; provision.c
 * bulk fixtures.  They reply through the ctl_* calls below.  A reply may
 * be sent long after the request (a database answer): a handler keeps
 * the connection's id, not the pointer, and asks ctl_get() again.
 */
#ifndef CHATD_CONTROL_H
#define CHATD_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "buf.h"

struct ctl;
struct jw;
struct wire_msg;

/* Bind the socket (fatal on failure) and start accepting. */
/* Bind the socket while still root; then watch it once the loop exists. */
void		 control_bind(void);
void		 control_init(void);
/* Stop accepting and remove the socket file. */
void		 control_close(void);

struct ctl	*ctl_get(uint64_t id);	/* NULL once the client is gone */
uint64_t	 ctl_id(const struct ctl *);
/* One row: j holds a complete JSON object. */
void		 ctl_row(struct ctl *, const struct jw *);
void		 ctl_data(struct ctl *, const char *, size_t);
/* End the reply; the connection takes the next request. */
void		 ctl_end(struct ctl *);
void		 ctl_fail(struct ctl *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* Bytes queued to the client and not yet written. */
size_t		 ctl_pending(const struct ctl *);

/*
 * A query on the control connection to MariaDB (not the message path's).
 * cb runs only if the client is still there; state is freed after it
 * returns either way.  Fails the request at once if MariaDB is down.
 */
typedef void	ctl_db_cb(struct ctl *, MYSQL_RES *, unsigned err,
		    const char *errstr, unsigned long long affected,
		    void *state);
void		 ctl_query(struct ctl *, const char *sql, size_t len,
		    ctl_db_cb *, void *state);
/* Escape s into a new string for a quoted SQL literal; NULL on ENOMEM. */
char		*ctl_escape(const char *s, size_t len);

/* Request handlers in ctlstore.c and provision.c: -1 = malformed. */
int		 ctl_user_add(struct ctl *, struct wire_msg *);
int		 ctl_user_list(struct ctl *, struct wire_msg *);
int		 ctl_user_show(struct ctl *, struct wire_msg *);
int		 ctl_room_create(struct ctl *, struct wire_msg *);
int		 ctl_room_list(struct ctl *, struct wire_msg *);
int		 ctl_room_show(struct ctl *, struct wire_msg *);
int		 ctl_token(struct ctl *, struct wire_msg *);
int		 ctl_provision(struct ctl *, struct wire_msg *);

/*
 * Find a user named by id (all digits) or username; cb gets its id and
 * username, or the request has already failed ("no user X").  state
 * (len bytes) is copied; cb sees the copy, which is freed after it.
 */
typedef void	ctl_user_cb(struct ctl *, uint64_t id, const char *username,
		    void *state);
void		 ctl_find_user(struct ctl *, const struct str *,
		    ctl_user_cb *, const void *state, size_t len);

/* The control connection to MariaDB, for work that must outlive its
 * client (provision.c): use ctl_get() in the callback. */
struct db	*ctl_db(void);

#endif
