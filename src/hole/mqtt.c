/*
 * mqtt.c - the drills' MQTT messages: topic classification, tool key,
 * SourceTimestamp, bounded JSON loading, and Result + Trace (+ Heads) -> hole
 * (original-system.md §3.1-3.11). Also the JSON helpers legacy.c shares.
 *
 * It does not correlate messages (the service's correlator does), does not
 * talk to a broker and keeps no state: one call, one answer. The only I/O is
 * abyss_hole_from_msg_folder, a convenience for test folders and the CLI.
 */
#include "abyss/message.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "abyss/hole_io.h"
#include "hole_json.h"
#include "../common/file.h"

/* ---- configuration ------------------------------------------------------ */

#define PREFIX_RESULT "ResultManagement.Results.0."
#define PREFIX_TRACE  PREFIX_RESULT "ResultContent.Trace.StepTraces."
#define PREFIX_STEP                                                            \
	PREFIX_RESULT "ResultContent.StepResults.0.StepResultValues."

struct abyss_data_ids abyss_data_ids_default(void)
{
	struct abyss_data_ids d;

	memset(&d, 0, sizeof(d));
	snprintf(d.machine_id, sizeof(d.machine_id), "%s",
		 PREFIX_RESULT "ResultMetaData.SerialNumber");
	snprintf(d.head_id, sizeof(d.head_id), "%s",
		 "AssetManagement.Assets.Heads.0.Identification.SerialNumber");
	snprintf(d.result_id, sizeof(d.result_id), "%s",
		 PREFIX_RESULT "ResultMetaData.ResultId");
	snprintf(d.position, sizeof(d.position), "%s",
		 PREFIX_TRACE "PositionTrace.StepTraceContent[0].Values");
	snprintf(d.thrust, sizeof(d.thrust), "%s",
		 PREFIX_TRACE
		 "IntensityThrustTrace.StepTraceContent[0].Values");
	snprintf(d.torque, sizeof(d.torque), "%s",
		 PREFIX_TRACE
		 "IntensityTorqueTrace.StepTraceContent[0].Values");
	snprintf(d.step, sizeof(d.step), "%s",
		 PREFIX_TRACE "StepNumberTrace.StepTraceContent[0].Values");
	snprintf(d.torque_empty_vals, sizeof(d.torque_empty_vals), "%s",
		 PREFIX_STEP "IntensityTorqueEmpty");
	snprintf(d.thrust_empty_vals, sizeof(d.thrust_empty_vals), "%s",
		 PREFIX_STEP "IntensityThrustEmpty");
	snprintf(d.step_vals, sizeof(d.step_vals), "%s",
		 PREFIX_STEP "StepNumber");
	return d;
}

struct abyss_topics abyss_topics_default(void)
{
	struct abyss_topics t = {"OPCPUBSUB", "ResultManagement",
				 "ResultManagement/Trace",
				 "AssetManagement/Heads"};
	return t;
}

struct abyss_msg_limits abyss_msg_limits_default(void)
{
	struct abyss_msg_limits l;

	l.max_payload_bytes = (size_t)16 << 20;
	l.max_array_len = 1000000;
	l.max_depth = 32;
	l.topics = NULL;
	return l;
}

/* ---- topics ------------------------------------------------------------- */

enum abyss_msg_kind abyss_msg_classify(const char *topic,
				       const struct abyss_topics *topics)
{
	struct abyss_topics def = abyss_topics_default();

	if (!topic)
		return ABYSS_MSG_UNKNOWN;
	if (!topics)
		topics = &def;
	/* trace first: its suffix contains the result suffix */
	if (topics->trace && *topics->trace && strstr(topic, topics->trace))
		return ABYSS_MSG_TRACE;
	if (topics->result && *topics->result && strstr(topic, topics->result))
		return ABYSS_MSG_RESULT;
	if (topics->heads && *topics->heads && strstr(topic, topics->heads))
		return ABYSS_MSG_HEADS;
	return ABYSS_MSG_UNKNOWN;
}

const char *abyss_msg_kind_name(enum abyss_msg_kind kind)
{
	switch (kind) {
	case ABYSS_MSG_RESULT:
		return "result";
	case ABYSS_MSG_TRACE:
		return "trace";
	case ABYSS_MSG_HEADS:
		return "heads";
	default:
		return "unknown";
	}
}

