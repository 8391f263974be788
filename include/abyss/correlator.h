/*
 * abyss/correlator.h - pairs the Result and Trace (and optionally Heads)
 * messages of one hole, by tool key and payload time.
 *
 * Semantics (original-system.md §3.9/§3.10, without their flaws):
 *  - Same tool key ("toolbox/tool"); the partner with the NEAREST payload
 *    timestamp within time_window (inclusive) wins; ties go to the earlier
 *    arrival. Matched messages leave the correlator at once.
 *  - With heads enabled, a matched Result+Trace takes the nearest Heads of
 *    the key within time_window; if none is pending it waits heads_grace_ms
 *    (arrival time) for one, then is emitted without.
 *  - Duplicates: same kind and tool key (= same topic), |dt| < duplicate
 *    window (strict), deep-equal JSON (key order ignored, numbers to 1e-10);
 *    ignore / replace / error as in the original.
 *  - Ages are ARRIVAL times (now_ms given to each call), so replayed
 *    historical data correlates by payload time and still expires.
 *  - Hard limits on pending messages and bytes; when full, the oldest
 *    pending message is dropped (or a pair waiting for Heads is emitted
 *    early). Every drop goes to the drop callback with a reason and is
 *    counted.
 *  - Amortised O(1) per message: a hash map by tool key, per-key lists
 *    (scanned linearly; they are short), arrival FIFOs for expiry, and node
 *    recycling so the steady state does not allocate.
 *
 * Pure: no threads, no clock, no I/O. Not thread-safe: one owner thread.
 * Callbacks run inside push/tick and must not call back into the correlator.
 */
#ifndef ABYSS_CORRELATOR_H
#define ABYSS_CORRELATOR_H

#include <stddef.h>
#include <stdint.h>

#include "abyss/error.h"
#include "abyss/hole.h"	   /* ABYSS_ID_MAX */
#include "abyss/message.h" /* struct abyss_msg */

