/*
 * tls: TLS client connections on OpenSSL 3 for the WebSocket client
 * (and anything else that speaks TLS over a socket it owns).
 *
 * Certificates are always verified. The trusted CAs are OpenSSL's
 * default paths, which OpenSSL itself takes from SSL_CERT_FILE and
 * SSL_CERT_DIR when they are set (DESIGN.md 3), plus an optional extra
 * CA file (--cafile). TLS 1.2 is the minimum. The peer name is checked
 * with SSL_set1_host (or against IP SANs for an address), and sent as
 * SNI unless it is an address (RFC 6066 3).
 *
 * The socket is non-blocking: every call maps OpenSSL's WANT_READ and
 * WANT_WRITE to "would block" and says which direction to poll for.
 * An SSL_CTX is read-only once built and may be shared between threads;
 * a struct sv_tls belongs to one thread.
 */
#ifndef SV_TLS_H
#define SV_TLS_H

#include <sys/types.h>

#include <stddef.h>

#include "err.h"

struct ssl_ctx_st;
struct sv_tls;

/*
 * A client context: verification on, default verify paths, plus cafile
 * when not NULL (EX_NOINPUT if it cannot be loaded), TLS >= 1.2, ALPN
 * "http/1.1". Returns an SSL_CTX the caller frees with sv_tls_ctx_free(),
 * or NULL with e set (EX_NOINPUT, EX_SOFTWARE).
 */
struct ssl_ctx_st *sv_tls_client_ctx(const char *cafile, struct sv_err *e);

/* SSL_CTX_free() for callers that do not include OpenSSL. NULL: no-op. */
void sv_tls_ctx_free(struct ssl_ctx_st *ctx);

/*
 * A TLS client on the connected socket fd (not owned: the caller closes
 * it after sv_tls_free) for the peer name host. ctx is reference-counted
 * by OpenSSL, so the caller may free its own reference at once. Returns
 * NULL with e set (EX_OSERR) on failure.
 */
struct sv_tls *sv_tls_client_new(
    struct ssl_ctx_st *ctx, int fd, const char *host, struct sv_err *e);

/* Send close_notify (best effort, non-blocking) and free. NULL: no-op. */
void sv_tls_free(struct sv_tls *t);

/* Poll directions a would-block result asks for. */
#define SV_TLS_WANT_READ 1
#define SV_TLS_WANT_WRITE 2

/*
 * Drive the handshake. Returns 1 when done, 0 when it would block (poll
 * for *want), -1 with e set: EX_UNAVAILABLE for a failed handshake,
 * including a certificate that does not verify (the message says why).
 */
int sv_tls_handshake(struct sv_tls *t, int *want, struct sv_err *e);

/*
 * The blocking form for the connect phase: the handshake within
 * timeout_ms (EX_UNAVAILABLE on timeout). 0 or -1.
 */
int sv_tls_handshake_wait(struct sv_tls *t, long timeout_ms, struct sv_err *e);

/*
 * Read or write like read(2)/write(2): the byte count; 0 from read at a
 * clean close_notify or EOF; -1 with errno EAGAIN and *want set when it
 * would block (poll for *want, which may be the other direction); -1 with
 * errno EIO (or the socket's errno) for an error, with e set.
 */
ssize_t sv_tls_read(
    struct sv_tls *t, void *buf, size_t len, int *want, struct sv_err *e);
ssize_t sv_tls_write(
    struct sv_tls *t, const void *buf, size_t len, int *want, struct sv_err *e);

/* Bytes already decrypted and buffered inside OpenSSL (poll will not
 * report them). */
size_t sv_tls_pending(const struct sv_tls *t);

#endif
