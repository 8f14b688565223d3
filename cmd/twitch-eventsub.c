/*
 * twitch-eventsub: list, create and delete EventSub subscriptions through
 * Helix (twitch-protocols.md 1.11, 2.2, 7.3), JSON on stdout: one
 * subscription per line. It fills in the condition each type needs
 * (lib/types) from a broadcaster login, and picks the token the transport
 * needs: an app token for webhook and conduit, a user token for
 * websocket.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "err.h"
#include "event.h"
#include "helix.h"
#include "log.h"
#include "token.h"
#include "types.h"

#define MAX_CONDITIONS 16

enum cmd {
	CMD_NONE,
	CMD_LIST,
	CMD_CREATE,
	CMD_DELETE,
};

struct opts {
	enum cmd cmd;
	const char *auth; /* "app", "user" or NULL */
	const char *type; /* canonical when known */
	const struct sv_type *t;
	const char *version;
	const char *broadcaster;
	const char *transport;
	const char *callback;
	const char *session;
	const char *conduit;
	const char *secret_file;
	const char *status;
	const char *cond[MAX_CONDITIONS]; /* "key=value" */
	size_t ncond;
	bool all;
	char **ids;
	int nids;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: twitch-eventsub [-hqVv] [--log-format FMT] COMMAND [options]\n"
	    "       twitch-eventsub list [--auth app|user] [-b LOGIN|ID] [--status S] [-t TYPE]\n"
	    "       twitch-eventsub create -t TYPE [--version V] -b LOGIN|ID\n"
	    "                       [--transport webhook --callback URL [--secret-file F] |\n"
	    "                        --transport websocket --session ID |\n"
	    "                        --transport conduit --conduit ID] [--condition K=V]...\n"
	    "       twitch-eventsub delete [--auth app|user] ID... | --all [filters]\n"
	    "\n"
	    "Manage EventSub subscriptions through Helix; JSON on stdout, one\n"
	    "subscription per line.\n"
	    "\n"
	    "      --all                delete: every subscription listed (filters apply)\n"
	    "      --auth app|user      list, delete: whose subscriptions (default app\n"
	    "                           when an app token can be had, else user)\n"
	    "  -b, --broadcaster WHO    the channel, by login or user id\n"
	    "      --callback URL       webhook: the HTTPS callback\n"
	    "      --condition K=V      set a condition field, K= removes it (repeatable)\n"
	    "      --conduit ID         conduit: the conduit id\n"
	    "      --secret-file F      webhook: the secret (else TWITCH_EVENTSUB_SECRET)\n"
	    "      --session ID         websocket: the session id from session_welcome\n"
	    "      --status S           list: only subscriptions with this status\n"
	    "  -t, --type TYPE          subscription type (channel.follow or follow)\n"
	    "      --transport T        webhook, websocket or conduit\n"
	    "      --type-version V     subscription version (default: the current one);\n"
	    "                           after create, --version V says the same\n" SV_CLI_COMMON_HELP
	    "\n"
	    "Exit status: 0 done, 64 usage, 65 refused by Helix (unknown user or id,\n"
	    "bad condition, duplicate), 69 unreachable, 75 rate limited, 77 token\n"
	    "refused, 78 configuration. See twitch-eventsub(1).\n");
}

enum {
	OPT_ALL = 0x100,
	OPT_AUTH,
	OPT_CALLBACK,
	OPT_CONDITION,
	OPT_CONDUIT,
	OPT_SECRET_FILE,
	OPT_SESSION,
	OPT_STATUS,
	OPT_TRANSPORT,
	OPT_TYPE_VERSION,
};

static const struct option longopts[] = {
	{ "all", no_argument, NULL, OPT_ALL },
	{ "auth", required_argument, NULL, OPT_AUTH },
	{ "broadcaster", required_argument, NULL, 'b' },
	{ "callback", required_argument, NULL, OPT_CALLBACK },
	{ "condition", required_argument, NULL, OPT_CONDITION },
	{ "conduit", required_argument, NULL, OPT_CONDUIT },
	SV_CLI_LONGOPT_HELP,
	SV_CLI_LONGOPT_LOG_FORMAT,
	SV_CLI_LONGOPT_QUIET,
	{ "secret-file", required_argument, NULL, OPT_SECRET_FILE },
	{ "session", required_argument, NULL, OPT_SESSION },
	{ "status", required_argument, NULL, OPT_STATUS },
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
	{ "type", required_argument, NULL, 't' },
	{ "type-version", required_argument, NULL, OPT_TYPE_VERSION },
	SV_CLI_LONGOPT_VERBOSE,
	SV_CLI_LONGOPT_VERSION,
	{ NULL, 0, NULL, 0 },
};

