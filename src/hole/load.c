/*
 * load.c - read one hole from a path, whatever its format (see load.h).
 * Recognition only; the parsing is done by the Setitec and message modules.
 */
#include "abyss/load.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int exists_file(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;
	int w = snprintf(path, sizeof(path), "%s/%s", dir, name);

	if (w < 0 || (size_t)w >= sizeof(path))
		return 0;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

enum abyss_input_kind abyss_input_kind(const char *path)
{
	struct stat st;
	size_t n;

	if (!path || stat(path, &st) != 0)
		return ABYSS_INPUT_UNKNOWN;
	if (S_ISDIR(st.st_mode)) {
		if (exists_file(path, "Trace.json") &&
		    (exists_file(path, "Result.json") ||
		     exists_file(path, "ResultManagement.json")))
			return ABYSS_INPUT_MQTT_FOLDER;
		return ABYSS_INPUT_UNKNOWN;
	}
	if (!S_ISREG(st.st_mode))
		return ABYSS_INPUT_UNKNOWN;
	n = strlen(path);
	if (n > 5 && strcmp(path + n - 5, ".json") == 0)
		return ABYSS_INPUT_LEGACY_JSON;
	return ABYSS_INPUT_SETITEC;
}

int abyss_hole_load(const char *path, struct abyss_hole *h,
		    struct abyss_diag *diag)
{
	abyss_hole_free(h);
	abyss_diag_set_file(diag, path);
	return abyss_diag_set(diag, ABYSS_ENOTIMPL, 0, 0,
			      "reading holes is not built yet");
}
