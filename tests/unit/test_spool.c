/* test_spool.c - the publish spool on real SQLite files in a temp dir:
 * enqueue/inflight/ack, replay after close and after a killed process,
 * dedupe with TTL, limits, bad files. */
#include "testutil.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "abyss/spool.h"

struct tmp {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/abyss-spool-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/spool.db", t->dir);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tmp *t = *state;
	char p[192];

	snprintf(p, sizeof(p), "%s/spool.db", t->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/spool.db-wal", t->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/spool.db-shm", t->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/other.db", t->dir);
	unlink(p);
	rmdir(t->dir);
	free(t);
	return 0;
}

struct seen {
	int n;
	int64_t ids[16];
	char topics[16][64];
	char payloads[16][64];
	int mark_from_callback; /* mid base, 0 = don't mark */
	struct abyss_spool *sp;
};

static int collect(void *ud, const struct abyss_spool_entry *e)
{
	struct seen *s = ud;

	if (s->n >= 16)
		return 1;
	s->ids[s->n] = e->id;
	snprintf(s->topics[s->n], 64, "%s", e->topic);
	snprintf(s->payloads[s->n], 64, "%.*s", (int)e->len,
		 (const char *)e->payload);
	if (s->mark_from_callback)
		assert_int_equal(
		    abyss_spool_mark_inflight(s->sp, e->id,
					      s->mark_from_callback + s->n),
		    0);
	s->n++;
	return 0;
}

static struct abyss_spool_msg msg(const char *topic, const char *payload)
{
	struct abyss_spool_msg m = {topic, payload, strlen(payload), 0, 0};
	return m;
}

static void test_spool_enqueue_inflight_ack(void **state)
{
	struct tmp *t = *state;
	struct abyss_spool *sp = NULL;
	struct abyss_spool_msg m[2] = {msg("r/a/b/KeyPoints", "{\"k\": 1}"),
				       msg("r/a/b/Depth", "{\"d\": 2}")};
	struct abyss_spool_stats st;
	struct seen s;
	int64_t ids[2];

	assert_int_equal(abyss_spool_open(t->path, NULL, &sp, NULL), 0);
	assert_int_equal(
	    abyss_spool_enqueue(sp, m, 2, "a/b", "2409", 1000, ids, NULL), 0);
	assert_true(ids[1] > ids[0]);
	memset(&s, 0, sizeof(s));
	assert_int_equal(abyss_spool_foreach_pending(sp, 0, 100, collect, &s),
			 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[0], ids[0]);
	assert_string_equal(s.topics[0], "r/a/b/KeyPoints");
	assert_string_equal(s.payloads[1], "{\"d\": 2}");

	assert_int_equal(abyss_spool_mark_inflight(sp, ids[0], 7), 0);
	memset(&s, 0, sizeof(s));
	abyss_spool_foreach_pending(sp, 0, 100, collect, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ids[0], ids[1]);
	assert_int_equal(abyss_spool_get_stats(sp, &st), 0);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.inflight, 1);
	assert_int_equal(st.bytes, 16);

