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

/* The verdict on an estimate: the first keypoint that is missing, then the
 * geometry. compat and ml also fail without a transition: the original's
 * 3-point estimator did (a missing transition there is a failure, not a
 * one-layer stack). Keypoints stay as the method left them. */
static int estimate__verdict(const struct abyss_estimate *e,
			     struct abyss_diag *diag)
{
	const struct abyss_keypoint *k = NULL;
	const char *what = NULL;

	if (!e->entry.found) {
		k = &e->entry;
		what = "entry";
	} else if (!e->exit.found) {
		k = &e->exit;
		what = "exit";
	} else if (e->method != ABYSS_METHOD_GRADIENT && !e->transition.found) {
		k = &e->transition;
		what = "transition";
	}
	if (k)
		return abyss_diag_set(diag, k->code ? k->code : ABYSS_ENOTFOUND,
				      0, 0, "%s: %s", what,
				      k->reason[0] ? k->reason : "not found");
	if (e->exit.pos_mm <= e->entry.pos_mm)
		return abyss_diag_set(diag, ABYSS_ERANGE, 0, 0,
				      "exit at %.3f mm is not beyond entry at "
				      "%.3f mm: no positive thickness",
				      e->exit.pos_mm, e->entry.pos_mm);
	if (e->transition.found && (e->transition.pos_mm < e->entry.pos_mm ||
				    e->transition.pos_mm > e->exit.pos_mm))
		return abyss_diag_set(
		    diag, ABYSS_ERANGE, 0, 0,
		    "transition at %.3f mm lies outside entry "
		    "%.3f .. exit %.3f mm: a negative layer",
		    e->transition.pos_mm, e->entry.pos_mm, e->exit.pos_mm);
	return ABYSS_OK;
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
		rc =
		    depth__ml(h, opts ? opts->model : NULL, scratch, out, diag);
		break;
	default:
		depth__fail(&out->entry, ABYSS_EINVAL, "unknown method");
		rc = depth__fail(&out->exit, ABYSS_EINVAL, "unknown method");
		break;
	}
	abyss_scratch_free(&local);
	{
		int verdict = estimate__verdict(out, diag);
		return verdict ? verdict : rc;
	}
}
