/*
 * test_setitec_corrupt.c - the Setitec parser on damaged and hostile input:
 * truncation at every section boundary and at random offsets of a real
 * file, random bytes, over-long lines, each limit, garbage in a number
 * column, missing headers. Every input sits against a PROT_NONE guard page
 * so that any read past the end crashes the test.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/hole.h"
#include "abyss/setitec.h"

#define MDB "abyss/test_data/MDB/17070141_17070141_ST_753_55.xls"

/* Parses buf[0..n) placed against a guard page; on success also maps it to
 * a hole. Returns the parse code. */
static int parse_guarded(const char *buf, size_t n,
			 const struct abyss_setitec_limits *lim,
			 struct abyss_diag *d, size_t *nsamples)
{
	void *g = guard_alloc(buf, n);
	struct abyss_setitec *f = NULL;
	struct abyss_hole h;
	int rc;

	assert_non_null(g);
	abyss_diag_init(d);
	rc = abyss_setitec_parse(g, n, lim, &f, d);
	if (rc == 0) {
		assert_non_null(f);
		if (nsamples)
			*nsamples = f->nsamples;
		abyss_hole_init(&h);
		rc = abyss_hole_from_setitec(f, &h, NULL);
		assert_true(rc == 0 || rc == ABYSS_ENODATA ||
			    rc == ABYSS_EMISSING);
		abyss_hole_free(&h);
		abyss_setitec_free(f);
		rc = 0;
	} else {
		assert_null(f);
		assert_int_equal(d->code, rc);
		assert_true(d->msg[0] != '\0');
	}
	guard_free(g, n);
	return rc;
}

static char *mdb(size_t *n)
{
	const char *p = data_path(MDB);
	return p ? read_file(p, n) : NULL;
}

static void test_setitec_corrupt_truncated_at_sections(void **state)
{
	size_t n, off, ns = 0, cuts = 0;
	char *buf;
	struct abyss_diag d;
	char *datas;

	(void)state;
	REQUIRE_DATA(data_path(MDB));
	buf = mdb(&n);
	assert_non_null(buf);
	datas = memmem(buf, n, "*** Datas ***", 13);
	assert_non_null(datas);
	for (off = 0; off < n; off++) {
		int rc;
		if (!(off == 0 || buf[off - 1] == '\n'))
			continue;
		if (buf + off > datas + 200)
			break;
		/* cut at the start of every line up to the first samples */
		rc = parse_guarded(buf, off, NULL, &d, &ns);
		if (buf + off <= datas) {
			assert_int_equal(rc, off == 0 ? ABYSS_ENOTSETITEC
						      : ABYSS_ETRUNCATED);
			if (off)
				assert_non_null(strstr(d.msg, "truncated"));
		} else {
			assert_true(rc == 0 || rc == ABYSS_ENODATA);
		}
		/* and in the middle of the line */
		if (off > 3)
			(void)parse_guarded(buf, off - 3, NULL, &d, &ns);
		cuts++;
	}
	assert_true(cuts > 50);
	free(buf);
}

static unsigned long long rnd_state = 0x9E3779B97F4A7C15ULL;
static unsigned long long rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void test_setitec_corrupt_truncated_random(void **state)
{
	size_t n, i, ok = 0, trunc = 0, ns;
	char *buf;
	struct abyss_diag d;

	(void)state;
	REQUIRE_DATA(data_path(MDB));
	buf = mdb(&n);
	assert_non_null(buf);
	for (i = 0; i < 300; i++) {
		size_t cut = (size_t)(rnd() % n);
		int rc = parse_guarded(buf, cut, NULL, &d, &ns);
		if (rc == 0)
			ok++;
		else if (rc == ABYSS_ETRUNCATED)
			trunc++;
		else
			assert_true(rc == ABYSS_ENODATA || rc == ABYSS_EPARSE);
	}
	assert_true(ok > 0 && trunc > 0);
	free(buf);
}

