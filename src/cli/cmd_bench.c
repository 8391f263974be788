/*
 * cmd_bench.c - abyss bench: throughput of the parser and the estimators on
 * real files, on one thread and on every core, plus peak memory.
 *
 * Inputs are read into memory first, so the figures measure parsing and
 * estimation, not the disk. Each figure is the best of --repeat runs of at
 * least --seconds each (the machines are noisy; the best run is the least
 * disturbed). Nothing here asserts a timing: it prints figures.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "abyss/depth.h"
#include "abyss/hole.h"
#include "abyss/load.h"
#include "abyss/nn.h"
#include "abyss/setitec.h"
#include "cli.h"
#include "../nn/nn_internal.h" /* the GEMM, timed alone (bench nn) */
#include "walk.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define BENCH_X86 1
#else
#define BENCH_X86 0
#endif

struct blob {
	char *data;
	size_t len;
};

struct bench_ctx {
	struct blob *blobs;	  /* parse: file contents */
	struct abyss_hole *holes; /* estimate: parsed holes */
	size_t n;
	enum abyss_method method;
	double seconds;
	int nthreads;
	atomic_int stop;
	atomic_size_t units;  /* files or holes done */
	atomic_size_t bytes;  /* parse: bytes parsed */
	atomic_size_t errors; /* parse or estimate failures seen */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: abyss bench parse|estimate [options] [FILE|DIR...]\n"
		"       abyss bench nn [--threads N] [--model DIR] "
		"[--repeat R]\n\n"
		"  parse      Setitec parser throughput (MB/s, files/s)\n"
		"  estimate   estimator throughput (holes/s)\n"
		"  nn         PatchTSMixer engine: one-hole exit latency (40 "
		"windows),\n"
		"             windows/s at batch 1 and 64, training steps at "
		"batch 32\n"
		"             and 64, GFLOP/s against the measured FP32 peak "
		"(1 thread,\n"
		"             then N; --model DIR defaults to the original "
		"architecture\n"
		"             with generated weights; figures are median "
		"(best) of R)\n\n"
		"options:\n"
		"  -m, --method M    estimator for 'estimate': compat | "
		"gradient (default: both)\n"
		"  -t, --threads N   also measure N threads (default: the "
		"number of cores)\n"
		"  -s, --seconds S   minimum seconds per run (default 1)\n"
		"  -r, --repeat R    runs per figure, best is kept (default "
		"3)\n\n"
		"Inputs default to $ABYSS_DATA or ../shared/data. Files are "
		"read into memory\nfirst. Figures go to stdout; nothing is "
		"asserted.\n");
}

/* Thread i of n works on items i, i+n, i+2n, ... round and round until the
 * main thread raises stop; every pass is a full unit of work. */
struct worker_arg {
	struct bench_ctx *ctx;
	int index;
};

static void *parse_worker(void *p)
{
	struct worker_arg *a = p;
	struct bench_ctx *c = a->ctx;
	size_t i = (size_t)a->index;

	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		struct abyss_setitec *f = NULL;
		struct blob *b = &c->blobs[i];
		if (abyss_setitec_parse(b->data, b->len, NULL, &f, NULL) == 0)
			abyss_setitec_free(f);
		else
			atomic_fetch_add(&c->errors, 1);
		atomic_fetch_add_explicit(&c->bytes, b->len,
					  memory_order_relaxed);
		atomic_fetch_add_explicit(&c->units, 1, memory_order_relaxed);
		i += (size_t)c->nthreads;
		if (i >= c->n)
			i = (size_t)a->index % c->n;
	}
	return NULL;
}

static void *estimate_worker(void *p)
{
	struct worker_arg *a = p;
	struct bench_ctx *c = a->ctx;
	struct abyss_scratch scratch;
	struct abyss_estimate_opts opts;
	struct abyss_estimate est;
	size_t i = (size_t)a->index;

	abyss_scratch_init(&scratch);
	memset(&opts, 0, sizeof(opts));
	opts.method = c->method;
	opts.scratch = &scratch;
	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		if (abyss_estimate(&c->holes[i], &opts, &est, NULL) != 0)
			atomic_fetch_add(&c->errors, 1);
		atomic_fetch_add_explicit(&c->units, 1, memory_order_relaxed);
		i += (size_t)c->nthreads;
		if (i >= c->n)
			i = (size_t)a->index % c->n;
	}
	abyss_scratch_free(&scratch);
	return NULL;
}

