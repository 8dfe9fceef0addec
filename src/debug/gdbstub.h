/* The GDB remote-protocol server: an actor on a loop of its own, serving
 * one gdb connection over TCP, and talking to the vCPU actors only by DEBUG
 * messages (debug/dbg_vcpu.h).
 *
 * All-stop: when one vCPU stops (breakpoint, watchpoint, step) the server
 * halts all the others before it tells gdb, and the stop reply names the
 * thread that stopped. A user-mode thread waiting in a host system call
 * is interrupted (opts.kick) and its call restarts when it resumes, so it
 * halts as well. gdb's threads are the vCPUs: the harts (ids 1..N)
 * in system mode, the guest threads (id = guest tid) in user mode. vCPUs
 * announce themselves (DBG_THREAD, sent by vmx_vcpu_spawn and when the
 * actor ends); one that appears while gdb has the guest stopped is halted
 * at once.
 *
 * Packets served: qSupported, ?, g/G, p/P, m/M, X, c/C/s/S, vCont (c C s S t)
 * and vCont?, H, T, qfThreadInfo/qsThreadInfo, qC, qAttached,
 * qXfer:features:read, qXfer:threads:read, Z0-Z4/z0-z4, qRcmd (monitor
 * info registers, reset, icount, help), D, k, vKill, QStartNoAckMode; acks
 * and no-ack mode; 0x03 interrupts a running guest. Everything else gets the
 * empty reply ("not supported"), bad arguments get E01.
 */
#ifndef VMX_DEBUG_GDBSTUB_H
#define VMX_DEBUG_GDBSTUB_H

#include <stdbool.h>
#include <stdint.h>

#include "actors/actor.h"

typedef struct vmx_gdb_server vmx_gdb_server_t;

typedef struct vmx_gdb_opts {
  const char *host;   /* address to listen on; NULL or "" for 127.0.0.1 */
  unsigned port;
  bool system;        /* system mode: harts, CSRs and priv in the description */
  bool start_running; /* the vCPUs start running (system mode without -S);
                         else they start halted, waiting for gdb */
  /* gdb asked to kill the guest (k, vKill): called on the server's loop
   * thread; it should end vmx. */
  void (*on_kill)(void *arg);
  /* A vCPU did not answer a halt at once: it may wait in a host system
   * call (user mode). Interrupt that wait so the vCPU reads its mailbox
   * (run-user sends the thread a host signal; the guest's call restarts
   * later). Any thread; NULL: vCPUs always answer soon (harts). */
  void (*kick)(void *arg, uint32_t thread);
  /* `monitor reset`: called on the server's loop thread with every vCPU
   * halted, before each vCPU's own reset (vmx_vcpu_t.on_reset, by a
   * DBG_RESET); puts memory back (reloads images). Returns 0 or a negative
   * code. NULL: reset is not supported. */
  int (*on_reset)(void *arg);
  void *arg;
  /* An ELF file whose symbols name addresses in `monitor info registers`
   * (NULL: none), and its load bias. */
  const char *symbols;
  uint64_t symbols_bias;
} vmx_gdb_opts_t;

/* Parses "tcp::PORT", "tcp:HOST:PORT", ":PORT" or "PORT" into host (a
 * static-free copy into hostbuf) and port. Returns 0 or VMX_EINVAL. */
int vmx_gdb_parse_address(const char *spec, char *hostbuf, size_t hostcap, unsigned *port);

/* Starts a loop thread "gdb" on bus, listening there, with the server
 * actor on it. *addr is the actor's address, which vCPUs are attached to
 * (debug/dbg_vcpu.h). Returns 0, or a negative code with a message in err
 * (bad address, port in use, ...). The loop ends with the bus's others
 * (vmx_loop_stop_all). */
int vmx_gdb_server_spawn(vmx_bus_t *bus, const vmx_gdb_opts_t *opts, vmx_addr_t *addr, char *err,
                         size_t errlen);

/* Tells the server the guest has ended with exit status code (gdb gets
 * "W<code>" and the connection closes), and waits (up to a second) until
 * it has. s: any sender (a vCPU's, a machine's). */
void vmx_gdb_notify_exit(vmx_bus_sender_t *s, vmx_addr_t server, int code);

#endif
