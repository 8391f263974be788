/*
 * nn_internal.h - kernels shared by the files of src/nn (not installed).
 *
 * Every kernel works on caller-provided float buffers with explicit
 * dimensions (llm.c); none allocates. Backward kernels ADD into their
 * gradient outputs (callers zero them once per backward pass), so a tensor
 * used twice (residuals) simply receives two contributions. Reductions
 * accumulate in double: the float32 reference differs from float64 by
 * ~1e-7 relative, and the parity tolerances are a small multiple of that;
 * the matrix products (nn__gemm) accumulate in float32, as torch does.
 */
#ifndef ABYSS_NN_INTERNAL_H
#define ABYSS_NN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Instruction set of the float32 products (gemm.c), chosen once at run
 * time: the best the CPU has. nn__isa_set forces one (tests, benchmarks);
 * -1 when the CPU lacks it. Process-wide. */
enum nn_isa { NN_ISA_PORTABLE = 0, NN_ISA_AVX2 = 1, NN_ISA_AVX512 = 2 };
enum nn_isa nn__isa(void);
int nn__isa_set(enum nn_isa isa);
const char *nn__isa_name(enum nn_isa isa);

/* OpenMP threads the kernels of the calling thread use (default 1); the
 * model sets it from abyss_nn_set_threads at each forward/backward. */
void nn__set_threads(int n);
int nn__threads(void);
/* Work (multiply-adds; values / 64 for elementwise kernels) below which a
 * kernel stays on the calling thread; process-wide, default 2^22. Tests
 * set 0 to split every kernel. */
void nn__set_par_min(size_t n);
size_t nn__par_min(void);

/* C[i,j] (+)= sum_k A[i*ars + k*acs] * B[k*ldb + j] for i < M, j < N:
 * started from C (accumulate), else from bias[j] (bias may be NULL),
 * then one float FMA per k in order (see gemm.c). Row blocks go to
 * OpenMP threads. */
void nn__gemm(float *C, size_t ldc, const float *A, size_t ars, size_t acs,
	      const float *B, size_t ldb, const float *bias, size_t M, size_t N,
	      size_t K, int accumulate);

/* The same on the calling thread only (inside parallel regions). */
void nn__gemm1(float *C, size_t ldc, const float *A, size_t ars, size_t acs,
	       const float *B, size_t ldb, const float *bias, size_t M,
	       size_t N, size_t K, int accumulate);

/* The same on the calling thread, the chain of row i started from
 * rbias[i] (never NULL): products with the weights on the left,
 * out[OC, n] = w[OC, IC] @ x[IC, n] + b[OC], give the same bits as
 * nn__matmul_forward on the transposed operands. */
void nn__gemm1_rowbias(float *C, size_t ldc, const float *A, size_t ars,
		       size_t acs, const float *B, size_t ldb,
		       const float *rbias, size_t M, size_t N, size_t K);

/* out[N,OC] = inp[N,IC] @ w[OC,IC]^T + b[OC]; b may be NULL. This GEMM
 * carries nearly all the work (gemm.c: packs w^T in panels, float32
 * accumulation). */
void nn__matmul_forward(float *out, const float *inp, const float *w,
			const float *b, size_t N, size_t IC, size_t OC);
/* nn__matmul_forward on nblk blocks of M rows read with strides: row i
 * of block t is inp[t * bstride + i * ars + k * acs], output row t * M + i
 * (e.g. the patch mixer's fc1 reads [P, D] blocks down their columns, so
 * no transposed copy is made). Blocks go to OpenMP threads. */
void nn__matmul_forward_blocks(float *out, const float *inp, size_t nblk,
			       size_t bstride, size_t M, size_t ars, size_t acs,
			       const float *w, const float *b, size_t IC,
			       size_t OC);

/* dinp[N,IC] += dout @ w; dw[OC,IC] += dout^T @ inp; db[OC] += sum_n dout.
 * Any of dinp, dw, db may be NULL. */
