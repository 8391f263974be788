/* test_pool.c - the worker pool with real threads: per-key order under random
 * durations, backpressure and the space fd, the watchdog (retry, failure,
 * a late attempt that wins), drain with a deadline, freeing with a thread
 * still stuck, and 100k jobs with no loss and no duplicate. Timings are
 * generous (hundreds of ms) so that a loaded machine or valgrind does not
 * turn a quick attempt into a stuck one. */
#include "testutil.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "service/pool.h"

struct job {
	int id;
	int key;
	int sleep_ms[4];  /* per attempt (the last one for later attempts) */
	atomic_int *gate; /* if set, run waits until *gate != 0 */
	int no_result;	  /* run stores no result */
};

struct ctx {
	pthread_t owner;
	int ndone;
	int *count;	  /* per job id: done callbacks */
	int *last_by_key; /* last id delivered per key */
	int order_bad;
	int wrong_thread;
	int status[16];
	long result[16];
	int nstuck;
	enum abyss_pool_action actions[16];
	atomic_int results_freed;
	atomic_int runs;
	atomic_int returned;
};

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

static int job_run(void *user, const void *job, unsigned attempt, void **result)
{
	struct ctx *c = user;
	const struct job *j = job;
	int ms = j->sleep_ms[attempt <= 4 ? attempt - 1 : 3];
	long *res;

	atomic_fetch_add(&c->runs, 1);
	if (j->gate)
		while (!atomic_load(j->gate))
			sleep_ms(1);
	if (ms > 0)
		sleep_ms(ms);
	res = j->no_result ? NULL : malloc(sizeof(*res));
	if (res)
		*res = (long)attempt;
	*result = res;
	atomic_fetch_add(&c->returned, 1);
	return ABYSS_OK;
}

static void job_done(void *user, void *job, int status, void *result)
{
	struct ctx *c = user;
	struct job *j = job;

	if (!pthread_equal(pthread_self(), c->owner))
		c->wrong_thread++;
	if (c->count)
		c->count[j->id]++;
	if (c->last_by_key) {
		if (c->last_by_key[j->key] >= j->id)
			c->order_bad++;
		c->last_by_key[j->key] = j->id;
	}
	if (j->id < 16) {
		c->status[j->id] = status;
		c->result[j->id] = result ? *(long *)result : -1;
	}
	c->ndone++;
	free(result);
}

static void result_free(void *user, void *result)
{
	struct ctx *c = user;

	atomic_fetch_add(&c->results_freed, 1);
	free(result);
}

static void job_stuck(void *user, const struct abyss_pool_stuck *s)
{
	struct ctx *c = user;

	if (!pthread_equal(pthread_self(), c->owner))
		c->wrong_thread++;
	if (c->nstuck < 16)
		c->actions[c->nstuck] = s->action;
	c->nstuck++;
}

static const struct abyss_pool_ops ops = {
    .run = job_run,
    .done = job_done,
    .free_result = result_free,
    .stuck = job_stuck,
};

static void ctx_init(struct ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->owner = pthread_self();
}

/* Waits up to ms for completions and dispatches them. */
static void pump(struct abyss_pool *p, int ms)
{
	struct pollfd pfd = {abyss_pool_fd(p), POLLIN, 0};

	poll(&pfd, 1, ms);
	assert_true(abyss_pool_dispatch(p) >= 0);
}

/* Pumps until n done callbacks have run or ms passed. */
static void pump_until(struct abyss_pool *p, const struct ctx *c, int n, int ms)
{
	int i;

	for (i = 0; i < ms / 10 && c->ndone < n; i++)
		pump(p, 10);
}

/* Waits until no thread is inside an abandoned attempt, so that free joins
 * everything and valgrind sees no thread left. */
static void wait_abandoned(struct abyss_pool *p, int ms)
{
	struct abyss_pool_stats st;
	int i;

	for (i = 0; i < ms / 10; i++) {
		abyss_pool_stats(p, &st);
		if (st.abandoned == 0)
			return;
		pump(p, 10);
	}
}

