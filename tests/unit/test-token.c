/*
 * Unit tests for the pure parts of lib/oauth, lib/helix, lib/types'
 * conditions, and lib/tokenstore on a temporary directory.
 */
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helix.h"
#include "log.h"
#include "oauth.h"
#include "token.h"
#include "tokenstore.h"
#include "types.h"
#include "unit.h"

#define S(x) x, strlen(x)

static void
test_grant(void)
{
	struct sv_oauth_grant g;
	struct sv_err e;

	CHECK(
	    sv_oauth_parse_grant(
	        S("{\"access_token\":\"acc123456\",\"expires_in\":14523,"
	          "\"refresh_token\":\"r/1%2==\",\"scope\":[\"bits:read\","
	          "\"channel:read:subscriptions\"],\"token_type\":\"bearer\"}"),
	        &g, &e) == 0,
	    "a token answer parses");
	CHECK_STR(g.access_token, "acc123456", "access_token");
	CHECK_STR(g.refresh_token, "r/1%2==", "refresh_token kept as is");
	CHECK_STR(g.scopes, "bits:read channel:read:subscriptions",
	    "the scope array joined with spaces");
	CHECK(g.expires_in == 14523, "expires_in");
	sv_oauth_grant_fini(&g);

	CHECK(sv_oauth_parse_grant(S("{\"access_token\":\"appabcdef\","
	                             "\"expires_in\":5011271,"
	                             "\"token_type\":\"bearer\"}"),
	          &g, &e) == 0 &&
	        g.refresh_token == NULL && g.scopes == NULL,
	    "client credentials: no refresh token, no scope");
	sv_oauth_grant_fini(&g);

	CHECK(
	    sv_oauth_parse_grant(S("{\"access_token\":\"x1234\","
	                           "\"refresh_token\":\"\",\"scope\":\"a b\"}"),
	        &g, &e) == 0 &&
	        g.refresh_token == NULL && strcmp(g.scopes, "a b") == 0,
	    "an empty refresh token is none; a scope string is tolerated");
	sv_oauth_grant_fini(&g);

	CHECK(sv_oauth_parse_grant(S("{\"expires_in\":1}"), &g, &e) < 0 &&
	        e.ex == EX_PROTOCOL,
	    "no access_token: EX_PROTOCOL");
	CHECK(
	    sv_oauth_parse_grant(S("[1,2]"), &g, &e) < 0 && e.ex == EX_PROTOCOL,
	    "not an object: EX_PROTOCOL");
	CHECK(sv_oauth_parse_grant(S("{\"access_token\":7}"), &g, &e) < 0,
	    "a number as token is refused");
}

static void
test_valid_device(void)
{
	struct sv_oauth_valid v;
	struct sv_oauth_device d;
	struct sv_err e;

	CHECK(sv_oauth_parse_valid(
	          S("{\"client_id\":\"cid\",\"login\":\"glowcaster\","
	            "\"scopes\":[\"bits:read\"],\"user_id\":\"512345678\","
	            "\"expires_in\":13710}"),
	          &v, &e) == 0,
	    "a user validate answer parses");
	CHECK_STR(v.login, "glowcaster", "login");
	CHECK_STR(v.user_id, "512345678", "user_id");
	CHECK_STR(v.scopes, "bits:read", "scopes");
	CHECK(v.expires_in == 13710, "expires_in");
	sv_oauth_valid_fini(&v);
	CHECK(sv_oauth_parse_valid(S("{\"client_id\":\"cid\",\"scopes\":null,"
	                             "\"expires_in\":5}"),
	          &v, &e) == 0 &&
	        v.login == NULL && strcmp(v.scopes, "") == 0,
	    "an app validate answer: scopes null, no login");
	sv_oauth_valid_fini(&v);
	CHECK(sv_oauth_parse_valid(S("{\"login\":\"x\"}"), &v, &e) < 0,
	    "no client_id: refused");

	CHECK(sv_oauth_parse_device(S("{\"device_code\":\"dc\",\"user_code\":"
	                              "\"QWRTPLKM\",\"verification_uri\":"
	                              "\"https://www.twitch.tv/activate\"}"),
	          &d, &e) == 0 &&
	        d.interval == 5 && d.expires_in == 1800,
	    "device: interval 5 and expires_in 1800 when not given");
	sv_oauth_device_fini(&d);
	CHECK(sv_oauth_parse_device(S("{\"device_code\":\"dc\"}"), &d, &e) < 0,
	    "device: user_code and verification_uri are required");
}

