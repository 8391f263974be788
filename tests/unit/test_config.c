/* test_config.c - the service configuration: the original YAML files,
 * defaults, every validation error (key + line), unknown keys, secrets
 * from the environment, reload classes, derived settings. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/config.h"
#include "service/config_mq.h"

#define CONF_DIR "abyss/src/abyss/run/config/"

static const char minimal[] = "mqtt:\n"
			      "  broker:\n"
			      "    host: broker.example\n"
			      "    port: 1883\n"
			      "  listener:\n"
			      "    root: OPCPUBSUB\n"
			      "    result: ResultManagement\n"
			      "    trace: ResultManagement/Trace\n";

static struct abyss_config *load(const char *yaml, struct abyss_diag *d,
				 struct abyss_config_warnings *w, int *rc)
{
	struct abyss_config *c = NULL;

	abyss_diag_init(d);
	*rc = abyss_config_load_buffer(yaml, strlen(yaml), "t.yaml", &c, d, w);
	return c;
}

static void test_config_original_files_load(void **state)
{
	const char *local = data_path(CONF_DIR "mqtt_conf_local.yaml");
	const char *docker;
	struct abyss_config *c = NULL;
	struct abyss_config_warnings w;
	struct abyss_diag d;
	char topic[512];

	(void)state;
	REQUIRE_DATA(local);
	abyss_diag_init(&d);
	assert_int_equal(abyss_config_load(local, &c, &d, &w), 0);
	assert_int_equal(w.count, 0);
	assert_string_equal(c->mqtt.broker.host, "localhost");
	assert_int_equal(c->mqtt.broker.port, 1883);
	assert_string_equal(c->mqtt.broker.username, "");
	assert_string_equal(c->mqtt.broker.password, "");
	assert_false(abyss_config_has_auth(c));
	assert_int_equal(c->mqtt.broker.keepalive, 60);
	assert_string_equal(c->mqtt.listener.root, "OPCPUBSUB");
	assert_string_equal(c->mqtt.listener.result, "ResultManagement");
	assert_string_equal(c->mqtt.listener.trace, "ResultManagement/Trace");
	assert_string_equal(c->mqtt.listener.heads, "AssetManagement/Heads");
	assert_string_equal(c->mqtt.listener.toolboxid, "+");
	assert_string_equal(c->mqtt.listener.toolid, "+");
	assert_int_equal(c->mqtt.listener.duplicate_handling, ABYSS_DUP_IGNORE);
	assert_true(c->mqtt.listener.duplicate_time_window == 1.0);
	assert_true(c->mqtt.listener.time_window == 30.0);
	assert_true(c->mqtt.listener.cleanup_interval == 60.0);
	assert_int_equal(c->mqtt.listener.max_buffer_size, 10000);
	assert_string_equal(c->mqtt.data_ids.machine_id,
			    "ResultManagement.Results.0.ResultMetaData."
			    "SerialNumber");
	assert_string_equal(c->mqtt.data_ids.position,
			    "ResultManagement.Results.0.ResultContent.Trace."
			    "StepTraces.PositionTrace.StepTraceContent[0]."
			    "Values");
	assert_string_equal(c->mqtt.data_ids.step_vals,
			    "ResultManagement.Results.0.ResultContent."
			    "StepResults.0.StepResultValues.StepNumber");
	assert_string_equal(c->mqtt.estimation.depth_estimation,
			    "ResultManagement.Results.0.ResultContent."
			    "DepthEstimation.DepthEstimation");
	assert_string_equal(c->mqtt.publisher.topics.trace,
			    "OPCPUBSUB/ILLL502033771/setitectest/"
			    "ResultManagement/Traces");
	assert_string_equal(c->mqtt.publisher.client_id, "setitec_publisher");
	/* our section is absent: all defaults */
	assert_int_equal(c->abyss.estimator.method, ABYSS_METHOD_GRADIENT);
	assert_int_equal(c->abyss.mqtt.protocol, 311);
	assert_int_equal(c->abyss.shard.count, 1);
	assert_string_equal(c->abyss.http.listen, "127.0.0.1:9464");
	assert_true(abyss_config_topic_pattern(c, c->mqtt.listener.trace, topic,
					       sizeof(topic)) > 0);
	assert_string_equal(topic, "OPCPUBSUB/+/+/ResultManagement/Trace");
	abyss_config_free(c);

	docker = data_path(CONF_DIR "mqtt_conf_docker.yaml");
	REQUIRE_DATA(docker);
	c = NULL;
	assert_int_equal(abyss_config_load(docker, &c, &d, &w), 0);
	assert_string_equal(c->mqtt.broker.host, "mqtt-broker");
	assert_int_equal(c->mqtt.listener.duplicate_handling,
			 ABYSS_DUP_REPLACE);
	abyss_config_free(c);
}

