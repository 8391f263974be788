/*
 * sim.c - the drilling simulator: geometry, program execution, signals.
 *
 * A time loop at 100 Hz moves the drill tip through air and a stack of
 * layers under a program of steps, and writes one hole record plus the exact
 * tip positions at each interface. The signal model is deliberately simple
 * (docs/simulator.md): per-material levels scaled by feed per revolution,
 * linear ramps while the drill point crosses an interface, a dip after each
 * step change, noise and ADC quantisation. Writers live in sim_io.c.
 */
#include "abyss/sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim_internal.h"

#define SIM__HZ		  100.0
#define SIM__REF_FPR	  0.045	      /* mm/rev of the reference levels */
#define SIM__TQ_LSB	  0.048828125 /* 50 A / 1024: the torque ADC step */
#define SIM__TH_LSB	  0.01171875  /* 12 A / 1024: the thrust ADC step */
#define SIM__DIP_S	  0.4 /* torque recovery after a step change (s) */
#define SIM__RETRACT_MM_S 10.0

static const struct abyss_sim_material sim__materials[] = {
    {"CFRP", 5.0, 0.12, 0.03},
    {"Ti", 40.0, 1.0, 0.4},
    {"Al", 12.0, 0.35, 0.1},
};

const struct abyss_sim_material *abyss_sim_material_find(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < sizeof(sim__materials) / sizeof(sim__materials[0]); i++)
		if (strcasecmp(name, sim__materials[i].name) == 0)
			return &sim__materials[i];
	return NULL;
}

/* ---- random numbers: splitmix64 seeding, xoshiro256** ------------------ */

static uint64_t sim__splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void sim__rng_seed(struct sim__rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = sim__splitmix(&seed);
}

static uint64_t sim__rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t sim__rng_next(struct sim__rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = sim__rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = sim__rotl(s[3], 45);
	return out;
}

/* Uniform in (0, 1]. */
static double sim__uniform(struct sim__rng *r)
{
	return ((double)(sim__rng_next(r) >> 11) + 1.0) * 0x1.0p-53;
}

/* Standard normal (Box-Muller; the second value is thrown away so the
 * stream does not depend on call parity). */
