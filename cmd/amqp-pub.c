/*
 * amqp-pub: publish each NDJSON line of stdin as one RabbitMQ message,
 * with publisher confirms, and lose nothing it has read.
 *
 * Lines are kept in a bounded window until the broker confirms them; the
 * window is pipelined (no round trip per message) and stdin is not read
 * while it is full, so memory stays small whatever the input size. When
 * the broker goes away, amqp-pub reconnects (failing over across -u URLs)
 * and republishes every unconfirmed line in order: duplicates are
 * possible, losses are not. One poll loop over stdin and the socket.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "amqp.h"
#include "backoff.h"
#include "cli.h"
#include "err.h"
#include "event.h"
#include "log.h"

/* Bytes of message bodies the window may hold (at least one message). */
#define WINDOW_BYTES (4UL * 1024 * 1024)

struct opts {
	struct sv_amqp_cli conn;
	const char *exchange;
	const char *routing_key; /* -r: fixed */
	const char *key_field; /* -k: dotted path (default "type") */
	const char *default_key;
	unsigned long count; /* 0: all of stdin */
	long drain_ms;
	unsigned long max_line;
	unsigned long window;
	bool mandatory;
	bool no_confirm;
	bool no_declare;
	bool strict;
};

enum msg_state { M_WAIT, M_ACKED, M_FAILED };

/* One line read from stdin, kept until the broker confirms it. */
struct msg {
	unsigned long lineno;
	uint64_t tag; /* delivery tag on the current channel, 0: none */
	int64_t ts;
	enum msg_state state;
	const char *key, *id, *type; /* point into data; id, type NULL */
	const char *body;
	size_t len;
	char data[];
};

/* The publisher: a ring of unconfirmed messages plus the session. */
struct pub {
	const struct opts *o;
	struct sv_amqp *a;
	struct msg **ring;
	size_t head, n; /* ring[head .. head+n) in input order */
	size_t npub; /* the first npub are published on this channel */
	size_t bytes;
	uint64_t next_tag;
	struct sv_backoff backoff;
	long next_try; /* monotonic ms of the next connection attempt */
	long last_rx; /* monotonic ms of the last input from the broker */
	bool ever_connected;
	bool dead; /* the broker cannot be had again (refused, --no-retry) */
	unsigned long accepted, confirmed, republished, nacked, returned;
	int fatal; /* EX_* that ends the run after draining, else 0 */
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: amqp-pub [-hqVv] [-u URL]... [-c N] [-e EXCHANGE] [-k FIELD | -r KEY]\n"
	    "                [--cacert FILE] [--cert FILE --key FILE] [--default-key KEY]\n"
	    "                [--drain-timeout SECONDS] [--heartbeat SECONDS] [--mandatory]\n"
	    "                [--max-line BYTES] [--no-confirm] [--no-declare] [--no-retry]\n"
	    "                [--password-file FILE] [--strict] [--window N]\n"
	    "\n"
	    "Publish each NDJSON line of stdin as one message (content type\n"
	    "application/json, persistent), with publisher confirms. Unconfirmed\n"
	    "lines are republished after a reconnect: nothing read is lost.\n"
	    "\n"
	    "  -c, --count N            stop after N lines (default: all of stdin)\n"
	    "  -e, --exchange NAME      topic exchange (default twitch; '' is the\n"
	    "                           default exchange: routing key = queue name)\n"
	    "  -k, --key-field PATH     routing key from this dotted JSON path\n"
	    "                           (default type)\n"
	    "  -r, --routing-key KEY    one routing key for every line\n" SV_AMQP_CLI_HELP
	    "      --default-key KEY    routing key of lines without -k's field\n"
	    "                           (default unrouted)\n"
	    "      --drain-timeout SECONDS  at EOF or SIGTERM, wait this long for\n"
	    "                           the last confirms (default 30)\n"
	    "      --mandatory          have unroutable messages returned (an error)\n"
	    "      --max-line BYTES     longest line accepted (default 1048576)\n"
	    "      --no-confirm         no publisher confirms (lines in flight may\n"
	    "                           be lost with the connection)\n"
	    "      --no-declare         do not declare the exchange\n"
	    "      --strict             exit on a bad line (65), a nack (69) or a\n"
	    "                           returned message (65)\n"
	    "      --window N           unconfirmed messages in flight (default 1000)\n" SV_CLI_COMMON_HELP
	    "\n"
	    "Exit status: 0 done, 64 usage, 65 bad line with --strict, 66 password\n"
	    "file missing, 69 broker unreachable or confirms missing at the end,\n"
	    "75 connection lost with --no-retry, 77 login refused. See amqp-pub(1).\n");
}

