/*
 * libFuzzer harness: a message a dashboard client sends to ws-broadcast,
 * through the control parser, the answer builder, and the replay builder
 * (which parses stored lines, here the same bytes).
 */
#include <stdint.h>
#include <stdlib.h>

#include "control.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct sv_bcast_event stored = { 0 }, ev;
	struct sv_control_req r;
	struct sv_err e;
	size_t len;
	char *s;

	if (!init) {
		sv_log_init("fuzz");
		sv_log_set_level(-1);
		init = 1;
	}
	if (sv_control_parse((const char *)data, size, &r, &e) == 0)
		s = sv_control_reply(r.op, r.id, NULL, &len);
	else
		s = sv_control_reply(r.op, NULL, e.msg, &len);
	free(s);
	stored.frame = sv_ws_frame_new(SV_WS_TEXT, data, size);
	if (stored.frame != NULL && sv_control_replay_event(&ev, &stored) == 0)
		sv_bcast_event_fini(&ev);
	sv_bcast_event_fini(&stored);
	return 0;
}
