/* test_nn.c - PatchTSMixer config, checkpoint load, and parity of the
 * forward pass, the backward pass (MSE and focal), the losses and AdamW
 * against the reference tensors in $ABYSS_VECTORS/patchtsmixer (produced by
 * the original Python model). Tolerances come from each folder's
 * tolerances.json: atol over the whole tensor and atol_b_lt_last over the
 * batch elements 0..B-2. Prints the worst error / tolerance per family. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abyss/nn.h"
#include "abyss/safetensors.h"

/* ---- helpers ----------------------------------------------------------- */

static char *vec_dir(const char *folder)
{
	char rel[256];
	const char *p;

	snprintf(rel, sizeof(rel), "patchtsmixer/%s/model.safetensors", folder);
	p = vectors_path(rel);
	if (!p)
		return NULL;
	snprintf(rel, sizeof(rel), "patchtsmixer/%s", folder);
	p = vectors_path(rel);
	return p ? strdup(p) : NULL;
}

static struct abyss_st_file *open_st(const char *dir, const char *file)
{
	char path[4096];
	struct abyss_st_file *f = NULL;
	struct abyss_diag d;
	int rc;

	abyss_diag_init(&d);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	rc = abyss_st_open(path, NULL, &f, &d);
	if (rc)
		fail_msg("%s: %s", path, d.msg);
	return f;
}

static json_t *open_json(const char *dir, const char *file)
{
	char path[4096];
	json_error_t e;
	json_t *j;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	j = json_load_file(path, 0, &e);
	if (!j)
		fail_msg("%s: %s", path, e.text);
	return j;
}

static float *tensor_f32(const struct abyss_st_file *f, const char *name,
			 size_t *n)
{
	const struct abyss_st_tensor *t = abyss_st_find(f, name);
	float *v;

	if (!t)
		fail_msg("reference tensor %s missing", name);
	v = malloc(t->nelem * sizeof(float));
	assert_non_null(v);
	assert_int_equal(abyss_st_read_f32(t, v, t->nelem), 0);
	if (n)
		*n = t->nelem;
	return v;
}

struct family {
	const char *label;
	double worst_ratio; /* max over tensors of err / atol */
	double worst_abs;
	char worst_name[160];
	int ntensors;
};

/* Compares got[] with a reference tensor under tol = {atol,
 * atol_b_lt_last}. B is the batch; for tensors with a batch axis the
 * first (B-1)/B of the elements are "b < B-1". Fails the test on excess. */
static void check_tensor(struct family *fam, const char *name, const float *got,
			 const struct abyss_st_tensor *ref, json_t *tol,
			 size_t B, int has_batch)
{
	double atol = 0.0, atol_b = -1.0, err = 0.0, err_b = 0.0, r;
	size_t i, nb;
	json_t *v;

	assert_non_null(tol);
	v = json_object_get(tol, "atol");
	assert_true(json_is_number(v));
	atol = json_number_value(v);
	v = json_object_get(tol, "atol_b_lt_last");
	if (json_is_number(v))
		atol_b = json_number_value(v);
	nb = has_batch && B > 1 ? ref->nelem / B * (B - 1) : 0;
	for (i = 0; i < ref->nelem; i++) {
		float x;
		double d;

		memcpy(&x, ref->data + i * 4, 4);
		d = fabs((double)got[i] - (double)x);
		if (!(d <= 1e300))
			d = INFINITY; /* NaN */
		if (d > err)
			err = d;
		if (i < nb && d > err_b)
			err_b = d;
	}
	r = err / atol;
	if (atol_b > 0 && nb && err_b / atol_b > r)
		r = err_b / atol_b;
	fam->ntensors++;
	if (r > fam->worst_ratio) {
		fam->worst_ratio = r;
		fam->worst_abs = err;
		snprintf(fam->worst_name, sizeof(fam->worst_name), "%s", name);
	}
	if (!(err <= atol) || (atol_b > 0 && nb && !(err_b <= atol_b)))
		fail_msg("%s %s: max err %.3g (atol %.3g), b<B-1 %.3g (atol "
			 "%.3g)",
			 fam->label, name, err, atol, err_b, atol_b);
}

