/* token: valid access tokens for every tool; see token.h. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cli.h"
#include "log.h"
#include "token.h"
#include "tokenstore.h"

/*
 * Twitch: validate when starting and hourly after (twitch-protocols 6.7).
 * SERVITOR_VALIDATE_SECONDS may shorten it (never lengthen it).
 */
#define VALIDATE_EVERY_S 3600L
/* After a validation that could not reach the id server. */
#define VALIDATE_RETRY_MS (300 * 1000LL)
/* After an early refresh that could not reach the id server. */
#define RENEW_RETRY_MS (30 * 1000LL)
/* Refresh this long before expiry at most (a quarter of short lives). */
#define REFRESH_AHEAD_S 300LL

struct slot {
	bool loaded;
	bool from_env;
	bool rejected; /* Twitch answered 401 to rec.access_token */
	bool validated_once;
	long long next_check_ms; /* monotonic; 0: validate now */
	long long renew_after_ms; /* monotonic; after a failed early refresh */
	struct sv_token_rec rec;
};

struct sv_token {
	char *id_url;
	char *env_client_id; /* TWITCH_CLIENT_ID */
	char *client_id; /* the one in use: env, else learned */
	char *client_secret;
	char *env_token[2]; /* TWITCH_TOKEN, TWITCH_APP_TOKEN */
	struct sv_http *http;
	struct sv_tokenstore *store;
	struct sv_oauth oauth;
	struct slot slot[2];
	long long validate_every_ms;
};

static const char *const kind_name[] = { "user token", "app token" };
static const char *const env_name[] = { "TWITCH_TOKEN", "TWITCH_APP_TOKEN" };

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long
wall_s(void)
{
	return (long long)time(NULL);
}

void
sv_token_rec_fini(struct sv_token_rec *r)
{
	free(r->client_id);
	sv_cli_secret_free(r->access_token);
	sv_cli_secret_free(r->refresh_token);
	free(r->scopes);
	free(r->login);
	free(r->user_id);
	memset(r, 0, sizeof(*r));
}

/* A non-empty environment variable, or NULL. */
static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

struct sv_token *
sv_token_new(struct sv_err *e)
{
	struct sv_token *t;
	const char *v;
	size_t n;
	int k;

	sv_err_clear(e);
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		goto oom;
	t->validate_every_ms = VALIDATE_EVERY_S * 1000LL;
	if ((v = env("SERVITOR_VALIDATE_SECONDS")) != NULL) {
		unsigned long sec;

		if (sv_cli_ulong(v, 1, VALIDATE_EVERY_S, &sec) == 0)
			t->validate_every_ms = (long long)sec * 1000;
		else
			sv_log_warn(
			    "SERVITOR_VALIDATE_SECONDS: expected 1 to %ld, got '%s'; validating hourly",
			    VALIDATE_EVERY_S, v);
	}
	v = env("TWITCH_ID_URL");
	t->id_url = strdup(v != NULL ? v : SV_OAUTH_DEFAULT_URL);
	if (t->id_url == NULL)
		goto oom;
	n = strlen(t->id_url);
	while (n > 0 && t->id_url[n - 1] == '/')
		t->id_url[--n] = '\0';
	if ((v = env("TWITCH_CLIENT_ID")) != NULL) {
		t->env_client_id = strdup(v);
		t->client_id = strdup(v);
		if (t->env_client_id == NULL || t->client_id == NULL)
			goto oom;
	}
	t->client_secret = sv_cli_secret(
	    "TWITCH_CLIENT_SECRET", env("TWITCH_CLIENT_SECRET_FILE"), e);
	if (t->client_secret == NULL && e->ex != 0) {
		sv_err_prefix(e, "TWITCH_CLIENT_SECRET_FILE");
		sv_token_free(t);
		return NULL;
	}
	for (k = 0; k < 2; k++) {
		if ((v = env(env_name[k])) == NULL)
			continue;
		/* IRC habits: "oauth:TOKEN" is the same token. */
		if (strncmp(v, "oauth:", 6) == 0)
			v += 6;
		t->env_token[k] = strdup(v);
		if (t->env_token[k] == NULL)
			goto oom;
		sv_log_add_secret(t->env_token[k]);
	}
	t->http = sv_http_new();
	if (t->http == NULL)
		goto oom;
	return t;
oom:
	sv_token_free(t);
	sv_err_set(e, EX_OSERR, "out of memory");
	return NULL;
}

