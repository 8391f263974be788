/* gradient.c - placeholder until the gradient estimator lands. */
#include "depth_internal.h"

int depth__gradient(const struct abyss_hole *h, struct abyss_scratch *scratch,
		    struct abyss_estimate *out, struct abyss_diag *diag)
{
	(void)h;
	(void)scratch;
	(void)diag;
	depth__fail(&out->entry, ABYSS_ENOTIMPL, "gradient is not built yet");
	return depth__fail(&out->exit, ABYSS_ENOTIMPL,
			   "gradient is not built yet");
}
