/* tokenstore: the token store file; see tokenstore.h. */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "tokenstore.h"

#define STORE_VERSION 1
#define STORE_MAX ((size_t)1024 * 1024)
#define LOCK_WAIT_MS 30000

struct sv_tokenstore {
	char *dir;
	char *path; /* dir/tokens.json */
	char *lock_path; /* dir/tokens.lock */
	int lock_fd; /* -1 when not locked */
};

static const char *const kind_key[] = { "user", "app" };

static char *
join(const char *a, const char *b)
{
	struct sv_buf p;

	sv_buf_init(&p);
	if (sv_buf_appendf(&p, "%s/%s", a, b) < 0)
		return NULL;
	return p.data;
}

struct sv_tokenstore *
sv_tokenstore_new(const char *dir, struct sv_err *e)
{
	struct sv_tokenstore *st;
	const char *base;
	char *owned = NULL;

	if (dir == NULL || *dir == '\0')
		dir = getenv("SERVITOR_HOME");
	if (dir == NULL || *dir == '\0') {
		base = getenv("XDG_CONFIG_HOME");
		if (base != NULL && *base == '/') {
			owned = join(base, "servitor");
		} else if ((base = getenv("HOME")) != NULL && *base != '\0') {
			owned = join(base, ".config/servitor");
		} else {
			sv_err_set(e, EX_CONFIG,
			    "no place for the token store: set SERVITOR_HOME or HOME");
			return NULL;
		}
		if (owned == NULL) {
			sv_err_set(e, EX_OSERR, "out of memory");
			return NULL;
		}
		dir = owned;
	}
	st = calloc(1, sizeof(*st));
	if (st != NULL) {
		st->lock_fd = -1;
		st->dir = strdup(dir);
		st->path = join(dir, "tokens.json");
		st->lock_path = join(dir, "tokens.lock");
	}
	free(owned);
	if (st == NULL || st->dir == NULL || st->path == NULL ||
	    st->lock_path == NULL) {
		sv_tokenstore_free(st);
		sv_err_set(e, EX_OSERR, "out of memory");
		return NULL;
	}
	return st;
}

void
sv_tokenstore_free(struct sv_tokenstore *st)
{
	if (st == NULL)
		return;
	sv_tokenstore_unlock(st);
	free(st->dir);
	free(st->path);
	free(st->lock_path);
	free(st);
}

const char *
sv_tokenstore_path(const struct sv_tokenstore *st)
{
	return st->path;
}

/* --- records <-> JSON --- */

static int
set_str(json_t *o, const char *key, const char *v)
{
	if (v == NULL)
		return 0;
	return json_object_set_new(o, key, json_string(v));
}

json_t *
sv_tokenstore_rec_json(const struct sv_token_rec *r)
{
	json_t *o, *sc;
	const char *p;
	size_t n;
	int bad = 0;

	o = json_object();
	sc = json_array();
	if (o == NULL || sc == NULL) {
		json_decref(o);
		json_decref(sc);
		return NULL;
	}
	for (p = r->scopes != NULL ? r->scopes : ""; *p != '\0'; p += n) {
		p += strspn(p, " ");
		n = strcspn(p, " ");
		if (n > 0)
			bad |= json_array_append_new(sc, json_stringn(p, n));
	}
	bad |= set_str(o, "client_id", r->client_id);
	bad |= set_str(o, "access_token", r->access_token);
	bad |= set_str(o, "refresh_token", r->refresh_token);
	bad |= json_object_set_new(o, "scopes", sc);
	bad |= set_str(o, "login", r->login);
	bad |= set_str(o, "user_id", r->user_id);
	bad |= json_object_set_new(
	    o, "expires_at", json_integer((json_int_t)r->expires_at));
	bad |= json_object_set_new(
	    o, "obtained_at", json_integer((json_int_t)r->obtained_at));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* A string member into *out (NULL when absent); -1 on a wrong type. */
static int
get_str(json_t *o, const char *key, char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = strdup(json_string_value(v));
	return *out != NULL ? 0 : -1;
}

static int
get_time(json_t *o, const char *key, long long *out)
{
	json_t *v = json_object_get(o, key);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (long long)json_integer_value(v);
	return 0;
}

int
sv_tokenstore_rec_parse(json_t *o, struct sv_token_rec *r, struct sv_err *e)
{
	struct sv_buf sc;
	json_t *a, *v;
	size_t i;
	int bad = 0;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(o))
		return sv_err_set(
		    e, EX_CONFIG, "a token entry is not an object");
	bad |= get_str(o, "client_id", &r->client_id);
	bad |= get_str(o, "access_token", &r->access_token);
	bad |= get_str(o, "refresh_token", &r->refresh_token);
	bad |= get_str(o, "login", &r->login);
	bad |= get_str(o, "user_id", &r->user_id);
	bad |= get_time(o, "expires_at", &r->expires_at);
	bad |= get_time(o, "obtained_at", &r->obtained_at);
	sv_buf_init(&sc);
	bad |= sv_buf_append(&sc, "", 0);
	a = json_object_get(o, "scopes");
	if (a != NULL && !json_is_array(a))
		bad = -1;
	json_array_foreach (a, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0) {
			bad = -1;
			continue;
		}
		if (sc.len > 0)
			bad |= sv_buf_append(&sc, " ", 1);
		bad |= sv_buf_append(
		    &sc, json_string_value(v), json_string_length(v));
	}
	r->scopes = sc.data;
	if (bad || r->access_token == NULL || r->access_token[0] == '\0') {
		sv_token_rec_fini(r);
		return sv_err_set(e, EX_CONFIG,
		    "a token entry lacks access_token or has a member of the wrong type");
	}
	sv_log_add_secret(r->access_token);
	sv_log_add_secret(r->refresh_token);
	return 0;
}

