/*
 * correlator.c - joins Result, Trace (and Heads) messages of one hole by
 * tool key and nearest payload time; bounded, with every drop reported.
 *
 * Sits between MQTT decoding and the estimator workers. It never parses
 * JSON (the caller hands in the parsed document for duplicate checks), never
 * reads a clock (now_ms is passed in) and never blocks.
 *
 * Structures: a chained hash map of tool keys; per key one list per kind of
 * unmatched messages in arrival order and one list of Result+Trace pairs
 * waiting for Heads; a global arrival FIFO of unmatched messages (expiry and
 * eviction pop its head) and a global FIFO of waiting pairs (their deadline
 * is arrival + a constant grace, so FIFO order is deadline order). Nodes,
 * pairs and keys are recycled through free lists.
 */
#include "abyss/correlator.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct corr_key;

struct corr_node {
	struct abyss_corr_msg m;
	struct corr_key *key;
	struct corr_node *kprev, *knext; /* key's list of this kind */
	struct corr_node *aprev, *anext; /* global arrival FIFO */
};

struct corr_pair {
	struct corr_node *r, *t; /* detached from every list */
	int64_t deadline_ms;
	struct corr_key *key;
	struct corr_pair *kprev, *knext; /* key's waiting pairs */
	struct corr_pair *gprev, *gnext; /* global grace FIFO */
};

struct corr_key {
	char name[ABYSS_ID_MAX];
	uint32_t hash;
	struct corr_key *hnext;
	struct corr_node *head[3], *tail[3];
	struct corr_pair *phead, *ptail;
	size_t refs; /* nodes + pairs of this key */
};

struct abyss_corr {
	struct abyss_corr_config cfg;
	abyss_corr_match_fn on_match;
	abyss_corr_drop_fn on_drop;
	void *ud;

	struct corr_key **buckets;
	size_t nbuckets; /* power of two */

	struct corr_node *ahead, *atail; /* arrival FIFO (unmatched) */
	struct corr_pair *ghead, *gtail; /* grace FIFO */

	struct corr_node *free_nodes;
	struct corr_pair *free_pairs;
	struct corr_key *free_keys;

	int64_t last_now_ms;
	struct abyss_corr_stats st;
};

/* ---- small helpers ------------------------------------------------------ */

void abyss_corr_config_default(struct abyss_corr_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->time_window_ms = 30000;
	cfg->duplicate_window_ms = 1000;
	cfg->duplicate_handling = ABYSS_DUP_IGNORE;
	cfg->heads_enabled = 0;
	cfg->heads_grace_ms = 2000;
	cfg->max_age_ms = 300000;
	cfg->max_pending_messages = 10000;
	cfg->max_pending_bytes = (size_t)512 << 20;
	cfg->max_message_bytes = (size_t)64 << 20;
	cfg->shard_index = 0;
	cfg->shard_count = 1;
}

const char *abyss_corr_drop_name(enum abyss_corr_drop why)
{
	switch (why) {
	case ABYSS_DROP_EXPIRED:
		return "expired";
	case ABYSS_DROP_CAPACITY:
		return "capacity";
	case ABYSS_DROP_DUPLICATE:
		return "duplicate";
	case ABYSS_DROP_INVALID:
		return "invalid";
	default:
		return "unknown";
	}
}