int abyss_msg_tool_key(const char *topic, char *buf, size_t n)
{
	const char *a, *b, *c;
	size_t la, lb;

	if (!buf || n == 0)
		return ABYSS_EINVAL;
	buf[0] = '\0';
	if (!topic)
		return ABYSS_EINVAL;
	a = strchr(topic, '/');
	if (!a)
		return ABYSS_EPARSE;
	a++;
	b = strchr(a, '/');
	if (!b)
		return ABYSS_EPARSE;
	la = (size_t)(b - a);
	b++;
	c = strchr(b, '/');
	/* Python's topic.split('/')[1:3] needs a 4th level only to exist as
	 * a suffix; a 3-level topic still has levels 2 and 3 */
	lb = c ? (size_t)(c - b) : strlen(b);
	if (la == 0 || lb == 0)
		return ABYSS_EPARSE;
	if (la + 1 + lb + 1 > n)
		return ABYSS_ETOOBIG;
	memcpy(buf, a, la);
	buf[la] = '/';
	memcpy(buf + la + 1, b, lb);
	buf[la + 1 + lb] = '\0';
	return ABYSS_OK;
}

/* ---- timestamps --------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): exact for every year, no time_t or TZ involved. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
	static const int dm[12] = {31, 28, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 ? 28 + leap : dm[m - 1];
}

/* Reads exactly `digits` decimal digits. */
static int read_digits(const char **p, int digits, int *out)
{
	int v = 0, i;

	for (i = 0; i < digits; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += digits;
	*out = v;
	return 0;
}

int abyss_parse_timestamp(const char *s, double *out_s)
{
	const char *p = s;
	int y, mo, d, h, mi, se;
	double frac = 0.0;
	int64_t days;

	if (!s || !out_s)
		return ABYSS_EINVAL;
	if (read_digits(&p, 4, &y) || *p++ != '-' || read_digits(&p, 2, &mo) ||
	    *p++ != '-' || read_digits(&p, 2, &d) || *p++ != 'T' ||
	    read_digits(&p, 2, &h) || *p++ != ':' || read_digits(&p, 2, &mi) ||
	    *p++ != ':' || read_digits(&p, 2, &se))
		return ABYSS_EPARSE;
	if (*p == '.') {
		/* the original dropped such messages; we keep the fraction */
		const char *f = ++p;
		double scale = 0.1;
		while (isdigit((unsigned char)*p) && p - f < 20) {
			frac += (*p - '0') * scale;
			scale /= 10.0;
			p++;
		}
		if (p == f || isdigit((unsigned char)*p))
			return ABYSS_EPARSE;
	}
	if (*p != 'Z' || p[1] != '\0')
		return ABYSS_EPARSE;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || se > 60)
		return ABYSS_EPARSE;
	days = days_from_civil(y, mo, d);
	*out_s = (double)(days * 86400 + h * 3600 + mi * 60 + se) + frac;
	return ABYSS_OK;
}

int abyss_format_timestamp(double t, char *buf, size_t n)
{
	double whole, frac;
	int64_t secs, days, sod, y;
	int m, d, digits;
	long long scaled = 0;
	char tmp[48];
	double back;

	if (!buf || n < 32)
		return buf && n ? (buf[0] = '\0', ABYSS_ETOOBIG) : ABYSS_EINVAL;
	buf[0] = '\0';
	/* years 0..9999 keep the 4-digit layout */
	if (!isfinite(t) || t < -62167219200.0 || t >= 253402300800.0)
		return ABYSS_ERANGE;
	whole = floor(t);
	frac = t - whole;
	secs = (int64_t)whole;
	days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	sod = secs - days * 86400;
	civil_from_days(days, &y, &m, &d);
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d", (int)y, m,
		 d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
	if (frac == 0.0) {
		snprintf(buf, n, "%sZ", tmp);
		return ABYSS_OK;
	}
	/* the fewest fraction digits that parse back to t exactly */
	for (digits = 1; digits <= 9; digits++) {
		scaled = llround(frac * pow(10.0, digits));
		if (scaled >= (long long)pow(10.0, digits))
			continue; /* rounds up to the next second: more digits
				   */
		snprintf(buf, n, "%s.%0*lldZ", tmp, digits, scaled);
		if (abyss_parse_timestamp(buf, &back) == 0 && back == t)
			break;
	}
	if (digits > 9) {
		scaled = llround(frac * 1e9);
		if (scaled > 999999999)
			scaled = 999999999;
		snprintf(buf, n, "%s.%09lldZ", tmp, scaled);
	}
	/* drop trailing zeros of the fraction */
	{
		size_t len = strlen(buf);
		while (len > 2 && buf[len - 2] == '0' && buf[len - 3] != '.') {
			buf[len - 2] = 'Z';
			buf[len - 1] = '\0';
			len--;
		}
	}
	return ABYSS_OK;
}

/* ---- JSON helpers (shared with legacy.c) -------------------------------- */

