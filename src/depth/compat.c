/*
 * compat.c - the original system's estimators, ported faithfully: entry
 * (§4.2), transition (§4.3), the segmented gradient method and the
 * per-segment statistics (§4.8), plus the numpy/scipy/pandas primitives they
 * stand on, reproduced with the same edge rules, NaN rules and summation
 * orders. depth__compat assembles entry + transition + exit for the
 * estimator interface. It deliberately does not improve on the original:
 * where the original fails, this fails, with a sentence saying why.
 * Precision: ABYSS_COMPAT_F32 repeats the float32 arithmetic the original did
 * on Setitec columns (docs/compat-estimator.md lists where and why).
 * Nothing here allocates except through the abyss_scratch passed in.
 */
#include "abyss/compat.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "depth_internal.h"

#define COMPAT__WHY_MAX		ABYSS_REASON_MAX
#define COMPAT__SCRATCH_DEFAULT ((size_t)64 << 20)

/* ---- small helpers ------------------------------------------------------ */

/* Rounds to float32 when the original column was float32. Doing an
 * operation in double and rounding the result gives exactly the float32
 * result for + - * / and sqrt (53 >= 2*24 + 2), so one code path serves
 * both precisions. */
static double rnd(enum abyss_compat_dtype dt, double x)
{
	return dt == ABYSS_COMPAT_F32 ? (double)(float)x : x;
}

static int why_set(char *why, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int why_set(char *why, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, COMPAT__WHY_MAX, fmt, ap);
	va_end(ap);
	return code;
}

/* Bytes of `count` elements of `size`, or 0 on overflow. */
static size_t bytes_of(size_t count, size_t size)
{
	if (size && count > ((size_t)-1) / size)
		return 0;
	return count * size;
}

/* One scratch block of `bytes`; distinguishes "over the limit" from "out of
 * memory" for the caller's error code. */
static void *block_get(struct abyss_scratch *s, size_t bytes, int *rc,
		       char *why)
{
	size_t max = s->max_bytes ? s->max_bytes : COMPAT__SCRATCH_DEFAULT;
	void *p;

	if (bytes == 0 || bytes > max) {
		*rc = why_set(why, ABYSS_ETOOBIG,
			      "the hole needs more scratch memory than the "
			      "%zu-byte limit",
			      max);
		return NULL;
	}
	p = abyss_scratch_get(s, bytes);
	if (!p)
		*rc = why_set(why, ABYSS_ENOMEM,
			      "out of memory for %zu bytes of scratch", bytes);
	return p;
}

/* Python's round() on a float: half to even. rint() does that in the
 * default rounding mode, which this library never changes. */
