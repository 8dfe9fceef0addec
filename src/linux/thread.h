/* Guest threads in user mode: each guest thread is a vCPU actor (vcpu.h) on
 * its own loop thread of the actor runtime; guest tids are the host tids of
 * those loop threads. A loop whose guest thread ended waits, idle, for the
 * next clone (loop threads are pinned by the NUMA scheduler). A fork child
 * keeps only the forking thread: it runs its guest thread without the bus.
 */
#ifndef VMX_LINUX_THREAD_H
#define VMX_LINUX_THREAD_H

#include <stdint.h>

#include "actors/sched.h"
#include "linux/user.h"

/* Sets up the actor runtime for the process's guest threads: the bus, the
 * scheduler (from so), and --stats bookkeeping. Returns 0, or an error with
 * *err saying why. Call once, before vmx__thread_alloc. */
int vmx__thread_rt_init(const vmx_sched_opts_t *so, bool stats, const char *trace_path,
                        const char *trace_topics, vmx_sched_error_t *err);

/* Starts the GDB server (`run-user -g PORT`): the main thread starts
 * halted, waiting for gdb, and every guest thread is a gdb thread; the
 * monitor names addresses with exe's symbols (load bias bias). Call after
 * vmx__thread_rt_init, before vmx__thread_start. Returns 0 or an error with
 * a message in err. */
int vmx__thread_gdb_start(unsigned port, const char *exe, uint64_t bias, char *err, size_t errlen);

/* --trace-exec: every guest thread started from now on reports its blocks
 * to tracer (debug/trace_exec.h). */
struct vmx_trace_exec;
void vmx__thread_trace_exec(struct vmx_trace_exec *tracer);

/* A zeroed guest thread on an idle loop thread (a new one if none is idle);
 * its vCPU is not initialised. NULL when out of memory or threads. cur is
 * the calling guest thread (its host mask is restored), or NULL. */
vmx_linux_thread_t *vmx__thread_alloc(vmx_linux_thread_t *cur);

/* The guest's main thread, on a loop that vmx__thread_run_main runs on the
 * calling (the process's main) thread, so that its tid is the pid. */
vmx_linux_thread_t *vmx__thread_alloc_main(void);
/* Runs the main thread's loop (after vmx__thread_start); does not return
 * while the process lives. */
void vmx__thread_run_main(vmx_linux_thread_t *t);

/* Host tid of t's loop thread. */
pid_t vmx__thread_host_tid(vmx_linux_thread_t *t);

/* Gives back a thread from vmx__thread_alloc that never started. */
void vmx__thread_free(vmx_linux_thread_t *t);

/* Starts t (vCPU initialised, registers set) as a vCPU actor on its loop:
 * it binds to signals with mask `mask` and runs. parent: the guest thread
 * that created it (its debugger state is inherited), NULL for the main
 * thread. Returns 0 or an error. */
int vmx__thread_start(vmx_linux_thread_t *t, uint64_t mask, vmx_linux_thread_t *parent);

/* Sends VCPU_SIGNAL m (body set) to guest thread tid of this process, or,
 * for tid 0, to the thread Linux would pick for a process-directed signal
 * (the main thread unless it blocks the signal, else the first that does
 * not, else the main thread), and kicks that thread out of guest code and
 * out of a waiting host call. from: the sending guest thread, or NULL for
 * the host signals loop. counted: the target's sig.inbound already counts
 * the message (the host handler did, and interrupted its call itself). Returns 0 (sent, or dropped because the target is
 * ending), or 1 when there is no such thread or no bus (a fork child): the
 * caller makes the host call instead. */
struct vmx_msg;
int vmx__thread_signal_send(vmx_linux_thread_t *from, pid_t tid, struct vmx_msg *m, bool counted);

/* Handles one vCPU exit of t (user.c): a system call, or the signal of a
 * fault, ebreak or illegal instruction. */
void vmx__thread_handle_exit(vmx_linux_thread_t *t, vmx_rv_exit_t why);

/* clone() with CLONE_VM and without CLONE_VFORK: a new guest thread of t's
 * process. It starts as a copy of t's registers with a0 = 0, sp = newsp
 * (when not 0) and tp = tls (CLONE_SETTLS), and runs on a new host thread.
 * Honours CLONE_PARENT_SETTID, CLONE_CHILD_SETTID and CLONE_CHILD_CLEARTID.
 * Returns the new tid, or -EINVAL for a flag combination other than a
 * thread's, or -EAGAIN/-ENOMEM when the host cannot make the thread.
 * Called on t's own host thread. */
int64_t vmx__thread_clone(vmx_linux_thread_t *t, uint64_t flags, uint64_t newsp, uint64_t ptid,
                          uint64_t tls, uint64_t ctid);

/* vmx_linux_thread_exit() (declared in user.h) is implemented in thread.c:
 * exit() has already cleared clear_child_tid and, for the last thread,
 * ended the process; it unbinds t from signal delivery, frees its vCPU and
 * t (malloc-family memory) and ends the host thread. */

#endif
