/*
 * eventsub: the messages of the EventSub WebSocket transport
 * (twitch-protocols.md 1.2-1.8): one text frame parsed into what a
 * client acts on, the envelopes of a notification (DESIGN.md 2), the
 * meaning of the close codes, and the "TYPE[:VERSION]" lists users give.
 *
 *	struct sv_eventsub_msg m;
 *
 *	if (sv_eventsub_parse(data, len, false, &m, &e) < 0)
 *		warn("%s", e.msg);		// not JSON, wrong shape: skip
 *	else if (m.kind == SV_EVENTSUB_NOTIFICATION)
 *		print(m.events);		// one envelope per event
 *	sv_eventsub_msg_fini(&m);		// always
 *
 * A client also keeps a struct sv_eventsub_conn per connection (the
 * session, the keepalive watchdog, the reconnect URL), and creates its
 * subscriptions with sv_eventsub_subscribe().
 *
 * No globals; no I/O except sv_eventsub_subscribe() (Helix). Thread-safe
 * for separate objects.
 */
#ifndef SV_EVENTSUB_H
#define SV_EVENTSUB_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "err.h"
#include "helix.h"

#define SV_EVENTSUB_SOURCE "eventsub-ws"
#define SV_EVENTSUB_DEFAULT_URL "wss://eventsub.wss.twitch.tv/ws"

/* Twitch's limits for one WebSocket client (section 1.10). */
#define SV_EVENTSUB_MAX_SUBS 300 /* enabled subscriptions per connection */
#define SV_EVENTSUB_MAX_CONNS 3 /* connections per client id and user */
#define SV_EVENTSUB_RECONNECT_GRACE_S 30 /* old socket after reconnect */
#define SV_EVENTSUB_MAX_AGE_S 600 /* older notifications are dropped */

/* Close codes Twitch uses (section 1.8). */
#define SV_EVENTSUB_CLOSE_INTERNAL 4000
#define SV_EVENTSUB_CLOSE_INBOUND 4001
#define SV_EVENTSUB_CLOSE_PING_PONG 4002
#define SV_EVENTSUB_CLOSE_UNUSED 4003
#define SV_EVENTSUB_CLOSE_GRACE 4004
#define SV_EVENTSUB_CLOSE_NET_TIMEOUT 4005
#define SV_EVENTSUB_CLOSE_NET_ERROR 4006
#define SV_EVENTSUB_CLOSE_BAD_RECONNECT 4007

enum sv_eventsub_kind {
	SV_EVENTSUB_WELCOME,
	SV_EVENTSUB_KEEPALIVE,
	SV_EVENTSUB_NOTIFICATION,
	SV_EVENTSUB_RECONNECT,
	SV_EVENTSUB_REVOCATION,
	SV_EVENTSUB_UNKNOWN, /* a message type we do not know: ignore it */
};

/*
 * One message. Strings are borrowed from root and live until
 * sv_eventsub_msg_fini(); NULL when the message does not have them.
 */
struct sv_eventsub_msg {
	enum sv_eventsub_kind kind;
	json_t *root; /* the whole frame (owned) */
	const char *id; /* metadata.message_id */
	const char *type; /* metadata.message_type, as sent */
	const char *timestamp; /* metadata.message_timestamp, as sent */
	struct timespec ts; /* the same, parsed */
	/* welcome and reconnect: payload.session */
	const char *session_id;
	const char *reconnect_url; /* reconnect: where to go (verbatim) */
	long keepalive_s; /* welcome: keepalive_timeout_seconds, else 0 */
	/* notification and revocation: the subscription */
	const char *sub_id, *sub_type, *sub_version, *sub_status;
	/* notification: the envelopes to print, one per event (a batched
	 * notification carries several), as a JSON array (owned) */
	json_t *events;
};

/*
 * Parse one text frame. The frame must be one JSON object with a
 * metadata object (message_id, message_type and an RFC 3339
 * message_timestamp) and the payload its message type needs: a welcome
 * has payload.session.id, a reconnect payload.session.reconnect_url, a
 * notification a subscription type and version and payload.event (or a
 * non-empty payload.events batch), a revocation payload.subscription.
 * A message type that is not one of the five parses as
 * SV_EVENTSUB_UNKNOWN.
 *
 * A notification becomes envelopes: id = the message id (a batched
 * event's own id), type and version from the metadata (else the
 * subscription), source "eventsub-ws", time = the message timestamp in
 * UTC milliseconds, event = the event object unchanged, for any type,
 * and with raw the whole frame as "raw".
 *
 * Returns 0, or -1 with e set (EX_PROTOCOL, the message saying what is
 * wrong; EX_OSERR). m must be released with sv_eventsub_msg_fini()
 * either way.
 */
int sv_eventsub_parse(const char *data, size_t len, bool raw,
    struct sv_eventsub_msg *m, struct sv_err *e);

void sv_eventsub_msg_fini(struct sv_eventsub_msg *m);

/*
 * The events of a notification payload, which both transports share
 * (twitch-protocols.md 1.5, 2.5): payload.event as one envelope with id,
 * or each item of a batched payload.events ({"id","data"}) with its own
 * id. Each envelope gets type, version, source and time as given, and
 * raw as "raw" unless it is NULL (borrowed). Returns a new array of at
 * least one envelope, or NULL with *why set to a static text saying what
 * is wrong. Thread-safe.
 */
json_t *sv_eventsub_envelopes(const json_t *payload, const char *id,
    const char *type, const char *version, const char *source, const char *time,
    json_t *raw, const char **why);

