/*
 * Unit tests for lib/twitch: the HMAC test vectors of twitch-protocols.md
 * section 2.4 and 2.5, and every verdict of a webhook delivery.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "log.h"
#include "twitch.h"
#include "unit.h"

static const char secret[] = "s3rvitor-test-secret";

/* Section 2.4: a channel.follow v2 notification, 559 bytes. */
static const char follow_id[] = "9d3b5a1e-4c2f-4e77-8a10-2f6c0b7d1e42";
static const char follow_ts[] = "2026-03-14T18:22:05.123456789Z";
static const char follow_body[] =
    "{\"subscription\":{\"id\":\"f1c2d3e4-0000-4a5b-8c9d-112233445566\","
    "\"status\":\"enabled\",\"type\":\"channel.follow\",\"version\":\"2\","
    "\"condition\":{\"broadcaster_user_id\":\"1337\",\"moderator_user_id\":"
    "\"1337\"},\"transport\":{\"method\":\"webhook\",\"callback\":"
    "\"https://alerts.example.org/eventsub\"},\"created_at\":"
    "\"2026-03-01T10:00:00.000000000Z\",\"cost\":0},\"event\":{\"user_id\":"
    "\"424242\",\"user_login\":\"pixelpanda\",\"user_name\":\"PixelPanda\","
    "\"broadcaster_user_id\":\"1337\",\"broadcaster_user_login\":"
    "\"servitorbot\",\"broadcaster_user_name\":\"ServitorBot\","
    "\"followed_at\":\"2026-03-14T18:22:04.987654321Z\"}}";
static const char follow_sig[] =
    "sha256=2ab9caee905b2cd391b8b5d5b57ea2246902ccd3c8989a871e4a852c4871ba7b";

/* Section 2.5 a: a webhook_callback_verification, 365 bytes. */
static const char chal_id[] = "5f0c1e2d-3b4a-4c5d-9e6f-7a8b9c0d1e2f";
static const char chal_ts[] = "2026-03-14T18:00:00.222222222Z";
static const char chal_body[] =
    "{\"challenge\":\"q7Zp-2mXv-88Lk-bananas\",\"subscription\":{\"id\":"
    "\"0b9e8d7c-6f5e-4d3c-9b2a-1a0f9e8d7c6b\",\"status\":"
    "\"webhook_callback_verification_pending\",\"type\":\"stream.online\","
    "\"version\":\"1\",\"condition\":{\"broadcaster_user_id\":\"1337\"},"
    "\"transport\":{\"method\":\"webhook\",\"callback\":"
    "\"https://alerts.example.org/eventsub\"},\"created_at\":"
    "\"2026-03-14T18:00:00.111111111Z\",\"cost\":1}}";
static const char chal_sig[] =
    "sha256=fd5fdc0ae1efcf3d6dd5c1107adade5ef104d3ee9db0f30b8a54d5ce65669170";

/* The time of follow_ts, in seconds since the epoch. */
static time_t
follow_now(void)
{
	struct timespec ts;

	(void)sv_event_time_parse(follow_ts, &ts);
	return ts.tv_sec;
}

static void
test_vectors(void)
{
	char sig[SV_TWITCH_SIG_LEN];

	CHECK(strlen(follow_body) == 559, "section 2.4 body is 559 bytes");
	CHECK(strlen(chal_body) == 365, "section 2.5 body is 365 bytes");
	CHECK(sv_twitch_sign(secret, follow_id, follow_ts, follow_body,
	          strlen(follow_body), sig) == 0,
	    "sign");
	CHECK_STR(sig, follow_sig, "section 2.4 notification vector");
	CHECK(sv_twitch_sign(secret, chal_id, chal_ts, chal_body,
	          strlen(chal_body), sig) == 0,
	    "sign");
	CHECK_STR(sig, chal_sig, "section 2.5 challenge vector");
	CHECK(sv_twitch_verify(secret, follow_id, follow_ts, follow_body,
	          strlen(follow_body), follow_sig),
	    "verify accepts the vector");
}

