/*
 * test_sim.c - the drilling simulator: determinism, ground truth, signal
 * shape, spec parsing and validation, and the v9 / truth writers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/sim.h"
#include "testutil.h"

static int same_hole(const struct abyss_hole *a, const struct abyss_hole *b)
{
	size_t i;

	if (a->n != b->n || a->nsteps != b->nsteps)
		return 0;
	for (i = 0; i < a->n; i++)
		if (a->position_mm[i] != b->position_mm[i] ||
		    a->torque_a[i] != b->torque_a[i] ||
		    a->thrust_a[i] != b->thrust_a[i] ||
		    a->step[i] != b->step[i] ||
		    a->stop_code[i] != b->stop_code[i])
			return 0;
	return 1;
}

static void test_sim_deterministic_for_a_seed(void **state)
{
	struct abyss_sim_spec sp;
	struct abyss_hole a, b, c;
	struct abyss_sim_truth ta, tb;

	(void)state;
	abyss_sim_default(&sp);
	abyss_hole_init(&a);
	abyss_hole_init(&b);
	abyss_hole_init(&c);
	assert_int_equal(abyss_sim_hole(&sp, 42, &a, &ta), 0);
	assert_int_equal(abyss_sim_hole(&sp, 42, &b, &tb), 0);
	assert_int_equal(abyss_sim_hole(&sp, 43, &c, NULL), 0);
	assert_true(same_hole(&a, &b));
	assert_false(same_hole(&a, &c)); /* noise differs with the seed */
	assert_memory_equal(&ta, &tb, sizeof(ta));
	assert_int_equal(a.source, ABYSS_SOURCE_SIM);
	assert_int_equal(a.file_version, 9);
	abyss_hole_free(&a);
	abyss_hole_free(&b);
	abyss_hole_free(&c);
}

static void test_sim_truth_matches_the_stack(void **state)
{
	struct abyss_sim_spec sp;
	struct abyss_hole h;
	struct abyss_sim_truth t;

	(void)state;
	abyss_sim_default(&sp);
	assert_int_equal(abyss_sim_parse_stack("CFRP:7.5,Ti:4,Al:3", &sp, NULL),
			 0);
	sp.air_gap_mm = 0.5;
	abyss_hole_init(&h);
	assert_int_equal(abyss_sim_hole(&sp, 1, &h, &t), 0);
	ASSERT_NEAR(t.entry_mm, sp.start_mm + sp.approach_mm, 1e-12);
	assert_int_equal(t.ntransitions, 2);
	ASSERT_NEAR(t.transition_mm[0], t.entry_mm + 7.5 + 0.5, 1e-12);
	ASSERT_NEAR(t.transition_mm[1], t.transition_mm[0] + 4.0, 1e-12);
	ASSERT_NEAR(t.exit_mm, t.transition_mm[1] + 3.0, 1e-12);
	/* 118 degree point of a 6.35 mm drill */
	ASSERT_NEAR(t.point_ramp_mm, 3.175 / tan(59.0 * M_PI / 180.0), 1e-9);
	assert_int_equal(t.seed, 1);
	abyss_hole_free(&h);
}

/* Air before the entry, material levels in the stack, position negative and
 * decreasing, 100 Hz steps that follow the program, stop codes at the end of
 * each step. */
