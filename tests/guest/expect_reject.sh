#!/bin/sh
# expect_reject.sh VMX PATTERN PROGRAM [ARGS...]
#
# Passes when `vmx run-user PROGRAM ARGS...` refuses to run PROGRAM: it must
# exit with status 1..127 (126 and 127 being the shell's "cannot execute" and
# "not found") or 255, not 128..254, which a shell also reports for deaths
# by signal; print nothing on stdout; and say why on stderr in a message
# matching the extended regular expression PATTERN (normally the program's
# or the missing interpreter's path).
set -u
vmx=$1 pattern=$2
shift 2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmx-reject.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && exec "$vmx" run-user "$@" </dev/null >"$tmp/out" 2>"$tmp/err")
rc=$?
status=0
if [ $rc -eq 0 ] || { [ $rc -gt 127 ] && [ $rc -ne 255 ]; }; then
  echo "FAIL: vmx exited with status $rc (want 1..127 or 255)"
  status=1
fi
if [ -s "$tmp/out" ]; then
  echo "FAIL: vmx printed on stdout:"; head -5 "$tmp/out"
  status=1
fi
if ! grep -Eq -- "$pattern" "$tmp/err"; then
  echo "FAIL: stderr does not match /$pattern/"
  status=1
fi
echo "--- vmx stderr (status $rc):"; head -10 "$tmp/err"
exit $status
