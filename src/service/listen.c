/*
 * listen.c - `abyss listen`, the real-time service: one poll(2) loop over
 * the MQTT socket (mq.h), the worker pool's completion and space fds
 * (pool.h), a signalfd (SIGTERM, SIGINT, SIGHUP) and timers (correlator
 * tick, spool retry, systemd watchdog). Messages are decoded and correlated
 * on the loop thread; holes are built, estimated and formatted on workers;
 * completions come back in per-tool order, go to the spool (one transaction
 * with dedupe) and are published; a PUBACK deletes them from the spool.
 * It deliberately keeps no state of its own on disk beyond the spool, and
 * never runs estimation on the loop thread. docs/operations.md is the
 * runbook.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "abyss/config.h"
#include "abyss/correlator.h"
#include "abyss/depth.h"
#include "abyss/http.h"
#include "abyss/message.h"
#include "abyss/metrics.h"
#include "abyss/nn.h"
#include "abyss/payload.h"
#include "abyss/spool.h"
#include "abyss/version.h"
#include "config_mq.h"
#include "listen.h"
#include "listen_inbox.h"
#include "log.h"
#include "mq.h"
#include "notify.h"
#include "pool.h"

#define LSN_TICK_MS	   100	 /* correlator tick */
#define LSN_SLOW_MS	   1000	 /* spool retry, gauges, memory check */
#define LSN_DEDUPE_MS	   60000 /* dedupe expiry */
#define LSN_WALK_MAX	   64	 /* spool rows handed to mq per walk */
#define LSN_PAYLOAD_MAX	   2048	 /* one formatted payload */
#define LSN_TOPIC_MAX	   1024
#define LSN_HOLE_ID_MAX	   (2 * ABYSS_ID_MAX + 2)
#define LSN_WATCHDOG_MS	   60000 /* one estimation attempt */
#define LSN_RL_MS	   10000 /* rate limit of repetitive warnings */
#define LSN_EARLY_ACK_MAX  64	 /* QoS 0 acks seen inside mq_publish */
#define LSN_DEF_SHUTDOWN_S 10.0
/* The logger's key/value lists end with a NULL key; a typed one, as a
 * variadic argument must be. */
#define LSN_END ((const char *)NULL)

/* A matched hole on its way through the pool. Read-only once submitted. */
struct lsn_job {
	struct abyss_corr_group g;	    /* owns the messages */
	struct abyss_data_ids ids;	    /* payload keys at match time */
	struct abyss_msg_limits lim;	    /* for the worker's parse */
	enum abyss_method method;	    /* estimator at match time */
	const struct abyss_ml_model *model; /* ml: shared, thread-safe */
	char hole_id[LSN_HOLE_ID_MAX];	    /* "toolbox/tool#ResultId" */
	char tool_key[ABYSS_ID_MAX];
	int64_t matched_ms; /* monotonic */
	size_t bytes;
	int final; /* done reached an outcome: forget the inbox rows */
	struct lsn_job *next; /* backlog link (loop thread only) */
};

/* What a worker hands back. */
struct lsn_result {
	int outcome; /* enum abyss_payload_status, or -1: no hole */
	char result_id[ABYSS_ID_MAX];
	char reason[ABYSS_DIAG_MSG_MAX + 96];
	double kp[3];
	double est_s;
	int kp_len, depth_len;
	char kp_payload[LSN_PAYLOAD_MAX];
	char depth_payload[LSN_PAYLOAD_MAX];
};

struct lsn {
	struct abyss_config *cfg; /* running configuration (hot keys updated) */
	const char *cfg_path;
	int cli_level; /* 0: level from the file */
	struct abyss_log *log;
	struct abyss_metrics *reg;
	struct abyss_service_metrics sm;
	struct abyss_http *http;
	struct mq *mq;
	struct abyss_corr *corr;
	struct abyss_spool *spool;
	struct abyss_pool *pool;
	struct lsn_inbox *inbox;
	/* The ml model, loaded at start (abyss.estimator.model); kept until
	 * exit because jobs in flight point at it. */
	struct abyss_ml_model *model;
	char model_dir[ABYSS_CONFIG_PATH_MAX];
	int keep_inbox; /* stopping: keep what is unfinished for next start */
	struct abyss_notify notify;
	struct abyss_negdepth neg;
	struct abyss_topics topics;
	struct abyss_msg_limits msg_lim;
	int sfd;

	struct lsn_job *backlog_head, *backlog_tail; /* refused by the pool */
	size_t backlog_n, backlog_max;

	int early_acks[LSN_EARLY_ACK_MAX]; /* QoS 0: on_publish before mark */
	size_t n_early;
	int in_publish;
	int acked;	/* a PUBACK freed room in the window: flush the spool */
	int need_flush; /* new rows in the spool: publish after the commit */
	int spool_txn;	/* the spool has a transaction open (lsn_txn_*) */
	int inbox_txn;	/* the inbox has a transaction open */
	size_t walked;	/* rows handed over by the current walk */

	int stopping;
	int ever_ready;
	int mem_paused; /* reading paused for abyss.limits.memory_cap_mb */
	uint64_t last_reconnects;
	atomic_int connected;  /* read by the HTTP thread */
	atomic_int subscribed; /* idem */
	atomic_llong spool_entries;
	atomic_llong holes_done;
};

/* ---- clocks ---------------------------------------------------------- */

static int64_t lsn_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t lsn_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double lsn_secs_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	       (double)(t1.tv_nsec - t0->tv_nsec) * 1e-9;
}

static void lsn_errstr(char *buf, size_t n, int rc, const char *msg)
{
	snprintf(buf, n, "%s (%s)", msg && *msg ? msg : abyss_strerror(rc),
		 abyss_errname(rc));
}

/* ---- received messages ----------------------------------------------- */

/* What the correlator holds for one message: the decoded message and its
 * inbox row, deleted when the message is released unless it must survive
 * for the next start. */
/* A received message. Either m (parsed on the loop thread: the rare
 * documents abyss_msg_peek cannot vouch for) or raw + topic (peeked; the
 * worker parses them). */
struct lsn_in {
	struct abyss_msg *m;
	char *raw; /* payload copy, raw_len bytes */
	size_t raw_len;
	char *topic;
	enum abyss_msg_kind kind;
	struct lsn *s;
	int64_t inbox_id;
	int keep;
};

static void lsn_in_free(void *p)
{
	struct lsn_in *w = p;

	if (!w)
		return;
	if (!w->keep && !w->s->keep_inbox)
		lsn_inbox_del(w->s->inbox, w->inbox_id);
	abyss_msg_free(w->m);
	free(w->raw);
	free(w->topic);
	free(w);
}

static const struct abyss_msg *lsn_in_get(const struct abyss_corr_msg *cm)
{
	return cm->free_fn == lsn_in_free && cm->payload
		   ? ((const struct lsn_in *)cm->payload)->m
		   : NULL;
}

/* The worker frees a job's JSON trees as soon as the hole is built: that
 * is most of the free() work per hole, and the network thread is the one
 * to spare. The wrapper (and the inbox row) stay for the loop thread. */
static void lsn_in_drop_tree(const struct abyss_corr_msg *cm)
{
	struct lsn_in *w;

	if (cm->free_fn != lsn_in_free || !cm->payload)
		return;
	w = cm->payload;
	abyss_msg_free(w->m);
	w->m = NULL;
	free(w->raw);
	w->raw = NULL;
}

/* Worker: a peeked message's tree. abyss_msg_peek vouched that this
 * succeeds; anything else (out of memory) is the hole's error. The kind
 * stays the one classified at ingest (the topics may be reloaded since). */
static int lsn_in_parse(const struct abyss_corr_msg *cm,
			const struct abyss_msg_limits *lim,
			struct abyss_diag *d)
{
	struct lsn_in *w;
	struct abyss_msg_limits l = *lim;
	int rc;

	if (cm->free_fn != lsn_in_free || !cm->payload)
		return ABYSS_EINVAL;
	w = cm->payload;
	if (w->m || !w->raw)
		return 0;
	l.topics = NULL;
	rc = abyss_msg_parse(w->topic, w->raw, w->raw_len, &l, &w->m, d);
	if (rc == 0)
		w->m->kind = w->kind;
	return rc;
}

static void lsn_in_keep(struct abyss_corr_msg *cm)
{
	if (cm->free_fn == lsn_in_free && cm->payload)
		((struct lsn_in *)cm->payload)->keep = 1;
}

/* ---- workers (any thread) -------------------------------------------- */

/* Keypoints as published: [entry, transition, exit]. A one-layer stack has
 * no transition; we publish exit for it, so the depths read [total, 0]
 * like abyss_estimate_depths. */
