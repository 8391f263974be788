/*
 * config.c - Hugging Face PatchTSMixerConfig (config.json) reader, checker
 * and writer. Keys absent from the file take transformers' defaults; keys
 * the engine cannot honour are rejected by name rather than ignored, so a
 * checkpoint that would compute something else never loads silently. Keys
 * that only concern other heads or pre-training (masking, num_targets,
 * head_aggregation, distribution_output under loss "mse") are read as
 * opaque. Sits under model.c (abyss_nn_model_load).
 */
#include "abyss/nn.h"

#include "../common/file.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG__MAX_BYTES ((size_t)1 << 20)

void abyss_nn_config_default(struct abyss_nn_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->context_length = 512;
	cfg->prediction_length = 512;
	cfg->patch_length = 8;
	cfg->patch_stride = 8;
	cfg->num_patches = 64;
	cfg->num_input_channels = 17;
	cfg->d_model = 16;
	cfg->num_layers = 8;
	cfg->expansion_factor = 2;
	cfg->mode = ABYSS_NN_MIX_CHANNEL;
	cfg->gated_attn = 1;
	cfg->self_attn = 1;
	cfg->self_attn_heads = 1;
	cfg->norm_eps = 1e-5f;
	cfg->dropout = 0.2f;
	cfg->head_dropout = 0.2f;
	cfg->scaling = ABYSS_NN_SCALE_STD;
	cfg->use_positional_encoding = 1;
	cfg->head_linears = 3;
}

/* transformers' PatchTSMixerConfig defaults (a key missing from
 * config.json means this value). */
static void config_hf_defaults(struct abyss_nn_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->context_length = 32;
	cfg->prediction_length = 16;
	cfg->patch_length = 8;
	cfg->patch_stride = 8;
	cfg->num_patches = 0; /* computed */
	cfg->num_input_channels = 1;
	cfg->d_model = 8;
	cfg->num_layers = 3;
	cfg->expansion_factor = 2;
	cfg->mode = ABYSS_NN_COMMON_CHANNEL;
	cfg->gated_attn = 1;
	cfg->self_attn = 0;
	cfg->self_attn_heads = 1;
	cfg->norm_eps = 1e-5f;
	cfg->dropout = 0.2f;
	cfg->head_dropout = 0.2f;
	cfg->scaling = ABYSS_NN_SCALE_STD;
	cfg->use_positional_encoding = 0;
	cfg->head_linears = 0;
}

static int get_int(json_t *root, const char *key, int *out,
		   struct abyss_diag *diag)
{
	json_t *v = json_object_get(root, key);
	json_int_t i;

	if (!v)
		return 0;
	if (!json_is_integer(v))
		return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
				      "config key '%s' must be an integer",
				      key);
	i = json_integer_value(v);
	if (i < 0 || i > ABYSS_NN_MAX_DIM)
		return abyss_diag_set(diag, ABYSS_ECONFIG, 0, 0,
				      "config key '%s' = %lld is out of range "
				      "0..%d",
				      key, (long long)i, ABYSS_NN_MAX_DIM);
	*out = (int)i;
	return 0;
}

static int get_float(json_t *root, const char *key, float *out,
		     struct abyss_diag *diag)
{
	json_t *v = json_object_get(root, key);

	if (!v)
		return 0;
	if (!json_is_number(v))
		return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
				      "config key '%s' must be a number", key);
	*out = (float)json_number_value(v);
	return 0;
}

static int get_bool(json_t *root, const char *key, int *out,
		    struct abyss_diag *diag)
{
	json_t *v = json_object_get(root, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
				      "config key '%s' must be true or false",
				      key);
	*out = json_is_true(v);
	return 0;
}

/* Returns the string value of key, "" when absent, NULL when not a string
 * (and sets rc). */
static const char *get_str(json_t *root, const char *key, int *rc,
			   struct abyss_diag *diag)
{
	json_t *v = json_object_get(root, key);

	if (!v)
		return "";
	if (!json_is_string(v)) {
		*rc = abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
				     "config key '%s' must be a string", key);
		return NULL;
	}
	return json_string_value(v);
}

int abyss_nn_config_validate(const struct abyss_nn_config *c,
			     struct abyss_diag *diag)
{
	int expect;

