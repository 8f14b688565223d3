/*
 * Unit tests for lib/site: the routes (405, /healthz, built-in pages,
 * --static with the pages standing in, 404) and the admission of
 * upgrades (426, 503, origin, token, filters), answered over a
 * socketpair through lib/hconn.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"
#include "site.h"
#include "unit.h"

static const unsigned char page_data[] = "<p>built-in</p>";
static const size_t page_len = sizeof(page_data) - 1;
static const unsigned char json_data[] = "{}";
static const size_t json_len = 2;

static const struct sv_site_page pages[] = {
	{ .path = "/",
	    .mime = "text/html",
	    .data = page_data,
	    .len = &page_len },
	{ .path = "/dashboard",
	    .mime = "text/html",
	    .data = page_data,
	    .len = &page_len,
	    .file = "/dashboard.html" },
	{ .path = "/overlay.json",
	    .mime = "application/json",
	    .data = json_data,
	    .len = &json_len },
	{ .path = "/board",
	    .mime = "text/html",
	    .data = page_data,
	    .len = &page_len,
	    .file = "/dashboard.html" },
};

#define UPGRADE                             \
	"Host: x\r\nUpgrade: websocket\r\n" \
	"Connection: Upgrade\r\n"           \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

struct t {
	struct sv_hconn h;
	int peer;
	const struct sv_site *s;
	struct sv_bcast_filter *f; /* NULL: route, else admit */
	long *n;
	enum sv_site_route r;
	int rc;
};

/* lib/hconn's handler: route or admit the request. */
static void
on_head(void *arg, struct sv_hconn *h, struct sv_ws_head *hd, const char *rest,
    size_t rest_len)
{
	char accept[SV_WS_ACCEPT_LEN];
	struct t *t = arg;

	(void)rest;
	(void)rest_len;
	if (t->f == NULL)
		t->r = sv_site_route(t->s, h, hd);
	else
		t->rc = sv_site_admit(t->s, h, hd, accept, t->f, t->n);
}

/* A connection that reads req (sent whole) and hands it to on_head. */
static void
start(struct t *t, const char *req)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		perror("socketpair");
		exit(1);
	}
	(void)sv_net_set_nonblock(sv[0], 1);
	sv_hconn_init(&t->h, sv[0], sv_net_now_ms());
	t->peer = sv[1];
	t->rc = -2;
	if (write(t->peer, req, strlen(req)) != (ssize_t)strlen(req)) {
		perror("write");
		exit(1);
	}
	sv_hconn_io(&t->h, POLLIN, on_head, t);
	if (t->rc == -2 && t->f != NULL) {
		printf("# bad test request: %s\n", req);
		exit(1);
	}
}

/* The answer h wrote ("" when none), into out; ends the connection. */
static const char *
finish(struct t *t, char *out, size_t n)
{
	size_t len = 0;
	ssize_t r;
	int i;

	out[0] = '\0';
	for (i = 0; i < 8 && t->h.st == SV_HCONN_WRITE; i++)
		sv_hconn_io(&t->h, POLLOUT, NULL, NULL);
	if (t->h.st == SV_HCONN_LINGER)
		while (len + 1 < n &&
		    (r = read(t->peer, out + len, n - 1 - len)) > 0)
			len += (size_t)r;
	out[len] = '\0';
	sv_hconn_fini(&t->h);
	close(t->peer);
	return out;
}

/* Route req; *head: did hconn take it for a HEAD request? */
static enum sv_site_route
route(const struct sv_site *s, const char *req, char *out, size_t n, bool *head)
{
	struct t t = { .s = s };

	start(&t, req);
	*head = t.h.head;
	finish(&t, out, n);
	return t.r;
}

/* The body of the answer in out ("" when none). */
static const char *
body(const char *out)
{
	const char *p = strstr(out, "\r\n\r\n");

	return p != NULL ? p + 4 : "";
}

