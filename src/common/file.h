/*
 * file.h - reading a whole file under a size limit, with a diagnostic.
 * Internal to libabyss (and the daemon): the one place that turns a path
 * into bytes for the JSON, YAML and config readers.
 */
#ifndef ABYSS_COMMON_FILE_H
#define ABYSS_COMMON_FILE_H

#include <stddef.h>

#include "abyss/error.h"

/* Reads the regular file at path into a new NUL-terminated buffer (*buf,
 * free() it; the NUL is not counted in *len). Sets diag->file to path.
 * Errors, with a sentence in diag: ABYSS_ENOENT, ABYSS_EIO (cannot open, not
 * a regular file, read error), ABYSS_ETOOBIG (larger than max bytes),
 * ABYSS_ENOMEM. On error *buf is NULL and *len 0. */
int common__read_file(const char *path, size_t max, char **buf, size_t *len,
		      struct abyss_diag *diag);

#endif
