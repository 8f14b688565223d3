/* ircev: Twitch chat messages to events; see ircev.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "ircev.h"
#include "log.h"

/* Twitch's stand-in for anonymous gifters. */
#define ANON_GIFTER_ID "274598607"
#define ANON_GIFTER_LOGIN "ananonymousgifter"

struct event_name {
	const char *name;
	unsigned bit;
};

void
sv_ircev_init(struct sv_ircev *c, unsigned events, bool raw)
{
	memset(c, 0, sizeof(*c));
	c->events = events;
	c->raw = raw;
}

int
sv_ircev_parse_events(
    const char *list, unsigned *events, const char **bad, size_t *badlen)
{
	static const struct event_name names[] = {
		{ "host", SV_IRCEV_HOST },
		{ "raid", SV_IRCEV_RAID },
		{ "sub", SV_IRCEV_SUB },
		{ "resub", SV_IRCEV_RESUB },
		{ "gift", SV_IRCEV_GIFT },
		{ "cheer", SV_IRCEV_CHEER },
		{ "all", SV_IRCEV_ALL },
	};

	const char *p = list, *end;
	size_t n, i;
	unsigned ev = 0;

	while (*p != '\0') {
		end = strchr(p, ',');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == n &&
			    strncmp(names[i].name, p, n) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0])) {
			*bad = p;
			*badlen = n;
			return -1;
		}
		ev |= names[i].bit;
		p += n;
		if (*p == ',')
			p++;
	}
	if (ev == 0) {
		*bad = list;
		*badlen = 0;
		return -1;
	}
	*events = ev;
	return 0;
}

/* A non-negative decimal integer tag, or -1. */
static long
num(const char *s)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	return v;
}

static const char *
channel_of(const struct sv_irc_msg *m)
{
	const char *ch = sv_irc_param(m, 0);

	if (ch == NULL)
		return NULL;
	return *ch == '#' ? ch + 1 : ch;
}

