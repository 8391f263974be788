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

NN_CLONES static void gelu_part(float *out, const float *inp, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		float x = inp[i];

		out[i] = 0.5f * x * (1.0f + erf_f(x * 0.70710678118654752f));
	}
}

/* dinp += (Phi(x) + x phi(x)) dout */
NN_CLONES static void gelu_back_part(float *dinp, const float *inp,
				     const float *dout, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		float x = inp[i];
		float cdf = 0.5f * (1.0f + erf_f(x * 0.70710678118654752f));
		float pdf = 0.39894228040143268f * exp_f(-0.5f * x * x);

		dinp[i] += (cdf + x * pdf) * dout[i];
	}
}

#define LANES 16

/* x = softmax(x) over each of R rows of C, in place (one pointer: a
 * second one equal to it would fail GCC's run-time overlap check and take
 * the scalar loop). Max and sum keep LANES partial values combined in a
 * fixed order. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* exp_f on 16 lanes: the same steps, so the same bits per element. */
__attribute__((target("avx512f"))) static __m512 exp16(__m512 x)
{
	__m512 n, r, y;
	__m512i e;

	x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
	x = _mm512_min_ps(x, _mm512_set1_ps(88.7f));
	n = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f));
	n = _mm512_sub_ps(_mm512_add_ps(n, _mm512_set1_ps(12582912.0f)),
			  _mm512_set1_ps(12582912.0f));
	r = _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(0.693359375f)));
	r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(-2.12194440e-4f)));
	y = _mm512_set1_ps(1.9875691500e-4f);
	y = _mm512_add_ps(_mm512_mul_ps(y, r),
			  _mm512_set1_ps(1.3981999507e-3f));
	y = _mm512_add_ps(_mm512_mul_ps(y, r),
			  _mm512_set1_ps(8.3334519073e-3f));
	y = _mm512_add_ps(_mm512_mul_ps(y, r),
			  _mm512_set1_ps(4.1665795894e-2f));
	y = _mm512_add_ps(_mm512_mul_ps(y, r),
			  _mm512_set1_ps(1.6666665459e-1f));
	y = _mm512_add_ps(_mm512_mul_ps(y, r),
			  _mm512_set1_ps(5.0000001201e-1f));
	y = _mm512_add_ps(
	    _mm512_add_ps(_mm512_mul_ps(y, _mm512_mul_ps(r, r)), r),
	    _mm512_set1_ps(1.0f));
	e = _mm512_slli_epi32(
	    _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)),
	    23);
	return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

/* Rows of up to 64 values, kept in four registers: one pass for the max,
 * the exponentials and the sum (lanes summed in a fixed tree). */
__attribute__((target("avx512f"))) static void
softmax_rows_avx512(float *x, size_t R, size_t C)
{
	size_t r, q, nv = (C + 15) / 16;
	__mmask16 mk[4];

	for (q = 0; q < 4; q++) {
		size_t left = C > q * 16 ? C - q * 16 : 0;

		mk[q] = (__mmask16)(left >= 16 ? 0xffffu : (1u << left) - 1u);
	}
	for (r = 0; r < R; r++) {
		float *xr = x + r * C;
		__m512 v[4], mx = _mm512_set1_ps(-INFINITY), sm;
		float m, s;

		for (q = 0; q < nv; q++) {
			v[q] = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY),
						    mk[q], xr + q * 16);
			mx = _mm512_max_ps(mx, v[q]);
		}
		m = _mm512_reduce_max_ps(mx);
		sm = _mm512_setzero_ps();
		for (q = 0; q < nv; q++) {
			v[q] = _mm512_maskz_mov_ps(
			    mk[q],
			    exp16(_mm512_sub_ps(v[q], _mm512_set1_ps(m))));
			sm = _mm512_add_ps(sm, v[q]);
		}
		s = _mm512_reduce_add_ps(sm);
		for (q = 0; q < nv; q++)
			_mm512_mask_storeu_ps(
			    xr + q * 16, mk[q],
			    _mm512_div_ps(v[q], _mm512_set1_ps(s)));
	}
}
#endif

