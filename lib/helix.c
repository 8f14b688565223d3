/* helix: the Twitch Helix API client; see helix.h. */
#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "helix.h"
#include "http.h"
#include "log.h"

#define RATE_WAIT_MAX_MS 60000L
#define RATE_RETRIES 3
#define MAX_PAGES 10000

struct sv_helix {
	struct sv_token *tk;
	enum sv_token_kind kind;
	struct sv_http *http;
	char *base;
	long status;
	long long reset_ms; /* wall clock ms to wait for before a call */
};

static long long
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct sv_helix *
sv_helix_new(struct sv_token *tk, enum sv_token_kind kind, struct sv_err *e)
{
	struct sv_helix *h;
	const char *base = getenv("TWITCH_API_URL");
	size_t n;

	if (base == NULL || *base == '\0')
		base = SV_HELIX_DEFAULT_URL;
	h = calloc(1, sizeof(*h));
	if (h == NULL || (h->base = strdup(base)) == NULL ||
	    (h->http = sv_http_new()) == NULL) {
		sv_helix_free(h);
		sv_err_set(e, EX_OSERR, "out of memory");
		return NULL;
	}
	n = strlen(h->base);
	while (n > 0 && h->base[n - 1] == '/')
		h->base[--n] = '\0';
	h->tk = tk;
	h->kind = kind;
	return h;
}

void
sv_helix_free(struct sv_helix *h)
{
	if (h == NULL)
		return;
	sv_http_free(h->http);
	free(h->base);
	free(h);
}

long
sv_helix_status(const struct sv_helix *h)
{
	return h->status;
}

int
sv_helix_query_add(struct sv_buf *q, const char *key, const char *value)
{
	if ((q->len > 0 && sv_buf_append(q, "&", 1) < 0) ||
	    sv_http_urlencode(q, key) < 0 || sv_buf_append(q, "=", 1) < 0 ||
	    sv_http_urlencode(q, value) < 0)
		return -1;
	return 0;
}

const char *
sv_helix_error_text(
    long status, const char *body, size_t len, char *out, size_t outlen)
{
	const char *err = NULL, *msg = NULL;
	json_t *o = NULL;

	if (outlen == 0)
		return out;
	if (body != NULL && len > 0)
		o = json_loadb(body, len, 0, NULL);
	if (json_is_object(o)) {
		err = json_string_value(json_object_get(o, "error"));
		msg = json_string_value(json_object_get(o, "message"));
	}
	if (err == NULL || *err == '\0')
		err = sv_http_reason(status);
	(void)snprintf(out, outlen, "%ld%s%s%s%s", status, *err ? " " : "", err,
	    msg != NULL && *msg != '\0' ? ": " : "", msg != NULL ? msg : "");
	json_decref(o);
	return out;
}

int
sv_helix_status_ex(long status)
{
	int ex = sv_http_status_ex(status);

	/* A 4xx from Helix refuses what we asked for (unknown id, bad
	 * condition, duplicate), not the protocol. */
	if (ex == EX_PROTOCOL && status >= 400 && status < 500)
		return EX_DATAERR;
	return ex;
}

/* Sleep until the rate-limit bucket is full again, when it was empty. */
static int
rate_wait(long long until_ms, struct sv_err *e)
{
	long long ms = until_ms - wall_ms();

	if (ms <= 0)
		return 0;
	if (ms > RATE_WAIT_MAX_MS)
		ms = RATE_WAIT_MAX_MS;
	sv_log_info(
	    "Helix rate limit: waiting %lld ms for Ratelimit-Reset", ms);
	if (sv_cli_sleep_ms((long)ms) < 0)
		return sv_err_set(e, EX_TEMPFAIL,
		    "stopped while waiting for the Helix rate limit");
	return 0;
}

/* Ratelimit-Reset as wall clock ms (epoch seconds + a margin), or 0. */
static long long
reset_ms(const struct sv_http_resp *rs)
{
	char v[32];
	unsigned long s;

	if (sv_http_resp_header(rs, "Ratelimit-Reset", v, sizeof(v)) == NULL ||
	    sv_cli_ulong(v, 1, 99999999999UL, &s) < 0)
		return 0;
	return (long long)s * 1000 + 50;
}

static void
note_ratelimit(struct sv_helix *h, const struct sv_http_resp *rs)
{
	char v[32];

	h->reset_ms = 0;
	if (sv_http_resp_header(rs, "Ratelimit-Remaining", v, sizeof(v)) !=
	        NULL &&
	    strcmp(v, "0") == 0)
		h->reset_ms = reset_ms(rs);
}

