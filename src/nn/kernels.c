/*
 * kernels.c - forward/backward kernels of the PatchTSMixer engine on raw
 * float buffers (llm.c style): layout changes, attention, gating, the
 * channel mixer with the weights on the left, the backward passes,
 * dropout. The matrix products go through gemm.c (SIMD, float32) and the
 * forward GELU / softmax / LayerNorm live in vmath.c; the rest is C (with
 * AVX-512 16 x 16 register transposes where layouts turn) whose loops are
 * split across OpenMP threads with every output owned by one thread. No
 * kernel allocates. Non-GEMM reductions accumulate in double (see
 * nn_internal.h).
 */
#include <math.h>
#include <string.h>

#include "nn_internal.h"

/* ---- matmul ------------------------------------------------------------ */

/* Row-parallel loops: every output element is owned by one thread and
 * summed in a fixed order, so results are bit-identical for any thread
 * count. The thread count is the calling thread's nn__threads() (1 unless
 * the model was given more), so nothing spins when threads are not asked
 * for. */
#ifdef _OPENMP
#define NN_PARALLEL_FOR                                                        \
	_Pragma("omp parallel for if (par) num_threads(nt) schedule(static)")
#else
#define NN_PARALLEL_FOR
#endif
/* below nn__par_min() multiply-adds a kernel stays on one thread */
#define PAR_MIN nn__par_min()
#define BLK	64

/* The forward product lives in gemm.c (packed, SIMD). */

void nn__matmul_backward(float *dinp, float *dw, float *db, const float *dout,
			 const float *inp, const float *w, size_t N, size_t IC,
			 size_t OC)
{
	size_t o, nn;

	/* dinp[N,IC] += dout[N,OC] @ w[OC,IC]: w rows are already the
	 * contiguous operand */
	if (dinp)
		nn__gemm(dinp, IC, dout, OC, 1, w, IC, NULL, N, IC, OC, 1);
	/* dw[OC,IC] += dout^T @ inp: A = dout read transposed (row stride
	 * 1, k stride OC), summed over n in order */
	if (dw)
		nn__gemm(dw, IC, dout, 1, OC, inp, IC, NULL, OC, IC, N, 1);
	if (db) {
		/* column sums in double, rows in order, 256 columns at a
		 * time so the inner loop runs along contiguous memory */
		size_t o0;

		for (o0 = 0; o0 < OC; o0 += 256) {
			size_t m = OC - o0 < 256 ? OC - o0 : 256;
			double acc[256];

			for (o = 0; o < m; o++)
				acc[o] = 0.0;
			for (nn = 0; nn < N; nn++) {
				const float *dr = dout + nn * OC + o0;

				for (o = 0; o < m; o++)
					acc[o] += (double)dr[o];
			}
			for (o = 0; o < m; o++)
				db[o0 + o] += (float)acc[o];
		}
	}
}

/* ---- layernorm --------------------------------------------------------- */

/* nn__layernorm_forward is in vmath.c. */

void nn__layernorm_backward(float *dinp, float *dw, float *db,
			    const float *dout, const float *inp, const float *w,
			    const float *mean, const float *rstd, size_t N,
			    size_t C)
{
	size_t n, i;

	for (n = 0; n < N; n++) {
		const float *x = inp + n * C, *dy = dout + n * C;
		float *dx = dinp + n * C;
		double m = mean[n], s = rstd[n];
		double dnorm_mean = 0.0, dnorm_norm_mean = 0.0;

		for (i = 0; i < C; i++) {
			double xhat = ((double)x[i] - m) * s;
			double dn = (double)w[i] * dy[i];

			dnorm_mean += dn;
			dnorm_norm_mean += dn * xhat;
		}
		dnorm_mean /= (double)C;
		dnorm_norm_mean /= (double)C;
		for (i = 0; i < C; i++) {
			double xhat = ((double)x[i] - m) * s;
			double dn = (double)w[i] * dy[i];

			if (db)
				db[i] += dy[i];
			if (dw)
				dw[i] += (float)(xhat * dy[i]);
			dx[i] +=
			    (float)((dn - dnorm_mean - xhat * dnorm_norm_mean) *
				    s);
		}
	}
}

