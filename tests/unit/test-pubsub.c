/*
 * Unit tests for lib/eventsub and lib/pubsub: the messages of
 * twitch-protocols.md 1.2-1.7 and 4.2-4.5, the per-connection state, the
 * type lists, and the PubSub mapping into EventSub event shapes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "eventsub.h"
#include "log.h"
#include "pubsub.h"
#include "unit.h"

#define TS "2026-03-14T18:05:12.660129480Z"

static const char welcome[] =
    "{\"metadata\":{\"message_id\":\"w1\",\"message_type\":\"session_welcome\","
    "\"message_timestamp\":\"2026-03-14T18:00:01.104382919Z\"},\"payload\":"
    "{\"session\":{\"id\":\"AgoQ\",\"status\":\"connected\","
    "\"keepalive_timeout_seconds\":30,\"reconnect_url\":null,"
    "\"connected_at\":\"2026-03-14T18:00:01.097211004Z\"}}}";

static const char follow[] =
    "{\"metadata\":{\"message_id\":\"0d7b\",\"message_type\":\"notification\","
    "\"message_timestamp\":\"" TS "\",\"subscription_type\":\"channel.follow\","
    "\"subscription_version\":\"2\"},\"payload\":{\"subscription\":{\"id\":"
    "\"3e9a\",\"status\":\"enabled\",\"type\":\"channel.follow\","
    "\"version\":\"2\",\"cost\":0,\"condition\":{},\"transport\":{}},"
    "\"event\":{\"user_id\":\"77123456\",\"user_login\":\"pixelpanda\"}}}";

static const char reconnect[] =
    "{\"metadata\":{\"message_id\":\"r1\",\"message_type\":"
    "\"session_reconnect\",\"message_timestamp\":\"" TS "\"},\"payload\":"
    "{\"session\":{\"id\":\"AgoQ\",\"status\":\"reconnecting\","
    "\"keepalive_timeout_seconds\":null,\"reconnect_url\":"
    "\"wss://eventsub.wss.twitch.tv/ws?reconnect_id=X\"}}}";

static void
test_eventsub_parse(void)
{
	struct sv_eventsub_msg m;
	struct sv_err e;
	char buf[1024];
	json_t *env;

	CHECK(sv_eventsub_parse(welcome, strlen(welcome), false, &m, &e) == 0 &&
	        m.kind == SV_EVENTSUB_WELCOME && m.keepalive_s == 30,
	    "welcome: kind and keepalive");
	CHECK_STR(m.session_id, "AgoQ", "welcome: session id");
	sv_eventsub_msg_fini(&m);

	CHECK(sv_eventsub_parse(follow, strlen(follow), false, &m, &e) == 0 &&
	        m.kind == SV_EVENTSUB_NOTIFICATION &&
	        json_array_size(m.events) == 1,
	    "notification: one envelope");
	env = json_array_get(m.events, 0);
	CHECK_STR(sv_event_path_str(env, "id"), "0d7b", "id is the message id");
	CHECK_STR(sv_event_path_str(env, "time"), "2026-03-14T18:05:12.660Z",
	    "time is the message timestamp in ms");
	CHECK_STR(sv_event_path_str(env, "source"), "eventsub-ws", "source");
	CHECK_STR(sv_event_path_str(env, "version"), "2", "version");
	CHECK(json_object_get(env, "raw") == NULL, "no raw unless asked");
	sv_eventsub_msg_fini(&m);

	CHECK(sv_eventsub_parse(follow, strlen(follow), true, &m, &e) == 0,
	    "raw notification");
	env = json_array_get(m.events, 0);
	CHECK(json_is_object(sv_event_path(env, "raw.metadata")),
	    "raw is the whole frame");
	CHECK_STR(sv_event_path_str(env, "raw.metadata.message_type"),
	    "notification", "raw holds the frame's metadata");
	sv_eventsub_msg_fini(&m);

	CHECK(sv_eventsub_parse(reconnect, strlen(reconnect), false, &m, &e) ==
	            0 &&
	        m.kind == SV_EVENTSUB_RECONNECT && m.keepalive_s == 0,
	    "reconnect");
	CHECK_STR(m.reconnect_url,
	    "wss://eventsub.wss.twitch.tv/ws?reconnect_id=X", "reconnect URL");
	sv_eventsub_msg_fini(&m);

	/* Unknown types parse; garbage and wrong shapes do not. */
	(void)snprintf(buf, sizeof(buf),
	    "{\"metadata\":{\"message_id\":\"u\",\"message_type\":\"x_new\","
	    "\"message_timestamp\":\"%s\"}}",
	    TS);
	CHECK(sv_eventsub_parse(buf, strlen(buf), false, &m, &e) == 0 &&
	        m.kind == SV_EVENTSUB_UNKNOWN,
	    "unknown message type");
	sv_eventsub_msg_fini(&m);
	CHECK(sv_eventsub_parse("nope", 4, false, &m, &e) < 0 &&
	        e.ex == EX_PROTOCOL,
	    "not JSON");
	sv_eventsub_msg_fini(&m);
	CHECK(sv_eventsub_parse("[]", 2, false, &m, &e) < 0, "not an object");
	sv_eventsub_msg_fini(&m);
	(void)snprintf(buf, sizeof(buf),
	    "{\"metadata\":{\"message_id\":\"u\",\"message_type\":"
	    "\"notification\",\"message_timestamp\":\"%s\"},\"payload\":"
	    "{\"subscription\":{\"type\":\"t\",\"version\":\"1\"}}}",
	    TS);
	CHECK(sv_eventsub_parse(buf, strlen(buf), false, &m, &e) < 0,
	    "a notification without event");
	CHECK(strstr(e.msg, "no event object") != NULL, "says so");
	sv_eventsub_msg_fini(&m);
	(void)snprintf(buf, sizeof(buf),
	    "{\"metadata\":{\"message_id\":\"u\",\"message_type\":"
	    "\"session_welcome\",\"message_timestamp\":\"yesterday\"}}");
	CHECK(sv_eventsub_parse(buf, strlen(buf), false, &m, &e) < 0,
	    "a timestamp that is not RFC 3339");
	sv_eventsub_msg_fini(&m);
}

