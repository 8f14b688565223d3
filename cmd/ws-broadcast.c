/*
 * ws-broadcast: a WebSocket server that sends every event line read from
 * stdin, as one text message, to every connected client whose filter
 * matches (?types=, ?channel=). It also serves the overlay page (GET /),
 * the dashboard (GET /dashboard), the overlay's settings
 * (GET /overlay.json), a directory (--static), and GET /healthz. Clients
 * that presented the --token-file token may send control messages
 * (lib/control: replay an event, send a test event); from any other
 * client messages are ignored.
 *
 * One thread, one epoll loop. HTTP connections are lib/hconn's, what
 * they are answered and who may upgrade lib/site's: every request gets
 * one answer and the connection is closed, except upgrades, which
 * become lib/ws server sessions. Each event is framed once and the same
 * bytes are queued on every client, so a slow client costs memory only
 * up to --max-queue and never delays the others.
 */
#define _GNU_SOURCE /* accept4 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bcast.h"
#include "buf.h"
#include "cli.h"
#include "control.h"
#include "dedupe.h"
#include "err.h"
#include "event.h"
#include "hconn.h"
#include "log.h"
#include "net.h"
#include "site.h"
#include "ws.h"

/* The built-in pages, generated from share/overlay/ (scripts/embed). */
extern const unsigned char ws_broadcast_page[];
extern const size_t ws_broadcast_page_len;
extern const unsigned char ws_broadcast_dashboard[];
extern const size_t ws_broadcast_dashboard_len;
extern const unsigned char ws_broadcast_config[];
extern const size_t ws_broadcast_config_len;

#define MAX_ORIGINS 32
#define MAX_PENDING_HTTP 512 /* connections still in their HTTP phase */
#define CLOSE_TIMEOUT_MS 5000 /* for a client to answer our close */
#define LOOP_CAP_MS 250 /* bounds the stop-flag check window */
#define FILE_LINES_PER_ROUND 256 /* stdin from a file: lines per round */
#define HISTORY_MIN 1024 /* events kept for replays, at least */

struct opts {
	const char *listen;
	const char *port_file;
	unsigned long replay;
	unsigned long dedupe;
	const char *token_file;
	const char *origins[MAX_ORIGINS];
	size_t norigins;
	const char *static_dir;
	unsigned long max_queue;
	long ping_ms;
	bool keep_open;
	bool strict;
};

enum kind { K_LISTEN, K_STDIN, K_HTTP, K_WS, K_DEAD };

/*
 * The first member of everything registered with epoll. A connection
 * closed while events for it may still be in the current epoll batch
 * becomes K_DEAD and is freed after the batch.
 */
struct handler {
	enum kind kind;
	struct handler *grave;
};

/* A connection before (or instead of) the WebSocket upgrade. */
struct hconn {
	struct handler h;
	struct hconn *prev, *next;
	struct srv *s;
	struct sv_hconn c;
	uint32_t events;
};

struct client {
	struct handler h;
	struct client *prev, *next;
	struct sv_ws *ws;
	uint32_t events;
	struct sv_bcast_filter filter; /* ?types=, ?channel= */
	unsigned long rx_at_ping;
	bool ping_pending;
	bool told; /* warned that its messages are ignored */
	struct srv *s;
	long long close_deadline; /* 0: not closing */
	unsigned long id;
	char addr[56];
};

struct srv {
	const struct opts *o;
	int ep;
	struct handler lh, ih; /* listen socket, stdin */
	int lfd;
	bool accepting;
	long long accept_resume;
	struct sv_event_input in;
	bool in_open; /* still reading stdin */
	bool in_polled; /* stdin is in epoll (else a file: always ready) */
	struct sv_site site; /* pages, --static, --origin, the token; and
	                        whether the server is stopping */
	struct sv_dedupe *dd;
	struct sv_bcast_history hist; /* for replays */
	struct client *cl_head, *cl_tail;
	size_t nclients;
	size_t nclosing; /* clients with a close deadline */
	unsigned long next_id;
	struct hconn *hc_head;
	size_t nhttp;
	unsigned long sent; /* events broadcast */
	unsigned long dups; /* events dropped as duplicates */
	struct handler *graves; /* freed after the epoll batch */
	struct sv_control_queue rq; /* this batch's control messages */
	struct sv_ws_frame *ping;
	long long next_ping;
	char static_root[PATH_MAX];
	long long stop_deadline; /* once stopping (site.stopping) */
	int ex;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ws-broadcast [-hqVv] [--dedupe N] [--keep-open] [--listen ADDR:PORT]\n"
	    "                    [--max-queue BYTES] [--origin URL]... [--ping-interval SECONDS]\n"
	    "                    [--port-file FILE] [--replay N] [--static DIR] [--strict]\n"
	    "                    [--token-file FILE]\n"
	    "\n"
	    "Send every event line read from stdin to every WebSocket client.\n"
	    "Clients filter with ?types=T,T and ?channel=LOGIN; GET / serves the overlay,\n"
	    "/dashboard the dashboard; token holders may send control messages.\n"
	    "\n"
	    "      --dedupe N           drop an id sent within the last N events (default 4096; 0: off)\n"
	    "      --keep-open          keep serving after the end of stdin\n"
	    "  -l, --listen ADDR:PORT   where to listen (default 127.0.0.1:8080)\n"
	    "      --max-queue BYTES    close a client with more unsent data (1008; default 1048576)\n"
	    "      --origin URL         allow browser pages from this origin only (repeatable)\n"
	    "      --ping-interval SECONDS  ping clients; drop those silent for two (default 30)\n"
	    "      --port-file FILE     write the bound ADDR:PORT to FILE\n"
	    "      --replay N           a new client first gets the last N matching events\n"
	    "      --static DIR         serve files from DIR instead of the built-in page\n"
	    "      --strict             exit 65 on a bad input line instead of skipping it\n"
	    "      --token-file FILE    clients must send ?token= with the token in FILE\n"
	    "                           (and may then replay events and send tests)\n" SV_CLI_COMMON_HELP
	    "\n"
	    "Exit status: 0 end of input or stopped, 64 usage, 65 bad input with --strict,\n"
	    "66 unreadable file, 69 cannot listen, 74 stdin error. See ws-broadcast(1).\n");
}

