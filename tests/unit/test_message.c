/* test_message.c - MQTT Result/Trace/Heads decoding into a hole, on every
 * test_data folder, the legacy and raw JSON renderings, topics, timestamps,
 * limits and malformed input (placed against a guard page). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "abyss/hole.h"
#include "abyss/message.h"
#include "abyss/setitec.h"

#define TD "abyss/src/abyss/test_data/"

static int load_folder(const char *rel, struct abyss_hole *h,
		       struct abyss_diag *d)
{
	const char *p = data_path(rel);

	abyss_hole_init(h);
	abyss_diag_init(d);
	if (!p)
		return 1;
	return abyss_hole_from_msg_folder(p, NULL, h, d);
}

/* Parses a message from a string placed against a guard page. */
static int parse_str(const char *topic, const char *json, struct abyss_msg **m,
		     struct abyss_diag *d)
{
	size_t len = strlen(json);
	void *g = guard_alloc(json, len);
	int rc;

	abyss_diag_init(d);
	rc = abyss_msg_parse(topic, g, len, NULL, m, d);
	guard_free(g, len);
	return rc;
}

#define NSU "nsu=http://airbus.com/IJT/ADrilling;s=Objects.DeviceSet.dev."
#define ENV_BEGIN                                                              \
	"{\"MessageId\": \"x\", \"MessageType\": \"ua-data\", "                \
	"\"Messages\": {\"Timestamp\": \"2024-01-01T00:00:00Z\", "             \
	"\"Payload\": {"
#define ENV_END "}}}"
#define E(path, val)                                                           \
	"\"" NSU path "\": {\"Value\": " val                                   \
	", \"SourceTimestamp\": \"2024-12-04T19:14:42Z\"}"
#define RP  "ResultManagement.Results.0."
#define SRV RP "ResultContent.StepResults.0.StepResultValues."
#define TR  RP "ResultContent.Trace.StepTraces."
#define VAL ".StepTraceContent[0].Values"

#define TOPIC_R "OPCPUBSUB/TB1/tool7/ResultManagement"
#define TOPIC_T "OPCPUBSUB/TB1/tool7/ResultManagement/Trace"
#define TOPIC_H "OPCPUBSUB/TB1/tool7/AssetManagement/Heads"

static const char *result_ok = ENV_BEGIN E(
    RP "ResultMetaData.SerialNumber",
    "4"
    "2") "," E(RP "ResultMetaData.ResultId",
	       "\"123\"") "," E(SRV "IntensityTorqueEmpty",
				"[1.5, 2.5]") "," E(SRV "IntensityThrustEmpty",
						    "[0.1, 0.2]") "," E(SRV
									"StepNu"
									"mber",
									"[1, "
									"2]") "," E(SRV
										    "S"
										    "t"
										    "o"
										    "p"
										    "C"
										    "o"
										    "d"
										    "e",
										    "["
										    "6"
										    "4"
										    ","
										    " "
										    "8"
										    "1"
										    "9"
										    "2"
										    "]")
    ENV_END;

static const char *trace_ok =
    ENV_BEGIN E(TR "PositionTrace" VAL, "[-0.5, -1.0, -1.5]") "," E(
	TR "IntensityTorqueTrace" VAL,
	"[0, 1, 2]") "," E(TR "IntensityThrustTrace" VAL,
			   "[3, 4, 5]") "," E(TR "StepNumberTrace" VAL,
					      "[1, 2, 2]") "," E(TR "GapLengthT"
								    "race" VAL,
								 "[null, 0.5, "
								 "null]")
	ENV_END;

/* ---- the real test folders ---------------------------------------------- */

static void test_message_folder_data0(void **state)
{
	struct abyss_hole h;
	struct abyss_diag d;
	int rc;

	(void)state;
	REQUIRE_DATA(data_path(TD "data0/Trace.json"));
	rc = load_folder(TD "data0", &h, &d);
	assert_int_equal(rc, 0);
	assert_int_equal(h.n, 492);
	assert_int_equal(h.nsteps, 2);
	assert_string_equal(h.machine_id, "23120040");
	assert_string_equal(h.result_id, "2409");
	assert_int_equal(h.local, 2409);
	assert_int_equal(h.predrilled, 1);
	assert_int_equal(h.source, ABYSS_SOURCE_MQTT);
	assert_string_equal(h.head_id, "");
	assert_string_equal(h.tool_key, "folder/data0");
	/* 2024-12-11T08:24:49Z as UTC */
	assert_true(h.timestamp_s == 1733905489.0);
	ASSERT_NEAR(h.position_mm[0], -0.706, 0);
	ASSERT_NEAR(h.torque_a[1], -0.098, 0);
	assert_int_equal(h.steps[0].step, 1);
	assert_int_equal(h.steps[1].step, 2);
	assert_int_equal(h.steps[0].stop_code, 64);
	assert_int_equal(h.steps[1].stop_code, 8192);
	ASSERT_NEAR(h.steps[1].torque_empty_a, 3.076, 0);
	ASSERT_NEAR(h.steps[1].duration_s, 4.69, 0);
	ASSERT_NEAR(h.steps[1].distance_m2_mm, 5.984, 0);
	/* per-sample empties follow the sample's step */
	assert_int_equal(h.step[0], 1);
	ASSERT_NEAR(h.torque_empty_a[0], 5.225, 0);
	assert_int_equal(h.step[h.n - 1], 2);
	ASSERT_NEAR(h.torque_empty_a[h.n - 1], 3.076, 0);
	ASSERT_NEAR(h.thrust_empty_a[h.n - 1], 0.188, 0);
	/* 2024-12: no PowerTrace values, GapLength all null */
	assert_true(isnan(h.power_w[0]));
	assert_true(isnan(h.gap_mm[10]));
	assert_int_equal(abyss_hole_distinct_steps(&h), 2);
	abyss_hole_free(&h);
}

