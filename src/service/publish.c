/*
 * publish.c - the traffic generator of `abyss publish`: a single-threaded
 * poll loop over N publishing MQTT connections plus an optional result
 * subscriber, sending templates (publish_tpl.c) patched per hole.
 *
 * It replaces the original's uos_publish_json*.py stress scripts
 * (original-system.md §5.4). It deliberately does not parse what it sends
 * (the templates come from abyss_hole_to_msgs and are patched at recorded
 * offsets), does not retry a hole whose publish failed, and keeps one
 * 16-byte record per hole sent so results can be matched without a map.
 */
#include "publish.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "abyss/error.h"
#include "abyss/hole_io.h"
#include "mq.h"

/* ---- the run ------------------------------------------------------------ */

void pub_opts_init(struct pub_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->port = 1883;
	o->protocol = MQ_PROTOCOL_311;
	o->client_id = "abyss-publish";
	o->root = "OPCPUBSUB";
	o->suffix[PUB_RESULT] = "ResultManagement";
	o->suffix[PUB_TRACE] = "ResultManagement/Trace";
	o->suffix[PUB_HEADS] = "AssetManagement/Heads";
	o->keypoints = "ResultManagement.Results.0.ResultContent."
		       "DepthEstimation.KeyPoints";
	o->depth = "ResultManagement.Results.0.ResultContent.DepthEstimation."
		   "DepthEstimation";
	o->tools = 5;
	o->seed = 1;
	o->shuffle = true;
	o->concurrency = 1;
	o->qos = 0;
	o->wait_timeout_s = 10;
	o->connect_timeout_s = 10;
	o->max_holes = 10000000;
	o->max_outstanding = 1000;
}

/* One hole sent: when its last message was accepted, and by which tool. */
struct rec {
	int64_t sent_us;
	uint32_t tool;
	uint16_t got;  /* echo: bitmask of kinds back; else 1 = result */
	uint16_t done; /* counted */
};

struct conn {
	struct mq *mq;
	struct pub_run *run;
	bool connected;
	unsigned idx;
};

struct pub_run {
	const struct pub_opts *o;
	struct pub_template *tpl;
	size_t ntpl;
	struct conn conn[PUB_MAX_CONNS];
	unsigned nconn;
	struct conn sub;
	bool have_sub, subscribed;
	int sub_rc;
	/* tools */
	char **topic; /* [tool * PUB_KINDS + kind] */
	char (*key)[ABYSS_ID_MAX];
	unsigned ntools;
	size_t root_len;
	/* records */
	struct rec *rec;
	uint64_t nrec, caprec;
	float *lat;
	uint64_t nlat, caplat;
	uint64_t want_mask;
	/* order */
	uint64_t rng;
	size_t *perm;
	size_t perm_pos;
	struct pub_report rep;
	char err[MQ_ERRMSG_MAX];
};

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t rand_below(uint64_t *s, size_t n)
{
	return n ? (size_t)(splitmix64(s) % n) : 0;
}

static int grow(void *pp, uint64_t *cap, uint64_t need, size_t elem,
		uint64_t limit)
{
	void **p = pp;
	uint64_t nc;
	void *np;

	if (need <= *cap)
		return 0;
	if (need > limit)
		return ABYSS_ETOOBIG;
	nc = *cap ? *cap * 2 : 4096;
	while (nc < need)
		nc *= 2;
	if (nc > limit)
		nc = limit;
	np = realloc(*p, (size_t)nc * elem);
	if (!np)
		return ABYSS_ENOMEM;
	*p = np;
	*cap = nc;
	return 0;
}

static void on_connect_pub(void *ud, bool session_present)
{
	struct conn *c = ud;

	(void)session_present;
	c->connected = true;
}

static void on_disconnect_pub(void *ud, int rc, const char *why,
			      int64_t retry_in_ms)
{
	struct conn *c = ud;

	(void)retry_in_ms;
	c->connected = false;
	if (rc && why && !c->run->err[0])
		snprintf(c->run->err, sizeof(c->run->err), "%s", why);
}

static void on_subscribe(void *ud, int rc, int granted_qos)
{
	struct conn *c = ud;

	(void)granted_qos;
	c->run->subscribed = true;
	c->run->sub_rc = rc;
}

