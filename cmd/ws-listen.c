/*
 * ws-listen: connect to a WebSocket server (ws:// or wss://) and print
 * every text message as one line on stdout; binary messages as base64
 * with --binary. The debugging and test tool for ws-broadcast, and for
 * any other WebSocket peer.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "buf.h"
#include "cli.h"
#include "err.h"
#include "event.h"
#include "log.h"
#include "net.h"
#include "ws.h"

#define MAX_HEADERS 32

struct opts {
	const char *url;
	unsigned long count; /* 0: until the server closes */
	bool binary;
	const char *cafile;
	long timeout_ms;
	size_t max_msg;
	const char *headers[MAX_HEADERS + 1];
	size_t nheaders;
	char *header_file_data[MAX_HEADERS]; /* lines read from @FILE */
	size_t nfile;
};

struct state {
	const struct opts *o;
	unsigned long printed;
	bool warned_binary;
	bool done; /* count reached or stdout gone */
	int ex; /* exit status decided inside the callback */
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ws-listen [-hqVv] [-c N] [--binary] [--cafile FILE] [--header 'K: V']...\n"
	    "                 [--max-message BYTES] [--timeout SECONDS] URL\n"
	    "\n"
	    "Print each text message from a WebSocket server as one line.\n"
	    "URL is ws://HOST[:PORT]/PATH or wss://... (TLS, verified).\n"
	    "\n"
	    "  -c, --count N            exit 0 after N messages\n"
	    "      --binary             print binary messages as base64 (else skipped)\n"
	    "      --cafile FILE        also trust the CA certificates in FILE\n"
	    "  -H, --header 'K: V'      send a request header (repeatable);\n"
	    "                           @FILE reads header lines from FILE\n"
	    "      --max-message BYTES  largest message accepted (default 1048576)\n"
	    "      --timeout SECONDS    connect and handshake timeout (default 10)\n" SV_CLI_COMMON_HELP
	    "\n"
	    "Exit status: 0 done or closed normally, 64 usage, 69 cannot connect,\n"
	    "74 stdout error, 75 connection lost or closed abnormally, 76 protocol\n"
	    "violation, 77 refused (401/403). See ws-listen(1).\n");
}

enum {
	OPT_BINARY = 0x100,
	OPT_CAFILE,
	OPT_MAX_MESSAGE,
	OPT_TIMEOUT,
};

static const struct option longopts[] = {
	{ "binary", no_argument, NULL, OPT_BINARY },
	{ "cafile", required_argument, NULL, OPT_CAFILE },
	{ "count", required_argument, NULL, 'c' },
	{ "header", required_argument, NULL, 'H' },
	SV_CLI_LONGOPT_HELP,
	SV_CLI_LONGOPT_LOG_FORMAT,
	{ "max-message", required_argument, NULL, OPT_MAX_MESSAGE },
	SV_CLI_LONGOPT_QUIET,
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	SV_CLI_LONGOPT_VERBOSE,
	SV_CLI_LONGOPT_VERSION,
	{ NULL, 0, NULL, 0 },
};

static void
add_header(struct opts *o, const char *h)
{
	if (o->nheaders == MAX_HEADERS)
		exit(sv_cli_usage_error("at most %d headers", MAX_HEADERS));
	o->headers[o->nheaders++] = h;
	o->headers[o->nheaders] = NULL;
}

