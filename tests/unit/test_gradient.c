/*
 * test_gradient.c - the gradient estimator against simulated ground truth
 * (stacks, programs, noise), its failure reasons, its invariances, and its
 * coverage and precision on the real series (skipped without the data), and
 * the simulator's file and MQTT round trips through the real readers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abyss/depth.h"
#include "abyss/gradient.h"
#include "abyss/hole_io.h"
#include "abyss/message.h"
#include "abyss/setitec.h"
#include "abyss/sim.h"
#include "testutil.h"

static const char *const stacks[] = {"CFRP:8,Ti:12", "CFRP:10,Ti:6",
				     "Ti:5,CFRP:9",  "CFRP:15",
				     "Al:12",	     "CFRP:4,Al:8"};
static const char *const programs[] = {
    /* MDB-like: contact, CFRP step, slow Ti step ending on a torque drop */
    "0:10:4000:3:tmax:0.3,1:7:4000:3,2:35:1000:0.75:tmin:2,3:1:4000:3",
    /* TUHH V9/V10: one step, numbered 4 */
    "4:40:4500:4.35",
    /* HAM-like: a long fast step 1, then slow */
    "1:70:4500:2.85,2:10:750:0.375"};

static int estimate(const struct abyss_hole *h, struct abyss_scratch *s,
		    struct abyss_estimate *e)
{
	struct abyss_estimate_opts o = {ABYSS_METHOD_GRADIENT, s, NULL};

	return abyss_estimate(h, &o, e, NULL);
}

/* Every stack x program x noise level x 8 seeds: all keypoints found, the
 * layer count right, every position within 0.4 mm of the truth and the mean
 * error below 0.05 mm (measured: max 0.31, mean 0.021). */
static void test_gradient_matches_simulated_truth(void **state)
{
	static const double noise[] = {0.0, 0.5, 1.0};
	struct abyss_scratch s;
	struct abyss_hole h;
	double sum = 0.0, worst = 0.0;
	size_t n = 0, a, b, k;
	uint64_t seed;

	(void)state;
	abyss_scratch_init(&s);
	abyss_hole_init(&h);
	for (a = 0; a < 6; a++)
		for (b = 0; b < 3; b++)
			for (k = 0; k < 3; k++)
				for (seed = 0; seed < 8; seed++) {
					struct abyss_sim_spec sp;
					struct abyss_sim_truth t;
					struct abyss_estimate e;
					double err[3];
					int i;

					abyss_sim_default(&sp);
					assert_int_equal(
					    abyss_sim_parse_stack(stacks[a],
								  &sp, NULL),
					    0);
					assert_int_equal(
					    abyss_sim_parse_program(programs[b],
								    &sp, NULL),
					    0);
					sp.noise = noise[k];
					assert_int_equal(
					    abyss_sim_hole(&sp, seed, &h, &t),
					    0);
					if (estimate(&h, &s, &e) != 0)
						fail_msg(
						    "%s %s noise %g seed %d: "
						    "%s / %s",
						    stacks[a], programs[b],
						    noise[k], (int)seed,
						    e.entry.reason,
						    e.exit.reason);
					assert_int_equal(
					    e.nlayers, (int)t.ntransitions + 1);
					err[0] = e.entry.pos_mm - t.entry_mm;
					err[1] = e.exit.pos_mm - t.exit_mm;
					err[2] = t.ntransitions
						     ? e.transition.pos_mm -
							   t.transition_mm[0]
						     : 0.0;
					for (i = 0; i < 3; i++) {
						if (fabs(err[i]) > 0.4)
							fail_msg(
							    "%s %s noise %g "
							    "seed %d: keypoint "
							    "%d off by %.3f mm",
							    stacks[a],
							    programs[b],
							    noise[k], (int)seed,
							    i, err[i]);
						worst =
						    fmax(worst, fabs(err[i]));
						sum += fabs(err[i]);
						n++;
					}
					assert_true(e.entry.confidence > 0.5);
					assert_true(e.exit.confidence > 0.5);
				}
	print_message("gradient vs truth: %zu keypoints, mean %.3f mm, max "
		      "%.3f mm\n",
		      n, sum / (double)n, worst);
	assert_true(sum / (double)n < 0.05);
	abyss_hole_free(&h);
	abyss_scratch_free(&s);
}

