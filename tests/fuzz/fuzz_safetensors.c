/*
 * fuzz_safetensors.c - libFuzzer target for the safetensors reader: any
 * byte string must either parse (and then every tensor must lie inside the
 * buffer and convert without reading past it) or fail with a code and a
 * message. Also feeds the same bytes to the PatchTSMixer config parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/nn.h"
#include "abyss/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct abyss_st_limits lim = {1 << 16, 4096, 256};
	struct abyss_st_file *f = NULL;
	struct abyss_nn_config cfg;
	struct abyss_diag d;
	size_t i;

	abyss_diag_init(&d);
	if (abyss_st_parse(data, size, &lim, &f, &d) == 0) {
		for (i = 0; i < abyss_st_count(f); i++) {
			const struct abyss_st_tensor *t = abyss_st_at(f, i);
			double *buf;

			if (t->data < data || t->data + t->nbytes > data + size)
				abort();
			if (abyss_st_find(f, t->name) != t)
				abort();
			buf = malloc(t->nelem ? t->nelem * sizeof(double) : 1);
			if (!buf)
				continue;
			if (abyss_st_read_f64(t, buf, t->nelem) != 0)
				abort();
			free(buf);
		}
		abyss_st_close(f);
	} else if (d.msg[0] == '\0') {
		abort(); /* every failure explains itself */
	}
	abyss_nn_config_parse((const char *)data, size, &cfg, NULL);
	return 0;
}