static void test_message_data1_scalar_step_values(void **state)
{
	struct abyss_hole h;
	struct abyss_diag d;

	(void)state;
	REQUIRE_DATA(data_path(TD "data1/Trace.json"));
	assert_int_equal(load_folder(TD "data1", &h, &d), 0);
	assert_int_equal(h.n, 135);
	assert_int_equal(h.nsteps, 1);
	assert_int_equal(h.steps[0].step, 1);
	assert_int_equal(h.steps[0].stop_code, 64);
	ASSERT_NEAR(h.steps[0].torque_empty_a, 5.078, 0);
	ASSERT_NEAR(h.steps[0].thrust_empty_a, 0.27, 0);
	ASSERT_NEAR(h.torque_empty_a[50], 5.078, 0);
	assert_string_equal(h.result_id, "2412");
	abyss_hole_free(&h);
}

static void test_message_data2_unequal_step_arrays(void **state)
{
	struct abyss_hole h;
	struct abyss_diag d;
	size_t i;

	(void)state;
	REQUIRE_DATA(data_path(TD "data2/Trace.json"));
	assert_int_equal(load_folder(TD "data2", &h, &d), 0);
	assert_int_equal(h.n, 1860);
	/* 4 StepNumbers and empties, only 2 StopCodes and Durations */
	assert_int_equal(h.nsteps, 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(h.steps[i].step, (int)i);
	assert_int_equal(h.steps[0].stop_code, 64);
	assert_int_equal(h.steps[1].stop_code, 8192);
	assert_int_equal(h.steps[2].stop_code, 0);
	assert_int_equal(h.steps[3].stop_code, 0);
	ASSERT_NEAR(h.steps[3].torque_empty_a, 4.834, 0);
	assert_true(isnan(h.steps[2].duration_s));
	assert_string_equal(h.machine_id, "17070141");
	assert_string_equal(h.result_id, "2409");
	/* steps arrive as reals 0.0 .. 3.0 */
	assert_int_equal(abyss_hole_distinct_steps(&h), 4);
	assert_int_equal(h.step[0], 0);
	assert_int_equal(h.step[h.n - 1], 3);
	/* 2024-12-04T19:14:42Z */
	assert_true(h.timestamp_s == 1733339682.0);
	abyss_hole_free(&h);
}

static void test_message_data_20250326_heads(void **state)
{
	struct abyss_hole h;
	struct abyss_diag d;

	(void)state;
	REQUIRE_DATA(data_path(TD "data_20250326/Trace.json"));
	assert_int_equal(load_folder(TD "data_20250326", &h, &d), 0);
	assert_int_equal(h.n, 9769);
	assert_int_equal(h.nsteps, 3);
	assert_string_equal(h.machine_id, "0"); /* the string "0" */
	assert_string_equal(h.result_id, "440");
	assert_string_equal(h.head_id, "E00401009F45BACA");
	ASSERT_NEAR(h.power_w[0], 106, 0);
	assert_int_equal(h.steps[1].stop_code, 2048);
	abyss_hole_free(&h);
}

static void test_message_data_20250623_measured_value(void **state)
{
	struct abyss_hole h;
	struct abyss_diag d;

	(void)state;
	REQUIRE_DATA(data_path(TD "data_20250623/Trace.json"));
	assert_int_equal(load_folder(TD "data_20250623", &h, &d), 0);
	assert_int_equal(h.n, 18);
	assert_int_equal(h.nsteps, 1);
	/* keys end in .MeasuredValue; ResultId is the string "1210" */
	ASSERT_NEAR(h.steps[0].torque_empty_a, 3.076, 0);
	ASSERT_NEAR(h.steps[0].thrust_empty_a, 0.516, 0);
	ASSERT_NEAR(h.steps[0].duration_s, 0.97, 0);
	assert_int_equal(h.steps[0].stop_code, 64);
	assert_int_equal(h.local, 1210);
	assert_string_equal(h.result_id, "1210");
	assert_string_equal(h.head_id, "E00401009F78AA43");
	ASSERT_NEAR(h.position_mm[0], -3.007, 0);
	assert_true(isnan(h.gap_mm[0]));
	abyss_hole_free(&h);
}

static void test_message_data_20250626_truncated_trace(void **state)
{
	struct abyss_hole h;
	struct abyss_diag d;
	int rc;

	(void)state;
	REQUIRE_DATA(data_path(TD "data_20250626/Trace.json"));
	rc = load_folder(TD "data_20250626", &h, &d);
	assert_int_equal(rc, ABYSS_EJSON);
	assert_int_equal(d.code, ABYSS_EJSON);
	/* the file is one line of 20,000 bytes, cut mid-array */
	assert_int_equal(d.line, 1);
	assert_int_equal(d.col, 20000);
	assert_non_null(strstr(d.file, "Trace.json"));
	assert_int_equal(h.n, 0);
}

static void test_message_afastening_namespace(void **state)
{
	struct abyss_msg *m = NULL;
	struct abyss_diag d;
	const char *p;
	char *buf;
	size_t len;
	const char *k;
	json_t *v;

	(void)state;
	REQUIRE_DATA(p = data_path(TD "data1/Trace.json"));
	buf = read_file(p, &len);
	assert_non_null(buf);
	assert_non_null(strstr(buf, "IJT/AFastening"));
	abyss_diag_init(&d);
	assert_int_equal(abyss_msg_parse(TOPIC_T, buf, len, NULL, &m, &d), 0);
	assert_int_equal(m->kind, ABYSS_MSG_TRACE);
	assert_string_equal(m->tool_key, "TB1/tool7");
	/* the payload is an ordered object; the first key is PositionTrace */
	k = json_object_iter_key(json_object_iter(m->payload));
	assert_non_null(strstr(k, "AFastening"));
	v = json_object_iter_value(json_object_iter(m->payload));
	assert_int_equal(json_integer_value(json_object_get(v, "Value")), 2412);
	abyss_msg_free(m);
	free(buf);
}

/* ---- legacy and raw JSON ------------------------------------------------- */

static void test_message_legacy_data_json(void **state)
{
	struct abyss_hole h;
	struct abyss_diag d;
	const char *p;
	char *buf;
	size_t len;

	(void)state;
	REQUIRE_DATA(
	    p = data_path(
		"abyss/src/abyss/dev_data/example-alejandro/data.json"));
	buf = read_file(p, &len);
	assert_non_null(buf);
	abyss_hole_init(&h);
	abyss_diag_init(&d);
	assert_int_equal(abyss_hole_from_legacy_json(buf, len, &h, &d), 0);
	assert_int_equal(h.n, 1860);
	assert_int_equal(h.source, ABYSS_SOURCE_LEGACY);
	assert_string_equal(h.machine_id, "17070141");
	assert_string_equal(h.result_id, "58");
	assert_int_equal(h.local, 0);	   /* no ToolAge */
	assert_int_equal(h.predrilled, 1); /* no Predrilled */
	assert_true(h.timestamp_s == 1733339682.0);
	/* raw sign kept (the original negated) */
	ASSERT_NEAR(h.position_mm[0], -0.642, 0);
	ASSERT_NEAR(h.torque_empty_a[0], 4.736, 0);
	ASSERT_NEAR(h.power_w[0], 82, 0);
	/* no StepNb: all samples step 0; StopCode gives 4 step rows */
	assert_int_equal(abyss_hole_distinct_steps(&h), 1);
	assert_int_equal(h.nsteps, 4);
	assert_int_equal(h.steps[1].stop_code, 64);
	assert_int_equal(h.steps[3].stop_code, 8);
	/* the auto-detecting entry point agrees */
	assert_int_equal(abyss_hole_from_json(buf, len, &h, &d), 0);
	assert_int_equal(h.n, 1860);
	abyss_hole_free(&h);
	free(buf);
}

static void test_message_legacy_equals_data2_trace(void **state)
{
	struct abyss_hole a, b;
	struct abyss_diag d;
	const char *p;
	char *buf;
	size_t len, i;

	(void)state;
	/* data_path returns a static buffer: use each result at once */
	REQUIRE_DATA(data_path(TD "data2/Trace.json"));
	REQUIRE_DATA(
	    p = data_path(
		"abyss/src/abyss/dev_data/example-alejandro/data.json"));
	buf = read_file(p, &len);
	assert_non_null(buf);
	abyss_hole_init(&a);
	assert_int_equal(abyss_hole_from_legacy_json(buf, len, &a, NULL), 0);
	assert_int_equal(load_folder(TD "data2", &b, &d), 0);
	assert_int_equal(a.n, b.n);
	for (i = 0; i < a.n; i++) {
		assert_true(a.position_mm[i] == b.position_mm[i]);
		assert_true(a.torque_a[i] == b.torque_a[i]);
		assert_true(a.thrust_a[i] == b.thrust_a[i]);
	}
	abyss_hole_free(&a);
	abyss_hole_free(&b);
	free(buf);
}

static void test_message_raw_json_equals_messages(void **state)
{
	struct abyss_hole a, b;
	struct abyss_diag d;
	const char *p;
	char *buf;
	size_t len, i;

	(void)state;
	REQUIRE_DATA(p = data_path(TD "data_20250326/raw.json"));
	buf = read_file(p, &len);
	assert_non_null(buf);
	abyss_hole_init(&a);
	abyss_diag_init(&d);
	assert_int_equal(abyss_hole_from_json(buf, len, &a, &d), 0);
	assert_int_equal(a.source, ABYSS_SOURCE_SETITEC);
	assert_int_equal(a.file_version, 9);
	assert_string_equal(a.machine_id, "114-V3-003-MQ");
	assert_string_equal(a.result_id, "440");
	assert_string_equal(a.head_id, "E00401009F45BACA");
	assert_int_equal(a.local, 30);
	assert_int_equal(a.nsteps, 3);
	assert_int_equal(a.steps[2].stop_code, 8);
	assert_int_equal(load_folder(TD "data_20250326", &b, &d), 0);
	assert_int_equal(a.n, b.n);
	assert_true(a.timestamp_s == b.timestamp_s);
	for (i = 0; i < a.n; i++) {
		assert_true(a.position_mm[i] == b.position_mm[i]);
		assert_true(a.torque_a[i] == b.torque_a[i]);
		assert_true(a.thrust_a[i] == b.thrust_a[i]);
		assert_int_equal(a.step[i], b.step[i]);
		assert_true(a.torque_empty_a[i] == b.torque_empty_a[i]);
		assert_true(a.thrust_empty_a[i] == b.thrust_empty_a[i]);
		assert_true(a.power_w[i] == b.power_w[i]);
	}
	for (i = 0; i < a.nsteps; i++) {
		assert_int_equal(a.steps[i].step, b.steps[i].step);
		assert_int_equal(a.steps[i].stop_code, b.steps[i].stop_code);
		assert_true(a.steps[i].torque_empty_a ==
			    b.steps[i].torque_empty_a);
	}
	abyss_hole_free(&a);
	abyss_hole_free(&b);
	free(buf);
}

/* §3.6: the same hole as a Setitec file and as MQTT messages gives the same
 * samples. Power is absent from the 2024-12 Trace messages and GapLength is
 * null there, so those two are not compared. */
static void check_pair(const char *xls, const char *folder)
{
	struct abyss_hole a, b;
	struct abyss_diag d;
	char msg[1024];
	size_t i;
	const char *p;

	abyss_hole_init(&a);
	abyss_diag_init(&d);
	p = data_path(xls);
	assert_non_null(p);
	if (abyss_hole_load_setitec(p, NULL, &a, &d) != 0)
		fail_msg("%s", abyss_diag_format(&d, msg, sizeof(msg)));
	assert_int_equal(load_folder(folder, &b, &d), 0);
	assert_int_equal(a.n, b.n);
	for (i = 0; i < a.n; i++) {
		if (a.position_mm[i] != b.position_mm[i] ||
		    a.torque_a[i] != b.torque_a[i] ||
		    a.thrust_a[i] != b.thrust_a[i] || a.step[i] != b.step[i] ||
		    a.torque_empty_a[i] != b.torque_empty_a[i] ||
		    a.thrust_empty_a[i] != b.thrust_empty_a[i])
			fail_msg("%s: sample %zu differs (position %.17g vs "
				 "%.17g)",
				 folder, i, a.position_mm[i], b.position_mm[i]);
	}
	assert_int_equal(a.nsteps, b.nsteps);
	for (i = 0; i < a.nsteps; i++) {
		assert_int_equal(a.steps[i].step, b.steps[i].step);
		assert_true(a.steps[i].torque_empty_a ==
			    b.steps[i].torque_empty_a);
		assert_true(a.steps[i].thrust_empty_a ==
			    b.steps[i].thrust_empty_a);
	}
	assert_string_equal(a.machine_id, b.machine_id);
	abyss_hole_free(&a);
	abyss_hole_free(&b);
}

static void test_message_pairs_match_setitec_files(void **state)
{
	(void)state;
	REQUIRE_DATA(data_path(TD "data0/Trace.json"));
	REQUIRE_DATA(
	    data_path(TD "data_20250326/17070141_17070141_ST_59_55.xls"));
	check_pair(TD "data0/23120040_23120040_ST_2409_59.xls", TD "data0");
	check_pair(TD "data_20241218/23120040_23120040_ST_2412_60.xls",
		   TD "data1");
	check_pair(TD "data_20250326/17070141_17070141_ST_59_55.xls",
		   TD "data2");
}

static void test_message_from_json_rejects_other(void **state)
{
	struct abyss_hole h;
	struct abyss_diag d;
	const char *j = "{\"a\": 1}";

	(void)state;
	abyss_hole_init(&h);
	abyss_diag_init(&d);
	assert_int_equal(abyss_hole_from_json(j, strlen(j), &h, &d),
			 ABYSS_EUNSUPPORTED);
	assert_int_equal(abyss_hole_from_json("{", 1, &h, &d), ABYSS_EJSON);
}

/* ---- topics and timestamps ----------------------------------------------- */

static void test_message_classify_topics(void **state)
{
	struct abyss_topics t = abyss_topics_default();
	struct abyss_topics custom = {"ROOT", "Res", "Res/Tr", NULL};
	char key[ABYSS_ID_MAX];

	(void)state;
	assert_int_equal(abyss_msg_classify(TOPIC_R, NULL), ABYSS_MSG_RESULT);
	assert_int_equal(abyss_msg_classify(TOPIC_T, &t), ABYSS_MSG_TRACE);
	assert_int_equal(abyss_msg_classify(TOPIC_H, &t), ABYSS_MSG_HEADS);
	assert_int_equal(abyss_msg_classify("OPCPUBSUB/a/b/Other", &t),
			 ABYSS_MSG_UNKNOWN);
	/* our own output topics contain no suffix as a substring... */
	assert_int_equal(
	    abyss_msg_classify("OPCPUBSUB/a/b/ResultManagement.Results.0."
			       "ResultContent.DepthEstimation.KeyPoints",
			       &t),
	    ABYSS_MSG_RESULT); /* ...but do contain "ResultManagement": the
				  service subscribes by pattern, not by this */
	assert_int_equal(abyss_msg_classify("ROOT/a/b/Res/Tr", &custom),
			 ABYSS_MSG_TRACE);
	assert_int_equal(
	    abyss_msg_classify("ROOT/a/b/AssetManagement/Heads", &custom),
	    ABYSS_MSG_UNKNOWN);
	assert_int_equal(abyss_msg_classify(NULL, &t), ABYSS_MSG_UNKNOWN);
	assert_string_equal(abyss_msg_kind_name(ABYSS_MSG_TRACE), "trace");

	assert_int_equal(abyss_msg_tool_key(TOPIC_T, key, sizeof(key)), 0);
	assert_string_equal(key, "TB1/tool7");
	assert_int_equal(abyss_msg_tool_key("OPCPUBSUB/ILLL502033771/"
					    "setitectest/ResultManagement",
					    key, sizeof(key)),
			 0);
	assert_string_equal(key, "ILLL502033771/setitectest");
	assert_int_equal(abyss_msg_tool_key("a/b", key, sizeof(key)),
			 ABYSS_EPARSE);
	assert_string_equal(key, "");
	assert_int_equal(abyss_msg_tool_key("a//c/d", key, sizeof(key)),
			 ABYSS_EPARSE);
	assert_int_equal(abyss_msg_tool_key(TOPIC_T, key, 5), ABYSS_ETOOBIG);
}

static void test_message_timestamps(void **state)
{
	double t;
	char buf[64];

	(void)state;
	assert_int_equal(abyss_parse_timestamp("1970-01-01T00:00:00Z", &t), 0);
	assert_true(t == 0.0);
	assert_int_equal(abyss_parse_timestamp("2023-01-01T12:00:00Z", &t), 0);
	assert_true(t == 1672574400.0);
	assert_int_equal(abyss_parse_timestamp("2024-02-29T23:59:59Z", &t), 0);
	assert_true(t == 1709251199.0);
	/* fractions are kept (the original dropped such messages) */
	assert_int_equal(abyss_parse_timestamp("2023-01-01T12:00:00.25Z", &t),
			 0);
	assert_true(t == 1672574400.25);
	assert_int_equal(abyss_parse_timestamp("1969-12-31T23:59:59Z", &t), 0);
	assert_true(t == -1.0);
	assert_int_equal(abyss_parse_timestamp("2023-02-29T00:00:00Z", &t),
			 ABYSS_EPARSE);
	assert_int_equal(abyss_parse_timestamp("2023-01-01T24:00:00Z", &t),
			 ABYSS_EPARSE);
	assert_int_equal(abyss_parse_timestamp("2023-01-01T12:00:00", &t),
			 ABYSS_EPARSE);
	assert_int_equal(abyss_parse_timestamp("2023-01-01 12:00:00Z", &t),
			 ABYSS_EPARSE);
	assert_int_equal(abyss_parse_timestamp("2023-01-01T12:00:00.Z", &t),
			 ABYSS_EPARSE);
	assert_int_equal(abyss_parse_timestamp("2023-01-01T12:00:00Zx", &t),
			 ABYSS_EPARSE);
	assert_int_equal(abyss_parse_timestamp("", &t), ABYSS_EPARSE);

	assert_int_equal(abyss_format_timestamp(1672574400.0, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "2023-01-01T12:00:00Z");
	assert_int_equal(abyss_format_timestamp(-1.0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1969-12-31T23:59:59Z");
	assert_int_equal(
	    abyss_format_timestamp(1672574400.25, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2023-01-01T12:00:00.25Z");
	assert_int_equal(abyss_format_timestamp(NAN, buf, sizeof(buf)),
			 ABYSS_ERANGE);
	assert_int_equal(abyss_format_timestamp(0, buf, 8), ABYSS_ETOOBIG);
	/* format -> parse is exact for awkward fractions too */
	{
		double vals[] = {1733339682.123456, 1733339682.1, 0.001,
				 1715758173.999999, -0.5};
		size_t i;
		for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
			assert_int_equal(
			    abyss_format_timestamp(vals[i], buf, sizeof(buf)),
			    0);
			assert_int_equal(abyss_parse_timestamp(buf, &t), 0);
			if (t != vals[i])
				fail_msg("%s -> %.17g, expected %.17g", buf, t,
					 vals[i]);
		}
	}
}

static void test_message_timestamp_first_depth_first(void **state)
{
	struct abyss_msg *m = NULL;
	struct abyss_diag d;
	/* the envelope Timestamp is not a SourceTimestamp; a nested object
	 * before the payload entry is searched first; lists are not */
	const char *j =
	    "{\"Messages\": {\"Timestamp\": \"2000-01-01T00:00:00Z\", "
	    "\"L\": [{\"SourceTimestamp\": \"2001-01-01T00:00:00Z\"}], "
	    "\"Payload\": {\"k\": {\"Value\": 1, \"SourceTimestamp\": "
	    "\"2024-12-04T19:14:42.5Z\"}, \"k2\": {\"SourceTimestamp\": "
	    "\"2030-01-01T00:00:00Z\"}}}}";

	(void)state;
	assert_int_equal(parse_str(TOPIC_R, j, &m, &d), 0);
	assert_true(m->timestamp_s == 1733339682.5);
	assert_int_equal(m->kind, ABYSS_MSG_RESULT);
	abyss_msg_free(m);

	m = NULL;
	assert_int_equal(parse_str(TOPIC_R,
				   "{\"Messages\": {\"Payload\": {\"k\": "
				   "{\"Value\": 1}}}}",
				   &m, &d),
			 ABYSS_EMISSING);
	assert_null(m);
	assert_non_null(strstr(d.msg, "SourceTimestamp"));
	assert_int_equal(parse_str(TOPIC_R,
				   "{\"Messages\": {\"Payload\": {\"k\": "
				   "{\"SourceTimestamp\": \"yesterday\"}}}}",
				   &m, &d),
			 ABYSS_EPARSE);
	assert_non_null(strstr(d.msg, "yesterday"));
	assert_int_equal(parse_str(TOPIC_R,
				   "{\"Messages\": {\"Payload\": {\"k\": "
				   "{\"SourceTimestamp\": 17}}}}",
				   &m, &d),
			 ABYSS_EPARSE);
	assert_null(m);
}

static void test_message_same_data_like_the_buffer(void **state)
{
	static const struct {
		const char *a, *b;
		int same;
	} cases[] = {
	    {"{\"x\": 1, \"y\": [1, 2]}", "{\"y\": [1, 2], \"x\": 1}", 1},
	    {"{\"x\": 1.0}", "{\"x\": 1}", 1},
	    {"{\"x\": 0.1}", "{\"x\": 0.10000000000001}", 1},
	    {"{\"x\": 0.1}", "{\"x\": 0.1000001}", 0},
	    {"{\"x\": true}", "{\"x\": 1}", 1},
	    {"{\"x\": 1}", "{\"x\": \"1\"}", 1},
	    {"{\"x\": null}", "{\"x\": null}", 1},
	    {"{\"x\": null}", "{\"x\": \"None\"}", 0},
	    {"{\"x\": [1, 2]}", "{\"x\": [2, 1]}", 0},
	    {"{\"x\": [1]}", "{\"x\": [1, 1]}", 0},
	    {"{\"x\": 1}", "{\"x\": 1, \"z\": 1}", 0},
	    {"{\"x\": {\"a\": 1}}", "{\"x\": [1]}", 0},
	    {"{\"x\": \"a\"}", "{\"x\": \"b\"}", 0},
	};
	struct abyss_msg *a, *b;
	struct abyss_diag d;
	char ja[256], jb[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* wrap each value in a minimal valid message */
		snprintf(
		    ja, sizeof(ja),
		    "{\"Messages\": {\"Payload\": {\"k\": {\"SourceTimestamp\""
		    ": \"2024-01-01T00:00:00Z\", \"Value\": %s}}}}",
		    cases[i].a);
		snprintf(
		    jb, sizeof(jb),
		    "{\"Messages\": {\"Payload\": {\"k\": {\"SourceTimestamp\""
		    ": \"2024-01-01T00:00:00Z\", \"Value\": %s}}}}",
		    cases[i].b);
		a = b = NULL;
		assert_int_equal(parse_str(TOPIC_R, ja, &a, &d), 0);
		assert_int_equal(parse_str(TOPIC_R, jb, &b, &d), 0);
		if (abyss_msg_same_data(a, b) != cases[i].same)
			fail_msg("case %zu: %s vs %s", i, cases[i].a,
				 cases[i].b);
		assert_int_equal(abyss_msg_same_data(b, a), cases[i].same);
		abyss_msg_free(a);
		abyss_msg_free(b);
	}
	assert_int_equal(abyss_msg_same_data(NULL, NULL), 0);
}

/* ---- hand-made messages ---------------------------------------------------
 */

static void build_msgs(const char *r, const char *t, const char *hd,
		       struct abyss_hole *h, int expect, struct abyss_diag *d)
{
	struct abyss_msg *mr = NULL, *mt = NULL, *mh = NULL;

	assert_int_equal(parse_str(TOPIC_R, r, &mr, d), 0);
	assert_int_equal(parse_str(TOPIC_T, t, &mt, d), 0);
	if (hd)
		assert_int_equal(parse_str(TOPIC_H, hd, &mh, d), 0);
	abyss_diag_init(d);
	assert_int_equal(abyss_hole_from_msgs(mr, mt, mh, NULL, h, d), expect);
	abyss_msg_free(mr);
	abyss_msg_free(mt);
	abyss_msg_free(mh);
}

static void test_message_hand_made_hole(void **state)
{
	struct abyss_hole h;
	struct abyss_diag d;
	const char *heads = ENV_BEGIN E(
	    "AssetManagement.Assets.Heads.0.Identification.SerialNumber",
	    "[\"  E004  \", \"x\"]") ENV_END;

	(void)state;
	abyss_hole_init(&h);
	build_msgs(result_ok, trace_ok, heads, &h, 0, &d);
	assert_int_equal(h.n, 3);
	assert_string_equal(h.machine_id, "42");
	assert_string_equal(h.result_id, "123");
	assert_int_equal(h.local, 123);
	assert_string_equal(h.head_id, "E004"); /* list -> first, stripped */
	assert_string_equal(h.tool_key, "TB1/tool7");
	assert_string_equal(h.source_name, TOPIC_R);
	ASSERT_NEAR(h.position_mm[2], -1.5, 0); /* raw sign */
	ASSERT_NEAR(h.torque_empty_a[0], 1.5, 0);
	ASSERT_NEAR(h.torque_empty_a[2], 2.5, 0);
	ASSERT_NEAR(h.thrust_empty_a[1], 0.2, 0);
	assert_true(isnan(h.gap_mm[0]));
	ASSERT_NEAR(h.gap_mm[1], 0.5, 0);
	assert_true(isnan(h.power_w[0]));
	assert_int_equal(h.steps[1].stop_code, 8192);
	abyss_hole_free(&h);
}

static void test_message_hole_errors(void **state)
{
	struct abyss_hole h;
	struct abyss_diag d;
	struct abyss_msg *mr = NULL, *mt = NULL;
	const char *no_serial =
	    ENV_BEGIN E(RP "ResultMetaData.ResultId", "1") "," E(
		SRV "IntensityTorqueEmpty",
		"1") "," E(SRV "IntensityThrustEmpty",
			   "1") "," E(SRV "StepNumber", "1") ENV_END;
	const char *bad_rid =
	    ENV_BEGIN E(RP "ResultMetaData.SerialNumber", "1") "," E(
		RP "ResultMetaData.ResultId",
		"\"12a\"") "," E(SRV "IntensityTorqueEmpty",
				 "1") "," E(SRV "IntensityThrustEmpty",
					    "1") "," E(SRV "StepNumber", "1")
		ENV_END;
	const char *unequal =
	    ENV_BEGIN E(TR "PositionTrace" VAL, "[1, 2]") "," E(
		TR "IntensityTorqueTrace" VAL,
		"[1, 2]") "," E(TR "IntensityThrustTrace" VAL,
				"[1]") "," E(TR "StepNumberTrace" VAL, "[1, 1]")
		ENV_END;
	const char *bad_step = ENV_BEGIN E(TR "PositionTrace" VAL, "[1]") "," E(
	    TR "IntensityTorqueTrace" VAL,
	    "[1]") "," E(TR "IntensityThrustTrace" VAL,
			 "[1]") "," E(TR "StepNumberTrace" VAL, "[1.5]")
	    ENV_END;
	const char *empty = ENV_BEGIN E(TR "PositionTrace" VAL, "[]") "," E(
	    TR "IntensityTorqueTrace" VAL,
	    "[]") "," E(TR "IntensityThrustTrace" VAL,
			"[]") "," E(TR "StepNumberTrace" VAL, "[]") ENV_END;
	const char *text = ENV_BEGIN E(TR "PositionTrace" VAL, "[\"1\"]") "," E(
	    TR "IntensityTorqueTrace" VAL,
	    "[1]") "," E(TR "IntensityThrustTrace" VAL,
			 "[1]") "," E(TR "StepNumberTrace" VAL, "[1]") ENV_END;

	(void)state;
	abyss_hole_init(&h);
	build_msgs(no_serial, trace_ok, NULL, &h, ABYSS_EMISSING, &d);
	assert_non_null(strstr(d.msg, "SerialNumber"));
	build_msgs(bad_rid, trace_ok, NULL, &h, ABYSS_EPARSE, &d);
	assert_non_null(strstr(d.msg, "ResultId"));
	build_msgs(result_ok, unequal, NULL, &h, ABYSS_EPARSE, &d);
	assert_non_null(strstr(d.msg, "thrust 1"));
	build_msgs(result_ok, bad_step, NULL, &h, ABYSS_EPARSE, &d);
	assert_non_null(strstr(d.msg, "step[0]"));
	build_msgs(result_ok, empty, NULL, &h, ABYSS_ENODATA, &d);
	build_msgs(result_ok, text, NULL, &h, ABYSS_EPARSE, &d);
	assert_non_null(strstr(d.msg, "position[0]"));
	assert_int_equal(h.n, 0);
	assert_null(h.position_mm);

	/* swapped kinds are a programming error */
	assert_int_equal(parse_str(TOPIC_R, result_ok, &mr, &d), 0);
	assert_int_equal(parse_str(TOPIC_T, trace_ok, &mt, &d), 0);
	assert_int_equal(abyss_hole_from_msgs(mt, mr, NULL, NULL, &h, &d),
			 ABYSS_EINVAL);
	assert_int_equal(abyss_hole_from_msgs(mr, NULL, NULL, NULL, &h, &d),
			 ABYSS_EINVAL);
	/* a failing call leaves a previously filled hole empty */
	assert_int_equal(abyss_hole_from_msgs(mr, mt, NULL, NULL, &h, &d), 0);
	assert_int_equal(h.n, 3);
	assert_int_equal(abyss_hole_from_msgs(mt, mr, NULL, NULL, &h, &d),
			 ABYSS_EINVAL);
	assert_int_equal(h.n, 0);
	abyss_msg_free(mr);
	abyss_msg_free(mt);
}

static void test_message_custom_data_ids(void **state)
{
	struct abyss_data_ids ids = abyss_data_ids_default();
	struct abyss_msg *mr = NULL, *mt = NULL;
	struct abyss_hole h;
	struct abyss_diag d;

	(void)state;
	assert_non_null(strstr(ids.step_vals, "StepResultValues.StepNumber"));
	/* short substrings work: the first key containing them wins */
	snprintf(ids.machine_id, sizeof(ids.machine_id), "ResultId");
	assert_int_equal(parse_str(TOPIC_R, result_ok, &mr, &d), 0);
	assert_int_equal(parse_str(TOPIC_T, trace_ok, &mt, &d), 0);
	abyss_hole_init(&h);
	assert_int_equal(abyss_hole_from_msgs(mr, mt, NULL, &ids, &h, &d), 0);
	assert_string_equal(h.machine_id, "123");
	snprintf(ids.position, sizeof(ids.position), "NoSuchKey");
	assert_int_equal(abyss_hole_from_msgs(mr, mt, NULL, &ids, &h, &d),
			 ABYSS_EMISSING);
	assert_non_null(strstr(d.msg, "NoSuchKey"));
	abyss_msg_free(mr);
	abyss_msg_free(mt);
}

/* ---- malformed input and limits -------------------------------------------
 */

static void test_message_malformed_json(void **state)
{
	static const struct {
		const char *json;
		int code;
	} cases[] = {
	    {"", ABYSS_EJSON},
	    {"{", ABYSS_EJSON},
	    {"[]", ABYSS_EJSON},
	    {"\"x\"", ABYSS_EJSON},
	    {"{\"Messages\": 1}", ABYSS_EMISSING},
	    {"{\"Messages\": {\"Payload\": []}}", ABYSS_EMISSING},
	    {"{\"Messages\": {\"Payload\": {}}}", ABYSS_EMISSING},
	    {"{\"a\": 1,}", ABYSS_EJSON},
	    {"{\"a\": NaN}", ABYSS_EJSON},
	    {"{\"a\": \"\\ud800\"}", ABYSS_EJSON},
	    {"{\"a\": 1} x", ABYSS_EJSON},
	    {"{\"a\": \"\xff\"}", ABYSS_EJSON},
	    {"{\"a\": 99999999999999999999999}", ABYSS_EJSON},
	};
	struct abyss_msg *m = NULL;
	struct abyss_diag d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse_str(TOPIC_R, cases[i].json, &m, &d);
		if (rc != cases[i].code)
			fail_msg("case %zu (%s): got %s, expected %s", i,
				 cases[i].json, abyss_errname(rc),
				 abyss_errname(cases[i].code));
		assert_null(m);
	}
	/* position of a syntax error on line 3 */
	assert_int_equal(parse_str(TOPIC_R, "{\n\"a\": 1,\n  \"b\" 2}", &m, &d),
			 ABYSS_EJSON);
	assert_int_equal(d.line, 3);
	assert_true(d.col >= 6);
	assert_int_equal(abyss_msg_parse(NULL, "{}", 2, NULL, &m, &d),
			 ABYSS_EINVAL);
}

static void test_message_every_truncation(void **state)
{
	struct abyss_msg *m = NULL;
	struct abyss_diag d;
	size_t len = strlen(trace_ok), i;

	(void)state;
	/* every proper prefix is invalid JSON, read without overrun */
	for (i = 0; i < len; i++) {
		void *g = guard_alloc(trace_ok, i);
		int rc = abyss_msg_parse(TOPIC_T, g, i, NULL, &m, &d);
		guard_free(g, i);
		assert_int_equal(rc, ABYSS_EJSON);
		assert_null(m);
	}
	assert_int_equal(parse_str(TOPIC_T, trace_ok, &m, &d), 0);
	abyss_msg_free(m);
}

/* peek: 0 only where parse succeeds with the same head; real messages of
 * every folder take the fast way. */
static void peek_agrees(const char *topic, const char *buf, size_t len,
			int expect_fast)
{
	struct abyss_msg_head h;
	struct abyss_msg *m = NULL;
	struct abyss_diag d;
	void *g = guard_alloc(buf, len);
	int rc = abyss_msg_peek(topic, g, len, NULL, &h);
	int prc = abyss_msg_parse(topic, g, len, NULL, &m, &d);

	guard_free(g, len);
	if (expect_fast >= 0)
		assert_int_equal(rc, expect_fast ? 0 : ABYSS_EAGAIN);
	if (rc == 0) {
		assert_int_equal(prc, 0);
		assert_int_equal(h.kind, m->kind);
		assert_string_equal(h.tool_key, m->tool_key);
		assert_true(h.timestamp_s == m->timestamp_s);
	} else {
		assert_int_equal(rc, ABYSS_EAGAIN);
	}
	abyss_msg_free(m);
}

static void test_message_peek_real_messages(void **state)
{
	static const char *const files[][2] = {
	    {"data0/Result.json", TOPIC_R},
	    {"data0/Trace.json", TOPIC_T},
	    {"data1/Result.json", TOPIC_R},
	    {"data1/Trace.json", TOPIC_T},
	    {"data2/Trace.json", TOPIC_T},
	    {"data_20250326/ResultManagement.json", TOPIC_R},
	    {"data_20250326/Trace.json", TOPIC_T},
	    {"data_20250623/Trace.json", TOPIC_T},
	    {"data_20250626/Trace.json", TOPIC_T}, /* truncated */
	};
	char rel[256];
	size_t i, len;

	(void)state;
	REQUIRE_DATA(data_path(TD "data0/Trace.json"));
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *buf;

		snprintf(rel, sizeof(rel), TD "%s", files[i][0]);
		buf = read_file(data_path(rel), &len);
		assert_non_null(buf);
		/* all but the truncated one are vouched for */
		peek_agrees(files[i][1], buf, len, i + 1 < 9);
		free(buf);
	}
}

static void test_message_peek_defers(void **state)
{
	/* each of these goes to abyss_msg_parse, which decides */
	static const char *const docs[] = {
	    /* an escape, non-ASCII text */
	    "{\"Messages\": {\"Payload\": {\"k\": {\"Value\": \"a\\nb\", "
	    "\"SourceTimestamp\": \"2024-01-01T00:00:00Z\"}}}}",
	    "{\"Messages\": {\"Payload\": {\"k\": {\"Value\": \"\xc3\xa9\", "
	    "\"SourceTimestamp\": \"2024-01-01T00:00:00Z\"}}}}",
	    /* a repeated key: the tree keeps the last value first */
	    "{\"Messages\": {\"Payload\": {\"k\": {\"SourceTimestamp\": "
	    "\"2024-01-01T00:00:00Z\"}, \"k\": {\"SourceTimestamp\": "
	    "\"2025-01-01T00:00:00Z\"}}}}",
	    /* errors: no Payload, no time, a bad time, a number, JSON */
	    "{\"Messages\": {\"P\": {\"SourceTimestamp\": "
	    "\"2024-01-01T00:00:00Z\"}}}",
	    "{\"Messages\": {\"Payload\": {\"k\": {\"Value\": 1}}}}",
	    "{\"Messages\": {\"Payload\": {\"k\": {\"SourceTimestamp\": "
	    "\"yesterday\"}}}}",
	    "{\"Messages\": {\"Payload\": {\"k\": {\"SourceTimestamp\": "
	    "17}}}}",
	    "{\"Messages\": {\"Payload\": {\"k\": [1, 2,]}}}",
	    "[]",
	    "",
	};
	const char *nested =
	    "{\"Messages\": {\"L\": [{\"SourceTimestamp\": "
	    "\"2001-01-01T00:00:00Z\"}], \"Payload\": {\"k\": "
	    "{\"SourceTimestamp\": \"2024-12-04T19:14:42.5Z\"}}}}";
	struct abyss_msg_head h;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		peek_agrees(TOPIC_R, docs[i], strlen(docs[i]), 0);
	/* the time is the first SourceTimestamp outside arrays, as parse */
	peek_agrees(TOPIC_R, nested, strlen(nested), 1);
	assert_int_equal(
	    abyss_msg_peek(TOPIC_R, nested, strlen(nested), NULL, &h), 0);
	assert_true(h.timestamp_s == 1733339682.5);
	peek_agrees(TOPIC_R, trace_ok, strlen(trace_ok), 1);
	assert_int_equal(abyss_msg_peek(NULL, "{}", 2, NULL, &h), ABYSS_EINVAL);
}

static void test_message_limits(void **state)
{
	struct abyss_msg_limits lim = abyss_msg_limits_default();
	struct abyss_msg *m = NULL;
	struct abyss_diag d;
	const char *deep = "{\"Messages\": {\"Payload\": {\"k\": {\"Value\": "
			   "[[[[1]]]], \"SourceTimestamp\": "
			   "\"2024-01-01T00:00:00Z\"}}}}";
	size_t len = strlen(trace_ok);

	(void)state;
	assert_int_equal(abyss_msg_parse(TOPIC_T, trace_ok, len, &lim, &m, &d),
			 0);
	abyss_msg_free(m);
	m = NULL;
	lim.max_array_len = 2;
	assert_int_equal(abyss_msg_parse(TOPIC_T, trace_ok, len, &lim, &m, &d),
			 ABYSS_ETOOBIG);
	assert_non_null(strstr(d.msg, "3 elements"));
	lim = abyss_msg_limits_default();
	lim.max_payload_bytes = len - 1;
	assert_int_equal(abyss_msg_parse(TOPIC_T, trace_ok, len, &lim, &m, &d),
			 ABYSS_ETOOBIG);
	lim = abyss_msg_limits_default();
	lim.max_depth = 6;
	assert_int_equal(
	    abyss_msg_parse(TOPIC_T, deep, strlen(deep), &lim, &m, &d),
	    ABYSS_ETOOBIG);
	lim.max_depth = 8;
	assert_int_equal(
	    abyss_msg_parse(TOPIC_T, deep, strlen(deep), &lim, &m, &d), 0);
	abyss_msg_free(m);
}

static void test_message_real_files_at_guard_page(void **state)
{
	static const char *files[] = {TD "data0/Result.json",
				      TD "data1/Trace.json",
				      TD "data_20250623/ResultManagement.json",
				      TD "data_20250623/Heads.json"};
	struct abyss_msg *m;
	struct abyss_diag d;
	size_t i, len;

	(void)state;
	REQUIRE_DATA(data_path(files[0]));
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const char *p = data_path(files[i]);
		char *buf;
		void *g;
		assert_non_null(p);
		buf = read_file(p, &len);
		assert_non_null(buf);
		g = guard_alloc(buf, len);
		m = NULL;
		assert_int_equal(abyss_msg_parse(TOPIC_R, g, len, NULL, &m, &d),
				 0);
		assert_true(m->timestamp_s > 1.7e9);
		abyss_msg_free(m);
		guard_free(g, len);
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_message_folder_data0),
	    cmocka_unit_test(test_message_data1_scalar_step_values),
	    cmocka_unit_test(test_message_data2_unequal_step_arrays),
	    cmocka_unit_test(test_message_data_20250326_heads),
	    cmocka_unit_test(test_message_data_20250623_measured_value),
	    cmocka_unit_test(test_message_data_20250626_truncated_trace),
	    cmocka_unit_test(test_message_afastening_namespace),
	    cmocka_unit_test(test_message_legacy_data_json),
	    cmocka_unit_test(test_message_legacy_equals_data2_trace),
	    cmocka_unit_test(test_message_raw_json_equals_messages),
	    cmocka_unit_test(test_message_pairs_match_setitec_files),
	    cmocka_unit_test(test_message_from_json_rejects_other),
	    cmocka_unit_test(test_message_classify_topics),
	    cmocka_unit_test(test_message_timestamps),
	    cmocka_unit_test(test_message_timestamp_first_depth_first),
	    cmocka_unit_test(test_message_same_data_like_the_buffer),
	    cmocka_unit_test(test_message_hand_made_hole),
	    cmocka_unit_test(test_message_hole_errors),
	    cmocka_unit_test(test_message_custom_data_ids),
	    cmocka_unit_test(test_message_malformed_json),
	    cmocka_unit_test(test_message_every_truncation),
	    cmocka_unit_test(test_message_limits),
	    cmocka_unit_test(test_message_peek_real_messages),
	    cmocka_unit_test(test_message_peek_defers),
	    cmocka_unit_test(test_message_real_files_at_guard_page),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
