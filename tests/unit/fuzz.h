/* Bounded-time fuzzing in the unit tests: one seeded generator
 * (splitmix64) and a time budget, both replayable from the environment:
 *
 *   VMX_FUZZ_SEED=n     repeat a run (fuzz_begin prints the seed first)
 *   VMX_FUZZ_SECONDS=s  the run's time budget
 *
 * Header-only, for test files: each file that includes it has its own
 * generator state. */
#ifndef VMX_TESTS_UNIT_FUZZ_H
#define VMX_TESTS_UNIT_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static uint64_t fuzz_rng_state;
static uint64_t fuzz_seed; /* the run's seed, for failure messages */

/* The next pseudo-random 64-bit value. */
static inline uint64_t rnd(void) {
  uint64_t z = (fuzz_rng_state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* CLOCK_MONOTONIC in seconds. */
static inline double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seeds the generator from VMX_FUZZ_SEED (else from the clock and pid),
 * prints the seed and budget, and returns when the run should end:
 * now + VMX_FUZZ_SECONDS, else now + default_seconds. */
static inline double fuzz_begin(double default_seconds) {
  const char *seed_env = getenv("VMX_FUZZ_SEED"), *secs_env = getenv("VMX_FUZZ_SECONDS");
  uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0)
                           : ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ (uint64_t)clock();
  double budget = secs_env ? atof(secs_env) : default_seconds;
  printf("fuzz seed: %llu (VMX_FUZZ_SEED=%llu repeats this run), %.1f s\n",
         (unsigned long long)seed, (unsigned long long)seed, budget);
  fflush(stdout);
  fuzz_seed = fuzz_rng_state = seed;
  return now_s() + budget;
}

#endif
