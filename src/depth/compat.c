/* compat.c - placeholder until the port of the original estimators lands. */
#include "depth_internal.h"

int depth__compat(const struct abyss_hole *h, struct abyss_scratch *scratch,
		  struct abyss_estimate *out, struct abyss_diag *diag)
{
	(void)h;
	(void)scratch;
	(void)diag;
	depth__fail(&out->entry, ABYSS_ENOTIMPL, "compat is not built yet");
	return depth__fail(&out->exit, ABYSS_ENOTIMPL,
			   "compat is not built yet");
}
