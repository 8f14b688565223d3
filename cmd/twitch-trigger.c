/*
 * twitch-trigger: print synthetic Twitch events, one envelope per line,
 * in exactly the shape the real listeners emit (source "trigger"). For
 * tests, demos and overlay design without a Twitch account.
 *
 * With --webhook URL it sends them as Twitch would instead: signed
 * EventSub webhook deliveries (notification, challenge or revocation),
 * checking the answer as Twitch does.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backoff.h"
#include "cli.h"
#include "err.h"
#include "event.h"
#include "http.h"
#include "log.h"
#include "synth.h"
#include "twitch.h"
#include "types.h"

/* Deliveries answered 429 or 503 are tried this often in all, with
 * backoff, as Twitch retries (twitch-protocols.md 2.6). */
#define WEBHOOK_ATTEMPTS 5
/* The Twitch CLI's client timeout. */
#define WEBHOOK_TIMEOUT_MS 10000

struct opts {
	const char *type; /* NULL with --random */
	bool random;
	bool list;
	unsigned long count; /* 0: until stopped (only with --interval) */
	long interval_ms;
	uint64_t seed;
	struct sv_synth_opts so;
	const char *webhook; /* URL, or NULL: print */
	const char *secret_file;
	const char *revoke; /* revocation reason, or NULL */
	bool verify;
};

/* What a webhook run needs besides the options. */
struct sender {
	struct sv_http *http;
	char *secret;
	struct sv_backoff backoff;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: twitch-trigger [-hqVv] [-a N] [-b LOGIN] [-c N] [-i SECONDS] [-m TEXT]\n"
	    "                      [-t TIER] [-u LOGIN] [--anonymous] [--reward TITLE]\n"
	    "                      [--seed N] [--viewers N] TYPE\n"
	    "       twitch-trigger --random [options]\n"
	    "       twitch-trigger -w URL [--verify | --revoke REASON] [--secret-file FILE]\n"
	    "                      [options] TYPE | --random\n"
	    "       twitch-trigger --list\n"
	    "\n"
	    "Print synthetic Twitch events as NDJSON envelopes (source \"trigger\").\n"
	    "TYPE is an EventSub type (channel.follow) or a Twitch CLI name (follow).\n"
	    "With --webhook, POST them as signed EventSub deliveries instead.\n"
	    "\n"
	    "  -a, --amount N           bits, gift count, resub months or reward cost\n"
	    "      --anonymous          anonymous gift or cheer\n"
	    "  -b, --broadcaster LOGIN  the channel (default glowcaster)\n"
	    "  -c, --count N            print N events (default 1; unlimited with -i)\n"
	    "  -i, --interval SECONDS   wait between events (fractions allowed)\n"
	    "      --list               list the types and exit\n"
	    "  -m, --message TEXT       chat message, resub message or reward input\n"
	    "  -r, --random             random types and values\n"
	    "      --revoke REASON      with -w: send a revocation with this status\n"
	    "      --reward TITLE       channel points reward title\n"
	    "      --secret-file FILE   webhook secret (default: TWITCH_EVENTSUB_SECRET)\n"
	    "      --seed N             repeatable random values\n"
	    "  -t, --tier TIER          1000, 2000 or 3000\n"
	    "  -u, --user LOGIN         the acting user (follower, raider, ...)\n"
	    "      --verify             with -w: send a challenge and check the answer\n"
	    "      --viewers N          raid or host viewers\n"
	    "  -w, --webhook URL        POST each event to URL as Twitch would\n" SV_CLI_COMMON_HELP
	    "\n"
	    "Exit status: 0 done, 64 usage, 69 unreachable, 74 stdout error, 76 bad\n"
	    "answer, 77 signature refused, 78 no secret. See twitch-trigger(1).\n");
}

enum {
	OPT_ANONYMOUS = 0x100,
	OPT_LIST,
	OPT_REVOKE,
	OPT_REWARD,
	OPT_SECRET_FILE,
	OPT_SEED,
	OPT_VERIFY,
	OPT_VIEWERS,
};