/* LayerNorm rows of up to 64 values in double, 8 lanes at a time: the
 * row stays in registers, reductions are one instruction sequence. */
__attribute__((target("avx512f,avx512vl"))) static void
layernorm_rows_avx512(float *out, float *mean, float *rstd, const float *inp,
		      const float *w, const float *b, size_t N, size_t C,
		      float eps)
{
	size_t n, q, nv = (C + 7) / 8;
	__mmask8 mk[8];

	for (q = 0; q < 8; q++) {
		size_t left = C > q * 8 ? C - q * 8 : 0;

		mk[q] = (__mmask8)(left >= 8 ? 0xffu : (1u << left) - 1u);
	}
	for (n = 0; n < N; n++) {
		const float *x = inp + n * C;
		float *y = out + n * C;
		__m512d v[8], s = _mm512_setzero_pd(), vm, vs;
		double m, var, sd;

		for (q = 0; q < nv; q++) {
			v[q] = _mm512_cvtps_pd(
			    _mm256_maskz_loadu_ps(mk[q], x + q * 8));
			s = _mm512_add_pd(s, v[q]);
		}
		m = _mm512_reduce_add_pd(s) / (double)C;
		vm = _mm512_set1_pd(m);
		s = _mm512_setzero_pd();
		for (q = 0; q < nv; q++) {
			__m512d d = _mm512_maskz_sub_pd(mk[q], v[q], vm);

			v[q] = d;
			s = _mm512_add_pd(s, _mm512_mul_pd(d, d));
		}
		var = _mm512_reduce_add_pd(s) / (double)C;
		sd = 1.0 / sqrt(var + (double)eps);
		vs = _mm512_set1_pd(sd);
		for (q = 0; q < nv; q++) {
			__m512d wv = _mm512_cvtps_pd(
			    _mm256_maskz_loadu_ps(mk[q], w + q * 8));
			__m512d bv = _mm512_cvtps_pd(
			    _mm256_maskz_loadu_ps(mk[q], b + q * 8));
			__m512d r = _mm512_add_pd(
			    _mm512_mul_pd(_mm512_mul_pd(v[q], vs), wv), bv);

			_mm256_mask_storeu_ps(y + q * 8, mk[q],
					      _mm512_cvtpd_ps(r));
		}
		mean[n] = (float)m;
		rstd[n] = (float)sd;
	}
}

static void softmax_rows_lanes(float *x, size_t R, size_t C);
static void gelu_part(float *out, const float *inp, size_t n);
static void layernorm_part(float *out, float *mean, float *rstd,
			   const float *inp, const float *w, const float *b,
			   size_t N, size_t C, float eps);

static void softmax_part(float *x, size_t R, size_t C)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (C <= 64 && nn__isa() == NN_ISA_AVX512) {
		softmax_rows_avx512(x, R, C);
		return;
	}
#endif
	softmax_rows_lanes(x, R, C);
}

NN_CLONES static void softmax_rows_lanes(float *x, size_t R, size_t C)
{
	size_t r, i, l;

	for (r = 0; r < R; r++) {
		float *xr = x + r * C;
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
		for (l = LANES / 2; l > 0; l /= 2) {
			size_t q;

			for (q = 0; q < l; q++)
				mx[q] = mx[q + l] > mx[q] ? mx[q + l] : mx[q];
		}
		m = mx[0];
		for (i = 0; i < C; i++)
			xr[i] = exp_f(xr[i] - m);
		for (i = 0; i + LANES <= C; i += LANES)
			for (l = 0; l < LANES; l++)
				sm[l] += xr[i + l];
		for (l = 0; i + l < C; l++)
			sm[l] += xr[i + l];
		for (l = LANES / 2; l > 0; l /= 2) {
			size_t q;

			for (q = 0; q < l; q++)
				sm[q] += sm[q + l];
		}
		s = sm[0];
		for (i = 0; i < C; i++)
			xr[i] = xr[i] / s;
	}
}

#define DL 8

/* LayerNorm rows in double with DL partial sums (fixed order), so the
 * clones vectorise the reductions and agree bit for bit. */
