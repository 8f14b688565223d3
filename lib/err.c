/* err: error category plus message; see err.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

void
sv_err_clear(struct sv_err *e)
{
	if (e == NULL)
		return;
	e->ex = 0;
	e->msg[0] = '\0';
}

int
sv_err_set(struct sv_err *e, int ex, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	e->ex = ex;
	va_start(ap, fmt);
	(void)vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int
sv_err_prefix(struct sv_err *e, const char *fmt, ...)
{
	char pre[128];
	size_t pl, ml;
	va_list ap;
	int n;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(pre, sizeof(pre) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	pl = strlen(pre);
	memcpy(pre + pl, ": ", 2);
	pl += 2;
	ml = strlen(e->msg);
	if (pl + ml >= sizeof(e->msg))
		ml = sizeof(e->msg) - 1 - pl;
	memmove(e->msg + pl, e->msg, ml);
	memcpy(e->msg, pre, pl);
	e->msg[pl + ml] = '\0';
	return -1;
}