	if (c->context_length < 1 || c->prediction_length < 1 ||
	    c->patch_length < 1 || c->patch_stride < 1 ||
	    c->num_input_channels < 1 || c->d_model < 1 || c->num_layers < 0 ||
	    c->num_layers > ABYSS_NN_MAX_LAYERS || c->expansion_factor < 1 ||
	    c->self_attn_heads < 1)
		return abyss_diag_set(diag, ABYSS_ECONFIG, 0, 0,
				      "config: every size must be >= 1 (and "
				      "num_layers <= %d)",
				      ABYSS_NN_MAX_LAYERS);
	if (c->context_length > ABYSS_NN_MAX_DIM ||
	    c->prediction_length > ABYSS_NN_MAX_DIM ||
	    c->num_input_channels > ABYSS_NN_MAX_DIM ||
	    c->d_model > ABYSS_NN_MAX_DIM || c->expansion_factor > 64)
		return abyss_diag_set(diag, ABYSS_ECONFIG, 0, 0,
				      "config: a size exceeds %d (or "
				      "expansion_factor 64)",
				      ABYSS_NN_MAX_DIM);
	if (c->patch_length > c->context_length)
		return abyss_diag_set(diag, ABYSS_ECONFIG, 0, 0,
				      "config: patch_length %d > "
				      "context_length %d",
				      c->patch_length, c->context_length);
	expect = (c->context_length - c->patch_length) / c->patch_stride + 1;
	if (c->num_patches != expect)
		return abyss_diag_set(diag, ABYSS_ECONFIG, 0, 0,
				      "config: num_patches %d, but "
				      "context_length %d, patch_length %d and "
				      "patch_stride %d give %d",
				      c->num_patches, c->context_length,
				      c->patch_length, c->patch_stride, expect);
	if (c->self_attn && c->d_model % c->self_attn_heads != 0)
		return abyss_diag_set(diag, ABYSS_ECONFIG, 0, 0,
				      "config: d_model %d is not divisible by "
				      "self_attn_heads %d",
				      c->d_model, c->self_attn_heads);
	if (!(c->norm_eps > 0.0f) || !(c->dropout >= 0.0f) ||
	    !(c->dropout < 1.0f) || !(c->head_dropout >= 0.0f) ||
	    !(c->head_dropout < 1.0f))
		return abyss_diag_set(diag, ABYSS_ECONFIG, 0, 0,
				      "config: norm_eps must be > 0 and "
				      "dropout, head_dropout in [0, 1)");
	if (c->mode != ABYSS_NN_MIX_CHANNEL &&
	    c->mode != ABYSS_NN_COMMON_CHANNEL)
		return abyss_diag_set(diag, ABYSS_ECONFIG, 0, 0,
				      "config: unknown mode %d", (int)c->mode);
	if (c->scaling != ABYSS_NN_SCALE_STD &&
	    c->scaling != ABYSS_NN_SCALE_MEAN &&
	    c->scaling != ABYSS_NN_SCALE_NONE)
		return abyss_diag_set(diag, ABYSS_ECONFIG, 0, 0,
				      "config: unknown scaling %d",
				      (int)c->scaling);
	if (c->head_linears != 0 && c->head_linears != 1 &&
	    c->head_linears != 3)
		return abyss_diag_set(diag, ABYSS_EUNSUPPORTED, 0, 0,
				      "config: a head of %d linear layers "
				      "(1 or 3 supported)",
				      c->head_linears);
	return 0;
}

int abyss_nn_config_parse(const char *json, size_t len,
			  struct abyss_nn_config *out, struct abyss_diag *diag)
{
	struct abyss_nn_config c;
	json_error_t jerr;
	json_t *root, *v;
	const char *s;
	int rc = 0, has_patches = 0;

