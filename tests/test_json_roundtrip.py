"""JSON parser and writer (kernel/http/json.c) against Python's json module and float(): generated documents
round-trip, numbers parse to exactly the double Python's float() gives (int64 kept exact), doubles are written
as Python's repr writes them (shortest, exact), strings with any bytes come out as valid JSON (invalid
UTF-8 replaced the way Python's 'replace' handler does), surrogate pairs decode to UTF-8, limits hold, and the
writer refuses to emit broken JSON when misused."""
import ctypes
import json
import math
import os
import random
import struct
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "host", "http"))
import httphost as H  # noqa: E402
from test_json_suite import roundtrip, same  # noqa: E402


@pytest.fixture(scope="module")
def lib():
    return H.load(H.build_lib())


def rand_string(rng):
    pool = [lambda: chr(rng.randint(0x20, 0x7e)), lambda: chr(rng.randint(0, 0x1f)), lambda: '"', lambda: "\\",
            lambda: chr(rng.randint(0x80, 0x7ff)), lambda: chr(rng.randint(0x800, 0xd7ff)),
            lambda: chr(rng.randint(0xe000, 0xfffd)), lambda: chr(rng.randint(0x10000, 0x10ffff)), lambda: "\u2028"]
    return "".join(rng.choice(pool)() for _ in range(rng.randint(0, 20)))


def rand_number(rng):
    k = rng.randint(0, 5)
    if k == 0:
        return rng.randint(-2**63, 2**63 - 1)
    if k == 1:
        return rng.randint(-1000, 1000)
    if k == 2:
        return rng.choice([1, -1]) * rng.randint(2**63, 2**70)
    while True:
        f = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if math.isfinite(f):
            return f if k < 5 else round(f, rng.randint(0, 6)) if abs(f) < 1e15 else f


def rand_value(rng, depth=0):
    k = rng.randint(0, 9 if depth < 6 else 5)
    if k <= 1:
        return rand_number(rng)
    if k == 2:
        return rand_string(rng)
    if k == 3:
        return rng.choice([True, False, None])
    if k in (4, 5):
        return rand_string(rng)
    if k in (6, 7):
        return [rand_value(rng, depth + 1) for _ in range(rng.randint(0, 6))]
    return {rand_string(rng): rand_value(rng, depth + 1) for _ in range(rng.randint(0, 6))}


def test_generated_documents_round_trip(lib):
    rng = random.Random(11)
    for i in range(600):
        doc = rand_value(rng)
        text = json.dumps(doc, ensure_ascii=bool(i % 2), indent=rng.choice([None, 1, "\t"])).encode()
        ok, out = roundtrip(lib, text)
        assert ok == 1, (text, out)
        assert same(json.loads(out.decode("utf-8")), doc), text
        # what we write is plain compact JSON: no raw control characters, valid UTF-8
        assert all(b >= 0x20 for b in out)
        # and a second pass is a fixed point
        ok2, out2 = roundtrip(lib, out)
        assert ok2 == 1 and out2 == out


def parse_number(lib, text):
    i, d = ctypes.c_int64(), ctypes.c_double()
    b = text.encode()
    kind = lib.j_number(b, len(b), ctypes.byref(i), ctypes.byref(d))
    return {1: ("int", i.value), 2: ("double", d.value)}.get(kind, (None, None))


