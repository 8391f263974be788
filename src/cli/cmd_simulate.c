/*
 * cmd_simulate.c - abyss simulate: writes synthetic holes (Setitec v9 files)
 * with their exact ground truth beside them (<name>.truth.json).
 *
 * Hole i of a run uses seed S + i, so one hole can be regenerated alone.
 * MQTT output is a folder per hole with the three messages a drill sends
 * (ResultManagement.json, Trace.json, Heads.json), as the original's sample
 * folders, written by abyss_hole_to_msgs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "abyss/hole_io.h"
#include "abyss/sim.h"
#include "cli.h"

#define SIMULATE__MAX_COUNT 1000000L

static void simulate__usage(FILE *f)
{
	fputs("usage: abyss simulate --out DIR [options]\n\n"
	      "Writes synthetic drilling holes as Setitec v9 files "
	      "(sim_NNNNNN.xls)\nwith exact ground truth beside each "
	      "(sim_NNNNNN.truth.json).\n\n"
	      "options:\n"
	      "  --out DIR         output folder (created if missing)\n"
	      "  --count N         number of holes (default 1)\n"
	      "  --seed S          seed of the first hole; hole i uses S+i "
	      "(default 1)\n"
	      "  --stack SPEC      layers MATERIAL:MM,... (default "
	      "CFRP:8,Ti:12;\n"
	      "                    materials CFRP, Ti, Al)\n"
	      "  --program SPEC    steps STEP:STROKE:RPM:FEED[:TRIG[:A]],...\n"
	      "                    TRIG stroke|tmax|tmin (default MDB-like:\n"
	      "                    0:10:4000:3:tmax:0.3,1:7:4000:3,\n"
	      "                    2:35:1000:0.75:tmin:2,3:1:4000:3)\n"
	      "  --noise X         noise scale, 0 = clean, 1 = like real "
	      "files (default 1)\n"
	      "  --approach MM     air travel before the stack (default 4)\n"
	      "  --air-gap MM      gap between layers 1 and 2 (default 0)\n"
	      "  --diameter MM     drill diameter (default 6.35)\n"
	      "  --format F        xls (default): sim_NNNNNN.xls; mqtt: a "
	      "folder\n"
	      "                    sim_NNNNNN/ with ResultManagement.json, "
	      "Trace.json,\n"
	      "                    Heads.json; both: the two\n"
	      "  -h, --help        this text\n",
	      f);
}

/* mkdir -p: creates dir and any missing parents. 0 or -1 with errno. */
static int simulate__mkdirs(const char *dir)
{
	char path[4096];
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(path, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0777) != 0 && errno != EEXIST)
			return -1;
		path[i] = i < n ? '/' : '\0';
	}
	return 0;
}

static int simulate__write_text(const char *cmd, const char *path,
				const char *text)
{
	FILE *f = fopen(path, "wb");
	int bad;

	if (!f) {
		cli_error(cmd, "%s: %s", path, strerror(errno));
		return CLI_EXIT_INPUT;
	}
	bad = fputs(text, f) == EOF;
	if (fclose(f) != 0 || bad) {
		cli_error(cmd, "%s: write failed", path);
		return CLI_EXIT_INPUT;
	}
	return CLI_EXIT_OK;
}

/* DIR/sim_NNNNNN/{ResultManagement,Trace,Heads}.json */
static int simulate__mqtt(const char *cmd, const char *dir,
			  const struct abyss_hole *h, uint64_t seed)
{
	char *msg[3] = {NULL, NULL, NULL}, path[4096];
	static const char *const names[3] = {"ResultManagement.json",
					     "Trace.json", "Heads.json"};
	int rc, i;

	rc = abyss_hole_to_msgs(h, NULL, &msg[0], &msg[1], &msg[2]);
	if (rc) {
		cli_error(cmd, "seed %llu: MQTT messages: %s",
			  (unsigned long long)seed, abyss_strerror(rc));
		return CLI_EXIT_INTERNAL;
	}
	snprintf(path, sizeof(path), "%s/sim_%06llu", dir,
		 (unsigned long long)seed);
	rc = CLI_EXIT_OK;
	if (mkdir(path, 0777) != 0 && errno != EEXIST) {
		cli_error(cmd, "%s: %s", path, strerror(errno));
		rc = CLI_EXIT_INPUT;
	}
	for (i = 0; i < 3 && rc == CLI_EXIT_OK; i++) {
		snprintf(path, sizeof(path), "%s/sim_%06llu/%s", dir,
			 (unsigned long long)seed, names[i]);
		rc = simulate__write_text(cmd, path, msg[i]);
	}
	for (i = 0; i < 3; i++)
		free(msg[i]);
	return rc;
}

static int simulate__one(const char *cmd, const char *dir, int xls, int mqtt,
			 const struct abyss_sim_spec *spec, uint64_t seed,
			 struct abyss_hole *h)
{
	struct abyss_sim_truth truth;
	char path[4096];
	FILE *f;
	int rc;

