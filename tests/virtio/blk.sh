#!/bin/sh
# blk.sh VMM EMULATOR ASSETS raw|qcow2: virtio-blk writes and reads back.
#
# The host makes an empty 64 MiB image (raw: a sparse file; qcow2: qemu-img
# create).  Boot 1 (vmx.script=blk-write) has the guest mke2fs /dev/vda,
# write /hello.txt and /data.txt (seq 1 100000) and power off; the host then
# checks the image: debugfs reads both files (a qcow2 image is first checked
# with `qemu-img check` and converted to raw).  Boot 2 (blk-read) mounts it
# read-only in the guest, which prints hello.txt and data.txt's md5.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
vt_init "$@"
format=${4:-raw}
case "$format" in raw|qcow2) ;; *) echo "format must be raw or qcow2" >&2; exit 2 ;; esac
hello="hello from the vmx virtio-blk test"
want_md5=$(seq 1 100000 | md5sum | cut -d' ' -f1)

img=$work/disk.$format
if [ "$format" = raw ]; then
  truncate -s 64M "$img"
else
  qemu-img create -q -f qcow2 "$img" 64M || exit 1
fi
drive="file=$img,format=$format,if=none,id=d0"

vt_boot "vmx.script=blk-write" 120 -drive "$drive" -device virtio-blk-device,drive=d0
vt_wait '^vmx-virtio: script blk-write done'; vt_end
vt_expect '^vmx-boot: virtio: blk$' "the guest did not find one virtio-blk device"
vt_expect "^vmx-virtio: blk-write ok data-md5=$want_md5\$" "no 'blk-write ok data-md5=$want_md5'"

raw=$img
if [ "$format" = qcow2 ]; then
  if qemu-img check -q "$img" >"$work/check" 2>&1; then
    echo "host: qemu-img check: no errors"
  else
    vt_problem "qemu-img check: $(cat "$work/check")"
  fi
  raw=$work/disk.raw
  qemu-img convert -f qcow2 -O raw "$img" "$raw" || vt_problem "qemu-img convert failed"
fi
got_hello=$(debugfs -R 'cat /hello.txt' "$raw" 2>/dev/null)
got_md5=$(debugfs -R 'cat /data.txt' "$raw" 2>/dev/null | md5sum | cut -d' ' -f1)
echo "host: debugfs: hello.txt: $got_hello; data.txt md5 $got_md5"
[ "$got_hello" = "$hello" ] || vt_problem "host: hello.txt in the image is '$got_hello'"
[ "$got_md5" = "$want_md5" ] || vt_problem "host: data.txt in the image has md5 $got_md5, not $want_md5"

vt_boot "vmx.script=blk-read" 120 -drive "$drive" -device virtio-blk-device,drive=d0
vt_wait '^vmx-virtio: script blk-read done'; vt_end
vt_expect "^vmx-virtio: blk-read hello=$hello\$" "the guest did not read hello.txt back"
vt_expect "^vmx-virtio: blk-read data-md5=$want_md5\$" "the guest did not read data.txt back"
vt_expect '^vmx-virtio: blk-read ok$' "no 'blk-read ok'"
vt_finish "virtio-blk $format write and read back"
