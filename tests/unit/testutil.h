/*
 * testutil.h - helpers shared by the cmocka unit tests.
 *
 * Real data lives outside the project ($ABYSS_DATA, default ../shared/data);
 * tests that need it call data_path() and skip when it is absent, saying so.
 */
#ifndef ABYSS_TESTUTIL_H
#define ABYSS_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* Full path of `rel` under $ABYSS_DATA in a static buffer, or NULL (with a
 * message on stderr) when the file does not exist. */
const char *data_path(const char *rel);
/* Same under $ABYSS_VECTORS (../shared/vectors). */
const char *vectors_path(const char *rel);

/* Skips the current test when p is NULL. */
#define REQUIRE_DATA(p)                                                        \
	do {                                                                   \
		if (!(p)) {                                                    \
			skip();                                                \
		}                                                              \
	} while (0)

/* Reads a whole file into a malloc'd buffer (NUL-terminated, not counted in
 * *len). Returns NULL on error. */
char *read_file(const char *path, size_t *len);

/* Copies len bytes so that they end exactly at a PROT_NONE guard page, to
 * catch any read past the end (picohttpparser). Free with guard_free. */
void *guard_alloc(const void *data, size_t len);
void guard_free(void *p, size_t len);

#define ASSERT_NEAR(a, b, tol)                                                 \
	do {                                                                   \
		double a__ = (a), b__ = (b);                                   \
		if (!(a__ - b__ <= (tol) && b__ - a__ <= (tol)))               \
			fail_msg("%s = %.9g, expected %.9g (tol %g)", #a, a__, \
				 b__, (double)(tol));                          \
	} while (0)

#endif