static double sim__gauss(struct sim__rng *r)
{
	double u = sim__uniform(r), v = sim__uniform(r);

	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* ---- spec ------------------------------------------------------------ */

void abyss_sim_default(struct abyss_sim_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->nlayers = 2;
	snprintf(spec->layers[0].material, ABYSS_SIM_NAME_MAX, "CFRP");
	spec->layers[0].thickness_mm = 8.0;
	snprintf(spec->layers[1].material, ABYSS_SIM_NAME_MAX, "Ti");
	spec->layers[1].thickness_mm = 12.0;
	spec->nsteps = 4;
	spec->steps[0] = (struct abyss_sim_step){
	    0, 10.0, 4000.0, 3.0, ABYSS_SIM_TRIG_TORQUE_MAX, 0.3};
	spec->steps[1] = (struct abyss_sim_step){
	    1, 7.0, 4000.0, 3.0, ABYSS_SIM_TRIG_STROKE, 0.0};
	spec->steps[2] = (struct abyss_sim_step){
	    2, 35.0, 1000.0, 0.75, ABYSS_SIM_TRIG_TORQUE_MIN, 2.0};
	spec->steps[3] = (struct abyss_sim_step){
	    3, 1.0, 4000.0, 3.0, ABYSS_SIM_TRIG_STROKE, 0.0};
	spec->start_mm = 0.673;
	spec->approach_mm = 4.0;
	spec->diameter_mm = 6.35;
	spec->noise = 1.0;
	spec->dwell_s = 0.2;
	spec->retract_mm = 0.5;
	spec->burr_mm = 0.2;
}

static int sim__bad(double x, double lo, double hi)
{
	return !(x >= lo && x <= hi);
}

int abyss_sim_validate(const struct abyss_sim_spec *spec,
		       struct abyss_diag *diag)
{
	size_t i;

	if (!spec)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0, "no spec");
	if (spec->nlayers < 1 || spec->nlayers > ABYSS_SIM_MAX_LAYERS)
		return abyss_diag_set(diag, ABYSS_ECONFIG, 0, 0,
				      "a stack needs 1 to %d layers, not %zu",
				      ABYSS_SIM_MAX_LAYERS, spec->nlayers);
	if (spec->nsteps < 1 || spec->nsteps > ABYSS_SIM_MAX_STEPS)
		return abyss_diag_set(diag, ABYSS_ECONFIG, 0, 0,
				      "a program needs 1 to %d steps, not %zu",
				      ABYSS_SIM_MAX_STEPS, spec->nsteps);
	for (i = 0; i < spec->nlayers; i++) {
		const struct abyss_sim_layer *l = &spec->layers[i];

		if (!abyss_sim_material_find(l->material))
			return abyss_diag_set(
			    diag, ABYSS_ECONFIG, 0, 0,
			    "layer %zu: unknown material '%s' (CFRP, Ti, Al)",
			    i + 1, l->material);
		if (sim__bad(l->thickness_mm, 0.1, 200.0))
			return abyss_diag_set(
			    diag, ABYSS_ECONFIG, 0, 0,
			    "layer %zu: thickness must be 0.1..200 mm", i + 1);
	}
	for (i = 0; i < spec->nsteps; i++) {
		const struct abyss_sim_step *s = &spec->steps[i];

		if (sim__bad(s->stroke_mm, 0.01, 500.0) ||
		    sim__bad(s->rpm, 10.0, 30000.0) ||
		    sim__bad(s->feed_mm_s, 0.01, 50.0) ||
		    sim__bad(s->trigger_a, 0.0, 100.0) || s->step < 0 ||
		    s->step > 99 || (int)s->trigger < 0 ||
		    s->trigger > ABYSS_SIM_TRIG_TORQUE_MIN)
			return abyss_diag_set(
			    diag, ABYSS_ECONFIG, 0, 0,
			    "program step %zu: stroke 0.01..500 mm, rpm "
			    "10..30000, feed 0.01..50 mm/s, trigger level "
			    "0..100 A, step number 0..99",
			    i + 1);
	}
	if (sim__bad(spec->start_mm, 0.0, 100.0) ||
	    sim__bad(spec->approach_mm, 0.0, 200.0) ||
	    sim__bad(spec->air_gap_mm, 0.0, 50.0) ||
	    sim__bad(spec->diameter_mm, 0.5, 50.0) ||
	    sim__bad(spec->noise, 0.0, 20.0) ||
	    sim__bad(spec->dwell_s, 0.0, 60.0) ||
	    sim__bad(spec->retract_mm, 0.0, 200.0) ||
	    sim__bad(spec->burr_mm, 0.0, 5.0))
		return abyss_diag_set(
		    diag, ABYSS_ECONFIG, 0, 0,
		    "start 0..100 mm, approach 0..200 mm, air gap 0..50 mm, "
		    "diameter 0.5..50 mm, noise 0..20, dwell 0..60 s, retract "
		    "0..200 mm, burr 0..5 mm");
	return ABYSS_OK;
}

/* ---- geometry -------------------------------------------------------- */

struct sim__geom {
	size_t n;
	double top[ABYSS_SIM_MAX_LAYERS]; /* depth of each layer's top (mm) */
	double bot[ABYSS_SIM_MAX_LAYERS];
	const struct abyss_sim_material *mat[ABYSS_SIM_MAX_LAYERS];
	double ramp; /* axial length of the drill point (mm) */
	double burr; /* extra exit travel at a reduced level */
};

static double sim__overlap(double a0, double a1, double b0, double b1)
{
	double lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;

	return hi > lo ? hi - lo : 0.0;
}

/* Clean torque and thrust (A) at reference feed scale 1 for the tip at z:
 * each layer contributes its level times the share of the cutting lips
 * inside it (the point spans [z - ramp, z]), plus margin friction for the
 * full-diameter depth already in it. */
static void sim__levels(const struct sim__geom *g, double z, double *tq,
			double *th)
{
	size_t i;
	double t = 0.0, f = 0.0;

	for (i = 0; i < g->n; i++) {
		double bot = g->bot[i];
		double lip =
		    sim__overlap(z - g->ramp, z, g->top[i], bot) / g->ramp;
		double full = sim__overlap(-1e9, z - g->ramp, g->top[i], bot);

		if (i + 1 == g->n && g->burr > 0.0) /* the burr: 25 % level */
			lip +=
			    0.25 *
			    sim__overlap(z - g->ramp, z, bot, bot + g->burr) /
			    g->ramp;
		t += lip * g->mat[i]->torque_a +
		     (lip > 0.0 ? full * g->mat[i]->friction_a_per_mm : 0.0);
		f += lip * g->mat[i]->thrust_a;
	}
	*tq = t;
	*th = f;
}

static double sim__round3(double x)
{
	return nearbyint(x * 1000.0) / 1000.0;
}

static double sim__quant(double x, double lsb)
{
	return sim__round3(nearbyint(x / lsb) * lsb);
}

/* ---- the time loop --------------------------------------------------- */