static void lsn_keypoints(const struct abyss_estimate *e, double kp[3])
{
	kp[0] = e->entry.pos_mm;
	kp[2] = e->exit.pos_mm;
	kp[1] = e->transition.found ? e->transition.pos_mm : e->exit.pos_mm;
}

static const char *lsn_first_reason(const struct abyss_estimate *e,
				    const struct abyss_diag *d, int rc)
{
	if (d->msg[0])
		return d->msg;
	if (!e->entry.found && e->entry.reason[0])
		return e->entry.reason;
	if (!e->transition.found && e->transition.reason[0])
		return e->transition.reason;
	if (!e->exit.found && e->exit.reason[0])
		return e->exit.reason;
	return abyss_strerror(rc);
}

static int lsn_run(void *user, const void *job_, unsigned attempt,
		   void **result)
{
	const struct lsn_job *job = job_;
	const struct abyss_msg *heads;
	struct abyss_estimate_opts eo = {job->method, NULL, job->model};
	struct abyss_payload_ids pids;
	struct abyss_estimate est;
	struct abyss_diag d;
	struct abyss_hole h;
	struct timespec t0;
	struct lsn_result *r;
	const char *msg = NULL;
	int rc;

	(void)user;
	(void)attempt;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ABYSS_ENOMEM;
	*result = r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	abyss_hole_init(&h);
	abyss_diag_init(&d);
	rc = lsn_in_parse(&job->g.result, &job->lim, &d);
	if (!rc)
		rc = lsn_in_parse(&job->g.trace, &job->lim, &d);
	if (!rc && job->g.has_heads)
		rc = lsn_in_parse(&job->g.heads, &job->lim, &d);
	heads = job->g.has_heads ? lsn_in_get(&job->g.heads) : NULL;
	if (!rc)
		rc = abyss_hole_from_msgs(lsn_in_get(&job->g.result),
					  lsn_in_get(&job->g.trace), heads,
					  &job->ids, &h, &d);
	/* no retries (po.max_retries = 0): the trees are not needed again */
	lsn_in_drop_tree(&job->g.result);
	lsn_in_drop_tree(&job->g.trace);
	if (job->g.has_heads)
		lsn_in_drop_tree(&job->g.heads);
	if (rc) {
		/* §3.12: a conversion failure publishes nothing. */
		r->outcome = -1;
		lsn_errstr(r->reason, sizeof(r->reason), rc, d.msg);
		r->est_s = lsn_secs_since(&t0);
		return 0;
	}
	snprintf(r->result_id, sizeof(r->result_id), "%s", h.result_id);
	if (abyss_hole_distinct_steps(&h) < 2) {
		r->outcome = ABYSS_PAYLOAD_ERROR;
		msg = "Not enough steps to estimate depth";
	} else {
		rc = abyss_estimate(&h, &eo, &est, &d);
		lsn_keypoints(&est, r->kp);
		if (rc == 0 || rc == ABYSS_ERANGE) {
			/* ERANGE: found but a layer <= 0; decide() turns a
			 * negative one into EMPTY as the original did. */
			r->outcome = abyss_payload_decide(NULL, r->kp);
		} else {
			r->outcome = ABYSS_PAYLOAD_ERROR;
			msg = lsn_first_reason(&est, &d, rc);
		}
	}
	if (msg)
		snprintf(r->reason, sizeof(r->reason), "%s", msg);
	r->est_s = lsn_secs_since(&t0);
	if (r->outcome != ABYSS_PAYLOAD_EMPTY) {
		pids = abyss_payload_ids_from_hole(&h);
		r->kp_len = abyss_payload_format(
		    r->kp_payload, sizeof(r->kp_payload),
		    ABYSS_PAYLOAD_KEYPOINTS, r->outcome, &pids, r->kp,
		    msg ? r->reason : NULL, NULL);
		r->depth_len = abyss_payload_format(
		    r->depth_payload, sizeof(r->depth_payload),
		    ABYSS_PAYLOAD_DEPTH, r->outcome, &pids, r->kp,
		    msg ? r->reason : NULL, NULL);
		if (r->kp_len < 0 || r->depth_len < 0) {
			rc = r->kp_len < 0 ? r->kp_len : r->depth_len;
			r->outcome = -1;
			lsn_errstr(r->reason, sizeof(r->reason), rc,
				   "payload does not fit");
		}
	}
	abyss_hole_free(&h);
	return 0;
}

static void lsn_free_result(void *user, void *result)
{
	(void)user;
	free(result);
}

static void lsn_free_job(void *user, void *job_)
{
	struct lsn_job *job = job_;

	(void)user;
	if (!job->final) {
		lsn_in_keep(&job->g.result);
		lsn_in_keep(&job->g.trace);
		lsn_in_keep(&job->g.heads);
	}
	abyss_corr_msg_release(&job->g.result);
	abyss_corr_msg_release(&job->g.trace);
	if (job->g.has_heads)
		abyss_corr_msg_release(&job->g.heads);
	free(job);
}

/* ---- publishing (loop thread) ---------------------------------------- */

static int lsn_walk_cb(void *ud, const struct abyss_spool_entry *e)
{
	struct lsn *s = ud;
	size_t i;
	int mid = 0, rc;

	s->in_publish = 1;
	rc = mq_publish(s->mq, e->topic, e->payload, e->len, e->qos,
			e->retain != 0, &mid);
	s->in_publish = 0;
	if (rc == ABYSS_EFULL || rc == ABYSS_ESTATE)
		return 1; /* try again later */
	if (rc) {
		abyss_log_kv_rl(s->log, ABYSS_LOGL_ERROR, "publish-refused",
				LSN_RL_MS, "publish refused", "topic", e->topic,
				"error", abyss_errname(rc), LSN_END);
		return 1;
	}
	if (abyss_spool_mark_inflight(s->spool, e->id, mid) != 0)
		return 1;
	s->walked++;
	for (i = 0; i < s->n_early; i++) {
		if (s->early_acks[i] == mid) {
			abyss_spool_ack(s->spool, mid);
			s->early_acks[i] = s->early_acks[--s->n_early];
			break;
		}
	}
	return 0;
}

/* Hands pending spool rows to the MQTT adapter, oldest first, until it is
 * full or nothing is pending. */
static void lsn_flush_spool(struct lsn *s)
{
	int rc = 0, rounds = 0;
	/* the in-flight marks of one flush are one transaction */
	int own = !s->spool_txn && abyss_spool_begin(s->spool) == 0;
	struct abyss_diag d;

	s->need_flush = 0;
	do {
		s->walked = 0;
		rc = abyss_spool_foreach_pending(s->spool, 0, LSN_WALK_MAX,
						 lsn_walk_cb, s);
	} while (rc == 0 && s->walked == LSN_WALK_MAX && ++rounds < 64);
	if (rc < 0)
		abyss_log_kv_rl(s->log, ABYSS_LOGL_ERROR, "spool-walk",
				LSN_RL_MS, "spool read failed", "error",
				abyss_errname(rc), LSN_END);
	abyss_diag_init(&d);
	if (own && abyss_spool_commit(s->spool, &d) != 0)
		abyss_log_kv_rl(s->log, ABYSS_LOGL_ERROR, "spool-commit",
				LSN_RL_MS, "spool commit failed", "error",
				d.msg, LSN_END);
}

/* The loop's writes go to SQLite in a few transactions per turn, not one
 * per row (about a dozen commits per hole before), in this order:
 *  1. after reading: the inbox commits the messages read (libmosquitto
 *     acknowledges a QoS 1 message before handing it over, so the time to
 *     this commit is the window in which a SIGKILL loses a message) and the
 *     previous turn's deletes;
 *  2. after the completions: the spool commits the new results with their
 *     dedupe rows, the acks read and the previous turn's in-flight marks;
 *  3. only then is anything published; the marks of that flush ride in the
 *     transaction that stays open into the next turn.
 * So a published result always has its dedupe row on disk, and the inbox
 * deletes a hole's messages only after its result is in the spool: a
 * crash between the two re-reads the messages at the next start, and the
 * dedupe table keeps their result from going out twice. */
static void lsn_txn_open(struct lsn *s)
{
	if (!s->spool_txn)
		s->spool_txn = abyss_spool_begin(s->spool) == 0;
	if (!s->inbox_txn)
		s->inbox_txn = lsn_inbox_begin(s->inbox) == 0;
	if (!s->spool_txn || !s->inbox_txn)
		abyss_log_kv_rl(
		    s->log, ABYSS_LOGL_ERROR, "txn-begin", LSN_RL_MS,
		    "cannot begin a transaction: writing row by "
		    "row",
		    "spool", s->spool_txn ? "ok" : "failed", "inbox",
		    s->inbox_txn ? "ok" : "failed", LSN_END);
}

