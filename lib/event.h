/*
 * event: the event envelope of DESIGN.md section 2, and the NDJSON input
 * and output every tool shares.
 *
 *   {"id":..,"type":..,"version":..,"source":..,"time":..,"event":{..}}
 *
 * This module is the only code that builds envelopes or writes records
 * to stdout. Writes are serialised under a mutex, so MHD threads and the
 * main loop may both call sv_event_write().
 */
#ifndef SV_EVENT_H
#define SV_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "buf.h"
#include "err.h"

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" plus NUL */
#define SV_EVENT_ID_LEN 37
/* "2026-11-28T21:04:05.123Z" plus NUL, with room for nanoseconds */
#define SV_EVENT_TIME_LEN 40

/*
 * Build an envelope. id, type, version, source and time are copied;
 * `event` is stolen (jansson's _new rule) and must be an object. time
 * NULL means now. Returns a new reference, or NULL when out of memory or
 * when an argument is missing or not UTF-8 (event is released then too).
 */
json_t *sv_event_new(const char *id, const char *type, const char *version,
    const char *source, const char *time, json_t *event);

/* A random (version 4) UUID from RAND_bytes. */
void sv_event_uuid4(char out[SV_EVENT_ID_LEN]);

/*
 * A stable id for sources without one: SHA-256 of the source's bytes,
 * shaped like a UUID (version nibble 8). Same bytes, same id.
 */
void sv_event_id_hash(const void *bytes, size_t len, char out[SV_EVENT_ID_LEN]);

/* Now as RFC 3339 UTC with milliseconds: 2026-11-28T21:04:05.123Z. */
void sv_event_time_now(char out[SV_EVENT_TIME_LEN]);

/* Now with nanoseconds, as Twitch writes event times. */
void sv_event_time_now_ns(char out[SV_EVENT_TIME_LEN]);

/* Unix epoch milliseconds (e.g. IRC tmi-sent-ts) as RFC 3339 UTC. */
void sv_event_time_from_ms(int64_t ms, char out[SV_EVENT_TIME_LEN]);

/*
 * Normalise an RFC 3339 time with 0-9 fractional digits and any offset
 * ("2026-03-14T18:05:12.660129480Z", "...+02:00") to UTC milliseconds.
 * Returns 0, or -1 if s is not such a time.
 */
int sv_event_time_normalize(const char *s, char out[SV_EVENT_TIME_LEN]);

/*
 * Parse the same RFC 3339 times into seconds and nanoseconds since the
 * epoch (UTC). Returns 0, or -1 if s is not such a time (out untouched).
 */
int sv_event_time_parse(const char *s, struct timespec *out);

/*
 * Write one record: compact JSON, "\n", flush. Returns 0; or -1 with
 * e->ex == 0 when the reader has gone (EPIPE: stop quietly), or
 * e->ex == EX_IOERR for any other failure. Thread-safe.
 */
int sv_event_write(FILE *out, const json_t *obj, struct sv_err *e);

/* The same for bytes already serialised (no newline inside). */
int sv_event_write_line(
    FILE *out, const char *line, size_t len, struct sv_err *e);

struct sv_dedupe;

/*
 * A listener's events on stdout: an event whose id was printed within
 * the window of seen is dropped (Twitch delivers at least once, and two
 * sessions overlap during a reconnect), the others are written with
 * sv_event_write() and counted against count (-c N; 0: no limit).
 */
struct sv_event_out {
	FILE *f;
	struct sv_dedupe *seen; /* borrowed; NULL: no dedupe */
	unsigned long count;
	unsigned long printed;
};

/*
 * Put env out unless its id was printed already. Returns 0 to go on, 1
 * when the run is done (count reached, or the reader has gone: e->ex is
 * 0 either way), -1 when writing failed (e set: EX_IOERR, or EX_SOFTWARE /
 * EX_OSERR when env could not be serialised). Not
 * thread-safe for one object.
 */
int sv_event_out_put(
    struct sv_event_out *o, const json_t *env, struct sv_err *e);

/*
 * Parse one NDJSON line: exactly one JSON object, valid UTF-8, no
 * duplicate keys, nothing after it. Returns a new reference, or NULL with
 * e->ex = EX_DATAERR and a message saying what is wrong.
 */
json_t *sv_event_parse(const char *line, size_t len, struct sv_err *e);

/*
 * Look up a dotted path ("type", "event.broadcaster_user_login") in obj.
 * Returns a borrowed reference or NULL.
 */
json_t *sv_event_path(const json_t *obj, const char *path);

/*
 * A JSON string from a NUL-terminated string that may not be UTF-8: each
 * byte of an invalid sequence becomes U+FFFD. New reference or NULL.
 */
json_t *sv_event_str_lossy(const char *s);

/* The string at a dotted path, or NULL (borrowed). */
const char *sv_event_path_str(const json_t *obj, const char *path);

/*
 * NDJSON input: lines from an fd, each checked to be one JSON object.
 * Bad lines (not an object, too long) are warned about with their line
 * number, counted and skipped; with strict they end the input (EX_DATAERR).
 */
struct sv_event_input {
	struct sv_lines lines;
	bool strict;
	unsigned long bad; /* lines skipped */
	unsigned long good; /* lines returned */
};

enum sv_event_input_res {
	SV_INPUT_LINE, /* *obj (owned: json_decref it), *line, *len set */
	SV_INPUT_AGAIN, /* nothing complete yet: poll the fd, then _fill */
	SV_INPUT_EOF,
	SV_INPUT_ERROR, /* e set: EX_DATAERR (strict) or EX_IOERR */
};

/* 0, or -1 when out of memory. max_line 0 means 1 MiB. */
int sv_event_input_init(
    struct sv_event_input *in, int fd, size_t max_line, bool strict);
void sv_event_input_fini(struct sv_event_input *in);

/* Read once from the fd (non-blocking callers); see sv_lines_fill. */
ssize_t sv_event_input_fill(struct sv_event_input *in);

/*
 * Next valid object. With block, reads as needed (EINTR gives
 * SV_INPUT_AGAIN so the caller can check its stop flag); without, only
 * what sv_event_input_fill() buffered is used. *line is borrowed until
 * the next call.
 */
enum sv_event_input_res sv_event_input_next(struct sv_event_input *in,
    bool block, json_t **obj, const char **line, size_t *len, struct sv_err *e);

#endif