/* Walks the tree, enforcing the array-length and nesting bounds. The depth
 * is also what bounds this recursion. */
static int check_limits(const json_t *v, size_t depth,
			const struct abyss_msg_limits *lim,
			struct abyss_diag *diag)
{
	const char *k;
	json_t *c;
	size_t i;
	int rc;

	if (!json_is_object(v) && !json_is_array(v))
		return ABYSS_OK;
	if (depth >= lim->max_depth)
		return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
				      "JSON nesting deeper than %zu levels",
				      lim->max_depth);
	if (json_is_array(v)) {
		if (json_array_size(v) > lim->max_array_len)
			return abyss_diag_set(
			    diag, ABYSS_ETOOBIG, 0, 0,
			    "a JSON array has %zu elements, more than the "
			    "limit of %zu",
			    json_array_size(v), lim->max_array_len);
		json_array_foreach(v, i, c)
		{
			rc = check_limits(c, depth + 1, lim, diag);
			if (rc)
				return rc;
		}
		return ABYSS_OK;
	}
	/* jansson's foreach macro needs a non-const object */
	json_object_foreach((json_t *)v, k, c)
	{
		rc = check_limits(c, depth + 1, lim, diag);
		if (rc)
			return rc;
	}
	return ABYSS_OK;
}

int hole__json_load(const char *buf, size_t len,
		    const struct abyss_msg_limits *lim, json_t **root,
		    struct abyss_diag *diag)
{
	struct abyss_msg_limits def = abyss_msg_limits_default();
	json_error_t err;
	json_t *r;
	int rc;

	*root = NULL;
	if (!lim)
		lim = &def;
	if (len > lim->max_payload_bytes)
		return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
				      "message of %zu bytes exceeds the limit "
				      "of %zu bytes",
				      len, lim->max_payload_bytes);
	if (len == 0)
		return abyss_diag_set(diag, ABYSS_EJSON, 1, 1,
				      "empty message: expected a JSON object");
	r = hole__json_fast(buf, len, lim->max_depth, lim->max_array_len);
	if (r) {
		*root = r; /* within the limits already */
		return 0;
	}
	r = json_loadb(buf, len, 0, &err);
	if (!r) {
		/* jansson counts lines and columns from 1, like diag */
		return abyss_diag_set(
		    diag,
		    json_error_code(&err) == json_error_out_of_memory
			? ABYSS_ENOMEM
			: ABYSS_EJSON,
		    err.line > 0 ? (size_t)err.line : 0,
		    err.column > 0 ? (size_t)err.column : 0,
		    "invalid JSON at byte %d: %s", err.position, err.text);
	}
	if (!json_is_object(r)) {
		json_decref(r);
		return abyss_diag_set(diag, ABYSS_EJSON, 1, 1,
				      "the message is not a JSON object");
	}
	rc = check_limits(r, 0, lim, diag);
	if (rc) {
		json_decref(r);
		return rc;
	}
	*root = r;
	return ABYSS_OK;
}

json_t *hole__find_key(json_t *obj, const char *key)
{
	const char *k;
	json_t *v, *r;

	if (!json_is_object(obj))
		return NULL;
	json_object_foreach(obj, k, v)
	{
		if (strcmp(k, key) == 0)
			return v;
		if (json_is_object(v)) {
			r = hole__find_key(v, key);
			if (r)
				return r;
		}
	}
	return NULL;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

json_t *hole__payload_value(json_t *payload, const char *sub, int match_suffix,
			    const char **keyp)
{
	const char *k;
	json_t *v;

	if (keyp)
		*keyp = NULL;
	if (!json_is_object(payload) || !sub || !*sub)
		return NULL;
	json_object_foreach(payload, k, v)
	{
		if (match_suffix ? ends_with(k, sub) : strstr(k, sub) != NULL) {
			if (keyp)
				*keyp = k;
			/* like reduce_dict: the first match decides, even
			 * when it lacks a Value */
			return json_is_object(v) ? json_object_get(v, "Value")
						 : NULL;
		}
	}
	return NULL;
}

int hole__json_str(const json_t *v, char *buf, size_t n)
{
	int len;

	if (!buf || n == 0)
		return ABYSS_EINVAL;
	buf[0] = '\0';
	switch (json_typeof(v)) {
	case JSON_STRING:
		if (json_string_length(v) >= n)
			return ABYSS_ETOOBIG;
		memcpy(buf, json_string_value(v), json_string_length(v) + 1);
		return ABYSS_OK;
	case JSON_INTEGER:
		len = snprintf(buf, n, "%" JSON_INTEGER_FORMAT,
			       json_integer_value(v));
		return len < 0 || (size_t)len >= n ? ABYSS_ETOOBIG : ABYSS_OK;
	case JSON_REAL:
		len = abyss_fmt_double(buf, n, json_real_value(v));
		return len < 0 ? len : ABYSS_OK;
	case JSON_TRUE:
		return snprintf(buf, n, "True") >= (int)n ? ABYSS_ETOOBIG
							  : ABYSS_OK;
	case JSON_FALSE:
		return snprintf(buf, n, "False") >= (int)n ? ABYSS_ETOOBIG
							   : ABYSS_OK;
	case JSON_NULL:
		return ABYSS_EMISSING;
	default:
		return ABYSS_EPARSE;
	}
}

int hole__json_int(const json_t *v, int64_t *out)
{
	const char *s;
	char *end;
	long long x;
	double r;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return ABYSS_OK;
	}
	if (json_is_real(v)) {
		r = json_real_value(v);
		if (!isfinite(r) || r >= 9.2e18 || r <= -9.2e18)
			return ABYSS_EPARSE;
		*out = (int64_t)r; /* Python int() truncates toward zero */
		return ABYSS_OK;
	}
	if (!json_is_string(v))
		return ABYSS_EPARSE;
	s = json_string_value(v);
	while (isspace((unsigned char)*s))
		s++;
	if (!*s || !(isdigit((unsigned char)*s) || *s == '-' || *s == '+'))
		return ABYSS_EPARSE;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || end == s)
		return ABYSS_EPARSE;
	while (isspace((unsigned char)*end))
		end++;
	if (*end)
		return ABYSS_EPARSE;
	*out = x;
	return ABYSS_OK;
}

