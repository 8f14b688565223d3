/* ws: WebSocket sessions on wslay; see ws.h. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <wslay/wslay.h>

#include "buf.h"
#include "log.h"
#include "net.h"
#include "tls.h"
#include "ws.h"

#ifndef SV_VERSION
#define SV_VERSION "0.0.0"
#endif

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* Input read per sv_ws_io() call on a server session, so one chatty
 * client cannot starve the others (epoll is level-triggered: the rest is
 * read on the next round). */
#define SERVER_READ_BUDGET (256 * 1024)

struct sv_ws_frame {
	unsigned refs;
	size_t len;
	unsigned char data[];
};

/* Raw output queued on a server session: whole frames, in order. */
struct chunk {
	struct chunk *next;
	struct sv_ws_frame *f;
};

struct msgq {
	struct msgq *next;
	struct sv_ws_msg *m;
};

struct sv_ws {
	int fd;
	struct sv_tls *tls;
	wslay_event_context_ptr ctx; /* NULL while an idle server session */
	bool server;

	struct chunk *qhead, *qtail; /* server: raw frames to write */
	size_t qoff; /* bytes of qhead already written */
	size_t qbytes; /* unwritten bytes in the raw queue */

	unsigned char *pre; /* input that arrived with the handshake */
	size_t pre_len, pre_off;
	size_t budget; /* bytes this sv_ws_io() may still read */

	/* Server idle tracking: bytes given to wslay vs. bytes of the
	 * frames it finished; equal at a frame boundary. */
	unsigned long long fed, used, frame_size;
	bool in_frame, in_msg;

	unsigned pending_close; /* server: close to queue after the data */
	char *pending_reason;
	bool close_queued;
	bool dropping; /* sv_ws_close_wait(): discard messages */

	unsigned rx_code; /* close code from the peer */
	char *rx_reason;
	unsigned long rx_frames;

	bool eof, ioerr, proto, in_cb;
	int tls_rd_want, tls_wr_want;
	int result; /* 0 running, 1 finished cleanly, -1 failed */
	struct sv_err err; /* why, for result -1 (and I/O errors) */

	size_t max_msg;
	sv_ws_msg_fn *on_msg;
	void *arg;
	struct msgq *mq_head, *mq_tail;
};

/* ---- small helpers ------------------------------------------------------- */

static bool
is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Length of the longest prefix of s[0..len) that is valid UTF-8 (RFC
 * 3629: no overlongs, no surrogates, nothing past U+10FFFF). */
static size_t
utf8_valid_prefix(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	unsigned c, cp, min;

	while (i < len) {
		c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return i;
		}
		if (len - i <= n)
			return i;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += n + 1;
	}
	return i;
}

static bool
utf8_valid(const void *s, size_t len)
{
	return utf8_valid_prefix(s, len) == len;
}

static const char *
close_code_text(unsigned code)
{
	switch (code) {
	case SV_WS_CLOSE_NORMAL:
		return "normal closure";
	case SV_WS_CLOSE_GOING_AWAY:
		return "going away";
	case SV_WS_CLOSE_PROTOCOL:
		return "protocol error";
	case SV_WS_CLOSE_UNSUPPORTED:
		return "unsupported data";
	case SV_WS_CLOSE_NO_STATUS:
		return "no status";
	case SV_WS_CLOSE_INVALID_DATA:
		return "invalid UTF-8 in a text message";
	case SV_WS_CLOSE_POLICY:
		return "policy violation";
	case SV_WS_CLOSE_TOO_BIG:
		return "message too big";
	case SV_WS_CLOSE_INTERNAL:
		return "internal error";
	default:
		return "";
	}
}

static bool
close_code_ok(unsigned code)
{
	return (code >= 1000 && code <= 1014 && code != 1004 && code != 1005 &&
	           code != 1006) ||
	    (code >= 3000 && code <= 4999);
}

/* ---- frames ------------------------------------------------------------- */

static struct sv_ws_frame *
frame_raw(const void *data, size_t len)
{
	struct sv_ws_frame *f;

	f = malloc(sizeof(*f) + len);
	if (f == NULL)
		return NULL;
	f->refs = 1;
	f->len = len;
	memcpy(f->data, data, len);
	return f;
}

struct sv_ws_frame *
sv_ws_frame_new(int op, const void *data, size_t len)
{
	struct sv_ws_frame *f;
	unsigned char *p;
	size_t hl, i;

	if (op != SV_WS_TEXT && op != SV_WS_BINARY && op != SV_WS_PING)
		return NULL;
	if (op == SV_WS_PING && len > 125)
		return NULL;
	hl = len < 126 ? 2 : len < 65536 ? 4 : 10;
	if (len > SIZE_MAX - sizeof(*f) - hl)
		return NULL;
	f = malloc(sizeof(*f) + hl + len);
	if (f == NULL)
		return NULL;
	f->refs = 1;
	f->len = hl + len;
	p = f->data;
	p[0] = (unsigned char)(0x80 | op); /* FIN, no RSV, opcode */
	if (len < 126) {
		p[1] = (unsigned char)len;
	} else if (len < 65536) {
		p[1] = 126;
		p[2] = (unsigned char)(len >> 8);
		p[3] = (unsigned char)len;
	} else {
		p[1] = 127;
		for (i = 0; i < 8; i++)
			p[2 + i] = (unsigned char)((unsigned long long)len >>
			    (56 - 8 * i));
	}
	if (len > 0)
		memcpy(p + hl, data, len);
	return f;
}

const char *
sv_ws_frame_payload(const struct sv_ws_frame *f, size_t *len)
{
	size_t hl = f->data[1] < 126 ? 2 : f->data[1] == 126 ? 4 : 10;

	*len = f->len - hl;
	return (const char *)f->data + hl;
}

struct sv_ws_frame *
sv_ws_frame_ref(struct sv_ws_frame *f)
{
	f->refs++;
	return f;
}

void
sv_ws_frame_unref(struct sv_ws_frame *f)
{
	if (f != NULL && --f->refs == 0)
		free(f);
}

size_t
sv_ws_frame_size(const struct sv_ws_frame *f)
{
	return f->len;
}

/* ---- raw socket I/O (plain or TLS) ----------------------------------------
 */

