/*
 * write.c - a hole record out: JSON (schema abyss.hole/1), CSV, and the
 * drills' MQTT Result/Trace/Heads messages (§3.2-3.5), plus the shortest
 * round-trip float formatting in Python's repr() layout.
 *
 * Messages are rendered by hand into a bounded buffer rather than through
 * jansson, so that key order, float text and size limits are ours to
 * control. Reading them back is mqtt.c's job; this file never parses.
 */
#include "abyss/hole_io.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/message.h"

/* ---- floats ------------------------------------------------------------- */

int abyss_fmt_double(char *buf, size_t n, double v)
{
	char tmp[40], digits[24], out[ABYSS_FMT_DOUBLE_MAX + 8];
	const char *p;
	int prec, exp10, nd = 0, len = 0, i;
	int neg;

	if (!buf || n == 0)
		return ABYSS_ETOOBIG;
	buf[0] = '\0';
	if (isnan(v))
		len = snprintf(out, sizeof(out), "NaN");
	else if (isinf(v))
		len =
		    snprintf(out, sizeof(out), "%sInfinity", v < 0 ? "-" : "");
	else {
		/* fewest significant digits (15..17) that read back exactly;
		 * %.{p-1}e gives them with an explicit exponent */
		/* for normal numbers 15 digits, trailing zeros stripped, is
		 * already the shortest when 15 suffice; subnormals have
		 * fewer significant bits, so search from 1 there */
		for (prec = fabs(v) < DBL_MIN && v != 0.0 ? 1 : 15; prec <= 17;
		     prec++) {
			snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
			if (strtod(tmp, NULL) == v)
				break;
		}
		p = tmp;
		neg = *p == '-';
		if (neg)
			p++;
		for (; *p && *p != 'e'; p++)
			if (*p >= '0' && *p <= '9' && nd < 20)
				digits[nd++] = *p;
		exp10 = (int)strtol(p + 1, NULL, 10);
		while (nd > 1 && digits[nd - 1] == '0')
			nd--;
		digits[nd] = '\0';
		if (neg)
			out[len++] = '-';
		if (exp10 >= -4 && exp10 < 16) {
			/* Python repr: positional, always with a '.' */
			if (exp10 < 0) {
				out[len++] = '0';
				out[len++] = '.';
				for (i = 0; i < -exp10 - 1; i++)
					out[len++] = '0';
				for (i = 0; i < nd; i++)
					out[len++] = digits[i];
			} else {
				for (i = 0; i <= exp10; i++)
					out[len++] = i < nd ? digits[i] : '0';
				out[len++] = '.';
				if (nd > exp10 + 1)
					for (i = exp10 + 1; i < nd; i++)
						out[len++] = digits[i];
				else
					out[len++] = '0';
			}
			out[len] = '\0';
		} else {
			out[len++] = digits[0];
			if (nd > 1) {
				out[len++] = '.';
				for (i = 1; i < nd; i++)
					out[len++] = digits[i];
			}
			len += snprintf(out + len, sizeof(out) - (size_t)len,
					"e%c%02d", exp10 < 0 ? '-' : '+',
					exp10 < 0 ? -exp10 : exp10);
		}
	}
	if ((size_t)len >= n)
		return ABYSS_ETOOBIG;
	memcpy(buf, out, (size_t)len + 1);
	return len;
}

/* ---- a bounded growing buffer (curl's dynbuf idea) ---------------------- */

struct wbuf {
	char *p;
	size_t len, cap, max;
	int err; /* first error; later appends are no-ops */
};

static void wb_init(struct wbuf *b, size_t max)
{
	b->p = NULL;
	b->len = b->cap = 0;
	b->max = max;
	b->err = 0;
}

