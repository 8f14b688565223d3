/* httpd: libmicrohttpd glue; see httpd.h. */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/tcp.h>
#include <microhttpd.h>

#include "httpd.h"
#include "log.h"
#include "net.h"

/*
 * A connection, kept in MHD's socket_context from accept to close. While
 * a request is awaited it is on the watch list, which is sorted by
 * deadline because every deadline is "now + timeout" taken under the
 * lock.
 */
struct conn {
	struct conn *prev, *next;
	bool watched;
	int fd;
	long long deadline_ms;
	unsigned long long rx; /* bytes received when watching began */
};

struct sv_httpd {
	struct MHD_Daemon *mhd;
	sv_httpd_fn *fn;
	void *arg;
	size_t max_body;
	long timeout_ms;
	unsigned conn_limit, per_ip_limit;
	atomic_ulong too_large, too_slow, connections;
	atomic_uint active; /* requests between headers and completion */
	char addr[80];
	char *cert, *key;
	/* the watchdog: wlock guards whead/wtail and wstop */
	pthread_mutex_t wlock;
	pthread_cond_t wcond;
	struct conn *whead, *wtail;
	pthread_t watchdog;
	bool wstarted, wstop;
};

/* Per-request state kept in MHD's con_cls. */
struct pending {
	struct sv_buf body;
	int too_large;
};

/* Bytes the kernel received on a TCP socket so far (0 if unknown). */
static unsigned long long
rx_bytes(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) +
	            sizeof(ti.tcpi_bytes_received))
		return 0;
	return ti.tcpi_bytes_received;
}

/* Under d->wlock: take w off the watch list. */
static void
unwatch(struct sv_httpd *d, struct conn *w)
{
	if (!w->watched)
		return;
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		d->whead = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	else
		d->wtail = w->prev;
	w->prev = w->next = NULL;
	w->watched = false;
}

/* Under d->wlock: (re)start w's deadline, at the tail of the list; rx
 * is what the socket had received when the wait for a request began. */
static void
watch(struct sv_httpd *d, struct conn *w, unsigned long long rx)
{
	unwatch(d, w);
	w->deadline_ms = sv_net_now_ms() + d->timeout_ms;
	w->rx = rx;
	w->prev = d->wtail;
	w->next = NULL;
	if (d->wtail != NULL)
		d->wtail->next = w;
	else
		d->whead = w;
	d->wtail = w;
	w->watched = true;
}

/*
 * The watchdog thread: shut down connections whose request is not
 * complete by its deadline. Only shutdown(2), never close(2): MHD owns
 * the fd, sees the end of the stream and closes the connection itself.
 * The fd cannot be closed and reused under us: MHD notifies
 * MHD_CONNECTION_NOTIFY_CLOSED, which takes the connection off the list
 * under wlock, before it closes the socket (MHD_cleanup_connections and
 * the failure path of new connections, in 0.9.x and 1.0 alike).
 */
static void *
watchdog_main(void *arg)
{
	struct sv_httpd *d = arg;
	struct timespec until;
	struct conn *w;
	long long now, next;

	pthread_mutex_lock(&d->wlock);
	while (!d->wstop) {
		now = sv_net_now_ms();
		w = d->whead;
		if (w != NULL && w->deadline_ms <= now) {
			unwatch(d, w);
			/* A client that sent nothing since the wait began
			 * (accept, or the last answer) is merely idle, and
			 * MHD's idle timeout says the same; one that began
			 * a request and did not finish it is too slow. */
			if (rx_bytes(w->fd) > w->rx) {
				atomic_fetch_add(&d->too_slow, 1);
				sv_log_debug("httpd: request not complete "
				             "within %ld ms, connection closed",
				    d->timeout_ms);
			}
			(void)shutdown(w->fd, SHUT_RDWR);
			continue;
		}
		/* Nothing to do before the head's deadline; an empty list
		 * gets new connections no earlier than a timeout from now,
		 * so this never sleeps past a deadline, and nobody has to
		 * wake us but sv_httpd_stop(). */
		next = w != NULL ? w->deadline_ms : now + d->timeout_ms;
		until.tv_sec = (time_t)(next / 1000);
		until.tv_nsec = (long)(next % 1000) * 1000000L;
		(void)pthread_cond_timedwait(&d->wcond, &d->wlock, &until);
	}
	pthread_mutex_unlock(&d->wlock);
	return NULL;
}

