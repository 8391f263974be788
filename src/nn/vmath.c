/*
 * vmath.c - float32 elementwise kernels of the forward pass (exact-form
 * GELU, row and column softmax, LayerNorm, the small fused passes: gate
 * product plus residual, LayerNorm plus residual) written as plain loops
 * that the compiler vectorises, cloned for AVX-512, AVX2 and the baseline
 * with GCC's target_clones, plus AVX-512 intrinsic paths that repeat the
 * same operations in the same order (rows kept in registers, several rows
 * per step so their dependency chains overlap).
 *
 * Every loop is elementwise or keeps explicit lanes combined in a fixed
 * order; multiply-adds are fused only where written (fmaf), so all
 * variants give the same bits. exp is Cephes' expf polynomial (about 1
 * ulp), erf the rational form Eigen and XLA use for float (absolute error
 * below 3.4e-7). The backward kernels stay in kernels.c.
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

	/* clamps in the max/min operand order (x > c ? x : c), so they
	 * compile to one vmaxps / vminps, as exp16 uses */
	x = x > -87.3f ? x : -87.3f;
	x = x < 88.7f ? x : 88.7f;
	/* nearest integer by the 1.5 * 2^23 trick (floorf is a libm call
	 * unless trapping math is off) */
	n = x * 1.44269504088896341f;
	n = (n + 12582912.0f) - 12582912.0f;
	/* fused steps (fmaf): one rounding each, the same in every clone
	 * and in exp16 below */
	r = fmaf(n, -0.693359375f, x);
	r = fmaf(n, 2.12194440e-4f, r);
	y = 1.9875691500e-4f;
	y = fmaf(y, r, 1.3981999507e-3f);
	y = fmaf(y, r, 8.3334519073e-3f);
	y = fmaf(y, r, 4.1665795894e-2f);
	y = fmaf(y, r, 1.6666665459e-1f);
	y = fmaf(y, r, 5.0000001201e-1f);
	y = fmaf(y, r * r, r) + 1.0f;
	e = ((int32_t)n + 127) << 23;
	memcpy(&s, &e, sizeof(s));
	return y * s;
}

/* erf(x) as the rational function Eigen and XLA use for float: x P(x^2)
 * / Q(x^2) on x clamped to [-4, 4] (beyond, erf is 1 in float), absolute
 * error below 3.4e-7 (measured on a 1e-5 grid), no exp and one division:
 * half the operations of the Abramowitz-Stegun form it replaces. */
static inline float erf_f(float a)
{
	/* a < 4 ? a : 4 is one vminps (the other order compiled to five
	 * mask operations and blends) */
	float x = a < 4.0f ? a : 4.0f, x2, p, q;

	x = x > -4.0f ? x : -4.0f;
	x2 = x * x;
	p = fmaf(x2, -2.72614225801306e-10f, 2.77068142495902e-08f);
	p = fmaf(x2, p, -2.10102402082508e-06f);
	p = fmaf(x2, p, -5.69250639462346e-05f);
	p = fmaf(x2, p, -7.34990630326855e-04f);
	p = fmaf(x2, p, -2.95459980854025e-03f);
	p = fmaf(x2, p, -1.60960333262415e-02f);
	p = x * p;
	q = fmaf(x2, -1.45660718464996e-05f, -2.13374055278905e-04f);
	q = fmaf(x2, q, -1.68282697438203e-03f);
	q = fmaf(x2, q, -7.37332916720468e-03f);
	q = fmaf(x2, q, -1.42647390514189e-02f);
	return p / q;
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

/* exp_f on 16 lanes for x <= 0 (the softmax's x - max): the same steps,
 * so the same bits per element, less the upper clamp (x <= 0 < 88.7) and
 * with 2^n applied by scalef, which rounds y 2^n once as the multiply by
 * the exponent-built 2^n does (2^n is normal for n >= -126). */
__attribute__((target("avx512f"))) static __m512 exp16(__m512 x)
{
	__m512 n, r, y;

	x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
	n = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f));
	n = _mm512_sub_ps(_mm512_add_ps(n, _mm512_set1_ps(12582912.0f)),
			  _mm512_set1_ps(12582912.0f));
	r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f), x);
	r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
	y = _mm512_set1_ps(1.9875691500e-4f);
	y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507e-3f));
	y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073e-3f));
	y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894e-2f));
	y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459e-1f));
	y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201e-1f));
	y = _mm512_add_ps(_mm512_fmadd_ps(y, _mm512_mul_ps(r, r), r),
			  _mm512_set1_ps(1.0f));
	return _mm512_scalef_ps(y, n);
}

