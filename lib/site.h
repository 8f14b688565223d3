/*
 * site: what ws-broadcast answers over HTTP, on lib/hconn, and whom it
 * lets upgrade to a WebSocket (ws-broadcast(1)):
 *
 *   a WebSocket upgrade       SV_SITE_UPGRADE: sv_site_admit() it
 *   GET|HEAD /healthz         SV_SITE_HEALTH: the caller answers
 *   GET|HEAD a --static file  under the root, never outside it (a
 *                             page's file stands in for its path there)
 *   GET|HEAD a built-in page  from the caller's table, standing in for
 *                             the files a --static directory does not have
 *   any other path            404; other methods 405
 *
 * An upgrade is admitted when it is a valid RFC 6455 request (else 400,
 * or 426 with "Sec-WebSocket-Version: 13"), the server is not stopping
 * (503), its Origin is one of the allowed ones when any are set and it
 * sends one (403), it carries ?token= with the token when one is set
 * (401; compared as SHA-256 digests in constant time, so the length
 * leaks nothing), and its ?types=, ?channel= and ?replay= are well-formed
 * (400, lib/bcast; 503 when memory ran out reading them).
 *
 * No globals; I/O only through lib/hconn. Not thread-safe.
 */
#ifndef SV_SITE_H
#define SV_SITE_H

#include <stdbool.h>
#include <stddef.h>

#include "bcast.h"
#include "hconn.h"
#include "ws.h"

/* A built-in page (generated data: its length is a pointer so that a
 * static table can name it). */
struct sv_site_page {
	const char *path; /* "/dashboard" */
	const char *mime;
	const unsigned char *data;
	const size_t *len;
	const char *file; /* or NULL: what --static serves for path when it
	                     has no file of that name ("/dashboard.html") */
};

/* What the site serves and admits; the caller fills it and owns it. */
struct sv_site {
	const struct sv_site_page *pages;
	size_t npages;
	const char *static_root; /* a realpath(), or NULL: built-in pages */
	const char *const *origins; /* allowed Origins (exact, any case) */
	size_t norigins; /* 0: any */
	unsigned long max_replay; /* the largest ?replay= */
	bool stopping; /* set when shutting down: upgrades get 503 */
	bool has_token; /* set by sv_site_set_token() */
	unsigned char token_md[32];
};

/* Clients must present token from now on (only its digest is kept). */
void sv_site_set_token(struct sv_site *s, const char *token);

/* Wipe the token's digest. */
void sv_site_fini(struct sv_site *s);

enum sv_site_route {
	SV_SITE_ANSWERED, /* h has its answer */
	SV_SITE_HEALTH, /* GET or HEAD /healthz: the caller answers */
	SV_SITE_UPGRADE, /* a WebSocket upgrade: see sv_site_admit() */
};

/*
 * Route one request (h's complete head hd): answer it from the static
 * root or the pages, or with 404 or 405, or say what the caller must do.
 * (For HEAD, lib/hconn leaves every answer's body out.)
 */
enum sv_site_route sv_site_route(
    const struct sv_site *s, struct sv_hconn *h, const struct sv_ws_head *hd);

/*
 * Admit an upgrade request (SV_SITE_UPGRADE). Returns 0 with accept (for
 * sv_ws_server_new()), the client's filter f (owned: release with
 * sv_bcast_filter_fini()) and *replay_n (its ?replay=, -1 for none) set;
 * or -1 when refused, with h answered (400, 401, 403, 426 or 503).
 * Refusals for the origin or the token are logged at info level, a
 * request RFC 6455 refuses at debug level.
 */
int sv_site_admit(const struct sv_site *s, struct sv_hconn *h,
    const struct sv_ws_head *hd, char accept[SV_WS_ACCEPT_LEN],
    struct sv_bcast_filter *f, long *replay_n);

#endif
