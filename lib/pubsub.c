/* pubsub: the legacy Twitch PubSub protocol; see pubsub.h. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "buf.h"
#include "event.h"
#include "pubsub.h"

#define TOPIC_SUBS "channel-subscribe-events-v1"
#define TOPIC_BITS1 "channel-bits-events-v1"
#define TOPIC_BITS2 "channel-bits-events-v2"
#define TOPIC_POINTS "channel-points-channel-v1"

static bool
present(const char *s)
{
	return s != NULL && *s != '\0';
}

/* ev[to] = a copy of src[from] when src has it (and it is not null). */
static int
copy(json_t *ev, const char *to, const json_t *src, const char *from)
{
	json_t *v = json_object_get(src, from);

	if (v == NULL || json_is_null(v))
		return 0;
	return json_object_set_new(ev, to, json_deep_copy(v));
}

/* The same for strings only. */
static int
copy_str(json_t *ev, const char *to, const json_t *src, const char *from)
{
	json_t *v = json_object_get(src, from);

	if (!json_is_string(v))
		return 0;
	return json_object_set_new(ev, to, json_copy(v));
}

static int
set_null(json_t *ev, const char *key)
{
	return json_object_set_new(ev, key, json_null());
}

/* Is the topic "prefix.<channel id>"? */
static bool
topic_is(const char *topic, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(topic, prefix, n) == 0 && topic[n] == '.';
}

/*
 * Append the envelope of event (stolen) to m->events. id NULL: a hash
 * of the type and the message string, so a second delivery of the same
 * bytes has the same id, and the two events of one gift differ.
 */
static int
add_event(struct sv_pubsub_msg *m, const char *type, const char *id,
    const char *when, json_t *event, bool raw)
{
	const char *msg =
	    sv_event_path_str(json_object_get(m->root, "data"), "message");
	char hid[SV_EVENT_ID_LEN], t[SV_EVENT_TIME_LEN];
	struct sv_buf b;
	json_t *env;
	int rc;

	if (event == NULL)
		return -1;
	if (!present(id)) {
		sv_buf_init(&b);
		if (sv_buf_appendf(&b, "%s\n%s", type, msg) < 0) {
			json_decref(event);
			return -1;
		}
		sv_event_id_hash(b.data, b.len, hid);
		sv_buf_fini(&b);
		id = hid;
	}
	env = sv_event_new(id, type, "1", SV_PUBSUB_SOURCE,
	    sv_event_time_normalize(when, t) == 0 ? t : NULL, event);
	if (env == NULL)
		return -1;
	if (raw && json_object_set(env, "raw", m->inner) < 0) {
		json_decref(env);
		return -1;
	}
	rc = json_array_append_new(m->events, env);
	return rc;
}

/* EventSub tiers are "1000", "2000", "3000"; a Prime sub is tier 1. */
static int
tier(json_t *ev, const json_t *in)
{
	const char *plan = sv_event_path_str(in, "sub_plan");

	if (plan == NULL)
		return 0;
	return json_object_set_new(ev, "tier",
	    json_string(strcmp(plan, "Prime") == 0 ? "1000" : plan));
}

static int
broadcaster(json_t *ev, const json_t *in)
{
	return copy_str(ev, "broadcaster_user_id", in, "channel_id") |
	    copy_str(ev, "broadcaster_user_login", in, "channel_name");
}

/* sub_message {message, emotes:[{start,end,id}]} as EventSub's message
 * {text, emotes:[{begin,end,id}]}. */
static json_t *
sub_message(const json_t *in)
{
	json_t *sm = json_object_get(in, "sub_message"), *em, *out, *list, *x;
	size_t i;

	if (!json_is_object(sm))
		return NULL;
	out = json_object();
	if (out == NULL || copy_str(out, "text", sm, "message") < 0) {
		json_decref(out);
		return NULL;
	}
	em = json_object_get(sm, "emotes");
	if (!json_is_array(em)) {
		set_null(out, "emotes");
		return out;
	}
	list = json_array();
	json_array_foreach (em, i, x) {
		json_t *o = json_object();

		if (o == NULL || copy(o, "begin", x, "start") < 0 ||
		    copy(o, "end", x, "end") < 0 ||
		    copy(o, "id", x, "id") < 0 ||
		    json_array_append_new(list, o) < 0) {
			json_decref(list);
			json_decref(out);
			return NULL;
		}
	}
	json_object_set_new(out, "emotes", list);
	return out;
}

