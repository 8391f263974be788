/*
 * fuzz_log.c - libFuzzer target for the logger's line building and escaping.
 *
 * src/service/ is linked into the binary, not into libabyss, and the fuzz
 * builds link only the library, so the logger's file is compiled in here
 * directly. Input: byte 0 picks the format and line_max, the rest is split
 * in two at its middle into the message and a field value. Checks: one
 * line, within line_max, ending in its only newline; JSON lines parse; an
 * uncut JSON line whose input was valid UTF-8 gives the input back.
 */
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service/log.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t fixed_clock(void *ctx)
{
	(void)ctx;
	return 1795622400123LL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char line[8192];
	struct abyss_log_opts o = {0};
	struct abyss_log *lg;
	size_t half, n;
	char *msg, *val;
	int fds[2];
	ssize_t r;

	if (size < 1 || size > 4096)
		return 0;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
		return 0;
	o.fd = fds[1];
	o.format = data[0] & 1;
	o.level = ABYSS_LOGL_DEBUG;
	o.line_max = ABYSS_LOG_LINE_MIN + (size_t)(data[0] >> 1) * 16;
	o.clock = fixed_clock;
	if (abyss_log_new(&o, &lg) != 0)
		abort();
	data++;
	size--;
	half = size / 2;
	msg = calloc(1, half + 1);
	val = calloc(1, size - half + 1);
	if (!msg || !val)
		abort();
	memcpy(msg, data, half);
	memcpy(val, data + half, size - half);
	abyss_log_kv(lg, ABYSS_LOGL_WARN, msg, "v", val, NULL);
	r = read(fds[0], line, sizeof(line) - 1);
	if (r <= 0)
		abort();
	n = (size_t)r;
	line[n] = '\0';
	if (n > o.line_max || line[n - 1] != '\n' ||
	    memchr(line, '\n', n - 1) != NULL)
		abort();
	if (o.format == ABYSS_LOGF_JSON) {
		json_t *j = json_loads(line, 0, NULL);
		const char *m;

		if (!j)
			abort();
		m = json_string_value(json_object_get(j, "msg"));
		if (!m)
			abort();
		/* Uncut and valid UTF-8 (jansson checks): exact round trip. */
		if (!json_object_get(j, "truncated") && strlen(msg) == half) {
			json_t *probe = json_stringn(msg, half);

			if (probe && strcmp(m, msg) != 0)
				abort();
			json_decref(probe);
		}
		json_decref(j);
	}
	abyss_log_free(lg);
	free(msg);
	free(val);
	close(fds[0]);
	close(fds[1]);
	return 0;
}
