/* exit3.c: proves the exit-code path. It passes its one check, prints its
 * END marker, then exits through HTIF with code 3 on purpose; its ctest
 * passes only if the emulator's exit status is 3. */
#include "rt.h"

int main(void)
{
  test_begin("exit3");
  check(csr_read(misa) >> 62 == 2, "reached main in M-mode; misa.MXL says RV64");
  rt_printf("RESULT exit3: exiting with code 3 on purpose\n");
  rt_printf("END exit3\n");
  rt_exit(3);
}
