/* test_metrics.c - the metrics registry: exact sums under concurrency,
 * bucket placement, exact exposition text, limits, and the service table. */
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/metrics.h"
#include "abyss/version.h"

#define NTHREADS 4
#define NITER	 100000

struct hammer {
	struct abyss_metric *c, *g, *h;
};

static void *hammer_main(void *arg)
{
	struct hammer *hm = arg;
	int i;

	for (i = 0; i < NITER; i++) {
		abyss_metric_inc(hm->c);
		abyss_metric_gauge_add(hm->g, 1.0);
		/* 0.25 and 4 are exact in binary, so the sum is exact too. */
		abyss_metric_observe(hm->h, i % 2 ? 0.25 : 4.0);
	}
	return NULL;
}

struct scraper {
	struct abyss_metrics *r;
	atomic_int stop;
	int renders;
	int bad;
};

/* Renders while the hammers run: every page must be complete and each
 * histogram's _count must equal its +Inf bucket. */
static void *scraper_main(void *arg)
{
	struct scraper *s = arg;
	static char page[8192];
	unsigned long long inf, count;
	const char *p;

	while (!atomic_load(&s->stop)) {
		if (abyss_metrics_render(s->r, page, sizeof(page), NULL) != 0) {
			s->bad++;
			break;
		}
		p = strstr(page, "h_bucket{le=\"+Inf\"} ");
		if (!p || sscanf(p, "h_bucket{le=\"+Inf\"} %llu", &inf) != 1) {
			s->bad++;
			break;
		}
		p = strstr(page, "h_count ");
		if (!p || sscanf(p, "h_count %llu", &count) != 1 ||
		    count != inf) {
			s->bad++;
			break;
		}
		s->renders++;
	}
	return NULL;
}

static void test_metrics_concurrent_updates_sum_exactly(void **state)
{
	static const double b[] = {1, 2};
	struct abyss_metrics *r;
	struct hammer hm;
	struct scraper sc;
	pthread_t t[NTHREADS], st;
	int i;

	(void)state;
	assert_int_equal(abyss_metrics_new(NULL, &r), 0);
	assert_int_equal(
	    abyss_metrics_counter(r, "c_total", "c", NULL, NULL, &hm.c, NULL),
	    0);
	assert_int_equal(
	    abyss_metrics_gauge(r, "g", "g", NULL, NULL, &hm.g, NULL), 0);
	assert_int_equal(
	    abyss_metrics_histogram(r, "h", "h", NULL, NULL, b, 2, &hm.h, NULL),
	    0);
	memset(&sc, 0, sizeof(sc));
	sc.r = r;
	assert_int_equal(pthread_create(&st, NULL, scraper_main, &sc), 0);
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &hm),
				 0);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&sc.stop, 1);
	pthread_join(st, NULL);

	assert_int_equal(sc.bad, 0);
	assert_true(sc.renders > 0);
	assert_true(abyss_metric_value(hm.c) == (double)NTHREADS * NITER);
	assert_true(abyss_metric_value(hm.g) == (double)NTHREADS * NITER);
	assert_true(abyss_metric_value(hm.h) == (double)NTHREADS * NITER);
	assert_int_equal(abyss_metric_hist_bucket(hm.h, 0),
			 NTHREADS * NITER / 2);
	assert_int_equal(abyss_metric_hist_bucket(hm.h, 1), 0);
	assert_int_equal(abyss_metric_hist_bucket(hm.h, 2),
			 NTHREADS * NITER / 2);
	assert_true(abyss_metric_hist_sum(hm.h) ==
		    0.5 * NTHREADS * NITER * (0.25 + 4.0));
	abyss_metrics_free(r);
}

