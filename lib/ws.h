/*
 * ws: WebSocket (RFC 6455) sessions, client and server side, on wslay's
 * event API over lib/net sockets and lib/tls.
 *
 * One struct sv_ws is one connection after its opening handshake. It is
 * driven by the caller's poll or epoll loop: sv_ws_fd() and
 * sv_ws_events() say what to wait for, sv_ws_io() does the reading and
 * writing that is possible now and delivers complete messages. Nothing
 * here blocks except the client connect and the helpers whose names say
 * "wait" or that take a timeout. Not thread-safe: a session belongs to
 * the thread that drives it; separate sessions are independent (two may
 * be open at once, as the EventSub reconnect flow needs).
 *
 * What wslay does for every session: masking (clients mask, servers
 * must not and unmasked client frames are refused with 1002),
 * fragmentation (messages are delivered whole), ping answered with pong,
 * the close handshake, UTF-8 validation of text messages (1007), the
 * maximum message size (1009), and control-frame rules (fragmented or
 * over-long control frames fail the connection).
 *
 * Client, poll-loop style:
 *
 *	struct sv_ws_client_opts o = { .url = url, .on_msg = got, .arg = st };
 *	ws = sv_ws_connect(&o, &e);		// blocking, bounded by timeout
 *	for (;;) {
 *		pfd.fd = sv_ws_fd(ws); pfd.events = sv_ws_events(ws);
 *		poll(&pfd, 1, sv_ws_pending(ws) ? 0 : 1000);
 *		rc = sv_ws_io(ws, pfd.revents, &e);	// calls got() per
 *message if (rc != 0) break;		// 1: closed cleanly, -1: e says why
 *	}
 *	sv_ws_free(ws);
 *
 * Client, blocking style (no on_msg: messages queue up):
 *
 *	ws = sv_ws_connect(&o, &e);
 *	while (sv_ws_recv(ws, &m, 30000, &e) == SV_WS_MSG) { use(m); free(m); }
 *	sv_ws_close_wait(ws, SV_WS_CLOSE_NORMAL, NULL, 2000);
 *	sv_ws_free(ws);
 *
 * Server: the caller accepts the TCP connection, reads the request head
 * and checks it with sv_ws_head_parse() and sv_ws_server_check(), then
 * sv_ws_server_new() answers 101 and takes the socket over. For
 * broadcasting, sv_ws_frame_new() frames a message once and
 * sv_ws_send_frame() queues a reference to it on each session, so N
 * clients cost N send(2) calls and no copies. An idle server session
 * holds no wslay context (about 9 KiB each): one is created when the
 * peer sends something and released again at the next message boundary.
 */
#ifndef SV_WS_H
#define SV_WS_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Message types (the RFC 6455 opcodes). */
#define SV_WS_TEXT 1
#define SV_WS_BINARY 2
#define SV_WS_PING 9 /* only for sv_ws_frame_new() */

/* Close codes (RFC 6455 7.4.1). 1005 and 1006 are never sent. */
#define SV_WS_CLOSE_NORMAL 1000
#define SV_WS_CLOSE_GOING_AWAY 1001
#define SV_WS_CLOSE_PROTOCOL 1002
#define SV_WS_CLOSE_UNSUPPORTED 1003
#define SV_WS_CLOSE_NO_STATUS 1005
#define SV_WS_CLOSE_ABNORMAL 1006
#define SV_WS_CLOSE_INVALID_DATA 1007
#define SV_WS_CLOSE_POLICY 1008
#define SV_WS_CLOSE_TOO_BIG 1009
#define SV_WS_CLOSE_INTERNAL 1011

struct sv_ws;

/*
 * A complete message: op is SV_WS_TEXT (valid UTF-8, checked) or
 * SV_WS_BINARY. data is borrowed for the call and NUL-terminated for
 * convenience (it may contain NULs: use len). The callback may send on
 * ws and may call sv_ws_close(); it must not free ws.
 */
