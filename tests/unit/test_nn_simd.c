/* test_nn_simd.c - the SIMD kernels of src/nn (gemm.c, vmath.c) in every
 * variant this CPU runs (portable, AVX2+FMA, AVX-512) against double
 * references on odd sizes, strides, panel and k-chunk boundaries; the FMA
 * variants bit for bit against each other; and results independent of the
 * OpenMP thread count, kernel by kernel and for a whole model's forward and
 * backward pass. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/nn.h"
#include "nn/nn_internal.h"

static uint64_t rng_state = 7;

static float frand(void) /* uniform in [-1, 1) */
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float)((rng_state >> 40) * 0x1.0p-24) * 2.0f - 1.0f;
}

static float *rvec(size_t n)
{
	float *v = malloc((n ? n : 1) * sizeof(float));
	size_t i;

	assert_non_null(v);
	for (i = 0; i < n; i++)
		v[i] = frand();
	return v;
}

/* C[i,j] = c0 + sum_k A[i*ars + k*acs] B[k*ldb + j] in double, with the
 * error bound of a float chain: (K + 2) eps sum |terms| */
static void gemm_check(const float *C, size_t ldc, const float *A, size_t ars,
		       size_t acs, const float *B, size_t ldb, const float *c0,
		       size_t c0_ld, size_t c0_cs, size_t M, size_t N, size_t K,
		       const char *what)
{
	size_t i, j, k;

	for (i = 0; i < M; i++)
		for (j = 0; j < N; j++) {
			double s = c0 ? c0[i * c0_ld + j * c0_cs] : 0.0;
			double mag = fabs(s), tol;

			for (k = 0; k < K; k++) {
				double t = (double)A[i * ars + k * acs] *
					   (double)B[k * ldb + j];
				s += t;
				mag += fabs(t);
			}
			tol = (double)(K + 2) * 0x1.0p-23 * mag + 1e-30;
			if (fabs((double)C[i * ldc + j] - s) > tol) {
				fail_msg(
				    "%s: %s M=%zu N=%zu K=%zu at [%zu,%zu]: "
				    "%.9g vs %.9g (tol %.3g)",
				    nn__isa_name(nn__isa()), what, M, N, K, i,
				    j, (double)C[i * ldc + j], s, tol);
			}
		}
}

static const size_t Ms[] = {1, 5, 7, 13, 49, 97};
static const size_t Ns[] = {1, 3, 8, 16, 17, 31, 33, 65, 129};
static const size_t Ks[] = {0, 1, 9, 34, 131};

static int each_isa(enum nn_isa isa)
{
	return nn__isa_set(isa) == 0;
}

/* nn__gemm in its three uses: bias start, accumulate, transposed A. */
static void test_nn_simd_gemm_odd_sizes(void **state)
{
	enum nn_isa def = nn__isa(), isa;
	size_t a, b, c;

	(void)state;
	for (isa = NN_ISA_PORTABLE; isa <= NN_ISA_AVX512; isa++) {
		if (!each_isa(isa))
			continue;
		for (a = 0; a < sizeof(Ms) / sizeof(Ms[0]); a++)
			for (b = 0; b < sizeof(Ns) / sizeof(Ns[0]); b++)
				for (c = 0; c < sizeof(Ks) / sizeof(Ks[0]);
				     c++) {
					size_t M = Ms[a], N = Ns[b], K = Ks[c];
					size_t ldc = N + 3, ldb = N + 1;
					float *A = rvec(M * K + K * M);
					float *B = rvec(K * ldb);
					float *bias = rvec(N);
					float *C = rvec(M * ldc);
					float *C0 =
					    malloc(M * ldc * sizeof(float));

					assert_non_null(C0);
					/* bias start, A row-major with a gap */
					nn__gemm(C, ldc, A, K, 1, B, ldb, bias,
						 M, N, K, 0);
					gemm_check(C, ldc, A, K, 1, B, ldb,
						   bias, 0, 1, M, N, K, "bias");
					/* accumulate, A read transposed */
					memcpy(C0, C, M * ldc * sizeof(float));
					nn__gemm(C, ldc, A, 1, M, B, ldb, NULL,
						 M, N, K, 1);
					gemm_check(C, ldc, A, 1, M, B, ldb, C0,
						   ldc, 1, M, N, K,
						   "accumulate");
					free(A), free(B), free(bias), free(C),
					    free(C0);
				}
	}
	assert_int_equal(nn__isa_set(def), 0);
}

