/*
 * model.c - PatchTSMixerForPrediction: parameter table with the exact
 * transformers names, the memory blocks (params, grads, activations,
 * activation grads; one allocation each), checkpoint load/save, and the
 * forward and backward passes. Inference and training share the forward.
 * Kernels are in kernels.c, the config in config.c, AdamW in optim.c.
 * Not here: the exit pipeline around the model, threads, SIMD.
 *
 * Shapes: B batch, T context, C channels, P patches, L patch length,
 * D d_model, E expansion, H prediction length, N = B*C*P token rows.
 */
#include "abyss/nn.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"

#define NAME_MAX_LEN 128
#define NO_BUF	     ((size_t)-1)

/* Parameter offsets (in floats) of one Linear / LayerNorm. */
struct lin {
	size_t w, b;
	size_t in, out;
};
struct ln {
	size_t w, b;
};

struct layer_p {
	struct ln ch_norm;
	struct lin ch_gate, ch_fc1, ch_fc2;
	struct ln pm_norm, pm_norm_attn;
	struct lin pm_q, pm_k, pm_v, pm_o, pm_fc1, pm_fc2, pm_gate;
	struct ln fm_norm;
	struct lin fm_fc1, fm_fc2, fm_gate;
};

/* Per-layer activation buffers (offsets in floats into the activation
 * block; NO_BUF when the config does not use it). */
enum {
	CH_MEAN,
	CH_RSTD,
	CH_NORM,  /* [B,C,P,D] */
	CH_PERM,  /* [B,D,P,C] */
	CH_G,	  /* [B,D,P,C] softmax gate */
	CH_GATED, /* [B,D,P,C] */
	CH_FC1,	  /* [B,D,P,C*E] before GELU */
	CH_GELU,  /* [B,D,P,C*E] after GELU (and dropout) */
	CH_MASK1,
	CH_FC2, /* [B,D,P,C] mlp:out */
	CH_MASK2,
	CH_OUT, /* [B,C,P,D] */
	PM_MEAN,
	PM_RSTD,
	PM_NORM, /* [B,C,P,D] */
	PM_Q,	 /* [B*C,P,D] */
	PM_K,
	PM_V,
	PM_PROBS, /* [B*C,nh,P,P] */
	PM_PMASK,
	PM_CTX,	  /* [B*C,P,D] */
	PM_ATTN,  /* [B*C,P,D] self_attn_layer:out */
	PM_TRANS, /* [B,C,D,P] */
	PM_FC1,	  /* [B,C,D,P*E] */
	PM_GELU,
	PM_MASK1,
	PM_FC2, /* [B,C,D,P] */
	PM_MASK2,
	PM_G,	  /* [B,C,D,P] */
	PM_GATED, /* [B,C,D,P] */
	PM_BACK,  /* [B,C,P,D] */
	PM_SUM,	  /* [B,C,P,D] mlp + attention */
	PM_AMEAN,
	PM_ARSTD,
	PM_ANORM, /* [B,C,P,D] norm_attn:out */
	PM_OUT,	  /* [B,C,P,D] */
	FM_MEAN,
	FM_RSTD,
	FM_NORM, /* [B,C,P,D] */
	FM_FC1,	 /* [B,C,P,D*E] */
	FM_GELU,
	FM_MASK1,
	FM_FC2, /* [B,C,P,D] */
	FM_MASK2,
	FM_G,
	FM_GATED,
	FM_OUT, /* [B,C,P,D] = layer output */
	/* the channel mixer as computed (weights on the left, kernels.c
	 * nn__chmix_forward): [B,C,P,D] and [B,C*E,P,D]. An inference
	 * model computes into the CH_ buffers above (nothing else reads
	 * them); a training model keeps these apart and permutes them into
	 * the CH_ buffers, the layout the backward pass and the named
	 * activations use. */
	CH_WNORM,
	CH_WG,
	CH_WGATED,
	CH_WFC1,
	CH_WGELU,
	CH_WMASK1,
	CH_WFC2,
	CH_WMASK2,
	LAYER_NBUF
};

/* Model-level activation buffers. */
enum {
	G_INPUT,   /* [B,T,C] past_values */
	G_LOC,	   /* [B,C] */
	G_SCALE,   /* [B,C] */
	G_SCALED,  /* [B,T,C] */
	G_PATCHES, /* [B,C,P,L] */
	G_PATCHER, /* [B,C,P,D] */
	G_POS,	   /* [B,C,P,D] input of layer 0 */
	G_HEADIN,  /* [B,C,P*D] flattened (after head dropout) */
	G_HMASK,
	G_Z0, /* [B,C,H] */
	G_Z1,
	G_Z2,
	G_HEADOUT, /* [B,H,C] */
	G_PRED,	   /* [B,H,C] */
	G_SCRATCH, /* gate backward scratch */
	G_NBUF
};

struct param_entry {
	char name[NAME_MAX_LEN];
	int ndim;
	size_t shape[2];
	size_t numel;
	size_t offset;
	int trainable;
};

struct abyss_nn_model {
	struct abyss_nn_config cfg;
	size_t max_batch;
	int training;  /* gradients allocated */
	int train_on;  /* dropout active */
	uint64_t rng;  /* dropout RNG state */
	size_t last_b; /* batch of the last forward, 0 before any */
	int have_backward;
	int threads; /* OpenMP threads of forward/backward (1 by default) */

	struct param_entry *ptab;
	size_t ntensors, nparams;
	float *params; /* one block */
	float *grads;  /* one block or NULL */

	struct lin patcher;
	size_t pe; /* offset of position_enc, NO_BUF without */
	struct lin head[3];
	struct layer_p *lp;

	size_t gbuf[G_NBUF];
	size_t (*lbuf)[LAYER_NBUF]; /* [num_layers] */
	size_t nacts;
	float *acts;  /* one block */
	float *dacts; /* one block or NULL (same layout) */
};

/* ---- parameter table ----------------------------------------------------
 */

struct builder {
	struct abyss_nn_model *m;
	size_t cap; /* entries available in ptab (0 while counting) */
	int oom;
};

static size_t add_param(struct builder *bd, const char *name, int ndim,
			size_t d0, size_t d1, int trainable)
{
	struct abyss_nn_model *m = bd->m;
	size_t off = m->nparams, numel = ndim == 1 ? d0 : d0 * d1;

	if (bd->cap) {
		struct param_entry *e = &m->ptab[m->ntensors];

		snprintf(e->name, sizeof(e->name), "%s", name);
		e->ndim = ndim;
		e->shape[0] = d0;
		e->shape[1] = ndim == 2 ? d1 : 0;
		e->numel = numel;
		e->offset = off;
		e->trainable = trainable;
	}
	m->ntensors++;
	m->nparams += numel;
	return off;
}

static struct lin add_linear(struct builder *bd, const char *prefix, size_t in,
			     size_t out)
{
	char name[NAME_MAX_LEN];
	struct lin l;

	/* state_dict order is bias-after-weight within a module, but the
	 * block order does not matter: names are looked up. */
	snprintf(name, sizeof(name), "%s.weight", prefix);
	l.w = add_param(bd, name, 2, out, in, 1);
	snprintf(name, sizeof(name), "%s.bias", prefix);
	l.b = add_param(bd, name, 1, out, 0, 1);
	l.in = in;
	l.out = out;
	return l;
}

static struct ln add_ln(struct builder *bd, const char *prefix, size_t D)
{
	char name[NAME_MAX_LEN];
	struct ln l;

	snprintf(name, sizeof(name), "%s.norm.weight", prefix);
	l.w = add_param(bd, name, 1, D, 0, 1);
	snprintf(name, sizeof(name), "%s.norm.bias", prefix);
	l.b = add_param(bd, name, 1, D, 0, 1);
	return l;
}

/* Enumerates every parameter the config implies. Run twice: once to count,
 * once to fill the table. */
