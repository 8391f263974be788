/*
 * abyss/config.h - the service configuration: the original mqtt_conf.yaml
 * (the `mqtt:` section, read unchanged, original-system.md §3.7) plus our
 * own `abyss:` section in the same file. docs/configuration.md is the
 * reference of every key, its default, its limits and whether a running
 * service can apply a change without restarting (SIGHUP).
 *
 * Errors name the key, its line and what was expected; unknown keys are
 * warnings, so the original files (with their comments and test-only keys)
 * load as they are. Strings may use ${VAR} / ${VAR:-default} to take
 * secrets from the environment; ABYSS_MQTT_USERNAME and ABYSS_MQTT_PASSWORD,
 * when set, override the broker credentials.
 */
#ifndef ABYSS_CONFIG_H
#define ABYSS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "abyss/correlator.h"
#include "abyss/depth.h"
#include "abyss/error.h"
#include "abyss/message.h"
#include "abyss/spool.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ABYSS_CONFIG_NAME_MAX 256  /* hosts, topic levels, ids, users */
#define ABYSS_CONFIG_KEY_MAX  512  /* payload key substrings, topics */
#define ABYSS_CONFIG_PATH_MAX 1024 /* file system paths */
#define ABYSS_CONFIG_FILE_MAX (1024 * 1024) /* bytes of YAML */
#define ABYSS_CONFIG_WARN_MAX 32

/* ---- mqtt: (the original's keys) ---------------------------------------- */

struct abyss_config_broker {
	char host[ABYSS_CONFIG_NAME_MAX]; /* required */
	int64_t port;			  /* required, 1..65535 */
	char username[ABYSS_CONFIG_NAME_MAX];
	char password[ABYSS_CONFIG_NAME_MAX];
	int64_t keepalive; /* s, 60 */
};

struct abyss_config_listener {
	char root[ABYSS_CONFIG_NAME_MAX];      /* required */
	char result[ABYSS_CONFIG_NAME_MAX];    /* required */
	char trace[ABYSS_CONFIG_NAME_MAX];     /* required */
	char heads[ABYSS_CONFIG_NAME_MAX];     /* "" = no Heads */
	char toolboxid[ABYSS_CONFIG_NAME_MAX]; /* "+"; see docs */
	char toolid[ABYSS_CONFIG_NAME_MAX];    /* "+" */
	int duplicate_handling;		       /* enum abyss_dup_policy */
	double duplicate_time_window;	       /* s, 1.0 */
	double time_window;		       /* s, 30.0 */
	double cleanup_interval;	       /* s, 60 */
	int64_t max_buffer_size;	       /* 10000 */
};

/* Same bound as struct abyss_data_ids, so a loaded file always converts. */
struct abyss_config_data_ids {
	char machine_id[ABYSS_DATA_ID_MAX];
	char head_id[ABYSS_DATA_ID_MAX];
	char result_id[ABYSS_DATA_ID_MAX];
	char trace_result_id[ABYSS_DATA_ID_MAX];
	char position[ABYSS_DATA_ID_MAX];
	char thrust[ABYSS_DATA_ID_MAX];
	char torque[ABYSS_DATA_ID_MAX];
	char step[ABYSS_DATA_ID_MAX];
	char torque_empty_vals[ABYSS_DATA_ID_MAX];
	char thrust_empty_vals[ABYSS_DATA_ID_MAX];
	char step_vals[ABYSS_DATA_ID_MAX];
};

struct abyss_config_estimation {
	char keypoints[ABYSS_CONFIG_KEY_MAX];
	char depth_estimation[ABYSS_CONFIG_KEY_MAX];
};

struct abyss_config_publisher_topics {
	char result[ABYSS_CONFIG_KEY_MAX];
	char trace[ABYSS_CONFIG_KEY_MAX];
	char heads[ABYSS_CONFIG_KEY_MAX];
};

struct abyss_config_publisher { /* the test publisher (abyss publish) */
	struct abyss_config_publisher_topics topics;
	char client_id[ABYSS_CONFIG_NAME_MAX];
};

