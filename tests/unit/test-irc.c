/* Unit tests for the IRCv3 parser and line builder (lib/irc), and for
 * what a chat client keeps of Twitch chat (lib/ircev). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irc.h"
#include "ircev.h"
#include "log.h"
#include "unit.h"

static struct sv_irc_msg m;

static int
parse(const char *line)
{
	struct sv_err e;

	return sv_irc_parse(&m, line, strlen(line), &e);
}

static void
test_tags(void)
{
	CHECK(parse("@a=Glow\\sCrew\\:\\sTier\\s1;b=a\\\\b;c=x\\ry\\nz;d=\\q;"
	            "e=end\\ :tmi.twitch.tv CMD") == 0,
	    "escaped tags parse");
	CHECK_STR(sv_irc_tag(&m, "a"), "Glow Crew; Tier 1", "\\s and \\:");
	CHECK_STR(sv_irc_tag(&m, "b"), "a\\b", "\\\\");
	CHECK_STR(sv_irc_tag(&m, "c"), "x\ry\nz", "\\r and \\n");
	CHECK_STR(sv_irc_tag(&m, "d"), "q", "unknown escape drops backslash");
	CHECK_STR(
	    sv_irc_tag(&m, "e"), "end", "lone trailing backslash dropped");
	CHECK(parse("@empty=;flag;k=v CMD") == 0, "empty and valueless tags");
	CHECK_STR(sv_irc_tag(&m, "empty"), "", "key= is empty");
	CHECK_STR(sv_irc_tag(&m, "flag"), "", "key alone is empty");
	CHECK_STR(sv_irc_tag(&m, "k"), "v", "normal tag after them");
	CHECK(sv_irc_tag(&m, "missing") == NULL, "absent tag is NULL");
	CHECK(m.prefix == NULL && strcmp(m.command, "CMD") == 0,
	    "no prefix, command after tags");
}

static void
test_prefix_params(void)
{
	CHECK(parse(":nick!user@host PRIVMSG #chan :hello: world :) ") == 0,
	    "prefix and trailing");
	CHECK_STR(m.prefix, "nick!user@host", "prefix kept whole");
	CHECK_STR(m.nick, "nick", "nick split from prefix");
	CHECK(m.nparams == 2, "two params");
	CHECK_STR(sv_irc_param(&m, 0), "#chan", "middle param");
	CHECK_STR(sv_irc_param(&m, 1), "hello: world :) ",
	    "trailing keeps colons and spaces");
	CHECK(m.has_trailing, "trailing flagged");
	CHECK(parse("PING :tmi.twitch.tv\r\n") == 0 &&
	        strcmp(m.command, "PING") == 0 &&
	        strcmp(sv_irc_param(&m, 0), "tmi.twitch.tv") == 0,
	    "no prefix, CRLF stripped");
	CHECK(parse(":tmi.twitch.tv 001 justinfan1 :Welcome, GLHF!") == 0 &&
	        strcmp(m.command, "001") == 0 &&
	        strcmp(m.nick, "tmi.twitch.tv") == 0,
	    "numeric command, server prefix");
	CHECK(parse("CMD a  b   :") == 0 && m.nparams == 3 &&
	        strcmp(sv_irc_param(&m, 2), "") == 0,
	    "repeated spaces; empty trailing");
	CHECK(parse(":tmi.twitch.tv HOSTTARGET #lanternfish :glowcaster 87") ==
	            0 &&
	        strcmp(sv_irc_param(&m, 1), "glowcaster 87") == 0,
	    "HOSTTARGET trailing");
}

static void
test_utf8_and_size(void)
{
	char *big;
	size_t i;

	CHECK(parse("@display-name=\xe3\x81\x8b\xe3\x81\x9a\xe3\x81\x8d "
	            ":a!a@a PRIVMSG #c :\xc3\xbc\xc3\xb1\xc3\xaf") == 0,
	    "UTF-8 tags and text");
	CHECK_STR(sv_irc_tag(&m, "display-name"),
	    "\xe3\x81\x8b\xe3\x81\x9a\xe3\x81\x8d",
	    "UTF-8 display name intact");

	big = malloc(9000);
	memcpy(big, "@t=", 3);
	for (i = 3; i < 8200; i++)
		big[i] = 'x';
	strcpy(big + 8200, " :tmi.twitch.tv USERNOTICE #c :hi");
	CHECK(parse(big) == 0 && strlen(sv_irc_tag(&m, "t")) == 8197,
	    "8 KiB of tags accepted");
	free(big);
	big = malloc(SV_IRC_MAX_LINE + 10);
	memset(big, 'A', SV_IRC_MAX_LINE + 5);
	big[SV_IRC_MAX_LINE + 5] = '\0';
	CHECK(parse(big) < 0, "line over the hard cap rejected");
	free(big);
}

static void
test_malformed(void)
{
	CHECK(parse("") < 0, "empty line");
	CHECK(parse("@tags-only") < 0, "tags without command");
	CHECK(parse(":prefix-only") < 0, "prefix without command");
	CHECK(parse("@ CMD") < 0, "empty tags");
	CHECK(parse(": CMD") < 0, "empty prefix");
	CHECK(parse("BAD-CMD x") < 0, "command with a dash");
	CHECK(parse("@=v CMD") < 0, "tag without key");
	CHECK(parse("A 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16") < 0,
	    "more than 15 params");
	CHECK(sv_irc_parse(&m, "PING\0x", 6, &(struct sv_err) { 0 }) < 0,
	    "NUL byte");
}

static void
test_json(void)
{
	json_t *j;
	char *s;

	parse("@a=1;b=x\\sy :n!u@h PRIVMSG #c :hi there");
	j = sv_irc_msg_json(&m);
	s = json_dumps(j, JSON_COMPACT);
	CHECK_STR(s,
	    "{\"tags\":{\"a\":\"1\",\"b\":\"x y\"},\"prefix\":\"n!u@h\","
	    "\"command\":\"PRIVMSG\",\"params\":[\"#c\",\"hi there\"]}",
	    "message as JSON");
	free(s);
	json_decref(j);
	parse("@a=\xff PING :x");
	j = sv_irc_msg_json(&m);
	CHECK(j != NULL &&
	        strcmp(json_string_value(
	                   json_object_get(json_object_get(j, "tags"), "a")),
	            "\xef\xbf\xbd") == 0,
	    "invalid UTF-8 becomes U+FFFD, not a lost message");
	json_decref(j);
}

static void
test_format(void)
{
	const char *p1[] = { "#glowcaster,#lanternfish" };
	const char *p2[] = { "tmi.twitch.tv" };
	const char *p3[] = { "REQ", "twitch.tv/tags twitch.tv/commands" };
	const char *bad[] = { "a\r\nQUIT" };
	char out[128];

	CHECK(sv_irc_format(out, sizeof(out), "JOIN", p1, 1) > 0, "JOIN");
	CHECK_STR(out, "JOIN #glowcaster,#lanternfish\r\n", "JOIN line");
	sv_irc_format(out, sizeof(out), "PONG", p2, 1);
	CHECK_STR(out, "PONG tmi.twitch.tv\r\n", "PONG line");
	sv_irc_format(out, sizeof(out), "CAP", p3, 2);
	CHECK_STR(out, "CAP REQ :twitch.tv/tags twitch.tv/commands\r\n",
	    "trailing gets a colon when it has a space");
	CHECK(sv_irc_format(out, sizeof(out), "PRIVMSG", bad, 1) < 0,
	    "CRLF injection refused");
	CHECK(sv_irc_format(out, 8, "JOIN", p1, 1) < 0, "too small refused");
}

static enum sv_ircev_sess
sess(const char *line)
{
	return parse(line) == 0 ? sv_ircev_session(&m) : SV_IRCEV_SESS_OTHER;
}

static void
test_session(void)
{
	CHECK(sess("PING :tmi.twitch.tv") == SV_IRCEV_SESS_PING, "PING");
	CHECK(
	    sess(":tmi.twitch.tv PONG tmi.twitch.tv :x") == SV_IRCEV_SESS_PONG,
	    "PONG");
	CHECK(sess(":tmi.twitch.tv 376 justinfan1 :>") == SV_IRCEV_SESS_WELCOME,
	    "376: logged in");
	CHECK(sess(":tmi.twitch.tv RECONNECT") == SV_IRCEV_SESS_RECONNECT,
	    "RECONNECT");
	CHECK(sess(":tmi.twitch.tv NOTICE * :Login authentication failed") ==
	        SV_IRCEV_SESS_AUTH_FAILED,
	    "login refused");
	CHECK(sess(":tmi.twitch.tv NOTICE * :Improperly formatted auth") ==
	        SV_IRCEV_SESS_AUTH_FAILED,
	    "bad auth format");
	CHECK(sess(":tmi.twitch.tv NOTICE #x :Login authentication failed") ==
	        SV_IRCEV_SESS_OTHER,
	    "the same text in a channel is not about the login");
	CHECK(sess("@msg-id=msg_banned :tmi.twitch.tv NOTICE #x :banned") ==
	        SV_IRCEV_SESS_CHANNEL_GONE,
	    "banned from a channel");
	CHECK(
	    sess("@msg-id=host_on :tmi.twitch.tv NOTICE #x :Now hosting y.") ==
	        SV_IRCEV_SESS_OTHER,
	    "another NOTICE");
	CHECK(sess(":a!a@a PRIVMSG #x :PING") == SV_IRCEV_SESS_OTHER,
	    "chat is not for the session");
}

static void
test_joins(void)
{
	char *chans[25], names[25][8], out[64];
	struct sv_ircev_joins j;
	long long next = 0;
	size_t i, k;

	for (i = 0; i < 25; i++) {
		(void)snprintf(names[i], sizeof(names[i]), "c%zu", i);
		chans[i] = names[i];
	}
	sv_ircev_joins_init(&j, 10000);
	CHECK(sv_ircev_joins_budget(&j, 1000, &next) == 20 && next == 0,
	    "a fresh budget: 20");
	k = sv_ircev_join_list(&j, 1000, chans, 3, out, sizeof(out));
	CHECK(k == 3, "three channels in one JOIN");
	CHECK_STR(out, "#c0,#c1,#c2", "a comma list with '#'");
	sv_ircev_joins_spend(&j, k, 1000);
	CHECK(sv_ircev_joins_budget(&j, 1000, NULL) == 17, "17 left");
	k = sv_ircev_join_list(&j, 2000, chans + 3, 22, out, sizeof(out));
	CHECK(k == 14, "as many as fit in the line");
	CHECK_STR(out,
	    "#c3,#c4,#c5,#c6,#c7,#c8,#c9,#c10,#c11,#c12,#c13,#c14,#c15,#c16",
	    "exactly the channels that fit");
	sv_ircev_joins_spend(&j, 17, 2000);
	CHECK(sv_ircev_joins_budget(&j, 2000, &next) == 0 && next == 11000,
	    "spent: the next one when the oldest leaves the window");
	CHECK(sv_ircev_join_list(&j, 2000, chans, 1, out, sizeof(out)) == 0,
	    "no budget: nothing");
	CHECK(sv_ircev_joins_budget(&j, 11000, NULL) == 3,
	    "the first three left the window");
	CHECK(sv_ircev_joins_budget(&j, 12000, NULL) == 20, "all of it back");
}

int
main(void)
{
	sv_log_init("test-irc");
	sv_irc_msg_init(&m);
	test_tags();
	test_prefix_params();
	test_utf8_and_size();
	test_malformed();
	test_json();
	test_format();
	test_session();
	test_joins();
	sv_irc_msg_fini(&m);
	return unit_done();
}
