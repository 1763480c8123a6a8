"""Fuzz the network stack below TCP with libFuzzer (clang, ASan + UBSan): tests/host/net/fuzz_frame.c.
A short run here (seeded with valid ARP/ICMP/UDP/DHCP frames from the reference builders); the harness's top
comment gives the command line for a run of hours."""
import pathlib
import shutil
import struct
import os
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent / "host" / "net"))
import nethost as nh  # noqa: E402

FUZZ_SECONDS = 15


def record(frame, step=1):
    return struct.pack("!HB", len(frame), step) + frame


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory):
    if not shutil.which("clang"):
        pytest.fail("clang is required for the fuzz harness")
    out = tmp_path_factory.mktemp("fuzz") / "fuzz_frame"
    srcs = ["tests/host/net/fuzz_frame.c", "tests/host/net/fake_nic.c", "tests/host/net/tcp_stub.c"] + \
        nh.HOST_SOURCES + nh.NET_SOURCES
    subprocess.run(["clang", "-g", "-O1", "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all",
                    "-DCLLM_HOST", "-Ikernel", "-Itests/host/include", "-o", str(out), *srcs],
                   cwd=nh.ROOT, check=True)
    return out


def seeds(d):
    me, peer = "10.0.2.15", "10.0.2.7"
    my_mac, peer_mac, bc = nh.mac2b("52:54:00:12:34:56"), nh.mac2b("02:00:00:00:00:07"), b"\xff" * 6
    arp_req = nh.eth(bc, peer_mac, 0x0806, nh.arp(1, peer_mac, peer, b"\0" * 6, me))
    ping = nh.eth(my_mac, peer_mac, 0x0800, nh.ipv4(peer, me, 1, nh.icmp_echo(8, 1, 1, b"abcdefgh")))
    udp = nh.eth(my_mac, peer_mac, 0x0800, nh.ipv4(peer, me, 17, nh.udp(peer, me, 9, 68, b"x" * 20)))
    tcp = nh.eth(my_mac, peer_mac, 0x0800, nh.ipv4(peer, me, 6, b"\0" * 20))
    offer = nh.eth(bc, peer_mac, 0x0800, nh.ipv4("10.0.2.2", "255.255.255.255", 17, nh.udp(
        "10.0.2.2", "255.255.255.255", 67, 68, nh.dhcp_reply(2, 0, me, my_mac))))
    (d / "static").write_bytes(b"\0" + record(arp_req) + record(ping) + record(udp) + record(tcp, 200))
    (d / "dhcp").write_bytes(b"\1" + record(offer) + record(offer, 50) + record(ping, 255))
    (d / "fixed").write_bytes(b"\2" + record(ping) + record(udp) + record(arp_req))
    (d / "dhcp-fixed").write_bytes(b"\3" + record(offer) + record(ping))


def test_fuzz_frames_short_run(fuzzer, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seeds(corpus)
    r = subprocess.run([str(fuzzer), f"-max_total_time={FUZZ_SECONDS}", "-max_len=4096", "-timeout=5",
                        "-rss_limit_mb=2048", f"-artifact_prefix={tmp_path}/", str(corpus)],
                       capture_output=True, text=True, timeout=FUZZ_SECONDS + 120,
                       # each input re-attaches the stack (3 MiB of TCP buffers): keep ASan's quarantine of freed
                       # blocks small so RSS measures live memory, not recently freed memory (a run here hit 1.1 GB)
                       env={**os.environ, "ASAN_OPTIONS": "quarantine_size_mb=16:detect_leaks=1"})
    tail = r.stderr[-3000:]
    assert r.returncode == 0, tail
    assert "Done" in r.stderr, tail
    runs = [ln for ln in r.stderr.splitlines() if ln.startswith("Done")]
    print(runs)
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("leak-*"))
