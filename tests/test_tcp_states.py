"""TCP state machine (kernel/net/tcp.c) driven through the fake IPv4 layer: handshake, MSS, data both ways,
every close path (incl. simultaneous close and TIME_WAIT expiry), RST and SYN handling per state (RFC 9293,
RFC 5961), 64 connections + one refused, stale handles, malformed segments. The peer side and the wire
encoding are Python (tests/host/tcp/tcplib.py), independent of tcp_wire.c."""
import os
import struct
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "host", "tcp"))
from tcplib import ACK, FIN, LOCAL_IP, MS, PSH, RST, SYN, Peer, Stack, encode  # noqa: E402

MSL_MS = 5000  # CLLM_TCP_MSL_MS default


@pytest.fixture
def st():
    s = Stack()
    assert s.listen(8080) == 0
    yield s
    assert s.invariants() == 0


def established(st, port=40000, isn=1000, mss=1460):
    p = Peer(st, port=port, isn=isn)
    p.connect(mss=mss)
    h = st.accept(8080)
    assert h != 0
    return p, h


def test_handshake_and_mss_option(st):
    p = Peer(st, isn=0xFFFFFFF0)  # sequence numbers wrap during the test
    sa = p.connect(mss=1460)
    assert sa.has(SYN | ACK) and sa.mss == 1460 and sa.ack == 0xFFFFFFF1
    assert st.state(p.ip, p.port, 8080) == "ESTABLISHED"
    h = st.accept(8080)
    assert h and st.lib.tcp_is_alive(h) and st.accept(8080) == 0
    assert st.stats().conns_opened == 1 and st.in_use() == 1
    p.push(b"x" * 40)                     # crosses 2^32
    assert st.recv(h) == b"x" * 40
    assert p.out()[-1].ack == (0xFFFFFFF1 + 40) & 0xFFFFFFFF


def test_our_mss_follows_mtu_and_peer_mss_is_honoured(st):
    st.lib.fake_ip_set_mtu(1000)
    p, h = established(st, mss=536)
    st.send(h, b"a" * 5000)
    segs = p.out()
    assert segs and max(len(s.data) for s in segs) == 536
    p2 = Peer(st, port=40001)
    sa = p2.connect(mss=8960)
    assert sa.mss == 960
    h2 = st.accept(8080)
    st.send(h2, b"b" * 5000)
    assert max(len(s.data) for s in p2.out()) == 960


def test_missing_mss_option_means_536(st):
    p = Peer(st)
    p.connect(mss=0)
    h = st.accept(8080)
    st.send(h, b"c" * 2000)
    assert max(len(s.data) for s in p.out()) == 536


def test_data_both_ways_with_acks(st):
    p, h = established(st)
    chunks = [bytes([i]) * 1000 for i in range(3)]
    for c in chunks:
        p.push(c)
    acks = p.out()
    assert [a.ack for a in acks] == [(1001 + 1000 * (i + 1)) for i in range(3)]
    assert st.lib.tcp_recv_available(h) == 3000
    assert st.recv(h) == b"".join(chunks)
    # the stack sends 200 kB through a 32 kB send buffer, the peer ACKs what arrives
    payload = bytes(range(256)) * 800
    sent = 0
    for _ in range(10000):
        if sent < len(payload):
            sent += st.send(h, payload[sent:sent + 7000])
        segs = p.take(p.out())
        for s in segs:
            assert len(s.data) <= 1460
        if segs:
            p.send(ACK)
        if len(p.received) == len(payload):
            break
    assert p.received == payload


def test_peer_closes_first(st):
    p, h = established(st)
    p.push(b"request", flags=ACK | PSH | FIN)
    ack = p.out()[-1]
    assert ack.ack == p.snd_nxt
    assert st.state(p.ip, p.port, 8080) == "CLOSE-WAIT"
    assert not st.lib.tcp_peer_closed(h)      # data still unread
    assert st.recv(h) == b"request"
    assert st.lib.tcp_peer_closed(h)
    assert st.send(h, b"response") == 8       # a half-closed connection can still send
    st.close(h)
    segs = p.take(p.out())
    assert p.received == b"response" and segs[-1].has(FIN)
    assert st.state(p.ip, p.port, 8080) == "LAST-ACK"
    p.send(ACK)
    assert st.state(p.ip, p.port, 8080) == "CLOSED" and st.in_use() == 0
    assert not st.lib.tcp_is_alive(h)
    assert st.stats().conns_closed == 1


