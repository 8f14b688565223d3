/*
 * libFuzzer harness: message bodies as amqp-sub turns them into lines
 * (any bytes a publisher sends), and broker URLs as amqp_parse_url and
 * sv_amqp_url_parse read them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "amqp.h"
#include "buf.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct sv_amqp_url u;
	struct sv_err e;
	struct sv_buf b;
	char *s;

	if (!init) {
		sv_log_init("fuzz");
		sv_log_set_level(-1);
		init = 1;
	}
	sv_buf_init(&b);
	if (sv_amqp_body_line(data, size, &b, &e) == 0 && b.len > 0 &&
	    memchr(b.data, '\n', b.len) != NULL)
		abort(); /* the one promise: never a newline in the line */
	sv_buf_fini(&b);

	if (size > 4096)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (sv_amqp_url_parse(&u, s, &e) == 0)
		sv_amqp_url_fini(&u);
	free(s);
	sv_log_forget_secrets();
	return 0;
}
