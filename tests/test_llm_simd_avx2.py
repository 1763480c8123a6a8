"""AVX2 twins (kernel/llm/quant_avx2.c, installed by ggml_types_init_simd with AVX2|FMA) against their scalar
references (quant_ref.c, themselves checked against gguf.quants/numpy in test_llm_quant.py), bit for bit: F16
dequantization, the activation quantizers Q8_0/Q8_1/Q8_K (including ties, zeros, subnormal/inf/NaN blocks that
take the reference path), vec_dot Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 (exact per-block integer sums, then the reference's
float expression and summation order), Q4_K/Q5_K/Q6_K, the 4-row and the 4x4-tile kernels (Q4_1 Q8_0 Q4_K Q5_K
Q6_K), also with inf/NaN scales.
F32/F16 rows (FMA, 16 lanes) within the summation bound. Skipped (with the reason) on a host CPU without
AVX2/FMA/F16C."""
import pathlib
import sys

import numpy as np
import pytest
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType as Q

sys.path.insert(0, str(pathlib.Path(__file__).parent / "host" / "llm_formats"))
sys.path.insert(0, str(pathlib.Path(__file__).parent))
import fmtlib  # noqa: E402
from test_llm_quant import (ACT_TYPE, HALF_FIELDS, activations, c_dot, c_quant, ptr, random_blocks, random_floats,  # noqa: E402
                            same_bits, weights)

GGML_CPU_SSE2, GGML_CPU_SSSE3, GGML_CPU_AVX2, GGML_CPU_FMA = 1, 2, 4, 8
ALL = GGML_CPU_SSE2 | GGML_CPU_SSSE3 | GGML_CPU_AVX2 | GGML_CPU_FMA
DOT_TYPES = [Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0]
EXACT_TYPES = [Q.Q4_K, Q.Q5_K, Q.Q6_K]
# the SSE2 twins' tolerance (test_llm_quant_sse2.py): used where SSE2 kernels take part (test_llm_simd_matmul.py)
TOL_SIMD_VS_REF_PER_BLOCK = 2 * 2.0 ** -24 * 1.5


def same_float(a, b):
    """bit-identical, or both NaN (vcvtph2ps quiets a signalling-NaN scale; NaN payloads are not compared)"""
    a, b = np.float32(a), np.float32(b)
    return (np.isnan(a) and np.isnan(b)) or a.tobytes() == b.tobytes()


def host_has_avx2():
    try:
        flags = next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split()
    except (OSError, StopIteration):
        return False
    return {"avx2", "fma", "f16c"} <= set(flags)


pytestmark = pytest.mark.skipif(not host_has_avx2(), reason="host CPU lacks AVX2/FMA/F16C")


def k_weight_rows(rng, t, nr, cols):
    """nr rows of K-quant t: quantized random floats, random bytes in every field (finite fp16 scales), every
    bit set (the largest int32 sums), inf/NaN fp16 d/dmin in some super-blocks"""
    _, ts = GGML_QUANT_SIZES[t]
    nsb = cols // 256
    raw = np.ascontiguousarray(weights(rng, t, nr, cols)[0])
    for r in range(nr):
        kind = r % 4
        if kind == 1:
            raw[r] = random_blocks(rng, t, nsb).reshape(-1)
        elif kind == 2:
            raw[r] = 0xff
            for sb in range(nsb):
                for off in HALF_FIELDS[t]:
                    raw[r, sb * ts + off:sb * ts + off + 2] = np.array([0x3c00], np.uint16).view(np.uint8)
        elif kind == 3 and r >= 4:
            sb = int(rng.integers(0, nsb))
            off = sb * ts + HALF_FIELDS[t][int(rng.integers(0, len(HALF_FIELDS[t])))]
            bad = [0x7C00, 0xFC00, 0x7E00][r % 3]
            raw[r, off:off + 2] = np.array([bad], np.uint16).view(np.uint8)
    return raw


def k_act_rows(lib, rng, n_tok, cols):
    """n_tok Q8_K rows: random activations, all +127 / -127, a NaN scale (float32 d at offset 0) in one"""
    ys = []
    for i in range(n_tok):
        x = activations(rng, cols) if i % 3 == 0 else np.full(cols, 3.0 if i % 3 == 1 else -3.0, np.float32)
        ys.append(c_quant(lib, Q.Q8_K, x))
    if n_tok > 5:
        ys[5][0:4] = np.array([np.nan], np.float32).view(np.uint8)
    return ys


@pytest.fixture(scope="module")
def lib():
    lib = fmtlib.load()
    lib.fmt_init_simd(ALL)
    yield lib
    lib.fmt_init_simd(0)   # the library is shared by the other test modules of this process


