/*
 * twitch-trigger: print synthetic Twitch events, one envelope per line,
 * in exactly the shape the real listeners emit (source "trigger"). For
 * tests, demos and overlay design without a Twitch account.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "err.h"
#include "event.h"
#include "log.h"
#include "synth.h"
#include "types.h"

struct opts {
	const char *type; /* NULL with --random */
	bool random;
	bool list;
	unsigned long count; /* 0: until stopped (only with --interval) */
	long interval_ms;
	uint64_t seed;
	struct sv_synth_opts so;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: twitch-trigger [-hqVv] [-a N] [-b LOGIN] [-c N] [-i SECONDS] [-m TEXT]\n"
	    "                      [-t TIER] [-u LOGIN] [--anonymous] [--reward TITLE]\n"
	    "                      [--seed N] [--viewers N] TYPE\n"
	    "       twitch-trigger --random [options]\n"
	    "       twitch-trigger --list\n"
	    "\n"
	    "Print synthetic Twitch events as NDJSON envelopes (source \"trigger\").\n"
	    "TYPE is an EventSub type (channel.follow) or a Twitch CLI name (follow).\n"
	    "\n"
	    "  -a, --amount N           bits, gift count, resub months or reward cost\n"
	    "      --anonymous          anonymous gift or cheer\n"
	    "  -b, --broadcaster LOGIN  the channel (default glowcaster)\n"
	    "  -c, --count N            print N events (default 1; unlimited with -i)\n"
	    "  -i, --interval SECONDS   wait between events (fractions allowed)\n"
	    "      --list               list the types and exit\n"
	    "  -m, --message TEXT       chat message, resub message or reward input\n"
	    "  -r, --random             random types and values\n"
	    "      --reward TITLE       channel points reward title\n"
	    "      --seed N             repeatable random values\n"
	    "  -t, --tier TIER          1000, 2000 or 3000\n"
	    "  -u, --user LOGIN         the acting user (follower, raider, ...)\n"
	    "      --viewers N          raid or host viewers\n" SV_CLI_COMMON_HELP
	    "\n"
	    "Exit status: 0 done, 64 usage, 74 stdout error. See twitch-trigger(1).\n");
}

enum {
	OPT_ANONYMOUS = 0x100,
	OPT_LIST,
	OPT_REWARD,
	OPT_SEED,
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
	{ "reward", required_argument, NULL, OPT_REWARD },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "tier", required_argument, NULL, 't' },
	{ "user", required_argument, NULL, 'u' },
	SV_CLI_LONGOPT_VERBOSE,
	SV_CLI_LONGOPT_VERSION,
	{ "viewers", required_argument, NULL, OPT_VIEWERS },
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
		o->type = t->type;
	}
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

	while ((c = getopt_long(
	            argc, argv, "a:b:c:hi:m:qrt:u:Vv", longopts, NULL)) != -1) {
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
			if (sv_cli_ulong(optarg, 1, ULONG_MAX, &o->count) < 0)
				exit(sv_cli_usage_error(
				    "--count: expected a positive number, got '%s'",
				    optarg));
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
		case OPT_REWARD:
			o->so.reward = optarg;
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
		case OPT_VIEWERS:
			if (sv_cli_ulong(optarg, 0, 10000000, &n) < 0)
				exit(sv_cli_usage_error(
				    "--viewers: expected a number, got '%s'",
				    optarg));
			o->so.viewers = (long)n;
			break;
		default:
			switch (sv_cli_common(c, optarg, usage, &ex)) {
			case SV_CLI_OK:
				break;
			case SV_CLI_EXIT:
				exit(ex);
			case SV_CLI_UNKNOWN:
				/* getopt_long already said what is wrong */
				fprintf(stderr, "Try '%s --help'.\n",
				    sv_cli_prog());
				exit(EX_USAGE);
			}
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

/* Build one envelope; NULL when out of memory. */
static json_t *
make_event(struct sv_synth *r, const char *type, const struct opts *o)
{
	const struct sv_type *t = sv_types_find(type);
	char id[SV_EVENT_ID_LEN];
	json_t *ev;

	ev = sv_synth_event(r, type, &o->so);
	if (ev == NULL)
		return NULL;
	sv_event_uuid4(id);
	return sv_event_new(
	    id, type, t != NULL ? t->version : "1", "trigger", NULL, ev);
}

static int
run(const struct opts *o)
{
	struct sv_synth r;
	struct sv_err e;
	unsigned long i;
	const char *type;
	json_t *env;
	int rc;

	if (o->list)
		return list_types();
	sv_synth_init(&r, o->seed);
	for (i = 0; o->count == 0 || i < o->count; i++) {
		if (i > 0 && o->interval_ms > 0 &&
		    sv_cli_sleep_ms(o->interval_ms) < 0)
			break;
		if (sv_cli_stopping())
			break;
		type = o->type != NULL ? o->type : sv_synth_random_type(&r);
		env = make_event(&r, type, o);
		if (env == NULL) {
			sv_log_error(
			    "cannot build a %s event: out of memory", type);
			return EX_OSERR;
		}
		rc = sv_event_write(stdout, env, &e);
		json_decref(env);
		if (rc < 0) {
			if (e.ex != 0)
				sv_log_error("%s", e.msg);
			return e.ex;
		}
		sv_log_debug("sent %s", type);
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct opts o;

	sv_cli_init(argv[0]);
	opts_parse(&o, argc, argv);
	return sv_cli_finish(run(&o));
}