static int readable(int fd)
{
	struct pollfd pfd = {fd, POLLIN, 0};

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

static void test_pool_order_per_key(void **state)
{
	enum { N = 1500, KEYS = 6 };
	struct abyss_pool_opts o = {.nworkers = 4, .queue_cap = 32};
	struct job *jobs = calloc(N, sizeof(*jobs));
	int count[N] = {0}, last[KEYS];
	struct abyss_pool *p;
	struct ctx c;
	unsigned seed = 12345;
	int i, rc;

	(void)state;
	assert_non_null(jobs);
	ctx_init(&c);
	c.count = count;
	c.last_by_key = last;
	for (i = 0; i < KEYS; i++)
		last[i] = -1;
	assert_int_equal(abyss_pool_new(&o, &ops, &c, &p), 0);
	for (i = 0; i < N; i++) {
		jobs[i].id = i;
		jobs[i].key = (int)(rand_r(&seed) % KEYS);
		/* Mostly instant, some 1-3 ms: later jobs often finish first.
		 */
		jobs[i].sleep_ms[0] =
		    rand_r(&seed) % 4 == 0 ? 1 + (int)(rand_r(&seed) % 3) : 0;
		while ((rc = abyss_pool_submit(p, (uint64_t)jobs[i].key,
					       &jobs[i], 1)) == ABYSS_EFULL)
			pump(p, 50);
		assert_int_equal(rc, 0);
		if (i % 97 == 0)
			abyss_pool_dispatch(p);
	}
	pump_until(p, &c, N, 20000);
	assert_int_equal(c.ndone, N);
	for (i = 0; i < N; i++)
		assert_int_equal(count[i], 1);
	assert_int_equal(c.order_bad, 0);
	assert_int_equal(c.wrong_thread, 0);
	abyss_pool_free(p);
	free(jobs);
}

static void test_pool_backpressure(void **state)
{
	struct abyss_pool_opts o = {.nworkers = 1, .queue_cap = 4};
	struct job jobs[6];
	atomic_int gate;
	struct abyss_pool *p;
	struct abyss_pool_stats st;
	struct ctx c;
	int i;

	(void)state;
	atomic_init(&gate, 0);
	ctx_init(&c);
	memset(jobs, 0, sizeof(jobs));
	assert_int_equal(abyss_pool_new(&o, &ops, &c, &p), 0);
	for (i = 0; i < 6; i++) {
		jobs[i].id = i;
		jobs[i].gate = &gate;
	}
	for (i = 0; i < 4; i++)
		assert_int_equal(abyss_pool_submit(p, 1, &jobs[i], 10), 0);
	assert_int_equal(abyss_pool_submit(p, 1, &jobs[4], 10), ABYSS_EFULL);
	assert_int_equal(abyss_pool_submit(p, 2, &jobs[4], 10), ABYSS_EFULL);
	abyss_pool_stats(p, &st);
	assert_int_equal(st.refused, 2);
	assert_int_equal(st.held, 4);
	assert_int_equal(st.bytes, 40);
	pump(p, 50);
	assert_false(readable(abyss_pool_space_fd(p)));
	assert_int_equal(c.ndone, 0);

	atomic_store(&gate, 1);
	pump_until(p, &c, 1, 5000);
	assert_true(c.ndone >= 1);
	assert_true(readable(abyss_pool_space_fd(p)));
	assert_int_equal(abyss_pool_submit(p, 1, &jobs[4], 10), 0);
	/* The successful submit cleared the space fd. */
	assert_false(readable(abyss_pool_space_fd(p)));
	pump_until(p, &c, 5, 5000);
	assert_int_equal(c.ndone, 5);
	abyss_pool_free(p);
}

static void test_pool_byte_budget(void **state)
{
	struct abyss_pool_opts o = {
	    .nworkers = 1, .queue_cap = 8, .max_bytes = 100};
	struct job jobs[3];
	atomic_int gate;
	struct abyss_pool *p;
	struct ctx c;

	(void)state;
	atomic_init(&gate, 0);
	ctx_init(&c);
	memset(jobs, 0, sizeof(jobs));
	jobs[0].gate = jobs[1].gate = &gate;
	jobs[1].id = 1;
	jobs[2].id = 2;
	assert_int_equal(abyss_pool_new(&o, &ops, &c, &p), 0);
	assert_int_equal(abyss_pool_submit(p, 1, &jobs[0], 60), 0);
	assert_int_equal(abyss_pool_submit(p, 1, &jobs[1], 50), ABYSS_EFULL);
	assert_int_equal(abyss_pool_submit(p, 1, &jobs[1], 40), 0);
	assert_int_equal(abyss_pool_submit(p, 1, &jobs[2], 1), ABYSS_EFULL);
	assert_int_equal(abyss_pool_submit(p, 1, &jobs[2], 101), ABYSS_ETOOBIG);
	assert_int_equal(abyss_pool_submit(p, 1, NULL, 1), ABYSS_EINVAL);
	atomic_store(&gate, 1);
	pump_until(p, &c, 2, 5000);
	assert_int_equal(c.ndone, 2);
	assert_int_equal(abyss_pool_submit(p, 1, &jobs[2], 100), 0);
	pump_until(p, &c, 3, 5000);
	assert_int_equal(c.ndone, 3);
	abyss_pool_free(p);
}

static void test_pool_watchdog_retry_succeeds(void **state)
{
	struct abyss_pool_opts o = {.nworkers = 2,
				    .queue_cap = 8,
				    .deadline_ms = 150,
				    .max_retries = 2};
	struct job j = {.id = 0, .sleep_ms = {900, 0, 0, 0}};
	struct abyss_pool *p;
	struct abyss_pool_stats st;
	struct ctx c;

	(void)state;
	ctx_init(&c);
	assert_int_equal(abyss_pool_new(&o, &ops, &c, &p), 0);
	assert_int_equal(abyss_pool_submit(p, 7, &j, 1), 0);
	pump_until(p, &c, 1, 5000);
	assert_int_equal(c.ndone, 1);
	assert_int_equal(c.status[0], 0);
	assert_true(c.result[0] >= 2); /* a retry's result */
	assert_true(c.nstuck >= 1);
	assert_int_equal(c.actions[0], ABYSS_POOL_RETRIED);
	wait_abandoned(p, 5000);
	abyss_pool_stats(p, &st);
	/* Exactly one stuck attempt on an idle machine; a loaded one may
	 * stall the instant retry too, hence the bounds. */
	assert_true(st.stuck >= 1);
	assert_true(st.retried >= 1);
	assert_true(st.late >= 1);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.abandoned, 0);
	/* The late attempt's result lost the race and was freed. */
	assert_true(atomic_load(&c.results_freed) >= 1);
	assert_int_equal(c.wrong_thread, 0);
	abyss_pool_free(p);
}

