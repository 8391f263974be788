/*
 * nn_internal.h - kernels shared by the files of src/nn (not installed).
 *
 * Every kernel works on caller-provided float buffers with explicit
 * dimensions (llm.c); none allocates. Backward kernels ADD into their
 * gradient outputs (callers zero them once per backward pass), so a tensor
 * used twice (residuals) simply receives two contributions. Reductions
 * accumulate in double: the float32 reference differs from float64 by
 * ~1e-7 relative, and the parity tolerances are a small multiple of that.
 */
#ifndef ABYSS_NN_INTERNAL_H
#define ABYSS_NN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* out[N,OC] = inp[N,IC] @ w[OC,IC]^T + b[OC]; b may be NULL. This GEMM
 * carries nearly all the work. */
void nn__matmul_forward(float *out, const float *inp, const float *w,
			const float *b, size_t N, size_t IC, size_t OC);
/* dinp[N,IC] += dout @ w; dw[OC,IC] += dout^T @ inp; db[OC] += sum_n dout.
 * Any of dinp, dw, db may be NULL. */
void nn__matmul_backward(float *dinp, float *dw, float *db, const float *dout,
			 const float *inp, const float *w, size_t N, size_t IC,
			 size_t OC);

/* LayerNorm over the last axis of inp[N,C] (biased variance, eps inside
 * the sqrt); mean[N] and rstd[N] are saved for the backward pass. */
void nn__layernorm_forward(float *out, float *mean, float *rstd,
			   const float *inp, const float *w, const float *b,
			   size_t N, size_t C, float eps);
void nn__layernorm_backward(float *dinp, float *dw, float *db,
			    const float *dout, const float *inp, const float *w,
			    const float *mean, const float *rstd, size_t N,
			    size_t C);

/* Exact GELU 0.5 x (1 + erf(x / sqrt 2)) on n values. */
void nn__gelu_forward(float *out, const float *inp, size_t n);
void nn__gelu_backward(float *dinp, const float *inp, const float *dout,
		       size_t n);

/* Gated attention (PatchTSMixerGatedAttention): g = softmax_C(inp W^T + b),
 * out = inp * g, on rows inp[N,C] with W[C,C]. g[N,C] is saved. */
void nn__gate_forward(float *out, float *g, const float *inp, const float *w,
		      const float *b, size_t N, size_t C);
/* dlogits[N,C] is scratch the caller provides (overwritten). */
void nn__gate_backward(float *dinp, float *dw, float *db, float *dlogits,
		       const float *dout, const float *inp, const float *g,
		       const float *w, size_t N, size_t C);

/* Multi-head self-attention core, no mask. q,k,v,ctx are [N,P,D] (N
 * sequences of P tokens, D = nh * hd features, head h owns columns
 * h*hd..h*hd+hd-1); probs[N,nh,P,P] is the softmax of (q * hd^-0.5) k^T
 * over keys, saved before dropout; mask (may be NULL) is the dropout
 * multiplier of the same shape applied to probs before they weight v. */
void nn__attention_forward(float *ctx, float *probs, const float *q,
			   const float *k, const float *v, const float *mask,
			   size_t N, size_t P, size_t D, size_t nh);
/* dprobs[N,nh,P,P] receives d loss / d probs (after the dropout mask). */
void nn__attention_backward(float *dq, float *dk, float *dv, float *dprobs,
			    const float *dctx, const float *q, const float *k,
			    const float *v, const float *probs,
			    const float *mask, size_t N, size_t P, size_t D,
			    size_t nh);

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