	assert_int_equal(abyss_spool_ack(sp, 7), 0);
	assert_int_equal(abyss_spool_ack(sp, 7), ABYSS_ENOTFOUND);
	assert_int_equal(abyss_spool_mark_inflight(sp, 999999, 8),
			 ABYSS_ENOTFOUND);
	abyss_spool_get_stats(sp, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.bytes, 8);
	/* after a reconnect every mid is void: pending again */
	assert_int_equal(abyss_spool_mark_inflight(sp, ids[1], 9), 0);
	assert_int_equal(abyss_spool_reset_inflight(sp), 0);
	assert_int_equal(abyss_spool_ack(sp, 9), ABYSS_ENOTFOUND);
	memset(&s, 0, sizeof(s));
	abyss_spool_foreach_pending(sp, 0, 100, collect, &s);
	assert_int_equal(s.n, 1);
	/* the walk can start after an id and mark from the callback */
	memset(&s, 0, sizeof(s));
	s.sp = sp;
	s.mark_from_callback = 100;
	abyss_spool_foreach_pending(sp, ids[1], 100, collect, &s);
	assert_int_equal(s.n, 0);
	abyss_spool_foreach_pending(sp, 0, 100, collect, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(abyss_spool_ack(sp, 100), 0);
	abyss_spool_get_stats(sp, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	abyss_spool_close(sp);
}

/* A batch is one transaction: what it wrote is there after the commit and
 * gone if the process ends before it; a duplicate inside a batch leaves the
 * rest of the batch alone (the enqueue is a savepoint). */
static void test_spool_batch_commit_and_loss(void **state)
{
	struct tmp *t = *state;
	struct abyss_spool *sp = NULL;
	struct abyss_spool_msg m[2] = {msg("r/a/b/KeyPoints", "{\"k\": 1}"),
				       msg("r/a/b/Depth", "{\"d\": 2}")};
	struct abyss_spool_stats st;
	struct abyss_diag d;
	struct seen s;

	assert_int_equal(abyss_spool_open(t->path, NULL, &sp, NULL), 0);
	assert_int_equal(abyss_spool_commit(sp, NULL), ABYSS_EINVAL);
	assert_int_equal(abyss_spool_begin(sp), 0);
	assert_int_equal(abyss_spool_begin(sp), ABYSS_EINVAL);
	assert_int_equal(
	    abyss_spool_enqueue(sp, m, 2, "a/b", "1", 1000, NULL, NULL), 0);
	assert_int_equal(
	    abyss_spool_enqueue(sp, m, 2, "a/b", "1", 1001, NULL, NULL),
	    ABYSS_EDUPLICATE);
	assert_int_equal(
	    abyss_spool_enqueue(sp, m, 2, "a/b", "2", 1002, NULL, NULL), 0);
	assert_int_equal(abyss_spool_entries(sp), 4);
	abyss_diag_init(&d);
	assert_int_equal(abyss_spool_commit(sp, &d), 0);
	/* a second batch that never commits: closing rolls it back */
	assert_int_equal(abyss_spool_begin(sp), 0);
	assert_int_equal(
	    abyss_spool_enqueue(sp, m, 2, "a/b", "3", 1003, NULL, NULL), 0);
	memset(&s, 0, sizeof(s));
	abyss_spool_foreach_pending(sp, 0, 100, collect, &s);
	assert_int_equal(s.n, 6); /* visible to the batch itself */
	abyss_spool_close(sp);

	sp = NULL;
	assert_int_equal(abyss_spool_open(t->path, NULL, &sp, NULL), 0);
	assert_int_equal(abyss_spool_get_stats(sp, &st), 0);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.dedupe_entries, 2);
	/* "3" was never committed: not a duplicate now */
	assert_int_equal(abyss_spool_dedupe_seen(sp, "a/b", "3", 1004), 0);
	assert_int_equal(abyss_spool_dedupe_seen(sp, "a/b", "2", 1004), 1);
	abyss_spool_close(sp);
}

static void test_spool_reopen_without_ack_is_pending(void **state)
{
	struct tmp *t = *state;
	struct abyss_spool *sp = NULL;
	struct abyss_spool_msg m[3] = {msg("t/1", "one"), msg("t/2", "two"),
				       msg("t/3", "three")};
	struct abyss_spool_stats st;
	struct seen s;
	int64_t ids[3];

	assert_int_equal(abyss_spool_open(t->path, NULL, &sp, NULL), 0);
	assert_int_equal(
	    abyss_spool_enqueue(sp, m, 3, NULL, NULL, 1, ids, NULL), 0);
	abyss_spool_mark_inflight(sp, ids[0], 1);
	abyss_spool_mark_inflight(sp, ids[1], 2);
	abyss_spool_close(sp);

	sp = NULL;
	assert_int_equal(abyss_spool_open(t->path, NULL, &sp, NULL), 0);
	abyss_spool_get_stats(sp, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.inflight, 0);
	assert_int_equal(st.bytes, 11);
	memset(&s, 0, sizeof(s));
	abyss_spool_foreach_pending(sp, 0, 100, collect, &s);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.payloads[0], "one");
	assert_string_equal(s.payloads[2], "three");
	/* max bounds the walk */
	memset(&s, 0, sizeof(s));
	abyss_spool_foreach_pending(sp, 0, 2, collect, &s);
	assert_int_equal(s.n, 2);
	/* an old mid acknowledges nothing in the new session */
	assert_int_equal(abyss_spool_ack(sp, 1), ABYSS_ENOTFOUND);
	abyss_spool_close(sp);