def test_avx2_installed_only_with_avx2_and_fma(lib):
    for t in DOT_TYPES + EXACT_TYPES + [Q.F16, Q.F32]:
        assert lib.fmt_uses_ref(int(t)) == 0, t.name
    for t in [Q.Q8_0, Q.Q8_1, Q.Q8_K]:
        assert lib.fmt_from_is_ref(int(t)) == 0, t.name
    assert lib.fmt_kernel_kind(int(Q.Q4_1)) == 1 and lib.fmt_kernel_kind(int(Q.Q8_0)) == 1
    for t in EXACT_TYPES:   # 4-row kernels and 4x4 tiles
        assert lib.fmt_kernel_kind(int(t)) == 1, t.name
    for feats in [GGML_CPU_SSE2, GGML_CPU_SSE2 | GGML_CPU_AVX2, GGML_CPU_SSE2 | GGML_CPU_FMA]:
        lib.fmt_init_simd(feats)   # the SSE2 set only (tests/test_llm_quant_sse2.py)
        assert lib.fmt_simd_name() == b"sse2"
    lib.fmt_init_simd(0)
    assert lib.fmt_kernel_kind(int(Q.Q4_1)) == 0 and lib.fmt_simd_name() == b"ref"
    lib.fmt_init_simd(ALL)
    assert lib.fmt_simd_name() == b"avx2"


@pytest.mark.parametrize("n", [65536, 65536 - 3, 7, 8, 9, 17])
def test_f16_avx2_bit_exact(lib, n):
    h = np.roll(np.arange(1 << 16, dtype=np.uint32).astype(np.uint16), 4321)[:n].copy()
    got = np.empty(n, dtype=np.float32)
    assert lib.fmt_to_float(int(Q.F16), 0, ptr(h), ptr(got), n) == 0
    assert same_bits(got, h.view(np.float16).astype(np.float32))


