/*
 * abyss/setitec.h - Setitec drill files (".xls" that are really Latin-1,
 * tab-separated text): parse every known variant into typed metadata, a
 * generic section/table view and numeric time series, and map a file to the
 * hole record. docs/setitec-format.md describes the grammar, the variants
 * and every choice made where the original system was silent.
 *
 * All text handed out is UTF-8, NUL-terminated, trimmed of surrounding
 * spaces, and owned by the struct abyss_setitec it came from (valid until
 * abyss_setitec_free). Absent strings are "" (never NULL), absent numbers NaN.
 */
#ifndef ABYSS_SETITEC_H
#define ABYSS_SETITEC_H

#include <stddef.h>
#include <stdint.h>

#include "abyss/error.h"
#include "abyss/hole.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Hard bounds on what one parse may consume. Exceeding one gives
 * ABYSS_ETOOBIG with the line/column and the name of the limit. */
struct abyss_setitec_limits {
	size_t max_bytes;      /* file size (512 MiB) */
	size_t max_line_bytes; /* one line (1 MiB) */
	size_t max_rows;       /* samples in the Datas section (10 M) */
	size_t max_cols;       /* cells in one row or header (256) */
	size_t max_sections;   /* "*** ... ***" blocks (256) */
	size_t max_tables;     /* header rows over the whole file (256) */
	size_t max_meta_rows;  /* value rows of all metadata tables (65536) */
	size_t max_values;     /* doubles held for the samples (128 M) */
};

/* Fills *lim with the defaults named above. */
void abyss_setitec_limits_default(struct abyss_setitec_limits *lim);

/* One value row of a metadata table. cells[i] belongs to the table's
 * names[i]; an empty cell stays "" at its index (nothing is shifted). Trailing
 * empty padding cells are not counted in ncells. */
struct abyss_setitec_row {
	size_t line; /* 1-based line in the file */
	size_t ncells;
	const char **cells;
};

/* A header row and the value rows below it. A section holds one or more
 * ("Cycle Parameters" has a main table, "Comment", the tool-breakage and the
 * lubrication sub-tables). */
struct abyss_setitec_table {
	size_t line; /* line of the header row */
	size_t nnames;
	const char **names;
	size_t nrows;
	struct abyss_setitec_row *rows;
};

struct abyss_setitec_section {
	size_t line;	   /* line of the title */
	const char *title; /* "Head Datas", without the stars */
	size_t ntables;
	struct abyss_setitec_table *tables;
};

/* One numeric column of the Datas section. values is NULL when no row
 * carries a value for it (surplus header names, such as v11's second
 * "Gap Length (mm)" or the empty names of MQTT-converted files); otherwise it
 * has abyss_setitec.nsamples entries, NaN where a row had an empty cell or
 * ended early. Columns beyond the header (a row wider than its header) are
 * kept with the name "". */
struct abyss_setitec_column {
	const char *name;
	const double *values;
};

/* Program table, one row per program step (executed or not). */
struct abyss_setitec_program_step {
	int32_t step;	     /* Step Nb */
	int on;		     /* Step On/Off: 1 executed, 0 disabled */
	double stroke_mm;    /* "Stroke (mm)" (v8+) or "DEP (mm)" (v4, v7) */
	double rpm;	     /* RPM */
	double feed_mm_s;    /* "Feed (mm/s)" or "AV (mm/s)" */
	double feed_mm_rev;  /* "Feed (mm/tr)" or "AV (mm/tr)"; Inf at 0 rpm */
	double thrust_max_a; /* the trigger columns: a value > 0 arms it */
	double torque_max_a;
	double thrust_min_a;
	double torque_min_a;
	double thrust_safety_a;
	double torque_safety_a;
	double gap_mm;
	double peck;
	double delay_ms;
	double stroke_limit_a;
	double thrust_limit_a;
	double torque_limit_a;
	double lub_air;
	double lub_flow;
	double vacuum;
	double material;
};