static int wb_reserve(struct wbuf *b, size_t extra)
{
	size_t need, ncap;
	char *np;

	if (b->err)
		return b->err;
	if (extra > b->max || b->len + extra + 1 > b->max) {
		b->err = ABYSS_ETOOBIG;
		return b->err;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 4096;
	while (ncap < need)
		ncap = ncap > b->max / 2 ? b->max : ncap * 2;
	np = realloc(b->p, ncap);
	if (!np) {
		b->err = ABYSS_ENOMEM;
		return b->err;
	}
	b->p = np;
	b->cap = ncap;
	return 0;
}

static void wb_add(struct wbuf *b, const char *s, size_t n)
{
	if (wb_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void wb_puts(struct wbuf *b, const char *s)
{
	wb_add(b, s, strlen(s));
}

static void wb_printf(struct wbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void wb_printf(struct wbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		if (!b->err)
			b->err = ABYSS_ETOOBIG;
		return;
	}
	wb_add(b, tmp, (size_t)n);
}

/* The body of a JSON string literal, with the escapes RFC 8259 requires. */
static void wb_jbody(struct wbuf *b, const char *s)
{
	char esc[8];

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			wb_add(b, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			wb_add(b, esc, 6);
		} else {
			wb_add(b, s, 1);
		}
	}
}

static void wb_jstr(struct wbuf *b, const char *s)
{
	wb_add(b, "\"", 1);
	wb_jbody(b, s);
	wb_add(b, "\"", 1);
}

/* A double as JSON: shortest round-trip text, null for NaN/inf. */
static void wb_num(struct wbuf *b, double v)
{
	char tmp[ABYSS_FMT_DOUBLE_MAX];

	if (!isfinite(v)) {
		wb_add(b, "null", 4);
		return;
	}
	abyss_fmt_double(tmp, sizeof(tmp), v);
	wb_puts(b, tmp);
}

/* 1 when s is a canonical decimal integer that fits in int64 ("0", "2409",
 * not "007", "", "+1"), so that writing it as a JSON number and reading it
 * back with str() gives s again. */
static int canonical_int(const char *s)
{
	const char *p = s;
	size_t nd;

	if (*p == '-')
		p++;
	nd = strspn(p, "0123456789");
	if (nd == 0 || p[nd] != '\0' || nd > 18)
		return 0;
	if (nd > 1 && p[0] == '0')
		return 0;
	return !(s[0] == '-' && p[0] == '0');
}

/* 1 when int() of s works as the decoder does it: blanks, an optional
 * sign, decimal digits that fit in int64, blanks. */
static int int_string(const char *s)
{
	char *end;
	long long v;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '+'))
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	(void)v;
	if (errno || end == s)
		return 0;
	while (*end == ' ' || *end == '\t')
		end++;
	return *end == '\0';
}

static void wb_id(struct wbuf *b, const char *s)
{
	if (canonical_int(s))
		wb_puts(b, s);
	else
		wb_jstr(b, s);
}

/* ---- JSON and CSV ------------------------------------------------------- */

static const char *source_name(enum abyss_hole_source s)
{
	switch (s) {
	case ABYSS_SOURCE_SETITEC:
		return "setitec";
	case ABYSS_SOURCE_MQTT:
		return "mqtt";
	case ABYSS_SOURCE_LEGACY:
		return "legacy";
	case ABYSS_SOURCE_SIM:
		return "sim";
	default:
		return "none";
	}
}

static int flush_wb(struct wbuf *b, FILE *f)
{
	int rc = b->err;

	if (!rc && b->len && fwrite(b->p, 1, b->len, f) != b->len)
		rc = ABYSS_EIO;
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
	return rc;
}

static int json_array_d(struct wbuf *b, FILE *f, const char *name,
			const double *v, size_t n)
{
	size_t i;
	int rc;

	wb_printf(b, ",\n    \"%s\": [", name);
	for (i = 0; i < n; i++) {
		if (i)
			wb_add(b, ",", 1);
		wb_num(b, v[i]);
		/* stream in chunks: the buffer stays small for any n */
		if (b->len > 60000 && (rc = flush_wb(b, f)) != 0)
			return rc;
	}
	wb_add(b, "]", 1);
	return b->err;
}

