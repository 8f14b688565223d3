/* Unit tests for the bounded line reader and the NDJSON input. */
#include <sys/types.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "event.h"
#include "log.h"
#include "unit.h"

/* An fd holding exactly `len` bytes of data, then EOF. */
static int
feed(const char *data, size_t len)
{
	char path[] = "/tmp/sv-unit-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		abort();
	unlink(path);
	if (write(fd, data, len) != (ssize_t)len)
		abort();
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

struct got {
	int lines, toolong;
	char text[8][64];
	size_t len[8];
	unsigned long toolong_at[8];
};

static void
read_all(const char *data, size_t len, size_t max, struct got *g)
{
	struct sv_lines r;
	enum sv_lines_res res;
	const char *line;
	size_t n;
	int fd = feed(data, len);

	memset(g, 0, sizeof(*g));
	if (sv_lines_init(&r, fd, max) < 0)
		abort();
	while ((res = sv_lines_get(&r, &line, &n)) != SV_LINES_EOF) {
		if (res == SV_LINES_LINE && g->lines < 8) {
			g->len[g->lines] = n;
			memcpy(g->text[g->lines], line, n < 63 ? n : 63);
			g->lines++;
		} else if (res == SV_LINES_TOOLONG && g->toolong < 8) {
			g->toolong_at[g->toolong++] = r.lineno;
		} else if (res == SV_LINES_ERROR) {
			break;
		}
	}
	sv_lines_fini(&r);
	close(fd);
}

static void
test_basic(void)
{
	struct got g;

	read_all("a\nbb\r\n\nccc", 10, 0, &g);
	CHECK(g.lines == 4, "four lines incl. the empty one and the last");
	CHECK_STR(g.text[0], "a", "first line");
	CHECK(
	    g.len[1] == 2 && memcmp(g.text[1], "bb", 2) == 0, "CRLF stripped");
	CHECK(g.len[2] == 0, "empty line returned as empty");
	CHECK_STR(g.text[3], "ccc", "final line without newline accepted");
}

static void
test_toolong(void)
{
	char big[300];
	struct got g;

	memset(big, 'x', sizeof(big));
	memcpy(big, "ok\n", 3);
	big[200] = '\n';
	memcpy(big + 201, "fine\n", 5);
	/* line 2 is 197 bytes; max 100 */
	read_all(big, 206, 100, &g);
	CHECK(g.lines == 2, "lines around an over-long one survive");
	CHECK(g.toolong == 1 && g.toolong_at[0] == 2,
	    "over-long line reported with its number");
	CHECK_STR(g.text[1], "fine", "next line intact after the skip");
}

static void
test_toolong_across_reads(void)
{
	/* Longer than the 64 KiB read unit, so it spans several fills. */
	size_t n = 200000, i;
	char *data = malloc(n + 16);
	struct got g;

	for (i = 0; i < n; i++)
		data[i] = 'y';
	data[n] = '\n';
	memcpy(data + n + 1, "{\"a\":1}\n", 8);
	read_all(data, n + 9, 1000, &g);
	CHECK(g.toolong == 1, "huge line skipped once");
	CHECK(g.lines == 1 && g.len[0] == 7, "line after a huge one intact");
	read_all(data, n + 9, 0, &g);
	CHECK(g.lines == 2 && g.toolong == 0,
	    "default 1 MiB limit accepts a 200 KB line");
	free(data);
}

static void
test_exact_max(void)
{
	struct got g;

	read_all("12345\n123456\n12345\r\n", 20, 5, &g);
	CHECK(g.lines == 2 && g.toolong == 1,
	    "max is inclusive; CR before LF not counted");
}

static void
test_nul(void)
{
	static const char data[] = "{\"a\":\"x\0y\"}\n{\"b\":2}\n";
	struct sv_event_input in;
	struct sv_err e;
	const char *line;
	size_t len;
	json_t *o = NULL;
	int fd = feed(data, sizeof(data) - 1);

	sv_event_input_init(&in, fd, 0, false);
	CHECK(sv_event_input_next(&in, true, &o, &line, &len, &e) ==
	        SV_INPUT_LINE,
	    "embedded NUL: the next good line is returned");
	CHECK(o != NULL && json_integer_value(json_object_get(o, "b")) == 2,
	    "it is the line after");
	CHECK(in.bad == 1, "the NUL line was counted as bad");
	json_decref(o);
	sv_event_input_fini(&in);
	close(fd);
}

static void
test_input_strict(void)
{
	static const char data[] = "{\"a\":1}\nnot json\n{\"a\":3}\n";
	struct sv_event_input in;
	struct sv_err e;
	const char *line;
	size_t len;
	json_t *o;
	int fd;

	fd = feed(data, sizeof(data) - 1);
	sv_event_input_init(&in, fd, 0, true);
	CHECK(sv_event_input_next(&in, true, &o, &line, &len, &e) ==
	        SV_INPUT_LINE,
	    "strict: first line ok");
	json_decref(o);
	CHECK(sv_event_input_next(&in, true, &o, &line, &len, &e) ==
	            SV_INPUT_ERROR &&
	        e.ex == EX_DATAERR,
	    "strict: bad line is EX_DATAERR");
	CHECK(strstr(e.msg, "line 2") != NULL, "strict: message has line 2");
	sv_event_input_fini(&in);
	close(fd);

	fd = feed(data, sizeof(data) - 1);
	sv_event_input_init(&in, fd, 0, false);
	int n = 0;
	while (sv_event_input_next(&in, true, &o, &line, &len, &e) ==
	    SV_INPUT_LINE) {
		n++;
		json_decref(o);
	}
	CHECK(n == 2 && in.bad == 1 && in.good == 2,
	    "lenient: bad line skipped and counted");
	sv_event_input_fini(&in);
	close(fd);
}

static void
test_parse(void)
{
	struct sv_err e;
	json_t *o;

	o = sv_event_parse("{\"a\":\"\xff\"}", 10, &e);
	CHECK(o == NULL && e.ex == EX_DATAERR, "invalid UTF-8 rejected");
	o = sv_event_parse("[1,2]", 5, &e);
	CHECK(o == NULL && strstr(e.msg, "object") != NULL,
	    "array rejected: not an object");
	o = sv_event_parse("{\"a\":1}{\"b\":2}", 14, &e);
	CHECK(o == NULL, "two objects on one line rejected");
	o = sv_event_parse("{\"a\":1,\"a\":2}", 13, &e);
	CHECK(o == NULL, "duplicate keys rejected");
	o = sv_event_parse("", 0, &e);
	CHECK(o == NULL && e.ex == EX_DATAERR, "empty line rejected");
	o = sv_event_parse(" {\"a\":1} ", 9, &e);
	CHECK(o != NULL, "surrounding spaces accepted");
	json_decref(o);
}

int
main(void)
{
	sv_log_init("test-lines");
	sv_log_set_level(SV_LOG_ERROR);
	test_basic();
	test_toolong();
	test_toolong_across_reads();
	test_exact_max();
	test_nul();
	test_input_strict();
	test_parse();
	return unit_done();
}
