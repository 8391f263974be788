/*
 * kernels.c - forward/backward kernels of the PatchTSMixer engine on raw
 * float buffers (llm.c style). Plain portable C, single-threaded: this is
 * the reference the later SIMD/OpenMP versions must match. No kernel
 * allocates. Reductions accumulate in double (see nn_internal.h).
 */
#include <math.h>
#include <string.h>

#include "nn_internal.h"

/* ---- matmul ------------------------------------------------------------ */

/* Blocked so the inner loops are elementwise over a block of BLK columns
 * (the compiler vectorises them without reassociating anything, so the
 * result does not depend on the instruction set) while every sum is kept
 * in double. */
#define BLK 64
/* below this many multiply-adds a kernel stays on one thread */
#define PAR_MIN ((size_t)1 << 16)

/* Row-parallel loops: every output element is owned by one thread and
 * summed in a fixed order, so results are bit-identical for any thread
 * count (checked: 1, 2, 3 threads give the same predictions and gradients).
 * Off by default (define ABYSS_NN_OPENMP, with -fopenmp, to enable): on a
 * loaded shared machine OpenMP's spinning threads cost more than they
 * bring; the threading policy belongs to the speed work. */
#ifdef ABYSS_NN_OPENMP
#define NN_PARALLEL_FOR _Pragma("omp parallel for if (par) schedule(static)")
#else
#define NN_PARALLEL_FOR
#endif

/* One output: four interleaved partial sums over i, combined in a fixed
 * order. */
static float dot_row(const float *x, const float *wr, size_t IC, double bias)
{
	double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
	size_t i;

	for (i = 0; i + 4 <= IC; i += 4) {
		a0 += (double)x[i] * (double)wr[i];
		a1 += (double)x[i + 1] * (double)wr[i + 1];
		a2 += (double)x[i + 2] * (double)wr[i + 2];
		a3 += (double)x[i + 3] * (double)wr[i + 3];
	}
	for (; i < IC; i++)
		a0 += (double)x[i] * (double)wr[i];
	return (float)(bias + ((a0 + a1) + (a2 + a3)));
}

void nn__matmul_forward(float *out, const float *inp, const float *w,
			const float *b, size_t N, size_t IC, size_t OC)
{
	int par = N * IC * OC > PAR_MIN;
	long n;

	(void)par;
	/* each output row is computed by one thread in a fixed order, so
	 * the result is the same for any number of threads. (Sharing weight
	 * rows across 4 input rows was tried: slower with SSE2 doubles.) */
	NN_PARALLEL_FOR
	for (n = 0; n < (long)N; n++) {
		const float *x = inp + (size_t)n * IC;
		float *y = out + (size_t)n * OC;
		size_t o;

		for (o = 0; o < OC; o++)
			y[o] =
			    dot_row(x, w + o * IC, IC, b ? (double)b[o] : 0.0);
	}
}

void nn__matmul_backward(float *dinp, float *dw, float *db, const float *dout,
			 const float *inp, const float *w, size_t N, size_t IC,
			 size_t OC)
{
	int par = N * IC * OC > PAR_MIN;
	long n, o;

	(void)par;
	if (dinp) {
		/* dinp[n, i] += sum_o dout[n, o] w[o, i] */
		NN_PARALLEL_FOR
		for (n = 0; n < (long)N; n++) {
			const float *dy = dout + (size_t)n * OC;
			float *dx = dinp + (size_t)n * IC;
			double acc[BLK];
			size_t i0, i, m, oo;

			for (i0 = 0; i0 < IC; i0 += BLK) {
				m = IC - i0 < BLK ? IC - i0 : BLK;
				for (i = 0; i < m; i++)
					acc[i] = 0.0;
				for (oo = 0; oo < OC; oo++) {
					const float *wr = w + oo * IC + i0;
					double d = dy[oo];

					for (i = 0; i < m; i++)
						acc[i] += d * (double)wr[i];
				}
				for (i = 0; i < m; i++)
					dx[i0 + i] += (float)acc[i];
			}
		}
	}
	if (dw) {
		/* dw[o, i] += sum_n dout[n, o] inp[n, i] */
		NN_PARALLEL_FOR
		for (o = 0; o < (long)OC; o++) {
			float *dwr = dw + (size_t)o * IC;
			double acc[BLK];
			size_t i0, i, m, nn;

			for (i0 = 0; i0 < IC; i0 += BLK) {
				m = IC - i0 < BLK ? IC - i0 : BLK;
				for (i = 0; i < m; i++)
					acc[i] = 0.0;
				for (nn = 0; nn < N; nn++) {
					const float *xr = inp + nn * IC + i0;
					double d = dout[nn * OC + (size_t)o];

					for (i = 0; i < m; i++)
						acc[i] += d * (double)xr[i];
				}
				for (i = 0; i < m; i++)
					dwr[i0 + i] += (float)acc[i];
			}
		}
	}
	if (db) {
		for (o = 0; o < (long)OC; o++) {
			double a = 0.0;
			size_t nn;

			for (nn = 0; nn < N; nn++)
				a += (double)dout[nn * OC + (size_t)o];
			db[o] += (float)a;
		}
	}
}

