/*
 * irc: a pure IRCv3 message parser and line builder (no I/O), for Twitch
 * chat (twitch-protocols.md 5.3):
 *
 *   [@tags SP] [:prefix SP] command *(SP param) [SP :trailing]
 *
 * Tag values are unescaped (\: \s \\ \r \n, "\c" -> "c", a lone trailing
 * backslash dropped). "key" and "key=" both give an empty value.
 */
#ifndef SV_IRC_H
#define SV_IRC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "err.h"

#define SV_IRC_MAX_LINE (16 * 1024) /* 8191 bytes of tags + 512 + slack */
#define SV_IRC_MAX_TAGS 128
#define SV_IRC_MAX_PARAMS 15

struct sv_irc_tag {
	const char *key;
	const char *value; /* unescaped, NUL-terminated */
};

/*
 * A parsed message. All strings point into `buf`, a private copy of the
 * line, and stay valid until the next sv_irc_parse() on the same struct
 * or sv_irc_msg_fini(). Reuse one struct for many lines: no allocation
 * after the first.
 */
struct sv_irc_msg {
	char *buf;
	size_t cap;
	size_t ntags;
	struct sv_irc_tag tags[SV_IRC_MAX_TAGS];
	const char *prefix; /* "nick!user@host" or "tmi.twitch.tv", or NULL */
	const char *nick; /* prefix up to '!', or the whole prefix */
	const char *command; /* "PRIVMSG", "001", ... */
	size_t nparams;
	const char *params[SV_IRC_MAX_PARAMS];
	bool has_trailing; /* the last param was written with ':' */
};

void sv_irc_msg_init(struct sv_irc_msg *m);
void sv_irc_msg_fini(struct sv_irc_msg *m);

/*
 * Parse one line (CR/LF at the end are ignored; anything else is data).
 * Returns 0, or -1 with e->ex = EX_PROTOCOL and a reason for an empty or
 * malformed line, or one over SV_IRC_MAX_LINE bytes or with too many tags.
 * (EX_OSERR if memory ran out.)
 */
int sv_irc_parse(
    struct sv_irc_msg *m, const char *line, size_t len, struct sv_err *e);

/* The value of tag key, or NULL if absent. */
const char *sv_irc_tag(const struct sv_irc_msg *m, const char *key);

/* Parameter i, or NULL. */
const char *sv_irc_param(const struct sv_irc_msg *m, size_t i);

/*
 * Unescape a tag value in place (for callers holding a raw value).
 * Returns the new length.
 */
size_t sv_irc_unescape(char *s);

/*
 * The message as JSON: {"tags":{...},"prefix":...,"command":...,
 * "params":[...]}; prefix null when absent. Tag values that are not UTF-8
 * have their invalid bytes replaced by U+FFFD. New reference or NULL.
 */
json_t *sv_irc_msg_json(const struct sv_irc_msg *m);

/*
 * Build an outgoing line "COMMAND p1 p2 :last\r\n" into out (size n); the
 * last parameter gets ':' when it is empty, has a space or starts with
 * ':'. Parameters must not contain CR, LF or NUL. Returns the length, or
 * -1 if it does not fit or a parameter is invalid.
 */
int sv_irc_format(char *out, size_t n, const char *command,
    const char *const *params, size_t nparams);

#endif
