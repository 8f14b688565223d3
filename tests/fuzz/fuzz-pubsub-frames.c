/*
 * libFuzzer harness: one WebSocket text frame from Twitch through what
 * twitch-pubsub does with it: lib/eventsub's parser and per-connection
 * state (welcome, reconnect URL, the envelopes of a notification), or
 * lib/pubsub's parser, its MESSAGE mapping into EventSub events and the
 * RESPONSE matching.
 *
 * Input: a flag byte, then the frame (any bytes). Flag bit 0 picks
 * PubSub, bit 1 asks for raw envelopes, bit 2 feeds an EventSub frame to
 * a connection that is already welcomed (so notifications get past the
 * "first message" rule).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eventsub.h"
#include "log.h"
#include "pubsub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
dump(const json_t *events)
{
	char buf[4096];
	size_t i;

	for (i = 0; i < json_array_size(events); i++)
		(void)json_dumpb(
		    json_array_get(events, i), buf, sizeof(buf), JSON_COMPACT);
}

static void
eventsub(const char *p, size_t n, bool raw, bool welcomed)
{
	struct sv_eventsub_conn c;
	struct sv_eventsub_msg m;
	struct sv_err e;

	sv_eventsub_conn_init(&c, 10000, 1);
	if (welcomed)
		memcpy(c.session_id, "s", 2);
	(void)sv_eventsub_conn_feed(&c, p, n, raw, 2, &m, &e);
	(void)sv_eventsub_conn_deadline(&c);
	if (m.root != NULL)
		(void)sv_eventsub_stale(&m, 0);
	dump(m.events);
	sv_eventsub_msg_fini(&m);
	sv_eventsub_conn_fini(&c);
}

static void
pubsub(const char *p, size_t n, bool raw)
{
	static const char *const types[] = { "channel.subscribe",
		"channel.cheer" };
	struct sv_pubsub_conn c;
	struct sv_pubsub_msg m;
	const char *topic;
	struct sv_err e;
	char *frame;

	if (sv_pubsub_conn_init(&c, types, 2, "1", 1000, 1000, 0, &e) < 0)
		return;
	frame = sv_pubsub_conn_listen(&c, 0, "tok");
	free(frame);
	/* A RESPONSE to our nonce is reachable: its nonce is fixed. */
	memcpy(c.nonce[0], "n", 2);
	if (sv_pubsub_parse(p, n, raw, &m, &e) == 0 &&
	    m.kind == SV_PUBSUB_RESPONSE)
		(void)sv_pubsub_conn_response(&c, &m, &topic);
	dump(m.events);
	sv_pubsub_msg_fini(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;

	if (!init) {
		sv_log_init("fuzz");
		sv_log_set_level(-1);
		init = 1;
	}
	if (size < 1 || size > 100000)
		return 0;
	if ((data[0] & 1) != 0)
		pubsub((const char *)data + 1, size - 1, (data[0] & 2) != 0);
	else
		eventsub((const char *)data + 1, size - 1, (data[0] & 2) != 0,
		    (data[0] & 4) != 0);
	return 0;
}