def test_numbers_match_python_float(lib):
    rng = random.Random(12)
    texts = ["0", "-0", "1", "-1", "0.1", "0.2", "0.3", "1e23", "8.98846567431158e307", "2.2250738585072012e-308",
             "2.2250738585072011e-308", "4.9406564584124654e-324", "2.4703282292062327e-324",
             "2.4703282292062328e-324", "1.7976931348623157e308", "1.7976931348623158e308",
             "9007199254740993", "9007199254740993.0", "0.1e1", "123456789012345678901234567890e-10",
             "1" + "0" * 400 + "e-400", "0." + "0" * 300 + "1e300", "7.2057594037927933e16",
             "9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
             "1.00000000000000011102230246251565404236316680908203125",
             "1.00000000000000011102230246251565404236316680908203124",
             "1.00000000000000011102230246251565404236316680908203126"]
    for _ in range(3000):
        mant = str(rng.randint(0, 10 ** rng.randint(1, 25)))
        s = ("-" if rng.random() < 0.3 else "") + mant
        if rng.random() < 0.6:
            s += "." + str(rng.randint(0, 10 ** rng.randint(1, 20)))
        if rng.random() < 0.6:
            s += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randint(0, 330))
        texts.append(s)
    for _ in range(1000):  # decimal forms of random doubles, and halfway points between neighbours
        f = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(63)))[0]
        if not math.isfinite(f):
            continue
        texts.append(repr(f))
        texts.append("%.25e" % f)
        nxt = math.nextafter(f, math.inf)
        if math.isfinite(nxt):
            from decimal import Decimal
            texts.append(str((Decimal(f) + Decimal(nxt)) / 2))
    for t in texts:
        # normalise to the JSON number grammar
        if "." in t and t.split(".")[0].lstrip("-").startswith("0") and len(t.split(".")[0].lstrip("-")) > 1:
            continue
        if t.lstrip("-").startswith("0") and len(t.lstrip("-").split("e")[0].split("E")[0].split(".")[0]) > 1:
            continue
        kind, v = parse_number(lib, t)
        integral = all(c not in t for c in ".eE")
        ref = float(t)
        if math.isinf(ref):
            assert kind is None, t  # out of range: rejected
            continue
        if integral and -2**63 <= int(t) < 2**63:
            assert (kind, v) == ("int", int(t)), t
        else:
            assert kind == "double", t
            assert struct.pack("<d", v) == struct.pack("<d", ref), (t, v, ref)


def write_double(lib, f):
    buf = ctypes.create_string_buffer(64)
    n = lib.j_write_double(f, buf, 64)
    return buf.raw[:n].decode()


def digits(s):
    m = s.lstrip("-").split("e")[0].split("E")[0].replace(".", "").lstrip("0").rstrip("0")
    return len(m) or 1


def test_doubles_written_shortest_and_exact(lib):
    rng = random.Random(13)
    vals = [0.0, -0.0, 1.0, -1.0, 0.1, 1 / 3, 1e300, 5e-324, 1.7976931348623157e308, 2.0 ** 53, 123456789.0,
            1e15, 1e16, 1e22, 1e-7, 0.000123]
    vals += [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0] for _ in range(5000)]
    vals += [rng.uniform(-1000, 1000) for _ in range(2000)] + [round(rng.uniform(0, 10), 2) for _ in range(500)]
    for f in vals:
        s = write_double(lib, f)
        if not math.isfinite(f):
            assert s == "null"
            continue
        back = json.loads(s)
        assert isinstance(back, float), s          # stays a float ("1.0", not "1")
        assert struct.pack("<d", back) == struct.pack("<d", f), (f, s)
        assert digits(s) <= digits(repr(f)), (f, s, repr(f))
        assert s == repr(f)                        # Python's repr is the shortest round-trip form too
    for f in (math.nan, math.inf, -math.inf):
        assert write_double(lib, f) == "null"


def write_string(lib, b):
    cap = len(b) * 6 + 16
    buf = ctypes.create_string_buffer(cap)
    n = lib.j_write_string(b, len(b), buf, cap)
    assert n != ctypes.c_size_t(-1).value
    return buf.raw[:n]


def test_writer_strings_any_bytes(lib):
    rng = random.Random(14)
    samples = [b"", b"\x00", b"\x1f\x7f", b'"\\/', b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf",
               b"\xf0\x9f\x98", b"\xf0\x9f\x98\x80", "\u2028\u2029".encode(), b"\xff\xfe", b"a\xe2\x82\xacb\x80c"]
    for _ in range(3000):
        n = rng.randint(0, 40)
        if rng.random() < 0.5:
            samples.append(bytes(rng.getrandbits(8) for _ in range(n)))
        else:
            samples.append(rand_string(rng).encode("utf-8", "surrogatepass")[:n])
    for b in samples:
        out = write_string(lib, b)
        out.decode("utf-8")                         # valid UTF-8 always
        assert all(c >= 0x20 for c in out)          # control characters escaped
        assert json.loads(out) == b.decode("utf-8", "replace"), b


