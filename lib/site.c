/* site: ws-broadcast's HTTP answers and admissions; see site.h. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "log.h"
#include "site.h"

static void
sha256(const void *p, size_t n, unsigned char md[32])
{
	unsigned int len = 32;

	if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1)
		memset(md, 0, 32);
}

void
sv_site_set_token(struct sv_site *s, const char *token)
{
	sha256(token, strlen(token), s->token_md);
	s->has_token = true;
}

void
sv_site_fini(struct sv_site *s)
{
	explicit_bzero(s->token_md, sizeof(s->token_md));
}

/* A file under the static root, or false: the built-in pages stand in
 * for the files the directory does not have. */
static bool
serve_static(const struct sv_site *s, struct sv_hconn *h, const char *target)
{
	const char *mime;
	off_t size;
	int fd;

	fd = sv_ws_static_open(s->static_root, target, &size, &mime);
	if (fd < 0)
		return false;
	sv_hconn_respond_file(h, 200, mime, fd, size);
	return true;
}

enum sv_site_route
sv_site_route(
    const struct sv_site *s, struct sv_hconn *h, const struct sv_ws_head *hd)
{
	const struct sv_site_page *pg;
	char path[64];
	size_t pl, i;

	if (sv_ws_is_upgrade(hd))
		return SV_SITE_UPGRADE;
	if (strcmp(hd->method, "GET") != 0 && strcmp(hd->method, "HEAD") != 0) {
		sv_hconn_respond_text(
		    h, 405, "GET only\n", "Allow: GET, HEAD\r\n");
		return SV_SITE_ANSWERED;
	}
	pl = strcspn(hd->target, "?#");
	if (pl < sizeof(path)) {
		memcpy(path, hd->target, pl);
		path[pl] = '\0';
	} else {
		path[0] = '\0';
	}
	sv_log_debug(
	    "%s %s", hd->method, path[0] != '\0' ? path : "(long path)");
	if (strcmp(path, "/healthz") == 0)
		return SV_SITE_HEALTH;
	if (s->static_root != NULL && serve_static(s, h, hd->target))
		return SV_SITE_ANSWERED;
	for (i = 0; i < s->npages; i++) {
		pg = &s->pages[i];
		if (strcmp(path, pg->path) != 0)
			continue;
		if (s->static_root != NULL && pg->file != NULL &&
		    serve_static(s, h, pg->file))
			return SV_SITE_ANSWERED;
		sv_hconn_respond(h, 200, pg->mime, pg->data, *pg->len, NULL);
		return SV_SITE_ANSWERED;
	}
	sv_hconn_respond_text(h, 404, "not found\n", NULL);
	return SV_SITE_ANSWERED;
}

/* The origin and the token; 0 or the status to answer. */
static unsigned
check_peer(const struct sv_site *s, const struct sv_ws_head *hd)
{
	unsigned char md[32];
	const char *origin;
	char val[1024];
	size_t i;
	int r;

	origin = sv_ws_head_get(hd, "Origin");
	if (s->norigins > 0 && origin != NULL) {
		for (i = 0; i < s->norigins; i++)
			if (strcasecmp(origin, s->origins[i]) == 0)
				break;
		if (i == s->norigins) {
			sv_log_info(
			    "refused a client from origin %.100s", origin);
			return 403;
		}
	}
	if (s->has_token) {
		r = sv_ws_query_get(hd->target, "token", val, sizeof(val));
		if (r == 1)
			sha256(val, strlen(val), md);
		explicit_bzero(val, sizeof(val));
		/* digests compared in constant time: length leaks nothing */
		if (r != 1 || CRYPTO_memcmp(md, s->token_md, 32) != 0) {
			sv_log_info("refused a client without the right token");
			return 401;
		}
	}
	return 0;
}

int
sv_site_admit(const struct sv_site *s, struct sv_hconn *h,
    const struct sv_ws_head *hd, char accept[SV_WS_ACCEPT_LEN],
    struct sv_bcast_filter *f, long *replay_n)
{
	struct sv_err e;
	unsigned st;

	f->types = f->channels = NULL;
	*replay_n = -1;
	st = (unsigned)sv_ws_server_check(hd, accept, &e);
	if (st != 0) {
		sv_log_debug("bad upgrade request: %s", e.msg);
		sv_hconn_respond_text(h, st,
		    st == 426 ? "WebSocket version 13 only\n" :
		                "bad WebSocket request\n",
		    st == 426 ? "Sec-WebSocket-Version: 13\r\n" : NULL);
		return -1;
	}
	if (s->stopping) {
		sv_hconn_respond_text(h, 503, "shutting down\n", NULL);
		return -1;
	}
	st = check_peer(s, hd);
	if (st == 0 &&
	    sv_bcast_filter_parse(f, hd->target, s->max_replay, replay_n, &e) <
	        0) {
		sv_log_debug("refused an upgrade: %s", e.msg);
		st = e.ex == EX_OSERR ? 503 : 400;
	}
	if (st != 0) {
		sv_hconn_respond_text(h, st,
		    st == 401     ? "token required\n" :
		        st == 403 ? "origin not allowed\n" :
		        st == 503 ? "out of memory\n" :
		                    "bad query\n",
		    NULL);
		return -1;
	}
	return 0;
}
