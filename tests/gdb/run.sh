#!/bin/bash
# run.sh SCENARIO: one gdb-multiarch batch session against vmx's GDB server.
#
# Environment (set by CMakeLists.txt): VMX (the vmx binary), GDB
# (gdb-multiarch), GUEST (the directory of gdb_prog, gdb_threads and
# gdb_bm.elf), SRC (this directory, for the line numbers of the sources);
# for sys_linux also ASSETS (tests/system's assets.env) and RUN_LINUX
# (scripts/run-linux).
#
# Starts vmx with its server on a free 127.0.0.1 port (output to a file),
# runs gdb -batch -nx with the scenario's commands, waits for vmx to end and
# checks gdb's transcript and the guest's output. Nothing but gdb may connect
# to the port (vmx serves one connection and resumes the guest when it
# closes), so readiness is seen in /proc (a listening socket of vmx's). Line
# numbers come from the L_NAME marker comments in the sources. On failure it
# prints each missing item and exits 1; the transcript and the guest's output
# are printed either way.
set -u
scenario=${1:?usage: run.sh SCENARIO}
: "${VMX:?}" "${GDB:?}" "${GUEST:?}" "${SRC:?}"

work=$(mktemp -d "${TMPDIR:-/tmp}/vmx-gdb.XXXXXX") || exit 1
vmx_pid=
cleanup() {
  if [ -n "$vmx_pid" ]; then
    kill -9 "$vmx_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

transcript=$work/gdb.txt
guest_out=$work/vmx.out
guest_err=$work/vmx.err
failures=0

# line_of MARKER FILE: the line number of the marker comment in FILE.
line_of() {
  local n
  n=$(grep -n "$1" "$SRC/$2" | head -n 1 | cut -d: -f1)
  if [ -z "$n" ]; then
    echo "run.sh: marker $1 not found in $2" >&2
    exit 1
  fi
  echo "$n"
}

# A port that no socket on this host uses (any state, IPv4 or IPv6).
pick_port() {
  local used=" " addr port
  for f in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$f" ] || continue
    while read -r _ addr _; do
      case "$addr" in *:*) used+="$((16#${addr##*:})) " ;; esac
    done < <(tail -n +2 "$f")
  done
  port=$((20000 + ($$ * 37 + RANDOM) % 20000))
  while [[ "$used" == *" $port "* ]]; do
    port=$((port + 1))
  done
  echo "$port"
}

# listening PID PORT: PID holds a socket listening on PORT (any address),
# read from /proc so that nothing connects to the port before gdb does.
listening() {
  local want addr st inode fds
  want=$(printf ':%04X' "$2")
  fds=$(ls -l "/proc/$1/fd" 2>/dev/null) || return 1
  while read -r _ addr _ st _ _ _ _ _ inode _; do
    if [[ "$addr" == *"$want" ]] && [ "$st" = 0A ] && [[ "$fds" == *"socket:[$inode]"* ]]; then
      return 0
    fi
  done < <(tail -q -n +2 /proc/net/tcp /proc/net/tcp6 2>/dev/null)
  return 1
}

# session ELF VMX_ARGS... -- GDB_COMMANDS...: one run (ELF may be "": gdb
# gets no file). In VMX_ARGS, @PORT@ is the port. Retries with another port
# if vmx could not listen.
session() {
  local elf=$1 attempt port arg
  shift
  local vmx_args=() gdb_cmds=()
  while [ "$1" != "--" ]; do vmx_args+=("$1"); shift; done
  shift
  gdb_cmds=("$@")
  for attempt in 1 2 3; do
    port=$(pick_port)
    local args=()
    for arg in "${vmx_args[@]}"; do args+=("${arg//@PORT@/$port}"); done
    "$VMX" "${args[@]}" </dev/null >"$guest_out" 2>"$guest_err" &
    vmx_pid=$!
    # Wait (up to 60 s) until vmx listens, or ends (the port was taken).
    local i
    for ((i = 0; i < 600; i++)); do
      listening "$vmx_pid" "$port" && break
      kill -0 "$vmx_pid" 2>/dev/null || break
      sleep 0.1
    done
    if ! kill -0 "$vmx_pid" 2>/dev/null; then
      wait "$vmx_pid"
      vmx_status=$?
      vmx_pid=
      if grep -q "cannot listen" "$guest_err"; then
        echo "run.sh: port $port taken, trying another"
        continue
      fi
      echo "run.sh: vmx ended (status $vmx_status) before gdb connected:"
      cat "$guest_out" "$guest_err"
      exit 1
    fi
    local ex=(-ex 'set pagination off' -ex 'set confirm off' -ex 'set width 0'
              -ex 'set tcp auto-retry on' -ex 'set tcp connect-timeout 60'
              -ex "target remote 127.0.0.1:$port")
    for arg in "${gdb_cmds[@]}"; do ex+=(-ex "$arg"); done
    [ -n "$elf" ] && ex+=("$elf")
    timeout -k 5 "${GDB_TIMEOUT:-80}" "$GDB" -batch -nx "${ex[@]}" </dev/null >"$transcript" 2>&1
    gdb_status=$?
    # vmx ends when the guest exits (or when gdb killed it at its exit).
    for ((i = 0; i < 200; i++)); do
      kill -0 "$vmx_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$vmx_pid" 2>/dev/null; then
      echo "run.sh: vmx still running 20 s after gdb ended; killing it"
      kill -9 "$vmx_pid"
      failures=$((failures + 1))
    fi
    wait "$vmx_pid"
    vmx_status=$?
    vmx_pid=
    return
  done
  echo "run.sh: no free port found"
  exit 1
}

