/*
 * cmd_estimate.c - abyss estimate: entry, transition and exit for many holes.
 *
 * Walks files and folders (recursively), loads each hole with
 * abyss_hole_load, runs the chosen estimator on a pool of threads (one per
 * core by default), and prints one row per hole in input order, then a
 * summary of failures grouped by reason. Results are printed only once all
 * holes are done, so the output order never depends on the thread count.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abyss/depth.h"
#include "abyss/load.h"
#include "abyss/nn.h"
#include "cli.h"
#include "walk.h"

enum out_format { FMT_TABLE, FMT_JSON, FMT_CSV };

struct est_item {
	const char *path;
	int rc;
	struct abyss_estimate est;
	struct abyss_diag diag;
	char machine_id[ABYSS_ID_MAX];
	char result_id[ABYSS_ID_MAX];
	size_t nsamples;
};

struct est_job {
	struct est_item *items;
	size_t nitems;
	enum abyss_method method;
	const struct abyss_ml_model *model; /* ml only */
	atomic_size_t next;
	atomic_size_t done;
	atomic_size_t failed;
};

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: abyss estimate [options] FILE|DIR...\n\n"
	       "Estimates the entry, transition and exit positions (mm) of "
	       "each hole and the\nlayer thicknesses. Folders are walked "
	       "recursively: every Setitec .xls file and\nevery folder of "
	       "MQTT messages (Result.json or ResultManagement.json + "
	       "Trace.json)\nis one hole; a file named explicitly is always "
	       "tried.\n\n"
	       "options:\n"
	       "  -m, --method M    compat | gradient | ml (default gradient)\n"
	       "      --model DIR   ml: a PatchTSMixer checkpoint folder "
	       "(config.json +\n"
	       "                    model.safetensors)\n"
	       "      --reference F ml: the ref_15T.csv reference statistics "
	       "(default\n"
	       "                    DIR/ref_15T.csv)\n"
	       "  -f, --format F    table | json | csv (default table)\n"
	       "  -j, --jobs N      worker threads (default: one per core)\n"
	       "  -o, --output FILE write results to FILE instead of stdout\n"
	       "  -q, --quiet       no progress bar, no failure summary\n"
	       "  -h, --help        this help\n\n"
	       "Positions are distances along the stroke from the spindle's "
	       "start (mm, positive).\nDepths: [transition - entry, exit - "
	       "transition]; without a transition,\n[exit - entry, 0].\n\n"
	       "exit status: 0 all holes estimated, 1 some failed (see "
	       "summary), 2 usage,\n3 no input could be read.\n");
}

static void estimate_one(struct est_item *it, const struct est_job *job,
			 struct abyss_scratch *scratch)
{
	struct abyss_hole h;
	struct abyss_estimate_opts opts;

	abyss_hole_init(&h);
	abyss_diag_init(&it->diag);
	abyss_estimate_clear(&it->est, job->method);
	it->rc = abyss_hole_load(it->path, &h, &it->diag);
	if (it->rc == 0) {
		memset(&opts, 0, sizeof(opts));
		opts.method = job->method;
		opts.scratch = scratch;
		opts.model = job->model;
		memcpy(it->machine_id, h.machine_id, sizeof(it->machine_id));
		memcpy(it->result_id, h.result_id, sizeof(it->result_id));
		it->nsamples = h.n;
		it->rc = abyss_estimate(&h, &opts, &it->est, &it->diag);
	}
	if (it->rc && !it->diag.file[0])
		abyss_diag_set_file(&it->diag, it->path);
	abyss_hole_free(&h);
}

static void *worker(void *arg)
{
	struct est_job *job = arg;
	struct abyss_scratch scratch;
	size_t i;

	abyss_scratch_init(&scratch);
	while ((i = atomic_fetch_add(&job->next, 1)) < job->nitems) {
		estimate_one(&job->items[i], job, &scratch);
		if (job->items[i].rc)
			atomic_fetch_add(&job->failed, 1);
		atomic_fetch_add(&job->done, 1);
	}
	abyss_scratch_free(&scratch);
	return NULL;
}

static void progress(size_t done, size_t total, size_t failed)
{
	int width = 30, fill = total ? (int)(done * (size_t)width / total) : 0;

	fprintf(stderr, "\r[%.*s%*s] %zu/%zu holes, %zu failed", fill,
		"##############################", width - fill, "", done, total,
		failed);
	fflush(stderr);
}

