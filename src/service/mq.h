/*
 * mq.h - the MQTT adapter (internal to the service): one libmosquitto
 * connection, driven by the caller's poll loop.
 *
 * Usage: mq_new() with options and callbacks, mq_subscribe() (kept and
 * re-sent on every connect), mq_connect(now_ms); then in the loop
 *
 *	struct pollfd p;  mq_pollfd(mq, &p);
 *	poll(&p, 1, mq_timeout_ms(mq, now_ms));
 *	mq_service(mq, p.revents, now_ms);
 *
 * All times are injected (monotonic milliseconds from the caller), the
 * reconnect jitter comes from an RNG state kept in the object. One thread
 * owns an mq: every function and every callback runs on it. Callbacks may
 * call mq_publish, mq_pause_reading and mq_resume_reading, but not mq_free.
 * No function here prints, exits or blocks, except that resolving a host
 * name (getaddrinfo) is synchronous: use an address or /etc/hosts names.
 */
#ifndef ABYSS_SERVICE_MQ_H
#define ABYSS_SERVICE_MQ_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MQ_PROTOCOL_311 311
#define MQ_PROTOCOL_5	5

/* Hard caps on what the options may ask for. */
#define MQ_MAX_TOPICS	   64
#define MQ_MAX_OUTSTANDING 30000 /* < 65535/2, so message ids can't alias */
#define MQ_ERRMSG_MAX	   256
#define MQ_HELD_MAX	   16

struct mq;

/* Connection options. Strings are borrowed for the mq_new call only (they
 * are copied). NULL or "" means "not set" for every optional string. A zero
 * numeric field takes the default named in its comment (mq_opts_init writes
 * them all). */
struct mq_opts {
	const char *host;      /* required: an address or a host name */
	int port;	       /* 1..65535; default 1883 */
	const char *client_id; /* required when clean_session is false */
	const char *username;  /* sent only if username AND password are */
	const char *password;  /* both non-empty (original-system.md 3.7) */
	const char *tls_ca;    /* CA file; setting it turns TLS on */
	const char *tls_cert;  /* client certificate (PEM), with tls_key */
	const char *tls_key;
	bool tls_insecure;  /* skip the host name check (tests only) */
	int protocol;	    /* MQ_PROTOCOL_311 (default) or MQ_PROTOCOL_5 */
	int keepalive_s;    /* 5..65535; default 60 */
	bool clean_session; /* false (default): the broker keeps our
			       subscriptions and QoS>0 messages */
	uint32_t session_expiry_s; /* MQTT 5 with a persistent session: how
				      long the broker keeps it; default 1 day */
	int qos;		   /* subscription QoS 0..2; mq_opts_init: 1 */
	uint32_t reconnect_min_ms; /* first retry after [min/2, min]; 1000 */
	uint32_t reconnect_max_ms; /* cap of the doubling; default 60000 */
	uint32_t connect_timeout_ms; /* TCP+TLS+CONNACK; default 10000 */
	uint32_t max_outstanding;    /* QoS>0 publishes not yet acknowledged
					(incl. queued while offline), and
					separately QoS 0 ones not yet written;
					default 1000 */
	uint32_t max_payload;	     /* largest message in or out; 16 MiB */
	uint32_t max_inflight;	     /* QoS>0 in flight at once (MQTT
					receive maximum); default 20 */
	uint32_t read_budget;	     /* packets read per mq_service; 64 */
	uint64_t rng_seed; /* jitter; 0: derived from client_id (so two
			      instances with different ids never retry in
			      lockstep) */
};

/* One received message. Everything is borrowed for the callback only. */
struct mq_message {
	const char *topic;   /* NUL-terminated */
	const void *payload; /* len bytes, not NUL-terminated */
	size_t len;
	int qos;
	bool retain;
	int64_t arrival_ms; /* the now_ms of the mq_service call that read it
			       (or of the resume that released it) */
};

