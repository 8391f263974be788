/* test_payload.c - published payloads against the original's exact bytes
 * (original-system.md §3.12 and §7), topics, the negative-depth policy. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "abyss/payload.h"

static const struct abyss_payload_ids data2_ids = {
    1733339682.0, /* 2024-12-04T19:14:42Z */
    "17070141", "2409", NULL};

static void test_payload_success_keypoints_exact(void **state)
{
	const double kp[3] = {4.569, 5.01, 18.488275003433227};
	char buf[512];
	int n;

	(void)state;
	/* the original's bytes, given its AlgoVersion */
	n = abyss_payload_format(buf, sizeof(buf), ABYSS_PAYLOAD_KEYPOINTS,
				 ABYSS_PAYLOAD_SUCCESS, &data2_ids, kp, NULL,
				 "0.2.6");
	assert_string_equal(
	    buf, "{\"SourceTimestamp\": \"2024-12-04T19:14:42Z\", "
		 "\"MachineId\": \"17070141\", \"ResultId\": \"2409\", "
		 "\"HeadId\": null, \"Value\": [4.569, 5.01, "
		 "18.488275003433227], \"AlgoVersion\": \"0.2.6\"}");
	assert_int_equal(n, (int)strlen(buf));
}

static void test_payload_success_depth_exact(void **state)
{
	const double kp[3] = {4.569, 5.01, 18.488275003433227};
	struct abyss_payload_ids ids = data2_ids;
	char buf[512];

	(void)state;
	ids.head_id = "E00401009F78AA43";
	assert_true(abyss_payload_format(buf, sizeof(buf), ABYSS_PAYLOAD_DEPTH,
					 ABYSS_PAYLOAD_SUCCESS, &ids, kp, NULL,
					 NULL) > 0);
	/* the differences as Python computes and prints them */
	assert_string_equal(
	    buf, "{\"SourceTimestamp\": \"2024-12-04T19:14:42Z\", "
		 "\"MachineId\": \"17070141\", \"ResultId\": \"2409\", "
		 "\"HeadId\": \"E00401009F78AA43\", \"Value\": "
		 "[0.44099999999999984, 13.478275003433227], "
		 "\"AlgoVersion\": \"" ABYSS_VERSION "\"}");
}

static void test_payload_insufficient_and_error_exact(void **state)
{
	struct abyss_payload_ids ids = {1672574400.0, "42", "123", "H1"};
	char buf[512];

	(void)state;
	assert_true(abyss_payload_format(buf, sizeof(buf),
					 ABYSS_PAYLOAD_KEYPOINTS,
					 ABYSS_PAYLOAD_INSUFFICIENT_DATA, &ids,
					 NULL, NULL, NULL) > 0);
	assert_string_equal(buf, "{\"SourceTimestamp\": "
				 "\"2023-01-01T12:00:00Z\", \"MachineId\": "
				 "\"42\", \"ResultId\": \"123\", \"HeadId\": "
				 "\"H1\", \"Value\": \"Not enough steps to "
				 "estimate keypoints\"}");
	assert_true(abyss_payload_format(buf, sizeof(buf), ABYSS_PAYLOAD_DEPTH,
					 ABYSS_PAYLOAD_INSUFFICIENT_DATA, &ids,
					 NULL, NULL, NULL) > 0);
	assert_non_null(strstr(buf, "\"Value\": \"Not enough steps to "
				    "estimate depth\"}"));
	assert_null(strstr(buf, "AlgoVersion"));

	assert_true(abyss_payload_format(
			buf, sizeof(buf), ABYSS_PAYLOAD_KEYPOINTS,
			ABYSS_PAYLOAD_ERROR, &ids, NULL,
			"Not enough steps to estimate depth", NULL) > 0);
	assert_string_equal(buf, "{\"SourceTimestamp\": "
				 "\"2023-01-01T12:00:00Z\", \"MachineId\": "
				 "\"42\", \"ResultId\": \"123\", \"HeadId\": "
				 "\"H1\", \"Value\": \"Error in keypoint "
				 "estimation: Not enough steps to estimate "
				 "depth\", \"Error\": true}");
	assert_true(abyss_payload_format(buf, sizeof(buf), ABYSS_PAYLOAD_DEPTH,
					 ABYSS_PAYLOAD_ERROR, &ids, NULL, "x",
					 NULL) > 0);
	assert_non_null(strstr(buf, "\"Value\": \"Error in depth estimation: "
				    "x\", \"Error\": true}"));
}

