/*
 * Unit tests for lib/ws: URLs, the HTTP head parser, the handshake
 * checks, query and path decoding, frames, and server sessions driven
 * over a socketpair (pings, close, a slow peer closed with 1008).
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "unit.h"
#include "ws.h"

static void
test_accept(void)
{
	char out[SV_WS_ACCEPT_LEN];

	/* RFC 6455 1.3 */
	sv_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
	CHECK_STR(
	    out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "accept key, RFC example");
}

static void
test_url(void)
{
	struct sv_ws_url u;
	struct sv_err e;

	CHECK(sv_ws_url_parse("ws://example.com/chat?x=1#frag", &u, &e) == 0,
	    "ws URL parses");
	CHECK(!u.tls, "ws is not TLS");
	CHECK_STR(u.host, "example.com", "host");
	CHECK_STR(u.port, "80", "default port 80");
	CHECK_STR(u.target, "/chat?x=1", "target without the fragment");
	CHECK_STR(u.hosthdr, "example.com", "Host without the default port");
	CHECK(sv_ws_url_parse("WSS://irc-ws.chat.twitch.tv:443", &u, &e) == 0,
	    "wss URL parses");
	CHECK(u.tls, "wss is TLS");
	CHECK_STR(u.target, "/", "empty path is /");
	CHECK_STR(u.hosthdr, "irc-ws.chat.twitch.tv", "Host without :443");
	CHECK(sv_ws_url_parse("ws://[::1]:8080?q", &u, &e) == 0, "IPv6 parses");
	CHECK_STR(u.host, "::1", "IPv6 host without brackets");
	CHECK_STR(u.target, "/?q", "query without a path");
	CHECK_STR(u.hosthdr, "[::1]:8080", "IPv6 Host header");
	CHECK(sv_ws_url_parse("http://x/", &u, &e) < 0 && e.ex == EX_USAGE,
	    "http:// refused");
	CHECK(sv_ws_url_parse("ws://u:p@x/", &u, &e) < 0, "user info refused");
	CHECK(sv_ws_url_parse("ws://x:0/", &u, &e) < 0, "port 0 refused");
	CHECK(sv_ws_url_parse("ws://x:65536/", &u, &e) < 0, "port too big");
	CHECK(sv_ws_url_parse("ws://x:80a/", &u, &e) < 0, "port not a number");
	CHECK(sv_ws_url_parse("ws:///path", &u, &e) < 0, "empty host");
	CHECK(sv_ws_url_parse("ws://x/a b", &u, &e) < 0, "space in path");
	CHECK(sv_ws_url_parse("ws://[::1/", &u, &e) < 0, "unclosed [");
	CHECK(sv_ws_url_parse("ws://ho$t/", &u, &e) < 0, "bad host character");
}

static long
parse(const char *s, bool request, struct sv_ws_head *h, char *buf)
{
	struct sv_err e;

	memcpy(buf, s, strlen(s) + 1);
	return sv_ws_head_parse(buf, strlen(s), request, h, &e);
}

