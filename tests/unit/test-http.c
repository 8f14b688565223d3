/* Unit tests for lib/http against lib/httpd on loopback, and lib/net. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "httpd.h"
#include "log.h"
#include "net.h"
#include "unit.h"

static void
echo(void *arg, const struct sv_httpd_req *rq, struct sv_httpd_resp *rs)
{
	const char *q = sv_httpd_query(rq, "q");
	const char *h = sv_httpd_header(rq, "x-test");

	(void)arg;
	rs->status = strcmp(rq->path, "/missing") == 0 ? 404 : 200;
	rs->content_type = "text/plain";
	sv_buf_appendf(&rs->body, "%s %s q=%s h=%s len=%zu body=%s", rq->method,
	    rq->path, q != NULL ? q : "-", h != NULL ? h : "-", rq->body_len,
	    rq->body);
	sv_httpd_resp_header(rs, "Ratelimit-Reset", "1234");
}

static void
test_roundtrip(void)
{
	struct sv_httpd_opts o = { .listen = "127.0.0.1:0", .max_body = 1000 };
	const char *hdrs[] = { "X-Test: yes", NULL };
	struct sv_http_resp rs;
	struct sv_http_req rq;
	struct sv_httpd *d;
	struct sv_http *h;
	struct sv_err e;
	char url[128], v[32], *big;

	d = sv_httpd_start(&o, echo, NULL, &e);
	if (!CHECK(d != NULL, "httpd starts on port 0")) {
		printf("# %s\n", e.msg);
		return;
	}
	h = sv_http_new();
	sv_http_resp_init(&rs);
	memset(&rq, 0, sizeof(rq));
	(void)snprintf(
	    url, sizeof(url), "http://%s/p?q=a%%20b", sv_httpd_addr(d));
	rq.url = url;
	rq.headers = hdrs;
	rq.method = "POST";
	rq.body = "hello";
	rq.body_len = 5;
	CHECK(sv_http_do(h, &rq, &rs, &e) == 0 && rs.status == 200,
	    "POST answered 200");
	CHECK_STR(rs.body.data, "POST /p q=a b h=yes len=5 body=hello",
	    "method, path, query, header and body arrive");
	CHECK_STR(sv_http_resp_header(&rs, "ratelimit-reset", v, sizeof(v)),
	    "1234", "response header, case-insensitive");

	(void)snprintf(url, sizeof(url), "http://%s/missing", sv_httpd_addr(d));
	rq.method = "GET";
	rq.body = NULL;
	rq.headers = NULL;
	CHECK(sv_http_do(h, &rq, &rs, &e) == 0 && rs.status == 404,
	    "a 404 is a response, not a transport error");
	CHECK(sv_http_status_ex(404) == EX_PROTOCOL &&
	        sv_http_status_ex(401) == EX_NOPERM &&
	        sv_http_status_ex(503) == EX_UNAVAILABLE &&
	        sv_http_status_ex(204) == 0,
	    "status to exit code");

	big = malloc(5000);
	memset(big, 'x', 5000);
	rq.method = "POST";
	rq.body = big;
	rq.body_len = 5000;
	CHECK(sv_http_do(h, &rq, &rs, &e) == 0 && rs.status == 413,
	    "body over the cap: 413");
	free(big);

	sv_http_resp_fini(&rs);
	sv_httpd_stop(d);
	(void)snprintf(url, sizeof(url), "http://127.0.0.1:9/");
	rq.url = url;
	rq.body = NULL;
	rq.method = "GET";
	sv_http_resp_init(&rs);
	CHECK(sv_http_do(h, &rq, &rs, &e) < 0 && e.ex == EX_UNAVAILABLE,
	    "connection refused: EX_UNAVAILABLE");
	sv_http_resp_fini(&rs);
	sv_http_free(h);
}

static void
test_tls_verify(void)
{
	const char *dir = getenv("SV_CERTS");
	struct sv_httpd_opts o = { .listen = "127.0.0.1:0" };
	char cert[512], key[512], ca[512], url[128];
	struct sv_http_resp rs;
	struct sv_http_req rq;
	struct sv_httpd *d;
	struct sv_http *h;
	struct sv_err e;

	if (dir == NULL) {
		printf("ok %d - # SKIP SV_CERTS not set\n", ++unit_n);
		return;
	}
	(void)snprintf(cert, sizeof(cert), "%s/server.pem", dir);
	(void)snprintf(key, sizeof(key), "%s/server.key", dir);
	(void)snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	o.tls_cert = cert;
	o.tls_key = key;
	d = sv_httpd_start(&o, echo, NULL, &e);
	if (!CHECK(d != NULL, "httpd starts with TLS")) {
		printf("# %s\n", e.msg);
		return;
	}
	h = sv_http_new();
	sv_http_resp_init(&rs);
	memset(&rq, 0, sizeof(rq));
	(void)snprintf(url, sizeof(url), "https://localhost:%s/t",
	    strrchr(sv_httpd_addr(d), ':') + 1);
	rq.url = url;
	unsetenv("SSL_CERT_FILE");
	CHECK(sv_http_do(h, &rq, &rs, &e) < 0 && e.ex == EX_UNAVAILABLE,
	    "unknown CA refused");
	setenv("SSL_CERT_FILE", ca, 1);
	CHECK(sv_http_do(h, &rq, &rs, &e) == 0 && rs.status == 200,
	    "SSL_CERT_FILE trusted by the HTTP client");
	sv_http_resp_fini(&rs);
	sv_http_free(h);
	sv_httpd_stop(d);
}

static void
test_net(void)
{
	char host[64], port[8];
	struct sv_err e;

	CHECK(sv_net_split_hostport("127.0.0.1:8080", host, sizeof(host), port,
	          sizeof(port), &e) == 0 &&
	        strcmp(host, "127.0.0.1") == 0 && strcmp(port, "8080") == 0,
	    "v4 host:port");
	CHECK(sv_net_split_hostport(
	          "[::1]:0", host, sizeof(host), port, sizeof(port), &e) == 0 &&
	        strcmp(host, "::1") == 0 && strcmp(port, "0") == 0,
	    "[v6]:port");
	CHECK(sv_net_split_hostport(
	          ":81", host, sizeof(host), port, sizeof(port), &e) == 0 &&
	        host[0] == '\0',
	    ":port means all addresses");
	CHECK(sv_net_split_hostport(
	          "::1:80", host, sizeof(host), port, sizeof(port), &e) < 0 &&
	        e.ex == EX_USAGE,
	    "bare v6 refused");
	CHECK(sv_net_split_hostport(
	          "h:99999", host, sizeof(host), port, sizeof(port), &e) < 0,
	    "port out of range");
	CHECK(sv_net_split_hostport(
	          "h:8x", host, sizeof(host), port, sizeof(port), &e) < 0,
	    "port not a number");
}

static void
test_reason(void)
{
	CHECK_STR(sv_http_reason(404), "Not Found", "reason phrase");
	CHECK_STR(
	    sv_http_reason(429), "Too Many Requests", "reason phrase 429");
	CHECK_STR(sv_http_reason(599), "", "no phrase for an unknown status");
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	sv_log_init("test-http");
	test_net();
	test_reason();
	test_roundtrip();
	test_tls_verify();
	return unit_done();
}
