/*
 * publish.h - the traffic generator behind `abyss publish` (internal to the
 * service module): replays holes as the drills' Result/Trace/Heads messages
 * to a broker through the MQTT adapter (mq.h), at a rate or as fast as the
 * broker takes them, and optionally waits for the service's depth results
 * to measure end-to-end latency.
 *
 * Two layers:
 *  - templates (pure, unit-tested): one hole rendered once into its
 *    messages, with the byte offsets of the fields rewritten per send
 *    (timestamps, ResultId, MessageId), so a send is a few memcpy's;
 *  - the run: N publishing connections and an optional subscriber driven
 *    by one poll loop on the calling thread.
 * Nothing here prints; progress and the report go to the caller.
 */
#ifndef ABYSS_SERVICE_PUBLISH_H
#define ABYSS_SERVICE_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abyss/hole.h"

/* Message kinds, in the order a hole's messages are rendered. */
enum pub_kind { PUB_RESULT = 0, PUB_TRACE = 1, PUB_HEADS = 2 };

#define PUB_KINDS     3
#define PUB_TS_LEN    20 /* "YYYY-MM-DDTHH:MM:SSZ" */
#define PUB_RID_LEN   12 /* ResultId digits, see pub_result_id() */
#define PUB_MID_LEN   12 /* last group of the MessageId, hex */
#define PUB_MAX_TOOLS 10000
#define PUB_MAX_CONNS 256
#define PUB_MAX_SEQ   (1u << 30) /* holes per run (MessageId stamp) */

/* One message of a template: text plus where to patch it. The text is
 * patched in place before each send (one thread owns the template, and the
 * adapter copies a payload when it is published). */
struct pub_msg {
	char *text;
	size_t len;
	size_t *ts_off; /* offsets of PUB_TS_LEN-byte timestamps */
	size_t nts;
	size_t *rid_off; /* offsets of PUB_RID_LEN-digit ResultIds */
	size_t nrid;
	size_t mid_off; /* offset of the MessageId's last group */
};

/* One input hole, ready to send: 2 messages (no Heads topic) or 3. */
struct pub_template {
	struct pub_msg msg[PUB_KINDS];
	size_t nmsg;
	char ts0[PUB_TS_LEN + 1]; /* the timestamp the text carries now */
};

/* Renders h (not modified) as Result, Trace and, when with_heads, Heads
 * messages (abyss_hole_to_msgs with default options), with the ResultId
 * replaced by a placeholder of PUB_RID_LEN digits and the timestamp cut to
 * whole seconds, then records the offsets to patch. t must be zeroed or
 * freed; on failure it is left empty. Returns 0, ABYSS_EINVAL (empty
 * hole), ABYSS_ENOMEM, ABYSS_ETOOBIG, or ABYSS_EPARSE when a field to
 * patch cannot be found (the writer changed: a bug). */
int pub_template_init(struct pub_template *t, const struct abyss_hole *h,
		      bool with_heads);
void pub_template_free(struct pub_template *t);

/* The ResultId of hole seq in a run with the given nonce: a 12-digit
 * decimal number 1RRRRRSSSSSS.. computed as 10^11 + (nonce * 10^7 + seq)
 * mod 9 * 10^11, so ids are unique within a run (seq < 10^7 per nonce
 * stride) and differ between runs (the service deduplicates on it).
 * pub_result_seq inverts it: returns seq, or -1 when id is not one of
 * ours (not 12 digits, or outside [0, max_seq)). */
uint64_t pub_result_id(uint32_t nonce, uint64_t seq);
int64_t pub_result_seq(uint32_t nonce, const char *id, size_t len,
		       uint64_t max_seq);

/* Patches message kind k of t for hole seq: ResultIds, MessageId (last
 * group = nonce16 << 32 | seq << 2 | kind, hex) and, when ts is non-NULL,
 * every timestamp (PUB_TS_LEN bytes). */
void pub_template_stamp(struct pub_template *t, size_t k, uint32_t nonce,
			uint64_t seq, const char *ts);

/* Reads the MessageId stamp back from a message (echo mode): returns
 * seq << 2 | kind, or -1 when the payload does not carry our stamp. */
int64_t pub_message_stamp(uint32_t nonce, const char *payload, size_t len);

/* Decodes one of the service's output payloads (keypoints or depth JSON,
 * original-system.md §3.12): returns the hole number its "ResultId"
 * (string or integer) stands for in the run with this nonce, or -1 (not
 * JSON, over 64 KiB, no ResultId, or not one of ours below max_seq).
 * *is_error (may be NULL) is set when the payload has "Error": true. */
