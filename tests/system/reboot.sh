#!/bin/sh
# reboot.sh qemu|vmx EMULATOR ASSETS: the guest resets the machine.
#
# `reboot -f` in the guest's shell makes Linux ask OpenSBI for a system
# reset (SBI SRST), which writes the reset command to the virt board's
# test device: the board starts over with the same firmware, kernel and
# initramfs, the guest boots a second time, and a command typed in the
# second shell runs; `exit` then powers off, ending the emulator with 0.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../virtio/lib.sh"
vt_init "$@"
vt_boot "" 120
if vt_wait '^vmx-boot: init ok' && vt_wait '^/ # '; then
  vt_type 'reboot -f\n'
  vt_wait 'reboot: Restarting system' || true
  # the second boot: wait for its marker after the restart
  i=0
  while [ "$(grep -a -c '^vmx-boot: init ok' "$console")" -lt 2 ] && [ $i -lt 600 ] && kill -0 "$pid" 2>/dev/null; do
    sleep 0.2; i=$((i + 1)); vt_refresh
  done
  sleep 1
  vt_type 'echo second-boot-$((40+2))\n'
  vt_wait '^second-boot-42' || true
  vt_type 'exit\n'
fi
vt_end
vt_expect 'reboot: Restarting system' "the guest did not ask for the reset"
[ "$(grep -a -c '^vmx-boot: init ok' "$console")" -ge 2 ] || vt_problem "no second boot after the reset"
vt_expect '^second-boot-42' "the second boot's shell did not run the command"
vt_finish "reboot"