/* Positions may come positive (the MQTT path); the result is the same. */
static void test_gradient_sign_convention_does_not_matter(void **state)
{
	struct abyss_sim_spec sp;
	struct abyss_hole h, p;
	struct abyss_estimate e1, e2;
	size_t i;

	(void)state;
	abyss_sim_default(&sp);
	abyss_hole_init(&h);
	abyss_hole_init(&p);
	assert_int_equal(abyss_sim_hole(&sp, 3, &h, NULL), 0);
	assert_int_equal(abyss_hole_copy(&p, &h), 0);
	for (i = 0; i < p.n; i++)
		p.position_mm[i] = -p.position_mm[i];
	assert_int_equal(estimate(&h, NULL, &e1), 0);
	assert_int_equal(estimate(&p, NULL, &e2), 0);
	ASSERT_NEAR(e1.entry.pos_mm, e2.entry.pos_mm, 1e-9);
	ASSERT_NEAR(e1.transition.pos_mm, e2.transition.pos_mm, 1e-9);
	ASSERT_NEAR(e1.exit.pos_mm, e2.exit.pos_mm, 1e-9);
	abyss_hole_free(&h);
	abyss_hole_free(&p);
}

/* Step numbers and stop codes are hints only: wiping them changes nothing
 * on a one-step program, and renumbering steps changes nothing at all. */
static void test_gradient_step_numbers_are_only_hints(void **state)
{
	struct abyss_sim_spec sp;
	struct abyss_hole h;
	struct abyss_estimate e1, e2;
	size_t i;

	(void)state;
	abyss_sim_default(&sp);
	assert_int_equal(abyss_sim_parse_program("2:40:4500:4.35", &sp, NULL),
			 0);
	abyss_hole_init(&h);
	assert_int_equal(abyss_sim_hole(&sp, 9, &h, NULL), 0);
	assert_int_equal(estimate(&h, NULL, &e1), 0);
	for (i = 0; i < h.n; i++) {
		h.step[i] = 7;
		h.stop_code[i] = 0;
	}
	assert_int_equal(estimate(&h, NULL, &e2), 0);
	ASSERT_NEAR(e1.entry.pos_mm, e2.entry.pos_mm, 1e-9);
	ASSERT_NEAR(e1.transition.pos_mm, e2.transition.pos_mm, 1e-9);
	ASSERT_NEAR(e1.exit.pos_mm, e2.exit.pos_mm, 1e-9);
	abyss_hole_free(&h);
}

static void test_gradient_reasons_when_not_found(void **state)
{
	struct abyss_sim_spec sp;
	struct abyss_hole h;
	struct abyss_estimate e;
	struct abyss_diag d;
	size_t i;

	(void)state;
	abyss_diag_init(&d);
	abyss_hole_init(&h);

	/* a drill that stops in the titanium never breaks through */
	abyss_sim_default(&sp);
	assert_int_equal(
	    abyss_sim_parse_program("1:16:4000:3,2:4:1000:0.75", &sp, NULL), 0);
	assert_int_equal(abyss_sim_hole(&sp, 2, &h, NULL), 0);
	assert_int_equal(abyss_estimate(&h,
					&(struct abyss_estimate_opts){
					    ABYSS_METHOD_GRADIENT, NULL, NULL},
					&e, &d),
			 ABYSS_ENOTFOUND);
	assert_true(e.entry.found);
	assert_false(e.exit.found);
	assert_int_equal(e.exit.code, ABYSS_ENOTFOUND);
	assert_non_null(strstr(e.exit.reason, "did not break through"));
	assert_non_null(strstr(d.msg, "exit"));

	/* drilling air: no entry, and the exit says why */
	for (i = 0; i < h.n; i++)
		h.torque_a[i] = 0.05 * (double)(i % 3);
	assert_int_equal(estimate(&h, NULL, &e), ABYSS_ENOTFOUND);
	assert_false(e.entry.found);
	assert_non_null(strstr(e.entry.reason, "never rises"));
	assert_false(e.exit.found);
	assert_true(e.exit.reason[0] != '\0');

	/* a hole that starts inside the part */
	abyss_sim_default(&sp);
	sp.approach_mm = 0.0;
	assert_int_equal(abyss_sim_parse_program("1:40:4500:4.35", &sp, NULL),
			 0);
	assert_int_equal(abyss_sim_hole(&sp, 2, &h, NULL), 0);
	for (i = 0; i < h.n; i++)
		h.torque_a[i] += 5.0;
	assert_int_equal(estimate(&h, NULL, &e), ABYSS_ENOTFOUND);
	assert_non_null(strstr(e.entry.reason, "starts inside"));

	/* too short, and a drill that never advances */
	assert_int_equal(abyss_hole_alloc(&h, 5, 0), 0);
	assert_int_equal(estimate(&h, NULL, &e), ABYSS_ESHORT);
	assert_int_equal(abyss_hole_alloc(&h, 100, 0), 0);
	for (i = 0; i < h.n; i++) {
		h.position_mm[i] = -1.0;
		h.torque_a[i] = 0.0;
	}
	assert_int_equal(estimate(&h, NULL, &e), ABYSS_ESHORT);
	assert_non_null(strstr(e.entry.reason, "does not advance"));
	abyss_hole_free(&h);
}

