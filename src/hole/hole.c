/*
 * hole.c - life cycle of the hole record and small queries on it.
 * Building a hole from a file or from messages lives next door
 * (src/setitec/, src/hole/mqtt.c); this file only owns the memory.
 */
#include "abyss/hole.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void abyss_hole_init(struct abyss_hole *h)
{
	memset(h, 0, sizeof(*h));
	h->timestamp_s = NAN;
	h->predrilled = 1;
}

static void hole__release(struct abyss_hole *h)
{
	free(h->block_);
	h->block_ = NULL;
	h->n = 0;
	h->nsteps = 0;
	h->position_mm = h->torque_a = h->thrust_a = NULL;
	h->torque_empty_a = h->thrust_empty_a = NULL;
	h->power_w = h->gap_mm = NULL;
	h->step = NULL;
	h->stop_code = NULL;
	h->steps = NULL;
}

#define HOLE__NDOUBLE 7 /* position, torque, thrust, 2 empties, power, gap */

/* Bytes of the one block behind n samples and nsteps step results, or 0 with
 * *overflow set when it does not fit in a size_t. */
static size_t hole__bytes(size_t n, size_t nsteps, int *overflow)
{
	size_t per_sample =
	    HOLE__NDOUBLE * sizeof(double) + sizeof(int32_t) + sizeof(uint32_t);

	*overflow = n > (SIZE_MAX / 2) / per_sample ||
		    nsteps > (SIZE_MAX / 4) / sizeof(struct abyss_step_result);
	if (*overflow)
		return 0;
	return n * per_sample + nsteps * sizeof(struct abyss_step_result);
}

int abyss_hole_alloc(struct abyss_hole *h, size_t n, size_t nsteps)
{
	int overflow;
	size_t bytes = hole__bytes(n, nsteps, &overflow);
	unsigned char *p;
	double *d;
	size_t i;

	hole__release(h);
	if (overflow)
		return ABYSS_ETOOBIG;
	if (bytes == 0)
		return ABYSS_OK;
	/* doubles first, then the step results (8-byte aligned members), then
	 * the 4-byte integer arrays, so every array is naturally aligned. */
	d = malloc(bytes);
	if (!d)
		return ABYSS_ENOMEM;
	h->block_ = d;
	h->n = n;
	h->nsteps = nsteps;
	p = h->block_;
	if (n) {
		h->position_mm = d + 0 * n;
		h->torque_a = d + 1 * n;
		h->thrust_a = d + 2 * n;
		h->torque_empty_a = d + 3 * n;
		h->thrust_empty_a = d + 4 * n;
		h->power_w = d + 5 * n;
		h->gap_mm = d + 6 * n;
		for (i = 0; i < HOLE__NDOUBLE * n; i++)
			d[i] = NAN;
	}
	p += HOLE__NDOUBLE * n * sizeof(double);
	if (nsteps) {
		h->steps = (void *)p;
		for (i = 0; i < nsteps; i++) {
			struct abyss_step_result *s = &h->steps[i];
			memset(s, 0, sizeof(*s));
			s->torque_empty_a = s->thrust_empty_a = NAN;
			s->duration_s = s->distance_m1_mm = NAN;
			s->distance_m2_mm = s->m1_max_a = s->m2_max_a = NAN;
			s->gap_max_mm = NAN;
		}
	}
	p += nsteps * sizeof(struct abyss_step_result);
	if (n) {
		h->step = (void *)p;
		memset(h->step, 0, n * sizeof(int32_t));
		p += n * sizeof(int32_t);
		h->stop_code = (void *)p;
		memset(h->stop_code, 0, n * sizeof(uint32_t));
	}
	return ABYSS_OK;
}

void abyss_hole_free(struct abyss_hole *h)
{
	if (!h)
		return;
	hole__release(h);
	abyss_hole_init(h);
}