/* ---- layernorm --------------------------------------------------------- */

void nn__layernorm_forward(float *out, float *mean, float *rstd,
			   const float *inp, const float *w, const float *b,
			   size_t N, size_t C, float eps)
{
	size_t n, i;

	for (n = 0; n < N; n++) {
		const float *x = inp + n * C;
		float *y = out + n * C;
		double m = 0.0, v = 0.0, s;

		for (i = 0; i < C; i++)
			m += x[i];
		m /= (double)C;
		for (i = 0; i < C; i++) {
			double d = x[i] - m;
			v += d * d;
		}
		v /= (double)C;
		s = 1.0 / sqrt(v + (double)eps);
		for (i = 0; i < C; i++)
			y[i] = (float)(((double)x[i] - m) * s * w[i] + b[i]);
		mean[n] = (float)m;
		rstd[n] = (float)s;
	}
}

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

void nn__gelu_forward(float *out, const float *inp, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		double x = inp[i];
		out[i] = (float)(0.5 * x * (1.0 + erf(x * M_SQRT1_2)));
	}
}

void nn__gelu_backward(float *dinp, const float *inp, const float *dout,
		       size_t n)
{
	/* d/dx = Phi(x) + x phi(x) */
	const double inv_sqrt_2pi = 0.3989422804014327;
	size_t i;

	for (i = 0; i < n; i++) {
		double x = inp[i];
		double cdf = 0.5 * (1.0 + erf(x * M_SQRT1_2));
		double pdf = inv_sqrt_2pi * exp(-0.5 * x * x);

		dinp[i] += (float)((cdf + x * pdf) * dout[i]);
	}
}

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

void nn__gate_forward(float *out, float *g, const float *inp, const float *w,
		      const float *b, size_t N, size_t C)
{
	size_t n, i;

	nn__matmul_forward(g, inp, w, b, N, C, C); /* logits in place */
	for (n = 0; n < N; n++) {
		float *gr = g + n * C;

		softmax_row(gr, gr, C);
		for (i = 0; i < C; i++)
			out[n * C + i] = inp[n * C + i] * gr[i];
	}
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

/* ---- self-attention ----------------------------------------------------- */

void nn__attention_forward(float *ctx, float *probs, const float *q,
			   const float *k, const float *v, const float *mask,
			   size_t N, size_t P, size_t D, size_t nh)
{
	size_t hd = D / nh;
	float scale = 1.0f / sqrtf((float)hd);
	int par = N * P * P * D > PAR_MIN;
	long nl;

	(void)par;
	NN_PARALLEL_FOR
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

void nn__attention_backward(float *dq, float *dk, float *dv, float *dprobs,
			    const float *dctx, const float *q, const float *k,
			    const float *v, const float *probs,
			    const float *mask, size_t N, size_t P, size_t D,
			    size_t nh)
{
	size_t hd = D / nh;
	float scale = 1.0f / sqrtf((float)hd);
	int par = N * P * P * D > PAR_MIN;
	long nl;

	/* sequences are independent: one thread owns all of sequence n */
	(void)par;
	NN_PARALLEL_FOR
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

/* ---- layout changes ----------------------------------------------------- */

void nn__permute_0321(float *out, const float *inp, size_t A, size_t X,
		      size_t Y, size_t Z, int accumulate)
{
	size_t a, x, y, z;

	for (a = 0; a < A; a++)
		for (x = 0; x < X; x++)
			for (y = 0; y < Y; y++)
				for (z = 0; z < Z; z++) {
					float val =
					    inp[((a * X + x) * Y + y) * Z + z];
					float *o =
					    &out[((a * Z + z) * Y + y) * X + x];

					*o = accumulate ? *o + val : val;
				}
}

void nn__transpose(float *out, const float *inp, size_t A, size_t R, size_t C,
		   int accumulate)
{
	size_t a, r, c;

	for (a = 0; a < A; a++)
		for (r = 0; r < R; r++)
			for (c = 0; c < C; c++) {
				float val = inp[(a * R + r) * C + c];
				float *o = &out[(a * C + c) * R + r];

				*o = accumulate ? *o + val : val;
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