def test_we_close_first_time_wait_expires(st):
    p, h = established(st)
    st.send(h, b"bye")
    st.close(h)
    segs = p.take(p.out())
    assert p.received == b"bye" and segs[-1].has(FIN)
    assert st.state(p.ip, p.port, 8080) == "FIN-WAIT-1"
    p.send(ACK)
    assert st.state(p.ip, p.port, 8080) == "FIN-WAIT-2"
    p.push(b"", flags=ACK | FIN)
    last = p.out()[-1]
    assert last.has(ACK) and last.ack == p.snd_nxt
    assert st.state(p.ip, p.port, 8080) == "TIME-WAIT"
    st.run_for(2 * MSL_MS * MS - 100 * MS)
    assert st.state(p.ip, p.port, 8080) == "TIME-WAIT"
    # a retransmitted FIN is ACKed again in TIME_WAIT
    p.send(ACK | FIN, seq=p.snd_nxt - 1)
    assert p.out()[-1].ack == p.snd_nxt
    st.run_for(2 * MSL_MS * MS + 100 * MS)
    assert st.state(p.ip, p.port, 8080) == "CLOSED" and st.in_use() == 0


def test_fin_ack_in_one_segment_goes_to_time_wait(st):
    p, h = established(st)
    st.close(h)
    p.take(p.out())
    p.push(b"", flags=ACK | FIN)              # acks our FIN and carries the peer's
    assert st.state(p.ip, p.port, 8080) == "TIME-WAIT"


def test_simultaneous_close(st):
    p, h = established(st)
    st.close(h)
    fin = p.out()[-1]
    assert fin.has(FIN)
    # the peer's FIN crosses ours: it does not acknowledge our FIN
    p.send(ACK | FIN, ack=fin.seq)
    p.snd_nxt += 1
    assert st.state(p.ip, p.port, 8080) == "CLOSING"
    assert p.out()[-1].ack == p.snd_nxt
    p.send(ACK, ack=fin.seq + 1)
    assert st.state(p.ip, p.port, 8080) == "TIME-WAIT"
    st.run_for(2 * MSL_MS * MS + 50 * MS, step=100 * MS)
    assert st.in_use() == 0


def test_fin_wait_2_times_out(st):
    p, h = established(st)
    st.close(h)
    p.take(p.out())
    p.send(ACK)
    assert st.state(p.ip, p.port, 8080) == "FIN-WAIT-2"
    st.run_for(31_000 * MS, step=500 * MS)
    assert st.in_use() == 0


def reach(st, state):
    """A connection in the given state; returns (peer, handle)."""
    p = Peer(st)
    if state == "SYN-RECEIVED":
        p.send(SYN, seq=p.isn, ack=0)
        sa = p.out()[0]
        p.snd_nxt = p.isn + 1
        p.rcv_nxt = sa.seq + 1
        return p, 0
    p.connect()
    h = st.accept(8080)
    if state == "ESTABLISHED":
        return p, h
    if state in ("CLOSE-WAIT", "LAST-ACK"):
        p.push(b"", flags=ACK | FIN)
        p.out()
        if state == "LAST-ACK":
            st.close(h)
            p.out()
        return p, h
    st.close(h)
    fin = p.out()[-1]
    if state == "FIN-WAIT-1":
        return p, h
    if state == "CLOSING":
        p.send(ACK | FIN, ack=fin.seq)
        p.snd_nxt += 1
        p.out()
        return p, h
    p.rcv_nxt = fin.seq + 1
    p.send(ACK)
    if state == "TIME-WAIT":
        p.push(b"", flags=ACK | FIN)
        p.out()
    return p, h


ALL = ["SYN-RECEIVED", "ESTABLISHED", "CLOSE-WAIT", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSING", "LAST-ACK",
       "TIME-WAIT"]


