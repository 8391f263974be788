/*
 * onnx_export.c - PatchTSMixer (abyss/nn.h) as an ONNX graph, built with the
 * protobuf-c structures generated from Debian's onnx.proto and packed once.
 *
 * The graph follows abyss_nn_forward step by step (docs/nn.md, docs/onnx.md):
 * scaler, patching by Gather, patcher, positional table, mixer layers, head,
 * de-scaling; tensors are 4-D [B,C,P,D] between the patcher and the head.
 * Every message, string and small constant lives in one arena freed at the
 * end; weights are not copied (raw_data points into the model's parameter
 * block, little-endian like ONNX). No shape inference, no optimisation:
 * ONNX Runtime folds the weight Transposes itself.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abyss/version.h"
#include "onnx/onnx.pb-c.h"
#include "onnx_export.h"

/* Arena block: every allocation of one export, freed together. */
struct blk {
	struct blk *next;
	max_align_t data[];
};

struct gb {
	struct abyss_nn_model *m;
	struct blk *mem;
	Onnx__NodeProto **nodes;
	size_t nnodes, capnodes;
	Onnx__TensorProto **inits;
	size_t ninits, capinits;
	unsigned long seq; /* unique suffix of intermediate names */
	int err;	   /* first error (sticky); later calls do nothing */
	char missing[256]; /* the parameter the graph needed and lacked */
};

static void *gb_alloc(struct gb *g, size_t n)
{
	struct blk *b;

	if (g->err)
		return NULL;
	if (n > SIZE_MAX - sizeof(*b)) {
		g->err = ABYSS_ENOMEM;
		return NULL;
	}
	b = calloc(1, sizeof(*b) + n);
	if (!b) {
		g->err = ABYSS_ENOMEM;
		return NULL;
	}
	b->next = g->mem;
	g->mem = b;
	return b->data;
}

static void gb_free(struct gb *g)
{
	while (g->mem) {
		struct blk *n = g->mem->next;

		free(g->mem);
		g->mem = n;
	}
	free(g->nodes);
	free(g->inits);
}

static char *gb_strdup(struct gb *g, const char *s)
{
	size_t n;
	char *p;

	if (!s) { /* only after an earlier failure */
		g->err = g->err ? g->err : ABYSS_ENOMEM;
		return NULL;
	}
	n = strlen(s) + 1;
	p = gb_alloc(g, n);
	if (p)
		memcpy(p, s, n);
	return p;
}

/* A fresh intermediate name "hint_N" (names are graph-wide unique). */
static char *gb_tmp(struct gb *g, const char *hint)
{
	char buf[160];

	snprintf(buf, sizeof(buf), "%s_%lu", hint, g->seq++);
	return gb_strdup(g, buf);
}

/* Appends to the node / initializer lists; the arrays double in place
 * (typed, so no pointer is read through another pointer type). */
static int push_node(struct gb *g, Onnx__NodeProto *p)
{
	if (g->err)
		return g->err;
	if (g->nnodes == g->capnodes) {
		size_t nc = g->capnodes ? g->capnodes * 2 : 64;
		Onnx__NodeProto **na;

		if (nc > SIZE_MAX / sizeof(Onnx__NodeProto *))
			return g->err = ABYSS_ENOMEM;
		na = realloc(g->nodes, nc * sizeof(Onnx__NodeProto *));
		if (!na)
			return g->err = ABYSS_ENOMEM;
		g->nodes = na;
		g->capnodes = nc;
	}
	g->nodes[g->nnodes++] = p;
	return 0;
}

static int push_init(struct gb *g, Onnx__TensorProto *p)
{
	if (g->err)
		return g->err;
	if (g->ninits == g->capinits) {
		size_t nc = g->capinits ? g->capinits * 2 : 64;
		Onnx__TensorProto **na;

		if (nc > SIZE_MAX / sizeof(Onnx__TensorProto *))
			return g->err = ABYSS_ENOMEM;
		na = realloc(g->inits, nc * sizeof(Onnx__TensorProto *));
		if (!na)
			return g->err = ABYSS_ENOMEM;
		g->inits = na;
		g->capinits = nc;
	}
	g->inits[g->ninits++] = p;
	return 0;
}

