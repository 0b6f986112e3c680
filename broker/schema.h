/*
 * schema.h - the database schema this chatd needs: check it at start and
 * install or upgrade it on request (chatd -i).  Blocking calls, used only
 * before the event loop runs.
 */
#ifndef CHATD_SCHEMA_H
#define CHATD_SCHEMA_H

#include <stdint.h>

#include <mysql.h>

struct schema_step {
	int		 version;
	const char	*name;
	const char	*sql;
};

extern const struct schema_step	schema_steps[];
extern const int		schema_nsteps;

/* The version this binary needs: the last step's. */
int	schema_wanted(void);
/* 0 = schema is current; -1 = not (reason in err, saying what to run). */
int	schema_check(MYSQL *, char *err, size_t errsz);
/* Apply every step newer than the database's; -1 with reason in err. */
int	schema_install(MYSQL *, char *err, size_t errsz);
/* Highest message id stored, for the id allocator, and the server's
 * max_allowed_packet, which bounds a write batch. */
int	schema_write_state(MYSQL *, uint64_t *max_id, uint64_t *max_packet,
	    char *err, size_t errsz);

#endif