void
sv_token_free(struct sv_token *t)
{
	int k;

	if (t == NULL)
		return;
	for (k = 0; k < 2; k++) {
		sv_token_rec_fini(&t->slot[k].rec);
		sv_cli_secret_free(t->env_token[k]);
	}
	sv_tokenstore_free(t->store);
	sv_http_free(t->http);
	sv_cli_secret_free(t->client_secret);
	free(t->client_id);
	free(t->env_client_id);
	free(t->id_url);
	free(t);
}

const struct sv_oauth *
sv_token_oauth(struct sv_token *t)
{
	t->oauth.id_url = t->id_url;
	t->oauth.client_id = t->client_id;
	t->oauth.client_secret = t->client_secret;
	t->oauth.http = t->http;
	return &t->oauth;
}

static struct sv_tokenstore *
store(struct sv_token *t, struct sv_err *e)
{
	if (t->store == NULL)
		t->store = sv_tokenstore_new(NULL, e);
	return t->store;
}

const char *
sv_token_store_path(struct sv_token *t)
{
	struct sv_tokenstore *st;
	struct sv_err e;

	st = store(t, &e);
	return st != NULL ? sv_tokenstore_path(st) : "(no token store)";
}

const char *
sv_token_client_id(const struct sv_token *t)
{
	return t->client_id;
}

const struct sv_token_rec *
sv_token_info(const struct sv_token *t, enum sv_token_kind kind)
{
	return t->slot[kind].loaded ? &t->slot[kind].rec : NULL;
}

bool
sv_token_from_env(const struct sv_token *t, enum sv_token_kind kind)
{
	return t->env_token[kind] != NULL;
}

/*
 * A token works only with the client id it was issued to (Helix answers
 * 401 otherwise), so one process uses one client id: TWITCH_CLIENT_ID,
 * else the first one learned from the store or a validation.
 */
static int
use_client(struct sv_token *t, const char *client_id, enum sv_token_kind kind,
    struct sv_err *e)
{
	if (client_id == NULL)
		return 0;
	if (t->client_id == NULL) {
		t->client_id = strdup(client_id);
		return t->client_id != NULL ?
		    0 :
		    sv_err_set(e, EX_OSERR, "out of memory");
	}
	if (strcmp(t->client_id, client_id) == 0)
		return 0;
	return sv_err_set(e, EX_CONFIG,
	    "the %s%s%s was issued to client id %s, but %s is %s: run 'twitch-auth %s' with this client",
	    kind_name[kind], t->env_token[kind] != NULL ? " in " : "",
	    t->env_token[kind] != NULL ? env_name[kind] : "", client_id,
	    t->env_client_id != NULL ? "TWITCH_CLIENT_ID" :
	                               "the client id in use",
	    t->client_id, kind == SV_TOKEN_USER ? "login" : "app");
}

/* Load the token of kind: 0 loaded, 1 none, -1 error. */
static int
slot_load(struct sv_token *t, enum sv_token_kind kind, struct sv_err *e)
{
	struct slot *s = &t->slot[kind];
	struct sv_tokenstore *st;
	struct sv_token_rec r;
	int rc;

	if (s->loaded)
		return 0;
	if (t->env_token[kind] != NULL) {
		memset(&s->rec, 0, sizeof(s->rec));
		s->rec.access_token = strdup(t->env_token[kind]);
		if (s->rec.access_token == NULL)
			return sv_err_set(e, EX_OSERR, "out of memory");
		s->from_env = true;
		s->loaded = true;
		s->next_check_ms = 0;
		return 0;
	}
	if ((st = store(t, e)) == NULL)
		return -1;
	rc = sv_tokenstore_read(st, kind, &r, e);
	if (rc != 0)
		return rc;
	if (use_client(t, r.client_id, kind, e) < 0) {
		sv_token_rec_fini(&r);
		return -1;
	}
	s->rec = r;
	s->loaded = true;
	s->next_check_ms = 0;
	return 0;
}