static void
test_messages(void)
{
	struct sv_buf b;
	char m[64], st[SV_OAUTH_STATE_LEN], st2[SV_OAUTH_STATE_LEN];
	struct sv_oauth o = { "https://id.example", "cid", NULL, NULL };
	size_t i;

	CHECK_STR(
	    sv_oauth_error_message(
	        S("{\"status\":400,\"message\":\"slow_down\"}"), m, sizeof(m)),
	    "slow_down", "id server error message");
	CHECK_STR(sv_oauth_error_message(S("{\"error\":\"Unauthorized\","
	                                   "\"status\":401,\"message\":\"\"}"),
	              m, sizeof(m)),
	    "Unauthorized", "no message: the error");
	CHECK_STR(sv_oauth_error_message(S("<html>"), m, sizeof(m)), "",
	    "not JSON: empty");
	CHECK_STR(sv_helix_error_text(409,
	              S("{\"error\":\"Conflict\",\"status\":409,\"message\":"
	                "\"subscription already exists\"}"),
	              m, sizeof(m)),
	    "409 Conflict: subscription already exists", "Helix error text");
	CHECK_STR(sv_helix_error_text(503, S("oops"), m, sizeof(m)),
	    "503 Service Unavailable", "a body that is not JSON");
	CHECK(sv_helix_status_ex(404) == EX_DATAERR &&
	        sv_helix_status_ex(401) == EX_NOPERM &&
	        sv_helix_status_ex(403) == EX_NOPERM &&
	        sv_helix_status_ex(429) == EX_TEMPFAIL &&
	        sv_helix_status_ex(502) == EX_UNAVAILABLE &&
	        sv_helix_status_ex(202) == 0,
	    "Helix status to exit code");

	sv_buf_init(&b);
	CHECK(sv_oauth_scopes_normalize(" a,b  c,,d ", &b) == 0, "normalise");
	CHECK_STR(b.data, "a b c d", "commas and spaces to single spaces");
	sv_buf_reset(&b);
	CHECK(sv_oauth_authorize_url(&o, "http://localhost:3000",
	          "bits:read chat:read", "st-_8", &b) == 0,
	    "authorize URL");
	CHECK_STR(b.data,
	    "https://id.example/oauth2/authorize?response_type=code"
	    "&client_id=cid&redirect_uri=http%3A%2F%2Flocalhost%3A3000"
	    "&scope=bits%3Aread%20chat%3Aread&state=st-_8",
	    "authorize URL encoded as section 6.2 shows");
	sv_buf_fini(&b);

	CHECK(sv_oauth_new_state(st) == 0 && sv_oauth_new_state(st2) == 0,
	    "states");
	CHECK(strlen(st) == SV_OAUTH_STATE_LEN - 1, "state: 22 characters");
	for (i = 0; st[i] != '\0'; i++)
		if (strchr(
		        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		        "0123456789-_",
		        st[i]) == NULL)
			break;
	CHECK(st[i] == '\0', "state: base64url characters");
	CHECK(strcmp(st, st2) != 0, "two states differ");
}

