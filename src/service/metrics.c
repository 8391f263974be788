/*
 * metrics.c - the metrics registry: fixed-capacity families and series,
 * lock-free updates with C11 atomics, Prometheus text rendering (0.0.4), and
 * the table of the service's metrics (docs/metrics.md).
 *
 * It deliberately has no HTTP, no clock and no background thread: the HTTP
 * server (src/http/) renders it on a scrape, and the daemon updates it (the
 * one sampler here, of resident memory, runs when the daemon asks).
 * Registration takes a mutex and only claims preallocated slots; updates
 * never lock or allocate. Gauges and histogram sums are doubles kept as their
 * bit patterns in atomic 64-bit words (compare-and-swap to add).
 */
#include "abyss/metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abyss/version.h"

/* abyss_diag_set() returns its code; repeating the (constant) code here lets
 * the static analyzer see that an error path never returns 0. */
#define DIAG_FAIL(d, code, line, col, ...)                                     \
	(abyss_diag_set((d), (code), (line), (col), __VA_ARGS__), (code))

struct metrics__family {
	char name[ABYSS_METRICS_NAME_MAX];
	char help[ABYSS_METRICS_HELP_MAX];
	char label[ABYSS_METRICS_NAME_MAX]; /* "" when unlabelled */
	enum abyss_metric_type type;
	const double *bounds; /* histograms: nbounds finite upper bounds */
	size_t nbounds;
	struct abyss_metric *first; /* series in registration order */
	struct abyss_metric *last;
};

struct abyss_metric {
	/* Copies of the family's type and bounds, so that updates touch one
	 * cache line less. */
	enum abyss_metric_type type;
	const double *bounds;
	size_t nbounds;
	_Atomic uint64_t v;	   /* counter: count; gauge: double bits */
	_Atomic uint64_t sum;	   /* histogram: double bits of the sum */
	_Atomic uint64_t *buckets; /* histogram: nbounds + 1 counts */
	struct metrics__family *fam;
	struct abyss_metric *next;
	char value[ABYSS_METRICS_LVALUE_MAX];
};

struct abyss_metrics {
	pthread_mutex_t mu; /* registration and rendering */
	struct metrics__family *fam;
	size_t nfam, maxfam;
	struct abyss_metric *ser;
	size_t nser, maxser;
	_Atomic uint64_t *buckets; /* pool of histogram bucket counts */
	size_t nbuck, maxbuck;
	double *bounds; /* pool of histogram upper bounds (per family) */
	size_t nbound;
};

static uint64_t d2bits(double d)
{
	uint64_t b;

	memcpy(&b, &d, sizeof(b));
	return b;
}

static double bits2d(uint64_t b)
{
	double d;

	memcpy(&d, &b, sizeof(d));
	return d;
}

int abyss_metrics_new(const struct abyss_metrics_limits *lim,
		      struct abyss_metrics **out)
{
	struct abyss_metrics *r;
	size_t i;

	if (!out)
		return ABYSS_EINVAL;
	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ABYSS_ENOMEM;
	r->maxfam = lim && lim->max_families ? lim->max_families : 64;
	r->maxser = lim && lim->max_series ? lim->max_series : 512;
	r->maxbuck = lim && lim->max_buckets ? lim->max_buckets : 2048;
	r->fam = calloc(r->maxfam, sizeof(*r->fam));
	r->ser = calloc(r->maxser, sizeof(*r->ser));
	r->buckets = calloc(r->maxbuck, sizeof(*r->buckets));
	/* A family's bounds are one bucket fewer than its first series
	 * buckets, so the bucket limit also bounds the bounds pool. */
	r->bounds = calloc(r->maxbuck, sizeof(*r->bounds));
	if (!r->fam || !r->ser || !r->buckets || !r->bounds ||
	    pthread_mutex_init(&r->mu, NULL) != 0) {
		free(r->fam);
		free(r->ser);
		free(r->buckets);
		free(r->bounds);
		free(r);
		return ABYSS_ENOMEM;
	}
	for (i = 0; i < r->maxbuck; i++)
		atomic_init(&r->buckets[i], 0);
	*out = r;
	return 0;
}

void abyss_metrics_free(struct abyss_metrics *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->mu);
	free(r->fam);
	free(r->ser);
	free(r->buckets);
	free(r->bounds);
	free(r);
}

