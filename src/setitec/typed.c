/*
 * typed.c - the typed view of a parsed Setitec file: General Infos, Control
 * Box, Motor, Head, Pset, Cycle Parameters, Results, Program and Step
 * Results, read by header name from the generic sections (so a column that
 * moves between versions is still found, and a missing one is NaN or "").
 * Names that changed between format versions are looked up under each of
 * their spellings (v4 "DEP (mm)"/"AV (mm/s)", v8+ "Stroke (mm)"/"Feed ...").
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "setitec_internal.h"

/* Finds header `name` (exact; with prefix != 0, a case-insensitive prefix)
 * in any table of section `title`; returns the table and column. */
static const struct abyss_setitec_table *find_col(const struct abyss_setitec *f,
						  const char *title,
						  const char *name, int prefix,
						  size_t *col)
{
	const struct abyss_setitec_section *s = abyss_setitec_section(f, title);
	size_t i, j, n = strlen(name);

	if (!s)
		return NULL;
	for (i = 0; i < s->ntables; i++)
		for (j = 0; j < s->tables[i].nnames; j++) {
			const char *nm = s->tables[i].names[j];
			if (prefix ? strncasecmp(nm, name, n) == 0
				   : strcmp(nm, name) == 0) {
				*col = j;
				return &s->tables[i];
			}
		}
	return NULL;
}

/* Value of the first existing spelling (NULL-terminated list), or "". */
static const char *str_any(const struct abyss_setitec *f, const char *title,
			   const char *const *names)
{
	size_t col;
	const struct abyss_setitec_table *t;

	for (; *names; names++) {
		t = find_col(f, title, *names, 0, &col);
		if (t)
			return abyss_setitec_cell(t, 0, col);
	}
	return "";
}

static const char *str1(const struct abyss_setitec *f, const char *title,
			const char *name)
{
	const char *names[2] = {name, NULL};
	return str_any(f, title, names);
}

static double num_of(const char *s)
{
	double v;

	if (abyss_setitec_number(s, strlen(s), &v) != 0)
		return NAN;
	return v;
}

static double num1(const struct abyss_setitec *f, const char *title,
		   const char *name)
{
	return num_of(str1(f, title, name));
}

static int64_t int_of(const char *s)
{
	double v = num_of(s);

	if (!isfinite(v) || v < 0 || v > 9.0e15 || v != floor(v))
		return -1;
	return (int64_t)v;
}

static int bool_of(const char *s)
{
	if (strcasecmp(s, "true") == 0)
		return 1;
	if (strcasecmp(s, "false") == 0)
		return 0;
	return -1;
}

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant) */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

/* "YYYY-MM-DD:HH:MM:SS" (the drill), "YYYY-MM-DDTHH:MM:SSZ" (converted from
 * MQTT) or with a space; read as UTC because the file carries no zone. */
static double parse_date(const char *s)
{
	int y, mo, d, h, mi, se;
	size_t n = strlen(s);

	if (n < 19 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != ':' && s[10] != 'T' && s[10] != ' ') || s[13] != ':' ||
	    s[16] != ':')
		return NAN;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) ||
	    !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
	    !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
		return NAN;
	if (n > 19 && !(n == 20 && s[19] == 'Z'))
		return NAN;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    se > 60)
		return NAN;
	return (double)(days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
			h * 3600 + mi * 60 + se);
}

static const struct abyss_setitec_table *
table_with(const struct abyss_setitec *f, const char *title, const char *name)
{
	size_t col;
	return find_col(f, title, name, 0, &col);
}

static size_t col_any(const struct abyss_setitec_table *t,
		      const char *const *names)
{
	size_t j;

	for (; *names; names++)
		for (j = 0; j < t->nnames; j++)
			if (strcmp(t->names[j], *names) == 0)
				return j;
	return (size_t)-1;
}

static double row_num(const struct abyss_setitec_table *t, size_t r,
		      const char *n1, const char *n2)
{
	const char *names[3] = {n1, n2, NULL};
	size_t c = col_any(t, names);

	if (c == (size_t)-1)
		return NAN;
	return num_of(abyss_setitec_cell(t, r, c));
}

