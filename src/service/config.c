/*
 * config.c - loads the service configuration: libcyaml maps the YAML onto
 * struct abyss_config with a schema; a first libyaml pass records where
 * every key is (line, column), which keys are present (for defaults and
 * required keys) and which are unknown (warnings, not errors). A table of
 * key descriptors carries defaults, limits and the run-time reload class.
 *
 * It reads the file and the environment (${VAR}); it does not watch the
 * file or handle SIGHUP (the daemon does, then calls abyss_config_compare).
 */
#include "abyss/config.h"

#include "../common/file.h"

#include <cyaml/cyaml.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define KEYPATH_MAX 384
#define KEYS_MAX    4096
#define DEPTH_MAX   32

/* ---- key descriptors ---------------------------------------------------- */

enum ftype { T_STR, T_INT, T_DBL, T_BOOL, T_ENUM };

enum {
	F_REQUIRED = 1,	 /* absent -> ABYSS_ECONFIG */
	F_HOT = 2,	 /* may change at run time */
	F_NONEMPTY = 4,	 /* "" is invalid */
	F_WARN_DEF = 8,	 /* absent -> warning, default used */
	F_NOWILD = 16,	 /* no MQTT wildcards or NUL (topic levels) */
	F_TOOL_ID = 32,	 /* "+" or an identifier without + # / */
	F_POSITIVE = 64, /* > min, not >= */
};

static const cyaml_strval_t dup_strings[] = {
    {"ignore", ABYSS_DUP_IGNORE},
    {"replace", ABYSS_DUP_REPLACE},
    {"error", ABYSS_DUP_ERROR},
};
static const cyaml_strval_t method_strings[] = {
    {"compat", ABYSS_METHOD_COMPAT},
    {"gradient", ABYSS_METHOD_GRADIENT},
    {"ml", ABYSS_METHOD_ML},
};
static const cyaml_strval_t format_strings[] = {
    {"logfmt", ABYSS_LOG_LOGFMT},
    {"json", ABYSS_LOG_JSON},
};
static const cyaml_strval_t level_strings[] = {
    {"debug", ABYSS_LOG_DEBUG},	      {"info", ABYSS_LOG_INFO},
    {"warning", ABYSS_LOG_WARNING},   {"error", ABYSS_LOG_ERROR},
    {"critical", ABYSS_LOG_CRITICAL},
};
static const cyaml_strval_t protocol_strings[] = {
    {"3.1.1", 311},
    {"311", 311},
    {"5", 5},
    {"5.0", 5},
};

#define NENUM(a) (sizeof(a) / sizeof((a)[0]))

struct desc {
	const char *key; /* dotted path */
	size_t off, size;
	const char *def_s;
	double def_n, min, max;
	const cyaml_strval_t *strs;
	size_t nstrs;
	enum ftype type;
	unsigned flags;
};

#define M(member)  offsetof(struct abyss_config, member)
#define SZ(member) sizeof(((struct abyss_config *)NULL)->member)
#define S(k, m, fl, d)                                                         \
	{                                                                      \
		.key = (k), .off = M(m), .size = SZ(m), .def_s = (d),          \
		.type = T_STR, .flags = (fl)                                   \
	}
#define I(k, m, fl, d, lo, hi)                                                 \
	{                                                                      \
		.key = (k), .off = M(m), .size = SZ(m), .def_n = (d),          \
		.min = (lo), .max = (hi), .type = T_INT, .flags = (fl)         \
	}
#define D(k, m, fl, d, lo, hi)                                                 \
	{                                                                      \
		.key = (k), .off = M(m), .size = SZ(m), .def_n = (d),          \
		.min = (lo), .max = (hi), .type = T_DBL, .flags = (fl)         \
	}
#define B(k, m, fl, d)                                                         \
	{                                                                      \
		.key = (k), .off = M(m), .size = SZ(m), .def_n = (d),          \
		.max = 1, .type = T_BOOL, .flags = (fl)                        \
	}
#define E(k, m, fl, d, t)                                                      \
	{                                                                      \
		.key = (k), .off = M(m), .size = SZ(m), .def_n = (d),          \
		.strs = (t), .nstrs = NENUM(t), .type = T_ENUM, .flags = (fl)  \
	}

#define DID "ResultManagement.Results.0."
#define TRC DID "ResultContent.Trace.StepTraces."
#define STV DID "ResultContent.StepResults.0.StepResultValues."

