"""ICMP echo from Linux's own stack (a raw socket; the kernel does IP and ARP), run inside a namespace with
`ip netns exec NS python3 pinger.py DST --count N`. Prints one JSON line: sent, unique replies, duplicates, bad
replies, RTTs. Stands in for ping(8), which is not installed everywhere."""
import argparse
import json
import os
import select
import socket
import struct
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def echo(ident, seq, payload):
    m = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dst")
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("--size", type=int, default=56)
    ap.add_argument("--wait", type=float, default=1.0, help="seconds to wait for replies after the last send")
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    try:  # a burst of replies must not overflow the default receive buffer (root may force a larger one)
        s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    ident = os.getpid() & 0xFFFF
    sent_at, replies, dups, bad, rtts = {}, set(), 0, 0, []
    next_send, seq = time.monotonic(), 0
    deadline = None
    while True:
        now = time.monotonic()
        if seq < a.count and now >= next_send:
            payload = struct.pack("!d", now) + bytes((seq + i) & 255 for i in range(a.size - 8))
            s.sendto(echo(ident, seq, payload), (a.dst, 0))
            sent_at[seq] = now
            seq += 1
            next_send = now + a.interval
            if seq == a.count:
                deadline = now + a.wait
        if deadline is not None and (now >= deadline or len(replies) == a.count):
            break
        timeout = (next_send - now) if seq < a.count else (deadline - now)
        r, _, _ = select.select([s], [], [], max(0.0, timeout))
        if not r:
            continue
        pkt, _ = s.recvfrom(65536)
        ihl = (pkt[0] & 15) * 4
        icmp = pkt[ihl:]
        if len(icmp) < 8:
            continue
        typ, code, _, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
        if typ != 0 or rid != ident:
            continue
        want = struct.pack("!d", sent_at.get(rseq, -1.0)) + bytes((rseq + i) & 255 for i in range(a.size - 8))
        if csum(icmp) != 0 or icmp[8:] != want:
            bad += 1
            continue
        if rseq in replies:
            dups += 1
            continue
        replies.add(rseq)
        rtts.append((time.monotonic() - sent_at[rseq]) * 1000)
    rtts.sort()
    print(json.dumps({"sent": seq, "received": len(replies), "duplicates": dups, "bad": bad,
                      "rtt_ms_median": rtts[len(rtts) // 2] if rtts else None,
                      "rtt_ms_max": rtts[-1] if rtts else None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
