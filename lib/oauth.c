/* oauth: the id server's OAuth endpoints; see oauth.h. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "cli.h"
#include "log.h"
#include "oauth.h"

#define DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"

void
sv_oauth_grant_fini(struct sv_oauth_grant *g)
{
	sv_cli_secret_free(g->access_token);
	sv_cli_secret_free(g->refresh_token);
	free(g->scopes);
	memset(g, 0, sizeof(*g));
}

void
sv_oauth_valid_fini(struct sv_oauth_valid *v)
{
	free(v->client_id);
	free(v->login);
	free(v->user_id);
	free(v->scopes);
	memset(v, 0, sizeof(*v));
}

void
sv_oauth_device_fini(struct sv_oauth_device *d)
{
	sv_cli_secret_free(d->device_code);
	free(d->user_code);
	free(d->verification_uri);
	memset(d, 0, sizeof(*d));
}

/* A copy of the string member `key`, NULL when absent or not a string. */
static char *
member_dup(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? strdup(s) : NULL;
}

/* A JSON array of strings (or null) as one space-separated string. */
static char *
scopes_join(json_t *a)
{
	struct sv_buf b;
	json_t *v;
	size_t i;

	sv_buf_init(&b);
	if (sv_buf_append(&b, "", 0) < 0)
		return NULL;
	json_array_foreach (a, i, v) {
		if (!json_is_string(v))
			continue;
		if ((b.len > 0 && sv_buf_append(&b, " ", 1) < 0) ||
		    sv_buf_append(
		        &b, json_string_value(v), json_string_length(v)) < 0) {
			sv_buf_fini(&b);
			return NULL;
		}
	}
	return b.data;
}

static json_t *
parse_object(const char *body, size_t len, const char *what, struct sv_err *e)
{
	json_error_t je;
	json_t *o;

	o = json_loadb(body, len, 0, &je);
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		sv_err_set(e, EX_PROTOCOL,
		    "%s: the answer is not a JSON object", what);
		return NULL;
	}
	return o;
}

static long
member_long(json_t *o, const char *key, long dflt)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) < 100000000)
		return (long)json_integer_value(v);
	return dflt;
}

int
sv_oauth_parse_grant(
    const char *body, size_t len, struct sv_oauth_grant *g, struct sv_err *e)
{
	json_t *o, *sc;

	memset(g, 0, sizeof(*g));
	o = parse_object(body, len, "token", e);
	if (o == NULL)
		return -1;
	g->access_token = member_dup(o, "access_token");
	if (g->access_token == NULL || g->access_token[0] == '\0') {
		json_decref(o);
		sv_oauth_grant_fini(g);
		return sv_err_set(
		    e, EX_PROTOCOL, "token: the answer has no access_token");
	}
	sv_log_add_secret(g->access_token);
	g->refresh_token = member_dup(o, "refresh_token");
	if (g->refresh_token != NULL && g->refresh_token[0] == '\0') {
		free(g->refresh_token);
		g->refresh_token = NULL;
	}
	sv_log_add_secret(g->refresh_token);
	/* The token endpoint calls it "scope" (an array); tolerate a
	 * space-separated string too. */
	sc = json_object_get(o, "scope");
	if (json_is_array(sc))
		g->scopes = scopes_join(sc);
	else if (json_is_string(sc))
		g->scopes = strdup(json_string_value(sc));
	g->expires_in = member_long(o, "expires_in", 0);
	json_decref(o);
	return 0;
}

int
sv_oauth_parse_valid(
    const char *body, size_t len, struct sv_oauth_valid *v, struct sv_err *e)
{
	json_t *o, *sc;

	memset(v, 0, sizeof(*v));
	o = parse_object(body, len, "validate", e);
	if (o == NULL)
		return -1;
	v->client_id = member_dup(o, "client_id");
	v->login = member_dup(o, "login");
	v->user_id = member_dup(o, "user_id");
	/* null or [] for app tokens (twitch-protocols.md 9 #24) */
	sc = json_object_get(o, "scopes");
	v->scopes = scopes_join(json_is_array(sc) ? sc : NULL);
	v->expires_in = member_long(o, "expires_in", 0);
	json_decref(o);
	if (v->client_id == NULL || v->scopes == NULL) {
		sv_oauth_valid_fini(v);
		return sv_err_set(
		    e, EX_PROTOCOL, "validate: the answer has no client_id");
	}
	return 0;
}