static int32_t to_i32(double v)
{
	if (!(v >= INT32_MIN && v <= INT32_MAX))
		return -1;
	return (int32_t)lround(v);
}

static int program(struct setitec__parser *p)
{
	struct abyss_setitec *f = p->f;
	const struct abyss_setitec_table *t =
	    table_with(f, "Program", "Step Nb");
	size_t r;

	if (!t || t->nrows == 0)
		return 0;
	f->program =
	    setitec__alloc(&p->pv->arena, t->nrows * sizeof(*f->program));
	if (!f->program)
		return ABYSS_ENOMEM;
	f->nprogram = t->nrows;
	for (r = 0; r < t->nrows; r++) {
		struct abyss_setitec_program_step *s = &f->program[r];
		double on = row_num(t, r, "Step On/Off", NULL);
		s->step = to_i32(row_num(t, r, "Step Nb", NULL));
		s->on = on == 1.0 ? 1 : 0;
		s->stroke_mm = row_num(t, r, "Stroke (mm)", "DEP (mm)");
		s->rpm = row_num(t, r, "RPM", NULL);
		s->feed_mm_s = row_num(t, r, "Feed (mm/s)", "AV (mm/s)");
		s->feed_mm_rev = row_num(t, r, "Feed (mm/tr)", "AV (mm/tr)");
		s->thrust_max_a = row_num(t, r, "Thrust Max (A)", NULL);
		s->torque_max_a = row_num(t, r, "Torque Max (A)", NULL);
		s->thrust_min_a = row_num(t, r, "Thrust Min (A)", NULL);
		s->torque_min_a = row_num(t, r, "Torque Min (A)", NULL);
		s->thrust_safety_a = row_num(t, r, "Thrust Safety (A)", NULL);
		s->torque_safety_a = row_num(t, r, "Torque Safety (A)", NULL);
		s->gap_mm = row_num(t, r, "Gap (mm)", NULL);
		s->peck = row_num(t, r, "Peck (nb)", NULL);
		s->delay_ms = row_num(t, r, "Delay (ms)", NULL);
		s->stroke_limit_a = row_num(t, r, "Stroke Limit (A)", NULL);
		s->thrust_limit_a = row_num(t, r, "Thrust Limit (A)", NULL);
		s->torque_limit_a = row_num(t, r, "Torque Limit (A)", NULL);
		s->lub_air = row_num(t, r, "LUB AIR", NULL);
		s->lub_flow = row_num(t, r, "LUB FLOW", NULL);
		s->vacuum = row_num(t, r, "Vacuum", NULL);
		s->material = row_num(t, r, "Material", NULL);
	}
	return 0;
}

static int step_results(struct setitec__parser *p)
{
	struct abyss_setitec *f = p->f;
	const struct abyss_setitec_table *t =
	    table_with(f, "Step Results", "Step Number");
	size_t r;
	char buf[512];

	if (!t || t->nrows == 0)
		return 0;
	f->step_results =
	    setitec__alloc(&p->pv->arena, t->nrows * sizeof(*f->step_results));
	if (!f->step_results)
		return ABYSS_ENOMEM;
	f->nstep_results = t->nrows;
	for (r = 0; r < t->nrows; r++) {
		struct abyss_setitec_step_result *s = &f->step_results[r];
		double sc = row_num(t, r, "Stop Code", NULL);
		char *names;
		size_t n;
		s->step = to_i32(row_num(t, r, "Step Number", NULL));
		s->stop_code =
		    (sc >= 0 && sc <= 4294967295.0) ? (uint32_t)llround(sc) : 0;
		abyss_stop_code_format(s->stop_code, buf, sizeof(buf));
		n = strlen(buf);
		names = setitec__alloc(&p->pv->arena, n + 1);
		if (!names)
			return ABYSS_ENOMEM;
		memcpy(names, buf, n + 1);
		s->stop_names = names;
		s->duration_s = row_num(t, r, "Duration (s)", NULL);
		s->distance_m1_mm = row_num(t, r, "Distance M1", NULL);
		s->distance_m2_mm = row_num(t, r, "Distance M2", NULL);
		s->m1_max_a = row_num(t, r, "M1 Max Amp", NULL);
		s->m2_max_a = row_num(t, r, "M2 Max Amp", NULL);
		s->m1_no_load_a = row_num(t, r, "M1 No Load Amp", NULL);
		s->m2_no_load_a = row_num(t, r, "M2 No Load Amp", NULL);
		s->gap_max_mm = row_num(t, r, "Gap Max (mm)", NULL);
	}
	return 0;
}

