/*
 * pool.c - worker pool: bounded queue, worker threads, watchdog, and
 * completions returned to the owner thread in per-key submission order.
 *
 * One mutex guards everything the threads share (wait queue, completion
 * list, attempt state, report ring, thread slots); at hole rates (a few per
 * second, milliseconds each) it is never contended enough to matter. The
 * per-key ordering table and the record free list belong to the owner
 * thread alone. All memory is allocated by abyss_pool_new; submit and
 * dispatch never allocate. It deliberately knows nothing about holes,
 * MQTT or logging: the service wires those in through the callbacks.
 */
#include "pool.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

enum { THR_FREE = 0, THR_LIVE = 1, THR_EXITED = 2 };

/* One accepted job. Fields marked "owner" are touched only by the owner
 * thread; the others only with the pool's mutex held (or, for the owner,
 * after taking the record off the completion list under the mutex). */
struct pool__rec {
	void *job;
	uint64_t key;
	size_t bytes;
	uint64_t seq;
	struct pool__rec *knext; /* owner: next held job of the same key */
	struct pool__rec *fnext; /* owner: free list */
	int ready;		 /* owner: its completion was collected */
	int inuse;		 /* owner (read under mu by free) */
	struct pool__rec *wprev, *wnext; /* wait queue */
	int queued;
	struct pool__rec *cnext; /* completion list */
	unsigned attempts;	 /* attempts started */
	unsigned running;	 /* attempts inside run() */
	int finished;
	int status;
	void *result;
	int delivered;
	int release; /* on the completion list to be freed, not delivered */
};

struct pool__thr {
	struct abyss_pool *p;
	pthread_t tid;
	int state;
	struct pool__rec *rec; /* the attempt inside run(), or NULL */
	unsigned attempt;
	int64_t start_ms;
	int abandoned; /* the attempt inside run() was given up on */
	int detached;
};

struct pool__kent { /* owner: held jobs of one key, oldest first */
	uint64_t key;
	struct pool__rec *head, *tail;
	int used;
};

struct abyss_pool {
	struct abyss_pool_ops ops;
	void *user;
	unsigned nworkers, nslots;
	size_t queue_cap, max_bytes;
	int64_t deadline_ms;
	unsigned max_retries;
	int cfd, sfd;

	pthread_mutex_t mu;
	pthread_cond_t work_cv;
	pthread_cond_t wd_cv; /* on CLOCK_MONOTONIC */
	pthread_t wd_tid;
	int wd_started;

	/* under mu */
	struct pool__rec *whead, *wtail;
	struct pool__rec *chead, *ctail;
	struct abyss_pool_stuck *ring;
	size_t ring_cap, ring_n;
	struct pool__thr *thr; /* nslots */
	unsigned nthreads, nabandoned;
	int stopping, dead;
	struct abyss_pool_stats st;
	size_t held, bytes; /* written by the owner under mu */