static void test_sim_signal_is_plausible(void **state)
{
	struct abyss_sim_spec sp;
	struct abyss_hole h;
	struct abyss_sim_truth t;
	double air = 0.0, cfrp = 0.0, ti = 0.0;
	size_t i, nair = 0, ncfrp = 0, nti = 0, ncodes = 0;
	double deepest = 0.0;

	(void)state;
	abyss_sim_default(&sp);
	abyss_hole_init(&h);
	assert_int_equal(abyss_sim_hole(&sp, 7, &h, &t), 0);
	assert_true(h.n > 1000);
	ASSERT_NEAR(h.position_mm[0], -sp.start_mm, 1e-9);
	for (i = 0; i < h.n; i++) {
		double d = -h.position_mm[i];

		if (d > deepest)
			deepest = d;
		if (d < t.entry_mm - 0.5 && h.step[i] == 0) {
			air += h.torque_a[i];
			nair++;
		} else if (d > t.entry_mm + 3 && d < t.transition_mm[0] - 1 &&
			   h.step[i] == 1) {
			cfrp += h.torque_a[i];
			ncfrp++;
		} else if (d > t.transition_mm[0] + 3 && d < t.exit_mm - 1 &&
			   h.step[i] == 2) {
			ti += h.torque_a[i];
			nti++;
		}
		if (h.stop_code[i])
			ncodes++;
		if (i > 0)
			assert_true(h.step[i] >= h.step[i - 1]);
	}
	assert_true(nair > 50 && ncfrp > 50 && nti > 50);
	ASSERT_NEAR(air / (double)nair, 0.0, 0.1);
	ASSERT_NEAR(cfrp / (double)ncfrp, 5.0, 1.0);
	ASSERT_NEAR(ti / (double)nti, 40.0, 5.0);
	assert_true(deepest > t.exit_mm); /* the program breaks through */
	/* every step ends with its stop code: contact, stroke, torque drop */
	assert_int_equal(h.nsteps, 4);
	assert_int_equal(h.steps[0].stop_code, 0x1);
	assert_int_equal(h.steps[1].stop_code, 0x40);
	assert_int_equal(h.steps[2].stop_code, 0x800);
	assert_int_equal(h.steps[3].stop_code, 0x40);
	assert_true(ncodes >= 4);
	/* values carry the 3 decimals of a Setitec file */
	for (i = 0; i < h.n; i++)
		ASSERT_NEAR(h.torque_a[i] * 1000.0,
			    nearbyint(h.torque_a[i] * 1000.0), 1e-6);
	abyss_hole_free(&h);
}

static void test_sim_parse_and_validate(void **state)
{
	struct abyss_sim_spec sp;
	struct abyss_diag d;

	(void)state;
	abyss_sim_default(&sp);
	abyss_diag_init(&d);
	assert_int_equal(abyss_sim_parse_stack("cfrp:8,TI:12", &sp, &d), 0);
	assert_string_equal(sp.layers[1].material, "Ti");
	assert_int_equal(abyss_sim_parse_stack("CFRP:8,Wood:3", &sp, &d),
			 ABYSS_EPARSE);
	assert_int_equal(d.col, 8);
	assert_int_equal(abyss_sim_parse_stack("CFRP:-1", &sp, &d),
			 ABYSS_EPARSE);
	assert_int_equal(abyss_sim_parse_stack("CFRP", &sp, &d), ABYSS_EPARSE);
	assert_int_equal(abyss_sim_parse_stack("", &sp, &d), ABYSS_EPARSE);
	assert_int_equal(
	    abyss_sim_parse_program("0:10:4000:3:tmax:0.5,2:30:1000:0.75:tmin",
				    &sp, &d),
	    0);
	assert_int_equal(sp.nsteps, 2);
	assert_int_equal(sp.steps[0].trigger, ABYSS_SIM_TRIG_TORQUE_MAX);
	ASSERT_NEAR(sp.steps[0].trigger_a, 0.5, 0);
	assert_int_equal(sp.steps[1].trigger, ABYSS_SIM_TRIG_TORQUE_MIN);
	ASSERT_NEAR(sp.steps[1].trigger_a, 2.0, 0);
	assert_int_equal(abyss_sim_parse_program("1:10:4000", &sp, &d),
			 ABYSS_EPARSE);
	assert_int_equal(abyss_sim_parse_program("1:10:4000:3:fast", &sp, &d),
			 ABYSS_EPARSE);
	assert_int_equal(abyss_sim_parse_program("1.5:10:4000:3", &sp, &d),
			 ABYSS_EPARSE);
	/* validation: a zero feed would never end */
	abyss_sim_default(&sp);
	sp.steps[1].feed_mm_s = 0.0;
	assert_int_equal(abyss_sim_validate(&sp, &d), ABYSS_ECONFIG);
	assert_true(strstr(d.msg, "feed") != NULL);
	{
		struct abyss_hole h;

		abyss_hole_init(&h);
		assert_int_equal(abyss_sim_hole(&sp, 1, &h, NULL),
				 ABYSS_EINVAL);
		assert_int_equal(h.n, 0);
	}
}