/* > 0 bytes, 0 at EOF, -1 would block (errno EAGAIN), -2 failed (err). */
static ssize_t
raw_read(struct sv_ws *ws, void *buf, size_t len)
{
	ssize_t n;

	if (ws->tls != NULL) {
		n = sv_tls_read(ws->tls, buf, len, &ws->tls_rd_want, &ws->err);
		if (n >= 0)
			return n;
		return errno == EAGAIN ? -1 : -2;
	}
	for (;;) {
		n = recv(ws->fd, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -1;
		sv_err_set(&ws->err, EX_TEMPFAIL, "read: %s", strerror(errno));
		return -2;
	}
}

/* > 0 bytes, -1 would block, -2 failed (err). */
static ssize_t
raw_write(struct sv_ws *ws, const void *buf, size_t len, bool more)
{
	ssize_t n;

	if (ws->tls != NULL) {
		n = sv_tls_write(ws->tls, buf, len, &ws->tls_wr_want, &ws->err);
		if (n > 0)
			return n;
		return n < 0 && errno == EAGAIN ? -1 : -2;
	}
	for (;;) {
		n = send(ws->fd, buf, len,
		    MSG_NOSIGNAL | MSG_DONTWAIT | (more ? MSG_MORE : 0));
		if (n > 0)
			return n;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -1;
		sv_err_set(&ws->err, EX_TEMPFAIL, "write: %s",
		    n == 0 ? "no progress" : strerror(errno));
		return -2;
	}
}

/* ---- wslay callbacks ------------------------------------------------------
 */

static ssize_t
on_recv(
    wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *arg)
{
	struct sv_ws *ws = arg;
	ssize_t n;

	(void)flags;
	if (ws->pre_off < ws->pre_len) {
		n = (ssize_t)(ws->pre_len - ws->pre_off < len ?
		        ws->pre_len - ws->pre_off :
		        len);
		memcpy(buf, ws->pre + ws->pre_off, (size_t)n);
		ws->pre_off += (size_t)n;
		if (ws->pre_off == ws->pre_len) {
			free(ws->pre);
			ws->pre = NULL;
			ws->pre_len = ws->pre_off = 0;
		}
		ws->fed += (unsigned long long)n;
		return n;
	}
	if (ws->budget == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	n = raw_read(ws, buf, len < ws->budget ? len : ws->budget);
	if (n > 0) {
		ws->budget -= (size_t)n;
		ws->fed += (unsigned long long)n;
		return n;
	}
	if (n == -1) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (n == 0)
		ws->eof = true;
	else
		ws->ioerr = true;
	wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static ssize_t
on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
    void *arg)
{
	struct sv_ws *ws = arg;
	ssize_t n;

	n = raw_write(ws, data, len, (flags & WSLAY_MSG_MORE) != 0);
	if (n > 0)
		return n;
	if (n == -1) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	ws->ioerr = true;
	wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static int
on_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *arg)
{
	(void)ctx;
	(void)arg;
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void
on_frame_start(wslay_event_context_ptr ctx,
    const struct wslay_event_on_frame_recv_start_arg *a, void *arg)
{
	struct sv_ws *ws = arg;
	unsigned long long pl = a->payload_length;

	(void)ctx;
	ws->rx_frames++;
	/* wslay refuses non-minimal lengths, so the header size follows
	 * from the payload length; clients' frames carry a 4-byte mask */
	ws->frame_size = pl +
	    (pl < 126          ? 2 :
	            pl < 65536 ? 4 :
	                         10) +
	    (ws->server ? 4 : 0);
	ws->in_frame = true;
	if (a->opcode == WSLAY_TEXT_FRAME || a->opcode == WSLAY_BINARY_FRAME ||
	    a->opcode == WSLAY_CONTINUATION_FRAME)
		ws->in_msg = !a->fin;
}

static void
on_frame_end(wslay_event_context_ptr ctx, void *arg)
{
	struct sv_ws *ws = arg;

	(void)ctx;
	ws->used += ws->frame_size;
	ws->in_frame = false;
}

static void
deliver(struct sv_ws *ws, int op, const uint8_t *msg, size_t len)
{
	struct sv_ws_msg *m;
	struct msgq *q;

	if (ws->dropping)
		return;
	if (ws->on_msg != NULL) {
		if (msg == NULL) {
			ws->on_msg(ws->arg, ws, op, "", 0);
			return;
		}
		/* wslay's buffer has no room for a NUL: copy when needed */
		m = malloc(sizeof(*m) + len + 1);
		if (m == NULL) {
			sv_log_warn("ws: out of memory; message dropped");
			return;
		}
		memcpy(m->data, msg, len);
		m->data[len] = '\0';
		ws->on_msg(ws->arg, ws, op, m->data, len);
		free(m);
		return;
	}
	if (ws->server)
		return; /* nobody listens */
	m = malloc(sizeof(*m) + len + 1);
	q = malloc(sizeof(*q));
	if (m == NULL || q == NULL) {
		free(m);
		free(q);
		sv_log_warn("ws: out of memory; message dropped");
		return;
	}
	m->op = op;
	m->len = len;
	if (len > 0)
		memcpy(m->data, msg, len);
	m->data[len] = '\0';
	q->m = m;
	q->next = NULL;
	if (ws->mq_tail != NULL)
		ws->mq_tail->next = q;
	else
		ws->mq_head = q;
	ws->mq_tail = q;
}

static void
on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
    void *arg)
{
	struct sv_ws *ws = arg;
	size_t rl;

	(void)ctx;
	switch (a->opcode) {
	case WSLAY_TEXT_FRAME:
	case WSLAY_BINARY_FRAME:
		deliver(ws, a->opcode, a->msg, a->msg_length);
		break;
	case WSLAY_CONNECTION_CLOSE:
		ws->rx_code = a->status_code != 0 ? a->status_code :
		                                    SV_WS_CLOSE_NO_STATUS;
		free(ws->rx_reason);
		ws->rx_reason = NULL;
		rl = a->msg_length > 2 ? a->msg_length - 2 : 0;
		if (rl > 0 && a->msg != NULL) {
			ws->rx_reason = malloc(rl + 1);
			if (ws->rx_reason != NULL) {
				memcpy(ws->rx_reason, a->msg + 2, rl);
				ws->rx_reason[rl] = '\0';
			}
		}
		sv_log_debug("ws: peer sent close %u%s%s", ws->rx_code,
		    ws->rx_reason != NULL ? ": " : "",
		    ws->rx_reason != NULL ? ws->rx_reason : "");
		break;
	default:
		break;
	}
}

/* ---- the wslay context ------------------------------------------------------
 */

static int
ctx_make(struct sv_ws *ws)
{
	static const struct wslay_event_callbacks cb = {
		on_recv,
		on_send,
		on_genmask,
		on_frame_start,
		NULL,
		on_frame_end,
		on_msg,
	};
	int rc;

	if (ws->ctx != NULL)
		return 0;
	rc = ws->server ? wslay_event_context_server_init(&ws->ctx, &cb, ws) :
	                  wslay_event_context_client_init(&ws->ctx, &cb, ws);
	if (rc != 0) {
		ws->ctx = NULL;
		return sv_err_set(&ws->err, EX_OSERR, "out of memory");
	}
	wslay_event_config_set_max_recv_msg_length(ws->ctx, ws->max_msg);
	if (ws->server && ws->on_msg == NULL)
		wslay_event_config_set_no_buffering(ws->ctx, 1);
	ws->fed = ws->used = 0;
	ws->in_frame = ws->in_msg = false;
	return 0;
}

/* A server session with nothing in flight gives its wslay context back:
 * at a message boundary, nothing buffered in wslay, nothing to send, no
 * closing handshake under way. */
static void
ctx_trim(struct sv_ws *ws)
{
	if (!ws->server || ws->ctx == NULL || ws->result != 0)
		return;
	if (ws->in_frame || ws->in_msg || ws->fed != ws->used ||
	    ws->pre != NULL || ws->close_queued || ws->pending_close != 0)
		return;
	if (wslay_event_want_write(ws->ctx) ||
	    wslay_event_get_queued_msg_count(ws->ctx) != 0 ||
	    !wslay_event_get_read_enabled(ws->ctx) ||
	    !wslay_event_get_write_enabled(ws->ctx) ||
	    wslay_event_get_close_received(ws->ctx) ||
	    wslay_event_get_close_sent(ws->ctx))
		return;
	wslay_event_context_free(ws->ctx);
	ws->ctx = NULL;
}

/* ---- output ----------------------------------------------------------------
 */

static void
chunk_pop(struct sv_ws *ws)
{
	struct chunk *c = ws->qhead;

	ws->qhead = c->next;
	if (ws->qhead == NULL)
		ws->qtail = NULL;
	sv_ws_frame_unref(c->f);
	free(c);
	ws->qoff = 0;
}

static void
raw_drop_all(struct sv_ws *ws)
{
	while (ws->qhead != NULL)
		chunk_pop(ws);
	ws->qbytes = 0;
}

static int
queue_close_now(struct sv_ws *ws, unsigned code, const char *reason)
{
	size_t rl = reason != NULL ? strlen(reason) : 0;

	if (ctx_make(ws) < 0)
		return -1;
	if (rl > 123)
		rl = 123;
	rl = utf8_valid_prefix((const unsigned char *)reason, rl);
	ws->close_queued = true;
	if (wslay_event_queue_close(
	        ws->ctx, (uint16_t)code, (const uint8_t *)reason, rl) != 0)
		return -1;
	return 0;
}

/* Write what can be written: a raw frame already started goes first,
 * then wslay's queue (control frames, client messages), then raw frames,
 * then a close waiting for them. 0 (done or blocked) or -1 (I/O error). */
static int
flush(struct sv_ws *ws)
{
	struct sv_ws_frame *f;
	bool wslay_wants;
	ssize_t n;

	for (;;) {
		if (ws->qhead != NULL && ws->ctx != NULL &&
		    wslay_event_get_close_sent(ws->ctx)) {
			raw_drop_all(ws); /* nothing may follow a close */
			continue;
		}
		wslay_wants =
		    ws->ctx != NULL && wslay_event_want_write(ws->ctx);
		if (ws->qhead != NULL && (ws->qoff > 0 || !wslay_wants)) {
			f = ws->qhead->f;
			n = raw_write(ws, f->data + ws->qoff, f->len - ws->qoff,
			    ws->qhead->next != NULL);
			if (n == -1)
				return 0;
			if (n < 0) {
				ws->ioerr = true;
				return -1;
			}
			ws->qoff += (size_t)n;
			ws->qbytes -= (size_t)n;
			if (ws->qoff == f->len)
				chunk_pop(ws);
			continue;
		}
		if (wslay_wants) {
			if (wslay_event_send(ws->ctx) != 0) {
				if (!ws->ioerr)
					sv_err_set(&ws->err, EX_TEMPFAIL,
					    "write failed");
				ws->ioerr = true;
				return -1;
			}
			if (wslay_event_want_write(ws->ctx))
				return 0;
			continue;
		}
		if (ws->pending_close != 0 && ws->qhead == NULL) {
			unsigned code = ws->pending_close;

			ws->pending_close = 0;
			if (queue_close_now(ws, code, ws->pending_reason) < 0) {
				free(ws->pending_reason);
				ws->pending_reason = NULL;
				return -1;
			}
			free(ws->pending_reason);
			ws->pending_reason = NULL;
			continue;
		}
		return 0;
	}
}

/* ---- state ------------------------------------------------------------------
 */

static int
finish(struct sv_ws *ws, int result)
{
	ws->result = result;
	if (result > 0)
		sv_err_clear(&ws->err);
	raw_drop_all(ws);
	return result;
}

/* Has the session ended? 0 no, 1 cleanly, -1 failed (ws->err). */
static int
finish_check(struct sv_ws *ws)
{
	bool cr, cs;

	if (ws->result != 0)
		return ws->result;
	cr = ws->ctx != NULL && wslay_event_get_close_received(ws->ctx);
	cs = ws->ctx != NULL && wslay_event_get_close_sent(ws->ctx);
	if (ws->eof || ws->ioerr) {
		if (cr)
			return finish(ws, 1);
		if (ws->proto)
			return finish(ws, -1);
		if (ws->eof || ws->err.ex == 0)
			sv_err_set(&ws->err, EX_TEMPFAIL,
			    "connection lost (no close frame)");
		return finish(ws, -1);
	}
	if (ws->proto) {
		/* wslay met a malformed frame and queued an empty close */
		return finish(ws, -1);
	}
	if (cs && cr)
		return finish(ws, 1);
	if (cs && !wslay_event_get_read_enabled(ws->ctx)) {
		unsigned c = wslay_event_get_status_code_sent(ws->ctx);

		/* we failed the connection for what the peer sent */
		sv_err_set(&ws->err, EX_PROTOCOL,
		    "peer broke the protocol: closed with %u (%s)", c,
		    close_code_text(c));
		return finish(ws, -1);
	}
	return 0;
}

static int
result_err(struct sv_ws *ws, struct sv_err *e)
{
	if (ws->result < 0 && e != NULL)
		*e = ws->err;
	return ws->result;
}

int
sv_ws_io(struct sv_ws *ws, short revents, struct sv_err *e)
{
	bool rd;
	int rc;

	if (ws->result != 0)
		return result_err(ws, e);
	rd = ws->ctx == NULL || wslay_event_want_read(ws->ctx);
	if (rd &&
	    (ws->tls != NULL || revents == 0 || ws->pre != NULL ||
	        (revents & (POLLIN | POLLHUP | POLLERR)) != 0)) {
		if (ctx_make(ws) < 0)
			return sv_err_set(e, EX_OSERR, "out of memory");
		ws->budget = ws->server ? SERVER_READ_BUDGET : SIZE_MAX;
		ws->in_cb = true;
		rc = wslay_event_recv(ws->ctx);
		ws->in_cb = false;
		if (rc == WSLAY_ERR_NOMEM) {
			sv_err_set(&ws->err, EX_OSERR, "out of memory");
			ws->ioerr = true;
		} else if (rc != 0 && !ws->eof && !ws->ioerr) {
			ws->proto = true;
			sv_err_set(&ws->err, EX_PROTOCOL,
			    "peer broke the protocol: malformed frame");
		}
	}
	if (flush(ws) < 0)
		ws->ioerr = true;
	rc = finish_check(ws);
	if (rc == 0)
		ctx_trim(ws);
	if (rc < 0 && e != NULL)
		*e = ws->err;
	return rc;
}

int
sv_ws_fd(const struct sv_ws *ws)
{
	return ws->fd;
}

short
sv_ws_events(const struct sv_ws *ws)
{
	bool rd, wr;
	short ev = 0;

	if (ws->result != 0)
		return 0;
	rd = ws->ctx == NULL || wslay_event_want_read(ws->ctx);
	wr = ws->qhead != NULL || ws->pending_close != 0 ||
	    (ws->ctx != NULL && wslay_event_want_write(ws->ctx));
	if (rd)
		ev |= ws->tls != NULL && ws->tls_rd_want == SV_TLS_WANT_WRITE ?
		    POLLOUT :
		    POLLIN;
	if (wr)
		ev |= ws->tls != NULL && ws->tls_wr_want == SV_TLS_WANT_READ ?
		    POLLIN :
		    POLLOUT;
	return ev;
}

bool
sv_ws_pending(const struct sv_ws *ws)
{
	if (ws->result != 0)
		return false;
	return ws->pre != NULL ||
	    (ws->tls != NULL && sv_tls_pending(ws->tls) > 0);
}

enum sv_ws_state
sv_ws_state(const struct sv_ws *ws)
{
	wslay_event_context_ptr c = ws->ctx;

	if (ws->result != 0)
		return SV_WS_CLOSED;
	if (ws->close_queued || ws->pending_close != 0 ||
	    (c != NULL &&
	        (!wslay_event_get_read_enabled(c) ||
	            !wslay_event_get_write_enabled(c) ||
	            wslay_event_get_close_received(c) ||
	            wslay_event_get_close_sent(c))))
		return SV_WS_CLOSING;
	return SV_WS_OPEN;
}

unsigned
sv_ws_close_code(const struct sv_ws *ws)
{
	return ws->rx_code;
}

const char *
sv_ws_close_reason(const struct sv_ws *ws)
{
	return ws->rx_reason != NULL ? ws->rx_reason : "";
}

unsigned
sv_ws_close_code_sent(const struct sv_ws *ws)
{
	if (ws->ctx == NULL || !wslay_event_get_close_sent(ws->ctx))
		return SV_WS_CLOSE_ABNORMAL;
	return wslay_event_get_status_code_sent(ws->ctx);
}

size_t
sv_ws_queued(const struct sv_ws *ws)
{
	size_t n = ws->qbytes;

	if (ws->ctx != NULL)
		n += wslay_event_get_queued_msg_length(ws->ctx);
	return n;
}

unsigned long
sv_ws_rx_frames(const struct sv_ws *ws)
{
	return ws->rx_frames;
}

void
sv_ws_free(struct sv_ws *ws)
{
	struct msgq *q;

	if (ws == NULL)
		return;
	raw_drop_all(ws);
	while ((q = ws->mq_head) != NULL) {
		ws->mq_head = q->next;
		free(q->m);
		free(q);
	}
	if (ws->ctx != NULL)
		wslay_event_context_free(ws->ctx);
	sv_tls_free(ws->tls);
	if (ws->fd >= 0)
		close(ws->fd);
	free(ws->pre);
	free(ws->pending_reason);
	free(ws->rx_reason);
	free(ws);
}

/* ---- sending
 * ------------------------------------------------------------------ */

static int
check_open(struct sv_ws *ws, struct sv_err *e)
{
	if (ws->result != 0)
		return sv_err_set(e, EX_SOFTWARE, "WebSocket is closed");
	if (sv_ws_state(ws) != SV_WS_OPEN)
		return sv_err_set(e, EX_SOFTWARE, "WebSocket is closing");
	return 0;
}

static void
chunk_push(struct sv_ws *ws, struct chunk *c)
{
	c->next = NULL;
	if (ws->qtail != NULL)
		ws->qtail->next = c;
	else
		ws->qhead = c;
	ws->qtail = c;
}

int
sv_ws_send_frame(struct sv_ws *ws, struct sv_ws_frame *f, struct sv_err *e)
{
	struct chunk *c;
	ssize_t n = 0;

	if (!ws->server)
		return sv_err_set(
		    e, EX_SOFTWARE, "shared frames are for server sessions");
	if (check_open(ws, e) < 0)
		return -1;
	if (ws->qhead == NULL &&
	    (ws->ctx == NULL || !wslay_event_want_write(ws->ctx))) {
		/* the common case: nothing queued, straight to the socket */
		n = raw_write(ws, f->data, f->len, false);
		if (n == (ssize_t)f->len)
			return 0;
		if (n == -2) {
			ws->ioerr = true;
			finish_check(ws);
			if (e != NULL)
				*e = ws->err;
			return -1;
		}
		if (n < 0)
			n = 0;
	}
	c = malloc(sizeof(*c));
	if (c == NULL)
		return sv_err_set(e, EX_OSERR, "out of memory");
	c->f = sv_ws_frame_ref(f);
	chunk_push(ws, c);
	if (ws->qhead == c)
		ws->qoff = (size_t)n;
	ws->qbytes += f->len - (size_t)n;
	return 0;
}

/* Queue a message in wslay (copied) and write what the socket takes. */
static int
queue_msg(struct sv_ws *ws, uint8_t op, const void *data, size_t len,
    struct sv_err *e)
{
	struct wslay_event_msg m;

	if (ctx_make(ws) < 0)
		return sv_err_set(e, EX_OSERR, "out of memory");
	m.opcode = op;
	m.msg = data;
	m.msg_length = len;
	if (wslay_event_queue_msg(ws->ctx, &m) != 0)
		return sv_err_set(e, EX_OSERR, "cannot queue a message");
	if (!ws->in_cb && flush(ws) < 0) {
		finish_check(ws);
		if (e != NULL)
			*e = ws->err;
		return -1;
	}
	return 0;
}

int
sv_ws_send(
    struct sv_ws *ws, int op, const void *data, size_t len, struct sv_err *e)
{
	struct sv_ws_frame *f;
	int rc;

	if (op != SV_WS_TEXT && op != SV_WS_BINARY)
		return sv_err_set(e, EX_SOFTWARE, "bad message type %d", op);
	if (op == SV_WS_TEXT && !utf8_valid(data, len))
		return sv_err_set(e, EX_DATAERR, "text message is not UTF-8");
	if (check_open(ws, e) < 0)
		return -1;
	if (ws->server) {
		/* one queue keeps data frames in order */
		f = sv_ws_frame_new(op, data, len);
		if (f == NULL)
			return sv_err_set(e, EX_OSERR, "out of memory");
		rc = sv_ws_send_frame(ws, f, e);
		sv_ws_frame_unref(f);
		return rc;
	}
	return queue_msg(ws, (uint8_t)op, data, len, e);
}

int
sv_ws_send_text(
    struct sv_ws *ws, const char *data, size_t len, struct sv_err *e)
{
	return sv_ws_send(ws, SV_WS_TEXT, data, len, e);
}

int
sv_ws_ping(struct sv_ws *ws, const void *data, size_t len, struct sv_err *e)
{
	if (len > 125)
		return sv_err_set(
		    e, EX_SOFTWARE, "ping payload over 125 bytes");
	if (check_open(ws, e) < 0)
		return -1;
	return queue_msg(ws, WSLAY_PING, data, len, e);
}

int
sv_ws_close(struct sv_ws *ws, unsigned code, const char *reason)
{
	if (ws->result != 0 || sv_ws_state(ws) != SV_WS_OPEN)
		return -1;
	if (!close_code_ok(code))
		code = SV_WS_CLOSE_NORMAL;
	if (ws->qhead != NULL) {
		ws->pending_close = code;
		ws->pending_reason = reason != NULL ? strdup(reason) : NULL;
		return 0;
	}
	if (queue_close_now(ws, code, reason) < 0)
		return -1;
	if (!ws->in_cb && flush(ws) < 0)
		ws->ioerr = true;
	return 0;
}

void
sv_ws_discard(struct sv_ws *ws)
{
	struct chunk *keep;
	size_t off;

	if (ws->qhead == NULL)
		return;
	if (ws->qoff == 0) {
		raw_drop_all(ws);
		return;
	}
	keep = ws->qhead;
	off = ws->qoff;
	ws->qhead = keep->next;
	raw_drop_all(ws); /* resets qoff */
	keep->next = NULL;
	ws->qhead = ws->qtail = keep;
	ws->qoff = off;
	ws->qbytes = keep->f->len - off;
}

/* ---- blocking helpers
 * ------------------------------------------------------------ */

/* Wait for the session's fd (or not at all when input is buffered) and
 * run sv_ws_io once. 1 ran, 0 timed out or interrupted. */
static int
wait_io(struct sv_ws *ws, long long end, struct sv_err *e)
{
	long left = -1;
	int r = 0;

	if (!sv_ws_pending(ws)) {
		if (end >= 0) {
			left = (long)(end - sv_net_now_ms());
			if (left <= 0)
				return 0;
		}
		r = sv_net_wait(ws->fd, sv_ws_events(ws), left);
		if (r == 0 || (r < 0 && errno == EINTR))
			return 0;
		if (r < 0)
			r = POLLERR;
	}
	(void)sv_ws_io(ws, (short)r, e);
	return 1;
}

enum sv_ws_res
sv_ws_recv(
    struct sv_ws *ws, struct sv_ws_msg **msg, long timeout_ms, struct sv_err *e)
{
	long long end = timeout_ms < 0 ? -1 : sv_net_now_ms() + timeout_ms;
	struct msgq *q;

	*msg = NULL;
	for (;;) {
		if ((q = ws->mq_head) != NULL) {
			ws->mq_head = q->next;
			if (ws->mq_head == NULL)
				ws->mq_tail = NULL;
			*msg = q->m;
			free(q);
			return SV_WS_MSG;
		}
		if (ws->result > 0)
			return SV_WS_CLOSED_OK;
		if (ws->result < 0) {
			result_err(ws, e);
			return SV_WS_ERROR;
		}
		if (wait_io(ws, end, e) == 0)
			return SV_WS_TIMEOUT;
	}
}

int
sv_ws_poll(
    struct sv_ws *const *ws, size_t n, struct pollfd *pfd, int timeout_ms)
{
	size_t i;

	for (i = 0; i < n; i++) {
		pfd[i].fd = sv_ws_fd(ws[i]);
		pfd[i].events = sv_ws_events(ws[i]);
		pfd[i].revents = 0;
		if (sv_ws_pending(ws[i]))
			timeout_ms = 0;
	}
	return poll(pfd, (nfds_t)n, timeout_ms);
}

/* Close and drive the session until it has finished or end has passed. */
static void
close_drive(struct sv_ws *ws, unsigned code, const char *reason, long long end)
{
	struct sv_err e;

	(void)sv_ws_close(ws, code, reason);
	while (ws->result == 0 && wait_io(ws, end, &e) != 0)
		continue;
}

void
sv_ws_close_until(struct sv_ws *ws, unsigned code, long long deadline_ms)
{
	close_drive(ws, code, NULL, deadline_ms);
}

int
sv_ws_close_wait(
    struct sv_ws *ws, unsigned code, const char *reason, long timeout_ms)
{
	ws->dropping = true;
	close_drive(ws, code, reason,
	    sv_net_now_ms() + (timeout_ms < 0 ? 0 : timeout_ms));
	if (ws->result == 0)
		(void)finish(ws, -1);
	return ws->result > 0 ? 0 : -1;
}

/* ---- HTTP heads
 * ---------------------------------------------------------------------- */

/* Is s[0..n) a valid start line? 0 or -1 (e set). Does not modify. */
static int
check_start_line(const char *s, size_t n, bool request, struct sv_err *e)
{
	size_t i = 0, j;

	if (request) {
		while (i < n && is_tchar((unsigned char)s[i]))
			i++;
		if (i == 0 || i >= n || s[i] != ' ')
			return sv_err_set(e, EX_PROTOCOL, "bad request method");
		j = ++i;
		while (i < n && (unsigned char)s[i] > 0x20 &&
		    (unsigned char)s[i] < 0x7f)
			i++;
		if (i == j || i >= n || s[i] != ' ')
			return sv_err_set(e, EX_PROTOCOL, "bad request target");
		if (s[j] != '/')
			return sv_err_set(e, EX_PROTOCOL,
			    "request target is not an absolute path");
		i++;
		if (n - i != 8 || memcmp(s + i, "HTTP/1.", 7) != 0 ||
		    s[i + 7] < '0' || s[i + 7] > '9')
			return sv_err_set(e, EX_PROTOCOL, "not HTTP/1.x");
		return 0;
	}
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' ||
	    s[7] > '9' || s[8] != ' ')
		return sv_err_set(e, EX_PROTOCOL, "not an HTTP/1.x answer");
	for (i = 9; i < 12; i++)
		if (s[i] < '0' || s[i] > '9')
			return sv_err_set(e, EX_PROTOCOL, "bad HTTP status");
	if (n > 12 && s[12] != ' ')
		return sv_err_set(e, EX_PROTOCOL, "bad HTTP status line");
	for (i = 13; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
		    s[i] == 0x7f)
			return sv_err_set(e, EX_PROTOCOL, "bad HTTP reason");
	return 0;
}

/* Parse one header line s[0..n) in place into hd. 0 or -1. */
static int
parse_header(char *s, size_t n, struct sv_ws_hdr *hd, struct sv_err *e)
{
	size_t i = 0, vs, ve;
	unsigned char c;

	while (i < n && is_tchar((unsigned char)s[i]))
		i++;
	if (i == 0 || i >= n || s[i] != ':')
		return sv_err_set(e, EX_PROTOCOL, "bad header line");
	s[i] = '\0';
	hd->name = s;
	i++;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	vs = i;
	for (; i < n; i++) {
		c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return sv_err_set(
			    e, EX_PROTOCOL, "control byte in header %s", s);
	}
	ve = n;
	while (ve > vs && (s[ve - 1] == ' ' || s[ve - 1] == '\t'))
		ve--;
	s[ve] = '\0';
	hd->value = s + vs;
	return 0;
}

long
sv_ws_head_parse(
    char *buf, size_t len, bool request, struct sv_ws_head *h, struct sv_err *e)
{
	size_t i, start = 0, end = 0, ls, le, n;
	unsigned char c;
	char *line;
	bool first = true;

	/* RFC 9112 2.2: a server may ignore empty lines before a request */
	while (request && start < len && start < 4 &&
	    (buf[start] == '\r' || buf[start] == '\n'))
		start++;
	for (i = start; i < len; i++) {
		c = (unsigned char)buf[i];
		if (c == '\n') {
			if (i + 1 < len && buf[i + 1] == '\n') {
				end = i + 2;
				break;
			}
			if (i + 2 < len && buf[i + 1] == '\r' &&
			    buf[i + 2] == '\n') {
				end = i + 3;
				break;
			}
		} else if ((c < 0x20 && c != '\r' && c != '\t') || c == 0x7f) {
			return sv_err_set(e, EX_PROTOCOL,
			    "control byte 0x%02x in the HTTP head", c);
		}
		if (i - start >= SV_WS_MAX_HEAD)
			return sv_err_set(e, EX_PROTOCOL,
			    "HTTP head longer than %d bytes", SV_WS_MAX_HEAD);
	}
	if (end == 0) {
		/* incomplete: judge the first line as soon as it is whole */
		line = memchr(buf + start, '\n', len - start);
		if (line != NULL) {
			n = (size_t)(line - (buf + start));
			if (n > 0 && buf[start + n - 1] == '\r')
				n--;
			if (check_start_line(buf + start, n, request, e) < 0)
				return -1;
		}
		return 0;
	}
	memset(h, 0, sizeof(*h));
	ls = start;
	while (ls < end) {
		line = memchr(buf + ls, '\n', end - ls);
		le = (size_t)(line - buf);
		n = le - ls;
		if (n > 0 && buf[le - 1] == '\r')
			n--;
		if (memchr(buf + ls, '\r', n) != NULL)
			return sv_err_set(e, EX_PROTOCOL, "stray CR in a line");
		if (first) {
			if (check_start_line(buf + ls, n, request, e) < 0)
				return -1;
			buf[ls + n] = '\0';
			if (request) {
				char *sp1 = strchr(buf + ls, ' ');
				char *sp2 = strchr(sp1 + 1, ' ');

				*sp1 = '\0';
				*sp2 = '\0';
				h->method = buf + ls;
				h->target = sp1 + 1;
				h->minor = sp2[8] - '0';
			} else {
				h->minor = buf[ls + 7] - '0';
				h->status = (buf[ls + 9] - '0') * 100 +
				    (buf[ls + 10] - '0') * 10 +
				    (buf[ls + 11] - '0');
				h->reason = n > 13 ? buf + ls + 13 : "";
			}
			first = false;
		} else if (n == 0) {
			break; /* the blank line */
		} else {
			if (buf[ls] == ' ' || buf[ls] == '\t')
				return sv_err_set(e, EX_PROTOCOL,
				    "obsolete header line folding");
			if (h->nhdr == SV_WS_MAX_HEADERS)
				return sv_err_set(e, EX_PROTOCOL,
				    "more than %d headers", SV_WS_MAX_HEADERS);
			if (parse_header(buf + ls, n, &h->hdr[h->nhdr], e) < 0)
				return -1;
			h->nhdr++;
		}
		ls = le + 1;
	}
	return (long)end;
}

const char *
sv_ws_head_get(const struct sv_ws_head *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->nhdr; i++)
		if (strcasecmp(h->hdr[i].name, name) == 0)
			return h->hdr[i].value;
	return NULL;
}

