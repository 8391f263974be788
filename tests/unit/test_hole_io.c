/* test_hole_io.c - writing holes: shortest round-trip floats, JSON and CSV
 * output, and MQTT messages that decode back to the same hole. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/hole.h"
#include "abyss/hole_io.h"
#include "abyss/message.h"

#define TD "abyss/src/abyss/test_data/"

/* ---- floats ---------------------------------------------------------------
 */

static void test_hole_io_fmt_double_python_repr(void **state)
{
	/* expected strings are Python 3's repr() of the same doubles */
	static const struct {
		double v;
		const char *s;
	} cases[] = {
	    {0.0, "0.0"},
	    {-0.0, "-0.0"},
	    {1.0, "1.0"},
	    {5.01, "5.01"},
	    {18.488275003433227, "18.488275003433227"},
	    {0.1, "0.1"},
	    {1e16, "1e+16"},
	    {1e15, "1000000000000000.0"},
	    {123456789012345678.0, "1.2345678901234568e+17"},
	    {1.5e-7, "1.5e-07"},
	    {0.0001, "0.0001"},
	    {0.00012345, "0.00012345"},
	    {1e-05, "1e-05"},
	    {-32.029, "-32.029"},
	    {4.9406564584124654e-324, "5e-324"},
	    {1.7976931348623157e308, "1.7976931348623157e+308"},
	    {1.0 / 3.0, "0.3333333333333333"},
	    {100.0, "100.0"},
	    {1e22, "1e+22"},
	    {9007199254740993.0, "9007199254740992.0"},
	    {-0.642, "-0.642"},
	};
	char buf[ABYSS_FMT_DOUBLE_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = abyss_fmt_double(buf, sizeof(buf), cases[i].v);
		assert_int_equal(n, (int)strlen(cases[i].s));
		assert_string_equal(buf, cases[i].s);
	}
	assert_true(abyss_fmt_double(buf, sizeof(buf), NAN) > 0);
	assert_string_equal(buf, "NaN");
	abyss_fmt_double(buf, sizeof(buf), -INFINITY);
	assert_string_equal(buf, "-Infinity");
	assert_int_equal(abyss_fmt_double(buf, 4, 5.01), ABYSS_ETOOBIG);
	assert_string_equal(buf, "");
	assert_int_equal(abyss_fmt_double(buf, 5, 5.01), 4);
}

static void test_hole_io_fmt_double_round_trips(void **state)
{
	char buf[ABYSS_FMT_DOUBLE_MAX];
	uint64_t s = 0x9e3779b97f4a7c15ULL, bits;
	double v;
	int i;

	(void)state;
	/* random bit patterns cover every exponent and subnormals */
	for (i = 0; i < 20000; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		bits = s;
		memcpy(&v, &bits, sizeof(v));
		if (!isfinite(v))
			continue;
		assert_true(abyss_fmt_double(buf, sizeof(buf), v) > 0);
		if (strtod(buf, NULL) != v)
			fail_msg("%s does not read back as %a", buf, v);
	}
}

/* ---- MQTT messages round trip ------------------------------------------- */

static void assert_same_d(const double *a, const double *b, size_t n,
			  const char *what)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!(a[i] == b[i] || (isnan(a[i]) && isnan(b[i]))))
			fail_msg("%s[%zu]: %.17g != %.17g", what, i, a[i],
				 b[i]);
}

static void assert_same_hole(const struct abyss_hole *a,
			     const struct abyss_hole *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	assert_same_d(a->position_mm, b->position_mm, a->n, "position");
	assert_same_d(a->torque_a, b->torque_a, a->n, "torque");
	assert_same_d(a->thrust_a, b->thrust_a, a->n, "thrust");
	assert_same_d(a->torque_empty_a, b->torque_empty_a, a->n,
		      "torque_empty");
	assert_same_d(a->thrust_empty_a, b->thrust_empty_a, a->n,
		      "thrust_empty");
	assert_same_d(a->power_w, b->power_w, a->n, "power");
	assert_same_d(a->gap_mm, b->gap_mm, a->n, "gap");
	for (i = 0; i < a->n; i++)
		assert_int_equal(a->step[i], b->step[i]);
	assert_int_equal(a->nsteps, b->nsteps);
	for (i = 0; i < a->nsteps; i++) {
		const struct abyss_step_result *x = &a->steps[i],
					       *y = &b->steps[i];
		assert_int_equal(x->step, y->step);
		assert_int_equal(x->stop_code, y->stop_code);
		assert_same_d(&x->torque_empty_a, &y->torque_empty_a, 1, "te");
		assert_same_d(&x->thrust_empty_a, &y->thrust_empty_a, 1, "th");
		assert_same_d(&x->duration_s, &y->duration_s, 1, "dur");
		assert_same_d(&x->distance_m1_mm, &y->distance_m1_mm, 1, "d1");
		assert_same_d(&x->distance_m2_mm, &y->distance_m2_mm, 1, "d2");
		assert_same_d(&x->m1_max_a, &y->m1_max_a, 1, "m1");
		assert_same_d(&x->m2_max_a, &y->m2_max_a, 1, "m2");
		assert_same_d(&x->gap_max_mm, &y->gap_max_mm, 1, "gap");
	}
	assert_string_equal(a->machine_id, b->machine_id);
	assert_string_equal(a->result_id, b->result_id);
	assert_string_equal(a->head_id, b->head_id);
	assert_true(a->timestamp_s == b->timestamp_s);
}