	if (!json || !out)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_nn_config_parse: NULL argument");
	if (len > CONFIG__MAX_BYTES)
		return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
				      "config of %zu bytes exceeds %zu", len,
				      CONFIG__MAX_BYTES);
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return abyss_diag_set(diag, ABYSS_EJSON, (size_t)jerr.line,
				      (size_t)jerr.column, "config.json: %s",
				      jerr.text);
	if (!json_is_object(root)) {
		rc = abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
				    "config.json is not a JSON object");
		goto out;
	}
	config_hf_defaults(&c);
	s = get_str(root, "model_type", &rc, diag);
	if (!s)
		goto out;
	if (*s && strcmp(s, "patchtsmixer") != 0) {
		rc = abyss_diag_set(diag, ABYSS_EUNSUPPORTED, 0, 0,
				    "config: model_type '%.64s' is not "
				    "patchtsmixer",
				    s);
		goto out;
	}
	v = json_object_get(root, "architectures");
	if (v) {
		size_t i;
		int ok = 0;

		if (!json_is_array(v)) {
			rc = abyss_diag_set(diag, ABYSS_EPARSE, 0, 0,
					    "config key 'architectures' must "
					    "be an array");
			goto out;
		}
		for (i = 0; i < json_array_size(v); i++) {
			json_t *a = json_array_get(v, i);
			ok |= json_is_string(a) &&
			      strcmp(json_string_value(a),
				     "PatchTSMixerForPrediction") == 0;
		}
		if (json_array_size(v) && !ok) {
			rc = abyss_diag_set(diag, ABYSS_EUNSUPPORTED, 0, 0,
					    "config: architectures does not "
					    "name PatchTSMixerForPrediction");
			goto out;
		}
	}
	if ((rc = get_int(root, "context_length", &c.context_length, diag)) ||
	    (rc = get_int(root, "prediction_length", &c.prediction_length,
			  diag)) ||
	    (rc = get_int(root, "patch_length", &c.patch_length, diag)) ||
	    (rc = get_int(root, "patch_stride", &c.patch_stride, diag)) ||
	    (rc = get_int(root, "num_input_channels", &c.num_input_channels,
			  diag)) ||
	    (rc = get_int(root, "d_model", &c.d_model, diag)) ||
	    (rc = get_int(root, "num_layers", &c.num_layers, diag)) ||
	    (rc = get_int(root, "expansion_factor", &c.expansion_factor,
			  diag)) ||
	    (rc = get_int(root, "self_attn_heads", &c.self_attn_heads, diag)) ||
	    (rc = get_bool(root, "gated_attn", &c.gated_attn, diag)) ||
	    (rc = get_bool(root, "self_attn", &c.self_attn, diag)) ||
	    (rc = get_bool(root, "use_positional_encoding",
			   &c.use_positional_encoding, diag)) ||
	    (rc = get_float(root, "norm_eps", &c.norm_eps, diag)) ||
	    (rc = get_float(root, "dropout", &c.dropout, diag)) ||
	    (rc = get_float(root, "head_dropout", &c.head_dropout, diag)))
		goto out;
	if (json_object_get(root, "num_patches")) {
		if ((rc = get_int(root, "num_patches", &c.num_patches, diag)))
			goto out;
		has_patches = 1;
	}
	if (!has_patches && c.patch_stride > 0 &&
	    c.context_length >= c.patch_length)
		c.num_patches =
		    (c.context_length - c.patch_length) / c.patch_stride + 1;

	s = get_str(root, "mode", &rc, diag);
	if (!s)
		goto out;
	if (strcmp(s, "mix_channel") == 0)
		c.mode = ABYSS_NN_MIX_CHANNEL;
	else if (*s && strcmp(s, "common_channel") != 0) {
		rc = abyss_diag_set(diag, ABYSS_EUNSUPPORTED, 0, 0,
				    "config: mode '%.64s' (mix_channel or "
				    "common_channel)",
				    s);
		goto out;
	}
	s = get_str(root, "norm_mlp", &rc, diag);
	if (!s)
		goto out;
	if (*s && strcmp(s, "LayerNorm") != 0) {
		rc = abyss_diag_set(diag, ABYSS_EUNSUPPORTED, 0, 0,
				    "config: norm_mlp '%.64s' is not supported "
				    "(LayerNorm only)",
				    s);
		goto out;
	}
	s = get_str(root, "positional_encoding_type", &rc, diag);
	if (!s)
		goto out;
	if (c.use_positional_encoding && *s && strcmp(s, "sincos") != 0) {
		rc = abyss_diag_set(diag, ABYSS_EUNSUPPORTED, 0, 0,
				    "config: positional_encoding_type '%.64s' "
				    "is not supported (sincos only)",
				    s);
		goto out;
	}
	s = get_str(root, "loss", &rc, diag);
	if (!s)
		goto out;
	if (*s && strcmp(s, "mse") != 0) {
		rc = abyss_diag_set(diag, ABYSS_EUNSUPPORTED, 0, 0,
				    "config: loss '%.64s' is not supported "
				    "(mse only; the distribution head is not "
				    "implemented)",
				    s);
		goto out;
	}
	v = json_object_get(root, "scaling");
	if (v) {
		if (json_is_true(v) ||
		    (json_is_string(v) &&
		     strcmp(json_string_value(v), "mean") == 0))
			c.scaling = ABYSS_NN_SCALE_MEAN;
		else if (json_is_string(v) &&
			 strcmp(json_string_value(v), "std") == 0)
			c.scaling = ABYSS_NN_SCALE_STD;
		else if (json_is_null(v) || json_is_false(v) ||
			 (json_is_string(v) &&
			  strcmp(json_string_value(v), "none") == 0))
			c.scaling = ABYSS_NN_SCALE_NONE;
		else {
			rc = abyss_diag_set(diag, ABYSS_EUNSUPPORTED, 0, 0,
					    "config: scaling must be \"std\", "
					    "\"mean\", true, false, null or "
					    "\"none\"");
			goto out;
		}
	}
	v = json_object_get(root, "mask_input");
	if (v && !json_is_null(v) && !json_is_false(v)) {
		rc = abyss_diag_set(diag, ABYSS_EUNSUPPORTED, 0, 0,
				    "config: mask_input true (pre-training "
				    "masking) is not supported");
		goto out;
	}
	v = json_object_get(root, "prediction_channel_indices");
	if (v && !json_is_null(v)) {
		rc = abyss_diag_set(diag, ABYSS_EUNSUPPORTED, 0, 0,
				    "config: prediction_channel_indices is not "
				    "supported (all channels are predicted)");
		goto out;
	}
	rc = abyss_nn_config_validate(&c, diag);
	if (rc == 0)
		*out = c;
