/*
 * dedupe: a bounded window of recently seen ids. Delivery is at least once
 * end to end; every tool that prints or forwards events drops an id it has
 * already handled within the last N ids (DESIGN.md section 6).
 *
 * Not thread-safe: callers that share one across threads lock around it.
 */
#ifndef SV_DEDUPE_H
#define SV_DEDUPE_H

#include <stdbool.h>
#include <stddef.h>

struct sv_dedupe;

/* A window of the last `size` ids (size >= 1). NULL when out of memory. */
struct sv_dedupe *sv_dedupe_new(size_t size);
void sv_dedupe_free(struct sv_dedupe *d);

/*
 * Has `id` been seen within the window? If not, remember it (evicting the
 * oldest id when full) and return false. Out of memory: false (never drop
 * an event because the cache could not grow).
 */
bool sv_dedupe_check(struct sv_dedupe *d, const char *id);

/* Is `id` in the window? Does not insert. */
bool sv_dedupe_contains(const struct sv_dedupe *d, const char *id);

/* Forget `id` (e.g. an event that could not be delivered after all). */
void sv_dedupe_forget(struct sv_dedupe *d, const char *id);

/* Number of ids held. */
size_t sv_dedupe_count(const struct sv_dedupe *d);

#endif
