"""Host harness for kernel/net/tcp.c: builds it with the fake IPv4 layer (fake_ip.c) into a shared library,
loads it with ctypes, and plays the remote peer with segments encoded here in Python (struct + an
independent RFC 1071 checksum), so the wire format is checked against code that shares nothing with
tcp_wire.c. Used by tests/test_tcp_*.py."""
import ctypes
import os
import struct
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BUILD = os.path.join(ROOT, "tests", ".build", "tcp")
SOURCES = ["tests/host/shim.c", "kernel/lib/fmt.c", "kernel/lib/parse.c", "kernel/lib/math.c", "kernel/net/checksum.c", "kernel/net/tcp_wire.c",
           "kernel/net/tcp.c", "tests/host/tcp/fake_ip.c"]
HEADERS = ["kernel/net/tcp.h", "kernel/net/tcp_wire.h", "kernel/net/checksum.h", "kernel/core/limits.h",
           "kernel/net/ipv4.h", "kernel/net/wire.h"]
CFLAGS = ["-DCLLM_HOST", "-Ikernel", "-Itests/host/include", "-O2", "-g", "-Wall", "-Wextra", "-Werror",
          "-ffp-contract=off"]

FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
STATES = ["CLOSED", "LISTEN", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSING",
          "TIME-WAIT", "CLOSE-WAIT", "LAST-ACK"]
LOCAL_IP = 0x0A000002   # 10.0.0.2, the stack under test
MS = 1_000_000          # ns


def _newest_mtime(paths):
    return max(os.path.getmtime(os.path.join(ROOT, p)) for p in paths)


def build_lib(extra_flags=(), name="libtcphost.so", defines=()):
    os.makedirs(BUILD, exist_ok=True)
    out = os.path.join(BUILD, name)
    if not os.path.exists(out) or os.path.getmtime(out) < _newest_mtime(SOURCES + HEADERS + ["tests/host/tcp/tcplib.py"]):
        cmd = ["gcc", *CFLAGS, *defines, *extra_flags, "-fPIC", "-shared", "-o", out, *SOURCES]
        subprocess.run(cmd, cwd=ROOT, check=True)
    return out