int abyss_hole_write_json(const struct abyss_hole *h, FILE *f)
{
	struct wbuf b;
	char ts[40];
	size_t i;
	int rc;

	if (!h || !f)
		return ABYSS_EINVAL;
	wb_init(&b, (size_t)1 << 20);
	wb_puts(&b, "{\n  \"schema\": \"abyss.hole/1\",\n  \"source\": ");
	wb_jstr(&b, source_name(h->source));
	wb_puts(&b, ",\n  \"source_name\": ");
	wb_jstr(&b, h->source_name);
	wb_puts(&b, ",\n  \"machine_id\": ");
	wb_jstr(&b, h->machine_id);
	wb_puts(&b, ",\n  \"result_id\": ");
	wb_jstr(&b, h->result_id);
	wb_puts(&b, ",\n  \"head_id\": ");
	wb_jstr(&b, h->head_id);
	wb_puts(&b, ",\n  \"tool_key\": ");
	wb_jstr(&b, h->tool_key);
	wb_printf(&b, ",\n  \"local\": %" PRId64 ",\n  \"predrilled\": %d",
		  h->local, h->predrilled);
	wb_puts(&b, ",\n  \"timestamp\": ");
	if (abyss_format_timestamp(h->timestamp_s, ts, sizeof(ts)) == 0)
		wb_jstr(&b, ts);
	else
		wb_puts(&b, "null");
	wb_puts(&b, ",\n  \"timestamp_s\": ");
	wb_num(&b, h->timestamp_s);
	wb_printf(&b,
		  ",\n  \"file_version\": %d,\n  \"float32_origin\": %d,\n"
		  "  \"n\": %zu,\n  \"steps\": [",
		  h->file_version, h->float32_origin, h->n);
	for (i = 0; i < h->nsteps; i++) {
		const struct abyss_step_result *s = &h->steps[i];
		wb_printf(&b,
			  "%s\n    {\"step\": %" PRId32
			  ", \"stop_code\": %" PRIu32,
			  i ? "," : "", s->step, s->stop_code);
		wb_puts(&b, ", \"torque_empty_a\": ");
		wb_num(&b, s->torque_empty_a);
		wb_puts(&b, ", \"thrust_empty_a\": ");
		wb_num(&b, s->thrust_empty_a);
		wb_puts(&b, ", \"duration_s\": ");
		wb_num(&b, s->duration_s);
		wb_puts(&b, ", \"distance_m1_mm\": ");
		wb_num(&b, s->distance_m1_mm);
		wb_puts(&b, ", \"distance_m2_mm\": ");
		wb_num(&b, s->distance_m2_mm);
		wb_puts(&b, ", \"m1_max_a\": ");
		wb_num(&b, s->m1_max_a);
		wb_puts(&b, ", \"m2_max_a\": ");
		wb_num(&b, s->m2_max_a);
		wb_puts(&b, ", \"gap_max_mm\": ");
		wb_num(&b, s->gap_max_mm);
		wb_puts(&b, "}");
	}
	wb_puts(&b, h->nsteps ? "\n  ],\n  \"samples\": {\n    \"step\": ["
			      : "],\n  \"samples\": {\n    \"step\": [");
	for (i = 0; i < h->n && !b.err; i++) {
		wb_printf(&b, "%s%" PRId32, i ? "," : "", h->step[i]);
		if (b.len > 60000 && (rc = flush_wb(&b, f)) != 0)
			goto out;
	}
	wb_puts(&b, "],\n    \"stop_code\": [");
	for (i = 0; i < h->n && !b.err; i++) {
		wb_printf(&b, "%s%" PRIu32, i ? "," : "", h->stop_code[i]);
		if (b.len > 60000 && (rc = flush_wb(&b, f)) != 0)
			goto out;
	}
	wb_puts(&b, "]");
	if ((rc = json_array_d(&b, f, "position_mm", h->position_mm, h->n)) ||
	    (rc = json_array_d(&b, f, "torque_a", h->torque_a, h->n)) ||
	    (rc = json_array_d(&b, f, "thrust_a", h->thrust_a, h->n)) ||
	    (rc = json_array_d(&b, f, "torque_empty_a", h->torque_empty_a,
			       h->n)) ||
	    (rc = json_array_d(&b, f, "thrust_empty_a", h->thrust_empty_a,
			       h->n)) ||
	    (rc = json_array_d(&b, f, "power_w", h->power_w, h->n)) ||
	    (rc = json_array_d(&b, f, "gap_mm", h->gap_mm, h->n)))
		goto out;
	wb_puts(&b, "\n  }\n}\n");
	rc = flush_wb(&b, f);
	if (!rc && fflush(f) != 0)
		rc = ABYSS_EIO;
out:
	free(b.p);
	return rc;
}

static void csv_num(struct wbuf *b, double v)
{
	wb_add(b, ",", 1);
	if (isfinite(v))
		wb_num(b, v);
}

