"""lib/fmt.c and lib/parse.c against independent references: the host C library's snprintf/strtod
(tests/host/lib/fmt_parse_check.c, hundreds of thousands of random values and formats, halfway cases),
and Python's own float repr() and float() for fmt_double_shortest and parse_double."""
import ctypes
import math
import random
import struct
import subprocess
import sys
import pathlib

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent / "host" / "lib"))
import hostbuild  # noqa: E402

SOURCES = ["tests/host/shim.c", "kernel/lib/fmt.c", "kernel/lib/parse.c"]


@pytest.fixture(scope="module")
def lib():
    so = hostbuild.build("libfmtparse.so", SOURCES, shared=True)
    lib = ctypes.CDLL(str(so))
    lib.fmt_double_shortest.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_double]
    lib.fmt_double_shortest.restype = ctypes.c_int
    lib.parse_double.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_double)]
    lib.parse_double.restype = ctypes.c_size_t
    return lib


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_against_host_libc(seed):
    exe = hostbuild.build("fmt_parse_check", ["tests/host/lib/fmt_parse_check.c", *SOURCES])
    r = subprocess.run([str(exe), str(seed), "40000"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:]
    last = r.stdout.strip().splitlines()[-1]
    assert last.endswith(" 0 failed") and int(last.split()[0]) > 200000


def _random_doubles(n, seed):
    rng = random.Random(seed)
    out = [0.0, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 0.2, 0.3, 1.0, 1e16,
           1e15, 123456789012345678.0, 1e-5, 1e-4, 9.999999999999999e22, 1e23, 2.0 ** 63, 1.0 / 3]
    for _ in range(n):
        k = rng.randrange(4)
        if k == 0:
            d = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        elif k == 1:
            d = round(rng.uniform(-1000, 1000), rng.randrange(8))
        elif k == 2:
            d = rng.uniform(-1, 1) * 10.0 ** rng.randrange(-30, 30)
        else:
            d = float(rng.randrange(-10 ** 6, 10 ** 6)) / 2 ** rng.randrange(20)
        if math.isfinite(d):
            out.append(d)
    return out


def test_shortest_matches_python_repr(lib):
    buf = ctypes.create_string_buffer(64)
    for d in _random_doubles(30000, 7):
        n = lib.fmt_double_shortest(buf, 64, d)
        got = buf.value.decode()
        assert n == len(got)
        assert got == repr(d), (d, got)


def test_shortest_rejects_nonfinite_and_truncates(lib):
    buf = ctypes.create_string_buffer(64)
    for d in (math.inf, -math.inf, math.nan):
        assert lib.fmt_double_shortest(buf, 64, d) == -1
        assert buf.value == b""
    small = ctypes.create_string_buffer(4)
    assert lib.fmt_double_shortest(small, 4, 0.123456) == len("0.123456")
    assert small.value == b"0.1"


def test_parse_matches_python_float(lib):
    rng = random.Random(11)
    out = ctypes.c_double()
    cases = [repr(d) for d in _random_doubles(20000, 3)]
    for _ in range(5000):  # long digit strings and extreme exponents
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 400)))
        cases.append(f"{digits[:1]}.{digits[1:]}e{rng.randrange(-400, 400)}")
    for s in cases:
        n = lib.parse_double(s.encode(), len(s), ctypes.byref(out))
        assert n == len(s)
        ref = float(s)
        assert struct.pack("<d", out.value) == struct.pack("<d", ref), (s, out.value, ref)
