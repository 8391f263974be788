/*
 * gemm.c - the float32 matrix product every heavy kernel of src/nn goes
 * through, with AVX-512, AVX2+FMA and portable C variants chosen once at
 * run time (__builtin_cpu_supports), and OpenMP over row blocks.
 *
 * Every output element is one chain acc = fma(a[k], b[k], acc) for k in
 * order, started from the bias (or the old value), whatever the variant's
 * tile sizes, the row partition or the thread count: AVX-512 and AVX2 give
 * the same bits, and so does any number of threads. The portable variant
 * rounds the product separately (no FMA), so it differs in the last bits.
 * Not here: layouts (kernels.c), anything that allocates.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nn_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NN_X86 1
#include <immintrin.h>
#else
#define NN_X86 0
#endif

/* One variant: C[i, j] (+)= sum_k A[i*ars + k*acs] B[k*ldb + j] for rows
 * i0..i1-1 of M (all N columns). Without accumulate the chain starts from
 * bias[j] (column bias), else from rbias[i] (row bias, for products with
 * the weights on the left), else from 0. */
typedef void (*gemm_rows_fn)(float *C, size_t ldc, const float *A, size_t ars,
			     size_t acs, const float *B, size_t ldb,
			     const float *bias, const float *rbias, size_t i0,
			     size_t i1, size_t M, size_t N, size_t K,
			     int accumulate);

/* ---- portable ------------------------------------------------------------ */

#define P_MR 4
#define P_NR 16

static void gemm_rows_portable(float *C, size_t ldc, const float *A, size_t ars,
			       size_t acs, const float *B, size_t ldb,
			       const float *bias, const float *rbias, size_t i0,
			       size_t i1, size_t M, size_t N, size_t K,
			       int accumulate)
{
	size_t i, j, k, r, c;

	(void)M;
	for (i = i0; i < i1; i += P_MR) {
		size_t rows = i1 - i < P_MR ? i1 - i : P_MR;

		for (j = 0; j < N; j += P_NR) {
			size_t cols = N - j < P_NR ? N - j : P_NR;
			float acc[P_MR][P_NR];

			for (r = 0; r < rows; r++)
				for (c = 0; c < cols; c++)
					acc[r][c] =
					    accumulate
						? C[(i + r) * ldc + j + c]
					    : bias  ? bias[j + c]
					    : rbias ? rbias[i + r]
						    : 0.0f;
			for (k = 0; k < K; k++) {
				const float *b = B + k * ldb + j;

				for (r = 0; r < rows; r++) {
					float a = A[(i + r) * ars + k * acs];

					for (c = 0; c < cols; c++)
						acc[r][c] += a * b[c];
				}
			}
			for (r = 0; r < rows; r++)
				for (c = 0; c < cols; c++)
					C[(i + r) * ldc + j + c] = acc[r][c];
		}
	}
}

#if NN_X86

/* The tiles below name every accumulator (REP macros) instead of using
 * arrays: GCC otherwise keeps a memory copy of the array and stores it on
 * every k step. Rows past the end of the block repeat its last row (same
 * work, not stored), so no tile needs a row tail. */
#define REP6(X)	 X(0) X(1) X(2) X(3) X(4) X(5)
#define REP8(X)	 X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define REP16(X) REP8(X) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

/* ---- AVX2 + FMA: 6 rows x 16 columns (12 accumulators) ------------------- */

#define A2_MR 6

__attribute__((target("avx2,fma"))) static __m256i mask8(size_t n)
{
	static const int32_t m[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
				      0,  0,  0,  0,  0,  0,  0,  0};

	return _mm256_loadu_si256((const __m256i *)(m + 8 - (n > 8 ? 8 : n)));
}

