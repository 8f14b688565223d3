/*
 * twitch-pubsub: a channel's events pushed over WebSocket, as NDJSON
 * envelopes. EventSub WebSocket by default (twitch-protocols.md 1):
 * welcome, one subscription per type through Helix, keepalive watchdog,
 * lossless session_reconnect, revocations and close codes. The legacy
 * PubSub protocol (section 4) with --protocol pubsub, for
 * PubSub-compatible servers and recorded captures.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "backoff.h"
#include "cli.h"
#include "dedupe.h"
#include "err.h"
#include "event.h"
#include "eventsub.h"
#include "helix.h"
#include "log.h"
#include "net.h"
#include "pubsub.h"
#include "token.h"
#include "ws.h"

#define DEFAULT_TYPES \
	"channel.subscribe,channel.subscription.message,channel.subscription.gift"
#define WELCOME_TIMEOUT_MS 10000 /* also for the PubSub RESPONSEs */
#define CLOSE_WAIT_MS 2000
#define DEDUPE_WINDOW 4096
#define MAX_MSG (1024 * 1024)

struct opts {
	const char *broadcaster;
	const char *types;
	const char *url;
	bool pubsub;
	bool raw;
	bool no_retry;
	long keepalive_s; /* EventSub: keepalive_timeout_seconds asked for */
	long ping_ms; /* PubSub: PING interval */
	unsigned long count; /* 0: unlimited */
	struct sv_eventsub_want want[SV_EVENTSUB_MAX_SUBS];
	size_t nwant;
};

struct run;

/* One WebSocket connection; a run has at most two (reconnects). */
struct sess {
	struct run *r;
	struct sv_ws *ws;
	int no; /* 1, 2, ... in logs */
	bool ready; /* EventSub: subscriptions live; PubSub: listened */
	bool migrated; /* EventSub: opened from the reconnect_url */
	long long deadline; /* not ready: give up then; old: free then */
	struct sv_eventsub_conn es;
	struct sv_pubsub_conn ps;
	/* Noted by the message callback, done by the main loop (a callback
	 * must not free its session, lib/ws). */
	bool listened; /* PubSub: every LISTEN answered */
	bool reconnect; /* PubSub RECONNECT (EventSub: es.reconnect_url) */
	const char *drop; /* take it down: why */
	int drop_ex; /* EX_* under --no-retry */
	bool drop_now; /* reconnect without backoff */
	bool finished; /* sv_ws_io() said it ended; fin says how */
	struct sv_err fin;
};

struct run {
	const struct opts *o;
	struct sv_token *tk;
	struct sv_helix *hx;
	char bid[32]; /* the broadcaster's user id */
	char uid[32]; /* the token's user id */
	char base[4096]; /* where fresh connections go */
	/* the wanted types as sv_pubsub_conn_init() takes them */
	const char *types[SV_EVENTSUB_MAX_SUBS];
	bool active[SV_EVENTSUB_MAX_SUBS]; /* not revoked */
	struct sv_dedupe *seen;
	struct sess *cur, *old;
	int nconn;
	struct sv_backoff bo;
	long long retry_at; /* cur == NULL: connect then */
	bool auth_retried;
	long pong_timeout_ms;
	struct sv_event_out out; /* stdout, with the dedupe and -c N */
	unsigned long bad;
	int ex; /* >= 0: stop with this status */
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: twitch-pubsub [-hqVv] -b LOGIN|ID [-c N] [--keepalive SECONDS] [--no-retry]\n"
	    "                     [--ping-interval SECONDS] [--protocol eventsub|pubsub] [--raw]\n"
	    "                     [-t T[,T...]] [--url URL]\n"
	    "\n"
	    "Print a channel's events pushed over EventSub WebSocket (or legacy PubSub)\n"
	    "as NDJSON events.\n"
	    "\n"
	    "  -b, --broadcaster WHO    the channel, by login or user id\n"
	    "  -c, --count N            exit after N events\n"
	    "      --keepalive SECONDS  EventSub keepalive_timeout_seconds (default 30)\n"
	    "      --no-retry           exit instead of reconnecting (69, 75, 76)\n"
	    "      --ping-interval SECONDS\n"
	    "                           PubSub: PING this often (default 240, jittered)\n"
	    "      --protocol P         eventsub (default) or pubsub\n"
	    "      --raw                add the original message to each event\n"
	    "  -t, --types T[,T...]     EventSub types, each TYPE or TYPE:VERSION (default\n"
	    "                           channel.subscribe,channel.subscription.message,\n"
	    "                           channel.subscription.gift)\n"
	    "      --url URL            the server (default $TWITCH_EVENTSUB_WS_URL or\n"
	    "                           wss://eventsub.wss.twitch.tv/ws; with pubsub\n"
	    "                           $TWITCH_PUBSUB_URL or wss://pubsub-edge.twitch.tv)\n" SV_CLI_COMMON_HELP
	    "\n"
	    "Exit status: 0 done, 64 usage, 65 subscription refused, 69 unreachable,\n"
	    "75 connection lost or limits reached, 76 protocol error, 77 token refused\n"
	    "or revoked, 78 configuration. See twitch-pubsub(1).\n");
}

