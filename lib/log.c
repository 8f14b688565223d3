/* log: leveled, redacted messages on stderr; see log.h. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"

#define SV_LOG_MAX_SECRETS 16

static struct {
	char prog[64];
	int level;
	int json;
	pthread_mutex_t lock; /* guards secrets */
	char *secrets[SV_LOG_MAX_SECRETS];
} lg = {
	.prog = "servitor",
	.level = SV_LOG_WARN,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int
sv_log_level_parse(const char *s)
{
	size_t i;

	if (s == NULL)
		return -1;
	if (strcasecmp(s, "warning") == 0)
		return SV_LOG_WARN;
	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

int
sv_log_format_parse(const char *s, int *json)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "text") == 0 || *s == '\0')
		*json = 0;
	else if (strcmp(s, "json") == 0)
		*json = 1;
	else
		return -1;
	return 0;
}

void
sv_log_init(const char *prog)
{
	const char *p, *env;
	int lvl;

	if (prog != NULL) {
		p = strrchr(prog, '/');
		p = p != NULL ? p + 1 : prog;
		(void)snprintf(lg.prog, sizeof(lg.prog), "%s", p);
	}
	env = getenv("SERVITOR_LOG_FORMAT");
	if (env != NULL && *env != '\0' &&
	    sv_log_format_parse(env, &lg.json) < 0)
		sv_log_warn("SERVITOR_LOG_FORMAT: expected text or json, got "
		            "'%s'; using text",
		    env);
	env = getenv("SERVITOR_LOG");
	if (env != NULL && *env != '\0') {
		if ((lvl = sv_log_level_parse(env)) >= 0)
			lg.level = lvl;
		else
			sv_log_warn("SERVITOR_LOG: expected error, warn, info "
			            "or debug, got '%s'; using warn",
			    env);
	}
}

const char *
sv_log_prog(void)
{
	return lg.prog;
}

int
sv_log_level(void)
{
	return lg.level;
}

void
sv_log_set_level(int level)
{
	if (level < SV_LOG_ERROR)
		level = SV_LOG_ERROR;
	if (level > SV_LOG_DEBUG)
		level = SV_LOG_DEBUG;
	lg.level = level;
}

void
sv_log_set_json(int json)
{
	lg.json = json != 0;
}

void
sv_log_add_secret(const char *secret)
{
	size_t i;

	if (secret == NULL || strlen(secret) < 4)
		return;
	pthread_mutex_lock(&lg.lock);
	for (i = 0; i < SV_LOG_MAX_SECRETS; i++) {
		if (lg.secrets[i] != NULL && strcmp(lg.secrets[i], secret) == 0)
			break;
		if (lg.secrets[i] == NULL) {
			lg.secrets[i] = strdup(secret);
			break;
		}
	}
	if (i == SV_LOG_MAX_SECRETS) {
		/* Full: drop the oldest, keep the newest. */
		explicit_bzero(lg.secrets[0], strlen(lg.secrets[0]));
		free(lg.secrets[0]);
		memmove(lg.secrets, lg.secrets + 1,
		    (SV_LOG_MAX_SECRETS - 1) * sizeof(lg.secrets[0]));
		lg.secrets[SV_LOG_MAX_SECRETS - 1] = strdup(secret);
	}
	pthread_mutex_unlock(&lg.lock);
}

void
sv_log_forget_secrets(void)
{
	size_t i;

	pthread_mutex_lock(&lg.lock);
	for (i = 0; i < SV_LOG_MAX_SECRETS; i++) {
		if (lg.secrets[i] == NULL)
			continue;
		explicit_bzero(lg.secrets[i], strlen(lg.secrets[i]));
		free(lg.secrets[i]);
		lg.secrets[i] = NULL;
	}
	pthread_mutex_unlock(&lg.lock);
}

/* Characters that may form a token or credential value. */
static int
is_tokch(int c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
	    c == '+' || c == '/' || c == '=' || c == '%';
}

struct out {
	char *p;
	size_t n, len;
};

static void
put(struct out *o, const char *s, size_t k)
{
	size_t room;

	if (o->len + 1 >= o->n)
		return;
	room = o->n - 1 - o->len;
	if (k > room)
		k = room;
	memcpy(o->p + o->len, s, k);
	o->len += k;
	o->p[o->len] = '\0';
}

/* A prefix after which the following token is a credential. */
static const char *const word_prefixes[] = {
	"oauth:",
	"Bearer ",
	"bearer ",
	"OAuth ",
	"Basic ",
};

/* Keys whose values are credentials, as key=value or "key":"value". */
static const char *const secret_keys[] = {
	"access_token",
	"refresh_token",
	"client_secret",
	"device_code",
	"code",
	"token",
	"password",
	"secret",
	"challenge_secret",
};

