/*
 * gradient.c - our own depth estimator (ABYSS_METHOD_GRADIENT).
 *
 * Torque is resampled on a fixed grid of *position* (so feed changes, pauses
 * and dwell do not distort it), step-change dips are bridged, the curve is
 * smoothed, and entry, exit and the strongest level change between them are
 * found on the whole stroke. Step numbers and stop codes are only hints; the
 * estimator works on one-step programs and programs that start at step 2.
 * Method, constants and limits: docs/gradient-estimator.md. No allocation
 * beyond the caller's abyss_scratch.
 */
#include "abyss/gradient.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "depth_internal.h"

#define GRAD__MAX_BOUNDS   64	/* step changes examined for dips */
#define GRAD__BASE_MM	   0.5	/* air stretch used for base and noise */
#define GRAD__HOLD_MM	   0.5	/* entry must stay engaged this long */
#define GRAD__GONE_MM	   0.8	/* exit: not engaged for this long after */
#define GRAD__DIP_MAX_MM   1.5	/* longest step-change dip bridged */
#define GRAD__GRAD_MM	   0.1	/* half-span of the central difference */
#define GRAD__RAMP_MAX_MM  2.5	/* longest plausible point ramp */
#define GRAD__EXIT_BACK_MM 1.5	/* exit: level compared with 1.5 mm back */
#define GRAD__EXIT_SHARE   0.08 /* exit: fell below 8 % of that level */
#define GRAD__TAIL_MM	   0.3	/* an exit needs this much data after it */
#define GRAD__AIR_MAX_A	   1.0	/* I Torque in air is ~0 (above no-load) */
#define GRAD__NOISE_FLOOR  0.05 /* A: below the ADC step (0.049 A) */

void abyss_gradient_defaults(struct abyss_gradient_opts *o)
{
	o->bin_mm = 0.02;
	o->smooth_mm = 0.14;
	o->min_layer_mm = 0.5;
	o->min_contrast = 0.35;
	o->max_depth_mm = 1000.0;
}

struct grad__ctx {
	const struct abyss_gradient_opts *o;
	size_t nb;
	double d0;   /* depth of bin 0 (mm) */
	double *sum; /* [nb] torque sum per bin, then the resampled torque */
	double *cnt; /* [nb] samples per bin (0: to be interpolated) */
	double *sm;  /* [nb] smoothed torque (A) */
	double *tmp; /* [nb] */
	double *g;   /* [nb] d(torque)/d(depth) (A/mm) */
	size_t nbound;
	size_t bound[GRAD__MAX_BOUNDS]; /* bins where the step changes */
};

static double grad__depth(const struct grad__ctx *c, size_t j)
{
	return c->d0 + (double)j * c->o->bin_mm;
}

static size_t grad__bins(const struct grad__ctx *c, double mm)
{
	double b = mm / c->o->bin_mm;

	return b < 1.0 ? 1 : (size_t)(b + 0.5);
}

/* Fills bins with cnt == 0 by linear interpolation between filled
 * neighbours (constant beyond the first/last filled bin). Returns the number
 * of filled bins. */
static size_t grad__interpolate(double *v, const double *cnt, size_t nb)
{
	size_t j, prev = (size_t)-1, filled = 0;

	for (j = 0; j < nb; j++) {
		if (cnt[j] <= 0.0)
			continue;
		filled++;
		if (prev == (size_t)-1) {
			size_t k;

			for (k = 0; k < j; k++)
				v[k] = v[j];
		} else if (j > prev + 1) {
			size_t k;
			double a = v[prev], b = v[j];

			for (k = prev + 1; k < j; k++)
				v[k] = a + (b - a) * (double)(k - prev) /
					       (double)(j - prev);
		}
		prev = j;
	}
	if (prev != (size_t)-1)
		for (j = prev + 1; j < nb; j++)
			v[j] = v[prev];
	return filled;
}

/* One centred boxcar of half-width hw (shrinking at the edges), src->dst. */
static void grad__boxcar(const double *src, double *dst, size_t nb, size_t hw)
{
	double acc = 0.0;
	size_t lo = 0, hi = 0, j; /* window [lo, hi) */

	for (j = 0; j < nb; j++) {
		size_t want_lo = j > hw ? j - hw : 0;
		size_t want_hi = j + hw + 1 < nb ? j + hw + 1 : nb;

		while (hi < want_hi)
			acc += src[hi++];
		while (lo < want_lo)
			acc -= src[lo++];
		dst[j] = acc / (double)(hi - lo);
	}
}