int
sv_token_load(struct sv_token *t, enum sv_token_kind kind, struct sv_err *e)
{
	return slot_load(t, kind, e);
}

/* Make *r (moved) the current token of kind. */
static void
adopt(struct sv_token *t, enum sv_token_kind kind, struct sv_token_rec *r,
    bool fresh)
{
	struct slot *s = &t->slot[kind];

	sv_token_rec_fini(&s->rec);
	s->rec = *r;
	memset(r, 0, sizeof(*r));
	s->loaded = true;
	s->from_env = false;
	s->rejected = false;
	s->renew_after_ms = 0;
	if (fresh) {
		/* Just issued by Twitch: as good as validated. */
		s->validated_once = true;
		s->next_check_ms = mono_ms() + t->validate_every_ms;
	}
}

/* Whether r expires within the refresh margin. */
static bool
expiring(const struct sv_token_rec *r)
{
	long long life, ahead;

	if (r->expires_at <= 0)
		return false;
	life = r->obtained_at > 0 ? r->expires_at - r->obtained_at :
	                            4 * REFRESH_AHEAD_S;
	ahead = life / 4;
	if (ahead > REFRESH_AHEAD_S)
		ahead = REFRESH_AHEAD_S;
	if (ahead < 0)
		ahead = 0;
	return wall_s() + ahead >= r->expires_at;
}

/*
 * A record from a fresh grant. base (may be NULL) gives what the grant
 * does not repeat: the refresh token when it did not rotate, the scopes,
 * login and user id.
 */
static int
rec_from_grant(struct sv_token *t, const struct sv_oauth_grant *g,
    const struct sv_token_rec *base, const struct sv_oauth_valid *v,
    struct sv_token_rec *r, struct sv_err *e)
{
	bool oom = false;
	long expires_in;

	memset(r, 0, sizeof(*r));
	r->client_id = sv_buf_strdup(t->client_id != NULL ? t->client_id :
	        v != NULL                                 ? v->client_id :
	                                                    NULL,
	    &oom);
	r->access_token = sv_buf_strdup(g->access_token, &oom);
	r->refresh_token = sv_buf_strdup(g->refresh_token != NULL ?
	        g->refresh_token :
	        (base != NULL ? base->refresh_token : NULL),
	    &oom);
	r->scopes = sv_buf_strdup(g->scopes != NULL ? g->scopes :
	        v != NULL                           ? v->scopes :
	        base != NULL                        ? base->scopes :
	                                              NULL,
	    &oom);
	r->login = sv_buf_strdup(v != NULL ? v->login :
	        base != NULL               ? base->login :
	                                     NULL,
	    &oom);
	r->user_id = sv_buf_strdup(v != NULL ? v->user_id :
	        base != NULL                 ? base->user_id :
	                                       NULL,
	    &oom);
	expires_in = g->expires_in > 0 ? g->expires_in :
	    v != NULL                  ? v->expires_in :
	                                 0;
	r->obtained_at = wall_s();
	r->expires_at = expires_in > 0 ? r->obtained_at + expires_in : 0;
	if (oom) {
		sv_token_rec_fini(r);
		return sv_err_set(e, EX_OSERR, "out of memory");
	}
	return 0;
}

/*
 * Get a new token of kind, under the store lock: if another process has
 * already replaced the one we hold, take theirs (its refresh token has
 * rotated, ours is dead); else refresh (user) or ask for a new one by
 * client credentials (app), and write it back before unlocking.
 */
