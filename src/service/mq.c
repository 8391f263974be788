/*
 * mq.c - the MQTT adapter: the only file that includes <mosquitto.h>.
 *
 * One libmosquitto client, driven by the caller's poll loop through
 * mosquitto_socket / loop_read / loop_write / loop_misc (never the threaded
 * loop, which cannot stop reading). On top of libmosquitto it adds the
 * connection state machine with exponential backoff and jitter (injected time
 * and RNG), a connect timeout, re-subscription on every connect, a bound on
 * unacknowledged publishes, and read pausing for backpressure.
 * It does not parse payloads, correlate, spool or log: the service does.
 */
#include "mq.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "abyss/error.h"

#define MQ__DEF_PORT	      1883
#define MQ__DEF_KEEPALIVE     60
#define MQ__DEF_EXPIRY	      86400u
#define MQ__DEF_RECONNECT_MIN 1000u
#define MQ__DEF_RECONNECT_MAX 60000u
#define MQ__DEF_CONNECT_TMO   10000u
#define MQ__DEF_OUTSTANDING   8192u
#define MQ__DEF_PAYLOAD	      (16u << 20)
#define MQ__DEF_INFLIGHT      4096u
#define MQ__DEF_READ_BUDGET   64u
#define MQ__MAX_PAYLOAD	      268435455u /* MQTT's remaining-length limit */
#define MQ__TOPIC_MAX	      65535u
#define MQ__PACKET_OVERHEAD   (MQ__TOPIC_MAX + 64u)

/* A message read after a pause inside the same libmosquitto read burst. */
struct mq__held {
	char *topic; /* one allocation: topic NUL payload */
	const void *payload;
	size_t len;
	int qos;
	bool retain;
	int64_t arrival_ms;
};

struct mq {
	struct mosquitto *mosq;
	struct mq_callbacks cb;
	void *ud;

	/* copied options */
	char *host;
	int port, keepalive_s, qos, protocol;
	bool tls;
	uint32_t reconnect_min_ms, reconnect_max_ms, connect_timeout_ms;
	uint32_t max_outstanding, max_payload, read_budget;

	char **topics;
	size_t ntopics;

	enum mq_state state;
	bool started; /* mosquitto_connect_bind_async done once */
	bool refused; /* this attempt's CONNACK was a refusal */
	bool fatal;   /* ... and retrying cannot help */
	bool paused;
	unsigned attempt; /* failed attempts since the last stable session */
	int64_t now_ms;
	int64_t next_attempt_ms, deadline_ms, connected_at_ms;
	uint64_t rng;

	/* Message ids not yet complete, one bit per id: QoS>0 until the
	 * broker's acknowledgement, QoS 0 until libmosquitto has written it
	 * (else a slow broker would grow libmosquitto's packet queue without
	 * bound). */
	uint32_t outstanding, unwritten0;
	uint8_t mid_bits[65536 / 8], mid0_bits[65536 / 8];
	bool in_publish, in_publish_done; /* QoS 0 written inside the call */
	int in_publish_mid;

	struct mq__held held[MQ_HELD_MAX];
	size_t held_head, held_n;

	int loop_rc, loop_errno; /* last failing mosquitto_loop_* call */
	char err[MQ_ERRMSG_MAX];
	struct mq_stats st;
};

/* ---- libmosquitto's process-wide init, reference counted ----------------- */

static pthread_mutex_t mq__lib_mutex = PTHREAD_MUTEX_INITIALIZER;
static unsigned mq__lib_refs;

static int mq__lib_ref(void)
{
	int rc = 0;

	pthread_mutex_lock(&mq__lib_mutex);
	if (mq__lib_refs == 0 && mosquitto_lib_init() != MOSQ_ERR_SUCCESS)
		rc = ABYSS_EMQTT;
	if (rc == 0)
		mq__lib_refs++;
	pthread_mutex_unlock(&mq__lib_mutex);
	return rc;
}

static void mq__lib_unref(void)
{
	pthread_mutex_lock(&mq__lib_mutex);
	if (mq__lib_refs > 0 && --mq__lib_refs == 0)
		mosquitto_lib_cleanup();
	pthread_mutex_unlock(&mq__lib_mutex);
}

/* ---- small helpers ------------------------------------------------------- */

static uint64_t mq__splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

uint32_t mq_backoff_ms(unsigned attempt, uint32_t min_ms, uint32_t max_ms,
		       uint64_t *rng)
{
	uint64_t base = min_ms, half;

	if (max_ms < min_ms)
		max_ms = min_ms;
	/* Double without overflow: stop as soon as the cap is reached. */
	while (attempt-- > 0 && base < max_ms)
		base *= 2;
	if (base > max_ms)
		base = max_ms;
	half = base / 2;
	return (uint32_t)(base - half +
			  mq__splitmix64(rng) % (half + 1)); /* [b-b/2, b] */
}