static void build_params(struct builder *bd)
{
	struct abyss_nn_model *m = bd->m;
	const struct abyss_nn_config *c = &m->cfg;
	size_t C = (size_t)c->num_input_channels, P = (size_t)c->num_patches,
	       D = (size_t)c->d_model, E = (size_t)c->expansion_factor,
	       H = (size_t)c->prediction_length;
	char pre[56], name[104];
	int l;

	m->ntensors = 0;
	m->nparams = 0;
	m->patcher =
	    add_linear(bd, "model.encoder.patcher", (size_t)c->patch_length, D);
	m->pe = NO_BUF;
	if (c->use_positional_encoding)
		m->pe = add_param(bd,
				  "model.encoder.positional_encoder."
				  "position_enc",
				  2, P, D, 0);
	for (l = 0; l < c->num_layers; l++) {
		struct layer_p lp;

		memset(&lp, 0, sizeof(lp));
		snprintf(pre, sizeof(pre),
			 "model.encoder.mlp_mixer_encoder.mixers.%d", l);
		if (c->mode == ABYSS_NN_MIX_CHANNEL) {
			snprintf(name, sizeof(name),
				 "%s.channel_feature_mixer.norm", pre);
			lp.ch_norm = add_ln(bd, name, D);
			if (c->gated_attn) {
				snprintf(name, sizeof(name),
					 "%s.channel_feature_mixer.gating_"
					 "block.attn_layer",
					 pre);
				lp.ch_gate = add_linear(bd, name, C, C);
			}
			snprintf(name, sizeof(name),
				 "%s.channel_feature_mixer.mlp.fc1", pre);
			lp.ch_fc1 = add_linear(bd, name, C, C * E);
			snprintf(name, sizeof(name),
				 "%s.channel_feature_mixer.mlp.fc2", pre);
			lp.ch_fc2 = add_linear(bd, name, C * E, C);
		}
		snprintf(name, sizeof(name), "%s.patch_mixer.norm", pre);
		lp.pm_norm = add_ln(bd, name, D);
		if (c->self_attn) {
			snprintf(name, sizeof(name),
				 "%s.patch_mixer.self_attn_layer.q_proj", pre);
			lp.pm_q = add_linear(bd, name, D, D);
			snprintf(name, sizeof(name),
				 "%s.patch_mixer.self_attn_layer.k_proj", pre);
			lp.pm_k = add_linear(bd, name, D, D);
			snprintf(name, sizeof(name),
				 "%s.patch_mixer.self_attn_layer.v_proj", pre);
			lp.pm_v = add_linear(bd, name, D, D);
			snprintf(name, sizeof(name),
				 "%s.patch_mixer.self_attn_layer.out_proj",
				 pre);
			lp.pm_o = add_linear(bd, name, D, D);
			snprintf(name, sizeof(name), "%s.patch_mixer.norm_attn",
				 pre);
			lp.pm_norm_attn = add_ln(bd, name, D);
		}
		snprintf(name, sizeof(name), "%s.patch_mixer.mlp.fc1", pre);
		lp.pm_fc1 = add_linear(bd, name, P, P * E);
		snprintf(name, sizeof(name), "%s.patch_mixer.mlp.fc2", pre);
		lp.pm_fc2 = add_linear(bd, name, P * E, P);
		if (c->gated_attn) {
			snprintf(name, sizeof(name),
				 "%s.patch_mixer.gating_block.attn_layer", pre);
			lp.pm_gate = add_linear(bd, name, P, P);
		}
		snprintf(name, sizeof(name), "%s.feature_mixer.norm", pre);
		lp.fm_norm = add_ln(bd, name, D);
		snprintf(name, sizeof(name), "%s.feature_mixer.mlp.fc1", pre);
		lp.fm_fc1 = add_linear(bd, name, D, D * E);
		snprintf(name, sizeof(name), "%s.feature_mixer.mlp.fc2", pre);
		lp.fm_fc2 = add_linear(bd, name, D * E, D);
		if (c->gated_attn) {
			snprintf(name, sizeof(name),
				 "%s.feature_mixer.gating_block.attn_layer",
				 pre);
			lp.fm_gate = add_linear(bd, name, D, D);
		}
		if (bd->cap)
			m->lp[l] = lp;
	}
	m->head[0] = add_linear(bd, "head.base_forecast_block", P * D, H);
	if (c->head_linears == 3) {
		m->head[1] = add_linear(bd, "head.base_forecast_block1", H, H);
		m->head[2] = add_linear(bd, "head.base_forecast_block2", H, H);
	}
}

/* ---- activation layout -------------------------------------------------- */

/* Adds n floats to the activation block; returns the offset or NO_BUF
 * when `want` is 0. Sets *ovf on overflow. */
static size_t act_add(size_t *total, size_t n, int want, int *ovf)
{
	size_t off = *total;

	if (!want)
		return NO_BUF;
	if (n > SIZE_MAX / 4 - *total) {
		*ovf = 1;
		return NO_BUF;
	}
	*total += n;
	return off;
}

/* Row stride of the channel mixer's intermediates: P * D, padded by 32
 * floats in an inference model (see nn_chmix; a training model permutes
 * them for the backward pass, which wants them unpadded). */
static size_t chmix_ld(const struct abyss_nn_config *c, int training)
{
	size_t pd = (size_t)c->num_patches * (size_t)c->d_model;

	return training ? pd : pd + 32;
}

/* Lays out the activation block for max_batch. A model built without
 * training keeps only the layer outputs per layer: the intermediates of all
 * layers share one set of buffers (nothing reads them after the layer). */
static int layout_acts(struct abyss_nn_model *m)
{
	const struct abyss_nn_config *c = &m->cfg;
	size_t Bm = m->max_batch, C = (size_t)c->num_input_channels,
	       T = (size_t)c->context_length, P = (size_t)c->num_patches,
	       D = (size_t)c->d_model, E = (size_t)c->expansion_factor,
	       H = (size_t)c->prediction_length, L = (size_t)c->patch_length,
	       nh = (size_t)c->self_attn_heads;
	size_t N, ND, tot = 0, scratch, ldw;
	int mix = c->mode == ABYSS_NN_MIX_CHANNEL, g = c->gated_attn,
	    sa = c->self_attn, tr = m->training;
	int drop = tr && c->dropout > 0.0f,
	    hdrop = tr && c->head_dropout > 0.0f;
	int ovf = 0, l, k;

	/* N*D*E and B*C*P*P must not overflow: every factor <= 65536 and
	 * max_batch is bounded by the caller, so check in steps. */
	if (Bm > SIZE_MAX / C || Bm * C > SIZE_MAX / P ||
	    Bm * C * P > SIZE_MAX / (D * E + P * nh + 1))
		return ABYSS_ETOOBIG;
	N = Bm * C * P;
	ND = N * D;
	ldw = chmix_ld(c, tr);
	m->gbuf[G_INPUT] = act_add(&tot, Bm * T * C, 1, &ovf);
	m->gbuf[G_LOC] = act_add(&tot, Bm * C, 1, &ovf);
	m->gbuf[G_SCALE] = act_add(&tot, Bm * C, 1, &ovf);
	m->gbuf[G_SCALED] = act_add(&tot, Bm * T * C, 1, &ovf);
	m->gbuf[G_PATCHES] = act_add(&tot, N * L, 1, &ovf);
	m->gbuf[G_PATCHER] = act_add(&tot, ND, 1, &ovf);
	m->gbuf[G_POS] = act_add(&tot, ND, 1, &ovf);
	m->gbuf[G_HEADIN] = act_add(&tot, ND, hdrop, &ovf);
	m->gbuf[G_HMASK] = act_add(&tot, ND, hdrop, &ovf);
	m->gbuf[G_Z0] = act_add(&tot, Bm * C * H, 1, &ovf);
	m->gbuf[G_Z1] = act_add(&tot, Bm * C * H, c->head_linears == 3, &ovf);
	m->gbuf[G_Z2] = act_add(&tot, Bm * C * H, c->head_linears == 3, &ovf);
	m->gbuf[G_HEADOUT] = act_add(&tot, Bm * H * C, 1, &ovf);
	m->gbuf[G_PRED] = act_add(&tot, Bm * H * C, 1, &ovf);
	/* scratch: the gate backward needs rows x width floats */
	scratch = ND > N * P ? ND : N * P;
	if (scratch < Bm * D * P * C)
		scratch = Bm * D * P * C;
	m->gbuf[G_SCRATCH] = act_add(&tot, scratch, tr, &ovf);
	for (l = 0; l < c->num_layers; l++) {
		size_t *b = m->lbuf[l];

		if (!tr && l > 0) {
			/* share layer 0's intermediates, own output */
			for (k = 0; k < LAYER_NBUF; k++)
				b[k] = m->lbuf[0][k];
			b[CH_OUT] = act_add(&tot, ND, mix, &ovf);
			b[PM_OUT] = act_add(&tot, ND, 1, &ovf);
			b[FM_OUT] = act_add(&tot, ND, 1, &ovf);
			continue;
		}
		b[CH_MEAN] = act_add(&tot, N, mix, &ovf);
		b[CH_RSTD] = act_add(&tot, N, mix, &ovf);
		b[CH_NORM] = act_add(&tot, ND, mix && tr, &ovf);
		b[CH_PERM] = act_add(&tot, ND, mix && tr, &ovf);
		b[CH_G] = act_add(&tot, ND, mix && g && tr, &ovf);
		b[CH_GATED] = act_add(&tot, ND, mix && g && tr, &ovf);
		b[CH_FC1] = act_add(&tot, ND * E, mix && tr, &ovf);
		b[CH_GELU] = act_add(&tot, ND * E, mix && tr, &ovf);
		b[CH_MASK1] = act_add(&tot, ND * E, mix && drop, &ovf);
		b[CH_FC2] = act_add(&tot, ND, mix && tr, &ovf);
		b[CH_MASK2] = act_add(&tot, ND, mix && drop, &ovf);
		b[CH_OUT] = act_add(&tot, ND, mix, &ovf);
		b[PM_MEAN] = act_add(&tot, N, 1, &ovf);
		b[PM_RSTD] = act_add(&tot, N, 1, &ovf);
		b[PM_NORM] = act_add(&tot, ND, 1, &ovf);
		b[PM_Q] = act_add(&tot, ND, sa, &ovf);
		b[PM_K] = act_add(&tot, ND, sa, &ovf);
		b[PM_V] = act_add(&tot, ND, sa, &ovf);
		b[PM_PROBS] = act_add(&tot, N * P * nh, sa, &ovf);
		b[PM_PMASK] = act_add(&tot, N * P * nh, sa && drop, &ovf);
		b[PM_CTX] = act_add(&tot, ND, sa, &ovf);
		b[PM_ATTN] = act_add(&tot, ND, sa, &ovf);
		b[PM_TRANS] = act_add(&tot, ND, tr, &ovf);
		b[PM_FC1] = act_add(&tot, ND * E, 1, &ovf);
		b[PM_GELU] = act_add(&tot, ND * E, 1, &ovf);
		b[PM_MASK1] = act_add(&tot, ND * E, drop, &ovf);
		b[PM_FC2] = act_add(&tot, ND, 1, &ovf);
		b[PM_MASK2] = act_add(&tot, ND, drop, &ovf);
		b[PM_G] = act_add(&tot, ND, g, &ovf);
		b[PM_GATED] = act_add(&tot, ND, g && tr, &ovf);
		b[PM_BACK] = act_add(&tot, ND, 1, &ovf);
		b[PM_SUM] = act_add(&tot, ND, sa, &ovf);
		b[PM_AMEAN] = act_add(&tot, N, sa, &ovf);
		b[PM_ARSTD] = act_add(&tot, N, sa, &ovf);
		b[PM_ANORM] = act_add(&tot, ND, sa && tr, &ovf);
		b[PM_OUT] = act_add(&tot, ND, 1, &ovf);
		b[FM_MEAN] = act_add(&tot, N, 1, &ovf);
		b[FM_RSTD] = act_add(&tot, N, 1, &ovf);
		b[FM_NORM] = act_add(&tot, ND, 1, &ovf);
		b[FM_FC1] = act_add(&tot, ND * E, 1, &ovf);
		b[FM_GELU] = act_add(&tot, ND * E, 1, &ovf);
		b[FM_MASK1] = act_add(&tot, ND * E, drop, &ovf);
		b[FM_FC2] = act_add(&tot, ND, 1, &ovf);
		b[FM_MASK2] = act_add(&tot, ND, drop, &ovf);
		b[FM_G] = act_add(&tot, ND, g, &ovf);
		b[FM_GATED] = act_add(&tot, ND, g && tr, &ovf);
		b[FM_OUT] = act_add(&tot, ND, 1, &ovf);
		/* rows of ldw floats: B * C * ldw <= B * C * (PD + 32) */
		b[CH_WNORM] = act_add(&tot, Bm * C * ldw, mix && !tr, &ovf);
		b[CH_WG] = act_add(&tot, Bm * C * ldw, mix && g, &ovf);
		b[CH_WGATED] = act_add(&tot, Bm * C * ldw, mix && g, &ovf);
		b[CH_WFC1] = act_add(&tot, Bm * C * E * ldw, mix, &ovf);
		b[CH_WGELU] = act_add(&tot, Bm * C * E * ldw, mix, &ovf);
		b[CH_WMASK1] = act_add(&tot, ND * E, mix && drop, &ovf);
		b[CH_WFC2] = act_add(&tot, Bm * C * ldw, mix, &ovf);
		b[CH_WMASK2] = act_add(&tot, ND, mix && drop, &ovf);
	}
	if (ovf || tot > ABYSS_NN_MAX_ACTS)
		return ABYSS_ETOOBIG;
	m->nacts = tot;
	return 0;
}

