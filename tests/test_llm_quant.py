"""ggml tensor formats in C (kernel/llm/quant_ref.c via the table in ggml_types.c) against independent references:
gguf.quants (numpy) for dequantization of every type, bit for bit, and for Q8_0/BF16 quantization; numpy
references written here from the format definitions for Q8_1 and Q8_K; numpy's float16 for the half conversions
(exhaustively); numpy float64 dot products for vec_dot (tight: same quantized operands; loose: float activations)."""
import ctypes
import pathlib
import sys

import numpy as np
import pytest
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType as Q
from gguf import quants

sys.path.insert(0, str(pathlib.Path(__file__).parent / "host" / "llm_formats"))
import fmtlib  # noqa: E402

WEIGHT_TYPES = [Q.F32, Q.F16, Q.BF16, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0,
                Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K]
GGUF_QUANTIZABLE = {Q.F32, Q.F16, Q.BF16, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0}
# byte offsets of the fp16 scale fields inside one block (they must hold finite values in random blocks)
HALF_FIELDS = {Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q5_1: [0, 2], Q.Q8_0: [0], Q.Q2_K: [80, 82],
               Q.Q3_K: [108], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208]}
ACT_TYPE = {Q.F32: Q.F32, Q.F16: Q.F16, Q.BF16: Q.BF16, Q.Q4_0: Q.Q8_0, Q.Q5_0: Q.Q8_0, Q.Q8_0: Q.Q8_0,
            Q.Q4_1: Q.Q8_1, Q.Q5_1: Q.Q8_1, Q.Q2_K: Q.Q8_K, Q.Q3_K: Q.Q8_K, Q.Q4_K: Q.Q8_K, Q.Q5_K: Q.Q8_K,
            Q.Q6_K: Q.Q8_K}

# vec_dot(x, quant(y)) vs float64 dot of the same dequantized operands, relative to sum |x_i * y_i|:
# only float32 accumulation order differs (per-block integer sums are exact).
TOL_DOT_SAME_OPERANDS = 2e-6
# vec_dot(x, quant(y)) vs float64 dot(dequant(x), y) with y unquantized: sum_i |x_i| * e_i, e_i the largest
# error the activation format allows for y_i (half an 8-bit step amax/127 per block, plus the fp16 rounding of
# the Q8_0/Q8_1 scale: 127 * 2^-11 steps), plus TOL_DOT_SAME_OPERANDS.
ACT_STEP_FRACTION = 0.5 + 127 * 2.0 ** -11 + 1e-3


@pytest.fixture(scope="module")
def lib():
    return fmtlib.load()


def ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


def c_dequant(lib, t, raw, n, ref=0):
    out = np.empty(n, dtype=np.float32)
    assert lib.fmt_to_float(int(t), ref, ptr(raw), ptr(out), n) == 0
    return out


