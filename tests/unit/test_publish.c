/*
 * test_publish.c - the pure parts of the traffic generator: templates
 * rendered from a real hole and patched in place (timestamps, ResultIds,
 * MessageIds) still decode to the same hole with the new identity; the
 * ResultId scheme round-trips and rejects foreign ids; quantiles. The
 * network side is tested against a real broker by
 * tests/integration/20-publish.sh.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/hole.h"
#include "abyss/message.h"
#include "service/publish.h"
#include "testutil.h"

/* A small hole with every field the writer uses. */
static void make_hole(struct abyss_hole *h)
{
	size_t i, n = 50;

	abyss_hole_init(h);
	assert_int_equal(abyss_hole_alloc(h, n, 2), 0);
	for (i = 0; i < 2; i++) {
		h->steps[i].step = (int32_t)i + 1;
		h->steps[i].torque_empty_a = 0.5;
		h->steps[i].thrust_empty_a = 0.25;
	}
	for (i = 0; i < n; i++) {
		h->position_mm[i] = -0.1 * (double)i;
		h->torque_a[i] = 1.0 + (double)i / 7.0;
		h->thrust_a[i] = 2.0 + (double)i / 9.0;
		h->step[i] = i < 25 ? 1 : 2;
	}
	snprintf(h->machine_id, sizeof(h->machine_id), "23120040");
	snprintf(h->result_id, sizeof(h->result_id), "2409");
	h->timestamp_s = 1733339682.75; /* 2024-12-04T19:14:42.75Z */
}

static void decode(const struct pub_template *t, struct abyss_hole *out)
{
	struct abyss_msg *r = NULL, *tr = NULL, *hd = NULL;
	struct abyss_diag d;

	abyss_diag_init(&d);
	assert_int_equal(abyss_msg_parse("OPCPUBSUB/a/b/ResultManagement",
					 t->msg[PUB_RESULT].text,
					 t->msg[PUB_RESULT].len, NULL, &r, &d),
			 0);
	assert_int_equal(abyss_msg_parse("OPCPUBSUB/a/b/ResultManagement/Trace",
					 t->msg[PUB_TRACE].text,
					 t->msg[PUB_TRACE].len, NULL, &tr, &d),
			 0);
	if (t->nmsg == 3)
		assert_int_equal(
		    abyss_msg_parse("OPCPUBSUB/a/b/AssetManagement/Heads",
				    t->msg[PUB_HEADS].text,
				    t->msg[PUB_HEADS].len, NULL, &hd, &d),
		    0);
	assert_int_equal(abyss_hole_from_msgs(r, tr, hd, NULL, out, &d), 0);
	abyss_msg_free(r);
	abyss_msg_free(tr);
	abyss_msg_free(hd);
}

static void test_publish_template_stamp(void **state)
{
	struct pub_template t;
	struct abyss_hole h, back;
	char ts[PUB_TS_LEN + 1], want[32];
	size_t k, i;

	(void)state;
	make_hole(&h);
	assert_int_equal(pub_template_init(&t, &h, true), 0);
	assert_int_equal(t.nmsg, 3);
	assert_string_equal(t.ts0, "2024-12-04T19:14:42Z");
	assert_true(t.msg[PUB_RESULT].nrid >= 1);
	assert_true(t.msg[PUB_TRACE].nrid >= 4); /* one per channel */
	assert_int_equal(t.msg[PUB_HEADS].nrid, 0);
	for (k = 0; k < 3; k++)
		assert_true(t.msg[k].nts >= 2); /* envelope + payload */

	pub_format_ts(1767225600, ts); /* 2026-01-01T00:00:00Z */
	assert_string_equal(ts, "2026-01-01T00:00:00Z");
	for (k = 0; k < 3; k++)
		pub_template_stamp(&t, k, 4242, 77, ts);
	abyss_hole_init(&back);
	decode(&t, &back);
	snprintf(want, sizeof(want), "%llu",
		 (unsigned long long)pub_result_id(4242, 77));
	assert_string_equal(back.result_id, want);
	assert_string_equal(back.machine_id, "23120040");
	assert_true(fabs(back.timestamp_s - 1767225600.0) < 1e-9);
	assert_int_equal(back.n, h.n);
	for (i = 0; i < h.n; i++) {
		assert_true(back.position_mm[i] == h.position_mm[i]);
		assert_true(back.torque_a[i] == h.torque_a[i]);
		assert_int_equal(back.step[i], h.step[i]);
	}
	/* the stamp reads back from every message, kind included */
	for (k = 0; k < 3; k++)
		assert_int_equal(
		    pub_message_stamp(4242, t.msg[k].text, t.msg[k].len),
		    (int64_t)(77 << 2 | k));
	assert_int_equal(pub_message_stamp(4243, t.msg[0].text, t.msg[0].len),
			 -1);
	/* another stamp overwrites the first completely */
	for (k = 0; k < 3; k++)
		pub_template_stamp(&t, k, 4242, 78, NULL);
	decode(&t, &back);
	snprintf(want, sizeof(want), "%llu",
		 (unsigned long long)pub_result_id(4242, 78));
	assert_string_equal(back.result_id, want);
	assert_true(fabs(back.timestamp_s - 1767225600.0) < 1e-9);
	abyss_hole_free(&back);
	abyss_hole_free(&h);
	pub_template_free(&t);
}

