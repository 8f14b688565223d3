/*
 * ircev: Twitch chat messages (parsed by lib/irc) mapped into the event
 * envelope, field for field in the EventSub shape (DESIGN.md 2,
 * twitch-protocols.md 5.6 and 5.7):
 *
 *   USERNOTICE raid            -> channel.raid
 *   HOSTTARGET, NOTICE host_on,
 *   jtv "is now hosting you"   -> channel.host
 *   USERNOTICE sub             -> channel.subscribe
 *   USERNOTICE resub           -> channel.subscription.message
 *   USERNOTICE submysterygift  -> channel.subscription.gift (total N)
 *   USERNOTICE subgift         -> channel.subscribe (is_gift) for the
 *                                 recipient, plus channel.subscription.gift
 *                                 (total 1) when not part of a mystery gift
 *   PRIVMSG with bits          -> channel.cheer
 *
 * Fields IRC does not carry are left out. ids come from the `id` tag, or
 * are a hash of the line; time from `tmi-sent-ts`, else now. The same
 * host seen again within 30 s of event time (HOSTTARGET and the host_on
 * NOTICE both announce it) gives one event: in a replayed log the line
 * times count, not the wall clock.
 *
 * A chat client also needs to know what a server line means for its
 * session (sv_ircev_session(): PING, the end of the login, RECONNECT,
 * a refused token), and keeps one JOIN budget per user (5.8).
 *
 * No I/O; no globals. Thread-safe for separate objects.
 */
#ifndef SV_IRCEV_H
#define SV_IRCEV_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "irc.h"

enum {
	SV_IRCEV_HOST = 1 << 0,
	SV_IRCEV_RAID = 1 << 1,
	SV_IRCEV_SUB = 1 << 2, /* sub */
	SV_IRCEV_RESUB = 1 << 3, /* resub */
	SV_IRCEV_GIFT = 1 << 4, /* subgift, submysterygift */
	SV_IRCEV_CHEER = 1 << 5,
	SV_IRCEV_DEFAULT = SV_IRCEV_HOST | SV_IRCEV_RAID,
	SV_IRCEV_ALL = 0x3f,
};

#define SV_IRCEV_GIFTS 64
#define SV_IRCEV_HOSTS 16

/* A mystery gift whose subgifts are still to come. */
struct sv_ircev_gift {
	char origin[96]; /* msg-param-origin-id */
	long remaining; /* subgifts still expected */
};

/* A host repeated within this window (event times, ms) is not news. */
#define SV_IRCEV_HOST_WINDOW_MS 30000

/* A host already reported (HOSTTARGET and NOTICE name the same one). */
struct sv_ircev_host {
	char from[32];
	char to[32];
	long long at; /* event time, ms since the epoch; 0: free */
};

/* Mapping state: which events, and what earlier lines tell later ones. */
struct sv_ircev {
	unsigned events;
	bool raw; /* add "raw": the line */
	struct sv_ircev_gift gifts[SV_IRCEV_GIFTS];
	size_t gift_next;
	struct sv_ircev_host hosts[SV_IRCEV_HOSTS];
	size_t host_next;
};

/* events: SV_IRCEV_* bits. */
void sv_ircev_init(struct sv_ircev *c, unsigned events, bool raw);

/*
 * Parse "host,raid", "all", "sub,resub,gift,cheer" into *events.
 * Returns 0, or -1 naming the bad word in *bad.
 */
int sv_ircev_parse_events(
    const char *list, unsigned *events, const char **bad, size_t *badlen);

/*
 * Map one message (line is the raw line it was parsed from). Appends the
 * resulting envelopes (0, 1 or 2) to the JSON array out. Returns how
 * many, or -1 when memory ran out.
 */
int sv_ircev_map(struct sv_ircev *c, const struct sv_irc_msg *m,
    const char *line, size_t len, json_t *out);

/* ---- a chat client ------------------------------------------------------ */

enum sv_ircev_sess {
	SV_IRCEV_SESS_OTHER, /* nothing the session acts on */
	SV_IRCEV_SESS_PING, /* answer PONG with param 0 (5.2) */
	SV_IRCEV_SESS_PONG, /* the answer to our PING */
	SV_IRCEV_SESS_WELCOME, /* 376, the end of the welcome: logged in */
	SV_IRCEV_SESS_RECONNECT, /* the server goes down soon (5.4) */
	SV_IRCEV_SESS_AUTH_FAILED, /* NOTICE * "Login authentication failed"
	                              or "Improperly formatted auth" (5.2) */
	SV_IRCEV_SESS_CHANNEL_GONE, /* NOTICE msg_channel_suspended or
	                               msg_banned: the channel cannot be read */
};

/* What message m means for the session it came on. */
enum sv_ircev_sess sv_ircev_session(const struct sv_irc_msg *m);

/* Twitch's JOIN limit for a user (5.8): channels per window. */
#define SV_IRCEV_JOINS_PER_WINDOW 20
#define SV_IRCEV_JOIN_WINDOW_MS 10000

/* The JOINs of one user, shared by all its connections. */
struct sv_ircev_joins {
	long long at[SV_IRCEV_JOINS_PER_WINDOW]; /* a ring of JOIN times */
	size_t n; /* channels joined so far */
	long window_ms;
};

/* No JOIN yet, in windows of window_ms (SV_IRCEV_JOIN_WINDOW_MS; tests
 * use less). */
void sv_ircev_joins_init(struct sv_ircev_joins *j, long window_ms);

/*
 * How many channels may be joined at now_ms (monotonic ms). When none
 * may, *next (unless NULL) is set to when one may again.
 */
size_t sv_ircev_joins_budget(
    const struct sv_ircev_joins *j, long long now_ms, long long *next);

/*
 * The parameter of one JOIN for the first of channels[0..n) (logins
 * without '#'): "#a,#b", as many as the budget allows at now_ms and as
 * fit in out[0..outlen). Each channel counts against the budget once
 * sent (sv_ircev_joins_spend()). Returns how many; 0 for none (out is
 * then untouched).
 */
size_t sv_ircev_join_list(const struct sv_ircev_joins *j, long long now_ms,
    char *const *channels, size_t n, char *out, size_t outlen);

/* k channels were joined at now_ms. */
void sv_ircev_joins_spend(struct sv_ircev_joins *j, size_t k, long long now_ms);

#endif
