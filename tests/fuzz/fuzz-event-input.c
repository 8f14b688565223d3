/*
 * libFuzzer harness: NDJSON input lines as any tool reads them from
 * stdin, through the line reader, the JSON check, path lookups, the
 * envelope writer and the time parser.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "event.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	struct sv_event_input in;
	char t[SV_EVENT_TIME_LEN], *s;
	struct sv_err e;
	const char *line;
	size_t len;
	json_t *o;
	int p[2];

	if (null == NULL) {
		sv_log_init("fuzz");
		sv_log_set_level(-1);
		null = fopen("/dev/null", "w");
	}
	if (size > 60000 || pipe(p) < 0)
		return 0;
	/* A pipe holds 64 KiB, so the whole input fits before reading. */
	if (write(p[1], data, size) != (ssize_t)size) {
		close(p[0]);
		close(p[1]);
		return 0;
	}
	close(p[1]);
	sv_event_input_init(&in, p[0], 4096, false);
	while (sv_event_input_next(&in, true, &o, &line, &len, &e) ==
	    SV_INPUT_LINE) {
		(void)sv_event_path_str(o, "type");
		(void)sv_event_path(o, "event.broadcaster_user_login");
		(void)sv_event_write(null, o, &e);
		json_decref(o);
	}
	sv_event_input_fini(&in);
	close(p[0]);

	s = malloc(size + 1);
	if (s != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
		(void)sv_event_time_normalize(s, t);
		free(s);
	}
	return 0;
}