int hole__json_num(const json_t *v, double *out)
{
	if (json_is_null(v)) {
		*out = NAN;
		return ABYSS_OK;
	}
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return ABYSS_OK;
	}
	return ABYSS_EPARSE;
}

void hole__strip_copy(char *buf, size_t n, const char *s)
{
	size_t len;

	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len >= n)
		len = n - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
}

/* ---- one message -------------------------------------------------------- */

void abyss_msg_free(struct abyss_msg *m)
{
	if (!m)
		return;
	json_decref(m->root);
	free(m->topic);
	free(m);
}

int abyss_msg_peek(const char *topic, const char *payload, size_t len,
		   const struct abyss_msg_limits *lim,
		   struct abyss_msg_head *out)
{
	struct abyss_msg_limits def = abyss_msg_limits_default();
	struct hole__json_scan sc;
	char ts[64];

	if (!topic || (!payload && len) || !out)
		return ABYSS_EINVAL;
	if (!lim)
		lim = &def;
	/* the same checks, in the same order, as parse and json_load */
	if (len == 0 || len > lim->max_payload_bytes ||
	    !hole__json_scan(payload, len, lim->max_depth, lim->max_array_len,
			     &sc) ||
	    !sc.has_payload || !sc.ts || sc.ts_len >= sizeof(ts))
		return ABYSS_EAGAIN;
	memcpy(ts, sc.ts, sc.ts_len);
	ts[sc.ts_len] = '\0';
	if (abyss_parse_timestamp(ts, &out->timestamp_s) != 0)
		return ABYSS_EAGAIN;
	out->kind = abyss_msg_classify(topic, lim->topics);
	if (abyss_msg_tool_key(topic, out->tool_key, sizeof(out->tool_key)) !=
	    0)
		out->tool_key[0] = '\0';
	return 0;
}

int abyss_msg_parse(const char *topic, const char *payload, size_t len,
		    const struct abyss_msg_limits *lim, struct abyss_msg **out,
		    struct abyss_diag *diag)
{
	struct abyss_msg_limits def = abyss_msg_limits_default();
	struct abyss_msg *m;
	json_t *root, *msgs, *pl, *ts;
	size_t tlen;
	int rc;

