# tests/virtio/lib.sh: boot, console and timeout logic shared by the virtio
# tests (sourced, POSIX sh).
#
# A test script is run as   TEST.sh VMM EMULATOR ASSETS [ARGS...]
#   VMM       qemu or vmx: which kind of emulator runs the guest
#   EMULATOR  its binary (qemu-system-riscv64 or build/vmx)
#   ASSETS    the file `scripts/run-linux --assets` wrote (FIRMWARE=, KERNEL=,
#             INITRD=; tests/system's system_fetch makes it)
# and calls vt_init "$@" first.  Both emulators get the same command line:
#
#   EMULATOR -M virt -m 256M -smp 1 -bios FIRMWARE -kernel KERNEL
#            -initrd INITRD -append "console=ttyS0 APPEND" -nographic
#            $VT_EXTRA DEVICE-ARGS...
#
# with QEMU's device options (-drive ... -device virtio-blk-device,drive=d0,
# -netdev user,... -device virtio-net-device,netdev=n0, -device
# virtio-rng-device, -device virtio-gpu-device).  VT_EXTRA defaults to
# "-global virtio-mmio.force-legacy=false" for qemu (the modern virtio-mmio
# version 2, the one vmx implements) and to nothing for vmx.  The guest's
# /init (scripts/mkinitramfs) runs the script named by vmx.script= in APPEND
# and prints "vmx-virtio: ..." lines; the console is read from a file and the
# emulator's stdin is a FIFO the test can type into (vt_type, vt_monitor).
#
# Every boot runs under `timeout`; a kernel panic or a missed deadline ends it
# at once; on exit the emulator is killed if still running and the work
# directory ($work, for the test's own temporary files too) is removed.

