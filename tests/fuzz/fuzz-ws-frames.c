/*
 * libFuzzer harness: the frame path of a WebSocket session. The first
 * byte picks a server session (the input is what a client sends: masked
 * frames) or a client session (what a server sends), and whether input
 * ends with EOF. The session runs over a socketpair; its answers (pongs,
 * close frames) are read and dropped.
 */
#include <sys/socket.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
on_msg(void *arg, struct sv_ws *ws, int op, const char *d, size_t len)
{
	struct sv_err e;

	(void)arg;
	(void)op;
	/* echo, as a client that answers might */
	if (len > 0 && d[0] == 'e')
		(void)sv_ws_send(ws, op, d, len, &e);
	if (len > 0 && d[0] == 'c')
		(void)sv_ws_close(ws, SV_WS_CLOSE_NORMAL, "bye");
}

static void
drop(int fd)
{
	char junk[65536];

	while (read(fd, junk, sizeof(junk)) > 0)
		;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	struct sv_ws_server_opts so;
	struct sv_ws_client_opts co;
	struct sv_ws_frame *f;
	struct sv_ws *ws;
	struct sv_err e;
	int sv[2], i, rc = 0;
	bool server, eof;

	if (!init) {
		sv_log_init("fuzz");
		sv_log_set_level(-1);
		init = true;
	}
	if (size < 1 || size > 200000)
		return 0;
	server = (data[0] & 1) == 0;
	eof = (data[0] & 2) != 0;
	data++;
	size--;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		return 0;
	if (server) {
		memset(&so, 0, sizeof(so));
		so.max_msg = 4096;
		so.on_msg = size > 0 && (data[0] & 4) ? on_msg : NULL;
		ws = sv_ws_server_new(
		    sv[0], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", data, size, &so, &e);
	} else {
		memset(&co, 0, sizeof(co));
		co.max_msg = 4096;
		co.on_msg = on_msg;
		ws = sv_ws_client_adopt(sv[0], data, size, &co, &e);
	}
	if (ws == NULL) {
		close(sv[1]);
		return 0;
	}
	for (i = 0; i < 64 && rc == 0; i++) {
		rc = sv_ws_io(ws, 0, &e);
		drop(sv[1]);
		if (!sv_ws_pending(ws)) {
			if (i == 2 && server && sv_ws_state(ws) == SV_WS_OPEN) {
				f = sv_ws_frame_new(SV_WS_TEXT, "x", 1);
				if (f != NULL)
					(void)sv_ws_send_frame(ws, f, &e);
				sv_ws_frame_unref(f);
			}
			if (i == 3 && eof)
				shutdown(sv[1], SHUT_WR);
			if (i == 5)
				(void)sv_ws_close(
				    ws, SV_WS_CLOSE_GOING_AWAY, NULL);
		}
	}
	(void)sv_ws_state(ws);
	(void)sv_ws_close_code(ws);
	(void)sv_ws_close_reason(ws);
	(void)sv_ws_queued(ws);
	sv_ws_free(ws);
	close(sv[1]);
	return 0;
}
