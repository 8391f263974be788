/*
 * sim_io.c - text in and out of the simulator: the --stack/--program
 * mini-languages, the Setitec version 9 writer and the truth JSON.
 *
 * The v9 writer copies the section layout of a real V 3.2.2.1 file (MDB,
 * original-system.md §2.2) with plausible fixed metadata; every numeric cell
 * uses a comma decimal with 3 places, the way the controller writes them, so
 * that a parser reading it back gets the hole's values exactly. It does not
 * write the other versions (4, 7, 8, 11).
 */
#include "abyss/sim.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- parsing --------------------------------------------------------- */

/* Copies the item [s, e) of a comma list into buf; returns its length or -1
 * when it does not fit. */
static long simio__item(const char *s, const char *e, char *buf, size_t n)
{
	size_t len = (size_t)(e - s);

	if (len + 1 > n)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return (long)len;
}

static int simio__num(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return end != s && *end == '\0' && errno == 0 && isfinite(*out) ? 0
									: -1;
}

int abyss_sim_parse_stack(const char *s, struct abyss_sim_spec *spec,
			  struct abyss_diag *diag)
{
	size_t n = 0;
	const char *p = s;

	if (!s || !spec)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0, "no stack");
	while (*p) {
		const char *e = strchr(p, ',');
		char item[64], *colon;
		double t;

		e = e ? e : p + strlen(p);
		if (n == ABYSS_SIM_MAX_LAYERS)
			return abyss_diag_set(
			    diag, ABYSS_EPARSE, 1, (size_t)(p - s) + 1,
			    "more than %d layers", ABYSS_SIM_MAX_LAYERS);
		if (simio__item(p, e, item, sizeof(item)) < 0 ||
		    !(colon = strchr(item, ':')) ||
		    (size_t)(colon - item) >= ABYSS_SIM_NAME_MAX)
			return abyss_diag_set(
			    diag, ABYSS_EPARSE, 1, (size_t)(p - s) + 1,
			    "a layer is MATERIAL:THICKNESS_MM, e.g. CFRP:8");
		*colon = '\0';
		if (simio__num(colon + 1, &t) < 0 || !(t > 0.0))
			return abyss_diag_set(
			    diag, ABYSS_EPARSE, 1,
			    (size_t)(p - s) + (size_t)(colon - item) + 2,
			    "layer thickness '%s' is not a positive number",
			    colon + 1);
		if (!abyss_sim_material_find(item))
			return abyss_diag_set(diag, ABYSS_EPARSE, 1,
					      (size_t)(p - s) + 1,
					      "unknown material '%s' (CFRP, "
					      "Ti or Al)",
					      item);
		snprintf(spec->layers[n].material, ABYSS_SIM_NAME_MAX, "%s",
			 abyss_sim_material_find(item)->name);
		spec->layers[n].thickness_mm = t;
		n++;
		p = *e ? e + 1 : e;
	}
	if (n == 0)
		return abyss_diag_set(diag, ABYSS_EPARSE, 1, 1,
				      "the stack is empty");
	spec->nlayers = n;
	return ABYSS_OK;
}

int abyss_sim_parse_program(const char *s, struct abyss_sim_spec *spec,
			    struct abyss_diag *diag)
{
	size_t n = 0;
	const char *p = s;