static int
renew(struct sv_token *t, enum sv_token_kind kind, struct sv_err *e)
{
	struct slot *s = &t->slot[kind];
	struct sv_token_rec cur, fresh;
	struct sv_oauth_grant g;
	struct sv_tokenstore *st;
	char why[sizeof(e->msg)];
	int rc, ret = -1;

	memset(&cur, 0, sizeof(cur));
	memset(&fresh, 0, sizeof(fresh));
	memset(&g, 0, sizeof(g));
	if ((st = store(t, e)) == NULL || sv_tokenstore_lock(st, e) < 0)
		return -1;
	rc = sv_tokenstore_read(st, kind, &cur, e);
	if (rc < 0)
		goto out;
	if (rc == 0 && use_client(t, cur.client_id, kind, e) < 0)
		goto out;
	if (rc == 0 && !expiring(&cur) &&
	    (!s->loaded || s->rec.access_token == NULL ||
	        strcmp(cur.access_token, s->rec.access_token) != 0)) {
		sv_log_debug("%s: using the one another process renewed",
		    kind_name[kind]);
		adopt(t, kind, &cur, false);
		ret = 0;
		goto out;
	}
	if (kind == SV_TOKEN_USER) {
		if (rc == 1) {
			sv_err_set(e, EX_CONFIG,
			    "no user token in %s: run 'twitch-auth login'",
			    sv_tokenstore_path(st));
			goto out;
		}
		if (cur.refresh_token == NULL) {
			sv_err_set(e, EX_NOPERM,
			    "the stored user token expired or was refused and cannot be refreshed: run 'twitch-auth login' again");
			goto out;
		}
		sv_log_info("refreshing the user token of %s",
		    cur.login != NULL ? cur.login : "(unknown login)");
		if (sv_oauth_refresh(
		        sv_token_oauth(t), cur.refresh_token, &g, e) < 0) {
			if (e->ex == EX_NOPERM) {
				(void)snprintf(why, sizeof(why), "%s", e->msg);
				sv_err_set(e, EX_NOPERM,
				    "the refresh token was refused (%s): run 'twitch-auth login' again",
				    why);
			}
			goto out;
		}
		if (rec_from_grant(t, &g, &cur, NULL, &fresh, e) < 0)
			goto out;
	} else {
		if (t->client_secret == NULL) {
			sv_err_set(e, EX_CONFIG,
			    "no app token: set TWITCH_CLIENT_SECRET (or TWITCH_CLIENT_SECRET_FILE) to get one, or TWITCH_APP_TOKEN");
			goto out;
		}
		sv_log_info("getting an app token (client credentials)");
		if (sv_oauth_client_credentials(sv_token_oauth(t), &g, e) < 0 ||
		    rec_from_grant(t, &g, NULL, NULL, &fresh, e) < 0)
			goto out;
		free(fresh.scopes);
		fresh.scopes = strdup("");
	}
	if (sv_tokenstore_write(st, kind, &fresh, e) < 0) {
		/* The new token works; only its persistence failed. Keep
		 * using it rather than stopping a running tool. */
		sv_log_error("%s", e->msg);
		sv_err_clear(e);
	}
	adopt(t, kind, &fresh, true);
	ret = 0;
out:
	sv_tokenstore_unlock(st);
	sv_oauth_grant_fini(&g);
	sv_token_rec_fini(&cur);
	sv_token_rec_fini(&fresh);
	return ret;
}

static void
replace(char **dst, const char *src)
{
	char *d;

	if (src == NULL || (d = strdup(src)) == NULL)
		return;
	free(*dst);
	*dst = d;
}

/* Validate the current token; learn client id, login, scopes, expiry. */
static int
validate_slot(struct sv_token *t, enum sv_token_kind kind,
    struct sv_oauth_valid *out, struct sv_err *e)
{
	struct slot *s = &t->slot[kind];
	struct sv_oauth_valid v;

	if (t->client_id == NULL && s->rec.client_id != NULL &&
	    use_client(t, s->rec.client_id, kind, e) < 0)
		return -1;
	if (sv_oauth_validate(sv_token_oauth(t), s->rec.access_token, &v, e) <
	    0)
		return -1;
	if (use_client(t, v.client_id, kind, e) < 0) {
		sv_oauth_valid_fini(&v);
		return -1;
	}
	replace(&s->rec.client_id, v.client_id);
	replace(&s->rec.login, v.login);
	replace(&s->rec.user_id, v.user_id);
	replace(&s->rec.scopes, v.scopes);
	if (v.expires_in > 0)
		s->rec.expires_at = wall_s() + v.expires_in;
	s->validated_once = true;
	s->next_check_ms = mono_ms() + t->validate_every_ms;
	sv_log_debug("%s validated: login %s, expires in %ld s",
	    kind_name[kind], v.login != NULL ? v.login : "-", v.expires_in);
	if (out != NULL)
		*out = v;
	else
		sv_oauth_valid_fini(&v);
	return 0;
}