static void test_payload_floats_like_python_repr(void **state)
{
	/* expected strings printed by Python 3 json.dumps */
	static const struct {
		double v;
		const char *s;
	} cases[] = {
	    {14.0, "14.0"},
	    {4.569, "4.569"},
	    {18.488275003433227, "18.488275003433227"},
	    {1e16, "1e+16"},
	    {1e15, "1000000000000000.0"},
	    {1e-5, "1e-05"},
	    {0.0001, "0.0001"},
	    {123456789012345678.0, "1.2345678901234568e+17"},
	    {-0.0, "-0.0"},
	    {0.0, "0.0"},
	    {1.5e300, "1.5e+300"},
	    {5e-324, "5e-324"},
	    {0.1 + 0.2, "0.30000000000000004"},
	    {-2.5, "-2.5"},
	    {NAN, "NaN"},
	    {INFINITY, "Infinity"},
	    {-INFINITY, "-Infinity"},
	};
	char buf[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = abyss_payload_fmt_double(buf, sizeof(buf), cases[i].v);
		assert_int_equal(n, (int)strlen(cases[i].s));
		assert_string_equal(buf, cases[i].s);
	}
	assert_int_equal(abyss_payload_fmt_double(buf, 8, 1.0), ABYSS_ETOOBIG);
}

static void test_payload_strings_escaped_like_json_dumps(void **state)
{
	/* json.dumps('\u00e9\u20ac\U0001F600\x7f\x01/"\\') */
	struct abyss_payload_ids ids = {
	    0.0, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\x01/\"\\", "1",
	    NULL};
	char buf[512];

	(void)state;
	assert_true(abyss_payload_format(buf, sizeof(buf),
					 ABYSS_PAYLOAD_KEYPOINTS,
					 ABYSS_PAYLOAD_INSUFFICIENT_DATA, &ids,
					 NULL, NULL, NULL) > 0);
	assert_non_null(strstr(buf, "\"MachineId\": "
				    "\"\\u00e9\\u20ac\\ud83d\\ude00\\u007f"
				    "\\u0001/\\\"\\\\\""));
	assert_non_null(strstr(buf, "\"1970-01-01T00:00:00Z\""));
	/* invalid UTF-8 becomes U+FFFD rather than raw bytes */
	ids.machine_id = "a\xff";
	assert_true(abyss_payload_format(buf, sizeof(buf),
					 ABYSS_PAYLOAD_KEYPOINTS,
					 ABYSS_PAYLOAD_INSUFFICIENT_DATA, &ids,
					 NULL, NULL, NULL) > 0);
	assert_non_null(strstr(buf, "\"a\\ufffd\""));
}

static void test_payload_small_buffer_and_bad_args(void **state)
{
	const double kp[3] = {1, 2, 3};
	char buf[40];

	(void)state;
	assert_int_equal(abyss_payload_format(
			     buf, sizeof(buf), ABYSS_PAYLOAD_KEYPOINTS,
			     ABYSS_PAYLOAD_SUCCESS, &data2_ids, kp, NULL, NULL),
			 ABYSS_ETOOBIG);
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_int_equal(abyss_payload_format(
			     buf, sizeof(buf), ABYSS_PAYLOAD_KEYPOINTS,
			     ABYSS_PAYLOAD_EMPTY, &data2_ids, kp, NULL, NULL),
			 ABYSS_EINVAL);
	assert_int_equal(abyss_payload_format(buf, sizeof(buf),
					      ABYSS_PAYLOAD_KEYPOINTS,
					      ABYSS_PAYLOAD_SUCCESS, &data2_ids,
					      NULL, NULL, NULL),
			 ABYSS_EINVAL);
	assert_int_equal(abyss_payload_fmt_time(buf, sizeof(buf), NAN),
			 ABYSS_ERANGE);
	assert_int_equal(abyss_payload_fmt_time(buf, sizeof(buf), 1e18),
			 ABYSS_ERANGE);
	/* fractions are dropped towards the past, as strftime on a datetime */
	assert_int_equal(abyss_payload_fmt_time(buf, sizeof(buf), 1672574400.9),
			 20);
	assert_string_equal(buf, "2023-01-01T12:00:00Z");
}