/* ---- attributes --------------------------------------------------------- */

static Onnx__AttributeProto *attr_new(struct gb *g, const char *name,
				      Onnx__AttributeProto__AttributeType t)
{
	Onnx__AttributeProto *a = gb_alloc(g, sizeof(*a));

	if (!a)
		return NULL;
	onnx__attribute_proto__init(a);
	a->name = gb_strdup(g, name);
	a->has_type = 1;
	a->type = t;
	return a;
}

static Onnx__AttributeProto *attr_i(struct gb *g, const char *name, int64_t v)
{
	Onnx__AttributeProto *a =
	    attr_new(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);

	if (a) {
		a->has_i = 1;
		a->i = v;
	}
	return a;
}

static Onnx__AttributeProto *attr_f(struct gb *g, const char *name, float v)
{
	Onnx__AttributeProto *a =
	    attr_new(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);

	if (a) {
		a->has_f = 1;
		a->f = v;
	}
	return a;
}

static Onnx__AttributeProto *attr_ints(struct gb *g, const char *name,
				       const int64_t *v, size_t n)
{
	Onnx__AttributeProto *a =
	    attr_new(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
	int64_t *c = gb_alloc(g, n * sizeof(*c));

	if (!a || !c)
		return NULL;
	memcpy(c, v, n * sizeof(*c));
	a->n_ints = n;
	a->ints = c;
	return a;
}

/* ---- nodes -------------------------------------------------------------- */

/* Adds node op(in[0..nin-1]) with attributes at[0..nat-1] and one output;
 * returns the output's name (a fresh one when out is NULL), NULL after an
 * error. */
static const char *node(struct gb *g, const char *op, const char *out,
			const char *const *in, size_t nin,
			Onnx__AttributeProto **at, size_t nat)
{
	Onnx__NodeProto *n;
	size_t i;

	if (g->err)
		return NULL;
	n = gb_alloc(g, sizeof(*n));
	if (!n)
		return NULL;
	onnx__node_proto__init(n);
	n->op_type = gb_strdup(g, op);
	n->input = gb_alloc(g, nin * sizeof(char *));
	n->output = gb_alloc(g, sizeof(char *));
	n->attribute =
	    nat ? gb_alloc(g, nat * sizeof(Onnx__AttributeProto *)) : NULL;
	if (g->err)
		return NULL;
	for (i = 0; i < nin; i++) {
		if (!in[i]) {
			g->err = ABYSS_ENOMEM;
			return NULL;
		}
		n->input[i] = (char *)in[i];
	}
	n->n_input = nin;
	for (i = 0; i < nat; i++) {
		if (!at[i]) {
			g->err = ABYSS_ENOMEM;
			return NULL;
		}
		n->attribute[i] = at[i];
	}
	n->n_attribute = nat;
	n->output[0] = out ? gb_strdup(g, out) : gb_tmp(g, op);
	n->n_output = 1;
	n->name = gb_tmp(g, "n");
	if (push_node(g, n))
		return NULL;
	return n->output[0];
}

static const char *op1(struct gb *g, const char *op, const char *a)
{
	const char *in[1] = {a};

	return node(g, op, NULL, in, 1, NULL, 0);
}

static const char *op2(struct gb *g, const char *op, const char *a,
		       const char *b)
{
	const char *in[2] = {a, b};

	return node(g, op, NULL, in, 2, NULL, 0);
}

/* Transpose to a given output name (NULL: a fresh one). */
static const char *transpose_to(struct gb *g, const char *out, const char *x,
				const int64_t *perm, size_t n)
{
	Onnx__AttributeProto *at[1];

	at[0] = attr_ints(g, "perm", perm, n);
	return node(g, "Transpose", out, &x, 1, at, 1);
}

static const char *transpose(struct gb *g, const char *x, const int64_t *perm,
			     size_t n)
{
	return transpose_to(g, NULL, x, perm, n);
}

static const char *softmax_last(struct gb *g, const char *x)
{
	Onnx__AttributeProto *at[1];

	at[0] = attr_i(g, "axis", -1);
	return node(g, "Softmax", NULL, &x, 1, at, 1);
}

/* ReduceMean over axis 1 with keepdims (opset 17: axes is an attribute). */
static const char *mean_axis1(struct gb *g, const char *x)
{
	static const int64_t ax[1] = {1};
	Onnx__AttributeProto *at[2];

	at[0] = attr_ints(g, "axes", ax, 1);
	at[1] = attr_i(g, "keepdims", 1);
	return node(g, "ReduceMean", NULL, &x, 1, at, 2);
}

/* ---- initializers ------------------------------------------------------ */

static Onnx__TensorProto *tensor_new(struct gb *g, const char *name,
				     int32_t dtype, const int64_t *dims,
				     size_t ndims, const void *data,
				     size_t bytes)
{
	Onnx__TensorProto *t = gb_alloc(g, sizeof(*t));
	int64_t *d = gb_alloc(g, (ndims ? ndims : 1) * sizeof(*d));

	if (!t || !d)
		return NULL;
	onnx__tensor_proto__init(t);
	if (ndims)
		memcpy(d, dims, ndims * sizeof(*d));
	t->name = gb_strdup(g, name);
	t->n_dims = ndims;
	t->dims = d;
	t->has_data_type = 1;
	t->data_type = dtype;
	t->has_raw_data = 1;
	t->raw_data.len = bytes;
	/* protobuf-c only reads raw_data when packing */
	t->raw_data.data = (uint8_t *)(uintptr_t)data;
	if (push_init(g, t))
		return NULL;
	return t;
}

/* A float scalar constant (copied into the arena). */
static const char *const_f(struct gb *g, const char *hint, float v)
{
	float *p = gb_alloc(g, sizeof(*p));
	char *name = gb_tmp(g, hint);
	Onnx__TensorProto *t;

	if (!p || !name)
		return NULL;
	*p = v;
	t = tensor_new(g, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, NULL, 0,
		       p, sizeof(*p));
	return t ? t->name : NULL;
}

/* An int64 tensor constant of shape dims (1-D when ndims is 1). */
static const char *const_i64(struct gb *g, const char *hint, const int64_t *v,
			     const int64_t *dims, size_t ndims)
{
	size_t n = 1, i;
	int64_t *p;
	char *name = gb_tmp(g, hint);
	Onnx__TensorProto *t;

	for (i = 0; i < ndims; i++)
		n *= (size_t)dims[i];
	p = gb_alloc(g, n * sizeof(*p));
	if (!p || !name)
		return NULL;
	memcpy(p, v, n * sizeof(*p));
	t = tensor_new(g, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, dims,
		       ndims, p, n * sizeof(*p));
	return t ? t->name : NULL;
}

static const char *reshape(struct gb *g, const char *x, const int64_t *shape,
			   size_t n)
{
	int64_t dims[1];

	dims[0] = (int64_t)n;
	return op2(g, "Reshape", x, const_i64(g, "shape", shape, dims, 1));
}

/* Every model parameter becomes an initializer named by its state_dict
 * name, with the checkpoint's shape; the data is not copied. */
static void add_params(struct gb *g)
{
	size_t i, n = abyss_nn_num_tensors(g->m);
	const float *base = abyss_nn_params(g->m);

	for (i = 0; i < n && !g->err; i++) {
		struct abyss_nn_param_info in;
		int64_t dims[2];

		if (abyss_nn_param_info(g->m, i, &in)) {
			g->err = ABYSS_EINVAL;
			return;
		}
		dims[0] = (int64_t)in.shape[0];
		dims[1] = (int64_t)in.shape[1];
		tensor_new(g, in.name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
			   dims, (size_t)in.ndim, base + in.offset,
			   in.numel * sizeof(float));
	}
}

/* ---- layers ------------------------------------------------------------ */

/* "prefix.suffix" in the arena (module paths of any length). */
static const char *join(struct gb *g, const char *prefix, const char *suffix)
{
	size_t a, b;
	char *s;

	if (!prefix || !suffix) {
		g->err = g->err ? g->err : ABYSS_ENOMEM;
		return NULL;
	}
	a = strlen(prefix);
	b = strlen(suffix);
	s = gb_alloc(g, a + b + 2);
	if (!s)
		return NULL;
	memcpy(s, prefix, a);
	s[a] = '.';
	memcpy(s + a + 1, suffix, b + 1);
	return s;
}

/* "prefix.suffix", which must name a parameter of the model. */
static const char *pname(struct gb *g, const char *prefix, const char *suffix)
{
	const char *s = join(g, prefix, suffix);

	if (s && !abyss_nn_param(g->m, s, NULL)) {
		snprintf(g->missing, sizeof(g->missing), "%s", s);
		g->err = ABYSS_EINVAL;
	}
	return g->err ? NULL : s;
}

/* Constants shared by the whole graph. */
struct consts {
	const char *sqrt2, *one, *half;
};

/* nn.Linear: x W^T + b over the last axis; W stays [out, in] under its
 * own name, so the Transpose is explicit (folded by ONNX Runtime). */
static const char *linear(struct gb *g, const char *x, const char *prefix)
{
	static const int64_t t2[2] = {1, 0};
	const char *w = pname(g, prefix, "weight");
	const char *b = pname(g, prefix, "bias");

	return op2(g, "Add", op2(g, "MatMul", x, transpose(g, w, t2, 2)), b);
}

static const char *layernorm(struct gb *g, const char *x, const char *prefix)
{
	const struct abyss_nn_config *c = abyss_nn_model_config(g->m);
	const char *in[3];
	Onnx__AttributeProto *at[2];

	/* PatchTSMixerNormLayer wraps nn.LayerNorm as .norm */
	in[0] = x;
	in[1] = pname(g, prefix, "norm.weight");
	in[2] = pname(g, prefix, "norm.bias");
	at[0] = attr_i(g, "axis", -1);
	at[1] = attr_f(g, "epsilon", c->norm_eps);
	return node(g, "LayerNormalization", NULL, in, 3, at, 2);
}

/* GELU, erf form: 0.5 x (1 + erf(x / sqrt 2)). */
static const char *gelu(struct gb *g, const struct consts *k, const char *x)
{
	const char *e = op1(g, "Erf", op2(g, "Div", x, k->sqrt2));

	return op2(g, "Mul", op2(g, "Mul", x, op2(g, "Add", e, k->one)),
		   k->half);
}

/* PatchTSMixerMLP (dropout omitted): fc2(gelu(fc1(x))). */
static const char *mlp(struct gb *g, const struct consts *k, const char *x,
		       const char *prefix)
{
	const char *p1, *p2;

	p1 = join(g, prefix, "fc1");
	p2 = join(g, prefix, "fc2");
	return linear(g, gelu(g, k, linear(g, x, p1)), p2);
}

/* PatchTSMixerGatedAttention: x * softmax(attn_layer(x)) over the last
 * axis. */
static const char *gate(struct gb *g, const char *x, const char *prefix)
{
	const char *p = join(g, prefix, "gating_block.attn_layer");

	return op2(g, "Mul", x, softmax_last(g, linear(g, x, p)));
}

/* PatchTSMixerAttention on x [B,C,P,D]: nh heads of D/nh, q scaled by
 * head_dim^-1/2 before q k^T, softmax over keys; [B,C,P,D] out. */
static const char *attention(struct gb *g, const char *x, const char *prefix)
{
	const struct abyss_nn_config *c = abyss_nn_model_config(g->m);
	int64_t nh = c->self_attn_heads, hd = c->d_model / c->self_attn_heads;
	static const int64_t kt4[4] = {0, 1, 3, 2};
	static const int64_t hs5[5] = {0, 1, 3, 2, 4}; /* split heads */
	static const int64_t kt5[5] = {0, 1, 3, 4, 2}; /* split + k^T */
	const char *q, *kk, *v, *s, *ctx, *p;

	p = join(g, prefix, "q_proj");
	q = linear(g, x, p);
	p = join(g, prefix, "k_proj");
	kk = linear(g, x, p);
	p = join(g, prefix, "v_proj");
	v = linear(g, x, p);
	if (nh > 1) {
		/* [B,C,P,D] -> [B,C,P,nh,hd] -> [B,C,nh,P,hd] */
		int64_t sh[5] = {0, 0, 0, nh, hd};

		q = transpose(g, reshape(g, q, sh, 5), hs5, 5);
		kk = transpose(g, reshape(g, kk, sh, 5), kt5, 5);
		v = transpose(g, reshape(g, v, sh, 5), hs5, 5);
	} else {
		kk = transpose(g, kk, kt4, 4);
	}
	/* the scale rounded to float, as torch multiplies a float tensor */
	q = op2(g, "Mul", q, const_f(g, "attn_scale", 1.0f / sqrtf((float)hd)));
	s = softmax_last(g, op2(g, "MatMul", q, kk));
	ctx = op2(g, "MatMul", s, v);
	if (nh > 1) {
		int64_t sh[4] = {0, 0, 0, c->d_model};

		ctx = reshape(g, transpose(g, ctx, hs5, 5), sh, 4);
	}
	p = join(g, prefix, "out_proj");
	return linear(g, ctx, p);
}

/* One PatchTSMixerLayer on x [B,C,P,D] (docs/nn.md, step 3). */
static const char *mixer_layer(struct gb *g, const struct consts *k,
			       const char *x, int l)
{
	const struct abyss_nn_config *c = abyss_nn_model_config(g->m);
	static const int64_t swap_cd[4] = {0, 3, 2, 1}; /* [B,D,P,C] */
	static const int64_t swap_pd[4] = {0, 1, 3, 2}; /* [B,C,D,P] */
	char pre[80];
	const char *y = x, *p, *n, *t, *attn = NULL;

	snprintf(pre, sizeof(pre), "model.encoder.mlp_mixer_encoder.mixers.%d",
		 l);
	if (c->mode == ABYSS_NN_MIX_CHANNEL) {
		/* channel feature mixer: LN, [B,D,P,C], gate BEFORE the MLP */
		p = join(g, pre, "channel_feature_mixer.norm");
		n = transpose(g, layernorm(g, x, p), swap_cd, 4);
		p = join(g, pre, "channel_feature_mixer");
		if (c->gated_attn)
			n = gate(g, n, p);
		p = join(g, pre, "channel_feature_mixer.mlp");
		n = transpose(g, mlp(g, k, n, p), swap_cd, 4);
		y = op2(g, "Add", n, x);
	}

	/* patch mixer: attention on the normed input in parallel with the
	 * MLP over patches (gate after), LN(mlp + attn), residual */
	p = join(g, pre, "patch_mixer.norm");
	n = layernorm(g, y, p);
	if (c->self_attn) {
		p = join(g, pre, "patch_mixer.self_attn_layer");
		attn = attention(g, n, p);
	}
	p = join(g, pre, "patch_mixer.mlp");
	t = mlp(g, k, transpose(g, n, swap_pd, 4), p);
	p = join(g, pre, "patch_mixer");
	if (c->gated_attn)
		t = gate(g, t, p);
	t = transpose(g, t, swap_pd, 4);
	if (c->self_attn) {
		p = join(g, pre, "patch_mixer.norm_attn");
		t = layernorm(g, op2(g, "Add", t, attn), p);
	}
	y = op2(g, "Add", t, y);

	/* feature mixer: LN, MLP over D, gate after, residual */
	p = join(g, pre, "feature_mixer.norm");
	n = layernorm(g, y, p);
	p = join(g, pre, "feature_mixer.mlp");
	t = mlp(g, k, n, p);
	p = join(g, pre, "feature_mixer");
	if (c->gated_attn)
		t = gate(g, t, p);
	return op2(g, "Add", t, y);
}

/* ---- the whole graph ---------------------------------------------------- */

#define INPUT_NAME  "past_values"
#define OUTPUT_NAME "prediction_outputs"

static const char *cast(struct gb *g, const char *x, int32_t to)
{
	Onnx__AttributeProto *at[1];

	at[0] = attr_i(g, "to", to);
	return node(g, "Cast", NULL, &x, 1, at, 1);
}

/* A double scalar constant. */
static const char *const_d(struct gb *g, const char *hint, double v)
{
	double *p = gb_alloc(g, sizeof(*p));
	char *name = gb_tmp(g, hint);
	Onnx__TensorProto *t;

	if (!p || !name)
		return NULL;
	*p = v;
	t = tensor_new(g, name, ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE, NULL, 0,
		       p, sizeof(*p));
	return t ? t->name : NULL;
}

/* Scaler on x [B,T,C]: *loc, *scale [B,1,C] float (NULL when unused);
 * returns the scaled input. The statistics are computed in double and
 * rounded to float, as abyss_nn_forward and the float64 reference do: a
 * float ReduceMean of a constant channel is a few ulp off, and the std
 * scaler divides that error by sqrt(1e-5). */
static const char *scaler(struct gb *g, const char *x, const char **loc,
			  const char **scale)
{
	const struct abyss_nn_config *c = abyss_nn_model_config(g->m);
	const int32_t F = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
		      DBL = ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
	const char *xd, *d, *var;

	*loc = *scale = NULL;
	switch (c->scaling) {
	case ABYSS_NN_SCALE_STD:
		/* population variance around the float mean, eps 1e-5
		 * INSIDE the sqrt (PatchTSMixerStdScaler) */
		xd = cast(g, x, DBL);
		*loc = cast(g, mean_axis1(g, xd), F);
		d = op2(g, "Sub", xd, cast(g, *loc, DBL));
		var = mean_axis1(g, op2(g, "Mul", d, d));
		*scale =
		    cast(g,
			 op1(g, "Sqrt",
			     op2(g, "Add", var, const_d(g, "min_scale", 1e-5))),
			 F);
		return op2(g, "Div", op2(g, "Sub", x, *loc), *scale);
	case ABYSS_NN_SCALE_MEAN:
		/* loc 0: de-scaling multiplies only */
		xd = mean_axis1(g, op1(g, "Abs", cast(g, x, DBL)));
		*scale = cast(
		    g, op2(g, "Max", xd, const_d(g, "min_scale", 1e-10)), F);
		return op2(g, "Div", x, *scale);
	case ABYSS_NN_SCALE_NONE:
		return x;
	}
	g->err = ABYSS_EUNSUPPORTED;
	return NULL;
}

/* Patching [B,T,C] -> [B,C,P,L]: one Gather of the time indices
 * off + p*S + l (off = T - (L + S(P-1)) steps dropped, as transformers). */
static const char *patchify(struct gb *g, const char *x)
{
	const struct abyss_nn_config *c = abyss_nn_model_config(g->m);
	static const int64_t to_bcpl[4] = {0, 3, 1, 2};
	int64_t P = c->num_patches, L = c->patch_length, S = c->patch_stride,
		off = c->context_length - (L + S * (P - 1)), dims[2], p, l;
	int64_t *idx = gb_alloc(g, (size_t)(P * L) * sizeof(*idx));
	const char *in[2];
	Onnx__AttributeProto *at[1];

	if (!idx)
		return NULL;
	for (p = 0; p < P; p++)
		for (l = 0; l < L; l++)
			idx[p * L + l] = off + p * S + l;
	dims[0] = P;
	dims[1] = L;
	in[0] = x;
	in[1] = const_i64(g, "patch_index", idx, dims, 2);
	at[0] = attr_i(g, "axis", 1);
	return transpose(g, node(g, "Gather", NULL, in, 2, at, 1), to_bcpl, 4);
}

static void build_graph(struct gb *g)
{
	const struct abyss_nn_config *c = abyss_nn_model_config(g->m);
	static const int64_t bhc[3] = {0, 2, 1};
	struct consts k;
	const char *loc, *scale, *x, *z;
	int64_t flat[3];
	int l;

	add_params(g);
	k.sqrt2 = const_f(g, "sqrt2", (float)M_SQRT2);
	k.one = const_f(g, "one", 1.0f);
	k.half = const_f(g, "half", 0.5f);
	x = scaler(g, INPUT_NAME, &loc, &scale);
	x = linear(g, patchify(g, x), "model.encoder.patcher");
	if (c->use_positional_encoding)
		x = op2(g, "Add", x,
			pname(g, "model.encoder.positional_encoder",
			      "position_enc"));
	for (l = 0; l < c->num_layers; l++)
		x = mixer_layer(g, &k, x, l);

	/* head: [B,C,P*D] (index p*D + d) -> Linear(s) -> [B,H,C] */
	flat[0] = 0;
	flat[1] = 0;
	flat[2] = (int64_t)c->num_patches * c->d_model;
	z = linear(g, reshape(g, x, flat, 3), "head.base_forecast_block");
	if (c->head_linears == 3) {
		z = linear(g, z, "head.base_forecast_block1");
		z = linear(g, z, "head.base_forecast_block2");
	}
	if (!scale) {
		transpose_to(g, OUTPUT_NAME, z, bhc, 3);
		return;
	}
	z = op2(g, "Mul", transpose(g, z, bhc, 3), scale);
	if (loc) {
		const char *in[2] = {z, loc};

		node(g, "Add", OUTPUT_NAME, in, 2, NULL, 0);
	} else {
		node(g, "Identity", OUTPUT_NAME, &z, 1, NULL, 0);
	}
}

/* A float tensor ValueInfo [batch, d1, d2] (batch symbolic). */
static Onnx__ValueInfoProto *value_info(struct gb *g, const char *name,
					int64_t d1, int64_t d2)
{
	Onnx__ValueInfoProto *vi = gb_alloc(g, sizeof(*vi));
	Onnx__TypeProto *tp = gb_alloc(g, sizeof(*tp));
	Onnx__TypeProto__Tensor *tt = gb_alloc(g, sizeof(*tt));
	Onnx__TensorShapeProto *sh = gb_alloc(g, sizeof(*sh));
	Onnx__TensorShapeProto__Dimension **dv =
	    gb_alloc(g, 3 * sizeof(Onnx__TensorShapeProto__Dimension *));
	Onnx__TensorShapeProto__Dimension *dm = gb_alloc(g, 3 * sizeof(*dm));
	int i;

	if (g->err)
		return NULL;
	for (i = 0; i < 3; i++) {
		onnx__tensor_shape_proto__dimension__init(&dm[i]);
		dv[i] = &dm[i];
	}
	dm[0].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
	dm[0].dim_param = gb_strdup(g, "batch");
	dm[1].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
	dm[1].dim_value = d1;
	dm[2].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
	dm[2].dim_value = d2;
	onnx__tensor_shape_proto__init(sh);
	sh->n_dim = 3;
	sh->dim = dv;
	onnx__type_proto__tensor__init(tt);
	tt->has_elem_type = 1;
	tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
	tt->shape = sh;
	onnx__type_proto__init(tp);
	tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	tp->tensor_type = tt;
	onnx__value_info_proto__init(vi);
	vi->name = gb_strdup(g, name);
	vi->type = tp;
	return vi;
}

int abyss_onnx_export_mem(struct abyss_nn_model *m, uint8_t **out, size_t *len,
			  struct abyss_diag *diag)
{
	const struct abyss_nn_config *c;
	Onnx__ModelProto model;
	Onnx__GraphProto graph;
	Onnx__OperatorSetIdProto opset, *opsets[1];
	Onnx__ValueInfoProto *vin, *vout;
	struct gb g;
	size_t n;
	uint8_t *buf;

	if (!m || !out || !len)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_onnx_export_mem: NULL argument");
	*out = NULL;
	*len = 0;
	c = abyss_nn_model_config(m);
	/* the weights alone must fit in one protobuf message */
	if (abyss_nn_num_params(m) >= ABYSS_ONNX_MAX_BYTES / sizeof(float))
		return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
				      "%zu parameters do not fit in one ONNX "
				      "file (protobuf's 2 GiB limit)",
				      abyss_nn_num_params(m));
	memset(&g, 0, sizeof(g));
	g.m = m;
	build_graph(&g);
	vin = value_info(&g, INPUT_NAME, c->context_length,
			 c->num_input_channels);
	vout = value_info(&g, OUTPUT_NAME, c->prediction_length,
			  c->num_input_channels);
	if (g.err) {
		int e = g.err;

		gb_free(&g);
		if (e == ABYSS_ENOMEM)
			return abyss_diag_set(diag, e, 0, 0,
					      "out of memory building the "
					      "ONNX graph");
		return abyss_diag_set(diag, e, 0, 0,
				      "ONNX graph: the model has no "
				      "parameter '%s'",
				      g.missing);
	}
	onnx__graph_proto__init(&graph);
	graph.name = "patchtsmixer";
	graph.doc_string = "PatchTSMixerForPrediction (inference, no dropout)";
	graph.n_node = g.nnodes;
	graph.node = g.nodes;
	graph.n_initializer = g.ninits;
	graph.initializer = g.inits;
	graph.n_input = 1;
	graph.input = &vin;
	graph.n_output = 1;
	graph.output = &vout;
	onnx__operator_set_id_proto__init(&opset);
	opset.domain = "";
	opset.has_version = 1;
	opset.version = ABYSS_ONNX_OPSET;
	opsets[0] = &opset;
	onnx__model_proto__init(&model);
	model.has_ir_version = 1;
	model.ir_version = ABYSS_ONNX_IR_VERSION;
	model.n_opset_import = 1;
	model.opset_import = opsets;
	model.producer_name = "abyss";
	model.producer_version = ABYSS_VERSION;
	model.graph = &graph;
	n = onnx__model_proto__get_packed_size(&model);
	if (n >= ABYSS_ONNX_MAX_BYTES) {
		gb_free(&g);
		return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
				      "the ONNX model would take %zu bytes, "
				      "over protobuf's 2 GiB limit",
				      n);
	}
	buf = malloc(n ? n : 1);
	if (!buf) {
		gb_free(&g);
		return abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
				      "out of memory packing %zu bytes of "
				      "ONNX",
				      n);
	}
	*len = onnx__model_proto__pack(&model, buf);
	*out = buf;
	gb_free(&g);
	return 0;
}

int abyss_onnx_export_file(struct abyss_nn_model *m, const char *path,
			   struct abyss_diag *diag)
{
	char tmp[4096];
	uint8_t *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc, bad;

	if (!path)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_onnx_export_file: NULL path");
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path,
			     (long)getpid()) >= sizeof(tmp))
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "path too long");
	rc = abyss_onnx_export_mem(m, &buf, &len, diag);
	if (rc)
		return rc;
	/* written beside the target and renamed: never a half file */
	f = fopen(tmp, "wb");
	if (!f) {
		int e = errno;

		free(buf);
		return abyss_diag_set(diag, ABYSS_EIO, 0, 0, "%s: %s", tmp,
				      strerror(e));
	}
	bad = fwrite(buf, 1, len, f) != len;
	bad |= fclose(f) != 0;
	free(buf);
	if (bad || rename(tmp, path) != 0) {
		int e = errno;

		remove(tmp);
		return abyss_diag_set(diag, ABYSS_EIO, 0, 0, "%s: %s", path,
				      strerror(e));
	}
	return 0;
}
