/*
 * config_mq.c - maps the configuration onto the MQTT adapter's options.
 * Kept apart from config.c so that the configuration loader (and its fuzz
 * target) does not depend on libmosquitto. No I/O: the host name is given.
 */
#include "config_mq.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static uint32_t ms(double s)
{
	double v = floor(s * 1000.0 + 0.5);

	if (!(v > 0))
		return 0;
	return v > 4294967295.0 ? UINT32_MAX : (uint32_t)v;
}

int config__mq_opts(const struct abyss_config *cfg, const char *hostname,
		    char *id_buf, size_t n, struct mq_opts *o)
{
	const struct abyss_config_client *c = &cfg->abyss.mqtt;
	int k;

	mq_opts_init(o);
	o->host = cfg->mqtt.broker.host;
	o->port = (int)cfg->mqtt.broker.port;
	o->username = cfg->mqtt.broker.username;
	o->password = cfg->mqtt.broker.password;
	o->keepalive_s = (int)cfg->mqtt.broker.keepalive;
	o->tls_ca = cfg->abyss.tls.ca;
	o->tls_cert = cfg->abyss.tls.cert;
	o->tls_key = cfg->abyss.tls.key;
	o->tls_insecure = cfg->abyss.tls.insecure != 0;
	o->protocol = c->protocol == 5 ? MQ_PROTOCOL_5 : MQ_PROTOCOL_311;
	o->clean_session = c->clean_session != 0;
	o->session_expiry_s =
	    c->session_expiry >= 4294967295.0
		? UINT32_MAX
		: (uint32_t)(c->session_expiry > 0 ? c->session_expiry : 0);
	o->qos = (int)c->subscribe_qos;
	o->reconnect_min_ms = ms(c->reconnect_min);
	o->reconnect_max_ms = ms(c->reconnect_max);
	o->connect_timeout_ms = ms(c->connect_timeout);
	o->max_inflight = (uint32_t)c->max_inflight;
	o->max_outstanding = (uint32_t)c->max_outstanding;
	/* an incoming Trace is the largest message the service handles */
	o->max_payload = cfg->abyss.limits.max_message_bytes > UINT32_MAX
			     ? UINT32_MAX
			     : (uint32_t)cfg->abyss.limits.max_message_bytes;
	if (c->client_id[0]) {
		o->client_id = c->client_id;
		return 0;
	}
	k = snprintf(id_buf, n, "abyss-%s-%lld",
		     hostname && *hostname ? hostname : "host",
		     (long long)cfg->abyss.shard.index);
	if (k < 0 || (size_t)k >= n)
		return ABYSS_ETOOBIG;
	/* a client id is one topic-like string: no wildcards, no '/' */
	for (char *p = id_buf; *p; p++)
		if (*p == '+' || *p == '#' || *p == '/' || *p == ' ')
			*p = '_';
	o->client_id = id_buf;
	return 0;
}