/* One timed run on nthreads threads; returns units/s, *bytes_s for parse. */
static double run_once(struct bench_ctx *c, void *(*fn)(void *), int nthreads,
		       double *bytes_s)
{
	pthread_t th[64];
	struct worker_arg args[64];
	double t0, dt;
	int i, started = 0;

	if (nthreads > 64)
		nthreads = 64;
	c->nthreads = nthreads;
	atomic_store(&c->stop, 0);
	atomic_store(&c->units, 0);
	atomic_store(&c->bytes, 0);
	t0 = now_s();
	for (i = 0; i < nthreads; i++) {
		args[i].ctx = c;
		args[i].index = i % (int)c->n;
		if (pthread_create(&th[i], NULL, fn, &args[i]) != 0)
			break;
		started++;
	}
	while (now_s() - t0 < c->seconds)
		usleep(10000);
	atomic_store(&c->stop, 1);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	dt = now_s() - t0;
	if (bytes_s)
		*bytes_s = (double)atomic_load(&c->bytes) / dt;
	return (double)atomic_load(&c->units) / dt;
}

static double best_of(struct bench_ctx *c, void *(*fn)(void *), int nthreads,
		      int repeat, double *bytes_s)
{
	double best = 0, best_b = 0, u, b = 0;
	int r;

	for (r = 0; r < repeat; r++) {
		u = run_once(c, fn, nthreads, &b);
		if (u > best) {
			best = u;
			best_b = b;
		}
	}
	if (bytes_s)
		*bytes_s = best_b;
	return best;
}

static long peak_rss_kb(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return ru.ru_maxrss;
}

static int read_blob(const char *path, struct blob *b)
{
	FILE *f = fopen(path, "rb");
	long n;

	b->data = NULL;
	b->len = 0;
	if (!f)
		return -1;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return -1;
	}
	b->data = malloc(n ? (size_t)n : 1);
	if (!b->data || fread(b->data, 1, (size_t)n, f) != (size_t)n) {
		free(b->data);
		b->data = NULL;
		fclose(f);
		return -1;
	}
	b->len = (size_t)n;
	fclose(f);
	return 0;
}

static int bench_parse(struct cli_paths *paths, struct bench_ctx *c,
		       int threads, int repeat)
{
	size_t i, total = 0, nf = 0, bad = 0;
	double u1, b1, un = 0, bn = 0;
	struct abyss_setitec *f;

	c->blobs = calloc(paths->n, sizeof(*c->blobs));
	if (!c->blobs)
		return CLI_EXIT_INTERNAL;
	for (i = 0; i < paths->n; i++) {
		if (abyss_input_kind(paths->v[i]) != ABYSS_INPUT_SETITEC)
			continue;
		if (read_blob(paths->v[i], &c->blobs[nf]) != 0)
			continue;
		/* measure what parses: the figure is for valid files */
		if (abyss_setitec_parse(c->blobs[nf].data, c->blobs[nf].len,
					NULL, &f, NULL) != 0) {
			free(c->blobs[nf].data);
			bad++;
			continue;
		}
		abyss_setitec_free(f);
		total += c->blobs[nf].len;
		nf++;
	}
	c->n = nf;
	if (nf == 0) {
		fprintf(stderr, "abyss bench: no Setitec files to parse\n");
		free(c->blobs);
		return CLI_EXIT_INPUT;
	}
	printf("parse: %zu Setitec files, %.1f MB in memory (%zu others "
	       "skipped: not parseable)\n",
	       nf, (double)total / 1e6, bad);
	u1 = best_of(c, parse_worker, 1, repeat, &b1);
	printf("  1 thread : %8.1f MB/s  %8.0f files/s\n", b1 / 1e6, u1);
	if (threads > 1) {
		un = best_of(c, parse_worker, threads, repeat, &bn);
		printf("  %d threads: %8.1f MB/s  %8.0f files/s  (%.1f MB/s "
		       "per thread, scaling %.2fx)\n",
		       threads, bn / 1e6, un, bn / 1e6 / threads, bn / b1);
	}
	for (i = 0; i < nf; i++)
		free(c->blobs[i].data);
	free(c->blobs);
	c->blobs = NULL;
	return CLI_EXIT_OK;
}

