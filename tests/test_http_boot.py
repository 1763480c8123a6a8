"""Boot tests of the HTTP server in QEMU with real clients over a forwarded port (QEMU user networking): 200
requests on one keep-alive connection, 64 concurrent connections, each reject case of the request table, binary
garbage, an HTTP/2 preface and a slowloris client - each followed by GET /health answering within 1 s - curl for
the ordinary cases (HEAD, 405 with Allow, CORS preflight, chunked and 1 MiB uploads), and SSE streams produced by
the event loop (events arrive spread over time; a client that leaves mid-stream triggers the cancel callback).
The image is tests/host/http/guest_main.c as kmain (net_poll + http_server_poll + stream steps, halt when idle).
The serial log must stay free of faults and panics."""
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, "host", "net"))
sys.path.insert(0, os.path.join(HERE, "host", "http"))
import httpboot  # noqa: E402
import httphost  # noqa: E402
import netboot  # noqa: E402
from test_http_parse import CASES  # noqa: E402


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def guest(tmp_path_factory, tiny_gguf):
    elf = httpboot.build_guest(tmp_path_factory.mktemp("httpboot"), tiny_gguf)
    port = free_tcp_port()
    net = ["-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:8080", "-device", "e1000,netdev=n0"]
    with netboot.Qemu(elf, net) as q:
        q.wait_for(r"HTTPBOOT bound", 60)
        q.port = port
        q.url = f"http://127.0.0.1:{port}"
        yield q
        log = q.text()
        assert q.proc.poll() is None, "the guest exited:\n" + log[-3000:]
        for bad in ("FAULT", "panic", "PANIC", "assert", "HTTPBOOT no"):
            assert bad not in log, log[-3000:]


def health_within_1s(guest):
    t = time.monotonic()
    r = requests.get(guest.url + "/health", timeout=1.0)
    dt = time.monotonic() - t
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert dt < 1.0
    return dt


def raw_exchange(guest, data, timeout=5.0):
    """Send raw bytes, read until one complete response is in, the server closes, or timeout."""
    s = socket.create_connection(("127.0.0.1", guest.port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                got = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not got:
                break
            out += got
            try:
                if httphost.parse_responses(out):
                    break   # one complete answer is all a test needs (keep-alive ones stay open)
            except Exception:
                pass        # h11 rejects what it sees so far: keep reading until close or timeout
        return out
    finally:
        s.close()


def test_health_with_curl(guest):
    p = subprocess.run(["curl", "-sS", "-i", "--max-time", "5", guest.url + "/health"], capture_output=True,
                       text=True)
    assert p.returncode == 0 and p.stdout.startswith("HTTP/1.1 200 OK")
    assert p.stdout.endswith('{"status":"ok"}')


def test_200_requests_on_one_keep_alive_connection(guest):
    c = http.client.HTTPConnection("127.0.0.1", guest.port, timeout=5)
    c.connect()
    sock = c.sock
    t = time.monotonic()
    for _ in range(200):
        c.request("GET", "/health")
        r = c.getresponse()
        assert r.status == 200 and r.read() == b'{"status":"ok"}'
        assert c.sock is sock          # never reconnected
    dt = time.monotonic() - t
    c.close()
    print("200 keep-alive requests: %.3f s (%.2f ms each)" % (dt, dt * 5))
    health_within_1s(guest)


def read_health(s):
    out = b""
    while b'{"status":"ok"}' not in out:
        got = s.recv(4096)
        if not got:
            break
        out += got
    return out


def test_64_concurrent_connections(guest):
    """64 connections open at once, each with a request in flight at the same moment. They are opened one after
    the other (QEMU's slirp forwards a burst of connects at about two per second), each proven live by one request,
    then every one sends its second request from its own thread at the same time."""
    n = 64
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", guest.port), timeout=10)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert httphost.parse_responses(read_health(s))[0][0] == 200
        socks.append(s)
    results = [None] * n
    go = threading.Barrier(n)

    def one(i):
        go.wait()
        socks[i].sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Client: %d\r\n\r\n" % i)
        results[i] = read_health(socks[i])

    t = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    dt = time.monotonic() - t
    for s in socks:
        s.close()
    for out in results:
        r = httphost.parse_responses(out)
        assert r and r[0][0] == 200 and r[0][2] == b'{"status":"ok"}'
    print("64 concurrent requests on 64 open connections answered in %.3f s" % dt)
    time.sleep(0.2)
    health_within_1s(guest)


REJECTS = [c for c in CASES if c[2] >= 400]


@pytest.mark.parametrize("name,raw,status,h11_says", REJECTS, ids=[c[0] for c in REJECTS])
def test_reject_case_then_health(guest, name, raw, status, h11_says):
    out = raw_exchange(guest, raw)
    r = httphost.parse_responses(out)
    assert r and r[0][0] == status, out[:300]
    health_within_1s(guest)


def test_binary_garbage_then_health(guest):
    rng = random.Random(7)
    for i in range(20):
        data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 20000)))
        out = raw_exchange(guest, data, timeout=3.0)
        if out:   # an answer, if any, is a well-formed error (the server may also just close)
            assert httphost.parse_responses(out)[0][0] in (400, 408, 414, 431, 501, 505)
        health_within_1s(guest)