/* The reference of every key (docs/configuration.md mirrors this). */
static const struct desc descs[] = {
    S("mqtt.broker.host", mqtt.broker.host, F_REQUIRED | F_NONEMPTY, ""),
    I("mqtt.broker.port", mqtt.broker.port, F_REQUIRED, 0, 1, 65535),
    S("mqtt.broker.username", mqtt.broker.username, 0, ""),
    S("mqtt.broker.password", mqtt.broker.password, 0, ""),
    I("mqtt.broker.keepalive", mqtt.broker.keepalive, 0, 60, 5, 65535),
    S("mqtt.listener.root", mqtt.listener.root,
      F_REQUIRED | F_NONEMPTY | F_NOWILD, ""),
    S("mqtt.listener.result", mqtt.listener.result,
      F_REQUIRED | F_NONEMPTY | F_NOWILD, ""),
    S("mqtt.listener.trace", mqtt.listener.trace,
      F_REQUIRED | F_NONEMPTY | F_NOWILD, ""),
    S("mqtt.listener.heads", mqtt.listener.heads, F_NOWILD, ""),
    S("mqtt.listener.toolboxid", mqtt.listener.toolboxid, F_TOOL_ID, "+"),
    S("mqtt.listener.toolid", mqtt.listener.toolid, F_TOOL_ID, "+"),
    E("mqtt.listener.duplicate_handling", mqtt.listener.duplicate_handling,
      F_HOT, ABYSS_DUP_IGNORE, dup_strings),
    D("mqtt.listener.duplicate_time_window",
      mqtt.listener.duplicate_time_window, F_HOT, 1.0, 0, 3600),
    D("mqtt.listener.time_window", mqtt.listener.time_window, F_HOT, 30.0, 0,
      86400),
    D("mqtt.listener.cleanup_interval", mqtt.listener.cleanup_interval,
      F_HOT | F_POSITIVE, 60.0, 0, 86400),
    I("mqtt.listener.max_buffer_size", mqtt.listener.max_buffer_size, F_HOT,
      10000, 1, 100000000),
    S("mqtt.data_ids.machine_id", mqtt.data_ids.machine_id, F_HOT | F_NONEMPTY,
      DID "ResultMetaData.SerialNumber"),
    S("mqtt.data_ids.head_id", mqtt.data_ids.head_id, F_HOT | F_NONEMPTY,
      "AssetManagement.Assets.Heads.0.Identification.SerialNumber"),
    S("mqtt.data_ids.result_id", mqtt.data_ids.result_id, F_HOT | F_NONEMPTY,
      DID "ResultMetaData.ResultId"),
    S("mqtt.data_ids.trace_result_id", mqtt.data_ids.trace_result_id, F_HOT,
      TRC "PositionTrace.StepResultId"),
    S("mqtt.data_ids.position", mqtt.data_ids.position, F_HOT | F_NONEMPTY,
      TRC "PositionTrace.StepTraceContent[0].Values"),
    S("mqtt.data_ids.thrust", mqtt.data_ids.thrust, F_HOT | F_NONEMPTY,
      TRC "IntensityThrustTrace.StepTraceContent[0].Values"),
    S("mqtt.data_ids.torque", mqtt.data_ids.torque, F_HOT | F_NONEMPTY,
      TRC "IntensityTorqueTrace.StepTraceContent[0].Values"),
    S("mqtt.data_ids.step", mqtt.data_ids.step, F_HOT | F_NONEMPTY,
      TRC "StepNumberTrace.StepTraceContent[0].Values"),
    S("mqtt.data_ids.torque_empty_vals", mqtt.data_ids.torque_empty_vals,
      F_HOT | F_NONEMPTY, STV "IntensityTorqueEmpty"),
    S("mqtt.data_ids.thrust_empty_vals", mqtt.data_ids.thrust_empty_vals,
      F_HOT | F_NONEMPTY, STV "IntensityThrustEmpty"),
    S("mqtt.data_ids.step_vals", mqtt.data_ids.step_vals, F_HOT | F_NONEMPTY,
      STV "StepNumber"),
    S("mqtt.estimation.keypoints", mqtt.estimation.keypoints,
      F_HOT | F_NONEMPTY | F_NOWILD | F_WARN_DEF,
      DID "ResultContent.DepthEstimation.KeyPoints"),
    S("mqtt.estimation.depth_estimation", mqtt.estimation.depth_estimation,
      F_HOT | F_NONEMPTY | F_NOWILD | F_WARN_DEF,
      DID "ResultContent.DepthEstimation.DepthEstimation"),
    S("mqtt.publisher.topics.result", mqtt.publisher.topics.result, F_HOT, ""),
    S("mqtt.publisher.topics.trace", mqtt.publisher.topics.trace, F_HOT, ""),
    S("mqtt.publisher.topics.heads", mqtt.publisher.topics.heads, F_HOT, ""),
    S("mqtt.publisher.client_id", mqtt.publisher.client_id, F_HOT,
      "setitec_publisher"),

    E("abyss.estimator.method", abyss.estimator.method, F_HOT,
      ABYSS_METHOD_GRADIENT, method_strings),
    S("abyss.estimator.model", abyss.estimator.model, F_HOT, ""),
    I("abyss.workers.count", abyss.workers.count, 0, 1, 1, 256),
    I("abyss.workers.queue", abyss.workers.queue, 0, 64, 1, 1000000),
    D("abyss.correlator.heads_grace", abyss.correlator.heads_grace, F_HOT, 2.0,
      0, 3600),
    D("abyss.correlator.max_age", abyss.correlator.max_age, F_HOT | F_POSITIVE,
      300.0, 0, 86400 * 7),
    I("abyss.limits.max_pending_messages", abyss.limits.max_pending_messages,
      F_HOT, 10000, 3, 100000000),
    I("abyss.limits.max_pending_bytes", abyss.limits.max_pending_bytes, F_HOT,
      536870912, 1024, 1099511627776.0),
    I("abyss.limits.max_message_bytes", abyss.limits.max_message_bytes, F_HOT,
      67108864, 1024, 268435455),
    I("abyss.limits.memory_cap_mb", abyss.limits.memory_cap_mb, F_HOT, 0, 0,
      1048576),
    S("abyss.spool.path", abyss.spool.path, F_NONEMPTY, "abyss-spool.db"),
    D("abyss.spool.dedupe_ttl", abyss.spool.dedupe_ttl, F_HOT, 86400.0, 0,
      86400 * 365),
    I("abyss.spool.max_entries", abyss.spool.max_entries, 0, 100000, 2,
      100000000),
    I("abyss.spool.max_mb", abyss.spool.max_mb, 0, 256, 1, 1048576),
    S("abyss.http.listen", abyss.http.listen, 0, "127.0.0.1:9464"),
    E("abyss.logging.format", abyss.logging.format, F_HOT, ABYSS_LOG_LOGFMT,
      format_strings),
    E("abyss.logging.level", abyss.logging.level, F_HOT, ABYSS_LOG_INFO,
      level_strings),
    S("abyss.tls.ca", abyss.tls.ca, 0, ""),
    S("abyss.tls.cert", abyss.tls.cert, 0, ""),
    S("abyss.tls.key", abyss.tls.key, 0, ""),
    B("abyss.tls.insecure", abyss.tls.insecure, 0, 0),
    S("abyss.mqtt.client_id", abyss.mqtt.client_id, F_NOWILD, ""),
    E("abyss.mqtt.protocol", abyss.mqtt.protocol, 0, 311, protocol_strings),
    I("abyss.mqtt.subscribe_qos", abyss.mqtt.subscribe_qos, 0, 1, 0, 2),
    I("abyss.mqtt.publish_qos", abyss.mqtt.publish_qos, F_HOT, 1, 0, 2),
    B("abyss.mqtt.clean_session", abyss.mqtt.clean_session, 0, 0),
    D("abyss.mqtt.session_expiry", abyss.mqtt.session_expiry, 0, 86400.0, 0,
      4294967295.0),
    D("abyss.mqtt.reconnect_min", abyss.mqtt.reconnect_min, F_POSITIVE, 1.0, 0,
      3600),
    D("abyss.mqtt.reconnect_max", abyss.mqtt.reconnect_max, F_POSITIVE, 60.0, 0,
      86400),
    D("abyss.mqtt.connect_timeout", abyss.mqtt.connect_timeout, F_POSITIVE,
      10.0, 0, 3600),
    I("abyss.mqtt.max_inflight", abyss.mqtt.max_inflight, 0, 4096, 1, 65535),
    I("abyss.mqtt.max_outstanding", abyss.mqtt.max_outstanding, 0, 8192, 1,
      30000),
    I("abyss.shard.index", abyss.shard.index, 0, 0, 0, 1023),
    I("abyss.shard.count", abyss.shard.count, 0, 1, 1, 1024),
};

#define NDESCS (sizeof(descs) / sizeof(descs[0]))

size_t abyss_config_key_count(void)
{
	return NDESCS;
}

const char *abyss_config_key_name(size_t i)
{
	return i < NDESCS ? descs[i].key : NULL;
}

