/*
 * twitch-webhookd: the HTTP server Twitch calls back for EventSub webhook
 * subscriptions. It checks every delivery (headers, HMAC signature,
 * timestamp, body), answers the challenge, logs revocations, and prints
 * each notification once as an event line (source "eventsub-webhook").
 *
 * MHD's thread answers at once and puts events on a bounded queue; the
 * main thread writes them to stdout. A slow reader therefore never makes
 * Twitch time out, and a full queue answers 503 so Twitch retries later:
 * nothing that was answered 2xx is lost.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "dedupe.h"
#include "err.h"
#include "event.h"
#include "httpd.h"
#include "log.h"
#include "twitch.h"

struct opts {
	const char *listen;
	const char *path;
	const char *port_file;
	const char *secret_file;
	const char *tls_cert;
	const char *tls_key;
	unsigned long count; /* 0: until stopped */
	unsigned long dedupe_size;
	unsigned long max_age;
	unsigned long max_body;
	unsigned long max_conn;
	long max_conn_per_ip; /* -1: not given */
	unsigned long max_queue;
	unsigned long threads;
	unsigned long timeout;
};

/* One serialised event line waiting for stdout. */
struct line {
	struct line *next;
	size_t len;
	char data[];
};

#define NVERDICTS (SV_TWITCH_UNKNOWN_TYPE + 1)

/* Shared between MHD's thread(s) and the main thread, under lock. */
struct server {
	const struct opts *o;
	char *secret;
	struct sv_httpd *httpd;
	pthread_mutex_t lock;
	pthread_cond_t ready;
	struct line *head, *tail;
	size_t queued, queued_bytes;
	struct sv_dedupe *seen;
	unsigned long accepted; /* events queued, for -c */
	unsigned long printed;
	unsigned long received, duplicates, busy;
	unsigned long verdicts[NVERDICTS];
	bool warned_signature;
	bool waiting; /* the main thread waits for lines */
	bool writing; /* the main thread writes lines it took */
	bool gone; /* stdout failed in write_now(): gone_ex */
	int gone_ex;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: twitch-webhookd [-hqVv] [-c N] [-l ADDR:PORT] [-p PATH] [--dedupe-size N]\n"
	    "                       [--max-age SECONDS] [--max-body BYTES] [--max-conn N]\n"
	    "                       [--max-conn-per-ip N] [--max-queue BYTES] [--port-file FILE]\n"
	    "                       [--secret-file FILE] [--threads N] [--timeout SECONDS]\n"
	    "                       [--tls-cert FILE --tls-key FILE]\n"
	    "\n"
	    "Receive EventSub webhook deliveries, verify them, and print each\n"
	    "notification once as an NDJSON envelope (source \"eventsub-webhook\").\n"
	    "The secret comes from TWITCH_EVENTSUB_SECRET or --secret-file.\n"
	    "\n"
	    "  -c, --count N            exit after printing N events\n"
	    "      --dedupe-size N      message ids remembered (default 10000)\n"
	    "  -l, --listen ADDR:PORT   listen here (default 127.0.0.1:8081)\n"
	    "      --max-age SECONDS    oldest timestamp accepted (default 600)\n"
	    "      --max-body BYTES     largest request body (default 65536)\n"
	    "      --max-conn N         concurrent connections (default 256)\n"
	    "      --max-conn-per-ip N  of them from one address, 0 for no limit (default:\n"
	    "                           none on a loopback address, else a quarter)\n"
	    "      --max-queue BYTES    events held for a slow stdout (default 16777216)\n"
	    "  -p, --path PATH          the callback path (default /eventsub)\n"
	    "      --port-file FILE     write the bound address here\n"
	    "      --secret-file FILE   read the webhook secret from FILE\n"
	    "      --threads N          HTTP threads (default 1)\n"
	    "      --timeout SECONDS    idle and request timeout (default 10)\n"
	    "      --tls-cert FILE      serve HTTPS with this PEM certificate\n"
	    "      --tls-key FILE       and this PEM key\n" SV_CLI_COMMON_HELP
	    "\n"
	    "Exit status: 0 stopped, 64 usage, 69 cannot listen, 74 stdout error,\n"
	    "78 bad secret. See twitch-webhookd(1).\n");
}

