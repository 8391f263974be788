/*
 * abyss/load.h - read one hole from whatever a path holds.
 *
 * The front door for tools: a Setitec .xls file, a folder of MQTT messages
 * (Result.json or ResultManagement.json, Trace.json, optional Heads.json), or
 * a legacy single-message JSON file. The format is recognised from the path
 * and the first bytes, never from the extension alone.
 */
#ifndef ABYSS_LOAD_H
#define ABYSS_LOAD_H

#include "abyss/error.h"
#include "abyss/hole.h"

#ifdef __cplusplus
extern "C" {
#endif

enum abyss_input_kind {
	ABYSS_INPUT_UNKNOWN = 0,
	ABYSS_INPUT_SETITEC,	 /* a Setitec file */
	ABYSS_INPUT_MQTT_FOLDER, /* a folder with Result + Trace messages */
	ABYSS_INPUT_LEGACY_JSON	 /* a legacy single-message JSON file */
};

/* Says what `path` holds without parsing it fully. A folder counts as an
 * MQTT folder when it holds a Trace.json and a Result.json or
 * ResultManagement.json. Returns ABYSS_INPUT_UNKNOWN for anything else
 * (including a folder of files, which callers walk themselves). */
enum abyss_input_kind abyss_input_kind(const char *path);

/* Reads one hole from path into h (initialised by the caller; freed and
 * refilled). On failure h is empty and diag says file, line, column and why.
 * Returns 0 or the code of the underlying parser (ABYSS_ENOTSETITEC,
 * ABYSS_EJSON, ABYSS_EPARSE, ABYSS_EIO, ...). */
int abyss_hole_load(const char *path, struct abyss_hole *h,
		    struct abyss_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
