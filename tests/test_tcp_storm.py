"""Segment storms against kernel/net/tcp.c: random (but sequence-aware) segments from several peers, raw
garbage, clock jumps and application calls, with the stack's own consistency check after every step and a
leak check at the end (everything closed, time passes: every connection slot is free). Also a short
libFuzzer run of tests/host/tcp/fuzz_tcp.c (ASan + UBSan), which does the same from coverage-guided input."""
import os
import random
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "host", "tcp"))
from tcplib import ACK, BUILD, FIN, MS, PSH, ROOT, RST, SOURCES, SYN, Peer, Stack, encode  # noqa: E402


@pytest.mark.parametrize("seed", range(8))
def test_random_segment_storm_leaves_no_leak(seed):
    rng = random.Random(seed)
    st = Stack()
    st.listen(8080)
    peers = [Peer(st, ip=0x0A000100 + (i % 3), port=30000 + i, isn=rng.randrange(1 << 32)) for i in range(10)]
    stack_view = {}          # (ip, port) -> (stack's next seq, stack's ack) learned from its segments
    handles = []

    def learn():
        for s in st.output():
            stack_view[(s.dst, s.dport)] = ((s.seq + s.seg_len) & 0xFFFFFFFF, s.ack)

    for step in range(3000):
        p = rng.choice(peers)
        r = rng.random()
        nxt, ack = stack_view.get((p.ip, p.port), (rng.randrange(1 << 32), p.snd_nxt))
        if r < 0.08:
            p.isn = rng.randrange(1 << 32)
            p.send(SYN, seq=p.isn, ack=0, options=rng.choice([b"", b"\x02\x04\x05\xb4", b"\x02\x04\x00\x01"]))
        elif r < 0.6:
            flags = rng.choice([ACK, ACK, ACK | PSH, ACK | FIN, RST, RST | ACK, SYN | ACK, ACK | PSH | FIN, 0])
            seq = (ack + rng.choice([0, 0, 0, 1, -1, 500, 20000, -5000, rng.randrange(1 << 32)])) & 0xFFFFFFFF
            a = (nxt + rng.choice([0, 0, 0, -1, 1, -1000, 100000])) & 0xFFFFFFFF
            data = bytes(rng.randrange(256) for _ in range(rng.choice([0, 0, 1, 100, 1460, 3000])))
            p.send(flags, data, seq=seq, ack=a, wnd=rng.choice([0, 1, 536, 65535]))
        elif r < 0.65:
            raw = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
            st.inject(raw, p.ip)
        elif r < 0.73:
            st.advance(rng.choice([1, 10, 200, 1000, 5000, 30000]) * MS)
        elif r < 0.75:
            st.lib.fake_ip_set_fail(int(rng.random() < 0.3))           # the IP layer drops what we send
            st.lib.fake_ip_set_mtu(rng.choice([1500, 1500, 576, 120]))  # and the link MTU changes
        else:
            h = st.accept(8080)
            if h:
                handles.append(h)
            if handles:
                h = rng.choice(handles)
                op = rng.random()
                if op < 0.4:
                    st.recv(h, rng.randrange(1, 5000))
                elif op < 0.7:
                    st.send(h, b"s" * rng.randrange(0, 40000))
                elif op < 0.85:
                    st.close(h)
                    handles.remove(h)
                elif op < 0.9:
                    st.abort(h)
                    handles.remove(h)
        learn()
        assert st.invariants() == 0, f"step {step}"
    st.lib.fake_ip_set_fail(0)
    st.lib.fake_ip_set_mtu(1500)
    for h in handles:
        st.close(h)
    for _ in range(300):
        st.advance(500 * MS)
        h = st.accept(8080)
        while h:
            st.close(h)
            h = st.accept(8080)
        learn()
        assert st.invariants() == 0
    assert st.in_use() == 0
    s = st.stats()
    assert s.conns_active == 0 and s.conns_opened == s.conns_closed
    assert s.bad_segs > 0 and s.segs_in > 1000


def test_libfuzzer_short_run(tmp_path):
    if not shutil.which("clang"):
        pytest.fail("clang (with libFuzzer) is required for the TCP fuzz harness")
    os.makedirs(BUILD, exist_ok=True)
    exe = os.path.join(BUILD, "fuzz_tcp")
    srcs = [s for s in SOURCES if not s.endswith("fake_ip.c")] + ["tests/host/tcp/fake_ip.c",
                                                                    "tests/host/tcp/fuzz_tcp.c"]
    subprocess.run(["clang", "-g", "-O1", "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=undefined",
                    "-DCLLM_HOST", "-Ikernel", "-Itests/host/include", *srcs, "-o", exe], cwd=ROOT, check=True)
    corpus = os.path.join(BUILD, "fuzz_tcp_corpus")   # kept between runs so coverage accumulates
    os.makedirs(corpus, exist_ok=True)
    r = subprocess.run([exe, "-max_total_time=20", "-max_len=4096", "-len_control=0", f"-artifact_prefix={tmp_path}/", corpus],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-4000:]
    assert "Done" in r.stderr