@pytest.mark.parametrize("state", ALL)
def test_rst_in_each_state(st, state):
    p, h = reach(st, state)
    assert st.state(p.ip, p.port, 8080) == state
    # out of window: ignored silently
    p.send(RST, seq=p.snd_nxt + 1_000_000)
    assert p.out() == [] and st.state(p.ip, p.port, 8080) == state
    # in window but not exact: challenge ACK (RFC 5961 3.2), state kept
    p.send(RST, seq=p.snd_nxt + 10)
    ch = p.out()
    assert len(ch) == 1 and ch[0].has(ACK) and not ch[0].has(RST) and ch[0].ack == p.snd_nxt
    assert st.state(p.ip, p.port, 8080) == state
    # exact: the connection is gone and its slot free
    p.send(RST, seq=p.snd_nxt)
    assert p.out() == []
    assert st.state(p.ip, p.port, 8080) == "CLOSED" and st.in_use() == 0
    assert st.stats().resets_in == 1
    if h:
        assert not st.lib.tcp_is_alive(h) and st.recv(h) == b"" and st.send(h, b"x") == 0


@pytest.mark.parametrize("state", ["ESTABLISHED", "CLOSE-WAIT", "FIN-WAIT-2"])
def test_syn_in_synchronized_state_gets_challenge_ack(st, state):
    p, h = reach(st, state)
    p.send(SYN, seq=p.snd_nxt + 5, ack=0)
    ch = p.out()
    assert len(ch) == 1 and ch[0].has(ACK) and not ch[0].has(SYN | RST) and ch[0].ack == p.snd_nxt
    assert st.state(p.ip, p.port, 8080) == state


def test_retransmitted_syn_gets_synack_again(st):
    p = Peer(st)
    p.send(SYN, seq=p.isn, ack=0)
    a = p.out()
    p.send(SYN, seq=p.isn, ack=0)
    b = p.out()
    assert len(b) == 1 and b[0].has(SYN | ACK) and b[0].seq == a[0].seq
    assert st.in_use() == 1


def test_bad_ack_in_syn_received_gets_rst(st):
    p, _ = reach(st, "SYN-RECEIVED")
    p.send(ACK, ack=p.rcv_nxt + 5000)
    r = p.out()
    assert len(r) == 1 and r[0].has(RST) and r[0].seq == p.rcv_nxt + 5000
    assert st.state(p.ip, p.port, 8080) == "SYN-RECEIVED"


def test_closed_port_and_listen_port_resets(st):
    p = Peer(st, lport=9999)
    p.send(SYN, seq=500, ack=0, data=b"abc")
    r = p.out()
    assert len(r) == 1 and r[0].has(RST | ACK) and r[0].seq == 0 and r[0].ack == 504
    p.send(ACK, seq=500, ack=777)
    r = p.out()
    assert len(r) == 1 and r[0].flags == RST and r[0].seq == 777
    p.send(RST, seq=500, ack=0)
    assert p.out() == []
    q = Peer(st, port=41000)                  # LISTEN port: an ACK gets a reset, a bare FIN is dropped
    q.send(ACK, seq=1, ack=4242)
    r = q.out()
    assert r[0].flags == RST and r[0].seq == 4242
    q.send(FIN, seq=1, ack=0)
    assert q.out() == [] and st.in_use() == 0


def test_unacceptable_segment_gets_ack_and_old_ack_is_ignored(st):
    p, h = established(st)
    p.send(ACK | PSH, data=b"zz", seq=p.snd_nxt + 100_000)
    r = p.out()
    assert len(r) == 1 and r[0].ack == p.snd_nxt
    assert st.lib.tcp_recv_available(h) == 0
    p.send(ACK, ack=p.rcv_nxt + 1_000)       # acknowledges data never sent: ACK back, drop
    assert p.out()[0].ack == p.snd_nxt and st.state(p.ip, p.port, 8080) == "ESTABLISHED"


