"""Pure wire-format modules of kernel/net (checksum, IPv4/UDP/ICMP/ARP/DHCP parse and emit, dotted quads)
against an independent reference: Python's struct/socket and a Python RFC 1071 checksum
(tests/host/net/nethost.py)."""
import ctypes
import pathlib
import random
import socket
import struct
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent / "host" / "net"))
import nethost as nh  # noqa: E402


class Ipv4Hdr(ctypes.Structure):
    _fields_ = [("hdr_len", ctypes.c_uint8), ("tos", ctypes.c_uint8), ("total_len", ctypes.c_uint16),
                ("id", ctypes.c_uint16), ("frag", ctypes.c_uint16), ("ttl", ctypes.c_uint8),
                ("proto", ctypes.c_uint8), ("src", ctypes.c_uint32), ("dst", ctypes.c_uint32)]


class UdpHdr(ctypes.Structure):
    _fields_ = [("src_port", ctypes.c_uint16), ("dst_port", ctypes.c_uint16), ("len", ctypes.c_uint16),
                ("payload", ctypes.c_void_p), ("payload_len", ctypes.c_size_t)]


class DhcpMsg(ctypes.Structure):
    _fields_ = [("op", ctypes.c_uint8), ("xid", ctypes.c_uint32), ("flags", ctypes.c_uint16),
                ("ciaddr", ctypes.c_uint32), ("yiaddr", ctypes.c_uint32), ("siaddr", ctypes.c_uint32),
                ("chaddr", ctypes.c_uint8 * 6), ("type", ctypes.c_uint8), ("server_id", ctypes.c_uint32),
                ("requested_ip", ctypes.c_uint32), ("subnet_mask", ctypes.c_uint32), ("router", ctypes.c_uint32),
                ("dns", ctypes.c_uint32), ("lease_s", ctypes.c_uint32), ("t1_s", ctypes.c_uint32),
                ("t2_s", ctypes.c_uint32)]


@pytest.fixture(scope="module")
def lib():
    return nh.Stack(nh.build_lib()).lib


def test_checksum_matches_python(lib):
    rng = random.Random(7)
    for n in list(range(0, 70)) + [1499, 1500, 65535]:
        data = bytes(rng.randrange(256) for _ in range(n))
        got = lib.checksum_finish(lib.checksum_add(0, data, n))
        assert got == nh.csum(data), n
    # incremental sums over even splits agree with one pass
    data = bytes(rng.randrange(256) for _ in range(1000))
    s = lib.checksum_add(0, data[:400], 400)
    s = lib.checksum_add(s, data[400:], 600)
    assert lib.checksum_finish(s) == nh.csum(data)


def test_pseudo_header_sum(lib):
    lib.checksum_pseudo_ipv4.restype = ctypes.c_uint32
    lib.checksum_pseudo_ipv4.argtypes = [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint8, ctypes.c_uint16]
    src, dst = "192.168.1.200", "10.255.0.1"
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, 1234)
    got = lib.checksum_finish(lib.checksum_pseudo_ipv4(nh.ip2i(src), nh.ip2i(dst), 17, 1234))
    assert got == nh.csum(pseudo)


def test_ipv4_emit_matches_reference(lib):
    lib.ipv4_emit.argtypes = [ctypes.c_char_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint8, ctypes.c_uint16,
                              ctypes.c_uint8, ctypes.c_size_t]
    buf = ctypes.create_string_buffer(20)
    assert lib.ipv4_emit(buf, nh.ip2i("10.0.2.15"), nh.ip2i("8.8.4.4"), 6, 0xBEEF, 64, 100) == 20
    assert buf.raw == nh.ipv4("10.0.2.15", "8.8.4.4", 6, b"", ident=0xBEEF)[:2] + struct.pack("!H", 120) + \
        nh.ipv4("10.0.2.15", "8.8.4.4", 6, b"\0" * 100, ident=0xBEEF)[4:20]


@pytest.mark.parametrize("case,expect", [
    ("ok", 0), ("short", 1), ("v6", 2), ("ihl4", 3), ("ihl_past_total", 3), ("csum", 4), ("mf", 5),
    ("offset", 5), ("total_past_len", 1), ("options", 0), ("padding", 0)])
