/* event: envelope building and NDJSON input/output; see event.h. */
#include <sys/uio.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "dedupe.h"
#include "event.h"
#include "log.h"

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

static void
uuid_format(unsigned char b[16], unsigned version, char out[SV_EVENT_ID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	b[6] = (unsigned char)((b[6] & 0x0f) | (version << 4));
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 9562 variant */
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

void
sv_event_uuid4(char out[SV_EVENT_ID_LEN])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1) {
		/* OpenSSL's DRBG does not fail once seeded; if it ever does,
		 * a time-derived id is still unique enough for one process. */
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		memset(b, 0, sizeof(b));
		memcpy(b, &ts, sizeof(ts) < 16 ? sizeof(ts) : 16);
	}
	uuid_format(b, 4, out);
}

void
sv_event_id_hash(const void *bytes, size_t len, char out[SV_EVENT_ID_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(bytes, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen < 16)
		memset(md, 0, 16);
	uuid_format(md, 8, out);
}

static void
format_time(const struct timespec *ts, int digits, char out[SV_EVENT_TIME_LEN])
{
	struct tm tm;
	size_t n;

	gmtime_r(&ts->tv_sec, &tm);
	n = strftime(out, SV_EVENT_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	if (digits == 3)
		(void)snprintf(out + n, SV_EVENT_TIME_LEN - n, ".%03ldZ",
		    ts->tv_nsec / 1000000);
	else
		(void)snprintf(
		    out + n, SV_EVENT_TIME_LEN - n, ".%09ldZ", ts->tv_nsec);
}

void
sv_event_time_now(char out[SV_EVENT_TIME_LEN])
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	format_time(&ts, 3, out);
}

void
sv_event_time_now_ns(char out[SV_EVENT_TIME_LEN])
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	format_time(&ts, 9, out);
}

void
sv_event_time_from_ms(int64_t ms, char out[SV_EVENT_TIME_LEN])
{
	struct timespec ts;

	if (ms < 0)
		ms = 0;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	format_time(&ts, 3, out);
}

static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int
sv_event_time_parse(const char *s, struct timespec *out)
{
	int Y, M, D, h, m, sec, oh, om, sign;
	long nsec = 0, scale = 100000000L;
	struct timespec ts;
	struct tm tm;
	const char *p;

	if (s == NULL || strlen(s) < 20 || digits(s, 4, &Y) < 0 ||
	    s[4] != '-' || digits(s + 5, 2, &M) < 0 || s[7] != '-' ||
	    digits(s + 8, 2, &D) < 0 || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &h) < 0 || s[13] != ':' ||
	    digits(s + 14, 2, &m) < 0 || s[16] != ':' ||
	    digits(s + 17, 2, &sec) < 0)
		return -1;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		return -1;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		for (; *p >= '0' && *p <= '9'; p++) {
			nsec += (*p - '0') * scale;
			scale /= 10;
		}
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	ts.tv_sec = timegm(&tm);
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (digits(p + 1, 2, &oh) < 0 || p[3] != ':' ||
		    digits(p + 4, 2, &om) < 0 || oh > 23 || om > 59)
			return -1;
		ts.tv_sec -= sign * (oh * 3600 + om * 60);
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	ts.tv_nsec = nsec;
	*out = ts;
	return 0;
}

int
sv_event_time_normalize(const char *s, char out[SV_EVENT_TIME_LEN])
{
	struct timespec ts;

	if (sv_event_time_parse(s, &ts) < 0)
		return -1;
	format_time(&ts, 3, out);
	return 0;
}

json_t *
sv_event_new(const char *id, const char *type, const char *version,
    const char *source, const char *time, json_t *event)
{
	char now[SV_EVENT_TIME_LEN];
	json_t *o;

	if (id == NULL || type == NULL || version == NULL || source == NULL ||
	    !json_is_object(event)) {
		json_decref(event);
		return NULL;
	}
	if (time == NULL) {
		sv_event_time_now(now);
		time = now;
	}
	/* jansson keeps insertion order, so the envelope reads id first. */
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "id", id, "type", type,
	    "version", version, "source", source, "time", time, "event", event);
	return o;
}

/*
 * Write the record and its newline with writev(2), finishing partial
 * writes and retrying EINTR: a signal (SIGTERM while a slow reader holds
 * us) must not cut a line in half or turn into an I/O error. Whatever
 * stdio still buffers for `out` goes first, so order is kept.
 */
static int
write_record(int fd, const char *p, size_t len)
{
	struct iovec iov[2];
	int n = 2, i = 0;
	ssize_t w;

	iov[0].iov_base = (void *)(uintptr_t)p;
	iov[0].iov_len = len;
	iov[1].iov_base = (void *)(uintptr_t) "\n";
	iov[1].iov_len = 1;
	while (i < n) {
		w = writev(fd, iov + i, n - i);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (i < n && (size_t)w >= iov[i].iov_len) {
			w -= (ssize_t)iov[i].iov_len;
			i++;
		}
		if (i < n) {
			iov[i].iov_base = (char *)iov[i].iov_base + w;
			iov[i].iov_len -= (size_t)w;
		}
	}
	return 0;
}

static int
write_locked(FILE *out, const char *p, size_t len, struct sv_err *e)
{
	int rc = 0;

	pthread_mutex_lock(&write_lock);
	errno = 0;
	if (fflush(out) == EOF || write_record(fileno(out), p, len) < 0)
		rc = -1;
	if (rc < 0) {
		if (errno == EPIPE) {
			/* The reader went away (`| head -1`): a normal stop.
			 * Clear the error so sv_cli_finish() does not count
			 * it as an I/O failure. */
			clearerr(out);
			sv_err_set(e, 0, "stdout closed by the reader");
		} else {
			sv_err_set(e, EX_IOERR, "write to stdout: %s",
			    strerror(errno != 0 ? errno : EIO));
		}
	}
	pthread_mutex_unlock(&write_lock);
	return rc;
}