int setitec__typed(struct setitec__parser *p)
{
	struct abyss_setitec *f = p->f;
	static const char *const dec[] = {"Decimal Separator separator",
					  "Decimal Separator", NULL};
	static const char *const local1[] = {"Head Local Counter 1",
					     "Head Local Counter", NULL};
	static const char *const maxc1[] = {"Max cycles Limit 1", "Max cycles",
					    NULL};
	const struct abyss_setitec_section *ext;
	const struct abyss_setitec_table *pt;
	double v;
	size_t col;
	int rc;

	v = num1(f, "General Infos", "Version");
	f->general.version = (v >= 0 && v < 1e6) ? (int)v : 0;
	f->general.date = str1(f, "General Infos", "Date");
	f->general.unix_time = parse_date(f->general.date);
	f->general.sample_rate_hz =
	    num1(f, "General Infos", "Sample Rate (Hz)");
	f->general.cycle_id = str1(f, "General Infos", "Drilling Cycle ID");
	f->general.decimal_separator = str_any(f, "General Infos", dec);

	f->box.name = str1(f, "Control Box Datas", "BOX Name");
	f->box.type = str1(f, "Control Box Datas", "BOX Type");
	f->box.sn = str1(f, "Control Box Datas", "BOX SN");
	f->box.stse = str1(f, "Control Box Datas", "BOX STSE");
	f->box.customer_info =
	    str1(f, "Control Box Datas", "BOX Customer Info");
	f->box.release = str1(f, "Control Box Datas", "BOX Release");
	f->box.firmware = str1(f, "Control Box Datas", "BOX Firmware Version");
	f->box.production_date =
	    str1(f, "Control Box Datas", "BOX Production Date");
	f->box.maintenance_date =
	    str1(f, "Control Box Datas", "BOX Maintenance Date");
	f->box.operation_time =
	    num1(f, "Control Box Datas", "BOX Operation Time");
	f->box.power_supply_limit =
	    num1(f, "Control Box Datas", "BOX Power Supply Limit");
	f->box.lub_pump_coef =
	    num1(f, "Control Box Datas", "BOX Lub Pump Coef.");
	f->box.pset_default_selection =
	    str1(f, "Control Box Datas", "Pset Default Selection");

	f->motor.name = str1(f, "Motor Datas", "Motor Name");
	f->motor.type = str1(f, "Motor Datas", "Motor Type");
	f->motor.stse = str1(f, "Motor Datas", "Motor STSE");
	f->motor.sn = str1(f, "Motor Datas", "Motor SN");
	f->motor.operation_time =
	    num1(f, "Motor Datas", "Motor Operation Time");
	f->motor.m2_ratio = num1(f, "Motor Datas", "Motor M2 Ratio");
	f->motor.m1_cw_ratio = num1(f, "Motor Datas", "Motor M1 CW Ratio");
	f->motor.m1_ccw_ratio = num1(f, "Motor Datas", "Motor M1 CCW Ratio");
	f->motor.winch_limit = num1(f, "Motor Datas", "Motor Winch Limit");
	f->motor.production_date =
	    str1(f, "Motor Datas", "Motor Production Date");
	f->motor.maintenance_date =
	    str1(f, "Motor Datas", "Motor Maintenance Date");

	f->head.name = str1(f, "Head Datas", "Head Name");
	f->head.type = str1(f, "Head Datas", "Head Type");
	f->head.tag_uid = str1(f, "Head Datas", "Head TAG UID");
	f->head.global_counter = str1(f, "Head Datas", "Head Global Counter");
	f->head.global_counter_n = int_of(f->head.global_counter);
	f->head.local_counter_1 = int_of(str_any(f, "Head Datas", local1));
	f->head.local_counter_2 =
	    int_of(str1(f, "Head Datas", "Head Local Counter 2"));
	f->head.m1_ratio = num1(f, "Head Datas", "Head M1 Ratio");
	f->head.m2_ratio = num1(f, "Head Datas", "Head M2 Ratio");
	f->head.customer_info = str1(f, "Head Datas", "Customer Info");
	f->head.micropeck_osc = num1(f, "Head Datas", "Micropeck Osc.");
	f->head.micropeck_amplitude =
	    num1(f, "Head Datas", "Micropeck Amplitude");
	f->head.module_disable = str1(f, "Head Datas", "Module Disable");

	f->pset.type = str1(f, "Pset", "Pset Type");
	/* "Pset n°" (0xB0 in Latin-1), "Pset nï¿½" after a lossy
	 * re-encoding, "Pset Nb." from v8 on: one prefix covers all three */
	pt = find_col(f, "Pset", "Pset n", 1, &col);
	f->pset.number = pt ? abyss_setitec_cell(pt, 0, col) : "";
	f->pset.version = str1(f, "Pset", "Version");

	f->cycle.max_cycles_1 = num_of(str_any(f, "Cycle Parameters", maxc1));
	f->cycle.max_cycles_2 =
	    num1(f, "Cycle Parameters", "Max cycles Limit 2");
	f->cycle.cc_pressure = num1(f, "Cycle Parameters", "CC Pressure");
	f->cycle.max_stroke_mm = num1(f, "Cycle Parameters", "Max Stroke (mm)");
	f->cycle.vacuum_delay_ms =
	    num1(f, "Cycle Parameters", "Vacuum Delay (ms)");
	f->cycle.vacuum_flow_min =
	    num1(f, "Cycle Parameters", "Vacuum Flow min (m/s)");
	f->cycle.retract_rpm =
	    num1(f, "Cycle Parameters", "Retract Rotation Speed (rpm)");
	f->cycle.retract_feed =
	    num1(f, "Cycle Parameters", "Retract Feed (m/s)");
	f->cycle.disable_abort = num1(f, "Cycle Parameters", "Disable Abort");
	f->cycle.comment = str1(f, "Cycle Parameters", "Comment");
	f->cycle.tool_breakage_on =
	    num1(f, "Cycle Parameters", "Cutting tool breakage On/Off");
	f->cycle.tool_breakage_dep_mm =
	    num1(f, "Cycle Parameters", "Cutting tool breakage DEP (mm)");
	f->cycle.tool_breakage_thrust_a =
	    num1(f, "Cycle Parameters", "Cutting tool breakage Thrust (A)");
	f->cycle.tool_breakage_torque_a =
	    num1(f, "Cycle Parameters", "Cutting tool breakage Torque (A)");
	f->cycle.lub_preload_time_s =
	    num1(f, "Cycle Parameters", "Lub Preload Time (s)");
	f->cycle.lub_preload_air =
	    num1(f, "Cycle Parameters", "Lub Preload Lub Air");
	f->cycle.lub_preload_flow =
	    num1(f, "Cycle Parameters", "Lub Preload Lub Flow");
	f->cycle.lub_preload_timeout_s =
	    num1(f, "Cycle Parameters", "Lub Preload Timeout (s)");

	f->results.cycle_time_s = num1(f, "Results", "Cycle Time (s)");
	f->results.distance_mm = num1(f, "Results", "Distance (mm)");
	f->results.cycle_ok = bool_of(str1(f, "Results", "Cycle OK"));
	f->results.consumption_wh = num1(f, "Results", "Consumption Wh");

	ext = abyss_setitec_section(f, "External Infos");
	f->external_infos = (ext && ext->ntables) ? &ext->tables[0] : NULL;

	rc = program(p);
	if (rc == 0)
		rc = step_results(p);
	if (rc)
		return abyss_diag_set(p->diag, rc, 0, 0, "out of memory");
	return 0;
}