int
sv_oauth_parse_device(
    const char *body, size_t len, struct sv_oauth_device *d, struct sv_err *e)
{
	json_t *o;

	memset(d, 0, sizeof(*d));
	o = parse_object(body, len, "device", e);
	if (o == NULL)
		return -1;
	d->device_code = member_dup(o, "device_code");
	sv_log_add_secret(d->device_code);
	d->user_code = member_dup(o, "user_code");
	d->verification_uri = member_dup(o, "verification_uri");
	d->interval = member_long(o, "interval", 5);
	d->expires_in = member_long(o, "expires_in", 1800);
	json_decref(o);
	if (d->device_code == NULL || d->user_code == NULL ||
	    d->verification_uri == NULL) {
		sv_oauth_device_fini(d);
		return sv_err_set(e, EX_PROTOCOL,
		    "device: the answer lacks device_code, user_code or verification_uri");
	}
	return 0;
}

const char *
sv_oauth_error_message(const char *body, size_t len, char *out, size_t outlen)
{
	json_t *o, *m;

	if (outlen == 0)
		return out;
	out[0] = '\0';
	o = body != NULL ? json_loadb(body, len, 0, NULL) : NULL;
	m = json_object_get(o, "message");
	if (!json_is_string(m) || json_string_length(m) == 0)
		m = json_object_get(o, "error");
	if (json_is_string(m))
		(void)snprintf(out, outlen, "%s", json_string_value(m));
	json_decref(o);
	return out;
}

int
sv_oauth_scopes_normalize(const char *in, struct sv_buf *out)
{
	size_t start = out->len, n;

	if (sv_buf_append(out, "", 0) < 0)
		return -1;
	while (*in != '\0') {
		in += strspn(in, ", \t");
		n = strcspn(in, ", \t");
		if (n == 0)
			break;
		if ((out->len > start && sv_buf_append(out, " ", 1) < 0) ||
		    sv_buf_append(out, in, n) < 0)
			return -1;
		in += n;
	}
	return 0;
}

/* Append "&key=value" (no "&" for the first pair) to a form body. */
static int
form_add(struct sv_buf *b, const char *key, const char *value)
{
	if ((b->len > 0 && sv_buf_append(b, "&", 1) < 0) ||
	    sv_buf_append(b, key, strlen(key)) < 0 ||
	    sv_buf_append(b, "=", 1) < 0 || sv_http_urlencode(b, value) < 0)
		return -1;
	return 0;
}

/*
 * POST a form to the id server; the response is left in rs. The body
 * holds secrets, so the caller wipes it. -1 with e set when there is no
 * response at all.
 */
static int
post_form(const struct sv_oauth *o, const char *path, const struct sv_buf *b,
    struct sv_http_resp *rs, struct sv_err *e)
{
	static const char *const hdrs[] = {
		"Content-Type: application/x-www-form-urlencoded",
		"Accept: application/json",
		NULL,
	};
	struct sv_http_req rq;
	struct sv_buf url;
	int rc;

	sv_buf_init(&url);
	if (sv_buf_appendf(&url, "%s%s", o->id_url, path) < 0)
		return sv_err_set(e, EX_OSERR, "out of memory");
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.url = url.data;
	rq.headers = hdrs;
	rq.body = b->data != NULL ? b->data : "";
	rq.body_len = b->len;
	rc = sv_http_do(o->http, &rq, rs, e);
	sv_buf_fini(&url);
	return rc;
}

/*
 * Turn an unsuccessful id server answer into e: 5xx and 429 are the
 * server's trouble, everything else on these endpoints means the client,
 * the grant or the token was refused (section 6.9: branch on the status
 * first, the message second).
 */
static int
id_error(const char *what, const struct sv_http_resp *rs, struct sv_err *e)
{
	char msg[160];
	int ex;

	sv_oauth_error_message(rs->body.data, rs->body.len, msg, sizeof(msg));
	if (rs->status >= 500)
		ex = EX_UNAVAILABLE;
	else if (rs->status == 429)
		ex = EX_TEMPFAIL;
	else if (rs->status >= 400)
		ex = EX_NOPERM;
	else
		ex = EX_PROTOCOL;
	return sv_err_set(e, ex, "%s: the Twitch id server answered %ld%s%s",
	    what, rs->status, msg[0] != '\0' ? ": " : "", msg);
}

