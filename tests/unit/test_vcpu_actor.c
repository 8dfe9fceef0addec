/* A vCPU actor (linux/vcpu.h) running a hand-assembled endless loop on its
 * own loop thread: pause, two state dumps with the same icount, resume (the
 * icount moves on), stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <cmocka.h>

#include "actors/actor.h"
#include "actors/vcpu.h"

#define MEM (1u << 20)
#define CODE 0x1000u

#define I_TYPE(op, f3, rd, rs1, imm) \
  ((uint32_t)(op) | (uint32_t)(rd) << 7 | (uint32_t)(f3) << 12 | (uint32_t)(rs1) << 15 | ((uint32_t)(imm) & 0xfff) << 20)
#define ADDI(rd, rs1, imm) I_TYPE(0x13, 0, rd, rs1, imm)
/* jal x0, off */
#define J(off) (0x6fu | (((uint32_t)(off) >> 12) & 0xff) << 12 | (((uint32_t)(off) >> 11) & 1) << 20 | \
                (((uint32_t)(off) >> 1) & 0x3ff) << 21 | (((uint32_t)(off) >> 20) & 1) << 31)
#define ECALL 0x00000073u

/* a0 += 1 forever, with an ecall every round (a "system call" the vCPU's
 * owner serves without leaving the slice). */
static const uint32_t spin_prog[] = {
    ADDI(10, 10, 1),
    ECALL,
    J(-8),
};

typedef struct {
  uint8_t *mem;
  vmx_rv_cpu_t cpu;
  vmx_vcpu_t v;
  uint64_t ecalls;   /* loop thread */
  int ended;         /* set by on_end */
  int end_reason;
} fixture_t;

static int on_exit_fn(vmx_vcpu_t *v, vmx_rv_exit_t why) {
  fixture_t *fx = v->arg;
  if (why == VMX_RV_EXIT_ECALL)
    fx->ecalls++;
  else if (why != VMX_RV_EXIT_REQUEST)
    return VMX_VCPU_DONE;
  return VMX_VCPU_CONTINUE;
}

static void on_end_fn(vmx_vcpu_t *v, int reason) {
  fixture_t *fx = v->arg;
  fx->end_reason = reason;
  __atomic_store_n(&fx->ended, 1, __ATOMIC_RELEASE);
}

static void nap_ms(int ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

static vmx_msg_t dump(vmx_bus_sender_t *s, vmx_addr_t dst) {
  vmx_msg_t req = VMX_MSG_INIT(VCPU_DUMP), rep;
  assert_int_equal(vmx_bus_ask(s, dst, &req, &rep, UINT64_C(5000000000)), 0);
  assert_int_equal(rep.env.type, VMX_MSG_VCPU_STATE);
  return rep;
}

static void test_pause_dump_resume_stop(void **state) {
  (void)state;
  fixture_t *fx = calloc(1, sizeof *fx);
  fx->mem = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_ptr_not_equal(fx->mem, MAP_FAILED);
  memcpy(fx->mem + CODE, spin_prog, sizeof spin_prog);
  assert_int_equal(vmx_rv_cpu_init(&fx->cpu, fx->mem, MEM, NULL), 0);
  fx->cpu.pc = CODE;

  vmx_bus_t *bus;
  assert_int_equal(vmx_bus_init(&bus, NULL), 0);
  vmx_loop_options_t lo = {.name = "vcpu-test", .kick = (uint32_t *)&fx->cpu.exit_request};
  vmx_loop_t *loop;
  assert_int_equal(vmx_loop_start(bus, &lo, &loop), 0);
  fx->v = (vmx_vcpu_t){.cpu = &fx->cpu, .on_exit = on_exit_fn, .on_end = on_end_fn, .arg = fx};
  assert_int_equal(vmx_vcpu_spawn(loop, &fx->v, "vcpu0", false), 0);
  vmx_addr_t vcpu = fx->v.addr;

  vmx_bus_sender_t s;
  vmx_bus_sender_init(bus, &s);
  nap_ms(20); /* let it run */

  vmx_msg_t m = VMX_MSG_INIT(VCPU_PAUSE);
  assert_int_equal(vmx_bus_send(&s, vcpu, &m), 0);
  /* The dump is handled after the pause (same sender, in order). */
  vmx_msg_t d1 = dump(&s, vcpu);
  assert_true(d1.body.vcpu_state.paused);
  assert_true(d1.body.vcpu_state.icount > 0);
  nap_ms(20);
  vmx_msg_t d2 = dump(&s, vcpu);
  assert_true(d2.body.vcpu_state.paused);
  assert_int_equal(d1.body.vcpu_state.icount, d2.body.vcpu_state.icount); /* frozen */
  assert_int_equal(d1.body.vcpu_state.a0, d2.body.vcpu_state.a0);
  /* The state is consistent: 3 instructions per increment of a0. */
  uint64_t ic = d2.body.vcpu_state.icount, a0 = d2.body.vcpu_state.a0;
  assert_true(ic >= 3 * a0 - 2 && ic <= 3 * a0);
  assert_true(d2.body.vcpu_state.pc >= CODE && d2.body.vcpu_state.pc < CODE + sizeof spin_prog);

  m = VMX_MSG_INIT(VCPU_RESUME);
  assert_int_equal(vmx_bus_send(&s, vcpu, &m), 0);
  nap_ms(20);
  vmx_msg_t d3 = dump(&s, vcpu);
  assert_false(d3.body.vcpu_state.paused);
  assert_true(d3.body.vcpu_state.icount > ic); /* running again */

  m = VMX_MSG_INIT(VCPU_STOP);
  m.body.vcpu_stop.reason = 0;
  assert_int_equal(vmx_bus_send(&s, vcpu, &m), 0);
  for (int i = 0; i < 500 && !__atomic_load_n(&fx->ended, __ATOMIC_ACQUIRE); i++)
    nap_ms(10);
  assert_int_equal(__atomic_load_n(&fx->ended, __ATOMIC_ACQUIRE), 1);
  assert_int_equal(fx->end_reason, 0);
  /* Stopped: a dump finds no actor. */
  vmx_msg_t req = VMX_MSG_INIT(VCPU_DUMP), rep;
  assert_int_not_equal(vmx_bus_ask(&s, vcpu, &req, &rep, UINT64_C(1000000000)), 0);
  assert_true(fx->ecalls > 0);

  assert_int_equal(vmx_loop_stop_all(bus, UINT64_C(5000000000)), 0);
  vmx_bus_close(bus);
  vmx_rv_cpu_close(&fx->cpu);
  munmap(fx->mem, MEM);
  free(fx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pause_dump_resume_stop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