# expect FILE REGEX WHAT: FILE has a line matching the extended REGEX.
expect_in() {
  if ! tr -d '\r' <"$1" | grep -Eq -- "$2"; then
    echo "run.sh: MISSING: $3 (/$2/ in $(basename "$1"))"
    failures=$((failures + 1))
  fi
}
expect() { expect_in "$transcript" "$@"; }
expect_out() { expect_in "$guest_out" "$@"; }
# expect_count REGEX MIN WHAT: at least MIN transcript lines match REGEX.
expect_count() {
  local n
  n=$(tr -d '\r' <"$transcript" | grep -Ec -- "$1")
  if [ "$n" -lt "$2" ]; then
    echo "run.sh: MISSING: $3 (/$1/ $n times, want >= $2)"
    failures=$((failures + 1))
  fi
}

T=$'\t'
exited_normally='^\[Inferior 1 \(Remote target\) exited normally\]'
prog_out() {
  expect_out '^total=30$' "the program's total=30"
  expect_out '^ratio=3\.75$' "the program's ratio=3.75"
  expect_out '^counter=3$' "the program's counter=3"
}

case "$scenario" in
user_break)
  # break by name, the callers in bt, finish's returned value, exit.
  l_square=$(line_of L_SQUARE prog.c)
  l_call=$(line_of L_WORK_CALL prog.c)
  l_main=$(line_of L_MAIN_WORK prog.c)
  session "$GUEST/gdb_prog" run-user -g @PORT@ "$GUEST/gdb_prog" -- \
    'break square' continue bt finish continue finish delete continue
  expect "^Breakpoint 1, square \(x=1\) at .*prog\.c:$l_square$" "the stop at square(1)"
  expect "^#0 +square \(x=1\) at .*prog\.c:$l_square$" "bt frame #0 square"
  expect "^#1 +0x[0-9a-f]+ in work \(n=4\) at .*prog\.c:$l_call$" "bt frame #1 work"
  expect "^#2 +0x[0-9a-f]+ in main \(\) at .*prog\.c:$l_main$" "bt frame #2 main"
  expect "^0x[0-9a-f]+ in work \(n=4\) at .*prog\.c:$l_call$" "finish: back in work"
  expect '^Value returned is \$[0-9]+ = 1$' "finish's value 1 (square(1))"
  expect "^Breakpoint 1, square \(x=2\)" "the second stop, at square(2)"
  expect '^Value returned is \$[0-9]+ = 4$' "finish's value 4 (square(2))"
  expect "$exited_normally" "the exit"
  prog_out
  ;;
user_step)
  # next and step follow the source lines.
  l_sum=$(line_of L_WORK_SUM prog.c)
  l_for=$(line_of L_WORK_FOR prog.c)
  l_call=$(line_of L_WORK_CALL prog.c)
  l_square=$(line_of L_SQUARE prog.c)
  session "$GUEST/gdb_prog" run-user -g @PORT@ "$GUEST/gdb_prog" -- \
    'break work' continue next next step 'info frame' finish next next delete continue
  expect "^Breakpoint 1, work \(n=4\) at .*prog\.c:$l_sum$" "the stop at work's first line"
  expect "^$l_sum$T" "the line of 'int sum = 0'"
  expect "^$l_for$T" "next: the for line ($l_for)"
  expect "^$l_call$T" "next: the call line ($l_call)"
  expect "^square \(x=1\) at .*prog\.c:$l_square$" "step: into square(1)"
  expect "^$l_square$T" "step: square's line ($l_square)"
  expect "^ called by frame at 0x[0-9a-f]+$" "info frame in square names its caller"
  expect '^Value returned is \$[0-9]+ = 1$' "finish's value 1"
  expect_count "^$l_for$T" 2 "next after finish: back on the for line"
  expect "$exited_normally" "the exit"
  prog_out
  ;;
