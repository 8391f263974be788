/*
 * abyss/nn.h - the neural engine: PatchTSMixer (Hugging Face
 * PatchTSMixerForPrediction, including the original abyss 3-linear head) in
 * plain C, forward and backward, MSE and focal losses, AdamW.
 *
 * Memory (llm.c): one allocation for all parameters, one for all
 * activations (sized at build for max_batch windows), and, for a model built
 * for training, one for parameter gradients and one for activation
 * gradients. Nothing is allocated by abyss_nn_forward/backward. Inference
 * and training run the same forward pass. A model is not thread-safe: one
 * per thread, or external locking.
 *
 * Tensors are float32, row-major. Shapes use B batch, T context_length,
 * C num_input_channels, H prediction_length.
 */
#ifndef ABYSS_NN_H
#define ABYSS_NN_H

#include <stddef.h>
#include <stdint.h>

#include "abyss/error.h"
#include "abyss/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

enum abyss_nn_mode { ABYSS_NN_MIX_CHANNEL = 0, ABYSS_NN_COMMON_CHANNEL = 1 };
enum abyss_nn_scaling {
	ABYSS_NN_SCALE_STD = 0,
	ABYSS_NN_SCALE_MEAN = 1,
	ABYSS_NN_SCALE_NONE = 2
};
enum abyss_nn_loss { ABYSS_NN_LOSS_MSE = 0, ABYSS_NN_LOSS_FOCAL = 1 };

/* The PatchTSMixerConfig keys this engine honours (see docs/nn.md for the
 * keys that are read but must keep their default). */
struct abyss_nn_config {
	int context_length;	/* T */
	int prediction_length;	/* H */
	int patch_length;	/* L */
	int patch_stride;	/* S */
	int num_patches;	/* P = (T - L) / S + 1 */
	int num_input_channels; /* C */
	int d_model;		/* D */
	int num_layers;
	int expansion_factor;
	enum abyss_nn_mode mode;
	int gated_attn;
	int self_attn;
	int self_attn_heads;
	float norm_eps;
	float dropout;	    /* MLPs and attention probabilities */
	float head_dropout; /* flattened features before the head */
	enum abyss_nn_scaling scaling;
	int use_positional_encoding; /* table is a checkpoint tensor */
	/* 1 = stock HF head (one Linear), 3 = the original abyss head (three
	 * Linear, no activation). 0 in a parsed config: decided by the
	 * checkpoint (head.base_forecast_block1.weight present -> 3). */
	int head_linears;
};

/* Bounds on a parsed config (a config is external input). */
#define ABYSS_NN_MAX_DIM    65536
#define ABYSS_NN_MAX_LAYERS 256
#define ABYSS_NN_MAX_PARAMS ((size_t)1 << 30) /* floats (4 GiB) */
/* activation floats per block (16 GiB); a larger max_batch is refused */
#define ABYSS_NN_MAX_ACTS ((size_t)1 << 32)

/* Fills cfg with the original abyss configuration (has_tool_age cv4:
 * 512/512, patch 8, 17 channels, d_model 16, 8 layers, mix_channel, gated
 * and self attention, std scaling, 3-linear head; dropout 0.2). */
void abyss_nn_config_default(struct abyss_nn_config *cfg);

/* Parses a Hugging Face config.json (len bytes of JSON). Keys absent from
 * the JSON keep the PatchTSMixerConfig defaults. Values this engine cannot
 * honour (norm_mlp other than LayerNorm, mask_input true,
 * positional_encoding_type other than sincos, prediction_channel_indices,
 * distribution loss "nll", ...) fail with ABYSS_EUNSUPPORTED naming the key;
 * inconsistent values (num_patches != (T-L)/S+1, d_model % heads) with
 * ABYSS_ECONFIG; wrong JSON types with ABYSS_EPARSE; bad JSON with
 * ABYSS_EJSON (line, column in diag). */
int abyss_nn_config_parse(const char *json, size_t len,
			  struct abyss_nn_config *cfg, struct abyss_diag *diag);
