/*
 * twitch: Twitch specifics shared by the tools. For now the EventSub
 * webhook transport (twitch-protocols.md section 2): the HMAC-SHA256
 * signature, the checks a receiver makes on every request, the envelope
 * it prints, and the request a sender (Twitch, or twitch-trigger) makes.
 *
 * Pure functions: no I/O, no globals. Thread-safe.
 */
#ifndef SV_TWITCH_H
#define SV_TWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "err.h"
#include "event.h"

/* The headers of a webhook delivery (section 2.3); match them
 * case-insensitively. */
#define SV_TWITCH_HDR_ID "Twitch-Eventsub-Message-Id"
#define SV_TWITCH_HDR_RETRY "Twitch-Eventsub-Message-Retry"
#define SV_TWITCH_HDR_TYPE "Twitch-Eventsub-Message-Type"
#define SV_TWITCH_HDR_SIGNATURE "Twitch-Eventsub-Message-Signature"
#define SV_TWITCH_HDR_TIMESTAMP "Twitch-Eventsub-Message-Timestamp"
#define SV_TWITCH_HDR_SUB_TYPE "Twitch-Eventsub-Subscription-Type"
#define SV_TWITCH_HDR_SUB_VERSION "Twitch-Eventsub-Subscription-Version"

/* Values of Twitch-Eventsub-Message-Type. */
#define SV_TWITCH_MSG_NOTIFICATION "notification"
#define SV_TWITCH_MSG_VERIFICATION "webhook_callback_verification"
#define SV_TWITCH_MSG_REVOCATION "revocation"

/* The envelope's source for webhook deliveries (DESIGN.md section 2). */
#define SV_TWITCH_SOURCE_WEBHOOK "eventsub-webhook"

/* A webhook secret is 10 to 100 ASCII characters (section 2.2). */
#define SV_TWITCH_SECRET_MIN 10
#define SV_TWITCH_SECRET_MAX 100

/* "sha256=" and 64 lowercase hex digits, plus NUL. */
#define SV_TWITCH_SIG_LEN 72

/* Clocks drift: how far in the future a timestamp may be (our choice,
 * section 2.7). */
#define SV_TWITCH_MAX_SKEW_S 60

/*
 * Is secret a valid webhook secret: 10 to 100 printable ASCII characters?
 * Returns 0, or -1 with e->ex = EX_CONFIG and a message that does not
 * contain the secret.
 */
int sv_twitch_secret_check(const char *secret, struct sv_err *e);

/*
 * The signature Twitch sends: "sha256=" + lowercase hex of
 * HMAC-SHA256(secret, id || timestamp || body), the header strings used
 * verbatim (section 2.4). Returns 0, or -1 if OpenSSL fails (out is "").
 * Thread-safe.
 */
int sv_twitch_sign(const char *secret, const char *id, const char *timestamp,
    const void *body, size_t len, char out[SV_TWITCH_SIG_LEN]);

/*
 * Does sig match the signature of (id, timestamp, body)? The comparison
 * takes the same time wherever the first difference is (CRYPTO_memcmp);
 * a sig of the wrong length or without the "sha256=" prefix is false.
 */
bool sv_twitch_verify(const char *secret, const char *id, const char *timestamp,
    const void *body, size_t len, const char *sig);

/* A delivery as the receiver got it: header values (NULL when absent)
 * and the raw body. All borrowed. */
struct sv_twitch_delivery {
	const char *id;
	const char *timestamp;
	const char *signature;
	const char *type; /* Twitch-Eventsub-Message-Type */
	const char *sub_type; /* Twitch-Eventsub-Subscription-Type */
	const char *sub_version;
	const char *body;
	size_t body_len;
};