/*
 * After "create", --version V is the subscription version, as the issue
 * and Twitch's own CLI spell it; everywhere else it prints our version.
 * create_longopts is longopts with that one entry changed.
 */
#define NLONGOPTS (sizeof(longopts) / sizeof(longopts[0]))
static struct option create_longopts[NLONGOPTS];

/*
 * The first operand (the command), found by a dry getopt pass over a
 * copy of argv, so that options may come before or after it.
 */
static const char *
find_command(int argc, char **argv)
{
	char **copy;
	const char *cmd = NULL;
	int saved = opterr;

	if ((copy = calloc((size_t)argc + 1, sizeof(*copy))) == NULL)
		return NULL;
	memcpy(copy, argv, (size_t)argc * sizeof(*copy));
	opterr = 0;
	optind = 0;
	while (getopt_long(argc, copy, "b:hqt:Vv", longopts, NULL) != -1)
		continue;
	if (optind < argc)
		cmd = copy[optind];
	opterr = saved;
	optind = 0;
	free(copy);
	return cmd;
}

static void
check_create(struct opts *o)
{
	size_t i;

	if (o->type == NULL)
		exit(sv_cli_usage_error("create: --type is required"));
	if (o->t != NULL && !o->t->eventsub)
		exit(sv_cli_usage_error(
		    "create: %s is not an EventSub type (twitch-irc-hosts makes it)",
		    o->type));
	if (o->broadcaster == NULL && o->ncond == 0)
		exit(sv_cli_usage_error(
		    "create: --broadcaster is required (or give the whole condition with --condition)"));
	if (o->transport == NULL)
		o->transport = o->callback != NULL ? "webhook" :
		    o->session != NULL             ? "websocket" :
		    o->conduit != NULL             ? "conduit" :
		                                     NULL;
	if (o->transport == NULL)
		exit(sv_cli_usage_error(
		    "create: --transport webhook --callback URL, --transport websocket --session ID or --transport conduit --conduit ID"));
	if (strcmp(o->transport, "webhook") == 0) {
		if (o->callback == NULL || o->session != NULL ||
		    o->conduit != NULL)
			exit(sv_cli_usage_error(
			    "create: the webhook transport takes --callback URL (and no --session or --conduit)"));
	} else if (strcmp(o->transport, "websocket") == 0) {
		if (o->session == NULL || o->callback != NULL ||
		    o->conduit != NULL || o->secret_file != NULL)
			exit(sv_cli_usage_error(
			    "create: the websocket transport takes --session ID (and no --callback, --conduit or --secret-file)"));
	} else if (strcmp(o->transport, "conduit") == 0) {
		if (o->conduit == NULL || o->callback != NULL ||
		    o->session != NULL || o->secret_file != NULL)
			exit(sv_cli_usage_error(
			    "create: the conduit transport takes --conduit ID (and no --callback, --session or --secret-file)"));
	} else {
		exit(sv_cli_usage_error(
		    "--transport: expected webhook, websocket or conduit, got '%s'",
		    o->transport));
	}
	if (o->auth != NULL)
		exit(sv_cli_usage_error(
		    "create: the transport decides the token (webhook and conduit: app, websocket: user); drop --auth"));
	if (o->status != NULL || o->all)
		exit(sv_cli_usage_error(
		    "create: --status and --all go with list and delete"));
	for (i = 0; i < o->ncond; i++) {
		const char *eq = strchr(o->cond[i], '=');

		if (eq == NULL || eq == o->cond[i])
			exit(sv_cli_usage_error(
			    "--condition: expected KEY=VALUE (or KEY= to remove), got '%s'",
			    o->cond[i]));
	}
}