	if (!topic || (!payload && len) || !out)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_msg_parse: NULL argument");
	if (!lim)
		lim = &def;
	rc = hole__json_load(payload, len, lim, &root, diag);
	if (rc)
		return rc;
	msgs = json_object_get(root, "Messages");
	pl = json_is_object(msgs) ? json_object_get(msgs, "Payload") : NULL;
	if (!json_is_object(pl)) {
		json_decref(root);
		return abyss_diag_set(diag, ABYSS_EMISSING, 0, 0,
				      "no \"Messages\": {\"Payload\": {...}} "
				      "object in the message");
	}
	m = calloc(1, sizeof(*m));
	tlen = strlen(topic);
	if (!m || !(m->topic = malloc(tlen + 1))) {
		free(m);
		json_decref(root);
		return abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
				      "out of memory");
	}
	memcpy(m->topic, topic, tlen + 1);
	m->root = root;
	m->payload = pl;
	m->kind = abyss_msg_classify(topic, lim->topics);
	/* a topic without levels 2 and 3 simply has no tool key */
	if (abyss_msg_tool_key(topic, m->tool_key, sizeof(m->tool_key)) != 0)
		m->tool_key[0] = '\0';

	ts = hole__find_key(root, "SourceTimestamp");
	if (!ts) {
		abyss_msg_free(m);
		return abyss_diag_set(diag, ABYSS_EMISSING, 0, 0,
				      "no SourceTimestamp in the message");
	}
	if (!json_is_string(ts) ||
	    abyss_parse_timestamp(json_string_value(ts), &m->timestamp_s)) {
		abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
			       "SourceTimestamp %s%.40s%s is not "
			       "YYYY-MM-DDTHH:MM:SS[.fff]Z",
			       json_is_string(ts) ? "\"" : "(not a string) ",
			       json_is_string(ts) ? json_string_value(ts) : "",
			       json_is_string(ts) ? "\"" : "");
		abyss_msg_free(m);
		return ABYSS_EPARSE;
	}
	*out = m;
	return ABYSS_OK;
}

static int py_number(const json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return 1;
	}
	if (json_is_boolean(v)) {
		*out = json_is_true(v) ? 1.0 : 0.0;
		return 1;
	}
	return 0;
}

static int same_json(const json_t *a, const json_t *b)
{
	char sa[ABYSS_ID_MAX * 4], sb[ABYSS_ID_MAX * 4];
	const char *k;
	json_t *v;
	double x, y;
	size_t i;

	if (json_is_object(a) || json_is_object(b)) {
		if (!json_is_object(a) || !json_is_object(b) ||
		    json_object_size(a) != json_object_size(b))
			return 0;
		/* same size + every key of a in b = same key set */
		json_object_foreach((json_t *)a, k, v)
		{
			json_t *w = json_object_get(b, k);
			if (!w || !same_json(v, w))
				return 0;
		}
		return 1;
	}
	if (json_is_array(a) || json_is_array(b)) {
		if (!json_is_array(a) || !json_is_array(b) ||
		    json_array_size(a) != json_array_size(b))
			return 0;
		for (i = 0; i < json_array_size(a); i++)
			if (!same_json(json_array_get(a, i),
				       json_array_get(b, i)))
				return 0;
		return 1;
	}
	if (py_number(a, &x) && py_number(b, &y))
		return fabs(x - y) < 1e-10;
	if (json_is_string(a) && json_is_string(b))
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b),
			      json_string_length(a)) == 0;
	/* mixed scalars: Python compares str(a) == str(b) */
	if (json_is_null(a) || json_is_null(b))
		return json_is_null(a) && json_is_null(b);
	if (hole__json_str(a, sa, sizeof(sa)) ||
	    hole__json_str(b, sb, sizeof(sb)))
		return 0;
	return strcmp(sa, sb) == 0;
}

int abyss_msg_same_data(const struct abyss_msg *a, const struct abyss_msg *b)
{
	if (!a || !b || !a->root || !b->root)
		return 0;
	return same_json(a->root, b->root);
}

/* ---- messages -> hole --------------------------------------------------- */

/* A required payload field: absent key or Value -> EMISSING naming it. */
static json_t *need(const struct abyss_msg *m, const char *sub, int *rc,
		    struct abyss_diag *diag)
{
	const char *key;
	json_t *v = hole__payload_value(m->payload, sub, 0, &key);

	if (!v) {
		*rc = abyss_diag_set(diag, ABYSS_EMISSING, 0, 0,
				     key ? "%s key \"%.300s\" has no Value"
					 : "%s message has no key containing "
					   "\"%.300s\"",
				     abyss_msg_kind_name(m->kind),
				     key ? key : sub);
	}
	return v;
}

/* Element i of a scalar-or-array value, NULL past the end. */
static json_t *elem(json_t *v, size_t i)
{
	if (json_is_array(v))
		return json_array_get(v, i);
	return i == 0 ? v : NULL;
}

static size_t count(json_t *v)
{
	if (!v)
		return 0;
	return json_is_array(v) ? json_array_size(v) : 1;
}

static int to_int32(json_t *e, int32_t *out)
{
	double d;

	if (json_is_integer(e)) {
		json_int_t x = json_integer_value(e);
		if (x < INT32_MIN || x > INT32_MAX)
			return ABYSS_EPARSE;
		*out = (int32_t)x;
		return ABYSS_OK;
	}
	if (json_is_real(e)) {
		d = json_real_value(e);
		/* data2 sends steps as 0.0, 1.0, ... */
		if (!(d >= INT32_MIN && d <= INT32_MAX) || d != floor(d))
			return ABYSS_EPARSE;
		*out = (int32_t)d;
		return ABYSS_OK;
	}
	return ABYSS_EPARSE;
}