static const struct desc *desc_find(const char *key)
{
	size_t i;

	for (i = 0; i < NDESCS; i++)
		if (strcmp(descs[i].key, key) == 0)
			return &descs[i];
	return NULL;
}

int abyss_config_key_is_hot(const char *key)
{
	const struct desc *d = key ? desc_find(key) : NULL;

	if (!d)
		return ABYSS_ENOTFOUND;
	return (d->flags & F_HOT) ? 1 : 0;
}

/* ---- libcyaml schema ----------------------------------------------------
 * Every field is optional for libcyaml: presence, defaults and required
 * keys are decided from the descriptors, which know the line numbers. */

#define OPT	     CYAML_FLAG_OPTIONAL
#define STR(k, s, m) CYAML_FIELD_STRING(k, OPT, s, m, 0)
#define INT(k, s, m) CYAML_FIELD_INT(k, OPT, s, m)
#define DBL(k, s, m) CYAML_FIELD_FLOAT(k, OPT, s, m)
#define ENM(k, s, m, t, fl)                                                    \
	CYAML_FIELD_ENUM(k, OPT | CYAML_FLAG_STRICT | (fl), s, m, t, NENUM(t))
#define MAP(k, s, m, f) CYAML_FIELD_MAPPING(k, OPT, s, m, f)

static const cyaml_schema_field_t broker_f[] = {
    STR("host", struct abyss_config_broker, host),
    INT("port", struct abyss_config_broker, port),
    STR("username", struct abyss_config_broker, username),
    STR("password", struct abyss_config_broker, password),
    INT("keepalive", struct abyss_config_broker, keepalive),
    CYAML_FIELD_END};

static const cyaml_schema_field_t listener_f[] = {
    STR("root", struct abyss_config_listener, root),
    STR("result", struct abyss_config_listener, result),
    STR("trace", struct abyss_config_listener, trace),
    STR("heads", struct abyss_config_listener, heads),
    STR("toolboxid", struct abyss_config_listener, toolboxid),
    STR("toolid", struct abyss_config_listener, toolid),
    ENM("duplicate_handling", struct abyss_config_listener, duplicate_handling,
	dup_strings, 0),
    DBL("duplicate_time_window", struct abyss_config_listener,
	duplicate_time_window),
    DBL("time_window", struct abyss_config_listener, time_window),
    DBL("cleanup_interval", struct abyss_config_listener, cleanup_interval),
    INT("max_buffer_size", struct abyss_config_listener, max_buffer_size),
    CYAML_FIELD_END};

static const cyaml_schema_field_t data_ids_f[] = {
    STR("machine_id", struct abyss_config_data_ids, machine_id),
    STR("head_id", struct abyss_config_data_ids, head_id),
    STR("result_id", struct abyss_config_data_ids, result_id),
    STR("trace_result_id", struct abyss_config_data_ids, trace_result_id),
    STR("position", struct abyss_config_data_ids, position),
    STR("thrust", struct abyss_config_data_ids, thrust),
    STR("torque", struct abyss_config_data_ids, torque),
    STR("step", struct abyss_config_data_ids, step),
    STR("torque_empty_vals", struct abyss_config_data_ids, torque_empty_vals),
    STR("thrust_empty_vals", struct abyss_config_data_ids, thrust_empty_vals),
    STR("step_vals", struct abyss_config_data_ids, step_vals),
    CYAML_FIELD_END};

static const cyaml_schema_field_t estimation_f[] = {
    STR("keypoints", struct abyss_config_estimation, keypoints),
    STR("depth_estimation", struct abyss_config_estimation, depth_estimation),
    CYAML_FIELD_END};

static const cyaml_schema_field_t pub_topics_f[] = {
    STR("result", struct abyss_config_publisher_topics, result),
    STR("trace", struct abyss_config_publisher_topics, trace),
    STR("heads", struct abyss_config_publisher_topics, heads), CYAML_FIELD_END};

static const cyaml_schema_field_t publisher_f[] = {
    MAP("topics", struct abyss_config_publisher, topics, pub_topics_f),
    STR("client_id", struct abyss_config_publisher, client_id),
    CYAML_FIELD_END};

static const cyaml_schema_field_t mqtt_f[] = {
    MAP("broker", struct abyss_config_mqtt, broker, broker_f),
    MAP("listener", struct abyss_config_mqtt, listener, listener_f),
    MAP("data_ids", struct abyss_config_mqtt, data_ids, data_ids_f),
    MAP("estimation", struct abyss_config_mqtt, estimation, estimation_f),
    MAP("publisher", struct abyss_config_mqtt, publisher, publisher_f),
    CYAML_FIELD_END};

static const cyaml_schema_field_t estimator_f[] = {
    ENM("method", struct abyss_config_estimator, method, method_strings, 0),
    STR("model", struct abyss_config_estimator, model), CYAML_FIELD_END};

static const cyaml_schema_field_t workers_f[] = {
    INT("count", struct abyss_config_workers, count),
    INT("queue", struct abyss_config_workers, queue), CYAML_FIELD_END};

static const cyaml_schema_field_t correlator_f[] = {
    DBL("heads_grace", struct abyss_config_correlator, heads_grace),
    DBL("max_age", struct abyss_config_correlator, max_age), CYAML_FIELD_END};

static const cyaml_schema_field_t limits_f[] = {
    INT("max_pending_messages", struct abyss_config_limits,
	max_pending_messages),
    INT("max_pending_bytes", struct abyss_config_limits, max_pending_bytes),
    INT("max_message_bytes", struct abyss_config_limits, max_message_bytes),
    INT("memory_cap_mb", struct abyss_config_limits, memory_cap_mb),
    CYAML_FIELD_END};

static const cyaml_schema_field_t spool_f[] = {
    STR("path", struct abyss_config_spool, path),
    DBL("dedupe_ttl", struct abyss_config_spool, dedupe_ttl),
    INT("max_entries", struct abyss_config_spool, max_entries),
    INT("max_mb", struct abyss_config_spool, max_mb), CYAML_FIELD_END};

static const cyaml_schema_field_t http_f[] = {
    STR("listen", struct abyss_config_http, listen), CYAML_FIELD_END};

static const cyaml_schema_field_t logging_f[] = {
    ENM("format", struct abyss_config_logging, format, format_strings,
	CYAML_FLAG_CASE_INSENSITIVE),
    ENM("level", struct abyss_config_logging, level, level_strings,
	CYAML_FLAG_CASE_INSENSITIVE),
    CYAML_FIELD_END};

static const cyaml_schema_field_t tls_f[] = {
    STR("ca", struct abyss_config_tls, ca),
    STR("cert", struct abyss_config_tls, cert),
    STR("key", struct abyss_config_tls, key),
    CYAML_FIELD_BOOL("insecure", OPT, struct abyss_config_tls, insecure),
    CYAML_FIELD_END};