	/* the file is in WAL mode (recorded in its header) */
	{
		sqlite3 *db;
		sqlite3_stmt *q;
		assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
		assert_int_equal(
		    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL),
		    SQLITE_OK);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(q, 0),
				    "wal");
		sqlite3_finalize(q);
		sqlite3_close(db);
	}
}

static void test_spool_survives_killed_process(void **state)
{
	struct tmp *t = *state;
	struct abyss_spool *sp = NULL;
	struct seen s;
	pid_t pid;
	int status = -1;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* the child commits, marks in flight, and dies without
		 * closing anything (no atexit handlers, no sqlite close) */
		struct abyss_spool_msg m[2] = {msg("t/k", "kp"),
					       msg("t/d", "depth")};
		int64_t ids[2];
		if (abyss_spool_open(t->path, NULL, &sp, NULL) != 0 ||
		    abyss_spool_enqueue(sp, m, 2, "a/b", "1", 5, ids, NULL) !=
			0 ||
		    abyss_spool_mark_inflight(sp, ids[0], 3) != 0)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	assert_int_equal(abyss_spool_open(t->path, NULL, &sp, NULL), 0);
	memset(&s, 0, sizeof(s));
	abyss_spool_foreach_pending(sp, 0, 100, collect, &s);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.payloads[0], "kp");
	assert_string_equal(s.payloads[1], "depth");
	/* and its dedupe entry is durable too */
	assert_int_equal(abyss_spool_dedupe_seen(sp, "a/b", "1", 6), 1);
	abyss_spool_close(sp);
}

static void test_spool_dedupe_ttl(void **state)
{
	struct tmp *t = *state;
	struct abyss_spool *sp = NULL;
	struct abyss_spool_limits lim;
	struct abyss_spool_msg m = msg("t", "x");
	struct abyss_spool_stats st;
	struct abyss_diag d;
	const int64_t now = 1700000000000LL;

	abyss_spool_limits_default(&lim);
	lim.dedupe_ttl_ms = 60000;
	lim.max_dedupe_entries = 3;
	assert_int_equal(abyss_spool_open(t->path, &lim, &sp, NULL), 0);
	assert_int_equal(
	    abyss_spool_enqueue(sp, &m, 1, "a/b", "42", now, NULL, NULL), 0);
	abyss_diag_init(&d);
	assert_int_equal(
	    abyss_spool_enqueue(sp, &m, 1, "a/b", "42", now + 59999, NULL, &d),
	    ABYSS_EDUPLICATE);
	assert_non_null(strstr(d.msg, "already published"));
	abyss_spool_get_stats(sp, &st);
	assert_int_equal(st.entries, 1); /* nothing written */
	/* another tool with the same ResultId is another hole */
	assert_int_equal(
	    abyss_spool_enqueue(sp, &m, 1, "a/c", "42", now, NULL, NULL), 0);
	assert_int_equal(abyss_spool_dedupe_seen(sp, "a/b", "42", now), 1);
	assert_int_equal(abyss_spool_dedupe_seen(sp, "a/b", "43", now), 0);
	/* after the TTL the pair may be published again */
	assert_int_equal(abyss_spool_dedupe_seen(sp, "a/b", "42", now + 60001),
			 0);
	assert_int_equal(abyss_spool_enqueue(sp, &m, 1, "a/b", "42",
					     now + 60001, NULL, NULL),
			 0);
	/* the table is capped: the oldest entries go */
	assert_int_equal(
	    abyss_spool_enqueue(sp, &m, 1, "x/y", "1", now + 60002, NULL, NULL),
	    0);
	assert_int_equal(
	    abyss_spool_enqueue(sp, &m, 1, "x/y", "2", now + 60003, NULL, NULL),
	    0);
	abyss_spool_get_stats(sp, &st);
	assert_true(st.dedupe_entries <= 3);
	assert_int_equal(abyss_spool_dedupe_seen(sp, "x/y", "2", now + 60003),
			 1);
	assert_true(abyss_spool_dedupe_expire(sp, now + 200000) >= 1);
	abyss_spool_get_stats(sp, &st);
	assert_int_equal(st.dedupe_entries, 0);
	abyss_spool_close(sp);
}

