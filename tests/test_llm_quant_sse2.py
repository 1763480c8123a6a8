"""SSE2 twins (kernel/llm/quant_sse2.c, installed by ggml_types_init_simd with GGML_CPU_SSE2) against their scalar
references (quant_ref.c, themselves checked against gguf.quants/numpy in test_llm_quant.py), bit for bit:
F16 dequantization over all 65536 halves (inf/NaN payloads included), the activation quantizers Q8_0/Q8_1/Q8_K
(ties, zeros, subnormal/huge/inf/NaN blocks), vec_dot Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q4_K/Q5_K/Q6_K on random data
with odd block counts, the 4-row kernels (row counts leaving 1..3 rows, rows further apart than their size) and
the 4x4 tiles through llm/matmul.c (partial row and token edges, more than one 64-token block), with inf/NaN
fp16 scales in weights and activations and the extreme int8/scale values. Non-finite results are compared as
"both NaN" (NaN payloads may differ where an operand order of a commutative multiply differs) or bit for bit.
F32/F16 rows are within the summation bound (the references add in double in index order; see the file).
The object must hold SSE/SSE2 instructions only: it is compiled with the toolchain's kernel flags and
disassembled."""
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType as Q

sys.path.insert(0, str(pathlib.Path(__file__).parent / "host" / "llm_formats"))
sys.path.insert(0, str(pathlib.Path(__file__).parent))
import fmtlib  # noqa: E402
from test_llm_quant import (ACT_TYPE, HALF_FIELDS, activations, c_dot, c_quant, ptr, random_blocks,  # noqa: E402
                            random_floats, same_bits, weights)

ROOT = pathlib.Path(__file__).resolve().parents[1]
GGML_CPU_SSE2 = 1
Q32_TYPES = [Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0]
K_TYPES = [Q.Q4_K, Q.Q5_K, Q.Q6_K]
ALL_TYPES = Q32_TYPES + K_TYPES
ACT_SIZE = {Q.Q8_0: 34, Q.Q8_1: 36, Q.Q8_K: 292}


@pytest.fixture(scope="module")
def lib():
    lib = fmtlib.load()
    lib.fmt_init_simd(GGML_CPU_SSE2)
    yield lib
    lib.fmt_init_simd(0)   # the library is shared by the other test modules of this process


def same_float(a, b):
    a, b = np.float32(a), np.float32(b)
    return (np.isnan(a) and np.isnan(b)) or a.tobytes() == b.tobytes()


def ref_dot(lib, t, cols, row, yq):
    return c_dot(lib, t, cols, np.ascontiguousarray(row), yq, ref=1)


def test_twins_installed_and_removable(lib):
    assert lib.fmt_simd_name() == b"sse2"
    for t in ALL_TYPES + [Q.F16, Q.F32]:
        assert lib.fmt_uses_ref(int(t)) == 0, t.name
    for t in ALL_TYPES:   # 4-row kernels and 4x4 tiles for every quantized type
        assert lib.fmt_kernel_kind(int(t)) == 1, t.name
    for t in [Q.Q8_0, Q.Q8_1, Q.Q8_K]:
        assert lib.fmt_from_is_ref(int(t)) == 0, t.name
    for t in [Q.Q2_K, Q.Q3_K, Q.BF16]:
        assert lib.fmt_uses_ref(int(t)) == 1 and lib.fmt_kernel_kind(int(t)) == 0, t.name
    lib.fmt_init_simd(0)
    assert all(lib.fmt_uses_ref(int(t)) == 1 and lib.fmt_kernel_kind(int(t)) == 0 for t in ALL_TYPES + [Q.F16])
    assert all(lib.fmt_from_is_ref(int(t)) == 1 for t in [Q.Q8_0, Q.Q8_1, Q.Q8_K])
    lib.fmt_init_simd(GGML_CPU_SSE2)


