/*
 * tokenstore: the token store file of DESIGN.md 3.
 *
 *   $SERVITOR_HOME/tokens.json   (default $XDG_CONFIG_HOME/servitor or
 *                                 ~/.config/servitor), mode 0600
 *   $SERVITOR_HOME/tokens.lock   exclusive flock held by every writer
 *
 *   {"version":1,
 *    "user":{"client_id":..,"access_token":..,"refresh_token":..,
 *            "scopes":["bits:read",..],"login":..,"user_id":..,
 *            "expires_at":<unix s>,"obtained_at":<unix s>},
 *    "app":{"client_id":..,"access_token":..,"scopes":[],
 *           "expires_at":..,"obtained_at":..}}
 *
 * Writers hold the lock, re-read, and replace the file atomically (temp
 * file in the same directory, fsync, rename), so a reader never sees a
 * half-written store and two writers never lose each other's refresh
 * token. Members this code does not know are kept on rewrite.
 *
 * A store that group or others may read or write is refused (EX_CONFIG)
 * rather than used: it holds credentials.
 */
#ifndef SV_TOKENSTORE_H
#define SV_TOKENSTORE_H

#include <jansson.h>

#include "err.h"
#include "token.h"

struct sv_tokenstore;

/*
 * A store in dir, or when dir is NULL in $SERVITOR_HOME, else
 * $XDG_CONFIG_HOME/servitor, else $HOME/.config/servitor. Touches no
 * file. NULL with e set (EX_CONFIG when no directory can be found).
 */
struct sv_tokenstore *sv_tokenstore_new(const char *dir, struct sv_err *e);
void sv_tokenstore_free(struct sv_tokenstore *st);

/* The path of tokens.json. */
const char *sv_tokenstore_path(const struct sv_tokenstore *st);

/*
 * Read the record of kind into *r (the caller finis it). Returns 0, 1
 * when there is none (no file, or no such member), or -1 with e set:
 * EX_CONFIG when the file is readable by others or not valid, EX_IOERR
 * when it cannot be read.
 */
int sv_tokenstore_read(struct sv_tokenstore *st, enum sv_token_kind kind,
    struct sv_token_rec *r, struct sv_err *e);

/*
 * Take the exclusive lock, creating the directory (0700) and the lock
 * file (0600) if needed; waits up to 30 s for another holder. 0, or -1
 * with e set (EX_IOERR, EX_TEMPFAIL when still locked).
 */
int sv_tokenstore_lock(struct sv_tokenstore *st, struct sv_err *e);
void sv_tokenstore_unlock(struct sv_tokenstore *st);

/*
 * With the lock held: replace the record of kind by r, or remove it when
 * r is NULL, keeping everything else. 0, or -1 with e set.
 */
int sv_tokenstore_write(struct sv_tokenstore *st, enum sv_token_kind kind,
    const struct sv_token_rec *r, struct sv_err *e);

/*
 * A record as the store's JSON object (a new reference; NULL when out of
 * memory), and back (0, or -1 with EX_CONFIG when a member has the wrong
 * type or access_token is missing). Exported for tests and fuzzing.
 */
json_t *sv_tokenstore_rec_json(const struct sv_token_rec *r);
int sv_tokenstore_rec_parse(
    json_t *o, struct sv_token_rec *r, struct sv_err *e);

#endif