__attribute__((target("avx2,fma"))) static void
gemm_rows_avx2(float *C, size_t ldc, const float *A, size_t ars, size_t acs,
	       const float *B, size_t ldb, const float *bias,
	       const float *rbias, size_t i0, size_t i1, size_t M, size_t N,
	       size_t K, int accumulate)
{
	size_t i, j, k;

	(void)M;
	for (i = i0; i < i1; i += A2_MR) {
		size_t rows = i1 - i < A2_MR ? i1 - i : A2_MR;
#define ROWP(r)                                                                \
	const float *a##r = A + (i + ((r) < rows ? (r) : rows - 1)) * ars;     \
	float *cp##r = C + (i + ((r) < rows ? (r) : rows - 1)) * ldc;          \
	const float *rb##r =                                                   \
	    rbias ? rbias + i + ((r) < rows ? (r) : rows - 1) : NULL;
		REP6(ROWP)
#undef ROWP
		for (j = 0; j < N; j += 16) {
			size_t cols = N - j < 16 ? N - j : 16;
			__m256i m0 = mask8(cols),
				m1 = mask8(cols > 8 ? cols - 8 : 0);
			__m256 i0v, i1v;
#define DECL(r) __m256 c##r##0, c##r##1;
			REP6(DECL)
#undef DECL
			if (bias) {
				i0v = _mm256_maskload_ps(bias + j, m0);
				i1v = _mm256_maskload_ps(bias + j + 8, m1);
			} else {
				i0v = _mm256_setzero_ps();
				i1v = _mm256_setzero_ps();
			}
#define INIT(r)                                                                \
	if (accumulate) {                                                      \
		c##r##0 = _mm256_maskload_ps(cp##r + j, m0);                   \
		c##r##1 = _mm256_maskload_ps(cp##r + j + 8, m1);               \
	} else if (rbias) {                                                    \
		c##r##0 = _mm256_broadcast_ss(rb##r);                          \
		c##r##1 = c##r##0;                                             \
	} else {                                                               \
		c##r##0 = i0v;                                                 \
		c##r##1 = i1v;                                                 \
	}
			REP6(INIT)
#undef INIT
			if (cols > 8) {
				const float *b = B + j;

				for (k = 0; k < K; k++, b += ldb) {
					__m256 b0 = _mm256_maskload_ps(b, m0);
					__m256 b1 =
					    _mm256_maskload_ps(b + 8, m1);
					__m256 av;
#define STEP(r)                                                                \
	av = _mm256_broadcast_ss(a##r + k * acs);                              \
	c##r##0 = _mm256_fmadd_ps(av, b0, c##r##0);                            \
	c##r##1 = _mm256_fmadd_ps(av, b1, c##r##1);
					REP6(STEP)
#undef STEP
				}
			} else {
				const float *b = B + j;

				for (k = 0; k < K; k++, b += ldb) {
					__m256 b0 = _mm256_maskload_ps(b, m0);
#define STEP(r)                                                                \
	c##r##0 =                                                              \
	    _mm256_fmadd_ps(_mm256_broadcast_ss(a##r + k * acs), b0, c##r##0);
					REP6(STEP)
#undef STEP
				}
			}
#define STORE(r)                                                               \
	if ((r) < rows) {                                                      \
		_mm256_maskstore_ps(cp##r + j, m0, c##r##0);                   \
		if (cols > 8)                                                  \
			_mm256_maskstore_ps(cp##r + j + 8, m1, c##r##1);       \
	}
			REP6(STORE)
#undef STORE
		}
	}
}

/* ---- AVX-512: 8 rows x 32 columns (16 accumulators) ---------------------- */

#define A5_MR 8

__attribute__((target("avx512f"))) static __mmask16 mask16(size_t n)
{
	return (__mmask16)(n >= 16 ? 0xffffu : ((1u << n) - 1u));
}

/* The tile body for mr = 8 or 6 rows (a constant once inlined: the
 * accumulators of rows >= mr are dead code). */
__attribute__((target("avx512f"), always_inline)) static inline void
gemm_avx512_body(float *C, size_t ldc, const float *A, size_t ars, size_t acs,
		 const float *B, size_t ldb, const float *bias,
		 const float *rbias, size_t i0, size_t i1, size_t N, size_t K,
		 int accumulate, const size_t mr)
{
	size_t i, j, k;

	for (i = i0; i < i1; i += mr) {
		size_t rows = i1 - i < mr ? i1 - i : mr;
#define ROWP(r)                                                                \
	const float *a##r = A + (i + ((r) < rows ? (r) : rows - 1)) * ars;     \
	float *cp##r = C + (i + ((r) < rows ? (r) : rows - 1)) * ldc;          \
	const float *rb##r =                                                   \
	    rbias ? rbias + i + ((r) < rows ? (r) : rows - 1) : NULL;
		REP8(ROWP)
#undef ROWP
		for (j = 0; j < N; j += 32) {
			size_t cols = N - j < 32 ? N - j : 32;
			__mmask16 m0 = mask16(cols),
				  m1 = mask16(cols > 16 ? cols - 16 : 0);
			__m512 i0v, i1v;
#define DECL(r) __m512 c##r##0, c##r##1;
			REP8(DECL)
#undef DECL
			if (bias) {
				i0v = _mm512_maskz_loadu_ps(m0, bias + j);
				i1v = _mm512_maskz_loadu_ps(m1, bias + j + 16);
			} else {
				i0v = _mm512_setzero_ps();
				i1v = _mm512_setzero_ps();
			}
#define INIT(r)                                                                \
	if (accumulate) {                                                      \
		c##r##0 = _mm512_maskz_loadu_ps(m0, cp##r + j);                \
		c##r##1 = _mm512_maskz_loadu_ps(m1, cp##r + j + 16);           \
	} else if (rbias) {                                                    \
		c##r##0 = _mm512_set1_ps(*rb##r);                              \
		c##r##1 = c##r##0;                                             \
	} else {                                                               \
		c##r##0 = i0v;                                                 \
		c##r##1 = i1v;                                                 \
	}
			REP8(INIT)
#undef INIT
#define STEP(r)                                                                \
	if ((r) < mr) {                                                        \
		av = _mm512_set1_ps(a##r[k * acs]);                            \
		c##r##0 = _mm512_fmadd_ps(av, b0, c##r##0);                    \
		c##r##1 = _mm512_fmadd_ps(av, b1, c##r##1);                    \
	}
			if (cols == 32) {
				/* full tile: plain loads (with masks GCC
				 * reloaded the mask registers every step) */
				const float *b = B + j;

				for (k = 0; k < K; k++, b += ldb) {
					__m512 b0 = _mm512_loadu_ps(b);
					__m512 b1 = _mm512_loadu_ps(b + 16);
					__m512 av;

					REP8(STEP)
				}
			} else if (cols > 16) {
				const float *b = B + j;

				for (k = 0; k < K; k++, b += ldb) {
					__m512 b0 =
					    _mm512_maskz_loadu_ps(m0, b);
					__m512 b1 =
					    _mm512_maskz_loadu_ps(m1, b + 16);
					__m512 av;

					REP8(STEP)
				}
#undef STEP
			} else if (cols == 16) {
				const float *b = B + j;

				for (k = 0; k < K; k++, b += ldb) {
					__m512 b0 = _mm512_loadu_ps(b);
#define STEP(r)                                                                \
	if ((r) < mr)                                                          \
		c##r##0 = _mm512_fmadd_ps(_mm512_set1_ps(a##r[k * acs]), b0,   \
					  c##r##0);
					REP8(STEP)
#undef STEP
				}
			} else {
				const float *b = B + j;

				for (k = 0; k < K; k++, b += ldb) {
					__m512 b0 =
					    _mm512_maskz_loadu_ps(m0, b);
#define STEP(r)                                                                \
	if ((r) < mr)                                                          \
		c##r##0 = _mm512_fmadd_ps(_mm512_set1_ps(a##r[k * acs]), b0,   \
					  c##r##0);
					REP8(STEP)
#undef STEP
				}
			}
#define STORE(r)                                                               \
	if ((r) < rows) {                                                      \
		_mm512_mask_storeu_ps(cp##r + j, m0, c##r##0);                 \
		if (cols > 16)                                                 \
			_mm512_mask_storeu_ps(cp##r + j + 16, m1, c##r##1);    \
	}
			REP8(STORE)
#undef STORE
		}
	}
}

/* At most 16 columns: 16 rows x 16 (one register per row, 16
 * accumulators), so every B row loaded feeds 16 products instead of 8. */
__attribute__((target("avx512f"))) static void
gemm_avx512_n16(float *C, size_t ldc, const float *A, size_t ars, size_t acs,
		const float *B, size_t ldb, const float *bias,
		const float *rbias, size_t i0, size_t i1, size_t N, size_t K,
		int accumulate)
{
	__mmask16 m0 = mask16(N);
	__m512 bv =
	    bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
	size_t i, k;

	for (i = i0; i < i1; i += 16) {
		size_t rows = i1 - i < 16 ? i1 - i : 16;
		const float *b = B;
#define ROWP(r)                                                                \
	const float *a##r = A + (i + ((r) < rows ? (r) : rows - 1)) * ars;     \
	float *cp##r = C + (i + ((r) < rows ? (r) : rows - 1)) * ldc;          \
	__m512 c##r =                                                          \
	    accumulate ? _mm512_maskz_loadu_ps(m0, cp##r)                      \
	    : rbias ? _mm512_set1_ps(rbias[i + ((r) < rows ? (r) : rows - 1)]) \
		    : bv;
		REP16(ROWP)
#undef ROWP
#define STEP(r) c##r = _mm512_fmadd_ps(_mm512_set1_ps(a##r[k * acs]), b0, c##r);
		if (N == 16)
			for (k = 0; k < K; k++, b += ldb) {
				__m512 b0 = _mm512_loadu_ps(b);

				REP16(STEP)
			}
		else
			for (k = 0; k < K; k++, b += ldb) {
				__m512 b0 = _mm512_maskz_loadu_ps(m0, b);

				REP16(STEP)
			}
#undef STEP
#define STORE(r)                                                               \
	if ((r) < rows)                                                        \
		_mm512_mask_storeu_ps(cp##r, m0, c##r);
		REP16(STORE)
#undef STORE
	}
}

__attribute__((target("avx512f"))) static void
gemm_rows_avx512(float *C, size_t ldc, const float *A, size_t ars, size_t acs,
		 const float *B, size_t ldb, const float *bias,
		 const float *rbias, size_t i0, size_t i1, size_t M, size_t N,
		 size_t K, int accumulate)
{
	(void)M;
	if (N <= 16) {
		gemm_avx512_n16(C, ldc, A, ars, acs, B, ldb, bias, rbias, i0,
				i1, N, K, accumulate);
		return;
	}
	gemm_avx512_body(C, ldc, A, ars, acs, B, ldb, bias, rbias, i0, i1, N, K,
			 accumulate, A5_MR);
}

/* 6 rows x 32: fewer wasted rows for the small M of the products with the
 * weights on the left (17 rows: 18 computed instead of 24). Same chains,
 * same bits. */
__attribute__((target("avx512f"))) static void
gemm_rows_avx512_6(float *C, size_t ldc, const float *A, size_t ars, size_t acs,
		   const float *B, size_t ldb, const float *bias,
		   const float *rbias, size_t i0, size_t i1, size_t M, size_t N,
		   size_t K, int accumulate)
{
	(void)M;
	gemm_avx512_body(C, ldc, A, ars, acs, B, ldb, bias, rbias, i0, i1, N, K,
			 accumulate, 6);
}

#endif /* NN_X86 */

/* ---- dispatch --------------------------------------------------------------
 */

/* 0 = not chosen yet; otherwise enum nn_isa + 1. A benign race: every
 * thread that resolves computes the same value. */
static int isa_state;

static int isa_supported(enum nn_isa isa)
{
	switch (isa) {
	case NN_ISA_PORTABLE:
		return 1;
#if NN_X86
	case NN_ISA_AVX2:
		return __builtin_cpu_supports("avx2") &&
		       __builtin_cpu_supports("fma");
	case NN_ISA_AVX512:
		return __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx512vl");
#endif
	default:
		return 0;
	}
}

enum nn_isa nn__isa(void)
{
	int s = __atomic_load_n(&isa_state, __ATOMIC_RELAXED);

	if (s == 0) {
		enum nn_isa best = NN_ISA_PORTABLE;

#if NN_X86
		__builtin_cpu_init();
#endif
		if (isa_supported(NN_ISA_AVX512))
			best = NN_ISA_AVX512;
		else if (isa_supported(NN_ISA_AVX2))
			best = NN_ISA_AVX2;
		s = (int)best + 1;
		__atomic_store_n(&isa_state, s, __ATOMIC_RELAXED);
	}
	return (enum nn_isa)(s - 1);
}

int nn__isa_set(enum nn_isa isa)
{
	(void)nn__isa();
#if NN_X86
	__builtin_cpu_init();
#endif
	if (!isa_supported(isa))
		return -1;
	__atomic_store_n(&isa_state, (int)isa + 1, __ATOMIC_RELAXED);
	return 0;
}

const char *nn__isa_name(enum nn_isa isa)
{
	switch (isa) {
	case NN_ISA_AVX512:
		return "avx512";
	case NN_ISA_AVX2:
		return "avx2+fma";
	default:
		return "portable";
	}
}

static gemm_rows_fn rows_fn(void)
{
	switch (nn__isa()) {
#if NN_X86
	case NN_ISA_AVX512:
		return gemm_rows_avx512;
	case NN_ISA_AVX2:
		return gemm_rows_avx2;
#endif
	default:
		return gemm_rows_portable;
	}
}

/* ---- threads ---------------------------------------------------------------
 */

static _Thread_local int nn_threads = 1;

void nn__set_threads(int n)
{
	nn_threads = n < 1 ? 1 : n;
}

int nn__threads(void)
{
	return nn_threads;
}

void nn__gemm1(float *C, size_t ldc, const float *A, size_t ars, size_t acs,
	       const float *B, size_t ldb, const float *bias, size_t M,
	       size_t N, size_t K, int accumulate)
{
	if (M && N)
		rows_fn()(C, ldc, A, ars, acs, B, ldb, bias, NULL, 0, M, M, N,
			  K, accumulate);
}

void nn__gemm1_rowbias(float *C, size_t ldc, const float *A, size_t ars,
		       size_t acs, const float *B, size_t ldb,
		       const float *rbias, size_t M, size_t N, size_t K)
{
	gemm_rows_fn fn = rows_fn();

	if (!M || !N)
		return;
#if NN_X86
	/* the tile height that computes fewer padding rows */
	if (fn == gemm_rows_avx512 &&
	    (M + 5) / 6 * 6 < (M + A5_MR - 1) / A5_MR * A5_MR)
		fn = gemm_rows_avx512_6;
#endif
	fn(C, ldc, A, ars, acs, B, ldb, NULL, rbias, 0, M, M, N, K, 0);
}

/* Below this many multiply-adds a product stays on the calling thread
 * (about 40 us of work: an OpenMP fork/join costs a few us, much more on
 * a loaded machine). Tests lower it to split everything. */
static size_t par_min = (size_t)1 << 22;

void nn__set_par_min(size_t n)
{
	par_min = n;
}

size_t nn__par_min(void)
{
	return par_min;
}
/* rows per task: a multiple of both tiles' heights (6 and 8) */
#define ROW_BLOCK 48

void nn__gemm(float *C, size_t ldc, const float *A, size_t ars, size_t acs,
	      const float *B, size_t ldb, const float *bias, size_t M, size_t N,
	      size_t K, int accumulate)
{
	gemm_rows_fn fn = rows_fn();
	long nb = (long)((M + ROW_BLOCK - 1) / ROW_BLOCK), t;
	int nt = nn_threads;

	if (M == 0 || N == 0)
		return;
	if (nt <= 1 || nb < 2 || M * N * K < par_min) {
		fn(C, ldc, A, ars, acs, B, ldb, bias, NULL, 0, M, M, N, K,
		   accumulate);
		return;
	}
	(void)t;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
	for (t = 0; t < nb; t++) {
		size_t i0 = (size_t)t * ROW_BLOCK;
		size_t i1 = i0 + ROW_BLOCK < M ? i0 + ROW_BLOCK : M;

		fn(C, ldc, A, ars, acs, B, ldb, bias, NULL, i0, i1, M, N, K,
		   accumulate);
	}
}

/* dst[k][j] = w[j][k] for j < nj, k < nk (rows of w ldw apart, of dst
 * ldd apart): 16 x 16 blocks by register transposes on AVX-512 (the head's
 * weights are 1M floats per forward), the edges element by element. */
static void pack_panel(float *dst, size_t ldd, const float *w, size_t ldw,
		       size_t nj, size_t nk)
{
	size_t j = 0, k = 0, jj, kk;

#if NN_X86
	if (nn__isa() == NN_ISA_AVX512) {
		for (j = 0; j + 16 <= nj; j += 16)
			for (k = 0; k + 16 <= nk; k += 16)
				nn__transpose16x16(dst + k * ldd + j, ldd,
						   w + j * ldw + k, ldw);
		/* the column edge (k past the last full block) below, then
		 * the row edge */
		for (jj = 0; jj < j; jj++)
			for (kk = k; kk < nk; kk++)
				dst[kk * ldd + jj] = w[jj * ldw + kk];
	}
#endif
	for (jj = j; jj < nj; jj++)
		for (kk = 0; kk < nk; kk++)
			dst[kk * ldd + jj] = w[jj * ldw + kk];
}

/* The packed panel of w^T: NN_PACK floats per thread (64 KiB), so a
 * forward product packs at most IC x OC floats once and allocates
 * nothing. */
#define NN_PACK 16384
static _Thread_local float pack_buf[NN_PACK];

void nn__matmul_forward(float *out, const float *inp, const float *w,
			const float *b, size_t N, size_t IC, size_t OC)
{
	size_t j0, k0, nc, kc, ldp;

	if (N == 0 || OC == 0)
		return;
	/* column panels of at most 128, k chunks filling the buffer; C is
	 * reloaded between k chunks, which keeps the per-element chain */
	nc = OC < 128 ? OC : 128;
	/* wide panels keep rows nc + 16 floats apart: at 128 (512 bytes)
	 * the k rows a tile reads fall into a quarter of the L1 sets (pm_fc2
	 * 82 -> 95 GFLOP/s); narrow ones stay dense */
	ldp = nc >= 64 ? nc + 16 : nc;
	kc = NN_PACK / ldp;
	if (IC == 0) {
		nn__gemm(out, OC, inp, IC, 1, pack_buf, nc, b, N, OC, 0, 0);
		return;
	}
	for (j0 = 0; j0 < OC; j0 += nc) {
		size_t ncj = OC - j0 < nc ? OC - j0 : nc;

		for (k0 = 0; k0 < IC; k0 += kc) {
			size_t kck = IC - k0 < kc ? IC - k0 : kc;

			pack_panel(pack_buf, ldp, w + j0 * IC + k0, IC, ncj,
				   kck);
			nn__gemm(out + j0, OC, inp + k0, IC, 1, pack_buf, ldp,
				 b ? b + j0 : NULL, N, ncj, kck, k0 > 0);
		}
	}
}

void nn__matmul_forward_blocks(float *out, const float *inp, size_t nblk,
			       size_t bstride, size_t M, size_t ars, size_t acs,
			       const float *w, const float *b, size_t IC,
			       size_t OC)
{
	gemm_rows_fn fn = rows_fn();
	size_t j0, k0, nc, kc, ldp;
	long t;
	int nt = nn_threads,
	    par = nt > 1 && nblk > 1 && nblk * M * IC * OC >= par_min;

	(void)par;
	(void)t;
	if (nblk == 0 || M == 0 || OC == 0 || IC == 0)
		return;
	nc = OC < 128 ? OC : 128;
	ldp = nc >= 64 ? nc + 16 : nc;
	kc = NN_PACK / ldp;
	for (j0 = 0; j0 < OC; j0 += nc) {
		size_t ncj = OC - j0 < nc ? OC - j0 : nc;

		for (k0 = 0; k0 < IC; k0 += kc) {
			size_t kck = IC - k0 < kc ? IC - k0 : kc;
			const float *pk = pack_buf, *bb = b ? b + j0 : NULL;

			pack_panel(pack_buf, ldp, w + j0 * IC + k0, IC, ncj,
				   kck);
			/* the workers read this thread's panel */
#ifdef _OPENMP
#pragma omp parallel for if (par) num_threads(nt) schedule(static)
#endif
			for (t = 0; t < (long)nblk; t++)
				fn(out + (size_t)t * M * OC + j0, OC,
				   inp + (size_t)t * bstride + k0 * acs, ars,
				   acs, pk, ldp, bb, NULL, 0, M, M, ncj, kck,
				   k0 > 0);
		}
	}
}