static void
opts_check(struct opts *o, int argc, char **argv)
{
	const char *c;

	if (optind >= argc)
		exit(sv_cli_usage_error(
		    "missing COMMAND: list, create or delete"));
	c = argv[optind++];
	if (strcmp(c, "list") == 0)
		o->cmd = CMD_LIST;
	else if (strcmp(c, "create") == 0)
		o->cmd = CMD_CREATE;
	else if (strcmp(c, "delete") == 0)
		o->cmd = CMD_DELETE;
	else
		exit(sv_cli_usage_error("unknown command '%s'", c));
	o->ids = argv + optind;
	o->nids = argc - optind;
	if (o->type != NULL && (o->t = sv_types_find(o->type)) != NULL) {
		o->type = o->t->type; /* a Twitch CLI alias: the real name */
		if (o->version == NULL)
			o->version = o->t->version;
	}
	if (o->version == NULL)
		o->version = "1";
	if (o->auth != NULL && strcmp(o->auth, "app") != 0 &&
	    strcmp(o->auth, "user") != 0)
		exit(sv_cli_usage_error(
		    "--auth: expected app or user, got '%s'", o->auth));
	if (o->cmd == CMD_CREATE) {
		if (o->nids > 0)
			exit(sv_cli_usage_error(
			    "create: unexpected argument '%s'", o->ids[0]));
		check_create(o);
		return;
	}
	if (o->transport != NULL || o->callback != NULL || o->session != NULL ||
	    o->conduit != NULL || o->secret_file != NULL || o->ncond > 0)
		exit(sv_cli_usage_error(
		    "--transport, --callback, --session, --conduit, --secret-file and --condition go with create"));
	if (o->cmd == CMD_LIST) {
		if (o->nids > 0 || o->all)
			exit(sv_cli_usage_error("list: unexpected %s",
			    o->all ? "--all" : o->ids[0]));
		return;
	}
	if (o->all == (o->nids > 0))
		exit(sv_cli_usage_error(
		    "delete: give subscription ids or --all, not both or neither"));
	if (!o->all &&
	    (o->status != NULL || o->type != NULL || o->broadcaster != NULL))
		exit(sv_cli_usage_error(
		    "delete: --status, --type and --broadcaster filter --all"));
}

static void
opts_parse(struct opts *o, int argc, char **argv)
{
	bool version_given = false;
	int c, ex;

	const struct option *table = longopts;
	const char *cmd;
	size_t i;

	memset(o, 0, sizeof(*o));
	cmd = find_command(argc, argv);
	if (cmd != NULL && strcmp(cmd, "create") == 0) {
		memcpy(create_longopts, longopts, sizeof(longopts));
		for (i = 0; create_longopts[i].name != NULL; i++)
			if (strcmp(create_longopts[i].name, "version") == 0) {
				create_longopts[i].has_arg = required_argument;
				create_longopts[i].val = OPT_TYPE_VERSION;
			}
		table = create_longopts;
	}
	while ((c = getopt_long(argc, argv, "b:hqt:Vv", table, NULL)) != -1) {
		switch (c) {
		case OPT_ALL:
			o->all = true;
			break;
		case OPT_AUTH:
			o->auth = optarg;
			break;
		case 'b':
			o->broadcaster = optarg;
			break;
		case OPT_CALLBACK:
			o->callback = optarg;
			break;
		case OPT_CONDITION:
			if (o->ncond == MAX_CONDITIONS)
				exit(sv_cli_usage_error(
				    "--condition: at most %d", MAX_CONDITIONS));
			o->cond[o->ncond++] = optarg;
			break;
		case OPT_CONDUIT:
			o->conduit = optarg;
			break;
		case OPT_SECRET_FILE:
			o->secret_file = optarg;
			break;
		case OPT_SESSION:
			o->session = optarg;
			break;
		case OPT_STATUS:
			o->status = optarg;
			break;
		case 't':
			o->type = optarg;
			break;
		case OPT_TRANSPORT:
			o->transport = optarg;
			break;
		case OPT_TYPE_VERSION:
			o->version = optarg;
			version_given = true;
			break;
		default:
			if (sv_cli_common_or_usage(c, optarg, usage, &ex) != 0)
				exit(ex);
		}
	}
	if (version_given &&
	    (optind >= argc || strcmp(argv[optind], "create") != 0))
		exit(sv_cli_usage_error("--type-version goes with create"));
	opts_check(o, argc, argv);
}

static int
fail(const struct sv_err *e)
{
	sv_log_error("%s", e->msg);
	return e->ex != 0 ? e->ex : EX_SOFTWARE;
}

/* Print one subscription; stop quietly when stdout is gone. */
static int
print_item(void *arg, json_t *item, struct sv_err *e)
{
	(void)arg;
	if (sv_event_write(stdout, item, e) < 0)
		return e->ex != 0 ? -1 : 1;
	return 0;
}