/* Tool index of a received topic's key, or -1. Keys are few (<= 10^4)
 * and results come at a few thousand per second: a linear scan would
 * cost; the pool's names carry the index, the fixed key is index 0. */
static long topic_tool(const struct pub_run *r, const char *topic,
		       size_t *klen_out)
{
	const char *k, *e;
	size_t klen;
	unsigned i;

	if (strncmp(topic, r->o->root, r->root_len) != 0 ||
	    topic[r->root_len] != '/')
		return -1;
	k = topic + r->root_len + 1;
	e = strchr(k, '/');
	if (!e)
		return -1;
	e = strchr(e + 1, '/');
	if (!e)
		return -1;
	klen = (size_t)(e - k);
	*klen_out = klen;
	if (r->ntools == 1)
		return (strlen(r->key[0]) == klen &&
			memcmp(r->key[0], k, klen) == 0)
			   ? 0
			   : -1;
	/* pool name "ILLL50203377<i>/setitec00<i>" */
	if (klen > 12 && memcmp(k, "ILLL50203377", 12) == 0) {
		unsigned long v = strtoul(k + 12, NULL, 10);

		if (v >= 1 && v <= r->ntools) {
			i = (unsigned)(v - 1);
			if (strlen(r->key[i]) == klen &&
			    memcmp(r->key[i], k, klen) == 0)
				return (long)i;
		}
	}
	return -1;
}

static void record_result(struct pub_run *r, uint64_t seq, uint16_t bit,
			  int64_t t)
{
	struct rec *x = &r->rec[seq];

	if (x->got & bit) {
		r->rep.duplicates++;
		return;
	}
	x->got |= bit;
	/* echo: a message may come back before the hole's last one left (a
	 * full connection); the hole completes when its send does */
	if (x->done || x->sent_us == 0 ||
	    (x->got & r->want_mask) != r->want_mask)
		return;
	x->done = 1;
	r->rep.results++;
	if (grow(&r->lat, &r->caplat, r->nlat + 1, sizeof(float),
		 r->o->max_holes) == 0)
		r->lat[r->nlat++] = (float)((double)(t - x->sent_us) / 1000.0);
}

static const char *endswith(const char *s, size_t n, const char *sfx)
{
	size_t m = strlen(sfx);

	if (m + 1 > n || s[n - m - 1] != '/' || memcmp(s + n - m, sfx, m) != 0)
		return NULL;
	return s + n - m;
}

static void on_message(void *ud, const struct mq_message *msg)
{
	struct conn *c = ud;
	struct pub_run *r = c->run;
	int64_t t = now_us();
	size_t tlen = strlen(msg->topic), klen = 0;
	long tool = topic_tool(r, msg->topic, &klen);
	bool err_flag = false;
	int is_depth;
	int64_t seq;

	r->rep.msgs_in++;
	if (tool < 0) {
		r->rep.unmatched++;
		return;
	}
	if (r->o->echo) {
		int64_t st =
		    pub_message_stamp(r->o->nonce, msg->payload, msg->len);
		uint64_t s;

		if (st < 0 || (uint64_t)(st >> 2) >= r->nrec ||
		    r->rec[st >> 2].tool != (uint32_t)tool) {
			r->rep.unmatched++;
			return;
		}
		s = (uint64_t)(st >> 2);
		record_result(r, s, (uint16_t)(1u << (st & 3)), t);
		return;
	}
	is_depth = endswith(msg->topic, tlen, r->o->depth) != NULL;
	if (!is_depth && !endswith(msg->topic, tlen, r->o->keypoints)) {
		r->rep.unmatched++;
		return;
	}
	seq = pub_result_payload(r->o->nonce, msg->payload, msg->len, r->nrec,
				 &err_flag);
	if (seq < 0 || r->rec[seq].tool != (uint32_t)tool) {
		r->rep.unmatched++;
	} else if (!is_depth) {
		r->rep.keypoints++;
	} else {
		if (err_flag)
			r->rep.errors_in++;
		record_result(r, (uint64_t)seq, 1, t);
	}
}

