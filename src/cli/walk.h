/*
 * walk.h - the list of inputs a command works on: files named on the command
 * line, plus what a recursive walk of named folders finds (Setitec .xls files
 * and MQTT message folders), sorted so output order is reproducible.
 */
#ifndef ABYSS_CLI_WALK_H
#define ABYSS_CLI_WALK_H

#include <stddef.h>

#define CLI_PATHS_MAX 10000000 /* inputs per run; more is an error */

struct cli_paths {
	char **v;
	size_t n, cap;
};

void cli_paths_init(struct cli_paths *p);
void cli_paths_free(struct cli_paths *p);

/* Adds `arg`: a file is added as is; a folder that is an MQTT message folder
 * is added as one input (and still walked when `recurse`, for the .xls twins
 * beside the messages); any other folder is walked when `recurse`. Returns
 * 0, or -1 with errno set (ENOENT, ENOMEM, E2BIG past CLI_PATHS_MAX). */
int cli_paths_add(struct cli_paths *p, const char *arg, int recurse);

#endif
