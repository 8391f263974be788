/* test_correlator.c - Result/Trace/Heads correlation: matching rules, window
 * edges, duplicates, Heads grace, expiry by arrival time, limits, shards. */
#include "testutil.h"

#include "abyss/version.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/correlator.h"
#include "abyss/hole.h"
#include "abyss/message.h"
#include "abyss/payload.h"

#define T0 1733339682000LL /* a payload time in 2024 (ms) */

struct rec {
	int groups;
	int with_heads;
	long hole_r[256], hole_t[256], hole_h[256];
	int drops[ABYSS_DROP__COUNT];
	int mismatched; /* result and trace of different holes */
};

static void on_match(void *ud, struct abyss_corr_group *g)
{
	struct rec *r = ud;
	long hr = (long)json_integer_value(
	    json_object_get((json_t *)g->result.doc, "hole"));
	long ht = (long)json_integer_value(
	    json_object_get((json_t *)g->trace.doc, "hole"));

	if (hr != ht)
		r->mismatched++;
	if (r->groups < 256) {
		r->hole_r[r->groups] = hr;
		r->hole_t[r->groups] = ht;
		r->hole_h[r->groups] =
		    g->has_heads ? (long)json_integer_value(json_object_get(
				       (json_t *)g->heads.doc, "hole"))
				 : -1;
	}
	r->groups++;
	r->with_heads += g->has_heads;
	abyss_corr_msg_release(&g->result);
	abyss_corr_msg_release(&g->trace);
	if (g->has_heads)
		abyss_corr_msg_release(&g->heads);
}

static void on_drop(void *ud, const struct abyss_corr_msg *m,
		    enum abyss_corr_drop why)
{
	struct rec *r = ud;
	(void)m;
	r->drops[why]++;
}

static void free_json(void *p)
{
	json_decref(p);
}

/* A message of `kind` for `key` at payload time ts_ms whose document says
 * which hole it belongs to. */
static struct abyss_corr_msg mk(enum abyss_corr_kind kind, const char *key,
				int64_t ts_ms, long hole)
{
	struct abyss_corr_msg m;
	json_t *doc =
	    json_pack("{s:I, s:s}", "hole", (json_int_t)hole, "key", key);

	memset(&m, 0, sizeof(m));
	m.kind = kind;
	snprintf(m.tool_key, sizeof(m.tool_key), "%s", key);
	m.ts_ms = ts_ms;
	m.size = 100;
	m.doc = doc;
	m.payload = doc;
	m.free_fn = free_json;
	return m;
}

static struct abyss_corr *new_corr(struct abyss_corr_config *cfg, struct rec *r)
{
	struct abyss_corr *c = NULL;

	memset(r, 0, sizeof(*r));
	assert_int_equal(abyss_corr_new(cfg, on_match, on_drop, r, &c), 0);
	return c;
}

static int push(struct abyss_corr *c, enum abyss_corr_kind kind,
		const char *key, int64_t ts_ms, long hole, int64_t now_ms)
{
	struct abyss_corr_msg m = mk(kind, key, ts_ms, hole);
	return abyss_corr_push(c, &m, now_ms);
}

static void test_correlator_in_order_pair(void **state)
{
	struct abyss_corr_config cfg;
	struct abyss_corr_stats st;
	struct rec r;
	struct abyss_corr *c;

	(void)state;
	abyss_corr_config_default(&cfg);
	c = new_corr(&cfg, &r);
	assert_int_equal(push(c, ABYSS_CORR_RESULT, "TB1/t1", T0, 1, 0), 0);
	assert_int_equal(r.groups, 0);
	abyss_corr_get_stats(c, &st);
	assert_int_equal(st.pending_messages, 1);
	assert_int_equal(st.keys, 1);
	assert_int_equal(push(c, ABYSS_CORR_TRACE, "TB1/t1", T0 + 5000, 1, 10),
			 0);
	assert_int_equal(r.groups, 1);
	assert_int_equal(r.hole_r[0], 1);
	/* matched messages leave at once */
	abyss_corr_get_stats(c, &st);
	assert_int_equal(st.pending_messages, 0);
	assert_int_equal(st.pending_bytes, 0);
	assert_int_equal(st.keys, 0);
	assert_int_equal(st.matched, 1);
	/* a different tool key never matches */
	push(c, ABYSS_CORR_RESULT, "TB1/t1", T0, 2, 20);
	push(c, ABYSS_CORR_TRACE, "TB1/t2", T0, 2, 30);
	assert_int_equal(r.groups, 1);
	abyss_corr_free(c);
}

