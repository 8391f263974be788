/* test_log.c - the structured logger: exact logfmt and JSON lines under an
 * injected clock, escaping checked by parsing the JSON back with jansson,
 * levels at run time, rate limits, cut lines that stay well-formed over
 * many lengths, and threads whose lines never interleave. */
#include "testutil.h"

#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abyss/config.h"
#include "service/log.h"

/* 2026-11-25T16:00:00.123Z */
#define T0 1795622400123LL

static int atoi_safe(const char *s)
{
	char *end;
	long v;

	if (!s)
		return -1;
	v = strtol(s, &end, 10);
	return *end ? -1 : (int)v;
}

static int64_t fake_clock(void *ctx)
{
	return *(const int64_t *)ctx;
}

struct sink {
	int fds[2];
	struct abyss_log *lg;
	int64_t now;
	char buf[1 << 16];
};

static void sink_open(struct sink *s, int format, int level, size_t line_max,
		      size_t rl_max)
{
	struct abyss_log_opts o = {0};

	assert_int_equal(pipe2(s->fds, O_NONBLOCK | O_CLOEXEC), 0);
	s->now = T0;
	o.fd = s->fds[1];
	o.format = format;
	o.level = level;
	o.line_max = line_max;
	o.ratelimit_max = rl_max;
	o.clock = fake_clock;
	o.clock_ctx = &s->now;
	assert_int_equal(abyss_log_new(&o, &s->lg), 0);
}

/* Everything written since the last call, NUL-terminated. */
static const char *sink_read(struct sink *s)
{
	ssize_t n = read(s->fds[0], s->buf, sizeof(s->buf) - 1);

	s->buf[n > 0 ? n : 0] = '\0';
	return s->buf;
}

static void sink_close(struct sink *s)
{
	abyss_log_free(s->lg);
	close(s->fds[0]);
	close(s->fds[1]);
}

static void test_log_logfmt_exact(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));

	(void)state;
	assert_non_null(s);
	sink_open(s, ABYSS_LOGF_LOGFMT, ABYSS_LOGL_INFO, 0, 0);
	abyss_log_kv(s->lg, ABYSS_LOGL_INFO, "hole published", "hole",
		     "ILLL502033771/setitectest#2409", "ms", "12.5", NULL);
	assert_string_equal(sink_read(s),
			    "ts=2026-11-25T16:00:00.123Z level=info "
			    "msg=\"hole published\" "
			    "hole=ILLL502033771/setitectest#2409 ms=12.5\n");
	/* Quoting only where needed: empty, space, '=', quote, control. */
	s->now = T0 + 877;
	abyss_log_kv(s->lg, ABYSS_LOGL_WARN, "x", "empty", "", "null", NULL,
		     "eq", "a=b", "q", "say \"hi\"", "nl", "a\nb", "bs",
		     "C:\\dir", "utf8", "\xc3\xa9t\xc3\xa9", "bad key!", "v",
		     NULL);
	assert_string_equal(
	    sink_read(s),
	    "ts=2026-11-25T16:00:01.000Z level=warn msg=x empty=\"\" "
	    "null=\"\" eq=\"a=b\" q=\"say \\\"hi\\\"\" nl=\"a\\nb\" "
	    "bs=C:\\dir utf8=\xc3\xa9t\xc3\xa9 bad_key_=v\n");
	sink_close(s);
	free(s);
}

