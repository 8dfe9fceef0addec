#!/bin/sh
# rng.sh VMM EMULATOR ASSETS: virtio-rng feeds /dev/hwrng.
#
# The guest (vmx.script=rng) must have virtio_rng as the current hwrng and
# read two different 32-byte blocks from /dev/hwrng.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
vt_init "$@"
vt_boot "vmx.script=rng" 120 -device virtio-rng-device
vt_wait '^vmx-virtio: script rng done'; vt_end
vt_expect '^vmx-boot: virtio: rng$' "the guest did not find one virtio-rng device"
vt_expect '^vmx-virtio: rng current=virtio_rng' "virtio_rng is not the current hwrng"
vt_expect '^vmx-virtio: rng a=[0-9a-f]{64}$' "no 32-byte read from /dev/hwrng"
vt_expect '^vmx-virtio: rng ok$' "no 'rng ok'"
vt_finish "virtio-rng"