user_watch)
  # A hardware watchpoint on a global: old and new values at each write.
  session "$GUEST/gdb_prog" run-user -g @PORT@ "$GUEST/gdb_prog" -- \
    'watch counter' continue continue 'p counter' delete continue
  expect "^Hardware watchpoint 1: counter$" "the hardware watchpoint"
  expect "^Old value = 0$" "Old value = 0"
  expect "^New value = 1$" "New value = 1"
  expect "^Old value = 1$" "Old value = 1"
  expect "^New value = 2$" "New value = 2"
  expect_count "^0x[0-9a-f]+ in count \(n=3\) at .*prog\.c:[0-9]+$" 2 "the two stops in count(3)"
  expect '^\$1 = 2$' "p counter = 2"
  expect "$exited_normally" "the exit"
  prog_out
  ;;
user_regs)
  # Registers: info registers in scale(), $fa0 after it returns 3.75.
  session "$GUEST/gdb_prog" run-user -g @PORT@ "$GUEST/gdb_prog" -- \
    'break scale' continue 'info registers' 'p $pc == scale' 'p v' finish 'p $fa0' \
    'info registers fa0' next 'p ratio' delete continue
  expect "^pc +0x[0-9a-f]+[[:space:]]+0x[0-9a-f]+ <scale\+[0-9]+>$" "info registers: pc in scale"
  expect "^ra +0x[0-9a-f]+[[:space:]]+0x[0-9a-f]+ <main\+[0-9]+>$" "info registers: ra in main"
  expect "^sp +0x[0-9a-f]+[[:space:]]+0x[0-9a-f]+$" "info registers: sp"
  expect "^t6 +0x[0-9a-f]+[[:space:]]+-?[0-9]+$" "info registers: t6"
  expect '^\$1 = 0$' "p \$pc == scale: 0 (after the prologue)"
  expect '^\$2 = 1\.5$' "p v = 1.5"
  expect '^Value returned is \$[0-9]+ = 3\.75$' "finish's value 3.75"
  expect '^\$[0-9]+ = \{float = .*, double = 3\.75\}$' "p \$fa0: double 3.75"
  expect '^fa0 +\{float = .*, double = 3\.75\}' "info registers fa0"
  expect '^\$[0-9]+ = 3\.75$' "p ratio = 3.75"
  expect "$exited_normally" "the exit"
  prog_out
  ;;
user_setvar)
  # set var changes the program's result (work(5) = 55, exit code 7).
  l_main=$(line_of L_MAIN_WORK prog.c)
  session "$GUEST/gdb_prog" run-user -g @PORT@ "$GUEST/gdb_prog" -- \
    "break prog.c:$l_main" continue 'p limit' 'set var limit = 5' 'p limit' delete continue
  expect "^Breakpoint 1, main \(\) at .*prog\.c:$l_main$" "the stop at line $l_main"
  expect '^\$1 = 4$' "p limit = 4"
  expect '^\$2 = 5$' "p limit = 5 after set var"
  expect '^\[Inferior 1 \(Remote target\) exited with code 07\]' "the exit with code 7"
  expect_out '^total=55$' "the program's total=55"
  ;;
user_threads)
  # Threads: the breakpoint in a worker, info threads, thread N, bt.
  session "$GUEST/gdb_threads" run-user -g @PORT@ "$GUEST/gdb_threads" -- \
    'break worker_step' continue bt 'info threads' 'thread 1' bt 'thread 2' bt 'thread 3' bt \
    'thread 4' bt delete continue
  expect "hit Breakpoint 1, worker_step \(id=[0-2], i=0\) at .*threads\.c:[0-9]+$" "the stop in worker_step"
  expect "^#1 +0x[0-9a-f]+ in worker_main \(arg=0x[0-2]\) at .*threads\.c:[0-9]+$" "bt: worker_step called by worker_main"
  expect_count "^[ *] +[1-9][0-9]* +Thread [0-9.]+ .*(worker_main|worker_step|main) \(" 4 "info threads: 4 threads (main and 3 workers)"
  for n in 1 2 3 4; do
    expect "^\[Switching to thread $n \(Thread [0-9.]+\)\]" "thread $n switches"
  done
  expect "^#0 +(0x[0-9a-f]+ in )?main \(\) at .*threads\.c:[0-9]+$" "bt of the main thread"
  expect_count "^#[01] +(0x[0-9a-f]+ in )?worker_main \(arg=0x[0-2]\)" 4 "bt of each worker (and the stopped one) in worker_main"
  expect "$exited_normally" "the exit"
  expect_out '^worker 0 sum=10$' "worker 0's sum"
  expect_out '^worker 1 sum=510$' "worker 1's sum"
  expect_out '^worker 2 sum=1010$' "worker 2's sum"
  ;;
