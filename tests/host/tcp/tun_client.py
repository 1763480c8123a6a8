"""Client side of tests/test_tcp_linux.py: runs inside the network namespace, uses Linux's TCP stack (plain
Python sockets) against the tun_peer servers (echo 7, sink 9, source 19) and prints one JSON result line.
Usage: tun_client.py SCENARIO SIZE [CONNS]."""
import json
import os
import socket
import struct
import sys
import threading
import time
import zlib

HOST = "10.9.0.2"
TIMEOUT = 60


def pattern(n):
    return bytes(((i * 2654435761) >> 13) & 0xFF for i in range(n))


def echo(size, rng_seed=0):
    data = os.urandom(size)
    s = socket.create_connection((HOST, 7), timeout=TIMEOUT)
    got = bytearray()

    def rd():
        while len(got) < size:
            b = s.recv(65536)
            if not b:
                break
            got.extend(b)

    t = threading.Thread(target=rd)
    t.start()
    s.sendall(data)
    t.join()
    s.shutdown(socket.SHUT_WR)
    tail = s.recv(10)               # the server closes after echoing everything
    s.close()
    return bytes(got) == data and tail == b""


def source(size, expect=None):
    expect = pattern(size) if expect is None else expect
    s = socket.create_connection((HOST, 19), timeout=TIMEOUT)
    s.sendall(struct.pack("!Q", size))
    got = bytearray()
    while True:
        b = s.recv(65536)
        if not b:
            break
        got.extend(b)
    s.close()
    return bytes(got) == expect


def sink(size, port=9):
    data = os.urandom(size)
    s = socket.create_connection((HOST, port), timeout=TIMEOUT)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    r = b""
    while True:
        b = s.recv(100)
        if not b:
            break
        r += b
    s.close()
    return r == b"%d %d\n" % (size, zlib.crc32(data))


def timed(fn, *a):
    t0 = time.monotonic()
    ok = fn(*a)
    return ok, time.monotonic() - t0


def parallel(n, fn, *a):
    res = [None] * n

    def run(i):
        try:
            res[i] = fn(*a)
        except OSError as e:
            res[i] = repr(e)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return res


def main():
    scen, size = sys.argv[1], int(sys.argv[2])
    conns = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    out = {}
    if scen in ("echo", "source", "sink"):
        args = (size, pattern(size)) if scen == "source" else (size,)
        ok, dt = timed({"echo": echo, "source": source, "sink": sink}[scen], *args)
        out = {"ok": ok, "seconds": dt, "mb_per_s": size / dt / 1e6}
    elif scen == "lazysink":
        # the server reads slowly: its receive window closes and Linux has to probe it
        ok, dt = timed(sink, size, 13)
        out = {"ok": ok, "seconds": dt}
    elif scen == "slowreader":
        # a small receive buffer that is not read for a while: our send window closes, we probe
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(TIMEOUT)
        s.connect((HOST, 19))
        s.sendall(struct.pack("!Q", size))
        time.sleep(3)
        got = bytearray()
        while True:
            b = s.recv(4096)
            if not b:
                break
            got.extend(b)
            if len(got) < 64 << 10:
                time.sleep(0.01)
        s.close()
        out = {"ok": bytes(got) == pattern(size)}
    elif scen == "parallel":
        t0 = time.monotonic()
        res = parallel(conns, echo, size)
        out = {"ok": all(r is True for r in res), "results": [r for r in res if r is not True][:5],
               "seconds": time.monotonic() - t0}
    elif scen == "full":
        # hold `conns` connections open at once, then try one more
        socks = [socket.create_connection((HOST, 7), timeout=TIMEOUT) for _ in range(conns)]
        for i, s in enumerate(socks):
            s.sendall(b"ping %d" % i)
        echoed = all(s.recv(100) == b"ping %d" % i for i, s in enumerate(socks))
        try:
            extra = socket.create_connection((HOST, 7), timeout=10)
            extra_result = "connected"
            extra.close()
        except ConnectionRefusedError:
            extra_result = "refused"
        except OSError as e:
            extra_result = repr(e)
        for s in socks:
            s.close()
        out = {"ok": echoed, "extra": extra_result}
    elif scen == "abort":
        # clients that reset their connection mid-transfer (SO_LINGER 0)
        for _ in range(conns):
            s = socket.create_connection((HOST, 19), timeout=TIMEOUT)
            s.sendall(struct.pack("!Q", size))
            s.recv(1000)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        out = {"ok": True}
    elif scen == "requests":
        # short request/response exchanges, as an HTTP client would do
        ok = True
        t0 = time.monotonic()
        for i in range(conns):
            ok &= source(size + i) and echo(200 + i)
        out = {"ok": ok, "seconds": time.monotonic() - t0}
    print(json.dumps(out))


main()