struct sim__state {
	const struct abyss_sim_spec *spec;
	struct sim__geom g;
	struct sim__rng rng;
	double wander; /* slow AR(1) drift of the torque (relative) */
};

/* Emits (or, with h == NULL, only counts) the samples; returns the count or
 * a negative error. Running the loop twice (count, then fill) keeps the hole
 * in one exact allocation and the RNG stream identical in both passes. */
static long sim__run(struct sim__state *st, struct abyss_hole *h)
{
	const struct abyss_sim_spec *sp = st->spec;
	double z = sp->start_mm, t_step;
	long n = 0;
	size_t k;
	uint32_t code = 0;

	for (k = 0; k < sp->nsteps; k++) {
		const struct abyss_sim_step *s = &sp->steps[k];
		double fpr = s->feed_mm_s / (s->rpm / 60.0);
		double scale = pow(fpr / SIM__REF_FPR, 0.8);
		double tq_empty = sim__round3(2.5 + 0.00065 * s->rpm);
		double th_empty = sim__round3(0.1 + 0.00006 * s->rpm);
		double z0 = z, dz = s->feed_mm_s / SIM__HZ;
		double tq_max = 0.0, th_max = 0.0;
		int armed = 0, last = (k + 1 == sp->nsteps);
		int dip = k > 0 &&
			  fabs(sp->steps[k - 1].rpm - s->rpm) > 0.05 * s->rpm;
		long first = n;

		t_step = 0.0;
		for (;;) {
			double tq, th, rec, ntq, nth;

			sim__levels(&st->g, z, &tq, &th);
			/* the spindle changing speed drops the torque for a
			 * moment (MDB, HAM: 4000 -> 1000 rpm); no change, no
			 * dip */
			rec = dip ? t_step / SIM__DIP_S : 1.0;
			rec = rec > 1.0 ? 1.0 : rec;
			tq *= scale * rec;
			th *= scale * rec;
			st->wander = 0.98 * st->wander +
				     0.004 * sp->noise * sim__gauss(&st->rng);
			ntq = tq * (1.0 + st->wander) +
			      sp->noise * (0.04 + 0.025 * tq) *
				  sim__gauss(&st->rng);
			nth = th + sp->noise * (0.006 + 0.03 * th) *
				       sim__gauss(&st->rng);
			if (n >= ABYSS_SIM_MAX_SAMPLES)
				return ABYSS_ETOOBIG;
			if (h) {
				double q = sim__quant(ntq, SIM__TQ_LSB);

				h->position_mm[n] = -sim__round3(z);
				h->torque_a[n] = q;
				h->thrust_a[n] = sim__quant(nth, SIM__TH_LSB);
				h->torque_empty_a[n] = tq_empty;
				h->thrust_empty_a[n] = th_empty;
				h->power_w[n] = sim__round3(nearbyint(
				    (q + tq_empty) * s->rpm * 0.0045));
				h->gap_mm[n] = 0.0;
				h->step[n] = s->step;
				h->stop_code[n] = 0;
			}
			tq_max = ntq > tq_max ? ntq : tq_max;
			th_max = nth > th_max ? nth : th_max;
			n++;
			/* triggers look at the clean signal: the controller
			 * filters, and a noisy trigger would make the step
			 * boundaries jitter more than in the real files */
			if (s->trigger == ABYSS_SIM_TRIG_TORQUE_MAX &&
			    tq > s->trigger_a) {
				code = 0x1;
				break;
			}
			if (s->trigger == ABYSS_SIM_TRIG_TORQUE_MIN) {
				if (tq > s->trigger_a + 0.5)
					armed = 1;
				else if (armed && tq < s->trigger_a) {
					code = 0x800;
					break;
				}
			}
			if (z - z0 >= s->stroke_mm - 1e-9) {
				code = 0x40;
				break;
			}
			z += dz;
			t_step += 1.0 / SIM__HZ;
		}
		if (h) {
			struct abyss_step_result *r = &h->steps[k];

			h->stop_code[n - 1] = code;
			r->step = s->step;
			r->stop_code = code;
			r->torque_empty_a = tq_empty;
			r->thrust_empty_a = th_empty;
			r->duration_s =
			    sim__round3((double)(n - first) / SIM__HZ);
			r->distance_m1_mm = 0.0;
			r->distance_m2_mm = sim__round3(z - z0);
			r->m1_max_a = sim__round3(tq_max);
			r->m2_max_a = sim__round3(th_max);
			r->gap_max_mm = 0.0;
		}
		if (!last)
			z += dz;
	}
	/* dwell then retract: still the last step, stop code held, torque
	 * as the controller logs them */
	{
		const struct abyss_sim_step *s = &sp->steps[sp->nsteps - 1];
		long nd = (long)nearbyint(sp->dwell_s * SIM__HZ);
		long nr =
		    (long)ceil(sp->retract_mm / SIM__RETRACT_MM_S * SIM__HZ);
		long i;
		double zr = z;

		for (i = 0; i < nd + nr; i++) {
			if (n >= ABYSS_SIM_MAX_SAMPLES)
				return ABYSS_ETOOBIG;
			if (i >= nd)
				zr -= SIM__RETRACT_MM_S / SIM__HZ;
			if (h) {
				double tq0 = h->torque_a[n - 1];

				h->position_mm[n] = -sim__round3(zr);
				/* the controller repeats its last reading
				 * while the spindle dwells (MDB files end
				 * with identical rows), then reads ~0 while
				 * retracting in air */
				h->torque_a[n] =
				    i < nd ? tq0 : sim__quant(0.0, SIM__TQ_LSB);
				h->thrust_a[n] =
				    i < nd ? h->thrust_a[n - 1] : 0.0;
				h->torque_empty_a[n] = h->torque_empty_a[n - 1];
				h->thrust_empty_a[n] = h->thrust_empty_a[n - 1];
				h->power_w[n] = h->power_w[n - 1];
				h->gap_mm[n] = 0.0;
				h->step[n] = s->step;
				h->stop_code[n] = code;
			}
			n++;
		}
	}
	return n;
}