static const cyaml_schema_field_t client_f[] = {
    STR("client_id", struct abyss_config_client, client_id),
    ENM("protocol", struct abyss_config_client, protocol, protocol_strings, 0),
    INT("subscribe_qos", struct abyss_config_client, subscribe_qos),
    INT("publish_qos", struct abyss_config_client, publish_qos),
    CYAML_FIELD_BOOL("clean_session", OPT, struct abyss_config_client,
		     clean_session),
    DBL("session_expiry", struct abyss_config_client, session_expiry),
    DBL("reconnect_min", struct abyss_config_client, reconnect_min),
    DBL("reconnect_max", struct abyss_config_client, reconnect_max),
    DBL("connect_timeout", struct abyss_config_client, connect_timeout),
    INT("max_inflight", struct abyss_config_client, max_inflight),
    INT("max_outstanding", struct abyss_config_client, max_outstanding),
    CYAML_FIELD_END};

static const cyaml_schema_field_t shard_f[] = {
    INT("index", struct abyss_config_shard, index),
    INT("count", struct abyss_config_shard, count), CYAML_FIELD_END};

static const cyaml_schema_field_t abyss_f[] = {
    MAP("estimator", struct abyss_config_abyss, estimator, estimator_f),
    MAP("workers", struct abyss_config_abyss, workers, workers_f),
    MAP("correlator", struct abyss_config_abyss, correlator, correlator_f),
    MAP("limits", struct abyss_config_abyss, limits, limits_f),
    MAP("spool", struct abyss_config_abyss, spool, spool_f),
    MAP("http", struct abyss_config_abyss, http, http_f),
    MAP("logging", struct abyss_config_abyss, logging, logging_f),
    MAP("tls", struct abyss_config_abyss, tls, tls_f),
    MAP("mqtt", struct abyss_config_abyss, mqtt, client_f),
    MAP("shard", struct abyss_config_abyss, shard, shard_f),
    CYAML_FIELD_END};

static const cyaml_schema_field_t top_f[] = {
    MAP("mqtt", struct abyss_config, mqtt, mqtt_f),
    MAP("abyss", struct abyss_config, abyss, abyss_f), CYAML_FIELD_END};

static const cyaml_schema_value_t top_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct abyss_config, top_f),
};

/* ---- pass 1: where every key is (libyaml events) ------------------------ */

struct keyent {
	char path[KEYPATH_MAX];
	size_t line, col;   /* of the key, 1-based */
	size_t vline, vcol; /* of its value */
	int is_map;	    /* the value is a mapping */
	char val[16];	    /* a scalar value's start, for booleans */
};

struct keymap {
	struct keyent *e;
	size_t n;
};

struct frame {
	int is_map;
	int expect_key;
	size_t pathlen;
};

static const struct keyent *key_lookup(const struct keymap *km,
				       const char *path)
{
	size_t i;

	for (i = 0; i < km->n; i++)
		if (strcmp(km->e[i].path, path) == 0)
			return &km->e[i];
	return NULL;
}

/* After a value finished inside a mapping: back to expecting a key. */
static void value_done(struct frame *st, int depth, char *path)
{
	if (depth > 0 && st[depth - 1].is_map) {
		st[depth - 1].expect_key = 1;
		path[st[depth - 1].pathlen] = '\0';
	}
}

static int scan_keys(const char *buf, size_t len, struct keymap *km,
		     struct abyss_diag *diag)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct frame st[DEPTH_MAX];
	char path[KEYPATH_MAX] = "";
	struct keyent *cur = NULL; /* the key whose value comes next */
	int depth = 0, seq_depth = 0, rc = 0, done = 0, root_seen = 0;

	km->n = 0;
	km->e = calloc(KEYS_MAX, sizeof(*km->e));
	if (!km->e)
		return ABYSS_ENOMEM;
	if (!yaml_parser_initialize(&p))
		return ABYSS_ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!done) {
		size_t line, col;
		if (!yaml_parser_parse(&p, &ev)) {
			rc = abyss_diag_set(
			    diag, ABYSS_EPARSE, p.problem_mark.line + 1,
			    p.problem_mark.column + 1, "invalid YAML: %s%s%s",
			    p.problem ? p.problem : "syntax error",
			    p.context ? " " : "", p.context ? p.context : "");
			break;
		}
		line = ev.start_mark.line + 1;
		col = ev.start_mark.column + 1;
		switch (ev.type) {
		case YAML_DOCUMENT_END_EVENT:
		case YAML_STREAM_END_EVENT:
			done = 1; /* only the first document counts */
			break;
		case YAML_ALIAS_EVENT:
			rc = abyss_diag_set(diag, ABYSS_ECONFIG, line, col,
					    "YAML aliases are not supported "
					    "in the configuration");
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT: {
			int is_map = ev.type == YAML_MAPPING_START_EVENT;
			if (depth == 0 && !is_map) {
				rc = abyss_diag_set(
				    diag, ABYSS_ECONFIG, line, col,
				    "the file must be a YAML mapping "
				    "with an 'mqtt' section");
				break;
			}
			if (depth == DEPTH_MAX) {
				rc = abyss_diag_set(
				    diag, ABYSS_ECONFIG, line, col,
				    "nesting deeper than %d", DEPTH_MAX);
				break;
			}
			if (cur) {
				cur->vline = line;
				cur->vcol = col;
				cur->is_map = is_map;
				cur = NULL;
			}
			root_seen = 1;
			st[depth].is_map = is_map;
			st[depth].expect_key = 1;
			st[depth].pathlen = strlen(path);
			depth++;
			if (!is_map)
				seq_depth++;
			break;
		}
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			if (depth == 0)
				break; /* libyaml balances events; be safe */
			depth--;
			if (!st[depth].is_map)
				seq_depth--;
			path[st[depth].pathlen] = '\0';
			value_done(st, depth, path);
			break;
		case YAML_SCALAR_EVENT: {
			const char *v = (const char *)ev.data.scalar.value;
			struct frame *top = depth ? &st[depth - 1] : NULL;
			if (!top) {
				rc = abyss_diag_set(
				    diag, ABYSS_ECONFIG, line, col,
				    "the file must be a YAML mapping "
				    "with an 'mqtt' section");
				break;
			}
			if (!top->is_map || !top->expect_key) {
				if (cur) {
					cur->vline = line;
					cur->vcol = col;
					snprintf(cur->val, sizeof(cur->val),
						 "%.15s", v);
					cur = NULL;
				}
				value_done(st, depth, path);
				break;
			}
			top->expect_key = 0;
			if (seq_depth > 0)
				break; /* keys inside lists: not ours */
			if (strlen(path) + 1 + strlen(v) >= KEYPATH_MAX) {
				rc = abyss_diag_set(diag, ABYSS_ECONFIG, line,
						    col, "key path too long");
				break;
			}
			if (path[0])
				strncat(path, ".",
					KEYPATH_MAX - strlen(path) - 1);
			strncat(path, v, KEYPATH_MAX - strlen(path) - 1);
			if (key_lookup(km, path)) {
				rc = abyss_diag_set(
				    diag, ABYSS_ECONFIG, line, col,
				    "%s: duplicate key (first at line %zu)",
				    path, key_lookup(km, path)->line);
				break;
			}
			if (km->n == KEYS_MAX) {
				rc = abyss_diag_set(diag, ABYSS_ECONFIG, line,
						    col, "more than %d keys",
						    KEYS_MAX);
				break;
			}
			cur = &km->e[km->n++];
			memcpy(cur->path, path, strlen(path) + 1);
			cur->line = line;
			cur->col = col;
			break;
		}
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (rc != 0)
			break;
	}
	yaml_parser_delete(&p);
	if (rc == 0 && !root_seen)
		rc = abyss_diag_set(diag, ABYSS_ECONFIG, 0, 0,
				    "the file is empty; it must be a YAML "
				    "mapping with an 'mqtt' section");
	return rc;
}