def test_surrogate_pairs_decode_to_utf8(lib):
    for cp in [0x10000, 0x1F600, 0x1D11E, 0x10FFFF, 0x2F800]:
        hi = 0xD800 + ((cp - 0x10000) >> 10)
        lo = 0xDC00 + ((cp - 0x10000) & 0x3FF)
        doc = ('["\\u%04x\\u%04X"]' % (hi, lo)).encode()
        ok, out = roundtrip(lib, doc)
        assert ok == 1 and out == ('["%s"]' % chr(cp)).encode("utf-8")


def test_depth_and_memory_limits(lib):
    deep = b"[" * 200 + b"]" * 200
    assert lib.j_parse_limits(deep, len(deep), 200, 1 << 20) == 1
    assert lib.j_parse_limits(deep, len(deep), 199, 1 << 20) == 0
    many = ("[" + ",".join(["1"] * 10000) + "]").encode()
    assert lib.j_parse_limits(many, len(many), 64, 1 << 20) == 1
    assert lib.j_parse_limits(many, len(many), 64, 64 * 1024) == 0   # 10000 nodes do not fit in 64 KiB
    s = b'"' + b"x" * 100000 + b'"'
    assert lib.j_parse_limits(s, len(s), 64, 50000) == 0


def test_writer_misuse_never_emits(lib):
    for which in range(9):
        assert lib.j_writer_misuse(which) == 0, which


def lookup(lib, doc, key, index=-1):
    out = ctypes.create_string_buffer(256)
    lib.j_lookup.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_long, ctypes.c_char_p,
                             ctypes.c_size_t]
    assert lib.j_lookup(doc, len(doc), key, index, out, 256) == 1
    return out.value.decode()


def test_lookups_for_handlers(lib):
    doc = b'{"n_predict": 128, "temperature": 0.7, "t2": 2.0, "big": 1e300, "stream": true, "prompt": "hi",' \
          b' "tokens": [1, 2, 3], "n": null, "n_predict": 64}'
    assert lookup(lib, doc, b"n_predict") == "integer:64"          # the last duplicate wins, as in Python
    assert lookup(lib, doc, b"temperature") == "number:0.69999999999999996"
    assert lookup(lib, doc, b"t2") == "number:2"                    # an integral double reads as an integer
    assert lookup(lib, doc, b"big") == "number:1.0000000000000001e+300"
    assert lookup(lib, doc, b"stream") == "boolean:1"
    assert lookup(lib, doc, b"prompt") == "string:hi"
    assert lookup(lib, doc, b"tokens", 2) == "integer:3"
    assert lookup(lib, doc, b"tokens", 3) == "missing:"
    assert lookup(lib, doc, b"tokens") == "array:"
    assert lookup(lib, doc, b"n") == "null:"
    assert lookup(lib, doc, b"absent") == "missing:"
    assert lookup(lib, b"[1]", b"k") == "missing:"                  # lookups on the wrong type are NULL


def test_integers_written_exactly(lib):
    lib.j_write_ints.argtypes = [ctypes.c_int64, ctypes.c_uint64, ctypes.c_char_p, ctypes.c_size_t]
    lib.j_write_ints.restype = ctypes.c_size_t
    rng = random.Random(15)
    cases = [(0, 0), (-1, 1), (-2**63, 2**64 - 1), (2**63 - 1, 2**63), (-10, 10), (9, 99)]
    cases += [(rng.randint(-2**63, 2**63 - 1), rng.getrandbits(rng.randint(1, 64))) for _ in range(2000)]
    buf = ctypes.create_string_buffer(64)
    for i, u in cases:
        n = lib.j_write_ints(i, u, buf, 64)
        assert buf.raw[:n] == ("[%d,%d]" % (i, u)).encode()