/* Same, reading the file `path` (at most 1 MiB). */
int abyss_nn_config_load(const char *path, struct abyss_nn_config *cfg,
			 struct abyss_diag *diag);
/* Checks a config filled by hand; 0 or ABYSS_ECONFIG / ABYSS_EUNSUPPORTED.
 */
int abyss_nn_config_validate(const struct abyss_nn_config *cfg,
			     struct abyss_diag *diag);
/* Writes cfg as a Hugging Face config.json to path. */
int abyss_nn_config_save(const struct abyss_nn_config *cfg, const char *path,
			 struct abyss_diag *diag);

/* ---- model ------------------------------------------------------------- */

struct abyss_nn_model;

struct abyss_nn_options {
	size_t max_batch; /* windows per forward; 0 means 1 */
	int training;	  /* 1: also allocate gradients (backward allowed) */
};

/* Builds a model for cfg (head_linears 0 is taken as 3) with every
 * parameter zero, LayerNorm weights one, and the sincos positional table
 * computed as transformers does. Errors: ABYSS_ECONFIG, ABYSS_ENOMEM,
 * ABYSS_ETOOBIG (the buffers would exceed SIZE_MAX). */
int abyss_nn_model_new(const struct abyss_nn_config *cfg,
		       const struct abyss_nn_options *opt,
		       struct abyss_nn_model **out, struct abyss_diag *diag);

/* Loads a checkpoint folder: dir/config.json and dir/model.safetensors with
 * the exact transformers parameter names. Every parameter the config
 * implies must be present with the right shape (ABYSS_EMISSING,
 * ABYSS_ESHAPE); unexpected tensors are rejected too (ABYSS_EPARSE), so a
 * config/checkpoint mismatch cannot pass silently. */
int abyss_nn_model_load(const char *dir, const struct abyss_nn_options *opt,
			struct abyss_nn_model **out, struct abyss_diag *diag);

/* Copies weights from an open safetensors file into the model (same
 * checks as abyss_nn_model_load). */
int abyss_nn_model_load_weights(struct abyss_nn_model *m,
				const struct abyss_st_file *st,
				struct abyss_diag *diag);

/* Writes dir/config.json and dir/model.safetensors (dir must exist). */
int abyss_nn_model_save(const struct abyss_nn_model *m, const char *dir,
			struct abyss_diag *diag);

void abyss_nn_model_free(struct abyss_nn_model *m);

const struct abyss_nn_config *
abyss_nn_model_config(const struct abyss_nn_model *m);
/* The largest batch abyss_nn_forward accepts (fixed at build). */
size_t abyss_nn_max_batch(const struct abyss_nn_model *m);
/* Bytes held by the model's blocks (params, grads, activations). */
size_t abyss_nn_memory_bytes(const struct abyss_nn_model *m);

/* Parameter table, in a fixed order (state_dict names). */
struct abyss_nn_param_info {
	const char *name; /* transformers state_dict name */
	int ndim;	  /* 1 or 2 */
	size_t shape[2];
	size_t numel;
	size_t offset; /* in floats from the start of the parameter block */
	int trainable; /* 0 for the positional encoding table */
};
size_t abyss_nn_num_tensors(const struct abyss_nn_model *m);
size_t abyss_nn_num_params(const struct abyss_nn_model *m); /* floats */
int abyss_nn_param_info(const struct abyss_nn_model *m, size_t i,
			struct abyss_nn_param_info *out);

/* The parameter / gradient tensor called name (state_dict name), or NULL.
 * Pointers stay valid until the model is freed; the gradient is NULL for a
 * model built without training. */
float *abyss_nn_param(struct abyss_nn_model *m, const char *name,
		      size_t *numel);
float *abyss_nn_grad(struct abyss_nn_model *m, const char *name, size_t *numel);
/* The whole parameter / gradient block (abyss_nn_num_params floats). */
float *abyss_nn_params(struct abyss_nn_model *m);
float *abyss_nn_grads(struct abyss_nn_model *m);

