"""kernel/net/tcp.c against Linux's real TCP stack: tests/host/tcp/tun_peer.c runs our stack on a TUN device
inside a network namespace created here, and Linux sockets (tests/host/tcp/tun_client.py, run in the
namespace) connect to its echo, sink, lazy sink and source servers. Bytes are verified end to end; after every
connection ends and TIME_WAIT (2 * 500 ms in this build) passes, every slot must be free. The lossy run
drops 5%, duplicates 1% and reorders 5% of the packets in both directions."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "host", "tcp"))
from tcplib import BUILD, CFLAGS, HEADERS, ROOT, SOURCES, _newest_mtime  # noqa: E402

CLIENT = os.path.join(ROOT, "tests", "host", "tcp", "tun_client.py")

if os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or not shutil.which("ip"):
    pytest.skip("needs root, /dev/net/tun and iproute2 for a network namespace", allow_module_level=True)


def build_tun_peer():
    out = os.path.join(BUILD, "tun_peer")
    srcs = [s for s in SOURCES if not s.endswith("fake_ip.c")] + ["tests/host/tcp/tun_peer.c"]
    if not os.path.exists(out) or os.path.getmtime(out) < _newest_mtime(srcs + HEADERS):
        os.makedirs(BUILD, exist_ok=True)
        subprocess.run(["gcc", *CFLAGS, "-DCLLM_TCP_MSL_MS=500", "-o", out, *srcs], cwd=ROOT, check=True)
    return out


class TunPeer:
    _n = 0

    def __init__(self, loss=0.0, dup=0.0, reorder=0.0, seed=1):
        TunPeer._n += 1
        self.ns = f"cllmtcp{os.getpid()}x{TunPeer._n}"
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        self.sh("ip", "link", "set", "lo", "up")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, build_tun_peer(), "tun0", "10.9.0.2",
                                      str(loss), str(dup), str(reorder), str(seed)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        self.sh("ip", "addr", "add", "10.9.0.1/24", "dev", "tun0")
        self.sh("ip", "link", "set", "tun0", "up")

    def sh(self, *cmd):
        subprocess.run(["ip", "netns", "exec", self.ns, *cmd], check=True)

    def client(self, *args, timeout=240):
        r = subprocess.run(["ip", "netns", "exec", self.ns, sys.executable, CLIENT, *map(str, args)],
                           capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def finish(self):
        """Stop accepting work, let connections drain through TIME_WAIT; returns the stack's statistics."""
        self.proc.stdin.write("q\n")
        self.proc.stdin.flush()
        try:
            line = self.proc.stdout.readline()
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            subprocess.run(["ip", "netns", "del", self.ns])
        return json.loads(line)


@pytest.fixture
def peer():
    created = []

    def make(**kw):
        p = TunPeer(**kw)
        created.append(p)
        return p

    yield make
    for p in created:
        if p.proc.poll() is None:
            p.proc.kill()
            subprocess.run(["ip", "netns", "del", p.ns])


def check_clean(stats):
    assert stats["in_use"] == 0 and stats["conns_active"] == 0, stats
    assert stats["invariants"] == 0, stats
    assert stats["conns_opened"] == stats["conns_closed"], stats


def test_linux_echo_sink_source_clean_link(peer):
    p = peer()
    r_echo = p.client("echo", 4 << 20)
    r_sink = p.client("sink", 4 << 20)
    r_src = p.client("source", 4 << 20)
    st = p.finish()
    print(f"\nclean link: echo 4 MiB {r_echo['mb_per_s']:.1f} MB/s, sink {r_sink['mb_per_s']:.1f} MB/s, "
          f"source {r_src['mb_per_s']:.1f} MB/s; stats {st}")
    assert r_echo["ok"] and r_sink["ok"] and r_src["ok"]
    assert st["bad_segs"] == 0 and st["resets_out"] == 0
    check_clean(st)


def test_linux_64_concurrent_then_one_refused(peer):
    p = peer()
    r = p.client("parallel", 64 << 10, 64)
    assert r["ok"], r
    full = p.client("full", 0, 64)
    assert full["ok"] and full["extra"] == "refused", full
    st = p.finish()
    assert st["dropped_no_slot"] >= 1
    check_clean(st)


def test_linux_client_resets_mid_transfer(peer):
    p = peer()
    assert p.client("abort", 1 << 20, 10)["ok"]
    st = p.finish()
    assert st["resets_in"] >= 10
    check_clean(st)


def test_linux_lossy_link(peer):
    p = peer(loss=5, dup=1, reorder=5, seed=7)
    r = [p.client("echo", 256 << 10), p.client("sink", 256 << 10), p.client("source", 256 << 10),
         p.client("requests", 3000, 30), p.client("parallel", 32 << 10, 16)]
    st = p.finish()
    print(f"\nlossy link: {[round(x.get('seconds', 0), 2) for x in r]} s; stats {st}")
    assert all(x["ok"] for x in r), r
    assert st["dropped"] > 0 and st["duped"] > 0 and st["reordered"] > 0 and st["retransmits"] > 0
    check_clean(st)


def test_linux_zero_windows_both_ways(peer):
    p = peer()
    lazy = p.client("lazysink", 256 << 10)     # ~2.5 s at 2 KiB / 20 ms: our window closes, Linux probes
    slow = p.client("slowreader", 512 << 10)   # Linux's window closes for 3 s: we probe
    st = p.finish()
    print(f"\nzero windows: lazy sink {lazy['seconds']:.2f} s; stats {st}")
    assert lazy["ok"] and slow["ok"]
    assert st["persist_probes"] >= 2
    check_clean(st)
