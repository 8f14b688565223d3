/* hconn: one-answer HTTP/1.1 server connections; see hconn.h. */
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hconn.h"
#include "http.h"
#include "log.h"
#include "net.h"

void
sv_hconn_init(struct sv_hconn *h, int fd, long long now_ms)
{
	memset(h, 0, sizeof(*h));
	h->fd = fd;
	h->st = SV_HCONN_READ;
	h->deadline = now_ms + SV_HCONN_HEAD_TIMEOUT_MS;
	sv_buf_init(&h->out);
	h->file_fd = -1;
}

/* Close the socket and the file: h is done. */
static void
hclose(struct sv_hconn *h)
{
	if (h->fd >= 0)
		close(h->fd);
	if (h->file_fd >= 0)
		close(h->file_fd);
	h->fd = h->file_fd = -1;
	h->st = SV_HCONN_DONE;
}

void
sv_hconn_fini(struct sv_hconn *h)
{
	hclose(h);
	free(h->buf);
	h->buf = NULL;
	h->len = 0;
	sv_buf_fini(&h->out);
}

short
sv_hconn_events(const struct sv_hconn *h)
{
	switch (h->st) {
	case SV_HCONN_READ:
	case SV_HCONN_LINGER:
		return POLLIN;
	case SV_HCONN_WRITE:
		return POLLOUT;
	case SV_HCONN_DONE:
		break;
	}
	return 0;
}

bool
sv_hconn_done(const struct sv_hconn *h)
{
	return h->st == SV_HCONN_DONE;
}

bool
sv_hconn_expire(struct sv_hconn *h, long long now_ms)
{
	if (now_ms < h->deadline)
		return false;
	if (h->st == SV_HCONN_READ)
		sv_log_debug("request head not sent in time");
	hclose(h);
	return true;
}

int
sv_hconn_take(struct sv_hconn *h)
{
	int fd = h->fd;

	h->fd = -1;
	hclose(h);
	return fd;
}

/* A reason phrase for the status line; "Error" for one not listed. */
static const char *
reason_or_error(unsigned status)
{
	const char *r = sv_http_reason(status);

	return *r != '\0' ? r : "Error";
}

/* Start writing an answer: the head, then body bytes or a file. */
static void
respond(struct sv_hconn *h, unsigned status, const char *ctype,
    const void *body, size_t blen, int file_fd, off_t file_len,
    const char *extra)
{
	size_t len = file_fd >= 0 ? (size_t)file_len : blen;

	sv_buf_reset(&h->out);
	if (sv_buf_appendf(&h->out,
	        "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	        "Connection: close\r\nCache-Control: no-store\r\n"
	        "X-Content-Type-Options: nosniff\r\n%s\r\n",
	        status, reason_or_error(status), ctype, len,
	        extra != NULL ? extra : "") < 0 ||
	    (!h->head && file_fd < 0 && blen > 0 &&
	        sv_buf_append(&h->out, body, blen) < 0)) {
		if (file_fd >= 0)
			close(file_fd);
		hclose(h);
		return;
	}
	h->out_off = 0;
	if (!h->head && file_fd >= 0) {
		h->file_fd = file_fd;
		h->file_off = 0;
		h->file_len = file_len;
	} else if (file_fd >= 0) {
		close(file_fd);
	}
	free(h->buf);
	h->buf = NULL;
	h->st = SV_HCONN_WRITE;
}

void
sv_hconn_respond(struct sv_hconn *h, unsigned status, const char *ctype,
    const void *body, size_t len, const char *extra)
{
	respond(h, status, ctype, body, len, -1, 0, extra);
}

void
sv_hconn_respond_file(
    struct sv_hconn *h, unsigned status, const char *ctype, int fd, off_t size)
{
	respond(h, status, ctype, NULL, 0, fd, size, NULL);
}

void
sv_hconn_respond_text(
    struct sv_hconn *h, unsigned status, const char *text, const char *extra)
{
	respond(h, status, "text/plain; charset=utf-8", text, strlen(text), -1,
	    0, extra);
}