enum {
	OPT_DEDUPE_SIZE = 0x100,
	OPT_MAX_AGE,
	OPT_MAX_BODY,
	OPT_MAX_CONN,
	OPT_MAX_CONN_PER_IP,
	OPT_MAX_QUEUE,
	OPT_PORT_FILE,
	OPT_SECRET_FILE,
	OPT_THREADS,
	OPT_TIMEOUT,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
};

static const struct option longopts[] = {
	{ "count", required_argument, NULL, 'c' },
	{ "dedupe-size", required_argument, NULL, OPT_DEDUPE_SIZE },
	SV_CLI_LONGOPT_HELP,
	{ "listen", required_argument, NULL, 'l' },
	SV_CLI_LONGOPT_LOG_FORMAT,
	{ "max-age", required_argument, NULL, OPT_MAX_AGE },
	{ "max-body", required_argument, NULL, OPT_MAX_BODY },
	{ "max-conn", required_argument, NULL, OPT_MAX_CONN },
	{ "max-conn-per-ip", required_argument, NULL, OPT_MAX_CONN_PER_IP },
	{ "max-queue", required_argument, NULL, OPT_MAX_QUEUE },
	{ "path", required_argument, NULL, 'p' },
	{ "port-file", required_argument, NULL, OPT_PORT_FILE },
	SV_CLI_LONGOPT_QUIET,
	{ "secret-file", required_argument, NULL, OPT_SECRET_FILE },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	SV_CLI_LONGOPT_VERBOSE,
	SV_CLI_LONGOPT_VERSION,
	{ NULL, 0, NULL, 0 },
};

/* A number option in [min, max], or exit 64 naming the option. */
static unsigned long
num_opt(const char *name, const char *arg, unsigned long min, unsigned long max)
{
	unsigned long n;

	if (sv_cli_ulong(arg, min, max, &n) < 0)
		exit(sv_cli_usage_error("--%s: expected a number from %lu to "
		                        "%lu, got '%s'",
		    name, min, max, arg));
	return n;
}

