"""SSE2 twins (kernel/llm/quant_sse2.c, installed by ggml_types_init_simd) against their scalar references
(quant_ref.c) and numpy: F16 dequantization bit for bit over all 65536 halves (odd lengths for the tails);
vec_dot Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 within a named tolerance of the reference (only the float summation order differs:
the SIMD kernels keep 4 partial sums); vec_dot Q4_K/Q5_K/Q6_K bit for bit (exact integer sums)."""
import ctypes
import pathlib
import sys

import numpy as np
import pytest
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType as Q
from gguf import quants

sys.path.insert(0, str(pathlib.Path(__file__).parent / "host" / "llm_formats"))
sys.path.insert(0, str(pathlib.Path(__file__).parent))
import fmtlib  # noqa: E402
from test_llm_quant import (ACT_TYPE, activations, c_dot, c_quant, ptr, random_blocks, random_floats,  # noqa: E402
                            same_bits, weights)

GGML_CPU_SSE2 = 1
SSE2_DOT_TYPES = [Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0]
SSE2_EXACT_TYPES = [Q.Q4_K, Q.Q5_K, Q.Q6_K]   # integer sums exact in int32 lanes + the reference's float expression
# |sse2 - ref| relative to sum |x_i * y_i|, per block of the row: both sum exact per-block integer dots scaled by
# the same float d_x * d_y and differ only in the order of the float additions (4 lanes + a horizontal sum);
# each order is within (blocks) * 2^-24 of the exact sum (recursive summation bound), so twice that, with margin.
TOL_SIMD_VS_REF_PER_BLOCK = 2 * 2.0 ** -24 * 1.5


@pytest.fixture(scope="module")
def lib():
    lib = fmtlib.load()
    lib.fmt_init_simd(GGML_CPU_SSE2)
    yield lib
    lib.fmt_init_simd(0)   # the library is shared by the other test modules of this process


def test_twins_installed_and_removable(lib):
    for t in SSE2_DOT_TYPES + SSE2_EXACT_TYPES + [Q.F16, Q.F32]:
        assert lib.fmt_uses_ref(int(t)) == 0, t.name
    for t in [Q.Q2_K, Q.Q3_K, Q.BF16]:
        assert lib.fmt_uses_ref(int(t)) == 1, t.name
    lib.fmt_init_simd(0)
    assert all(lib.fmt_uses_ref(int(t)) == 1 for t in SSE2_DOT_TYPES + SSE2_EXACT_TYPES + [Q.F16])
    lib.fmt_init_simd(GGML_CPU_SSE2)


@pytest.mark.parametrize("n", [65536, 65536 - 3, 7, 8, 9])
def test_f16_sse2_bit_exact(lib, n):
    h = np.roll(np.arange(1 << 16, dtype=np.uint32).astype(np.uint16), 12345)[:n].copy()
    got = np.empty(n, dtype=np.float32)
    assert lib.fmt_to_float(int(Q.F16), 0, ptr(h), ptr(got), n) == 0
    assert same_bits(got, h.view(np.float16).astype(np.float32))


def magnitude(t, raw_row, x, y, yq):
    """Sum of the magnitudes of the terms both kernels add: |x_i y_i|, but for Q4_1/Q5_1 the scaled part and the min
    part separately (x_i = d q_i + m can cancel while d q_i and m are large): sum |x_i - m| |y_i| + sum |m s|."""
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    if t not in (Q.Q4_1, Q.Q5_1):
        return float(np.sum(np.abs(x64 * y64))) + 1e-30
    m = raw_row.reshape(-1, GGML_QUANT_SIZES[t][1])[:, 2:4].copy().view(np.float16).astype(np.float64)
    sy = yq.reshape(-1, 36)[:, 2:4].copy().view(np.float16).astype(np.float64)
    return float(np.sum(np.abs((x64.reshape(-1, 32) - m) * y64.reshape(-1, 32))) + np.sum(np.abs(m * sy))) + 1e-30


