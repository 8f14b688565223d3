/* Unit tests for the envelope, ids, times, dedupe and log redaction. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dedupe.h"
#include "event.h"
#include "log.h"
#include "unit.h"

static void
test_envelope(void)
{
	json_t *env, *ev;
	char *s;

	ev = json_pack("{s:s,s:i}", "user_login", "bob", "viewers", 42);
	env = sv_event_new(
	    "abc", "channel.raid", "1", "irc", "2026-11-28T21:04:05.123Z", ev);
	CHECK(env != NULL, "envelope built");
	s = json_dumps(env, JSON_COMPACT);
	CHECK_STR(s,
	    "{\"id\":\"abc\",\"type\":\"channel.raid\",\"version\":\"1\","
	    "\"source\":\"irc\",\"time\":\"2026-11-28T21:04:05.123Z\","
	    "\"event\":{\"user_login\":\"bob\",\"viewers\":42}}",
	    "envelope fields in contract order, compact");
	free(s);
	json_decref(env);
	CHECK(sv_event_new("a", "t", "1", "s", NULL, json_array()) == NULL,
	    "event must be an object");
	CHECK(sv_event_new(NULL, "t", "1", "s", NULL, json_object()) == NULL,
	    "id is required");
	env = sv_event_new("a", "t", "1", "s", NULL, json_object());
	CHECK(env != NULL &&
	        strlen(json_string_value(json_object_get(env, "time"))) == 24,
	    "time defaults to now with milliseconds");
	json_decref(env);
}

static void
test_ids(void)
{
	char a[SV_EVENT_ID_LEN], b[SV_EVENT_ID_LEN];

	sv_event_id_hash("PRIVMSG #x :hi", 14, a);
	sv_event_id_hash("PRIVMSG #x :hi", 14, b);
	CHECK(strcmp(a, b) == 0, "hash id is stable");
	CHECK(strlen(a) == 36 && a[14] == '8', "hash id is UUID-shaped v8");
	sv_event_id_hash("PRIVMSG #x :ho", 14, b);
	CHECK(strcmp(a, b) != 0, "different bytes, different id");
	sv_event_uuid4(a);
	sv_event_uuid4(b);
	CHECK(strcmp(a, b) != 0 && a[14] == '4', "uuid4 random, version 4");
}

static void
test_times(void)
{
	char t[SV_EVENT_TIME_LEN];

	sv_event_time_from_ms(1764363845123LL, t);
	CHECK_STR(t, "2025-11-28T21:04:05.123Z", "epoch ms to RFC 3339");
	CHECK(sv_event_time_normalize("2026-03-14T18:05:12.660129480Z", t) == 0,
	    "nanoseconds parse");
	CHECK_STR(t, "2026-03-14T18:05:12.660Z", "nanoseconds cut to ms");
	sv_event_time_normalize("2026-03-14T18:05:12Z", t);
	CHECK_STR(t, "2026-03-14T18:05:12.000Z", "no fraction");
	sv_event_time_normalize("2026-03-14T20:05:12.5+02:00", t);
	CHECK_STR(t, "2026-03-14T18:05:12.500Z", "offset to UTC");
	CHECK(sv_event_time_normalize("2026-03-14 18:05:12Z", t) < 0,
	    "space separator rejected");
	CHECK(sv_event_time_normalize("2026-13-14T18:05:12Z", t) < 0,
	    "month 13 rejected");
	CHECK(sv_event_time_normalize("2026-03-14T18:05:12", t) < 0,
	    "missing zone rejected");
}

static void
test_path(void)
{
	json_t *o = json_pack("{s:s,s:{s:s,s:{s:i}}}", "type", "x", "event",
	    "broadcaster_user_login", "bob", "deep", "n", 3);

	CHECK_STR(sv_event_path_str(o, "type"), "x", "top-level path");
	CHECK_STR(sv_event_path_str(o, "event.broadcaster_user_login"), "bob",
	    "dotted path");
	CHECK(json_integer_value(sv_event_path(o, "event.deep.n")) == 3,
	    "three levels");
	CHECK(sv_event_path(o, "event.nope") == NULL, "missing key");
	CHECK(sv_event_path(o, "type.x") == NULL, "through a non-object");
	json_decref(o);
}

static void
test_write_epipe(void)
{
	struct sv_err e;
	json_t *o = json_pack("{s:i}", "a", 1);
	int p[2], rc;
	FILE *f;

	if (pipe(p) < 0)
		abort();
	close(p[0]);
	f = fdopen(p[1], "w");
	rc = sv_event_write(f, o, &e);
	CHECK(rc < 0 && e.ex == 0, "EPIPE is a quiet stop (ex 0)");
	fclose(f);
	json_decref(o);
}

static void
test_out(void)
{
	struct sv_dedupe *d = sv_dedupe_new(16);
	json_t *a = json_pack("{s:s}", "id", "a"),
	       *b = json_pack("{s:s}", "id", "b");
	json_t *none = json_pack("{s:i}", "n", 1);
	struct sv_event_out o = { tmpfile(), d, 3, 0 };
	struct sv_err e;
	char buf[256];
	size_t n;

	CHECK(sv_event_out_put(&o, a, &e) == 0, "first: go on");
	CHECK(sv_event_out_put(&o, a, &e) == 0 && o.printed == 1,
	    "the same id again: dropped, not counted");
	CHECK(sv_event_out_put(&o, none, &e) == 0 &&
	        sv_event_out_put(&o, none, &e) == 1 && e.ex == 0,
	    "no id: never dropped; the count reached: done, ex 0");
	CHECK(o.printed == 3, "three printed");
	rewind(o.f);
	n = fread(buf, 1, sizeof(buf) - 1, o.f);
	buf[n] = '\0';
	CHECK_STR(
	    buf, "{\"id\":\"a\"}\n{\"n\":1}\n{\"n\":1}\n", "what was written");
	fclose(o.f);
	o = (struct sv_event_out) { tmpfile(), NULL, 0, 0 };
	CHECK(sv_event_out_put(&o, b, &e) == 0 &&
	        sv_event_out_put(&o, b, &e) == 0 && o.printed == 2,
	    "no dedupe: every event, no count: never done");
	fclose(o.f);
	json_decref(a);
	json_decref(b);
	json_decref(none);
	sv_dedupe_free(d);
}

static void
test_dedupe(void)
{
	struct sv_dedupe *d = sv_dedupe_new(3);
	char id[16];
	int i, dup = 0;

	CHECK(!sv_dedupe_check(d, "a"), "first a is new");
	CHECK(sv_dedupe_check(d, "a"), "second a is a duplicate");
	sv_dedupe_check(d, "b");
	sv_dedupe_check(d, "c");
	sv_dedupe_check(d, "d"); /* evicts a */
	CHECK(!sv_dedupe_contains(d, "a"), "oldest evicted past the window");
	CHECK(sv_dedupe_contains(d, "b") && sv_dedupe_contains(d, "d"),
	    "window keeps the newest");
	CHECK(sv_dedupe_count(d) == 3, "count bounded by the window");
	sv_dedupe_forget(d, "c");
	CHECK(!sv_dedupe_contains(d, "c") && sv_dedupe_count(d) == 2,
	    "forget removes");
	sv_dedupe_free(d);

	d = sv_dedupe_new(1000);
	for (i = 0; i < 100000; i++) {
		(void)snprintf(id, sizeof(id), "id%d", i);
		dup += sv_dedupe_check(d, id);
	}
	CHECK(dup == 0, "100000 distinct ids, no false duplicate");
	for (i = 99000; i < 100000; i++) {
		(void)snprintf(id, sizeof(id), "id%d", i);
		dup += !sv_dedupe_contains(d, id);
	}
	CHECK(dup == 0 && sv_dedupe_count(d) == 1000,
	    "last 1000 all present after churn");
	sv_dedupe_free(d);
}

