/* amqp: one AMQP session on rabbitmq-c 0.11; see amqp.h. */
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "amqp.h"
#include "log.h"

#define FRAME_MAX 131072
#define DEFAULT_TIMEOUT_MS 10000L

struct sv_amqp {
	const struct sv_amqp_opts *o;
	amqp_connection_state_t conn; /* NULL when not connected */
	size_t cur; /* index of the URL in use or tried last */
	bool tried; /* cur means something */
	bool retry; /* the last failure was the broker going away */
	char peer[300];
};

/* Status codes a broker may close a channel or connection with. */
enum {
	REPLY_CONTENT_TOO_LARGE = 311,
	REPLY_NO_ROUTE = 312,
	REPLY_NO_CONSUMERS = 313,
	REPLY_CONNECTION_FORCED = 320,
	REPLY_INVALID_PATH = 402,
	REPLY_ACCESS_REFUSED = 403,
	REPLY_NOT_FOUND = 404,
	REPLY_RESOURCE_LOCKED = 405,
	REPLY_PRECONDITION_FAILED = 406,
	REPLY_RESOURCE_ERROR = 506,
	REPLY_NOT_ALLOWED = 530,
	REPLY_INTERNAL_ERROR = 541,
};

static void
fill_timeval(struct timeval *tv, long ms)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

static long
timeout_ms(const struct sv_amqp *a)
{
	return a->o->timeout_ms > 0 ? a->o->timeout_ms : DEFAULT_TIMEOUT_MS;
}

/* --- URLs --- */

/*
 * The user information of scheme://user[:password]@host...: returns the
 * '@' that ends it (NULL when the authority has none) and sets *colon to
 * the ':' before the password (NULL when there is none). Only the
 * authority counts: an '@' in the vhost path is not user information.
 */
static const char *
url_userinfo(const char *url, const char **colon)
{
	const char *p = strstr(url, "://"), *at;

	*colon = NULL;
	if (p == NULL)
		return NULL;
	p += 3;
	at = memchr(p, '@', strcspn(p, "/?#"));
	if (at != NULL)
		*colon = memchr(p, ':', (size_t)(at - p));
	return at;
}

/*
 * What to hide of url when it is shown (argv, error messages): from the
 * password's first byte to the '@' after it, [*from, *to); 0 when there
 * is none. Wider than url_userinfo(): a password with a raw '/', '?' or
 * '#' is a URL rabbitmq-c refuses, but it is still a password, so when
 * the authority has a ':' and no '@', everything up to the last '@' of
 * the URL is hidden (at worst a port and part of the vhost too).
 */
static int
password_span(const char *url, size_t *from, size_t *to)
{
	const char *p = strstr(url, "://"), *colon, *at;
	size_t auth;

	if (p == NULL)
		return 0;
	p += 3;
	auth = strcspn(p, "/?#");
	at = url_userinfo(url, &colon);
	if (at == NULL) {
		colon = memchr(p, ':', auth);
		at = strrchr(p, '@');
	}
	if (colon == NULL || at == NULL || at < colon)
		return 0;
	*from = (size_t)(colon + 1 - url);
	*to = (size_t)(at - url);
	return 1;
}

/* url with its password (password_span) as '*', into out. */
static void
masked_url(char *out, size_t n, const char *url)
{
	size_t from, to, i;
	char tmp[200];

	(void)snprintf(tmp, sizeof(tmp), "%s", url);
	if (password_span(url, &from, &to))
		for (i = from; i < to && i < sizeof(tmp) - 1; i++)
			tmp[i] = '*';
	(void)sv_log_redact(out, n, tmp);
	explicit_bzero(tmp, sizeof(tmp));
}

int
sv_amqp_url_parse(struct sv_amqp_url *u, const char *url, struct sv_err *e)
{
	struct amqp_connection_info ci;
	char shown[200];
	const char *vh, *colon;
	bool has_user, has_password;
	int rc;

	memset(u, 0, sizeof(*u));
	masked_url(shown, sizeof(shown), url);
	if (strncmp(url, "amqp://", 7) != 0 && strncmp(url, "amqps://", 8) != 0)
		return sv_err_set(
		    e, EX_USAGE, "'%s': not an amqp:// or amqps:// URL", shown);
	u->buf = strdup(url);
	if (u->buf == NULL)
		return sv_err_set(e, EX_OSERR, "out of memory");
	u->buflen = strlen(url);
	amqp_default_connection_info(&ci);
	rc = amqp_parse_url(u->buf, &ci);
	if (rc != AMQP_STATUS_OK || ci.host == NULL || *ci.host == '\0' ||
	    ci.port <= 0 || ci.port > 65535) {
		sv_amqp_url_fini(u);
		return sv_err_set(e, EX_USAGE,
		    "'%s': bad AMQP URL (amqp[s]://[user[:password]@]host[:port][/vhost])",
		    shown);
	}
	u->user = ci.user;
	u->password = ci.password;
	u->host = ci.host;
	u->vhost = ci.vhost;
	u->port = ci.port;
	u->ssl = ci.ssl != 0;
	has_user = url_userinfo(url, &colon) != NULL;
	has_password = colon != NULL;
	u->no_password = has_user && !has_password;
	/* (not rabbitmq-c's default "guest": it is no secret) */
	if (has_password && u->password != NULL)
		sv_log_add_secret(u->password);
	vh = strcmp(u->vhost, "/") == 0 ? "" : u->vhost;
	(void)snprintf(u->display, sizeof(u->display), "%s://%s%s%s:%d%s%s",
	    u->ssl ? "amqps" : "amqp", strchr(u->host, ':') ? "[" : "", u->host,
	    strchr(u->host, ':') ? "]" : "", u->port,
	    *vh != '\0' || *u->vhost == '\0' ? "/" : "", vh);
	return 0;
}

