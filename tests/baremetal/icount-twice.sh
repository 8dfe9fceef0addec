#!/bin/sh
# icount-twice.sh MARKER COMMAND...
# Runs a bare-metal program twice with run.sh (exit status 0, no FAIL line,
# MARKER last) and passes only if both runs pass and print byte-identical
# output: under -icount everything the program prints is a function of its
# instruction count, not of the host's speed.
here=$(dirname "$0")
marker=$1
shift
a=$(mktemp) && b=$(mktemp) || exit 1
trap 'rm -f "$a" "$b"' EXIT
ok=0
sh "$here/run.sh" 0 "$marker" "$@" >"$a" || ok=1
sh "$here/run.sh" 0 "$marker" "$@" >"$b" || ok=1
cat "$a"
if [ $ok -ne 0 ]; then
  echo "icount-twice.sh: a run failed:"
  cat "$b"
  exit 1
fi
if ! cmp -s "$a" "$b"; then
  echo "icount-twice.sh: the two runs differ:"
  diff "$a" "$b"
  exit 1
fi
echo "icount-twice.sh: both runs printed the same $(wc -c <"$a") bytes"
exit 0