@pytest.mark.parametrize("t", SSE2_DOT_TYPES, ids=lambda t: t.name)
def test_vec_dot_sse2_vs_ref(lib, t):
    rng = np.random.default_rng(900 + int(t))
    worst = 0.0
    for cols in [32, 64, 96, 576, 1536, 32 * 99]:
        rows = 4
        raw, xw = weights(rng, t, rows, cols)
        raw2 = random_blocks(rng, t, rows * cols // 32).reshape(rows, -1)   # every bit pattern of the blocks
        xw2 = quants.dequantize(raw2, t)
        y = activations(rng, cols)
        yq = c_quant(lib, ACT_TYPE[t], y)
        for raws, xs in [(raw, xw), (raw2, xw2)]:
            for r in range(rows):
                row = np.ascontiguousarray(raws[r])
                fast = c_dot(lib, t, cols, row, yq, ref=0)
                ref = c_dot(lib, t, cols, row, yq, ref=1)
                mag = magnitude(t, raws[r], xs[r], y, yq)
                worst = max(worst, abs(fast - ref) / mag / (cols // 32))
    print(f"{t.name}: |sse2 - ref| <= {worst:.2e} of sum|xy| per block (tol {TOL_SIMD_VS_REF_PER_BLOCK:.2e})")
    assert worst <= TOL_SIMD_VS_REF_PER_BLOCK


@pytest.mark.parametrize("t", SSE2_DOT_TYPES, ids=lambda t: t.name)
def test_vec_dot_sse2_nonfinite_scales(lib, t):
    """Blocks whose fp16 scales are inf or NaN take the reference path inside the twin: same inf/NaN outcome."""
    rng = np.random.default_rng(950 + int(t))
    cols = 32 * 9
    y = activations(rng, cols)
    yq = c_quant(lib, ACT_TYPE[t], y)
    for bad in [0x7C00, 0xFC00, 0x7E00, 0x7C01]:
        for blk in [0, 3, 8]:
            raw = random_blocks(rng, t, cols // 32)
            raw[blk, 0:2] = np.array([bad], dtype=np.uint16).view(np.uint8)
            row = np.ascontiguousarray(raw.reshape(-1))
            fast, ref = c_dot(lib, t, cols, row, yq, ref=0), c_dot(lib, t, cols, row, yq, ref=1)
            assert (np.isnan(fast) and np.isnan(ref)) or fast == ref, (hex(bad), blk, fast, ref)


@pytest.mark.parametrize("t", SSE2_EXACT_TYPES, ids=lambda t: t.name)
def test_vec_dot_sse2_kquants_bit_exact(lib, t):
    rng = np.random.default_rng(970 + int(t))
    for cols in [256, 512, 256 * 3, 256 * 6]:
        raw, _ = weights(rng, t, 6, cols)             # random blocks: every bit pattern, finite scales
        y = activations(rng, cols)
        yq = c_quant(lib, Q.Q8_K, y)
        for r in range(6):
            row = np.ascontiguousarray(raw[r])
            fast, ref = c_dot(lib, t, cols, row, yq, ref=0), c_dot(lib, t, cols, row, yq, ref=1)
            assert np.float32(fast).tobytes() == np.float32(ref).tobytes(), (cols, r, fast, ref)
    # extreme activations: every q8 at -127/127 and the largest 6-bit scales stress the int32 lanes
    raw = np.ascontiguousarray(weights(rng, t, 1, 256)[0][0])
    raw[:] = 0xff
    _, ts = GGML_QUANT_SIZES[t]
    for off in [208] if t == Q.Q6_K else [0, 2]:
        raw[off:off + 2] = np.array([0x3c00], dtype=np.uint16).view(np.uint8)   # scale 1.0
    for sign in [1, -1]:
        yq = c_quant(lib, Q.Q8_K, np.full(256, sign * 3.0, dtype=np.float32))
        fast, ref = c_dot(lib, t, 256, raw, yq, ref=0), c_dot(lib, t, 256, raw, yq, ref=1)
        assert fast == ref and np.isfinite(ref)


@pytest.mark.parametrize("t", SSE2_DOT_TYPES + SSE2_EXACT_TYPES, ids=lambda t: t.name)
def test_vec_dot_rows_vs_ref(lib, t):
    """ggml_vec_dot_rows (the 4-row SSE2 kernels for Q4_1/Q8_0, row-by-row twins otherwise) against the
    row-by-row references, for row counts that leave 0..3 leftover rows, and with a non-finite scale in one row."""
    rng = np.random.default_rng(990 + int(t))
    bs, ts = GGML_QUANT_SIZES[t]
    worst = 0.0
    for cols in [bs, 576 if bs == 32 else 512, 1536]:
        y = activations(rng, cols)
        yq = c_quant(lib, ACT_TYPE[t], y)
        for nr in [1, 3, 4, 5, 8, 9]:
            raw, xw = weights(rng, t, nr, cols)
            raw = np.ascontiguousarray(raw)
            if nr >= 4 and bs == 32:
                raw[1, ts * (cols // bs - 1):ts * (cols // bs - 1) + 2] = np.array([0x7C00], np.uint16).view(np.uint8)
                with np.errstate(invalid="ignore", over="ignore"):
                    xw = quants.dequantize(raw, t)
            out = np.empty(nr, dtype=np.float32)
            assert lib.fmt_vec_dot_rows(int(t), cols, nr, ptr(out), ptr(raw), raw.shape[1], ptr(yq)) == 0
            for r in range(nr):
                ref = c_dot(lib, t, cols, np.ascontiguousarray(raw[r]), yq, ref=1)
                if not np.isfinite(ref):
                    assert (np.isnan(ref) and np.isnan(out[r])) or out[r] == ref, (nr, r, out[r], ref)
                    continue
                err = abs(float(out[r]) - ref) / magnitude(t, raw[r], xw[r], y, yq) / (cols // 32)
                worst = max(worst, err)
    print(f"{t.name}: rows kernel within {worst:.2e} of sum|xy| per block of the reference")
    assert worst <= (0 if t in SSE2_EXACT_TYPES else TOL_SIMD_VS_REF_PER_BLOCK)


# F32/F16 twins keep 8 float partial sums where the references accumulate in double: within the recursive
# summation bound (n/8 + 3) * 2^-24 of sum |x_i y_i|, with margin.
@pytest.mark.parametrize("t", [Q.F32, Q.F16], ids=lambda t: t.name)
def test_vec_dot_float_rows(lib, t):
    rng = np.random.default_rng(1000 + int(t))
    worst = 0.0
    for n in [1, 7, 8, 9, 64, 576, 1536, 4099]:
        x = random_floats(rng, (n,)).astype(np.float32)
        y = random_floats(rng, (n,)).astype(np.float32)
        if t == Q.F16:
            x, y = np.clip(x, -6e4, 6e4).astype(np.float16), np.clip(y, -6e4, 6e4).astype(np.float16)
            if n == 1536:
                x[50] = np.inf   # a block of 8 with inf takes the reference path
        fast, ref = c_dot(lib, t, n, x, y, ref=0), c_dot(lib, t, n, x, y, ref=1)
        if not np.isfinite(ref):
            assert (np.isnan(ref) and np.isnan(fast)) or fast == ref
            continue
        mag = float(np.sum(np.abs(x.astype(np.float64) * y.astype(np.float64)))) + 1e-30
        bound = (n / 8 + 3) * 2.0 ** -24 * 1.5
        worst = max(worst, abs(fast - ref) / mag / bound)
    print(f"{t.name}: within {worst:.2f} of the summation bound")
    assert worst <= 1.0
