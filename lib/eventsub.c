/* eventsub: EventSub WebSocket messages; see eventsub.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "eventsub.h"
#include "types.h"

static const struct kind {
	const char *name;
	enum sv_eventsub_kind kind;
} kinds[] = {
	{ "session_welcome", SV_EVENTSUB_WELCOME },
	{ "session_keepalive", SV_EVENTSUB_KEEPALIVE },
	{ "notification", SV_EVENTSUB_NOTIFICATION },
	{ "session_reconnect", SV_EVENTSUB_RECONNECT },
	{ "revocation", SV_EVENTSUB_REVOCATION },
};

static bool
present(const char *s)
{
	return s != NULL && *s != '\0';
}

static int
bad(struct sv_err *e, const char *type, const char *why)
{
	return sv_err_set(e, EX_PROTOCOL, "%s%s%s", type != NULL ? type : "",
	    type != NULL ? ": " : "", why);
}

/* One envelope for (id, event) appended to out. */
static int
add_envelope(json_t *out, const char *id, json_t *event, const char *type,
    const char *version, const char *source, const char *time, json_t *raw)
{
	json_t *env;

	env = sv_event_new(id, type, version, source, time, json_incref(event));
	if (env == NULL)
		return -1;
	if (raw != NULL && json_object_set(env, "raw", raw) < 0) {
		json_decref(env);
		return -1;
	}
	return json_array_append_new(out, env);
}

json_t *
sv_eventsub_envelopes(const json_t *payload, const char *id, const char *type,
    const char *version, const char *source, const char *time, json_t *raw,
    const char **why)
{
	json_t *out, *event, *batch, *item;
	size_t i;

	event = json_object_get(payload, "event");
	batch = json_object_get(payload, "events");
	if (!json_is_object(event) &&
	    (!json_is_array(batch) || json_array_size(batch) == 0)) {
		*why = "no event object";
		return NULL;
	}
	if ((out = json_array()) == NULL) {
		*why = "out of memory";
		return NULL;
	}
	if (json_is_object(event)) {
		if (add_envelope(
		        out, id, event, type, version, source, time, raw) < 0) {
			*why = "id or type is not UTF-8";
			goto fail;
		}
		return out;
	}
	/* Batched subscriptions carry events:[{"id","data"}] (1.5). */
	json_array_foreach (batch, i, item) {
		const char *item_id = sv_event_path_str(item, "id");

		if (!present(item_id) ||
		    !json_is_object(json_object_get(item, "data"))) {
			*why = "a batched event without id or data";
			goto fail;
		}
		if (add_envelope(out, item_id, json_object_get(item, "data"),
		        type, version, source, time, raw) < 0) {
			*why = "event id or type is not UTF-8";
			goto fail;
		}
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

static int
notification(
    struct sv_eventsub_msg *m, json_t *payload, bool raw, struct sv_err *e)
{
	char time[SV_EVENT_TIME_LEN];
	const char *why;

	if (!present(m->sub_type) || !present(m->sub_version))
		return bad(e, m->type, "no subscription type or version");
	(void)sv_event_time_normalize(m->timestamp, time);
	m->events =
	    sv_eventsub_envelopes(payload, m->id, m->sub_type, m->sub_version,
	        SV_EVENTSUB_SOURCE, time, raw ? m->root : NULL, &why);
	if (m->events == NULL)
		return bad(e, m->type, why);
	return 0;
}

static int
session(struct sv_eventsub_msg *m, json_t *payload, struct sv_err *e)
{
	json_t *s = json_object_get(payload, "session"), *ka;

	if (!json_is_object(s))
		return bad(e, m->type, "no session object");
	m->session_id = sv_event_path_str(s, "id");
	m->reconnect_url = sv_event_path_str(s, "reconnect_url");
	ka = json_object_get(s, "keepalive_timeout_seconds");
	if (json_is_integer(ka) && json_integer_value(ka) > 0 &&
	    json_integer_value(ka) <= 3600)
		m->keepalive_s = (long)json_integer_value(ka);
	if (m->kind == SV_EVENTSUB_WELCOME && !present(m->session_id))
		return bad(e, m->type, "no session id");
	if (m->kind == SV_EVENTSUB_RECONNECT && !present(m->reconnect_url))
		return bad(e, m->type, "no reconnect_url");
	return 0;
}

int
sv_eventsub_parse(const char *data, size_t len, bool raw,
    struct sv_eventsub_msg *m, struct sv_err *e)
{
	json_t *md, *payload, *sub;
	json_error_t je;
	size_t i;

	memset(m, 0, sizeof(*m));
	m->kind = SV_EVENTSUB_UNKNOWN;
	m->root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (m->root == NULL)
		return sv_err_set(e, EX_PROTOCOL, "not JSON: %s", je.text);
	if (!json_is_object(m->root))
		return sv_err_set(e, EX_PROTOCOL, "not a JSON object");
	md = json_object_get(m->root, "metadata");
	if (!json_is_object(md))
		return bad(e, NULL, "no metadata object");
	m->id = sv_event_path_str(md, "message_id");
	m->type = sv_event_path_str(md, "message_type");
	m->timestamp = sv_event_path_str(md, "message_timestamp");
	if (!present(m->type))
		return bad(e, NULL, "no metadata.message_type");
	if (!present(m->id))
		return bad(e, m->type, "no metadata.message_id");
	if (sv_event_time_parse(m->timestamp, &m->ts) < 0)
		return bad(
		    e, m->type, "metadata.message_timestamp is not RFC 3339");
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].name, m->type) == 0)
			m->kind = kinds[i].kind;
	if (m->kind == SV_EVENTSUB_UNKNOWN || m->kind == SV_EVENTSUB_KEEPALIVE)
		return 0;
	payload = json_object_get(m->root, "payload");
	if (!json_is_object(payload))
		return bad(e, m->type, "no payload object");
	if (m->kind == SV_EVENTSUB_WELCOME || m->kind == SV_EVENTSUB_RECONNECT)
		return session(m, payload, e);
	sub = json_object_get(payload, "subscription");
	if (!json_is_object(sub))
		return bad(e, m->type, "no subscription object");
	m->sub_id = sv_event_path_str(sub, "id");
	m->sub_status = sv_event_path_str(sub, "status");
	/* The metadata names the type on both messages (1.2); the
	 * subscription object repeats it. */
	m->sub_type = sv_event_path_str(md, "subscription_type");
	if (!present(m->sub_type))
		m->sub_type = sv_event_path_str(sub, "type");
	m->sub_version = sv_event_path_str(md, "subscription_version");
	if (!present(m->sub_version))
		m->sub_version = sv_event_path_str(sub, "version");
	if (m->kind == SV_EVENTSUB_NOTIFICATION)
		return notification(m, payload, raw, e);
	if (!present(m->sub_type))
		return bad(e, m->type, "no subscription type");
	return 0;
}

