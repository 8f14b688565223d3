/*
 * httpd: libmicrohttpd glue for our small HTTP servers (the webhook
 * receiver, the OAuth redirect listener, health endpoints).
 *
 * The server listens on an "ADDR:PORT" spec (port 0: the kernel picks,
 * and --port-file tells), accumulates each request body up to a cap (413
 * past it), and calls one handler per complete request from MHD's
 * thread(s). The handler fills a response; httpd sends it.
 *
 * Slow clients: every request must be complete (TLS handshake, headers
 * and body) within timeout_s of the connection's accept, or of the answer
 * to the previous request on a kept-alive connection; else a watchdog
 * thread shuts the connection down. MHD's own timeout is only an idle
 * timer, which a client sending a byte now and then never meets. There is
 * no HTTP upgrade here: a connection is always in a request or idle.
 */
#ifndef SV_HTTPD_H
#define SV_HTTPD_H

#include <limits.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

struct MHD_Connection;
struct sv_httpd;

struct sv_httpd_opts {
	const char *listen; /* "127.0.0.1:8081", "[::1]:0" */
	const char *port_file; /* write the bound address here, or NULL */
	size_t max_body; /* bytes; 0 means 64 KiB */
	unsigned conn_limit; /* 0 means 256 */
	unsigned per_ip_limit; /* connections from one client address; 0: a
	                          quarter of conn_limit, but none when
	                          listening on a loopback address (every
	                          client is then a local reverse proxy);
	                          SV_HTTPD_NO_LIMIT: none */
	unsigned timeout_s; /* idle timeout, and the deadline for a whole
	                       request (see above); 0 means 10 */
	unsigned threads; /* thread pool size; 0 or 1: one thread */
	size_t conn_memory; /* MHD's memory per connection (headers and read
	                       buffer, zeroed for each request); 0: 32 KiB */
	const char *tls_cert; /* PEM file paths for HTTPS, or NULL */
	const char *tls_key;
};

struct sv_httpd_req {
	const char *method;
	const char *path; /* without the query string */
	const char *body; /* NUL-terminated copy; len in body_len */
	size_t body_len;
	struct MHD_Connection *conn;
};

#define SV_HTTPD_NO_LIMIT UINT_MAX

#define SV_HTTPD_MAX_HEADERS 6

struct sv_httpd_resp {
	unsigned status; /* default 200 */
	const char *content_type; /* static string; default application/json */
	struct sv_buf body;
	/* extra headers: static or request-lived strings */
	const char *hname[SV_HTTPD_MAX_HEADERS];
	const char *hvalue[SV_HTTPD_MAX_HEADERS];
};

/* Called once per complete request, from an MHD thread. */
typedef void sv_httpd_fn(
    void *arg, const struct sv_httpd_req *rq, struct sv_httpd_resp *rs);

/*
 * Start serving. Returns the server, or NULL with e set (EX_USAGE for a
 * bad listen spec, EX_UNAVAILABLE when it cannot bind, EX_NOINPUT for an
 * unreadable TLS file, EX_SOFTWARE if MHD refuses to start).
 */
struct sv_httpd *sv_httpd_start(const struct sv_httpd_opts *o, sv_httpd_fn *fn,
    void *arg, struct sv_err *e);

/*
 * Stop accepting, wait (up to timeout_s) for requests in progress to be
 * answered, close every connection, free. NULL is a no-op.
 */
void sv_httpd_stop(struct sv_httpd *d);

/* The bound address ("127.0.0.1:8081"), for logs. */
const char *sv_httpd_addr(const struct sv_httpd *d);

/* The connection limits in force: in all, and per client address (0:
 * none), for logs. */
unsigned sv_httpd_conn_limit(const struct sv_httpd *d);
unsigned sv_httpd_per_ip_limit(const struct sv_httpd *d);

/*
 * Counters for health endpoints, all thread-safe. too_large: requests
 * answered 413 (body over max_body). too_slow: connections shut down
 * because a request the client had started sending was not complete in
 * time (libmicrohttpd 0.9.75 cannot answer before a request is complete,
 * so there is no 408); idle connections closed at the deadline are not
 * counted. connections: open now.
 */
unsigned long sv_httpd_count_too_large(const struct sv_httpd *d);
unsigned long sv_httpd_count_too_slow(const struct sv_httpd *d);
unsigned long sv_httpd_count_connections(const struct sv_httpd *d);

/* A request header (case-insensitive) or query argument, or NULL. */
const char *sv_httpd_header(const struct sv_httpd_req *rq, const char *name);
const char *sv_httpd_query(const struct sv_httpd_req *rq, const char *key);

/* Add a response header (name and value must outlive the handler). */
void sv_httpd_resp_header(
    struct sv_httpd_resp *rs, const char *name, const char *value);

/* Set status and a plain-text or JSON body in one call. */
void sv_httpd_resp_text(
    struct sv_httpd_resp *rs, unsigned status, const char *text);
void sv_httpd_resp_json(
    struct sv_httpd_resp *rs, unsigned status, const char *json);

#endif