/* Does the answer say the rate-limit bucket still has points? */
static bool
bucket_left(const struct sv_http_resp *rs)
{
	unsigned long n;
	char v[32];

	return sv_http_resp_header(rs, "Ratelimit-Remaining", v, sizeof(v)) !=
	    NULL &&
	    sv_cli_ulong(v, 1, ULONG_MAX, &n) == 0;
}

static int
call_error(struct sv_helix *h, const char *method, const char *path,
    const struct sv_http_resp *rs, struct sv_err *e)
{
	char text[200];

	sv_helix_error_text(
	    rs->status, rs->body.data, rs->body.len, text, sizeof(text));
	sv_err_set(e, sv_helix_status_ex(rs->status), "Helix %s %s: %s%s",
	    method, path, text,
	    rs->status == 401 ?
	        " (refused again after a new token)" :
	        rs->status == 403 ?
	        (h->kind == SV_TOKEN_USER ?
	                " (the user token may lack a scope: run 'twitch-auth login --scopes ...')" :
	                " (the broadcaster may not have authorized this client)") :
	        "");
	return -1;
}

int
sv_helix_call(struct sv_helix *h, const char *method, const char *path,
    const char *query, const json_t *body, json_t **out, struct sv_err *e)
{
	struct sv_buf url, auth, cid;
	struct sv_http_resp rs;
	struct sv_http_req rq;
	const char *hdrs[6], *tok, *client;
	char *payload = NULL;
	int n401 = 0, n429 = 0, ret = -1;
	json_error_t je;
	size_t i;

	if (out != NULL)
		*out = NULL;
	h->status = 0;
	sv_buf_init(&url);
	sv_buf_init(&auth);
	sv_buf_init(&cid);
	sv_http_resp_init(&rs);
	if (sv_buf_appendf(&url, "%s%s%s%s", h->base, path,
	        query != NULL && *query != '\0' ? "?" : "",
	        query != NULL ? query : "") < 0 ||
	    (body != NULL &&
	        (payload = json_dumps(body, JSON_COMPACT)) == NULL)) {
		sv_err_set(e, EX_OSERR, "out of memory");
		goto out;
	}
	for (;;) {
		if (rate_wait(h->reset_ms, e) < 0 ||
		    sv_token_get(h->tk, h->kind, &tok, e) < 0)
			goto out;
		client = sv_token_client_id(h->tk);
		if (client == NULL) {
			sv_err_set(e, EX_CONFIG,
			    "no client id for Helix: set TWITCH_CLIENT_ID");
			goto out;
		}
		sv_buf_reset(&auth);
		sv_buf_reset(&cid);
		if (sv_buf_appendf(&auth, "Authorization: Bearer %s", tok) <
		        0 ||
		    sv_buf_appendf(&cid, "Client-Id: %s", client) < 0) {
			sv_err_set(e, EX_OSERR, "out of memory");
			goto out;
		}
		i = 0;
		hdrs[i++] = auth.data;
		hdrs[i++] = cid.data;
		hdrs[i++] = "Accept: application/json";
		if (payload != NULL)
			hdrs[i++] = "Content-Type: application/json";
		hdrs[i] = NULL;
		memset(&rq, 0, sizeof(rq));
		rq.method = method;
		rq.url = url.data;
		rq.headers = hdrs;
		rq.body = payload;
		rq.body_len = payload != NULL ? strlen(payload) : 0;
		if (sv_http_do(h->http, &rq, &rs, e) < 0) {
			sv_err_prefix(e, "Helix");
			goto out;
		}
		h->status = rs.status;
		note_ratelimit(h, &rs);
		if (rs.status == 401 && n401++ == 0) {
			/* Twitch: refresh once on 401, then retry (6.4). */
			sv_log_info("Helix %s %s: 401, renewing the token",
			    method, path);
			sv_token_reject(h->tk, h->kind, tok);
			continue;
		}
		/* A 429 that leaves points in the bucket is a limit
		 * (EventSub WebSocket transports, cost: protocols 1.10), not
		 * the rate limit: waiting would not help. */
		if (rs.status == 429 && !bucket_left(&rs) &&
		    n429++ < RATE_RETRIES) {
			long long until = reset_ms(&rs);

			if (until == 0)
				until = wall_ms() + 1000;
			sv_log_warn(
			    "Helix %s %s: rate limited (429); waiting for Ratelimit-Reset",
			    method, path);
			if (rate_wait(until, e) < 0)
				goto out;
			continue;
		}
		break;
	}
	if (rs.status < 200 || rs.status >= 300) {
		call_error(h, method, path, &rs, e);
		goto out;
	}
	for (i = 0; i < rs.body.len && isspace((unsigned char)rs.body.data[i]);
	     i++)
		;
	if (i < rs.body.len && out != NULL) {
		*out = json_loadb(rs.body.data, rs.body.len, 0, &je);
		if (*out == NULL) {
			sv_err_set(e, EX_PROTOCOL,
			    "Helix %s %s: the answer is not JSON (%s)", method,
			    path, je.text);
			goto out;
		}
	}
	ret = 0;
out:
	if (payload != NULL) {
		explicit_bzero(payload, strlen(payload));
		free(payload);
	}
	sv_buf_fini(&url);
	sv_buf_wipe(&auth);
	sv_buf_fini(&cid);
	sv_http_resp_fini(&rs);
	return ret;
}