static int
need_client_id(const struct sv_oauth *o, struct sv_err *e)
{
	if (o->client_id == NULL || o->client_id[0] == '\0')
		return sv_err_set(e, EX_CONFIG,
		    "no client id: set TWITCH_CLIENT_ID to the id of your application at dev.twitch.tv");
	return 0;
}

static int
need_secret(const struct sv_oauth *o, const char *what, struct sv_err *e)
{
	if (o->client_secret == NULL || o->client_secret[0] == '\0')
		return sv_err_set(e, EX_CONFIG,
		    "%s needs the client secret of a confidential client: set TWITCH_CLIENT_SECRET or TWITCH_CLIENT_SECRET_FILE",
		    what);
	return 0;
}

/* POST a form and parse a grant out of a 200 answer. */
static int
grant_call(const struct sv_oauth *o, const char *what, struct sv_buf *form,
    struct sv_oauth_grant *g, struct sv_err *e)
{
	struct sv_http_resp rs;
	int rc = -1;

	sv_http_resp_init(&rs);
	if (form->data == NULL) {
		sv_err_set(e, EX_OSERR, "out of memory");
		goto out;
	}
	if (post_form(o, "/oauth2/token", form, &rs, e) < 0)
		goto out;
	if (rs.status != 200) {
		id_error(what, &rs, e);
		goto out;
	}
	if (sv_oauth_parse_grant(rs.body.data, rs.body.len, g, e) < 0) {
		sv_err_prefix(e, "%s", what);
		goto out;
	}
	rc = 0;
out:
	sv_buf_wipe(form);
	sv_http_resp_fini(&rs);
	return rc;
}

int
sv_oauth_device_start(const struct sv_oauth *o, const char *scopes,
    struct sv_oauth_device *d, struct sv_err *e)
{
	struct sv_http_resp rs;
	struct sv_buf form;
	int rc = -1;

	memset(d, 0, sizeof(*d));
	if (need_client_id(o, e) < 0)
		return -1;
	sv_buf_init(&form);
	sv_http_resp_init(&rs);
	/* The device endpoint's parameter is "scopes", plural (6.6). */
	if (form_add(&form, "client_id", o->client_id) < 0 ||
	    form_add(&form, "scopes", scopes) < 0) {
		sv_err_set(e, EX_OSERR, "out of memory");
		goto out;
	}
	if (post_form(o, "/oauth2/device", &form, &rs, e) < 0)
		goto out;
	if (rs.status != 200) {
		id_error("device authorization", &rs, e);
		goto out;
	}
	if (sv_oauth_parse_device(rs.body.data, rs.body.len, d, e) < 0)
		goto out;
	if (d->interval < 1)
		d->interval = 1;
	rc = 0;
out:
	sv_buf_fini(&form);
	sv_http_resp_fini(&rs);
	return rc;
}

enum sv_oauth_poll
sv_oauth_device_poll(const struct sv_oauth *o, const struct sv_oauth_device *d,
    const char *scopes, struct sv_oauth_grant *g, struct sv_err *e)
{
	struct sv_http_resp rs;
	struct sv_buf form;
	enum sv_oauth_poll res = SV_OAUTH_FAILED;
	char msg[160];

	memset(g, 0, sizeof(*g));
	sv_buf_init(&form);
	sv_http_resp_init(&rs);
	if (form_add(&form, "client_id", o->client_id) < 0 ||
	    form_add(&form, "scopes", scopes) < 0 ||
	    form_add(&form, "device_code", d->device_code) < 0 ||
	    form_add(&form, "grant_type", DEVICE_GRANT) < 0) {
		sv_err_set(e, EX_OSERR, "out of memory");
		goto out;
	}
	if (post_form(o, "/oauth2/token", &form, &rs, e) < 0)
		goto out;
	if (rs.status == 200) {
		if (sv_oauth_parse_grant(rs.body.data, rs.body.len, g, e) == 0)
			res = SV_OAUTH_GRANTED;
		goto out;
	}
	sv_oauth_error_message(rs.body.data, rs.body.len, msg, sizeof(msg));
	if (rs.status == 400 && strcmp(msg, "authorization_pending") == 0)
		res = SV_OAUTH_PENDING;
	else if (rs.status == 400 && strcmp(msg, "slow_down") == 0)
		res = SV_OAUTH_SLOW_DOWN;
	else if (strcmp(msg, "access_denied") == 0)
		sv_err_set(e, EX_NOPERM, "the authorization was denied");
	else if (rs.status == 400 &&
	    (strcmp(msg, "invalid device code") == 0 ||
	        strcmp(msg, "expired_token") == 0))
		sv_err_set(e, EX_NOPERM,
		    "the device code is no longer valid (denied, expired or already used)");
	else
		id_error("device token", &rs, e);
out:
	sv_buf_wipe(&form);
	sv_http_resp_fini(&rs);
	return res;
}