static char *mq__strdup(const char *s)
{
	size_t n;
	char *d;

	if (!s || !*s)
		return NULL;
	n = strlen(s) + 1;
	d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

static bool mq__set(const char *s)
{
	return s && *s;
}

__attribute__((format(printf, 2, 3))) static void
mq__seterr(struct mq *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->err, sizeof(m->err), fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4))) static int
mq__badopt(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (buf && n > 0) {
		va_start(ap, fmt);
		vsnprintf(buf, n, fmt, ap);
		va_end(ap);
	}
	return ABYSS_EINVAL;
}

/* A libmosquitto return code (or an MQTT 5 reason code >= 0x80, which is
 * what it passes on when the broker sent DISCONNECT) as a sentence. errno_at
 * is errno as it was when the error happened. */
static const char *mq__why(int rc, int errno_at, char *buf, size_t n)
{
	if (rc >= 0x80)
		return mosquitto_reason_string(rc);
	if (rc == MOSQ_ERR_ERRNO && errno_at != 0) {
		snprintf(buf, n, "%s", strerror(errno_at));
		return buf;
	}
	if (rc == MOSQ_ERR_EAI) {
		snprintf(buf, n, "cannot resolve the broker's host: %s",
			 gai_strerror(errno_at));
		return buf;
	}
	return mosquitto_strerror(rc);
}

static bool mq__bit_test(const uint8_t *bits, int mid)
{
	unsigned u = (unsigned)mid & 0xFFFFu;

	return (bits[u >> 3] >> (u & 7)) & 1u;
}

static void mq__bit_flip(uint8_t *bits, int mid)
{
	unsigned u = (unsigned)mid & 0xFFFFu;

	bits[u >> 3] ^= (uint8_t)(1u << (u & 7));
}

/* ---- state machine ------------------------------------------------------- */

/* The connection is gone (or an attempt failed): decide what comes next and
 * tell the user. rc/why describe the failure. */
static void mq__lost(struct mq *m, int rc, const char *why)
{
	int64_t retry = -1;
	uint32_t delay;
	enum mq_state was = m->state;

	/* QoS 0 packets not yet written die with the connection
	 * (libmosquitto drops its packet queue when it reconnects). */
	if (m->unwritten0 > 0) {
		m->st.qos0_lost += m->unwritten0;
		m->unwritten0 = 0;
		memset(m->mid0_bits, 0, sizeof(m->mid0_bits));
	}
	if (was == MQ_CONNECTED) {
		m->st.disconnects++;
		/* A session that lasted resets the backoff; one that flaps
		 * (e.g. another client with our id kicks us) keeps growing
		 * it. */
		if (m->now_ms - m->connected_at_ms >=
		    (int64_t)m->reconnect_max_ms)
			m->attempt = 0;
	} else if (was == MQ_CONNECTING) {
		m->st.connect_failures++;
	}
	if (was == MQ_CLOSING) {
		m->state = MQ_CLOSED;
		rc = 0;
		why = "disconnected on request";
	} else if (m->fatal) {
		m->state = MQ_FAILED;
		rc = ABYSS_EMQTT;
		why = m->err;
	} else {
		delay = mq_backoff_ms(m->attempt, m->reconnect_min_ms,
				      m->reconnect_max_ms, &m->rng);
		if (m->attempt < 64)
			m->attempt++;
		m->next_attempt_ms = m->now_ms + delay;
		retry = delay;
		m->state = MQ_WAITING;
		if (!m->refused && why != m->err)
			mq__seterr(m, "%s", why);
	}
	if (m->cb.on_disconnect)
		m->cb.on_disconnect(m->ud, rc, m->refused ? m->err : why,
				    retry);
}

static void mq__attempt(struct mq *m)
{
	int rc, e;
	char buf[160];

	m->refused = false;
	m->fatal = false;
	m->state = MQ_CONNECTING;
	m->deadline_ms = m->now_ms + m->connect_timeout_ms;
	errno = 0;
	if (!m->started) {
		rc = mosquitto_connect_bind_async(m->mosq, m->host, m->port,
						  m->keepalive_s, NULL);
		m->started = true;
	} else {
		rc = mosquitto_reconnect_async(m->mosq);
	}
	e = errno;
	if (rc != MOSQ_ERR_SUCCESS) {
		mq__seterr(m, "cannot connect to %s:%d: %s", m->host, m->port,
			   mq__why(rc, e, buf, sizeof(buf)));
		mq__lost(m, ABYSS_EMQTT, m->err);
	}
}

/* ---- libmosquitto callbacks ---------------------------------------------- */

static bool mq__fatal_connack(int protocol, int code)
{
	if (protocol == MQ_PROTOCOL_5)
		return code == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION ||
		       code == MQTT_RC_CLIENTID_NOT_VALID ||
		       code == MQTT_RC_BAD_USERNAME_OR_PASSWORD ||
		       code == MQTT_RC_NOT_AUTHORIZED ||
		       code == MQTT_RC_BANNED ||
		       code == MQTT_RC_BAD_AUTHENTICATION_METHOD;
	/* 3.1.1: 1 protocol, 2 identifier, 4 credentials, 5 not
	 * authorised; 3 (server unavailable) is worth retrying. */
	return code == 1 || code == 2 || code == 4 || code == 5;
}

