/* cmd_convert.c - abyss convert (placeholder until the module behind it lands).
 */
#include "cli.h"

int cmd_convert(int argc, char **argv)
{
	(void)argc;
	cli_error(argv[0], "not built yet");
	return CLI_EXIT_INTERNAL;
}