static void
test_routes(void)
{
	struct sv_site s = { .pages = pages, .npages = 4, .max_replay = 1024 };
	char out[4096], dir[] = "/tmp/test-site-XXXXXX";
	char root[PATH_MAX], path[PATH_MAX + 32];
	bool head;
	FILE *f;

	CHECK(route(&s, "POST / HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof(out),
	          &head) == SV_SITE_ANSWERED &&
	        strncmp(out, "HTTP/1.1 405 ", 13) == 0 &&
	        strstr(out, "Allow: GET, HEAD\r\n") != NULL,
	    "POST: 405 with Allow");
	CHECK(route(&s, "GET /healthz?x HTTP/1.1\r\nHost: x\r\n\r\n", out,
	          sizeof(out), &head) == SV_SITE_HEALTH &&
	        !head && out[0] == '\0',
	    "/healthz: the caller's");
	CHECK(route(&s, "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n", out,
	          sizeof(out), &head) == SV_SITE_HEALTH &&
	        head,
	    "HEAD /healthz: head only");
	route(
	    &s, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof(out), &head);
	CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0 &&
	        strstr(out, "Content-Length: 15\r\n") != NULL &&
	        *body(out) == '\0',
	    "HEAD /: the page's length, no body");
	route(&s, "HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof(out),
	    &head);
	CHECK(strncmp(out, "HTTP/1.1 404 ", 13) == 0 &&
	        strstr(out, "Content-Length: 10\r\n") != NULL &&
	        *body(out) == '\0',
	    "HEAD /nope: 404, no body");
	route(&s, "GET /dashboard?token=x HTTP/1.1\r\nHost: x\r\n\r\n", out,
	    sizeof(out), &head);
	CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0 &&
	        strstr(out, "\r\n\r\n<p>built-in</p>") != NULL,
	    "a built-in page, with a query");
	route(&s, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof(out),
	    &head);
	CHECK(strncmp(out, "HTTP/1.1 404 ", 13) == 0, "another path: 404");
	CHECK(route(&s, "GET / HTTP/1.1\r\n" UPGRADE "\r\n", out, sizeof(out),
	          &head) == SV_SITE_UPGRADE &&
	        out[0] == '\0',
	    "an upgrade: the caller admits it");

	if (mkdtemp(dir) == NULL || realpath(dir, root) == NULL)
		return;
	(void)snprintf(path, sizeof(path), "%s/index.html", root);
	f = fopen(path, "w");
	(void)fputs("<p>mine</p>", f);
	(void)fclose(f);
	(void)snprintf(path, sizeof(path), "%s/dashboard.html", root);
	f = fopen(path, "w");
	(void)fputs("<p>my dashboard</p>", f);
	(void)fclose(f);
	s.static_root = root;
	route(&s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof(out), &head);
	CHECK(strstr(out, "\r\n\r\n<p>mine</p>") != NULL,
	    "--static: the directory's index.html");
	route(
	    &s, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof(out), &head);
	CHECK(
	    strstr(out, "Content-Length: 11\r\n") != NULL && *body(out) == '\0',
	    "--static: HEAD, the file's length, no body");
	route(&s, "GET /dashboard?token=x HTTP/1.1\r\nHost: x\r\n\r\n", out,
	    sizeof(out), &head);
	CHECK(strstr(out, "\r\n\r\n<p>my dashboard</p>") != NULL,
	    "--static: /dashboard is its page's file, dashboard.html");
	route(&s, "GET /board HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof(out),
	    &head);
	CHECK(strstr(out, "\r\n\r\n<p>my dashboard</p>") != NULL,
	    "--static: any page's file, from the table");
	route(&s, "GET /overlay.json HTTP/1.1\r\nHost: x\r\n\r\n", out,
	    sizeof(out), &head);
	CHECK(strstr(out, "\r\n\r\n{}") != NULL,
	    "--static: a built-in page stands in for a missing file");
	route(&s, "GET /../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", out,
	    sizeof(out), &head);
	CHECK(strncmp(out, "HTTP/1.1 404 ", 13) == 0, "nothing outside it");
	unlink(path);
	(void)snprintf(path, sizeof(path), "%s/index.html", root);
	unlink(path);
	rmdir(root);
}