/* ---- construction ------------------------------------------------------- */

/* transformers PatchTSMixerPositionalEncoding, sincos: table, minus its
 * mean, divided by 10 x its unbiased std (computed here in double; a
 * checkpoint's float32 table differs by ~1e-7 and is what load uses). */
static void sincos_table(float *pe, size_t P, size_t D)
{
	double mean = 0.0, var = 0.0, sd;
	size_t p, d, n = P * D;

	for (p = 0; p < P; p++)
		for (d = 0; d < D; d++) {
			double w = exp((double)(d & ~(size_t)1) *
				       -(log(10000.0) / (double)D));
			pe[p * D + d] = (float)((d & 1) ? cos((double)p * w)
							: sin((double)p * w));
		}
	for (p = 0; p < n; p++)
		mean += pe[p];
	mean /= (double)n;
	for (p = 0; p < n; p++)
		var += (pe[p] - mean) * (pe[p] - mean);
	sd = n > 1 ? sqrt(var / (double)(n - 1)) : 1.0;
	for (p = 0; p < n; p++)
		pe[p] = (float)((pe[p] - mean) / (sd * 10.0));
}

void abyss_nn_model_free(struct abyss_nn_model *m)
{
	if (!m)
		return;
	free(m->ptab);
	free(m->params);
	free(m->grads);
	free(m->lp);
	free(m->lbuf);
	free(m->acts);
	free(m->dacts);
	free(m);
}

int abyss_nn_model_new(const struct abyss_nn_config *cfg,
		       const struct abyss_nn_options *opt,
		       struct abyss_nn_model **out, struct abyss_diag *diag)
{
	struct abyss_nn_model *m;
	struct builder bd;
	size_t i, nl;
	int rc;

	if (!cfg || !out)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_nn_model_new: NULL argument");
	rc = abyss_nn_config_validate(cfg, diag);
	if (rc)
		return rc;
	m = calloc(1, sizeof(*m));
	if (!m)
		return abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
				      "out of memory");
	m->cfg = *cfg;
	if (m->cfg.head_linears == 0)
		m->cfg.head_linears = 3;
	m->max_batch = opt && opt->max_batch ? opt->max_batch : 1;
	m->threads = 1;
	m->training = opt ? opt->training != 0 : 0;
	nl = (size_t)cfg->num_layers;
	m->lp = calloc(nl ? nl : 1, sizeof(*m->lp));
	m->lbuf = calloc(nl ? nl : 1, sizeof(*m->lbuf));
	if (!m->lp || !m->lbuf)
		goto oom;
	bd.m = m;
	bd.cap = 0;
	bd.oom = 0;
	build_params(&bd);
	if (m->nparams > ABYSS_NN_MAX_PARAMS) {
		size_t np = m->nparams;

		abyss_nn_model_free(m);
		return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
				      "the config implies %zu parameters, over "
				      "the limit of %zu",
				      np, (size_t)ABYSS_NN_MAX_PARAMS);
	}
	m->ptab = calloc(m->ntensors, sizeof(*m->ptab));
	if (!m->ptab)
		goto oom;
	bd.cap = m->ntensors;
	build_params(&bd);
	/* one allocation for all parameters (llm.c malloc_and_point) */
	m->params = calloc(m->nparams, sizeof(float));
	if (!m->params)
		goto oom;
	if (m->training) {
		m->grads = calloc(m->nparams, sizeof(float));
		if (!m->grads)
			goto oom;
	}
	for (i = 0; i < m->ntensors; i++) {
		/* LayerNorm weights start at one, as in torch */
		const char *nm = m->ptab[i].name;
		size_t len = strlen(nm);

		if (len > 12 && strcmp(nm + len - 12, ".norm.weight") == 0) {
			size_t j;
			for (j = 0; j < m->ptab[i].numel; j++)
				m->params[m->ptab[i].offset + j] = 1.0f;
		}
	}
	if (m->pe != NO_BUF)
		sincos_table(m->params + m->pe, (size_t)cfg->num_patches,
			     (size_t)cfg->d_model);
	rc = layout_acts(m);
	if (rc) {
		size_t mb = m->max_batch;

		abyss_nn_model_free(m);
		return abyss_diag_set(diag, rc, 0, 0,
				      "activation buffers for max_batch %zu "
				      "are too large",
				      mb);
	}
	m->acts = calloc(m->nacts, sizeof(float));
	if (!m->acts)
		goto oom;
	if (m->training) {
		m->dacts = calloc(m->nacts, sizeof(float));
		if (!m->dacts)
			goto oom;
	}
	*out = m;
	return 0;
oom:
	abyss_nn_model_free(m);
	return abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
			      "out of memory building the model");
}

const struct abyss_nn_config *
abyss_nn_model_config(const struct abyss_nn_model *m)
{
	return m ? &m->cfg : NULL;
}

size_t abyss_nn_max_batch(const struct abyss_nn_model *m)
{
	return m ? m->max_batch : 0;
}

size_t abyss_nn_memory_bytes(const struct abyss_nn_model *m)
{
	if (!m)
		return 0;
	return (m->nparams * (m->grads ? 2 : 1) +
		m->nacts * (m->dacts ? 2 : 1)) *
	       sizeof(float);
}

size_t abyss_nn_num_tensors(const struct abyss_nn_model *m)
{
	return m ? m->ntensors : 0;
}

size_t abyss_nn_num_params(const struct abyss_nn_model *m)
{
	return m ? m->nparams : 0;
}

int abyss_nn_param_info(const struct abyss_nn_model *m, size_t i,
			struct abyss_nn_param_info *out)
{
	const struct param_entry *e;

	if (!m || !out || i >= m->ntensors)
		return ABYSS_EINVAL;
	e = &m->ptab[i];
	out->name = e->name;
	out->ndim = e->ndim;
	out->shape[0] = e->shape[0];
	out->shape[1] = e->shape[1];
	out->numel = e->numel;
	out->offset = e->offset;
	out->trainable = e->trainable;
	return 0;
}

static const struct param_entry *find_param(const struct abyss_nn_model *m,
					    const char *name)
{
	size_t i;

	for (i = 0; i < m->ntensors; i++)
		if (strcmp(m->ptab[i].name, name) == 0)
			return &m->ptab[i];
	return NULL;
}

float *abyss_nn_param(struct abyss_nn_model *m, const char *name, size_t *numel)
{
	const struct param_entry *e;

	if (!m || !name)
		return NULL;
	e = find_param(m, name);
	if (!e)
		return NULL;
	if (numel)
		*numel = e->numel;
	return m->params + e->offset;
}

float *abyss_nn_grad(struct abyss_nn_model *m, const char *name, size_t *numel)
{
	const struct param_entry *e;

	if (!m || !name || !m->grads)
		return NULL;
	e = find_param(m, name);
	if (!e)
		return NULL;
	if (numel)
		*numel = e->numel;
	return m->grads + e->offset;
}

float *abyss_nn_params(struct abyss_nn_model *m)
{
	return m ? m->params : NULL;
}

float *abyss_nn_grads(struct abyss_nn_model *m)
{
	return m ? m->grads : NULL;
}

void abyss_nn_set_train(struct abyss_nn_model *m, int train, uint64_t seed)
{
	if (!m)
		return;
	m->train_on = train && m->training;
	m->rng = seed;
}

void abyss_nn_zero_grad(struct abyss_nn_model *m)
{
	if (m && m->grads)
		memset(m->grads, 0, m->nparams * sizeof(float));
}

/* ---- checkpoint I/O ----------------------------------------------------- */

int abyss_nn_model_load_weights(struct abyss_nn_model *m,
				const struct abyss_st_file *st,
				struct abyss_diag *diag)
{
	size_t i;