int abyss_hole_write_csv(const struct abyss_hole *h, FILE *f)
{
	struct wbuf b;
	size_t i;
	int rc = 0;

	if (!h || !f)
		return ABYSS_EINVAL;
	wb_init(&b, (size_t)1 << 20);
	wb_puts(&b, "index,position_mm,torque_a,thrust_a,torque_empty_a,"
		    "thrust_empty_a,power_w,gap_mm,step,stop_code\n");
	for (i = 0; i < h->n; i++) {
		wb_printf(&b, "%zu", i);
		csv_num(&b, h->position_mm[i]);
		csv_num(&b, h->torque_a[i]);
		csv_num(&b, h->thrust_a[i]);
		csv_num(&b, h->torque_empty_a[i]);
		csv_num(&b, h->thrust_empty_a[i]);
		csv_num(&b, h->power_w[i]);
		csv_num(&b, h->gap_mm[i]);
		wb_printf(&b, ",%" PRId32 ",%" PRIu32 "\n", h->step[i],
			  h->stop_code[i]);
		if (b.len > 60000 && (rc = flush_wb(&b, f)) != 0)
			break;
	}
	if (!rc)
		rc = flush_wb(&b, f);
	if (!rc && fflush(f) != 0)
		rc = ABYSS_EIO;
	free(b.p);
	return rc;
}

/* ---- MQTT messages ------------------------------------------------------ */

struct abyss_msg_write_opts abyss_msg_write_opts_default(void)
{
	struct abyss_msg_write_opts o;

	o.ns = "http://airbus.com/IJT/ADrilling";
	o.device = "abyss";
	o.publisher_id = "abyss";
	o.measured_value = 0;
	o.sequence_number = 1;
	o.max_bytes = (size_t)64 << 20;
	return o;
}

/* Writes `"nsu=<ns>;s=Objects.DeviceSet.<device>.<path>": {"Value": ` and
 * leaves the value to the caller; entry_end closes it. */
struct msgctx {
	struct wbuf b;
	const struct abyss_msg_write_opts *o;
	const char *ts;
	int nentries;
};

static void entry_begin(struct msgctx *c, const char *path, const char *sfx)
{
	struct wbuf *b = &c->b;

	wb_puts(b, c->nentries++ ? ",\n      \"" : "\n      \"");
	/* ns and device come from users: keep the key a valid string */
	wb_puts(b, "nsu=");
	wb_jbody(b, c->o->ns);
	wb_puts(b, ";s=Objects.DeviceSet.");
	wb_jbody(b, c->o->device);
	wb_printf(b, ".%s%s\": {\"Value\": ", path, sfx ? sfx : "");
}

static void entry_end(struct msgctx *c)
{
	wb_puts(&c->b, ", \"SourceTimestamp\": ");
	wb_jstr(&c->b, c->ts);
	wb_puts(&c->b, "}");
}

/* FNV-1a, for a deterministic UUID-shaped MessageId. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void envelope_begin(struct msgctx *c, const struct abyss_hole *h,
			   const char *kind)
{
	uint64_t a = 1469598103934665603ULL, b2;
	struct wbuf *b = &c->b;

	a = fnv1a(a, kind, strlen(kind));
	a = fnv1a(a, h->machine_id, strlen(h->machine_id));
	a = fnv1a(a, h->result_id, strlen(h->result_id));
	a = fnv1a(a, c->ts, strlen(c->ts));
	b2 = fnv1a(a ^ 0x9e3779b97f4a7c15ULL, &h->n, sizeof(h->n));
	wb_printf(b,
		  "{\n  \"MessageId\": \"%08" PRIx32 "-%04" PRIx32
		  "-4%03" PRIx32 "-%04" PRIx32 "-%012" PRIx64 "\",\n",
		  (uint32_t)(a >> 32), (uint32_t)(a >> 16) & 0xffff,
		  (uint32_t)a & 0xfff,
		  (uint32_t)(0x8000 | ((b2 >> 48) & 0x3fff)),
		  (uint64_t)(b2 & 0xffffffffffffULL));
	wb_puts(b, "  \"MessageType\": \"ua-data\",\n  \"PublisherId\": ");
	wb_jstr(b, c->o->publisher_id);
	wb_puts(b, ",\n  \"Messages\": {\n    \"DataSetWriterId\": 1,\n");
	wb_printf(b, "    \"SequenceNumber\": %lld,\n    \"Timestamp\": ",
		  c->o->sequence_number);
	wb_jstr(b, c->ts);
	wb_puts(b, ",\n    \"MessageType\": \"ua-keyframe\",\n"
		   "    \"Payload\": {");
}

static void envelope_end(struct msgctx *c)
{
	wb_puts(&c->b, "\n    }\n  }\n}\n");
}

/* A per-step double field: a scalar for one step, else an array. */
static void step_field(struct msgctx *c, const struct abyss_hole *h,
		       const char *name, size_t off)
{
	const char *sfx = c->o->measured_value ? ".MeasuredValue" : NULL;
	char path[160];
	double v;
	size_t i;

	snprintf(path, sizeof(path),
		 "ResultManagement.Results.0.ResultContent.StepResults.0."
		 "StepResultValues.%s",
		 name);
	entry_begin(c, path, sfx);
	if (h->nsteps != 1)
		wb_add(&c->b, "[", 1);
	for (i = 0; i < h->nsteps; i++) {
		memcpy(&v, (const char *)&h->steps[i] + off, sizeof(v));
		if (i)
			wb_add(&c->b, ", ", 2);
		wb_num(&c->b, v);
	}
	if (h->nsteps != 1)
		wb_add(&c->b, "]", 1);
	entry_end(c);
}

