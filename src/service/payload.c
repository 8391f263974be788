/*
 * payload.c - the keypoints/depth payloads the service publishes, formatted
 * byte for byte like the original's json.dumps (original-system.md §3.12),
 * output topics, and the negative-depth policy state machine.
 *
 * Pure: no I/O, no clock, no allocation. It does not decide *whether* to
 * publish beyond the §3.12 case analysis, and it does not publish: the MQTT
 * adapter and the spool do that with these bytes.
 */
#include "abyss/payload.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- bounded writer ------------------------------------------------------
 * Appends to a caller buffer, remembering overflow instead of failing at each
 * call, so the formatting code reads straight through (curl's dynbuf idea,
 * without the allocation). */
struct wbuf {
	char *p;
	size_t n;   /* capacity including the NUL */
	size_t len; /* bytes wanted so far */
};

static void w_bytes(struct wbuf *w, const char *s, size_t k)
{
	if (w->len < w->n) {
		size_t room = w->n - 1 - w->len;
		memcpy(w->p + w->len, s, k < room ? k : room);
	}
	w->len += k;
}

static void w_str(struct wbuf *w, const char *s)
{
	w_bytes(w, s, strlen(s));
}

static int w_finish(struct wbuf *w)
{
	if (w->n == 0)
		return ABYSS_ETOOBIG;
	if (w->len >= w->n) {
		w->p[w->n - 1] = '\0';
		return ABYSS_ETOOBIG;
	}
	w->p[w->len] = '\0';
	return (int)w->len;
}

/* Decodes one UTF-8 sequence at s (k bytes left). Returns the code point and
 * sets *used; an invalid or truncated sequence yields U+FFFD for one byte, as
 * Python's "replace" decoding would. */
static unsigned long utf8_next(const unsigned char *s, size_t k, size_t *used)
{
	unsigned long cp;
	size_t need, i;

	if (s[0] < 0x80) {
		*used = 1;
		return s[0];
	}
	if ((s[0] & 0xE0) == 0xC0) {
		need = 2;
		cp = s[0] & 0x1F;
	} else if ((s[0] & 0xF0) == 0xE0) {
		need = 3;
		cp = s[0] & 0x0F;
	} else if ((s[0] & 0xF8) == 0xF0) {
		need = 4;
		cp = s[0] & 0x07;
	} else {
		*used = 1;
		return 0xFFFD;
	}
	if (k < need) {
		*used = 1;
		return 0xFFFD;
	}
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xC0) != 0x80) {
			*used = 1;
			return 0xFFFD;
		}
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	/* overlong forms, surrogates and values past U+10FFFF are invalid */
	if ((need == 2 && cp < 0x80) || (need == 3 && cp < 0x800) ||
	    (need == 4 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF)) {
		*used = 1;
		return 0xFFFD;
	}
	*used = need;
	return cp;
}

static void w_u16(struct wbuf *w, unsigned long u)
{
	char esc[8];

	snprintf(esc, sizeof(esc), "\\u%04lx", u);
	w_bytes(w, esc, 6);
}

/* A JSON string as json.dumps(ensure_ascii=True) writes it. */
static void w_json_str(struct wbuf *w, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t k = strlen(s), i = 0;

	w_bytes(w, "\"", 1);
	while (i < k) {
		size_t used;
		unsigned long cp = utf8_next(u + i, k - i, &used);

		i += used;
		switch (cp) {
		case '"':
			w_bytes(w, "\\\"", 2);
			continue;
		case '\\':
			w_bytes(w, "\\\\", 2);
			continue;
		case '\n':
			w_bytes(w, "\\n", 2);
			continue;
		case '\r':
			w_bytes(w, "\\r", 2);
			continue;
		case '\t':
			w_bytes(w, "\\t", 2);
			continue;
		case '\b':
			w_bytes(w, "\\b", 2);
			continue;
		case '\f':
			w_bytes(w, "\\f", 2);
			continue;
		default:
			break;
		}
		if (cp < 0x20 || (cp >= 0x7F && cp < 0x10000)) {
			w_u16(w, cp);
		} else if (cp >= 0x10000) {
			unsigned long v = cp - 0x10000;
			w_u16(w, 0xD800 | (v >> 10));
			w_u16(w, 0xDC00 | (v & 0x3FF));
		} else {
			char c = (char)cp;
			w_bytes(w, &c, 1);
		}
	}
	w_bytes(w, "\"", 1);
}

/* ---- numbers and times -------------------------------------------------- */

