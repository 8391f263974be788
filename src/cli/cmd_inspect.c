/*
 * cmd_inspect.c - `abyss inspect FILE [--json]`: what a Setitec file holds
 * (format, identity, sections, program, step results with stop-code names,
 * per-column statistics and duration), as text or as one JSON object.
 * It only reads and reports; estimation is `abyss estimate`.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "abyss/error.h"
#include "abyss/setitec.h"
#include "cli.h"

struct col_stats {
	size_t n; /* finite values */
	double min, max, mean;
};

static void stats(const struct abyss_setitec *f, size_t c, struct col_stats *st)
{
	const double *v = f->columns[c].values;
	double sum = 0;
	size_t i;

	st->n = 0;
	st->min = st->max = st->mean = NAN;
	if (!v)
		return;
	for (i = 0; i < f->nsamples; i++) {
		if (!isfinite(v[i]))
			continue;
		if (st->n == 0 || v[i] < st->min)
			st->min = v[i];
		if (st->n == 0 || v[i] > st->max)
			st->max = v[i];
		sum += v[i];
		st->n++;
	}
	if (st->n)
		st->mean = sum / (double)st->n;
}

static double rate_of(const struct abyss_setitec *f)
{
	double r = f->general.sample_rate_hz;
	return (isfinite(r) && r > 0) ? r : 100.0; /* 100 Hz in every file */
}

/* Program columns that end a step when armed (value > 0). */
static size_t triggers(const struct abyss_setitec_program_step *s,
		       const char **names, size_t max)
{
	const struct {
		const char *name;
		double v;
	} t[] = {
	    {"Thrust Max", s->thrust_max_a},
	    {"Torque Max", s->torque_max_a},
	    {"Thrust Min", s->thrust_min_a},
	    {"Torque Min", s->torque_min_a},
	    {"Thrust Safety", s->thrust_safety_a},
	    {"Torque Safety", s->torque_safety_a},
	    {"Gap", s->gap_mm},
	    {"Peck", s->peck},
	    {"Delay", s->delay_ms},
	    {"Stroke Limit", s->stroke_limit_a},
	    {"Thrust Limit", s->thrust_limit_a},
	    {"Torque Limit", s->torque_limit_a},
	};
	size_t i, n = 0;

	for (i = 0; i < sizeof(t) / sizeof(t[0]) && n < max; i++)
		if (t[i].v > 0)
			names[n++] = t[i].name;
	return n;
}

/* ---- text --------------------------------------------------------------- */

static void print_text(const char *path, const struct abyss_setitec *f)
{
	size_t i, j;
	const char *tn[16];

	printf("file:      %s\n", path);
	if (f->has_metadata)
		printf("format:    Setitec v%d, %s-separated, %zu bytes, %zu "
		       "lines\n",
		       f->general.version, f->separator == ';' ? ";" : "tab",
		       f->bytes, f->lines);
	else
		printf("format:    Datas-only 'Curve Info' export, "
		       "%s-separated, %zu bytes, %zu lines\n",
		       f->separator == ';' ? ";" : "tab", f->bytes, f->lines);
	if (f->has_metadata) {
		printf("date:      %s%s\n", f->general.date,
		       isnan(f->general.unix_time) ? " (not parseable)" : "");
		printf("box:       %s (%s), SN %s, firmware %s\n", f->box.name,
		       f->box.type, f->box.sn, f->box.firmware);
		printf("motor:     %s (%s), SN %s\n", f->motor.name,
		       f->motor.type, f->motor.sn);
		printf("head:      %s (%s), TAG UID %s, global counter %s, "
		       "local counter %lld\n",
		       f->head.name, f->head.type, f->head.tag_uid,
		       f->head.global_counter,
		       (long long)f->head.local_counter_1);
		printf("pset:      %s no. %s\n", f->pset.type, f->pset.number);
		if (!isnan(f->results.cycle_time_s))
			printf("result:    cycle %.3f s, distance %.3f mm%s\n",
			       f->results.cycle_time_s, f->results.distance_mm,
			       f->results.cycle_ok == 1	  ? ", cycle OK"
			       : f->results.cycle_ok == 0 ? ", cycle NOT OK"
							  : "");
	}
	printf("samples:   %zu at %g Hz = %.2f s\n", f->nsamples, rate_of(f),
	       (double)f->nsamples / rate_of(f));

	printf("\nsections:\n");
	for (i = 0; i < f->nsections; i++) {
		const struct abyss_setitec_section *s = &f->sections[i];
		printf("  line %-5zu %-20s", s->line, s->title);
		for (j = 0; j < s->ntables; j++)
			printf("%s%zu names x %zu rows", j ? ", " : "  ",
			       s->tables[j].nnames, s->tables[j].nrows);
		printf("\n");
	}

	if (f->nprogram) {
		printf("\nprogram:\n  %4s %3s %10s %8s %9s %11s  %s\n", "step",
		       "on", "stroke_mm", "rpm", "feed_mm_s", "feed_mm_rev",
		       "triggers");
		for (i = 0; i < f->nprogram; i++) {
			const struct abyss_setitec_program_step *s =
			    &f->program[i];
			size_t k, nt = triggers(s, tn, 16);
			printf("  %4d %3d %10.3f %8.0f %9.3f %11.3f  ", s->step,
			       s->on, s->stroke_mm, s->rpm, s->feed_mm_s,
			       s->feed_mm_rev);
			for (k = 0; k < nt; k++)
				printf("%s%s", k ? ", " : "", tn[k]);
			printf("%s\n", nt ? "" : "-");
		}
	}
	if (f->nstep_results) {
		printf("\nstep results:\n  %4s %9s %-20s %10s %10s %10s\n",
		       "step", "stop_code", "stop", "duration_s", "m1_max_a",
		       "m1_noload");
		for (i = 0; i < f->nstep_results; i++) {
			const struct abyss_setitec_step_result *s =
			    &f->step_results[i];
			printf("  %4d %9u %-20s %10.3f %10.3f %10.3f\n",
			       s->step, s->stop_code, s->stop_names,
			       s->duration_s, s->m1_max_a, s->m1_no_load_a);
		}
	}
	printf("\ncolumns:\n  %-24s %8s %12s %12s %12s\n", "name", "n", "min",
	       "max", "mean");
	for (i = 0; i < f->ncolumns; i++) {
		struct col_stats st;
		stats(f, i, &st);
		printf("  %-24s %8zu %12.4f %12.4f %12.4f\n",
		       f->columns[i].name[0] ? f->columns[i].name : "(unnamed)",
		       st.n, st.min, st.max, st.mean);
	}
}