static void
test_eventsub_batch(void)
{
	struct sv_eventsub_msg m;
	struct sv_err e;
	char buf[1024];

	(void)snprintf(buf, sizeof(buf),
	    "{\"metadata\":{\"message_id\":\"b\",\"message_type\":"
	    "\"notification\",\"message_timestamp\":\"%s\"},\"payload\":"
	    "{\"subscription\":{\"type\":\"drop.entitlement.grant\","
	    "\"version\":\"1\"},\"events\":[{\"id\":\"e1\",\"data\":{\"a\":1}},"
	    "{\"id\":\"e2\",\"data\":{\"a\":2}}]}}",
	    TS);
	CHECK(sv_eventsub_parse(buf, strlen(buf), false, &m, &e) == 0 &&
	        json_array_size(m.events) == 2,
	    "a batch: one envelope per event");
	CHECK_STR(sv_event_path_str(json_array_get(m.events, 1), "id"), "e2",
	    "each with its own id");
	CHECK_STR(sv_event_path_str(json_array_get(m.events, 1), "type"),
	    "drop.entitlement.grant", "type from the subscription");
	sv_eventsub_msg_fini(&m);
}

static void
test_eventsub_conn(void)
{
	struct sv_eventsub_conn c;
	struct sv_eventsub_msg m;
	struct sv_err e;

	sv_eventsub_conn_init(&c, 10000, 1000);
	CHECK(sv_eventsub_conn_deadline(&c) == 1000 + 10000 + 2000,
	    "deadline: window plus a fifth");
	CHECK(sv_eventsub_conn_feed(&c, follow, strlen(follow), false, 1500, &m,
	          &e) == SV_EVENTSUB_FEED_VIOLATION,
	    "a notification before the welcome is a violation");
	sv_eventsub_msg_fini(&m);
	CHECK(sv_eventsub_conn_feed(&c, "x", 1, false, 1600, &m, &e) ==
	            SV_EVENTSUB_FEED_BAD &&
	        c.last_rx_ms == 1600,
	    "garbage is skipped but counts as traffic");
	sv_eventsub_msg_fini(&m);
	CHECK(sv_eventsub_conn_feed(&c, welcome, strlen(welcome), false, 2000,
	          &m, &e) == SV_EVENTSUB_FEED_OK &&
	        c.welcome_new && c.keepalive_ms == 30000,
	    "the welcome sets the session and the window");
	CHECK_STR(c.session_id, "AgoQ", "session id kept");
	sv_eventsub_msg_fini(&m);
	CHECK(sv_eventsub_conn_deadline(&c) == 2000 + 30000 + 6000,
	    "deadline from the last message");
	CHECK(sv_eventsub_conn_feed(&c, welcome, strlen(welcome), false, 2100,
	          &m, &e) == SV_EVENTSUB_FEED_BAD,
	    "a second welcome is skipped");
	sv_eventsub_msg_fini(&m);
	CHECK(sv_eventsub_conn_feed(&c, reconnect, strlen(reconnect), false,
	          2200, &m, &e) == SV_EVENTSUB_FEED_OK &&
	        c.reconnect_url != NULL,
	    "session_reconnect keeps the URL");
	sv_eventsub_msg_fini(&m);
	CHECK(sv_eventsub_conn_feed(&c, follow, strlen(follow), false, 2300, &m,
	          &e) == SV_EVENTSUB_FEED_OK,
	    "notifications go on");
	CHECK(!sv_eventsub_stale(&m, m.ts.tv_sec + 600) &&
	        sv_eventsub_stale(&m, m.ts.tv_sec + 601),
	    "stale after 10 minutes");
	sv_eventsub_msg_fini(&m);
	sv_eventsub_conn_fini(&c);

	sv_eventsub_conn_init(&c, 1000, 0);
	CHECK(sv_eventsub_conn_deadline(&c) == 2000, "at least a second more");
	sv_eventsub_conn_fini(&c);
}