def test_64_connections_then_one_refused(st):
    peers = []
    for i in range(64):
        p = Peer(st, port=20000 + i, isn=i * 7919)
        p.connect()
        peers.append((p, st.accept(8080)))
    assert st.in_use() == 64 and len({h for _, h in peers}) == 64
    extra = Peer(st, port=30000)
    r = extra.connect(expect_ok=False)
    assert len(r) == 1 and r[0].has(RST | ACK) and r[0].ack == extra.isn + 1
    assert st.stats().conns_dropped_no_slot == 1 and st.in_use() == 64
    # every connection still works
    for p, h in peers:
        p.push(b"hi")
        assert st.recv(h) == b"hi"
    for p, h in peers:
        st.close(h)
        p.take(p.out())
        p.push(b"", flags=ACK | FIN)
    assert st.in_use() == 64                  # all in TIME_WAIT
    # a new SYN recycles the oldest TIME_WAIT slot
    extra.connect()
    assert st.state(extra.ip, extra.port, 8080) == "ESTABLISHED" and st.in_use() == 64
    st.run_for(2 * MSL_MS * MS + 100 * MS, step=200 * MS)
    assert st.in_use() == 1


def test_stale_handle_after_slot_reuse(st):
    p, h = established(st)
    st.abort(h)
    r = p.out()
    assert len(r) == 1 and r[0].has(RST) and r[0].seq == p.rcv_nxt
    assert st.in_use() == 0
    q, h2 = established(st, port=40002)
    assert h2 != h
    assert not st.lib.tcp_is_alive(h) and st.lib.tcp_peer_closed(h)
    assert st.send(h, b"nope") == 0 and st.recv(h) == b"" and st.lib.tcp_send_space(h) == 0
    st.close(h)
    st.abort(h)
    assert st.lib.tcp_is_alive(h2)
    for bogus in (0, 0xFFFFFFFF, 65, 0x1000 | 64):
        assert not st.lib.tcp_is_alive(bogus) and st.send(bogus, b"x") == 0


def test_synack_retransmitted_with_backoff_then_dropped(st):
    p = Peer(st)
    p.send(SYN, seq=p.isn, ack=0)
    first = p.out()[0]
    t0 = st.now
    times = [t - t0 for t, s in st.run_for(70_000 * MS, step=20 * MS) if s.has(SYN | ACK) and s.seq == first.seq]
    # initial RTO 1 s, doubled each time, CLLM_TCP_SYN_RETRIES = 5 retransmissions
    expect = [1000, 3000, 7000, 15000, 31000]
    assert len(times) == 5
    for got, want in zip(times, expect):
        assert abs(got / MS - want) <= 25
    assert st.in_use() == 0


def test_malformed_segments_are_counted_and_dropped(st):
    p, h = established(st)
    good = encode(p.ip, LOCAL_IP, p.port, 8080, p.snd_nxt, p.rcv_nxt, ACK, 1000, b"data")
    cases = [
        good[:19],                                                # short
        good[:12] + bytes([0x40]) + good[13:],                    # data offset 4 < 5
        good[:12] + bytes([0xF0]) + good[13:],                    # data offset 60 > length
        encode(p.ip, LOCAL_IP, p.port, 8080, p.snd_nxt, p.rcv_nxt, ACK, 1000, b"data", bad_csum=True),
        encode(p.ip, LOCAL_IP, p.port, 8080, p.snd_nxt, p.rcv_nxt, ACK, 1000, b"d", options=b"\x02\x09\x00\x00"),
        encode(p.ip, LOCAL_IP, p.port, 8080, p.snd_nxt, p.rcv_nxt, ACK, 1000, b"d", options=b"\x01\x01\x01\x02"),
        b"",
    ]
    before = st.stats().bad_segs
    for c in cases:
        st.inject(c, p.ip)
    # a segment to a broadcast address
    st.inject(encode(p.ip, 0xFFFFFFFF, p.port, 8080, 1, 0, SYN), p.ip, 0xFFFFFFFF)
    assert st.stats().bad_segs - before == len(cases) + 1
    assert p.out() == [] and st.lib.tcp_recv_available(h) == 0
    st.inject(good, p.ip)
    assert st.recv(h) == b"data"


