/* backoff: reconnect delays; see backoff.h. */
#include <errno.h>
#include <stdlib.h>

#include <openssl/rand.h>

#include "backoff.h"

static long
env_ms(const char *name, long dflt)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return dflt;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1 || n > 3600000)
		return dflt;
	return n;
}

void
sv_backoff_init(struct sv_backoff *b)
{
	b->min_ms = env_ms("SERVITOR_RETRY_MIN_MS", 1000);
	b->max_ms = env_ms("SERVITOR_RETRY_MAX_MS", 60000);
	if (b->max_ms < b->min_ms)
		b->max_ms = b->min_ms;
	b->attempt = 0;
}

long
sv_backoff_next_ms(struct sv_backoff *b)
{
	long d = b->min_ms;
	unsigned i, r = 0;

	for (i = 0; i < b->attempt && d < b->max_ms; i++)
		d *= 2;
	if (d > b->max_ms)
		d = b->max_ms;
	if (b->attempt < 64)
		b->attempt++;
	(void)RAND_bytes((unsigned char *)&r, sizeof(r));
	return d / 2 + (long)(r % (unsigned)(d / 2 + 1));
}

void
sv_backoff_reset(struct sv_backoff *b)
{
	b->attempt = 0;
}
