/*
 * net: listening sockets from "ADDR:PORT" specs, the --port-file that
 * tells tests which port the kernel picked for :0, and fd helpers.
 */
#ifndef SV_NET_H
#define SV_NET_H

#include <stddef.h>

#include "err.h"

/*
 * Split "127.0.0.1:8080", "[::1]:0", "localhost:80" or ":8080" (all
 * addresses) into host (empty for "all") and port. EX_USAGE on a bad
 * spec. Returns 0 or -1.
 */
int sv_net_split_hostport(const char *spec, char *host, size_t hostlen,
    char *port, size_t portlen, struct sv_err *e);

/*
 * A listening TCP socket (SO_REUSEADDR, close-on-exec, backlog 512) on
 * spec; port 0 lets the kernel choose. IPv6 sockets are v6-only unless
 * the host is empty. Returns the fd, or -1 with e set (EX_USAGE for a bad
 * spec, EX_UNAVAILABLE when the address cannot be bound).
 */
int sv_net_listen(const char *spec, struct sv_err *e);

/*
 * The bound address of a socket as "HOST:PORT" ("[::1]:PORT" for IPv6),
 * and its port. Returns the port, or -1.
 */
int sv_net_local_addr(int fd, char *out, size_t outlen);

/* The same for the peer of a connected socket, for logs. */
int sv_net_peer_addr(int fd, char *out, size_t outlen);

/*
 * Write the bound address of fd to path (atomically: temp file and
 * rename), so a test waiting for the file reads it whole. 0 or -1.
 */
int sv_net_write_port_file(const char *path, int fd, struct sv_err *e);

/* O_NONBLOCK on or off. 0 or -1. */
int sv_net_set_nonblock(int fd, int on);

/*
 * Raise the soft limit on open descriptors to the hard one: a server of a
 * thousand connections needs more than the usual 1024. Best effort.
 */
void sv_net_raise_nofile(void);

/*
 * A TCP connection to host (a name, an IPv4 address, or an IPv6 address
 * without brackets) and port (a number or a service name), trying every
 * address getaddrinfo() gives (IPv6 and IPv4) in order until one
 * answers. timeout_ms bounds the whole attempt after name resolution
 * (each address gets a fair share of what is left, so one black hole
 * does not eat it all); 0 means 10 s. Name resolution itself is blocking
 * and bounded only by the resolver's own timeouts.
 *
 * Returns a connected socket that is non-blocking, close-on-exec and has
 * TCP_NODELAY set; or -1 with e set: EX_UNAVAILABLE (name not found,
 * refused, unreachable, timed out) or EX_OSERR (no socket). Thread-safe.
 */
int sv_net_connect(
    const char *host, const char *port, long timeout_ms, struct sv_err *e);

/*
 * Wait until fd is ready for `events` (POLLIN/POLLOUT) or timeout_ms
 * passes (-1: forever). Returns the revents (> 0), 0 on timeout, -1 on
 * error; EINTR is returned as -1 with errno EINTR so callers can check
 * their stop flag.
 */
int sv_net_wait(int fd, short events, long timeout_ms);

/* Milliseconds on CLOCK_MONOTONIC, for deadlines. */
long long sv_net_now_ms(void);

#endif