enum {
	OPT_DEDUPE = 0x100,
	OPT_KEEP_OPEN,
	OPT_MAX_QUEUE,
	OPT_ORIGIN,
	OPT_PING_INTERVAL,
	OPT_PORT_FILE,
	OPT_REPLAY,
	OPT_STATIC,
	OPT_STRICT,
	OPT_TOKEN_FILE,
};

static const struct option longopts[] = {
	{ "dedupe", required_argument, NULL, OPT_DEDUPE },
	SV_CLI_LONGOPT_HELP,
	{ "keep-open", no_argument, NULL, OPT_KEEP_OPEN },
	{ "listen", required_argument, NULL, 'l' },
	SV_CLI_LONGOPT_LOG_FORMAT,
	{ "max-queue", required_argument, NULL, OPT_MAX_QUEUE },
	{ "origin", required_argument, NULL, OPT_ORIGIN },
	{ "ping-interval", required_argument, NULL, OPT_PING_INTERVAL },
	{ "port-file", required_argument, NULL, OPT_PORT_FILE },
	SV_CLI_LONGOPT_QUIET,
	{ "replay", required_argument, NULL, OPT_REPLAY },
	{ "static", required_argument, NULL, OPT_STATIC },
	{ "strict", no_argument, NULL, OPT_STRICT },
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
	SV_CLI_LONGOPT_VERBOSE,
	SV_CLI_LONGOPT_VERSION,
	{ NULL, 0, NULL, 0 },
};

static void
opts_parse(struct opts *o, int argc, char **argv)
{
	char host[256], port[8];
	struct sv_err e;
	int c, ex;

	memset(o, 0, sizeof(*o));
	o->listen = "127.0.0.1:8080";
	o->dedupe = 4096;
	o->max_queue = 1024 * 1024;
	o->ping_ms = 30000;
	while ((c = getopt_long(argc, argv, "hl:qVv", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DEDUPE:
			if (sv_cli_ulong(optarg, 0, 10000000, &o->dedupe) < 0)
				exit(sv_cli_usage_error(
				    "--dedupe: expected 0 to 10000000, got '%s'",
				    optarg));
			break;
		case OPT_KEEP_OPEN:
			o->keep_open = true;
			break;
		case 'l':
			if (sv_net_split_hostport(optarg, host, sizeof(host),
			        port, sizeof(port), &e) < 0)
				exit(sv_cli_usage_error("--listen: %s", e.msg));
			o->listen = optarg;
			break;
		case OPT_MAX_QUEUE:
			if (sv_cli_ulong(
			        optarg, 1024, 1UL << 40, &o->max_queue) < 0)
				exit(sv_cli_usage_error(
				    "--max-queue: expected at least 1024 bytes, got '%s'",
				    optarg));
			break;
		case OPT_ORIGIN:
			if (o->norigins == MAX_ORIGINS)
				exit(sv_cli_usage_error(
				    "at most %d --origin", MAX_ORIGINS));
			if (strncmp(optarg, "http://", 7) != 0 &&
			    strncmp(optarg, "https://", 8) != 0)
				exit(sv_cli_usage_error(
				    "--origin: expected http://HOST[:PORT] or https://..., got '%s'",
				    optarg));
			o->origins[o->norigins++] = optarg;
			break;
		case OPT_PING_INTERVAL:
			if (sv_cli_seconds_ms(optarg, 86400000L, &o->ping_ms) <
			        0 ||
			    o->ping_ms < 50)
				exit(sv_cli_usage_error(
				    "--ping-interval: expected seconds (at least 0.05), got '%s'",
				    optarg));
			break;
		case OPT_PORT_FILE:
			o->port_file = optarg;
			break;
		case OPT_REPLAY:
			if (sv_cli_ulong(optarg, 0, 100000, &o->replay) < 0)
				exit(sv_cli_usage_error(
				    "--replay: expected 0 to 100000, got '%s'",
				    optarg));
			break;
		case OPT_STATIC:
			o->static_dir = optarg;
			break;
		case OPT_STRICT:
			o->strict = true;
			break;
		case OPT_TOKEN_FILE:
			o->token_file = optarg;
			break;
		default:
			if (sv_cli_common_or_usage(c, optarg, usage, &ex) != 0)
				exit(ex);
		}
	}
	if (optind < argc)
		exit(sv_cli_usage_error(
		    "unexpected argument '%s'", argv[optind]));
}

/* ---- epoll bookkeeping
 * -------------------------------------------------------- */

static int
ep_add(struct srv *s, int fd, uint32_t ev, struct handler *h)
{
	struct epoll_event e;

	e.events = ev;
	e.data.ptr = h;
	return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e);
}