static void
opts_parse(struct opts *o, int argc, char **argv)
{
	int c, ex;

	memset(o, 0, sizeof(*o));
	o->listen = "127.0.0.1:8081";
	o->path = "/eventsub";
	o->dedupe_size = 10000;
	o->max_age = 600;
	o->max_body = 65536;
	o->max_conn = 256;
	o->max_conn_per_ip = -1;
	o->max_queue = 16 * 1024 * 1024;
	o->threads = 1;
	o->timeout = 10;

	while (
	    (c = getopt_long(argc, argv, "c:hl:p:qVv", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if ((ex = sv_cli_count(optarg, &o->count)) != 0)
				exit(ex);
			break;
		case OPT_DEDUPE_SIZE:
			o->dedupe_size =
			    num_opt("dedupe-size", optarg, 1, 10000000);
			break;
		case 'l':
			o->listen = optarg;
			break;
		case OPT_MAX_AGE:
			o->max_age = num_opt("max-age", optarg, 1, 86400);
			break;
		case OPT_MAX_BODY:
			o->max_body =
			    num_opt("max-body", optarg, 1024, 64UL << 20);
			break;
		case OPT_MAX_CONN:
			o->max_conn = num_opt("max-conn", optarg, 1, 60000);
			break;
		case OPT_MAX_CONN_PER_IP:
			o->max_conn_per_ip =
			    (long)num_opt("max-conn-per-ip", optarg, 0, 60000);
			break;
		case OPT_MAX_QUEUE:
			o->max_queue =
			    num_opt("max-queue", optarg, 1, 1UL << 40);
			break;
		case 'p':
			if (optarg[0] != '/')
				exit(sv_cli_usage_error(
				    "--path: '%s' does not start with /",
				    optarg));
			o->path = optarg;
			break;
		case OPT_PORT_FILE:
			o->port_file = optarg;
			break;
		case OPT_SECRET_FILE:
			o->secret_file = optarg;
			break;
		case OPT_THREADS:
			o->threads = num_opt("threads", optarg, 1, 64);
			break;
		case OPT_TIMEOUT:
			o->timeout = num_opt("timeout", optarg, 1, 3600);
			break;
		case OPT_TLS_CERT:
			o->tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			o->tls_key = optarg;
			break;
		default:
			if (sv_cli_common_or_usage(c, optarg, usage, &ex) != 0)
				exit(ex);
		}
	}
	if (optind < argc)
		exit(sv_cli_usage_error(
		    "unexpected argument '%s'", argv[optind]));
	if ((o->tls_cert != NULL) != (o->tls_key != NULL))
		exit(
		    sv_cli_usage_error("--tls-cert and --tls-key go together"));
	if (strcmp(o->path, "/healthz") == 0)
		exit(sv_cli_usage_error("--path: /healthz is taken"));
}

/* Serialise the envelopes of a notification into a chain of lines. */
static struct line *
lines_new(const json_t *events, size_t *bytes)
{
	struct line *first = NULL, **next = &first, *l;
	const json_t *env;
	char buf[4096];
	size_t i, n;

	*bytes = 0;
	json_array_foreach (events, i, env) {
		/* One pass for the usual small event, two for a big one. */
		n = json_dumpb(env, buf, sizeof(buf), JSON_COMPACT);
		l = n != 0 ? malloc(sizeof(*l) + n) : NULL;
		if (l == NULL)
			goto fail;
		l->next = NULL;
		if (n <= sizeof(buf))
			memcpy(l->data, buf, n);
		else
			n = json_dumpb(env, l->data, n, JSON_COMPACT);
		l->len = n;
		*next = l;
		next = &l->next;
		*bytes += n;
	}
	return first;
fail:
	while (first != NULL) {
		l = first->next;
		free(first);
		first = l;
	}
	return NULL;
}

static void
lines_free(struct line *l)
{
	struct line *next;

	for (; l != NULL; l = next) {
		next = l->next;
		free(l);
	}
}

/*
 * Can a line of len bytes go to stdout now without blocking? Only when
 * nothing is queued or being written (order), and poll says stdout takes
 * data: then a write of at most PIPE_BUF bytes does not block on a pipe
 * (a free pipe buffer takes it whole) nor on a file.
 */
static bool
stdout_ready(const struct server *s, size_t len)
{
	struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };

	return s->head == NULL && !s->writing && !s->gone &&
	    len + 1 <= PIPE_BUF && poll(&p, 1, 0) == 1 &&
	    (p.revents & POLLOUT) != 0;
}

/*
 * The fast path, under s->lock: write the lines stdout takes at once
 * from this (MHD's) thread, and return the rest, with *n and *bytes
 * reduced, for the queue. Handing every line to the main thread would
 * wake it for every request, which costs more than the request itself;
 * a slow stdout still never holds up an answer.
 */
static struct line *
write_now(struct server *s, struct line *l, size_t *n, size_t *bytes)
{
	struct line *next;
	struct sv_err e;

	while (l != NULL && stdout_ready(s, l->len)) {
		if (sv_event_write_line(stdout, l->data, l->len, &e) < 0) {
			/* Reader gone (ex 0) or an I/O error: the main
			 * thread ends the run. */
			s->gone = true;
			s->gone_ex = e.ex;
			if (e.ex != 0)
				sv_log_error("%s", e.msg);
		} else {
			s->printed++;
		}
		next = l->next;
		(*n)--;
		*bytes -= l->len;
		free(l);
		l = next;
	}
	return l;
}

/*
 * Accept a notification's lines unless its id was seen (duplicate: 204)
 * or there is no room (503): write them, or queue them for the main
 * thread. Returns the HTTP status.
 */