/* --header @FILE: one header per line, so secrets stay off argv. */
static void
add_header_file(struct opts *o, const char *path)
{
	char *s, *line, *save = NULL, chunk[4096];
	struct sv_buf b;
	size_t n;
	FILE *f;

	f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "%s: --header: %s: %s\n", sv_cli_prog(), path,
		    strerror(errno));
		exit(EX_NOINPUT);
	}
	sv_buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (sv_buf_append(&b, chunk, n) < 0)
			break;
	fclose(f);
	if (b.data == NULL || o->nfile == MAX_HEADERS) {
		sv_buf_wipe(&b);
		exit(sv_cli_usage_error(
		    "--header: %s: empty or too many", path));
	}
	s = b.data; /* owned by opts until exit: header values live here */
	o->header_file_data[o->nfile++] = s;
	for (line = strtok_r(s, "\r\n", &save); line != NULL;
	     line = strtok_r(NULL, "\r\n", &save)) {
		const char *colon = strchr(line, ':');

		if (*line == '\0' || *line == '#')
			continue;
		/* the value may be a secret: register it for masking */
		if (colon != NULL) {
			colon++;
			while (*colon == ' ' || *colon == '\t')
				colon++;
			sv_log_add_secret(colon);
		}
		add_header(o, line);
	}
}

