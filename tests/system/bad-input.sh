#!/bin/sh
# bad-input.sh EMULATOR CASE ASSETS WORKDIR: a virt machine command line that
# cannot boot must fail before the guest runs.
#
# Every CASE is the normal command line (-M virt -bios FIRMWARE -kernel KERNEL
# -initrd INITRD -append ... -nographic, as in boot-test.sh) with one thing
# wrong.  Passes only if the emulator exits with a non-zero status within
# 60 s, says why on stderr (matched loosely, case-insensitive, below) and the
# guest printed nothing (no OpenSBI banner, no kernel message).
#   missing-kernel   -kernel WORKDIR/no-such-kernel: names the file
#   not-riscv        -kernel /bin/ls (an x86-64 ELF): names the file and
#                    says RISC-V
#   small-memory     -m 16M, less than the kernel image: says it does not fit
#                    or speaks of memory/RAM
#   huge-initrd      -m 128M and a 192 MiB (sparse) initrd made in WORKDIR:
#                    names the initrd and says it does not fit (or memory/RAM)
set -u

if [ $# -ne 4 ]; then
  echo "usage: $0 EMULATOR CASE ASSETS WORKDIR" >&2
  exit 2
fi
emu=$1 case=$2 assets=$3 workdir=$4
FIRMWARE= KERNEL= INITRD=
[ -r "$assets" ] || { echo "FAIL: cannot read $assets (run the system_fetch test)"; exit 1; }
case "$assets" in */*) ;; *) assets=./$assets ;; esac
. "$assets"
mkdir -p "$workdir" || exit 1

mem=512M kernel=$KERNEL initrd=$INITRD
fit='does not fit|too (small|large|big)|memory|(^|[^a-z])ram([^a-z]|$)'
case "$case" in
  missing-kernel)
    kernel=$workdir/no-such-kernel
    rm -f "$kernel"
    want_all="no-such-kernel" ;;
  not-riscv)
    kernel=/bin/ls
    want_all="/bin/ls
risc-?v" ;;
  small-memory)
    mem=16M
    want_all=$fit ;;
  huge-initrd)
    initrd=$workdir/huge-initrd.img
    rm -f "$initrd"
    truncate -s 192M "$initrd" || { echo "FAIL: cannot create $initrd"; exit 1; }
    mem=128M
    want_all="huge-initrd|initrd|ramdisk
$fit" ;;
  *) echo "unknown case $case" >&2; exit 2 ;;
esac

out=$workdir/$case.stdout err=$workdir/$case.stderr
set -- "$emu" -M virt -m "$mem" -smp 1 -bios "$FIRMWARE" -kernel "$kernel" \
  -initrd "$initrd" -append "console=ttyS0 vmx.test=1" -nographic
echo "running: $*"
timeout -k 5 60 "$@" </dev/null >"$out" 2>"$err"
status=$?
[ "$case" = huge-initrd ] && rm -f "$initrd"

problems=
problem() { problems="$problems
  - $*"; }
if [ "$status" = 0 ]; then problem "exit status 0, expected an error"
elif [ "$status" = 124 ] || [ "$status" = 137 ]; then problem "still running after 60 s (killed)"
fi
if grep -a -q -e 'OpenSBI' -e 'Linux version' -e '^\[ *[0-9]*\.[0-9]*\] ' "$out"; then
  problem "the guest ran (its output is on stdout)"
fi
if [ ! -s "$err" ]; then
  problem "nothing on stderr"
else
  echo "$want_all" | while IFS= read -r want; do
    grep -a -q -i -E -e "$want" "$err" || echo "no match for /$want/"
  done >"$workdir/$case.missing"
  while IFS= read -r line; do problem "stderr has $line (case-insensitive)"; done <"$workdir/$case.missing"
fi

echo "exit status $status; stderr:"
sed 's/^/  /' "$err" | head -n 20
if [ -z "$problems" ]; then
  echo "PASS: $case rejected before the guest ran"
  exit 0
fi
echo "FAIL:$problems"
if [ -s "$out" ]; then
  echo "--- stdout (first 20 lines) ---"
  head -n 20 "$out"
fi
exit 1
