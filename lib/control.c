/* control: dashboard messages for ws-broadcast; see control.h. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "control.h"
#include "event.h"
#include "synth.h"
#include "types.h"

static const char *
op_name(enum sv_control_op op)
{
	switch (op) {
	case SV_CONTROL_REPLAY:
		return "replay";
	case SV_CONTROL_TEST:
		return "test";
	default:
		return "error";
	}
}

/* Copy the string member key of o into out; -1 when it is there but not
 * a string or too long, 0 when absent (out ""), 1 when copied. */
static int
get_str(const json_t *o, const char *key, char *out, size_t n)
{
	const json_t *v = json_object_get(o, key);
	size_t l;

	out[0] = '\0';
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return -1;
	l = json_string_length(v);
	if (l >= n || memchr(json_string_value(v), '\0', l) != NULL)
		return -1;
	memcpy(out, json_string_value(v), l + 1);
	return 1;
}

int
sv_control_parse(
    const char *data, size_t len, struct sv_control_req *r, struct sv_err *e)
{
	char op[16];
	json_t *o;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	o = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		sv_err_set(e, EX_DATAERR, "not a JSON object");
		goto out;
	}
	if (get_str(o, "op", op, sizeof(op)) != 1) {
		sv_err_set(e, EX_DATAERR, "no \"op\"");
		goto out;
	}
	if (strcmp(op, "replay") == 0) {
		r->op = SV_CONTROL_REPLAY;
		if (get_str(o, "id", r->id, sizeof(r->id)) != 1 ||
		    r->id[0] == '\0') {
			sv_err_set(e, EX_DATAERR, "replay needs an \"id\"");
			goto out;
		}
	} else if (strcmp(op, "test") == 0) {
		r->op = SV_CONTROL_TEST;
		if (get_str(o, "type", r->type, sizeof(r->type)) != 1 ||
		    r->type[0] == '\0') {
			sv_err_set(e, EX_DATAERR, "test needs a \"type\"");
			goto out;
		}
		if (get_str(o, "channel", r->channel, sizeof(r->channel)) < 0) {
			sv_err_set(e, EX_DATAERR, "bad \"channel\"");
			goto out;
		}
		sv_bcast_lower(r->channel); /* a login */
	} else {
		sv_err_set(e, EX_DATAERR, "unknown op");
		goto out;
	}
	rc = 0;
out:
	json_decref(o);
	return rc;
}

int
sv_control_replay_event(
    struct sv_bcast_event *out, const struct sv_bcast_event *ev)
{
	const char *line;
	size_t len;
	json_t *o;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	line = sv_ws_frame_payload(ev->frame, &len);
	o = json_loadb(line, len, 0, NULL);
	if (json_is_object(o) &&
	    json_object_set_new(o, "replay", json_true()) == 0)
		rc = sv_bcast_event_json(out, o);
	json_decref(o);
	return rc;
}

int
sv_control_test_event(struct sv_bcast_event *out, const char *type,
    const char *channel, struct sv_err *e)
{
	const struct sv_type *t = sv_types_find(type);
	char id[SV_EVENT_ID_LEN];
	struct sv_synth_opts so;
	struct sv_synth r;
	json_t *ev, *env;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (t == NULL || !sv_synth_supported(t->type))
		return sv_err_set(e, EX_DATAERR, "unknown type");
	sv_synth_init(&r, 0);
	sv_synth_opts_init(&so);
	if (channel != NULL && channel[0] != '\0')
		so.broadcaster = channel;
	ev = sv_synth_event(&r, t->type, &so);
	if (ev == NULL)
		return sv_err_set(e, EX_OSERR, "out of memory");
	sv_event_uuid4(id);
	env = sv_event_new(id, t->type, t->version, "trigger", NULL, ev);
	if (env != NULL && json_object_set_new(env, "test", json_true()) == 0)
		rc = sv_bcast_event_json(out, env);
	json_decref(env);
	if (rc < 0)
		sv_err_set(e, EX_OSERR, "out of memory");
	return rc;
}

json_t *
sv_control_test_types(void)
{
	const char *const *t;
	json_t *a = json_array();

	for (t = sv_synth_types(); a != NULL && *t != NULL; t++) {
		if (json_array_append_new(a, json_string(*t)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

char *
sv_control_reply(
    enum sv_control_op op, const char *id, const char *error, size_t *outlen)
{
	json_t *o;
	char *s = NULL;

	o = json_pack("{s:s,s:b}", "op", op_name(op), "ok", error == NULL);
	if (o == NULL)
		return NULL;
	if ((id == NULL || id[0] == '\0' ||
	        json_object_set_new(o, "id", sv_event_str_lossy(id)) == 0) &&
	    (error == NULL ||
	        json_object_set_new(o, "error", json_string(error)) == 0))
		s = json_dumps(o, JSON_COMPACT);
	if (s != NULL)
		*outlen = strlen(s);
	json_decref(o);
	return s;
}

void
sv_control_queue_init(struct sv_control_queue *q)
{
	q->head = q->tail = NULL;
	q->n = 0;
}

void
sv_control_queue_fini(struct sv_control_queue *q)
{
	struct sv_control_msg *m;

	while ((m = sv_control_queue_pop(q)) != NULL)
		free(m);
}

static void
append(struct sv_control_queue *q, struct sv_control_msg *m)
{
	m->next = NULL;
	if (q->tail != NULL)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
}

/* Answer one more message from `from` with error: the last entry again
 * when it is the same, else a new one. */
static int
push_error(struct sv_control_queue *q, void *from, const char *error)
{
	struct sv_control_msg *m = q->tail;

	if (m != NULL && m->from == from && m->error == error) {
		m->count++;
		return 0;
	}
	m = malloc(sizeof(*m) + 1);
	if (m == NULL)
		return -1;
	m->from = from;
	m->error = error;
	m->count = 1;
	m->len = 0;
	m->data[0] = '\0';
	append(q, m);
	return 0;
}

int
sv_control_queue_push(struct sv_control_queue *q, void *from, bool text,
    const char *data, size_t len)
{
	struct sv_control_msg *m;

	/* past the limit nothing more is counted: the errors coalesce */
	if (q->n >= SV_CONTROL_QUEUE_MAX)
		return push_error(q, from, SV_CONTROL_ERR_MANY);
	q->n++;
	if (!text)
		return push_error(q, from, SV_CONTROL_ERR_BINARY);
	m = malloc(sizeof(*m) + len + 1);
	if (m == NULL)
		return push_error(q, from, SV_CONTROL_ERR_NOMEM);
	m->from = from;
	m->error = NULL;
	m->count = 1;
	m->len = len;
	if (len > 0)
		memcpy(m->data, data, len);
	m->data[len] = '\0';
	append(q, m);
	return 0;
}

struct sv_control_msg *
sv_control_queue_pop(struct sv_control_queue *q)
{
	struct sv_control_msg *m = q->head;

	if (m == NULL)
		return NULL;
	q->head = m->next;
	if (q->head == NULL) {
		q->tail = NULL;
		q->n = 0; /* a new round */
	}
	m->next = NULL;
	return m;
}