static double round_half_even(double x)
{
	return rint(x);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* ---- numpy / scipy / pandas primitives ---------------------------------- */

/* numpy's pairwise_sum (loops_utils.h.src): blocks of 8 partial sums up to
 * 128 elements, halves (multiple of 8) above. Values are already rounded to
 * the column's precision. */
static double pw_sum(const double *a, size_t n, enum abyss_compat_dtype dt)
{
	size_t i, j, n2;
	double r[8], res;

	if (n < 8) {
		res = 0.0;
		for (i = 0; i < n; i++)
			res = rnd(dt, res + a[i]);
		return res;
	}
	if (n <= 128) {
		for (j = 0; j < 8; j++)
			r[j] = a[j];
		for (i = 8; i < n - (n % 8); i += 8)
			for (j = 0; j < 8; j++)
				r[j] = rnd(dt, r[j] + a[i + j]);
		res = rnd(
		    dt,
		    rnd(dt, rnd(dt, r[0] + r[1]) + rnd(dt, r[2] + r[3])) +
			rnd(dt, rnd(dt, r[4] + r[5]) + rnd(dt, r[6] + r[7])));
		for (; i < n; i++)
			res = rnd(dt, res + a[i]);
		return res;
	}
	n2 = n / 2;
	n2 -= n2 % 8;
	return rnd(dt, pw_sum(a, n2, dt) + pw_sum(a + n2, n - n2, dt));
}

double abyss_compat_pairwise_sum(const double *x, size_t n,
				 enum abyss_compat_dtype dt)
{
	double buf[128];
	size_t i, n2;

	if (!x || n == 0)
		return 0.0;
	if (dt != ABYSS_COMPAT_F32)
		return pw_sum(x, n, dt);
	/* float32 inputs must be rounded first; split like numpy does so the
	 * blocks stay identical while the copy stays on the stack */
	if (n <= 128) {
		for (i = 0; i < n; i++)
			buf[i] = rnd(dt, x[i]);
		return pw_sum(buf, n, dt);
	}
	n2 = n / 2;
	n2 -= n2 % 8;
	return rnd(dt, abyss_compat_pairwise_sum(x, n2, dt) +
			   abyss_compat_pairwise_sum(x + n2, n - n2, dt));
}

/*
 * Savitzky-Golay (11, 2). The interior coefficients are the ones scipy
 * 1.10's savgol_coeffs returns (its lstsq leaves them a few ulp away from
 * the exact k/429 and not quite symmetric); ndimage's correlate1d accepts
 * them as symmetric and sums x[0]*w0 + (x[-5]+x[5])*w[-5] + ... +
 * (x[-1]+x[1])*w[-1] in double, using the first half of the reversed kernel.
 */
static const double sg_w0 = 0x1.a8e05f7a54bdcp-3; /* ~ 89/429 */
static const double sg_w[5] = {
    -0x1.57b8644072934p-4, /* offset -5, ~ -36/429 */
    0x1.57b864407294ep-6,  /* offset -4, ~ 9/429 */
    0x1.a41a41a41a430p-4,  /* offset -3, ~ 44/429 */
    0x1.49660abdc3230p-3,  /* offset -2, ~ 69/429 */
    0x1.9101ca4b30571p-3,  /* offset -1, ~ 84/429 */
};

/* Value at window point t (0..10) of the least-squares parabola through
 * w[0..11). With u = k - 5 the hat matrix is (390 + 39 u_t u_k +
 * 5 (u_t^2 - 10)(u_k^2 - 10)) / 4290; integer weights times float32 values
 * are exact in double, so only the sum and the division round. scipy fits
 * with polyfit (SVD) and evaluates with polyval, which differs from this by
 * about 1e-16 relative: invisible after rounding to float32. */
static double sg_edge(const double *w, int t)
{
	int k, ut = t - 5, uk;
	double acc = 0.0;

	for (k = 0; k < 11; k++) {
		uk = k - 5;
		acc += (double)(390 + 39 * ut * uk +
				5 * (ut * ut - 10) * (uk * uk - 10)) *
		       w[k];
	}
	return acc / 4290.0;
}

static void savgol_core(const double *x, size_t n, enum abyss_compat_dtype dt,
			double *y)
{
	size_t i;
	int t, j;
	double acc;

	for (i = 5; i + 5 < n; i++) {
		acc = x[i] * sg_w0;
		for (j = 0; j < 5; j++)
			acc += (x[i - 5 + j] + x[i + 5 - j]) * sg_w[j];
		y[i] = rnd(dt, acc);
	}
	for (t = 0; t < 5; t++) {
		y[t] = rnd(dt, sg_edge(x, t));
		y[n - 5 + t] = rnd(dt, sg_edge(x + n - 11, 6 + t));
	}
}

int abyss_compat_savgol_11_2(const double *x, size_t n,
			     enum abyss_compat_dtype dt, double *y)
{
	size_t i;

	if (!x || !y)
		return ABYSS_EINVAL;
	if (n < 11)
		return ABYSS_ESHORT;
	if (dt != ABYSS_COMPAT_F32) {
		savgol_core(x, n, dt, y);
		return ABYSS_OK;
	}
	/* float32 input: round it first, in y, then filter out of place in
	 * two passes so no temporary is needed: edges need the original
	 * first/last 11, the interior needs x[i-5..i+5]. */
	for (i = 0; i < n; i++)
		y[i] = rnd(dt, x[i]);
	{
		double head[11], tail[11], prev[5], cur;
		size_t k;
		int t, j;

		memcpy(head, y, sizeof(head));
		memcpy(tail, y + n - 11, sizeof(tail));
		/* interior in place: keep the last 5 unfiltered inputs */
		for (j = 0; j < 5; j++)
			prev[j] = y[j];
		for (k = 5; k + 5 < n; k++) {
			double acc = y[k] * sg_w0;

			for (j = 0; j < 5; j++)
				acc += (prev[j] + y[k + 5 - j]) * sg_w[j];
			cur = y[k];
			y[k] = rnd(dt, acc);
			memmove(prev, prev + 1, 4 * sizeof(double));
			prev[4] = cur;
		}
		for (t = 0; t < 5; t++) {
			y[t] = rnd(dt, sg_edge(head, t));
			y[n - 5 + t] = rnd(dt, sg_edge(tail, 6 + t));
		}
	}
	return ABYSS_OK;
}

static void gradient_core(const double *f, size_t n, enum abyss_compat_dtype dt,
			  double *g)
{
	size_t i;

	g[0] = rnd(dt, f[1] - f[0]);
	for (i = 1; i + 1 < n; i++)
		g[i] = rnd(dt, rnd(dt, f[i + 1] - f[i - 1]) / 2.0);
	g[n - 1] = rnd(dt, f[n - 1] - f[n - 2]);
}

int abyss_compat_gradient(const double *f, size_t n, enum abyss_compat_dtype dt,
			  double *g)
{
	size_t i;

	if (!f || !g)
		return ABYSS_EINVAL;
	if (n < 2)
		return ABYSS_ESHORT;
	if (dt == ABYSS_COMPAT_F32) {
		double prev = rnd(dt, f[0]), cur, next;

		/* in place safe: each output needs only its neighbours */
		cur = rnd(dt, f[1]);
		g[0] = rnd(dt, cur - prev);
		for (i = 1; i + 1 < n; i++) {
			next = rnd(dt, f[i + 1]);
			g[i] = rnd(dt, rnd(dt, next - prev) / 2.0);
			prev = cur;
			cur = next;
		}
		g[n - 1] = rnd(dt, cur - prev);
		return ABYSS_OK;
	}
	gradient_core(f, n, dt, g);
	return ABYSS_OK;
}

/* pandas' running mean state (aggregations.pyx roll_mean). */
struct rmean {
	double sum, comp_add, comp_rem, prev;
	long nobs, neg_ct, consec;
};

static inline void rmean_reset(struct rmean *m, double first)
{
	m->sum = m->comp_add = m->comp_rem = 0.0;
	m->nobs = m->neg_ct = m->consec = 0;
	m->prev = first;
}

static inline void rmean_add(struct rmean *m, double v)
{
	double y, t;

	if (v == v) {
		m->nobs++;
		y = v - m->comp_add;
		t = m->sum + y;
		m->comp_add = t - m->sum - y;
		m->sum = t;
		m->neg_ct += signbit(v) != 0;
		/* GH#42064: a run of equal values gives that value exactly */
		m->consec = v == m->prev ? m->consec + 1 : 1;
		m->prev = v;
	}
}

static inline void rmean_remove(struct rmean *m, double v)
{
	double y, t;

	if (v == v) {
		m->nobs--;
		y = -v - m->comp_rem;
		t = m->sum + y;
		m->comp_rem = t - m->sum - y;
		m->sum = t;
		m->neg_ct -= signbit(v) != 0;
	}
}

static inline double rmean_value(const struct rmean *m, long minp)
{
	double r;

	if (m->nobs < minp || m->nobs <= 0)
		return NAN;
	r = m->sum / (double)m->nobs;
	if (m->consec >= m->nobs)
		r = m->prev;
	else if ((m->neg_ct == 0 && r < 0) || (m->neg_ct == m->nobs && r > 0))
		r = 0; /* the sign of the inputs wins over rounding */
	return r;
}

/* pandas turns +-inf into NaN before every rolling aggregation. */
static inline double prep(double v)
{
	return isinf(v) ? NAN : v;
}

/*
 * Rolling mean of k (1 or 2) arrays with the same window, so two running
 * sums can overlap in the pipeline. FixedWindowIndexer gives window i the
 * samples [i + 1 + off - w, i + 1 + off) clipped to [0, n); both bounds
 * advance by at most one per step, so after the first window pandas removes
 * x[i + off - w] (once i + off >= w) and then adds x[i + off] (while
 * i + off < n), exactly what this does. A one-sample window restarts every
 * time (pandas' "setup" branch), which is the sample itself.
 */
static void rmean_run(const double *x1, const double *x2, size_t n, size_t w,
		      size_t off, double *o1, double *o2)
{
	struct rmean a, b;
	size_t i, j, e0;
	long minp = (long)w;

	if (n == 0)
		return;
	if (w == 0 || w == 1) {
		for (i = 0; i < n; i++) {
			o1[i] = w ? prep(x1[i]) : NAN;
			if (x2)
				o2[i] = w ? prep(x2[i]) : NAN;
		}
		return;
	}
	e0 = off + 1 < n ? off + 1 : n;
	rmean_reset(&a, prep(x1[0]));
	rmean_reset(&b, x2 ? prep(x2[0]) : 0.0);
	for (j = 0; j < e0; j++) {
		rmean_add(&a, prep(x1[j]));
		if (x2)
			rmean_add(&b, prep(x2[j]));
	}
	o1[0] = rmean_value(&a, minp);
	if (x2)
		o2[0] = rmean_value(&b, minp);
	for (i = 1; i < n; i++) {
		if (i + off >= w) {
			rmean_remove(&a, prep(x1[i + off - w]));
			if (x2)
				rmean_remove(&b, prep(x2[i + off - w]));
		}
		if (i + off < n) {
			rmean_add(&a, prep(x1[i + off]));
			if (x2)
				rmean_add(&b, prep(x2[i + off]));
		}
		o1[i] = rmean_value(&a, minp);
		if (x2)
			o2[i] = rmean_value(&b, minp);
	}
}

void abyss_compat_rolling_mean(const double *x, size_t n, size_t w, int center,
			       double *out)
{
	if (!x || !out)
		return;
	rmean_run(x, NULL, n, w, center && w ? (w - 1) / 2 : 0, out, NULL);
}

/* Number of elements of the sorted a[0..k) below v: where v goes. The
 * halving step compiles to a conditional move, so a search costs a few
 * dependent loads and no mispredicted branch (measured 2.5x faster than a
 * linear count over a 30-sample window). */
static inline size_t count_below(const double *a, size_t k, double v)
{
	const double *base = a;
	size_t half;

	if (k == 0)
		return 0;
	while (k > 1) {
		half = k / 2;
		base = base[half] < v ? base + half : base;
		k -= half;
	}
	return (size_t)(base - a) + (*base < v);
}

/* Both ranks at once by a linear scan of the (small, sorted, finite)
 * window: the same counts as two binary searches, but without their chain
 * of dependent loads. x86-64 always has SSE2: two doubles per compare, the
 * all-ones masks subtracted to count. */
static inline void count_below2(const double *a, size_t k, double x, double y,
				size_t *cx, size_t *cy)
{
	size_t i = 0, c1 = 0, c2 = 0;
#if defined(__SSE2__)
	__m128d vx = _mm_set1_pd(x), vy = _mm_set1_pd(y);
	__m128i n1 = _mm_setzero_si128(), n2 = _mm_setzero_si128();
	uint64_t t1[2], t2[2];

	for (; i + 2 <= k; i += 2) {
		__m128d v = _mm_loadu_pd(a + i);
		n1 = _mm_sub_epi64(n1, _mm_castpd_si128(_mm_cmplt_pd(v, vx)));
		n2 = _mm_sub_epi64(n2, _mm_castpd_si128(_mm_cmplt_pd(v, vy)));
	}
	_mm_storeu_si128((__m128i *)(void *)t1, n1);
	_mm_storeu_si128((__m128i *)(void *)t2, n2);
	c1 = (size_t)(t1[0] + t1[1]);
	c2 = (size_t)(t2[0] + t2[1]);
#endif
	for (; i < k; i++) {
		c1 += a[i] < x;
		c2 += a[i] < y;
	}
	*cx = c1;
	*cy = c2;
}

/* memmove for the few doubles of a window, without a library call. */
static inline void shift_left(double *a, size_t from, size_t to)
{
	for (; from < to; from++)
		a[from] = a[from + 1];
}

static inline void shift_right(double *a, size_t from, size_t to)
{
	for (; to > from; to--)
		a[to] = a[to - 1];
}

/*
 * Rolling median over a trailing window of w, and (when mean is not NULL)
 * the rolling mean of the same window in the same loop, so that the mean's
 * serial Kahan chain overlaps the median's sorting work. win holds the
 * finite values of the window, sorted; the median exists only when all w
 * are finite (min_periods = w). The set is what pandas' skiplist holds, so
 * the order statistics are equal.
 */
static void rmedian_run(const double *x, size_t n, size_t w, double *win,
			double *med, double *mean)
{
	struct rmean a;
	size_t i, k = 0, p, q;
	double vin, vout;
	long minp = (long)w;

	if (mean)
		rmean_run(x, NULL, n < w ? n : w, w, 0, mean, NULL);
	if (w == 0 || w > n) {
		for (i = 0; i < n; i++) {
			med[i] = NAN;
			if (mean)
				mean[i] = NAN;
		}
		return;
	}
	if (mean && w == 1)
		rmean_run(x, NULL, n, w, 0, mean, NULL);
	/* the running mean continues from the state after sample w - 1 */
	rmean_reset(&a, prep(x[0]));
	for (i = 0; i < w; i++)
		rmean_add(&a, prep(x[i]));
	for (i = 0; i < n; i++) {
		vin = prep(x[i]);
		vout = i >= w ? prep(x[i - w]) : NAN;
		if (mean && w > 1 && i >= w) {
			rmean_remove(&a, vout);
			rmean_add(&a, vin);
			mean[i] = rmean_value(&a, minp);
		}
		if (vin == vin && vout == vout) {
			/* replace vout by vin: shift the values between the
			 * two slots by one */
			count_below2(win, k, vout, vin, &p, &q);
			if (q > p) {
				shift_left(win, p, q - 1);
				win[q - 1] = vin;
			} else {
				shift_right(win, q, p);
				win[q] = vin;
			}
		} else {
			if (vout == vout) {
				p = count_below(win, k, vout);
				memmove(win + p, win + p + 1,
					(k - p - 1) * sizeof(double));
				k--;
			}
			if (vin == vin) {
				p = count_below(win, k, vin);
				memmove(win + p + 1, win + p,
					(k - p) * sizeof(double));
				win[p] = vin;
				k++;
			}
		}
		if (k == w)
			med[i] = (w % 2) ? win[w / 2]
					 : (win[w / 2] + win[w / 2 - 1]) / 2;
		else
			med[i] = NAN;
	}
}

void abyss_compat_rolling_median(const double *x, size_t n, size_t w,
				 double *work, double *out)
{
	size_t i;

	if (!x || !out)
		return;
	if (!work) {
		for (i = 0; i < n; i++)
			out[i] = NAN;
		return;
	}
	rmedian_run(x, n, w, work, out, NULL);
}

void abyss_compat_fill(double *x, size_t n)
{
	size_t i, gap = 0;
	int pending = 0;
	double last = NAN;

	if (!x)
		return;
	/* one pass: a run of NaNs takes the value that ends it (bfill); a
	 * run still open at the end takes the last value seen (ffill) */
	for (i = 0; i < n; i++) {
		if (x[i] != x[i]) {
			if (!pending) {
				pending = 1;
				gap = i;
			}
			continue;
		}
		if (pending) {
			for (; gap < i; gap++)
				x[gap] = x[i];
			pending = 0;
		}
		last = x[i];
	}
	if (pending)
		for (; gap < n; gap++)
			x[gap] = last;
}

/* First minimum and first maximum among the non-NaN values, -1 if none. */
static void argminmax(const double *x, size_t n, long *imin, long *imax)
{
	size_t i = 0;
	long lo, hi;

	while (i < n && x[i] != x[i])
		i++;
	if (i == n) {
		*imin = *imax = -1;
		return;
	}
	lo = hi = (long)i;
	for (i++; i < n; i++) {
		if (x[i] < x[lo])
			lo = (long)i;
		else if (x[i] > x[hi])
			hi = (long)i;
	}
	*imin = lo;
	*imax = hi;
}

long abyss_compat_argmax(const double *x, size_t n)
{
	long lo, hi;

	if (!x)
		return -1;
	argminmax(x, n, &lo, &hi);
	return hi;
}

long abyss_compat_argmin(const double *x, size_t n)
{
	long lo, hi;

	if (!x)
		return -1;
	argminmax(x, n, &lo, &hi);
	return lo;
}

/* ---- entry (§4.2) ------------------------------------------------------- */

static int entry_core(const double *position, const double *torque, size_t n,
		      enum abyss_compat_dtype dt, int negate_input, long *index,
		      double *pos_mm, char *why)
{
	double head[200] = {0}, sum, xs, a, b, t0;
	size_t i, k, i0 = 0, nh = n < 200 ? n : 200;
	int neg, found = 0, f32 = dt == ABYSS_COMPAT_F32;

#define X_(j)  (negate_input ? -position[j] : position[j])
#define TQ_(j) rnd(dt, torque[j])
	/* raw_data_checker: xpos.head(200).sum() < 0 -> negate (NaN sums as
	 * 0, pandas' skipna; float32 columns sum in float32) */
	for (i = 0; i < nh; i++) {
		head[i] = rnd(dt, X_(i));
		if (head[i] != head[i])
			head[i] = 0.0;
	}
	sum = pw_sum(head, nh, dt);
	neg = sum < 0;
	xs = neg ? -1.0 : 1.0;

	/* `tq.iloc[i] > 0.1` compares a numpy scalar with a Python float: in
	 * float64. `all(tq.iloc[i+1:i+3] > 0.1)` compares an array: the 0.1
	 * becomes float32 (0.1f) for a float32 column. */
	for (i = 0; i + 2 < n; i++) {
		t0 = TQ_(i);
		if (!(t0 > 0.1))
			continue;
		if (f32) {
			if (!((float)TQ_(i + 1) > 0.1f &&
			      (float)TQ_(i + 2) > 0.1f))
				continue;
		} else if (!(TQ_(i + 1) > 0.1 && TQ_(i + 2) > 0.1)) {
			continue;
		}
		if (!(xs * rnd(dt, X_(i)) > 3.0))
			continue;
		i0 = i;
		found = 1;
		break;
	}
	if (!found)
		return why_set(why, ABYSS_ENOTFOUND,
			       "no 3 consecutive samples with I Torque above "
			       "0.1 A at a position beyond 3 mm (%zu samples)",
			       n);
	/* `if index_first_gt1:` - an entry at sample 0 is falsy, so it is
	 * never refined. Scalar differences stay float32; comparing them with
	 * 0.0001 and 0.05 happens in float64. For k < 3, tq[k-3] is Python's
	 * negative index: it wraps to the end. */
	if (i0 != 0) {
		for (k = i0 - 1; k >= 1; k--) {
			size_t km3 = k >= 3 ? k - 3 : n + k - 3;

			a = rnd(dt, TQ_(k) - TQ_(km3));
			b = rnd(dt, TQ_(k + 3) - TQ_(k));
			if (a < 0.0001 && b >= 0.05) {
				i0 = k;
				break;
			}
		}
	}
	*index = (long)i0;
	*pos_mm = xs * rnd(dt, X_(i0));
#undef X_
#undef TQ_
	return ABYSS_OK;
}

int abyss_compat_entry(const double *position, const double *torque, size_t n,
		       enum abyss_compat_dtype dt, long *index, double *pos_mm,
		       struct abyss_diag *diag)
{
	char why[COMPAT__WHY_MAX];
	int rc;

	if (!index || !pos_mm || (n && (!position || !torque)))
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "entry: missing array or output");
	*index = -1;
	*pos_mm = 0.0;
	rc = entry_core(position, torque, n, dt, 0, index, pos_mm, why);
	if (rc)
		return abyss_diag_set(diag, rc, 0, 0, "entry: %s", why);
	return ABYSS_OK;
}