/* ---- pass 2: libcyaml, with its errors turned into key + line ----------- */

#define BT_MAX 16

struct cylog {
	char reason[256];
	int nbt;
	char bt_key[BT_MAX][96];
	size_t bt_line[BT_MAX], bt_col[BT_MAX];
};

static void cy_log(cyaml_log_t level, void *ctx, const char *fmt, va_list ap)
{
	struct cylog *lg = ctx;
	char msg[512], key[96];
	const char *m = msg;
	unsigned long l = 0, c = 0;
	size_t k;

	(void)level;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	k = strlen(msg);
	while (k > 0 && (msg[k - 1] == '\n' || msg[k - 1] == ' '))
		msg[--k] = '\0';
	if (strncmp(m, "Load: ", 6) == 0)
		m += 6;
	while (*m == ' ')
		m++;
	if (sscanf(m, "in mapping field '%95[^']' (line: %lu, column: %lu)",
		   key, &l, &c) == 3) {
		if (lg->nbt < BT_MAX) {
			memcpy(lg->bt_key[lg->nbt], key, strlen(key) + 1);
			lg->bt_line[lg->nbt] = l;
			lg->bt_col[lg->nbt] = c;
			lg->nbt++;
		}
		return;
	}
	if (strncmp(m, "Backtrace", 9) == 0 || lg->reason[0])
		return;
	snprintf(lg->reason, sizeof(lg->reason), "%.255s", m);
}

/* What a key expects, for error messages. */
static void expected(const struct desc *d, char *buf, size_t n)
{
	size_t i, o;

	switch (d->type) {
	case T_STR:
		snprintf(buf, n, "a string of at most %zu bytes", d->size - 1);
		break;
	case T_INT:
		snprintf(buf, n, "an integer from %.0f to %.0f", d->min,
			 d->max);
		break;
	case T_DBL:
		snprintf(buf, n, "a number from %g to %g (seconds)", d->min,
			 d->max);
		break;
	case T_BOOL:
		snprintf(buf, n, "true or false");
		break;
	case T_ENUM:
		o = (size_t)snprintf(buf, n, "one of");
		for (i = 0; i < d->nstrs && o < n; i++)
			o += (size_t)snprintf(buf + o, n - o, "%s %s",
					      i ? "," : "", d->strs[i].str);
		break;
	}
}

static int cyaml_error(const struct cylog *lg, cyaml_err_t err,
		       struct abyss_diag *diag)
{
	char key[KEYPATH_MAX] = "", exp[200] = "";
	const struct desc *d;
	size_t line = 0, col = 0;
	int i;

	/* the backtrace lists the innermost field first */
	for (i = lg->nbt - 1; i >= 0; i--) {
		if (key[0])
			strncat(key, ".", sizeof(key) - strlen(key) - 1);
		strncat(key, lg->bt_key[i], sizeof(key) - strlen(key) - 1);
	}
	if (lg->nbt > 0) {
		line = lg->bt_line[0];
		col = lg->bt_col[0];
	}
	if (err == CYAML_ERR_OOM)
		return abyss_diag_set(diag, ABYSS_ENOMEM, line, col,
				      "out of memory reading the config");
	d = desc_find(key);
	if (d) {
		expected(d, exp, sizeof(exp));
		return abyss_diag_set(
		    diag, ABYSS_ECONFIG, line, col, "%s: %s; expected %s", key,
		    lg->reason[0] ? lg->reason : cyaml_strerror(err), exp);
	}
	return abyss_diag_set(diag, ABYSS_ECONFIG, line, col,
			      "%s%s%s; expected a mapping of keys", key,
			      key[0] ? ": " : "",
			      lg->reason[0] ? lg->reason : cyaml_strerror(err));
}

/* ---- pass 3: defaults, environment, validation -------------------------- */

static void warn(struct abyss_config_warnings *w, const char *key, size_t line,
		 size_t col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void warn(struct abyss_config_warnings *w, const char *key, size_t line,
		 size_t col, const char *fmt, ...)
{
	struct abyss_config_warning *x;
	va_list ap;

	if (!w)
		return;
	if (w->count == ABYSS_CONFIG_WARN_MAX) {
		w->dropped++;
		return;
	}
	x = &w->w[w->count++];
	x->line = line;
	x->col = col;
	snprintf(x->key, sizeof(x->key), "%s", key);
	va_start(ap, fmt);
	vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
	va_end(ap);
}

static void set_default(struct abyss_config *cfg, const struct desc *d)
{
	char *p = (char *)cfg + d->off;

	switch (d->type) {
	case T_STR:
		snprintf(p, d->size, "%s", d->def_s);
		break;
	case T_INT: {
		int64_t v = (int64_t)d->def_n;
		memcpy(p, &v, sizeof(v));
		break;
	}
	case T_DBL:
		memcpy(p, &d->def_n, sizeof(double));
		break;
	case T_BOOL:
	case T_ENUM: {
		int v = (int)d->def_n;
		memcpy(p, &v, sizeof(v));
		break;
	}
	}
}

void abyss_config_defaults(struct abyss_config *cfg)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < NDESCS; i++)
		set_default(cfg, &descs[i]);
}

/* Expands ${VAR} and ${VAR:-default} in s (in place, bounded by n);
 * "$${" stands for a literal "${". */