def checksum(data):
    """RFC 1071 Internet checksum, written independently of kernel/net/checksum.c."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def pseudo(src, dst, length):
    return struct.pack("!IIBBH", src, dst, 0, 6, length)


def encode(src, dst, sport, dport, seq, ack, flags, wnd=65535, data=b"", options=b"", bad_csum=False):
    options += b"\0" * (-len(options) % 4)
    off = (20 + len(options)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, off << 4, flags, wnd, 0, 0)
    seg = hdr + options + data
    c = checksum(pseudo(src, dst, len(seg)) + seg)
    if bad_csum:
        c ^= 0x5A5A
    return seg[:16] + struct.pack("!H", c) + seg[18:]


class Seg:
    """A segment the stack sent, decoded and checksum-verified here."""

    def __init__(self, raw, src, dst):
        assert checksum(pseudo(src, dst, len(raw)) + raw) == 0, "bad checksum from the stack"
        (self.sport, self.dport, self.seq, self.ack, off, self.flags, self.wnd, _, self.urg) = \
            struct.unpack("!HHIIBBHHH", raw[:20])
        self.hlen = (off >> 4) * 4
        assert 20 <= self.hlen <= len(raw)
        self.options = raw[20:self.hlen]
        self.data = raw[self.hlen:]
        self.dst = dst
        self.mss = None
        i = 0
        while i < len(self.options):
            k = self.options[i]
            if k == 0:
                break
            if k == 1:
                i += 1
                continue
            ln = self.options[i + 1]
            if k == 2 and ln == 4:
                self.mss = struct.unpack("!H", self.options[i + 2:i + 4])[0]
            i += ln

    @property
    def seg_len(self):
        return len(self.data) + bool(self.flags & SYN) + bool(self.flags & FIN)

    def has(self, f):
        return (self.flags & f) == f

    def __repr__(self):
        names = "".join(n for n, f in (("F", FIN), ("S", SYN), ("R", RST), ("P", PSH), ("A", ACK)) if self.flags & f)
        return f"<Seg {self.sport}->{self.dport} {names} seq={self.seq} ack={self.ack} wnd={self.wnd} len={len(self.data)}>"


class TcpStats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in (
        "segs_in", "segs_out", "retransmits", "bad_segs", "resets_in", "resets_out", "conns_opened",
        "conns_closed", "conns_active", "conns_dropped_no_slot", "challenge_acks", "dup_segs", "ooo_segs",
        "persist_probes", "timeouts", "fast_retransmits")]


class Stack:
    """The stack under test, with its clock (ns) and captured output."""

    def __init__(self, lib_path=None):
        self.lib = ctypes.CDLL(lib_path or build_lib())
        L = self.lib
        L.tcp_input.argtypes = [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t]
        L.tcp_poll.argtypes = [ctypes.c_uint64]
        L.tcp_listen.argtypes = [ctypes.c_uint16]
        L.tcp_accept.argtypes = [ctypes.c_uint16]
        L.tcp_accept.restype = ctypes.c_uint32
        for f in ("tcp_recv", "tcp_send"):
            getattr(L, f).argtypes = [ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t]
            getattr(L, f).restype = ctypes.c_size_t
        for f in ("tcp_recv_available", "tcp_send_space"):
            getattr(L, f).argtypes = [ctypes.c_uint32]
            getattr(L, f).restype = ctypes.c_size_t
        for f in ("tcp_peer_closed", "tcp_is_alive"):
            getattr(L, f).argtypes = [ctypes.c_uint32]
            getattr(L, f).restype = ctypes.c_bool
        L.tcp_close.argtypes = [ctypes.c_uint32]
        L.tcp_abort.argtypes = [ctypes.c_uint32]
        L.tcp_conn_state.argtypes = [ctypes.c_uint32, ctypes.c_uint16, ctypes.c_uint16]
        L.tcp_conns_in_use.restype = ctypes.c_size_t
        L.host_clock_set_ns.argtypes = [ctypes.c_uint64]
        L.fake_ip_pop.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_uint32),
                                  ctypes.POINTER(ctypes.c_uint8)]
        L.fake_ip_set_mtu.argtypes = [ctypes.c_size_t]
        ctypes.c_int.in_dll(L, "host_log_quiet").value = 1
        self.now = 1_000_000_000
        L.host_clock_set_ns(self.now)
        L.fake_ip_clear()
        L.fake_ip_set_fail(0)
        L.fake_ip_set_mtu(1500)
        L.tcp_init()

    # clock
    def advance(self, ns):
        self.now += ns
        self.lib.host_clock_set_ns(self.now)
        self.lib.tcp_poll(self.now)

    def run_for(self, ns, step=10 * MS):
        """Advance the clock in steps, polling timers; returns segments sent meanwhile with their times."""
        out = []
        end = self.now + ns
        while self.now < end:
            self.advance(min(step, end - self.now))
            out += [(self.now, s) for s in self.output()]
        return out

    # segments
    def inject(self, raw, src, dst=LOCAL_IP):
        self.lib.tcp_input(src, dst, raw, len(raw))

    def output(self):
        segs = []
        buf = ctypes.create_string_buffer(2048)
        dst = ctypes.c_uint32()
        proto = ctypes.c_uint8()
        while True:
            n = self.lib.fake_ip_pop(buf, 2048, ctypes.byref(dst), ctypes.byref(proto))
            if n < 0:
                return segs
            assert proto.value == 6
            segs.append(Seg(buf.raw[:n], LOCAL_IP, dst.value))

    # API
    def listen(self, port):
        return self.lib.tcp_listen(port)

    def accept(self, port):
        return self.lib.tcp_accept(port)

    def recv(self, h, n=1 << 20):
        buf = ctypes.create_string_buffer(n)
        got = self.lib.tcp_recv(h, buf, n)
        return buf.raw[:got]

    def send(self, h, data):
        return self.lib.tcp_send(h, data, len(data))

    def close(self, h):
        self.lib.tcp_close(h)

    def abort(self, h):
        self.lib.tcp_abort(h)

    def stats(self):
        st = TcpStats()
        self.lib.tcp_get_stats(ctypes.byref(st))
        return st

    def state(self, rip, rport, lport):
        return STATES[self.lib.tcp_conn_state(rip, rport, lport)]

    def in_use(self):
        return self.lib.tcp_conns_in_use()

    def invariants(self):
        return self.lib.tcp_check_invariants()


class Peer:
    """The remote end of one connection, played by the test: tracks its own sequence numbers."""

    def __init__(self, stack, ip=0x0A000001, port=40000, lport=8080, isn=1000, wnd=65535):
        self.st, self.ip, self.port, self.lport = stack, ip, port, lport
        self.isn = isn
        self.snd_nxt = isn          # our next sequence number
        self.rcv_nxt = None         # next byte expected from the stack
        self.wnd = wnd
        self.received = b""

    def send(self, flags, data=b"", seq=None, ack=None, wnd=None, options=b"", bad_csum=False):
        seq = self.snd_nxt if seq is None else seq
        ack = (self.rcv_nxt or 0) if ack is None else ack
        raw = encode(self.ip, LOCAL_IP, self.port, self.lport, seq, ack, flags,
                     self.wnd if wnd is None else wnd, data, options, bad_csum)
        self.st.inject(raw, self.ip)

    def out(self):
        return [s for s in self.st.output() if s.dport == self.port and s.dst == self.ip]

    def connect(self, mss=1460, expect_ok=True):
        """Three-way handshake; returns the SYN-ACK."""
        opts = struct.pack("!BBH", 2, 4, mss) if mss else b""
        self.send(SYN, seq=self.isn, ack=0, options=opts)
        self.snd_nxt = (self.isn + 1) & 0xFFFFFFFF
        segs = self.out()
        if not expect_ok:
            return segs
        assert len(segs) == 1 and segs[0].has(SYN | ACK), segs
        sa = segs[0]
        assert sa.ack == self.snd_nxt
        self.rcv_nxt = (sa.seq + 1) & 0xFFFFFFFF
        self.send(ACK)
        assert self.out() == []
        return sa

    def push(self, data, flags=ACK | PSH):
        self.send(flags, data)
        self.snd_nxt = (self.snd_nxt + len(data) + bool(flags & FIN)) & 0xFFFFFFFF

    def take(self, segs):
        """Accept in-order data/FIN from the stack's segments (like a simple receiver)."""
        for s in segs:
            if s.seq == self.rcv_nxt and (s.data or s.has(FIN)):
                self.received += s.data
                self.rcv_nxt = (self.rcv_nxt + s.seg_len) & 0xFFFFFFFF
        return segs