/* --- the file --- */

/*
 * The whole store as a JSON object. NULL with e->ex == 0 when there is
 * no file yet; NULL with e set on error.
 */
static json_t *
load_root(struct sv_tokenstore *st, struct sv_err *e)
{
	struct sv_buf b;
	struct stat sb;
	json_error_t je;
	json_t *root = NULL;
	char chunk[4096];
	ssize_t n;
	int fd;

	sv_err_clear(e);
	fd = open(st->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			sv_err_set(e, EX_IOERR, "token store %s: %s", st->path,
			    strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		sv_err_set(e, EX_CONFIG, "token store %s: not a regular file",
		    st->path);
		return NULL;
	}
	if ((sb.st_mode & 077) != 0) {
		close(fd);
		sv_err_set(e, EX_CONFIG,
		    "token store %s may be read or written by others (mode %04o); it holds credentials, so it is not used: run 'chmod 600 %s'",
		    st->path, (unsigned)(sb.st_mode & 07777), st->path);
		return NULL;
	}
	sv_buf_init(&b);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (b.len + (size_t)n > STORE_MAX ||
		    sv_buf_append(&b, chunk, (size_t)n) < 0) {
			n = -1;
			errno = EFBIG;
			break;
		}
	}
	close(fd);
	explicit_bzero(chunk, sizeof(chunk));
	if (n < 0) {
		sv_err_set(e, EX_IOERR, "token store %s: %s", st->path,
		    strerror(errno));
		goto out;
	}
	root = json_loadb(
	    b.data != NULL ? b.data : "", b.len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL || !json_is_object(root)) {
		if (root == NULL)
			sv_err_set(e, EX_CONFIG,
			    "token store %s is not valid JSON (line %d: %s): repair or remove it, then run 'twitch-auth login'",
			    st->path, je.line, je.text);
		else
			sv_err_set(e, EX_CONFIG,
			    "token store %s is not a JSON object: repair or remove it, then run 'twitch-auth login'",
			    st->path);
		json_decref(root);
		root = NULL;
	}
out:
	sv_buf_wipe(&b);
	return root;
}

int
sv_tokenstore_read(struct sv_tokenstore *st, enum sv_token_kind kind,
    struct sv_token_rec *r, struct sv_err *e)
{
	json_t *root, *o;
	int rc;

	memset(r, 0, sizeof(*r));
	root = load_root(st, e);
	if (root == NULL)
		return e->ex != 0 ? -1 : 1;
	o = json_object_get(root, kind_key[kind]);
	if (o == NULL || json_is_null(o)) {
		json_decref(root);
		return 1;
	}
	rc = sv_tokenstore_rec_parse(o, r, e);
	json_decref(root);
	if (rc < 0)
		return sv_err_prefix(
		    e, "token store %s, \"%s\"", st->path, kind_key[kind]);
	return 0;
}

