/*
 * abyss/http.h - the service's small HTTP server (libmicrohttpd).
 *
 * Endpoints, all GET (HEAD also answers, without a body):
 *   /metrics     the metrics registry, Prometheus text format 0.0.4
 *   /livez       200 "ok" while the process runs
 *   /readyz      503 {"ready":false,"reason":"..."} until the readiness
 *                callback says ready, then 200 {"ready":true}
 *   /api/status  the JSON the status callback builds
 * Any other path is 404, any other method 405 (with an Allow header).
 *
 * The server runs one internal thread of its own (libmicrohttpd's internal
 * polling thread); every callback runs on that thread, one request at a time,
 * so callbacks must be quick and safe against the daemon's other threads.
 * docs/metrics.md describes the endpoints, limits and address forms.
 */
#ifndef ABYSS_HTTP_H
#define ABYSS_HTTP_H

#include <stddef.h>

#include <jansson.h>

#include "abyss/error.h"
#include "abyss/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The address used when listen_addr is NULL or "": loopback only. */
#define ABYSS_HTTP_DEFAULT_ADDR "127.0.0.1:9464"
/* Size of the reason buffer the readiness callback fills. */
#define ABYSS_HTTP_REASON_MAX 256

/* What the server serves. Every member may be NULL / 0. The callbacks run on
 * the server thread and receive ctx. */
struct abyss_http_callbacks {
	void *ctx;
	/* Rendered by GET /metrics; NULL serves an empty page. */
	struct abyss_metrics *metrics;
	/* Called before each /metrics rendering, to refresh gauges that are
	 * cheaper to sample on a scrape (memory, queue depth). */
	void (*on_scrape)(void *ctx);
	/* Returns nonzero when the service is ready. When it is not, it may
	 * write a one-line reason into reason (cap bytes, NUL-terminated;
	 * the server pre-fills it with "not ready"). NULL: never ready. */
	int (*ready)(void *ctx, char *reason, size_t cap);
	/* Returns a new reference to the JSON value served by /api/status (the
	 * server releases it), or NULL on failure (500). NULL callback: serves
	 * {"version": ABYSS_VERSION}. */
	json_t *(*status)(void *ctx);
};

/* Bounds on what a client can make the server hold; a zero field takes the
 * default in brackets. */
struct abyss_http_limits {
	unsigned max_connections; /* simultaneous connections [16] */
	size_t max_request_bytes; /* per-connection memory; bounds the request
				     line plus headers; larger -> 431 [16384],
				     at least 4096 */
	unsigned timeout_s;	  /* idle connection timeout, seconds [10] */
	size_t max_metrics_bytes; /* largest /metrics page; over it -> 500
				     [4 MiB] */
	size_t max_status_bytes;  /* largest /api/status body [1 MiB] */
};

struct abyss_http; /* a running server (opaque) */

/* Starts a server listening on listen_addr and stores it in *out.
 *
 * listen_addr: "HOST:PORT" or "[IPV6]:PORT"; HOST is a numeric address or a
 * name from /etc/hosts ("localhost"). ":PORT" binds loopback 127.0.0.1 (the
 * service is loopback unless an address is named: "0.0.0.0:9464" or
 * "[::]:9464" for every interface). NULL or "" means
 * ABYSS_HTTP_DEFAULT_ADDR. PORT 0 picks a free port (see abyss_http_port).
 * cb: copied; what it points to (ctx, metrics) must outlive the server.
 * lim: NULL for the defaults.
 * Errors: ABYSS_EINVAL (NULL out or cb), ABYSS_ECONFIG (malformed address or
 * limit), ABYSS_EIO (the address cannot be bound, e.g. in use),
 * ABYSS_ENOMEM. diag (may be NULL) says which and why.
 */
int abyss_http_start(const char *listen_addr,
		     const struct abyss_http_callbacks *cb,
		     const struct abyss_http_limits *lim,
		     struct abyss_http **out, struct abyss_diag *diag);

/* The TCP port the server actually listens on (useful after port 0), or -1
 * for NULL. */
int abyss_http_port(const struct abyss_http *srv);

/* Stops the server: closes the listening socket and every connection, joins
 * the server thread (no callback runs after it returns) and frees srv. NULL
 * is ignored. Must not be called from a callback. */
void abyss_http_stop(struct abyss_http *srv);

#ifdef __cplusplus
}
#endif
#endif