int
sv_event_write(FILE *out, const json_t *obj, struct sv_err *e)
{
	char stackbuf[4096];
	char *p = stackbuf;
	size_t n;
	int rc;

	n = json_dumpb(obj, stackbuf, sizeof(stackbuf), JSON_COMPACT);
	if (n == 0)
		return sv_err_set(e, EX_SOFTWARE, "cannot serialise event");
	if (n > sizeof(stackbuf)) {
		p = json_dumps(obj, JSON_COMPACT);
		if (p == NULL)
			return sv_err_set(e, EX_OSERR, "out of memory");
		n = strlen(p);
	}
	rc = write_locked(out, p, n, e);
	if (p != stackbuf)
		free(p);
	return rc;
}

int
sv_event_write_line(FILE *out, const char *line, size_t len, struct sv_err *e)
{
	return write_locked(out, line, len, e);
}

json_t *
sv_event_parse(const char *line, size_t len, struct sv_err *e)
{
	json_error_t je;
	json_t *o;

	if (len == 0) {
		sv_err_set(e, EX_DATAERR, "empty line");
		return NULL;
	}
	if (memchr(line, '\0', len) != NULL) {
		sv_err_set(e, EX_DATAERR, "NUL byte in line");
		return NULL;
	}
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL) {
		sv_err_set(e, EX_DATAERR, "invalid JSON at column %d: %s",
		    je.column, je.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		sv_err_set(e, EX_DATAERR, "not a JSON object");
		return NULL;
	}
	return o;
}

json_t *
sv_event_path(const json_t *obj, const char *path)
{
	const char *p = path, *dot;
	char key[256];
	json_t *cur = (json_t *)(uintptr_t)obj;
	size_t n;

	while (cur != NULL && *p != '\0') {
		if (!json_is_object(cur))
			return NULL;
		dot = strchr(p, '.');
		n = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		cur = json_object_get(cur, key);
		p += n;
		if (*p == '.')
			p++;
	}
	return cur;
}

json_t *
sv_event_str_lossy(const char *s)
{
	json_t *j = json_string(s);
	size_t n, i, o = 0, k;
	char *fixed;

	if (j != NULL || s == NULL)
		return j;
	n = strlen(s);
	fixed = malloc(n * 3 + 1);
	if (fixed == NULL)
		return NULL;
	for (i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		json_t *t = NULL;

		k = c < 0x80           ? 1 :
		    (c & 0xe0) == 0xc0 ? 2 :
		    (c & 0xf0) == 0xe0 ? 3 :
		    (c & 0xf8) == 0xf0 ? 4 :
		                         0;
		if (k > 0 && i + k <= n)
			t = json_stringn(s + i, k);
		if (t != NULL) {
			memcpy(fixed + o, s + i, k);
			o += k;
			i += k;
			json_decref(t);
		} else {
			memcpy(fixed + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	j = json_stringn(fixed, o);
	free(fixed);
	return j;
}

const char *
sv_event_path_str(const json_t *obj, const char *path)
{
	return json_string_value(sv_event_path(obj, path));
}

int
sv_event_input_init(
    struct sv_event_input *in, int fd, size_t max_line, bool strict)
{
	memset(in, 0, sizeof(*in));
	in->strict = strict;
	return sv_lines_init(&in->lines, fd, max_line);
}

void
sv_event_input_fini(struct sv_event_input *in)
{
	sv_lines_fini(&in->lines);
}

ssize_t
sv_event_input_fill(struct sv_event_input *in)
{
	return sv_lines_fill(&in->lines);
}

enum sv_event_input_res
sv_event_input_next(struct sv_event_input *in, bool block, json_t **obj,
    const char **line, size_t *len, struct sv_err *e)
{
	enum sv_lines_res r;
	struct sv_err pe;

	for (;;) {
		r = block ? sv_lines_get(&in->lines, line, len) :
		            sv_lines_next(&in->lines, line, len);
		switch (r) {
		case SV_LINES_AGAIN:
			return SV_INPUT_AGAIN;
		case SV_LINES_EOF:
			return SV_INPUT_EOF;
		case SV_LINES_ERROR:
			sv_err_set(e, EX_IOERR, "read from stdin: %s",
			    strerror(in->lines.read_errno));
			return SV_INPUT_ERROR;
		case SV_LINES_TOOLONG:
			sv_err_set(&pe, EX_DATAERR, "longer than %zu bytes",
			    in->lines.max);
			break;
		case SV_LINES_LINE:
			*obj = sv_event_parse(*line, *len, &pe);
			if (*obj != NULL) {
				in->good++;
				return SV_INPUT_LINE;
			}
			break;
		}
		in->bad++;
		if (in->strict) {
			sv_err_set(e, EX_DATAERR, "line %lu: %s",
			    in->lines.lineno, pe.msg);
			return SV_INPUT_ERROR;
		}
		sv_log_warn("line %lu: %s; skipped", in->lines.lineno, pe.msg);
	}
}

int
sv_event_out_put(struct sv_event_out *o, const json_t *env, struct sv_err *e)
{
	const char *id = sv_event_path_str(env, "id");

	sv_err_clear(e);
	if (o->seen != NULL && id != NULL && sv_dedupe_check(o->seen, id)) {
		sv_log_debug("%s already printed; dropped", id);
		return 0;
	}
	if (sv_event_write(o->f, env, e) < 0)
		return e->ex != 0 ? -1 : 1;
	o->printed++;
	return o->count != 0 && o->printed >= o->count ? 1 : 0;
}