static void test_payload_decide_cases(void **state)
{
	const double ok[3] = {1.0, 2.0, 3.0};
	const double flat[3] = {1.0, 1.0, 1.0};
	const double neg1[3] = {2.0, 1.0, 3.0};
	const double neg2[3] = {1.0, 3.0, 2.0};

	(void)state;
	assert_int_equal(abyss_payload_decide("boom", ok), ABYSS_PAYLOAD_ERROR);
	assert_int_equal(abyss_payload_decide(NULL, NULL),
			 ABYSS_PAYLOAD_INSUFFICIENT_DATA);
	assert_int_equal(abyss_payload_decide(NULL, ok), ABYSS_PAYLOAD_SUCCESS);
	assert_int_equal(abyss_payload_decide(NULL, flat),
			 ABYSS_PAYLOAD_SUCCESS);
	assert_int_equal(abyss_payload_decide(NULL, neg1), ABYSS_PAYLOAD_EMPTY);
	assert_int_equal(abyss_payload_decide(NULL, neg2), ABYSS_PAYLOAD_EMPTY);
}

static void test_payload_topics(void **state)
{
	char buf[256];

	(void)state;
	assert_true(abyss_payload_topic(buf, sizeof(buf), "OPCPUBSUB",
					"ILLL502033771/setitectest",
					"ResultManagement.Results.0."
					"ResultContent.DepthEstimation."
					"KeyPoints") > 0);
	assert_string_equal(buf, "OPCPUBSUB/ILLL502033771/setitectest/"
				 "ResultManagement.Results.0.ResultContent."
				 "DepthEstimation.KeyPoints");
	assert_int_equal(abyss_payload_topic(buf, 10, "OPCPUBSUB", "a/b", "c"),
			 ABYSS_ETOOBIG);
	assert_int_equal(abyss_payload_topic(buf, sizeof(buf), "", "a/b", "c"),
			 ABYSS_EINVAL);
}

static void test_payload_negdepth_five_in_window_warns_once(void **state)
{
	struct abyss_negdepth nd;
	int64_t t = 1000000;
	int i;

	(void)state;
	abyss_negdepth_init(&nd);
	for (i = 0; i < 4; i++)
		assert_int_equal(abyss_negdepth_record(&nd, t + i * 1000), 0);
	/* the 5th within 300 s fires, with count 5 */
	assert_int_equal(abyss_negdepth_record(&nd, t + 4000), 1);
	assert_int_equal(abyss_negdepth_recent(&nd, t + 4000), 5);
	/* rate limited for 300 s */
	assert_int_equal(abyss_negdepth_record(&nd, t + 5000), 0);
	assert_int_equal(abyss_negdepth_record(&nd, t + 303999), 0);
	assert_int_equal(nd.total, 7);
	/* old entries expire: 300 s after the last event nothing is recent */
	assert_int_equal(abyss_negdepth_recent(&nd, t + 303999 + 300001), 0);
	/* 5 events spread over more than 300 s never fire */
	abyss_negdepth_init(&nd);
	for (i = 0; i < 10; i++)
		assert_int_equal(abyss_negdepth_record(&nd, t + i * 100000), 0);
	/* the history is a 100-entry deque */
	abyss_negdepth_init(&nd);
	for (i = 0; i < 150; i++)
		abyss_negdepth_record(&nd, t);
	assert_int_equal(abyss_negdepth_recent(&nd, t), 100);
	assert_int_equal(nd.total, 150);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_payload_success_keypoints_exact),
	    cmocka_unit_test(test_payload_success_depth_exact),
	    cmocka_unit_test(test_payload_insufficient_and_error_exact),
	    cmocka_unit_test(test_payload_floats_like_python_repr),
	    cmocka_unit_test(test_payload_strings_escaped_like_json_dumps),
	    cmocka_unit_test(test_payload_small_buffer_and_bad_args),
	    cmocka_unit_test(test_payload_decide_cases),
	    cmocka_unit_test(test_payload_topics),
	    cmocka_unit_test(test_payload_negdepth_five_in_window_warns_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