static int
watchdog_start(struct sv_httpd *d)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	pthread_mutex_init(&d->wlock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->wcond, &ca);
	pthread_condattr_destroy(&ca);
	/* Signals are for the caller's threads, not this one. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&d->watchdog, NULL, watchdog_main, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&d->wcond);
		pthread_mutex_destroy(&d->wlock);
		return -1;
	}
	d->wstarted = true;
	return 0;
}

static void
watchdog_stop(struct sv_httpd *d)
{
	if (!d->wstarted)
		return;
	pthread_mutex_lock(&d->wlock);
	d->wstop = true;
	pthread_cond_signal(&d->wcond);
	pthread_mutex_unlock(&d->wlock);
	pthread_join(d->watchdog, NULL);
	pthread_cond_destroy(&d->wcond);
	pthread_mutex_destroy(&d->wlock);
	d->wstarted = false;
}

static struct conn *
conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

/* MHD_OPTION_NOTIFY_CONNECTION: accept and close of every connection. */
static void
on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	struct sv_httpd *d = cls;
	const union MHD_ConnectionInfo *ci;
	struct conn *w = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(
		    c, MHD_CONNECTION_INFO_CONNECTION_FD);
		w = ci != NULL ? calloc(1, sizeof(*w)) : NULL;
		if (w == NULL) {
			/* Without a deadline it must not stay: refuse it. */
			sv_log_debug(
			    "httpd: out of memory: connection refused");
			if (ci != NULL)
				(void)shutdown(ci->connect_fd, SHUT_RDWR);
			return;
		}
		w->fd = ci->connect_fd;
		atomic_fetch_add(&d->connections, 1);
		pthread_mutex_lock(&d->wlock);
		watch(d, w, 0); /* whatever came already began a request */
		pthread_mutex_unlock(&d->wlock);
		*socket_context = w;
		return;
	}
	if (w == NULL)
		return;
	pthread_mutex_lock(&d->wlock);
	unwatch(d, w);
	pthread_mutex_unlock(&d->wlock);
	atomic_fetch_sub(&d->connections, 1);
	free(w);
	*socket_context = NULL;
}

static char *
slurp(const char *path, struct sv_err *e)
{
	struct sv_buf b;
	char chunk[4096];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		sv_err_set(e, EX_NOINPUT, "%s: %s", path, strerror(errno));
		return NULL;
	}
	sv_buf_init(&b);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (sv_buf_append(&b, chunk, (size_t)n) < 0)
			break;
	close(fd);
	if (n != 0 || b.data == NULL) {
		sv_buf_wipe(&b);
		sv_err_set(e, EX_NOINPUT, "%s: cannot read", path);
		return NULL;
	}
	return b.data;
}

static void
mhd_log(void *arg, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)arg;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	sv_log_debug("httpd: %s", msg);
}