static void report(const char *folder, const struct family *f)
{
	print_message("  %-14s %-16s %3d tensors, worst err/atol %.3f (%.3g "
		      "abs) at %s\n",
		      folder, f->label, f->ntensors, f->worst_ratio,
		      f->worst_abs, f->worst_name);
}

static struct abyss_nn_model *load_model(const char *dir, size_t B,
					 int training)
{
	struct abyss_nn_options o = {B, training};
	struct abyss_nn_model *m = NULL;
	struct abyss_diag d;

	abyss_diag_init(&d);
	if (abyss_nn_model_load(dir, &o, &m, &d))
		fail_msg("load %s: %s", dir, d.msg);
	return m;
}

/* ---- config ------------------------------------------------------------ */

static void test_nn_config_parses_tiny(void **state)
{
	char *dir = vec_dir("tiny");
	char path[4096];
	struct abyss_nn_config c;
	struct abyss_diag d;

	(void)state;
	REQUIRE_DATA(dir);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	abyss_diag_init(&d);
	assert_int_equal(abyss_nn_config_load(path, &c, &d), 0);
	assert_int_equal(c.context_length, 32);
	assert_int_equal(c.num_patches, 8);
	assert_int_equal(c.num_input_channels, 3);
	assert_int_equal(c.d_model, 8);
	assert_int_equal(c.num_layers, 2);
	assert_int_equal(c.mode, ABYSS_NN_MIX_CHANNEL);
	assert_int_equal(c.scaling, ABYSS_NN_SCALE_STD);
	assert_true(c.gated_attn && c.self_attn && c.use_positional_encoding);
	assert_int_equal(c.head_linears, 0); /* decided by the checkpoint */
	free(dir);
}

static void expect_config(const char *json, int code, const char *needle)
{
	struct abyss_nn_config c;
	struct abyss_diag d;
	int rc;

	abyss_diag_init(&d);
	rc = abyss_nn_config_parse(json, strlen(json), &c, &d);
	if (rc != code)
		fail_msg("config %s: got %s (%s), want %s", json,
			 abyss_errname(rc), d.msg, abyss_errname(code));
	if (needle && !strstr(d.msg, needle))
		fail_msg("diag '%s' does not mention '%s'", d.msg, needle);
}

static void test_nn_config_rejects_unsupported(void **state)
{
	struct abyss_nn_config c;
	struct abyss_diag d;
	const char *ok = "{\"context_length\":64,\"patch_length\":8,"
			 "\"patch_stride\":8}";

	(void)state;
	abyss_diag_init(&d);
	/* defaults of transformers fill the rest */
	assert_int_equal(abyss_nn_config_parse(ok, strlen(ok), &c, &d), 0);
	assert_int_equal(c.num_patches, 8);
	assert_int_equal(c.mode, ABYSS_NN_COMMON_CHANNEL);
	assert_int_equal(c.d_model, 8);
	assert_int_equal(c.num_layers, 3);
	assert_int_equal(c.use_positional_encoding, 0);
	expect_config("{\"norm_mlp\":\"BatchNorm\"}", ABYSS_EUNSUPPORTED,
		      "norm_mlp");
	expect_config("{\"mask_input\":true}", ABYSS_EUNSUPPORTED,
		      "mask_input");
	expect_config("{\"loss\":\"nll\"}", ABYSS_EUNSUPPORTED, "loss");
	expect_config("{\"use_positional_encoding\":true,"
		      "\"positional_encoding_type\":\"random\"}",
		      ABYSS_EUNSUPPORTED, "positional_encoding_type");
	expect_config("{\"mode\":\"flatten\"}", ABYSS_EUNSUPPORTED, "mode");
	expect_config("{\"prediction_channel_indices\":[0]}",
		      ABYSS_EUNSUPPORTED, "prediction_channel_indices");
	expect_config("{\"context_length\":64,\"num_patches\":7}",
		      ABYSS_ECONFIG, "num_patches");
	expect_config("{\"self_attn\":true,\"self_attn_heads\":3}",
		      ABYSS_ECONFIG, "self_attn_heads");
	expect_config("{\"d_model\":\"8\"}", ABYSS_EPARSE, "d_model");
	expect_config("{\"d_model\":-1}", ABYSS_ECONFIG, "d_model");
	expect_config("{\"dropout\":1.5}", ABYSS_ECONFIG, "dropout");
	expect_config("{\"model_type\":\"bert\"}", ABYSS_EUNSUPPORTED,
		      "model_type");
	expect_config("[1]", ABYSS_EPARSE, NULL);
	{
		/* a config.json asking for a huge model is refused before
		 * anything big is allocated */
		struct abyss_nn_model *m = NULL;
		const char *huge = "{\"context_length\":65536,\"patch_length\":"
				   "1,\"patch_stride\":1,\"d_model\":4096,"
				   "\"prediction_length\":65536}";

		assert_int_equal(
		    abyss_nn_config_parse(huge, strlen(huge), &c, &d), 0);
		assert_int_equal(abyss_nn_model_new(&c, NULL, &m, &d),
				 ABYSS_ETOOBIG);
		assert_null(m);
		/* so is a max_batch whose activations would not fit */
		abyss_nn_config_default(&c);
		{
			struct abyss_nn_options o = {(size_t)1 << 40, 1};
			assert_int_equal(abyss_nn_model_new(&c, &o, &m, &d),
					 ABYSS_ETOOBIG);
			assert_null(m);
		}
	}
	expect_config("{\"d_model\":8,}", ABYSS_EJSON, NULL);
	abyss_diag_init(&d);
	assert_int_equal(abyss_nn_config_parse("{\n  \"a\": }", 10, &c, &d),
			 ABYSS_EJSON);
	assert_int_equal(d.line, 2);
}

