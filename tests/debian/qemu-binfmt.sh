#!/bin/sh
# qemu-binfmt.sh [-L SYSROOT] PROGRAM [ARGS...]: qemu-riscv64 PROGRAM, in a
# machine where the kernel also runs riscv64 programs that PROGRAM executes.
#
# qemu-riscv64 hands a guest execve to the host kernel, which runs a riscv64
# program only through binfmt_misc; without it, busybox running an applet by
# executing itself again (/proc/self/exe) fails with ENOEXEC.  This machine
# registers no binfmt_misc handler, so this script registers one, the same as
# Debian's qemu-user-binfmt, in a private user and mount namespace (binfmt_misc
# is per user namespace since Linux 6.7): the rest of the machine is left as
# it is.  compare.sh takes this script in place of qemu-riscv64.
#
# The qemu binary is $VMX_TEST_QEMU, else qemu-riscv64 from PATH.
set -u
qemu=${VMX_TEST_QEMU:-$(command -v qemu-riscv64)} ||
  { echo "qemu-binfmt.sh: qemu-riscv64 not found" >&2; exit 125; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmx-binfmt.XXXXXX") || exit 125
trap 'rm -rf "$tmp"' EXIT
# Debian's qemu keeps the program's argv[0] (binfmt flag P) when it is called
# by a name ending in -binfmt-P.
ln -s "$qemu" "$tmp/riscv64-binfmt-P" || exit 125
magic='\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00'
mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
rule=":qemu-riscv64:M::$magic:$mask:$tmp/riscv64-binfmt-P:OP"
# Programs run through binfmt see the sysroot through QEMU_LD_PREFIX.
[ "${1-}" = -L ] && [ $# -ge 2 ] && { QEMU_LD_PREFIX=$2; export QEMU_LD_PREFIX; }

# A private user and mount namespace leaves the machine as it is; the kernel
# refuses one to a chrooted process (a fresh-machine check runs in a chroot),
# so as root fall back to the machine's own binfmt_misc, registering the rule
# once under a name of ours with flag F (the kernel keeps qemu open, so the
# temporary link may go).
if unshare --user --map-root-user true 2>/dev/null; then
  # shellcheck disable=SC2016 # the inner script expands its own arguments
  exec unshare --user --map-root-user --mount sh -c '
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null &&
      printf "%s\n" "$1" >/proc/sys/fs/binfmt_misc/register ||
      { echo "qemu-binfmt.sh: cannot register binfmt_misc for riscv64 in a user namespace" >&2; exit 125; }
    shift
    exec "$@"' sh "$rule" "$qemu" "$@"
fi
bm=/proc/sys/fs/binfmt_misc
[ -e $bm/register ] || mount -t binfmt_misc binfmt_misc $bm 2>/dev/null
if [ ! -e $bm/vmx-test-riscv64 ] && [ ! -e $bm/qemu-riscv64 ]; then
  printf '%s\n' ":vmx-test-riscv64:M::$magic:$mask:$tmp/riscv64-binfmt-P:OPF" >$bm/register 2>/dev/null ||
    [ -e $bm/vmx-test-riscv64 ] ||
    { echo "qemu-binfmt.sh: cannot register binfmt_misc for riscv64 (no user namespace, not root?)" >&2; exit 125; }
fi
"$qemu" "$@"