static long
elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - start->tv_sec) * 1000L +
	    (now.tv_nsec - start->tv_nsec) / 1000000L;
}

int
sv_oauth_device_wait(const struct sv_oauth *o, const struct sv_oauth_device *d,
    const char *scopes, struct sv_oauth_grant *g, struct sv_err *e)
{
	enum sv_oauth_poll res;
	struct timespec start;
	long interval = d->interval > 0 ? d->interval : 5;
	long life_ms = d->expires_in * 1000L, t;
	int net_errors = 0;

	memset(g, 0, sizeof(*g));
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (sv_cli_sleep_ms(interval * 1000L) < 0)
			return sv_err_set(
			    e, EX_TEMPFAIL, "interrupted: not logged in");
		res = sv_oauth_device_poll(o, d, scopes, g, e);
		if (res == SV_OAUTH_GRANTED)
			return 0;
		t = elapsed_ms(&start);
		if (res == SV_OAUTH_PENDING) {
			net_errors = 0;
		} else if (res == SV_OAUTH_SLOW_DOWN) {
			/* RFC 8628 3.5: five more seconds, from now on. */
			interval += 5;
			sv_log_info("slow_down: polling every %ld s", interval);
		} else if (t >= life_ms) {
			/* "invalid device code" after the code's lifetime:
			 * it expired rather than being denied. */
			break;
		} else if ((e->ex == EX_UNAVAILABLE || e->ex == EX_TEMPFAIL) &&
		    ++net_errors <= 3) {
			sv_log_warn("%s; trying again", e->msg);
		} else {
			return -1;
		}
		if (t + interval * 1000L > life_ms)
			break;
	}
	return sv_err_set(e, EX_TEMPFAIL,
	    "the code expired before it was authorized: run 'twitch-auth login' again");
}