def test_object_is_sse2_only(tmp_path):
    """quant_sse2.c compiled with the toolchain's kernel flags (which must not enable more than SSE2) holds no
    instruction beyond SSE/SSE2 on xmm registers: the guest on an SSE2-only CPU must not fault."""
    sys.path.insert(0, str(ROOT))
    from cllm_build.compile import CFLAGS, OPT_RELEASE
    assert "-msse2" in CFLAGS and not [f for f in CFLAGS if re.match(r"-m(arch|ssse3|sse3|sse4|avx|fma|f16c)", f)]
    assert "-msse2" in fmtlib.CFLAGS and not [f for f in fmtlib.CFLAGS if re.match(r"-m(arch|ssse3|sse4|avx)", f)]
    obj = tmp_path / "quant_sse2.o"
    subprocess.run(["gcc", *CFLAGS, *OPT_RELEASE, "-I" + str(ROOT / "kernel"), "-I" + str(ROOT / "tests/host/include"),
                    "-c", str(ROOT / "kernel/llm/quant_sse2.c"), "-o", str(obj)], check=True)
    dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(obj)], check=True, capture_output=True,
                         text=True).stdout
    sse_sse2 = set("""movd movq movdqa movdqu movaps movups movss movhlps movlhps movlps movhps movapd movupd movsd
        paddb paddw paddd paddq psubb psubw psubd psubq pmaddwd pmullw pmulhw pmulhuw pmuludq psadbw pavgb pavgw
        pand pandn por pxor andps andnps orps xorps andpd andnpd orpd xorpd
        psllw pslld psllq psrlw psrld psrlq psraw psrad pslldq psrldq
        pcmpeqb pcmpeqw pcmpeqd pcmpgtb pcmpgtw pcmpgtd pminsw pmaxsw pminub pmaxub
        packsswb packssdw packuswb punpcklbw punpcklwd punpckldq punpcklqdq punpckhbw punpckhwd punpckhdq
        punpckhqdq pshufd pshuflw pshufhw shufps shufpd unpcklps unpckhps unpcklpd unpckhpd pinsrw pextrw
        pmovmskb movmskps movmskpd addps addss subps subss mulps mulss divps divss maxps maxss minps minss
        sqrtps sqrtss cmpps cmpss cmpeqps cmpltps cmpleps cmpunordps cmpneqps cmpnltps cmpnleps cmpordps
        cmpeqss cmpltss cmpless cmpunordss cmpneqss comiss ucomiss comisd ucomisd
        cvtdq2ps cvtps2dq cvttps2dq cvtsi2ss cvtsi2ssl cvtsi2ssq cvtss2si cvttss2si cvtss2sd cvtsd2ss cvtps2pd
        cvtpd2ps addpd addsd mulpd mulsd subpd subsd divsd""".split())
    bad = set()
    for line in dis.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and "%xmm" in line:
            mnem = parts[1].split()[0]
            if mnem not in sse_sse2:
                bad.add(mnem)
    assert not bad, f"instructions beyond SSE2 in quant_sse2.o: {sorted(bad)}"
    assert "%xmm" in dis and "pmaddwd" in dis and "prefetcht1" in dis   # the kernels are really there


@pytest.mark.parametrize("n", [65536, 65536 - 3, 7, 8, 9])
def test_f16_sse2_bit_exact(lib, n):
    h = np.roll(np.arange(1 << 16, dtype=np.uint32).astype(np.uint16), 12345)[:n].copy()
    got = np.empty(n, dtype=np.float32)
    assert lib.fmt_to_float(int(Q.F16), 0, ptr(h), ptr(got), n) == 0
    assert same_bits(got, h.view(np.float16).astype(np.float32))