static const struct option longopts[] = {
	{ "amount", required_argument, NULL, 'a' },
	{ "anonymous", no_argument, NULL, OPT_ANONYMOUS },
	{ "broadcaster", required_argument, NULL, 'b' },
	{ "count", required_argument, NULL, 'c' },
	SV_CLI_LONGOPT_HELP,
	{ "interval", required_argument, NULL, 'i' },
	{ "list", no_argument, NULL, OPT_LIST },
	SV_CLI_LONGOPT_LOG_FORMAT,
	{ "message", required_argument, NULL, 'm' },
	SV_CLI_LONGOPT_QUIET,
	{ "random", no_argument, NULL, 'r' },
	{ "revoke", required_argument, NULL, OPT_REVOKE },
	{ "reward", required_argument, NULL, OPT_REWARD },
	{ "secret-file", required_argument, NULL, OPT_SECRET_FILE },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "tier", required_argument, NULL, 't' },
	{ "user", required_argument, NULL, 'u' },
	SV_CLI_LONGOPT_VERBOSE,
	{ "verify", no_argument, NULL, OPT_VERIFY },
	SV_CLI_LONGOPT_VERSION,
	{ "viewers", required_argument, NULL, OPT_VIEWERS },
	{ "webhook", required_argument, NULL, 'w' },
	{ NULL, 0, NULL, 0 },
};

/* A Twitch login: 1-25 of [a-z0-9_]. */
static bool
valid_login(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 25)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* A subscription status: 1-64 of [a-z_]. */
static bool
valid_status(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 64 &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz_") == n;
}

static bool
valid_utf8(const char *s)
{
	json_t *j = json_string(s); /* jansson validates UTF-8 */
	bool ok = j != NULL;

	json_decref(j);
	return ok;
}

static void
opts_check(struct opts *o, int argc, char **argv)
{
	const struct sv_type *t;

	if (o->list)
		return;
	if (o->random && optind < argc)
		exit(
		    sv_cli_usage_error("TYPE and --random exclude each other"));
	if (!o->random) {
		if (optind >= argc)
			exit(sv_cli_usage_error("missing TYPE (or --random)"));
		if (argc - optind > 1)
			exit(sv_cli_usage_error("one TYPE at a time"));
		t = sv_types_find(argv[optind]);
		if (t == NULL || !sv_synth_supported(t->type))
			exit(sv_cli_usage_error(
			    "unknown type '%s' (see --list)", argv[optind]));
		if (o->webhook != NULL && !t->eventsub)
			exit(sv_cli_usage_error(
			    "%s is not an EventSub type: no webhook for it",
			    t->type));
		o->type = t->type;
	}
	if (o->webhook == NULL &&
	    (o->verify || o->revoke != NULL || o->secret_file != NULL))
		exit(sv_cli_usage_error(
		    "--verify, --revoke and --secret-file need --webhook"));
	if (o->verify && o->revoke != NULL)
		exit(sv_cli_usage_error(
		    "--verify and --revoke exclude each other"));
	if (o->webhook != NULL && strncmp(o->webhook, "http://", 7) != 0 &&
	    strncmp(o->webhook, "https://", 8) != 0)
		exit(sv_cli_usage_error(
		    "--webhook: '%s' is not an http:// or https:// URL",
		    o->webhook));
	if (o->revoke != NULL && !valid_status(o->revoke))
		exit(sv_cli_usage_error(
		    "--revoke: '%s' is not a status such as authorization_revoked",
		    o->revoke));
	if (o->so.user != NULL && !valid_login(o->so.user))
		exit(sv_cli_usage_error(
		    "--user: '%s' is not a Twitch login", o->so.user));
	if (o->so.broadcaster != NULL && !valid_login(o->so.broadcaster))
		exit(sv_cli_usage_error(
		    "--broadcaster: '%s' is not a Twitch login",
		    o->so.broadcaster));
	if (o->so.message != NULL && !valid_utf8(o->so.message))
		exit(sv_cli_usage_error("--message is not valid UTF-8"));
	if (o->so.reward != NULL && !valid_utf8(o->so.reward))
		exit(sv_cli_usage_error("--reward is not valid UTF-8"));
}