static void test_spool_full_and_too_big(void **state)
{
	struct tmp *t = *state;
	struct abyss_spool *sp = NULL;
	struct abyss_spool_limits lim;
	struct abyss_spool_msg m[2] = {msg("t", "12345"), msg("t", "67890")};
	struct abyss_diag d;
	int64_t ids[2];

	abyss_spool_limits_default(&lim);
	lim.max_entries = 3;
	lim.max_payload_bytes = 8;
	assert_int_equal(abyss_spool_open(t->path, &lim, &sp, NULL), 0);
	assert_int_equal(
	    abyss_spool_enqueue(sp, m, 2, NULL, NULL, 1, ids, NULL), 0);
	abyss_diag_init(&d);
	assert_int_equal(abyss_spool_enqueue(sp, m, 2, "a/b", "7", 1, NULL, &d),
			 ABYSS_EFULL);
	assert_non_null(strstr(d.msg, "spool full"));
	/* a refused enqueue leaves no dedupe entry behind */
	assert_int_equal(abyss_spool_dedupe_seen(sp, "a/b", "7", 1), 0);
	assert_int_equal(abyss_spool_mark_inflight(sp, ids[0], 1), 0);
	assert_int_equal(abyss_spool_ack(sp, 1), 0);
	assert_int_equal(abyss_spool_enqueue(sp, m, 2, "a/b", "7", 1, NULL, &d),
			 0);
	m[0] = msg("t", "123456789");
	assert_int_equal(abyss_spool_enqueue(sp, m, 1, NULL, NULL, 1, NULL, &d),
			 ABYSS_ETOOBIG);
	m[0].qos = 3;
	assert_int_equal(abyss_spool_enqueue(sp, m, 1, NULL, NULL, 1, NULL, &d),
			 ABYSS_EINVAL);
	abyss_spool_close(sp);
	/* byte limit */
	lim.max_entries = 100;
	lim.max_bytes = 12;
	assert_int_equal(abyss_spool_open(t->path, &lim, &sp, NULL), 0);
	m[0] = msg("t", "1");
	assert_int_equal(abyss_spool_enqueue(sp, m, 1, NULL, NULL, 1, NULL, &d),
			 ABYSS_EFULL);
	abyss_spool_close(sp);
}

static void test_spool_bad_files_and_locking(void **state)
{
	struct tmp *t = *state;
	struct abyss_spool *sp = NULL, *sp2 = NULL;
	struct abyss_diag d;
	char other[192];
	sqlite3 *db;
	FILE *f;

	snprintf(other, sizeof(other), "%s/other.db", t->dir);
	f = fopen(other, "wb");
	assert_non_null(f);
	fputs("this is not a database, it is a text file that is long enough "
	      "to have a header of a hundred bytes or so................",
	      f);
	fclose(f);
	abyss_diag_init(&d);
	assert_int_equal(abyss_spool_open(other, NULL, &sp, &d), ABYSS_EDB);
	assert_null(sp);
	assert_non_null(strstr(d.msg, "spool"));
	assert_non_null(strstr(d.file, "other.db"));
	unlink(other);

	/* written by a newer version */
	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(abyss_spool_open(other, NULL, &sp, &d),
			 ABYSS_EUNSUPPORTED);
	assert_non_null(strstr(d.msg, "99"));

	/* one daemon per spool */
	assert_int_equal(abyss_spool_open(t->path, NULL, &sp, NULL), 0);
	assert_int_equal(abyss_spool_open(t->path, NULL, &sp2, &d), ABYSS_EDB);
	assert_null(sp2);
	abyss_spool_close(sp);
	assert_int_equal(abyss_spool_open(t->path, NULL, &sp2, NULL), 0);
	abyss_spool_close(sp2);
	assert_int_equal(abyss_spool_open("", NULL, &sp, &d), ABYSS_EINVAL);
	abyss_spool_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_spool_batch_commit_and_loss,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spool_enqueue_inflight_ack,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_spool_reopen_without_ack_is_pending, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spool_survives_killed_process,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spool_dedupe_ttl, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_spool_full_and_too_big, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_spool_bad_files_and_locking,
					    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
