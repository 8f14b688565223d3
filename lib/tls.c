/* tls: OpenSSL client connections; see tls.h. */
#include <sys/socket.h>

#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "net.h"
#include "tls.h"

struct sv_tls {
	SSL *ssl;
	int fd;
};

/* The last OpenSSL error as text (or what errno says), into e. */
static int
tls_err(struct sv_err *e, int ex, const char *what, int sslerr)
{
	unsigned long code = ERR_get_error();
	char buf[160];

	if (code != 0) {
		ERR_error_string_n(code, buf, sizeof(buf));
		ERR_clear_error();
		return sv_err_set(e, ex, "%s: %s", what, buf);
	}
	if (sslerr == SSL_ERROR_SYSCALL && errno != 0)
		return sv_err_set(e, ex, "%s: %s", what, strerror(errno));
	if (sslerr == SSL_ERROR_SYSCALL || sslerr == SSL_ERROR_ZERO_RETURN)
		return sv_err_set(
		    e, ex, "%s: connection closed by the peer", what);
	return sv_err_set(e, ex, "%s: TLS error %d", what, sslerr);
}

struct ssl_ctx_st *
sv_tls_client_ctx(const char *cafile, struct sv_err *e)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	SSL_CTX *ctx;

	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		tls_err(e, EX_SOFTWARE, "TLS context", 0);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* OpenSSL reads SSL_CERT_FILE / SSL_CERT_DIR here by itself. */
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		ERR_clear_error(); /* no system store: cafile may do */
	if (cafile != NULL &&
	    SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
		tls_err(e, EX_NOINPUT, cafile, 0);
		SSL_CTX_free(ctx);
		return NULL;
	}
	(void)SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
	SSL_CTX_set_mode(ctx,
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
	        SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
}

void
sv_tls_ctx_free(struct ssl_ctx_st *ctx)
{
	SSL_CTX_free(ctx);
}

struct sv_tls *
sv_tls_client_new(
    struct ssl_ctx_st *ctx, int fd, const char *host, struct sv_err *e)
{
	unsigned char addr[16];
	struct sv_tls *t;
	int is_ip;

	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		sv_err_set(e, EX_OSERR, "out of memory");
		return NULL;
	}
	t->fd = fd;
	t->ssl = SSL_new(ctx);
	if (t->ssl == NULL || SSL_set_fd(t->ssl, fd) != 1) {
		tls_err(e, EX_OSERR, "TLS session", 0);
		goto fail;
	}
	is_ip = inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1;
	if (is_ip) {
		/* an address is checked against the IP SANs, never sent as
		 * SNI (RFC 6066 3) */
		if (X509_VERIFY_PARAM_set1_ip_asc(
		        SSL_get0_param(t->ssl), host) != 1) {
			tls_err(e, EX_OSERR, "TLS peer address", 0);
			goto fail;
		}
	} else if (SSL_set_tlsext_host_name(t->ssl, host) != 1 ||
	    SSL_set1_host(t->ssl, host) != 1) {
		tls_err(e, EX_OSERR, "TLS peer name", 0);
		goto fail;
	}
	SSL_set_connect_state(t->ssl);
	return t;
fail:
	SSL_free(t->ssl);
	free(t);
	return NULL;
}

void
sv_tls_free(struct sv_tls *t)
{
	if (t == NULL)
		return;
	if (SSL_is_init_finished(t->ssl))
		(void)SSL_shutdown(t->ssl); /* one try, non-blocking */
	ERR_clear_error();
	SSL_free(t->ssl);
	free(t);
}

/* Map a failed SSL call: 0 for would-block (with *want), else -1. */
static int
would_block(struct sv_tls *t, int rc, int *want)
{
	switch (SSL_get_error(t->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		*want = SV_TLS_WANT_READ;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*want = SV_TLS_WANT_WRITE;
		return 0;
	default:
		return -1;
	}
}

int
sv_tls_handshake(struct sv_tls *t, int *want, struct sv_err *e)
{
	long vr;
	int rc, se;

	*want = 0;
	errno = 0;
	rc = SSL_do_handshake(t->ssl);
	if (rc == 1)
		return 1;
	if (would_block(t, rc, want) == 0)
		return 0;
	se = SSL_get_error(t->ssl, rc);
	vr = SSL_get_verify_result(t->ssl);
	if (vr != X509_V_OK) {
		ERR_clear_error();
		return sv_err_set(e, EX_UNAVAILABLE,
		    "TLS handshake: certificate verify failed: %s",
		    X509_verify_cert_error_string(vr));
	}
	return tls_err(e, EX_UNAVAILABLE, "TLS handshake", se);
}

int
sv_tls_handshake_wait(struct sv_tls *t, long timeout_ms, struct sv_err *e)
{
	long long end = sv_net_now_ms() + timeout_ms;
	int want, rc;

	for (;;) {
		rc = sv_tls_handshake(t, &want, e);
		if (rc != 0)
			return rc > 0 ? 0 : -1;
		rc = sv_net_wait(t->fd,
		    want == SV_TLS_WANT_READ ? POLLIN : POLLOUT,
		    end - sv_net_now_ms());
		if (rc == 0 || (rc < 0 && errno != EINTR))
			return sv_err_set(e, EX_UNAVAILABLE,
			    "TLS handshake: %s",
			    rc == 0 ? "timed out" : strerror(errno));
		if (sv_net_now_ms() >= end)
			return sv_err_set(
			    e, EX_UNAVAILABLE, "TLS handshake: timed out");
	}
}

ssize_t
sv_tls_read(
    struct sv_tls *t, void *buf, size_t len, int *want, struct sv_err *e)
{
	size_t got = 0;
	int rc, se;

	*want = 0;
	errno = 0;
	rc = SSL_read_ex(t->ssl, buf, len, &got);
	if (rc == 1)
		return (ssize_t)got;
	if (would_block(t, 0, want) == 0) {
		errno = EAGAIN;
		return -1;
	}
	se = SSL_get_error(t->ssl, rc);
	if (se == SSL_ERROR_ZERO_RETURN ||
	    (se == SSL_ERROR_SYSCALL && errno == 0 && ERR_peek_error() == 0)) {
		/* close_notify, or EOF without one: both end the stream;
		 * the WebSocket layer decides whether that was clean */
		ERR_clear_error();
		return 0;
	}
	tls_err(e, EX_UNAVAILABLE, "TLS read", se);
	if (errno == 0 || errno == EAGAIN)
		errno = EIO;
	return -1;
}

ssize_t
sv_tls_write(
    struct sv_tls *t, const void *buf, size_t len, int *want, struct sv_err *e)
{
	size_t put = 0;
	int rc, se;

	*want = 0;
	errno = 0;
	if (len == 0)
		return 0;
	rc = SSL_write_ex(t->ssl, buf, len, &put);
	if (rc == 1)
		return (ssize_t)put;
	if (would_block(t, 0, want) == 0) {
		errno = EAGAIN;
		return -1;
	}
	se = SSL_get_error(t->ssl, rc);
	tls_err(e, EX_UNAVAILABLE, "TLS write", se);
	if (errno == 0 || errno == EAGAIN)
		errno = EIO;
	return -1;
}

size_t
sv_tls_pending(const struct sv_tls *t)
{
	return (size_t)SSL_pending(t->ssl);
}
