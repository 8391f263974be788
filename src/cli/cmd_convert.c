/*
 * cmd_convert.c - abyss convert: one hole from a Setitec file, an MQTT
 * message folder or a legacy/raw JSON file, written as the abyss.hole/1
 * JSON, a CSV table, or the Result/Trace/Heads messages a drill would send.
 *
 * A thin client of the hole module: reading is abyss_hole_load (which
 * recognises the input), the writers are abyss_hole_write_json/_csv and
 * abyss_hole_to_msgs. It converts
 * exactly one input; walking folders of holes is `abyss estimate`'s job.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "abyss/hole.h"
#include "abyss/hole_io.h"
#include "abyss/load.h"
#include "cli.h"

enum to_format { TO_NONE, TO_JSON, TO_CSV, TO_MQTT };

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: abyss convert --to json|csv|mqtt [options] INPUT\n\n"
	       "Reads one hole and writes it in another form. INPUT is a "
	       "Setitec .xls file,\na folder of MQTT messages (Result.json or "
	       "ResultManagement.json, Trace.json,\noptional Heads.json), or a "
	       "JSON file (legacy single message, or raw.json).\n\n"
	       "options:\n"
	       "  -t, --to F          json: the abyss.hole/1 document; csv: "
	       "one row per sample;\n"
	       "                      mqtt: ResultManagement.json, "
	       "Trace.json, Heads.json\n"
	       "  -o, --output PATH   file to write (json, csv; default "
	       "stdout), or the folder\n"
	       "                      to create or fill (mqtt; required)\n"
	       "      --device NAME   <device> in the message node ids "
	       "(default abyss)\n"
	       "      --namespace NS  node-id namespace (default "
	       "http://airbus.com/IJT/ADrilling)\n"
	       "      --measured-value  2025-06 key style: StepResultValues "
	       "keys end in\n"
	       "                      .MeasuredValue\n"
	       "  -h, --help          this help\n\n"
	       "Positions keep the drill's sign (negative inward). "
	       "docs/messages.md has the\nschemas.\n\n"
	       "exit status: 0 done, 2 usage, 3 the input could not be read, "
	       "4 the output\ncould not be written.\n");
}

static int write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;
	size_t len = strlen(text);
	int ok;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path)) {
		cli_error("convert", "%s/%s: path too long", dir, name);
		return -1;
	}
	f = fopen(path, "wb");
	if (!f) {
		cli_error("convert", "%s: %s", path, strerror(errno));
		return -1;
	}
	ok = fwrite(text, 1, len, f) == len;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok) {
		cli_error("convert", "%s: write failed", path);
		return -1;
	}
	return 0;
}

static int write_mqtt(const struct abyss_hole *h, const char *dir,
		      const struct abyss_msg_write_opts *o)
{
	char *r = NULL, *t = NULL, *hd = NULL;
	struct stat st;
	int rc;

	if (mkdir(dir, 0777) != 0 &&
	    !(errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))) {
		cli_error("convert", "%s: cannot create folder: %s", dir,
			  strerror(errno));
		return CLI_EXIT_INTERNAL;
	}
	rc = abyss_hole_to_msgs(h, o, &r, &t, &hd);
	if (rc) {
		cli_error("convert", "cannot render messages: %s",
			  abyss_strerror(rc));
		return CLI_EXIT_INTERNAL;
	}
	/* ResultManagement.json: the name the original's publisher needs */
	rc = write_file(dir, "ResultManagement.json", r) ||
	     write_file(dir, "Trace.json", t) ||
	     write_file(dir, "Heads.json", hd);
	free(r);
	free(t);
	free(hd);
	return rc ? CLI_EXIT_INTERNAL : CLI_EXIT_OK;
}

static int need_value(int argc, char **argv, int i)
{
	if (i + 1 >= argc) {
		cli_error("convert", "%s needs a value", argv[i]);
		return 0;
	}
	return 1;
}

int cmd_convert(int argc, char **argv)
{
	struct abyss_msg_write_opts o = abyss_msg_write_opts_default();
	enum to_format to = TO_NONE;
	const char *in = NULL, *out = NULL;
	struct abyss_hole h;
	struct abyss_diag d;
	char msg[1200];
	FILE *f;
	int i, rc;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a)) {
			usage(stdout);
			return CLI_EXIT_OK;
		} else if (!strcmp(a, "-t") || !strcmp(a, "--to")) {
			if (!need_value(argc, argv, i))
				return CLI_EXIT_USAGE;
			a = argv[++i];
			if (!strcmp(a, "json"))
				to = TO_JSON;
			else if (!strcmp(a, "csv"))
				to = TO_CSV;
			else if (!strcmp(a, "mqtt"))
				to = TO_MQTT;
			else {
				cli_error("convert",
					  "--to expects json, csv or mqtt, got "
					  "'%s'",
					  a);
				return CLI_EXIT_USAGE;
			}
		} else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
			if (!need_value(argc, argv, i))
				return CLI_EXIT_USAGE;
			out = argv[++i];
		} else if (!strcmp(a, "--device")) {
			if (!need_value(argc, argv, i))
				return CLI_EXIT_USAGE;
			o.device = argv[++i];
		} else if (!strcmp(a, "--namespace")) {
			if (!need_value(argc, argv, i))
				return CLI_EXIT_USAGE;
			o.ns = argv[++i];
		} else if (!strcmp(a, "--measured-value")) {
			o.measured_value = 1;
		} else if (a[0] == '-' && a[1]) {
			cli_error("convert", "unknown option '%s' (see --help)",
				  a);
			return CLI_EXIT_USAGE;
		} else if (in) {
			cli_error("convert",
				  "one input at a time ('%s' and "
				  "'%s')",
				  in, a);
			return CLI_EXIT_USAGE;
		} else {
			in = a;
		}
	}
	if (!in || to == TO_NONE) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (to == TO_MQTT && !out) {
		cli_error("convert", "--to mqtt needs -o FOLDER");
		return CLI_EXIT_USAGE;
	}

	abyss_hole_init(&h);
	abyss_diag_init(&d);
	rc = abyss_hole_load(in, &h, &d);
	if (rc) {
		if (!d.file[0])
			abyss_diag_set_file(&d, in);
		cli_error("convert", "%s",
			  abyss_diag_format(&d, msg, sizeof(msg)));
		abyss_hole_free(&h);
		return rc == ABYSS_ENOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_INPUT;
	}

	if (to == TO_MQTT) {
		rc = write_mqtt(&h, out, &o);
		abyss_hole_free(&h);
		return rc;
	}
	f = out ? fopen(out, "wb") : stdout;
	if (!f) {
		cli_error("convert", "%s: %s", out, strerror(errno));
		abyss_hole_free(&h);
		return CLI_EXIT_INTERNAL;
	}
	rc = to == TO_JSON ? abyss_hole_write_json(&h, f)
			   : abyss_hole_write_csv(&h, f);
	if (out && fclose(f) != 0 && !rc)
		rc = ABYSS_EIO;
	abyss_hole_free(&h);
	if (rc) {
		cli_error("convert", "%s: %s", out ? out : "stdout",
			  abyss_strerror(rc));
		return CLI_EXIT_INTERNAL;
	}
	return CLI_EXIT_OK;
}
