/*
 * test_onnx.c - the ONNX export (src/onnx) read back with the same
 * protobuf-c code: model header (IR 8, opset 17), graph interface (names,
 * dynamic batch), every parameter as an initializer with its state_dict
 * name, shape and exact bits, nodes in topological order, erf GELU, no
 * Dropout, one LayerNormalization per norm; file output and errors.
 * The numbers themselves are checked in ONNX Runtime by
 * tests/integration/30-onnx.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abyss/nn.h"
#include "testutil.h"

#ifdef ABYSS_WITH_ONNX
#include "onnx/onnx.pb-c.h"
#include "onnx/onnx_export.h"

static const char *const ALLOWED_OPS[] = {
    "Add",	  "Sub",     "Mul",	  "Div",
    "Sqrt",	  "Abs",     "Max",	  "Cast",
    "ReduceMean", "Gather",  "Transpose", "Reshape",
    "MatMul",	  "Softmax", "Erf",	  "LayerNormalization",
    "Identity"};

static int op_allowed(const char *op)
{
	size_t i;

	for (i = 0; i < sizeof(ALLOWED_OPS) / sizeof(ALLOWED_OPS[0]); i++)
		if (strcmp(op, ALLOWED_OPS[i]) == 0)
			return 1;
	return 0;
}

static const Onnx__TensorProto *find_init(const Onnx__GraphProto *g,
					  const char *name)
{
	size_t i;

	for (i = 0; i < g->n_initializer; i++)
		if (strcmp(g->initializer[i]->name, name) == 0)
			return g->initializer[i];
	return NULL;
}

static void check_io(const Onnx__ValueInfoProto *vi, const char *name,
		     int64_t d1, int64_t d2)
{
	const Onnx__TypeProto__Tensor *tt;
	const Onnx__TensorShapeProto *sh;

	assert_string_equal(vi->name, name);
	assert_int_equal(vi->type->value_case,
			 ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE);
	tt = vi->type->tensor_type;
	assert_int_equal(tt->elem_type, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
	sh = tt->shape;
	assert_int_equal(sh->n_dim, 3);
	assert_int_equal(sh->dim[0]->value_case,
			 ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM);
	assert_string_equal(sh->dim[0]->dim_param, "batch");
	assert_int_equal(sh->dim[1]->dim_value, d1);
	assert_int_equal(sh->dim[2]->dim_value, d2);
}

/* Is name a graph input, an initializer or the output of nodes [0, upto)?
 */
static int defined_before(const Onnx__GraphProto *g, const char *name,
			  size_t upto)
{
	size_t i, j;

	if (strcmp(name, g->input[0]->name) == 0 || find_init(g, name))
		return 1;
	for (i = 0; i < upto; i++)
		for (j = 0; j < g->node[i]->n_output; j++)
			if (strcmp(g->node[i]->output[j], name) == 0)
				return 1;
	return 0;
}

static size_t count_ops(const Onnx__GraphProto *g, const char *op)
{
	size_t i, n = 0;

	for (i = 0; i < g->n_node; i++)
		n += strcmp(g->node[i]->op_type, op) == 0;
	return n;
}