static void test_config_defaults_and_missing_estimation(void **state)
{
	struct abyss_config_warnings w;
	struct abyss_config *c, def;
	struct abyss_diag d;
	int rc;

	(void)state;
	c = load(minimal, &d, &w, &rc);
	assert_int_equal(rc, 0);
	abyss_config_defaults(&def);
	assert_string_equal(c->mqtt.listener.heads, "");
	assert_int_equal(c->mqtt.broker.keepalive, 60);
	assert_true(c->mqtt.listener.time_window == 30.0);
	assert_string_equal(c->mqtt.data_ids.torque, def.mqtt.data_ids.torque);
	assert_int_equal(c->abyss.logging.level, ABYSS_LOG_INFO);
	assert_int_equal(c->abyss.logging.format, ABYSS_LOG_LOGFMT);
	assert_int_equal(c->abyss.mqtt.subscribe_qos, 1);
	assert_int_equal(c->abyss.mqtt.publish_qos, 1);
	assert_int_equal(c->abyss.mqtt.clean_session, 0);
	assert_int_equal(c->abyss.mqtt.max_outstanding, 8192);
	assert_int_equal(c->abyss.limits.max_pending_messages, 10000);
	assert_string_equal(c->abyss.spool.path, "abyss-spool.db");
	assert_true(c->abyss.correlator.max_age == 300.0);
	/* the original warned about missing estimation keys: so do we, and
	 * publish to the documented default suffixes */
	assert_int_equal(w.count, 2);
	assert_string_equal(w.w[0].key, "mqtt.estimation.keypoints");
	assert_string_equal(c->mqtt.estimation.keypoints,
			    "ResultManagement.Results.0.ResultContent."
			    "DepthEstimation.KeyPoints");
	abyss_config_free(c);
}

struct bad_case {
	const char *yaml;
	int code;
	size_t line;
	const char *needle; /* must appear in the message */
};

#define BASE                                                                   \
	"mqtt:\n  broker: {host: h, port: 1}\n"                                \
	"  listener: {root: R, result: r, trace: t}\n"