/* Rows of up to 64 values, kept in four registers: one pass for the max,
 * the exponentials and the sum (lanes summed in a fixed tree). */
__attribute__((target("avx512f"))) static void
softmax_rows_avx512(float *x, size_t R, size_t C)
{
	size_t r, q, nv = (C + 15) / 16;
	__mmask16 mk[4];
	__m512 nx[4], ninf = _mm512_set1_ps(-INFINITY);

	for (q = 0; q < 4; q++) {
		size_t left = C > q * 16 ? C - q * 16 : 0;

		mk[q] = (__mmask16)(left >= 16 ? 0xffffu : (1u << left) - 1u);
	}
	/* Row r + 1 is loaded before row r is stored: when C is not a
	 * multiple of 16, row r's last (masked) store covers addresses of
	 * row r + 1, and a load issued after it waits for the store to
	 * commit (C = 17 ran 3.5x slower than C = 16 without this). Rows
	 * r - 1 and r + 1 do not overlap for C >= 16. */
	for (q = 0; q < nv; q++)
		nx[q] = _mm512_mask_loadu_ps(ninf, mk[q], x + q * 16);
	for (r = 0; r < R; r++) {
		float *xr = x + r * C;
		__m512 v[4], mx = ninf, sm;
		float m, s;

		for (q = 0; q < nv; q++) {
			v[q] = nx[q];
			mx = _mm512_max_ps(mx, v[q]);
		}
		if (r + 1 < R)
			for (q = 0; q < nv; q++)
				nx[q] = _mm512_mask_loadu_ps(ninf, mk[q],
							     xr + C + q * 16);
		m = _mm512_reduce_max_ps(mx);
		sm = _mm512_setzero_ps();
		for (q = 0; q < nv; q++) {
			/* lanes past C take exp(0), then 0 (exp of -inf,
			 * clamped, would be a subnormal) */
			v[q] = _mm512_maskz_mov_ps(
			    mk[q], exp16(_mm512_maskz_sub_ps(
				       mk[q], v[q], _mm512_set1_ps(m))));
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

/* LayerNorm rows of up to 64 values in double, four rows at a time: each
 * row's 8 partial sums (lane l sums x[l], x[l+8], ... in order, as
 * layernorm_part's DL = 8 lanes) are combined for the four rows together,
 * ((s0+s4) + (s1+s5)) + ((s2+s6) + (s3+s7)) as layernorm_part does, so
 * every variant gives the same bits; the divisions and the square root
 * then run once per four rows. Rows past N repeat the last row (computed,
 * not stored). */
__attribute__((target("avx512f,avx512vl"))) static __m256d
ln_partial(const float *x, size_t nv, const __mmask8 *mk, __m512d mv, int sq)
{
	__m512d s = _mm512_setzero_pd();
	size_t q;

	for (q = 0; q < nv; q++) {
		__m512d v =
		    _mm512_cvtps_pd(_mm256_maskz_loadu_ps(mk[q], x + q * 8));

		if (sq) {
			v = _mm512_maskz_sub_pd(mk[q], v, mv);
			v = _mm512_mul_pd(v, v);
		}
		s = _mm512_add_pd(s, v);
	}
	/* [s0+s4, s1+s5, s2+s6, s3+s7] */
	return _mm256_add_pd(_mm512_castpd512_pd256(s),
			     _mm512_extractf64x4_pd(s, 1));
}

/* the four rows' ((a0+a1) + (a2+a3)) */
__attribute__((target("avx512f,avx512vl"))) static __m256d
ln_combine(__m256d a0, __m256d a1, __m256d a2, __m256d a3)
{
	__m256d h01 = _mm256_hadd_pd(a0, a1), h23 = _mm256_hadd_pd(a2, a3);

	return _mm256_add_pd(_mm256_permute2f128_pd(h01, h23, 0x20),
			     _mm256_permute2f128_pd(h01, h23, 0x31));
}

/* Rows of at most 16 values (the model's d_model): the same operations
 * in the same order as layernorm_rows_avx512 below, the four rows kept in
 * registers between the passes. */
#define LNG 4
__attribute__((target("avx512f,avx512vl"))) static void
layernorm_rows16_avx512(float *out, float *mean, float *rstd, const float *inp,
			const float *w, const float *b, size_t N, size_t C,
			float eps, const float *res, float *out2)
{
	size_t n, r;
	__mmask8 k0 = (__mmask8)(C >= 8 ? 0xffu : (1u << C) - 1u),
		 k1 = (__mmask8)(C >= 16 ? 0xffu
				 : C > 8 ? (1u << (C - 8)) - 1u
					 : 0u);
	__m512d w0 = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k0, w)),
		w1 = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k1, w + 8)),
		b0 = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k0, b)),
		b1 = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k1, b + 8));
	__m256d cd = _mm256_set1_pd((double)C),
		ed = _mm256_set1_pd((double)eps), one = _mm256_set1_pd(1.0);

	/* LNG groups of four rows per step, whose division and square-root
	 * chains overlap (the chain, not the arithmetic, bounded one group:
	 * 13.3 -> 8.1 ns per row) */
	for (n = 0; n < N; n += 4 * LNG) {
		size_t rows = N - n < 4 * LNG ? N - n : 4 * LNG, gq;
		__m512d v0[4 * LNG], v1[4 * LNG];
		__m256d a[4 * LNG], m4[LNG], s4[LNG];
		double md[4 * LNG], sdd[4 * LNG];
		float f4[4];

		for (r = 0; r < 4 * LNG; r++) {
			const float *x =
			    inp + (n + (r < rows ? r : rows - 1)) * C;
			__m512d s;

			v0[r] = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k0, x));
			v1[r] =
			    _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k1, x + 8));
			s = _mm512_add_pd(
			    _mm512_add_pd(_mm512_setzero_pd(), v0[r]), v1[r]);
			a[r] = _mm256_add_pd(_mm512_castpd512_pd256(s),
					     _mm512_extractf64x4_pd(s, 1));
		}
		for (gq = 0; gq < LNG; gq++) {
			m4[gq] = _mm256_div_pd(
			    ln_combine(a[4 * gq], a[4 * gq + 1], a[4 * gq + 2],
				       a[4 * gq + 3]),
			    cd);
			_mm256_storeu_pd(md + 4 * gq, m4[gq]);
		}
		for (r = 0; r < 4 * LNG; r++) {
			__m512d vm = _mm512_set1_pd(md[r]), s;

			v0[r] = _mm512_maskz_sub_pd(k0, v0[r], vm);
			v1[r] = _mm512_maskz_sub_pd(k1, v1[r], vm);
			s = _mm512_add_pd(
			    _mm512_add_pd(_mm512_setzero_pd(),
					  _mm512_mul_pd(v0[r], v0[r])),
			    _mm512_mul_pd(v1[r], v1[r]));
			a[r] = _mm256_add_pd(_mm512_castpd512_pd256(s),
					     _mm512_extractf64x4_pd(s, 1));
		}
		for (gq = 0; gq < LNG; gq++) {
			s4[gq] = _mm256_div_pd(
			    ln_combine(a[4 * gq], a[4 * gq + 1], a[4 * gq + 2],
				       a[4 * gq + 3]),
			    cd);
			s4[gq] = _mm256_div_pd(
			    one, _mm256_sqrt_pd(_mm256_add_pd(s4[gq], ed)));
			_mm256_storeu_pd(sdd + 4 * gq, s4[gq]);
		}
		for (r = 0; r < rows; r++) {
			__m512d vs = _mm512_set1_pd(sdd[r]);
			size_t o = (n + r) * C;
			__m256 y0 = _mm512_cvtpd_ps(_mm512_add_pd(
				   _mm512_mul_pd(_mm512_mul_pd(v0[r], vs), w0),
				   b0)),
			       y1 = _mm512_cvtpd_ps(_mm512_add_pd(
				   _mm512_mul_pd(_mm512_mul_pd(v1[r], vs), w1),
				   b1));

			if (out) {
				_mm256_mask_storeu_ps(out + o, k0, y0);
				_mm256_mask_storeu_ps(out + o + 8, k1, y1);
			}
			if (out2) {
				/* the residual sum, as nn__add after */
				_mm256_mask_storeu_ps(
				    out2 + o, k0,
				    _mm256_add_ps(y0, _mm256_maskz_loadu_ps(
							  k0, res + o)));
				_mm256_mask_storeu_ps(
				    out2 + o + 8, k1,
				    _mm256_add_ps(y1, _mm256_maskz_loadu_ps(
							  k1, res + o + 8)));
			}
		}
		for (gq = 0; gq < LNG && 4 * gq < rows; gq++) {
			size_t k = rows - 4 * gq < 4 ? rows - 4 * gq : 4;

			_mm_storeu_ps(f4, _mm256_cvtpd_ps(m4[gq]));
			memcpy(mean + n + 4 * gq, f4, k * sizeof(float));
			_mm_storeu_ps(f4, _mm256_cvtpd_ps(s4[gq]));
			memcpy(rstd + n + 4 * gq, f4, k * sizeof(float));
		}
	}
}