void
sv_eventsub_msg_fini(struct sv_eventsub_msg *m)
{
	json_decref(m->events);
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
}

const char *
sv_eventsub_close_text(unsigned code)
{
	switch (code) {
	case SV_EVENTSUB_CLOSE_INTERNAL:
		return "internal server error";
	case SV_EVENTSUB_CLOSE_INBOUND:
		return "client sent inbound traffic";
	case SV_EVENTSUB_CLOSE_PING_PONG:
		return "client failed ping-pong";
	case SV_EVENTSUB_CLOSE_UNUSED:
		return "connection unused (no subscription in time)";
	case SV_EVENTSUB_CLOSE_GRACE:
		return "reconnect grace time expired";
	case SV_EVENTSUB_CLOSE_NET_TIMEOUT:
		return "network timeout";
	case SV_EVENTSUB_CLOSE_NET_ERROR:
		return "network error";
	case SV_EVENTSUB_CLOSE_BAD_RECONNECT:
		return "invalid reconnect";
	default:
		return "";
	}
}

void
sv_eventsub_close_action(unsigned code, struct sv_eventsub_close_action *a)
{
	memset(a, 0, sizeof(*a));
	switch (code) {
	case SV_EVENTSUB_CLOSE_INBOUND:
	case SV_EVENTSUB_CLOSE_PING_PONG:
		a->our_fault = true;
		break;
	case SV_EVENTSUB_CLOSE_UNUSED: /* subscribe faster: go again now */
	case SV_EVENTSUB_CLOSE_GRACE: /* the migration failed: go again */
	case SV_EVENTSUB_CLOSE_NET_TIMEOUT:
	case SV_EVENTSUB_CLOSE_NET_ERROR:
	case SV_EVENTSUB_CLOSE_BAD_RECONNECT: /* back to the base URL */
		a->at_once = true;
		break;
	default: /* 4000 and anything else: back off */
		break;
	}
}

