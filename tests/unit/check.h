/*
 * check.h - the unit tests' one assertion: count a case as passed, or
 * print why it failed and go on, so one run shows every failure.
 */
#ifndef CHATD_CHECK_H
#define CHATD_CHECK_H

extern int	check_passed, check_failed;

void	check(int ok, const char *reason, const char *fmt, ...);
/* Print the totals for name; the exit status for main(). */
int	check_report(const char *name);

#endif