enum {
	OPT_DEFAULT_KEY = 0x100,
	OPT_DRAIN_TIMEOUT,
	OPT_MANDATORY,
	OPT_MAX_LINE,
	OPT_NO_CONFIRM,
	OPT_NO_DECLARE,
	OPT_STRICT,
	OPT_WINDOW,
};

static const struct option longopts[] = {
	SV_AMQP_LONGOPT_CACERT,
	SV_AMQP_LONGOPT_CERT,
	{ "count", required_argument, NULL, 'c' },
	{ "default-key", required_argument, NULL, OPT_DEFAULT_KEY },
	{ "drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT },
	{ "exchange", required_argument, NULL, 'e' },
	SV_AMQP_LONGOPT_HEARTBEAT,
	SV_CLI_LONGOPT_HELP,
	SV_AMQP_LONGOPT_KEY,
	{ "key-field", required_argument, NULL, 'k' },
	SV_CLI_LONGOPT_LOG_FORMAT,
	{ "mandatory", no_argument, NULL, OPT_MANDATORY },
	{ "max-line", required_argument, NULL, OPT_MAX_LINE },
	{ "no-confirm", no_argument, NULL, OPT_NO_CONFIRM },
	{ "no-declare", no_argument, NULL, OPT_NO_DECLARE },
	SV_AMQP_LONGOPT_NO_RETRY,
	SV_AMQP_LONGOPT_PASSWORD_FILE,
	SV_CLI_LONGOPT_QUIET,
	{ "routing-key", required_argument, NULL, 'r' },
	{ "strict", no_argument, NULL, OPT_STRICT },
	SV_AMQP_LONGOPT_URL,
	SV_CLI_LONGOPT_VERBOSE,
	SV_CLI_LONGOPT_VERSION,
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ NULL, 0, NULL, 0 },
};

static void
opts_check(struct opts *o, int argc, char **argv)
{
	struct sv_err e;

	if (optind < argc)
		exit(sv_cli_usage_error(
		    "unexpected argument '%s'", argv[optind]));
	if (o->routing_key != NULL && o->key_field != NULL)
		exit(sv_cli_usage_error("-r and -k exclude each other"));
	if (o->key_field == NULL)
		o->key_field = "type";
	if (o->routing_key != NULL &&
	    strlen(o->routing_key) > SV_AMQP_SHORTSTR_MAX)
		exit(
		    sv_cli_usage_error("--routing-key: longer than 255 bytes"));
	if (strlen(o->default_key) > SV_AMQP_SHORTSTR_MAX)
		exit(
		    sv_cli_usage_error("--default-key: longer than 255 bytes"));
	if (strlen(o->exchange) > SV_AMQP_SHORTSTR_MAX)
		exit(sv_cli_usage_error("--exchange: longer than 255 bytes"));
	if (sv_amqp_cli_finish(&o->conn, &e) < 0) {
		if (e.ex == EX_USAGE)
			exit(sv_cli_usage_error("%s", e.msg));
		sv_log_error("%s", e.msg);
		exit(e.ex);
	}
	o->conn.opts.name = "amqp-pub";
}