static unsigned
enqueue(struct server *s, const char *id, struct line *lines, size_t bytes,
    size_t n)
{
	const struct opts *o = s->o;
	struct line *last;
	unsigned status = 204;

	pthread_mutex_lock(&s->lock);
	if (sv_dedupe_contains(s->seen, id)) {
		s->duplicates++;
		lines_free(lines);
		goto out;
	}
	/* The id is remembered only once accepted: a 503 must not make the
	 * retry look like a duplicate. Once stopping (SIGTERM while stdout
	 * may be blocked) or once stdout failed, nothing new is accepted. */
	if ((s->queued > 0 && s->queued_bytes + bytes > o->max_queue) ||
	    (o->count != 0 && s->accepted >= o->count) || s->gone ||
	    sv_cli_stopping()) {
		s->busy++;
		lines_free(lines);
		status = 503;
		goto out;
	}
	(void)sv_dedupe_check(s->seen, id);
	s->accepted += n;
	lines = write_now(s, lines, &n, &bytes);
	if (lines != NULL) {
		for (last = lines; last->next != NULL; last = last->next)
			;
		if (s->tail != NULL)
			s->tail->next = lines;
		else
			s->head = lines;
		s->tail = last;
		s->queued += n;
		s->queued_bytes += bytes;
	}
	/* The main thread only needs waking for lines, a stop or -c. */
	if (s->waiting &&
	    (lines != NULL || s->gone ||
	        (o->count != 0 && s->printed >= o->count)))
		pthread_cond_signal(&s->ready);
out:
	pthread_mutex_unlock(&s->lock);
	return status;
}

static void
on_notification(struct server *s, const char *id, struct sv_twitch_msg *m,
    struct sv_httpd_resp *rs)
{
	struct line *lines;
	size_t bytes;

	lines = lines_new(m->events, &bytes);
	if (lines == NULL) {
		sv_log_warn("out of memory for message %s: answered 503", id);
		sv_httpd_resp_text(rs, 503, "out of memory\n");
		return;
	}
	rs->status = enqueue(s, id, lines, bytes, json_array_size(m->events));
	if (rs->status == 503) {
		sv_log_info("queue full: answered 503 to message %s", id);
		sv_httpd_resp_text(rs, 503, "busy, retry later\n");
		sv_httpd_resp_header(rs, "Retry-After", "1");
	} else {
		rs->content_type = "text/plain";
		sv_log_debug(
		    "message %s: %s v%s", id, m->sub_type, m->sub_version);
	}
}

static void
on_rejected(struct server *s, const char *id, const struct sv_twitch_msg *m,
    struct sv_httpd_resp *rs)
{
	bool first = false;

	if (m->verdict == SV_TWITCH_BAD_SIGNATURE) {
		pthread_mutex_lock(&s->lock);
		first = !s->warned_signature;
		s->warned_signature = true;
		pthread_mutex_unlock(&s->lock);
	}
	if (first)
		sv_log_warn(
		    "rejected a delivery with a bad signature; is the "
		    "secret the one the subscription was created with?");
	else
		sv_log_info("rejected message %s: %s",
		    id != NULL ? id : "(no id)", m->why);
	sv_httpd_resp_text(rs, sv_twitch_verdict_status(m->verdict), m->why);
	(void)sv_buf_append(&rs->body, "\n", 1);
}

static void
on_webhook(
    struct server *s, const struct sv_httpd_req *rq, struct sv_httpd_resp *rs)
{
	struct sv_twitch_delivery d;
	struct sv_twitch_msg m;
	enum sv_twitch_verdict v;

	d.id = sv_httpd_header(rq, SV_TWITCH_HDR_ID);
	d.timestamp = sv_httpd_header(rq, SV_TWITCH_HDR_TIMESTAMP);
	d.signature = sv_httpd_header(rq, SV_TWITCH_HDR_SIGNATURE);
	d.type = sv_httpd_header(rq, SV_TWITCH_HDR_TYPE);
	d.sub_type = sv_httpd_header(rq, SV_TWITCH_HDR_SUB_TYPE);
	d.sub_version = sv_httpd_header(rq, SV_TWITCH_HDR_SUB_VERSION);
	d.body = rq->body;
	d.body_len = rq->body_len;
	v = sv_twitch_delivery_check(
	    &d, s->secret, time(NULL), (long)s->o->max_age, &m);