/* nn__matmul_forward packs w^T in 128-column panels and k chunks of
 * 16384 / panel: sizes across both boundaries; and the backward. */
static void test_nn_simd_matmul_panels(void **state)
{
	static const size_t shp[][3] = {
	    {3, 1031, 133}, {11, 129, 257}, {17, 1024, 512}, {9, 7, 1}};
	enum nn_isa def = nn__isa(), isa;
	size_t s;

	(void)state;
	for (isa = NN_ISA_PORTABLE; isa <= NN_ISA_AVX512; isa++) {
		if (!each_isa(isa))
			continue;
		for (s = 0; s < sizeof(shp) / sizeof(shp[0]); s++) {
			size_t N = shp[s][0], IC = shp[s][1], OC = shp[s][2];
			float *x = rvec(N * IC), *w = rvec(OC * IC),
			      *b = rvec(OC), *y = rvec(N * OC),
			      *dy = rvec(N * OC), *dx = rvec(N * IC),
			      *dw = rvec(OC * IC);
			float *dx0 = malloc(N * IC * sizeof(float));
			float *dw0 = malloc(OC * IC * sizeof(float));

			assert_non_null(dx0);
			assert_non_null(dw0);
			nn__matmul_forward(y, x, w, b, N, IC, OC);
			/* y = x w^T: B[k][j] = w[j][k] is w read with
			 * row stride 1: check as A=x, B=w^T via a copy */
			{
				float *wt = malloc(IC * OC * sizeof(float));
				size_t i, j;

				assert_non_null(wt);
				for (i = 0; i < OC; i++)
					for (j = 0; j < IC; j++)
						wt[j * OC + i] = w[i * IC + j];
				gemm_check(y, OC, x, IC, 1, wt, OC, b, 0, 1, N,
					   OC, IC, "matmul forward");
				free(wt);
			}
			memcpy(dx0, dx, N * IC * sizeof(float));
			memcpy(dw0, dw, OC * IC * sizeof(float));
			nn__matmul_backward(dx, dw, NULL, dy, x, w, N, IC, OC);
			gemm_check(dx, IC, dy, OC, 1, w, IC, dx0, IC, 1, N, IC,
				   OC, "matmul dinp");
			gemm_check(dw, IC, dy, 1, OC, x, IC, dw0, IC, 1, OC, IC,
				   N, "matmul dweight");
			free(x), free(w), free(b), free(y), free(dy), free(dx),
			    free(dw), free(dx0), free(dw0);
		}
	}
	assert_int_equal(nn__isa_set(def), 0);
}

/* AVX2 and AVX-512 run the same FMA chain per element: same bits, for
 * every tile shape (the 16-row tile of at most 16 columns, the 6- and
 * 8-row tiles, column and row biases). */
