/* The user-mode interpreter: guest addresses are offsets into one host
 * mapping (see interp.inc). */
#define VMX_RV_SYS 0
#include "cpu/riscv/interp.inc"
