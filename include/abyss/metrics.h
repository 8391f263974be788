/*
 * abyss/metrics.h - a small Prometheus metrics registry, and the fixed set of
 * metrics the service (`abyss listen`) exports.
 *
 * A registry holds metric families (counters, gauges, histograms), each with
 * at most one label, and the series of each family (one per label value).
 * All memory is taken once by abyss_metrics_new(); registering a series only
 * claims slots of that memory, and updating one is a few C11 atomic
 * operations: no lock, no allocation, safe from any number of threads.
 * Rendering writes the Prometheus text exposition format 0.0.4 into a buffer
 * the caller owns. Update functions accept NULL (and do nothing), so code
 * paths can run with metrics switched off.
 *
 * docs/metrics.md lists every service metric and its meaning.
 */
#ifndef ABYSS_METRICS_H
#define ABYSS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "abyss/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum abyss_metric_type {
	ABYSS_METRIC_COUNTER = 0,
	ABYSS_METRIC_GAUGE = 1,
	ABYSS_METRIC_HISTOGRAM = 2
};

/* Lengths, including the terminating NUL. Longer strings are rejected. */
#define ABYSS_METRICS_NAME_MAX	 96
#define ABYSS_METRICS_HELP_MAX	 256
#define ABYSS_METRICS_LVALUE_MAX 64
/* Most buckets one histogram may have (finite upper bounds; +Inf is extra). */
#define ABYSS_METRICS_BUCKETS_MAX 32

struct abyss_metrics; /* the registry (opaque) */
struct abyss_metric;  /* one series: a family plus one label value (opaque) */

/* Capacity of a registry; a zero field takes the default in brackets. */
struct abyss_metrics_limits {
	size_t max_families; /* metric names [64] */
	size_t max_series;   /* series over all families [512] */
	size_t max_buckets;  /* histogram buckets over all series [2048] */
};

/* Creates an empty registry sized by lim (NULL: defaults) and stores it in
 * *out. All memory the registry will ever use is allocated here.
 * Errors: ABYSS_EINVAL (out NULL), ABYSS_ENOMEM. Free with abyss_metrics_free.
 */
int abyss_metrics_new(const struct abyss_metrics_limits *lim,
		      struct abyss_metrics **out);

/* Frees the registry and every series handle taken from it. NULL is ignored.
 * No other thread may use the registry or its handles any more. */
void abyss_metrics_free(struct abyss_metrics *r);

/* Registers one series and returns its handle in *out (owned by r).
 *
 * name: the family name, [a-zA-Z_:][a-zA-Z0-9_:]*, < ABYSS_METRICS_NAME_MAX.
 * help: one line of text (a newline or backslash is escaped on output).
 * label: NULL for an unlabelled family, else a label name
 *        [a-zA-Z_][a-zA-Z0-9_]* not starting with "__" ("le" is refused for
 *        histograms); value: its value for this series (any UTF-8 text,
 *        escaped on output), required when label is set.
 * bounds, nbounds (histograms only): strictly increasing, finite upper
 *        bounds, 1..ABYSS_METRICS_BUCKETS_MAX of them; +Inf is implied.
 *
 * The first registration of a name creates the family; later ones add a
 * series and must repeat the same type, help, label name and bounds (else
 * ABYSS_EINVAL). Registering a series twice is ABYSS_EDUPLICATE. A registry
 * that is full gives ABYSS_EFULL. Families are rendered in the order of their
 * first registration, series in their order of registration.
 * Registration is serialised by a mutex and may run while other threads
 * update or render. diag (may be NULL) receives the reason for a refusal.
 */
int abyss_metrics_counter(struct abyss_metrics *r, const char *name,
			  const char *help, const char *label,
			  const char *value, struct abyss_metric **out,
			  struct abyss_diag *diag);
int abyss_metrics_gauge(struct abyss_metrics *r, const char *name,
			const char *help, const char *label, const char *value,
			struct abyss_metric **out, struct abyss_diag *diag);
int abyss_metrics_histogram(struct abyss_metrics *r, const char *name,
			    const char *help, const char *label,
			    const char *value, const double *bounds,
			    size_t nbounds, struct abyss_metric **out,
			    struct abyss_diag *diag);

/* Updates. Lock-free and allocation-free; m may be NULL (no-op). A call on
 * the wrong type of series does nothing (a counter never goes down, a gauge
 * never becomes a histogram). */
void abyss_metric_inc(struct abyss_metric *m);		   /* counter += 1 */
void abyss_metric_add(struct abyss_metric *m, uint64_t n); /* counter += n */
void abyss_metric_set(struct abyss_metric *m, double v);   /* gauge = v */
void abyss_metric_gauge_add(struct abyss_metric *m, double d); /* gauge += d */
/* Records one observation: the bucket with the smallest upper bound >= v
 * (upper bounds are inclusive, as in Prometheus), the sum and the count. NaN
 * is ignored. */
void abyss_metric_observe(struct abyss_metric *m, double v);

/* Reads, for tests and for /api/status. A counter reads as its count, a
 * gauge as its value, a histogram as its observation count; NULL reads 0. */
double abyss_metric_value(const struct abyss_metric *m);
/* Histogram only (else 0): the sum of observations, and the number of
 * observations in bucket i alone (not cumulative; i == nbounds is the
 * (last bound, +Inf) bucket). */
double abyss_metric_hist_sum(const struct abyss_metric *m);
uint64_t abyss_metric_hist_bucket(const struct abyss_metric *m, size_t i);

