/*
 * service/pool.h - the worker pool between the network loop and estimation:
 * a bounded job queue, N worker threads, a watchdog, and completions handed
 * back to the owner thread in per-key order.
 *
 * One thread owns the pool (the service's poll loop): it creates it, submits
 * jobs, watches two descriptors, and calls abyss_pool_dispatch(), which runs
 * the done callbacks on that thread. Only the run callback runs on workers.
 *
 * Guarantees (docs/logging.md, "Worker pool", has the long form):
 * - Ordering: for one key (a tool), done callbacks come in submission order.
 *   Jobs of one key may run at the same time on several workers; a result
 *   that finishes early is held back until every earlier job of its key has
 *   been delivered. Different keys are independent.
 * - Backpressure: a job counts against queue_cap and max_bytes from submit
 *   until its done callback returns (waiting, running, or held back). Over
 *   either, abyss_pool_submit returns ABYSS_EFULL and nothing is queued; the
 *   space fd becomes readable when room has been made since.
 * - Never lost: every accepted job gets exactly one done callback, with the
 *   status of its run, ABYSS_ETIMEOUT when the watchdog gave up on it, or
 *   ABYSS_ETIMEOUT when abyss_pool_drain reached its deadline first.
 * - Stuck workers: a thread cannot be killed safely, so an attempt running
 *   past the deadline is abandoned: it is reported (callback and counter),
 *   the job is queued again at the front (up to max_retries times, then it
 *   fails with ABYSS_ETIMEOUT), and a replacement thread is started (at most
 *   max_spare of them alive beyond nworkers). The first attempt of a job to
 *   finish wins, a late abandoned one included; any later result is freed
 *   with free_result. A returning abandoned thread exits if the pool has
 *   enough workers again, else it goes on working.
 */
#ifndef ABYSS_SERVICE_POOL_H
#define ABYSS_SERVICE_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "abyss/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ABYSS_POOL_WORKERS_MAX 256
#define ABYSS_POOL_QUEUE_MAX   (1u << 20)

/* What the watchdog did about an attempt past its deadline. */
enum abyss_pool_action {
	ABYSS_POOL_RETRIED = 1, /* queued again at the front */
	ABYSS_POOL_FAILED = 2,	/* out of retries: done gets ABYSS_ETIMEOUT */
	ABYSS_POOL_IGNORED = 3	/* the job already has its outcome (an earlier
				   abandoned attempt finished meanwhile) */
};

/* One watchdog report, given to ops.stuck on the owner thread. */
struct abyss_pool_stuck {
	const void *job;
	uint64_t seq;	    /* submission number, from 1 */
	unsigned attempt;   /* 1 for the first run */
	int64_t running_ms; /* how long it had run when noticed */
	enum abyss_pool_action action;
};

struct abyss_pool_ops {
	/* Worker thread. Runs one attempt of job and returns 0 or a negative
	 * ABYSS_E* code; may store a result in *result (owned by the pool
	 * until done). job is shared by all attempts of the job, and an
	 * abandoned attempt may still run while a retry starts: treat it as
	 * read-only and put output in *result. A negative return is final
	 * (estimation failures are not retried). Required. */
	int (*run)(void *user, const void *job, unsigned attempt,
		   void **result);
	/* Owner thread, inside abyss_pool_dispatch or abyss_pool_drain. status
	 * is run's return or ABYSS_ETIMEOUT; result (may be NULL) now belongs
	 * to the callee. Must not free job (see free_job). May call
	 * abyss_pool_submit, nothing else of the pool. Required. */
	void (*done)(void *user, void *job, int status, void *result);
	/* Owner thread: the job is no longer referenced by any attempt (right
	 * after done, or when an abandoned attempt returns later). NULL: the
	 * pool never frees jobs. */
	void (*free_job)(void *user, void *job);
	/* Any thread, with the pool's lock held (so: free memory, nothing
	 * else): a result that lost the race to an earlier attempt. NULL: such
	 * results are leaked. */
	void (*free_result)(void *user, void *result);
	/* Owner thread: a watchdog report. May be NULL (counters still count).
	 */
	void (*stuck)(void *user, const struct abyss_pool_stuck *s);
};