static void test_pool_watchdog_fails_after_retries(void **state)
{
	struct abyss_pool_opts o = {.nworkers = 1,
				    .queue_cap = 8,
				    .deadline_ms = 100,
				    .max_retries = 1,
				    .max_spare = 2};
	struct job j = {.id = 0, .sleep_ms = {700, 700, 700, 700}};
	struct job k = {.id = 1, .key = 1};
	struct abyss_pool *p;
	struct abyss_pool_stats st;
	struct ctx c;

	(void)state;
	ctx_init(&c);
	assert_int_equal(abyss_pool_new(&o, &ops, &c, &p), 0);
	assert_int_equal(abyss_pool_submit(p, 3, &j, 1), 0);
	/* Another key is served by the replacement threads meanwhile. */
	assert_int_equal(abyss_pool_submit(p, 4, &k, 1), 0);
	pump_until(p, &c, 2, 5000);
	assert_int_equal(c.ndone, 2);
	assert_int_equal(c.status[0], ABYSS_ETIMEOUT);
	assert_int_equal(c.result[0], -1);
	assert_int_equal(c.status[1], 0);
	assert_true(c.nstuck >= 2);
	assert_int_equal(c.actions[0], ABYSS_POOL_RETRIED);
	assert_int_equal(c.actions[1], ABYSS_POOL_FAILED);
	wait_abandoned(p, 5000);
	abyss_pool_stats(p, &st);
	assert_int_equal(st.failed, 1);
	assert_true(st.spawned >= 1);
	assert_true(st.late >= 2);
	assert_true(atomic_load(&c.results_freed) >= 2);
	/* Back to nworkers once the stuck threads returned. */
	assert_int_equal(st.threads, 1);
	abyss_pool_free(p);
}