static int build_tools(struct pub_run *r)
{
	const struct pub_opts *o = r->o;
	unsigned i, k;
	char t[1024];

	r->ntools = o->tool_key && o->tool_key[0] ? 1 : o->tools;
	if (r->ntools == 0 || r->ntools > PUB_MAX_TOOLS)
		return ABYSS_EINVAL;
	r->key = calloc(r->ntools, sizeof(*r->key));
	r->topic = calloc((size_t)r->ntools * PUB_KINDS, sizeof(char *));
	if (!r->key || !r->topic)
		return ABYSS_ENOMEM;
	for (i = 0; i < r->ntools; i++) {
		int n;

		if (r->ntools == 1 && o->tool_key && o->tool_key[0])
			n = snprintf(r->key[i], ABYSS_ID_MAX, "%s",
				     o->tool_key);
		else
			n = snprintf(r->key[i], ABYSS_ID_MAX,
				     "ILLL50203377%u/setitec00%u", i + 1,
				     i + 1);
		if (n < 0 || n >= ABYSS_ID_MAX)
			return ABYSS_ETOOBIG;
		for (k = 0; k < PUB_KINDS; k++) {
			if (!o->suffix[k] || !o->suffix[k][0])
				continue;
			n = snprintf(t, sizeof(t), "%s/%s/%s", o->root,
				     r->key[i], o->suffix[k]);
			if (n < 0 || (size_t)n >= sizeof(t))
				return ABYSS_ETOOBIG;
			r->topic[i * PUB_KINDS + k] = strdup(t);
			if (!r->topic[i * PUB_KINDS + k])
				return ABYSS_ENOMEM;
		}
	}
	return 0;
}

static int conn_new(struct pub_run *r, struct conn *c, const char *id, bool sub)
{
	const struct pub_opts *o = r->o;
	struct mq_callbacks cb;
	struct mq_opts mo;

	memset(&cb, 0, sizeof(cb));
	cb.on_connect = on_connect_pub;
	cb.on_disconnect = on_disconnect_pub;
	if (sub) {
		cb.on_subscribe = on_subscribe;
		cb.on_message = on_message;
	}
	mq_opts_init(&mo);
	mo.host = o->host;
	mo.port = o->port;
	mo.client_id = id;
	mo.username = o->username;
	mo.password = o->password;
	mo.tls_ca = o->tls_ca;
	mo.tls_cert = o->tls_cert;
	mo.tls_key = o->tls_key;
	mo.tls_insecure = o->tls_insecure;
	mo.protocol = o->protocol ? o->protocol : MQ_PROTOCOL_311;
	mo.clean_session = true; /* a load generator leaves nothing behind */
	mo.qos = 1;
	mo.connect_timeout_ms =
	    (uint32_t)(o->connect_timeout_s > 0 ? o->connect_timeout_s * 1000
						: 10000);
	mo.reconnect_min_ms = 200;
	mo.reconnect_max_ms = 2000;
	mo.max_outstanding = o->max_outstanding ? o->max_outstanding : 1000;
	mo.read_budget = 1024;
	c->run = r;
	return mq_new(&mo, &cb, c, &c->mq, r->err, sizeof(r->err));
}

static void run_free(struct pub_run *r)
{
	unsigned i;

	for (i = 0; i < r->nconn; i++)
		mq_free(r->conn[i].mq);
	mq_free(r->sub.mq);
	if (r->topic)
		for (i = 0; i < r->ntools * PUB_KINDS; i++)
			free(r->topic[i]);
	free(r->topic);
	free(r->key);
	free(r->rec);
	free(r->lat);
	free(r->perm);
}

/* Services every connection once: poll up to wait_ms, then mq_service. */
static int pump(struct pub_run *r, int wait_ms)
{
	struct pollfd p[PUB_MAX_CONNS + 1];
	struct mq *m[PUB_MAX_CONNS + 1];
	int64_t now;
	unsigned i, n = 0;
	int t;

	for (i = 0; i < r->nconn; i++)
		m[n++] = r->conn[i].mq;
	if (r->have_sub)
		m[n++] = r->sub.mq;
	now = now_us() / 1000;
	for (i = 0; i < n; i++) {
		mq_pollfd(m[i], &p[i]);
		t = mq_timeout_ms(m[i], now);
		if (t >= 0 && t < wait_ms)
			wait_ms = t;
	}
	if (wait_ms < 0)
		wait_ms = 0;
	if (poll(p, n, wait_ms) < 0 && errno != EINTR)
		return ABYSS_EIO;
	now = now_us() / 1000;
	for (i = 0; i < n; i++) {
		int rc = mq_service(m[i], p[i].fd >= 0 ? p[i].revents : 0, now);

		if (rc) {
			if (!r->err[0])
				snprintf(r->err, sizeof(r->err), "%s",
					 mq_last_error(m[i]));
			return rc;
		}
	}
	return 0;
}

