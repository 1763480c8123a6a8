"""The lossy link (issue 3): tests/netrelay/relay.py between a datagram NIC backend and a tap device in a network
namespace where Linux's own stack is the peer, dropping 5%, duplicating 1% and reordering 2% of the frames.
Here the relay itself is checked with a stand-in guest (a Python ARP/ICMP responder on the datagram side) so its
loss, duplication and reordering are measured against Linux's ICMP; the boot tests with the real kernel behind
the relay are in tests/test_net_boot.py."""
import pathlib
import socket
import struct
import sys
import threading

import pytest

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE / "host" / "net"))
sys.path.insert(0, str(HERE / "netrelay"))
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
        with netns.netns("lc") as ns, netns.Relay(ns, "cllmtap0", guest.port, HOST_IP + "/24") as relay:
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
            relay = netns.Relay(ns, "cllmtap1", guest.port, HOST_IP + "/24", loss=0.05, dup=0.01, reorder=0.02,
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
