/* Guest threads in user mode: each guest thread is a host thread (pthread)
 * running its own vCPU; guest tids are the host tids.
 */
#ifndef VMX_LINUX_THREAD_H
#define VMX_LINUX_THREAD_H

#include <stdint.h>

#include "linux/user.h"

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