static int
env_refused(enum sv_token_kind kind, struct sv_err *e)
{
	return sv_err_set(e, EX_NOPERM,
	    "Twitch refused the token in %s (invalid, expired or revoked); a token from the environment is used as given and never refreshed",
	    env_name[kind]);
}

/*
 * A validation that failed for lack of an answer: fatal at start, but a
 * running tool keeps its token and tries again a little later.
 */
static bool
validation_can_wait(struct slot *s, enum sv_token_kind kind, struct sv_err *e)
{
	if (!s->validated_once)
		return false;
	sv_log_warn("cannot validate the %s now (%s); trying again in %lld s",
	    kind_name[kind], e->msg, VALIDATE_RETRY_MS / 1000);
	s->next_check_ms = mono_ms() + VALIDATE_RETRY_MS;
	sv_err_clear(e);
	return true;
}

/* Load, or for an app token get one: 0, or -1 with e set. */
static int
load_or_get(struct sv_token *t, enum sv_token_kind kind, struct sv_err *e)
{
	int rc = slot_load(t, kind, e);

	if (rc <= 0)
		return rc;
	if (kind == SV_TOKEN_USER)
		return sv_err_set(e, EX_CONFIG,
		    "no user token in %s: run 'twitch-auth login' (or set TWITCH_TOKEN)",
		    sv_token_store_path(t));
	return renew(t, kind, e);
}

int
sv_token_get(struct sv_token *t, enum sv_token_kind kind, const char **token,
    struct sv_err *e)
{
	struct slot *s = &t->slot[kind];

	sv_err_clear(e);
	if (load_or_get(t, kind, e) < 0)
		return -1;
	if (s->from_env) {
		if (s->rejected)
			return env_refused(kind, e);
		if (mono_ms() >= s->next_check_ms &&
		    validate_slot(t, kind, NULL, e) < 0) {
			if (e->ex == EX_NOPERM)
				return env_refused(kind, e);
			if (!validation_can_wait(s, kind, e))
				return -1;
		}
		*token = s->rec.access_token;
		return 0;
	}
	if (s->rejected ||
	    (expiring(&s->rec) &&
	        (mono_ms() >= s->renew_after_ms ||
	            s->rec.expires_at <= wall_s()))) {
		if (renew(t, kind, e) < 0) {
			/* A refresh ahead of expiry that found no id server:
			 * the token still works, so a running tool goes on
			 * and tries again a little later. */
			if (s->rejected || s->rec.expires_at <= wall_s() ||
			    (e->ex != EX_UNAVAILABLE && e->ex != EX_TEMPFAIL))
				return -1;
			sv_log_warn(
			    "cannot renew the %s yet (%s); trying again in %lld s",
			    kind_name[kind], e->msg, RENEW_RETRY_MS / 1000);
			s->renew_after_ms = mono_ms() + RENEW_RETRY_MS;
			sv_err_clear(e);
		}
	}
	if (mono_ms() >= s->next_check_ms &&
	    validate_slot(t, kind, NULL, e) < 0) {
		if (e->ex == EX_NOPERM) {
			sv_log_info("the %s failed validation; renewing it",
			    kind_name[kind]);
			s->rejected = true;
			if (renew(t, kind, e) < 0)
				return -1;
		} else if (!validation_can_wait(s, kind, e)) {
			return -1;
		}
	}
	*token = s->rec.access_token;
	return 0;
}

void
sv_token_reject(struct sv_token *t, enum sv_token_kind kind, const char *token)
{
	struct slot *s = &t->slot[kind];

	if (!s->loaded || token == NULL || s->rec.access_token == NULL ||
	    strcmp(token, s->rec.access_token) != 0)
		return;
	s->rejected = true;
}

