/* synth: synthetic events; see synth.h. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "event.h"
#include "synth.h"
#include "types.h"

struct user {
	const char *login;
	const char *name;
};

/* Display names differ from logins in case, and may be localised. */
static const struct user users[] = {
	{ "pixelpanda", "PixelPanda" },
	{ "tea_kettle", "Tea_Kettle" },
	{ "moss_and_ink", "Moss_and_Ink" },
	{ "bitbard", "BitBard" },
	{ "lanternfish", "LanternFish" },
	{ "quietfox", "QuietFox" },
	{ "kazuki_plays", "\xe3\x81\x8b\xe3\x81\x9a\xe3\x81\x8d" },
	{ "nightowl42", "NightOwl42" },
	{ "emberwisp", "EmberWisp" },
	{ "zoe_renders", "Zoe_Renders" },
};

struct reward {
	const char *title;
	long cost;
	const char *prompt;
	bool input;
};

static const struct reward rewards[] = {
	{ "Hydrate!", 100, "Remind the streamer to drink water", false },
	{ "Song request", 500, "Name a song", true },
	{ "Posture check", 250, "", false },
	{ "Pick the next game", 5000, "Which game should be next?", true },
};

static const char *const chat_lines[] = {
	"keep the lights on",
	"Two years already HeyGuys",
	"love the stream!",
	"gg",
	"for the hype train",
	"best community on Twitch",
};

static const char *const song_requests[] = {
	"play the kazoo song",
	"Never Gonna Give You Up",
	"something lo-fi please",
};

static const char *const types[] = {
	"channel.follow",
	"channel.subscribe",
	"channel.subscription.message",
	"channel.subscription.gift",
	"channel.cheer",
	"channel.raid",
	"channel.host",
	"channel.channel_points_custom_reward_redemption.add",
	"stream.online",
	"stream.offline",
	NULL,
};

/* Relative frequency for --random: alerts that happen often come often. */
static const int weights[] = { 6, 4, 3, 2, 4, 2, 1, 3, 1, 1 };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
next(struct sv_synth *r)
{
	uint64_t s0 = r->s[0], s1 = r->s[1], out = s0 + s1;

	s1 ^= s0;
	r->s[0] = rotl(s0, 24) ^ s1 ^ (s1 << 16);
	r->s[1] = rotl(s1, 37);
	return out;
}

static uint64_t
splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
sv_synth_init(struct sv_synth *r, uint64_t seed)
{
	if (seed == 0 && RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1)
		seed = 0x5eed;
	r->s[0] = splitmix(&seed);
	r->s[1] = splitmix(&seed);
}

long
sv_synth_range(struct sv_synth *r, long lo, long hi)
{
	uint64_t span;

	if (hi <= lo)
		return lo;
	span = (uint64_t)(hi - lo) + 1;
	return lo + (long)(next(r) % span);
}

void
sv_synth_opts_init(struct sv_synth_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->amount = -1;
	o->viewers = -1;
}

const char *const *
sv_synth_types(void)
{
	return types;
}

bool
sv_synth_supported(const char *type)
{
	size_t i;

	for (i = 0; types[i] != NULL; i++)
		if (strcmp(types[i], type) == 0)
			return true;
	return false;
}

const char *
sv_synth_random_type(struct sv_synth *r)
{
	long total = 0, pick;
	size_t i;

	for (i = 0; i < NELEM(weights); i++)
		total += weights[i];
	pick = sv_synth_range(r, 0, total - 1);
	for (i = 0; i < NELEM(weights); i++) {
		if (pick < weights[i])
			return types[i];
		pick -= weights[i];
	}
	return types[0];
}

void
sv_synth_user_id(const char *login, char out[16])
{
	uint64_t h = 1469598103934665603ULL;

	for (; *login != '\0'; login++) {
		h ^= (unsigned char)tolower((unsigned char)*login);
		h *= 1099511628211ULL;
	}
	/* 8 or 9 digits, never a leading zero: looks like a Twitch id. */
	(void)snprintf(out, 16, "%llu",
	    (unsigned long long)(10000000ULL + h % 899999999ULL));
}

/* A user by login: from the table when known, else a derived name. */
static void
user_for(struct sv_synth *r, const char *login, const char **l,
    const char **name, char namebuf[64])
{
	size_t i, n;
	bool up = true;

	if (login == NULL) {
		i = (size_t)sv_synth_range(r, 0, NELEM(users) - 1);
		*l = users[i].login;
		*name = users[i].name;
		return;
	}
	for (i = 0; i < NELEM(users); i++) {
		if (strcmp(users[i].login, login) == 0) {
			*l = users[i].login;
			*name = users[i].name;
			return;
		}
	}
	/* tea_kettle -> Tea_Kettle */
	for (n = 0; login[n] != '\0' && n < 63; n++) {
		namebuf[n] =
		    up ? (char)toupper((unsigned char)login[n]) : login[n];
		up = login[n] == '_';
	}
	namebuf[n] = '\0';
	*l = login;
	*name = namebuf;
}

