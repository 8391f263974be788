/* test_hole.c - the hole record's memory, queries and stop-code names. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "abyss/depth.h"
#include "abyss/hole.h"

static void test_hole_alloc_sets_nan_and_zero(void **state)
{
	struct abyss_hole h;
	size_t i;

	(void)state;
	abyss_hole_init(&h);
	assert_int_equal(abyss_hole_alloc(&h, 5, 2), 0);
	assert_int_equal(h.n, 5);
	for (i = 0; i < 5; i++) {
		assert_true(isnan(h.position_mm[i]));
		assert_true(isnan(h.gap_mm[i]));
		assert_int_equal(h.step[i], 0);
		assert_int_equal(h.stop_code[i], 0);
	}
	assert_true(isnan(h.steps[1].torque_empty_a));
	abyss_hole_free(&h);
	assert_null(h.position_mm);
	abyss_hole_free(NULL);
}

static void test_hole_alloc_rejects_overflow(void **state)
{
	struct abyss_hole h;

	(void)state;
	abyss_hole_init(&h);
	assert_int_equal(abyss_hole_alloc(&h, (size_t)-1 / 2, 0),
			 ABYSS_ETOOBIG);
	assert_int_equal(h.n, 0);
}

static void test_hole_copy_and_steps(void **state)
{
	struct abyss_hole h, c;
	int32_t steps[] = {1, 1, 2, 2, 3, 1};
	size_t i;

	(void)state;
	abyss_hole_init(&h);
	abyss_hole_init(&c);
	assert_int_equal(abyss_hole_alloc(&h, 6, 0), 0);
	for (i = 0; i < 6; i++) {
		h.step[i] = steps[i];
		h.position_mm[i] = -(double)i;
	}
	snprintf(h.machine_id, sizeof(h.machine_id), "17070141");
	assert_int_equal(abyss_hole_distinct_steps(&h), 3);
	assert_int_equal(abyss_hole_first_of_step(&h, 2), 2);
	assert_int_equal(abyss_hole_first_of_step(&h, 7), -1);
	assert_int_equal(abyss_hole_copy(&c, &h), 0);
	assert_string_equal(c.machine_id, "17070141");
	assert_true(c.position_mm != h.position_mm);
	assert_memory_equal(c.position_mm, h.position_mm, 6 * sizeof(double));
	abyss_hole_free(&h);
	abyss_hole_free(&c);
}

static void test_hole_stop_code_names(void **state)
{
	char buf[128];

	(void)state;
	assert_string_equal(abyss_stop_code_name(0x800), "TORQUE_MIN");
	assert_string_equal(abyss_stop_code_name(0x40), "STROKE_LIMIT");
	assert_null(abyss_stop_code_name(0x3));
	assert_string_equal(abyss_stop_code_format(0x20002, buf, sizeof(buf)),
			    "TORQUE_LIMIT|MOTOR_SHORT_M2");
	assert_string_equal(abyss_stop_code_format(0, buf, sizeof(buf)),
			    "NONE");
	assert_string_equal(
	    abyss_stop_code_format(0x80000000u, buf, sizeof(buf)),
	    "0x80000000");
}

static void test_error_strings_and_diag(void **state)
{
	struct abyss_diag d;
	char buf[256];

	(void)state;
	assert_string_equal(abyss_strerror(ABYSS_EPARSE), "malformed input");
	assert_string_equal(abyss_errname(ABYSS_ETOOBIG), "ABYSS_ETOOBIG");
	assert_string_equal(abyss_strerror(12345), "unknown error");
	abyss_diag_init(&d);
	abyss_diag_set_file(&d, "a.xls");
	assert_int_equal(abyss_diag_set(&d, ABYSS_EPARSE, 3, 7, "bad %s", "x"),
			 ABYSS_EPARSE);
	assert_string_equal(abyss_diag_format(&d, buf, sizeof(buf)),
			    "a.xls:3:7: bad x (ABYSS_EPARSE)");
	assert_int_equal(abyss_diag_set(NULL, ABYSS_EIO, 0, 0, "x"), ABYSS_EIO);
}

static void test_estimate_depths_and_method_names(void **state)
{
	struct abyss_estimate e;
	double d[2];
	enum abyss_method m;

	(void)state;
	abyss_estimate_clear(&e, ABYSS_METHOD_COMPAT);
	assert_int_equal(abyss_estimate_depths(&e, d), 0);
	e.entry.found = e.exit.found = 1;
	e.entry.pos_mm = 4.5;
	e.exit.pos_mm = 18.5;
	assert_int_equal(abyss_estimate_depths(&e, d), 2);
	ASSERT_NEAR(d[0], 14.0, 1e-12);
	e.transition.found = 1;
	e.transition.pos_mm = 5.0;
	abyss_estimate_depths(&e, d);
	ASSERT_NEAR(d[0], 0.5, 1e-12);
	ASSERT_NEAR(d[1], 13.5, 1e-12);
	assert_int_equal(abyss_method_parse("gradient", &m), 0);
	assert_int_equal(m, ABYSS_METHOD_GRADIENT);
	assert_int_equal(abyss_method_parse("nope", &m), ABYSS_EINVAL);
	assert_string_equal(abyss_method_name(ABYSS_METHOD_ML), "ml");
}

static void test_scratch_limit(void **state)
{
	struct abyss_scratch s;

	(void)state;
	abyss_scratch_init(&s);
	s.max_bytes = 1 << 16;
	assert_non_null(abyss_scratch_get(&s, 100));
	assert_non_null(abyss_scratch_get(&s, 1 << 16));
	assert_null(abyss_scratch_get(&s, (1 << 16) + 1));
	abyss_scratch_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hole_alloc_sets_nan_and_zero),
	    cmocka_unit_test(test_hole_alloc_rejects_overflow),
	    cmocka_unit_test(test_hole_copy_and_steps),
	    cmocka_unit_test(test_hole_stop_code_names),
	    cmocka_unit_test(test_error_strings_and_diag),
	    cmocka_unit_test(test_estimate_depths_and_method_names),
	    cmocka_unit_test(test_scratch_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
