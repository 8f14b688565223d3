/*
 * http: an HTTP client on libcurl for the Twitch id server, Helix and
 * webhook deliveries. One struct sv_http keeps one easy handle, so
 * consecutive requests reuse the connection.
 *
 * TLS is verified; SSL_CERT_FILE / SSL_CERT_DIR, which OpenSSL reads by
 * itself but libcurl does not, are passed to libcurl (DESIGN.md 3).
 * With SERVITOR_LOG=debug the request and response headers are logged,
 * with credentials masked by lib/log. Not thread-safe: one per thread.
 */
#ifndef SV_HTTP_H
#define SV_HTTP_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

struct sv_http;

struct sv_http_req {
	const char *method; /* "GET" (default), "POST", "DELETE", ... */
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value", or NULL */
	const char *body; /* request body, or NULL */
	size_t body_len;
	long timeout_ms; /* whole request; 0 means 15000 */
};

struct sv_http_resp {
	long status; /* HTTP status, 0 before a response */
	struct sv_buf body; /* response body, NUL-terminated */
	struct sv_buf headers; /* raw response header lines */
};

/* A client. NULL when out of memory or libcurl cannot start. */
struct sv_http *sv_http_new(void);
void sv_http_free(struct sv_http *h);

/*
 * Perform a request. Any HTTP status is a success here (the caller reads
 * rs->status); -1 means no response: e->ex is EX_UNAVAILABLE (DNS, TCP,
 * TLS, including a certificate that does not verify) or EX_TEMPFAIL
 * (timeout), with curl's message. rs must be initialised with
 * sv_http_resp_init(); its previous contents are replaced.
 */
int sv_http_do(struct sv_http *h, const struct sv_http_req *rq,
    struct sv_http_resp *rs, struct sv_err *e);

void sv_http_resp_init(struct sv_http_resp *rs);
void sv_http_resp_fini(struct sv_http_resp *rs);

/*
 * The value of response header `name` (case-insensitive; the last one if
 * repeated) copied into out. Returns out, or NULL if absent.
 */
const char *sv_http_resp_header(
    const struct sv_http_resp *rs, const char *name, char *out, size_t outlen);

/*
 * The exit code for an unsuccessful HTTP status: 401/403 EX_NOPERM,
 * 429 EX_TEMPFAIL, 5xx EX_UNAVAILABLE, other 4xx EX_PROTOCOL... 0 for 2xx.
 */
int sv_http_status_ex(long status);

/*
 * The reason phrase of a status (RFC 9110 15: "Not Found"), for the ones
 * the tools send or meet; "" for any other. Thread-safe.
 */
const char *sv_http_reason(long status);

/*
 * URL-encode s for a query string or form body, appended to b.
 * 0, or -1 when out of memory.
 */
int sv_http_urlencode(struct sv_buf *b, const char *s);

#endif