size_t
sv_ws_head_count(const struct sv_ws_head *h, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < h->nhdr; i++)
		if (strcasecmp(h->hdr[i].name, name) == 0)
			n++;
	return n;
}

bool
sv_ws_token_in(const char *list, const char *token)
{
	size_t tl = strlen(token), n;
	const char *p = list;

	if (list == NULL)
		return false;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == tl && strncasecmp(p, token, tl) == 0)
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

static void
base64(const unsigned char *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

void
sv_ws_accept_key(const char *key, char out[SV_WS_ACCEPT_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c;

	out[0] = '\0';
	c = EVP_MD_CTX_new();
	if (c == NULL)
		return;
	if (EVP_DigestInit_ex(c, EVP_sha1(), NULL) == 1 &&
	    EVP_DigestUpdate(c, key, strlen(key)) == 1 &&
	    EVP_DigestUpdate(c, WS_GUID, sizeof(WS_GUID) - 1) == 1 &&
	    EVP_DigestFinal_ex(c, md, &mdlen) == 1 && mdlen == 20)
		base64(md, 20, out);
	EVP_MD_CTX_free(c);
}

static bool
is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

bool
sv_ws_is_upgrade(const struct sv_ws_head *h)
{
	return sv_ws_token_in(sv_ws_head_get(h, "Upgrade"), "websocket") ||
	    sv_ws_head_get(h, "Sec-WebSocket-Key") != NULL;
}

int
sv_ws_server_check(
    const struct sv_ws_head *h, char accept[SV_WS_ACCEPT_LEN], struct sv_err *e)
{
	const char *key, *ver, *cl;
	size_t i;

	accept[0] = '\0';
	if (h->method == NULL || strcmp(h->method, "GET") != 0) {
		sv_err_set(e, EX_PROTOCOL, "WebSocket upgrade needs GET");
		return 405;
	}
	if (h->minor < 1) {
		sv_err_set(e, EX_PROTOCOL, "WebSocket upgrade needs HTTP/1.1");
		return 400;
	}
	if (sv_ws_head_count(h, "Host") != 1) {
		sv_err_set(e, EX_PROTOCOL, "need exactly one Host header");
		return 400;
	}
	cl = sv_ws_head_get(h, "Content-Length");
	if (sv_ws_head_get(h, "Transfer-Encoding") != NULL ||
	    (cl != NULL && strcmp(cl, "0") != 0)) {
		sv_err_set(e, EX_PROTOCOL, "upgrade request with a body");
		return 400;
	}
	if (!sv_ws_token_in(sv_ws_head_get(h, "Upgrade"), "websocket")) {
		sv_err_set(e, EX_PROTOCOL, "no Upgrade: websocket");
		return 400;
	}
	if (!sv_ws_token_in(sv_ws_head_get(h, "Connection"), "upgrade")) {
		sv_err_set(e, EX_PROTOCOL, "no Connection: upgrade");
		return 400;
	}
	ver = sv_ws_head_get(h, "Sec-WebSocket-Version");
	if (ver == NULL || strcmp(ver, "13") != 0 ||
	    sv_ws_head_count(h, "Sec-WebSocket-Version") != 1) {
		sv_err_set(e, EX_PROTOCOL, "Sec-WebSocket-Version is not 13");
		return 426;
	}
	key = sv_ws_head_get(h, "Sec-WebSocket-Key");
	if (key == NULL || sv_ws_head_count(h, "Sec-WebSocket-Key") != 1) {
		sv_err_set(e, EX_PROTOCOL, "need one Sec-WebSocket-Key");
		return 400;
	}
	/* base64 of 16 bytes: 22 characters and "==" (RFC 6455 4.1) */
	for (i = 0; i < 22; i++)
		if (!is_b64(key[i]))
			break;
	if (i != 22 || strcmp(key + 22, "==") != 0) {
		sv_err_set(e, EX_PROTOCOL, "Sec-WebSocket-Key is not 16 bytes");
		return 400;
	}
	sv_ws_accept_key(key, accept);
	if (accept[0] == '\0') {
		sv_err_set(e, EX_SOFTWARE, "SHA-1 unavailable");
		return 500;
	}
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..n) into out; plus: '+' is a space. -1 if bad. */
static int
pct_decode(const char *s, size_t n, bool plus, char *out, size_t outlen)
{
	size_t i, o = 0;
	int hi, lo;
	char c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return -1;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus) {
			c = ' ';
		}
		if (c == '\0' || o + 1 >= outlen)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

int
sv_ws_query_get(const char *target, const char *key, char *out, size_t outlen)
{
	const char *q, *p, *eq, *amp;
	char name[256];
	size_t n;

	q = strchr(target, '?');
	if (q == NULL)
		return 0;
	n = strcspn(q + 1, "#");
	p = q + 1;
	while (p < q + 1 + n) {
		amp = memchr(p, '&', (size_t)(q + 1 + n - p));
		if (amp == NULL)
			amp = q + 1 + n;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (pct_decode(p, (size_t)((eq != NULL ? eq : amp) - p), true,
		        name, sizeof(name)) == 0 &&
		    strcmp(name, key) == 0) {
			if (eq == NULL) {
				if (outlen == 0)
					return -1;
				out[0] = '\0';
				return 1;
			}
			return pct_decode(eq + 1, (size_t)(amp - eq - 1), true,
			           out, outlen) == 0 ?
			    1 :
			    -1;
		}
		p = amp + 1;
	}
	return 0;
}

int
sv_ws_safe_path(const char *target, char *out, size_t outlen)
{
	size_t n = strcspn(target, "?#"), i, seg;

	if (n == 0 || target[0] != '/')
		return -1;
	if (pct_decode(target + 1, n - 1, false, out, outlen) < 0)
		return -1;
	n = strlen(out);
	if (strchr(out, '\\') != NULL)
		return -1;
	for (i = 0, seg = 0; i <= n; i++) {
		if (i < n && out[i] != '/')
			continue;
		/* segment out[seg..i) */
		if (i == seg && i != n)
			return -1; /* "//" or a leading "/" after decoding */
		if ((i - seg == 1 && out[seg] == '.') ||
		    (i - seg == 2 && out[seg] == '.' && out[seg + 1] == '.'))
			return -1;
		seg = i + 1;
	}
	return 0;
}

static const char *
mime_type(const char *path)
{
	static const char *const map[][2] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".htm", "text/html; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".mjs", "text/javascript; charset=utf-8" },
		{ ".json", "application/json" },
		{ ".txt", "text/plain; charset=utf-8" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
		{ ".jpg", "image/jpeg" },
		{ ".jpeg", "image/jpeg" },
		{ ".gif", "image/gif" },
		{ ".webp", "image/webp" },
		{ ".ico", "image/x-icon" },
		{ ".mp3", "audio/mpeg" },
		{ ".ogg", "audio/ogg" },
		{ ".wav", "audio/wav" },
		{ ".webm", "video/webm" },
		{ ".mp4", "video/mp4" },
		{ ".woff", "font/woff" },
		{ ".woff2", "font/woff2" },
		{ ".ttf", "font/ttf" },
	};
	const char *dot = strrchr(path, '.');
	size_t i;

	if (dot != NULL && strchr(dot, '/') == NULL)
		for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (strcasecmp(dot, map[i][0]) == 0)
				return map[i][1];
	return "application/octet-stream";
}

/* Is the real path p inside root? */
static bool
under(const char *p, const char *root)
{
	size_t rl = strlen(root);

	if (strcmp(root, "/") == 0)
		return p[0] == '/';
	return strncmp(p, root, rl) == 0 && p[rl] == '/';
}

/* realpath() of path if it lies under root, then open it. */
static int
open_under(const char *root, const char *path, char real[PATH_MAX])
{
	if (realpath(path, real) == NULL || !under(real, root))
		return -1;
	return open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
}

int
sv_ws_static_open(
    const char *root, const char *target, off_t *size, const char **mime)
{
	char rel[PATH_MAX], full[PATH_MAX * 2], real[PATH_MAX];
	struct stat st;
	size_t rl;
	int fd;

	if (sv_ws_safe_path(target, rel, sizeof(rel) - 16) < 0)
		return -1;
	rl = strlen(rel);
	if (rl == 0 || rel[rl - 1] == '/')
		memcpy(rel + rl, "index.html", 11);
	(void)snprintf(full, sizeof(full), "%s/%s", root, rel);
	fd = open_under(root, full, real);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		(void)snprintf(full, sizeof(full), "%s/index.html", real);
		fd = open_under(root, full, real);
	}
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*size = st.st_size;
	*mime = mime_type(real);
	return fd;
}

/* ---- URLs
 * -----------------------------------------------------------------------------
 */

int
sv_ws_url_parse(const char *url, struct sv_ws_url *u, struct sv_err *e)
{
	const char *p, *auth, *aend, *hs, *he, *port = NULL;
	size_t hl, tl, i;
	unsigned long pn;
	bool v6 = false;
	char *end;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(url, "ws://", 5) == 0) {
		p = url + 5;
	} else if (strncasecmp(url, "wss://", 6) == 0) {
		p = url + 6;
		u->tls = true;
	} else {
		return sv_err_set(
		    e, EX_USAGE, "'%s': not a ws:// or wss:// URL", url);
	}
	auth = p;
	aend = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', (size_t)(aend - auth)) != NULL)
		return sv_err_set(e, EX_USAGE,
		    "'%s': user info in a WebSocket URL is not supported", url);
	if (*auth == '[') {
		he = memchr(auth, ']', (size_t)(aend - auth));
		if (he == NULL)
			return sv_err_set(e, EX_USAGE, "'%s': unclosed [", url);
		hs = auth + 1;
		v6 = true;
		if (he + 1 < aend) {
			if (he[1] != ':')
				return sv_err_set(
				    e, EX_USAGE, "'%s': bad address", url);
			port = he + 2;
		}
	} else {
		hs = auth;
		he = memchr(auth, ':', (size_t)(aend - auth));
		if (he != NULL)
			port = he + 1;
		else
			he = aend;
	}
	hl = (size_t)(he - hs);
	if (hl == 0 || hl >= sizeof(u->host))
		return sv_err_set(e, EX_USAGE, "'%s': bad host", url);
	for (i = 0; i < hl; i++) {
		char c = hs[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		        c == '_' || (v6 && c == ':')))
			return sv_err_set(e, EX_USAGE, "'%s': bad host", url);
	}
	memcpy(u->host, hs, hl);
	u->host[hl] = '\0';
	if (port != NULL) {
		if (port == aend || (size_t)(aend - port) > 5 ||
		    strspn(port, "0123456789") < (size_t)(aend - port))
			return sv_err_set(e, EX_USAGE, "'%s': bad port", url);
		pn = strtoul(port, &end, 10);
		if (pn == 0 || pn > 65535)
			return sv_err_set(e, EX_USAGE, "'%s': bad port", url);
		(void)snprintf(u->port, sizeof(u->port), "%lu", pn);
	} else {
		(void)snprintf(
		    u->port, sizeof(u->port), "%s", u->tls ? "443" : "80");
	}
	tl = strcspn(aend, "#");
	if (tl + 2 > sizeof(u->target))
		return sv_err_set(e, EX_USAGE, "'%s': path too long", url);
	for (i = 0; i < tl; i++)
		if ((unsigned char)aend[i] <= 0x20 ||
		    (unsigned char)aend[i] >= 0x7f)
			return sv_err_set(e, EX_USAGE,
			    "'%s': spaces and non-ASCII must be %%-encoded",
			    url);
	if (*aend != '/')
		u->target[0] = '/';
	memcpy(u->target + strlen(u->target), aend, tl);
	if (port == NULL || strcmp(u->port, u->tls ? "443" : "80") == 0)
		(void)snprintf(u->hosthdr, sizeof(u->hosthdr),
		    v6 ? "[%s]" : "%s", u->host);
	else
		(void)snprintf(u->hosthdr, sizeof(u->hosthdr),
		    v6 ? "[%s]:%s" : "%s:%s", u->host, u->port);
	return 0;
}