/* ---- transition (§4.3) -------------------------------------------------- */

/* Doubles of scratch the transition needs. */
static size_t transition_work(size_t n, size_t offset)
{
	return 3 * (n < offset ? n : offset);
}

static int transition_core(const double *position, const double *torque,
			   const int32_t *step, size_t n, size_t offset,
			   enum abyss_compat_dtype dt, double *work,
			   long *index, double *pos_mm, char *why)
{
	size_t f, start, m, j;
	double *x, *s, *g, mean, am, var, sd, thr;

	for (f = 0; f < n; f++)
		if (step[f] == 2)
			break;
	if (f == n)
		return why_set(why, ABYSS_ENOSTEP,
			       "no sample is in step 2 (%zu samples), so there "
			       "is no window before it",
			       n);
	start = f > offset ? f - offset : 0;
	m = f - start;
	if (m < 11)
		return why_set(why, ABYSS_ESHORT,
			       "step 2 starts at sample %zu, leaving %zu "
			       "samples before it; Savitzky-Golay needs 11",
			       f, m);
	x = work;
	s = work + m;
	g = work + 2 * m;
	for (j = 0; j < m; j++)
		x[j] = rnd(dt, torque[start + j]);
	savgol_core(x, m, dt, s);
	gradient_core(s, m, dt, g);

	/* np.mean and np.std of a float32 array stay in float32 (pairwise
	 * sums, then a division); the threshold mean + 2*std is formed in
	 * float64 (numpy scalar promotion) and cast back to float32 when the
	 * array is compared with it. */
	mean = rnd(dt, pw_sum(g, m, dt) / (double)m);
	am = mean;
	for (j = 0; j < m; j++) {
		double dev = rnd(dt, g[j] - am);

		x[j] = rnd(dt, dev * dev);
	}
	var = rnd(dt, pw_sum(x, m, dt) / (double)m);
	sd = rnd(dt, sqrt(var));
	thr = rnd(dt, mean + 2.0 * sd);
	for (j = 0; j < m; j++) {
		if (g[j] > thr) {
			*index = (long)(start + j);
			*pos_mm = rnd(dt, fabs(position[start + j]));
			return ABYSS_OK;
		}
	}
	return why_set(why, ABYSS_ENOTFOUND,
		       "no torque gradient in the %zu samples before step 2 "
		       "(from sample %zu) exceeds mean + 2 std",
		       m, start);
}