user_join)
  # A stop while the main thread waits in pthread_join (a futex wait in the
  # host kernel): the server interrupts the wait, gdb reads the main thread,
  # and the join restarts when the guest continues.
  session "$GUEST/gdb_join" run-user -g @PORT@ "$GUEST/gdb_join" -- \
    'break worker_step' continue 'info threads' 'thread 1' bt continue
  expect "hit Breakpoint 1, worker_step \(i=21\) at .*join\.c:[0-9]+$" "the stop in worker_step"
  expect_count "^[ *] +[1-9][0-9]* +Thread [0-9.]+ " 2 "info threads: both threads"
  expect "^\[Switching to thread 1 \(Thread [0-9.]+\)\]" "thread 1 switches"
  expect "^#[0-9]+ +0x[0-9a-f]+ in main \(\) at .*join\.c:$(line_of L_MAIN_JOIN join.c)$" \
    "bt of the main thread: main waits in pthread_join"
  expect "$exited_normally" "the exit"
  expect_out '^joined ret=42 hits=1$' "the join completed with the worker's value"
  ;;
user_signal)
  # A guest fault stops the guest as SIGSEGV at the faulting line; continuing
  # passes the signal on, and the guest's handler runs.
  session "$GUEST/gdb_segv" run-user -g @PORT@ "$GUEST/gdb_segv" -- continue 'bt 1' continue
  expect "^Program received signal SIGSEGV, Segmentation fault\.$" "the fault reported as SIGSEGV"
  expect "^$(line_of L_FAULT segv.c)${T}" "at the faulting line"
  expect "$exited_normally" "the exit after the handler"
  expect_out '^caught SIGSEGV$' "the guest's handler ran"
  ;;
sys_baremetal)
  # System mode, halted at reset (-S): hart threads, CSRs, a trap stepped
  # into. gdb's RISC-V stepi is a software single step (a breakpoint at the
  # next pc, then continue), which would run the whole trap handler; the
  # server's own single step (vCont;s) is sent with `maint packet`, after
  # which gdb's register cache is flushed.
  session "$GUEST/gdb_bm.elf" -M virt -bios none -nographic -gdb tcp::@PORT@ -S \
    -kernel "$GUEST/gdb_bm.elf" -- \
    'info threads' 'p/x $pc' 'p $priv' 'hbreak fill_marks' continue 'hbreak *do_ecall' continue \
    'x/i $pc' 'p $pc == (long)do_ecall' 'maint packet vCont;s:1' 'maint flush register-cache' \
    'info symbol $pc' 'p $pc == (long)&m_trap_direct' 'p $mcause' 'p $mepc == (long)do_ecall' \
    'p $priv' stepi 'info symbol $pc' 'x/4xw &marks' 'monitor icount' 'info registers mstatus' \
    'monitor info registers' delete continue
  expect "^\* 1 +Thread 1 .*hart 0" "info threads: thread 1 is hart 0"
  expect '^\$1 = 0x80000000$' "pc at reset = 0x80000000"
  expect '^\$2 = (3|prv:3.*)$' "priv at reset = 3 (M)"
  expect "^Hardware assisted breakpoint 1 at 0x[0-9a-f]+: file .*bm\.c, line [0-9]+\.$" "hbreak fill_marks"
  expect "^Breakpoint 1, fill_marks \(\) at .*bm\.c:[0-9]+$" "the stop at fill_marks"
  expect "^Breakpoint 2, (0x[0-9a-f]+ in )?do_ecall \(\)" "the stop at do_ecall"
  expect "^=> 0x[0-9a-f]+ <do_ecall>:${T}ecall$" "x/i: the ecall"
  expect '^\$3 = 1$' "pc == do_ecall"
  expect '^received: "T05thread:1;"$' "vCont;s: a stop reply"
  expect "^m_trap_direct in section \.text$" "the step from the ecall lands on m_trap_direct"
  expect '^\$4 = 1$' "pc == &m_trap_direct"
  expect '^\$5 = 11$' "mcause = 11 (ecall from M)"
  expect '^\$6 = 1$' "mepc == do_ecall"
  expect '^\$7 = (3|prv:3.*)$' "priv = 3 in the handler"
  expect "^m_trap_direct \+ 4 in section \.text$" "stepi in the handler"
  expect "^0x[0-9a-f]+ <marks>:${T}0xcafe0001${T}0xcafe0002${T}0xcafe0003${T}0xcafe0004$" "x/4xw &marks"
  expect "^[0-9]+$" "monitor icount: a number"
  expect "^mstatus +0x[0-9a-f]+" "info registers mstatus"
  expect "^thread 1  pc [0-9a-f]{16} m_trap_direct\\+0x4 \\(crt\\.S:[0-9]+\\)$" \
    "monitor info registers: the pc by symbol and source line"
  expect "^priv +M$" "monitor info registers: priv"
  expect "$exited_normally" "the exit through HTIF"
  expect_out "^END gdb_bm" "the program's END line"
  if grep -q '^FAIL' "$guest_out"; then
    echo "run.sh: the program printed FAIL lines"
    failures=$((failures + 1))
  fi
  ;;