def test_options_window_scale_ignored_sack_permitted_answered(st):
    p = Peer(st)
    opts = struct.pack("!BBH", 2, 4, 1200) + b"\x01\x03\x03\x07" + b"\x04\x02\x01\x01"
    p.send(SYN, seq=p.isn, ack=0, options=opts)
    sa = p.out()[0]
    # we never offer window scaling, so the peer must not scale; SACK-permitted is answered (RFC 2018)
    assert sa.options == struct.pack("!BBH", 2, 4, 1460) + b"\x01\x01\x04\x02"
    p.snd_nxt = p.isn + 1
    p.rcv_nxt = sa.seq + 1
    p.send(ACK)
    h = st.accept(8080)
    st.send(h, b"q" * 3000)
    assert max(len(s.data) for s in p.out()) == 1200


def test_time_wait_pair_reopened_by_newer_syn(st):
    p, _ = reach(st, "TIME-WAIT")
    q = Peer(st, port=p.port, isn=p.snd_nxt + 100_000)
    q.connect()
    assert st.state(p.ip, p.port, 8080) == "ESTABLISHED" and st.in_use() == 1


def test_data_after_app_close_is_acked_and_dropped(st):
    p, h = established(st)
    p.push(b"unread")
    p.out()
    st.close(h)
    fin = p.out()[-1]
    assert fin.has(FIN)
    p.rcv_nxt = fin.seq + 1
    p.push(b"more data")
    assert p.out()[-1].ack == p.snd_nxt
    assert st.recv(h) == b""


def test_isn_rfc6528_properties(st):
    """ISN = 4 us clock + keyed hash of the 4-tuple: the same pair one second later is 250000 further on;
    other pairs are unrelated (spread over the whole space)."""
    def isn(port, ip=0x0A000001):
        p = Peer(st, ip=ip, port=port, isn=1)
        p.send(SYN, seq=1, ack=0)
        sa = p.out()[0]
        p.send(RST, seq=2)                       # reset it again (exact RCV.NXT), freeing the slot
        return sa.seq
    a = isn(50000)
    st.advance(1000 * MS)
    b = isn(50000)
    assert (b - a) & 0xFFFFFFFF == 250_000
    others = [isn(50001 + i) for i in range(64)] + [isn(50000, ip=0x0A000001 + i) for i in range(1, 33)]
    assert len(set(others)) == len(others)
    assert max(others) - min(others) > 1 << 31  # not clustered near the clock term
    assert st.in_use() == 0


def test_syn_flood_evicts_oldest_half_open_connection(st):
    flood = []
    for i in range(64):
        p = Peer(st, ip=0x0B000000 + i, port=1024 + i)
        p.send(SYN, seq=i, ack=0)
        p.out()
        flood.append(p)
        st.advance(1 * MS)
    assert st.in_use() == 64
    legit = Peer(st, port=44444)
    legit.send(SYN, seq=legit.isn, ack=0)
    out = st.output()
    rst = [s for s in out if s.dst == flood[0].ip]
    assert len(rst) == 1 and rst[0].has(RST)     # the oldest half-open one is reset to make room
    sa = [s for s in out if s.dport == legit.port]
    assert len(sa) == 1 and sa[0].has(SYN | ACK)
    legit.snd_nxt, legit.rcv_nxt = legit.isn + 1, sa[0].seq + 1
    legit.send(ACK)
    assert st.state(legit.ip, legit.port, 8080) == "ESTABLISHED"
    assert st.state(flood[0].ip, flood[0].port, 8080) == "CLOSED"
    assert st.state(flood[1].ip, flood[1].port, 8080) == "SYN-RECEIVED"
    st.run_for(70_000 * MS, step=500 * MS)      # the half-open ones give up after their SYN-ACK retries
    assert st.in_use() == 1


def test_backlog_limit():
    from tcplib import build_lib
    st = Stack(build_lib(name="libtcphost_backlog4.so", defines=["-DCLLM_TCP_BACKLOG=4"]))
    st.listen(8080)
    peers = [Peer(st, port=21000 + i) for i in range(5)]
    for p in peers[:4]:
        p.connect()
    r = peers[4].connect(expect_ok=False)
    assert len(r) == 1 and r[0].has(RST | ACK)
    assert st.stats().conns_dropped_no_slot == 1
    assert st.accept(8080)                       # accepting makes room in the backlog
    peers[4].connect()
    assert st.in_use() == 5 and st.invariants() == 0
