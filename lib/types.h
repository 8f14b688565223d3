/*
 * types: what twitch-servitor knows about EventSub subscription types:
 * the current version, the condition each one needs, the scope, and the
 * short names of the Twitch CLI (twitch-protocols.md section 3.0).
 * Types not in the table are still valid everywhere (passed through).
 */
#ifndef SV_TYPES_H
#define SV_TYPES_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

enum sv_cond {
	SV_COND_BROADCASTER, /* broadcaster_user_id */
	SV_COND_BROADCASTER_MOD, /* broadcaster_user_id, moderator_user_id */
	SV_COND_TO_BROADCASTER, /* to_broadcaster_user_id */
	SV_COND_BROADCASTER_USER, /* broadcaster_user_id, user_id */
	SV_COND_NONE, /* not an EventSub type (channel.host) */
};

struct sv_type {
	const char *type; /* "channel.follow" */
	const char *version; /* "2" */
	const char *alias; /* Twitch CLI name: "follow" */
	enum sv_cond cond;
	const char *scope; /* authorization needed, or NULL */
	bool eventsub; /* false for our own types (channel.host) */
};

/* The entry for a type name or a CLI alias, or NULL. */
const struct sv_type *sv_types_find(const char *name);

/* The whole table; *n receives its length. */
const struct sv_type *sv_types_all(size_t *n);

/*
 * The condition object a subscription of type t needs (section 3.0):
 * broadcaster_id is the channel's user id; user_id fills the second id
 * some types need (moderator_user_id of channel.follow, user_id of
 * channel.chat.notification): the token's user with a user token, else
 * the broadcaster itself (NULL means broadcaster_id). channel.raid gets
 * to_broadcaster_user_id (raids into the channel, the alert case). For
 * a type not in the table (t NULL) it is {"broadcaster_user_id":..}.
 * Returns a new reference; NULL when out of memory or when t is not an
 * EventSub type (channel.host).
 */
json_t *sv_types_condition(
    const struct sv_type *t, const char *broadcaster_id, const char *user_id);

#endif