static void test_correlator_shuffled_holes_all_match(void **state)
{
	struct abyss_corr_config cfg;
	struct abyss_corr_stats st;
	struct rec r;
	struct abyss_corr *c;
	int order[200], i;
	uint64_t seed = 42;

	(void)state;
	abyss_corr_config_default(&cfg);
	c = new_corr(&cfg, &r);
	/* 100 holes on 5 tools, 60 s apart per tool; R and T 0..9 s apart */
	for (i = 0; i < 200; i++)
		order[i] = i;
	for (i = 199; i > 0; i--) { /* Fisher-Yates, fixed LCG seed */
		int j, tmp;
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		j = (int)((seed >> 33) % (uint64_t)(i + 1));
		tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}
	for (i = 0; i < 200; i++) {
		int hole = order[i] / 2, is_trace = order[i] % 2;
		char key[32];
		int64_t ts = T0 + (int64_t)(hole / 5) * 60000 +
			     (is_trace ? hole % 10 * 1000 : 0);
		snprintf(key, sizeof(key), "TB/tool%d", hole % 5);
		assert_int_equal(
		    push(c, is_trace ? ABYSS_CORR_TRACE : ABYSS_CORR_RESULT,
			 key, ts, hole, i),
		    0);
	}
	assert_int_equal(r.groups, 100);
	assert_int_equal(r.mismatched, 0);
	abyss_corr_get_stats(c, &st);
	assert_int_equal(st.pending_messages, 0);
	abyss_corr_free(c);
}

static void test_correlator_nearest_not_first(void **state)
{
	struct abyss_corr_config cfg;
	struct rec r;
	struct abyss_corr *c;

	(void)state;
	abyss_corr_config_default(&cfg);
	c = new_corr(&cfg, &r);
	/* the original took the first trace in buffer order (hole 1); the
	 * nearest in payload time is hole 2 */
	push(c, ABYSS_CORR_TRACE, "A/b", T0 + 20000, 1, 0);
	push(c, ABYSS_CORR_TRACE, "A/b", T0 + 2000, 2, 1);
	push(c, ABYSS_CORR_RESULT, "A/b", T0, 2, 2);
	assert_int_equal(r.groups, 1);
	assert_int_equal(r.hole_t[0], 2);
	push(c, ABYSS_CORR_RESULT, "A/b", T0 + 21000, 1, 3);
	assert_int_equal(r.groups, 2);
	assert_int_equal(r.hole_t[1], 1);
	/* equal distance: the earlier arrival wins */
	push(c, ABYSS_CORR_RESULT, "A/b", T0 + 100000, 3, 4);
	push(c, ABYSS_CORR_RESULT, "A/b", T0 + 110000, 4, 5);
	push(c, ABYSS_CORR_TRACE, "A/b", T0 + 105000, 3, 6);
	assert_int_equal(r.groups, 3);
	assert_int_equal(r.hole_r[2], 3);
	assert_int_equal(r.mismatched, 0);
	abyss_corr_free(c);
}

static void test_correlator_window_edges_inclusive(void **state)
{
	struct abyss_corr_config cfg;
	struct rec r;
	struct abyss_corr *c;

	(void)state;
	abyss_corr_config_default(&cfg);
	c = new_corr(&cfg, &r);
	push(c, ABYSS_CORR_RESULT, "A/b", T0, 1, 0);
	push(c, ABYSS_CORR_TRACE, "A/b", T0 + 30000, 1, 1); /* exactly 30 s */
	assert_int_equal(r.groups, 1);
	push(c, ABYSS_CORR_RESULT, "A/b", T0, 2, 2);
	push(c, ABYSS_CORR_TRACE, "A/b", T0 - 30000, 2, 3); /* other side */
	assert_int_equal(r.groups, 2);
	push(c, ABYSS_CORR_RESULT, "A/b", T0, 3, 4);
	push(c, ABYSS_CORR_TRACE, "A/b", T0 + 30001, 3, 5); /* 1 ms over */
	assert_int_equal(r.groups, 2);
	/* the test suite of the original: 10 s gap, 5 s window */
	cfg.time_window_ms = 5000;
	assert_int_equal(abyss_corr_reconfigure(c, &cfg), 0);
	push(c, ABYSS_CORR_RESULT, "X/y", T0, 4, 6);
	push(c, ABYSS_CORR_TRACE, "X/y", T0 + 10000, 4, 7);
	assert_int_equal(r.groups, 2);
	abyss_corr_free(c);
}

/* Same content as mk(), keys in another order and an integer written as a
 * real within 1e-10. */
