/*
 * cmd_model.c - `abyss model info DIR` and `abyss model run DIR --input IN
 * --output OUT`: inspect a PatchTSMixer checkpoint folder (config.json +
 * model.safetensors) and run it on windows stored in a safetensors file.
 * A thin client of abyss/nn.h; the exit pipeline on drill files belongs to
 * `abyss estimate --method ml`. `abyss model export DIR --onnx OUT` writes
 * the network as ONNX (src/onnx, when built with protobuf-c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/load.h"
#include "abyss/nn.h"
#include "abyss/safetensors.h"
#include "cli.h"
#ifdef ABYSS_WITH_ONNX
#include "../onnx/onnx_export.h"
#endif

static void model_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: abyss model info DIR [--tensors]\n"
	    "       abyss model run DIR --input IN.safetensors --output "
	    "OUT.safetensors\n"
	    "                      [--tensor NAME] [--batch N]\n"
	    "       abyss model exit DIR FILE... [--ref CSV] [--local N] "
	    "[--predrilled 0|1]\n"
	    "       abyss model export DIR --onnx OUT.onnx\n\n"
	    "DIR holds a Hugging Face PatchTSMixerForPrediction "
	    "checkpoint:\nconfig.json and model.safetensors. 'run' reads "
	    "the F32 tensor NAME\n(default past_values) of shape [B, "
	    "context_length, channels] and writes\nprediction_outputs "
	    "[B, prediction_length, channels].\n'exit' runs the original exit "
	    "pipeline (40 windows, heat-map peaks) on\ndrill files or MQTT "
	    "folders; CSV is the ref_15T.csv table (default\nDIR/ref_15T.csv); "
	    "--local/--predrilled override the hole's metadata\n(the "
	    "original's infer3_xls used local 0, PREDRILLED 1).\n'export' "
	    "writes the network as an ONNX model (opset 17, input "
	    "past_values\n[batch, context_length, channels], output "
	    "prediction_outputs).\n");
}

static const char *mode_name(enum abyss_nn_mode m)
{
	return m == ABYSS_NN_MIX_CHANNEL ? "mix_channel" : "common_channel";
}

static const char *scaling_name(enum abyss_nn_scaling s)
{
	switch (s) {
	case ABYSS_NN_SCALE_STD:
		return "std";
	case ABYSS_NN_SCALE_MEAN:
		return "mean";
	case ABYSS_NN_SCALE_NONE:
		return "none";
	}
	return "?";
}

static int load(const char *cmd, const char *dir, size_t batch,
		struct abyss_nn_model **m)
{
	struct abyss_nn_options o = {batch, 0};
	struct abyss_diag d;
	char msg[1200];
	int rc;

	abyss_diag_init(&d);
	rc = abyss_nn_model_load(dir, &o, m, &d);
	if (rc) {
		cli_error(cmd, "%s", abyss_diag_format(&d, msg, sizeof(msg)));
		return rc == ABYSS_ENOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_INPUT;
	}
	return 0;
}

static int model_info(int argc, char **argv)
{
	const struct abyss_nn_config *c;
	struct abyss_nn_model *m = NULL;
	size_t i, trainable = 0;
	int tensors = 0, rc;
	const char *dir = NULL;

	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--tensors") == 0)
			tensors = 1;
		else if (!dir && argv[i][0] != '-')
			dir = argv[i];
		else {
			cli_error("model", "info: unexpected '%s'", argv[i]);
			return CLI_EXIT_USAGE;
		}
	}
	if (!dir) {
		model_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	rc = load("model", dir, 1, &m);
	if (rc)
		return rc;
	c = abyss_nn_model_config(m);
	for (i = 0; i < abyss_nn_num_tensors(m); i++) {
		struct abyss_nn_param_info in;

		abyss_nn_param_info(m, i, &in);
		if (in.trainable)
			trainable += in.numel;
	}
	printf("model: %s\n", dir);
	printf("  context_length %d, prediction_length %d, channels %d\n",
	       c->context_length, c->prediction_length, c->num_input_channels);
	printf("  patches %d x %d (stride %d), d_model %d, layers %d, "
	       "expansion %d\n",
	       c->num_patches, c->patch_length, c->patch_stride, c->d_model,
	       c->num_layers, c->expansion_factor);
	printf("  mode %s, gated_attn %s, self_attn %s (%d head%s), scaling "
	       "%s\n",
	       mode_name(c->mode), c->gated_attn ? "on" : "off",
	       c->self_attn ? "on" : "off", c->self_attn_heads,
	       c->self_attn_heads == 1 ? "" : "s", scaling_name(c->scaling));
	printf("  head: %d linear layer%s%s, positional encoding %s\n",
	       c->head_linears, c->head_linears == 1 ? "" : "s",
	       c->head_linears == 3 ? " (the original abyss head)" : "",
	       c->use_positional_encoding ? "sincos" : "off");
	printf("  dropout %g, head_dropout %g, norm_eps %g\n",
	       (double)c->dropout, (double)c->head_dropout,
	       (double)c->norm_eps);
	printf("  %zu tensors, %zu parameters (%zu trainable), %zu bytes "
	       "for one window\n",
	       abyss_nn_num_tensors(m), abyss_nn_num_params(m), trainable,
	       abyss_nn_memory_bytes(m));
	if (tensors) {
		for (i = 0; i < abyss_nn_num_tensors(m); i++) {
			struct abyss_nn_param_info in;

			abyss_nn_param_info(m, i, &in);
			if (in.ndim == 2)
				printf("  %-90s [%zu, %zu]%s\n", in.name,
				       in.shape[0], in.shape[1],
				       in.trainable ? "" : " (frozen)");
			else
				printf("  %-90s [%zu]\n", in.name, in.shape[0]);
		}
	}
	abyss_nn_model_free(m);
	return CLI_EXIT_OK;
}

static int model_run(int argc, char **argv)
{
	const char *dir = NULL, *in = NULL, *out = NULL, *name = "past_values";
	const struct abyss_nn_config *c;
	const struct abyss_st_tensor *t;
	struct abyss_nn_model *m = NULL;
	struct abyss_st_file *st = NULL;
	struct abyss_st_entry e;
	struct abyss_diag d;
	float *x = NULL, *y = NULL;
	size_t B, per_in, per_out, done;
	long batch = 16;
	char msg[1200];
	int i, rc = CLI_EXIT_OK;

	for (i = 1; i < argc; i++) {
		int more = i + 1 < argc;

		if (strcmp(argv[i], "--input") == 0 && more)
			in = argv[++i];
		else if (strcmp(argv[i], "--output") == 0 && more)
			out = argv[++i];
		else if (strcmp(argv[i], "--tensor") == 0 && more)
			name = argv[++i];
		else if (strcmp(argv[i], "--batch") == 0 && more) {
			if (cli_parse_long("model", "--batch", argv[++i],
					   &batch) ||
			    batch < 1 || batch > 4096) {
				cli_error("model", "--batch must be 1..4096");
				return CLI_EXIT_USAGE;
			}
		} else if (!dir && argv[i][0] != '-')
			dir = argv[i];
		else {
			cli_error("model", "run: unexpected '%s'", argv[i]);
			return CLI_EXIT_USAGE;
		}
	}
	if (!dir || !in || !out) {
		model_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	rc = load("model", dir, (size_t)batch, &m);
	if (rc)
		return rc;
	c = abyss_nn_model_config(m);
	abyss_diag_init(&d);
	if (abyss_st_open(in, NULL, &st, &d)) {
		cli_error("model", "%s",
			  abyss_diag_format(&d, msg, sizeof(msg)));
		rc = CLI_EXIT_INPUT;
		goto out;
	}
	t = abyss_st_find(st, name);
	if (!t || t->ndim != 3 || t->shape[1] != (size_t)c->context_length ||
	    t->shape[2] != (size_t)c->num_input_channels || t->shape[0] < 1) {
		cli_error("model",
			  "%s: needs a tensor '%s' of shape [B, %d, %d]", in,
			  name, c->context_length, c->num_input_channels);
		rc = CLI_EXIT_INPUT;
		goto out;
	}
	B = t->shape[0];
	per_in = (size_t)c->context_length * (size_t)c->num_input_channels;
	per_out = (size_t)c->prediction_length * (size_t)c->num_input_channels;
	x = malloc(t->nelem * sizeof(float));
	y = malloc(B * per_out * sizeof(float));
	if (!x || !y) {
		cli_error("model", "out of memory");
		rc = CLI_EXIT_INTERNAL;
		goto out;
	}
	abyss_st_read_f32(t, x, t->nelem);
	for (done = 0; done < B; done += (size_t)batch) {
		size_t nb = B - done < (size_t)batch ? B - done : (size_t)batch;

		if (abyss_nn_forward(m, x + done * per_in, nb,
				     y + done * per_out)) {
			cli_error("model", "forward failed");
			rc = CLI_EXIT_INTERNAL;
			goto out;
		}
	}
	memset(&e, 0, sizeof(e));
	e.name = "prediction_outputs";
	e.dtype = ABYSS_ST_F32;
	e.ndim = 3;
	e.shape[0] = B;
	e.shape[1] = (size_t)c->prediction_length;
	e.shape[2] = (size_t)c->num_input_channels;
	e.data = y;
	abyss_diag_init(&d);
	if (abyss_st_write(out, &e, 1, &d)) {
		cli_error("model", "%s",
			  abyss_diag_format(&d, msg, sizeof(msg)));
		rc = CLI_EXIT_INPUT;
		goto out;
	}
	fprintf(stderr, "abyss model: %zu window%s -> %s\n", B,
		B == 1 ? "" : "s", out);
out:
	free(x);
	free(y);
	abyss_st_close(st);
	abyss_nn_model_free(m);
	return rc;
}

static int model_exit(int argc, char **argv)
{
	const char *dir = NULL, *ref = NULL;
	struct abyss_ml_model *mm = NULL;
	struct abyss_exit_result res;
	struct abyss_hole h;
	struct abyss_diag d;
	long local = -1, pred = -1;
	char msg[1200];
	int i, nfiles = 0, failed = 0, rc;

	for (i = 1; i < argc; i++) {
		int more = i + 1 < argc;

		if (strcmp(argv[i], "--ref") == 0 && more)
			ref = argv[++i];
		else if (strcmp(argv[i], "--local") == 0 && more) {
			if (cli_parse_long("model", "--local", argv[++i],
					   &local))
				return CLI_EXIT_USAGE;
		} else if (strcmp(argv[i], "--predrilled") == 0 && more) {
			if (cli_parse_long("model", "--predrilled", argv[++i],
					   &pred) ||
			    pred > 1) {
				cli_error("model", "--predrilled is 0 or 1");
				return CLI_EXIT_USAGE;
			}
		} else if (argv[i][0] == '-') {
			cli_error("model", "exit: unexpected '%s'", argv[i]);
			return CLI_EXIT_USAGE;
		} else if (!dir)
			dir = argv[i];
		else
			nfiles++;
	}
	if (!dir || !nfiles) {
		model_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	abyss_diag_init(&d);
	rc = abyss_ml_model_load(dir, ref, 8, &mm, &d);
	if (rc) {
		cli_error("model", "%s",
			  abyss_diag_format(&d, msg, sizeof(msg)));
		return rc == ABYSS_ENOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_INPUT;
	}
	abyss_hole_init(&h);
	printf("file\texit_mm\twindows_in_padding\n");
	for (i = 1; i < argc; i++) {
		int j, zeros = 0;

		if (argv[i][0] == '-') {
			i++; /* an option and its value */
			continue;
		}
		if (argv[i] == dir)
			continue;
		abyss_diag_init(&d);
		rc = abyss_hole_load(argv[i], &h, &d);
		if (rc == 0) {
			if (local >= 0)
				h.local = local;
			if (pred >= 0)
				h.predrilled = (int)pred;
			rc = abyss_ml_exit(mm, &h, &res, &d);
		}
		if (rc) {
			abyss_diag_set_file(&d, argv[i]);
			cli_error("model", "%s",
				  abyss_diag_format(&d, msg, sizeof(msg)));
			failed++;
			continue;
		}
		for (j = 0; j < ABYSS_EXIT_WINDOWS; j++)
			zeros += res.exit_j[j] == 0.0;
		printf("%s\t%.17g\t%d\n", argv[i], res.exit_mm, zeros);
	}
	abyss_hole_free(&h);
	abyss_ml_model_free(mm);
	return failed ? CLI_EXIT_FAILURES : CLI_EXIT_OK;
}