__attribute__((target("avx512f,avx512vl"))) static void
layernorm_rows_avx512(float *out, float *mean, float *rstd, const float *inp,
		      const float *w, const float *b, size_t N, size_t C,
		      float eps)
{
	size_t n, q, r, nv = (C + 7) / 8;
	__mmask8 mk[8];
	__m512d wv[8], bv[8];
	__m256d cd = _mm256_set1_pd((double)C),
		ed = _mm256_set1_pd((double)eps), one = _mm256_set1_pd(1.0);

	for (q = 0; q < 8; q++) {
		size_t left = C > q * 8 ? C - q * 8 : 0;

		mk[q] = (__mmask8)(left >= 8 ? 0xffu : (1u << left) - 1u);
	}
	for (q = 0; q < nv; q++) {
		wv[q] =
		    _mm512_cvtps_pd(_mm256_maskz_loadu_ps(mk[q], w + q * 8));
		bv[q] =
		    _mm512_cvtps_pd(_mm256_maskz_loadu_ps(mk[q], b + q * 8));
	}
	for (n = 0; n < N; n += 4) {
		size_t rows = N - n < 4 ? N - n : 4;
		const float *x[4];
		double md[4], sdd[4];
		__m256d m4, s4;
		float f4[4];

		for (r = 0; r < 4; r++)
			x[r] = inp + (n + (r < rows ? r : rows - 1)) * C;
		m4 = _mm256_div_pd(
		    ln_combine(
			ln_partial(x[0], nv, mk, _mm512_setzero_pd(), 0),
			ln_partial(x[1], nv, mk, _mm512_setzero_pd(), 0),
			ln_partial(x[2], nv, mk, _mm512_setzero_pd(), 0),
			ln_partial(x[3], nv, mk, _mm512_setzero_pd(), 0)),
		    cd);
		_mm256_storeu_pd(md, m4);
		s4 = _mm256_div_pd(
		    ln_combine(
			ln_partial(x[0], nv, mk, _mm512_set1_pd(md[0]), 1),
			ln_partial(x[1], nv, mk, _mm512_set1_pd(md[1]), 1),
			ln_partial(x[2], nv, mk, _mm512_set1_pd(md[2]), 1),
			ln_partial(x[3], nv, mk, _mm512_set1_pd(md[3]), 1)),
		    cd);
		s4 = _mm256_div_pd(one, _mm256_sqrt_pd(_mm256_add_pd(s4, ed)));
		_mm256_storeu_pd(sdd, s4);
		for (r = 0; r < rows; r++) {
			__m512d vm = _mm512_set1_pd(md[r]),
				vs = _mm512_set1_pd(sdd[r]);
			float *y = out + (n + r) * C;

			for (q = 0; q < nv; q++) {
				__m512d v = _mm512_cvtps_pd(
				    _mm256_maskz_loadu_ps(mk[q], x[r] + q * 8));
				__m512d t = _mm512_add_pd(
				    _mm512_mul_pd(
					_mm512_mul_pd(_mm512_sub_pd(v, vm), vs),
					wv[q]),
				    bv[q]);

				_mm256_mask_storeu_ps(y + q * 8, mk[q],
						      _mm512_cvtpd_ps(t));
			}
		}
		_mm_storeu_ps(f4, _mm256_cvtpd_ps(m4));
		memcpy(mean + n, f4, rows * sizeof(float));
		_mm_storeu_ps(f4, _mm256_cvtpd_ps(s4));
		memcpy(rstd + n, f4, rows * sizeof(float));
	}
}

