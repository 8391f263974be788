/*
 * test_setitec_oom.c - fault injection (curl's torture tests, sqlite's OOM
 * tests): parse, load and map while making the n-th allocation fail, for
 * every n until the call succeeds. Each failure must give ABYSS_ENOMEM, no
 * output object and no leaked block (this file interposes malloc, calloc,
 * realloc and free over glibc's and counts live blocks).
 * Under AddressSanitizer the interposition would hide blocks from ASan, so
 * the tests skip there; they run in the plain and valgrind builds.
 */
#include "testutil.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/hole.h"
#include "abyss/setitec.h"

#if defined(__SANITIZE_ADDRESS__)
#define OOM_SKIP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OOM_SKIP 1
#endif
#endif
#ifndef OOM_SKIP
#define OOM_SKIP 0

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t m);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

/* volatile: the compiler treats malloc as a builtin that touches no user
 * state, and would otherwise move these stores across the calls. */
static volatile int armed;    /* count and inject only while armed */
static volatile long fail_at; /* index of the allocation that fails, -1 none */
static volatile long nalloc;  /* allocations since arming */
static volatile long live; /* blocks allocated and not yet freed while armed */

static int should_fail(void)
{
	if (!armed || nalloc++ != fail_at)
		return 0;
	errno = ENOMEM; /* as glibc's malloc does */
	return 1;
}

void *malloc(size_t n)
{
	void *p;

	if (should_fail())
		return NULL;
	p = __libc_malloc(n);
	if (p && armed)
		live++;
	return p;
}

void *calloc(size_t n, size_t m)
{
	void *p;

	if (should_fail())
		return NULL;
	p = __libc_calloc(n, m);
	if (p && armed)
		live++;
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p;

	if (should_fail())
		return NULL;
	p = __libc_realloc(old, n);
	if (p && !old && armed)
		live++;
	return p;
}

void free(void *p)
{
	if (p && armed)
		live--;
	__libc_free(p);
}

static void arm(long at)
{
	nalloc = 0;
	live = 0;
	fail_at = at;
	armed = 1;
}

static void disarm(void)
{
	armed = 0;
}

/* valgrind replaces malloc in the executable too: then nothing is counted
 * and the tests skip (valgrind checks leaks itself in that run). */
static int interposed(void)
{
	void *volatile q;

	arm(-1);
	q = malloc(16);
	free(q);
	disarm();
	return nalloc >= 1;
}
#endif

#if !OOM_SKIP
/* Every construct the parser allocates for: sections, a split v4 header,
 * sub-tables, glued names, Step Results, a row wider than its header and a
 * long number that needs the strtod fallback (and its C locale). */
static const char sample[] =
    "*** General Infos ***\t\t\n"
    "Version\tDate\tSample Rate (Hz)\n"
    "9\t2024-05-08:18:20:57\t100\n"
    "\t\t\n"
    "*** Control Box Datas ***\n"
    "BOX Name\tBOX Type\n"
    "\n\n"
    "BOX Type\tBOX Firmware Version\n"
    "X\tCB\tV 3.2.2.1\n"
    "\t\n"
    "*** Head Datas ***\n"
    "Head Name\tHead Global Counter\tHead Local Counter 1\n"
    "17070141\t753\t55\n"
    "Weight\tTCP X\n"
    "-0.001\t-0.001\n"
    "\t\n"
    "*** Program ***\n"
    "Step Nb\tStep On/Off\tStroke (mm)\tStroke Limit (A)Thrust Limit (A)\t"
    "Torque Limit (A)\n"
    "1,000\t1,000\t8,500\t0\t0\t0\n"
    "\t\n"
    "*** Step Results ***\n"
    "Step Number\tStop Code\tM1 No Load Amp\n"
    "1,000\t64,000\t5,078\n"
    "\t\n"
    "*** Datas ***\n"
    "Position (mm)\tI Torque (A)\tI Thrust (A)\tStep (nb)\n"
    "-0,673\t-0,049\t0,012\t1,000\n"
    "-0,70000000000000000001\t1,5\t0,1\t1,000\t7\n"
    "-0,800\t1,6\t0,2\t1,000\n";
