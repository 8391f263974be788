/* test_http.c - the real HTTP server on 127.0.0.1:0, spoken to with raw
 * sockets: status codes, bodies, readiness, limits and odd requests. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "abyss/http.h"
#include "abyss/metrics.h"
#include "abyss/version.h"

#define RESP_MAX (256 * 1024)

struct fixture {
	struct abyss_http *srv;
	struct abyss_metrics *reg;
	struct abyss_metric *hits;
	atomic_int ready;
	atomic_int scrapes;
	atomic_int status_fails;
	int port;
};

/* ---- a tiny HTTP/1.1 client ------------------------------------------- */

struct resp {
	int status; /* 0: no status line (connection closed or reset) */
	char *head; /* status line and headers, NUL-terminated */
	char *body; /* NUL-terminated; binary-unsafe but enough here */
	size_t body_len;
	char raw[RESP_MAX];
};

static int connect_to(int port)
{
	struct sockaddr_in a;
	struct timeval tv = {5, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Sends len bytes, stopping quietly if the server closes on us. */
static void send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

/* Reads until the server closes (every request says Connection: close). */
static void read_resp(int fd, struct resp *r)
{
	size_t len = 0;
	char *sep;

	memset(r, 0, offsetof(struct resp, raw));
	for (;;) {
		ssize_t n = recv(fd, r->raw + len, sizeof(r->raw) - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		assert_true(len < sizeof(r->raw) - 1);
	}
	r->raw[len] = '\0';
	r->head = r->raw;
	if (sscanf(r->raw, "HTTP/1.%*d %d", &r->status) != 1)
		r->status = 0;
	sep = strstr(r->raw, "\r\n\r\n");
	if (sep) {
		*sep = '\0';
		r->body = sep + 4;
		r->body_len = len - (size_t)(r->body - r->raw);
	} else {
		r->body = r->raw + len;
	}
}

static void raw_request(int port, const char *req, size_t len, struct resp *r)
{
	int fd = connect_to(port);

	send_all(fd, req, len);
	read_resp(fd, r);
	close(fd);
}

static void request(int port, const char *method, const char *path,
		    struct resp *r)
{
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			 "Connection: close\r\n\r\n",
			 method, path);

	raw_request(port, req, (size_t)n, r);
}

/* The value of header name in r (case-sensitive name, as sent), or NULL. */
static const char *header(struct resp *r, const char *name, char *out,
			  size_t cap)
{
	char key[64];
	const char *p, *e;

	snprintf(key, sizeof(key), "\r\n%s: ", name);
	p = strstr(r->head, key);
	if (!p)
		return NULL;
	p += strlen(key);
	e = strstr(p, "\r\n");
	if (!e)
		e = p + strlen(p);
	snprintf(out, cap, "%.*s", (int)(e - p), p);
	return out;
}

/* ---- the service side ------------------------------------------------- */

static void on_scrape(void *ctx)
{
	struct fixture *f = ctx;

	atomic_fetch_add(&f->scrapes, 1);
	abyss_metric_inc(f->hits);
}

static int is_ready(void *ctx, char *reason, size_t cap)
{
	struct fixture *f = ctx;

	if (atomic_load(&f->ready))
		return 1;
	snprintf(reason, cap, "waiting for the \"broker\"");
	return 0;
}

static json_t *status_json(void *ctx)
{
	struct fixture *f = ctx;

	if (atomic_load(&f->status_fails))
		return NULL;
	return json_pack("{s:s,s:i,s:[i,i]}", "version", ABYSS_VERSION, "holes",
			 42, "ports", 1, 2);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct abyss_http_callbacks cb;
	struct abyss_diag d;

	assert_non_null(f);
	assert_int_equal(abyss_metrics_new(NULL, &f->reg), 0);
	assert_int_equal(abyss_metrics_counter(f->reg, "scrapes_total",
					       "Scrapes.", NULL, NULL, &f->hits,
					       NULL),
			 0);
	memset(&cb, 0, sizeof(cb));
	cb.ctx = f;
	cb.metrics = f->reg;
	cb.on_scrape = on_scrape;
	cb.ready = is_ready;
	cb.status = status_json;
	abyss_diag_init(&d);
	assert_int_equal(
	    abyss_http_start("127.0.0.1:0", &cb, NULL, &f->srv, &d), 0);
	f->port = abyss_http_port(f->srv);
	assert_true(f->port > 0 && f->port < 65536);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	abyss_http_stop(f->srv);
	abyss_metrics_free(f->reg);
	free(f);
	return 0;
}

/* ---- tests ------------------------------------------------------------ */

static void test_http_livez_ok(void **state)
{
	struct fixture *f = *state;
	struct resp *r = malloc(sizeof(*r));
	char v[128];

	assert_non_null(r);
	request(f->port, "GET", "/livez", r);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "ok\n");
	assert_non_null(header(r, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "text/plain; charset=utf-8");
	/* The query string is not part of the path. */
	request(f->port, "GET", "/livez?verbose=1", r);
	assert_int_equal(r->status, 200);
	free(r);
}

static void test_http_metrics_serves_registry(void **state)
{
	struct fixture *f = *state;
	struct resp *r = malloc(sizeof(*r));
	char page[1024], v[128];

	assert_non_null(r);
	request(f->port, "GET", "/metrics", r);
	assert_int_equal(r->status, 200);
	assert_non_null(header(r, "Content-Type", v, sizeof(v)));
	assert_non_null(strstr(v, "text/plain; version=0.0.4"));
	assert_int_equal(atomic_load(&f->scrapes), 1);
	/* on_scrape ran before rendering, so the page shows its update, and
	 * the body is exactly what the registry renders. */
	assert_int_equal(abyss_metrics_render(f->reg, page, sizeof(page), NULL),
			 0);
	assert_string_equal(r->body, page);
	assert_string_equal(r->body, "# HELP scrapes_total Scrapes.\n"
				     "# TYPE scrapes_total counter\n"
				     "scrapes_total 1\n");
	request(f->port, "GET", "/metrics", r);
	assert_non_null(strstr(r->body, "scrapes_total 2\n"));
	free(r);
}

static void test_http_metrics_over_limit_is_500(void **state)
{
	struct fixture *f = *state;
	struct abyss_http_callbacks cb = {.metrics = f->reg};
	struct abyss_http_limits lim = {.max_metrics_bytes = 64};
	struct abyss_http *srv;
	struct resp *r = malloc(sizeof(*r));

	assert_non_null(r);
	assert_int_equal(abyss_http_start(":0", &cb, &lim, &srv, NULL), 0);
	request(abyss_http_port(srv), "GET", "/metrics", r);
	assert_int_equal(r->status, 500);
	assert_non_null(strstr(r->body, "limit"));
	/* Without readiness and status callbacks: never ready, and a status
	 * that names the version. */
	request(abyss_http_port(srv), "GET", "/readyz", r);
	assert_int_equal(r->status, 503);
	request(abyss_http_port(srv), "GET", "/api/status", r);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, ABYSS_VERSION));
	abyss_http_stop(srv);
	free(r);
}