static enum MHD_Result
send_resp(struct MHD_Connection *c, struct sv_httpd_resp *rs)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t i;

	r = MHD_create_response_from_buffer(rs->body.len,
	    rs->body.data != NULL ? rs->body.data : (void *)(uintptr_t) "",
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    rs->content_type != NULL ? rs->content_type : "application/json");
	for (i = 0; i < SV_HTTPD_MAX_HEADERS && rs->hname[i] != NULL; i++)
		MHD_add_response_header(r, rs->hname[i], rs->hvalue[i]);
	ret = MHD_queue_response(c, rs->status != 0 ? rs->status : 200, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_size, void **con_cls)
{
	struct sv_httpd *d = cls;
	struct pending *p = *con_cls;
	struct sv_httpd_resp rs;
	struct sv_httpd_req rq;
	struct conn *w;
	const char *cl;
	enum MHD_Result ret;

	(void)version;
	if (p == NULL) {
		p = calloc(1, sizeof(*p));
		if (p == NULL)
			return MHD_NO;
		sv_buf_init(&p->body);
		*con_cls = p;
		atomic_fetch_add(&d->active, 1);
		cl = MHD_lookup_connection_value(
		    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && strtoull(cl, NULL, 10) > d->max_body)
			p->too_large = 1;
		if (!p->too_large)
			return MHD_YES; /* called again with the body */
	}
	if (*upload_size > 0) {
		if (!p->too_large &&
		    p->body.len + *upload_size <= d->max_body &&
		    sv_buf_append(&p->body, upload_data, *upload_size) == 0) {
			*upload_size = 0;
			return MHD_YES;
		}
		/* Over the cap without a Content-Length (chunked): drop
		 * what comes, within the deadline, and answer 413 at the
		 * end (0.9.75 cannot answer earlier). */
		if (!p->too_large)
			sv_buf_fini(&p->body);
		p->too_large = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	/* The request is complete: its deadline no longer applies. */
	w = conn_of(c);
	if (w != NULL) {
		pthread_mutex_lock(&d->wlock);
		unwatch(d, w);
		pthread_mutex_unlock(&d->wlock);
	}
	memset(&rs, 0, sizeof(rs));
	sv_buf_init(&rs.body);
	if (p->too_large) {
		atomic_fetch_add(&d->too_large, 1);
		/* Answer at once; MHD closes the connection after it, so a
		 * hostile client cannot make us read an endless body. */
		*upload_size = 0;
		sv_httpd_resp_text(&rs, MHD_HTTP_CONTENT_TOO_LARGE,
		    "request body too large\n");
		sv_httpd_resp_header(&rs, MHD_HTTP_HEADER_CONNECTION, "close");
	} else {
		rq.method = method;
		rq.path = url;
		rq.body = p->body.data != NULL ? p->body.data : "";
		rq.body_len = p->body.len;
		rq.conn = c;
		d->fn(d->arg, &rq, &rs);
	}
	ret = send_resp(c, &rs);
	sv_buf_fini(&rs.body);
	return ret;
}

static void
on_done(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode why)
{
	struct sv_httpd *d = cls;
	struct pending *p = *con_cls;
	unsigned long long rx;
	struct conn *w;

	(void)why;
	/* The next request on a kept-alive connection has a deadline of
	 * its own from now (after a failed one MHD closes, and
	 * NOTIFY_CLOSED takes it off the list again). */
	w = conn_of(c);
	if (w != NULL) {
		rx = rx_bytes(w->fd);
		pthread_mutex_lock(&d->wlock);
		watch(d, w, rx);
		pthread_mutex_unlock(&d->wlock);
	}
	if (p == NULL)
		return;
	sv_buf_fini(&p->body);
	free(p);
	*con_cls = NULL;
	atomic_fetch_sub(&d->active, 1);
}

/* Is the socket bound to a loopback address (127/8, ::1)? */
static bool
bound_to_loopback(int fd)
{
	struct sockaddr_storage ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return false;
	if (ss.ss_family == AF_INET)
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	if (ss.ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
		    (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
		        s6->sin6_addr.s6_addr[12] == 127);
	return false;
}

struct sv_httpd *
sv_httpd_start(
    const struct sv_httpd_opts *o, sv_httpd_fn *fn, void *arg, struct sv_err *e)
{
	struct MHD_OptionItem more[5];
	struct sv_httpd *d;
	/* ITC lets sv_httpd_stop() quiesce the listening socket. */
	unsigned flags =
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	size_t n = 0;
	int fd;

	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		sv_err_set(e, EX_OSERR, "out of memory");
		return NULL;
	}
	d->fn = fn;
	d->arg = arg;
	d->max_body = o->max_body != 0 ? o->max_body : 64 * 1024;
	d->timeout_ms = 1000L * (o->timeout_s != 0 ? o->timeout_s : 10);
	d->conn_limit = o->conn_limit != 0 ? o->conn_limit : 256;
	if ((o->tls_cert != NULL) != (o->tls_key != NULL)) {
		sv_err_set(
		    e, EX_USAGE, "TLS needs both a certificate and a key");
		goto fail;
	}
	if (o->tls_cert != NULL) {
		d->cert = slurp(o->tls_cert, e);
		if (d->cert == NULL)
			goto fail;
		d->key = slurp(o->tls_key, e);
		if (d->key == NULL)
			goto fail;
		flags |= MHD_USE_TLS;
	}
	sv_net_raise_nofile();
	fd = sv_net_listen(o->listen, e);
	if (fd < 0)
		goto fail;
	(void)sv_net_local_addr(fd, d->addr, sizeof(d->addr));
	if (o->per_ip_limit == SV_HTTPD_NO_LIMIT)
		d->per_ip_limit = 0;
	else if (o->per_ip_limit != 0)
		d->per_ip_limit = o->per_ip_limit;
	else if (!bound_to_loopback(fd))
		d->per_ip_limit =
		    d->conn_limit / 4 != 0 ? d->conn_limit / 4 : 1;
	if (watchdog_start(d) < 0) {
		close(fd);
		sv_err_set(e, EX_OSERR, "cannot start a thread");
		goto fail;
	}
	/* The options that are not always given; MHD logs a warning for
	 * a thread pool of size 0. */
	if (o->threads > 1)
		more[n++] =
		    (struct MHD_OptionItem) { MHD_OPTION_THREAD_POOL_SIZE,
			    (intptr_t)o->threads, NULL };
	/* epoll (each pool thread its own), else poll: never MHD's default
	 * select(), which drops every connection past descriptor 1023. */
	flags |= MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ?
	    MHD_USE_EPOLL :
	    MHD_USE_POLL;
	if (d->per_ip_limit != 0)
		more[n++] = (struct MHD_OptionItem) {
			MHD_OPTION_PER_IP_CONNECTION_LIMIT,
			(intptr_t)d->per_ip_limit, NULL
		};
	if (d->cert != NULL) {
		more[n++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_MEM_CERT,
			0, d->cert };
		more[n++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_MEM_KEY,
			0, d->key };
	}
	more[n] = (struct MHD_OptionItem) { MHD_OPTION_END, 0, NULL };
	/* EXTERNAL_LOGGER first, or MHD logs what it parses before it
	 * through its own logger, and warns. */
	d->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, d,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, d, MHD_OPTION_LISTEN_SOCKET,
	    fd, MHD_OPTION_CONNECTION_LIMIT, d->conn_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(d->timeout_ms / 1000),
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)(o->conn_memory != 0 ? o->conn_memory : 32 * 1024),
	    MHD_OPTION_NOTIFY_COMPLETED, on_done, d,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, d, MHD_OPTION_ARRAY,
	    more, MHD_OPTION_END);
	if (d->mhd == NULL) {
		close(fd);
		sv_err_set(e, EX_SOFTWARE, "cannot start the HTTP server on %s",
		    d->addr);
		goto fail;
	}
	if (o->port_file != NULL &&
	    sv_net_write_port_file(o->port_file, fd, e) < 0) {
		sv_httpd_stop(d);
		return NULL;
	}
	return d;
