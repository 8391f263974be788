/*
 * abyss/message.h - decoding the drills' MQTT messages (Result, Trace, Heads)
 * and turning one matched set into a hole record.
 *
 * The contract is original-system.md §3: topics are classified by substring
 * (trace suffix before result), the tool key is topic levels 2 and 3, the
 * message time is the first "SourceTimestamp" of a depth-first walk, and
 * payload fields are found by "the first key (in document order) that
 * contains the configured substring", whose "Value" is taken. Differences
 * from the original (UTC, fractional seconds, unequal step arrays, ...) are
 * listed in docs/messages.md.
 *
 * Everything here is pure: no I/O except abyss_hole_from_msg_folder, no
 * clock, no global state. Functions are thread-safe on distinct objects.
 */
#ifndef ABYSS_MESSAGE_H
#define ABYSS_MESSAGE_H

#include <stddef.h>

#include "abyss/error.h"
#include "abyss/hole.h"

#ifdef __cplusplus
extern "C" {
#endif

struct json_t; /* jansson's value type; see abyss_msg.root */

/* ---- configuration ------------------------------------------------------ */

#define ABYSS_DATA_ID_MAX 256

/* The YAML's `mqtt.data_ids`: payload-key substrings (§3.7, §3.11). Fixed
 * arrays so the struct can be copied and filled from a config file; each
 * must be NUL-terminated and non-empty. */
struct abyss_data_ids {
	char machine_id[ABYSS_DATA_ID_MAX];	   /* Result: SerialNumber */
	char head_id[ABYSS_DATA_ID_MAX];	   /* Heads: SerialNumber */
	char result_id[ABYSS_DATA_ID_MAX];	   /* Result: ResultId */
	char position[ABYSS_DATA_ID_MAX];	   /* Trace: position values */
	char thrust[ABYSS_DATA_ID_MAX];		   /* Trace: thrust values */
	char torque[ABYSS_DATA_ID_MAX];		   /* Trace: torque values */
	char step[ABYSS_DATA_ID_MAX];		   /* Trace: step numbers */
	char torque_empty_vals[ABYSS_DATA_ID_MAX]; /* Result, per step */
	char thrust_empty_vals[ABYSS_DATA_ID_MAX]; /* Result, per step */
	char step_vals[ABYSS_DATA_ID_MAX];	   /* Result, per step */
};

/* Returns the values of abyss/run/config/mqtt_conf_local.yaml. */
struct abyss_data_ids abyss_data_ids_default(void);

/* Topic layout `{root}/<toolbox_id>/<tool_id>/{result|trace|heads}`. The
 * strings are borrowed (they must outlive every call that uses them).
 * heads may be NULL or "" when Heads messages are not used. */
struct abyss_topics {
	const char *root;   /* "OPCPUBSUB" */
	const char *result; /* "ResultManagement" */
	const char *trace;  /* "ResultManagement/Trace" */
	const char *heads;  /* "AssetManagement/Heads" */
};

/* Returns the defaults above (static strings). */
struct abyss_topics abyss_topics_default(void);

/* Bounds on one message; every field must be > 0. topics (borrowed, NULL for
 * abyss_topics_default()) drives the classification, so that the service
 * passes its whole "how to read a message" configuration in one place. */
struct abyss_msg_limits {
	size_t max_payload_bytes; /* default 16 MiB */
	size_t max_array_len;	  /* elements in any one JSON array; 1e6 */
	size_t max_depth;	  /* nesting of arrays/objects; default 32 */
	const struct abyss_topics *topics;
};

/* Returns the defaults above. */
struct abyss_msg_limits abyss_msg_limits_default(void);

/* ---- one message -------------------------------------------------------- */

enum abyss_msg_kind {
	ABYSS_MSG_UNKNOWN = 0,
	ABYSS_MSG_RESULT,
	ABYSS_MSG_TRACE,
	ABYSS_MSG_HEADS
};

/* A parsed message. Read-only for the caller; free with abyss_msg_free. */
struct abyss_msg {
	enum abyss_msg_kind kind;
	char *topic;		     /* copy of the topic */
	char tool_key[ABYSS_ID_MAX]; /* "toolbox_id/tool_id", "" if the topic
					has fewer than 3 levels */
	double timestamp_s;	     /* first SourceTimestamp, UTC unix s */
	struct json_t *root;	     /* the whole document (jansson) */
	struct json_t *payload;	     /* root.Messages.Payload, borrowed */
};

/* Classifies a topic by substring, in the original's order: trace suffix,
 * then result, then heads (the trace topic contains the result suffix).
 * topics NULL means abyss_topics_default(). Never fails. */
enum abyss_msg_kind abyss_msg_classify(const char *topic,
				       const struct abyss_topics *topics);

/* Name of a kind: "result", "trace", "heads" or "unknown". */
const char *abyss_msg_kind_name(enum abyss_msg_kind kind);

/* Writes the tool key (topic levels 2 and 3 joined by '/') into buf.
 * Returns 0, ABYSS_EPARSE when the topic has fewer than 3 levels or an empty
 * level 2/3 (buf is then ""), or ABYSS_ETOOBIG when it does not fit. */
int abyss_msg_tool_key(const char *topic, char *buf, size_t n);

/* Parses a "YYYY-MM-DDTHH:MM:SS[.fff...]Z" timestamp as UTC (timegm) into
 * unix seconds. Returns 0 or ABYSS_EPARSE (fields out of range, junk). */
int abyss_parse_timestamp(const char *s, double *out_s);

/* Formats unix seconds as "YYYY-MM-DDTHH:MM:SSZ" (UTC), with a fraction of
 * up to 6 digits (trailing zeros removed) when t is not whole. Returns 0,
 * ABYSS_ERANGE (NaN, or outside years 0..9999) or ABYSS_ETOOBIG (n < 32). */
int abyss_format_timestamp(double t, char *buf, size_t n);

/* What the correlator needs to know about a message. */
struct abyss_msg_head {
	enum abyss_msg_kind kind;
	char tool_key[ABYSS_ID_MAX]; /* as in struct abyss_msg */
	double timestamp_s;	     /* first SourceTimestamp, UTC unix s */
};

/* Reads a message's head without building its JSON tree: one validating
 * pass, several times cheaper than abyss_msg_parse, for a service that
 * parses the body later on another thread.
 * Returns 0 when abyss_msg_parse(topic, payload, len, lim) is certain to
 * succeed with this same kind, tool key and timestamp; ABYSS_EAGAIN when
 * the pass cannot tell - text with escapes or non-ASCII bytes, an object
 * with a repeated key, any error - and the caller must use abyss_msg_parse,
 * which decides and words the error; ABYSS_EINVAL for NULL arguments. */
int abyss_msg_peek(const char *topic, const char *payload, size_t len,
		   const struct abyss_msg_limits *lim,
		   struct abyss_msg_head *out);

/* Parses one MQTT message.
 *   topic   the topic it arrived on (NUL-terminated, copied); decides kind
 *           and tool key.
 *   payload len bytes of JSON, not necessarily NUL-terminated; borrowed.
 *   lim     bounds and topic layout; NULL means abyss_msg_limits_default().
 * On success *out is a new message (abyss_msg_free). Errors:
 *   ABYSS_ETOOBIG  payload, an array or the nesting exceeds lim
 *   ABYSS_EJSON    not valid JSON (diag line/col from the JSON parser; a
 *                  truncated document is reported at its end)
 *   ABYSS_EMISSING no Messages.Payload object, or no SourceTimestamp
 *   ABYSS_EPARSE   a SourceTimestamp that is not a valid timestamp
 *   ABYSS_ENOMEM, ABYSS_EINVAL (NULL topic/payload/out)
 * An unknown topic is not an error: kind is ABYSS_MSG_UNKNOWN and the caller
 * decides (the service drops it). *out is untouched on failure. */
int abyss_msg_parse(const char *topic, const char *payload, size_t len,
		    const struct abyss_msg_limits *lim, struct abyss_msg **out,
		    struct abyss_diag *diag);

/* Releases a message. NULL is accepted. */
void abyss_msg_free(struct abyss_msg *m);

/* The duplicate test of the original's MessageBuffer (§3.9) on the two whole
 * documents: objects equal when they have the same key set (order ignored)
 * and equal values; arrays when they have the same length and equal
 * elements; numbers (booleans count as 0/1) when |a - b| < 1e-10; any other
 * pair of scalars when Python's str() of both is the same (so 1 equals "1",
 * null equals null). Returns 1 when equal, 0 otherwise (NULL: 0). Topic and
 * timestamp are not compared; the caller checks those. Recursion is bounded
 * by the nesting limit the messages were parsed with. */
int abyss_msg_same_data(const struct abyss_msg *a, const struct abyss_msg *b);

/* ---- messages -> hole --------------------------------------------------- */

/* Most step results a Result message may carry (drill programs have a
 * handful); more is ABYSS_ETOOBIG. */
#define ABYSS_MSG_MAX_STEPS 1024

/* Builds a hole from a matched Result and Trace (and optional Heads),
 * §3.11 without its flaws:
 *  - fields: first payload key containing the ids substring, its "Value";
 *    works for the ADrilling and AFastening namespaces and ".MeasuredValue";
 *  - Result: SerialNumber -> machine_id (str()), ResultId -> result_id and
 *    local (must be an integer or an integer string), step table from
 *    step_vals/torque_empty/thrust_empty (+ StopCode, Duration, M1/M2
 *    distance and max amperage, GapMax when present); a scalar is a
 *    one-step array; shorter arrays leave NaN/0 for the missing steps;
 *  - Trace: position (raw sign), torque, thrust, step (integers, or reals
 *    with an integral value), PowerTrace and GapLengthTrace when present
 *    (null elements -> NaN; an optional channel whose length differs is
 *    dropped, NaN); the four required arrays must have one common length,
 *    otherwise ABYSS_EPARSE naming the lengths;
 *  - per-sample empties come from the step table by the sample's step;
 *  - head_id from heads (a list gives its first element; stripped), "" when
 *    heads is NULL or lacks the key; tool_key, source_name from result;
 *    timestamp_s = result's; predrilled = 1; source = ABYSS_SOURCE_MQTT.
 * ids NULL means abyss_data_ids_default(). h must be initialised; on success
 * its previous contents are freed and replaced, on failure h is left empty
 * (abyss_hole_init). Errors: ABYSS_EINVAL (NULL result/trace/h, or a message
 * of the wrong kind), ABYSS_EMISSING (a required key, or its Value, is
 * absent; diag names the substring), ABYSS_ETOOBIG (more than
 * ABYSS_MSG_MAX_STEPS steps), ABYSS_EPARSE (wrong JSON type, naming
 * key and element), ABYSS_ENODATA (empty trace), ABYSS_ENOMEM. */
int abyss_hole_from_msgs(const struct abyss_msg *result,
			 const struct abyss_msg *trace,
			 const struct abyss_msg *heads,
			 const struct abyss_data_ids *ids, struct abyss_hole *h,
			 struct abyss_diag *diag);

/* Reads a test_data-style folder: Result.json or ResultManagement.json,
 * Trace.json, and Heads.json when it exists, with topics synthesised as
 * "OPCPUBSUB/folder/<basename of dir>/<suffix>" (so tool_key is
 * "folder/<basename>"). Limits are abyss_msg_limits_default(). diag->file
 * names the file at fault. Errors: those of abyss_msg_parse and
 * abyss_hole_from_msgs, ABYSS_ENOENT (no Result or Trace file), ABYSS_EIO. */
int abyss_hole_from_msg_folder(const char *dir,
			       const struct abyss_data_ids *ids,
			       struct abyss_hole *h, struct abyss_diag *diag);

/* ---- other JSON renderings of a hole (§2.6) ----------------------------- */

/* Legacy single-message format (dev_data/example-alejandro/data.json): one
 * envelope whose payload keys END in StepResultValues.Position, .Torque,
 * .Thrust, .TorqueEmpty, .ThrustEmpty (required), .StepNb, .TorquePower,
 * .GapLength, .StopCode (per step) (optional), plus ResultMetaData fields
 * SerialNumber (default "UNKNOWN"), ResultId, CreationTime (unix seconds as a
 * string; else the first SourceTimestamp), ToolAge -> local (default 0),
 * Predrilled (default 1). Positions keep their raw sign. Without StepNb
 * every sample is step 0. Limits are abyss_msg_limits_default().
 * Same ownership and error rules as abyss_hole_from_msgs; source is
 * ABYSS_SOURCE_LEGACY. */
int abyss_hole_from_legacy_json(const char *buf, size_t len,
				struct abyss_hole *h, struct abyss_diag *diag);

/* The JSON rendering of a whole Setitec file
 * (test_data/data_20250326/raw.json): one object per section, "Datas" holds
 * the columns by their Setitec names. machine_id = Head Name, result_id =
 * Head Global Counter, head_id = Head TAG UID, local = Head Local Counter 1
 * (or Head Local Counter), timestamp from General Infos.Date, file_version
 * from General Infos.Version, steps from "Step Results". source is
 * ABYSS_SOURCE_SETITEC (it is a file rendering), float32_origin 0. */
int abyss_hole_from_raw_json(const char *buf, size_t len, struct abyss_hole *h,
			     struct abyss_diag *diag);

/* Detects which of the two formats above buf holds ("Datas" at top level:
 * raw; a Messages.Payload: legacy) and reads it. ABYSS_EUNSUPPORTED when
 * neither. */
int abyss_hole_from_json(const char *buf, size_t len, struct abyss_hole *h,
			 struct abyss_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