uint32_t abyss_corr_shard_of(const char *tool_key, uint32_t count)
{
	uint32_t h = 2166136261u;
	const unsigned char *p = (const unsigned char *)tool_key;

	if (count <= 1)
		return 0;
	for (; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h % count;
}

int abyss_corr_owns(const struct abyss_corr *c, const char *tool_key)
{
	return abyss_corr_shard_of(tool_key, c->cfg.shard_count) ==
	       c->cfg.shard_index;
}

void abyss_corr_msg_release(struct abyss_corr_msg *m)
{
	if (m && m->payload && m->free_fn)
		m->free_fn(m->payload);
	if (m) {
		m->payload = NULL;
		m->doc = NULL;
	}
}

static void free_abyss_msg(void *p)
{
	abyss_msg_free(p);
}

int abyss_corr_msg_from_head(const struct abyss_msg_head *h, size_t size_bytes,
			     struct abyss_corr_msg *out)
{
	size_t klen;

	if (!h || !out || !isfinite(h->timestamp_s) ||
	    fabs(h->timestamp_s) > 9.2e15)
		return ABYSS_EINVAL;
	klen = strnlen(h->tool_key, sizeof(h->tool_key));
	if (klen == 0 || klen >= sizeof(out->tool_key))
		return ABYSS_EINVAL;
	memset(out, 0, sizeof(*out));
	switch (h->kind) {
	case ABYSS_MSG_RESULT:
		out->kind = ABYSS_CORR_RESULT;
		break;
	case ABYSS_MSG_TRACE:
		out->kind = ABYSS_CORR_TRACE;
		break;
	case ABYSS_MSG_HEADS:
		out->kind = ABYSS_CORR_HEADS;
		break;
	default:
		return ABYSS_EINVAL;
	}
	memcpy(out->tool_key, h->tool_key, klen + 1);
	out->ts_ms = (int64_t)llround(h->timestamp_s * 1000.0);
	out->size = size_bytes;
	return 0;
}

int abyss_corr_msg_from_msg(struct abyss_msg *msg, size_t size_bytes,
			    struct abyss_corr_msg *out)
{
	struct abyss_msg_head h;
	int rc;

	if (!msg || !out)
		return ABYSS_EINVAL;
	h.kind = msg->kind;
	memcpy(h.tool_key, msg->tool_key, sizeof(h.tool_key));
	h.timestamp_s = msg->timestamp_s;
	rc = abyss_corr_msg_from_head(&h, size_bytes, out);
	if (rc)
		return rc;
	out->doc = msg->root;
	out->payload = msg;
	out->free_fn = free_abyss_msg;
	return 0;
}

const struct abyss_msg *abyss_corr_msg_get(const struct abyss_corr_msg *m)
{
	return m && m->free_fn == free_abyss_msg ? m->payload : NULL;
}

static int json_eq(const json_t *a, const json_t *b, int depth)
{
	if (depth > 256)
		return 0;
	if (json_is_number(a) && json_is_number(b))
		return fabs(json_number_value(a) - json_number_value(b)) <
		       1e-10;
	if (json_typeof(a) != json_typeof(b))
		return 0;
	switch (json_typeof(a)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *va;
		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_foreach((json_t *)a, k, va)
		{
			json_t *vb = json_object_get(b, k);
			if (!vb || !json_eq(va, vb, depth + 1))
				return 0;
		}
		return 1;
	}
	case JSON_ARRAY: {
		size_t i, n = json_array_size(a);
		if (n != json_array_size(b))
			return 0;
		for (i = 0; i < n; i++)
			if (!json_eq(json_array_get(a, i), json_array_get(b, i),
				     depth + 1))
				return 0;
		return 1;
	}
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b),
			      json_string_length(a)) == 0;
	default: /* true, false, null: the type says it all */
		return 1;
	}
}

int abyss_json_deep_equal(const struct json_t *a, const struct json_t *b)
{
	if (!a || !b)
		return 0;
	return json_eq(a, b, 0);
}

static uint32_t key_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static int64_t absdiff(int64_t a, int64_t b)
{
	return a > b ? a - b : b - a;
}

/* ---- creation ----------------------------------------------------------- */

static int config_ok(const struct abyss_corr_config *cfg)
{
	return cfg->time_window_ms >= 0 && cfg->duplicate_window_ms >= 0 &&
	       cfg->heads_grace_ms >= 0 && cfg->max_age_ms > 0 &&
	       cfg->max_pending_messages >= 3 && cfg->max_pending_bytes > 0 &&
	       cfg->max_message_bytes > 0 && cfg->shard_count >= 1 &&
	       cfg->shard_index < cfg->shard_count &&
	       (cfg->duplicate_handling == ABYSS_DUP_IGNORE ||
		cfg->duplicate_handling == ABYSS_DUP_REPLACE ||
		cfg->duplicate_handling == ABYSS_DUP_ERROR);
}

