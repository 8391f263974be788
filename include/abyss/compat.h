/*
 * abyss/compat.h - the original system's estimators, ported faithfully, on
 * plain arrays (original-system.md §4.2, §4.3, §4.8, §4.9).
 *
 * Every function here reproduces one function of the original Python code,
 * including its quirks, so that its reference values are matched to 1e-3 mm
 * (in practice bit for bit). The numerical building blocks that the
 * original borrowed from numpy, scipy and pandas are exposed too, because
 * their exact semantics (edge handling, NaN rules, summation order) are what
 * makes the port faithful; docs/compat-estimator.md explains each choice.
 *
 * Arrays are borrowed for the duration of a call and never modified, unless
 * a parameter is documented as an output. Functions that need temporary
 * memory take a struct abyss_scratch (abyss/depth.h); NULL makes them
 * allocate and free a temporary one. Nothing here prints, exits or keeps
 * state: every function is thread-safe given its own scratch.
 *
 * Precision: the original held Setitec columns as float32 and MQTT tables as
 * float64. ABYSS_COMPAT_F32 repeats numpy's float32 arithmetic (values are
 * rounded to float32 first, and every operation the original did in float32
 * is rounded again), ABYSS_COMPAT_F64 works in double.
 */
#ifndef ABYSS_COMPAT_H
#define ABYSS_COMPAT_H

#include <stddef.h>
#include <stdint.h>

#include "abyss/depth.h"
#include "abyss/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum abyss_compat_dtype {
	ABYSS_COMPAT_F64 = 0, /* float64 columns (the MQTT path) */
	ABYSS_COMPAT_F32 = 1  /* float32 columns (Setitec files, auto_data) */
};

enum abyss_compat_stat {
	ABYSS_COMPAT_STAT_MEDIAN = 0, /* stat='median' (the default) */
	ABYSS_COMPAT_STAT_MEAN = 1    /* stat='mean' */
};

/* Transition window of add_cf2ti_point (samples before step 2). */
#define ABYSS_COMPAT_TRANSITION_OFFSET 300
/* Smoothing and rolling windows of depth_est_segmented. */
#define ABYSS_COMPAT_SMO_W 30
#define ABYSS_COMPAT_WSIZE 30
/* Bit depth (mm) used to size windows from the feed rate. */
#define ABYSS_COMPAT_BIT_DEPTH 0.7
/* The segmented method splits a hole by step; more distinct steps than this
 * are refused (ABYSS_ETOOBIG). A real program has fewer than 20. */
#define ABYSS_COMPAT_MAX_GROUPS 1024

/* ---- numerical building blocks (numpy / scipy / pandas semantics) ---- */

/* numpy's pairwise summation of x[0..n) (the order np.sum and np.mean use on
 * a contiguous array), in float32 when dt is ABYSS_COMPAT_F32 (every partial
 * sum rounded to float) or in double. n == 0 gives 0. */
double abyss_compat_pairwise_sum(const double *x, size_t n,
				 enum abyss_compat_dtype dt);

/* scipy.signal.savgol_filter(x, 11, 2) with mode='interp': the interior is
 * the convolution with scipy's own coefficients, in scipy.ndimage's
 * summation order; the first and last 5 samples are the values of the
 * degree-2 least-squares polynomial through the first/last 11 samples. With
 * ABYSS_COMPAT_F32 every output is rounded to float32 (scipy keeps the input
 * dtype). y must hold n values and may not alias x.
 * Returns 0, or ABYSS_ESHORT when n < 11 (scipy's ValueError). */
int abyss_compat_savgol_11_2(const double *x, size_t n,
			     enum abyss_compat_dtype dt, double *y);

/* numpy.gradient(f) with unit spacing: (f[i+1] - f[i-1]) / 2 inside,
 * one-sided first differences at both ends, in float32 or double. g holds n
 * values. Returns 0, or ABYSS_ESHORT when n < 2 (numpy's ValueError). */
int abyss_compat_gradient(const double *f, size_t n, enum abyss_compat_dtype dt,
			  double *g);

/* pandas Series.rolling(w, center=center).mean() with the default
 * min_periods (= w): out[i] is the mean of the w samples ending at i
 * (center == 0), or covering [i - w/2, i + (w-1)/2] (center != 0; for even
 * w that is [i - w/2, i + w/2 - 1]); NaN when fewer than w of them are
 * finite. Infinite inputs count as missing, as pandas converts them to NaN.
 * Uses pandas' running Kahan sum, so results match bit for bit. out holds
 * n values and may not alias x. w == 0 gives all NaN. */