static void test_config_errors_name_key_and_line(void **state)
{
	static const struct bad_case cases[] = {
	    {"mqtt:\n  broker:\n    host: x\n    port: abc\n", ABYSS_ECONFIG, 4,
	     "mqtt.broker.port: Invalid INT value"},
	    {"mqtt:\n  broker:\n    host: x\n    port: 70000\n", ABYSS_ECONFIG,
	     4, "from 1 to 65535"},
	    {"mqtt:\n  broker:\n    host: x\n  listener:\n    root: R\n"
	     "    result: r\n    trace: t\n",
	     ABYSS_ECONFIG, 2, "mqtt.broker.port: missing required key"},
	    {"mqtt:\n  broker: {host: h, port: 1}\n"
	     "  listener: {root: R, result: r}\n",
	     ABYSS_ECONFIG, 3, "mqtt.listener.trace: missing required"},
	    {"other: 1\n", ABYSS_ECONFIG, 0,
	     "mqtt: missing required "
	     "section"},
	    {"mqtt: [1]\n", ABYSS_ECONFIG, 1, "mqtt: Expecting MAPPING"},
	    {"- a\n- b\n", ABYSS_ECONFIG, 1, "must be a YAML mapping"},
	    {"", ABYSS_ECONFIG, 0, "empty"},
	    {"a: [\n", ABYSS_EPARSE, 2, "invalid YAML"},
	    {BASE "  broker2: 1\n  broker: {host: x}\n", ABYSS_ECONFIG, 5,
	     "mqtt.broker: duplicate key (first at line 2)"},
	    {"x: &a 1\ny: *a\n" BASE, ABYSS_ECONFIG, 2, "aliases"},
	    {"mqtt:\n  broker: {host: h, port: 1}\n"
	     "  listener: {root: R, result: r, trace: t,\n"
	     "    duplicate_handling: maybe}\n",
	     ABYSS_ECONFIG, 4, "one of ignore, replace, error"},
	    {"mqtt:\n  broker: {host: h, port: 1}\n"
	     "  listener: {root: R, result: r, trace: t,\n"
	     "    time_window: -1}\n",
	     ABYSS_ECONFIG, 4, "mqtt.listener.time_window: -1 is out"},
	    {"mqtt:\n  broker: {host: h, port: 1}\n"
	     "  listener: {root: R, result: r, trace: t,\n"
	     "    time_window: [1]}\n",
	     ABYSS_ECONFIG, 4, "mqtt.listener.time_window: Expecting FLOAT"},
	    {"mqtt:\n  broker: {host: \"\", port: 1}\n"
	     "  listener: {root: R, result: r, trace: t}\n",
	     ABYSS_ECONFIG, 2, "mqtt.broker.host: must not be empty"},
	    {"mqtt:\n  broker: {host: h, port: 1}\n"
	     "  listener: {root: R/#, result: r, trace: t}\n",
	     ABYSS_ECONFIG, 3, "mqtt.listener.root: 'R/#' contains"},
	    {"mqtt:\n  broker: {host: h, port: 1}\n"
	     "  listener: {root: R, result: r, trace: t,\n"
	     "    toolid: a/b}\n",
	     ABYSS_ECONFIG, 4, "mqtt.listener.toolid"},
	    {BASE "abyss:\n  shard: {index: 2, count: 2}\n", ABYSS_ECONFIG, 5,
	     "abyss.shard.index: 2 must be below"},
	    {BASE "abyss:\n  tls:\n    cert: c.pem\n", ABYSS_ECONFIG, 5,
	     "cert and key must be given together"},
	    {BASE "abyss:\n  estimator: {method: ml}\n", ABYSS_ECONFIG, 5,
	     "abyss.estimator.model: required"},
	    {BASE "abyss:\n  estimator: {method: neural}\n", ABYSS_ECONFIG, 5,
	     "one of compat, gradient, ml"},
	    {BASE "abyss:\n  http: {listen: localhost}\n", ABYSS_ECONFIG, 5,
	     "abyss.http.listen: 'localhost' is not HOST:PORT"},
	    {BASE "abyss:\n  mqtt:\n    reconnect_min: 10\n"
		  "    reconnect_max: 5\n",
	     ABYSS_ECONFIG, 6, "reconnect_min: 10 s is above"},
	    {BASE "abyss:\n  mqtt: {subscribe_qos: 3}\n", ABYSS_ECONFIG, 5,
	     "abyss.mqtt.subscribe_qos: 3 is out of range"},
	    {BASE "abyss:\n  tls: {insecure: true}\n", ABYSS_ECONFIG, 5,
	     "abyss.tls.ca: required"},
	    {BASE "abyss:\n  mqtt: {max_outstanding: 30001}\n", ABYSS_ECONFIG,
	     5, "from 1 to 30000"},
	    {BASE "abyss:\n  mqtt: {clean_session: maybe}\n", ABYSS_ECONFIG, 5,
	     "abyss.mqtt.clean_session"},
	    {BASE "abyss:\n  correlator: {max_age: 0}\n", ABYSS_ECONFIG, 5,
	     "abyss.correlator.max_age: 0 is out of range"},
	    {BASE "abyss:\n  limits:\n    max_pending_bytes: 2048\n"
		  "    max_message_bytes: 4096\n",
	     ABYSS_ECONFIG, 7, "max_message_bytes: 4096 is above"},
	};
	struct abyss_config_warnings w;
	struct abyss_diag d;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct abyss_config *c = load(cases[i].yaml, &d, &w, &rc);
		if (rc != cases[i].code || d.line != cases[i].line ||
		    !strstr(d.msg, cases[i].needle))
			fail_msg("case %zu: rc %d line %zu msg '%s'", i, rc,
				 d.line, d.msg);
		assert_null(c);
		assert_string_equal(d.file, "t.yaml");
	}
}