int abyss_corr_new(const struct abyss_corr_config *cfg,
		   abyss_corr_match_fn on_match, abyss_corr_drop_fn on_drop,
		   void *ud, struct abyss_corr **out)
{
	struct abyss_corr *c;
	size_t nb = 64;

	if (!cfg || !on_match || !out || !config_ok(cfg))
		return ABYSS_EINVAL;
	/* keys <= pending messages, so a table of ~pending/2 buckets keeps
	 * chains short without ever rehashing; capped for huge limits */
	while (nb < cfg->max_pending_messages / 2 && nb < ((size_t)1 << 20))
		nb <<= 1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ABYSS_ENOMEM;
	c->buckets = calloc(nb, sizeof(struct corr_key *));
	if (!c->buckets) {
		free(c);
		return ABYSS_ENOMEM;
	}
	c->nbuckets = nb;
	c->cfg = *cfg;
	c->on_match = on_match;
	c->on_drop = on_drop;
	c->ud = ud;
	c->last_now_ms = INT64_MIN;
	*out = c;
	return 0;
}

int abyss_corr_reconfigure(struct abyss_corr *c,
			   const struct abyss_corr_config *cfg)
{
	if (!c || !cfg || !config_ok(cfg) ||
	    cfg->shard_count != c->cfg.shard_count ||
	    cfg->shard_index != c->cfg.shard_index ||
	    cfg->heads_enabled != c->cfg.heads_enabled)
		return ABYSS_EINVAL;
	c->cfg = *cfg;
	return 0;
}

static void free_list_nodes(struct corr_node *n)
{
	while (n) {
		struct corr_node *next = n->knext;
		free(n);
		n = next;
	}
}

void abyss_corr_free(struct abyss_corr *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nbuckets; i++) {
		struct corr_key *k = c->buckets[i];
		while (k) {
			struct corr_key *kn = k->hnext;
			int kind;
			for (kind = 0; kind < 3; kind++) {
				struct corr_node *n;
				for (n = k->head[kind]; n; n = n->knext)
					abyss_corr_msg_release(&n->m);
				free_list_nodes(k->head[kind]);
			}
			while (k->phead) {
				struct corr_pair *p = k->phead;
				k->phead = p->knext;
				abyss_corr_msg_release(&p->r->m);
				abyss_corr_msg_release(&p->t->m);
				free(p->r);
				free(p->t);
				free(p);
			}
			free(k);
			k = kn;
		}
	}
	free_list_nodes(c->free_nodes);
	while (c->free_pairs) {
		struct corr_pair *p = c->free_pairs;
		c->free_pairs = p->knext;
		free(p);
	}
	while (c->free_keys) {
		struct corr_key *k = c->free_keys;
		c->free_keys = k->hnext;
		free(k);
	}
	free(c->buckets);
	free(c);
}

/* ---- keys --------------------------------------------------------------- */

