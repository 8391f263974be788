/* test_safetensors.c - the safetensors reader on real reference files and
 * on hand-made corrupt headers (each placed against a guard page, so an
 * over-read crashes), and the writer's round trip. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abyss/safetensors.h"

/* Builds [u64 len][header][data] in a guarded buffer. */
static unsigned char *make_file(const char *header, const void *data,
				size_t dlen, size_t *len)
{
	size_t hl = strlen(header), n = 8 + hl + dlen, i;
	unsigned char *tmp = malloc(n), *g;

	assert_non_null(tmp);
	for (i = 0; i < 8; i++)
		tmp[i] = (unsigned char)((uint64_t)hl >> (8 * i));
	memcpy(tmp + 8, header, hl);
	if (dlen)
		memcpy(tmp + 8 + hl, data, dlen);
	g = guard_alloc(tmp, n);
	assert_non_null(g);
	free(tmp);
	*len = n;
	return g;
}

static int parse_hdr(const char *header, size_t dlen, struct abyss_diag *d)
{
	static const unsigned char zeros[256];
	struct abyss_st_file *f = NULL;
	size_t len;
	unsigned char *buf;
	int rc;

	assert_true(dlen <= sizeof(zeros));
	buf = make_file(header, zeros, dlen, &len);
	abyss_diag_init(d);
	rc = abyss_st_parse(buf, len, NULL, &f, d);
	if (rc == 0)
		abyss_st_close(f);
	else
		assert_null(f);
	guard_free(buf, len);
	return rc;
}

static void test_safetensors_reads_reference_file(void **state)
{
	const char *p = vectors_path("patchtsmixer/tiny/model.safetensors");
	struct abyss_st_file *f = NULL;
	const struct abyss_st_tensor *t;
	struct abyss_diag d;
	float w[32];
	size_t i;

	(void)state;
	REQUIRE_DATA(p);
	abyss_diag_init(&d);
	assert_int_equal(abyss_st_open(p, NULL, &f, &d), 0);
	assert_int_equal(abyss_st_count(f), 77);
	assert_string_equal(abyss_st_metadata(f, "format"), "pt");
	assert_null(abyss_st_metadata(f, "nope"));
	t = abyss_st_find(f, "model.encoder.patcher.weight");
	assert_non_null(t);
	assert_int_equal(t->dtype, ABYSS_ST_F32);
	assert_int_equal(t->ndim, 2);
	assert_int_equal(t->shape[0], 8);
	assert_int_equal(t->shape[1], 4);
	assert_int_equal(t->nelem, 32);
	assert_int_equal(abyss_st_read_f32(t, w, 32), 0);
	assert_int_equal(abyss_st_read_f32(t, w, 31), ABYSS_ESHAPE);
	for (i = 0; i < 32; i++)
		assert_true(isfinite(w[i]) && fabsf(w[i]) < 1.0f);
	/* name order */
	for (i = 1; i < abyss_st_count(f); i++)
		assert_true(strcmp(abyss_st_at(f, i - 1)->name,
				   abyss_st_at(f, i)->name) < 0);
	assert_null(abyss_st_at(f, 77));
	assert_null(abyss_st_find(f, "model.encoder"));
	abyss_st_close(f);
	abyss_st_close(NULL);
}

static void test_safetensors_reads_f64_tables(void **state)
{
	const char *p =
	    vectors_path("patchtsmixer/pipeline/tables.safetensors");
	struct abyss_st_file *f = NULL;
	const struct abyss_st_tensor *t;
	double *v;
	float *fv;

	(void)state;
	REQUIRE_DATA(p);
	assert_int_equal(abyss_st_open(p, NULL, &f, NULL), 0);
	t = abyss_st_find(f, "scaler_mean_f64");
	assert_non_null(t);
	assert_int_equal(t->dtype, ABYSS_ST_F64);
	assert_int_equal(t->nelem, 15);
	v = malloc(15 * sizeof(double));
	fv = malloc(15 * sizeof(float));
	assert_int_equal(abyss_st_read_f64(t, v, 15), 0);
	assert_int_equal(abyss_st_read_f32(t, fv, 15), 0);
	assert_true(fv[3] == (float)v[3]);
	free(v);
	free(fv);
	abyss_st_close(f);
}

