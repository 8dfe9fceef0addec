#!/bin/sh
# icount-boot.sh VMX RUN_LINUX ASSETS SHIFT [TIMEOUT]: boots Linux on one hart
# under vmx -icount shift=SHIFT (deterministic time: the clock counts the
# hart's instructions, and idle time is skipped), types a command that
# sleeps 1 s between two reads of /proc/uptime, and powers off.
#
# Passes only if the guest's shell ran the command, the uptime advanced by
# 1 s of virtual time (1.0 to 1.5 s: the sleep plus the instructions of
# starting `sleep`), the kernel powered off and vmx exited with status 0.
# The boot's own clock is sane too: the kernel's timestamps grow.
set -u
if [ $# -lt 4 ]; then
  echo "usage: $0 VMX RUN_LINUX ASSETS SHIFT [TIMEOUT]" >&2
  exit 2
fi
vmx=$1 run_linux=$2 assets=$3 shift_n=$4 limit=${5:-300}
FIRMWARE= KERNEL= INITRD=
[ -r "$assets" ] || { echo "FAIL: cannot read $assets (run the system_fetch test)"; exit 1; }
case "$assets" in */*) ;; *) assets=./$assets ;; esac
. "$assets"
export FIRMWARE KERNEL INITRD

out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
# The marker lines start at the beginning of a line; the echo of the typed
# command follows the prompt, so it cannot match them.
cmd='a=$(cut -d" " -f1 /proc/uptime); sleep 1; b=$(cut -d" " -f1 /proc/uptime); awk -v a=$a -v b=$b "BEGIN { d = b - a; printf \"vmx-icount: slept %.2f s (%s to %s)\\n\", d, a, b; print (d >= 1.0 && d < 1.5) ? \"vmx-icount: clock ok\" : \"vmx-icount: clock wrong\" }"'
start=$(date +%s)
printf '%s\n' "$cmd" | VMX=$vmx SMP=1 timeout -k 5 "$limit" "$run_linux" -icount "shift=$shift_n" >"$out" 2>&1
status=$?
tr -d '\r' <"$out" >"$out.txt" && mv "$out.txt" "$out"
seconds=$(( $(date +%s) - start ))

problems=
problem() { problems="$problems
  - $*"; }
[ "$status" = 0 ] || problem "exit status $status, not 0 (124/137: no power-off within $limit s)"
grep -q '^vmx-icount: clock ok$' "$out" || problem "no 'vmx-icount: clock ok' line: $(grep '^vmx-icount: slept' "$out" || echo 'the command did not run')"
grep -q 'reboot: Power down' "$out" || problem "the kernel did not power off"
# The kernel's timestamps ([ seconds.micros ]) never go backwards.
awk -F'[][]' '/^\[ *[0-9]+\.[0-9]+\]/ { t = $2 + 0; if (t < last) bad = 1; last = t }
              END { exit bad }' "$out" || problem "the kernel's timestamps go backwards"
if [ -z "$problems" ]; then
  grep -e '^vmx-icount:' -e 'reboot: Power down' "$out"
  echo "PASS: Linux booted under -icount shift=$shift_n, slept 1 s of virtual time and powered off in $seconds s"
  exit 0
fi
echo "FAIL after $seconds s:$problems"
echo "--- output (last 60 lines) ---"
tail -n 60 "$out"
exit 1
