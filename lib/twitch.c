/* twitch: the EventSub webhook transport; see twitch.h. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "event.h"
#include "eventsub.h"
#include "twitch.h"
#include "types.h"

int
sv_twitch_secret_check(const char *secret, struct sv_err *e)
{
	size_t n, i;

	if (secret == NULL)
		return sv_err_set(e, EX_CONFIG, "no EventSub secret");
	n = strlen(secret);
	if (n < SV_TWITCH_SECRET_MIN || n > SV_TWITCH_SECRET_MAX)
		return sv_err_set(e, EX_CONFIG,
		    "the EventSub secret must be %d to %d characters, not %zu",
		    SV_TWITCH_SECRET_MIN, SV_TWITCH_SECRET_MAX, n);
	for (i = 0; i < n; i++)
		if ((unsigned char)secret[i] < 0x20 ||
		    (unsigned char)secret[i] > 0x7e)
			return sv_err_set(e, EX_CONFIG,
			    "the EventSub secret must be printable ASCII "
			    "(character %zu is not)",
			    i + 1);
	return 0;
}

/*
 * An HMAC-SHA256 context with the digest chosen and no key, made once:
 * fetching "HMAC" and then "SHA256" (EVP_MAC_init with a digest
 * parameter fetches it again) took about a third of the time of a
 * signature. Each signature duplicates it; EVP_MAC_CTX_dup only reads
 * its source, and openssl-threads(7) allows concurrent read-only use, so
 * MHD's threads share it. Never freed: it lives as long as the process.
 */
static EVP_MAC_CTX *hmac_sha256;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void
hmac_init(void)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;
	EVP_MAC *mac;

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL)
		return;
	ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac); /* the context keeps its own reference */
	params[0] =
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (ctx != NULL && EVP_MAC_CTX_set_params(ctx, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
	}
	hmac_sha256 = ctx;
}