static void test_safetensors_accepts_minimal(void **state)
{
	struct abyss_diag d;
	float one = 1.5f, got;
	struct abyss_st_file *f = NULL;
	size_t len;
	unsigned char *buf;

	(void)state;
	/* empty header object, no data */
	assert_int_equal(parse_hdr("{}", 0, &d), 0);
	assert_int_equal(parse_hdr("{\"__metadata__\":{}}  ", 0, &d), 0);
	/* a scalar (ndim 0) and a zero-size tensor */
	buf = make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[],"
			"\"data_offsets\":[0,4]},\"z\":{\"dtype\":\"F64\","
			"\"shape\":[0,3],\"data_offsets\":[4,4]}}",
			&one, 4, &len);
	assert_int_equal(abyss_st_parse(buf, len, NULL, &f, NULL), 0);
	assert_int_equal(abyss_st_count(f), 2);
	assert_int_equal(abyss_st_find(f, "a")->ndim, 0);
	assert_int_equal(abyss_st_find(f, "a")->nelem, 1);
	assert_int_equal(abyss_st_read_f32(abyss_st_find(f, "a"), &got, 1), 0);
	assert_true(got == 1.5f);
	assert_int_equal(abyss_st_find(f, "z")->nelem, 0);
	abyss_st_close(f);
	guard_free(buf, len);
}

static void expect_rc(const char *hdr, size_t dlen, int code,
		      const char *needle)
{
	struct abyss_diag d;
	int rc = parse_hdr(hdr, dlen, &d);

	if (rc != code)
		fail_msg("%s: got %s (%s), want %s", hdr, abyss_errname(rc),
			 d.msg, abyss_errname(code));
	if (needle && !strstr(d.msg, needle))
		fail_msg("diag '%s' lacks '%s'", d.msg, needle);
}

static void test_safetensors_rejects_corrupt_headers(void **state)
{
	(void)state;
	expect_rc("{\"w\":{\"dtype\":\"I64\",\"shape\":[1],"
		  "\"data_offsets\":[0,8]}}",
		  8, ABYSS_EDTYPE, "'w'");
	expect_rc("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],"
		  "\"data_offsets\":[0,8]}}",
		  8, ABYSS_ESHAPE, "'w'");
	/* past the end of the data */
	expect_rc("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],"
		  "\"data_offsets\":[0,16]}}",
		  8, ABYSS_ETRUNCATED, "'w'");
	/* a hole between tensors */
	expect_rc("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
		  "\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\","
		  "\"shape\":[1],\"data_offsets\":[8,12]}}",
		  12, ABYSS_EPARSE, "'b'");
	/* overlap */
	expect_rc("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
		  "\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\","
		  "\"shape\":[1],\"data_offsets\":[4,8]}}",
		  8, ABYSS_EPARSE, "contiguous");
	/* trailing bytes nobody owns */
	expect_rc("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
		  "\"data_offsets\":[0,4]}}",
		  8, ABYSS_EPARSE, "cover");
	/* reversed offsets, negative dims, wrong types */
	expect_rc("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
		  "\"data_offsets\":[4,0]}}",
		  4, ABYSS_EPARSE, "'a'");
	expect_rc("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],"
		  "\"data_offsets\":[0,4]}}",
		  4, ABYSS_EPARSE, "shape");
	expect_rc("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],"
		  "\"data_offsets\":[0,4]}}",
		  4, ABYSS_EPARSE, "shape");
	expect_rc("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, ABYSS_EPARSE,
		  "'a'");
	expect_rc("{\"a\":[1,2]}", 0, ABYSS_EPARSE, "'a'");
	expect_rc("{\"__metadata__\":[]}", 0, ABYSS_EPARSE, "__metadata__");
	/* element count overflow */
	expect_rc("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,"
		  "4294967296,4294967296],\"data_offsets\":[0,4]}}",
		  4, ABYSS_ETOOBIG, "'a'");
	expect_rc("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
		  "\"data_offsets\":[0,4]}}",
		  4, ABYSS_ETOOBIG, "dimensions");
	/* JSON errors carry a position; duplicates are refused */
	expect_rc("{\"a\":}", 0, ABYSS_EJSON, NULL);
	expect_rc("{\"a\":{},\"a\":{}}", 0, ABYSS_EJSON, NULL);
	expect_rc("[]", 0, ABYSS_EPARSE, NULL);
	expect_rc("", 0, ABYSS_EPARSE, NULL);
}