void
sv_amqp_url_fini(struct sv_amqp_url *u)
{
	/* The fields point into buf (amqp_parse_url decodes in place) or
	 * at rabbitmq-c's constant defaults: wipe buf whole, nothing else. */
	if (u->buf != NULL) {
		explicit_bzero(u->buf, u->buflen);
		free(u->buf);
	}
	memset(u, 0, sizeof(*u));
}

/* --- errors --- */

/* The exit category of a rabbitmq-c status, and whether to retry. */
static int
status_ex(int status, bool *retry)
{
	*retry = false;
	switch (status) {
	case AMQP_STATUS_NO_MEMORY:
		return EX_OSERR;
	case AMQP_STATUS_BAD_AMQP_DATA:
	case AMQP_STATUS_UNKNOWN_CLASS:
	case AMQP_STATUS_UNKNOWN_METHOD:
	case AMQP_STATUS_WRONG_METHOD:
	case AMQP_STATUS_UNEXPECTED_STATE:
	case AMQP_STATUS_INCOMPATIBLE_AMQP_VERSION:
	case AMQP_STATUS_TABLE_TOO_BIG:
		return EX_PROTOCOL;
	case AMQP_STATUS_CONNECTION_CLOSED:
	case AMQP_STATUS_SOCKET_CLOSED:
	case AMQP_STATUS_HEARTBEAT_TIMEOUT:
		*retry = true;
		return EX_TEMPFAIL;
	case AMQP_STATUS_HOSTNAME_RESOLUTION_FAILED:
	case AMQP_STATUS_SOCKET_ERROR:
	case AMQP_STATUS_TIMEOUT:
	case AMQP_STATUS_TCP_ERROR:
	case AMQP_STATUS_SSL_ERROR:
	case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED:
	case AMQP_STATUS_SSL_PEER_VERIFY_FAILED:
	case AMQP_STATUS_SSL_CONNECTION_FAILED:
		*retry = true;
		return EX_UNAVAILABLE;
	case AMQP_STATUS_BROKER_UNSUPPORTED_SASL_METHOD:
		return EX_NOPERM;
	case AMQP_STATUS_BAD_URL:
		return EX_USAGE;
	default:
		return EX_SOFTWARE;
	}
}

/* The exit category of a reply code from channel.close/connection.close. */
static int
reply_ex(int code, bool *retry)
{
	*retry = false;
	switch (code) {
	case REPLY_CONNECTION_FORCED:
	case REPLY_RESOURCE_ERROR:
	case REPLY_INTERNAL_ERROR:
		*retry = true;
		return EX_TEMPFAIL;
	case REPLY_CONTENT_TOO_LARGE:
		return EX_DATAERR;
	case REPLY_NO_ROUTE:
	case REPLY_NO_CONSUMERS:
	case REPLY_NOT_FOUND:
	case REPLY_RESOURCE_LOCKED:
		return EX_UNAVAILABLE;
	case REPLY_ACCESS_REFUSED:
	case REPLY_NOT_ALLOWED:
		return EX_NOPERM;
	case REPLY_INVALID_PATH:
	case REPLY_PRECONDITION_FAILED:
		return EX_CONFIG;
	default:
		return EX_PROTOCOL;
	}
}

static int
fail_status(struct sv_amqp *a, struct sv_err *e, int status, int err_no,
    const char *ctx)
{
	bool retry;
	int ex = status_ex(status, &retry);

	a->retry = retry;
	if (status == AMQP_STATUS_SOCKET_ERROR && err_no != 0)
		return sv_err_set(e, ex, "%s: %s (%s)", ctx,
		    amqp_error_string2(status), strerror(err_no));
	if (status == AMQP_STATUS_SSL_PEER_VERIFY_FAILED)
		return sv_err_set(e, ex,
		    "%s: %s (is the CA in SSL_CERT_FILE or --cacert?)", ctx,
		    amqp_error_string2(status));
	return sv_err_set(e, ex, "%s: %s", ctx, amqp_error_string2(status));
}

/*
 * rabbitmq-c reports a failed connect as "a socket error" and keeps the
 * reason (SO_ERROR) to itself. For a useful message, connect once more
 * and return that errno (0 if it worked this time).
 */