static void
test_conditions(void)
{
	const char *const want[][2] = {
		{ "follow",
		    "{\"broadcaster_user_id\":\"1\",\"moderator_user_id\":\"2\"}" },
		{ "raid", "{\"to_broadcaster_user_id\":\"1\"}" },
		{ "subscribe", "{\"broadcaster_user_id\":\"1\"}" },
		{ "channel.chat.notification",
		    "{\"broadcaster_user_id\":\"1\",\"user_id\":\"2\"}" },
	};
	char *s;
	json_t *c;
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		c = sv_types_condition(sv_types_find(want[i][0]), "1", "2");
		s = c != NULL ? json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS) :
		                NULL;
		CHECK_STR(s, want[i][1], want[i][0]);
		free(s);
		json_decref(c);
	}
	c = sv_types_condition(sv_types_find("follow"), "1", NULL);
	CHECK(c != NULL &&
	        strcmp(
	            json_string_value(json_object_get(c, "moderator_user_id")),
	            "1") == 0,
	    "no user id: the broadcaster moderates itself");
	json_decref(c);
	c = sv_types_condition(NULL, "7", NULL);
	CHECK(c != NULL && json_object_size(c) == 1 &&
	        json_object_get(c, "broadcaster_user_id") != NULL,
	    "an unknown type: broadcaster_user_id");
	json_decref(c);
	CHECK(sv_types_condition(sv_types_find("host"), "1", NULL) == NULL,
	    "channel.host is not an EventSub type");
}

static void
test_store(void)
{
	char dir[] = "/tmp/sv-unit-store-XXXXXX", path[256];
	struct sv_token_rec r, got;
	struct sv_tokenstore *st;
	struct stat sb;
	struct sv_err e;
	FILE *f;

	if (!CHECK(mkdtemp(dir) != NULL, "temporary directory"))
		return;
	(void)snprintf(path, sizeof(path), "%s/sub/dir", dir);
	st = sv_tokenstore_new(path, &e);
	CHECK(st != NULL, "a store");
	CHECK(sv_tokenstore_read(st, SV_TOKEN_USER, &got, &e) == 1,
	    "no file: none");
	CHECK(sv_tokenstore_write(st, SV_TOKEN_USER, NULL, &e) < 0 &&
	        e.ex == EX_SOFTWARE,
	    "writing without the lock is refused");
	memset(&r, 0, sizeof(r));
	r.client_id = (char *)(uintptr_t) "cid";
	r.access_token = (char *)(uintptr_t) "acc12345";
	r.refresh_token = (char *)(uintptr_t) "ref/12%3D";
	r.scopes = (char *)(uintptr_t) "bits:read chat:read";
	r.login = (char *)(uintptr_t) "glowcaster";
	r.user_id = (char *)(uintptr_t) "512345678";
	r.expires_at = 1795925650;
	r.obtained_at = 1795911251;
	CHECK(sv_tokenstore_lock(st, &e) == 0, "lock, creating directories");
	CHECK(sv_tokenstore_write(st, SV_TOKEN_USER, &r, &e) == 0,
	    "write the user token");
	r.refresh_token = NULL;
	r.login = r.user_id = NULL;
	r.access_token = (char *)(uintptr_t) "app12345";
	CHECK(sv_tokenstore_write(st, SV_TOKEN_APP, &r, &e) == 0,
	    "write the app token");
	sv_tokenstore_unlock(st);
	CHECK(stat(sv_tokenstore_path(st), &sb) == 0 &&
	        (sb.st_mode & 07777) == 0600,
	    "tokens.json is 0600");
	(void)snprintf(path, sizeof(path), "%s/sub", dir);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0700,
	    "created directories are 0700");
	CHECK(sv_tokenstore_read(st, SV_TOKEN_USER, &got, &e) == 0,
	    "read the user token back");
	CHECK_STR(got.refresh_token, "ref/12%3D", "refresh token");
	CHECK_STR(got.scopes, "bits:read chat:read", "scopes");
	CHECK_STR(got.login, "glowcaster", "login");
	CHECK(got.expires_at == 1795925650 && got.obtained_at == 1795911251,
	    "times");
	sv_token_rec_fini(&got);
	CHECK(sv_tokenstore_read(st, SV_TOKEN_APP, &got, &e) == 0 &&
	        strcmp(got.access_token, "app12345") == 0 &&
	        got.refresh_token == NULL,
	    "the app token is kept apart");
	sv_token_rec_fini(&got);

	/* members we do not know survive a rewrite */
	f = fopen(sv_tokenstore_path(st), "w");
	if (f != NULL) {
		fputs("{\"version\":1,\"x-note\":\"keep me\",\"user\":"
		      "{\"access_token\":\"u1234\"},\"app\":{\"access_token\":"
		      "\"a1234\"}}",
		    f);
		fclose(f);
	}
	CHECK(sv_tokenstore_lock(st, &e) == 0 &&
	        sv_tokenstore_write(st, SV_TOKEN_USER, NULL, &e) == 0,
	    "remove the user token");
	sv_tokenstore_unlock(st);
	CHECK(sv_tokenstore_read(st, SV_TOKEN_USER, &got, &e) == 1,
	    "the user token is gone");
	CHECK(sv_tokenstore_read(st, SV_TOKEN_APP, &got, &e) == 0,
	    "the app token stays");
	sv_token_rec_fini(&got);
	f = fopen(sv_tokenstore_path(st), "r");
	if (f != NULL) {
		char buf[512] = "";

		CHECK(fread(buf, 1, sizeof(buf) - 1, f) > 0 &&
		        strstr(buf, "keep me") != NULL,
		    "an unknown member survives");
		fclose(f);
	}

	CHECK(chmod(sv_tokenstore_path(st), 0640) == 0, "chmod 640");
	CHECK(sv_tokenstore_read(st, SV_TOKEN_APP, &got, &e) < 0 &&
	        e.ex == EX_CONFIG && strstr(e.msg, "chmod 600") != NULL,
	    "group-readable: EX_CONFIG with the fix");
	CHECK(chmod(sv_tokenstore_path(st), 0600) == 0, "chmod 600");
	f = fopen(sv_tokenstore_path(st), "w");
	if (f != NULL) {
		fputs("{\"user\":{\"access_token\":5}}", f);
		fclose(f);
	}
	CHECK(sv_tokenstore_read(st, SV_TOKEN_USER, &got, &e) < 0 &&
	        e.ex == EX_CONFIG,
	    "a member of the wrong type: EX_CONFIG");
	unlink(sv_tokenstore_path(st));
	(void)snprintf(path, sizeof(path), "%s/sub/dir/tokens.lock", dir);
	unlink(path);
	(void)snprintf(path, sizeof(path), "%s/sub/dir", dir);
	rmdir(path);
	(void)snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
	sv_tokenstore_free(st);
}