static void
ep_mod(struct srv *s, int fd, uint32_t ev, struct handler *h)
{
	struct epoll_event e;

	e.events = ev;
	e.data.ptr = h;
	if (epoll_ctl(s->ep, EPOLL_CTL_MOD, fd, &e) < 0)
		sv_log_warn("epoll_ctl: %s", strerror(errno));
}

/* ---- clients
 * -------------------------------------------------------------------- */

static void
client_free(struct srv *s, struct client *c, const char *why)
{
	if (why != NULL)
		sv_log_info("client %lu (%s): %s", c->id, c->addr, why);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->cl_head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		s->cl_tail = c->prev;
	s->nclients--;
	if (c->close_deadline != 0)
		s->nclosing--;
	sv_ws_free(c->ws); /* closes the fd, which leaves epoll */
	c->ws = NULL;
	sv_bcast_filter_fini(&c->filter);
	c->h.kind = K_DEAD;
	c->h.grave = s->graves;
	s->graves = &c->h;
}

/* After any operation on a client: drop it when finished, else make
 * epoll wait for what it needs. */
static void
client_update(struct srv *s, struct client *c)
{
	uint32_t ev;

	if (sv_ws_state(c->ws) == SV_WS_CLOSED) {
		client_free(s, c, NULL);
		return;
	}
	ev = (uint32_t)sv_ws_events(c->ws);
	if (ev != c->events) {
		ep_mod(s, sv_ws_fd(c->ws), ev, &c->h);
		c->events = ev;
	}
}

static void
client_close(struct srv *s, struct client *c, unsigned code, const char *why)
{
	if (sv_ws_close(c->ws, code, why) == 0) {
		c->close_deadline = sv_net_now_ms() + CLOSE_TIMEOUT_MS;
		s->nclosing++;
	}
}

/* Queue one message (an event, a reply) on one client, closing it with
 * 1008 when its queue would pass --max-queue. */
static void
client_send(struct srv *s, struct client *c, struct sv_ws_frame *frame)
{
	struct sv_err e;
	size_t queued;

	if (sv_ws_state(c->ws) != SV_WS_OPEN)
		return;
	/* one event larger than the limit may still go to a client that
	 * has nothing queued */
	queued = sv_ws_queued(c->ws);
	if (queued > 0 && queued + sv_ws_frame_size(frame) > s->o->max_queue) {
		sv_log_warn("client %lu (%s): more than %lu bytes unsent; "
		            "closed with 1008",
		    c->id, c->addr, s->o->max_queue);
		sv_ws_discard(c->ws);
		client_close(s, c, SV_WS_CLOSE_POLICY, "send queue full");
		client_update(s, c);
		return;
	}
	if (sv_ws_send_frame(c->ws, frame, &e) < 0) {
		if (sv_ws_state(c->ws) == SV_WS_CLOSED)
			sv_log_debug("client %lu: %s", c->id, e.msg);
		client_update(s, c);
		return;
	}
	if ((uint32_t)sv_ws_events(c->ws) != c->events)
		client_update(s, c);
}

static void
client_io(struct srv *s, struct client *c, uint32_t revents)
{
	struct sv_err e;
	int rc;

	rc = sv_ws_io(c->ws, (short)(revents & 0xffff), &e);
	if (rc > 0) {
		client_free(s, c, NULL);
		return;
	}
	if (rc < 0) {
		if (e.ex == EX_PROTOCOL)
			sv_log_info(
			    "client %lu (%s): %s", c->id, c->addr, e.msg);
		else
			sv_log_debug(
			    "client %lu (%s): %s", c->id, c->addr, e.msg);
		client_free(s, c, NULL);
		return;
	}
	client_update(s, c);
}

