/* vmx: the command-line entry point. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "actors/sched.h"
#include "base/log.h"
#include "bus/trace.h"
#include "linux/user.h"
#include "machine/virt.h"

static void vmx__usage(FILE *out) {
  fprintf(out,
          "usage: vmx COMMAND [ARGS...]\n"
          "\n"
          "commands:\n"
          "  -M virt [-m SIZE] [-smp N] [-bios FW|none] -kernel IMAGE [-initrd FILE]\n"
          "          [-append CMDLINE] [-nographic]\n"
          "                 boot a RISC-V 64 virt machine (system mode); see vmx -M virt --help\n"
          "  run-user [-L SYSROOT] PROGRAM [ARGS...]\n"
          "                 run a riscv64 Linux program in user mode\n"
          "  --print-topology [--cpu-affinity LIST] [--numa-node N]\n"
          "                 show the CPUs and NUMA nodes and where a VM would run\n"
          "  trace dump FILE\n"
          "                 print a trace file (vmx --trace) as JSON lines\n"
          "  help           show this help (also -h, --help)\n"
          "  version        show the version (also --version)\n"
          "\n"
          "`vmx run-user --help` describes the user-mode options.\n");
}

/* A closed standard descriptor would be reused by the first file vmx opens
 * (a loop's eventfd becoming "stdin", polled and read by the console):
 * system mode gives the closed ones /dev/null, as daemons do. */
static void std_fds_open(void) {
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", O_RDWR) != fd)
      break;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    vmx__usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  /* System mode takes QEMU's options, in any order. */
  if (cmd[0] == '-' && cmd[1] != '-' && strcmp(cmd, "-h")) {
    std_fds_open();
    return vmx_virt_main(argc, argv);
  }
  if (!strcmp(cmd, "run-user"))
    return vmx_linux_main(argc - 1, argv + 1);
  if (!strcmp(cmd, "--print-topology"))
    return vmx_sched_main(argc - 1, argv + 1);
  if (!strcmp(cmd, "trace"))
    return vmx_trace_main(argc - 1, argv + 1, stdout, stderr);
  if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
    vmx__usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("vmx " VMX_VERSION "\n");
    return 0;
  }
  vmx_log_error("unknown command '%s' (try 'vmx --help')", cmd);
  return 2;
}