static void test_metrics_histogram_bucket_placement(void **state)
{
	static const double b[] = {0.1, 0.5, 1};
	struct abyss_metrics *r;
	struct abyss_metric *h;

	(void)state;
	assert_int_equal(abyss_metrics_new(NULL, &r), 0);
	assert_int_equal(abyss_metrics_histogram(r, "lat_seconds", "x", NULL,
						 NULL, b, 3, &h, NULL),
			 0);
	abyss_metric_observe(h, 0.1);	   /* bound is inclusive: bucket 0 */
	abyss_metric_observe(h, -5);	   /* below everything: bucket 0 */
	abyss_metric_observe(h, 0.100001); /* bucket 1 */
	abyss_metric_observe(h, 0.5);	   /* bucket 1 */
	abyss_metric_observe(h, 1);	   /* bucket 2 */
	abyss_metric_observe(h, 1.5);	   /* +Inf only */
	abyss_metric_observe(h, INFINITY); /* +Inf only */
	abyss_metric_observe(h, NAN);	   /* ignored */
	assert_int_equal(abyss_metric_hist_bucket(h, 0), 2);
	assert_int_equal(abyss_metric_hist_bucket(h, 1), 2);
	assert_int_equal(abyss_metric_hist_bucket(h, 2), 1);
	assert_int_equal(abyss_metric_hist_bucket(h, 3), 2);
	assert_int_equal(abyss_metric_hist_bucket(h, 4), 0); /* out of range */
	assert_true(abyss_metric_value(h) == 7.0);
	assert_true(isinf(abyss_metric_hist_sum(h)));
	abyss_metrics_free(r);
}

static const char expected_page[] =
    "# HELP req_total Requests, by code.\n"
    "# TYPE req_total counter\n"
    "req_total{code=\"200\"} 3\n"
    "req_total{code=\"a\\\"b\\\\c\\nd\"} 18446744073709551615\n"
    "# HELP temp_celsius A gauge \\\\ with\\nnewline.\n"
    "# TYPE temp_celsius gauge\n"
    "temp_celsius -0.1\n"
    "# TYPE untyped_help gauge\n"
    "untyped_help 1e+300\n"
    "# HELP lat_seconds Latency.\n"
    "# TYPE lat_seconds histogram\n"
    "lat_seconds_bucket{op=\"read\",le=\"0.0005\"} 1\n"
    "lat_seconds_bucket{op=\"read\",le=\"0.25\"} 1\n"
    "lat_seconds_bucket{op=\"read\",le=\"10\"} 3\n"
    "lat_seconds_bucket{op=\"read\",le=\"+Inf\"} 3\n"
    "lat_seconds_sum{op=\"read\"} 15.000244140625\n"
    "lat_seconds_count{op=\"read\"} 3\n"
    "lat_seconds_bucket{op=\"write\",le=\"0.0005\"} 0\n"
    "lat_seconds_bucket{op=\"write\",le=\"0.25\"} 0\n"
    "lat_seconds_bucket{op=\"write\",le=\"10\"} 0\n"
    "lat_seconds_bucket{op=\"write\",le=\"+Inf\"} 0\n"
    "lat_seconds_sum{op=\"write\"} 0\n"
    "lat_seconds_count{op=\"write\"} 0\n"
    "# HELP solo_seconds One.\n"
    "# TYPE solo_seconds histogram\n"
    "solo_seconds_bucket{le=\"1\"} 1\n"
    "solo_seconds_bucket{le=\"+Inf\"} 1\n"
    "solo_seconds_sum 0.5\n"
    "solo_seconds_count 1\n";

/* Builds the registry whose page is expected_page. */
static struct abyss_metrics *small_registry(void)
{
	static const double b[] = {0.0005, 0.25, 10};
	static const double one[] = {1};
	struct abyss_metrics *r;
	struct abyss_metric *ok, *odd, *t, *u, *rd, *wr, *solo;

