/*
 * http.c - the service's HTTP endpoints (/metrics, /livez, /readyz,
 * /api/status) on libmicrohttpd, with its internal polling thread.
 *
 * We bind the listening socket ourselves (so that a bad or busy address gets
 * a clear diagnostic and port 0 can be read back) and hand it to
 * libmicrohttpd, which parses requests, enforces the per-connection memory
 * and connection limits, and owns the socket from then on. Nothing here
 * prints or exits. It serves no files and takes no request bodies.
 */
#include "abyss/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <microhttpd.h>

#include "abyss/version.h"
#include "http_internal.h"

/* abyss_diag_set() returns its code; repeating the (constant) code here lets
 * the static analyzer see that an error path never returns 0. */
#define DIAG_FAIL(d, code, line, col, ...)                                     \
	(abyss_diag_set((d), (code), (line), (col), __VA_ARGS__), (code))

#define METRICS_PAGE0 16384 /* first /metrics buffer; doubled as needed */

struct abyss_http {
	struct MHD_Daemon *mhd;
	struct abyss_http_callbacks cb;
	struct abyss_http_limits lim;
	int port;
};

/* ---- address ------------------------------------------------------------
 */

/* Creates a listening, non-blocking socket for addr; *fd, *family, *port. */
static int bind_addr(const char *addr, int *fd, int *family, int *port,
		     struct abyss_diag *diag)
{
	char host[HTTP__HOST_MAX], serv[8];
	struct addrinfo hints, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	long p = 0;
	int rc, s, one = 1;

	rc = http__split_addr(addr, host, sizeof(host), &p, diag);
	if (rc)
		return rc;
	memset(&hints, 0, sizeof(hints));
	memset(&ss, 0, sizeof(ss));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	snprintf(serv, sizeof(serv), "%ld", p);
	rc = getaddrinfo(host[0] ? host : "127.0.0.1", serv, &hints, &res);
	if (rc != 0 || !res) {
		if (res)
			freeaddrinfo(res);
		return DIAG_FAIL(diag, ABYSS_ECONFIG, 0, 0,
				 "HTTP address \"%s\": %s", addr,
				 gai_strerror(rc));
	}
	s = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		   0);
	if (s < 0) {
		rc = errno;
		freeaddrinfo(res);
		return DIAG_FAIL(diag, ABYSS_EIO, 0, 0,
				 "HTTP socket for \"%s\": %s", addr,
				 strerror(rc));
	}
	/* SO_REUSEADDR: a restarted service can bind again at once while old
	 * connections linger in TIME_WAIT. V6ONLY: "[::1]" means IPv6 only,
	 * whatever the system default. */
	(void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (res->ai_family == AF_INET6)
		(void)setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				 sizeof(one));
	if (bind(s, res->ai_addr, res->ai_addrlen) != 0 || listen(s, 64) != 0 ||
	    getsockname(s, (struct sockaddr *)&ss, &sl)) {
		rc = errno;
		close(s);
		freeaddrinfo(res);
		return DIAG_FAIL(diag, ABYSS_EIO, 0, 0,
				 "cannot listen on HTTP address \"%s\": "
				 "%s",
				 addr, strerror(rc));
	}
	*family = res->ai_family;
	freeaddrinfo(res);
	if (ss.ss_family == AF_INET6)
		*port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	*fd = s;
	return 0;
}

/* ---- responses ----------------------------------------------------------
 */

/* Queues a response; body is copied unless owned (then freed with free()).
 */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *ctype, char *body, size_t len,
			     int owned)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(
	    len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
	if (!r) {
		if (owned)
			free(body);
		return MHD_NO; /* out of memory: drop the connection */
	}
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
				      "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
					      "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status,
				  const char *text)
{
	return reply(c, status, "text/plain; charset=utf-8", (char *)text,
		     strlen(text), 0);
}

/* Serialises j (consumed) as compact JSON, at most max bytes. */
static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status,
				  json_t *j, size_t max)
{
	static const char oom[] = "{\"error\":\"cannot build the response\"}";
	json_free_t jfree;
	enum MHD_Result ret;
	char *s = NULL;

	if (j)
		s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	if (!s || strlen(s) > max) {
		if (s) {
			json_get_alloc_funcs(NULL, &jfree);
			jfree(s);
		}
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
			     "application/json", (char *)oom, sizeof(oom) - 1,
			     0);
	}
	/* Copied, because jansson may have its own allocator. */
	ret = reply(c, status, "application/json", s, strlen(s), 0);
	json_get_alloc_funcs(NULL, &jfree);
	jfree(s);
	return ret;
}

static enum MHD_Result serve_metrics(struct abyss_http *h,
				     struct MHD_Connection *c)
{
	size_t cap = METRICS_PAGE0, len = 0;
	char *buf;
	int rc;

	if (h->cb.on_scrape)
		h->cb.on_scrape(h->cb.ctx);
	if (!h->cb.metrics)
		return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4", "", 0,
			     0);
	for (;;) {
		if (cap > h->lim.max_metrics_bytes)
			cap = h->lim.max_metrics_bytes;
		buf = malloc(cap);
		if (!buf)
			return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
					  "out of memory\n");
		rc = abyss_metrics_render(h->cb.metrics, buf, cap, &len);
		if (rc != ABYSS_ETOOBIG || cap >= h->lim.max_metrics_bytes)
			break;
		free(buf);
		cap *= 2;
	}
	if (rc) {
		free(buf);
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "metrics page over the configured limit\n");
	}
	return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
		     buf, len, 1);
}