void abyss_compat_rolling_mean(const double *x, size_t n, size_t w, int center,
			       double *out);

/* pandas Series.rolling(w).median() (trailing window, min_periods = w):
 * the median of the w samples ending at i, the mean of the two middle ones
 * for even w; NaN unless all w are finite. work holds w doubles (a sorted
 * copy of the window, updated in O(w) per sample). out holds n values. */
void abyss_compat_rolling_median(const double *x, size_t n, size_t w,
				 double *work, double *out);

/* pandas .bfill().ffill() in place: every NaN takes the next non-NaN value;
 * NaNs after the last non-NaN value take that value. All-NaN stays NaN. */
void abyss_compat_fill(double *x, size_t n);

/* Series.idxmax()/idxmin() with skipna: the index of the first maximum
 * (minimum) among the non-NaN values, or -1 when there is none. */
long abyss_compat_argmax(const double *x, size_t n);
long abyss_compat_argmin(const double *x, size_t n);

/* ---- the original's estimators ----------------------------------------- */

/* Entry point, §4.2 (raw_data_checker + add_entry_point), on one hole.
 * position: the original table's `Position (mm)` column as it reached
 * raw_data_checker (raw negative values for a Setitec file; already positive
 * for the MQTT table); torque: `I Torque (A)` (without the empty torque).
 * When the sum of the first 200 positions is negative they are negated.
 * Then i0 = the first i < n-2 with torque[i], torque[i+1], torque[i+2] above
 * 0.1 A and xpos[i] > 3 mm, refined backwards as the original did (Python
 * negative indexing for k < 3, and no refinement when i0 == 0). In F32 mode
 * the first threshold test is a float64 comparison of a float32 value and
 * the two others float32 comparisons, as numpy scalar/array rules made them.
 * On success *index = i0 and *pos_mm = xpos[i0]. Returns 0,
 * ABYSS_ENOTFOUND (no sample qualifies; diag says why) or ABYSS_EINVAL. */
int abyss_compat_entry(const double *position, const double *torque, size_t n,
		       enum abyss_compat_dtype dt, long *index, double *pos_mm,
		       struct abyss_diag *diag);

/* Transition point, §4.3 (add_cf2ti_point): f = the first sample whose step
 * is 2; window [max(0, f - offset), f); Savitzky-Golay(11, 2, interp) of
 * torque over it; numpy.gradient; the first sample whose gradient exceeds
 * mean + 2 * population std. *index is the hole index, *pos_mm the
 * |position| there. offset is 300 in the original. Returns 0,
 * ABYSS_ENOSTEP (no step 2), ABYSS_ESHORT (window shorter than 11
 * samples), ABYSS_ENOTFOUND (no gradient above the threshold),
 * ABYSS_ENOMEM/ABYSS_ETOOBIG (scratch) or ABYSS_EINVAL, with a reason in
 * diag. */
int abyss_compat_transition(const double *position, const double *torque,
			    const int32_t *step, size_t n, size_t offset,
			    enum abyss_compat_dtype dt,
			    struct abyss_scratch *scratch, long *index,
			    double *pos_mm, struct abyss_diag *diag);

/* What keypoint_recognition_gradient returns for one segment: indices (0-
 * based within the segment) of the first min/max of the rolling mean and
 * rolling median of d(signal)/d(position), and the smoothed position there. */
struct abyss_compat_keypoints {
	long meanmin, meanmax, medianmin, medianmax;
	double pos_meanmin, pos_meanmax, pos_medianmin, pos_medianmax; /* mm */
	size_t wsize; /* the rolling window that was used */
};

/* keypoint_recognition_gradient(position, signal, smo_w, wsize, bit_depth)
 * (§4.8) on one segment of n samples. position is used as given (the
 * original passes |Position|). wsize == 0 means "derive it": round-half-
 * even(|bit_depth / median(diff(smoothed position))|). Returns 0,
 * ABYSS_ESHORT (fewer than smo_w samples, so nothing can be smoothed),
 * ABYSS_ENOTFOUND (no run of wsize finite derivatives), ABYSS_ERANGE (the
 * derived window is not finite or zero), ABYSS_ENOMEM/ABYSS_ETOOBIG or
 * ABYSS_EINVAL. */
int abyss_compat_keypoints(const double *position, const double *signal,
			   size_t n, size_t smo_w, size_t wsize,
			   double bit_depth, struct abyss_scratch *scratch,
			   struct abyss_compat_keypoints *out,
			   struct abyss_diag *diag);

