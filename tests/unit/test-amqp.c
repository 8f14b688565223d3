/* Unit tests for lib/amqp's pure parts: URLs, body lines, option group. */
#include <stdlib.h>
#include <string.h>

#include "amqp.h"
#include "buf.h"
#include "log.h"
#include "unit.h"

static void
test_urls(void)
{
	struct sv_amqp_url u;
	struct sv_err e;

	CHECK(sv_amqp_url_parse(
	          &u, "amqp://guest:pw%40x@rabbit:5673/prod", &e) == 0,
	    "full URL parses");
	CHECK_STR(u.user, "guest", "user");
	CHECK_STR(u.password, "pw@x", "password percent-decoded");
	CHECK_STR(u.host, "rabbit", "host");
	CHECK(u.port == 5673 && !u.ssl, "port, plain");
	CHECK_STR(u.vhost, "prod", "vhost");
	CHECK_STR(
	    u.display, "amqp://rabbit:5673/prod", "display has no credentials");
	sv_amqp_url_fini(&u);

	CHECK(sv_amqp_url_parse(&u, "amqps://broker", &e) == 0, "amqps parses");
	CHECK(u.ssl && u.port == 5671, "amqps default port 5671");
	CHECK_STR(u.vhost, "/", "no path: vhost /");
	CHECK_STR(u.user, "guest", "default user");
	CHECK_STR(u.display, "amqps://broker:5671", "display of vhost /");
	sv_amqp_url_fini(&u); /* defaults are constants: must not be wiped */

	CHECK(sv_amqp_url_parse(&u, "amqp://h/", &e) == 0 &&
	        strcmp(u.vhost, "") == 0,
	    "trailing slash: the empty vhost");
	sv_amqp_url_fini(&u);

	CHECK(sv_amqp_url_parse(&u, "amqp://[::1]:5672", &e) == 0,
	    "IPv6 literal parses");
	CHECK_STR(u.display, "amqp://[::1]:5672", "IPv6 display bracketed");
	sv_amqp_url_fini(&u);

	CHECK(sv_amqp_url_parse(&u, "amqp://alerts@rabbit/x", &e) == 0 &&
	        u.no_password,
	    "a user without a password is noticed");
	CHECK_STR(u.password, "guest", "... and gets rabbitmq-c's 'guest'");
	sv_amqp_url_fini(&u);
	CHECK(sv_amqp_url_parse(&u, "amqp://alerts:@rabbit", &e) == 0 &&
	        !u.no_password,
	    "an empty password is a password");
	sv_amqp_url_fini(&u);
	CHECK(sv_amqp_url_parse(&u, "amqp://rabbit/a%40b", &e) == 0 &&
	        !u.no_password,
	    "no user: guest:guest, no warning (%40 in the vhost)");
	sv_amqp_url_fini(&u);

	CHECK(sv_amqp_url_parse(&u, "http://h", &e) < 0 && e.ex == EX_USAGE,
	    "http:// refused");
	CHECK(
	    sv_amqp_url_parse(&u, "amqp://h:port", &e) < 0 && e.ex == EX_USAGE,
	    "bad port refused");
	CHECK(sv_amqp_url_parse(&u, "amqp://u:Secr3tPw@h:x", &e) < 0 &&
	        strstr(e.msg, "Secr3tPw") == NULL,
	    "a bad URL's password is not in the message");
}

static void
line_is(const char *body, size_t len, const char *want, const char *what)
{
	struct sv_buf b;
	struct sv_err e;

	sv_buf_init(&b);
	if (CHECK(sv_amqp_body_line(body, len, &b, &e) == 0, what))
		CHECK(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0,
		    what);
	sv_buf_fini(&b);
}