static int to_u32(json_t *e, uint32_t *out)
{
	int32_t v;

	if (json_is_null(e)) {
		*out = 0;
		return ABYSS_OK;
	}
	if (json_is_integer(e) && json_integer_value(e) >= 0 &&
	    json_integer_value(e) <= (json_int_t)UINT32_MAX) {
		*out = (uint32_t)json_integer_value(e);
		return ABYSS_OK;
	}
	if (to_int32(e, &v) || v < 0)
		return ABYSS_EPARSE;
	*out = (uint32_t)v;
	return ABYSS_OK;
}

/* Fills a per-step double field from an optional scalar-or-array value. */
static int step_doubles(json_t *v, struct abyss_hole *h, size_t off,
			const char *what, struct abyss_diag *diag)
{
	size_t i, n = count(v);
	double x;

	for (i = 0; i < n && i < h->nsteps; i++) {
		if (hole__json_num(elem(v, i), &x))
			return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
					      "Result %s[%zu] is not a number",
					      what, i);
		memcpy((char *)&h->steps[i] + off, &x, sizeof(x));
	}
	return ABYSS_OK;
}

/* A Trace array of numbers (null -> NaN) into dst[0..n). */
static int trace_doubles(json_t *v, double *dst, size_t n, const char *what,
			 struct abyss_diag *diag)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (hole__json_num(json_array_get(v, i), &dst[i]))
			return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
					      "Trace %s[%zu] is not a number",
					      what, i);
	return ABYSS_OK;
}

struct opt_step_field {
	const char *sub;
	size_t off;
	const char *what;
};

static const struct opt_step_field opt_step_fields[] = {
    {"StepResultValues.Duration",
     offsetof(struct abyss_step_result, duration_s), "Duration"},
    {"StepResultValues.M1Distance",
     offsetof(struct abyss_step_result, distance_m1_mm), "M1Distance"},
    {"StepResultValues.M2Distance",
     offsetof(struct abyss_step_result, distance_m2_mm), "M2Distance"},
    {"StepResultValues.M1MaxAmperage",
     offsetof(struct abyss_step_result, m1_max_a), "M1MaxAmperage"},
    {"StepResultValues.M2MaxAmperage",
     offsetof(struct abyss_step_result, m2_max_a), "M2MaxAmperage"},
    {"StepResultValues.GapMax", offsetof(struct abyss_step_result, gap_max_mm),
     "GapMax"},
};

static void head_id_from(const struct abyss_msg *heads,
			 const struct abyss_data_ids *ids, char *buf, size_t n)
{
	json_t *v;
	char tmp[ABYSS_ID_MAX];

	buf[0] = '\0';
	if (!heads)
		return;
	v = hole__payload_value(heads->payload, ids->head_id, 0, NULL);
	if (json_is_array(v))
		v = json_array_get(v, 0);
	/* the original turns any problem here into "no head id" */
	if (v && hole__json_str(v, tmp, sizeof(tmp)) == 0)
		hole__strip_copy(buf, n, tmp);
}

static int build(const struct abyss_msg *result, const struct abyss_msg *trace,
		 const struct abyss_msg *heads,
		 const struct abyss_data_ids *ids, struct abyss_hole *h,
		 struct abyss_diag *diag)
{
	json_t *serial, *rid, *svals, *tq_e, *th_e, *stop;
	json_t *pos, *tq, *th, *stp, *pw, *gap;
	size_t n, ns, i, j;
	int64_t local;
	int rc = ABYSS_OK;