static void mq__cb_connect(struct mosquitto *mosq, void *obj, int code,
			   int flags, const mosquitto_property *props)
{
	struct mq *m = obj;
	int src;

	(void)mosq;
	(void)props;
	if (m->state != MQ_CONNECTING)
		return;
	if (code != 0) {
		m->refused = true;
		m->fatal = mq__fatal_connack(m->protocol, code);
		mq__seterr(m, "broker %s:%d refused the connection: %s",
			   m->host, m->port,
			   m->protocol == MQ_PROTOCOL_5
			       ? mosquitto_reason_string(code)
			       : mosquitto_connack_string(code));
		return; /* libmosquitto closes and calls on_disconnect */
	}
	m->state = MQ_CONNECTED;
	m->connected_at_ms = m->now_ms;
	m->st.connects++;
	m->err[0] = '\0';
	if (m->ntopics > 0) {
		src = mosquitto_subscribe_multiple(
		    m->mosq, NULL, (int)m->ntopics, m->topics, m->qos, 0, NULL);
		if (src != MOSQ_ERR_SUCCESS)
			mq__seterr(m, "subscribe failed: %s",
				   mosquitto_strerror(src));
	}
	if (m->cb.on_connect)
		m->cb.on_connect(m->ud, (flags & 1) != 0);
	/* A pause requested here must stop libmosquitto's read loop, which
	 * goes on to the next packet unless errno says EAGAIN (its own test
	 * after each packet). */
	if (m->paused)
		errno = EAGAIN;
}

static void mq__cb_disconnect(struct mosquitto *mosq, void *obj, int rc,
			      const mosquitto_property *props)
{
	struct mq *m = obj;
	int e = errno;
	char buf[160], why[MQ_ERRMSG_MAX];

	(void)mosq;
	(void)props;
	if (m->state != MQ_CONNECTING && m->state != MQ_CONNECTED &&
	    m->state != MQ_CLOSING)
		return;
	snprintf(why, sizeof(why), "connection to %s:%d %s: %s", m->host,
		 m->port, m->state == MQ_CONNECTED ? "lost" : "failed",
		 rc == 0 ? "closed" : mq__why(rc, e, buf, sizeof(buf)));
	mq__lost(m, ABYSS_EMQTT, why);
}

/* Keeps a copy of a message read while paused. Returns 0 or -1 (no
 * memory). */
static int mq__hold(struct mq *m, const struct mosquitto_message *msg)
{
	size_t tl = strlen(msg->topic) + 1, len = (size_t)msg->payloadlen;
	struct mq__held *h;
	char *blk;

	blk = malloc(tl + len + 1);
	if (!blk)
		return -1;
	memcpy(blk, msg->topic, tl);
	if (len)
		memcpy(blk + tl, msg->payload, len);
	h = &m->held[(m->held_head + m->held_n) % MQ_HELD_MAX];
	h->topic = blk;
	h->payload = blk + tl;
	h->len = len;
	h->qos = msg->qos;
	h->retain = msg->retain;
	h->arrival_ms = m->now_ms;
	m->held_n++;
	m->st.held++;
	return 0;
}

static void mq__cb_message(struct mosquitto *mosq, void *obj,
			   const struct mosquitto_message *msg,
			   const mosquitto_property *props)
{
	struct mq *m = obj;
	struct mq_message out;

	(void)mosq;
	(void)props;
	m->st.messages_in++;
	m->st.bytes_in += (uint64_t)msg->payloadlen;
	if ((uint32_t)msg->payloadlen > m->max_payload) {
		m->st.oversize_in++;
		goto out;
	}
	if (m->paused) {
		if (m->held_n < MQ_HELD_MAX && mq__hold(m, msg) == 0)
			goto out;
		/* Cannot keep it: deliver it now rather than lose it. */
		m->st.held_overflow++;
	}
	if (m->cb.on_message) {
		out.topic = msg->topic;
		out.payload = msg->payload;
		out.len = (size_t)msg->payloadlen;
		out.qos = msg->qos;
		out.retain = msg->retain;
		out.arrival_ms = m->now_ms;
		m->cb.on_message(m->ud, &out);
	}
out:
	if (m->paused)
		errno = EAGAIN; /* see mq__cb_connect */
}

static void mq__cb_publish(struct mosquitto *mosq, void *obj, int mid,
			   int reason, const mosquitto_property *props)
{
	struct mq *m = obj;
	int rc = 0;

	(void)mosq;
	(void)props;
	if (mq__bit_test(m->mid_bits, mid)) {
		mq__bit_flip(m->mid_bits, mid);
		if (m->outstanding > 0)
			m->outstanding--;
	} else if (mq__bit_test(m->mid0_bits, mid)) {
		mq__bit_flip(m->mid0_bits, mid);
		if (m->unwritten0 > 0)
			m->unwritten0--;
	} else if (m->in_publish && mid == m->in_publish_mid) {
		m->in_publish_done = true; /* mq_publish must not count it */
	}
	m->st.acked++;
	if (reason >= 0x80) {
		m->st.publish_refused++;
		rc = ABYSS_EMQTT;
	}
	if (m->cb.on_publish)
		m->cb.on_publish(m->ud, mid, rc);
}