static void test_config_string_too_long(void **state)
{
	char yaml[2048];
	char host[300];
	struct abyss_config_warnings w;
	struct abyss_diag d;
	int rc;

	(void)state;
	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(yaml, sizeof(yaml),
		 "mqtt:\n  broker:\n    host: %s\n    port: 1\n", host);
	assert_null(load(yaml, &d, &w, &rc));
	assert_int_equal(rc, ABYSS_ECONFIG);
	assert_int_equal(d.line, 3);
	assert_non_null(strstr(d.msg, "mqtt.broker.host"));
	assert_non_null(strstr(d.msg, "at most 255 bytes"));
}

static void test_config_unknown_keys_are_warnings(void **state)
{
	static const char yaml[] =
	    "# a comment\n"
	    "mqtt:\n"
	    "  broker:\n"
	    "    host: h  # trailing comment\n"
	    "    port: 1\n"
	    "    tls_version: 1.2\n"
	    "  listener: {root: R, result: r, trace: t}\n"
	    "  estimation: {keypoints: K, "
	    "depth_estimation: D}\n"
	    "abyss:\n"
	    "  colour: blue\n"
	    "  limits: {max_pending: 3}\n"
	    "extra:\n"
	    "  nested: {deep: [1, {x: 2}]}\n";
	struct abyss_config_warnings w;
	struct abyss_config *c;
	struct abyss_diag d;
	int rc;

	(void)state;
	c = load(yaml, &d, &w, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(w.count, 4);
	assert_string_equal(w.w[0].key, "mqtt.broker.tls_version");
	assert_int_equal(w.w[0].line, 6);
	assert_int_equal(w.w[0].col, 5);
	assert_string_equal(w.w[0].msg, "unknown key, ignored");
	assert_string_equal(w.w[1].key, "abyss.colour");
	assert_int_equal(w.w[1].line, 10);
	assert_string_equal(w.w[2].key, "abyss.limits.max_pending");
	assert_string_equal(w.w[3].key, "extra"); /* not extra.nested */
	assert_string_equal(c->mqtt.estimation.keypoints, "K");
	abyss_config_free(c);
}

static void test_config_env_secrets(void **state)
{
	static const char yaml[] =
	    "mqtt:\n"
	    "  broker:\n"
	    "    host: ${ABYSS_TEST_HOST:-fallback.example}\n"
	    "    port: 1\n"
	    "    username: user-${ABYSS_TEST_USER}\n"
	    "    password: \"${ABYSS_TEST_PW}\"\n"
	    "  listener: {root: R, result: r, trace: t}\n"
	    "  publisher: {client_id: \"cost $$${ABYSS_TEST_USER}\"}\n";
	struct abyss_config_warnings w;
	struct abyss_config *c;
	struct abyss_diag d;
	int rc;

	(void)state;
	unsetenv("ABYSS_TEST_HOST");
	unsetenv("ABYSS_MQTT_USERNAME");
	unsetenv("ABYSS_MQTT_PASSWORD");
	setenv("ABYSS_TEST_USER", "drill", 1);
	setenv("ABYSS_TEST_PW", "s3cr$t", 1);
	c = load(yaml, &d, &w, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(c->mqtt.broker.host, "fallback.example");
	assert_string_equal(c->mqtt.broker.username, "user-drill");
	assert_string_equal(c->mqtt.broker.password, "s3cr$t");
	assert_string_equal(c->mqtt.publisher.client_id,
			    "cost $${ABYSS_TEST_USER}");
	assert_true(abyss_config_has_auth(c));
	abyss_config_free(c);

	/* the environment overrides the file */
	setenv("ABYSS_MQTT_PASSWORD", "from-env", 1);
	setenv("ABYSS_MQTT_USERNAME", "env-user", 1);
	c = load(yaml, &d, &w, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(c->mqtt.broker.password, "from-env");
	assert_string_equal(c->mqtt.broker.username, "env-user");
	abyss_config_free(c);
	unsetenv("ABYSS_MQTT_PASSWORD");
	unsetenv("ABYSS_MQTT_USERNAME");

	/* a missing variable is an error naming it, the key and the line */
	unsetenv("ABYSS_TEST_PW");
	assert_null(load(yaml, &d, &w, &rc));
	assert_int_equal(rc, ABYSS_ECONFIG);
	assert_int_equal(d.line, 6);
	assert_non_null(strstr(d.msg, "mqtt.broker.password"));
	assert_non_null(strstr(d.msg, "ABYSS_TEST_PW is not set"));
	unsetenv("ABYSS_TEST_USER");
}

/* Every key set to a value that differs from `minimal`; loading it and
 * comparing with `minimal` must report every known key as changed, which
 * proves the libcyaml schema and the key table agree. */
static const char full[] =
    "mqtt:\n"
    "  broker: {host: h2, port: 8883, username: u, password: p,\n"
    "           keepalive: 30}\n"
    "  listener:\n"
    "    root: ROOT\n"
    "    result: Res\n"
    "    trace: Res/Tr\n"
    "    heads: Asset/Heads\n"
    "    toolboxid: TB1\n"
    "    toolid: tool1\n"
    "    duplicate_handling: error\n"
    "    duplicate_time_window: 2.5\n"
    "    time_window: 10\n"
    "    cleanup_interval: 5\n"
    "    max_buffer_size: 99\n"
    "  data_ids: {machine_id: a1, head_id: a2, result_id: a3,\n"
    "    trace_result_id: a4, position: a5, thrust: a6, torque: a7,\n"
    "    step: a8, torque_empty_vals: a9, thrust_empty_vals: a10,\n"
    "    step_vals: a11}\n"
    "  estimation: {keypoints: KP, depth_estimation: DE}\n"
    "  publisher:\n"
    "    topics: {result: t1, trace: t2, heads: t3}\n"
    "    client_id: pub\n"
    "abyss:\n"
    "  estimator: {method: ml, model: /models/cv4}\n"
    "  workers: {count: 4, queue: 16}\n"
    "  correlator: {heads_grace: 0.5, max_age: 600}\n"
    "  limits: {max_pending_messages: 500, max_pending_bytes: 1048576,\n"
    "           max_message_bytes: 65536, memory_cap_mb: 512}\n"
    "  spool: {path: /var/lib/abyss/spool.db, dedupe_ttl: 3600,\n"
    "          max_entries: 1000, max_mb: 16}\n"
    "  http: {listen: \"[::1]:9000\"}\n"
    "  logging: {format: json, level: WARNING}\n"
    "  tls: {ca: ca.pem, cert: c.pem, key: k.pem, insecure: yes}\n"
    "  mqtt: {client_id: abyss-1, protocol: \"5\", subscribe_qos: 2,\n"
    "         publish_qos: 0, clean_session: true, session_expiry: 60,\n"
    "         reconnect_min: 2, reconnect_max: 30, connect_timeout: 3,\n"
    "         max_inflight: 5, max_outstanding: 50}\n"
    "  shard: {index: 1, count: 3}\n";

static void test_config_every_key_loads_and_compare(void **state)
{
	struct abyss_config_warnings w;
	struct abyss_config_changes ch;
	struct abyss_config *a, *b, copy;
	struct abyss_diag d;
	size_t i;
	int rc;

	(void)state;
	a = load(minimal, &d, &w, &rc);
	assert_int_equal(rc, 0);
	b = load(full, &d, &w, &rc);
	if (rc)
		fail_msg("%s", d.msg);
	assert_int_equal(w.count, 1); /* toolboxid narrows the topics */
	assert_string_equal(w.w[0].key, "mqtt.listener.toolboxid");
	assert_int_equal(b->abyss.logging.level, ABYSS_LOG_WARNING);
	assert_int_equal(b->abyss.mqtt.protocol, 5);
	assert_int_equal(b->abyss.mqtt.clean_session, 1);
	assert_int_equal(b->abyss.tls.insecure, 1);
	assert_int_equal(b->abyss.estimator.method, ABYSS_METHOD_ML);
	assert_true(b->abyss.correlator.heads_grace == 0.5);
	assert_string_equal(b->mqtt.data_ids.step_vals, "a11");

	assert_int_equal(abyss_config_compare(a, b, &ch), 2);
	assert_int_equal(ch.nhot + ch.nrestart, abyss_config_key_count());
	for (i = 0; i < ch.nhot; i++)
		assert_int_equal(abyss_config_key_is_hot(ch.hot[i]), 1);
	for (i = 0; i < ch.nrestart; i++)
		assert_int_equal(abyss_config_key_is_hot(ch.restart[i]), 0);

	/* nothing changed */
	assert_int_equal(abyss_config_compare(a, a, &ch), 0);
	assert_int_equal(ch.nhot + ch.nrestart, 0);
	/* hot only: log level and correlation window */
	copy = *a;
	copy.abyss.logging.level = ABYSS_LOG_DEBUG;
	copy.mqtt.listener.time_window = 5;
	assert_int_equal(abyss_config_compare(a, &copy, &ch), 1);
	assert_int_equal(ch.nhot, 2);
	assert_string_equal(ch.hot[0], "mqtt.listener.time_window");
	assert_string_equal(ch.hot[1], "abyss.logging.level");
	/* the broker needs a restart */
	snprintf(copy.mqtt.broker.host, sizeof(copy.mqtt.broker.host), "b");
	assert_int_equal(abyss_config_compare(a, &copy, &ch), 2);
	assert_int_equal(ch.nrestart, 1);
	assert_string_equal(ch.restart[0], "mqtt.broker.host");
	assert_int_equal(abyss_config_key_is_hot("abyss.shard.count"), 0);
	assert_int_equal(abyss_config_key_is_hot("nope"), ABYSS_ENOTFOUND);
	assert_string_equal(abyss_config_key_name(0), "mqtt.broker.host");
	assert_null(abyss_config_key_name(abyss_config_key_count()));
	abyss_config_free(a);
	abyss_config_free(b);
}

static void test_config_derived_settings(void **state)
{
	struct abyss_config_warnings w;
	struct abyss_corr_config cc;
	struct abyss_spool_limits sl;
	struct abyss_config *c;
	struct abyss_diag d;
	int rc;

	(void)state;
	c = load(full, &d, &w, &rc);
	assert_int_equal(rc, 0);
	abyss_config_to_corr(c, &cc);
	assert_int_equal(cc.time_window_ms, 10000);
	assert_int_equal(cc.duplicate_window_ms, 2500);
	assert_int_equal(cc.duplicate_handling, ABYSS_DUP_ERROR);
	assert_int_equal(cc.heads_enabled, 1);
	assert_int_equal(cc.heads_grace_ms, 500);
	assert_int_equal(cc.max_age_ms, 600000);
	assert_int_equal(cc.max_pending_messages, 500);
	assert_int_equal(cc.max_message_bytes, 65536);
	assert_int_equal(cc.shard_index, 1);
	assert_int_equal(cc.shard_count, 3);
	abyss_config_to_spool(c, &sl);
	assert_int_equal(sl.max_entries, 1000);
	assert_int_equal(sl.max_bytes, 16 << 20);
	assert_int_equal(sl.dedupe_ttl_ms, 3600000);
	abyss_config_free(c);
	c = load(minimal, &d, &w, &rc);
	abyss_config_to_corr(c, &cc);
	assert_int_equal(cc.heads_enabled, 0);
	assert_int_equal(cc.time_window_ms, 30000);
	abyss_config_free(c);
}

static void test_config_reads_nothing_past_the_buffer(void **state)
{
	/* the YAML ends exactly at a PROT_NONE page, without a NUL */
	static const char *const inputs[] = {minimal, full, "mqtt:\n  broker",
					     "a: [\n", "mqtt: {x: \"${A"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		size_t len = strlen(inputs[i]);
		char *g = guard_alloc(inputs[i], len);
		struct abyss_config *c = NULL;
		struct abyss_diag d;
		int rc;
		assert_non_null(g);
		abyss_diag_init(&d);
		rc = abyss_config_load_buffer(g, len, NULL, &c, &d, NULL);
		assert_int_equal(rc == 0, i < 2);
		abyss_config_free(c);
		guard_free(g, len);
	}
}

static void test_config_mq_options(void **state)
{
	struct abyss_config_warnings w;
	struct abyss_config *c;
	struct abyss_diag d;
	struct mq_opts o;
	struct mq *m = NULL;
	char id[64], eb[256];
	int rc;

	(void)state;
	c = load(full, &d, &w, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(config__mq_opts(c, "line4", id, sizeof(id), &o), 0);
	assert_string_equal(o.host, "h2");
	assert_int_equal(o.port, 8883);
	assert_string_equal(o.client_id, "abyss-1");
	assert_int_equal(o.protocol, MQ_PROTOCOL_5);
	assert_int_equal(o.qos, 2);
	assert_true(o.clean_session);
	assert_true(o.tls_insecure);
	assert_string_equal(o.tls_ca, "ca.pem");
	assert_int_equal(o.session_expiry_s, 60);
	assert_int_equal(o.reconnect_min_ms, 2000);
	assert_int_equal(o.reconnect_max_ms, 30000);
	assert_int_equal(o.connect_timeout_ms, 3000);
	assert_int_equal(o.max_inflight, 5);
	assert_int_equal(o.max_outstanding, 50);
	assert_int_equal(o.max_payload, 65536);
	assert_int_equal(o.keepalive_s, 30);
	abyss_config_free(c);

	/* defaults: persistent session under a stable, per-shard client id,
	 * which the adapter accepts as it is */
	c = load(minimal, &d, &w, &rc);
	assert_int_equal(config__mq_opts(c, "line4/a b", id, sizeof(id), &o),
			 0);
	assert_string_equal(o.client_id, "abyss-line4_a_b-0");
	assert_false(o.clean_session);
	assert_int_equal(o.protocol, MQ_PROTOCOL_311);
	assert_int_equal(o.qos, 1);
	assert_int_equal(mq_new(&o, NULL, NULL, &m, eb, sizeof(eb)), 0);
	mq_free(m);
	assert_int_equal(config__mq_opts(c, NULL, id, 8, &o), ABYSS_ETOOBIG);
	abyss_config_free(c);
}

static void test_config_file_errors(void **state)
{
	struct abyss_config *c = NULL;
	struct abyss_diag d;
	char *big;

	(void)state;
	abyss_diag_init(&d);
	assert_int_equal(
	    abyss_config_load("/nonexistent/abyss.yaml", &c, &d, NULL),
	    ABYSS_ENOENT);
	assert_string_equal(d.file, "/nonexistent/abyss.yaml");
	assert_null(c);
	big = calloc(1, ABYSS_CONFIG_FILE_MAX + 2);
	assert_non_null(big);
	memset(big, '#', ABYSS_CONFIG_FILE_MAX + 1);
	assert_int_equal(abyss_config_load_buffer(big,
						  ABYSS_CONFIG_FILE_MAX + 1,
						  NULL, &c, &d, NULL),
			 ABYSS_ETOOBIG);
	free(big);
	assert_int_equal(abyss_config_load_buffer(NULL, 0, NULL, &c, &d, NULL),
			 ABYSS_EINVAL);
	abyss_config_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_original_files_load),
	    cmocka_unit_test(test_config_defaults_and_missing_estimation),
	    cmocka_unit_test(test_config_errors_name_key_and_line),
	    cmocka_unit_test(test_config_string_too_long),
	    cmocka_unit_test(test_config_unknown_keys_are_warnings),
	    cmocka_unit_test(test_config_env_secrets),
	    cmocka_unit_test(test_config_every_key_loads_and_compare),
	    cmocka_unit_test(test_config_derived_settings),
	    cmocka_unit_test(test_config_reads_nothing_past_the_buffer),
	    cmocka_unit_test(test_config_mq_options),
	    cmocka_unit_test(test_config_file_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
