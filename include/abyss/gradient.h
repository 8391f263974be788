/*
 * abyss/gradient.h - tuning constants and diagnostics of the gradient
 * estimator (ABYSS_METHOD_GRADIENT; docs/gradient-estimator.md).
 *
 * abyss_estimate() runs the estimator with the defaults below. The detailed
 * entry point exists for evaluation and tuning: it also reports the levels
 * the decision was made on.
 */
#ifndef ABYSS_GRADIENT_H
#define ABYSS_GRADIENT_H

#include "abyss/depth.h"

#ifdef __cplusplus
extern "C" {
#endif

struct abyss_gradient_opts {
	double bin_mm;	     /* resampling step along the stroke (0.02) */
	double smooth_mm;    /* half-width of each of two boxcars (0.14) */
	double min_layer_mm; /* shortest layer a transition may cut (0.5) */
	double min_contrast; /* |mu2 - mu1| / max(mu1, mu2) for 2 layers
				(0.35) */
	double max_depth_mm; /* longest stroke accepted (1000) */
};

struct abyss_gradient_info {
	double base_a;	      /* air level before entry (A) */
	double noise_a;	      /* noise of the air level (A, robust sigma) */
	double threshold_a;   /* engaged/not engaged threshold (A) */
	double half_ramp_mm;  /* steepest point minus onset at entry */
	double level1_a;      /* mean level of the first layer (A) */
	double level2_a;      /* mean level of the second layer (A) */
	double contrast;      /* relative level change at the transition */
	double r2;	      /* share of variance explained by 2 levels */
	size_t nbins;	      /* resampled points */
	size_t repaired_dips; /* step-change dips bridged */
};

/* Fills o with the defaults in the comments above. */
void abyss_gradient_defaults(struct abyss_gradient_opts *o);

/* Runs the estimator with options o (NULL: defaults) and reports its levels
 * in info (may be NULL). scratch may be NULL (the call then allocates).
 * Returns what abyss_estimate() returns for the gradient method. */
int abyss_gradient_estimate(const struct abyss_hole *h,
			    const struct abyss_gradient_opts *o,
			    struct abyss_scratch *scratch,
			    struct abyss_estimate *out,
			    struct abyss_gradient_info *info,
			    struct abyss_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