	if (!s || !spec)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0, "no program");
	while (*p) {
		const char *e = strchr(p, ',');
		char item[128], *f[6];
		double v[4];
		size_t nf = 0, i;
		struct abyss_sim_step *st;
		char *q;

		e = e ? e : p + strlen(p);
		if (n == ABYSS_SIM_MAX_STEPS)
			return abyss_diag_set(
			    diag, ABYSS_EPARSE, 1, (size_t)(p - s) + 1,
			    "more than %d steps", ABYSS_SIM_MAX_STEPS);
		if (simio__item(p, e, item, sizeof(item)) < 0)
			return abyss_diag_set(diag, ABYSS_EPARSE, 1,
					      (size_t)(p - s) + 1,
					      "program step too long");
		q = item;
		f[nf++] = q;
		while ((q = strchr(q, ':')) != NULL && nf < 6) {
			*q++ = '\0';
			f[nf++] = q;
		}
		if (q || nf < 4)
			return abyss_diag_set(
			    diag, ABYSS_EPARSE, 1, (size_t)(p - s) + 1,
			    "a step is STEP:STROKE:RPM:FEED[:stroke|tmax|tmin"
			    "[:LEVEL_A]]");
		for (i = 0; i < 4; i++)
			if (simio__num(f[i], &v[i]) < 0)
				return abyss_diag_set(
				    diag, ABYSS_EPARSE, 1, (size_t)(p - s) + 1,
				    "'%s' is not a number", f[i]);
		st = &spec->steps[n];
		memset(st, 0, sizeof(*st));
		if (v[0] < 0 || v[0] > 99 || v[0] != floor(v[0]))
			return abyss_diag_set(diag, ABYSS_EPARSE, 1,
					      (size_t)(p - s) + 1,
					      "step number must be 0..99");
		st->step = (int32_t)v[0];
		st->stroke_mm = v[1];
		st->rpm = v[2];
		st->feed_mm_s = v[3];
		st->trigger = ABYSS_SIM_TRIG_STROKE;
		if (nf >= 5) {
			if (strcmp(f[4], "tmax") == 0)
				st->trigger = ABYSS_SIM_TRIG_TORQUE_MAX;
			else if (strcmp(f[4], "tmin") == 0)
				st->trigger = ABYSS_SIM_TRIG_TORQUE_MIN;
			else if (strcmp(f[4], "stroke") != 0)
				return abyss_diag_set(
				    diag, ABYSS_EPARSE, 1, (size_t)(p - s) + 1,
				    "trigger '%s' is not stroke, tmax or tmin",
				    f[4]);
			st->trigger_a = st->trigger == ABYSS_SIM_TRIG_TORQUE_MAX
					    ? 0.3
					    : 2.0;
		}
		if (nf == 6 && simio__num(f[5], &st->trigger_a) < 0)
			return abyss_diag_set(diag, ABYSS_EPARSE, 1,
					      (size_t)(p - s) + 1,
					      "trigger level '%s' is not a "
					      "number",
					      f[5]);
		n++;
		p = *e ? e + 1 : e;
	}
	if (n == 0)
		return abyss_diag_set(diag, ABYSS_EPARSE, 1, 1,
				      "the program is empty");
	spec->nsteps = n;
	return ABYSS_OK;
}

/* ---- Setitec v9 writer ----------------------------------------------- */

/* "%.3f" with a comma: the controller's number format. -0 prints as 0. */
static void simio__c3(FILE *f, double x)
{
	char buf[64], *dot;

	if (!isfinite(x))
		x = 0.0;
	x = nearbyint(x * 1000.0) / 1000.0 + 0.0;
	snprintf(buf, sizeof(buf), "%.3f", x);
	if (strcmp(buf, "-0.000") == 0)
		snprintf(buf, sizeof(buf), "0.000");
	dot = strchr(buf, '.');
	if (dot)
		*dot = ',';
	fputs(buf, f);
}

static void simio__tabs(FILE *f, int n)
{
	while (n-- > 0)
		fputc('\t', f);
}

/* A title line padded with tabs, as the controller pads every line to its
 * widest table. */
static void simio__title(FILE *f, const char *title, int pad)
{
	fprintf(f, "*** %s ***", title);
	simio__tabs(f, pad);
	fputc('\n', f);
}

static const char *const simio__program_hdr =
    "Step Nb\tStep On/Off\tStroke (mm)\tRPM\tFeed (mm/s)\tFeed (mm/tr)\t"
    "Thrust Max (A)\tTorque Max (A)\tThrust Min (A)\tTorque Min (A)\t"
    "Thrust Safety (A)\tTorque Safety (A)\tGap (mm)\tPeck (nb)\tDelay "
    "(ms)\tStroke Limit (A)\tThrust Limit (A)\tTorque Limit (A)\tLUB "
    "AIR\tLUB FLOW\tVacuum\tMaterial";