/* What a delivery turned out to be, in the order the checks run. */
enum sv_twitch_verdict {
	SV_TWITCH_NOTIFICATION, /* events holds the envelopes to print */
	SV_TWITCH_VERIFICATION, /* answer 200 with challenge */
	SV_TWITCH_REVOCATION, /* answer 2xx, log sub_status */
	SV_TWITCH_NO_HEADERS, /* id, timestamp, signature or type missing */
	SV_TWITCH_BAD_SIGNATURE, /* wrong secret, or tampered with */
	SV_TWITCH_BAD_TIMESTAMP, /* signed, but not an RFC 3339 time */
	SV_TWITCH_STALE, /* older than max_age */
	SV_TWITCH_FUTURE, /* more than SV_TWITCH_MAX_SKEW_S ahead */
	SV_TWITCH_BAD_JSON, /* body is not one JSON object */
	SV_TWITCH_BAD_MESSAGE, /* JSON, but not the documented shape */
	SV_TWITCH_UNKNOWN_TYPE, /* a message type we do not know */
};

/* The result of sv_twitch_delivery_check(). */
struct sv_twitch_msg {
	enum sv_twitch_verdict verdict;
	const char *why; /* static text for a rejection, else "" */
	json_t *body; /* the parsed body (owned), or NULL */
	/* Borrowed from body (or from the delivery's headers): */
	const char *challenge; /* verification */
	const char *sub_id, *sub_type, *sub_version, *sub_status;
	/* Notification: the envelopes to print, one per event (a batched
	 * delivery carries several), as a JSON array (owned). */
	json_t *events;
	char time[SV_EVENT_TIME_LEN]; /* the timestamp, normalised */
};

/*
 * Check one delivery the way section 2 prescribes: the headers present,
 * the signature (before any parsing), the timestamp no older than
 * max_age_s seconds before now nor more than SV_TWITCH_MAX_SKEW_S after
 * it, the body one JSON object of the shape its message type needs.
 *
 * A notification becomes envelopes: id = the message id (a batched
 * event's own id), type and version from the subscription (else the
 * headers), source "eventsub-webhook", time = the message timestamp in
 * UTC milliseconds, event = the event object unchanged, for any type.
 *
 * Returns m->verdict. m must be released with sv_twitch_msg_fini()
 * whatever the verdict. Thread-safe.
 */
enum sv_twitch_verdict sv_twitch_delivery_check(
    const struct sv_twitch_delivery *d, const char *secret, time_t now,
    long max_age_s, struct sv_twitch_msg *m);

void sv_twitch_msg_fini(struct sv_twitch_msg *m);

/* The HTTP status a receiver answers for a verdict: 200 for a
 * verification, 204 for a notification or revocation, 403 for the
 * signature and timestamp failures, 400 for the rest. */
unsigned sv_twitch_verdict_status(enum sv_twitch_verdict v);

/* A short name for counters and logs: "signature", "stale", ... */
const char *sv_twitch_verdict_name(enum sv_twitch_verdict v);

/*
 * The subscription object of a webhook delivery (section 2.5) for type
 * and version: id, status, type, version, the condition that type needs
 * (lib/types) filled from the ids in event (NULL or missing ids: the
 * condition has broadcaster ids only where event has them), transport
 * {"method":"webhook","callback":callback}, created_at, cost 0. Returns
 * a new reference, or NULL when out of memory.
 */
json_t *sv_twitch_subscription_new(const char *id, const char *status,
    const char *type, const char *version, const json_t *event,
    const char *callback, const char *created_at);

/*
 * The headers of an outgoing delivery, as Twitch sends them (section
 * 8.1): Content-Type, Message-Id, Message-Retry, Message-Type,
 * Message-Timestamp, Message-Signature (when secret is not NULL),
 * Subscription-Type and -Version. headers[] is NULL-terminated and
 * points into the struct, ready for struct sv_http_req.
 */
struct sv_twitch_request {
	char sig[SV_TWITCH_SIG_LEN];
	char buf[1024];
	const char *headers[9];
};

/*
 * Fill r for one delivery. Returns 0, or -1 with e set (EX_SOFTWARE when
 * the values do not fit, EX_OSERR when OpenSSL fails).
 */
int sv_twitch_request_init(struct sv_twitch_request *r, const char *secret,
    const char *msg_type, const char *id, const char *timestamp, unsigned retry,
    const char *sub_type, const char *sub_version, const void *body, size_t len,
    struct sv_err *e);

#endif