static void
test_redact(void)
{
	char out[512];

	sv_log_redact(out, sizeof(out), "PASS oauth:abcdef123456");
	CHECK_STR(out, "PASS oauth:***", "oauth: token");
	sv_log_redact(out, sizeof(out), "Authorization: Bearer xyz.987_-a");
	CHECK_STR(out, "Authorization: Bearer ***", "Bearer token");
	sv_log_redact(out, sizeof(out), "amqp://guest:s3cret@host:5672");
	CHECK_STR(out, "amqp://guest:***@host:5672", "URL password");
	sv_log_redact(out, sizeof(out),
	    "{\"access_token\":\"abc\\\"d\",\"refresh_token\": \"zz\"}");
	CHECK_STR(out, "{\"access_token\":\"***\",\"refresh_token\": \"***\"}",
	    "JSON token fields");
	sv_log_redact(
	    out, sizeof(out), "grant_type=x&client_secret=hunter2&a=b");
	CHECK_STR(out, "grant_type=x&client_secret=***&a=b", "form secret");
	sv_log_add_secret("tok-XYZ-42");
	sv_log_redact(out, sizeof(out), "odd place tok-XYZ-42!");
	CHECK_STR(out, "odd place ***!", "registered secret anywhere");
	sv_log_forget_secrets();
	sv_log_redact(out, sizeof(out), "encode=fine token_count=3");
	CHECK_STR(out, "encode=fine token_count=3", "no false positives");
}

static void
test_cli_numbers(void)
{
	unsigned long v;
	long ms;

	CHECK(sv_cli_ulong("42", 1, 100, &v) == 0 && v == 42, "ulong ok");
	CHECK(sv_cli_ulong("-1", 0, 100, &v) < 0, "ulong no sign");
	CHECK(sv_cli_ulong("101", 1, 100, &v) < 0, "ulong range");
	CHECK(sv_cli_ulong("4x", 1, 100, &v) < 0, "ulong garbage");
	CHECK(sv_cli_ulong("99999999999999999999999", 0, ~0UL, &v) < 0,
	    "ulong overflow");
	CHECK(sv_cli_seconds_ms("2.5", 10000, &ms) == 0 && ms == 2500,
	    "seconds with fraction");
	CHECK(sv_cli_seconds_ms("0.001", 10000, &ms) == 0 && ms == 1,
	    "one millisecond");
	CHECK(sv_cli_seconds_ms("11", 10000, &ms) < 0, "seconds over max");
	CHECK(sv_cli_seconds_ms("1.", 10000, &ms) < 0, "dangling dot");
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as sv_cli_init does */
	sv_log_init("test-event");
	test_envelope();
	test_ids();
	test_times();
	test_path();
	test_write_epipe();
	test_out();
	test_dedupe();
	test_redact();
	test_cli_numbers();
	return unit_done();
}