/* channel-subscribe-events-v1 (section 4.3 -> 3.2, 3.3, 3.4). */
static int
map_sub(struct sv_pubsub_msg *m, bool raw)
{
	const json_t *in = m->inner;
	const char *ctx = sv_event_path_str(in, "context"),
	           *when = sv_event_path_str(in, "time");
	json_t *ev, *gift, *msg, *mm;
	bool anon;
	int rc = 0;

	if (ctx == NULL) {
		m->skipped = "a subscription message without context";
		return 0;
	}
	if (strcmp(ctx, "sub") == 0 || strcmp(ctx, "resub") == 0) {
		bool resub = ctx[0] == 'r';

		ev = json_object();
		if (ev == NULL)
			return -1;
		rc |= copy_str(ev, "user_id", in, "user_id");
		rc |= copy_str(ev, "user_login", in, "user_name");
		rc |= copy_str(ev, "user_name", in, "display_name");
		rc |= broadcaster(ev, in);
		rc |= tier(ev, in);
		if (!resub) {
			rc |= json_object_set_new(ev, "is_gift",
			    json_boolean(
			        json_is_true(json_object_get(in, "is_gift"))));
			if (rc != 0) {
				json_decref(ev);
				return -1;
			}
			return add_event(
			    m, "channel.subscribe", NULL, when, ev, raw);
		}
		msg = sub_message(in);
		if (msg != NULL)
			rc |= json_object_set_new(ev, "message", msg);
		rc |= copy(ev, "cumulative_months", in, "cumulative_months");
		/* PubSub omits streak_months when the user does not share
		 * it; EventSub says null then (3.4). */
		if (json_object_get(in, "streak_months") != NULL)
			rc |= copy(ev, "streak_months", in, "streak_months");
		else
			rc |= set_null(ev, "streak_months");
		mm = json_object_get(in, "multi_month_duration");
		if (json_is_integer(mm) && json_integer_value(mm) > 0)
			rc |= json_object_set_new(
			    ev, "duration_months", json_copy(mm));
		if (rc != 0) {
			json_decref(ev);
			return -1;
		}
		return add_event(
		    m, "channel.subscription.message", NULL, when, ev, raw);
	}
	if (strcmp(ctx, "subgift") != 0 && strcmp(ctx, "anonsubgift") != 0 &&
	    strcmp(ctx, "resubgift") != 0 &&
	    strcmp(ctx, "anonresubgift") != 0) {
		m->skipped = "a subscription context without an EventSub event";
		return 0;
	}
	/* One PubSub message per gifted sub: the gift (one sub, from the
	 * gifter) and the recipient's sub, as EventSub sends both (3.3). */
	anon = strncmp(ctx, "anon", 4) == 0;
	gift = json_object();
	if (gift == NULL)
		return -1;
	if (anon) {
		rc |= set_null(gift, "user_id");
		rc |= set_null(gift, "user_login");
		rc |= set_null(gift, "user_name");
	} else {
		rc |= copy_str(gift, "user_id", in, "user_id");
		rc |= copy_str(gift, "user_login", in, "user_name");
		rc |= copy_str(gift, "user_name", in, "display_name");
	}
	rc |= broadcaster(gift, in);
	rc |= json_object_set_new(gift, "total", json_integer(1));
	rc |= tier(gift, in);
	if (anon)
		rc |= set_null(gift, "cumulative_total");
	rc |= json_object_set_new(gift, "is_anonymous", json_boolean(anon));
	if (rc != 0) {
		json_decref(gift);
		return -1;
	}
	if (add_event(m, "channel.subscription.gift", NULL, when, gift, raw) <
	    0)
		return -1;
	ev = json_object();
	if (ev == NULL)
		return -1;
	rc |= copy_str(ev, "user_id", in, "recipient_id");
	rc |= copy_str(ev, "user_login", in, "recipient_user_name");
	rc |= copy_str(ev, "user_name", in, "recipient_display_name");
	rc |= broadcaster(ev, in);
	rc |= tier(ev, in);
	rc |= json_object_set_new(ev, "is_gift", json_true());
	if (rc != 0) {
		json_decref(ev);
		return -1;
	}
	return add_event(m, "channel.subscribe", NULL, when, ev, raw);
}

