/*
 * optim.c - AdamW (torch.optim.AdamW, torch 1.13 single-tensor path),
 * the linear learning-rate schedule of transformers, and gradient-norm
 * clipping. Works on flat float blocks; the model's wrapper skips the
 * non-trainable positional table. No allocation after abyss_adamw_init.
 */
#include "abyss/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int abyss_adamw_init(struct abyss_adamw *opt, size_t n, double lr, double beta1,
		     double beta2, double eps, double weight_decay)
{
	if (!opt || n == 0 || n > SIZE_MAX / (2 * sizeof(float)))
		return ABYSS_EINVAL;
	memset(opt, 0, sizeof(*opt));
	/* one allocation holds both moments */
	opt->m = calloc(2 * n, sizeof(float));
	if (!opt->m)
		return ABYSS_ENOMEM;
	opt->v = opt->m + n;
	opt->n = n;
	opt->lr = lr;
	opt->beta1 = beta1;
	opt->beta2 = beta2;
	opt->eps = eps;
	opt->weight_decay = weight_decay;
	return 0;
}

void abyss_adamw_free(struct abyss_adamw *opt)
{
	if (!opt)
		return;
	free(opt->m);
	opt->m = NULL;
	opt->v = NULL;
	opt->n = 0;
}

/* The update over one contiguous range, in torch's order and precision:
 * float32 tensors, Python-double scalars rounded to float where torch
 * multiplies a float tensor by them. */
static void adamw_range(struct abyss_adamw *o, float *p, const float *g,
			float *m, float *v, size_t n, double lr, double bc1,
			double bc2_sqrt)
{
	float decay = (float)(1.0 - lr * o->weight_decay);
	float b1 = (float)o->beta1, b2 = (float)o->beta2;
	float omb1 = (float)(1.0 - o->beta1);
	float omb2 = (float)(1.0 - o->beta2);
	float step_size = (float)(lr / bc1);
	float bc2s = (float)bc2_sqrt, eps = (float)o->eps;
	size_t i;

	for (i = 0; i < n; i++) {
		float denom;

		p[i] *= decay;
		m[i] = m[i] * b1 + g[i] * omb1;
		v[i] = v[i] * b2 + g[i] * g[i] * omb2;
		denom = sqrtf(v[i]) / bc2s + eps;
		p[i] = p[i] + -step_size * (m[i] / denom);
	}
}

int abyss_adamw_step(struct abyss_adamw *opt, float *params, const float *grads,
		     size_t n, double lr)
{
	double bc1, bc2;

	if (!opt || !params || !grads || !opt->m || n > opt->n)
		return ABYSS_EINVAL;
	opt->t++;
	bc1 = 1.0 - pow(opt->beta1, (double)opt->t);
	bc2 = 1.0 - pow(opt->beta2, (double)opt->t);
	adamw_range(opt, params, grads, opt->m, opt->v, n, lr, bc1, sqrt(bc2));
	return 0;
}

int abyss_nn_adamw_step(struct abyss_nn_model *m, struct abyss_adamw *opt,
			double lr)
{
	float *p = abyss_nn_params(m), *g = abyss_nn_grads(m);
	size_t i, nt = abyss_nn_num_tensors(m);
	double bc1, bc2;

	if (!m || !opt || !p || !g || opt->n != abyss_nn_num_params(m))
		return ABYSS_EINVAL;
	opt->t++;
	bc1 = 1.0 - pow(opt->beta1, (double)opt->t);
	bc2 = 1.0 - pow(opt->beta2, (double)opt->t);
	for (i = 0; i < nt; i++) {
		struct abyss_nn_param_info in;

		abyss_nn_param_info(m, i, &in);
		if (!in.trainable)
			continue;
		adamw_range(opt, p + in.offset, g + in.offset,
			    opt->m + in.offset, opt->v + in.offset, in.numel,
			    lr, bc1, sqrt(bc2));
	}
	return 0;
}

float abyss_lr_linear(float base_lr, long step, long warmup, long total)
{
	double f;

	if (step < 0)
		step = 0;
	if (warmup > 0 && step < warmup)
		return (float)((double)base_lr * (double)step / (double)warmup);
	if (total <= warmup)
		return 0.0f;
	f = (double)(total - step) / (double)(total - warmup);
	if (f < 0.0)
		f = 0.0;
	return (float)((double)base_lr * f);
}

float abyss_clip_grad_norm(float *g, size_t n, float max_norm)
{
	double ss = 0.0, norm, coef;
	size_t i;

	if (!g)
		return 0.0f;
	for (i = 0; i < n; i++)
		ss += (double)g[i] * g[i];
	norm = sqrt(ss);
	coef = (double)max_norm / (norm + 1e-6);
	if (coef < 1.0)
		for (i = 0; i < n; i++)
			g[i] = (float)(g[i] * coef);
	return (float)norm;
}
