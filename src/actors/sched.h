/* The NUMA-aware scheduler: where a VM's loop threads run and where its
 * memory lives.
 *
 * What the scheduler promises
 *
 *   - It reads the host's topology with hwloc (NUMA nodes, packages, cores,
 *     PUs, which PUs are local to which node) once, at vmx_sched_init().
 *   - PUs are named by the operating system's CPU numbers (the numbers of
 *     taskset, /proc/cpuinfo and sched_setaffinity); NUMA nodes by the OS's
 *     node numbers (numactl's); cores, which the OS does not number uniquely,
 *     by hwloc's logical index.
 *   - The usable PUs are those the OS lets vmx run on (cgroup cpuset) and that
 *     the thread calling vmx_sched_init() may run on (taskset). Nothing is
 *     ever planned or pinned outside them.
 *   - A VM's memory goes to one NUMA node, K: the user's (--numa-node), or
 *     else the node holding most of the PUs loop threads may use.
 *   - The plan gives loop thread i a PU: the PUs local to node K (or, with
 *     --cpu-affinity and no --numa-node, every listed PU, node K's first),
 *     one per core before any core gets a second (hyperthread), in topology
 *     order; thread i and thread i + vmx_sched_pu_count() share a PU (wrap).
 *     The plan of thread i does not depend on how many threads there are.
 *   - On a machine with one node the scheduler still pins and says so.
 *   - Memory placement is a preference: pages of a bound range go to node K
 *     while it has free memory. When the OS refuses placement (no NUMA
 *     support, a seccomp filter, a container without CAP_SYS_NICE) the call
 *     returns VMX_ENOSYS with the fallback message (VMX_SCHED_MEMBIND_FALLBACK
 *     names its start) and the memory stays where the kernel puts it.
 *
 * Threads: a vmx_sched_t does not change after vmx_sched_init(); every
 * function may be called from any thread at the same time, except
 * vmx_sched_close(), which must come after all others.
 */
#ifndef VMX_ACTORS_SCHED_H
#define VMX_ACTORS_SCHED_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"

typedef struct vmx_sched vmx_sched_t;

/* What the user chose. Start from VMX_SCHED_OPTS_INIT (everything automatic). */
typedef struct vmx_sched_opts {
  /* PUs loop threads may use, a list like "0-3,6" (--cpu-affinity), or NULL
   * for every usable PU. Must name existing, usable PUs. */
  const char *cpu_affinity;
  /* OS number of the NUMA node for the VM's memory (--numa-node), or -1 (any
   * negative number) to choose automatically. */
  int numa_node;
  /* For tests and demonstrations: a hwloc synthetic topology description
   * ("pack:2 numa:1 core:4 pu:2") used instead of the host's. Every described
   * PU is usable; pinning and memory placement then fail with VMX_ENOSYS. */
  const char *synthetic;
} vmx_sched_opts_t;

#define VMX_SCHED_OPTS_INIT {.cpu_affinity = NULL, .numa_node = -1, .synthetic = NULL}

/* Why a call failed, or what a fallback means, in words for the user:
 * "--cpu-affinity '0-3,,6': expected a PU number at offset 4". */
typedef struct vmx_sched_error {
  char text[256];
} vmx_sched_error_t;

/* The start of the message vmx_sched_membind() gives when the OS refuses. */
#define VMX_SCHED_MEMBIND_FALLBACK "cannot place memory on NUMA node"

/* Largest PU number an affinity list may name (Linux allows at most 8192). */
#define VMX_SCHED_PU_MAX 65535u

/* The options' help, for the help text of commands that take them. */
#define VMX_SCHED_OPTIONS_HELP                                                \
  "  --cpu-affinity LIST  run loop threads only on these CPUs (PUs), e.g. 0-3,6\n" \
  "  --numa-node N        put guest memory and loop threads on NUMA node N\n"

/* ------------------------------------------------------------ options */

/* If argv[*i] is a scheduler option (--cpu-affinity LIST, --numa-node N, also
 * spelled --opt=VALUE), stores its value in *o (argv's strings are kept, not
 * copied), advances *i past it and returns 1. Returns 0 and leaves everything
 * unchanged when argv[*i] is not one of them. Returns VMX_EINVAL, with *err
 * (if not NULL) saying why, for a missing or malformed value. --numa-node
 * takes a node number or "auto". Whether a PU or node exists is checked by
 * vmx_sched_init(). */
int vmx_sched_opts_arg(vmx_sched_opts_t *o, int argc, char **argv, int *i,
                       vmx_sched_error_t *err);

/* Parses a PU list ("0-3,6": numbers and inclusive ranges N-M, separated by
 * commas, no spaces, duplicates allowed) into pus[] in increasing order
 * without duplicates; *count is the number of distinct PUs, even when it
 * exceeds cap (then VMX_ERANGE, and pus[] holds the first cap). Returns 0, or
 * VMX_EINVAL with *err (if not NULL) naming the offset for bad syntax, a
 * backwards range or a PU above VMX_SCHED_PU_MAX. Checks syntax only, not
 * whether the PUs exist. */
