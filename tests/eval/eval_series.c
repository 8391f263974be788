/*
 * eval_series.c - precision of the depth estimators on real series, and
 * accuracy of the gradient estimator on simulated holes.
 *
 * Holes of one series are the same coupon, so the spread of the estimated
 * thickness within a series is the precision. For each series (a folder of
 * Setitec files) it prints coverage and the median, IQR and std of the total
 * and layer thicknesses, for gradient and for compat. `--sim N` simulates N
 * holes over varied stacks, programs and noise and prints the error against
 * the truth. Not a unit test: scripts/eval_series.sh builds and runs it, and
 * docs/gradient-eval.md holds its output.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/depth.h"
#include "abyss/setitec.h"
#include "abyss/sim.h"

#define EVAL_MAX_FILES 4096

struct eval_stat {
	size_t n;
	double v[EVAL_MAX_FILES];
};

static int eval_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double eval_q(const double *s, size_t n, double q)
{
	double p = q * (double)(n - 1);
	size_t i = (size_t)p;

	if (i + 1 >= n)
		return s[n - 1];
	return s[i] + (p - (double)i) * (s[i + 1] - s[i]);
}

/* "median IQR std" of st, or dashes. */
static void eval_print(const struct eval_stat *st)
{
	double s[EVAL_MAX_FILES], mean = 0.0, var = 0.0;
	size_t i;

	if (st->n == 0) {
		printf(" - | - | - |");
		return;
	}
	memcpy(s, st->v, st->n * sizeof(double));
	qsort(s, st->n, sizeof(double), eval_cmp);
	for (i = 0; i < st->n; i++)
		mean += s[i];
	mean /= (double)st->n;
	for (i = 0; i < st->n; i++)
		var += (s[i] - mean) * (s[i] - mean);
	var = st->n > 1 ? var / (double)(st->n - 1) : 0.0;
	printf(" %.2f | %.2f | %.2f |", eval_q(s, st->n, 0.5),
	       eval_q(s, st->n, 0.75) - eval_q(s, st->n, 0.25), sqrt(var));
}

static int eval_is_xls(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".xls") == 0;
}