static void test_log_json_escaping(void **state)
{
	static const char nasty[] = "q\" b\\ n\n r\r t\t c\x01 d\x7f "
				    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 "
				    "bad\xff over\xc0\xaf sur\xed\xa0\x80 end";
	static const char want[] =
	    "q\" b\\ n\n r\r t\t c\x01 d\x7f "
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 "
	    "bad\xef\xbf\xbd over\xef\xbf\xbd\xef\xbf\xbd "
	    "sur\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end";
	struct sink *s = calloc(1, sizeof(*s));
	json_error_t err;
	json_t *j;
	const char *line;

	(void)state;
	assert_non_null(s);
	sink_open(s, ABYSS_LOGF_JSON, ABYSS_LOGL_DEBUG, 0, 0);
	abyss_log_kv(s->lg, ABYSS_LOGL_ERROR, nasty, "v", nasty, "n", NULL,
		     NULL);
	static const char prefix[] =
	    "{\"ts\":\"2026-11-25T16:00:00.123Z\",\"level\":\"error\","
	    "\"msg\":\"q\\\" b\\\\ n\\n r\\r t\\t c\\u0001 d\\u007f ";

	line = sink_read(s);
	assert_true(strncmp(line, prefix, strlen(prefix)) == 0);
	/* One line: the only newline is the last byte. */
	assert_true(strchr(line, '\n') == line + strlen(line) - 1);
	j = json_loads(line, 0, &err);
	if (!j)
		fail_msg("not JSON (%s): %s", err.text, line);
	assert_string_equal(json_string_value(json_object_get(j, "msg")), want);
	assert_string_equal(json_string_value(json_object_get(j, "v")), want);
	assert_true(json_is_null(json_object_get(j, "n")));
	assert_string_equal(json_string_value(json_object_get(j, "level")),
			    "error");
	json_decref(j);
	sink_close(s);
	free(s);
}

static void test_log_typed_fields_and_ctx(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	const struct abyss_log_field f[] = {
	    ABYSS_LF_INT("n", -42),	    ABYSS_LF_DBL("ms", 12.5),
	    ABYSS_LF_DBL("nan", NAN),	    ABYSS_LF_BOOL("ok", 1),
	    ABYSS_LF_STR("tool", "a b"),    ABYSS_LF_DBL("tenth", 0.1),
	    ABYSS_LF_DBL("third", 1.0 / 3), ABYSS_LF_DBL("inf", -INFINITY),
	};
	struct abyss_log_ctx c;
	json_t *j;
	int i;

	(void)state;
	assert_non_null(s);
	sink_open(s, ABYSS_LOGF_JSON, ABYSS_LOGL_INFO, 0, 0);
	abyss_log_fields(s->lg, ABYSS_LOGL_INFO, "typed", f, 8);
	assert_string_equal(sink_read(s),
			    "{\"ts\":\"2026-11-25T16:00:00.123Z\","
			    "\"level\":\"info\",\"msg\":\"typed\",\"n\":-42,"
			    "\"ms\":12.5,\"nan\":null,\"ok\":true,"
			    "\"tool\":\"a b\",\"tenth\":0.1,"
			    "\"third\":0.3333333333333333,\"inf\":null}\n");

	abyss_log_ctx_init(&c, s->lg);
	assert_int_equal(abyss_log_ctx_add(&c, "hole", "T1#7"), 0);
	for (i = 1; i < ABYSS_LOG_CTX_FIELDS; i++)
		assert_int_equal(abyss_log_ctx_add(&c, "k", "v"), 0);
	assert_int_equal(abyss_log_ctx_add(&c, "k", "v"), ABYSS_EFULL);
	abyss_log_ctx_kv(&c, ABYSS_LOGL_WARN, "step", "phase", "estimate",
			 NULL);
	j = json_loads(sink_read(s), 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "hole")),
			    "T1#7");
	assert_string_equal(json_string_value(json_object_get(j, "phase")),
			    "estimate");
	json_decref(j);
	sink_close(s);

	/* logfmt renders the same typed fields bare. */
	sink_open(s, ABYSS_LOGF_LOGFMT, ABYSS_LOGL_INFO, 0, 0);
	abyss_log_fields(s->lg, ABYSS_LOGL_INFO, "typed", f, 8);
	assert_string_equal(sink_read(s),
			    "ts=2026-11-25T16:00:00.123Z level=info msg=typed "
			    "n=-42 ms=12.5 nan=NaN ok=true tool=\"a b\" "
			    "tenth=0.1 third=0.3333333333333333 inf=-Inf\n");
	sink_close(s);
	free(s);
}

