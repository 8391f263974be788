/*
 * abyss/hole_io.h - writing a hole record: JSON (documented schema), CSV
 * (one row per sample), and the drills' own MQTT Result/Trace/Heads messages
 * (original-system.md §3.2-3.5), plus the shortest round-trip float
 * formatting used by every JSON the project writes.
 *
 * Schemas and choices are in docs/messages.md. Nothing here reads input.
 */
#ifndef ABYSS_HOLE_IO_H
#define ABYSS_HOLE_IO_H

#include <stddef.h>
#include <stdio.h>

#include "abyss/error.h"
#include "abyss/hole.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes v as the shortest decimal that strtod reads back to the same
 * double, in Python's repr() layout: "5.01", "2.0", "-0.0", "1e+16",
 * "1.5e-07", "18.488275003433227"; NaN and infinities as Python's json
 * module does ("NaN", "Infinity", "-Infinity"). buf gets a NUL-terminated
 * string; 32 bytes always suffice. Returns the length (without the NUL), or
 * ABYSS_ETOOBIG when n is too small (buf is then "" if n > 0). */
int abyss_fmt_double(char *buf, size_t n, double v);

#define ABYSS_FMT_DOUBLE_MAX 32

/* Writes the hole as one JSON object (schema "abyss.hole/1", see
 * docs/messages.md): identity, step table, then one array per signal
 * ("samples": {"position_mm": [...], ...}); NaN is written as null. The
 * stream is borrowed and not closed. Returns 0, ABYSS_EINVAL or ABYSS_EIO
 * (a write failed). */
int abyss_hole_write_json(const struct abyss_hole *h, FILE *f);

/* Writes one header line with units, then one row per sample:
 * index,position_mm,torque_a,thrust_a,torque_empty_a,thrust_empty_a,
 * power_w,gap_mm,step,stop_code. NaN is an empty field. Returns 0,
 * ABYSS_EINVAL or ABYSS_EIO. */
int abyss_hole_write_csv(const struct abyss_hole *h, FILE *f);

/* How abyss_hole_to_msgs lays out the messages. Strings are borrowed. */
struct abyss_msg_write_opts {
	const char *ns;		   /* "http://airbus.com/IJT/ADrilling" */
	const char *device;	   /* "<device>" in the node ids: "abyss" */
	const char *publisher_id;  /* envelope PublisherId: "abyss" */
	int measured_value;	   /* 1: StepResultValues/OverallResultValues
				      keys end in ".MeasuredValue" (2025-06) */
	long long sequence_number; /* Messages.SequenceNumber: 1 */
	size_t max_bytes;	   /* bound on each message; 64 MiB */
};

/* Returns the defaults above. */
struct abyss_msg_write_opts abyss_msg_write_opts_default(void);

/* Renders h as the Result, Trace and Heads messages a drill would send, in
 * the envelope and key order of §3.2-3.5 (MessageId is a UUID-shaped hash of
 * the content, so output is deterministic). SourceTimestamp (and the
 * envelope Timestamp, CreationTime) come from h->timestamp_s (epoch 0 when
 * NaN). machine_id and result_id are written as JSON integers when they are
 * canonical decimal integers, otherwise as strings. One-step tables are
 * written as scalars, as the drills do. NaN samples are null; PowerTrace
 * Values are left out when every power sample is NaN.
 * abyss_hole_from_msgs(abyss_hole_to_msgs(h)) gives back h's samples
 * (position, torque, thrust, step, power, gap), step table, machine_id,
 * head_id and a non-NaN timestamp exactly; result_id comes back as
 * str(int(result_id)) ("0" when empty) and local as int(result_id), as the
 * original's decoder defines them; per-sample empties come back from the
 * step table and per-sample stop codes are not carried (docs/messages.md).
 * opts NULL means defaults. Any of the three out pointers may be NULL (that
 * message is not produced); each produced string is malloc'd, NUL-terminated,
 * and owned by the caller (free()). On failure every out pointer is set to
 * NULL. Errors: ABYSS_EINVAL (NULL h, h->n == 0, or a non-empty result_id
 * that is not a decimal integer, which no reader could decode),
 * ABYSS_ETOOBIG (a message
 * exceeds opts->max_bytes), ABYSS_ENOMEM. */
int abyss_hole_to_msgs(const struct abyss_hole *h,
		       const struct abyss_msg_write_opts *opts,
		       char **result_json, char **trace_json,
		       char **heads_json);

#ifdef __cplusplus
}
#endif
#endif
