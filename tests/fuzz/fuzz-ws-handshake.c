/*
 * libFuzzer harness: the WebSocket opening handshake as a server and a
 * client read it. The first byte picks request or response and how the
 * bytes arrive (in one piece or in chunks); the rest goes through the
 * HTTP head parser, the upgrade checks, query and path decoding, and the
 * URL parser.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	char accept[SV_WS_ACCEPT_LEN], out[512], *buf, *s;
	struct sv_ws_head h;
	struct sv_ws_url u;
	struct sv_err e;
	size_t chunk, len;
	bool request;
	long n = 0;

	if (!init) {
		sv_log_init("fuzz");
		sv_log_set_level(-1);
		init = true;
	}
	if (size < 1 || size > 3 * SV_WS_MAX_HEAD)
		return 0;
	request = (data[0] & 1) == 0;
	chunk = (data[0] >> 1) + 1;
	data++;
	size--;
	buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	/* as a server reads it: more bytes each time until complete */
	for (len = chunk < size ? chunk : size;; len += chunk) {
		if (len > size)
			len = size;
		memcpy(buf, data, len);
		n = sv_ws_head_parse(buf, len, request, &h, &e);
		if (n != 0 || len == size)
			break;
	}
	if (n > 0) {
		(void)sv_ws_head_get(&h, "Sec-WebSocket-Key");
		(void)sv_ws_head_count(&h, "Host");
		if (request) {
			(void)sv_ws_is_upgrade(&h);
			(void)sv_ws_server_check(&h, accept, &e);
			(void)sv_ws_query_get(
			    h.target, "types", out, sizeof(out));
			(void)sv_ws_query_get(h.target, "token", out, 8);
			(void)sv_ws_safe_path(h.target, out, sizeof(out));
		} else {
			(void)sv_ws_token_in(
			    sv_ws_head_get(&h, "Connection"), "upgrade");
		}
	}
	s = malloc(size + 1);
	if (s != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
		(void)sv_ws_url_parse(s, &u, &e);
		(void)sv_ws_query_get(s, "channel", out, sizeof(out));
		(void)sv_ws_safe_path(s, out, sizeof(out));
		free(s);
	}
	free(buf);
	return 0;
}
