/*
 * test_setitec.c - the Setitec parser on real files of every variant
 * (../shared/data), the number reader, the hole mapping and its agreement
 * with the MQTT messages of the same holes. Corrupted and hostile inputs
 * are in test_setitec_corrupt.c.
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "abyss/hole.h"
#include "abyss/setitec.h"

static struct abyss_setitec *load(const char *rel)
{
	const char *p = data_path(rel);
	struct abyss_setitec *f = NULL;
	struct abyss_diag d;
	char msg[1200];
	int rc;

	if (!p)
		return NULL;
	abyss_diag_init(&d);
	rc = abyss_setitec_load(p, NULL, &f, &d);
	if (rc)
		fail_msg("%s", abyss_diag_format(&d, msg, sizeof(msg)));
	return f;
}

#define LOAD_OR_SKIP(f, rel)                                                   \
	do {                                                                   \
		REQUIRE_DATA(data_path(rel));                                  \
		(f) = load(rel);                                               \
		assert_non_null(f);                                            \
	} while (0)

/* ---- every file under $ABYSS_DATA ---------------------------------------- */

struct walk {
	size_t xls, curve, notsetitec, samples;
};

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && strcmp(s + n - m, suf) == 0;
}

static void check_one(const char *path, struct walk *w)
{
	struct abyss_setitec *f = NULL;
	struct abyss_diag d;
	struct abyss_hole h;
	char msg[1200];
	int rc;

	abyss_diag_init(&d);
	rc = abyss_setitec_load(path, NULL, &f, &d);
	if (has_suffix(path, ".xls")) {
		if (rc)
			fail_msg("%s", abyss_diag_format(&d, msg, sizeof(msg)));
		assert_true(f->has_metadata);
		assert_true(
		    f->general.version == 4 || f->general.version == 7 ||
		    f->general.version == 8 || f->general.version == 9 ||
		    f->general.version == 11);
		assert_true(f->nsamples > 0);
		abyss_hole_init(&h);
		rc = abyss_hole_from_setitec(f, &h, &d);
		if (rc)
			fail_msg("%s", abyss_diag_format(&d, msg, sizeof(msg)));
		assert_int_equal(h.n, f->nsamples);
		assert_true(h.position_mm[0] < 0);
		assert_true(h.machine_id[0] != '\0');
		assert_true(h.result_id[0] != '\0');
		w->xls++;
		w->samples += h.n;
		abyss_hole_free(&h);
	} else if (strstr(path, "MQTT_Curve_Info")) {
		/* a Datas-only ;-CSV: parsed, documented in the format page */
		if (rc)
			fail_msg("%s", abyss_diag_format(&d, msg, sizeof(msg)));
		assert_false(f->has_metadata);
		assert_int_equal(f->separator, ';');
		assert_true(f->nsamples > 1000);
		w->curve++;
	} else {
		if (rc != ABYSS_ENOTSETITEC)
			fail_msg("%s: expected ABYSS_ENOTSETITEC, got %s", path,
				 abyss_errname(rc));
		assert_true(d.line == 1);
		assert_true(strlen(d.msg) > 20);
		w->notsetitec++;
	}
	abyss_setitec_free(f);
}

static void walk_dir(const char *dir, struct walk *w, int depth)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	char path[4096];
	struct stat st;

	assert_non_null(dp);
	assert_true(depth < 20);
	while ((e = readdir(dp)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			walk_dir(path, w, depth + 1);
		else if (S_ISREG(st.st_mode))
			check_one(path, w);
	}
	closedir(dp);
}

static void test_setitec_every_data_file(void **state)
{
	const char *root = data_path("abyss");
	char dir[4096];
	struct walk w = {0, 0, 0, 0};

	(void)state;
	REQUIRE_DATA(root);
	snprintf(dir, sizeof(dir), "%s/..", root);
	walk_dir(dir, &w, 0);
	printf("  %zu .xls files (%zu samples), %zu Curve Info CSVs, %zu "
	       "other files rejected\n",
	       w.xls, w.samples, w.curve, w.notsetitec);
	assert_true(w.xls >= 700);
	assert_true(w.curve >= 2);
	assert_true(w.notsetitec >= 10);
}

/* ---- one row per variant: figures from original-system.md §2.3, §3.6, §6
 * and checked with awk on the files ---------------------------------- */

