/*
 * publish_tpl.c - the pure half of the traffic generator: message
 * templates rendered once and patched in place per send (timestamps,
 * ResultId, MessageId), the run's id scheme, decoding the service's output
 * payloads back to hole numbers, and quantiles.
 *
 * No I/O, no clock, no MQTT: the fuzz target fuzz_publish.c includes this
 * file directly. The network loop is publish.c.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "abyss/error.h"
#include "abyss/hole_io.h"
#include "publish.h"

/* The ResultId the templates are rendered with; patched per send. */
#define RID_PLACEHOLDER "100000000000"
#define RID_BASE	100000000000ULL /* 10^11: 12 digits, no leading 0 */
#define RID_SPAN	900000000000ULL /* ids 10^11 .. 10^12 - 1 */
#define RID_STRIDE	10000000ULL	/* seqs per nonce step */

/* ---- templates ---------------------------------------------------------- */

static int offsets_push(size_t **v, size_t *n, size_t *cap, size_t off)
{
	size_t *nv;

	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;

		nv = realloc(*v, nc * sizeof(**v));
		if (!nv)
			return ABYSS_ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = off;
	return 0;
}

static void msg_free(struct pub_msg *m)
{
	free(m->text);
	free(m->ts_off);
	free(m->rid_off);
	memset(m, 0, sizeof(*m));
}

/* Records where the timestamp, ResultId and MessageId values sit. */
static int msg_index(struct pub_msg *m, const char *ts0, int want_rid)
{
	static const char rid_key[] = "ResultId\": {\"Value\": ";
	static const char mid_key[] = "\"MessageId\": \"";
	size_t cap_ts = 0, cap_rid = 0;
	const char *p, *end = m->text + m->len;
	char quoted[PUB_TS_LEN + 3];
	int rc;

	snprintf(quoted, sizeof(quoted), "\"%s\"", ts0);
	for (p = m->text; (p = strstr(p, quoted)) != NULL; p += 1) {
		rc = offsets_push(&m->ts_off, &m->nts, &cap_ts,
				  (size_t)(p + 1 - m->text));
		if (rc)
			return rc;
	}
	for (p = m->text; (p = strstr(p, rid_key)) != NULL; p += 1) {
		const char *v = p + sizeof(rid_key) - 1;

		if (end - v < PUB_RID_LEN ||
		    memcmp(v, RID_PLACEHOLDER, PUB_RID_LEN) != 0)
			return ABYSS_EPARSE;
		rc = offsets_push(&m->rid_off, &m->nrid, &cap_rid,
				  (size_t)(v - m->text));
		if (rc)
			return rc;
	}
	p = strstr(m->text, mid_key);
	/* a UUID: 8-4-4-4-12, the last group starts 24 bytes in */
	if (!p || end - p < (ptrdiff_t)(sizeof(mid_key) - 1 + 36))
		return ABYSS_EPARSE;
	m->mid_off = (size_t)(p + sizeof(mid_key) - 1 + 24 - m->text);
	if (m->nts == 0 || (want_rid && m->nrid == 0))
		return ABYSS_EPARSE;
	return 0;
}

static void put_digits(char *dst, uint64_t v, size_t n);

void pub_format_ts(int64_t unix_s, char buf[PUB_TS_LEN + 1])
{
	time_t t = (time_t)unix_s;
	struct tm tm;

	memcpy(buf, "1970-01-01T00:00:00Z", PUB_TS_LEN + 1);
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 ||
	    tm.tm_year + 1900 > 9999)
		return;
	put_digits(buf, (uint64_t)tm.tm_year + 1900, 4);
	put_digits(buf + 5, (uint64_t)tm.tm_mon + 1, 2);
	put_digits(buf + 8, (uint64_t)tm.tm_mday, 2);
	put_digits(buf + 11, (uint64_t)tm.tm_hour, 2);
	put_digits(buf + 14, (uint64_t)tm.tm_min, 2);
	put_digits(buf + 17, (uint64_t)tm.tm_sec, 2);
}

int pub_template_init(struct pub_template *t, const struct abyss_hole *h,
		      bool with_heads)
{
	struct abyss_hole copy;
	char *txt[PUB_KINDS] = {NULL, NULL, NULL};
	double ts;
	size_t k;
	int rc;

	if (!t || !h || h->n == 0)
		return ABYSS_EINVAL;
	memset(t, 0, sizeof(*t));
	/* A shallow copy: only the identity changes, the arrays are shared
	 * for the duration of the call. */
	copy = *h;
	memcpy(copy.result_id, RID_PLACEHOLDER, sizeof(RID_PLACEHOLDER));
	ts = isfinite(h->timestamp_s) ? floor(h->timestamp_s) : 0.0;
	if (ts < 0 || ts > 253402300799.0) /* 9999-12-31T23:59:59Z */
		ts = 0;
	copy.timestamp_s = ts;
	pub_format_ts((int64_t)ts, t->ts0);
	rc = abyss_hole_to_msgs(&copy, NULL, &txt[PUB_RESULT], &txt[PUB_TRACE],
				with_heads ? &txt[PUB_HEADS] : NULL);
	if (rc)
		return rc;
	t->nmsg = with_heads ? 3 : 2;
	for (k = 0; k < PUB_KINDS; k++) {
		t->msg[k].text = txt[k];
		t->msg[k].len = txt[k] ? strlen(txt[k]) : 0;
	}
	for (k = 0; k < t->nmsg; k++) {
		rc = msg_index(&t->msg[k], t->ts0, k != PUB_HEADS);
		if (rc) {
			pub_template_free(t);
			return rc;
		}
	}
	return 0;
}