def test_ipv4_parse(lib, case, expect):
    lib.ipv4_parse.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(Ipv4Hdr)]
    pkt = nh.ipv4("1.2.3.4", "5.6.7.8", 17, b"payload!", ttl=3, ident=77)
    if case == "short":
        pkt = pkt[:19]
    elif case == "v6":
        pkt = b"\x65" + pkt[1:]
    elif case == "ihl4":
        pkt = b"\x44" + pkt[1:]
    elif case == "ihl_past_total":
        pkt = b"\x4f" + pkt[1:]
    elif case == "csum":
        pkt = nh.ipv4("1.2.3.4", "5.6.7.8", 17, b"payload!", bad_csum=True)
    elif case == "mf":
        pkt = nh.ipv4("1.2.3.4", "5.6.7.8", 17, b"payload!", frag=0x2000)
    elif case == "offset":
        pkt = nh.ipv4("1.2.3.4", "5.6.7.8", 17, b"payload!", frag=0x0001)
    elif case == "total_past_len":
        pkt = pkt[:-1]
    elif case == "options":
        pkt = nh.ipv4("1.2.3.4", "5.6.7.8", 17, b"payload!", options=bytes([0x94, 4, 0, 0]))  # router alert
    elif case == "padding":
        pkt = pkt + b"\0" * 18
    h = Ipv4Hdr()
    assert lib.ipv4_parse(pkt, len(pkt), ctypes.byref(h)) == expect
    if expect == 0:
        assert (h.src, h.dst, h.proto) == (nh.ip2i("1.2.3.4"), nh.ip2i("5.6.7.8"), 17)
        assert h.total_len == h.hdr_len + 8 and h.hdr_len == (24 if case == "options" else 20)
        assert h.ttl == 3 or case == "options"


def test_udp_emit_and_parse(lib):
    lib.udp_emit.restype = ctypes.c_size_t
    lib.udp_emit.argtypes = [ctypes.c_char_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint16, ctypes.c_uint16,
                             ctypes.c_char_p, ctypes.c_size_t]
    lib.udp_parse.argtypes = [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t,
                              ctypes.POINTER(UdpHdr)]
    rng = random.Random(3)
    for n in (0, 1, 2, 17, 1472):
        data = bytes(rng.randrange(256) for _ in range(n))
        buf = ctypes.create_string_buffer(8 + n)
        assert lib.udp_emit(buf, nh.ip2i("10.0.0.1"), nh.ip2i("10.0.0.2"), 1234, 53, data, n) == 8 + n
        assert buf.raw == nh.udp("10.0.0.1", "10.0.0.2", 1234, 53, data)
        h = UdpHdr()
        assert lib.udp_parse(nh.ip2i("10.0.0.1"), nh.ip2i("10.0.0.2"), buf.raw, 8 + n, ctypes.byref(h)) == 0
        assert (h.src_port, h.dst_port, h.payload_len) == (1234, 53, n)
        # the checksum covers the pseudo header: a different destination fails
        assert lib.udp_parse(nh.ip2i("10.0.0.1"), nh.ip2i("10.0.0.3"), buf.raw, 8 + n, ctypes.byref(h)) == 3
    seg = nh.udp("1.1.1.1", "2.2.2.2", 1, 2, b"abc")
    h = UdpHdr()
    assert lib.udp_parse(nh.ip2i("1.1.1.1"), nh.ip2i("2.2.2.2"), seg[:7], 7, ctypes.byref(h)) == 1
    bad_len = seg[:4] + struct.pack("!H", 12) + seg[6:]
    assert lib.udp_parse(nh.ip2i("1.1.1.1"), nh.ip2i("2.2.2.2"), bad_len, len(bad_len), ctypes.byref(h)) == 2