static void
test_verify_rejects(void)
{
	char sig[sizeof(follow_sig)], body[sizeof(follow_body)];
	size_t len = strlen(follow_body);

	CHECK(!sv_twitch_verify("s3rvitor-test-secreT", follow_id, follow_ts,
	          follow_body, len, follow_sig),
	    "another secret fails");
	memcpy(body, follow_body, sizeof(body));
	body[len - 3] = '2'; /* followed_at ...322Z */
	CHECK(!sv_twitch_verify(
	          secret, follow_id, follow_ts, body, len, follow_sig),
	    "a changed body fails");
	CHECK(!sv_twitch_verify(secret, follow_id, follow_ts, follow_body,
	          len - 1, follow_sig),
	    "a truncated body fails");
	CHECK(
	    !sv_twitch_verify(secret, follow_id,
	        "2026-03-14T18:22:05.12345678Z", follow_body, len, follow_sig),
	    "a re-formatted timestamp fails (headers are used verbatim)");
	CHECK(!sv_twitch_verify(
	          secret, chal_id, follow_ts, follow_body, len, follow_sig),
	    "another message id fails");
	memcpy(sig, follow_sig, sizeof(sig));
	sig[70] = sig[70] == '0' ? '1' : '0';
	CHECK(!sv_twitch_verify(
	          secret, follow_id, follow_ts, follow_body, len, sig),
	    "the last hex digit matters");
	memcpy(sig, follow_sig, sizeof(sig));
	memcpy(sig, "SHA256=", 7);
	CHECK(!sv_twitch_verify(
	          secret, follow_id, follow_ts, follow_body, len, sig),
	    "the prefix is sha256=");
	CHECK(!sv_twitch_verify(secret, follow_id, follow_ts, follow_body, len,
	          follow_sig + 7),
	    "hex without the prefix fails");
	CHECK(!sv_twitch_verify(
	          secret, follow_id, follow_ts, follow_body, len, ""),
	    "an empty signature fails");
	CHECK(!sv_twitch_verify(
	          secret, follow_id, follow_ts, follow_body, len, NULL),
	    "no signature fails");
	/* Concatenation, not fields: moving a byte from id to timestamp
	 * keeps the HMAC input, which is why Twitch's ids have a fixed
	 * shape. Documented, not a bug of ours. */
	CHECK(sv_twitch_verify(secret, "9d3b5a1e-4c2f-4e77-8a10-2f6c0b7d1e4",
	          "22026-03-14T18:22:05.123456789Z", follow_body, len,
	          follow_sig),
	    "the HMAC input is the plain concatenation");
}

static void
test_secret(void)
{
	struct sv_err e;
	char s[102];

	CHECK(sv_twitch_secret_check(secret, &e) == 0, "a good secret");
	CHECK(sv_twitch_secret_check("123456789", &e) < 0 && e.ex == EX_CONFIG,
	    "9 characters: EX_CONFIG");
	CHECK(sv_twitch_secret_check("1234567890", &e) == 0, "10 characters");
	memset(s, 'x', 100);
	s[100] = '\0';
	CHECK(sv_twitch_secret_check(s, &e) == 0, "100 characters");
	s[100] = 'x';
	s[101] = '\0';
	CHECK(sv_twitch_secret_check(s, &e) < 0 && strstr(e.msg, "101"),
	    "101 characters: EX_CONFIG, says how many");
	CHECK(strstr(e.msg, "xxxxxxxxxx") == NULL,
	    "the message does not show the secret");
	CHECK(sv_twitch_secret_check("0123456789\t", &e) < 0,
	    "control characters are refused");
	CHECK(sv_twitch_secret_check(NULL, &e) < 0 && e.ex == EX_CONFIG,
	    "no secret: EX_CONFIG");
}

static struct sv_twitch_delivery
follow_delivery(void)
{
	struct sv_twitch_delivery d = {
		.id = follow_id,
		.timestamp = follow_ts,
		.signature = follow_sig,
		.type = "notification",
		.sub_type = "channel.follow",
		.sub_version = "2",
		.body = follow_body,
		.body_len = sizeof(follow_body) - 1,
	};

	return d;
}