static bool all_connected(const struct pub_run *r)
{
	unsigned i;

	for (i = 0; i < r->nconn; i++)
		if (!r->conn[i].connected)
			return false;
	if (r->have_sub && !(r->sub.connected && r->subscribed))
		return false;
	return true;
}

static size_t next_input(struct pub_run *r)
{
	size_t i;

	if (r->perm_pos == r->ntpl) {
		for (i = r->ntpl; i > 1; i--) {
			size_t j = rand_below(&r->rng, i), tmp = r->perm[i - 1];

			r->perm[i - 1] = r->perm[j];
			r->perm[j] = tmp;
		}
		r->perm_pos = 0;
	}
	return r->perm[r->perm_pos++];
}

/* The state of the hole being sent (it may span loop turns when a
 * connection is full). */
struct cur {
	bool active;
	uint64_t seq;
	size_t input;
	unsigned conn;
	uint32_t tool;
	uint8_t order[PUB_KINDS];
	size_t next; /* index into order */
};

static void cur_start(struct pub_run *r, struct cur *c, uint64_t seq)
{
	struct pub_template *t;
	unsigned per;
	size_t i;

	c->active = true;
	c->seq = seq;
	c->input = next_input(r);
	c->conn = (unsigned)(seq % r->nconn);
	/* tools are split between connections so that one tool's holes are
	 * always sent in order on one connection: the service correlates by
	 * tool key and must not see two holes of one tool interleaved */
	if (r->ntools >= r->nconn) {
		per = (r->ntools - c->conn + r->nconn - 1) / r->nconn;
		c->tool =
		    (uint32_t)(c->conn + rand_below(&r->rng, per) * r->nconn);
	} else {
		c->tool = (uint32_t)(c->conn % r->ntools);
	}
	r->rec[seq].tool = c->tool;
	t = &r->tpl[c->input];
	for (i = 0; i < t->nmsg; i++)
		c->order[i] = (uint8_t)i;
	if (r->o->shuffle)
		for (i = t->nmsg; i > 1; i--) {
			size_t j = rand_below(&r->rng, i);
			uint8_t tmp = c->order[i - 1];

			c->order[i - 1] = c->order[j];
			c->order[j] = tmp;
		}
	c->next = 0;
}

/* Sends what it can of the current hole. Returns 1 when the hole is
 * complete, 0 when the connection is full (try again later), or a
 * negative error. */
static int cur_send(struct pub_run *r, struct cur *c, const char *ts)
{
	struct pub_template *t = &r->tpl[c->input];
	struct mq *mq = r->conn[c->conn].mq;

	while (c->next < t->nmsg) {
		size_t k = c->order[c->next];
		struct pub_msg *m = &t->msg[k];
		int rc;

		pub_template_stamp(t, k, r->o->nonce, c->seq, ts);
		rc = mq_publish(mq, r->topic[c->tool * PUB_KINDS + k], m->text,
				m->len, r->o->qos, false, NULL);
		if (rc == ABYSS_EFULL || rc == ABYSS_ESTATE) {
			r->rep.full_waits++;
			return 0;
		}
		if (rc) {
			snprintf(r->err, sizeof(r->err),
				 "publish of %zu bytes failed: %s", m->len,
				 abyss_strerror(rc));
			return rc;
		}
		r->rep.msgs_sent++;
		r->rep.bytes_sent += m->len;
		c->next++;
	}
	r->rec[c->seq].sent_us = now_us();
	r->rep.holes_sent++;
	if ((r->rec[c->seq].got & r->want_mask) == r->want_mask) {
		r->rec[c->seq].got = 0; /* came back already: count it now */
		record_result(r, c->seq, (uint16_t)r->want_mask,
			      r->rec[c->seq].sent_us);
	}
	c->active = false;
	return 1;
}

static uint64_t outstanding(const struct pub_run *r)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < r->nconn; i++)
		n += mq_outstanding(r->conn[i].mq);
	return n;
}