/* to_msgs, then parse and decode the three messages into `back`. */
static void round_trip(const struct abyss_hole *h,
		       const struct abyss_msg_write_opts *o,
		       struct abyss_hole *back)
{
	char *r = NULL, *t = NULL, *hd = NULL;
	struct abyss_msg *mr = NULL, *mt = NULL, *mh = NULL;
	struct abyss_diag d;
	char msg[1024];
	int rc;

	abyss_diag_init(&d);
	assert_int_equal(abyss_hole_to_msgs(h, o, &r, &t, &hd), 0);
	rc = abyss_msg_parse("OPCPUBSUB/TB/tool/ResultManagement", r, strlen(r),
			     NULL, &mr, &d);
	if (rc == 0)
		rc = abyss_msg_parse("OPCPUBSUB/TB/tool/ResultManagement/Trace",
				     t, strlen(t), NULL, &mt, &d);
	if (rc == 0)
		rc = abyss_msg_parse("OPCPUBSUB/TB/tool/AssetManagement/Heads",
				     hd, strlen(hd), NULL, &mh, &d);
	if (rc == 0)
		rc = abyss_hole_from_msgs(mr, mt, mh, NULL, back, &d);
	if (rc)
		fail_msg("round trip: %s",
			 abyss_diag_format(&d, msg, sizeof(msg)));
	assert_string_equal(back->tool_key, "TB/tool");
	abyss_msg_free(mr);
	abyss_msg_free(mt);
	abyss_msg_free(mh);
	free(r);
	free(t);
	free(hd);
}

static void test_hole_io_msgs_round_trip_folders(void **state)
{
	static const char *folders[] = {TD "data0", TD "data1", TD "data2",
					TD "data_20250326", TD "data_20250623"};
	struct abyss_msg_write_opts o = abyss_msg_write_opts_default();
	struct abyss_hole h, back;
	struct abyss_diag d;
	size_t i;

	(void)state;
	REQUIRE_DATA(data_path(TD "data0/Trace.json"));
	abyss_hole_init(&h);
	abyss_hole_init(&back);
	for (i = 0; i < sizeof(folders) / sizeof(folders[0]); i++) {
		const char *p = data_path(folders[i]);
		assert_non_null(p);
		assert_int_equal(abyss_hole_from_msg_folder(p, NULL, &h, &d),
				 0);
		/* alternate the 2024 and the 2025-06 key styles */
		o.measured_value = (int)(i & 1);
		o.device =
		    i & 1 ? "E0025C6395081C56_A4HL-LG_ST_13_16" : "abyss";
		round_trip(&h, &o, &back);
		assert_same_hole(&h, &back);
		assert_int_equal(back.local, h.local);
	}
	abyss_hole_free(&h);
	abyss_hole_free(&back);
}