#endif

static void test_setitec_oom_parse(void **state)
{
#if OOM_SKIP
	(void)state;
	skip();
#else
	struct abyss_setitec *f;
	struct abyss_diag d;
	long n, total;
	int rc;

	(void)state;
	if (!interposed())
		skip();
	arm(-1); /* count the allocations of a run that succeeds */
	assert_int_equal(
	    abyss_setitec_parse(sample, sizeof(sample) - 1, NULL, &f, &d), 0);
	abyss_setitec_free(f);
	disarm();
	total = nalloc;
	assert_int_equal(live, 0);
	for (n = 0; n < total; n++) {
		f = (struct abyss_setitec *)1;
		arm(n);
		rc = abyss_setitec_parse(sample, sizeof(sample) - 1, NULL, &f,
					 &d);
		if (rc == 0)
			abyss_setitec_free(f);
		disarm();
		if (rc != 0 && rc != ABYSS_ENOMEM)
			fail_msg("allocation %ld failed: got %s, %s", n,
				 abyss_errname(rc), d.msg);
		if (rc)
			assert_null(f);
		if (live != 0)
			fail_msg("allocation %ld failed: %ld blocks leaked", n,
				 live);
	}
	printf("  %ld allocations, each failed once\n", n);
	assert_true(n >= 5);
#endif
}

static void test_setitec_oom_hole(void **state)
{
#if OOM_SKIP
	(void)state;
	skip();
#else
	struct abyss_setitec *f = NULL;
	struct abyss_hole h;
	int rc;

	(void)state;
	if (!interposed())
		skip();
	assert_int_equal(
	    abyss_setitec_parse(sample, sizeof(sample) - 1, NULL, &f, NULL), 0);
	abyss_hole_init(&h);
	arm(0);
	rc = abyss_hole_from_setitec(f, &h, NULL);
	disarm();
	assert_int_equal(rc, ABYSS_ENOMEM);
	assert_int_equal(h.n, 0);
	assert_int_equal(live, 0);
	assert_int_equal(abyss_hole_from_setitec(f, &h, NULL), 0);
	assert_int_equal(h.n, 3);
	assert_int_equal(h.nsteps, 1);
	assert_true(h.steps[0].torque_empty_a == 5.078);
	abyss_hole_free(&h);
	abyss_setitec_free(f);
#endif
}

static void test_setitec_oom_load(void **state)
{
#if OOM_SKIP
	(void)state;
	skip();
#else
	const char *p = data_path("abyss/test_data/MDB/"
				  "17070141_17070141_ST_753_55.xls");
	char path[4096];
	struct abyss_setitec *f;
	struct abyss_diag d;
	long n, total;
	int rc;

	(void)state;
	if (!interposed())
		skip();
	REQUIRE_DATA(p);
	snprintf(path, sizeof(path), "%s", p);
	arm(-1);
	assert_int_equal(abyss_setitec_load(path, NULL, &f, &d), 0);
	abyss_setitec_free(f);
	disarm();
	total = nalloc;
	for (n = 0; n < total; n++) {
		f = NULL;
		arm(n);
		rc = abyss_setitec_load(path, NULL, &f, &d);
		if (rc == 0)
			abyss_setitec_free(f);
		disarm();
		/* stdio survives a failed buffer allocation (unbuffered) */
		if (rc != 0 && rc != ABYSS_ENOMEM)
			fail_msg("allocation %ld failed: got %s, %s", n,
				 abyss_errname(rc), d.msg);
		if (rc)
			assert_null(f);
		assert_int_equal(live, 0);
	}
	printf("  %ld allocations in load, each failed once\n", n);
	assert_true(n >= 4);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_setitec_oom_parse),
	    cmocka_unit_test(test_setitec_oom_hole),
	    cmocka_unit_test(test_setitec_oom_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
