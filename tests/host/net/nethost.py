"""Host build of the network stack below TCP (kernel/net) with a fake NIC, loaded through ctypes, plus an
independent reference for the wire formats built from Python's struct module (RFC layouts, not our C code).
Used by tests/test_net_*.py."""
import ctypes
import hashlib
import pathlib
import struct
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[3]
BUILD = ROOT / "tests" / ".build" / "net"

NET_SOURCES = [
    "kernel/net/checksum.c", "kernel/net/wire.c",
    "kernel/net/eth_wire.c", "kernel/net/arp_wire.c", "kernel/net/ipv4_wire.c", "kernel/net/icmp_wire.c",
    "kernel/net/udp_wire.c", "kernel/net/dhcp_wire.c",
    "kernel/net/eth.c", "kernel/net/arp.c", "kernel/net/ipv4.c", "kernel/net/icmp.c", "kernel/net/udp.c",
    "kernel/net/dhcp.c", "kernel/net/net.c",
]
HOST_SOURCES = ["tests/host/shim.c"] + [p for p in ("kernel/lib/fmt.c", "kernel/lib/math.c", "kernel/lib/parse.c",
                                                    "kernel/lib/bigint.c") if (ROOT / p).exists()]
TEST_SOURCES = ["tests/host/net/fake_nic.c", "tests/host/net/tcp_stub.c"]
CFLAGS = ["-DCLLM_HOST", "-Ikernel", "-Itests/host/include", "-O2", "-g", "-Wall", "-Wextra", "-Werror",
          "-ffp-contract=off"]


def _digest(paths, extra):
    h = hashlib.sha256(" ".join(extra).encode())
    for p in paths:
        h.update((ROOT / p).read_bytes())
    for hdr in sorted((ROOT / "kernel" / "net").glob("*.h")) + [ROOT / "kernel/core/limits.h"]:
        h.update(hdr.read_bytes())
    return h.hexdigest()[:16]


def build_lib():
    """Compile libnettest.so (cached by a hash of its sources) and return its path."""
    srcs = HOST_SOURCES + NET_SOURCES + TEST_SOURCES
    BUILD.mkdir(parents=True, exist_ok=True)
    out = BUILD / f"libnettest-{_digest(srcs, CFLAGS)}.so"
    if not out.exists():
        tmp = out.with_suffix(".tmp")
        subprocess.run(["gcc", *CFLAGS, "-shared", "-fPIC", "-Wl,--no-undefined", "-o", str(tmp), *srcs], cwd=ROOT, check=True)
        tmp.rename(out)
    return out


class NetStats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in (
        "frames_in frames_out bytes_in bytes_out "
        "drop_short drop_not_for_us drop_ethertype drop_tx_full drop_too_big drop_no_address "
        "arp_in arp_out arp_requests_out arp_replies_out arp_bad arp_queue_drops arp_timeouts "
        "ip_in ip_out ip_bad_header ip_bad_checksum ip_fragments_dropped ip_not_for_us ip_bad_proto "
        "icmp_in icmp_echo_replies icmp_bad "
        "udp_in udp_out udp_bad udp_bad_checksum udp_no_port "
        "dhcp_out dhcp_in dhcp_leases dhcp_naks gateway_probes ip_held").split()]


class Stack:
    """One loaded copy of the stack with its fake NIC."""

    def __init__(self, lib_path):
        self.lib = lib = ctypes.CDLL(str(lib_path))
        lib.host_clock_set_ns.argtypes = [ctypes.c_uint64]
        lib.fake_nic_attach.argtypes = [ctypes.c_char_p]
        lib.fake_nic_rx.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        lib.fake_nic_tx_get.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
        lib.net_config_static.argtypes = [ctypes.c_uint32] * 3
        lib.net_poll.restype = ctypes.c_bool
        lib.net_local_ip.restype = ctypes.c_uint32
        lib.net_netmask.restype = ctypes.c_uint32
        lib.net_gateway.restype = ctypes.c_uint32
        lib.ipv4_output.argtypes = [ctypes.c_uint32, ctypes.c_uint8, ctypes.c_char_p, ctypes.c_size_t]
        lib.arp_lookup.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
        lib.tcp_stub_src.restype = ctypes.c_uint32
        lib.tcp_stub_dst.restype = ctypes.c_uint32
        lib.tcp_stub_seg.restype = ctypes.c_size_t
        lib.tcp_stub_seg.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        lib.checksum_add.restype = ctypes.c_uint32
        lib.checksum_add.argtypes = [ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t]
        lib.checksum_finish.restype = ctypes.c_uint16
        lib.checksum_finish.argtypes = [ctypes.c_uint32]
        lib.dhcp_get_state.restype = ctypes.c_int
        lib.wire_parse_ipv4.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint32)]
        ctypes.c_int.in_dll(lib, "host_log_quiet").value = 1
        assert lib.fake_net_stats_size() == ctypes.sizeof(NetStats)
        self.now = 0

    def attach(self, mac):
        self.lib.host_clock_set_ns(self.now)
        self.lib.fake_nic_attach(bytes(mac))

    def set_time(self, ns):
        self.now = ns
        self.lib.host_clock_set_ns(ns)

    def advance(self, seconds):
        self.set_time(self.now + int(seconds * 1e9))

    def rx(self, frame):
        assert self.lib.fake_nic_rx(bytes(frame), len(frame)) == 0

    def poll(self):
        return self.lib.net_poll()

    def tx(self, clear=True):
        out = []
        buf = ctypes.create_string_buffer(1514)
        for i in range(self.lib.fake_nic_tx_count()):
            n = self.lib.fake_nic_tx_get(i, buf, 1514)
            out.append(buf.raw[:n])
        if clear:
            self.lib.fake_nic_tx_clear()
        return out

    def stats(self):
        st = NetStats()
        self.lib.net_get_stats(ctypes.byref(st))
        return st


