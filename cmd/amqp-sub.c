/*
 * amqp-sub: print each message consumed from RabbitMQ as one line on
 * stdout, and acknowledge it only once that line is written and flushed
 * (at least once). Declares the exchange as amqp-pub does, so either may
 * start first; binds an exclusive server-named queue, or a durable named
 * one (-q) that keeps messages while nobody consumes. Reconnects,
 * re-declares and re-binds on broker loss.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amqp.h"
#include "backoff.h"
#include "buf.h"
#include "cli.h"
#include "err.h"
#include "event.h"
#include "log.h"

#define MAX_KEYS 64

struct opts {
	struct sv_amqp_cli conn;
	const char *exchange;
	const char *keys[MAX_KEYS];
	size_t nkeys;
	const char *queue; /* -q: durable named queue, else NULL */
	unsigned long count; /* 0: until stopped */
	unsigned long prefetch;
	bool no_ack;
	bool no_declare;
	bool quorum;
};

struct sub {
	const struct opts *o;
	struct sv_amqp *a;
	struct sv_backoff backoff;
	struct sv_buf line;
	char queue[SV_AMQP_SHORTSTR_MAX + 1];
	uint64_t unacked; /* highest written, unacknowledged tag; 0: none */
	unsigned long nunacked; /* lines written since the last ack */
	unsigned long written, rejected;
	bool ever_connected;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: amqp-sub [-hVv] [-u URL]... [-b KEY]... [-c N] [-e EXCHANGE]\n"
	    "                [-q QUEUE [--quorum]] [--cacert FILE] [--cert FILE --key FILE]\n"
	    "                [--heartbeat SECONDS] [--no-ack] [--no-declare] [--no-retry]\n"
	    "                [--password-file FILE] [--prefetch N] [--quiet]\n"
	    "\n"
	    "Print each consumed message body as one line; acknowledge it once\n"
	    "the line is written. Without -q: an exclusive, server-named queue\n"
	    "bound with each -b KEY (default #).\n"
	    "\n"
	    "  -b, --bind KEY           bind the queue with this routing key pattern\n"
	    "                           (repeatable; default # when amqp-sub declares)\n"
	    "  -c, --count N            exit after N messages\n"
	    "  -e, --exchange NAME      topic exchange (default twitch)\n"
	    "  -q, --queue NAME         consume a durable named queue (declared if\n"
	    "                           missing): nothing is missed while away\n" SV_AMQP_CLI_HELP
	    "      --no-ack             no acknowledgements (fire and forget)\n"
	    "      --no-declare         declare nothing; -q must exist; bind only -b\n"
	    "      --prefetch N         unacknowledged messages in flight (default 256)\n"
	    "      --quorum             declare -q as a quorum queue\n"
	    "  -h, --help               show this help and exit\n"
	    "      --quiet              log errors only\n"
	    "  -V, --version            show the version and exit\n"
	    "  -v, --verbose            log more (repeat for debug)\n"
	    "      --log-format=FMT     text (default) or json log records\n"
	    "\n"
	    "Exit status: 0 done (also -c N, SIGTERM, stdout closed), 64 usage,\n"
	    "66 password file missing, 69 broker unreachable or queue missing,\n"
	    "74 stdout error, 75 connection lost with --no-retry, 77 login refused,\n"
	    "78 exchange or queue declared differently. See amqp-sub(1).\n");
}

enum {
	OPT_NO_ACK = 0x100,
	OPT_NO_DECLARE,
	OPT_PREFETCH,
	OPT_QUIET,
	OPT_QUORUM,
};

static const struct option longopts[] = {
	{ "bind", required_argument, NULL, 'b' },
	SV_AMQP_LONGOPT_CACERT,
	SV_AMQP_LONGOPT_CERT,
	{ "count", required_argument, NULL, 'c' },
	{ "exchange", required_argument, NULL, 'e' },
	SV_AMQP_LONGOPT_HEARTBEAT,
	SV_CLI_LONGOPT_HELP,
	SV_AMQP_LONGOPT_KEY,
	SV_CLI_LONGOPT_LOG_FORMAT,
	{ "no-ack", no_argument, NULL, OPT_NO_ACK },
	{ "no-declare", no_argument, NULL, OPT_NO_DECLARE },
	SV_AMQP_LONGOPT_NO_RETRY,
	SV_AMQP_LONGOPT_PASSWORD_FILE,
	{ "prefetch", required_argument, NULL, OPT_PREFETCH },
	{ "queue", required_argument, NULL, 'q' },
	/* -q is the queue (DESIGN.md 4), so --quiet has no short form */
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "quorum", no_argument, NULL, OPT_QUORUM },
	SV_AMQP_LONGOPT_URL,
	SV_CLI_LONGOPT_VERBOSE,
	SV_CLI_LONGOPT_VERSION,
	{ NULL, 0, NULL, 0 },
};