static void test_nn_simd_fma_variants_agree(void **state)
{
	static const size_t nv_cols[] = {45, 16, 7, 32, 1024};
	static const size_t nv_rows[] = {37, 17, 34, 5};
	enum nn_isa def = nn__isa();
	size_t K = 67, a, b, rb;
	int both =
	    nn__isa_set(NN_ISA_AVX2) == 0 && nn__isa_set(NN_ISA_AVX512) == 0;

	(void)state;
	assert_int_equal(nn__isa_set(def), 0);
	if (!both)
		skip(); /* the CPU lacks one of them */
	for (a = 0; a < sizeof(nv_cols) / sizeof(nv_cols[0]); a++)
		for (b = 0; b < sizeof(nv_rows) / sizeof(nv_rows[0]); b++)
			for (rb = 0; rb < 2; rb++) {
				size_t M = nv_rows[b], N = nv_cols[a];
				float *A = rvec(M * K), *B = rvec(K * N),
				      *bias = rvec(N > M ? N : M);
				float *C2 = malloc(M * N * sizeof(float));
				float *C5 = malloc(M * N * sizeof(float));

				assert_non_null(C2);
				assert_non_null(C5);
				nn__isa_set(NN_ISA_AVX2);
				if (rb)
					nn__gemm1_rowbias(C2, N, A, K, 1, B, N,
							  bias, M, N, K);
				else
					nn__gemm(C2, N, A, K, 1, B, N, bias, M,
						 N, K, 0);
				nn__isa_set(NN_ISA_AVX512);
				if (rb)
					nn__gemm1_rowbias(C5, N, A, K, 1, B, N,
							  bias, M, N, K);
				else
					nn__gemm(C5, N, A, K, 1, B, N, bias, M,
						 N, K, 0);
				assert_memory_equal(C2, C5,
						    M * N * sizeof(float));
				free(A), free(B), free(bias), free(C2),
				    free(C5);
			}
	assert_int_equal(nn__isa_set(def), 0);
}

/* softmax, GELU and LayerNorm against double, every variant; row lengths
 * around the 16-lane and 64-value boundaries. */
static void test_nn_simd_elementwise(void **state)
{
	static const size_t Cs[] = {1, 5, 15, 16, 17, 33, 64, 65, 130};
	enum nn_isa def = nn__isa(), isa;
	size_t c, R = 3, i, r;

	(void)state;
	for (isa = NN_ISA_PORTABLE; isa <= NN_ISA_AVX512; isa++) {
		if (!each_isa(isa))
			continue;
		for (c = 0; c < sizeof(Cs) / sizeof(Cs[0]); c++) {
			size_t C = Cs[c];
			float *x = rvec(R * C), *y = malloc(R * C * 4),
			      *w = rvec(C), *b = rvec(C), mean[3], rstd[3];

			assert_non_null(y);
			for (i = 0; i < R * C; i++)
				x[i] *= 20.0f; /* exp over a wide range */
			memcpy(y, x, R * C * sizeof(float));
			nn__softmax_rows(y, R, C);
			for (r = 0; r < R; r++) {
				double mx = -INFINITY, sum = 0.0;

				for (i = 0; i < C; i++)
					mx = fmax(mx, x[r * C + i]);
				for (i = 0; i < C; i++)
					sum += exp(x[r * C + i] - mx);
				for (i = 0; i < C; i++) {
					double d = x[r * C + i] - mx;
					double ref = exp(d) / sum;

					/* float x - max rounds: |d| 2^-24
					 * relative, as in torch */
					if (fabs(y[r * C + i] - ref) >
					    (1e-6 + fabs(d) * 0x1.0p-23) * ref +
						1e-37)
						fail_msg("%s softmax C=%zu: "
							 "%.9g vs %.9g",
							 nn__isa_name(isa), C,
							 (double)y[r * C + i],
							 ref);
				}
			}
			nn__gelu_forward(y, x, R * C);
			for (i = 0; i < R * C; i++) {
				double v = x[i] / 20.0, ref;

				x[i] = (float)v;
				ref = 0.5 * v * (1.0 + erf(v * M_SQRT1_2));
				nn__gelu_forward(&y[i], &x[i], 1);
				if (fabs(y[i] - ref) >
				    2e-7 * fabs(v) + 1e-6 * fabs(ref))
					fail_msg("%s gelu(%.9g) = %.9g, not "
						 "%.9g",
						 nn__isa_name(isa), v,
						 (double)y[i], ref);
			}
			nn__layernorm_forward(y, mean, rstd, x, w, b, R, C,
					      1e-5f);
			for (r = 0; r < R; r++) {
				double m = 0.0, v = 0.0, sd;

				for (i = 0; i < C; i++)
					m += x[r * C + i];
				m /= (double)C;
				for (i = 0; i < C; i++)
					v += (x[r * C + i] - m) *
					     (x[r * C + i] - m);
				sd = 1.0 / sqrt(v / (double)C + 1e-5);
				for (i = 0; i < C; i++) {
					double ref =
					    (x[r * C + i] - m) * sd * w[i] +
					    b[i];

					if (fabs(y[r * C + i] - ref) >
					    1e-6 * (fabs(ref) + 1.0))
						fail_msg("%s layernorm C=%zu",
							 nn__isa_name(isa), C);
				}
			}
			free(x), free(y), free(w), free(b);
		}
	}
	assert_int_equal(nn__isa_set(def), 0);
}