enum {
	OPT_KEEPALIVE = 0x100,
	OPT_NO_RETRY,
	OPT_PING,
	OPT_PROTOCOL,
	OPT_RAW,
	OPT_URL,
};

static const struct option longopts[] = {
	{ "broadcaster", required_argument, NULL, 'b' },
	{ "count", required_argument, NULL, 'c' },
	SV_CLI_LONGOPT_HELP,
	{ "keepalive", required_argument, NULL, OPT_KEEPALIVE },
	SV_CLI_LONGOPT_LOG_FORMAT,
	{ "no-retry", no_argument, NULL, OPT_NO_RETRY },
	{ "ping-interval", required_argument, NULL, OPT_PING },
	{ "protocol", required_argument, NULL, OPT_PROTOCOL },
	SV_CLI_LONGOPT_QUIET,
	{ "raw", no_argument, NULL, OPT_RAW },
	{ "types", required_argument, NULL, 't' },
	{ "url", required_argument, NULL, OPT_URL },
	SV_CLI_LONGOPT_VERBOSE,
	SV_CLI_LONGOPT_VERSION,
	{ NULL, 0, NULL, 0 },
};

static void
opts_check(struct opts *o, bool keepalive_given, bool ping_given)
{
	struct sv_err e;
	size_t i;
	int n;

	if (o->broadcaster == NULL)
		exit(sv_cli_usage_error("--broadcaster is required"));
	n = sv_eventsub_want_parse(o->types != NULL ? o->types : DEFAULT_TYPES,
	    o->want, SV_EVENTSUB_MAX_SUBS, &e);
	if (n < 0)
		exit(sv_cli_usage_error("--types: %s", e.msg));
	o->nwant = (size_t)n;
	if (!o->pubsub) {
		if (ping_given)
			exit(sv_cli_usage_error(
			    "--ping-interval goes with --protocol pubsub"));
		return;
	}
	if (keepalive_given)
		exit(sv_cli_usage_error(
		    "--keepalive goes with --protocol eventsub"));
	for (i = 0; i < o->nwant; i++)
		if (sv_pubsub_type_check(
		        o->want[i].type, o->want[i].version, &e) < 0)
			exit(sv_cli_usage_error("--types: %s", e.msg));
}