def test_udp_checksum_zero_sent_as_ffff(lib):
    """RFC 768: a computed checksum of zero is transmitted as all ones. Search for a payload that sums to 0."""
    lib.udp_emit.restype = ctypes.c_size_t
    lib.udp_emit.argtypes = [ctypes.c_char_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint16, ctypes.c_uint16,
                             ctypes.c_char_p, ctypes.c_size_t]
    base = nh.udp("10.0.0.1", "10.0.0.2", 7, 7, b"\0\0", zero_csum=True)
    pseudo = nh.ip2b("10.0.0.1") + nh.ip2b("10.0.0.2") + struct.pack("!BBH", 0, 17, 10)
    # choose the 2 payload bytes so the one's-complement sum is 0xffff, i.e. the checksum is 0
    s = 0xFFFF - (~nh.csum(pseudo + base) & 0xFFFF)
    payload = struct.pack("!H", s % 0xFFFF)
    assert nh.csum(pseudo + base[:8] + payload) == 0
    buf = ctypes.create_string_buffer(10)
    lib.udp_emit(buf, nh.ip2i("10.0.0.1"), nh.ip2i("10.0.0.2"), 7, 7, payload, 2)
    assert buf.raw[6:8] == b"\xff\xff"


def test_arp_wire_roundtrip(lib):
    class ArpPkt(ctypes.Structure):
        _fields_ = [("op", ctypes.c_uint16), ("sha", ctypes.c_uint8 * 6), ("spa", ctypes.c_uint32),
                    ("tha", ctypes.c_uint8 * 6), ("tpa", ctypes.c_uint32)]
    lib.arp_parse.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ArpPkt)]
    lib.arp_emit.argtypes = [ctypes.c_char_p, ctypes.POINTER(ArpPkt)]
    ref = nh.arp(2, b"\x02\x03\x04\x05\x06\x07", "10.1.2.3", b"\x0a\x0b\x0c\x0d\x0e\x0f", "10.9.8.7")
    a = ArpPkt()
    assert lib.arp_parse(ref, len(ref), ctypes.byref(a)) == 0
    assert a.op == 2 and a.spa == nh.ip2i("10.1.2.3") and bytes(a.tha) == b"\x0a\x0b\x0c\x0d\x0e\x0f"
    buf = ctypes.create_string_buffer(28)
    assert lib.arp_emit(buf, ctypes.byref(a)) == 28 and buf.raw == ref
    assert lib.arp_parse(ref[:27], 27, ctypes.byref(a)) == -1
    ipv6ish = ref[:2] + b"\x86\xdd" + ref[4:]
    assert lib.arp_parse(ipv6ish, 28, ctypes.byref(a)) == -1


def test_icmp_echo_reply_emit(lib):
    lib.icmp_emit_echo_reply.restype = ctypes.c_size_t
    lib.icmp_emit_echo_reply.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
    for n in (0, 1, 56, 1472 - 8):
        data = bytes((i * 7) & 255 for i in range(n))
        req = nh.icmp_echo(8, 0xABCD, 42, data)
        buf = ctypes.create_string_buffer(len(req))
        lib.icmp_emit_echo_reply(buf, req, len(req))
        assert buf.raw == nh.icmp_echo(0, 0xABCD, 42, data)


def test_dhcp_parse_reference_reply(lib):
    lib.dhcp_parse.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(DhcpMsg)]
    mac = b"\x52\x54\x00\x12\x34\x56"
    msg = nh.dhcp_reply(5, 0x11223344, "10.0.2.15", mac, lease=7200, t1=1000, t2=5000, dns="1.1.1.1")
    m = DhcpMsg()
    assert lib.dhcp_parse(msg, len(msg), ctypes.byref(m)) == 0
    assert (m.op, m.xid, m.type, m.yiaddr) == (2, 0x11223344, 5, nh.ip2i("10.0.2.15"))
    assert (m.lease_s, m.t1_s, m.t2_s) == (7200, 1000, 5000)
    assert m.server_id == nh.ip2i("10.0.2.2") and m.dns == nh.ip2i("1.1.1.1")
    assert m.subnet_mask == nh.ip2i("255.255.255.0") and bytes(m.chaddr) == mac
    # an option running past the end is rejected; a missing cookie too
    cut = msg[:-1][:-3]
    assert lib.dhcp_parse(cut, len(cut), ctypes.byref(m)) == -1
    nocookie = msg[:236] + b"\0\0\0\0" + msg[240:]
    assert lib.dhcp_parse(nocookie, len(nocookie), ctypes.byref(m)) == -1