int abyss_compat_transition(const double *position, const double *torque,
			    const int32_t *step, size_t n, size_t offset,
			    enum abyss_compat_dtype dt,
			    struct abyss_scratch *scratch, long *index,
			    double *pos_mm, struct abyss_diag *diag)
{
	struct abyss_scratch local;
	char why[COMPAT__WHY_MAX];
	double *work;
	int rc = ABYSS_OK;

	if (!index || !pos_mm || (n && (!position || !torque || !step)))
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "transition: missing array or output");
	*index = -1;
	*pos_mm = 0.0;
	abyss_scratch_init(&local);
	if (!scratch)
		scratch = &local;
	/* at least one element so a failing search still has a block */
	work = block_get(
	    scratch, bytes_of(transition_work(n, offset) + 1, sizeof(double)),
	    &rc, why);
	if (work)
		rc = transition_core(position, torque, step, n, offset, dt,
				     work, index, pos_mm, why);
	abyss_scratch_free(&local);
	if (rc)
		return abyss_diag_set(diag, rc, 0, 0, "transition: %s", why);
	return ABYSS_OK;
}

/* ---- keypoint_recognition_gradient (§4.8) ------------------------------- */

/* Doubles of scratch one segment of n samples needs. */
static size_t kp_work(size_t n)
{
	return 6 * n;
}

