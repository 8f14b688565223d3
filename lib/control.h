/*
 * control: the messages the dashboard page sends to ws-broadcast over
 * its WebSocket, and the lines ws-broadcast sends back and broadcasts
 * for them (ws-broadcast(1), CONTROL MESSAGES).
 *
 *   {"op":"replay","id":"ID"}                  show event ID again
 *   {"op":"test","type":"TYPE","channel":"L"}  a synthetic TYPE event
 *
 * A replayed event is the stored line with "replay":true added, so
 * overlays that drop ids they have shown know to show it again; a test
 * event is a synthetic envelope (source "trigger") with "test":true.
 * Both are built here as lib/bcast events, ready to send. The sender
 * gets one reply per request:
 *
 *   {"op":"replay","ok":true,"id":"ID"}
 *   {"op":"test","ok":false,"error":"unknown type"}
 *   {"op":"error","ok":false,"error":"binary message: ..."}
 *
 * The parse and answer functions are pure functions over bytes (no I/O,
 * thread-safe); a struct sv_control_queue is one thread's.
 */
#ifndef SV_CONTROL_H
#define SV_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "bcast.h"
#include "err.h"

enum sv_control_op {
	SV_CONTROL_UNKNOWN, /* "op" missing or not known: replies say "error" */
	SV_CONTROL_REPLAY,
	SV_CONTROL_TEST,
};

struct sv_control_req {
	enum sv_control_op op;
	char id[256]; /* replay: the event's id */
	char type[128]; /* test: an EventSub type or CLI alias */
	char channel[64]; /* test: the broadcaster login (lower-cased), ""
	                     for the default */
};

/*
 * Parse one client message (data[0..len), not NUL-terminated): one JSON
 * object with a known "op" and the fields it needs, all strings of
 * bounded length. Returns 0 with r filled, or -1 with e set
 * (EX_DATAERR) and a message fit to send back to the client. r->op is
 * set as soon as "op" is known (else SV_CONTROL_UNKNOWN), so a reply
 * can name it.
 */
int sv_control_parse(
    const char *data, size_t len, struct sv_control_req *r, struct sv_err *e);

/*
 * The event ev again, to broadcast as a replay: its line with
 * "replay":true added (compact), its id, type and channel. Returns 0
 * with out filled (release it with sv_bcast_event_fini()), or -1 when
 * ev's line is not a JSON object or memory ran out (out left empty).
 */
int sv_control_replay_event(
    struct sv_bcast_event *out, const struct sv_bcast_event *ev);

/*
 * A test event of type (name or alias) for channel (NULL or "": the
 * synthetic default), with "test":true and a new id (out->id), ready to
 * broadcast. Returns 0 with out filled (release it with
 * sv_bcast_event_fini()); -1 with e set and out left empty: EX_DATAERR
 * ("unknown type") for a type synthetic events do not cover, EX_OSERR.
 */
int sv_control_test_event(struct sv_bcast_event *out, const char *type,
    const char *channel, struct sv_err *e);

/*
 * The types a test message may name, as a JSON array of EventSub type
 * names (those synthetic events cover, lib/synth), for pages that offer
 * them. Returns a new reference, or NULL when out of memory.
 */
json_t *sv_control_test_types(void);

/*
 * The reply to a request: {"op":..,"ok":true,"id":..} when error is NULL,
 * else {"op":..,"ok":false,"error":..}. id may be NULL or "" (left out).
 * Returns a line to free() (length in *outlen), or NULL when out of memory.
 */
char *sv_control_reply(
    enum sv_control_op op, const char *id, const char *error, size_t *outlen);

/*
 * The control messages of one round of a server's loop. They arrive while
 * the server reads a session, when it may neither send nor free one, so
 * it keeps them here and handles them, oldest first, once the round is
 * done. A round keeps at most SV_CONTROL_QUEUE_MAX messages with their
 * bytes. A message that cannot be a request (binary), or one past that
 * limit, is kept as the error to answer instead: one entry, counted,
 * for a run of them from the same sender, so that memory stays bounded
 * and still every message gets its answer.
 */
#define SV_CONTROL_QUEUE_MAX 1024

#define SV_CONTROL_ERR_BINARY "binary message: control messages are JSON text"
#define SV_CONTROL_ERR_MANY "too many messages at once"
#define SV_CONTROL_ERR_NOMEM "out of memory"

struct sv_control_msg {
	struct sv_control_msg *next;
	void *from; /* the sender, the caller's */
	const char *error; /* NULL: a request in data; else answer this */
	unsigned long count; /* error: how many messages it answers */
	size_t len;
	char data[]; /* data[0..len), a copy, NUL-terminated ("" for errors) */
};

struct sv_control_queue {
	struct sv_control_msg *head, *tail;
	size_t n; /* messages counted against SV_CONTROL_QUEUE_MAX, until
	             the queue is emptied (the end of a round) */
};

void sv_control_queue_init(struct sv_control_queue *q);

/* Free every message still kept. */
void sv_control_queue_fini(struct sv_control_queue *q);

/*
 * Keep a message from the sender from: a copy of data[0..len) when it is
 * text and fewer than SV_CONTROL_QUEUE_MAX are counted, else the error
 * to answer it with (SV_CONTROL_ERR_BINARY, SV_CONTROL_ERR_MANY, or
 * SV_CONTROL_ERR_NOMEM when the copy could not be made). Returns 0, or
 * -1 when memory ran out even for that (the message is lost).
 */
int sv_control_queue_push(struct sv_control_queue *q, void *from, bool text,
    const char *data, size_t len);

/* The oldest message, taken off the queue (the caller free()s it), or
 * NULL when none is left. */
struct sv_control_msg *sv_control_queue_pop(struct sv_control_queue *q);

#endif