	pthread_mutex_lock(&s->lock);
	s->received++;
	s->verdicts[v]++;
	pthread_mutex_unlock(&s->lock);

	switch (v) {
	case SV_TWITCH_NOTIFICATION:
		on_notification(s, d.id, &m, rs);
		break;
	case SV_TWITCH_VERIFICATION:
		/* The raw challenge, as text/plain, nothing else (2.5 a). */
		sv_httpd_resp_text(rs, 200, m.challenge);
		rs->content_type = "text/plain";
		sv_log_info("answered the challenge for %s subscription %s",
		    m.sub_type != NULL ? m.sub_type : "a",
		    m.sub_id != NULL ? m.sub_id : "(no id)");
		break;
	case SV_TWITCH_REVOCATION:
		rs->status = 204;
		rs->content_type = "text/plain";
		sv_log_warn("subscription %s (%s v%s) revoked: %s",
		    m.sub_id != NULL ? m.sub_id : "(no id)",
		    m.sub_type != NULL ? m.sub_type : "?",
		    m.sub_version != NULL ? m.sub_version : "?",
		    m.sub_status != NULL ? m.sub_status : "no reason given");
		break;
	default:
		on_rejected(s, d.id, &m, rs);
		break;
	}
	sv_twitch_msg_fini(&m);
}

static void
on_healthz(struct server *s, struct sv_httpd_resp *rs)
{
	unsigned long *v = s->verdicts, large = 0, slow = 0, conns = 0;
	json_t *j;
	char *text;

	pthread_mutex_lock(&s->lock);
	if (s->httpd != NULL) { /* NULL until sv_httpd_start() returned */
		large = sv_httpd_count_too_large(s->httpd);
		slow = sv_httpd_count_too_slow(s->httpd);
		conns = sv_httpd_count_connections(s->httpd);
	}
	j = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:{"
	              "s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}}",
	    "status", sv_cli_stopping() ? "stopping" : "ok", "received",
	    (json_int_t)(s->received + large), "verified",
	    (json_int_t)(s->received - v[SV_TWITCH_NO_HEADERS] -
	        v[SV_TWITCH_BAD_SIGNATURE]),
	    "notifications", (json_int_t)v[SV_TWITCH_NOTIFICATION],
	    "challenges", (json_int_t)v[SV_TWITCH_VERIFICATION], "revocations",
	    (json_int_t)v[SV_TWITCH_REVOCATION], "duplicates",
	    (json_int_t)s->duplicates, "busy", (json_int_t)s->busy, "printed",
	    (json_int_t)s->printed, "queued", (json_int_t)s->queued,
	    "queued_bytes", (json_int_t)s->queued_bytes, "connections",
	    (json_int_t)conns, "rejected", "headers",
	    (json_int_t)v[SV_TWITCH_NO_HEADERS], "signature",
	    (json_int_t)v[SV_TWITCH_BAD_SIGNATURE], "timestamp",
	    (json_int_t)v[SV_TWITCH_BAD_TIMESTAMP], "stale",
	    (json_int_t)v[SV_TWITCH_STALE], "future",
	    (json_int_t)v[SV_TWITCH_FUTURE], "json",
	    (json_int_t)v[SV_TWITCH_BAD_JSON], "message",
	    (json_int_t)v[SV_TWITCH_BAD_MESSAGE], "type",
	    (json_int_t)v[SV_TWITCH_UNKNOWN_TYPE], "too_large",
	    (json_int_t)large, "too_slow", (json_int_t)slow);
	pthread_mutex_unlock(&s->lock);
	text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (text == NULL) {
		sv_httpd_resp_text(rs, 500, "out of memory\n");
		return;
	}
	sv_httpd_resp_json(rs, 200, text);
	(void)sv_buf_append(&rs->body, "\n", 1);
	free(text);
}