static void test_publish_template_no_heads(void **state)
{
	struct pub_template t;
	struct abyss_hole h;

	(void)state;
	make_hole(&h);
	h.timestamp_s = NAN;
	assert_int_equal(pub_template_init(&t, &h, false), 0);
	assert_int_equal(t.nmsg, 2);
	assert_null(t.msg[PUB_HEADS].text);
	assert_string_equal(t.ts0, "1970-01-01T00:00:00Z");
	pub_template_free(&t);
	pub_template_free(&t); /* idempotent */
	h.n = 0;
	assert_int_equal(pub_template_init(&t, &h, true), ABYSS_EINVAL);
	h.n = 50;
	abyss_hole_free(&h);
}

static void test_publish_result_id_scheme(void **state)
{
	char buf[32];
	uint64_t seq, id, prev = 0;
	uint32_t nonce;

	(void)state;
	for (nonce = 0; nonce < 90000; nonce += 8999)
		for (seq = 0; seq < 30000000; seq += 2999999) {
			id = pub_result_id(nonce, seq);
			assert_true(id >= 100000000000ULL &&
				    id <= 999999999999ULL);
			snprintf(buf, sizeof(buf), "%llu",
				 (unsigned long long)id);
			assert_int_equal(strlen(buf), PUB_RID_LEN);
			assert_int_equal(
			    pub_result_seq(nonce, buf, strlen(buf), 1u << 30),
			    (int64_t)seq);
		}
	/* consecutive holes: distinct ids */
	for (seq = 0; seq < 1000; seq++) {
		id = pub_result_id(7, seq);
		assert_true(id != prev);
		prev = id;
	}
	/* not ours: wrong length, junk, beyond what was sent */
	assert_int_equal(pub_result_seq(7, "2409", 4, 100), -1);
	assert_int_equal(pub_result_seq(7, "10007000000x", 12, 100), -1);
	assert_int_equal(pub_result_seq(7, "010007000000", 12, 100), -1);
	snprintf(buf, sizeof(buf), "%llu",
		 (unsigned long long)pub_result_id(7, 100));
	assert_int_equal(pub_result_seq(7, buf, 12, 100), -1);
	assert_int_equal(pub_result_seq(7, buf, 12, 101), 100);
	assert_int_equal(pub_result_seq(7, NULL, 0, 100), -1);
}

static void test_publish_message_stamp_rejects(void **state)
{
	const char *a = "{\"x\": 1}";
	const char *b = "{\n  \"MessageId\": \"12345678-1234-4123-8123-0000zz"
			"000001\"}";
	const char *c = "{\n  \"MessageId\": \"1234";

	(void)state;
	assert_int_equal(pub_message_stamp(0, a, strlen(a)), -1);
	assert_int_equal(pub_message_stamp(0, b, strlen(b)), -1);
	assert_int_equal(pub_message_stamp(0, c, strlen(c)), -1);
}