typedef void sv_ws_msg_fn(
    void *arg, struct sv_ws *ws, int op, const char *data, size_t len);

/* ---- URLs ------------------------------------------------------------ */

struct sv_ws_url {
	bool tls; /* wss:// */
	char host[256]; /* name or address, IPv6 without brackets */
	char port[8]; /* "443", "80" or as given */
	char target[4096]; /* path and query, at least "/" */
	char hosthdr[272]; /* the Host header: host[:port], [v6]:port */
};

/*
 * Parse "ws://host[:port][/path][?query]" or "wss://..." (scheme case
 * insensitive, IPv6 as [addr], fragment dropped, no user info). Returns 0,
 * or -1 with e set (EX_USAGE) saying what is wrong. Thread-safe.
 */
int sv_ws_url_parse(const char *url, struct sv_ws_url *u, struct sv_err *e);

/* ---- client ------------------------------------------------------------ */

struct sv_ws_client_opts {
	const char *url; /* ws:// or wss:// */
	/*
	 * Extra request headers, "Name: value", NULL-terminated; NULL for
	 * none. Host, Upgrade, Connection and Sec-WebSocket-Key/-Version
	 * are ours and refused here; a User-Agent replaces the default.
	 * Values are never logged.
	 */
	const char *const *headers;
	const char *cafile; /* extra trusted CAs (PEM) for wss, or NULL */
	long timeout_ms; /* TCP + TLS + handshake; 0 means 10 s */
	size_t max_msg; /* largest message accepted; 0 means 1 MiB */
	sv_ws_msg_fn *on_msg; /* NULL: messages queue for sv_ws_recv() */
	void *arg;
};

/*
 * Connect and complete the opening handshake (RFC 6455 4.1): TCP with
 * timeout (IPv6 and IPv4), TLS for wss:// (verified, SNI), the upgrade
 * request with a random Sec-WebSocket-Key, and the answer checked: 101,
 * Upgrade/Connection, Sec-WebSocket-Accept, no extension we did not ask
 * for. Redirects are not followed. Bytes that arrived after the 101 are
 * kept and read first. Blocking, bounded by o->timeout_ms.
 *
 * Returns the open session (socket non-blocking), or NULL with e set:
 * EX_USAGE (bad URL or header), EX_NOINPUT (cafile unreadable),
 * EX_UNAVAILABLE (DNS, TCP, TLS, timeout, an HTTP answer other than 101,
 * including redirects: the status is in the message), EX_NOPERM (401 or
 * 403), EX_PROTOCOL (a 101 that breaks RFC 6455), EX_OSERR.
 */
struct sv_ws *sv_ws_connect(
    const struct sv_ws_client_opts *o, struct sv_err *e);

/*
 * A client session on a connected socket whose opening handshake was
 * done elsewhere (tests, fuzzing, a proxy's CONNECT tunnel): fd becomes
 * the session's (non-blocking; closed by sv_ws_free, and on failure), pre
 * is input already read after the 101. Only max_msg, on_msg and arg of o
 * are used. NULL with e set (EX_OSERR) when out of memory.
 */
struct sv_ws *sv_ws_client_adopt(int fd, const void *pre, size_t pre_len,
    const struct sv_ws_client_opts *o, struct sv_err *e);

/* ---- driving a session (client or server) ------------------------------- */

/* The socket to poll. */
int sv_ws_fd(const struct sv_ws *ws);

/*
 * What to wait for: POLLIN and/or POLLOUT (equal to EPOLLIN/EPOLLOUT).
 * Over TLS the direction follows what OpenSSL asked for. 0 once the
 * session is finished.
 */
short sv_ws_events(const struct sv_ws *ws);

/*
 * True when input is already buffered in user space (TLS records,
 * bytes after the handshake): call sv_ws_io() without waiting.
 */
bool sv_ws_pending(const struct sv_ws *ws);

struct pollfd;