/* ---- validation ---------------------------------------------------------
 */

static int valid_metric_name(const char *s)
{
	size_t i;

	if (!s || !s[0] || strlen(s) >= ABYSS_METRICS_NAME_MAX)
		return 0;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    c == '_' || c == ':';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

static int valid_label_name(const char *s)
{
	size_t i;

	if (!s || !s[0] || strlen(s) >= ABYSS_METRICS_NAME_MAX)
		return 0;
	if (s[0] == '_' && s[1] == '_') /* reserved for Prometheus itself */
		return 0;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    c == '_';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

/* 1 when `a` is `b` followed by one of the series suffixes of a histogram,
 * so that the two families' lines would be confused in the output. */
static int is_hist_suffix(const char *a, const char *b)
{
	static const char *const sfx[] = {"_bucket", "_sum", "_count"};
	size_t n = strlen(b), i;

	if (strncmp(a, b, n) != 0)
		return 0;
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++)
		if (strcmp(a + n, sfx[i]) == 0)
			return 1;
	return 0;
}

static const char *type_name(enum abyss_metric_type t)
{
	switch (t) {
	case ABYSS_METRIC_COUNTER:
		return "counter";
	case ABYSS_METRIC_GAUGE:
		return "gauge";
	case ABYSS_METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

/* ---- registration -------------------------------------------------------
 */

static struct metrics__family *find_family(struct abyss_metrics *r,
					   const char *name)
{
	size_t i;

	for (i = 0; i < r->nfam; i++)
		if (strcmp(r->fam[i].name, name) == 0)
			return &r->fam[i];
	return NULL;
}

static int check_args(enum abyss_metric_type type, const char *name,
		      const char *help, const char *label, const char *value,
		      const double *bounds, size_t nbounds,
		      struct abyss_diag *diag)
{
	size_t i;

	if (!valid_metric_name(name))
		return DIAG_FAIL(diag, ABYSS_EINVAL, 0, 0,
				 "invalid metric name \"%s\": use "
				 "[a-zA-Z_:][a-zA-Z0-9_:]*, under %d bytes",
				 name ? name : "(null)",
				 ABYSS_METRICS_NAME_MAX);
	if (help && strlen(help) >= ABYSS_METRICS_HELP_MAX)
		return DIAG_FAIL(diag, ABYSS_EINVAL, 0, 0,
				 "help text of %s is over %d bytes", name,
				 ABYSS_METRICS_HELP_MAX - 1);
	if (label) {
		if (!valid_label_name(label) ||
		    (type == ABYSS_METRIC_HISTOGRAM && !strcmp(label, "le")))
			return DIAG_FAIL(diag, ABYSS_EINVAL, 0, 0,
					 "invalid label name \"%s\" for %s",
					 label, name);
		if (!value || !value[0] ||
		    strlen(value) >= ABYSS_METRICS_LVALUE_MAX)
			return DIAG_FAIL(
			    diag, ABYSS_EINVAL, 0, 0,
			    "%s{%s}: the label value must be 1 to %d bytes",
			    name, label, ABYSS_METRICS_LVALUE_MAX - 1);
	}
	if (type != ABYSS_METRIC_HISTOGRAM)
		return 0;
	if (!bounds || nbounds == 0 || nbounds > ABYSS_METRICS_BUCKETS_MAX)
		return DIAG_FAIL(diag, ABYSS_EINVAL, 0, 0,
				 "histogram %s needs 1 to %d buckets", name,
				 ABYSS_METRICS_BUCKETS_MAX);
	for (i = 0; i < nbounds; i++) {
		if (!isfinite(bounds[i]) ||
		    (i > 0 && bounds[i] <= bounds[i - 1]))
			return DIAG_FAIL(diag, ABYSS_EINVAL, 0, 0,
					 "histogram %s: bucket bounds must "
					 "be finite and increasing (bound "
					 "%zu)",
					 name, i);
	}
	return 0;
}

/* Checks that a new registration agrees with its existing family. */
static int same_family(const struct metrics__family *f,
		       enum abyss_metric_type type, const char *help,
		       const char *label, const double *bounds, size_t nbounds,
		       struct abyss_diag *diag)
{
	if (f->type != type || strcmp(f->help, help ? help : "") != 0 ||
	    strcmp(f->label, label ? label : "") != 0)
		return DIAG_FAIL(diag, ABYSS_EINVAL, 0, 0,
				 "%s is already registered with another "
				 "type, help text or label name",
				 f->name);
	if (type == ABYSS_METRIC_HISTOGRAM &&
	    (f->nbounds != nbounds ||
	     memcmp(f->bounds, bounds, nbounds * sizeof(*bounds)) != 0))
		return DIAG_FAIL(diag, ABYSS_EINVAL, 0, 0,
				 "%s is already registered with other "
				 "buckets",
				 f->name);
	return 0;
}

static int new_family(struct abyss_metrics *r, enum abyss_metric_type type,
		      const char *name, const char *help, const char *label,
		      const double *bounds, size_t nbounds,
		      struct metrics__family **out, struct abyss_diag *diag)
{
	struct metrics__family *f;
	size_t i;

	for (i = 0; i < r->nfam; i++) {
		const struct metrics__family *e = &r->fam[i];
		if ((e->type == ABYSS_METRIC_HISTOGRAM &&
		     is_hist_suffix(name, e->name)) ||
		    (type == ABYSS_METRIC_HISTOGRAM &&
		     is_hist_suffix(e->name, name)))
			return DIAG_FAIL(diag, ABYSS_EINVAL, 0, 0,
					 "%s clashes with the series of "
					 "%s",
					 name, e->name);
	}
	if (r->nfam == r->maxfam)
		return DIAG_FAIL(diag, ABYSS_EFULL, 0, 0,
				 "metrics registry full (%zu families)",
				 r->maxfam);
	if (type == ABYSS_METRIC_HISTOGRAM && r->nbound + nbounds > r->maxbuck)
		return DIAG_FAIL(diag, ABYSS_EFULL, 0, 0,
				 "metrics registry full (%zu buckets)",
				 r->maxbuck);
	f = &r->fam[r->nfam];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->help, sizeof(f->help), "%s", help ? help : "");
	snprintf(f->label, sizeof(f->label), "%s", label ? label : "");
	f->type = type;
	if (type == ABYSS_METRIC_HISTOGRAM) {
		f->bounds = r->bounds + r->nbound;
		memcpy(r->bounds + r->nbound, bounds,
		       nbounds * sizeof(*bounds));
		f->nbounds = nbounds;
		r->nbound += nbounds;
	}
	r->nfam++;
	*out = f;
	return 0;
}

static int metrics_register(struct abyss_metrics *r,
			    enum abyss_metric_type type, const char *name,
			    const char *help, const char *label,
			    const char *value, const double *bounds,
			    size_t nbounds, struct abyss_metric **out,
			    struct abyss_diag *diag)
{
	struct metrics__family *f;
	struct abyss_metric *m, *s;
	size_t need = type == ABYSS_METRIC_HISTOGRAM ? nbounds + 1 : 0;
	int rc;

	if (out)
		*out = NULL;
	if (!r || !out)
		return DIAG_FAIL(diag, ABYSS_EINVAL, 0, 0,
				 "metrics registry or handle is NULL");
	rc = check_args(type, name, help, label, value, bounds, nbounds, diag);
	if (rc)
		return rc;
	pthread_mutex_lock(&r->mu);
	f = find_family(r, name);
	if (f) {
		rc = same_family(f, type, help, label, bounds, nbounds, diag);
		for (s = f->first; !rc && s; s = s->next)
			if (!label || (value && strcmp(s->value, value) == 0))
				rc = DIAG_FAIL(diag, ABYSS_EDUPLICATE, 0, 0,
					       "%s{%s=\"%s\"} is already "
					       "registered",
					       name, label ? label : "",
					       label ? value : "");
	}
	if (!rc && r->nser == r->maxser)
		rc = DIAG_FAIL(diag, ABYSS_EFULL, 0, 0,
			       "metrics registry full (%zu series)", r->maxser);
	if (!rc && r->nbuck + need > r->maxbuck)
		rc = DIAG_FAIL(diag, ABYSS_EFULL, 0, 0,
			       "metrics registry full (%zu buckets)",
			       r->maxbuck);
	if (!rc && !f)
		rc = new_family(r, type, name, help, label, bounds, nbounds, &f,
				diag);
	if (rc) {
		pthread_mutex_unlock(&r->mu);
		return rc;
	}
	m = &r->ser[r->nser++];
	m->type = type;
	m->fam = f;
	m->next = NULL;
	atomic_init(&m->v, type == ABYSS_METRIC_GAUGE ? d2bits(0.0) : 0);
	atomic_init(&m->sum, d2bits(0.0));
	if (type == ABYSS_METRIC_HISTOGRAM) {
		m->bounds = f->bounds;
		m->nbounds = f->nbounds;
		m->buckets = r->buckets + r->nbuck;
		r->nbuck += need;
	}
	snprintf(m->value, sizeof(m->value), "%s", label ? value : "");
	if (f->last)
		f->last->next = m;
	else
		f->first = m;
	f->last = m;
	pthread_mutex_unlock(&r->mu);
	*out = m;
	return 0;
}

int abyss_metrics_counter(struct abyss_metrics *r, const char *name,
			  const char *help, const char *label,
			  const char *value, struct abyss_metric **out,
			  struct abyss_diag *diag)
{
	return metrics_register(r, ABYSS_METRIC_COUNTER, name, help, label,
				value, NULL, 0, out, diag);
}

int abyss_metrics_gauge(struct abyss_metrics *r, const char *name,
			const char *help, const char *label, const char *value,
			struct abyss_metric **out, struct abyss_diag *diag)
{
	return metrics_register(r, ABYSS_METRIC_GAUGE, name, help, label, value,
				NULL, 0, out, diag);
}

int abyss_metrics_histogram(struct abyss_metrics *r, const char *name,
			    const char *help, const char *label,
			    const char *value, const double *bounds,
			    size_t nbounds, struct abyss_metric **out,
			    struct abyss_diag *diag)
{
	return metrics_register(r, ABYSS_METRIC_HISTOGRAM, name, help, label,
				value, bounds, nbounds, out, diag);
}

struct abyss_metric *abyss_metrics_find(struct abyss_metrics *r,
					const char *name, const char *value)
{
	struct metrics__family *f;
	struct abyss_metric *s, *found = NULL;

	if (!r || !name)
		return NULL;
	pthread_mutex_lock(&r->mu);
	f = find_family(r, name);
	for (s = f ? f->first : NULL; s && !found; s = s->next)
		if (!f->label[0] || (value && strcmp(s->value, value) == 0))
			found = s;
	pthread_mutex_unlock(&r->mu);
	return found;
}

/* ---- updates (hot path: no lock, no allocation) -------------------------
 */

static void atomic_add_double(_Atomic uint64_t *p, double d)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(
	    p, &old, d2bits(bits2d(old) + d), memory_order_relaxed,
	    memory_order_relaxed))
		;
}