/* The column softmax (the channel gate and the attention with the weights
 * or keys on the left) gives the bits of the row softmax on the
 * transposed rows, and gated = x * g; every variant the CPU has. */
static void test_nn_simd_column_softmax_same_bits(void **state)
{
	static const size_t cs[] = {5, 16, 17, 64};
	enum nn_isa def = nn__isa(), isa;
	size_t n = 37, ld = 41, c, i, j;

	(void)state;
	for (isa = NN_ISA_PORTABLE; isa <= NN_ISA_AVX512; isa++) {
		if (!each_isa(isa))
			continue;
		for (c = 0; c < sizeof(cs) / sizeof(cs[0]); c++) {
			size_t C = cs[c];
			float *L = rvec(C * ld), *x = rvec(C * ld),
			      *gated = rvec(C * ld), *T = rvec(n * C);

			for (i = 0; i < C * ld; i++)
				L[i] *= 20.0f;
			for (i = 0; i < C; i++)
				for (j = 0; j < n; j++)
					T[j * C + i] = L[i * ld + j];
			nn__softmax_rows(T, n, C);
			nn__gate_cols(L, gated, x, C, n, ld);
			for (i = 0; i < C; i++)
				for (j = 0; j < n; j++) {
					float g = L[i * ld + j];

					assert_memory_equal(&g, &T[j * C + i],
							    sizeof(float));
					g *= x[i * ld + j];
					assert_memory_equal(&g,
							    &gated[i * ld + j],
							    sizeof(float));
				}
			free(L), free(x), free(gated), free(T);
		}
	}
	assert_int_equal(nn__isa_set(def), 0);
}

/* The fused passes equal the separate ones bit for bit: softmax then
 * product and residual; LayerNorm then residual (with and without the
 * LayerNorm output kept); every variant the CPU has. */
static void test_nn_simd_fused_passes_same_bits(void **state)
{
	static const size_t cs[] = {5, 16, 17, 64};
	enum nn_isa def = nn__isa(), isa;
	size_t R = 37, c;

	(void)state;
	for (isa = NN_ISA_PORTABLE; isa <= NN_ISA_AVX512; isa++) {
		if (!each_isa(isa))
			continue;
		for (c = 0; c < sizeof(cs) / sizeof(cs[0]); c++) {
			size_t C = cs[c], n = R * C;
			float *g1 = rvec(n), *g2 = malloc(n * sizeof(float)),
			      *x = rvec(n), *y = rvec(n), *o1 = rvec(n),
			      *o2 = rvec(n), *o3 = rvec(n), *w = rvec(C),
			      *b = rvec(C), m1[37], r1[37], m2[37], r2[37];

			assert_non_null(g2);
			memcpy(g2, g1, n * sizeof(float));
			nn__softmax_rows(g1, R, C);
			nn__mul_add(o1, x, g1, y, n);
			nn__softmax_mul_add(g2, o2, x, y, R, C);
			assert_memory_equal(o1, o2, n * sizeof(float));

			nn__layernorm_forward(o1, m1, r1, x, w, b, R, C, 1e-5f);
			nn__add(o1, o1, y, n);
			nn__layernorm_forward_res(NULL, m2, r2, x, w, b, R, C,
						  1e-5f, y, o2);
			assert_memory_equal(o1, o2, n * sizeof(float));
			assert_memory_equal(m1, m2, sizeof(m1));
			assert_memory_equal(r1, r2, sizeof(r1));
			nn__layernorm_forward_res(o3, m2, r2, x, w, b, R, C,
						  1e-5f, y, o2);
			assert_memory_equal(o1, o2, n * sizeof(float));
			nn__layernorm_forward(o1, m1, r1, x, w, b, R, C, 1e-5f);
			assert_memory_equal(o1, o3, n * sizeof(float));
			free(g1), free(g2), free(x), free(y), free(o1),
			    free(o2), free(o3), free(w), free(b);
		}
	}
	assert_int_equal(nn__isa_set(def), 0);
}