void nn__matmul_backward(float *dinp, float *dw, float *db, const float *dout,
			 const float *inp, const float *w, size_t N, size_t IC,
			 size_t OC);

/* LayerNorm over the last axis of inp[N,C] (biased variance, eps inside
 * the sqrt; vmath.c, double with 8 partial sums); mean[N] and rstd[N] are
 * saved for the backward pass. */
void nn__layernorm_forward(float *out, float *mean, float *rstd,
			   const float *inp, const float *w, const float *b,
			   size_t N, size_t C, float eps);
/* The same and out2 = LN(inp) + res (the residual sum, same bits as
 * nn__add after); out may be NULL (the LayerNorm output not kept). */
void nn__layernorm_forward_res(float *out, float *mean, float *rstd,
			       const float *inp, const float *w, const float *b,
			       size_t N, size_t C, float eps, const float *res,
			       float *out2);
void nn__layernorm_backward(float *dinp, float *dw, float *db,
			    const float *dout, const float *inp, const float *w,
			    const float *mean, const float *rstd, size_t N,
			    size_t C);

/* Exact-form GELU 0.5 x (1 + erf(x / sqrt 2)) on n values and its
 * backward (vmath.c:
 * float32, erf within 1.5e-7 absolute). */
void nn__gelu_forward(float *out, const float *inp, size_t n);
void nn__gelu_backward(float *dinp, const float *inp, const float *dout,
		       size_t n);

/* out = x + y; out = x * g + y (the product rounded first, as two
 * separate operations); out = x * g. Elementwise on n values (vmath.c),
 * out may equal an input. */
void nn__add(float *out, const float *x, const float *y, size_t n);
void nn__mul_add(float *out, const float *x, const float *g, const float *y,
		 size_t n);
void nn__mul(float *out, const float *x, const float *g, size_t n);

/* x = softmax(x) over each of R rows of C values, in place (vmath.c,
 * float32). */
void nn__softmax_rows(float *x, size_t R, size_t C);
/* out = x * softmax(g) + y on R rows of C (a gate's product and the
 * residual; the same bits as nn__softmax_rows then nn__mul_add); g holds
 * the logits and is left unspecified (softmax or logits). */
void nn__softmax_mul_add(float *g, float *out, const float *x, const float *y,
			 size_t R, size_t C);

/* The channel mixer's gate with the weights on the left, one window:
 * g[C][ld] holds the logits of columns < n on entry; afterwards g =
 * softmax over the C rows of every column and gated = x * g (all three
 * with row stride ld; vmath.c, the same bits as nn__softmax_rows on the
 * transposed rows). gated NULL: the softmax alone (x unused). Calling
 * thread only. */
void nn__gate_cols(float *g, float *gated, const float *x, size_t C, size_t n,
		   size_t ld);

/* The channel feature mixer of a batch, its LayerNorm included, with the
 * weights on the left: every window is a [C][PD] matrix (PD = P * D), so
 * the products run down the long PD axis and no permute is needed. The
 * intermediates are [B][rows][ld]: a row stride that is not a multiple of
 * 4 KiB keeps the k rows a product reads from sharing one L1 set (1024
 * floats: 45 -> 85 GFLOP/s for fc2). The dropout masks are [B][rows][PD].
 * The results equal the row-major form bit for bit (same chains, same
 * softmax order). Windows go to OpenMP threads. */
struct nn_chmix {
	size_t C, CE, PD, D;	    /* channels, hidden C * E, P * D, d_model */
	size_t ld;		    /* row stride of g .. fc2 and xw (>= PD) */
	const float *xin;	    /* [B][C][PD] the layer's input */
	const float *lnw, *lnb;	    /* the mixer's LayerNorm [D] */
	float eps;		    /* its epsilon */
	float *mean, *rstd;	    /* [B][C][P] its statistics */
	float *xn;		    /* [B][C][PD] LayerNorm out, or NULL ... */
	float *xw;		    /* ... [B][C][ld] instead (then ld > PD) */
	const float *wg, *bg;	    /* gate [C][C], [C]; wg NULL: no gate */
	const float *w1, *b1;	    /* fc1 [CE][C], [CE] */
	const float *w2, *b2;	    /* fc2 [C][CE], [C] */
	const float *mask1, *mask2; /* dropout multipliers or NULL */
	float *g, *gated;	    /* [B][C][ld] */
	float *fc1, *gelu;	    /* [B][CE][ld] */
	float *fc2, *out;	    /* [B][C][ld]; out [B][C][PD] = fc2 + xin */
};
void nn__chmix_forward(const struct nn_chmix *p, size_t B);

