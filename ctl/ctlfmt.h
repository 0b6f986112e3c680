/*
 * ctlfmt.h - chatctl's output: the broker answers with rows (JSON
 * objects); these print them as aligned tables and "key value" lines for
 * people, or as JSON documents for scripts.  Values are shown as they
 * come: strings unescaped, numbers as written, true/false as yes/no,
 * null as "-".
 */
#ifndef CHATD_CTLFMT_H
#define CHATD_CTLFMT_H

#include <stddef.h>

struct rows {
	char	**text;		/* NUL-terminated JSON objects */
	size_t	  n, cap;
};

struct column {
	const char	*key;	/* member of the row */
	const char	*label;	/* NULL ends a list */
};

void		 rows_add(struct rows *, const char *, size_t);
void		 rows_clear(struct rows *);
/* A member of row i as text ("" if absent); valid for the next 11 calls. */
const char	*row_value(const struct rows *, size_t i, const char *key);

void	print_table(const struct rows *, size_t first, const struct column *);
void	print_fields(const struct rows *, const struct column *);
void	print_array(const struct rows *, size_t first);
void	print_object(const struct rows *);
/* Row 0 with the rows after it as an array member named key. */
void	print_nested(const struct rows *, const char *key);

void	print_status(const struct rows *);
void	print_monitor_line(const struct rows *, int header);
/* Prints the checks; returns 1 if all passed. */
int	print_checks(const struct rows *, int json);
void	print_kicked(const struct rows *);
void	print_health(const struct rows *, unsigned long long room);

#endif
