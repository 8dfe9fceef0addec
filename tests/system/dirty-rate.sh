#!/bin/sh
# dirty-rate.sh vmx EMULATOR ASSETS: the monitor's calc_dirty_rate counts
# the guest RAM pages written while it measures (the page descriptors'
# dirty logging, src/mem/pages.h).
#
# At the guest's shell prompt: one measurement while the guest idles, then
# one during which the guest writes 32 MiB of new file data (8192 pages of
# its page cache, each written by the guest's kernel). The busy count must
# hold every one of those pages; the idle count must be far below it.
# vmx only: QEMU 7.2's calc_dirty_rate samples pages (and its dirty-bitmap
# mode needs KVM), so it has no exact count to compare.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../virtio/lib.sh"
vt_init "$@"
period=${DIRTY_PERIOD:-10}

# dirty_pages N: the "Dirty pages:" count of the Nth finished measurement.
dirty_pages() {
  vt_refresh
  grep -a '^Dirty pages: ' "$console" | sed -n "$1s/^Dirty pages: \([0-9]*\).*/\1/p"
}

# dirty_result N: wait (up to 2 periods) until measurement N has finished.
dirty_result() {
  i=0
  while [ -z "$(dirty_pages "$1")" ] && [ "$i" -lt $((2 * period)) ]; do
    vt_monitor "info dirty_rate"
    i=$((i + 1))
  done
  dirty_pages "$1"
}

vt_boot "" 300
if vt_wait '^/ # '; then
  vt_monitor "calc_dirty_rate $period"
  sleep "$period"
  idle=$(dirty_result 1)
  vt_monitor "calc_dirty_rate -b $period"
  vt_type 'dd if=/dev/zero of=/tmp/dirty bs=1M count=32 2>/dev/null; echo dd-$?-done\n'
  vt_wait '^dd-0-done' || true
  sleep "$period"
  busy=$(dirty_result 2)
  vt_type 'exit\n'
fi
vt_end
echo "host: idle ${idle:-?} pages, busy ${busy:-?} pages in ${period} s"
vt_expect '^Mode: dirty-bitmap' "info dirty_rate did not report a measurement"
vt_expect '^dd-0-done' "the guest's dd did not finish"
if [ -z "${busy:-}" ] || [ -z "${idle:-}" ]; then
  vt_problem "no Dirty pages line for both measurements"
elif [ "$busy" -lt 8192 ]; then
  vt_problem "the busy measurement counted $busy pages: fewer than the 8192 the guest wrote"
elif [ "$idle" -ge $((busy / 4)) ]; then
  vt_problem "the idle measurement counted $idle pages, not far below the busy $busy"
fi
vt_finish "calc_dirty_rate"
