/*
 * fuzz_message.c - libFuzzer target for the MQTT message decoder: the input
 * is split at its first NUL into a Trace payload and a Result payload (no
 * NUL: both halves are the whole input); each is parsed, then the pair is
 * turned into a hole and, when that works, written back as messages and
 * decoded again, which must succeed. The legacy/raw readers see the whole
 * input too. Replayed by `make test` through replay_main.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/hole.h"
#include "abyss/hole_io.h"
#include "abyss/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const struct abyss_hole *h)
{
	char *r = NULL, *t = NULL;
	struct abyss_msg *mr = NULL, *mt = NULL;
	struct abyss_hole back;

	int rc = abyss_hole_to_msgs(h, NULL, &r, &t, NULL);

	/* a decoded hole must be writable, unless its result_id is not an
	 * integer (legacy/raw inputs), which to_msgs refuses by contract */
	if (rc == ABYSS_EINVAL && h->source != ABYSS_SOURCE_MQTT)
		return;
	if (rc != 0)
		abort();
	abyss_hole_init(&back);
	if (abyss_msg_parse("R/a/b/ResultManagement", r, strlen(r), NULL, &mr,
			    NULL) != 0 ||
	    abyss_msg_parse("R/a/b/ResultManagement/Trace", t, strlen(t), NULL,
			    &mt, NULL) != 0 ||
	    abyss_hole_from_msgs(mr, mt, NULL, NULL, &back, NULL) != 0 ||
	    back.n != h->n)
		abort();
	abyss_hole_free(&back);
	abyss_msg_free(mr);
	abyss_msg_free(mt);
	free(r);
	free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *nul = memchr(p, '\0', size);
	size_t la = nul ? (size_t)(nul - p) : size;
	const char *b = nul ? nul + 1 : p;
	size_t lb = nul ? size - la - 1 : size;
	struct abyss_msg *tr = NULL, *res = NULL;
	struct abyss_hole h;
	struct abyss_diag d;

	abyss_hole_init(&h);
	abyss_diag_init(&d);
	if (abyss_msg_parse("OPCPUBSUB/tb/tool/ResultManagement/Trace", p, la,
			    NULL, &tr, &d) == 0 &&
	    abyss_msg_parse("OPCPUBSUB/tb/tool/ResultManagement", b, lb, NULL,
			    &res, &d) == 0 &&
	    abyss_hole_from_msgs(res, tr, NULL, NULL, &h, &d) == 0)
		round_trip(&h);
	if (tr && res &&
	    abyss_msg_same_data(tr, res) != abyss_msg_same_data(res, tr))
		abort(); /* the duplicate test must be symmetric */
	if (tr && !abyss_msg_same_data(tr, tr))
		abort();
	abyss_msg_free(tr);
	abyss_msg_free(res);
	if (abyss_hole_from_json(p, size, &h, &d) == 0 && h.n)
		round_trip(&h);
	abyss_hole_free(&h);
	return 0;
}
