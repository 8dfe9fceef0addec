#!/usr/bin/python3
"""badinput.py VMX GUEST_DIR: vmx's GDB server against bad input and Ctrl-C.

Talks the remote protocol over raw TCP (no gdb) to `vmx run-user -g PORT`:

  instance A (GUEST_DIR/gdb_prog, halted at its entry):
    a packet with a wrong checksum gets '-' and nothing else; '?' gets '+'
    and a T05 stop reply; an unknown packet the empty reply; a known packet
    with bad hex E01; a packet over 0x4000 data bytes '+' and E22; bytes
    between packets are skipped; 'g' gives 65 registers of 8 bytes; at the
    end 'c' runs the program to its exit: W00, and vmx exits 0.
  instance B (GUEST_DIR/gdb_spin, a loop that never ends):
    a client that leaves in the middle of a packet: vmx runs on (the guest
    resumes) and serves a new connection, where '?' answers; there 'c', then
    the byte 0x03 stops the running guest with a T02 stop reply, and 'k'
    ends vmx.

Disconnecting resumes the guest, which would run gdb_prog to its end, so
the mid-packet disconnect is made on B. Nothing connects to a port before
the test's own client does: readiness is vmx's listening socket in /proc
(as in run.sh). Prints each step with PASS or FAIL and what was received;
exits 1 if any failed. Every vmx started is killed on the way out.
"""
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPLY_TIMEOUT = 20.0  # a loaded 2-core machine, maybe a sanitizer build
failures = 0


def report(name, ok, got):
    global failures
    if not ok:
        failures += 1
    print(f"{'PASS' if ok else 'FAIL'}: {name}: got {got!r}", flush=True)


def packet(payload):
    data = payload.encode() if isinstance(payload, str) else payload
    return b"$" + data + b"#" + b"%02x" % (sum(data) % 256)


# ------------------------------------------------------------------ vmx