/* Training mode turns dropout on (with the RNG seeded by seed: same seed,
 * same masks); eval mode (the default) turns it off. */
void abyss_nn_set_train(struct abyss_nn_model *m, int train, uint64_t seed);

/* OpenMP threads abyss_nn_forward/backward use on this model (default 1;
 * clamped to 1..ABYSS_NN_MAX_THREADS; without OpenMP in the build, always
 * one). Results are bit-identical for every thread count: each output is
 * computed by one thread in a fixed order. */
#define ABYSS_NN_MAX_THREADS 256
void abyss_nn_set_threads(struct abyss_nn_model *m, int n);
int abyss_nn_threads(const struct abyss_nn_model *m);
/* Floating-point operations of the matrix products of one window's
 * forward pass (2 per multiply-add; the elementwise work is not counted):
 * 224.5e6 for the original model. A training step costs about 3x. */
double abyss_nn_flops(const struct abyss_nn_model *m);
/* Name of the kernel variant chosen for this CPU at first use:
 * "avx512", "avx2+fma" or "portable". */
const char *abyss_nn_isa(void);

/* Forward pass on B windows past_values [B,T,C] (B <= max_batch). When pred
 * is not NULL, the de-scaled prediction [B,H,C] is copied there; it also
 * stays readable through abyss_nn_output(). Errors: ABYSS_EINVAL, ABYSS_ETOOBIG
 * (B > max_batch). Allocates nothing. */
int abyss_nn_forward(struct abyss_nn_model *m, const float *past_values,
		     size_t B, float *pred);

/* The prediction of the last forward, [B,H,C], or NULL before any. */
const float *abyss_nn_output(const struct abyss_nn_model *m, size_t *B);

/* Loss of the last forward against target [B,H,C] (same units as
 * past_values): MSE mean((p-y)^2), or the original focal heatmap loss
 * mean(alpha (1-exp(-e))^gamma e), e = (p-y)^2, alpha 0.75, gamma 2. */
int abyss_nn_loss(const struct abyss_nn_model *m, const float *target,
		  enum abyss_nn_loss kind, float *loss);

/* Backward pass of the last forward: computes the loss (returned in *loss
 * if not NULL) and ADDS d loss / d parameter into the gradient block
 * (call abyss_nn_zero_grad first). ABYSS_ESTATE without a forward or on a
 * model built without training. Allocates nothing. */
int abyss_nn_backward(struct abyss_nn_model *m, const float *target,
		      enum abyss_nn_loss kind, float *loss);
void abyss_nn_zero_grad(struct abyss_nn_model *m);

/* Named intermediate of the last forward (`<HF module path>:out`, e.g.
 * "model.encoder.mlp_mixer_encoder.mixers.0.patch_mixer.norm:out",
 * "model.scaler:loc", "prediction_outputs"), or with grad != 0 its
 * gradient of the last backward ("grad:" prefix not included). Returns a
 * pointer into the activation block and its logical shape (ndim <= 4), or
 * NULL for an unknown name. For tests and debugging. */
const float *abyss_nn_activation(const struct abyss_nn_model *m,
				 const char *name, int grad, int *ndim,
				 size_t shape[4]);

/* ---- optimizer --------------------------------------------------------- */

struct abyss_adamw {
	/* double, as Python holds them: 1 - beta2 must be 1e-3, not
	 * 1 - (float)0.999 */
	double lr, beta1, beta2, eps, weight_decay;
	long t;	  /* steps taken */
	size_t n; /* floats in m and v */
	float *m; /* first moments (one allocation holds m and v) */
	float *v; /* second moments */
};

/* Allocates zeroed moments for n parameters; hyper-parameters as given.
 * Errors: ABYSS_EINVAL, ABYSS_ENOMEM. */
int abyss_adamw_init(struct abyss_adamw *opt, size_t n, double lr, double beta1,
		     double beta2, double eps, double weight_decay);
