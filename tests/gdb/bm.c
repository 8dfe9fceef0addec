/* bm.c: the bare-metal program of run.sh's system-mode scenario, built with
 * the runtime of tests/baremetal (crt.S, rt.c) and run by
 * `vmx -M virt -bios none -gdb tcp::PORT -S -kernel bm.elf`.
 *
 * main() points mtvec at the runtime's direct-mode handler (m_trap_direct),
 * writes four known words into marks[] (fill_marks) and executes one ecall
 * from M (do_ecall, whose first instruction is the ecall): gdb stops at
 * do_ecall, steps the ecall into m_trap_direct (mcause 11) and reads marks[].
 * The program then checks the trap and exits through HTIF with the number of
 * failed checks (0: gdb reports "exited normally"). */
#include "rt.h"

extern char m_trap_direct[];

volatile u32 marks[4];

__attribute__((noinline)) void fill_marks(void)
{
  marks[0] = 0xcafe0001u;
  marks[1] = 0xcafe0002u;
  marks[2] = 0xcafe0003u;
  marks[3] = 0xcafe0004u;
}

/* An ecall as the function's first instruction (a7 = 0: not the runtime's
 * exit call). */
__attribute__((naked, noinline)) void do_ecall(void)
{
  __asm__ volatile("ecall\n\tret");
}

int main(void)
{
  test_begin("gdb_bm");
  csr_write(mtvec, (u64)m_trap_direct);
  fill_marks();
  traps_reset();
  __asm__ volatile("li a7, 0\n\tcall do_ecall" ::: "a7", "ra", "memory");
  expect_trap("ecall from M", EXC_ECALL_M, PRV_M, PRV_M, 0, 1);
  check_eq("marks[3]", marks[3], 0xcafe0004u);
  test_end();
}