static void test_pool_late_attempt_wins(void **state)
{
	/* One worker, one spare: attempt 1 is abandoned at 150 ms, attempt 2
	 * runs on the spare and is slower; attempt 1 returns at 400 ms and its
	 * result is the one delivered. */
	struct abyss_pool_opts o = {.nworkers = 1,
				    .queue_cap = 4,
				    .deadline_ms = 150,
				    .max_retries = 5,
				    .max_spare = 1};
	struct job j = {.id = 0, .sleep_ms = {400, 1000, 1000, 1000}};
	struct abyss_pool *p;
	struct abyss_pool_stats st;
	struct ctx c;

	(void)state;
	ctx_init(&c);
	assert_int_equal(abyss_pool_new(&o, &ops, &c, &p), 0);
	assert_int_equal(abyss_pool_submit(p, 1, &j, 1), 0);
	pump_until(p, &c, 1, 5000);
	assert_int_equal(c.ndone, 1);
	assert_int_equal(c.status[0], 0);
	assert_int_equal(c.result[0], 1);
	wait_abandoned(p, 5000);
	abyss_pool_stats(p, &st);
	assert_true(st.late >= 1);
	assert_int_equal(atomic_load(&c.results_freed), 1);
	abyss_pool_free(p);
}

static void test_pool_drain_deadline(void **state)
{
	struct abyss_pool_opts o = {.nworkers = 2, .queue_cap = 16};
	struct job jobs[6];
	int last[2] = {-1, -1};
	struct abyss_pool *p;
	struct ctx c;
	int i, forced;

	(void)state;
	ctx_init(&c);
	c.last_by_key = last;
	memset(jobs, 0, sizeof(jobs));
	for (i = 0; i < 6; i++) {
		jobs[i].id = i;
		jobs[i].key = i % 2;
	}
	/* Both workers take a slow job; the rest wait behind them. */
	jobs[0].sleep_ms[0] = 800;
	jobs[1].sleep_ms[0] = 800;
	assert_int_equal(abyss_pool_new(&o, &ops, &c, &p), 0);
	for (i = 0; i < 6; i++)
		assert_int_equal(
		    abyss_pool_submit(p, (uint64_t)jobs[i].key, &jobs[i], 1),
		    0);
	forced = abyss_pool_drain(p, 100);
	assert_int_equal(forced, 6);
	assert_int_equal(c.ndone, 6);
	for (i = 0; i < 6; i++)
		assert_int_equal(c.status[i], ABYSS_ETIMEOUT);
	assert_int_equal(c.order_bad, 0);
	assert_int_equal(abyss_pool_submit(p, 0, &jobs[0], 1), ABYSS_ESTATE);
	wait_abandoned(p, 5000);
	/* The slow attempts returned after the deadline: results freed. */
	assert_int_equal(atomic_load(&c.results_freed), 2);
	abyss_pool_free(p);
}

static void test_pool_drain_finishes_in_flight(void **state)
{
	struct abyss_pool_opts o = {.nworkers = 2, .queue_cap = 16};
	struct job jobs[8];
	struct abyss_pool *p;
	struct ctx c;
	int i;

	(void)state;
	ctx_init(&c);
	memset(jobs, 0, sizeof(jobs));
	assert_int_equal(abyss_pool_new(&o, &ops, &c, &p), 0);
	for (i = 0; i < 8; i++) {
		jobs[i].id = i;
		jobs[i].sleep_ms[0] = 20;
		assert_int_equal(abyss_pool_submit(p, 0, &jobs[i], 1), 0);
	}
	assert_int_equal(abyss_pool_drain(p, 10000), 0);
	assert_int_equal(c.ndone, 8);
	for (i = 0; i < 8; i++) {
		assert_int_equal(c.status[i], 0);
		assert_int_equal(c.result[i], 1);
	}
	abyss_pool_free(p);
}