static void finish_report(struct pub_run *r)
{
	uint64_t i;

	r->rep.missing = 0;
	if (r->o->wait_results || r->o->echo)
		for (i = 0; i < r->nrec; i++)
			if (r->rec[i].sent_us && !r->rec[i].done)
				r->rep.missing++;
	if (r->nlat) {
		pub_sort(r->lat, (size_t)r->nlat);
		r->rep.lat_p50_ms = pub_quantile_sorted(r->lat, r->nlat, 0.50);
		r->rep.lat_p90_ms = pub_quantile_sorted(r->lat, r->nlat, 0.90);
		r->rep.lat_p99_ms = pub_quantile_sorted(r->lat, r->nlat, 0.99);
		r->rep.lat_max_ms = r->lat[r->nlat - 1];
	}
}

static int check_opts(const struct pub_opts *o, const struct pub_template *tpl,
		      size_t ntpl, char *err, size_t errlen)
{
	size_t want = o->suffix[PUB_HEADS] && o->suffix[PUB_HEADS][0] ? 3 : 2;
	const char *why = NULL;
	size_t i;

	if (!o->host || !o->host[0])
		why = "no broker host";
	else if (!o->root || !o->root[0] || !o->suffix[PUB_RESULT] ||
		 !o->suffix[PUB_RESULT][0] || !o->suffix[PUB_TRACE] ||
		 !o->suffix[PUB_TRACE][0])
		why = "root, result and trace topics are required";
	else if (!tpl || ntpl == 0)
		why = "no input holes";
	else if (o->concurrency < 1 || o->concurrency > PUB_MAX_CONNS)
		why = "concurrency must be 1..256";
	else if (o->qos < 0 || o->qos > 2)
		why = "qos must be 0, 1 or 2";
	else if (o->count == 0 && !(o->duration_s > 0))
		why = "neither a count nor a duration";
	else if (o->wait_results && o->echo)
		why = "wait-results and echo exclude each other";
	else if (o->wait_results && (!o->keypoints || !o->keypoints[0] ||
				     !o->depth || !o->depth[0]))
		why = "wait-results needs the keypoints and depth topics";
	else if (o->max_holes == 0 || o->max_holes > PUB_MAX_SEQ ||
		 (o->count && o->count > o->max_holes))
		why = "more holes than max_holes (at most 2^30)";
	else if (o->tool_key && o->tool_key[0] &&
		 (strchr(o->tool_key, '/') == NULL ||
		  strchr(o->tool_key, '+') || strchr(o->tool_key, '#')))
		why = "the tool key must be 'toolbox/tool' without wildcards";
	else if (!(o->tool_key && o->tool_key[0]) &&
		 (o->tools < 1 || o->tools > PUB_MAX_TOOLS))
		why = "tools must be 1..10000";
	for (i = 0; !why && i < ntpl; i++)
		if (tpl[i].nmsg != want)
			why = "a template was prepared with(out) Heads, unlike "
			      "the topics";
	if (why) {
		snprintf(err, errlen, "%s", why);
		return ABYSS_EINVAL;
	}
	return 0;
}

static void progress_now(struct pub_run *r, pub_progress_fn fn, void *ud)
{
	if (fn)
		fn(ud, &r->rep);
}

/* Waits until every connection is up (and the subscriber subscribed). */
static int connect_all(struct pub_run *r)
{
	int64_t deadline = now_us() + (int64_t)((r->o->connect_timeout_s > 0
						     ? r->o->connect_timeout_s
						     : 10) *
						1e6);
	int rc;

	while (!all_connected(r)) {
		if (now_us() >= deadline) {
			char why[MQ_ERRMSG_MAX];

			snprintf(why, sizeof(why), "%s", r->err);
			snprintf(
			    r->err, sizeof(r->err),
			    "no connection to %.64s:%d within %g s%s%.120s",
			    r->o->host, r->o->port,
			    r->o->connect_timeout_s > 0
				? r->o->connect_timeout_s
				: 10,
			    why[0] ? ": " : "", why);
			return ABYSS_ETIMEOUT;
		}
		rc = pump(r, 50);
		if (rc)
			return rc;
	}
	if (r->have_sub && r->sub_rc) {
		snprintf(r->err, sizeof(r->err),
			 "the broker refused the result subscription");
		return ABYSS_EMQTT;
	}
	r->err[0] = '\0';
	return 0;
}