/* Retract, dwell and NaN samples are ignored; the result stays put. */
static void test_gradient_ignores_retract_and_nan(void **state)
{
	struct abyss_sim_spec sp;
	struct abyss_hole h;
	struct abyss_estimate e1, e2;

	(void)state;
	abyss_sim_default(&sp);
	sp.retract_mm = 0.0;
	sp.dwell_s = 0.0;
	abyss_hole_init(&h);
	assert_int_equal(abyss_sim_hole(&sp, 4, &h, NULL), 0);
	assert_int_equal(estimate(&h, NULL, &e1), 0);
	sp.retract_mm = 20.0;
	sp.dwell_s = 3.0;
	assert_int_equal(abyss_sim_hole(&sp, 4, &h, NULL), 0);
	h.torque_a[h.n / 2] = NAN;
	h.position_mm[h.n / 3] = NAN;
	assert_int_equal(estimate(&h, NULL, &e2), 0);
	ASSERT_NEAR(e1.entry.pos_mm, e2.entry.pos_mm, 0.05);
	ASSERT_NEAR(e1.transition.pos_mm, e2.transition.pos_mm, 0.05);
	ASSERT_NEAR(e1.exit.pos_mm, e2.exit.pos_mm, 0.05);
	abyss_hole_free(&h);
}

/* A warm scratch is reused: the second call allocates nothing. */
static void test_gradient_reuses_scratch(void **state)
{
	struct abyss_sim_spec sp;
	struct abyss_hole h;
	struct abyss_estimate e;
	struct abyss_scratch s;
	struct abyss_gradient_info inf;
	void *buf;

	(void)state;
	abyss_sim_default(&sp);
	abyss_hole_init(&h);
	abyss_scratch_init(&s);
	assert_int_equal(abyss_sim_hole(&sp, 8, &h, NULL), 0);
	assert_int_equal(abyss_gradient_estimate(&h, NULL, &s, &e, &inf, NULL),
			 0);
	buf = s.buf;
	assert_non_null(buf);
	assert_true(s.cap >= 5 * inf.nbins * sizeof(double));
	assert_int_equal(abyss_gradient_estimate(&h, NULL, &s, &e, &inf, NULL),
			 0);
	assert_ptr_equal(s.buf, buf);
	assert_int_equal(inf.repaired_dips, 1); /* the 4000 -> 1000 rpm dip */
	assert_true(inf.contrast > 0.7 && inf.r2 > 0.8);
	/* a scratch limit too small for the hole fails cleanly */
	abyss_scratch_free(&s);
	s.max_bytes = 1024;
	assert_int_equal(abyss_gradient_estimate(&h, NULL, &s, &e, NULL, NULL),
			 ABYSS_ENOMEM);
	assert_false(e.entry.found);
	abyss_scratch_free(&s);
	abyss_hole_free(&h);
}