static int model_export(int argc, char **argv)
{
	const char *dir = NULL, *out = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--onnx") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (!dir && argv[i][0] != '-')
			dir = argv[i];
		else {
			cli_error("model", "export: unexpected '%s'", argv[i]);
			return CLI_EXIT_USAGE;
		}
	}
	if (!dir || !out) {
		model_usage(stderr);
		return CLI_EXIT_USAGE;
	}
#ifdef ABYSS_WITH_ONNX
	{
		struct abyss_nn_model *m = NULL;
		struct abyss_diag d;
		char msg[1200];
		int rc = load("model", dir, 1, &m);

		if (rc)
			return rc;
		abyss_diag_init(&d);
		rc = abyss_onnx_export_file(m, out, &d);
		abyss_nn_model_free(m);
		if (rc) {
			cli_error("model", "%s",
				  abyss_diag_format(&d, msg, sizeof(msg)));
			return rc == ABYSS_ENOMEM ? CLI_EXIT_INTERNAL
						  : CLI_EXIT_INPUT;
		}
		fprintf(stderr, "abyss model: %s -> %s (ONNX opset %d)\n", dir,
			out, ABYSS_ONNX_OPSET);
		return CLI_EXIT_OK;
	}
#else
	cli_error("model", "export: this abyss was built without ONNX support "
			   "(needs protobuf-c-compiler, libprotobuf-c-dev, "
			   "libonnx-dev at build time)");
	return CLI_EXIT_USAGE;
#endif
}

int cmd_model(int argc, char **argv)
{
	if (argc < 2 || cli_is_help(argv[1])) {
		model_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "info") == 0)
		return model_info(argc - 1, argv + 1);
	if (strcmp(argv[1], "run") == 0)
		return model_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "exit") == 0)
		return model_exit(argc - 1, argv + 1);
	if (strcmp(argv[1], "export") == 0)
		return model_export(argc - 1, argv + 1);
	cli_error("model", "unknown subcommand '%s' (info, run, exit, export)",
		  argv[1]);
	return CLI_EXIT_USAGE;
}