vt_init() {
  if [ $# -lt 3 ]; then
    echo "usage: $0 qemu|vmx EMULATOR ASSETS [ARGS...]" >&2
    exit 2
  fi
  vmm=$1 emu=$2 assets=$3
  case "$vmm" in
    qemu) : "${VT_EXTRA=-global virtio-mmio.force-legacy=false}" ;;
    vmx) : "${VT_EXTRA=}" ;;
    *) echo "$0: VMM must be qemu or vmx, not $vmm" >&2; exit 2 ;;
  esac
  FIRMWARE= KERNEL= INITRD=
  [ -r "$assets" ] || { echo "FAIL: cannot read $assets (run the system_fetch test)"; exit 1; }
  case "$assets" in */*) ;; *) assets=./$assets ;; esac
  . "$assets"
  work=$(mktemp -d "${TMPDIR:-/tmp}/virtio-test.XXXXXX") || exit 1
  pid= helpers= boots=0 problems= started=$(date +%s.%N)
  trap 'vt_cleanup' EXIT
  trap 'exit 1' INT TERM HUP
}

vt_cleanup() {
  exec 3>&-
  [ -z "$pid" ] || kill "$pid" 2>/dev/null
  for h in $helpers; do kill "$h" 2>/dev/null; done
  [ -z "$pid" ] || wait "$pid" 2>/dev/null
  rm -rf "$work"
}

# vt_helper PID: a host process (a server) to kill at the end.
vt_helper() { helpers="$helpers $1"; }

# vt_boot APPEND LIMIT [DEVICE-ARGS...]: start the guest with "console=ttyS0
# APPEND" under a LIMIT-second timeout; the console goes to $out (and, with
# carriage returns dropped, to $console when read by vt_wait and vt_end).
vt_boot() {
  append=$1 limit=$2
  shift 2
  boots=$((boots + 1))
  out=$work/console.$boots console=$work/console.$boots.txt err=$work/stderr.$boots
  fifo=$work/stdin.$boots
  mkfifo "$fifo" || exit 1
  : >"$out"
  # shellcheck disable=SC2086  # VT_EXTRA is a list of words
  set -- "$emu" -M virt -m 256M -smp 1 -bios "$FIRMWARE" -kernel "$KERNEL" \
    -initrd "$INITRD" -append "console=ttyS0 $append" -nographic $VT_EXTRA "$@"
  echo "boot $boots: $*"
  boot_start=$(date +%s.%N)
  deadline=$(($(date +%s) + limit))
  timeout -k 5 "$limit" "$@" <"$fifo" >"$out" 2>"$err" &
  pid=$!
  exec 3>"$fifo"
  : >"$console"
}

# vt_refresh: the console so far, without carriage returns, in $console.
vt_refresh() { tr -d '\r' <"$out" >"$console"; }

vt_panicked() { grep -a -q 'Kernel panic - not syncing' "$out"; }

# vt_wait ERE: wait until a console line matches ERE; 1 if the guest
# exited, panicked or ran out of time first (and says so).
vt_wait() {
  while :; do
    vt_refresh
    grep -a -q -E -e "$1" "$console" && return 0
    if vt_panicked; then
      sleep 1
      vt_problem "boot $boots: the kernel panicked before /$1/"
      return 1
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      vt_refresh
      grep -a -q -E -e "$1" "$console" && return 0
      vt_problem "boot $boots: the emulator exited before a line matched /$1/"
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      vt_problem "boot $boots: no line matched /$1/ in time"
      return 1
    fi
    sleep 0.2
  done
}

# vt_line ERE: the first console line matching ERE (empty if none).
vt_line() { vt_refresh; grep -a -E -e "$1" "$console" | head -n 1; }

# vt_value KEY: the value of the first "KEY=VALUE" (VALUE up to a blank) on
# the "vmx-virtio:" lines.
vt_value() {
  vt_refresh
  grep -a '^vmx-virtio:' "$console" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

# vt_type TEXT: type TEXT (printf format) on the guest's console.
vt_type() { printf "$1" >&3; }

# vt_monitor COMMAND: run an emulator monitor command (Ctrl-A C, the
# command, Ctrl-A C back to the console), as QEMU's -nographic offers.
vt_monitor() {
  printf '\001c' >&3
  sleep 0.5
  printf '%s\n' "$1" >&3
  sleep 0.5
  printf '\001c' >&3
}

# vt_end: wait for the emulator to exit (by the guest's power-off) and check
# that it powered off with status 0.
vt_end() {
  while kill -0 "$pid" 2>/dev/null; do
    if vt_panicked; then
      sleep 1
      kill "$pid" 2>/dev/null
      break
    fi
    if [ "$(date +%s)" -ge "$((deadline + 6))" ]; then
      kill -9 "$pid" 2>/dev/null
      break
    fi
    sleep 0.2
  done
  wait "$pid"
  status=$?
  pid=
  exec 3>&-
  vt_refresh
  seconds=$(awk -v s="$boot_start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
  if vt_panicked; then vt_problem "boot $boots: the kernel panicked"
  elif [ "$status" = 124 ] || [ "$status" = 137 ]; then vt_problem "boot $boots: no power-off in time (killed)"
  elif [ "$status" != 0 ]; then vt_problem "boot $boots: exit status $status, not 0"
  elif ! grep -a -q 'reboot: Power down' "$console"; then
    vt_problem "boot $boots: exited without the kernel's power-off"
  fi
  echo "boot $boots: ended after $seconds s, exit status $status"
  grep -a -e '^vmx-virtio:' -e '^vmx-boot: virtio' -e '^vmx-boot: insmod' "$console" | sed 's/^/  /'
}

# vt_problem TEXT: note a failed check.
vt_problem() { problems="$problems
  - $*"; }

# vt_expect ERE TEXT: note TEXT as a problem unless a console line matches.
vt_expect() { grep -a -q -E -e "$1" "$console" || vt_problem "boot $boots: $2"; }

# vt_finish NAME: print PASS or FAIL (with the last console lines) and exit.
vt_finish() {
  total=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
  if [ -z "$problems" ]; then
    echo "PASS: $1 on $vmm in $total s"
    exit 0
  fi
  echo "FAIL: $1 on $vmm after $total s:$problems"
  if [ -n "${console:-}" ] && [ -f "$console" ]; then
    vt_refresh
    echo "--- console of boot $boots (last 40 lines) ---"
    tail -n 40 "$console"
  fi
  if [ -n "${err:-}" ] && [ -s "$err" ]; then
    echo "--- stderr of boot $boots ---"
    tail -n 20 "$err"
  fi
  exit 1
}

# vt_free_port: a TCP port on 127.0.0.1 that nothing listens on now.
vt_free_port() {
  /usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