/* Median of v[0..n) by insertion sort into buf (n <= 64). */
static double grad__median_small(const double *v, size_t n, double *buf)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		double x = v[i];

		for (j = i; j > 0 && buf[j - 1] > x; j--)
			buf[j] = buf[j - 1];
		buf[j] = x;
	}
	return n & 1 ? buf[n / 2] : 0.5 * (buf[n / 2 - 1] + buf[n / 2]);
}

static double grad__mean(const double *v, size_t a, size_t b)
{
	double s = 0.0;
	size_t j;

	if (b <= a)
		return 0.0;
	for (j = a; j < b; j++)
		s += v[j];
	return s / (double)(b - a);
}

static double grad__clamp01(double x)
{
	return x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x;
}

/* Resamples torque on the depth grid. Samples that go back (retract) are
 * left out: only a sample at or beyond the deepest point so far counts. */
static int grad__resample(struct grad__ctx *c, const struct abyss_hole *h,
			  const double *depth_sign, struct abyss_scratch *s,
			  struct abyss_estimate *out)
{
	double sign = *depth_sign, dmax = -INFINITY, dmin = INFINITY, run;
	size_t i, nb, j;
	int32_t prev_step = 0;
	int have_prev = 0;
	double *mem;

	run = -INFINITY;
	for (i = 0; i < h->n; i++) {
		double d = sign * h->position_mm[i];

		if (!isfinite(d) || !isfinite(h->torque_a[i]))
			continue;
		if (d >= run - 0.02) {
			if (d > run)
				run = d;
			dmin = d < dmin ? d : dmin;
		}
	}
	dmax = run;
	if (!(dmax > dmin))
		return depth__fail(&out->entry, ABYSS_ESHORT,
				   "the drill does not advance: position "
				   "never increases");
	if (dmax - dmin > c->o->max_depth_mm)
		return depth__fail(&out->entry, ABYSS_ETOOBIG,
				   "stroke of %.1f mm exceeds the %.0f mm "
				   "limit",
				   dmax - dmin, c->o->max_depth_mm);
	nb = (size_t)((dmax - dmin) / c->o->bin_mm) + 1;
	if (nb < 8)
		return depth__fail(&out->entry, ABYSS_ESHORT,
				   "stroke of %.3f mm is too short to analyse",
				   dmax - dmin);
	mem = abyss_scratch_get(s, 5 * nb * sizeof(double));
	if (!mem)
		return depth__fail(&out->entry, ABYSS_ENOMEM,
				   "no scratch memory for %zu points", nb);
	c->nb = nb;
	c->d0 = dmin;
	c->sum = mem;
	c->cnt = mem + nb;
	c->sm = mem + 2 * nb;
	c->tmp = mem + 3 * nb;
	c->g = mem + 4 * nb;
	memset(mem, 0, 2 * nb * sizeof(double));
	c->nbound = 0;
	run = -INFINITY;
	for (i = 0; i < h->n; i++) {
		double d = sign * h->position_mm[i];

		if (!isfinite(d) || !isfinite(h->torque_a[i]) || d < run - 0.02)
			continue;
		if (d > run)
			run = d;
		j = (size_t)((d - dmin) / c->o->bin_mm + 0.5);
		j = j >= nb ? nb - 1 : j;
		c->sum[j] += h->torque_a[i];
		c->cnt[j] += 1.0;
		if (have_prev && h->step[i] != prev_step &&
		    c->nbound < GRAD__MAX_BOUNDS)
			c->bound[c->nbound++] = j;
		prev_step = h->step[i];
		have_prev = 1;
	}
	for (j = 0; j < nb; j++)
		if (c->cnt[j] > 0.0)
			c->sum[j] /= c->cnt[j];
	grad__interpolate(c->sum, c->cnt, nb);
	return ABYSS_OK;
}

/* A step change often stops the spindle for a moment: torque falls to zero
 * and comes back within a few tenths of a mm. Such a dip is bridged by
 * interpolation so it is neither an exit nor a transition. A fall that does
 * not recover within GRAD__DIP_MAX_MM is left alone (it may be the exit). */
