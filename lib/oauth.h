/*
 * oauth: the OAuth endpoints of the Twitch id server (id.twitch.tv), as
 * twitch-protocols.md section 6 documents them: device code grant,
 * authorization code grant, refresh, client credentials, validate and
 * revoke. Stateless wire calls; the token store and the "when to
 * refresh" policy live in lib/token.
 *
 * Every string these functions return is a heap copy owned by the
 * result struct; the _fini functions wipe tokens before freeing them.
 * Tokens and the device code are registered with sv_log_add_secret()
 * as soon as they are parsed. Not thread-safe (the sv_http handle).
 */
#ifndef SV_OAUTH_H
#define SV_OAUTH_H

#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "http.h"

#define SV_OAUTH_DEFAULT_URL "https://id.twitch.tv"

/* 16 random bytes, base64url without padding, plus NUL. */
#define SV_OAUTH_STATE_LEN 23

/* The client: where the id server is and who we are. Borrowed strings. */
struct sv_oauth {
	const char *id_url; /* base URL without a trailing slash */
	const char *client_id;
	const char *client_secret; /* NULL for a public client */
	struct sv_http *http;
};

/* A token endpoint answer (section 6.3). */
struct sv_oauth_grant {
	char *access_token;
	char *refresh_token; /* NULL when none (client credentials) */
	char *scopes; /* space-separated, NULL when not given */
	long expires_in; /* seconds; 0 when not given */
};

/* A validate answer (section 6.7). login and user_id NULL for apps. */
struct sv_oauth_valid {
	char *client_id;
	char *login;
	char *user_id;
	char *scopes; /* space-separated; "" when none */
	long expires_in;
};

/* A device authorization (section 6.6). */
struct sv_oauth_device {
	char *device_code; /* a secret */
	char *user_code;
	char *verification_uri;
	long interval; /* seconds between polls; 5 if not given */
	long expires_in; /* seconds the code lives; 1800 if not given */
};

enum sv_oauth_poll {
	SV_OAUTH_GRANTED, /* *g filled */
	SV_OAUTH_PENDING, /* authorization_pending: poll again */
	SV_OAUTH_SLOW_DOWN, /* slow_down: add 5 s to the interval */
	SV_OAUTH_FAILED, /* e set: denied, expired, refused, unreachable */
};

void sv_oauth_grant_fini(struct sv_oauth_grant *g);
void sv_oauth_valid_fini(struct sv_oauth_valid *v);
void sv_oauth_device_fini(struct sv_oauth_device *d);

/*
 * Start the device code grant for `scopes` (space-separated). Returns 0,
 * or -1 with e set (EX_UNAVAILABLE unreachable or 5xx, EX_NOPERM when
 * the client id is refused, EX_PROTOCOL for an unreadable answer).
 */
int sv_oauth_device_start(const struct sv_oauth *o, const char *scopes,
    struct sv_oauth_device *d, struct sv_err *e);

/*
 * Poll the token endpoint once for a device code. The caller sleeps
 * d->interval seconds between polls, adds 5 s on SV_OAUTH_SLOW_DOWN
 * (RFC 8628 3.5), and stops at d->expires_in. "invalid device code"
 * (expired, used or denied) and "access_denied" are SV_OAUTH_FAILED with
 * EX_NOPERM.
 */
enum sv_oauth_poll sv_oauth_device_poll(const struct sv_oauth *o,
    const struct sv_oauth_device *d, const char *scopes,
    struct sv_oauth_grant *g, struct sv_err *e);

/*
 * Poll for a device code until the user acts: every d->interval seconds,
 * five more after each slow_down, at most d->expires_in seconds in all,
 * retrying three transport failures in a row. Sleeps through
 * sv_cli_sleep_ms(), so SIGINT/SIGTERM end the wait. Returns 0 with *g
 * filled, or -1: EX_NOPERM denied or refused, EX_TEMPFAIL expired
 * ("run login again") or interrupted, or what the id server gave.
 */
int sv_oauth_device_wait(const struct sv_oauth *o,
    const struct sv_oauth_device *d, const char *scopes,
    struct sv_oauth_grant *g, struct sv_err *e);

/*
 * The authorize URL of the authorization code grant (section 6.2),
 * appended to out. 0, or -1 when out of memory.
 */
int sv_oauth_authorize_url(const struct sv_oauth *o, const char *redirect_uri,
    const char *scopes, const char *state, struct sv_buf *out);

/* Fill state with SV_OAUTH_STATE_LEN - 1 random base64url characters. */
int sv_oauth_new_state(char state[SV_OAUTH_STATE_LEN]);

/*
 * Exchange an authorization code (needs the client secret). 0, or -1
 * with e set (EX_NOPERM when the code or the client is refused).
 */
int sv_oauth_code(const struct sv_oauth *o, const char *code,
    const char *redirect_uri, struct sv_oauth_grant *g, struct sv_err *e);

/*
 * Refresh a user token (the secret is sent only when the client has
 * one: public clients refresh without it). A refused refresh token (400
 * "Invalid refresh token", the OAuth invalid_grant) is -1 with
 * EX_NOPERM. The answer's refresh_token may be new: store it.
 */
int sv_oauth_refresh(const struct sv_oauth *o, const char *refresh_token,
    struct sv_oauth_grant *g, struct sv_err *e);

/* An app access token (client credentials; needs the secret). */
int sv_oauth_client_credentials(
    const struct sv_oauth *o, struct sv_oauth_grant *g, struct sv_err *e);

/*
 * Validate a token (GET /oauth2/validate, "Authorization: OAuth").
 * 0 and *v filled; -1 with EX_NOPERM when Twitch says it is invalid
 * (401), or another code when the id server cannot be asked.
 */
int sv_oauth_validate(const struct sv_oauth *o, const char *token,
    struct sv_oauth_valid *v, struct sv_err *e);

/*
 * Revoke a token. 0 on success; 1 when Twitch says the token was already
 * invalid (400 "Invalid token": nothing left to revoke); -1 with e set.
 */
int sv_oauth_revoke(
    const struct sv_oauth *o, const char *token, struct sv_err *e);

/*
 * Parsers of the id server's JSON answers, exported for the unit tests
 * and the fuzz harness. Each returns 0, or -1 with e->ex EX_PROTOCOL
 * (or EX_OSERR) when the body is not what the reference documents.
 */
int sv_oauth_parse_grant(
    const char *body, size_t len, struct sv_oauth_grant *g, struct sv_err *e);
int sv_oauth_parse_valid(
    const char *body, size_t len, struct sv_oauth_valid *v, struct sv_err *e);
int sv_oauth_parse_device(
    const char *body, size_t len, struct sv_oauth_device *d, struct sv_err *e);

/*
 * The "message" of an id server or Helix error body ({"status":..,
 * "message":..} or {"error":..,"status":..,"message":..}), copied into
 * out (always NUL-terminated; "" when there is none). Returns out.
 */
const char *sv_oauth_error_message(
    const char *body, size_t len, char *out, size_t outlen);

/*
 * Normalise a scope list given as "a,b c" (commas and/or spaces) into
 * "a b c", appended to out. 0, or -1 when out of memory.
 */
int sv_oauth_scopes_normalize(const char *in, struct sv_buf *out);

#endif
