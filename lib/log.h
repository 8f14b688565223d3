/*
 * log: leveled messages on stderr, as "prog: level: message" or, with
 * --log-format=json / SERVITOR_LOG_FORMAT=json, one JSON object per line.
 *
 * Every message passes through sv_log_redact() before it is written, and
 * secrets registered with sv_log_add_secret() are masked wherever they
 * appear, so a token can never reach a log even by accident.
 *
 * Each record is written with one write(2), so lines from several threads
 * (MHD's, the main loop) never interleave. Thread-safe after sv_log_init().
 */
#ifndef SV_LOG_H
#define SV_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum sv_log_level {
	SV_LOG_ERROR = 0,
	SV_LOG_WARN = 1,
	SV_LOG_INFO = 2,
	SV_LOG_DEBUG = 3,
};

/*
 * Set the program name and read SERVITOR_LOG (error|warn|info|debug,
 * default warn) and SERVITOR_LOG_FORMAT (text|json). Called by
 * sv_cli_init(); unit tests may call it directly.
 */
void sv_log_init(const char *prog);

/* The program name given to sv_log_init() ("servitor" before). */
const char *sv_log_prog(void);

/* Current level; messages above it are dropped. */
int sv_log_level(void);
void sv_log_set_level(int level);

/* Parse "error|warn|info|debug" (also "warning"); -1 if unknown. */
int sv_log_level_parse(const char *s);

/* Select JSON records (1) or text (0). */
void sv_log_set_json(int json);

/* Parse "text" or "json" into *json; -1 if neither. */
int sv_log_format_parse(const char *s, int *json);

/*
 * Remember a secret (a token, a password) so that any later message that
 * contains it shows "***" instead. The string is copied; strings shorter
 * than 4 bytes are ignored. Copies are wiped by sv_log_forget_secrets().
 */
void sv_log_add_secret(const char *secret);
void sv_log_forget_secrets(void);

void sv_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sv_logv(int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#define sv_log_error(...) sv_log(SV_LOG_ERROR, __VA_ARGS__)
#define sv_log_warn(...) sv_log(SV_LOG_WARN, __VA_ARGS__)
#define sv_log_info(...) sv_log(SV_LOG_INFO, __VA_ARGS__)
#define sv_log_debug(...) sv_log(SV_LOG_DEBUG, __VA_ARGS__)

/*
 * Copy src into dst (size n, always NUL-terminated) with credentials
 * masked: registered secrets, "oauth:TOKEN", "Bearer TOKEN", "OAuth TOKEN",
 * the password of "scheme://user:password@", and the values of
 * access_token, refresh_token, client_secret, device_code, code, token and
 * password given as key=value or as "key":"value". Returns strlen(dst).
 */
size_t sv_log_redact(char *dst, size_t n, const char *src);

#endif