static struct corr_key *key_find(struct abyss_corr *c, const char *name,
				 uint32_t h)
{
	struct corr_key *k = c->buckets[h & (c->nbuckets - 1)];

	for (; k; k = k->hnext)
		if (k->hash == h && strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

static struct corr_key *key_get(struct abyss_corr *c, const char *name,
				uint32_t h)
{
	struct corr_key *k = key_find(c, name, h);
	size_t b = h & (c->nbuckets - 1);

	if (k)
		return k;
	if (c->free_keys) {
		k = c->free_keys;
		c->free_keys = k->hnext;
	} else {
		k = malloc(sizeof(*k));
		if (!k)
			return NULL;
	}
	memset(k, 0, sizeof(*k));
	memcpy(k->name, name, strlen(name) + 1);
	k->hash = h;
	k->hnext = c->buckets[b];
	c->buckets[b] = k;
	c->st.keys++;
	return k;
}

/* Returns an unreferenced key to the free list so the map holds only keys
 * with pending messages (its size is then bounded by the limits). */
static void key_unref(struct abyss_corr *c, struct corr_key *k)
{
	struct corr_key **pp;

	if (--k->refs > 0)
		return;
	pp = &c->buckets[k->hash & (c->nbuckets - 1)];
	while (*pp != k)
		pp = &(*pp)->hnext;
	*pp = k->hnext;
	k->hnext = c->free_keys;
	c->free_keys = k;
	c->st.keys--;
}

/* ---- list plumbing ------------------------------------------------------ */

static void node_link(struct abyss_corr *c, struct corr_node *n)
{
	struct corr_key *k = n->key;
	int kind = (int)n->m.kind;

	n->knext = NULL;
	n->kprev = k->tail[kind];
	if (k->tail[kind])
		k->tail[kind]->knext = n;
	else
		k->head[kind] = n;
	k->tail[kind] = n;

	n->anext = NULL;
	n->aprev = c->atail;
	if (c->atail)
		c->atail->anext = n;
	else
		c->ahead = n;
	c->atail = n;
}

static void node_unlink(struct abyss_corr *c, struct corr_node *n)
{
	struct corr_key *k = n->key;
	int kind = (int)n->m.kind;

	if (n->kprev)
		n->kprev->knext = n->knext;
	else
		k->head[kind] = n->knext;
	if (n->knext)
		n->knext->kprev = n->kprev;
	else
		k->tail[kind] = n->kprev;

	if (n->aprev)
		n->aprev->anext = n->anext;
	else
		c->ahead = n->anext;
	if (n->anext)
		n->anext->aprev = n->aprev;
	else
		c->atail = n->aprev;
	n->kprev = n->knext = n->aprev = n->anext = NULL;
}

static void pair_unlink(struct abyss_corr *c, struct corr_pair *p)
{
	struct corr_key *k = p->key;

	if (p->kprev)
		p->kprev->knext = p->knext;
	else
		k->phead = p->knext;
	if (p->knext)
		p->knext->kprev = p->kprev;
	else
		k->ptail = p->kprev;
	if (p->gprev)
		p->gprev->gnext = p->gnext;
	else
		c->ghead = p->gnext;
	if (p->gnext)
		p->gnext->gprev = p->gprev;
	else
		c->gtail = p->gprev;
	c->st.pending_pairs--;
}

static void node_recycle(struct abyss_corr *c, struct corr_node *n)
{
	c->st.pending_messages--;
	c->st.pending_bytes -= n->m.size;
	key_unref(c, n->key);
	n->knext = c->free_nodes;
	c->free_nodes = n;
}

static void drop_msg(struct abyss_corr *c, struct abyss_corr_msg *m,
		     enum abyss_corr_drop why)
{
	c->st.dropped[why]++;
	if (c->on_drop)
		c->on_drop(c->ud, m, why);
	abyss_corr_msg_release(m);
}

/* Drops a stored, unmatched node. */
static void drop_node(struct abyss_corr *c, struct corr_node *n,
		      enum abyss_corr_drop why)
{
	node_unlink(c, n);
	drop_msg(c, &n->m, why);
	node_recycle(c, n);
}

/* ---- emitting ----------------------------------------------------------- */

/* Emits result+trace(+heads); every node given is already unlinked from
 * the lists and still counted as pending. */
static void emit(struct abyss_corr *c, struct corr_node *r, struct corr_node *t,
		 struct corr_node *h)
{
	struct abyss_corr_group g;

	memset(&g, 0, sizeof(g));
	g.result = r->m;
	g.trace = t->m;
	if (h) {
		g.heads = h->m;
		g.has_heads = 1;
		c->st.matched_with_heads++;
	}
	c->st.matched++;
	/* ownership moves to the callback: clear ours before recycling */
	r->m.payload = t->m.payload = NULL;
	node_recycle(c, r);
	node_recycle(c, t);
	if (h) {
		h->m.payload = NULL;
		node_recycle(c, h);
	}
	c->on_match(c->ud, &g);
}

static void emit_pair(struct abyss_corr *c, struct corr_pair *p,
		      struct corr_node *h)
{
	struct corr_node *r = p->r, *t = p->t;

	pair_unlink(c, p);
	key_unref(c, p->key);
	p->knext = c->free_pairs;
	c->free_pairs = p;
	emit(c, r, t, h);
}

/* Nearest unmatched message of `kind` within the window of ts_ms. */
static struct corr_node *nearest(const struct abyss_corr *c,
				 const struct corr_key *k, int kind,
				 int64_t ts_ms)
{
	struct corr_node *n, *best = NULL;
	int64_t bestd = 0;

	for (n = k->head[kind]; n; n = n->knext) {
		int64_t d = absdiff(n->m.ts_ms, ts_ms);
		if (d <= c->cfg.time_window_ms && (!best || d < bestd)) {
			best = n;
			bestd = d;
		}
	}
	return best;
}

static struct corr_pair *nearest_pair(const struct abyss_corr *c,
				      const struct corr_key *k, int64_t ts_ms)
{
	struct corr_pair *p, *best = NULL;
	int64_t bestd = 0;

	for (p = k->phead; p; p = p->knext) {
		int64_t d = absdiff(p->r->m.ts_ms, ts_ms);
		if (d <= c->cfg.time_window_ms && (!best || d < bestd)) {
			best = p;
			bestd = d;
		}
	}
	return best;
}

/* r and t (unlinked) form a match: attach Heads, wait for one, or emit. */
static void matched(struct abyss_corr *c, struct corr_key *k,
		    struct corr_node *r, struct corr_node *t, int64_t now_ms)
{
	struct corr_node *h = NULL;
	struct corr_pair *p;

	if (!c->cfg.heads_enabled) {
		emit(c, r, t, NULL);
		return;
	}
	h = nearest(c, k, ABYSS_CORR_HEADS, r->m.ts_ms);
	if (h) {
		node_unlink(c, h);
		emit(c, r, t, h);
		return;
	}
	if (c->cfg.heads_grace_ms == 0) {
		c->st.heads_timeouts++;
		emit(c, r, t, NULL);
		return;
	}
	if (c->free_pairs) {
		p = c->free_pairs;
		c->free_pairs = p->knext;
	} else {
		p = malloc(sizeof(*p));
		if (!p) { /* cannot wait: better a match without Heads */
			c->st.heads_timeouts++;
			emit(c, r, t, NULL);
			return;
		}
	}
	memset(p, 0, sizeof(*p));
	p->r = r;
	p->t = t;
	p->key = k;
	p->deadline_ms = now_ms + c->cfg.heads_grace_ms;
	k->refs++;
	p->kprev = k->ptail;
	if (k->ptail)
		k->ptail->knext = p;
	else
		k->phead = p;
	k->ptail = p;
	p->gprev = c->gtail;
	if (c->gtail)
		c->gtail->gnext = p;
	else
		c->ghead = p;
	c->gtail = p;
	c->st.pending_pairs++;
}

/* ---- time and capacity -------------------------------------------------- */

static void expire(struct abyss_corr *c, int64_t now_ms)
{
	while (c->ghead && c->ghead->deadline_ms <= now_ms) {
		c->st.heads_timeouts++;
		emit_pair(c, c->ghead, NULL);
	}
	while (c->ahead && now_ms - c->ahead->m.arrival_ms > c->cfg.max_age_ms)
		drop_node(c, c->ahead, ABYSS_DROP_EXPIRED);
}

/* Makes room for `msgs` more messages of `size` bytes in all: first emits
 * pairs still waiting for Heads (a late match beats a lost one), then
 * evicts the oldest unmatched messages. */
static void make_room(struct abyss_corr *c, size_t msgs, size_t size)
{
	while (c->st.pending_messages + msgs > c->cfg.max_pending_messages ||
	       c->st.pending_bytes + size > c->cfg.max_pending_bytes) {
		if (c->ghead) {
			c->st.heads_timeouts++;
			emit_pair(c, c->ghead, NULL);
		} else if (c->ahead) {
			drop_node(c, c->ahead, ABYSS_DROP_CAPACITY);
		} else {
			break;
		}
	}
}

void abyss_corr_tick(struct abyss_corr *c, int64_t now_ms)
{
	if (!c)
		return;
	if (now_ms < c->last_now_ms)
		now_ms = c->last_now_ms;
	c->last_now_ms = now_ms;
	expire(c, now_ms);
	/* limits may have been lowered by reconfigure */
	if (c->st.pending_messages > c->cfg.max_pending_messages ||
	    c->st.pending_bytes > c->cfg.max_pending_bytes)
		make_room(c, 0, 0);
}

/* ---- push --------------------------------------------------------------- */

/* Two messages are the same: deep-equal documents when both were parsed,
 * otherwise (a service that parses later) byte-identical payloads. */
static int same_msg(const struct abyss_corr_msg *a,
		    const struct abyss_corr_msg *b)
{
	if (a->doc && b->doc)
		return abyss_json_deep_equal(a->doc, b->doc);
	return a->raw && b->raw && a->raw_len == b->raw_len &&
	       memcmp(a->raw, b->raw, a->raw_len) == 0;
}

/* A stored message (unmatched or in a waiting pair) the new one duplicates,
 * or NULL. */
static struct corr_node *find_duplicate(const struct abyss_corr *c,
					const struct corr_key *k,
					const struct abyss_corr_msg *m)
{
	struct corr_node *n;
	struct corr_pair *p;

	if (!m->doc && !m->raw)
		return NULL;
	for (n = k->head[m->kind]; n; n = n->knext)
		if (absdiff(n->m.ts_ms, m->ts_ms) <
			c->cfg.duplicate_window_ms &&
		    same_msg(&n->m, m))
			return n;
	if (m->kind == ABYSS_CORR_HEADS)
		return NULL;
	for (p = k->phead; p; p = p->knext) {
		n = m->kind == ABYSS_CORR_RESULT ? p->r : p->t;
		if (absdiff(n->m.ts_ms, m->ts_ms) <
			c->cfg.duplicate_window_ms &&
		    same_msg(&n->m, m))
			return n;
	}
	return NULL;
}

static int valid_msg(const struct abyss_corr *c, const struct abyss_corr_msg *m)
{
	size_t len = strnlen(m->tool_key, sizeof(m->tool_key));

	if (len == 0 || len == sizeof(m->tool_key))
		return 0;
	if (m->kind != ABYSS_CORR_RESULT && m->kind != ABYSS_CORR_TRACE &&
	    m->kind != ABYSS_CORR_HEADS)
		return 0;
	if (m->kind == ABYSS_CORR_HEADS && !c->cfg.heads_enabled)
		return 0;
	return 1;
}

static int place(struct abyss_corr *c, struct corr_key *k, struct corr_node *n);

int abyss_corr_push(struct abyss_corr *c, const struct abyss_corr_msg *m,
		    int64_t now_ms)
{
	struct abyss_corr_msg msg;
	struct corr_key *k;
	struct corr_node *n, *dup;
	uint32_t h;

	if (!c || !m)
		return ABYSS_EINVAL;
	msg = *m;
	abyss_corr_tick(c, now_ms);
	msg.arrival_ms = c->last_now_ms;
	c->st.received++;

	if (!valid_msg(c, &msg)) {
		drop_msg(c, &msg, ABYSS_DROP_INVALID);
		return ABYSS_EINVAL;
	}
	if (msg.size > c->cfg.max_message_bytes ||
	    msg.size > c->cfg.max_pending_bytes) {
		drop_msg(c, &msg, ABYSS_DROP_INVALID);
		return ABYSS_ETOOBIG;
	}
	if (!abyss_corr_owns(c, msg.tool_key)) {
		c->st.other_shard++;
		abyss_corr_msg_release(&msg);
		return 0;
	}

	h = key_hash(msg.tool_key);
	k = key_find(c, msg.tool_key, h);
	if (k) {
		dup = find_duplicate(c, k, &msg);
		if (dup && c->cfg.duplicate_handling == ABYSS_DUP_REPLACE) {
			/* the new message takes the old one's place (and its
			 * position in the arrival order) */
			struct abyss_corr_msg old = dup->m;
			c->st.pending_bytes += msg.size;
			c->st.pending_bytes -= old.size;
			msg.arrival_ms = old.arrival_ms;
			dup->m = msg;
			drop_msg(c, &old, ABYSS_DROP_DUPLICATE);
			/* a larger replacement may pass the byte limit: trim
			 * (possibly this very message, if it is the oldest) */
			if (c->st.pending_bytes > c->cfg.max_pending_bytes)
				make_room(c, 0, 0);
			if (c->st.pending_bytes > c->st.high_water_bytes)
				c->st.high_water_bytes = c->st.pending_bytes;
			return 0;
		}
		if (dup) {
			drop_msg(c, &msg, ABYSS_DROP_DUPLICATE);
			return c->cfg.duplicate_handling == ABYSS_DUP_ERROR
				   ? ABYSS_EDUPLICATE
				   : 0;
		}
	}

	k = key_get(c, msg.tool_key, h);
	if (c->free_nodes) {
		n = c->free_nodes;
		c->free_nodes = n->knext;
	} else {
		n = malloc(sizeof(*n));
	}
	if (!k || !n) {
		free(n);
		if (k && k->refs == 0) {
			k->refs = 1;
			key_unref(c, k);
		}
		drop_msg(c, &msg, ABYSS_DROP_CAPACITY);
		return ABYSS_ENOMEM;
	}
	memset(n, 0, sizeof(*n));
	n->m = msg;
	n->key = k;
	k->refs++; /* from here on make_room cannot recycle k */
	return place(c, k, n);
}

static void count_pending(struct abyss_corr *c, const struct corr_node *n)
{
	c->st.pending_messages++;
	c->st.pending_bytes += n->m.size;
	if (c->st.pending_messages > c->st.high_water_messages)
		c->st.high_water_messages = c->st.pending_messages;
	if (c->st.pending_bytes > c->st.high_water_bytes)
		c->st.high_water_bytes = c->st.pending_bytes;
}

/* Matches, parks or stores the new node n of key k. Room is made only for
 * what stays pending, and only after the partner is detached, so a full
 * correlator never evicts the very message that completes a hole. */
static int place(struct abyss_corr *c, struct corr_key *k, struct corr_node *n)
{
	struct corr_node *partner = NULL;
	int kind = (int)n->m.kind;

	if (kind == ABYSS_CORR_HEADS) {
		struct corr_pair *p = nearest_pair(c, k, n->m.ts_ms);
		if (p) {
			c->st.pending_messages++; /* emit() uncounts it */
			c->st.pending_bytes += n->m.size;
			emit_pair(c, p, n);
			return 0;
		}
	} else {
		partner = nearest(c, k,
				  kind == ABYSS_CORR_RESULT ? ABYSS_CORR_TRACE
							    : ABYSS_CORR_RESULT,
				  n->m.ts_ms);
	}
	if (partner) {
		struct corr_node *r = kind == ABYSS_CORR_RESULT ? n : partner;
		struct corr_node *t = kind == ABYSS_CORR_RESULT ? partner : n;
		node_unlink(c, partner);
		if (!c->cfg.heads_enabled || c->cfg.heads_grace_ms == 0 ||
		    nearest(c, k, ABYSS_CORR_HEADS, r->m.ts_ms)) {
			/* completes now: nothing new stays pending */
			c->st.pending_messages++;
			c->st.pending_bytes += n->m.size;
			matched(c, k, r, t, c->last_now_ms);
			return 0;
		}
		make_room(c, 1, n->m.size);
		if (c->st.pending_messages + 1 > c->cfg.max_pending_messages ||
		    c->st.pending_bytes + n->m.size >
			c->cfg.max_pending_bytes) {
			/* the pair alone is over the limits: it cannot wait
			 * for Heads, but it is still a match */
			c->st.pending_messages++;
			c->st.pending_bytes += n->m.size;
			c->st.heads_timeouts++;
			emit(c, r, t, NULL);
			return 0;
		}
		count_pending(c, n);
		matched(c, k, r, t, c->last_now_ms);
		return 0;
	}
	make_room(c, 1, n->m.size);
	count_pending(c, n);
	node_link(c, n);
	return 0;
}

void abyss_corr_get_stats(const struct abyss_corr *c,
			  struct abyss_corr_stats *st)
{
	*st = c->st;
}
