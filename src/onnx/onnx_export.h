/*
 * onnx_export.h - writes a loaded PatchTSMixer model (abyss/nn.h) as an ONNX
 * model: opset 17, IR version 8, input past_values [batch, T, C] float with
 * a dynamic batch, output prediction_outputs [batch, H, C]. Part of the abyss
 * binary (the protobuf code is generated at build time), not of libabyss.
 */
#ifndef ABYSS_ONNX_EXPORT_H
#define ABYSS_ONNX_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "abyss/error.h"
#include "abyss/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The opset and IR version every export declares. */
#define ABYSS_ONNX_OPSET      17
#define ABYSS_ONNX_IR_VERSION 8
/* protobuf cannot encode a message of 2 GiB or more; a model whose
 * serialised size would reach this fails with ABYSS_ETOOBIG. */
#define ABYSS_ONNX_MAX_BYTES ((size_t)INT32_MAX)

/* Serialises m as an ONNX ModelProto into a new buffer: *out (free() it)
 * holding *len bytes. The weights are the model's parameters, stored as
 * float initializers named by their transformers state_dict names with
 * their checkpoint shapes (Linear weights [out, in], used through a
 * Transpose). Dropout is left out (inference graph). m is only read.
 * Errors: ABYSS_EINVAL (NULL argument), ABYSS_ENOMEM, ABYSS_ETOOBIG (over
 * ABYSS_ONNX_MAX_BYTES), ABYSS_EUNSUPPORTED (a config the graph cannot
 * express); diag (may be NULL) says why. */
int abyss_onnx_export_mem(struct abyss_nn_model *m, uint8_t **out, size_t *len,
			  struct abyss_diag *diag);

/* Same, written to the file path (created or truncated; a partial file is
 * removed on failure). Errors as above, plus ABYSS_EIO naming the path. */
int abyss_onnx_export_file(struct abyss_nn_model *m, const char *path,
			   struct abyss_diag *diag);

#ifdef __cplusplus
}
#endif

#endif