/* ---- JSON --------------------------------------------------------------- */

static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static int put(json_t *o, const char *k, json_t *v)
{
	return v ? json_object_set_new(o, k, v) : -1;
}

static json_t *json_sections(const struct abyss_setitec *f)
{
	json_t *arr = json_array();
	size_t i, j, r, c;

	for (i = 0; arr && i < f->nsections; i++) {
		const struct abyss_setitec_section *s = &f->sections[i];
		json_t *so = json_object(), *tables = json_array();
		put(so, "title", json_string(s->title));
		put(so, "line", json_integer((json_int_t)s->line));
		for (j = 0; j < s->ntables; j++) {
			const struct abyss_setitec_table *t = &s->tables[j];
			json_t *to = json_object(), *names = json_array(),
			       *rows = json_array();
			for (c = 0; c < t->nnames; c++)
				json_array_append_new(names,
						      json_string(t->names[c]));
			for (r = 0; r < t->nrows; r++) {
				json_t *row = json_array();
				for (c = 0; c < t->rows[r].ncells; c++)
					json_array_append_new(
					    row,
					    json_string(t->rows[r].cells[c]));
				json_array_append_new(rows, row);
			}
			put(to, "line", json_integer((json_int_t)t->line));
			put(to, "names", names);
			put(to, "rows", rows);
			json_array_append_new(tables, to);
		}
		put(so, "tables", tables);
		json_array_append_new(arr, so);
	}
	return arr;
}