/* The last N events that match c, oldest first (N: its ?replay=, or
 * --replay when replay_n is -1). */
static void
replay(struct srv *s, struct client *c, long replay_n)
{
	const struct sv_bcast_event *ev;
	size_t i, want;

	want = replay_n >= 0 ? (size_t)replay_n : s->o->replay;
	for (i = sv_bcast_history_tail(&s->hist, want, &c->filter);
	     i < s->hist.len; i++) {
		ev = sv_bcast_history_at(&s->hist, i);
		if (sv_bcast_match(&c->filter, ev))
			client_send(s, c, ev->frame);
		if (c->h.kind == K_DEAD || sv_ws_state(c->ws) != SV_WS_OPEN)
			break;
	}
}

/* ---- control messages (lib/control)
 * -------------------------------------------------------- */

/*
 * A message from a client (sv_ws_io() is running for it, so nothing here
 * may free a session: the request is kept and handled after the batch).
 * With --token-file every client presented the token (sv_site_admit()
 * let no other in) and may send; without one, messages are ignored, and
 * logged once per client.
 */
static void
client_msg(void *arg, struct sv_ws *ws, int op, const char *data, size_t len)
{
	struct client *c = arg;
	struct srv *s = c->s;

	(void)ws;
	if (!s->site.has_token) {
		if (!c->told)
			sv_log_info("client %lu (%s): message ignored: "
			            "read-only client (no --token-file)",
			    c->id, c->addr);
		c->told = true;
		return;
	}
	if (sv_control_queue_push(&s->rq, c, op == SV_WS_TEXT, data, len) < 0)
		sv_log_warn("client %lu (%s): out of memory; control message "
		            "dropped",
		    c->id, c->addr);
}

/* Queue one event on every client it matches. */
static void
send_all(struct srv *s, const struct sv_bcast_event *ev)
{
	struct client *c, *next;

	for (c = s->cl_head; c != NULL; c = next) {
		next = c->next; /* client_send may free c */
		if (sv_bcast_match(&c->filter, ev))
			client_send(s, c, ev->frame);
	}
}

/* The event again, marked "replay", to every matching client; never
 * checked against the dedupe window, never kept in the history. */
static const char *
do_replay(struct srv *s, const char *id)
{
	const struct sv_bcast_event *orig;
	struct sv_bcast_event ev;

	orig = sv_bcast_history_find(&s->hist, id);
	if (orig == NULL)
		return "no event with this id in the history";
	if (sv_control_replay_event(&ev, orig) < 0)
		return "out of memory";
	send_all(s, &ev);
	sv_bcast_event_fini(&ev);
	sv_log_info("event %s replayed", id);
	return NULL;
}

/* A test event to every matching client; its id into id. */
static const char *
do_test(struct srv *s, const struct sv_control_req *r, char *id, size_t idlen)
{
	struct sv_bcast_event ev;
	struct sv_err e;

	if (sv_control_test_event(&ev, r->type, r->channel, &e) < 0)
		return e.ex == EX_DATAERR ? "unknown type" : "out of memory";
	send_all(s, &ev);
	(void)snprintf(id, idlen, "%s", ev.id);
	sv_log_info("test event %s (%s) sent", ev.id, ev.type);
	sv_bcast_event_fini(&ev);
	return NULL;
}

/* The answer to one request, to its sender only. */
static void
reply(struct srv *s, struct client *c, enum sv_control_op op, const char *id,
    const char *err)
{
	struct sv_ws_frame *f = NULL;
	size_t len;
	char *line;

	line = sv_control_reply(op, id, err, &len);
	if (line != NULL)
		f = sv_ws_frame_new(SV_WS_TEXT, line, len);
	free(line);
	if (f == NULL)
		return;
	client_send(s, c, f);
	sv_ws_frame_unref(f);
}

/* One control message from c: do it, then answer c. One that could not
 * be a request only gets its error, once for each message it stands for. */
static void
handle(struct srv *s, struct client *c, const struct sv_control_msg *m)
{
	struct sv_control_req r;
	char id[SV_EVENT_ID_LEN];
	const char *err;
	struct sv_err e;
	unsigned long i;

	if (m->error != NULL) {
		sv_log_info(
		    "client %lu (%s): %lu control message%s refused: %s", c->id,
		    c->addr, m->count, m->count == 1 ? "" : "s", m->error);
		for (i = 0; i < m->count && c->h.kind != K_DEAD &&
		     sv_ws_state(c->ws) == SV_WS_OPEN;
		     i++)
			reply(s, c, SV_CONTROL_UNKNOWN, NULL, m->error);
		return;
	}
	id[0] = '\0';
	if (sv_control_parse(m->data, m->len, &r, &e) < 0) {
		sv_log_info("client %lu (%s): bad control message: %s", c->id,
		    c->addr, e.msg);
		err = e.msg;
	} else if (r.op == SV_CONTROL_REPLAY) {
		err = do_replay(s, r.id);
	} else {
		err = do_test(s, &r, id, sizeof(id));
	}
	if (c->h.kind == K_DEAD)
		return; /* gone while the others were sent to */
	reply(s, c, r.op, r.op == SV_CONTROL_REPLAY ? r.id : id, err);
}

