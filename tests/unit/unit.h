/*
 * unit.h: the smallest TAP producer. Each CHECK prints "ok N - what" or
 * "not ok N - what (file:line)"; unit_done() prints the plan and returns
 * the exit status. scripts/run-tests counts the lines.
 */
#ifndef SV_UNIT_H
#define SV_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_n, unit_failed;

static inline int
unit_check(int ok, const char *what, const char *file, int line)
{
	unit_n++;
	if (ok) {
		printf("ok %d - %s\n", unit_n, what);
	} else {
		unit_failed++;
		printf("not ok %d - %s (%s:%d)\n", unit_n, what, file, line);
	}
	fflush(stdout);
	return ok;
}

#define CHECK(cond, what) unit_check((cond) != 0, (what), __FILE__, __LINE__)
#define CHECK_STR(got, want, what)                                     \
	do {                                                           \
		const char *g_ = (got), *w_ = (want);                  \
		if (!CHECK(g_ != NULL && strcmp(g_, w_) == 0, (what))) \
			printf("#   got  '%s'\n#   want '%s'\n",       \
			    g_ != NULL ? g_ : "(null)", w_);           \
	} while (0)

static inline int
unit_done(void)
{
	printf("1..%d\n", unit_n);
	return unit_failed != 0;
}

#endif