static void
test_head(void)
{
	static char buf[SV_WS_MAX_HEAD * 2];
	struct sv_ws_head h;
	char accept[SV_WS_ACCEPT_LEN];
	struct sv_err e;
	const char *req =
	    "GET /x?types=a HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
	    "Connection: keep-alive, Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\nX-Pad:   spaced value  \r\n\r\nTAIL";
	long n;

	n = parse(req, true, &h, buf);
	CHECK(n == (long)strlen(req) - 4, "head length excludes what follows");
	CHECK_STR(h.method, "GET", "method");
	CHECK_STR(h.target, "/x?types=a", "target");
	CHECK(h.minor == 1, "HTTP/1.1");
	CHECK_STR(sv_ws_head_get(&h, "x-pad"), "spaced value",
	    "header lookup ignores case, value trimmed");
	CHECK(sv_ws_is_upgrade(&h), "an upgrade");
	CHECK(sv_ws_server_check(&h, accept, &e) == 0, "a valid upgrade");
	CHECK_STR(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "its accept key");

	CHECK(parse("GET / HTTP/1.1\r\nHost: h\r\n", true, &h, buf) == 0,
	    "incomplete head: 0");
	CHECK(parse("GET / HTTP/1.1\nHost: h\n\n", true, &h, buf) > 0,
	    "bare LF accepted");
	CHECK(parse("\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", true, &h, buf) > 0,
	    "a leading empty line is ignored");
	CHECK(parse("\x16\x03\x01\x02", true, &h, buf) < 0,
	    "TLS hello refused at once");
	CHECK(parse("hello there\r\n", true, &h, buf) < 0,
	    "a bad first line refused before the blank line");
	CHECK(parse("GET / HTTP/2.0\r\n\r\n", true, &h, buf) < 0,
	    "HTTP/2 refused");
	CHECK(parse("GET http://x/ HTTP/1.1\r\n\r\n", true, &h, buf) < 0,
	    "absolute-form refused");
	CHECK(parse("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", true, &h,
	          buf) < 0,
	    "obsolete folding refused");
	CHECK(parse("GET / HTTP/1.1\r\nA : b\r\n\r\n", true, &h, buf) < 0,
	    "space before the colon refused");
	CHECK(parse("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", true, &h, buf) < 0,
	    "stray CR refused");
	CHECK(parse("GET  / HTTP/1.1\r\n\r\n", true, &h, buf) < 0,
	    "double space refused");
	{
		char *big = malloc(SV_WS_MAX_HEAD + 100);
		size_t i;

		memcpy(big, "GET / HTTP/1.1\r\n", 16);
		for (i = 16; i < SV_WS_MAX_HEAD + 99; i++)
			big[i] = 'a';
		CHECK(sv_ws_head_parse(big, SV_WS_MAX_HEAD + 99, true, &h, &e) <
		        0,
		    "an endless head is refused");
		free(big);
	}
	{
		char many[4096];
		size_t o = 0;
		int i;

		o += (size_t)snprintf(many, sizeof(many), "GET / HTTP/1.1\r\n");
		for (i = 0; i < SV_WS_MAX_HEADERS + 1; i++)
			o += (size_t)snprintf(
			    many + o, sizeof(many) - o, "H%d: v\r\n", i);
		o += (size_t)snprintf(many + o, sizeof(many) - o, "\r\n");
		CHECK(sv_ws_head_parse(many, o, true, &h, &e) < 0,
		    "too many headers refused");
	}
	CHECK(
	    parse(
	        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
	        false, &h, buf) > 0,
	    "a response parses");
	CHECK(h.status == 101, "status 101");
	CHECK_STR(h.reason, "Switching Protocols", "reason");
	CHECK(parse("HTTP/1.1 404\r\n\r\n", false, &h, buf) > 0 &&
	        h.status == 404,
	    "a response without a reason");
	CHECK(parse("HTTP/1.1 1O1 x\r\n\r\n", false, &h, buf) < 0,
	    "a bad status refused");

	parse(
	    "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
	    true, &h, buf);
	CHECK(sv_ws_server_check(&h, accept, &e) == 400, "no key: 400");
	parse(
	    "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\n\r\n",
	    true, &h, buf);
	CHECK(sv_ws_server_check(&h, accept, &e) == 400, "short key: 400");
	parse(
	    "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
	    true, &h, buf);
	CHECK(sv_ws_server_check(&h, accept, &e) == 426, "version 8: 426");
	parse("POST / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", true,
	    &h, buf);
	CHECK(sv_ws_server_check(&h, accept, &e) == 405, "POST: 405");
	parse(
	    "GET / HTTP/1.1\r\nHost: h\r\nHost: i\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	    true, &h, buf);
	CHECK(sv_ws_server_check(&h, accept, &e) == 400, "two Hosts: 400");
	parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n", true, &h, buf);
	CHECK(!sv_ws_is_upgrade(&h), "a plain GET is no upgrade");

	CHECK(sv_ws_token_in("keep-alive, Upgrade", "upgrade"), "token found");
	CHECK(!sv_ws_token_in("keep-alive, Upgraded", "upgrade"),
	    "no prefix match");
	CHECK(sv_ws_token_in(" websocket ", "WebSocket"), "spaces and case");
	CHECK(!sv_ws_token_in(NULL, "x"), "NULL list");
}

static void
test_query_path(void)
{
	char out[64];

	CHECK(sv_ws_query_get(
	          "/?a=1&token=x%2By+z", "token", out, sizeof(out)) == 1,
	    "query value found");
	CHECK_STR(out, "x+y z", "%-decoding and + as space");
	CHECK(sv_ws_query_get("/?a=1", "token", out, sizeof(out)) == 0,
	    "absent key");
	CHECK(sv_ws_query_get("/", "a", out, sizeof(out)) == 0, "no query");
	CHECK(sv_ws_query_get("/?a", "a", out, sizeof(out)) == 1 &&
	        out[0] == '\0',
	    "key without a value");
	CHECK(sv_ws_query_get("/?a=%zz", "a", out, sizeof(out)) < 0,
	    "bad escape");
	CHECK(sv_ws_query_get("/?a=%00", "a", out, sizeof(out)) < 0, "NUL");
	CHECK(sv_ws_query_get("/?a=%4", "a", out, sizeof(out)) < 0,
	    "truncated escape");
	CHECK(sv_ws_query_get("/?t%79pes=b", "types", out, sizeof(out)) == 1,
	    "encoded key");

	CHECK(sv_ws_safe_path("/", out, sizeof(out)) == 0 && out[0] == '\0',
	    "/ is the root");
	CHECK(sv_ws_safe_path("/a/b.css?x", out, sizeof(out)) == 0, "a file");
	CHECK_STR(out, "a/b.css", "relative, without the query");
	CHECK(sv_ws_safe_path("/dir/", out, sizeof(out)) == 0, "a directory");
	CHECK(sv_ws_safe_path("/%61%20b", out, sizeof(out)) == 0, "decoded");
	CHECK_STR(out, "a b", "decoded path");
	CHECK(sv_ws_safe_path("/../x", out, sizeof(out)) < 0, "..");
	CHECK(sv_ws_safe_path("/a/../../x", out, sizeof(out)) < 0, "a/../..");
	CHECK(sv_ws_safe_path("/%2e%2e/x", out, sizeof(out)) < 0, "encoded ..");
	CHECK(sv_ws_safe_path("/a%2f..%2fx", out, sizeof(out)) < 0,
	    "encoded slashes and ..");
	CHECK(sv_ws_safe_path("//etc/passwd", out, sizeof(out)) < 0, "//");
	CHECK(sv_ws_safe_path("/./x", out, sizeof(out)) < 0, ".");
	CHECK(sv_ws_safe_path("/a\\b", out, sizeof(out)) < 0, "backslash");
	CHECK(sv_ws_safe_path("/%00", out, sizeof(out)) < 0, "NUL");
	CHECK(sv_ws_safe_path("x", out, sizeof(out)) < 0, "not absolute");
}

static void
put(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
}

static void
test_static(void)
{
	char tmp[] = "/tmp/sv-unit-ws-XXXXXX", root[PATH_MAX], p[PATH_MAX];
	const char *mime = NULL;
	off_t size = 0;
	int fd;

	if (mkdtemp(tmp) == NULL)
		abort();
	(void)snprintf(p, sizeof(p), "%s/www", tmp);
	mkdir(p, 0700);
	(void)snprintf(p, sizeof(p), "%s/www/sub", tmp);
	mkdir(p, 0700);
	(void)snprintf(p, sizeof(p), "%s/www/sub/deeper", tmp);
	mkdir(p, 0700);
	put(tmp, "secret.txt", "SECRET");
	put(tmp, "www/index.html", "<p>hi</p>");
	put(tmp, "www/sub/a.css", "body{}");
	put(tmp, "www/sub/deeper/index.html", "deep");
	(void)snprintf(p, sizeof(p), "%s/www/out.txt", tmp);
	if (symlink("../secret.txt", p) < 0)
		abort();
	(void)snprintf(p, sizeof(p), "%s/www/in.css", tmp);
	if (symlink("sub/a.css", p) < 0)
		abort();
	(void)snprintf(p, sizeof(p), "%s/www", tmp);
	if (realpath(p, root) == NULL)
		abort();

	fd = sv_ws_static_open(root, "/", &size, &mime);
	CHECK(fd >= 0 && size == 9, "/ is index.html");
	CHECK_STR(mime, "text/html; charset=utf-8", "HTML type");
	close(fd);
	fd = sv_ws_static_open(root, "/sub/a.css?v=2", &size, &mime);
	CHECK(fd >= 0 && size == 6, "a file with a query");
	CHECK_STR(mime, "text/css; charset=utf-8", "CSS type");
	close(fd);
	fd = sv_ws_static_open(root, "/sub/deeper", &size, &mime);
	CHECK(fd >= 0 && size == 4, "a directory without the slash");
	close(fd);
	fd = sv_ws_static_open(root, "/in.css", &size, &mime);
	CHECK(fd >= 0, "a link that stays inside");
	close(fd);
	CHECK(sv_ws_static_open(root, "/out.txt", &size, &mime) < 0,
	    "a link that leads out");
	CHECK(
	    sv_ws_static_open(root, "/../secret.txt", &size, &mime) < 0, "..");
	CHECK(sv_ws_static_open(root, "/%2e%2e/secret.txt", &size, &mime) < 0,
	    "encoded ..");
	CHECK(sv_ws_static_open(root, "/sub/", &size, &mime) < 0,
	    "a directory without index.html");
	CHECK(sv_ws_static_open(root, "/nope", &size, &mime) < 0, "missing");
	fd = sv_ws_static_open("/", "/etc/hostname", &size, &mime);
	CHECK(fd >= 0 || errno != 0, "root / works (if the file exists)");
	if (fd >= 0)
		close(fd);
	{
		static const char *const made[] = { "www/in.css", "www/out.txt",
			"www/sub/deeper/index.html", "www/sub/a.css",
			"www/index.html", "secret.txt", "www/sub/deeper",
			"www/sub", "www", NULL };
		size_t i;

		for (i = 0; made[i] != NULL; i++) {
			(void)snprintf(p, sizeof(p), "%s/%s", tmp, made[i]);
			if (unlink(p) < 0)
				(void)rmdir(p);
		}
		(void)rmdir(tmp);
	}
}

static void
test_frames(void)
{
	static char big[70000];
	struct sv_ws_frame *f;

	f = sv_ws_frame_new(SV_WS_TEXT, "hi", 2);
	CHECK(f != NULL && sv_ws_frame_size(f) == 4, "2-byte header");
	sv_ws_frame_unref(f);
	f = sv_ws_frame_new(SV_WS_TEXT, big, 125);
	CHECK(sv_ws_frame_size(f) == 127, "125 bytes: 2-byte header");
	sv_ws_frame_unref(f);
	f = sv_ws_frame_new(SV_WS_BINARY, big, 126);
	CHECK(sv_ws_frame_size(f) == 130, "126 bytes: 4-byte header");
	sv_ws_frame_unref(f);
	f = sv_ws_frame_new(SV_WS_BINARY, big, 65536);
	CHECK(sv_ws_frame_size(f) == 65546, "65536 bytes: 10-byte header");
	sv_ws_frame_unref(f);
	CHECK(sv_ws_frame_new(SV_WS_PING, big, 126) == NULL,
	    "no ping over 125 bytes");
	CHECK(sv_ws_frame_new(8, "", 0) == NULL, "no close frames");
}

/* ---- sessions over a socketpair ---------------------------------------- */

/* Read whatever is there (waiting up to ms for the first byte). */
static size_t
drain(int fd, unsigned char *buf, size_t cap, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	size_t len = 0;
	ssize_t n;

	while (len < cap && poll(&p, 1, len == 0 ? ms : 50) > 0) {
		n = read(fd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	return len;
}

/* Frame i of an unmasked stream: its opcode, payload offset and length;
 * -1 when the stream does not hold a whole frame there. */
static int
frame_at(const unsigned char *b, size_t len, size_t *off, size_t *plen)
{
	size_t hl = 2, pl;
	int i;

	if (*off + 2 > len)
		return -1;
	pl = b[*off + 1] & 0x7f;
	if (pl == 126) {
		hl = 4;
		pl = (size_t)b[*off + 2] << 8 | b[*off + 3];
	} else if (pl == 127) {
		hl = 10;
		pl = 0;
		for (i = 0; i < 8; i++)
			pl = pl << 8 | b[*off + 2 + i];
	}
	if (*off + hl + pl > len)
		return -1;
	*plen = pl;
	i = b[*off] & 0x0f;
	*off += hl; /* payload starts here */
	return i;
}

static const char masked_ping[] = { (char)0x89, (char)0x82, 1, 2, 3, 4, 'h' ^ 1,
	'i' ^ 2 };
static const char masked_close[] = { (char)0x88, (char)0x82, 0, 0, 0, 0, 0x03,
	(char)0xe8 };

static void
test_session(void)
{
	static unsigned char buf[8 << 20];
	char accept[SV_WS_ACCEPT_LEN] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
	struct sv_ws_frame *f;
	struct sv_ws *ws;
	struct sv_err e;
	size_t len, off, pl;
	int sv[2], op, rc, i, frames;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	/* the ping arrives with the handshake: answered before anything */
	ws = sv_ws_server_new(
	    sv[0], accept, masked_ping, sizeof(masked_ping), NULL, &e);
	CHECK(ws != NULL && sv_ws_pending(ws), "session with leftover input");
	rc = sv_ws_io(ws, 0, &e);
	CHECK(rc == 0, "io on the leftover ping");
	len = drain(sv[1], buf, sizeof(buf), 1000);
	CHECK(len > 12 && memcmp(buf, "HTTP/1.1 101 ", 13) == 0, "101 first");
	off = (size_t)((unsigned char *)strstr((char *)buf, "\r\n\r\n") - buf) +
	    4;
	op = frame_at(buf, len, &off, &pl);
	CHECK(op == 0xa && pl == 2 && memcmp(buf + off, "hi", 2) == 0,
	    "pong with the ping's payload");
	CHECK(sv_ws_rx_frames(ws) == 1, "one frame received");

	f = sv_ws_frame_new(SV_WS_TEXT, "event", 5);
	CHECK(sv_ws_send_frame(ws, f, &e) == 0, "shared frame sent");
	len = drain(sv[1], buf, sizeof(buf), 1000);
	off = 0;
	op = frame_at(buf, len, &off, &pl);
	CHECK(op == 1 && pl == 5 && memcmp(buf + off, "event", 5) == 0,
	    "text frame on the wire");
	sv_ws_frame_unref(f);

	/* the peer closes: echoed, finished cleanly */
	CHECK(write(sv[1], masked_close, sizeof(masked_close)) ==
	        (ssize_t)sizeof(masked_close),
	    "peer sends close");
	rc = sv_ws_io(ws, POLLIN, &e);
	CHECK(rc == 1, "clean end after the peer's close");
	CHECK(sv_ws_close_code(ws) == 1000, "peer's code recorded");
	CHECK(sv_ws_close_code_sent(ws) == 1000, "echoed 1000");
	len = drain(sv[1], buf, sizeof(buf), 1000);
	off = 0;
	CHECK(frame_at(buf, len, &off, &pl) == 8 && pl == 2 && buf[off] == 3 &&
	        buf[off + 1] == 0xe8,
	    "close echoed on the wire");
	sv_ws_free(ws);
	close(sv[1]);

	/* a slow peer: queue until full, discard, close with 1008; what
	 * reaches the peer is whole frames then the close */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	i = 4096;
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &i, sizeof(i));
	ws = sv_ws_server_new(sv[0], accept, NULL, 0, NULL, &e);
	memset(buf, 'x', 3000);
	f = sv_ws_frame_new(SV_WS_TEXT, buf, 3000);
	for (i = 0; i < 200 && sv_ws_queued(ws) < 100000; i++)
		(void)sv_ws_send_frame(ws, f, &e);
	sv_ws_frame_unref(f);
	CHECK(sv_ws_queued(ws) >= 100000, "a queue builds up");
	sv_ws_discard(ws);
	CHECK(sv_ws_queued(ws) < 3010, "discard keeps at most the frame begun");
	CHECK(sv_ws_close(ws, SV_WS_CLOSE_POLICY, "send queue full") == 0,
	    "close queued");
	CHECK(sv_ws_state(ws) == SV_WS_CLOSING, "closing");
	f = sv_ws_frame_new(SV_WS_TEXT, "late", 4);
	CHECK(sv_ws_send_frame(ws, f, &e) < 0, "no sending after close");
	sv_ws_frame_unref(f);
	len = 0;
	for (i = 0; i < 200; i++) {
		(void)sv_ws_io(ws, POLLOUT, &e);
		len += drain(sv[1], buf + len, sizeof(buf) - len, 10);
	}
	off = strstr((char *)buf, "\r\n\r\n") != NULL ?
	    (size_t)((unsigned char *)strstr((char *)buf, "\r\n\r\n") - buf) +
	        4 :
	    len;
	frames = 0;
	op = -1;
	while ((op = frame_at(buf, len, &off, &pl)) == 1) {
		frames++;
		off += pl;
	}
	CHECK(frames > 0, "whole text frames before the close");
	CHECK(op == 8 && pl >= 2 && buf[off] == 0x03 && buf[off + 1] == 0xf0,
	    "then a close with 1008");
	CHECK(op == 8 && off + pl == len, "and nothing after it");
	sv_ws_free(ws);
	close(sv[1]);
}

static void
count_msg(void *arg, struct sv_ws *ws, int op, const char *data, size_t len)
{
	(void)ws;
	if (op == SV_WS_TEXT && len == 2 && memcmp(data, "ok", 2) == 0)
		(*(int *)arg)++;
}

static void
test_poll_close_until(void)
{
	static const char masked_text[] = { (char)0x81, (char)0x82, 0, 0, 0, 0,
		'o', 'k' };
	char accept[SV_WS_ACCEPT_LEN] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
	struct sv_ws_server_opts so = { 0, count_msg, NULL };
	unsigned char buf[4096];
	struct sv_ws *ws[2];
	struct pollfd pfd[2];
	struct sv_err e;
	long long t0;
	int sv[2], sv2[2], got = 0;

	so.arg = &got;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv2) < 0)
		abort();
	ws[0] = sv_ws_server_new(sv[0], accept, NULL, 0, &so, &e);
	ws[1] = sv_ws_server_new(
	    sv2[0], accept, masked_text, sizeof(masked_text), &so, &e);
	t0 = sv_net_now_ms();
	CHECK(sv_ws_poll(ws, 2, pfd, 5000) >= 0 && sv_net_now_ms() - t0 < 1000,
	    "poll: no waiting while one has input buffered");
	CHECK(pfd[0].fd == sv[0] && pfd[1].fd == sv2[0] &&
	        pfd[0].events == sv_ws_events(ws[0]) && pfd[0].events != 0,
	    "poll: fds and events filled in");
	(void)drain(sv[1], buf, sizeof(buf), 100);
	(void)drain(sv2[1], buf, sizeof(buf), 100);

	/* a peer that never answers: back at the deadline, still closing */
	t0 = sv_net_now_ms();
	sv_ws_close_until(ws[0], SV_WS_CLOSE_NORMAL, t0 + 200);
	CHECK(
	    sv_net_now_ms() - t0 >= 200 && sv_ws_state(ws[0]) == SV_WS_CLOSING,
	    "close_until: a silent peer, until the deadline");
	/* a message and the close answer already there: delivered, done */
	CHECK(write(sv2[1], masked_close, sizeof(masked_close)) ==
	        (ssize_t)sizeof(masked_close),
	    "peer's close queued");
	t0 = sv_net_now_ms();
	sv_ws_close_until(ws[1], SV_WS_CLOSE_NORMAL, t0 + 5000);
	CHECK(sv_ws_state(ws[1]) == SV_WS_CLOSED && sv_net_now_ms() - t0 < 1000,
	    "close_until: done as soon as the handshake is");
	CHECK(got == 1, "close_until: messages meanwhile reach on_msg");
	sv_ws_free(ws[0]);
	sv_ws_free(ws[1]);
	close(sv[1]);
	close(sv2[1]);
}

int
main(void)
{
	sv_log_init("test-ws");
	sv_log_set_level(-1);
	test_accept();
	test_url();
	test_head();
	test_query_path();
	test_static();
	test_frames();
	test_session();
	test_poll_close_until();
	return unit_done();
}
