/*
 * legacy.c - the two other JSON renderings of a hole in the repository
 * (original-system.md §2.6): the legacy single-message MQTT format
 * (dev_data/example-alejandro/data.json) and raw.json, a whole v9 Setitec
 * file as one object per section.
 *
 * Neither is produced by current drills; both are read so that old captures
 * can still be estimated and compared. Nothing here is on the service path.
 */
#include "abyss/message.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hole_json.h"

/* ---- legacy single message ---------------------------------------------- */

static json_t *lv(json_t *payload, const char *suffix)
{
	return hole__payload_value(payload, suffix, 1, NULL);
}

/* A required per-sample array of numbers (null -> NaN) of length n. */
static int sample_array(json_t *v, const char *what, double *dst, size_t n,
			struct abyss_diag *diag)
{
	size_t i;

	if (!json_is_array(v) || json_array_size(v) != n)
		return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
				      "%s must be an array of %zu values", what,
				      n);
	for (i = 0; i < n; i++)
		if (hole__json_num(json_array_get(v, i), &dst[i]))
			return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
					      "%s[%zu] is not a number", what,
					      i);
	return ABYSS_OK;
}

static int int_array(json_t *v, const char *what, int32_t *dst, size_t n,
		     struct abyss_diag *diag)
{
	size_t i;
	double d;

	if (!json_is_array(v) || json_array_size(v) != n)
		return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
				      "%s must be an array of %zu values", what,
				      n);
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(v, i);
		d = json_is_number(e) ? json_number_value(e) : NAN;
		if (d != floor(d) || d < -2147483648.0 || d > 2147483647.0)
			return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
					      "%s[%zu] is not an integer", what,
					      i);
		dst[i] = (int32_t)d;
	}
	return ABYSS_OK;
}

/* The distinct values of step[0..n) in order of first appearance, at most
 * max of them; returns how many. */
static size_t distinct_steps(const int32_t *step, size_t n, int32_t *out,
			     size_t max)
{
	size_t i, j, k = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < k; j++)
			if (out[j] == step[i])
				break;
		if (j == k && k < max)
			out[k++] = step[i];
	}
	return k;
}

#define LEGACY_MAX_STEPS 64

static int legacy_build(json_t *root, struct abyss_hole *h,
			struct abyss_diag *diag)
{
	json_t *msgs = json_object_get(root, "Messages");
	json_t *pl =
	    json_is_object(msgs) ? json_object_get(msgs, "Payload") : NULL;
	json_t *pos, *v, *stop;
	int32_t uniq[LEGACY_MAX_STEPS];
	size_t n, ns, nstop, i;
	int64_t x;
	int rc;

