/*
 * pubsub: the legacy Twitch PubSub protocol (twitch-protocols.md 4),
 * shut down by Twitch in 2025 and kept for PubSub-compatible servers and
 * recorded captures: the frames a client sends (LISTEN, PING), the
 * frames it reads (RESPONSE, PONG, RECONNECT, MESSAGE), and the mapping
 * of MESSAGE payloads into EventSub-shaped envelopes (DESIGN.md 2):
 *
 *   channel-subscribe-events-v1  sub            channel.subscribe
 *                                resub          channel.subscription.message
 *                                subgift ...    channel.subscription.gift +
 *                                               channel.subscribe (is_gift)
 *   channel-bits-events-v1/v2    bits_event     channel.cheer
 *   channel-points-channel-v1    reward-redeemed
 *                     channel.channel_points_custom_reward_redemption.add
 *
 * Fields PubSub does not carry (the broadcaster's display name, a
 * gifter's cumulative total) are left out, never invented.
 *
 * A client keeps a struct sv_pubsub_conn per connection: the topics
 * and the nonces of its LISTENs, and its PING/PONG timing.
 *
 * No I/O, no globals. Thread-safe for separate objects.
 */
#ifndef SV_PUBSUB_H
#define SV_PUBSUB_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "err.h"

#define SV_PUBSUB_SOURCE "pubsub"
#define SV_PUBSUB_DEFAULT_URL "wss://pubsub-edge.twitch.tv"
#define SV_PUBSUB_PING_MAX_MS 300000 /* PING at least this often */
#define SV_PUBSUB_PONG_TIMEOUT_MS 10000 /* else reconnect */

enum sv_pubsub_kind {
	SV_PUBSUB_RESPONSE,
	SV_PUBSUB_PONG,
	SV_PUBSUB_RECONNECT,
	SV_PUBSUB_MESSAGE,
	SV_PUBSUB_UNKNOWN, /* a frame type we do not know: ignore it */
};

/* One frame. Strings are borrowed until sv_pubsub_msg_fini(). */
struct sv_pubsub_msg {
	enum sv_pubsub_kind kind;
	json_t *root; /* the frame (owned) */
	const char *type; /* as sent */
	const char *nonce; /* RESPONSE (may be NULL) */
	const char *error; /* RESPONSE: "" on success, "ERR_BADAUTH", ... */
	const char *topic; /* MESSAGE */
	json_t *inner; /* MESSAGE: data.message decoded (owned) */
	json_t *events; /* MESSAGE: the envelopes, maybe none (owned) */
	const char *skipped; /* MESSAGE without events: why (static) */
};

/*
 * Parse one text frame: a JSON object with a "type" string; a RESPONSE
 * has an "error" string, a MESSAGE a data object with a "topic" string
 * and a "message" string that holds one JSON object. A MESSAGE on a
 * topic and of a kind mapped above becomes envelopes (source "pubsub",
 * time from the payload, else now); others leave events empty and say
 * why in skipped. Ids: the payload's message id when it has one (bits),
 * else a hash of the type and the message string, so the same delivery
 * twice gives the same ids. With raw, each envelope carries the decoded
 * message as "raw".
 *
 * Returns 0, or -1 with e set (EX_PROTOCOL saying what is wrong,
 * EX_OSERR). m must be released with sv_pubsub_msg_fini() either way.
 */
int sv_pubsub_parse(const char *data, size_t len, bool raw,
    struct sv_pubsub_msg *m, struct sv_err *e);

void sv_pubsub_msg_fini(struct sv_pubsub_msg *m);

/*
 * Can PubSub deliver EventSub type at version: a topic carries it and
 * the mapping gives version 1? Returns 0, or -1 with e set (EX_USAGE)
 * saying why not.
 */
int sv_pubsub_type_check(
    const char *type, const char *version, struct sv_err *e);

/* The PING frame. */
#define SV_PUBSUB_PING "{\"type\":\"PING\"}"

/*
 * The exit code a RESPONSE error calls for: EX_NOPERM for ERR_BADAUTH,
 * EX_DATAERR for ERR_BADTOPIC, EX_PROTOCOL for ERR_BADMESSAGE, and
 * EX_UNAVAILABLE for ERR_SERVER or anything else (try again later).
 */
int sv_pubsub_error_ex(const char *error);

/* ---- a client connection ------------------------------------------------ */

#define SV_PUBSUB_MAX_LISTEN 8

struct sv_pubsub_conn {
	char topic[SV_PUBSUB_MAX_LISTEN][128];
	char nonce[SV_PUBSUB_MAX_LISTEN][33]; /* "" once answered */
	size_t ntopics;
	size_t pending; /* LISTENs not answered yet */
	long ping_ms, pong_timeout_ms;
	long long next_ping_ms; /* monotonic */
	long long ping_sent_ms; /* 0: no PING outstanding */
};

/*
 * A connection opened at now_ms for the EventSub types[0..n): one topic
 * per distinct PubSub topic carrying them, for channel_id. PINGs go out
 * every ping_ms (made up to 10 % shorter at random, so clients do not
 * PING in step), and a PONG must come within pong_timeout_ms (4.2).
 * Returns 0, or -1 with e set (EX_USAGE: a type without a topic).
 */
int sv_pubsub_conn_init(struct sv_pubsub_conn *c, const char *const *types,
    size_t n, const char *channel_id, long ping_ms, long pong_timeout_ms,
    long long now_ms, struct sv_err *e);

/*
 * The LISTEN frame for topic i with a fresh random nonce, one topic per
 * LISTEN so that a refusal names its topic (4.2); counts it as pending.
 * A heap string the caller wipes and frees; NULL when out of memory.
 */
char *sv_pubsub_conn_listen(
    struct sv_pubsub_conn *c, size_t i, const char *token);

enum sv_pubsub_answer {
	SV_PUBSUB_ANSWER_PENDING, /* a topic is listened, others are not yet */
	SV_PUBSUB_ANSWER_DONE, /* every topic is listened */
	SV_PUBSUB_ANSWER_UNKNOWN, /* not a nonce of ours: ignore it */
	SV_PUBSUB_ANSWER_REFUSED, /* m->error says why: sv_pubsub_error_ex() */
};

/* Match a RESPONSE to one of our LISTENs; *topic names it (borrowed). */
enum sv_pubsub_answer sv_pubsub_conn_response(struct sv_pubsub_conn *c,
    const struct sv_pubsub_msg *m, const char **topic);

/*
 * The timers at now_ms: 1 when a PING is due (send SV_PUBSUB_PING, then
 * call sv_pubsub_conn_pinged()), -1 when the PONG is overdue (the
 * connection is dead: reconnect), 0 otherwise. *wake_ms is lowered to
 * when to look again.
 */
int sv_pubsub_conn_tick(
    struct sv_pubsub_conn *c, long long now_ms, long long *wake_ms);
void sv_pubsub_conn_pinged(struct sv_pubsub_conn *c, long long now_ms);
void sv_pubsub_conn_pong(struct sv_pubsub_conn *c);

#endif