/* Looks a series up by name and label value (NULL for unlabelled). Returns
 * NULL when absent. Takes the registration mutex: not for hot paths. */
struct abyss_metric *abyss_metrics_find(struct abyss_metrics *r,
					const char *name, const char *value);

/* Renders every series in the Prometheus text format 0.0.4 (# HELP and
 * # TYPE lines, histogram _bucket{le=...}/_sum/_count lines) into buf of
 * size cap, NUL-terminated. *len (may be NULL) receives the text length
 * without the NUL. Returns 0, or ABYSS_ETOOBIG when cap is too small (buf
 * then holds a truncated, NUL-terminated prefix that must not be served),
 * or ABYSS_EINVAL. Values are read atomically one by one; a histogram's
 * _count is the sum of its buckets as read, so it always equals +Inf. */
int abyss_metrics_render(struct abyss_metrics *r, char *buf, size_t cap,
			 size_t *len);

/* ---- the service's metrics ------------------------------------------- */

/* Label values; each enum indexes the matching array below. */
enum abyss_mx_type { /* message type: label type="result|trace|heads" */
		     ABYSS_MX_RESULT,
		     ABYSS_MX_TRACE,
		     ABYSS_MX_HEADS,
		     ABYSS_MX_TYPE_N
};
enum abyss_mx_invalid { /* reason="json|topic|timestamp|payload|too_big" */
			ABYSS_MX_INVALID_JSON,
			ABYSS_MX_INVALID_TOPIC,
			ABYSS_MX_INVALID_TIMESTAMP,
			ABYSS_MX_INVALID_PAYLOAD,
			ABYSS_MX_INVALID_TOO_BIG,
			ABYSS_MX_INVALID_N
};
enum abyss_mx_dup { /* policy="ignore|replace|error" */
		    ABYSS_MX_DUP_IGNORE,
		    ABYSS_MX_DUP_REPLACE,
		    ABYSS_MX_DUP_ERROR,
		    ABYSS_MX_DUP_N
};
enum abyss_mx_drop { /* reason="invalid|duplicate|expired|buffer_full|
			queue_full|spool_full|shutdown" */
		     ABYSS_MX_DROP_INVALID,
		     ABYSS_MX_DROP_DUPLICATE,
		     ABYSS_MX_DROP_EXPIRED,
		     ABYSS_MX_DROP_BUFFER_FULL,
		     ABYSS_MX_DROP_QUEUE_FULL,
		     ABYSS_MX_DROP_SPOOL_FULL,
		     ABYSS_MX_DROP_SHUTDOWN,
		     ABYSS_MX_DROP_N
};
enum abyss_mx_result { /* result="success|error|insufficient|negative" */
		       ABYSS_MX_PUB_SUCCESS,
		       ABYSS_MX_PUB_ERROR,
		       ABYSS_MX_PUB_INSUFFICIENT,
		       ABYSS_MX_PUB_NEGATIVE,
		       ABYSS_MX_RESULT_N
};

/* Handles to every service metric, all registered by
 * abyss_service_metrics_init(); the daemon updates them directly, e.g.
 * abyss_metric_inc(sm->received[ABYSS_MX_TRACE]). Every series exists from
 * the start (at 0), so dashboards and rate() see it before the first event.
 */
struct abyss_service_metrics {
	struct abyss_metric *received[ABYSS_MX_TYPE_N];
	struct abyss_metric *invalid[ABYSS_MX_INVALID_N];
	struct abyss_metric *holes_matched;
	struct abyss_metric *expired[ABYSS_MX_TYPE_N];
	struct abyss_metric *duplicates[ABYSS_MX_DUP_N];
	struct abyss_metric *drops[ABYSS_MX_DROP_N];
	struct abyss_metric *queue_depth;
	struct abyss_metric *spool_depth;
	struct abyss_metric *estimation_seconds;
	struct abyss_metric *publish_seconds;
	struct abyss_metric *end_to_end_seconds;
	struct abyss_metric *mqtt_reconnects;
	struct abyss_metric *mqtt_connected;
	struct abyss_metric *published[ABYSS_MX_RESULT_N];
	struct abyss_metric *worker_stuck;
	struct abyss_metric *memory_bytes;
	struct abyss_metric *build_info;
	struct abyss_metric *start_time;
};

/* The latency buckets of the service histograms, in seconds:
 * 0.0005 0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10. */
extern const double abyss_latency_buckets[];
extern const size_t abyss_latency_nbuckets;

/* Registers the whole service table in r and fills *sm. build_info is set
 * to 1 with label version=ABYSS_VERSION, start_time to start_unix_s (seconds
 * since the epoch; the caller passes the clock so tests are reproducible).
 * r must have room for them (the default limits do). Errors: those of the
 * registration functions; on error *sm is left partly filled. */
int abyss_service_metrics_init(struct abyss_metrics *r,
			       struct abyss_service_metrics *sm,
			       double start_unix_s, struct abyss_diag *diag);

/* Sets sm->memory_bytes to the resident set size of this process, read from
 * /proc/self/statm (Linux). Meant for the HTTP server's on_scrape hook.
 * Returns 0, or ABYSS_EIO when /proc cannot be read (the gauge is then left
 * as it was) or ABYSS_EINVAL for NULL. */
int abyss_service_metrics_sample_memory(struct abyss_service_metrics *sm);

#ifdef __cplusplus
}
#endif
#endif
