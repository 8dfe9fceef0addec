#!/bin/sh
# net.sh VMM EMULATOR ASSETS: virtio-net through user-mode networking (slirp).
#
# The host serves a 1 MiB file of random bytes over HTTP on 127.0.0.1
# (python3 -m http.server); the guest (vmx.script=net) gets an address by
# DHCP, fetches the file from 10.0.2.2 (the host, as slirp shows it) and
# prints its md5, which must be the host's.  Then the guest serves /www with
# busybox httpd on port 80; the host fetches /seq.txt (seq 1 50000) through a
# hostfwd from 127.0.0.1:PORT and checks it, and types a line to let the guest
# power off.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
vt_init "$@"

mkdir "$work/www"
head -c 1048576 /dev/urandom >"$work/www/data.bin"
want=$(md5sum <"$work/www/data.bin" | cut -d' ' -f1)
port=$(vt_free_port)
/usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$work/www" "$port" \
  >"$work/http.log" 2>&1 &
vt_helper $!
fwd=$(vt_free_port)
[ "$fwd" != "$port" ] || fwd=$((port + 1))

vt_boot "vmx.script=net vmx.port=$port vmx.file=data.bin" 120 \
  -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$fwd-:80" -device virtio-net-device,netdev=n0
if vt_wait '^vmx-virtio: (net httpd ready|script net done)'; then
  got=$(/usr/bin/python3 -c 'import sys, urllib.request, hashlib
data = urllib.request.urlopen(sys.argv[1], timeout=20).read()
print(hashlib.md5(data).hexdigest())' "http://127.0.0.1:$fwd/seq.txt" 2>"$work/fetch.err")
  seq_md5=$(seq 1 50000 | md5sum | cut -d' ' -f1)
  echo "host: fetched http://127.0.0.1:$fwd/seq.txt from the guest: md5 ${got:-(none)}"
  [ "$got" = "$seq_md5" ] ||
    vt_problem "the host did not get seq.txt from the guest's httpd ($(tail -n 1 "$work/fetch.err"))"
  vt_type '\n'
  vt_wait '^vmx-virtio: script net done'
fi
vt_end
vt_expect '^vmx-boot: virtio: net$' "the guest did not find one virtio-net device"
vt_expect '^vmx-virtio: net address 10\.0\.2\.[0-9]+/24 via 10\.0\.2\.2$' "no DHCP lease 10.0.2.x/24 via 10.0.2.2"
vt_expect "^vmx-virtio: net wget bytes=1048576 md5=$want\$" "the guest did not get the host's file (md5 $want)"
vt_expect '^vmx-virtio: net httpd ready' "the guest's httpd did not start"
vt_finish "virtio-net (DHCP, guest to host, hostfwd host to guest)"