/* channel-bits-events-v1/v2 (section 4.4 -> 3.5). */
static int
map_bits(struct sv_pubsub_msg *m, bool raw)
{
	const json_t *d = json_object_get(m->inner, "data");
	json_t *ev;
	bool anon;
	int rc = 0;

	if (!json_is_object(d)) {
		m->skipped = "a bits message without data";
		return 0;
	}
	anon = json_is_true(json_object_get(d, "is_anonymous"));
	ev = json_object();
	if (ev == NULL)
		return -1;
	rc |= json_object_set_new(ev, "is_anonymous", json_boolean(anon));
	if (anon) {
		rc |= set_null(ev, "user_id");
		rc |= set_null(ev, "user_login");
		rc |= set_null(ev, "user_name");
	} else {
		/* user_name is the login here; PubSub has no display name. */
		rc |= copy_str(ev, "user_id", d, "user_id");
		rc |= copy_str(ev, "user_login", d, "user_name");
	}
	rc |= broadcaster(ev, d);
	rc |= copy_str(ev, "message", d, "chat_message");
	rc |= copy(ev, "bits", d, "bits_used");
	if (rc != 0) {
		json_decref(ev);
		return -1;
	}
	return add_event(m, "channel.cheer",
	    sv_event_path_str(m->inner, "message_id"),
	    sv_event_path_str(d, "time"), ev, raw);
}

/* channel-points-channel-v1 reward-redeemed (section 4.5 -> 3.8). */
static int
map_points(struct sv_pubsub_msg *m, bool raw)
{
	const json_t *d = json_object_get(m->inner, "data"), *r, *u, *rw;
	const char *type = sv_event_path_str(m->inner, "type"), *st;
	char status[32];
	json_t *ev, *reward;
	size_t i;
	int rc = 0;

	if (type == NULL || strcmp(type, "reward-redeemed") != 0) {
		m->skipped =
		    "a channel points message other than reward-redeemed";
		return 0;
	}
	r = json_object_get(d, "redemption");
	if (!json_is_object(r)) {
		m->skipped = "a reward-redeemed message without redemption";
		return 0;
	}
	u = json_object_get(r, "user");
	rw = json_object_get(r, "reward");
	ev = json_object();
	if (ev == NULL)
		return -1;
	rc |= copy_str(ev, "id", r, "id");
	rc |= copy_str(ev, "broadcaster_user_id", r, "channel_id");
	rc |= copy_str(ev, "user_id", u, "id");
	rc |= copy_str(ev, "user_login", u, "login");
	rc |= copy_str(ev, "user_name", u, "display_name");
	rc |= copy_str(ev, "user_input", r, "user_input");
	st = sv_event_path_str(r, "status");
	if (st != NULL && strlen(st) < sizeof(status)) {
		/* PubSub writes UNFULFILLED, EventSub unfulfilled. */
		for (i = 0; st[i] != '\0'; i++)
			status[i] = (char)tolower((unsigned char)st[i]);
		status[i] = '\0';
		rc |= json_object_set_new(ev, "status", json_string(status));
	}
	if (json_is_object(rw)) {
		reward = json_object();
		rc |= copy_str(reward, "id", rw, "id");
		rc |= copy_str(reward, "title", rw, "title");
		rc |= copy(reward, "cost", rw, "cost");
		rc |= copy_str(reward, "prompt", rw, "prompt");
		rc |= json_object_set_new(ev, "reward", reward);
	}
	rc |= copy_str(ev, "redeemed_at", r, "redeemed_at");
	if (rc != 0) {
		json_decref(ev);
		return -1;
	}
	return add_event(m,
	    "channel.channel_points_custom_reward_redemption.add", NULL,
	    sv_event_path_str(r, "redeemed_at"), ev, raw);
}

static int
message(struct sv_pubsub_msg *m, bool raw, struct sv_err *e)
{
	json_t *data = json_object_get(m->root, "data"), *msg;
	json_error_t je;
	int rc;

	m->topic = sv_event_path_str(data, "topic");
	msg = json_object_get(data, "message");
	if (!present(m->topic) || !json_is_string(msg))
		return sv_err_set(e, EX_PROTOCOL,
		    "MESSAGE: no data.topic or data.message string");
	/* The message is a JSON document inside a JSON string (4.2). */
	m->inner = json_loadb(json_string_value(msg), json_string_length(msg),
	    JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(m->inner))
		return sv_err_set(e, EX_PROTOCOL,
		    "MESSAGE on %.64s: data.message is not a JSON object%s%s",
		    m->topic, m->inner == NULL ? ": " : "",
		    m->inner == NULL ? je.text : "");
	m->events = json_array();
	if (m->events == NULL)
		return sv_err_set(e, EX_OSERR, "out of memory");
	if (topic_is(m->topic, TOPIC_SUBS))
		rc = map_sub(m, raw);
	else if (topic_is(m->topic, TOPIC_BITS1) ||
	    topic_is(m->topic, TOPIC_BITS2))
		rc = map_bits(m, raw);
	else if (topic_is(m->topic, TOPIC_POINTS))
		rc = map_points(m, raw);
	else {
		m->skipped = "a topic without EventSub events";
		rc = 0;
	}
	if (rc < 0)
		return sv_err_set(e, EX_PROTOCOL,
		    "MESSAGE on %.64s: fields that are not UTF-8 or out of memory",
		    m->topic);
	return 0;
}

