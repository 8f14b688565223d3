/*
 * twitch-auth: log in to Twitch and keep the token store that every
 * other tool reads (DESIGN.md 3-4): device code or browser login, app
 * tokens, printing a valid token for scripts, validation, status and
 * revocation. The OAuth calls are lib/oauth, the store and the refresh
 * policy lib/token and lib/tokenstore; this file is the command line.
 */
#include <sys/wait.h>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "cli.h"
#include "err.h"
#include "event.h"
#include "httpd.h"
#include "log.h"
#include "oauth.h"
#include "token.h"
#include "tokenstore.h"
#include "types.h"

#define DEFAULT_PORT 3000
#define BROWSER_WAIT_MS 600000L /* ten minutes */

extern char **environ;

enum cmd {
	CMD_NONE,
	CMD_LOGIN,
	CMD_APP,
	CMD_TOKEN,
	CMD_VALIDATE,
	CMD_STATUS,
	CMD_REVOKE,
};

struct opts {
	enum cmd cmd;
	const char *cmd_name;
	const char *scopes_arg; /* --scopes as given */
	char *scopes; /* normalised, space-separated */
	bool browser;
	bool no_open;
	bool app;
	bool all;
	unsigned long port;
	bool port_given;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: twitch-auth [-hqVv] [--log-format FMT] COMMAND [options]\n"
	    "       twitch-auth login [-s SCOPES] [--browser [--port N] [--no-open]]\n"
	    "       twitch-auth app\n"
	    "       twitch-auth token [--app]\n"
	    "       twitch-auth validate [--app]\n"
	    "       twitch-auth status\n"
	    "       twitch-auth revoke [--app | --all]\n"
	    "       twitch-auth logout [--app | --all]\n"
	    "\n"
	    "Log in to Twitch and keep the token store the other tools use.\n"
	    "\n"
	    "  login     log in as a user: device code flow (prints a URL and a code\n"
	    "            on stderr), or with --browser the authorization code flow\n"
	    "  app       get an app access token (client credentials)\n"
	    "  token     print a valid access token, refreshed if needed\n"
	    "  validate  validate the token with Twitch; JSON on stdout\n"
	    "  status    what the token store holds; JSON on stdout, no network\n"
	    "  revoke    revoke the token at Twitch and remove it from the store\n"
	    "  logout    the same as revoke\n"
	    "\n"
	    "      --all                revoke: the user and the app token\n"
	    "      --app                token, validate, revoke: the app token\n"
	    "      --browser            login: browser redirect to a local listener\n"
	    "      --no-open            login --browser: do not run xdg-open\n"
	    "      --port N             login --browser: listener port (default 3000)\n"
	    "  -s, --scopes SCOPES      login: scopes, comma or space separated\n" SV_CLI_COMMON_HELP
	    "\n"
	    "TWITCH_CLIENT_ID and TWITCH_CLIENT_SECRET (or TWITCH_CLIENT_SECRET_FILE)\n"
	    "name the application. Exit status: 0 done, 64 usage, 69 id server\n"
	    "unreachable, 75 expired or interrupted, 77 refused, 78 configuration.\n"
	    "See twitch-auth(1).\n");
}

enum {
	OPT_ALL = 0x100,
	OPT_APP,
	OPT_BROWSER,
	OPT_NO_OPEN,
	OPT_PORT,
};

static const struct option longopts[] = {
	{ "all", no_argument, NULL, OPT_ALL },
	{ "app", no_argument, NULL, OPT_APP },
	{ "browser", no_argument, NULL, OPT_BROWSER },
	SV_CLI_LONGOPT_HELP,
	SV_CLI_LONGOPT_LOG_FORMAT,
	{ "no-open", no_argument, NULL, OPT_NO_OPEN },
	{ "port", required_argument, NULL, OPT_PORT },
	SV_CLI_LONGOPT_QUIET,
	{ "scopes", required_argument, NULL, 's' },
	SV_CLI_LONGOPT_VERBOSE,
	SV_CLI_LONGOPT_VERSION,
	{ NULL, 0, NULL, 0 },
};

static const struct {
	const char *name;
	enum cmd cmd;
} commands[] = {
	{ "app", CMD_APP },
	{ "login", CMD_LOGIN },
	{ "logout", CMD_REVOKE },
	{ "revoke", CMD_REVOKE },
	{ "status", CMD_STATUS },
	{ "token", CMD_TOKEN },
	{ "validate", CMD_VALIDATE },
};

