"""The network stack below TCP (kernel/net: Ethernet, ARP, IPv4, ICMP, UDP, DHCP) built for the host with a fake
NIC (tests/host/net/fake_nic.c) and driven with frames built by an independent reference (struct, RFC layouts,
tests/host/net/nethost.py). What the stack sends is parsed back with the same reference."""
import ctypes
import random
import struct
import sys
import pathlib

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent / "host" / "net"))
import nethost as nh  # noqa: E402

MY_MAC = nh.mac2b("52:54:00:12:34:56")
GW_MAC = nh.mac2b("52:55:0a:00:02:02")
PEER_MAC = nh.mac2b("02:00:00:00:00:07")
BCAST = b"\xff" * 6
ME, GW, PEER, FAR = "10.0.2.15", "10.0.2.2", "10.0.2.7", "93.184.216.34"


@pytest.fixture(scope="module")
def lib_path():
    return nh.build_lib()


@pytest.fixture
def st(lib_path):
    s = nh.Stack(lib_path)
    s.set_time(1_000_000_000)
    s.attach(MY_MAC)
    s.lib.net_config_static(nh.ip2i(ME), nh.ip2i("255.255.255.0"), nh.ip2i(GW))
    check_announce_and_probe(s, s.tx())  # gratuitous ARP, gateway resolved and probed: the stack is quiet now
    return s


def learn(st, ip, mac):
    """Teach the stack a neighbour the RFC 826 way: a request from it aimed at us."""
    st.rx(nh.eth(BCAST, mac, 0x0806, nh.arp(1, mac, ip, b"\0" * 6, ME)))
    st.poll()
    st.tx()