void abyss_metric_inc(struct abyss_metric *m)
{
	abyss_metric_add(m, 1);
}

void abyss_metric_add(struct abyss_metric *m, uint64_t n)
{
	if (m && m->type == ABYSS_METRIC_COUNTER)
		atomic_fetch_add_explicit(&m->v, n, memory_order_relaxed);
}

void abyss_metric_set(struct abyss_metric *m, double v)
{
	if (m && m->type == ABYSS_METRIC_GAUGE)
		atomic_store_explicit(&m->v, d2bits(v), memory_order_relaxed);
}

void abyss_metric_gauge_add(struct abyss_metric *m, double d)
{
	if (m && m->type == ABYSS_METRIC_GAUGE)
		atomic_add_double(&m->v, d);
}

void abyss_metric_observe(struct abyss_metric *m, double v)
{
	size_t lo, hi;

	if (!m || m->type != ABYSS_METRIC_HISTOGRAM || isnan(v))
		return;
	/* Binary search for the first bound >= v; nbounds when none. */
	lo = 0;
	hi = m->nbounds;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->bounds[mid] >= v)
			hi = mid;
		else
			lo = mid + 1;
	}
	atomic_fetch_add_explicit(&m->buckets[lo], 1, memory_order_relaxed);
	atomic_add_double(&m->sum, v);
}

