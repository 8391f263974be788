/*
 * ml.c - the ml method: the original production estimator (§4.1): entry
 * (§4.2) and transition (§4.3) from the compat heuristics, exit from the
 * PatchTSMixer exit pipeline (§4.4, src/nn/exit.c) with a loaded model.
 * The model is loaded once by the caller (abyss_ml_model_load) and shared.
 */
#include <math.h>

#include "abyss/nn.h"
#include "depth_internal.h"

int depth__ml(const struct abyss_hole *h, const struct abyss_ml_model *model,
	      struct abyss_scratch *scratch, struct abyss_estimate *out,
	      struct abyss_diag *diag)
{
	struct abyss_exit_result res;
	int rc;

	if (!model) {
		depth__fail(&out->entry, ABYSS_EINVAL,
			    "the ml method needs a model (--model DIR)");
		return depth__fail(&out->exit, ABYSS_EINVAL,
				   "the ml method needs a model (--model DIR)");
	}
	/* entry and transition exactly as compat; its exit is replaced */
	depth__compat(h, scratch, out, NULL);
	out->method = ABYSS_METHOD_ML;
	rc = abyss_ml_exit(model, h, &res, diag);
	if (rc)
		return depth__fail(&out->exit, rc, "%s",
				   diag && diag->msg[0] ? diag->msg
							: abyss_strerror(rc));
	depth__set(&out->exit, -1, res.exit_mm, 1.0);
	return out->entry.found ? ABYSS_OK : out->entry.code;
}
