#!/bin/sh
# boot-test.sh EMULATOR SMP ASSETS [TIMEOUT]: boot Linux on EMULATOR's virt
# machine with SMP harts and check that it runs the initramfs's self-test and
# powers off.
#
# EMULATOR is vmx or qemu-system-riscv64 (both take the same command line).
# ASSETS is the file `scripts/run-linux --assets` wrote (FIRMWARE=, KERNEL=,
# INITRD=).  The guest boots with "console=ttyS0 vmx.test=1" and stdin
# /dev/null, under a TIMEOUT (default 300 s; a kernel panic ends it at once).
# Passes only if the console shows "vmx-boot: init ok", "nproc=SMP" and
# "vmx-boot: test ok" (one checked CPU job per hart), the kernel powered the
# machine off ("reboot: Power down") and the emulator exited with status 0.
set -u

if [ $# -lt 3 ]; then
  echo "usage: $0 EMULATOR SMP ASSETS [TIMEOUT]" >&2
  exit 2
fi
emu=$1 smp=$2 assets=$3 limit=${4:-300}
FIRMWARE= KERNEL= INITRD=
[ -r "$assets" ] || { echo "FAIL: cannot read $assets (run the system_fetch test)"; exit 1; }
case "$assets" in */*) ;; *) assets=./$assets ;; esac
. "$assets"

work=$(mktemp -d "${TMPDIR:-/tmp}/boot-test.XXXXXX") || exit 1
pid=
trap 'rm -rf "$work"' EXIT
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; exit 1' INT TERM
out=$work/console err=$work/stderr

set -- "$emu" -M virt -m 512M -smp "$smp" -bios "$FIRMWARE" -kernel "$KERNEL" \
  -initrd "$INITRD" -append "console=ttyS0 vmx.test=1" -nographic
echo "running: $*"
start=$(date +%s.%N)
timeout -k 5 "$limit" "$@" </dev/null >"$out" 2>"$err" &
pid=$!

# A panicked kernel never powers off (the Debian kernel's panic timeout is 0):
# stop it at once instead of waiting for the timeout.
panicked=0
while kill -0 "$pid" 2>/dev/null; do
  if grep -a -q 'Kernel panic - not syncing' "$out"; then
    sleep 1
    panicked=1
    kill "$pid" 2>/dev/null
    break
  fi
  sleep 0.2
done
wait "$pid"
status=$?
seconds=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
tr -d '\r' <"$out" >"$work/console.txt"

has() { grep -a -q -x -e "$1" "$work/console.txt"; }
problems=
problem() { problems="$problems
  - $*"; }
if [ "$panicked" = 1 ]; then problem "the kernel panicked"
elif [ "$status" = 124 ] || [ "$status" = 137 ]; then problem "no power-off within $limit s (killed)"
elif [ "$status" != 0 ]; then problem "exit status $status, not 0"
fi
has 'vmx-boot: init ok' || problem "no 'vmx-boot: init ok' line: /init did not run"
has "nproc=$smp" || problem "no 'nproc=$smp' line$(grep -a '^nproc=' "$work/console.txt" | sed 's/^/ (saw /; s/$/)/' | head -1)"
has 'vmx-boot: test ok' || problem "no 'vmx-boot: test ok' line: the self-test did not finish or failed"
grep -a -q 'reboot: Power down' "$work/console.txt" || problem "the kernel did not power the machine off (no 'reboot: Power down')"

if [ -z "$problems" ]; then
  grep -a -e '^vmx-boot:' -e '^nproc=' -e 'reboot: Power down' "$work/console.txt"
  echo "PASS: Linux booted on $smp hart(s), ran the self-test and powered off in $seconds s"
  exit 0
fi
echo "FAIL after $seconds s:$problems"
echo "--- console (last 60 lines) ---"
tail -n 60 "$work/console.txt"
if [ -s "$err" ]; then
  echo "--- stderr ---"
  tail -n 30 "$err"
fi
exit 1