#ifdef __cplusplus
extern "C" {
#endif

struct json_t; /* jansson */

enum abyss_corr_kind {
	ABYSS_CORR_RESULT = 0,
	ABYSS_CORR_TRACE = 1,
	ABYSS_CORR_HEADS = 2
};

enum abyss_dup_policy {
	ABYSS_DUP_IGNORE = 0, /* keep the first, drop the new one */
	ABYSS_DUP_REPLACE,    /* the new one takes the old one's place */
	ABYSS_DUP_ERROR	      /* drop the new one, push returns EDUPLICATE */
};

enum abyss_corr_drop {
	ABYSS_DROP_EXPIRED = 0, /* unmatched for longer than max_age_ms */
	ABYSS_DROP_CAPACITY,	/* evicted to respect the pending limits */
	ABYSS_DROP_DUPLICATE,	/* duplicate (ignored, refused or replaced) */
	ABYSS_DROP_INVALID,	/* bad kind/key/timestamp, too big, heads off */
	ABYSS_DROP__COUNT
};

/* One message as the correlator sees it. The caller fills it and hands it
 * to abyss_corr_push, which copies the struct and takes ownership of
 * payload (released with free_fn, which may be NULL). doc is the parsed
 * JSON used for duplicate comparison; it is borrowed from payload (it must
 * stay valid as long as payload does) and may be NULL: then raw, when set,
 * is compared byte for byte (a service that parses later); with neither
 * the message is never considered a duplicate. */
struct abyss_corr_msg {
	enum abyss_corr_kind kind;
	char tool_key[ABYSS_ID_MAX]; /* "toolbox_id/tool_id", non-empty */
	int64_t ts_ms;		     /* payload SourceTimestamp, UTC ms */
	int64_t arrival_ms;	     /* set by abyss_corr_push */
	size_t size;		     /* bytes charged to max_pending_bytes */
	const struct json_t *doc;
	const void *raw; /* the payload bytes, when doc is NULL (borrowed) */
	size_t raw_len;
	void *payload;
	void (*free_fn)(void *payload);
};

/* A match. has_heads says whether heads is filled. Ownership of every
 * member's payload passes to the match callback (release each with
 * abyss_corr_msg_release when done). */
struct abyss_corr_group {
	struct abyss_corr_msg result;
	struct abyss_corr_msg trace;
	struct abyss_corr_msg heads;
	int has_heads;
};

struct abyss_corr_config {
	int64_t time_window_ms;	     /* 30000: |dt| <= this matches */
	int64_t duplicate_window_ms; /* 1000: |dt| < this may duplicate */
	enum abyss_dup_policy duplicate_handling; /* ignore */
	int heads_enabled;			  /* 0 */
	int64_t heads_grace_ms;			  /* 2000 */
	int64_t max_age_ms;			  /* 300000, by arrival time */
	size_t max_pending_messages;		  /* 10000 */
	size_t max_pending_bytes;		  /* 512 MiB */
	size_t max_message_bytes;		  /* 64 MiB */
	uint32_t shard_index;			  /* 0 */
	uint32_t shard_count;			  /* 1: every key is ours */
};

/* Called with each match; takes ownership of the group's payloads. */
typedef void (*abyss_corr_match_fn)(void *ud, struct abyss_corr_group *g);
/* Called with each dropped message (borrowed; freed after the call). */
typedef void (*abyss_corr_drop_fn)(void *ud, const struct abyss_corr_msg *m,
				   enum abyss_corr_drop why);

struct abyss_corr_stats {
	uint64_t received;	     /* pushes, all outcomes */
	uint64_t matched;	     /* groups emitted */
	uint64_t matched_with_heads; /* of which with a Heads message */
	uint64_t heads_timeouts;     /* emitted without Heads after grace */
	uint64_t other_shard;	     /* keys another instance handles */
	uint64_t dropped[ABYSS_DROP__COUNT];
	size_t pending_messages; /* waiting, including pairs awaiting Heads */
	size_t pending_bytes;
	size_t pending_pairs; /* Result+Trace waiting for Heads */
	size_t keys;	      /* tool keys with something pending */
	size_t high_water_messages;
	size_t high_water_bytes;
};

struct abyss_corr;

/* Fills cfg with the defaults listed in struct abyss_corr_config. */
void abyss_corr_config_default(struct abyss_corr_config *cfg);

/* Creates a correlator. cfg is copied; on_match is required, on_drop may be
 * NULL; ud is passed to both. Returns 0, ABYSS_EINVAL (a zero limit or
 * window < 0, shard_index >= shard_count, NULL on_match) or ABYSS_ENOMEM. */
int abyss_corr_new(const struct abyss_corr_config *cfg,
		   abyss_corr_match_fn on_match, abyss_corr_drop_fn on_drop,
		   void *ud, struct abyss_corr **out);

/* Releases everything still pending (payloads freed with their free_fn, no
 * callbacks). NULL is a no-op. */
void abyss_corr_free(struct abyss_corr *c);

/* Applies new windows, policy and limits to a running correlator (SIGHUP).
 * Shard settings and heads_enabled cannot change (ABYSS_EINVAL). If the
 * new limits are lower, the oldest pending messages are dropped at the
 * next push or tick. */
int abyss_corr_reconfigure(struct abyss_corr *c,
			   const struct abyss_corr_config *cfg);

/* Hands a message to the correlator at arrival time now_ms (monotonic
 * milliseconds; a value smaller than a previous one is treated as equal to
 * it). Ownership of m->payload passes to the correlator in every case.
 * Expires old messages first, then matches, stores, or drops m.
 * Returns 0 (stored, matched, other shard, or a duplicate under ignore /
 * replace), ABYSS_EDUPLICATE (duplicate under the error policy; dropped),
 * ABYSS_EINVAL (invalid message; dropped) or ABYSS_ETOOBIG (larger than
 * max_message_bytes or max_pending_bytes; dropped). */
int abyss_corr_push(struct abyss_corr *c, const struct abyss_corr_msg *m,
		    int64_t now_ms);

/* Advances time: drops messages older than max_age_ms (by arrival) and
 * emits pairs whose Heads grace has run out. Call it periodically (e.g.
 * every 100 ms) so nothing waits for the next message. */
void abyss_corr_tick(struct abyss_corr *c, int64_t now_ms);

void abyss_corr_get_stats(const struct abyss_corr *c,
			  struct abyss_corr_stats *st);

/* The shard of a tool key: FNV-1a 32-bit of its bytes modulo count
 * (count 0 or 1 gives 0). Stable across runs and machines. */
uint32_t abyss_corr_shard_of(const char *tool_key, uint32_t count);

/* 1 when this correlator's shard handles tool_key, else 0. */
int abyss_corr_owns(const struct abyss_corr *c, const char *tool_key);

/* Fills out from a peeked message head (abyss_msg_peek): kind, tool key,
 * ts_ms and size; doc, raw, payload and free_fn are left NULL for the
 * caller. Returns 0 or ABYSS_EINVAL (as abyss_corr_msg_from_msg). */
int abyss_corr_msg_from_head(const struct abyss_msg_head *h, size_t size_bytes,
			     struct abyss_corr_msg *out);

/* Wraps a decoded MQTT message (abyss_msg_parse) for abyss_corr_push:
 * kind and tool key from the topic, ts_ms from its SourceTimestamp, doc =
 * the whole document (duplicates compare whole messages, as the original
 * did), payload = msg with abyss_msg_free as free_fn, and size = size_bytes
 * (pass the MQTT payload length). On success ownership of msg passes to
 * out. Returns 0, or ABYSS_EINVAL (an unknown kind, no tool key, a
 * non-finite time) leaving msg with the caller. */
int abyss_corr_msg_from_msg(struct abyss_msg *msg, size_t size_bytes,
			    struct abyss_corr_msg *out);

/* The abyss_msg inside a correlator message made by abyss_corr_msg_from_msg
 * (borrowed), or NULL when it was made otherwise. */
const struct abyss_msg *abyss_corr_msg_get(const struct abyss_corr_msg *m);

/* Frees a message's payload with its free_fn and clears the pointer. */
void abyss_corr_msg_release(struct abyss_corr_msg *m);

/* Deep JSON equality as the original's duplicate check: objects with the
 * same keys in any order, arrays element-wise, numbers (integer or real)
 * equal within 1e-10, other scalars by type and value. Nesting deeper than
 * 256 compares unequal. */
int abyss_json_deep_equal(const struct json_t *a, const struct json_t *b);

/* A short name for a drop reason ("expired", "capacity", ...). */
const char *abyss_corr_drop_name(enum abyss_corr_drop why);

#ifdef __cplusplus
}
#endif
#endif