/* A user id for a login or id, looked up unless it is all digits. */
static int
user_id(
    struct sv_helix *hx, const char *who, char *out, size_t n, struct sv_err *e)
{
	struct sv_helix_user u;

	if (sv_helix_user(hx, who, &u, e) < 0)
		return -1;
	(void)snprintf(out, n, "%s", u.id);
	sv_log_debug("%s is user id %s", who, u.id);
	return 0;
}

static json_t *
make_transport(const struct opts *o, const char *secret)
{
	if (strcmp(o->transport, "webhook") == 0)
		return json_pack("{s:s,s:s,s:s}", "method", "webhook",
		    "callback", o->callback, "secret", secret);
	if (strcmp(o->transport, "websocket") == 0)
		return json_pack("{s:s,s:s}", "method", "websocket",
		    "session_id", o->session);
	return json_pack(
	    "{s:s,s:s}", "method", "conduit", "conduit_id", o->conduit);
}

/*
 * The condition: what the type needs for the broadcaster (lib/types),
 * then every --condition on top. A value of a *user_id key that is not
 * a number is taken as a login and looked up.
 */
static json_t *
make_condition(const struct opts *o, struct sv_helix *hx, struct sv_token *tk,
    enum sv_token_kind kind, struct sv_err *e)
{
	const struct sv_token_rec *me;
	char bid[32], id[32], key[64];
	const char *eq, *val, *uid = NULL;
	json_t *c;
	size_t i, kl;

	if (o->broadcaster != NULL) {
		if (user_id(hx, o->broadcaster, bid, sizeof(bid), e) < 0)
			return NULL;
		me = sv_token_info(tk, SV_TOKEN_USER);
		if (kind == SV_TOKEN_USER && me != NULL)
			uid = me->user_id;
		c = sv_types_condition(o->t, bid, uid);
	} else {
		c = json_object();
	}
	if (c == NULL) {
		sv_err_set(e, EX_OSERR, "out of memory");
		return NULL;
	}
	for (i = 0; i < o->ncond; i++) {
		eq = strchr(o->cond[i], '=');
		kl = (size_t)(eq - o->cond[i]);
		(void)snprintf(key, sizeof(key), "%.*s", (int)kl, o->cond[i]);
		val = eq + 1;
		if (*val == '\0') {
			json_object_del(c, key);
			continue;
		}
		if (kl >= 7 && strcmp(key + kl - 7, "user_id") == 0 &&
		    strspn(val, "0123456789") != strlen(val)) {
			if (user_id(hx, val, id, sizeof(id), e) < 0) {
				json_decref(c);
				return NULL;
			}
			val = id;
		}
		json_object_set_new(c, key, json_string(val));
	}
	return c;
}

static int
cmd_create(const struct opts *o, struct sv_token *tk)
{
	enum sv_token_kind kind = strcmp(o->transport, "websocket") == 0 ?
	    SV_TOKEN_USER :
	    SV_TOKEN_APP;
	json_t *cond = NULL, *tr = NULL, *sub = NULL;
	struct sv_helix *hx;
	char *secret = NULL;
	struct sv_err e;
	size_t sl;
	int rc = 0;

	if (strcmp(o->transport, "webhook") == 0) {
		secret =
		    sv_cli_secret("TWITCH_EVENTSUB_SECRET", o->secret_file, &e);
		if (secret == NULL) {
			if (e.ex == 0)
				sv_err_set(&e, EX_CONFIG,
				    "the webhook transport needs a secret: set TWITCH_EVENTSUB_SECRET or use --secret-file");
			return fail(&e);
		}
		sl = strlen(secret);
		if (sl < 10 || sl > 100) {
			sv_cli_secret_free(secret);
			sv_log_error(
			    "the webhook secret must be 10 to 100 characters (it is %zu)",
			    sl);
			return EX_CONFIG;
		}
	}
	hx = sv_helix_new(tk, kind, &e);
	if (hx == NULL) {
		sv_cli_secret_free(secret);
		return fail(&e);
	}
	if ((cond = make_condition(o, hx, tk, kind, &e)) == NULL) {
		rc = fail(&e);
		goto out;
	}
	if ((tr = make_transport(o, secret)) == NULL) {
		rc = EX_OSERR;
		goto out;
	}
	sub = sv_helix_eventsub_create(hx, o->type, o->version, cond, tr, &e);
	if (sub == NULL) {
		rc = fail(&e);
		goto out;
	}
	if (print_item(NULL, sub, &e) < 0)
		rc = fail(&e);
out:
	json_decref(sub);
	if (tr != NULL) {
		/* the secret lives in here too */
		json_object_del(tr, "secret");
		json_decref(tr);
	}
	json_decref(cond);
	sv_helix_free(hx);
	sv_cli_secret_free(secret);
	return rc;
}