/* ---- output ---- */

static void kp_cell(char *buf, size_t n, const struct abyss_keypoint *k)
{
	if (k->found)
		snprintf(buf, n, "%.3f", k->pos_mm);
	else
		snprintf(buf, n, "-");
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_kp(FILE *f, const char *name, const struct abyss_keypoint *k)
{
	fprintf(f, "\"%s\": ", name);
	if (k->found) {
		fprintf(f,
			"{\"mm\": %.6f, \"index\": %ld, \"confidence\": %.3f}",
			k->pos_mm, k->index, k->confidence);
	} else {
		fprintf(f, "{\"mm\": null, \"error\": ");
		json_string(f, k->reason[0] ? k->reason : "not found");
		fprintf(f, "}");
	}
}

static void csv_field(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\n")) {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else {
		fputs(s, f);
	}
}

static const char *item_reason(const struct est_item *it, char *buf, size_t n)
{
	buf[0] = '\0';
	if (!it->rc)
		return buf;
	snprintf(buf, n, "%s",
		 it->diag.msg[0] ? it->diag.msg : abyss_strerror(it->rc));
	return buf;
}

static void print_results(FILE *f, const struct est_job *job,
			  enum out_format fmt)
{
	char e[32], t[32], x[32], reason[ABYSS_DIAG_MSG_MAX + 64];
	double d[2];
	size_t i;

	if (fmt == FMT_CSV)
		fprintf(f, "path,method,machine_id,result_id,samples,entry_mm,"
			   "transition_mm,exit_mm,depth1_mm,depth2_mm,"
			   "total_mm,status,reason\n");
	if (fmt == FMT_JSON)
		fprintf(f, "[\n");
	if (fmt == FMT_TABLE)
		fprintf(f, "%-48s %9s %9s %9s %9s %9s  %s\n", "hole", "entry",
			"transit.", "exit", "layer1", "layer2", "status");
	for (i = 0; i < job->nitems; i++) {
		const struct est_item *it = &job->items[i];
		/* depths only for a verdict of success: a failed hole may
		 * still have an entry and an exit, but no thickness */
		int nd = it->rc ? 0 : abyss_estimate_depths(&it->est, d);
		kp_cell(e, sizeof(e), &it->est.entry);
		kp_cell(t, sizeof(t), &it->est.transition);
		kp_cell(x, sizeof(x), &it->est.exit);
		item_reason(it, reason, sizeof(reason));
		if (fmt == FMT_TABLE) {
			char p[64];
			size_t len = strlen(it->path);
			if (len > 48)
				snprintf(p, sizeof(p), "...%s",
					 it->path + len - 45);
			else
				snprintf(p, sizeof(p), "%s", it->path);
			if (nd)
				fprintf(f,
					"%-48s %9s %9s %9s %9.3f %9.3f  %s\n",
					p, e, t, x, d[0], d[1],
					it->rc ? reason : "ok");
			else
				fprintf(f, "%-48s %9s %9s %9s %9s %9s  %s\n", p,
					e, t, x, "-", "-",
					it->rc ? reason : "ok");
		} else if (fmt == FMT_CSV) {
			csv_field(f, it->path);
			fprintf(f, ",%s,", abyss_method_name(job->method));
			csv_field(f, it->machine_id);
			fputc(',', f);
			csv_field(f, it->result_id);
			fprintf(f, ",%zu,%s,%s,%s,", it->nsamples,
				it->est.entry.found ? e : "",
				it->est.transition.found ? t : "",
				it->est.exit.found ? x : "");
			if (nd)
				fprintf(f, "%.3f,%.3f,%.3f,", d[0], d[1],
					d[0] + d[1]);
			else
				fprintf(f, ",,,");
			fprintf(f, "%s,", it->rc ? "error" : "ok");
			csv_field(f, reason);
			fputc('\n', f);
		} else {
			fprintf(f, "  {\"path\": ");
			json_string(f, it->path);
			fprintf(f, ", \"method\": \"%s\", \"machine_id\": ",
				abyss_method_name(job->method));
			json_string(f, it->machine_id);
			fprintf(f, ", \"result_id\": ");
			json_string(f, it->result_id);
			fprintf(f, ", \"samples\": %zu, ", it->nsamples);
			json_kp(f, "entry", &it->est.entry);
			fprintf(f, ", ");
			json_kp(f, "transition", &it->est.transition);
			fprintf(f, ", ");
			json_kp(f, "exit", &it->est.exit);
			if (nd)
				fprintf(f, ", \"depths_mm\": [%.6f, %.6f]",
					d[0], d[1]);
			else
				fprintf(f, ", \"depths_mm\": null");
			fprintf(f, ", \"status\": \"%s\"",
				it->rc ? "error" : "ok");
			if (it->rc) {
				fprintf(f, ", \"error\": ");
				json_string(f, reason);
				fprintf(f, ", \"code\": \"%s\"",
					abyss_errname(it->rc));
			}
			fprintf(f, "}%s\n", i + 1 < job->nitems ? "," : "");
		}
	}
	if (fmt == FMT_JSON)
		fprintf(f, "]\n");
}

