/*
 * abyss/payload.h - the keypoints and depth payloads the service publishes,
 * byte for byte as the original wrote them (original-system.md §3.12), their
 * topics, and the negative-depth ("EMPTY", air drilling) policy.
 *
 * Everything here is pure: no I/O, no clock (times are passed in), no
 * allocation. Output goes into caller buffers with explicit sizes.
 */
#ifndef ABYSS_PAYLOAD_H
#define ABYSS_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "abyss/error.h"
#include "abyss/version.h"
#include "abyss/hole.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a processing result turns into (§3.12 decision order). */
enum abyss_payload_status {
	ABYSS_PAYLOAD_SUCCESS = 0,	 /* Value = numbers, AlgoVersion */
	ABYSS_PAYLOAD_INSUFFICIENT_DATA, /* Value = "Not enough steps ..." */
	ABYSS_PAYLOAD_ERROR,		 /* Value = "Error in ...", Error */
	ABYSS_PAYLOAD_EMPTY		 /* negative depth: publish nothing */
};

/* The two payloads of one hole, published in this order. */
enum abyss_payload_kind {
	ABYSS_PAYLOAD_KEYPOINTS = 0,
	ABYSS_PAYLOAD_DEPTH = 1
};

/* Identity fields common to every payload. Strings are borrowed for the
 * call; head_id NULL is written as JSON null. */
struct abyss_payload_ids {
	double timestamp_s;	/* the Result's SourceTimestamp, UTC seconds */
	const char *machine_id; /* MachineId */
	const char *result_id;	/* ResultId */
	const char *head_id;	/* HeadId or NULL */
};

/* The identity fields of a hole (borrowed from h): its timestamp, machine
 * and result ids, and head_id, NULL (JSON null) when h has none. */
struct abyss_payload_ids
abyss_payload_ids_from_hole(const struct abyss_hole *h);

/* AlgoVersion when the caller passes NULL: our own version (the issue's
 * contract: consumers can tell abyss's results from the original's, which
 * said "0.2.6"). */
#define ABYSS_PAYLOAD_ALGO_VERSION ABYSS_VERSION

/* Decides the case of §3.12 for a processing result that succeeded:
 * error_message non-NULL -> ERROR; keypoints NULL -> INSUFFICIENT_DATA;
 * any of the two depths < 0 -> EMPTY; else SUCCESS. keypoints is
 * [entry, transition, exit] (mm); depths are computed from it. */
enum abyss_payload_status abyss_payload_decide(const char *error_message,
					       const double *keypoints);

/* Writes one payload as Python's json.dumps wrote it: key order
 * SourceTimestamp, MachineId, ResultId, HeadId, Value, then AlgoVersion
 * (SUCCESS) or Error (ERROR); separators ", " and ": "; floats as the
 * shortest repr that round-trips, "14.0" for integral values; non-ASCII
 * escaped as \uXXXX (ensure_ascii). keypoints: [entry, transition, exit]
 * for SUCCESS (ignored otherwise; depths are transition-entry and
 * exit-transition). message: the error text for ERROR (NULL = ""), ignored
 * otherwise. algo_version NULL means ABYSS_PAYLOAD_ALGO_VERSION.
 * Writes at most n bytes including the terminating NUL into buf.
 * Returns the length (without NUL), ABYSS_ETOOBIG when n is too small (buf
 * then holds a truncated, NUL-terminated prefix), or ABYSS_EINVAL for an
 * EMPTY status or a NULL argument. */
int abyss_payload_format(char *buf, size_t n, enum abyss_payload_kind kind,
			 enum abyss_payload_status status,
			 const struct abyss_payload_ids *ids,
			 const double *keypoints, const char *message,
			 const char *algo_version);

/* Writes "{root}/{tool_key}/{endpoint}" (tool_key is "toolbox/tool").
 * Returns the length, ABYSS_ETOOBIG when it does not fit in n bytes, or
 * ABYSS_EINVAL for NULL or empty parts. */
int abyss_payload_topic(char *buf, size_t n, const char *root,
			const char *tool_key, const char *endpoint);

/* Formats a double as Python's repr() does: the shortest decimal that
 * reads back to the same double, "1.0" for integral values, exponent form
 * "1e-05" / "1e+16" outside [1e-4, 1e16), "NaN", "Infinity", "-Infinity"
 * (json.dumps's allow_nan spelling). Returns the length, or ABYSS_ETOOBIG
 * when n < 32 would not fit. */
int abyss_payload_fmt_double(char *buf, size_t n, double v);

/* Formats UTC seconds as "%Y-%m-%dT%H:%M:%SZ" (fraction dropped, floor).
 * Returns the length, ABYSS_ERANGE for a non-finite or out-of-range time,
 * or ABYSS_ETOOBIG when n < 21. */
int abyss_payload_fmt_time(char *buf, size_t n, double timestamp_s);

/* ---- negative-depth policy ---------------------------------------------
 * Each negative-depth result publishes nothing and is recorded. When 5 or
 * more such events fall within 300 s, a "multiple negative depth
 * estimations" warning is due, at most once per 300 s. The original kept a
 * 100-entry deque; so do we. */
#define ABYSS_NEGDEPTH_HISTORY	 100
#define ABYSS_NEGDEPTH_THRESHOLD 5
#define ABYSS_NEGDEPTH_WINDOW_MS 300000

struct abyss_negdepth {
	int64_t times_ms[ABYSS_NEGDEPTH_HISTORY]; /* ring, oldest at head */
	size_t head;
	size_t count;
	uint64_t total;		 /* every event since init */
	int64_t last_warning_ms; /* INT64_MIN: never warned */
};

void abyss_negdepth_init(struct abyss_negdepth *nd);

/* Records one negative-depth event at now_ms (monotonic milliseconds).
 * Returns 1 when the sequence warning is due now (the caller logs it with
 * abyss_negdepth_recent() as the count), 0 otherwise. */
int abyss_negdepth_record(struct abyss_negdepth *nd, int64_t now_ms);

/* Events within the last 300 s before now_ms (for statistics). */
size_t abyss_negdepth_recent(const struct abyss_negdepth *nd, int64_t now_ms);

#ifdef __cplusplus
}
#endif
#endif