static void
opts_check(struct opts *o, int argc, char **argv)
{
	struct sv_err e;

	if (optind < argc)
		exit(sv_cli_usage_error(
		    "unexpected argument '%s'", argv[optind]));
	if (o->quorum && o->queue == NULL)
		exit(sv_cli_usage_error("--quorum needs -q QUEUE"));
	if (o->queue != NULL &&
	    (*o->queue == '\0' || strlen(o->queue) > SV_AMQP_SHORTSTR_MAX))
		exit(sv_cli_usage_error("--queue: 1 to 255 bytes"));
	if (o->queue == NULL && *o->exchange == '\0')
		exit(sv_cli_usage_error(
		    "-e '': the default exchange needs -q QUEUE"));
	if (o->queue == NULL && o->no_declare && o->nkeys == 0)
		exit(sv_cli_usage_error(
		    "--no-declare without -q needs at least one -b KEY"));
	if (*o->exchange == '\0' && o->nkeys > 0)
		exit(sv_cli_usage_error(
		    "-b: the default exchange cannot be bound"));
	if (strlen(o->exchange) > SV_AMQP_SHORTSTR_MAX)
		exit(sv_cli_usage_error("--exchange: longer than 255 bytes"));
	if (sv_amqp_cli_finish(&o->conn, &e) < 0) {
		if (e.ex == EX_USAGE)
			exit(sv_cli_usage_error("%s", e.msg));
		sv_log_error("%s", e.msg);
		exit(e.ex);
	}
	/* Without -b, bind everything, unless the user owns the topology. */
	if (o->nkeys == 0 && !o->no_declare && *o->exchange != '\0')
		o->keys[o->nkeys++] = "#";
	o->conn.opts.name = "amqp-sub";
}

