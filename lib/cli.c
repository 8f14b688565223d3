/* cli: start-up, common options and final checks; see cli.h. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/opensslv.h>

#include "cli.h"
#include "log.h"

#ifndef SV_VERSION
#define SV_VERSION "0.0.0"
#endif

static volatile sig_atomic_t stop_sig;

static void
on_stop(int sig)
{
	stop_sig = sig;
}

static void
sanitize_stdfds(void)
{
	int fd;

	/* As git's sanitize_stdfds: a closed 0-2 would be reused by the
	 * next open() and receive our output by accident. */
	fd = open("/dev/null", O_RDWR);
	while (fd >= 0 && fd <= 2)
		fd = dup(fd);
	if (fd > 2)
		close(fd);
}

void
sv_cli_init(const char *argv0)
{
	struct sigaction sa;

	sanitize_stdfds();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: blocking calls return EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	sv_log_init(argv0);
}

const char *
sv_cli_prog(void)
{
	return sv_log_prog();
}

int
sv_cli_stopping(void)
{
	return stop_sig;
}

void
sv_cli_request_stop(void)
{
	if (stop_sig == 0)
		stop_sig = -1;
}

int
sv_cli_sleep_ms(long ms)
{
	struct timespec now, end;
	long left;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		if (stop_sig != 0)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (end.tv_sec - now.tv_sec) * 1000 +
		    (end.tv_nsec - now.tv_nsec) / 1000000L;
		if (left <= 0)
			return 0;
		/* poll() without fds is a sleep that SIGTERM interrupts;
		 * the cap bounds the window between the check and poll. */
		(void)poll(NULL, 0, left > 250 ? 250 : (int)left);
	}
}

void
sv_cli_version(void)
{
	printf("%s %s (jansson %s, %s)\n", sv_log_prog(), SV_VERSION,
	    JANSSON_VERSION, OPENSSL_VERSION_TEXT);
}

enum sv_cli_res
sv_cli_common(int c, const char *arg, void (*usage)(FILE *), int *ex)
{
	int json;

	switch (c) {
	case 'h':
		usage(stdout);
		*ex = 0;
		return SV_CLI_EXIT;
	case 'q':
		sv_log_set_level(SV_LOG_ERROR);
		return SV_CLI_OK;
	case 'V':
		sv_cli_version();
		*ex = 0;
		return SV_CLI_EXIT;
	case 'v':
		sv_log_set_level(sv_log_level() + 1);
		return SV_CLI_OK;
	case SV_CLI_OPT_LOG_FORMAT:
		if (sv_log_format_parse(arg, &json) < 0) {
			*ex = sv_cli_usage_error(
			    "--log-format: expected text or json, got '%s'",
			    arg);
			return SV_CLI_EXIT;
		}
		sv_log_set_json(json);
		return SV_CLI_OK;
	default:
		return SV_CLI_UNKNOWN;
	}
}

int
sv_cli_common_or_usage(int c, const char *arg, void (*usage)(FILE *), int *ex)
{
	switch (sv_cli_common(c, arg, usage, ex)) {
	case SV_CLI_OK:
		return 0;
	case SV_CLI_EXIT:
		return 1;
	case SV_CLI_UNKNOWN:
		break;
	}
	fprintf(stderr, "Try '%s --help'.\n", sv_cli_prog());
	*ex = EX_USAGE;
	return 1;
}

int
sv_cli_count(const char *arg, unsigned long *out)
{
	if (sv_cli_ulong(arg, 1, ULONG_MAX, out) < 0)
		return sv_cli_usage_error(
		    "--count: expected a positive number, got '%s'", arg);
	return 0;
}

int
sv_cli_usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\nTry '%s --help'.\n", sv_log_prog(), msg,
	    sv_log_prog());
	return EX_USAGE;
}

int
sv_cli_ulong(
    const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
sv_cli_seconds_ms(const char *s, long max_ms, long *out_ms)
{
	long ms = 0, scale = 100;
	const char *p = s;

	if (s == NULL || (*p < '0' || *p > '9'))
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		ms = ms * 10 + (*p - '0');
		if (ms > max_ms / 1000 + 1)
			return -1;
	}
	ms *= 1000;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		for (; *p >= '0' && *p <= '9'; p++) {
			ms += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p != '\0' || ms > max_ms)
		return -1;
	*out_ms = ms;
	return 0;
}

char *
sv_cli_secret(const char *env, const char *file, struct sv_err *e)
{
	char buf[4096], *s;
	const char *v;
	ssize_t n;
	size_t len;
	int fd;

	sv_err_clear(e);
	if (file != NULL) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			sv_err_set(
			    e, EX_NOINPUT, "%s: %s", file, strerror(errno));
			return NULL;
		}
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n < 0) {
			sv_err_set(
			    e, EX_NOINPUT, "%s: %s", file, strerror(errno));
			return NULL;
		}
		buf[n] = '\0';
		len = strcspn(buf, "\r\n");
		buf[len] = '\0';
		if (len == 0) {
			explicit_bzero(buf, sizeof(buf));
			sv_err_set(e, EX_CONFIG, "%s: empty secret file", file);
			return NULL;
		}
		s = strdup(buf);
		explicit_bzero(buf, sizeof(buf));
	} else {
		v = env != NULL ? getenv(env) : NULL;
		if (v == NULL || *v == '\0')
			return NULL;
		s = strdup(v);
	}
	if (s == NULL) {
		sv_err_set(e, EX_OSERR, "out of memory");
		return NULL;
	}
	sv_log_add_secret(s);
	return s;
}

void
sv_cli_secret_free(char *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}

int
sv_cli_finish(int ex)
{
	int bad = 0;

	if (fflush(stdout) != 0 && errno != EPIPE)
		bad = 1;
	if (ferror(stdout) && errno != EPIPE)
		bad = 1;
	if (fclose(stdout) != 0 && errno != EPIPE && errno != EBADF)
		bad = 1;
	sv_log_forget_secrets();
	if (bad && ex == 0) {
		sv_log_error("write to stdout: %s", strerror(errno));
		return EX_IOERR;
	}
	return ex;
}