static int
probe_errno(const char *host, int port)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct pollfd pfd;
	char ports[16];
	socklen_t len;
	int fd, err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	(void)snprintf(ports, sizeof(ports), "%d", port);
	if (getaddrinfo(host, ports, &hints, &res) != 0)
		return 0;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0)
			continue;
		err = 0;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			err = errno;
			if (err == EINPROGRESS) {
				pfd.fd = fd;
				pfd.events = POLLOUT;
				len = sizeof(err);
				if (poll(&pfd, 1, 2000) != 1 ||
				    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
				        &len) < 0)
					err = ETIMEDOUT;
			}
		}
		close(fd);
		if (err == 0)
			break;
	}
	freeaddrinfo(res);
	return err;
}

/* Answer a close from the broker, so it knows we heard it. */
static void
answer_close(struct sv_amqp *a, const amqp_method_t *m, amqp_channel_t ch)
{
	amqp_channel_close_ok_t cok;
	amqp_connection_close_ok_t nok;

	if (a->conn == NULL)
		return;
	if (m->id == AMQP_CONNECTION_CLOSE_METHOD)
		(void)amqp_send_method(
		    a->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &nok);
	else if (m->id == AMQP_CHANNEL_CLOSE_METHOD)
		(void)amqp_send_method(
		    a->conn, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &cok);
}

/*
 * A server exception: "server channel error 404: NOT_FOUND - no queue
 * 'q' in vhost '/'", after rabbitmq-c's amqp_server_exception_string.
 */
static int
fail_close(struct sv_amqp *a, struct sv_err *e, const amqp_method_t *m,
    amqp_channel_t ch, const char *ctx)
{
	const amqp_connection_close_t *cc;
	const amqp_channel_close_t *hc;
	const char *what;
	amqp_bytes_t text;
	int code, ex;
	bool retry;

	if (m->id == AMQP_CONNECTION_CLOSE_METHOD) {
		cc = m->decoded;
		code = cc->reply_code;
		text = cc->reply_text;
		what = "connection";
	} else if (m->id == AMQP_CHANNEL_CLOSE_METHOD) {
		hc = m->decoded;
		code = hc->reply_code;
		text = hc->reply_text;
		what = "channel";
	} else {
		a->retry = false;
		sv_err_set(e, EX_PROTOCOL,
		    "%s: unexpected method 0x%08x from the broker", ctx,
		    (unsigned)m->id);
		sv_amqp_disconnect(a, false);
		return -1;
	}
	ex = reply_ex(code, &retry);
	a->retry = retry;
	sv_err_set(e, ex, "%s: server %s error %d: %.*s", ctx, what, code,
	    (int)(text.len > 200 ? 200 : text.len), (const char *)text.bytes);
	answer_close(a, m, ch);
	sv_amqp_disconnect(a, false);
	return -1;
}

/*
 * Turn a reply into 0 or -1 with e set; after a failure the session is
 * unusable and is dropped (rabbitmq-c leaves the channel closed by the
 * server, and a library error means the socket is gone).
 */
static int
check_reply(
    struct sv_amqp *a, amqp_rpc_reply_t r, struct sv_err *e, const char *ctx)
{
	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		return 0;
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		return fail_close(a, e, &r.reply, SV_AMQP_CHANNEL, ctx);
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		fail_status(a, e, r.library_error, 0, ctx);
		sv_amqp_disconnect(a, false);
		return -1;
	default:
		a->retry = false;
		sv_err_set(e, EX_SOFTWARE, "%s: no reply", ctx);
		sv_amqp_disconnect(a, false);
		return -1;
	}
}

static int
check_status(struct sv_amqp *a, int status, struct sv_err *e, const char *ctx)
{
	if (status >= 0)
		return 0;
	fail_status(a, e, status, 0, ctx);
	sv_amqp_disconnect(a, false);
	return -1;
}

static int
not_connected(struct sv_amqp *a, struct sv_err *e)
{
	a->retry = true;
	return sv_err_set(e, EX_TEMPFAIL, "not connected to a broker");
}

/* --- sessions --- */

struct sv_amqp *
sv_amqp_new(const struct sv_amqp_opts *opts)
{
	struct sv_amqp *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->o = opts;
	(void)snprintf(a->peer, sizeof(a->peer), "%s",
	    opts->nurls > 0 ? opts->urls[0].display : "(none)");
	return a;
}

void
sv_amqp_free(struct sv_amqp *a)
{
	if (a == NULL)
		return;
	sv_amqp_disconnect(a, true);
	free(a);
}

bool
sv_amqp_connected(const struct sv_amqp *a)
{
	return a->conn != NULL;
}

bool
sv_amqp_retryable(const struct sv_amqp *a)
{
	return a->retry;
}

int
sv_amqp_fd(const struct sv_amqp *a)
{
	return a->conn != NULL ? amqp_get_sockfd(a->conn) : -1;
}

const char *
sv_amqp_peer(const struct sv_amqp *a)
{
	return a->peer;
}