static void test_setitec_variant_table(void **state)
{
	static const struct {
		const char *rel;
		int version;
		size_t nsamples, ncolumns, nprogram, nstep_results;
		double first, last;
		const char *firmware;
	} v[] = {
	    {"abyss/test_data/TUHH/009_V9/V9_001.xls", 4, 571, 12, 5, 0, -0.912,
	     -25.027, "V 3.1.2"},
	    {"abyss/test_data/UNK/E00401008506DBD6_ST00234275_ST_27917_11978."
	     "xls",
	     7, 936, 11, 4, 4, -2.938, -49.982, "V 3.1.5.5"},
	    {"abyss/test_data/UNK/MQTT_to_XLS_17070144_30221.xls", 9, 1800, 9,
	     5, 4, -0.671, -26.748, "V 3.2.2.1"},
	    {"abyss/test_data/UNK/2312041_23120041_ST_1378_95.xls", 9, 2391, 9,
	     4, 4, -0.637, -34.954, "V 3.2.2.1"},
	    {"abyss/src/abyss/test_data/data_20250326/"
	     "17070141_17070141_ST_59_55.xls",
	     9, 1860, 9, 4, 4, -0.642, -32.211, "V 3.2.2.1"},
	    {"abyss/src/abyss/test_data/"
	     "setitecgabriele_E00401009F45BACA_114-V3-003-MQ_ST_417_7.xls",
	     9, 9697, 9, 4, 3, -0.544, -44.25, "V 3.2.2.1"},
	    {"abyss/src/abyss/dev_data/mdb-mql-1/"
	     "E00401009F45C395_114-V3-002-MQ_ST_1874_1.xls",
	     9, 8366, 9, 4, 3, -0.551, -36.651, "V 3.2.2.1"},
	    {"abyss/test_data/MDB/17070143_17070143_ST_885_99.xls", 9, 2308, 9,
	     5, 4, -0.642, -31.865, "V 3.2.2.1"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct abyss_setitec *f;
		const double *pos;
		LOAD_OR_SKIP(f, v[i].rel);
		assert_int_equal(f->general.version, v[i].version);
		assert_int_equal(f->nsamples, v[i].nsamples);
		assert_int_equal(f->ncolumns, v[i].ncolumns);
		assert_int_equal(f->nprogram, v[i].nprogram);
		assert_int_equal(f->nstep_results, v[i].nstep_results);
		assert_string_equal(f->box.firmware, v[i].firmware);
		pos = abyss_setitec_column(f, "Position (mm)");
		assert_true(pos[0] == v[i].first);
		assert_true(pos[f->nsamples - 1] == v[i].last);
		abyss_setitec_free(f);
	}
}

/* ---- v9: MDB ----------------------------------------------------------- */

static void test_setitec_v9_mdb_values(void **state)
{
	struct abyss_setitec *f;
	const double *pos, *tq;
	const struct abyss_setitec_section *s;

	(void)state;
	LOAD_OR_SKIP(f, "abyss/test_data/MDB/17070141_17070141_ST_753_55.xls");
	assert_int_equal(f->general.version, 9);
	assert_string_equal(f->general.date, "2024-05-08:18:20:57");
	assert_true(f->general.unix_time == 1715192457.0);
	assert_true(f->general.sample_rate_hz == 100.0);
	assert_string_equal(f->general.cycle_id, "2764767930");
	assert_string_equal(f->general.decimal_separator, "Comma");
	assert_string_equal(f->box.firmware, "V 3.2.2.1");
	assert_true(f->box.lub_pump_coef == 1.0); /* " 1,000" */
	assert_string_equal(f->box.pset_default_selection, "FALSE");
	/* "Light_EDU\0" in the file: the NUL is dropped */
	assert_string_equal(f->motor.name, "Light_EDU");
	assert_string_equal(f->motor.type, "L_EDU");
	ASSERT_NEAR(f->motor.m2_ratio, 21.923, 1e-12);
	assert_string_equal(f->head.name, "17070141");
	assert_string_equal(f->head.global_counter, "753");
	assert_int_equal(f->head.global_counter_n, 753);
	assert_int_equal(f->head.local_counter_1, 55);
	assert_int_equal(f->head.local_counter_2, 154);
	assert_true(f->head.micropeck_osc == 5.0);
	assert_string_equal(f->pset.number, "0");
	assert_true(f->cycle.max_cycles_1 == 100.0);
	ASSERT_NEAR(f->cycle.retract_feed, 13.684, 1e-12);
	assert_true(f->cycle.lub_preload_flow == 30.0);
	assert_string_equal(f->cycle.comment, "");
	ASSERT_NEAR(f->results.cycle_time_s, 28.41, 1e-12);
	assert_int_equal(f->results.cycle_ok, 1);

	assert_int_equal(f->nprogram, 4);
	assert_int_equal(f->program[1].step, 1);
	assert_int_equal(f->program[1].on, 1);
	assert_true(f->program[1].stroke_mm == 8.5);
	assert_true(f->program[1].rpm == 4000.0);
	assert_true(f->program[1].torque_max_a == 8.0);
	assert_true(f->program[2].torque_min_a == 2.0);
	assert_true(f->program[2].feed_mm_s == 0.75);
	assert_true(f->program[2].lub_air == 6.0);

	assert_int_equal(f->nstep_results, 4);
	assert_int_equal(f->step_results[0].stop_code, 1);
	assert_int_equal(f->step_results[1].stop_code, 64);
	assert_int_equal(f->step_results[2].stop_code, 2048);
	assert_int_equal(f->step_results[3].stop_code, 8);
	assert_string_equal(f->step_results[2].stop_names, "TORQUE_MIN");
	assert_string_equal(f->step_results[1].stop_names, "STROKE_LIMIT");
	ASSERT_NEAR(f->step_results[2].m1_max_a, 52.295, 1e-12);

	assert_int_equal(f->nsamples, 2039);
	assert_int_equal(f->ncolumns, 9);
	assert_string_equal(f->columns[7].name, "Torque Power (W)");
	pos = abyss_setitec_column(f, "Position (mm)");
	tq = abyss_setitec_column(f, "I Torque (A)");
	assert_non_null(pos);
	assert_true(pos[0] == -0.673);
	assert_true(pos[f->nsamples - 1] == -32.029);
	assert_true(tq[0] == -0.049);
	assert_null(abyss_setitec_column(f, "No such column"));

	/* generic view: sections in order, sub-tables of Cycle Parameters */
	assert_int_equal(f->nsections, 10);
	assert_string_equal(f->sections[0].title, "General Infos");
	assert_string_equal(f->sections[9].title, "Datas");
	s = abyss_setitec_section(f, "cycle parameters");
	assert_non_null(s);
	assert_int_equal(s->ntables, 4); /* main, Comment, breakage, lub */
	assert_string_equal(s->tables[1].names[0], "Comment");
	assert_int_equal(s->tables[1].nrows, 0);
	assert_string_equal(abyss_setitec_value(f, "Pset", "Pset Type"),
			    "Standard");
	abyss_setitec_free(f);
}

/* ---- v4: TUHH ---------------------------------------------------------- */

static void test_setitec_v4_split_header_and_inf(void **state)
{
	struct abyss_setitec *f;
	const struct abyss_setitec_section *s;

	(void)state;
	LOAD_OR_SKIP(f, "abyss/test_data/TUHH/001_V1/V1_001.xls");
	assert_int_equal(f->general.version, 4);
	/* the Control Box header cut by ~40 empty lines is joined, with the
	 * repeated "BOX Maintenance Date" once: 12 names for 12 values */
	s = abyss_setitec_section(f, "Control Box Datas");
	assert_int_equal(s->ntables, 1);
	assert_int_equal(s->tables[0].nnames, 12);
	assert_int_equal(s->tables[0].nrows, 1);
	assert_string_equal(f->box.name, "NI-sbRIO-9607-01e60d78");
	assert_string_equal(f->box.sn, "01E60D78");
	assert_string_equal(f->box.stse, ""); /* empty stays empty */
	assert_string_equal(f->box.customer_info, "");
	assert_string_equal(f->box.firmware, "V 3.1.2");
	assert_true(f->box.operation_time == 373.0);
	assert_true(f->box.lub_pump_coef == 1.0); /* "1.000" */
	ASSERT_NEAR(f->motor.m2_ratio, 21.923, 1e-12);
	assert_string_equal(f->head.name, "116-V3-012");
	assert_int_equal(f->head.local_counter_1, 1); /* "Head Local Counter" */
	assert_int_equal(f->head.local_counter_2, -1);
	/* "Pset n\xB0" (Latin-1) is UTF-8 in the API */
	assert_string_equal(f->sections[4].tables[0].names[1],
			    "Pset n\xC2\xB0");
	assert_string_equal(f->pset.number, "0");
	assert_true(f->cycle.max_cycles_1 == 300.0);
	assert_true(f->cycle.tool_breakage_on == 0.0);
	assert_int_equal(f->nprogram, 3);
	assert_true(isinf(f->program[0].feed_mm_rev));
	assert_int_equal(f->program[2].on, 1);
	assert_true(f->program[2].stroke_mm == 25.0); /* "DEP (mm)" */
	assert_true(f->program[2].feed_mm_s == 0.75); /* "AV (mm/s)" */
	assert_int_equal(f->nstep_results, 0);
	assert_int_equal(f->results.cycle_ok, -1);
	assert_int_equal(f->ncolumns, 12);
	assert_int_equal(f->nsamples, 3345);
	assert_true(abyss_setitec_column(f, "Rotation Speed (rpm)")[0] ==
		    -1052.798);
	assert_true(abyss_setitec_column(f, "Step (nb)")[0] == 2.0);
	abyss_setitec_free(f);
}

/* ---- v7: head sub-tables, dot decimals --------------------------------- */

static void test_setitec_v7_head_subtables(void **state)
{
	struct abyss_setitec *f;
	const struct abyss_setitec_section *s;
	double v;

	(void)state;
	LOAD_OR_SKIP(
	    f, "abyss/test_data/UNK/E0025C639508824D_P6TL-INT_ST_339_460.xls");
	assert_int_equal(f->general.version, 7);
	assert_string_equal(f->box.firmware, "V 3.1.5.3");
	assert_string_equal(f->head.tag_uid, "E0025C639508824D");
	s = abyss_setitec_section(f, "Head Datas");
	assert_int_equal(s->ntables, 3);
	assert_string_equal(s->tables[1].names[2], "Weight");
	assert_int_equal(
	    abyss_setitec_number(s->tables[1].rows[0].cells[2],
				 strlen(s->tables[1].rows[0].cells[2]), &v),
	    0);
	assert_true(v == -0.001);
	assert_int_equal(abyss_setitec_number(
			     abyss_setitec_cell(&s->tables[2], 0, 0),
			     strlen(abyss_setitec_cell(&s->tables[2], 0, 0)),
			     &v),
			 0);
	assert_true(v == 42949672.950);
	assert_int_equal(f->nstep_results, 2);
	assert_int_equal(f->step_results[0].stop_code, 4);
	assert_int_equal(f->step_results[1].stop_code, 2048);
	assert_int_equal(f->ncolumns, 11);
	assert_int_equal(f->nsamples, 390);
	assert_true(f->columns[0].values[0] == -2.812);
	abyss_setitec_free(f);
}

/* ---- v11: duplicated name, External Infos ------------------------------- */

static void test_setitec_v11_duplicate_gap_column(void **state)
{
	struct abyss_setitec *f;
	struct abyss_hole h;

	(void)state;
	LOAD_OR_SKIP(
	    f,
	    "abyss/src/abyss/test_data/E00401009F78AA43_41-Al_ST_1226_219.xls");
	assert_int_equal(f->general.version, 11);
	assert_int_equal(f->ncolumns, 10);
	assert_string_equal(f->columns[8].name, "Gap Length (mm)");
	assert_string_equal(f->columns[9].name, "Gap Length (mm)");
	assert_non_null(f->columns[8].values);
	assert_null(f->columns[9].values); /* 10 names, 9 values */
	assert_int_equal(f->nsamples, 1130);
	/* dwell at the bottom: the last three positions repeat */
	assert_true(f->columns[0].values[1129] == -12.016);
	assert_true(f->columns[0].values[1127] == -12.016);
	assert_false(isnan(f->results.consumption_wh));
	abyss_hole_init(&h);
	assert_int_equal(abyss_hole_from_setitec(f, &h, NULL), 0);
	assert_true(h.power_w[0] == abyss_setitec_column(f, "Power (W)")[0]);
	assert_false(isnan(h.gap_mm[0]));
	assert_string_equal(h.head_id, "E00401009F78AA43");
	abyss_hole_free(&h);
	abyss_setitec_free(f);
}

static void test_setitec_v11_external_infos(void **state)
{
	struct abyss_setitec *f;
	const struct abyss_setitec_table *t;

	(void)state;
	LOAD_OR_SKIP(f, "abyss/src/abyss/test_data/data_20241218/"
			"23120040_23120040_ST_2412_60.xls");
	t = f->external_infos;
	assert_non_null(t);
	assert_int_equal(t->nnames, 10);
	assert_string_equal(t->names[0], "00");
	assert_string_equal(t->names[9], "09");
	assert_string_equal(abyss_setitec_cell(t, 0, 0), "MSN11348");
	assert_string_equal(abyss_setitec_cell(t, 0, 1), "UseCaseFastening");
	assert_string_equal(abyss_setitec_cell(t, 0, 2), "SEQRH.Step.O'-31");
	assert_string_equal(abyss_setitec_cell(t, 0, 5), "");
	assert_string_equal(f->head.module_disable, "FALSE");
	assert_string_equal(f->motor.production_date, "01/01/2016");
	assert_int_equal(f->nsamples, 135);
	assert_int_equal(f->nsections, 11);
	abyss_setitec_free(f);
}

/* ---- files converted from MQTT ------------------------------------------ */

static void test_setitec_mqtt_converted_tab(void **state)
{
	struct abyss_setitec *f;
	const struct abyss_setitec_table *t;

	(void)state;
	LOAD_OR_SKIP(f, "abyss/test_data/UNK/MQTT_to_XLS_17070144_175.xls");
	assert_int_equal(f->general.version, 8);
	assert_true(f->general.unix_time == 1715853828.0); /* ...T10:03:48Z */
	assert_string_equal(f->box.stse, "");
	assert_string_equal(f->motor.name, "LightEDU");
	/* "Stroke Limit (A)Thrust Limit (A)" is split so 22 values have 22
	 * names and Torque Limit is not shifted */
	t = &abyss_setitec_section(f, "Program")->tables[0];
	assert_int_equal(t->nnames, 22);
	assert_string_equal(t->names[15], "Stroke Limit (A)");
	assert_string_equal(t->names[16], "Thrust Limit (A)");
	assert_string_equal(t->names[17], "Torque Limit (A)");
	assert_int_equal(f->nprogram, 2);
	assert_true(f->program[0].stroke_mm == 5.0);
	/* trailing empty names are padding: 9 columns for 9 values */
	assert_int_equal(f->ncolumns, 9);
	assert_int_equal(f->nsamples, 56);
	assert_int_equal(f->results.cycle_ok, 0);
	abyss_setitec_free(f);
}

static void test_setitec_semicolon_variant(void **state)
{
	struct abyss_setitec *f;
	size_t i, with_values = 0;

	(void)state;
	LOAD_OR_SKIP(f, "abyss/test_data/UNK/MQTT_to_XLS_17070141_798.xls");
	assert_int_equal(f->separator, ';');
	assert_int_equal(f->general.version, 8);
	/* the literal text \u0000 of a JSON round trip is dropped */
	assert_string_equal(f->motor.name, "Light_EDU");
	assert_true(f->box.lub_pump_coef == 1.0);
	assert_string_equal(f->head.global_counter, "798");
	assert_int_equal(f->ncolumns, 13);
	for (i = 0; i < f->ncolumns; i++)
		with_values += f->columns[i].values != NULL;
	assert_int_equal(with_values, 9);
	assert_int_equal(f->nsamples, 1924);
	assert_true(f->columns[0].values[0] == -0.654);
	assert_true(f->columns[3].values[0] == 4.639);
	assert_true(f->columns[0].values[1923] == -32.029);
	abyss_setitec_free(f);
}

static void test_setitec_semicolon_equals_tab_twin(void **state)
{
	struct abyss_setitec *a, *b;
	size_t i, j;

	(void)state;
	LOAD_OR_SKIP(a, "abyss/test_data/UNK/MQTT_to_XLS_17070141_798.xls");
	LOAD_OR_SKIP(b, "abyss/test_data/UNK/MQTT_to_XLS_17070141_798a.xls");
	assert_int_equal(a->nsamples, b->nsamples);
	for (j = 0; j < 7; j++)
		for (i = 0; i < a->nsamples; i++)
			assert_true(a->columns[j].values[i] ==
				    b->columns[j].values[i]);
	abyss_setitec_free(a);
	abyss_setitec_free(b);
}

/* ---- v8 with an empty Motor Name ---------------------------------------- */

static void test_setitec_v8_empty_cell_not_shifted(void **state)
{
	struct abyss_setitec *f;

	(void)state;
	LOAD_OR_SKIP(f,
		     "_sandbox/examples/data/17070143_17070143_ST_1092_1.xls");
	assert_int_equal(f->general.version, 8);
	assert_string_equal(f->sections[0].title, "General Infos");
	assert_string_equal(f->motor.name, "");
	assert_string_equal(f->motor.type, "L_EDU");
	assert_string_equal(f->motor.sn, "17070143");
	assert_string_equal(f->box.stse, "");
	assert_string_equal(f->box.release, "0");
	assert_string_equal(f->pset.number, "0");
	abyss_setitec_free(f);
}

/* ---- the hole mapping, and a file against its MQTT twin ----------------- */

/* Value of the first payload key containing `key` (as the original's
 * reduce_dict does). */
static json_t *payload_value(json_t *msg, const char *key)
{
	json_t *payload =
	    json_object_get(json_object_get(msg, "Messages"), "Payload");
	const char *k;
	json_t *v;

	json_object_foreach(payload, k, v)
	{
		if (strstr(k, key))
			return json_object_get(v, "Value");
	}
	return NULL;
}

static void check_pair(const char *xls, const char *dir, int cmp_result_id)
{
	struct abyss_setitec *f;
	struct abyss_hole h;
	char path[4096];
	json_t *res, *tr, *v, *pos;
	json_error_t je;
	char id[64];
	size_t i;

	f = load(xls);
	assert_non_null(f);
	abyss_hole_init(&h);
	assert_int_equal(abyss_hole_from_setitec(f, &h, NULL), 0);
	snprintf(path, sizeof(path), "%s/Result.json", data_path(dir));
	res = json_load_file(path, 0, &je);
	assert_non_null(res);
	snprintf(path, sizeof(path), "%s/Trace.json", data_path(dir));
	tr = json_load_file(path, 0, &je);
	assert_non_null(tr);

	v = payload_value(res, "ResultMetaData.SerialNumber");
	assert_non_null(v);
	if (json_is_integer(v))
		snprintf(id, sizeof(id), "%lld",
			 (long long)json_integer_value(v));
	else
		snprintf(id, sizeof(id), "%s", json_string_value(v));
	assert_string_equal(h.machine_id, id);
	if (cmp_result_id) {
		v = payload_value(res, "ResultMetaData.ResultId");
		snprintf(id, sizeof(id), "%lld",
			 (long long)json_integer_value(v));
		assert_string_equal(h.result_id, id);
	}
	pos = payload_value(tr, "PositionTrace.StepTraceContent[0].Values");
	if (!pos)
		pos = payload_value(tr, "PositionTrace");
	assert_non_null(pos);
	assert_int_equal(json_array_size(pos), h.n);
	for (i = 0; i < h.n; i++)
		ASSERT_NEAR(h.position_mm[i],
			    json_number_value(json_array_get(pos, i)), 1e-9);
	json_decref(res);
	json_decref(tr);
	abyss_hole_free(&h);
	abyss_setitec_free(f);
}

static void test_setitec_hole_matches_mqtt_twins(void **state)
{
	(void)state;
	REQUIRE_DATA(data_path("abyss/src/abyss/test_data/data0/Result.json"));
	check_pair("abyss/src/abyss/test_data/data0/"
		   "23120040_23120040_ST_2409_59.xls",
		   "abyss/src/abyss/test_data/data0", 1);
	check_pair("abyss/src/abyss/test_data/data_20241218/"
		   "23120040_23120040_ST_2412_60.xls",
		   "abyss/src/abyss/test_data/data1", 1);
	/* data2's ResultId (2409) was copied from data0, the file says 58 */
	check_pair("abyss/src/abyss/test_data/data_20250326/"
		   "17070141_17070141_ST_59_55.xls",
		   "abyss/src/abyss/test_data/data2", 0);
}

static void test_setitec_hole_fields(void **state)
{
	struct abyss_setitec *f;
	struct abyss_hole h;
	size_t i;

	(void)state;
	LOAD_OR_SKIP(f, "abyss/src/abyss/test_data/data0/"
			"23120040_23120040_ST_2409_59.xls");
	abyss_hole_init(&h);
	snprintf(h.source_name, sizeof(h.source_name), "kept");
	assert_int_equal(abyss_hole_from_setitec(f, &h, NULL), 0);
	assert_string_equal(h.source_name, "kept");
	assert_int_equal(h.source, ABYSS_SOURCE_SETITEC);
	assert_int_equal(h.float32_origin, 1);
	assert_int_equal(h.file_version, 11);
	assert_string_equal(h.machine_id, "23120040");
	assert_string_equal(h.result_id, "2409");
	assert_string_equal(h.head_id, "Light");
	assert_int_equal(h.local, 59);
	assert_false(isnan(h.timestamp_s));
	assert_int_equal(h.n, 492);
	assert_int_equal(abyss_hole_distinct_steps(&h), 2);
	assert_int_equal(h.nsteps, 2);
	assert_int_equal(h.steps[0].step, 1);
	assert_int_equal(h.steps[0].stop_code, 64);
	assert_int_equal(h.steps[1].stop_code, 8192);
	/* the MQTT Result says IntensityTorqueEmpty [5.225, 3.076] */
	assert_true(h.steps[0].torque_empty_a == 5.225);
	assert_true(h.steps[1].torque_empty_a == 3.076);
	assert_true(h.steps[1].thrust_empty_a == 0.188);
	ASSERT_NEAR(h.steps[1].duration_s, 4.69, 1e-12);
	assert_true(h.step[0] == 1 && h.step[h.n - 1] == 2);
	assert_int_equal(h.stop_code[h.n - 1], 8192);
	for (i = 0; i < h.n; i++)
		assert_false(isnan(h.power_w[i]));
	abyss_hole_free(&h);
	abyss_setitec_free(f);
}

static void test_setitec_hole_load_sets_source(void **state)
{
	const char *p = data_path("abyss/test_data/HAM_lower/"
				  "E00401006B6B2977_113-V3-022_ST_2193_63.xls");
	struct abyss_hole h;
	char path[4096];

	(void)state;
	REQUIRE_DATA(p);
	snprintf(path, sizeof(path), "%s", p);
	abyss_hole_init(&h);
	assert_int_equal(abyss_hole_load_setitec(path, NULL, &h, NULL), 0);
	assert_string_equal(h.source_name, path);
	assert_string_equal(h.machine_id, "113-V3-022");
	assert_string_equal(h.head_id, "E00401006B6B2977");
	/* controller clock not set: 1970-01-01:06:38:39 */
	assert_true(h.timestamp_s == 6 * 3600 + 38 * 60 + 39);
	assert_int_equal(h.n, 2737);
	abyss_hole_free(&h);
}

/* ---- numbers ------------------------------------------------------------ */

static double num(const char *s)
{
	double v = -12345.0;
	if (abyss_setitec_number(s, strlen(s), &v) != 0)
		return -999999.0;
	return v;
}

static void test_setitec_number_rules(void **state)
{
	double v;

	(void)state;
	assert_true(num("-0,673") == -0.673);
	assert_true(num(" 1,000") == 1.0);
	assert_true(num("6,000,000") == 6000.0); /* last comma is decimal */
	assert_true(num("1.000") == 1.0);
	assert_true(num("42949672.950") == 42949672.95);
	assert_true(num("100") == 100.0);
	assert_true(num("5,") == 5.0);
	assert_true(num(",5") == 0.5);
	assert_true(num("+2,5 ") == 2.5);
	assert_true(num("1e3") == 1000.0);
	assert_true(num("1,5E-2") == 0.015);
	assert_true(isinf(num("Inf")) && num("Inf") > 0);
	assert_true(isinf(num("-inf")) && num("-inf") < 0);
	assert_true(isinf(num("Infinity")));
	assert_true(isnan(num("NaN")));
	assert_true(num("-0,000") == 0.0 && signbit(num("-0,000")));
	assert_true(num("12345678901234567890123") == 1.2345678901234568e22);
	assert_true(num("0,1234567890123456789012345") ==
		    0.1234567890123456789012345);
	assert_int_equal(abyss_setitec_number("", 0, &v), ABYSS_EPARSE);
	assert_int_equal(abyss_setitec_number("  ", 2, &v), ABYSS_EPARSE);
	assert_int_equal(abyss_setitec_number("abc", 3, &v), ABYSS_EPARSE);
	assert_int_equal(abyss_setitec_number("1.000,5", 7, &v), ABYSS_EPARSE);
	assert_int_equal(abyss_setitec_number("1.2.3", 5, &v), ABYSS_EPARSE);
	assert_int_equal(abyss_setitec_number("True", 4, &v), ABYSS_EPARSE);
	assert_int_equal(abyss_setitec_number("1 2", 3, &v), ABYSS_EPARSE);
	assert_int_equal(abyss_setitec_number("-", 1, &v), ABYSS_EPARSE);
	assert_int_equal(abyss_setitec_number("1e", 2, &v), ABYSS_EPARSE);
	assert_int_equal(abyss_setitec_number("Infx", 4, &v), ABYSS_EPARSE);
	assert_int_equal(abyss_setitec_number("1\t2", 3, &v), ABYSS_EPARSE);
	/* never reads past n: "12" of "123" */
	assert_int_equal(abyss_setitec_number("123", 2, &v), 0);
	assert_true(v == 12.0);
}

/* The fast path must equal strtod exactly (llm.c-style check against the
 * reference): random mantissas and decimal counts, comma and dot. */
static void test_setitec_number_matches_strtod(void **state)
{
	unsigned long long x = 88172645463325252ULL;
	char a[64], b[64];
	int i;

	(void)state;
	for (i = 0; i < 200000; i++) {
		unsigned long long m;
		int k, neg, len;
		double ref, got;
		char *comma;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		m = x % 100000000000000000ULL >> (x % 40);
		k = (int)(x >> 50) % 20;
		neg = (int)((x >> 45) & 1);
		len = snprintf(a, sizeof(a), "%s%llu", neg ? "-" : "", m);
		if (k > 0 && k < len - neg) {
			memmove(a + len - k + 1, a + len - k, (size_t)k + 1);
			a[len - k] = '.';
		}
		ref = strtod(a, NULL);
		assert_int_equal(abyss_setitec_number(a, strlen(a), &got), 0);
		if (got != ref)
			fail_msg("'%s': %.17g != strtod %.17g", a, got, ref);
		snprintf(b, sizeof(b), "%s", a);
		comma = strchr(b, '.');
		if (comma) {
			*comma = ',';
			assert_int_equal(
			    abyss_setitec_number(b, strlen(b), &got), 0);
			assert_true(got == ref);
		}
	}
}

/* The Datas loop has its own fast path: check it against strtod on many
 * random cells of every shape (short and long mantissas, comma and dot,
 * signs, leading spaces), in a last row with and without a final '\n'. */
static void test_setitec_datas_numbers_match_strtod(void **state)
{
	enum { ROWS = 4000, COLS = 5 };
	static char txt[ROWS * COLS * 32 + 256];
	static double ref[ROWS * COLS];
	unsigned long long x = 0x2545F4914F6CDD1DULL;
	struct abyss_setitec *f = NULL;
	struct abyss_diag d;
	size_t o, r, c, n;
	int pass;

	(void)state;
	for (pass = 0; pass < 2; pass++) {
		o = (size_t)snprintf(
		    txt, sizeof(txt),
		    "*** Datas ***\nPosition (mm)\tA\tB\tC\tD\n");
		for (r = 0; r < ROWS; r++) {
			for (c = 0; c < COLS; c++) {
				char num[40], clean[40];
				unsigned long long m;
				int k, len, neg;
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				m = x >> (x % 61);
				k = (int)((x >> 20) % 19);
				neg = (int)((x >> 40) & 1);
				len = snprintf(num, sizeof(num), "%llu", m);
				if (k >= len)
					k = len - 1;
				snprintf(clean, sizeof(clean), "%s%.*s.%s",
					 neg ? "-" : "", len - k, num,
					 num + len - k);
				ref[r * COLS + c] = strtod(clean, NULL);
				o += (size_t)snprintf(
				    txt + o, sizeof(txt) - o, "%s%s%.*s%c%s",
				    c ? "\t" : "",
				    (x >> 50) % 7 == 0 ? " " : "",
				    (int)strlen(clean) - k - 1, clean,
				    (x >> 53) & 1 ? ',' : '.', num + len - k);
			}
			o += (size_t)snprintf(txt + o, sizeof(txt) - o, "\n");
		}
		n = pass ? o - 1 : o; /* pass 1: no final line end */
		assert_int_equal(abyss_setitec_parse(txt, n, NULL, &f, &d), 0);
		assert_int_equal(f->nsamples, ROWS);
		for (r = 0; r < ROWS; r++)
			for (c = 0; c < COLS; c++)
				if (f->columns[c].values[r] !=
				    ref[r * COLS + c])
					fail_msg("row %zu col %zu: %.17g != "
						 "%.17g",
						 r, c, f->columns[c].values[r],
						 ref[r * COLS + c]);
		abyss_setitec_free(f);
	}
}

/* ---- abyss inspect (the binary built next to the tests) ----------------- */

static int run_cmd(const char *cmd, char *out, size_t n)
{
	FILE *pp = popen(cmd, "r");
	size_t got;

	if (!pp)
		return -1;
	got = fread(out, 1, n - 1, pp);
	out[got] = '\0';
	return pclose(pp);
}

static void test_setitec_inspect_cli(void **state)
{
	const char *p = data_path(
	    "abyss/src/abyss/test_data/data0/23120040_23120040_ST_2409_59.xls");
	const char *build = getenv("BUILD");
	static char out[1 << 20];
	char cmd[8192], bin[4096];
	json_t *o, *cols;
	json_error_t je;
	struct stat st;
	int rc;

	(void)state;
	REQUIRE_DATA(p);
	snprintf(bin, sizeof(bin), "%s/abyss", build ? build : "build");
	if (stat(bin, &st) != 0)
		skip();
	snprintf(cmd, sizeof(cmd), "%s inspect --json '%s'", bin, p);
	rc = run_cmd(cmd, out, sizeof(out));
	assert_int_equal(rc, 0);
	o = json_loads(out, 0, &je);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "version")), 11);
	assert_int_equal(json_integer_value(json_object_get(o, "samples")),
			 492);
	assert_true(json_real_value(json_object_get(o, "duration_s")) == 4.92);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(o, "step_results"), 1),
		"stop_names")),
	    "STROKE_MAX");
	cols = json_object_get(o, "columns");
	assert_int_equal(json_array_size(cols), 10);
	assert_true(json_real_value(json_object_get(json_array_get(cols, 0),
						    "max")) == -0.706);
	json_decref(o);

	snprintf(cmd, sizeof(cmd), "%s inspect '%s'", bin, p);
	assert_int_equal(run_cmd(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "STROKE_LIMIT"));
	assert_non_null(strstr(out, "samples:   492 at 100 Hz = 4.92 s"));

	/* errors: file:line:col: message on stderr, exit 3 */
	snprintf(cmd, sizeof(cmd), "%s inspect /nonexistent.xls 2>&1", bin);
	rc = run_cmd(cmd, out, sizeof(out));
	assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 3);
	assert_non_null(strstr(out, "/nonexistent.xls: cannot open"));
	snprintf(cmd, sizeof(cmd), "%s inspect 2>/dev/null", bin);
	rc = run_cmd(cmd, out, sizeof(out));
	assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
	snprintf(cmd, sizeof(cmd), "%s inspect --help", bin);
	assert_int_equal(run_cmd(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "--json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_setitec_every_data_file),
	    cmocka_unit_test(test_setitec_variant_table),
	    cmocka_unit_test(test_setitec_v9_mdb_values),
	    cmocka_unit_test(test_setitec_v4_split_header_and_inf),
	    cmocka_unit_test(test_setitec_v7_head_subtables),
	    cmocka_unit_test(test_setitec_v11_duplicate_gap_column),
	    cmocka_unit_test(test_setitec_v11_external_infos),
	    cmocka_unit_test(test_setitec_mqtt_converted_tab),
	    cmocka_unit_test(test_setitec_semicolon_variant),
	    cmocka_unit_test(test_setitec_semicolon_equals_tab_twin),
	    cmocka_unit_test(test_setitec_v8_empty_cell_not_shifted),
	    cmocka_unit_test(test_setitec_hole_matches_mqtt_twins),
	    cmocka_unit_test(test_setitec_hole_fields),
	    cmocka_unit_test(test_setitec_hole_load_sets_source),
	    cmocka_unit_test(test_setitec_number_rules),
	    cmocka_unit_test(test_setitec_number_matches_strtod),
	    cmocka_unit_test(test_setitec_datas_numbers_match_strtod),
	    cmocka_unit_test(test_setitec_inspect_cli),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
