/*
 * abyss/hole.h - the hole record: one drilled hole, whatever its source.
 *
 * A Setitec file, the MQTT Result/Trace(/Heads) messages of one hole, the
 * legacy single-message JSON and the simulator all produce this record; every
 * estimator consumes it. A file and the messages of the same hole give the
 * same samples (original-system.md §3.6).
 *
 * Conventions:
 *  - position_mm keeps the drill's sign convention: negative and decreasing
 *    while drilling (as in Setitec files and Trace messages). Estimators turn
 *    it into a positive depth themselves, exactly as the original did.
 *  - Quantities the source does not carry are NaN (doubles) or empty strings.
 *  - All sample arrays live in one block owned by the hole (llm.c style);
 *    abyss_hole_free releases everything.
 */
#ifndef ABYSS_HOLE_H
#define ABYSS_HOLE_H

#include <stddef.h>
#include <stdint.h>

#include "abyss/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ABYSS_ID_MAX 128

enum abyss_hole_source {
	ABYSS_SOURCE_NONE = 0,
	ABYSS_SOURCE_SETITEC, /* a Setitec .xls file */
	ABYSS_SOURCE_MQTT,    /* Result + Trace (+ Heads) messages */
	ABYSS_SOURCE_LEGACY,  /* legacy single-message JSON (§2.6) */
	ABYSS_SOURCE_SIM      /* abyss simulate */
};

/* One executed program step, as reported at the end of the step (Setitec
 * "Step Results", or the Result message's StepResultValues). */
struct abyss_step_result {
	int32_t step;	       /* program step number */
	uint32_t stop_code;    /* bit mask, see abyss_stop_code_name() */
	double torque_empty_a; /* no-load torque current of the step (A) */
	double thrust_empty_a; /* no-load thrust current of the step (A) */
	double duration_s;
	double distance_m1_mm;
	double distance_m2_mm;
	double m1_max_a;
	double m2_max_a;
	double gap_max_mm;
};

struct abyss_hole {
	enum abyss_hole_source source;
	char source_name[512]; /* file path or topic, for messages and logs */

	/* identity (strings are "" when unknown) */
	char machine_id[ABYSS_ID_MAX]; /* the original's HOLE_ID: MQTT
					  SerialNumber; file: Head Name */
	char result_id[ABYSS_ID_MAX];  /* MQTT ResultId; file: Head Global
					  Counter */
	char head_id[ABYSS_ID_MAX];    /* Heads SerialNumber; file: Head TAG
					  UID */
	char tool_key[ABYSS_ID_MAX];   /* "toolbox_id/tool_id" (MQTT) */
	int64_t local;		       /* tool-age feature of the ML model */
	int predrilled;		       /* 0 or 1 (the original always used 1) */
	double timestamp_s;	       /* UTC unix seconds; NaN if unknown */
	int file_version;	       /* Setitec format version, 0 if none */

	/* 1 when the samples were read from Setitec text, which the original
	 * held as float32: the compat estimator then repeats its float32
	 * arithmetic so that threshold decisions match bit for bit. */
	int float32_origin;

	/* samples at 100 Hz; arrays of n elements, NULL when n == 0 */
	size_t n;
	double *position_mm;	/* spindle position (mm), negative inward */
	double *torque_a;	/* I Torque (A), above the no-load level */
	double *thrust_a;	/* I Thrust (A) */
	double *torque_empty_a; /* I Torque Empty (A), per sample */
	double *thrust_empty_a; /* I Thrust Empty (A), per sample */
	double *power_w;	/* torque power (W); NaN if absent */
	double *gap_mm;		/* gap length (mm); NaN if absent */
	int32_t *step;		/* program step of the sample */
	uint32_t *stop_code;	/* stop code column (0 while running) */

	size_t nsteps;
	struct abyss_step_result *steps;

	void *block_; /* private: the one allocation behind the arrays */
};

/* Initialises an empty hole (no allocation). */
void abyss_hole_init(struct abyss_hole *h);

/* Allocates room for n samples and nsteps step results in one block, after
 * freeing whatever h held. Doubles are set to NaN, integers to 0.
 * Returns 0, ABYSS_ENOMEM, or ABYSS_ETOOBIG when n*sizeof overflows. The
 * identity fields are left as they are. */
int abyss_hole_alloc(struct abyss_hole *h, size_t n, size_t nsteps);

/* Releases the arrays and re-initialises h. NULL is accepted. */
void abyss_hole_free(struct abyss_hole *h);

/* Deep copy: dst must be initialised (it is freed first). */
int abyss_hole_copy(struct abyss_hole *dst, const struct abyss_hole *src);

/* Number of distinct step values among the samples. */
size_t abyss_hole_distinct_steps(const struct abyss_hole *h);

/* Index of the first sample whose step equals `step`, or -1. */
long abyss_hole_first_of_step(const struct abyss_hole *h, int32_t step);

/* Name of one stop-code bit ("TORQUE_MIN"), or NULL for an unknown bit.
 * original-system.md §5.1. */
const char *abyss_stop_code_name(uint32_t bit);

/* Writes the names of every bit set in code, separated by '|', into buf
 * ("NONE" for 0; unknown bits as 0x...). Returns buf. */
char *abyss_stop_code_format(uint32_t code, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
