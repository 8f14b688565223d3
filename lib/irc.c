/* irc: IRCv3 message parser and line builder; see irc.h. */
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "irc.h"

void
sv_irc_msg_init(struct sv_irc_msg *m)
{
	memset(m, 0, sizeof(*m));
}

void
sv_irc_msg_fini(struct sv_irc_msg *m)
{
	free(m->buf);
	sv_irc_msg_init(m);
}

size_t
sv_irc_unescape(char *s)
{
	char *r = s, *w = s;

	while (*r != '\0') {
		if (*r != '\\') {
			*w++ = *r++;
			continue;
		}
		r++;
		switch (*r) {
		case '\0':
			continue; /* lone trailing backslash: dropped */
		case ':':
			*w++ = ';';
			break;
		case 's':
			*w++ = ' ';
			break;
		case '\\':
			*w++ = '\\';
			break;
		case 'r':
			*w++ = '\r';
			break;
		case 'n':
			*w++ = '\n';
			break;
		default:
			*w++ = *r; /* unknown escape: drop the backslash */
			break;
		}
		r++;
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* Next space-delimited token at *p (several spaces count as one). */
static char *
token(char **p)
{
	char *s = *p, *sp;

	while (*s == ' ')
		s++;
	if (*s == '\0') {
		*p = s;
		return NULL;
	}
	sp = strchr(s, ' ');
	if (sp != NULL) {
		*sp = '\0';
		*p = sp + 1;
	} else {
		*p = s + strlen(s);
	}
	return s;
}

static int
parse_tags(struct sv_irc_msg *m, char *tags, struct sv_err *e)
{
	char *t = tags, *semi, *eq;

	while (t != NULL && *t != '\0') {
		semi = strchr(t, ';');
		if (semi != NULL)
			*semi = '\0';
		if (*t != '\0') {
			if (m->ntags == SV_IRC_MAX_TAGS)
				return sv_err_set(e, EX_PROTOCOL,
				    "more than %d tags", SV_IRC_MAX_TAGS);
			eq = strchr(t, '=');
			if (eq != NULL) {
				*eq = '\0';
				sv_irc_unescape(eq + 1);
			}
			if (*t == '\0')
				return sv_err_set(
				    e, EX_PROTOCOL, "tag without a key");
			m->tags[m->ntags].key = t;
			m->tags[m->ntags].value = eq != NULL ? eq + 1 : "";
			m->ntags++;
		}
		t = semi != NULL ? semi + 1 : NULL;
	}
	return 0;
}

int
sv_irc_parse(
    struct sv_irc_msg *m, const char *line, size_t len, struct sv_err *e)
{
	char *p, *tok, *bang;
	size_t i;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	m->ntags = 0;
	m->nparams = 0;
	m->prefix = m->nick = m->command = NULL;
	m->has_trailing = false;
	if (len == 0)
		return sv_err_set(e, EX_PROTOCOL, "empty line");
	if (len > SV_IRC_MAX_LINE)
		return sv_err_set(e, EX_PROTOCOL, "line longer than %d bytes",
		    SV_IRC_MAX_LINE);
	if (memchr(line, '\0', len) != NULL)
		return sv_err_set(e, EX_PROTOCOL, "NUL byte in line");
	for (i = 0; i < len; i++)
		if (line[i] == '\r' || line[i] == '\n')
			return sv_err_set(
			    e, EX_PROTOCOL, "line break inside a line");
	/* The line, then room for a copy of the nick after it. */
	if (2 * len + 2 > m->cap) {
		char *nb = realloc(m->buf, 2 * len + 2);

		if (nb == NULL)
			return sv_err_set(e, EX_OSERR, "out of memory");
		m->buf = nb;
		m->cap = 2 * len + 2;
	}
	memcpy(m->buf, line, len);
	m->buf[len] = '\0';
	p = m->buf;

	if (*p == '@') {
		tok = token(&p);
		if (tok == NULL || tok[1] == '\0')
			return sv_err_set(e, EX_PROTOCOL, "empty tags");
		if (parse_tags(m, tok + 1, e) < 0)
			return -1;
	}
	while (*p == ' ')
		p++;
	if (*p == ':') {
		tok = token(&p);
		if (tok == NULL || tok[1] == '\0')
			return sv_err_set(e, EX_PROTOCOL, "empty prefix");
		m->prefix = tok + 1;
		bang = strchr(tok + 1, '!');
		if (bang != NULL) {
			/* nick: a copy of the prefix up to '!', kept after
			 * the line so the prefix stays whole. */
			char *nick = m->buf + len + 1;
			size_t nl = (size_t)(bang - (tok + 1));

			memcpy(nick, tok + 1, nl);
			nick[nl] = '\0';
			m->nick = nick;
		} else {
			m->nick = m->prefix;
		}
	}
	tok = token(&p);
	if (tok == NULL)
		return sv_err_set(e, EX_PROTOCOL, "no command");
	m->command = tok;
	for (i = 0; tok[i] != '\0'; i++) {
		char c = tok[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		        (c >= '0' && c <= '9')))
			return sv_err_set(e, EX_PROTOCOL, "bad command");
	}
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (m->nparams == SV_IRC_MAX_PARAMS)
			return sv_err_set(
			    e, EX_PROTOCOL, "too many parameters");
		if (*p == ':') {
			m->params[m->nparams++] = p + 1;
			m->has_trailing = true;
			break;
		}
		m->params[m->nparams++] = token(&p);
	}
	return 0;
}

