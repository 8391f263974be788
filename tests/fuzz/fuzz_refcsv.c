/*
 * fuzz_refcsv.c - libFuzzer target for the ref_15T.csv reader of the exit
 * pipeline: any bytes either parse into rows x 15 finite doubles or fail
 * with a code, a message and a position.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "abyss/nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct abyss_diag d;
	double *t = NULL;
	size_t rows = 0, i;

	abyss_diag_init(&d);
	if (abyss_exit_ref_parse((const char *)data, size, 1000, &t, &rows,
				 &d) == 0) {
		if (rows > 1000)
			abort();
		for (i = 0; i < rows * ABYSS_EXIT_TORQUE_CH; i++)
			if (!isfinite(t[i]))
				abort();
		free(t);
	} else if (d.msg[0] == '\0' || (d.code == ABYSS_EPARSE && !d.line)) {
		abort();
	}
	return 0;
}
