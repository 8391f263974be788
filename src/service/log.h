/*
 * service/log.h - the service's structured logger: logfmt or JSON lines,
 * key/value fields, one write(2) per line, rate limiting, injected clock.
 *
 * A line is `ts=... level=... msg="..." key=value ...` (logfmt) or
 * `{"ts":"...","level":"...","msg":"...","key":"value",...}` (JSON lines),
 * with ts in UTC to the millisecond (2026-11-25T16:00:00.123Z). Every call
 * may come from any thread: a line is built and written under the logger's
 * mutex with one write(2) (repeated only for a partial write), so lines never
 * interleave. The level may change at any time (SIGHUP reload).
 * docs/logging.md describes the format, escaping and limits.
 */
#ifndef ABYSS_SERVICE_LOG_H
#define ABYSS_SERVICE_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "abyss/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Levels. The values are those of the configuration's enum abyss_log_level
 * (abyss.logging.level: 10 debug ... 50 critical), so a configured level is
 * passed as it is; the names differ only so that both headers can be
 * included together. */
enum {
	ABYSS_LOGL_DEBUG = 10,
	ABYSS_LOGL_INFO = 20,
	ABYSS_LOGL_WARN = 30,
	ABYSS_LOGL_ERROR = 40,
	ABYSS_LOGL_CRITICAL = 50
};

/* Formats, with the values of the configuration's enum abyss_log_format. */
enum { ABYSS_LOGF_LOGFMT = 0, ABYSS_LOGF_JSON = 1 };

/* Longest line written, newline included, unless opts say otherwise; longer
 * lines are cut (see abyss_log_kv). */
#define ABYSS_LOG_LINE_DEFAULT 8192
#define ABYSS_LOG_LINE_MIN     256
#define ABYSS_LOG_LINE_MAX     (1024 * 1024)
/* Rate-limit keys are compared on their first ABYSS_LOG_RLKEY_MAX - 1
 * bytes. */
#define ABYSS_LOG_RLKEY_MAX 64
/* Bound fields of a struct abyss_log_ctx. */
#define ABYSS_LOG_CTX_FIELDS 4

/* Clock: milliseconds since 1970-01-01T00:00:00Z. */
typedef int64_t (*abyss_log_clock_fn)(void *clock_ctx);

struct abyss_log_opts {
	int fd;		 /* where lines go (>= 0), used when fp is NULL */
	FILE *fp;	 /* or a stream: its fd is used and stdio is bypassed */
	int format;	 /* ABYSS_LOGF_* */
	int level;	 /* lines below it are dropped; ABYSS_LOGL_* */
	size_t line_max; /* 0: ABYSS_LOG_LINE_DEFAULT */
	size_t ratelimit_max; /* distinct rate-limit keys kept; 0: 64 */
	/* NULL: the system clock (CLOCK_REALTIME for ts, CLOCK_MONOTONIC for
	 * rate limits). Given: this clock for both, so tests are exact. */
	abyss_log_clock_fn clock;
	void *clock_ctx;
};

/* A typed field, for abyss_log_fields. */
enum abyss_log_ftype {
	ABYSS_LOGT_STR = 0,
	ABYSS_LOGT_INT = 1,
	ABYSS_LOGT_DBL = 2,
	ABYSS_LOGT_BOOL = 3
};
struct abyss_log_field {
	const char *key;
	enum abyss_log_ftype type;
	const char *s; /* STR; NULL is written as null (JSON) or an empty "" */
	int64_t i;     /* INT, BOOL (0 false, else true) */
	double d;      /* DBL; NaN and infinities are written as null */
};
#define ABYSS_LF_STR(k, v)                                                     \
	{                                                                      \
		(k), ABYSS_LOGT_STR, (v), 0, 0.0                               \
	}
#define ABYSS_LF_INT(k, v)                                                     \
	{                                                                      \
		(k), ABYSS_LOGT_INT, NULL, (int64_t)(v), 0.0                   \
	}
#define ABYSS_LF_DBL(k, v)                                                     \
	{                                                                      \
		(k), ABYSS_LOGT_DBL, NULL, 0, (double)(v)                      \
	}
#define ABYSS_LF_BOOL(k, v)                                                    \
	{                                                                      \
		(k), ABYSS_LOGT_BOOL, NULL, !!(v), 0.0                         \
	}

struct abyss_log;

/* Counters of a logger (abyss_log_stats). */
struct abyss_log_stats {
	uint64_t lines;	     /* lines written */
	uint64_t dropped;    /* lines lost to a write error */
	uint64_t truncated;  /* lines cut at line_max */
	uint64_t suppressed; /* lines held back by rate limits */
};

