#!/bin/sh
# Sets up a Debian 12 machine for vmx (as root): installs every dependency
# from Debian's packages, builds vmx in ./build and boots the default guest
# (Debian's riscv64 Linux to a shell; VMX_NO_DEMO=1 skips it). Safe to run again.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="build-essential cmake ninja-build pkg-config git
  libuv1-dev libmsgpack-dev libjemalloc-dev libck-dev libcmocka-dev libhwloc-dev
  gcc-riscv64-linux-gnu libc6-dev-riscv64-cross binutils-riscv64-linux-gnu qemu-user
  curl ca-certificates xz-utils dpkg-dev file python3 python3-matplotlib
  libfdt-dev device-tree-compiler opensbi qemu-system-misc cpio
  gdb-multiarch libdw-dev libelf-dev libslirp-dev libglib2.0-dev libpng-dev qemu-utils e2fsprogs"

if [ "${VMX_SKIP_APT-}" != 1 ]; then
  missing=$(dpkg-query -W -f='${Package} ${Status}\n' $PACKAGES 2>/dev/null | grep -v 'install ok installed' | cut -d' ' -f1 || true)
  # dpkg-query says nothing about packages it has never heard of: count them too.
  known=$(dpkg-query -W -f='${Package}\n' $PACKAGES 2>/dev/null || true)
  for p in $PACKAGES; do echo "$known" | grep -qx "$p" || missing="$missing $p"; done
  if [ -n "$(echo $missing)" ]; then
    echo "setup: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends $missing
  fi
fi

cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"

[ "${VMX_NO_DEMO-}" = 1 ] && exit 0
# The default guest: Debian's riscv64 kernel and a busybox initramfs on
# Debian's OpenSBI, fetched and cached by scripts/run-linux, booted to a shell
# on this console (type `poweroff` or `exit` to end it; Ctrl-A X quits).
echo "setup: done. Booting Linux: scripts/run-linux (poweroff or Ctrl-A X ends it)" >&2
exec scripts/run-linux