int vmx_sched_cpulist_parse(const char *text, unsigned *pus, size_t cap, size_t *count,
                            vmx_sched_error_t *err);

/* ------------------------------------------------------------ lifecycle */

/* Reads the topology, checks the options against it and makes the plan.
 * Stores the new scheduler in *s (the caller frees it with
 * vmx_sched_close()). Returns 0, or with *s NULL and *err (if not NULL) saying
 * why: VMX_EINVAL for a bad affinity list, a PU that does not exist or is not
 * usable, a node that does not exist or whose memory vmx may not use;
 * VMX_EIO if hwloc cannot read the topology; VMX_ENOMEM. */
int vmx_sched_init(vmx_sched_t **s, const vmx_sched_opts_t *o, vmx_sched_error_t *err);

/* Frees s and its topology. NULL is allowed. Pinned threads stay pinned. */
void vmx_sched_close(vmx_sched_t *s);

/* ------------------------------------------------------------ the plan */

/* OS number of the NUMA node the VM's memory goes to. */
int vmx_sched_node(const vmx_sched_t *s);

/* Number of distinct PUs the plan rotates over (at least 1). */
unsigned vmx_sched_pu_count(const vmx_sched_t *s);

/* The PU (OS number) of loop thread `loop`, for any loop >= 0. */
unsigned vmx_sched_loop_pu(const vmx_sched_t *s, unsigned loop);

/* Stores in out_pu[0..nthreads) the PU of each of nthreads loop threads
 * (vmx_sched_loop_pu() of 0, 1, ...). */
void vmx_sched_plan(const vmx_sched_t *s, unsigned nthreads, unsigned *out_pu);

/* ------------------------------------------------------------ acting on it */

/* Pins the calling thread to PU `pu` (OS number): afterwards it runs there
 * only. Returns 0; VMX_EINVAL if pu is not a usable PU; VMX_EIO if the OS
 * refuses; VMX_ENOSYS on a synthetic topology. *err (if not NULL) says why. */
int vmx_sched_pin_self(vmx_sched_t *s, unsigned pu, vmx_sched_error_t *err);

/* Pins the calling thread to the planned PU of loop thread `loop`, stores
 * that PU in *pu (if not NULL) and logs "pinned loop thread 2 to PU 1 (core
 * 1, node 0)" when verbose logging is on. Errors as vmx_sched_pin_self(). */
int vmx_sched_pin_loop(vmx_sched_t *s, unsigned loop, unsigned *pu, vmx_sched_error_t *err);

/* Asks that the pages of [addr, addr + len) (rounded out to whole pages) be
 * placed on node vmx_sched_node(s). Pages not yet touched are placed when
 * first touched; call it before touching the memory (pages already present
 * are not moved). Returns 0; VMX_ENOSYS when the OS refuses or the topology
 * is synthetic, with *err starting VMX_SCHED_MEMBIND_FALLBACK (not fatal:
 * the memory stays usable, wherever the kernel puts it); VMX_EFAULT if the
 * range is not mapped. */
int vmx_sched_membind(vmx_sched_t *s, void *addr, size_t len, vmx_sched_error_t *err);

/* The same for every page the calling thread allocates from now on, and
 * the threads it creates afterwards (Linux's task memory policy is
 * inherited): user mode's guest memory is mapped piecemeal, by whichever
 * guest thread calls mmap, so run-user binds its main thread before it
 * starts any loop. Errors as vmx_sched_membind() (no EFAULT). */
int vmx_sched_membind_thread(vmx_sched_t *s, vmx_sched_error_t *err);

/* ------------------------------------------------------------ words */

/* Writes "PU 1 (core 1, node 0)" for PU `pu` into buf (always terminated).
 * Returns 0, or VMX_EINVAL (and "PU 9 (does not exist)") for an unknown PU. */
int vmx_sched_pu_describe(const vmx_sched_t *s, unsigned pu, char *buf, size_t len);

/* One line for logs: "memory on NUMA node 0 (auto, 1 node), loop threads on
 * PUs 0-1 (2 cores)", plus any warning ("none of the --cpu-affinity PUs is
 * on node 1"). Owned by s; valid until vmx_sched_close(). */
const char *vmx_sched_describe(const vmx_sched_t *s);

/* Prints the machine (nodes with their memory, PUs and cores, the usable
 * PUs), the scheduler's choices and the plan for a VM of nloops loop threads
 * (0: one per PU of the plan). Returns 0 or VMX_EIO. */
int vmx_sched_print_topology(const vmx_sched_t *s, FILE *out, unsigned nloops);

/* `vmx --print-topology [--cpu-affinity LIST] [--numa-node N] [--loops N]
 * [--synthetic DESC]`: argv[0] is the command word. Prints the topology and
 * the plan, then does what it says: starts the loop threads, pins each one
 * and checks it, places a test range of memory and checks where its pages
 * went, and prints what it did. Returns the process exit status. */
int vmx_sched_main(int argc, char **argv);

#endif