/* Called by httpd for every complete request, from MHD's thread(s). */
static void
on_request(void *arg, const struct sv_httpd_req *rq, struct sv_httpd_resp *rs)
{
	struct server *s = arg;

	if (strcmp(rq->path, s->o->path) == 0) {
		if (strcmp(rq->method, "POST") == 0)
			on_webhook(s, rq, rs);
		else {
			sv_httpd_resp_text(rs, 405, "use POST\n");
			sv_httpd_resp_header(rs, "Allow", "POST");
		}
	} else if (strcmp(rq->path, "/healthz") == 0) {
		if (strcmp(rq->method, "GET") == 0)
			on_healthz(s, rs);
		else {
			sv_httpd_resp_text(rs, 405, "use GET\n");
			sv_httpd_resp_header(rs, "Allow", "GET");
		}
	} else {
		sv_httpd_resp_text(rs, 404, "not found\n");
	}
}

/*
 * Take every queued line at once; wait up to 200 ms for one. NULL if
 * none. The lines stay counted in queued and queued_bytes until done()
 * says they are written, so --max-queue bounds them too.
 */
static struct line *
take_all(struct server *s, bool wait)
{
	struct timespec until;
	struct line *l;

	pthread_mutex_lock(&s->lock);
	if (s->head == NULL && wait && !s->gone &&
	    !(s->o->count != 0 && s->printed >= s->o->count)) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += 200 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		/* Waking this thread per request would cost more than the
		 * request; enqueue() signals only while we wait. */
		s->waiting = true;
		(void)pthread_cond_timedwait(&s->ready, &s->lock, &until);
		s->waiting = false;
	}
	l = s->head;
	s->head = s->tail = NULL;
	s->writing = l != NULL;
	pthread_mutex_unlock(&s->lock);
	return l;
}

/* n lines of bytes were written (or dropped). */
static void
done(struct server *s, size_t n, size_t bytes, size_t printed)
{
	pthread_mutex_lock(&s->lock);
	s->queued -= n;
	s->queued_bytes -= bytes;
	s->printed += printed;
	s->writing = false;
	pthread_mutex_unlock(&s->lock);
}

/*
 * Write queued lines to stdout. With drain, until the queue is empty;
 * else until a stop is requested. Returns -1 when the reader went away
 * (*ex 0) or stdout failed (*ex EX_IOERR), 1 when -c N is reached, 0.
 */
static int
pump(struct server *s, bool drain, int *ex)
{
	size_t n, bytes, printed;
	struct line *l, *next;
	struct sv_err e;
	int rc = 0;

	for (;;) {
		if (!drain && sv_cli_stopping())
			return 0;
		pthread_mutex_lock(&s->lock);
		rc = s->gone                                      ? -1 :
		    s->o->count != 0 && s->printed >= s->o->count ? 1 :
		                                                    0;
		*ex = s->gone_ex;
		pthread_mutex_unlock(&s->lock);
		if (rc != 0)
			return rc;
		l = take_all(s, !drain);
		if (l == NULL) {
			if (drain)
				return 0;
			continue;
		}
		n = bytes = printed = 0;
		for (; l != NULL; l = next) {
			next = l->next;
			if (rc == 0) {
				rc = sv_event_write_line(
				    stdout, l->data, l->len, &e);
				printed += rc == 0;
			}
			n++;
			bytes += l->len;
			free(l);
		}
		if (rc < 0) {
			pthread_mutex_lock(&s->lock);
			s->gone = true;
			s->gone_ex = e.ex;
			pthread_mutex_unlock(&s->lock);
			if (e.ex != 0)
				sv_log_error("%s", e.msg);
		}
		done(s, n, bytes, printed);
	}
}