static void test_publish_result_payload(void **state)
{
	char ok[256], num[256];
	bool err = true;

	(void)state;
	snprintf(ok, sizeof(ok),
		 "{\"SourceTimestamp\": \"2026-01-01T00:00:00Z\", "
		 "\"MachineId\": \"1\", \"ResultId\": \"%llu\", "
		 "\"HeadId\": null, \"Value\": [1.0, 2.0], "
		 "\"AlgoVersion\": \"0.2.6\"}",
		 (unsigned long long)pub_result_id(42, 3));
	assert_int_equal(pub_result_payload(42, ok, strlen(ok), 10, &err), 3);
	assert_false(err);
	/* not below what was sent, or another run's nonce */
	assert_int_equal(pub_result_payload(42, ok, strlen(ok), 3, &err), -1);
	assert_int_equal(pub_result_payload(43, ok, strlen(ok), 10, &err), -1);
	snprintf(num, sizeof(num),
		 "{\"ResultId\": %llu, \"Value\": \"Error in depth "
		 "estimation: x\", \"Error\": true}",
		 (unsigned long long)pub_result_id(42, 9));
	assert_int_equal(pub_result_payload(42, num, strlen(num), 10, &err), 9);
	assert_true(err);
	assert_int_equal(
	    pub_result_payload(42, "{\"ResultId\": \"2409\"}", 21, 10, NULL),
	    -1);
	assert_int_equal(pub_result_payload(42, "{", 1, 10, &err), -1);
	assert_int_equal(pub_result_payload(42, ok, 20, 10, &err), -1);
	assert_int_equal(pub_result_payload(42, NULL, 0, 10, &err), -1);
}

static void test_publish_quantiles(void **state)
{
	float v[100];
	size_t i;

	(void)state;
	for (i = 0; i < 100; i++)
		v[i] = (float)(100 - i);
	pub_sort(v, 100);
	assert_true(v[0] == 1.0f && v[99] == 100.0f);
	assert_true(pub_quantile_sorted(v, 100, 0.5) == 50.0);
	assert_true(pub_quantile_sorted(v, 100, 0.99) == 99.0);
	assert_true(pub_quantile_sorted(v, 100, 1.0) == 100.0);
	assert_true(pub_quantile_sorted(v, 1, 0.99) == 1.0);
	assert_true(pub_quantile_sorted(v, 0, 0.5) == 0.0);
	assert_true(pub_quantile_sorted(v, 100, 0.001) == 1.0);
}

static void test_publish_run_rejects_bad_opts(void **state)
{
	struct pub_opts o;
	struct pub_report rep;
	struct pub_template t;
	struct abyss_hole h;
	char err[256];

	(void)state;
	make_hole(&h);
	assert_int_equal(pub_template_init(&t, &h, true), 0);
	pub_opts_init(&o);
	o.count = 1;
	o.qos = 3;
	assert_int_equal(
	    pub_run(&o, &t, 1, &rep, NULL, NULL, 0, err, sizeof(err)),
	    ABYSS_EINVAL);
	assert_non_null(strstr(err, "qos"));
	o.qos = 0;
	o.suffix[PUB_HEADS] = NULL; /* template has Heads, topics do not */
	assert_int_equal(
	    pub_run(&o, &t, 1, &rep, NULL, NULL, 0, err, sizeof(err)),
	    ABYSS_EINVAL);
	pub_opts_init(&o);
	o.tool_key = "no-slash";
	o.count = 1;
	assert_int_equal(
	    pub_run(&o, &t, 1, &rep, NULL, NULL, 0, err, sizeof(err)),
	    ABYSS_EINVAL);
	pub_opts_init(&o); /* neither count nor duration */
	assert_int_equal(
	    pub_run(&o, &t, 1, &rep, NULL, NULL, 0, err, sizeof(err)),
	    ABYSS_EINVAL);
	pub_template_free(&t);
	abyss_hole_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_publish_template_stamp),
	    cmocka_unit_test(test_publish_template_no_heads),
	    cmocka_unit_test(test_publish_result_id_scheme),
	    cmocka_unit_test(test_publish_message_stamp_rejects),
	    cmocka_unit_test(test_publish_result_payload),
	    cmocka_unit_test(test_publish_quantiles),
	    cmocka_unit_test(test_publish_run_rejects_bad_opts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