	/* Result part */
	if (!(serial = need(result, ids->machine_id, &rc, diag)) ||
	    !(rid = need(result, ids->result_id, &rc, diag)) ||
	    !(svals = need(result, ids->step_vals, &rc, diag)) ||
	    !(tq_e = need(result, ids->torque_empty_vals, &rc, diag)) ||
	    !(th_e = need(result, ids->thrust_empty_vals, &rc, diag)))
		return rc;
	stop = hole__payload_value(result->payload, "StepResultValues.StopCode",
				   0, NULL);
	/* Trace part */
	if (!(pos = need(trace, ids->position, &rc, diag)) ||
	    !(tq = need(trace, ids->torque, &rc, diag)) ||
	    !(th = need(trace, ids->thrust, &rc, diag)) ||
	    !(stp = need(trace, ids->step, &rc, diag)))
		return rc;
	pw = hole__payload_value(
	    trace->payload, "PowerTrace.StepTraceContent[0].Values", 0, NULL);
	gap = hole__payload_value(trace->payload,
				  "GapLengthTrace.StepTraceContent[0].Values",
				  0, NULL);
	if (!json_is_array(pos) || !json_is_array(tq) || !json_is_array(th) ||
	    !json_is_array(stp))
		return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
				      "Trace position/torque/thrust/step "
				      "Values must be arrays");
	n = json_array_size(pos);
	if (json_array_size(tq) != n || json_array_size(th) != n ||
	    json_array_size(stp) != n)
		return abyss_diag_set(
		    diag, ABYSS_EPARSE, 0, 0,
		    "Trace arrays differ in length: position %zu, torque %zu, "
		    "thrust %zu, step %zu",
		    n, json_array_size(tq), json_array_size(th),
		    json_array_size(stp));
	if (n == 0)
		return abyss_diag_set(diag, ABYSS_ENODATA, 0, 0,
				      "Trace has no samples");
	ns = count(svals);
	if (ns > ABYSS_MSG_MAX_STEPS)
		return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
				      "Result has %zu step results, more than "
				      "%d",
				      ns, ABYSS_MSG_MAX_STEPS);

	rc = abyss_hole_alloc(h, n, ns);
	if (rc)
		return abyss_diag_set(diag, rc, 0, 0,
				      "cannot allocate %zu samples", n);

	rc = hole__json_str(serial, h->machine_id, sizeof(h->machine_id));
	if (rc)
		return abyss_diag_set(diag, rc, 0, 0,
				      "Result SerialNumber cannot be used as "
				      "an id (null, object, array or too "
				      "long)");
	/* local = int(ResultId) and result_id = str(local), as the
	 * original (its tests pin both) */
	if (hole__json_int(rid, &local))
		return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
				      "Result ResultId is not an integer");
	h->local = local;
	snprintf(h->result_id, sizeof(h->result_id), "%lld", (long long)local);

	for (i = 0; i < ns; i++) {
		if (to_int32(elem(svals, i), &h->steps[i].step))
			return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
					      "Result StepNumber[%zu] is not "
					      "an integer",
					      i);
		if (i < count(stop) &&
		    to_u32(elem(stop, i), &h->steps[i].stop_code))
			return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
					      "Result StopCode[%zu] is not a "
					      "non-negative integer",
					      i);
	}
	rc = step_doubles(tq_e, h,
			  offsetof(struct abyss_step_result, torque_empty_a),
			  "IntensityTorqueEmpty", diag);
	if (!rc)
		rc = step_doubles(
		    th_e, h, offsetof(struct abyss_step_result, thrust_empty_a),
		    "IntensityThrustEmpty", diag);
	for (j = 0;
	     !rc && j < sizeof(opt_step_fields) / sizeof(opt_step_fields[0]);
	     j++)
		rc = step_doubles(
		    hole__payload_value(result->payload, opt_step_fields[j].sub,
					0, NULL),
		    h, opt_step_fields[j].off, opt_step_fields[j].what, diag);
	if (rc)
		return rc;

	if ((rc = trace_doubles(pos, h->position_mm, n, "position", diag)) ||
	    (rc = trace_doubles(tq, h->torque_a, n, "torque", diag)) ||
	    (rc = trace_doubles(th, h->thrust_a, n, "thrust", diag)))
		return rc;
	for (i = 0; i < n; i++)
		if (to_int32(json_array_get(stp, i), &h->step[i]))
			return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
					      "Trace step[%zu] is not an "
					      "integer",
					      i);
	/* optional channels: a broken one is dropped, not fatal (the
	 * original never read them) */
	if (json_is_array(pw) && json_array_size(pw) == n &&
	    trace_doubles(pw, h->power_w, n, "power", NULL) != 0)
		for (i = 0; i < n; i++)
			h->power_w[i] = NAN;
	if (json_is_array(gap) && json_array_size(gap) == n &&
	    trace_doubles(gap, h->gap_mm, n, "gap", NULL) != 0)
		for (i = 0; i < n; i++)
			h->gap_mm[i] = NAN;

	/* the original's outer join on step: each sample gets its step's
	 * no-load currents (the first table row of that step) */
	for (i = 0; i < n; i++) {
		for (j = 0; j < ns; j++)
			if (h->steps[j].step == h->step[i])
				break;
		if (j < ns) {
			h->torque_empty_a[i] = h->steps[j].torque_empty_a;
			h->thrust_empty_a[i] = h->steps[j].thrust_empty_a;
		}
	}

	head_id_from(heads, ids, h->head_id, sizeof(h->head_id));
	snprintf(h->tool_key, sizeof(h->tool_key), "%s", result->tool_key);
	snprintf(h->source_name, sizeof(h->source_name), "%s", result->topic);
	h->timestamp_s = result->timestamp_s;
	h->predrilled = 1;
	h->source = ABYSS_SOURCE_MQTT;
	return ABYSS_OK;
}

