/*
 * dedupe: FIFO ring of ids plus an open-addressing hash index into it.
 * The index has a power-of-two size at least twice the ring, and uses
 * backward-shift deletion, so lookups stay short with no tombstones.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dedupe.h"

#define EMPTY SIZE_MAX

struct sv_dedupe {
	size_t size; /* ring capacity */
	size_t count;
	size_t head; /* next ring slot to fill (oldest when full) */
	char **ring;
	size_t mask; /* index size - 1 */
	size_t *index; /* ring positions, or EMPTY */
};

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	while (*s != '\0') {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

struct sv_dedupe *
sv_dedupe_new(size_t size)
{
	struct sv_dedupe *d;
	size_t n = 16, i;

	if (size == 0 || size > SIZE_MAX / 8)
		return NULL;
	while (n < size * 2)
		n *= 2;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->size = size;
	d->mask = n - 1;
	d->ring = calloc(size, sizeof(*d->ring));
	d->index = malloc(n * sizeof(*d->index));
	if (d->ring == NULL || d->index == NULL) {
		sv_dedupe_free(d);
		return NULL;
	}
	for (i = 0; i < n; i++)
		d->index[i] = EMPTY;
	return d;
}

void
sv_dedupe_free(struct sv_dedupe *d)
{
	size_t i;

	if (d == NULL)
		return;
	if (d->ring != NULL)
		for (i = 0; i < d->size; i++)
			free(d->ring[i]);
	free(d->ring);
	free(d->index);
	free(d);
}

/* Slot in the index holding id, or the empty slot where it would go. */
static size_t
find(const struct sv_dedupe *d, const char *id, int *found)
{
	size_t i = (size_t)hash(id) & d->mask;

	while (d->index[i] != EMPTY) {
		if (strcmp(d->ring[d->index[i]], id) == 0) {
			*found = 1;
			return i;
		}
		i = (i + 1) & d->mask;
	}
	*found = 0;
	return i;
}

static void
index_delete(struct sv_dedupe *d, size_t i)
{
	size_t j = i, home;

	d->index[i] = EMPTY;
	for (;;) {
		j = (j + 1) & d->mask;
		if (d->index[j] == EMPTY)
			return;
		home = (size_t)hash(d->ring[d->index[j]]) & d->mask;
		/* Move j back into the hole at i unless its home lies
		 * cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			d->index[i] = d->index[j];
			d->index[j] = EMPTY;
			i = j;
		}
	}
}

bool
sv_dedupe_contains(const struct sv_dedupe *d, const char *id)
{
	int found;

	if (d == NULL || id == NULL)
		return false;
	(void)find(d, id, &found);
	return found != 0;
}

static void
evict(struct sv_dedupe *d, size_t pos)
{
	size_t slot;
	int found;

	if (d->ring[pos] == NULL)
		return;
	slot = find(d, d->ring[pos], &found);
	if (found)
		index_delete(d, slot);
	free(d->ring[pos]);
	d->ring[pos] = NULL;
	d->count--;
}

bool
sv_dedupe_check(struct sv_dedupe *d, const char *id)
{
	size_t slot;
	char *copy;
	int found;

	if (d == NULL || id == NULL)
		return false;
	(void)find(d, id, &found);
	if (found)
		return true;
	copy = strdup(id);
	if (copy == NULL)
		return false;
	evict(d, d->head);
	d->ring[d->head] = copy;
	slot = find(d, copy, &found);
	d->index[slot] = d->head;
	d->head = (d->head + 1) % d->size;
	d->count++;
	return false;
}

void
sv_dedupe_forget(struct sv_dedupe *d, const char *id)
{
	size_t slot, pos;
	int found;

	if (d == NULL || id == NULL)
		return;
	slot = find(d, id, &found);
	if (!found)
		return;
	pos = d->index[slot];
	index_delete(d, slot);
	free(d->ring[pos]);
	d->ring[pos] = NULL;
	d->count--;
}

size_t
sv_dedupe_count(const struct sv_dedupe *d)
{
	return d != NULL ? d->count : 0;
}
