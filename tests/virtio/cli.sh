#!/bin/sh
# cli.sh VMX KERNEL: the device manager's command line. `-device help`
# lists every device type; each bad -device, -drive or -netdev is refused
# with exit status 1 and a message naming what is wrong, before the guest
# runs (KERNEL, a bare-metal ELF that would exit with 3, must not run).
set -u
vmx=$1 kernel=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/virtio-cli.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
fail=0

"$vmx" -M virt -device help >"$work/help" 2>&1
st=$?
for dev in virtio-blk-device virtio-net-device virtio-rng-device virtconsole virtio-gpu-device; do
  grep -q "^  $dev " "$work/help" || { echo "FAIL: -device help does not list $dev"; fail=1; }
done
[ $st = 0 ] || { echo "FAIL: -device help exited with $st"; fail=1; }

printf 'not a disk image' >"$work/junk.qcow2"
: >"$work/empty.raw"
# refuse WHAT REGEX ARGS...: vmx ARGS must exit 1, saying something matching REGEX.
refuse() {
  what=$1 re=$2
  shift 2
  timeout 20 "$vmx" -M virt -bios none -nographic -kernel "$kernel" "$@" >"$work/out" 2>&1
  st=$?
  if [ $st != 1 ] || ! grep -Eq "$re" "$work/out"; then
    echo "FAIL: $what: exit $st, output:"; sed 's/^/    /' "$work/out"; fail=1
  else
    echo "ok: $what: $(head -n 1 "$work/out")"
  fi
}
refuse "unknown device" "bogus.*unknown device" -device bogus
refuse "unknown device option" "unknown option 'foo'" -device virtio-rng-device,foo=1
refuse "option without a value" "missing value for 'drive'" -device virtio-blk-device,drive
refuse "a drive that is not there" "no -drive with id=nope" -device virtio-blk-device,drive=nope
refuse "a missing image" "/nonexistent.img" -drive file=/nonexistent.img,format=raw
refuse "an unknown format" "vmdk" -drive file="$work/empty.raw",format=vmdk
refuse "a bad qcow2 image" "junk.qcow2" -drive file="$work/junk.qcow2",format=qcow2
refuse "an unknown -drive key" "colour" -drive file="$work/empty.raw",format=raw,colour=red
refuse "an unused if=none drive" "if=none but no -device" -drive file="$work/empty.raw",format=raw,if=none,id=d0
refuse "a non-user netdev" "user-mode networking only" -netdev tap,id=n0
refuse "a netdev without id" "id=" -netdev user
refuse "a bad hostfwd" "hostfwd" -netdev user,id=n0,hostfwd=tcp:nonsense -device virtio-net-device,netdev=n0
refuse "a net device without its netdev" "no -netdev with id=n9" -device virtio-net-device,netdev=n9
refuse "nine devices" "slots are taken" -device virtio-rng-device -device virtio-rng-device \
  -device virtio-rng-device -device virtio-rng-device -device virtio-rng-device -device virtio-rng-device \
  -device virtio-rng-device -device virtio-rng-device -device virtio-rng-device
[ $fail = 0 ] && echo "PASS: the device manager's options and refusals"
exit $fail