	/* owner only */
	struct pool__rec *recs;
	size_t nrecs;
	struct pool__rec *freelist;
	struct pool__kent *kmap;
	size_t kmask;
	struct abyss_pool_stuck *scratch;
	uint64_t seq;
	int closed, want_space;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fd_signal(int fd)
{
	uint64_t one = 1;

	/* An eventfd only fails to take 1 when its counter is near 2^64. */
	(void)!write(fd, &one, sizeof(one));
}

static void fd_clear(int fd)
{
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
}

uint64_t abyss_pool_key(const char *text)
{
	uint64_t h = 0xcbf29ce484222325ull;

	if (!text)
		return 0;
	for (; *text; text++) {
		h ^= (unsigned char)*text;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* ---- per-key table (owner) ---------------------------------------------- */

static size_t kmap_slot(const struct abyss_pool *p, uint64_t key)
{
	/* splitmix64 finaliser: callers may pass small integers as keys. */
	key ^= key >> 30;
	key *= 0xbf58476d1ce4e5b9ull;
	key ^= key >> 27;
	key *= 0x94d049bb133111ebull;
	key ^= key >> 31;
	return (size_t)key & p->kmask;
}

static struct pool__kent *kmap_find(struct abyss_pool *p, uint64_t key,
				    int create)
{
	size_t i = kmap_slot(p, key);

	while (p->kmap[i].used) {
		if (p->kmap[i].key == key)
			return &p->kmap[i];
		i = (i + 1) & p->kmask;
	}
	if (!create)
		return NULL;
	/* The table has twice as many slots as there are records, so an
	 * empty one is always found. */
	p->kmap[i].used = 1;
	p->kmap[i].key = key;
	p->kmap[i].head = p->kmap[i].tail = NULL;
	return &p->kmap[i];
}

/* Linear-probing delete with backward shift (no tombstones). */
static void kmap_del(struct abyss_pool *p, struct pool__kent *e)
{
	size_t i = (size_t)(e - p->kmap), j = i, h;

	p->kmap[i].used = 0;
	for (;;) {
		j = (j + 1) & p->kmask;
		if (!p->kmap[j].used)
			return;
		h = kmap_slot(p, p->kmap[j].key);
		/* Entry j stays if its home h lies cyclically in (i, j]. */
		if (i <= j ? (h > i && h <= j) : (h > i || h <= j))
			continue;
		p->kmap[i] = p->kmap[j];
		p->kmap[j].used = 0;
		i = j;
	}
}

/* ---- queues (under mu) --------------------------------------------------- */

static void wait_push(struct abyss_pool *p, struct pool__rec *r, int front)
{
	r->queued = 1;
	if (front) {
		r->wprev = NULL;
		r->wnext = p->whead;
		if (p->whead)
			p->whead->wprev = r;
		else
			p->wtail = r;
		p->whead = r;
	} else {
		r->wnext = NULL;
		r->wprev = p->wtail;
		if (p->wtail)
			p->wtail->wnext = r;
		else
			p->whead = r;
		p->wtail = r;
	}
	pthread_cond_signal(&p->work_cv);
}

static void wait_remove(struct abyss_pool *p, struct pool__rec *r)
{
	if (r->wprev)
		r->wprev->wnext = r->wnext;
	else
		p->whead = r->wnext;
	if (r->wnext)
		r->wnext->wprev = r->wprev;
	else
		p->wtail = r->wprev;
	r->wprev = r->wnext = NULL;
	r->queued = 0;
}

static void clist_push(struct abyss_pool *p, struct pool__rec *r)
{
	r->cnext = NULL;
	if (p->ctail)
		p->ctail->cnext = r;
	else
		p->chead = r;
	p->ctail = r;
	if (!p->dead)
		fd_signal(p->cfd);
}

/* The job's outcome is decided: the first attempt to finish, or the
 * watchdog or drain giving up. Later attempts only free their results. */
static void rec_finish(struct abyss_pool *p, struct pool__rec *r, int status,
		       void *result)
{
	r->finished = 1;
	r->status = status;
	r->result = result;
	if (r->queued)
		wait_remove(p, r);
	clist_push(p, r);
}

/* ---- threads ------------------------------------------------------------- */

static void pool__free_arrays(struct abyss_pool *p)
{
	free(p->thr);
	free(p->ring);
	free(p->scratch);
	free(p->recs);
	free(p->kmap);
	free(p);
}

static void pool__destroy(struct abyss_pool *p)
{
	pthread_cond_destroy(&p->wd_cv);
	pthread_cond_destroy(&p->work_cv);
	pthread_mutex_destroy(&p->mu);
	pool__free_arrays(p);
}

static void *pool__worker(void *arg)
{
	struct pool__thr *t = arg;
	struct abyss_pool *p = t->p;
	int last;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct pool__rec *r;
		void *res = NULL;
		int st;
		unsigned attempt;

		while (!p->stopping && !p->whead)
			pthread_cond_wait(&p->work_cv, &p->mu);
		if (p->stopping)
			break;
		r = p->whead;
		wait_remove(p, r);
		attempt = ++r->attempts;
		r->running++;
		t->rec = r;
		t->attempt = attempt;
		t->start_ms = mono_ms();
		t->abandoned = 0;
		pthread_mutex_unlock(&p->mu);

		st = p->ops.run(p->user, r->job, attempt, &res);

		pthread_mutex_lock(&p->mu);
		t->rec = NULL;
		r->running--;
		if (p->dead) {
			/* The owner freed the pool while this attempt was
			 * stuck: its user data may be gone, touch nothing. */
			p->nabandoned--;
			break;
		}
		if (t->abandoned)
			p->st.late++;
		if (!r->finished)
			rec_finish(p, r, st, res);
		else if (res && p->ops.free_result)
			p->ops.free_result(p->user, res);
		if (r->delivered && r->running == 0) {
			r->release = 1;
			clist_push(p, r);
		}
		if (t->abandoned) {
			t->abandoned = 0;
			p->nabandoned--;
			/* A replacement took this thread's place. */
			if (p->nthreads - p->nabandoned > p->nworkers)
				break;
		}
	}
	p->nthreads--;
	if (!t->detached)
		t->state = THR_EXITED;
	last = p->dead && p->nthreads == 0;
	pthread_mutex_unlock(&p->mu);
	if (last)
		pool__destroy(p);
	return NULL;
}

/* Joins threads that have left their loop. Called with mu held: such a
 * thread no longer needs the mutex, so the join cannot deadlock. */
static void reap(struct abyss_pool *p)
{
	unsigned i;

	for (i = 0; i < p->nslots; i++) {
		if (p->thr[i].state == THR_EXITED) {
			pthread_join(p->thr[i].tid, NULL);
			p->thr[i].state = THR_FREE;
		}
	}
}

/* Starts one worker in a free slot. Called with mu held. */
static int spawn(struct abyss_pool *p)
{
	unsigned i;

	reap(p);
	for (i = 0; i < p->nslots; i++) {
		struct pool__thr *t = &p->thr[i];

		if (t->state != THR_FREE)
			continue;
		memset(t, 0, sizeof(*t));
		t->p = p;
		if (pthread_create(&t->tid, NULL, pool__worker, t) != 0)
			return ABYSS_EIO;
		t->state = THR_LIVE;
		p->nthreads++;
		return ABYSS_OK;
	}
	return ABYSS_EFULL;
}

/* The watchdog found t's attempt past the deadline. Called with mu held. */
static void abandon(struct abyss_pool *p, struct pool__thr *t, int64_t now)
{
	struct pool__rec *r = t->rec;
	struct abyss_pool_stuck rep;

	t->abandoned = 1;
	p->nabandoned++;
	p->st.stuck++;
	rep.job = r->job;
	rep.seq = r->seq;
	rep.attempt = t->attempt;
	rep.running_ms = now - t->start_ms;
	if (r->finished) {
		rep.action = ABYSS_POOL_IGNORED;
	} else if (r->attempts <= p->max_retries) {
		wait_push(p, r, 1);
		p->st.retried++;
		rep.action = ABYSS_POOL_RETRIED;
	} else {
		rec_finish(p, r, ABYSS_ETIMEOUT, NULL);
		rep.action = ABYSS_POOL_FAILED;
	}
	if (p->ring_n < p->ring_cap) {
		p->ring[p->ring_n++] = rep;
		fd_signal(p->cfd);
	} else {
		p->st.reports_lost++;
	}
	if (p->nthreads - p->nabandoned < p->nworkers &&
	    p->nthreads < p->nslots && spawn(p) == ABYSS_OK)
		p->st.spawned++;
}

static void *pool__watchdog(void *arg)
{
	struct abyss_pool *p = arg;

	pthread_mutex_lock(&p->mu);
	while (!p->stopping) {
		int64_t now = mono_ms(), next = now + p->deadline_ms;
		struct timespec ts;
		unsigned i;

		for (i = 0; i < p->nslots; i++) {
			struct pool__thr *t = &p->thr[i];
			int64_t due;

			if (t->state != THR_LIVE || !t->rec || t->abandoned)
				continue;
			due = t->start_ms + p->deadline_ms;
			if (now >= due)
				abandon(p, t, now);
			else if (due < next)
				next = due;
		}
		reap(p);
		next += 1; /* wake just after the earliest deadline */
		ts.tv_sec = (time_t)(next / 1000);
		ts.tv_nsec = (long)(next % 1000) * 1000000L;
		pthread_cond_timedwait(&p->wd_cv, &p->mu, &ts);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* ---- public API ---------------------------------------------------------- */

int abyss_pool_new(const struct abyss_pool_opts *o,
		   const struct abyss_pool_ops *ops, void *user,
		   struct abyss_pool **out)
{
	struct abyss_pool_opts d = {0};
	struct abyss_pool *p;
	pthread_condattr_t ca;
	size_t i, kcap;
	long ncpu;
	int rc = ABYSS_OK;

	if (!out || !ops || !ops->run || !ops->done)
		return ABYSS_EINVAL;
	*out = NULL;
	if (o)
		d = *o;
	if (d.nworkers == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		d.nworkers = ncpu > 0 && ncpu <= ABYSS_POOL_WORKERS_MAX
				 ? (unsigned)ncpu
				 : 1;
	}
	if (d.queue_cap == 0)
		d.queue_cap = 64;
	if (d.max_spare == 0)
		d.max_spare = d.nworkers;
	if (d.nworkers > ABYSS_POOL_WORKERS_MAX ||
	    d.max_spare > ABYSS_POOL_WORKERS_MAX ||
	    d.queue_cap > ABYSS_POOL_QUEUE_MAX || d.deadline_ms < 0)
		return ABYSS_ERANGE;

	p = calloc(1, sizeof(*p));
	if (!p)
		return ABYSS_ENOMEM;
	p->ops = *ops;
	p->user = user;
	p->nworkers = d.nworkers;
	p->nslots = d.nworkers + d.max_spare;
	p->queue_cap = d.queue_cap;
	p->max_bytes = d.max_bytes;
	p->deadline_ms = d.deadline_ms;
	p->max_retries = d.max_retries;
	/* Records: the held jobs, plus one per thread for a job already
	 * delivered whose abandoned attempt is still running. */
	p->nrecs = d.queue_cap + p->nslots;
	for (kcap = 16; kcap < 2 * p->nrecs; kcap *= 2)
		;
	p->kmask = kcap - 1;
	p->ring_cap = 2 * (size_t)p->nslots;
	p->recs = calloc(p->nrecs, sizeof(*p->recs));
	p->kmap = calloc(kcap, sizeof(*p->kmap));
	p->thr = calloc(p->nslots, sizeof(*p->thr));
	p->ring = calloc(p->ring_cap, sizeof(*p->ring));
	p->scratch = calloc(p->ring_cap, sizeof(*p->scratch));
	if (!p->recs || !p->kmap || !p->thr || !p->ring || !p->scratch) {
		pool__free_arrays(p);
		return ABYSS_ENOMEM;
	}
	for (i = p->nrecs; i-- > 0;) {
		p->recs[i].fnext = p->freelist;
		p->freelist = &p->recs[i];
	}
	p->cfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->sfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->cfd < 0 || p->sfd < 0) {
		if (p->cfd >= 0)
			close(p->cfd);
		if (p->sfd >= 0)
			close(p->sfd);
		pool__free_arrays(p);
		return ABYSS_EIO;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&p->mu, NULL) != 0 ||
	    pthread_cond_init(&p->work_cv, NULL) != 0 ||
	    pthread_cond_init(&p->wd_cv, &ca) != 0) {
		/* Linux never fails these with default attributes. */
		pthread_condattr_destroy(&ca);
		close(p->cfd);
		close(p->sfd);
		pool__free_arrays(p);
		return ABYSS_ENOMEM;
	}
	pthread_condattr_destroy(&ca);

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->nworkers && rc == ABYSS_OK; i++)
		rc = spawn(p);
	pthread_mutex_unlock(&p->mu);
	if (rc == ABYSS_OK && p->deadline_ms > 0) {
		if (pthread_create(&p->wd_tid, NULL, pool__watchdog, p) != 0)
			rc = ABYSS_EIO;
		else
			p->wd_started = 1;
	}
	if (rc != ABYSS_OK) {
		abyss_pool_free(p);
		return rc;
	}
	*out = p;
	return ABYSS_OK;
}

int abyss_pool_fd(const struct abyss_pool *p)
{
	return p ? p->cfd : -1;
}

int abyss_pool_space_fd(const struct abyss_pool *p)
{
	return p ? p->sfd : -1;
}

int abyss_pool_submit(struct abyss_pool *p, uint64_t key, void *job,
		      size_t bytes)
{
	struct pool__rec *r;
	struct pool__kent *e;

	if (!p || !job)
		return ABYSS_EINVAL;
	if (p->closed)
		return ABYSS_ESTATE;
	fd_clear(p->sfd);
	if (p->max_bytes && bytes > p->max_bytes)
		return ABYSS_ETOOBIG;
	if (p->held >= p->queue_cap || !p->freelist ||
	    (p->max_bytes && bytes > p->max_bytes - p->bytes)) {
		p->want_space = 1;
		pthread_mutex_lock(&p->mu);
		p->st.refused++;
		pthread_mutex_unlock(&p->mu);
		return ABYSS_EFULL;
	}
	r = p->freelist;
	p->freelist = r->fnext;
	memset(r, 0, sizeof(*r));
	r->job = job;
	r->key = key;
	r->bytes = bytes;
	r->seq = ++p->seq;
	r->inuse = 1;
	e = kmap_find(p, key, 1);
	if (e->tail)
		e->tail->knext = r;
	else
		e->head = r;
	e->tail = r;

	pthread_mutex_lock(&p->mu);
	p->held++;
	p->bytes += bytes;
	p->st.submitted++;
	wait_push(p, r, 0);
	pthread_mutex_unlock(&p->mu);
	return ABYSS_OK;
}

static void recycle(struct abyss_pool *p, struct pool__rec *r)
{
	if (p->ops.free_job)
		p->ops.free_job(p->user, r->job);
	r->inuse = 0;
	r->fnext = p->freelist;
	p->freelist = r;
}

static void deliver(struct abyss_pool *p, struct pool__rec *r)
{
	int release;

	pthread_mutex_lock(&p->mu);
	p->held--;
	p->bytes -= r->bytes;
	p->st.delivered++;
	if (r->status < 0)
		p->st.failed++;
	pthread_mutex_unlock(&p->mu);

	p->ops.done(p->user, r->job, r->status, r->result);

	pthread_mutex_lock(&p->mu);
	r->delivered = 1;
	release = r->running == 0;
	pthread_mutex_unlock(&p->mu);
	if (release)
		recycle(p, r);
}

/* Delivers the ready jobs at the front of key's line. */
static int deliver_key(struct abyss_pool *p, uint64_t key)
{
	int n = 0;

	for (;;) {
		/* Looked up again each time: done may submit. */
		struct pool__kent *e = kmap_find(p, key, 0);
		struct pool__rec *r;

		if (!e || !e->head || !e->head->ready)
			return n;
		r = e->head;
		e->head = r->knext;
		if (!e->head)
			kmap_del(p, e);
		n++;
		deliver(p, r);
	}
}

int abyss_pool_dispatch(struct abyss_pool *p)
{
	struct pool__rec *r, *next;
	size_t nrep, i;
	int n = 0;

	if (!p)
		return ABYSS_EINVAL;
	fd_clear(p->cfd);
	pthread_mutex_lock(&p->mu);
	r = p->chead;
	p->chead = p->ctail = NULL;
	nrep = p->ring_n;
	memcpy(p->scratch, p->ring, nrep * sizeof(*p->ring));
	p->ring_n = 0;
	pthread_mutex_unlock(&p->mu);

	/* Reports first: their jobs are still referenced by the stuck attempt,
	 * so none of them has been freed yet. */
	for (i = 0; i < nrep; i++)
		if (p->ops.stuck)
			p->ops.stuck(p->user, &p->scratch[i]);
	for (; r; r = next) {
		next = r->cnext;
		if (r->release) {
			r->release = 0;
			recycle(p, r);
			continue;
		}
		r->ready = 1;
		n += deliver_key(p, r->key);
	}
	if (p->want_space && p->held < p->queue_cap) {
		p->want_space = 0;
		fd_signal(p->sfd);
	}
	return n;
}

int abyss_pool_drain(struct abyss_pool *p, int64_t deadline_ms)
{
	int64_t at, now;
	int forced = 0;
	size_t i;
	unsigned k;

	if (!p)
		return ABYSS_EINVAL;
	p->closed = 1;
	at = mono_ms() + (deadline_ms > 0 ? deadline_ms : 0);
	abyss_pool_dispatch(p);
	while (p->held > 0 && (now = mono_ms()) < at) {
		struct pollfd pfd = {p->cfd, POLLIN, 0};
		int64_t wait = at - now;

		poll(&pfd, 1, wait > INT_MAX ? INT_MAX : (int)wait);
		abyss_pool_dispatch(p);
	}
	if (p->held == 0)
		return 0;

	/* Out of time: every job without an outcome fails now; attempts still
	 * running are abandoned and their results freed when they return. */
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->nrecs; i++) {
		struct pool__rec *r = &p->recs[i];

		if (!r->inuse || r->finished)
			continue;
		for (k = 0; k < p->nslots; k++) {
			struct pool__thr *t = &p->thr[k];

			if (t->state == THR_LIVE && t->rec == r &&
			    !t->abandoned) {
				t->abandoned = 1;
				p->nabandoned++;
			}
		}
		rec_finish(p, r, ABYSS_ETIMEOUT, NULL);
		forced++;
	}
	pthread_mutex_unlock(&p->mu);
	abyss_pool_dispatch(p);
	return forced;
}