int abyss_hole_from_msgs(const struct abyss_msg *result,
			 const struct abyss_msg *trace,
			 const struct abyss_msg *heads,
			 const struct abyss_data_ids *ids, struct abyss_hole *h,
			 struct abyss_diag *diag)
{
	struct abyss_data_ids def;
	struct abyss_hole tmp;
	int rc;

	if (!h)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_hole_from_msgs: NULL hole");
	if (!result || !trace || result->kind != ABYSS_MSG_RESULT ||
	    trace->kind != ABYSS_MSG_TRACE ||
	    (heads && heads->kind != ABYSS_MSG_HEADS)) {
		abyss_hole_free(h);
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_hole_from_msgs needs a Result "
				      "and a Trace message (and optionally "
				      "Heads)");
	}
	if (!ids) {
		def = abyss_data_ids_default();
		ids = &def;
	}
	abyss_hole_init(&tmp);
	rc = build(result, trace, heads, ids, &tmp, diag);
	abyss_hole_free(h);
	if (rc) {
		abyss_hole_free(&tmp);
		return rc;
	}
	*h = tmp;
	return ABYSS_OK;
}

/* ---- test folders ------------------------------------------------------- */

static int join(char *buf, size_t n, const char *dir, const char *name)
{
	size_t l = strlen(dir);
	int w = snprintf(buf, n, "%s%s%s", dir,
			 l && dir[l - 1] == '/' ? "" : "/", name);

	return w < 0 || (size_t)w >= n ? -1 : 0;
}

static int load_msg(const char *dir, const char *name, const char *topic,
		    struct abyss_msg **out, struct abyss_diag *diag)
{
	struct abyss_msg_limits lim = abyss_msg_limits_default();
	char path[4096];
	char *buf;
	size_t len;
	int rc;

	if (join(path, sizeof(path), dir, name))
		return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
				      "path too long");
	rc = common__read_file(path, lim.max_payload_bytes, &buf, &len, diag);
	if (rc)
		return rc;
	rc = abyss_msg_parse(topic, buf, len, &lim, out, diag);
	free(buf);
	return rc;
}

static int exists(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;

	if (join(path, sizeof(path), dir, name))
		return 0;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int abyss_hole_from_msg_folder(const char *dir,
			       const struct abyss_data_ids *ids,
			       struct abyss_hole *h, struct abyss_diag *diag)
{
	struct abyss_topics t = abyss_topics_default();
	struct abyss_msg *r = NULL, *tr = NULL, *hd = NULL;
	char base[ABYSS_ID_MAX], topic[3 * ABYSS_ID_MAX];
	const char *rname, *b;
	size_t blen;
	int rc;

	if (!dir || !h)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_hole_from_msg_folder: NULL "
				      "argument");
	/* basename without trailing slashes, as the tool id */
	blen = strlen(dir);
	while (blen > 1 && dir[blen - 1] == '/')
		blen--;
	b = dir + blen;
	while (b > dir && b[-1] != '/')
		b--;
	snprintf(base, sizeof(base), "%.*s", (int)(dir + blen - b), b);
	if (!base[0] || strchr(base, '/'))
		snprintf(base, sizeof(base), "local");

	rname = exists(dir, "Result.json") ? "Result.json"
					   : "ResultManagement.json";
	snprintf(topic, sizeof(topic), "%s/folder/%s/%s", t.root, base,
		 t.result);
	rc = load_msg(dir, rname, topic, &r, diag);
	if (!rc) {
		snprintf(topic, sizeof(topic), "%s/folder/%s/%s", t.root, base,
			 t.trace);
		rc = load_msg(dir, "Trace.json", topic, &tr, diag);
	}
	if (!rc && exists(dir, "Heads.json")) {
		snprintf(topic, sizeof(topic), "%s/folder/%s/%s", t.root, base,
			 t.heads);
		rc = load_msg(dir, "Heads.json", topic, &hd, diag);
	}
	if (!rc) {
		abyss_diag_set_file(diag, dir);
		rc = abyss_hole_from_msgs(r, tr, hd, ids, h, diag);
		if (!rc)
			snprintf(h->source_name, sizeof(h->source_name), "%s",
				 dir);
	} else {
		abyss_hole_free(h);
	}
	abyss_msg_free(r);
	abyss_msg_free(tr);
	abyss_msg_free(hd);
	return rc;
}