static void test_http_readyz_flips(void **state)
{
	struct fixture *f = *state;
	struct resp *r = malloc(sizeof(*r));
	char v[128];

	assert_non_null(r);
	request(f->port, "GET", "/readyz", r);
	assert_int_equal(r->status, 503);
	assert_non_null(header(r, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "application/json");
	assert_string_equal(r->body, "{\"ready\":false,\"reason\":\"waiting "
				     "for the \\\"broker\\\"\"}");
	atomic_store(&f->ready, 1);
	request(f->port, "GET", "/readyz", r);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "{\"ready\":true}");
	atomic_store(&f->ready, 0);
	request(f->port, "GET", "/readyz", r);
	assert_int_equal(r->status, 503);
	free(r);
}

static void test_http_status_json(void **state)
{
	struct fixture *f = *state;
	struct resp *r = malloc(sizeof(*r));
	json_error_t err;
	json_t *j;

	assert_non_null(r);
	request(f->port, "GET", "/api/status", r);
	assert_int_equal(r->status, 200);
	j = json_loads(r->body, 0, &err);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "holes")), 42);
	assert_string_equal(json_string_value(json_object_get(j, "version")),
			    ABYSS_VERSION);
	json_decref(j);
	atomic_store(&f->status_fails, 1);
	request(f->port, "GET", "/api/status", r);
	assert_int_equal(r->status, 500);
	assert_non_null(strstr(r->body, "error"));
	free(r);
}

static void test_http_unknown_path_404(void **state)
{
	static const char *const paths[] = {
	    "/",      "/nope",	   "/metrics/",	    "/api/status/x",
	    "/LIVEZ", "/%00livez", "/../etc/passwd"};
	struct fixture *f = *state;
	struct resp *r = malloc(sizeof(*r));
	size_t i;

	assert_non_null(r);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		request(f->port, "GET", paths[i], r);
		assert_int_equal(r->status, 404);
		assert_string_equal(r->body, "not found\n");
	}
	free(r);
}