static void
test_close_codes(void)
{
	struct sv_eventsub_close_action a;

	sv_eventsub_close_action(4000, &a);
	CHECK(!a.at_once && !a.our_fault, "4000: back off");
	sv_eventsub_close_action(4001, &a);
	CHECK(a.our_fault, "4001: our fault");
	sv_eventsub_close_action(4002, &a);
	CHECK(a.our_fault, "4002: our fault");
	sv_eventsub_close_action(4003, &a);
	CHECK(a.at_once, "4003: subscribe faster");
	sv_eventsub_close_action(4007, &a);
	CHECK(a.at_once, "4007: the base URL at once");
	sv_eventsub_close_action(1006, &a);
	CHECK(!a.at_once, "1006: back off");
	CHECK_STR(sv_eventsub_close_text(4003),
	    "connection unused (no subscription in time)", "4003 text");
	CHECK_STR(sv_eventsub_close_text(1000), "", "1000 text");
}

static void
test_want(void)
{
	struct sv_eventsub_want w[4];
	struct sv_err e;

	CHECK(sv_eventsub_want_parse(
	          "follow,channel.cheer,channel.follow:2,x.y:3", w, 4, &e) == 3,
	    "aliases, versions, duplicates");
	CHECK_STR(w[0].type, "channel.follow", "alias resolved");
	CHECK_STR(w[0].version, "2", "the current version");
	CHECK_STR(w[1].version, "1", "cheer v1");
	CHECK_STR(w[2].type, "x.y", "unknown type kept");
	CHECK_STR(w[2].version, "3", "given version");
	CHECK(sv_eventsub_want_parse("a,b,c,d,e", w, 4, &e) < 0 &&
	        e.ex == EX_USAGE,
	    "too many");
	CHECK(sv_eventsub_want_parse("a:", w, 4, &e) < 0, "empty version");
	CHECK(sv_eventsub_want_parse("a,,b", w, 4, &e) < 0, "empty item");
	CHECK(sv_eventsub_want_parse("A b", w, 4, &e) < 0, "bad characters");
	CHECK(sv_eventsub_want_parse("host", w, 4, &e) < 0,
	    "not an EventSub type");
	CHECK(sv_eventsub_want_parse("stream.online,", w, 4, &e) == 1,
	    "a trailing comma");
}

