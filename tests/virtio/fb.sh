#!/bin/sh
# fb.sh VMM EMULATOR ASSETS: virtio-gpu's frame buffer shows what the guest
# writes to /dev/fb0.
#
# The guest (vmx.script=fb) fills /dev/fb0 (virtio-gpu through DRM's fbdev
# emulation) with eight vertical colour bars and prints "fb ready WxH"; the
# host takes a screenshot through the monitor (Ctrl-A C, `screendump FILE -f
# png`), types a line to let the guest power off, and checks the picture's
# pixels with fbcheck.py.  VT_SAVE=FILE keeps a copy of the screenshot.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
vt_init "$@"
shot=$work/screen.png

vt_boot "vmx.script=fb" 120 -device virtio-gpu-device
if vt_wait '^vmx-virtio: (fb ready|script fb done)'; then
  size=$(vt_line '^vmx-virtio: fb ready' | sed -n 's/.*ready \([0-9]*x[0-9]*\) .*/\1/p')
  sleep 1  # the fbdev emulation copies damage to the device from a worker
  vt_monitor "screendump $shot -f png"
  i=0
  while [ ! -s "$shot" ] && [ "$i" -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
  sleep 0.5
  vt_type '\n'
  vt_wait '^vmx-virtio: script fb done'
fi
vt_end
vt_expect '^vmx-boot: virtio: gpu$' "the guest did not find one virtio-gpu device"
vt_expect '^vmx-virtio: fb ready [0-9]+x[0-9]+ bpp=32' "the guest did not draw into /dev/fb0"
if [ -z "${size:-}" ]; then
  :
elif [ ! -s "$shot" ]; then
  vt_problem "no screenshot $shot was written"
elif ! /usr/bin/python3 "$here/fbcheck.py" "$shot" "${size%x*}" "${size#*x}" >"$work/fbcheck" 2>&1; then
  vt_problem "the screenshot does not show the pattern: $(tail -n 1 "$work/fbcheck")"
else
  echo "host: $(cat "$work/fbcheck")"
fi
[ -z "${VT_SAVE:-}" ] || cp "$shot" "$VT_SAVE"
vt_finish "virtio-gpu frame buffer"
