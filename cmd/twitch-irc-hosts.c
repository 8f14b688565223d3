/*
 * twitch-irc-hosts: Twitch chat (IRC over WebSocket) to events: raids
 * and hosts by default, subs, gifts and cheers on request. Reads a live
 * connection, or a recorded log with --replay.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "backoff.h"
#include "buf.h"
#include "cli.h"
#include "dedupe.h"
#include "err.h"
#include "event.h"
#include "irc.h"
#include "ircev.h"
#include "log.h"
#include "net.h"
#include "token.h"
#include "ws.h"

#define DEFAULT_URL "wss://irc-ws.chat.twitch.tv:443"
#define CHANNELS_PER_CONN 100 /* Twitch's join limit per user (5.8) */
#define LOGIN_TIMEOUT_MS 15000
#define PONG_TIMEOUT_MS 10000
#define CLOSE_WAIT_MS 2000

struct opts {
	const char *url;
	const char *nick;
	const char *replay;
	unsigned events;
	bool raw;
	bool irc;
	bool no_retry;
	long ping_ms; /* our PING after this much silence */
	unsigned long count; /* 0: unlimited */
	char **channels; /* lowercase, without '#' */
	size_t nchannels;
};

/* What the line handler keeps between lines. */
struct live;
struct conn;

struct state {
	const struct opts *o;
	struct sv_irc_msg msg;
	struct sv_ircev map;
	json_t *out; /* scratch array of envelopes */
	struct sv_dedupe *seen; /* ids printed: RECONNECT overlaps */
	struct sv_event_out put; /* stdout, with seen and -c N */
	unsigned long malformed;
	struct live *lv; /* live mode: protocol handling */
	struct conn *cur; /* the connection the line came from */
	struct sv_ws *cur_ws;
};

enum { LINE_OK, LINE_DONE, LINE_FATAL };

/* Live mode: one or more connections, each carrying up to 100 channels. */
enum cstate { C_DOWN, C_LOGIN, C_UP };

struct conn {
	struct live *lv;
	int no; /* 1, 2, ... for logs */
	struct sv_ws *ws;
	struct sv_ws *old; /* still open after RECONNECT until ws is up */
	long long old_deadline;
	size_t first, n; /* channels[first .. first+n) */
	size_t joined; /* of those, JOINs sent on ws */
	enum cstate st;
	struct sv_backoff bo;
	long long retry_at; /* C_DOWN: when to connect */
	long long deadline; /* C_LOGIN: when to give up */
	long long last_rx;
	long long ping_at; /* when our PING went out; 0 none pending */
	const char *drop; /* set from a callback: take it down soon */
	bool drop_now; /* ... and reconnect without backoff */
};