static void
opts_parse(struct opts *o, int argc, char **argv)
{
	unsigned long n;
	int c, ex;

	memset(o, 0, sizeof(*o));
	sv_amqp_cli_init(&o->conn);
	o->exchange = "twitch";
	o->default_key = "unrouted";
	o->drain_ms = 30000;
	o->max_line = SV_LINES_DEFAULT_MAX;
	o->window = 1000;

	while ((c = getopt_long(
	            argc, argv, "c:e:hk:qr:u:Vv", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if ((ex = sv_cli_count(optarg, &o->count)) != 0)
				exit(ex);
			break;
		case OPT_DEFAULT_KEY:
			o->default_key = optarg;
			break;
		case OPT_DRAIN_TIMEOUT:
			if (sv_cli_seconds_ms(optarg, 86400000L, &o->drain_ms) <
			    0)
				exit(sv_cli_usage_error(
				    "--drain-timeout: expected seconds, got '%s'",
				    optarg));
			break;
		case 'e':
			o->exchange = optarg;
			break;
		case 'k':
			o->key_field = optarg;
			break;
		case OPT_MANDATORY:
			o->mandatory = true;
			break;
		case OPT_MAX_LINE:
			if (sv_cli_ulong(optarg, 2, 64UL * 1024 * 1024, &n) < 0)
				exit(sv_cli_usage_error(
				    "--max-line: expected 2 to 67108864 bytes, got '%s'",
				    optarg));
			o->max_line = n;
			break;
		case OPT_NO_CONFIRM:
			o->no_confirm = true;
			break;
		case OPT_NO_DECLARE:
			o->no_declare = true;
			break;
		case 'r':
			o->routing_key = optarg;
			break;
		case OPT_STRICT:
			o->strict = true;
			break;
		case OPT_WINDOW:
			if (sv_cli_ulong(optarg, 1, 65536, &o->window) < 0)
				exit(sv_cli_usage_error(
				    "--window: expected 1 to 65536, got '%s'",
				    optarg));
			break;
		default:
			switch (sv_amqp_cli_option(&o->conn, c, optarg, &ex)) {
			case SV_CLI_OK:
				continue;
			case SV_CLI_EXIT:
				exit(ex);
			case SV_CLI_UNKNOWN:
				break;
			}
			if (sv_cli_common_or_usage(c, optarg, usage, &ex) != 0)
				exit(ex);
		}
	}
	opts_check(o, argc, argv);
}

static void
opts_fini(struct opts *o)
{
	sv_amqp_cli_fini(&o->conn);
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct msg *
ring_at(const struct pub *p, size_t i)
{
	return p->ring[(p->head + i) % p->o->window];
}

static bool
window_full(const struct pub *p)
{
	return p->n == p->o->window || (p->n > 0 && p->bytes >= WINDOW_BYTES);
}

/* A short string from the envelope for a message property, or NULL. */
static const char *
prop_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL && strlen(s) <= SV_AMQP_SHORTSTR_MAX ? s : NULL;
}

/* The routing key of a line: -r, the -k field, or the fallback. */
static const char *
routing_key(const struct opts *o, const json_t *obj, unsigned long lineno)
{
	const json_t *v;
	const char *s;

	if (o->routing_key != NULL)
		return o->routing_key;
	v = sv_event_path(obj, o->key_field);
	s = json_string_value(v);
	if (s != NULL && strlen(s) <= SV_AMQP_SHORTSTR_MAX)
		return s;
	sv_log_warn("line %lu: %s at '%s'; routing key '%s'", lineno,
	    v == NULL     ? "nothing" :
	        s == NULL ? "no string" :
	                    "a string over 255 bytes",
	    o->key_field, o->default_key);
	return o->default_key;
}

static char *
put_str(char *p, const char *s, const char **out)
{
	size_t n;

	if (s == NULL) {
		*out = NULL;
		return p;
	}
	n = strlen(s) + 1;
	memcpy(p, s, n);
	*out = p;
	return p + n;
}

/* Copy a line and what we publish it with into a new message. */
static struct msg *
msg_new(const struct opts *o, const json_t *obj, const char *line, size_t len,
    unsigned long lineno)
{
	const char *key = routing_key(o, obj, lineno);
	const char *id = prop_str(obj, "id"), *type = prop_str(obj, "type");
	size_t need = strlen(key) + 1 + (id ? strlen(id) + 1 : 0) +
	    (type ? strlen(type) + 1 : 0) + len + 1;
	struct msg *m = malloc(sizeof(*m) + need);
	char *p;

	if (m == NULL)
		return NULL;
	m->lineno = lineno;
	m->tag = 0;
	m->ts = (int64_t)time(NULL);
	m->state = M_WAIT;
	p = put_str(m->data, key, &m->key);
	p = put_str(p, id, &m->id);
	p = put_str(p, type, &m->type);
	memcpy(p, line, len);
	p[len] = '\0';
	m->body = p;
	m->len = len;
	return m;
}

/* Publish one message on the current channel. */
static int
publish(struct pub *p, struct msg *m, struct sv_err *e)
{
	struct sv_amqp_props props = { m->id, m->type, m->ts };

	if (sv_amqp_publish(p->a, p->o->exchange, m->key, p->o->mandatory,
	        &props, m->body, m->len, e) < 0)
		return -1;
	m->tag = p->next_tag++;
	p->npub++;
	if (p->o->no_confirm) {
		m->state = M_ACKED;
		p->confirmed++;
	}
	return 0;
}

/* Drop confirmed (or failed) messages from the front of the window. */
static void
pop_done(struct pub *p)
{
	struct msg *m;

	while (p->n > 0 && (m = ring_at(p, 0))->state != M_WAIT) {
		p->ring[p->head] = NULL;
		p->head = (p->head + 1) % p->o->window;
		p->n--;
		if (p->npub > 0)
			p->npub--;
		p->bytes -= m->len;
		free(m);
	}
}

/* After a reconnect: drop what is done, republish the rest in order. */
static void
compact(struct pub *p)
{
	size_t i, j = 0, w = p->o->window;
	struct msg *m;

	for (i = 0; i < p->n; i++) {
		m = p->ring[(p->head + i) % w];
		p->ring[(p->head + i) % w] = NULL;
		if (m->state != M_WAIT) {
			p->bytes -= m->len;
			free(m);
			continue;
		}
		m->tag = 0;
		p->ring[(p->head + j) % w] = m;
		j++;
	}
	p->n = j;
	p->npub = 0;
}

static void
lost(struct pub *p, struct sv_err *e)
{
	sv_amqp_disconnect(p->a, false);
	if (p->o->conn.no_retry || !sv_amqp_retryable(p->a)) {
		sv_log_error("%s", e->msg);
		p->dead = true;
		if (p->fatal == 0)
			p->fatal = e->ex != 0 ? e->ex : EX_TEMPFAIL;
		return;
	}
	sv_log_warn("%s; reconnecting", e->msg);
	p->next_try = now_ms() + sv_backoff_next_ms(&p->backoff);
}

/* Connect, declare, enable confirms, republish the window. */
static int
session_up(struct pub *p, struct sv_err *e)
{
	size_t i, again;

	if (sv_amqp_connect(p->a, e) < 0)
		return -1;
	if (*p->o->exchange != '\0' && !p->o->no_declare &&
	    sv_amqp_declare_exchange(p->a, p->o->exchange, e) < 0)
		return -1;
	if (!p->o->no_confirm && sv_amqp_confirm_select(p->a, e) < 0)
		return -1;
	p->next_tag = 1;
	compact(p);
	again = p->n;
	for (i = 0; i < p->n; i++)
		if (publish(p, ring_at(p, i), e) < 0)
			return -1;
	p->republished += again;
	if (p->ever_connected)
		sv_log_warn("reconnected to %s; republished %zu unconfirmed",
		    sv_amqp_peer(p->a), again);
	else
		sv_log_info("connected to %s", sv_amqp_peer(p->a));
	p->ever_connected = true;
	p->last_rx = now_ms();
	sv_backoff_reset(&p->backoff);
	pop_done(p);
	return 0;
}

static void
try_connect(struct pub *p)
{
	struct sv_err e;

	if (session_up(p, &e) == 0)
		return;
	lost(p, &e);
	if (!p->dead)
		sv_log_info("next attempt in %ld ms", p->next_try - now_ms());
}

/* Mark messages up to tag (or just tag) as st. */
static void
mark(struct pub *p, uint64_t tag, bool multiple, enum msg_state st)
{
	struct msg *m, *first;
	size_t i, from, to;

	if (p->npub == 0)
		return;
	first = ring_at(p, 0);
	if (tag < first->tag || tag - first->tag >= p->npub)
		return; /* already done, or not ours */
	to = (size_t)(tag - first->tag);
	from = multiple ? 0 : to;
	for (i = from; i <= to; i++) {
		m = ring_at(p, i);
		if (m->state != M_WAIT)
			continue;
		m->state = st;
		if (st == M_ACKED) {
			p->confirmed++;
			continue;
		}
		p->nacked++;
		sv_log_error(
		    "line %lu: the broker refused it (nack)", m->lineno);
		if (p->o->strict && p->fatal == 0)
			p->fatal = EX_UNAVAILABLE;
	}
}

/* basic.return: find the line it was (same key and body, not done). */
static void
returned(struct pub *p, const struct sv_amqp_note *n)
{
	struct msg *m;
	size_t i;

	p->returned++;
	if (p->o->strict && p->fatal == 0)
		p->fatal = EX_DATAERR;
	for (i = 0; i < p->npub; i++) {
		m = ring_at(p, i);
		if (m->state != M_WAIT || strcmp(m->key, n->key) != 0 ||
		    m->len != n->body.len ||
		    memcmp(m->body, n->body.data, m->len) != 0)
			continue;
		m->state = M_FAILED;
		sv_log_error("line %lu: returned by the broker: %d %s "
		             "(routing key '%s')",
		    m->lineno, n->reply_code, n->reply_text, n->key);
		return;
	}
	sv_log_error("a message was returned by the broker: %d %s "
	             "(routing key '%s')",
	    n->reply_code, n->reply_text, n->key);
}

/* Read every ack, nack and return the broker has sent so far. */
static void
drain_notes(struct pub *p, struct sv_amqp_note *n)
{
	struct sv_err e;
	int rc;

	while (sv_amqp_connected(p->a)) {
		rc = sv_amqp_next_note(p->a, n, &e);
		if (rc == 0)
			break;
		if (rc < 0) {
			lost(p, &e);
			return;
		}
		p->last_rx = now_ms();
		switch (n->kind) {
		case SV_AMQP_NOTE_ACK:
			mark(p, n->tag, n->multiple, M_ACKED);
			break;
		case SV_AMQP_NOTE_NACK:
			mark(p, n->tag, n->multiple, M_FAILED);
			break;
		case SV_AMQP_NOTE_RETURN:
			returned(p, n);
			break;
		}
	}
	pop_done(p);
}

/*
 * Take the complete lines already read, while the window has room.
 * Returns 1 when the input is finished (EOF, -c reached, a fatal line),
 * else 0.
 */
static int
take_lines(struct pub *p, struct sv_event_input *in)
{
	enum sv_event_input_res r;
	struct sv_err e;
	const char *line;
	json_t *obj;
	struct msg *m;
	size_t len;

	while (!window_full(p)) {
		if (p->o->count > 0 && in->good >= p->o->count)
			return 1;
		r = sv_event_input_next(in, false, &obj, &line, &len, &e);
		if (r == SV_INPUT_AGAIN)
			return 0;
		if (r == SV_INPUT_EOF)
			return 1;
		if (r == SV_INPUT_ERROR) {
			sv_log_error("%s", e.msg);
			if (p->fatal == 0)
				p->fatal = e.ex;
			return 1;
		}
		m = msg_new(p->o, obj, line, len, in->lines.lineno);
		json_decref(obj);
		if (m == NULL) {
			sv_log_error("out of memory");
			p->fatal = EX_OSERR;
			return 1;
		}
		p->ring[(p->head + p->n) % p->o->window] = m;
		p->n++;
		p->bytes += len;
		p->accepted++;
		if (sv_amqp_connected(p->a) && p->npub == p->n - 1 &&
		    publish(p, m, &e) < 0)
			lost(p, &e);
		pop_done(p);
	}
	return 0;
}

/* The broker has said nothing for two heartbeats: the link is dead. */
static void
check_heartbeat(struct pub *p)
{
	unsigned hb = sv_amqp_heartbeat(p->a);
	struct sv_err e;

	if (hb == 0 || now_ms() - p->last_rx <= 2000L * hb)
		return;
	sv_err_set(&e, EX_TEMPFAIL, "%s: no heartbeat for %u s",
	    sv_amqp_peer(p->a), 2 * hb);
	lost(p, &e);
}

/* Block in poll until stdin, the socket or a deadline needs us. */
static int
wait_io(
    struct pub *p, struct sv_event_input *in, bool want_stdin, long deadline)
{
	struct pollfd fds[2];
	long now = now_ms(), t = 1000;
	nfds_t nfd = 0;
	int rc, si = -1, ai = -1;

	if (want_stdin) {
		fds[nfd].fd = in->lines.fd;
		fds[nfd].events = POLLIN;
		si = (int)nfd++;
	}
	if (sv_amqp_connected(p->a)) {
		fds[nfd].fd = sv_amqp_fd(p->a);
		fds[nfd].events = POLLIN;
		ai = (int)nfd++;
	} else if (!p->dead) {
		t = p->next_try - now;
	}
	if (deadline > 0 && deadline - now < t)
		t = deadline - now;
	if (t < 0)
		t = 0;
	if (t > 1000)
		t = 1000; /* heartbeats, the stop flag */
	rc = poll(fds, nfd, (int)t);
	if (rc < 0)
		return errno == EINTR ? 0 : -1;
	if (ai >= 0 && fds[ai].revents != 0)
		p->last_rx = now_ms();
	if (si >= 0 && fds[si].revents != 0)
		(void)sv_event_input_fill(in); /* errors: next() reports */
	return 0;
}

static void
report(const struct pub *p, const struct sv_event_input *in)
{
	sv_log_info("%lu lines read, %lu confirmed, %lu republished, "
	            "%lu nacked, %lu returned, %lu bad lines skipped",
	    p->accepted, p->confirmed, p->republished, p->nacked, p->returned,
	    in->bad);
}

/* Messages in the window still waiting for a confirm (confirms come out
 * of order behind an unconfirmed head, so not simply p->n). */
static size_t
unconfirmed(const struct pub *p)
{
	size_t i, n = 0;

	for (i = 0; i < p->n; i++)
		if (ring_at(p, i)->state == M_WAIT)
			n++;
	return n;
}

/* The drain timeout passed with messages unconfirmed: say which, and
 * drop the link without the close handshake (it did not answer). */
static void
drain_timeout(struct pub *p)
{
	bool up = sv_amqp_connected(p->a);

	sv_log_error("%zu messages not confirmed within the drain timeout "
	             "(%.1f s), from line %lu on: %s %s; they may or may not "
	             "have reached the broker",
	    unconfirmed(p), (double)p->o->drain_ms / 1000.0,
	    ring_at(p, 0)->lineno, sv_amqp_peer(p->a),
	    up ? "did not confirm them in time" : "could not be reached");
	if (p->fatal == 0)
		p->fatal = EX_UNAVAILABLE;
	sv_amqp_disconnect(p->a, false);
}

static int
run(const struct opts *o)
{
	struct sv_event_input in;
	struct sv_amqp_note note;
	struct pub p;
	bool input_done = false;
	long deadline = 0;
	int ex = 0, rc;

	memset(&p, 0, sizeof(p));
	p.o = o;
	sv_backoff_init(&p.backoff);
	sv_amqp_note_init(&note);
	if (sv_event_input_init(&in, STDIN_FILENO, o->max_line, o->strict) <
	    0) {
		sv_log_error("out of memory");
		return EX_OSERR;
	}
	p.ring = calloc(o->window, sizeof(*p.ring));
	p.a = sv_amqp_new(&o->conn.opts);
	if (p.ring == NULL || p.a == NULL) {
		sv_log_error("out of memory");
		ex = EX_OSERR;
		goto out;
	}
	for (;;) {
		if (!sv_amqp_connected(p.a) && !p.dead &&
		    now_ms() >= p.next_try)
			try_connect(&p);
		if (p.dead && !sv_amqp_connected(p.a))
			break; /* what is left cannot go anywhere */
		drain_notes(&p, &note);
		if (!input_done) {
			sv_amqp_cork(p.a, true);
			rc = take_lines(&p, &in);
			sv_amqp_cork(p.a, false);
			if (rc != 0)
				input_done = true;
			else if ((sv_cli_stopping() || p.fatal != 0) &&
			    !window_full(&p))
				input_done = true; /* read lines all taken */
		}
		if (input_done && p.n == 0)
			break;
		if (input_done && deadline == 0) {
			deadline = now_ms() + o->drain_ms;
			sv_log_info("%s: waiting up to %.1f s for %zu confirms",
			    sv_cli_stopping() ? "stopping" : "input done",
			    (double)o->drain_ms / 1000.0, unconfirmed(&p));
		}
		if (deadline > 0 && now_ms() >= deadline) {
			drain_timeout(&p);
			break;
		}
		if (sv_amqp_connected(p.a))
			check_heartbeat(&p);
		if (wait_io(&p, &in,
		        !input_done && !window_full(&p) && !sv_cli_stopping(),
		        deadline) < 0) {
			sv_log_error("poll: %s", strerror(errno));
			p.fatal = EX_OSERR;
			break;
		}
	}
	ex = p.fatal;
	report(&p, &in);
out:
	sv_amqp_free(p.a);
	if (p.ring != NULL) {
		while (p.n > 0) {
			free(ring_at(&p, 0));
			p.head = (p.head + 1) % o->window;
			p.n--;
		}
		free(p.ring);
	}
	sv_amqp_note_fini(&note);
	sv_event_input_fini(&in);
	return ex;
}

int
main(int argc, char *argv[])
{
	struct opts o;
	int ex;

	sv_cli_init(argv[0]);
	opts_parse(&o, argc, argv);
	ex = run(&o);
	opts_fini(&o);
	return sv_cli_finish(ex);
}