static void step_ints(struct msgctx *c, const struct abyss_hole *h,
		      const char *name, int stop)
{
	const char *sfx = c->o->measured_value ? ".MeasuredValue" : NULL;
	char path[160];
	size_t i;

	snprintf(path, sizeof(path),
		 "ResultManagement.Results.0.ResultContent.StepResults.0."
		 "StepResultValues.%s",
		 name);
	entry_begin(c, path, sfx);
	if (h->nsteps != 1)
		wb_add(&c->b, "[", 1);
	for (i = 0; i < h->nsteps; i++) {
		if (stop)
			wb_printf(&c->b, "%s%" PRIu32, i ? ", " : "",
				  h->steps[i].stop_code);
		else
			wb_printf(&c->b, "%s%" PRId32, i ? ", " : "",
				  h->steps[i].step);
	}
	if (h->nsteps != 1)
		wb_add(&c->b, "]", 1);
	entry_end(c);
}

static int result_msg(const struct abyss_hole *h, struct msgctx *c)
{
	static const struct {
		const char *name;
		size_t off;
	} f[] = {
	    {"M1MaxAmperage", offsetof(struct abyss_step_result, m1_max_a)},
	    {"M2MaxAmperage", offsetof(struct abyss_step_result, m2_max_a)},
	    {"M1Distance", offsetof(struct abyss_step_result, distance_m1_mm)},
	    {"M2Distance", offsetof(struct abyss_step_result, distance_m2_mm)},
	    {"GapMax", offsetof(struct abyss_step_result, gap_max_mm)},
	    {"Duration", offsetof(struct abyss_step_result, duration_s)},
	};
	const char *meta = "ResultManagement.Results.0.ResultMetaData.";
	char path[160];
	size_t i;

	envelope_begin(c, h, "result");
	snprintf(path, sizeof(path), "%sCreationTime", meta);
	entry_begin(c, path, NULL);
	wb_jstr(&c->b, c->ts);
	entry_end(c);
	snprintf(path, sizeof(path), "%sSerialNumber", meta);
	entry_begin(c, path, NULL);
	wb_id(&c->b, h->machine_id);
	entry_end(c);
	snprintf(path, sizeof(path), "%sInternalRecipeType", meta);
	entry_begin(c, path, NULL);
	wb_jstr(&c->b, "Standard");
	entry_end(c);
	step_field(c, h, "IntensityTorqueEmpty",
		   offsetof(struct abyss_step_result, torque_empty_a));
	step_field(c, h, "IntensityThrustEmpty",
		   offsetof(struct abyss_step_result, thrust_empty_a));
	step_ints(c, h, "StopCode", 1);
	snprintf(path, sizeof(path), "%sResultId", meta);
	entry_begin(c, path, NULL);
	wb_id(&c->b, h->result_id[0] ? h->result_id : "0");
	entry_end(c);
	step_ints(c, h, "StepNumber", 0);
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		step_field(c, h, f[i].name, f[i].off);
	envelope_end(c);
	return c->b.err;
}