static void mq__cb_subscribe(struct mosquitto *mosq, void *obj, int mid, int n,
			     const int *granted,
			     const mosquitto_property *props)
{
	struct mq *m = obj;
	int i, low = 2, rc = 0;

	(void)mosq;
	(void)mid;
	(void)props;
	for (i = 0; i < n; i++) {
		if (granted[i] >= 0x80 || granted[i] < 0) {
			rc = ABYSS_EMQTT;
			mq__seterr(m, "broker refused subscription %d: %s", i,
				   mosquitto_reason_string(granted[i]));
		} else if (granted[i] < low) {
			low = granted[i];
		}
	}
	if (m->cb.on_subscribe)
		m->cb.on_subscribe(m->ud, rc, rc ? -1 : low);
}

/* ---- construction -------------------------------------------------------- */

void mq_opts_init(struct mq_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->port = MQ__DEF_PORT;
	o->protocol = MQ_PROTOCOL_311;
	o->keepalive_s = MQ__DEF_KEEPALIVE;
	o->clean_session = false;
	o->session_expiry_s = MQ__DEF_EXPIRY;
	o->qos = 1;
	o->reconnect_min_ms = MQ__DEF_RECONNECT_MIN;
	o->reconnect_max_ms = MQ__DEF_RECONNECT_MAX;
	o->connect_timeout_ms = MQ__DEF_CONNECT_TMO;
	o->max_outstanding = MQ__DEF_OUTSTANDING;
	o->max_payload = MQ__DEF_PAYLOAD;
	o->max_inflight = MQ__DEF_INFLIGHT;
	o->read_budget = MQ__DEF_READ_BUDGET;
}

#define MQ__DEF(field, def) ((field) ? (field) : (def))

static int mq__check(const struct mq_opts *o, char *eb, size_t en)
{
	int port = MQ__DEF(o->port, MQ__DEF_PORT);
	int ka = MQ__DEF(o->keepalive_s, MQ__DEF_KEEPALIVE);
	int proto = MQ__DEF(o->protocol, MQ_PROTOCOL_311);

	if (!mq__set(o->host))
		return mq__badopt(eb, en, "mqtt: broker host is required");
	if (port < 1 || port > 65535)
		return mq__badopt(eb, en, "mqtt: port %d is not in 1..65535",
				  o->port);
	if (proto != MQ_PROTOCOL_311 && proto != MQ_PROTOCOL_5)
		return mq__badopt(eb, en,
				  "mqtt: protocol %d: expected 311 or 5",
				  o->protocol);
	if (ka < 5 || ka > 65535)
		return mq__badopt(eb, en,
				  "mqtt: keepalive %d s is not in 5..65535",
				  o->keepalive_s);
	if (o->qos < 0 || o->qos > 2)
		return mq__badopt(eb, en, "mqtt: qos %d is not 0, 1 or 2",
				  o->qos);
	if (!o->clean_session && !mq__set(o->client_id))
		return mq__badopt(eb, en,
				  "mqtt: a persistent session (clean_session "
				  "false) needs a client id");
	if (mq__set(o->client_id) && strlen(o->client_id) > MQ__TOPIC_MAX)
		return mq__badopt(eb, en, "mqtt: client id is too long");
	if (mq__set(o->tls_cert) != mq__set(o->tls_key))
		return mq__badopt(eb, en,
				  "mqtt: TLS client certificate and key go "
				  "together");
	if ((mq__set(o->tls_cert) || o->tls_insecure) && !mq__set(o->tls_ca))
		return mq__badopt(eb, en,
				  "mqtt: TLS options need a CA file (tls_ca)");
	if (o->reconnect_max_ms && o->reconnect_min_ms > o->reconnect_max_ms)
		return mq__badopt(eb, en,
				  "mqtt: reconnect_min %u ms > reconnect_max "
				  "%u ms",
				  o->reconnect_min_ms, o->reconnect_max_ms);
	if (o->max_outstanding > MQ_MAX_OUTSTANDING)
		return mq__badopt(eb, en, "mqtt: max_outstanding %u > %u",
				  o->max_outstanding, MQ_MAX_OUTSTANDING);
	if (o->max_payload > MQ__MAX_PAYLOAD)
		return mq__badopt(eb, en, "mqtt: max_payload %u > %u",
				  o->max_payload, MQ__MAX_PAYLOAD);
	if (o->max_inflight > 65535)
		return mq__badopt(eb, en, "mqtt: max_inflight %u > 65535",
				  o->max_inflight);
	return 0;
}