static struct abyss_corr_msg mk_reordered(enum abyss_corr_kind kind,
					  const char *key, int64_t ts_ms,
					  long hole)
{
	struct abyss_corr_msg m = mk(kind, key, ts_ms, hole);
	json_t *doc =
	    json_pack("{s:s, s:f}", "key", key, "hole", (double)hole + 1e-12);

	json_decref(m.payload);
	m.doc = doc;
	m.payload = doc;
	return m;
}

static void test_correlator_duplicates_three_policies(void **state)
{
	struct abyss_corr_config cfg;
	struct abyss_corr_stats st;
	struct abyss_corr_msg m;
	struct rec r;
	struct abyss_corr *c;

	(void)state;
	/* ignore: the re-send is dropped and counted, the first stays */
	abyss_corr_config_default(&cfg);
	c = new_corr(&cfg, &r);
	push(c, ABYSS_CORR_RESULT, "A/b", T0, 1, 0);
	m = mk_reordered(ABYSS_CORR_RESULT, "A/b", T0 + 999, 1);
	assert_int_equal(abyss_corr_push(c, &m, 1), 0);
	assert_int_equal(r.drops[ABYSS_DROP_DUPLICATE], 1);
	abyss_corr_get_stats(c, &st);
	assert_int_equal(st.pending_messages, 1);
	/* 1000 ms apart is no longer a duplicate (strict <) */
	m = mk_reordered(ABYSS_CORR_RESULT, "A/b", T0 + 1000, 1);
	assert_int_equal(abyss_corr_push(c, &m, 2), 0);
	/* different content at the same time is not a duplicate either */
	push(c, ABYSS_CORR_RESULT, "A/b", T0, 9, 3);
	/* same content, other kind (other topic): not a duplicate */
	push(c, ABYSS_CORR_TRACE, "Z/z", T0, 1, 4);
	m = mk(ABYSS_CORR_RESULT, "Z/y", T0, 1);
	assert_int_equal(abyss_corr_push(c, &m, 5), 0);
	assert_int_equal(r.drops[ABYSS_DROP_DUPLICATE], 1);
	abyss_corr_get_stats(c, &st);
	assert_int_equal(st.pending_messages, 5);
	abyss_corr_free(c);

	/* replace: the new payload is the one that gets matched */
	cfg.duplicate_handling = ABYSS_DUP_REPLACE;
	c = new_corr(&cfg, &r);
	push(c, ABYSS_CORR_RESULT, "A/b", T0, 1, 0);
	m = mk_reordered(ABYSS_CORR_RESULT, "A/b", T0 + 10, 1);
	assert_int_equal(abyss_corr_push(c, &m, 1), 0);
	assert_int_equal(r.drops[ABYSS_DROP_DUPLICATE], 1);
	abyss_corr_get_stats(c, &st);
	assert_int_equal(st.pending_messages, 1);
	push(c, ABYSS_CORR_TRACE, "A/b", T0 + 10, 1, 2);
	assert_int_equal(r.groups, 1);
	abyss_corr_free(c);

	/* error: dropped, and the caller is told */
	cfg.duplicate_handling = ABYSS_DUP_ERROR;
	c = new_corr(&cfg, &r);
	push(c, ABYSS_CORR_TRACE, "A/b", T0, 1, 0);
	m = mk_reordered(ABYSS_CORR_TRACE, "A/b", T0, 1);
	assert_int_equal(abyss_corr_push(c, &m, 1), ABYSS_EDUPLICATE);
	assert_int_equal(r.drops[ABYSS_DROP_DUPLICATE], 1);
	abyss_corr_get_stats(c, &st);
	assert_int_equal(st.pending_messages, 1);
	abyss_corr_free(c);
}

/* A message as the daemon hands it in: no tree yet, the payload bytes. */
static struct abyss_corr_msg mk_raw(enum abyss_corr_kind kind, const char *key,
				    int64_t ts_ms, const char *bytes)
{
	struct abyss_corr_msg m;

	memset(&m, 0, sizeof(m));
	m.kind = kind;
	snprintf(m.tool_key, sizeof(m.tool_key), "%s", key);
	m.ts_ms = ts_ms;
	m.size = strlen(bytes);
	m.raw = bytes;
	m.raw_len = strlen(bytes);
	return m;
}