static void
opts_parse(struct opts *o, int argc, char **argv)
{
	struct sv_ws_url u;
	struct sv_err e;
	unsigned long n;
	int c, ex;

	memset(o, 0, sizeof(*o));
	o->timeout_ms = 10000;
	o->max_msg = 1024 * 1024;
	while (
	    (c = getopt_long(argc, argv, "c:H:hqVv", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_BINARY:
			o->binary = true;
			break;
		case OPT_CAFILE:
			o->cafile = optarg;
			break;
		case 'c':
			if ((ex = sv_cli_count(optarg, &o->count)) != 0)
				exit(ex);
			break;
		case 'H':
			if (optarg[0] == '@')
				add_header_file(o, optarg + 1);
			else
				add_header(o, optarg);
			break;
		case OPT_MAX_MESSAGE:
			if (sv_cli_ulong(optarg, 125, 1UL << 30, &n) < 0)
				exit(sv_cli_usage_error(
				    "--max-message: expected 125 to 1073741824, got '%s'",
				    optarg));
			o->max_msg = n;
			break;
		case OPT_TIMEOUT:
			if (sv_cli_seconds_ms(
			        optarg, 3600000L, &o->timeout_ms) < 0 ||
			    o->timeout_ms == 0)
				exit(sv_cli_usage_error(
				    "--timeout: expected seconds, got '%s'",
				    optarg));
			break;
		default:
			if (sv_cli_common_or_usage(c, optarg, usage, &ex) != 0)
				exit(ex);
		}
	}
	if (optind >= argc)
		exit(sv_cli_usage_error("missing URL"));
	if (argc - optind > 1)
		exit(sv_cli_usage_error("one URL at a time"));
	o->url = argv[optind];
	if (sv_ws_url_parse(o->url, &u, &e) < 0)
		exit(sv_cli_usage_error("%s", e.msg));
}

static void
opts_fini(struct opts *o)
{
	size_t i;

	for (i = 0; i < o->nfile; i++) {
		explicit_bzero(
		    o->header_file_data[i], strlen(o->header_file_data[i]));
		free(o->header_file_data[i]);
	}
}

/* Write one line; a reader that went away ends the run quietly. */
static void
emit(struct state *st, const char *line, size_t len)
{
	struct sv_err e;

	if (sv_event_write_line(stdout, line, len, &e) < 0) {
		if (e.ex != 0)
			sv_log_error("%s", e.msg);
		st->ex = e.ex;
		st->done = true;
		return;
	}
	st->printed++;
	if (st->o->count != 0 && st->printed >= st->o->count)
		st->done = true;
}

/* A text message with a line break: compact JSON if it is JSON, else
 * with \n, \r and \ escaped, so one message stays one line. */
static void
emit_multiline(struct state *st, const char *data, size_t len)
{
	json_error_t je;
	struct sv_buf b;
	json_t *j;
	char *s;
	size_t i;

	j = json_loadb(data, len, JSON_DECODE_ANY, &je);
	if (j != NULL) {
		s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(j);
		if (s != NULL) {
			emit(st, s, strlen(s));
			free(s);
			return;
		}
	}
	sv_buf_init(&b);
	for (i = 0; i < len; i++) {
		const char *esc = data[i] == '\n' ? "\\n" :
		    data[i] == '\r'               ? "\\r" :
		    data[i] == '\\'               ? "\\\\" :
		                                    NULL;

		if ((esc != NULL ? sv_buf_append(&b, esc, 2) :
		                   sv_buf_append(&b, data + i, 1)) < 0)
			break;
	}
	if (i == len)
		emit(st, b.data != NULL ? b.data : "", b.len);
	else
		sv_log_error("out of memory; message dropped");
	sv_buf_fini(&b);
}

static void
on_msg(void *arg, struct sv_ws *ws, int op, const char *data, size_t len)
{
	struct state *st = arg;
	char *b64;

	(void)ws;
	if (st->done)
		return;
	if (op == SV_WS_TEXT) {
		if (memchr(data, '\n', len) != NULL ||
		    memchr(data, '\r', len) != NULL)
			emit_multiline(st, data, len);
		else
			emit(st, data, len);
		return;
	}
	if (!st->o->binary) {
		if (!st->warned_binary)
			sv_log_warn("binary message of %zu bytes skipped "
			            "(--binary prints them as base64)",
			    len);
		st->warned_binary = true;
		return;
	}
	b64 = malloc(4 * ((len + 2) / 3) + 1);
	if (b64 == NULL) {
		sv_log_error("out of memory; message dropped");
		return;
	}
	EVP_EncodeBlock(
	    (unsigned char *)b64, (const unsigned char *)data, (int)len);
	emit(st, b64, strlen(b64));
	free(b64);
}

/* Exit status for a session the server closed. */
static int
closed_status(struct sv_ws *ws)
{
	unsigned code = sv_ws_close_code(ws);

	if (code == SV_WS_CLOSE_NORMAL || code == SV_WS_CLOSE_GOING_AWAY ||
	    code == SV_WS_CLOSE_NO_STATUS) {
		sv_log_info("server closed the connection (%u)", code);
		return 0;
	}
	sv_log_error("server closed the connection with %u%s%s", code,
	    *sv_ws_close_reason(ws) != '\0' ? ": " : "",
	    sv_ws_close_reason(ws));
	return EX_TEMPFAIL;
}

static int
run(const struct opts *o)
{
	struct sv_ws_client_opts co;
	struct state st;
	struct pollfd p;
	struct sv_err e;
	struct sv_ws *ws;
	int rc, ex = 0;

	memset(&st, 0, sizeof(st));
	st.o = o;
	memset(&co, 0, sizeof(co));
	co.url = o->url;
	co.headers = o->headers;
	co.cafile = o->cafile;
	co.timeout_ms = o->timeout_ms;
	co.max_msg = o->max_msg;
	co.on_msg = on_msg;
	co.arg = &st;
	ws = sv_ws_connect(&co, &e);
	if (ws == NULL) {
		sv_log_error("%s", e.msg);
		return e.ex;
	}
	sv_log_info("connected to %s", o->url);
	for (;;) {
		if (st.done || sv_cli_stopping()) {
			ex = st.ex;
			(void)sv_ws_close_wait(
			    ws, SV_WS_CLOSE_NORMAL, NULL, 2000);
			break;
		}
		/* the cap bounds the window between the stop check and poll */
		rc = sv_ws_poll(&ws, 1, &p, 250);
		if (rc < 0 && errno != EINTR) {
			sv_log_error("poll: %s", strerror(errno));
			ex = EX_OSERR;
			break;
		}
		if (rc <= 0 && !sv_ws_pending(ws))
			continue;
		rc = sv_ws_io(ws, p.revents, &e);
		if (rc > 0) {
			ex = st.done ? st.ex : closed_status(ws);
			break;
		}
		if (rc < 0) {
			ex = st.done ? st.ex : e.ex;
			if (!st.done)
				sv_log_error("%s", e.msg);
			break;
		}
	}
	sv_ws_free(ws);
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