static void
opts_parse(struct opts *o, int argc, char **argv)
{
	bool count_given = false;
	unsigned long n;
	int c, ex;

	memset(o, 0, sizeof(*o));
	o->count = 1;
	sv_synth_opts_init(&o->so);

	while ((c = getopt_long(argc, argv, "a:b:c:hi:m:qrt:u:Vvw:", longopts,
	            NULL)) != -1) {
		switch (c) {
		case 'a':
			if (sv_cli_ulong(optarg, 0, 1000000000, &n) < 0)
				exit(sv_cli_usage_error(
				    "--amount: expected a number, got '%s'",
				    optarg));
			o->so.amount = (long)n;
			break;
		case OPT_ANONYMOUS:
			o->so.anonymous = true;
			break;
		case 'b':
			o->so.broadcaster = optarg;
			break;
		case 'c':
			if ((ex = sv_cli_count(optarg, &o->count)) != 0)
				exit(ex);
			count_given = true;
			break;
		case 'i':
			if (sv_cli_seconds_ms(
			        optarg, 86400000L, &o->interval_ms) < 0)
				exit(sv_cli_usage_error(
				    "--interval: expected seconds, got '%s'",
				    optarg));
			break;
		case OPT_LIST:
			o->list = true;
			break;
		case 'm':
			o->so.message = optarg;
			break;
		case 'r':
			o->random = true;
			break;
		case OPT_REVOKE:
			o->revoke = optarg;
			break;
		case OPT_REWARD:
			o->so.reward = optarg;
			break;
		case OPT_SECRET_FILE:
			o->secret_file = optarg;
			break;
		case OPT_SEED:
			if (sv_cli_ulong(optarg, 1, ULONG_MAX, &n) < 0)
				exit(sv_cli_usage_error(
				    "--seed: expected a positive number, got '%s'",
				    optarg));
			o->seed = n;
			break;
		case 't':
			if (strcmp(optarg, "1000") != 0 &&
			    strcmp(optarg, "2000") != 0 &&
			    strcmp(optarg, "3000") != 0)
				exit(sv_cli_usage_error(
				    "--tier: expected 1000, 2000 or 3000, got '%s'",
				    optarg));
			o->so.tier = optarg;
			break;
		case 'u':
			o->so.user = optarg;
			break;
		case OPT_VERIFY:
			o->verify = true;
			break;
		case 'w':
			o->webhook = optarg;
			break;
		case OPT_VIEWERS:
			if (sv_cli_ulong(optarg, 0, 10000000, &n) < 0)
				exit(sv_cli_usage_error(
				    "--viewers: expected a number, got '%s'",
				    optarg));
			o->so.viewers = (long)n;
			break;
		default:
			if (sv_cli_common_or_usage(c, optarg, usage, &ex) != 0)
				exit(ex);
		}
	}
	if (o->interval_ms > 0 && !count_given)
		o->count = 0;
	opts_check(o, argc, argv);
}

static int
list_types(void)
{
	const char *const *t;
	const struct sv_type *ty;

	for (t = sv_synth_types(); *t != NULL; t++) {
		ty = sv_types_find(*t);
		printf("%s\t%s\t%s\n", *t, ty != NULL ? ty->version : "1",
		    ty != NULL ? ty->alias : "");
	}
	return 0;
}

/* Print one envelope for ev (borrowed). 0, -1 when the reader has gone,
 * or an exit code. */
static int
print_event(const char *type, json_t *ev)
{
	const struct sv_type *t = sv_types_find(type);
	char id[SV_EVENT_ID_LEN];
	struct sv_err e;
	json_t *env;
	int rc;

	sv_event_uuid4(id);
	env = sv_event_new(id, type, t != NULL ? t->version : "1", "trigger",
	    NULL, json_incref(ev));
	if (env == NULL) {
		sv_log_error("cannot build a %s event: out of memory", type);
		return EX_OSERR;
	}
	rc = sv_event_write(stdout, env, &e);
	json_decref(env);
	if (rc < 0) {
		if (e.ex == 0)
			return -1;
		sv_log_error("%s", e.msg);
		return e.ex;
	}
	return 0;
}

/*
 * The body of a delivery (twitch-protocols.md 2.5, 8.1, 8.2): the
 * challenge first for a verification, the subscription, and the event
 * for a notification. Returns a string to free, or NULL (out of memory).
 */