static void test_correlator_duplicates_by_bytes(void **state)
{
	struct abyss_corr_config cfg;
	struct abyss_corr_stats st;
	struct abyss_corr_msg m;
	struct rec r;
	struct abyss_corr *c;
	/* the same document written differently: equal JSON, other bytes */
	const char *a = "{\"hole\": 1, \"key\": \"A/b\"}";
	const char *b = "{\"key\": \"A/b\", \"hole\": 1}";

	(void)state;
	abyss_corr_config_default(&cfg);
	c = new_corr(&cfg, &r);
	m = mk_raw(ABYSS_CORR_RESULT, "A/b", T0, a);
	assert_int_equal(abyss_corr_push(c, &m, 0), 0);
	/* the same bytes again: a duplicate */
	m = mk_raw(ABYSS_CORR_RESULT, "A/b", T0 + 10, a);
	assert_int_equal(abyss_corr_push(c, &m, 1), 0);
	assert_int_equal(r.drops[ABYSS_DROP_DUPLICATE], 1);
	/* other bytes (even if equal as JSON): kept */
	m = mk_raw(ABYSS_CORR_RESULT, "A/b", T0 + 10, b);
	assert_int_equal(abyss_corr_push(c, &m, 2), 0);
	assert_int_equal(r.drops[ABYSS_DROP_DUPLICATE], 1);
	/* a parsed message and a raw one are never compared */
	push(c, ABYSS_CORR_RESULT, "A/b", T0, 1, 3);
	assert_int_equal(r.drops[ABYSS_DROP_DUPLICATE], 1);
	abyss_corr_get_stats(c, &st);
	assert_int_equal(st.pending_messages, 3);
	abyss_corr_free(c);
}

static void test_correlator_heads_grace(void **state)
{
	struct abyss_corr_config cfg;
	struct abyss_corr_stats st;
	struct rec r;
	struct abyss_corr *c;

	(void)state;
	abyss_corr_config_default(&cfg);
	cfg.heads_enabled = 1;
	cfg.heads_grace_ms = 2000;
	c = new_corr(&cfg, &r);
	/* Heads first: the pair takes it at once */
	push(c, ABYSS_CORR_HEADS, "A/b", T0 + 1000, 1, 0);
	push(c, ABYSS_CORR_RESULT, "A/b", T0, 1, 1);
	push(c, ABYSS_CORR_TRACE, "A/b", T0, 1, 2);
	assert_int_equal(r.groups, 1);
	assert_int_equal(r.hole_h[0], 1);
	/* Heads within the grace */
	push(c, ABYSS_CORR_RESULT, "A/b", T0 + 60000, 2, 100);
	push(c, ABYSS_CORR_TRACE, "A/b", T0 + 60000, 2, 100);
	assert_int_equal(r.groups, 1);
	abyss_corr_get_stats(c, &st);
	assert_int_equal(st.pending_pairs, 1);
	assert_int_equal(st.pending_messages, 2);
	push(c, ABYSS_CORR_HEADS, "A/b", T0 + 60500, 2, 600);
	assert_int_equal(r.groups, 2);
	assert_int_equal(r.hole_h[1], 2);
	/* no Heads: emitted without it once the grace has run out */
	push(c, ABYSS_CORR_RESULT, "A/b", T0 + 120000, 3, 1000);
	push(c, ABYSS_CORR_TRACE, "A/b", T0 + 120000, 3, 1000);
	abyss_corr_tick(c, 2999);
	assert_int_equal(r.groups, 2);
	abyss_corr_tick(c, 3000);
	assert_int_equal(r.groups, 3);
	assert_int_equal(r.hole_h[2], -1);
	abyss_corr_get_stats(c, &st);
	assert_int_equal(st.heads_timeouts, 1);
	assert_int_equal(st.matched_with_heads, 2);
	assert_int_equal(st.pending_messages, 0);
	/* a Heads message outside the window does not join */
	push(c, ABYSS_CORR_HEADS, "A/b", T0 + 500000, 4, 4000);
	push(c, ABYSS_CORR_RESULT, "A/b", T0 + 400000, 4, 4000);
	push(c, ABYSS_CORR_TRACE, "A/b", T0 + 400000, 4, 4000);
	abyss_corr_tick(c, 6000);
	assert_int_equal(r.groups, 4);
	assert_int_equal(r.hole_h[3], -1);
	abyss_corr_free(c);
	/* heads disabled: a Heads message is invalid */
	cfg.heads_enabled = 0;
	c = new_corr(&cfg, &r);
	assert_int_equal(push(c, ABYSS_CORR_HEADS, "A/b", T0, 1, 0),
			 ABYSS_EINVAL);
	assert_int_equal(r.drops[ABYSS_DROP_INVALID], 1);
	abyss_corr_free(c);
}