struct live {
	struct state *st;
	const struct opts *o;
	const char *url;
	struct sv_token *tk; /* NULL: anonymous */
	char nick[64];
	bool auth_retried;
	struct conn *conns;
	size_t nconns;
	struct sv_ircev_joins joins; /* the user's JOIN budget (5.8) */
	int ex; /* >= 0: stop with this status */
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: twitch-irc-hosts [-hqVv] [-c N] [-e LIST] [--irc] [--nick LOGIN] [--no-retry]\n"
	    "                        [--ping-interval SECONDS] [--raw] [--replay FILE] [--url URL]\n"
	    "                        CHANNEL...\n"
	    "\n"
	    "Read Twitch chat and print raids and hosts (and with -e all: subs, gifts,\n"
	    "cheers) as NDJSON events.\n"
	    "\n"
	    "  -c, --count N            exit after N events (or messages with --irc)\n"
	    "  -e, --events LIST        host,raid (default), sub, resub, gift, cheer, or all\n"
	    "      --irc                print every IRC message as JSON instead of events\n"
	    "      --nick LOGIN         login for the token (default: the token's own)\n"
	    "      --no-retry           exit instead of reconnecting (69, 75)\n"
	    "      --ping-interval SECONDS\n"
	    "                           PING after this much silence (default 60)\n"
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
	OPT_NO_RETRY,
	OPT_PING,
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
	{ "no-retry", no_argument, NULL, OPT_NO_RETRY },
	{ "ping-interval", required_argument, NULL, OPT_PING },
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
	o->ping_ms = 60000;
	while (
	    (c = getopt_long(argc, argv, "c:e:hqVv", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if ((ex = sv_cli_count(optarg, &o->count)) != 0)
				exit(ex);
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
		case OPT_NO_RETRY:
			o->no_retry = true;
			break;
		case OPT_PING:
			if (sv_cli_seconds_ms(optarg, 3600000L, &o->ping_ms) <
			        0 ||
			    o->ping_ms < 100)
				exit(sv_cli_usage_error(
				    "--ping-interval: expected seconds (at least 0.1), got '%s'",
				    optarg));
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
			if (sv_cli_common_or_usage(c, optarg, usage, &ex) != 0)
				exit(ex);
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

	switch (sv_event_out_put(&st->put, rec, &e)) {
	case 0:
		return LINE_OK;
	case 1:
		*ex = 0;
		return LINE_DONE;
	default:
		sv_log_error("%s", e.msg);
		*ex = e.ex;
		return LINE_FATAL;
	}
}

static int live_protocol(struct state *st, int *ex);

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
		if (lineno > 0)
			sv_log_warn("line %lu: %s; skipped", lineno, e.msg);
		else
			sv_log_warn(
			    "malformed line from the server: %s; skipped",
			    e.msg);
		return LINE_OK;
	}
	if (st->lv != NULL && live_protocol(st, ex) != LINE_OK)
		return LINE_FATAL;
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

/* ---- live mode ---------------------------------------------------------- */

/* Send one IRC line on a session. 0, or -1 when the session is gone. */
static int
send_line(
    struct sv_ws *ws, const char *cmd, const char *const *params, size_t n)
{
	char line[1024];
	struct sv_err e;
	int len;

	len = sv_irc_format(line, sizeof(line), cmd, params, n);
	if (len < 0) {
		sv_log_error("cannot format %s", cmd);
		return -1;
	}
	if (strcmp(cmd, "PASS") == 0)
		sv_log_debug("> PASS oauth:***");
	else
		sv_log_debug("> %.*s", len - 2, line);
	if (sv_ws_send_text(ws, line, (size_t)len, &e) < 0) {
		sv_log_debug("send %s: %s", cmd, e.msg);
		return -1;
	}
	return 0;
}

static void
conn_down(struct conn *c, const char *why)
{
	struct live *lv = c->lv;
	long delay;

	if (c->ws != NULL) {
		sv_ws_free(c->ws);
		c->ws = NULL;
	}
	c->st = C_DOWN;
	c->ping_at = 0;
	c->joined = 0;
	if (lv->o->no_retry) {
		sv_log_error("connection %d: %s", c->no, why);
		if (lv->ex < 0)
			lv->ex = EX_TEMPFAIL;
		return;
	}
	delay = sv_backoff_next_ms(&c->bo);
	sv_log_warn("connection %d: %s; reconnecting in %.1f s", c->no, why,
	    (double)delay / 1000.0);
	c->retry_at = sv_net_now_ms() + delay;
}

/*
 * Take a connection down from inside a message callback, where the
 * session must not be freed (lib/ws): the main loop does it next.
 */
static void
conn_fail(struct conn *c, const char *why, bool now)
{
	if (c->drop == NULL) {
		c->drop = why;
		c->drop_now = now;
	}
}

static void
apply_drops(struct live *lv)
{
	size_t i;

	for (i = 0; i < lv->nconns; i++) {
		struct conn *c = &lv->conns[i];

		if (c->drop == NULL)
			continue;
		if (c->ws != NULL)
			conn_down(c, c->drop);
		if (c->drop_now)
			c->retry_at = 0;
		c->drop = NULL;
	}
}

/* The token for PASS, fetched (validated, refreshed) now. */
static const char *
current_token(struct live *lv, struct sv_err *e)
{
	const char *tok = NULL;

	if (lv->tk == NULL)
		return NULL;
	if (sv_token_get(lv->tk, SV_TOKEN_USER, &tok, e) < 0)
		return NULL;
	return tok;
}

static void on_ws_msg(
    void *arg, struct sv_ws *ws, int op, const char *data, size_t len);

static void
conn_open(struct conn *c)
{
	struct live *lv = c->lv;
	struct sv_ws_client_opts wo;
	const char *caps[] = { "REQ", "twitch.tv/tags twitch.tv/commands" };
	const char *tok = NULL, *p[1];
	char pass[4096];
	struct sv_err e;

	if (lv->tk != NULL) {
		tok = current_token(lv, &e);
		if (tok == NULL) {
			sv_log_error("%s", e.msg);
			lv->ex = e.ex;
			return;
		}
	}
	memset(&wo, 0, sizeof(wo));
	wo.url = lv->url;
	wo.on_msg = on_ws_msg;
	wo.arg = c;
	wo.max_msg = 1024 * 1024;
	sv_log_info("connection %d: connecting to %s", c->no, lv->url);
	c->ws = sv_ws_connect(&wo, &e);
	if (c->ws == NULL) {
		if (lv->o->no_retry || e.ex == EX_USAGE || e.ex == EX_NOINPUT) {
			sv_log_error("connection %d: %s", c->no, e.msg);
			lv->ex = e.ex;
			return;
		}
		conn_down(c, e.msg);
		return;
	}
	c->st = C_LOGIN;
	c->deadline = sv_net_now_ms() + LOGIN_TIMEOUT_MS;
	c->last_rx = sv_net_now_ms();
	c->ping_at = 0;
	c->joined = 0;
	/* twitch-protocols.md 5.2: CAP, then PASS only with a token, NICK */
	if (send_line(c->ws, "CAP", caps, 2) < 0)
		goto fail;
	if (tok != NULL) {
		(void)snprintf(pass, sizeof(pass), "oauth:%s", tok);
		p[0] = pass;
		if (send_line(c->ws, "PASS", p, 1) < 0) {
			explicit_bzero(pass, sizeof(pass));
			goto fail;
		}
		explicit_bzero(pass, sizeof(pass));
	}
	p[0] = lv->nick;
	if (send_line(c->ws, "NICK", p, 1) < 0)
		goto fail;
	return;
fail:
	conn_down(c, "connection lost during login");
}

static void
join_pending(struct live *lv, struct conn *c, long long now)
{
	char list[4096];
	const char *p[1];
	size_t k;

	if (c->st != C_UP || c->joined >= c->n)
		return;
	k = sv_ircev_join_list(&lv->joins, now,
	    lv->o->channels + c->first + c->joined, c->n - c->joined, list,
	    sizeof(list));
	if (k == 0)
		return;
	p[0] = list;
	if (send_line(c->ws, "JOIN", p, 1) < 0) {
		conn_fail(c, "connection lost while joining", false);
		return;
	}
	sv_log_info("connection %d: JOIN %s", c->no, list);
	sv_ircev_joins_spend(&lv->joins, k, now);
	c->joined += k;
	if (c->joined == c->n && c->old != NULL) {
		/* The replacement carries every channel: let the old one go
		 * (make before break, 5.4). */
		sv_ws_close(c->old, SV_WS_CLOSE_NORMAL, NULL);
		c->old_deadline = now + CLOSE_WAIT_MS;
	}
}

/* React to what the server says about the session itself. */
static int
live_protocol(struct state *st, int *ex)
{
	struct live *lv = st->lv;
	struct conn *c = st->cur;
	const struct sv_irc_msg *m = &st->msg;
	const char *p0 = sv_irc_param(m, 0);
	const char *text = sv_irc_param(m, m->nparams > 0 ? m->nparams - 1 : 0);
	enum sv_ircev_sess what = sv_ircev_session(m);
	const char *arg[1];
	struct sv_err e;

	if (what == SV_IRCEV_SESS_PING) {
		arg[0] = p0 != NULL ? p0 : "tmi.twitch.tv";
		(void)send_line(st->cur_ws, "PONG", arg, 1);
		return LINE_OK;
	}
	if (st->cur_ws != c->ws)
		return LINE_OK; /* the old session after RECONNECT: data only */
	switch (what) {
	case SV_IRCEV_SESS_PONG:
		c->ping_at = 0;
		break;
	case SV_IRCEV_SESS_WELCOME:
		if (c->st != C_LOGIN)
			break;
		c->st = C_UP;
		sv_backoff_reset(&c->bo);
		lv->auth_retried = false;
		sv_log_info("connection %d: logged in as %s", c->no, lv->nick);
		join_pending(lv, c, sv_net_now_ms());
		break;
	case SV_IRCEV_SESS_RECONNECT:
		sv_log_info("connection %d: server asks to reconnect", c->no);
		if (c->old != NULL)
			sv_ws_free(c->old);
		c->old = c->ws;
		c->old_deadline = sv_net_now_ms() + 30000;
		c->ws = NULL;
		c->st = C_DOWN;
		c->retry_at = 0;
		break;
	case SV_IRCEV_SESS_AUTH_FAILED:
		/* 5.2: the token is bad. A stored token may just have
		 * expired: refresh once, then give up. */
		if (lv->tk != NULL && !lv->auth_retried &&
		    !sv_token_from_env(lv->tk, SV_TOKEN_USER)) {
			const char *tok = current_token(lv, &e);

			lv->auth_retried = true;
			if (tok != NULL) {
				sv_token_reject(lv->tk, SV_TOKEN_USER, tok);
				sv_log_warn(
				    "connection %d: login refused; refreshing the token",
				    c->no);
				conn_fail(c, "login refused", true);
				return LINE_OK;
			}
		}
		sv_log_error("login as %s refused by the chat server: %s%s",
		    lv->nick, text,
		    lv->tk == NULL ?
		        "" :
		        " (run 'twitch-auth login' for a new token)");
		*ex = EX_NOPERM;
		lv->ex = EX_NOPERM;
		return LINE_FATAL;
	case SV_IRCEV_SESS_CHANNEL_GONE:
		sv_log_warn("%s: %s", p0 != NULL ? p0 : "?",
		    text != NULL ? text : sv_irc_tag(m, "msg-id"));
		break;
	case SV_IRCEV_SESS_PING:
	case SV_IRCEV_SESS_OTHER:
		break;
	}
	return LINE_OK;
}

static void
on_ws_msg(void *arg, struct sv_ws *ws, int op, const char *data, size_t len)
{
	struct conn *c = arg;
	struct live *lv = c->lv;
	struct state *st = lv->st;
	const char *p = data, *end = data + len, *nl;
	int ex = 0, rc;

	c->last_rx = sv_net_now_ms();
	if (op != SV_WS_TEXT || lv->ex >= 0)
		return;
	st->cur = c;
	st->cur_ws = ws;
	/* One frame may carry several CRLF-terminated lines (5.1). */
	while (p < end && lv->ex < 0) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		rc = handle_line(st, p, (size_t)(nl - p), 0, &ex);
		if (rc == LINE_FATAL)
			lv->ex = ex;
		else if (rc == LINE_DONE)
			lv->ex = ex; /* 0: -c N reached or stdout closed */
		p = nl + 1;
	}
}

/* Drive one session; returns false when it has ended: e says why when it
 * failed, and is clear (ex 0) when it closed cleanly. */
static bool
drive(struct sv_ws *ws, short revents, struct sv_err *e)
{
	sv_err_clear(e);
	return sv_ws_io(ws, revents, e) == 0;
}

static long
timers(struct live *lv, long long now)
{
	long long wake = now + 1000, next = 0;
	struct sv_err e;
	size_t i;

	apply_drops(lv);
	for (i = 0; i < lv->nconns; i++) {
		struct conn *c = &lv->conns[i];

		if (c->st == C_DOWN && lv->ex < 0) {
			if (now >= c->retry_at) {
				conn_open(c);
				now = sv_net_now_ms();
			} else if (c->retry_at < wake) {
				wake = c->retry_at;
			}
			continue;
		}
		if (c->st == C_LOGIN) {
			if (now >= c->deadline)
				conn_down(
				    c, "no welcome from the server in time");
			else if (c->deadline < wake)
				wake = c->deadline;
			continue;
		}
		if (c->st != C_UP)
			continue;
		if (c->joined < c->n) {
			join_pending(lv, c, now);
			if (c->joined < c->n &&
			    sv_ircev_joins_budget(&lv->joins, now, &next) ==
			        0 &&
			    next < wake)
				wake = next;
		}
		if (c->ping_at != 0 && now - c->ping_at >= PONG_TIMEOUT_MS) {
			conn_down(c, "no answer to PING");
			continue;
		}
		if (c->ping_at == 0 && now - c->last_rx >= lv->o->ping_ms) {
			const char *p[] = { "tmi.twitch.tv" };

			if (send_line(c->ws, "PING", p, 1) < 0) {
				conn_down(c, "connection lost");
				continue;
			}
			c->ping_at = now;
		}
		if (c->ping_at != 0 && c->ping_at + PONG_TIMEOUT_MS < wake)
			wake = c->ping_at + PONG_TIMEOUT_MS;
		else if (c->ping_at == 0 && c->last_rx + lv->o->ping_ms < wake)
			wake = c->last_rx + lv->o->ping_ms;
		if (c->old != NULL && now >= c->old_deadline) {
			sv_ws_free(c->old);
			c->old = NULL;
		}
	}
	/* Hourly validation (Twitch requires it); a token revoked meanwhile
	 * ends the run. */
	if (lv->tk != NULL &&
	    sv_token_tick(lv->tk, SV_TOKEN_USER, now, &wake, &e) < 0) {
		sv_log_error("%s", e.msg);
		if (e.ex == EX_NOPERM)
			lv->ex = e.ex;
	}
	return wake > now ? (long)(wake - now) : 0;
}

/* Close every session with 1000 and wait a little for the answers. */
static void
live_close(struct live *lv)
{
	long long end = sv_net_now_ms() + CLOSE_WAIT_MS;
	size_t i;
	int k;

	for (i = 0; i < lv->nconns; i++) {
		struct sv_ws *s[2] = { lv->conns[i].ws, lv->conns[i].old };

		/*
		 * Detach first: lines still arrive while closing, and a
		 * RECONNECT among them would otherwise free or move the
		 * sessions this loop is driving. Detached, every line is
		 * "the old session's": data only (live_protocol).
		 */
		lv->conns[i].ws = lv->conns[i].old = NULL;
		for (k = 0; k < 2; k++) {
			if (s[k] == NULL)
				continue;
			sv_ws_close_until(s[k], SV_WS_CLOSE_NORMAL, end);
			sv_ws_free(s[k]);
		}
	}
}

static int
live_setup(struct live *lv, struct state *st, const struct opts *o)
{
	const struct sv_token_rec *info;
	const char *env, *tok;
	struct sv_err e;
	unsigned short r = 0;
	size_t i;

	memset(lv, 0, sizeof(*lv));
	lv->st = st;
	lv->o = o;
	lv->ex = -1;
	sv_ircev_joins_init(&lv->joins, SV_IRCEV_JOIN_WINDOW_MS);
	env = getenv("SERVITOR_IRC_JOIN_WINDOW_MS"); /* tests */
	if (env != NULL && *env != '\0') {
		unsigned long w;

		if (sv_cli_ulong(env, 1, 3600000, &w) == 0)
			lv->joins.window_ms = (long)w;
	}
	env = getenv("TWITCH_IRC_URL");
	lv->url = o->url != NULL        ? o->url :
	    env != NULL && *env != '\0' ? env :
	                                  DEFAULT_URL;
	lv->tk = sv_token_new(&e);
	if (lv->tk == NULL) {
		sv_log_error("%s", e.msg);
		return e.ex;
	}
	if (!sv_token_available(lv->tk, SV_TOKEN_USER)) {
		sv_token_free(lv->tk);
		lv->tk = NULL;
		if (o->nick != NULL) {
			sv_log_error(
			    "--nick %s needs a user token (TWITCH_TOKEN or 'twitch-auth login')",
			    o->nick);
			return EX_CONFIG;
		}
		/* 5.2: read-only anonymous login. */
		(void)RAND_bytes((unsigned char *)&r, sizeof(r));
		(void)snprintf(lv->nick, sizeof(lv->nick), "justinfan%u",
		    10000u + r % 90000u);
		sv_log_info("anonymous login as %s", lv->nick);
	} else {
		tok = current_token(lv, &e);
		if (tok == NULL) {
			sv_log_error("%s", e.msg);
			return e.ex;
		}
		info = sv_token_info(lv->tk, SV_TOKEN_USER);
		if (o->nick != NULL)
			(void)snprintf(
			    lv->nick, sizeof(lv->nick), "%s", o->nick);
		else if (info != NULL && info->login != NULL)
			(void)snprintf(
			    lv->nick, sizeof(lv->nick), "%s", info->login);
		else {
			sv_log_error(
			    "the token's login is unknown: give --nick");
			return EX_CONFIG;
		}
	}
	lv->nconns = (o->nchannels + CHANNELS_PER_CONN - 1) / CHANNELS_PER_CONN;
	lv->conns = calloc(lv->nconns, sizeof(*lv->conns));
	if (lv->conns == NULL)
		return EX_OSERR;
	for (i = 0; i < lv->nconns; i++) {
		struct conn *c = &lv->conns[i];

		c->lv = lv;
		c->no = (int)i + 1;
		c->first = i * CHANNELS_PER_CONN;
		c->n = o->nchannels - c->first < CHANNELS_PER_CONN ?
		    o->nchannels - c->first :
		    CHANNELS_PER_CONN;
		c->st = C_DOWN;
		sv_backoff_init(&c->bo);
	}
	return -1;
}

static int
run_live(struct state *st)
{
	struct pollfd *pfd = NULL;
	struct sv_ws **who = NULL;
	struct live lv;
	struct sv_err e;
	size_t i, n;
	long timeout;
	int ex;

	ex = live_setup(&lv, st, st->o);
	if (ex >= 0)
		goto out;
	st->lv = &lv;
	pfd = calloc(2 * lv.nconns, sizeof(*pfd));
	who = calloc(2 * lv.nconns, sizeof(*who));
	if (pfd == NULL || who == NULL) {
		ex = EX_OSERR;
		goto out;
	}
	while (lv.ex < 0 && !sv_cli_stopping()) {
		timeout = timers(&lv, sv_net_now_ms());
		if (lv.ex >= 0)
			break;
		n = 0;
		for (i = 0; i < lv.nconns; i++) {
			struct sv_ws *s[2] = { lv.conns[i].ws,
				lv.conns[i].old };
			int k;

			for (k = 0; k < 2; k++)
				if (s[k] != NULL)
					who[n++] = s[k];
		}
		if (sv_ws_poll(who, n, pfd,
		        (int)(timeout > 1000 ? 1000 : timeout)) < 0 &&
		    errno != EINTR) {
			sv_log_error("poll: %s", strerror(errno));
			lv.ex = EX_OSERR;
			break;
		}
		for (i = 0; i < n && lv.ex < 0; i++) {
			struct conn *c = NULL;
			size_t j;

			for (j = 0; j < lv.nconns; j++)
				if (lv.conns[j].ws == who[i] ||
				    lv.conns[j].old == who[i])
					c = &lv.conns[j];
			if (c == NULL)
				continue; /* freed by a callback meanwhile */
			if (drive(who[i], pfd[i].revents, &e))
				continue;
			if (who[i] == c->old) {
				sv_ws_free(c->old);
				c->old = NULL;
			} else if (sv_ws_state(who[i]) == SV_WS_CLOSED &&
			    lv.ex < 0) {
				char why[300];

				(void)snprintf(why, sizeof(why),
				    "server closed the connection (%u%s%s)",
				    sv_ws_close_code(who[i]),
				    *sv_ws_close_reason(who[i]) ? ": " : "",
				    sv_ws_close_reason(who[i]));
				conn_down(c, e.ex != 0 ? e.msg : why);
			}
		}
		apply_drops(&lv);
	}
	ex = lv.ex >= 0 ? lv.ex : 0;
	live_close(&lv);
out:
	free(pfd);
	free(who);
	free(lv.conns);
	sv_token_free(lv.tk);
	st->lv = NULL;
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
	st.seen = sv_dedupe_new(4096);
	if (st.out == NULL || st.seen == NULL) {
		json_decref(st.out);
		sv_dedupe_free(st.seen);
		return EX_OSERR;
	}
	st.put.f = stdout;
	/* --irc prints every message, ids or not */
	st.put.seen = o->irc ? NULL : st.seen;
	st.put.count = o->count;
	if (o->replay != NULL)
		ex = run_replay(&st);
	else
		ex = run_live(&st);
	sv_dedupe_free(st.seen);
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