static void
test_revoke_url_types(void)
{
	struct sv_eventsub_want w[3];
	struct sv_eventsub_msg m;
	bool active[3] = { true, true, true };
	struct sv_err e;
	char url[64];

	CHECK(sv_eventsub_want_parse(
	          "channel.follow:2,channel.cheer,channel.raid", w, 3, &e) == 3,
	    "three wanted");
	memset(&m, 0, sizeof(m));
	m.sub_type = "channel.follow";
	m.sub_version = "1";
	CHECK(sv_eventsub_revoke(w, active, 3, &m) == 3 && active[0],
	    "a revocation of another version ends nothing");
	m.sub_version = NULL;
	CHECK(sv_eventsub_revoke(w, active, 3, &m) == 2 && !active[0],
	    "without a version: the type");
	m.sub_type = "channel.cheer";
	m.sub_version = "1";
	CHECK(sv_eventsub_revoke(w, active, 3, &m) == 1 && !active[1] &&
	        active[2],
	    "type and version: that one");

	CHECK(sv_eventsub_url("wss://h/ws", 30, url, sizeof(url)) == 0,
	    "url fits");
	CHECK_STR(
	    url, "wss://h/ws?keepalive_timeout_seconds=30", "keepalive added");
	CHECK(sv_eventsub_url("ws://h/ws?a=1", 10, url, sizeof(url)) == 0,
	    "url with a query");
	CHECK_STR(url, "ws://h/ws?a=1&keepalive_timeout_seconds=10",
	    "keepalive appended");
	CHECK(sv_eventsub_url("ws://h/?keepalive_timeout_seconds=5", 30, url,
	          sizeof(url)) == 0,
	    "url with its own keepalive");
	CHECK_STR(url, "ws://h/?keepalive_timeout_seconds=5", "kept as given");
	CHECK(
	    sv_eventsub_url("ws://a-rather-long-host.example/with/a/long/path",
	        30, url, sizeof(url)) < 0,
	    "too long: -1");

	CHECK(sv_pubsub_type_check("channel.cheer", "1", &e) == 0,
	    "PubSub carries cheers v1");
	CHECK(sv_pubsub_type_check("channel.follow", "2", &e) < 0 &&
	        e.ex == EX_USAGE && strstr(e.msg, "no topic") != NULL,
	    "no topic for follows");
	CHECK(sv_pubsub_type_check("channel.subscribe", "2", &e) < 0 &&
	        strstr(e.msg, "version 1") != NULL,
	    "only version 1");
}

/* The events of one PubSub MESSAGE with inner JSON on topic. */
static json_t *
ps_events(const char *topic, const char *inner, struct sv_pubsub_msg *m)
{
	json_t *frame = json_pack("{s:s,s:{s:s,s:s}}", "type", "MESSAGE",
	    "data", "topic", topic, "message", inner);
	struct sv_err e;
	char *s = json_dumps(frame, JSON_COMPACT);
	int rc = sv_pubsub_parse(s, strlen(s), false, m, &e);

	free(s);
	json_decref(frame);
	return rc == 0 ? m->events : NULL;
}