static void trace_channel(struct msgctx *c, const struct abyss_hole *h,
			  const char *name, const double *d,
			  const int32_t *steps)
{
	char path[200];
	size_t i;

	snprintf(path, sizeof(path),
		 "ResultManagement.Results.0.ResultContent.Trace.StepTraces."
		 "%s.StepResultId",
		 name);
	entry_begin(c, path, NULL);
	wb_id(&c->b, h->result_id[0] ? h->result_id : "0");
	entry_end(c);
	snprintf(path, sizeof(path),
		 "ResultManagement.Results.0.ResultContent.Trace.StepTraces."
		 "%s.SamplingInterval",
		 name);
	entry_begin(c, path, NULL);
	wb_puts(&c->b, "100");
	entry_end(c);
	if (d) { /* PowerTrace without any value: no Values key (2024-12) */
		for (i = 0; i < h->n; i++)
			if (!isnan(d[i]))
				break;
		if (i == h->n && strcmp(name, "PowerTrace") == 0)
			return;
	}
	snprintf(path, sizeof(path),
		 "ResultManagement.Results.0.ResultContent.Trace.StepTraces."
		 "%s.StepTraceContent[0].Values",
		 name);
	entry_begin(c, path, NULL);
	wb_add(&c->b, "[", 1);
	for (i = 0; i < h->n && !c->b.err; i++) {
		if (i)
			wb_add(&c->b, ", ", 2);
		if (d)
			wb_num(&c->b, d[i]);
		else if (steps)
			wb_printf(&c->b, "%" PRId32, steps[i]);
	}
	wb_add(&c->b, "]", 1);
	entry_end(c);
}

static int trace_msg(const struct abyss_hole *h, struct msgctx *c)
{
	envelope_begin(c, h, "trace");
	trace_channel(c, h, "PositionTrace", h->position_mm, NULL);
	trace_channel(c, h, "IntensityTorqueTrace", h->torque_a, NULL);
	trace_channel(c, h, "IntensityThrustTrace", h->thrust_a, NULL);
	trace_channel(c, h, "StepNumberTrace", NULL, h->step);
	trace_channel(c, h, "PowerTrace", h->power_w, NULL);
	trace_channel(c, h, "GapLengthTrace", h->gap_mm, NULL);
	envelope_end(c);
	return c->b.err;
}

static int heads_msg(const struct abyss_hole *h, struct msgctx *c)
{
	envelope_begin(c, h, "heads");
	entry_begin(c,
		    "AssetManagement.Assets.Heads.0.Identification."
		    "SerialNumber",
		    NULL);
	wb_jstr(&c->b, h->head_id);
	entry_end(c);
	envelope_end(c);
	return c->b.err;
}

int abyss_hole_to_msgs(const struct abyss_hole *h,
		       const struct abyss_msg_write_opts *opts,
		       char **result_json, char **trace_json, char **heads_json)
{
	struct abyss_msg_write_opts def = abyss_msg_write_opts_default();
	int (*fn[3])(const struct abyss_hole *,
		     struct msgctx *) = {result_msg, trace_msg, heads_msg};
	char **out[3] = {result_json, trace_json, heads_json};
	char ts[40];
	int i, rc = 0;

	for (i = 0; i < 3; i++)
		if (out[i])
			*out[i] = NULL;
	if (!h || h->n == 0 || !h->position_mm)
		return ABYSS_EINVAL;
	if (!opts)
		opts = &def;
	if (!opts->ns || !opts->device || !opts->publisher_id)
		return ABYSS_EINVAL;
	/* readers take int(ResultId) (§3.11): anything else could not be
	 * read back */
	if (h->result_id[0] && !int_string(h->result_id))
		return ABYSS_EINVAL;
	if (abyss_format_timestamp(isnan(h->timestamp_s) ? 0.0 : h->timestamp_s,
				   ts, sizeof(ts)) != 0)
		abyss_format_timestamp(0.0, ts, sizeof(ts));
	for (i = 0; i < 3 && !rc; i++) {
		struct msgctx c;
		if (!out[i])
			continue;
		wb_init(&c.b, opts->max_bytes);
		c.o = opts;
		c.ts = ts;
		c.nentries = 0;
		rc = fn[i](h, &c);
		if (rc)
			free(c.b.p);
		else
			*out[i] = c.b.p;
	}
	if (rc)
		for (i = 0; i < 3; i++)
			if (out[i]) {
				free(*out[i]);
				*out[i] = NULL;
			}
	return rc;
}
