"""TCP timers in kernel/net/tcp.c on a simulated clock: RFC 6298 RTO from RTT samples (the expected values
are computed here from the RFC's formulas), exponential back-off, Karn's rule, abort after
CLLM_TCP_MAX_RETRIES, fast retransmit on three duplicate ACKs, zero-window probing (persist timer) and the
receive window closing and reopening as the application reads."""
import os
import struct
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "host", "tcp"))
from tcplib import ACK, FIN, MS, PSH, RST, Peer, Stack  # noqa: E402

RTO_MIN, RTO_MAX, G = 200 * MS, 60_000 * MS, 1 * MS
RX_BUF = 16384


class Rfc6298:
    """The estimator exactly as RFC 6298 section 2 states it (independent of tcp.c)."""

    def __init__(self):
        self.srtt = None

    def sample(self, r):
        if self.srtt is None:
            self.srtt, self.rttvar = r, r / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - r)
            self.srtt = 0.875 * self.srtt + 0.125 * r
        return self.rto()

    def rto(self):
        return min(max(self.srtt + max(G, 4 * self.rttvar), RTO_MIN), RTO_MAX)


@pytest.fixture
def st():
    s = Stack()
    s.listen(8080)
    yield s
    assert s.invariants() == 0


def connect_with_rtt(st, rtt_ns, port=40000):
    p = Peer(st, port=port)
    p.send(0x02, seq=p.isn, ack=0, options=struct.pack("!BBH", 2, 4, 1460))
    sa = p.out()[0]
    p.snd_nxt, p.rcv_nxt = p.isn + 1, sa.seq + 1
    st.advance(rtt_ns)
    p.send(ACK)
    return p, st.accept(8080)


def first_retransmit_delay(st, p, h, data=b"x" * 100):
    st.send(h, data)
    seg = p.out()[0]
    t0 = st.now
    while st.now - t0 < 70_000 * MS:
        st.advance(1 * MS)
        for s in p.out():
            if s.seq == seg.seq and s.data:
                return st.now - t0, seg
    raise AssertionError("no retransmission")


def test_rto_follows_rfc6298_estimator(st):
    ref = Rfc6298()
    p, h = connect_with_rtt(st, 300 * MS)   # handshake sample: 300 ms
    ref.sample(300 * MS)
    for rtt in (100, 120, 80, 140):         # four more samples from data exchanges
        st.send(h, b"y" * 10)
        p.take(p.out())
        st.advance(rtt * MS)
        p.send(ACK)
        ref.sample(rtt * MS)
    delay, _ = first_retransmit_delay(st, p, h)
    assert abs(delay - ref.rto()) <= 2 * MS, (delay / MS, ref.rto() / MS)


def test_rto_floor_is_200ms(st):
    p, h = connect_with_rtt(st, 1 * MS)
    delay, _ = first_retransmit_delay(st, p, h)
    assert abs(delay - RTO_MIN) <= 2 * MS


def test_exponential_backoff_then_abort(st):
    p, h = connect_with_rtt(st, 1 * MS)
    st.send(h, b"z" * 100)
    seg = p.out()[0]
    t0 = st.now
    events = st.run_for(120_000 * MS, step=5 * MS)
    rexmit = [t - t0 for t, s in events if s.seq == seg.seq and s.data == seg.data]
    rsts = [t for t, s in events if s.has(RST)]
    # CLLM_TCP_MAX_RETRIES = 8 retransmissions at 0.2, 0.4, 0.8 ... 25.6 s apart, then a reset
    gaps = [b - a for a, b in zip([0] + rexmit, rexmit)]
    assert len(rexmit) == 8
    for i, g in enumerate(gaps):
        assert abs(g - RTO_MIN * 2 ** i) <= 10 * MS, [x / MS for x in gaps]
    assert len(rsts) == 1 and rsts[0] - t0 > rexmit[-1]
    assert st.in_use() == 0 and not st.lib.tcp_is_alive(h)
    assert st.stats().retransmits == 8 and st.stats().timeouts == 9


def test_karn_rule_keeps_backed_off_rto(st):
    p, h = connect_with_rtt(st, 1 * MS)
    delay, seg = first_retransmit_delay(st, p, h)   # 200 ms, RTO now backed off to 400 ms
    st.advance(1 * MS)
    p.send(ACK, ack=seg.seq + len(seg.data))        # ambiguous ACK: must not give an RTT sample
    p.out()
    delay2, _ = first_retransmit_delay(st, p, h)
    assert abs(delay2 - 2 * RTO_MIN) <= 2 * MS