/* Handle the control messages of this epoll batch, in order (before
 * bury(): a sender that died meanwhile is still there to be checked). */
static void
handle_requests(struct srv *s)
{
	struct sv_control_msg *m;
	struct client *c;

	while ((m = sv_control_queue_pop(&s->rq)) != NULL) {
		c = m->from;
		if (c->h.kind != K_DEAD && !s->site.stopping)
			handle(s, c, m);
		free(m);
	}
}

/* ---- HTTP
 * ------------------------------------------------------------------------------
 */

static void
hconn_free(struct srv *s, struct hconn *h)
{
	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		s->hc_head = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	s->nhttp--;
	sv_hconn_fini(&h->c);
	h->h.kind = K_DEAD;
	h->h.grave = s->graves;
	s->graves = &h->h;
}

static void
bury(struct srv *s)
{
	struct handler *g;

	while ((g = s->graves) != NULL) {
		s->graves = g->grave;
		free(g); /* the first member of a client or hconn */
	}
}

/* After any operation on a connection: drop it when finished, else make
 * epoll wait for what it needs. */
static void
hconn_update(struct srv *s, struct hconn *h)
{
	uint32_t ev;

	if (sv_hconn_done(&h->c)) {
		hconn_free(s, h);
		return;
	}
	ev = (uint32_t)sv_hconn_events(&h->c);
	if (ev != h->events) {
		ep_mod(s, h->c.fd, ev, &h->h);
		h->events = ev;
	}
}

/* The built-in pages; under --static, /dashboard is dashboard.html. */
#define HTML "text/html; charset=utf-8"
static const struct sv_site_page pages[] = {
	{ .path = "/",
	    .mime = HTML,
	    .data = ws_broadcast_page,
	    .len = &ws_broadcast_page_len },
	{ .path = "/index.html",
	    .mime = HTML,
	    .data = ws_broadcast_page,
	    .len = &ws_broadcast_page_len },
	{ .path = "/dashboard",
	    .mime = HTML,
	    .data = ws_broadcast_dashboard,
	    .len = &ws_broadcast_dashboard_len,
	    .file = "/dashboard.html" },
	{ .path = "/dashboard.html",
	    .mime = HTML,
	    .data = ws_broadcast_dashboard,
	    .len = &ws_broadcast_dashboard_len },
	{ .path = "/overlay.json",
	    .mime = "application/json",
	    .data = ws_broadcast_config,
	    .len = &ws_broadcast_config_len },
};
#undef HTML

static void
serve_health(struct srv *s, struct hconn *h)
{
	char *body = NULL;
	struct sv_buf b;
	json_t *o;

	sv_buf_init(&b);
	o = json_pack("{s:s,s:I,s:I,s:I,s:s,s:b,s:o*}", "status", "ok",
	    "clients", (json_int_t)s->nclients, "events", (json_int_t)s->sent,
	    "duplicates", (json_int_t)s->dups, "input",
	    s->in_open ? "open" : "closed", "control", s->site.has_token,
	    "test_types", sv_control_test_types());
	if (o != NULL)
		body = json_dumps(o, JSON_COMPACT);
	if (body == NULL || sv_buf_appendf(&b, "%s\n", body) < 0)
		sv_hconn_respond_text(&h->c, 503, "out of memory\n", NULL);
	else
		sv_hconn_respond(
		    &h->c, 200, "application/json", b.data, b.len, NULL);
	sv_buf_fini(&b);
	free(body);
	json_decref(o);
}