/* Failures grouped by reason (a reason's numbers vary per hole, so group by
 * error code and the text before the first digit). */
static void print_summary(const struct est_job *job)
{
	size_t i, j, nfail = 0;
	char buf[ABYSS_DIAG_MSG_MAX + 64];

	for (i = 0; i < job->nitems; i++)
		nfail += job->items[i].rc != 0;
	fprintf(stderr, "%zu holes, %zu estimated, %zu failed\n", job->nitems,
		job->nitems - nfail, nfail);
	if (!nfail)
		return;
	fprintf(stderr, "failures:\n");
	for (i = 0; i < job->nitems; i++) {
		const struct est_item *it = &job->items[i];
		size_t count = 0;
		int first = 1;
		if (!it->rc)
			continue;
		for (j = 0; j < i; j++)
			if (job->items[j].rc == it->rc &&
			    strcmp(job->items[j].diag.msg, it->diag.msg) == 0)
				first = 0;
		if (!first)
			continue;
		for (j = i; j < job->nitems; j++)
			if (job->items[j].rc == it->rc &&
			    strcmp(job->items[j].diag.msg, it->diag.msg) == 0)
				count++;
		if (it->diag.line) /* a parse error: where it is matters */
			abyss_diag_format(&it->diag, buf, sizeof(buf));
		else
			snprintf(buf, sizeof(buf), "%s (%s)",
				 it->diag.msg[0] ? it->diag.msg
						 : abyss_strerror(it->rc),
				 abyss_errname(it->rc));
		fprintf(stderr, "  %5zu x %s\n          e.g. %s\n", count, buf,
			it->path);
	}
}

