#!/bin/sh
# compare.sh VMX QEMU [-L SYSROOT] [-i STDIN_FILE] [-d WORKDIR] PROGRAM [ARGS...]
#
# Runs PROGRAM (a riscv64 Linux executable) under qemu-riscv64 and under
# `vmx run-user` in the same test run and fails unless both print the same
# stdout and end with the same exit status (a signal death counts as 128+N).
# Each run starts in its own empty copy of WORKDIR (default: a fresh temporary
# directory), so programs that write files do not see each other's output.
# The outputs are kept in $COMPARE_KEEP (when set) for inspection.
# Exit status 77 (a ctest skip, where the test sets SKIP_RETURN_CODE 77): the
# peer cannot run here at all (qemu-binfmt.sh found no way to register
# binfmt_misc), so there is nothing to compare with.
set -u
vmx=$1 qemu=$2
shift 2
sysroot= stdin=/dev/null workdir=
while :; do
  case "${1-}" in
    -L) sysroot=$2; shift 2 ;;
    -i) stdin=$2; shift 2 ;;
    -d) workdir=$2; shift 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "usage: compare.sh VMX QEMU [-L SYSROOT] [-i STDIN] [-d DIR] PROGRAM [ARGS...]" >&2; exit 2; }
[ -e "$1" ] || { echo "compare.sh: $1: no such program" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmx-compare.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

run() { # run NAME CMD...
  name=$1; shift
  mkdir -p "$tmp/$name.wd"
  [ -n "$workdir" ] && cp -a "$workdir/." "$tmp/$name.wd/"
  (cd "$tmp/$name.wd" && exec "$@" <"$stdin" >"$tmp/$name.out" 2>"$tmp/$name.err")
  echo $? >"$tmp/$name.rc"
}

prog=$1; shift
case "$prog" in /*) ;; *) prog=$(pwd)/$prog ;; esac
if [ -n "$sysroot" ]; then
  run qemu "$qemu" -L "$sysroot" "$prog" "$@"
else
  run qemu "$qemu" "$prog" "$@"
fi
if [ "$(cat "$tmp/qemu.rc")" = 125 ] && grep -q '^qemu-binfmt.sh: cannot' "$tmp/qemu.err"; then
  echo "SKIP: the peer cannot run here: $(grep '^qemu-binfmt.sh: cannot' "$tmp/qemu.err" | head -1)"
  exit 77
fi
if [ -n "$sysroot" ]; then
  run vmx "$vmx" run-user -L "$sysroot" "$prog" "$@"
else
  run vmx "$vmx" run-user "$prog" "$@"
fi

status=0
if ! cmp -s "$tmp/qemu.out" "$tmp/vmx.out"; then
  echo "FAIL: stdout differs (qemu-riscv64 vs vmx):"
  diff "$tmp/qemu.out" "$tmp/vmx.out" | head -40
  status=1
fi
if [ "$(cat "$tmp/qemu.rc")" != "$(cat "$tmp/vmx.rc")" ]; then
  echo "FAIL: exit status differs: qemu-riscv64 $(cat "$tmp/qemu.rc"), vmx $(cat "$tmp/vmx.rc")"
  status=1
fi
if [ $status -ne 0 ]; then
  echo "--- vmx stderr:"; head -20 "$tmp/vmx.err"
  echo "--- qemu stderr:"; head -20 "$tmp/qemu.err"
else
  echo "OK: $(wc -c <"$tmp/vmx.out") bytes of stdout and exit status $(cat "$tmp/vmx.rc") identical"
fi
[ -n "${COMPARE_KEEP-}" ] && cp -a "$tmp/." "$COMPARE_KEEP/"
exit $status