static void
opts_parse(struct opts *o, int argc, char **argv)
{
	bool keepalive_given = false, ping_given = false;
	unsigned long n;
	int c, ex;

	memset(o, 0, sizeof(*o));
	o->keepalive_s = 30;
	o->ping_ms = 240000;
	while (
	    (c = getopt_long(argc, argv, "b:c:hqt:Vv", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			o->broadcaster = optarg;
			break;
		case 'c':
			if ((ex = sv_cli_count(optarg, &o->count)) != 0)
				exit(ex);
			break;
		case OPT_KEEPALIVE:
			/* Twitch takes 10-600 and clamps the rest (1.1). */
			if (sv_cli_ulong(optarg, 1, 600, &n) < 0)
				exit(sv_cli_usage_error(
				    "--keepalive: expected 1 to 600 seconds, got '%s'",
				    optarg));
			o->keepalive_s = (long)n;
			keepalive_given = true;
			break;
		case OPT_NO_RETRY:
			o->no_retry = true;
			break;
		case OPT_PING:
			if (sv_cli_seconds_ms(optarg, SV_PUBSUB_PING_MAX_MS,
			        &o->ping_ms) < 0 ||
			    o->ping_ms < 100)
				exit(sv_cli_usage_error(
				    "--ping-interval: expected 0.1 to 300 seconds, got '%s'",
				    optarg));
			ping_given = true;
			break;
		case OPT_PROTOCOL:
			if (strcmp(optarg, "pubsub") == 0)
				o->pubsub = true;
			else if (strcmp(optarg, "eventsub") != 0)
				exit(sv_cli_usage_error(
				    "--protocol: expected eventsub or pubsub, got '%s'",
				    optarg));
			break;
		case OPT_RAW:
			o->raw = true;
			break;
		case 't':
			o->types = optarg;
			break;
		case OPT_URL:
			o->url = optarg;
			break;
		default:
			if (sv_cli_common_or_usage(c, optarg, usage, &ex) != 0)
				exit(ex);
		}
	}
	if (optind < argc)
		exit(sv_cli_usage_error(
		    "unexpected argument '%s'", argv[optind]));
	opts_check(o, keepalive_given, ping_given);
}

static int
fail(struct run *r, const struct sv_err *e)
{
	sv_log_error("%s", e->msg);
	r->ex = e->ex != 0 ? e->ex : EX_SOFTWARE;
	return -1;
}

/* Print one envelope once; -c N and a closed stdout end the run. */
static void
emit(struct run *r, const json_t *env)
{
	struct sv_err e;

	if (r->ex >= 0)
		return;
	switch (sv_event_out_put(&r->out, env, &e)) {
	case 0:
		return;
	case -1:
		sv_log_error("%s", e.msg);
		/* fall through */
	default:
		r->ex = e.ex;
	}
}

/* Take a session down from a callback: the main loop does it. */
static void
sess_drop(struct sess *s, const char *why, int ex, bool now)
{
	if (s->drop == NULL) {
		s->drop = why;
		s->drop_ex = ex;
		s->drop_now = now;
	}
}

static void
sess_free(struct sess *s)
{
	if (s == NULL)
		return;
	sv_ws_free(s->ws);
	sv_eventsub_conn_fini(&s->es);
	free(s);
}

/* Drive a session; false once it has ended (then only the getters and
 * sv_ws_free() are allowed, lib/ws). */
static bool
sess_io(struct sess *s, short revents)
{
	if (s->finished)
		return false;
	sv_err_clear(&s->fin);
	if (sv_ws_io(s->ws, revents, &s->fin) == 0)
		return true;
	s->finished = true;
	return false;
}

/* ---- EventSub WebSocket -------------------------------------------------- */

static void
es_revoked(struct run *r, const struct sv_eventsub_msg *m)
{
	const char *why = m->sub_status != NULL ? m->sub_status : "no reason";

	sv_log_warn("subscription %s v%s revoked by Twitch: %s", m->sub_type,
	    m->sub_version != NULL ? m->sub_version : "?", why);
	if (sv_eventsub_revoke(r->o->want, r->active, r->o->nwant, m) > 0)
		return;
	/* Nothing left to listen to: say why a supervisor should care. */
	r->ex =
	    strcmp(why, "authorization_revoked") == 0 ? EX_NOPERM : EX_DATAERR;
	sv_log_error("every subscription is revoked (%s)%s", why,
	    r->ex == EX_NOPERM ? ": run 'twitch-auth login' again" : "");
}

static void
es_message(struct sess *s, const char *data, size_t len)
{
	struct run *r = s->r;
	struct sv_eventsub_msg m;
	struct sv_err e;
	size_t i;

	switch (sv_eventsub_conn_feed(
	    &s->es, data, len, r->o->raw, sv_net_now_ms(), &m, &e)) {
	case SV_EVENTSUB_FEED_BAD:
		r->bad++;
		sv_log_warn(
		    "connection %d: bad message: %s; skipped", s->no, e.msg);
		goto out;
	case SV_EVENTSUB_FEED_VIOLATION:
		sv_log_error("connection %d: %s", s->no, e.msg);
		sess_drop(s, "protocol violation", EX_PROTOCOL, false);
		goto out;
	case SV_EVENTSUB_FEED_OK:
		break;
	}
	if (m.kind == SV_EVENTSUB_NOTIFICATION) {
		if (sv_eventsub_stale(&m, time(NULL))) {
			/* Like twurple and twitch4j (1.5): a redelivery this
			 * old may be past what the id window remembers. */
			sv_log_warn(
			    "notification %s of %s is over 10 minutes old; dropped",
			    m.id, m.timestamp);
			goto out;
		}
		for (i = 0; i < json_array_size(m.events); i++)
			emit(r, json_array_get(m.events, i));
	} else if (m.kind == SV_EVENTSUB_REVOCATION) {
		if (!sv_dedupe_check(r->seen, m.id))
			es_revoked(r, &m);
	} else if (m.kind == SV_EVENTSUB_RECONNECT) {
		sv_log_info("connection %d: Twitch asks to reconnect", s->no);
	} else if (m.kind == SV_EVENTSUB_UNKNOWN) {
		sv_log_info("connection %d: message type '%s' unknown; ignored",
		    s->no, m.type);
	}
out:
	sv_eventsub_msg_fini(&m);
}

/*
 * After a refused create: was the session closed meanwhile (a 4003 while
 * Helix was slow makes Helix refuse a session that is gone)? Reads what
 * arrived, for up to 300 ms.
 */
static bool
es_session_gone(struct sess *s)
{
	long long end = sv_net_now_ms() + 300;
	struct pollfd pfd;

	while (sv_ws_state(s->ws) == SV_WS_OPEN && s->drop == NULL &&
	    sv_net_now_ms() < end) {
		(void)sv_ws_poll(&s->ws, 1, &pfd, 50);
		if (!sess_io(s, pfd.revents))
			break;
	}
	return s->finished || sv_ws_state(s->ws) != SV_WS_OPEN ||
	    s->drop != NULL;
}

/*
 * Create every wanted subscription for the session just welcomed, at
 * once (within the welcome window, 1.9). Returns 0 when done, 1 when
 * the session went away meanwhile, -1 when the run must stop (r->ex).
 */
static int
es_subscribe(struct run *r, struct sess *s)
{
	struct sv_err e;
	long long cost = 0;
	size_t i, n = 0;

	for (i = 0; i < r->o->nwant; i++) {
		const struct sv_eventsub_want *w = &r->o->want[i];

		if (!r->active[i])
			continue;
		switch (sv_eventsub_subscribe(
		    r->hx, w, r->bid, r->uid, s->es.session_id, &cost, &e)) {
		case SV_EVENTSUB_SUB_CREATED:
			sv_log_info("subscribed to %s v%s (cost %lld)", w->type,
			    w->version, cost);
			n++;
			break;
		case SV_EVENTSUB_SUB_EXISTS:
			sv_log_info(
			    "%s v%s: already subscribed", w->type, w->version);
			n++;
			break;
		case SV_EVENTSUB_SUB_REFUSED:
			if (e.ex != EX_NOPERM && es_session_gone(s))
				return 1;
			return fail(r, &e);
		case SV_EVENTSUB_SUB_LIMIT:
			return fail(r, &e);
		case SV_EVENTSUB_SUB_FAILED:
			/* Helix unreachable or failing: from scratch. */
			sv_log_warn("%s", e.msg);
			sess_drop(s, "subscribing failed",
			    e.ex == EX_OSERR ? EX_OSERR : EX_UNAVAILABLE,
			    false);
			return 1;
		}
	}
	sv_log_info("connection %d: %zu subscriptions on session %s", s->no, n,
	    s->es.session_id);
	return 0;
}

/* ---- legacy PubSub ------------------------------------------------------- */

static int
ps_listen(struct run *r, struct sess *s, struct sv_err *e)
{
	const char *tok;
	size_t i;
	char *frame;
	int rc = 0;

	if (sv_pubsub_conn_init(&s->ps, r->types, r->o->nwant, r->bid,
	        r->o->ping_ms, r->pong_timeout_ms, sv_net_now_ms(), e) < 0 ||
	    sv_token_get(r->tk, SV_TOKEN_USER, &tok, e) < 0)
		return -1;
	for (i = 0; i < s->ps.ntopics && rc == 0; i++) {
		frame = sv_pubsub_conn_listen(&s->ps, i, tok);
		if (frame == NULL)
			return sv_err_set(e, EX_OSERR, "out of memory");
		sv_log_info("connection %d: LISTEN %s", s->no, s->ps.topic[i]);
		rc = sv_ws_send_text(s->ws, frame, strlen(frame), e);
		explicit_bzero(frame, strlen(frame));
		free(frame);
	}
	return rc;
}

static void
ps_refused(struct sess *s, const char *topic, const char *error)
{
	struct run *r = s->r;
	int ex = sv_pubsub_error_ex(error);
	const char *tok;
	struct sv_err e;

	/* A stored token may have just expired: refresh it once. */
	if (ex == EX_NOPERM && !r->auth_retried &&
	    !sv_token_from_env(r->tk, SV_TOKEN_USER) &&
	    sv_token_get(r->tk, SV_TOKEN_USER, &tok, &e) == 0) {
		r->auth_retried = true;
		sv_token_reject(r->tk, SV_TOKEN_USER, tok);
		sess_drop(s,
		    "LISTEN refused (ERR_BADAUTH); refreshing the token",
		    EX_NOPERM, true);
		return;
	}
	if (ex == EX_UNAVAILABLE) {
		sv_log_warn(
		    "connection %d: LISTEN %s failed: %s", s->no, topic, error);
		sess_drop(s, "LISTEN failed", ex, false);
		return;
	}
	sv_log_error("PubSub refused LISTEN %s: %s%s", topic, error,
	    ex == EX_NOPERM ?
	        " (run 'twitch-auth login' for a token with the scopes of the topics)" :
	        "");
	r->ex = ex;
}

static bool
ps_wanted(const struct run *r, const char *type)
{
	size_t i;

	for (i = 0; i < r->o->nwant; i++)
		if (strcmp(r->o->want[i].type, type) == 0)
			return true;
	return false;
}

static void
ps_message(struct sess *s, const char *data, size_t len)
{
	struct run *r = s->r;
	struct sv_pubsub_msg m;
	const char *topic;
	const json_t *env;
	struct sv_err e;
	size_t i;

	if (sv_pubsub_parse(data, len, r->o->raw, &m, &e) < 0) {
		r->bad++;
		sv_log_warn(
		    "connection %d: bad message: %s; skipped", s->no, e.msg);
		goto out;
	}
	switch (m.kind) {
	case SV_PUBSUB_RESPONSE:
		switch (sv_pubsub_conn_response(&s->ps, &m, &topic)) {
		case SV_PUBSUB_ANSWER_PENDING:
			break;
		case SV_PUBSUB_ANSWER_DONE:
			s->listened = true;
			break;
		case SV_PUBSUB_ANSWER_UNKNOWN:
			sv_log_warn(
			    "connection %d: RESPONSE to no LISTEN of ours (%s); ignored",
			    s->no, *m.error != '\0' ? m.error : "ok");
			break;
		case SV_PUBSUB_ANSWER_REFUSED:
			ps_refused(s, topic, m.error);
			break;
		}
		break;
	case SV_PUBSUB_PONG:
		sv_pubsub_conn_pong(&s->ps);
		break;
	case SV_PUBSUB_RECONNECT:
		sv_log_info("connection %d: server asks to reconnect", s->no);
		s->reconnect = true;
		break;
	case SV_PUBSUB_MESSAGE:
		if (m.skipped != NULL)
			sv_log_debug(
			    "MESSAGE on %s: %s; skipped", m.topic, m.skipped);
		json_array_foreach (m.events, i, env)
			if (ps_wanted(r, sv_event_path_str(env, "type")))
				emit(r, env);
		break;
	case SV_PUBSUB_UNKNOWN:
		sv_log_info("connection %d: frame type '%s' unknown; ignored",
		    s->no, m.type);
		break;
	}
out:
	sv_pubsub_msg_fini(&m);
}

/* ---- connections ----------------------------------------------------------
 */

static void
on_ws_msg(void *arg, struct sv_ws *ws, int op, const char *data, size_t len)
{
	struct sess *s = arg;

	(void)ws;
	s->es.last_rx_ms = sv_net_now_ms();
	/* A session about to be dropped still delivers what it received:
	 * PubSub never sends it again (the dedupe drops doubles). */
	if (s->r->ex >= 0)
		return;
	if (op != SV_WS_TEXT) {
		s->r->bad++;
		sv_log_warn("connection %d: a binary message; skipped", s->no);
	} else if (s->r->o->pubsub) {
		ps_message(s, data, len);
	} else {
		es_message(s, data, len);
	}
}

/* Open a session to url: NULL on failure, with e set. */
static struct sess *
sess_open(struct run *r, const char *url, bool migrated, struct sv_err *e)
{
	struct sv_ws_client_opts wo;
	struct sess *s;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		sv_err_set(e, EX_OSERR, "out of memory");
		return NULL;
	}
	s->r = r;
	s->no = ++r->nconn;
	s->migrated = migrated;
	memset(&wo, 0, sizeof(wo));
	wo.url = url;
	wo.on_msg = on_ws_msg;
	wo.arg = s;
	wo.max_msg = MAX_MSG;
	sv_log_info("connection %d: connecting to %s", s->no, url);
	s->ws = sv_ws_connect(&wo, e);
	if (s->ws == NULL || (r->o->pubsub && ps_listen(r, s, e) < 0)) {
		sv_err_prefix(e, "connection %d", s->no);
		sess_free(s);
		return NULL;
	}
	sv_eventsub_conn_init(
	    &s->es, r->o->keepalive_s * 1000, sv_net_now_ms());
	s->deadline = s->es.last_rx_ms + WELCOME_TIMEOUT_MS;
	return s;
}