/*
 * Wait up to timeout_ms (not at all when one of them has input
 * buffered: sv_ws_pending()) until one of the n sessions ws[0..n) is
 * ready, filling pfd[0..n) for them (fd, events, and the revents to pass
 * to sv_ws_io()). Returns what poll(2) returns: -1 with errno EINTR on a
 * signal, so callers can check their stop flag.
 */
int sv_ws_poll(
    struct sv_ws *const *ws, size_t n, struct pollfd *pfd, int timeout_ms);

/*
 * Do the I/O that is possible now: read and process frames (answering
 * pings, delivering messages, following the close handshake) and write
 * what is queued. revents may be 0 (nothing known: tries anyway).
 *
 * Returns 0 while the session goes on; 1 when it has finished cleanly
 * (the close handshake is complete, or the peer closed after sending its
 * close frame: see sv_ws_close_code()); -1 when it has failed, with e
 * set: EX_PROTOCOL when the peer broke the protocol (we closed with 1002,
 * 1007 or 1009, or it sent garbage), EX_TEMPFAIL when the connection was
 * lost without a close frame (1006), EX_OSERR when out of memory. After
 * 1 or -1 the only calls left are the getters and sv_ws_free().
 */
int sv_ws_io(struct sv_ws *ws, short revents, struct sv_err *e);

/*
 * Queue a text (UTF-8, checked: EX_DATAERR) or binary message and write
 * as much as the socket takes now; the rest goes out from sv_ws_io().
 * Returns 0, or -1 with e set (EX_SOFTWARE after a close was queued or
 * the session finished, EX_OSERR). The data is copied.
 */
int sv_ws_send(
    struct sv_ws *ws, int op, const void *data, size_t len, struct sv_err *e);
int sv_ws_send_text(
    struct sv_ws *ws, const char *data, size_t len, struct sv_err *e);

/* Queue a ping (payload at most 125 bytes). 0 or -1 as sv_ws_send(). */
int sv_ws_ping(
    struct sv_ws *ws, const void *data, size_t len, struct sv_err *e);

/*
 * Start the closing handshake with code (1000-4999, not 1004-1006,
 * 1015; else 1000) and an optional reason (truncated to 123 bytes, cut
 * at a UTF-8 boundary). The close frame goes out after everything
 * already queued; no message can be queued after it. Keep calling
 * sv_ws_io() until it returns 1 or -1, or free the session when your
 * own deadline passes (peers that never answer exist). 0, or -1 if a
 * close was already queued or the session is finished (harmless).
 */
int sv_ws_close(struct sv_ws *ws, unsigned code, const char *reason);

/*
 * Close with code (no reason) and drive the session until it has
 * finished or deadline_ms (monotonic, as sv_net_now_ms()) has passed.
 * Messages that arrive meanwhile go to on_msg as usual (unlike
 * sv_ws_close_wait(), which drops them). One deadline serves several
 * sessions closed in turn. Does not free ws.
 */
void sv_ws_close_until(struct sv_ws *ws, unsigned code, long long deadline_ms);

/*
 * Drop every queued message that has not started to go out (a frame
 * partly written is finished, so the stream stays valid). For slow
 * consumers: sv_ws_discard() then sv_ws_close(ws, 1008, ...).
 */
void sv_ws_discard(struct sv_ws *ws);

enum sv_ws_state {
	SV_WS_OPEN, /* messages flow both ways */
	SV_WS_CLOSING, /* a close frame was sent or received */
	SV_WS_CLOSED, /* finished: sv_ws_io() returned 1 or -1 */
};

enum sv_ws_state sv_ws_state(const struct sv_ws *ws);

/*
 * The close code the peer sent (SV_WS_CLOSE_NO_STATUS when its close
 * frame had none, SV_WS_CLOSE_ABNORMAL when none arrived), and its
 * reason ("" when none; borrowed, valid until sv_ws_free()).
 */
unsigned sv_ws_close_code(const struct sv_ws *ws);
const char *sv_ws_close_reason(const struct sv_ws *ws);

/* The close code we sent (SV_WS_CLOSE_ABNORMAL when none went out). */
unsigned sv_ws_close_code_sent(const struct sv_ws *ws);