unsigned
sv_amqp_heartbeat(const struct sv_amqp *a)
{
	return a->conn != NULL ? (unsigned)amqp_get_heartbeat(a->conn) : 0;
}

void
sv_amqp_disconnect(struct sv_amqp *a, bool polite)
{
	amqp_connection_state_t c = a->conn;

	if (c == NULL)
		return;
	if (polite) {
		(void)amqp_channel_close(
		    c, SV_AMQP_CHANNEL, AMQP_REPLY_SUCCESS);
		(void)amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	}
	a->conn = NULL;
	(void)amqp_destroy_connection(c);
}

static amqp_table_entry_t
bool_entry(const char *key)
{
	amqp_table_entry_t t;

	memset(&t, 0, sizeof(t));
	t.key = amqp_cstring_bytes(key);
	t.value.kind = AMQP_FIELD_KIND_BOOLEAN;
	t.value.value.boolean = 1;
	return t;
}

/* Set up TLS on the socket: default verify paths (SSL_CERT_FILE), the
 * extra CA file, the client certificate. rabbitmq-c 0.11 verifies the
 * peer and the host name by default. */
static int
setup_tls(struct sv_amqp *a, amqp_socket_t *s, struct sv_err *e)
{
	SSL_CTX *ctx = amqp_ssl_socket_get_context(s);

	a->retry = false;
	if (ctx == NULL || SSL_CTX_set_default_verify_paths(ctx) != 1)
		return sv_err_set(e, EX_SOFTWARE, "TLS: no SSL context");
	if (a->o->cacert != NULL &&
	    amqp_ssl_socket_set_cacert(s, a->o->cacert) != AMQP_STATUS_OK)
		return sv_err_set(e, EX_CONFIG,
		    "--cacert %s: cannot load a PEM CA file", a->o->cacert);
	if (a->o->cert != NULL &&
	    amqp_ssl_socket_set_key(s, a->o->cert, a->o->key) != AMQP_STATUS_OK)
		return sv_err_set(e, EX_CONFIG,
		    "--cert %s / --key %s: cannot load the client certificate",
		    a->o->cert, a->o->key);
	return 0;
}

/* One attempt at one URL. */
static int
connect_one(struct sv_amqp *a, const struct sv_amqp_url *u, struct sv_err *e)
{
	amqp_table_entry_t caps[2], props[2];
	amqp_table_t capt, propt;
	const char *pass;
	amqp_socket_t *s;
	struct timeval tv;
	amqp_rpc_reply_t r;
	int rc, err_no;

	a->conn = amqp_new_connection();
	if (a->conn == NULL) {
		a->retry = false;
		return sv_err_set(e, EX_OSERR, "out of memory");
	}
	s = u->ssl ? amqp_ssl_socket_new(a->conn) :
	             amqp_tcp_socket_new(a->conn);
	if (s == NULL) {
		sv_amqp_disconnect(a, false);
		a->retry = false;
		return sv_err_set(e, EX_OSERR, "cannot create a socket");
	}
	if (u->ssl && setup_tls(a, s, e) < 0) {
		sv_amqp_disconnect(a, false);
		return -1;
	}
	fill_timeval(&tv, timeout_ms(a));
	(void)amqp_set_handshake_timeout(a->conn, &tv);
	(void)amqp_set_rpc_timeout(a->conn, &tv);
	rc = amqp_socket_open_noblock(s, u->host, u->port, &tv);
	if (rc != AMQP_STATUS_OK) {
		err_no = rc == AMQP_STATUS_SOCKET_ERROR ?
		    probe_errno(u->host, u->port) :
		    0;
		fail_status(a, e, rc, err_no, "connect");
		sv_amqp_disconnect(a, false);
		return -1;
	}
	caps[0] = bool_entry("connection.blocked");
	caps[1] = bool_entry("consumer_cancel_notify");
	capt.num_entries = 2;
	capt.entries = caps;
	memset(props, 0, sizeof(props));
	props[0].key = amqp_cstring_bytes("connection_name");
	props[0].value.kind = AMQP_FIELD_KIND_UTF8;
	props[0].value.value.bytes =
	    amqp_cstring_bytes(a->o->name != NULL ? a->o->name : sv_log_prog());
	props[1].key = amqp_cstring_bytes("capabilities");
	props[1].value.kind = AMQP_FIELD_KIND_TABLE;
	props[1].value.value.table = capt;
	propt.num_entries = 2;
	propt.entries = props;
	pass = a->o->password != NULL ? a->o->password : u->password;
	r = amqp_login_with_properties(a->conn, u->vhost, 0, FRAME_MAX,
	    (int)a->o->heartbeat, &propt, AMQP_SASL_METHOD_PLAIN, u->user,
	    pass);
	if (check_reply(a, r, e, "login") < 0)
		return -1;
	(void)amqp_channel_open(a->conn, SV_AMQP_CHANNEL);
	return check_reply(a, amqp_get_rpc_reply(a->conn), e, "open channel");
}