/* The current connection is gone: connect again (later). */
static void
cur_down(struct run *r, const char *why, int ex, bool now)
{
	long delay = 0;

	sess_free(r->cur);
	r->cur = NULL;
	if (r->ex >= 0)
		return;
	if (r->o->no_retry) {
		sv_log_error("%s", why);
		r->ex = ex == EX_PROTOCOL || ex == EX_UNAVAILABLE ||
		        ex == EX_NOPERM || ex == EX_OSERR ?
		    ex :
		    EX_TEMPFAIL;
		return;
	}
	/* At once only the first time: a server that keeps closing still
	 * gets the backoff. */
	if (!now || r->bo.attempt > 0)
		delay = sv_backoff_next_ms(&r->bo);
	else
		r->bo.attempt++;
	sv_log_warn("%s; reconnecting%s in %.1f s", why,
	    r->o->pubsub ? "" : " and subscribing again",
	    (double)delay / 1000.0);
	r->retry_at = sv_net_now_ms() + delay;
}

static void
connect_fresh(struct run *r)
{
	struct sv_err e;

	r->cur = sess_open(r, r->base, false, &e);
	if (r->cur != NULL || r->ex >= 0)
		return;
	if (e.ex == EX_USAGE || e.ex == EX_NOINPUT || e.ex == EX_OSERR ||
	    e.ex == EX_CONFIG || (e.ex == EX_NOPERM && r->o->pubsub)) {
		(void)fail(r, &e);
		return;
	}
	cur_down(r, e.msg, e.ex, false);
}