static void softmax_rows_lanes(float *x, size_t R, size_t C);
static void gelu_part(float *out, const float *inp, size_t n);
static void add_part(float *out, const float *a, const float *b, size_t n);
static void layernorm_part(float *out, float *mean, float *rstd,
			   const float *inp, const float *w, const float *b,
			   size_t N, size_t C, float eps);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* Rows of 16 or 64 (the feature gate; the attention and the patch gate),
 * nr rows per step so their dependency chains (max, exp, sum, division)
 * overlap: the operations and their order are softmax_rows_avx512's. C
 * and nr are constants once inlined. */
__attribute__((target("avx512f"), always_inline)) static inline size_t
softmax_rows16n_body(float *x, size_t R, const size_t C, const int nr,
		     float *out, const float *xm, const float *yr)
{
	size_t r;
	int q, i, nv = (int)(C / 16);

	for (r = 0; r + (size_t)nr <= R; r += (size_t)nr) {
		__m512 v[4][4], m[4], s[4];

		for (i = 0; i < nr; i++) {
			m[i] = _mm512_set1_ps(-INFINITY);
			s[i] = _mm512_setzero_ps();
			for (q = 0; q < nv; q++) {
				v[i][q] =
				    _mm512_loadu_ps(x + (r + i) * C + q * 16);
				m[i] = _mm512_max_ps(m[i], v[i][q]);
			}
			m[i] = _mm512_set1_ps(_mm512_reduce_max_ps(m[i]));
		}
		for (i = 0; i < nr; i++) {
			for (q = 0; q < nv; q++) {
				v[i][q] = exp16(_mm512_sub_ps(v[i][q], m[i]));
				s[i] = _mm512_add_ps(s[i], v[i][q]);
			}
			s[i] = _mm512_set1_ps(_mm512_reduce_add_ps(s[i]));
		}
		for (i = 0; i < nr; i++)
			for (q = 0; q < nv; q++) {
				size_t o = (r + i) * C + q * 16;
				__m512 g = _mm512_div_ps(v[i][q], s[i]);

				if (!out) {
					_mm512_storeu_ps(x + o, g);
					continue;
				}
				/* out = xm * g + yr, two roundings */
				g = _mm512_mul_ps(_mm512_loadu_ps(xm + o), g);
				_mm512_storeu_ps(
				    out + o,
				    _mm512_add_ps(g, _mm512_loadu_ps(yr + o)));
			}
	}
	return r;
}