static int bench_estimate(struct cli_paths *paths, struct bench_ctx *c,
			  int threads, int repeat, int method_set)
{
	size_t i, nh = 0, samples = 0;
	int m;

	c->holes = calloc(paths->n, sizeof(*c->holes));
	if (!c->holes)
		return CLI_EXIT_INTERNAL;
	for (i = 0; i < paths->n; i++) {
		abyss_hole_init(&c->holes[nh]);
		if (abyss_hole_load(paths->v[i], &c->holes[nh], NULL) == 0 &&
		    c->holes[nh].n > 0) {
			samples += c->holes[nh].n;
			nh++;
		} else {
			abyss_hole_free(&c->holes[nh]);
		}
	}
	c->n = nh;
	if (nh == 0) {
		fprintf(stderr, "abyss bench: no holes to estimate\n");
		free(c->holes);
		return CLI_EXIT_INPUT;
	}
	printf("estimate: %zu holes, %.0f samples per hole on average\n", nh,
	       (double)samples / (double)nh);
	for (m = ABYSS_METHOD_COMPAT; m <= ABYSS_METHOD_GRADIENT; m++) {
		double u1, un;
		size_t err;
		if (method_set && m != (int)c->method)
			continue;
		c->method = (enum abyss_method)m;
		atomic_store(&c->errors, 0);
		u1 = best_of(c, estimate_worker, 1, repeat, NULL);
		err = atomic_load(&c->errors);
		printf("  %-8s 1 thread : %9.0f holes/s",
		       abyss_method_name(c->method), u1);
		if (threads > 1) {
			un = best_of(c, estimate_worker, threads, repeat, NULL);
			printf("   %d threads: %9.0f holes/s (scaling %.2fx)",
			       threads, un, un / u1);
		}
		printf("%s\n", err ? "  (some holes fail: their failure "
				     "path is timed too)"
				   : "");
	}
	for (i = 0; i < nh; i++)
		abyss_hole_free(&c->holes[i]);
	free(c->holes);
	c->holes = NULL;
	return CLI_EXIT_OK;
}

/* ---- abyss bench nn ----------------------------------------------------- */

/* The FP32 peak: 12 independent FMA chains (more than latency x issue
 * width on Zen 4 and recent Intel cores), in the widest unit the CPU has. */
#if BENCH_X86
/* Named accumulators: an array of vectors would be kept in memory. */
#define PEAK_REP(X)                                                            \
	X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

__attribute__((target("avx512f"))) static float fma_loop512(long iters)
{
	__m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
	float out[16], s = 0.0f;
	long i;
	int k;
#define DECL(r) __m512 a##r = _mm512_set1_ps((float)(r));
	PEAK_REP(DECL)
#undef DECL

	for (i = 0; i < iters; i++) {
#define STEP(r) a##r = _mm512_fmadd_ps(a##r, b, c);
		PEAK_REP(STEP)
#undef STEP
	}
#define SUM(r) a0 = (r) ? _mm512_add_ps(a0, a##r) : a0;
	PEAK_REP(SUM)
#undef SUM
	_mm512_storeu_ps(out, a0);
	for (k = 0; k < 16; k++)
		s += out[k];
	return s;
}

__attribute__((target("avx2,fma"))) static float fma_loop256(long iters)
{
	__m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
	float out[8], s = 0.0f;
	long i;
	int k;
#define DECL(r) __m256 a##r = _mm256_set1_ps((float)(r));
	PEAK_REP(DECL)
#undef DECL

	for (i = 0; i < iters; i++) {
#define STEP(r) a##r = _mm256_fmadd_ps(a##r, b, c);
		PEAK_REP(STEP)
#undef STEP
	}
#define SUM(r) a0 = (r) ? _mm256_add_ps(a0, a##r) : a0;
	PEAK_REP(SUM)
#undef SUM
	_mm256_storeu_ps(out, a0);
	for (k = 0; k < 8; k++)
		s += out[k];
	return s;
}
#endif

struct peak_arg {
	long iters;
	float sink;
};

