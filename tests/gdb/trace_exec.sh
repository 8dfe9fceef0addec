#!/bin/sh
# trace_exec.sh VMX GUEST_DIR SRC_DIR: `--trace-exec` names blocks by
# function+offset and file:line from the guest's symbols and DWARF lines,
# in user mode (gdb_prog) and in system mode (gdb_bm.elf, crt.S's _start);
# the traced program still prints and exits as without the trace.
set -u
vmx=$1 guest=$2 src=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/trace-exec.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
fail=0
check() { # FILE REGEX WHAT
  if ! grep -Eq "$2" "$1"; then
    echo "FAIL: $3 (no line matching /$2/ in $1)"
    fail=1
  fi
}
line_of() { grep -n "$1" "$2" | head -n 1 | cut -d: -f1; }

"$vmx" run-user --trace-exec "$guest/gdb_prog" >"$work/out" 2>"$work/trace"
echo "user mode: exit $?, $(wc -l <"$work/trace") trace lines"
"$vmx" run-user "$guest/gdb_prog" >"$work/plain" 2>/dev/null
cmp -s "$work/out" "$work/plain" || { echo "FAIL: the traced program's output differs"; fail=1; }
sq=$(line_of 'int square(int x)' "$src/prog.c")
check "$work/trace" "^exec \[[0-9]+\] 0x[0-9a-f]{16} square \(prog\.c:($sq|$((sq + 1)))\)$" \
  "square's first block, at its line"
check "$work/trace" "^exec \[[0-9]+\] 0x[0-9a-f]{16} work\+0x[0-9a-f]+ \(prog\.c:$(line_of L_WORK_CALL "$src/prog.c")\)$" \
  "work's call to square, at its line"
check "$work/trace" "^exec \[[0-9]+\] 0x[0-9a-f]{16} main\+0x[0-9a-f]+ \(prog\.c:[0-9]+\)$" "main"

timeout 60 "$vmx" -M virt -bios none -nographic --trace-exec -kernel "$guest/gdb_bm.elf" \
  >"$work/sys_out" 2>"$work/sys_trace"
echo "system mode: exit $?, $(wc -l <"$work/sys_trace") trace lines"
check "$work/sys_trace" "^exec \[0\] 0x0000000080000000 _start \(crt\.S:[0-9]+\)$" \
  "hart 0's first block is _start in crt.S"
check "$work/sys_trace" "^exec \[0\] 0x[0-9a-f]{16} main(\+0x[0-9a-f]+)? \(bm\.c:[0-9]+\)$" \
  "the bare-metal main, at a line of bm.c"
if [ $fail = 0 ]; then
  echo "PASS: --trace-exec names blocks in both modes"
else
  echo "--- user trace (head) ---"; head -n 20 "$work/trace"
  echo "--- system trace (head) ---"; head -n 20 "$work/sys_trace"
fi
exit $fail