struct series_result {
	size_t files, found, trans;
	double total[1024];
};

static int series_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Runs gradient on every .xls of a data folder; NULL when it is absent. */
static struct series_result *run_series(const char *rel)
{
	static struct series_result r;
	const char *dir = data_path(rel);
	struct abyss_scratch s;
	struct abyss_hole h;
	struct dirent *de;
	DIR *d;

	if (!dir)
		return NULL;
	d = opendir(dir);
	if (!d)
		return NULL;
	memset(&r, 0, sizeof(r));
	abyss_scratch_init(&s);
	abyss_hole_init(&h);
	while ((de = readdir(d)) != NULL && r.files < 1024) {
		char path[4096];
		size_t n = strlen(de->d_name);
		struct abyss_estimate e;

		if (n < 5 || strcmp(de->d_name + n - 4, ".xls") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (abyss_hole_load_setitec(path, NULL, &h, NULL) != 0)
			continue;
		r.files++;
		if (estimate(&h, &s, &e) != 0)
			continue;
		r.total[r.found++] = e.exit.pos_mm - e.entry.pos_mm;
		r.trans += e.transition.found != 0;
	}
	closedir(d);
	abyss_hole_free(&h);
	abyss_scratch_free(&s);
	qsort(r.total, r.found, sizeof(double), series_cmp);
	return &r;
}

static double series_iqr(const struct series_result *r)
{
	return r->total[(r->found * 3) / 4] - r->total[r->found / 4];
}

/* Measured (docs/gradient-eval.md): TUHH V9 20/20 found, total 14.95 mm,
 * IQR 0.11; V8 80/80, 14.85, IQR 0.06; V6 149/150, IQR 0.10; MDB 3/3;
 * HAM_lower 3/3, 21.04, IQR 0.05. */
static void test_gradient_real_series_coverage(void **state)
{
	struct series_result *r;

	(void)state;
	r = run_series("abyss/test_data/TUHH/009_V9");
	REQUIRE_DATA(r);
	assert_int_equal(r->files, 20);
	assert_int_equal(r->found, r->files);
	assert_int_equal(r->trans, r->files);
	ASSERT_NEAR(r->total[r->found / 2], 14.95, 0.3);
	assert_true(series_iqr(r) < 0.3);

	r = run_series("abyss/test_data/TUHH/008_V8");
	REQUIRE_DATA(r);
	assert_int_equal(r->found, r->files);
	ASSERT_NEAR(r->total[r->found / 2], 14.85, 0.3);
	assert_true(series_iqr(r) < 0.12);

	r = run_series("abyss/test_data/TUHH/006_V6");
	REQUIRE_DATA(r);
	assert_int_equal(r->files, 150);
	assert_true(r->found >= 147); /* 149: one did not break through */
	assert_true(series_iqr(r) < 0.2);

	r = run_series("abyss/test_data/MDB");
	REQUIRE_DATA(r);
	assert_int_equal(r->files, 3);
	assert_int_equal(r->found, 3);
	assert_int_equal(r->trans, 3);

	r = run_series("abyss/test_data/HAM_lower");
	REQUIRE_DATA(r);
	assert_int_equal(r->found, r->files);
	assert_int_equal(r->trans, r->files);
	ASSERT_NEAR(r->total[r->found / 2], 21.04, 0.3);
	assert_true(series_iqr(r) < 0.25);
}

/* The simulator's v9 file read back by the real parser is the same hole. */
static void test_gradient_sim_file_round_trip(void **state)
{
	struct abyss_sim_spec sp;
	struct abyss_hole h, back;
	struct abyss_diag d;
	char path[] = "/tmp/abyss_sim_rt_XXXXXX";
	FILE *f;
	size_t i;
	int fd;

	(void)state;
	abyss_sim_default(&sp);
	abyss_hole_init(&h);
	abyss_hole_init(&back);
	abyss_diag_init(&d);
	assert_int_equal(abyss_sim_hole(&sp, 11, &h, NULL), 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "wb");
	assert_non_null(f);
	assert_int_equal(abyss_sim_write_setitec(f, &h, &sp), 0);
	fclose(f);
	if (abyss_hole_load_setitec(path, NULL, &back, &d) != 0)
		fail_msg("%s: %s", path, d.msg);
	remove(path);
	assert_int_equal(back.n, h.n);
	assert_int_equal(back.file_version, 9);
	for (i = 0; i < h.n; i++) {
		assert_true(back.position_mm[i] == h.position_mm[i]);
		assert_true(back.torque_a[i] == h.torque_a[i]);
		assert_true(back.thrust_a[i] == h.thrust_a[i]);
		assert_true(back.torque_empty_a[i] == h.torque_empty_a[i]);
		assert_true(back.step[i] == h.step[i]);
		assert_true(back.stop_code[i] == h.stop_code[i]);
	}
	assert_int_equal(back.nsteps, h.nsteps);
	for (i = 0; i < h.nsteps; i++) {
		assert_int_equal(back.steps[i].step, h.steps[i].step);
		assert_int_equal(back.steps[i].stop_code, h.steps[i].stop_code);
	}
	assert_string_equal(back.machine_id, h.machine_id);
	assert_string_equal(back.result_id, h.result_id);
	assert_string_equal(back.head_id, h.head_id);
	abyss_hole_free(&h);
	abyss_hole_free(&back);
}
/* The simulator's hole as MQTT messages, read back by the message loader:
 * same samples, same estimate. */
static void test_gradient_sim_mqtt_round_trip(void **state)
{
	static const char *const names[3] = {"ResultManagement.json",
					     "Trace.json", "Heads.json"};
	struct abyss_sim_spec sp;
	struct abyss_hole h, back;
	struct abyss_estimate e1, e2;
	struct abyss_diag d;
	char dir[] = "/tmp/abyss_sim_mq_XXXXXX", path[256], *msg[3];
	size_t i;

	(void)state;
	abyss_sim_default(&sp);
	abyss_hole_init(&h);
	abyss_hole_init(&back);
	abyss_diag_init(&d);
	assert_int_equal(abyss_sim_hole(&sp, 12, &h, NULL), 0);
	assert_int_equal(
	    abyss_hole_to_msgs(&h, NULL, &msg[0], &msg[1], &msg[2]), 0);
	assert_non_null(mkdtemp(dir));
	for (i = 0; i < 3; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		f = fopen(path, "wb");
		assert_non_null(f);
		fputs(msg[i], f);
		fclose(f);
		free(msg[i]);
	}
	if (abyss_hole_from_msg_folder(dir, NULL, &back, &d) != 0)
		fail_msg("%s: %s", d.file, d.msg);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		remove(path);
	}
	rmdir(dir);
	assert_int_equal(back.n, h.n);
	for (i = 0; i < h.n; i++) {
		assert_true(back.torque_a[i] == h.torque_a[i]);
		assert_true(fabs(back.position_mm[i]) ==
			    fabs(h.position_mm[i]));
	}
	assert_int_equal(estimate(&h, NULL, &e1), 0);
	assert_int_equal(estimate(&back, NULL, &e2), 0);
	ASSERT_NEAR(e1.entry.pos_mm, e2.entry.pos_mm, 1e-9);
	ASSERT_NEAR(e1.transition.pos_mm, e2.transition.pos_mm, 1e-9);
	ASSERT_NEAR(e1.exit.pos_mm, e2.exit.pos_mm, 1e-9);
	abyss_hole_free(&h);
	abyss_hole_free(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gradient_matches_simulated_truth),
	    cmocka_unit_test(test_gradient_sign_convention_does_not_matter),
	    cmocka_unit_test(test_gradient_step_numbers_are_only_hints),
	    cmocka_unit_test(test_gradient_reasons_when_not_found),
	    cmocka_unit_test(test_gradient_ignores_retract_and_nan),
	    cmocka_unit_test(test_gradient_reuses_scratch),
	    cmocka_unit_test(test_gradient_real_series_coverage),
	    cmocka_unit_test(test_gradient_sim_file_round_trip),
	    cmocka_unit_test(test_gradient_sim_mqtt_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