double abyss_metric_value(const struct abyss_metric *m)
{
	uint64_t n = 0;
	size_t i;

	if (!m)
		return 0.0;
	switch (m->type) {
	case ABYSS_METRIC_COUNTER:
		return (double)atomic_load_explicit(&m->v,
						    memory_order_relaxed);
	case ABYSS_METRIC_GAUGE:
		return bits2d(
		    atomic_load_explicit(&m->v, memory_order_relaxed));
	case ABYSS_METRIC_HISTOGRAM:
		for (i = 0; i <= m->nbounds; i++)
			n += atomic_load_explicit(&m->buckets[i],
						  memory_order_relaxed);
		return (double)n;
	}
	return 0.0;
}

double abyss_metric_hist_sum(const struct abyss_metric *m)
{
	if (!m || m->type != ABYSS_METRIC_HISTOGRAM)
		return 0.0;
	return bits2d(atomic_load_explicit(&m->sum, memory_order_relaxed));
}

uint64_t abyss_metric_hist_bucket(const struct abyss_metric *m, size_t i)
{
	if (!m || m->type != ABYSS_METRIC_HISTOGRAM || i > m->nbounds)
		return 0;
	return atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
}

/* ---- rendering ----------------------------------------------------------
 */

struct writer {
	char *buf;
	size_t cap; /* > 0 */
	size_t len;
	int full;
};

