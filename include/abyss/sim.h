/*
 * abyss/sim.h - a drilling simulator with exact ground truth.
 *
 * It produces plausible Setitec-like holes (abyss/hole.h, source
 * ABYSS_SOURCE_SIM) from a material stack and a drilling program, together
 * with the exact positions where the drill tip met each interface. It is
 * meant for testing estimators and demos, not for physics: torque and thrust
 * are simple per-material levels scaled by feed per revolution, with linear
 * ramps while the 118 degree point engages, step-change dips, noise and the
 * ADC quantisation of the real controller. docs/simulator.md has the model.
 *
 * Every run is a pure function of (spec, seed): the random generator is an
 * explicit xoshiro256** state, so a seed gives the same hole on any machine.
 */
#ifndef ABYSS_SIM_H
#define ABYSS_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "abyss/error.h"
#include "abyss/hole.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ABYSS_SIM_MAX_LAYERS 8
#define ABYSS_SIM_MAX_STEPS  8
#define ABYSS_SIM_NAME_MAX   16
/* Longest hole the simulator writes (samples): 20 minutes at 100 Hz. */
#define ABYSS_SIM_MAX_SAMPLES 120000

/* Material levels at the reference feed of 0.045 mm/rev (the MDB programs),
 * read off real files: CFRP ~5 A (MDB step 1, TUHH, HAM), Ti ~40 A (MDB step
 * 2, TUHH V1), Al ~12 A (the 41-Al head). */
struct abyss_sim_material {
	const char *name; /* "CFRP", "Ti", "Al" */
	double torque_a;  /* torque current at 0.045 mm/rev (A) */
	double thrust_a;  /* thrust current at 0.045 mm/rev (A) */
	double
	    friction_a_per_mm; /* torque rise per mm of full-diameter depth */
};

/* Looks a material up by name (case-insensitive). NULL when unknown. */
const struct abyss_sim_material *abyss_sim_material_find(const char *name);

struct abyss_sim_layer {
	char material[ABYSS_SIM_NAME_MAX];
	double thickness_mm; /* > 0 */
};

/* Why a program step ends (the Setitec trigger columns). A step always ends
 * at its stroke; a torque trigger may end it earlier. */
enum abyss_sim_trigger {
	ABYSS_SIM_TRIG_STROKE = 0,     /* stop code 0x40 STROKE_LIMIT */
	ABYSS_SIM_TRIG_TORQUE_MAX = 1, /* torque > level: stop code 0x1 */
	ABYSS_SIM_TRIG_TORQUE_MIN = 2  /* torque fell < level after exceeding
					  it: stop code 0x800 */
};

struct abyss_sim_step {
	int32_t step;	  /* program step number (Step Nb) */
	double stroke_mm; /* travel of the step, from where it starts (> 0) */
	double rpm;	  /* spindle speed (> 0) */
	double feed_mm_s; /* feed speed (> 0) */
	enum abyss_sim_trigger trigger;
	double trigger_a; /* level for the torque triggers (A) */
};

struct abyss_sim_spec {
	size_t nlayers;
	struct abyss_sim_layer layers[ABYSS_SIM_MAX_LAYERS];
	size_t nsteps;
	struct abyss_sim_step steps[ABYSS_SIM_MAX_STEPS];
	double start_mm;    /* first position (positive; the file shows
			       -start_mm), e.g. 0.67 */
	double approach_mm; /* air travel from start to the top surface */
	double air_gap_mm;  /* gap between layer 1 and layer 2 (0: none) */
	double diameter_mm; /* drill diameter; sets the point ramp length */
	double noise;	    /* noise scale: 0 none, 1 like the real files */
	double dwell_s;	    /* dwell at the end of the last step */
	double retract_mm;  /* retract travel after the last step */
	double burr_mm;	    /* exit burr: extra travel of the exit ramp */
};

/* Ground truth: positive positions (mm) of the drill *tip* at each
 * interface, on the same axis as -position_mm of the hole. */
struct abyss_sim_truth {
	double entry_mm;
	size_t ntransitions; /* nlayers - 1 */
	double transition_mm[ABYSS_SIM_MAX_LAYERS - 1];
	double exit_mm;
	double point_ramp_mm; /* axial length of the drill point */
	uint64_t seed;
};

/* Fills spec with the default: CFRP 8 mm on Ti 12 mm, an MDB-like program
 * (step 0 approach to a 0.3 A contact, step 1 at 4000 rpm/3 mm/s for 7 mm,
 * step 2 at 1000 rpm/0.75 mm/s ending on a 2 A torque drop, step 3 a 1 mm
 * clearance), 6.35 mm drill, noise 1. */
void abyss_sim_default(struct abyss_sim_spec *spec);

/* Checks a spec: counts within limits, positive thicknesses, strokes, speeds,
 * known materials. Returns 0 or ABYSS_EINVAL/ABYSS_ECONFIG with a sentence
 * in diag. */
int abyss_sim_validate(const struct abyss_sim_spec *spec,
		       struct abyss_diag *diag);

/* Parses "CFRP:8,Ti:12" into spec->layers (replacing them). Returns 0 or
 * ABYSS_EPARSE (diag column points at the bad item). */
int abyss_sim_parse_stack(const char *s, struct abyss_sim_spec *spec,
			  struct abyss_diag *diag);

/* Parses a program "STEP:STROKE:RPM:FEED[:TRIG[:LEVEL]],..." where TRIG is
 * stroke, tmax or tmin, e.g. "0:10:4000:3:tmax:0.3,1:8.5:4000:3". Replaces
 * spec->steps. Returns 0 or ABYSS_EPARSE. */
int abyss_sim_parse_program(const char *s, struct abyss_sim_spec *spec,
			    struct abyss_diag *diag);

/* Simulates one hole. out must be initialised (abyss_hole_init); it is
 * replaced by a hole of source ABYSS_SOURCE_SIM with every column filled,
 * identity fields set from the seed, and values rounded to the precision of
 * a Setitec file (so a file round trip is exact). truth may be NULL.
 * Returns 0, ABYSS_EINVAL (bad spec, see abyss_sim_validate), ABYSS_ETOOBIG
 * (more than ABYSS_SIM_MAX_SAMPLES) or ABYSS_ENOMEM. */
int abyss_sim_hole(const struct abyss_sim_spec *spec, uint64_t seed,
		   struct abyss_hole *out, struct abyss_sim_truth *truth);

/* Writes h as a Setitec version 9 text file (tab-separated, comma decimals,
 * Latin-1, every section of a real v9 file; Program from spec). spec may be
 * NULL (a Program table is then derived from the step results). Returns 0 or
 * ABYSS_EIO. */
int abyss_sim_write_setitec(FILE *f, const struct abyss_hole *h,
			    const struct abyss_sim_spec *spec);

/* Writes the truth as JSON (entry/transitions/exit, stack, program, seed).
 * Returns 0 or ABYSS_EIO. */
int abyss_sim_write_truth(FILE *f, const struct abyss_sim_truth *t,
			  const struct abyss_sim_spec *spec);

#ifdef __cplusplus
}
#endif
#endif