static size_t grad__bridge_dips(struct grad__ctx *c, double thr)
{
	size_t k, nrep = 0, back = grad__bins(c, 0.4);
	size_t near = grad__bins(c, 0.3), skip = grad__bins(c, 0.05);
	size_t span = grad__bins(c, GRAD__DIP_MAX_MM),
	       hold = grad__bins(c, 0.15);

	for (k = 0; k < c->nbound; k++) {
		size_t b = c->bound[k], j, end, start, m;
		double lvl;

		/* the controller may log the stop a sample early or step back
		 * a little, so the dip is looked for within 0.3 mm of the
		 * boundary, against the level before that */
		if (b < back + near)
			continue;
		lvl = grad__mean(c->sum, b - near - back, b - near);
		if (lvl < thr)
			continue;
		end = b + near < c->nb ? b + near : c->nb;
		for (start = b - near; start < end; start++)
			if (c->sum[start] < 0.5 * lvl)
				break;
		if (start == end)
			continue;
		end = start + span < c->nb ? start + span : c->nb;
		for (j = start; j < end; j++) { /* a recovery that holds */
			size_t q = j;

			while (q < end && q < j + hold &&
			       c->sum[q] >= 0.5 * lvl)
				q++;
			if (q == j + hold)
				break;
		}
		if (j == end)
			continue; /* no recovery: maybe the exit */
		for (m = start > skip ? start - skip : 0; m < j; m++)
			c->cnt[m] = 0.0;
		nrep++;
	}
	if (nrep)
		grad__interpolate(c->sum, c->cnt, c->nb);
	return nrep;
}

static void grad__smooth_and_differentiate(struct grad__ctx *c)
{
	size_t hw = grad__bins(c, c->o->smooth_mm),
	       k = grad__bins(c, GRAD__GRAD_MM);
	size_t j, nb = c->nb;

	grad__boxcar(c->sum, c->tmp, nb, hw);
	grad__boxcar(c->tmp, c->sm, nb, hw);
	for (j = 0; j < nb; j++) {
		size_t a = j >= k ? j - k : 0, b = j + k < nb ? j + k : nb - 1;

		c->g[j] =
		    (c->sm[b] - c->sm[a]) / ((double)(b - a) * c->o->bin_mm);
	}
}

/* Best split of sm[a, b) into two constant levels (least squares); returns
 * the first bin of the second level and fills the levels and r^2. */
static size_t grad__split(const struct grad__ctx *c, size_t a, size_t b,
			  size_t minlen, double *mu1, double *mu2, double *r2)
{
	double tot = 0.0, tot2 = 0.0, left = 0.0, best = -1.0;
	size_t j, bestj = 0, n = b - a;

	for (j = a; j < b; j++) {
		tot += c->sm[j];
		tot2 += c->sm[j] * c->sm[j];
	}
	for (j = a; j + 1 < b; j++) {
		size_t n1 = j + 1 - a, n2 = n - n1;
		double gain;

		left += c->sm[j];
		if (n1 < minlen || n2 < minlen)
			continue;
		gain = left * left / (double)n1 +
		       (tot - left) * (tot - left) / (double)n2;
		if (gain > best) {
			best = gain;
			bestj = j + 1;
			*mu1 = left / (double)n1;
			*mu2 = (tot - left) / (double)n2;
		}
	}
	if (best < 0.0)
		return 0;
	{
		double sst = tot2 - tot * tot / (double)n;
		double sse = tot2 - best;

		*r2 = sst > 1e-12 ? 1.0 - sse / sst : 0.0;
	}
	return bestj;
}

/* Where the tangent at bin m meets the level before the change. That level
 * is the lowest (for a rise; highest for a fall) smoothed value within one
 * longest ramp before m, but not before bin lo: on a rise from a flat level
 * it is that level, and a gap before the rise (data0: two parts with air
 * between them) counts as the level. On a linear ramp every m gives the same
 * onset, so a flat gradient maximum does not matter. */
static double grad__onset(const struct grad__ctx *c, size_t m, size_t lo,
			  double *level)
{
	size_t w = grad__bins(c, GRAD__RAMP_MAX_MM + 0.25), a, j;
	int rising = c->g[m] > 0.0;
	double lead;

	a = m > w ? m - w : 0;
	a = a < lo ? lo : a;
	a = a > m ? m : a;
	*level = c->sm[a];
	for (j = a; j <= m; j++)
		if (rising ? c->sm[j] < *level : c->sm[j] > *level)
			*level = c->sm[j];
	lead = c->g[m] != 0.0 ? (c->sm[m] - *level) / c->g[m] : 0.0;
	lead = lead < 0.0		  ? 0.0
	       : lead > GRAD__RAMP_MAX_MM ? GRAD__RAMP_MAX_MM
					  : lead;
	return grad__depth(c, m) - lead;
}