long
sv_token_due_ms(const struct sv_token *t, enum sv_token_kind kind)
{
	const struct slot *s = &t->slot[kind];
	long long due, refresh_at, life, ahead, now = mono_ms();

	if (!s->loaded || s->rejected)
		return 0;
	due = s->next_check_ms - now;
	if (!s->from_env && s->rec.expires_at > 0) {
		life = s->rec.obtained_at > 0 ?
		    s->rec.expires_at - s->rec.obtained_at :
		    4 * REFRESH_AHEAD_S;
		ahead = life / 4 < REFRESH_AHEAD_S ? life / 4 : REFRESH_AHEAD_S;
		refresh_at = (s->rec.expires_at - ahead - wall_s()) * 1000;
		if (s->renew_after_ms - now > refresh_at)
			refresh_at = s->renew_after_ms - now;
		if (refresh_at < due)
			due = refresh_at;
	}
	if (due < 0)
		return 0;
	return due > 86400000LL ? 86400000L : (long)due;
}

int
sv_token_tick(struct sv_token *t, enum sv_token_kind kind, long long now_ms,
    long long *wake_ms, struct sv_err *e)
{
	const char *tok;
	long due = sv_token_due_ms(t, kind);

	if (due == 0)
		return sv_token_get(t, kind, &tok, e);
	if (now_ms + due < *wake_ms)
		*wake_ms = now_ms + due;
	return 0;
}

bool
sv_token_available(struct sv_token *t, enum sv_token_kind kind)
{
	struct sv_err e;

	if (slot_load(t, kind, &e) == 0)
		return true;
	return kind == SV_TOKEN_APP && t->client_secret != NULL &&
	    t->client_id != NULL;
}

int
sv_token_validate(struct sv_token *t, enum sv_token_kind kind,
    struct sv_oauth_valid *v, struct sv_err *e)
{
	struct slot *s = &t->slot[kind];

	memset(v, 0, sizeof(*v));
	sv_err_clear(e);
	if (load_or_get(t, kind, e) < 0)
		return -1;
	if (validate_slot(t, kind, v, e) == 0)
		return 0;
	if (e->ex != EX_NOPERM)
		return -1;
	if (s->from_env)
		return env_refused(kind, e);
	s->rejected = true;
	if (renew(t, kind, e) < 0)
		return -1;
	return validate_slot(t, kind, v, e);
}

int
sv_token_save(struct sv_token *t, enum sv_token_kind kind,
    const struct sv_oauth_grant *g, const struct sv_oauth_valid *v,
    struct sv_err *e)
{
	struct sv_tokenstore *st;
	struct sv_token_rec r;
	int rc;

	if (v != NULL && use_client(t, v->client_id, kind, e) < 0)
		return -1;
	if ((st = store(t, e)) == NULL ||
	    rec_from_grant(t, g, NULL, v, &r, e) < 0)
		return -1;
	if (kind == SV_TOKEN_APP) {
		/* Nothing to refresh an app token with (6.5). */
		sv_cli_secret_free(r.refresh_token);
		r.refresh_token = NULL;
	}
	if (sv_tokenstore_lock(st, e) < 0) {
		sv_token_rec_fini(&r);
		return -1;
	}
	rc = sv_tokenstore_write(st, kind, &r, e);
	sv_tokenstore_unlock(st);
	if (rc == 0 && t->env_token[kind] == NULL)
		adopt(t, kind, &r, true);
	sv_token_rec_fini(&r);
	return rc;
}

int
sv_token_forget(struct sv_token *t, enum sv_token_kind kind, struct sv_err *e)
{
	struct sv_tokenstore *st;
	struct slot *s = &t->slot[kind];
	int rc;

	if ((st = store(t, e)) == NULL || sv_tokenstore_lock(st, e) < 0)
		return -1;
	rc = sv_tokenstore_write(st, kind, NULL, e);
	sv_tokenstore_unlock(st);
	if (rc == 0 && !s->from_env) {
		sv_token_rec_fini(&s->rec);
		memset(s, 0, sizeof(*s));
	}
	return rc;
}