/* Is buf[0..len) a head longer than SV_WS_MAX_HEAD: more bytes than
 * that, and no blank line among the first SV_WS_MAX_HEAD of them? */
static bool
too_long(const char *buf, size_t len)
{
	size_t i;

	if (len <= SV_WS_MAX_HEAD)
		return false;
	for (i = 0; i < SV_WS_MAX_HEAD; i++)
		if (buf[i] == '\n' &&
		    (buf[i + 1] == '\n' ||
		        (buf[i + 1] == '\r' && i + 2 < len &&
		            buf[i + 2] == '\n')))
			return false;
	return true;
}

/*
 * Bytes of a request head: parse once the blank line is there. A head
 * past SV_WS_MAX_HEAD is refused here (431), so what is kept between
 * reads is never more than that and a few leading empty lines: the stack
 * always has room for the next read.
 */
static void
hread(struct sv_hconn *h, sv_hconn_head_fn *fn, void *arg)
{
	char stack[SV_WS_MAX_HEAD + 4096], *buf;
	struct sv_ws_head hd;
	struct sv_err e;
	size_t len;
	ssize_t n;
	long hl;
	char *p;

	if (h->len > 0)
		memcpy(stack, h->buf, h->len);
	len = h->len;
	n = recv(h->fd, stack + len, sizeof(stack) - len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		hclose(h); /* gone before asking anything */
		return;
	}
	len += (size_t)n;
	buf = stack;
	if (too_long(buf, len)) {
		sv_log_debug(
		    "bad request: head longer than %d bytes", SV_WS_MAX_HEAD);
		sv_hconn_respond_text(h, 431, "request head too large\n", NULL);
		return;
	}
	hl = sv_ws_head_parse(buf, len, true, &hd, &e);
	if (hl < 0) {
		sv_log_debug("bad request: %s", e.msg);
		sv_hconn_respond_text(h, 400, "bad request\n", NULL);
		return;
	}
	if (hl == 0) {
		p = realloc(h->buf, len);
		if (p == NULL) {
			hclose(h);
			return;
		}
		memcpy(p, stack, len);
		h->buf = p;
		h->len = len;
		return;
	}
	free(h->buf);
	h->buf = NULL;
	h->len = 0;
	h->head = strcmp(hd.method, "HEAD") == 0;
	fn(arg, h, &hd, buf + hl, len - (size_t)hl);
}

static void
hwrite(struct sv_hconn *h)
{
	ssize_t n;

	while (h->out_off < h->out.len) {
		n = send(h->fd, h->out.data + h->out_off,
		    h->out.len - h->out_off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			hclose(h);
			return;
		}
		h->out_off += (size_t)n;
	}
	while (h->file_fd >= 0 && h->file_off < h->file_len) {
		n = sendfile(h->fd, h->file_fd, &h->file_off,
		    (size_t)(h->file_len - h->file_off));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			hclose(h);
			return;
		}
	}
	/* done: half-close, then read what the client still sends, so
	 * closing never resets a connection whose answer is in flight */
	(void)shutdown(h->fd, SHUT_WR);
	h->st = SV_HCONN_LINGER;
	h->deadline = sv_net_now_ms() + SV_HCONN_LINGER_MS;
}

void
sv_hconn_io(struct sv_hconn *h, short revents, sv_hconn_head_fn *fn, void *arg)
{
	char junk[4096];
	ssize_t n;

	switch (h->st) {
	case SV_HCONN_READ:
		if (revents & (POLLIN | POLLHUP | POLLERR))
			hread(h, fn, arg);
		break;
	case SV_HCONN_WRITE:
		if (revents & (POLLHUP | POLLERR))
			hclose(h);
		else
			hwrite(h);
		break;
	case SV_HCONN_LINGER:
		n = recv(h->fd, junk, sizeof(junk), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			hclose(h);
		break;
	case SV_HCONN_DONE:
		break;
	}
}