static void
opts_parse(struct opts *o, int argc, char **argv)
{
	int c, ex;

	memset(o, 0, sizeof(*o));
	sv_amqp_cli_init(&o->conn);
	o->exchange = "twitch";
	o->prefetch = 256;

	while ((c = getopt_long(argc, argv, "b:c:e:hq:u:Vv", longopts, NULL)) !=
	    -1) {
		switch (c) {
		case 'b':
			if (o->nkeys == MAX_KEYS)
				exit(sv_cli_usage_error(
				    "--bind: at most %d keys", MAX_KEYS));
			if (strlen(optarg) > SV_AMQP_SHORTSTR_MAX)
				exit(sv_cli_usage_error(
				    "--bind: longer than 255 bytes"));
			o->keys[o->nkeys++] = optarg;
			break;
		case 'c':
			if ((ex = sv_cli_count(optarg, &o->count)) != 0)
				exit(ex);
			break;
		case 'e':
			o->exchange = optarg;
			break;
		case OPT_NO_ACK:
			o->no_ack = true;
			break;
		case OPT_NO_DECLARE:
			o->no_declare = true;
			break;
		case OPT_PREFETCH:
			if (sv_cli_ulong(optarg, 1, 65535, &o->prefetch) < 0)
				exit(sv_cli_usage_error(
				    "--prefetch: expected 1 to 65535, got '%s'",
				    optarg));
			break;
		case 'q':
			o->queue = optarg;
			break;
		case OPT_QUIET:
			(void)sv_cli_common('q', NULL, usage, &ex);
			break;
		case OPT_QUORUM:
			o->quorum = true;
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

/* Connect, declare, bind, consume. */
static int
session_up(struct sub *s, struct sv_err *e)
{
	const struct opts *o = s->o;
	size_t i;

	if (sv_amqp_connect(s->a, e) < 0)
		return -1;
	if (*o->exchange != '\0' && !o->no_declare &&
	    sv_amqp_declare_exchange(s->a, o->exchange, e) < 0)
		return -1;
	if (sv_amqp_declare_queue(s->a, o->queue, o->quorum,
	        o->no_declare && o->queue != NULL, s->queue, sizeof(s->queue),
	        e) < 0)
		return -1;
	for (i = 0; i < o->nkeys; i++)
		if (sv_amqp_bind(s->a, s->queue, o->exchange, o->keys[i], e) <
		    0)
			return -1;
	if (!o->no_ack && sv_amqp_qos(s->a, (unsigned)o->prefetch, e) < 0)
		return -1;
	if (sv_amqp_consume(s->a, s->queue, o->no_ack, e) < 0)
		return -1;
	s->unacked = 0;
	s->nunacked = 0;
	if (s->ever_connected)
		sv_log_warn("reconnected to %s, consuming from \"%s\"",
		    sv_amqp_peer(s->a), s->queue);
	else
		sv_log_info("connected to %s, consuming from \"%s\"",
		    sv_amqp_peer(s->a), s->queue);
	s->ever_connected = true;
	sv_backoff_reset(&s->backoff);
	return 0;
}

/* Acknowledge every line written so far, in one basic.ack. */
static int
ack_written(struct sub *s, struct sv_err *e)
{
	uint64_t tag = s->unacked;

	if (tag == 0 || s->o->no_ack)
		return 0;
	s->unacked = 0;
	s->nunacked = 0;
	return sv_amqp_ack(s->a, tag, true, e);
}

/*
 * One delivery: write its line, or reject it. Returns 1 when the reader
 * has gone (stop without acknowledging), 0 to go on, -1 with e set.
 */
static int
deliver(struct sub *s, const struct sv_amqp_delivery *d, struct sv_err *e)
{
	struct sv_err le;

	if (sv_amqp_body_line(d->body, d->len, &s->line, &le) < 0) {
		if (le.ex != EX_DATAERR) {
			*e = le;
			return -1;
		}
		s->rejected++;
		sv_log_warn("message %llu (routing key '%s'): %s; rejected",
		    (unsigned long long)d->tag, d->key, le.msg);
		if (s->o->no_ack)
			return 0;
		/* earlier acks first: nack is not "multiple" here */
		if (ack_written(s, e) < 0)
			return -1;
		return sv_amqp_nack(s->a, d->tag, false, e);
	}
	if (sv_event_write_line(stdout, s->line.data, s->line.len, e) < 0)
		return e->ex == 0 ? 1 : -1;
	s->written++;
	s->nunacked++;
	s->unacked = d->tag;
	return 0;
}

static int
run(const struct opts *o)
{
	struct sv_amqp_delivery d;
	struct sv_err e;
	struct sub s;
	long wait;
	int ex = 0, rc;

	memset(&s, 0, sizeof(s));
	s.o = o;
	sv_backoff_init(&s.backoff);
	sv_buf_init(&s.line);
	sv_amqp_delivery_init(&d);
	s.a = sv_amqp_new(&o->conn.opts);
	if (s.a == NULL) {
		sv_log_error("out of memory");
		ex = EX_OSERR;
		goto out;
	}
	while (!sv_cli_stopping()) {
		if (!sv_amqp_connected(s.a)) {
			if (session_up(&s, &e) < 0)
				goto lost;
			continue;
		}
		/* Acknowledge in batches (one basic.ack, multiple): each
		 * half prefetch window, and when the queue goes quiet. */
		if (s.nunacked >= (o->prefetch + 1) / 2 &&
		    ack_written(&s, &e) < 0)
			goto lost;
		rc = sv_amqp_get(s.a, &d, s.unacked != 0 ? 20 : 250, &e);
		if (rc == 0 && ack_written(&s, &e) < 0)
			goto lost;
		if (rc == 0)
			continue;
		if (rc < 0)
			goto lost;
		rc = deliver(&s, &d, &e);
		sv_amqp_delivery_fini(&d);
		if (rc > 0)
			break; /* stdout closed: stop, the rest is requeued */
		if (rc < 0 && !sv_amqp_connected(s.a))
			goto lost;
		if (rc < 0) {
			sv_log_error("%s", e.msg);
			ex = e.ex;
			break;
		}
		if (o->count > 0 && s.written == o->count)
			break;
		continue;
	lost:
		if (o->conn.no_retry || !sv_amqp_retryable(s.a)) {
			sv_log_error("%s", e.msg);
			ex = e.ex;
			break;
		}
		wait = sv_backoff_next_ms(&s.backoff);
		sv_log_warn("%s; reconnecting in %ld ms", e.msg, wait);
		(void)sv_cli_sleep_ms(wait);
	}
	if (sv_amqp_connected(s.a) && ack_written(&s, &e) < 0)
		sv_log_warn(
		    "%s (those messages will be delivered again)", e.msg);
	sv_log_info(
	    "%lu messages written, %lu rejected", s.written, s.rejected);
out:
	sv_amqp_delivery_fini(&d);
	sv_amqp_free(s.a); /* closes: unacknowledged messages are requeued */
	sv_buf_fini(&s.line);
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
