/*
 * loadclient: the client side of scripts/bench/ws, in one epoll process
 * so that the client is not what gets measured.
 *
 *   loadclient [-n CLIENTS] [-e EVENTS] [-r RATE] [-s SIZE] [-w WARMUP]
 *              PORTFILE CMD...
 *
 * Starts CMD (a broadcast server that reads event lines on stdin and
 * writes its ADDR:PORT to PORTFILE), measures its RSS, connects CLIENTS
 * WebSocket clients, measures its RSS again, then writes EVENTS lines of
 * about SIZE bytes to its stdin at RATE per second, after WARMUP more that
 * are sent the same way but not counted (the first sends on fresh
 * connections take the kernel's slow paths, in every server). For every event
 * it records the time from just before the write(2) to its receipt at the last
 * of the clients. The receipt time is the kernel's receive timestamp of the
 * client socket (SO_TIMESTAMPNS), so the time this process needs to get round
 * to reading 1000 sockets is not counted (without it, every server looks 4 ms
 * or more slower). Prints one JSON line:
 *
 *   {"p50_ms":..,"p99_ms":..,"max_ms":..,"rss_idle_kib":..,
 *    "rss_clients_kib":..,"rss_per_conn_bytes":..,"lost":..}
 *
 * Built and run by scripts/bench/ws/run; not part of the project's tools.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { C_CONNECTING, C_HEAD, C_OPEN, C_DEAD };

struct conn {
	int fd;
	int st;
	size_t len;
	char buf[16384];
};

/* CLOCK_REALTIME: the clock of SO_TIMESTAMPNS */
static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* read() with the kernel receive timestamp of the data in *ts_ns (left
 * alone when there is none). */
static ssize_t
read_ts(int fd, char *buf, size_t len, long long *ts_ns)
{
	char cbuf[CMSG_SPACE(sizeof(struct timespec))];
	struct iovec iov = { buf, len };
	struct msghdr m;
	struct cmsghdr *c;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cbuf;
	m.msg_controllen = sizeof(cbuf);
	n = recvmsg(fd, &m, 0);
	if (n <= 0)
		return n;
	for (c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			*ts_ns =
			    (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
		}
	}
	return n;
}

static long
rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static const char req_fmt[] =
    "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";