static enum sv_token_kind
list_kind(const struct opts *o, struct sv_token *tk)
{
	if (o->auth != NULL)
		return strcmp(o->auth, "app") == 0 ? SV_TOKEN_APP :
		                                     SV_TOKEN_USER;
	if (sv_token_available(tk, SV_TOKEN_APP))
		return SV_TOKEN_APP;
	return SV_TOKEN_USER;
}

struct ids {
	char **v;
	size_t n, cap;
};

static int
collect_id(void *arg, json_t *item, struct sv_err *e)
{
	struct ids *ids = arg;
	const char *id = json_string_value(json_object_get(item, "id"));
	char **nv;

	if (id == NULL)
		return 0;
	if (ids->n == ids->cap) {
		ids->cap = ids->cap != 0 ? ids->cap * 2 : 16;
		nv = realloc(ids->v, ids->cap * sizeof(*nv));
		if (nv == NULL)
			return sv_err_set(e, EX_OSERR, "out of memory");
		ids->v = nv;
	}
	ids->v[ids->n] = strdup(id);
	if (ids->v[ids->n] == NULL)
		return sv_err_set(e, EX_OSERR, "out of memory");
	ids->n++;
	return 0;
}

static int
cmd_list_delete(const struct opts *o, struct sv_token *tk)
{
	enum sv_token_kind kind = list_kind(o, tk);
	struct ids ids = { NULL, 0, 0 };
	struct sv_helix *hx;
	struct sv_err e;
	char bid[32];
	const char *uid = NULL;
	size_t i;
	json_t *out;
	int rc = 0;

	sv_log_info("using the %s token",
	    kind == SV_TOKEN_APP ? "app (webhook and conduit subscriptions)" :
	                           "user (websocket subscriptions)");
	hx = sv_helix_new(tk, kind, &e);
	if (hx == NULL)
		return fail(&e);
	if (o->broadcaster != NULL) {
		if (user_id(hx, o->broadcaster, bid, sizeof(bid), &e) < 0) {
			rc = fail(&e);
			goto out;
		}
		uid = bid;
	}
	if (o->cmd == CMD_LIST) {
		if (sv_helix_eventsub_list(
		        hx, o->status, o->type, uid, print_item, NULL, &e) < 0)
			rc = fail(&e);
		goto out;
	}
	if (o->all) {
		/* Collect first: deleting while paging shifts the pages. */
		if (sv_helix_eventsub_list(hx, o->status, o->type, uid,
		        collect_id, &ids, &e) < 0) {
			rc = fail(&e);
			goto out;
		}
	} else {
		ids.v = calloc((size_t)o->nids, sizeof(*ids.v));
		for (i = 0; ids.v != NULL && i < (size_t)o->nids; i++)
			if ((ids.v[ids.n] = strdup(o->ids[i])) != NULL)
				ids.n++;
		if (ids.n != (size_t)o->nids) {
			rc = EX_OSERR;
			goto out;
		}
	}
	for (i = 0; i < ids.n && rc == 0; i++) {
		if (sv_helix_eventsub_delete(hx, ids.v[i], &e) < 0) {
			rc = fail(&e);
			break;
		}
		out = json_pack("{s:s,s:b}", "id", ids.v[i], "deleted", 1);
		if (out == NULL || print_item(NULL, out, &e) < 0)
			rc = out == NULL ? EX_OSERR : e.ex;
		json_decref(out);
	}
out:
	for (i = 0; i < ids.n; i++)
		free(ids.v[i]);
	free(ids.v);
	sv_helix_free(hx);
	return rc;
}

static int
run(const struct opts *o)
{
	struct sv_token *tk;
	struct sv_err e;
	int rc;

	tk = sv_token_new(&e);
	if (tk == NULL)
		return fail(&e);
	rc = o->cmd == CMD_CREATE ? cmd_create(o, tk) : cmd_list_delete(o, tk);
	sv_token_free(tk);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct opts o;

	sv_cli_init(argv[0]);
	opts_parse(&o, argc, argv);
	return sv_cli_finish(run(&o));
}