/* Result of depth_est_segmented. */
struct abyss_compat_segmented {
	int npoints;	  /* 3: entry, transition, exit; 2: entry, exit */
	double pos_mm[3]; /* smoothed |position| of each keypoint */
	long index[3];	  /* the sample index in the input arrays */
	size_t ngroups;	  /* distinct steps found */
};

/* depth_est_segmented (§4.8) on one hole: position = |position|, signal =
 * torque + torque_empty (in F32 mode summed in float32 unless one column
 * holds only whole numbers, which pandas' convert_dtypes turned into Int64,
 * making the sum float64); the samples are grouped by step in order of
 * first appearance and keypoint_recognition_gradient runs on every group
 * with smo_w = 30, wsize = 30. With 3 or more groups the result is (medianmax
 * of group 1, medianmax of group 2, medianmin of group 2), else (medianmax,
 * medianmin) of group 0. Like the original, a group that cannot be
 * processed fails the whole call, whichever group it is. Returns 0 or the
 * first group's error (see abyss_compat_keypoints), ABYSS_ETOOBIG for more
 * than ABYSS_COMPAT_MAX_GROUPS distinct steps, ABYSS_EINVAL. */
int abyss_compat_segmented(const double *position, const double *torque,
			   const double *torque_empty, const int32_t *step,
			   size_t n, enum abyss_compat_dtype dt,
			   struct abyss_scratch *scratch,
			   struct abyss_compat_segmented *out,
			   struct abyss_diag *diag);

/* depth_est_persegment_stats(torque, pos, bit_depth, stat) (§4.8): the
 * samples are cut into segments at every position decrease; in each,
 * wsize = round-half-even(bit_depth / median(diff(pos))) and the trailing
 * rolling mean/median of diff(torque)/diff(pos). The result is the raw pos
 * at [segment 1 max, segment 2 max, segment 2 min] of the chosen statistic.
 * torque and pos are used as given (the original passes torque + empty
 * torque and |position|); dt says whether they were float32 columns. The
 * original's asserts and exceptions are errors: ABYSS_ESHORT (fewer than 3
 * segments, a one-sample segment, a segment without one full window),
 * ABYSS_ERANGE (zero feed rate; depths not positive or positions not
 * increasing), ABYSS_EINVAL (bad stat), ABYSS_ENOMEM/ABYSS_ETOOBIG. */
int abyss_compat_persegment(const double *torque, const double *pos, size_t n,
			    double bit_depth, enum abyss_compat_stat stat,
			    enum abyss_compat_dtype dt,
			    struct abyss_scratch *scratch, double out_pos[3],
			    long out_index[3], struct abyss_diag *diag);

/* ---- grip-length codes (§4.9, gripcodecalc.py) ------------------------- */

#define ABYSS_GRIP_UNIT_MM  1.5875   /* 1/16 inch */
#define ABYSS_GRIP_TOL_MM   0.127    /* tolerance added to each grip */
#define ABYSS_GRIP_LOWER_MM 0.396875 /* calculate_fastener_grip_length */
#define ABYSS_GRIP_UPPER_MM 1.42875
#define ABYSS_GRIP_CODES    25

/* Upper limit GUL(code) = 1.5875 * code + 0.127 mm, for code 1..25. */
double abyss_grip_gul(int code);
/* Lower limit: GLL(1) = 0, GLL(n) = GUL(n - 1). */
double abyss_grip_gll(int code);
/* GripCodeCalc.length_code: the code n in 1..25 with GLL(n) < depth <=
 * GUL(n), or 0 when there is none (also for NaN). */
int abyss_grip_code(double depth_mm);

/* calculate_quotient_remainder(depth, unit): Python's floor division and
 * modulo of floats (the remainder takes the sign of unit). Returns 0,
 * ABYSS_EINVAL for unit == 0 (ZeroDivisionError) or ABYSS_ERANGE for a
 * non-finite depth or unit, or a quotient beyond long (int() fails). */
int abyss_grip_quotient_remainder(double depth_mm, double unit_mm,
				  long *quotient, double *remainder);

/* calculate_fastener_grip_length(depth, unit, lower, upper): d[0] = q + 1,
 * d[1] = q + (r > upper), d[2] = q + (0 if r < lower, 2 if r > upper, else
 * 1), with (q, r) from abyss_grip_quotient_remainder. Same errors. */
int abyss_grip_fastener_lengths(double depth_mm, double unit_mm,
				double lower_mm, double upper_mm, long d[3]);

#ifdef __cplusplus
}
#endif
#endif