def special_rows(rng, bs):
    """Blocks that stress the quantizers: ties, zeros, -0.0, subnormal/tiny/huge amax, inf, NaN, the first of two
    equal magnitudes (Q8_K's signed max), a value that rounds to 127.5 * scale."""
    rows = []
    x = np.zeros(bs, np.float32)
    x[0] = 127.0
    x[1:32] = np.arange(-15.5, 15.5, 1.0, dtype=np.float32)   # x * (1/d) lands on .5: half away from zero
    rows.append(x)
    rows.append(np.zeros(bs, np.float32))
    rows.append(np.full(bs, -0.0, np.float32))
    rows.append((rng.standard_normal(bs) * 1e-39).astype(np.float32))   # subnormal amax: the reference path
    rows.append((rng.standard_normal(bs) * 1e-36).astype(np.float32))
    rows.append((rng.standard_normal(bs) * 1e-30).astype(np.float32))
    rows.append((rng.standard_normal(bs) * 1e37).astype(np.float32))
    rows.append(np.full(bs, 3.4e38, np.float32))
    for bad in [np.inf, -np.inf, np.nan]:
        r = rng.standard_normal(bs).astype(np.float32)
        r[bs // 3] = bad
        rows.append(r)
    for first in [3.0, -3.0]:
        r = np.full(bs, -first, np.float32)
        r[5] = first
        r[:5] = 0.5
        rows.append(r)
    r = rng.integers(-127, 128, size=bs).astype(np.float32) * np.float32(0.25)   # exact multiples: ties
    r[7] = 31.75
    rows.append(r)
    return np.concatenate(rows)


@pytest.mark.parametrize("t", [Q.Q8_0, Q.Q8_1, Q.Q8_K], ids=lambda t: t.name)
def test_quantize_sse2_bit_exact(lib, t):
    rng = np.random.default_rng(1700 + int(t))
    bs = 256 if t == Q.Q8_K else 32
    inputs = [activations(rng, n) for n in ([256, 4096, 256 * 5] if bs == 256 else [32, 64, 32 * 37, 4096, 576])]
    inputs.append(random_floats(rng, (bs * 9,)).reshape(-1))
    inputs.append((rng.standard_normal(bs * 33) * 1e4).astype(np.float32))
    inputs.append(special_rows(rng, bs))
    for x in inputs:
        with np.errstate(all="ignore"):
            fast, ref = c_quant(lib, t, x, ref=0), c_quant(lib, t, x, ref=1)
        assert np.array_equal(fast, ref), (t.name, x.size, np.nonzero(fast != ref)[0][:8])


def weight_rows(rng, t, nr, cols):
    """nr rows of type t: quantized random floats (Q4_0..Q8_0) or random bytes in every field with finite fp16
    scales, every bit set with scale 1.0 (the largest integer sums), random bytes, and in some rows an inf/NaN
    fp16 scale (d, or m / dmin) in one block"""
    bs, ts = GGML_QUANT_SIZES[t]
    nblk = cols // bs
    raw = np.ascontiguousarray(weights(rng, t, nr, cols)[0])
    for r in range(nr):
        kind = r % 4
        if kind == 1:
            raw[r] = random_blocks(rng, t, nblk).reshape(-1)
        elif kind == 2:
            raw[r] = 0xff if t != Q.Q8_0 else 0x80   # Q8_0: int8 -128 weights
            for b in range(nblk):
                for off in HALF_FIELDS[t]:
                    raw[r, b * ts + off:b * ts + off + 2] = np.array([0x3c00], np.uint16).view(np.uint8)
        elif kind == 3 and r >= 4:
            b = int(rng.integers(0, nblk))
            off = b * ts + HALF_FIELDS[t][int(rng.integers(0, len(HALF_FIELDS[t])))]
            raw[r, off:off + 2] = np.array([[0x7C00, 0xFC00, 0x7E00, 0x7C01][r % 4]], np.uint16).view(np.uint8)
    return raw


def act_rows(lib, rng, t, n_tok, cols):
    """n_tok activation rows in t's activation type: random, all +127, all -127, and in row 5 (when there) an
    inf/NaN scale (Q8_0/Q8_1: fp16 d or s of one block; Q8_K: the float d of one super-block)"""
    at = ACT_TYPE[t]
    ys = []
    for i in range(n_tok):
        x = activations(rng, cols) if i % 3 == 0 else np.full(cols, 3.0 if i % 3 == 1 else -3.0, np.float32)
        ys.append(c_quant(lib, at, x, ref=1))
    if n_tok > 5:
        nblk = len(ys[5]) // ACT_SIZE[at]
        off = ACT_SIZE[at] * (nblk // 2)
        if at == Q.Q8_K:
            ys[5][off:off + 4] = np.array([np.nan], np.float32).view(np.uint8)
        else:
            off += 2 if at == Q.Q8_1 else 0
            ys[5][off:off + 2] = np.array([0xFC00], np.uint16).view(np.uint8)
    return ys


def test_vec_dot_sse2_bit_exact(lib):
    rng = np.random.default_rng(1800)
    for t in ALL_TYPES:
        bs = GGML_QUANT_SIZES[t][0]
        for nblk in ([1, 2, 3, 4, 5, 7, 18, 48, 99] if bs == 32 else [1, 2, 3, 5, 6]):
            cols = bs * nblk
            raw = weight_rows(rng, t, 8, cols)
            for yq in act_rows(lib, rng, t, 6, cols)[::2] + act_rows(lib, rng, t, 6, cols)[5:]:
                for r in range(8):
                    fast, ref = c_dot(lib, t, cols, np.ascontiguousarray(raw[r]), yq, ref=0), ref_dot(lib, t, cols,
                                                                                                    raw[r], yq)
                    assert same_float(fast, ref), (t.name, cols, r, fast, ref)


@pytest.mark.parametrize("t", Q32_TYPES, ids=lambda t: t.name)
def test_vec_dot_sse2_nonfinite_scales(lib, t):
    """inf/NaN fp16 scales in weight blocks and activation blocks, at the first, a middle and the last block of
    a 4-block step: the reference's inf/NaN outcome (and the finite ones elsewhere)"""
    rng = np.random.default_rng(1850 + int(t))
    cols = 32 * 9
    yq0 = c_quant(lib, ACT_TYPE[t], activations(rng, cols))
    ys = ACT_SIZE[ACT_TYPE[t]]
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


@pytest.mark.parametrize("t", K_TYPES, ids=lambda t: t.name)
def test_vec_dot_sse2_kquants_extremes(lib, t):
    """every quant and scale bit set against activations at +-127 (the largest int32 sums), Q6_K's -128 scales"""
    raw = np.full(GGML_QUANT_SIZES[t][1], 0xff, np.uint8)
    for off in HALF_FIELDS[t]:
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


@pytest.mark.parametrize("t", ALL_TYPES, ids=lambda t: t.name)
def test_vec_dot_rows_sse2_bit_exact(lib, t):
    """ggml_vec_dot_rows (the 4-row kernels, prefetching 16 rows ahead) equals the row-by-row references: row
    counts leaving 0..3 rows, rows further apart than their size, inf/NaN scales in weights and activations"""
    rng = np.random.default_rng(1900 + int(t))
    bs, ts = GGML_QUANT_SIZES[t]
    for nblk in ([1, 3, 18, 48, 64, 65, 130] if bs == 32 else [1, 3, 6]):   # 65, 130: several ROWS_Y_CHUNK passes
        cols = bs * nblk
        for yq in act_rows(lib, rng, t, 6, cols)[::2] + act_rows(lib, rng, t, 6, cols)[5:]:
            for nr in [1, 2, 3, 4, 5, 7, 8, 9, 13, 21]:
                for pad in [0, 3 * ts]:
                    raw = np.zeros((nr, nblk * ts + pad), np.uint8)
                    raw[:, :nblk * ts] = weight_rows(rng, t, nr, cols)
                    out = np.full(nr + 1, -7.0, dtype=np.float32)
                    assert lib.fmt_vec_dot_rows(int(t), cols, nr, ptr(out), ptr(raw), raw.shape[1], ptr(yq)) == 0
                    assert out[nr] == -7.0, "nothing written past the last row"
                    for r in range(nr):
                        ref = ref_dot(lib, t, cols, raw[r, :nblk * ts], yq)
                        assert same_float(out[r], ref), (nblk, nr, pad, r, out[r], ref)


@pytest.mark.parametrize("t", ALL_TYPES, ids=lambda t: t.name)
def test_tiles_sse2_bit_exact(lib, t):
    """llm/matmul.c with the 4x4 SSE2 tiles (and the 4-row kernels for the partial row and token edges) equals
    the row-by-row references for every (token, row); n_tok 67 spans two 64-token blocks"""
    rng = np.random.default_rng(2000 + int(t))
    bs = GGML_QUANT_SIZES[t][0]
    shapes = [(4, 1, 4), (9, 3, 7), (13, 2, 9), (8, 5, 16), (6, 1, 5), (5, 7, 6), (7, 2, 67)]
    for n_rows, nblk, n_tok in shapes:
        cols = bs * nblk * (3 if bs == 32 else 1)
        raw = weight_rows(rng, t, n_rows, cols)
        yqs = act_rows(lib, rng, t, n_tok, cols)
        out = np.full((n_tok, n_rows), np.nan, dtype=np.float32)
        assert lib.fmt_matmul(int(t), n_rows, cols, ptr(raw), ptr(np.ascontiguousarray(np.concatenate(yqs))), n_tok,
                              ptr(out)) == 0
        for ti in range(n_tok):
            for r in range(n_rows):
                ref = ref_dot(lib, t, cols, raw[r], yqs[ti])
                assert same_float(out[ti, r], ref), (n_rows, nblk, n_tok, ti, r, out[ti, r], ref)


def magnitude(t, raw_row, x, y, yq):
    """Sum of the magnitudes of the terms a dot product adds: |x_i y_i|, but for Q4_1/Q5_1 the scaled part and the
    min part separately (x_i = d q_i + m can cancel while d q_i and m are large): sum |x_i - m| |y_i| + sum |m s|.
    (tests/test_llm_simd_matmul.py scales its numpy comparison by it.)"""
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    if t not in (Q.Q4_1, Q.Q5_1):
        return float(np.sum(np.abs(x64 * y64))) + 1e-30
    m = raw_row.reshape(-1, GGML_QUANT_SIZES[t][1])[:, 2:4].copy().view(np.float16).astype(np.float64)
    sy = yq.reshape(-1, 36)[:, 2:4].copy().view(np.float16).astype(np.float64)
    return float(np.sum(np.abs((x64.reshape(-1, 32) - m) * y64.reshape(-1, 32))) + np.sum(np.abs(m * sy))) + 1e-30


# F32/F16 twins keep 8 float partial sums where the references accumulate in double in index order (which no
# vector order reproduces): within the recursive summation bound (n/8 + 3) * 2^-24 of sum |x_i y_i|, with margin.
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
                x[50] = np.inf
        fast, ref = c_dot(lib, t, n, x, y, ref=0), c_dot(lib, t, n, x, y, ref=1)
        if not np.isfinite(ref):
            assert (np.isnan(ref) and np.isnan(fast)) or fast == ref
            continue
        mag = float(np.sum(np.abs(x.astype(np.float64) * y.astype(np.float64)))) + 1e-30
        bound = (n / 8 + 3) * 2.0 ** -24 * 1.5
        worst = max(worst, abs(fast - ref) / mag / bound)
    print(f"{t.name}: within {worst:.2f} of the summation bound")
    assert worst <= 1.0
