/*
 * cli: what every command does the same way: process start-up hygiene,
 * the common options (-h -V -v -q --log-format), the stop flag set by
 * SIGINT/SIGTERM, number parsing, secrets from a file or the environment,
 * and the final stdout check.
 *
 * Option parsing helpers print to stderr but never exit: opts_parse() in
 * cmd/ decides (STYLE.md 3.4).
 */
#ifndef SV_CLI_H
#define SV_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "err.h"

/* Long option values for common options without a short form. */
#define SV_CLI_OPT_LOG_FORMAT 0x1000

/* Entries for a command's getopt_long table (keep the table sorted). */
#define SV_CLI_LONGOPT_HELP                    \
	{                                      \
		"help", no_argument, NULL, 'h' \
	}
#define SV_CLI_LONGOPT_LOG_FORMAT                                            \
	{                                                                    \
		"log-format", required_argument, NULL, SV_CLI_OPT_LOG_FORMAT \
	}
#define SV_CLI_LONGOPT_QUIET                    \
	{                                       \
		"quiet", no_argument, NULL, 'q' \
	}
#define SV_CLI_LONGOPT_VERBOSE                    \
	{                                         \
		"verbose", no_argument, NULL, 'v' \
	}
#define SV_CLI_LONGOPT_VERSION                    \
	{                                         \
		"version", no_argument, NULL, 'V' \
	}

/* Usage text for the common options, for each command's --help. */
#define SV_CLI_COMMON_HELP                                         \
	"  -h, --help               show this help and exit\n"     \
	"  -q, --quiet              log errors only\n"             \
	"  -V, --version            show the version and exit\n"   \
	"  -v, --verbose            log more (repeat for debug)\n" \
	"      --log-format=FMT     text (default) or json log records\n"

enum sv_cli_res {
	SV_CLI_OK, /* consumed; go on parsing */
	SV_CLI_EXIT, /* stop now and exit with *ex (-h, -V, bad value) */
	SV_CLI_UNKNOWN, /* not a common option */
};

/*
 * Start-up: remember the program name (basename of argv0), make sure fds
 * 0-2 are open (onto /dev/null if not), ignore SIGPIPE, make stdout line
 * buffered, install SIGINT/SIGTERM handlers (without SA_RESTART, so poll
 * returns EINTR) that only set the stop flag, and initialise logging.
 */
void sv_cli_init(const char *argv0);

/* The program name given to sv_cli_init(). */
const char *sv_cli_prog(void);

/* Nonzero once SIGINT or SIGTERM arrived (the signal number). */
int sv_cli_stopping(void);

/* Set the stop flag from code (e.g. -c N reached). */
void sv_cli_request_stop(void);

/*
 * Sleep ms milliseconds, ending early when a stop is requested. Returns
 * 0 after the full delay, -1 when stopped.
 */
int sv_cli_sleep_ms(long ms);

/*
 * Handle a common option: -q, -v, --log-format adjust logging and return
 * SV_CLI_OK; -h calls usage(stdout) and -V prints the version line, both
 * returning SV_CLI_EXIT with *ex = 0; an invalid --log-format prints a
 * usage error and returns SV_CLI_EXIT with *ex = EX_USAGE.
 */
enum sv_cli_res sv_cli_common(
    int c, const char *arg, void (*usage)(FILE *), int *ex);

/*
 * The default: branch of every opts_parse(): sv_cli_common(), and for
 * an option that is not a common one either (getopt_long has already
 * said what is wrong) "Try 'prog --help'." on stderr with *ex set to
 * EX_USAGE. Returns 0 to go on parsing, or 1 when the command is to
 * exit(*ex) now (-h, -V, a bad --log-format, an unknown option):
 *
 *	default:
 *		if (sv_cli_common_or_usage(c, optarg, usage, &ex) != 0)
 *			exit(ex);
 */
int sv_cli_common_or_usage(
    int c, const char *arg, void (*usage)(FILE *), int *ex);

/*
 * Print "prog: message" and "Try 'prog --help'." to stderr. Returns
 * EX_USAGE so opts_parse() can `exit(sv_cli_usage_error(...))`.
 */
int sv_cli_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * The -c/--count N of every tool that stops after N events or messages:
 * a positive number into *out. Returns 0, or EX_USAGE after the usage
 * error was printed (opts_parse() exits with it).
 */
int sv_cli_count(const char *arg, unsigned long *out);

/* Print "prog VERSION (libs ...)" to stdout. */
void sv_cli_version(void);

/*
 * Parse a decimal unsigned integer in [min, max], with no sign, no
 * garbage and no overflow. Returns 0, or -1 with *out untouched.
 */
int sv_cli_ulong(
    const char *s, unsigned long min, unsigned long max, unsigned long *out);

/*
 * Parse a non-negative decimal number of seconds such as "3", "0.25" into
 * milliseconds, at most max_ms. Returns 0 or -1.
 */
int sv_cli_seconds_ms(const char *s, long max_ms, long *out_ms);

/*
 * Read a secret: from `file` when it is not NULL (the first line, with
 * its line ending removed; EX_NOINPUT if unreadable), else from the
 * environment variable `env` (NULL result, no error, when unset or empty).
 * Every secret read is registered with sv_log_add_secret(). Returns a
 * heap copy the caller releases with sv_cli_secret_free(); NULL with
 * e->ex set on error, NULL with e->ex == 0 when there is none.
 */
char *sv_cli_secret(const char *env, const char *file, struct sv_err *e);

/* Wipe and free a secret from sv_cli_secret(). NULL is a no-op. */
void sv_cli_secret_free(char *secret);

/*
 * Final stdout check: flush and close stdout. A reader that went away
 * (EPIPE) keeps ex; any other failure turns a successful ex into
 * EX_IOERR. Returns the exit status to use.
 */
int sv_cli_finish(int ex);

#endif
