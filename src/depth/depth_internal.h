/*
 * depth_internal.h - what the estimator dispatcher (depth.c) calls.
 * Each method lives in its own file and fills a cleared abyss_estimate.
 */
#ifndef ABYSS_DEPTH_INTERNAL_H
#define ABYSS_DEPTH_INTERNAL_H

#include "abyss/depth.h"

/* Each returns 0 when entry and exit were found, else the first failure code;
 * out has been cleared by the caller. scratch is never NULL. */
int depth__compat(const struct abyss_hole *h, struct abyss_scratch *scratch,
		  struct abyss_estimate *out, struct abyss_diag *diag);
int depth__gradient(const struct abyss_hole *h, struct abyss_scratch *scratch,
		    struct abyss_estimate *out, struct abyss_diag *diag);

struct abyss_ml_model;
/* The original's 3-point estimator with its network exit (ml.c). */
int depth__ml(const struct abyss_hole *h, const struct abyss_ml_model *model,
	      struct abyss_scratch *scratch, struct abyss_estimate *out,
	      struct abyss_diag *diag);

/* Marks keypoint k as not found with code and a printf-style reason; returns
 * code. */
int depth__fail(struct abyss_keypoint *k, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct abyss_ml_model;
/* The original's 3-point estimator with its network exit (ml.c). */
int depth__ml(const struct abyss_hole *h, const struct abyss_ml_model *model,
	      struct abyss_scratch *scratch, struct abyss_estimate *out,
	      struct abyss_diag *diag);

/* Marks keypoint k as found at sample index i, position pos_mm. */
void depth__set(struct abyss_keypoint *k, long i, double pos_mm,
		double confidence);

#endif
