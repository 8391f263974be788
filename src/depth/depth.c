/*
 * depth.c - the estimator interface: method names, scratch memory and the
 * dispatcher. The methods themselves are in compat.c, gradient.c and (with
 * the neural engine) ml.c.
 */
#include "abyss/depth.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "depth_internal.h"

#define SCRATCH__DEFAULT_MAX ((size_t)64 << 20)

const char *abyss_method_name(enum abyss_method m)
{
	switch (m) {
	case ABYSS_METHOD_COMPAT:
		return "compat";
	case ABYSS_METHOD_GRADIENT:
		return "gradient";
	case ABYSS_METHOD_ML:
		return "ml";
	}
	return NULL;
}

int abyss_method_parse(const char *name, enum abyss_method *out)
{
	if (!name || !out)
		return ABYSS_EINVAL;
	if (strcmp(name, "compat") == 0)
		*out = ABYSS_METHOD_COMPAT;
	else if (strcmp(name, "gradient") == 0)
		*out = ABYSS_METHOD_GRADIENT;
	else if (strcmp(name, "ml") == 0)
		*out = ABYSS_METHOD_ML;
	else
		return ABYSS_EINVAL;
	return ABYSS_OK;
}

void abyss_scratch_init(struct abyss_scratch *s)
{
	memset(s, 0, sizeof(*s));
}

void abyss_scratch_free(struct abyss_scratch *s)
{
	if (!s)
		return;
	free(s->buf);
	s->buf = NULL;
	s->cap = 0;
}

void *abyss_scratch_get(struct abyss_scratch *s, size_t bytes)
{
	size_t max = s->max_bytes ? s->max_bytes : SCRATCH__DEFAULT_MAX;
	size_t cap;
	void *p;

	if (bytes <= s->cap)
		return s->buf;
	if (bytes > max)
		return NULL;
	/* grow geometrically so a stream of growing holes reallocates rarely */
	cap = s->cap ? s->cap : 4096;
	while (cap < bytes)
		cap = cap > max / 2 ? max : cap * 2;
	p = aligned_alloc(16, (cap + 15) & ~(size_t)15);
	if (!p)
		return NULL;
	free(s->buf);
	s->buf = p;
	s->cap = cap;
	return p;
}

void abyss_estimate_clear(struct abyss_estimate *e, enum abyss_method m)
{
	memset(e, 0, sizeof(*e));
	e->method = m;
	e->entry.index = e->transition.index = e->exit.index = -1;
}

int depth__fail(struct abyss_keypoint *k, int code, const char *fmt, ...)
{
	va_list ap;

	k->found = 0;
	k->index = -1;
	k->pos_mm = 0.0;
	k->confidence = 0.0;
	k->code = code;
	va_start(ap, fmt);
	vsnprintf(k->reason, sizeof(k->reason), fmt, ap);
	va_end(ap);
	return code;
}

void depth__set(struct abyss_keypoint *k, long i, double pos_mm,
		double confidence)
{
	k->found = 1;
	k->index = i;
	k->pos_mm = pos_mm;
	k->confidence = confidence;
	k->code = 0;
	k->reason[0] = '\0';
}

int abyss_estimate_depths(const struct abyss_estimate *e, double depth[2])
{
	if (!e->entry.found || !e->exit.found)
		return 0;
	if (e->transition.found) {
		depth[0] = e->transition.pos_mm - e->entry.pos_mm;
		depth[1] = e->exit.pos_mm - e->transition.pos_mm;
	} else {
		depth[0] = e->exit.pos_mm - e->entry.pos_mm;
		depth[1] = 0.0;
	}
	return 2;
}

static int estimate__first_failure(const struct abyss_estimate *e,
				   struct abyss_diag *diag)
{
	const struct abyss_keypoint *k = !e->entry.found  ? &e->entry
					 : !e->exit.found ? &e->exit
							  : NULL;
	const char *what = !e->entry.found ? "entry" : "exit";

	if (!k)
		return ABYSS_OK;
	return abyss_diag_set(diag, k->code ? k->code : ABYSS_ENOTFOUND, 0, 0,
			      "%s: %s", what,
			      k->reason[0] ? k->reason : "not found");
}

int abyss_estimate(const struct abyss_hole *h,
		   const struct abyss_estimate_opts *opts,
		   struct abyss_estimate *out, struct abyss_diag *diag)
{
	struct abyss_scratch local;
	struct abyss_scratch *scratch;
	enum abyss_method m;
	int rc;

	m = opts ? opts->method : ABYSS_METHOD_GRADIENT;
	abyss_estimate_clear(out, m);
	if (!h)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0, "no hole");
	if (h->n == 0) {
		depth__fail(&out->entry, ABYSS_ENODATA,
			    "the hole has no samples");
		depth__fail(&out->exit, ABYSS_ENODATA,
			    "the hole has no samples");
		return abyss_diag_set(diag, ABYSS_ENODATA, 0, 0,
				      "the hole has no samples");
	}
	abyss_scratch_init(&local);
	scratch = opts && opts->scratch ? opts->scratch : &local;
	switch (m) {
	case ABYSS_METHOD_COMPAT:
		rc = depth__compat(h, scratch, out, diag);
		break;
	case ABYSS_METHOD_GRADIENT:
		rc = depth__gradient(h, scratch, out, diag);
		break;
	case ABYSS_METHOD_ML:
	default:
		depth__fail(&out->entry, ABYSS_ENOTIMPL,
			    "the ml method needs the neural engine");
		depth__fail(&out->exit, ABYSS_ENOTIMPL,
			    "the ml method needs the neural engine");
		rc = ABYSS_ENOTIMPL;
		break;
	}
	abyss_scratch_free(&local);
	if (rc == ABYSS_OK)
		rc = estimate__first_failure(out, diag);
	else if (!diag || diag->code == 0)
		estimate__first_failure(out, diag);
	return rc;
}