/* Gated attention (PatchTSMixerGatedAttention): g = softmax_C(inp W^T + b),
 * out = inp * g, on rows inp[N,C] with W[C,C]. g[N,C] is saved. */
void nn__gate_forward(float *out, float *g, const float *inp, const float *w,
		      const float *b, size_t N, size_t C);
/* The gate's probabilities alone: g = softmax_C(inp W^T + b). */
void nn__gate_probs(float *g, const float *inp, const float *w, const float *b,
		    size_t N, size_t C);
/* The gate's product stored transposed, over A blocks of [R, C]:
 * v = inp[a][r][c] * g[a][r][c]; gated[a][r][c] = v when gated is not
 * NULL; outt[a][c][r] = v + add[a][c][r] (v when add is NULL). The patch
 * mixer's gate, transpose back and attention sum in one pass. */
void nn__gate_mul_t(float *outt, float *gated, const float *inp, const float *g,
		    const float *add, size_t A, size_t R, size_t C);
/* dlogits[N,C] is scratch the caller provides (overwritten). */
void nn__gate_backward(float *dinp, float *dw, float *db, float *dlogits,
		       const float *dout, const float *inp, const float *g,
		       const float *w, size_t N, size_t C);

/* Multi-head self-attention core, no mask. q,k,v,ctx are [N,P,D] (N
 * sequences of P tokens, D = nh * hd features, head h owns columns
 * h*hd..h*hd+hd-1); probs[N,nh,P,P] is the softmax of (q * hd^-0.5) k^T
 * over keys, saved before dropout; mask (may be NULL) is the dropout
 * multiplier of the same shape applied to probs before they weight v.
 * keep_probs 0 lets the kernel leave probs unwritten (inference). */
void nn__attention_forward(float *ctx, float *probs, const float *q,
			   const float *k, const float *v, const float *mask,
			   size_t N, size_t P, size_t D, size_t nh,
			   int keep_probs);
/* dprobs[N,nh,P,P] receives d loss / d probs (after the dropout mask). */
void nn__attention_backward(float *dq, float *dk, float *dv, float *dprobs,
			    const float *dctx, const float *q, const float *k,
			    const float *v, const float *probs,
			    const float *mask, size_t N, size_t P, size_t D,
			    size_t nh);

/* dst[c * ldd + r] = src[r * lds + c] for r, c < 16 (AVX-512 register
 * transposes; only called when nn__isa() is NN_ISA_AVX512 on x86). */
void nn__transpose16x16(float *dst, size_t ldd, const float *src, size_t lds);

/* out[A,Z,Y,X] (+)= inp[A,X,Y,Z]: torch permute(0,3,2,1). */
void nn__permute_0321(float *out, const float *inp, size_t A, size_t X,
		      size_t Y, size_t Z, int accumulate);
/* out[A,C,R] (+)= inp[A,R,C]: torch transpose(-1,-2). */
void nn__transpose(float *out, const float *inp, size_t A, size_t R, size_t C,
		   int accumulate);

/* Inverted dropout: mask[i] = 0 with probability p, else 1/(1-p); the
 * random stream is the explicit state *rng (splitmix64). */
void nn__dropout_mask(float *mask, size_t n, float p, uint64_t *rng);
/* x[i] *= mask[i] */
void nn__mul_inplace(float *x, const float *mask, size_t n);

#endif