int
sv_pubsub_parse(const char *data, size_t len, bool raw, struct sv_pubsub_msg *m,
    struct sv_err *e)
{
	json_error_t je;

	memset(m, 0, sizeof(*m));
	m->kind = SV_PUBSUB_UNKNOWN;
	m->root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (m->root == NULL)
		return sv_err_set(e, EX_PROTOCOL, "not JSON: %s", je.text);
	if (!json_is_object(m->root))
		return sv_err_set(e, EX_PROTOCOL, "not a JSON object");
	m->type = sv_event_path_str(m->root, "type");
	if (!present(m->type))
		return sv_err_set(e, EX_PROTOCOL, "no \"type\" string");
	if (strcmp(m->type, "RESPONSE") == 0) {
		m->kind = SV_PUBSUB_RESPONSE;
		m->nonce = sv_event_path_str(m->root, "nonce");
		m->error = sv_event_path_str(m->root, "error");
		if (m->error == NULL)
			return sv_err_set(
			    e, EX_PROTOCOL, "RESPONSE without an error string");
		return 0;
	}
	if (strcmp(m->type, "PONG") == 0)
		m->kind = SV_PUBSUB_PONG;
	else if (strcmp(m->type, "RECONNECT") == 0)
		m->kind = SV_PUBSUB_RECONNECT;
	else if (strcmp(m->type, "MESSAGE") == 0) {
		m->kind = SV_PUBSUB_MESSAGE;
		return message(m, raw, e);
	}
	return 0;
}

void
sv_pubsub_msg_fini(struct sv_pubsub_msg *m)
{
	json_decref(m->events);
	json_decref(m->inner);
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
}

/* The topic prefix that carries an EventSub type ("channel.cheer" ->
 * "channel-bits-events-v2"), or NULL when PubSub has none. */
static const char *
topic_prefix(const char *type)
{
	if (strcmp(type, "channel.subscribe") == 0 ||
	    strcmp(type, "channel.subscription.message") == 0 ||
	    strcmp(type, "channel.subscription.gift") == 0)
		return TOPIC_SUBS;
	if (strcmp(type, "channel.cheer") == 0)
		return TOPIC_BITS2;
	if (strcmp(type,
	        "channel.channel_points_custom_reward_redemption.add") == 0)
		return TOPIC_POINTS;
	return NULL;
}

int
sv_pubsub_type_check(const char *type, const char *version, struct sv_err *e)
{
	if (topic_prefix(type) == NULL)
		return sv_err_set(e, EX_USAGE,
		    "PubSub has no topic for %s (subscriptions, cheers and channel points only)",
		    type);
	if (strcmp(version, "1") != 0)
		return sv_err_set(e, EX_USAGE,
		    "PubSub messages map into version 1 of %s", type);
	return 0;
}

/*
 * The LISTEN frame for topic with nonce and the bare user token (4.2),
 * compact; the caller wipes (it holds the token) and frees it. NULL when
 * out of memory or the strings are not UTF-8.
 */
static char *
listen_frame(const char *nonce, const char *topic, const char *token)
{
	json_t *o;
	char *s;

	o = json_pack("{s:s,s:s,s:{s:[s],s:s}}", "type", "LISTEN", "nonce",
	    nonce, "data", "topics", topic, "auth_token", token);
	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	/* jansson's copy of the token goes with the object; overwrite it. */
	{
		json_t *d = json_object_get(o, "data");
		json_t *t = json_object_get(d, "auth_token");

		if (t != NULL)
			explicit_bzero((char *)(uintptr_t)json_string_value(t),
			    json_string_length(t));
	}
	json_decref(o);
	return s;
}