static void w_mem(struct writer *w, const char *s, size_t n)
{
	if (w->full)
		return;
	if (n >= w->cap - w->len) {
		w->full = 1;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void w_str(struct writer *w, const char *s)
{
	w_mem(w, s, strlen(s));
}

/* Writes s with the escapes of the exposition format: backslash and newline
 * always, the double quote inside label values. */
static void w_escaped(struct writer *w, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			w_str(w, "\\\\");
		else if (*s == '\n')
			w_str(w, "\\n");
		else if (quote && *s == '"')
			w_str(w, "\\\"");
		else
			w_mem(w, s, 1);
	}
}

/* The shortest text that reads back as the same double. Integral values up
 * to 1e15 are written as integers (byte counts, Unix times), others in plain
 * decimal when the exponent is modest, else as d.ddde+XX; Inf and NaN are
 * spelled as the exposition format wants. */
static void fmt_double(char *out, size_t n, double v)
{
	char e[40];
	int prec, exp;

	if (isnan(v)) {
		snprintf(out, n, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(out, n, "%.0f", v);
		return;
	}
	for (prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec, v);
		if (strtod(e, NULL) == v)
			break;
	}
	exp = (int)strtol(strchr(e, 'e') + 1, NULL, 10);
	if (exp > -5 && exp < 15)
		snprintf(out, n, "%.*f", prec - exp > 0 ? prec - exp : 0, v);
	else
		snprintf(out, n, "%s", e);
}

static void w_double(struct writer *w, double v)
{
	char num[40];

	fmt_double(num, sizeof(num), v);
	w_str(w, num);
}

static void w_u64(struct writer *w, uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, v);
	w_str(w, num);
}

/* name{label="value"[,le="bound"]} */
static void w_series(struct writer *w, const struct metrics__family *f,
		     const struct abyss_metric *m, const char *suffix,
		     const char *le)
{
	w_str(w, f->name);
	w_str(w, suffix);
	if (!f->label[0] && !le) {
		w_str(w, " ");
		return;
	}
	w_str(w, "{");
	if (f->label[0]) {
		w_str(w, f->label);
		w_str(w, "=\"");
		w_escaped(w, m->value, 1);
		w_str(w, le ? "\"," : "\"");
	}
	if (le) {
		w_str(w, "le=\"");
		w_str(w, le);
		w_str(w, "\"");
	}
	w_str(w, "} ");
}