static void lsn_inbox_txn_commit(struct lsn *s)
{
	if (!s->inbox_txn)
		return;
	s->inbox_txn = 0;
	if (lsn_inbox_commit(s->inbox) != 0)
		abyss_log_kv(s->log, ABYSS_LOGL_ERROR,
			     "inbox commit failed: this turn's messages would "
			     "not survive a crash",
			     LSN_END);
}

/* Commits the spool; on failure the inbox's open deletes are undone too
 * (the holes are estimated again at the next start). */
static void lsn_spool_txn_commit(struct lsn *s)
{
	struct abyss_diag d;

	if (!s->spool_txn)
		return;
	s->spool_txn = 0;
	abyss_diag_init(&d);
	if (abyss_spool_commit(s->spool, &d) == 0)
		return;
	if (s->inbox_txn)
		lsn_inbox_rollback(s->inbox);
	s->inbox_txn = 0;
	abyss_log_kv(s->log, ABYSS_LOGL_ERROR,
		     "spool commit failed: these results are kept in the "
		     "inbox for the next start",
		     "error", d.msg, LSN_END);
}

/* Both, spool first: before shutdown and on the way out. */
static void lsn_txn_close(struct lsn *s)
{
	lsn_spool_txn_commit(s);
	lsn_inbox_txn_commit(s);
}

/* From the spool's counters in memory: cheap enough for every ack. */
static void lsn_update_spool_gauge(struct lsn *s)
{
	size_t n = abyss_spool_entries(s->spool);

	atomic_store(&s->spool_entries, (long long)n);
	abyss_metric_set(s->sm.spool_depth, (double)n / 2.0);
}

/* ---- completions (loop thread) --------------------------------------- */