/*
 * The default scopes: every scope the alert types of lib/types need,
 * plus chat:read for twitch-irc-hosts.
 */
static int
default_scopes(struct sv_buf *b)
{
	const struct sv_type *t;
	size_t n, i, j;

	t = sv_types_all(&n);
	if (sv_buf_append(b, "chat:read", 9) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (t[i].scope == NULL)
			continue;
		for (j = 0; j < i; j++)
			if (t[j].scope != NULL &&
			    strcmp(t[j].scope, t[i].scope) == 0)
				break;
		if (j < i)
			continue;
		if (sv_buf_appendf(b, " %s", t[i].scope) < 0)
			return -1;
	}
	return 0;
}

static void
opts_check(struct opts *o, int argc, char **argv)
{
	struct sv_buf b;
	size_t i;

	if (optind >= argc)
		exit(sv_cli_usage_error(
		    "missing COMMAND: login, app, token, validate, status, revoke or logout"));
	o->cmd_name = argv[optind];
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, o->cmd_name) == 0)
			o->cmd = commands[i].cmd;
	if (o->cmd == CMD_NONE)
		exit(sv_cli_usage_error("unknown command '%s'", o->cmd_name));
	if (argc - optind > 1)
		exit(sv_cli_usage_error("%s: unexpected argument '%s'",
		    o->cmd_name, argv[optind + 1]));
	if (o->cmd != CMD_LOGIN && (o->scopes_arg != NULL || o->browser))
		exit(sv_cli_usage_error(
		    "--scopes and --browser go with login only"));
	if (!o->browser && (o->port_given || o->no_open))
		exit(sv_cli_usage_error(
		    "--port and --no-open go with login --browser only"));
	if (o->app && o->cmd != CMD_TOKEN && o->cmd != CMD_VALIDATE &&
	    o->cmd != CMD_REVOKE)
		exit(sv_cli_usage_error(
		    "--app goes with token, validate, revoke or logout"));
	if (o->all && o->cmd != CMD_REVOKE)
		exit(sv_cli_usage_error("--all goes with revoke or logout"));
	if (o->all && o->app)
		exit(sv_cli_usage_error("--app and --all exclude each other"));
	if (o->cmd != CMD_LOGIN)
		return;
	sv_buf_init(&b);
	if ((o->scopes_arg != NULL ?
	            sv_oauth_scopes_normalize(o->scopes_arg, &b) :
	            default_scopes(&b)) < 0) {
		fprintf(stderr, "%s: out of memory\n", sv_cli_prog());
		exit(EX_OSERR);
	}
	if (b.len == 0)
		exit(sv_cli_usage_error("--scopes: no scope given"));
	o->scopes = b.data;
}

