/*
 * err: an error category (a sysexits code) plus a message, set where the
 * failure happens and reported by cmd/.
 *
 * lib functions return 0 or -1 and fill a struct sv_err; the code is chosen
 * at the failure site, where its category is known (STYLE.md 3.6).
 */
#ifndef SV_ERR_H
#define SV_ERR_H

#include <sysexits.h>

struct sv_err {
	int ex; /* EX_* from <sysexits.h>; 0 means "no error" */
	char msg[256]; /* "context: reason", no trailing newline */
};

/* Clear e (ex = 0, empty message). e may be NULL. */
void sv_err_clear(struct sv_err *e);

/*
 * Set e->ex and format e->msg (truncated to fit). Returns -1 so a caller
 * can write `return sv_err_set(e, EX_..., "...")`. e may be NULL.
 */
int sv_err_set(struct sv_err *e, int ex, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Prefix e->msg with "context: " (for callers that add where the failure
 * happened). Returns -1.
 */
int sv_err_prefix(struct sv_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