	if (!m || !st)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "load_weights: NULL argument");
	for (i = 0; i < m->ntensors; i++) {
		const struct param_entry *e = &m->ptab[i];
		const struct abyss_st_tensor *t = abyss_st_find(st, e->name);
		int d;

		if (!t)
			return abyss_diag_set(diag, ABYSS_EMISSING, 0, 0,
					      "checkpoint lacks '%s' that the "
					      "config requires",
					      e->name);
		if (t->ndim != e->ndim || t->nelem != e->numel)
			goto shape;
		for (d = 0; d < e->ndim; d++)
			if (t->shape[d] != e->shape[d])
				goto shape;
		if (abyss_st_read_f32(t, m->params + e->offset, e->numel))
			goto shape;
		continue;
	shape:
		if (e->ndim == 2)
			return abyss_diag_set(diag, ABYSS_ESHAPE, 0, 0,
					      "'%s': checkpoint shape does not "
					      "match the config's [%zu, %zu]",
					      e->name, e->shape[0],
					      e->shape[1]);
		return abyss_diag_set(diag, ABYSS_ESHAPE, 0, 0,
				      "'%s': checkpoint shape does not match "
				      "the config's [%zu]",
				      e->name, e->shape[0]);
	}
	if (abyss_st_count(st) != m->ntensors) {
		for (i = 0; i < abyss_st_count(st); i++) {
			const struct abyss_st_tensor *t = abyss_st_at(st, i);

			if (!find_param(m, t->name))
				return abyss_diag_set(
				    diag, ABYSS_EPARSE, 0, 0,
				    "checkpoint tensor '%s' is not a "
				    "parameter of this config",
				    t->name);
		}
	}
	return 0;
}

int abyss_nn_model_load(const char *dir, const struct abyss_nn_options *opt,
			struct abyss_nn_model **out, struct abyss_diag *diag)
{
	struct abyss_nn_config cfg;
	struct abyss_st_file *st = NULL;
	struct abyss_nn_model *m = NULL;
	char path[4096];
	int rc;

	if (!dir || !out)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_nn_model_load: NULL argument");
	if ((size_t)snprintf(path, sizeof(path), "%s/config.json", dir) >=
	    sizeof(path))
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "path too long");
	rc = abyss_nn_config_load(path, &cfg, diag);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	rc = abyss_st_open(path, NULL, &st, diag);
	if (rc)
		return rc;
	if (cfg.head_linears == 0)
		cfg.head_linears =
		    abyss_st_find(st, "head.base_forecast_block1.weight") ? 3
									  : 1;
	rc = abyss_nn_model_new(&cfg, opt, &m, diag);
	if (rc == 0)
		rc = abyss_nn_model_load_weights(m, st, diag);
	abyss_st_close(st);
	if (rc) {
		abyss_nn_model_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

int abyss_nn_model_save(const struct abyss_nn_model *m, const char *dir,
			struct abyss_diag *diag)
{
	struct abyss_st_entry *e;
	char path[4096];
	size_t i;
	int rc;

	if (!m || !dir)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_nn_model_save: NULL argument");
	if ((size_t)snprintf(path, sizeof(path), "%s/model.safetensors", dir) >=
	    sizeof(path))
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "path too long");
	e = calloc(m->ntensors, sizeof(*e));
	if (!e)
		return abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
				      "out of memory");
	for (i = 0; i < m->ntensors; i++) {
		e[i].name = m->ptab[i].name;
		e[i].dtype = ABYSS_ST_F32;
		e[i].ndim = m->ptab[i].ndim;
		e[i].shape[0] = m->ptab[i].shape[0];
		e[i].shape[1] = m->ptab[i].shape[1];
		e[i].data = m->params + m->ptab[i].offset;
	}
	rc = abyss_st_write(path, e, m->ntensors, diag);
	free(e);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s/config.json", dir);
	return abyss_nn_config_save(&m->cfg, path, diag);
}

/* ---- forward ------------------------------------------------------------ */

#define ACT(off)  (m->acts + (off))
#define DACT(off) (m->dacts + (off))
#define PRM(off)  (m->params + (off))
#define GRD(off)  (m->grads + (off))

/* 1 when dropout with rate p is active in this pass and mask buffer off
 * exists */
static int drop_on(const struct abyss_nn_model *m, size_t off, float p)
{
	return m->train_on && p > 0.0f && off != NO_BUF;
}

/* Draws a fresh mask into buffer off and applies it to x[n] in place. */
static void apply_dropout(struct abyss_nn_model *m, float *x, size_t off,
			  size_t n, float p)
{
	if (!drop_on(m, off, p))
		return;
	nn__dropout_mask(m->acts + off, n, p, &m->rng);
	nn__mul_inplace(x, m->acts + off, n);
}

static const float *mask_of(const struct abyss_nn_model *m, size_t off, float p)
{
	if (!m->train_on || p <= 0.0f || off == NO_BUF)
		return NULL;
	return m->acts + off;
}

/* The second half of an MLP backward, the same in the three mixers: the
 * dropout masks, fc2 and the GELU. dfc2 holds d(fc2 output) [rows, out] on
 * entry; d(fc1 output) [rows, hidden] is left in the fc1 buffer, whose
 * backward (its input differs per mixer) the caller runs. */
static void mlp_backward_to_fc1(struct abyss_nn_model *m, const struct lin *fc2,
				size_t fc2_off, size_t gelu_off, size_t fc1_off,
				size_t mask2, size_t mask1, size_t rows,
				size_t hidden, size_t out, float pd)
{
	const float *mk;

	if ((mk = mask_of(m, mask2, pd)))
		nn__mul_inplace(DACT(fc2_off), mk, rows * out);
	nn__matmul_backward(DACT(gelu_off), GRD(fc2->w), GRD(fc2->b),
			    DACT(fc2_off), ACT(gelu_off), PRM(fc2->w), rows,
			    hidden, out);
	if ((mk = mask_of(m, mask1, pd)))
		nn__mul_inplace(DACT(gelu_off), mk, rows * hidden);
	nn__gelu_backward(DACT(fc1_off), ACT(fc1_off), DACT(gelu_off),
			  rows * hidden);
}

/* Scaler: loc, scale [B,C]; scaled [B,T,C]. Statistics in double, the
 * scaled values in float as torch. */
static void scaler_forward(struct abyss_nn_model *m, size_t B)
{
	const struct abyss_nn_config *c = &m->cfg;
	size_t T = (size_t)c->context_length, C = (size_t)c->num_input_channels;
	const float *x = ACT(m->gbuf[G_INPUT]);
	float *loc = ACT(m->gbuf[G_LOC]), *scale = ACT(m->gbuf[G_SCALE]),
	      *y = ACT(m->gbuf[G_SCALED]);
	size_t b, t, ch;

	for (b = 0; b < B; b++)
		for (ch = 0; ch < C; ch++) {
			double mu = 0.0, var = 0.0, s;
			float lf, sf;

			if (c->scaling == ABYSS_NN_SCALE_STD) {
				for (t = 0; t < T; t++)
					mu += x[(b * T + t) * C + ch];
				lf = (float)(mu / (double)T);
				for (t = 0; t < T; t++) {
					double d =
					    (double)x[(b * T + t) * C + ch] -
					    lf;
					var += d * d;
				}
				/* PatchTSMixerStdScaler: eps INSIDE the
				 * sqrt (minimum_scale 1e-5) */
				sf = (float)sqrt(var / (double)T + 1e-5);
			} else if (c->scaling == ABYSS_NN_SCALE_MEAN) {
				for (t = 0; t < T; t++)
					mu += fabs(
					    (double)x[(b * T + t) * C + ch]);
				s = mu / (double)T;
				lf = 0.0f;
				sf = (float)(s > 1e-10 ? s : 1e-10);
			} else {
				lf = 0.0f;
				sf = 1.0f;
			}
			loc[b * C + ch] = lf;
			scale[b * C + ch] = sf;
			for (t = 0; t < T; t++) {
				size_t i = (b * T + t) * C + ch;
				y[i] = (x[i] - lf) / sf;
			}
		}
}

