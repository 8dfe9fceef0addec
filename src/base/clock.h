/* Host time for vmx's own bookkeeping (deadlines, busy time, trace stamps). */
#ifndef VMX_BASE_CLOCK_H
#define VMX_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds on host clock `clock` (CLOCK_MONOTONIC for intervals). */
static inline uint64_t vmx_clock_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sleeps ns nanoseconds (or less, if a signal interrupts). */
static inline void vmx_clock_sleep_ns(uint64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
  nanosleep(&ts, NULL);
}

#endif