static enum MHD_Result serve_readyz(struct abyss_http *h,
				    struct MHD_Connection *c)
{
	char reason[ABYSS_HTTP_REASON_MAX] = "not ready";
	json_t *j;

	if (!h->cb.ready)
		snprintf(reason, sizeof(reason), "no readiness check");
	else if (h->cb.ready(h->cb.ctx, reason, sizeof(reason)))
		return reply_json(c, MHD_HTTP_OK,
				  json_pack("{s:b}", "ready", 1),
				  h->lim.max_status_bytes);
	reason[sizeof(reason) - 1] = '\0';
	j = json_pack("{s:b,s:s}", "ready", 0, "reason", reason);
	if (!j) /* the reason was not UTF-8 */
		j = json_pack("{s:b,s:s}", "ready", 0, "reason", "not ready");
	return reply_json(c, MHD_HTTP_SERVICE_UNAVAILABLE, j,
			  h->lim.max_status_bytes);
}

static enum MHD_Result serve_status(struct abyss_http *h,
				    struct MHD_Connection *c)
{
	json_t *j;

	if (!h->cb.status)
		j = json_pack("{s:s}", "version", ABYSS_VERSION);
	else
		j = h->cb.status(h->cb.ctx);
	return reply_json(c, MHD_HTTP_OK, j, h->lim.max_status_bytes);
}

/* 1 when a GET carries a body, which no endpoint reads. */
static int has_body(struct MHD_Connection *c)
{
	const char *cl = MHD_lookup_connection_value(
	    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	return (cl && strcmp(cl, "0") != 0) ||
	       MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					   MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/* libmicrohttpd calls this once the request line and headers are in, then
 * again once the body (none, for us) is in. Requests we refuse are answered
 * on the first call, which makes libmicrohttpd close the connection instead
 * of reading a body nobody wants; the endpoints answer on the second call so
 * that keep-alive connections (Prometheus scrapers) stay open. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	static int seen; /* address used as the "headers seen" mark */
	struct abyss_http *h = cls;

	if (!*con_cls) {
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
			return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
					  "method not allowed\n");
		if (has_body(c))
			return reply_text(c, MHD_HTTP_BAD_REQUEST,
					  "a GET request takes no body\n");
		*con_cls = &seen;
		return MHD_YES;
	}
	if (*upload_data_size) { /* cannot happen after has_body() */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(h, c);
	if (strcmp(url, "/livez") == 0)
		return reply_text(c, MHD_HTTP_OK, "ok\n");
	if (strcmp(url, "/readyz") == 0)
		return serve_readyz(h, c);
	if (strcmp(url, "/api/status") == 0)
		return serve_status(h, c);
	return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* ---- lifecycle ----------------------------------------------------------
 */

int abyss_http_start(const char *listen_addr,
		     const struct abyss_http_callbacks *cb,
		     const struct abyss_http_limits *lim,
		     struct abyss_http **out, struct abyss_diag *diag)
{
	struct abyss_http *h;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	int fd = -1, family = AF_INET, rc;

	if (out)
		*out = NULL;
	if (!out || !cb)
		return DIAG_FAIL(diag, ABYSS_EINVAL, 0, 0,
				 "HTTP server: NULL callbacks or handle");
	if (!listen_addr || !listen_addr[0])
		listen_addr = ABYSS_HTTP_DEFAULT_ADDR;
	h = calloc(1, sizeof(*h));
	if (!h)
		return DIAG_FAIL(diag, ABYSS_ENOMEM, 0, 0,
				 "HTTP server: out of memory");
	h->cb = *cb;
	if (lim)
		h->lim = *lim;
	if (!h->lim.max_connections)
		h->lim.max_connections = 16;
	if (!h->lim.max_request_bytes)
		h->lim.max_request_bytes = 16384;
	if (!h->lim.timeout_s)
		h->lim.timeout_s = 10;
	if (!h->lim.max_metrics_bytes)
		h->lim.max_metrics_bytes = (size_t)4 << 20;
	if (!h->lim.max_status_bytes)
		h->lim.max_status_bytes = (size_t)1 << 20;
	if (h->lim.max_request_bytes < 4096 || h->lim.max_metrics_bytes < 64) {
		free(h);
		return DIAG_FAIL(diag, ABYSS_ECONFIG, 0, 0,
				 "HTTP limits: max_request_bytes must be "
				 ">= 4096 and max_metrics_bytes >= 64");
	}
	rc = bind_addr(listen_addr, &fd, &family, &h->port, diag);
	if (rc) {
		free(h);
		return rc;
	}
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->mhd = MHD_start_daemon(
	    flags, 0, NULL, NULL, &on_request, h, MHD_OPTION_LISTEN_SOCKET,
	    (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT, h->lim.max_connections,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, h->lim.max_request_bytes,
	    MHD_OPTION_CONNECTION_TIMEOUT, h->lim.timeout_s, MHD_OPTION_END);
	if (!h->mhd) {
		rc = errno;
		/* On failure libmicrohttpd may or may not have closed it. */
		if (fcntl(fd, F_GETFD) != -1)
			close(fd);
		free(h);
		return DIAG_FAIL(diag, ABYSS_EIO, 0, 0,
				 "cannot start the HTTP server on \"%s\": "
				 "%s",
				 listen_addr,
				 rc ? strerror(rc)
				    : "libmicrohttpd "
				      "refused");
	}
	*out = h;
	return 0;
}

int abyss_http_port(const struct abyss_http *srv)
{
	return srv ? srv->port : -1;
}

void abyss_http_stop(struct abyss_http *srv)
{
	if (!srv)
		return;
	MHD_stop_daemon(srv->mhd); /* joins the thread, closes the socket */
	free(srv);
}