/* GELU: the AVX-512 loop and the generic clone give the same bits, over
 * the clamp of erf (|x| / sqrt 2 > 4) and a tail of 7. */
static void test_nn_simd_gelu_variants_agree(void **state)
{
	enum nn_isa def = nn__isa();
	size_t n = 1031, i;
	float *x = rvec(n), *y2 = malloc(n * sizeof(float)),
	      *y5 = malloc(n * sizeof(float));
	int both =
	    nn__isa_set(NN_ISA_AVX2) == 0 && nn__isa_set(NN_ISA_AVX512) == 0;

	(void)state;
	assert_int_equal(nn__isa_set(def), 0);
	assert_non_null(y2), assert_non_null(y5);
	for (i = 0; i < n; i++)
		x[i] *= 8.0f;
	if (both) {
		nn__isa_set(NN_ISA_AVX2);
		nn__gelu_forward(y2, x, n);
		nn__isa_set(NN_ISA_AVX512);
		nn__gelu_forward(y5, x, n);
		assert_memory_equal(y2, y5, n * sizeof(float));
	}
	free(x), free(y2), free(y5);
	assert_int_equal(nn__isa_set(def), 0);
	if (!both)
		skip(); /* the CPU lacks one of them */
}

/* The attention's AVX-512 path (keys on the left, column softmax, register
 * transposes) gives the AVX2 path's bits, probs and context, with and
 * without dropout. */
static void test_nn_simd_attention_paths_agree(void **state)
{
	enum nn_isa def = nn__isa();
	size_t N = 3, P = 64, D = 16, n = N * P * D;
	float *q = rvec(n), *k = rvec(n), *v = rvec(n);
	float *c2 = malloc(n * sizeof(float)), *c5 = malloc(n * sizeof(float));
	float *p2 = malloc(N * P * P * sizeof(float)),
	      *p5 = malloc(N * P * P * sizeof(float));
	int both =
	    nn__isa_set(NN_ISA_AVX2) == 0 && nn__isa_set(NN_ISA_AVX512) == 0;

	(void)state;
	assert_int_equal(nn__isa_set(def), 0);
	assert_non_null(c2), assert_non_null(c5);
	assert_non_null(p2), assert_non_null(p5);
	if (both) {
		uint64_t rng = 7;
		float *mk = malloc(N * P * P * sizeof(float));
		int pass;

		assert_non_null(mk);
		nn__dropout_mask(mk, N * P * P, 0.3f, &rng);
		/* without, then with a dropout mask */
		for (pass = 0; pass < 2; pass++) {
			const float *m = pass ? mk : NULL;

			nn__isa_set(NN_ISA_AVX2);
			nn__attention_forward(c2, p2, q, k, v, m, N, P, D, 1,
					      1);
			nn__isa_set(NN_ISA_AVX512);
			nn__attention_forward(c5, p5, q, k, v, m, N, P, D, 1,
					      1);
			assert_memory_equal(c2, c5, n * sizeof(float));
			assert_memory_equal(p2, p5, N * P * P * sizeof(float));
		}
		free(mk);
	}
	free(q), free(k), free(v), free(c2), free(c5), free(p2), free(p5);
	assert_int_equal(nn__isa_set(def), 0);
	if (!both)
		skip(); /* the CPU lacks one of them */
}

/* 1, 2 and 3 threads: the same bits, for a product big enough to be split
 * and for a whole model (forward and backward, dropout on). */
