/*
 * Unit tests for lib/hconn, driven over a socketpair: a head split over
 * reads, an answer from memory and one from a file, HEAD, a malformed
 * head, taking the socket over, and the deadlines.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hconn.h"
#include "net.h"
#include "unit.h"

struct seen {
	int calls;
	char target[128];
	char rest[64];
	int take; /* 0 answer, 1 take the socket, 2 answer 404 */
	int fd;
};

static void
on_head(void *arg, struct sv_hconn *h, struct sv_ws_head *hd, const char *rest,
    size_t rest_len)
{
	struct seen *s = arg;

	s->calls++;
	(void)snprintf(s->target, sizeof(s->target), "%s", hd->target);
	(void)snprintf(s->rest, sizeof(s->rest), "%.*s", (int)rest_len, rest);
	if (s->take == 1)
		s->fd = sv_hconn_take(h);
	else if (s->take == 2)
		sv_hconn_respond_text(h, 404, "not found\n", NULL);
	else
		sv_hconn_respond(
		    h, 200, "text/plain", "hello", 5, "X-Test: 1\r\n");
}

/* A connection on one end of a socketpair; the other end in *peer. */
static void
pair(struct sv_hconn *h, int *peer)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		perror("socketpair");
		exit(1);
	}
	(void)sv_net_set_nonblock(sv[0], 1);
	sv_hconn_init(h, sv[0], sv_net_now_ms());
	*peer = sv[1];
}

/* Drive h until it has written its answer; read it all from peer. */
static size_t
answer(struct sv_hconn *h, int peer, char *out, size_t n)
{
	size_t len = 0;
	ssize_t r;
	int i;

	for (i = 0; i < 8 && h->st == SV_HCONN_WRITE; i++)
		sv_hconn_io(h, POLLOUT, on_head, NULL);
	while (len + 1 < n && (r = read(peer, out + len, n - 1 - len)) > 0)
		len += (size_t)r;
	out[len] = '\0';
	return len;
}

static void
test_answer(void)
{
	struct seen s = { 0 };
	struct sv_hconn h;
	char buf[4096];
	int peer;

	pair(&h, &peer);
	CHECK(sv_hconn_events(&h) == POLLIN, "reading: waits for input");
	(void)!write(peer, "GET /a?b=1 HTTP/1.1\r\nHo", 23);
	sv_hconn_io(&h, POLLIN, on_head, &s);
	CHECK(s.calls == 0 && h.st == SV_HCONN_READ && h.len == 23,
	    "half a head: kept, no call yet");
	(void)!write(peer, "st: x\r\n\r\nextra", 14);
	sv_hconn_io(&h, POLLIN, on_head, &s);
	CHECK(s.calls == 1, "the handler is called once the head is there");
	CHECK_STR(s.target, "/a?b=1", "the target");
	CHECK_STR(s.rest, "extra", "the bytes after the head");
	CHECK(h.st == SV_HCONN_WRITE && sv_hconn_events(&h) == POLLOUT,
	    "answering: waits to write");
	(void)shutdown(peer, SHUT_WR);
	answer(&h, peer, buf, sizeof(buf));
	CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "status line");
	CHECK(strstr(buf, "Content-Length: 5\r\n") != NULL &&
	        strstr(buf, "Connection: close\r\n") != NULL &&
	        strstr(buf, "X-Test: 1\r\n") != NULL,
	    "length, close and the extra header");
	CHECK(strstr(buf, "\r\n\r\nhello") != NULL, "the body");
	CHECK(h.st == SV_HCONN_LINGER && sv_hconn_events(&h) == POLLIN,
	    "answered: lingers, reading");
	sv_hconn_io(&h, POLLIN, on_head, &s);
	CHECK(sv_hconn_done(&h) && h.fd < 0, "the peer's EOF ends it");
	sv_hconn_fini(&h);
	close(peer);
}