int
sv_amqp_connect(struct sv_amqp *a, struct sv_err *e)
{
	size_t i, n = a->o->nurls, start;

	sv_amqp_disconnect(a, false);
	start = a->tried ? (a->cur + 1) % n : 0;
	for (i = 0; i < n; i++) {
		a->cur = (start + i) % n;
		a->tried = true;
		(void)snprintf(
		    a->peer, sizeof(a->peer), "%s", a->o->urls[a->cur].display);
		if (connect_one(a, &a->o->urls[a->cur], e) == 0) {
			a->retry = false;
			return 0;
		}
		sv_err_prefix(e, "%s", a->peer);
		if (!a->retry)
			return -1;
		if (i + 1 < n)
			sv_log_warn("%s; trying the next broker", e->msg);
	}
	return -1;
}

/* --- topology --- */

int
sv_amqp_declare_exchange(struct sv_amqp *a, const char *name, struct sv_err *e)
{
	char ctx[300];

	if (a->conn == NULL)
		return not_connected(a, e);
	(void)amqp_exchange_declare(a->conn, SV_AMQP_CHANNEL,
	    amqp_cstring_bytes(name), amqp_cstring_bytes("topic"), 0, 1, 0, 0,
	    amqp_empty_table);
	(void)snprintf(ctx, sizeof(ctx), "declare exchange \"%s\"", name);
	return check_reply(a, amqp_get_rpc_reply(a->conn), e, ctx);
}

int
sv_amqp_declare_queue(struct sv_amqp *a, const char *name, bool quorum,
    bool passive, char *out, size_t outlen, struct sv_err *e)
{
	amqp_queue_declare_ok_t *ok;
	amqp_table_entry_t qt;
	amqp_table_t args = amqp_empty_table;
	bool named = name != NULL && *name != '\0';
	char ctx[300];

	if (a->conn == NULL)
		return not_connected(a, e);
	if (named && quorum) {
		memset(&qt, 0, sizeof(qt));
		qt.key = amqp_cstring_bytes("x-queue-type");
		qt.value.kind = AMQP_FIELD_KIND_UTF8;
		qt.value.value.bytes = amqp_cstring_bytes("quorum");
		args.num_entries = 1;
		args.entries = &qt;
	}
	ok = amqp_queue_declare(a->conn, SV_AMQP_CHANNEL,
	    named ? amqp_cstring_bytes(name) : amqp_empty_bytes, passive, named,
	    !named, !named, args);
	(void)snprintf(ctx, sizeof(ctx), "declare queue \"%s\"",
	    named ? name : "(server-named)");
	if (check_reply(a, amqp_get_rpc_reply(a->conn), e, ctx) < 0)
		return -1;
	if (ok == NULL || ok->queue.len >= outlen)
		return sv_err_set(e, EX_PROTOCOL, "%s: bad reply", ctx);
	memcpy(out, ok->queue.bytes, ok->queue.len);
	out[ok->queue.len] = '\0';
	return 0;
}

int
sv_amqp_bind(struct sv_amqp *a, const char *queue, const char *exchange,
    const char *key, struct sv_err *e)
{
	char ctx[600];

	if (a->conn == NULL)
		return not_connected(a, e);
	(void)amqp_queue_bind(a->conn, SV_AMQP_CHANNEL,
	    amqp_cstring_bytes(queue), amqp_cstring_bytes(exchange),
	    amqp_cstring_bytes(key), amqp_empty_table);
	(void)snprintf(ctx, sizeof(ctx),
	    "bind queue \"%s\" to exchange \"%s\" with key \"%s\"", queue,
	    exchange, key);
	return check_reply(a, amqp_get_rpc_reply(a->conn), e, ctx);
}

int
sv_amqp_confirm_select(struct sv_amqp *a, struct sv_err *e)
{
	if (a->conn == NULL)
		return not_connected(a, e);
	(void)amqp_confirm_select(a->conn, SV_AMQP_CHANNEL);
	return check_reply(
	    a, amqp_get_rpc_reply(a->conn), e, "enable publisher confirms");
}

int
sv_amqp_qos(struct sv_amqp *a, unsigned prefetch, struct sv_err *e)
{
	if (a->conn == NULL)
		return not_connected(a, e);
	(void)amqp_basic_qos(a->conn, SV_AMQP_CHANNEL, 0,
	    (uint16_t)(prefetch > 65535 ? 65535 : prefetch), 0);
	return check_reply(a, amqp_get_rpc_reply(a->conn), e, "set prefetch");
}

int
sv_amqp_consume(
    struct sv_amqp *a, const char *queue, bool no_ack, struct sv_err *e)
{
	char ctx[300];

	if (a->conn == NULL)
		return not_connected(a, e);
	(void)amqp_basic_consume(a->conn, SV_AMQP_CHANNEL,
	    amqp_cstring_bytes(queue), amqp_empty_bytes, 0, no_ack, 0,
	    amqp_empty_table);
	(void)snprintf(ctx, sizeof(ctx), "consume from queue \"%s\"", queue);
	return check_reply(a, amqp_get_rpc_reply(a->conn), e, ctx);
}