static void sim__geometry(const struct abyss_sim_spec *sp, struct sim__geom *g)
{
	double z = sp->start_mm + sp->approach_mm;
	size_t i;

	memset(g, 0, sizeof(*g));
	g->n = sp->nlayers;
	for (i = 0; i < sp->nlayers; i++) {
		if (i == 1)
			z += sp->air_gap_mm;
		g->top[i] = z;
		z += sp->layers[i].thickness_mm;
		g->bot[i] = z;
		g->mat[i] = abyss_sim_material_find(sp->layers[i].material);
	}
	/* 118 degree point: the lips reach r = d/2 over d/2 / tan(59 deg) */
	g->ramp = sp->diameter_mm / 2.0 / tan(59.0 * M_PI / 180.0);
	g->burr = sp->burr_mm;
}

int abyss_sim_hole(const struct abyss_sim_spec *spec, uint64_t seed,
		   struct abyss_hole *out, struct abyss_sim_truth *truth)
{
	struct sim__state st;
	long n;
	size_t i;
	int rc;

	if (!spec || !out)
		return ABYSS_EINVAL;
	rc = abyss_sim_validate(spec, NULL);
	if (rc)
		return ABYSS_EINVAL;
	memset(&st, 0, sizeof(st));
	st.spec = spec;
	sim__geometry(spec, &st.g);
	sim__rng_seed(&st.rng, seed);
	n = sim__run(&st, NULL);
	if (n < 0)
		return (int)n;
	rc = abyss_hole_alloc(out, (size_t)n, spec->nsteps);
	if (rc)
		return rc;
	st.wander = 0.0;
	sim__rng_seed(&st.rng, seed);
	n = sim__run(&st, out);
	if (n < 0) {
		abyss_hole_free(out);
		return (int)n;
	}
	out->source = ABYSS_SOURCE_SIM;
	snprintf(out->source_name, sizeof(out->source_name), "sim:%llu",
		 (unsigned long long)seed);
	snprintf(out->machine_id, sizeof(out->machine_id), "17079999");
	snprintf(out->result_id, sizeof(out->result_id), "%llu",
		 (unsigned long long)(seed % 100000u + 1u));
	snprintf(out->head_id, sizeof(out->head_id), "SIM%013llX",
		 (unsigned long long)(seed & 0xFFFFFFFFFFFFULL));
	out->local = (int64_t)(seed % 100u) + 1;
	out->predrilled = 1;
	/* 2026-01-01T00:00:00Z plus the seed in minutes, within a year */
	out->timestamp_s = 1767225600.0 + (double)(seed % 525600u) * 60.0;
	out->file_version = 9;
	out->float32_origin = 0;
	if (truth) {
		memset(truth, 0, sizeof(*truth));
		truth->entry_mm = st.g.top[0];
		truth->ntransitions = spec->nlayers - 1;
		for (i = 1; i < spec->nlayers; i++)
			truth->transition_mm[i - 1] = st.g.top[i];
		truth->exit_mm = st.g.bot[spec->nlayers - 1];
		truth->point_ramp_mm = st.g.ramp;
		truth->seed = seed;
	}
	return ABYSS_OK;
}
