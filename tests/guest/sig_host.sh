#!/bin/sh
# sig_host.sh VMX PROGRAM TRACE: runs PROGRAM (sig_host.c) under
# `vmx run-user --trace TRACE`, sends it SIGUSR1 and then SIGTERM from this
# shell (another process) once it says it waits, and prints its output and
# the VCPU_SIGNAL messages of the trace (signal numbers, si_code, thread).
vmx=$1 prog=$2 trace=$3
out=${trace}.out
rm -f "$out" "$trace"
"$vmx" run-user --trace "$trace" "$prog" > "$out" 2>&1 &
pid=$!
# Waits (up to 60 s: the machine may be loaded) for line $1 of the output.
wait_for() {
  i=0
  while ! grep -q "^$1\$" "$out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 600 ]; then
      echo "timed out waiting for '$1'"; cat "$out"; kill -9 $pid; exit 1
    fi
    sleep 0.1
  done
  # Let it reach its wait (an early signal only changes what ends it).
  sleep 0.3
}
wait_for "ready 1"
kill -USR1 $pid
wait_for "ready 2"
kill -TERM $pid
wait $pid
echo "exit=$?"
cat "$out"
"$vmx" trace dump "$trace" | grep VCPU_SIGNAL |
  sed 's/.*"signo":\([0-9]*\),"code":\([-0-9]*\),.*"thread":\([a-z]*\).*/VCPU_SIGNAL signo=\1 code=\2 thread=\3/'