static void test_safetensors_rejects_bad_lengths(void **state)
{
	unsigned char raw[16] = {0xff, 0xff, 0xff, 0xff, 0xff,
				 0xff, 0xff, 0x7f, '{',	 '}'};
	struct abyss_st_limits lim = {64, 1, 8};
	struct abyss_st_file *f = NULL;
	struct abyss_diag d;
	unsigned char *g;
	size_t len;

	(void)state;
	abyss_diag_init(&d);
	g = guard_alloc(raw, 10);
	assert_int_equal(abyss_st_parse(g, 10, NULL, &f, &d), ABYSS_ETOOBIG);
	guard_free(g, 10);
	/* header length larger than the file */
	raw[0] = 100;
	memset(raw + 1, 0, 7);
	g = guard_alloc(raw, 10);
	assert_int_equal(abyss_st_parse(g, 10, NULL, &f, &d), ABYSS_ETRUNCATED);
	assert_int_equal(abyss_st_parse(g, 5, NULL, &f, &d), ABYSS_ETRUNCATED);
	guard_free(g, 10);
	/* configurable limits: tensor count, name length, header size */
	g = make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],"
		      "\"data_offsets\":[0,0]},\"b\":{\"dtype\":\"F32\","
		      "\"shape\":[0],\"data_offsets\":[0,0]}}",
		      NULL, 0, &len);
	lim.max_header_bytes = 1000;
	assert_int_equal(abyss_st_parse(g, len, &lim, &f, &d), ABYSS_ETOOBIG);
	lim.max_tensors = 2;
	assert_int_equal(abyss_st_parse(g, len, &lim, &f, &d), 0);
	abyss_st_close(f);
	lim.max_header_bytes = 16;
	assert_int_equal(abyss_st_parse(g, len, &lim, &f, &d), ABYSS_ETOOBIG);
	guard_free(g, len);
	assert_int_equal(
	    abyss_st_open("/nonexistent/x.safetensors", NULL, &f, &d),
	    ABYSS_ENOENT);
}

static void test_safetensors_write_roundtrip(void **state)
{
	char path[] = "/tmp/abyss_st_XXXXXX";
	float a[6] = {1, 2, 3, 4, 5, 6};
	double b[2] = {0.1, -2.5};
	struct abyss_st_entry e[3];
	struct abyss_st_file *f = NULL;
	const struct abyss_st_tensor *t;
	double bb[2];
	size_t len;
	char *raw;
	uint64_t hl = 0;
	int fd = mkstemp(path), i;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	memset(e, 0, sizeof(e));
	e[0].name = "zeta";
	e[0].dtype = ABYSS_ST_F32;
	e[0].ndim = 2;
	e[0].shape[0] = 2;
	e[0].shape[1] = 3;
	e[0].data = a;
	e[1].name = "alpha";
	e[1].dtype = ABYSS_ST_F64;
	e[1].ndim = 1;
	e[1].shape[0] = 2;
	e[1].data = b;
	e[2].name = "empty";
	e[2].dtype = ABYSS_ST_F32;
	e[2].ndim = 1;
	e[2].data = NULL;
	assert_int_equal(abyss_st_write(path, e, 3, NULL), 0);
	raw = read_file(path, &len);
	assert_non_null(raw);
	for (i = 0; i < 8; i++)
		hl |= (uint64_t)(unsigned char)raw[i] << (8 * i);
	assert_int_equal((8 + hl) % 8, 0);
	assert_int_equal(len, 8 + hl + 24 + 16);
	/* alphabetical data order: alpha (f64) first */
	assert_memory_equal(raw + 8 + hl, b, 16);
	assert_memory_equal(raw + 8 + hl + 16, a, 24);
	assert_non_null(
	    strstr(raw + 8, "\"__metadata__\":{\"format\":\"pt\"}"));
	free(raw);
	assert_int_equal(abyss_st_open(path, NULL, &f, NULL), 0);
	assert_int_equal(abyss_st_count(f), 3);
	t = abyss_st_find(f, "alpha");
	assert_int_equal(abyss_st_read_f64(t, bb, 2), 0);
	assert_memory_equal(bb, b, 16);
	t = abyss_st_find(f, "zeta");
	assert_int_equal(t->shape[1], 3);
	assert_memory_equal(t->data, a, 24);
	abyss_st_close(f);
	/* duplicate names are refused and nothing is written */
	e[2].name = "zeta";
	assert_int_equal(abyss_st_write(path, e, 3, NULL), ABYSS_EINVAL);
	e[2].name = "";
	assert_int_equal(abyss_st_write(path, e, 3, NULL), ABYSS_EINVAL);
	assert_int_equal(abyss_st_write("/nonexistent/dir/x", e, 2, NULL),
			 ABYSS_EIO);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_safetensors_reads_reference_file),
	    cmocka_unit_test(test_safetensors_reads_f64_tables),
	    cmocka_unit_test(test_safetensors_accepts_minimal),
	    cmocka_unit_test(test_safetensors_rejects_corrupt_headers),
	    cmocka_unit_test(test_safetensors_rejects_bad_lengths),
	    cmocka_unit_test(test_safetensors_write_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