/* Step Results table (v7+): one row per executed step. */
struct abyss_setitec_step_result {
	int32_t step;
	uint32_t stop_code;	/* bit mask, original-system.md §5.1 */
	const char *stop_names; /* abyss_stop_code_format(): "TORQUE_MIN" */
	double duration_s;
	double distance_m1_mm;
	double distance_m2_mm;
	double m1_max_a;
	double m2_max_a;
	double m1_no_load_a; /* torque (spindle) no-load current */
	double m2_no_load_a; /* thrust (feed) no-load current */
	double gap_max_mm;
};

struct abyss_setitec {
	/* how the text was written */
	char separator;	  /* '\t', or ';' for the CSV variant */
	int has_metadata; /* 0 for a Datas-only "Curve Info" CSV */
	size_t bytes;	  /* input size, for throughput figures */
	size_t lines;	  /* lines in the input */

	struct {
		int version;	  /* file format: 4, 7, 8, 9, 11; 0 absent */
		const char *date; /* as written: "2024-05-08:18:20:57" */
		double unix_time; /* Date read as UTC; NaN if unparseable */
		double sample_rate_hz;
		const char *cycle_id;	       /* Drilling Cycle ID (v7+) */
		const char *decimal_separator; /* "Comma" (v8+) */
	} general;

	struct {
		const char *name, *type, *sn, *stse, *customer_info, *release;
		const char *firmware; /* "V 3.2.2.1" */
		const char *production_date, *maintenance_date;
		double operation_time, power_supply_limit, lub_pump_coef;
		const char *pset_default_selection;
	} box;

	struct {
		const char *name, *type, *stse, *sn;
		double operation_time, m2_ratio, m1_cw_ratio, m1_ccw_ratio;
		double winch_limit;
		const char *production_date, *maintenance_date; /* v11 */
	} motor;

	struct {
		const char *name;	    /* "17070141", "114-V3-002-MQ" */
		const char *type;	    /* "Concentric Collet" */
		const char *tag_uid;	    /* "E00401009F78AA43" or "Light" */
		const char *global_counter; /* text, as the MQTT ResultId */
		int64_t global_counter_n; /* the same as a number, -1 if not */
		int64_t
		    local_counter_1; /* "Head Local Counter (1)", -1 absent */
		int64_t local_counter_2; /* v7+, -1 absent */
		double m1_ratio, m2_ratio;
		const char *customer_info;
		double micropeck_osc, micropeck_amplitude; /* v9+ */
		const char *module_disable;		   /* v11 */
	} head;

	struct {
		const char *type;
		const char *number; /* "Pset n°" (v4, v7) / "Pset Nb." (v8+) */
		const char *version;
	} pset;

	struct {
		double max_cycles_1; /* "Max cycles" (v4) or "... Limit 1" */
		double max_cycles_2;
		double cc_pressure, max_stroke_mm, vacuum_delay_ms;
		double vacuum_flow_min, retract_rpm, retract_feed,
		    disable_abort;
		const char *comment;
		double tool_breakage_on, tool_breakage_dep_mm;
		double tool_breakage_thrust_a, tool_breakage_torque_a;
		double lub_preload_time_s, lub_preload_air, lub_preload_flow;
		double lub_preload_timeout_s;
	} cycle;

	struct {
		double cycle_time_s, distance_mm;
		int cycle_ok;	       /* 1 True, 0 False, -1 absent (v4) */
		double consumption_wh; /* v11 */
	} results;

	size_t nprogram;
	struct abyss_setitec_program_step *program;

	size_t nstep_results;
	struct abyss_setitec_step_result *step_results;

	/* "External Infos" (some v11 files): the table, or NULL */
	const struct abyss_setitec_table *external_infos;

	/* every section in file order, the Datas section included (its table
	 * has the column names and no string rows: see columns) */
	size_t nsections;
	struct abyss_setitec_section *sections;

	/* the time series, columns in file order */
	size_t data_line; /* line of the "Position (mm)" header */
	size_t nsamples;
	size_t ncolumns;
	struct abyss_setitec_column *columns;

	void *priv_; /* private: memory behind everything above */
};