/* Admit req; the status answered (0 when admitted). */
static int
admit(const struct sv_site *s, const char *req, struct sv_bcast_filter *f,
    long *n, char *out, size_t outlen)
{
	struct t t = { .s = s, .f = f, .n = n };
	int rc;

	start(&t, req);
	rc = t.rc;
	finish(&t, out, outlen);
	if (rc == 0)
		return 0;
	return strncmp(out, "HTTP/1.1 ", 9) == 0 ? atoi(out + 9) : -1;
}

static void
test_admit(void)
{
	static const char *const origins[] = { "https://obs.example" };
	struct sv_site s = { .pages = pages, .npages = 4, .max_replay = 1024 };
	struct sv_bcast_filter f;
	char out[4096];
	long n;

	CHECK(admit(&s,
	          "GET /?types=follow&channel=Bob&replay=2 HTTP/1.1\r\n" UPGRADE
	          "Sec-WebSocket-Version: 13\r\n\r\n",
	          &f, &n, out, sizeof(out)) == 0,
	    "a valid upgrade is admitted");
	CHECK_STR(f.types, "channel.follow", "with its types");
	CHECK_STR(f.channels, "bob", "and its channel");
	CHECK(n == 2, "and its replay count");
	sv_bcast_filter_fini(&f);
	CHECK(
	    admit(&s,
	        "GET / HTTP/1.1\r\n" UPGRADE "Sec-WebSocket-Version: 8\r\n\r\n",
	        &f, &n, out, sizeof(out)) == 426 &&
	        strstr(out, "Sec-WebSocket-Version: 13\r\n") != NULL,
	    "another version: 426 naming 13");
	CHECK(admit(&s,
	          "GET /?replay=x HTTP/1.1\r\n" UPGRADE
	          "Sec-WebSocket-Version: 13\r\n\r\n",
	          &f, &n, out, sizeof(out)) == 400,
	    "a bad query: 400");
	s.origins = origins;
	s.norigins = 1;
	CHECK(admit(&s,
	          "GET / HTTP/1.1\r\n" UPGRADE "Sec-WebSocket-Version: 13\r\n"
	          "Origin: https://evil.example\r\n\r\n",
	          &f, &n, out, sizeof(out)) == 403,
	    "another origin: 403");
	CHECK(admit(&s,
	          "GET / HTTP/1.1\r\n" UPGRADE "Sec-WebSocket-Version: 13\r\n"
	          "Origin: HTTPS://OBS.example\r\n\r\n",
	          &f, &n, out, sizeof(out)) == 0,
	    "an allowed origin, any case");
	sv_bcast_filter_fini(&f);
	sv_site_set_token(&s, "s3cret");
	CHECK(admit(&s,
	          "GET / HTTP/1.1\r\n" UPGRADE
	          "Sec-WebSocket-Version: 13\r\n\r\n",
	          &f, &n, out, sizeof(out)) == 401,
	    "no token: 401");
	CHECK(admit(&s,
	          "GET /?token=s3cre HTTP/1.1\r\n" UPGRADE
	          "Sec-WebSocket-Version: 13\r\n\r\n",
	          &f, &n, out, sizeof(out)) == 401,
	    "a wrong token: 401");
	CHECK(admit(&s,
	          "GET /?token=s3cret HTTP/1.1\r\n" UPGRADE
	          "Sec-WebSocket-Version: 13\r\n\r\n",
	          &f, &n, out, sizeof(out)) == 0,
	    "the token: admitted");
	sv_bcast_filter_fini(&f);
	s.stopping = true;
	CHECK(admit(&s,
	          "GET /?token=s3cret HTTP/1.1\r\n" UPGRADE
	          "Sec-WebSocket-Version: 13\r\n\r\n",
	          &f, &n, out, sizeof(out)) == 503,
	    "stopping: 503");
	sv_site_fini(&s);
	CHECK(s.token_md[0] == 0 && s.token_md[31] == 0, "fini wipes");
}

int
main(void)
{
	test_routes();
	test_admit();
	return unit_done();
}