static void mixer_layer_forward(struct abyss_nn_model *m, int l,
				const float *xin, size_t B)
{
	const struct abyss_nn_config *c = &m->cfg;
	const struct layer_p *p = &m->lp[l];
	const size_t *a = m->lbuf[l];
	size_t C = (size_t)c->num_input_channels, P = (size_t)c->num_patches,
	       D = (size_t)c->d_model, E = (size_t)c->expansion_factor,
	       nh = (size_t)c->self_attn_heads;
	size_t N = B * C * P, ND = N * D;
	float eps = c->norm_eps, pd = c->dropout, *mk;
	const float *y, *mo;

	/* (i) channel feature mixer: LN -> gate -> MLP over C, computed per
	 * window as W x [C, P*D] (no permute); a training model then stores
	 * the [B,D,P,C] layout the backward pass reads */
	y = xin;
	if (c->mode == ABYSS_NN_MIX_CHANNEL) {
		struct nn_chmix cm;
		int dr = drop_on(m, a[CH_WMASK1], pd);

		if (dr) {
			nn__dropout_mask(ACT(a[CH_WMASK1]), ND * E, pd,
					 &m->rng);
			nn__dropout_mask(ACT(a[CH_WMASK2]), ND, pd, &m->rng);
		}
		cm.C = C;
		cm.CE = C * E;
		cm.PD = P * D;
		cm.D = D;
		cm.ld = chmix_ld(c, m->training);
		cm.lnw = PRM(p->ch_norm.w);
		cm.lnb = PRM(p->ch_norm.b);
		cm.eps = eps;
		cm.mean = ACT(a[CH_MEAN]);
		cm.rstd = ACT(a[CH_RSTD]);
		cm.xw = m->training ? NULL : ACT(a[CH_WNORM]);
		cm.xn = m->training ? ACT(a[CH_NORM]) : NULL;
		cm.xin = xin;
		cm.wg = c->gated_attn ? PRM(p->ch_gate.w) : NULL;
		cm.bg = c->gated_attn ? PRM(p->ch_gate.b) : NULL;
		cm.w1 = PRM(p->ch_fc1.w);
		cm.b1 = PRM(p->ch_fc1.b);
		cm.w2 = PRM(p->ch_fc2.w);
		cm.b2 = PRM(p->ch_fc2.b);
		cm.mask1 = dr ? ACT(a[CH_WMASK1]) : NULL;
		cm.mask2 = dr ? ACT(a[CH_WMASK2]) : NULL;
		cm.g = c->gated_attn ? ACT(a[CH_WG]) : NULL;
		cm.gated = c->gated_attn ? ACT(a[CH_WGATED]) : NULL;
		cm.fc1 = ACT(a[CH_WFC1]);
		cm.gelu = ACT(a[CH_WGELU]);
		cm.fc2 = ACT(a[CH_WFC2]);
		cm.out = ACT(a[CH_OUT]);
		nn__chmix_forward(&cm, B);
		if (m->training) {
			nn__permute_0321(ACT(a[CH_PERM]), ACT(a[CH_NORM]), B, C,
					 P, D, 0);
			if (c->gated_attn) {
				nn__permute_0321(ACT(a[CH_G]), ACT(a[CH_WG]), B,
						 C, P, D, 0);
				nn__permute_0321(ACT(a[CH_GATED]),
						 ACT(a[CH_WGATED]), B, C, P, D,
						 0);
			}
			nn__permute_0321(ACT(a[CH_FC1]), ACT(a[CH_WFC1]), B,
					 C * E, P, D, 0);
			nn__permute_0321(ACT(a[CH_GELU]), ACT(a[CH_WGELU]), B,
					 C * E, P, D, 0);
			nn__permute_0321(ACT(a[CH_FC2]), ACT(a[CH_WFC2]), B, C,
					 P, D, 0);
			if (dr) {
				nn__permute_0321(ACT(a[CH_MASK1]),
						 ACT(a[CH_WMASK1]), B, C * E, P,
						 D, 0);
				nn__permute_0321(ACT(a[CH_MASK2]),
						 ACT(a[CH_WMASK2]), B, C, P, D,
						 0);
			}
		}
		y = ACT(a[CH_OUT]);
	}

	/* (ii) patch mixer: LN; attention over patches in parallel with an
	 * MLP over the patch axis, gated after; LN(mlp + attn) + residual */
	nn__layernorm_forward(ACT(a[PM_NORM]), ACT(a[PM_MEAN]), ACT(a[PM_RSTD]),
			      y, PRM(p->pm_norm.w), PRM(p->pm_norm.b), N, D,
			      eps);
	if (c->self_attn) {
		nn__matmul_forward(ACT(a[PM_Q]), ACT(a[PM_NORM]),
				   PRM(p->pm_q.w), PRM(p->pm_q.b), N, D, D);
		nn__matmul_forward(ACT(a[PM_K]), ACT(a[PM_NORM]),
				   PRM(p->pm_k.w), PRM(p->pm_k.b), N, D, D);
		nn__matmul_forward(ACT(a[PM_V]), ACT(a[PM_NORM]),
				   PRM(p->pm_v.w), PRM(p->pm_v.b), N, D, D);
		mk = NULL;
		if (drop_on(m, a[PM_PMASK], pd)) {
			nn__dropout_mask(ACT(a[PM_PMASK]), N * P * nh, pd,
					 &m->rng);
			mk = ACT(a[PM_PMASK]);
		}
		nn__attention_forward(ACT(a[PM_CTX]), ACT(a[PM_PROBS]),
				      ACT(a[PM_Q]), ACT(a[PM_K]), ACT(a[PM_V]),
				      mk, B * C, P, D, nh, m->training);
		nn__matmul_forward(ACT(a[PM_ATTN]), ACT(a[PM_CTX]),
				   PRM(p->pm_o.w), PRM(p->pm_o.b), N, D, D);
	}
	/* fc1 reads the [P, D] blocks down their columns (no transposed
	 * copy); the backward pass wants the copy */
	if (m->training)
		nn__transpose(ACT(a[PM_TRANS]), ACT(a[PM_NORM]), B * C, P, D,
			      0);
	nn__matmul_forward_blocks(ACT(a[PM_FC1]), ACT(a[PM_NORM]), B * C, P * D,
				  D, 1, D, PRM(p->pm_fc1.w), PRM(p->pm_fc1.b),
				  P, P * E);
	nn__gelu_forward(ACT(a[PM_GELU]), ACT(a[PM_FC1]), ND * E);
	apply_dropout(m, ACT(a[PM_GELU]), a[PM_MASK1], ND * E, pd);
	nn__matmul_forward(ACT(a[PM_FC2]), ACT(a[PM_GELU]), PRM(p->pm_fc2.w),
			   PRM(p->pm_fc2.b), B * C * D, P * E, P);
	apply_dropout(m, ACT(a[PM_FC2]), a[PM_MASK2], ND, pd);
	if (c->gated_attn) {
		/* gate, transpose back to [B,C,P,D] and the attention sum in
		 * one pass; the [B,C,D,P] gate output only for training */
		nn__gate_probs(ACT(a[PM_G]), ACT(a[PM_FC2]), PRM(p->pm_gate.w),
			       PRM(p->pm_gate.b), B * C * D, P);
		nn__gate_mul_t(ACT(c->self_attn ? a[PM_SUM] : a[PM_BACK]),
			       m->training ? ACT(a[PM_GATED]) : NULL,
			       ACT(a[PM_FC2]), ACT(a[PM_G]),
			       c->self_attn ? ACT(a[PM_ATTN]) : NULL, B * C, D,
			       P);
	} else {
		nn__transpose(ACT(a[PM_BACK]), ACT(a[PM_FC2]), B * C, D, P, 0);
		if (c->self_attn)
			nn__add(ACT(a[PM_SUM]), ACT(a[PM_BACK]),
				ACT(a[PM_ATTN]), ND);
	}
	if (c->self_attn)
		/* LN(mlp + attention) and the residual in one pass; the LN
		 * output itself only for training */
		nn__layernorm_forward_res(
		    m->training ? ACT(a[PM_ANORM]) : NULL, ACT(a[PM_AMEAN]),
		    ACT(a[PM_ARSTD]), ACT(a[PM_SUM]), PRM(p->pm_norm_attn.w),
		    PRM(p->pm_norm_attn.b), N, D, eps, y, ACT(a[PM_OUT]));
	else
		nn__add(ACT(a[PM_OUT]), ACT(a[PM_BACK]), y, ND);
	y = ACT(a[PM_OUT]);

	/* (iii) feature mixer: LN -> MLP over D -> gate (after) */
	nn__layernorm_forward(ACT(a[FM_NORM]), ACT(a[FM_MEAN]), ACT(a[FM_RSTD]),
			      y, PRM(p->fm_norm.w), PRM(p->fm_norm.b), N, D,
			      eps);
	nn__matmul_forward(ACT(a[FM_FC1]), ACT(a[FM_NORM]), PRM(p->fm_fc1.w),
			   PRM(p->fm_fc1.b), N, D, D * E);
	nn__gelu_forward(ACT(a[FM_GELU]), ACT(a[FM_FC1]), ND * E);
	apply_dropout(m, ACT(a[FM_GELU]), a[FM_MASK1], ND * E, pd);
	nn__matmul_forward(ACT(a[FM_FC2]), ACT(a[FM_GELU]), PRM(p->fm_fc2.w),
			   PRM(p->fm_fc2.b), N, D * E, D);
	apply_dropout(m, ACT(a[FM_FC2]), a[FM_MASK2], ND, pd);
	mo = ACT(a[FM_FC2]);
	if (c->gated_attn && !m->training) {
		/* the gate's product and the residual in one pass */
		nn__matmul_forward(ACT(a[FM_G]), mo, PRM(p->fm_gate.w),
				   PRM(p->fm_gate.b), N, D, D);
		nn__softmax_mul_add(ACT(a[FM_G]), ACT(a[FM_OUT]), mo, y, N, D);
		return;
	}
	if (c->gated_attn) {
		nn__gate_forward(ACT(a[FM_GATED]), ACT(a[FM_G]), mo,
				 PRM(p->fm_gate.w), PRM(p->fm_gate.b), N, D);
		mo = ACT(a[FM_GATED]);
	}
	nn__add(ACT(a[FM_OUT]), mo, y, ND);
}

static const float *layer_input(const struct abyss_nn_model *m, int l)
{
	return l == 0 ? m->acts + m->gbuf[G_POS]
		      : m->acts + m->lbuf[l - 1][FM_OUT];
}

static size_t layer_input_off(const struct abyss_nn_model *m, int l)
{
	return l == 0 ? m->gbuf[G_POS] : m->lbuf[l - 1][FM_OUT];
}

void abyss_nn_set_threads(struct abyss_nn_model *m, int n)
{
	if (m)
		m->threads = n < 1			? 1
			     : n > ABYSS_NN_MAX_THREADS ? ABYSS_NN_MAX_THREADS
							: n;
}

int abyss_nn_threads(const struct abyss_nn_model *m)
{
	return m ? m->threads : 0;
}

double abyss_nn_flops(const struct abyss_nn_model *m)
{
	const struct abyss_nn_config *c;
	double C, P, D, E, L, H, nh, hd, f, layer = 0.0;

	if (!m)
		return 0.0;
	c = &m->cfg;
	C = c->num_input_channels;
	P = c->num_patches;
	D = c->d_model;
	E = c->expansion_factor;
	L = c->patch_length;
	H = c->prediction_length;
	nh = c->self_attn ? c->self_attn_heads : 1;
	hd = D / nh;
	/* 2 flops per multiply-add; rows x in x out per product */
	f = 2.0 * C * P * L * D; /* patcher */
	if (c->mode == ABYSS_NN_MIX_CHANNEL)
		layer += 2.0 * D * P *
			 (2.0 * C * C * E + (c->gated_attn ? C * C : 0.0));
	layer +=
	    2.0 * C * D * (2.0 * P * P * E + (c->gated_attn ? P * P : 0.0));
	if (c->self_attn)
		layer +=
		    2.0 * C * P * 4.0 * D * D + 2.0 * 2.0 * C * nh * P * P * hd;
	layer +=
	    2.0 * C * P * (2.0 * D * D * E + (c->gated_attn ? D * D : 0.0));
	f += layer * c->num_layers;
	f += 2.0 * C * P * D * H;
	if (c->head_linears == 3)
		f += 2.0 * 2.0 * C * H * H;
	return f;
}

const char *abyss_nn_isa(void)
{
	return nn__isa_name(nn__isa());
}

