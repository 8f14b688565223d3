/* http: libcurl client; see http.h. */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "http.h"
#include "log.h"

#ifndef SV_VERSION
#define SV_VERSION "0.0.0"
#endif

struct sv_http {
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_ok;

static void
global_init(void)
{
	global_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

struct sv_http *
sv_http_new(void)
{
	struct sv_http *h;

	pthread_once(&global_once, global_init);
	if (!global_ok)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->curl = curl_easy_init();
	if (h->curl == NULL) {
		free(h);
		return NULL;
	}
	return h;
}

void
sv_http_free(struct sv_http *h)
{
	if (h == NULL)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

void
sv_http_resp_init(struct sv_http_resp *rs)
{
	rs->status = 0;
	sv_buf_init(&rs->body);
	sv_buf_init(&rs->headers);
}

void
sv_http_resp_fini(struct sv_http_resp *rs)
{
	/* Bodies carry tokens (the id server's answers): wipe them. */
	sv_buf_wipe(&rs->body);
	sv_buf_wipe(&rs->headers);
	rs->status = 0;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct sv_buf *b = arg;

	if (sv_buf_append(b, p, size * n) < 0)
		return 0; /* out of memory: curl aborts the transfer */
	return size * n;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct sv_buf *b = arg;

	/* A new status line (after a 100 Continue) starts a new block. */
	if (size * n > 5 && strncmp(p, "HTTP/", 5) == 0)
		sv_buf_reset(b);
	if (sv_buf_append(b, p, size * n) < 0)
		return 0;
	return size * n;
}

static int
on_debug(CURL *c, curl_infotype type, char *data, size_t size, void *arg)
{
	const char *what;
	char line[1024];
	size_t n;

	(void)c;
	(void)arg;
	switch (type) {
	case CURLINFO_TEXT:
		what = "*";
		break;
	case CURLINFO_HEADER_IN:
		what = "<";
		break;
	case CURLINFO_HEADER_OUT:
		what = ">";
		break;
	default:
		return 0; /* bodies are not logged: they may hold tokens */
	}
	while (size > 0) {
		n = 0;
		while (n < size && data[n] != '\n')
			n++;
		if (n > 0 && n < sizeof(line)) {
			memcpy(line, data, n);
			line[n] = '\0';
			if (n > 0 && line[n - 1] == '\r')
				line[n - 1] = '\0';
			if (line[0] != '\0')
				sv_log_debug("http %s %s", what, line);
		}
		if (n < size)
			n++;
		data += n;
		size -= n;
	}
	return 0;
}

int
sv_http_do(struct sv_http *h, const struct sv_http_req *rq,
    struct sv_http_resp *rs, struct sv_err *e)
{
	struct curl_slist *hdrs = NULL, *tmp;
	const char *const *hp;
	const char *ca;
	CURLcode rc;
	long timeout = rq->timeout_ms > 0 ? rq->timeout_ms : 15000;
	int ret = 0;

	sv_http_resp_fini(rs);
	sv_http_resp_init(rs);
	curl_easy_reset(h->curl);
	h->errbuf[0] = '\0';
	for (hp = rq->headers; hp != NULL && *hp != NULL; hp++) {
		tmp = curl_slist_append(hdrs, *hp);
		if (tmp == NULL) {
			curl_slist_free_all(hdrs);
			return sv_err_set(e, EX_OSERR, "out of memory");
		}
		hdrs = tmp;
	}
	curl_easy_setopt(h->curl, CURLOPT_URL, rq->url);
	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS,
	    timeout < 10000 ? timeout : 10000L);
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->curl, CURLOPT_FAILONERROR, 0L);
	curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(
	    h->curl, CURLOPT_USERAGENT, "twitch-servitor/" SV_VERSION);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &rs->body);
	curl_easy_setopt(h->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, &rs->headers);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdrs);
	if ((ca = getenv("SSL_CERT_FILE")) != NULL && *ca != '\0')
		curl_easy_setopt(h->curl, CURLOPT_CAINFO, ca);
	if ((ca = getenv("SSL_CERT_DIR")) != NULL && *ca != '\0')
		curl_easy_setopt(h->curl, CURLOPT_CAPATH, ca);
	if (sv_log_level() >= SV_LOG_DEBUG) {
		curl_easy_setopt(h->curl, CURLOPT_DEBUGFUNCTION, on_debug);
		curl_easy_setopt(h->curl, CURLOPT_VERBOSE, 1L);
	}
	if (rq->body != NULL) {
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)rq->body_len);
	}
	if (rq->method != NULL && strcmp(rq->method, "GET") != 0 &&
	    !(strcmp(rq->method, "POST") == 0 && rq->body != NULL))
		curl_easy_setopt(h->curl, CURLOPT_CUSTOMREQUEST, rq->method);

	rc = curl_easy_perform(h->curl);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		const char *msg =
		    h->errbuf[0] != '\0' ? h->errbuf : curl_easy_strerror(rc);
		char url[512];

		sv_log_redact(url, sizeof(url), rq->url);
		ret = sv_err_set(e,
		    rc == CURLE_OPERATION_TIMEDOUT ? EX_TEMPFAIL :
		        rc == CURLE_OUT_OF_MEMORY  ? EX_OSERR :
		                                     EX_UNAVAILABLE,
		    "%s %s: %s", rq->method != NULL ? rq->method : "GET", url,
		    msg);
	} else {
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &rs->status);
	}
	/* Do not keep a pointer to the caller's body in the handle. */
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, NULL);
	return ret;
}

const char *
sv_http_resp_header(
    const struct sv_http_resp *rs, const char *name, char *out, size_t outlen)
{
	const char *p, *end, *v, *found = NULL;
	size_t nl = strlen(name), vl = 0;

	if (rs->headers.data == NULL)
		return NULL;
	for (p = rs->headers.data; *p != '\0'; p = end) {
		end = strchr(p, '\n');
		end = end != NULL ? end + 1 : p + strlen(p);
		if (strncasecmp(p, name, nl) != 0 || p[nl] != ':')
			continue;
		v = p + nl + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		vl = (size_t)(end - v);
		while (vl > 0 &&
		    (v[vl - 1] == '\n' || v[vl - 1] == '\r' ||
		        v[vl - 1] == ' '))
			vl--;
		found = v;
	}
	if (found == NULL || outlen == 0)
		return NULL;
	if (vl >= outlen)
		vl = outlen - 1;
	memcpy(out, found, vl);
	out[vl] = '\0';
	return out;
}

int
sv_http_status_ex(long status)
{
	if (status >= 200 && status < 300)
		return 0;
	if (status == 401 || status == 403)
		return EX_NOPERM;
	if (status == 429)
		return EX_TEMPFAIL;
	if (status >= 500)
		return EX_UNAVAILABLE;
	return EX_PROTOCOL;
}

int
sv_http_urlencode(struct sv_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char esc[3];

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' ||
		    c == '~') {
			if (sv_buf_append(b, s, 1) < 0)
				return -1;
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 15];
		if (sv_buf_append(b, esc, 3) < 0)
			return -1;
	}
	return 0;
}

const char *
sv_http_reason(long status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 422:
		return "Unprocessable Entity";
	case 426:
		return "Upgrade Required";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	default:
		return "";
	}
}