static void test_nn_config_save_roundtrip(void **state)
{
	struct abyss_nn_config a, b;
	struct abyss_diag d;
	char path[] = "/tmp/abyss_nn_cfg_XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	abyss_nn_config_default(&a);
	abyss_diag_init(&d);
	assert_int_equal(abyss_nn_config_save(&a, path, &d), 0);
	assert_int_equal(abyss_nn_config_load(path, &b, &d), 0);
	assert_int_equal(b.context_length, 512);
	assert_int_equal(b.num_patches, 64);
	assert_int_equal(b.num_input_channels, 17);
	assert_int_equal(b.num_layers, 8);
	assert_int_equal(b.mode, ABYSS_NN_MIX_CHANNEL);
	assert_true(b.self_attn && b.gated_attn);
	assert_true(fabsf(b.dropout - 0.2f) < 1e-7f);
	unlink(path);
}

/* ---- checkpoint load ----------------------------------------------------
 */

static void test_nn_load_tiny_checkpoint(void **state)
{
	char *dir = vec_dir("tiny");
	struct abyss_nn_model *m;
	struct abyss_nn_config c;
	struct abyss_nn_param_info in;
	const float *pe;
	float *fresh_pe;
	size_t i, n, trainable = 0;

	(void)state;
	REQUIRE_DATA(dir);
	m = load_model(dir, 2, 0);
	assert_int_equal(abyss_nn_num_tensors(m), 77);
	assert_int_equal(abyss_nn_num_params(m), 6522);
	for (i = 0; i < abyss_nn_num_tensors(m); i++) {
		assert_int_equal(abyss_nn_param_info(m, i, &in), 0);
		if (in.trainable)
			trainable += in.numel;
	}
	assert_int_equal(trainable, 6458);
	assert_int_equal(abyss_nn_model_config(m)->head_linears, 3);
	/* the sincos table computed here equals the checkpoint's */
	pe = abyss_nn_param(m, "model.encoder.positional_encoder.position_enc",
			    &n);
	assert_non_null(pe);
	assert_int_equal(n, 64);
	c = *abyss_nn_model_config(m);
	{
		struct abyss_nn_model *f = NULL;
		assert_int_equal(abyss_nn_model_new(&c, NULL, &f, NULL), 0);
		fresh_pe = abyss_nn_param(
		    f, "model.encoder.positional_encoder.position_enc", NULL);
		for (i = 0; i < n; i++)
			ASSERT_NEAR(fresh_pe[i], pe[i], 1e-6);
		abyss_nn_model_free(f);
	}
	abyss_nn_model_free(m);
	free(dir);
}