static void
test_head_and_file(void)
{
	struct seen s = { 0 };
	struct sv_hconn h;
	char buf[4096], path[] = "/tmp/test-hconn-XXXXXX";
	int peer, fd;

	pair(&h, &peer);
	(void)!write(peer, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", 28);
	sv_hconn_io(&h, POLLIN, on_head, &s);
	answer(&h, peer, buf, sizeof(buf));
	CHECK(strstr(buf, "Content-Length: 5\r\n") != NULL &&
	        strstr(buf, "hello") == NULL,
	    "HEAD: the length without the body");
	sv_hconn_fini(&h);
	close(peer);

	/* hconn remembers the method: no answer to HEAD has a body */
	pair(&h, &peer);
	s.take = 2;
	(void)!write(peer, "HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n", 32);
	sv_hconn_io(&h, POLLIN, on_head, &s);
	answer(&h, peer, buf, sizeof(buf));
	CHECK(strncmp(buf, "HTTP/1.1 404 ", 13) == 0 &&
	        strstr(buf, "Content-Length: 10\r\n") != NULL &&
	        strcmp(strstr(buf, "\r\n\r\n"), "\r\n\r\n") == 0,
	    "HEAD: a text answer (404) without its body");
	sv_hconn_fini(&h);
	close(peer);
	s.take = 0;

	fd = mkstemp(path);
	(void)!write(fd, "file body", 9);
	(void)lseek(fd, 0, SEEK_SET);
	unlink(path);
	pair(&h, &peer);
	sv_hconn_respond_file(&h, 200, "text/plain", fd, 9);
	answer(&h, peer, buf, sizeof(buf));
	CHECK(strstr(buf, "Content-Length: 9\r\n") != NULL &&
	        strstr(buf, "\r\n\r\nfile body") != NULL,
	    "a file body, by sendfile");
	sv_hconn_fini(&h);
	close(peer);
}

static void
test_bad_take_expire(void)
{
	struct seen s = { 0 };
	struct sv_hconn h;
	char buf[4096];
	int peer;

	pair(&h, &peer);
	(void)!write(peer, "BAD\r\n\r\n", 7);
	sv_hconn_io(&h, POLLIN, on_head, &s);
	answer(&h, peer, buf, sizeof(buf));
	CHECK(s.calls == 0 && strncmp(buf, "HTTP/1.1 400 ", 13) == 0,
	    "a malformed head: 400, no call");
	sv_hconn_fini(&h);
	close(peer);

	/* 431 for a head past SV_WS_MAX_HEAD, in one read or split */
	char *big = malloc(SV_WS_MAX_HEAD + 200);
	const char *st431 = "HTTP/1.1 431 Request Header Fields Too Large\r\n";

	memset(big, 'a', SV_WS_MAX_HEAD + 200);
	memcpy(big, "GET /", 5);
	pair(&h, &peer);
	(void)!write(peer, big, SV_WS_MAX_HEAD + 200);
	sv_hconn_io(&h, POLLIN, on_head, &s);
	answer(&h, peer, buf, sizeof(buf));
	CHECK(s.calls == 0 && strncmp(buf, st431, strlen(st431)) == 0,
	    "a head longer than SV_WS_MAX_HEAD: 431, no call");
	sv_hconn_fini(&h);
	close(peer);
	pair(&h, &peer);
	(void)!write(peer, big, SV_WS_MAX_HEAD - 100);
	sv_hconn_io(&h, POLLIN, on_head, &s);
	CHECK(h.st == SV_HCONN_READ, "most of SV_WS_MAX_HEAD: still reading");
	(void)!write(peer, big + SV_WS_MAX_HEAD - 100, 300);
	sv_hconn_io(&h, POLLIN, on_head, &s);
	answer(&h, peer, buf, sizeof(buf));
	CHECK(s.calls == 0 && strncmp(buf, st431, strlen(st431)) == 0,
	    "and past it in the next read: 431");
	sv_hconn_fini(&h);
	close(peer);
	/* a short head followed by many bytes (an upgrade's first frames)
	 * is not too long */
	memcpy(big, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 29);
	pair(&h, &peer);
	s.take = 1;
	s.fd = -1;
	(void)!write(peer, big, SV_WS_MAX_HEAD + 200);
	sv_hconn_io(&h, POLLIN, on_head, &s);
	CHECK(s.calls == 1 && strlen(s.rest) == sizeof(s.rest) - 1,
	    "a short head and 16 KiB after it: the handler's");
	close(s.fd);
	sv_hconn_fini(&h);
	close(peer);
	free(big);

	pair(&h, &peer);
	s.take = 1;
	s.fd = -1;
	(void)!write(peer, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 30);
	sv_hconn_io(&h, POLLIN, on_head, &s);
	CHECK(s.fd >= 0 && sv_hconn_done(&h) && h.fd < 0,
	    "taken: done, the socket is the caller's");
	sv_hconn_fini(&h);
	CHECK(write(s.fd, "x", 1) == 1, "fini leaves a taken socket open");
	close(s.fd);
	close(peer);

	pair(&h, &peer);
	CHECK(!sv_hconn_expire(&h, h.deadline - 1), "before the deadline");
	CHECK(sv_hconn_expire(&h, h.deadline) && sv_hconn_done(&h),
	    "at the deadline: closed");
	CHECK(read(peer, buf, sizeof(buf)) == 0, "the peer sees EOF");
	sv_hconn_fini(&h);
	close(peer);

	/* the status line's reason phrase, and "Error" for one unlisted */
	const char *st599 = "HTTP/1.1 599 Error\r\n";

	pair(&h, &peer);
	sv_hconn_respond_text(&h, 431, "too big", NULL);
	answer(&h, peer, buf, sizeof(buf));
	CHECK(strncmp(buf, st431, strlen(st431)) == 0, "status text");
	sv_hconn_fini(&h);
	close(peer);
	pair(&h, &peer);
	sv_hconn_respond_text(&h, 599, "odd", NULL);
	answer(&h, peer, buf, sizeof(buf));
	CHECK(strncmp(buf, st599, strlen(st599)) == 0, "unknown status text");
	sv_hconn_fini(&h);
	close(peer);
}

int
main(void)
{
	test_answer();
	test_head_and_file();
	test_bad_take_expire();
	return unit_done();
}
