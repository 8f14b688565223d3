/*
 * backoff: reconnect delays, exponential with jitter: 1 s doubling to
 * 60 s (DESIGN.md section 3). SERVITOR_RETRY_MIN_MS and
 * SERVITOR_RETRY_MAX_MS override the bounds (tests use small values).
 */
#ifndef SV_BACKOFF_H
#define SV_BACKOFF_H

struct sv_backoff {
	long min_ms;
	long max_ms;
	unsigned attempt; /* failures since the last success */
};

/* Bounds from the environment, else 1000 and 60000 ms; attempt 0. */
void sv_backoff_init(struct sv_backoff *b);

/*
 * The delay before the next attempt: min * 2^attempt capped at max, with
 * "equal jitter" (between half and all of it), then attempt++.
 */
long sv_backoff_next_ms(struct sv_backoff *b);

/* After a success. */
void sv_backoff_reset(struct sv_backoff *b);

#endif