fail:
	sv_httpd_stop(d);
	return NULL;
}

void
sv_httpd_stop(struct sv_httpd *d)
{
	struct timespec pause = { 0, 5 * 1000000L };
	long long deadline;
	int fd;

	if (d == NULL)
		return;
	if (d->mhd != NULL) {
		/* Accept nothing new, and let requests whose handler ran
		 * send their answer: MHD_stop_daemon() alone would cut a
		 * queued 2xx, and the client would send the message again.
		 * The watchdog still cuts slow clients meanwhile. */
		fd = MHD_quiesce_daemon(d->mhd);
		if (fd >= 0)
			close(fd);
		deadline = sv_net_now_ms() + d->timeout_ms;
		while (
		    atomic_load(&d->active) > 0 && sv_net_now_ms() < deadline)
			nanosleep(&pause, NULL);
		MHD_stop_daemon(d->mhd);
	}
	/* MHD closed (and so unlisted) every connection. */
	watchdog_stop(d);
	if (d->key != NULL) {
		explicit_bzero(d->key, strlen(d->key));
		free(d->key);
	}
	free(d->cert);
	free(d);
}

const char *
sv_httpd_addr(const struct sv_httpd *d)
{
	return d->addr;
}

unsigned long
sv_httpd_count_too_large(const struct sv_httpd *d)
{
	return atomic_load(&d->too_large);
}

unsigned long
sv_httpd_count_too_slow(const struct sv_httpd *d)
{
	return atomic_load(&d->too_slow);
}

unsigned long
sv_httpd_count_connections(const struct sv_httpd *d)
{
	return atomic_load(&d->connections);
}

unsigned
sv_httpd_conn_limit(const struct sv_httpd *d)
{
	return d->conn_limit;
}

unsigned
sv_httpd_per_ip_limit(const struct sv_httpd *d)
{
	return d->per_ip_limit;
}

const char *
sv_httpd_header(const struct sv_httpd_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *
sv_httpd_query(const struct sv_httpd_req *rq, const char *key)
{
	return MHD_lookup_connection_value(
	    rq->conn, MHD_GET_ARGUMENT_KIND, key);
}

void
sv_httpd_resp_header(
    struct sv_httpd_resp *rs, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < SV_HTTPD_MAX_HEADERS; i++) {
		if (rs->hname[i] == NULL) {
			rs->hname[i] = name;
			rs->hvalue[i] = value;
			return;
		}
	}
}

void
sv_httpd_resp_text(struct sv_httpd_resp *rs, unsigned status, const char *text)
{
	rs->status = status;
	rs->content_type = "text/plain; charset=utf-8";
	sv_buf_reset(&rs->body);
	(void)sv_buf_append(&rs->body, text, strlen(text));
}

void
sv_httpd_resp_json(struct sv_httpd_resp *rs, unsigned status, const char *json)
{
	rs->status = status;
	rs->content_type = "application/json";
	sv_buf_reset(&rs->body);
	(void)sv_buf_append(&rs->body, json, strlen(json));
}
