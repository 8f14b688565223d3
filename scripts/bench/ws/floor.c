/*
 * floor: the least a WebSocket broadcast server can do, as a yardstick
 * for scripts/bench/ws: accept, answer every upgrade with a fixed 101,
 * and for each stdin line send one unmasked text frame to every client
 * with one send(2) each, in one thread. No HTTP parsing, no filters, no
 * queues, no pings: what is left is the kernel's cost of the sends, which
 * no server on this machine can beat single-threaded.
 *
 *   floor PORTFILE < lines
 *
 * Built and run by scripts/bench/ws/run; not one of the project's tools.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CLIENTS 65536

/* The answer to any key: the handshake is not what is measured. */
static const char answer[] =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

static int clients[MAX_CLIENTS];
static int nclients;

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void
broadcast(const char *line, size_t len)
{
	unsigned char frame[4 + 65535];
	size_t hl = 2;
	int i;

	/* the 16-bit length form only: longer lines are not benchmarked */
	if (len > 65535)
		return;
	frame[0] = 0x81;
	if (len < 126) {
		frame[1] = (unsigned char)len;
	} else {
		frame[1] = 126;
		frame[2] = (unsigned char)(len >> 8);
		frame[3] = (unsigned char)len;
		hl = 4;
	}
	memcpy(frame + hl, line, len);
	for (i = 0; i < nclients; i++)
		(void)!send(clients[i], frame, hl + len, MSG_NOSIGNAL);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event ev, evs[256];
	static char in[1 << 20];
	size_t have = 0;
	socklen_t sl = sizeof(sa);
	int lfd, ep, n, i, one = 1;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: floor PORTFILE\n");
		return 2;
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 4096) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
		die("listen");
	if ((f = fopen(argv[1], "w")) == NULL)
		die(argv[1]);
	fprintf(f, "127.0.0.1:%u\n", ntohs(sa.sin_port));
	fclose(f);
	if ((ep = epoll_create1(0)) < 0)
		die("epoll");
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.fd = 0;
	epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == lfd) {
				int c = accept(lfd, NULL, NULL);
				char req[4096];

				if (c < 0 || nclients == MAX_CLIENTS)
					continue;
				/* the request arrives whole on loopback */
				(void)!read(c, req, sizeof(req));
				(void)!write(c, answer, sizeof(answer) - 1);
				setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one,
				    sizeof(one));
				clients[nclients++] = c;
			} else if (fd == 0) {
				ssize_t r =
				    read(0, in + have, sizeof(in) - have);
				char *p = in, *nl;

				if (r <= 0)
					return 0; /* end of input */
				have += (size_t)r;
				while ((nl = memchr(p, '\n',
				            have - (size_t)(p - in))) != NULL) {
					broadcast(p, (size_t)(nl - p));
					p = nl + 1;
				}
				have -= (size_t)(p - in);
				memmove(in, p, have);
			}
		}
	}
}
