/*
 * addr.c - splits the HTTP listen address ("HOST:PORT", "[IPV6]:PORT",
 * ":PORT") into host and port. Only text: resolving and binding are in
 * http.c. Kept apart from libmicrohttpd so that the fuzz target can build it
 * alone (tests/fuzz/fuzz_http_addr.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/error.h"
#include "http_internal.h"

/* abyss_diag_set() returns its code; repeating the (constant) code here lets
 * the static analyzer see that an error path never returns 0. */
#define DIAG_FAIL(d, code, line, col, ...)                                     \
	(abyss_diag_set((d), (code), (line), (col), __VA_ARGS__), (code))

int http__split_addr(const char *addr, char *host, size_t hcap, long *port,
		     struct abyss_diag *diag)
{
	const char *colon, *hs = addr, *he;
	char *end;

	if (addr[0] == '[') {
		he = strchr(addr, ']');
		if (!he || he == addr + 1 || he[1] != ':')
			return DIAG_FAIL(diag, ABYSS_ECONFIG, 0, 1,
					 "HTTP address \"%s\": expected "
					 "[IPV6]:PORT",
					 addr);
		hs = addr + 1;
		colon = he + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
			return DIAG_FAIL(diag, ABYSS_ECONFIG, 0, 0,
					 "HTTP address \"%s\": expected "
					 "HOST:PORT, [IPV6]:PORT or :PORT",
					 addr);
		he = colon;
	}
	if ((size_t)(he - hs) >= hcap)
		return DIAG_FAIL(diag, ABYSS_ECONFIG, 0, 1,
				 "HTTP address: host name too long");
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	if (strpbrk(host, "[]"))
		return DIAG_FAIL(diag, ABYSS_ECONFIG, 0, 1,
				 "HTTP address \"%s\": stray bracket", addr);
	errno = 0;
	*port = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end || errno || *port < 0 ||
	    *port > 65535)
		return DIAG_FAIL(
		    diag, ABYSS_ECONFIG, 0, (size_t)(colon - addr) + 2,
		    "HTTP address \"%s\": the port must be 0..65535", addr);
	return 0;
}