/* Bytes queued and not yet written (messages, frames, control). */
size_t sv_ws_queued(const struct sv_ws *ws);

/* Frames received so far (any kind): a liveness counter for pings. */
unsigned long sv_ws_rx_frames(const struct sv_ws *ws);

/* Close the socket (no handshake) and free everything. NULL: no-op. */
void sv_ws_free(struct sv_ws *ws);

/* ---- blocking helpers (clients in queue mode, tools, tests) ------------- */

/* A queued message from sv_ws_recv(); free it with free(). */
struct sv_ws_msg {
	int op; /* SV_WS_TEXT or SV_WS_BINARY */
	size_t len;
	char data[]; /* len bytes plus a NUL */
};

enum sv_ws_res {
	SV_WS_MSG, /* *msg set */
	SV_WS_TIMEOUT, /* nothing within the time, or a signal (EINTR) */
	SV_WS_CLOSED_OK, /* the peer closed cleanly (sv_ws_close_code) */
	SV_WS_ERROR, /* e set as for sv_ws_io() */
};

/*
 * The next message, waiting up to timeout_ms (-1: forever) while
 * answering pings. Only for sessions without on_msg.
 */
enum sv_ws_res sv_ws_recv(struct sv_ws *ws, struct sv_ws_msg **msg,
    long timeout_ms, struct sv_err *e);

/*
 * Close and wait up to timeout_ms for the peer's close frame (messages
 * arriving meanwhile are dropped). Returns 0 when the handshake
 * completed, -1 otherwise. The session is finished either way.
 */
int sv_ws_close_wait(
    struct sv_ws *ws, unsigned code, const char *reason, long timeout_ms);

/* ---- HTTP/1.1 heads (the opening handshake) ---------------------------- */

#define SV_WS_MAX_HEAD 16384 /* request or response head, bytes */
#define SV_WS_MAX_HEADERS 64

struct sv_ws_hdr {
	const char *name;
	const char *value; /* without surrounding whitespace */
};

struct sv_ws_head {
	const char *method; /* requests: "GET" */
	const char *target; /* requests: "/path?query" as sent */
	int status; /* responses: 101 */
	const char *reason; /* responses */
	int minor; /* HTTP/1.minor */
	size_t nhdr;
	struct sv_ws_hdr hdr[SV_WS_MAX_HEADERS];
};

/*
 * Parse the HTTP/1.x request (request true) or response head at the
 * start of buf[0..len). Returns the head's length (leftover bytes follow
 * it) once the blank line is there; 0 when more bytes are needed; -1
 * with e set (EX_PROTOCOL) when it is malformed: bad request or status
 * line, a header line that is not "token: value", obsolete line folding,
 * control bytes, too many headers, longer than SV_WS_MAX_HEAD. Garbage
 * is refused as soon as it is seen, without waiting for the blank line.
 * Only a complete head is modified (tokens are NUL-terminated in place
 * and h points into buf). Thread-safe.
 */
long sv_ws_head_parse(char *buf, size_t len, bool request, struct sv_ws_head *h,
    struct sv_err *e);

/* The first value of header name (case-insensitive), or NULL. */
const char *sv_ws_head_get(const struct sv_ws_head *h, const char *name);

/* How many times header name occurs. */
size_t sv_ws_head_count(const struct sv_ws_head *h, const char *name);

/* Does the comma-separated list contain token (case-insensitive)? */
bool sv_ws_token_in(const char *list, const char *token);

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)). */
#define SV_WS_ACCEPT_LEN 29 /* 28 characters and a NUL */
void sv_ws_accept_key(const char *key, char out[SV_WS_ACCEPT_LEN]);

/* Does this request ask for a WebSocket (an Upgrade: websocket header or
 * a Sec-WebSocket-Key)? Then it must pass sv_ws_server_check(). */
bool sv_ws_is_upgrade(const struct sv_ws_head *h);

