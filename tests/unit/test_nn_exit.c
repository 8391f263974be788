/* test_nn_exit.c - the original exit pipeline (original-system.md 4.4)
 * against $ABYSS_VECTORS/patchtsmixer/pipeline: raw samples -> organised
 * and scaled tables -> windows -> model outputs -> heat -> t*, exit_j and
 * the exit, with the tolerances of its result.json; and the reference CSV
 * reader. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/hole.h"
#include "abyss/load.h"
#include "abyss/nn.h"
#include "abyss/safetensors.h"

static struct abyss_st_file *open_vec(const char *rel)
{
	const char *p = vectors_path(rel);
	struct abyss_st_file *f = NULL;

	if (!p)
		return NULL;
	assert_int_equal(abyss_st_open(p, NULL, &f, NULL), 0);
	return f;
}

static float *get_f32(const struct abyss_st_file *f, const char *name,
		      size_t *n)
{
	const struct abyss_st_tensor *t = abyss_st_find(f, name);
	float *v;

	assert_non_null(t);
	v = malloc(t->nelem * sizeof(float));
	assert_non_null(v);
	assert_int_equal(abyss_st_read_f32(t, v, t->nelem), 0);
	if (n)
		*n = t->nelem;
	return v;
}

static double *get_f64(const struct abyss_st_file *f, const char *name,
		       size_t *n)
{
	const struct abyss_st_tensor *t = abyss_st_find(f, name);
	double *v;

	assert_non_null(t);
	v = malloc(t->nelem * sizeof(double));
	assert_non_null(v);
	assert_int_equal(abyss_st_read_f64(t, v, t->nelem), 0);
	if (n)
		*n = t->nelem;
	return v;
}

/* The raw columns as the hole record holds them (double, int32 steps). */
static size_t load_raw(const struct abyss_st_file *raw, double **pos,
		       int32_t **step, double **tq)
{
	size_t n, i;
	float *p = get_f32(raw, "position", &n),
	      *s = get_f32(raw, "step", NULL),
	      *t = get_f32(raw, "torque", NULL);

	*pos = malloc(n * sizeof(double));
	*tq = malloc(n * sizeof(double));
	*step = malloc(n * sizeof(int32_t));
	assert_non_null(*pos);
	assert_non_null(*tq);
	assert_non_null(*step);
	for (i = 0; i < n; i++) {
		(*pos)[i] = p[i];
		(*tq)[i] = t[i];
		(*step)[i] = (int32_t)s[i];
	}
	free(p), free(s), free(t);
	return n;
}

static double *load_ref(size_t *rows)
{
	const char *p = vectors_path("patchtsmixer/pipeline/ref_standin.csv");
	double *tab = NULL;
	struct abyss_diag d;
	size_t len;
	char *buf;

	if (!p)
		return NULL;
	buf = read_file(p, &len);
	assert_non_null(buf);
	abyss_diag_init(&d);
	if (abyss_exit_ref_parse(buf, len, 0, &tab, rows, &d))
		fail_msg("ref csv: %zu:%zu %s", d.line, d.col, d.msg);
	free(buf);
	return tab;
}

static void test_nn_exit_ref_csv(void **state)
{
	const char *ok = "torque1,torque2,torque3,torque4,torque5,torque6,"
			 "torque7,torque8,torque9,torque10,torque11,torque12,"
			 "torque13,torque14,torque15\n"
			 "0.0,1,2,3,4,5,6,7,8,9,10,11,12,13,-0.049\r\n\n"
			 "1e-3,1,2,3,4,5,6,7,8,9,10,11,12,13,14";
	const char *bad[] = {
	    "torque1,torque2\n",
	    "torque1,torque2,torque3,torque4,torque5,torque6,torque7,torque8,"
	    "torque9,torque10,torque11,torque12,torque13,torque14,torque15\n"
	    "0,1,2\n",
	    "torque1,torque2,torque3,torque4,torque5,torque6,torque7,torque8,"
	    "torque9,torque10,torque11,torque12,torque13,torque14,torque15\n"
	    "0,1,2,3,4,5,6,7,8,9,10,11,12,13,x4\n",
	    "torque1,torque2,torque3,torque4,torque5,torque6,torque7,torque8,"
	    "torque9,torque10,torque11,torque12,torque13,torque14,torque15\n"
	    "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n",
	};
	struct abyss_diag d;
	double *t = NULL;
	size_t rows, i;
	size_t rows_ref = 0;
	double *ref;

	(void)state;
	abyss_diag_init(&d);
	assert_int_equal(abyss_exit_ref_parse(ok, strlen(ok), 0, &t, &rows, &d),
			 0);
	assert_int_equal(rows, 2);
	assert_true(t[14] == -0.049);
	assert_true(t[15] == 1e-3);
	free(t);
	assert_int_equal(abyss_exit_ref_parse(ok, strlen(ok), 1, &t, &rows, &d),
			 ABYSS_ETOOBIG);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		abyss_diag_init(&d);
		assert_int_equal(abyss_exit_ref_parse(bad[i], strlen(bad[i]), 0,
						      &t, &rows, &d),
				 ABYSS_EPARSE);
		assert_true(d.line >= 1 && d.col >= 1);
	}
	ref = load_ref(&rows_ref);
	if (ref) {
		assert_int_equal(rows_ref, 538);
		free(ref);
	}
}