static char *
delivery_body(
    const struct opts *o, const char *type, json_t *ev, const char *challenge)
{
	const char *status = o->verify ?
	    "webhook_callback_verification_pending" :
	    o->revoke != NULL ? o->revoke :
	                        "enabled";
	char subid[SV_EVENT_ID_LEN], now[SV_EVENT_TIME_LEN];
	json_t *body, *sub;
	char *text = NULL;
	int rc = 0;

	sv_event_uuid4(subid);
	sv_event_time_now_ns(now);
	body = json_object();
	sub = sv_twitch_subscription_new(subid, status, type,
	    sv_types_find(type)->version, ev, o->webhook, now);
	if (body == NULL || sub == NULL) {
		json_decref(sub);
		goto out;
	}
	if (o->verify)
		rc |= json_object_set_new(
		    body, "challenge", json_string(challenge));
	rc |= json_object_set_new(body, "subscription", sub);
	/* A revocation carries no event (8.1). */
	if (!o->verify && o->revoke == NULL)
		rc |= json_object_set(body, "event", ev);
	if (rc == 0)
		text = json_dumps(body, JSON_COMPACT);
out:
	json_decref(body);
	return text;
}

/* Is the Content-Type of rs text/plain, with or without parameters? */
static bool
is_text_plain(const struct sv_http_resp *rs)
{
	char ct[128];
	size_t n;

	if (sv_http_resp_header(rs, "Content-Type", ct, sizeof(ct)) == NULL)
		return false;
	n = strcspn(ct, "; ");
	return n == 10 && strncasecmp(ct, "text/plain", 10) == 0;
}

/* The length of the first line of s, at most 200, for messages. */
static int
first_line(const char *s)
{
	size_t n = strcspn(s, "\r\n");

	return n < 200 ? (int)n : 200;
}

/* Check the answer to a delivery as Twitch would. 0 or an exit code. */
static int
check_answer(
    const struct opts *o, const struct sv_http_resp *rs, const char *challenge)
{
	const char *body = rs->body.data != NULL ? rs->body.data : "";
	int ex = sv_http_status_ex(rs->status);

	if (ex != 0) {
		sv_log_error("%s answered %ld: %.*s%s", o->webhook, rs->status,
		    first_line(body), body,
		    ex == EX_NOPERM ?
		        " (is the secret the one the receiver has?)" :
		        "");
		return ex;
	}
	if (!o->verify) {
		sv_log_info("%s answered %ld", o->webhook, rs->status);
		return 0;
	}
	/* The three checks of `twitch event verify-subscription` (8.2). */
	if (strcmp(body, challenge) != 0) {
		sv_log_error("%s answered the challenge '%s' with '%.200s'",
		    o->webhook, challenge, body);
		return EX_PROTOCOL;
	}
	if (!is_text_plain(rs)) {
		sv_log_error("%s answered the challenge, but not as text/plain",
		    o->webhook);
		return EX_PROTOCOL;
	}
	sv_log_info("%s answered the challenge correctly", o->webhook);
	return 0;
}

/*
 * POST one delivery for ev (borrowed) to --webhook. 429 and 503 are
 * retried with backoff, keeping the message id, as Twitch does. Returns
 * 0, -1 when stopped by a signal, or an exit code.
 */