/* MQTT 5 CONNECT properties (session expiry, maximum packet size).
 * libmosquitto 2.0 has no non-blocking connect that takes properties, but
 * mosquitto_connect_bind_v5 stores them before it validates its arguments,
 * and every later (async) attempt sends the stored ones. So we hand it an
 * invalid port on purpose: it keeps the properties and returns
 * MOSQ_ERR_INVAL without touching the network. test_mq's MQTT 5
 * persistent-session test fails if a libmosquitto ever stops doing this. */
static int mq__v5_properties(struct mq *m, const struct mq_opts *o)
{
	mosquitto_property *props = NULL;
	uint32_t expiry = MQ__DEF(o->session_expiry_s, MQ__DEF_EXPIRY);
	uint32_t maxpkt = m->max_payload + MQ__PACKET_OVERHEAD;
	int rc;

	if (maxpkt > MQ__MAX_PAYLOAD)
		maxpkt = MQ__MAX_PAYLOAD;
	rc = mosquitto_property_add_int32(&props, MQTT_PROP_MAXIMUM_PACKET_SIZE,
					  maxpkt);
	if (rc == MOSQ_ERR_SUCCESS && !o->clean_session)
		rc = mosquitto_property_add_int32(
		    &props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, expiry);
	if (rc == MOSQ_ERR_SUCCESS) {
		rc = mosquitto_connect_bind_v5(m->mosq, m->host, -1,
					       m->keepalive_s, NULL, props);
		rc = rc == MOSQ_ERR_INVAL ? MOSQ_ERR_SUCCESS : MOSQ_ERR_UNKNOWN;
	}
	mosquitto_property_free_all(&props);
	return rc == MOSQ_ERR_SUCCESS ? 0 : ABYSS_EMQTT;
}

int mq_new(const struct mq_opts *o, const struct mq_callbacks *cb, void *ud,
	   struct mq **out, char *eb, size_t en)
{
	struct mq *m;
	int rc;
	size_t i;
	uint64_t seed;
	const char *id;

	if (eb && en)
		eb[0] = '\0';
	if (!o || !out)
		return ABYSS_EINVAL;
	*out = NULL;
	rc = mq__check(o, eb, en);
	if (rc)
		return rc;
	m = calloc(1, sizeof(*m));
	if (!m)
		return ABYSS_ENOMEM;
	if (cb)
		m->cb = *cb;
	m->ud = ud;
	m->port = MQ__DEF(o->port, MQ__DEF_PORT);
	m->keepalive_s = MQ__DEF(o->keepalive_s, MQ__DEF_KEEPALIVE);
	m->protocol = MQ__DEF(o->protocol, MQ_PROTOCOL_311);
	m->qos = o->qos;
	m->tls = mq__set(o->tls_ca);
	m->reconnect_min_ms =
	    MQ__DEF(o->reconnect_min_ms, MQ__DEF_RECONNECT_MIN);
	m->reconnect_max_ms =
	    MQ__DEF(o->reconnect_max_ms, MQ__DEF_RECONNECT_MAX);
	if (m->reconnect_max_ms < m->reconnect_min_ms)
		m->reconnect_max_ms = m->reconnect_min_ms;
	m->connect_timeout_ms =
	    MQ__DEF(o->connect_timeout_ms, MQ__DEF_CONNECT_TMO);
	m->max_outstanding = MQ__DEF(o->max_outstanding, MQ__DEF_OUTSTANDING);
	m->max_payload = MQ__DEF(o->max_payload, MQ__DEF_PAYLOAD);
	m->read_budget = MQ__DEF(o->read_budget, MQ__DEF_READ_BUDGET);
	m->state = MQ_IDLE;
	id = mq__set(o->client_id) ? o->client_id : NULL;
	seed = o->rng_seed;
	if (seed == 0) { /* FNV-1a of the client id */
		seed = 0xcbf29ce484222325ull;
		for (i = 0; id && id[i]; i++)
			seed = (seed ^ (unsigned char)id[i]) * 0x100000001b3ull;
	}
	m->rng = seed;

