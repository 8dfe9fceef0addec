#!/bin/sh
# blk-ro.sh VMM EMULATOR ASSETS: a read-only virtio-blk drive refuses writes.
#
# The host makes a 16 MiB ext2 image holding /hello.txt (mke2fs -d) and
# attaches it with readonly=on.  The guest (vmx.script=blk-ro) must see
# /sys/block/vda/ro = 1, fail to dd to /dev/vda, get the file system mounted
# read-only when it asks for rw (or be refused), fail to create a file, and
# still read hello.txt; the image's bytes must be unchanged afterwards.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
vt_init "$@"
hello="hello from the host"

mkdir "$work/files"
echo "$hello" >"$work/files/hello.txt"
img=$work/ro.raw
truncate -s 16M "$img"
mke2fs -q -F -t ext2 -d "$work/files" "$img" || exit 1
before=$(md5sum <"$img")

vt_boot "vmx.script=blk-ro" 120 -drive "file=$img,format=raw,if=none,id=d0,readonly=on" \
  -device virtio-blk-device,drive=d0
vt_wait '^vmx-virtio: script blk-ro done'; vt_end
vt_expect '^vmx-virtio: blk-ro sysfs ro=1$' "the guest does not see the drive as read-only"
vt_expect '^vmx-virtio: blk-ro dd refused' "dd to /dev/vda was not refused"
vt_expect '^vmx-virtio: blk-ro (mounted with ro|mount rw refused)' "a rw mount did not fall back to ro nor fail"
vt_expect "^vmx-virtio: blk-ro hello=$hello\$" "the guest did not read hello.txt"
vt_expect '^vmx-virtio: blk-ro ok$' "no 'blk-ro ok'"
[ "$(md5sum <"$img")" = "$before" ] || vt_problem "the read-only image changed"
vt_finish "virtio-blk read-only drive"