/* rows done (the rest take softmax_rows_avx512) */
__attribute__((target("avx512f"))) static size_t
softmax_rows16n_avx512(float *x, size_t R, size_t C)
{
	if (C == 64)
		return softmax_rows16n_body(x, R, 64, 2, NULL, NULL, NULL);
	if (C == 16)
		return softmax_rows16n_body(x, R, 16, 4, NULL, NULL, NULL);
	return 0;
}

/* rows of 16: out = xm * softmax(x) + yr, x left as it was */
__attribute__((target("avx512f"))) static size_t
softmax_mul_add16_avx512(float *x, size_t R, float *out, const float *xm,
			 const float *yr)
{
	return softmax_rows16n_body(x, R, 16, 4, out, xm, yr);
}
#endif

static void softmax_part(float *x, size_t R, size_t C)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (C <= 64 && nn__isa() == NN_ISA_AVX512) {
		size_t r = softmax_rows16n_avx512(x, R, C);

		if (r < R)
			softmax_rows_avx512(x + r * C, R - r, C);
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

/* Gate softmax down the columns of one window (the channel mixer's gate
 * with the weights on the left): g[C][ld] holds the logits of columns
 * j < n on entry, then g[c][j] = softmax over c, and gated[c][j] =
 * x[c][j] g[c][j]. Per column these are the row softmax's operations in
 * its order (max; exp_f(v - max); LANES partial sums, lane c mod LANES
 * summed in c order, then the 8, 4, 2, 1 tree; one division), so the
 * bits equal the row kernels', and the columns vectorise with no
 * horizontal reduction. */
#define CB 16
static inline __attribute__((always_inline)) void
gate_cols_block(float *g, float *gated, const float *x, size_t C, size_t ld,
		size_t w)
{
	float mx[CB], sm[LANES][CB];
	size_t c, jj, l, h;

	for (jj = 0; jj < w; jj++)
		mx[jj] = -INFINITY;
	for (l = 0; l < LANES; l++)
		for (jj = 0; jj < w; jj++)
			sm[l][jj] = 0.0f;
	for (c = 0; c < C; c++)
		for (jj = 0; jj < w; jj++) {
			float v = g[c * ld + jj];

			mx[jj] = v > mx[jj] ? v : mx[jj];
		}
	for (c = 0; c < C; c++) {
		float *sl = sm[c % LANES];

		for (jj = 0; jj < w; jj++) {
			float e = exp_f(g[c * ld + jj] - mx[jj]);

			g[c * ld + jj] = e;
			sl[jj] += e;
		}
	}
	for (h = LANES / 2; h > 0; h /= 2)
		for (l = 0; l < h; l++)
			for (jj = 0; jj < w; jj++)
				sm[l][jj] += sm[l + h][jj];
	for (c = 0; c < C; c++)
		for (jj = 0; jj < w; jj++) {
			float v = g[c * ld + jj] / sm[0][jj];

			g[c * ld + jj] = v;
			if (gated)
				gated[c * ld + jj] = x[c * ld + jj] * v;
		}
}

NN_CLONES static void gate_cols_part(float *g, float *gated, const float *x,
				     size_t C, size_t ld, size_t n)
{
	size_t j;

	for (j = 0; j + CB <= n; j += CB)
		gate_cols_block(g + j, gated + j, x + j, C, ld, CB);
	if (j < n)
		gate_cols_block(g + j, gated + j, x + j, C, ld, n - j);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* gate_cols_block on 16 columns in one register: exp16 equals exp_f for
 * x <= 0, _mm512_max_ps(v, m) is v > m ? v : m */
__attribute__((target("avx512f"))) static size_t
gate_cols_avx512(float *g, float *gated, const float *x, size_t C, size_t ld,
		 size_t n)
{
	__m512 sm[LANES];
	size_t j, c;
	int l, h;

	for (j = 0; j + 16 <= n; j += 16) {
		__m512 mx = _mm512_set1_ps(-INFINITY), s;

		for (c = 0; c < C; c++)
			mx = _mm512_max_ps(_mm512_loadu_ps(g + c * ld + j), mx);
		for (l = 0; l < LANES; l++)
			sm[l] = _mm512_setzero_ps();
		for (c = 0; c < C; c++) {
			__m512 e = exp16(
			    _mm512_sub_ps(_mm512_loadu_ps(g + c * ld + j), mx));

			_mm512_storeu_ps(g + c * ld + j, e);
			sm[c % LANES] = _mm512_add_ps(sm[c % LANES], e);
		}
		for (h = LANES / 2; h > 0; h /= 2)
			for (l = 0; l < h; l++)
				sm[l] = _mm512_add_ps(sm[l], sm[l + h]);
		s = sm[0];
		for (c = 0; c < C; c++) {
			__m512 v =
			    _mm512_div_ps(_mm512_loadu_ps(g + c * ld + j), s);

			_mm512_storeu_ps(g + c * ld + j, v);
			if (gated)
				_mm512_storeu_ps(
				    gated + c * ld + j,
				    _mm512_mul_ps(
					_mm512_loadu_ps(x + c * ld + j), v));
		}
	}
	return j;
}
#endif

void nn__gate_cols(float *g, float *gated, const float *x, size_t C, size_t n,
		   size_t ld)
{
	size_t j = 0;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (nn__isa() == NN_ISA_AVX512)
		j = gate_cols_avx512(g, gated, x, C, ld, n);
#endif
	if (j < n)
		gate_cols_part(g + j, gated ? gated + j : NULL,
			       x ? x + j : NULL, C, ld, n - j);
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

NN_CLONES static void add_part(float *out, const float *a, const float *b,
			       size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

/* out = a * g + y, two roundings (no contraction), as the unfused
 * product then residual sum */
NN_CLONES static void mul_add_part(float *out, const float *a, const float *g,
				   const float *y, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		float v = a[i] * g[i];

		out[i] = v + y[i];
	}
}

NN_CLONES static void mul_part(float *out, const float *a, const float *g,
			       size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = a[i] * g[i];
}

void nn__add(float *out, const float *x, const float *y, size_t n)
{
	SPLIT(n, n, add_part(out + a, x + a, y + a, z - a));
}

void nn__mul_add(float *out, const float *x, const float *g, const float *y,
		 size_t n)
{
	SPLIT(n, n, mul_add_part(out + a, x + a, g + a, y + a, z - a));
}

void nn__mul(float *out, const float *x, const float *g, size_t n)
{
	SPLIT(n, n, mul_part(out + a, x + a, g + a, z - a));
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* gelu_part's operations in its order on 16 lanes (GCC if-converted the
 * clamps of the generic loop into five mask operations and blends: 29
 * instructions per 16 values where these are 22). */
__attribute__((target("avx512f"))) static void
gelu_avx512(float *out, const float *inp, size_t n)
{
	size_t i;

	for (i = 0; i < n; i += 16) {
		__mmask16 k =
		    (__mmask16)(n - i >= 16 ? 0xffffu : (1u << (n - i)) - 1u);
		__m512 x = _mm512_maskz_loadu_ps(k, inp + i), a, x2, p, q;

		a = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
		a = _mm512_min_ps(a, _mm512_set1_ps(4.0f));
		a = _mm512_max_ps(a, _mm512_set1_ps(-4.0f));
		x2 = _mm512_mul_ps(a, a);
		p = _mm512_fmadd_ps(x2, _mm512_set1_ps(-2.72614225801306e-10f),
				    _mm512_set1_ps(2.77068142495902e-08f));
		p = _mm512_fmadd_ps(x2, p,
				    _mm512_set1_ps(-2.10102402082508e-06f));
		p = _mm512_fmadd_ps(x2, p,
				    _mm512_set1_ps(-5.69250639462346e-05f));
		p = _mm512_fmadd_ps(x2, p,
				    _mm512_set1_ps(-7.34990630326855e-04f));
		p = _mm512_fmadd_ps(x2, p,
				    _mm512_set1_ps(-2.95459980854025e-03f));
		p = _mm512_fmadd_ps(x2, p,
				    _mm512_set1_ps(-1.60960333262415e-02f));
		p = _mm512_mul_ps(a, p);
		q = _mm512_fmadd_ps(x2, _mm512_set1_ps(-1.45660718464996e-05f),
				    _mm512_set1_ps(-2.13374055278905e-04f));
		q = _mm512_fmadd_ps(x2, q,
				    _mm512_set1_ps(-1.68282697438203e-03f));
		q = _mm512_fmadd_ps(x2, q,
				    _mm512_set1_ps(-7.37332916720468e-03f));
		q = _mm512_fmadd_ps(x2, q,
				    _mm512_set1_ps(-1.42647390514189e-02f));
		p = _mm512_div_ps(p, q);
		x = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x),
				  _mm512_add_ps(_mm512_set1_ps(1.0f), p));
		_mm512_mask_storeu_ps(out + i, k, x);
	}
}
#endif

static void gelu_pick(float *out, const float *inp, size_t n)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (nn__isa() == NN_ISA_AVX512) {
		gelu_avx512(out, inp, n);
		return;
	}
#endif
	gelu_part(out, inp, n);
}