const char *
sv_irc_tag(const struct sv_irc_msg *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->ntags; i++)
		if (strcmp(m->tags[i].key, key) == 0)
			return m->tags[i].value;
	return NULL;
}

const char *
sv_irc_param(const struct sv_irc_msg *m, size_t i)
{
	return i < m->nparams ? m->params[i] : NULL;
}

json_t *
sv_irc_msg_json(const struct sv_irc_msg *m)
{
	json_t *o, *tags, *params;
	size_t i;
	int rc = 0;

	o = json_object();
	tags = json_object();
	params = json_array();
	if (o == NULL || tags == NULL || params == NULL) {
		json_decref(o);
		json_decref(tags);
		json_decref(params);
		return NULL;
	}
	for (i = 0; i < m->ntags; i++) {
		json_t *v = sv_event_str_lossy(m->tags[i].value);
		char *k = NULL;

		/* Keys are ASCII in practice; fix them like values if not. */
		if (json_object_set_new(tags, m->tags[i].key, v) < 0) {
			json_t *kk = sv_event_str_lossy(m->tags[i].key);

			k = kk != NULL ? strdup(json_string_value(kk)) : NULL;
			json_decref(kk);
			rc |= k == NULL || json_object_set_new(tags, k, v) < 0;
			free(k);
		}
	}
	for (i = 0; i < m->nparams; i++)
		rc |= json_array_append_new(
		    params, sv_event_str_lossy(m->params[i]));
	rc |= json_object_set_new(o, "tags", tags);
	rc |= json_object_set_new(o, "prefix",
	    m->prefix != NULL ? sv_event_str_lossy(m->prefix) : json_null());
	rc |= json_object_set_new(o, "command", sv_event_str_lossy(m->command));
	rc |= json_object_set_new(o, "params", params);
	if (rc != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int
sv_irc_format(char *out, size_t n, const char *command,
    const char *const *params, size_t nparams)
{
	size_t i, len = 0, pl;
	const char *p;
	int last;

	pl = strlen(command);
	if (pl == 0 || pl + 3 > n)
		return -1;
	memcpy(out, command, pl);
	len = pl;
	for (i = 0; i < nparams; i++) {
		p = params[i];
		if (strpbrk(p, "\r\n") != NULL)
			return -1;
		last = i + 1 == nparams;
		if (!last && (*p == '\0' || *p == ':' || strchr(p, ' ')))
			return -1;
		pl = strlen(p);
		if (len + pl + 4 > n)
			return -1;
		out[len++] = ' ';
		if (last && (*p == '\0' || *p == ':' || strchr(p, ' ') != NULL))
			out[len++] = ':';
		memcpy(out + len, p, pl);
		len += pl;
	}
	if (len + 3 > n)
		return -1;
	memcpy(out + len, "\r\n", 3);
	return (int)(len + 2);
}
