/*
 * sim_internal.h - what sim.c and sim_io.c share: the random generator.
 */
#ifndef ABYSS_SIM_INTERNAL_H
#define ABYSS_SIM_INTERNAL_H

#include <stdint.h>

/* xoshiro256** state; seeded through splitmix64 so any seed (0 included)
 * gives a good state. */
struct sim__rng {
	uint64_t s[4];
};

void sim__rng_seed(struct sim__rng *r, uint64_t seed);
uint64_t sim__rng_next(struct sim__rng *r);

#endif