/* --- publishing --- */

int
sv_amqp_publish(struct sv_amqp *a, const char *exchange, const char *key,
    bool mandatory, const struct sv_amqp_props *p, const void *body, size_t len,
    struct sv_err *e)
{
	amqp_basic_properties_t props;
	amqp_bytes_t b;
	int rc;

	if (a->conn == NULL)
		return not_connected(a, e);
	memset(&props, 0, sizeof(props));
	props._flags =
	    AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
	props.content_type = amqp_cstring_bytes("application/json");
	props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	if (p != NULL && p->message_id != NULL) {
		props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
		props.message_id = amqp_cstring_bytes(p->message_id);
	}
	if (p != NULL && p->type != NULL) {
		props._flags |= AMQP_BASIC_TYPE_FLAG;
		props.type = amqp_cstring_bytes(p->type);
	}
	if (p != NULL && p->timestamp > 0) {
		props._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
		props.timestamp = (uint64_t)p->timestamp;
	}
	b.bytes = (void *)(uintptr_t)body;
	b.len = len;
	rc = amqp_basic_publish(a->conn, SV_AMQP_CHANNEL,
	    amqp_cstring_bytes(exchange), amqp_cstring_bytes(key), mandatory, 0,
	    &props, b);
	return check_status(a, rc, e, "publish");
}

void
sv_amqp_cork(struct sv_amqp *a, bool on)
{
	int fd = sv_amqp_fd(a), v = on ? 1 : 0;

	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof(v));
}

void
sv_amqp_note_init(struct sv_amqp_note *n)
{
	memset(n, 0, sizeof(*n));
	sv_buf_init(&n->body);
}

void
sv_amqp_note_fini(struct sv_amqp_note *n)
{
	sv_buf_fini(&n->body);
}

static void
copy_bytes(char *dst, size_t n, amqp_bytes_t b)
{
	size_t len = b.len < n - 1 ? b.len : n - 1;

	if (len > 0)
		memcpy(dst, b.bytes, len);
	dst[len] = '\0';
}

/* basic.return: the method is followed by a header and the body. */
static int
read_return(struct sv_amqp *a, const amqp_basic_return_t *m,
    struct sv_amqp_note *n, struct sv_err *e)
{
	amqp_message_t msg;
	amqp_rpc_reply_t r;
	int rc = 0;

	n->kind = SV_AMQP_NOTE_RETURN;
	n->reply_code = m->reply_code;
	copy_bytes(n->reply_text, sizeof(n->reply_text), m->reply_text);
	copy_bytes(n->key, sizeof(n->key), m->routing_key);
	r = amqp_read_message(a->conn, SV_AMQP_CHANNEL, &msg, 0);
	if (check_reply(a, r, e, "read a returned message") < 0)
		return -1;
	sv_buf_reset(&n->body);
	if (sv_buf_append(&n->body, msg.body.bytes, msg.body.len) < 0) {
		a->retry = false;
		rc = sv_err_set(e, EX_OSERR, "out of memory");
	}
	amqp_destroy_message(&msg);
	return rc < 0 ? rc : 1;
}

/* A frame on a confirm channel: 1 if it is a note, 0 to skip it. */
static int
handle_frame(struct sv_amqp *a, const amqp_frame_t *f, struct sv_amqp_note *n,
    struct sv_err *e)
{
	const amqp_basic_ack_t *ack;
	const amqp_basic_nack_t *nack;
	const amqp_connection_blocked_t *bl;

	if (f->frame_type != AMQP_FRAME_METHOD) {
		sv_log_debug(
		    "skipping an unexpected frame of type %d", f->frame_type);
		return 0;
	}
	switch (f->payload.method.id) {
	case AMQP_BASIC_ACK_METHOD:
		ack = f->payload.method.decoded;
		n->kind = SV_AMQP_NOTE_ACK;
		n->tag = ack->delivery_tag;
		n->multiple = ack->multiple != 0;
		return 1;
	case AMQP_BASIC_NACK_METHOD:
		nack = f->payload.method.decoded;
		n->kind = SV_AMQP_NOTE_NACK;
		n->tag = nack->delivery_tag;
		n->multiple = nack->multiple != 0;
		return 1;
	case AMQP_BASIC_RETURN_METHOD:
		return read_return(a, f->payload.method.decoded, n, e);
	case AMQP_CONNECTION_BLOCKED_METHOD:
		bl = f->payload.method.decoded;
		sv_log_warn("%s: the broker blocks publishing: %.*s", a->peer,
		    (int)bl->reason.len, (const char *)bl->reason.bytes);
		return 0;
	case AMQP_CONNECTION_UNBLOCKED_METHOD:
		sv_log_info("%s: the broker accepts publishing again", a->peer);
		return 0;
	case AMQP_CHANNEL_CLOSE_METHOD:
	case AMQP_CONNECTION_CLOSE_METHOD:
		return fail_close(
		    a, e, &f->payload.method, f->channel, "broker closed");
	default:
		sv_log_debug(
		    "skipping method 0x%08x", (unsigned)f->payload.method.id);
		return 0;
	}
}