static void test_nn_load_rejects_mismatch(void **state)
{
	char *dir = vec_dir("tiny");
	char path[4096];
	struct abyss_st_file *st;
	struct abyss_nn_config c;
	struct abyss_nn_model *m = NULL;
	struct abyss_diag d;

	(void)state;
	REQUIRE_DATA(dir);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	assert_int_equal(abyss_nn_config_load(path, &c, NULL), 0);
	st = open_st(dir, "model.safetensors");
	/* one layer more than the checkpoint has */
	c.num_layers = 3;
	assert_int_equal(abyss_nn_model_new(&c, NULL, &m, NULL), 0);
	abyss_diag_init(&d);
	assert_int_equal(abyss_nn_model_load_weights(m, st, &d),
			 ABYSS_EMISSING);
	assert_non_null(strstr(d.msg, "mixers.2"));
	abyss_nn_model_free(m);
	/* a wider model: shapes disagree */
	c.num_layers = 2;
	c.d_model = 16;
	assert_int_equal(abyss_nn_model_new(&c, NULL, &m, NULL), 0);
	assert_int_equal(abyss_nn_model_load_weights(m, st, &d), ABYSS_ESHAPE);
	assert_non_null(strstr(d.msg, "patcher"));
	abyss_nn_model_free(m);
	/* fewer layers: extra tensors in the checkpoint are rejected */
	c.d_model = 8;
	c.num_layers = 1;
	assert_int_equal(abyss_nn_model_new(&c, NULL, &m, NULL), 0);
	assert_int_equal(abyss_nn_model_load_weights(m, st, &d), ABYSS_EPARSE);
	assert_non_null(strstr(d.msg, "mixers.1"));
	abyss_nn_model_free(m);
	/* stock one-linear head against a 3-linear checkpoint */
	c.num_layers = 2;
	c.head_linears = 1;
	assert_int_equal(abyss_nn_model_new(&c, NULL, &m, NULL), 0);
	assert_int_equal(abyss_nn_model_load_weights(m, st, &d), ABYSS_EPARSE);
	assert_non_null(strstr(d.msg, "base_forecast_block1"));
	abyss_nn_model_free(m);
	abyss_st_close(st);
	free(dir);
}

static void test_nn_save_load_roundtrip(void **state)
{
	char *dir = vec_dir("tiny_no_attn");
	char tmpl[] = "/tmp/abyss_nn_ckpt_XXXXXX", path[4096];
	struct abyss_nn_model *m, *m2;
	size_t n = 0;

	(void)state;
	REQUIRE_DATA(dir);
	assert_non_null(mkdtemp(tmpl));
	m = load_model(dir, 1, 0);
	assert_int_equal(abyss_nn_model_save(m, tmpl, NULL), 0);
	m2 = load_model(tmpl, 1, 0);
	n = abyss_nn_num_params(m);
	assert_int_equal(abyss_nn_num_params(m2), n);
	assert_memory_equal(abyss_nn_params(m), abyss_nn_params(m2),
			    n * sizeof(float));
	assert_int_equal(abyss_nn_model_config(m2)->gated_attn, 0);
	assert_int_equal(abyss_nn_model_config(m2)->self_attn, 0);
	abyss_nn_model_free(m);
	abyss_nn_model_free(m2);
	snprintf(path, sizeof(path), "%s/model.safetensors", tmpl);
	unlink(path);
	snprintf(path, sizeof(path), "%s/config.json", tmpl);
	unlink(path);
	rmdir(tmpl);
	free(dir);
}

/* ---- forward / backward parity ------------------------------------------ */

static int has_batch_axis(const struct abyss_st_tensor *t, size_t B)
{
	return t->ndim >= 1 && (t->shape[0] == B || t->shape[0] % B == 0);
}