void abyss_adamw_free(struct abyss_adamw *opt);

/* One torch.optim.AdamW step (torch 1.13 single-tensor order: decoupled
 * weight decay, moments, bias correction) over params/grads of n floats,
 * with learning rate lr (the schedule's value). Increments opt->t. */
int abyss_adamw_step(struct abyss_adamw *opt, float *params, const float *grads,
		     size_t n, double lr);

/* The model's step: AdamW over the trainable parameters only (the
 * positional table is left alone). opt must have been initialised with
 * abyss_nn_num_params(m). */
int abyss_nn_adamw_step(struct abyss_nn_model *m, struct abyss_adamw *opt,
			double lr);

/* Linear schedule with warm-up (transformers
 * get_linear_schedule_with_warmup): lr * step/warmup during warm-up, then
 * decays linearly to 0 at total steps. step is 0-based. */
float abyss_lr_linear(float base_lr, long step, long warmup, long total);

/* torch.nn.utils.clip_grad_norm_: scales g so its L2 norm is at most
 * max_norm (coefficient max_norm / (norm + 1e-6), applied only when < 1).
 * Returns the norm before clipping. */
float abyss_clip_grad_norm(float *g, size_t n, float max_norm);

/* ---- the original exit pipeline (original-system.md 4.4) ---------------- */

/* Fixed by the original code (data_orgnization, extend_dataframe,
 * exit_estimation_pipeline). */
#define ABYSS_EXIT_TORQUE_CH	15 /* torque1..15 */
#define ABYSS_EXIT_COLS		20 /* torque1..15, local, PREDRILLED, xpos1..3 */
#define ABYSS_EXIT_MODEL_CH	17  /* model input: torque1..15, local, PRED. */
#define ABYSS_EXIT_PAD		400 /* rows added before and after the hole */
#define ABYSS_EXIT_WINDOWS	40  /* windows j = 0, 5, ..., 195 */
#define ABYSS_EXIT_WIN_LEN	512
#define ABYSS_EXIT_WIN_BEFORE	330 /* window j: [M - 330 + 5j, M + 182 + 5j) */
#define ABYSS_EXIT_WIN_STEP	5
#define ABYSS_EXIT_MAX_SAMPLES	((size_t)10000000)
#define ABYSS_EXIT_MAX_REF_ROWS ((size_t)10000000)

/* The hole, organised, standardised and padded (steps a-c). Owned by the
 * caller after abyss_exit_tables(); release with abyss_exit_tables_free. */
struct abyss_exit_tables {
	size_t n_step2;			    /* N: samples with step == 2 */
	size_t rows;			    /* L = ceil((N - 2) / 3) */
	size_t ext_rows;		    /* E = L + 800 */
	double mean[ABYSS_EXIT_TORQUE_CH];  /* StandardScaler mean_ */
	double scale[ABYSS_EXIT_TORQUE_CH]; /* StandardScaler scale_ */
	double *organised; /* [L, 20], same columns, before scaling */
	double *extended;  /* [E, 20] scaled and padded */
};

/* Steps (a)-(c) on one hole: position (mm, as parsed: negated when the sum
 * of the first 200 positions is negative, as raw_data_checker does), step
 * codes and torque (A, I Torque only), n samples each; local (tool age) and
 * predrilled (0/1) are the metadata channels; ref is the ref_15T.csv table
 * [ref_rows, 15] (row-major) that the standardisation is fitted on together
 * with the hole. Values are used in double, which reproduces both the
 * original's float32 file path (exact float values widened) and its float64
 * MQTT path. Errors: ABYSS_EINVAL, ABYSS_ENOSTEP (fewer than 3 step-2
 * samples), ABYSS_ETOOBIG (n over ABYSS_EXIT_MAX_SAMPLES), ABYSS_ENOMEM. */
