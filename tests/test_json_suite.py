"""JSON parser (kernel/http/json.c) on JSONTestSuite-style files in tests/data/json/: every y_ file must parse and
re-emit to a document Python's json module reads as equal to the original; every n_ file must be rejected. Python's
json module is the independent reference for rejections too, except where the kernel is stricter on purpose
(listed in STRICTER_THAN_PYTHON with the reason)."""
import glob
import json
import math
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "host", "http"))
import httphost as H  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "data", "json")
Y = sorted(glob.glob(os.path.join(DATA, "y_*.json")))
N = sorted(glob.glob(os.path.join(DATA, "n_*.json")))

# Python's json accepts these; RFC 8259 does not define them, and the kernel rejects them:
STRICTER_THAN_PYTHON = {
    "n_nan", "n_infinity", "n_neg_infinity",              # not JSON numbers
    "n_number_overflow", "n_number_overflow_neg",         # Python gives inf, which JSON cannot carry back
    "n_lone_high_surrogate", "n_lone_low_surrogate",      # Python keeps lone surrogates, not valid UTF-8
    "n_high_then_text", "n_high_then_high", "n_high_then_bmp",
    "n_deep_65",                                          # over CLLM_JSON_MAX_DEPTH (64)
    "n_utf8_surrogate_encoded",                           # json.loads(bytes) decodes with 'surrogatepass'
    "n_bom",                                              # json.loads(bytes) skips a UTF-8 BOM (RFC 8259 8.1: MUST NOT add one)
}


@pytest.fixture(scope="module")
def lib():
    return H.load(H.build_lib())


def roundtrip(lib, data):
    import ctypes
    cap = len(data) * 8 + 1024
    out = ctypes.create_string_buffer(cap)
    n = ctypes.c_size_t()
    ok = lib.j_roundtrip(data, len(data), out, cap, ctypes.byref(n))
    return ok, out.raw[:n.value]


def same(ours, ref):
    """Equal as JSON values; numbers compared as the kernel must keep them (int64 exact, else the nearest double)."""
    if isinstance(ref, bool) or ref is None or isinstance(ref, str):
        return type(ours) is type(ref) and ours == ref
    if isinstance(ref, int):
        if -2**63 <= ref < 2**63:
            return type(ours) is int and ours == ref
        return isinstance(ours, float) and ours == float(ref)
    if isinstance(ref, float):
        return isinstance(ours, float) and ours == ref and math.copysign(1, ours) == math.copysign(1, ref)
    if isinstance(ref, list):
        return isinstance(ours, list) and len(ours) == len(ref) and all(same(a, b) for a, b in zip(ours, ref))
    if isinstance(ref, dict):
        return isinstance(ours, dict) and ours.keys() == ref.keys() and all(same(ours[k], ref[k]) for k in ref)
    return False


@pytest.mark.parametrize("path", Y, ids=[os.path.basename(p)[:-5] for p in Y])
def test_accept(lib, path):
    data = open(path, "rb").read()
    ok, out = roundtrip(lib, data)
    assert ok == 1, out
    ref = json.loads(data)
    ours = json.loads(out.decode("utf-8"))
    assert same(ours, ref)


@pytest.mark.parametrize("path", N, ids=[os.path.basename(p)[:-5] for p in N])
def test_reject(lib, path):
    name = os.path.basename(path)[:-5]
    data = open(path, "rb").read()
    ok, msg = roundtrip(lib, data)
    assert ok == 0
    off, text = msg.decode().split(": ", 1)
    assert 0 <= int(off) <= len(data) and text
    python_rejects = True
    try:
        json.loads(data)
        python_rejects = False
    except (ValueError, RecursionError):
        pass
    assert python_rejects != (name in STRICTER_THAN_PYTHON), \
        "Python %s %s" % ("rejects" if python_rejects else "accepts", name)


def test_error_offsets_point_at_the_fault(lib):
    for doc, at in [(b'{"a":1,}', 7), (b"[1,2,x]", 5), (b'["ok","\\q"]', 8), (b"[01]", 1), (b"  ", 2)]:
        ok, msg = roundtrip(lib, doc)
        assert ok == 0 and int(msg.split(b":")[0]) == at, (doc, msg)