static void parity_forward(const char *folder, size_t B)
{
	char *dir = vec_dir(folder);
	struct abyss_st_file *in, *acts;
	struct abyss_nn_model *m;
	struct family fam = {"activations", 0, 0, "", 0};
	json_t *tol, *tacts;
	float *x, *pred;
	size_t i, n;

	REQUIRE_DATA(dir);
	m = load_model(dir, B, 1);
	in = open_st(dir, "inputs.safetensors");
	acts = open_st(dir, "activations.safetensors");
	tol = open_json(dir, "tolerances.json");
	tacts = json_object_get(tol, "activations.safetensors");
	x = tensor_f32(in, "past_values", &n);
	pred = malloc(n * sizeof(float));
	assert_non_null(pred);
	assert_int_equal(abyss_nn_forward(m, x, B, pred), 0);
	for (i = 0; i < abyss_st_count(acts); i++) {
		const struct abyss_st_tensor *t = abyss_st_at(acts, i);
		size_t shape[4];
		int nd, k;
		const float *got =
		    abyss_nn_activation(m, t->name, 0, &nd, shape);

		if (!got)
			fail_msg("%s: no activation %s", folder, t->name);
		assert_int_equal(nd, t->ndim);
		for (k = 0; k < nd; k++)
			assert_int_equal(shape[k], t->shape[k]);
		check_tensor(&fam, t->name, got, t,
			     json_object_get(tacts, t->name), B,
			     has_batch_axis(t, B));
	}
	/* the copy handed back equals the named output */
	assert_memory_equal(pred, abyss_nn_output(m, NULL), n * sizeof(float));
	report(folder, &fam);
	free(x);
	free(pred);
	json_decref(tol);
	abyss_st_close(in);
	abyss_st_close(acts);
	abyss_nn_model_free(m);
	free(dir);
}

static void check_grads(struct abyss_nn_model *m, const char *folder,
			const char *dir, const char *file, json_t *tol)
{
	struct abyss_st_file *g = open_st(dir, file);
	struct family fam = {file, 0, 0, "", 0};
	json_t *tg = json_object_get(tol, file);
	size_t i, n;

	for (i = 0; i < abyss_st_count(g); i++) {
		const struct abyss_st_tensor *t = abyss_st_at(g, i);
		const float *got = abyss_nn_grad(m, t->name, &n);

		if (!got)
			fail_msg("%s: no gradient %s", folder, t->name);
		assert_int_equal(n, t->nelem);
		check_tensor(&fam, t->name, got, t,
			     json_object_get(tg, t->name), 1, 0);
	}
	/* every trainable parameter has a reference gradient */
	for (i = 0; i < abyss_nn_num_tensors(m); i++) {
		struct abyss_nn_param_info in;

		abyss_nn_param_info(m, i, &in);
		if (in.trainable)
			assert_non_null(abyss_st_find(g, in.name));
	}
	report(folder, &fam);
	abyss_st_close(g);
}

static double loss_ref(json_t *losses, const char *key)
{
	json_t *v = json_object_get(json_object_get(losses, key), "value");

	assert_true(json_is_number(v));
	return json_number_value(v);
}