sys_linux)
  # A Linux boot: the address of kernel_power_off from the guest's own
  # /proc/kallsyms (boot 1; nokaslr keeps it the same in boot 2), then boot 2
  # with the server (harts running: attaching halts them), a hardware
  # breakpoint there, the guest's init powering off (vmx.poweroff=1) stops
  # at it, and the power-off ends the session.
  : "${ASSETS:?}" "${RUN_LINUX:?}"
  # shellcheck disable=SC1090
  . "$ASSETS" || exit 1
  boot1=$work/boot1.out
  echo 'grep -w kernel_power_off /proc/kallsyms' |
    VMX=$VMX SMP=1 APPEND=nokaslr KERNEL=$KERNEL INITRD=$INITRD FIRMWARE=$FIRMWARE \
    timeout -k 5 100 "$RUN_LINUX" >"$boot1" 2>&1
  addr=$(tr -d '\r' <"$boot1" | grep -a -o '^[0-9a-f]\{16\} T kernel_power_off$' | cut -d' ' -f1)
  if [ -z "$addr" ] || [ "$addr" = 0000000000000000 ]; then
    echo "run.sh: boot 1 printed no address for kernel_power_off:"
    tr -d '\r' <"$boot1"
    exit 1
  fi
  echo "run.sh: kernel_power_off is at 0x$addr"
  GDB_TIMEOUT=120 session "" -M virt -m 512M -smp 2 -bios "$FIRMWARE" -kernel "$KERNEL" \
    -initrd "$INITRD" -append "console=ttyS0 nokaslr vmx.poweroff=1" -nographic \
    -gdb tcp::@PORT@ -- \
    'info threads' "hbreak *0x$addr" continue 'p/x $pc' 'p $priv' delete continue
  expect "^\* 1 +Thread 1 \"hart 0\"" "info threads: hart 0"
  expect "^  2 +Thread 2 \"hart 1\"" "info threads: hart 1"
  expect "^Hardware assisted breakpoint 1 at 0x$addr$" "hbreak *0x$addr"
  expect "hit Breakpoint 1, 0x$addr in \?\? \(\)$" "the stop at kernel_power_off"
  expect "^\\\$1 = 0x$addr$" "pc = 0x$addr"
  expect '^\$2 = 1$' "priv = 1 (S) in the kernel"
  expect "$exited_normally" "the power-off"
  expect_out "reboot: Power down" "the kernel's power-down line"
  ;;
*)
  echo "run.sh: unknown scenario $scenario" >&2
  exit 2
  ;;
esac

echo "---- gdb transcript ----"
tr -d '\r' <"$transcript"
echo "---- vmx stdout ----"
tr -d '\r' <"$guest_out"
echo "---- vmx stderr ----"
cat "$guest_err"
if [ "$failures" -ne 0 ]; then
  echo "run.sh: $scenario: $failures check(s) failed (gdb status $gdb_status, vmx status $vmx_status)"
  exit 1
fi
echo "run.sh: $scenario: all checks passed (vmx status $vmx_status)"
exit 0