/* session_reconnect / RECONNECT: the new connection before the old one
 * goes (1.6, 4.2). */
static void
migrate(struct run *r)
{
	struct sess *s = r->cur;
	struct sv_err e;

	if (!s->ready) {
		cur_down(r, "asked to reconnect before being ready",
		    EX_TEMPFAIL, true);
		return;
	}
	sess_free(r->old);
	r->old = s;
	s->deadline = sv_net_now_ms() + SV_EVENTSUB_RECONNECT_GRACE_S * 1000L;
	r->cur = sess_open(
	    r, r->o->pubsub ? r->base : s->es.reconnect_url, !r->o->pubsub, &e);
	if (r->cur == NULL && r->ex < 0) {
		sv_log_warn("%s; connecting to %s instead", e.msg, r->base);
		connect_fresh(r);
	}
}

/* The current connection is ready: let the replaced one go. */
static void
ready(struct run *r, struct sess *s)
{
	s->ready = true;
	sv_backoff_reset(&r->bo);
	r->auth_retried = false;
	if (r->old == NULL)
		return;
	sv_log_info(
	    "connection %d: ready; closing connection %d", s->no, r->old->no);
	sv_ws_close(r->old->ws, SV_WS_CLOSE_NORMAL, NULL);
	r->old->deadline = sv_net_now_ms() + CLOSE_WAIT_MS;
}