static void
test_notification(void)
{
	struct sv_twitch_delivery d = follow_delivery();
	struct sv_twitch_msg m;
	json_t *env, *want;

	CHECK(sv_twitch_delivery_check(&d, secret, follow_now(), 600, &m) ==
	        SV_TWITCH_NOTIFICATION,
	    "the vector is a notification");
	CHECK(json_array_size(m.events) == 1, "one envelope");
	env = json_array_get(m.events, 0);
	CHECK_STR(sv_event_path_str(env, "id"), follow_id, "id = message id");
	CHECK_STR(sv_event_path_str(env, "type"), "channel.follow",
	    "type from the subscription");
	CHECK_STR(sv_event_path_str(env, "version"), "2", "version");
	CHECK_STR(
	    sv_event_path_str(env, "source"), "eventsub-webhook", "source");
	CHECK_STR(sv_event_path_str(env, "time"), "2026-03-14T18:22:05.123Z",
	    "time = message timestamp in UTC milliseconds");
	want = json_loads(follow_body, 0, NULL);
	CHECK(json_equal(json_object_get(env, "event"),
	          json_object_get(want, "event")),
	    "event unchanged");
	json_decref(want);
	CHECK(sv_twitch_verdict_status(m.verdict) == 204, "answered 204");
	sv_twitch_msg_fini(&m);
}

static void
test_verification(void)
{
	struct sv_twitch_delivery d = {
		.id = chal_id,
		.timestamp = chal_ts,
		.signature = chal_sig,
		.type = "webhook_callback_verification",
		.body = chal_body,
		.body_len = sizeof(chal_body) - 1,
	};
	struct sv_twitch_msg m;
	struct timespec ts;

	(void)sv_event_time_parse(chal_ts, &ts);
	CHECK(sv_twitch_delivery_check(&d, secret, ts.tv_sec, 600, &m) ==
	        SV_TWITCH_VERIFICATION,
	    "a verification");
	CHECK_STR(m.challenge, "q7Zp-2mXv-88Lk-bananas", "the raw challenge");
	CHECK_STR(m.sub_type, "stream.online", "its subscription type");
	CHECK(sv_twitch_verdict_status(m.verdict) == 200, "answered 200");
	sv_twitch_msg_fini(&m);
}

/* Sign body with id/ts and run the check at time now. */
static enum sv_twitch_verdict
signed_check(const char *type, const char *ts, const char *body, time_t now,
    struct sv_twitch_msg *m)
{
	static char sig[SV_TWITCH_SIG_LEN];
	struct sv_twitch_delivery d = {
		.id = "0f0e0d0c-aaaa-4bbb-8ccc-000000000001",
		.timestamp = ts,
		.signature = sig,
		.type = type,
		.body = body,
		.body_len = strlen(body),
	};

	(void)sv_twitch_sign(secret, d.id, ts, body, d.body_len, sig);
	return sv_twitch_delivery_check(&d, secret, now, 600, m);
}