static void test_correlator_expiry_by_arrival_time(void **state)
{
	struct abyss_corr_config cfg;
	struct abyss_corr_stats st;
	struct rec r;
	struct abyss_corr *c;
	const int64_t old = 1577836800000LL; /* 2020-01-01, replayed data */
	const int64_t now = 5000000;

	(void)state;
	abyss_corr_config_default(&cfg);
	c = new_corr(&cfg, &r);
	/* years-old payload times still correlate: ages are arrival ages */
	push(c, ABYSS_CORR_RESULT, "A/b", old, 1, now);
	push(c, ABYSS_CORR_TRACE, "A/b", old + 3000, 1, now + 250000);
	assert_int_equal(r.groups, 1);
	push(c, ABYSS_CORR_RESULT, "A/b", old, 2, now + 250000);
	abyss_corr_tick(c, now + 550000);
	abyss_corr_get_stats(c, &st);
	assert_int_equal(st.pending_messages, 1);
	abyss_corr_tick(c, now + 550001);
	assert_int_equal(r.drops[ABYSS_DROP_EXPIRED], 1);
	abyss_corr_get_stats(c, &st);
	assert_int_equal(st.pending_messages, 0);
	assert_int_equal(st.dropped[ABYSS_DROP_EXPIRED], 1);
	/* time going backwards is clamped, never un-expires anything */
	push(c, ABYSS_CORR_RESULT, "A/b", old, 3, now + 600000);
	abyss_corr_tick(c, 0);
	abyss_corr_tick(c, now + 900000);
	assert_int_equal(r.drops[ABYSS_DROP_EXPIRED], 1);
	abyss_corr_tick(c, now + 900001);
	assert_int_equal(r.drops[ABYSS_DROP_EXPIRED], 2);
	abyss_corr_free(c);
}

static void test_correlator_limits_and_drop_counters(void **state)
{
	struct abyss_corr_config cfg;
	struct abyss_corr_stats st;
	struct abyss_corr_msg m;
	struct rec r;
	struct abyss_corr *c;
	int i;

	(void)state;
	abyss_corr_config_default(&cfg);
	cfg.max_pending_messages = 10;
	cfg.max_pending_bytes = 700;
	cfg.max_message_bytes = 500;
	c = new_corr(&cfg, &r);
	/* bytes bind first: 7 x 100 */
	for (i = 0; i < 15; i++) {
		char key[16];
		snprintf(key, sizeof(key), "K/%d", i);
		push(c, ABYSS_CORR_RESULT, key, T0, i, i);
	}
	abyss_corr_get_stats(c, &st);
	assert_int_equal(st.pending_messages, 7);
	assert_int_equal(st.pending_bytes, 700);
	assert_int_equal(r.drops[ABYSS_DROP_CAPACITY], 8);
	/* the oldest went first: key K/8 is still there and matches */
	push(c, ABYSS_CORR_TRACE, "K/8", T0, 8, 20);
	assert_int_equal(r.groups, 1);
	/* too big for one message */
	m = mk(ABYSS_CORR_RESULT, "K/x", T0, 99);
	m.size = 501;
	assert_int_equal(abyss_corr_push(c, &m, 21), ABYSS_ETOOBIG);
	assert_int_equal(r.drops[ABYSS_DROP_INVALID], 1);
	/* empty or unterminated tool key, bad kind */
	m = mk(ABYSS_CORR_RESULT, "", T0, 99);
	assert_int_equal(abyss_corr_push(c, &m, 22), ABYSS_EINVAL);
	m = mk(ABYSS_CORR_RESULT, "K/y", T0, 99);
	memset(m.tool_key, 'x', sizeof(m.tool_key));
	assert_int_equal(abyss_corr_push(c, &m, 23), ABYSS_EINVAL);
	m = mk(ABYSS_CORR_RESULT, "K/y", T0, 99);
	m.kind = (enum abyss_corr_kind)7;
	assert_int_equal(abyss_corr_push(c, &m, 24), ABYSS_EINVAL);
	abyss_corr_get_stats(c, &st);
	assert_int_equal(st.dropped[ABYSS_DROP_INVALID], 4);
	assert_int_equal(st.received, 20);
	/* lowering the limits at run time trims at the next tick */
	cfg.max_pending_messages = 3;
	assert_int_equal(abyss_corr_reconfigure(c, &cfg), 0);
	abyss_corr_tick(c, 30);
	abyss_corr_get_stats(c, &st);
	assert_int_equal(st.pending_messages, 3);
	/* shard settings are fixed for the life of the correlator */
	cfg.shard_count = 2;
	assert_int_equal(abyss_corr_reconfigure(c, &cfg), ABYSS_EINVAL);
	abyss_corr_free(c);

	/* a larger replacement under `replace` still respects the bytes */
	abyss_corr_config_default(&cfg);
	cfg.duplicate_handling = ABYSS_DUP_REPLACE;
	cfg.max_pending_bytes = 240;
	c = new_corr(&cfg, &r);
	push(c, ABYSS_CORR_RESULT, "K/1", T0, 1, 0);
	push(c, ABYSS_CORR_RESULT, "K/2", T0, 2, 1);
	m = mk(ABYSS_CORR_RESULT, "K/2", T0, 2);
	m.size = 150;
	assert_int_equal(abyss_corr_push(c, &m, 2), 0);
	abyss_corr_get_stats(c, &st);
	assert_int_equal(st.pending_bytes, 150);
	assert_int_equal(st.pending_messages, 1);
	assert_true(st.high_water_bytes <= 240);
	assert_int_equal(r.drops[ABYSS_DROP_CAPACITY], 1);
	assert_int_equal(r.drops[ABYSS_DROP_DUPLICATE], 1);
	abyss_corr_free(c);

	abyss_corr_config_default(&cfg);
	cfg.shard_index = 1;
	assert_int_equal(abyss_corr_new(&cfg, on_match, NULL, NULL, &c),
			 ABYSS_EINVAL);
	abyss_corr_config_default(&cfg);
	assert_int_equal(abyss_corr_new(&cfg, NULL, NULL, NULL, &c),
			 ABYSS_EINVAL);
}

