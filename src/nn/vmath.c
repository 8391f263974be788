/*
 * vmath.c - float32 elementwise kernels of the forward pass (exact-form
 * GELU, row softmax) written as plain loops that the compiler vectorises,
 * cloned for AVX-512, AVX2 and the baseline with GCC's target_clones
 * (chosen by the loader from the CPU).
 *
 * Every loop is elementwise or keeps explicit lanes combined in a fixed
 * order, and no multiply-add is contracted (-std=c11), so all clones give
 * the same bits. exp is Cephes' expf polynomial (about 1 ulp), erf the
 * Abramowitz-Stegun 7.1.26 form PyTorch's own vectorised erf uses
 * (absolute error below 1.5e-7). The backward kernels stay in kernels.c.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nn_internal.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&         \
    !defined(__SANITIZE_ADDRESS__)
#define NN_CLONES                                                              \
	__attribute__((                                                        \
	    target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NN_CLONES
#endif

/* Cephes expf: x = n ln2 + r, |r| <= ln2/2, exp(r) by a degree-6
 * polynomial, times 2^n built in the exponent bits. Inputs are clamped to
 * [-87.3, 88.7] (the softmax only feeds x <= 0). */
static inline float exp_f(float x)
{
	float n, r, y, s;
	int32_t e;

	x = x < -87.3f ? -87.3f : x;
	x = x > 88.7f ? 88.7f : x;
	/* nearest integer by the 1.5 * 2^23 trick (floorf is a libm call
	 * unless trapping math is off) */
	n = x * 1.44269504088896341f;
	n = (n + 12582912.0f) - 12582912.0f;
	r = x - n * 0.693359375f;
	r = r - n * -2.12194440e-4f;
	y = 1.9875691500e-4f;
	y = y * r + 1.3981999507e-3f;
	y = y * r + 8.3334519073e-3f;
	y = y * r + 4.1665795894e-2f;
	y = y * r + 1.6666665459e-1f;
	y = y * r + 5.0000001201e-1f;
	y = y * (r * r) + r + 1.0f;
	e = ((int32_t)n + 127) << 23;
	memcpy(&s, &e, sizeof(s));
	return y * s;
}

/* erf(x) = sign(x) (1 - t P(t) exp(-x^2)), t = 1 / (1 + p |x|). */
static inline float erf_f(float x)
{
	float ax = x < 0.0f ? -x : x;
	float t = 1.0f / (1.0f + 0.3275911f * ax);
	float y = 1.061405429f;

	y = y * t + -1.453152027f;
	y = y * t + 1.421413741f;
	y = y * t + -0.284496736f;
	y = y * t + 0.254829592f;
	y = 1.0f - y * t * exp_f(-ax * ax);
	return x < 0.0f ? -y : y;
}

NN_CLONES void nn__gelu_forward(float *out, const float *inp, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		float x = inp[i];

		out[i] = 0.5f * x * (1.0f + erf_f(x * 0.70710678118654752f));
	}
}

#define LANES 16

/* y = softmax(x) over each of R rows of C (y may be x). Max and sum keep
 * LANES partial values combined in a fixed order. */
NN_CLONES void nn__softmax_rows(float *y, const float *x, size_t R, size_t C)
{
	size_t r, i, l;

	for (r = 0; r < R; r++) {
		const float *xr = x + r * C;
		float *yr = y + r * C;
		float mx[LANES], sm[LANES], m, s;

		for (l = 0; l < LANES; l++) {
			mx[l] = -INFINITY;
			sm[l] = 0.0f;
		}
		for (i = 0; i + LANES <= C; i += LANES)
			for (l = 0; l < LANES; l++)
				mx[l] = xr[i + l] > mx[l] ? xr[i + l] : mx[l];
		for (l = 0; i + l < C; l++)
			mx[l] = xr[i + l] > mx[l] ? xr[i + l] : mx[l];
		m = mx[0];
		for (l = 1; l < LANES; l++)
			m = mx[l] > m ? mx[l] : m;
		for (i = 0; i < C; i++)
			yr[i] = exp_f(xr[i] - m);
		for (i = 0; i + LANES <= C; i += LANES)
			for (l = 0; l < LANES; l++)
				sm[l] += yr[i + l];
		for (l = 0; i + l < C; l++)
			sm[l] += yr[i + l];
		for (l = LANES / 2; l > 0; l /= 2) {
			size_t q;

			for (q = 0; q < l; q++)
				sm[q] += sm[q + l];
		}
		s = sm[0];
		for (i = 0; i < C; i++)
			yr[i] = yr[i] / s;
	}
}