static void
test_rejections(void)
{
	struct sv_twitch_delivery d;
	struct sv_twitch_msg m;
	time_t now = follow_now();
	const char *ts = follow_ts;

	d = follow_delivery();
	d.signature = NULL;
	CHECK(sv_twitch_delivery_check(&d, secret, now, 600, &m) ==
	            SV_TWITCH_NO_HEADERS &&
	        sv_twitch_verdict_status(m.verdict) == 403,
	    "no signature header: 403");
	sv_twitch_msg_fini(&m);
	d = follow_delivery();
	d.id = "";
	CHECK(sv_twitch_delivery_check(&d, secret, now, 600, &m) ==
	        SV_TWITCH_NO_HEADERS,
	    "empty id header");
	sv_twitch_msg_fini(&m);
	d = follow_delivery();
	d.type = NULL;
	CHECK(sv_twitch_delivery_check(&d, secret, now, 600, &m) ==
	        SV_TWITCH_NO_HEADERS,
	    "no message type header");
	sv_twitch_msg_fini(&m);
	d = follow_delivery();
	CHECK(sv_twitch_delivery_check(&d, "another-secret", now, 600, &m) ==
	            SV_TWITCH_BAD_SIGNATURE &&
	        m.body == NULL,
	    "wrong secret: nothing parsed");
	sv_twitch_msg_fini(&m);

	d = follow_delivery();
	CHECK(sv_twitch_delivery_check(&d, secret, now + 601, 600, &m) ==
	            SV_TWITCH_STALE &&
	        sv_twitch_verdict_status(m.verdict) == 403,
	    "601 s old: stale, 403");
	sv_twitch_msg_fini(&m);
	CHECK(sv_twitch_delivery_check(&d, secret, now + 600, 600, &m) ==
	        SV_TWITCH_NOTIFICATION,
	    "600 s old: accepted");
	sv_twitch_msg_fini(&m);
	CHECK(sv_twitch_delivery_check(&d, secret, now - 61, 600, &m) ==
	            SV_TWITCH_FUTURE &&
	        sv_twitch_verdict_status(m.verdict) == 403,
	    "61 s ahead: future, 403");
	sv_twitch_msg_fini(&m);
	CHECK(sv_twitch_delivery_check(&d, secret, now - 60, 600, &m) ==
	        SV_TWITCH_NOTIFICATION,
	    "60 s ahead: clock skew accepted");
	sv_twitch_msg_fini(&m);

	CHECK(signed_check("notification", "yesterday", "{}", now, &m) ==
	        SV_TWITCH_BAD_TIMESTAMP,
	    "a signed timestamp that is no time");
	sv_twitch_msg_fini(&m);
	CHECK(signed_check("notification", ts, "{\"subscription\":", now, &m) ==
	            SV_TWITCH_BAD_JSON &&
	        sv_twitch_verdict_status(m.verdict) == 400,
	    "malformed JSON: 400");
	sv_twitch_msg_fini(&m);
	CHECK(signed_check("notification", ts, "[1]", now, &m) ==
	        SV_TWITCH_BAD_JSON,
	    "an array is not a message");
	sv_twitch_msg_fini(&m);
	CHECK(signed_check("notification", ts, "{\"a\":1,\"a\":2}", now, &m) ==
	        SV_TWITCH_BAD_JSON,
	    "duplicate keys are refused");
	sv_twitch_msg_fini(&m);
	CHECK(signed_check("notification", ts, "{\"event\":{}}", now, &m) ==
	        SV_TWITCH_BAD_MESSAGE,
	    "no subscription object");
	sv_twitch_msg_fini(&m);
	CHECK(signed_check("notification", ts,
	          "{\"subscription\":{\"type\":\"x\",\"version\":\"1\"}}", now,
	          &m) == SV_TWITCH_BAD_MESSAGE,
	    "a notification without event");
	sv_twitch_msg_fini(&m);
	CHECK(signed_check("notification", ts,
	          "{\"subscription\":{},\"event\":{}}", now,
	          &m) == SV_TWITCH_BAD_MESSAGE,
	    "no type anywhere");
	sv_twitch_msg_fini(&m);
	CHECK(signed_check("webhook_callback_verification", ts,
	          "{\"subscription\":{},\"challenge\":7}", now,
	          &m) == SV_TWITCH_BAD_MESSAGE,
	    "a challenge that is no string");
	sv_twitch_msg_fini(&m);
	CHECK(signed_check("gossip", ts, "{\"subscription\":{}}", now, &m) ==
	            SV_TWITCH_UNKNOWN_TYPE &&
	        sv_twitch_verdict_status(m.verdict) == 400,
	    "unknown message type: 400");
	sv_twitch_msg_fini(&m);
}

static void
test_kinds(void)
{
	struct sv_twitch_msg m;
	time_t now = follow_now();
	json_t *env;

	CHECK(signed_check("revocation", follow_ts,
	          "{\"subscription\":{\"id\":\"s1\",\"status\":"
	          "\"authorization_revoked\",\"type\":\"channel.cheer\","
	          "\"version\":\"1\"}}",
	          now, &m) == SV_TWITCH_REVOCATION,
	    "a revocation");
	CHECK_STR(m.sub_status, "authorization_revoked", "with its reason");
	CHECK(sv_twitch_verdict_status(m.verdict) == 204, "answered 204");
	sv_twitch_msg_fini(&m);

	CHECK(signed_check("notification", "2026-03-14T19:22:05+01:00",
	          "{\"subscription\":{\"type\":\"channel.brand_new\","
	          "\"version\":\"7\"},\"event\":{\"x\":[1,{\"y\":null}]}}",
	          now, &m) == SV_TWITCH_NOTIFICATION,
	    "an unknown subscription type is passed through");
	env = json_array_get(m.events, 0);
	CHECK_STR(
	    sv_event_path_str(env, "type"), "channel.brand_new", "its type");
	CHECK_STR(sv_event_path_str(env, "version"), "7", "its version");
	CHECK_STR(sv_event_path_str(env, "time"), "2026-03-14T18:22:05.000Z",
	    "an offset timestamp is normalised to UTC");
	sv_twitch_msg_fini(&m);

	CHECK(signed_check("notification", follow_ts,
	          "{\"subscription\":{\"type\":\"drop.entitlement.grant\","
	          "\"version\":\"1\"},\"events\":[{\"id\":\"e1\",\"data\":"
	          "{\"n\":1}},{\"id\":\"e2\",\"data\":{\"n\":2}}]}",
	          now, &m) == SV_TWITCH_NOTIFICATION,
	    "a batched notification");
	CHECK(json_array_size(m.events) == 2, "two envelopes");
	CHECK_STR(sv_event_path_str(json_array_get(m.events, 1), "id"), "e2",
	    "each with its own id");
	sv_twitch_msg_fini(&m);
}