static void lsn_done(void *user, void *job_, int status, void *result)
{
	struct lsn *s = user;
	struct lsn_job *job = job_;
	struct lsn_result *r = result;
	char hid[LSN_HOLE_ID_MAX], t_kp[LSN_TOPIC_MAX], t_depth[LSN_TOPIC_MAX];
	struct abyss_spool_msg m[2];
	struct abyss_diag d;
	struct timespec t0;
	int qos = (int)s->cfg->abyss.mqtt.publish_qos;
	int mx, rc;

	atomic_fetch_add(&s->holes_done, 1);
	/* Abandoned at shutdown: its messages stay in the inbox. */
	job->final = !(status == ABYSS_ETIMEOUT && s->stopping);
	if (status || !r) {
		abyss_metric_inc(
		    s->sm.drops[status == ABYSS_ETIMEOUT && s->stopping
				    ? ABYSS_MX_DROP_SHUTDOWN
				    : ABYSS_MX_DROP_INVALID]);
		abyss_log_kv(s->log, ABYSS_LOGL_ERROR, "estimation failed",
			     "hole", job->hole_id, "error",
			     abyss_errname(status), LSN_END);
		free(r);
		return;
	}
	abyss_metric_observe(s->sm.estimation_seconds, r->est_s);
	if (r->result_id[0])
		snprintf(hid, sizeof(hid), "%s#%s", job->tool_key,
			 r->result_id);
	else
		snprintf(hid, sizeof(hid), "%s", job->hole_id);
	if (r->outcome < 0) {
		abyss_metric_inc(s->sm.invalid[ABYSS_MX_INVALID_PAYLOAD]);
		abyss_metric_inc(s->sm.drops[ABYSS_MX_DROP_INVALID]);
		abyss_log_kv(s->log, ABYSS_LOGL_WARN,
			     "hole not processed: nothing published", "hole",
			     hid, "reason", r->reason, LSN_END);
		free(r);
		return;
	}
	if (r->outcome == ABYSS_PAYLOAD_EMPTY) {
		char v[3][40];

		abyss_metric_inc(s->sm.published[ABYSS_MX_PUB_NEGATIVE]);
		snprintf(v[0], sizeof(v[0]), "%.6g", r->kp[0]);
		snprintf(v[1], sizeof(v[1]), "%.6g", r->kp[1] - r->kp[0]);
		snprintf(v[2], sizeof(v[2]), "%.6g", r->kp[2] - r->kp[1]);
		abyss_log_kv(s->log, ABYSS_LOGL_WARN,
			     "Negative depth estimation detected - skipping "
			     "MQTT publish",
			     "hole", hid, "entry", v[0], "depth0", v[1],
			     "depth1", v[2], LSN_END);
		if (abyss_negdepth_record(&s->neg, lsn_mono_ms())) {
			char cnt[24];

			snprintf(cnt, sizeof(cnt), "%zu",
				 abyss_negdepth_recent(&s->neg, lsn_mono_ms()));
			abyss_log_kv(s->log, ABYSS_LOGL_WARN,
				     "Multiple negative depth estimations "
				     "detected in close sequence",
				     "count", cnt, "threshold", "5", LSN_END);
		}
		free(r);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (abyss_payload_topic(t_kp, sizeof(t_kp), s->cfg->mqtt.listener.root,
				job->tool_key,
				s->cfg->mqtt.estimation.keypoints) < 0 ||
	    abyss_payload_topic(t_depth, sizeof(t_depth),
				s->cfg->mqtt.listener.root, job->tool_key,
				s->cfg->mqtt.estimation.depth_estimation) < 0) {
		abyss_metric_inc(s->sm.drops[ABYSS_MX_DROP_INVALID]);
		abyss_log_kv(s->log, ABYSS_LOGL_ERROR,
			     "output topic does not fit", "hole", hid, LSN_END);
		free(r);
		return;
	}
	m[0] = (struct abyss_spool_msg){t_kp, r->kp_payload, (size_t)r->kp_len,
					qos, 0};
	m[1] = (struct abyss_spool_msg){t_depth, r->depth_payload,
					(size_t)r->depth_len, qos, 0};
	abyss_diag_init(&d);
	rc = abyss_spool_enqueue(s->spool, m, 2, job->tool_key,
				 r->result_id[0] ? r->result_id : NULL,
				 lsn_wall_ms(), NULL, &d);
	if (rc == ABYSS_EDUPLICATE) {
		abyss_metric_inc(s->sm.drops[ABYSS_MX_DROP_DUPLICATE]);
		abyss_log_kv(s->log, ABYSS_LOGL_INFO,
			     "result already published: not again", "hole", hid,
			     LSN_END);
		free(r);
		return;
	}
	if (rc) {
		char e[ABYSS_DIAG_MSG_MAX + 32];

		lsn_errstr(e, sizeof(e), rc, d.msg);
		abyss_metric_inc(
		    s->sm.drops[rc == ABYSS_EFULL ? ABYSS_MX_DROP_SPOOL_FULL
						  : ABYSS_MX_DROP_INVALID]);
		abyss_log_kv(s->log, ABYSS_LOGL_ERROR,
			     "result lost: spool refused it", "hole", hid,
			     "error", e, LSN_END);
		free(r);
		return;
	}
	mx = r->outcome == ABYSS_PAYLOAD_SUCCESS ? ABYSS_MX_PUB_SUCCESS
	     : r->outcome == ABYSS_PAYLOAD_INSUFFICIENT_DATA
		 ? ABYSS_MX_PUB_INSUFFICIENT
		 : ABYSS_MX_PUB_ERROR;
	abyss_metric_inc(s->sm.published[mx]);
	s->need_flush = 1;
	if (!s->spool_txn) /* shutdown: no turn to wait for */
		lsn_flush_spool(s);
	abyss_metric_observe(s->sm.publish_seconds, lsn_secs_since(&t0));
	abyss_metric_observe(s->sm.end_to_end_seconds,
			     (double)(lsn_mono_ms() - job->matched_ms) / 1e3);
	if (r->outcome == ABYSS_PAYLOAD_SUCCESS) {
		char v[2][40];

		snprintf(v[0], sizeof(v[0]), "%.4f", r->kp[1] - r->kp[0]);
		snprintf(v[1], sizeof(v[1]), "%.4f", r->kp[2] - r->kp[1]);
		abyss_log_kv(s->log, ABYSS_LOGL_INFO, "hole estimated", "hole",
			     hid, "depth0_mm", v[0], "depth1_mm", v[1],
			     LSN_END);
	} else {
		abyss_log_kv(s->log, ABYSS_LOGL_INFO, "hole: error published",
			     "hole", hid, "reason", r->reason, LSN_END);
	}
	free(r);
}

static void lsn_stuck(void *user, const struct abyss_pool_stuck *st)
{
	struct lsn *s = user;
	char ms[24];

	abyss_metric_inc(s->sm.worker_stuck);
	snprintf(ms, sizeof(ms), "%lld", (long long)st->running_ms);
	abyss_log_kv(
	    s->log, ABYSS_LOGL_ERROR, "estimation overran the watchdog",
	    "running_ms", ms, "action",
	    st->action == ABYSS_POOL_RETRIED ? "retried" : "failed", LSN_END);
}

/* abyss.limits.memory_cap_mb: over the cap, stop reading (the broker keeps
 * the messages) until the resident size is back under 90 % of it. */
static void lsn_memory_check(struct lsn *s)
{
	double cap = (double)s->cfg->abyss.limits.memory_cap_mb * 1048576.0;
	double rss;

	if (cap <= 0 || abyss_service_metrics_sample_memory(&s->sm) != 0)
		return;
	rss = abyss_metric_value(s->sm.memory_bytes);
	if (!s->mem_paused && rss > cap) {
		s->mem_paused = 1;
		mq_pause_reading(s->mq);
		abyss_log_kv(s->log, ABYSS_LOGL_WARN,
			     "memory over abyss.limits.memory_cap_mb: pausing "
			     "MQTT reading",
			     LSN_END);
	} else if (s->mem_paused && rss < 0.9 * cap) {
		s->mem_paused = 0;
		if (!s->backlog_head && !s->stopping)
			mq_resume_reading(s->mq);
		abyss_log_kv(s->log, ABYSS_LOGL_INFO,
			     "memory back under the cap: reading resumed",
			     LSN_END);
	}
}

/* ---- pool intake with backpressure ----------------------------------- */

static void lsn_pause(struct lsn *s)
{
	if (!s->mq) /* replaying the inbox at start */
		return;
	if (!mq_reading_paused(s->mq))
		abyss_log_kv(s->log, ABYSS_LOGL_INFO,
			     "estimation queue full: pausing MQTT reading",
			     LSN_END);
	mq_pause_reading(s->mq);
}

/* Moves backlog jobs into the pool in order; resumes reading when the
 * backlog is empty (and we are not stopping). */
static void lsn_drain_backlog(struct lsn *s)
{
	while (s->backlog_head) {
		struct lsn_job *j = s->backlog_head;
		int rc = abyss_pool_submit(s->pool, abyss_pool_key(j->tool_key),
					   j, j->bytes);

		if (rc == ABYSS_EFULL)
			return;
		s->backlog_head = j->next;
		if (!s->backlog_head)
			s->backlog_tail = NULL;
		s->backlog_n--;
		j->next = NULL;
		if (rc) {
			abyss_metric_inc(s->sm.drops[ABYSS_MX_DROP_QUEUE_FULL]);
			abyss_log_kv(s->log, ABYSS_LOGL_ERROR,
				     "hole dropped: pool refused it", "hole",
				     j->hole_id, "error", abyss_errname(rc),
				     LSN_END);
			j->final = !s->stopping;
			lsn_free_job(s, j);
		}
	}
	abyss_metric_set(s->sm.queue_depth, 0);
	if (s->mq && !s->stopping && !s->mem_paused &&
	    mq_reading_paused(s->mq)) {
		mq_resume_reading(s->mq);
		abyss_log_kv(s->log, ABYSS_LOGL_INFO, "MQTT reading resumed",
			     LSN_END);
	}
}

static void lsn_submit(struct lsn *s, struct lsn_job *j)
{
	int rc = ABYSS_EFULL;

	if (!s->backlog_head)
		rc = abyss_pool_submit(s->pool, abyss_pool_key(j->tool_key), j,
				       j->bytes);
	if (rc == 0)
		return;
	if (rc == ABYSS_EFULL && (s->backlog_n < s->backlog_max || !s->mq)) {
		/* Keep the order per tool: everything goes behind the
		 * backlog until it is empty again. */
		if (s->backlog_tail)
			s->backlog_tail->next = j;
		else
			s->backlog_head = j;
		s->backlog_tail = j;
		s->backlog_n++;
		lsn_pause(s);
		return;
	}
	abyss_metric_inc(s->sm.drops[ABYSS_MX_DROP_QUEUE_FULL]);
	abyss_log_kv_rl(s->log, ABYSS_LOGL_ERROR, "queue-full", LSN_RL_MS,
			"hole dropped: estimation queue full", "hole",
			j->hole_id, LSN_END);
	j->final = 1;
	lsn_free_job(s, j);
	lsn_pause(s);
}

/* ---- correlator callbacks (loop thread) ------------------------------ */

static void lsn_on_match(void *ud, struct abyss_corr_group *g)
{
	struct lsn *s = ud;
	const struct abyss_msg *res = lsn_in_get(&g->result);
	struct lsn_job *j;

	abyss_metric_inc(s->sm.holes_matched);
	j = calloc(1, sizeof(*j));
	if (!j) {
		abyss_metric_inc(s->sm.drops[ABYSS_MX_DROP_QUEUE_FULL]);
		abyss_log_kv(s->log, ABYSS_LOGL_ERROR,
			     "out of memory: hole dropped", "hole",
			     g->result.tool_key, LSN_END);
		abyss_corr_msg_release(&g->result);
		abyss_corr_msg_release(&g->trace);
		if (g->has_heads)
			abyss_corr_msg_release(&g->heads);
		return;
	}
	j->g = *g;
	j->lim = s->msg_lim;
	abyss_config_data_ids(s->cfg, &j->ids);
	j->method = (enum abyss_method)s->cfg->abyss.estimator.method;
	j->model = s->model;
	snprintf(j->tool_key, sizeof(j->tool_key), "%s", g->result.tool_key);
	j->matched_ms = lsn_mono_ms();
	j->bytes =
	    g->result.size + g->trace.size + (g->has_heads ? g->heads.size : 0);
	{
		/* the ResultId for the log line, when it is a plain value */
		const char *rid = NULL;
		const char *key;
		json_t *v;

		if (res && res->payload) {
			json_object_foreach(res->payload, key, v)
			{
				if (strstr(key, j->ids.result_id)) {
					json_t *val =
					    json_object_get(v, "Value");
					if (json_is_string(val))
						rid = json_string_value(val);
					else if (json_is_integer(val)) {
						snprintf(j->hole_id,
							 sizeof(j->hole_id),
							 "%s#%lld", j->tool_key,
							 (long long)
							     json_integer_value(
								 val));
					}
					break;
				}
			}
		}
		if (rid) {
			snprintf(j->hole_id, sizeof(j->hole_id), "%s#%s",
				 j->tool_key, rid);
		} else if (!res) {
			/* parsed by the worker: the Result's time names it
			 * until then (lsn_done uses the ResultId) */
			char t[40];

			if (abyss_format_timestamp((double)g->result.ts_ms /
						       1000.0,
						   t, sizeof(t)) != 0)
				t[0] = '\0';
			snprintf(j->hole_id, sizeof(j->hole_id), "%s@%s",
				 j->tool_key, t);
		} else if (!j->hole_id[0]) {
			snprintf(j->hole_id, sizeof(j->hole_id), "%s#?",
				 j->tool_key);
		}
	}
	abyss_log_kv(s->log, ABYSS_LOGL_DEBUG, "hole matched", "hole",
		     j->hole_id, "heads", g->has_heads ? "yes" : "no", LSN_END);
	lsn_submit(s, j);
}

static enum abyss_mx_type lsn_mx_type(enum abyss_corr_kind k)
{
	return k == ABYSS_CORR_TRACE   ? ABYSS_MX_TRACE
	       : k == ABYSS_CORR_HEADS ? ABYSS_MX_HEADS
				       : ABYSS_MX_RESULT;
}

static void lsn_on_drop(void *ud, const struct abyss_corr_msg *m,
			enum abyss_corr_drop why)
{
	struct lsn *s = ud;
	int policy = s->cfg->mqtt.listener.duplicate_handling;

	switch (why) {
	case ABYSS_DROP_EXPIRED:
		abyss_metric_inc(s->sm.expired[lsn_mx_type(m->kind)]);
		abyss_metric_inc(s->sm.drops[ABYSS_MX_DROP_EXPIRED]);
		break;
	case ABYSS_DROP_CAPACITY:
		abyss_metric_inc(s->sm.drops[ABYSS_MX_DROP_BUFFER_FULL]);
		break;
	case ABYSS_DROP_DUPLICATE:
		abyss_metric_inc(s->sm.duplicates[policy == ABYSS_DUP_REPLACE
						      ? ABYSS_MX_DUP_REPLACE
						  : policy == ABYSS_DUP_ERROR
						      ? ABYSS_MX_DUP_ERROR
						      : ABYSS_MX_DUP_IGNORE]);
		if (policy != ABYSS_DUP_REPLACE)
			abyss_metric_inc(s->sm.drops[ABYSS_MX_DROP_DUPLICATE]);
		break;
	default:
		abyss_metric_inc(s->sm.invalid[ABYSS_MX_INVALID_PAYLOAD]);
		abyss_metric_inc(s->sm.drops[ABYSS_MX_DROP_INVALID]);
		break;
	}
	abyss_log_kv_rl(
	    s->log,
	    why == ABYSS_DROP_DUPLICATE ? ABYSS_LOGL_INFO : ABYSS_LOGL_WARN,
	    abyss_corr_drop_name(why), LSN_RL_MS, "message dropped", "reason",
	    abyss_corr_drop_name(why), "tool", m->tool_key, LSN_END);
}

/* ---- MQTT callbacks (loop thread) ------------------------------------ */

static void lsn_invalid(struct lsn *s, enum abyss_mx_invalid why,
			const char *topic, const char *detail)
{
	static const char *const names[] = {"json", "topic", "timestamp",
					    "payload", "too_big"};

	abyss_metric_inc(s->sm.invalid[why]);
	abyss_metric_inc(s->sm.drops[ABYSS_MX_DROP_INVALID]);
	abyss_log_kv_rl(s->log, ABYSS_LOGL_WARN, names[why], LSN_RL_MS,
			"invalid message dropped", "reason", names[why],
			"topic", topic, "detail", detail, LSN_END);
}

/* One message, from the broker (inbox_id 0: store it first) or replayed
 * from the inbox at start. */
static void lsn_ingest(struct lsn *s, const char *topic, const void *payload,
		       size_t len, int64_t arrival_ms, int64_t inbox_id)
{
	enum abyss_msg_kind kind = abyss_msg_classify(topic, &s->topics);
	char key[ABYSS_ID_MAX];
	struct abyss_corr_msg cm;
	struct abyss_msg_head hd;
	struct abyss_msg *m = NULL;
	struct lsn_in *w;
	struct abyss_diag d;
	char e[ABYSS_DIAG_MSG_MAX + 64];
	int rc;

	if (kind == ABYSS_MSG_UNKNOWN ||
	    (kind == ABYSS_MSG_HEADS && !s->topics.heads)) {
		lsn_invalid(s, ABYSS_MX_INVALID_TOPIC, topic,
			    "topic matches no configured suffix");
		goto forget;
	}
	if (!inbox_id)
		abyss_metric_inc(
		    s->sm
			.received[kind == ABYSS_MSG_TRACE   ? ABYSS_MX_TRACE
				  : kind == ABYSS_MSG_HEADS ? ABYSS_MX_HEADS
							    : ABYSS_MX_RESULT]);
	if (abyss_msg_tool_key(topic, key, sizeof(key)) != 0) {
		lsn_invalid(s, ABYSS_MX_INVALID_TOPIC, topic,
			    "no toolbox/tool levels");
		goto forget;
	}
	/* Another shard's tool: not ours to decode. */
	if (abyss_corr_shard_of(key, (uint32_t)s->cfg->abyss.shard.count) !=
	    (uint32_t)s->cfg->abyss.shard.index)
		goto forget;
	if (len > s->msg_lim.max_payload_bytes) {
		lsn_invalid(s, ABYSS_MX_INVALID_TOO_BIG, topic,
			    "over abyss.limits.max_message_bytes");
		goto forget;
	}
	/* Usually the loop thread only checks the message and reads its
	 * head; the worker builds the tree (lsn_in_parse). */
	if (abyss_msg_peek(topic, payload, len, &s->msg_lim, &hd) == 0) {
		w = calloc(1, sizeof(*w));
		if (w) {
			w->raw = malloc(len ? len : 1);
			w->topic = strdup(topic);
		}
		if (!w || !w->raw || !w->topic ||
		    abyss_corr_msg_from_head(&hd, len, &cm) != 0) {
			if (w) {
				free(w->raw);
				free(w->topic);
			}
			free(w);
			lsn_invalid(s, ABYSS_MX_INVALID_TIMESTAMP, topic,
				    "unusable time or tool key (or out of "
				    "memory)");
			goto forget;
		}
		memcpy(w->raw, payload, len);
		w->raw_len = len;
		w->kind = hd.kind;
		cm.raw = w->raw;
		cm.raw_len = len;
		goto store;
	}
	abyss_diag_init(&d);
	rc = abyss_msg_parse(topic, payload, len, &s->msg_lim, &m, &d);
	if (rc) {
		abyss_diag_format(&d, e, sizeof(e));
		lsn_invalid(s,
			    rc == ABYSS_EJSON	  ? ABYSS_MX_INVALID_JSON
			    : rc == ABYSS_EPARSE  ? ABYSS_MX_INVALID_TIMESTAMP
			    : rc == ABYSS_ETOOBIG ? ABYSS_MX_INVALID_TOO_BIG
						  : ABYSS_MX_INVALID_PAYLOAD,
			    topic, e);
		goto forget;
	}
	w = calloc(1, sizeof(*w));
	if (!w || abyss_corr_msg_from_msg(m, len, &cm) != 0) {
		free(w);
		abyss_msg_free(m);
		lsn_invalid(s, ABYSS_MX_INVALID_TIMESTAMP, topic,
			    "unusable time or tool key (or out of memory)");
		goto forget;
	}
	w->m = m;
	w->kind = m->kind;
store:
	if (!inbox_id &&
	    lsn_inbox_add(s->inbox, topic, payload, len, &inbox_id) != 0) {
		inbox_id = 0;
		abyss_log_kv_rl(s->log, ABYSS_LOGL_ERROR, "inbox", LSN_RL_MS,
				"inbox write failed: this message would not "
				"survive a crash",
				"topic", topic, LSN_END);
	}
	w->s = s;
	w->inbox_id = inbox_id;
	cm.payload = w;
	cm.free_fn = lsn_in_free;
	rc = abyss_corr_push(s->corr, &cm, arrival_ms);
	if (rc == ABYSS_EDUPLICATE)
		abyss_log_kv(s->log, ABYSS_LOGL_ERROR,
			     "duplicate message (policy error)", "topic", topic,
			     LSN_END);
	return;
forget:
	lsn_inbox_del(s->inbox, inbox_id);
}

static void lsn_on_message(void *ud, const struct mq_message *msg)
{
	lsn_ingest(ud, msg->topic, msg->payload, msg->len, msg->arrival_ms, 0);
}

static int lsn_replay_cb(void *ud, int64_t id, const char *topic,
			 const void *payload, size_t len)
{
	struct lsn *s = ud;

	lsn_ingest(s, topic, payload, len, lsn_mono_ms(), id);
	return 0;
}

static void lsn_on_connect(void *ud, bool session_present)
{
	struct lsn *s = ud;

	atomic_store(&s->connected, 1);
	abyss_log_kv(s->log, ABYSS_LOGL_INFO, "connected to broker",
		     "session_present", session_present ? "true" : "false",
		     LSN_END);
	s->need_flush = 1; /* after this turn's commit */
}

static void lsn_on_disconnect(void *ud, int rc, const char *why,
			      int64_t retry_in_ms)
{
	struct lsn *s = ud;
	char retry[24];

	atomic_store(&s->connected, 0);
	atomic_store(&s->subscribed, 0);
	abyss_metric_set(s->sm.mqtt_connected, 0);
	snprintf(retry, sizeof(retry), "%lld", (long long)retry_in_ms);
	abyss_log_kv(s->log, rc ? ABYSS_LOGL_WARN : ABYSS_LOGL_INFO,
		     "broker connection ended", "why", why ? why : "",
		     "retry_in_ms", retry, LSN_END);
}

static void lsn_on_subscribe(void *ud, int rc, int granted_qos)
{
	struct lsn *s = ud;
	char q[8];

	snprintf(q, sizeof(q), "%d", granted_qos);
	if (rc) {
		abyss_log_kv(s->log, ABYSS_LOGL_ERROR,
			     "broker refused a subscription", LSN_END);
		return;
	}
	atomic_store(&s->subscribed, 1);
	abyss_metric_set(s->sm.mqtt_connected, 1);
	abyss_log_kv(s->log, ABYSS_LOGL_INFO, "subscribed", "granted_qos", q,
		     LSN_END);
	if (!s->ever_ready) {
		s->ever_ready = 1;
		abyss_notify_ready(&s->notify);
		abyss_notify_status(&s->notify, "listening");
	}
}

static void lsn_on_publish(void *ud, int mid, int rc)
{
	struct lsn *s = ud;

	if (rc)
		abyss_log_kv_rl(s->log, ABYSS_LOGL_ERROR, "pub-refused",
				LSN_RL_MS, "broker refused a publish", LSN_END);
	if (abyss_spool_ack(s->spool, mid) == ABYSS_ENOTFOUND &&
	    s->in_publish && s->n_early < LSN_EARLY_ACK_MAX)
		s->early_acks[s->n_early++] = mid;
	else if (!s->in_publish)
		s->acked = 1;
}

/* ---- HTTP callbacks (HTTP thread: atomics only) ---------------------- */

static int lsn_ready(void *ctx, char *reason, size_t cap)
{
	struct lsn *s = ctx;

	if (!atomic_load(&s->connected)) {
		snprintf(reason, cap, "not connected to the broker");
		return 0;
	}
	if (!atomic_load(&s->subscribed)) {
		snprintf(reason, cap, "not subscribed yet");
		return 0;
	}
	return 1;
}

static void lsn_scrape(void *ctx)
{
	struct lsn *s = ctx;

	abyss_service_metrics_sample_memory(&s->sm);
}

static json_t *lsn_status(void *ctx)
{
	struct lsn *s = ctx;

	return json_pack(
	    "{s:s, s:b, s:b, s:I, s:I, s:f, s:f}", "version", abyss_version(),
	    "connected", atomic_load(&s->connected), "subscribed",
	    atomic_load(&s->subscribed), "holes_done",
	    (json_int_t)atomic_load(&s->holes_done), "spool_entries",
	    (json_int_t)atomic_load(&s->spool_entries), "queue_depth",
	    abyss_metric_value(s->sm.queue_depth), "messages_received",
	    abyss_metric_value(s->sm.received[ABYSS_MX_RESULT]) +
		abyss_metric_value(s->sm.received[ABYSS_MX_TRACE]) +
		abyss_metric_value(s->sm.received[ABYSS_MX_HEADS]));
}

/* ---- reload (SIGHUP) -------------------------------------------------- */

static void lsn_reload(struct lsn *s)
{
	struct abyss_config_changes ch;
	struct abyss_config *nc = NULL;
	struct abyss_corr_config cc;
	struct abyss_diag d;
	char e[ABYSS_DIAG_MSG_MAX + 64];
	size_t i;
	int rc;

	abyss_notify_reloading(&s->notify);
	abyss_diag_init(&d);
	rc = abyss_config_load(s->cfg_path, &nc, &d, NULL);
	if (rc) {
		abyss_diag_format(&d, e, sizeof(e));
		abyss_log_kv(s->log, ABYSS_LOGL_ERROR,
			     "reload failed: configuration unchanged", "error",
			     e, LSN_END);
		abyss_notify_ready(&s->notify);
		return;
	}
	if (nc->abyss.estimator.method == ABYSS_METHOD_ML &&
	    (!s->model ||
	     strcmp(nc->abyss.estimator.model, s->model_dir) != 0)) {
		/* Loading a network on the loop thread would stall it, and
		 * jobs in flight hold the old one: a model change waits for
		 * a restart. */
		abyss_log_kv(s->log, ABYSS_LOGL_WARN,
			     "changed, needs a restart", "key",
			     "abyss.estimator.model", LSN_END);
		nc->abyss.estimator = s->cfg->abyss.estimator;
	}
	rc = abyss_config_compare(s->cfg, nc, &ch);
	for (i = 0; i < ch.nrestart; i++)
		abyss_log_kv(s->log, ABYSS_LOGL_WARN,
			     "changed, needs a restart", "key", ch.restart[i],
			     LSN_END);
	for (i = 0; i < ch.nhot; i++)
		abyss_log_kv(s->log, ABYSS_LOGL_INFO, "applied", "key",
			     ch.hot[i], LSN_END);
	/* The hot keys, section by section (restart keys stay as they are;
	 * the borrowed topic strings live in sections that do not move). */
	s->cfg->mqtt.listener.duplicate_handling =
	    nc->mqtt.listener.duplicate_handling;
	s->cfg->mqtt.listener.duplicate_time_window =
	    nc->mqtt.listener.duplicate_time_window;
	s->cfg->mqtt.listener.time_window = nc->mqtt.listener.time_window;
	s->cfg->mqtt.listener.cleanup_interval =
	    nc->mqtt.listener.cleanup_interval;
	s->cfg->mqtt.listener.max_buffer_size =
	    nc->mqtt.listener.max_buffer_size;
	s->cfg->mqtt.data_ids = nc->mqtt.data_ids;
	s->cfg->mqtt.estimation = nc->mqtt.estimation;
	s->cfg->mqtt.publisher = nc->mqtt.publisher;
	s->cfg->abyss.estimator = nc->abyss.estimator;
	s->cfg->abyss.correlator = nc->abyss.correlator;
	s->cfg->abyss.limits = nc->abyss.limits;
	s->cfg->abyss.logging.level = nc->abyss.logging.level;
	s->cfg->abyss.mqtt.publish_qos = nc->abyss.mqtt.publish_qos;
	if (!s->cli_level)
		abyss_log_set_level(s->log, s->cfg->abyss.logging.level);
	if (nc->abyss.logging.format != s->cfg->abyss.logging.format)
		abyss_log_kv(s->log, ABYSS_LOGL_WARN,
			     "changed, needs a restart", "key",
			     "abyss.logging.format", LSN_END);
	if (nc->abyss.spool.dedupe_ttl != s->cfg->abyss.spool.dedupe_ttl)
		abyss_log_kv(s->log, ABYSS_LOGL_WARN,
			     "changed, needs a restart", "key",
			     "abyss.spool.dedupe_ttl", LSN_END);
	s->msg_lim = abyss_config_msg_limits(s->cfg, &s->topics);
	abyss_config_to_corr(s->cfg, &cc);
	if (abyss_corr_reconfigure(s->corr, &cc) != 0)
		abyss_log_kv(s->log, ABYSS_LOGL_ERROR,
			     "correlator settings refused; kept the old ones",
			     LSN_END);
	abyss_config_free(nc);
	abyss_log_kv(s->log, ABYSS_LOGL_INFO, "configuration reloaded",
		     "result", rc == 0 ? "unchanged" : "applied", LSN_END);
	abyss_notify_ready(&s->notify);
}

/* ---- startup and shutdown -------------------------------------------- */

static int lsn_fail(struct abyss_diag *diag, int rc, const char *what,
		    const char *detail)
{
	return abyss_diag_set(diag, rc, 0, 0, "%s: %s", what,
			      detail && *detail ? detail : abyss_strerror(rc));
}

static int lsn_open(struct lsn *s, const struct abyss_listen_opts *o,
		    struct abyss_diag *diag)
{
	struct abyss_log_opts lo = {0};
	struct abyss_spool_limits sl;
	struct abyss_corr_config cc;
	struct abyss_pool_opts po = {0};
	struct abyss_pool_ops ops = {lsn_run, lsn_done, lsn_free_job,
				     lsn_free_result, lsn_stuck};
	struct abyss_http_callbacks hc = {0};
	struct mq_callbacks mc = {lsn_on_connect, lsn_on_disconnect,
				  lsn_on_subscribe, lsn_on_message,
				  lsn_on_publish};
	struct mq_opts mo;
	char idbuf[ABYSS_CONFIG_NAME_MAX + 64], host[256] = "";
	char pat[3][ABYSS_CONFIG_KEY_MAX * 2 + 8];
	const char *pats[3];
	char eb[MQ_ERRMSG_MAX];
	size_t npat = 0;
	int rc;

	rc = abyss_config_load(o->config_path, &s->cfg, diag, NULL);
	if (rc)
		return rc;
	if (s->cfg->abyss.estimator.method == ABYSS_METHOD_ML) {
		/* the reference statistics: <model>/ref_15T.csv */
		rc = abyss_ml_model_load(s->cfg->abyss.estimator.model, NULL, 0,
					 &s->model, diag);
		if (rc) {
			char m[ABYSS_DIAG_MSG_MAX];

			snprintf(m, sizeof(m), "%s", diag ? diag->msg : "");
			return abyss_diag_set(diag, rc, 0, 0,
					      "abyss.estimator.model %s: %s",
					      s->cfg->abyss.estimator.model,
					      m[0] ? m : abyss_strerror(rc));
		}
		snprintf(s->model_dir, sizeof(s->model_dir), "%s",
			 s->cfg->abyss.estimator.model);
	}
	s->cfg_path = o->config_path;
	s->cli_level = o->log_level;
	lo.fd = o->log_fd >= 0 ? o->log_fd : STDERR_FILENO;
	lo.format = s->cfg->abyss.logging.format;
	lo.level = o->log_level ? o->log_level : s->cfg->abyss.logging.level;
	rc = abyss_log_new(&lo, &s->log);
	if (rc)
		return lsn_fail(diag, rc, "logger", NULL);
	abyss_negdepth_init(&s->neg);
	s->topics = abyss_config_topics(s->cfg);
	s->msg_lim = abyss_config_msg_limits(s->cfg, &s->topics);

	rc = abyss_metrics_new(NULL, &s->reg);
	if (!rc)
		rc = abyss_service_metrics_init(
		    s->reg, &s->sm, (double)lsn_wall_ms() / 1e3, diag);
	if (rc)
		return rc;

	abyss_config_to_spool(s->cfg, &sl);
	rc = abyss_spool_open(s->cfg->abyss.spool.path, &sl, &s->spool, diag);
	if (rc)
		return rc;
	lsn_update_spool_gauge(s);
	if (atomic_load(&s->spool_entries) > 0) {
		char n[24];

		snprintf(n, sizeof(n), "%lld",
			 (long long)atomic_load(&s->spool_entries));
		abyss_log_kv(s->log, ABYSS_LOGL_INFO,
			     "spool: messages from a previous run will be "
			     "published first",
			     "messages", n, LSN_END);
	}

	abyss_config_to_corr(s->cfg, &cc);
	rc = abyss_corr_new(&cc, lsn_on_match, lsn_on_drop, s, &s->corr);
	if (rc)
		return lsn_fail(diag, rc, "correlator", NULL);

	po.nworkers = (unsigned)s->cfg->abyss.workers.count;
	po.queue_cap = (size_t)s->cfg->abyss.workers.queue;
	po.deadline_ms = LSN_WATCHDOG_MS;
	po.max_retries = 0;
	s->backlog_max = po.queue_cap;
	rc = abyss_pool_new(&po, &ops, s, &s->pool);
	if (rc)
		return lsn_fail(diag, rc, "worker pool", NULL);

	{
		char ipath[ABYSS_CONFIG_PATH_MAX + 8];
		int64_t n;

		snprintf(ipath, sizeof(ipath), "%s-inbox",
			 s->cfg->abyss.spool.path);
		rc = lsn_inbox_open(ipath, &s->inbox, diag);
		if (rc)
			return rc;
		n = lsn_inbox_count(s->inbox);
		if (n > 0) {
			char c[24];

			snprintf(c, sizeof(c), "%lld", (long long)n);
			abyss_log_kv(s->log, ABYSS_LOGL_INFO,
				     "inbox: re-reading messages received "
				     "before the last stop",
				     "messages", c, LSN_END);
			/* mq is not up yet: a full pool is waited for in
			 * the loop (the backlog), nothing is lost here. */
			lsn_inbox_foreach(s->inbox, lsn_replay_cb, s);
		}
	}

	if (s->cfg->abyss.http.listen[0]) {
		hc.ctx = s;
		hc.metrics = s->reg;
		hc.on_scrape = lsn_scrape;
		hc.ready = lsn_ready;
		hc.status = lsn_status;
		rc = abyss_http_start(s->cfg->abyss.http.listen, &hc, NULL,
				      &s->http, diag);
		if (rc)
			return rc;
	}

	gethostname(host, sizeof(host) - 1);
	rc = config__mq_opts(s->cfg, host, idbuf, sizeof(idbuf), &mo);
	if (rc)
		return lsn_fail(diag, rc, "mqtt client id", NULL);
	if (mo.max_payload < s->msg_lim.max_payload_bytes)
		mo.max_payload = (uint32_t)s->msg_lim.max_payload_bytes;
	eb[0] = 0;
	rc = mq_new(&mo, &mc, s, &s->mq, eb, sizeof(eb));
	if (rc)
		return lsn_fail(diag, rc, "mqtt", eb);
	if (abyss_config_topic_pattern(s->cfg, s->cfg->mqtt.listener.result,
				       pat[npat], sizeof(pat[0])) > 0)
		npat++;
	if (abyss_config_topic_pattern(s->cfg, s->cfg->mqtt.listener.trace,
				       pat[npat], sizeof(pat[0])) > 0)
		npat++;
	if (s->cfg->mqtt.listener.heads[0] &&
	    abyss_config_topic_pattern(s->cfg, s->cfg->mqtt.listener.heads,
				       pat[npat], sizeof(pat[0])) > 0)
		npat++;
	pats[0] = pat[0];
	pats[1] = pat[1];
	pats[2] = pat[2];
	rc = mq_subscribe(s->mq, pats, npat);
	if (rc)
		return lsn_fail(diag, rc, "mqtt subscribe", NULL);
	abyss_notify_open(&s->notify);
	{
		char port[16], shard[32];

		snprintf(port, sizeof(port), "%lld",
			 (long long)s->cfg->mqtt.broker.port);
		snprintf(shard, sizeof(shard), "%lld/%lld",
			 (long long)s->cfg->abyss.shard.index,
			 (long long)s->cfg->abyss.shard.count);
		abyss_log_kv(
		    s->log, ABYSS_LOGL_INFO, "abyss listen starting", "version",
		    abyss_version(), "broker", s->cfg->mqtt.broker.host, "port",
		    port, "client_id", mo.client_id, "estimator",
		    abyss_method_name(
			(enum abyss_method)s->cfg->abyss.estimator.method),
		    "shard", shard, "spool", s->cfg->abyss.spool.path, LSN_END);
	}
	return mq_connect(s->mq, lsn_mono_ms());
}

static void lsn_close(struct lsn *s)
{
	struct lsn_job *j;

	while ((j = s->backlog_head)) {
		s->backlog_head = j->next;
		lsn_free_job(s, j);
	}
	if (s->http)
		abyss_http_stop(s->http);
	s->keep_inbox = 1;
	if (s->pool) {
		struct abyss_pool_stats ps;

		abyss_pool_stats(s->pool, &ps);
		/* A worker still inside an abandoned estimation (shutdown
		 * deadline) keeps using the model after we return: leave it
		 * to the process exit rather than free it under the thread. */
		if (ps.abandoned > 0 || ps.held > 0)
			s->model = NULL;
	}
	abyss_pool_free(s->pool);
	mq_free(s->mq);
	abyss_corr_free(s->corr);
	lsn_inbox_close(s->inbox);
	abyss_spool_close(s->spool);
	abyss_notify_close(&s->notify);
	abyss_metrics_free(s->reg);
	abyss_log_free(s->log);
	abyss_ml_model_free(s->model);
	abyss_config_free(s->cfg);
	if (s->sfd >= 0)
		close(s->sfd);
}

/* One round of MQTT I/O for at most wait_ms. */
static void lsn_pump(struct lsn *s, int wait_ms)
{
	struct pollfd p[2];
	int64_t now = lsn_mono_ms();
	int t = mq_timeout_ms(s->mq, now);

	mq_pollfd(s->mq, &p[0]);
	p[1].fd = abyss_pool_fd(s->pool);
	p[1].events = POLLIN;
	p[1].revents = 0;
	if (t < 0 || t > wait_ms)
		t = wait_ms;
	if (poll(p, 2, t) < 0)
		p[0].revents = 0;
	mq_service(s->mq, p[0].fd >= 0 ? p[0].revents : 0, lsn_mono_ms());
	if (p[1].revents)
		abyss_pool_dispatch(s->pool);
}

/* SIGTERM/SIGINT: stop intake, finish in-flight holes, flush the spool
 * (wait for acks), disconnect. Bounded by deadline_ms overall. */
static void lsn_shutdown(struct lsn *s, int64_t budget_ms)
{
	int64_t t_end = lsn_mono_ms() + budget_ms;
	struct abyss_corr_stats cs;
	struct lsn_job *j;
	int64_t left;
	int lost;

	s->stopping = 1;
	abyss_notify_stopping(&s->notify);
	mq_pause_reading(s->mq);
	abyss_log_kv(s->log, ABYSS_LOGL_INFO,
		     "stopping: finishing in-flight holes", LSN_END);
	/* The backlog goes to the pool as room frees; half the budget. */
	while (s->backlog_head && lsn_mono_ms() < t_end - budget_ms / 2) {
		lsn_drain_backlog(s);
		if (s->backlog_head)
			lsn_pump(s, 20);
	}
	while ((j = s->backlog_head)) { /* kept in the inbox */
		s->backlog_head = j->next;
		s->backlog_n--;
		lsn_free_job(s, j);
	}
	s->backlog_tail = NULL;
	left = t_end - lsn_mono_ms() - budget_ms / 4;
	/* Pairs waiting for a Heads message go now, without it. */
	abyss_corr_tick(
	    s->corr,
	    lsn_mono_ms() +
		(int64_t)(s->cfg->abyss.correlator.heads_grace * 1000.0));
	lsn_drain_backlog(s);
	lost = abyss_pool_drain(s->pool, left > 0 ? left : 0);
	if (lost > 0) {
		char n[16];

		snprintf(n, sizeof(n), "%d", lost);
		abyss_log_kv(s->log, ABYSS_LOGL_WARN,
			     "holes abandoned at shutdown", "count", n,
			     LSN_END);
	}
	/* Flush: publish what is pending and wait for the acks. */
	for (;;) {
		struct abyss_spool_stats st;

		lsn_flush_spool(s);
		if (abyss_spool_get_stats(s->spool, &st) != 0 ||
		    st.entries == 0 || lsn_mono_ms() >= t_end - 200)
			break;
		lsn_pump(s, 20);
	}
	lsn_update_spool_gauge(s);
	abyss_corr_get_stats(s->corr, &cs);
	if (mq_disconnect(s->mq) == 0)
		while (mq_state(s->mq) == MQ_CLOSING &&
		       lsn_mono_ms() < t_end + 500)
			lsn_pump(s, 20);
	{
		char pend[24], unm[24];

		snprintf(pend, sizeof(pend), "%lld",
			 (long long)atomic_load(&s->spool_entries));
		snprintf(unm, sizeof(unm), "%zu", cs.pending_messages);
		abyss_log_kv(s->log, ABYSS_LOGL_INFO, "stopped",
			     "spool_entries_kept", pend,
			     "unmatched_messages_kept", unm, LSN_END);
	}
}

static int lsn_loop(struct lsn *s, int64_t shutdown_ms)
{
	int64_t next_tick = 0, next_slow = 0, next_dedupe = 0, now;
	struct pollfd p[4];

	for (;;) {
		int t, np;
		int64_t wdog;

		now = lsn_mono_ms();
		t = mq_timeout_ms(s->mq, now);
		if (t < 0 || t > LSN_TICK_MS)
			t = LSN_TICK_MS;
		wdog = abyss_notify_watchdog_ms(&s->notify);
		if (wdog > 0 && t > wdog)
			t = (int)wdog;
		p[0].fd = s->sfd;
		p[0].events = POLLIN;
		mq_pollfd(s->mq, &p[1]);
		p[2].fd = abyss_pool_fd(s->pool);
		p[2].events = POLLIN;
		np = 3;
		if (s->backlog_head) {
			p[3].fd = abyss_pool_space_fd(s->pool);
			p[3].events = POLLIN;
			np = 4;
		}
		for (int i = 0; i < np; i++)
			p[i].revents = 0;
		if (poll(p, (nfds_t)np, t) < 0 && errno != EINTR) {
			lsn_txn_close(s);
			return ABYSS_EIO;
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(s->sfd, &si, sizeof(si)) ==
			    (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					abyss_log_kv(s->log, ABYSS_LOGL_INFO,
						     "SIGHUP: reloading",
						     LSN_END);
					lsn_reload(s);
				} else {
					abyss_log_kv(
					    s->log, ABYSS_LOGL_INFO,
					    "signal: shutting down", "signal",
					    si.ssi_signo == SIGINT ? "SIGINT"
								   : "SIGTERM",
					    LSN_END);
					lsn_txn_close(s);
					lsn_shutdown(s, shutdown_ms);
					return 0;
				}
			}
		}
		now = lsn_mono_ms();
		lsn_txn_open(s);
		if (mq_service(s->mq, p[1].fd >= 0 ? p[1].revents : 0, now) ==
		    ABYSS_EMQTT)
			abyss_log_kv_rl(s->log, ABYSS_LOGL_CRITICAL,
					"mq-failed", 60000,
					"broker refused us for good; fix the "
					"configuration and restart",
					"why", mq_last_error(s->mq), LSN_END);
		lsn_inbox_txn_commit(s); /* 1. */
		lsn_txn_open(s);
		if (p[2].revents & POLLIN)
			abyss_pool_dispatch(s->pool);
		if (s->backlog_head)
			lsn_drain_backlog(s);
		now = lsn_mono_ms();
		if (now >= next_tick) {
			abyss_corr_tick(s->corr, now);
			next_tick = now + LSN_TICK_MS;
		}
		lsn_spool_txn_commit(s); /* 2. */
		lsn_txn_open(s);
		if (s->acked || s->need_flush) { /* 3. */
			s->acked = 0;
			lsn_flush_spool(s);
			/* the gauge follows every ack, not only the 1 s tick */
			lsn_update_spool_gauge(s);
		}
		if (now >= next_slow) {
			struct abyss_pool_stats ps;
			struct mq_stats ms;

			lsn_flush_spool(s);
			lsn_update_spool_gauge(s);
			abyss_pool_stats(s->pool, &ps);
			abyss_metric_set(s->sm.queue_depth,
					 (double)(ps.held + s->backlog_n));
			lsn_memory_check(s);
			mq_get_stats(s->mq, &ms);
			if (ms.connects > 1 &&
			    ms.connects - 1 > s->last_reconnects) {
				abyss_metric_add(s->sm.mqtt_reconnects,
						 ms.connects - 1 -
						     s->last_reconnects);
				s->last_reconnects = ms.connects - 1;
			}
			next_slow = now + LSN_SLOW_MS;
		}
		if (now >= next_dedupe) {
			abyss_spool_dedupe_expire(s->spool, lsn_wall_ms());
			next_dedupe = now + LSN_DEDUPE_MS;
		}
		abyss_notify_watchdog(&s->notify, now);
	}
}