int
sv_amqp_next_note(struct sv_amqp *a, struct sv_amqp_note *n, struct sv_err *e)
{
	struct timeval zero = { 0, 0 };
	amqp_frame_t f;
	int rc;

	if (a->conn == NULL)
		return not_connected(a, e);
	for (;;) {
		rc = amqp_simple_wait_frame_noblock(a->conn, &f, &zero);
		if (rc == AMQP_STATUS_TIMEOUT) {
			amqp_maybe_release_buffers(a->conn);
			return 0;
		}
		if (rc != AMQP_STATUS_OK)
			return check_status(a, rc, e, "read from the broker");
		rc = handle_frame(a, &f, n, e);
		if (rc != 0)
			return rc;
	}
}

/* --- consuming --- */

void
sv_amqp_delivery_init(struct sv_amqp_delivery *d)
{
	memset(d, 0, sizeof(*d));
}

void
sv_amqp_delivery_fini(struct sv_amqp_delivery *d)
{
	if (d->env != NULL) {
		amqp_destroy_envelope(d->env);
		free(d->env);
	}
	memset(d, 0, sizeof(*d));
}

bool
sv_amqp_pending(const struct sv_amqp *a)
{
	return a->conn != NULL &&
	    (amqp_frames_enqueued(a->conn) || amqp_data_in_buffer(a->conn));
}

/* consume_message found something other than a delivery: see what. */
static int
get_other(struct sv_amqp *a, struct sv_err *e)
{
	amqp_frame_t f;
	int rc;

	rc = amqp_simple_wait_frame(a->conn, &f);
	if (rc != AMQP_STATUS_OK)
		return check_status(a, rc, e, "read from the broker");
	if (f.frame_type != AMQP_FRAME_METHOD)
		return 0;
	switch (f.payload.method.id) {
	case AMQP_BASIC_CANCEL_METHOD:
		a->retry = true;
		sv_err_set(e, EX_TEMPFAIL,
		    "%s: the broker cancelled the consumer (queue deleted?)",
		    a->peer);
		sv_amqp_disconnect(a, false);
		return -1;
	case AMQP_CHANNEL_CLOSE_METHOD:
	case AMQP_CONNECTION_CLOSE_METHOD:
		return fail_close(
		    a, e, &f.payload.method, f.channel, "broker closed");
	default:
		sv_log_debug(
		    "skipping method 0x%08x", (unsigned)f.payload.method.id);
		return 0;
	}
}

int
sv_amqp_get(struct sv_amqp *a, struct sv_amqp_delivery *d, long timeout_ms,
    struct sv_err *e)
{
	amqp_envelope_t *env;
	amqp_rpc_reply_t r;
	struct timeval tv;

	sv_amqp_delivery_fini(d);
	if (a->conn == NULL)
		return not_connected(a, e);
	amqp_maybe_release_buffers(a->conn);
	env = calloc(1, sizeof(*env));
	if (env == NULL) {
		a->retry = false;
		return sv_err_set(e, EX_OSERR, "out of memory");
	}
	fill_timeval(&tv, timeout_ms);
	r = amqp_consume_message(a->conn, env, &tv, 0);
	if (r.reply_type == AMQP_RESPONSE_NORMAL) {
		d->env = env;
		d->tag = env->delivery_tag;
		d->redelivered = env->redelivered != 0;
		d->body = env->message.body.bytes;
		d->len = env->message.body.len;
		copy_bytes(d->key, sizeof(d->key), env->routing_key);
		return 1;
	}
	free(env);
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
	    r.library_error == AMQP_STATUS_TIMEOUT)
		return 0;
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
	    r.library_error == AMQP_STATUS_UNEXPECTED_STATE)
		return get_other(a, e);
	return check_reply(a, r, e, "consume");
}

int
sv_amqp_ack(struct sv_amqp *a, uint64_t tag, bool multiple, struct sv_err *e)
{
	if (a->conn == NULL)
		return not_connected(a, e);
	return check_status(a,
	    amqp_basic_ack(a->conn, SV_AMQP_CHANNEL, tag, multiple), e, "ack");
}

int
sv_amqp_nack(struct sv_amqp *a, uint64_t tag, bool requeue, struct sv_err *e)
{
	if (a->conn == NULL)
		return not_connected(a, e);
	return check_status(a,
	    amqp_basic_nack(a->conn, SV_AMQP_CHANNEL, tag, 0, requeue), e,
	    "nack");
}

/* --- bodies --- */