static void
test_pubsub_map(void)
{
	struct sv_pubsub_msg m;
	json_t *ev;

	ev = ps_events("channel-subscribe-events-v1.5",
	    "{\"user_name\":\"a\",\"display_name\":\"A\",\"user_id\":\"7\","
	    "\"channel_name\":\"c\",\"channel_id\":\"5\",\"time\":"
	    "\"2024-11-02T20:15:44.18Z\",\"sub_plan\":\"Prime\",\"context\":"
	    "\"sub\",\"is_gift\":false}",
	    &m);
	CHECK(json_array_size(ev) == 1, "sub: one event");
	ev = json_array_get(ev, 0);
	CHECK_STR(sv_event_path_str(ev, "type"), "channel.subscribe", "sub");
	CHECK_STR(sv_event_path_str(ev, "event.tier"), "1000", "Prime is 1000");
	CHECK_STR(sv_event_path_str(ev, "event.user_login"), "a", "login");
	CHECK_STR(sv_event_path_str(ev, "event.user_name"), "A", "name");
	CHECK_STR(sv_event_path_str(ev, "time"), "2024-11-02T20:15:44.180Z",
	    "the payload's time");
	CHECK(sv_event_path(ev, "event.broadcaster_user_name") == NULL,
	    "not carried: left out");
	sv_pubsub_msg_fini(&m);

	ev = ps_events("channel-subscribe-events-v1.5",
	    "{\"user_id\":\"7\",\"channel_id\":\"5\",\"sub_plan\":\"2000\","
	    "\"context\":\"anonsubgift\",\"recipient_id\":\"8\","
	    "\"recipient_user_name\":\"b\",\"recipient_display_name\":\"B\"}",
	    &m);
	CHECK(json_array_size(ev) == 2, "anonymous gift: gift and sub");
	CHECK(
	    json_is_null(sv_event_path(json_array_get(ev, 0), "event.user_id")),
	    "anonymous gifter is null");
	CHECK(json_is_true(
	          sv_event_path(json_array_get(ev, 0), "event.is_anonymous")),
	    "is_anonymous");
	CHECK_STR(sv_event_path_str(json_array_get(ev, 1), "event.user_id"),
	    "8", "the recipient's sub");
	CHECK(strcmp(sv_event_path_str(json_array_get(ev, 0), "id"),
	          sv_event_path_str(json_array_get(ev, 1), "id")) != 0,
	    "two ids");
	sv_pubsub_msg_fini(&m);

	ev = ps_events(
	    "channel-subscribe-events-v1.5", "{\"context\":\"extendsub\"}", &m);
	CHECK(json_array_size(ev) == 0 && m.skipped != NULL,
	    "extendsub: no event, a reason");
	sv_pubsub_msg_fini(&m);

	ev = ps_events("channel-bits-events-v2.5",
	    "{\"data\":{\"user_name\":\"a\",\"user_id\":\"7\",\"channel_id\":"
	    "\"5\",\"chat_message\":\"Cheer9\",\"bits_used\":9,"
	    "\"is_anonymous\":false},\"message_id\":\"b-1\"}",
	    &m);
	ev = json_array_get(ev, 0);
	CHECK_STR(sv_event_path_str(ev, "id"), "b-1", "bits: the message id");
	CHECK(json_integer_value(sv_event_path(ev, "event.bits")) == 9, "bits");
	sv_pubsub_msg_fini(&m);

	ev = ps_events("whispers.5", "{}", &m);
	CHECK(ev != NULL && json_array_size(ev) == 0, "other topics: nothing");
	sv_pubsub_msg_fini(&m);
	CHECK(ps_events("channel-bits-events-v2.5", "[1]", &m) == NULL,
	    "an inner message that is not an object");
	sv_pubsub_msg_fini(&m);
}