static void test_correlator_shard_split_covers_every_key_once(void **state)
{
	struct abyss_corr_config cfg;
	struct abyss_corr_stats s0, s1;
	struct rec r0, r1;
	struct abyss_corr *c0, *c1;
	int i, owners[2] = {0, 0};

	(void)state;
	abyss_corr_config_default(&cfg);
	cfg.shard_count = 2;
	cfg.shard_index = 0;
	c0 = new_corr(&cfg, &r0);
	cfg.shard_index = 1;
	c1 = new_corr(&cfg, &r1);
	for (i = 0; i < 1000; i++) {
		char key[64];
		int a, b;
		snprintf(key, sizeof(key), "ILLL50203377%d/setitec%03d", i % 7,
			 i);
		a = abyss_corr_owns(c0, key);
		b = abyss_corr_owns(c1, key);
		assert_int_equal(a + b, 1);
		owners[b]++;
		push(c0, ABYSS_CORR_RESULT, key, T0, i, i);
		push(c1, ABYSS_CORR_RESULT, key, T0, i, i);
		push(c0, ABYSS_CORR_TRACE, key, T0, i, i);
		push(c1, ABYSS_CORR_TRACE, key, T0, i, i);
	}
	/* both shards get a fair share, and together every hole once */
	assert_true(owners[0] > 400 && owners[1] > 400);
	assert_int_equal(r0.groups + r1.groups, 1000);
	assert_int_equal(r0.groups, owners[0]);
	abyss_corr_get_stats(c0, &s0);
	abyss_corr_get_stats(c1, &s1);
	assert_int_equal(s0.other_shard, 2 * owners[1]);
	assert_int_equal(s1.other_shard, 2 * owners[0]);
	/* stable value (FNV-1a): the assignment must not change between
	 * releases, or a rolling restart would split holes */
	assert_int_equal(abyss_corr_shard_of("ILLL502033771/setitectest", 1),
			 0);
	assert_int_equal(abyss_corr_shard_of("a", 1000), 0xe40c292cu % 1000);
	abyss_corr_free(c0);
	abyss_corr_free(c1);
}