static void test_hole_io_msgs_round_trip_synthetic(void **state)
{
	struct abyss_msg_write_opts o = abyss_msg_write_opts_default();
	struct abyss_hole h, back;
	size_t i;

	(void)state;
	abyss_hole_init(&h);
	abyss_hole_init(&back);
	assert_int_equal(abyss_hole_alloc(&h, 7, 1), 0);
	for (i = 0; i < h.n; i++) {
		h.position_mm[i] = -0.1 * (double)i - 1e-9;
		h.torque_a[i] = 1.0 / (double)(i + 3);
		h.thrust_a[i] = i == 3 ? NAN : 1e-300 * (double)i;
		h.step[i] = 5;
		h.power_w[i] = i == 2 ? NAN : 106.0 + (double)i;
		h.gap_mm[i] = NAN;
		h.torque_empty_a[i] = 4.5;
		h.thrust_empty_a[i] = 0.25;
	}
	h.steps[0].step = 5;
	h.steps[0].stop_code = 0x80000001u;
	h.steps[0].torque_empty_a = 4.5;
	h.steps[0].thrust_empty_a = 0.25;
	h.steps[0].duration_s = 1.0 / 7.0;
	/* ids that are not canonical integers travel as strings */
	snprintf(h.machine_id, sizeof(h.machine_id), "0042");
	snprintf(h.result_id, sizeof(h.result_id), "77");
	snprintf(h.head_id, sizeof(h.head_id), "E004 \"q\"\\x");
	h.timestamp_s = 1733339682.125;
	o.device = "dev\"ice";
	o.ns = "http://airbus.com/IJT/AFastening";
	round_trip(&h, &o, &back);
	assert_same_hole(&h, &back);
	assert_int_equal(back.local, 77);

	/* one step is written as scalars, as the drills do */
	{
		char *r = NULL;
		assert_int_equal(abyss_hole_to_msgs(&h, NULL, &r, NULL, NULL),
				 0);
		assert_non_null(strstr(r, "StepNumber\": {\"Value\": 5,"));
		assert_non_null(strstr(r, "SerialNumber\": {\"Value\": "
					  "\"0042\","));
		assert_non_null(strstr(r, "ResultId\": {\"Value\": 77,"));
		assert_non_null(strstr(r, "\"SourceTimestamp\": "
					  "\"2024-12-04T19:14:42.125Z\""));
		free(r);
	}
	abyss_hole_free(&h);
	abyss_hole_free(&back);
}

static void test_hole_io_msgs_layout(void **state)
{
	struct abyss_msg_write_opts o = abyss_msg_write_opts_default();
	struct abyss_hole h;
	char *r = NULL, *t = NULL, *hd = NULL, *t2 = NULL;
	json_t *root, *pl;
	json_error_t err;
	const char *k;
	void *it;
	size_t i;

	(void)state;
	abyss_hole_init(&h);
	assert_int_equal(abyss_hole_alloc(&h, 3, 2), 0);
	for (i = 0; i < 3; i++) {
		h.position_mm[i] = -(double)i;
		h.torque_a[i] = h.thrust_a[i] = 0.5;
		h.step[i] = (int32_t)(1 + i / 2);
	}
	h.steps[0].step = 1;
	h.steps[1].step = 2;
	snprintf(h.machine_id, sizeof(h.machine_id), "17070141");
	snprintf(h.result_id, sizeof(h.result_id), "2409");
	h.timestamp_s = 1733339682.0;
	o.measured_value = 1;
	o.device = "setitec40";
	assert_int_equal(abyss_hole_to_msgs(&h, &o, &r, &t, &hd), 0);

	/* envelope of §3.2 */
	root = json_loads(r, 0, &err);
	assert_non_null(root);
	assert_string_equal(
	    json_string_value(json_object_get(root, "MessageType")), "ua-data");
	assert_int_equal(
	    strlen(json_string_value(json_object_get(root, "MessageId"))), 36);
	pl = json_object_get(json_object_get(root, "Messages"), "Payload");
	assert_true(json_is_object(pl));
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(root, "Messages"),
					      "MessageType")),
	    "ua-keyframe");
	it = json_object_iter(pl);
	k = json_object_iter_key(it);
	assert_string_equal(k, "nsu=http://airbus.com/IJT/ADrilling;s=Objects."
			       "DeviceSet.setitec40.ResultManagement.Results."
			       "0.ResultMetaData.CreationTime");
	assert_non_null(json_object_get(
	    pl, "nsu=http://airbus.com/IJT/ADrilling;s=Objects.DeviceSet."
		"setitec40.ResultManagement.Results.0.ResultContent."
		"StepResults.0.StepResultValues.StepNumber.MeasuredValue"));
	assert_string_equal(json_string_value(json_object_get(
				json_object_iter_value(it), "SourceTimestamp")),
			    "2024-12-04T19:14:42Z");
	json_decref(root);

	/* PowerTrace without values has no Values key (as 2024-12) */
	assert_null(strstr(t, "PowerTrace.StepTraceContent"));
	assert_non_null(strstr(t, "GapLengthTrace.StepTraceContent[0].Values"
				  "\": {\"Value\": [null, null, null]"));
	assert_non_null(strstr(hd,
			       "AssetManagement.Assets.Heads.0.Identification."
			       "SerialNumber\": {\"Value\": \"\""));
	/* deterministic */
	assert_int_equal(abyss_hole_to_msgs(&h, &o, NULL, &t2, NULL), 0);
	assert_string_equal(t, t2);
	free(r);
	free(t);
	free(t2);
	free(hd);

	/* size bound: every output NULL on failure */
	o.max_bytes = 600;
	r = t = (char *)"x";
	assert_int_equal(abyss_hole_to_msgs(&h, &o, &r, &t, NULL),
			 ABYSS_ETOOBIG);
	assert_null(r);
	assert_null(t);
	abyss_hole_free(&h);
	assert_int_equal(abyss_hole_to_msgs(&h, NULL, &r, NULL, NULL),
			 ABYSS_EINVAL);
}

