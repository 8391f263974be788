/* http_internal.h - names shared between the files of src/http/. */
#ifndef ABYSS_HTTP_INTERNAL_H
#define ABYSS_HTTP_INTERNAL_H

#include <stddef.h>

#include "abyss/error.h"

/* Longest host part of a listen address, NUL included. */
#define HTTP__HOST_MAX 256

/* Splits addr into host (NUL-terminated into host[hcap]; "" for ":PORT",
 * which means loopback) and *port (0..65535). The brackets of "[V6]:PORT"
 * are removed. Returns 0 or ABYSS_ECONFIG with a reason in diag (may be
 * NULL); host and *port are then unspecified. */
int http__split_addr(const char *addr, char *host, size_t hcap, long *port,
		     struct abyss_diag *diag);

#endif