/* Where the change at bin m leaves `level`: a least-squares line through the
 * steep core of the change (the contiguous bins around m whose gradient is at
 * least 70 % of m's, within [lo, hi)) is extended back to the level. Fitting
 * the core rather than taking the tangent at the single steepest bin removes
 * most of the bias of picking a noise maximum (a steeper tangent meets the
 * level too late): entry error on simulated holes 0.11 -> 0.03 mm. A wider
 * core (50 %) is better still on the simulator's linear ramps but follows the
 * bent real ramps (TUHH) less consistently (docs/gradient-eval.md). Falls
 * back to the tangent on a core of under 4 bins. */
static double grad__fit_onset(const struct grad__ctx *c, size_t m, double level,
			      size_t lo, size_t hi)
{
	double sgn = c->g[m] > 0.0 ? 1.0 : -1.0, half = 0.7 * fabs(c->g[m]);
	double sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0, n, slope, icpt, x;
	size_t a = m, b = m, j;

	while (a > lo && sgn * c->g[a - 1] >= half)
		a--;
	while (b + 1 < hi && sgn * c->g[b + 1] >= half)
		b++;
	x = c->g[m] != 0.0 ? grad__depth(c, m) - (c->sm[m] - level) / c->g[m]
			   : grad__depth(c, m);
	if (b < a + 3)
		return x;
	for (j = a; j <= b; j++) {
		double xj = (double)(j - a) * c->o->bin_mm;

		sx += xj;
		sy += c->sm[j];
		sxx += xj * xj;
		sxy += xj * c->sm[j];
	}
	n = (double)(b - a + 1);
	slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
	if (!(sgn * slope > 0.0))
		return x;
	icpt = (sy - slope * sx) / n;
	x = grad__depth(c, a) + (level - icpt) / slope;
	if (x > grad__depth(c, m))
		x = grad__depth(c, m);
	if (x < grad__depth(c, m) - GRAD__RAMP_MAX_MM)
		x = grad__depth(c, m) - GRAD__RAMP_MAX_MM;
	return x;
}

/* A step change that stops the spindle in the middle of the exit ramp (a
 * TORQUE_MIN trigger fires there) cuts the ramp off with a cliff, and the
 * cliff is steeper than the ramp. When the steepest fall j sits on a step
 * boundary and the torque was already falling before it, the steepest point
 * before the boundary is used instead: its tangent still finds the onset. */
static size_t grad__exit_before_step(const struct grad__ctx *c, size_t a,
				     size_t j, size_t *limit)
{
	size_t near = grad__bins(c, 0.3), k, i, j2;

	for (k = 0; k < c->nbound; k++) {
		size_t bb = c->bound[k];

		if (bb + near < j || bb > j + near || bb < a + 2 * near)
			continue;
		j2 = a;
		for (i = a; i < bb - near; i++)
			if (c->g[i] < c->g[j2])
				j2 = i;
		if (c->g[j2] < 0.25 * c->g[j]) {
			*limit = bb - near;
			return j2;
		}
	}
	return j;
}

static int grad__has_stop(const struct abyss_hole *h, double sign, double lo,
			  double hi, uint32_t bits)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		double d = sign * h->position_mm[i];

		if ((h->stop_code[i] & bits) && d >= lo && d <= hi)
			return 1;
	}
	return 0;
}

int abyss_gradient_estimate(const struct abyss_hole *h,
			    const struct abyss_gradient_opts *o,
			    struct abyss_scratch *scratch,
			    struct abyss_estimate *out,
			    struct abyss_gradient_info *info,
			    struct abyss_diag *diag)
{
	struct abyss_gradient_opts defaults;
	struct abyss_gradient_info inf;
	struct abyss_scratch local;
	struct grad__ctx c;
	double sign, first = 0.0, buf[64], dev[64], thr, hr, smax, lvl;
	double d_entry, d_exit;
	size_t i, j, nbase, cross, hold, me, mx, lo, hi, gone, back, limit;
	int tail = 0;
	int rc;