static void test_pool_free_with_stuck_thread(void **state)
{
	/* Freeing while a thread is stuck must not wait for it, and the
	 * thread's return later must not touch freed memory (ASan). */
	struct abyss_pool_opts o = {.nworkers = 1,
				    .queue_cap = 4,
				    .deadline_ms = 100,
				    .max_retries = 0};
	static struct job j = {.id = 0, .sleep_ms = {400}, .no_result = 1};
	struct abyss_pool *p;
	struct ctx *c = calloc(1, sizeof(*c));
	int i;

	(void)state;
	assert_non_null(c);
	ctx_init(c);
	assert_int_equal(abyss_pool_new(&o, &ops, c, &p), 0);
	assert_int_equal(abyss_pool_submit(p, 0, &j, 1), 0);
	pump_until(p, c, 1, 5000);
	assert_int_equal(c->status[0], ABYSS_ETIMEOUT);
	abyss_pool_free(p);
	/* The detached thread returns within 400 ms and frees the pool. */
	for (i = 0; i < 200 && atomic_load(&c->returned) < 1; i++)
		sleep_ms(10);
	assert_int_equal(atomic_load(&c->returned), 1);
	sleep_ms(50);
	/* Its result was dropped without a callback: no user data touched. */
	assert_int_equal(atomic_load(&c->results_freed), 0);
	free(c);
}

static void test_pool_free_skips_useless_attempt(void **state)
{
	/* Attempt 1 is abandoned at 150 ms and wins at 250 ms; the retry,
	 * still inside its deadline, can only produce a result that would be
	 * thrown away, so free must not wait the 2 s it takes. */
	struct abyss_pool_opts o = {.nworkers = 1,
				    .queue_cap = 4,
				    .deadline_ms = 150,
				    .max_retries = 1,
				    .max_spare = 1};
	static struct job j = {
	    .id = 0, .sleep_ms = {250, 2000}, .no_result = 1};
	struct abyss_pool *p;
	struct ctx *c = calloc(1, sizeof(*c));
	struct timespec t0, t1;
	int i;

	(void)state;
	assert_non_null(c);
	ctx_init(c);
	assert_int_equal(abyss_pool_new(&o, &ops, c, &p), 0);
	assert_int_equal(abyss_pool_submit(p, 0, &j, 1), 0);
	pump_until(p, c, 1, 5000);
	assert_int_equal(c->ndone, 1);
	assert_int_equal(c->status[0], 0);
	assert_int_equal(atomic_load(&c->runs), 2);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	abyss_pool_free(p);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 +
			(t1.tv_nsec - t0.tv_nsec) / 1000000 <
		    1000);
	for (i = 0; i < 400 && atomic_load(&c->returned) < 2; i++)
		sleep_ms(10);
	assert_int_equal(atomic_load(&c->returned), 2);
	sleep_ms(50);
	free(c);
}

/* Watchdog, retries, late winners and per-key holding all at once: some
 * jobs are stuck once (then retried), some every time (then fail). Every
 * job must still come back exactly once, in per-key order. */
static void test_pool_watchdog_under_load(void **state)
{
	enum { N = 200, KEYS = 4 };
	struct abyss_pool_opts o = {.nworkers = 2,
				    .queue_cap = 16,
				    .deadline_ms = 100,
				    .max_retries = 1,
				    .max_spare = 4};
	struct job *jobs = calloc(N, sizeof(*jobs));
	int count[N] = {0}, last[KEYS];
	struct abyss_pool *p;
	struct abyss_pool_stats st;
	struct ctx c;
	int i, rc, want_fail = 0;

	(void)state;
	assert_non_null(jobs);
	ctx_init(&c);
	c.count = count;
	c.last_by_key = last;
	for (i = 0; i < KEYS; i++)
		last[i] = -1;
	assert_int_equal(abyss_pool_new(&o, &ops, &c, &p), 0);
	for (i = 0; i < N; i++) {
		jobs[i].id = i;
		jobs[i].key = i % KEYS;
		if (i % 40 == 7) { /* stuck once: the retry succeeds */
			jobs[i].sleep_ms[0] = 250;
		} else if (i % 40 == 23) { /* stuck twice: fails */
			jobs[i].sleep_ms[0] = 250;
			jobs[i].sleep_ms[1] = 250;
			want_fail++;
		}
		while ((rc = abyss_pool_submit(p, (uint64_t)jobs[i].key,
					       &jobs[i], 1)) == ABYSS_EFULL)
			pump(p, 50);
		assert_int_equal(rc, 0);
	}
	assert_int_equal(abyss_pool_drain(p, 20000), 0);
	assert_int_equal(c.ndone, N);
	for (i = 0; i < N; i++)
		assert_int_equal(count[i], 1);
	assert_int_equal(c.order_bad, 0);
	assert_int_equal(c.wrong_thread, 0);
	wait_abandoned(p, 5000);
	abyss_pool_stats(p, &st);
	/* A loaded machine may stall a quick attempt too, so only bounds. */
	assert_true(st.stuck >= (uint64_t)(N / 40 + 2 * want_fail));
	assert_true(st.failed >= (uint64_t)want_fail);
	assert_int_equal(st.held, 0);
	abyss_pool_free(p);
	free(jobs);
}