static void test_setitec_corrupt_random_bytes(void **state)
{
	char buf[4096];
	size_t i, j, ns;
	struct abyss_diag d;

	(void)state;
	for (i = 0; i < 300; i++) {
		size_t n = (size_t)(rnd() % sizeof(buf));
		for (j = 0; j < n; j++)
			buf[j] = (char)rnd();
		if (i % 3 == 1 && n > 40) /* a plausible start, then noise */
			memcpy(buf, "*** General Infos ***\n", 22);
		if (i % 3 == 2 && n > 40)
			memcpy(buf, "*** Datas ***\nPosition (mm)\tI\n", 30);
		(void)parse_guarded(buf, n, NULL, &d, &ns);
	}
	/* random bytes with tabs and newlines: a grammar-ish alphabet */
	for (i = 0; i < 300; i++) {
		static const char alpha[] = "\t\n;,.-0123456789 *aP()I";
		size_t n = (size_t)(rnd() % sizeof(buf));
		for (j = 0; j < n; j++)
			buf[j] = alpha[rnd() % (sizeof(alpha) - 1)];
		(void)parse_guarded(buf, n, NULL, &d, &ns);
	}
}

static void test_setitec_corrupt_long_line(void **state)
{
	size_t n = (size_t)10 << 20, ns;
	char *buf = malloc(n + 64);
	struct abyss_diag d;

	(void)state;
	assert_non_null(buf);
	memcpy(buf, "*** General Infos ***\n", 22);
	memset(buf + 22, 'a', n - 22);
	assert_int_equal(parse_guarded(buf, n, NULL, &d, &ns), ABYSS_ETOOBIG);
	assert_int_equal(d.line, 2);
	assert_non_null(strstr(d.msg, "max_line_bytes"));
	/* the same inside the Datas section */
	memcpy(buf, "*** Datas ***\nPosition (mm)\n1,0\n", 32);
	memset(buf + 32, '1', n - 32);
	assert_int_equal(parse_guarded(buf, n, NULL, &d, &ns), ABYSS_ETOOBIG);
	assert_int_equal(d.line, 4);
	assert_non_null(strstr(d.msg, "max_line_bytes"));
	free(buf);
}

static void test_setitec_corrupt_empty_and_headers_only(void **state)
{
	struct abyss_diag d;
	struct abyss_setitec *f = NULL;
	size_t ns = 99;
	static const char only_titles[] =
	    "*** General Infos ***\n*** Motor Datas ***\n";
	static const char only_headers[] =
	    "*** General Infos ***\nVersion\tDate\n\t\n*** Datas ***\n"
	    "Position (mm)\tI Torque (A)\n";

	(void)state;
	assert_int_equal(parse_guarded("", 0, NULL, &d, &ns),
			 ABYSS_ENOTSETITEC);
	assert_int_equal(abyss_setitec_parse(NULL, 0, NULL, &f, &d),
			 ABYSS_ENOTSETITEC);
	assert_int_equal(abyss_setitec_parse(NULL, 5, NULL, &f, &d),
			 ABYSS_EINVAL);
	assert_int_equal(abyss_setitec_parse("x", 1, NULL, NULL, &d),
			 ABYSS_EINVAL);
	assert_int_equal(parse_guarded("\t\t\n\n  \n", 7, NULL, &d, &ns),
			 ABYSS_ENOTSETITEC);
	assert_int_equal(
	    parse_guarded(only_titles, sizeof(only_titles) - 1, NULL, &d, &ns),
	    ABYSS_ETRUNCATED);
	assert_int_equal(parse_guarded(only_headers, sizeof(only_headers) - 1,
				       NULL, &d, &ns),
			 0);
	assert_int_equal(ns, 0);
	/* and the hole mapping says why there is nothing to map */
	assert_int_equal(abyss_setitec_parse(only_headers,
					     sizeof(only_headers) - 1, NULL, &f,
					     &d),
			 0);
	{
		struct abyss_hole h;
		abyss_hole_init(&h);
		assert_int_equal(abyss_hole_from_setitec(f, &h, &d),
				 ABYSS_ENODATA);
		assert_int_equal(h.n, 0);
	}
	abyss_setitec_free(f);
	abyss_setitec_free(NULL);
}

static void test_setitec_corrupt_garbage_number(void **state)
{
	static const char txt[] = "*** General Infos ***\n"
				  "Version\n"
				  "9\n"
				  "\t\n"
				  "*** Datas ***\n"
				  "Position (mm)\tI Torque (A)\tI Thrust (A)\n"
				  "-0,673\t-0,049\t0,012\n"
				  "-0,700\tabc\t0,012\n";
	struct abyss_diag d;
	size_t ns;

	(void)state;
	assert_int_equal(parse_guarded(txt, sizeof(txt) - 1, NULL, &d, &ns),
			 ABYSS_EPARSE);
	assert_int_equal(d.line, 8);
	assert_int_equal(d.col, 8);
	assert_string_equal(d.msg, "'abc' is not a number (field 2, column "
				   "'I Torque (A)')");
}