/* mkdir -p with mode 0700 for the components it creates. */
static int
mkdirs(const char *dir, struct sv_err *e)
{
	char *p, *s, c;
	int rc = 0;

	s = strdup(dir);
	if (s == NULL)
		return sv_err_set(e, EX_OSERR, "out of memory");
	for (p = s + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(s, 0700) < 0 && errno != EEXIST) {
			rc = sv_err_set(e, EX_IOERR, "cannot create %s: %s", s,
			    strerror(errno));
			break;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	free(s);
	return rc;
}

static long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
sv_tokenstore_lock(struct sv_tokenstore *st, struct sv_err *e)
{
	struct timespec nap = { 0, 20 * 1000000L };
	long deadline;
	int fd;

	if (st->lock_fd >= 0)
		return sv_err_set(e, EX_SOFTWARE, "token store already locked");
	if (mkdirs(st->dir, e) < 0)
		return -1;
	fd = open(st->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return sv_err_set(e, EX_IOERR, "token store lock %s: %s",
		    st->lock_path, strerror(errno));
	deadline = mono_ms() + LOCK_WAIT_MS;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			sv_err_set(e, EX_IOERR, "token store lock %s: %s",
			    st->lock_path, strerror(errno));
			close(fd);
			return -1;
		}
		if (mono_ms() >= deadline) {
			sv_err_set(e, EX_TEMPFAIL,
			    "token store lock %s: still held by another process after %d s",
			    st->lock_path, LOCK_WAIT_MS / 1000);
			close(fd);
			return -1;
		}
		(void)nanosleep(&nap, NULL);
	}
	st->lock_fd = fd;
	return 0;
}

void
sv_tokenstore_unlock(struct sv_tokenstore *st)
{
	if (st->lock_fd < 0)
		return;
	(void)flock(st->lock_fd, LOCK_UN);
	close(st->lock_fd);
	st->lock_fd = -1;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
sv_tokenstore_write(struct sv_tokenstore *st, enum sv_token_kind kind,
    const struct sv_token_rec *r, struct sv_err *e)
{
	json_t *root, *o;
	char *data = NULL, *tmp = NULL;
	int fd = -1, dfd, rc = -1;

	if (st->lock_fd < 0)
		return sv_err_set(
		    e, EX_SOFTWARE, "token store written without its lock");
	root = load_root(st, e);
	if (root == NULL && e->ex != 0)
		return -1;
	if (root == NULL &&
	    (root = json_pack("{s:i}", "version", STORE_VERSION)) == NULL)
		return sv_err_set(e, EX_OSERR, "out of memory");
	if (r != NULL) {
		o = sv_tokenstore_rec_json(r);
		if (o == NULL ||
		    json_object_set_new(root, kind_key[kind], o) < 0) {
			sv_err_set(e, EX_OSERR, "out of memory");
			goto out;
		}
	} else {
		(void)json_object_del(root, kind_key[kind]);
	}
	if (json_object_set_new(root, "version", json_integer(STORE_VERSION)) <
	        0 ||
	    (data = json_dumps(root, JSON_INDENT(2))) == NULL ||
	    (tmp = join(st->dir, ".tokens.json.XXXXXX")) == NULL) {
		sv_err_set(e, EX_OSERR, "out of memory");
		goto out;
	}
	fd = mkstemp(tmp); /* mode 0600 */
	if (fd < 0) {
		sv_err_set(e, EX_IOERR, "token store: cannot create %s: %s",
		    tmp, strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) < 0 || write_all(fd, data, strlen(data)) < 0 ||
	    write_all(fd, "\n", 1) < 0 || fsync(fd) < 0) {
		sv_err_set(e, EX_IOERR, "token store: cannot write %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		sv_err_set(e, EX_IOERR, "token store: cannot write %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, st->path) < 0) {
		sv_err_set(e, EX_IOERR, "token store: cannot replace %s: %s",
		    st->path, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	/* Make the rename itself durable. */
	dfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL) {
		(void)unlink(tmp);
		free(tmp);
	}
	if (data != NULL) {
		explicit_bzero(data, strlen(data));
		free(data);
	}
	json_decref(root);
	return rc;
}
