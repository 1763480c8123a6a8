"""Out-of-order, duplicate and overlapping segments into kernel/net/tcp.c: the byte stream the application
reads must equal what the peer sent, ACKs stay cumulative, held data is bounded (CLLM_TCP_OOO_RANGES ranges
inside the receive buffer) and an early FIN waits for the bytes before it."""
import os
import random
import struct
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "host", "tcp"))
from tcplib import ACK, FIN, PSH, Peer, Stack  # noqa: E402

RX_BUF = 16384


@pytest.fixture
def st():
    s = Stack()
    s.listen(8080)
    yield s
    assert s.invariants() == 0


def conn(st, isn=5000):
    p = Peer(st, isn=isn)
    p.connect()
    return p, st.accept(8080)


def seg(p, base, data, off, n, flags=ACK | PSH):
    p.send(flags, data[off:off + n], seq=(base + off) & 0xFFFFFFFF)


def test_reordered_segments(st):
    p, h = conn(st)
    data = bytes(random.Random(1).randrange(256) for _ in range(5000))
    base = p.snd_nxt
    order = [3, 1, 4, 0, 2]                  # 1000-byte pieces
    acks = []
    for i in order:
        seg(p, base, data, i * 1000, 1000)
        acks += [a.ack - base for a in p.out()]
    # cumulative ACKs: duplicate ACKs for holes, then a jump when the hole fills
    assert acks == [0, 0, 0, 2000, 5000]
    assert st.recv(h) == data
    assert st.stats().ooo_segs == 3


def test_duplicates_and_overlaps(st):
    p, h = conn(st)
    data = bytes(range(256)) * 20
    base = p.snd_nxt
    pieces = [(0, 700), (0, 700), (500, 900), (1200, 100), (2000, 600), (1300, 800), (100, 50), (2600, 2520)]
    for off, n in pieces:
        seg(p, base, data, off, n)
    assert st.recv(h) == data
    assert p.out()[-1].ack == (base + len(data)) & 0xFFFFFFFF
    assert st.stats().dup_segs >= 2


def test_overlap_across_sequence_wrap(st):
    p, h = conn(st, isn=0xFFFFF000)
    data = bytes(random.Random(2).randrange(256) for _ in range(9000))
    base = p.snd_nxt
    for off, n in [(4000, 3000), (2000, 2500), (0, 2100), (6500, 2500)]:
        seg(p, base, data, off, n)
    assert st.recv(h) == data


def test_out_of_order_fin_waits_for_data(st):
    p, h = conn(st)
    base = p.snd_nxt
    data = b"0123456789" * 100
    seg(p, base, data, 500, 500, flags=ACK | PSH | FIN)
    assert st.state(p.ip, p.port, 8080) == "ESTABLISHED"
    seg(p, base, data, 0, 500)
    assert st.state(p.ip, p.port, 8080) == "CLOSE-WAIT"
    assert p.out()[-1].ack == (base + 1001) & 0xFFFFFFFF
    assert st.recv(h) == data and st.lib.tcp_peer_closed(h)


def test_too_many_holes_drop_safely(st):
    p, h = conn(st)
    base = p.snd_nxt
    data = bytes(random.Random(3).randrange(256) for _ in range(12000))
    # 11 disjoint early pieces (more than CLLM_TCP_OOO_RANGES = 8 held ranges)
    for i in range(11):
        seg(p, base, data, 1000 + i * 1000, 500)
    # the peer resends everything in order, as it would after timeouts
    for off in range(0, len(data), 1000):
        seg(p, base, data, off, 1000)
    assert st.recv(h) == data


def test_data_beyond_window_is_trimmed(st):
    p, h = conn(st)
    base = p.snd_nxt
    data = bytes(random.Random(4).randrange(256) for _ in range(RX_BUF + 3000))
    seg(p, base, data, 0, 1000)
    seg(p, base, data, RX_BUF - 500, 1400)   # straddles the right window edge: only the part inside is taken
    seg(p, base, data, 1000, RX_BUF - 1500)
    assert p.out()[-1].ack == (base + RX_BUF) & 0xFFFFFFFF
    got = st.recv(h)
    assert got == data[:RX_BUF]
    seg(p, base, data, RX_BUF, 3000 - 1000 + 1000)
    assert st.recv(h) == data[RX_BUF:]