int
sv_amqp_body_line(
    const void *body, size_t len, struct sv_buf *out, struct sv_err *e)
{
	const char *b = body;
	json_error_t je;
	json_t *j;
	char *s;
	int rc;

	sv_buf_reset(out);
	if (len > 0 && b[len - 1] == '\n') {
		len--;
		if (len > 0 && b[len - 1] == '\r')
			len--;
	}
	if (len == 0 || memchr(b, '\n', len) == NULL) {
		if (sv_buf_append(out, b, len) < 0)
			return sv_err_set(e, EX_OSERR, "out of memory");
		return 0;
	}
	j = json_loadb(b, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (j == NULL)
		return sv_err_set(e, EX_DATAERR,
		    "the body has a newline and is not JSON (%s)", je.text);
	s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	if (s == NULL)
		return sv_err_set(e, EX_OSERR, "out of memory");
	rc = sv_buf_append(out, s, strlen(s));
	free(s);
	if (rc < 0)
		return sv_err_set(e, EX_OSERR, "out of memory");
	return 0;
}

/* --- the shared connection options --- */

void
sv_amqp_cli_init(struct sv_amqp_cli *c)
{
	memset(c, 0, sizeof(*c));
	c->heartbeat = 30;
}

/* Blank the password of scheme://user:password@host in place. */
static void
blank_url_password(char *url)
{
	size_t from, to;

	if (password_span(url, &from, &to))
		memset(url + from, '*', to - from);
}

enum sv_cli_res
sv_amqp_cli_option(struct sv_amqp_cli *c, int opt, char *arg, int *ex)
{
	switch (opt) {
	case 'u':
		if (c->nurls == SV_AMQP_MAX_URLS) {
			*ex = sv_cli_usage_error(
			    "--url: at most %d brokers", SV_AMQP_MAX_URLS);
			return SV_CLI_EXIT;
		}
		c->urls[c->nurls] = strdup(arg);
		if (c->urls[c->nurls] == NULL) {
			*ex = sv_cli_usage_error("out of memory");
			return SV_CLI_EXIT;
		}
		c->nurls++;
		blank_url_password(arg);
		return SV_CLI_OK;
	case SV_AMQP_OPT_CACERT:
		c->opts.cacert = arg;
		return SV_CLI_OK;
	case SV_AMQP_OPT_CERT:
		c->opts.cert = arg;
		return SV_CLI_OK;
	case SV_AMQP_OPT_HEARTBEAT:
		if (sv_cli_ulong(arg, 0, 3600, &c->heartbeat) < 0) {
			*ex = sv_cli_usage_error(
			    "--heartbeat: expected 0 to 3600 seconds, got '%s'",
			    arg);
			return SV_CLI_EXIT;
		}
		return SV_CLI_OK;
	case SV_AMQP_OPT_KEY:
		c->opts.key = arg;
		return SV_CLI_OK;
	case SV_AMQP_OPT_NO_RETRY:
		c->no_retry = true;
		return SV_CLI_OK;
	case SV_AMQP_OPT_PASSWORD_FILE:
		c->password_file = arg;
		return SV_CLI_OK;
	default:
		return SV_CLI_UNKNOWN;
	}
}

int
sv_amqp_cli_finish(struct sv_amqp_cli *c, struct sv_err *e)
{
	const char *env = getenv("AMQP_URL");
	bool tls = false;
	size_t i;

	if (c->nurls == 0) {
		c->urls[0] = strdup(
		    env != NULL && *env != '\0' ? env : SV_AMQP_DEFAULT_URL);
		if (c->urls[0] == NULL)
			return sv_err_set(e, EX_OSERR, "out of memory");
		c->nurls = 1;
	}
	for (i = 0; i < c->nurls; i++) {
		if (sv_amqp_url_parse(&c->parsed[i], c->urls[i], e) < 0)
			return -1;
		tls |= c->parsed[i].ssl;
	}
	if ((c->opts.cert == NULL) != (c->opts.key == NULL))
		return sv_err_set(e, EX_USAGE, "--cert and --key go together");
	if (!tls && (c->opts.cacert != NULL || c->opts.cert != NULL))
		return sv_err_set(e, EX_USAGE,
		    "--cacert, --cert and --key need an amqps:// URL");
	if (c->password_file != NULL) {
		c->password = sv_cli_secret(NULL, c->password_file, e);
		if (c->password == NULL)
			return -1;
	}
	for (i = 0; i < c->nurls && c->password == NULL; i++)
		if (c->parsed[i].no_password)
			sv_log_warn(
			    "%s: the URL names the user '%s' but no "
			    "password, so the password 'guest' is sent "
			    "(give it in the URL or with --password-file)",
			    c->parsed[i].display, c->parsed[i].user);
	c->opts.urls = c->parsed;
	c->opts.nurls = c->nurls;
	c->opts.password = c->password;
	c->opts.heartbeat = (unsigned)c->heartbeat;
	return 0;
}

void
sv_amqp_cli_fini(struct sv_amqp_cli *c)
{
	size_t i;

	for (i = 0; i < c->nurls; i++) {
		sv_amqp_url_fini(&c->parsed[i]);
		if (c->urls[i] != NULL) {
			explicit_bzero(c->urls[i], strlen(c->urls[i]));
			free(c->urls[i]);
		}
	}
	sv_cli_secret_free(c->password);
	memset(c, 0, sizeof(*c));
}
