/* buf: growable buffer and bounded line reader; see buf.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

void
sv_buf_init(struct sv_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
sv_buf_fini(struct sv_buf *b)
{
	free(b->data);
	sv_buf_init(b);
}

void
sv_buf_wipe(struct sv_buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	sv_buf_fini(b);
}

void
sv_buf_reset(struct sv_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

int
sv_buf_reserve(struct sv_buf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (n > SIZE_MAX - b->len - 1)
		return -1;
	want = b->len + n + 1;
	if (want <= b->cap)
		return 0;
	cap = b->cap != 0 ? b->cap : 256;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
sv_buf_append(struct sv_buf *b, const void *p, size_t n)
{
	if (sv_buf_reserve(b, n) < 0)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
sv_buf_appendf(struct sv_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sv_buf_reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
sv_buf_consume(struct sv_buf *b, size_t n)
{
	if (n >= b->len) {
		sv_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

int
sv_lines_init(struct sv_lines *r, int fd, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->max = max != 0 ? max : SV_LINES_DEFAULT_MAX;
	/* Room for one whole line plus CRLF, read in 64 KiB steps. */
	r->cap = 64 * 1024;
	r->buf = malloc(r->cap);
	return r->buf != NULL ? 0 : -1;
}

void
sv_lines_fini(struct sv_lines *r)
{
	free(r->buf);
	r->buf = NULL;
}

ssize_t
sv_lines_fill(struct sv_lines *r)
{
	size_t limit = r->max + 2, ncap;
	ssize_t n;
	char *p;

	if (r->eof)
		return 0;
	if (r->start > 0 && (r->start == r->end || r->end == r->cap)) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->end == r->cap) {
		/* Grow only up to one maximal line; past that, the line is
		 * over-long and next() discards it. */
		ncap = r->cap * 2;
		if (ncap > limit + 64 * 1024)
			ncap = limit + 64 * 1024;
		if (ncap > r->cap) {
			p = realloc(r->buf, ncap);
			if (p == NULL) {
				errno = ENOMEM;
				return -1;
			}
			r->buf = p;
			r->cap = ncap;
		}
		if (r->end == r->cap) {
			/* Full of one over-long line: next() must run first. */
			errno = EAGAIN;
			return -1;
		}
	}
	n = read(r->fd, r->buf + r->end, r->cap - r->end);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			r->read_errno = errno;
		return -1;
	}
	if (n == 0)
		r->eof = true;
	r->end += (size_t)n;
	return n;
}

enum sv_lines_res
sv_lines_next(struct sv_lines *r, const char **line, size_t *len)
{
	char *s, *nl;
	size_t avail, n;

	for (;;) {
		s = r->buf + r->start;
		avail = r->end - r->start;
		nl = memchr(s, '\n', avail);
		if (r->skipping) {
			if (nl == NULL) {
				r->start = r->end = 0;
				return r->eof ? SV_LINES_EOF : SV_LINES_AGAIN;
			}
			r->start += (size_t)(nl - s) + 1;
			r->skipping = false;
			continue;
		}
		if (nl == NULL) {
			if (avail > r->max + 1) {
				/* One byte of slack for a CR before LF. */
				r->lineno++;
				r->skipping = true;
				r->start = r->end = 0;
				return SV_LINES_TOOLONG;
			}
			if (r->read_errno != 0)
				return SV_LINES_ERROR;
			if (!r->eof)
				return SV_LINES_AGAIN;
			if (avail == 0)
				return SV_LINES_EOF;
			n = avail; /* last line without a newline */
			r->start = r->end;
		} else {
			n = (size_t)(nl - s);
			r->start += n + 1;
		}
		if (n > 0 && s[n - 1] == '\r')
			n--;
		r->lineno++;
		if (n > r->max)
			return SV_LINES_TOOLONG;
		*line = s;
		*len = n;
		return SV_LINES_LINE;
	}
}

enum sv_lines_res
sv_lines_get(struct sv_lines *r, const char **line, size_t *len)
{
	enum sv_lines_res res;

	for (;;) {
		res = sv_lines_next(r, line, len);
		if (res != SV_LINES_AGAIN)
			return res;
		if (sv_lines_fill(r) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				return SV_LINES_AGAIN;
			return SV_LINES_ERROR;
		}
	}
}

char *
sv_buf_strdup(const char *s, bool *oom)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*oom = true;
	return d;
}
