/*
 * buf: a growable byte buffer, and a bounded line reader over a file
 * descriptor that works both blocking and inside a poll loop.
 */
#ifndef SV_BUF_H
#define SV_BUF_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

struct sv_buf {
	char *data; /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
};

/* Embedded buffer: _init zeroes it, _fini frees its memory. */
void sv_buf_init(struct sv_buf *b);
void sv_buf_fini(struct sv_buf *b);

/* Drop the contents, keep the memory. */
void sv_buf_reset(struct sv_buf *b);

/* Make room for n more bytes. 0, or -1 when out of memory. */
int sv_buf_reserve(struct sv_buf *b, size_t n);

/* Append bytes / a formatted string. 0, or -1 when out of memory. */
int sv_buf_append(struct sv_buf *b, const void *p, size_t n);
int sv_buf_appendf(struct sv_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Remove the first n bytes. */
void sv_buf_consume(struct sv_buf *b, size_t n);

/* Wipe (explicit_bzero) and free; for buffers that held secrets. */
void sv_buf_wipe(struct sv_buf *b);

#define SV_LINES_DEFAULT_MAX (1024 * 1024)

/*
 * A line reader: splits the bytes of fd into lines of at most `max`
 * bytes (without the terminator). "\n" and "\r\n" both end a line; a last
 * line without a newline is returned at EOF. A longer line is not split
 * or truncated: it is skipped whole and reported as SV_LINES_TOOLONG.
 */
struct sv_lines {
	int fd;
	size_t max;
	char *buf;
	size_t cap, start, end;
	unsigned long lineno; /* number of the line last returned */
	bool eof;
	bool skipping; /* inside an over-long line */
	int read_errno; /* errno of a failed read, else 0 */
};

enum sv_lines_res {
	SV_LINES_LINE, /* *line, *len set: borrowed until the next call */
	SV_LINES_TOOLONG, /* line number lineno was over max and skipped */
	SV_LINES_AGAIN, /* no complete line buffered: call sv_lines_fill */
	SV_LINES_EOF, /* end of input, everything returned */
	SV_LINES_ERROR, /* read failed: read_errno */
};

/* 0, or -1 when out of memory. max 0 means SV_LINES_DEFAULT_MAX. */
int sv_lines_init(struct sv_lines *r, int fd, size_t max);
void sv_lines_fini(struct sv_lines *r);

/*
 * Read once from the fd into the buffer. Returns the byte count, 0 at
 * EOF, -1 on error (errno; EAGAIN/EINTR leave the reader usable).
 */
ssize_t sv_lines_fill(struct sv_lines *r);

/*
 * Return the next line already buffered, without reading. The line is
 * NOT NUL-terminated by contract (it may contain NUL bytes); callers use
 * (*line, *len).
 */
enum sv_lines_res sv_lines_next(
    struct sv_lines *r, const char **line, size_t *len);

/*
 * Blocking convenience: sv_lines_next, filling as needed. EINTR is
 * returned as SV_LINES_AGAIN so the caller can check its stop flag.
 */
enum sv_lines_res sv_lines_get(
    struct sv_lines *r, const char **line, size_t *len);

/*
 * A malloc'd copy of s, or NULL when s is NULL. When the copy cannot be
 * made it returns NULL and sets *oom (left alone otherwise), so several
 * copies can be made and checked once.
 */
char *sv_buf_strdup(const char *s, bool *oom);

#endif