enum mq_state {
	MQ_IDLE,       /* created, mq_connect not called yet */
	MQ_CONNECTING, /* TCP/TLS/CONNECT sent, waiting for CONNACK */
	MQ_CONNECTED,  /* session up */
	MQ_WAITING,    /* lost or failed; next attempt at a set time */
	MQ_FAILED,     /* the broker refused us for good (credentials,
			  client id, protocol): needs a new configuration */
	MQ_CLOSING,    /* mq_disconnect: DISCONNECT queued */
	MQ_CLOSED,     /* disconnected on request */
};

/* Callbacks; any may be NULL. ud is the user pointer given to mq_new. */
struct mq_callbacks {
	/* The broker accepted us. session_present: it still had our session
	 * (so messages queued while we were away will now arrive). */
	void (*on_connect)(void *ud, bool session_present);
	/* A connection ended or an attempt failed. rc is ABYSS_EMQTT (or
	 * ABYSS_ETIMEOUT for the connect timeout, 0 after mq_disconnect), why
	 * a sentence for the log. retry_in_ms: when the next attempt starts,
	 * or -1 when there will be none (MQ_FAILED, MQ_CLOSED). */
	void (*on_disconnect)(void *ud, int rc, const char *why,
			      int64_t retry_in_ms);
	/* The broker answered a subscription: rc 0 and the lowest QoS it
	 * granted, or ABYSS_EMQTT when it refused a topic. */
	void (*on_subscribe)(void *ud, int rc, int granted_qos);
	void (*on_message)(void *ud, const struct mq_message *msg);
	/* A publish is complete: QoS 0 written to the socket, QoS 1 PUBACK,
	 * QoS 2 PUBCOMP. rc 0, or ABYSS_EMQTT when an MQTT 5 broker refused
	 * it (reason code >= 0x80). For QoS 0 this may run inside
	 * mq_publish, before it returns. */
	void (*on_publish)(void *ud, int mid, int rc);
};

/* Counters since mq_new; they only grow. */
struct mq_stats {
	uint64_t connects;	   /* CONNACKs accepted */
	uint64_t connect_failures; /* attempts that never got a session */
	uint64_t disconnects;	   /* sessions that ended */
	uint64_t messages_in, bytes_in;
	uint64_t oversize_in;	   /* dropped: payload > max_payload */
	uint64_t published, acked; /* mq_publish calls accepted, completed */
	uint64_t qos0_lost;	   /* QoS 0 accepted but never written: the
				      connection ended first */
	uint64_t publish_refused;  /* MQTT 5 reason code >= 0x80 */
	uint64_t pauses;	   /* mq_pause_reading transitions */
	uint64_t held;		   /* read after a pause in the same
				      packet burst; delivered on resume */
	uint64_t held_overflow;	   /* held ring full: delivered at once */
};

/* Fills *o with the defaults (host, client_id NULL). */
void mq_opts_init(struct mq_opts *o);

/* Creates an adapter (not connected). Validates and copies opts and cb;
 * ud is passed to every callback. Returns 0 and *out, or ABYSS_EINVAL
 * (bad option; *errbuf, if given, says which), ABYSS_ENOMEM, ABYSS_EMQTT
 * (libmosquitto refused an option, e.g. an unreadable TLS file).
 * errbuf may be NULL; it gets at most errlen bytes, NUL-terminated. */
int mq_new(const struct mq_opts *opts, const struct mq_callbacks *cb, void *ud,
	   struct mq **out, char *errbuf, size_t errlen);

/* Frees everything; an open connection is closed without a DISCONNECT
 * packet (the broker sees a lost connection; a persistent session and a
 * will stay). NULL is a no-op. Not from a callback. */
void mq_free(struct mq *m);

/* Sets the topic filters to subscribe to, at opts.qos, now (if connected)
 * and on every (re)connect. Copies them; replaces an earlier list.
 * n <= MQ_MAX_TOPICS, each a valid filter of at most 65535 bytes.
 * Returns 0, ABYSS_EINVAL, ABYSS_ETOOBIG, ABYSS_ENOMEM or ABYSS_EMQTT. */
int mq_subscribe(struct mq *m, const char *const *topics, size_t n);

