/*
 * fuzz_gradient.c - libFuzzer target for the gradient estimator on arbitrary
 * holes: every 6 input bytes make one sample (position step, torque, step
 * number, stop code), so positions may go back, stall or jump and torque may
 * be anything, NaN included.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "abyss/depth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct abyss_hole h;
	struct abyss_estimate e;
	struct abyss_estimate_opts o = {ABYSS_METHOD_GRADIENT, NULL, NULL};
	size_t n = size / 6, i;
	double pos = 0.0;

	if (n > 50000)
		return 0;
	abyss_hole_init(&h);
	if (abyss_hole_alloc(&h, n, 0) != 0)
		return 0;
	for (i = 0; i < n; i++) {
		const uint8_t *p = data + 6 * i;
		int16_t dp = (int16_t)(p[0] | p[1] << 8);
		int16_t tq = (int16_t)(p[2] | p[3] << 8);

		pos -= dp / 1000.0;
		h.position_mm[i] = pos;
		h.torque_a[i] = tq == INT16_MIN ? NAN : tq / 100.0;
		h.thrust_a[i] = 0.0;
		h.step[i] = p[4] & 7;
		h.stop_code[i] = p[5] & 0x80 ? 0x800u : 0u;
	}
	abyss_estimate(&h, &o, &e, NULL);
	abyss_hole_free(&h);
	return 0;
}
