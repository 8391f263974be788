/*
 * fuzz_http_addr.c - libFuzzer target for the HTTP listen-address parser.
 *
 * src/http/ is linked into the binary, not into libabyss, and the fuzz
 * builds link only the library, so the parser's file is compiled in here
 * directly (it needs nothing but abyss_diag_set from libabyss).
 * Checks: no crash or overread; on success the host fits, the port is in
 * range, and writing the parts back gives an address that parses the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/addr.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char addr[1024], host[HTTP__HOST_MAX], host2[HTTP__HOST_MAX];
	char again[HTTP__HOST_MAX + 16];
	struct abyss_diag d;
	long port = -1, port2 = -1;

	if (size >= sizeof(addr))
		return 0;
	memcpy(addr, data, size);
	addr[size] = '\0';
	abyss_diag_init(&d);
	if (http__split_addr(addr, host, sizeof(host), &port, &d) != 0) {
		if (d.code != ABYSS_ECONFIG || !d.msg[0])
			abort();
		return 0;
	}
	if (strlen(host) >= sizeof(host) || port < 0 || port > 65535)
		abort();
	snprintf(again, sizeof(again),
		 strchr(host, ':') ? "[%s]:%ld" : "%s:%ld", host, port);
	if (http__split_addr(again, host2, sizeof(host2), &port2, NULL) != 0 ||
	    strcmp(host, host2) != 0 || port != port2)
		abort();
	return 0;
}