	assert_int_equal(abyss_metrics_new(NULL, &r), 0);
	assert_int_equal(abyss_metrics_counter(r, "req_total",
					       "Requests, by code.", "code",
					       "200", &ok, NULL),
			 0);
	assert_int_equal(abyss_metrics_gauge(r, "temp_celsius",
					     "A gauge \\ with\nnewline.", NULL,
					     NULL, &t, NULL),
			 0);
	assert_int_equal(abyss_metrics_counter(r, "req_total",
					       "Requests, by code.", "code",
					       "a\"b\\c\nd", &odd, NULL),
			 0);
	assert_int_equal(
	    abyss_metrics_gauge(r, "untyped_help", NULL, NULL, NULL, &u, NULL),
	    0);
	assert_int_equal(abyss_metrics_histogram(r, "lat_seconds", "Latency.",
						 "op", "read", b, 3, &rd, NULL),
			 0);
	assert_int_equal(abyss_metrics_histogram(r, "lat_seconds", "Latency.",
						 "op", "write", b, 3, &wr,
						 NULL),
			 0);
	assert_int_equal(abyss_metrics_histogram(r, "solo_seconds", "One.",
						 NULL, NULL, one, 1, &solo,
						 NULL),
			 0);
	abyss_metric_inc(ok);
	abyss_metric_add(ok, 2);
	abyss_metric_add(odd, UINT64_MAX);
	abyss_metric_set(t, 3.0);
	abyss_metric_set(t, -0.1);
	abyss_metric_set(u, 1e300);
	abyss_metric_observe(rd, 0.000244140625); /* 2^-12 */
	abyss_metric_observe(rd, 5);
	abyss_metric_observe(rd, 10); /* the sum is exact */
	abyss_metric_observe(solo, 0.5);
	return r;
}

static void test_metrics_exposition_text_exact(void **state)
{
	struct abyss_metrics *r = small_registry();
	char page[4096];
	size_t len = 0;

	(void)state;
	assert_int_equal(abyss_metrics_render(r, page, sizeof(page), &len), 0);
	assert_string_equal(page, expected_page);
	assert_int_equal(len, strlen(expected_page));
	abyss_metrics_free(r);
}

static void test_metrics_buffer_too_small(void **state)
{
	struct abyss_metrics *r = small_registry();
	size_t need = strlen(expected_page), cap, len = 123;
	char *page = malloc(need + 1);

	(void)state;
	assert_non_null(page);
	/* Every size short of the text plus its NUL is refused, and the
	 * prefix written stays NUL-terminated inside the buffer. */
	for (cap = 1; cap <= need; cap++) {
		memset(page, 'x', need + 1);
		assert_int_equal(abyss_metrics_render(r, page, cap, &len),
				 ABYSS_ETOOBIG);
		assert_int_equal(len, 0);
		assert_non_null(memchr(page, '\0', cap));
		assert_int_equal(page[cap > need ? need : cap], 'x');
	}
	assert_int_equal(abyss_metrics_render(r, page, need + 1, &len), 0);
	assert_int_equal(len, need);
	assert_string_equal(page, expected_page);
	assert_int_equal(abyss_metrics_render(r, page, 0, &len), ABYSS_EINVAL);
	assert_int_equal(abyss_metrics_render(NULL, page, 10, &len),
			 ABYSS_EINVAL);
	free(page);
	abyss_metrics_free(r);
}

