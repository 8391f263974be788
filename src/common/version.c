/* version.c - the version string of the linked library. */
#include "abyss/version.h"

const char *abyss_version(void)
{
	return ABYSS_VERSION;
}