struct abyss_config_mqtt {
	struct abyss_config_broker broker;
	struct abyss_config_listener listener;
	struct abyss_config_data_ids data_ids;
	struct abyss_config_estimation estimation;
	struct abyss_config_publisher publisher;
};

/* ---- abyss: (ours) ------------------------------------------------------ */

enum abyss_log_format { ABYSS_LOG_LOGFMT = 0, ABYSS_LOG_JSON = 1 };
enum abyss_log_level {
	ABYSS_LOG_DEBUG = 10,
	ABYSS_LOG_INFO = 20,
	ABYSS_LOG_WARNING = 30,
	ABYSS_LOG_ERROR = 40,
	ABYSS_LOG_CRITICAL = 50
};

struct abyss_config_estimator {
	int method; /* enum abyss_method, gradient */
	char model[ABYSS_CONFIG_PATH_MAX];
};

struct abyss_config_workers {
	int64_t count; /* 1 */
	int64_t queue; /* 64 holes waiting for a worker */
};

struct abyss_config_correlator {
	double heads_grace; /* s, 2.0 */
	double max_age;	    /* s, 300 (arrival time) */
};

struct abyss_config_limits {
	int64_t max_pending_messages; /* 10000 */
	int64_t max_pending_bytes;    /* 536870912 */
	int64_t max_message_bytes;    /* 67108864 */
	int64_t memory_cap_mb;	      /* 0 = none */
};

struct abyss_config_spool {
	char path[ABYSS_CONFIG_PATH_MAX]; /* "abyss-spool.db" */
	double dedupe_ttl;		  /* s, 86400 */
	int64_t max_entries;		  /* 100000 */
	int64_t max_mb;			  /* 256 */
};

struct abyss_config_http {
	char listen[ABYSS_CONFIG_NAME_MAX]; /* "127.0.0.1:9464", "" = off */
};

struct abyss_config_logging {
	int format; /* enum abyss_log_format, logfmt */
	int level;  /* enum abyss_log_level, info */
};

struct abyss_config_tls {
	char ca[ABYSS_CONFIG_PATH_MAX];
	char cert[ABYSS_CONFIG_PATH_MAX];
	char key[ABYSS_CONFIG_PATH_MAX];
	int insecure; /* skip the host name check (tests only); 0 */
};

struct abyss_config_client {
	char client_id[ABYSS_CONFIG_NAME_MAX]; /* "" = abyss-<host>-<shard> */
	int protocol;			       /* 311 or 5; 311 */
	int64_t subscribe_qos;		       /* 0..2; 1 */
	int64_t publish_qos;		       /* 0..2; 1 */
	int clean_session;		       /* 0: persistent session */
	double session_expiry;		       /* s, MQTT 5; 86400 */
	double reconnect_min;		       /* s, 1 */
	double reconnect_max;		       /* s, 60 */
	double connect_timeout;		       /* s, 10 */
	int64_t max_inflight;		       /* 20 */
	int64_t max_outstanding;	       /* 1000 */
};

struct abyss_config_shard {
	int64_t index; /* 0 */
	int64_t count; /* 1 */
};

struct abyss_config_abyss {
	struct abyss_config_estimator estimator;
	struct abyss_config_workers workers;
	struct abyss_config_correlator correlator;
	struct abyss_config_limits limits;
	struct abyss_config_spool spool;
	struct abyss_config_http http;
	struct abyss_config_logging logging;
	struct abyss_config_tls tls;
	struct abyss_config_client mqtt;
	struct abyss_config_shard shard;
};

/* The whole file. Plain data (no pointers): copy it with =, free it with
 * abyss_config_free. */
struct abyss_config {
	struct abyss_config_mqtt mqtt;
	struct abyss_config_abyss abyss;
};

/* Non-fatal findings: unknown keys, deprecated or missing optional keys. */
struct abyss_config_warning {
	size_t line;
	size_t col;
	char key[ABYSS_CONFIG_NAME_MAX];
	char msg[256];
};

struct abyss_config_warnings {
	size_t count;	/* entries in w[] */
	size_t dropped; /* further warnings that did not fit */
	struct abyss_config_warning w[ABYSS_CONFIG_WARN_MAX];
};