static void test_correlator_100k_messages_within_limits(void **state)
{
	struct abyss_corr_config cfg;
	struct abyss_corr_stats st;
	struct rec r;
	struct abyss_corr *c;
	uint64_t seed = 7, pushed = 0, dropped = 0;
	int64_t now = 0;
	int i, k;

	(void)state;
	abyss_corr_config_default(&cfg);
	cfg.max_pending_messages = 500;
	cfg.max_pending_bytes = 40000;
	cfg.max_age_ms = 20000;
	c = new_corr(&cfg, &r);
	for (i = 0; i < 50000; i++) {
		char key[32];
		int64_t ts;
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		snprintf(key, sizeof(key), "TB%d/t%d", (int)(seed >> 40) % 50,
			 (int)(seed >> 20) % 4);
		ts = T0 + i * 50;
		now += 10;
		/* most holes complete; some lose their trace; a few are
		 * re-sent (duplicates) */
		push(c, ABYSS_CORR_RESULT, key, ts, i, now);
		pushed++;
		if ((seed >> 8) % 10 != 0) {
			push(c, ABYSS_CORR_TRACE, key, ts + 100, i, now + 5);
			pushed++;
		} else {
			push(c, ABYSS_CORR_RESULT, key, ts, i, now + 5);
			pushed++;
		}
		abyss_corr_get_stats(c, &st);
		assert_true(st.pending_messages <= cfg.max_pending_messages);
		assert_true(st.pending_bytes <= cfg.max_pending_bytes);
	}
	abyss_corr_get_stats(c, &st);
	assert_int_equal(pushed, 100000);
	assert_int_equal(st.received, 100000);
	assert_true(st.high_water_messages <= cfg.max_pending_messages);
	for (k = 0; k < ABYSS_DROP__COUNT; k++)
		dropped += st.dropped[k];
	/* conservation: every message is matched, dropped or pending */
	assert_int_equal(2 * st.matched + dropped + st.pending_messages,
			 100000);
	assert_true(st.dropped[ABYSS_DROP_DUPLICATE] > 0);
	assert_true(st.matched > 40000);
	assert_int_equal(r.mismatched, 0);
	abyss_corr_free(c);
}

static void test_correlator_json_deep_equal(void **state)
{
	json_t *a = json_loads("{\"a\": [1, 2.0, {\"x\": null}], \"b\": "
			       "\"s\", \"c\": true}",
			       0, NULL);
	json_t *b = json_loads("{\"c\": true, \"b\": \"s\", \"a\": [1.0, "
			       "2.00000000000001, {\"x\": null}]}",
			       0, NULL);
	json_t *d = json_loads("{\"c\": true, \"b\": \"s\", \"a\": [1.0, "
			       "2.000001, {\"x\": null}]}",
			       0, NULL);
	json_t *e = json_loads("{\"c\": false, \"b\": \"s\", \"a\": [1, 2, "
			       "{\"x\": null}]}",
			       0, NULL);
	json_t *f = json_loads("{\"c\": true, \"b\": \"s\"}", 0, NULL);

	(void)state;
	assert_true(abyss_json_deep_equal(a, b));
	assert_false(abyss_json_deep_equal(a, d));
	assert_false(abyss_json_deep_equal(a, e));
	assert_false(abyss_json_deep_equal(a, f));
	assert_false(abyss_json_deep_equal(a, NULL));
	json_decref(a);
	json_decref(b);
	json_decref(d);
	json_decref(e);
	json_decref(f);
}

/* ---- real messages (test_data) ---------------------------------------- */

struct real_rec {
	int groups;
	int heads;
	struct abyss_hole hole;
	int hole_rc;
	char payload[1024];
};

static void on_real_match(void *ud, struct abyss_corr_group *g)
{
	struct real_rec *r = ud;
	const struct abyss_msg *heads =
	    g->has_heads ? abyss_corr_msg_get(&g->heads) : NULL;
	struct abyss_payload_ids ids;
	const double kp[3] = {1.0, 2.5, 14.0};

	r->groups++;
	r->heads += g->has_heads;
	r->hole_rc = abyss_hole_from_msgs(abyss_corr_msg_get(&g->result),
					  abyss_corr_msg_get(&g->trace), heads,
					  NULL, &r->hole, NULL);
	if (r->hole_rc == 0) {
		ids = abyss_payload_ids_from_hole(&r->hole);
		abyss_payload_format(
		    r->payload, sizeof(r->payload), ABYSS_PAYLOAD_KEYPOINTS,
		    ABYSS_PAYLOAD_SUCCESS, &ids, kp, NULL, NULL);
	}
	abyss_corr_msg_release(&g->result);
	abyss_corr_msg_release(&g->trace);
	if (g->has_heads)
		abyss_corr_msg_release(&g->heads);
}

/* Parses a test_data file as if it arrived on root/TB/tool/suffix and
 * pushes it. */
static int push_file(struct abyss_corr *c, const char *rel, const char *suffix,
		     int64_t now_ms)
{
	const char *path = data_path(rel);
	struct abyss_corr_msg cm;
	struct abyss_msg *m = NULL;
	char topic[128];
	size_t len;
	char *buf;
	int rc;

	if (!path)
		return 1;
	buf = read_file(path, &len);
	assert_non_null(buf);
	snprintf(topic, sizeof(topic), "OPCPUBSUB/ILLL502033771/setitectest/%s",
		 suffix);
	rc = abyss_msg_parse(topic, buf, len, NULL, &m, NULL);
	free(buf);
	assert_int_equal(rc, 0);
	assert_int_equal(abyss_corr_msg_from_msg(m, len, &cm), 0);
	assert_int_equal(cm.size, len);
	assert_string_equal(cm.tool_key, "ILLL502033771/setitectest");
	return abyss_corr_push(c, &cm, now_ms);
}

