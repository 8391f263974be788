/* cmd_estimate.c - abyss estimate (placeholder until the module behind it
 * lands). */
#include "cli.h"

int cmd_estimate(int argc, char **argv)
{
	(void)argc;
	cli_error(argv[0], "not built yet");
	return CLI_EXIT_INTERNAL;
}