/* Whether x[0..n) holds w consecutive finite values (inf counts as
 * missing, as in pandas). */
static int has_finite_run(const double *x, size_t n, size_t w)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		run = isfinite(x[i]) ? run + 1 : 0;
		if (run >= w)
			return 1;
	}
	return 0;
}

/* keypoint_recognition_gradient. With stats == 0 only the outcome is
 * decided (the segmented method runs every step group but reads the
 * results of one or two): the same errors, without the rolling median. */
static int kp_core(const double *pos, const double *sig, size_t n, size_t smo_w,
		   size_t wsize, double bit_depth, double *work, int stats,
		   struct abyss_compat_keypoints *out, char *why)
{
	double *ps = work, *ss = work + n, *d = work + 2 * n;
	double *mean = work + 3 * n, *med = work + 4 * n, *win = work + 5 * n;
	size_t i, k;
	long i1, i2, i3, i4;

	if (smo_w == 0)
		return why_set(why, ABYSS_EINVAL, "smoothing window is 0");
	if (n < smo_w)
		return why_set(why, ABYSS_ESHORT,
			       "%zu samples, fewer than the %zu-sample "
			       "smoothing window",
			       n, smo_w);
	/* centred rolling mean, then bfill + ffill */
	rmean_run(sig, pos, n, smo_w, (smo_w - 1) / 2, ss, ps);
	abyss_compat_fill(ss, n);
	abyss_compat_fill(ps, n);

	/* d = diff(signal) / diff(pos); 0/0 and x/0 are NaN/inf, which the
	 * rolling functions treat as missing */
	d[0] = NAN;
	for (i = 1; i < n; i++)
		d[i] = (ss[i] - ss[i - 1]) / (ps[i] - ps[i - 1]);

	if (wsize == 0) {
		/* wsize = round(|bit_depth / median(diffpos)|) */
		double feed, q;

		for (i = 1, k = 0; i < n; i++)
			if (ps[i] - ps[i - 1] == ps[i] - ps[i - 1])
				med[k++] = ps[i] - ps[i - 1];
		if (k == 0)
			return why_set(why, ABYSS_ERANGE,
				       "no position steps to derive the "
				       "rolling window from");
		qsort(med, k, sizeof(double), cmp_double);
		feed = (k % 2) ? med[k / 2] : (med[k / 2] + med[k / 2 - 1]) / 2;
		q = round_half_even(fabs(bit_depth / feed));
		if (!(q == q) || isinf(q))
			return why_set(why, ABYSS_ERANGE,
				       "median feed %g mm/sample gives no "
				       "finite rolling window",
				       feed);
		if (q < 1.0)
			return why_set(why, ABYSS_ENOTFOUND,
				       "the derived rolling window is 0 "
				       "samples");
		wsize = q > (double)n ? n + 1 : (size_t)q;
	}
	out->wsize = wsize;
	if (wsize > n)
		return why_set(why, ABYSS_ENOTFOUND,
			       "%zu samples cannot fill a %zu-sample rolling "
			       "window",
			       n, wsize);
	if (!stats) {
		/* the median exists iff a window is all finite; the mean can
		 * in addition be NaN through an overflowing running sum */
		rmean_run(d, NULL, n, wsize, 0, mean, NULL);
		argminmax(mean, n, &i1, &i2);
		if (i1 < 0 || !has_finite_run(d, n, wsize))
			return why_set(why, ABYSS_ENOTFOUND,
				       "no %zu consecutive finite "
				       "torque/position gradients in %zu "
				       "samples",
				       wsize, n);
		return ABYSS_OK;
	}
	rmedian_run(d, n, wsize, win, med, mean);
	abyss_compat_fill(mean, n);
	abyss_compat_fill(med, n);
	argminmax(mean, n, &i1, &i2);
	argminmax(med, n, &i3, &i4);
	if (i1 < 0 || i2 < 0 || i3 < 0 || i4 < 0)
		return why_set(why, ABYSS_ENOTFOUND,
			       "no %zu consecutive finite torque/position "
			       "gradients in %zu samples",
			       wsize, n);
	out->meanmin = i1;
	out->meanmax = i2;
	out->medianmin = i3;
	out->medianmax = i4;
	out->pos_meanmin = ps[i1];
	out->pos_meanmax = ps[i2];
	out->pos_medianmin = ps[i3];
	out->pos_medianmax = ps[i4];
	return ABYSS_OK;
}