static void test_sim_sample_limit(void **state)
{
	struct abyss_sim_spec sp;
	struct abyss_hole h;

	(void)state;
	abyss_sim_default(&sp);
	/* 400 mm at 0.02 mm/s is 2,000,000 samples: over the limit */
	assert_int_equal(abyss_sim_parse_program("1:400:1000:0.02", &sp, NULL),
			 0);
	abyss_hole_init(&h);
	assert_int_equal(abyss_sim_hole(&sp, 1, &h, NULL), ABYSS_ETOOBIG);
	abyss_hole_free(&h);
}

/* The v9 writer: every section of a real v9 file, comma decimals, the
 * samples as they are in the hole. The full parser round trip is in
 * test_sim_setitec_round_trip once the parser is merged. */
static void test_sim_writes_v9_text(void **state)
{
	struct abyss_sim_spec sp;
	struct abyss_hole h;
	struct abyss_sim_truth t;
	char *buf = NULL, *p;
	size_t len = 0, i, rows = 0;
	FILE *f;
	static const char *sections[] = {
	    "*** General Infos ***", "*** Control Box Datas ***",
	    "*** Motor Datas ***",   "*** Head Datas ***",
	    "*** Pset ***",	     "*** Cycle Parameters ***",
	    "*** Program ***",	     "*** Results ***",
	    "*** Step Results ***",  "*** Datas ***"};

	(void)state;
	abyss_sim_default(&sp);
	abyss_hole_init(&h);
	assert_int_equal(abyss_sim_hole(&sp, 5, &h, &t), 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(abyss_sim_write_setitec(f, &h, &sp), 0);
	fclose(f);
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		assert_non_null(strstr(buf, sections[i]));
	assert_non_null(strstr(buf, "\n9\t"));
	assert_non_null(strstr(buf, "V 3.2.2.1"));
	p = strstr(buf, "Gap Length (mm)\n");
	assert_non_null(p);
	p = strchr(p, '\n') + 1;
	/* first sample row: the hole's first position with a comma */
	{
		char want[64];

		snprintf(want, sizeof(want), "%.3f", h.position_mm[0]);
		*strchr(want, '.') = ',';
		assert_int_equal(strncmp(p, want, strlen(want)), 0);
	}
	for (; *p; p++)
		rows += *p == '\n';
	/* one line per sample; the file ends with the last row's newline
	 * and no blank line, as real files */
	assert_int_equal(rows, h.n);
	assert_true(buf[len - 1] == '\n' && buf[len - 2] != '\n');
	/* comma decimals only in the samples */
	assert_null(strchr(strstr(buf, "Gap Length (mm)\n"), '.'));
	free(buf);

	buf = NULL;
	f = open_memstream(&buf, &len);
	assert_int_equal(abyss_sim_write_truth(f, &t, &sp), 0);
	fclose(f);
	assert_non_null(strstr(buf, "\"entry_mm\": 4.673000"));
	assert_non_null(strstr(buf, "\"transition_mm\": [12.673000]"));
	assert_non_null(strstr(buf, "\"exit_mm\": 24.673000"));
	assert_non_null(strstr(buf, "\"seed\": 5"));
	assert_non_null(strstr(buf, "\"material\": \"Ti\""));
	free(buf);
	abyss_hole_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sim_deterministic_for_a_seed),
	    cmocka_unit_test(test_sim_truth_matches_the_stack),
	    cmocka_unit_test(test_sim_signal_is_plausible),
	    cmocka_unit_test(test_sim_parse_and_validate),
	    cmocka_unit_test(test_sim_sample_limit),
	    cmocka_unit_test(test_sim_writes_v9_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