/* Set <prefix>user_id, <prefix>user_login, <prefix>user_name. */
static int
set_user(json_t *ev, const char *prefix, const char *login, const char *name)
{
	char key[64], id[16];

	sv_synth_user_id(login, id);
	(void)snprintf(key, sizeof(key), "%suser_id", prefix);
	if (json_object_set_new(ev, key, json_string(id)) < 0)
		return -1;
	(void)snprintf(key, sizeof(key), "%suser_login", prefix);
	if (json_object_set_new(ev, key, json_string(login)) < 0)
		return -1;
	(void)snprintf(key, sizeof(key), "%suser_name", prefix);
	return json_object_set_new(ev, key, json_string(name));
}

static int
set_null_user(json_t *ev)
{
	return json_object_set_new(ev, "user_id", json_null()) |
	    json_object_set_new(ev, "user_login", json_null()) |
	    json_object_set_new(ev, "user_name", json_null());
}

static const char *
pick_tier(struct sv_synth *r, const struct sv_synth_opts *o)
{
	long t;

	if (o->tier != NULL)
		return o->tier;
	t = sv_synth_range(r, 0, 9);
	return t < 7 ? "1000" : t < 9 ? "2000" : "3000";
}

static long
pick_amount(struct sv_synth *r, long given, const long *choices, size_t n)
{
	if (given >= 0)
		return given;
	return choices[sv_synth_range(r, 0, (long)n - 1)];
}

static const long bits_choices[] = { 1, 100, 100, 250, 500, 1000, 5000 };
static const long gift_choices[] = { 1, 1, 5, 5, 10, 20, 50 };

json_t *
sv_synth_event(
    struct sv_synth *r, const char *type, const struct sv_synth_opts *o)
{
	const char *ulogin, *uname, *blogin, *bname, *msg;
	char ubuf[64], bbuf[64], now[SV_EVENT_TIME_LEN], text[512];
	char uuid[SV_EVENT_ID_LEN], num[24];
	const struct reward *rw = NULL;
	json_t *ev;
	long amount, viewers;
	size_t i;
	int rc = 0;

	if (!sv_synth_supported(type))
		return NULL;
	user_for(r, o->user, &ulogin, &uname, ubuf);
	user_for(r, o->broadcaster != NULL ? o->broadcaster : "glowcaster",
	    &blogin, &bname, bbuf);
	if (strcmp(blogin, "glowcaster") == 0)
		bname = "GlowCaster";
	viewers = o->viewers >= 0 ? o->viewers : sv_synth_range(r, 1, 500);
	sv_event_time_now_ns(now);
	ev = json_object();
	if (ev == NULL)
		return NULL;

	if (strcmp(type, "channel.raid") == 0) {
		rc |= set_user(ev, "from_broadcaster_", ulogin, uname);
		rc |= set_user(ev, "to_broadcaster_", blogin, bname);
		rc |= json_object_set_new(ev, "viewers", json_integer(viewers));
		goto out;
	}
	if (strcmp(type, "channel.host") == 0) {
		/* Only what IRC carried (DESIGN.md section 2). */
		rc |= json_object_set_new(
		    ev, "from_broadcaster_user_login", json_string(ulogin));
		rc |= json_object_set_new(
		    ev, "to_broadcaster_user_login", json_string(blogin));
		rc |= json_object_set_new(ev, "viewers", json_integer(viewers));
		goto out;
	}
	if (strcmp(type, "stream.online") == 0) {
		(void)snprintf(num, sizeof(num), "%ld%06ld",
		    sv_synth_range(r, 100000, 999999),
		    sv_synth_range(r, 0, 999999));
		rc |= json_object_set_new(ev, "id", json_string(num));
		rc |= set_user(ev, "broadcaster_", blogin, bname);
		rc |= json_object_set_new(ev, "type", json_string("live"));
		rc |= json_object_set_new(ev, "started_at", json_string(now));
		goto out;
	}
	if (strcmp(type, "stream.offline") == 0) {
		rc |= set_user(ev, "broadcaster_", blogin, bname);
		goto out;
	}
	if (strcmp(type,
	        "channel.channel_points_custom_reward_redemption.add") == 0) {
		if (o->reward != NULL) {
			for (i = 0; i < NELEM(rewards); i++)
				if (strcmp(rewards[i].title, o->reward) == 0)
					rw = &rewards[i];
		} else {
			rw = &rewards[sv_synth_range(r, 0, NELEM(rewards) - 1)];
		}
		sv_event_uuid4(uuid);
		rc |= json_object_set_new(ev, "id", json_string(uuid));
		rc |= set_user(ev, "broadcaster_", blogin, bname);
		rc |= set_user(ev, "", ulogin, uname);
		msg = o->message;
		if (msg == NULL)
			msg = rw != NULL && rw->input ?
			    song_requests[sv_synth_range(
			        r, 0, NELEM(song_requests) - 1)] :
			    "";
		rc |= json_object_set_new(ev, "user_input", json_string(msg));
		rc |= json_object_set_new(
		    ev, "status", json_string("unfulfilled"));
		sv_event_uuid4(uuid);
		rc |= json_object_set_new(ev, "reward",
		    json_pack("{s:s,s:s,s:I,s:s}", "id", uuid, "title",
		        rw != NULL ? rw->title : o->reward, "cost",
		        (json_int_t)(o->amount >= 0 ? o->amount :
		                rw != NULL          ? rw->cost :
		                                      500),
		        "prompt", rw != NULL ? rw->prompt : ""));
		rc |= json_object_set_new(ev, "redeemed_at", json_string(now));
		goto out;
	}

