/*
 * hole_map.c - a parsed Setitec file -> the hole record (abyss/hole.h).
 * Identity follows what the paired MQTT messages carry (original-system.md
 * §3.6, checked on data0/data1/data2): SerialNumber == Head Name and
 * ResultId == Head Global Counter. It copies samples; it estimates nothing.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "setitec_internal.h"

static void copy_id(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

static int32_t step_of(double v)
{
	if (!(v >= INT32_MIN && v <= INT32_MAX))
		return -1; /* NaN (empty cell) or absurd: no valid step */
	return (int32_t)lround(v);
}

static uint32_t code_of(double v)
{
	if (!(v >= 0 && v <= 4294967295.0))
		return 0;
	return (uint32_t)llround(v);
}

static const double *col_any(const struct abyss_setitec *f, const char *a,
			     const char *b)
{
	const double *c = abyss_setitec_column(f, a);
	return c || !b ? c : abyss_setitec_column(f, b);
}

int abyss_hole_from_setitec(const struct abyss_setitec *f, struct abyss_hole *h,
			    struct abyss_diag *diag)
{
	static const char *const required[] = {"Position (mm)", "I Torque (A)",
					       "I Thrust (A)", "Step (nb)"};
	const double *pos, *tq, *th, *tqe, *the, *st, *sc, *pw, *gap;
	char name[sizeof(h->source_name)];
	size_t i, j, n;
	int rc;

	if (!f || !h)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_hole_from_setitec: NULL argument");
	memcpy(name, h->source_name, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	abyss_hole_free(h);
	memcpy(h->source_name, name, sizeof(name));
	n = f->nsamples;
	if (n == 0)
		return abyss_diag_set(diag, ABYSS_ENODATA, f->data_line, 0,
				      "the Datas section has no samples");
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!abyss_setitec_column(f, required[i]))
			return abyss_diag_set(diag, ABYSS_EMISSING,
					      f->data_line, 0,
					      "the Datas section has no values "
					      "in column '%s'",
					      required[i]);
	pos = abyss_setitec_column(f, "Position (mm)");
	tq = abyss_setitec_column(f, "I Torque (A)");
	th = abyss_setitec_column(f, "I Thrust (A)");
	tqe = abyss_setitec_column(f, "I Torque Empty (A)");
	the = abyss_setitec_column(f, "I Thrust Empty (A)");
	st = abyss_setitec_column(f, "Step (nb)");
	sc = abyss_setitec_column(f, "Stop code");
	pw = col_any(f, "Torque Power (W)", "Power (W)");
	gap = abyss_setitec_column(f, "Gap Length (mm)");

	rc = abyss_hole_alloc(h, n, f->nstep_results);
	if (rc)
		return abyss_diag_set(diag, rc, 0, 0,
				      "cannot allocate %zu samples", n);
	h->source = ABYSS_SOURCE_SETITEC;
	h->float32_origin = 1;
	h->file_version = f->general.version;
	h->timestamp_s = f->general.unix_time;
	copy_id(h->machine_id, sizeof(h->machine_id), f->head.name);
	copy_id(h->result_id, sizeof(h->result_id), f->head.global_counter);
	copy_id(h->head_id, sizeof(h->head_id), f->head.tag_uid);
	h->local = f->head.local_counter_1 >= 0 ? f->head.local_counter_1 : 0;

	memcpy(h->position_mm, pos, n * sizeof(double));
	memcpy(h->torque_a, tq, n * sizeof(double));
	memcpy(h->thrust_a, th, n * sizeof(double));
	if (tqe)
		memcpy(h->torque_empty_a, tqe, n * sizeof(double));
	if (the)
		memcpy(h->thrust_empty_a, the, n * sizeof(double));
	if (pw)
		memcpy(h->power_w, pw, n * sizeof(double));
	if (gap)
		memcpy(h->gap_mm, gap, n * sizeof(double));
	for (i = 0; i < n; i++) {
		h->step[i] = step_of(st[i]);
		h->stop_code[i] = sc ? code_of(sc[i]) : 0;
	}

	for (j = 0; j < f->nstep_results; j++) {
		const struct abyss_setitec_step_result *r = &f->step_results[j];
		struct abyss_step_result *s = &h->steps[j];
		long first = abyss_hole_first_of_step(h, r->step);
		s->step = r->step;
		s->stop_code = r->stop_code;
		/* the samples' no-load currents are what the MQTT Result
		 * reports as IntensityTorque/ThrustEmpty; the Step Results'
		 * "No Load Amp" is the same number, used when a step left
		 * no sample */
		s->torque_empty_a =
		    first >= 0 && tqe ? tqe[first] : r->m1_no_load_a;
		s->thrust_empty_a =
		    first >= 0 && the ? the[first] : r->m2_no_load_a;
		s->duration_s = r->duration_s;
		s->distance_m1_mm = r->distance_m1_mm;
		s->distance_m2_mm = r->distance_m2_mm;
		s->m1_max_a = r->m1_max_a;
		s->m2_max_a = r->m2_max_a;
		s->gap_max_mm = r->gap_max_mm;
	}
	return 0;
}

int abyss_hole_load_setitec(const char *path,
			    const struct abyss_setitec_limits *lim,
			    struct abyss_hole *h, struct abyss_diag *diag)
{
	struct abyss_setitec *f = NULL;
	int rc;

	if (!h)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_hole_load_setitec: NULL hole");
	rc = abyss_setitec_load(path, lim, &f, diag);
	if (rc)
		return rc;
	rc = abyss_hole_from_setitec(f, h, diag);
	abyss_setitec_free(f);
	if (rc == 0)
		copy_id(h->source_name, sizeof(h->source_name), path);
	return rc;
}