static void test_http_non_get_405(void **state)
{
	static const char post[] = "POST /metrics HTTP/1.1\r\nHost: x\r\n"
				   "Connection: close\r\n"
				   "Content-Length: 5\r\n\r\nhello";
	static const char *const methods[] = {"PUT", "DELETE", "OPTIONS",
					      "PATCH", "BREW"};
	struct fixture *f = *state;
	struct resp *r = malloc(sizeof(*r));
	char v[128];
	size_t i;

	assert_non_null(r);
	raw_request(f->port, post, sizeof(post) - 1, r);
	assert_int_equal(r->status, 405);
	assert_non_null(header(r, "Allow", v, sizeof(v)));
	assert_string_equal(v, "GET, HEAD");
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		request(f->port, methods[i], "/livez", r);
		assert_int_equal(r->status, 405);
	}
	/* HEAD is GET without the body. */
	request(f->port, "HEAD", "/livez", r);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->body_len, 0);
	free(r);
}

static void test_http_many_sequential_requests(void **state)
{
	static const char two[] = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"
				  "GET /readyz HTTP/1.1\r\nHost: x\r\n"
				  "Connection: close\r\n\r\n";
	struct fixture *f = *state;
	struct resp *r = malloc(sizeof(*r));
	int i;

	assert_non_null(r);
	for (i = 0; i < 300; i++) {
		request(f->port, "GET", i % 2 ? "/livez" : "/metrics", r);
		assert_int_equal(r->status, 200);
	}
	assert_int_equal(atomic_load(&f->scrapes), 150);
	/* Two pipelined requests on one keep-alive connection. */
	raw_request(f->port, two, sizeof(two) - 1, r);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "HTTP/1.1 503"));
	free(r);
}

static void test_http_garbage_and_huge_header_no_crash(void **state)
{
	static const char *const junk[] = {
	    "\x01\x02\x03\xff\xfe garbage\r\n\r\n",
	    "GET\r\n\r\n",
	    "GET /livez\r\n\r\n",
	    "GET /livez HTTP/9.9\r\n\r\n",
	    "GET /livez HTTP/1.1\r\nNo-Colon-Here\r\n\r\n",
	    "GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
	    "GET /livez HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
	    "\r\n\r\nzz\r\n",
	    "GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999999"
	    "9999999999\r\n\r\n",
	};
	static const char nul[] = "GET /livez HTTP/1.1\r\nHost: x\r\nA: \0b\r\n"
				  "Connection: close\r\n\r\n";
	struct fixture *f = *state;
	struct resp *r = malloc(sizeof(*r));
	size_t big = 200 * 1024, i;
	char *req = malloc(big + 128);
	int n;

	assert_non_null(r);
	assert_non_null(req);
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		raw_request(f->port, junk[i], strlen(junk[i]), r);
		/* Refused with an error or a closed connection. */
		assert_true(r->status == 0 || r->status >= 400);
	}
	/* A NUL byte inside a header: libmicrohttpd lets it through to us,
	 * and nothing downstream reads header values. */
	raw_request(f->port, nul, sizeof(nul) - 1, r);
	/* A 200 KB header against a 16 KB per-connection limit. */
	n = snprintf(req, 128, "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + n, 'a', big);
	memcpy(req + n + big, "\r\n\r\n", 5); /* with its NUL */
	raw_request(f->port, req, (size_t)n + big + 4, r);
	assert_true(r->status == 0 || r->status == 431 || r->status == 400);
	/* A 10 KB path. */
	n = snprintf(req, 128, "GET /");
	memset(req + n, 'p', 10000); /* fits in 16 KB: a plain 404 */
	n += 10000;
	n += snprintf(req + n, 64, " HTTP/1.1\r\nConnection: close\r\n\r\n");
	raw_request(f->port, req, (size_t)n, r);
	assert_int_equal(r->status, 404);
	/* Still serving. */
	request(f->port, "GET", "/livez", r);
	assert_int_equal(r->status, 200);
	free(req);
	free(r);
}

