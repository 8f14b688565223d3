/*
 * amqp: one AMQP 0-9-1 session (connection plus channel 1) on rabbitmq-c
 * 0.11, shared by amqp-pub and amqp-sub.
 *
 * - Broker URLs (amqp_parse_url), tried in turn for failover; TLS with
 *   verification (the default verify paths, so SSL_CERT_FILE, plus
 *   --cacert) and an optional client certificate; heartbeats.
 * - Every amqp_rpc_reply_t and library status becomes a struct sv_err that
 *   carries the server's reply code and text ("server channel error 404:
 *   NOT_FOUND - ..."), with the exit category chosen here: 403 and 530
 *   EX_NOPERM, connection refused EX_UNAVAILABLE, a lost connection
 *   EX_TEMPFAIL, a bad frame EX_PROTOCOL, and so on.
 * - sv_amqp_retryable() says whether a failure is the broker or the
 *   network going away (worth reconnecting) or a refusal that will not
 *   change by itself (bad login, missing queue, wrong exchange type).
 * - Publisher confirms: 0.11 has no helper, so sv_amqp_next_note() reads
 *   basic.ack, basic.nack and basic.return without blocking, for a caller
 *   that polls sv_amqp_fd() in its own loop.
 *
 * Not thread-safe: one session per thread. lib/ never exits; nothing here
 * writes to stdout.
 */
#ifndef SV_AMQP_H
#define SV_AMQP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cli.h"
#include "err.h"

/* The channel every session uses. */
#define SV_AMQP_CHANNEL 1
/* AMQP short strings (routing keys, message ids, queue names). */
#define SV_AMQP_SHORTSTR_MAX 255

/*
 * A broker URL, amqp[s]://[user[:password]@]host[:port][/vhost], as
 * amqp_parse_url() reads it (percent-decoded; no path means vhost "/").
 * rabbitmq-c fills in what is missing with "guest": no user means
 * guest:guest, and a user without a password gets the password "guest".
 */
struct sv_amqp_url {
	char *buf; /* owned copy the fields below point into */
	size_t buflen;
	char *user, *password, *host, *vhost;
	int port;
	bool ssl;
	bool no_password; /* a user without a password: "guest" is sent */
	char display[300]; /* "amqps://host:port/vhost", no credentials */
};

/*
 * Parse url into u. The password (if any) is registered with
 * sv_log_add_secret(). Returns 0, or -1 with e->ex = EX_USAGE.
 */
int sv_amqp_url_parse(struct sv_amqp_url *u, const char *url, struct sv_err *e);

/* Wipe the password and free. A zeroed u is fine. */
void sv_amqp_url_fini(struct sv_amqp_url *u);

struct sv_amqp_opts {
	const struct sv_amqp_url *urls; /* borrowed, nurls >= 1 */
	size_t nurls;
	const char *password; /* NULL, or overrides every URL's password */
	const char *cacert; /* NULL, or a PEM file of extra trusted CAs */
	const char *cert, *key; /* NULL, or a client certificate and key */
	unsigned heartbeat; /* seconds; 0 disables heartbeats */
	long timeout_ms; /* connect, handshake and each RPC; 0: 10 s */
	const char *name; /* connection_name shown by the broker */
};

struct sv_amqp;

/*
 * A session, not connected yet. opts and what it points to are borrowed
 * for the session's life. Returns NULL when out of memory.
 */
struct sv_amqp *sv_amqp_new(const struct sv_amqp_opts *opts);

/* Close (politely if connected) and free. NULL is a no-op. */
void sv_amqp_free(struct sv_amqp *a);

/*
 * Connect: try each URL once, starting after the one used last (so a
 * reconnect fails over to the next node first), log in and open channel
 * SV_AMQP_CHANNEL. Returns 0, or -1 with e set to the last failure
 * (sv_amqp_retryable() tells whether trying again later makes sense).
 */
int sv_amqp_connect(struct sv_amqp *a, struct sv_err *e);

/*
 * Drop the connection: with polite, channel.close and connection.close
 * are exchanged (bounded by the timeout); else the socket is just closed.
 * Unacknowledged deliveries return to their queues either way.
 */
void sv_amqp_disconnect(struct sv_amqp *a, bool polite);

bool sv_amqp_connected(const struct sv_amqp *a);

/*
 * After a failure: true when the connection was refused, lost or closed
 * by a broker shutting down (reconnect later), false when the broker
 * refused something that will not change by itself.
 */
bool sv_amqp_retryable(const struct sv_amqp *a);

/* The socket to poll for input, or -1 when not connected. */
int sv_amqp_fd(const struct sv_amqp *a);

/* The URL (without credentials) of the broker in use or tried last. */
const char *sv_amqp_peer(const struct sv_amqp *a);

/* The negotiated heartbeat in seconds (0: none). */
unsigned sv_amqp_heartbeat(const struct sv_amqp *a);