static int expand_env(char *s, size_t n, const struct keyent *at,
		      const char *key, struct abyss_diag *diag)
{
	char out[ABYSS_CONFIG_PATH_MAX];
	char name[128]; /* outlives the loop body: a default points into it */
	size_t o = 0, i = 0, len = strlen(s);
	size_t line = at ? at->vline : 0, col = at ? at->vcol : 0;

	if (!strchr(s, '$'))
		return 0;
	while (i < len) {
		const char *add = NULL;
		size_t addlen = 0;
		if (s[i] == '$' && s[i + 1] == '$' && s[i + 2] == '{') {
			add = "${";
			addlen = 2;
			i += 3;
		} else if (s[i] == '$' && s[i + 1] == '{') {
			const char *end = strchr(s + i + 2, '}');
			const char *dflt = NULL, *val;
			size_t nl;
			if (!end)
				return abyss_diag_set(
				    diag, ABYSS_ECONFIG, line, col,
				    "%s: unterminated ${ in the value", key);
			nl = (size_t)(end - (s + i + 2));
			if (nl == 0 || nl >= sizeof(name))
				return abyss_diag_set(
				    diag, ABYSS_ECONFIG, line, col,
				    "%s: bad ${...} variable name", key);
			memcpy(name, s + i + 2, nl);
			name[nl] = '\0';
			if (strstr(name, ":-")) {
				dflt = strstr(name, ":-") + 2;
				*strstr(name, ":-") = '\0';
			}
			val = getenv(name);
			if (!val || (!*val && dflt))
				val = dflt;
			if (!val)
				return abyss_diag_set(
				    diag, ABYSS_ECONFIG, line, col,
				    "%s: environment variable %s is not "
				    "set (write ${%s:-} for an empty "
				    "default)",
				    key, name, name);
			add = val;
			addlen = strlen(val);
			i = (size_t)(end - s) + 1;
		} else {
			add = s + i;
			addlen = 1;
			i++;
		}
		if (o + addlen >= n || o + addlen >= sizeof(out))
			return abyss_diag_set(diag, ABYSS_ECONFIG, line, col,
					      "%s: value too long after "
					      "${...} expansion (max %zu "
					      "bytes)",
					      key, n - 1);
		memcpy(out + o, add, addlen);
		o += addlen;
	}
	out[o] = '\0';
	memcpy(s, out, o + 1);
	return 0;
}

static int has_wild(const char *s)
{
	return strpbrk(s, "+#") != NULL;
}

static int check_value(struct abyss_config *cfg, const struct desc *d,
		       const struct keyent *at, struct abyss_diag *diag)
{
	char *p = (char *)cfg + d->off;
	size_t line = at ? at->vline : 0, col = at ? at->vcol : 0;
	char exp[200];
	int rc;

	expected(d, exp, sizeof(exp));
	switch (d->type) {
	case T_STR:
		rc = expand_env(p, d->size, at, d->key, diag);
		if (rc)
			return rc;
		if ((d->flags & F_NONEMPTY) && !*p)
			return abyss_diag_set(diag, ABYSS_ECONFIG, line, col,
					      "%s: must not be empty", d->key);
		if ((d->flags & F_NOWILD) && has_wild(p))
			return abyss_diag_set(
			    diag, ABYSS_ECONFIG, line, col,
			    "%s: '%s' contains an MQTT wildcard (+ or #)",
			    d->key, p);
		if ((d->flags & F_TOOL_ID) && strcmp(p, "+") != 0 &&
		    (!*p || strpbrk(p, "+#/")))
			return abyss_diag_set(
			    diag, ABYSS_ECONFIG, line, col,
			    "%s: '%s' is not \"+\" or an identifier "
			    "without + # /",
			    d->key, p);
		return 0;
	case T_INT: {
		int64_t v;
		memcpy(&v, p, sizeof(v));
		if ((double)v < d->min || (double)v > d->max ||
		    ((d->flags & F_POSITIVE) && (double)v <= d->min))
			return abyss_diag_set(diag, ABYSS_ECONFIG, line, col,
					      "%s: %lld is out of range; "
					      "expected %s",
					      d->key, (long long)v, exp);
		return 0;
	}
	case T_DBL: {
		double v;
		memcpy(&v, p, sizeof(v));
		if (!isfinite(v) || v < d->min || v > d->max ||
		    ((d->flags & F_POSITIVE) && v <= d->min))
			return abyss_diag_set(diag, ABYSS_ECONFIG, line, col,
					      "%s: %g is out of range; "
					      "expected %s%s",
					      d->key, v, exp,
					      (d->flags & F_POSITIVE)
						  ? ", above the minimum"
						  : "");
		return 0;
	}
	case T_BOOL: {
		/* libcyaml reads any unknown word as true; YAML 1.1 (the
		 * original's PyYAML) knows exactly these */
		static const char *const yes[] = {"true", "yes", "on"};
		static const char *const no[] = {"false", "no", "off"};
		const char *v = at ? at->val : "";
		int b = -1;
		size_t i;
		for (i = 0; i < 3; i++) {
			if (strcasecmp(v, yes[i]) == 0)
				b = 1;
			if (strcasecmp(v, no[i]) == 0)
				b = 0;
		}
		if (b < 0)
			return abyss_diag_set(diag, ABYSS_ECONFIG, line, col,
					      "%s: '%s' is not a boolean; "
					      "expected %s",
					      d->key, v, exp);
		memcpy(p, &b, sizeof(b));
		return 0;
	}
	default:
		return 0; /* libcyaml already checked the enums */
	}
}

static size_t kline(const struct keymap *km, const char *key)
{
	const struct keyent *e = key_lookup(km, key);
	return e ? (e->vline && !e->is_map ? e->vline : e->line) : 0;
}

static size_t kcol(const struct keymap *km, const char *key)
{
	const struct keyent *e = key_lookup(km, key);
	return e ? (e->vline && !e->is_map ? e->vcol : e->col) : 0;
}