	abyss_estimate_clear(out, ABYSS_METHOD_GRADIENT);
	memset(&inf, 0, sizeof(inf));
	if (info)
		*info = inf;
	if (!o) {
		abyss_gradient_defaults(&defaults);
		o = &defaults;
	}
	if (!h || !(o->bin_mm > 0.0) || !(o->smooth_mm >= 0.0))
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "no hole or bad gradient options");
	if (h->n < 8) {
		depth__fail(&out->exit, ABYSS_ESHORT, "only %zu samples", h->n);
		return abyss_diag_set(diag,
				      depth__fail(&out->entry, ABYSS_ESHORT,
						  "only %zu samples", h->n),
				      0, 0, "entry: only %zu samples", h->n);
	}
	abyss_scratch_init(&local);
	if (!scratch)
		scratch = &local;
	memset(&c, 0, sizeof(c));
	c.o = o;

	/* depth is positive inward whatever the file's sign convention:
	 * the original negates when the first 200 positions sum below 0 */
	for (i = 0; i < h->n && i < 200; i++)
		if (isfinite(h->position_mm[i]))
			first += h->position_mm[i];
	sign = first < 0.0 ? -1.0 : 1.0;

	rc = grad__resample(&c, h, &sign, scratch, out);
	if (rc)
		goto fail_both;
	inf.nbins = c.nb;

	/* air level and its noise from the first half mm */
	nbase = grad__bins(&c, GRAD__BASE_MM);
	nbase = nbase > 64 ? 64 : nbase;
	nbase = nbase > c.nb / 4 ? c.nb / 4 : nbase;
	nbase = nbase < 2 ? 2 : nbase;
	inf.base_a = grad__median_small(c.sum, nbase, buf);
	for (j = 0; j < nbase; j++)
		dev[j] = fabs(c.sum[j] - inf.base_a);
	inf.noise_a = 1.4826 * grad__median_small(dev, nbase, buf);
	if (inf.noise_a < GRAD__NOISE_FLOOR)
		inf.noise_a = GRAD__NOISE_FLOOR;

	/* a first smoothing only to size the threshold */
	grad__smooth_and_differentiate(&c);
	smax = c.sm[0];
	for (j = 1; j < c.nb; j++)
		smax = c.sm[j] > smax ? c.sm[j] : smax;
	thr = fmax(fmax(0.4, 4.0 * inf.noise_a), 0.06 * (smax - inf.base_a));
	inf.threshold_a = inf.base_a + thr;
	inf.repaired_dips = grad__bridge_dips(&c, inf.threshold_a);
	if (inf.repaired_dips)
		grad__smooth_and_differentiate(&c);

	/* entry: first crossing of the threshold that holds */
	hold = grad__bins(&c, GRAD__HOLD_MM);
	cross = c.nb;
	for (j = 0; j < c.nb; j++) {
		size_t k, end = j + hold < c.nb ? j + hold : c.nb;

		if (c.sm[j] <= inf.threshold_a)
			continue;
		for (k = j; k < end && c.sm[k] > inf.threshold_a; k++)
			;
		if (k == end) {
			cross = j;
			break;
		}
		j = k;
	}
	if (cross == c.nb) {
		rc = depth__fail(&out->entry, ABYSS_ENOTFOUND,
				 "torque never rises above the air level "
				 "(%.2f A) by %.2f A for %.1f mm",
				 inf.base_a, thr, GRAD__HOLD_MM);
		goto fail_exit_too;
	}
	if (cross < nbase || inf.base_a > GRAD__AIR_MAX_A) {
		rc = depth__fail(&out->entry, ABYSS_ENOTFOUND,
				 "torque is already %.2f A at the first "
				 "samples: the hole starts inside the part",
				 c.sm[0]);
		goto fail_exit_too;
	}
	/* steepest rise near the crossing (the middle of the point ramp) */
	lo = cross > grad__bins(&c, 1.0) ? cross - grad__bins(&c, 1.0) : 0;
	/* the crossing is low on the ramp, so its middle is at most half a
	 * ramp further; a wider window would reach a thin layer's next rise */
	hi = cross + grad__bins(&c, 0.5 * GRAD__RAMP_MAX_MM + 0.1);
	hi = hi < c.nb ? hi : c.nb;
	me = lo;
	for (j = lo; j < hi; j++)
		if (c.g[j] > c.g[me])
			me = j;
	if (!(c.g[me] > 0.0)) {
		rc = depth__fail(&out->entry, ABYSS_ENOTFOUND,
				 "no rising torque near %.2f mm",
				 grad__depth(&c, cross));
		goto fail_exit_too;
	}
	hr = (c.sm[me] - inf.base_a) / c.g[me];
	hr = hr < 0.0 ? 0.0 : hr > GRAD__RAMP_MAX_MM ? GRAD__RAMP_MAX_MM : hr;
	inf.half_ramp_mm = hr;
	d_entry = grad__fit_onset(&c, me, inf.base_a, lo, c.nb);
	hr = grad__depth(&c, me) - d_entry;
	inf.half_ramp_mm = hr;
	{
		size_t pe = me + grad__bins(&c, GRAD__RAMP_MAX_MM) < c.nb
				? me + grad__bins(&c, GRAD__RAMP_MAX_MM)
				: c.nb - 1;
		double plateau = c.sm[pe] - inf.base_a;

		depth__set(
		    &out->entry, (long)me, d_entry,
		    grad__clamp01(plateau / (plateau + 8.0 * inf.noise_a)));
	}

	/* exit: the first fall below the threshold after which the torque
	 * stays low for GRAD__GONE_MM (or the data ends) */
	gone = grad__bins(&c, GRAD__GONE_MM);
	back = grad__bins(&c, GRAD__EXIT_BACK_MM);
	mx = c.nb;
	for (j = cross + hold; j < c.nb; j++) {
		size_t k, end = j + gone < c.nb ? j + gone : c.nb;
		/* low means below the engaged threshold, or below a share of
		 * the level a little earlier: margins rubbing in the hole can
		 * leave a few A after the break-through (TUHH) */
		double ref = c.sm[j >= back ? j - back : 0] - inf.base_a;
		double low = inf.base_a + fmax(thr, GRAD__EXIT_SHARE * ref);

		if (c.sm[j] > low)
			continue;
		for (k = j; k < end && c.sm[k] <= low; k++)
			;
		if (k == end && k - j >= grad__bins(&c, GRAD__TAIL_MM)) {
			mx = j;
			break;
		}
		j = k;
	}
	if (mx == c.nb) {
		/* the data may end during a slow decay after the break-through
		 * (TUHH V6/V9: 16 A -> 7 A, then a tail of chips and margins
		 * down to 1-2 A when the record stops). Accept the steepest
		 * fall when the torque never rises again and ends below a
		 * quarter of its level before the fall. */
		size_t m = cross + hold < c.nb ? cross + hold : c.nb - 1, k;
		double pre, top;

		/* the fall comes after the highest torque: an unbridged dip
		 * at an earlier step change (TUHH V6_122) is not the exit */
		for (j = m; j < c.nb; j++)
			if (c.sm[j] > c.sm[m])
				m = j;
		for (j = m; j < c.nb; j++)
			if (c.g[j] < c.g[m])
				m = j;
		k = m > back ? m - back : 0;
		pre = c.sm[k > cross ? k : cross] - inf.base_a;
		top = c.sm[m];
		for (j = m; j < c.nb; j++)
			top = c.sm[j] > top ? c.sm[j] : top;
		if (c.g[m] < 0.0 && m + grad__bins(&c, GRAD__TAIL_MM) < c.nb &&
		    c.sm[c.nb - 1] - inf.base_a <= 0.25 * pre &&
		    top <= c.sm[m] + 0.05 * pre) {
			mx = m;
			tail = 1;
		}
	}
	if (mx == c.nb) {
		rc = depth__fail(&out->exit, ABYSS_ENOTFOUND,
				 "torque is still %.2f A at the end of the "
				 "stroke (%.2f mm): the drill did not break "
				 "through",
				 c.sm[c.nb - 1], grad__depth(&c, c.nb - 1));
		/* still look for a transition up to the end of the data */
		d_exit = grad__depth(&c, c.nb - 1) + 0.2;
	} else {
		size_t a = mx > grad__bins(&c, GRAD__RAMP_MAX_MM)
			       ? mx - grad__bins(&c, GRAD__RAMP_MAX_MM)
			       : 0;
		size_t b = mx + grad__bins(&c, 0.5);
		double before, after, conf;
		tail |= mx + gone >= c.nb;

		a = a < me ? me : a;
		b = b < c.nb ? b : c.nb;
		j = a;
		for (i = a; i < b; i++)
			if (c.g[i] < c.g[j])
				j = i;
		limit = c.nb;
		j = grad__exit_before_step(&c, a, j, &limit);
		before = c.sm[a];
		after = c.sm[b - 1];
		conf = grad__clamp01((before - after) /
				     (before - after + 8.0 * inf.noise_a));
		if (tail)
			conf *= 0.6; /* little data after the exit */
		if (grad__has_stop(h, sign, grad__depth(&c, j),
				   grad__depth(&c, j) + 3.0, 0x800))
			conf = fmin(1.0, conf + 0.1); /* TORQUE_MIN agrees */
		mx = j;
		grad__onset(&c, mx, me, &lvl);
		d_exit = grad__fit_onset(&c, mx, lvl, a, limit);
		depth__set(&out->exit, (long)mx, d_exit, conf);
	}

	/* transition: the strongest two-level split of the engaged part */
	out->nlayers = 1;
	{
		/* from the end of the longest entry ramp to the exit onset */
		size_t a = (size_t)((d_entry + GRAD__RAMP_MAX_MM - 0.5 - c.d0) /
				    o->bin_mm);
		size_t b = d_exit - 0.2 > c.d0
			       ? (size_t)((d_exit - 0.2 - c.d0) / o->bin_mm)
			       : 0;
		size_t minlen = grad__bins(&c, o->min_layer_mm), split;
		double mu1 = 0.0, mu2 = 0.0, r2 = 0.0, contrast;

		if (b <= a || b - a < 2 * minlen) {
			depth__fail(&out->transition, ABYSS_ENOTFOUND,
				    "the stack (%.2f mm) is too thin to "
				    "hold two layers",
				    out->exit.pos_mm - out->entry.pos_mm);
			goto done;
		}
		split = grad__split(&c, a, b, minlen, &mu1, &mu2, &r2);
		contrast =
		    fabs(mu2 - mu1) / fmax(fmax(fabs(mu1), fabs(mu2)), 0.5);
		inf.level1_a = mu1;
		inf.level2_a = mu2;
		inf.contrast = contrast;
		inf.r2 = r2;
		if (split == 0 || contrast < o->min_contrast || r2 < 0.5) {
			depth__fail(&out->transition, ABYSS_ENOTFOUND,
				    "one layer: no level change between "
				    "entry and exit (best split %.1f A to "
				    "%.1f A, contrast %.2f < %.2f or fit "
				    "r2 %.2f < 0.5)",
				    mu1, mu2, contrast, o->min_contrast, r2);
			goto done;
		}
		/* steepest change of the right sign near the split */
		{
			size_t w = grad__bins(&c, 1.5), s0, s1, t;
			double dir = mu2 > mu1 ? 1.0 : -1.0;

			s0 = split > a + w ? split - w : a;
			s1 = split + w < b ? split + w : b;
			t = s0;
			for (j = s0; j < s1; j++)
				if (dir * c.g[j] > dir * c.g[t])
					t = j;
			grad__onset(&c, t, a, &lvl);
			depth__set(&out->transition, (long)t,
				   grad__fit_onset(&c, t, lvl, a, b),
				   grad__clamp01(contrast / 0.6) *
				       grad__clamp01(r2));
			out->nlayers = 2;
		}
	}
done:
	if (rc)
		goto fail;
	if (info)
		*info = inf;
	abyss_scratch_free(&local);
	return ABYSS_OK;

fail_both:
	depth__fail(&out->exit, out->entry.code, "%s", out->entry.reason);
	goto fail;
fail_exit_too:
	depth__fail(&out->exit, ABYSS_ENOTFOUND, "no entry, so no exit");
fail:
	if (info)
		*info = inf;
	abyss_scratch_free(&local);
	{
		const struct abyss_keypoint *k =
		    !out->entry.found ? &out->entry : &out->exit;

		return abyss_diag_set(diag, rc, 0, 0, "%s: %s",
				      !out->entry.found ? "entry" : "exit",
				      k->reason);
	}
}

int depth__gradient(const struct abyss_hole *h, struct abyss_scratch *scratch,
		    struct abyss_estimate *out, struct abyss_diag *diag)
{
	return abyss_gradient_estimate(h, NULL, scratch, out, NULL, diag);
}