def special_rows(rng, bs):
    """Blocks that stress the quantizers: zeros, ties, subnormal amax, huge values, inf, NaN, -0.0."""
    rows = []
    x = np.zeros(bs, np.float32)
    x[0] = 127.0
    x[1:33 if bs > 32 else 32] = (np.arange(-15.5, 16.5, 1.0, dtype=np.float32)[:(32 if bs > 32 else 31)])
    rows.append(x)
    rows.append(np.zeros(bs, np.float32))
    rows.append(np.full(bs, -0.0, np.float32))
    rows.append((rng.standard_normal(bs) * 1e-39).astype(np.float32))   # subnormal: reference path
    rows.append((rng.standard_normal(bs) * 1e-36).astype(np.float32))
    rows.append((rng.standard_normal(bs) * 1e37).astype(np.float32))
    for bad in [np.inf, -np.inf, np.nan]:
        r = rng.standard_normal(bs).astype(np.float32)
        r[bs // 3] = bad
        rows.append(r)
    r = np.full(bs, 3.0, np.float32)
    r[5] = -3.0                                                        # first-on-ties max for Q8_K
    rows.append(r)
    return np.concatenate(rows)


@pytest.mark.parametrize("t", [Q.Q8_0, Q.Q8_1, Q.Q8_K], ids=lambda t: t.name)
def test_quantize_avx2_bit_exact(lib, t):
    rng = np.random.default_rng(1100 + int(t))
    bs = 256 if t == Q.Q8_K else 32
    inputs = [activations(rng, n) for n in ([256, 4096, 256 * 5] if bs == 256 else [32, 64, 32 * 37, 4096, 576])]
    inputs.append(random_floats(rng, (bs * 9,)).reshape(-1))
    inputs.append(special_rows(rng, bs))
    for x in inputs:
        with np.errstate(all="ignore"):
            fast, ref = c_quant(lib, t, x, ref=0), c_quant(lib, t, x, ref=1)
        assert np.array_equal(fast, ref), (t.name, x.size)


@pytest.mark.parametrize("t", DOT_TYPES, ids=lambda t: t.name)
def test_vec_dot_avx2_bit_exact(lib, t):
    rng = np.random.default_rng(1200 + int(t))
    for cols in [32, 64, 96, 128, 160, 576, 1536, 32 * 99]:   # 1..3 blocks left after steps of 4
        rows = 3
        raw, _ = weights(rng, t, rows, cols)
        raw2 = random_blocks(rng, t, rows * cols // 32).reshape(rows, -1)   # every bit pattern of the blocks
        if t == Q.Q8_0:
            raw2[0, 2:34] = 0x80   # int8 -128 weights (the sign trick must hold for them)
        yq = c_quant(lib, ACT_TYPE[t], activations(rng, cols))
        for raws in [raw, raw2]:
            for r in range(rows):
                row = np.ascontiguousarray(raws[r])
                fast, ref = c_dot(lib, t, cols, row, yq, ref=0), c_dot(lib, t, cols, row, yq, ref=1)
                assert same_float(fast, ref), (cols, r, fast, ref)


@pytest.mark.parametrize("t", DOT_TYPES, ids=lambda t: t.name)
def test_vec_dot_avx2_nonfinite_scales(lib, t):
    """Blocks with inf/NaN fp16 scales (weights or activations): the same inf/NaN outcome as the reference."""
    rng = np.random.default_rng(1250 + int(t))
    cols = 32 * 9
    yq0 = c_quant(lib, ACT_TYPE[t], activations(rng, cols))
    ys = 36 if ACT_TYPE[t] == Q.Q8_1 else 34
    for bad in [0x7C00, 0xFC00, 0x7E00, 0x7C01]:
        for blk in [0, 3, 8]:
            raw = random_blocks(rng, t, cols // 32)
            raw[blk, 0:2] = np.array([bad], dtype=np.uint16).view(np.uint8)
            row = np.ascontiguousarray(raw.reshape(-1))
            yq = yq0.copy()
            yq[ys * ((blk + 4) % 9):ys * ((blk + 4) % 9) + 2] = np.array([bad ^ 0x8000], np.uint16).view(np.uint8)
            for y in [yq0, yq]:
                fast, ref = c_dot(lib, t, cols, row, y, ref=0), c_dot(lib, t, cols, row, y, ref=1)
                assert same_float(fast, ref), (hex(bad), blk, fast, ref)


@pytest.mark.parametrize("t", EXACT_TYPES, ids=lambda t: t.name)
def test_vec_dot_avx2_kquants_bit_exact(lib, t):
    rng = np.random.default_rng(1300 + int(t))
    for cols in [256, 512, 256 * 3, 256 * 6]:
        raw, _ = weights(rng, t, 5, cols)
        yq = c_quant(lib, Q.Q8_K, activations(rng, cols))
        for r in range(5):
            row = np.ascontiguousarray(raw[r])
            fast, ref = c_dot(lib, t, cols, row, yq, ref=0), c_dot(lib, t, cols, row, yq, ref=1)
            assert np.float32(fast).tobytes() == np.float32(ref).tobytes(), (cols, r, fast, ref)
    # every q8 at -127/127 and all quant/scale bits set stress the int16 pair sums and int32 lanes
    raw = np.ascontiguousarray(weights(rng, t, 1, 256)[0][0])
    raw[:] = 0xff
    for off in [208] if t == Q.Q6_K else [0, 2]:
        raw[off:off + 2] = np.array([0x3c00], dtype=np.uint16).view(np.uint8)
    for sign in [1, -1]:
        yq = c_quant(lib, Q.Q8_K, np.full(256, sign * 3.0, dtype=np.float32))
        fast, ref = c_dot(lib, t, 256, raw, yq, ref=0), c_dot(lib, t, 256, raw, yq, ref=1)
        assert fast == ref and np.isfinite(ref)
    if t == Q.Q6_K:   # scales -128 (int8) with q = 0 (value -32): the largest negative products
        raw[:] = 0
        raw[192:208] = 0x80
        raw[208:210] = np.array([0x3c00], dtype=np.uint16).view(np.uint8)
        yq = c_quant(lib, Q.Q8_K, np.full(256, -3.0, dtype=np.float32))
        assert c_dot(lib, t, 256, raw, yq, ref=0) == c_dot(lib, t, 256, raw, yq, ref=1)


@pytest.mark.parametrize("t", DOT_TYPES + EXACT_TYPES, ids=lambda t: t.name)
def test_vec_dot_rows_avx2_bit_exact(lib, t):
    """ggml_vec_dot_rows (4-row AVX2 kernels for Q4_1/Q8_0, row-by-row twins otherwise) equals the row-by-row
    references, for row counts leaving 0..3 leftover rows, also with an inf scale in one row."""
    rng = np.random.default_rng(1400 + int(t))
    bs, ts = GGML_QUANT_SIZES[t]
    for cols in [bs, 576 if bs == 32 else 512, 1536]:
        yq = c_quant(lib, ACT_TYPE[t], activations(rng, cols))
        for nr in [1, 3, 4, 5, 8, 9, 11]:
            raw = np.ascontiguousarray(weights(rng, t, nr, cols)[0])
            if nr >= 4 and bs == 32:
                raw[1, 0:2] = np.array([0x7C00], np.uint16).view(np.uint8)
            out = np.empty(nr, dtype=np.float32)
            assert lib.fmt_vec_dot_rows(int(t), cols, nr, ptr(out), ptr(raw), raw.shape[1], ptr(yq)) == 0
            for r in range(nr):
                ref = c_dot(lib, t, cols, np.ascontiguousarray(raw[r]), yq, ref=1)
                assert same_float(out[r], ref), (cols, nr, r, out[r], ref)


@pytest.mark.parametrize("t", EXACT_TYPES, ids=lambda t: t.name)
def test_vec_dot_rows_avx2_kquants_bit_exact(lib, t):
    """the 4-row K-quant kernels (with the weight-row prefetch) equal the row-by-row references: random bytes in
    every field, every bit set, inf/NaN scales, activations at +-127 and a NaN activation scale, leftover rows,
    rows further apart than their size"""
    rng = np.random.default_rng(1500 + int(t))
    ts = GGML_QUANT_SIZES[t][1]
    for nsb in [1, 3, 16]:
        cols = 256 * nsb
        for yq in k_act_rows(lib, rng, 6, cols)[2:]:
            for nr in [1, 3, 4, 5, 7, 8, 9, 13, 21]:
                for pad in [0, 3 * ts]:
                    raw = np.zeros((nr, nsb * ts + pad), np.uint8)
                    raw[:, :nsb * ts] = k_weight_rows(rng, t, nr, cols)
                    out = np.empty(nr, dtype=np.float32)
                    assert lib.fmt_vec_dot_rows(int(t), cols, nr, ptr(out), ptr(raw), raw.shape[1], ptr(yq)) == 0
                    for r in range(nr):
                        ref = c_dot(lib, t, cols, np.ascontiguousarray(raw[r, :nsb * ts]), yq, ref=1)
                        assert same_float(out[r], ref), (nsb, nr, pad, r, out[r], ref)


@pytest.mark.parametrize("t", EXACT_TYPES, ids=lambda t: t.name)
def test_tiles_avx2_kquants_bit_exact(lib, t):
    """llm/matmul.c with the K-quant 4x4 AVX2 tiles (and the 4-row kernels for leftover tokens/rows) equals the
    row-by-row references for every (token, row)"""
    rng = np.random.default_rng(1600 + int(t))
    for n_rows, nsb, n_tok in [(4, 1, 4), (9, 3, 7), (13, 2, 9), (8, 5, 16), (6, 1, 5), (5, 16, 6)]:
        cols = 256 * nsb
        raw = k_weight_rows(rng, t, n_rows, cols)
        yqs = k_act_rows(lib, rng, n_tok, cols)
        out = np.full((n_tok, n_rows), np.nan, dtype=np.float32)
        yq = np.ascontiguousarray(np.concatenate(yqs))
        assert lib.fmt_matmul(int(t), n_rows, cols, ptr(raw), ptr(yq), n_tok, ptr(out)) == 0
        for ti in range(n_tok):
            for r in range(n_rows):
                ref = c_dot(lib, t, cols, np.ascontiguousarray(raw[r]), yqs[ti], ref=1)
                assert same_float(out[ti, r], ref), (n_rows, nsb, n_tok, ti, r, out[ti, r], ref)


# F32/F16 rows: 16 float lanes with FMA vs the references' double accumulation: within the recursive summation
# bound (n/16 + 4) * 2^-24 of sum |x_i y_i|, with margin.
@pytest.mark.parametrize("t", [Q.F32, Q.F16], ids=lambda t: t.name)
def test_vec_dot_float_rows_avx2(lib, t):
    rng = np.random.default_rng(1500 + int(t))
    worst = 0.0
    for n in [1, 7, 15, 16, 17, 64, 576, 1536, 4099]:
        x = random_floats(rng, (n,)).astype(np.float32)
        y = random_floats(rng, (n,)).astype(np.float32)
        if t == Q.F16:
            x, y = np.clip(x, -6e4, 6e4).astype(np.float16), np.clip(y, -6e4, 6e4).astype(np.float16)
        fast, ref = c_dot(lib, t, n, x, y, ref=0), c_dot(lib, t, n, x, y, ref=1)
        mag = float(np.sum(np.abs(x.astype(np.float64) * y.astype(np.float64)))) + 1e-30
        bound = (n / 16 + 4) * 2.0 ** -24 * 1.5
        worst = max(worst, abs(fast - ref) / mag / bound)
    print(f"{t.name}: within {worst:.2f} of the summation bound")
    assert worst <= 1.0