int abyss_compat_keypoints(const double *position, const double *signal,
			   size_t n, size_t smo_w, size_t wsize,
			   double bit_depth, struct abyss_scratch *scratch,
			   struct abyss_compat_keypoints *out,
			   struct abyss_diag *diag)
{
	struct abyss_scratch local;
	char why[COMPAT__WHY_MAX];
	double *work;
	int rc = ABYSS_OK;

	if (!out || (n && (!position || !signal)))
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "keypoints: missing array or output");
	memset(out, 0, sizeof(*out));
	out->meanmin = out->meanmax = out->medianmin = out->medianmax = -1;
	abyss_scratch_init(&local);
	if (!scratch)
		scratch = &local;
	work = block_get(scratch, bytes_of(kp_work(n) + 1, sizeof(double)), &rc,
			 why);
	if (work)
		rc = kp_core(position, signal, n, smo_w, wsize, bit_depth, work,
			     1, out, why);
	abyss_scratch_free(&local);
	if (rc)
		return abyss_diag_set(diag, rc, 0, 0, "keypoints: %s", why);
	return ABYSS_OK;
}

/* ---- depth_est_segmented (§4.8) ----------------------------------------- */

/* Doubles of scratch the segmented method needs: the hole's position and
 * signal, a group's index list, position and signal (when it is not one
 * contiguous run), plus one segment's working set. */
static size_t seg_work(size_t n)
{
	return 5 * n + kp_work(n);
}

/* pandas convert_dtypes turns a float column whose values are all whole
 * numbers into Int64; adding it to a Float32 column then gives Float64. */
static int column_integral(const double *x, size_t n,
			   enum abyss_compat_dtype dt)
{
	size_t i;
	double v;

	/* a truncating cast is one instruction where floor() may be a call;
	 * beyond 2^52 every double is a whole number anyway */
	for (i = 0; i < n; i++) {
		v = rnd(dt, x[i]);
		if (v == v && fabs(v) < 0x1p52 && v != (double)(int64_t)v)
			return 0;
	}
	return 1;
}

static int seg_core(const double *position, const double *torque,
		    const double *torque_empty, const int32_t *step, size_t n,
		    enum abyss_compat_dtype dt, double *work,
		    struct abyss_compat_segmented *out, char *why)
{
	int32_t groups[ABYSS_COMPAT_MAX_GROUPS];
	size_t first[ABYSS_COMPAT_MAX_GROUPS];
	size_t ngroups = 0, g, i, m, last;
	double *pa, *sa, *gi, *gp, *gs, *kw, t, e;
	const double *sp, *ss;
	struct abyss_compat_keypoints kp[3];
	int sum_f32, rc, need;
	char inner[COMPAT__WHY_MAX];

	/* groups in order of first appearance (Series.unique) */
	for (i = 0; i < n; i++) {
		if (i && step[i] == step[i - 1])
			continue;
		for (g = 0; g < ngroups; g++)
			if (groups[g] == step[i])
				break;
		if (g < ngroups)
			continue;
		if (ngroups == ABYSS_COMPAT_MAX_GROUPS)
			return why_set(why, ABYSS_ETOOBIG,
				       "more than %d distinct steps",
				       ABYSS_COMPAT_MAX_GROUPS);
		first[ngroups] = i;
		groups[ngroups++] = step[i];
	}
	out->ngroups = ngroups;
	if (ngroups == 0)
		return why_set(why, ABYSS_ENODATA, "no samples");

	/* position = |Position|, signal = I Torque + I Torque Empty, rounded
	 * once for the whole hole */
	sum_f32 = dt == ABYSS_COMPAT_F32 && !column_integral(torque, n, dt) &&
		  !column_integral(torque_empty, n, dt);
	pa = work;
	sa = work + n;
	gi = work + 2 * n; /* sample indices, exact in a double */
	gp = work + 3 * n;
	gs = work + 4 * n;
	kw = work + 5 * n;
	for (i = 0; i < n; i++) {
		pa[i] = rnd(dt, fabs(position[i]));
		t = rnd(dt, torque[i]);
		e = rnd(dt, torque_empty[i]);
		sa[i] = sum_f32 ? rnd(dt, t + e) : t + e;
	}
	/* every group runs, as in the original; any failure fails the call */
	for (g = 0; g < ngroups; g++) {
		struct abyss_compat_keypoints r;

		for (i = first[g], m = 0, last = first[g]; i < n; i++)
			if (step[i] == groups[g]) {
				m++;
				last = i;
			}
		if (last - first[g] + 1 == m) {
			/* one contiguous run, the usual case: no copy */
			sp = pa + first[g];
			ss = sa + first[g];
		} else {
			for (i = first[g], m = 0; i < n; i++) {
				if (step[i] != groups[g])
					continue;
				gi[m] = (double)i;
				gp[m] = pa[i];
				gs[m] = sa[i];
				m++;
			}
			sp = gp;
			ss = gs;
		}
		memset(&r, 0, sizeof(r));
		/* 3+ groups: the result reads groups 1 and 2, else group 0 */
		need = ngroups >= 3 ? (g == 1 || g == 2) : g == 0;
		rc = kp_core(sp, ss, m, ABYSS_COMPAT_SMO_W, ABYSS_COMPAT_WSIZE,
			     ABYSS_COMPAT_BIT_DEPTH, kw, need, &r, inner);
		if (rc)
			return why_set(why, rc,
				       "step group #%zu (step %d, %zu "
				       "samples): %s",
				       g, (int)groups[g], m, inner);
		/* keep hole indices for the groups that can be reported */
		if (g < 3) {
			if (sp == gp) {
				r.meanmin = (long)gi[r.meanmin];
				r.meanmax = (long)gi[r.meanmax];
				r.medianmin = (long)gi[r.medianmin];
				r.medianmax = (long)gi[r.medianmax];
			} else {
				r.meanmin += (long)first[g];
				r.meanmax += (long)first[g];
				r.medianmin += (long)first[g];
				r.medianmax += (long)first[g];
			}
			kp[g] = r;
		}
	}
	if (ngroups >= 3) {
		out->npoints = 3;
		out->pos_mm[0] = kp[1].pos_medianmax;
		out->index[0] = kp[1].medianmax;
		out->pos_mm[1] = kp[2].pos_medianmax;
		out->index[1] = kp[2].medianmax;
		out->pos_mm[2] = kp[2].pos_medianmin;
		out->index[2] = kp[2].medianmin;
	} else {
		out->npoints = 2;
		out->pos_mm[0] = kp[0].pos_medianmax;
		out->index[0] = kp[0].medianmax;
		out->pos_mm[1] = kp[0].pos_medianmin;
		out->index[1] = kp[0].medianmin;
	}
	return ABYSS_OK;
}

