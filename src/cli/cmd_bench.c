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
#include "abyss/setitec.h"
#include "cli.h"
#include "walk.h"

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
		"usage: abyss bench parse|estimate [options] [FILE|DIR...]\n\n"
		"  parse      Setitec parser throughput (MB/s, files/s)\n"
		"  estimate   estimator throughput (holes/s)\n\n"
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

int cmd_bench(int argc, char **argv)
{
	struct bench_ctx ctx;
	struct cli_paths paths;
	const char *what = NULL;
	long threads = 0, repeat = 3;
	double seconds = 1.0;
	int method_set = 0, rc, i;

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
			    repeat < 1)
				goto usage_fail;
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
	    (strcmp(what, "parse") != 0 && strcmp(what, "estimate") != 0)) {
		cli_error("bench", "say what to measure: parse or estimate");
		goto usage_fail;
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