int
sv_pubsub_error_ex(const char *error)
{
	if (strcmp(error, "ERR_BADAUTH") == 0)
		return EX_NOPERM;
	if (strcmp(error, "ERR_BADTOPIC") == 0)
		return EX_DATAERR;
	if (strcmp(error, "ERR_BADMESSAGE") == 0)
		return EX_PROTOCOL;
	return EX_UNAVAILABLE;
}

static long
jitter(long ms)
{
	unsigned r = 0;

	(void)RAND_bytes((unsigned char *)&r, sizeof(r));
	return ms - (long)(r % (unsigned)(ms / 10 + 1));
}

int
sv_pubsub_conn_init(struct sv_pubsub_conn *c, const char *const *types,
    size_t n, const char *channel_id, long ping_ms, long pong_timeout_ms,
    long long now_ms, struct sv_err *e)
{
	const char *prefix;
	size_t i, j;
	int w;

	memset(c, 0, sizeof(*c));
	c->ping_ms = ping_ms;
	c->pong_timeout_ms = pong_timeout_ms;
	c->next_ping_ms = now_ms + jitter(ping_ms);
	for (i = 0; i < n; i++) {
		prefix = topic_prefix(types[i]);
		if (prefix == NULL)
			return sv_err_set(e, EX_USAGE,
			    "PubSub has no topic for %s", types[i]);
		if (c->ntopics == SV_PUBSUB_MAX_LISTEN)
			return sv_err_set(e, EX_USAGE, "too many topics");
		w = snprintf(c->topic[c->ntopics], sizeof(c->topic[0]), "%s.%s",
		    prefix, channel_id);
		if (w < 0 || (size_t)w >= sizeof(c->topic[0]))
			return sv_err_set(e, EX_USAGE, "channel id too long");
		for (j = 0; j < c->ntopics; j++)
			if (strcmp(c->topic[j], c->topic[c->ntopics]) == 0)
				break;
		if (j == c->ntopics)
			c->ntopics++;
	}
	return 0;
}

char *
sv_pubsub_conn_listen(struct sv_pubsub_conn *c, size_t i, const char *token)
{
	static const char hex[] = "0123456789abcdef";
	const char *topic = c->topic[i];
	unsigned char rnd[16];
	size_t j;
	char *frame;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return NULL;
	for (j = 0; j < sizeof(rnd); j++) {
		c->nonce[i][2 * j] = hex[rnd[j] >> 4];
		c->nonce[i][2 * j + 1] = hex[rnd[j] & 15];
	}
	c->nonce[i][32] = '\0';
	frame = listen_frame(c->nonce[i], topic, token);
	if (frame != NULL)
		c->pending++;
	return frame;
}

enum sv_pubsub_answer
sv_pubsub_conn_response(
    struct sv_pubsub_conn *c, const struct sv_pubsub_msg *m, const char **topic)
{
	size_t i;

	for (i = 0; i < c->ntopics; i++)
		if (m->nonce != NULL && c->nonce[i][0] != '\0' &&
		    strcmp(c->nonce[i], m->nonce) == 0)
			break;
	if (i == c->ntopics)
		return SV_PUBSUB_ANSWER_UNKNOWN;
	*topic = c->topic[i];
	c->nonce[i][0] = '\0';
	if (*m->error != '\0')
		return SV_PUBSUB_ANSWER_REFUSED;
	if (c->pending > 0)
		c->pending--;
	return c->pending == 0 ? SV_PUBSUB_ANSWER_DONE :
	                         SV_PUBSUB_ANSWER_PENDING;
}

int
sv_pubsub_conn_tick(
    struct sv_pubsub_conn *c, long long now_ms, long long *wake_ms)
{
	long long at;

	if (c->ping_sent_ms != 0) {
		at = c->ping_sent_ms + c->pong_timeout_ms;
		if (now_ms >= at)
			return -1;
	} else {
		at = c->next_ping_ms;
		if (now_ms >= at)
			return 1;
	}
	if (at < *wake_ms)
		*wake_ms = at;
	return 0;
}

void
sv_pubsub_conn_pinged(struct sv_pubsub_conn *c, long long now_ms)
{
	c->ping_sent_ms = now_ms;
	c->next_ping_ms = now_ms + jitter(c->ping_ms);
}

void
sv_pubsub_conn_pong(struct sv_pubsub_conn *c)
{
	c->ping_sent_ms = 0;
}