static void test_metrics_rejects_bad_registrations(void **state)
{
	static const double b[] = {1, 2};
	static const double unsorted[] = {2, 1};
	static const double inf[] = {1, INFINITY};
	struct abyss_metrics_limits lim = {4, 5, 5};
	struct abyss_metrics *r;
	struct abyss_metric *m;
	struct abyss_diag d;
	char longname[ABYSS_METRICS_NAME_MAX + 1];

	(void)state;
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	abyss_diag_init(&d);
	assert_int_equal(abyss_metrics_new(&lim, &r), 0);
	assert_int_equal(
	    abyss_metrics_counter(r, "1abc", "", NULL, NULL, &m, &d),
	    ABYSS_EINVAL);
	assert_null(m);
	assert_non_null(strstr(d.msg, "1abc"));
	assert_int_equal(
	    abyss_metrics_counter(r, "a-b", "", NULL, NULL, &m, NULL),
	    ABYSS_EINVAL);
	assert_int_equal(abyss_metrics_counter(r, "", "", NULL, NULL, &m, NULL),
			 ABYSS_EINVAL);
	assert_int_equal(
	    abyss_metrics_counter(r, longname, "", NULL, NULL, &m, NULL),
	    ABYSS_EINVAL);
	assert_int_equal(
	    abyss_metrics_counter(r, "ok", "", "__x", "v", &m, NULL),
	    ABYSS_EINVAL);
	assert_int_equal(
	    abyss_metrics_counter(r, "ok", "", "a:b", "v", &m, NULL),
	    ABYSS_EINVAL);
	assert_int_equal(
	    abyss_metrics_counter(r, "ok", "", "lab", NULL, &m, NULL),
	    ABYSS_EINVAL);
	assert_int_equal(
	    abyss_metrics_counter(r, "ok", "", "lab", "", &m, NULL),
	    ABYSS_EINVAL);
	assert_int_equal(
	    abyss_metrics_histogram(r, "h", "", "le", "1", b, 2, &m, NULL),
	    ABYSS_EINVAL);
	assert_int_equal(abyss_metrics_histogram(r, "h", "", NULL, NULL,
						 unsorted, 2, &m, NULL),
			 ABYSS_EINVAL);
	assert_int_equal(
	    abyss_metrics_histogram(r, "h", "", NULL, NULL, inf, 2, &m, NULL),
	    ABYSS_EINVAL);
	assert_int_equal(
	    abyss_metrics_histogram(r, "h", "", NULL, NULL, b, 0, &m, NULL),
	    ABYSS_EINVAL);

	/* Family consistency and duplicates. */
	assert_int_equal(
	    abyss_metrics_counter(r, "x:y_total", "h", "k", "1", &m, NULL), 0);
	assert_int_equal(
	    abyss_metrics_counter(r, "x:y_total", "h", "k", "1", &m, &d),
	    ABYSS_EDUPLICATE);
	assert_int_equal(
	    abyss_metrics_gauge(r, "x:y_total", "h", "k", "2", &m, NULL),
	    ABYSS_EINVAL);
	assert_int_equal(
	    abyss_metrics_counter(r, "x:y_total", "other", "k", "2", &m, NULL),
	    ABYSS_EINVAL);
	assert_int_equal(
	    abyss_metrics_counter(r, "x:y_total", "h", "j", "2", &m, NULL),
	    ABYSS_EINVAL);
	assert_int_equal(
	    abyss_metrics_histogram(r, "h", "", NULL, NULL, b, 2, &m, NULL), 0);
	assert_int_equal(
	    abyss_metrics_counter(r, "h_count", "", NULL, NULL, &m, NULL),
	    ABYSS_EINVAL);
	assert_int_equal(abyss_metrics_gauge(r, "g", "", NULL, NULL, &m, NULL),
			 0);
	assert_int_equal(abyss_metrics_gauge(r, "g", "", NULL, NULL, &m, NULL),
			 ABYSS_EDUPLICATE);

	/* Capacity: 4 families, 5 series, 5 buckets (h took 3). */
	assert_int_equal(
	    abyss_metrics_histogram(r, "h2", "", NULL, NULL, b, 2, &m, &d),
	    ABYSS_EFULL);
	assert_int_equal(
	    abyss_metrics_counter(r, "x:y_total", "h", "k", "2", &m, NULL), 0);
	assert_int_equal(
	    abyss_metrics_counter(r, "z", "", NULL, NULL, &m, NULL), 0);
	assert_int_equal(abyss_metrics_counter(r, "w", "", NULL, NULL, &m, &d),
			 ABYSS_EFULL);
	assert_non_null(strstr(d.msg, "full"));
	assert_int_equal(
	    abyss_metrics_counter(r, "x:y_total", "h", "k", "3", &m, NULL),
	    ABYSS_EFULL);
	abyss_metrics_free(r);
	abyss_metrics_free(NULL);
	assert_int_equal(abyss_metrics_new(NULL, NULL), ABYSS_EINVAL);
}

