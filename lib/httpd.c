/* httpd: libmicrohttpd glue; see httpd.h. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "httpd.h"
#include "log.h"
#include "net.h"

struct sv_httpd {
	struct MHD_Daemon *mhd;
	sv_httpd_fn *fn;
	void *arg;
	size_t max_body;
	long timeout_ms;
	atomic_ulong too_large, too_slow;
	atomic_uint active; /* requests between headers and completion */
	char addr[80];
	char *cert, *key;
};

/* Per-request state kept in MHD's con_cls. */
struct pending {
	struct sv_buf body;
	int too_large;
	long start_ms; /* when the headers were complete */
};

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
	const char *cl;
	enum MHD_Result ret;

	(void)version;
	if (p == NULL) {
		p = calloc(1, sizeof(*p));
		if (p == NULL)
			return MHD_NO;
		sv_buf_init(&p->body);
		p->start_ms = now_ms();
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
		if (now_ms() - p->start_ms > d->timeout_ms) {
			/* MHD's timeout is for idle connections; a client
			 * that drips its body a byte at a time meets this
			 * whole-request deadline of the same length. MHD
			 * 0.9.75 cannot answer in the middle of a body, so
			 * the connection is closed without a 408. */
			atomic_fetch_add(&d->too_slow, 1);
			sv_log_debug("httpd: request body too slow, closed");
			return MHD_NO;
		}
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

	(void)c;
	(void)why;
	if (p == NULL)
		return;
	sv_buf_fini(&p->body);
	free(p);
	*con_cls = NULL;
	atomic_fetch_sub(&d->active, 1);
}

struct sv_httpd *
sv_httpd_start(
    const struct sv_httpd_opts *o, sv_httpd_fn *fn, void *arg, struct sv_err *e)
{
	struct sv_httpd *d;
	/* ITC lets sv_httpd_stop() quiesce the listening socket. */
	unsigned flags =
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
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
	fd = sv_net_listen(o->listen, e);
	if (fd < 0)
		goto fail;
	(void)sv_net_local_addr(fd, d->addr, sizeof(d->addr));
	if (o->threads <= 1)
		flags |= MHD_USE_POLL;
	d->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, d,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)(o->conn_limit != 0 ? o->conn_limit : 256),
	    MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)(o->timeout_s != 0 ? o->timeout_s : 10),
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)(o->conn_memory != 0 ? o->conn_memory : 32 * 1024),
	    MHD_OPTION_NOTIFY_COMPLETED, on_done, d, MHD_OPTION_EXTERNAL_LOGGER,
	    mhd_log, d, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned)(o->threads > 1 ? o->threads : 0),
	    d->cert != NULL ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
	    d->cert, MHD_OPTION_HTTPS_MEM_KEY, d->key, MHD_OPTION_END);
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
	long deadline;
	int fd;

	if (d == NULL)
		return;
	if (d->mhd != NULL) {
		/* Accept nothing new, and let requests whose handler ran
		 * send their answer: MHD_stop_daemon() alone would cut a
		 * queued 2xx, and the client would send the message again. */
		fd = MHD_quiesce_daemon(d->mhd);
		if (fd >= 0)
			close(fd);
		deadline = now_ms() + d->timeout_ms;
		while (atomic_load(&d->active) > 0 && now_ms() < deadline)
			nanosleep(&pause, NULL);
		MHD_stop_daemon(d->mhd);
	}
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
