/*
 * fuzz_compat.c - libFuzzer target for the compat estimators. The input is
 * not text but a hole in a compact binary form, so that the fuzzer reaches
 * the numerical edge cases (NaN, inf, zero feed, tiny or scattered step
 * groups, position decreases) that a parser would rarely produce:
 *   byte 0: flags (bit 0 float32 origin, bit 1 MQTT source, bits 2-3 stat)
 *   then 7-byte samples: int16 position (0.01 mm), int16 torque (0.001 A),
 *   int16 empty torque (0.001 A), int8 step. Special int16 values give NaN
 *   (-32768) and +inf (32767).
 * Every estimator must return a code (never crash, read out of bounds or
 * hit undefined behaviour) and fill its outputs consistently.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/compat.h"
#include "abyss/depth.h"
#include "abyss/hole.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static double val(const uint8_t *p, double unit)
{
	int16_t v = (int16_t)(uint16_t)(p[0] | (p[1] << 8));

	if (v == INT16_MIN)
		return NAN;
	if (v == INT16_MAX)
		return INFINITY;
	return (double)v * unit;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct abyss_estimate_opts o = {ABYSS_METHOD_COMPAT, NULL, NULL};
	struct abyss_compat_keypoints kp;
	struct abyss_scratch sc;
	struct abyss_estimate e;
	struct abyss_hole h;
	struct abyss_diag d;
	double out[3], depth[2];
	long oi[3], q, dl[3];
	size_t n, i;
	int rc;

	if (size < 1)
		return 0;
	n = (size - 1) / 7;
	if (n > 20000)
		n = 20000;
	abyss_hole_init(&h);
	if (abyss_hole_alloc(&h, n, 0) != 0)
		return 0;
	h.float32_origin = data[0] & 1;
	h.source = (data[0] & 2) ? ABYSS_SOURCE_MQTT : ABYSS_SOURCE_SETITEC;
	for (i = 0; i < n; i++) {
		const uint8_t *p = data + 1 + 7 * i;

		h.position_mm[i] = val(p, 0.01);
		h.torque_a[i] = val(p + 2, 0.001);
		h.torque_empty_a[i] = val(p + 4, 0.001);
		h.step[i] = (int8_t)p[6];
	}
	abyss_scratch_init(&sc);
	o.scratch = &sc;
	abyss_diag_init(&d);
	rc = abyss_estimate(&h, &o, &e, &d);
	if (rc == 0 && (!e.entry.found || !e.exit.found))
		abort();
	if (rc == 0 && abyss_estimate_depths(&e, depth) != 2)
		abort();
	if (e.transition.found &&
	    (e.transition.index < 0 || (size_t)e.transition.index >= n))
		abort();

	/* per-segment statistics on |position| and torque + empty */
	for (i = 0; i < n; i++) {
		h.thrust_a[i] = h.torque_a[i] + h.torque_empty_a[i];
		h.power_w[i] = fabs(h.position_mm[i]);
	}
	rc = abyss_compat_persegment(
	    h.thrust_a, h.power_w, n, 0.7,
	    (enum abyss_compat_stat)((data[0] >> 2) & 3),
	    h.float32_origin ? ABYSS_COMPAT_F32 : ABYSS_COMPAT_F64, &sc, out,
	    oi, &d);
	if (rc == 0 && !(out[0] < out[1] && out[1] < out[2]))
		abort();
	/* the derived-window variant of keypoint_recognition_gradient */
	rc = abyss_compat_keypoints(h.power_w, h.thrust_a, n, 30, 0, 0.7, &sc,
				    &kp, &d);
	if (rc == 0 && (kp.medianmax < 0 || (size_t)kp.medianmax >= n))
		abort();
	if (n > 0) {
		abyss_grip_code(h.position_mm[0]);
		abyss_grip_quotient_remainder(h.position_mm[0], 1.5875, &q,
					      out);
		abyss_grip_fastener_lengths(h.position_mm[0], 1.5875, 0.396875,
					    1.42875, dl);
	}
	abyss_scratch_free(&sc);
	abyss_hole_free(&h);
	return 0;
}