static void test_metrics_wrong_type_and_null_are_ignored(void **state)
{
	static const double b[] = {1};
	struct abyss_metrics *r;
	struct abyss_metric *c, *g, *h;

	(void)state;
	assert_int_equal(abyss_metrics_new(NULL, &r), 0);
	assert_int_equal(
	    abyss_metrics_counter(r, "c", "", NULL, NULL, &c, NULL), 0);
	assert_int_equal(abyss_metrics_gauge(r, "g", "", NULL, NULL, &g, NULL),
			 0);
	assert_int_equal(
	    abyss_metrics_histogram(r, "h", "", NULL, NULL, b, 1, &h, NULL), 0);
	abyss_metric_set(c, 5);
	abyss_metric_gauge_add(c, 5);
	abyss_metric_observe(c, 5);
	abyss_metric_inc(g);
	abyss_metric_observe(g, 5);
	abyss_metric_inc(h);
	abyss_metric_set(h, 5);
	assert_true(abyss_metric_value(c) == 0.0);
	assert_true(abyss_metric_value(g) == 0.0);
	assert_true(abyss_metric_value(h) == 0.0);
	abyss_metric_inc(NULL);
	abyss_metric_set(NULL, 1);
	abyss_metric_observe(NULL, 1);
	assert_true(abyss_metric_value(NULL) == 0.0);
	assert_ptr_equal(abyss_metrics_find(r, "g", NULL), g);
	assert_null(abyss_metrics_find(r, "nope", NULL));
	abyss_metrics_free(r);
}

/* Checks the grammar of a page: families announced by # TYPE before their
 * samples, each sample "name[{labels}] value" with a number that parses. */
static void check_exposition_grammar(const char *page)
{
	char family[ABYSS_METRICS_NAME_MAX] = "";
	const char *line = page, *nl;

	while (*line) {
		char buf[512], *sp, *end;
		size_t n;

		nl = strchr(line, '\n');
		assert_non_null(nl);
		n = (size_t)(nl - line);
		assert_true(n < sizeof(buf));
		memcpy(buf, line, n);
		buf[n] = '\0';
		if (strncmp(buf, "# TYPE ", 7) == 0) {
			sp = strchr(buf + 7, ' ');
			assert_non_null(sp);
			*sp = '\0';
			assert_true(strlen(buf + 7) < sizeof(family));
			memcpy(family, buf + 7, strlen(buf + 7) + 1);
		} else if (strncmp(buf, "# HELP ", 7) != 0) {
			assert_true(family[0] != '\0');
			assert_int_equal(strncmp(buf, family, strlen(family)),
					 0);
			sp = strrchr(buf, ' ');
			assert_non_null(sp);
			if (strcmp(sp + 1, "+Inf") != 0 &&
			    strcmp(sp + 1, "NaN") != 0) {
				(void)strtod(sp + 1, &end);
				assert_true(*end == '\0' && end > sp + 1);
			}
		}
		line = nl + 1;
	}
}