static void
upgrade(struct srv *s, struct hconn *h, struct sv_ws_head *hd, const char *pre,
    size_t pre_len)
{
	struct sv_ws_server_opts so;
	char accept[SV_WS_ACCEPT_LEN];
	struct sv_bcast_filter f;
	struct client *c;
	struct sv_err e;
	long replay_n;
	int fd;

	if (sv_site_admit(&s->site, &h->c, hd, accept, &f, &replay_n) < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		sv_bcast_filter_fini(&f);
		sv_hconn_respond_text(&h->c, 503, "out of memory\n", NULL);
		return;
	}
	c->h.kind = K_WS;
	c->filter = f;
	c->s = s;
	c->id = ++s->next_id;
	if (sv_net_peer_addr(h->c.fd, c->addr, sizeof(c->addr)) < 0)
		(void)snprintf(c->addr, sizeof(c->addr), "?");
	memset(&so, 0, sizeof(so));
	so.on_msg = client_msg;
	so.arg = c;
	fd = sv_hconn_take(&h->c); /* the session owns it now */
	c->ws = sv_ws_server_new(fd, accept, pre, pre_len, &so, &e);
	if (c->ws == NULL) {
		sv_log_warn("%s", e.msg);
		sv_bcast_filter_fini(&c->filter);
		free(c);
		return;
	}
	c->prev = s->cl_tail;
	if (s->cl_tail != NULL)
		s->cl_tail->next = c;
	else
		s->cl_head = c;
	s->cl_tail = c;
	s->nclients++;
	/* the socket's epoll entry now belongs to the client */
	c->events = EPOLLIN;
	ep_mod(s, fd, c->events, &c->h);
	sv_log_info("client %lu (%s) connected%s%s%s%s", c->id, c->addr,
	    f.types != NULL ? ", types " : "", f.types != NULL ? f.types : "",
	    f.channels != NULL ? ", channel " : "",
	    f.channels != NULL ? f.channels : "");
	replay(s, c, replay_n);
	if (c->h.kind == K_DEAD)
		return; /* gone while replaying */
	if (sv_ws_pending(c->ws)) {
		client_io(s, c, 0);
		return;
	}
	client_update(s, c);
}

/* A complete request head (sv_hconn_head_fn): answer it. */
static void
route(void *arg, struct sv_hconn *hc, struct sv_ws_head *hd, const char *rest,
    size_t rest_len)
{
	struct hconn *h = arg;

	switch (sv_site_route(&h->s->site, hc, hd)) {
	case SV_SITE_ANSWERED:
		break;
	case SV_SITE_HEALTH:
		serve_health(h->s, h);
		break;
	case SV_SITE_UPGRADE:
		upgrade(h->s, h, hd, rest, rest_len);
		break;
	}
}

static void
hconn_io(struct srv *s, struct hconn *h, uint32_t ev)
{
	sv_hconn_io(&h->c, (short)(ev & 0xffff), route, h);
	hconn_update(s, h);
}

static void
accept_all(struct srv *s)
{
	struct hconn *h;
	int fd, one = 1;

	while (s->accepting) {
		fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* out of descriptors: pause instead of spinning
				 */
				sv_log_warn(
				    "accept: %s; pausing", strerror(errno));
				s->accepting = false;
				s->accept_resume = sv_net_now_ms() + 250;
				ep_mod(s, s->lfd, 0, &s->lh);
			}
			return;
		}
		if (s->nhttp >= MAX_PENDING_HTTP) {
			close(fd); /* a flood of idle connections */
			continue;
		}
		/* events are small and must not wait for Nagle and the
		 * peer's delayed ACK (40 ms on Linux) */
		(void)setsockopt(
		    fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		h = calloc(1, sizeof(*h));
		if (h == NULL) {
			close(fd);
			continue;
		}
		h->h.kind = K_HTTP;
		h->s = s;
		sv_hconn_init(&h->c, fd, sv_net_now_ms());
		h->events = EPOLLIN;
		if (ep_add(s, fd, EPOLLIN, &h->h) < 0) {
			sv_hconn_fini(&h->c);
			free(h);
			continue;
		}
		h->next = s->hc_head;
		if (s->hc_head != NULL)
			s->hc_head->prev = h;
		s->hc_head = h;
		s->nhttp++;
	}
}

/* ---- input
 * -------------------------------------------------------------------------------
 */

static void
broadcast(struct srv *s, json_t *obj, const char *line, size_t len)
{
	struct sv_bcast_event ev;
	const char *id;

	id = sv_event_path_str(obj, "id");
	if (id != NULL && s->dd != NULL && sv_dedupe_check(s->dd, id)) {
		s->dups++;
		sv_log_debug("event %s already sent; dropped", id);
		return;
	}
	if (sv_bcast_event_init(&ev, obj, line, len) < 0) {
		sv_log_error("out of memory; event dropped");
		if (id != NULL && s->dd != NULL)
			sv_dedupe_forget(s->dd, id);
		return;
	}
	send_all(s, &ev);
	s->sent++;
	sv_bcast_history_push(&s->hist, &ev);
}

/* Stop: no new connections, every client closed with 1001; run() ends
 * once they are gone or CLOSE_TIMEOUT_MS has passed. */
static void
stop(struct srv *s, const char *why)
{
	struct client *c, *next;

	if (s->site.stopping)
		return;
	sv_log_info("%s: closing %zu clients", why, s->nclients);
	s->site.stopping = true; /* and upgrades get 503 */
	s->stop_deadline = sv_net_now_ms() + CLOSE_TIMEOUT_MS;
	if (s->lfd >= 0) {
		close(s->lfd); /* leaves epoll */
		s->lfd = -1;
		s->accepting = false;
	}
	for (c = s->cl_head; c != NULL; c = next) {
		next = c->next;
		client_close(s, c, SV_WS_CLOSE_GOING_AWAY, "server going away");
		client_update(s, c);
	}
}

