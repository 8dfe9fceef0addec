#!/bin/sh
# Runs the whole vmx test suite: builds ./build (optimised) and ./build-asan
# (AddressSanitizer + UndefinedBehaviorSanitizer) and runs ctest in both.
# Tests that compare with qemu-riscv64 run both in the same test. Assets
# (Debian riscv64 packages) are fetched into ${VMX_CACHE:-~/.cache/vmx}.
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc)
status=0
for cfg in build:OFF build-asan:ON; do
  dir=${cfg%%:*} san=${cfg##*:}
  echo "=== $dir (sanitizers: $san)" >&2
  cmake -G Ninja -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVMX_SANITIZE="$san" >/dev/null
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 600) || status=1
done
exit $status