out:
	json_decref(root);
	return rc;
}

int abyss_nn_config_load(const char *path, struct abyss_nn_config *cfg,
			 struct abyss_diag *diag)
{
	char *buf;
	size_t n;
	int rc;

	if (!path || !cfg)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_nn_config_load: NULL argument");
	rc = common__read_file(path, CONFIG__MAX_BYTES, &buf, &n, diag);
	if (rc)
		return rc;
	rc = abyss_nn_config_parse(buf, n, cfg, diag);
	free(buf);
	return rc;
}

int abyss_nn_config_save(const struct abyss_nn_config *c, const char *path,
			 struct abyss_diag *diag)
{
	json_t *o = json_object(), *arch = json_array();
	int bad, rc = 0;
	FILE *f;

	if (!o || !arch) {
		json_decref(o);
		json_decref(arch);
		return abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
				      "out of memory");
	}
	bad = json_array_append_new(arch,
				    json_string("PatchTSMixerForPrediction"));
	bad |= json_object_set_new(o, "architectures", arch);
	bad |=
	    json_object_set_new(o, "model_type", json_string("patchtsmixer"));
#define SETI(k, v) bad |= json_object_set_new(o, k, json_integer(v))
#define SETB(k, v) bad |= json_object_set_new(o, k, json_boolean(v))
#define SETF(k, v) bad |= json_object_set_new(o, k, json_real((double)(v)))
	SETI("context_length", c->context_length);
	SETI("prediction_length", c->prediction_length);
	SETI("patch_length", c->patch_length);
	SETI("patch_stride", c->patch_stride);
	SETI("num_patches", c->num_patches);
	SETI("num_input_channels", c->num_input_channels);
	SETI("d_model", c->d_model);
	SETI("num_layers", c->num_layers);
	SETI("expansion_factor", c->expansion_factor);
	SETI("self_attn_heads", c->self_attn_heads);
	SETB("gated_attn", c->gated_attn);
	SETB("self_attn", c->self_attn);
	SETB("use_positional_encoding", c->use_positional_encoding);
	SETB("mask_input", 0);
	SETF("norm_eps", c->norm_eps);
	SETF("dropout", c->dropout);
	SETF("head_dropout", c->head_dropout);
#undef SETI
#undef SETB
#undef SETF
	bad |= json_object_set_new(o, "mode",
				   json_string(c->mode == ABYSS_NN_MIX_CHANNEL
						   ? "mix_channel"
						   : "common_channel"));
	bad |= json_object_set_new(o, "norm_mlp", json_string("LayerNorm"));
	bad |= json_object_set_new(o, "positional_encoding_type",
				   json_string("sincos"));
	bad |= json_object_set_new(o, "loss", json_string("mse"));
	bad |= json_object_set_new(
	    o, "scaling",
	    c->scaling == ABYSS_NN_SCALE_STD	? json_string("std")
	    : c->scaling == ABYSS_NN_SCALE_MEAN ? json_string("mean")
						: json_null());
	if (bad) {
		json_decref(o);
		return abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
				      "out of memory");
	}
	f = fopen(path, "w");
	if (!f) {
		json_decref(o);
		return abyss_diag_set(diag, ABYSS_EIO, 0, 0,
				      "cannot create %s: %s", path,
				      strerror(errno));
	}
	if (json_dumpf(o, f, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 ||
	    fputc('\n', f) == EOF)
		rc = abyss_diag_set(diag, ABYSS_EIO, 0, 0, "cannot write %s",
				    path);
	if (fclose(f) != 0 && rc == 0)
		rc = abyss_diag_set(diag, ABYSS_EIO, 0, 0, "cannot write %s",
				    path);
	json_decref(o);
	return rc;
}