static void parity_backward(const char *folder, size_t B)
{
	char *dir = vec_dir(folder);
	struct abyss_st_file *in, *ga;
	struct abyss_nn_model *m;
	struct family fam = {"act_grads_mse", 0, 0, "", 0};
	json_t *tol, *losses, *tl;
	float *x, *y, loss;
	double ref, rtol;
	size_t i;

	REQUIRE_DATA(dir);
	m = load_model(dir, B, 1);
	in = open_st(dir, "inputs.safetensors");
	tol = open_json(dir, "tolerances.json");
	losses = open_json(dir, "losses.json");
	tl = json_object_get(tol, "losses.json");
	x = tensor_f32(in, "past_values", NULL);
	y = tensor_f32(in, "future_values", NULL);

	/* MSE: loss, every parameter gradient, every activation gradient */
	assert_int_equal(abyss_nn_forward(m, x, B, NULL), 0);
	abyss_nn_zero_grad(m);
	assert_int_equal(abyss_nn_backward(m, y, ABYSS_NN_LOSS_MSE, &loss), 0);
	ref = loss_ref(losses, "mse");
	rtol = json_number_value(
	    json_object_get(json_object_get(tl, "mse"), "rtol"));
	print_message("  %-14s loss mse %.9g (ref %.9g, rel err %.3g, rtol "
		      "%.3g)\n",
		      folder, (double)loss, ref, fabs(loss - ref) / ref, rtol);
	assert_true(fabs(loss - ref) <= rtol * fabs(ref));
	check_grads(m, folder, dir, "grads_mse.safetensors", tol);
	ga = open_st(dir, "grads_activations_mse.safetensors");
	for (i = 0; i < abyss_st_count(ga); i++) {
		const struct abyss_st_tensor *t = abyss_st_at(ga, i);
		size_t shape[4];
		int nd;
		const float *got;

		assert_true(strncmp(t->name, "grad:", 5) == 0);
		got = abyss_nn_activation(m, t->name + 5, 1, &nd, shape);
		if (!got)
			fail_msg("%s: no activation gradient %s", folder,
				 t->name);
		check_tensor(&fam, t->name, got, t,
			     json_object_get(
				 json_object_get(tol, "grads_activations_mse."
						      "safetensors"),
				 t->name),
			     B, has_batch_axis(t, B));
	}
	report(folder, &fam);
	abyss_st_close(ga);

	/* focal: the loss the original model computes itself */
	abyss_nn_zero_grad(m);
	assert_int_equal(abyss_nn_backward(m, y, ABYSS_NN_LOSS_FOCAL, &loss),
			 0);
	ref = loss_ref(losses, "focal");
	rtol = json_number_value(
	    json_object_get(json_object_get(tl, "focal"), "rtol"));
	print_message("  %-14s loss focal %.9g (ref %.9g, rel err %.3g)\n",
		      folder, (double)loss, ref, fabs(loss - ref) / ref);
	assert_true(fabs(loss - ref) <= rtol * fabs(ref));
	{
		float l2;
		assert_int_equal(abyss_nn_loss(m, y, ABYSS_NN_LOSS_FOCAL, &l2),
				 0);
		assert_true(l2 == loss);
	}
	check_grads(m, folder, dir, "grads_focal.safetensors", tol);

	free(x);
	free(y);
	json_decref(tol);
	json_decref(losses);
	abyss_st_close(in);
	abyss_nn_model_free(m);
	free(dir);
}

static void test_nn_forward_tiny(void **state)
{
	(void)state;
	parity_forward("tiny", 2);
}

static void test_nn_forward_tiny_common_channel(void **state)
{
	(void)state;
	parity_forward("tiny_common_channel", 2);
}

static void test_nn_forward_tiny_no_attn(void **state)
{
	(void)state;
	parity_forward("tiny_no_attn", 2);
}

static void test_nn_forward_original(void **state)
{
	(void)state;
	parity_forward("original", 4);
}

static void test_nn_backward_tiny(void **state)
{
	(void)state;
	parity_backward("tiny", 2);
}

static void test_nn_backward_tiny_common_channel(void **state)
{
	(void)state;
	parity_backward("tiny_common_channel", 2);
}

static void test_nn_backward_tiny_no_attn(void **state)
{
	(void)state;
	parity_backward("tiny_no_attn", 2);
}

static void test_nn_backward_original(void **state)
{
	(void)state;
	parity_backward("original", 4);
}

/* Inference (no gradients, shared intermediates) gives the same output
 * as the training build, and batch of 1 equals a row of the batch. */
static void test_nn_inference_matches_training_build(void **state)
{
	char *dir = vec_dir("tiny");
	struct abyss_st_file *in;
	struct abyss_nn_model *mi, *mt;
	float *x, *pi, *pt, one[32 * 3];
	size_t n;

	(void)state;
	REQUIRE_DATA(dir);
	mi = load_model(dir, 2, 0);
	mt = load_model(dir, 2, 1);
	in = open_st(dir, "inputs.safetensors");
	x = tensor_f32(in, "past_values", &n);
	pi = malloc(n * sizeof(float));
	pt = malloc(n * sizeof(float));
	assert_non_null(pi);
	assert_non_null(pt);
	assert_int_equal(abyss_nn_forward(mi, x, 2, pi), 0);
	assert_int_equal(abyss_nn_forward(mt, x, 2, pt), 0);
	assert_memory_equal(pi, pt, n * sizeof(float));
	assert_int_equal(abyss_nn_forward(mi, x + n / 2, 1, one), 0);
	assert_memory_equal(one, pt + n / 2, n / 2 * sizeof(float));
	assert_int_equal(abyss_nn_forward(mi, x, 3, NULL), ABYSS_ETOOBIG);
	assert_int_equal(abyss_nn_backward(mi, x, ABYSS_NN_LOSS_MSE, NULL),
			 ABYSS_ESTATE);
	free(x);
	free(pi);
	free(pt);
	abyss_st_close(in);
	abyss_nn_model_free(mi);
	abyss_nn_model_free(mt);
	free(dir);
}

