/*
 * main.c - the abyss command: dispatches to one subcommand per file, in the
 * style of git. Nothing here knows about drilling.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/version.h"
#include "cli.h"

struct cli_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct cli_command commands[] = {
    {"inspect", cmd_inspect,
     "show a Setitec file's sections, metadata and signal statistics"},
    {"estimate", cmd_estimate,
     "estimate entry, transition and exit for files or folders"},
    {"convert", cmd_convert,
     "convert a drill file to JSON, CSV or MQTT messages"},
    {"simulate", cmd_simulate, "write synthetic holes with exact ground truth"},
    {"model", cmd_model,
     "PatchTSMixer checkpoints: info, run (forward pass on a tensor)"},
    {"publish", cmd_publish,
     "replay holes to an MQTT broker; measure end-to-end latency"},
    {"bench", cmd_bench, "measure parser and estimator throughput"},
    {"listen", cmd_listen,
     "run the real-time MQTT service (estimate and publish each hole)"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: abyss <command> [options] [args]\n"
		   "       abyss --version | --help\n\n"
		   "Depth estimation for Setitec drilling data: entry, "
		   "transition and exit of each hole.\n\ncommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(f, "\nRun 'abyss <command> --help' for a command's options.\n"
		   "Exit codes: 0 success, 1 some inputs failed, 2 usage "
		   "error,\n            3 unreadable input, 4 internal "
		   "error.\n");
}

void cli_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "abyss %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int cli_parse_long(const char *cmd, const char *opt, const char *s, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0) {
		cli_error(cmd, "%s expects a non-negative integer, got '%s'",
			  opt, s);
		return -1;
	}
	*out = v;
	return 0;
}

int cli_parse_double(const char *cmd, const char *opt, const char *s,
		     double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v)) {
		cli_error(cmd, "%s expects a number, got '%s'", opt, s);
		return -1;
	}
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("abyss %s\n", abyss_version());
		return CLI_EXIT_OK;
	}
	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "abyss: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return CLI_EXIT_USAGE;
}