static void seg_clear(struct abyss_compat_segmented *out)
{
	memset(out, 0, sizeof(*out));
	out->index[0] = out->index[1] = out->index[2] = -1;
}

int abyss_compat_segmented(const double *position, const double *torque,
			   const double *torque_empty, const int32_t *step,
			   size_t n, enum abyss_compat_dtype dt,
			   struct abyss_scratch *scratch,
			   struct abyss_compat_segmented *out,
			   struct abyss_diag *diag)
{
	struct abyss_scratch local;
	char why[COMPAT__WHY_MAX];
	double *work;
	int rc = ABYSS_OK;

	if (!out || (n && (!position || !torque || !torque_empty || !step)))
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "segmented: missing array or output");
	seg_clear(out);
	abyss_scratch_init(&local);
	if (!scratch)
		scratch = &local;
	work = block_get(scratch, bytes_of(seg_work(n) + 1, sizeof(double)),
			 &rc, why);
	if (work)
		rc = seg_core(position, torque, torque_empty, step, n, dt, work,
			      out, why);
	abyss_scratch_free(&local);
	if (rc)
		return abyss_diag_set(diag, rc, 0, 0, "segmented: %s", why);
	return ABYSS_OK;
}

/* ---- depth_est_persegment_stats (§4.8) ---------------------------------- */

/* Statistics of one position segment [s, e): indices (global) of the
 * first max/min of the rolling mean and median, -1 when all are NaN. */
struct pseg {
	long meanmin, meanmax, medianmin, medianmax;
	size_t start, len, wsize;
};

/* One segment of the l_idx loop. Errors are those of its round(): a
 * one-sample segment has no feed rate (NaN), a zero feed rate divides by
 * zero. Statistics are computed only when r is not NULL. */
static int pseg_one(const double *p, const double *tq, size_t s, size_t e,
		    size_t segno, double bit_depth, enum abyss_compat_dtype dt,
		    double *work, struct pseg *r, char *why)
{
	size_t m = e - s, j, k, wsize;
	double *d = work, *mean = work + m, *med = work + 2 * m;
	double *win = work + 3 * m, feed, q;

	/* feedrate = median of the in-segment position differences (for a
	 * float32 column the mean of the two middle values stays float32) */
	for (j = 1, k = 0; j < m; j++) {
		double dp = rnd(dt, p[s + j] - p[s + j - 1]);

		if (dp == dp)
			win[k++] = dp;
	}
	if (k == 0)
		return why_set(why, ABYSS_ESHORT,
			       "position segment %zu (from sample %zu) has %zu "
			       "sample(s): its feed rate is undefined",
			       segno, s, m);
	qsort(win, k, sizeof(double), cmp_double);
	feed = (k % 2) ? win[k / 2]
		       : rnd(dt, rnd(dt, win[k / 2] + win[k / 2 - 1]) / 2);
	if (feed == 0.0)
		return why_set(why, ABYSS_ERANGE,
			       "position segment %zu (from sample %zu) has a "
			       "zero median feed rate",
			       segno, s);
	q = round_half_even(bit_depth / feed);
	if (!(q == q) || isinf(q) || q < 0)
		return why_set(why, ABYSS_ERANGE,
			       "position segment %zu: window %g is not valid",
			       segno, q);
	if (!r)
		return ABYSS_OK;
	wsize = q > (double)m ? m + 1 : (size_t)q;
	r->start = s;
	r->len = m;
	r->wsize = wsize;
	d[0] = NAN;
	for (j = 1; j < m; j++)
		d[j] = rnd(dt, rnd(dt, tq[s + j] - tq[s + j - 1]) /
				   rnd(dt, p[s + j] - p[s + j - 1]));
	rmedian_run(d, m, wsize, win, med, mean);
	argminmax(mean, m, &r->meanmin, &r->meanmax);
	argminmax(med, m, &r->medianmin, &r->medianmax);
	if (r->meanmin < 0 || r->meanmax < 0 || r->medianmin < 0 ||
	    r->medianmax < 0) {
		r->meanmin = r->meanmax = r->medianmin = r->medianmax = -1;
		return ABYSS_OK;
	}
	r->meanmin += (long)s;
	r->meanmax += (long)s;
	r->medianmin += (long)s;
	r->medianmax += (long)s;
	return ABYSS_OK;
}

