/* What the bench workloads share: the scale argument and a seeded PRNG.
 *
 * Every workload is `PROG [SCALE]`: SCALE is a positive integer, 100 (the
 * default) is the benchmark size, taking a few seconds under qemu-riscv64,
 * and 1 is the tiny size the ctest smoke test runs. Work grows linearly with
 * SCALE. Output is a fixed text with checksums, the same on every run, so a
 * harness can compare an emulator's output with qemu's byte for byte. */
#ifndef BENCH_WORKLOAD_H
#define BENCH_WORKLOAD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define WORKLOAD_DEFAULT_SCALE 100

/* Returns SCALE from argv[1] (default WORKLOAD_DEFAULT_SCALE); exits with
 * status 2 and a usage line on anything but a positive integer. */
static inline long workload_scale(int argc, char **argv) {
  if (argc < 2)
    return WORKLOAD_DEFAULT_SCALE;
  char *end;
  long scale = strtol(argv[1], &end, 10);
  if (argc > 2 || *end != '\0' || scale < 1 || scale > 100000) {
    fprintf(stderr, "usage: %s [SCALE]  (1..100000, default %d)\n", argv[0],
            WORKLOAD_DEFAULT_SCALE);
    exit(2);
  }
  return scale;
}

/* xorshift64* (Vigna): fast, full period for any nonzero seed. The seeds are
 * fixed constants so every run does exactly the same work. */
typedef struct {
  uint64_t state;
} workload_rng_t;

static inline uint64_t workload_rng_next(workload_rng_t *rng) {
  uint64_t x = rng->state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng->state = x;
  return x * 0x2545F4914F6CDD1DULL;
}

#endif