static void test_log_levels_at_run_time(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct abyss_log_stats st;
	int lv = 0;

	(void)state;
	assert_non_null(s);
	sink_open(s, ABYSS_LOGF_LOGFMT, ABYSS_LOGL_INFO, 0, 0);
	assert_false(abyss_log_enabled(s->lg, ABYSS_LOGL_DEBUG));
	abyss_log_kv(s->lg, ABYSS_LOGL_DEBUG, "hidden", NULL);
	assert_string_equal(sink_read(s), "");
	assert_int_equal(abyss_log_set_level(s->lg, ABYSS_LOGL_DEBUG), 0);
	assert_int_equal(abyss_log_level(s->lg), ABYSS_LOGL_DEBUG);
	abyss_log_kv(s->lg, ABYSS_LOGL_DEBUG, "shown", NULL);
	assert_string_equal(sink_read(s), "ts=2026-11-25T16:00:00.123Z "
					  "level=debug msg=shown\n");
	assert_int_equal(abyss_log_set_level(s->lg, ABYSS_LOGL_ERROR), 0);
	abyss_log_kv(s->lg, ABYSS_LOGL_WARN, "hidden", NULL);
	abyss_log_kv(s->lg, ABYSS_LOGL_CRITICAL, "shown", NULL);
	assert_string_equal(sink_read(s), "ts=2026-11-25T16:00:00.123Z "
					  "level=critical msg=shown\n");
	assert_int_equal(abyss_log_set_level(s->lg, 25), ABYSS_EINVAL);
	abyss_log_stats(s->lg, &st);
	assert_int_equal(st.lines, 2);

	/* The configuration's level and format values are ours, so a
	 * configured value is passed through unchanged. */
	assert_int_equal(ABYSS_LOG_DEBUG, ABYSS_LOGL_DEBUG);
	assert_int_equal(ABYSS_LOG_INFO, ABYSS_LOGL_INFO);
	assert_int_equal(ABYSS_LOG_WARNING, ABYSS_LOGL_WARN);
	assert_int_equal(ABYSS_LOG_ERROR, ABYSS_LOGL_ERROR);
	assert_int_equal(ABYSS_LOG_CRITICAL, ABYSS_LOGL_CRITICAL);
	assert_int_equal(ABYSS_LOG_LOGFMT, ABYSS_LOGF_LOGFMT);
	assert_int_equal(ABYSS_LOG_JSON, ABYSS_LOGF_JSON);
	assert_int_equal(abyss_log_level_parse("WARNING", &lv), 0);
	assert_int_equal(lv, 30);
	assert_int_equal(abyss_log_level_parse("warn", &lv), 0);
	assert_int_equal(abyss_log_level_parse("debug", &lv), 0);
	assert_int_equal(lv, 10);
	assert_int_equal(abyss_log_level_parse("critical", &lv), 0);
	assert_int_equal(lv, 50);
	assert_int_equal(abyss_log_level_parse("verbose", &lv), ABYSS_EINVAL);
	assert_string_equal(abyss_log_level_name(40), "error");
	assert_string_equal(abyss_log_level_name(41), "?");
	sink_close(s);
	free(s);
}