static void test_metrics_service_table(void **state)
{
	static const char *const names[] = {
	    "abyss_messages_received_total",
	    "abyss_messages_invalid_total",
	    "abyss_holes_matched_total",
	    "abyss_messages_expired_total",
	    "abyss_duplicates_total",
	    "abyss_drops_total",
	    "abyss_queue_depth",
	    "abyss_spool_depth",
	    "abyss_estimation_seconds",
	    "abyss_publish_seconds",
	    "abyss_end_to_end_seconds",
	    "abyss_mqtt_reconnects_total",
	    "abyss_mqtt_connected",
	    "abyss_holes_published_total",
	    "abyss_worker_stuck_total",
	    "abyss_memory_bytes",
	    "abyss_build_info",
	    "process_start_time_seconds",
	};
	struct abyss_service_metrics sm;
	struct abyss_metrics *r;
	char line[160];
	size_t i, len;
	char *page;

	(void)state;
	page = malloc(65536);
	assert_non_null(page);
	assert_int_equal(abyss_metrics_new(NULL, &r), 0);
	assert_int_equal(abyss_service_metrics_init(r, &sm, 1700000000.5, NULL),
			 0);
	/* Every handle is set, and a second init collides. */
	for (i = 0; i < sizeof(sm) / sizeof(struct abyss_metric *); i++)
		assert_non_null(((struct abyss_metric **)&sm)[i]);
	{
		struct abyss_service_metrics sm2;
		assert_int_equal(abyss_service_metrics_init(r, &sm2, 0, NULL),
				 ABYSS_EDUPLICATE);
	}

	abyss_metric_inc(sm.received[ABYSS_MX_TRACE]);
	abyss_metric_inc(sm.drops[ABYSS_MX_DROP_EXPIRED]);
	abyss_metric_inc(sm.published[ABYSS_MX_PUB_NEGATIVE]);
	abyss_metric_set(sm.mqtt_connected, 1);
	abyss_metric_observe(sm.estimation_seconds, 0.003);
	assert_ptr_equal(abyss_metrics_find(r, "abyss_drops_total", "expired"),
			 sm.drops[ABYSS_MX_DROP_EXPIRED]);

	assert_int_equal(abyss_metrics_render(r, page, 65536, &len), 0);
	check_exposition_grammar(page);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(line, sizeof(line), "# TYPE %s ", names[i]);
		assert_non_null(strstr(page, line));
	}
	snprintf(line, sizeof(line), "abyss_build_info{version=\"%s\"} 1\n",
		 ABYSS_VERSION);
	assert_non_null(strstr(page, line));
	assert_non_null(strstr(page, "process_start_time_seconds "
				     "1700000000.5\n"));
	assert_non_null(strstr(page, "abyss_messages_received_total{type="
				     "\"trace\"} 1\n"));
	assert_non_null(strstr(page, "abyss_messages_received_total{type="
				     "\"heads\"} 0\n"));
	assert_non_null(strstr(page, "abyss_drops_total{reason=\"expired\"} "
				     "1\n"));
	assert_non_null(strstr(page, "abyss_holes_published_total{result="
				     "\"negative\"} 1\n"));
	assert_non_null(strstr(page, "abyss_mqtt_connected 1\n"));
	assert_non_null(strstr(page, "abyss_estimation_seconds_bucket{le="
				     "\"0.0025\"} 0\n"
				     "abyss_estimation_seconds_bucket{le="
				     "\"0.005\"} 1\n"));
	assert_non_null(strstr(page, "abyss_publish_seconds_bucket{le="
				     "\"0.0005\"} 0\n"));
	assert_non_null(strstr(page, "abyss_end_to_end_seconds_bucket{le="
				     "\"10\"} 0\n"));
	assert_non_null(strstr(page, "abyss_estimation_seconds_count 1\n"));
	assert_int_equal(abyss_latency_nbuckets, 14);

	/* This test process holds at least its 64 KB page buffer. */
	assert_true(abyss_metric_value(sm.memory_bytes) == 0.0);
	assert_int_equal(abyss_service_metrics_sample_memory(&sm), 0);
	assert_true(abyss_metric_value(sm.memory_bytes) >= 65536.0);
	assert_int_equal(abyss_service_metrics_sample_memory(NULL),
			 ABYSS_EINVAL);
	free(page);
	abyss_metrics_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_metrics_concurrent_updates_sum_exactly),
	    cmocka_unit_test(test_metrics_histogram_bucket_placement),
	    cmocka_unit_test(test_metrics_exposition_text_exact),
	    cmocka_unit_test(test_metrics_buffer_too_small),
	    cmocka_unit_test(test_metrics_rejects_bad_registrations),
	    cmocka_unit_test(test_metrics_wrong_type_and_null_are_ignored),
	    cmocka_unit_test(test_metrics_service_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
