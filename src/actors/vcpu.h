/* vCPU actors: a guest hart run as an actor of the actor runtime.
 *
 * A vmx_vcpu_t runs its vmx_rv_cpu_t in slices on its loop's thread (one
 * vCPU per loop). A slice runs guest code with vmx_rv_cpu_run() and passes
 * every exit to the owner's on_exit hook (system calls, faults), on and on,
 * without touching the bus: only when the exit-request flag stops the run
 * (a message arrived: the loop's kick flag is the cpu's exit_request, or a
 * host signal kicked it) does the slice end, and the vCPU sends itself
 * VCPU_RUN through its loop's ring, behind whatever arrived, and returns to
 * the loop. Between slices it handles VCPU_PAUSE, VCPU_RESUME, VCPU_STOP and
 * VCPU_DUMP (an ask, answered with VCPU_STATE).
 *
 * The loop must have been started with opts.kick = &cpu->exit_request.
 */
#ifndef VMX_ACTORS_VCPU_H
#define VMX_ACTORS_VCPU_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "actors/actor.h"
#include "cpu/riscv/cpu.h"

typedef struct vmx_vcpu vmx_vcpu_t;
struct vmx_vcpu_dbg;

/* What on_exit tells the vCPU: run on, the guest thread is over, or wait
 * (a hart in wfi): the slice ends and the vCPU runs again after the next
 * message it handles. */
enum { VMX_VCPU_CONTINUE = 0, VMX_VCPU_DONE = 1, VMX_VCPU_IDLE = 2 };

/* An idle vCPU runs again after this long even without a message. */
#define VMX_VCPU_IDLE_MAX_MS 10

struct vmx_vcpu {
  /* Set by the owner before vmx_vcpu_spawn. */
  vmx_rv_cpu_t *cpu;
  /* Loop thread: handles one exit of vmx_rv_cpu_run() (also
   * VMX_RV_EXIT_REQUEST, after which the slice ends). Returns
   * VMX_VCPU_CONTINUE or VMX_VCPU_DONE (the actor then stops). */
  int (*on_exit)(vmx_vcpu_t *v, vmx_rv_exit_t why);
  /* Loop thread, optional: before the first slice. */
  void (*on_start)(vmx_vcpu_t *v);
  /* Loop thread, optional: once the actor has ended (DONE, VCPU_STOP, or
   * the loop shut down); the runtime no longer touches v. */
  void (*on_end)(vmx_vcpu_t *v, int reason);
  /* Optional: runs the cpu (default vmx_rv_cpu_run; system mode passes
   * vmx_rv_cpu_run_sys). */
  vmx_rv_exit_t (*run)(vmx_rv_cpu_t *cpu);
  /* Loop thread, optional: a message that is not a VCPU_* control message
   * (interrupt lines, timers). Returns 0 or a negative code (the actor
   * then fails). */
  int (*on_message)(vmx_vcpu_t *v, const vmx_msg_t *msg);
  void *arg;
  /* Optional: puts the cpu back in its reset state (the debugger's
   * `monitor reset`), on the loop thread. */
  void (*on_reset)(vmx_vcpu_t *v);
  /* Set before spawning to put the vCPU under the debugger
   * (debug/dbg_vcpu.h); NULL otherwise. */
  struct vmx_vcpu_dbg *dbg;
  /* The actor context while the vCPU handles a message or runs a slice
   * (for sends and asks from on_exit, on_message and the cpu's hooks);
   * NULL otherwise. */
  vmx_actor_ctx_t *ctx;

  /* Private. */
  vmx_loop_t *loop;
  vmx_addr_t addr;
  vmx_bus_sender_t self_sender;
  bool paused, started, stopping, run_queued, idle, idle_timer_on;
  uint64_t idle_timer;
  struct vmx_vcpu_rec *rec;
};

/* Spawns v as actor `name` on loop and, unless start_paused, lets it run.
 * Returns 0 or the error of vmx_actor_spawn / vmx_bus_send. */
int vmx_vcpu_spawn(vmx_loop_t *loop, vmx_vcpu_t *v, const char *name, bool start_paused);

/* ------------------------------------------------------------ statistics */

/* Turns on the bookkeeping for vmx_vcpu_stats_print (before any spawn). */
void vmx_vcpu_stats_enable(bool on);
bool vmx_vcpu_stats_enabled(void);

/* An on_actor_exit hook for the loops of vCPUs: records each vCPU actor's
 * final counters. */
void vmx_vcpu_actor_exit_hook(vmx_loop_t *loop, const vmx_actor_info_t *info, void *arg);

/* Prints, as tables: every loop's counters, every vCPU actor's counters (as
 * of its last slice, or final if it ended) and its instructions retired.
 * Any thread; the calling vCPU's own row is exact. */
void vmx_vcpu_stats_print(FILE *out, vmx_bus_t *bus);

#endif