	if (!json_is_object(pl))
		return abyss_diag_set(diag, ABYSS_EMISSING, 0, 0,
				      "no \"Messages\": {\"Payload\": {...}}");
	pos = lv(pl, "StepResultValues.Position");
	if (!json_is_array(pos))
		return abyss_diag_set(diag, ABYSS_EMISSING, 0, 0,
				      "no key ending in "
				      "StepResultValues.Position with an "
				      "array Value");
	n = json_array_size(pos);
	if (n == 0)
		return abyss_diag_set(diag, ABYSS_ENODATA, 0, 0,
				      "StepResultValues.Position is empty");
	stop = lv(pl, "StepResultValues.StopCode");
	nstop = json_is_array(stop) ? json_array_size(stop) : (stop ? 1 : 0);
	if (nstop > LEGACY_MAX_STEPS)
		return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
				      "more than %d StopCode entries",
				      LEGACY_MAX_STEPS);
	/* samples first (steps are derived from them) in a scratch hole */
	rc = abyss_hole_alloc(h, n, 0);
	if (rc)
		return abyss_diag_set(diag, rc, 0, 0,
				      "cannot allocate %zu samples", n);
	if ((rc = sample_array(pos, "Position", h->position_mm, n, diag)) ||
	    (rc = sample_array(lv(pl, "StepResultValues.Torque"), "Torque",
			       h->torque_a, n, diag)) ||
	    (rc = sample_array(lv(pl, "StepResultValues.Thrust"), "Thrust",
			       h->thrust_a, n, diag)) ||
	    (rc = sample_array(lv(pl, "StepResultValues.TorqueEmpty"),
			       "TorqueEmpty", h->torque_empty_a, n, diag)) ||
	    (rc = sample_array(lv(pl, "StepResultValues.ThrustEmpty"),
			       "ThrustEmpty", h->thrust_empty_a, n, diag)))
		return rc;
	/* optional: a missing or odd-sized channel stays NaN / step 0 */
	v = lv(pl, "StepResultValues.StepNb");
	if (v && (rc = int_array(v, "StepNb", h->step, n, diag)))
		return rc;
	v = lv(pl, "StepResultValues.TorquePower");
	if (json_is_array(v) && json_array_size(v) == n &&
	    sample_array(v, "TorquePower", h->power_w, n, NULL))
		for (i = 0; i < n; i++)
			h->power_w[i] = NAN;
	v = lv(pl, "StepResultValues.GapLength");
	if (json_is_array(v) && json_array_size(v) == n &&
	    sample_array(v, "GapLength", h->gap_mm, n, NULL))
		for (i = 0; i < n; i++)
			h->gap_mm[i] = NAN;

	/* step table: one row per StopCode entry, else one per distinct
	 * sample step; step numbers from the samples when they have as many
	 * distinct values, else 0, 1, 2, ... */
	ns = distinct_steps(h->step, n, uniq, LEGACY_MAX_STEPS);
	{
		struct abyss_hole t;
		size_t rows = nstop ? nstop : ns;
		abyss_hole_init(&t);
		rc = abyss_hole_alloc(&t, n, rows);
		if (rc) {
			abyss_hole_free(&t);
			return abyss_diag_set(diag, rc, 0, 0, "out of memory");
		}
		memcpy(t.position_mm, h->position_mm, n * sizeof(double));
		memcpy(t.torque_a, h->torque_a, n * sizeof(double));
		memcpy(t.thrust_a, h->thrust_a, n * sizeof(double));
		memcpy(t.torque_empty_a, h->torque_empty_a, n * sizeof(double));
		memcpy(t.thrust_empty_a, h->thrust_empty_a, n * sizeof(double));
		memcpy(t.power_w, h->power_w, n * sizeof(double));
		memcpy(t.gap_mm, h->gap_mm, n * sizeof(double));
		memcpy(t.step, h->step, n * sizeof(int32_t));
		abyss_hole_free(h);
		*h = t;
		for (i = 0; i < rows; i++) {
			struct abyss_step_result *s = &h->steps[i];
			long first;
			s->step = rows == ns ? uniq[i] : (int32_t)i;
			if (i < nstop) {
				json_t *e = json_is_array(stop)
						? json_array_get(stop, i)
						: stop;
				if (hole__json_int(e, &x) == 0 && x >= 0 &&
				    x <= 0xffffffffLL)
					s->stop_code = (uint32_t)x;
			}
			first = abyss_hole_first_of_step(h, s->step);
			if (first >= 0) {
				s->torque_empty_a = h->torque_empty_a[first];
				s->thrust_empty_a = h->thrust_empty_a[first];
			}
		}
	}

	/* identity */
	v = lv(pl, "ResultMetaData.SerialNumber");
	if (!v || hole__json_str(v, h->machine_id, sizeof(h->machine_id)))
		snprintf(h->machine_id, sizeof(h->machine_id), "UNKNOWN");
	v = lv(pl, "ResultMetaData.ResultId");
	if (v && hole__json_str(v, h->result_id, sizeof(h->result_id)))
		h->result_id[0] = '\0';
	v = lv(pl, "ResultMetaData.ToolAge");
	h->local = v && hole__json_int(v, &x) == 0 ? x : 0;
	v = lv(pl, "ResultMetaData.Predrilled");
	h->predrilled = v && hole__json_int(v, &x) == 0 ? (int)(x != 0) : 1;
	v = lv(pl, "ResultMetaData.CreationTime");
	if (v && hole__json_int(v, &x) == 0)
		h->timestamp_s = (double)x;
	else if ((v = hole__find_key(root, "SourceTimestamp")) &&
		 json_is_string(v))
		(void)abyss_parse_timestamp(json_string_value(v),
					    &h->timestamp_s);
	h->source = ABYSS_SOURCE_LEGACY;
	h->predrilled = h->predrilled ? 1 : 0;
	return ABYSS_OK;
}

/* Parses buf and builds a hole with `build`; h is replaced only on
 * success (left empty otherwise). `fn` names the caller in argument errors. */