# ---- the independent reference: RFC layouts with struct ----

def ip2b(s):
    return bytes(int(x) for x in s.split("."))


def ip2i(s):
    return struct.unpack("!I", ip2b(s))[0]


def mac2b(s):
    return bytes(int(x, 16) for x in s.split(":"))


def csum(data):
    """RFC 1071 one's-complement checksum, written independently of kernel/net/checksum.c."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(dst, src, etype, payload):
    return dst + src + struct.pack("!H", etype) + payload


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, ip2b(spa), tha, ip2b(tpa))


def ipv4(src, dst, proto, payload, ttl=64, ident=1, frag=0x4000, options=b"", bad_csum=False, tos=0):
    ihl = 5 + len(options) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, ihl * 4 + len(payload), ident, frag, ttl, proto, 0,
                      ip2b(src), ip2b(dst)) + options
    c = csum(hdr) ^ (0x1234 if bad_csum else 0)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def icmp_echo(typ, ident, seq, data):
    m = struct.pack("!BBHHH", typ, 0, 0, ident, seq) + data
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]


def udp(src, dst, sport, dport, payload, zero_csum=False):
    length = 8 + len(payload)
    seg = struct.pack("!HHHH", sport, dport, length, 0) + payload
    if zero_csum:
        return seg
    pseudo = ip2b(src) + ip2b(dst) + struct.pack("!BBH", 0, 17, length)
    c = csum(pseudo + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def parse_eth(frame):
    return frame[0:6], frame[6:12], struct.unpack("!H", frame[12:14])[0], frame[14:]


def parse_ipv4(pkt):
    vihl, tos, tot, ident, frag, ttl, proto, c, src, dst = struct.unpack("!BBHHHBBH4s4s", pkt[:20])
    ihl = (vihl & 15) * 4
    return dict(version=vihl >> 4, ihl=ihl, total=tot, id=ident, frag=frag, ttl=ttl, proto=proto,
                csum_ok=csum(pkt[:ihl]) == 0, src=".".join(map(str, src)), dst=".".join(map(str, dst)),
                payload=pkt[ihl:tot])


def dhcp_reply(msg_type, xid, yiaddr, chaddr, server="10.0.2.2", lease=86400, mask="255.255.255.0",
               router="10.0.2.2", dns="10.0.2.3", t1=None, t2=None, include_server_id=True):
    """A BOOTREPLY as a DHCP server (RFC 2131/2132) would send it."""
    fixed = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 2, 1, 6, 0, xid, 0, 0, b"\0" * 4, ip2b(yiaddr),
                        ip2b(server), b"\0" * 4, chaddr + b"\0" * 10, b"", b"")
    opts = bytes([53, 1, msg_type])
    if include_server_id:
        opts += bytes([54, 4]) + ip2b(server)
    if lease is not None:
        opts += bytes([51, 4]) + struct.pack("!I", lease)
    if t1 is not None:
        opts += bytes([58, 4]) + struct.pack("!I", t1)
    if t2 is not None:
        opts += bytes([59, 4]) + struct.pack("!I", t2)
    opts += bytes([1, 4]) + ip2b(mask) + bytes([3, 4]) + ip2b(router) + bytes([6, 4]) + ip2b(dns)
    return fixed + struct.pack("!I", 0x63825363) + opts + bytes([255])


def parse_dhcp(payload):
    """Parse a BOOTREQUEST: the fixed fields and the options as {code: bytes}."""
    op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr = struct.unpack(
        "!BBBBIHH4s4s4s4s16s", payload[:44])
    assert struct.unpack("!I", payload[236:240])[0] == 0x63825363
    opts, i = {}, 240
    while i < len(payload):
        code = payload[i]
        if code == 0:
            i += 1
            continue
        if code == 255:
            break
        n = payload[i + 1]
        opts[code] = payload[i + 2:i + 2 + n]
        i += 2 + n
    return dict(op=op, htype=htype, hlen=hlen, xid=xid, flags=flags, ciaddr=".".join(map(str, ciaddr)),
                chaddr=chaddr[:6], opts=opts, length=len(payload))