static void
test_outgoing(void)
{
	struct sv_twitch_request r;
	struct sv_err e;
	json_t *ev, *sub;
	size_t n;

	ev = json_pack(
	    "{s:s,s:s}", "broadcaster_user_id", "1337", "user_id", "424242");
	sub = sv_twitch_subscription_new("s1", "enabled", "channel.follow", "2",
	    ev, "http://127.0.0.1/eventsub", "2026-03-14T18:22:05.1Z");
	CHECK_STR(sv_event_path_str(sub, "condition.moderator_user_id"), "1337",
	    "follow v2 condition: moderator = broadcaster");
	CHECK_STR(sv_event_path_str(sub, "transport.callback"),
	    "http://127.0.0.1/eventsub", "callback");
	CHECK(json_integer_value(json_object_get(sub, "cost")) == 0, "cost 0");
	json_decref(sub);
	json_decref(ev);
	ev = json_pack("{s:s}", "to_broadcaster_user_id", "99");
	sub = sv_twitch_subscription_new(
	    "s2", "enabled", "channel.raid", "1", ev, "x", "y");
	CHECK_STR(sv_event_path_str(sub, "condition.to_broadcaster_user_id"),
	    "99", "raid condition");
	CHECK(json_object_size(json_object_get(sub, "condition")) == 1,
	    "and nothing else");
	json_decref(sub);
	json_decref(ev);

	CHECK(sv_twitch_request_init(&r, secret, "notification", follow_id,
	          follow_ts, 0, "channel.follow", "2", follow_body,
	          strlen(follow_body), &e) == 0,
	    "request headers");
	for (n = 0; r.headers[n] != NULL; n++)
		;
	CHECK(n == 8, "eight headers");
	CHECK_STR(r.headers[5],
	    "Twitch-Eventsub-Message-Signature: sha256=2ab9caee905b2cd391b8b5d5b57ea2246902ccd3c8989a871e4a852c4871ba7b",
	    "signed like the vector");
	CHECK(sv_twitch_request_init(&r, NULL, "notification", "a\r\nX: y",
	          follow_ts, 0, "t", "1", "", 0, &e) < 0,
	    "header injection refused");
}

/* Sign the vector over and over; the number of wrong or failed ones. */
static void *
sign_many(void *arg)
{
	char sig[SV_TWITCH_SIG_LEN];
	long i, *bad = arg;

	for (i = 0; i < 2000; i++)
		if (sv_twitch_sign(secret, follow_id, follow_ts, follow_body,
		        strlen(follow_body), sig) < 0 ||
		    strcmp(sig, follow_sig) != 0)
			(*bad)++;
	return NULL;
}

/* sv_twitch_sign shares one HMAC template between MHD's threads. */
static void
test_sign_threads(void)
{
	pthread_t t[4];
	long bad[4] = { 0 }, sum = 0;
	int i, started = 0;

	for (i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, sign_many, &bad[i]) == 0)
			started++;
	for (i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		sum += bad[i];
	}
	CHECK(started == 4 && sum == 0,
	    "4 threads x 2000 signatures at once, all right");
}

int
main(void)
{
	sv_log_init("test-twitch");
	test_sign_threads();
	test_vectors();
	test_verify_rejects();
	test_secret();
	test_notification();
	test_verification();
	test_rejections();
	test_kinds();
	test_outgoing();
	return unit_done();
}