int cmd_estimate(int argc, char **argv)
{
	enum out_format fmt = FMT_TABLE;
	enum abyss_method method = ABYSS_METHOD_GRADIENT;
	long jobs = 0;
	int quiet = 0, i, rc = CLI_EXIT_OK;
	const char *output = NULL, *model_dir = NULL, *reference = NULL;
	struct abyss_ml_model *model = NULL;
	struct cli_paths paths;
	struct est_job job;
	pthread_t *threads = NULL;
	FILE *out = stdout;
	size_t k;

	cli_paths_init(&paths);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (cli_is_help(a)) {
			usage(stdout);
			cli_paths_free(&paths);
			return CLI_EXIT_OK;
		} else if (!strcmp(a, "-m") || !strcmp(a, "--method")) {
			if (!v || abyss_method_parse(v, &method)) {
				cli_error(argv[0], "--method expects compat, "
						   "gradient or ml");
				goto usage_fail;
			}
			i++;
		} else if (!strcmp(a, "-f") || !strcmp(a, "--format")) {
			if (v && !strcmp(v, "table"))
				fmt = FMT_TABLE;
			else if (v && !strcmp(v, "json"))
				fmt = FMT_JSON;
			else if (v && !strcmp(v, "csv"))
				fmt = FMT_CSV;
			else {
				cli_error(argv[0], "--format expects table, "
						   "json or csv");
				goto usage_fail;
			}
			i++;
		} else if (!strcmp(a, "-j") || !strcmp(a, "--jobs")) {
			if (!v || cli_parse_long(argv[0], a, v, &jobs))
				goto usage_fail;
			i++;
		} else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
			if (!v) {
				cli_error(argv[0], "%s expects a file", a);
				goto usage_fail;
			}
			output = v;
			i++;
		} else if (!strcmp(a, "--model") || !strcmp(a, "--reference")) {
			if (!v) {
				cli_error(argv[0], "%s expects a path", a);
				goto usage_fail;
			}
			if (a[2] == 'm')
				model_dir = v;
			else
				reference = v;
			i++;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			quiet = 1;
		} else if (a[0] == '-' && a[1]) {
			cli_error(argv[0], "unknown option '%s'", a);
			goto usage_fail;
		} else if (cli_paths_add(&paths, a, 1) != 0) {
			cli_error(argv[0], "%s: %s", a, strerror(errno));
			rc = CLI_EXIT_INPUT;
		}
	}
	if (paths.n == 0) {
		if (rc == CLI_EXIT_OK) {
			cli_error(argv[0], "no input (try --help)");
			rc = CLI_EXIT_USAGE;
		}
		cli_paths_free(&paths);
		return rc;
	}
	if ((method == ABYSS_METHOD_ML) != (model_dir != NULL)) {
		cli_error(argv[0], method == ABYSS_METHOD_ML
				       ? "--method ml needs --model DIR"
				       : "--model is only for --method ml");
		goto usage_fail;
	}
	if (model_dir) {
		struct abyss_diag d;
		char buf[ABYSS_DIAG_MSG_MAX + ABYSS_DIAG_FILE_MAX + 64];
		abyss_diag_init(&d);
		if (abyss_ml_model_load(model_dir, reference, 0, &model, &d)) {
			cli_error(argv[0], "%s",
				  abyss_diag_format(&d, buf, sizeof(buf)));
			cli_paths_free(&paths);
			return CLI_EXIT_INPUT;
		}
	}
	if (jobs <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = n > 0 ? n : 1;
	}
	if ((size_t)jobs > paths.n)
		jobs = (long)paths.n;

	memset(&job, 0, sizeof(job));
	job.method = method;
	job.model = model;
	job.nitems = paths.n;
	job.items = calloc(paths.n, sizeof(*job.items));
	threads = calloc((size_t)jobs, sizeof(*threads));
	if (!job.items || !threads) {
		cli_error(argv[0], "out of memory");
		free(job.items);
		free(threads);
		abyss_ml_model_free(model);
		cli_paths_free(&paths);
		return CLI_EXIT_INTERNAL;
	}
	for (k = 0; k < paths.n; k++)
		job.items[k].path = paths.v[k];
	atomic_init(&job.next, 0);
	atomic_init(&job.done, 0);
	atomic_init(&job.failed, 0);
	for (i = 0; i < jobs; i++)
		if (pthread_create(&threads[i], NULL, worker, &job) != 0) {
			jobs = i; /* run with what started */
			break;
		}
	if (jobs == 0)
		worker(&job);
	if (!quiet && isatty(STDERR_FILENO)) {
		while (atomic_load(&job.done) < job.nitems) {
			progress(atomic_load(&job.done), job.nitems,
				 atomic_load(&job.failed));
			usleep(100000);
		}
		progress(job.nitems, job.nitems, atomic_load(&job.failed));
		fputc('\n', stderr);
	}
	for (i = 0; i < jobs; i++)
		pthread_join(threads[i], NULL);

	if (output) {
		out = fopen(output, "w");
		if (!out) {
			cli_error(argv[0], "%s: %s", output, strerror(errno));
			rc = CLI_EXIT_INPUT;
			goto done;
		}
	}
	print_results(out, &job, fmt);
	if (out != stdout && fclose(out) != 0) {
		cli_error(argv[0], "%s: write failed", output);
		rc = CLI_EXIT_INTERNAL;
	}
	if (!quiet)
		print_summary(&job);
	if (atomic_load(&job.failed) && rc == CLI_EXIT_OK)
		rc = CLI_EXIT_FAILURES;
done:
	abyss_ml_model_free(model);
	free(threads);
	free(job.items);
	cli_paths_free(&paths);
	return rc;

usage_fail:
	abyss_ml_model_free(model);
	cli_paths_free(&paths);
	return CLI_EXIT_USAGE;
}
