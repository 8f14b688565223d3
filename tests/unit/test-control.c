/* Unit tests for the dashboard's control messages (lib/control). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "unit.h"

static int
parse(const char *s, struct sv_control_req *r, struct sv_err *e)
{
	return sv_control_parse(s, strlen(s), r, e);
}

static void
test_parse(void)
{
	struct sv_control_req r;
	struct sv_err e;
	char big[400];

	CHECK(parse("{\"op\":\"replay\",\"id\":\"abc\"}", &r, &e) == 0 &&
	        r.op == SV_CONTROL_REPLAY && strcmp(r.id, "abc") == 0,
	    "replay with an id");
	CHECK(parse("{\"op\":\"test\",\"type\":\"cheer\",\"channel\":\"bob\"}",
	          &r, &e) == 0 &&
	        r.op == SV_CONTROL_TEST && strcmp(r.type, "cheer") == 0 &&
	        strcmp(r.channel, "bob") == 0,
	    "test with a type and a channel");
	CHECK(parse("{\"op\":\"test\",\"type\":\"raid\"}", &r, &e) == 0 &&
	        r.channel[0] == '\0',
	    "test without a channel");
	CHECK(parse("{\"op\":\"replay\"}", &r, &e) < 0 &&
	        r.op == SV_CONTROL_REPLAY && e.ex == EX_DATAERR,
	    "replay without an id: refused, op known");
	CHECK(parse("{\"op\":\"replay\",\"id\":\"\"}", &r, &e) < 0,
	    "an empty id");
	CHECK(parse("{\"op\":\"replay\",\"id\":7}", &r, &e) < 0,
	    "an id that is not a string");
	CHECK(parse("{\"op\":\"jump\"}", &r, &e) < 0 &&
	        r.op == SV_CONTROL_UNKNOWN && strcmp(e.msg, "unknown op") == 0,
	    "an unknown op");
	CHECK(
	    parse("[1]", &r, &e) < 0 && strcmp(e.msg, "not a JSON object") == 0,
	    "not an object");
	CHECK(
	    parse("{\"op\":\"replay\",\"id\":\"a\",\"id\":\"b\"}", &r, &e) < 0,
	    "duplicate keys");
	CHECK(parse("{\"op\":\"replay\",\"id\":\"a\\u0000b\"}", &r, &e) < 0,
	    "a NUL inside the id");
	memset(big, 'x', sizeof(big));
	memcpy(big, "{\"op\":\"replay\",\"id\":\"", 22);
	memcpy(big + sizeof(big) - 3, "\"}", 3);
	CHECK(parse(big, &r, &e) < 0, "an id longer than 255 bytes");
	CHECK(sv_control_parse(
	          "{\"op\":\"test\",\"type\":\"x\"}garbage", 24, &r, &e) == 0,
	    "only len bytes are read");
}

/* A lib/bcast event of the line s. */
static int
event(struct sv_bcast_event *ev, const char *s)
{
	json_t *o = json_loads(s, 0, NULL);
	int rc = sv_bcast_event_init(ev, o, s, strlen(s));

	json_decref(o);
	return rc;
}

/* The line an event carries, NUL-terminated in buf. */
static const char *
payload(const struct sv_bcast_event *ev, char *buf, size_t n)
{
	size_t len;
	const char *p = sv_ws_frame_payload(ev->frame, &len);

	(void)snprintf(buf, n, "%.*s", (int)len, p);
	return buf;
}

static void
test_lines(void)
{
	struct sv_bcast_event orig, ev;
	struct sv_control_req r;
	char buf[4096], *s;
	struct sv_err e;
	json_t *o;
	size_t n;

	CHECK(event(&orig,
	          "{\"id\":\"a\",\"type\":\"t\",\"event\":{"
	          "\"broadcaster_user_login\":\"Bob\"}}") == 0,
	    "an event");
	CHECK(sv_control_replay_event(&ev, &orig) == 0, "its replay");
	CHECK_STR(payload(&ev, buf, sizeof(buf)),
	    "{\"id\":\"a\",\"type\":\"t\",\"event\":{"
	    "\"broadcaster_user_login\":\"Bob\"},\"replay\":true}",
	    "the line with \"replay\" added at the end, compact");
	CHECK(ev.id != NULL && strcmp(ev.id, "a") == 0 && ev.type != NULL &&
	        strcmp(ev.type, "t") == 0 && ev.login != NULL &&
	        strcmp(ev.login, "bob") == 0,
	    "and the event's id, type and channel");
	sv_bcast_event_fini(&ev);
	sv_bcast_event_fini(&orig);
	orig.frame = sv_ws_frame_new(SV_WS_TEXT, "[1]", 3);
	CHECK(sv_control_replay_event(&ev, &orig) < 0 && ev.frame == NULL,
	    "a replay needs an object");
	sv_bcast_event_fini(&orig);

	CHECK(parse("{\"op\":\"test\",\"type\":\"cheer\",\"channel\":\"Bob\"}",
	          &r, &e) == 0 &&
	        strcmp(r.channel, "bob") == 0,
	    "a test's channel is a login: lower-cased");
	CHECK(sv_control_test_event(&ev, "cheer", r.channel, &e) == 0,
	    "a test cheer for bob");
	o = json_loads(payload(&ev, buf, sizeof(buf)), 0, NULL);
	CHECK(o != NULL &&
	        strcmp(json_string_value(json_object_get(o, "type")),
	            "channel.cheer") == 0 &&
	        json_is_true(json_object_get(o, "test")) &&
	        strcmp(json_string_value(json_object_get(o, "id")), ev.id) ==
	            0 &&
	        strcmp(
	            json_string_value(json_object_get(
	                json_object_get(o, "event"), "broadcaster_user_login")),
	            "bob") == 0,
	    "marked \"test\", for bob, its id the event's");
	CHECK(ev.type != NULL && strcmp(ev.type, "channel.cheer") == 0 &&
	        ev.login != NULL && strcmp(ev.login, "bob") == 0,
	    "and the event's type and channel, from the same line");
	json_decref(o);
	sv_bcast_event_fini(&ev);
	CHECK(sv_control_test_event(&ev, "raid", "", &e) == 0 &&
	        ev.login != NULL && strcmp(ev.type, "channel.raid") == 0,
	    "a test raid for the default channel");
	sv_bcast_event_fini(&ev);
	CHECK(sv_control_test_event(&ev, "nope", NULL, &e) < 0 &&
	        e.ex == EX_DATAERR && strcmp(e.msg, "unknown type") == 0 &&
	        ev.frame == NULL,
	    "an unknown type");

	o = sv_control_test_types();
	CHECK(json_is_array(o) && json_array_size(o) >= 10 &&
	        strcmp(json_string_value(json_array_get(o, 0)),
	            "channel.follow") == 0,
	    "the test types, EventSub names");
	s = json_dumps(o, JSON_COMPACT);
	CHECK(s != NULL && strstr(s, "\"channel.cheer\"") != NULL &&
	        strstr(s, "\"stream.offline\"") != NULL,
	    "cheers and stream.offline among them");
	free(s);
	json_decref(o);

	s = sv_control_reply(SV_CONTROL_REPLAY, "a", NULL, &n);
	CHECK_STR(
	    s, "{\"op\":\"replay\",\"ok\":true,\"id\":\"a\"}", "reply ok");
	free(s);
	s = sv_control_reply(SV_CONTROL_UNKNOWN, "", "unknown op", &n);
	CHECK_STR(s, "{\"op\":\"error\",\"ok\":false,\"error\":\"unknown op\"}",
	    "reply error, no empty id");
	free(s);
}