/* Checks that involve several keys. */
static int cross_check(struct abyss_config *cfg, const struct keymap *km,
		       struct abyss_config_warnings *w, struct abyss_diag *diag)
{
	const char *colon;
	char *end;
	long port;

#define AT(k) kline(km, k), kcol(km, k)
	if (cfg->abyss.shard.index >= cfg->abyss.shard.count)
		return abyss_diag_set(diag, ABYSS_ECONFIG,
				      AT("abyss.shard.index"),
				      "abyss.shard.index: %lld must be below "
				      "abyss.shard.count (%lld)",
				      (long long)cfg->abyss.shard.index,
				      (long long)cfg->abyss.shard.count);
	if (cfg->abyss.mqtt.reconnect_min > cfg->abyss.mqtt.reconnect_max)
		return abyss_diag_set(diag, ABYSS_ECONFIG,
				      AT("abyss.mqtt.reconnect_min"),
				      "abyss.mqtt.reconnect_min: %g s is above "
				      "reconnect_max (%g s)",
				      cfg->abyss.mqtt.reconnect_min,
				      cfg->abyss.mqtt.reconnect_max);
	if (!cfg->abyss.tls.cert[0] != !cfg->abyss.tls.key[0])
		return abyss_diag_set(
		    diag, ABYSS_ECONFIG, AT("abyss.tls"),
		    "abyss.tls: cert and key must be given together");
	if (cfg->abyss.limits.max_message_bytes >
	    cfg->abyss.limits.max_pending_bytes)
		return abyss_diag_set(
		    diag, ABYSS_ECONFIG, AT("abyss.limits.max_message_bytes"),
		    "abyss.limits.max_message_bytes: %lld is above "
		    "max_pending_bytes (%lld)",
		    (long long)cfg->abyss.limits.max_message_bytes,
		    (long long)cfg->abyss.limits.max_pending_bytes);
	if (cfg->abyss.estimator.method == ABYSS_METHOD_ML &&
	    !cfg->abyss.estimator.model[0])
		return abyss_diag_set(diag, ABYSS_ECONFIG,
				      AT("abyss.estimator.method"),
				      "abyss.estimator.model: required when "
				      "the method is ml (a model directory)");
	if (cfg->abyss.http.listen[0]) {
		colon = strrchr(cfg->abyss.http.listen, ':');
		errno = 0;
		port = colon ? strtol(colon + 1, &end, 10) : -1;
		if (!colon || colon == cfg->abyss.http.listen || errno ||
		    *end || port < 1 || port > 65535)
			return abyss_diag_set(
			    diag, ABYSS_ECONFIG, AT("abyss.http.listen"),
			    "abyss.http.listen: '%s' is not HOST:PORT "
			    "(\"\" turns HTTP off)",
			    cfg->abyss.http.listen);
	}
	if ((cfg->abyss.tls.insecure || cfg->abyss.tls.cert[0]) &&
	    !cfg->abyss.tls.ca[0])
		return abyss_diag_set(diag, ABYSS_ECONFIG, AT("abyss.tls"),
				      "abyss.tls.ca: required when tls.cert or "
				      "tls.insecure is set (TLS is on only "
				      "with a CA)");
	if (strcmp(cfg->mqtt.listener.toolboxid, "+") != 0 ||
	    strcmp(cfg->mqtt.listener.toolid, "+") != 0)
		warn(w, "mqtt.listener.toolboxid",
		     AT("mqtt.listener.toolboxid"),
		     "toolboxid/toolid narrow the subscription (the original "
		     "ignored them and always used +)");
#undef AT
	return 0;
}

static int is_known_key(const char *path)
{
	size_t i, n = strlen(path);

	for (i = 0; i < NDESCS; i++)
		if (strncmp(descs[i].key, path, n) == 0 &&
		    (descs[i].key[n] == '\0' || descs[i].key[n] == '.'))
			return 1;
	return 0;
}

/* Only the outermost unknown key is reported, not all that is under it. */
static int parent_known(const char *path)
{
	char parent[KEYPATH_MAX];
	char *dot;

	snprintf(parent, sizeof(parent), "%s", path);
	dot = strrchr(parent, '.');
	if (!dot)
		return 1;
	*dot = '\0';
	return is_known_key(parent);
}

static int finish(struct abyss_config *cfg, const struct keymap *km,
		  struct abyss_config_warnings *w, struct abyss_diag *diag)
{
	size_t i;
	const char *env;
	int rc;

	if (!key_lookup(km, "mqtt"))
		return abyss_diag_set(diag, ABYSS_ECONFIG, 0, 0,
				      "mqtt: missing required section");
	for (i = 0; i < km->n; i++)
		if (!is_known_key(km->e[i].path) && parent_known(km->e[i].path))
			warn(w, km->e[i].path, km->e[i].line, km->e[i].col,
			     "unknown key, ignored");
	for (i = 0; i < NDESCS; i++) {
		const struct desc *d = &descs[i];
		const struct keyent *at = key_lookup(km, d->key);
		if (!at) {
			if (d->flags & F_REQUIRED) {
				char parent[KEYPATH_MAX];
				const struct keyent *pe;
				snprintf(parent, sizeof(parent), "%s", d->key);
				*strrchr(parent, '.') = '\0';
				pe = key_lookup(km, parent);
				return abyss_diag_set(
				    diag, ABYSS_ECONFIG, pe ? pe->line : 0,
				    pe ? pe->col : 0,
				    "%s: missing required key%s%s", d->key,
				    pe ? " in " : "", pe ? parent : "");
			}
			set_default(cfg, d);
			if (d->flags & F_WARN_DEF)
				warn(w, d->key, 0, 0,
				     "missing; publishing to the default "
				     "suffix '%s'",
				     d->def_s);
			continue;
		}
		rc = check_value(cfg, d, at, diag);
		if (rc)
			return rc;
	}
	/* secrets from the environment win over the file */
	env = getenv("ABYSS_MQTT_USERNAME");
	if (env && snprintf(cfg->mqtt.broker.username,
			    sizeof(cfg->mqtt.broker.username), "%s",
			    env) >= (int)sizeof(cfg->mqtt.broker.username))
		return abyss_diag_set(diag, ABYSS_ECONFIG, 0, 0,
				      "ABYSS_MQTT_USERNAME is too long");
	env = getenv("ABYSS_MQTT_PASSWORD");
	if (env && snprintf(cfg->mqtt.broker.password,
			    sizeof(cfg->mqtt.broker.password), "%s",
			    env) >= (int)sizeof(cfg->mqtt.broker.password))
		return abyss_diag_set(diag, ABYSS_ECONFIG, 0, 0,
				      "ABYSS_MQTT_PASSWORD is too long");
	return cross_check(cfg, km, w, diag);
}

/* ---- entry points ------------------------------------------------------- */

int abyss_config_load_buffer(const char *buf, size_t len, const char *name,
			     struct abyss_config **out, struct abyss_diag *diag,
			     struct abyss_config_warnings *warnings)
{
	struct keymap km = {NULL, 0};
	struct cylog lg;
	cyaml_config_t cc;
	struct abyss_config *loaded = NULL, *cfg = NULL;
	cyaml_err_t err;
	int rc;