static int eval_series(const char *label, const char *dir, enum abyss_method m,
		       struct abyss_scratch *scratch)
{
	static struct eval_stat tot, l1, l2;
	struct abyss_estimate_opts opts = {m, scratch, NULL};
	struct abyss_hole h;
	size_t files = 0, unreadable = 0, both = 0, trans = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d) {
		fprintf(stderr, "eval: cannot open %s\n", dir);
		return -1;
	}
	tot.n = l1.n = l2.n = 0;
	abyss_hole_init(&h);
	while ((de = readdir(d)) != NULL && files < EVAL_MAX_FILES) {
		char path[8192];
		struct abyss_estimate e;
		double dep[2];

		if (!eval_is_xls(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		files++;
		if (abyss_hole_load_setitec(path, NULL, &h, NULL) != 0) {
			if (getenv("EVAL_VERBOSE"))
				fprintf(stderr, "%s: unreadable\n", path);
			unreadable++;
			continue;
		}
		if (abyss_estimate(&h, &opts, &e, NULL) != 0 ||
		    abyss_estimate_depths(&e, dep) == 0) {
			if (getenv("EVAL_VERBOSE"))
				fprintf(stderr, "%s: %s FAILED: %s | %s\n",
					de->d_name, abyss_method_name(m),
					e.entry.reason, e.exit.reason);
			continue;
		}
		if (getenv("EVAL_VERBOSE"))
			fprintf(stderr,
				"%s: %s %.3f (%.2f) %.3f (%.2f) %.3f (%.2f)\n",
				de->d_name, abyss_method_name(m),
				e.entry.pos_mm, e.entry.confidence,
				e.transition.pos_mm, e.transition.confidence,
				e.exit.pos_mm, e.exit.confidence);
		both++;
		tot.v[tot.n++] = e.exit.pos_mm - e.entry.pos_mm;
		if (e.transition.found) {
			trans++;
			l1.v[l1.n++] = dep[0];
			l2.v[l2.n++] = dep[1];
		}
	}
	closedir(d);
	abyss_hole_free(&h);
	printf("| %s | %s | %zu | %.0f %% | %.0f %% |", label,
	       abyss_method_name(m), files - unreadable,
	       files > unreadable
		   ? 100.0 * (double)both / (double)(files - unreadable)
		   : 0.0,
	       files > unreadable
		   ? 100.0 * (double)trans / (double)(files - unreadable)
		   : 0.0);
	eval_print(&tot);
	eval_print(&l1);
	eval_print(&l2);
	printf("\n");
	return 0;
}

/* Series made of blocks of `group` consecutive holes on different coupons
 * (mdb-mql-1: Head Local Counter 1-10, 11-20, ... on one coupon each): one
 * row per block with the median, IQR and std of the total thickness. */
static void eval_groups(const char *label, const char *dir, long group,
			struct abyss_scratch *scratch)
{
	static double key[EVAL_MAX_FILES], total[EVAL_MAX_FILES];
	static struct eval_stat st;
	struct abyss_estimate_opts opts = {ABYSS_METHOD_GRADIENT, scratch,
					   NULL};
	struct abyss_hole h;
	struct dirent *de;
	size_t n = 0, i, j;
	double prev = -INFINITY;
	DIR *d = opendir(dir);

	if (!d || group < 1)
		return;
	abyss_hole_init(&h);
	while ((de = readdir(d)) != NULL && n < EVAL_MAX_FILES) {
		char path[8192];
		struct abyss_estimate e;
		long local;

		if (!eval_is_xls(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (abyss_hole_load_setitec(path, NULL, &h, NULL) != 0)
			continue;
		local = (long)h.local > 0 ? (long)h.local : 1;
		key[n] =
		    strtod(h.result_id, NULL) - (double)((local - 1) % group);
		total[n] = abyss_estimate(&h, &opts, &e, NULL) == 0
			       ? e.exit.pos_mm - e.entry.pos_mm
			       : NAN;
		n++;
	}
	closedir(d);
	abyss_hole_free(&h);
	printf("\n%s in blocks of %ld holes (by Head Global and Local "
	       "Counter):\n\n| first counter | holes | found | total median | "
	       "IQR | std |\n|---|---|---|---|---|---|\n",
	       label, group);
	for (;;) { /* distinct keys in increasing order */
		double k = INFINITY;
		size_t in = 0;

		for (j = 0; j < n; j++)
			if (key[j] > prev && key[j] < k)
				k = key[j];
		if (isinf(k))
			break;
		st.n = 0;
		for (i = 0; i < n; i++)
			if (key[i] == k) {
				in++;
				if (!isnan(total[i]))
					st.v[st.n++] = total[i];
			}
		printf("| %.0f | %zu | %zu |", k, in, st.n);
		eval_print(&st);
		printf("\n");
		prev = k;
	}
}

/* Simulated holes over a grid of stacks, programs and noise levels. */
static void eval_sim(long n, struct abyss_scratch *scratch)
{
	static const char *stacks[] = {"CFRP:8,Ti:12", "CFRP:10,Ti:6",
				       "Ti:5,CFRP:9",  "CFRP:15",
				       "Al:12",	       "CFRP:4,Al:8"};
	static const char *programs[] = {
	    "0:10:4000:3:tmax:0.3,1:7:4000:3,2:35:1000:0.75:tmin:2,3:1:4000:3",
	    "4:40:4500:4.35", "2:15.6:4000:3,3:20:1000:0.75",
	    "1:70:4500:2.85,2:10:750:0.375"};
	struct abyss_estimate_opts opts = {ABYSS_METHOD_GRADIENT, scratch,
					   NULL};
	double se = 0, sx = 0, st = 0, me = 0, mx = 0, mt = 0, mth = 0, sth = 0;
	long i, ok = 0, nt = 0, wrong_layers = 0;
	struct abyss_hole h;

	abyss_hole_init(&h);
	for (i = 0; i < n; i++) {
		struct abyss_sim_spec sp;
		struct abyss_sim_truth t;
		struct abyss_estimate e;
		double de, dx;

		abyss_sim_default(&sp);
		abyss_sim_parse_stack(stacks[i % 6], &sp, NULL);
		abyss_sim_parse_program(programs[(i / 6) % 4], &sp, NULL);
		sp.noise = 0.5 + (double)(i % 5) * 0.375; /* 0.5 .. 2 */
		if (abyss_sim_hole(&sp, (uint64_t)i, &h, &t) != 0)
			continue;
		if (abyss_estimate(&h, &opts, &e, NULL) != 0)
			continue;
		ok++;
		de = fabs(e.entry.pos_mm - t.entry_mm);
		dx = fabs(e.exit.pos_mm - t.exit_mm);
		se += de;
		sx += dx;
		me = fmax(me, de);
		mx = fmax(mx, dx);
		sth += fabs(dx - de);
		mth = fmax(mth, fabs((e.exit.pos_mm - e.entry.pos_mm) -
				     (t.exit_mm - t.entry_mm)));
		if ((t.ntransitions > 0) != (e.transition.found != 0))
			wrong_layers++;
		if (t.ntransitions && e.transition.found) {
			double dt =
			    fabs(e.transition.pos_mm - t.transition_mm[0]);

			st += dt;
			mt = fmax(mt, dt);
			nt++;
		}
	}
	abyss_hole_free(&h);
	printf("simulated holes: %ld, entry+exit found %ld, layer count "
	       "wrong %ld\n",
	       n, ok, wrong_layers);
	if (ok)
		printf("| keypoint | mean abs error (mm) | max abs error (mm) "
		       "|\n|---|---|---|\n| entry | %.3f | %.3f |\n| "
		       "transition | %.3f | %.3f |\n| exit | %.3f | %.3f |\n"
		       "| total thickness | - | %.3f |\n",
		       se / (double)ok, me, nt ? st / (double)nt : 0.0, mt,
		       sx / (double)ok, mx, mth);
}

int main(int argc, char **argv)
{
	struct abyss_scratch scratch;
	int i;

	abyss_scratch_init(&scratch);
	if (argc == 3 && strcmp(argv[1], "--sim") == 0) {
		eval_sim(strtol(argv[2], NULL, 10) > 0
			     ? strtol(argv[2], NULL, 10)
			     : 200,
			 &scratch);
		abyss_scratch_free(&scratch);
		return 0;
	}
	for (i = 1; i < argc; i++) {
		if (!strchr(argv[i], '@')) {
			printf(
			    "| series | method | files | entry+exit | "
			    "transition | total median | IQR | std | layer "
			    "1 median | IQR | std | layer 2 median | IQR | "
			    "std |\n|---|---|---|---|---|---|---|---|---|---|"
			    "---|---|---|---|\n");
			break;
		}
	}
	for (i = 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		char label[64];

		if (!eq || (size_t)(eq - argv[i]) >= sizeof(label)) {
			fprintf(stderr, "usage: eval_series NAME=DIR ... | "
					"--sim N\n");
			return 2;
		}
		memcpy(label, argv[i], (size_t)(eq - argv[i]));
		label[eq - argv[i]] = '\0';
		if (strchr(eq + 1, '@')) { /* NAME=DIR@GROUP */
			char dir[4096];
			const char *at = strrchr(eq + 1, '@');

			snprintf(dir, sizeof(dir), "%.*s", (int)(at - eq - 1),
				 eq + 1);
			eval_groups(label, dir, strtol(at + 1, NULL, 10),
				    &scratch);
			continue;
		}
		eval_series(label, eq + 1, ABYSS_METHOD_GRADIENT, &scratch);
		eval_series(label, eq + 1, ABYSS_METHOD_COMPAT, &scratch);
	}
	abyss_scratch_free(&scratch);
	return 0;
}
