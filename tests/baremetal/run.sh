#!/bin/sh
# run.sh STATUS MARKER COMMAND...
# Runs a bare-metal test program (COMMAND is the emulator's command line)
# and passes only if it exits with STATUS, prints no line starting with
# "FAIL" and its last non-empty line is MARKER. The output is shown either way.
# The run is stopped after 50 s (SIGKILL 5 s after SIGTERM), within ctest's
# 60 s timeout, so that a hung emulator still shows its output.
status_want=$1
marker=$2
shift 2
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
timeout -k 5 50 "$@" </dev/null >"$out" 2>&1
status=$?
tr -d '\r' <"$out"
ok=0
if [ "$status" -ne "$status_want" ]; then
  echo "run.sh: exit status $status, expected $status_want"
  ok=1
fi
if grep -q '^FAIL' "$out"; then
  echo "run.sh: the output has FAIL lines"
  ok=1
fi
last=$(tr -d '\r' <"$out" | grep -v '^[[:space:]]*$' | tail -n 1)
if [ "$last" != "$marker" ]; then
  echo "run.sh: the last line is '$last', expected '$marker'"
  ok=1
fi
exit $ok