/* Steps a-c against the stored tables. */
static void test_nn_exit_tables(void **state)
{
	struct abyss_st_file *raw =
	    open_vec("patchtsmixer/pipeline/raw.safetensors");
	struct abyss_st_file *tab;
	struct abyss_exit_tables t;
	struct abyss_diag d;
	float *org;
	double *pos, *tq;
	int32_t *step;
	double *ext, *mean, *scale, *ref, worst = 0.0, maxref = 0.0;
	size_t n, rows, i, c, ne;
	static const int org_cols[20] = {0,  1,	 2,  3,	 4,  5,	 6,
					 7,  8,	 9,  10, 11, 12, 13,
					 14, 25, 24, 21, 22, 23};

	(void)state;
	REQUIRE_DATA(raw);
	tab = open_vec("patchtsmixer/pipeline/tables.safetensors");
	ref = load_ref(&rows);
	n = load_raw(raw, &pos, &step, &tq);
	abyss_diag_init(&d);
	assert_int_equal(
	    abyss_exit_tables(pos, step, tq, n, 0.0, 1, ref, rows, &t, &d), 0);
	assert_int_equal(t.n_step2, 1249);
	assert_int_equal(t.rows, 416);
	assert_int_equal(t.ext_rows, 1216);
	/* (a) organised: exact float32 copies (26 reference columns; the
	 * step and entry columns are not part of the model input) */
	org = get_f32(tab, "organised", NULL);
	for (i = 0; i < t.rows; i++)
		for (c = 0; c < 20; c++)
			if (t.organised[i * 20 + c] !=
			    org[i * 26 + org_cols[c]])
				fail_msg(
				    "organised[%zu][%zu] = %.9g, want %.9g", i,
				    c, t.organised[i * 20 + c],
				    org[i * 26 + org_cols[c]]);
	/* (b) scaler statistics and (c) extended table, 1e-12 relative */
	mean = get_f64(tab, "scaler_mean_f64", NULL);
	scale = get_f64(tab, "scaler_scale_f64", NULL);
	for (c = 0; c < 15; c++) {
		ASSERT_NEAR(t.mean[c], mean[c], 1e-12 * fabs(mean[c]) + 1e-300);
		ASSERT_NEAR(t.scale[c], scale[c], 1e-12 * fabs(scale[c]));
	}
	ext = get_f64(tab, "extended_f64", &ne);
	assert_int_equal(ne, t.ext_rows * 20);
	for (i = 0; i < ne; i++) {
		if (fabs(ext[i]) > maxref)
			maxref = fabs(ext[i]);
		if (fabs(t.extended[i] - ext[i]) > worst)
			worst = fabs(t.extended[i] - ext[i]);
	}
	print_message("  extended table max abs err %.3g (bound %.3g)\n", worst,
		      1e-12 * maxref);
	assert_true(worst <= 1e-12 * maxref);
	free(org), free(mean), free(scale), free(ext);
	free(pos), free(step), free(tq), free(ref);
	abyss_exit_tables_free(&t);
	abyss_st_close(raw);
	abyss_st_close(tab);
}

static double jnum(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	assert_true(json_is_number(v));
	return json_number_value(v);
}

/* Steps d-e window by window, then the whole estimate through the depth
 * estimator's bundle on a hole record, with the original/ weights. */