int abyss_nn_forward(struct abyss_nn_model *m, const float *past_values,
		     size_t B, float *pred)
{
	const struct abyss_nn_config *c;
	size_t T, C, P, L, S, D, H, N, off, b, ch, p, l, i, h;
	const float *hin;
	float *mk;
	int k;

	if (!m || !past_values || B == 0 || !m->acts)
		return ABYSS_EINVAL;
	if (B > m->max_batch)
		return ABYSS_ETOOBIG;
	nn__set_threads(m->threads);
	c = &m->cfg;
	T = (size_t)c->context_length;
	C = (size_t)c->num_input_channels;
	P = (size_t)c->num_patches;
	L = (size_t)c->patch_length;
	S = (size_t)c->patch_stride;
	D = (size_t)c->d_model;
	H = (size_t)c->prediction_length;
	N = B * C * P;
	memcpy(ACT(m->gbuf[G_INPUT]), past_values, B * T * C * sizeof(float));
	scaler_forward(m, B);

	/* patchify: [B,T,C] -> [B,C,P,L]; the first T - (L + S(P-1))
	 * steps are dropped, as PatchTSMixerPatchify does */
	off = T - (L + S * (P - 1));
	for (b = 0; b < B; b++)
		for (ch = 0; ch < C; ch++)
			for (p = 0; p < P; p++)
				for (l = 0; l < L; l++)
					ACT(m->gbuf[G_PATCHES])
	[((b * C + ch) * P + p) * L + l] =
	    ACT(m->gbuf[G_SCALED])[(b * T + off + p * S + l) * C + ch];
	nn__matmul_forward(ACT(m->gbuf[G_PATCHER]), ACT(m->gbuf[G_PATCHES]),
			   PRM(m->patcher.w), PRM(m->patcher.b), N, L, D);
	for (i = 0; i < N; i++)
		for (l = 0; l < D; l++) {
			float v = ACT(m->gbuf[G_PATCHER])[i * D + l];

			if (m->pe != NO_BUF)
				v += PRM(m->pe)[(i % P) * D + l];
			ACT(m->gbuf[G_POS])[i * D + l] = v;
		}
	for (k = 0; k < c->num_layers; k++)
		mixer_layer_forward(m, k, layer_input(m, k), B);

	/* head: flatten [B,C,P*D] (index p*D + d) -> Linear(s) -> [B,C,H] */
	hin = layer_input(m, c->num_layers);
	if (drop_on(m, m->gbuf[G_HMASK], c->head_dropout)) {
		mk = ACT(m->gbuf[G_HMASK]);
		nn__dropout_mask(mk, N * D, c->head_dropout, &m->rng);
		for (i = 0; i < N * D; i++)
			ACT(m->gbuf[G_HEADIN])[i] = hin[i] * mk[i];
		hin = ACT(m->gbuf[G_HEADIN]);
	}
	nn__matmul_forward(ACT(m->gbuf[G_Z0]), hin, PRM(m->head[0].w),
			   PRM(m->head[0].b), B * C, P * D, H);
	hin = ACT(m->gbuf[G_Z0]);
	if (c->head_linears == 3) {
		/* the original's 3 Linear layers, no activation between */
		nn__matmul_forward(ACT(m->gbuf[G_Z1]), hin, PRM(m->head[1].w),
				   PRM(m->head[1].b), B * C, H, H);
		nn__matmul_forward(ACT(m->gbuf[G_Z2]), ACT(m->gbuf[G_Z1]),
				   PRM(m->head[2].w), PRM(m->head[2].b), B * C,
				   H, H);
		hin = ACT(m->gbuf[G_Z2]);
	}
	nn__transpose(ACT(m->gbuf[G_HEADOUT]), hin, B, C, H, 0);
	for (b = 0; b < B; b++)
		for (h = 0; h < H; h++)
			for (ch = 0; ch < C; ch++) {
				size_t i2 = (b * H + h) * C + ch;

				ACT(m->gbuf[G_PRED])
				[i2] = ACT(m->gbuf[G_HEADOUT])[i2] *
					   ACT(m->gbuf[G_SCALE])[b * C + ch] +
				       ACT(m->gbuf[G_LOC])[b * C + ch];
			}
	m->last_b = B;
	m->have_backward = 0;
	if (pred)
		memcpy(pred, m->acts + m->gbuf[G_PRED],
		       B * H * C * sizeof(float));
	return 0;
}

const float *abyss_nn_output(const struct abyss_nn_model *m, size_t *B)
{
	if (!m || !m->last_b)
		return NULL;
	if (B)
		*B = m->last_b;
	return m->acts + m->gbuf[G_PRED];
}

/* ---- losses ------------------------------------------------------------- */

#define FOCAL_ALPHA 0.75
#define FOCAL_GAMMA 2.0

/* Loss over n predictions; when dpred is not NULL also d loss / d pred. */
static float loss_eval(const float *pred, const float *target, size_t n,
		       enum abyss_nn_loss kind, float *dpred)
{
	double sum = 0.0;
	size_t i;

	for (i = 0; i < n; i++) {
		double d = (double)pred[i] - (double)target[i], e = d * d;

		if (kind == ABYSS_NN_LOSS_MSE) {
			sum += e;
			if (dpred)
				dpred[i] = (float)(2.0 * d / (double)n);
		} else {
			/* FocalLossForHeatmaps: alpha (1-exp(-e))^gamma e */
			double ex = exp(-e), om = 1.0 - ex;
			double f = FOCAL_ALPHA * pow(om, FOCAL_GAMMA) * e;

			sum += f;
			if (dpred) {
				double dfde =
				    FOCAL_ALPHA *
				    (pow(om, FOCAL_GAMMA) +
				     FOCAL_GAMMA * pow(om, FOCAL_GAMMA - 1.0) *
					 ex * e);
				dpred[i] = (float)(dfde * 2.0 * d / (double)n);
			}
		}
	}
	return (float)(sum / (double)n);
}

int abyss_nn_loss(const struct abyss_nn_model *m, const float *target,
		  enum abyss_nn_loss kind, float *loss)
{
	size_t n;

	if (!m || !target || !loss ||
	    (kind != ABYSS_NN_LOSS_MSE && kind != ABYSS_NN_LOSS_FOCAL))
		return ABYSS_EINVAL;
	if (!m->last_b)
		return ABYSS_ESTATE;
	n = m->last_b * (size_t)m->cfg.prediction_length *
	    (size_t)m->cfg.num_input_channels;
	*loss = loss_eval(m->acts + m->gbuf[G_PRED], target, n, kind, NULL);
	return 0;
}

/* ---- backward ----------------------------------------------------------- */