static int pseg_core(const double *torque, const double *pos, size_t n,
		     double bit_depth, enum abyss_compat_stat stat,
		     enum abyss_compat_dtype dt, double *work,
		     double out_pos[3], long out_index[3], char *why)
{
	double *p = work, *tq = work + n, *w = work + 2 * n;
	struct pseg seg[3] = {{-1, -1, -1, -1, 0, 0, 0},
			      {-1, -1, -1, -1, 0, 0, 0},
			      {-1, -1, -1, -1, 0, 0, 0}};
	size_t i, s, nseg = 0;
	long ix[3];
	int rc;

	for (i = 0; i < n; i++) {
		p[i] = rnd(dt, pos[i]);
		tq[i] = rnd(dt, torque[i]);
	}
	/* segments start at every position decrease; the l_idx loop visits
	 * every one of them (its errors come first), statistics matter only
	 * for segments 0..2 */
	for (s = 0, i = 1; n > 0 && i <= n; i++) {
		if (i < n && !(rnd(dt, p[i] - p[i - 1]) < 0))
			continue;
		rc = pseg_one(p, tq, s, i, nseg, bit_depth, dt, w,
			      nseg < 3 ? &seg[nseg] : NULL, why);
		if (rc)
			return rc;
		nseg++;
		s = i;
	}
	/* the respos loop: segments 0, 1, 2 must exist and have statistics */
	for (i = 0; i < 3; i++) {
		if (i >= nseg)
			return why_set(why, ABYSS_ESHORT,
				       "found %zu position segment(s); the "
				       "method needs 3",
				       nseg);
		if (seg[i].meanmin < 0)
			return why_set(why, ABYSS_ESHORT,
				       "position segment %zu (%zu samples "
				       "from sample %zu) has no full %zu-"
				       "sample window of finite gradients",
				       i, seg[i].len, seg[i].start,
				       seg[i].wsize);
	}
	if (stat == ABYSS_COMPAT_STAT_MEAN) {
		ix[0] = seg[1].meanmax;
		ix[1] = seg[2].meanmax;
		ix[2] = seg[2].meanmin;
	} else if (stat == ABYSS_COMPAT_STAT_MEDIAN) {
		ix[0] = seg[1].medianmax;
		ix[1] = seg[2].medianmax;
		ix[2] = seg[2].medianmin;
	} else {
		return why_set(why, ABYSS_EINVAL,
			       "stat must be either mean or median");
	}
	for (i = 0; i < 3; i++) {
		out_index[i] = ix[i];
		out_pos[i] = p[ix[i]];
	}
	/* the original's asserts, in float32 for a float32 column */
	if (!(rnd(dt, out_pos[2] - out_pos[0]) > 0))
		return why_set(why, ABYSS_ERANGE,
			       "Depth estimate is negative, check the data");
	if (!(rnd(dt, out_pos[1] - out_pos[0]) > 0))
		return why_set(why, ABYSS_ERANGE,
			       "CFRP depth estimate is negative, check the "
			       "data");
	if (!(rnd(dt, out_pos[2] - out_pos[1]) > 0))
		return why_set(why, ABYSS_ERANGE,
			       "Ti depth estimate is negative, check the data");
	if (!(out_pos[0] < out_pos[1] && out_pos[1] < out_pos[2]))
		return why_set(why, ABYSS_ERANGE,
			       "Estimated positions are not in the correct "
			       "order, check the data");
	return ABYSS_OK;
}

int abyss_compat_persegment(const double *torque, const double *pos, size_t n,
			    double bit_depth, enum abyss_compat_stat stat,
			    enum abyss_compat_dtype dt,
			    struct abyss_scratch *scratch, double out_pos[3],
			    long out_index[3], struct abyss_diag *diag)
{
	struct abyss_scratch local;
	char why[COMPAT__WHY_MAX];
	double *work;
	int rc = ABYSS_OK, i;

	if (!out_pos || !out_index || (n && (!torque || !pos)))
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "persegment: missing array or output");
	for (i = 0; i < 3; i++) {
		out_pos[i] = 0.0;
		out_index[i] = -1;
	}
	if (!(bit_depth > 0) || isinf(bit_depth))
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "persegment: bit depth must be a "
				      "positive number of mm");
	abyss_scratch_init(&local);
	if (!scratch)
		scratch = &local;
	/* p, tq, then one segment's d, mean, median and window */
	work =
	    block_get(scratch, bytes_of(6 * n + 1, sizeof(double)), &rc, why);
	if (work)
		rc = pseg_core(torque, pos, n, bit_depth, stat, dt, work,
			       out_pos, out_index, why);
	abyss_scratch_free(&local);
	if (rc) {
		for (i = 0; i < 3; i++) {
			out_pos[i] = 0.0;
			out_index[i] = -1;
		}
		return abyss_diag_set(diag, rc, 0, 0, "persegment: %s", why);
	}
	return ABYSS_OK;
}

/* ---- the compat estimator ----------------------------------------------- */

/*
 * Entry (§4.2) + transition (§4.3) as the original's production estimator
 * computed them; the exit comes from the segmented gradient method (§4.8),
 * because the original's exit network (cv4 weights, ref_15T.csv) is not
 * public. One scratch block serves all three steps, one after the other.
 */
int depth__compat(const struct abyss_hole *h, struct abyss_scratch *scratch,
		  struct abyss_estimate *out, struct abyss_diag *diag)
{
	enum abyss_compat_dtype dt;
	struct abyss_compat_segmented seg;
	char why[COMPAT__WHY_MAX];
	size_t n = h->n, need;
	double *work, pos = 0.0;
	long idx = -1;
	int rc = ABYSS_OK, rc_entry, rc_exit;

	(void)diag; /* the dispatcher reports the first failed keypoint */
	if (!h->position_mm || !h->torque_a || !h->torque_empty_a || !h->step) {
		depth__fail(&out->entry, ABYSS_EINVAL,
			    "the hole lacks position, torque or step arrays");
		return depth__fail(&out->exit, ABYSS_EINVAL,
				   "the hole lacks position, torque or step "
				   "arrays");
	}
	dt = h->float32_origin ? ABYSS_COMPAT_F32 : ABYSS_COMPAT_F64;
	need = seg_work(n);
	if (need < transition_work(n, ABYSS_COMPAT_TRANSITION_OFFSET))
		need = transition_work(n, ABYSS_COMPAT_TRANSITION_OFFSET);
	work = block_get(scratch, bytes_of(need + 1, sizeof(double)), &rc, why);
	if (!work) {
		depth__fail(&out->entry, rc, "%s", why);
		return depth__fail(&out->exit, rc, "%s", why);
	}

	/* the MQTT table held positions already made positive (-Trace) */
	rc_entry = entry_core(h->position_mm, h->torque_a, n, dt,
			      h->source == ABYSS_SOURCE_MQTT, &idx, &pos, why);
	if (rc_entry)
		depth__fail(&out->entry, rc_entry, "%s", why);
	else
		depth__set(&out->entry, idx, pos, 1.0);

	rc = transition_core(h->position_mm, h->torque_a, h->step, n,
			     ABYSS_COMPAT_TRANSITION_OFFSET, dt, work, &idx,
			     &pos, why);
	if (rc)
		depth__fail(&out->transition, rc, "%s", why);
	else
		depth__set(&out->transition, idx, pos, 1.0);

	seg_clear(&seg);
	rc_exit = seg_core(h->position_mm, h->torque_a, h->torque_empty_a,
			   h->step, n, dt, work, &seg, why);
	if (rc_exit) {
		depth__fail(&out->exit, rc_exit, "segmented exit: %s", why);
	} else {
		idx = seg.index[seg.npoints - 1];
		depth__set(&out->exit, idx, seg.pos_mm[seg.npoints - 1], 1.0);
	}
	out->nlayers = out->transition.found ? 2 : 0;
	return rc_entry ? rc_entry : rc_exit;
}