	m->host = mq__strdup(o->host);
	if (!m->host) {
		free(m);
		return ABYSS_ENOMEM;
	}
	rc = mq__lib_ref();
	if (rc) {
		free(m->host);
		free(m);
		return rc;
	}
	m->mosq = mosquitto_new(id, o->clean_session, m);
	if (!m->mosq) {
		rc = errno == ENOMEM ? ABYSS_ENOMEM : ABYSS_EMQTT;
		mq__badopt(eb, en, "mqtt: cannot create the client: %s",
			   strerror(errno));
		goto fail;
	}
	rc = ABYSS_EMQTT;
	if (mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION,
				 m->protocol == MQ_PROTOCOL_5
				     ? MQTT_PROTOCOL_V5
				     : MQTT_PROTOCOL_V311) != MOSQ_ERR_SUCCESS)
		goto fail;
	if (mosquitto_int_option(
		m->mosq, MOSQ_OPT_RECEIVE_MAXIMUM,
		(int)MQ__DEF(o->max_inflight, MQ__DEF_INFLIGHT)) !=
		MOSQ_ERR_SUCCESS ||
	    mosquitto_int_option(
		m->mosq, MOSQ_OPT_SEND_MAXIMUM,
		(int)MQ__DEF(o->max_inflight, MQ__DEF_INFLIGHT)) !=
		MOSQ_ERR_SUCCESS)
		goto fail;
	/* Small packets (acknowledgements, results, the tail of a message)
	 * must not wait for Nagle's algorithm: with delayed ACKs that costs up
	 * to 40 ms per message at low rates. */
	if (mosquitto_int_option(m->mosq, MOSQ_OPT_TCP_NODELAY, 1) !=
	    MOSQ_ERR_SUCCESS)
		goto fail;
	/* Original rule (3.7): authenticate only if both are non-empty. */
	if (mq__set(o->username) && mq__set(o->password) &&
	    mosquitto_username_pw_set(m->mosq, o->username, o->password) !=
		MOSQ_ERR_SUCCESS)
		goto fail;
	if (m->tls) {
		int trc = mosquitto_tls_set(
		    m->mosq, o->tls_ca, NULL,
		    mq__set(o->tls_cert) ? o->tls_cert : NULL,
		    mq__set(o->tls_key) ? o->tls_key : NULL, NULL);
		if (trc != MOSQ_ERR_SUCCESS) {
			mq__badopt(eb, en, "mqtt: TLS files: %s",
				   trc == MOSQ_ERR_ERRNO
				       ? strerror(errno)
				       : mosquitto_strerror(trc));
			goto fail;
		}
		if (o->tls_insecure && mosquitto_tls_insecure_set(
					   m->mosq, true) != MOSQ_ERR_SUCCESS)
			goto fail;
	}
	if (m->protocol == MQ_PROTOCOL_5 && mq__v5_properties(m, o) != 0) {
		mq__badopt(eb, en, "mqtt: cannot set MQTT 5 properties");
		goto fail;
	}
	mosquitto_connect_v5_callback_set(m->mosq, mq__cb_connect);
	mosquitto_disconnect_v5_callback_set(m->mosq, mq__cb_disconnect);
	mosquitto_message_v5_callback_set(m->mosq, mq__cb_message);
	mosquitto_publish_v5_callback_set(m->mosq, mq__cb_publish);
	mosquitto_subscribe_v5_callback_set(m->mosq, mq__cb_subscribe);
	*out = m;
	return 0;
fail:
	if (eb && en && !eb[0])
		mq__badopt(eb, en, "mqtt: libmosquitto refused an option");
	if (m->mosq)
		mosquitto_destroy(m->mosq);
	mq__lib_unref();
	free(m->host);
	free(m);
	return rc;
}

static void mq__free_topics(struct mq *m)
{
	size_t i;

	for (i = 0; i < m->ntopics; i++)
		free(m->topics[i]);
	free(m->topics);
	m->topics = NULL;
	m->ntopics = 0;
}

void mq_free(struct mq *m)
{
	if (!m)
		return;
	memset(&m->cb, 0, sizeof(m->cb));
	m->state = MQ_CLOSED;
	mosquitto_destroy(m->mosq);
	mq__lib_unref();
	while (m->held_n > 0) {
		free(m->held[m->held_head].topic);
		m->held_head = (m->held_head + 1) % MQ_HELD_MAX;
		m->held_n--;
	}
	mq__free_topics(m);
	free(m->host);
	free(m);
}

int mq_subscribe(struct mq *m, const char *const *topics, size_t n)
{
	char **t;
	size_t i;
	int rc;

	if (!m || (n > 0 && !topics))
		return ABYSS_EINVAL;
	if (n > MQ_MAX_TOPICS)
		return ABYSS_ETOOBIG;
	for (i = 0; i < n; i++) {
		if (!topics[i] || !topics[i][0] ||
		    mosquitto_sub_topic_check(topics[i]) != MOSQ_ERR_SUCCESS)
			return ABYSS_EINVAL;
		if (strlen(topics[i]) > MQ__TOPIC_MAX)
			return ABYSS_ETOOBIG;
	}
	t = calloc(n ? n : 1, sizeof(*t));
	if (!t)
		return ABYSS_ENOMEM;
	for (i = 0; i < n; i++) {
		t[i] = mq__strdup(topics[i]);
		if (!t[i]) {
			while (i-- > 0)
				free(t[i]);
			free(t);
			return ABYSS_ENOMEM;
		}
	}
	mq__free_topics(m);
	m->topics = t;
	m->ntopics = n;
	if (m->state == MQ_CONNECTED && n > 0) {
		rc = mosquitto_subscribe_multiple(m->mosq, NULL, (int)n,
						  m->topics, m->qos, 0, NULL);
		if (rc == MOSQ_ERR_NOMEM)
			return ABYSS_ENOMEM;
		/* A lost connection is fine: the next connect subscribes. */
		if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN &&
		    rc != MOSQ_ERR_CONN_LOST && rc != MOSQ_ERR_ERRNO)
			return ABYSS_EMQTT;
	}
	return 0;
}