static void test_http_connection_limit(void **state)
{
	struct abyss_http_callbacks cb = {0};
	struct abyss_http_limits lim = {.max_connections = 2};
	struct abyss_http *srv;
	struct resp *r = malloc(sizeof(*r));
	int idle[2], port, fd;

	(void)state;
	assert_non_null(r);
	assert_int_equal(abyss_http_start("127.0.0.1:0", &cb, &lim, &srv, NULL),
			 0);
	port = abyss_http_port(srv);
	idle[0] = connect_to(port);
	idle[1] = connect_to(port);
	/* The third connection waits in the kernel's backlog: no answer
	 * while the two idle ones hold the server's slots... */
	fd = connect_to(port);
	send_all(fd, "GET /livez HTTP/1.1\r\nConnection: close\r\n\r\n", 42);
	{
		struct timeval tv = {0, 300000};
		char c;
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		assert_int_equal(recv(fd, &c, 1, 0), -1);
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		tv.tv_sec = 5;
		tv.tv_usec = 0;
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	/* ...and is served once one of them goes. */
	close(idle[0]);
	read_resp(fd, r);
	close(fd);
	assert_int_equal(r->status, 200);
	close(idle[1]);
	/* Stopping with nothing pending, then serving again after restart. */
	abyss_http_stop(srv);
	assert_int_equal(abyss_http_start("127.0.0.1:0", &cb, &lim, &srv, NULL),
			 0);
	request(abyss_http_port(srv), "GET", "/livez", r);
	assert_int_equal(r->status, 200);
	/* Stop while a client holds an idle connection open. */
	idle[0] = connect_to(abyss_http_port(srv));
	abyss_http_stop(srv);
	close(idle[0]);
	free(r);
}

static void test_http_bad_addresses(void **state)
{
	static const char *const bad[] = {
	    "nonsense",	    "127.0.0.1",       "127.0.0.1:",   "127.0.0.1:x",
	    "127.0.0.1:-1", "127.0.0.1:65536", "[::1:80",      "[::1]80",
	    "::1:80",	    "999.1.1.1:80",    ":12345678901", "127.0.0.1:8 ",
	    "[]:80",	    "[::1]:+1",	       "h:p:80",
	};
	struct abyss_http_callbacks cb = {0};
	struct fixture *f = *state;
	struct abyss_http *srv = (struct abyss_http *)&cb;
	struct abyss_diag d;
	char addr[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		abyss_diag_init(&d);
		assert_int_equal(abyss_http_start(bad[i], &cb, NULL, &srv, &d),
				 ABYSS_ECONFIG);
		assert_null(srv);
		assert_true(d.msg[0] != '\0');
	}
	/* The fixture's port is taken. */
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
	abyss_diag_init(&d);
	assert_int_equal(abyss_http_start(addr, &cb, NULL, &srv, &d),
			 ABYSS_EIO);
	assert_non_null(strstr(d.msg, "in use"));
	/* An address that is not ours. */
	assert_int_equal(abyss_http_start("192.0.2.1:0", &cb, NULL, &srv, &d),
			 ABYSS_EIO);
	assert_int_equal(abyss_http_start(NULL, NULL, NULL, &srv, NULL),
			 ABYSS_EINVAL);
	{
		struct abyss_http_limits lim = {.max_request_bytes = 100};
		assert_int_equal(abyss_http_start(":0", &cb, &lim, &srv, NULL),
				 ABYSS_ECONFIG);
	}
	assert_int_equal(abyss_http_port(NULL), -1);
	abyss_http_stop(NULL);
}

static void test_http_ipv6_loopback(void **state)
{
	struct abyss_http_callbacks cb = {0};
	struct sockaddr_in6 a;
	struct abyss_http *srv;
	struct resp *r;
	int fd;

	(void)state;
	if (abyss_http_start("[::1]:0", &cb, NULL, &srv, NULL) != 0)
		skip(); /* no IPv6 on this machine */
	r = malloc(sizeof(*r));
	assert_non_null(r);
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_port = htons((uint16_t)abyss_http_port(srv));
	a.sin6_addr = in6addr_loopback;
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	send_all(fd,
		 "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		 51);
	read_resp(fd, r);
	close(fd);
	assert_int_equal(r->status, 200);
	abyss_http_stop(srv);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_http_livez_ok, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_http_metrics_serves_registry,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_http_metrics_over_limit_is_500,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_http_readyz_flips, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_http_status_json, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_http_unknown_path_404, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_http_non_get_405, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_http_many_sequential_requests,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_http_garbage_and_huge_header_no_crash, setup, teardown),
	    cmocka_unit_test(test_http_connection_limit),
	    cmocka_unit_test_setup_teardown(test_http_bad_addresses, setup,
					    teardown),
	    cmocka_unit_test(test_http_ipv6_loopback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