void nn__gelu_forward(float *out, const float *inp, size_t n)
{
	SPLIT(n, n, gelu_pick(out + a, inp + a, z - a));
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

void nn__softmax_mul_add(float *g, float *out, const float *x, const float *y,
			 size_t R, size_t C)
{
	size_t r = 0;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	/* one pass, on the calling thread when the rows are few */
	if (C == 16 && nn__isa() == NN_ISA_AVX512 &&
	    (nn__threads() <= 1 || R * C < PAR_MIN))
		r = softmax_mul_add16_avx512(g, R, out, x, y);
#endif
	if (r < R) {
		nn__softmax_rows(g + r * C, R - r, C);
		nn__mul_add(out + r * C, x + r * C, g + r * C, y + r * C,
			    (R - r) * C);
	}
}

/* out may be NULL when out2 is not: out2 = LN(inp) + res */
static void layernorm_pick(float *out, float *mean, float *rstd,
			   const float *inp, const float *w, const float *b,
			   size_t N, size_t C, float eps, const float *res,
			   float *out2)
{
	float *o = out ? out : out2;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (C <= 16 && nn__isa() == NN_ISA_AVX512) {
		layernorm_rows16_avx512(out, mean, rstd, inp, w, b, N, C, eps,
					res, out2);
		return;
	}
	if (C <= 64 && nn__isa() == NN_ISA_AVX512)
		layernorm_rows_avx512(o, mean, rstd, inp, w, b, N, C, eps);
	else
#endif
		layernorm_part(o, mean, rstd, inp, w, b, N, C, eps);
	if (out2)
		add_part(out2, o, res, N * C);
}

void nn__layernorm_forward(float *out, float *mean, float *rstd,
			   const float *inp, const float *w, const float *b,
			   size_t N, size_t C, float eps)
{
	SPLIT(N, N * C,
	      layernorm_pick(out + a * C, mean + a, rstd + a, inp + a * C, w, b,
			     z - a, C, eps, NULL, NULL));
}

void nn__layernorm_forward_res(float *out, float *mean, float *rstd,
			       const float *inp, const float *w, const float *b,
			       size_t N, size_t C, float eps, const float *res,
			       float *out2)
{
	SPLIT(N, N * C,
	      layernorm_pick(out ? out + a * C : NULL, mean + a, rstd + a,
			     inp + a * C, w, b, z - a, C, eps, res + a * C,
			     out2 + a * C));
}