NN_CLONES static void layernorm_part(float *out, float *mean, float *rstd,
				     const float *inp, const float *w,
				     const float *b, size_t N, size_t C,
				     float eps)
{
	size_t n, i, l;

	for (n = 0; n < N; n++) {
		const float *x = inp + n * C;
		float *y = out + n * C;
		double sm[DL], sv[DL], m, v, sd;

		for (l = 0; l < DL; l++)
			sm[l] = sv[l] = 0.0;
		for (i = 0; i + DL <= C; i += DL)
			for (l = 0; l < DL; l++)
				sm[l] += (double)x[i + l];
		for (l = 0; i + l < C; l++)
			sm[l] += (double)x[i + l];
		m = ((sm[0] + sm[4]) + (sm[1] + sm[5])) +
		    ((sm[2] + sm[6]) + (sm[3] + sm[7]));
		m /= (double)C;
		for (i = 0; i + DL <= C; i += DL)
			for (l = 0; l < DL; l++) {
				double d = (double)x[i + l] - m;

				sv[l] += d * d;
			}
		for (l = 0; i + l < C; l++) {
			double d = (double)x[i + l] - m;

			sv[l] += d * d;
		}
		v = ((sv[0] + sv[4]) + (sv[1] + sv[5])) +
		    ((sv[2] + sv[6]) + (sv[3] + sv[7]));
		v /= (double)C;
		sd = 1.0 / sqrt(v + (double)eps);
		for (i = 0; i < C; i++)
			y[i] = (float)(((double)x[i] - m) * sd * (double)w[i] +
				       (double)b[i]);
		mean[n] = (float)m;
		rstd[n] = (float)sd;
	}
}

/* ---- threads ---------------------------------------------------------------
 * Rows (or values) are split into nn__threads() contiguous parts; every
 * result depends on its own row only, so the split changes no bit. Below
 * PAR_MIN values a kernel stays on the calling thread. */
#define PAR_MIN (nn__par_min() / 64)

/* clang-format off */
#ifdef _OPENMP
#define SPLIT(total, work, CALL)                                               \
	do {                                                                   \
		int nt_ = nn__threads();                                       \
		long t_;                                                       \
		if (nt_ > 1 && (work) >= PAR_MIN) {                            \
			_Pragma("omp parallel for num_threads(nt_) schedule(static)") \
			for (t_ = 0; t_ < nt_; t_++) {                         \
				size_t a = (total) * (size_t)t_ / (size_t)nt_; \
				size_t z = (total) * (size_t)(t_ + 1) /        \
					   (size_t)nt_;                        \
				CALL;                                          \
			}                                                      \
		} else {                                                       \
			size_t a = 0, z = (total);                             \
			CALL;                                                  \
		}                                                              \
	} while (0)
#else
#define SPLIT(total, work, CALL)                                               \
	do {                                                                   \
		size_t a = 0, z = (total);                                     \
		CALL;                                                          \
	} while (0)
#endif
/* clang-format on */

void nn__gelu_forward(float *out, const float *inp, size_t n)
{
	SPLIT(n, n, gelu_part(out + a, inp + a, z - a));
}

void nn__gelu_backward(float *dinp, const float *inp, const float *dout,
		       size_t n)
{
	SPLIT(n, n, gelu_back_part(dinp + a, inp + a, dout + a, z - a));
}

void nn__softmax_rows(float *x, size_t R, size_t C)
{
	SPLIT(R, R * C, softmax_part(x + a * C, z - a, C));
}

static void layernorm_pick(float *out, float *mean, float *rstd,
			   const float *inp, const float *w, const float *b,
			   size_t N, size_t C, float eps)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (C <= 64 && nn__isa() == NN_ISA_AVX512) {
		layernorm_rows_avx512(out, mean, rstd, inp, w, b, N, C, eps);
		return;
	}
#endif
	layernorm_part(out, mean, rstd, inp, w, b, N, C, eps);
}

void nn__layernorm_forward(float *out, float *mean, float *rstd,
			   const float *inp, const float *w, const float *b,
			   size_t N, size_t C, float eps)
{
	SPLIT(N, N * C,
	      layernorm_pick(out + a * C, mean + a, rstd + a, inp + a * C, w, b,
			     z - a, C, eps));
}