static size_t
match_key_value(const char *s, size_t i, size_t *vstart)
{
	size_t k, kl, j;
	int quoted;

	/* The key must start at a word boundary. */
	if (i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_'))
		return 0;
	quoted = s[i] == '"';
	for (k = 0; k < sizeof(secret_keys) / sizeof(secret_keys[0]); k++) {
		kl = strlen(secret_keys[k]);
		j = i + (size_t)quoted;
		if (strncmp(s + j, secret_keys[k], kl) != 0)
			continue;
		j += kl;
		if (quoted) {
			if (s[j] != '"')
				continue;
			j++;
			while (s[j] == ' ')
				j++;
			if (s[j] != ':')
				continue;
			j++;
			while (s[j] == ' ')
				j++;
			if (s[j] != '"')
				continue;
			*vstart = j + 1;
			return 1;
		}
		if (s[j] != '=')
			continue;
		*vstart = j + 1;
		return 1;
	}
	return 0;
}

size_t
sv_log_redact(char *dst, size_t n, const char *src)
{
	struct out o = { dst, n, 0 };
	size_t i = 0, k, pl, v, sl;
	int hit;

	if (n == 0)
		return 0;
	dst[0] = '\0';
	pthread_mutex_lock(&lg.lock);
	while (src[i] != '\0') {
		hit = 0;
		for (k = 0; k < SV_LOG_MAX_SECRETS && !hit; k++) {
			if (lg.secrets[k] == NULL)
				continue;
			sl = strlen(lg.secrets[k]);
			if (strncmp(src + i, lg.secrets[k], sl) == 0) {
				put(&o, "***", 3);
				i += sl;
				hit = 1;
			}
		}
		if (hit)
			continue;
		for (k = 0;
		     k < sizeof(word_prefixes) / sizeof(word_prefixes[0]);
		     k++) {
			pl = strlen(word_prefixes[k]);
			if (strncmp(src + i, word_prefixes[k], pl) == 0 &&
			    is_tokch((unsigned char)src[i + pl])) {
				put(&o, src + i, pl);
				put(&o, "***", 3);
				i += pl;
				while (is_tokch((unsigned char)src[i]))
					i++;
				hit = 1;
				break;
			}
		}
		if (hit)
			continue;
		if (match_key_value(src, i, &v)) {
			put(&o, src + i, v - i);
			put(&o, "***", 3);
			i = v;
			if (src[v - 1] == '"') {
				while (src[i] != '\0' && src[i] != '"')
					i += src[i] == '\\' && src[i + 1] ? 2 :
					                                    1;
			} else {
				while (is_tokch((unsigned char)src[i]))
					i++;
			}
			continue;
		}
		if (strncmp(src + i, "://", 3) == 0) {
			/* scheme://user:password@host: mask the password. */
			size_t j = i + 3, colon = 0;

			while (src[j] != '\0' && src[j] != '@' &&
			    src[j] != '/' && src[j] != ' ' && src[j] != '"') {
				if (src[j] == ':' && colon == 0)
					colon = j;
				j++;
			}
			if (src[j] == '@' && colon != 0) {
				put(&o, src + i, colon + 1 - i);
				put(&o, "***", 3);
				i = j;
				continue;
			}
		}
		put(&o, src + i, 1);
		i++;
	}
	pthread_mutex_unlock(&lg.lock);
	return o.len;
}

static void
write_all(const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(STDERR_FILENO, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

void
sv_logv(int level, const char *fmt, va_list ap)
{
	char raw[2048], msg[2048], line[4096], ts[40];
	struct timespec now;
	struct tm tm;
	json_t *o;
	int saved = errno;
	size_t n;

	if (level > lg.level)
		return;
	(void)vsnprintf(raw, sizeof(raw), fmt, ap);
	sv_log_redact(msg, sizeof(msg), raw);
	if (!lg.json) {
		n = (size_t)snprintf(line, sizeof(line), "%s: %s: %s\n",
		    lg.prog, level_names[level], msg);
		if (n >= sizeof(line)) {
			n = sizeof(line) - 1;
			line[n - 1] = '\n';
		}
		write_all(line, n);
		errno = saved;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	(void)snprintf(
	    ts + n, sizeof(ts) - n, ".%03ldZ", now.tv_nsec / 1000000);
	o = json_pack("{s:s,s:s,s:s,s:s}", "time", ts, "level",
	    level_names[level], "prog", lg.prog, "msg", msg);
	n = o != NULL ? json_dumpb(o, line, sizeof(line) - 1, JSON_COMPACT) : 0;
	json_decref(o);
	if (n == 0 || n >= sizeof(line) - 1) {
		/* Not UTF-8, or too long for one record: fall back to text. */
		n = (size_t)snprintf(line, sizeof(line), "%s: %s: %s", lg.prog,
		    level_names[level], msg);
		if (n >= sizeof(line) - 1)
			n = sizeof(line) - 2;
	}
	line[n++] = '\n';
	write_all(line, n);
	errno = saved;
}

void
sv_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sv_logv(level, fmt, ap);
	va_end(ap);
}