int abyss_payload_fmt_double(char *buf, size_t n, double v)
{
	char e[40], digits[24], out[48];
	size_t nd = 0, o = 0;
	int p, exp10 = 0, decpt, i;
	const char *s;

	if (n < 32)
		return ABYSS_ETOOBIG;
	if (isnan(v))
		return snprintf(buf, n, "NaN");
	if (isinf(v))
		return snprintf(buf, n, v < 0 ? "-Infinity" : "Infinity");
	if (v == 0.0)
		return snprintf(buf, n, signbit(v) ? "-0.0" : "0.0");

	/* The shortest precision whose correctly rounded decimal reads back
	 * as v: Python's repr picks the same digits (glibc printf rounds
	 * correctly, strtod reads correctly). */
	for (p = 1; p <= 17; p++) {
		snprintf(e, sizeof(e), "%.*e", p - 1, v);
		if (strtod(e, NULL) == v)
			break;
	}
	s = e;
	if (*s == '-') {
		out[o++] = '-';
		s++;
	}
	for (; *s && *s != 'e'; s++)
		if (*s >= '0' && *s <= '9' && nd < sizeof(digits) - 1)
			digits[nd++] = *s;
	if (*s == 'e')
		exp10 = (int)strtol(s + 1, NULL, 10);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	decpt = exp10 + 1; /* v = 0.DIGITS x 10^decpt */

	if (decpt <= -4 || decpt > 16) {
		/* exponent form: d[.ddd]e+XX, at least two exponent digits */
		out[o++] = digits[0];
		if (nd > 1) {
			out[o++] = '.';
			memcpy(out + o, digits + 1, nd - 1);
			o += nd - 1;
		}
		o += (size_t)snprintf(out + o, sizeof(out) - o, "e%c%02d",
				      exp10 < 0 ? '-' : '+', abs(exp10));
	} else if (decpt <= 0) {
		out[o++] = '0';
		out[o++] = '.';
		for (i = 0; i < -decpt; i++)
			out[o++] = '0';
		memcpy(out + o, digits, nd);
		o += nd;
	} else if ((size_t)decpt < nd) {
		memcpy(out + o, digits, (size_t)decpt);
		o += (size_t)decpt;
		out[o++] = '.';
		memcpy(out + o, digits + decpt, nd - (size_t)decpt);
		o += nd - (size_t)decpt;
	} else {
		memcpy(out + o, digits, nd);
		o += nd;
		for (i = (int)nd; i < decpt; i++)
			out[o++] = '0';
		out[o++] = '.';
		out[o++] = '0';
	}
	out[o] = '\0';
	if (o >= n)
		return ABYSS_ETOOBIG;
	memcpy(buf, out, o + 1);
	return (int)o;
}

int abyss_payload_fmt_time(char *buf, size_t n, double timestamp_s)
{
	struct tm tm;
	time_t t;
	double f;
	size_t k;

	if (n < 21)
		return ABYSS_ETOOBIG;
	if (!isfinite(timestamp_s))
		return ABYSS_ERANGE;
	f = floor(timestamp_s);
	/* years 0001..9999 keep the fixed-width format the original wrote */
	if (f < -62135596800.0 || f > 253402300799.0)
		return ABYSS_ERANGE;
	t = (time_t)f;
	if (!gmtime_r(&t, &tm))
		return ABYSS_ERANGE;
	k = strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (k == 0)
		return ABYSS_ETOOBIG;
	return (int)k;
}

/* ---- payloads ----------------------------------------------------------- */

struct abyss_payload_ids abyss_payload_ids_from_hole(const struct abyss_hole *h)
{
	struct abyss_payload_ids ids;

	ids.timestamp_s = h->timestamp_s;
	ids.machine_id = h->machine_id;
	ids.result_id = h->result_id;
	ids.head_id = h->head_id[0] ? h->head_id : NULL;
	return ids;
}

enum abyss_payload_status abyss_payload_decide(const char *error_message,
					       const double *keypoints)
{
	if (error_message)
		return ABYSS_PAYLOAD_ERROR;
	if (!keypoints)
		return ABYSS_PAYLOAD_INSUFFICIENT_DATA;
	/* NaN is not < 0, as in Python: such a result is published */
	if (keypoints[1] - keypoints[0] < 0 || keypoints[2] - keypoints[1] < 0)
		return ABYSS_PAYLOAD_EMPTY;
	return ABYSS_PAYLOAD_SUCCESS;
}

static void w_double(struct wbuf *w, double v)
{
	char num[48];
	int k = abyss_payload_fmt_double(num, sizeof(num), v);

	if (k > 0)
		w_bytes(w, num, (size_t)k);
}