int64_t pub_result_payload(uint32_t nonce, const char *payload, size_t len,
			   uint64_t max_seq, bool *is_error);

/* Formats unix seconds (floored) as PUB_TS_LEN chars + NUL into buf. */
void pub_format_ts(int64_t unix_s, char buf[PUB_TS_LEN + 1]);

/* Sorts n latencies ascending (qsort). */
void pub_sort(float *v, size_t n);

/* The nearest-rank q-quantile (0 < q <= 1) of v, sorted ascending; 0 for
 * n == 0. */
double pub_quantile_sorted(const float *v, size_t n, double q);

/* ---- the run ------------------------------------------------------------ */

struct pub_opts {
	/* broker (strings borrowed for pub_run) */
	const char *host;
	int port;
	const char *username, *password;
	const char *tls_ca, *tls_cert, *tls_key;
	bool tls_insecure;
	int protocol;	       /* 311 or 5 */
	const char *client_id; /* prefix; "-<pid>-<n>" is added */
	/* topics: {root}/{toolbox}/{tool}/{suffix} */
	const char *root;
	const char *suffix[PUB_KINDS]; /* heads "" or NULL: no Heads */
	const char *keypoints, *depth; /* the service's outputs */
	/* tools: a pool ILLL50203377<i>/setitec00<i>, i = 1..tools, or one
	 * fixed "toolbox/tool" key */
	unsigned tools;
	const char *tool_key;
	/* what and how fast */
	uint64_t seed;		 /* shuffle, input order, tool choice */
	uint32_t nonce;		 /* ResultId/MessageId run stamp */
	bool shuffle;		 /* message order per hole */
	bool rewrite_timestamps; /* "now" at send time */
	double rate;		 /* holes/s; <= 0 or no_sleep: unpaced */
	double duration_s;	 /* 0: none */
	uint64_t count;		 /* holes; 0: none (duration decides) */
	unsigned concurrency;	 /* publishing connections */
	int qos;
	/* results */
	bool wait_results; /* subscribe to keypoints/depth and match */
	bool echo;	   /* subscribe to our own topics (broker ceiling) */
	double wait_timeout_s;
	double connect_timeout_s;
	uint64_t max_holes;	  /* records kept (memory bound) */
	uint32_t max_outstanding; /* per connection, adapter's bound */
};

/* Fills the defaults: 127.0.0.1:1883, the original's topics, 5 tools,
 * shuffle on, concurrency 1, QoS 0, wait timeout 10 s, max_holes 10^7. */
void pub_opts_init(struct pub_opts *o);

struct pub_report {
	double elapsed_s;    /* first send to end of sending */
	double total_s;	     /* including the wait for results */
	uint64_t holes_sent; /* every message of the hole accepted */
	uint64_t msgs_sent;
	uint64_t bytes_sent;
	uint64_t full_waits; /* times a connection was full (backpressure) */
	uint64_t results;    /* holes with a result (or echoed back) */
	uint64_t keypoints;  /* keypoint payloads matched */
	uint64_t errors_in;  /* result payloads carrying "Error": true */
	uint64_t unmatched;  /* outputs that match no hole we sent */
	uint64_t duplicates; /* a second result for one hole */
	uint64_t missing;    /* holes without a result at the end */
	uint64_t msgs_in;    /* messages received by the subscriber */
	double lat_p50_ms, lat_p90_ms, lat_p99_ms, lat_max_ms;
	bool waiting; /* progress only: sending is over */
};

/* Progress callback: called about every progress_ms with a partial report
 * (latency fields not filled). */
typedef void (*pub_progress_fn)(void *ud, const struct pub_report *r);

/* Runs the generator: connects concurrency publishers (and a subscriber
 * when wait_results or echo), sends holes templates[i] in a seeded random
 * order (a new permutation per pass over the inputs), until count holes or
 * duration_s, paced at rate, then waits for outstanding publishes and, when
 * asked, for results (wait_timeout_s after the last send). Fills *rep.
 * Returns 0 (rep says how it went), ABYSS_EINVAL (bad opts; err says),
 * ABYSS_ENOMEM, ABYSS_EMQTT / ABYSS_ETIMEOUT (could not connect; err says
 * why), ABYSS_ETOOBIG (more holes than max_holes in a timed run: sending
 * stops there, rep is filled). */
int pub_run(const struct pub_opts *o, struct pub_template *templates,
	    size_t ntemplates, struct pub_report *rep, pub_progress_fn progress,
	    void *ud, unsigned progress_ms, char *err, size_t errlen);

#endif
