/*
 * fuzz_setitec.c - libFuzzer target for the Setitec parser and the hole
 * mapping: parse, walk every section/table/cell and column the API hands
 * out, map to a hole. Small limits keep each input cheap; the limits
 * themselves are exercised by tests/unit/test_setitec_corrupt.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/hole.h"
#include "abyss/setitec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct abyss_setitec_limits lim;
	struct abyss_setitec *f = NULL;
	struct abyss_diag d;
	struct abyss_hole h;
	volatile size_t sink = 0;
	size_t i, j, r, c;
	char msg[1200];

	abyss_setitec_limits_default(&lim);
	lim.max_rows = 100000;
	lim.max_values = 1000000;
	lim.max_line_bytes = 65536;
	abyss_diag_init(&d);
	if (abyss_setitec_parse((const char *)data, size, &lim, &f, &d) != 0) {
		abyss_diag_format(&d, msg, sizeof(msg));
		return 0;
	}
	for (i = 0; i < f->nsections; i++) {
		const struct abyss_setitec_section *s = &f->sections[i];
		sink += strlen(s->title);
		for (j = 0; j < s->ntables; j++) {
			const struct abyss_setitec_table *t = &s->tables[j];
			for (c = 0; c < t->nnames; c++)
				sink += strlen(t->names[c]);
			for (r = 0; r < t->nrows; r++)
				for (c = 0; c < t->rows[r].ncells + 2; c++)
					sink +=
					    strlen(abyss_setitec_cell(t, r, c));
		}
	}
	for (i = 0; i < f->ncolumns; i++) {
		sink += strlen(f->columns[i].name);
		if (f->columns[i].values && f->nsamples)
			sink += f->columns[i].values[f->nsamples - 1] > 0;
	}
	for (i = 0; i < f->nstep_results; i++)
		sink += strlen(f->step_results[i].stop_names);
	sink += strlen(f->general.date) + strlen(f->head.name) +
		strlen(f->pset.number) + strlen(f->box.firmware);
	abyss_hole_init(&h);
	if (abyss_hole_from_setitec(f, &h, &d) == 0)
		sink += h.n + abyss_hole_distinct_steps(&h);
	abyss_hole_free(&h);
	abyss_setitec_free(f);
	(void)sink;
	return 0;
}
