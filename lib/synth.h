/*
 * synth: synthetic events, field for field in the shape the real sources
 * emit (twitch-protocols.md section 3). Used by twitch-trigger, and by
 * anything that needs a realistic test alert.
 */
#ifndef SV_SYNTH_H
#define SV_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/* A small deterministic PRNG (xoroshiro128+), seedable for tests. */
struct sv_synth {
	uint64_t s[2];
};

/* Seed 0 means a random seed from RAND_bytes. */
void sv_synth_init(struct sv_synth *r, uint64_t seed);

/* A uniformly distributed integer in [lo, hi]. */
long sv_synth_range(struct sv_synth *r, long lo, long hi);

/* Values a caller may fix; the rest are picked at random. */
struct sv_synth_opts {
	const char *user; /* acting user's login, NULL: random */
	const char *broadcaster; /* broadcaster login, NULL: "glowcaster" */
	long amount; /* bits, gift count, months, cost; -1: random */
	long viewers; /* raid/host viewers; -1: random */
	const char *tier; /* "1000" "2000" "3000"; NULL: random */
	const char *message; /* chat/sub message or reward input */
	const char *reward; /* reward title; NULL: random */
	bool anonymous; /* anonymous gift or cheer */
};

/* Initialise opts to "everything random". */
void sv_synth_opts_init(struct sv_synth_opts *o);

/* The types synth can make, NULL-terminated. */
const char *const *sv_synth_types(void);

/* Is type (full name, not alias) one synth can make? */
bool sv_synth_supported(const char *type);

/* One of sv_synth_types() at random (weighted toward common alerts). */
const char *sv_synth_random_type(struct sv_synth *r);

/*
 * The EventSub `event` object for type. Returns a new reference, or NULL
 * if type is not supported or memory ran out.
 */
json_t *sv_synth_event(
    struct sv_synth *r, const char *type, const struct sv_synth_opts *o);

/*
 * A stable numeric user id (decimal string, 8-9 digits) for a login, so
 * the same login always gets the same id.
 */
void sv_synth_user_id(const char *login, char out[16]);

#endif