static void
test_pubsub_conn(void)
{
	static const char *const types[] = { "channel.subscribe",
		"channel.subscription.gift", "channel.cheer" };
	struct sv_pubsub_conn c;
	struct sv_pubsub_msg m;
	const char *topic = NULL;
	long long wake = 1000000;
	char resp[128], *frame;
	struct sv_err e;
	json_t *o;

	CHECK(sv_pubsub_conn_init(&c, types, 3, "5", 1000, 500, 0, &e) == 0 &&
	        c.ntopics == 2,
	    "two distinct topics");
	CHECK_STR(c.topic[1], "channel-bits-events-v2.5", "bits topic");
	frame = sv_pubsub_conn_listen(&c, 0, "tok123");
	o = frame != NULL ? json_loads(frame, 0, NULL) : NULL;
	CHECK(o != NULL && strlen(c.nonce[0]) == 32, "LISTEN with a nonce");
	CHECK_STR(sv_event_path_str(o, "data.auth_token"), "tok123",
	    "the bare token");
	CHECK_STR(sv_event_path_str(o, "nonce"), c.nonce[0], "our nonce");
	json_decref(o);
	free(frame);
	free(sv_pubsub_conn_listen(&c, 1, "tok123"));
	(void)snprintf(resp, sizeof(resp),
	    "{\"type\":\"RESPONSE\",\"nonce\":\"%s\",\"error\":\"\"}",
	    c.nonce[0]);
	CHECK(sv_pubsub_parse(resp, strlen(resp), false, &m, &e) == 0 &&
	        sv_pubsub_conn_response(&c, &m, &topic) ==
	            SV_PUBSUB_ANSWER_PENDING,
	    "one of two answered");
	CHECK(
	    sv_pubsub_conn_response(&c, &m, &topic) == SV_PUBSUB_ANSWER_UNKNOWN,
	    "a nonce answers once");
	sv_pubsub_msg_fini(&m);
	(void)snprintf(resp, sizeof(resp),
	    "{\"type\":\"RESPONSE\",\"nonce\":\"%s\",\"error\":\"ERR_BADAUTH\"}",
	    c.nonce[1]);
	CHECK(sv_pubsub_parse(resp, strlen(resp), false, &m, &e) == 0 &&
	        sv_pubsub_conn_response(&c, &m, &topic) ==
	            SV_PUBSUB_ANSWER_REFUSED &&
	        sv_pubsub_error_ex(m.error) == EX_NOPERM,
	    "ERR_BADAUTH refused: 77");
	CHECK_STR(topic, "channel-bits-events-v2.5", "names the topic");
	sv_pubsub_msg_fini(&m);
	CHECK(sv_pubsub_error_ex("ERR_BADTOPIC") == EX_DATAERR &&
	        sv_pubsub_error_ex("ERR_SERVER") == EX_UNAVAILABLE,
	    "other errors");

	CHECK(c.next_ping_ms >= 900 && c.next_ping_ms <= 1000,
	    "the first PING within 10 % early");
	CHECK(
	    sv_pubsub_conn_tick(&c, 500, &wake) == 0 && wake == c.next_ping_ms,
	    "nothing due yet");
	CHECK(sv_pubsub_conn_tick(&c, 1000, &wake) == 1, "PING due");
	sv_pubsub_conn_pinged(&c, 1000);
	wake = 1000000;
	CHECK(sv_pubsub_conn_tick(&c, 1400, &wake) == 0 && wake == 1500,
	    "waiting for the PONG");
	CHECK(sv_pubsub_conn_tick(&c, 1500, &wake) == -1, "PONG overdue");
	sv_pubsub_conn_pong(&c);
	CHECK(sv_pubsub_conn_tick(&c, 1500, &wake) == 0, "PONG came");
	CHECK(sv_pubsub_conn_init(&c, (const char *const[]) { "stream.online" },
	          1, "5", 1000, 500, 0, &e) < 0,
	    "a type without a topic");
}

int
main(void)
{
	sv_log_init("test-pubsub");
	test_eventsub_parse();
	test_eventsub_batch();
	test_eventsub_conn();
	test_close_codes();
	test_want();
	test_revoke_url_types();
	test_pubsub_map();
	test_pubsub_conn();
	return unit_done();
}