int abyss_listen_run(const struct abyss_listen_opts *o, struct abyss_diag *diag)
{
	struct lsn *s;
	sigset_t set;
	int rc;

	if (!o || !o->config_path)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "no configuration file");
	s = calloc(1, sizeof(*s));
	if (!s)
		return ABYSS_ENOMEM;
	s->sfd = -1;
	s->notify.fd = -1;
	/* Before any thread starts: they all inherit the blocked mask, so
	 * only the signalfd sees these signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sfd < 0) {
		rc = abyss_diag_set(diag, ABYSS_EIO, 0, 0, "signalfd: %s",
				    strerror(errno));
		goto out;
	}
	rc = lsn_open(s, o, diag);
	if (rc == 0)
		rc = lsn_loop(
		    s, (int64_t)((o->shutdown_s > 0 ? o->shutdown_s
						    : LSN_DEF_SHUTDOWN_S) *
				 1000.0));
	else if (s->log) {
		char e[ABYSS_DIAG_MSG_MAX + 64];

		abyss_diag_format(diag, e, sizeof(e));
		abyss_log_kv(s->log, ABYSS_LOGL_CRITICAL, "startup failed",
			     "error", e, LSN_END);
	}
out:
	lsn_close(s);
	free(s);
	return rc;
}

int abyss_listen_check_config(const char *path, FILE *out)
{
	struct abyss_config_warnings w;
	struct abyss_config *cfg = NULL;
	struct abyss_diag d;
	char e[ABYSS_DIAG_MSG_MAX + ABYSS_DIAG_FILE_MAX + 64];
	size_t i;
	int rc;

	abyss_diag_init(&d);
	memset(&w, 0, sizeof(w));
	rc = abyss_config_load(path, &cfg, &d, &w);
	for (i = 0; i < w.count; i++)
		fprintf(out, "%s:%zu:%zu: warning: %s: %s\n", path, w.w[i].line,
			w.w[i].col, w.w[i].key, w.w[i].msg);
	if (w.dropped)
		fprintf(out, "%s: %zu more warnings not shown\n", path,
			w.dropped);
	if (rc) {
		if (!d.file[0])
			abyss_diag_set_file(&d, path);
		fprintf(out, "%s\n", abyss_diag_format(&d, e, sizeof(e)));
		return 1;
	}
	if (cfg->abyss.estimator.method == ABYSS_METHOD_ML) {
		struct abyss_ml_model *mm = NULL;

		abyss_diag_init(&d);
		rc = abyss_ml_model_load(cfg->abyss.estimator.model, NULL, 0,
					 &mm, &d);
		abyss_ml_model_free(mm);
		if (rc) {
			fprintf(out,
				"%s: error: abyss.estimator.model %s: %s\n",
				path, cfg->abyss.estimator.model,
				abyss_diag_format(&d, e, sizeof(e)));
			abyss_config_free(cfg);
			return 1;
		}
	}
	fprintf(out, "%s: ok\n", path);
	abyss_config_free(cfg);
	return 0;
}