static void simio__program_row(FILE *f, const struct abyss_sim_step *s)
{
	double v[22];
	int i;

	memset(v, 0, sizeof(v));
	v[0] = s->step;
	v[1] = 1.0;
	v[2] = s->stroke_mm;
	v[3] = s->rpm;
	v[4] = s->feed_mm_s;
	v[5] = s->feed_mm_s / (s->rpm / 60.0);
	if (s->trigger == ABYSS_SIM_TRIG_TORQUE_MAX)
		v[7] = s->trigger_a;
	else if (s->trigger == ABYSS_SIM_TRIG_TORQUE_MIN)
		v[9] = s->trigger_a;
	v[18] = 3.0; /* LUB AIR, LUB FLOW, Vacuum as in the MDB programs */
	v[19] = 2.0;
	v[20] = 1.0;
	for (i = 0; i < 22; i++) {
		if (i)
			fputc('\t', f);
		simio__c3(f, v[i]);
	}
	fputc('\n', f);
}

int abyss_sim_write_setitec(FILE *f, const struct abyss_hole *h,
			    const struct abyss_sim_spec *spec)
{
	char date[32];
	time_t ts;
	struct tm tm;
	size_t i;
	double cycle = 0.0, dist;

	if (!f || !h || h->n == 0)
		return ABYSS_EINVAL;
	ts = isfinite(h->timestamp_s) ? (time_t)h->timestamp_s : 0;
	if (!gmtime_r(&ts, &tm) ||
	    strftime(date, sizeof(date), "%Y-%m-%d:%H:%M:%S", &tm) == 0)
		snprintf(date, sizeof(date), "1970-01-01:00:00:00");

	simio__title(f, "General Infos", 12);
	fputs("Version\tDate\tSample Rate (Hz)\tDrilling Cycle ID\tDecimal "
	      "Separator separator",
	      f);
	simio__tabs(f, 8);
	fprintf(f, "\n9\t%s\t100\t%lu\tComma", date,
		(unsigned long)(((uint64_t)ts * 2654435761u) % 4000000000u));
	simio__tabs(f, 8);
	fputc('\n', f);
	simio__tabs(f, 12);
	fputc('\n', f);

	simio__title(f, "Control Box Datas", 12);
	fputs("BOX Name\tBOX Type\tBOX SN\tBOX STSE\tBOX Customer Info\tBOX "
	      "Release\tBOX Firmware Version\tBOX Production Date\tBOX "
	      "Maintenance Date\tBOX Operation Time\tBOX Power Supply "
	      "Limit\tBOX Lub Pump Coef.\tPset Default Selection\n"
	      "20109999\tCB V2 - Standard\t20109999\t5006\t40403912\t0\tV "
	      "3.2.2.1\t01/01/2016\t01/01/2016\t2474\t3000\t 1,000\tFALSE\n",
	      f);
	simio__tabs(f, 12);
	fputc('\n', f);

	simio__title(f, "Motor Datas", 12);
	fputs("Motor Name\tMotor Type\tMotor STSE\tMotor SN\tMotor Operation "
	      "Time\tMotor M2 Ratio\tMotor M1 CW Ratio\tMotor M1 CCW "
	      "Ratio\tMotor Winch Limit\t\t\t\t\n",
	      f);
	fprintf(f,
		"Light_EDU\tL_EDU\t5058\t%s\t19847\t 21,923\t 0,947\t "
		"0,947\t0\t\t\t\t\n",
		h->machine_id[0] ? h->machine_id : "0");
	simio__tabs(f, 12);
	fputc('\n', f);

	simio__title(f, "Head Datas", 12);
	fputs("Head Name\tHead Type\tHead TAG UID\tHead Global Counter\tHead "
	      "Local Counter 1\tHead Local Counter 2\tHead M1 Ratio\tHead M2 "
	      "Ratio\tCustomer Info\tMicropeck Osc.\tMicropeck "
	      "Amplitude\t\t\n",
	      f);
	fprintf(f,
		"%s\tConcentric Collet\t%s\t%s\t%lld\t%lld\t 1,000\t "
		"1,000\t40376604\t5\t10\t\t\n",
		h->machine_id[0] ? h->machine_id : "0",
		h->head_id[0] ? h->head_id : "0",
		h->result_id[0] ? h->result_id : "0", (long long)h->local,
		(long long)h->local);
	simio__tabs(f, 8);
	fputc('\n', f);

	simio__title(f, "Pset", 8);
	fputs("Pset Type\tPset Nb.\tVersion\t\t\t\t\t\t\nStandard\t0\t9\t\t\t\t"
	      "\t\t\n",
	      f);
	simio__tabs(f, 8);
	fputc('\n', f);

	simio__title(f, "Cycle Parameters", 8);
	fputs("Max cycles Limit 1\tMax cycles Limit 2\tCC Pressure\tMax Stroke "
	      "(mm)\tVacuum Delay (ms)\tVacuum Flow min (m/s)\tRetract "
	      "Rotation Speed (rpm)\tRetract Feed (m/s)\tDisable Abort\n"
	      "100\t0\t10\t0,000\t30\t0,000\t300\t13,684\t0\n",
	      f);
	simio__tabs(f, 8);
	fputs("\nComment", f);
	simio__tabs(f, 8);
	fputc('\n', f);
	simio__tabs(f, 8);
	fputs("\nCutting tool breakage On/Off\tCutting tool breakage DEP "
	      "(mm)\tCutting tool breakage Thrust (A)\tCutting tool breakage "
	      "Torque (A)\n0,000\t0,000\t0,000\t0,000\n"
	      "Lub Preload Time (s)\tLub Preload Lub Air\tLub Preload Lub "
	      "Flow\tLub Preload Timeout (s)\n0,000\t5,000\t30,000\t0,000\n",
	      f);
	simio__tabs(f, 21);
	fputc('\n', f);

	simio__title(f, "Program", 21);
	fprintf(f, "%s\n", simio__program_hdr);
	if (spec) {
		for (i = 0; i < spec->nsteps; i++)
			simio__program_row(f, &spec->steps[i]);
	} else {
		for (i = 0; i < h->nsteps; i++) {
			struct abyss_sim_step s = {
			    h->steps[i].step,	   10.0, 1000.0, 1.0,
			    ABYSS_SIM_TRIG_STROKE, 0.0};
			simio__program_row(f, &s);
		}
	}
	simio__tabs(f, 9);
	fputc('\n', f);

	for (i = 0; i < h->nsteps; i++)
		cycle += h->steps[i].duration_s;
	dist = -h->position_mm[0];
	simio__title(f, "Results", 9);
	fputs("Cycle Time (s)\tDistance (mm)\tCycle OK\t\t\t\t\t\t\t\n", f);
	{
		char buf[48], *dot;

		snprintf(buf, sizeof(buf), "%.6f", cycle);
		dot = strchr(buf, '.');
		if (dot)
			*dot = ',';
		fputs(buf, f);
	}
	fputc('\t', f);
	simio__c3(f, dist);
	fputs("\tTrue\t\t\t\t\t\t\t\n", f);
	simio__tabs(f, 9);
	fputc('\n', f);

	simio__title(f, "Step Results", 9);
	fputs("Step Number\tStop Code\tDuration (s)\tDistance M1\tDistance "
	      "M2\tM1 Max Amp\tM2 Max Amp\tM1 No Load Amp\tM2 No Load "
	      "Amp\tGap Max (mm)\n",
	      f);
	for (i = 0; i < h->nsteps; i++) {
		const struct abyss_step_result *r = &h->steps[i];
		double v[10] = {r->step,	   r->stop_code,
				r->duration_s,	   r->distance_m1_mm,
				r->distance_m2_mm, r->m1_max_a,
				r->m2_max_a,	   r->torque_empty_a,
				r->thrust_empty_a, r->gap_max_mm};
		int j;

		for (j = 0; j < 10; j++) {
			if (j)
				fputc('\t', f);
			simio__c3(f, v[j]);
		}
		fputc('\n', f);
	}
	simio__tabs(f, 8);
	fputc('\n', f);

	simio__title(f, "Datas", 8);
	fputs("Position (mm)\tI Torque (A)\tI Thrust (A)\tI Torque Empty "
	      "(A)\tI Thrust Empty (A)\tStep (nb)\tStop code\tTorque Power "
	      "(W)\tGap Length (mm)",
	      f);
	for (i = 0; i < h->n; i++) {
		fputc('\n', f);
		simio__c3(f, h->position_mm[i]);
		fputc('\t', f);
		simio__c3(f, h->torque_a[i]);
		fputc('\t', f);
		simio__c3(f, h->thrust_a[i]);
		fputc('\t', f);
		simio__c3(f, h->torque_empty_a[i]);
		fputc('\t', f);
		simio__c3(f, h->thrust_empty_a[i]);
		fputc('\t', f);
		simio__c3(f, h->step[i]);
		fputc('\t', f);
		simio__c3(f, h->stop_code[i]);
		fputc('\t', f);
		simio__c3(f, h->power_w[i]);
		fputc('\t', f);
		simio__c3(f, h->gap_mm[i]);
	}
	fputc('\n', f);
	return ferror(f) ? ABYSS_EIO : ABYSS_OK;
}