/* Creates a logger from o and stores it in *out. The logger does not own the
 * fd or stream: the caller keeps it open until abyss_log_free and closes it
 * afterwards. Lines are written straight to the fd, so a FILE* given here
 * must not also buffer its own output (it is flushed once here).
 * Errors: ABYSS_EINVAL (NULL argument, no fd, unknown format or level),
 * ABYSS_ERANGE (line_max outside ABYSS_LOG_LINE_MIN..MAX), ABYSS_ENOMEM.
 * A process that logs to a pipe should ignore SIGPIPE; a write error is
 * counted (stats.dropped), never reported otherwise. */
int abyss_log_new(const struct abyss_log_opts *o, struct abyss_log **out);

/* Frees the logger. NULL is ignored. No other thread may still use it. */
void abyss_log_free(struct abyss_log *lg);

/* Sets the level (any thread, any time). ABYSS_EINVAL for an unknown one. */
int abyss_log_set_level(struct abyss_log *lg, int level);
int abyss_log_level(const struct abyss_log *lg);

/* Points the logger at another fd (log reopening after rotation). The old
 * one is not closed. ABYSS_EINVAL for a negative fd. */
int abyss_log_set_fd(struct abyss_log *lg, int fd);

/* 1 when a line at level would be written, so callers can skip building
 * expensive fields. NULL lg gives 0. */
int abyss_log_enabled(const struct abyss_log *lg, int level);

/* Writes one line: level, message, then key/value string pairs ending with a
 * NULL key, for example
 *	abyss_log_kv(lg, ABYSS_LOGL_INFO, "hole published",
 *		     "hole", id, "ms", "12.5", NULL);
 * Values are text (NULL value: null in JSON, "" in logfmt); in JSON they are
 * strings. Keys should be [A-Za-z0-9_.-]+; other bytes become '_'.
 * Values are escaped (quote, backslash, \n \r \t, other control characters
 * as \u00XX); valid UTF-8 passes through; an invalid byte becomes U+FFFD.
 * A line longer than line_max is cut at a character boundary and ends with
 * truncated=true, still well-formed. NULL lg or msg: nothing happens. */
void abyss_log_kv(struct abyss_log *lg, int level, const char *msg, ...)
    __attribute__((sentinel));

/* The same with n typed fields (numbers unquoted in JSON). */
void abyss_log_fields(struct abyss_log *lg, int level, const char *msg,
		      const struct abyss_log_field *f, size_t n);

/* Rate-limited line: written only if no line with the same rl_key was
 * written in the last interval_ms; a line written after some were held back
 * carries suppressed=N (how many since the last one written). At most
 * opts.ratelimit_max keys are remembered; when all are in use the key least
 * recently written is forgotten (which can let one extra line through,
 * never hide one for good). Returns 1 if the line was written (or would have
 * been, below the level), 0 if held back. */
int abyss_log_kv_rl(struct abyss_log *lg, int level, const char *rl_key,
		    int64_t interval_ms, const char *msg, ...)
    __attribute__((sentinel));

/* A logging context: a logger plus up to ABYSS_LOG_CTX_FIELDS bound
 * key/value pairs written first on every line, so that a hole id follows a
 * hole through every step. The struct lives on the caller's stack; the
 * strings it points to must outlive it. abyss_log_ctx_add returns
 * ABYSS_EFULL when all slots are taken. */
struct abyss_log_ctx {
	struct abyss_log *lg;
	size_t n;
	struct abyss_log_field f[ABYSS_LOG_CTX_FIELDS];
};
void abyss_log_ctx_init(struct abyss_log_ctx *c, struct abyss_log *lg);
int abyss_log_ctx_add(struct abyss_log_ctx *c, const char *key,
		      const char *value);
void abyss_log_ctx_kv(const struct abyss_log_ctx *c, int level, const char *msg,
		      ...) __attribute__((sentinel));

/* Copies the counters. NULL arguments are ignored. */
void abyss_log_stats(struct abyss_log *lg, struct abyss_log_stats *s);

/* Level from its name: debug, info, warn or warning, error, critical
 * (case-insensitive). ABYSS_EINVAL otherwise. */
int abyss_log_level_parse(const char *name, int *level);
/* The name written in lines ("debug", "info", "warn", "error",
 * "critical"); "?" for an unknown level. */
const char *abyss_log_level_name(int level);

#ifdef __cplusplus
}
#endif
#endif