/* ---- client connect
 * ------------------------------------------------------------------------ */

/* Check an extra header: "Name: value" without CR/LF, not ours. */
static int
check_header(const char *h, bool *has_ua, bool *has_proto, struct sv_err *e)
{
	static const char *const ours[] = { "Host", "Upgrade", "Connection",
		"Sec-WebSocket-Key", "Sec-WebSocket-Version", NULL };
	size_t n = 0, i;

	while (is_tchar((unsigned char)h[n]))
		n++;
	if (n == 0 || h[n] != ':')
		return sv_err_set(
		    e, EX_USAGE, "header '%.40s' is not 'Name: value'", h);
	for (i = n + 1; h[i] != '\0'; i++)
		if (((unsigned char)h[i] < 0x20 && h[i] != '\t') ||
		    h[i] == 0x7f)
			return sv_err_set(e, EX_USAGE,
			    "header %.*s: control characters in the value",
			    (int)n, h);
	for (i = 0; ours[i] != NULL; i++)
		if (strlen(ours[i]) == n && strncasecmp(h, ours[i], n) == 0)
			return sv_err_set(e, EX_USAGE,
			    "header %s is set by the WebSocket handshake",
			    ours[i]);
	if (n == 10 && strncasecmp(h, "User-Agent", n) == 0)
		*has_ua = true;
	if (n == 22 && strncasecmp(h, "Sec-WebSocket-Protocol", n) == 0)
		*has_proto = true;
	return 0;
}