/* ---- running ------------------------------------------------------------- */

int mq_connect(struct mq *m, int64_t now_ms)
{
	if (!m || m->state != MQ_IDLE)
		return ABYSS_ESTATE;
	m->now_ms = now_ms;
	mq__attempt(m);
	return 0;
}

int mq_disconnect(struct mq *m)
{
	if (!m)
		return ABYSS_EINVAL;
	switch (m->state) {
	case MQ_CONNECTING:
	case MQ_CONNECTED:
		m->state = MQ_CLOSING;
		/* Writes DISCONNECT at once if it can; libmosquitto then
		 * closes the socket and calls us back (-> MQ_CLOSED). */
		if (mosquitto_disconnect(m->mosq) != MOSQ_ERR_SUCCESS &&
		    m->state == MQ_CLOSING)
			m->state = MQ_CLOSED;
		return 0;
	case MQ_IDLE:
	case MQ_WAITING:
	case MQ_FAILED:
		m->state = MQ_CLOSED;
		return 0;
	case MQ_CLOSING:
	case MQ_CLOSED:
		return 0;
	}
	return ABYSS_ESTATE;
}

int mq_publish(struct mq *m, const char *topic, const void *payload, size_t len,
	       int qos, bool retain, int *mid)
{
	int rc, lmid = 0;

	if (!m || !topic || qos < 0 || qos > 2 || (len > 0 && !payload))
		return ABYSS_EINVAL;
	if (len > m->max_payload || strlen(topic) > MQ__TOPIC_MAX)
		return ABYSS_ETOOBIG;
	if (!topic[0] || mosquitto_pub_topic_check(topic) != MOSQ_ERR_SUCCESS)
		return ABYSS_EINVAL;
	if (m->state == MQ_FAILED || m->state == MQ_CLOSING ||
	    m->state == MQ_CLOSED)
		return ABYSS_ESTATE;
	if (qos == 0 && m->state != MQ_CONNECTED)
		return ABYSS_ESTATE;
	if (qos > 0 ? m->outstanding >= m->max_outstanding
		    : m->unwritten0 >= m->max_outstanding)
		return ABYSS_EFULL;
	/* libmosquitto stores the id before it writes, and for QoS 0 may call
	 * on_publish before returning: the callback then flags it. */
	m->in_publish = true;
	m->in_publish_done = false;
	m->in_publish_mid = -1;
	rc = mosquitto_publish(m->mosq, &m->in_publish_mid, topic, (int)len,
			       payload, qos, retain);
	m->in_publish = false;
	lmid = m->in_publish_mid;
	switch (rc) {
	case MOSQ_ERR_SUCCESS:
		break;
	case MOSQ_ERR_NO_CONN:
	case MOSQ_ERR_CONN_LOST:
	case MOSQ_ERR_ERRNO:
	case MOSQ_ERR_PROTOCOL:
		/* QoS>0: libmosquitto queued it before trying the socket and
		 * sends it again after the reconnect. QoS 0 is gone. */
		if (qos == 0)
			return ABYSS_EMQTT;
		break;
	case MOSQ_ERR_NOMEM:
		return ABYSS_ENOMEM;
	case MOSQ_ERR_PAYLOAD_SIZE:
	case MOSQ_ERR_OVERSIZE_PACKET:
		return ABYSS_ETOOBIG;
	default:
		return ABYSS_EINVAL;
	}
	if (mid)
		*mid = lmid;
	m->st.published++;
	if (qos > 0 && !mq__bit_test(m->mid_bits, lmid)) {
		/* (on_publish cannot have run yet for QoS>0: the broker's
		 * answer is read by mq_service.) */
		mq__bit_flip(m->mid_bits, lmid);
		m->outstanding++;
	} else if (qos == 0 && !m->in_publish_done &&
		   !mq__bit_test(m->mid0_bits, lmid)) {
		mq__bit_flip(m->mid0_bits, lmid);
		m->unwritten0++;
	}
	return 0;
}

void mq_pause_reading(struct mq *m)
{
	if (m && !m->paused) {
		m->paused = true;
		m->st.pauses++;
	}
}

void mq_resume_reading(struct mq *m)
{
	if (m)
		m->paused = false;
}

bool mq_reading_paused(const struct mq *m)
{
	return m && m->paused;
}

static bool mq__live(const struct mq *m)
{
	return m->state == MQ_CONNECTING || m->state == MQ_CONNECTED ||
	       m->state == MQ_CLOSING;
}

/* Reading is allowed while paused until the session is up: the CONNACK must
 * be read (a pause then stops right after it, see mq__cb_connect). */
static bool mq__may_read(const struct mq *m)
{
	return !m->paused || m->state != MQ_CONNECTED;
}

void mq_pollfd(const struct mq *m, struct pollfd *pfd)
{
	pfd->fd = -1;
	pfd->events = 0;
	pfd->revents = 0;
	if (!m || !mq__live(m))
		return;
	pfd->fd = mosquitto_socket(m->mosq);
	if (pfd->fd < 0)
		return;
	if (mq__may_read(m))
		pfd->events |= POLLIN;
	if (mosquitto_want_write(m->mosq))
		pfd->events |= POLLOUT;
}