static void test_nn_simd_threads_same_bits(void **state)
{
	struct abyss_nn_config cfg;
	struct abyss_nn_options o = {.max_batch = 3, .training = 1};
	struct abyss_nn_model *m = NULL;
	size_t M = 301, N = 67, K = 129, T, C, H, np, i;
	float *A = rvec(M * K), *B = rvec(K * N);
	float *C1 = malloc(M * N * sizeof(float)),
	      *Ct = malloc(M * N * sizeof(float));
	float *x, *y, *p1, *g1;
	int t;

	(void)state;
	assert_non_null(C1);
	assert_non_null(Ct);
	nn__set_par_min(0); /* split every kernel, however small */
	nn__set_threads(1);
	nn__gemm(C1, N, A, K, 1, B, N, NULL, M, N, K, 0);
	for (t = 2; t <= 3; t++) {
		nn__set_threads(t);
		nn__gemm(Ct, N, A, K, 1, B, N, NULL, M, N, K, 0);
		assert_memory_equal(C1, Ct, M * N * sizeof(float));
	}
	nn__set_threads(1);
	free(A), free(B), free(C1), free(Ct);

	abyss_nn_config_default(&cfg);
	cfg.context_length = 64;
	cfg.prediction_length = 16;
	cfg.num_patches = 8;
	cfg.num_input_channels = 5;
	cfg.num_layers = 2;
	assert_int_equal(abyss_nn_model_new(&cfg, &o, &m, NULL), 0);
	np = abyss_nn_num_params(m);
	for (i = 0; i < np; i++)
		abyss_nn_params(m)[i] = 0.3f * frand();
	T = 64, C = 5, H = 16;
	x = rvec(3 * T * C);
	y = rvec(3 * H * C);
	p1 = malloc(3 * H * C * sizeof(float));
	assert_true(np > 0);
	g1 = malloc((np ? np : 1) * sizeof(float));
	assert_non_null(p1);
	assert_non_null(g1);
	for (t = 1; t <= 3; t++) {
		float *p = malloc(3 * H * C * sizeof(float));

		assert_non_null(p);
		abyss_nn_set_threads(m, t);
		assert_int_equal(abyss_nn_threads(m), t);
		abyss_nn_set_train(m, 1, 99);
		abyss_nn_zero_grad(m);
		assert_int_equal(abyss_nn_forward(m, x, 3, p), 0);
		assert_int_equal(
		    abyss_nn_backward(m, y, ABYSS_NN_LOSS_MSE, NULL), 0);
		if (t == 1) {
			memcpy(p1, p, 3 * H * C * sizeof(float));
			memcpy(g1, abyss_nn_grads(m), np * sizeof(float));
		} else {
			assert_memory_equal(p1, p, 3 * H * C * sizeof(float));
			assert_memory_equal(g1, abyss_nn_grads(m),
					    np * sizeof(float));
		}
		free(p);
	}
	abyss_nn_set_threads(m, 0);
	assert_int_equal(abyss_nn_threads(m), 1);
	nn__set_par_min((size_t)1 << 22);
	free(x), free(y), free(p1), free(g1);
	abyss_nn_model_free(m);
}

/* FLOP count of the original model: 224.5 MFLOP per window, as issue 4
 * states it. */
static void test_nn_simd_flops_of_original(void **state)
{
	struct abyss_nn_config cfg;
	struct abyss_nn_options o = {.max_batch = 1, .training = 0};
	struct abyss_nn_model *m = NULL;

	(void)state;
	abyss_nn_config_default(&cfg);
	assert_int_equal(abyss_nn_model_new(&cfg, &o, &m, NULL), 0);
	ASSERT_NEAR(abyss_nn_flops(m), 224493568.0, 0.5);
	assert_non_null(abyss_nn_isa());
	abyss_nn_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nn_simd_gemm_odd_sizes),
	    cmocka_unit_test(test_nn_simd_matmul_panels),
	    cmocka_unit_test(test_nn_simd_fma_variants_agree),
	    cmocka_unit_test(test_nn_simd_elementwise),
	    cmocka_unit_test(test_nn_simd_column_softmax_same_bits),
	    cmocka_unit_test(test_nn_simd_attention_paths_agree),
	    cmocka_unit_test(test_nn_simd_fused_passes_same_bits),
	    cmocka_unit_test(test_nn_simd_gelu_variants_agree),
	    cmocka_unit_test(test_nn_simd_threads_same_bits),
	    cmocka_unit_test(test_nn_simd_flops_of_original),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