static void
opts_parse(struct opts *o, int argc, char **argv)
{
	int c, ex;

	memset(o, 0, sizeof(*o));
	o->port = DEFAULT_PORT;
	while ((c = getopt_long(argc, argv, "hqs:Vv", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_ALL:
			o->all = true;
			break;
		case OPT_APP:
			o->app = true;
			break;
		case OPT_BROWSER:
			o->browser = true;
			break;
		case OPT_NO_OPEN:
			o->no_open = true;
			break;
		case OPT_PORT:
			if (sv_cli_ulong(optarg, 0, 65535, &o->port) < 0)
				exit(sv_cli_usage_error(
				    "--port: expected 0 to 65535, got '%s'",
				    optarg));
			o->port_given = true;
			break;
		case 's':
			o->scopes_arg = optarg;
			break;
		default:
			if (sv_cli_common_or_usage(c, optarg, usage, &ex) != 0)
				exit(ex);
		}
	}
	opts_check(o, argc, argv);
}

static void
opts_fini(struct opts *o)
{
	free(o->scopes);
}

/* --- JSON output --- */

static const char *const kind_str[] = { "user", "app" };

static void
rfc3339(long long t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;

	gmtime_r(&tt, &tm);
	(void)strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *
scopes_json(const char *s)
{
	json_t *a = json_array();
	size_t n;

	while (a != NULL && s != NULL && *s != '\0') {
		s += strspn(s, " ");
		n = strcspn(s, " ");
		if (n > 0)
			json_array_append_new(a, json_stringn(s, n));
		s += n;
	}
	return a;
}

static void
set_str(json_t *o, const char *key, const char *v)
{
	if (v != NULL)
		json_object_set_new(o, key, json_string(v));
}

/* What we know about a token, never the token itself. */
static json_t *
token_json(struct sv_token *tk, enum sv_token_kind kind, long expires_in)
{
	const struct sv_token_rec *r = sv_token_info(tk, kind);
	long long now = (long long)time(NULL);
	char t[32];
	json_t *o;

	o = json_object();
	if (o == NULL || r == NULL)
		return o;
	json_object_set_new(o, "kind", json_string(kind_str[kind]));
	json_object_set_new(o, "source",
	    json_string(sv_token_from_env(tk, kind) ? "env" : "store"));
	set_str(o, "client_id",
	    r->client_id != NULL ? r->client_id : sv_token_client_id(tk));
	set_str(o, "login", r->login);
	set_str(o, "user_id", r->user_id);
	json_object_set_new(o, "scopes", scopes_json(r->scopes));
	if (expires_in < 0 && r->expires_at > 0)
		expires_in =
		    r->expires_at > now ? (long)(r->expires_at - now) : 0;
	if (expires_in >= 0)
		json_object_set_new(o, "expires_in", json_integer(expires_in));
	if (r->expires_at > 0) {
		rfc3339(r->expires_at, t);
		json_object_set_new(o, "expires_at", json_string(t));
	}
	if (r->obtained_at > 0) {
		rfc3339(r->obtained_at, t);
		json_object_set_new(o, "obtained_at", json_string(t));
	}
	if (!sv_token_from_env(tk, kind))
		json_object_set_new(
		    o, "refreshable", json_boolean(r->refresh_token != NULL));
	return o;
}

static int
print_json(json_t *o)
{
	struct sv_err e;
	int rc;

	if (o == NULL) {
		sv_log_error("out of memory");
		return EX_OSERR;
	}
	rc = sv_event_write(stdout, o, &e);
	json_decref(o);
	if (rc < 0 && e.ex != 0) {
		sv_log_error("%s", e.msg);
		return e.ex;
	}
	return 0;
}

static int
fail(const struct sv_err *e)
{
	sv_log_error("%s", e->msg);
	return e->ex != 0 ? e->ex : EX_SOFTWARE;
}

/* Validate a new grant, store it and print what we got. */
static int
store_grant(struct sv_token *tk, enum sv_token_kind kind,
    const struct sv_oauth_grant *g)
{
	struct sv_oauth_valid v;
	struct sv_err e;
	int rc;

	if (sv_oauth_validate(sv_token_oauth(tk), g->access_token, &v, &e) < 0)
		return fail(&e);
	rc = sv_token_save(tk, kind, g, &v, &e);
	sv_oauth_valid_fini(&v);
	if (rc < 0)
		return fail(&e);
	if (sv_token_from_env(tk, kind)) {
		sv_log_warn(
		    "%s is set and takes precedence over the stored token",
		    kind == SV_TOKEN_USER ? "TWITCH_TOKEN" :
		                            "TWITCH_APP_TOKEN");
		if (sv_token_load(tk, kind, &e) < 0)
			return fail(&e);
	}
	if (sv_token_info(tk, kind) != NULL &&
	    sv_token_info(tk, kind)->login != NULL)
		sv_log_info("logged in as %s; token stored in %s",
		    sv_token_info(tk, kind)->login, sv_token_store_path(tk));
	return print_json(token_json(tk, kind, -1));
}

/* --- login: device code grant (twitch-protocols.md 6.6) --- */

static int
login_device(struct sv_token *tk, const struct opts *o)
{
	const struct sv_oauth *oa = sv_token_oauth(tk);
	struct sv_oauth_device d;
	struct sv_oauth_grant g;
	struct sv_err e;
	int rc;

	if (sv_oauth_device_start(oa, o->scopes, &d, &e) < 0)
		return fail(&e);
	fprintf(stderr,
	    "To authorize twitch-auth, open\n\n    %s\n\n"
	    "and enter the code %s (it expires in %ld minutes).\n"
	    "Waiting for the authorization...\n",
	    d.verification_uri, d.user_code, (d.expires_in + 59) / 60);
	if (sv_oauth_device_wait(oa, &d, o->scopes, &g, &e) < 0)
		rc = fail(&e);
	else
		rc = store_grant(tk, SV_TOKEN_USER, &g);
	sv_oauth_grant_fini(&g);
	sv_oauth_device_fini(&d);
	return rc;
}

/* --- login --browser: authorization code grant (6.2, 6.3) --- */

struct redirect {
	pthread_mutex_t mu;
	int wake[2];
	char state[SV_OAUTH_STATE_LEN];
	bool done;
	int ex; /* 0: code received */
	char *code;
	char msg[200];
};

static void
on_redirect(void *arg, const struct sv_httpd_req *rq, struct sv_httpd_resp *rs)
{
	struct redirect *r = arg;
	const char *code = sv_httpd_query(rq, "code");
	const char *state = sv_httpd_query(rq, "state");
	const char *err = sv_httpd_query(rq, "error");
	const char *desc = sv_httpd_query(rq, "error_description");
	size_t sl = strlen(r->state);

	if (strcmp(rq->path, "/") != 0 || (code == NULL && err == NULL)) {
		sv_httpd_resp_text(rs, 404, "Not the OAuth redirect.\n");
		return;
	}
	pthread_mutex_lock(&r->mu);
	if (r->done) {
		sv_httpd_resp_text(rs, 410, "This login is already over.\n");
	} else if (state == NULL || strlen(state) != sl ||
	    CRYPTO_memcmp(state, r->state, sl) != 0) {
		/* Not the answer to our authorize request: a forged or
		 * stale redirect (RFC 6749 10.12). Never use its code. */
		r->ex = EX_NOPERM;
		(void)snprintf(r->msg, sizeof(r->msg),
		    "the redirect carried a wrong state and was refused (forged or stale); nothing stored");
		sv_httpd_resp_text(rs, 400,
		    "twitch-auth: state mismatch, this request did not come from our login. Refused.\n");
		r->done = true;
	} else if (err != NULL) {
		r->ex = EX_NOPERM;
		(void)snprintf(r->msg, sizeof(r->msg),
		    "the authorization was denied: %s%s%s", err,
		    desc != NULL ? ": " : "", desc != NULL ? desc : "");
		sv_httpd_resp_text(rs, 200,
		    "twitch-auth: the authorization was denied. You can close this tab.\n");
		r->done = true;
	} else {
		r->code = strdup(code);
		sv_log_add_secret(r->code);
		r->ex = r->code != NULL ? 0 : EX_OSERR;
		(void)snprintf(r->msg, sizeof(r->msg), "out of memory");
		sv_httpd_resp_text(rs, 200,
		    "twitch-auth: authorized. You can close this tab.\n");
		r->done = true;
	}
	if (r->done && write(r->wake[1], "x", 1) < 0)
		sv_log_debug("cannot wake the main thread"); /* it polls */
	pthread_mutex_unlock(&r->mu);
}

/* xdg-open the URL when there is a display; never wait for it. */
static pid_t
open_browser(const char *url)
{
	posix_spawn_file_actions_t fa;
	char prog[] = "xdg-open", *argv[3];
	pid_t pid = -1;

	if (getenv("DISPLAY") == NULL && getenv("WAYLAND_DISPLAY") == NULL)
		return -1;
	argv[0] = prog;
	argv[1] = strdup(url);
	argv[2] = NULL;
	if (argv[1] == NULL)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, prog, &fa, NULL, argv, environ) != 0) {
		sv_log_info("cannot run xdg-open; open the URL yourself");
		pid = -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	free(argv[1]);
	return pid;
}

static bool
redirect_done(struct redirect *r)
{
	bool done;

	pthread_mutex_lock(&r->mu);
	done = r->done;
	pthread_mutex_unlock(&r->mu);
	return done;
}

static int
login_browser(struct sv_token *tk, const struct opts *o)
{
	const struct sv_oauth *oa = sv_token_oauth(tk);
	struct sv_httpd_opts ho;
	struct sv_httpd *d = NULL;
	struct redirect r;
	struct sv_oauth_grant g;
	struct sv_buf url, redirect_uri, listen;
	struct pollfd pfd;
	struct sv_err e;
	const char *port;
	long waited = 0;
	pid_t browser = -1;
	int rc = EX_SOFTWARE;

	memset(&r, 0, sizeof(r));
	memset(&g, 0, sizeof(g));
	pthread_mutex_init(&r.mu, NULL);
	r.wake[0] = r.wake[1] = -1;
	sv_buf_init(&url);
	sv_buf_init(&redirect_uri);
	sv_buf_init(&listen);
	if (oa->client_id == NULL || oa->client_secret == NULL) {
		sv_log_error(
		    "login --browser needs TWITCH_CLIENT_ID and the client secret (TWITCH_CLIENT_SECRET or TWITCH_CLIENT_SECRET_FILE); public clients use the device code flow (login without --browser)");
		rc = EX_CONFIG;
		goto out;
	}
	if (pipe(r.wake) < 0 || fcntl(r.wake[0], F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(r.wake[1], F_SETFD, FD_CLOEXEC) < 0 ||
	    sv_oauth_new_state(r.state) < 0 ||
	    sv_buf_appendf(&listen, "127.0.0.1:%lu", o->port) < 0) {
		sv_log_error("cannot set up the redirect listener");
		rc = EX_OSERR;
		goto out;
	}
	memset(&ho, 0, sizeof(ho));
	ho.listen = listen.data;
	ho.max_body = 4096;
	d = sv_httpd_start(&ho, on_redirect, &r, &e);
	if (d == NULL) {
		rc = fail(&e);
		goto out;
	}
	port = strrchr(sv_httpd_addr(d), ':');
	/* The redirect URI registered for the application must match
	 * exactly: http://localhost:3000 as the Twitch CLI uses. */
	if (port == NULL ||
	    sv_buf_appendf(&redirect_uri, "http://localhost%s", port) < 0 ||
	    sv_oauth_authorize_url(
	        oa, redirect_uri.data, o->scopes, r.state, &url) < 0) {
		rc = EX_OSERR;
		goto out;
	}
	fprintf(stderr,
	    "To authorize twitch-auth, open this URL in a browser:\n\n    %s\n\n"
	    "(the application's redirect URL must be %s)\n"
	    "Waiting for the redirect...\n",
	    url.data, redirect_uri.data);
	if (!o->no_open)
		browser = open_browser(url.data);
	pfd.fd = r.wake[0];
	pfd.events = POLLIN;
	while (!redirect_done(&r)) {
		if (sv_cli_stopping() || waited >= BROWSER_WAIT_MS) {
			sv_log_error(sv_cli_stopping() ?
			        "interrupted: not logged in" :
			        "no redirect within 10 minutes: not logged in");
			rc = EX_TEMPFAIL;
			goto out;
		}
		(void)poll(&pfd, 1, 250);
		waited += 250;
	}
	if (r.ex != 0) {
		sv_log_error("%s", r.msg);
		rc = r.ex;
		/* Let MHD send the refusal page before it stops. */
		(void)poll(NULL, 0, 200);
		goto out;
	}
	if (sv_oauth_code(oa, r.code, redirect_uri.data, &g, &e) < 0) {
		rc = fail(&e);
		goto out;
	}
	rc = store_grant(tk, SV_TOKEN_USER, &g);
out:
	sv_httpd_stop(d);
	if (browser > 0)
		(void)waitpid(browser, NULL, WNOHANG);
	if (r.wake[0] >= 0) {
		close(r.wake[0]);
		close(r.wake[1]);
	}
	if (r.code != NULL) {
		explicit_bzero(r.code, strlen(r.code));
		free(r.code);
	}
	pthread_mutex_destroy(&r.mu);
	sv_oauth_grant_fini(&g);
	sv_buf_fini(&url);
	sv_buf_fini(&redirect_uri);
	sv_buf_fini(&listen);
	return rc;
}

/* --- the other commands --- */

static int
cmd_app(struct sv_token *tk)
{
	struct sv_oauth_grant g;
	struct sv_err e;
	int rc;

	if (sv_oauth_client_credentials(sv_token_oauth(tk), &g, &e) < 0)
		return fail(&e);
	rc = store_grant(tk, SV_TOKEN_APP, &g);
	sv_oauth_grant_fini(&g);
	return rc;
}

static int
cmd_token(struct sv_token *tk, enum sv_token_kind kind)
{
	const char *tok;
	struct sv_err e;

	if (sv_token_get(tk, kind, &tok, &e) < 0)
		return fail(&e);
	if (sv_event_write_line(stdout, tok, strlen(tok), &e) < 0 && e.ex != 0)
		return fail(&e);
	return 0;
}

static int
cmd_validate(struct sv_token *tk, enum sv_token_kind kind)
{
	struct sv_oauth_valid v;
	struct sv_err e;
	json_t *o;

	if (sv_token_validate(tk, kind, &v, &e) < 0)
		return fail(&e);
	o = token_json(tk, kind, v.expires_in);
	sv_oauth_valid_fini(&v);
	if (o != NULL)
		json_object_set_new(o, "valid", json_true());
	return print_json(o);
}

static int
cmd_status(struct sv_token *tk)
{
	struct sv_err e;
	json_t *o;
	int k, rc;

	o = json_object();
	if (o == NULL)
		return EX_OSERR;
	json_object_set_new(o, "store", json_string(sv_token_store_path(tk)));
	for (k = SV_TOKEN_USER; k <= SV_TOKEN_APP; k++) {
		rc = sv_token_load(tk, (enum sv_token_kind)k, &e);
		if (rc < 0) {
			json_decref(o);
			return fail(&e);
		}
		json_object_set_new(o, kind_str[k],
		    rc == 0 ? token_json(tk, (enum sv_token_kind)k, -1) :
		              json_null());
	}
	set_str(o, "client_id", sv_token_client_id(tk));
	return print_json(o);
}

/*
 * Revoke the stored token of kind at Twitch (with the client id it was
 * issued to) and remove it. A token from the environment is not ours
 * to revoke. Unreachable id server: the token stays stored.
 */
static int
revoke_one(struct sv_token *tk, enum sv_token_kind kind)
{
	struct sv_tokenstore *st;
	struct sv_token_rec r;
	struct sv_oauth oa;
	struct sv_err e;
	json_t *o;
	int rc;

	st = sv_tokenstore_new(NULL, &e);
	if (st == NULL)
		return fail(&e);
	rc = sv_tokenstore_read(st, kind, &r, &e);
	sv_tokenstore_free(st);
	if (rc < 0)
		return fail(&e);
	if (rc == 1) {
		sv_log_info("no %s token stored", kind_str[kind]);
		return print_json(json_pack("{s:s,s:b,s:b}", "kind",
		    kind_str[kind], "stored", 0, "revoked", 0));
	}
	oa = *sv_token_oauth(tk);
	if (r.client_id != NULL)
		oa.client_id = r.client_id;
	rc = sv_oauth_revoke(&oa, r.access_token, &e);
	if (rc < 0) {
		sv_token_rec_fini(&r);
		return fail(&e);
	}
	if (rc == 1)
		sv_log_info("Twitch says the %s token was already invalid",
		    kind_str[kind]);
	o = json_pack(
	    "{s:s,s:b,s:b}", "kind", kind_str[kind], "stored", 1, "revoked", 1);
	if (o != NULL && r.login != NULL)
		json_object_set_new(o, "login", json_string(r.login));
	sv_token_rec_fini(&r);
	if (sv_token_forget(tk, kind, &e) < 0) {
		json_decref(o);
		return fail(&e);
	}
	return print_json(o);
}

static int
cmd_revoke(struct sv_token *tk, const struct opts *o)
{
	int rc;

	if (o->all) {
		rc = revoke_one(tk, SV_TOKEN_USER);
		if (rc != 0)
			return rc;
		return revoke_one(tk, SV_TOKEN_APP);
	}
	return revoke_one(tk, o->app ? SV_TOKEN_APP : SV_TOKEN_USER);
}

static int
run(const struct opts *o)
{
	enum sv_token_kind kind = o->app ? SV_TOKEN_APP : SV_TOKEN_USER;
	struct sv_token *tk;
	struct sv_err e;
	int rc = 0;

	tk = sv_token_new(&e);
	if (tk == NULL)
		return fail(&e);
	switch (o->cmd) {
	case CMD_LOGIN:
		rc = o->browser ? login_browser(tk, o) : login_device(tk, o);
		break;
	case CMD_APP:
		rc = cmd_app(tk);
		break;
	case CMD_TOKEN:
		rc = cmd_token(tk, kind);
		break;
	case CMD_VALIDATE:
		rc = cmd_validate(tk, kind);
		break;
	case CMD_STATUS:
		rc = cmd_status(tk);
		break;
	case CMD_REVOKE:
		rc = cmd_revoke(tk, o);
		break;
	case CMD_NONE:
		rc = EX_SOFTWARE;
		break;
	}
	sv_token_free(tk);
	return rc;
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