/* Stop reading stdin: at its end (why NULL), which --keep-open serves
 * on after; or because of why (an error), which always stops. */
static void
input_close(struct srv *s, const char *why)
{
	s->in_open = false;
	if (s->in_polled)
		(void)epoll_ctl(s->ep, EPOLL_CTL_DEL, 0, NULL);
	if (why == NULL && s->o->keep_open) {
		sv_log_info("end of input; serving on (--keep-open)");
		return;
	}
	stop(s, why != NULL ? why : "end of input");
}

/* Read stdin once and broadcast every complete line. */
static void
input_read(struct srv *s)
{
	enum sv_event_input_res r;
	const char *line;
	struct sv_err e;
	unsigned n = 0;
	json_t *obj;
	size_t len;

	if (sv_event_input_fill(&s->in) < 0 && errno != EAGAIN &&
	    errno != EINTR) {
		sv_log_error("read from stdin: %s", strerror(errno));
		s->ex = EX_IOERR;
		input_close(s, "input error");
		return;
	}
	for (;;) {
		r = sv_event_input_next(&s->in, false, &obj, &line, &len, &e);
		switch (r) {
		case SV_INPUT_LINE:
			broadcast(s, obj, line, len);
			json_decref(obj);
			if (!s->in_polled && ++n >= FILE_LINES_PER_ROUND)
				return;
			continue;
		case SV_INPUT_AGAIN:
			return;
		case SV_INPUT_EOF:
			input_close(s, NULL);
			return;
		case SV_INPUT_ERROR:
			sv_log_error("%s", e.msg);
			s->ex = e.ex;
			input_close(s, "bad input");
			return;
		}
	}
}

/* ---- timers
 * ----------------------------------------------------------------------------------
 */

static void
ping_round(struct srv *s, long long now)
{
	struct client *c, *next;
	struct sv_err e;

	for (c = s->cl_head; c != NULL; c = next) {
		next = c->next;
		if (sv_ws_state(c->ws) != SV_WS_OPEN)
			continue;
		if (c->ping_pending &&
		    sv_ws_rx_frames(c->ws) == c->rx_at_ping) {
			client_free(s, c, "no answer to ping; dropped");
			continue;
		}
		c->rx_at_ping = sv_ws_rx_frames(c->ws);
		c->ping_pending = true;
		/* a slow client's ping waits behind its queue; its pong is
		 * late but the queue limit deals with it */
		if (sv_ws_send_frame(c->ws, s->ping, &e) < 0) {
			client_update(s, c);
			continue;
		}
		if ((uint32_t)sv_ws_events(c->ws) != c->events)
			client_update(s, c);
	}
	s->next_ping = now + s->o->ping_ms;
}

static void
timers(struct srv *s, long long now)
{
	struct client *c, *next;
	struct hconn *h, *hn;

	for (h = s->hc_head; h != NULL; h = hn) {
		hn = h->next;
		if (sv_hconn_expire(&h->c, now))
			hconn_free(s, h);
	}
	for (c = s->nclosing > 0 ? s->cl_head : NULL; c != NULL; c = next) {
		next = c->next;
		if (c->close_deadline != 0 && now >= c->close_deadline)
			client_free(s, c, "no answer to close; dropped");
	}
	if (!s->accepting && !s->site.stopping && now >= s->accept_resume) {
		s->accepting = true;
		ep_mod(s, s->lfd, EPOLLIN, &s->lh);
	}
	if (!s->site.stopping && now >= s->next_ping)
		ping_round(s, now);
}

/* ---- set-up and the loop
 * ------------------------------------------------------------------------- */