static void test_nn_exit_end_to_end(void **state)
{
	struct abyss_st_file *raw =
	    open_vec("patchtsmixer/pipeline/raw.safetensors");
	struct abyss_st_file *win;
	struct abyss_exit_tables t;
	struct abyss_exit_result res;
	struct abyss_ml_model *mm = NULL;
	struct abyss_nn_model *m;
	struct abyss_hole h;
	struct abyss_diag d;
	const char *mdir, *refp;
	char *dir, *refpath, path[4096];
	json_t *rj, *sug;
	float *wref, *oref, *href, *xref;
	float x[512 * 17], heat[512];
	double *pos, *tq, *ref, xp[512], werr = 0.0, oerr = 0.0, herr = 0.0,
					 otol, htol;
	int32_t *step;
	size_t n, rows, M, j, i;
	json_error_t je;

	(void)state;
	REQUIRE_DATA(raw);
	mdir = vectors_path("patchtsmixer/original/model.safetensors");
	REQUIRE_DATA(mdir);
	dir = strdup(mdir);
	*strrchr(dir, '/') = '\0';
	refp = vectors_path("patchtsmixer/pipeline/ref_standin.csv");
	REQUIRE_DATA(refp);
	refpath = strdup(refp);
	abyss_diag_init(&d);
	if (abyss_ml_model_load(dir, refpath, 8, &mm, &d))
		fail_msg("%s", d.msg);
	m = abyss_ml_model_nn(mm);
	win = open_vec("patchtsmixer/pipeline/windows.safetensors");
	snprintf(path, sizeof(path), "%s/../pipeline/result.json", dir);
	rj = json_load_file(path, 0, &je);
	assert_non_null(rj);
	sug = json_object_get(rj, "suggested_tolerances");
	otol = jnum(json_object_get(sug, "outputs"), "atol");
	htol = jnum(json_object_get(sug, "heat"), "atol");
	ref = load_ref(&rows);
	n = load_raw(raw, &pos, &step, &tq);
	assert_int_equal(
	    abyss_exit_tables(pos, step, tq, n, 0.0, 1, ref, rows, &t, &d), 0);
	assert_int_equal(abyss_exit_window_start(&t, &M, &d), 0);
	assert_int_equal(M, (size_t)jnum(rj, "max_index_M"));
	wref = get_f32(win, "windows", NULL);
	oref = get_f32(win, "outputs", NULL);
	href = get_f32(win, "heat", NULL);
	xref = get_f32(win, "window_xpos2", NULL);
	/* window by window, batch of 1 as the original (every 3rd window
	 * here; the estimate below runs all 40) */
	for (j = 0; j < 40; j += 3) {
		const float *y;
		size_t ts;

		abyss_exit_window(&t, M, (int)j, x, xp);
		for (i = 0; i < 512 * 17; i++) {
			float r = wref[j * 512 * 17 + i];
			double e = fabs(x[i] - r);

			assert_true(e <=
				    nextafterf(fabsf(r), INFINITY) - fabsf(r));
			if (e > werr)
				werr = e;
		}
		for (i = 0; i < 512; i++)
			assert_true(xp[i] == (double)xref[j * 512 + i]);
		assert_int_equal(abyss_nn_forward(m, x, 1, NULL), 0);
		y = abyss_nn_output(m, NULL);
		for (i = 0; i < 512 * 17; i++) {
			double e = fabs(y[i] - oref[j * 512 * 17 + i]);
			if (e > oerr)
				oerr = e;
		}
		ts = abyss_exit_readout(y, heat);
		for (i = 0; i < 512; i++) {
			double e = fabs(heat[i] - href[j * 512 + i]);
			if (e > herr)
				herr = e;
		}
		assert_int_equal(ts, (size_t)json_integer_value(json_array_get(
					 json_object_get(rj, "tstar"), j)));
	}
	/* the stored outputs read out bit for bit (numpy's pairwise order) */
	for (j = 0; j < 40; j++) {
		abyss_exit_readout(oref + j * 512 * 17, heat);
		assert_memory_equal(heat, href + j * 512, sizeof(heat));
	}
	print_message("  windows max err %.3g (<= 1 ulp), outputs %.3g (atol "
		      "%.3g), heat %.3g (atol %.3g)\n",
		      werr, oerr, otol, herr, htol);
	assert_true(oerr <= otol);
	assert_true(herr <= htol);
	/* the whole estimate from a hole record, batched by 8: t*, exit_j
	 * and the exit exact */
	abyss_hole_init(&h);
	{
		/* the real file through the Setitec parser when the data is
		 * there (it must give the raw columns of the reference),
		 * else a hole built from those columns */
		const char *xls = data_path(
		    "abyss/test_data/MDB/17070141_17070141_ST_753_55.xls");

		if (xls && abyss_hole_load(xls, &h, &d) == 0) {
			assert_int_equal(h.n, n);
			for (i = 0; i < n; i++) {
				/* the original's float32 auto_data */
				assert_true(h.float32_origin);
				assert_true((float)h.position_mm[i] == pos[i]);
				assert_true((float)h.torque_a[i] == tq[i]);
				assert_int_equal(h.step[i], step[i]);
			}
			print_message("  hole from %s\n", xls);
		} else {
			abyss_hole_free(&h);
			assert_int_equal(abyss_hole_alloc(&h, n, 0), 0);
			memcpy(h.position_mm, pos, n * sizeof(double));
			memcpy(h.torque_a, tq, n * sizeof(double));
			memcpy(h.step, step, n * sizeof(int32_t));
		}
	}
	/* infer3_xls(path, local=0, PREDRILLED=1) */
	h.local = 0;
	h.predrilled = 1;
	assert_int_equal(abyss_ml_exit(mm, &h, &res, &d), 0);
	assert_int_equal(res.M, M);
	for (j = 0; j < 40; j++) {
		json_t *ej = json_array_get(json_object_get(rj, "exit_j"), j);
		assert_true(res.exit_j[j] == json_number_value(ej));
	}
	assert_true(res.exit_j[39] == 0.0); /* peak in the padding */
	print_message("  exit %.17g mm (reference %.17g)\n", res.exit_mm,
		      jnum(json_object_get(rj, "exit_mm"), "value"));
	assert_true(res.exit_mm ==
		    jnum(json_object_get(rj, "exit_mm"), "value"));
	abyss_hole_free(&h);
	free(wref), free(oref), free(href), free(xref);
	free(pos), free(step), free(tq), free(ref), free(dir), free(refpath);
	json_decref(rj);
	abyss_exit_tables_free(&t);
	abyss_ml_model_free(mm);
	abyss_st_close(raw);
	abyss_st_close(win);
}