static int legacy__from_json(const char *buf, size_t len, struct abyss_hole *h,
			     int (*build)(json_t *, struct abyss_hole *,
					  struct abyss_diag *),
			     const char *fn, struct abyss_diag *diag)
{
	struct abyss_hole tmp;
	json_t *root;
	int rc;

	if (!h || (!buf && len))
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "%s: NULL argument", fn);
	abyss_hole_free(h);
	rc = hole__json_load(buf, len, NULL, &root, diag);
	if (rc)
		return rc;
	abyss_hole_init(&tmp);
	rc = build(root, &tmp, diag);
	json_decref(root);
	if (rc) {
		abyss_hole_free(&tmp);
		return rc;
	}
	*h = tmp;
	return ABYSS_OK;
}

int abyss_hole_from_legacy_json(const char *buf, size_t len,
				struct abyss_hole *h, struct abyss_diag *diag)
{
	return legacy__from_json(buf, len, h, legacy_build,
				 "abyss_hole_from_legacy_json", diag);
}

/* ---- raw.json (a Setitec file as JSON) ---------------------------------- */

static json_t *section(json_t *root, const char *name)
{
	json_t *s = json_object_get(root, name);

	return json_is_object(s) ? s : NULL;
}

static int raw_build(json_t *root, struct abyss_hole *h,
		     struct abyss_diag *diag)
{
	static const struct {
		const char *col;
		size_t idx; /* into the double arrays, see below */
	} cols[] = {{"Position (mm)", 0},      {"I Torque (A)", 1},
		    {"I Thrust (A)", 2},       {"I Torque Empty (A)", 3},
		    {"I Thrust Empty (A)", 4}, {"Torque Power (W)", 5},
		    {"Gap Length (mm)", 6}};
	json_t *datas = section(root, "Datas"), *gi, *hd, *sr, *v, *pos;
	double *dst[7];
	size_t n, ns, i, k;
	int64_t x;
	int rc;

	if (!datas)
		return abyss_diag_set(diag, ABYSS_EMISSING, 0, 0,
				      "no \"Datas\" section object");
	pos = json_object_get(datas, "Position (mm)");
	if (!json_is_array(pos))
		return abyss_diag_set(diag, ABYSS_EMISSING, 0, 0,
				      "Datas has no \"Position (mm)\" array");
	n = json_array_size(pos);
	if (n == 0)
		return abyss_diag_set(diag, ABYSS_ENODATA, 0, 0,
				      "Datas has no samples");
	sr = section(root, "Step Results");
	v = sr ? json_object_get(sr, "Step Number") : NULL;
	ns = json_is_array(v) ? json_array_size(v) : (v ? 1 : 0);
	rc = abyss_hole_alloc(h, n, ns);
	if (rc)
		return abyss_diag_set(diag, rc, 0, 0,
				      "cannot allocate %zu samples", n);
	dst[0] = h->position_mm;
	dst[1] = h->torque_a;
	dst[2] = h->thrust_a;
	dst[3] = h->torque_empty_a;
	dst[4] = h->thrust_empty_a;
	dst[5] = h->power_w;
	dst[6] = h->gap_mm;
	for (k = 0; k < sizeof(cols) / sizeof(cols[0]); k++) {
		v = json_object_get(datas, cols[k].col);
		if (!v) {
			if (k < 3)
				return abyss_diag_set(diag, ABYSS_EMISSING, 0,
						      0, "Datas has no \"%s\"",
						      cols[k].col);
			continue;
		}
		rc = sample_array(v, cols[k].col, dst[cols[k].idx], n, diag);
		if (rc)
			return rc;
	}
	v = json_object_get(datas, "Step (nb)");
	if (!v)
		return abyss_diag_set(diag, ABYSS_EMISSING, 0, 0,
				      "Datas has no \"Step (nb)\"");
	if ((rc = int_array(v, "Step (nb)", h->step, n, diag)))
		return rc;
	v = json_object_get(datas, "Stop code");
	if (json_is_array(v) && json_array_size(v) == n)
		for (i = 0; i < n; i++)
			if (hole__json_int(json_array_get(v, i), &x) == 0 &&
			    x >= 0 && x <= 0xffffffffLL)
				h->stop_code[i] = (uint32_t)x;