static void
test_env_token(void)
{
	struct sv_token *tk;
	struct sv_err e;

	setenv("TWITCH_TOKEN", "oauth:envtoken123", 1);
	unsetenv("TWITCH_CLIENT_SECRET");
	unsetenv("TWITCH_CLIENT_SECRET_FILE");
	tk = sv_token_new(&e);
	CHECK(tk != NULL, "a context from the environment");
	if (tk == NULL)
		return;
	CHECK(sv_token_info(tk, SV_TOKEN_USER) == NULL, "nothing loaded yet");
	CHECK(sv_token_load(tk, SV_TOKEN_USER, &e) == 0 &&
	        sv_token_from_env(tk, SV_TOKEN_USER),
	    "TWITCH_TOKEN loads without the network");
	CHECK_STR(sv_token_info(tk, SV_TOKEN_USER)->access_token, "envtoken123",
	    "the oauth: prefix is dropped");
	CHECK(sv_token_due_ms(tk, SV_TOKEN_USER) == 0,
	    "validation is due at once");
	sv_token_free(tk);
	unsetenv("TWITCH_TOKEN");
	setenv("TWITCH_CLIENT_SECRET_FILE", "/nonexistent/secret", 1);
	CHECK(sv_token_new(&e) == NULL && e.ex == EX_NOINPUT,
	    "an unreadable secret file: EX_NOINPUT");
	unsetenv("TWITCH_CLIENT_SECRET_FILE");
}

int
main(void)
{
	sv_log_init("test-token");
	sv_log_set_level(-1);
	test_grant();
	test_valid_device();
	test_messages();
	test_conditions();
	test_store();
	test_env_token();
	sv_log_forget_secrets();
	return unit_done();
}
