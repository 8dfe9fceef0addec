#!/bin/sh
# console.sh vmx EMULATOR ASSETS: virtio-console (virtconsole, /dev/hvc0)
# both ways, next to the serial console the guest's shell runs on.
#
# The guest's shell (on ttyS0) writes a computed line to /dev/hvc0, which
# must come out on vmx's console; then it reads a line from /dev/hvc0 in
# the background while the host switches the input to the virtio console
# (Ctrl-A C, as with QEMU's stdio mux), types the line there, and switches
# back (Ctrl-A C twice: the monitor, then the serial console). vmx only:
# QEMU's virtconsole needs a virtio-serial bus and a chardev of its own,
# another command line.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
vt_init "$@"
vt_boot "" 120 -device virtconsole
if vt_wait '^/ # '; then
  vt_type 'echo hvc-$((6*7)) > /dev/hvc0\n'
  vt_wait '^hvc-42' || true
  vt_type '(read x < /dev/hvc0; echo got-$x-from-hvc0) &\n'
  sleep 2
  vt_type '\001c'
  sleep 0.5
  vt_type 'hello\r'
  sleep 1
  vt_type '\001c'
  sleep 0.5
  vt_type '\001c'
  sleep 0.5
  vt_wait '^got-hello-from-hvc0' || true
  vt_type 'exit\n'
fi
vt_end
vt_expect '^hvc-42' "what the guest wrote to /dev/hvc0 did not reach the console"
vt_expect '^got-hello-from-hvc0' "what the host typed into the virtio console did not reach /dev/hvc0"
vt_finish "virtio-console both ways"