static int
setup(struct srv *s, const struct opts *o)
{
	struct sv_err e;
	char *token;
	struct stat st;

	memset(s, 0, sizeof(*s));
	s->o = o;
	sv_control_queue_init(&s->rq);
	s->ep = -1;
	s->lfd = -1;
	s->lh.kind = K_LISTEN;
	s->ih.kind = K_STDIN;
	s->site.pages = pages;
	s->site.npages = sizeof(pages) / sizeof(pages[0]);
	s->site.origins = o->origins;
	s->site.norigins = o->norigins;
	s->site.max_replay = HISTORY_MIN;
	if (o->token_file != NULL) {
		token = sv_cli_secret(NULL, o->token_file, &e);
		if (token == NULL) {
			sv_log_error("--token-file: %s", e.msg);
			return e.ex != 0 ? e.ex : EX_CONFIG;
		}
		sv_site_set_token(&s->site, token);
		sv_cli_secret_free(token);
	}
	if (o->static_dir != NULL) {
		if (realpath(o->static_dir, s->static_root) == NULL ||
		    stat(s->static_root, &st) < 0 || !S_ISDIR(st.st_mode)) {
			sv_log_error("--static: %s: %s", o->static_dir,
			    errno != 0 ? strerror(errno) : "not a directory");
			return EX_NOINPUT;
		}
		s->site.static_root = s->static_root;
	}
	if (o->dedupe > 0 && (s->dd = sv_dedupe_new(o->dedupe)) == NULL)
		return EX_OSERR;
	/* the history serves --replay, ?replay= and control replays */
	if (sv_bcast_history_init(&s->hist,
	        o->replay > HISTORY_MIN ? o->replay : HISTORY_MIN) < 0)
		return EX_OSERR;
	s->ping = sv_ws_frame_new(SV_WS_PING, "", 0);
	if (s->ping == NULL || sv_event_input_init(&s->in, 0, 0, o->strict) < 0)
		return EX_OSERR;
	s->in_open = true;
	{
		char accept[SV_WS_ACCEPT_LEN];

		/* OpenSSL loads its SHA-1 provider on first use: do it now,
		 * not while the first client waits for its handshake */
		sv_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", accept);
	}
	sv_net_raise_nofile();
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep < 0) {
		sv_log_error("epoll: %s", strerror(errno));
		return EX_OSERR;
	}
	s->lfd = sv_net_listen(o->listen, &e);
	if (s->lfd < 0) {
		sv_log_error("%s", e.msg);
		return e.ex;
	}
	if (sv_net_set_nonblock(s->lfd, 1) < 0 ||
	    ep_add(s, s->lfd, EPOLLIN, &s->lh) < 0) {
		sv_log_error("listen: %s", strerror(errno));
		return EX_OSERR;
	}
	s->accepting = true;
	/* a pipe or socket is polled; a file or /dev/null cannot be, and is
	 * always readable */
	s->in_polled = ep_add(s, 0, EPOLLIN, &s->ih) == 0;
	if (o->port_file != NULL &&
	    sv_net_write_port_file(o->port_file, s->lfd, &e) < 0) {
		sv_log_error("%s", e.msg);
		return e.ex;
	}
	{
		char addr[80];

		(void)sv_net_local_addr(s->lfd, addr, sizeof(addr));
		sv_log_info("listening on http://%s/", addr);
	}
	s->next_ping = sv_net_now_ms() + o->ping_ms;
	return 0;
}

static void
teardown(struct srv *s)
{
	while (s->cl_head != NULL)
		client_free(s, s->cl_head, NULL);
	while (s->hc_head != NULL)
		hconn_free(s, s->hc_head);
	sv_control_queue_fini(&s->rq);
	bury(s);
	sv_bcast_history_fini(&s->hist);
	sv_dedupe_free(s->dd);
	sv_ws_frame_unref(s->ping);
	sv_event_input_fini(&s->in);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->ep >= 0)
		close(s->ep);
	sv_site_fini(&s->site);
}

static int
loop_timeout(struct srv *s, long long now)
{
	long long t = LOOP_CAP_MS;

	if (s->in_open && !s->in_polled)
		return 0;
	if (!s->site.stopping && s->next_ping - now < t)
		t = s->next_ping - now;
	return t < 0 ? 0 : (int)t;
}

static int
run(const struct opts *o)
{
	struct epoll_event evs[256];
	struct handler *h;
	struct srv s;
	long long now;
	int n, i, ex;

	ex = setup(&s, o);
	if (ex != 0) {
		teardown(&s);
		return ex;
	}
	for (;;) {
		if (sv_cli_stopping())
			stop(&s, "stopped");
		if (s.site.stopping &&
		    (s.nclients == 0 || sv_net_now_ms() >= s.stop_deadline))
			break;
		now = sv_net_now_ms();
		n = epoll_wait(s.ep, evs, 256, loop_timeout(&s, now));
		if (n < 0 && errno != EINTR) {
			sv_log_error("epoll_wait: %s", strerror(errno));
			s.ex = EX_OSERR;
			break;
		}
		for (i = 0; i < n; i++) {
			h = evs[i].data.ptr;
			switch (h->kind) {
			case K_LISTEN:
				accept_all(&s);
				break;
			case K_STDIN:
				if (s.in_open)
					input_read(&s);
				break;
			case K_HTTP:
				hconn_io(&s, (struct hconn *)h, evs[i].events);
				break;
			case K_WS:
				client_io(
				    &s, (struct client *)h, evs[i].events);
				break;
			case K_DEAD:
				break;
			}
		}
		if (s.in_open && !s.in_polled)
			input_read(&s);
		handle_requests(&s);
		timers(&s, sv_net_now_ms());
		bury(&s);
	}
	ex = s.ex;
	teardown(&s);
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
