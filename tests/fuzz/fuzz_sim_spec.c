/*
 * fuzz_sim_spec.c - libFuzzer target for the simulator's --stack and
 * --program parsers, then (for small valid specs) the simulator and the
 * gradient estimator on the hole it makes. Input: "STACK\nPROGRAM".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/depth.h"
#include "abyss/sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct abyss_sim_spec sp;
	struct abyss_diag d;
	struct abyss_hole h;
	struct abyss_estimate e;
	char buf[1024], *nl;
	double samples = 0.0;
	size_t i;

	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	abyss_sim_default(&sp);
	nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	if (abyss_sim_parse_stack(buf, &sp, &d) != 0)
		return 0;
	if (nl && abyss_sim_parse_program(nl + 1, &sp, &d) != 0)
		return 0;
	if (abyss_sim_validate(&sp, &d) != 0)
		return 0;
	for (i = 0; i < sp.nsteps; i++)
		samples +=
		    sp.steps[i].stroke_mm / sp.steps[i].feed_mm_s * 100.0;
	if (samples > 20000.0) /* keep each run fast */
		return 0;
	abyss_hole_init(&h);
	if (abyss_sim_hole(&sp, 1, &h, NULL) == 0)
		abyss_estimate(&h, NULL, &e, NULL);
	abyss_hole_free(&h);
	return 0;
}