int abyss_payload_format(char *buf, size_t n, enum abyss_payload_kind kind,
			 enum abyss_payload_status status,
			 const struct abyss_payload_ids *ids,
			 const double *keypoints, const char *message,
			 const char *algo_version)
{
	struct wbuf w = {buf, n, 0};
	char ts[32];
	int k;

	if (!buf || !ids || !ids->machine_id || !ids->result_id)
		return ABYSS_EINVAL;
	if (kind != ABYSS_PAYLOAD_KEYPOINTS && kind != ABYSS_PAYLOAD_DEPTH)
		return ABYSS_EINVAL;
	if (status == ABYSS_PAYLOAD_SUCCESS && !keypoints)
		return ABYSS_EINVAL;
	if (status != ABYSS_PAYLOAD_SUCCESS &&
	    status != ABYSS_PAYLOAD_INSUFFICIENT_DATA &&
	    status != ABYSS_PAYLOAD_ERROR)
		return ABYSS_EINVAL;
	k = abyss_payload_fmt_time(ts, sizeof(ts), ids->timestamp_s);
	if (k < 0)
		return k;
	if (!algo_version)
		algo_version = ABYSS_PAYLOAD_ALGO_VERSION;

	w_str(&w, "{\"SourceTimestamp\": ");
	w_json_str(&w, ts);
	w_str(&w, ", \"MachineId\": ");
	w_json_str(&w, ids->machine_id);
	w_str(&w, ", \"ResultId\": ");
	w_json_str(&w, ids->result_id);
	w_str(&w, ", \"HeadId\": ");
	if (ids->head_id)
		w_json_str(&w, ids->head_id);
	else
		w_str(&w, "null");
	w_str(&w, ", \"Value\": ");
	switch (status) {
	case ABYSS_PAYLOAD_SUCCESS:
		w_str(&w, "[");
		if (kind == ABYSS_PAYLOAD_KEYPOINTS) {
			w_double(&w, keypoints[0]);
			w_str(&w, ", ");
			w_double(&w, keypoints[1]);
			w_str(&w, ", ");
			w_double(&w, keypoints[2]);
		} else {
			w_double(&w, keypoints[1] - keypoints[0]);
			w_str(&w, ", ");
			w_double(&w, keypoints[2] - keypoints[1]);
		}
		w_str(&w, "], \"AlgoVersion\": ");
		w_json_str(&w, algo_version);
		break;
	case ABYSS_PAYLOAD_INSUFFICIENT_DATA:
		w_json_str(&w, kind == ABYSS_PAYLOAD_KEYPOINTS
				   ? "Not enough steps to estimate keypoints"
				   : "Not enough steps to estimate depth");
		break;
	default: { /* ERROR: the prefix is part of the string value */
		char text[1024];
		snprintf(text, sizeof(text), "Error in %s estimation: %s",
			 kind == ABYSS_PAYLOAD_KEYPOINTS ? "keypoint" : "depth",
			 message ? message : "");
		w_json_str(&w, text);
		w_str(&w, ", \"Error\": true");
		break;
	}
	}
	w_str(&w, "}");
	return w_finish(&w);
}

int abyss_payload_topic(char *buf, size_t n, const char *root,
			const char *tool_key, const char *endpoint)
{
	struct wbuf w = {buf, n, 0};

	if (!buf || !root || !tool_key || !endpoint || !*root || !*tool_key ||
	    !*endpoint)
		return ABYSS_EINVAL;
	w_str(&w, root);
	w_str(&w, "/");
	w_str(&w, tool_key);
	w_str(&w, "/");
	w_str(&w, endpoint);
	return w_finish(&w);
}

/* ---- negative-depth policy ---------------------------------------------- */

void abyss_negdepth_init(struct abyss_negdepth *nd)
{
	memset(nd, 0, sizeof(*nd));
	nd->last_warning_ms = INT64_MIN;
}

static void negdepth_expire(struct abyss_negdepth *nd, int64_t now_ms)
{
	while (nd->count > 0 &&
	       now_ms - nd->times_ms[nd->head] > ABYSS_NEGDEPTH_WINDOW_MS) {
		nd->head = (nd->head + 1) % ABYSS_NEGDEPTH_HISTORY;
		nd->count--;
	}
}

int abyss_negdepth_record(struct abyss_negdepth *nd, int64_t now_ms)
{
	size_t tail;

	nd->total++;
	if (nd->count == ABYSS_NEGDEPTH_HISTORY) { /* deque(maxlen=100) */
		nd->head = (nd->head + 1) % ABYSS_NEGDEPTH_HISTORY;
		nd->count--;
	}
	tail = (nd->head + nd->count) % ABYSS_NEGDEPTH_HISTORY;
	nd->times_ms[tail] = now_ms;
	nd->count++;
	negdepth_expire(nd, now_ms);
	if (nd->count >= ABYSS_NEGDEPTH_THRESHOLD &&
	    (nd->last_warning_ms == INT64_MIN ||
	     now_ms - nd->last_warning_ms >= ABYSS_NEGDEPTH_WINDOW_MS)) {
		nd->last_warning_ms = now_ms;
		return 1;
	}
	return 0;
}

size_t abyss_negdepth_recent(const struct abyss_negdepth *nd, int64_t now_ms)
{
	size_t i, c = 0;

	for (i = 0; i < nd->count; i++) {
		size_t j = (nd->head + i) % ABYSS_NEGDEPTH_HISTORY;
		if (now_ms - nd->times_ms[j] <= ABYSS_NEGDEPTH_WINDOW_MS)
			c++;
	}
	return c;
}