static int
deliver(struct sender *sd, const struct opts *o, const char *type, json_t *ev)
{
	const char *msg_type = o->verify ? SV_TWITCH_MSG_VERIFICATION :
	    o->revoke != NULL            ? SV_TWITCH_MSG_REVOCATION :
	                                   SV_TWITCH_MSG_NOTIFICATION;
	char id[SV_EVENT_ID_LEN], ts[SV_EVENT_TIME_LEN];
	char challenge[SV_EVENT_ID_LEN];
	struct sv_twitch_request tr;
	struct sv_http_resp rs;
	struct sv_http_req rq;
	struct sv_err e;
	unsigned attempt;
	char *body;
	int ex = 0;

	sv_event_uuid4(id);
	sv_event_uuid4(challenge);
	sv_event_time_now_ns(ts);
	body = delivery_body(o, type, ev, challenge);
	if (body == NULL) {
		sv_log_error("cannot build a %s delivery: out of memory", type);
		return EX_OSERR;
	}
	sv_http_resp_init(&rs);
	for (attempt = 0;; attempt++) {
		if (sv_twitch_request_init(&tr, sd->secret, msg_type, id, ts,
		        attempt, type, sv_types_find(type)->version, body,
		        strlen(body), &e) < 0) {
			sv_log_error("%s", e.msg);
			ex = e.ex;
			break;
		}
		memset(&rq, 0, sizeof(rq));
		rq.method = "POST";
		rq.url = o->webhook;
		rq.headers = tr.headers;
		rq.body = body;
		rq.body_len = strlen(body);
		rq.timeout_ms = WEBHOOK_TIMEOUT_MS;
		if (sv_http_do(sd->http, &rq, &rs, &e) < 0) {
			sv_log_error("%s", e.msg);
			ex = e.ex;
			break;
		}
		if ((rs.status != 429 && rs.status != 503) ||
		    attempt + 1 >= WEBHOOK_ATTEMPTS) {
			ex = check_answer(o, &rs, challenge);
			sv_backoff_reset(&sd->backoff);
			break;
		}
		sv_log_info("%s answered %ld; retrying message %s", o->webhook,
		    rs.status, id);
		if (sv_cli_sleep_ms(sv_backoff_next_ms(&sd->backoff)) < 0) {
			ex = -1;
			break;
		}
	}
	sv_http_resp_fini(&rs);
	free(body);
	return ex;
}

/* The secret and the HTTP client for --webhook. 0 or an exit code. */
static int
sender_init(struct sender *sd, const struct opts *o)
{
	struct sv_err e;

	memset(sd, 0, sizeof(*sd));
	sv_backoff_init(&sd->backoff);
	sd->secret =
	    sv_cli_secret("TWITCH_EVENTSUB_SECRET", o->secret_file, &e);
	if (sd->secret == NULL && e.ex == 0)
		sv_err_set(&e, EX_CONFIG,
		    "no secret: set TWITCH_EVENTSUB_SECRET or --secret-file");
	if (sd->secret == NULL || sv_twitch_secret_check(sd->secret, &e) < 0) {
		sv_log_error("%s", e.msg);
		return e.ex;
	}
	sd->http = sv_http_new();
	if (sd->http == NULL) {
		sv_log_error("cannot start the HTTP client");
		return EX_OSERR;
	}
	return 0;
}

static void
sender_fini(struct sender *sd)
{
	sv_http_free(sd->http);
	sv_cli_secret_free(sd->secret);
}

/* The next type: --random picks, skipping non-EventSub types for -w. */
static const char *
next_type(struct sv_synth *r, const struct opts *o)
{
	const struct sv_type *t;
	const char *type;

	if (o->type != NULL)
		return o->type;
	do {
		type = sv_synth_random_type(r);
		t = sv_types_find(type);
	} while (o->webhook != NULL && (t == NULL || !t->eventsub));
	return type;
}

static int
run(const struct opts *o)
{
	struct sender sd = { 0 };
	struct sv_synth r;
	unsigned long i;
	const char *type;
	json_t *ev;
	int ex = 0;

	if (o->list)
		return list_types();
	if (o->webhook != NULL && (ex = sender_init(&sd, o)) != 0)
		goto out;
	sv_synth_init(&r, o->seed);
	for (i = 0; o->count == 0 || i < o->count; i++) {
		if (i > 0 && o->interval_ms > 0 &&
		    sv_cli_sleep_ms(o->interval_ms) < 0)
			break;
		if (sv_cli_stopping())
			break;
		type = next_type(&r, o);
		ev = sv_synth_event(&r, type, &o->so);
		if (ev == NULL) {
			sv_log_error(
			    "cannot build a %s event: out of memory", type);
			ex = EX_OSERR;
			break;
		}
		ex = o->webhook != NULL ? deliver(&sd, o, type, ev) :
		                          print_event(type, ev);
		json_decref(ev);
		if (ex != 0) {
			if (ex < 0) /* the reader went away, or stopped */
				ex = 0;
			break;
		}
		sv_log_debug("sent %s", type);
	}
out:
	sender_fini(&sd);
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
