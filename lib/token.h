/*
 * token: the one call every tool uses to get a valid Twitch access token.
 *
 * A context is made once from the environment. sv_token_get() then
 * returns a token that works: the one in TWITCH_TOKEN / TWITCH_APP_TOKEN
 * when set (used as given, never refreshed), else the one in the token
 * store (lib/tokenstore, DESIGN.md 3). It validates the token with the id
 * server on first use and then at least hourly (Twitch requires it),
 * (SERVITOR_VALIDATE_SECONDS shortens that interval), refreshes a user
 * token before it expires or after a 401, gets a new
 * app token by client credentials when a client secret is configured,
 * and writes rotated refresh tokens back to the store under its lock,
 * so two processes refreshing at once both end up with a working token.
 *
 *	struct sv_err e;
 *	struct sv_token *tk = sv_token_new(&e);   // reads the environment
 *	const char *tok;
 *
 *	if (tk == NULL)
 *		return e.ex;
 *	if (sv_token_get(tk, SV_TOKEN_USER, &tok, &e) < 0) {
 *		sv_log_error("%s", e.msg);   // e.g. "... run 'twitch-auth
 *login'" return e.ex;                  // 77 refused, 78 none stored, ...
 *	}
 *	// IRC: "PASS oauth:<tok>", NICK sv_token_info(tk, SV_TOKEN_USER)->login
 *	// when the peer answers 401 to tok:
 *	sv_token_reject(tk, SV_TOKEN_USER, tok);  // next get refreshes
 *	// long-running tools: call sv_token_get() again whenever
 *	// sv_token_due_ms() has passed (hourly validation, refresh ahead).
 *	sv_token_free(tk);
 *
 * For Helix calls use lib/helix, which does the get/reject/retry itself:
 *	struct sv_helix *hx = sv_helix_new(tk, SV_TOKEN_USER, &e);
 *
 * Errors (e->ex): EX_CONFIG no client id, no token stored, store readable
 * by others, token of another client; EX_NOPERM token refused and not
 * refreshable, refresh refused (invalid_grant: "run 'twitch-auth login'
 * again"); EX_UNAVAILABLE / EX_TEMPFAIL id server unreachable; EX_IOERR
 * store not writable.
 *
 * Every token and the client secret are registered with
 * sv_log_add_secret(). Not thread-safe: one context per thread.
 */
#ifndef SV_TOKEN_H
#define SV_TOKEN_H

#include <stdbool.h>

#include "err.h"
#include "oauth.h"

enum sv_token_kind {
	SV_TOKEN_USER = 0, /* user access token (device or code grant) */
	SV_TOKEN_APP = 1, /* app access token (client credentials) */
};

/* What is known about a token. Strings are NULL when unknown. */
struct sv_token_rec {
	char *client_id; /* the client that obtained it */
	char *access_token;
	char *refresh_token; /* user tokens from the store only */
	char *scopes; /* space-separated */
	char *login; /* user tokens */
	char *user_id;
	long long expires_at; /* Unix seconds; 0 when unknown */
	long long obtained_at; /* Unix seconds; 0 when unknown */
};

struct sv_token;

/*
 * A context from the environment: TWITCH_CLIENT_ID, TWITCH_CLIENT_SECRET
 * or TWITCH_CLIENT_SECRET_FILE, TWITCH_TOKEN, TWITCH_APP_TOKEN,
 * TWITCH_ID_URL and the store under SERVITOR_HOME. No I/O besides
 * reading a secret file. NULL with e set (EX_NOINPUT for an unreadable
 * secret file, EX_OSERR).
 */
struct sv_token *sv_token_new(struct sv_err *e);
void sv_token_free(struct sv_token *t);

/*
 * A valid access token of `kind` in *token, borrowed until the next call
 * on t. Validates, refreshes and stores as described above. Returns 0,
 * or -1 with e set.
 */
int sv_token_get(struct sv_token *t, enum sv_token_kind kind,
    const char **token, struct sv_err *e);

/*
 * Report that Twitch answered 401 to `token`: the next sv_token_get()
 * refreshes it (or, for a token from the environment, fails with
 * EX_NOPERM). A token other than the current one is ignored, so a late
 * 401 for a token already replaced does not cause a second refresh.
 */
void sv_token_reject(
    struct sv_token *t, enum sv_token_kind kind, const char *token);

/*
 * What is known about the current token of kind (login, user_id,
 * scopes, expiry), borrowed; NULL before a successful sv_token_get(),
 * sv_token_load() or sv_token_validate().
 */
const struct sv_token_rec *sv_token_info(
    const struct sv_token *t, enum sv_token_kind kind);

/*
 * The client id to send as Client-Id: TWITCH_CLIENT_ID, else the one the
 * stored or validated token was issued to. NULL when none is known yet.
 */
const char *sv_token_client_id(const struct sv_token *t);

/*
 * Milliseconds until sv_token_get() has work to do for kind (the hourly
 * validation, a refresh ahead of expiry); 0 when due now. Long-running
 * tools use it as a poll timeout and call sv_token_get() then.
 */
long sv_token_due_ms(const struct sv_token *t, enum sv_token_kind kind);

/*
 * For a poll loop, once a round: when sv_token_due_ms() says work is
 * due, do it now (sv_token_get()); else lower *wake_ms, a monotonic time
 * in milliseconds like now_ms (sv_net_now_ms()), to when it will be.
 * Returns 0, or -1 with e set as by sv_token_get() (EX_NOPERM: the token
 * was revoked and cannot be renewed).
 */
int sv_token_tick(struct sv_token *t, enum sv_token_kind kind, long long now_ms,
    long long *wake_ms, struct sv_err *e);

/*
 * Whether a token of kind can be had without a user at the keyboard:
 * from the environment, from the store, or (app) by client credentials.
 * Reads the store; no network.
 */
bool sv_token_available(struct sv_token *t, enum sv_token_kind kind);

/* Whether the token of kind comes from TWITCH_TOKEN / TWITCH_APP_TOKEN. */
bool sv_token_from_env(const struct sv_token *t, enum sv_token_kind kind);

/*
 * Load the token of kind from the environment or the store without any
 * network call (for status displays). 0 loaded (see sv_token_info), 1
 * none, -1 error.
 */
int sv_token_load(
    struct sv_token *t, enum sv_token_kind kind, struct sv_err *e);

/*
 * Validate the token of kind now (refreshing after a 401 when it can)
 * and return the id server's answer in *v (the caller finis it).
 */
int sv_token_validate(struct sv_token *t, enum sv_token_kind kind,
    struct sv_oauth_valid *v, struct sv_err *e);

/*
 * Store a token just obtained (login, app): grant g, with the login,
 * user id, scopes and client id from validation v (may be NULL). It
 * becomes the current token of kind. 0, or -1 with e set.
 */
int sv_token_save(struct sv_token *t, enum sv_token_kind kind,
    const struct sv_oauth_grant *g, const struct sv_oauth_valid *v,
    struct sv_err *e);

/* Remove the token of kind from the store. 0, or -1 with e set. */
int sv_token_forget(
    struct sv_token *t, enum sv_token_kind kind, struct sv_err *e);

/*
 * The OAuth client (id server URL, client id and secret, HTTP handle)
 * for the flows of twitch-auth. Borrowed, valid while t lives.
 */
const struct sv_oauth *sv_token_oauth(struct sv_token *t);

/* The token store file ("$SERVITOR_HOME/tokens.json"). */
const char *sv_token_store_path(struct sv_token *t);

/* Release the strings of a record, wiping the tokens. */
void sv_token_rec_fini(struct sv_token_rec *r);

#endif