static void render_histogram(struct writer *w, const struct metrics__family *f,
			     const struct abyss_metric *m)
{
	uint64_t cum = 0;
	char le[40];
	size_t i;

	for (i = 0; i <= f->nbounds; i++) {
		cum +=
		    atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
		if (i < f->nbounds)
			fmt_double(le, sizeof(le), f->bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		w_series(w, f, m, "_bucket", le);
		w_u64(w, cum);
		w_str(w, "\n");
	}
	w_series(w, f, m, "_sum", NULL);
	w_double(w,
		 bits2d(atomic_load_explicit(&m->sum, memory_order_relaxed)));
	w_str(w, "\n");
	w_series(w, f, m, "_count", NULL);
	w_u64(w, cum);
	w_str(w, "\n");
}

int abyss_metrics_render(struct abyss_metrics *r, char *buf, size_t cap,
			 size_t *len)
{
	struct writer w = {buf, cap, 0, 0};
	size_t i;

	if (len)
		*len = 0;
	if (!r || !buf || cap == 0)
		return ABYSS_EINVAL;
	buf[0] = '\0';
	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->nfam && !w.full; i++) {
		const struct metrics__family *f = &r->fam[i];
		const struct abyss_metric *m;

		if (f->help[0]) {
			w_str(&w, "# HELP ");
			w_str(&w, f->name);
			w_str(&w, " ");
			w_escaped(&w, f->help, 0);
			w_str(&w, "\n");
		}
		w_str(&w, "# TYPE ");
		w_str(&w, f->name);
		w_str(&w, " ");
		w_str(&w, type_name(f->type));
		w_str(&w, "\n");
		for (m = f->first; m; m = m->next) {
			if (f->type == ABYSS_METRIC_HISTOGRAM) {
				render_histogram(&w, f, m);
				continue;
			}
			w_series(&w, f, m, "", NULL);
			if (f->type == ABYSS_METRIC_COUNTER)
				w_u64(&w, atomic_load_explicit(
					      &m->v, memory_order_relaxed));
			else
				w_double(&w, bits2d(atomic_load_explicit(
						 &m->v, memory_order_relaxed)));
			w_str(&w, "\n");
		}
	}
	pthread_mutex_unlock(&r->mu);
	if (w.full)
		return ABYSS_ETOOBIG;
	if (len)
		*len = w.len;
	return 0;
}

/* ---- the service's metrics ----------------------------------------------
 */

const double abyss_latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
					0.025,	0.05,  0.1,    0.25,  0.5,
					1,	2.5,   5,      10};
const size_t abyss_latency_nbuckets =
    sizeof(abyss_latency_buckets) / sizeof(abyss_latency_buckets[0]);

static const char *const mx_types[] = {"result", "trace", "heads"};
static const char *const mx_invalid[] = {"json", "topic", "timestamp",
					 "payload", "too_big"};
static const char *const mx_dup[] = {"ignore", "replace", "error"};
static const char *const mx_drop[] = {"invalid",     "duplicate",  "expired",
				      "buffer_full", "queue_full", "spool_full",
				      "shutdown"};
static const char *const mx_result[] = {"success", "error", "insufficient",
					"negative"};
static const char *const mx_version[] = {ABYSS_VERSION};

#define MX_N(a)	     (sizeof(a) / sizeof((a)[0]))
#define MX_AT(field) offsetof(struct abyss_service_metrics, field)

/* One row per family. The label value arrays are in the order of the enums
 * in abyss/metrics.h; a family without a label has values == NULL. */
