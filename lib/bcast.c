/* bcast: ws-broadcast's events, filters and history; see bcast.h. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bcast.h"
#include "buf.h"
#include "cli.h"
#include "event.h"
#include "types.h"

int
sv_bcast_event_init(
    struct sv_bcast_event *ev, const json_t *obj, const char *line, size_t len)
{
	const char *login;
	bool oom = false;

	memset(ev, 0, sizeof(*ev));
	login = sv_event_path_str(obj, "event.broadcaster_user_login");
	if (login == NULL)
		login =
		    sv_event_path_str(obj, "event.to_broadcaster_user_login");
	ev->frame = sv_ws_frame_new(SV_WS_TEXT, line, len);
	ev->id = sv_buf_strdup(sv_event_path_str(obj, "id"), &oom);
	ev->type = sv_buf_strdup(sv_event_path_str(obj, "type"), &oom);
	ev->login = sv_buf_strdup(login, &oom);
	if (ev->frame == NULL || oom) {
		sv_bcast_event_fini(ev);
		return -1;
	}
	if (ev->login != NULL)
		sv_bcast_lower(ev->login);
	return 0;
}

int
sv_bcast_event_json(struct sv_bcast_event *ev, const json_t *obj)
{
	char *line = json_dumps(obj, JSON_COMPACT);
	int rc;

	if (line == NULL) {
		memset(ev, 0, sizeof(*ev));
		return -1;
	}
	rc = sv_bcast_event_init(ev, obj, line, strlen(line));
	free(line);
	return rc;
}

void
sv_bcast_event_fini(struct sv_bcast_event *ev)
{
	if (ev->frame != NULL)
		sv_ws_frame_unref(ev->frame);
	free(ev->id);
	free(ev->type);
	free(ev->login);
	memset(ev, 0, sizeof(*ev));
}

void
sv_bcast_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Is item in the comma-separated list (exact, or case-insensitive)? */
static bool
list_has(const char *list, const char *item, bool nocase)
{
	size_t il = strlen(item), n;
	const char *p = list;

	for (;;) {
		n = strcspn(p, ",");
		if (n == il &&
		    (nocase ? strncasecmp(p, item, n) : strncmp(p, item, n)) ==
		        0)
			return true;
		if (p[n] == '\0')
			return false;
		p += n + 1;
	}
}

bool
sv_bcast_match(const struct sv_bcast_filter *f, const struct sv_bcast_event *ev)
{
	if (f->types != NULL &&
	    (ev->type == NULL || !list_has(f->types, ev->type, false)))
		return false;
	if (f->channels != NULL &&
	    (ev->login == NULL || !list_has(f->channels, ev->login, true)))
		return false;
	return true;
}

/* ?types=: *out is the list with each alias replaced by its EventSub
 * type; 1 when it has no item (",": refused, or it would let every type
 * through), -1 when out of memory. */
static int
types_list(const char *val, char **out)
{
	const struct sv_type *t;
	char norm[1024];
	const char *p;
	struct sv_buf b;
	size_t n;

	sv_buf_init(&b);
	for (p = val; *p != '\0'; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		if (n == 0 || n >= sizeof(norm))
			continue;
		memcpy(norm, p, n);
		norm[n] = '\0';
		t = sv_types_find(norm);
		if (sv_buf_appendf(&b, "%s%s", b.len > 0 ? "," : "",
		        t != NULL ? t->type : norm) < 0) {
			sv_buf_fini(&b);
			return -1;
		}
	}
	*out = b.data;
	return b.data != NULL ? 0 : 1;
}

int
sv_bcast_filter_parse(struct sv_bcast_filter *f, const char *target,
    unsigned long max_replay, long *replay_n, struct sv_err *e)
{
	const char *bad;
	unsigned long rn;
	char val[1024];
	int r;

	f->types = f->channels = NULL;
	*replay_n = -1;
	bad = "?types=";
	r = sv_ws_query_get(target, "types", val, sizeof(val));
	if (r < 0)
		goto bad;
	if (r == 1 && val[0] != '\0') {
		r = types_list(val, &f->types);
		if (r < 0)
			goto oom;
		if (r > 0)
			goto bad;
	}
	bad = "?channel=";
	r = sv_ws_query_get(target, "channel", val, sizeof(val));
	if (r < 0)
		goto bad;
	if (r == 1 && val[0] != '\0') {
		sv_bcast_lower(val);
		if ((f->channels = strdup(val)) == NULL)
			goto oom;
	}
	bad = "?replay=";
	r = sv_ws_query_get(target, "replay", val, sizeof(val));
	if (r < 0)
		goto bad;
	if (r == 1 && val[0] != '\0') {
		if (sv_cli_ulong(val, 0, max_replay, &rn) < 0)
			goto bad;
		*replay_n = (long)rn;
	}
	return 0;
bad:
	sv_bcast_filter_fini(f);
	*replay_n = -1;
	return sv_err_set(e, EX_DATAERR, "bad %s", bad);
oom:
	/* never no filter, which would let every event through */
	sv_bcast_filter_fini(f);
	*replay_n = -1;
	return sv_err_set(e, EX_OSERR, "out of memory");
}

void
sv_bcast_filter_fini(struct sv_bcast_filter *f)
{
	free(f->types);
	free(f->channels);
	f->types = f->channels = NULL;
}

int
sv_bcast_history_init(struct sv_bcast_history *h, size_t cap)
{
	memset(h, 0, sizeof(*h));
	h->ring = calloc(cap, sizeof(*h->ring));
	if (h->ring == NULL)
		return -1;
	h->cap = cap;
	return 0;
}

void
sv_bcast_history_fini(struct sv_bcast_history *h)
{
	size_t i;

	for (i = 0; i < h->len; i++)
		sv_bcast_event_fini(&h->ring[(h->head + i) % h->cap]);
	free(h->ring);
	memset(h, 0, sizeof(*h));
}

void
sv_bcast_history_push(struct sv_bcast_history *h, struct sv_bcast_event *ev)
{
	if (h->len == h->cap) {
		sv_bcast_event_fini(&h->ring[h->head]);
		h->ring[h->head] = *ev;
		h->head = (h->head + 1) % h->cap;
	} else {
		h->ring[(h->head + h->len) % h->cap] = *ev;
		h->len++;
	}
	memset(ev, 0, sizeof(*ev));
}

const struct sv_bcast_event *
sv_bcast_history_at(const struct sv_bcast_history *h, size_t i)
{
	return &h->ring[(h->head + i) % h->cap];
}

const struct sv_bcast_event *
sv_bcast_history_find(const struct sv_bcast_history *h, const char *id)
{
	const struct sv_bcast_event *ev;
	size_t i;

	for (i = h->len; i > 0; i--) {
		ev = sv_bcast_history_at(h, i - 1);
		if (ev->id != NULL && strcmp(ev->id, id) == 0)
			return ev;
	}
	return NULL;
}

size_t
sv_bcast_history_tail(
    const struct sv_bcast_history *h, size_t n, const struct sv_bcast_filter *f)
{
	size_t start = h->len, got = 0;

	while (start > 0 && got < n) {
		start--;
		if (sv_bcast_match(f, sv_bcast_history_at(h, start)))
			got++;
	}
	return got == 0 ? h->len : start;
}