static void
welcomed(struct run *r, struct sess *s)
{
	s->es.welcome_new = false;
	if (s != r->cur)
		return;
	if (s->migrated) {
		sv_log_info(
		    "connection %d: reconnected (session %s); subscriptions carried over",
		    s->no, s->es.session_id);
		ready(r, s);
	} else if (es_subscribe(r, s) == 0) {
		ready(r, s);
	}
}

/* A session finished (closed or failed): what now. */
static void
closed(struct run *r, struct sess *s)
{
	struct sv_eventsub_close_action a = { false, false };
	unsigned code = sv_ws_close_code(s->ws);
	const char *text = r->o->pubsub ? "" : sv_eventsub_close_text(code);
	const char *reason = sv_ws_close_reason(s->ws);
	char why[512];

	if (s == r->old) {
		sv_log_info("connection %d: closed (%u)", s->no, code);
		sess_free(s);
		r->old = NULL;
		return;
	}
	if (!r->o->pubsub)
		sv_eventsub_close_action(code, &a);
	if (s->fin.ex != 0 && code == SV_WS_CLOSE_ABNORMAL)
		(void)snprintf(
		    why, sizeof(why), "connection %d: %s", s->no, s->fin.msg);
	else
		(void)snprintf(why, sizeof(why),
		    "connection %d: closed by the server (%u%s%s)", s->no, code,
		    *reason || *text ? ": " : "", *reason ? reason : text);
	if (a.our_fault)
		sv_log_error("%s: Twitch says this client misbehaved", why);
	if (s->migrated && !s->ready && r->old != NULL) {
		/* A bad reconnect URL (4007): the base URL and subscribing
		 * again, while the old connection still delivers (1.6). */
		sv_log_warn("%s; connecting to %s instead", why, r->base);
		sess_free(s);
		r->cur = NULL;
		connect_fresh(r);
		return;
	}
	cur_down(r, why, s->fin.ex == EX_PROTOCOL ? EX_PROTOCOL : EX_TEMPFAIL,
	    a.at_once);
}