int
sv_helix_each(struct sv_helix *h, const char *path, const char *query,
    sv_helix_item_fn *fn, void *arg, struct sv_err *e)
{
	struct sv_buf q;
	const char *next;
	char *cursor = NULL;
	json_t *o = NULL, *data, *item;
	int pages, rc = 0, ret = -1;
	size_t i;

	sv_buf_init(&q);
	for (pages = 0; pages < MAX_PAGES; pages++) {
		sv_buf_reset(&q);
		if (sv_buf_append(&q, "", 0) < 0 ||
		    (query != NULL &&
		        sv_buf_append(&q, query, strlen(query)) < 0) ||
		    (cursor != NULL &&
		        sv_helix_query_add(&q, "after", cursor) < 0)) {
			sv_err_set(e, EX_OSERR, "out of memory");
			goto out;
		}
		if (sv_helix_call(h, "GET", path, q.data, NULL, &o, e) < 0)
			goto out;
		data = json_object_get(o, "data");
		if (!json_is_array(data)) {
			sv_err_set(e, EX_PROTOCOL,
			    "Helix GET %s: the answer has no \"data\" array",
			    path);
			goto out;
		}
		json_array_foreach (data, i, item) {
			rc = fn(arg, item, e);
			if (rc != 0)
				break;
		}
		if (rc < 0)
			goto out;
		next = json_string_value(json_object_get(
		    json_object_get(o, "pagination"), "cursor"));
		if (rc > 0 || next == NULL || *next == '\0' ||
		    json_array_size(data) == 0)
			break;
		if (cursor != NULL && strcmp(cursor, next) == 0) {
			sv_err_set(e, EX_PROTOCOL,
			    "Helix GET %s: the same page cursor twice", path);
			goto out;
		}
		free(cursor);
		cursor = strdup(next);
		json_decref(o);
		o = NULL;
		if (cursor == NULL) {
			sv_err_set(e, EX_OSERR, "out of memory");
			goto out;
		}
	}
	ret = 0;
out:
	json_decref(o);
	free(cursor);
	sv_buf_fini(&q);
	return ret;
}

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void
copy_member(json_t *o, const char *key, char *out, size_t n)
{
	const char *v = json_string_value(json_object_get(o, key));

	(void)snprintf(out, n, "%s", v != NULL ? v : "");
}

/* 0 found, 1 not found, -1 error. */
static int
user_by(struct sv_helix *h, const char *key, const char *who,
    struct sv_helix_user *u, struct sv_err *e)
{
	struct sv_buf q;
	json_t *o = NULL, *d;
	int rc;

	sv_buf_init(&q);
	if (sv_helix_query_add(&q, key, who) < 0) {
		sv_buf_fini(&q);
		return sv_err_set(e, EX_OSERR, "out of memory");
	}
	rc = sv_helix_call(h, "GET", "/users", q.data, NULL, &o, e);
	sv_buf_fini(&q);
	if (rc < 0)
		return -1;
	d = json_array_get(json_object_get(o, "data"), 0);
	if (!json_is_object(d) || !json_is_string(json_object_get(d, "id"))) {
		json_decref(o);
		return 1;
	}
	copy_member(d, "id", u->id, sizeof(u->id));
	copy_member(d, "login", u->login, sizeof(u->login));
	copy_member(
	    d, "display_name", u->display_name, sizeof(u->display_name));
	json_decref(o);
	return 0;
}

int
sv_helix_user(struct sv_helix *h, const char *who, struct sv_helix_user *u,
    struct sv_err *e)
{
	char login[64];
	size_t i;
	int rc;