/* Is (type, version) already in want[0..n)? */
static bool
wanted(const struct sv_eventsub_want *want, size_t n, const char *type,
    const char *version)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(want[i].type, type) == 0 &&
		    strcmp(want[i].version, version) == 0)
			return true;
	return false;
}

static bool
valid_name(const char *s, size_t n, const char *extra)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= '0' && s[i] <= '9') ||
		        strchr(extra, s[i]) != NULL) ||
		    s[i] == '\0')
			return false;
	return true;
}

int
sv_eventsub_want_parse(const char *list, struct sv_eventsub_want *want,
    size_t max, struct sv_err *e)
{
	const struct sv_type *t;
	const char *p = list, *end, *colon;
	char name[128];
	size_t n = 0, tl, vl;

	if (list == NULL || *list == '\0')
		return sv_err_set(e, EX_USAGE, "no types given");
	while (*p != '\0') {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		colon = memchr(p, ':', (size_t)(end - p));
		tl = (size_t)((colon != NULL ? colon : end) - p);
		vl = colon != NULL ? (size_t)(end - colon - 1) : 0;
		if (!valid_name(p, tl, "._-") || tl >= sizeof(name) ||
		    (colon != NULL &&
		        (!valid_name(colon + 1, vl, "") ||
		            vl >= sizeof(want[0].version))))
			return sv_err_set(e, EX_USAGE,
			    "'%.*s' is not TYPE or TYPE:VERSION",
			    (int)(end - p), p);
		memcpy(name, p, tl);
		name[tl] = '\0';
		t = sv_types_find(name);
		if (t != NULL && !t->eventsub)
			return sv_err_set(
			    e, EX_USAGE, "%s is not an EventSub type", name);
		if (n == max)
			return sv_err_set(e, EX_USAGE,
			    "more than %zu types (Twitch allows %d subscriptions per connection)",
			    max, SV_EVENTSUB_MAX_SUBS);
		(void)snprintf(want[n].type, sizeof(want[n].type), "%s",
		    t != NULL ? t->type : name);
		if (colon != NULL)
			(void)snprintf(want[n].version, sizeof(want[n].version),
			    "%.*s", (int)vl, colon + 1);
		else
			(void)snprintf(want[n].version, sizeof(want[n].version),
			    "%s", t != NULL ? t->version : "1");
		if (!wanted(want, n, want[n].type, want[n].version))
			n++;
		p = *end == ',' ? end + 1 : end;
	}
	if (n == 0)
		return sv_err_set(e, EX_USAGE, "no types given");
	return (int)n;
}

void
sv_eventsub_conn_init(
    struct sv_eventsub_conn *c, long keepalive_ms, long long now_ms)
{
	memset(c, 0, sizeof(*c));
	c->keepalive_ms = keepalive_ms;
	c->last_rx_ms = now_ms;
}

void
sv_eventsub_conn_fini(struct sv_eventsub_conn *c)
{
	free(c->reconnect_url);
	c->reconnect_url = NULL;
}

enum sv_eventsub_feed
sv_eventsub_conn_feed(struct sv_eventsub_conn *c, const char *data, size_t len,
    bool raw, long long now_ms, struct sv_eventsub_msg *m, struct sv_err *e)
{
	c->last_rx_ms = now_ms;
	if (sv_eventsub_parse(data, len, raw, m, e) < 0)
		return SV_EVENTSUB_FEED_BAD;
	if (c->session_id[0] == '\0' && m->kind != SV_EVENTSUB_WELCOME) {
		sv_err_set(e, EX_PROTOCOL,
		    "the first message is %.64s, not session_welcome", m->type);
		return SV_EVENTSUB_FEED_VIOLATION;
	}
	if (m->kind == SV_EVENTSUB_WELCOME) {
		if (c->session_id[0] != '\0') {
			sv_err_set(e, EX_PROTOCOL, "a second session_welcome");
			return SV_EVENTSUB_FEED_BAD;
		}
		if (strlen(m->session_id) >= sizeof(c->session_id)) {
			sv_err_set(e, EX_PROTOCOL, "session id too long");
			return SV_EVENTSUB_FEED_VIOLATION;
		}
		memcpy(c->session_id, m->session_id, strlen(m->session_id) + 1);
		if (m->keepalive_s > 0)
			c->keepalive_ms = m->keepalive_s * 1000;
		c->welcome_new = true;
	} else if (m->kind == SV_EVENTSUB_RECONNECT &&
	    c->reconnect_url == NULL) {
		c->reconnect_url = strdup(m->reconnect_url);
		if (c->reconnect_url == NULL) {
			sv_err_set(e, EX_OSERR, "out of memory");
			return SV_EVENTSUB_FEED_BAD;
		}
	}
	return SV_EVENTSUB_FEED_OK;
}