static int
write_all(
    struct sv_ws *ws, const char *p, size_t n, long long end, struct sv_err *e)
{
	ssize_t w;
	int r;

	while (n > 0) {
		w = raw_write(ws, p, n, false);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w == -2) {
			*e = ws->err;
			e->ex = EX_UNAVAILABLE;
			return -1;
		}
		r = sv_net_wait(ws->fd,
		    ws->tls != NULL && ws->tls_wr_want == SV_TLS_WANT_READ ?
		        POLLIN :
		        POLLOUT,
		    (long)(end - sv_net_now_ms()));
		if (r == 0 || sv_net_now_ms() >= end)
			return sv_err_set(e, EX_UNAVAILABLE,
			    "WebSocket handshake: timed out");
	}
	return 0;
}

/* Read the answer head; the bytes after it become ws->pre. */
static int
read_answer(struct sv_ws *ws, const char *key, bool asked_proto, long long end,
    struct sv_err *e)
{
	char buf[SV_WS_MAX_HEAD + 4096], want[SV_WS_ACCEPT_LEN];
	const char *v, *loc;
	struct sv_ws_head h;
	size_t len = 0;
	ssize_t n;
	long hl;
	int r;

	for (;;) {
		n = raw_read(ws, buf + len, sizeof(buf) - 1 - len);
		if (n > 0) {
			len += (size_t)n;
			hl = sv_ws_head_parse(buf, len, false, &h, e);
			if (hl < 0)
				return sv_err_prefix(e, "WebSocket handshake");
			if (hl > 0)
				break;
			if (len >= sizeof(buf) - 1)
				return sv_err_set(e, EX_PROTOCOL,
				    "WebSocket handshake: answer too long");
			continue;
		}
		if (n == 0 || n == -2) {
			if (n == -2)
				*e = ws->err;
			return sv_err_set(e, EX_UNAVAILABLE,
			    "WebSocket handshake: %s",
			    n == 0 ? "connection closed before an answer" :
			             ws->err.msg);
		}
		r = sv_net_wait(ws->fd,
		    ws->tls != NULL && ws->tls_rd_want == SV_TLS_WANT_WRITE ?
		        POLLOUT :
		        POLLIN,
		    (long)(end - sv_net_now_ms()));
		if (r == 0 || sv_net_now_ms() >= end)
			return sv_err_set(e, EX_UNAVAILABLE,
			    "WebSocket handshake: timed out");
	}
	if (h.status != 101) {
		if (h.status >= 300 && h.status < 400) {
			loc = sv_ws_head_get(&h, "Location");
			return sv_err_set(e, EX_UNAVAILABLE,
			    "WebSocket handshake: HTTP %d redirect%s%.120s refused",
			    h.status, loc != NULL ? " to " : "",
			    loc != NULL ? loc : "");
		}
		return sv_err_set(e,
		    h.status == 401 || h.status == 403 ? EX_NOPERM :
		                                         EX_UNAVAILABLE,
		    "WebSocket handshake: HTTP %d %.80s", h.status, h.reason);
	}
	if (!sv_ws_token_in(sv_ws_head_get(&h, "Upgrade"), "websocket") ||
	    !sv_ws_token_in(sv_ws_head_get(&h, "Connection"), "upgrade"))
		return sv_err_set(e, EX_PROTOCOL,
		    "WebSocket handshake: 101 without Upgrade: websocket");
	sv_ws_accept_key(key, want);
	v = sv_ws_head_get(&h, "Sec-WebSocket-Accept");
	if (v == NULL || strcmp(v, want) != 0 ||
	    sv_ws_head_count(&h, "Sec-WebSocket-Accept") != 1)
		return sv_err_set(e, EX_PROTOCOL,
		    "WebSocket handshake: wrong Sec-WebSocket-Accept");
	if (sv_ws_head_get(&h, "Sec-WebSocket-Extensions") != NULL)
		return sv_err_set(e, EX_PROTOCOL,
		    "WebSocket handshake: extension we did not ask for");
	if (!asked_proto &&
	    sv_ws_head_get(&h, "Sec-WebSocket-Protocol") != NULL)
		return sv_err_set(e, EX_PROTOCOL,
		    "WebSocket handshake: subprotocol we did not ask for");
	if ((size_t)hl < len) {
		ws->pre = malloc(len - (size_t)hl);
		if (ws->pre == NULL)
			return sv_err_set(e, EX_OSERR, "out of memory");
		memcpy(ws->pre, buf + hl, len - (size_t)hl);
		ws->pre_len = len - (size_t)hl;
	}
	return 0;
}