/* ---- GELU (erf form; the tanh approximation fails the parity tests) ---- */

/* nn__gelu_forward/backward are in vmath.c (float32, vectorised). */

/* ---- softmax rows ------------------------------------------------------- */

static void softmax_row(float *y, const float *x, size_t C)
{
	double mx = -INFINITY, sum = 0.0;
	size_t i;

	for (i = 0; i < C; i++)
		if (x[i] > mx)
			mx = x[i];
	for (i = 0; i < C; i++) {
		double e = exp((double)x[i] - mx);
		y[i] = (float)e;
		sum += e;
	}
	for (i = 0; i < C; i++)
		y[i] = (float)((double)y[i] / sum);
}

/* ---- gated attention ---------------------------------------------------- */

void nn__gate_probs(float *g, const float *inp, const float *w, const float *b,
		    size_t N, size_t C)
{
	nn__matmul_forward(g, inp, w, b, N, C, C); /* logits in place */
	nn__softmax_rows(g, N, C);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define NN_T16 1

/* v[r] (16 rows of 16) -> column c in v[c]: 64 shuffles, pure data
 * movement. */
__attribute__((target("avx512f"), always_inline)) static inline void
transpose16(__m512 *v)
{
	__m512 t[16], u[16];
	int i;

	for (i = 0; i < 16; i += 2) {
		t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
		t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
	}
	/* u[4q + k]: lane L holds column 4L + k of rows 4q .. 4q + 3 */
	for (i = 0; i < 16; i += 4) {
		__m512d a0 = _mm512_castps_pd(t[i]),
			a1 = _mm512_castps_pd(t[i + 1]),
			a2 = _mm512_castps_pd(t[i + 2]),
			a3 = _mm512_castps_pd(t[i + 3]);

		u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
		u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
		u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
		u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
	}
	/* t[k] (k < 4): columns k, k + 8 of rows 0-7; t[4 + k]: columns
	 * 4 + k, 12 + k of rows 0-7; t[8 + ...]: the same for rows 8-15 */
	for (i = 0; i < 4; i++) {
		t[i] = _mm512_shuffle_f32x4(u[i], u[4 + i], 0x88);
		t[4 + i] = _mm512_shuffle_f32x4(u[i], u[4 + i], 0xdd);
		t[8 + i] = _mm512_shuffle_f32x4(u[8 + i], u[12 + i], 0x88);
		t[12 + i] = _mm512_shuffle_f32x4(u[8 + i], u[12 + i], 0xdd);
	}
	for (i = 0; i < 4; i++) {
		v[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
		v[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xdd);
		v[4 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0x88);
		v[12 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0xdd);
	}
}

__attribute__((target("avx512f"))) static void
transpose16_mem(float *dst, size_t ldd, const float *src, size_t lds)
{
	__m512 v[16];
	int r;

	for (r = 0; r < 16; r++)
		v[r] = _mm512_loadu_ps(src + (size_t)r * lds);
	transpose16(v);
	for (r = 0; r < 16; r++)
		_mm512_storeu_ps(dst + (size_t)r * ldd, v[r]);
}

void nn__transpose16x16(float *dst, size_t ldd, const float *src, size_t lds)
{
	transpose16_mem(dst, ldd, src, lds);
}

/* R == 16, C a multiple of 16 */
__attribute__((target("avx512f"))) static void
gate_mul_t16(float *outt, float *gated, const float *inp, const float *g,
	     const float *add, size_t A, size_t C)
{
	size_t a, c0;
	int r;

	for (a = 0; a < A; a++)
		for (c0 = 0; c0 < C; c0 += 16) {
			__m512 v[16];
			size_t o = a * 16 * C + c0;

			for (r = 0; r < 16; r++) {
				v[r] = _mm512_mul_ps(
				    _mm512_loadu_ps(inp + o + (size_t)r * C),
				    _mm512_loadu_ps(g + o + (size_t)r * C));
				if (gated)
					_mm512_storeu_ps(
					    gated + o + (size_t)r * C, v[r]);
			}
			transpose16(v);
			for (r = 0; r < 16; r++) {
				size_t q = (a * C + c0 + (size_t)r) * 16;

				if (add)
					v[r] = _mm512_add_ps(
					    v[r], _mm512_loadu_ps(add + q));
				_mm512_storeu_ps(outt + q, v[r]);
			}
		}
}
#else
#define NN_T16 0

void nn__transpose16x16(float *dst, size_t ldd, const float *src, size_t lds)
{
	size_t r, c;

	for (r = 0; r < 16; r++)
		for (c = 0; c < 16; c++)
			dst[c * ldd + r] = src[r * lds + c];
}
#endif

static void gate_mul_t_part(float *outt, float *gated, const float *inp,
			    const float *g, const float *add, size_t A,
			    size_t R, size_t C)
{
	size_t a, r, c;

#if NN_T16
	if (R == 16 && C % 16 == 0 && nn__isa() == NN_ISA_AVX512) {
		gate_mul_t16(outt, gated, inp, g, add, A, C);
		return;
	}
#endif
	for (a = 0; a < A; a++)
		for (r = 0; r < R; r++)
			for (c = 0; c < C; c++) {
				size_t i = (a * R + r) * C + c,
				       o = (a * C + c) * R + r;
				float v = inp[i] * g[i];

				if (gated)
					gated[i] = v;
				outt[o] = add ? v + add[o] : v;
			}
}

void nn__gate_mul_t(float *outt, float *gated, const float *inp, const float *g,
		    const float *add, size_t A, size_t R, size_t C)
{
	int nt = nn__threads(), par = nt > 1 && A * R * C >= PAR_MIN / 64;
	long t;

	(void)par;
	/* contiguous block ranges per thread; every output has one owner */
	NN_PARALLEL_FOR
	for (t = 0; t < nt; t++) {
		size_t a0 = A * (size_t)t / (size_t)nt,
		       a1 = A * (size_t)(t + 1) / (size_t)nt, o = a0 * R * C;

		gate_mul_t_part(outt + o, gated ? gated + o : NULL, inp + o,
				g + o, add ? add + o : NULL, a1 - a0, R, C);
	}
}

void nn__gate_forward(float *out, float *g, const float *inp, const float *w,
		      const float *b, size_t N, size_t C)
{
	nn__gate_probs(g, inp, w, b, N, C);
	nn__mul(out, inp, g, N * C);
}

void nn__gate_backward(float *dinp, float *dw, float *db, float *dlogits,
		       const float *dout, const float *inp, const float *g,
		       const float *w, size_t N, size_t C)
{
	size_t n, i;

	for (n = 0; n < N; n++) {
		const float *gr = g + n * C, *x = inp + n * C,
			    *dy = dout + n * C;
		float *dl = dlogits + n * C;
		double dot = 0.0;

		/* out = x * g: direct path, then dg = dy * x */
		for (i = 0; i < C; i++) {
			dinp[n * C + i] += dy[i] * gr[i];
			dot += (double)dy[i] * x[i] * gr[i];
		}
		for (i = 0; i < C; i++)
			dl[i] = (float)((double)gr[i] *
					((double)dy[i] * x[i] - dot));
	}
	nn__matmul_backward(dinp, dw, db, dlogits, inp, w, N, C, C);
}

/* ---- channel mixer, weights on the left ---------------------------------- */

static void chmix_window(const struct nn_chmix *p, size_t b)
{
	size_t C = p->C, CE = p->CE, PD = p->PD, ld = p->ld, D = p->D,
	       P = PD / D, r;
	size_t o = b * C * ld, oh = b * CE * ld;
	const float *in;

	if (p->xw) {
		/* straight into the padded rows: no copy */
		for (r = 0; r < C; r++)
			nn__layernorm_forward(p->xw + o + r * ld,
					      p->mean + (b * C + r) * P,
					      p->rstd + (b * C + r) * P,
					      p->xin + (b * C + r) * PD, p->lnw,
					      p->lnb, P, D, p->eps);
		in = p->xw + o;
	} else {
		nn__layernorm_forward(p->xn + b * C * PD, p->mean + b * C * P,
				      p->rstd + b * C * P, p->xin + b * C * PD,
				      p->lnw, p->lnb, C * P, D, p->eps);
		in = p->xn + b * C * PD;
	}
	if (p->wg) {
		nn__gemm1_rowbias(p->g + o, ld, p->wg, C, 1, in, ld, p->bg, C,
				  PD, C);
		nn__gate_cols(p->g + o, p->gated + o, in, C, PD, ld);
		in = p->gated + o;
	}
	nn__gemm1_rowbias(p->fc1 + oh, ld, p->w1, C, 1, in, ld, p->b1, CE, PD,
			  C);
	for (r = 0; r < CE; r++) {
		nn__gelu_forward(p->gelu + oh + r * ld, p->fc1 + oh + r * ld,
				 PD);
		if (p->mask1)
			nn__mul_inplace(p->gelu + oh + r * ld,
					p->mask1 + (b * CE + r) * PD, PD);
	}
	nn__gemm1_rowbias(p->fc2 + o, ld, p->w2, CE, 1, p->gelu + oh, ld, p->b2,
			  C, PD, CE);
	for (r = 0; r < C; r++) {
		const float *f = p->fc2 + o + r * ld,
			    *x = p->xin + (b * C + r) * PD;
		float *y = p->out + (b * C + r) * PD;

		if (p->mask2)
			nn__mul_inplace(p->fc2 + o + r * ld,
					p->mask2 + (b * C + r) * PD, PD);
		nn__add(y, f, x, PD);
	}
}

void nn__chmix_forward(const struct nn_chmix *p, size_t B)
{
	int nt = nn__threads(),
	    par = nt > 1 && B > 1 &&
		  B * p->PD * p->CE * p->C * 3 >= nn__par_min();
	long bl;

	(void)par;
	/* one window per task; the kernels inside stay on their thread */
	nn__set_threads(1);
	NN_PARALLEL_FOR
	for (bl = 0; bl < (long)B; bl++) {
		nn__set_threads(1);
		chmix_window(p, (size_t)bl);
	}
	nn__set_threads(nt);
}

/* ---- self-attention ----------------------------------------------------- */

static void attention_forward_scalar(float *ctx, float *probs, const float *q,
				     const float *k, const float *v,
				     const float *mask, size_t N, size_t P,
				     size_t D, size_t nh)
{
	size_t hd = D / nh;
	float scale = 1.0f / sqrtf((float)hd);
	long nl;

	for (nl = 0; nl < (long)N; nl++) {
		size_t n = (size_t)nl, h, i, j, d, d0;

		for (h = 0; h < nh; h++) {
			for (i = 0; i < P; i++) {
				const float *qi = q + (n * P + i) * D + h * hd;
				float *pr = probs + ((n * nh + h) * P + i) * P;
				const float *mr =
				    mask ? mask + ((n * nh + h) * P + i) * P
					 : NULL;
				float *ci = ctx + (n * P + i) * D + h * hd;

				for (j = 0; j < P; j++) {
					const float *kj =
					    k + (n * P + j) * D + h * hd;
					double acc = 0.0;

					/* transformers scales q before the
					 * product: (q * s) . k */
					for (d = 0; d < hd; d++)
						acc += (double)(qi[d] * scale) *
						       kj[d];
					pr[j] = (float)acc;
				}
				softmax_row(pr, pr, P);
				/* ctx = probs . v, summed over j in order for
				 * every d (blocks of d keep v rows contiguous)
				 */
				for (d0 = 0; d0 < hd; d0 += BLK) {
					size_t m =
					    hd - d0 < BLK ? hd - d0 : BLK;
					double acc[BLK];

					for (d = 0; d < m; d++)
						acc[d] = 0.0;
					for (j = 0; j < P; j++) {
						const float *vj =
						    v + (n * P + j) * D +
						    h * hd + d0;
						double pj = pr[j];

						if (mr)
							pj *= mr[j];
						for (d = 0; d < m; d++)
							acc[d] += pj * vj[d];
					}
					for (d = 0; d < m; d++)
						ci[d0 + d] = (float)acc[d];
				}
			}
		}
	}
}

/* The attention's k^T and scaled q for one head when D == hd == 16 and P
 * is a multiple of 16 (the model: one head of 16): 16 x 16 register
 * transposes; 0 when it does not apply. Pure data movement and the same
 * products, so the same bits. */
#if NN_T16
__attribute__((target("avx512f"))) static int
att_prep16_avx512(float *kt, float *qs, const float *k, const float *q,
		  float scale, size_t P)
{
	__m512 v[16], sv = _mm512_set1_ps(scale);
	size_t j0;
	int r;

	for (j0 = 0; j0 < P; j0 += 16) {
		for (r = 0; r < 16; r++) {
			v[r] = _mm512_loadu_ps(k + (j0 + (size_t)r) * 16);
			_mm512_storeu_ps(
			    qs + (j0 + (size_t)r) * 16,
			    _mm512_mul_ps(
				_mm512_loadu_ps(q + (j0 + (size_t)r) * 16),
				sv));
		}
		transpose16(v);
		for (r = 0; r < 16; r++)
			_mm512_storeu_ps(kt + (size_t)r * P + j0, v[r]);
	}
	return 1;
}
#endif

static int att_prep16(float *kt, float *qs, const float *k, const float *q,
		      float scale, size_t P, size_t D, size_t hd)
{
#if NN_T16
	if (D == 16 && hd == 16 && P % 16 == 0 && nn__isa() == NN_ISA_AVX512)
		return att_prep16_avx512(kt, qs, k, q, scale, P);
#endif
	(void)kt, (void)qs, (void)k, (void)q, (void)scale, (void)P, (void)D;
	(void)hd;
	return 0;
}

/* Per-thread scratch of the attention forward: scale * k^T of one head
 * [hd,P], the scaled queries [P,hd] and the masked probabilities [P,P]. Larger
 * sequences take the scalar path. */
#define ATT_MAX 8192
static _Thread_local float att_kt[ATT_MAX];
static _Thread_local float att_pm[ATT_MAX];
static _Thread_local float att_qs[ATT_MAX];
static _Thread_local float att_mt[ATT_MAX];

/* One sequence, one head of 16, P a multiple of 16, with the keys on the
 * left: st[j][i] = k_j . (q_i * scale), a softmax down the
 * columns (over the keys j), ct[d][i] = sum_j v[j][d] st[j][i], then ctx
 * (and probs when kept) by 16 x 16 register transposes. Every product is
 * the chain of the row-major form and the column softmax repeats the row
 * softmax's operations in order, so the bits are the same; the softmax
 * needs no horizontal reductions and the second product is 16 x P instead
 * of P x 16 (four times the columns per broadcast). mask (dropout, may
 * be NULL) is [P][P] by query, applied to a copy mt. Scratch: qt [16][P],
 * st, mt [P][P], ct [16][P]. */
#if NN_T16
__attribute__((target("avx512f"))) static void
att_seq16(float *ctx, float *probs, const float *q, const float *k,
	  const float *v, const float *mask, float scale, size_t P, float *qt,
	  float *st, float *ct, float *mt)
{
	const float *pw = st;
	__m512 x[16], sv = _mm512_set1_ps(scale);
	size_t j0, i0;
	int r;

	for (j0 = 0; j0 < P; j0 += 16) {
		for (r = 0; r < 16; r++)
			x[r] = _mm512_mul_ps(
			    _mm512_loadu_ps(q + (j0 + (size_t)r) * 16), sv);
		transpose16(x);
		for (r = 0; r < 16; r++)
			_mm512_storeu_ps(qt + (size_t)r * P + j0, x[r]);
	}
	nn__gemm1(st, P, k, 16, 1, qt, P, NULL, P, P, 16, 0);
	nn__gate_cols(st, NULL, NULL, P, P, P);
	if (mask) {
		/* mt[j][i] = st[j][i] * mask[i][j]: the dropped probs */
		for (j0 = 0; j0 < P; j0 += 16)
			for (i0 = 0; i0 < P; i0 += 16) {
				for (r = 0; r < 16; r++)
					x[r] = _mm512_loadu_ps(
					    mask + (i0 + (size_t)r) * P + j0);
				transpose16(x);
				for (r = 0; r < 16; r++) {
					size_t o = (j0 + (size_t)r) * P + i0;

					_mm512_storeu_ps(
					    mt + o,
					    _mm512_mul_ps(
						_mm512_loadu_ps(st + o), x[r]));
				}
			}
		pw = mt;
	}
	nn__gemm1(ct, P, v, 1, 16, pw, P, NULL, 16, P, P, 0);
	for (i0 = 0; i0 < P; i0 += 16) {
		for (r = 0; r < 16; r++)
			x[r] = _mm512_loadu_ps(ct + (size_t)r * P + i0);
		transpose16(x);
		for (r = 0; r < 16; r++)
			_mm512_storeu_ps(ctx + (i0 + (size_t)r) * 16, x[r]);
	}
	if (!probs)
		return;
	for (j0 = 0; j0 < P; j0 += 16)
		for (i0 = 0; i0 < P; i0 += 16) {
			for (r = 0; r < 16; r++)
				x[r] = _mm512_loadu_ps(
				    st + (j0 + (size_t)r) * P + i0);
			transpose16(x);
			for (r = 0; r < 16; r++)
				_mm512_storeu_ps(
				    probs + (i0 + (size_t)r) * P + j0, x[r]);
		}
}
#endif

void nn__attention_forward(float *ctx, float *probs, const float *q,
			   const float *k, const float *v, const float *mask,
			   size_t N, size_t P, size_t D, size_t nh,
			   int keep_probs)
{
	size_t hd = D / nh;
	float scale = 1.0f / sqrtf((float)hd);
	int par = N * P * P * D > PAR_MIN, nt = nn__threads();
	long nl;

#if NN_T16
	if (nh == 1 && D == 16 && P % 16 == 0 && P * P <= ATT_MAX &&
	    nn__isa() == NN_ISA_AVX512) {
		(void)par;
		NN_PARALLEL_FOR
		for (nl = 0; nl < (long)N; nl++) {
			size_t o = (size_t)nl * P * D;

			att_seq16(ctx + o,
				  keep_probs ? probs + (size_t)nl * P * P
					     : NULL,
				  q + o, k + o, v + o,
				  mask ? mask + (size_t)nl * P * P : NULL,
				  scale, P, att_kt, att_pm, att_qs, att_mt);
		}
		return;
	}
#endif
	(void)keep_probs;

	if (hd * P > ATT_MAX || P * P > ATT_MAX) {
		attention_forward_scalar(ctx, probs, q, k, v, mask, N, P, D,
					 nh);
		return;
	}
	(void)par;
	(void)nt;
	/* one sequence per task; the products run serially inside */
	NN_PARALLEL_FOR
	for (nl = 0; nl < (long)N; nl++) {
		size_t n = (size_t)nl, h, i, j, d;
		float *kt = att_kt, *pm = att_pm, *qs = att_qs;

		for (h = 0; h < nh; h++) {
			const float *qh = q + n * P * D + h * hd;
			const float *vh = v + n * P * D + h * hd;
			float *pr = probs + (n * nh + h) * P * P;
			const float *pw = pr;

			/* scores = (q * scale) k^T: transformers scales q
			 * (rounded to float) before the product */
			if (!att_prep16(kt, qs, k + n * P * D, qh, scale, P, D,
					hd))
				for (j = 0; j < P; j++)
					for (d = 0; d < hd; d++) {
						kt[d * P + j] =
						    k[(n * P + j) * D + h * hd +
						      d];
						qs[j * hd + d] =
						    qh[j * D + d] * scale;
					}
			nn__gemm1(pr, P, qs, hd, 1, kt, P, NULL, P, P, hd, 0);
			nn__softmax_rows(pr, P, P);
			if (mask) {
				const float *mr = mask + (n * nh + h) * P * P;

				for (i = 0; i < P * P; i++)
					pm[i] = pr[i] * mr[i];
				pw = pm;
			}
			/* ctx[P,hd] = probs[P,P] @ v[P,hd] */
			nn__gemm1(ctx + n * P * D + h * hd, D, pw, P, 1, vh, D,
				  NULL, P, hd, P, 0);
		}
	}
}

static void attention_backward_scalar(float *dq, float *dk, float *dv,
				      float *dprobs, const float *dctx,
				      const float *q, const float *k,
				      const float *v, const float *probs,
				      const float *mask, size_t N, size_t P,
				      size_t D, size_t nh)
{
	size_t hd = D / nh;
	float scale = 1.0f / sqrtf((float)hd);
	long nl;

	for (nl = 0; nl < (long)N; nl++) {
		size_t n = (size_t)nl, h, i, j, d;

		for (h = 0; h < nh; h++) {
			for (i = 0; i < P; i++) {
				const float *pr =
				    probs + ((n * nh + h) * P + i) * P;
				const float *mr =
				    mask ? mask + ((n * nh + h) * P + i) * P
					 : NULL;
				const float *dci =
				    dctx + (n * P + i) * D + h * hd;
				const float *qi = q + (n * P + i) * D + h * hd;
				float *dqi = dq + (n * P + i) * D + h * hd;
				float *dp = dprobs + ((n * nh + h) * P + i) * P;
				double dot = 0.0;

				for (j = 0; j < P; j++) {
					const float *vj =
					    v + (n * P + j) * D + h * hd;
					float *dvj =
					    dv + (n * P + j) * D + h * hd;
					double pj = pr[j], acc = 0.0;

					if (mr)
						pj *= mr[j];
					for (d = 0; d < hd; d++) {
						acc += (double)dci[d] * vj[d];
						dvj[d] += (float)(pj * dci[d]);
					}
					if (mr)
						acc *= mr[j];
					dp[j] = (float)acc;
					dot += acc * pr[j];
				}
				/* softmax backward, then scores = (q s) . k */
				for (j = 0; j < P; j++) {
					const float *kj =
					    k + (n * P + j) * D + h * hd;
					float *dkj =
					    dk + (n * P + j) * D + h * hd;
					double ds = (double)pr[j] *
						    ((double)dp[j] - dot);

					for (d = 0; d < hd; d++) {
						dqi[d] +=
						    (float)(ds * kj[d] * scale);
						dkj[d] +=
						    (float)(ds * qi[d] * scale);
					}
				}
			}
		}
	}
}

/* Per-thread scratch of the attention backward: v^T of one head [hd,P],
 * the dropped-out probabilities and the score gradient [P,P]. */
static _Thread_local float attb_vt[ATT_MAX];
static _Thread_local float attb_pw[ATT_MAX];
static _Thread_local float attb_ds[ATT_MAX];

void nn__attention_backward(float *dq, float *dk, float *dv, float *dprobs,
			    const float *dctx, const float *q, const float *k,
			    const float *v, const float *probs,
			    const float *mask, size_t N, size_t P, size_t D,
			    size_t nh)
{
	size_t hd = D / nh;
	float scale = 1.0f / sqrtf((float)hd);
	int par = N * P * P * D > PAR_MIN, nt = nn__threads();
	long nl;

	if (hd * P > ATT_MAX || P * P > ATT_MAX) {
		attention_backward_scalar(dq, dk, dv, dprobs, dctx, q, k, v,
					  probs, mask, N, P, D, nh);
		return;
	}
	(void)par;
	(void)nt;
	/* sequences are independent: one thread owns all of sequence n */
	NN_PARALLEL_FOR
	for (nl = 0; nl < (long)N; nl++) {
		size_t n = (size_t)nl, h, i, j, d;
		float *vt = attb_vt, *pw = attb_pw, *ds = attb_ds;

		for (h = 0; h < nh; h++) {
			size_t o = n * P * D + h * hd;
			const float *pr = probs + (n * nh + h) * P * P;
			const float *mr =
			    mask ? mask + (n * nh + h) * P * P : NULL;
			float *dp = dprobs + (n * nh + h) * P * P;
			const float *w = pr;

			if (mr) {
				for (i = 0; i < P * P; i++)
					pw[i] = pr[i] * mr[i];
				w = pw;
			}
			/* dv[P,hd] += w^T dctx */
			nn__gemm1(dv + o, D, w, 1, P, dctx + o, D, NULL, P, hd,
				  P, 1);
			/* dprobs = (dctx v^T) * mask */
			for (j = 0; j < P; j++)
				for (d = 0; d < hd; d++)
					vt[d * P + j] = v[o + j * D + d];
			nn__gemm1(dp, P, dctx + o, D, 1, vt, P, NULL, P, P, hd,
				  0);
			if (mr)
				for (i = 0; i < P * P; i++)
					dp[i] *= mr[i];
			/* softmax backward, scaled: ds = scale p (dp - p.dp)
			 */
			for (i = 0; i < P; i++) {
				const float *pi = pr + i * P, *dpi = dp + i * P;
				double dot = 0.0;

				for (j = 0; j < P; j++)
					dot += (double)dpi[j] * pi[j];
				for (j = 0; j < P; j++)
					ds[i * P + j] =
					    (float)((double)pi[j] *
						    ((double)dpi[j] - dot)) *
					    scale;
			}
			/* scores = (q s) k^T: dq += ds k, dk += ds^T q */
			nn__gemm1(dq + o, D, ds, P, 1, k + o, D, NULL, P, hd, P,
				  1);
			nn__gemm1(dk + o, D, ds, 1, P, q + o, D, NULL, P, hd, P,
				  1);
		}
	}
}

/* ---- layout changes ----------------------------------------------------- */

/* Both layout changes visit one (a, y) slice at a time, a small X x Z
 * transpose whose source and destination lines stay in L1 (the natural
 * a, x, y, z order scattered every write over the whole output). Pure
 * data movement: the bits do not change. */
void nn__permute_0321(float *out, const float *inp, size_t A, size_t X,
		      size_t Y, size_t Z, int accumulate)
{
	int nt = nn__threads(),
	    par = nt > 1 && A > 1 && A * X * Y * Z >= nn__par_min() / 64;
	long al;

	(void)par;
	/* one batch element per task (every output has one owner) */
	NN_PARALLEL_FOR
	for (al = 0; al < (long)A; al++) {
		size_t a = (size_t)al, x, y, z;

		for (y = 0; y < Y; y++) {
			const float *src = inp + (a * X * Y + y) * Z;
			float *dst = out + (a * Z * Y + y) * X;

			/* src[x * Y * Z + z] -> dst[z * Y * X + x] */
			for (z = 0; z < Z; z++) {
				float *d = dst + z * Y * X;
				const float *sz = src + z;

				if (accumulate)
					for (x = 0; x < X; x++)
						d[x] += sz[x * Y * Z];
				else
					for (x = 0; x < X; x++)
						d[x] = sz[x * Y * Z];
			}
		}
	}
}

void nn__transpose(float *out, const float *inp, size_t A, size_t R, size_t C,
		   int accumulate)
{
	size_t a, r, c;

	for (a = 0; a < A; a++) {
		const float *src = inp + a * R * C;
		float *dst = out + a * C * R;

		/* src[r * C + c] -> dst[c * R + r], rows of dst in order */
		for (c = 0; c < C; c++) {
			float *d = dst + c * R;

			if (accumulate)
				for (r = 0; r < R; r++)
					d[r] += src[r * C + c];
			else
				for (r = 0; r < R; r++)
					d[r] = src[r * C + c];
		}
	}
}

/* ---- dropout ------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void nn__dropout_mask(float *mask, size_t n, float p, uint64_t *rng)
{
	float keep = 1.0f / (1.0f - p);
	size_t i;

	for (i = 0; i < n; i++) {
		/* 24 random bits -> uniform in [0, 1) */
		float u = (float)(splitmix64(rng) >> 40) * 0x1.0p-24f;

		mask[i] = u < p ? 0.0f : keep;
	}
}

void nn__mul_inplace(float *x, const float *mask, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		x[i] *= mask[i];
}