void abyss_pool_free(struct abyss_pool *p)
{
	unsigned i;
	size_t k;
	int last;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->work_cv);
	pthread_cond_broadcast(&p->wd_cv);
	pthread_mutex_unlock(&p->mu);
	if (p->wd_started)
		pthread_join(p->wd_tid, NULL);

	/* Threads inside an attempt whose result can no longer be used (it
	 * was abandoned, or its job already has an outcome) may never come
	 * back: detach them. The others finish their attempt and leave; join
	 * those. */
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->nslots; i++) {
		struct pool__thr *t = &p->thr[i];

		if (t->state != THR_LIVE || !t->rec ||
		    !(t->abandoned || t->rec->finished))
			continue;
		if (!t->abandoned) {
			t->abandoned = 1;
			p->nabandoned++;
		}
		pthread_detach(t->tid);
		t->detached = 1;
	}
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nslots; i++) {
		struct pool__thr *t = &p->thr[i];

		/* state and detached of a slot change only under mu, and a
		 * non-detached live slot can only move to EXITED now. */
		pthread_mutex_lock(&p->mu);
		if (t->state == THR_FREE || t->detached) {
			pthread_mutex_unlock(&p->mu);
			continue;
		}
		pthread_mutex_unlock(&p->mu);
		pthread_join(t->tid, NULL);
		pthread_mutex_lock(&p->mu);
		t->state = THR_FREE;
		pthread_mutex_unlock(&p->mu);
	}

	pthread_mutex_lock(&p->mu);
	for (k = 0; k < p->nrecs; k++) {
		struct pool__rec *r = &p->recs[k];

		if (!r->inuse || r->running > 0)
			continue; /* a detached attempt still reads this job */
		if (r->finished && !r->delivered && r->result &&
		    p->ops.free_result)
			p->ops.free_result(p->user, r->result);
		if (p->ops.free_job)
			p->ops.free_job(p->user, r->job);
		r->inuse = 0;
	}
	p->dead = 1;
	close(p->cfd);
	close(p->sfd);
	last = p->nthreads == 0;
	pthread_mutex_unlock(&p->mu);
	if (last)
		pool__destroy(p);
}

void abyss_pool_stats(struct abyss_pool *p, struct abyss_pool_stats *s)
{
	if (!p || !s)
		return;
	pthread_mutex_lock(&p->mu);
	*s = p->st;
	s->held = p->held;
	s->bytes = p->bytes;
	s->threads = p->nthreads;
	s->abandoned = p->nabandoned;
	pthread_mutex_unlock(&p->mu);
}