	if (name)
		abyss_diag_set_file(diag, name);
	if (warnings) {
		warnings->count = 0;
		warnings->dropped = 0;
	}
	if (!buf || !out)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "no configuration given");
	if (len > ABYSS_CONFIG_FILE_MAX)
		return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
				      "configuration larger than %d bytes",
				      ABYSS_CONFIG_FILE_MAX);
	rc = scan_keys(buf, len, &km, diag);
	if (rc)
		goto out;

	memset(&lg, 0, sizeof(lg));
	memset(&cc, 0, sizeof(cc));
	cc.log_fn = cy_log;
	cc.log_ctx = &lg;
	cc.mem_fn = cyaml_mem;
	cc.log_level = CYAML_LOG_ERROR;
	cc.flags = CYAML_CFG_IGNORE_UNKNOWN_KEYS | CYAML_CFG_NO_ALIAS;
	err = cyaml_load_data((const uint8_t *)buf, len, &cc, &top_schema,
			      (cyaml_data_t **)&loaded, NULL);
	if (err != CYAML_OK) {
		rc = cyaml_error(&lg, err, diag);
		goto out;
	}
	cfg = malloc(sizeof(*cfg));
	if (!cfg) {
		rc = ABYSS_ENOMEM;
		goto out;
	}
	memcpy(cfg, loaded, sizeof(*cfg));
	rc = finish(cfg, &km, warnings, diag);
out:
	if (loaded)
		cyaml_free(&cc, &top_schema, loaded, 0);
	free(km.e);
	if (rc) {
		free(cfg);
		return rc;
	}
	*out = cfg;
	return 0;
}

int abyss_config_load(const char *path, struct abyss_config **out,
		      struct abyss_diag *diag,
		      struct abyss_config_warnings *warnings)
{
	char *buf;
	size_t n;
	int rc;

	if (!path)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "no configuration file given");
	rc = common__read_file(path, ABYSS_CONFIG_FILE_MAX, &buf, &n, diag);
	if (rc)
		return rc;
	rc = abyss_config_load_buffer(buf, n, NULL, out, diag, warnings);
	free(buf);
	return rc;
}

void abyss_config_free(struct abyss_config *cfg)
{
	free(cfg);
}

/* ---- reload ------------------------------------------------------------- */

int abyss_config_compare(const struct abyss_config *old_cfg,
			 const struct abyss_config *new_cfg,
			 struct abyss_config_changes *ch)
{
	size_t i;

	ch->nhot = ch->nrestart = 0;
	for (i = 0; i < NDESCS; i++) {
		const struct desc *d = &descs[i];
		const char *a = (const char *)old_cfg + d->off;
		const char *b = (const char *)new_cfg + d->off;
		int same = d->type == T_STR ? strcmp(a, b) == 0
					    : memcmp(a, b, d->size) == 0;
		if (same)
			continue;
		if (d->flags & F_HOT)
			ch->hot[ch->nhot++] = d->key;
		else
			ch->restart[ch->nrestart++] = d->key;
	}
	return ch->nrestart ? 2 : ch->nhot ? 1 : 0;
}

/* ---- derived settings --------------------------------------------------- */

void abyss_config_to_corr(const struct abyss_config *cfg,
			  struct abyss_corr_config *out)
{
	abyss_corr_config_default(out);
	out->time_window_ms =
	    (int64_t)llround(cfg->mqtt.listener.time_window * 1000.0);
	out->duplicate_window_ms =
	    (int64_t)llround(cfg->mqtt.listener.duplicate_time_window * 1000.0);
	out->duplicate_handling =
	    (enum abyss_dup_policy)cfg->mqtt.listener.duplicate_handling;
	out->heads_enabled = cfg->mqtt.listener.heads[0] != '\0';
	out->heads_grace_ms =
	    (int64_t)llround(cfg->abyss.correlator.heads_grace * 1000.0);
	out->max_age_ms =
	    (int64_t)llround(cfg->abyss.correlator.max_age * 1000.0);
	out->max_pending_messages =
	    (size_t)cfg->abyss.limits.max_pending_messages;
	out->max_pending_bytes = (size_t)cfg->abyss.limits.max_pending_bytes;
	out->max_message_bytes = (size_t)cfg->abyss.limits.max_message_bytes;
	out->shard_index = (uint32_t)cfg->abyss.shard.index;
	out->shard_count = (uint32_t)cfg->abyss.shard.count;
}

void abyss_config_to_spool(const struct abyss_config *cfg,
			   struct abyss_spool_limits *out)
{
	abyss_spool_limits_default(out);
	out->max_entries = (size_t)cfg->abyss.spool.max_entries;
	out->max_bytes = (size_t)cfg->abyss.spool.max_mb << 20;
	out->dedupe_ttl_ms =
	    (int64_t)llround(cfg->abyss.spool.dedupe_ttl * 1000.0);
}

int abyss_config_topic_pattern(const struct abyss_config *cfg,
			       const char *suffix, char *buf, size_t n)
{
	int k = snprintf(buf, n, "%s/%s/%s/%s", cfg->mqtt.listener.root,
			 cfg->mqtt.listener.toolboxid,
			 cfg->mqtt.listener.toolid, suffix);

	if (k < 0 || (size_t)k >= n)
		return ABYSS_ETOOBIG;
	return k;
}

void abyss_config_data_ids(const struct abyss_config *cfg,
			   struct abyss_data_ids *out)
{
	const struct abyss_config_data_ids *in = &cfg->mqtt.data_ids;

	/* both sides are ABYSS_DATA_ID_MAX arrays: plain copies */
	memset(out, 0, sizeof(*out));
	memcpy(out->machine_id, in->machine_id, sizeof(out->machine_id));
	memcpy(out->head_id, in->head_id, sizeof(out->head_id));
	memcpy(out->result_id, in->result_id, sizeof(out->result_id));
	memcpy(out->position, in->position, sizeof(out->position));
	memcpy(out->thrust, in->thrust, sizeof(out->thrust));
	memcpy(out->torque, in->torque, sizeof(out->torque));
	memcpy(out->step, in->step, sizeof(out->step));
	memcpy(out->torque_empty_vals, in->torque_empty_vals,
	       sizeof(out->torque_empty_vals));
	memcpy(out->thrust_empty_vals, in->thrust_empty_vals,
	       sizeof(out->thrust_empty_vals));
	memcpy(out->step_vals, in->step_vals, sizeof(out->step_vals));
}

struct abyss_topics abyss_config_topics(const struct abyss_config *cfg)
{
	struct abyss_topics t;

	t.root = cfg->mqtt.listener.root;
	t.result = cfg->mqtt.listener.result;
	t.trace = cfg->mqtt.listener.trace;
	t.heads = cfg->mqtt.listener.heads[0] ? cfg->mqtt.listener.heads : NULL;
	return t;
}

struct abyss_msg_limits abyss_config_msg_limits(const struct abyss_config *cfg,
						struct abyss_topics *topics)
{
	struct abyss_msg_limits lim = abyss_msg_limits_default();

	*topics = abyss_config_topics(cfg);
	lim.max_payload_bytes = (size_t)cfg->abyss.limits.max_message_bytes;
	lim.topics = topics;
	return lim;
}

int abyss_config_has_auth(const struct abyss_config *cfg)
{
	return cfg->mqtt.broker.username[0] && cfg->mqtt.broker.password[0];
}