static json_t *to_json(const char *path, const struct abyss_setitec *f)
{
	json_t *o = json_object(), *a, *x;
	const char *tn[16];
	size_t i, k;
	char sep[2] = {f->separator, '\0'};

	if (!o)
		return NULL;
	put(o, "file", json_string(path));
	put(o, "has_metadata", json_boolean(f->has_metadata));
	put(o, "version", json_integer(f->general.version));
	put(o, "separator", json_string(sep));
	put(o, "bytes", json_integer((json_int_t)f->bytes));
	put(o, "lines", json_integer((json_int_t)f->lines));
	put(o, "date", json_string(f->general.date));
	put(o, "unix_time", jnum(f->general.unix_time));
	put(o, "sample_rate_hz", jnum(f->general.sample_rate_hz));
	put(o, "cycle_id", json_string(f->general.cycle_id));

	x = json_object();
	put(x, "name", json_string(f->box.name));
	put(x, "type", json_string(f->box.type));
	put(x, "sn", json_string(f->box.sn));
	put(x, "firmware", json_string(f->box.firmware));
	put(o, "box", x);
	x = json_object();
	put(x, "name", json_string(f->motor.name));
	put(x, "type", json_string(f->motor.type));
	put(x, "sn", json_string(f->motor.sn));
	put(o, "motor", x);
	x = json_object();
	put(x, "name", json_string(f->head.name));
	put(x, "type", json_string(f->head.type));
	put(x, "tag_uid", json_string(f->head.tag_uid));
	put(x, "global_counter", json_string(f->head.global_counter));
	put(x, "local_counter_1",
	    json_integer((json_int_t)f->head.local_counter_1));
	put(x, "local_counter_2",
	    json_integer((json_int_t)f->head.local_counter_2));
	put(o, "head", x);
	x = json_object();
	put(x, "type", json_string(f->pset.type));
	put(x, "number", json_string(f->pset.number));
	put(o, "pset", x);
	x = json_object();
	put(x, "cycle_time_s", jnum(f->results.cycle_time_s));
	put(x, "distance_mm", jnum(f->results.distance_mm));
	put(x, "cycle_ok",
	    f->results.cycle_ok < 0 ? json_null()
				    : json_boolean(f->results.cycle_ok));
	put(x, "consumption_wh", jnum(f->results.consumption_wh));
	put(o, "results", x);

	put(o, "sections", json_sections(f));

	a = json_array();
	for (i = 0; a && i < f->nprogram; i++) {
		const struct abyss_setitec_program_step *s = &f->program[i];
		json_t *t = json_array();
		size_t nt = triggers(s, tn, 16);
		x = json_object();
		put(x, "step", json_integer(s->step));
		put(x, "on", json_boolean(s->on));
		put(x, "stroke_mm", jnum(s->stroke_mm));
		put(x, "rpm", jnum(s->rpm));
		put(x, "feed_mm_s", jnum(s->feed_mm_s));
		put(x, "feed_mm_rev", jnum(s->feed_mm_rev));
		for (k = 0; k < nt; k++)
			json_array_append_new(t, json_string(tn[k]));
		put(x, "triggers", t);
		json_array_append_new(a, x);
	}
	put(o, "program", a);

	a = json_array();
	for (i = 0; a && i < f->nstep_results; i++) {
		const struct abyss_setitec_step_result *s = &f->step_results[i];
		x = json_object();
		put(x, "step", json_integer(s->step));
		put(x, "stop_code", json_integer(s->stop_code));
		put(x, "stop_names", json_string(s->stop_names));
		put(x, "duration_s", jnum(s->duration_s));
		put(x, "distance_m1_mm", jnum(s->distance_m1_mm));
		put(x, "distance_m2_mm", jnum(s->distance_m2_mm));
		put(x, "m1_max_a", jnum(s->m1_max_a));
		put(x, "m2_max_a", jnum(s->m2_max_a));
		put(x, "m1_no_load_a", jnum(s->m1_no_load_a));
		put(x, "m2_no_load_a", jnum(s->m2_no_load_a));
		put(x, "gap_max_mm", jnum(s->gap_max_mm));
		json_array_append_new(a, x);
	}
	put(o, "step_results", a);

	put(o, "samples", json_integer((json_int_t)f->nsamples));
	put(o, "duration_s", jnum((double)f->nsamples / rate_of(f)));
	a = json_array();
	for (i = 0; a && i < f->ncolumns; i++) {
		struct col_stats st;
		stats(f, i, &st);
		x = json_object();
		put(x, "name", json_string(f->columns[i].name));
		put(x, "n", json_integer((json_int_t)st.n));
		put(x, "min", jnum(st.min));
		put(x, "max", jnum(st.max));
		put(x, "mean", jnum(st.mean));
		json_array_append_new(a, x);
	}
	put(o, "columns", a);
	return o;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: abyss inspect FILE [--json]\n\n"
		"Shows what a Setitec drill file holds: format version, date, "
		"control box,\nmotor and head identity, the sections and their "
		"tables, the program steps\nwith their triggers, the step "
		"results with stop-code names, and for each\nData column the "
		"number of values, min, max and mean, and the duration.\n\n"
		"  --json     print the same as one JSON object (plus every "
		"metadata cell)\n  -h, --help show this help\n\n"
		"Exit codes: 0 ok, 2 usage error, 3 the file cannot be read or "
		"parsed\n(the message is 'file:line:col: why'), 4 internal "
		"error.\n");
}

int cmd_inspect(int argc, char **argv)
{
	struct abyss_setitec *f = NULL;
	struct abyss_diag d;
	const char *path = NULL;
	int as_json = 0, i, rc;
	char msg[1200];

	for (i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			usage(stdout);
			return CLI_EXIT_OK;
		} else if (strcmp(argv[i], "--json") == 0) {
			as_json = 1;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			cli_error(argv[0], "unknown option '%s'", argv[i]);
			usage(stderr);
			return CLI_EXIT_USAGE;
		} else if (path) {
			cli_error(argv[0], "one FILE only ('%s' and '%s')",
				  path, argv[i]);
			return CLI_EXIT_USAGE;
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	abyss_diag_init(&d);
	rc = abyss_setitec_load(path, NULL, &f, &d);
	if (rc) {
		fprintf(stderr, "%s\n",
			abyss_diag_format(&d, msg, sizeof(msg)));
		return rc == ABYSS_ENOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_INPUT;
	}
	if (as_json) {
		json_t *o = to_json(path, f);
		if (!o || json_dumpf(o, stdout,
				     JSON_INDENT(2) | JSON_PRESERVE_ORDER |
					 JSON_REAL_PRECISION(15)) != 0) {
			json_decref(o);
			abyss_setitec_free(f);
			cli_error(argv[0], "cannot write JSON");
			return CLI_EXIT_INTERNAL;
		}
		printf("\n");
		json_decref(o);
	} else {
		print_text(path, f);
	}
	abyss_setitec_free(f);
	return CLI_EXIT_OK;
}
