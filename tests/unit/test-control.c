/* Unit tests for the dashboard's control messages (lib/control). */
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

static void
test_lines(void)
{
	char id[SV_EVENT_ID_LEN], *s;
	struct sv_err e;
	json_t *o;
	size_t n;

	s = sv_control_mark("{\"id\":\"a\",\"type\":\"t\"}", 21, "replay", &n);
	CHECK_STR(s, "{\"id\":\"a\",\"type\":\"t\",\"replay\":true}",
	    "mark adds the key at the end, compact");
	CHECK(s != NULL && n == strlen(s), "and its length");
	free(s);
	CHECK(sv_control_mark("[1]", 3, "replay", &n) == NULL,
	    "mark needs an object");

	s = sv_control_test_line("cheer", "bob", &n, id, &e);
	o = s != NULL ? json_loads(s, 0, NULL) : NULL;
	CHECK(o != NULL &&
	        strcmp(json_string_value(json_object_get(o, "type")),
	            "channel.cheer") == 0 &&
	        json_is_true(json_object_get(o, "test")) &&
	        strcmp(json_string_value(json_object_get(o, "id")), id) == 0 &&
	        strcmp(
	            json_string_value(json_object_get(
	                json_object_get(o, "event"), "broadcaster_user_login")),
	            "bob") == 0,
	    "a test cheer for bob, marked, with the id given back");
	json_decref(o);
	free(s);
	CHECK(sv_control_test_line("nope", NULL, &n, id, &e) == NULL &&
	        e.ex == EX_DATAERR,
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

int
main(void)
{
	test_parse();
	test_lines();
	return unit_done();
}