/* ---- JSON and CSV ----------------------------------------------------------
 */

static char *write_to_string(int (*fn)(const struct abyss_hole *, FILE *),
			     const struct abyss_hole *h)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(fn(h, f), 0);
	fclose(f);
	return buf;
}

static void test_hole_io_write_json(void **state)
{
	struct abyss_hole h;
	struct abyss_diag d;
	json_error_t err;
	json_t *root, *s, *pos;
	char *out;
	const char *p;
	size_t i;

	(void)state;
	REQUIRE_DATA(p = data_path(TD "data0"));
	abyss_hole_init(&h);
	assert_int_equal(abyss_hole_from_msg_folder(p, NULL, &h, &d), 0);
	out = write_to_string(abyss_hole_write_json, &h);
	root = json_loads(out, 0, &err);
	if (!root)
		fail_msg("output is not JSON: %s line %d", err.text, err.line);
	assert_string_equal(json_string_value(json_object_get(root, "schema")),
			    "abyss.hole/1");
	assert_string_equal(json_string_value(json_object_get(root, "source")),
			    "mqtt");
	assert_string_equal(
	    json_string_value(json_object_get(root, "machine_id")), "23120040");
	assert_string_equal(
	    json_string_value(json_object_get(root, "timestamp")),
	    "2024-12-11T08:24:49Z");
	assert_int_equal(json_integer_value(json_object_get(root, "n")), 492);
	assert_int_equal(json_array_size(json_object_get(root, "steps")), 2);
	s = json_object_get(root, "samples");
	pos = json_object_get(s, "position_mm");
	assert_int_equal(json_array_size(pos), 492);
	for (i = 0; i < h.n; i++)
		assert_true(json_real_value(json_array_get(pos, i)) ==
			    h.position_mm[i]);
	/* NaN -> null */
	assert_true(
	    json_is_null(json_array_get(json_object_get(s, "power_w"), 0)));
	assert_int_equal(
	    json_integer_value(json_array_get(json_object_get(s, "step"), 491)),
	    2);
	json_decref(root);
	free(out);
	abyss_hole_free(&h);
}

static void test_hole_io_write_csv(void **state)
{
	struct abyss_hole h;
	char *out, *line2;
	size_t lines = 0;
	const char *c;

	(void)state;
	abyss_hole_init(&h);
	assert_int_equal(abyss_hole_alloc(&h, 2, 0), 0);
	h.position_mm[0] = -0.5;
	h.torque_a[0] = 1.25;
	h.thrust_a[0] = 0;
	h.step[0] = 1;
	h.stop_code[1] = 64;
	out = write_to_string(abyss_hole_write_csv, &h);
	for (c = out; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, 3);
	assert_true(strncmp(out, "index,position_mm,torque_a,", 27) == 0);
	line2 = strchr(out, '\n') + 1;
	assert_true(strncmp(line2, "0,-0.5,1.25,0.0,,,,,1,0\n", 24) == 0);
	assert_non_null(strstr(out, "\n1,,,,,,,,0,64\n"));
	free(out);
	abyss_hole_free(&h);
	assert_int_equal(abyss_hole_write_csv(NULL, stdout), ABYSS_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hole_io_fmt_double_python_repr),
	    cmocka_unit_test(test_hole_io_fmt_double_round_trips),
	    cmocka_unit_test(test_hole_io_msgs_round_trip_folders),
	    cmocka_unit_test(test_hole_io_msgs_round_trip_synthetic),
	    cmocka_unit_test(test_hole_io_msgs_layout),
	    cmocka_unit_test(test_hole_io_write_json),
	    cmocka_unit_test(test_hole_io_write_csv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