struct abyss_pool_opts {
	unsigned nworkers;   /* 0: one per online CPU */
	size_t queue_cap;    /* most jobs held at once (see above); 0: 64 */
	size_t max_bytes;    /* byte budget over held jobs; 0: none */
	int64_t deadline_ms; /* watchdog deadline per attempt; 0: no watchdog */
	unsigned max_retries; /* attempts after the first */
	unsigned max_spare;   /* replacement threads beyond nworkers;
				 0: nworkers */
};

struct abyss_pool_stats {
	uint64_t submitted;    /* accepted jobs */
	uint64_t delivered;    /* done callbacks run */
	uint64_t failed;       /* ... of which with a negative status */
	uint64_t refused;      /* submits refused with ABYSS_EFULL */
	uint64_t stuck;	       /* watchdog reports */
	uint64_t retried;      /* attempts queued again by the watchdog */
	uint64_t late;	       /* results from abandoned attempts */
	uint64_t spawned;      /* replacement threads started */
	uint64_t reports_lost; /* reports that found the report ring full */
	size_t held;	       /* jobs held now */
	size_t bytes;	       /* bytes held now */
	unsigned threads;      /* worker threads alive */
	unsigned abandoned;    /* of which still inside an abandoned attempt */
};

struct abyss_pool;

/* Creates the pool and starts its threads (nworkers and, with a deadline,
 * the watchdog). ops and user are kept (ops is copied). All memory the pool
 * uses is allocated here. Errors: ABYSS_EINVAL (NULL out/ops/run/done),
 * ABYSS_ERANGE (nworkers or queue_cap above the maxima, negative deadline),
 * ABYSS_ENOMEM, ABYSS_EIO (eventfd or thread creation failed). */
int abyss_pool_new(const struct abyss_pool_opts *o,
		   const struct abyss_pool_ops *ops, void *user,
		   struct abyss_pool **out);

/* Owner thread. Hands job (bytes: its size for the byte budget) to the
 * pool; key groups jobs whose results must come back in submission order
 * (abyss_pool_key gives one from a tool key). On success the pool holds job
 * until free_job. Errors: ABYSS_EFULL (queue_cap or max_bytes reached: try
 * again when abyss_pool_space_fd is readable), ABYSS_ETOOBIG (bytes alone
 * exceed max_bytes), ABYSS_ESTATE (after abyss_pool_drain), ABYSS_EINVAL. */
int abyss_pool_submit(struct abyss_pool *p, uint64_t key, void *job,
		      size_t bytes);

/* A key for a text such as "ILLL502033771/setitectest" (FNV-1a, 64 bits).
 * Two texts that collide only share an ordering, which is harmless. */
uint64_t abyss_pool_key(const char *text);

/* Readable (POLLIN) when completions wait for abyss_pool_dispatch. */
int abyss_pool_fd(const struct abyss_pool *p);
/* Readable once room is made after a submit was refused; the next submit
 * clears it. */
int abyss_pool_space_fd(const struct abyss_pool *p);

/* Owner thread. Collects finished attempts and watchdog reports and runs the
 * stuck, done and free_job callbacks. Never blocks. Returns the number of
 * done callbacks run, or ABYSS_EINVAL. */
int abyss_pool_dispatch(struct abyss_pool *p);

/* Owner thread, at shutdown. Stops intake (later submits: ABYSS_ESTATE) and
 * dispatches until every held job has been delivered or deadline_ms have
 * passed. Jobs still waiting or running then are delivered with
 * ABYSS_ETIMEOUT (in per-key order), their running attempts abandoned.
 * Returns how many jobs were delivered that way (0: all finished), or
 * ABYSS_EINVAL. The pool then holds no job; free it. */
int abyss_pool_drain(struct abyss_pool *p, int64_t deadline_ms);

/* Owner thread. Stops the threads and frees the pool. Workers finish the
 * attempt they are running if its result can still be used (drain first to
 * bound the wait); jobs still held get free_job and free_result, never
 * done. A thread inside an attempt whose result cannot be used any more
 * (abandoned, or its job already decided) is detached instead: the pool's
 * memory stays allocated until it returns (the last one frees it), its job
 * is leaked, and no callback is made any more. NULL is ignored. */
void abyss_pool_free(struct abyss_pool *p);

/* Copies the counters (any thread). */
void abyss_pool_stats(struct abyss_pool *p, struct abyss_pool_stats *s);

#ifdef __cplusplus
}
#endif
#endif