	rc = abyss_sim_hole(spec, seed, h, &truth);
	if (rc) {
		cli_error(cmd, "seed %llu: %s", (unsigned long long)seed,
			  abyss_strerror(rc));
		return rc == ABYSS_ENOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE;
	}
	if (mqtt) {
		rc = simulate__mqtt(cmd, dir, h, seed);
		if (rc)
			return rc;
	}
	if (xls) {
		snprintf(path, sizeof(path), "%s/sim_%06llu.xls", dir,
			 (unsigned long long)seed);
		f = fopen(path, "wb");
		if (!f) {
			cli_error(cmd, "%s: %s", path, strerror(errno));
			return CLI_EXIT_INPUT;
		}
		rc = abyss_sim_write_setitec(f, h, spec);
		if (fclose(f) != 0 || rc) {
			cli_error(cmd, "%s: write failed", path);
			return CLI_EXIT_INPUT;
		}
	}
	snprintf(path, sizeof(path), "%s/sim_%06llu.truth.json", dir,
		 (unsigned long long)seed);
	f = fopen(path, "wb");
	if (!f) {
		cli_error(cmd, "%s: %s", path, strerror(errno));
		return CLI_EXIT_INPUT;
	}
	rc = abyss_sim_write_truth(f, &truth, spec);
	if (fclose(f) != 0 || rc) {
		cli_error(cmd, "%s: write failed", path);
		return CLI_EXIT_INPUT;
	}
	return CLI_EXIT_OK;
}

int cmd_simulate(int argc, char **argv)
{
	const char *cmd = argv[0], *out = NULL, *format = "xls";
	struct abyss_sim_spec spec;
	struct abyss_diag diag;
	struct abyss_hole h;
	long count = 1, seed = 1, i;
	int a, rc = CLI_EXIT_OK, xls = 0, mqtt = 0;

	abyss_sim_default(&spec);
	abyss_diag_init(&diag);
	for (a = 1; a < argc; a++) {
		const char *o = argv[a], *v = a + 1 < argc ? argv[a + 1] : NULL;

		if (cli_is_help(o)) {
			simulate__usage(stdout);
			return CLI_EXIT_OK;
		}
		if (!v || strncmp(o, "--", 2) != 0) {
			cli_error(cmd, "%s: %s", o,
				  v ? "unknown option" : "missing value");
			simulate__usage(stderr);
			return CLI_EXIT_USAGE;
		}
		a++;
		if (strcmp(o, "--out") == 0) {
			out = v;
		} else if (strcmp(o, "--format") == 0) {
			format = v;
		} else if (strcmp(o, "--count") == 0) {
			if (cli_parse_long(cmd, o, v, &count) < 0)
				return CLI_EXIT_USAGE;
		} else if (strcmp(o, "--seed") == 0) {
			if (cli_parse_long(cmd, o, v, &seed) < 0)
				return CLI_EXIT_USAGE;
		} else if (strcmp(o, "--noise") == 0) {
			if (cli_parse_double(cmd, o, v, &spec.noise) < 0)
				return CLI_EXIT_USAGE;
		} else if (strcmp(o, "--approach") == 0) {
			if (cli_parse_double(cmd, o, v, &spec.approach_mm) < 0)
				return CLI_EXIT_USAGE;
		} else if (strcmp(o, "--air-gap") == 0) {
			if (cli_parse_double(cmd, o, v, &spec.air_gap_mm) < 0)
				return CLI_EXIT_USAGE;
		} else if (strcmp(o, "--diameter") == 0) {
			if (cli_parse_double(cmd, o, v, &spec.diameter_mm) < 0)
				return CLI_EXIT_USAGE;
		} else if (strcmp(o, "--stack") == 0) {
			if (abyss_sim_parse_stack(v, &spec, &diag)) {
				cli_error(cmd, "--stack '%s': column %zu: %s",
					  v, diag.col, diag.msg);
				return CLI_EXIT_USAGE;
			}
		} else if (strcmp(o, "--program") == 0) {
			if (abyss_sim_parse_program(v, &spec, &diag)) {
				cli_error(cmd, "--program '%s': column %zu: %s",
					  v, diag.col, diag.msg);
				return CLI_EXIT_USAGE;
			}
		} else {
			cli_error(cmd, "unknown option %s", o);
			simulate__usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (!out) {
		cli_error(cmd, "--out DIR is required");
		simulate__usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (count < 1 || count > SIMULATE__MAX_COUNT) {
		cli_error(cmd, "--count must be 1..%ld", SIMULATE__MAX_COUNT);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(format, "xls") == 0)
		xls = 1;
	else if (strcmp(format, "mqtt") == 0)
		mqtt = 1;
	else if (strcmp(format, "both") == 0)
		xls = mqtt = 1;
	else {
		cli_error(cmd, "--format %s: expected xls, mqtt or both",
			  format);
		return CLI_EXIT_USAGE;
	}
	if (abyss_sim_validate(&spec, &diag)) {
		cli_error(cmd, "%s", diag.msg);
		return CLI_EXIT_USAGE;
	}
	if (simulate__mkdirs(out) != 0) {
		cli_error(cmd, "%s: %s", out, strerror(errno));
		return CLI_EXIT_INPUT;
	}
	abyss_hole_init(&h);
	for (i = 0; i < count && rc == CLI_EXIT_OK; i++)
		rc = simulate__one(cmd, out, xls, mqtt, &spec,
				   (uint64_t)(seed + i), &h);
	abyss_hole_free(&h);
	if (rc == CLI_EXIT_OK)
		fprintf(stderr, "abyss simulate: wrote %ld hole%s to %s\n",
			count, count == 1 ? "" : "s", out);
	return rc;
}