/* What the callbacks noted and the deadlines of one session. Returns
 * false when it was taken down. */
static bool
sess_timers(struct run *r, struct sess *s, long long *wake)
{
	long long now = sv_net_now_ms(), dead;
	char why[300];
	struct sv_err e;

	if (s->es.welcome_new) {
		welcomed(r, s);
		/*
		 * Subscribing waited on Helix; the keepalives that came
		 * meanwhile are still unread in the socket. Read them (the
		 * next round, at once) before judging liveness.
		 */
		*wake = sv_net_now_ms();
		return true;
	}
	if (s->listened) {
		s->listened = false;
		if (s == r->cur)
			ready(r, s);
	}
	if (s == r->cur && s->drop == NULL &&
	    (s->reconnect || s->es.reconnect_url != NULL)) {
		s->reconnect = false;
		migrate(r);
		return false;
	}
	if (s->drop == NULL && !s->ready && now >= s->deadline)
		s->drop = r->o->pubsub ? "no RESPONSE to LISTEN in time" :
		                         "no session_welcome in time";
	dead = sv_eventsub_conn_deadline(&s->es);
	if (s->drop == NULL && !r->o->pubsub && s->ready) {
		if (now >= dead)
			sess_drop(s, "no message within the keepalive time",
			    EX_TEMPFAIL, true); /* 1.4: dead */
		else if (dead < *wake)
			*wake = dead;
	}
	if (s->drop == NULL && r->o->pubsub) {
		switch (sv_pubsub_conn_tick(&s->ps, now, wake)) {
		case 1:
			if (sv_ws_send_text(s->ws, SV_PUBSUB_PING,
			        strlen(SV_PUBSUB_PING), &e) == 0)
				sv_pubsub_conn_pinged(&s->ps, now);
			break;
		case -1:
			sess_drop(s, "no PONG in time", EX_TEMPFAIL, true);
			break;
		}
	}
	if (s == r->old && s->drop == NULL && now >= s->deadline)
		s->drop = "closed after the reconnect";
	if (s->drop == NULL) {
		if (!s->ready || s == r->old)
			*wake = s->deadline < *wake ? s->deadline : *wake;
		return true;
	}
	(void)snprintf(why, sizeof(why), "connection %d: %s", s->no, s->drop);
	if (s == r->old) {
		sv_log_info("%s", why);
		sess_free(s);
		r->old = NULL;
	} else {
		cur_down(r, why, s->drop_ex != 0 ? s->drop_ex : EX_TEMPFAIL,
		    s->drop_now);
	}
	return false;
}

/* Returns the ms until something is due. */
static long
timers(struct run *r)
{
	long long now = sv_net_now_ms(), wake = now + 1000;
	struct sv_err e;

	if (r->cur == NULL && now >= r->retry_at)
		connect_fresh(r);
	else if (r->cur == NULL && r->retry_at < wake)
		wake = r->retry_at;
	if (r->ex < 0 && r->cur != NULL && !sess_timers(r, r->cur, &wake))
		return 0;
	if (r->ex < 0 && r->old != NULL && !sess_timers(r, r->old, &wake))
		return 0;
	/* Hourly validation (6.7); a revoked token ends the run. */
	if (r->ex < 0 &&
	    sv_token_tick(r->tk, SV_TOKEN_USER, now, &wake, &e) < 0) {
		sv_log_error("%s", e.msg);
		if (e.ex == EX_NOPERM)
			r->ex = e.ex;
	}
	now = sv_net_now_ms();
	return wake > now ? (long)(wake - now) : 0;
}

/* Close every session with 1000 and wait a little for the answers. */
static void
close_all(struct run *r)
{
	struct sess *ss[2] = { r->cur, r->old };
	long long end = sv_net_now_ms() + CLOSE_WAIT_MS;
	int k;

	for (k = 0; k < 2; k++) {
		if (ss[k] == NULL)
			continue;
		sv_ws_close_until(ss[k]->ws, SV_WS_CLOSE_NORMAL, end);
		sess_free(ss[k]);
	}
	r->cur = r->old = NULL;
}

