/*
 * hconn: server-side HTTP/1.1 connections that ask one thing and get one
 * answer, for servers that run their own epoll or poll loop and hand
 * WebSocket upgrades over to lib/ws (ws-broadcast).
 *
 * A connection reads one request head and parses it with
 * sv_ws_head_parse(): the usual request arrives in one read and is
 * parsed from the stack; only a head split over reads is kept on the
 * heap. It then calls the caller's handler once, which answers (a body
 * from memory, or a file sent with sendfile(2)) or takes the socket over
 * (an upgrade). Every answer says "Connection: close"; once it is
 * written the connection is half-closed and reads and drops what the
 * client still sends for SV_HCONN_LINGER_MS, so closing never resets a
 * connection whose answer is in flight.
 *
 * Drive it like a lib/ws session: wait for sv_hconn_events(), call
 * sv_hconn_io(), and free it once sv_hconn_done(). Deadlines are the
 * caller's to check (sv_hconn_expire()). Not thread-safe; no globals.
 */
#ifndef SV_HCONN_H
#define SV_HCONN_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "ws.h"

#define SV_HCONN_HEAD_TIMEOUT_MS 10000 /* to send a whole request head */
#define SV_HCONN_LINGER_MS 2000 /* reading what follows an answer */

enum sv_hconn_state {
	SV_HCONN_READ, /* the request head */
	SV_HCONN_WRITE, /* the answer */
	SV_HCONN_LINGER, /* answered: read and drop until EOF, then close */
	SV_HCONN_DONE, /* closed, or the socket was taken: free it */
};

/* Embedded in the caller's connection object; fields are read-only. */
struct sv_hconn {
	int fd; /* -1 once closed or taken */
	enum sv_hconn_state st;
	long long deadline; /* monotonic ms (sv_net_now_ms) */
	char *buf; /* request head received so far (heap only if split) */
	size_t len;
	struct sv_buf out; /* answer head (and a body from memory) */
	size_t out_off;
	int file_fd; /* a file body, sent with sendfile(2) */
	off_t file_off, file_len;
	bool head; /* the request was HEAD: answers carry no body */
};

/*
 * A connection on the accepted, non-blocking socket fd (owned from here
 * on) at now_ms: reading its head, which must come within
 * SV_HCONN_HEAD_TIMEOUT_MS.
 */
void sv_hconn_init(struct sv_hconn *h, int fd, long long now_ms);

/* Close what h still holds (socket, file) and free its buffers. */
void sv_hconn_fini(struct sv_hconn *h);

/*
 * The handler, called once per connection with its complete request head
 * (hd points into a buffer that lives for the call only) and the bytes
 * that followed the head, rest[0..rest_len) (an upgrade's first
 * WebSocket bytes). It must answer with sv_hconn_respond*() or take the
 * socket with sv_hconn_take(); it must not free h.
 */
typedef void sv_hconn_head_fn(void *arg, struct sv_hconn *h,
    struct sv_ws_head *hd, const char *rest, size_t rest_len);

/*
 * Do the I/O that revents (POLLIN, POLLOUT, POLLHUP, POLLERR: equal to
 * the EPOLL* bits) allows for the state h is in: read the head and call
 * fn once it is complete (a malformed head gets 400, one too large 431,
 * without calling fn), write the answer, linger. A peer that goes away
 * makes h done.
 */
void sv_hconn_io(
    struct sv_hconn *h, short revents, sv_hconn_head_fn *fn, void *arg);

/* What to wait for: POLLIN or POLLOUT (equal to EPOLLIN/EPOLLOUT); 0
 * once done. */
short sv_hconn_events(const struct sv_hconn *h);

/* Is h finished (closed, or its socket taken)? Then free it. */
bool sv_hconn_done(const struct sv_hconn *h);

/*
 * At now_ms, past its deadline: close h (a debug log when its head had
 * not come in time) and return true; else false.
 */
bool sv_hconn_expire(struct sv_hconn *h, long long now_ms);

/*
 * Answer: the status line, Content-Type ctype, Content-Length,
 * "Connection: close", "Cache-Control: no-store",
 * "X-Content-Type-Options: nosniff", the extra header lines ("Name:
 * value\r\n"..., or NULL), then body[0..len), except for a HEAD request
 * (h->head, known once its head was read): the same head, no body
 * (RFC 9110 9.3.2), whatever the status. The answer goes out from
 * sv_hconn_io(). Out of memory closes h.
 */
void sv_hconn_respond(struct sv_hconn *h, unsigned status, const char *ctype,
    const void *body, size_t len, const char *extra);

/* The same with the regular file fd (owned from here on) of size bytes
 * as the body. */
void sv_hconn_respond_file(
    struct sv_hconn *h, unsigned status, const char *ctype, int fd, off_t size);

/* A plain-text answer (text/plain; charset=utf-8). */
void sv_hconn_respond_text(
    struct sv_hconn *h, unsigned status, const char *text, const char *extra);

/*
 * Take the socket over (an upgrade, from the handler): returns it, and
 * h is done without closing it.
 */
int sv_hconn_take(struct sv_hconn *h);

#endif
