"""Boot helpers for the API tests (tests/test_api_*.py): build the real kernel with a model once per module and run
it in QEMU (KVM when /dev/kvm is usable, else TCG) until /health answers 200; small HTTP/SSE helpers."""
import json
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
for p in (ROOT, ROOT / "tests", ROOT / "models", ROOT / "tests" / "reference"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))


def accel():
    from cllm_build.qemu import kvm_usable
    return "kvm" if kvm_usable() else "tcg"


def boot(elf, timeout=120.0, memory_mb=1024):
    """Start a Guest and wait until GET /health says 200. Returns the Guest (caller shuts it down)."""
    import requests
    from cllm_build.qemu import Guest
    g = Guest(elf, accel=accel(), memory_mb=memory_mb).start()
    try:
        g.wait_for_serial(r"cllm: listening", timeout=timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(g.url + "/health", timeout=5).status_code == 200:
                    return g
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the guest never became healthy:\n" + g.serial_text()[-2000:])
            time.sleep(0.05)
    except BaseException:
        g.shutdown()
        raise


def sse_events(resp):
    """(arrival time, data string) for each SSE event of a streamed requests response."""
    out = []
    for line in resp.iter_lines():
        if line.startswith(b"data: "):
            out.append((time.monotonic(), line[6:].decode()))
    return out


def sse_json(resp):
    return [json.loads(d) for _, d in sse_events(resp) if d != "[DONE]"]


def raw_request(url, path, body, read_bytes=1):
    """POST body on a raw socket and read until read_bytes of response arrived; returns the open socket."""
    host, port = url.split("//")[1].split(":")
    s = socket.create_connection((host, int(port)), timeout=30)
    data = json.dumps(body).encode()
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    got = b""
    while len(got) < read_bytes:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    return s, got
