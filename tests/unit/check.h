/*
 * check.h - the one assertion of the unit tests: count a case as passed,
 * or print why it failed and go on, so one run shows every failure.
 */
#ifndef CHATD_TEST_CHECK_H
#define CHATD_TEST_CHECK_H

#include <stdarg.h>
#include <stdio.h>

static int	check_passed, check_failed;

static inline void
check(int ok, const char *reason, const char *fmt, ...)
{
	va_list	ap;

	if (ok) {
		check_passed++;
		return;
	}
	check_failed++;
	printf("FAIL: %s: ", reason);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Print the totals; the exit status for main(). */
static inline int
check_report(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, check_passed,
	    check_failed);
	return check_failed != 0;
}

#endif