int
sv_twitch_sign(const char *secret, const char *id, const char *timestamp,
    const void *body, size_t len, char out[SV_TWITCH_SIG_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	EVP_MAC_CTX *ctx = NULL;
	size_t mdlen = 0, i;
	int ok = 0;

	out[0] = '\0';
	if (pthread_once(&hmac_once, hmac_init) != 0 || hmac_sha256 == NULL)
		return -1;
	ctx = EVP_MAC_CTX_dup(hmac_sha256);
	/* The order is the contract: id, then timestamp, then the raw
	 * body, with nothing between them (section 2.4). */
	if (ctx != NULL &&
	    EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret),
	        NULL) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)id, strlen(id)) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)timestamp,
	        strlen(timestamp)) == 1 &&
	    EVP_MAC_update(ctx, body, len) == 1 &&
	    EVP_MAC_final(ctx, md, &mdlen, sizeof(md)) == 1 && mdlen == 32)
		ok = 1;
	EVP_MAC_CTX_free(ctx);
	if (!ok)
		return -1;
	memcpy(out, "sha256=", 7);
	for (i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[71] = '\0';
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

bool
sv_twitch_verify(const char *secret, const char *id, const char *timestamp,
    const void *body, size_t len, const char *sig)
{
	char want[SV_TWITCH_SIG_LEN];
	bool ok;

	if (sig == NULL || strlen(sig) != SV_TWITCH_SIG_LEN - 1)
		return false;
	if (sv_twitch_sign(secret, id, timestamp, body, len, want) < 0)
		return false;
	ok = CRYPTO_memcmp(want, sig, SV_TWITCH_SIG_LEN - 1) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}

static bool
present(const char *s)
{
	return s != NULL && *s != '\0';
}

static enum sv_twitch_verdict
reject(struct sv_twitch_msg *m, enum sv_twitch_verdict v, const char *why)
{
	m->verdict = v;
	m->why = why;
	return v;
}

static enum sv_twitch_verdict
notification(const struct sv_twitch_delivery *d, struct sv_twitch_msg *m)
{
	const char *why;

	if (!present(m->sub_type) || !present(m->sub_version))
		return reject(m, SV_TWITCH_BAD_MESSAGE,
		    "no subscription type or version");
	m->events = sv_eventsub_envelopes(m->body, d->id, m->sub_type,
	    m->sub_version, SV_TWITCH_SOURCE_WEBHOOK, m->time, NULL, &why);
	if (m->events == NULL)
		return reject(m, SV_TWITCH_BAD_MESSAGE, why);
	m->verdict = SV_TWITCH_NOTIFICATION;
	return m->verdict;
}

enum sv_twitch_verdict
sv_twitch_delivery_check(const struct sv_twitch_delivery *d, const char *secret,
    time_t now, long max_age_s, struct sv_twitch_msg *m)
{
	struct timespec ts;
	json_error_t je;
	json_t *sub;

	memset(m, 0, sizeof(*m));
	m->why = "";
	if (!present(d->id) || !present(d->timestamp) ||
	    !present(d->signature) || !present(d->type))
		return reject(m, SV_TWITCH_NO_HEADERS,
		    "Twitch-Eventsub-Message-* headers missing");
	/* Nothing is parsed before the signature is known to be good. */
	if (!sv_twitch_verify(secret, d->id, d->timestamp, d->body, d->body_len,
	        d->signature))
		return reject(m, SV_TWITCH_BAD_SIGNATURE, "bad signature");
	if (sv_event_time_parse(d->timestamp, &ts) < 0)
		return reject(
		    m, SV_TWITCH_BAD_TIMESTAMP, "timestamp is not RFC 3339");
	if (ts.tv_sec < now && now - ts.tv_sec > max_age_s)
		return reject(m, SV_TWITCH_STALE, "timestamp too old");
	if (ts.tv_sec > now && ts.tv_sec - now > SV_TWITCH_MAX_SKEW_S)
		return reject(m, SV_TWITCH_FUTURE, "timestamp in the future");
	(void)sv_event_time_normalize(d->timestamp, m->time);

	m->body = json_loadb(d->body, d->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(m->body))
		return reject(
		    m, SV_TWITCH_BAD_JSON, "body is not a JSON object");
	sub = json_object_get(m->body, "subscription");
	if (!json_is_object(sub))
		return reject(
		    m, SV_TWITCH_BAD_MESSAGE, "no subscription object");
	m->sub_id = sv_event_path_str(sub, "id");
	m->sub_status = sv_event_path_str(sub, "status");
	m->sub_type = sv_event_path_str(sub, "type");
	if (m->sub_type == NULL)
		m->sub_type = d->sub_type;
	m->sub_version = sv_event_path_str(sub, "version");
	if (m->sub_version == NULL)
		m->sub_version = d->sub_version;

	if (strcmp(d->type, SV_TWITCH_MSG_NOTIFICATION) == 0)
		return notification(d, m);
	if (strcmp(d->type, SV_TWITCH_MSG_VERIFICATION) == 0) {
		m->challenge = sv_event_path_str(m->body, "challenge");
		if (!present(m->challenge))
			return reject(m, SV_TWITCH_BAD_MESSAGE,
			    "a verification without a challenge");
		m->verdict = SV_TWITCH_VERIFICATION;
		return m->verdict;
	}
	if (strcmp(d->type, SV_TWITCH_MSG_REVOCATION) == 0) {
		m->verdict = SV_TWITCH_REVOCATION;
		return m->verdict;
	}
	return reject(m, SV_TWITCH_UNKNOWN_TYPE, "unknown message type");
}

void
sv_twitch_msg_fini(struct sv_twitch_msg *m)
{
	json_decref(m->events);
	json_decref(m->body);
	m->events = NULL;
	m->body = NULL;
	m->challenge = NULL;
	m->sub_id = m->sub_type = m->sub_version = m->sub_status = NULL;
}

unsigned
sv_twitch_verdict_status(enum sv_twitch_verdict v)
{
	switch (v) {
	case SV_TWITCH_VERIFICATION:
		return 200;
	case SV_TWITCH_NOTIFICATION:
	case SV_TWITCH_REVOCATION:
		return 204;
	case SV_TWITCH_NO_HEADERS:
	case SV_TWITCH_BAD_SIGNATURE:
	case SV_TWITCH_STALE:
	case SV_TWITCH_FUTURE:
		return 403;
	default:
		return 400;
	}
}

const char *
sv_twitch_verdict_name(enum sv_twitch_verdict v)
{
	switch (v) {
	case SV_TWITCH_NOTIFICATION:
		return "notification";
	case SV_TWITCH_VERIFICATION:
		return "verification";
	case SV_TWITCH_REVOCATION:
		return "revocation";
	case SV_TWITCH_NO_HEADERS:
		return "headers";
	case SV_TWITCH_BAD_SIGNATURE:
		return "signature";
	case SV_TWITCH_BAD_TIMESTAMP:
		return "timestamp";
	case SV_TWITCH_STALE:
		return "stale";
	case SV_TWITCH_FUTURE:
		return "future";
	case SV_TWITCH_BAD_JSON:
		return "json";
	case SV_TWITCH_BAD_MESSAGE:
		return "message";
	case SV_TWITCH_UNKNOWN_TYPE:
		return "type";
	}
	return "unknown";
}

/* Copy event[from] into cond[to] when event has it. */
static int
cond_copy(json_t *cond, const char *to, const json_t *event, const char *from)
{
	json_t *v = json_object_get(event, from);

	if (!json_is_string(v))
		return 0;
	return json_object_set_new(cond, to, json_copy(v));
}

static json_t *
condition_new(const char *type, const json_t *event)
{
	const struct sv_type *t = sv_types_find(type);
	enum sv_cond c = t != NULL ? t->cond : SV_COND_BROADCASTER;
	json_t *cond = json_object();
	int rc = 0;

	if (cond == NULL)
		return NULL;
	switch (c) {
	case SV_COND_TO_BROADCASTER:
		rc |= cond_copy(cond, "to_broadcaster_user_id", event,
		    "to_broadcaster_user_id");
		break;
	case SV_COND_BROADCASTER_MOD:
		/* The broadcaster is their own moderator, as the Twitch CLI
		 * assumes for a channel.follow v2 condition. */
		rc |= cond_copy(
		    cond, "broadcaster_user_id", event, "broadcaster_user_id");
		rc |= cond_copy(
		    cond, "moderator_user_id", event, "broadcaster_user_id");
		break;
	case SV_COND_BROADCASTER_USER:
		rc |= cond_copy(
		    cond, "broadcaster_user_id", event, "broadcaster_user_id");
		/* user_id is who reads the chat; the event does not say, so
		 * the broadcaster reads their own. */
		rc |= cond_copy(cond, "user_id", event, "broadcaster_user_id");
		break;
	default:
		rc |= cond_copy(
		    cond, "broadcaster_user_id", event, "broadcaster_user_id");
		break;
	}
	if (rc != 0) {
		json_decref(cond);
		return NULL;
	}
	return cond;
}

json_t *
sv_twitch_subscription_new(const char *id, const char *status, const char *type,
    const char *version, const json_t *event, const char *callback,
    const char *created_at)
{
	json_t *cond = condition_new(type, event);

	if (cond == NULL)
		return NULL;
	return json_pack("{s:s,s:s,s:s,s:s,s:o,s:{s:s,s:s},s:s,s:i}", "id", id,
	    "status", status, "type", type, "version", version, "condition",
	    cond, "transport", "method", "webhook", "callback", callback,
	    "created_at", created_at, "cost", 0);
}

/* Append "Name: value" to r->buf as the next header. */
static int
add_header(struct sv_twitch_request *r, size_t *used, size_t *n,
    const char *name, const char *value, struct sv_err *e)
{
	int w;

	if (strpbrk(value, "\r\n") != NULL)
		return sv_err_set(
		    e, EX_SOFTWARE, "%s: line break in value", name);
	w = snprintf(
	    r->buf + *used, sizeof(r->buf) - *used, "%s: %s", name, value);
	if (w < 0 || (size_t)w >= sizeof(r->buf) - *used)
		return sv_err_set(e, EX_SOFTWARE, "%s: value too long", name);
	r->headers[(*n)++] = r->buf + *used;
	*used += (size_t)w + 1;
	return 0;
}

int
sv_twitch_request_init(struct sv_twitch_request *r, const char *secret,
    const char *msg_type, const char *id, const char *timestamp, unsigned retry,
    const char *sub_type, const char *sub_version, const void *body, size_t len,
    struct sv_err *e)
{
	size_t used = 0, n = 0;
	char num[16];

	memset(r, 0, sizeof(*r));
	(void)snprintf(num, sizeof(num), "%u", retry);
	if (add_header(r, &used, &n, "Content-Type", "application/json", e) <
	        0 ||
	    add_header(r, &used, &n, SV_TWITCH_HDR_ID, id, e) < 0 ||
	    add_header(r, &used, &n, SV_TWITCH_HDR_RETRY, num, e) < 0 ||
	    add_header(r, &used, &n, SV_TWITCH_HDR_TYPE, msg_type, e) < 0)
		return -1;
	/* Like the Twitch CLI: no secret, no timestamp and no signature. */
	if (secret != NULL) {
		if (sv_twitch_sign(secret, id, timestamp, body, len, r->sig) <
		    0)
			return sv_err_set(
			    e, EX_OSERR, "cannot compute the HMAC");
		if (add_header(r, &used, &n, SV_TWITCH_HDR_TIMESTAMP, timestamp,
		        e) < 0 ||
		    add_header(
		        r, &used, &n, SV_TWITCH_HDR_SIGNATURE, r->sig, e) < 0)
			return -1;
	}
	if (add_header(r, &used, &n, SV_TWITCH_HDR_SUB_TYPE, sub_type, e) < 0 ||
	    add_header(
	        r, &used, &n, SV_TWITCH_HDR_SUB_VERSION, sub_version, e) < 0)
		return -1;
	r->headers[n] = NULL;
	return 0;
}