/* Parses a Setitec file held in buf[0..len). buf need not be NUL-terminated
 * and is never read past buf+len; it may be freed once the call returns
 * (everything is copied). lim NULL means the defaults. On success *out
 * receives a new object to release with abyss_setitec_free and 0 is
 * returned. On failure *out is NULL and the code is one of:
 *   ABYSS_EINVAL       NULL buf (with len > 0) or out
 *   ABYSS_ENOTSETITEC  the text is no Setitec file (JSON, other CSV...)
 *                      or is empty
 *   ABYSS_EPARSE       a malformed part, e.g. a non-number in the Datas
 *   ABYSS_ETRUNCATED   the text ends before the Datas section or inside
 *                      its last row
 *   ABYSS_ENODATA      no Datas section header
 *   ABYSS_ETOOBIG      a limit was exceeded (diag names it)
 *   ABYSS_ENOMEM
 * diag (may be NULL) receives line, column and a sentence; diag->file is
 * left as the caller set it. Thread-safe: no global state. */
int abyss_setitec_parse(const char *buf, size_t len,
			const struct abyss_setitec_limits *lim,
			struct abyss_setitec **out, struct abyss_diag *diag);

/* Reads the file at path (at most lim->max_bytes) and parses it as
 * abyss_setitec_parse does. Sets diag->file to path. Adds ABYSS_ENOENT and
 * ABYSS_EIO for files that cannot be opened or read. */
int abyss_setitec_load(const char *path, const struct abyss_setitec_limits *lim,
		       struct abyss_setitec **out, struct abyss_diag *diag);

/* Releases everything f owns. NULL is accepted. */
void abyss_setitec_free(struct abyss_setitec *f);

/* The first Datas column called exactly `name` ("I Torque (A)"), as an array
 * of f->nsamples doubles, or NULL when there is no such column or it holds
 * no values. Duplicated names: the first one wins. */
const double *abyss_setitec_column(const struct abyss_setitec *f,
				   const char *name);

/* The first section titled `title` (exact, case-insensitive), or NULL. */
const struct abyss_setitec_section *
abyss_setitec_section(const struct abyss_setitec *f, const char *title);

/* The value of the first header cell called `name` (exact) in any table of
 * the section `title`, taken from the table's first value row. Returns ""
 * when absent. */
const char *abyss_setitec_value(const struct abyss_setitec *f,
				const char *title, const char *name);

/* Cell (row, col) of a table, "" when out of range. */
const char *abyss_setitec_cell(const struct abyss_setitec_table *t, size_t row,
			       size_t col);

/* Parses one Setitec number: optional spaces and sign, digits in which the
 * last comma is the decimal point and other commas are thousands
 * separators (a dot is the decimal point when there is no comma), an
 * optional exponent, or Inf/NaN; surrounding spaces allowed. Exact: the
 * result equals strtod on the normalised text. Returns 0, or ABYSS_EPARSE
 * when s[0..n) is not a number (an empty cell included). */
int abyss_setitec_number(const char *s, size_t n, double *out);

/* Fills h (initialised by the caller; freed first) from a parsed file:
 * every sample array, the step results (with each step's no-load currents
 * taken from its first sample, or the Step Results when the step has no
 * sample), identity (machine_id = Head Name, result_id = Head Global
 * Counter, head_id = Head TAG UID, local = Head Local Counter (1)),
 * timestamp, file_version, float32_origin = 1 and source SETITEC.
 * source_name is left as the caller set it. Errors: ABYSS_EINVAL,
 * ABYSS_ENODATA (no samples), ABYSS_EMISSING (one of Position, I Torque,
 * I Thrust, Step (nb) is absent), ABYSS_ENOMEM; h is left empty then. */
int abyss_hole_from_setitec(const struct abyss_setitec *f, struct abyss_hole *h,
			    struct abyss_diag *diag);

/* abyss_setitec_load + abyss_hole_from_setitec; also sets h->source_name
 * to path. */
int abyss_hole_load_setitec(const char *path,
			    const struct abyss_setitec_limits *lim,
			    struct abyss_hole *h, struct abyss_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