static void
test_queue(void)
{
	struct sv_control_queue q;
	struct sv_control_msg *m;
	int a, b, i, n;

	sv_control_queue_init(&q);
	CHECK(sv_control_queue_pop(&q) == NULL, "empty");
	CHECK(sv_control_queue_push(&q, &a, true, "one", 3) == 0 &&
	        sv_control_queue_push(&q, &b, true, "two!", 4) == 0 && q.n == 2,
	    "two kept, counted");
	m = sv_control_queue_pop(&q);
	CHECK(m != NULL && m->from == &a && m->error == NULL && m->len == 3 &&
	        strcmp(m->data, "one") == 0,
	    "the oldest first, a NUL-terminated copy, its sender");
	free(m);
	free(sv_control_queue_pop(&q));
	CHECK(q.n == 0 && sv_control_queue_pop(&q) == NULL,
	    "emptied: a new round");

	/* binary messages: the error to answer, a run of them one entry */
	(void)sv_control_queue_push(&q, &a, false, "\x01", 1);
	(void)sv_control_queue_push(&q, &a, false, "\x02", 1);
	(void)sv_control_queue_push(&q, &b, false, "\x03", 1);
	(void)sv_control_queue_push(&q, &a, true, "{}", 2);
	m = sv_control_queue_pop(&q);
	CHECK(m != NULL && m->from == &a && m->error != NULL &&
	        strcmp(m->error, SV_CONTROL_ERR_BINARY) == 0 && m->count == 2,
	    "two binary messages from one sender: one answer, twice");
	free(m);
	m = sv_control_queue_pop(&q);
	CHECK(m != NULL && m->from == &b && m->count == 1,
	    "another sender's: its own");
	free(m);
	m = sv_control_queue_pop(&q);
	CHECK(m != NULL && m->error == NULL && strcmp(m->data, "{}") == 0,
	    "then the text one, in order");
	free(m);

	/* past the limit: answered, not kept, and coalesced */
	for (i = 0; i < SV_CONTROL_QUEUE_MAX + 5; i++)
		(void)sv_control_queue_push(&q, &a, true, "x", 1);
	(void)sv_control_queue_push(&q, &b, true, "x", 1);
	(void)sv_control_queue_push(&q, &a, false, "x", 1);
	for (n = 0; (m = sv_control_queue_pop(&q)) != NULL && m->error == NULL;
	     n++)
		free(m);
	CHECK(n == SV_CONTROL_QUEUE_MAX, "SV_CONTROL_QUEUE_MAX kept");
	CHECK(m != NULL && m->from == &a &&
	        strcmp(m->error, SV_CONTROL_ERR_MANY) == 0 && m->count == 5,
	    "the next 5: one \"too many\" entry, counted");
	free(m);
	m = sv_control_queue_pop(&q);
	CHECK(m != NULL && m->from == &b &&
	        strcmp(m->error, SV_CONTROL_ERR_MANY) == 0 && m->count == 1,
	    "another sender's: its own");
	free(m);
	m = sv_control_queue_pop(&q);
	CHECK(m != NULL && m->from == &a &&
	        strcmp(m->error, SV_CONTROL_ERR_MANY) == 0,
	    "past the limit a binary one is one too many as well");
	free(m);
	CHECK(sv_control_queue_push(&q, &a, true, "y", 1) == 0 && q.n == 1,
	    "emptied: room again");
	sv_control_queue_fini(&q);
	CHECK(q.n == 0 && q.head == NULL && sv_control_queue_pop(&q) == NULL,
	    "fini frees the rest");
}

int
main(void)
{
	test_parse();
	test_lines();
	test_queue();
	return unit_done();
}