	for (i = 0; i < ns; i++) {
		static const struct {
			const char *name;
			size_t off;
		} sf[] = {
		    {"Duration (s)",
		     offsetof(struct abyss_step_result, duration_s)},
		    {"Distance M1",
		     offsetof(struct abyss_step_result, distance_m1_mm)},
		    {"Distance M2",
		     offsetof(struct abyss_step_result, distance_m2_mm)},
		    {"M1 Max Amp",
		     offsetof(struct abyss_step_result, m1_max_a)},
		    {"M2 Max Amp",
		     offsetof(struct abyss_step_result, m2_max_a)},
		    {"M1 No Load Amp",
		     offsetof(struct abyss_step_result, torque_empty_a)},
		    {"M2 No Load Amp",
		     offsetof(struct abyss_step_result, thrust_empty_a)},
		    {"Gap Max (mm)",
		     offsetof(struct abyss_step_result, gap_max_mm)},
		};
		json_t *e;
		double d;
		e = json_object_get(sr, "Step Number");
		e = json_is_array(e) ? json_array_get(e, i) : e;
		if (hole__json_int(e, &x) == 0)
			h->steps[i].step = (int32_t)x;
		e = json_object_get(sr, "Stop Code");
		e = json_is_array(e) ? json_array_get(e, i) : (i ? NULL : e);
		if (e && hole__json_int(e, &x) == 0 && x >= 0 &&
		    x <= 0xffffffffLL)
			h->steps[i].stop_code = (uint32_t)x;
		for (k = 0; k < sizeof(sf) / sizeof(sf[0]); k++) {
			e = json_object_get(sr, sf[k].name);
			e = json_is_array(e) ? json_array_get(e, i)
					     : (i ? NULL : e);
			if (e && json_is_number(e)) {
				d = json_number_value(e);
				memcpy((char *)&h->steps[i] + sf[k].off, &d,
				       sizeof(d));
			}
		}
	}

	hd = section(root, "Head Datas");
	if (hd) {
		if ((v = json_object_get(hd, "Head Name")))
			(void)hole__json_str(v, h->machine_id,
					     sizeof(h->machine_id));
		if ((v = json_object_get(hd, "Head Global Counter")))
			(void)hole__json_str(v, h->result_id,
					     sizeof(h->result_id));
		if ((v = json_object_get(hd, "Head TAG UID")))
			(void)hole__json_str(v, h->head_id, sizeof(h->head_id));
		v = json_object_get(hd, "Head Local Counter 1");
		if (!v)
			v = json_object_get(hd, "Head Local Counter");
		if (v && hole__json_int(v, &x) == 0)
			h->local = x;
	}
	gi = section(root, "General Infos");
	if (gi) {
		v = json_object_get(gi, "Date");
		if (json_is_string(v))
			(void)abyss_parse_timestamp(json_string_value(v),
						    &h->timestamp_s);
		v = json_object_get(gi, "Version");
		if (v && hole__json_int(v, &x) == 0 && x >= 0 && x < 1000)
			h->file_version = (int)x;
	}
	h->source = ABYSS_SOURCE_SETITEC;
	h->predrilled = 1;
	return ABYSS_OK;
}

int abyss_hole_from_raw_json(const char *buf, size_t len, struct abyss_hole *h,
			     struct abyss_diag *diag)
{
	return legacy__from_json(buf, len, h, raw_build,
				 "abyss_hole_from_raw_json", diag);
}

int abyss_hole_from_json(const char *buf, size_t len, struct abyss_hole *h,
			 struct abyss_diag *diag)
{
	json_t *root, *msgs;
	int rc, kind = 0;

	if (!h || (!buf && len))
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_hole_from_json: NULL argument");
	/* parsing twice keeps the two readers independent; these files are
	 * read once, off the service path */
	rc = hole__json_load(buf, len, NULL, &root, diag);
	if (rc) {
		abyss_hole_free(h);
		return rc;
	}
	msgs = json_object_get(root, "Messages");
	if (json_is_object(json_object_get(root, "Datas")))
		kind = 1;
	else if (json_is_object(msgs) &&
		 json_is_object(json_object_get(msgs, "Payload")))
		kind = 2;
	json_decref(root);
	if (kind == 1)
		return abyss_hole_from_raw_json(buf, len, h, diag);
	if (kind == 2)
		return abyss_hole_from_legacy_json(buf, len, h, diag);
	abyss_hole_free(h);
	return abyss_diag_set(diag, ABYSS_EUNSUPPORTED, 0, 0,
			      "JSON is neither a legacy single message "
			      "(Messages.Payload) nor a raw Setitec rendering "
			      "(Datas)");
}