def test_fast_retransmit_on_three_dup_acks(st):
    p, h = connect_with_rtt(st, 1 * MS)
    st.send(h, bytes(range(256)) * 40)                # 10240 bytes, 8 segments
    segs = p.out()
    assert len(segs) == 8
    p.send(ACK, ack=segs[1].seq)                      # first segment arrived, second lost
    for _ in range(3):
        p.send(ACK, ack=segs[1].seq)
    r = p.out()
    assert len(r) == 1 and r[0].seq == segs[1].seq and r[0].data == segs[1].data
    assert st.stats().fast_retransmits == 1
    # partial ACK up to the third segment: the next hole goes out at once (NewReno)
    p.send(ACK, ack=segs[2].seq)
    r = p.out()
    assert r and r[0].seq == segs[2].seq
    p.send(ACK, ack=segs[-1].seq + len(segs[-1].data))
    assert st.run_for(1000 * MS) == []                # everything acknowledged: silence


def test_zero_window_probe_and_reopen(st):
    p, h = connect_with_rtt(st, 1 * MS)
    st.send(h, b"a" * 1000)
    first = p.take(p.out())
    p.send(ACK, wnd=0)                                # ACK everything, window closed
    assert st.send(h, b"b" * 3000) == 3000
    assert p.out() == []                              # nothing may go into a zero window
    t0 = st.now
    events = st.run_for(20_000 * MS, step=5 * MS)
    probes = [t - t0 for t, s in events]
    for _, s in events:
        assert not s.data and s.seq == (first[-1].seq + 1000 - 1) & 0xFFFFFFFF  # zero-length, below SND.UNA
    assert len(probes) >= 4
    gaps = [b - a for a, b in zip(probes, probes[1:])]
    assert all(b >= a for a, b in zip(gaps, gaps[1:])) and gaps[-1] >= 2 * gaps[0]
    assert st.stats().persist_probes == len(probes) and st.in_use() == 1   # probes never abort
    # the peer answers a probe with an open window: the data flows
    p.send(ACK, wnd=65535)
    p.take(p.out())
    assert p.received == b"a" * 1000 + b"b" * 3000


def test_receive_window_closes_and_reopens(st):
    p, h = connect_with_rtt(st, 1 * MS)
    chunk = b"w" * 1024
    for _ in range(RX_BUF // 1024):
        p.push(chunk)
    acks = p.out()
    assert acks[-1].wnd == 0 and acks[-1].ack == p.snd_nxt
    # one more byte into the closed window: not taken, ACK with the same window
    p.send(ACK | PSH, data=b"!")
    r = p.out()
    assert r[-1].ack == p.snd_nxt and r[-1].wnd == 0
    # reading a little does not reopen a tiny window (silly-window avoidance) ...
    assert len(st.recv(h, 100)) == 100
    assert p.out() == []
    # ... reading more sends a window update
    assert len(st.recv(h, 4000)) == 4000
    upd = p.out()
    assert len(upd) == 1 and upd[0].wnd >= 1460 and upd[0].ack == p.snd_nxt
    p.push(b"!")
    assert st.lib.tcp_recv_available(h) == RX_BUF - 4100 + 1


def test_lost_fin_is_retransmitted(st):
    p, h = connect_with_rtt(st, 1 * MS)
    st.close(h)
    fin = p.out()[0]
    assert fin.has(FIN)
    again = [s for _, s in st.run_for(300 * MS, step=5 * MS)]
    assert again and again[0].has(FIN) and again[0].seq == fin.seq
    p.rcv_nxt = fin.seq + 1
    p.send(ACK)
    assert st.state(p.ip, p.port, 8080) == "FIN-WAIT-2"


def test_retransmission_go_back_n_delivers_everything(st):
    p, h = connect_with_rtt(st, 1 * MS)
    payload = bytes((i * 7) & 0xFF for i in range(20000))
    st.send(h, payload)
    p.out()                                           # the whole first flight is lost
    t0 = st.now
    segs = [s for _, s in st.run_for(250 * MS, step=5 * MS)]   # the RTO fires and resends from SND.UNA
    while segs and len(p.received) < len(payload):
        p.take(segs)
        p.send(ACK)
        segs = p.out()
    assert p.received == payload and st.now - t0 < 300 * MS


def test_early_retransmit_for_short_responses(st):
    """RFC 5827: three segments out, the first lost, two duplicate ACKs retransmit it (no RTO wait)."""
    p, h = connect_with_rtt(st, 1 * MS)
    st.send(h, b"r" * 4000)                          # three segments: 1460 + 1460 + 1080
    segs = p.out()
    assert len(segs) == 3
    p.send(ACK, ack=segs[0].seq)
    assert p.out() == []
    p.send(ACK, ack=segs[0].seq)
    r = p.out()
    assert len(r) == 1 and r[0].seq == segs[0].seq and r[0].data == segs[0].data