static void mixer_layer_backward(struct abyss_nn_model *m, int l, size_t B)
{
	const struct abyss_nn_config *c = &m->cfg;
	const struct layer_p *p = &m->lp[l];
	const size_t *a = m->lbuf[l];
	size_t C = (size_t)c->num_input_channels, P = (size_t)c->num_patches,
	       D = (size_t)c->d_model, E = (size_t)c->expansion_factor,
	       nh = (size_t)c->self_attn_heads;
	size_t N = B * C * P, ND = N * D, i;
	size_t xin = layer_input_off(m, l), yoff, R;
	float pd = c->dropout, *scratch = DACT(m->gbuf[G_SCRATCH]);

	/* (iii) feature mixer; y = patch mixer output */
	yoff = a[PM_OUT];
	for (i = 0; i < ND; i++)
		DACT(yoff)[i] += DACT(a[FM_OUT])[i];
	if (c->gated_attn) {
		/* the gate's output gradient is the block's (kept for
		 * inspection, as torch reports it) */
		for (i = 0; i < ND; i++)
			DACT(a[FM_GATED])[i] += DACT(a[FM_OUT])[i];
		nn__gate_backward(DACT(a[FM_FC2]), GRD(p->fm_gate.w),
				  GRD(p->fm_gate.b), scratch, DACT(a[FM_GATED]),
				  ACT(a[FM_FC2]), ACT(a[FM_G]),
				  PRM(p->fm_gate.w), N, D);
	} else {
		for (i = 0; i < ND; i++)
			DACT(a[FM_FC2])[i] += DACT(a[FM_OUT])[i];
	}
	mlp_backward_to_fc1(m, &p->fm_fc2, a[FM_FC2], a[FM_GELU], a[FM_FC1],
			    a[FM_MASK2], a[FM_MASK1], N, D * E, D, pd);
	nn__matmul_backward(DACT(a[FM_NORM]), GRD(p->fm_fc1.w),
			    GRD(p->fm_fc1.b), DACT(a[FM_FC1]), ACT(a[FM_NORM]),
			    PRM(p->fm_fc1.w), N, D, D * E);
	nn__layernorm_backward(DACT(yoff), GRD(p->fm_norm.w), GRD(p->fm_norm.b),
			       DACT(a[FM_NORM]), ACT(yoff), PRM(p->fm_norm.w),
			       ACT(a[FM_MEAN]), ACT(a[FM_RSTD]), N, D);

	/* (ii) patch mixer; its input is the channel mixer output or xin */
	yoff = c->mode == ABYSS_NN_MIX_CHANNEL ? a[CH_OUT] : xin;
	for (i = 0; i < ND; i++)
		DACT(yoff)[i] += DACT(a[PM_OUT])[i];
	if (c->self_attn) {
		nn__layernorm_backward(DACT(a[PM_SUM]), GRD(p->pm_norm_attn.w),
				       GRD(p->pm_norm_attn.b), DACT(a[PM_OUT]),
				       ACT(a[PM_SUM]), PRM(p->pm_norm_attn.w),
				       ACT(a[PM_AMEAN]), ACT(a[PM_ARSTD]), N,
				       D);
		for (i = 0; i < ND; i++) {
			DACT(a[PM_ANORM])[i] += DACT(a[PM_OUT])[i];
			DACT(a[PM_BACK])[i] += DACT(a[PM_SUM])[i];
			DACT(a[PM_ATTN])[i] += DACT(a[PM_SUM])[i];
		}
	} else {
		for (i = 0; i < ND; i++)
			DACT(a[PM_BACK])[i] += DACT(a[PM_OUT])[i];
	}
	R = B * C * D;
	if (c->gated_attn) {
		nn__transpose(DACT(a[PM_GATED]), DACT(a[PM_BACK]), B * C, P, D,
			      1);
		nn__gate_backward(DACT(a[PM_FC2]), GRD(p->pm_gate.w),
				  GRD(p->pm_gate.b), scratch, DACT(a[PM_GATED]),
				  ACT(a[PM_FC2]), ACT(a[PM_G]),
				  PRM(p->pm_gate.w), R, P);
	} else {
		nn__transpose(DACT(a[PM_FC2]), DACT(a[PM_BACK]), B * C, P, D,
			      1);
	}
	mlp_backward_to_fc1(m, &p->pm_fc2, a[PM_FC2], a[PM_GELU], a[PM_FC1],
			    a[PM_MASK2], a[PM_MASK1], R, P * E, P, pd);
	nn__matmul_backward(DACT(a[PM_TRANS]), GRD(p->pm_fc1.w),
			    GRD(p->pm_fc1.b), DACT(a[PM_FC1]), ACT(a[PM_TRANS]),
			    PRM(p->pm_fc1.w), R, P, P * E);
	nn__transpose(DACT(a[PM_NORM]), DACT(a[PM_TRANS]), B * C, D, P, 1);
	if (c->self_attn) {
		nn__matmul_backward(DACT(a[PM_CTX]), GRD(p->pm_o.w),
				    GRD(p->pm_o.b), DACT(a[PM_ATTN]),
				    ACT(a[PM_CTX]), PRM(p->pm_o.w), N, D, D);
		nn__attention_backward(
		    DACT(a[PM_Q]), DACT(a[PM_K]), DACT(a[PM_V]),
		    DACT(a[PM_PROBS]), DACT(a[PM_CTX]), ACT(a[PM_Q]),
		    ACT(a[PM_K]), ACT(a[PM_V]), ACT(a[PM_PROBS]),
		    mask_of(m, a[PM_PMASK], pd), B * C, P, D, nh);
		nn__matmul_backward(DACT(a[PM_NORM]), GRD(p->pm_q.w),
				    GRD(p->pm_q.b), DACT(a[PM_Q]),
				    ACT(a[PM_NORM]), PRM(p->pm_q.w), N, D, D);
		nn__matmul_backward(DACT(a[PM_NORM]), GRD(p->pm_k.w),
				    GRD(p->pm_k.b), DACT(a[PM_K]),
				    ACT(a[PM_NORM]), PRM(p->pm_k.w), N, D, D);
		nn__matmul_backward(DACT(a[PM_NORM]), GRD(p->pm_v.w),
				    GRD(p->pm_v.b), DACT(a[PM_V]),
				    ACT(a[PM_NORM]), PRM(p->pm_v.w), N, D, D);
	}
	nn__layernorm_backward(DACT(yoff), GRD(p->pm_norm.w), GRD(p->pm_norm.b),
			       DACT(a[PM_NORM]), ACT(yoff), PRM(p->pm_norm.w),
			       ACT(a[PM_MEAN]), ACT(a[PM_RSTD]), N, D);

	/* (i) channel feature mixer */
	if (c->mode != ABYSS_NN_MIX_CHANNEL)
		return;
	R = B * D * P;
	for (i = 0; i < ND; i++)
		DACT(xin)[i] += DACT(a[CH_OUT])[i];
	nn__permute_0321(DACT(a[CH_FC2]), DACT(a[CH_OUT]), B, C, P, D, 1);
	mlp_backward_to_fc1(m, &p->ch_fc2, a[CH_FC2], a[CH_GELU], a[CH_FC1],
			    a[CH_MASK2], a[CH_MASK1], R, C * E, C, pd);
	if (c->gated_attn) {
		nn__matmul_backward(DACT(a[CH_GATED]), GRD(p->ch_fc1.w),
				    GRD(p->ch_fc1.b), DACT(a[CH_FC1]),
				    ACT(a[CH_GATED]), PRM(p->ch_fc1.w), R, C,
				    C * E);
		nn__gate_backward(DACT(a[CH_PERM]), GRD(p->ch_gate.w),
				  GRD(p->ch_gate.b), scratch, DACT(a[CH_GATED]),
				  ACT(a[CH_PERM]), ACT(a[CH_G]),
				  PRM(p->ch_gate.w), R, C);
	} else {
		nn__matmul_backward(DACT(a[CH_PERM]), GRD(p->ch_fc1.w),
				    GRD(p->ch_fc1.b), DACT(a[CH_FC1]),
				    ACT(a[CH_PERM]), PRM(p->ch_fc1.w), R, C,
				    C * E);
	}
	nn__permute_0321(DACT(a[CH_NORM]), DACT(a[CH_PERM]), B, D, P, C, 1);
	nn__layernorm_backward(DACT(xin), GRD(p->ch_norm.w), GRD(p->ch_norm.b),
			       DACT(a[CH_NORM]), ACT(xin), PRM(p->ch_norm.w),
			       ACT(a[CH_MEAN]), ACT(a[CH_RSTD]), N, D);
}

static void scaler_backward(struct abyss_nn_model *m, size_t B)
{
	const struct abyss_nn_config *c = &m->cfg;
	size_t T = (size_t)c->context_length, C = (size_t)c->num_input_channels;
	const float *x = ACT(m->gbuf[G_INPUT]), *y = ACT(m->gbuf[G_SCALED]),
		    *loc = ACT(m->gbuf[G_LOC]), *scale = ACT(m->gbuf[G_SCALE]);
	const float *dy = DACT(m->gbuf[G_SCALED]);
	float *dloc = DACT(m->gbuf[G_LOC]), *dscale = DACT(m->gbuf[G_SCALE]),
	      *dx = DACT(m->gbuf[G_INPUT]);
	size_t b, t, ch;

	for (b = 0; b < B; b++)
		for (ch = 0; ch < C; ch++) {
			double s = scale[b * C + ch], sdy = 0.0, sdyy = 0.0;
			double dl, ds;

			for (t = 0; t < T; t++) {
				size_t i = (b * T + t) * C + ch;
				sdy += dy[i];
				sdyy += (double)dy[i] * y[i];
			}
			/* totals: de-scaling contribution + scaler's */
			dl = dloc[b * C + ch];
			ds = dscale[b * C + ch] - sdyy / s;
			if (c->scaling == ABYSS_NN_SCALE_STD)
				dl -= sdy / s;
			dloc[b * C + ch] = (float)dl;
			dscale[b * C + ch] = (float)ds;
			for (t = 0; t < T; t++) {
				size_t i = (b * T + t) * C + ch;
				double g = dy[i] / s;

				if (c->scaling == ABYSS_NN_SCALE_STD)
					g += dl / (double)T +
					     ds *
						 ((double)x[i] -
						  loc[b * C + ch]) /
						 ((double)T * s);
				else if (c->scaling == ABYSS_NN_SCALE_MEAN &&
					 s > 1e-10)
					g += ds *
					     (x[i] > 0	 ? 1.0
					      : x[i] < 0 ? -1.0
							 : 0.0) /
					     (double)T;
				dx[i] += (float)g;
			}
		}
}

int abyss_nn_backward(struct abyss_nn_model *m, const float *target,
		      enum abyss_nn_loss kind, float *loss)
{
	const struct abyss_nn_config *c;
	size_t B, T, C, P, L, S, D, H, N, off, b, ch, p, l, h, i;
	size_t hin;
	float lv;
	int k;

	if (!m || !target ||
	    (kind != ABYSS_NN_LOSS_MSE && kind != ABYSS_NN_LOSS_FOCAL))
		return ABYSS_EINVAL;
	if (!m->training || !m->last_b)
		return ABYSS_ESTATE;
	nn__set_threads(m->threads);
	c = &m->cfg;
	B = m->last_b;
	T = (size_t)c->context_length;
	C = (size_t)c->num_input_channels;
	P = (size_t)c->num_patches;
	L = (size_t)c->patch_length;
	S = (size_t)c->patch_stride;
	D = (size_t)c->d_model;
	H = (size_t)c->prediction_length;
	N = B * C * P;
	memset(m->dacts, 0, m->nacts * sizeof(float));