@pytest.mark.parametrize("seed", range(6))
def test_random_reassembly_against_reference(st, seed):
    """Random pieces (overlapping, duplicated, reordered, some lost) of a 60 kB stream, with the application
    reading as it goes; the peer retransmits from its last cumulative ACK like a real sender."""
    rng = random.Random(seed)
    p, h = conn(st, isn=rng.randrange(1 << 32))
    data = bytes(rng.randrange(256) for _ in range(60000))
    base = p.snd_nxt
    acked = 0
    got = b""
    for _ in range(5000):
        if acked == len(data):
            break
        # a burst of pieces within the window from the last ACK
        pieces = []
        for _ in range(rng.randrange(1, 12)):
            off = acked + rng.randrange(0, RX_BUF)
            n = rng.randrange(1, 1460)
            if off < len(data):
                pieces.append((off, min(n, len(data) - off)))
        pieces.append((acked, min(1460, len(data) - acked)))
        rng.shuffle(pieces)
        for off, n in pieces:
            if rng.random() < 0.15:
                continue                     # lost
            seg(p, base, data, off, n)
            if rng.random() < 0.1:
                seg(p, base, data, off, n)   # duplicated
        for a in p.out():
            acked = max(acked, (a.ack - base) & 0xFFFFFFFF)
        if rng.random() < 0.7:
            got += st.recv(h, rng.randrange(1, 20000))
    got += st.recv(h)
    assert acked == len(data)
    assert got == data


def sack_blocks(seg, base):
    """SACK option blocks of a segment, relative to base."""
    o, i, out = seg.options, 0, []
    while i < len(o):
        if o[i] == 0:
            break
        if o[i] == 1:
            i += 1
            continue
        if o[i] == 5:
            for k in range(i + 2, i + o[i + 1], 8):
                left, right = struct.unpack("!II", o[k:k + 8])
                out.append(((left - base) & 0xFFFFFFFF, (right - base) & 0xFFFFFFFF))
        i += o[i + 1]
    return out


def test_sack_blocks_report_held_ranges():
    st = Stack()
    st.listen(8080)
    p = Peer(st, isn=77)
    p.send(0x02, seq=p.isn, ack=0, options=b"\x02\x04\x05\xb4\x01\x01\x04\x02")   # MSS + SACK-permitted
    sa = p.out()[0]
    assert b"\x04\x02" in sa.options
    p.snd_nxt, p.rcv_nxt = p.isn + 1, sa.seq + 1
    p.send(ACK)
    h = st.accept(8080)
    base = p.snd_nxt
    data = bytes(range(256)) * 40
    seen = []
    for off, n in [(1000, 500), (3000, 500), (5000, 500), (7000, 500), (9000, 500), (1500, 500)]:
        seg(p, base, data, off, n)
        a = p.out()[-1]
        assert a.ack == base and not a.data
        seen.append(sack_blocks(a, base))
    assert seen[0] == [(1000, 1500)]
    assert seen[1][0] == (3000, 3500) and (1000, 1500) in seen[1]
    assert len(seen[4]) == 4 and seen[4][0] == (9000, 9500)           # at most 4 blocks, latest first
    assert seen[5][0] == (1000, 2000)                                  # merged range holding the latest
    seg(p, base, data, 0, 1000)
    a = p.out()[-1]
    assert a.ack == base + 2000 and sack_blocks(a, base)[0] in [(3000, 3500), (5000, 5500), (7000, 7500),
                                                                 (9000, 9500)]
    assert st.recv(h) == data[:2000]
    assert st.invariants() == 0


def test_no_sack_without_permission(st):
    p, h = conn(st)
    base = p.snd_nxt
    seg(p, base, b"x" * 3000, 1000, 500)
    assert p.out()[-1].options == b""