static void test_setitec_corrupt_missing_position_header(void **state)
{
	static const char txt[] = "*** General Infos ***\nVersion\n9\n\t\n"
				  "*** Datas ***\n"
				  "-0,673\t-0,049\t0,012\n";
	struct abyss_diag d;
	size_t ns;

	(void)state;
	assert_int_equal(parse_guarded(txt, sizeof(txt) - 1, NULL, &d, &ns),
			 ABYSS_EPARSE);
	assert_int_equal(d.line, 6);
	assert_non_null(strstr(d.msg, "Position (mm)"));
}

static void test_setitec_corrupt_last_row_cut(void **state)
{
	static const char txt[] = "*** Datas ***\n"
				  "Position (mm)\tI Torque (A)\tI Thrust (A)\n"
				  "-0,673\t-0,049\t0,012\n"
				  "-0,700\t-0,0";
	struct abyss_diag d;
	size_t ns;

	(void)state;
	assert_int_equal(parse_guarded(txt, sizeof(txt) - 1, NULL, &d, &ns),
			 ABYSS_ETRUNCATED);
	assert_int_equal(d.line, 4);
	/* a complete last row without a line end is fine */
	assert_int_equal(
	    parse_guarded(txt, sizeof(txt) - 1 - 12, NULL, &d, &ns), 0);
	assert_int_equal(ns, 1);
}

static void test_setitec_corrupt_limits(void **state)
{
	static const char txt[] =
	    "*** General Infos ***\nVersion\tDate\n9\tx\n\t\n"
	    "*** Pset ***\nA\tB\tC\n1\t2\t3\n\t\n"
	    "*** Datas ***\nPosition (mm)\tI Torque (A)\n"
	    "1\t2\n3\t4\n5\t6\n";
	struct abyss_setitec_limits lim;
	struct abyss_diag d;
	size_t ns;

	(void)state;
	abyss_setitec_limits_default(&lim);
	assert_int_equal(parse_guarded(txt, sizeof(txt) - 1, &lim, &d, &ns), 0);
	assert_int_equal(ns, 3);

	lim.max_rows = 2;
	assert_int_equal(parse_guarded(txt, sizeof(txt) - 1, &lim, &d, &ns),
			 ABYSS_ETOOBIG);
	assert_non_null(strstr(d.msg, "max_rows"));
	assert_int_equal(d.line, 13);

	abyss_setitec_limits_default(&lim);
	lim.max_cols = 2;
	assert_int_equal(parse_guarded(txt, sizeof(txt) - 1, &lim, &d, &ns),
			 ABYSS_ETOOBIG);
	assert_non_null(strstr(d.msg, "max_cols"));
	assert_int_equal(d.line, 6);

	abyss_setitec_limits_default(&lim);
	lim.max_sections = 2;
	assert_int_equal(parse_guarded(txt, sizeof(txt) - 1, &lim, &d, &ns),
			 ABYSS_ETOOBIG);
	assert_non_null(strstr(d.msg, "max_sections"));

	abyss_setitec_limits_default(&lim);
	lim.max_tables = 1;
	assert_int_equal(parse_guarded(txt, sizeof(txt) - 1, &lim, &d, &ns),
			 ABYSS_ETOOBIG);
	assert_non_null(strstr(d.msg, "max_tables"));

	abyss_setitec_limits_default(&lim);
	lim.max_meta_rows = 1;
	assert_int_equal(parse_guarded(txt, sizeof(txt) - 1, &lim, &d, &ns),
			 ABYSS_ETOOBIG);
	assert_non_null(strstr(d.msg, "max_meta_rows"));

	abyss_setitec_limits_default(&lim);
	lim.max_values = 4;
	assert_int_equal(parse_guarded(txt, sizeof(txt) - 1, &lim, &d, &ns),
			 ABYSS_ETOOBIG);
	assert_non_null(strstr(d.msg, "max_values"));

	abyss_setitec_limits_default(&lim);
	lim.max_bytes = 10;
	assert_int_equal(parse_guarded(txt, sizeof(txt) - 1, &lim, &d, &ns),
			 ABYSS_ETOOBIG);
	assert_non_null(strstr(d.msg, "max_bytes"));

	abyss_setitec_limits_default(&lim);
	lim.max_line_bytes = 10;
	assert_int_equal(parse_guarded(txt, sizeof(txt) - 1, &lim, &d, &ns),
			 ABYSS_ETOOBIG);
	assert_int_equal(d.line, 1);
}