struct sv_ws *
sv_ws_connect(const struct sv_ws_client_opts *o, struct sv_err *e)
{
	unsigned char nonce[16];
	struct ssl_ctx_st *tctx = NULL;
	bool has_ua = false, has_proto = false;
	struct sv_ws *ws = NULL;
	struct sv_ws_url u;
	struct sv_buf req;
	char key[25];
	long long end;
	long to = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	size_t i;

	sv_buf_init(&req);
	end = sv_net_now_ms() + to;
	if (sv_ws_url_parse(o->url, &u, e) < 0)
		return NULL;
	for (i = 0; o->headers != NULL && o->headers[i] != NULL; i++)
		if (check_header(o->headers[i], &has_ua, &has_proto, e) < 0)
			return NULL;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		sv_err_set(e, EX_SOFTWARE, "no random bytes for the key");
		return NULL;
	}
	base64(nonce, sizeof(nonce), key);
	if (sv_buf_appendf(&req,
	        "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
	        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
	        "Sec-WebSocket-Version: 13\r\n",
	        u.target, u.hosthdr, key) < 0 ||
	    (!has_ua &&
	        sv_buf_appendf(
	            &req, "User-Agent: servitor/%s\r\n", SV_VERSION) < 0))
		goto oom;
	for (i = 0; o->headers != NULL && o->headers[i] != NULL; i++)
		if (sv_buf_appendf(&req, "%s\r\n", o->headers[i]) < 0)
			goto oom;
	if (sv_buf_append(&req, "\r\n", 2) < 0)
		goto oom;

	ws = calloc(1, sizeof(*ws));
	if (ws == NULL)
		goto oom;
	ws->fd = -1;
	ws->rx_code = SV_WS_CLOSE_ABNORMAL;
	ws->max_msg = o->max_msg != 0 ? o->max_msg : 1024 * 1024;
	ws->on_msg = o->on_msg;
	ws->arg = o->arg;
	ws->fd =
	    sv_net_connect(u.host, u.port, (long)(end - sv_net_now_ms()), e);
	if (ws->fd < 0)
		goto fail;
	if (u.tls) {
		tctx = sv_tls_client_ctx(o->cafile, e);
		if (tctx == NULL)
			goto fail;
		ws->tls = sv_tls_client_new(tctx, ws->fd, u.host, e);
		if (ws->tls == NULL ||
		    sv_tls_handshake_wait(
		        ws->tls, (long)(end - sv_net_now_ms()), e) < 0)
			goto fail;
	}
	if (write_all(ws, req.data, req.len, end, e) < 0 ||
	    read_answer(ws, key, has_proto, end, e) < 0)
		goto fail;
	if (ctx_make(ws) < 0) {
		*e = ws->err;
		goto fail;
	}
	sv_log_debug("ws: connected to %s%s%s", u.tls ? "wss://" : "ws://",
	    u.hosthdr, u.target);
	sv_buf_fini(&req);
	sv_tls_ctx_free(tctx);
	return ws;