static void
test_bodies(void)
{
	struct sv_buf b;
	struct sv_err e;

	line_is("{\"a\":1}", 7, "{\"a\":1}", "a line as it is");
	line_is("{\"a\":1}\n", 8, "{\"a\":1}", "one trailing LF dropped");
	line_is("x\r\n", 3, "x", "one trailing CRLF dropped");
	line_is("", 0, "", "empty body, empty line");
	line_is("{\"a\":\n [1, 2],\n\"b\":\"c\"}\n", 24,
	    "{\"a\":[1,2],\"b\":\"c\"}",
	    "multi-line JSON re-serialised compactly, key order kept");
	line_is("1\n\n", 3, "1", "JSON scalar with two newlines");
	sv_buf_init(&b);
	CHECK(
	    sv_amqp_body_line("not\njson", 8, &b, &e) < 0 && e.ex == EX_DATAERR,
	    "text with a newline refused");
	CHECK(sv_amqp_body_line("a\n\n", 3, &b, &e) < 0,
	    "two trailing newlines on text refused");
	CHECK(sv_amqp_body_line("\"x\ny\"", 5, &b, &e) < 0,
	    "a raw newline inside a JSON string is not JSON");
	sv_buf_fini(&b);
}

static void
test_cli(void)
{
	struct sv_amqp_cli c;
	struct sv_err e;
	char url[] = "amqp://user:Hidd3nPw@host";
	int ex;

	sv_amqp_cli_init(&c);
	CHECK(sv_amqp_cli_option(&c, 'u', url, &ex) == SV_CLI_OK, "-u taken");
	CHECK_STR(url, "amqp://user:********@host", "argv password blanked");
	CHECK(sv_amqp_cli_option(&c, 'x', NULL, &ex) == SV_CLI_UNKNOWN,
	    "other options are not ours");
	CHECK(sv_amqp_cli_finish(&c, &e) == 0, "finish");
	CHECK(c.opts.nurls == 1 && c.opts.heartbeat == 30, "defaults");
	CHECK_STR(c.parsed[0].password, "Hidd3nPw", "the copy keeps it");
	sv_amqp_cli_fini(&c);

	sv_amqp_cli_init(&c);
	{
		char vh[] = "amqp://host/v:h@x";

		CHECK(sv_amqp_cli_option(&c, 'u', vh, &ex) == SV_CLI_OK,
		    "-u with an @ in the vhost");
		CHECK_STR(vh, "amqp://host/v:h@x",
		    "an @ in the vhost is not user information");
	}
	sv_amqp_cli_fini(&c);

	/* a password with a raw '/': rabbitmq-c refuses the URL, but the
	 * password is hidden in argv and in the error all the same */
	sv_amqp_cli_init(&c);
	{
		char sl[] = "amqp://user:pa/S3cret@host";

		CHECK(sv_amqp_cli_option(&c, 'u', sl, &ex) == SV_CLI_OK,
		    "-u with a '/' in the password");
		CHECK_STR(sl, "amqp://user:*********@host",
		    "argv password with a '/' blanked");
		CHECK(sv_amqp_cli_finish(&c, &e) < 0 && e.ex == EX_USAGE &&
		        strstr(e.msg, "S3cret") == NULL &&
		        strstr(e.msg, "bad AMQP URL") != NULL,
		    "refused, and the error does not show the password");
	}
	sv_amqp_cli_fini(&c);

	sv_amqp_cli_init(&c);
	unsetenv("AMQP_URL");
	CHECK(sv_amqp_cli_finish(&c, &e) == 0 &&
	        strcmp(c.parsed[0].display, "amqp://localhost:5672") == 0,
	    "no -u, no AMQP_URL: localhost");
	sv_amqp_cli_fini(&c);

	sv_amqp_cli_init(&c);
	setenv("AMQP_URL", "amqp://envhost:1234", 1);
	CHECK(sv_amqp_cli_finish(&c, &e) == 0 &&
	        strcmp(c.parsed[0].host, "envhost") == 0,
	    "AMQP_URL when no -u");
	sv_amqp_cli_fini(&c);
	unsetenv("AMQP_URL");

	sv_amqp_cli_init(&c);
	c.opts.cert = "c.pem";
	CHECK(sv_amqp_cli_finish(&c, &e) < 0 && e.ex == EX_USAGE,
	    "--cert without --key is a usage error");
	sv_amqp_cli_fini(&c);
}

int
main(void)
{
	sv_log_init("test-amqp");
	sv_log_set_level(SV_LOG_ERROR);
	test_urls();
	test_bodies();
	test_cli();
	return unit_done();
}
