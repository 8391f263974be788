/* test_nn_kernels.c - every backward kernel of src/nn checked against
 * central finite differences of its forward (ggml's "grad" mode), on tiny
 * sizes, and whole models in configurations the reference vectors do not
 * cover (mean/none scaling, stock head, 2 attention heads, dropout) checked
 * the same way. Loss = sum(out * R) for a fixed random R, so the analytic
 * gradient is the backward of dout = R. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/nn.h"
#include "nn/nn_internal.h"

static uint64_t rng_state = 42;

static float frand(void) /* uniform in [-1, 1) */
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float)((rng_state >> 40) * 0x1.0p-24) * 2.0f - 1.0f;
}

static float *rvec(size_t n, float scale)
{
	float *v = malloc(n * sizeof(float));
	size_t i;

	assert_non_null(v);
	for (i = 0; i < n; i++)
		v[i] = frand() * scale;
	return v;
}

static float *zvec(size_t n)
{
	float *v = calloc(n, sizeof(float));
	assert_non_null(v);
	return v;
}

static double dot(const float *a, const float *b, size_t n)
{
	double s = 0.0;
	size_t i;

	for (i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return s;
}

/* A kernel under test: recompute the forward output into out. */
struct probe {
	void (*fwd)(struct probe *p);
	float *out, *R;
	size_t nout;
	void *ctx[8];
	size_t dim[6];
};

static double probe_loss(struct probe *p)
{
	p->fwd(p);
	return dot(p->out, p->R, p->nout);
}

/* Compares ana[i] with (L(x+h) - L(x-h)) / 2h for every element of x. */
static void fd_check(const char *what, struct probe *p, float *x, size_t n,
		     const float *ana)
{
	const float h = 1e-3f;
	double worst = 0.0;
	size_t i;

	for (i = 0; i < n; i++) {
		float x0 = x[i];
		double lp, lm, num, err;

		x[i] = x0 + h;
		lp = probe_loss(p);
		x[i] = x0 - h;
		lm = probe_loss(p);
		x[i] = x0;
		num = (lp - lm) / (double)((x0 + h) - (x0 - h));
		err = fabs(num - ana[i]) / (1e-2 + fabs(num));
		if (err > worst)
			worst = err;
		if (err > 5e-3)
			fail_msg("%s[%zu]: analytic %.7g, numeric %.7g", what,
				 i, (double)ana[i], num);
	}
	probe_loss(p);
	print_message("  %-28s worst rel err %.2e over %zu values\n", what,
		      worst, n);
}

/* ---- matmul ------------------------------------------------------------- */

static void mm_fwd(struct probe *p)
{
	nn__matmul_forward(p->out, p->ctx[0], p->ctx[1], p->ctx[2], p->dim[0],
			   p->dim[1], p->dim[2]);
}

static void test_nn_kernels_matmul(void **state)
{
	size_t N = 5, IC = 4, OC = 3;
	float *x = rvec(N * IC, 1), *w = rvec(OC * IC, 1), *b = rvec(OC, 1);
	float *dx = zvec(N * IC), *dw = zvec(OC * IC), *db = zvec(OC);
	struct probe p = {mm_fwd, zvec(N * OC), rvec(N * OC, 1),
			  N * OC, {x, w, b},	{N, IC, OC}};

	(void)state;
	mm_fwd(&p);
	nn__matmul_backward(dx, dw, db, p.R, x, w, N, IC, OC);
	fd_check("matmul dinp", &p, x, N * IC, dx);
	fd_check("matmul dweight", &p, w, OC * IC, dw);
	fd_check("matmul dbias", &p, b, OC, db);
	free(x), free(w), free(b), free(dx), free(dw), free(db);
	free(p.out), free(p.R);
}

/* ---- layernorm ---------------------------------------------------------- */

static void ln_fwd(struct probe *p)
{
	nn__layernorm_forward(p->out, p->ctx[3], p->ctx[4], p->ctx[0],
			      p->ctx[1], p->ctx[2], p->dim[0], p->dim[1],
			      1e-5f);
}

static void test_nn_kernels_layernorm(void **state)
{
	size_t N = 4, C = 6, i;
	float *x = rvec(N * C, 2), *w = rvec(C, 1), *b = rvec(C, 1);
	float *dx = zvec(N * C), *dw = zvec(C), *db = zvec(C);
	float *mean = zvec(N), *rstd = zvec(N);
	struct probe p = {ln_fwd, zvec(N * C),		 rvec(N * C, 1),
			  N * C,  {x, w, b, mean, rstd}, {N, C}};

	(void)state;
	for (i = 0; i < C; i++)
		w[i] += 1.0f;
	ln_fwd(&p);
	nn__layernorm_backward(dx, dw, db, p.R, x, w, mean, rstd, N, C);
	fd_check("layernorm dinp", &p, x, N * C, dx);
	fd_check("layernorm dweight", &p, w, C, dw);
	fd_check("layernorm dbias", &p, b, C, db);
	free(x), free(w), free(b), free(dx), free(dw), free(db);
	free(mean), free(rstd), free(p.out), free(p.R);
}

/* ---- GELU --------------------------------------------------------------- */

static void gelu_fwd(struct probe *p)
{
	nn__gelu_forward(p->out, p->ctx[0], p->nout);
}

static void test_nn_kernels_gelu(void **state)
{
	size_t n = 16;
	float *x = rvec(n, 3), *dx = zvec(n);
	struct probe p = {gelu_fwd, zvec(n), rvec(n, 1), n, {x}, {0}};

	(void)state;
	gelu_fwd(&p);
	nn__gelu_backward(dx, x, p.R, n);
	fd_check("gelu dinp", &p, x, n, dx);
	/* exact erf form, not the tanh approximation */
	{
		float one = 1.0f, y;
		nn__gelu_forward(&y, &one, 1);
		ASSERT_NEAR(y, 0.8413447460685429, 1e-7);
	}
	free(x), free(dx), free(p.out), free(p.R);
}

/* ---- gated attention ---------------------------------------------------- */

static void gate_fwd(struct probe *p)
{
	nn__gate_forward(p->out, p->ctx[3], p->ctx[0], p->ctx[1], p->ctx[2],
			 p->dim[0], p->dim[1]);
}

static void test_nn_kernels_gate(void **state)
{
	size_t N = 4, C = 5;
	float *x = rvec(N * C, 1), *w = rvec(C * C, 1), *b = rvec(C, 1);
	float *dx = zvec(N * C), *dw = zvec(C * C), *db = zvec(C);
	float *g = zvec(N * C), *scratch = zvec(N * C);
	struct probe p = {gate_fwd, zvec(N * C),  rvec(N * C, 1),
			  N * C,    {x, w, b, g}, {N, C}};

	(void)state;
	gate_fwd(&p);
	nn__gate_backward(dx, dw, db, scratch, p.R, x, g, w, N, C);
	fd_check("gate dinp", &p, x, N * C, dx);
	fd_check("gate dweight", &p, w, C * C, dw);
	fd_check("gate dbias", &p, b, C, db);
	free(x), free(w), free(b), free(dx), free(dw), free(db);
	free(g), free(scratch), free(p.out), free(p.R);
}

/* ---- attention ---------------------------------------------------------- */

static void att_fwd(struct probe *p)
{
	nn__attention_forward(p->out, p->ctx[3], p->ctx[0], p->ctx[1],
			      p->ctx[2], p->ctx[4], p->dim[0], p->dim[1],
			      p->dim[2], p->dim[3], 1);
}

static void attention_case(size_t nh, int with_mask)
{
	size_t N = 2, P = 5, D = 4, n = N * P * D, i;
	float *q = rvec(n, 1), *k = rvec(n, 1), *v = rvec(n, 1);
	float *dq = zvec(n), *dk = zvec(n), *dv = zvec(n);
	float *probs = zvec(N * nh * P * P), *scratch = zvec(N * nh * P * P);
	float *mask = NULL;
	uint64_t seed = 7;
	struct probe p;
	char lbl[64];

	if (with_mask) {
		mask = zvec(N * nh * P * P);
		nn__dropout_mask(mask, N * nh * P * P, 0.3f, &seed);
	}
	memset(&p, 0, sizeof(p));
	p.fwd = att_fwd;
	p.out = zvec(n);
	p.R = rvec(n, 1);
	p.nout = n;
	p.ctx[0] = q, p.ctx[1] = k, p.ctx[2] = v, p.ctx[3] = probs;
	p.ctx[4] = mask;
	p.dim[0] = N, p.dim[1] = P, p.dim[2] = D, p.dim[3] = nh;
	att_fwd(&p);
	for (i = 0; i < N * nh * P; i++) {
		/* probabilities sum to one per query */
		double s = 0;
		size_t j;
		for (j = 0; j < P; j++)
			s += probs[i * P + j];
		ASSERT_NEAR(s, 1.0, 1e-6);
	}
	nn__attention_backward(dq, dk, dv, scratch, p.R, q, k, v, probs, mask,
			       N, P, D, nh);
	snprintf(lbl, sizeof(lbl), "attention h%zu%s dq", nh,
		 with_mask ? " mask" : "");
	fd_check(lbl, &p, q, n, dq);
	lbl[strlen(lbl) - 1] = 'k';
	fd_check(lbl, &p, k, n, dk);
	lbl[strlen(lbl) - 1] = 'v';
	fd_check(lbl, &p, v, n, dv);
	free(q), free(k), free(v), free(dq), free(dk), free(dv);
	free(probs), free(scratch), free(mask), free(p.out), free(p.R);
}

static void test_nn_kernels_attention(void **state)
{
	(void)state;
	attention_case(1, 0);
	attention_case(2, 0);
	attention_case(2, 1);
}

/* ---- layout kernels: backward is the adjoint ----------------------------- */

static void test_nn_kernels_permute_adjoint(void **state)
{
	size_t A = 2, X = 3, Y = 4, Z = 5, n = A * X * Y * Z;
	float *x = rvec(n, 1), *y = rvec(n, 1), *px = zvec(n), *py = zvec(n);

	(void)state;
	/* <P x, y> == <x, P^T y>, and P^T of permute(0,3,2,1) is itself with
	 * the axes swapped */
	nn__permute_0321(px, x, A, X, Y, Z, 0);
	nn__permute_0321(py, y, A, Z, Y, X, 0);
	ASSERT_NEAR(dot(px, y, n), dot(x, py, n), 1e-5);
	assert_true(px[((1 * Z + 4) * Y + 2) * X + 1] ==
		    x[((1 * X + 1) * Y + 2) * Z + 4]);
	nn__transpose(px, x, A * X, Y, Z, 0);
	nn__transpose(py, y, A * X, Z, Y, 0);
	ASSERT_NEAR(dot(px, y, n), dot(x, py, n), 1e-5);
	/* accumulate mode adds */
	memcpy(py, px, n * sizeof(float));
	nn__transpose(px, x, A * X, Y, Z, 1);
	assert_true(px[7] == 2.0f * py[7]);
	free(x), free(y), free(px), free(py);
}

static void test_nn_kernels_dropout_mask(void **state)
{
	size_t n = 20000, i, zeros = 0;
	float *m1 = zvec(n), *m2 = zvec(n);
	uint64_t s1 = 123, s2 = 123;

	(void)state;
	nn__dropout_mask(m1, n, 0.25f, &s1);
	nn__dropout_mask(m2, n, 0.25f, &s2);
	assert_memory_equal(m1, m2, n * sizeof(float)); /* same seed */
	for (i = 0; i < n; i++) {
		if (m1[i] == 0.0f)
			zeros++;
		else
			assert_true(m1[i] == 1.0f / 0.75f);
	}
	/* 5000 expected; 6 sigma = 367 */
	assert_true(zeros > 4600 && zeros < 5400);
	free(m1), free(m2);
}

/* ---- whole models ------------------------------------------------------- */

struct mcase {
	const char *label;
	enum abyss_nn_scaling scaling;
	enum abyss_nn_mode mode;
	int gated, attn, heads, head_linears;
	float dropout, head_dropout;
	enum abyss_nn_loss loss;
};

static double model_loss(struct abyss_nn_model *m, const float *x, size_t B,
			 const float *y, enum abyss_nn_loss kind)
{
	float l;

	abyss_nn_set_train(m, 1, 99); /* same dropout masks every time */
	assert_int_equal(abyss_nn_forward(m, x, B, NULL), 0);
	assert_int_equal(abyss_nn_loss(m, y, kind, &l), 0);
	return l;
}

static void model_case(const struct mcase *mc)
{
	struct abyss_nn_config c;
	struct abyss_nn_options o = {2, 1};
	struct abyss_nn_model *m = NULL;
	size_t B = 2, i, n, nx, checked = 0;
	float *p, *g, *x, *y, lv;
	double worst = 0.0;

	abyss_nn_config_default(&c);
	c.context_length = 16;
	c.prediction_length = 8;
	c.patch_length = 4;
	c.patch_stride = 4;
	c.num_patches = 4;
	c.num_input_channels = 3;
	c.d_model = 4;
	c.num_layers = 2;
	c.scaling = mc->scaling;
	c.mode = mc->mode;
	c.gated_attn = mc->gated;
	c.self_attn = mc->attn;
	c.self_attn_heads = mc->heads;
	c.head_linears = mc->head_linears;
	c.dropout = mc->dropout;
	c.head_dropout = mc->head_dropout;
	assert_int_equal(abyss_nn_model_new(&c, &o, &m, NULL), 0);
	p = abyss_nn_params(m);
	n = abyss_nn_num_params(m);
	for (i = 0; i < abyss_nn_num_tensors(m); i++) {
		struct abyss_nn_param_info in;
		size_t j;

		abyss_nn_param_info(m, i, &in);
		if (!in.trainable)
			continue;
		for (j = 0; j < in.numel; j++)
			p[in.offset + j] += frand() * 0.4f;
	}
	nx = B * 16 * 3;
	x = rvec(nx, 2.0f);
	for (i = 0; i < nx; i++)
		x[i] += (float)(i % 3); /* per-channel offsets */
	y = rvec(B * 8 * 3, 1.0f);
	abyss_nn_set_train(m, 1, 99);
	assert_int_equal(abyss_nn_forward(m, x, B, NULL), 0);
	abyss_nn_zero_grad(m);
	assert_int_equal(abyss_nn_backward(m, y, mc->loss, &lv), 0);
	g = abyss_nn_grads(m);
	for (i = 0; i < abyss_nn_num_tensors(m); i++) {
		struct abyss_nn_param_info in;
		size_t j;

		abyss_nn_param_info(m, i, &in);
		if (!in.trainable) {
			for (j = 0; j < in.numel; j++)
				assert_true(g[in.offset + j] == 0.0f);
			continue;
		}
		/* a few elements of every tensor */
		for (j = 0; j < in.numel; j += 1 + in.numel / 5) {
			float *w = &p[in.offset + j], w0 = *w;
			const float h = 2e-3f;
			double lp, lm, num, ana = g[in.offset + j], err;

			*w = w0 + h;
			lp = model_loss(m, x, B, y, mc->loss);
			*w = w0 - h;
			lm = model_loss(m, x, B, y, mc->loss);
			*w = w0;
			num = (lp - lm) / (double)((w0 + h) - (w0 - h));
			err = fabs(num - ana) / (2e-2 + fabs(num));
			if (err > worst)
				worst = err;
			if (err > 2e-2)
				fail_msg("%s %s[%zu]: analytic %.7g, numeric "
					 "%.7g",
					 mc->label, in.name, j, ana, num);
			checked++;
		}
	}
	print_message("  %-28s %zu params checked, worst rel err %.2e\n",
		      mc->label, checked, worst);
	(void)n;
	free(x), free(y);
	abyss_nn_model_free(m);
}

static void test_nn_kernels_model_gradients(void **state)
{
	static const struct mcase cases[] = {
	    {"std mix gated attn 3-head", ABYSS_NN_SCALE_STD,
	     ABYSS_NN_MIX_CHANNEL, 1, 1, 1, 3, 0.0f, 0.0f, ABYSS_NN_LOSS_MSE},
	    {"mean common stock-head", ABYSS_NN_SCALE_MEAN,
	     ABYSS_NN_COMMON_CHANNEL, 1, 0, 1, 1, 0.0f, 0.0f,
	     ABYSS_NN_LOSS_FOCAL},
	    {"none mix 2 heads no gate", ABYSS_NN_SCALE_NONE,
	     ABYSS_NN_MIX_CHANNEL, 0, 1, 2, 3, 0.0f, 0.0f, ABYSS_NN_LOSS_MSE},
	    {"std mix dropout", ABYSS_NN_SCALE_STD, ABYSS_NN_MIX_CHANNEL, 1, 1,
	     2, 3, 0.3f, 0.2f, ABYSS_NN_LOSS_MSE},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		model_case(&cases[i]);
}

/* Dropout is on only in training mode, deterministic for a seed. */
static void test_nn_kernels_dropout_modes(void **state)
{
	struct abyss_nn_config c;
	struct abyss_nn_options o = {1, 1};
	struct abyss_nn_model *m = NULL;
	float x[32 * 3], a[32 * 3], b[32 * 3], e1[32 * 3], e2[32 * 3];
	size_t i;

	(void)state;
	abyss_nn_config_default(&c);
	c.context_length = 32;
	c.prediction_length = 32;
	c.patch_length = 4;
	c.patch_stride = 4;
	c.num_patches = 8;
	c.num_input_channels = 3;
	c.d_model = 8;
	c.num_layers = 1;
	c.dropout = 0.5f;
	c.head_dropout = 0.5f;
	assert_int_equal(abyss_nn_model_new(&c, &o, &m, NULL), 0);
	for (i = 0; i < abyss_nn_num_params(m); i++)
		abyss_nn_params(m)[i] += frand() * 0.3f;
	for (i = 0; i < 96; i++)
		x[i] = frand() * 5.0f;
	assert_int_equal(abyss_nn_forward(m, x, 1, e1), 0); /* eval mode */
	abyss_nn_set_train(m, 1, 5);
	assert_int_equal(abyss_nn_forward(m, x, 1, a), 0);
	abyss_nn_set_train(m, 1, 5);
	assert_int_equal(abyss_nn_forward(m, x, 1, b), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_true(memcmp(a, e1, sizeof(a)) != 0);
	abyss_nn_set_train(m, 1, 6);
	assert_int_equal(abyss_nn_forward(m, x, 1, b), 0);
	assert_true(memcmp(a, b, sizeof(a)) != 0);
	abyss_nn_set_train(m, 0, 0);
	assert_int_equal(abyss_nn_forward(m, x, 1, e2), 0);
	assert_memory_equal(e1, e2, sizeof(e1));
	abyss_nn_model_free(m);
}

/* Training works end to end: a fixed-seed tiny model with dropout, AdamW,
 * a linear schedule and clipping overfits one batch. */
static void test_nn_kernels_overfit(void **state)
{
	struct abyss_nn_config c;
	struct abyss_nn_options o = {4, 1};
	struct abyss_nn_model *m = NULL;
	struct abyss_adamw opt;
	float x[4 * 16 * 2], y[4 * 8 * 2], first = 0.0f, loss = 0.0f;
	size_t i;
	long step, steps = 150;

	(void)state;
	abyss_nn_config_default(&c);
	c.context_length = 16;
	c.prediction_length = 8;
	c.patch_length = 4;
	c.patch_stride = 4;
	c.num_patches = 4;
	c.num_input_channels = 2;
	c.d_model = 8;
	c.num_layers = 2;
	c.dropout = 0.1f;
	c.head_dropout = 0.1f;
	assert_int_equal(abyss_nn_model_new(&c, &o, &m, NULL), 0);
	for (i = 0; i < abyss_nn_num_params(m); i++)
		abyss_nn_params(m)[i] += frand() * 0.2f;
	/* a sine per window continued into the future */
	for (i = 0; i < 4 * 16 * 2; i++)
		x[i] = sinf(0.4f * (float)((i / 2) % 16 + 3 * (i / 32)) +
			    (float)(i % 2)) *
			   3.0f +
		       1.0f;
	for (i = 0; i < 4 * 8 * 2; i++)
		y[i] = sinf(0.4f * (float)((i / 2) % 8 + 16 + 3 * (i / 16)) +
			    (float)(i % 2)) *
			   3.0f +
		       1.0f;
	assert_int_equal(abyss_adamw_init(&opt, abyss_nn_num_params(m), 1e-2,
					  0.9, 0.999, 1e-8, 0.0),
			 0);
	for (step = 0; step < steps; step++) {
		abyss_nn_set_train(m, 1, (uint64_t)step);
		assert_int_equal(abyss_nn_forward(m, x, 4, NULL), 0);
		abyss_nn_zero_grad(m);
		assert_int_equal(
		    abyss_nn_backward(m, y, ABYSS_NN_LOSS_MSE, &loss), 0);
		if (step == 0)
			first = loss;
		abyss_clip_grad_norm(abyss_nn_grads(m), abyss_nn_num_params(m),
				     1.0f);
		assert_int_equal(
		    abyss_nn_adamw_step(
			m, &opt, abyss_lr_linear(1e-2f, step, 10, steps)),
		    0);
	}
	abyss_nn_set_train(m, 0, 0);
	assert_int_equal(abyss_nn_forward(m, x, 4, NULL), 0);
	assert_int_equal(abyss_nn_loss(m, y, ABYSS_NN_LOSS_MSE, &loss), 0);
	print_message("  overfit: mse %.4g -> %.4g in %ld steps\n",
		      (double)first, (double)loss, steps);
	assert_true(loss < first * 0.05f);
	abyss_adamw_free(&opt);
	abyss_nn_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nn_kernels_matmul),
	    cmocka_unit_test(test_nn_kernels_layernorm),
	    cmocka_unit_test(test_nn_kernels_gelu),
	    cmocka_unit_test(test_nn_kernels_gate),
	    cmocka_unit_test(test_nn_kernels_attention),
	    cmocka_unit_test(test_nn_kernels_permute_adjoint),
	    cmocka_unit_test(test_nn_kernels_dropout_mask),
	    cmocka_unit_test(test_nn_kernels_model_gradients),
	    cmocka_unit_test(test_nn_kernels_dropout_modes),
	    cmocka_unit_test(test_nn_kernels_overfit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
