/*
 * fuzz_metrics.c - libFuzzer target for the metrics registry's validation
 * and text rendering.
 *
 * The input is split at NUL bytes into a metric name, a help text, a label
 * name and a label value. Registration must accept or refuse without harm;
 * when it accepts, the rendered page must be one line per sample, and the
 * label value read back from the page (escapes undone) must equal the input.
 * metrics.c is compiled in here because src/service/ is not in libabyss.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/metrics.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Undoes the label-value escapes from p up to the closing quote. */
static size_t unescape(const char *p, char *out, size_t cap)
{
	size_t n = 0;

	for (; *p && *p != '"' && n + 1 < cap; p++) {
		if (*p == '\\') {
			p++;
			out[n++] = *p == 'n' ? '\n' : *p;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const double b[] = {0.5, 1};
	char buf[1024], page[8192], back[ABYSS_METRICS_LVALUE_MAX];
	char needle[2 * sizeof(buf) + 8];
	const char *part[4] = {"", "", "", ""};
	struct abyss_metrics_limits lim = {4, 8, 16};
	struct abyss_metrics *r;
	struct abyss_metric *c = NULL, *h = NULL;
	size_t i, k = 0;
	const char *p;

	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	part[0] = buf;
	for (i = 0; i < size && k < 3; i++)
		if (buf[i] == '\0')
			part[++k] = buf + i + 1;
	if (abyss_metrics_new(&lim, &r) != 0)
		return 0;
	(void)abyss_metrics_counter(r, part[0], part[1],
				    part[2][0] ? part[2] : NULL, part[3], &c,
				    NULL);
	(void)abyss_metrics_histogram(r, "fz_seconds", part[1],
				      part[2][0] ? part[2] : NULL, part[3], b,
				      2, &h, NULL);
	abyss_metric_inc(c);
	abyss_metric_observe(h, 0.75);
	if (abyss_metrics_render(r, page, sizeof(page), NULL) != 0)
		abort(); /* a few short series always fit in 8 KB */
	for (p = page; *p; p = strchr(p, '\n') + 1) {
		if (!strchr(p, '\n'))
			abort(); /* every line ends */
	}
	if (c && part[2][0]) {
		/* The sample line, not the HELP line (which may hold =" too).
		 */
		snprintf(needle, sizeof(needle), "\n%s{%s=\"", part[0],
			 part[2]);
		p = strstr(page, needle);
		if (!p)
			abort();
		unescape(p + strlen(needle), back, sizeof(back));
		if (strcmp(back, part[3]) != 0)
			abort();
	}
	abyss_metrics_free(r);
	return 0;
}
