"""Out-of-order, duplicate and overlapping segments into kernel/net/tcp.c: the byte stream the application
reads must equal what the peer sent, ACKs stay cumulative, held data is bounded (CLLM_TCP_OOO_RANGES ranges
inside the receive buffer) and an early FIN waits for the bytes before it."""
import os
import random
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