def check_announce_and_probe(s, frames):
    """What a newly configured address sends (net_address_up): a gratuitous ARP (RFC 5227 2.3: request, sender
    and target our address), then an ARP request for the gateway; once the gateway answers, one ICMP echo request
    to it (RFC 792, checksum checked here independently)."""
    assert len(frames) == 2, frames
    dst, src, et, p = nh.parse_eth(frames[0])
    assert (dst, src, et) == (BCAST, MY_MAC, 0x0806)
    op, sha, spa, tpa = struct.unpack("!6xH6s4s6x4s", p[:28])
    assert (op, sha, spa, tpa) == (1, MY_MAC, nh.ip2b(ME), nh.ip2b(ME))
    dst, src, et, p = nh.parse_eth(frames[1])
    assert (dst, src, et) == (BCAST, MY_MAC, 0x0806)
    op, sha, spa, tpa = struct.unpack("!6xH6s4s6x4s", p[:28])
    assert (op, sha, spa, tpa) == (1, MY_MAC, nh.ip2b(ME), nh.ip2b(GW))
    s.rx(nh.eth(MY_MAC, GW_MAC, 0x0806, nh.arp(2, GW_MAC, GW, MY_MAC, ME)))
    s.poll()
    (f,) = s.tx()
    dst, src, et, p = nh.parse_eth(f)
    assert (dst, src, et) == (GW_MAC, MY_MAC, 0x0800)
    ip = nh.parse_ipv4(p)
    assert ip["csum_ok"] and ip["proto"] == 1 and (ip["src"], ip["dst"]) == (ME, GW)
    icmp = ip["payload"]
    assert icmp[0] == 8 and icmp[1] == 0  # echo request
    total = sum(struct.unpack(f"!{len(icmp) // 2}H", icmp[:len(icmp) // 2 * 2]))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    assert total == 0xFFFF  # the ones'-complement sum over the message, checksum included
    assert s.stats().gateway_probes == 1


def test_static_config_announces(lib_path):
    s = nh.Stack(lib_path)
    s.attach(MY_MAC)
    s.lib.net_config_static(nh.ip2i(ME), nh.ip2i("255.255.255.0"), nh.ip2i(GW))
    check_announce_and_probe(s, s.tx())
    assert s.lib.net_local_ip() == nh.ip2i(ME)


def test_static_config_without_gateway_only_announces(lib_path):
    s = nh.Stack(lib_path)
    s.attach(MY_MAC)
    s.lib.net_config_static(nh.ip2i(ME), nh.ip2i("255.255.255.0"), 0)
    frames = s.tx()
    assert len(frames) == 1 and nh.parse_eth(frames[0])[2] == 0x0806
    assert s.stats().gateway_probes == 0


def test_arp_reply_to_request(st):
    st.rx(nh.eth(BCAST, PEER_MAC, 0x0806, nh.arp(1, PEER_MAC, PEER, b"\0" * 6, ME) + b"\0" * 18))
    assert st.poll()
    (f,) = st.tx()
    dst, src, et, p = nh.parse_eth(f)
    assert (dst, src, et) == (PEER_MAC, MY_MAC, 0x0806)
    assert p[:28] == nh.arp(2, MY_MAC, ME, PEER_MAC, PEER)
    mac = ctypes.create_string_buffer(6)
    assert st.lib.arp_lookup(nh.ip2i(PEER), mac) == 0 and mac.raw == PEER_MAC
    assert st.stats().arp_replies_out == 1


def test_arp_request_for_other_host_ignored(st):
    st.rx(nh.eth(BCAST, PEER_MAC, 0x0806, nh.arp(1, PEER_MAC, PEER, b"\0" * 6, "10.0.2.99")))
    st.poll()
    assert st.tx() == []
    mac = ctypes.create_string_buffer(6)
    assert st.lib.arp_lookup(nh.ip2i(PEER), mac) == -1  # not aimed at us: not learned (RFC 826)


def test_arp_resolution_queue_and_flush(st):
    payloads = [b"seg%d" % i for i in range(3)]
    for p in payloads:
        assert st.lib.ipv4_output(nh.ip2i(PEER), 6, p, len(p)) == 0  # queued
    (req,) = st.tx()
    dst, src, et, p = nh.parse_eth(req)
    assert (dst, et) == (BCAST, 0x0806)
    assert p[:28] == nh.arp(1, MY_MAC, ME, b"\0" * 6, PEER)
    st.rx(nh.eth(MY_MAC, PEER_MAC, 0x0806, nh.arp(2, PEER_MAC, PEER, MY_MAC, ME)))
    st.poll()
    out = st.tx()
    assert len(out) == 3
    for f, want in zip(out, payloads):
        dst, src, et, p = nh.parse_eth(f)
        assert (dst, src, et) == (PEER_MAC, MY_MAC, 0x0800)
        ip = nh.parse_ipv4(p)
        assert ip["csum_ok"] and ip["proto"] == 6 and ip["payload"] == want
        assert (ip["src"], ip["dst"], ip["ttl"]) == (ME, PEER, 64)


def test_arp_queue_bounded_and_timeout(st):
    limit = 8  # CLLM_ARP_QUEUE
    before = st.stats().arp_requests_out
    results = [st.lib.ipv4_output(nh.ip2i(PEER), 17, b"x", 1) for _ in range(limit + 5)]
    assert results.count(0) == limit and results.count(-1) == 5
    assert len(st.tx()) == 1  # one request, not one per packet
    for i in range(2):  # retransmitted once per second
        st.advance(1.01)
        st.poll()
        (f,) = st.tx()
        assert nh.parse_eth(f)[2] == 0x0806
    st.advance(1.01)
    st.poll()
    assert st.tx() == []
    s = st.stats()
    assert s.arp_timeouts == 1 and s.arp_queue_drops == 5 + limit
    assert s.arp_requests_out - before == 3


def test_arp_entry_expires(st):
    learn(st, PEER, PEER_MAC)
    mac = ctypes.create_string_buffer(6)
    assert st.lib.arp_lookup(nh.ip2i(PEER), mac) == 0
    st.advance(301)
    st.poll()
    assert st.lib.arp_lookup(nh.ip2i(PEER), mac) == -1


def test_offlink_goes_to_gateway(st):
    learn(st, GW, GW_MAC)
    assert st.lib.ipv4_output(nh.ip2i(FAR), 17, b"hello", 5) == 0
    (f,) = st.tx()
    dst, src, et, p = nh.parse_eth(f)
    assert dst == GW_MAC and nh.parse_ipv4(p)["dst"] == FAR


def test_icmp_echo_reply(st):
    learn(st, PEER, PEER_MAC)
    data = bytes(range(56))
    st.rx(nh.eth(MY_MAC, PEER_MAC, 0x0800, nh.ipv4(PEER, ME, 1, nh.icmp_echo(8, 0x1234, 7, data))))
    st.poll()
    (f,) = st.tx()
    dst, src, et, p = nh.parse_eth(f)
    assert (dst, src, et) == (PEER_MAC, MY_MAC, 0x0800)
    ip = nh.parse_ipv4(p)
    assert ip["csum_ok"] and (ip["src"], ip["dst"], ip["proto"]) == (ME, PEER, 1)
    assert ip["payload"] == nh.icmp_echo(0, 0x1234, 7, data)
    assert st.stats().icmp_echo_replies == 1


def test_icmp_echo_with_ip_options_and_padding(st):
    learn(st, PEER, PEER_MAC)
    opts = bytes([1, 1, 1, 0])  # NOP NOP NOP EOL
    pkt = nh.ipv4(PEER, ME, 1, nh.icmp_echo(8, 1, 1, b"abc"), options=opts)
    st.rx(nh.eth(MY_MAC, PEER_MAC, 0x0800, pkt + b"\0" * 20))  # Ethernet padding after total_len
    st.poll()
    (f,) = st.tx()
    assert nh.parse_ipv4(nh.parse_eth(f)[3])["payload"] == nh.icmp_echo(0, 1, 1, b"abc")


def test_icmp_bad_checksum_and_broadcast_not_answered(st):
    learn(st, PEER, PEER_MAC)
    bad = bytearray(nh.icmp_echo(8, 1, 1, b"abc"))
    bad[-1] ^= 1
    st.rx(nh.eth(MY_MAC, PEER_MAC, 0x0800, nh.ipv4(PEER, ME, 1, bytes(bad))))
    st.rx(nh.eth(BCAST, PEER_MAC, 0x0800, nh.ipv4(PEER, "255.255.255.255", 1, nh.icmp_echo(8, 1, 1, b"a"))))
    st.poll()
    assert st.tx() == []
    assert st.stats().icmp_bad == 1


@pytest.mark.parametrize("kind", ["bad_csum", "fragment_mf", "fragment_offset", "version6", "short_ihl",
                                  "truncated", "not_for_us", "unknown_proto", "runt_frame", "multicast_mac",
                                  "ethertype"])
def test_bad_frames_dropped_and_counted(st, kind):
    learn(st, PEER, PEER_MAC)
    before = st.stats()
    echo = nh.icmp_echo(8, 1, 1, b"ping")
    pkt = nh.ipv4(PEER, ME, 1, echo)
    dst = MY_MAC
    etype = 0x0800
    field = None
    if kind == "bad_csum":
        pkt, field = nh.ipv4(PEER, ME, 1, echo, bad_csum=True), "ip_bad_checksum"
    elif kind == "fragment_mf":
        pkt, field = nh.ipv4(PEER, ME, 1, echo, frag=0x2000), "ip_fragments_dropped"
    elif kind == "fragment_offset":
        pkt, field = nh.ipv4(PEER, ME, 1, echo, frag=0x0010), "ip_fragments_dropped"
    elif kind == "version6":
        pkt, field = bytes([0x65]) + pkt[1:], "ip_bad_header"
    elif kind == "short_ihl":
        hdr = bytearray(pkt)
        hdr[0] = 0x44
        pkt, field = bytes(hdr), "ip_bad_header"
    elif kind == "truncated":
        pkt, field = pkt[:-3], "ip_bad_header"
    elif kind == "not_for_us":
        pkt, field = nh.ipv4(PEER, "10.0.2.99", 1, echo), "ip_not_for_us"
    elif kind == "unknown_proto":
        pkt, field = nh.ipv4(PEER, ME, 99, echo), "ip_bad_proto"
    elif kind == "multicast_mac":
        dst, field = nh.mac2b("01:00:5e:00:00:01"), "drop_not_for_us"
    elif kind == "ethertype":
        etype, field = 0x86DD, "drop_ethertype"
    frame = nh.eth(dst, PEER_MAC, etype, pkt)
    if kind == "runt_frame":
        frame, field = frame[:10], "drop_short"
    st.rx(frame)
    st.poll()
    assert st.tx() == []
    after = st.stats()
    assert getattr(after, field) == getattr(before, field) + 1
    assert after.icmp_echo_replies == before.icmp_echo_replies


def test_tcp_dispatch_and_output(st):
    learn(st, PEER, PEER_MAC)
    seg = bytes(range(40))
    st.rx(nh.eth(MY_MAC, PEER_MAC, 0x0800, nh.ipv4(PEER, ME, 6, seg)))
    st.poll()
    assert st.lib.tcp_stub_inputs() == 1
    assert st.lib.tcp_stub_src() == nh.ip2i(PEER) and st.lib.tcp_stub_dst() == nh.ip2i(ME)
    buf = ctypes.create_string_buffer(1500)
    assert st.lib.tcp_stub_seg(buf, 1500) == 40 and buf.raw[:40] == seg
    # broadcast TCP never reaches TCP
    st.rx(nh.eth(BCAST, PEER_MAC, 0x0800, nh.ipv4(PEER, "255.255.255.255", 6, seg)))
    st.poll()
    assert st.lib.tcp_stub_inputs() == 1
    assert st.lib.tcp_stub_polls() >= 2
    # too long for the MTU: refused, counted
    big = b"x" * 1481
    assert st.lib.ipv4_output(nh.ip2i(PEER), 6, big, len(big)) < 0
    ok = b"y" * 1480
    assert st.lib.ipv4_output(nh.ip2i(PEER), 6, ok, len(ok)) == 0
    (f,) = st.tx()
    assert len(f) == 1514


def test_udp_checksum_checked(st):
    learn(st, PEER, PEER_MAC)
    good = nh.udp(PEER, ME, 5000, 9999, b"data")
    bad = bytearray(good)
    bad[-1] ^= 0xFF
    st.rx(nh.eth(MY_MAC, PEER_MAC, 0x0800, nh.ipv4(PEER, ME, 17, good)))
    st.rx(nh.eth(MY_MAC, PEER_MAC, 0x0800, nh.ipv4(PEER, ME, 17, bytes(bad))))
    st.rx(nh.eth(MY_MAC, PEER_MAC, 0x0800, nh.ipv4(PEER, ME, 17, nh.udp(PEER, ME, 1, 2, b"z", zero_csum=True))))
    st.poll()
    s = st.stats()
    assert s.udp_in == 3 and s.udp_bad_checksum == 1 and s.udp_no_port == 2


def test_tx_batched_in_poll(st):
    """Frames sent while net_poll runs reach the NIC with one flush (one tail-register write)."""
    learn(st, PEER, PEER_MAC)
    for i in range(10):
        st.rx(nh.eth(MY_MAC, PEER_MAC, 0x0800, nh.ipv4(PEER, ME, 1, nh.icmp_echo(8, 1, i, b"x"))))
    f0 = st.lib.fake_nic_flushes()
    st.poll()
    assert len(st.tx()) == 10
    assert st.lib.fake_nic_flushes() == f0 + 1
    # outside net_poll each send is flushed at once
    st.lib.ipv4_output(nh.ip2i(PEER), 17, b"a", 1)
    assert st.lib.fake_nic_unflushed() == 0


def test_tx_ring_full_counted(st):
    learn(st, PEER, PEER_MAC)
    st.lib.fake_nic_set_tx_full(1)
    assert st.lib.ipv4_output(nh.ip2i(PEER), 17, b"a", 1) < 0
    st.lib.fake_nic_set_tx_full(0)
    assert st.stats().drop_tx_full == 1


def test_idle_poll_reports_no_work(st):
    st.poll()
    st.tx()
    assert not st.poll()


# ---- DHCP ----

def dhcp_frames(st):
    out = []
    for f in st.tx():
        dst, src, et, p = nh.parse_eth(f)
        if et != 0x0800:
            continue
        ip = nh.parse_ipv4(p)
        assert ip["csum_ok"] and ip["proto"] == 17
        sport, dport, length, c = struct.unpack("!HHHH", ip["payload"][:8])
        assert (sport, dport) == (68, 67)
        assert nh.udp(ip["src"], ip["dst"], 68, 67, ip["payload"][8:length]) == ip["payload"][:length]
        out.append((dst, ip, nh.parse_dhcp(ip["payload"][8:length])))
    return out


def server_send(st, msg, dst_ip="255.255.255.255", dst_mac=BCAST):
    st.rx(nh.eth(dst_mac, GW_MAC, 0x0800, nh.ipv4(GW, dst_ip, 17, nh.udp(GW, dst_ip, 67, 68, msg))))
    st.poll()


@pytest.fixture
def dhcp(lib_path):
    s = nh.Stack(lib_path)
    s.set_time(5_000_000_000)
    s.attach(MY_MAC)
    s.lib.net_config_dhcp()
    return s


def test_dhcp_full_exchange(dhcp):
    st = dhcp
    ((dst, ip, disc),) = dhcp_frames(st)
    assert dst == BCAST and (ip["src"], ip["dst"]) == ("0.0.0.0", "255.255.255.255")
    assert disc["op"] == 1 and disc["htype"] == 1 and disc["hlen"] == 6 and disc["chaddr"] == MY_MAC
    assert disc["opts"][53] == b"\x01" and disc["length"] >= 300
    assert 1 in disc["opts"][55] and 3 in disc["opts"][55]
    # an offer with the wrong xid is ignored
    server_send(st, nh.dhcp_reply(2, disc["xid"] ^ 1, ME, MY_MAC))
    assert dhcp_frames(st) == []
    server_send(st, nh.dhcp_reply(2, disc["xid"], ME, MY_MAC))
    ((dst, ip, req),) = dhcp_frames(st)
    assert req["opts"][53] == b"\x03" and req["xid"] == disc["xid"]
    assert req["opts"][50] == nh.ip2b(ME) and req["opts"][54] == nh.ip2b(GW)
    assert ip["src"] == "0.0.0.0" and req["ciaddr"] == "0.0.0.0"
    assert st.lib.net_local_ip() == 0
    server_send(st, nh.dhcp_reply(5, disc["xid"], ME, MY_MAC, lease=600))  # unicast-to-MAC ACK also fine
    assert st.lib.net_local_ip() == nh.ip2i(ME)
    check_announce_and_probe(st, st.tx())  # the new lease is announced and the gateway probed
    assert st.lib.net_gateway() == nh.ip2i(GW) and st.lib.net_netmask() == nh.ip2i("255.255.255.0")
    assert st.lib.dhcp_get_state() == 3  # BOUND
    # renewal at T1 = 300 s: unicast REQUEST with ciaddr, to the server (via ARP for it)
    st.advance(299)
    st.poll()
    assert dhcp_frames(st) == []
    st.advance(2)
    st.poll()
    frames = st.tx()
    assert len(frames) == 1 and nh.parse_eth(frames[0])[2] == 0x0806  # ARP for the server
    st.rx(nh.eth(MY_MAC, GW_MAC, 0x0806, nh.arp(2, GW_MAC, GW, MY_MAC, ME)))
    st.poll()
    ((dst, ip, ren),) = dhcp_frames(st)
    assert dst == GW_MAC and (ip["src"], ip["dst"]) == (ME, GW)
    assert ren["opts"][53] == b"\x03" and ren["ciaddr"] == ME and 50 not in ren["opts"]
    server_send(st, nh.dhcp_reply(5, ren["xid"], ME, MY_MAC, lease=600), dst_ip=ME, dst_mac=MY_MAC)
    assert st.lib.dhcp_get_state() == 3
    assert st.stats().dhcp_leases == 2


def test_dhcp_holds_datagrams_until_bound(dhcp):
    """Before the lease is bound, datagrams that reach us are kept, not dropped (QEMU's slirp sends a forwarded
    SYN as soon as it has seen our DISCOVER), and nothing answers them (RFC 2131: the address is not ours yet);
    once bound, those for the bound address are delivered: here a ping from the gateway that came before the
    OFFER and one between OFFER and ACK are answered after the ACK, one for another address is not."""
    st = dhcp
    ((dst, ip, disc),) = dhcp_frames(st)
    data = b"held ping"
    st.rx(nh.eth(MY_MAC, GW_MAC, 0x0800, nh.ipv4(GW, ME, 1, nh.icmp_echo(8, 0x77, 1, data))))
    st.rx(nh.eth(MY_MAC, GW_MAC, 0x0800, nh.ipv4(GW, "10.0.2.99", 1, nh.icmp_echo(8, 0x77, 9, data))))
    st.poll()
    server_send(st, nh.dhcp_reply(2, disc["xid"], ME, MY_MAC))
    ((dst, ip, req),) = dhcp_frames(st)
    st.rx(nh.eth(MY_MAC, GW_MAC, 0x0800, nh.ipv4(GW, ME, 1, nh.icmp_echo(8, 0x77, 2, data))))
    st.poll()
    assert st.tx() == [] and st.stats().ip_held == 3 and st.stats().icmp_in == 0
    server_send(st, nh.dhcp_reply(5, disc["xid"], ME, MY_MAC, lease=600))
    assert st.lib.net_local_ip() == nh.ip2i(ME)
    frames = st.tx()
    assert [nh.parse_eth(f)[2] for f in frames] == [0x0806, 0x0806]  # announce, ARP for the gateway
    st.rx(nh.eth(MY_MAC, GW_MAC, 0x0806, nh.arp(2, GW_MAC, GW, MY_MAC, ME)))
    st.poll()
    icmp = [nh.parse_ipv4(nh.parse_eth(f)[3])["payload"] for f in st.tx()]
    replies = sorted(m for m in icmp if m[0] == 0)
    assert replies == sorted([nh.icmp_echo(0, 0x77, 1, data), nh.icmp_echo(0, 0x77, 2, data)])
    assert [m[0] for m in icmp].count(8) == 1  # and the gateway probe
    assert st.stats().icmp_echo_replies == 2


def test_dhcp_held_datagrams_dropped_on_restart(dhcp):
    st = dhcp
    ((dst, ip, disc),) = dhcp_frames(st)
    server_send(st, nh.dhcp_reply(2, disc["xid"], ME, MY_MAC))
    dhcp_frames(st)
    for i in range(6):  # at most a few are kept
        st.rx(nh.eth(MY_MAC, GW_MAC, 0x0800, nh.ipv4(GW, ME, 1, nh.icmp_echo(8, 1, i, b"x"))))
    st.poll()
    assert st.stats().ip_held == 4 and st.stats().ip_not_for_us == 2
    server_send(st, nh.dhcp_reply(6, disc["xid"], ME, MY_MAC))  # NAK: start over
    assert st.lib.dhcp_get_state() == 1
    server_send(st, nh.dhcp_reply(2, disc["xid"], ME, MY_MAC))
    server_send(st, nh.dhcp_reply(5, disc["xid"], ME, MY_MAC, lease=600))
    st.rx(nh.eth(MY_MAC, GW_MAC, 0x0806, nh.arp(2, GW_MAC, GW, MY_MAC, ME)))
    st.poll()
    assert st.stats().icmp_echo_replies == 0  # what was held before the NAK is gone


def test_dhcp_discover_backoff(dhcp):
    st = dhcp
    times = [st.now]
    assert len(dhcp_frames(st)) == 1
    xids = set()
    t_end = st.now + int(70e9)
    while st.now < t_end:
        st.advance(0.05)
        st.poll()
        for _, _, m in dhcp_frames(st):
            assert m["opts"][53] == b"\x01"
            xids.add(m["xid"])
            times.append(st.now)
    gaps = [round((b - a) / 1e9) for a, b in zip(times, times[1:])]
    assert gaps[:6] == [1, 2, 4, 8, 16, 32] and all(g == 32 for g in gaps[6:])
    assert len(xids) == 1  # retransmissions of one transaction: a late offer still matches


def test_dhcp_nak_restarts(dhcp):
    st = dhcp
    ((_, _, disc),) = dhcp_frames(st)
    server_send(st, nh.dhcp_reply(2, disc["xid"], ME, MY_MAC))
    ((_, _, req),) = dhcp_frames(st)
    server_send(st, nh.dhcp_reply(6, req["xid"], "0.0.0.0", MY_MAC))
    ((_, _, disc2),) = dhcp_frames(st)
    assert disc2["opts"][53] == b"\x01"
    assert st.lib.net_local_ip() == 0 and st.stats().dhcp_naks == 1


def test_dhcp_request_retries_then_restarts(dhcp):
    st = dhcp
    ((_, _, disc),) = dhcp_frames(st)
    server_send(st, nh.dhcp_reply(2, disc["xid"], ME, MY_MAC))
    kinds = [m["opts"][53] for _, _, m in dhcp_frames(st)]
    for _ in range(40):
        st.advance(1)
        st.poll()
        kinds += [m["opts"][53] for _, _, m in dhcp_frames(st)]
    assert kinds[:4] == [b"\x03"] * 4 and kinds[4] == b"\x01"


def test_dhcp_lease_expiry_drops_address(dhcp):
    st = dhcp
    ((_, _, disc),) = dhcp_frames(st)
    server_send(st, nh.dhcp_reply(2, disc["xid"], ME, MY_MAC))
    ((_, _, req),) = dhcp_frames(st)
    server_send(st, nh.dhcp_reply(5, req["xid"], ME, MY_MAC, lease=100))
    assert st.lib.net_local_ip() == nh.ip2i(ME)
    seen = []
    for _ in range(110):  # nobody answers renewals or rebinds
        st.advance(1)
        st.poll()
        seen += [(ip["dst"], m["opts"][53]) for _, ip, m in dhcp_frames(st)]
    assert st.lib.net_local_ip() == 0
    assert ("255.255.255.255", b"\x03") in seen  # REBINDING broadcast after T2
    assert seen[-1][1] == b"\x01"


def test_random_garbage_never_crashes(st):
    rng = random.Random(1234)
    learn(st, PEER, PEER_MAC)
    for i in range(3000):
        n = rng.randrange(0, 1515)
        body = bytes(rng.randrange(256) for _ in range(n))
        if i % 3 == 0 and n > 34:  # valid Ethernet + IPv4-ish prefix to go deeper
            body = MY_MAC + PEER_MAC + b"\x08\x00" + body[14:]
        st.rx(body)
        if i % 64 == 0:
            st.poll()
    st.poll()
    st.tx()
    # still answers
    st.rx(nh.eth(MY_MAC, PEER_MAC, 0x0800, nh.ipv4(PEER, ME, 1, nh.icmp_echo(8, 9, 9, b"ok"))))
    st.poll()
    assert any(nh.parse_eth(f)[2] == 0x0800 for f in st.tx())


def test_arp_cache_full_evicts_oldest_resolved(st):
    n = 40  # CLLM_ARP_ENTRIES is 32
    for i in range(n):
        st.advance(0.001)
        mac = bytes([2, 0, 0, 0, 1, i])
        learn(st, f"10.0.2.{100 + i}", mac)
    mac = ctypes.create_string_buffer(6)
    present = [st.lib.arp_lookup(nh.ip2i(f"10.0.2.{100 + i}"), mac) == 0 for i in range(n)]
    assert present == [False] * 8 + [True] * 32


def test_arp_pending_entries_never_evicted(st):
    before = st.stats().arp_queue_drops
    results = [st.lib.ipv4_output(nh.ip2i(f"10.0.2.{100 + i}"), 17, b"x", 1) for i in range(33)]
    assert results == [0] * 32 + [-1]
    assert st.stats().arp_queue_drops == before + 1
    assert len(st.tx()) == 32  # one request per unresolved address


def test_subnet_broadcast_and_limited_broadcast(st):
    learn(st, PEER, PEER_MAC)
    # UDP to the subnet broadcast and to 255.255.255.255 is delivered (counted as no-port here), TCP is not
    for dst in ("10.0.2.255", "255.255.255.255"):
        st.rx(nh.eth(BCAST, PEER_MAC, 0x0800, nh.ipv4(PEER, dst, 17, nh.udp(PEER, dst, 1, 2, b"b"))))
    st.poll()
    assert st.stats().udp_no_port == 2
    # we send to the subnet broadcast without ARP
    assert st.lib.ipv4_output(nh.ip2i("10.0.2.255"), 17, b"z", 1) == 0
    (f,) = st.tx()
    assert nh.parse_eth(f)[0] == BCAST


def test_no_route_without_gateway(lib_path):
    s = nh.Stack(lib_path)
    s.attach(MY_MAC)
    s.lib.net_config_static(nh.ip2i(ME), nh.ip2i("255.255.255.0"), 0)
    s.tx()
    assert s.lib.ipv4_output(nh.ip2i(FAR), 17, b"x", 1) < 0
    assert s.tx() == [] and s.stats().drop_no_address == 1