int
sv_oauth_new_state(char state[SV_OAUTH_STATE_LEN])
{
	static const char b64u[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char r[16];
	unsigned v;
	size_t i, j = 0;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	/* 5 groups of 3 bytes give 20 characters; the last byte 2 more. */
	for (i = 0; i + 3 <= sizeof(r); i += 3) {
		v = (unsigned)r[i] << 16 | (unsigned)r[i + 1] << 8 | r[i + 2];
		state[j++] = b64u[(v >> 18) & 63];
		state[j++] = b64u[(v >> 12) & 63];
		state[j++] = b64u[(v >> 6) & 63];
		state[j++] = b64u[v & 63];
	}
	state[j++] = b64u[r[15] >> 2];
	state[j++] = b64u[(r[15] & 3) << 4];
	state[j] = '\0';
	explicit_bzero(r, sizeof(r));
	return 0;
}

int
sv_oauth_authorize_url(const struct sv_oauth *o, const char *redirect_uri,
    const char *scopes, const char *state, struct sv_buf *out)
{
	if (sv_buf_appendf(
	        out, "%s/oauth2/authorize?response_type=code", o->id_url) < 0 ||
	    sv_buf_append(out, "&client_id=", 11) < 0 ||
	    sv_http_urlencode(out, o->client_id) < 0 ||
	    sv_buf_append(out, "&redirect_uri=", 14) < 0 ||
	    sv_http_urlencode(out, redirect_uri) < 0 ||
	    sv_buf_append(out, "&scope=", 7) < 0 ||
	    sv_http_urlencode(out, scopes) < 0 ||
	    sv_buf_append(out, "&state=", 7) < 0 ||
	    sv_http_urlencode(out, state) < 0)
		return -1;
	return 0;
}

int
sv_oauth_code(const struct sv_oauth *o, const char *code,
    const char *redirect_uri, struct sv_oauth_grant *g, struct sv_err *e)
{
	struct sv_buf form;

	memset(g, 0, sizeof(*g));
	if (need_client_id(o, e) < 0 ||
	    need_secret(o, "the authorization code grant", e) < 0)
		return -1;
	sv_buf_init(&form);
	if (form_add(&form, "client_id", o->client_id) < 0 ||
	    form_add(&form, "client_secret", o->client_secret) < 0 ||
	    form_add(&form, "code", code) < 0 ||
	    form_add(&form, "grant_type", "authorization_code") < 0 ||
	    form_add(&form, "redirect_uri", redirect_uri) < 0)
		sv_buf_wipe(&form);
	return grant_call(o, "authorization code", &form, g, e);
}

int
sv_oauth_refresh(const struct sv_oauth *o, const char *refresh_token,
    struct sv_oauth_grant *g, struct sv_err *e)
{
	struct sv_buf form;

	memset(g, 0, sizeof(*g));
	if (need_client_id(o, e) < 0)
		return -1;
	sv_buf_init(&form);
	if (form_add(&form, "grant_type", "refresh_token") < 0 ||
	    form_add(&form, "refresh_token", refresh_token) < 0 ||
	    form_add(&form, "client_id", o->client_id) < 0 ||
	    (o->client_secret != NULL && o->client_secret[0] != '\0' &&
	        form_add(&form, "client_secret", o->client_secret) < 0))
		sv_buf_wipe(&form);
	return grant_call(o, "refresh", &form, g, e);
}

int
sv_oauth_client_credentials(
    const struct sv_oauth *o, struct sv_oauth_grant *g, struct sv_err *e)
{
	struct sv_buf form;

	memset(g, 0, sizeof(*g));
	if (need_client_id(o, e) < 0 ||
	    need_secret(o, "an app access token", e) < 0)
		return -1;
	sv_buf_init(&form);
	if (form_add(&form, "client_id", o->client_id) < 0 ||
	    form_add(&form, "client_secret", o->client_secret) < 0 ||
	    form_add(&form, "grant_type", "client_credentials") < 0)
		sv_buf_wipe(&form);
	return grant_call(o, "client credentials", &form, g, e);
}

int
sv_oauth_validate(const struct sv_oauth *o, const char *token,
    struct sv_oauth_valid *v, struct sv_err *e)
{
	struct sv_http_resp rs;
	struct sv_http_req rq;
	struct sv_buf url, auth;
	const char *hdrs[3];
	int rc = -1;

	memset(v, 0, sizeof(*v));
	sv_buf_init(&url);
	sv_buf_init(&auth);
	sv_http_resp_init(&rs);
	if (sv_buf_appendf(&url, "%s/oauth2/validate", o->id_url) < 0 ||
	    sv_buf_appendf(&auth, "Authorization: OAuth %s", token) < 0) {
		sv_err_set(e, EX_OSERR, "out of memory");
		goto out;
	}
	hdrs[0] = auth.data;
	hdrs[1] = "Accept: application/json";
	hdrs[2] = NULL;
	memset(&rq, 0, sizeof(rq));
	rq.url = url.data;
	rq.headers = hdrs;
	if (sv_http_do(o->http, &rq, &rs, e) < 0)
		goto out;
	if (rs.status != 200) {
		id_error("validate", &rs, e);
		goto out;
	}
	rc = sv_oauth_parse_valid(rs.body.data, rs.body.len, v, e);
out:
	sv_buf_fini(&url);
	sv_buf_wipe(&auth);
	sv_http_resp_fini(&rs);
	return rc;
}

int
sv_oauth_revoke(const struct sv_oauth *o, const char *token, struct sv_err *e)
{
	struct sv_http_resp rs;
	struct sv_buf form;
	char msg[160];
	int rc = -1;

	if (need_client_id(o, e) < 0)
		return -1;
	sv_buf_init(&form);
	sv_http_resp_init(&rs);
	if (form_add(&form, "client_id", o->client_id) < 0 ||
	    form_add(&form, "token", token) < 0) {
		sv_err_set(e, EX_OSERR, "out of memory");
		goto out;
	}
	if (post_form(o, "/oauth2/revoke", &form, &rs, e) < 0)
		goto out;
	if (rs.status == 200) {
		rc = 0;
		goto out;
	}
	sv_oauth_error_message(rs.body.data, rs.body.len, msg, sizeof(msg));
	if (rs.status == 400 && strcasecmp(msg, "Invalid token") == 0) {
		rc = 1;
		goto out;
	}
	id_error("revoke", &rs, e);
out:
	sv_buf_wipe(&form);
	sv_http_resp_fini(&rs);
	return rc;
}
