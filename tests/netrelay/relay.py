"""A lossy Ethernet relay between QEMU's datagram NIC backend and a Linux tap device.

QEMU side: `-netdev dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=Q,remote.type=inet,
remote.host=127.0.0.1,remote.port=R` (or `-netdev socket,id=n0,udp=127.0.0.1:R,localaddr=127.0.0.1:Q`): every
UDP datagram carries exactly one Ethernet frame. The relay binds 127.0.0.1:R and sends to 127.0.0.1:Q.
Tap side: a tap device (IFF_TAP | IFF_NO_PI) the relay creates, optionally moved into a network namespace
(`--netns`), where Linux's own stack is the peer. The file descriptor keeps working after the move.

In each direction, independently per frame: drop with probability --loss, send twice with --dup, and hold
back with --reorder (the held frame goes out after the next frame in that direction, or after --hold-ms).
Counters go to --stats (JSON) on SIGTERM/SIGINT and every second. Used by tests/test_net_lossy.py; run it by
hand with `python3 tests/netrelay/relay.py --help`.
"""
import argparse
import fcntl
import json
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


class Direction:
    """Loss, duplication and reordering for one direction of the link."""

    def __init__(self, name, send, rng, loss, dup, reorder, hold_s):
        self.name, self.send, self.rng = name, send, rng
        self.loss, self.dup, self.reorder, self.hold_s = loss, dup, reorder, hold_s
        self.held = None  # (frame, release deadline)
        self.stats = dict(frames=0, dropped=0, duplicated=0, reordered=0, sent=0, send_errors=0)

    def _out(self, frame):
        try:
            self.send(frame)
            self.stats["sent"] += 1
        except OSError:
            self.stats["send_errors"] += 1

    def frame(self, frame, now):
        self.stats["frames"] += 1
        r = self.rng.random()
        if r < self.loss:
            self.stats["dropped"] += 1
            return
        if self.held is None and r < self.loss + self.reorder:
            self.stats["reordered"] += 1
            self.held = (frame, now + self.hold_s)
            return
        self._out(frame)
        if self.rng.random() < self.dup:
            self.stats["duplicated"] += 1
            self._out(frame)
        self.release()

    def release(self):
        if self.held is not None:
            frame, _ = self.held
            self.held = None
            self._out(frame)

    def timeout(self, now):
        if self.held is not None and now >= self.held[1]:
            self.release()

    def next_deadline(self):
        return self.held[1] if self.held is not None else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0", help="UDP address the relay binds (QEMU's remote)")
    ap.add_argument("--qemu", required=True, help="UDP address QEMU's backend listens on (its local)")
    ap.add_argument("--tap", required=True, help="tap device name to create")
    ap.add_argument("--netns", help="move the tap into this network namespace (must exist)")
    ap.add_argument("--tap-addr", help="address/prefix for the tap, e.g. 10.0.3.1/24 (set inside --netns)")
    ap.add_argument("--loss", type=float, default=0.0)
    ap.add_argument("--dup", type=float, default=0.0)
    ap.add_argument("--reorder", type=float, default=0.0)
    ap.add_argument("--hold-ms", type=float, default=20.0, help="longest a reordered frame is held")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stats", help="write counters (JSON) here every second and on exit")
    ap.add_argument("--ready", help="create this file once the tap is up and the socket bound")
    a = ap.parse_args(argv)

    host, port = a.listen.rsplit(":", 1)
    qhost, qport = a.qemu.rsplit(":", 1)
    qemu_addr = (qhost, int(qport))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, int(port)))
    sock.setblocking(False)
    tap = open_tap(a.tap)
    ipns = ["ip", "-n", a.netns] if a.netns else ["ip"]
    if a.netns:
        subprocess.run(["ip", "link", "set", a.tap, "netns", a.netns], check=True)
    if a.tap_addr:
        subprocess.run(ipns + ["addr", "add", a.tap_addr, "dev", a.tap], check=True)
    subprocess.run(ipns + ["link", "set", a.tap, "up"], check=True)

    rng = random.Random(a.seed)
    hold = a.hold_ms / 1000.0
    to_tap = Direction("guest_to_host", lambda f: os.write(tap, f), rng, a.loss, a.dup, a.reorder, hold)
    to_qemu = Direction("host_to_guest", lambda f: sock.sendto(f, qemu_addr), rng, a.loss, a.dup, a.reorder, hold)

    def dump():
        if a.stats:
            tmp = a.stats + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"guest_to_host": to_tap.stats, "host_to_guest": to_qemu.stats,
                           "listen": "%s:%d" % sock.getsockname()}, f)
            os.replace(tmp, a.stats)

    running = [True]

    def stop(signum, frame):
        running[0] = False
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("%s:%d\n" % sock.getsockname())

    last_dump = 0.0
    while running[0]:
        now = time.monotonic()
        deadlines = [d for d in (to_tap.next_deadline(), to_qemu.next_deadline()) if d is not None]
        wait = max(0.0, min(deadlines) - now) if deadlines else 0.5
        try:
            readable, _, _ = select.select([sock, tap], [], [], min(wait, 0.5))
        except InterruptedError:
            continue
        now = time.monotonic()
        if sock in readable:
            for _ in range(64):
                try:
                    frame, src = sock.recvfrom(65536)
                except BlockingIOError:
                    break
                to_tap.frame(frame, now)
        if tap in readable:
            for _ in range(64):
                try:
                    frame = os.read(tap, 65536)
                except BlockingIOError:
                    break
                to_qemu.frame(frame, now)
        to_tap.timeout(now)
        to_qemu.timeout(now)
        if a.stats and now - last_dump >= 1.0:
            dump()
            last_dump = now
    to_tap.release()
    to_qemu.release()
    dump()
    return 0


if __name__ == "__main__":
    sys.exit(main())