static void test_pool_no_loss_100k(void **state)
{
	enum { N = 100000, KEYS = 16 };
	struct abyss_pool_opts o = {.nworkers = 4, .queue_cap = 256};
	struct job *jobs = calloc(N, sizeof(*jobs));
	int *count = calloc(N, sizeof(*count));
	int last[KEYS];
	struct abyss_pool *p;
	struct abyss_pool_stats st;
	struct ctx c;
	int i, rc;

	(void)state;
	assert_non_null(jobs);
	assert_non_null(count);
	ctx_init(&c);
	c.count = count;
	c.last_by_key = last;
	for (i = 0; i < KEYS; i++)
		last[i] = -1;
	assert_int_equal(abyss_pool_new(&o, &ops, &c, &p), 0);
	for (i = 0; i < N; i++) {
		jobs[i].id = i;
		jobs[i].key = i % KEYS;
		while ((rc = abyss_pool_submit(p, (uint64_t)jobs[i].key,
					       &jobs[i], 1)) == ABYSS_EFULL)
			pump(p, 100);
		assert_int_equal(rc, 0);
	}
	assert_int_equal(abyss_pool_drain(p, 60000), 0);
	assert_int_equal(c.ndone, N);
	for (i = 0; i < N; i++)
		if (count[i] != 1)
			fail_msg("job %d delivered %d times", i, count[i]);
	assert_int_equal(c.order_bad, 0);
	abyss_pool_stats(p, &st);
	assert_int_equal(st.submitted, N);
	assert_int_equal(st.delivered, N);
	assert_int_equal(st.held, 0);
	assert_int_equal(st.bytes, 0);
	abyss_pool_free(p);
	free(jobs);
	free(count);
}

static void test_pool_key_and_args(void **state)
{
	struct abyss_pool_opts bad = {.nworkers = ABYSS_POOL_WORKERS_MAX + 1};
	struct abyss_pool_ops no_run = {.done = job_done};
	struct abyss_pool *p = NULL;
	struct ctx c;

	(void)state;
	ctx_init(&c);
	assert_int_equal(abyss_pool_key("ILLL502033771/setitectest"),
			 abyss_pool_key("ILLL502033771/setitectest"));
	assert_true(abyss_pool_key("ILLL502033771/setitectest") !=
		    abyss_pool_key("ILLL502033772/setitectest"));
	/* FNV-1a 64 of "a" (published test vector). */
	assert_true(abyss_pool_key("a") == 0xaf63dc4c8601ec8cull);
	assert_int_equal(abyss_pool_new(&bad, &ops, &c, &p), ABYSS_ERANGE);
	assert_int_equal(abyss_pool_new(NULL, &no_run, &c, &p), ABYSS_EINVAL);
	assert_null(p);
	assert_int_equal(abyss_pool_dispatch(NULL), ABYSS_EINVAL);
	abyss_pool_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pool_order_per_key),
	    cmocka_unit_test(test_pool_backpressure),
	    cmocka_unit_test(test_pool_byte_budget),
	    cmocka_unit_test(test_pool_watchdog_retry_succeeds),
	    cmocka_unit_test(test_pool_watchdog_fails_after_retries),
	    cmocka_unit_test(test_pool_late_attempt_wins),
	    cmocka_unit_test(test_pool_drain_deadline),
	    cmocka_unit_test(test_pool_drain_finishes_in_flight),
	    cmocka_unit_test(test_pool_free_with_stuck_thread),
	    cmocka_unit_test(test_pool_free_skips_useless_attempt),
	    cmocka_unit_test(test_pool_watchdog_under_load),
	    cmocka_unit_test(test_pool_no_loss_100k),
	    cmocka_unit_test(test_pool_key_and_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