int abyss_exit_tables(const double *position, const int32_t *step,
		      const double *torque, size_t n, double local,
		      int predrilled, const double *ref, size_t ref_rows,
		      struct abyss_exit_tables *t, struct abyss_diag *diag);
void abyss_exit_tables_free(struct abyss_exit_tables *t);

/* Step (d): M = first argmax of torque8 over the extended table; the 40
 * windows start at M - 330 + 5j. ABYSS_ERANGE when a window would leave
 * the table (the maximum lies in the padding). */
int abyss_exit_window_start(const struct abyss_exit_tables *t, size_t *M,
			    struct abyss_diag *diag);

/* Copies window j (0..39) as the model input [512, 17] float32, and its
 * xpos2 column [512] (either may be NULL). Needs a valid M. */
void abyss_exit_window(const struct abyss_exit_tables *t, size_t M, int j,
		       float *x, double *xpos2);

/* Step (e) on one window: y[512, 17] (prediction_outputs); values < -1 are
 * set to 0, h[t] = sum of the first 15 channels (numpy's pairwise order),
 * t* = first argmax. Writes heat [512] when not NULL; returns t*. */
size_t abyss_exit_readout(const float *y, float *heat);

struct abyss_exit_result {
	double exit_mm; /* mean of the 40 exit_j, float64, left to right */
	size_t M;
	size_t tstar[ABYSS_EXIT_WINDOWS];
	double exit_j[ABYSS_EXIT_WINDOWS]; /* xpos2 at window row t* (mm) */
};

/* Steps (d)-(e): runs the 40 windows through m (in chunks of its
 * max_batch) and averages. The model must take 512 x 17 inputs and predict
 * 512 steps (ABYSS_ECONFIG otherwise). work must hold max_batch * 512 * 17
 * floats (the model input chunk); no other memory is allocated. */
int abyss_exit_estimate(struct abyss_nn_model *m,
			const struct abyss_exit_tables *t, float *work,
			struct abyss_exit_result *res, struct abyss_diag *diag);

/* A model ready for the depth estimator's ml method: the network, the
 * reference table and the window buffer, behind a lock so that one loaded
 * model may serve several threads (they take turns). */
struct abyss_ml_model;

/* Loads dir (config.json + model.safetensors) and the reference CSV
 * ref_csv (NULL: dir/ref_15T.csv when it exists; when it does not, no
 * reference rows: the torque channels are standardised with the hole's own
 * statistics), for batches of `batch` windows (0: 8). A ref_csv that is
 * named but cannot be read is an error.
 * Errors: those of abyss_nn_model_load and abyss_exit_ref_parse, and
 * ABYSS_ECONFIG when the model does not take 512 x 17 windows. */
int abyss_ml_model_load(const char *dir, const char *ref_csv, size_t batch,
			struct abyss_ml_model **out, struct abyss_diag *diag);
void abyss_ml_model_free(struct abyss_ml_model *mm);
struct abyss_nn_model *abyss_ml_model_nn(const struct abyss_ml_model *mm);

struct abyss_hole;
/* The original exit (4.4) of hole h (position_mm, step, torque_a, local,
 * predrilled). A hole read from a Setitec file (float32_origin) is rounded
 * to float32 first, as the original's auto_data reader did. Thread-safe;
 * allocates the hole's tables (bounded by ABYSS_EXIT_MAX_SAMPLES). */
int abyss_ml_exit(const struct abyss_ml_model *mm, const struct abyss_hole *h,
		  struct abyss_exit_result *res, struct abyss_diag *diag);

/* Parses a ref_15T.csv (header torque1..torque15, then rows of 15 numbers,
 * comma separated) into a malloc'd [rows, 15] table (*out, free()).
 * Errors: ABYSS_EPARSE with line and column, ABYSS_ETOOBIG over max_rows
 * (0: ABYSS_EXIT_MAX_REF_ROWS), ABYSS_ENOMEM. */
int abyss_exit_ref_parse(const char *buf, size_t len, size_t max_rows,
			 double **out, size_t *rows, struct abyss_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