/* Declare a topic exchange, durable, not auto-delete (as both tools do). */
int sv_amqp_declare_exchange(
    struct sv_amqp *a, const char *name, struct sv_err *e);

/*
 * Declare a queue. name NULL or "": a server-named, exclusive,
 * auto-delete queue. Otherwise a durable named queue; with quorum, of
 * type quorum; with passive, only check that it exists (404 is
 * EX_UNAVAILABLE). The queue's name is copied into out (size outlen).
 */
int sv_amqp_declare_queue(struct sv_amqp *a, const char *name, bool quorum,
    bool passive, char *out, size_t outlen, struct sv_err *e);

int sv_amqp_bind(struct sv_amqp *a, const char *queue, const char *exchange,
    const char *key, struct sv_err *e);

/* Put the channel in confirm mode; delivery tags restart at 1. */
int sv_amqp_confirm_select(struct sv_amqp *a, struct sv_err *e);

/* basic.qos with a prefetch count (0: unlimited). */
int sv_amqp_qos(struct sv_amqp *a, unsigned prefetch, struct sv_err *e);

/* basic.consume on queue; no_ack: the broker forgets on delivery. */
int sv_amqp_consume(
    struct sv_amqp *a, const char *queue, bool no_ack, struct sv_err *e);

/* Message properties amqp-pub sets (content type is application/json,
 * delivery mode persistent). NULL/0 fields are left out. */
struct sv_amqp_props {
	const char *message_id;
	const char *type;
	int64_t timestamp; /* seconds since the epoch */
};

/*
 * basic.publish. Returns 0 once the frames are written to the socket
 * (the confirm, if any, arrives later through sv_amqp_next_note()).
 */
int sv_amqp_publish(struct sv_amqp *a, const char *exchange, const char *key,
    bool mandatory, const struct sv_amqp_props *p, const void *body, size_t len,
    struct sv_err *e);

/*
 * Hold back partial TCP segments (TCP_CORK) while on, so a batch of
 * publishes leaves in full segments the broker reads in few calls; off
 * sends what is held at once. Harmless when not connected.
 */
void sv_amqp_cork(struct sv_amqp *a, bool on);

enum sv_amqp_note_kind {
	SV_AMQP_NOTE_ACK,
	SV_AMQP_NOTE_NACK,
	SV_AMQP_NOTE_RETURN,
};

/* Something the broker said about our publishes. */
struct sv_amqp_note {
	enum sv_amqp_note_kind kind;
	uint64_t tag; /* ack/nack: delivery tag */
	bool multiple; /* ack/nack: every tag up to and including tag */
	int reply_code; /* return: e.g. 312 */
	char reply_text[128]; /* return: e.g. NO_ROUTE */
	char key[SV_AMQP_SHORTSTR_MAX + 1]; /* return: routing key */
	struct sv_buf body; /* return: the message body */
};

void sv_amqp_note_init(struct sv_amqp_note *n);
void sv_amqp_note_fini(struct sv_amqp_note *n);

/*
 * Without blocking, the next ack, nack or return the broker sent (and
 * send a heartbeat if one is due). Other frames are logged at debug and
 * skipped; channel.close and connection.close are answered and become
 * errors. Returns 1 with *n set, 0 when nothing is buffered (poll
 * sv_amqp_fd() for more), -1 with e set when the session failed (it is
 * disconnected then).
 */
int sv_amqp_next_note(
    struct sv_amqp *a, struct sv_amqp_note *n, struct sv_err *e);

/* A consumed message: valid until sv_amqp_delivery_fini or the next get. */
struct sv_amqp_delivery {
	uint64_t tag;
	bool redelivered;
	const void *body;
	size_t len;
	char key[SV_AMQP_SHORTSTR_MAX + 1];
	void *env; /* amqp_envelope_t, owned */
};

void sv_amqp_delivery_init(struct sv_amqp_delivery *d);
void sv_amqp_delivery_fini(struct sv_amqp_delivery *d);

/*
 * Wait up to timeout_ms for the next delivery (heartbeats are handled
 * meanwhile). Returns 1 with *d filled (release with
 * sv_amqp_delivery_fini), 0 on timeout, -1 with e set when the session
 * failed (the consumer was cancelled, the channel or the connection
 * closed); the session is disconnected then.
 */
int sv_amqp_get(struct sv_amqp *a, struct sv_amqp_delivery *d, long timeout_ms,
    struct sv_err *e);

/* True when a delivery is already buffered, so sv_amqp_get won't wait. */
bool sv_amqp_pending(const struct sv_amqp *a);

/* basic.ack, and basic.nack (requeue or not). */
int sv_amqp_ack(
    struct sv_amqp *a, uint64_t tag, bool multiple, struct sv_err *e);
int sv_amqp_nack(
    struct sv_amqp *a, uint64_t tag, bool requeue, struct sv_err *e);