static int
server_init(struct server *s, const struct opts *o)
{
	pthread_condattr_t ca;

	memset(s, 0, sizeof(*s));
	s->o = o;
	s->seen = sv_dedupe_new(o->dedupe_size);
	if (s->seen == NULL)
		return -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->ready, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

static void
server_fini(struct server *s)
{
	lines_free(s->head);
	sv_dedupe_free(s->seen);
	sv_cli_secret_free(s->secret);
	pthread_cond_destroy(&s->ready);
	pthread_mutex_destroy(&s->lock);
}

static int
run(const struct opts *o)
{
	struct sv_httpd_opts ho = {
		.listen = o->listen,
		.port_file = o->port_file,
		.max_body = o->max_body,
		.conn_limit = (unsigned)o->max_conn,
		.per_ip_limit = o->max_conn_per_ip < 0 ? 0 :
		    o->max_conn_per_ip == 0            ? SV_HTTPD_NO_LIMIT :
		                              (unsigned)o->max_conn_per_ip,
		.timeout_s = (unsigned)o->timeout,
		.threads = (unsigned)o->threads,
		/* Twitch's headers are well under 2 KiB; MHD zeroes this
		 * memory for every request, so smaller is faster. */
		.conn_memory = 8 * 1024,
		.tls_cert = o->tls_cert,
		.tls_key = o->tls_key,
	};
	struct sv_httpd *d = NULL;
	struct server s;
	struct sv_err e;
	sigset_t stopsigs;
	int ex = 0;

	if (server_init(&s, o) < 0) {
		sv_log_error("out of memory");
		return EX_OSERR;
	}
	s.secret = sv_cli_secret("TWITCH_EVENTSUB_SECRET", o->secret_file, &e);
	if (s.secret == NULL && e.ex == 0)
		sv_err_set(&e, EX_CONFIG,
		    "no secret: set TWITCH_EVENTSUB_SECRET or --secret-file");
	if (s.secret == NULL || sv_twitch_secret_check(s.secret, &e) < 0) {
		sv_log_error("%s", e.msg);
		ex = e.ex;
		goto out;
	}
	/* MHD's threads inherit the signal mask of this moment and take
	 * SIGINT/SIGTERM; the main thread blocks them, so a signal never
	 * interrupts a write to a slow stdout halfway (EINTR). */
	d = sv_httpd_start(&ho, on_request, &s, &e);
	if (d == NULL) {
		sv_log_error("%s", e.msg);
		ex = e.ex;
		goto out;
	}
	pthread_mutex_lock(&s.lock);
	s.httpd = d;
	pthread_mutex_unlock(&s.lock);
	sigemptyset(&stopsigs);
	sigaddset(&stopsigs, SIGINT);
	sigaddset(&stopsigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stopsigs, NULL);
	if (sv_httpd_per_ip_limit(d) != 0)
		sv_log_info("listening on %s://%s%s (at most %u connections, "
		            "%u per client address)",
		    o->tls_cert ? "https" : "http", sv_httpd_addr(d), o->path,
		    sv_httpd_conn_limit(d), sv_httpd_per_ip_limit(d));
	else
		sv_log_info("listening on %s://%s%s (at most %u connections, "
		            "no limit per client address)",
		    o->tls_cert ? "https" : "http", sv_httpd_addr(d), o->path,
		    sv_httpd_conn_limit(d));

	if (pump(&s, false, &ex) < 0)
		goto out; /* stdout is gone: nothing left to drain into */
	/* Stop accepting, let requests in flight finish, then print
	 * everything that was answered 2xx. */
	pthread_mutex_lock(&s.lock);
	s.httpd = NULL;
	pthread_mutex_unlock(&s.lock);
	sv_httpd_stop(d);
	d = NULL;
	if (pump(&s, true, &ex) < 0)
		goto out;
	sv_log_info("stopped after %lu events", s.printed);
out:
	sv_httpd_stop(d);
	server_fini(&s);
	return ex;
}

int
main(int argc, char *argv[])
{
	struct opts o;

	sv_cli_init(argv[0]);
	opts_parse(&o, argc, argv);
	return sv_cli_finish(run(&o));
}
