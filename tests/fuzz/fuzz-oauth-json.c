/*
 * libFuzzer harness: what the id server, Helix and the token store hand
 * us, through every parser of lib/oauth, lib/helix and lib/tokenstore
 * (token, validate and device answers, error bodies, store entries), and
 * the scope normaliser. None of them may crash, leak or read past the
 * bytes given (they are not NUL-terminated here).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "helix.h"
#include "log.h"
#include "oauth.h"
#include "tokenstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	const char *p = (const char *)data;
	struct sv_oauth_grant g;
	struct sv_oauth_valid v;
	struct sv_oauth_device d;
	struct sv_token_rec r;
	struct sv_buf b;
	struct sv_err e;
	char msg[160], *s;
	json_t *o, *m;
	const char *k;

	if (!init) {
		sv_log_init("fuzz");
		sv_log_set_level(-1);
		init = 1;
	}
	if (sv_oauth_parse_grant(p, size, &g, &e) == 0)
		sv_oauth_grant_fini(&g);
	if (sv_oauth_parse_valid(p, size, &v, &e) == 0)
		sv_oauth_valid_fini(&v);
	if (sv_oauth_parse_device(p, size, &d, &e) == 0)
		sv_oauth_device_fini(&d);
	(void)sv_oauth_error_message(p, size, msg, sizeof(msg));
	(void)sv_helix_error_text(400, p, size, msg, sizeof(msg));

	o = json_loadb(p, size, 0, NULL);
	json_object_foreach (o, k, m) {
		if (sv_tokenstore_rec_parse(m, &r, &e) == 0) {
			json_decref(sv_tokenstore_rec_json(&r));
			sv_token_rec_fini(&r);
		}
	}
	json_decref(o);

	s = malloc(size + 1);
	if (s != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
		sv_buf_init(&b);
		(void)sv_oauth_scopes_normalize(s, &b);
		sv_buf_fini(&b);
		free(s);
	}
	/* parse_grant registered secrets; do not let them pile up */
	sv_log_forget_secrets();
	return 0;
}
