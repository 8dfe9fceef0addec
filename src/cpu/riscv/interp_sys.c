/* The system-mode interpreter: every guest access goes through the hart's
 * TLB and the privileged architecture (see interp.inc). */
#define VMX_RV_SYS 1
#include "cpu/riscv/interp.inc"
