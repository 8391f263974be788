/*
 * fuzz_correlator.c - libFuzzer target driving the correlator with an
 * arbitrary stream of pushes and ticks, checking its invariants after every
 * step: the pending limits hold, every message is matched, dropped or still
 * pending, and nothing leaks (ASan) or is freed twice.
 *
 * Input: 4 bytes of configuration, then 4 bytes per operation
 * (kind/tick, tool key, payload time step, arrival time step).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/correlator.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct counts {
	uint64_t matched_msgs;
	uint64_t dropped;
};

static void free_doc(void *p)
{
	json_decref(p);
}

static void on_match(void *ud, struct abyss_corr_group *g)
{
	struct counts *n = ud;

	n->matched_msgs += 2 + (g->has_heads ? 1 : 0);
	if (g->result.kind != ABYSS_CORR_RESULT ||
	    g->trace.kind != ABYSS_CORR_TRACE ||
	    strcmp(g->result.tool_key, g->trace.tool_key) != 0)
		abort();
	abyss_corr_msg_release(&g->result);
	abyss_corr_msg_release(&g->trace);
	if (g->has_heads)
		abyss_corr_msg_release(&g->heads);
}

static void on_drop(void *ud, const struct abyss_corr_msg *m,
		    enum abyss_corr_drop why)
{
	struct counts *n = ud;

	(void)m;
	if ((int)why < 0 || why >= ABYSS_DROP__COUNT)
		abort();
	n->dropped++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct abyss_corr_config cfg;
	struct abyss_corr_stats st;
	struct counts n = {0, 0};
	struct abyss_corr *c = NULL;
	int64_t now = 0, ts = 1700000000000LL;
	uint64_t pushed = 0;
	size_t i;

	if (size < 4)
		return 0;
	abyss_corr_config_default(&cfg);
	cfg.heads_enabled = data[0] & 1;
	cfg.duplicate_handling = (enum abyss_dup_policy)((data[0] >> 1) % 3);
	cfg.heads_grace_ms = (data[0] >> 3) * 100;
	cfg.max_pending_messages = 3 + data[1] % 30;
	cfg.max_pending_bytes = 100 + (size_t)data[2] * 20;
	cfg.time_window_ms = (int64_t)(data[3] % 64) * 1000;
	cfg.max_age_ms = 1000 + (int64_t)(data[3] >> 6) * 20000;
	cfg.shard_count = 1 + (data[1] >> 7);
	if (abyss_corr_new(&cfg, on_match, on_drop, &n, &c) != 0)
		abort();
	for (i = 4; i + 4 <= size; i += 4) {
		const uint8_t *op = data + i;
		struct abyss_corr_msg m;
		json_t *doc;

		now += op[3] * 50;
		if ((op[0] & 3) == 3) {
			abyss_corr_tick(c, now);
		} else {
			memset(&m, 0, sizeof(m));
			m.kind = (enum abyss_corr_kind)(op[0] & 3);
			snprintf(m.tool_key, sizeof(m.tool_key), "TB/t%u",
				 op[1] % 5);
			ts += (int64_t)(int8_t)op[2] * 500;
			m.ts_ms = ts;
			m.size = 10 + (op[0] >> 2) * 4;
			/* the same content for the same (key, small id) */
			doc = json_pack("{s:i}", "id", (int)((op[0] >> 2) & 3));
			if (!doc)
				abort();
			m.doc = doc;
			m.payload = doc;
			m.free_fn = free_doc;
			pushed++;
			abyss_corr_push(c, &m, now);
		}
		abyss_corr_get_stats(c, &st);
		if (st.pending_messages > cfg.max_pending_messages ||
		    st.pending_bytes > cfg.max_pending_bytes)
			abort();
		/* other_shard: freed without a callback, by contract */
		if (n.matched_msgs + n.dropped + st.pending_messages +
			st.other_shard !=
		    pushed)
			abort();
	}
	abyss_corr_free(c);
	return 0;
}
