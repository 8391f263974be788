/*
 * cli.h - shared declarations of the abyss command line.
 * One file per subcommand (cmd_<name>.c) defines int cmd_<name>(argc, argv),
 * where argv[0] is the subcommand name. Exit codes are documented in
 * man/abyss.1 and `abyss --help`.
 */
#ifndef ABYSS_CLI_H
#define ABYSS_CLI_H

#include <stdio.h>

enum {
	CLI_EXIT_OK = 0,       /* success */
	CLI_EXIT_FAILURES = 1, /* ran, but some inputs failed (see summary) */
	CLI_EXIT_USAGE = 2,    /* bad command line */
	CLI_EXIT_INPUT = 3,    /* an input could not be read or parsed */
	CLI_EXIT_INTERNAL = 4  /* out of memory or another internal error */
};

int cmd_inspect(int argc, char **argv);
int cmd_estimate(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_listen(int argc, char **argv);
int cmd_publish(int argc, char **argv);

/* Prints "abyss <cmd>: <formatted message>\n" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Returns 1 when argv[i] is -h or --help. */
int cli_is_help(const char *arg);

/* Parses a non-negative integer / a finite double option value; on error
 * prints a message naming the option and returns -1. */
int cli_parse_long(const char *cmd, const char *opt, const char *s, long *out);
int cli_parse_double(const char *cmd, const char *opt, const char *s,
		     double *out);

#endif
