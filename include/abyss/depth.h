/*
 * abyss/depth.h - depth estimators behind one interface.
 *
 * An estimator reads a hole (abyss/hole.h) and returns up to three keypoints
 * along the stroke, as positive positions in mm (the distance the spindle
 * travelled into the part): entry, transition (first material to second) and
 * exit. Each keypoint carries a confidence in [0,1] and, when it could not be
 * found, an error code and a reason a person understands.
 *
 * Methods:
 *   compat   - a faithful port of the original system: entry (§4.2) and
 *              transition (§4.3) heuristics, exit from the classical
 *              segmented gradient method (§4.8), since the original's exit
 *              network weights are not public. Fails where the original fails.
 *   gradient - our own estimator (docs/gradient-estimator.md): works on
 *              one-step programs, programs that start at step 2, multi-step
 *              stacks.
 *   ml       - the PatchTSMixer exit pipeline (§4.4); needs a model.
 *
 * Estimators are pure functions of the hole: no global state, thread-safe,
 * and (for compat and gradient) no allocation beyond a bounded scratch buffer
 * that the caller may pass in to keep the hot path allocation-free.
 */
#ifndef ABYSS_DEPTH_H
#define ABYSS_DEPTH_H

#include <stddef.h>

#include "abyss/error.h"
#include "abyss/hole.h"

#ifdef __cplusplus
extern "C" {
#endif

enum abyss_method {
	ABYSS_METHOD_COMPAT = 0,
	ABYSS_METHOD_GRADIENT = 1,
	ABYSS_METHOD_ML = 2
};

/* "compat", "gradient", "ml"; NULL for an unknown value. */
const char *abyss_method_name(enum abyss_method m);
/* Parses a method name; returns 0 or ABYSS_EINVAL. */
int abyss_method_parse(const char *name, enum abyss_method *out);

#define ABYSS_REASON_MAX 200

struct abyss_keypoint {
	int found;	   /* 1 when pos_mm is valid */
	double pos_mm;	   /* positive position along the stroke (mm) */
	long index;	   /* sample index in the hole, -1 if none */
	double confidence; /* 0..1; 1 for compat when found */
	int code;	   /* 0, or why it was not found (ABYSS_E*) */
	char reason[ABYSS_REASON_MAX];
};

struct abyss_estimate {
	enum abyss_method method;
	struct abyss_keypoint entry;
	struct abyss_keypoint transition; /* found == 0 for one-layer stacks */
	struct abyss_keypoint exit;
	int nlayers; /* 1 or 2 when known, 0 when not */
};

/* Scratch memory for estimators, so that repeated calls (a service, a
 * benchmark) allocate nothing. Grows on demand up to max_bytes; a hole that
 * would need more fails with ABYSS_ETOOBIG. Not thread-safe: one per thread.
 */
struct abyss_scratch {
	void *buf;
	size_t cap;
	size_t max_bytes; /* 0 means the default, 64 MiB */
};

void abyss_scratch_init(struct abyss_scratch *s);
void abyss_scratch_free(struct abyss_scratch *s);
/* Returns a pointer to at least `bytes` bytes (16-byte aligned), or NULL
 * (out of memory or over the limit). Invalidates earlier pointers. */
void *abyss_scratch_get(struct abyss_scratch *s, size_t bytes);

struct abyss_ml_model; /* abyss/nn.h; NULL unless method is ml */

struct abyss_estimate_opts {
	enum abyss_method method;
	struct abyss_scratch *scratch; /* optional; NULL allocates per call */
	const struct abyss_ml_model *model; /* for ABYSS_METHOD_ML */
};

/* Runs the chosen estimator on h and fills *out (always fully initialised,
 * even on failure). Returns 0 when entry and exit were found (and, for
 * compat, the transition, as the original's 3-point estimator required) and
 * every layer is positive. Otherwise returns the code of the first keypoint
 * that failed, or ABYSS_ERANGE when the keypoints were found but give a
 * non-positive layer (the original published nothing for those, §3.12); the
 * reason is in out's keypoints and in diag (optional). The keypoints found
 * are kept in out in every case. A depth is only meaningful when the return
 * value is 0. */
int abyss_estimate(const struct abyss_hole *h,
		   const struct abyss_estimate_opts *opts,
		   struct abyss_estimate *out, struct abyss_diag *diag);

/* Clears an estimate: nothing found, index -1, reasons empty. */
void abyss_estimate_clear(struct abyss_estimate *e, enum abyss_method m);

/* Layer thicknesses as the original publishes them: depth[0] = transition -
 * entry, depth[1] = exit - transition. With no transition, depth[0] = exit -
 * entry and depth[1] = 0. Returns the number of values (2), or 0 when entry
 * or exit is missing. */
int abyss_estimate_depths(const struct abyss_estimate *e, double depth[2]);

#ifdef __cplusplus
}
#endif
#endif
