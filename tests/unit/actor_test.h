/* Shared by the actor runtime's tests: waiting on counters and a two-loop
 * world for cmocka setup/teardown. Include after <cmocka.h>. */
#ifndef VMX_TESTS_ACTOR_TEST_H
#define VMX_TESTS_ACTOR_TEST_H

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "actors/actor.h"

#define SEC 1000000000ull

/* Waits (up to 10 s) until *counter reaches n. */
static inline void wait_for(const uint64_t *counter, uint64_t n) {
  for (int i = 0; i < 100000 && __atomic_load_n(counter, __ATOMIC_ACQUIRE) < n; i++)
    usleep(100);
  if (__atomic_load_n(counter, __ATOMIC_ACQUIRE) < n)
    fail_msg("timed out: %llu of %llu", (unsigned long long)*counter, (unsigned long long)n);
}

#ifndef ACTOR_TEST_OWN_WORLD
/* Two running loops and a sender from outside them (a test with its own
 * world defines ACTOR_TEST_OWN_WORLD before including this file). */
typedef struct world {
  vmx_bus_t *bus;
  vmx_loop_t *loop[2];
  vmx_bus_sender_t out;
} world_t;

static inline int setup(void **state) {
  world_t *w = calloc(1, sizeof *w);
  assert_int_equal(vmx_bus_init(&w->bus, NULL), 0);
  for (int i = 0; i < 2; i++)
    assert_int_equal(vmx_loop_start(w->bus, NULL, &w->loop[i]), 0);
  vmx_bus_sender_init(w->bus, &w->out);
  *state = w;
  return 0;
}

static inline int teardown(void **state) {
  world_t *w = *state;
  assert_int_equal(vmx_loop_stop_all(w->bus, 5 * SEC), 0);
  vmx_bus_close(w->bus);
  free(w);
  return 0;
}
#endif

#endif
