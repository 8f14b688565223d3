/*
 * twitch-irc-hosts: Twitch chat (IRC over WebSocket) to events: raids
 * and hosts by default, subs, gifts and cheers on request. Reads a live
 * connection, or a recorded log with --replay.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "cli.h"
#include "err.h"
#include "event.h"
#include "irc.h"
#include "ircev.h"
#include "log.h"

struct opts {
	const char *url;
	const char *nick;
	const char *replay;
	unsigned events;
	bool raw;
	bool irc;
	unsigned long count; /* 0: unlimited */
	char **channels; /* lowercase, without '#' */
	size_t nchannels;
};

/* What the line handler keeps between lines. */
struct state {
	const struct opts *o;
	struct sv_irc_msg msg;
	struct sv_ircev map;
	json_t *out; /* scratch array of envelopes */
	unsigned long printed;
	unsigned long malformed;
};

enum { LINE_OK, LINE_DONE, LINE_FATAL };

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: twitch-irc-hosts [-hqVv] [-c N] [-e LIST] [--irc] [--nick LOGIN] [--raw]\n"
	    "                        [--replay FILE] [--url URL] CHANNEL...\n"
	    "\n"
	    "Read Twitch chat and print raids and hosts (and with -e all: subs, gifts,\n"
	    "cheers) as NDJSON events.\n"
	    "\n"
	    "  -c, --count N            exit after N events (or messages with --irc)\n"
	    "  -e, --events LIST        host,raid (default), sub, resub, gift, cheer, or all\n"
	    "      --irc                print every IRC message as JSON instead of events\n"
	    "      --nick LOGIN         login for an authenticated connection\n"
	    "      --raw                add the original IRC line to each event\n"
	    "      --replay FILE        read IRC lines from FILE ('-': stdin), not Twitch\n"
	    "      --url URL            chat server (default $TWITCH_IRC_URL or\n"
	    "                           wss://irc-ws.chat.twitch.tv:443)\n" SV_CLI_COMMON_HELP
	    "\n"
	    "Exit status: 0 done, 64 usage, 66 replay file missing, 69 unreachable,\n"
	    "75 connection lost, 76 protocol error, 77 login refused. See twitch-irc-hosts(1).\n");
}

enum {
	OPT_IRC = 0x100,
	OPT_NICK,
	OPT_RAW,
	OPT_REPLAY,
	OPT_URL,
};

static const struct option longopts[] = {
	{ "count", required_argument, NULL, 'c' },
	{ "events", required_argument, NULL, 'e' },
	SV_CLI_LONGOPT_HELP,
	{ "irc", no_argument, NULL, OPT_IRC },
	SV_CLI_LONGOPT_LOG_FORMAT,
	{ "nick", required_argument, NULL, OPT_NICK },
	SV_CLI_LONGOPT_QUIET,
	{ "raw", no_argument, NULL, OPT_RAW },
	{ "replay", required_argument, NULL, OPT_REPLAY },
	{ "url", required_argument, NULL, OPT_URL },
	SV_CLI_LONGOPT_VERBOSE,
	SV_CLI_LONGOPT_VERSION,
	{ NULL, 0, NULL, 0 },
};

/* A channel name: '#' optional, 1-25 of [a-z0-9_] after lowercasing. */
static char *
channel_arg(const char *arg)
{
	char *c;
	size_t i, n;

	if (*arg == '#')
		arg++;
	n = strlen(arg);
	if (n == 0 || n > 25)
		return NULL;
	c = strdup(arg);
	if (c == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		c[i] = (char)(c[i] >= 'A' && c[i] <= 'Z' ? c[i] + 32 : c[i]);
		if (!((c[i] >= 'a' && c[i] <= 'z') ||
		        (c[i] >= '0' && c[i] <= '9') || c[i] == '_')) {
			free(c);
			return NULL;
		}
	}
	return c;
}

