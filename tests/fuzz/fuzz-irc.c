/*
 * libFuzzer harness: IRC lines from the chat server through the parser,
 * the JSON view (--irc) and the event mapping (every event kind on).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "irc.h"
#include "ircev.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sv_irc_msg m;
	static struct sv_ircev map;
	static int init;
	const char *p = (const char *)data, *end = p + size, *nl;
	struct sv_err e;
	json_t *out, *j;

	if (!init) {
		sv_log_init("fuzz");
		sv_log_set_level(-1);
		sv_irc_msg_init(&m);
		sv_ircev_init(&map, SV_IRCEV_ALL, true);
		init = 1;
	}
	out = json_array();
	/* Lines as the WebSocket delivers them: several per frame. */
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (sv_irc_parse(&m, p, (size_t)(nl - p), &e) == 0) {
			j = sv_irc_msg_json(&m);
			json_decref(j);
			(void)sv_ircev_map(&map, &m, p, (size_t)(nl - p), out);
			json_array_clear(out);
		}
		p = nl + 1;
	}
	json_decref(out);
	return 0;
}
