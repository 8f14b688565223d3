/* types: the EventSub types table; see types.h. */
#include <string.h>

#include "types.h"

static const struct sv_type table[] = {
	{ "channel.follow", "2", "follow", SV_COND_BROADCASTER_MOD,
	    "moderator:read:followers", true },
	{ "channel.subscribe", "1", "subscribe", SV_COND_BROADCASTER,
	    "channel:read:subscriptions", true },
	{ "channel.subscription.message", "1", "subscribe-message",
	    SV_COND_BROADCASTER, "channel:read:subscriptions", true },
	{ "channel.subscription.gift", "1", "channel-gift", SV_COND_BROADCASTER,
	    "channel:read:subscriptions", true },
	{ "channel.cheer", "1", "cheer", SV_COND_BROADCASTER, "bits:read",
	    true },
	{ "channel.raid", "1", "raid", SV_COND_TO_BROADCASTER, NULL, true },
	{ "channel.host", "1", "host", SV_COND_NONE, NULL, false },
	{ "channel.channel_points_custom_reward_redemption.add", "1",
	    "add-redemption", SV_COND_BROADCASTER, "channel:read:redemptions",
	    true },
	{ "stream.online", "1", "streamup", SV_COND_BROADCASTER, NULL, true },
	{ "stream.offline", "1", "streamdown", SV_COND_BROADCASTER, NULL,
	    true },
	{ "channel.bits.use", "1", "bits-use", SV_COND_BROADCASTER, "bits:read",
	    true },
	{ "channel.hype_train.begin", "2", "hype-train-begin",
	    SV_COND_BROADCASTER, "channel:read:hype_train", true },
	{ "channel.chat.notification", "1", "chat-notification",
	    SV_COND_BROADCASTER_USER, "user:read:chat", true },
};

const struct sv_type *
sv_types_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].type, name) == 0 ||
		    strcmp(table[i].alias, name) == 0)
			return &table[i];
	return NULL;
}

const struct sv_type *
sv_types_all(size_t *n)
{
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}

json_t *
sv_types_condition(
    const struct sv_type *t, const char *broadcaster_id, const char *user_id)
{
	if (user_id == NULL)
		user_id = broadcaster_id;
	if (broadcaster_id == NULL)
		return NULL;
	switch (t != NULL ? t->cond : SV_COND_BROADCASTER) {
	case SV_COND_BROADCASTER:
		return json_pack(
		    "{s:s}", "broadcaster_user_id", broadcaster_id);
	case SV_COND_BROADCASTER_MOD:
		return json_pack("{s:s,s:s}", "broadcaster_user_id",
		    broadcaster_id, "moderator_user_id", user_id);
	case SV_COND_TO_BROADCASTER:
		return json_pack(
		    "{s:s}", "to_broadcaster_user_id", broadcaster_id);
	case SV_COND_BROADCASTER_USER:
		return json_pack("{s:s,s:s}", "broadcaster_user_id",
		    broadcaster_id, "user_id", user_id);
	case SV_COND_NONE:
	default:
		return NULL;
	}
}
