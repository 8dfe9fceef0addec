/* ptrchase: the memory-bound workload. It builds one random cycle through a
 * large array of 64-bit indices (Sattolo's shuffle, which yields a single
 * cycle covering every slot) and follows it: every step is a load whose
 * address depends on the previous load, so neither the host's prefetcher nor
 * out-of-order execution can hide the miss, and an emulator's cost per guest
 * memory access (address translation, TLB) is laid bare.
 *
 * At SCALE >= 100 the array is 8 Mi entries, 64 MiB, far past any cache;
 * smaller scales shrink it proportionally. Steps grow linearly with SCALE. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "workload.h"

#define FULL_ENTRIES (8u << 20)

int main(int argc, char **argv) {
  long scale = workload_scale(argc, argv);
  uint64_t entries = FULL_ENTRIES / 100 * (uint64_t)(scale < 100 ? scale : 100);
  uint64_t steps = (uint64_t)scale * 100000;

  uint64_t *next = malloc(entries * sizeof *next);
  if (next == NULL) {
    fprintf(stderr, "ptrchase: cannot allocate %llu MiB\n",
            (unsigned long long)(entries * sizeof *next >> 20));
    return 1;
  }
  for (uint64_t i = 0; i < entries; i++)
    next[i] = i;
  /* Sattolo: swap each slot with a strictly earlier one, giving a random
   * cyclic permutation. The modulo bias of a 64-bit draw is negligible. */
  workload_rng_t rng = {0x5eed0201};
  for (uint64_t i = entries - 1; i > 0; i--) {
    uint64_t j = workload_rng_next(&rng) % i;
    uint64_t t = next[i];
    next[i] = next[j];
    next[j] = t;
  }

  /* Follow the cycle; the checksum depends on every slot visited. */
  uint64_t pos = 0, sum = 0, returns = 0;
  for (uint64_t s = 0; s < steps; s++) {
    pos = next[pos];
    sum = sum * 0x100000001b3ULL + pos;
    returns += pos == 0;
  }

  printf("ptrchase scale %ld: %llu entries (%llu KiB), %llu steps\n", scale,
         (unsigned long long)entries, (unsigned long long)(entries * sizeof *next >> 10),
         (unsigned long long)steps);
  /* A single cycle returns to slot 0 exactly every `entries` steps. */
  printf("returns to start: %llu (expected %llu)\n", (unsigned long long)returns,
         (unsigned long long)(steps / entries));
  printf("final position %llu, checksum %016llx\n", (unsigned long long)pos,
         (unsigned long long)sum);
  free(next);
  return 0;
}