static void
loop(struct run *r)
{
	struct pollfd pfd[2];
	struct sv_ws *ws[2];
	struct sess *who[2];
	long timeout;
	size_t i, n;

	while (r->ex < 0 && !sv_cli_stopping()) {
		timeout = timers(r);
		if (r->ex >= 0)
			break;
		n = 0;
		if (r->cur != NULL)
			who[n++] = r->cur;
		if (r->old != NULL)
			who[n++] = r->old;
		for (i = 0; i < n; i++) {
			ws[i] = who[i]->ws;
			if (who[i]->finished)
				timeout = 0;
		}
		if (sv_ws_poll(ws, n, pfd,
		        (int)(timeout > 1000 ? 1000 : timeout)) < 0 &&
		    errno != EINTR) {
			sv_log_error("poll: %s", strerror(errno));
			r->ex = EX_OSERR;
			break;
		}
		for (i = 0; i < n && r->ex < 0; i++)
			if ((who[i] == r->cur || who[i] == r->old) &&
			    !sess_io(who[i], pfd[i].revents))
				closed(r, who[i]);
	}
}

/* ---- setup -----------------------------------------------------------------
 */

/* The base URL, with keepalive_timeout_seconds for EventSub (1.1). */
static int
base_url(struct run *r)
{
	const char *env, *url = r->o->url;
	bool fits;

	env = getenv(
	    r->o->pubsub ? "TWITCH_PUBSUB_URL" : "TWITCH_EVENTSUB_WS_URL");
	if (url == NULL)
		url = env != NULL && *env != '\0' ? env :
		    r->o->pubsub                  ? SV_PUBSUB_DEFAULT_URL :
		                                    SV_EVENTSUB_DEFAULT_URL;
	if (r->o->pubsub)
		fits = (size_t)snprintf(r->base, sizeof(r->base), "%s", url) <
		    sizeof(r->base);
	else
		fits = sv_eventsub_url(url, r->o->keepalive_s, r->base,
		           sizeof(r->base)) == 0;
	if (!fits) {
		sv_log_error("the URL is too long");
		return EX_USAGE;
	}
	return 0;
}

/* Everything the welcome window needs, before connecting (1.9): the
 * validated token and the ids. Returns -1 to go on, else an exit code. */
static int
setup(struct run *r)
{
	const struct sv_token_rec *info;
	struct sv_helix_user u;
	const char *tok, *env;
	unsigned long ms;
	struct sv_err e;
	size_t i;

	for (i = 0; i < r->o->nwant; i++) {
		r->types[i] = r->o->want[i].type;
		r->active[i] = true;
	}
	sv_backoff_init(&r->bo);
	r->pong_timeout_ms = SV_PUBSUB_PONG_TIMEOUT_MS;
	env = getenv("SERVITOR_PONG_TIMEOUT_MS"); /* tests */
	if (env != NULL && sv_cli_ulong(env, 1, 600000, &ms) == 0)
		r->pong_timeout_ms = (long)ms;
	if (base_url(r) != 0)
		return EX_USAGE;
	if ((r->seen = sv_dedupe_new(DEDUPE_WINDOW)) == NULL)
		return EX_OSERR;
	r->out.f = stdout;
	r->out.seen = r->seen;
	r->out.count = r->o->count;
	r->tk = sv_token_new(&e);
	if (r->tk == NULL || sv_token_get(r->tk, SV_TOKEN_USER, &tok, &e) < 0)
		goto fail;
	info = sv_token_info(r->tk, SV_TOKEN_USER);
	if (info != NULL && info->user_id != NULL)
		(void)snprintf(r->uid, sizeof(r->uid), "%s", info->user_id);
	/* PubSub needs no Helix for a channel id given as such. */
	if (r->o->pubsub &&
	    strspn(r->o->broadcaster, "0123456789") ==
	        strlen(r->o->broadcaster)) {
		(void)snprintf(r->bid, sizeof(r->bid), "%s", r->o->broadcaster);
		return -1;
	}
	r->hx = sv_helix_new(r->tk, SV_TOKEN_USER, &e);
	if (r->hx == NULL ||
	    sv_helix_user(r->hx, r->o->broadcaster, &u, &e) < 0)
		goto fail;
	(void)snprintf(r->bid, sizeof(r->bid), "%s", u.id);
	sv_log_info("broadcaster %s is user id %s", u.login, u.id);
	return -1;
fail:
	sv_log_error("%s", e.msg);
	return e.ex != 0 ? e.ex : EX_SOFTWARE;
}

static int
run(const struct opts *o)
{
	struct run r;
	int ex;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.ex = -1;
	ex = setup(&r);
	if (ex < 0) {
		r.retry_at = sv_net_now_ms();
		loop(&r);
		ex = r.ex >= 0 ? r.ex : 0;
		close_all(&r);
	}
	if (r.bad > 0)
		sv_log_info("%lu bad messages skipped", r.bad);
	sv_helix_free(r.hx);
	sv_token_free(r.tk);
	sv_dedupe_free(r.seen);
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
