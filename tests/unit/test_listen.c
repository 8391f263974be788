/*
 * test_listen.c - the parts of `abyss listen` that run without a broker:
 * the inbox (store, walk in order, delete, survive a reopen, exclusive
 * lock), --check-config, and startup refusals. The service itself is
 * tested against a real mosquitto by tests/integration/10-listen-*.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "abyss/error.h"
#include "service/listen.h"
#include "service/listen_inbox.h"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/abyss-test-listen-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", tmpdir, name);
}

struct walk {
	int n;
	int64_t ids[8];
	char topics[8][64];
	size_t lens[8];
};

static int walk_cb(void *ud, int64_t id, const char *topic, const void *payload,
		   size_t len)
{
	struct walk *w = ud;

	(void)payload;
	if (w->n >= 8)
		return 1;
	w->ids[w->n] = id;
	snprintf(w->topics[w->n], sizeof(w->topics[0]), "%s", topic);
	w->lens[w->n] = len;
	w->n++;
	return 0;
}

static void test_listen_inbox_roundtrip(void **state)
{
	struct lsn_inbox *ib = NULL, *ib2 = NULL;
	struct abyss_diag d;
	struct walk w;
	char p[128];
	int64_t a = 0, b = 0, c = 0;

	(void)state;
	path_of(p, sizeof(p), "spool.db-inbox");
	assert_int_equal(lsn_inbox_open(p, &ib, NULL), 0);
	assert_int_equal(lsn_inbox_count(ib), 0);
	assert_int_equal(
	    lsn_inbox_add(ib, "a/b/c/ResultManagement", "{}", 2, &a), 0);
	assert_int_equal(lsn_inbox_add(ib, "a/b/c/ResultManagement/Trace",
				       "{\"x\": 1}", 8, &b),
			 0);
	assert_int_equal(lsn_inbox_add(ib, "t3", NULL, 0, &c), 0);
	assert_true(a < b && b < c);
	assert_int_equal(lsn_inbox_del(ib, b), 0);
	assert_int_equal(lsn_inbox_del(ib, 0), 0); /* ignored */
	assert_int_equal(lsn_inbox_count(ib), 2);

	/* a second opener is refused while the first holds the lock */
	abyss_diag_init(&d);
	assert_int_equal(lsn_inbox_open(p, &ib2, &d), ABYSS_EDB);
	assert_null(ib2);
	assert_true(d.msg[0] != 0);
	lsn_inbox_close(ib);

	/* what was stored survives a reopen, in arrival order */
	ib = NULL;
	assert_int_equal(lsn_inbox_open(p, &ib, NULL), 0);
	memset(&w, 0, sizeof(w));
	assert_int_equal(lsn_inbox_foreach(ib, walk_cb, &w), 0);
	assert_int_equal(w.n, 2);
	assert_true(w.ids[0] == a && w.ids[1] == c);
	assert_string_equal(w.topics[0], "a/b/c/ResultManagement");
	assert_int_equal(w.lens[0], 2);
	assert_int_equal(w.lens[1], 0);
	/* ids are never reused after a delete */
	assert_int_equal(lsn_inbox_del(ib, c), 0);
	assert_int_equal(lsn_inbox_add(ib, "t4", "x", 1, &b), 0);
	assert_true(b > c);
	lsn_inbox_close(ib);
	lsn_inbox_close(NULL);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_listen_check_config(void **state)
{
	char p[128], out[4096];
	FILE *f;
	size_t n;

	(void)state;
	path_of(p, sizeof(p), "good.yaml");
	write_file(p, "mqtt:\n  broker: {host: 127.0.0.1, port: 1883}\n"
		      "  listener: {root: R, result: Res, trace: Res/Trace}\n"
		      "  frobnicate: 1\n");
	f = tmpfile();
	assert_non_null(f);
	assert_int_equal(abyss_listen_check_config(p, f), 0);
	rewind(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	fclose(f);
	assert_non_null(strstr(out, "good.yaml:4:3: warning:"));
	assert_non_null(strstr(out, ": ok"));

	path_of(p, sizeof(p), "bad.yaml");
	write_file(p, "mqtt:\n  broker: {host: h, port: 70000}\n");
	f = tmpfile();
	assert_non_null(f);
	assert_int_equal(abyss_listen_check_config(p, f), 1);
	rewind(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	fclose(f);
	assert_non_null(strstr(out, "bad.yaml:2:"));
	assert_non_null(strstr(out, "mqtt.broker.port"));

	/* ml with a model that does not load */
	path_of(p, sizeof(p), "ml.yaml");
	write_file(p,
		   "mqtt:\n  broker: {host: 127.0.0.1, port: 1883}\n"
		   "  listener: {root: R, result: Res, trace: Res/Trace}\n"
		   "abyss:\n  estimator: {method: ml, model: /nonexistent}\n");
	f = tmpfile();
	assert_non_null(f);
	assert_int_equal(abyss_listen_check_config(p, f), 1);
	fclose(f);
}

static void test_listen_run_refuses_bad_start(void **state)
{
	struct abyss_listen_opts o;
	struct abyss_diag d;
	char p[128];

	(void)state;
	memset(&o, 0, sizeof(o));
	o.log_fd = -1;
	abyss_diag_init(&d);
	assert_int_equal(abyss_listen_run(NULL, &d), ABYSS_EINVAL);

	path_of(p, sizeof(p), "missing.yaml");
	o.config_path = p;
	abyss_diag_init(&d);
	assert_int_equal(abyss_listen_run(&o, &d), ABYSS_ENOENT);

	path_of(p, sizeof(p), "ml.yaml");
	write_file(p,
		   "mqtt:\n  broker: {host: 127.0.0.1, port: 1883}\n"
		   "  listener: {root: R, result: Res, trace: Res/Trace}\n"
		   "abyss:\n  estimator: {method: ml, model: /nonexistent}\n");
	abyss_diag_init(&d);
	/* an ml estimator whose model cannot be loaded stops the start */
	assert_true(abyss_listen_run(&o, &d) < 0);
	assert_non_null(strstr(d.msg, "abyss.estimator.model /nonexistent"));

	/* a spool path that cannot be created: a clean failure, no leak */
	path_of(p, sizeof(p), "nospool.yaml");
	write_file(p, "mqtt:\n  broker: {host: 127.0.0.1, port: 1883}\n"
		      "  listener: {root: R, result: Res, trace: Res/Trace}\n"
		      "abyss:\n  spool: {path: /nonexistent/dir/s.db}\n"
		      "  http: {listen: \"\"}\n");
	o.config_path = p;
	o.log_fd = open("/dev/null", O_WRONLY);
	assert_true(o.log_fd >= 0);
	abyss_diag_init(&d);
	assert_int_equal(abyss_listen_run(&o, &d), ABYSS_EDB);
	close(o.log_fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_listen_inbox_roundtrip),
	    cmocka_unit_test(test_listen_check_config),
	    cmocka_unit_test(test_listen_run_refuses_bad_start),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