/*
 * A message body as exactly one output line (no newline in out): one
 * trailing "\n" or "\r\n" is dropped; a body that still has a newline is
 * re-serialised compactly when it is JSON, and refused otherwise.
 * Returns 0 with out reset and filled, or -1 with e->ex = EX_DATAERR
 * (or EX_OSERR). Pure; used by amqp-sub and fuzzed.
 */
int sv_amqp_body_line(
    const void *body, size_t len, struct sv_buf *out, struct sv_err *e);

/*
 * The connection options both tools share (rabbitmq-c's connect_options):
 * -u/--url (repeatable), --cacert, --cert, --key, --heartbeat,
 * --no-retry, --password-file. Put the SV_AMQP_LONGOPT_* entries into
 * the command's sorted getopt_long table and "u:" into its short options.
 */
#define SV_AMQP_MAX_URLS 16
#define SV_AMQP_DEFAULT_URL "amqp://guest:guest@localhost:5672"

enum {
	SV_AMQP_OPT_CACERT = 0x2000,
	SV_AMQP_OPT_CERT,
	SV_AMQP_OPT_HEARTBEAT,
	SV_AMQP_OPT_KEY,
	SV_AMQP_OPT_NO_RETRY,
	SV_AMQP_OPT_PASSWORD_FILE,
};

#define SV_AMQP_LONGOPT_CACERT                                        \
	{                                                             \
		"cacert", required_argument, NULL, SV_AMQP_OPT_CACERT \
	}
#define SV_AMQP_LONGOPT_CERT                                      \
	{                                                         \
		"cert", required_argument, NULL, SV_AMQP_OPT_CERT \
	}
#define SV_AMQP_LONGOPT_HEARTBEAT                                           \
	{                                                                   \
		"heartbeat", required_argument, NULL, SV_AMQP_OPT_HEARTBEAT \
	}
#define SV_AMQP_LONGOPT_KEY                                     \
	{                                                       \
		"key", required_argument, NULL, SV_AMQP_OPT_KEY \
	}
#define SV_AMQP_LONGOPT_NO_RETRY                                    \
	{                                                           \
		"no-retry", no_argument, NULL, SV_AMQP_OPT_NO_RETRY \
	}
#define SV_AMQP_LONGOPT_PASSWORD_FILE                     \
	{                                                 \
		"password-file", required_argument, NULL, \
		    SV_AMQP_OPT_PASSWORD_FILE             \
	}
#define SV_AMQP_LONGOPT_URL                         \
	{                                           \
		"url", required_argument, NULL, 'u' \
	}

/* Usage text for the shared connection options. */
#define SV_AMQP_CLI_HELP                                                             \
	"  -u, --url URL            broker URL; repeat for failover (default\n"      \
	"                           $AMQP_URL, else " SV_AMQP_DEFAULT_URL            \
	")\n"                                                                        \
	"      --cacert FILE        also trust the CAs in FILE (PEM) for amqps://\n" \
	"      --cert FILE          client certificate (PEM) for amqps://\n"         \
	"      --heartbeat SECONDS  AMQP heartbeat interval (default 30; 0 off)\n"   \
	"      --key FILE           private key (PEM) of --cert\n"                   \
	"      --no-retry           fail at once when the broker is unreachable\n"   \
	"                           or lost, instead of reconnecting\n"              \
	"      --password-file FILE read the password from FILE (not the URL)\n"

struct sv_amqp_cli {
	char *urls[SV_AMQP_MAX_URLS]; /* owned copies of the -u values */
	size_t nurls;
	const char *password_file;
	unsigned long heartbeat;
	bool no_retry;
	struct sv_amqp_url parsed[SV_AMQP_MAX_URLS];
	char *password; /* from --password-file, owned */
	struct sv_amqp_opts opts; /* ready after sv_amqp_cli_finish */
};

void sv_amqp_cli_init(struct sv_amqp_cli *c);

/*
 * Handle one option of the group. A -u value is copied and its password
 * blanked in argv (ps shows argv). Returns SV_CLI_OK, SV_CLI_UNKNOWN (not
 * ours), or SV_CLI_EXIT with *ex = EX_USAGE after printing the problem.
 */
enum sv_cli_res sv_amqp_cli_option(
    struct sv_amqp_cli *c, int opt, char *arg, int *ex);

/*
 * After parsing: take AMQP_URL (or the default) when no -u was given,
 * parse every URL (EX_USAGE), check --cert/--key go together and that
 * TLS files are only given for amqps:// (EX_USAGE), read --password-file
 * (EX_NOINPUT), and fill c->opts. A URL with a user but no password,
 * and no --password-file, is logged as a warning (rabbitmq-c would send
 * "guest" without a word). Returns 0 or -1 with e set.
 */
int sv_amqp_cli_finish(struct sv_amqp_cli *c, struct sv_err *e);

void sv_amqp_cli_fini(struct sv_amqp_cli *c);

#endif
