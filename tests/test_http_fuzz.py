"""Short libFuzzer run (15 s) of tests/fuzz/http_fuzz.c: the HTTP head scanner/parser, the chunked decoder and the
whole server over a fake TCP, under ASan+UBSan, with leak/slot invariants checked after every input.
Long run (hours, both cores):  FUZZ_SECONDS=14400 python3 -m pytest -q tests/test_http_fuzz.py
or by hand:  tests/.build/fuzz/http_fuzz -max_len=16384 -jobs=2 -workers=2 tests/.build/fuzz/http_fuzz_corpus
(crashes land in tests/.build/fuzz/crash-*; replay one with  tests/.build/fuzz/http_fuzz <file>)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "host", "http"))
import fuzzbuild  # noqa: E402
from test_http_parse import CASES  # noqa: E402


def test_http_fuzz_short_run():
    seeds = [c[1] for c in CASES] + [
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\nT: 1\r\n\r\n",
        b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /defer HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\n{\"a\":[1,2.5]}",
        b"OPTIONS /echo HTTP/1.1\r\nHost: x\r\nAccess-Control-Request-Method: POST\r\n\r\n"]
    rc, log = fuzzbuild.run("http_fuzz", seeds, 15, 16384)
    assert rc == 0, log
    assert "Done" in log
