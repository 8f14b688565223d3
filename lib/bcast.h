/*
 * bcast: what ws-broadcast keeps of each event it sends: the WebSocket
 * frame (built once, shared by every client) with the fields the client
 * filters look at; the filters themselves (?types=, ?channel=); and the
 * bounded history that --replay, ?replay= and control replays read.
 *
 * Not thread-safe; no I/O.
 */
#ifndef SV_BCAST_H
#define SV_BCAST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "err.h"
#include "ws.h"

struct sv_bcast_event {
	struct sv_ws_frame *frame; /* one reference */
	char *id; /* NULL when the line has none */
	char *type; /* NULL when none */
	char *login; /* the channel, lower case; NULL when none */
};

/*
 * Frame line[0..len) (the text of obj) as one text message and copy its
 * id, type and channel login: event.broadcaster_user_login, or for raids
 * and hosts, which have none, event.to_broadcaster_user_login. Returns
 * 0, or -1 when out of memory (ev is left empty).
 */
int sv_bcast_event_init(
    struct sv_bcast_event *ev, const json_t *obj, const char *line, size_t len);

/* The same for an event that is not a line yet: obj framed as its
 * compact JSON text. */
int sv_bcast_event_json(struct sv_bcast_event *ev, const json_t *obj);

/* Release what ev holds and clear it. */
void sv_bcast_event_fini(struct sv_bcast_event *ev);

/* Lower-case ASCII letters in place (Twitch logins are lower case). */
void sv_bcast_lower(char *s);

/* A client's filter: comma-separated lists, NULL for "any". */
struct sv_bcast_filter {
	char *types; /* exact EventSub types */
	char *channels; /* lower-case logins, compared without case */
};

/* Does ev pass f? An event without a type or login fails a filter on it. */
bool sv_bcast_match(
    const struct sv_bcast_filter *f, const struct sv_bcast_event *ev);

/*
 * A client's filter and replay count from its request target:
 * ?types=T,T (Twitch CLI aliases such as "follow" name their EventSub
 * types), ?channel=LOGIN (lower-cased) and ?replay=N (0 to max_replay;
 * *replay_n is -1 without one); an empty value counts as absent.
 * Returns 0 with f filled (release it with sv_bcast_filter_fini()), or
 * -1 with f left empty and e set: EX_DATAERR when one of them is
 * malformed, EX_OSERR when memory ran out (never a filter that lets more
 * through than asked).
 */
int sv_bcast_filter_parse(struct sv_bcast_filter *f, const char *target,
    unsigned long max_replay, long *replay_n, struct sv_err *e);

/* Free the lists and clear f. */
void sv_bcast_filter_fini(struct sv_bcast_filter *f);

/* The last cap events, oldest first. */
struct sv_bcast_history {
	struct sv_bcast_event *ring;
	size_t cap, len, head;
};

/* 0, or -1 when out of memory. cap >= 1 (the other functions rely on
 * it). */
int sv_bcast_history_init(struct sv_bcast_history *h, size_t cap);
void sv_bcast_history_fini(struct sv_bcast_history *h);

/* Keep ev (its contents move into h; ev is cleared), dropping the oldest
 * event when full. */
void sv_bcast_history_push(
    struct sv_bcast_history *h, struct sv_bcast_event *ev);

/* The i-th event kept, 0 the oldest (i < h->len); borrowed. */
const struct sv_bcast_event *sv_bcast_history_at(
    const struct sv_bcast_history *h, size_t i);

/* The newest event with this id, or NULL; borrowed. */
const struct sv_bcast_event *sv_bcast_history_find(
    const struct sv_bcast_history *h, const char *id);

/* Where the last n events that pass f start: the index (for _at) from
 * which walking to the end meets them all; h->len when n is 0. */
size_t sv_bcast_history_tail(const struct sv_bcast_history *h, size_t n,
    const struct sv_bcast_filter *f);

#endif