/* ---- AdamW fed the reference gradients --------------------------------- */

static void adamw_check(struct abyss_nn_model *m, const char *folder,
			const struct abyss_st_file *ref, const char *label)
{
	double worst = 0.0;
	size_t i, n;

	for (i = 0; i < abyss_st_count(ref); i++) {
		const struct abyss_st_tensor *t = abyss_st_at(ref, i);
		const float *p = abyss_nn_param(m, t->name, &n);
		size_t j;

		assert_non_null(p);
		assert_int_equal(n, t->nelem);
		for (j = 0; j < n; j++) {
			float r;
			double d;

			memcpy(&r, t->data + 4 * j, 4);
			d = fabs((double)p[j] - r);
			if (d > worst)
				worst = d;
			if (!(d <= 1e-6))
				fail_msg("%s %s %s[%zu] = %.9g, want %.9g",
					 folder, label, t->name, j, p[j], r);
		}
	}
	print_message("  %-14s %s max abs err %.3g (atol 1e-6)\n", folder,
		      label, worst);
}

static void load_grads(struct abyss_nn_model *m, const struct abyss_st_file *g)
{
	size_t i, n;

	abyss_nn_zero_grad(m);
	for (i = 0; i < abyss_st_count(g); i++) {
		const struct abyss_st_tensor *t = abyss_st_at(g, i);
		float *d = abyss_nn_grad(m, t->name, &n);

		assert_non_null(d);
		assert_int_equal(abyss_st_read_f32(t, d, n), 0);
	}
}

static void adamw_folder(const char *folder, int two_steps)
{
	char *dir = vec_dir(folder);
	struct abyss_st_file *g, *s1, *g2 = NULL, *s2 = NULL;
	struct abyss_nn_model *m;
	struct abyss_adamw opt;
	json_t *hp;

	REQUIRE_DATA(dir);
	m = load_model(dir, 1, 1);
	hp = open_json(dir, "adamw.json");
	assert_int_equal(
	    abyss_adamw_init(
		&opt, abyss_nn_num_params(m),
		json_number_value(json_object_get(hp, "lr")),
		json_number_value(
		    json_array_get(json_object_get(hp, "betas"), 0)),
		json_number_value(
		    json_array_get(json_object_get(hp, "betas"), 1)),
		json_number_value(json_object_get(hp, "eps")),
		json_number_value(json_object_get(hp, "weight_decay"))),
	    0);
	g = open_st(dir, "grads_mse.safetensors");
	s1 = open_st(dir, "adamw_step.safetensors");
	load_grads(m, g);
	assert_int_equal(abyss_nn_adamw_step(m, &opt, opt.lr), 0);
	adamw_check(m, folder, s1, "adamw step 1");
	if (two_steps) {
		g2 = open_st(dir, "adamw_step2_grads_mse.safetensors");
		s2 = open_st(dir, "adamw_step2.safetensors");
		load_grads(m, g2);
		assert_int_equal(abyss_nn_adamw_step(m, &opt, opt.lr), 0);
		adamw_check(m, folder, s2, "adamw step 2");
		{
			/* the moments too */
			struct abyss_st_file *st =
			    open_st(dir, "adamw_step2_state.safetensors");
			size_t i, n, j;
			double worst = 0.0;

			for (i = 0; i < abyss_nn_num_tensors(m); i++) {
				struct abyss_nn_param_info in;
				char nm[300];
				const struct abyss_st_tensor *t;

				abyss_nn_param_info(m, i, &in);
				if (!in.trainable)
					continue;
				snprintf(nm, sizeof(nm), "%s.exp_avg_sq",
					 in.name);
				t = abyss_st_find(st, nm);
				assert_non_null(t);
				n = t->nelem;
				for (j = 0; j < n; j++) {
					float r;
					double d;

					memcpy(&r, t->data + 4 * j, 4);
					d = fabs(opt.v[in.offset + j] - r) /
					    (fabs(r) + 1e-30);
					if (d > worst)
						worst = d;
				}
			}
			print_message("  %-14s adamw v rel err %.3g\n", folder,
				      worst);
			assert_true(worst < 1e-6);
			abyss_st_close(st);
		}
	}
	abyss_st_close(g);
	abyss_st_close(s1);
	abyss_st_close(g2);
	abyss_st_close(s2);
	abyss_adamw_free(&opt);
	json_decref(hp);
	abyss_nn_model_free(m);
	free(dir);
}