oom:
	sv_err_set(e, EX_OSERR, "out of memory");
fail:
	if (e->ex != EX_OSERR && e->ex != EX_USAGE && e->ex != EX_NOINPUT)
		sv_err_prefix(e, "%s://%s", u.tls ? "wss" : "ws", u.hosthdr);
	sv_buf_fini(&req);
	sv_tls_ctx_free(tctx);
	sv_ws_free(ws);
	return NULL;
}

/* ---- server sessions
 * ---------------------------------------------------------------------------
 */

struct sv_ws *
sv_ws_server_new(int fd, const char *accept, const void *pre, size_t pre_len,
    const struct sv_ws_server_opts *o, struct sv_err *e)
{
	struct sv_ws_frame *f;
	struct sv_ws *ws;
	struct chunk *c;
	char resp[192];
	int n;

	ws = calloc(1, sizeof(*ws));
	c = malloc(sizeof(*c));
	n = snprintf(resp, sizeof(resp),
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
	    accept);
	f = ws != NULL && c != NULL ? frame_raw(resp, (size_t)n) : NULL;
	if (f == NULL || (pre_len > 0 && (ws->pre = malloc(pre_len)) == NULL)) {
		free(c);
		free(f);
		if (ws != NULL)
			free(ws->pre);
		free(ws);
		close(fd);
		sv_err_set(e, EX_OSERR, "out of memory");
		return NULL;
	}
	ws->fd = fd;
	ws->server = true;
	ws->rx_code = SV_WS_CLOSE_ABNORMAL;
	ws->max_msg = o != NULL && o->max_msg != 0 ? o->max_msg : 64 * 1024;
	ws->on_msg = o != NULL ? o->on_msg : NULL;
	ws->arg = o != NULL ? o->arg : NULL;
	if (pre_len > 0) {
		memcpy(ws->pre, pre, pre_len);
		ws->pre_len = pre_len;
	}
	c->f = f;
	chunk_push(ws, c);
	ws->qbytes = f->len;
	if (flush(ws) < 0)
		(void)finish_check(ws);
	return ws;
}

struct sv_ws *
sv_ws_client_adopt(int fd, const void *pre, size_t pre_len,
    const struct sv_ws_client_opts *o, struct sv_err *e)
{
	struct sv_ws *ws;

	ws = calloc(1, sizeof(*ws));
	if (ws == NULL ||
	    (pre_len > 0 && (ws->pre = malloc(pre_len)) == NULL)) {
		free(ws);
		close(fd);
		sv_err_set(e, EX_OSERR, "out of memory");
		return NULL;
	}
	ws->fd = fd;
	ws->rx_code = SV_WS_CLOSE_ABNORMAL;
	ws->max_msg = o->max_msg != 0 ? o->max_msg : 1024 * 1024;
	ws->on_msg = o->on_msg;
	ws->arg = o->arg;
	if (pre_len > 0) {
		memcpy(ws->pre, pre, pre_len);
		ws->pre_len = pre_len;
	}
	(void)sv_net_set_nonblock(fd, 1);
	if (ctx_make(ws) < 0) {
		*e = ws->err;
		sv_ws_free(ws);
		return NULL;
	}
	return ws;
}
