/* Unit tests for ws-broadcast's events, filters and history (lib/bcast). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast.h"
#include "event.h"
#include "unit.h"

/* An event with this id, type and channel (NULL: left out). */
static int
make(struct sv_bcast_event *ev, const char *id, const char *type,
    const char *key, const char *login)
{
	char line[512];
	struct sv_err e;
	json_t *o;
	int rc;

	(void)snprintf(line, sizeof(line),
	    "{\"id\":\"%s\",\"type\":\"%s\",\"event\":{\"%s\":\"%s\"}}", id,
	    type, key != NULL ? key : "x", login != NULL ? login : "y");
	o = sv_event_parse(line, strlen(line), &e);
	rc = sv_bcast_event_init(ev, o, line, strlen(line));
	json_decref(o);
	return rc;
}

static void
test_event_and_filter(void)
{
	struct sv_bcast_filter f = { NULL, NULL };
	struct sv_bcast_event ev;
	const char *p;
	size_t len;

	CHECK(make(&ev, "a", "channel.cheer", "broadcaster_user_login",
	          "GlowCaster") == 0,
	    "event built");
	CHECK_STR(ev.login, "glowcaster", "login lower-cased");
	CHECK_STR(ev.id, "a", "id kept");
	p = sv_ws_frame_payload(ev.frame, &len);
	CHECK(len > 0 && p[0] == '{' && p[len - 1] == '}',
	    "the frame carries the line");
	CHECK(sv_bcast_match(&f, &ev), "no filter: everything");
	f.types = strdup("channel.follow,channel.cheer");
	CHECK(sv_bcast_match(&f, &ev), "type in the list");
	f.channels = strdup("bob,GLOWCASTER");
	CHECK(sv_bcast_match(&f, &ev), "channel in the list, any case");
	free(f.types);
	f.types = strdup("channel.che");
	CHECK(!sv_bcast_match(&f, &ev), "a prefix is not a type");
	sv_bcast_filter_fini(&f);
	CHECK(f.types == NULL && f.channels == NULL, "filter cleared");
	sv_bcast_event_fini(&ev);

	CHECK(make(&ev, "r", "channel.raid", "to_broadcaster_user_login",
	          "bob") == 0 &&
	        ev.login != NULL && strcmp(ev.login, "bob") == 0,
	    "raids: the receiving channel");
	f.channels = strdup("alice");
	CHECK(!sv_bcast_match(&f, &ev), "another channel");
	sv_bcast_filter_fini(&f);
	sv_bcast_event_fini(&ev);
	CHECK(make(&ev, "n", "stream.online", NULL, NULL) == 0 &&
	        ev.login == NULL,
	    "no channel field");
	f.channels = strdup("alice");
	CHECK(!sv_bcast_match(&f, &ev),
	    "an event without a channel fails a "
	    "channel filter");
	sv_bcast_filter_fini(&f);
	sv_bcast_event_fini(&ev);
}

static void
test_history(void)
{
	struct sv_bcast_filter cheers = { NULL, NULL }, any = { NULL, NULL };
	struct sv_bcast_history h;
	struct sv_bcast_event ev;
	char id[16];
	int i;

	CHECK(sv_bcast_history_init(&h, 4) == 0, "history of 4");
	CHECK(sv_bcast_history_tail(&h, 3, &any) == 0, "empty: nothing");
	for (i = 1; i <= 6; i++) {
		(void)snprintf(id, sizeof(id), "e%d", i);
		make(&ev, id, i % 2 ? "channel.cheer" : "channel.follow", NULL,
		    NULL);
		sv_bcast_history_push(&h, &ev);
		CHECK(ev.frame == NULL, "push takes the event");
	}
	CHECK(h.len == 4, "full at 4");
	CHECK_STR(sv_bcast_history_at(&h, 0)->id, "e3", "oldest kept: e3");
	CHECK_STR(sv_bcast_history_at(&h, 3)->id, "e6", "newest: e6");
	CHECK(sv_bcast_history_find(&h, "e2") == NULL, "e2 is gone");
	CHECK(sv_bcast_history_find(&h, "e5") == sv_bcast_history_at(&h, 2),
	    "find e5");
	CHECK(sv_bcast_history_tail(&h, 2, &any) == 2, "last 2 of all");
	CHECK(sv_bcast_history_tail(&h, 10, &any) == 0, "more than kept");
	CHECK(sv_bcast_history_tail(&h, 0, &any) == 4, "none");
	cheers.types = strdup("channel.cheer");
	/* cheers are e3 and e5 */
	CHECK(sv_bcast_history_tail(&h, 1, &cheers) == 2, "last cheer: e5");
	CHECK(sv_bcast_history_tail(&h, 2, &cheers) == 0, "last 2 cheers");
	free(cheers.types);
	cheers.types = strdup("channel.raid");
	CHECK(sv_bcast_history_tail(&h, 3, &cheers) == 4, "no raid at all");
	sv_bcast_filter_fini(&cheers);
	sv_bcast_history_fini(&h);
}

static void
test_filter_parse(void)
{
	struct sv_bcast_filter f;
	struct sv_err e;
	long n;

	CHECK(sv_bcast_filter_parse(&f, "/", 1024, &n, &e) == 0 &&
	        f.types == NULL && f.channels == NULL && n == -1,
	    "no query: no filter, no replay count");
	CHECK(sv_bcast_filter_parse(&f,
	          "/?types=follow,,channel.cheer&channel=GlowCaster&replay=5",
	          1024, &n, &e) == 0,
	    "types, channel and replay");
	CHECK_STR(f.types, "channel.follow,channel.cheer",
	    "aliases name their types, empty items dropped");
	CHECK_STR(f.channels, "glowcaster", "the channel lower-cased");
	CHECK(n == 5, "the replay count");
	sv_bcast_filter_fini(&f);
	CHECK(
	    sv_bcast_filter_parse(&f, "/?types=&channel=", 1024, &n, &e) == 0 &&
	        f.types == NULL && f.channels == NULL,
	    "empty values are absent");
	CHECK(sv_bcast_filter_parse(
	          &f, "/?types=a&replay=1025", 1024, &n, &e) == -1 &&
	        f.types == NULL && n == -1 && e.ex == EX_DATAERR,
	    "a replay count over the maximum: refused, nothing kept");
	CHECK(sv_bcast_filter_parse(
	          &f, "/?types=a&channel=%zz", 1024, &n, &e) == -1 &&
	        f.types == NULL && e.ex == EX_DATAERR &&
	        strcmp(e.msg, "bad ?channel=") == 0,
	    "a bad escape: refused, naming the parameter");
	CHECK(sv_bcast_filter_parse(&f, "/?replay=x", 1024, &n, &e) == -1,
	    "a replay count that is not a number");
	CHECK(sv_bcast_filter_parse(&f, "/?types=,,", 1024, &n, &e) == -1 &&
	        f.types == NULL && e.ex == EX_DATAERR &&
	        strcmp(e.msg, "bad ?types=") == 0,
	    "types with no item: refused, never a filter that lets all through");
}

int
main(void)
{
	test_event_and_filter();
	test_history();
	test_filter_parse();
	return unit_done();
}