static int setup(struct pub_run *r)
{
	const struct pub_opts *o = r->o;
	char id[MQ_ERRMSG_MAX], t[PUB_KINDS][1024];
	const char *topics[PUB_KINDS];
	size_t nt = 0, k;
	int64_t now;
	unsigned i;
	int rc;

	r->perm = malloc(r->ntpl * sizeof(*r->perm));
	if (!r->perm)
		return ABYSS_ENOMEM;
	for (k = 0; k < r->ntpl; k++)
		r->perm[k] = k;
	r->perm_pos = r->ntpl; /* shuffle before the first pass */
	rc = build_tools(r);
	if (rc)
		return rc;
	r->nconn = o->concurrency;
	for (i = 0; i < r->nconn; i++) {
		r->conn[i].idx = i;
		snprintf(id, sizeof(id), "%s-%ld-%u", o->client_id,
			 (long)getpid(), i);
		rc = conn_new(r, &r->conn[i], id, false);
		if (rc)
			return rc;
	}
	if (o->wait_results || o->echo) {
		r->have_sub = true;
		snprintf(id, sizeof(id), "%s-%ld-sub", o->client_id,
			 (long)getpid());
		rc = conn_new(r, &r->sub, id, true);
		if (rc)
			return rc;
		if (o->echo) {
			/* MQTT filters match whole levels, so the result
			 * filter does not catch the trace topic */
			for (k = 0; k < PUB_KINDS; k++)
				if (o->suffix[k] && o->suffix[k][0]) {
					snprintf(t[nt], sizeof(t[0]),
						 "%s/+/+/%s", o->root,
						 o->suffix[k]);
					topics[nt] = t[nt];
					nt++;
				}
		} else {
			snprintf(t[0], sizeof(t[0]), "%s/+/+/%s", o->root,
				 o->keypoints);
			snprintf(t[1], sizeof(t[1]), "%s/+/+/%s", o->root,
				 o->depth);
			topics[0] = t[0];
			topics[1] = t[1];
			nt = 2;
		}
		rc = mq_subscribe(r->sub.mq, topics, nt);
		if (rc)
			return rc;
	}
	now = now_us() / 1000;
	for (i = 0; i < r->nconn; i++)
		mq_connect(r->conn[i].mq, now);
	if (r->have_sub)
		mq_connect(r->sub.mq, now);
	return connect_all(r);
}