def c_quant(lib, t, x, ref=0):
    bs, ts = (32, 36) if t == Q.Q8_1 else GGML_QUANT_SIZES[t]
    out = np.zeros(x.size // bs * ts, dtype=np.uint8)
    assert lib.fmt_from_float(int(t), ref, ptr(np.ascontiguousarray(x, dtype=np.float32)), ptr(out), x.size) == 0
    return out


def c_dot(lib, t, n, x, y, ref=0):
    s = ctypes.c_float()
    assert lib.fmt_vec_dot(int(t), ref, n, ctypes.byref(s), ptr(x), ptr(y)) == 0
    return s.value


def same_bits(a, b):
    return np.array_equal(np.asarray(a, np.float32).view(np.uint32), np.asarray(b, np.float32).view(np.uint32))


def finite_halves(rng, n):
    h = rng.integers(0, 1 << 16, size=n, dtype=np.uint16)
    bad = (h & 0x7C00) == 0x7C00
    h[bad] &= np.uint16(0xBFFF)   # clear the top exponent bit of inf/NaN patterns
    return h


def random_floats(rng, shape):
    """Rows with varied magnitudes, outliers, and some all-zero and constant blocks."""
    x = rng.standard_normal(shape).astype(np.float32)
    x *= np.float32(10.0) ** rng.integers(-4, 3, size=shape[:-1] + (1,)).astype(np.float32)
    flat = x.reshape(-1)
    idx = rng.integers(0, flat.size, size=max(1, flat.size // 97))
    flat[idx] *= np.float32(50)
    if shape[-1] >= 64:
        x[..., :32] = 0.0
        x[..., 32:64] = np.float32(0.75)
    return x


def random_blocks(rng, t, n_blocks):
    """Random bytes for every field, fp16 scale fields forced finite (any sign, subnormals included)."""
    _, ts = GGML_QUANT_SIZES[t]
    raw = rng.integers(0, 256, size=(n_blocks, ts), dtype=np.uint8)
    for off in HALF_FIELDS[t]:
        raw[:, off:off + 2] = finite_halves(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    return raw


def weights(rng, t, rows, cols):
    """(raw bytes of a (rows, cols) tensor of type t, its numpy dequantization)."""
    if t in GGUF_QUANTIZABLE:
        raw = quants.quantize(random_floats(rng, (rows, cols)), t)
    else:
        bs, _ = GGML_QUANT_SIZES[t]
        raw = random_blocks(rng, t, rows * cols // bs).reshape(rows, -1)
    raw = np.ascontiguousarray(raw).view(np.uint8)
    return raw, quants.dequantize(raw, t).astype(np.float32)


# ---------------------------------------------------------------- table

def test_table_matches_gguf_sizes(lib):
    for t in WEIGHT_TYPES + [Q.Q8_1, Q.Q8_K]:
        bs, ts, vdt, hf, hd = (ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int(), ctypes.c_int(), ctypes.c_int())
        assert lib.fmt_info(int(t), *(ctypes.byref(v) for v in (bs, ts, vdt, hf, hd))) == 0, t.name
        # gguf-py still lists Q8_1 with the old float d/s (40 bytes); ggml's block_q8_1 holds two halves (36)
        want = (32, 2 + 2 + 32) if t == Q.Q8_1 else GGML_QUANT_SIZES[t]
        assert (bs.value, ts.value) == want, t.name
        if t in ACT_TYPE:
            assert vdt.value == int(ACT_TYPE[t]) and hd.value == 1, t.name
        assert lib.fmt_row_size(int(t), 7 * bs.value) == 7 * ts.value
    for t in [Q.Q8_1, Q.Q8_K, Q.Q8_0, Q.F16, Q.BF16, Q.F32]:
        lib.fmt_info(int(t), *(ctypes.byref(v) for v in (bs, ts, vdt, hf, hd)))
        assert hf.value == 1, t.name   # every activation type can be quantized to
    for bad in [4, 5, 16, 29, 31, 39, 40, -1, 1000]:
        assert lib.fmt_info(bad, *(ctypes.byref(v) for v in (bs, ts, vdt, hf, hd))) == -1
        assert lib.fmt_row_size(bad, 32) == 0


# ---------------------------------------------------------------- half / bfloat16

def test_f16_to_f32_exhaustive(lib):
    h = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    got = c_dequant(lib, Q.F16, h, h.size)
    assert same_bits(got, h.view(np.float16).astype(np.float32))


def test_f32_to_f16_matches_numpy(lib):
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 1 << 32, size=1 << 20, dtype=np.uint64).astype(np.uint32)
    # every half value, the midpoints between neighbours (ties) and one ulp either side of them
    halves = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    f = halves[np.isfinite(halves)].astype(np.float32)
    f = np.sort(f)
    mid = ((f[1:].astype(np.float64) + f[:-1].astype(np.float64)) / 2).astype(np.float32)
    near = np.concatenate([mid, np.nextafter(mid, np.float32(np.inf)), np.nextafter(mid, np.float32(-np.inf)),
                           np.float32([65504, 65519.996, 65520, 65536, 1e-8, 2.0 ** -25, 2.0 ** -24, 3e-8,
                                       np.inf, -np.inf, np.nan])])
    x = np.concatenate([bits.view(np.float32), f, near]).astype(np.float32)
    got = c_quant(lib, Q.F16, x).view(np.uint16)
    with np.errstate(over="ignore"):
        want = x.astype(np.float16).view(np.uint16)
    assert np.array_equal(got, want), np.flatnonzero(got != want)[:10]


def test_bf16_both_ways(lib):
    h = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    assert same_bits(c_dequant(lib, Q.BF16, h, h.size), quants.dequantize(h.view(np.uint8), Q.BF16))
    rng = np.random.default_rng(2)
    x = rng.integers(0, 1 << 32, size=1 << 18, dtype=np.uint64).astype(np.uint32).view(np.float32)
    assert np.array_equal(c_quant(lib, Q.BF16, x), quants.quantize(x, Q.BF16).view(np.uint8))


# ---------------------------------------------------------------- dequantization

@pytest.mark.parametrize("t", WEIGHT_TYPES, ids=lambda t: t.name)
@pytest.mark.parametrize("rows", [1, 3, 7])
def test_dequantize_bit_exact(lib, t, rows):
    rng = np.random.default_rng(100 + int(t) * 10 + rows)
    bs, _ = GGML_QUANT_SIZES[t]
    cols = bs * (5 if bs > 1 else 160)
    raw, want = weights(rng, t, rows, cols)
    assert same_bits(c_dequant(lib, t, raw, rows * cols), want.reshape(-1))
    for r in range(rows):    # row by row, as the forward pass calls it
        assert same_bits(c_dequant(lib, t, np.ascontiguousarray(raw[r]), cols), want[r])


@pytest.mark.parametrize("t", sorted(HALF_FIELDS, key=int), ids=lambda t: t.name)
def test_dequantize_random_blocks(lib, t):
    """Every bit pattern of the non-scale fields, with scales anywhere in the finite fp16 range."""
    rng = np.random.default_rng(7 + int(t))
    bs, _ = GGML_QUANT_SIZES[t]
    raw = random_blocks(rng, t, 2000)
    assert same_bits(c_dequant(lib, t, raw, 2000 * bs), quants.dequantize(raw, t).reshape(-1))


# ---------------------------------------------------------------- activation quantization

def np_roundf(v):
    a = np.abs(v)
    fl = np.floor(a)
    return np.sign(v) * (fl + np.floor(2 * (a - fl)))


def ref_q8_1(x):
    """Q8_1 from its definition: as Q8_0 (d = amax/127, q = round-half-away(x * (1/d))) plus s = fp16(d * sum q)."""
    b = x.reshape(-1, 32).astype(np.float32)
    d = (np.abs(b).max(axis=1, keepdims=True) / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)
    q = np_roundf((b * inv).astype(np.float32)).astype(np.int8)
    s = (q.astype(np.int32).sum(axis=1, keepdims=True).astype(np.float32) * d).astype(np.float32)
    return np.concatenate([d.astype(np.float16).view(np.uint8), s.astype(np.float16).view(np.uint8),
                           q.view(np.uint8)], axis=1).reshape(-1)


def ref_q8_K(x):
    """Q8_K from its definition: per 256, max = the value of largest magnitude (first one), iscale = -127/max,
    q = min(127, round-half-even(iscale * x)), d = 1/iscale (f32), bsums = sums of q over 16; zero block -> zeros."""
    out = []
    for b in x.reshape(-1, 256).astype(np.float32):
        a = np.abs(b)
        if a.max() == 0:
            out.append(np.zeros(292, np.uint8))
            continue
        mx = b[int(np.argmax(a))]
        iscale = np.float32(-127) / mx
        q = np.minimum(np.rint((iscale * b).astype(np.float32)), 127).astype(np.int8)
        bsums = q.astype(np.int16).reshape(16, 16).sum(axis=1).astype(np.int16)
        d = np.float32(1) / iscale
        out.append(np.concatenate([np.float32([d]).view(np.uint8), q.view(np.uint8), bsums.view(np.uint8)]))
    return np.concatenate(out)


def activations(rng, n):
    x = random_floats(rng, (n,))
    if n >= 160:   # a block whose scale is exactly 1 (amax 127), so x * (1/d) lands on .5 ties
        x[128:160] = np.arange(-16, 16, dtype=np.float32) + np.float32(0.5)
        x[128] = np.float32(127)
    return x


def test_quantize_q8_0_matches_gguf(lib):
    rng = np.random.default_rng(11)
    for n in [32, 256, 4096, 32 * 37]:
        x = activations(rng, n)
        assert np.array_equal(c_quant(lib, Q.Q8_0, x), quants.quantize(x, Q.Q8_0).reshape(-1))


def test_quantize_q8_1_matches_definition(lib):
    rng = np.random.default_rng(12)
    for n in [32, 256, 4096, 32 * 37]:
        x = activations(rng, n)
        assert np.array_equal(c_quant(lib, Q.Q8_1, x), ref_q8_1(x))


def test_quantize_q8_K_matches_definition(lib):
    rng = np.random.default_rng(13)
    for n in [256, 4096, 256 * 5]:
        x = activations(rng, n)
        x[-256:] = 0.0  # an all-zero block
        assert np.array_equal(c_quant(lib, Q.Q8_K, x), ref_q8_K(x))
    # ties: values that land exactly on .5 after scaling by -127/max
    x = np.zeros(256, np.float32)
    x[0] = -127.0
    x[1:11] = np.float32([0.5, 1.5, 2.5, -0.5, -1.5, 126.5, -126.5, 3.5, 4.5, 5.5])
    assert np.array_equal(c_quant(lib, Q.Q8_K, x), ref_q8_K(x))


def test_quantize_roundtrip_within_half_step(lib):
    """Dequantized activations are within half a quantization step of the input (C dequant of C quant)."""
    rng = np.random.default_rng(14)
    x = activations(rng, 4096)
    for t, bs in [(Q.Q8_0, 32), (Q.Q8_1, 32), (Q.Q8_K, 256)]:
        y = c_dequant(lib, t, c_quant(lib, t, x), x.size)
        amax = np.abs(x.reshape(-1, bs)).max(axis=1, keepdims=True)
        step = amax / 127
        err = np.abs(y.reshape(-1, bs) - x.reshape(-1, bs))
        assert np.all(err <= step * 0.5 * 1.01 + amax * 2e-3), t.name   # fp16 scale rounding for Q8_0/Q8_1


# ---------------------------------------------------------------- dot products

def act_error_bound(t, y):
    """Largest |dequant(quant(y_i)) - y_i| the activation format allows, per element."""
    ay = np.abs(y.astype(np.float64))
    if t == Q.F32:
        return np.zeros_like(ay)
    if t == Q.F16:
        return ay * 2.0 ** -11 + 2.0 ** -25
    if t == Q.BF16:
        return ay * 2.0 ** -8
    bs = 256 if t == Q.Q8_K else 32
    amax = ay.reshape(-1, bs).max(axis=1, keepdims=True)
    return np.broadcast_to(amax / 127 * ACT_STEP_FRACTION, (ay.size // bs, bs)).reshape(-1)


def act_dequant(t, raw, n):
    """numpy dequantization of activations in their vec_dot type (independent of the C code)."""
    if t in (Q.F32, Q.F16, Q.BF16, Q.Q8_0):
        return quants.dequantize(raw, t).reshape(-1).astype(np.float64)
    if t == Q.Q8_1:
        b = raw.reshape(-1, 36)
        return (b[:, 4:].view(np.int8).astype(np.float32) * b[:, 0:2].view(np.float16).astype(np.float32)
                ).reshape(-1).astype(np.float64)
    b = raw.reshape(-1, 292)
    return (b[:, 0:4].view(np.float32) * b[:, 4:260].view(np.int8).astype(np.float32)).reshape(-1).astype(np.float64)


def dot_same_operands(t, raw_row, x64, yq, yd):
    """float64 dot of the dequantized operands. For Q4_1/Q5_1 x Q8_1 the format defines the min term with the
    stored block sum s (fp16 of d * sum q): sum_i (x_i - m) * y_i + m * s per block."""
    if t not in (Q.Q4_1, Q.Q5_1):
        return np.dot(x64, yd)
    _, ts = GGML_QUANT_SIZES[t]
    m = raw_row.reshape(-1, ts)[:, 2:4].copy().view(np.float16).astype(np.float64)      # (blocks, 1)
    sy = yq.reshape(-1, 36)[:, 2:4].copy().view(np.float16).astype(np.float64)          # (blocks, 1)
    xb, yb = x64.reshape(-1, 32), yd.reshape(-1, 32)
    return float(np.sum((xb - m) * yb) + np.sum(m * sy))


@pytest.mark.parametrize("t", WEIGHT_TYPES, ids=lambda t: t.name)
def test_vec_dot(lib, t):
    rng = np.random.default_rng(300 + int(t))
    bs, _ = GGML_QUANT_SIZES[t]
    at = ACT_TYPE[t]
    worst_same, worst_float = 0.0, 0.0
    for cols in sorted({bs, 4 * max(bs, 64), 9 * 256, 1536}):
        if cols % bs:
            continue
        rows = 5
        raw, xw = weights(rng, t, rows, cols)
        y = activations(rng, cols)
        yq = c_quant(lib, at, y)
        # the C activation quantization equals the independent reference (checked above); use the numpy view
        yd = act_dequant(at, yq, cols)
        for r in range(rows):
            got = c_dot(lib, t, cols, np.ascontiguousarray(raw[r]), yq)
            x64 = xw[r].astype(np.float64)
            mag = np.sum(np.abs(x64 * yd)) + 1e-30
            e_same = abs(got - dot_same_operands(t, raw[r], x64, yq, yd)) / mag
            bound = np.sum(np.abs(x64) * act_error_bound(at, y)) + TOL_DOT_SAME_OPERANDS * mag + 1e-30
            e_float = abs(got - np.dot(x64, y.astype(np.float64))) / bound   # <= 1 required
            worst_same, worst_float = max(worst_same, e_same), max(worst_float, e_float)
    print(f"{t.name}: same operands {worst_same:.2e} of sum|xy| (tol {TOL_DOT_SAME_OPERANDS}), "
          f"vs float activations {worst_float:.2f} of the format's error bound")
    assert worst_same <= TOL_DOT_SAME_OPERANDS
    assert worst_float <= 1.0
