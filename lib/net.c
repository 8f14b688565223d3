/* net: listening sockets and port files; see net.h. */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

int
sv_net_split_hostport(const char *spec, char *host, size_t hostlen, char *port,
    size_t portlen, struct sv_err *e)
{
	const char *colon, *h = spec, *end;
	size_t hl;

	if (spec == NULL || *spec == '\0')
		return sv_err_set(e, EX_USAGE, "empty address");
	if (*spec == '[') {
		end = strchr(spec, ']');
		if (end == NULL || end[1] != ':')
			return sv_err_set(
			    e, EX_USAGE, "'%s': expected [IPV6]:PORT", spec);
		h = spec + 1;
		hl = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL)
			return sv_err_set(
			    e, EX_USAGE, "'%s': expected ADDR:PORT", spec);
		if (strchr(spec, ':') != colon)
			return sv_err_set(e, EX_USAGE,
			    "'%s': write IPv6 addresses as [ADDR]:PORT", spec);
		hl = (size_t)(colon - spec);
	}
	if (hl >= hostlen || strlen(colon + 1) >= portlen || colon[1] == '\0' ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    strlen(colon + 1) > 5)
		return sv_err_set(e, EX_USAGE, "'%s': bad port", spec);
	memcpy(host, h, hl);
	host[hl] = '\0';
	(void)snprintf(port, portlen, "%s", colon + 1);
	if (strtol(port, NULL, 10) > 65535)
		return sv_err_set(e, EX_USAGE, "'%s': port out of range", spec);
	return 0;
}

int
sv_net_listen(const char *spec, struct sv_err *e)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], port[8];
	int fd = -1, one = 1, rc, saved = 0;

	if (sv_net_split_hostport(
	        spec, host, sizeof(host), port, sizeof(port), e) < 0)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (*host == '\0')
		hints.ai_family = AF_INET6; /* dual stack for "all" */
	rc = getaddrinfo(*host != '\0' ? host : NULL, port, &hints, &res);
	if (rc != 0)
		return sv_err_set(
		    e, EX_USAGE, "listen %s: %s", spec, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		(void)setsockopt(
		    fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6) {
			int v6only = *host != '\0';

			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
			    sizeof(v6only));
		}
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 512) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return sv_err_set(
		    e, EX_UNAVAILABLE, "listen %s: %s", spec, strerror(saved));
	return fd;
}

/* "HOST:PORT" of an address ("[::1]:PORT" for IPv6); the port, or -1. */
static int
format_addr(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	char h[INET6_ADDRSTRLEN];
	int port;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, h, sizeof(h));
		port = ntohs(s4->sin_port);
		(void)snprintf(out, outlen, "%s:%d", h, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof(h));
		port = ntohs(s6->sin6_port);
		(void)snprintf(out, outlen, "[%s]:%d", h, port);
	} else {
		return -1;
	}
	return port;
}

int
sv_net_local_addr(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -1;
	return format_addr(&ss, out, outlen);
}

int
sv_net_peer_addr(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -1;
	return format_addr(&ss, out, outlen);
}

int
sv_net_write_port_file(const char *path, int fd, struct sv_err *e)
{
	char addr[INET6_ADDRSTRLEN + 16], tmp[4096];
	FILE *f;

	if (sv_net_local_addr(fd, addr, sizeof(addr)) < 0)
		return sv_err_set(
		    e, EX_OSERR, "getsockname: %s", strerror(errno));
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return sv_err_set(e, EX_USAGE, "port file path too long");
	f = fopen(tmp, "w");
	if (f == NULL)
		return sv_err_set(
		    e, EX_CANTCREAT, "%s: %s", tmp, strerror(errno));
	fprintf(f, "%s\n", addr);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		(void)unlink(tmp);
		return sv_err_set(e, EX_IOERR, "%s: %s", path, strerror(errno));
	}
	return 0;
}

int
sv_net_set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl);
}

void
sv_net_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

long long
sv_net_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
sv_net_wait(int fd, short events, long timeout_ms)
{
	struct pollfd p;
	int rc;

	p.fd = fd;
	p.events = events;
	p.revents = 0;
	if (timeout_ms > INT32_MAX)
		timeout_ms = INT32_MAX;
	rc = poll(&p, 1, timeout_ms < 0 ? -1 : (int)timeout_ms);
	if (rc <= 0)
		return rc;
	return p.revents != 0 ? p.revents : POLLERR;
}

/* One non-blocking connect to ai within timeout_ms: the fd, or -1 with
 * errno set (ETIMEDOUT when the time ran out). */
static int
connect_one(const struct addrinfo *ai, long timeout_ms)
{
	int fd, err = 0, rc;
	socklen_t el = sizeof(err);
	long long end;

	fd = socket(ai->ai_family,
	    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	end = sv_net_now_ms() + timeout_ms;
	for (;;) {
		rc = sv_net_wait(fd, POLLOUT, end - sv_net_now_ms());
		if (rc > 0)
			break;
		if (rc == 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (errno != EINTR)
			goto fail;
		if (sv_net_now_ms() >= end) {
			errno = ETIMEDOUT;
			goto fail;
		}
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		goto fail;
	if (err != 0) {
		errno = err;
		goto fail;
	}
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

int
sv_net_connect(
    const char *host, const char *port, long timeout_ms, struct sv_err *e)
{
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, rc, one = 1, saved = ETIMEDOUT;
	unsigned left = 0;
	long long end;
	long share;

	if (timeout_ms <= 0)
		timeout_ms = 10000;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc == EAI_NONAME) {
		/* AI_ADDRCONFIG hides ::1 on hosts with only loopback v6 */
		hints.ai_flags = 0;
		rc = getaddrinfo(host, port, &hints, &res);
	}
	if (rc != 0)
		return sv_err_set(e, EX_UNAVAILABLE, "connect %s port %s: %s",
		    host, port,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next)
		left++;
	end = sv_net_now_ms() + timeout_ms;
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next, left--) {
		share = (long)(end - sv_net_now_ms());
		if (share <= 0)
			break;
		/* a fair share, but at least 1 s when there is that much */
		if (left > 1 && share / (long)left > 1000)
			share /= (long)left;
		else if (left > 1 && share > 1000)
			share = 1000;
		fd = connect_one(ai, share);
		if (fd < 0)
			saved = errno;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return sv_err_set(e,
		    saved == EMFILE || saved == ENFILE || saved == ENOMEM ||
		            saved == ENOBUFS ?
		        EX_OSERR :
		        EX_UNAVAILABLE,
		    "connect %s port %s: %s", host, port, strerror(saved));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}