def test_http2_preface_then_health(guest):
    out = raw_exchange(guest, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    assert httphost.parse_responses(out)[0][0] == 505
    health_within_1s(guest)


def test_slowloris_client_is_cut_and_others_served(guest):
    s = socket.create_connection(("127.0.0.1", guest.port), timeout=20)
    head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "
    t0 = time.monotonic()
    worst = 0.0
    i = 0
    out = b""
    s.settimeout(0.01)
    # one byte every 0.4 s; the server must answer 408 and close once its 10 s head timeout passes
    while time.monotonic() - t0 < 14:
        try:
            s.sendall((head + b"a" * 100)[i:i + 1])
        except (BrokenPipeError, ConnectionResetError):
            break
        i += 1
        worst = max(worst, health_within_1s(guest))
        try:
            got = s.recv(4096)
            if not got:
                break
            out += got
        except socket.timeout:
            pass
        except ConnectionResetError:
            break
        time.sleep(0.4)
    cut_after = time.monotonic() - t0
    s.settimeout(2)
    try:
        while True:
            got = s.recv(4096)
            if not got:
                break
            out += got
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    assert 9.5 < cut_after < 13.5, cut_after   # CLLM_HTTP_HEADER_TIMEOUT_MS is 10 s
    assert httphost.parse_responses(out)[0][0] == 408
    print("slowloris cut after %.1f s; /health worst %.3f s meanwhile" % (cut_after, worst))
    health_within_1s(guest)


def test_curl_head_405_cors_chunked(guest):
    def curl(*args):
        p = subprocess.run(["curl", "-sS", "-i", "--max-time", "5", *args], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        return p.stdout
    out = curl("-I", guest.url + "/health")
    assert out.startswith("HTTP/1.1 200") and "Content-Length: 15" in out
    out = curl("-X", "DELETE", guest.url + "/health")
    assert out.startswith("HTTP/1.1 405") and "Allow: GET, HEAD, OPTIONS" in out
    out = curl("-X", "OPTIONS", "-H", "Origin: http://example.org", "-H", "Access-Control-Request-Method: GET",
               guest.url + "/health")
    assert out.startswith("HTTP/1.1 204") and "Access-Control-Allow-Origin: *" in out
    p = subprocess.run(["curl", "-sS", "-i", "--max-time", "5", "-H", "Transfer-Encoding: chunked",
                        "--data-binary", "@-", guest.url + "/health"], input="x" * 100000,
                       capture_output=True, text=True)
    assert p.stdout.startswith("HTTP/1.1 405"), p.stdout[:200]
    out = curl(guest.url + "/nope")
    assert out.startswith("HTTP/1.1 404") and '"type":"not_found_error"' in out
    health_within_1s(guest)


def test_uploads_chunked_and_1mib(guest):
    body = bytes(random.Random(8).getrandbits(8) for _ in range(1 << 16)) * 16   # 1 MiB, the body limit
    t = time.monotonic()
    r = requests.post(guest.url + "/echo", data=body, timeout=30)
    dt = time.monotonic() - t
    assert r.status_code == 200 and r.content == body
    print("1 MiB echoed in %.3f s" % dt)
    r = requests.post(guest.url + "/echo", data=body + b"x", timeout=30)
    assert r.status_code == 413
    p = subprocess.run(["curl", "-sS", "--max-time", "10", "-H", "Transfer-Encoding: chunked", "--data-binary", "@-",
                        guest.url + "/echo"], input=b"chunk" * 30000, capture_output=True)
    assert p.returncode == 0 and p.stdout == b"chunk" * 30000
    health_within_1s(guest)


def test_sse_stream_events_spread_over_time(guest):
    n = 60
    t0 = time.monotonic()
    arrivals, events = [], []
    with requests.get(guest.url + "/stream?%d" % n, stream=True, timeout=10) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
        assert r.headers["transfer-encoding"] == "chunked"
        for line in r.iter_lines():
            if line.startswith(b"data: "):
                arrivals.append(time.monotonic() - t0)
                events.append(json.loads(line[6:]))
    assert [e["index"] for e in events] == list(range(n))
    # produced >= 5 ms apart in guest time, and they reach the client as they are produced, not at the end
    guest_span = (events[-1]["t_ns"] - events[0]["t_ns"]) / 1e9
    assert guest_span >= 0.29
    assert arrivals[-1] - arrivals[0] > 0.5 * guest_span
    assert arrivals[n // 2] - arrivals[0] > 0.2 * guest_span
    print("SSE: %d events over %.3f s guest, %.3f s at the client" % (n, guest_span, arrivals[-1] - arrivals[0]))
    health_within_1s(guest)


def test_client_leaving_mid_stream_cancels(guest):
    before = guest.text().count("HTTPBOOT cancel")
    s = socket.create_connection(("127.0.0.1", guest.port), timeout=5)
    s.sendall(b"GET /stream?100000 HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while got.count(b"data: ") < 5:
        got += s.recv(4096)
    s.close()
    t = time.monotonic()
    while guest.text().count("HTTPBOOT cancel") == before and time.monotonic() - t < 2:
        time.sleep(0.01)
    dt = time.monotonic() - t
    assert guest.text().count("HTTPBOOT cancel") == before + 1
    assert dt < 1.0
    print("stream cancelled %.3f s after the client closed" % dt)
    health_within_1s(guest)
    # a new stream can start: the slot was freed
    with requests.get(guest.url + "/stream?3", stream=True, timeout=10) as r:
        assert r.status_code == 200 and len([x for x in r.iter_lines() if x.startswith(b"data: ")]) == 3


def test_many_slowloris_clients_do_not_lock_out_others(guest):
    """60 clients each hold a connection with half a request head (7/8 of the slots and more): /health keeps
    answering within 1 s, and every slow one gets 408 (the first ones after the shortened busy timeout,
    2 * CLLM_HTTP_BUSY_IDLE_MS, the rest after the normal head timeout once the pressure is gone).
    The clients connect 50 ms apart: QEMU's slirp takes a burst of connects at about two per second, which would
    delay the /health probes behind them in slirp, not in the guest."""
    slow = []
    for i in range(60):
        s = socket.create_connection(("127.0.0.1", guest.port), timeout=10)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        slow.append(s)
        time.sleep(0.05)
        if i % 10 == 9:
            health_within_1s(guest)
    t0 = time.monotonic()
    worst = 0.0
    while time.monotonic() - t0 < 3:
        worst = max(worst, health_within_1s(guest))
        time.sleep(0.2)
    answers = []
    for s in slow:
        s.settimeout(8)
        out = b""
        try:
            while True:
                got = s.recv(4096)
                if not got:
                    break
                out += got
        except (socket.timeout, ConnectionResetError):
            pass
        answers.append(out)
        s.close()
    waited = time.monotonic() - t0
    statuses = [httphost.parse_responses(a)[0][0] if a else None for a in answers]
    assert statuses == [408] * 60, statuses
    print("60 slow heads: /health worst %.3f s meanwhile, all 408 within %.1f s" % (worst, waited))
    health_within_1s(guest)