/* ---- truth JSON ------------------------------------------------------ */

static const char *simio__trig(enum abyss_sim_trigger t)
{
	return t == ABYSS_SIM_TRIG_TORQUE_MAX	? "tmax"
	       : t == ABYSS_SIM_TRIG_TORQUE_MIN ? "tmin"
						: "stroke";
}

int abyss_sim_write_truth(FILE *f, const struct abyss_sim_truth *t,
			  const struct abyss_sim_spec *spec)
{
	size_t i;

	if (!f || !t || !spec)
		return ABYSS_EINVAL;
	fprintf(f, "{\n  \"seed\": %llu,\n  \"entry_mm\": %.6f,\n",
		(unsigned long long)t->seed, t->entry_mm);
	fputs("  \"transition_mm\": [", f);
	for (i = 0; i < t->ntransitions; i++)
		fprintf(f, "%s%.6f", i ? ", " : "", t->transition_mm[i]);
	fprintf(f,
		"],\n  \"exit_mm\": %.6f,\n  \"thickness_mm\": %.6f,\n"
		"  \"point_ramp_mm\": %.6f,\n",
		t->exit_mm, t->exit_mm - t->entry_mm, t->point_ramp_mm);
	fputs("  \"stack\": [", f);
	for (i = 0; i < spec->nlayers; i++)
		fprintf(f, "%s{\"material\": \"%s\", \"thickness_mm\": %.6f}",
			i ? ", " : "", spec->layers[i].material,
			spec->layers[i].thickness_mm);
	fputs("],\n  \"program\": [", f);
	for (i = 0; i < spec->nsteps; i++) {
		const struct abyss_sim_step *s = &spec->steps[i];

		fprintf(f,
			"%s{\"step\": %d, \"stroke_mm\": %.6g, \"rpm\": %.6g, "
			"\"feed_mm_s\": %.6g, \"trigger\": \"%s\", "
			"\"trigger_a\": %.6g}",
			i ? ", " : "", (int)s->step, s->stroke_mm, s->rpm,
			s->feed_mm_s, simio__trig(s->trigger), s->trigger_a);
	}
	fprintf(f,
		"],\n  \"start_mm\": %.6g,\n  \"approach_mm\": %.6g,\n"
		"  \"air_gap_mm\": %.6g,\n  \"diameter_mm\": %.6g,\n"
		"  \"noise\": %.6g,\n  \"dwell_s\": %.6g,\n"
		"  \"retract_mm\": %.6g,\n  \"burr_mm\": %.6g\n}\n",
		spec->start_mm, spec->approach_mm, spec->air_gap_mm,
		spec->diameter_mm, spec->noise, spec->dwell_s, spec->retract_mm,
		spec->burr_mm);
	return ferror(f) ? ABYSS_EIO : ABYSS_OK;
}
