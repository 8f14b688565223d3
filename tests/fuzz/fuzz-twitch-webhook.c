/*
 * libFuzzer harness: one EventSub webhook delivery through the checks of
 * lib/twitch, as twitch-webhookd runs them on every request: headers,
 * signature, timestamp, JSON body, message types, the envelopes of a
 * notification, and the subscription object a sender builds from them.
 *
 * Input: a flag byte, then the lines id, timestamp, message type and
 * signature, then the body (the rest, any bytes). Flag bit 0 replaces the
 * signature with the right one, so most inputs get past the HMAC and
 * reach the parser; bit 1 leaves the type header out.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "twitch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char secret[] = "s3rvitor-test-secret";

/* The next line of [*p, end) as a new NUL-terminated string. */
static char *
take_line(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = nl != NULL ? (size_t)(nl - *p) : (size_t)(end - *p);
	char *s = malloc(n + 1);

	if (s != NULL) {
		memcpy(s, *p, n);
		s[n] = '\0';
	}
	*p += n + (nl != NULL ? 1 : 0);
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	char *id = NULL, *ts = NULL, *type = NULL, *sig = NULL;
	char good[SV_TWITCH_SIG_LEN], buf[4096];
	const uint8_t *p = data + 1, *end = data + size;
	struct sv_twitch_delivery d;
	struct sv_twitch_msg m;
	struct timespec when;
	json_t *env, *sub;
	size_t i;

	if (!init) {
		sv_log_init("fuzz");
		sv_log_set_level(-1);
		init = 1;
	}
	if (size < 1 || size > 100000)
		return 0;
	id = take_line(&p, end);
	ts = take_line(&p, end);
	type = take_line(&p, end);
	sig = take_line(&p, end);
	if (id == NULL || ts == NULL || type == NULL || sig == NULL)
		goto out;
	memset(&d, 0, sizeof(d));
	d.id = id;
	d.timestamp = ts;
	d.type = (data[0] & 2) != 0 ? NULL : type;
	d.signature = sig;
	d.body = (const char *)p;
	d.body_len = (size_t)(end - p);
	if ((data[0] & 1) != 0 &&
	    sv_twitch_sign(secret, id, ts, d.body, d.body_len, good) == 0)
		d.signature = good;
	/* Check at the message's own time, so the window passes. */
	if (sv_event_time_parse(ts, &when) < 0)
		when.tv_sec = 0;
	(void)sv_twitch_delivery_check(&d, secret, when.tv_sec, 600, &m);
	(void)sv_twitch_verdict_status(m.verdict);
	(void)sv_twitch_verdict_name(m.verdict);
	json_array_foreach (m.events, i, env) {
		(void)json_dumpb(env, buf, sizeof(buf), JSON_COMPACT);
		sub = sv_twitch_subscription_new("s", "enabled",
		    sv_event_path_str(env, "type"),
		    sv_event_path_str(env, "version"),
		    json_object_get(env, "event"), "https://x/", "t");
		json_decref(sub);
	}
	sv_twitch_msg_fini(&m);
out:
	free(id);
	free(ts);
	free(type);
	free(sig);
	return 0;
}