	memset(u, 0, sizeof(*u));
	if (who == NULL || *who == '\0' || strlen(who) >= sizeof(login))
		return sv_err_set(e, EX_DATAERR, "'%s' is not a Twitch login",
		    who != NULL ? who : "");
	if (all_digits(who)) {
		rc = user_by(h, "id", who, u, e);
		if (rc <= 0)
			return rc;
	}
	/* Logins are lowercase; Helix matches them case-insensitively, but
	 * we normalise so what we print matches what Twitch stores. */
	for (i = 0; who[i] != '\0'; i++)
		login[i] = (char)tolower((unsigned char)who[i]);
	login[i] = '\0';
	rc = user_by(h, "login", login, u, e);
	if (rc == 1)
		return sv_err_set(e, EX_DATAERR, "no Twitch user '%s'", who);
	return rc;
}

json_t *
sv_helix_eventsub_create(struct sv_helix *h, const char *type,
    const char *version, json_t *condition, json_t *transport, struct sv_err *e)
{
	json_t *body, *out = NULL, *sub;

	body = json_pack("{s:s,s:s,s:O,s:O}", "type", type, "version", version,
	    "condition", condition, "transport", transport);
	if (body == NULL) {
		sv_err_set(e, EX_SOFTWARE,
		    "cannot build the subscription request (type, version, condition or transport missing)");
		return NULL;
	}
	if (sv_helix_call(h, "POST", "/eventsub/subscriptions", NULL, body,
	        &out, e) < 0) {
		json_decref(body);
		return NULL;
	}
	json_decref(body);
	sub = json_array_get(json_object_get(out, "data"), 0);
	if (!json_is_object(sub)) {
		json_decref(out);
		sv_err_set(e, EX_PROTOCOL,
		    "Helix POST /eventsub/subscriptions: the answer has no subscription");
		return NULL;
	}
	json_incref(sub);
	json_decref(out);
	return sub;
}

struct list_filter {
	const char *status; /* applied here when not sent */
	const char *type;
	const char *user_id;
	sv_helix_item_fn *fn;
	void *arg;
};

static bool
cond_has_user(json_t *sub, const char *user_id)
{
	const char *k;
	json_t *v;

	json_object_foreach (json_object_get(sub, "condition"), k, v)
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), user_id) == 0)
			return true;
	return false;
}

static int
list_item(void *arg, json_t *item, struct sv_err *e)
{
	struct list_filter *f = arg;
	const char *s;

	if (f->status != NULL &&
	    ((s = json_string_value(json_object_get(item, "status"))) == NULL ||
	        strcmp(s, f->status) != 0))
		return 0;
	if (f->type != NULL &&
	    ((s = json_string_value(json_object_get(item, "type"))) == NULL ||
	        strcmp(s, f->type) != 0))
		return 0;
	if (f->user_id != NULL && !cond_has_user(item, f->user_id))
		return 0;
	return f->fn(f->arg, item, e);
}

int
sv_helix_eventsub_list(struct sv_helix *h, const char *status, const char *type,
    const char *user_id, sv_helix_item_fn *fn, void *arg, struct sv_err *e)
{
	struct list_filter f = { status, type, user_id, fn, arg };
	struct sv_buf q;
	int rc = -1;

	sv_buf_init(&q);
	if (sv_buf_append(&q, "", 0) < 0)
		goto oom;
	/* One filter to Helix (7.3); the rest are checked per item. */
	if (type != NULL) {
		if (sv_helix_query_add(&q, "type", type) < 0)
			goto oom;
		f.type = NULL;
	} else if (user_id != NULL) {
		if (sv_helix_query_add(&q, "user_id", user_id) < 0)
			goto oom;
		f.user_id = NULL;
	} else if (status != NULL) {
		if (sv_helix_query_add(&q, "status", status) < 0)
			goto oom;
		f.status = NULL;
	}
	rc = sv_helix_each(
	    h, "/eventsub/subscriptions", q.data, list_item, &f, e);
	sv_buf_fini(&q);
	return rc;
oom:
	sv_buf_fini(&q);
	return sv_err_set(e, EX_OSERR, "out of memory");
}

int
sv_helix_eventsub_delete(struct sv_helix *h, const char *id, struct sv_err *e)
{
	struct sv_buf q;
	int rc;

	sv_buf_init(&q);
	if (sv_helix_query_add(&q, "id", id) < 0) {
		sv_buf_fini(&q);
		return sv_err_set(e, EX_OSERR, "out of memory");
	}
	rc = sv_helix_call(
	    h, "DELETE", "/eventsub/subscriptions", q.data, NULL, NULL, e);
	sv_buf_fini(&q);
	return rc;
}