static void test_log_rate_limit(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct abyss_log_stats st;

	(void)state;
	assert_non_null(s);
	sink_open(s, ABYSS_LOGF_LOGFMT, ABYSS_LOGL_INFO, 0, 2);
	assert_int_equal(abyss_log_kv_rl(s->lg, ABYSS_LOGL_WARN, "buf60", 1000,
					 "buffer 60% full", NULL),
			 1);
	s->now += 100;
	assert_int_equal(abyss_log_kv_rl(s->lg, ABYSS_LOGL_WARN, "buf60", 1000,
					 "buffer 60% full", NULL),
			 0);
	s->now += 800;
	assert_int_equal(abyss_log_kv_rl(s->lg, ABYSS_LOGL_WARN, "buf60", 1000,
					 "buffer 60% full", NULL),
			 0);
	/* Another key is limited on its own. */
	assert_int_equal(abyss_log_kv_rl(s->lg, ABYSS_LOGL_WARN, "buf80", 1000,
					 "buffer 80% full", NULL),
			 1);
	s->now = T0 + 1000;
	assert_int_equal(abyss_log_kv_rl(s->lg, ABYSS_LOGL_WARN, "buf60", 1000,
					 "buffer 60% full", "n", "7", NULL),
			 1);
	assert_string_equal(
	    sink_read(s),
	    "ts=2026-11-25T16:00:00.123Z level=warn msg=\"buffer 60% full\"\n"
	    "ts=2026-11-25T16:00:01.023Z level=warn msg=\"buffer 80% full\"\n"
	    "ts=2026-11-25T16:00:01.123Z level=warn msg=\"buffer 60% full\" "
	    "n=7 suppressed=2\n");
	abyss_log_stats(s->lg, &st);
	assert_int_equal(st.suppressed, 2);
	/* Two slots: a third key evicts the least recently written (buf80),
	 * which may then speak again at once; buf60 stays limited. */
	assert_int_equal(
	    abyss_log_kv_rl(s->lg, ABYSS_LOGL_WARN, "k3", 1000, "three", NULL),
	    1);
	assert_int_equal(abyss_log_kv_rl(s->lg, ABYSS_LOGL_WARN, "buf60", 1000,
					 "again", NULL),
			 0);
	sink_read(s);
	sink_close(s);
	free(s);
}

/* Every length from 0 to 700 bytes of a value mixing escapes and multibyte
 * characters, in a 256-byte line: each line stays within line_max, ends
 * with a newline, and (JSON) parses, with truncated=true when cut. */
static void test_log_cut_lines_stay_well_formed(void **state)
{
	static const char *units[] = {
	    "a", "\"", "\n", "\xc3\xa9", "\xf0\x9f\x98\x80", "\x01", "\\", " "};
	struct sink *s = calloc(1, sizeof(*s));
	char v[800];
	size_t len = 0, ncut = 0;
	struct abyss_log_stats st;
	int fmt;

	(void)state;
	assert_non_null(s);
	for (fmt = 0; fmt < 2; fmt++) {
		sink_open(s, fmt, ABYSS_LOGL_INFO, 256, 0);
		for (len = 0, ncut = 0; len < 700;) {
			const char *u = units[len % 8];
			const char *line;
			size_t n;

			memcpy(v + len, u, strlen(u));
			len += strlen(u);
			v[len] = '\0';
			abyss_log_kv(s->lg, ABYSS_LOGL_INFO, "cut", "v", v,
				     "after", "x", NULL);
			line = sink_read(s);
			n = strlen(line);
			assert_true(n > 0 && n <= 256);
			assert_int_equal(line[n - 1], '\n');
			assert_true(memchr(line, '\n', n - 1) == NULL);
			if (strstr(line, "truncated"))
				ncut++;
			if (fmt == ABYSS_LOGF_JSON) {
				json_error_t err;
				json_t *j = json_loads(line, 0, &err);

				if (!j)
					fail_msg("len %zu: %s: %s", len,
						 err.text, line);
				json_decref(j);
			} else if (strstr(line, "truncated")) {
				assert_true(strcmp(line + n - 16,
						   " truncated=true\n") == 0);
			}
		}
		abyss_log_stats(s->lg, &st);
		assert_true(ncut > 0);
		assert_int_equal(st.truncated, ncut);
		sink_close(s);
	}
	free(s);
}

struct hammer {
	struct abyss_log *lg;
	int id;
};

#define HAMMER_THREADS 4
#define HAMMER_LINES   1000

static void *hammer_main(void *arg)
{
	const struct hammer *h = arg;
	char id[16], seq[16], pad[300];
	int i;

	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	snprintf(id, sizeof(id), "%d", h->id);
	for (i = 0; i < HAMMER_LINES; i++) {
		snprintf(seq, sizeof(seq), "%d", i);
		abyss_log_kv(h->lg, ABYSS_LOGL_INFO, "line", "t", id, "i", seq,
			     "pad", pad, NULL);
	}
	return NULL;
}