int
main(int argc, char **argv)
{
	int nclients = 1000, nevents = 400, rate = 50, size = 250, c;
	int warmup = 0, measured = 0;
	long long *sent_at, *last_at, t0, next, now, *lat;
	int *count, ep, in_pipe[2], i, open_n = 0, inflight = 0, started = 0;
	struct epoll_event ev, evs[512];
	struct sockaddr_in sa;
	char addr[64], req[512], line[2048];
	long rss0, rss1;
	struct conn *cs;
	struct rlimit rl;
	const char *pf;
	int lost = 0, done_events = 0, sent_events = 0;
	pid_t pid;
	FILE *f;

	while ((c = getopt(argc, argv, "+n:e:r:s:w:")) != -1) {
		switch (c) {
		case 'n':
			nclients = atoi(optarg);
			break;
		case 'e':
			nevents = atoi(optarg);
			break;
		case 'r':
			rate = atoi(optarg);
			break;
		case 's':
			size = atoi(optarg);
			break;
		case 'w':
			warmup = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr,
		    "usage: loadclient [-n N] [-e N] [-r N] [-s N] [-w N] PORTFILE CMD...\n");
		return 2;
	}
	pf = argv[optind];
	nevents += warmup; /* from here on: every event sent */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	unlink(pf);
	if (pipe2(in_pipe, O_CLOEXEC) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		dup2(in_pipe[0], 0);
		execvp(argv[optind + 1], argv + optind + 1);
		_exit(127);
	}
	close(in_pipe[0]);
	for (i = 0; i < 500; i++) {
		f = fopen(pf, "r");
		if (f != NULL && fgets(addr, sizeof(addr), f) != NULL) {
			fclose(f);
			break;
		}
		if (f != NULL)
			fclose(f);
		usleep(20000);
	}
	if (i == 500) {
		fprintf(stderr, "loadclient: no port file\n");
		kill(pid, SIGKILL);
		return 1;
	}
	addr[strcspn(addr, "\n")] = '\0';
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(strrchr(addr, ':') + 1));
	*strrchr(addr, ':') = '\0';
	inet_pton(AF_INET, addr, &sa.sin_addr);
	snprintf(req, sizeof(req), req_fmt, addr);

	usleep(1000000);
	rss0 = rss_kib(pid);

	cs = calloc((size_t)nclients, sizeof(*cs));
	sent_at = calloc((size_t)nevents, sizeof(*sent_at));
	last_at = calloc((size_t)nevents, sizeof(*last_at));
	count = calloc((size_t)nevents, sizeof(*count));
	lat = calloc((size_t)nevents, sizeof(*lat));
	ep = epoll_create1(0);
	if (cs == NULL || sent_at == NULL || last_at == NULL || count == NULL ||
	    lat == NULL || ep < 0)
		die("setup");

	/* connect, at most 64 handshakes in flight (the accept backlog) */
	while (open_n < nclients) {
		while (started < nclients && inflight < 64) {
			struct conn *k = &cs[started];
			int one = 1;

			k->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
			if (k->fd < 0)
				die("socket");
			setsockopt(
			    k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			setsockopt(k->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one,
			    sizeof(one));
			if (connect(k->fd, (struct sockaddr *)&sa, sizeof(sa)) <
			        0 &&
			    errno != EINPROGRESS)
				die("connect");
			k->st = C_CONNECTING;
			ev.events = EPOLLOUT;
			ev.data.ptr = k;
			epoll_ctl(ep, EPOLL_CTL_ADD, k->fd, &ev);
			started++;
			inflight++;
		}
		int n = epoll_wait(ep, evs, 512, 5000);

		if (n <= 0) {
			fprintf(stderr,
			    "loadclient: handshakes stalled at %d\n", open_n);
			kill(pid, SIGKILL);
			return 1;
		}
		for (i = 0; i < n; i++) {
			struct conn *k = evs[i].data.ptr;
			ssize_t r;

			if (k->st == C_CONNECTING) {
				if (write(k->fd, req, strlen(req)) !=
				    (ssize_t)strlen(req))
					die("handshake write");
				k->st = C_HEAD;
				ev.events = EPOLLIN;
				ev.data.ptr = k;
				epoll_ctl(ep, EPOLL_CTL_MOD, k->fd, &ev);
				continue;
			}
			r = read(
			    k->fd, k->buf + k->len, sizeof(k->buf) - k->len);
			if (r <= 0)
				die("handshake read");
			k->len += (size_t)r;
			char *end = memmem(k->buf, k->len, "\r\n\r\n", 4);

			if (end == NULL)
				continue;
			if (strncmp(k->buf, "HTTP/1.1 101", 12) != 0) {
				fprintf(stderr, "loadclient: no 101\n");
				return 1;
			}
			end += 4;
			k->len -= (size_t)(end - k->buf);
			memmove(k->buf, end, k->len);
			k->st = C_OPEN;
			open_n++;
			inflight--;
		}
	}
	usleep(1500000);
	rss1 = rss_kib(pid);

	/* events at RATE per second; receive in between */
	t0 = now_ns() + 100000000LL;
	next = t0;
	while (done_events < nevents) {
		now = now_ns();
		if (sent_events < nevents && now >= next) {
			int len = snprintf(line, sizeof(line),
			    "{\"id\":\"bench-%d-%lld\",\"type\":\"channel.follow\","
			    "\"version\":\"2\",\"source\":\"bench\","
			    "\"time\":\"2026-01-01T00:00:00.000Z\",\"event\":{\"seq\":%d,"
			    "\"user_login\":\"bench\",\"pad\":\"",
			    sent_events, (long long)pid, sent_events);
			while (len < size - 4 && len < (int)sizeof(line) - 8)
				line[len++] = 'x';
			len += snprintf(
			    line + len, sizeof(line) - (size_t)len, "\"}}\n");
			sent_at[sent_events] = now_ns();
			if (write(in_pipe[1], line, (size_t)len) != len)
				die("write to the server");
			sent_events++;
			next =
			    t0 + (long long)sent_events * 1000000000LL / rate;
			continue;
		}
		long long wait_ms =
		    sent_events < nevents ? (next - now) / 1000000 : 2000;
		int n =
		    epoll_wait(ep, evs, 512, wait_ms < 0 ? 0 : (int)wait_ms);

		if (n == 0 && sent_events == nevents)
			break; /* nothing more arrives: count the rest as lost
			        */
		for (i = 0; i < n; i++) {
			struct conn *k = evs[i].data.ptr;
			ssize_t r;
			size_t off = 0;

			now = now_ns();
			r = read_ts(k->fd, k->buf + k->len,
			    sizeof(k->buf) - k->len, &now);
			if (r <= 0) {
				k->st = C_DEAD;
				epoll_ctl(ep, EPOLL_CTL_DEL, k->fd, NULL);
				continue;
			}
			k->len += (size_t)r;
			for (;;) {
				unsigned char *b =
				    (unsigned char *)k->buf + off;
				size_t avail = k->len - off, hl = 2, pl;

				if (avail < 2)
					break;
				pl = b[1] & 0x7f;
				if (pl == 126) {
					if (avail < 4)
						break;
					pl = (size_t)b[2] << 8 | b[3];
					hl = 4;
				} else if (pl == 127) {
					fprintf(
					    stderr, "loadclient: huge frame\n");
					return 1;
				}
				if (avail < hl + pl)
					break;
				if ((b[0] & 0x0f) == 1) {
					char *s =
					    memmem(b + hl, pl, "\"seq\":", 6);
					int seq = s != NULL ? atoi(s + 6) : -1;

					if (seq >= 0 && seq < nevents) {
						/* kernel receive times do not
						 * come in the order epoll
						 * hands sockets over: keep
						 * the latest */
						if (now > last_at[seq])
							last_at[seq] = now;
						if (++count[seq] == nclients) {
							if (seq >= warmup)
								lat[measured++] =
								    last_at
								        [seq] -
								    sent_at
								        [seq];
							done_events++;
						}
					}
				} else if ((b[0] & 0x0f) == 9) {
					/* pong: masked, empty payload, zero
					 * mask */
					static const unsigned char pong[] = {
						0x8a, 0x80, 0, 0, 0, 0
					};

					(void)!write(k->fd, pong, sizeof(pong));
				}
				off += hl + pl;
			}
			memmove(k->buf, k->buf + off, k->len - off);
			k->len -= off;
		}
	}
	lost = nevents - done_events;
	close(in_pipe[1]); /* end of input: the server closes and exits */
	for (i = 0; i < 100; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			break;
		usleep(50000);
	}
	if (i == 100) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	qsort(lat, (size_t)measured, sizeof(*lat), cmp_ll);
	if (measured == 0) {
		printf("{\"lost\":%d}\n", lost);
		return 1;
	}
	printf("{\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
	       "\"rss_idle_kib\":%ld,\"rss_clients_kib\":%ld,"
	       "\"rss_per_conn_bytes\":%.0f,\"lost\":%d}\n",
	    lat[measured / 2] / 1e6, lat[(measured * 99) / 100] / 1e6,
	    lat[measured - 1] / 1e6, rss0, rss1,
	    (double)(rss1 - rss0) * 1024.0 / nclients, lost);
	return 0;
}