int pub_run(const struct pub_opts *o, struct pub_template *templates,
	    size_t ntemplates, struct pub_report *rep, pub_progress_fn progress,
	    void *ud, unsigned progress_ms, char *err, size_t errlen)
{
	struct pub_run *r;
	struct cur cur;
	char tsbuf[PUB_TS_LEN + 1];
	const char *ts = NULL;
	int64_t stall_since = 0, stall_max;
	bool limit_hit = false;
	int64_t t0 = 0, now, end_us, next_prog, last_sec = -1, deadline;
	uint64_t seq = 0, limit, burst = 0;
	bool paced;
	unsigned i;
	int rc;

	if (!o || !rep)
		return ABYSS_EINVAL;
	memset(rep, 0, sizeof(*rep));
	if (err && errlen)
		err[0] = '\0';
	{
		char why[256];

		rc = check_opts(o, templates, ntemplates, why, sizeof(why));
		if (rc) {
			if (err)
				snprintf(err, errlen, "%s", why);
			return rc;
		}
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return ABYSS_ENOMEM;
	r->o = o;
	r->tpl = templates;
	r->ntpl = ntemplates;
	r->rng = o->seed;
	r->root_len = strlen(o->root);
	r->want_mask = o->echo ? (1u << templates[0].nmsg) - 1 : 1;
	memset(&cur, 0, sizeof(cur));
	rc = setup(r);
	if (rc)
		goto out;

	limit =
	    o->count ? o->count : UINT64_MAX; /* the record limit stops it */
	stall_max =
	    (int64_t)((o->connect_timeout_s > 0 ? o->connect_timeout_s : 10) *
		      1e6);
	paced = o->rate > 0;
	t0 = now_us();
	end_us =
	    o->duration_s > 0 ? t0 + (int64_t)(o->duration_s * 1e6) : INT64_MAX;
	next_prog = t0 + (int64_t)progress_ms * 1000;
	for (;;) {
		now = now_us();
		if (progress && progress_ms && now >= next_prog) {
			r->rep.elapsed_s = (double)(now - t0) / 1e6;
			progress_now(r, progress, ud);
			next_prog = now + (int64_t)progress_ms * 1000;
		}
		if (!cur.active) {
			if (seq >= limit || now >= end_us)
				break;
			if (paced) {
				int64_t due =
				    t0 + (int64_t)((double)seq * 1e6 / o->rate);

				if (now < due) {
					/* sleep to the next hole, whole ms: the
					 * holes due by then go as one burst */
					int64_t w = (due - now + 999) / 1000;

					/* at most 100 ms: the duration and the
					 * progress line are checked meanwhile
					 */
					rc = pump(r, (int)(w < 100 ? w : 100));
					if (rc)
						break;
					continue;
				}
			}
			rc = grow(&r->rec, &r->caprec, seq + 1,
				  sizeof(struct rec), o->max_holes);
			if (rc ==
			    ABYSS_ETOOBIG) { /* stop sending, still wait */
				limit_hit = true;
				rc = 0;
				break;
			}
			if (rc)
				break;
			memset(&r->rec[seq], 0, sizeof(struct rec));
			r->nrec = seq + 1;
			cur_start(r, &cur, seq++);
		}
		if (o->rewrite_timestamps) {
			int64_t s = (int64_t)time(NULL);

			if (s != last_sec) {
				pub_format_ts(s, tsbuf);
				last_sec = s;
			}
			ts = tsbuf;
		}
		rc = cur_send(r, &cur, ts);
		if (rc < 0)
			break;
		if (rc > 0) {
			stall_since = 0;
		} else if (stall_since == 0) {
			stall_since = now;
		} else if (now - stall_since > stall_max) {
			/* the broker took nothing for that long (gone, or
			 * stalled): give up rather than wait forever */
			char why[MQ_ERRMSG_MAX];

			snprintf(why, sizeof(why), "%s", r->err);
			snprintf(r->err, sizeof(r->err),
				 "the broker took no message for %g s%s%.120s",
				 (double)stall_max / 1e6, why[0] ? ": " : "",
				 why);
			rc = ABYSS_ETIMEOUT;
			break;
		}
		if (rc == 0 || ++burst % 16 == 0) {
			/* full: wait for acknowledgements; else let the
			 * sockets (and the subscriber) breathe */
			rc = pump(r, rc == 0 ? 5 : 0);
			if (rc)
				break;
		}
		rc = 0;
	}
	now = now_us();
	r->rep.elapsed_s = (double)(now - t0) / 1e6;
	r->rep.waiting = true;
	/* flush: every publish written (QoS 0) or acknowledged */
	deadline = now + 10 * 1000000LL;
	while (rc == 0 && outstanding(r) > 0 && now_us() < deadline)
		rc = pump(r, 20);
	if (rc == 0 && r->have_sub) {
		deadline = now_us() + (int64_t)(o->wait_timeout_s * 1e6);
		while (r->rep.results < r->rep.holes_sent &&
		       (now = now_us()) < deadline) {
			if (progress && progress_ms && now >= next_prog) {
				progress_now(r, progress, ud);
				next_prog = now + (int64_t)progress_ms * 1000;
			}
			rc = pump(r, 20);
			if (rc)
				break;
		}
	}
	for (i = 0; i < r->nconn; i++)
		mq_disconnect(r->conn[i].mq);
	if (r->have_sub)
		mq_disconnect(r->sub.mq);
	deadline = now_us() + 2000000;
	while (now_us() < deadline) {
		bool open = r->have_sub && mq_state(r->sub.mq) != MQ_CLOSED;

		for (i = 0; i < r->nconn; i++)
			open |= mq_state(r->conn[i].mq) != MQ_CLOSED;
		if (!open || pump(r, 20))
			break;
	}
	if (rc == 0 && limit_hit)
		rc = ABYSS_ETOOBIG;
out:
	finish_report(r);
	r->rep.total_s = (double)(now_us() - (t0 ? t0 : now_us())) / 1e6;
	*rep = r->rep;
	if (rc && err)
		snprintf(err, errlen, "%s",
			 r->err[0] ? r->err : abyss_strerror(rc));
	run_free(r);
	free(r);
	return rc;
}