static void
opts_parse(struct opts *o, int argc, char **argv)
{
	const char *bad;
	size_t badlen, i;
	int c, ex;

	memset(o, 0, sizeof(*o));
	o->events = SV_IRCEV_DEFAULT;
	while (
	    (c = getopt_long(argc, argv, "c:e:hqVv", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (sv_cli_ulong(optarg, 1, ULONG_MAX, &o->count) < 0)
				exit(sv_cli_usage_error(
				    "--count: expected a positive number, got '%s'",
				    optarg));
			break;
		case 'e':
			if (sv_ircev_parse_events(
			        optarg, &o->events, &bad, &badlen) < 0)
				exit(sv_cli_usage_error(
				    "--events: unknown event '%.*s' (host, raid, sub, resub, gift, cheer, all)",
				    (int)badlen, bad));
			break;
		case OPT_IRC:
			o->irc = true;
			break;
		case OPT_NICK:
			o->nick = optarg;
			break;
		case OPT_RAW:
			o->raw = true;
			break;
		case OPT_REPLAY:
			o->replay = optarg;
			break;
		case OPT_URL:
			o->url = optarg;
			break;
		default:
			switch (sv_cli_common(c, optarg, usage, &ex)) {
			case SV_CLI_OK:
				break;
			case SV_CLI_EXIT:
				exit(ex);
			case SV_CLI_UNKNOWN:
				fprintf(stderr, "Try '%s --help'.\n",
				    sv_cli_prog());
				exit(EX_USAGE);
			}
		}
	}
	if (optind >= argc && o->replay == NULL)
		exit(sv_cli_usage_error("missing CHANNEL"));
	o->nchannels = (size_t)(argc - optind);
	o->channels = calloc(o->nchannels + 1, sizeof(*o->channels));
	if (o->channels == NULL)
		exit(EX_OSERR);
	for (i = 0; i < o->nchannels; i++) {
		o->channels[i] = channel_arg(argv[optind + (int)i]);
		if (o->channels[i] == NULL)
			exit(sv_cli_usage_error("'%s' is not a channel name",
			    argv[optind + (int)i]));
	}
	if (o->replay != NULL && (o->url != NULL || o->nick != NULL))
		exit(sv_cli_usage_error("--replay excludes --url and --nick"));
}

static void
opts_fini(struct opts *o)
{
	size_t i;

	for (i = 0; i < o->nchannels; i++)
		free(o->channels[i]);
	free(o->channels);
}

/* Is the message about one of our channels (all, without channels)? */
static bool
wanted(const struct opts *o, const struct sv_irc_msg *m)
{
	const char *ch = sv_irc_param(m, 0);
	size_t i;

	if (o->nchannels == 0 || ch == NULL)
		return true;
	if (*ch == '#')
		ch++;
	for (i = 0; i < o->nchannels; i++)
		if (strcmp(o->channels[i], ch) == 0)
			return true;
	return false;
}

/* Print one record; LINE_DONE at -c N or when the reader has gone. */
static int
print(struct state *st, const json_t *rec, int *ex)
{
	struct sv_err e;

	if (sv_event_write(stdout, rec, &e) < 0) {
		if (e.ex != 0)
			sv_log_error("%s", e.msg);
		*ex = e.ex;
		return e.ex != 0 ? LINE_FATAL : LINE_DONE;
	}
	st->printed++;
	if (st->o->count != 0 && st->printed >= st->o->count)
		return LINE_DONE;
	return LINE_OK;
}

/*
 * Handle one IRC line from the server or the log. Malformed lines are
 * counted and skipped with a warning. Returns LINE_*.
 */
static int
handle_line(struct state *st, const char *line, size_t len,
    unsigned long lineno, int *ex)
{
	struct sv_err e;
	json_t *rec;
	size_t i;
	int n, rc = LINE_OK;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if (len == 0)
		return LINE_OK;
	if (sv_irc_parse(&st->msg, line, len, &e) < 0) {
		if (e.ex == EX_OSERR) {
			*ex = EX_OSERR;
			return LINE_FATAL;
		}
		st->malformed++;
		sv_log_warn("line %lu: %s; skipped", lineno, e.msg);
		return LINE_OK;
	}
	if (!wanted(st->o, &st->msg))
		return LINE_OK;
	if (st->o->irc) {
		rec = sv_irc_msg_json(&st->msg);
		if (rec == NULL) {
			*ex = EX_OSERR;
			return LINE_FATAL;
		}
		rc = print(st, rec, ex);
		json_decref(rec);
		return rc;
	}
	json_array_clear(st->out);
	n = sv_ircev_map(&st->map, &st->msg, line, len, st->out);
	if (n < 0) {
		*ex = EX_OSERR;
		return LINE_FATAL;
	}
	for (i = 0; i < (size_t)n && rc == LINE_OK; i++)
		rc = print(st, json_array_get(st->out, i), ex);
	return rc;
}

static int
run_replay(struct state *st)
{
	struct sv_lines r;
	enum sv_lines_res res;
	const char *line;
	size_t len;
	int fd, ex = 0, rc = LINE_OK;

	if (strcmp(st->o->replay, "-") == 0) {
		fd = STDIN_FILENO;
	} else {
		fd = open(st->o->replay, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			sv_log_error("%s: %s", st->o->replay, strerror(errno));
			return EX_NOINPUT;
		}
	}
	if (sv_lines_init(&r, fd, SV_IRC_MAX_LINE) < 0) {
		if (fd != STDIN_FILENO)
			close(fd);
		return EX_OSERR;
	}
	while (rc == LINE_OK && !sv_cli_stopping()) {
		res = sv_lines_get(&r, &line, &len);
		if (res == SV_LINES_EOF)
			break;
		if (res == SV_LINES_AGAIN)
			continue;
		if (res == SV_LINES_ERROR) {
			sv_log_error(
			    "%s: %s", st->o->replay, strerror(r.read_errno));
			ex = EX_IOERR;
			break;
		}
		if (res == SV_LINES_TOOLONG) {
			st->malformed++;
			sv_log_warn("line %lu: longer than %d bytes; skipped",
			    r.lineno, SV_IRC_MAX_LINE);
			continue;
		}
		rc = handle_line(st, line, len, r.lineno, &ex);
	}
	if (st->malformed > 0)
		sv_log_info("%lu malformed lines skipped", st->malformed);
	sv_lines_fini(&r);
	if (fd != STDIN_FILENO)
		close(fd);
	return ex;
}

static int
run(const struct opts *o)
{
	struct state st;
	int ex;

	memset(&st, 0, sizeof(st));
	st.o = o;
	sv_irc_msg_init(&st.msg);
	sv_ircev_init(&st.map, o->events, o->raw);
	st.out = json_array();
	if (st.out == NULL)
		return EX_OSERR;
	if (o->replay != NULL)
		ex = run_replay(&st);
	else
		ex = EX_SOFTWARE; /* live mode: see run_live */
	json_decref(st.out);
	sv_irc_msg_fini(&st.msg);
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