static void test_nn_adamw_tiny(void **state)
{
	(void)state;
	adamw_folder("tiny", 1);
	adamw_folder("tiny_common_channel", 1);
	adamw_folder("tiny_no_attn", 1);
}

static void test_nn_adamw_original(void **state)
{
	(void)state;
	adamw_folder("original", 0);
}

static void test_nn_lr_schedule_and_clip(void **state)
{
	float g[4] = {3.0f, 4.0f, 0.0f, 0.0f}, norm;

	(void)state;
	/* warm-up 10, total 110 */
	ASSERT_NEAR(abyss_lr_linear(1e-3f, 0, 10, 110), 0.0, 0);
	ASSERT_NEAR(abyss_lr_linear(1e-3f, 5, 10, 110), 5e-4, 1e-10);
	ASSERT_NEAR(abyss_lr_linear(1e-3f, 10, 10, 110), 1e-3, 1e-10);
	ASSERT_NEAR(abyss_lr_linear(1e-3f, 60, 10, 110), 5e-4, 1e-10);
	ASSERT_NEAR(abyss_lr_linear(1e-3f, 110, 10, 110), 0.0, 0);
	ASSERT_NEAR(abyss_lr_linear(1e-3f, 200, 10, 110), 0.0, 0);
	/* no warm-up (the original: 120 epochs, linear) */
	ASSERT_NEAR(abyss_lr_linear(1e-3f, 0, 0, 120), 1e-3, 1e-10);
	ASSERT_NEAR(abyss_lr_linear(1e-3f, 30, 0, 120), 7.5e-4, 1e-10);
	norm = abyss_clip_grad_norm(g, 4, 1.0f);
	ASSERT_NEAR(norm, 5.0, 1e-6);
	ASSERT_NEAR(g[0], 0.6, 1e-6);
	ASSERT_NEAR(g[1], 0.8, 1e-6);
	norm = abyss_clip_grad_norm(g, 4, 10.0f);
	ASSERT_NEAR(norm, 1.0, 1e-6);
	ASSERT_NEAR(g[1], 0.8, 1e-6); /* under the limit: untouched */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nn_config_parses_tiny),
	    cmocka_unit_test(test_nn_config_rejects_unsupported),
	    cmocka_unit_test(test_nn_config_save_roundtrip),
	    cmocka_unit_test(test_nn_load_tiny_checkpoint),
	    cmocka_unit_test(test_nn_load_rejects_mismatch),
	    cmocka_unit_test(test_nn_save_load_roundtrip),
	    cmocka_unit_test(test_nn_forward_tiny),
	    cmocka_unit_test(test_nn_forward_tiny_common_channel),
	    cmocka_unit_test(test_nn_forward_tiny_no_attn),
	    cmocka_unit_test(test_nn_forward_original),
	    cmocka_unit_test(test_nn_backward_tiny),
	    cmocka_unit_test(test_nn_backward_tiny_common_channel),
	    cmocka_unit_test(test_nn_backward_tiny_no_attn),
	    cmocka_unit_test(test_nn_backward_original),
	    cmocka_unit_test(test_nn_inference_matches_training_build),
	    cmocka_unit_test(test_nn_adamw_tiny),
	    cmocka_unit_test(test_nn_adamw_original),
	    cmocka_unit_test(test_nn_lr_schedule_and_clip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