def used_ports():
    used = set()
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(f) as fh:
                for line in fh.readlines()[1:]:
                    used.add(int(line.split()[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return used


def pick_port():
    used = used_ports()
    port = 20000 + (os.getpid() * 37 + random.randrange(20000)) % 20000
    while port in used:
        port += 1
    return port


def listening(pid, port):
    """pid holds a socket listening on port, read from /proc (no connect)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return False
    want = ":%04X" % port
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(f) as fh:
                for line in fh.readlines()[1:]:
                    c = line.split()
                    if c[1].endswith(want) and c[3] == "0A" and c[9] in inodes:
                        return True
        except OSError:
            pass
    return False


class Vmx:
    """One `vmx run-user -g PORT PROG`, its output in temporary files."""

    def __init__(self, vmx, prog, workdir, tag):
        self.out_path = os.path.join(workdir, tag + ".out")
        self.err_path = os.path.join(workdir, tag + ".err")
        self.proc = None
        try:
            self._start(vmx, prog, tag)
        except BaseException:
            self.kill()  # also when ctest's SIGTERM comes mid-start
            raise

    def _start(self, vmx, prog, tag):
        for _ in range(3):
            self.port = pick_port()
            with open(self.out_path, "wb") as o, open(self.err_path, "wb") as e:
                self.proc = subprocess.Popen([vmx, "run-user", "-g", str(self.port), prog],
                                             stdin=subprocess.DEVNULL, stdout=o, stderr=e)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if listening(self.proc.pid, self.port) or self.proc.poll() is not None:
                    break
                time.sleep(0.1)
            if self.proc.poll() is None and listening(self.proc.pid, self.port):
                return
            self.kill()
            if "cannot listen" in self.stderr():
                print(f"badinput.py: port {self.port} taken, trying another", flush=True)
                continue
            raise RuntimeError(f"{tag}: vmx did not listen on {self.port}: {self.stderr()}")
        raise RuntimeError(f"{tag}: no free port")

    def stderr(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def stdout(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------- client

class Client:
    """A raw connection; items() splits what arrives into '+', '-' and
    whole "$...#xx" packets (returned as the payload, prefixed '$')."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0 or self.eof:
            return False
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            self.eof = True
            return False
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def item(self, timeout=REPLY_TIMEOUT):
        """The next item: '+', '-', '$PAYLOAD' (checksum verified, else
        '!BADSUM:...'), '?OTHER:...' for stray bytes, or None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if self.buf:
                c = self.buf[:1]
                if c in (b"+", b"-"):
                    self.buf = self.buf[1:]
                    return c.decode()
                if c == b"$":
                    m = re.match(rb"\$([^#]*)#([0-9a-fA-F]{2})", self.buf, re.S)
                    if m:
                        self.buf = self.buf[m.end():]
                        payload = m.group(1)
                        if sum(payload) % 256 != int(m.group(2), 16):
                            return "!BADSUM:" + m.group(0).decode(errors="replace")
                        return "$" + payload.decode(errors="replace")
                else:
                    stray, self.buf = self.buf, b""
                    return "?OTHER:" + stray.decode(errors="replace")
            if not self._fill(deadline):
                if self.buf:
                    stray, self.buf = self.buf, b""
                    return "?PARTIAL:" + stray.decode(errors="replace")
                return None

    def quiet(self, secs):
        """Whatever arrives within secs (b"" if nothing)."""
        self._fill(time.monotonic() + secs)
        got, self.buf = self.buf, b""
        return got

    def ask(self, data, timeout=REPLY_TIMEOUT):
        """Sends data; returns (ack item, reply item)."""
        self.send(data)
        ack = self.item(timeout)
        if ack != "+":
            return ack, None
        return ack, self.item(timeout)


def step_ack_reply(c, name, data, check):
    ack, rep = c.ask(data)
    report(name, ack == "+" and rep is not None and check(rep), (ack, rep))


# ---------------------------------------------------------------- steps

def instance_a(vmx, guest, workdir):
    a = Vmx(vmx, os.path.join(guest, "gdb_prog"), workdir, "prog")
    try:
        c = Client(a.port)
        # 1. A wrong checksum: '-' and nothing else.
        c.send(b"$?#00")
        got = c.item()
        extra = c.quiet(0.5)
        report("1 wrong checksum gets '-' only", got == "-" and extra == b"", (got, extra))

        # 2. ? : '+' then the stop reply.
        step_ack_reply(c, "2 '?' gets '+' and T05thread:", b"$?#3f",
                       lambda r: r.startswith("$T05thread:"))

        # 3. An unknown packet: the empty reply.
        step_ack_reply(c, "3 unknown qXyzzy gets the empty reply", packet("qXyzzy"),
                       lambda r: r == "$")

        # 4. A known packet with bad hex: E01.
        step_ack_reply(c, "4 'mzz,10' (bad hex) gets E01", packet("mzz,10"),
                       lambda r: r == "$E01")
        step_ack_reply(c, "4b 'm zz,10' (bad hex) gets E01", packet("m zz,10"),
                       lambda r: r == "$E01")

        # 5. Over 0x4000 data bytes: '+' and E22 (then the server still works).
        step_ack_reply(c, "5 0x4001-byte packet gets '+' and E22", packet("m" * 0x4001),
                       lambda r: r == "$E22")

        # 6. Bytes between packets are skipped.
        step_ack_reply(c, "6 'hello' then '?' is answered", b"hello" + packet("?"),
                       lambda r: r.startswith("$T05thread:"))

        # 7. g: 65 registers (x0-x31, pc, fp ... the user-mode description) of 8 bytes.
        ack, rep = c.ask(packet("g"))
        ok = (ack == "+" and rep is not None and len(rep) - 1 == 65 * 8 * 2 and
              re.fullmatch(r"[0-9a-fx]*", rep[1:]) is not None)
        report("7 'g' gives 65*8*2 hex digits", ok,
               (ack, rep if rep is None or not ok else f"{len(rep) - 1} digits: {rep[:41]}..."))

        # 10. c runs gdb_prog to its end: W00, vmx exits 0.
        ack, rep = c.ask(packet("c"), timeout=60)
        report("10 'c' runs gdb_prog to exit: W00", ack == "+" and rep == "$W00", (ack, rep))
        c.close()
        status = a.wait(30)
        report("10 vmx (gdb_prog) exits 0", status == 0,
               (status, a.stdout().strip().splitlines()[-3:]))
    finally:
        a.kill()
        err = a.stderr().strip()
        if err:
            print("---- vmx (gdb_prog) stderr ----\n" + err, flush=True)


def instance_b(vmx, guest, workdir):
    b = Vmx(vmx, os.path.join(guest, "gdb_spin"), workdir, "spin")
    try:
        # 8. A client that leaves in the middle of a packet.
        c = Client(b.port)
        step_ack_reply(c, "8 first client: '?' answered", packet("?"),
                       lambda r: r.startswith("$T05thread:"))
        c.send(b"$m100")
        c.close()
        time.sleep(1.0)
        report("8 vmx runs on after a mid-packet disconnect", b.proc.poll() is None,
               b.proc.poll())
        c = Client(b.port)
        step_ack_reply(c, "8 new connection: '?' answered (attach stops: T05)", packet("?"),
                       lambda r: r.startswith("$T05thread:"))

        # 9. Ctrl-C stops a running guest; k ends vmx.
        c.send(packet("c"))
        ack = c.item()
        early = c.quiet(0.3)
        report("9 'c' gets '+' and no stop yet", ack == "+" and early == b"", (ack, early))
        c.send(b"\x03")
        rep = c.item()
        report("9 0x03 stops the guest: T02thread:", rep is not None and
               rep.startswith("$T02thread:"), rep)
        step_ack_reply(c, "9 '?' after the stop: T02 again", packet("?"),
                       lambda r: r.startswith("$T02thread:"))
        c.send(packet("k"))
        ack = c.item()
        status = b.wait(20)
        report("9 'k' gets '+' and vmx exits", ack == "+" and status is not None, (ack, status))
        c.close()
    finally:
        b.kill()
        err = b.stderr().strip()
        if err:
            print("---- vmx (gdb_spin) stderr ----\n" + err, flush=True)


def main():
    if len(sys.argv) != 3:
        print("usage: badinput.py VMX GUEST_DIR", file=sys.stderr)
        return 2
    vmx, guest = sys.argv[1], sys.argv[2]
    # ctest's timeout: unwind through the finally blocks that kill vmx.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="vmx-gdb-bad.") as workdir:
        for inst in (instance_a, instance_b):
            try:
                inst(vmx, guest, workdir)
            except Exception as e:  # a step that could not even run
                report(inst.__name__, False, f"{type(e).__name__}: {e}")
    print(f"badinput.py: {failures} step(s) failed" if failures else
          "badinput.py: all steps passed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