/* Reads and validates the YAML file at path. On success *out is a new
 * configuration (free with abyss_config_free) and warnings (may be NULL)
 * lists what was ignored or defaulted with a note. On failure *out is left
 * alone and diag says which key, at which line and column, and what was
 * expected. Returns 0, ABYSS_ENOENT / ABYSS_EIO (file), ABYSS_ETOOBIG
 * (over ABYSS_CONFIG_FILE_MAX), ABYSS_EPARSE (not YAML), ABYSS_ECONFIG
 * (valid YAML, invalid configuration) or ABYSS_ENOMEM. */
int abyss_config_load(const char *path, struct abyss_config **out,
		      struct abyss_diag *diag,
		      struct abyss_config_warnings *warnings);

/* The same from a memory buffer (len bytes, no NUL needed). name is used
 * in diagnostics only (may be NULL). */
int abyss_config_load_buffer(const char *buf, size_t len, const char *name,
			     struct abyss_config **out, struct abyss_diag *diag,
			     struct abyss_config_warnings *warnings);

/* NULL is a no-op. */
void abyss_config_free(struct abyss_config *cfg);

/* Fills cfg with every default; the required keys are left empty/zero. */
void abyss_config_defaults(struct abyss_config *cfg);

/* ---- reload (SIGHUP) ---------------------------------------------------- */

#define ABYSS_CONFIG_CHANGES_MAX 96

/* What differs between two configurations. Key names are static strings
 * ("mqtt.listener.time_window"). */
struct abyss_config_changes {
	size_t nhot; /* can be applied to the running service */
	const char *hot[ABYSS_CONFIG_CHANGES_MAX];
	size_t nrestart; /* need a restart to take effect */
	const char *restart[ABYSS_CONFIG_CHANGES_MAX];
};

/* Compares old and new key by key. Returns 0 when nothing changed, 1 when
 * every change can be applied at run time, 2 when at least one needs a
 * restart (the service then applies the hot ones and logs the others). */
int abyss_config_compare(const struct abyss_config *old_cfg,
			 const struct abyss_config *new_cfg,
			 struct abyss_config_changes *changes);

/* 1 when the key (dotted path) can change at run time, 0 when it needs a
 * restart, ABYSS_ENOTFOUND for an unknown key. */
int abyss_config_key_is_hot(const char *key);

/* ---- derived settings --------------------------------------------------- */

/* The correlator settings this configuration asks for. */
void abyss_config_to_corr(const struct abyss_config *cfg,
			  struct abyss_corr_config *out);

/* The spool limits this configuration asks for. */
void abyss_config_to_spool(const struct abyss_config *cfg,
			   struct abyss_spool_limits *out);

/* Subscription pattern "{root}/{toolboxid}/{toolid}/{suffix}" for the
 * result, trace or heads suffix. Returns the length or ABYSS_ETOOBIG. */
int abyss_config_topic_pattern(const struct abyss_config *cfg,
			       const char *suffix, char *buf, size_t n);

/* The payload-key substrings for abyss_hole_from_msgs. */
void abyss_config_data_ids(const struct abyss_config *cfg,
			   struct abyss_data_ids *out);

/* The topic layout for abyss_msg_parse; the strings are borrowed from cfg
 * (valid while cfg is). heads is NULL when no Heads suffix is configured. */
struct abyss_topics abyss_config_topics(const struct abyss_config *cfg);

/* Message limits for abyss_msg_parse: max_payload_bytes from
 * abyss.limits.max_message_bytes, topics as abyss_config_topics (so the
 * result borrows from cfg and from *topics, which the caller provides). */
struct abyss_msg_limits abyss_config_msg_limits(const struct abyss_config *cfg,
						struct abyss_topics *topics);

/* 1 when both username and password are non-empty (the original's rule). */
int abyss_config_has_auth(const struct abyss_config *cfg);

/* Number of known keys, and the i-th one's dotted name (for docs/tests). */
size_t abyss_config_key_count(void);
const char *abyss_config_key_name(size_t i);

#ifdef __cplusplus
}
#endif
#endif
