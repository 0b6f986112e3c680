/*
 * schema.c - check, install and upgrade the schema embedded from schema/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "schema.h"

#define ER_NO_SUCH_TABLE	1146

int
schema_wanted(void)
{
	return schema_steps[schema_nsteps - 1].version;
}

/* -2 = no schema_version table, -1 = error, else the version. */
static int
schema_current(MYSQL *m, char *err, size_t errsz)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	int		 v = 0;
	const char	 q[] = "SELECT MAX(version) FROM schema_version";

	if (mysql_real_query(m, q, sizeof(q) - 1) != 0) {
		if (mysql_errno(m) == ER_NO_SUCH_TABLE)
			return -2;
		snprintf(err, errsz, "reading the schema version: %s",
		    mysql_error(m));
		return -1;
	}
	if ((res = mysql_store_result(m)) == NULL) {
		snprintf(err, errsz, "reading the schema version: %s",
		    mysql_error(m));
		return -1;
	}
	if ((row = mysql_fetch_row(res)) != NULL && row[0] != NULL)
		v = atoi(row[0]);
	mysql_free_result(res);
	return v;
}

int
schema_check(MYSQL *m, char *err, size_t errsz)
{
	int	v = schema_current(m, err, errsz);

	if (v == -1)
		return -1;
	if (v == -2) {
		snprintf(err, errsz, "database \"%s\" has no chatd schema: "
		    "run \"chatd -i\" to install it", m->db ? m->db : "?");
		return -1;
	}
	if (v < schema_wanted()) {
		snprintf(err, errsz, "database schema version %d is older "
		    "than %d: run \"chatd -i\" to upgrade it", v,
		    schema_wanted());
		return -1;
	}
	if (v > schema_wanted()) {
		snprintf(err, errsz, "database schema version %d is newer "
		    "than this chatd (%d): upgrade chatd", v, schema_wanted());
		return -1;
	}
	return 0;
}

/* Run one file's statements; they are separated by ";" at a line end. */
static int
schema_run(MYSQL *m, const struct schema_step *s, char *err, size_t errsz)
{
	const char	*p = s->sql, *end;
	size_t		 n;

	while (*p != '\0') {
		if ((end = strstr(p, ";\n")) == NULL)
			end = p + strlen(p);
		n = end - p;
		if (strspn(p, " \t\n") < n &&
		    mysql_real_query(m, p, n) != 0) {
			snprintf(err, errsz, "%s: %s", s->name, mysql_error(m));
			return -1;
		}
		p = *end ? end + 2 : end;
	}
	return 0;
}

int
schema_install(MYSQL *m, char *err, size_t errsz)
{
	int	i, v = schema_current(m, err, errsz);

	if (v == -1)
		return -1;
	for (i = 0; i < schema_nsteps; i++) {
		if (schema_steps[i].version <= v)
			continue;
		if (schema_run(m, &schema_steps[i], err, errsz) == -1)
			return -1;
		log_info("schema: applied %s", schema_steps[i].name);
	}
	return 0;
}

int
schema_write_state(MYSQL *m, uint64_t *max_id, uint64_t *max_packet,
    char *err, size_t errsz)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	const char	 q[] = "SELECT IFNULL(MAX(id), 0), @@max_allowed_packet"
	    " FROM messages";

	if (mysql_real_query(m, q, sizeof(q) - 1) != 0 ||
	    (res = mysql_store_result(m)) == NULL) {
		snprintf(err, errsz, "reading the last message id: %s",
		    mysql_error(m));
		return -1;
	}
	*max_id = *max_packet = 0;
	if ((row = mysql_fetch_row(res)) != NULL) {
		if (row[0] != NULL)
			*max_id = strtoull(row[0], NULL, 10);
		if (row[1] != NULL)
			*max_packet = strtoull(row[1], NULL, 10);
	}
	mysql_free_result(res);
	return 0;
}