long long
sv_eventsub_conn_deadline(const struct sv_eventsub_conn *c)
{
	long margin = c->keepalive_ms / 5;

	/* twurple waits 1.2 times the window; a small window gets a
	 * second, for loaded machines and slow links. */
	return c->last_rx_ms + c->keepalive_ms +
	    (margin < 1000 ? 1000 : margin);
}

bool
sv_eventsub_stale(const struct sv_eventsub_msg *m, time_t now)
{
	return now - m->ts.tv_sec > SV_EVENTSUB_MAX_AGE_S;
}

enum sv_eventsub_sub_res
sv_eventsub_subscribe(struct sv_helix *hx, const struct sv_eventsub_want *w,
    const char *broadcaster_id, const char *user_id, const char *session_id,
    long long *cost, struct sv_err *e)
{
	json_t *cond, *tr, *sub;
	long st;

	cond =
	    sv_types_condition(sv_types_find(w->type), broadcaster_id, user_id);
	tr = json_pack(
	    "{s:s,s:s}", "method", "websocket", "session_id", session_id);
	if (cond == NULL || tr == NULL) {
		json_decref(cond);
		json_decref(tr);
		sv_err_set(e, EX_OSERR, "out of memory");
		return SV_EVENTSUB_SUB_FAILED;
	}
	sub = sv_helix_eventsub_create(hx, w->type, w->version, cond, tr, e);
	json_decref(cond);
	json_decref(tr);
	if (sub != NULL) {
		*cost = json_integer_value(json_object_get(sub, "cost"));
		json_decref(sub);
		return SV_EVENTSUB_SUB_CREATED;
	}
	st = sv_helix_status(hx);
	if (st == 409)
		return SV_EVENTSUB_SUB_EXISTS;
	if (st == 429) {
		/* 1.10: beyond the limits Helix answers 429 ("number of
		 * websocket transports limit exceeded", ...). */
		char msg[sizeof(e->msg)];

		memcpy(msg, e->msg, sizeof(msg));
		sv_err_set(e, EX_TEMPFAIL,
		    "%s v%s: %s (the limits: %d subscriptions per connection, %d connections per user, max_total_cost)",
		    w->type, w->version, msg, SV_EVENTSUB_MAX_SUBS,
		    SV_EVENTSUB_MAX_CONNS);
		return SV_EVENTSUB_SUB_LIMIT;
	}
	if (st >= 400 && st < 500) {
		sv_err_prefix(e, "%s v%s refused", w->type, w->version);
		return SV_EVENTSUB_SUB_REFUSED;
	}
	return SV_EVENTSUB_SUB_FAILED;
}

size_t
sv_eventsub_revoke(const struct sv_eventsub_want *want, bool *active, size_t n,
    const struct sv_eventsub_msg *m)
{
	size_t i, left = 0;

	for (i = 0; i < n; i++) {
		if (strcmp(want[i].type, m->sub_type) == 0 &&
		    (m->sub_version == NULL ||
		        strcmp(want[i].version, m->sub_version) == 0))
			active[i] = false;
		left += active[i];
	}
	return left;
}

int
sv_eventsub_url(const char *url, long keepalive_s, char *out, size_t n)
{
	int len;

	if (strstr(url, "keepalive_timeout_seconds=") != NULL)
		len = snprintf(out, n, "%s", url);
	else
		len = snprintf(out, n, "%s%skeepalive_timeout_seconds=%ld", url,
		    strchr(url, '?') != NULL ? "&" : "?", keepalive_s);
	return len < 0 || (size_t)len >= n ? -1 : 0;
}
