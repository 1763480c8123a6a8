"""HTTP client run inside the lossy-link namespace (Linux's TCP stack): N requests to GET /health, half on one
keep-alive connection and half on fresh connections, some with a large header so the request itself spans
several segments. Prints one JSON line: ok count, failures (with reasons), elapsed seconds."""
import argparse
import http.client
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()
    ok, failures = 0, []
    t0 = time.monotonic()
    keep = None
    for i in range(a.count):
        reuse = i < a.count // 2
        headers = {"X-Pad": "p" * 6000} if i % 10 == 3 else {}
        try:
            if not reuse or keep is None:
                conn = http.client.HTTPConnection(a.host, a.port, timeout=a.timeout)
                if reuse:
                    keep = conn
            else:
                conn = keep
            conn.request("GET", "/health", headers=headers)
            r = conn.getresponse()
            body = r.read()
            if r.status == 200 and json.loads(body) == {"status": "ok"} and \
                    int(r.getheader("Content-Length", "-1")) == len(body):
                ok += 1
            else:
                failures.append(f"{i}: status {r.status} body {body[:100]!r}")
            if not reuse:
                conn.close()
        except Exception as e:  # noqa: BLE001 - every failure is reported, none hidden
            failures.append(f"{i}: {type(e).__name__}: {e}")
            if reuse and keep is not None:
                keep.close()
                keep = None
    if keep is not None:
        keep.close()
    print(json.dumps({"ok": ok, "failures": failures, "seconds": time.monotonic() - t0}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