/* Starts the first connection attempt (non-blocking). Only from MQ_IDLE.
 * Failures are reported through on_disconnect and retried with backoff.
 * Returns 0 or ABYSS_ESTATE. */
int mq_connect(struct mq *m, int64_t now_ms);

/* Sends DISCONNECT and moves to MQ_CLOSING; keep calling mq_service until
 * mq_state() is MQ_CLOSED (on_disconnect with rc 0). The broker keeps a
 * persistent session. Returns 0 or ABYSS_ESTATE. */
int mq_disconnect(struct mq *m);

/* Queues a message. len <= max_payload; qos 0..2. QoS>0 messages are kept
 * (in order) while the connection is down and sent after reconnecting, up to
 * max_outstanding not yet acknowledged; QoS 0 needs a connection, and at
 * most max_outstanding may wait to be written (a QoS 0 message still
 * unwritten when the connection ends is lost: stats.qos0_lost). *mid (may
 * be NULL) receives the id that on_publish reports. Returns 0,
 * ABYSS_EFULL (a limit reached: retry after some on_publish),
 * ABYSS_ESTATE (QoS 0 while not connected, or MQ_FAILED/MQ_CLOSED),
 * ABYSS_EINVAL (bad topic or qos), ABYSS_ETOOBIG, ABYSS_ENOMEM. */
int mq_publish(struct mq *m, const char *topic, const void *payload, size_t len,
	       int qos, bool retain, int *mid);

/* Backpressure. After mq_pause_reading() returns, on_message is not called
 * until mq_resume_reading(): the socket is no longer read, so the broker
 * holds further messages (in its queue for this session: size its
 * max_queued_messages accordingly). A pause called from on_message takes
 * effect after that message; a few more that libmosquitto had already read
 * are held (MQ_HELD_MAX) and delivered, in order, by the first mq_service
 * after the resume. Keepalive: libmosquitto cannot see the broker's PINGRESP
 * while we don't read, so a pause longer than about keepalive_s ends in a
 * keepalive disconnect and a reconnect (no message is lost with a persistent
 * session). Both are idempotent. */
void mq_pause_reading(struct mq *m);
void mq_resume_reading(struct mq *m);
bool mq_reading_paused(const struct mq *m);

/* What to poll: fd (-1 when nothing, e.g. while waiting to retry) and
 * events (POLLIN unless reading is paused, POLLOUT while output is
 * pending). */
void mq_pollfd(const struct mq *m, struct pollfd *pfd);

/* Milliseconds the caller may wait before the next mq_service (0: now,
 * -1: only when the fd is ready, or forever in a final state). At most
 * 1000 while a connection exists, for the keepalive. */
int mq_timeout_ms(const struct mq *m, int64_t now_ms);

/* Does everything due at now_ms: reads (unless paused, at most read_budget
 * packets), writes, keepalive, connect timeout, the next reconnect attempt,
 * and the delivery of held messages. revents: from poll for mq_pollfd's fd
 * (0 if not polled). Callbacks run from here. Returns 0, or ABYSS_EMQTT
 * once the adapter is in MQ_FAILED (mq_last_error says why). */
int mq_service(struct mq *m, short revents, int64_t now_ms);

enum mq_state mq_state(const struct mq *m);
/* The last failure as a sentence ("" if none); valid until the next call. */
const char *mq_last_error(const struct mq *m);
void mq_get_stats(const struct mq *m, struct mq_stats *out);
/* Publishes accepted and not complete: QoS>0 not yet acknowledged plus
 * QoS 0 not yet written. */
uint32_t mq_outstanding(const struct mq *m);

/* The reconnect delay of attempt (0 = first retry): a uniform draw in
 * [base/2, base] with base = min(max_ms, min_ms * 2^attempt) ("equal
 * jitter": never below half the base, yet spread). Advances *rng
 * (splitmix64). min_ms 0 gives 0. Pure; exposed for tests. */
uint32_t mq_backoff_ms(unsigned attempt, uint32_t min_ms, uint32_t max_ms,
		       uint64_t *rng);

#endif