void pub_template_free(struct pub_template *t)
{
	size_t k;

	if (!t)
		return;
	for (k = 0; k < PUB_KINDS; k++)
		msg_free(&t->msg[k]);
	t->nmsg = 0;
}

uint64_t pub_result_id(uint32_t nonce, uint64_t seq)
{
	return RID_BASE + ((uint64_t)nonce * RID_STRIDE + seq) % RID_SPAN;
}

int64_t pub_result_seq(uint32_t nonce, const char *id, size_t len,
		       uint64_t max_seq)
{
	uint64_t v = 0, base;
	size_t i;

	if (!id || len != PUB_RID_LEN || id[0] == '0')
		return -1;
	for (i = 0; i < len; i++) {
		if (id[i] < '0' || id[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(id[i] - '0');
	}
	base = ((uint64_t)nonce * RID_STRIDE) % RID_SPAN;
	v = (v - RID_BASE + RID_SPAN - base) % RID_SPAN;
	return v < max_seq ? (int64_t)v : -1;
}

static void put_digits(char *dst, uint64_t v, size_t n)
{
	while (n--) {
		dst[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

static void put_hex(char *dst, uint64_t v, size_t n)
{
	static const char hx[] = "0123456789abcdef";

	while (n--) {
		dst[n] = hx[v & 15];
		v >>= 4;
	}
}

void pub_template_stamp(struct pub_template *t, size_t k, uint32_t nonce,
			uint64_t seq, const char *ts)
{
	struct pub_msg *m = &t->msg[k];
	uint64_t rid = pub_result_id(nonce, seq);
	size_t i;

	for (i = 0; i < m->nrid; i++)
		put_digits(m->text + m->rid_off[i], rid, PUB_RID_LEN);
	put_hex(m->text + m->mid_off,
		((uint64_t)(nonce & 0xffff) << 32) |
		    ((seq & (PUB_MAX_SEQ - 1)) << 2) | k,
		PUB_MID_LEN);
	if (ts)
		for (i = 0; i < m->nts; i++)
			memcpy(m->text + m->ts_off[i], ts, PUB_TS_LEN);
}

int64_t pub_message_stamp(uint32_t nonce, const char *payload, size_t len)
{
	static const char mid_key[] = "\"MessageId\": \"";
	const char *p = NULL;
	uint64_t v = 0;
	size_t i, scan = len < 64 ? len : 64, klen = sizeof(mid_key) - 1;

	/* the writer puts MessageId first: look only at the head */
	for (i = 0; i + klen <= scan; i++)
		if (memcmp(payload + i, mid_key, klen) == 0) {
			p = payload + i + klen;
			break;
		}
	if (!p || (size_t)(payload + len - p) < 36)
		return -1;
	p += 24;
	for (i = 0; i < PUB_MID_LEN; i++) {
		char c = p[i];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	if ((v >> 32) != (nonce & 0xffff))
		return -1;
	return (int64_t)(v & 0xffffffffULL);
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

void pub_sort(float *v, size_t n)
{
	if (v && n > 1)
		qsort(v, n, sizeof(*v), cmp_float);
}

double pub_quantile_sorted(const float *v, size_t n, double q)
{
	size_t r;

	if (n == 0)
		return 0;
	r = (size_t)ceil(q * (double)n);
	if (r < 1)
		r = 1;
	if (r > n)
		r = n;
	return v[r - 1];
}

int64_t pub_result_payload(uint32_t nonce, const char *payload, size_t len,
			   uint64_t max_seq, bool *is_error)
{
	json_t *root, *v;
	const char *id = NULL;
	char buf[32];
	int64_t seq = -1;

	if (is_error)
		*is_error = false;
	if (!payload)
		return -1;
	/* a depth payload is a few hundred bytes; a bound keeps a stray
	 * large message on the topic from costing a parse */
	if (len > 65536)
		return -1;
	root = json_loadb(payload, len, 0, NULL);
	if (!root)
		return -1;
	v = json_object_get(root, "ResultId");
	if (json_is_string(v)) {
		id = json_string_value(v);
	} else if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		id = buf;
	}
	if (id)
		seq = pub_result_seq(nonce, id, strlen(id), max_seq);
	if (seq >= 0 && is_error)
		*is_error = json_is_true(json_object_get(root, "Error"));
	json_decref(root);
	return seq;
}