static int peak_width(void)
{
#if BENCH_X86
	if (__builtin_cpu_supports("avx512f"))
		return 16;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return 8;
#endif
	return 0;
}

static void *peak_worker(void *p)
{
	struct peak_arg *a = p;

#if BENCH_X86
	if (peak_width() == 16)
		a->sink = fma_loop512(a->iters);
	else if (peak_width() == 8)
		a->sink = fma_loop256(a->iters);
#endif
	return NULL;
}

/* GFLOP/s of nthreads threads running the FMA loop (0 without FMA). */
static double fp32_peak(int nthreads)
{
	pthread_t th[64];
	struct peak_arg args[64];
	long iters = 20000000;
	double t0, best = 0.0;
	int i, r, started;

	if (peak_width() == 0)
		return 0.0;
	if (nthreads > 64)
		nthreads = 64;
	for (r = 0; r < 3; r++) {
		double dt, g;

		t0 = now_s();
		for (started = 0; started < nthreads; started++) {
			args[started].iters = iters;
			if (pthread_create(&th[started], NULL, peak_worker,
					   &args[started]) != 0)
				break;
		}
		for (i = 0; i < started; i++)
			pthread_join(th[i], NULL);
		dt = now_s() - t0;
		g = (double)started * (double)iters * 12.0 * peak_width() *
		    2.0 / dt * 1e-9;
		if (g > best)
			best = g;
	}
	return best;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Small deterministic values in [-r, r). */
static void fill_uniform(float *x, size_t n, float r, uint64_t *st)
{
	size_t i;

	for (i = 0; i < n; i++) {
		*st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
		x[i] = ((float)(*st >> 40) * 0x1.0p-24f * 2.0f - 1.0f) * r;
	}
}

static int nn_bench_model(const char *dir, int training,
			  struct abyss_nn_model **out)
{
	struct abyss_nn_options o = {.max_batch = 64, .training = training};
	struct abyss_diag d;
	struct abyss_nn_config cfg;
	struct abyss_nn_param_info pi;
	size_t i;
	uint64_t st = 42;
	int rc;

	memset(&d, 0, sizeof(d));
	if (dir) {
		rc = abyss_nn_model_load(dir, &o, out, &d);
		if (rc)
			cli_error("bench", "%s: %s", dir, d.msg);
		return rc;
	}
	abyss_nn_config_default(&cfg);
	rc = abyss_nn_model_new(&cfg, &o, out, &d);
	if (rc) {
		cli_error("bench", "model: %s", d.msg);
		return rc;
	}
	/* weights of the usual scale (1/sqrt(fan-in)), not trained */
	for (i = 0; i < abyss_nn_num_tensors(*out); i++) {
		abyss_nn_param_info(*out, i, &pi);
		if (pi.ndim == 2 && pi.trainable)
			fill_uniform(abyss_nn_params(*out) + pi.offset,
				     pi.numel, 1.0f / sqrtf((float)pi.shape[1]),
				     &st);
	}
	return 0;
}

enum nn_job { JOB_FORWARD, JOB_SEQ, JOB_TRAIN };

/* Median and best seconds of R runs of one job. */
static int nn_time(struct abyss_nn_model *m, struct abyss_adamw *opt,
		   enum nn_job job, size_t B, const float *x, const float *y,
		   int repeat, double *med, double *best)
{
	double t[64] = {0};
	size_t i;
	int r, rc = 0;

	if (repeat > 64)
		repeat = 64;
	/* run -1 is a warm-up (first touch of the activation pages) */
	for (r = -1; r < repeat; r++) {
		double t0 = now_s();

		if (job == JOB_FORWARD) {
			rc = abyss_nn_forward(m, x, B, NULL);
		} else if (job == JOB_SEQ) {
			const struct abyss_nn_config *c =
			    abyss_nn_model_config(m);
			size_t win = (size_t)c->context_length *
				     (size_t)c->num_input_channels;

			for (i = 0; i < B && !rc; i++)
				rc = abyss_nn_forward(m, x + i * win, 1, NULL);
		} else {
			abyss_nn_zero_grad(m);
			rc = abyss_nn_forward(m, x, B, NULL);
			if (!rc)
				rc = abyss_nn_backward(m, y, ABYSS_NN_LOSS_MSE,
						       NULL);
			if (!rc)
				rc = abyss_nn_adamw_step(m, opt, 1e-4);
		}
		if (rc)
			return rc;
		if (r >= 0)
			t[r] = now_s() - t0;
	}
	qsort(t, (size_t)repeat, sizeof(t[0]), cmp_double);
	*med = t[repeat / 2];
	*best = t[0];
	return 0;
}

/* The channel mixer's fc1 as the model runs it: per window, W[34,17] x
 * X[17, 1024] with the rows 1056 floats apart (kernels.c nn_chmix). */
static void nn_bench_chmix(int repeat, double peak, uint64_t *st)
{
	const size_t B = 40, C = 17, CE = 34, PD = 1024, ld = PD + 32;
	float *x = malloc(B * C * ld * sizeof(float));
	float *w = malloc(CE * C * sizeof(float));
	float *bias = malloc(CE * sizeof(float));
	float *y = malloc(B * CE * ld * sizeof(float));
	double t[64] = {0}, g;
	size_t b;
	int r;

	if (!x || !w || !bias || !y) {
		free(x), free(w), free(bias), free(y);
		return;
	}
	fill_uniform(x, B * C * ld, 1.0f, st);
	fill_uniform(w, CE * C, 0.1f, st);
	fill_uniform(bias, CE, 0.1f, st);
	for (r = -1; r < repeat && r < 64; r++) {
		double t0 = now_s();

		for (b = 0; b < B; b++)
			nn__gemm1_rowbias(y + b * CE * ld, ld, w, C, 1,
					  x + b * C * ld, ld, bias, CE, PD, C);
		if (r >= 0)
			t[r] = now_s() - t0;
	}
	qsort(t, (size_t)(repeat < 64 ? repeat : 64), sizeof(t[0]), cmp_double);
	g = 2.0 * (double)(B * PD) * (double)C * (double)CE / t[0] * 1e-9;
	printf("    %-18s %6zu x %4zu -> %4zu  %7.3f ms  %6.1f GFLOP/s",
	       "ch. mixer fc1 W.X", B * PD, C, CE, t[0] * 1e3, g);
	if (peak > 0)
		printf(" (%4.1f %% of peak)", 100.0 * g / peak);
	printf("\n");
	free(x), free(w), free(bias), free(y);
}

/* The model's large products at batch 40 (one hole), alone, 1 thread. */
static void nn_bench_gemm(int repeat, double peak)
{
	static const struct {
		const char *what;
		size_t N, IC, OC;
	} shp[] = {
	    {"patch mixer fc1", 40 * 17 * 16, 64, 128},
	    {"patch mixer fc2", 40 * 17 * 16, 128, 64},
	    {"feature mixer fc1", 40 * 17 * 64, 16, 32},
	    {"channel mixer fc1", 40 * 16 * 64, 17, 34},
	    {"head block 1", 40 * 17, 1024, 512},
	};
	size_t s;
	uint64_t st = 3;

	nn__set_threads(1);
	printf("  large products alone (batch 40, 1 thread):\n");
	for (s = 0; s < sizeof(shp) / sizeof(shp[0]); s++) {
		size_t N = shp[s].N, IC = shp[s].IC, OC = shp[s].OC;
		float *x = malloc(N * IC * sizeof(float));
		float *w = malloc(IC * OC * sizeof(float));
		float *y = malloc(N * OC * sizeof(float));
		double t[64] = {0}, g;
		int r;

		if (!x || !w || !y) {
			free(x), free(w), free(y);
			return;
		}
		fill_uniform(x, N * IC, 1.0f, &st);
		fill_uniform(w, IC * OC, 0.1f, &st);
		for (r = -1; r < repeat && r < 64; r++) {
			double t0 = now_s();

			nn__matmul_forward(y, x, w, NULL, N, IC, OC);
			if (r >= 0)
				t[r] = now_s() - t0;
		}
		qsort(t, (size_t)(repeat < 64 ? repeat : 64), sizeof(t[0]),
		      cmp_double);
		g = 2.0 * (double)N * (double)IC * (double)OC / t[0] * 1e-9;
		printf("    %-18s %6zu x %4zu -> %4zu  %7.3f ms  %6.1f GFLOP/s",
		       shp[s].what, N, IC, OC, t[0] * 1e3, g);
		if (peak > 0)
			printf(" (%4.1f %% of peak)", 100.0 * g / peak);
		printf("\n");
		free(x), free(w), free(y);
	}
	nn_bench_chmix(repeat, peak, &st);
}

static int bench_nn(const char *dir, int threads, int repeat)
{
	struct abyss_nn_model *inf = NULL, *tr = NULL;
	struct abyss_adamw opt;
	const struct abyss_nn_config *c;
	float *x = NULL, *y = NULL;
	size_t win, hwin;
	double flops, peak1, peakn;
	int rc = CLI_EXIT_INTERNAL, tset[2], nt, k;
	uint64_t st = 7;

	memset(&opt, 0, sizeof(opt));
	if (nn_bench_model(dir, 0, &inf) || nn_bench_model(dir, 1, &tr))
		goto out;
	if (abyss_adamw_init(&opt, abyss_nn_num_params(tr), 1e-4, 0.9, 0.999,
			     1e-8, 0.01))
		goto out;
	c = abyss_nn_model_config(inf);
	win = (size_t)c->context_length * (size_t)c->num_input_channels;
	hwin = (size_t)c->prediction_length * (size_t)c->num_input_channels;
	x = malloc(64 * win * sizeof(float));
	y = malloc(64 * hwin * sizeof(float));
	if (!x || !y)
		goto out;
	fill_uniform(x, 64 * win, 2.0f, &st);
	fill_uniform(y, 64 * hwin, 1.0f, &st);
	flops = abyss_nn_flops(inf);
	peak1 = fp32_peak(1);
	peakn = threads > 1 ? fp32_peak(threads) : peak1;
	printf("nn: %s, kernels %s, %.1f MFLOP of matrix products per "
	       "window\n",
	       dir ? dir : "original architecture (generated weights)",
	       abyss_nn_isa(), flops * 1e-6);
	printf("  FP32 FMA peak (measured): %.1f GFLOP/s on 1 thread", peak1);
	if (threads > 1)
		printf(", %.1f on %d", peakn, threads);
	printf("\n  figures: median (best) of %d runs\n", repeat);
	nn_bench_gemm(repeat, peak1);
	tset[0] = 1;
	tset[1] = threads;
	for (k = 0; k < (threads > 1 ? 2 : 1); k++) {
		struct {
			const char *what;
			enum nn_job job;
			size_t B;
			double mult; /* flops per window of the job */
		} jobs[] = {
		    {"one hole, 40 windows batched", JOB_FORWARD, 40, 1.0},
		    {"one hole, 40 windows one by one", JOB_SEQ, 40, 1.0},
		    {"batch 1", JOB_FORWARD, 1, 1.0},
		    {"batch 64", JOB_FORWARD, 64, 1.0},
		    {"training step, batch 32", JOB_TRAIN, 32, 3.0},
		    {"training step, batch 64", JOB_TRAIN, 64, 3.0},
		};
		size_t j;
		double peak;

		nt = tset[k];
		peak = nt > 1 ? peakn : peak1;
		abyss_nn_set_threads(inf, nt);
		abyss_nn_set_threads(tr, nt);
		printf("  %d thread%s:\n", nt, nt > 1 ? "s" : "");
		for (j = 0; j < sizeof(jobs) / sizeof(jobs[0]); j++) {
			double med, best, g;
			struct abyss_nn_model *m =
			    jobs[j].job == JOB_TRAIN ? tr : inf;

			if (nn_time(m, &opt, jobs[j].job, jobs[j].B, x, y,
				    repeat, &med, &best)) {
				cli_error("bench", "nn %s failed",
					  jobs[j].what);
				goto out;
			}
			g = flops * jobs[j].mult * (double)jobs[j].B / med *
			    1e-9;
			printf("    %-34s %9.2f ms (%8.2f)", jobs[j].what,
			       med * 1e3, best * 1e3);
			if (jobs[j].job == JOB_FORWARD)
				printf("  %8.1f windows/s",
				       (double)jobs[j].B / med);
			else
				printf("  %8s           ", "");
			printf("  %6.1f GFLOP/s", g);
			if (peak > 0)
				printf(" (%4.1f %% of peak)", 100.0 * g / peak);
			printf("\n");
		}
	}
	rc = CLI_EXIT_OK;
out:
	free(x);
	free(y);
	abyss_adamw_free(&opt);
	abyss_nn_model_free(inf);
	abyss_nn_model_free(tr);
	return rc;
}

int cmd_bench(int argc, char **argv)
{
	struct bench_ctx ctx;
	struct cli_paths paths;
	const char *what = NULL;
	long threads = 0, repeat = 3;
	double seconds = 1.0;
	const char *model_dir = NULL;
	int method_set = 0, repeat_set = 0, rc, i;

	memset(&ctx, 0, sizeof(ctx));
	cli_paths_init(&paths);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (cli_is_help(a)) {
			usage(stdout);
			cli_paths_free(&paths);
			return CLI_EXIT_OK;
		} else if (!strcmp(a, "-m") || !strcmp(a, "--method")) {
			if (!v || abyss_method_parse(v, &ctx.method) ||
			    ctx.method == ABYSS_METHOD_ML) {
				cli_error("bench", "--method expects compat or "
						   "gradient");
				goto usage_fail;
			}
			method_set = 1;
			i++;
		} else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
			if (!v || cli_parse_long("bench", a, v, &threads))
				goto usage_fail;
			i++;
		} else if (!strcmp(a, "-r") || !strcmp(a, "--repeat")) {
			if (!v || cli_parse_long("bench", a, v, &repeat) ||
			    repeat < 1 || repeat > 64)
				goto usage_fail;
			repeat_set = 1;
			i++;
		} else if (!strcmp(a, "--model")) {
			if (!v) {
				cli_error("bench", "--model expects a folder");
				goto usage_fail;
			}
			model_dir = v;
			i++;
		} else if (!strcmp(a, "-s") || !strcmp(a, "--seconds")) {
			if (!v || cli_parse_double("bench", a, v, &seconds) ||
			    seconds <= 0)
				goto usage_fail;
			i++;
		} else if (a[0] == '-' && a[1]) {
			cli_error("bench", "unknown option '%s'", a);
			goto usage_fail;
		} else if (!what) {
			what = a;
		} else if (cli_paths_add(&paths, a, 1) != 0) {
			cli_error("bench", "%s: %s", a, strerror(errno));
			cli_paths_free(&paths);
			return CLI_EXIT_INPUT;
		}
	}
	if (!what ||
	    (strcmp(what, "parse") != 0 && strcmp(what, "estimate") != 0 &&
	     strcmp(what, "nn") != 0)) {
		cli_error("bench",
			  "say what to measure: parse, estimate or nn");
		goto usage_fail;
	}
	if (!strcmp(what, "nn")) {
		if (threads <= 0) {
			long n = sysconf(_SC_NPROCESSORS_ONLN);
			threads = n > 0 ? n : 1;
		}
		if (threads > ABYSS_NN_MAX_THREADS)
			threads = ABYSS_NN_MAX_THREADS;
		rc = bench_nn(model_dir, (int)threads,
			      repeat_set ? (int)repeat : 5);
		cli_paths_free(&paths);
		return rc;
	}
	if (paths.n == 0) {
		const char *data = getenv("ABYSS_DATA");
		if (!data || !*data)
			data = "../shared/data";
		if (cli_paths_add(&paths, data, 1) != 0 || paths.n == 0) {
			cli_error("bench", "no inputs: name files or folders, "
					   "or set ABYSS_DATA");
			cli_paths_free(&paths);
			return CLI_EXIT_INPUT;
		}
	}
	if (threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? n : 1;
	}
	ctx.seconds = seconds;
	if (!strcmp(what, "parse"))
		rc = bench_parse(&paths, &ctx, (int)threads, (int)repeat);
	else
		rc = bench_estimate(&paths, &ctx, (int)threads, (int)repeat,
				    method_set);
	printf("  peak resident memory: %.1f MB\n",
	       (double)peak_rss_kb() / 1024.0);
	cli_paths_free(&paths);
	return rc;

usage_fail:
	cli_paths_free(&paths);
	return CLI_EXIT_USAGE;
}
