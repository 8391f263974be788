/* cmd_bench.c - abyss bench (placeholder until the module behind it lands). */
#include "cli.h"

int cmd_bench(int argc, char **argv)
{
	(void)argc;
	cli_error(argv[0], "not built yet");
	return CLI_EXIT_INTERNAL;
}