static void
lower(char *dst, size_t n, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < n && src[i] != '\0'; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

/* Set key to a string if s is a non-empty valid string. */
static int
set_str(json_t *o, const char *key, const char *s)
{
	json_t *j;

	if (s == NULL || *s == '\0')
		return 0;
	j = json_string(s);
	if (j == NULL)
		return 0; /* not UTF-8: leave the field out, do not invent */
	return json_object_set_new(o, key, j);
}

static int
set_int(json_t *o, const char *key, long v)
{
	if (v < 0)
		return 0;
	return json_object_set_new(o, key, json_integer(v));
}

/* user_id/user_login/user_name (with a prefix) from the usual tags. */
static int
set_user_tags(json_t *ev, const char *prefix, const struct sv_irc_msg *m)
{
	char key[64];
	const char *login = sv_irc_tag(m, "login");
	int rc = 0;

	if (login == NULL || *login == '\0')
		login = m->nick;
	(void)snprintf(key, sizeof(key), "%suser_id", prefix);
	rc |= set_str(ev, key, sv_irc_tag(m, "user-id"));
	(void)snprintf(key, sizeof(key), "%suser_login", prefix);
	rc |= set_str(ev, key, login);
	(void)snprintf(key, sizeof(key), "%suser_name", prefix);
	rc |= set_str(ev, key, sv_irc_tag(m, "display-name"));
	return rc;
}

/* The acting user, or the three user fields null (EventSub's anonymous). */
static int
set_user_or_anon(json_t *ev, const struct sv_irc_msg *m, bool anon)
{
	if (!anon)
		return set_user_tags(ev, "", m);
	return json_object_set_new(ev, "user_id", json_null()) |
	    json_object_set_new(ev, "user_login", json_null()) |
	    json_object_set_new(ev, "user_name", json_null());
}

static int
set_broadcaster(json_t *ev, const struct sv_irc_msg *m)
{
	return set_str(ev, "broadcaster_user_id", sv_irc_tag(m, "room-id")) |
	    set_str(ev, "broadcaster_user_login", channel_of(m));
}

/* EventSub tiers are "1000" "2000" "3000"; a Prime sub is tier 1. */
static const char *
tier_of(const struct sv_irc_msg *m)
{
	const char *plan = sv_irc_tag(m, "msg-param-sub-plan");

	if (plan == NULL || strcmp(plan, "Prime") == 0)
		return plan != NULL ? "1000" : NULL;
	return plan;
}

/*
 * emotes=25:0-4,12-16/1902:6-10 -> [{"begin":0,"end":4,"id":"25"},...]
 * (offsets are code points, as in EventSub).
 */
static json_t *
emotes_of(const struct sv_irc_msg *m)
{
	const char *tag = sv_irc_tag(m, "emotes"), *p, *colon, *end;
	json_t *arr = json_array();
	char id[64];
	long b, e2;
	char *q;

	if (arr == NULL || tag == NULL)
		return arr;
	for (p = tag; *p != '\0';) {
		colon = strchr(p, ':');
		end = strchr(p, '/');
		if (end == NULL)
			end = p + strlen(p);
		if (colon == NULL || colon > end ||
		    (size_t)(colon - p) >= sizeof(id))
			break;
		memcpy(id, p, (size_t)(colon - p));
		id[colon - p] = '\0';
		for (q = (char *)(uintptr_t)(colon + 1); q < end;) {
			b = strtol(q, &q, 10);
			if (*q != '-')
				break;
			e2 = strtol(q + 1, &q, 10);
			if (b >= 0 && e2 >= b)
				json_array_append_new(arr,
				    json_pack("{s:I,s:I,s:s}", "begin",
				        (json_int_t)b, "end", (json_int_t)e2,
				        "id", id));
			if (*q == ',')
				q++;
			else
				break;
		}
		p = *end == '/' ? end + 1 : end;
	}
	return arr;
}

/*
 * When the event happened, in milliseconds since the epoch: tmi-sent-ts,
 * else now. Replay and live use the same clock for everything that
 * depends on time (the envelope's time, the host repeat window).
 */
static long long
event_ms(const struct sv_irc_msg *m)
{
	const char *ts = sv_irc_tag(m, "tmi-sent-ts");
	struct timespec now;
	long long ms;
	char *end;

	if (ts != NULL && *ts != '\0') {
		errno = 0;
		ms = strtoll(ts, &end, 10);
		if (errno == 0 && *end == '\0' && ms > 0)
			return ms;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Wrap ev into an envelope and append it. suffix makes a second id. */
static int
emit(struct sv_ircev *c, const struct sv_irc_msg *m, const char *line,
    size_t len, const char *type, const char *suffix, json_t *ev, json_t *out)
{
	char id[SV_EVENT_ID_LEN + 64], t[SV_EVENT_TIME_LEN];
	const char *tag = sv_irc_tag(m, "id");
	json_t *env;

	if (tag != NULL && *tag != '\0' && strlen(tag) < SV_EVENT_ID_LEN + 32)
		(void)snprintf(
		    id, sizeof(id), "%s%s", tag, suffix != NULL ? suffix : "");
	else if (suffix == NULL)
		sv_event_id_hash(line, len, id);
	else {
		char buf[SV_EVENT_ID_LEN];

		sv_event_id_hash(line, len, buf);
		(void)snprintf(id, sizeof(id), "%s%s", buf, suffix);
	}
	env = json_string(id);
	if (env == NULL)
		sv_event_id_hash(line, len, id); /* tag not UTF-8 */
	json_decref(env);
	sv_event_time_from_ms(event_ms(m), t);
	env = sv_event_new(id, type, "1", "irc", t, ev);
	if (env == NULL)
		return -1;
	if (c->raw) {
		char *copy = strndup(line, len);

		json_object_set_new(
		    env, "raw", copy != NULL ? sv_event_str_lossy(copy) : NULL);
		free(copy);
	}
	return json_array_append_new(out, env) < 0 ? -1 : 1;
}

/*
 * Was this host (from -> to) reported less than 30 s before or after at
 * (the event's time, so a replayed log behaves as it did live)? If not,
 * it is remembered as reported at `at`.
 */
static bool
host_seen(struct sv_ircev *c, const char *from, const char *to, long long at)
{
	size_t i;

	for (i = 0; i < SV_IRCEV_HOSTS; i++)
		if (c->hosts[i].at != 0 &&
		    llabs(at - c->hosts[i].at) < SV_IRCEV_HOST_WINDOW_MS &&
		    strcmp(c->hosts[i].from, from) == 0 &&
		    strcmp(c->hosts[i].to, to) == 0)
			return true;
	i = c->host_next++ % SV_IRCEV_HOSTS;
	(void)snprintf(c->hosts[i].from, sizeof(c->hosts[i].from), "%s", from);
	(void)snprintf(c->hosts[i].to, sizeof(c->hosts[i].to), "%s", to);
	c->hosts[i].at = at;
	return false;
}

static int
map_host(struct sv_ircev *c, const char *from_raw, const char *to_raw,
    long viewers, const struct sv_irc_msg *m, const char *line, size_t len,
    json_t *out)
{
	char from[32], to[32];
	json_t *ev;

	lower(from, sizeof(from), from_raw);
	lower(to, sizeof(to), to_raw);
	if (*from == '\0' || *to == '\0')
		return 0;
	/* HOSTTARGET and the host_on NOTICE announce the same host: one
	 * alert, not two. */
	if (host_seen(c, from, to, event_ms(m))) {
		sv_log_debug("host %s -> %s already reported", from, to);
		return 0;
	}
	ev = json_object();
	if (ev == NULL || set_str(ev, "from_broadcaster_user_login", from) ||
	    set_str(ev, "to_broadcaster_user_login", to) ||
	    set_int(ev, "viewers", viewers)) {
		json_decref(ev);
		return -1;
	}
	return emit(c, m, line, len, "channel.host", NULL, ev, out);
}

/* "LanternFish is now hosting you[ for up to 87 viewers]." */
static int
map_jtv(struct sv_ircev *c, const struct sv_irc_msg *m, const char *line,
    size_t len, json_t *out)
{
	const char *text = sv_irc_param(m, 1), *to = sv_irc_param(m, 0), *p;
	char name[64];
	long viewers = -1;
	size_t n;

	if (text == NULL || to == NULL || *to == '#')
		return 0;
	n = strcspn(text, " ");
	if (n == 0 || n >= sizeof(name))
		return 0;
	memcpy(name, text, n);
	name[n] = '\0';
	p = text + n;
	if (strncmp(p, " is now hosting you", 19) == 0)
		p += 19;
	else if (strncmp(p, " is now auto hosting you", 24) == 0)
		p += 24;
	else
		return 0;
	if (strncmp(p, " for up to ", 11) == 0) {
		char *end;

		errno = 0;
		viewers = strtol(p + 11, &end, 10);
		if (errno != 0 || strcmp(end, " viewers.") != 0)
			return 0;
	} else if (strcmp(p, ".") != 0) {
		return 0;
	}
	return map_host(c, name, to, viewers, m, line, len, out);
}

static int
map_raid(struct sv_ircev *c, const struct sv_irc_msg *m, const char *line,
    size_t len, json_t *out)
{
	const char *login = sv_irc_tag(m, "msg-param-login");
	const char *name = sv_irc_tag(m, "msg-param-displayName");
	json_t *ev = json_object();
	int rc = 0;

	if (ev == NULL)
		return -1;
	rc |= set_str(ev, "from_broadcaster_user_id", sv_irc_tag(m, "user-id"));
	rc |= set_str(ev, "from_broadcaster_user_login",
	    login != NULL && *login != '\0' ? login : sv_irc_tag(m, "login"));
	rc |= set_str(ev, "from_broadcaster_user_name",
	    name != NULL && *name != '\0' ? name :
	                                    sv_irc_tag(m, "display-name"));
	rc |= set_str(ev, "to_broadcaster_user_id", sv_irc_tag(m, "room-id"));
	rc |= set_str(ev, "to_broadcaster_user_login", channel_of(m));
	rc |=
	    set_int(ev, "viewers", num(sv_irc_tag(m, "msg-param-viewerCount")));
	if (rc != 0) {
		json_decref(ev);
		return -1;
	}
	return emit(c, m, line, len, "channel.raid", NULL, ev, out);
}

static bool
is_anon_gifter(const struct sv_irc_msg *m)
{
	const char *id = sv_irc_tag(m, "user-id");
	const char *login = sv_irc_tag(m, "login");

	return (id != NULL && strcmp(id, ANON_GIFTER_ID) == 0) ||
	    (login != NULL && strcmp(login, ANON_GIFTER_LOGIN) == 0) ||
	    strncmp(sv_irc_tag(m, "msg-id"), "anon", 4) == 0;
}

/* channel.subscription.gift from the gifter's side. */
static int
map_gift(struct sv_ircev *c, const struct sv_irc_msg *m, long total,
    const char *suffix, const char *line, size_t len, json_t *out)
{
	bool anon = is_anon_gifter(m);
	long cum = num(sv_irc_tag(m, "msg-param-sender-count"));
	json_t *ev = json_object();
	int rc = 0;

	if (ev == NULL)
		return -1;
	rc |= set_user_or_anon(ev, m, anon);
	rc |= set_broadcaster(ev, m);
	rc |= set_int(ev, "total", total);
	rc |= set_str(ev, "tier", tier_of(m));
	/* EventSub: null when anonymous or hidden (IRC: 0 or absent). */
	rc |= json_object_set_new(ev, "cumulative_total",
	    anon || cum <= 0 ? json_null() : json_integer(cum));
	rc |= json_object_set_new(ev, "is_anonymous", json_boolean(anon));
	if (rc != 0) {
		json_decref(ev);
		return -1;
	}
	return emit(
	    c, m, line, len, "channel.subscription.gift", suffix, ev, out);
}

/* channel.subscribe with is_gift for a subgift's recipient. */
static int
map_gift_recipient(struct sv_ircev *c, const struct sv_irc_msg *m,
    const char *suffix, const char *line, size_t len, json_t *out)
{
	const char *login = sv_irc_tag(m, "msg-param-recipient-user-name");
	json_t *ev = json_object();
	int rc = 0;

	if (ev == NULL)
		return -1;
	if (login == NULL)
		login = sv_irc_tag(m, "msg-param-recipient-name");
	rc |= set_str(ev, "user_id", sv_irc_tag(m, "msg-param-recipient-id"));
	rc |= set_str(ev, "user_login", login);
	rc |= set_str(
	    ev, "user_name", sv_irc_tag(m, "msg-param-recipient-display-name"));
	rc |= set_broadcaster(ev, m);
	rc |= set_str(ev, "tier", tier_of(m));
	rc |= json_object_set_new(ev, "is_gift", json_true());
	if (rc != 0) {
		json_decref(ev);
		return -1;
	}
	return emit(c, m, line, len, "channel.subscribe", suffix, ev, out);
}

/* Was this subgift announced by a submysterygift? Counts it down. */
static bool
gift_in_mystery(struct sv_ircev *c, const char *origin)
{
	size_t i;

	if (origin == NULL || *origin == '\0')
		return false;
	for (i = 0; i < SV_IRCEV_GIFTS; i++) {
		if (c->gifts[i].remaining > 0 &&
		    strcmp(c->gifts[i].origin, origin) == 0) {
			c->gifts[i].remaining--;
			return true;
		}
	}
	return false;
}

static int
map_usernotice(struct sv_ircev *c, const struct sv_irc_msg *m, const char *line,
    size_t len, json_t *out)
{
	const char *id = sv_irc_tag(m, "msg-id");
	json_t *ev;
	int rc = 0, n, n2;

	if (id == NULL)
		return 0;
	if (strcmp(id, "raid") == 0)
		return c->events & SV_IRCEV_RAID ?
		    map_raid(c, m, line, len, out) :
		    0;
	if ((strcmp(id, "sub") == 0 && c->events & SV_IRCEV_SUB) ||
	    (strcmp(id, "resub") == 0 && c->events & SV_IRCEV_RESUB)) {
		bool resub = id[0] == 'r';
		const char *share =
		    sv_irc_tag(m, "msg-param-should-share-streak");
		const char *was = sv_irc_tag(m, "msg-param-was-gifted");

		ev = json_object();
		if (ev == NULL)
			return -1;
		rc |= set_user_tags(ev, "", m);
		rc |= set_broadcaster(ev, m);
		rc |= set_str(ev, "tier", tier_of(m));
		if (!resub) {
			rc |= json_object_set_new(ev, "is_gift",
			    json_boolean(
			        was != NULL && strcmp(was, "true") == 0));
		} else {
			const char *text = m->has_trailing ?
			    sv_irc_param(m, m->nparams - 1) :
			    "";
			json_t *t = json_string(text);

			rc |= json_object_set_new(ev, "message",
			    json_pack("{s:o,s:o}", "text",
			        t != NULL ? t : json_string(""), "emotes",
			        emotes_of(m)));
			rc |= set_int(ev, "cumulative_months",
			    num(sv_irc_tag(m, "msg-param-cumulative-months")));
			if (share != NULL)
				rc |= json_object_set_new(ev, "streak_months",
				    strcmp(share, "1") == 0 ?
				        json_integer(num(sv_irc_tag(
				            m, "msg-param-streak-months"))) :
				        json_null());
			rc |= set_int(ev, "duration_months",
			    num(sv_irc_tag(
			        m, "msg-param-multimonth-duration")));
		}
		if (rc != 0) {
			json_decref(ev);
			return -1;
		}
		return emit(c, m, line, len,
		    resub ? "channel.subscription.message" :
		            "channel.subscribe",
		    NULL, ev, out);
	}
	if (!(c->events & SV_IRCEV_GIFT))
		return 0;
	if (strcmp(id, "submysterygift") == 0 ||
	    strcmp(id, "anonsubmysterygift") == 0) {
		long count = num(sv_irc_tag(m, "msg-param-mass-gift-count"));
		const char *origin = sv_irc_tag(m, "msg-param-origin-id");

		if (origin != NULL && count > 0) {
			size_t i = c->gift_next++ % SV_IRCEV_GIFTS;

			(void)snprintf(c->gifts[i].origin,
			    sizeof(c->gifts[i].origin), "%s", origin);
			c->gifts[i].remaining = count;
		}
		return map_gift(c, m, count, NULL, line, len, out);
	}
	if (strcmp(id, "subgift") == 0 || strcmp(id, "anonsubgift") == 0) {
		if (gift_in_mystery(c, sv_irc_tag(m, "msg-param-origin-id")))
			return map_gift_recipient(c, m, NULL, line, len, out);
		/* A single gift: the gift event, then the recipient's sub,
		 * as EventSub sends both. */
		n = map_gift(c, m, 1, NULL, line, len, out);
		if (n < 0)
			return -1;
		n2 = map_gift_recipient(c, m, ":recipient", line, len, out);
		return n2 < 0 ? -1 : n + n2;
	}
	return 0;
}

static int
map_cheer(struct sv_ircev *c, const struct sv_irc_msg *m, const char *line,
    size_t len, json_t *out)
{
	long bits = num(sv_irc_tag(m, "bits"));
	const char *name = sv_irc_tag(m, "display-name");
	bool anon = name != NULL && strcmp(name, "AnAnonymousCheerer") == 0;
	json_t *ev;
	int rc = 0;

	if (bits <= 0 || m->nparams < 2)
		return 0;
	ev = json_object();
	if (ev == NULL)
		return -1;
	rc |= json_object_set_new(ev, "is_anonymous", json_boolean(anon));
	rc |= set_user_or_anon(ev, m, anon);
	rc |= set_broadcaster(ev, m);
	rc |= set_str(ev, "message", sv_irc_param(m, m->nparams - 1));
	rc |= set_int(ev, "bits", bits);
	if (rc != 0) {
		json_decref(ev);
		return -1;
	}
	return emit(c, m, line, len, "channel.cheer", NULL, ev, out);
}

int
sv_ircev_map(struct sv_ircev *c, const struct sv_irc_msg *m, const char *line,
    size_t len, json_t *out)
{
	const char *cmd = m->command, *msgid, *target, *text;

	if (strcmp(cmd, "USERNOTICE") == 0)
		return map_usernotice(c, m, line, len, out);
	if (strcmp(cmd, "PRIVMSG") == 0) {
		if (m->nick != NULL && strcmp(m->nick, "jtv") == 0)
			return c->events & SV_IRCEV_HOST ?
			    map_jtv(c, m, line, len, out) :
			    0;
		return c->events & SV_IRCEV_CHEER ?
		    map_cheer(c, m, line, len, out) :
		    0;
	}
	if (!(c->events & SV_IRCEV_HOST))
		return 0;
	if (strcmp(cmd, "HOSTTARGET") == 0) {
		char to[64];
		long viewers;
		size_t n;

		text = sv_irc_param(m, 1);
		if (channel_of(m) == NULL || text == NULL)
			return 0;
		n = strcspn(text, " ");
		if (n >= sizeof(to))
			return 0;
		memcpy(to, text, n);
		to[n] = '\0';
		if (strcmp(to, "-") == 0) {
			/* Stopped: a new host from this channel is news. */
			size_t i;

			for (i = 0; i < SV_IRCEV_HOSTS; i++)
				if (strcmp(c->hosts[i].from, channel_of(m)) ==
				    0)
					c->hosts[i].at = 0;
			sv_log_info("%s stopped hosting", channel_of(m));
			return 0;
		}
		viewers = text[n] == ' ' ? num(text + n + 1) : -1;
		return map_host(
		    c, channel_of(m), to, viewers, m, line, len, out);
	}
	if (strcmp(cmd, "NOTICE") == 0) {
		msgid = sv_irc_tag(m, "msg-id");
		text = sv_irc_param(m, 1);
		target = channel_of(m);
		if (msgid == NULL || strcmp(msgid, "host_on") != 0 ||
		    text == NULL || target == NULL ||
		    strncmp(text, "Now hosting ", 12) != 0)
			return 0;
		/* "Now hosting GlowCaster." carries the display name. */
		char name[64];
		size_t n = strlen(text + 12);

		if (n < 2 || n >= sizeof(name) || text[12 + n - 1] != '.')
			return 0;
		memcpy(name, text + 12, n - 1);
		name[n - 1] = '\0';
		return map_host(c, target, name, -1, m, line, len, out);
	}
	return 0;
}

/* ---- a chat client ------------------------------------------------------ */

enum sv_ircev_sess
sv_ircev_session(const struct sv_irc_msg *m)
{
	const char *cmd = m->command, *p0 = sv_irc_param(m, 0);
	const char *text = sv_irc_param(m, m->nparams > 0 ? m->nparams - 1 : 0);
	const char *msgid;

	if (strcmp(cmd, "PING") == 0)
		return SV_IRCEV_SESS_PING;
	if (strcmp(cmd, "PONG") == 0)
		return SV_IRCEV_SESS_PONG;
	if (strcmp(cmd, "376") == 0)
		return SV_IRCEV_SESS_WELCOME;
	if (strcmp(cmd, "RECONNECT") == 0)
		return SV_IRCEV_SESS_RECONNECT;
	if (strcmp(cmd, "NOTICE") != 0)
		return SV_IRCEV_SESS_OTHER;
	if (p0 != NULL && strcmp(p0, "*") == 0 && text != NULL &&
	    (strcmp(text, "Login authentication failed") == 0 ||
	        strcmp(text, "Improperly formatted auth") == 0))
		return SV_IRCEV_SESS_AUTH_FAILED;
	msgid = sv_irc_tag(m, "msg-id");
	if (msgid != NULL &&
	    (strcmp(msgid, "msg_channel_suspended") == 0 ||
	        strcmp(msgid, "msg_banned") == 0))
		return SV_IRCEV_SESS_CHANNEL_GONE;
	return SV_IRCEV_SESS_OTHER;
}

void
sv_ircev_joins_init(struct sv_ircev_joins *j, long window_ms)
{
	memset(j, 0, sizeof(*j));
	j->window_ms = window_ms;
}

size_t
sv_ircev_joins_budget(
    const struct sv_ircev_joins *j, long long now_ms, long long *next)
{
	size_t i, used = 0;
	long long oldest = 0;

	for (i = 0; i < j->n && i < SV_IRCEV_JOINS_PER_WINDOW; i++) {
		if (now_ms - j->at[i] < j->window_ms) {
			used++;
			if (oldest == 0 || j->at[i] < oldest)
				oldest = j->at[i];
		}
	}
	if (used >= SV_IRCEV_JOINS_PER_WINDOW && next != NULL)
		*next = oldest + j->window_ms;
	return SV_IRCEV_JOINS_PER_WINDOW - used;
}

size_t
sv_ircev_join_list(const struct sv_ircev_joins *j, long long now_ms,
    char *const *channels, size_t n, char *out, size_t outlen)
{
	size_t budget, k, len = 0;

	budget = sv_ircev_joins_budget(j, now_ms, NULL);
	/* One JOIN with a comma list; each channel counts (5.8). */
	for (k = 0; k < budget && k < n; k++) {
		if (len + strlen(channels[k]) + 2 >= outlen)
			break;
		len += (size_t)snprintf(out + len, outlen - len, "%s#%s",
		    len > 0 ? "," : "", channels[k]);
	}
	return k;
}

void
sv_ircev_joins_spend(struct sv_ircev_joins *j, size_t k, long long now_ms)
{
	while (k-- > 0) {
		j->at[j->n % SV_IRCEV_JOINS_PER_WINDOW] = now_ms;
		j->n++;
	}
}