static void test_log_threads_never_interleave(void **state)
{
	struct abyss_log_opts o = {0};
	struct hammer h[HAMMER_THREADS];
	pthread_t tid[HAMMER_THREADS];
	int next[HAMMER_THREADS] = {0};
	struct abyss_log *lg;
	char *line = NULL;
	size_t cap = 0;
	int i, nlines = 0;
	FILE *fp = tmpfile();

	(void)state;
	assert_non_null(fp);
	o.fp = fp;
	o.format = ABYSS_LOGF_JSON;
	o.level = ABYSS_LOGL_INFO;
	assert_int_equal(abyss_log_new(&o, &lg), 0);
	for (i = 0; i < HAMMER_THREADS; i++) {
		h[i].lg = lg;
		h[i].id = i;
		assert_int_equal(
		    pthread_create(&tid[i], NULL, hammer_main, &h[i]), 0);
	}
	for (i = 0; i < HAMMER_THREADS; i++)
		pthread_join(tid[i], NULL);
	abyss_log_free(lg);

	rewind(fp);
	while (getline(&line, &cap, fp) > 0) {
		json_t *j = json_loads(line, 0, NULL);
		int t, seq;

		if (!j)
			fail_msg("line %d is not whole: %s", nlines, line);
		t = atoi_safe(json_string_value(json_object_get(j, "t")));
		seq = atoi_safe(json_string_value(json_object_get(j, "i")));
		assert_true(t >= 0 && t < HAMMER_THREADS);
		/* Each thread's lines appear whole and in its own order. */
		assert_int_equal(seq, next[t]);
		next[t]++;
		json_decref(j);
		nlines++;
	}
	free(line);
	fclose(fp);
	assert_int_equal(nlines, HAMMER_THREADS * HAMMER_LINES);
}

static void test_log_write_errors_and_args(void **state)
{
	struct abyss_log_opts o = {0};
	struct abyss_log_stats st;
	struct abyss_log *lg = NULL;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	o.fd = fd; /* not writable: every line is lost, and counted */
	o.format = ABYSS_LOGF_LOGFMT;
	o.level = ABYSS_LOGL_INFO;
	assert_int_equal(abyss_log_new(&o, &lg), 0);
	abyss_log_kv(lg, ABYSS_LOGL_INFO, "lost", NULL);
	abyss_log_stats(lg, &st);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.lines, 0);
	assert_int_equal(abyss_log_set_fd(lg, -1), ABYSS_EINVAL);
	abyss_log_free(lg);
	close(fd);

	o.fd = -1;
	assert_int_equal(abyss_log_new(&o, &lg), ABYSS_EINVAL);
	o.fd = 1;
	o.format = 7;
	assert_int_equal(abyss_log_new(&o, &lg), ABYSS_EINVAL);
	o.format = ABYSS_LOGF_JSON;
	o.level = 0;
	assert_int_equal(abyss_log_new(&o, &lg), ABYSS_EINVAL);
	o.level = ABYSS_LOGL_INFO;
	o.line_max = 10;
	assert_int_equal(abyss_log_new(&o, &lg), ABYSS_ERANGE);
	assert_null(lg);
	/* NULL loggers are silently ignored. */
	abyss_log_kv(NULL, ABYSS_LOGL_ERROR, "x", NULL);
	assert_int_equal(
	    abyss_log_kv_rl(NULL, ABYSS_LOGL_ERROR, "k", 1, "x", NULL), 0);
	abyss_log_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_log_logfmt_exact),
	    cmocka_unit_test(test_log_json_escaping),
	    cmocka_unit_test(test_log_typed_fields_and_ctx),
	    cmocka_unit_test(test_log_levels_at_run_time),
	    cmocka_unit_test(test_log_rate_limit),
	    cmocka_unit_test(test_log_cut_lines_stay_well_formed),
	    cmocka_unit_test(test_log_threads_never_interleave),
	    cmocka_unit_test(test_log_write_errors_and_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