/* What a close code means (section 1.8): "connection unused", ...; ""
 * for a code Twitch does not define. */
const char *sv_eventsub_close_text(unsigned code);

/*
 * What a client does after a close code on its current connection:
 * reconnect to the base URL and subscribe again (every code but 1000
 * the client sent itself), at once rather than after a backoff delay
 * (the transient and the "subscribe faster" ones), and whether the code
 * says the client misbehaved (4001, 4002: a bug to report).
 */
struct sv_eventsub_close_action {
	bool at_once;
	bool our_fault;
};

void sv_eventsub_close_action(
    unsigned code, struct sv_eventsub_close_action *a);

/* One wanted subscription: the type and version to create. */
struct sv_eventsub_want {
	char type[128];
	char version[16];
};

/*
 * Parse a comma-separated list of "TYPE" or "TYPE:VERSION" (a Twitch
 * CLI alias is accepted for TYPE) into want[0..max), without
 * duplicates. A type without a version gets the version lib/types knows
 * for it, else "1". Types that are not EventSub types (channel.host)
 * are refused. Returns the count, or -1 with e set (EX_USAGE) naming
 * the bad item, or when there are more than max.
 */
int sv_eventsub_want_parse(const char *list, struct sv_eventsub_want *want,
    size_t max, struct sv_err *e);

/*
 * A revocation (m) ends the wanted subscriptions it names: its type, and
 * its version when it has one. Clears active[i] for each of them among
 * want[0..n) and returns how many stay active.
 */
size_t sv_eventsub_revoke(const struct sv_eventsub_want *want, bool *active,
    size_t n, const struct sv_eventsub_msg *m);

/* ---- a client connection ------------------------------------------------ */

/*
 * The URL to connect to: url with keepalive_timeout_seconds=keepalive_s
 * added as a query parameter (1.1), unless it has one already. Returns
 * 0, or -1 when the result does not fit in out[0..n).
 */
int sv_eventsub_url(const char *url, long keepalive_s, char *out, size_t n);

/*
 * What a client keeps per connection (1.3, 1.4, 1.6): the session of the
 * welcome, the keepalive window, when the last message came, and where
 * Twitch asked it to reconnect.
 */
struct sv_eventsub_conn {
	char session_id[256]; /* "" until the welcome */
	long keepalive_ms; /* the welcome's, else the one asked for */
	long long last_rx_ms; /* monotonic ms of the last message */
	bool welcome_new; /* set by the welcome: subscribe now, then clear */
	char *reconnect_url; /* set by session_reconnect (owned), or NULL */
};

enum sv_eventsub_feed {
	SV_EVENTSUB_FEED_OK, /* m holds a message: act on m.kind */
	SV_EVENTSUB_FEED_BAD, /* not a usable message (e says why): skip */
	SV_EVENTSUB_FEED_VIOLATION, /* the first message is not a welcome:
	                               drop the connection (e says why) */
};

/* A connection opened at now_ms that asked for keepalive_ms. */
void sv_eventsub_conn_init(
    struct sv_eventsub_conn *c, long keepalive_ms, long long now_ms);
void sv_eventsub_conn_fini(struct sv_eventsub_conn *c);

/*
 * Feed one text frame that arrived at now_ms: parse it into m (release
 * m with sv_eventsub_msg_fini() whatever the result) and keep what
 * concerns the connection. Every frame moves last_rx_ms; the welcome
 * sets session_id, keepalive_ms and welcome_new (a second welcome is
 * FEED_BAD); the first session_reconnect sets reconnect_url.
 */
enum sv_eventsub_feed sv_eventsub_conn_feed(struct sv_eventsub_conn *c,
    const char *data, size_t len, bool raw, long long now_ms,
    struct sv_eventsub_msg *m, struct sv_err *e);

/*
 * When the connection counts as dead (1.4): no message within the
 * keepalive window plus a margin of a fifth of it, at least 1 s.
 */
long long sv_eventsub_conn_deadline(const struct sv_eventsub_conn *c);

/* Is the message older than SV_EVENTSUB_MAX_AGE_S at now (1.5)? */
bool sv_eventsub_stale(const struct sv_eventsub_msg *m, time_t now);

/* ---- subscribing (1.11) -------------------------------------------------- */

enum sv_eventsub_sub_res {
	SV_EVENTSUB_SUB_CREATED,
	SV_EVENTSUB_SUB_EXISTS, /* 409: it is there already */
	SV_EVENTSUB_SUB_REFUSED, /* 4xx: e->ex EX_NOPERM (401, 403) or
	                            EX_DATAERR (bad type, condition, session) */
	SV_EVENTSUB_SUB_LIMIT, /* 429: e names the limits (EX_TEMPFAIL) */
	SV_EVENTSUB_SUB_FAILED, /* Helix unreachable or 5xx: e */
};

/*
 * Create the subscription w for a WebSocket session through Helix (a
 * user token): the condition the type needs for broadcaster_id, with
 * user_id (the token's user) as the moderator or chatting user where the
 * type has one (lib/types; a type it does not know gets
 * broadcaster_user_id). On SV_EVENTSUB_SUB_CREATED, *cost is the
 * subscription's cost. Blocking (Helix).
 */
enum sv_eventsub_sub_res sv_eventsub_subscribe(struct sv_helix *hx,
    const struct sv_eventsub_want *w, const char *broadcaster_id,
    const char *user_id, const char *session_id, long long *cost,
    struct sv_err *e);

#endif