/* Everything the exported bytes must say about model m. */
static void check_export(struct abyss_nn_model *m, const uint8_t *buf,
			 size_t len)
{
	const struct abyss_nn_config *c = abyss_nn_model_config(m);
	const float *params = abyss_nn_params(m);
	Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
	const Onnx__GraphProto *g;
	size_t i, j, norms = 0, gates = 0;

	assert_non_null(mp);
	assert_int_equal(mp->ir_version, 8);
	assert_int_equal(mp->n_opset_import, 1);
	assert_true(!mp->opset_import[0]->domain ||
		    mp->opset_import[0]->domain[0] == '\0');
	assert_int_equal(mp->opset_import[0]->version, 17);
	assert_string_equal(mp->producer_name, "abyss");
	g = mp->graph;
	assert_non_null(g);
	assert_int_equal(g->n_input, 1);
	assert_int_equal(g->n_output, 1);
	check_io(g->input[0], "past_values", c->context_length,
		 c->num_input_channels);
	check_io(g->output[0], "prediction_outputs", c->prediction_length,
		 c->num_input_channels);

	/* every parameter, bit for bit, under its state_dict name */
	for (i = 0; i < abyss_nn_num_tensors(m); i++) {
		struct abyss_nn_param_info in;
		const Onnx__TensorProto *t;
		size_t len_nm;

		assert_int_equal(abyss_nn_param_info(m, i, &in), 0);
		t = find_init(g, in.name);
		if (!t) {
			fail_msg("no initializer %s", in.name);
			return;
		}
		assert_int_equal(t->data_type,
				 ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
		assert_int_equal(t->n_dims, (size_t)in.ndim);
		for (j = 0; j < (size_t)in.ndim; j++)
			assert_int_equal(t->dims[j], (int64_t)in.shape[j]);
		assert_true(t->has_raw_data);
		assert_int_equal(t->raw_data.len, in.numel * sizeof(float));
		assert_memory_equal(t->raw_data.data, params + in.offset,
				    t->raw_data.len);
		len_nm = strlen(in.name);
		norms += len_nm > 12 &&
			 strcmp(in.name + len_nm - 12, ".norm.weight") == 0;
		gates +=
		    strstr(in.name, "gating_block.attn_layer.weight") != NULL;
	}

	/* topological order, unique outputs, the ops we promise */
	for (i = 0; i < g->n_node; i++) {
		const Onnx__NodeProto *n = g->node[i];

		if (!op_allowed(n->op_type))
			fail_msg("unexpected op %s", n->op_type);
		for (j = 0; j < n->n_input; j++)
			if (!defined_before(g, n->input[j], i))
				fail_msg("node %zu (%s) reads %s before it is "
					 "defined",
					 i, n->op_type, n->input[j]);
		assert_int_equal(n->n_output, 1);
		assert_false(defined_before(g, n->output[0], i));
	}
	assert_true(defined_before(g, "prediction_outputs", g->n_node));
	assert_int_equal(count_ops(g, "LayerNormalization"), norms);
	/* GELU as erf: one per MLP (3 MLPs a layer in mix_channel, else 2) */
	assert_int_equal(count_ops(g, "Erf"),
			 (size_t)c->num_layers *
			     (c->mode == ABYSS_NN_MIX_CHANNEL ? 3 : 2));
	/* Softmax: every gate, plus the attention of every layer */
	assert_int_equal(count_ops(g, "Softmax"),
			 gates + (c->self_attn ? (size_t)c->num_layers : 0));
	onnx__model_proto__free_unpacked(mp, NULL);
}

/* A small model with 2 heads and deterministic pseudo-random weights. */
static struct abyss_nn_model *small_model(void)
{
	struct abyss_nn_config cfg;
	struct abyss_nn_options opt = {1, 0};
	struct abyss_nn_model *m = NULL;
	uint64_t s = 42;
	float *p;
	size_t i;

	abyss_nn_config_default(&cfg);
	cfg.context_length = 30;
	cfg.patch_length = 6;
	cfg.patch_stride = 4;
	cfg.num_patches = 7;
	cfg.num_input_channels = 3;
	cfg.d_model = 8;
	cfg.num_layers = 2;
	cfg.prediction_length = 5;
	cfg.self_attn_heads = 2;
	cfg.dropout = 0.0f;
	cfg.head_dropout = 0.0f;
	assert_int_equal(abyss_nn_model_new(&cfg, &opt, &m, NULL), 0);
	p = abyss_nn_params(m);
	for (i = 0; i < abyss_nn_num_params(m); i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		p[i] = (float)((double)(s >> 40) / (double)(1 << 24) - 0.5);
	}
	return m;
}

static void test_onnx_small_model_structure(void **state)
{
	struct abyss_nn_model *m = small_model();
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(abyss_onnx_export_mem(m, &buf, &len, NULL), 0);
	assert_non_null(buf);
	assert_true(len > abyss_nn_num_params(m) * sizeof(float));
	check_export(m, buf, len);
	free(buf);
	abyss_nn_model_free(m);
}

static void check_vectors(const char *name)
{
	char rel[128], dir[4096];
	const char *p;
	struct abyss_nn_options opt = {1, 0};
	struct abyss_nn_model *m = NULL;
	struct abyss_diag d;
	uint8_t *buf = NULL;
	size_t len = 0;

	snprintf(rel, sizeof(rel), "patchtsmixer/%s/model.safetensors", name);
	p = vectors_path(rel);
	REQUIRE_DATA(p);
	snprintf(dir, sizeof(dir), "%s", p);
	*strrchr(dir, '/') = '\0';
	abyss_diag_init(&d);
	assert_int_equal(abyss_nn_model_load(dir, &opt, &m, &d), 0);
	assert_int_equal(abyss_onnx_export_mem(m, &buf, &len, &d), 0);
	check_export(m, buf, len);
	free(buf);
	abyss_nn_model_free(m);
}

static void test_onnx_vectors_structure(void **state)
{
	(void)state;
	check_vectors("tiny");
	check_vectors("tiny_common_channel");
	check_vectors("tiny_no_attn");
	check_vectors("original");
}

static void test_onnx_file_matches_memory(void **state)
{
	struct abyss_nn_model *m = small_model();
	char path[] = "/tmp/abyss-test-onnx-XXXXXX";
	uint8_t *buf = NULL;
	char *file;
	size_t len = 0, flen = 0;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(abyss_onnx_export_file(m, path, NULL), 0);
	assert_int_equal(abyss_onnx_export_mem(m, &buf, &len, NULL), 0);
	file = read_file(path, &flen);
	assert_non_null(file);
	assert_int_equal(flen, len);
	assert_memory_equal(file, buf, len);
	free(file);
	free(buf);
	remove(path);
	abyss_nn_model_free(m);
}

static void test_onnx_errors(void **state)
{
	struct abyss_nn_model *m = small_model();
	struct abyss_diag d;
	uint8_t *buf = (uint8_t *)&d;
	size_t len = 7;

	(void)state;
	abyss_diag_init(&d);
	assert_int_equal(abyss_onnx_export_mem(NULL, &buf, &len, &d),
			 ABYSS_EINVAL);
	assert_int_equal(abyss_onnx_export_mem(m, NULL, &len, NULL),
			 ABYSS_EINVAL);
	assert_int_equal(abyss_onnx_export_mem(m, &buf, NULL, NULL),
			 ABYSS_EINVAL);
	assert_int_equal(abyss_onnx_export_file(m, NULL, NULL), ABYSS_EINVAL);
	abyss_diag_init(&d);
	assert_int_equal(
	    abyss_onnx_export_file(m, "/nonexistent-abyss-dir/m.onnx", &d),
	    ABYSS_EIO);
	assert_non_null(strstr(d.msg, "/nonexistent-abyss-dir/"));
	assert_int_equal(access("/nonexistent-abyss-dir/m.onnx", F_OK), -1);
	abyss_nn_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_onnx_small_model_structure),
	    cmocka_unit_test(test_onnx_vectors_structure),
	    cmocka_unit_test(test_onnx_file_matches_memory),
	    cmocka_unit_test(test_onnx_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
static void test_onnx_not_built(void **state)
{
	(void)state;
	fprintf(stderr,
		"skip: abyss was built without ONNX support "
		"(protobuf-c-compiler libprotobuf-c-dev libonnx-dev)\n");
	skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_onnx_not_built),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