int mq_timeout_ms(const struct mq *m, int64_t now_ms)
{
	int64_t t;

	if (!m)
		return -1;
	if (m->held_n > 0 && !m->paused)
		return 0;
	switch (m->state) {
	case MQ_WAITING:
		t = m->next_attempt_ms - now_ms;
		return t <= 0 ? 0 : t > INT_MAX ? INT_MAX : (int)t;
	case MQ_CONNECTING:
		t = m->deadline_ms - now_ms;
		return t <= 0 ? 0 : t > 1000 ? 1000 : (int)t;
	case MQ_CONNECTED:
	case MQ_CLOSING:
		return 1000;
	case MQ_IDLE:
	case MQ_FAILED:
	case MQ_CLOSED:
		break;
	}
	return -1;
}

static void mq__deliver_held(struct mq *m)
{
	struct mq__held *h;
	struct mq_message out;

	while (m->held_n > 0 && !m->paused) {
		h = &m->held[m->held_head];
		m->held_head = (m->held_head + 1) % MQ_HELD_MAX;
		m->held_n--;
		if (m->cb.on_message) {
			out.topic = h->topic;
			out.payload = h->payload;
			out.len = h->len;
			out.qos = h->qos;
			out.retain = h->retain;
			out.arrival_ms = h->arrival_ms;
			m->cb.on_message(m->ud, &out);
		}
		free(h->topic);
	}
}

static bool mq__readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

/* Remembers why a libmosquitto loop call failed, for the case where it
 * closed the socket without calling on_disconnect. */
static int mq__loop(struct mq *m, int rc)
{
	if (rc != MOSQ_ERR_SUCCESS) {
		m->loop_errno = errno;
		m->loop_rc = rc;
	}
	return rc;
}

static void mq__read(struct mq *m)
{
	uint32_t n;
	int fd;

	for (n = 0; n < m->read_budget; n++) {
		if (mq__loop(m, mosquitto_loop_read(m->mosq, 1)) != 0)
			return;
		if (!mq__live(m) || !mq__may_read(m))
			return;
		fd = mosquitto_socket(m->mosq);
		if (fd < 0 || !mq__readable(fd))
			return;
	}
}

int mq_service(struct mq *m, short revents, int64_t now_ms)
{
	char buf[160];

	if (!m)
		return ABYSS_EINVAL;
	m->now_ms = now_ms;
	m->loop_rc = 0;
	if (!m->paused)
		mq__deliver_held(m);
	if (m->state == MQ_WAITING && now_ms >= m->next_attempt_ms)
		mq__attempt(m);
	if (!mq__live(m))
		return m->state == MQ_FAILED ? ABYSS_EMQTT : 0;

	if ((revents & (POLLIN | POLLERR | POLLHUP)) && mq__may_read(m))
		mq__read(m);
	if (mq__live(m) && (revents & POLLOUT)) {
		/* libmosquitto 2.0 drives a pending TLS handshake only from
		 * loop_read; its loop_write does nothing until it is done. */
		if (m->tls && m->state == MQ_CONNECTING)
			mq__loop(m, mosquitto_loop_read(m->mosq, 1));
		if (mq__live(m))
			mq__loop(m, mosquitto_loop_write(m->mosq, 1));
	}
	if (mq__live(m))
		mosquitto_loop_misc(m->mosq);
	/* Some libmosquitto paths close the socket without a callback (a
	 * failed TLS handshake): notice it here. */
	if (mq__live(m) && mosquitto_socket(m->mosq) < 0) {
		snprintf(m->err, sizeof(m->err), "connection to %s:%d %s: %s",
			 m->host, m->port,
			 m->state == MQ_CONNECTED ? "lost" : "failed",
			 m->loop_rc ? mq__why(m->loop_rc, m->loop_errno, buf,
					      sizeof(buf))
				    : "closed");
		mq__lost(m, ABYSS_EMQTT, m->err);
	}
	if (m->state == MQ_CONNECTING && now_ms >= m->deadline_ms) {
		mq__seterr(m, "no CONNACK from %s:%d within %u ms", m->host,
			   m->port, m->connect_timeout_ms);
		/* The half-open socket is closed by the next attempt. */
		mq__lost(m, ABYSS_ETIMEOUT, m->err);
	}
	return m->state == MQ_FAILED ? ABYSS_EMQTT : 0;
}

enum mq_state mq_state(const struct mq *m)
{
	return m ? m->state : MQ_CLOSED;
}

const char *mq_last_error(const struct mq *m)
{
	return m ? m->err : "";
}

void mq_get_stats(const struct mq *m, struct mq_stats *out)
{
	if (m && out)
		*out = m->st;
}

uint32_t mq_outstanding(const struct mq *m)
{
	return m ? m->outstanding + m->unwritten0 : 0;
}