static void test_correlator_real_messages_make_a_hole(void **state)
{
	struct abyss_corr_config cfg;
	struct abyss_corr_stats st;
	struct real_rec r;
	struct abyss_corr *c = NULL;

	(void)state;
	REQUIRE_DATA(data_path("abyss/src/abyss/test_data/data0/Result.json"));
	memset(&r, 0, sizeof(r));
	abyss_hole_init(&r.hole);
	abyss_corr_config_default(&cfg);
	assert_int_equal(abyss_corr_new(&cfg, on_real_match, NULL, &r, &c), 0);
	/* the Result re-sent is a duplicate of the whole document */
	assert_int_equal(
	    push_file(c, "abyss/src/abyss/test_data/data0/Result.json",
		      "ResultManagement", 0),
	    0);
	assert_int_equal(
	    push_file(c, "abyss/src/abyss/test_data/data0/Result.json",
		      "ResultManagement", 10),
	    0);
	abyss_corr_get_stats(c, &st);
	assert_int_equal(st.dropped[ABYSS_DROP_DUPLICATE], 1);
	assert_int_equal(push_file(c,
				   "abyss/src/abyss/test_data/data0/Trace.json",
				   "ResultManagement/Trace", 20),
			 0);
	assert_int_equal(r.groups, 1);
	assert_int_equal(r.hole_rc, 0);
	assert_int_equal(r.hole.n, 492);
	assert_string_equal(r.hole.machine_id, "23120040");
	assert_string_equal(r.hole.result_id, "2409");
	assert_string_equal(
	    r.payload, "{\"SourceTimestamp\": \"2024-12-11T08:24:49Z\", "
		       "\"MachineId\": \"23120040\", \"ResultId\": "
		       "\"2409\", \"HeadId\": null, \"Value\": [1.0, "
		       "2.5, 14.0], \"AlgoVersion\": \"" ABYSS_VERSION "\"}");
	abyss_corr_get_stats(c, &st);
	assert_int_equal(st.pending_messages, 0);
	abyss_corr_free(c);
	abyss_hole_free(&r.hole);

	/* with Heads: the 2025-03 folder, Heads arriving last */
	REQUIRE_DATA(
	    data_path("abyss/src/abyss/test_data/data_20250326/Heads.json"));
	memset(&r, 0, sizeof(r));
	abyss_hole_init(&r.hole);
	cfg.heads_enabled = 1;
	assert_int_equal(abyss_corr_new(&cfg, on_real_match, NULL, &r, &c), 0);
	push_file(c, "abyss/src/abyss/test_data/data_20250326/Trace.json",
		  "ResultManagement/Trace", 0);
	push_file(
	    c, "abyss/src/abyss/test_data/data_20250326/ResultManagement.json",
	    "ResultManagement", 5);
	assert_int_equal(r.groups, 0); /* waiting for Heads */
	push_file(c, "abyss/src/abyss/test_data/data_20250326/Heads.json",
		  "AssetManagement/Heads", 900);
	assert_int_equal(r.groups, 1);
	assert_int_equal(r.heads, 1);
	assert_int_equal(r.hole_rc, 0);
	assert_int_equal(r.hole.n, 9769);
	assert_string_equal(r.hole.head_id, "E00401009F45BACA");
	assert_non_null(strstr(r.payload, "\"HeadId\": \"E00401009F45BACA\""));
	abyss_corr_free(c);
	abyss_hole_free(&r.hole);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_correlator_in_order_pair),
	    cmocka_unit_test(test_correlator_shuffled_holes_all_match),
	    cmocka_unit_test(test_correlator_nearest_not_first),
	    cmocka_unit_test(test_correlator_window_edges_inclusive),
	    cmocka_unit_test(test_correlator_duplicates_three_policies),
	    cmocka_unit_test(test_correlator_duplicates_by_bytes),
	    cmocka_unit_test(test_correlator_heads_grace),
	    cmocka_unit_test(test_correlator_expiry_by_arrival_time),
	    cmocka_unit_test(test_correlator_limits_and_drop_counters),
	    cmocka_unit_test(test_correlator_shard_split_covers_every_key_once),
	    cmocka_unit_test(test_correlator_100k_messages_within_limits),
	    cmocka_unit_test(test_correlator_json_deep_equal),
	    cmocka_unit_test(test_correlator_real_messages_make_a_hole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