static const struct mx_def {
	const char *name;
	enum abyss_metric_type type;
	const char *label;
	const char *const *values;
	size_t nvalues;
	size_t offset; /* of the handle (array) in abyss_service_metrics */
	const char *help;
} mx_table[] = {
    {"abyss_messages_received_total", ABYSS_METRIC_COUNTER, "type", mx_types,
     MX_N(mx_types), MX_AT(received),
     "MQTT messages received, by type (valid or not)."},
    {"abyss_messages_invalid_total", ABYSS_METRIC_COUNTER, "reason", mx_invalid,
     MX_N(mx_invalid), MX_AT(invalid),
     "Messages rejected on reception, by reason."},
    {"abyss_holes_matched_total", ABYSS_METRIC_COUNTER, NULL, NULL, 1,
     MX_AT(holes_matched), "Result and Trace messages correlated into a hole."},
    {"abyss_messages_expired_total", ABYSS_METRIC_COUNTER, "type", mx_types,
     MX_N(mx_types), MX_AT(expired),
     "Messages removed unmatched after the maximum age, by type."},
    {"abyss_duplicates_total", ABYSS_METRIC_COUNTER, "policy", mx_dup,
     MX_N(mx_dup), MX_AT(duplicates),
     "Duplicate messages seen, by the duplicate_handling policy applied."},
    {"abyss_drops_total", ABYSS_METRIC_COUNTER, "reason", mx_drop,
     MX_N(mx_drop), MX_AT(drops),
     "Messages or holes discarded without a result, by reason."},
    {"abyss_queue_depth", ABYSS_METRIC_GAUGE, NULL, NULL, 1, MX_AT(queue_depth),
     "Holes waiting for an estimation worker."},
    {"abyss_spool_depth", ABYSS_METRIC_GAUGE, NULL, NULL, 1, MX_AT(spool_depth),
     "Results in the spool waiting to be published."},
    {"abyss_estimation_seconds", ABYSS_METRIC_HISTOGRAM, NULL, NULL, 1,
     MX_AT(estimation_seconds), "Time to turn a matched hole into keypoints."},
    {"abyss_publish_seconds", ABYSS_METRIC_HISTOGRAM, NULL, NULL, 1,
     MX_AT(publish_seconds),
     "Time to publish the keypoints and depth messages of one hole."},
    {"abyss_end_to_end_seconds", ABYSS_METRIC_HISTOGRAM, NULL, NULL, 1,
     MX_AT(end_to_end_seconds),
     "Time from receiving the later message of a hole to its publication."},
    {"abyss_mqtt_reconnects_total", ABYSS_METRIC_COUNTER, NULL, NULL, 1,
     MX_AT(mqtt_reconnects),
     "Connections to the broker re-established after a loss."},
    {"abyss_mqtt_connected", ABYSS_METRIC_GAUGE, NULL, NULL, 1,
     MX_AT(mqtt_connected),
     "1 while connected and subscribed to the broker, else 0."},
    {"abyss_holes_published_total", ABYSS_METRIC_COUNTER, "result", mx_result,
     MX_N(mx_result), MX_AT(published),
     "Holes processed to the end, by outcome (negative: not published)."},
    {"abyss_worker_stuck_total", ABYSS_METRIC_COUNTER, NULL, NULL, 1,
     MX_AT(worker_stuck), "Estimations that overran the worker watchdog."},
    {"abyss_memory_bytes", ABYSS_METRIC_GAUGE, NULL, NULL, 1,
     MX_AT(memory_bytes), "Resident memory of the process, in bytes."},
    {"abyss_build_info", ABYSS_METRIC_GAUGE, "version", mx_version,
     MX_N(mx_version), MX_AT(build_info),
     "Always 1; the label gives the abyss version."},
    {"process_start_time_seconds", ABYSS_METRIC_GAUGE, NULL, NULL, 1,
     MX_AT(start_time),
     "Start time of the process since the Unix epoch, in seconds."},
};

int abyss_service_metrics_init(struct abyss_metrics *r,
			       struct abyss_service_metrics *sm,
			       double start_unix_s, struct abyss_diag *diag)
{
	size_t i, j;
	int rc;

	if (!r || !sm)
		return DIAG_FAIL(diag, ABYSS_EINVAL, 0, 0,
				 "metrics registry or table is NULL");
	memset(sm, 0, sizeof(*sm));
	for (i = 0; i < MX_N(mx_table); i++) {
		const struct mx_def *d = &mx_table[i];
		struct abyss_metric **slot =
		    (struct abyss_metric **)((char *)sm + d->offset);

		for (j = 0; j < d->nvalues; j++) {
			const char *v = d->values ? d->values[j] : NULL;
			if (d->type == ABYSS_METRIC_HISTOGRAM)
				rc = abyss_metrics_histogram(
				    r, d->name, d->help, d->label, v,
				    abyss_latency_buckets,
				    abyss_latency_nbuckets, &slot[j], diag);
			else
				rc = metrics_register(r, d->type, d->name,
						      d->help, d->label, v,
						      NULL, 0, &slot[j], diag);
			if (rc)
				return rc;
		}
	}
	abyss_metric_set(sm->build_info, 1.0);
	abyss_metric_set(sm->start_time, start_unix_s);
	return 0;
}

int abyss_service_metrics_sample_memory(struct abyss_service_metrics *sm)
{
	unsigned long long size, resident;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f;
	int n;

	if (!sm)
		return ABYSS_EINVAL;
	f = fopen("/proc/self/statm", "r");
	if (!f)
		return ABYSS_EIO;
	n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	if (n != 2 || page <= 0)
		return ABYSS_EIO;
	abyss_metric_set(sm->memory_bytes, (double)resident * (double)page);
	return 0;
}
