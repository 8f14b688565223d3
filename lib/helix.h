/*
 * helix: a Twitch Helix API client (twitch-protocols.md section 7) on
 * lib/http and jansson, with its tokens from lib/token.
 *
 * Every call sends "Client-Id" and "Authorization: Bearer" with a token
 * from sv_token_get(); after a 401 it rejects the token, gets a fresh one
 * (refresh) and retries once. A 429 waits until Ratelimit-Reset (at most
 * 60 s, three times), unless its Ratelimit-Remaining is above 0: then it
 * is a limit (EventSub WebSocket transports or cost), not the rate limit,
 * and fails at once. A response that leaves Ratelimit-Remaining at
 * 0 makes the next call wait for the reset first. Helix error bodies
 * ({"error","status","message"}) become the message of e.
 *
 *	struct sv_token *tk = sv_token_new(&e);
 *	struct sv_helix *hx = sv_helix_new(tk, SV_TOKEN_USER, &e);
 *	struct sv_helix_user u;
 *	json_t *sub;
 *
 *	if (sv_helix_user(hx, "glowcaster", &u, &e) < 0)
 *		return e.ex;                       // 65: no such user
 *	sub = sv_helix_eventsub_create(hx, "channel.subscribe", "1",
 *	    cond, transport, &e);                 // cond/transport borrowed
 *	if (sub == NULL && sv_helix_status(hx) == 409)
 *		...already subscribed...
 *	json_decref(sub);
 *	sv_helix_free(hx);                         // before sv_token_free(tk)
 *
 * Exit codes in e->ex: EX_NOPERM for 401 (after the retry) and 403,
 * EX_DATAERR for other 4xx (the request was refused: unknown id, bad
 * condition, duplicate, removed type), EX_TEMPFAIL for 429 after the
 * waits, EX_UNAVAILABLE for 5xx or no answer, EX_PROTOCOL for a body that
 * is not JSON, plus what sv_token_get() returns. Not thread-safe.
 */
#ifndef SV_HELIX_H
#define SV_HELIX_H

#include <jansson.h>

#include "buf.h"
#include "err.h"
#include "token.h"

#define SV_HELIX_DEFAULT_URL "https://api.twitch.tv/helix"

struct sv_helix;

/*
 * A client that calls with tokens of `kind` from tk (borrowed: it must
 * outlive the client). The base URL is TWITCH_API_URL, else
 * SV_HELIX_DEFAULT_URL. NULL with e set when out of memory.
 */
struct sv_helix *sv_helix_new(
    struct sv_token *tk, enum sv_token_kind kind, struct sv_err *e);
void sv_helix_free(struct sv_helix *h);

/* The HTTP status of the last response (0 when none). */
long sv_helix_status(const struct sv_helix *h);

/*
 * One call: method "GET", "POST", "PATCH" or "DELETE"; path relative to
 * the base ("/users"); query already encoded ("login=a&login=b", see
 * sv_helix_query_add) or NULL; body a JSON value sent as
 * application/json, or NULL. On a 2xx answer returns 0 and, when out is
 * not NULL, *out is the parsed body (a new reference; NULL for an empty
 * body such as a 204). -1 with e set otherwise.
 */
int sv_helix_call(struct sv_helix *h, const char *method, const char *path,
    const char *query, const json_t *body, json_t **out, struct sv_err *e);

/*
 * Called for each element of "data" (borrowed). Return 0 to go on, 1 to
 * stop early, -1 to fail (setting e).
 */
typedef int sv_helix_item_fn(void *arg, json_t *item, struct sv_err *e);

/*
 * GET every page of a paginated list (the "pagination":{"cursor"} of the
 * answer passed back as after=CURSOR) and call fn for each item, in
 * order. Returns 0, or -1 with e set.
 */
int sv_helix_each(struct sv_helix *h, const char *path, const char *query,
    sv_helix_item_fn *fn, void *arg, struct sv_err *e);

/* Append "key=value" (URL-encoded, "&" between pairs) to a query. */
int sv_helix_query_add(struct sv_buf *q, const char *key, const char *value);

struct sv_helix_user {
	char id[32];
	char login[64];
	char display_name[128];
};

/*
 * Look up a user by login, or by id when `who` is all digits (falling
 * back to a login of digits). 0 and *u filled, or -1: EX_DATAERR "no
 * Twitch user ..." when Helix does not know it.
 */
int sv_helix_user(struct sv_helix *h, const char *who, struct sv_helix_user *u,
    struct sv_err *e);

/*
 * Create an EventSub subscription (section 1.11 / 2.2). condition and
 * transport are borrowed JSON objects. Returns the subscription Helix
 * answered with (data[0], a new reference), or NULL with e set; on 409
 * (it exists already) sv_helix_status() is 409.
 */
json_t *sv_helix_eventsub_create(struct sv_helix *h, const char *type,
    const char *version, json_t *condition, json_t *transport,
    struct sv_err *e);

/*
 * List EventSub subscriptions across all pages, optionally filtered by
 * status, type or user_id (Helix takes one filter at a time: the first
 * of type, user_id, status given is sent, the others are applied here).
 */
int sv_helix_eventsub_list(struct sv_helix *h, const char *status,
    const char *type, const char *user_id, sv_helix_item_fn *fn, void *arg,
    struct sv_err *e);

/* Delete one subscription. 0, or -1 (EX_DATAERR when unknown: 404). */
int sv_helix_eventsub_delete(
    struct sv_helix *h, const char *id, struct sv_err *e);

/*
 * "STATUS Reason: message" from a Helix error answer, for e->msg and the
 * unit tests: "400 Bad Request: invalid transport and auth combination".
 * Always NUL-terminates out. Returns out.
 */
const char *sv_helix_error_text(
    long status, const char *body, size_t len, char *out, size_t outlen);

/* The exit code for an unsuccessful Helix status (see above). */
int sv_helix_status_ex(long status);

#endif