int abyss_hole_copy(struct abyss_hole *dst, const struct abyss_hole *src)
{
	int overflow;
	size_t bytes = hole__bytes(src->n, src->nsteps, &overflow);
	int rc;

	if (dst == src)
		return ABYSS_EINVAL;
	abyss_hole_free(dst);
	rc = abyss_hole_alloc(dst, src->n, src->nsteps);
	if (rc)
		return rc;
	/* same (n, nsteps) gives the same layout: copy the block whole */
	if (bytes && dst->block_ && src->block_)
		memcpy(dst->block_, src->block_, bytes);
	{
		/* identity fields: everything but the pointers */
		void *block = dst->block_;
		struct abyss_hole arrays = *dst;
		*dst = *src;
		dst->block_ = block;
		dst->position_mm = arrays.position_mm;
		dst->torque_a = arrays.torque_a;
		dst->thrust_a = arrays.thrust_a;
		dst->torque_empty_a = arrays.torque_empty_a;
		dst->thrust_empty_a = arrays.thrust_empty_a;
		dst->power_w = arrays.power_w;
		dst->gap_mm = arrays.gap_mm;
		dst->step = arrays.step;
		dst->stop_code = arrays.stop_code;
		dst->steps = arrays.steps;
	}
	return ABYSS_OK;
}

size_t abyss_hole_distinct_steps(const struct abyss_hole *h)
{
	/* Steps are small integers in practice but come from input, so no
	 * table indexed by value: count first occurrences (n * distinct). */
	int32_t seen[64];
	size_t nseen = 0, i, j, extra = 0;

	for (i = 0; i < h->n; i++) {
		for (j = 0; j < nseen; j++)
			if (seen[j] == h->step[i])
				break;
		if (j < nseen)
			continue;
		if (nseen < sizeof(seen) / sizeof(seen[0])) {
			seen[nseen++] = h->step[i];
		} else {
			/* pathological input: fall back to a backwards scan */
			size_t k;
			for (k = 0; k < i; k++)
				if (h->step[k] == h->step[i])
					break;
			if (k == i)
				extra++;
		}
	}
	return nseen + extra;
}

long abyss_hole_first_of_step(const struct abyss_hole *h, int32_t step)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (h->step[i] == step)
			return (long)i;
	return -1;
}

static const char *const stop__names[] = {
    "TORQUE_MAX",	/* 0x1 */
    "TORQUE_LIMIT",	/* 0x2 */
    "THRUST_MAX",	/* 0x4 */
    "THRUST_LIMIT",	/* 0x8 */
    "THRUST_SAFETY",	/* 0x10 */
    "TORQUE_SAFETY",	/* 0x20 */
    "STROKE_LIMIT",	/* 0x40 */
    "STOP_BUTTON",	/* 0x80 */
    "STOP_CYCLE",	/* 0x100 */
    "TOOL_BREAK",	/* 0x200 */
    "ABORT",		/* 0x400 */
    "TORQUE_MIN",	/* 0x800 */
    "THRUST_MIN",	/* 0x1000 */
    "STROKE_MAX",	/* 0x2000 */
    "MATERIAL_TORQUE",	/* 0x4000 */
    "MATERIAL_THRUST",	/* 0x8000 */
    "MOTOR_SHORT_M1",	/* 0x10000 */
    "MOTOR_SHORT_M2",	/* 0x20000 */
    "POWER_MAX",	/* 0x40000 */
    "DELAY",		/* 0x80000 */
    "DRIVE_OVER_TEMP",	/* 0x100000 */
    "TOOL_OVER_TEMP",	/* 0x200000 */
    "DRIVE_OVERLOAD_1", /* 0x400000 */
    "DRIVE_OVERLOAD_2", /* 0x800000 */
};

const char *abyss_stop_code_name(uint32_t bit)
{
	unsigned i;

	if (bit == 0)
		return "NONE";
	if (bit & (bit - 1))
		return NULL; /* not a single bit */
	for (i = 0; i < sizeof(stop__names) / sizeof(stop__names[0]); i++)
		if (bit == (1u << i))
			return stop__names[i];
	return NULL;
}

char *abyss_stop_code_format(uint32_t code, char *buf, size_t n)
{
	size_t off = 0;
	unsigned i;
	int w;

	if (!buf || n == 0)
		return buf;
	buf[0] = '\0';
	if (code == 0) {
		snprintf(buf, n, "NONE");
		return buf;
	}
	for (i = 0; i < 32; i++) {
		uint32_t bit = 1u << i;
		const char *name;
		if (!(code & bit))
			continue;
		name = abyss_stop_code_name(bit);
		if (name)
			w = snprintf(buf + off, n - off, "%s%s", off ? "|" : "",
				     name);
		else
			w = snprintf(buf + off, n - off, "%s0x%x",
				     off ? "|" : "", (unsigned)bit);
		if (w < 0 || (size_t)w >= n - off)
			break;
		off += (size_t)w;
	}
	return buf;
}
