/*
 * abyss/spool.h - the publish spool: every result payload is written here
 * before it is published and deleted only when the broker acknowledged it,
 * plus a table of already published (tool key, ResultId) so replays do not
 * publish a result twice.
 *
 * Storage: one SQLite file in WAL mode with synchronous=NORMAL. A committed
 * enqueue survives a crash of the process (kill -9); after a power loss the
 * last transactions before the loss may be missing (the WAL trade-off: a
 * result may then be computed and published again, never half-written).
 * The file is locked exclusively while open, so two daemons cannot share
 * one spool by mistake.
 *
 * Times given to this API are wall-clock UTC milliseconds (they are stored
 * and compared across restarts). Not thread-safe: one owner thread.
 */
#ifndef ABYSS_SPOOL_H
#define ABYSS_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "abyss/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct abyss_spool_limits {
	size_t max_entries;	   /* 100000 messages waiting */
	size_t max_bytes;	   /* 256 MiB of payload waiting */
	size_t max_payload_bytes;  /* 1 MiB per message */
	size_t max_topic_bytes;	   /* 65535 (the MQTT limit) */
	int64_t dedupe_ttl_ms;	   /* 86400000 (24 h) */
	size_t max_dedupe_entries; /* 1000000; the oldest go first */
};

/* One message to publish. Pointers are borrowed for the call. */
struct abyss_spool_msg {
	const char *topic;
	const void *payload;
	size_t len;
	int qos;    /* 0, 1 or 2 */
	int retain; /* 0 or 1 */
};

/* A pending message as read back; pointers valid during the callback. */
struct abyss_spool_entry {
	int64_t id; /* increasing in enqueue order */
	const char *topic;
	const void *payload;
	size_t len;
	int qos;
	int retain;
	int64_t created_ms;
};

struct abyss_spool_stats {
	size_t entries;	 /* waiting, in flight included */
	size_t bytes;	 /* their payload bytes */
	size_t inflight; /* handed to the broker, not acknowledged */
	size_t dedupe_entries;
};

struct abyss_spool;

void abyss_spool_limits_default(struct abyss_spool_limits *lim);

/* Opens (creating if needed) the spool at path. lim NULL = defaults. Every
 * message left from a previous run is pending again (its broker message id
 * meant nothing to the new connection). Returns 0, ABYSS_EINVAL,
 * ABYSS_ENOMEM, ABYSS_EDB (not a spool, unreadable, or locked by another
 * process; diag says which), or ABYSS_EUNSUPPORTED (written by a newer
 * abyss). *out is set only on success. */
int abyss_spool_open(const char *path, const struct abyss_spool_limits *lim,
		     struct abyss_spool **out, struct abyss_diag *diag);

/* Closes the spool; what is not acknowledged stays for the next open.
 * NULL is a no-op. */
void abyss_spool_close(struct abyss_spool *sp);

/* Writes n messages (the keypoints and depth payloads of one result) in
 * one transaction, all or nothing. When tool_key and result_id are both
 * non-NULL, the pair is checked against and added to the dedupe table:
 * a pair published within dedupe_ttl_ms gives ABYSS_EDUPLICATE and writes
 * nothing. ids (may be NULL) receives the n row ids. Returns 0,
 * ABYSS_EDUPLICATE, ABYSS_EFULL (max_entries or max_bytes would be
 * exceeded; diag gives the figures), ABYSS_ETOOBIG (one message over
 * max_payload_bytes or max_topic_bytes), ABYSS_EINVAL or ABYSS_EDB. */
int abyss_spool_enqueue(struct abyss_spool *sp,
			const struct abyss_spool_msg *msgs, size_t n,
			const char *tool_key, const char *result_id,
			int64_t now_ms, int64_t *ids, struct abyss_diag *diag);

/* Opens a batch: every write until abyss_spool_commit is one transaction
 * (enqueue, ack and mark_inflight then cost one commit between them, not
 * one each). Nothing written in a batch is durable - nor to be published -
 * before the commit. Returns 0, ABYSS_EINVAL (already in a batch) or
 * ABYSS_EDB. */
int abyss_spool_begin(struct abyss_spool *sp);

/* Commits the batch. On failure the whole batch is rolled back (acks come
 * back as pending, enqueued results are gone), the counters are re-read,
 * and ABYSS_EDB is returned with diag set; ABYSS_EINVAL without a batch. */
int abyss_spool_commit(struct abyss_spool *sp, struct abyss_diag *diag);

/* Records that message id was handed to the broker under message id mid
 * (libmosquitto's mid). Returns 0, ABYSS_ENOTFOUND or ABYSS_EDB. */
int abyss_spool_mark_inflight(struct abyss_spool *sp, int64_t id, int mid);

/* The broker acknowledged mid (on_publish): the message is deleted.
 * Returns 0, ABYSS_ENOTFOUND (unknown mid: already acked, or from before
 * a reset) or ABYSS_EDB. */
int abyss_spool_ack(struct abyss_spool *sp, int mid);

/* Forgets every in-flight mark (after a reconnect the old mids are void),
 * so all messages are pending again. Returns 0 or ABYSS_EDB. */
int abyss_spool_reset_inflight(struct abyss_spool *sp);

/* Calls fn for up to max pending (not in flight) messages in enqueue
 * order, starting after id after_id (0 = from the start). fn may call
 * abyss_spool_mark_inflight; a non-zero return from fn stops the walk and
 * is returned. Returns 0, fn's value, or ABYSS_EDB. */
int abyss_spool_foreach_pending(
    struct abyss_spool *sp, int64_t after_id, size_t max,
    int (*fn)(void *ud, const struct abyss_spool_entry *e), void *ud);

/* 1 if (tool_key, result_id) was published within dedupe_ttl_ms before
 * now_ms, 0 if not, ABYSS_EDB on error. */
int abyss_spool_dedupe_seen(struct abyss_spool *sp, const char *tool_key,
			    const char *result_id, int64_t now_ms);

/* Deletes dedupe entries older than the TTL. Returns how many, or
 * ABYSS_EDB. enqueue does this too; call it on a timer when idle. */
int abyss_spool_dedupe_expire(struct abyss_spool *sp, int64_t now_ms);

int abyss_spool_get_stats(struct abyss_spool *sp, struct abyss_spool_stats *st);

/* Messages in the spool (pending or in flight), from memory: no query. */
size_t abyss_spool_entries(const struct abyss_spool *sp);

#ifdef __cplusplus
}
#endif
#endif