static void test_nn_exit_rejects_bad_input(void **state)
{
	double pos[6] = {1, 2, 3, 4, 5, 6}, tq[6] = {0};
	int32_t st[6] = {1, 1, 2, 2, 1, 1};
	struct abyss_exit_tables t;
	struct abyss_ml_model *mm = NULL;
	struct abyss_diag d;
	double ref[3 * 15];
	size_t M, i;

	(void)state;
	for (i = 0; i < 3 * 15; i++)
		ref[i] = 100.0;
	abyss_diag_init(&d);
	assert_int_equal(
	    abyss_exit_tables(pos, st, tq, 6, 0, 1, NULL, 0, &t, &d),
	    ABYSS_ENOSTEP);
	st[4] = 2;
	assert_int_equal(
	    abyss_exit_tables(pos, st, tq, 6, 0, 1, NULL, 0, &t, &d), 0);
	assert_int_equal(t.rows, 1);
	/* all-zero torque: scale 1; the peak is the hole's first row */
	assert_int_equal(abyss_exit_window_start(&t, &M, &d), 0);
	assert_int_equal(M, 400);
	abyss_exit_tables_free(&t);
	/* a hole far below its reference scales under -1: the first maximum
	 * is then padding row 0 and the windows would start before it */
	assert_int_equal(
	    abyss_exit_tables(pos, st, tq, 6, 0, 1, ref, 3, &t, &d), 0);
	assert_true(t.extended[400 * 20 + 7] < -1.0);
	assert_int_equal(abyss_exit_window_start(&t, &M, &d), ABYSS_ERANGE);
	abyss_exit_tables_free(&t);
	assert_int_equal(
	    abyss_exit_tables(NULL, st, tq, 6, 0, 1, NULL, 0, &t, &d),
	    ABYSS_EINVAL);
	/* a model of the wrong shape is refused by the bundle */
	{
		const char *p =
		    vectors_path("patchtsmixer/tiny/model.safetensors");
		char *dir;

		if (p) {
			dir = strdup(p);
			*strrchr(dir, '/') = '\0';
			assert_int_equal(
			    abyss_ml_model_load(dir, NULL, 1, &mm, &d),
			    ABYSS_ECONFIG);
			assert_null(mm);
			free(dir);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nn_exit_ref_csv),
	    cmocka_unit_test(test_nn_exit_tables),
	    cmocka_unit_test(test_nn_exit_end_to_end),
	    cmocka_unit_test(test_nn_exit_rejects_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