@pytest.mark.parametrize("text,ok", [("10.0.2.15", True), ("255.255.255.255", True), ("0.0.0.0", True),
                                     ("256.1.1.1", False), ("1.2.3", False), ("1.2.3.4.5", False),
                                     ("1..2.3", False), ("1.2.3.4 ", False), ("0001.2.3.4", False), ("", False)])
def test_dotted_quad(lib, text, ok):
    out = ctypes.c_uint32()
    rc = lib.wire_parse_ipv4(text.encode(), ctypes.byref(out))
    assert (rc == 0) == ok
    if ok:
        assert out.value == struct.unpack("!I", socket.inet_aton(text))[0]


class PciBar(ctypes.Structure):
    _fields_ = [("addr", ctypes.c_uint64), ("size", ctypes.c_uint64), ("is_io", ctypes.c_bool),
                ("is_64", ctypes.c_bool), ("prefetchable", ctypes.c_bool)]


@pytest.fixture(scope="module")
def pci_lib(tmp_path_factory):
    """drivers/pci.c built for the host: only the pure pci_bar_decode is called (port I/O would trap)."""
    import subprocess
    out = tmp_path_factory.mktemp("pci") / "libpci.so"
    srcs = ["kernel/drivers/pci.c"] + nh.HOST_SOURCES
    subprocess.run(["gcc", *nh.CFLAGS, "-shared", "-fPIC", "-o", str(out), *srcs], cwd=nh.ROOT, check=True)
    lib = ctypes.CDLL(str(out))
    lib.pci_bar_decode.argtypes = [ctypes.c_uint32] * 4 + [ctypes.POINTER(PciBar)]
    return lib


def ref_bar(lo, hi, size_lo, size_hi):
    """PCI Local Bus Specification 3.0, 6.2.5.1: the size is the two's complement of the read-back mask with
    the type bits cleared; 64-bit BARs join two registers."""
    if lo & 1:
        mask = (size_lo & ~3) & 0xFFFF
        return dict(addr=lo & ~3, size=((~mask + 1) & 0xFFFF) if mask else 0, is_io=True, is_64=False, slots=1)
    if (lo >> 1) & 3 == 2:
        mask = (size_hi << 32) | (size_lo & ~15)
        return dict(addr=(hi << 32) | (lo & ~15), size=((~mask + 1) & (2**64 - 1)) if mask else 0, is_io=False,
                    is_64=True, slots=2)
    mask = size_lo & ~15 & 0xFFFFFFFF
    return dict(addr=lo & ~15, size=((~mask + 1) & 0xFFFFFFFF) if mask else 0, is_io=False, is_64=False, slots=1)


@pytest.mark.parametrize("lo,hi,size_lo,size_hi", [
    (0xFEBC0000, 0, 0xFFFE0000, 0),            # e1000 BAR0: 128 KiB memory
    (0x0000C001, 0, 0xFFFFFFC1, 0),            # e1000 BAR1: 64 ports
    (0x0000C001, 0, 0x0000FFC1, 0),            # I/O BAR whose upper half reads back 0
    (0xFD000008, 0, 0xFF000008, 0),            # 16 MiB prefetchable (VGA)
    (0x0000000C, 0x1, 0xFC00000C, 0xFFFFFFFF),  # 64-bit prefetchable above 4 GiB, 64 MiB
    (0x00000004, 0, 0xFFFFC004, 0xFFFFFFFF),   # 64-bit, unassigned, 16 KiB
    (0, 0, 0, 0),                              # unimplemented
])
def test_pci_bar_decode(pci_lib, lo, hi, size_lo, size_hi):
    b = PciBar()
    slots = pci_lib.pci_bar_decode(lo, hi, size_lo, size_hi, ctypes.byref(b))
    want = ref_bar(lo, hi, size_lo, size_hi)
    assert (b.addr, b.size, b.is_io, b.is_64, slots) == (want["addr"], want["size"], want["is_io"], want["is_64"],
                                                         want["slots"])