static void test_setitec_corrupt_odd_but_valid(void **state)
{
	/* CRLF, a NUL inside a value, Latin-1, empty data cell, a row wider
	 * than its header, a blank line inside the data, a dwell */
	static const char txt[] = "*** General Infos ***\t\t\r\n"
				  "Version\tDate\r\n"
				  "9\t2024-05-08T17:51:30Z\r\n"
				  "\t\t\r\n"
				  "*** Motor Datas ***\r\n"
				  "Motor Name\tPset n\xB0\r\n"
				  "  Light_EDU\0\t\xB0\r\n"
				  "\t\r\n"
				  "*** Datas ***\r\n"
				  "Position (mm)\tI Torque (A)\r\n"
				  "-0,673\t-0,049\r\n"
				  "-0,700\t\t7\r\n"
				  "\t\t\r\n"
				  "-0,700\t1.5\r\n";
	struct abyss_setitec *f = NULL;
	struct abyss_diag d;
	void *g = guard_alloc(txt, sizeof(txt) - 1);

	(void)state;
	assert_int_equal(abyss_setitec_parse(g, sizeof(txt) - 1, NULL, &f, &d),
			 0);
	assert_true(f->general.unix_time == 1715190690.0);
	assert_string_equal(f->motor.name, "Light_EDU");
	assert_string_equal(
	    abyss_setitec_value(f, "Motor Datas", "Pset n\xC2\xB0"),
	    "\xC2\xB0");
	assert_int_equal(f->nsamples, 3);
	assert_int_equal(f->ncolumns, 3);
	assert_string_equal(f->columns[2].name, "");
	assert_true(f->columns[0].values[2] == -0.7);
	assert_true(isnan(f->columns[1].values[1]));
	assert_true(f->columns[1].values[2] == 1.5);
	assert_true(f->columns[2].values[1] == 7.0);
	assert_true(isnan(f->columns[2].values[0]));
	abyss_setitec_free(f);
	guard_free(g, sizeof(txt) - 1);
}

static void test_setitec_corrupt_datas_without_title(void **state)
{
	static const char txt[] = "*** General Infos ***\nVersion\n9\n\t\n"
				  "*** Step Results ***\n"
				  "Step Number\tStop Code\n1,000\t64,000\n"
				  "Position (mm)\tI Torque (A)\n"
				  "-0,673\t-0,049\n-0,700\t0,012\n";
	struct abyss_setitec *f = NULL;
	struct abyss_diag d;

	(void)state;
	assert_int_equal(
	    abyss_setitec_parse(txt, sizeof(txt) - 1, NULL, &f, &d), 0);
	assert_int_equal(f->nsamples, 2);
	assert_int_equal(f->nstep_results, 1);
	assert_string_equal(f->sections[f->nsections - 1].title, "Datas");
	assert_int_equal(f->data_line, 8);
	abyss_setitec_free(f);
}

static void test_setitec_corrupt_load_errors(void **state)
{
	struct abyss_setitec *f = NULL;
	struct abyss_diag d;

	(void)state;
	abyss_diag_init(&d);
	assert_int_equal(abyss_setitec_load("/nonexistent/x.xls", NULL, &f, &d),
			 ABYSS_ENOENT);
	assert_string_equal(d.file, "/nonexistent/x.xls");
	assert_null(f);
	assert_int_equal(abyss_setitec_load("/", NULL, &f, &d), ABYSS_EIO);
	assert_int_equal(abyss_setitec_load(NULL, NULL, &f, &d), ABYSS_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_setitec_corrupt_truncated_at_sections),
	    cmocka_unit_test(test_setitec_corrupt_truncated_random),
	    cmocka_unit_test(test_setitec_corrupt_random_bytes),
	    cmocka_unit_test(test_setitec_corrupt_long_line),
	    cmocka_unit_test(test_setitec_corrupt_empty_and_headers_only),
	    cmocka_unit_test(test_setitec_corrupt_garbage_number),
	    cmocka_unit_test(test_setitec_corrupt_missing_position_header),
	    cmocka_unit_test(test_setitec_corrupt_last_row_cut),
	    cmocka_unit_test(test_setitec_corrupt_limits),
	    cmocka_unit_test(test_setitec_corrupt_odd_but_valid),
	    cmocka_unit_test(test_setitec_corrupt_datas_without_title),
	    cmocka_unit_test(test_setitec_corrupt_load_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
