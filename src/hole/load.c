/*
 * load.c - read one hole from a path, whatever its format (see load.h).
 * Recognition only; the parsing is done by the Setitec and message modules.
 */
#include "abyss/load.h"

#include "abyss/message.h"
#include "abyss/setitec.h"

#include "../common/file.h"

#include <errno.h>
#include <stdlib.h>

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

/* A JSON rendering of one hole (legacy single message, or raw.json), read
 * whole up to the message size limit. */
static int load__json(const char *path, struct abyss_hole *h,
		      struct abyss_diag *diag)
{
	struct abyss_msg_limits lim = abyss_msg_limits_default();
	char *buf;
	size_t len;
	int rc;

	rc = common__read_file(path, lim.max_payload_bytes, &buf, &len, diag);
	if (rc)
		return rc;
	rc = abyss_hole_from_json(buf, len, h, diag);
	free(buf);
	if (rc == 0)
		snprintf(h->source_name, sizeof(h->source_name), "%s", path);
	return rc;
}

int abyss_hole_load(const char *path, struct abyss_hole *h,
		    struct abyss_diag *diag)
{
	abyss_hole_free(h);
	switch (abyss_input_kind(path)) {
	case ABYSS_INPUT_SETITEC:
		return abyss_hole_load_setitec(path, NULL, h, diag);
	case ABYSS_INPUT_MQTT_FOLDER: {
		struct abyss_data_ids ids = abyss_data_ids_default();
		int rc = abyss_hole_from_msg_folder(path, &ids, h, diag);
		if (rc == 0)
			snprintf(h->source_name, sizeof(h->source_name), "%s",
				 path);
		return rc;
	}
	case ABYSS_INPUT_LEGACY_JSON:
		return load__json(path, h, diag);
	case ABYSS_INPUT_UNKNOWN:
	default:
		break;
	}
	abyss_diag_set_file(diag, path);
	return abyss_diag_set(diag, ABYSS_ENOENT, 0, 0,
			      "not a file or a folder of MQTT messages");
}
