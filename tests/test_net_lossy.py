"""The lossy link (issue 3): tests/netrelay/relay.py between a datagram NIC backend and a tap device in a network
namespace where Linux's own stack is the peer, dropping 5%, duplicating 1% and reordering 2% of the frames.
First the relay itself is checked with a stand-in guest (a Python ARP/ICMP responder on the datagram side) so its
loss, duplication and reordering are measured against Linux's ICMP; then the kernel sits behind it (QEMU
`-netdev dgram`, the test kmain of tests/host/net/guest_main.c with the real e1000 driver, IP stack, TCP and HTTP
server, static address 10.0.3.2): ICMP, and 100 GET /health requests from Linux's TCP stack that must all come
back complete and correct."""
import json
import pathlib
import socket
import struct
import sys
import threading
import time

import pytest

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE / "host" / "net"))
sys.path.insert(0, str(HERE / "netrelay"))
import netboot  # noqa: E402
import nethost as nh  # noqa: E402
import netns  # noqa: E402

GUEST_IP, HOST_IP = "10.0.3.2", "10.0.3.1"
GUEST_MAC = nh.mac2b("52:54:00:aa:bb:cc")


class StandInGuest(threading.Thread):
    """Answers ARP requests for GUEST_IP and ICMP echo requests, over the relay's datagram side."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.relay_addr = None
        self.frames_in = 0

    def run(self):
        while not self.stop:
            try:
                frame, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            self.frames_in += 1
            dst, src, et, p = nh.parse_eth(frame)
            out = None
            if et == 0x0806 and len(p) >= 28:
                op, sha, spa, tpa = struct.unpack("!6xH6s4s6x4s", p[:28])
                if op == 1 and tpa == nh.ip2b(GUEST_IP):
                    out = nh.eth(sha, GUEST_MAC, 0x0806, nh.arp(2, GUEST_MAC, GUEST_IP, sha,
                                                               ".".join(map(str, spa))))
            elif et == 0x0800:
                ip = nh.parse_ipv4(p)
                if ip["proto"] == 1 and ip["dst"] == GUEST_IP and ip["payload"][:1] == b"\x08":
                    m = ip["payload"]
                    reply = b"\0\0\0\0" + m[4:]
                    reply = reply[:2] + struct.pack("!H", nh.csum(reply)) + reply[4:]
                    out = nh.eth(src, GUEST_MAC, 0x0800, nh.ipv4(GUEST_IP, ip["src"], 1, reply))
            if out is not None:
                self.sock.sendto(out, addr)


@pytest.fixture(scope="module")
def can_netns():
    if not netns.can_create_netns():
        pytest.fail("these tests need root: ip netns add and /dev/net/tun")


def test_relay_clean_link(can_netns):
    guest = StandInGuest()
    guest.start()
    try:
        with netns.netns("lc") as ns, netns.Relay(ns, netns.tap_name("c"), guest.port, HOST_IP + "/24") as relay:
            r = netns.ping(ns, GUEST_IP, count=50, interval=0.005)
            st = relay.stats()
        assert r["received"] == 50 and r["duplicates"] == 0 and r["bad"] == 0, r
    finally:
        guest.stop = True
        guest.join()


def test_relay_lossy_link_rates(can_netns):
    """5% loss, 1% duplication, 2% reordering each way: Linux sees about 1-(0.95^2) = 9.75% of pings lost."""
    guest = StandInGuest()
    guest.start()
    n = 1000
    try:
        with netns.netns("ll") as ns:
            relay = netns.Relay(ns, netns.tap_name("l"), guest.port, HOST_IP + "/24", loss=0.05, dup=0.01, reorder=0.02,
                                seed=42)
            try:
                # ARP first on a clean start: the lossy rates are measured on the ICMP traffic
                r = netns.ping(ns, GUEST_IP, count=n, interval=0.002, wait=2.0)
            finally:
                st = relay.close()
    finally:
        guest.stop = True
        guest.join()
    print(r, st)
    lost = 1 - r["received"] / r["sent"]
    assert 0.05 < lost < 0.15, r
    assert r["duplicates"] > 0 and r["bad"] == 0, r
    for d in ("guest_to_host", "host_to_guest"):
        s = st[d]
        assert 0.03 < s["dropped"] / s["frames"] < 0.07, st
        assert s["duplicated"] > 0 and s["reordered"] > 0, st


STATIC = {"mode": "static", "ip": GUEST_IP, "gateway": HOST_IP, "netmask": "255.255.255.0"}


@pytest.fixture(scope="module")
def static_image(tiny_gguf):
    """The test kmain (tests/host/net/guest_main.c): answers UDP stats on port 9."""
    return netboot.build_guest(tiny_gguf, network=STATIC)


@pytest.fixture(scope="module")
def real_static_image(tiny_gguf):
    """The real kernel (kernel/core/main.c) with the static address."""
    return netboot.build_guest(tiny_gguf, network=STATIC, test_main=False)


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lossy_boot(image, tag, seed, check):
    """Boot image behind the relay (5% loss, 1% duplication, 2% reordering each way), wait for marker, run
    check(ns, qemu); returns (check's result, relay counters)."""
    qport = free_udp_port()
    with netns.netns(tag) as ns:
        with netns.Relay(ns, netns.tap_name(tag), qport, HOST_IP + "/24", loss=0.05, dup=0.01, reorder=0.02,
                         seed=seed) as relay:
            net = ["-netdev", f"dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port={qport},"
                   f"remote.type=inet,remote.host=127.0.0.1,remote.port={relay.port}", "-device", "e1000,netdev=n0"]
            with netboot.Qemu(image, net) as q:
                q.wait_for(r"net: static address 10\.0\.3\.2 ", 30)
                time.sleep(1.2)  # QEMU's e1000 holds received frames for 1 s after RCTL is written
                result = check(ns, q)
                log = q.text()
                assert "fault" not in log.lower() and "panic" not in log.lower(), log[-3000:]
                return result, relay.stats()


def http_100(ns):
    r = netns.ns_exec(ns, sys.executable, str(HERE / "netrelay" / "http_client.py"), GUEST_IP, "--count", "100",
                      timeout=600)
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_test_kmain_behind_lossy_link(static_image, can_netns):
    """The driver and the stack below TCP with the test kmain: ICMP through the lossy link."""
    ping, st = lossy_boot(static_image, "lt", 11,
                          lambda ns, q: netns.ping(ns, GUEST_IP, count=300, interval=0.005, wait=2.0))
    print(f"ping {ping}; relay {st}")
    assert 0.03 < 1 - ping["received"] / ping["sent"] < 0.20 and ping["bad"] == 0, ping
    for d in ("guest_to_host", "host_to_guest"):
        assert st[d]["dropped"] > 0 and st[d]["reordered"] > 0, st


def test_real_kernel_http_behind_lossy_link(real_static_image, can_netns):
    """Issue 3's lossy-link test on the real kernel: 100 GET /health from Linux's TCP stack, all complete and
    correct, with 5% loss, 1% duplication and 2% reordering each way."""
    def check(ns, q):
        ping = netns.ping(ns, GUEST_IP, count=100, interval=0.005, wait=2.0)
        return ping, http_100(ns)
    (ping, http), st = lossy_boot(real_static_image, "lr", 13, check)
    print(f"ping {ping}; http {http['ok']}/100 in {http['seconds']:.1f} s; relay {st}")
    assert http["ok"] == 100, http["failures"]
    assert ping["received"] > 60 and ping["bad"] == 0, ping
    for d in ("guest_to_host", "host_to_guest"):
        assert st[d]["dropped"] > 0 and st[d]["reordered"] > 0, st
