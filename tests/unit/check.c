/*
 * check.c - pass/fail counting for the unit tests.
 */
#include <stdarg.h>
#include <stdio.h>

#include "check.h"

int	check_passed, check_failed;

void
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

int
check_report(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
	return check_failed != 0;
}