/*
 * Check an upgrade request (RFC 6455 4.2.1): GET, HTTP/1.1 or later,
 * one Host, Upgrade: websocket, Connection: upgrade, one
 * Sec-WebSocket-Key that is base64 of 16 bytes, Sec-WebSocket-Version 13,
 * no body. Returns 0 with accept filled; or the HTTP status to answer,
 * with e->msg saying why: 400, 405 (not GET), or 426 (another version:
 * answer with "Sec-WebSocket-Version: 13").
 */
int sv_ws_server_check(const struct sv_ws_head *h,
    char accept[SV_WS_ACCEPT_LEN], struct sv_err *e);

/*
 * The value of query parameter key in a request target, percent-decoded
 * ("+" is a space, as browsers encode forms) into out. Returns 1 when
 * found, 0 when absent, -1 when malformed (bad %-escape, NUL, longer
 * than outlen - 1). Thread-safe.
 */
int sv_ws_query_get(
    const char *target, const char *key, char *out, size_t outlen);

/*
 * The path of a request target as a safe relative file path: decoded,
 * without the query, "" for "/", no "." or ".." segment, no NUL, no
 * backslash, no empty segment. Returns 0, or -1 if the path is unsafe
 * or too long. Thread-safe.
 */
int sv_ws_safe_path(const char *target, char *out, size_t outlen);

/*
 * Open the file that a request target names under the directory root
 * (absolute, as realpath() gives it), for serving it: the path must pass
 * sv_ws_safe_path(), a directory means its index.html, and the file's
 * real path must stay under root, so no symbolic link leads out. Returns
 * a read-only fd (close-on-exec, non-blocking) of a regular file, with
 * *size and *mime (a static Content-Type chosen by the extension) set;
 * or -1 when there is nothing to serve (answer 404). Thread-safe.
 */
int sv_ws_static_open(
    const char *root, const char *target, off_t *size, const char **mime);

/* ---- server sessions ----------------------------------------------------- */

struct sv_ws_server_opts {
	size_t max_msg; /* largest client message; 0 means 64 KiB */
	sv_ws_msg_fn *on_msg; /* NULL: client messages are ignored */
	void *arg;
};

/*
 * Take over the accepted, non-blocking socket fd after a request passed
 * sv_ws_server_check(): queue the 101 answer with accept, and treat
 * pre[0..pre_len) (bytes that followed the request head) as the first
 * input. The session owns fd from here on, even on failure. Returns
 * the session, or NULL with e set (EX_OSERR).
 */
struct sv_ws *sv_ws_server_new(int fd, const char *accept, const void *pre,
    size_t pre_len, const struct sv_ws_server_opts *o, struct sv_err *e);

/* A frame built once and shared by many server sessions (refcounted). */
struct sv_ws_frame;

/*
 * Frame a message (SV_WS_TEXT, SV_WS_BINARY, or SV_WS_PING with at most
 * 125 bytes) the way a server sends it: unmasked, unfragmented. The
 * caller owns one reference. NULL when out of memory or invalid.
 */
struct sv_ws_frame *sv_ws_frame_new(int op, const void *data, size_t len);
struct sv_ws_frame *sv_ws_frame_ref(struct sv_ws_frame *f);
void sv_ws_frame_unref(struct sv_ws_frame *f);

/* Size of the frame on the wire. */
size_t sv_ws_frame_size(const struct sv_ws_frame *f);

/* The message a frame carries (borrowed, as long as a reference is
 * held; not NUL-terminated), its length in *len. */
const char *sv_ws_frame_payload(const struct sv_ws_frame *f, size_t *len);

/*
 * Queue a shared frame on a server session (taking a reference) and, if
 * nothing is queued before it, write it at once. Text frames are not
 * re-checked: build them from valid UTF-8. Returns 0, or -1 with e set
 * (EX_SOFTWARE: a client session, or closing; EX_OSERR).
 */
int sv_ws_send_frame(struct sv_ws *ws, struct sv_ws_frame *f, struct sv_err *e);

#endif