	lv = loss_eval(ACT(m->gbuf[G_PRED]), target, B * H * C, kind,
		       DACT(m->gbuf[G_PRED]));
	if (loss)
		*loss = lv;
	/* de-scaling: pred = y * scale + loc */
	for (b = 0; b < B; b++)
		for (h = 0; h < H; h++)
			for (ch = 0; ch < C; ch++) {
				size_t i2 = (b * H + h) * C + ch;
				float g = DACT(m->gbuf[G_PRED])[i2];

				DACT(m->gbuf[G_HEADOUT])
				[i2] += g * ACT(m->gbuf[G_SCALE])[b * C + ch];
				DACT(m->gbuf[G_SCALE])
				[b * C + ch] += g * ACT(m->gbuf[G_HEADOUT])[i2];
				DACT(m->gbuf[G_LOC])[b * C + ch] += g;
			}
	/* head */
	hin = c->head_linears == 3 ? m->gbuf[G_Z2] : m->gbuf[G_Z0];
	nn__transpose(DACT(hin), DACT(m->gbuf[G_HEADOUT]), B, H, C, 1);
	if (c->head_linears == 3) {
		nn__matmul_backward(DACT(m->gbuf[G_Z1]), GRD(m->head[2].w),
				    GRD(m->head[2].b), DACT(m->gbuf[G_Z2]),
				    ACT(m->gbuf[G_Z1]), PRM(m->head[2].w),
				    B * C, H, H);
		nn__matmul_backward(DACT(m->gbuf[G_Z0]), GRD(m->head[1].w),
				    GRD(m->head[1].b), DACT(m->gbuf[G_Z1]),
				    ACT(m->gbuf[G_Z0]), PRM(m->head[1].w),
				    B * C, H, H);
	}
	{
		size_t xo = layer_input_off(m, c->num_layers);
		const float *hm = mask_of(m, m->gbuf[G_HMASK], c->head_dropout);

		if (hm) {
			nn__matmul_backward(
			    DACT(m->gbuf[G_HEADIN]), GRD(m->head[0].w),
			    GRD(m->head[0].b), DACT(m->gbuf[G_Z0]),
			    ACT(m->gbuf[G_HEADIN]), PRM(m->head[0].w), B * C,
			    P * D, H);
			for (i = 0; i < N * D; i++)
				DACT(xo)
			[i] += DACT(m->gbuf[G_HEADIN])[i] * hm[i];
		} else {
			nn__matmul_backward(DACT(xo), GRD(m->head[0].w),
					    GRD(m->head[0].b),
					    DACT(m->gbuf[G_Z0]), ACT(xo),
					    PRM(m->head[0].w), B * C, P * D, H);
		}
	}
	for (k = c->num_layers - 1; k >= 0; k--)
		mixer_layer_backward(m, k, B);
	/* positional encoding is an addition (and has no gradient) */
	for (i = 0; i < N * D; i++)
		DACT(m->gbuf[G_PATCHER])[i] += DACT(m->gbuf[G_POS])[i];
	nn__matmul_backward(DACT(m->gbuf[G_PATCHES]), GRD(m->patcher.w),
			    GRD(m->patcher.b), DACT(m->gbuf[G_PATCHER]),
			    ACT(m->gbuf[G_PATCHES]), PRM(m->patcher.w), N, L,
			    D);
	off = T - (L + S * (P - 1));
	for (b = 0; b < B; b++)
		for (ch = 0; ch < C; ch++)
			for (p = 0; p < P; p++)
				for (l = 0; l < L; l++)
					DACT(m->gbuf[G_SCALED])
	[(b * T + off + p * S + l) * C + ch] +=
	    DACT(m->gbuf[G_PATCHES])[((b * C + ch) * P + p) * L + l];
	scaler_backward(m, B);
	m->have_backward = 1;
	return 0;
}

/* ---- named activations (tests, debugging) ------------------------------- */

enum shape_kind {
	SK_BCPD,
	SK_BDPC,
	SK_BDPCE,
	SK_BCDP,
	SK_BCDPE,
	SK_BCPDE,
	SK_NPD,
	SK_NHPP
};

struct act_name {
	const char *suffix;
	int buf;
	enum shape_kind sk;
};

static const struct act_name layer_names[] = {
    {"channel_feature_mixer.norm:out", CH_NORM, SK_BCPD},
    {"channel_feature_mixer.gating_block:out", CH_GATED, SK_BDPC},
    {"channel_feature_mixer.mlp.fc1:out", CH_FC1, SK_BDPCE},
    {"channel_feature_mixer.mlp:out", CH_FC2, SK_BDPC},
    {"channel_feature_mixer:out", CH_OUT, SK_BCPD},
    {"patch_mixer.norm:out", PM_NORM, SK_BCPD},
    {"patch_mixer.self_attn_layer.q_proj:out", PM_Q, SK_NPD},
    {"patch_mixer.self_attn_layer.k_proj:out", PM_K, SK_NPD},
    {"patch_mixer.self_attn_layer.v_proj:out", PM_V, SK_NPD},
    {"patch_mixer.self_attn_layer:out", PM_ATTN, SK_NPD},
    {"patch_mixer.self_attn_layer.probs", PM_PROBS, SK_NHPP},
    {"patch_mixer.mlp.fc1:out", PM_FC1, SK_BCDPE},
    {"patch_mixer.mlp:out", PM_FC2, SK_BCDP},
    {"patch_mixer.gating_block:out", PM_GATED, SK_BCDP},
    {"patch_mixer.norm_attn:out", PM_ANORM, SK_BCPD},
    {"patch_mixer:out", PM_OUT, SK_BCPD},
    {"feature_mixer.norm:out", FM_NORM, SK_BCPD},
    {"feature_mixer.mlp.fc1:out", FM_FC1, SK_BCPDE},
    {"feature_mixer.mlp:out", FM_FC2, SK_BCPD},
    {"feature_mixer.gating_block:out", FM_GATED, SK_BCPD},
    {"feature_mixer:out", FM_OUT, SK_BCPD},
    {":out", FM_OUT, SK_BCPD},
};

static void set_shape(int *ndim, size_t *s, int n, size_t a, size_t b, size_t c,
		      size_t d)
{
	*ndim = n;
	s[0] = a;
	s[1] = b;
	s[2] = c;
	s[3] = d;
}

const float *abyss_nn_activation(const struct abyss_nn_model *m,
				 const char *name, int grad, int *ndim,
				 size_t shape[4])
{
	static const char lpre[] = "model.encoder.mlp_mixer_encoder.mixers.";
	const struct abyss_nn_config *c;
	size_t B, T, C, P, L, D, E, H, nh, off = NO_BUF, k;
	int nd = 0;
	size_t s[4] = {0, 0, 0, 0};
	const float *base;

	if (!m || !name || !m->last_b)
		return NULL;
	if (grad && (!m->dacts || !m->have_backward))
		return NULL;
	c = &m->cfg;
	B = m->last_b;
	T = (size_t)c->context_length;
	C = (size_t)c->num_input_channels;
	P = (size_t)c->num_patches;
	L = (size_t)c->patch_length;
	D = (size_t)c->d_model;
	E = (size_t)c->expansion_factor;
	H = (size_t)c->prediction_length;
	nh = (size_t)c->self_attn_heads;
	base = grad ? m->dacts : m->acts;
	if (strncmp(name, lpre, sizeof(lpre) - 1) == 0) {
		const char *q = name + sizeof(lpre) - 1;
		char *end;
		long li;

		errno = 0;
		li = strtol(q, &end, 10);
		if (errno || end == q || li < 0 || li >= c->num_layers ||
		    (*end != '.' && *end != ':'))
			return NULL;
		if (*end == '.')
			end++;
		for (k = 0; k < sizeof(layer_names) / sizeof(layer_names[0]);
		     k++)
			if (strcmp(end, layer_names[k].suffix) == 0)
				break;
		if (k == sizeof(layer_names) / sizeof(layer_names[0]))
			return NULL;
		/* intermediates are shared across layers without training */
		if (!m->training && li > 0 && layer_names[k].buf != CH_OUT &&
		    layer_names[k].buf != PM_OUT &&
		    layer_names[k].buf != FM_OUT)
			return NULL;
		/* ... and the channel mixer's are in its computing layout */
		if (!m->training && (layer_names[k].buf == CH_GATED ||
				     layer_names[k].buf == CH_FC1 ||
				     layer_names[k].buf == CH_FC2))
			return NULL;
		off = m->lbuf[li][layer_names[k].buf];
		switch (layer_names[k].sk) {
		case SK_BCPD:
			set_shape(&nd, s, 4, B, C, P, D);
			break;
		case SK_BDPC:
			set_shape(&nd, s, 4, B, D, P, C);
			break;
		case SK_BDPCE:
			set_shape(&nd, s, 4, B, D, P, C * E);
			break;
		case SK_BCDP:
			set_shape(&nd, s, 4, B, C, D, P);
			break;
		case SK_BCDPE:
			set_shape(&nd, s, 4, B, C, D, P * E);
			break;
		case SK_BCPDE:
			set_shape(&nd, s, 4, B, C, P, D * E);
			break;
		case SK_NPD:
			set_shape(&nd, s, 3, B * C, P, D, 0);
			break;
		case SK_NHPP:
			set_shape(&nd, s, 4, B * C, nh, P, P);
			break;
		}
	} else if (strcmp(name, "past_values") == 0) {
		off = m->gbuf[G_INPUT];
		set_shape(&nd, s, 3, B, T, C, 0);
	} else if (strcmp(name, "model.scaler:loc") == 0) {
		off = m->gbuf[G_LOC];
		set_shape(&nd, s, 3, B, 1, C, 0);
	} else if (strcmp(name, "model.scaler:scale") == 0) {
		off = m->gbuf[G_SCALE];
		set_shape(&nd, s, 3, B, 1, C, 0);
	} else if (strcmp(name, "model.scaler:scaled") == 0) {
		off = m->gbuf[G_SCALED];
		set_shape(&nd, s, 3, B, T, C, 0);
	} else if (strcmp(name, "model.patching:out") == 0) {
		off = m->gbuf[G_PATCHES];
		set_shape(&nd, s, 4, B, C, P, L);
	} else if (strcmp(name, "model.encoder.patcher:out") == 0) {
		off = grad ? m->gbuf[G_POS] : m->gbuf[G_PATCHER];
		set_shape(&nd, s, 4, B, C, P, D);
	} else if (strcmp(name, "model.encoder.positional_encoder:out") == 0) {
		off = m->gbuf[G_POS];
		set_shape(&nd, s, 4, B, C, P, D);
	} else if (strcmp(name, "head.base_forecast_block:out") == 0) {
		off = m->gbuf[G_Z0];
		set_shape(&nd, s, 3, B, C, H, 0);
	} else if (strcmp(name, "head.base_forecast_block1:out") == 0) {
		off = m->gbuf[G_Z1];
		set_shape(&nd, s, 3, B, C, H, 0);
	} else if (strcmp(name, "head.base_forecast_block2:out") == 0) {
		off = m->gbuf[G_Z2];
		set_shape(&nd, s, 3, B, C, H, 0);
	} else if (strcmp(name, "head:out") == 0) {
		off = m->gbuf[G_HEADOUT];
		set_shape(&nd, s, 3, B, H, C, 0);
	} else if (strcmp(name, "prediction_outputs") == 0) {
		off = m->gbuf[G_PRED];
		set_shape(&nd, s, 3, B, H, C, 0);
	}
	if (off == NO_BUF)
		return NULL;
	if (ndim)
		*ndim = nd;
	if (shape)
		memcpy(shape, s, sizeof(s));
	return base + off;
}