	/* The rest start with the acting user, then the broadcaster. */
	if (strcmp(type, "channel.cheer") == 0) {
		rc |= json_object_set_new(
		    ev, "is_anonymous", json_boolean(o->anonymous));
		rc |= o->anonymous ? set_null_user(ev) :
		                     set_user(ev, "", ulogin, uname);
	} else if (strcmp(type, "channel.subscription.gift") == 0 &&
	    o->anonymous) {
		rc |= set_null_user(ev);
	} else {
		rc |= set_user(ev, "", ulogin, uname);
	}
	rc |= set_user(ev, "broadcaster_", blogin, bname);

	if (strcmp(type, "channel.follow") == 0) {
		rc |= json_object_set_new(ev, "followed_at", json_string(now));
	} else if (strcmp(type, "channel.subscribe") == 0) {
		rc |= json_object_set_new(
		    ev, "tier", json_string(pick_tier(r, o)));
		rc |= json_object_set_new(ev, "is_gift", json_false());
	} else if (strcmp(type, "channel.subscription.message") == 0) {
		amount = o->amount >= 0 ? o->amount : sv_synth_range(r, 2, 48);
		msg = o->message != NULL ?
		    o->message :
		    chat_lines[sv_synth_range(r, 0, NELEM(chat_lines) - 1)];
		rc |= json_object_set_new(
		    ev, "tier", json_string(pick_tier(r, o)));
		rc |= json_object_set_new(ev, "message",
		    json_pack("{s:s,s:[]}", "text", msg, "emotes"));
		rc |= json_object_set_new(
		    ev, "cumulative_months", json_integer(amount));
		rc |= json_object_set_new(ev, "streak_months",
		    sv_synth_range(r, 0, 1) != 0 ?
		        json_integer(sv_synth_range(r, 1, amount)) :
		        json_null());
		rc |=
		    json_object_set_new(ev, "duration_months", json_integer(1));
	} else if (strcmp(type, "channel.subscription.gift") == 0) {
		amount = pick_amount(
		    r, o->amount, gift_choices, NELEM(gift_choices));
		rc |= json_object_set_new(ev, "total", json_integer(amount));
		rc |= json_object_set_new(
		    ev, "tier", json_string(pick_tier(r, o)));
		rc |= json_object_set_new(ev, "cumulative_total",
		    o->anonymous ?
		        json_null() :
		        json_integer(amount + sv_synth_range(r, 0, 200)));
		rc |= json_object_set_new(
		    ev, "is_anonymous", json_boolean(o->anonymous));
	} else if (strcmp(type, "channel.cheer") == 0) {
		amount = pick_amount(
		    r, o->amount, bits_choices, NELEM(bits_choices));
		if (o->message != NULL)
			(void)snprintf(text, sizeof(text), "%s", o->message);
		else
			(void)snprintf(text, sizeof(text), "Cheer%ld %s",
			    amount,
			    chat_lines[sv_synth_range(
			        r, 0, NELEM(chat_lines) - 1)]);
		rc |= json_object_set_new(ev, "message", json_string(text));
		rc |= json_object_set_new(ev, "bits", json_integer(amount));
	}
out:
	if (rc != 0) {
		json_decref(ev);
		return NULL;
	}
	return ev;
}
