"""AVX-512 VNNI twins (kernel/llm/quant_avx512.c, installed over the AVX2 set by ggml_types_init_simd with
GGML_CPU_AVX512) against their scalar references (quant_ref.c, themselves checked against gguf.quants/numpy in
test_llm_quant.py), bit for bit: vec_dot, the 8-row kernels (vec_dot_rows) and the 4x4 tiles (through
llm/matmul.c) for Q4_0 Q4_1 Q5_0 Q5_1 Q8_0, with block counts leaving 1..3 blocks after the 4-block steps, row
and token counts leaving leftovers, rows further apart than their size, every bit pattern of the blocks, int8
-128 weights and inf/NaN scales; vec_dot, rows and tiles Q4_K/Q5_K/Q6_K x Q8_K (random bytes in every field,
every bit set, inf/NaN scales); the activation quantizers Q8_0/Q8_1/Q8_K (ties, zeros,
subnormal, huge, inf/NaN blocks that take the reference path). Skipped (with the reason) on a host CPU without
AVX-512 F/BW/VL/VNNI."""
import pathlib
import sys

import numpy as np
import pytest
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType as Q

sys.path.insert(0, str(pathlib.Path(__file__).parent / "host" / "llm_formats"))
sys.path.insert(0, str(pathlib.Path(__file__).parent))
import fmtlib  # noqa: E402
from test_llm_quant import (ACT_TYPE, activations, c_dot, c_quant, ptr, random_blocks, random_floats,  # noqa: E402
                            weights)
from test_llm_simd_avx2 import (ALL, GGML_CPU_SSE2, k_act_rows, k_weight_rows, same_float,  # noqa: E402
                                special_rows)

GGML_CPU_AVX512 = 16
ALL512 = ALL | GGML_CPU_AVX512
TYPES = [Q.Q4_1, Q.Q8_0, Q.Q4_0, Q.Q5_0, Q.Q5_1]   # the types with AVX-512 rows and tile kernels
K_TYPES = [Q.Q4_K, Q.Q5_K, Q.Q6_K]   # AVX-512 vec_dot, 4-row kernels and 4x4 tiles against Q8_K
BLOCK_COUNTS = [1, 2, 3, 4, 5, 7, 8, 18, 48, 99]   # 0..3 blocks after the 4-block steps; SmolLM2's 18 and 48


def host_has_avx512():
    try:
        flags = set(next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split())
    except (OSError, StopIteration):
        return False
    return {"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni"} <= flags


pytestmark = pytest.mark.skipif(not host_has_avx512(), reason="host CPU lacks AVX-512 F/BW/VL/VNNI")


@pytest.fixture(scope="module")
def lib():
    lib = fmtlib.load()
    lib.fmt_init_simd(ALL512)
    yield lib
    lib.fmt_init_simd(0)   # the library is shared by the other test modules of this process


def test_avx512_installed_only_with_its_flag(lib):
    assert lib.fmt_simd_name() == b"avx512"
    for t in TYPES:
        assert lib.fmt_uses_ref(int(t)) == 0 and lib.fmt_kernel_kind(int(t)) == 1, t.name
    lib.fmt_init_simd(ALL)   # AVX2 + FMA without the AVX-512 flag: the AVX2 set
    assert lib.fmt_simd_name() == b"avx2"
    lib.fmt_init_simd(GGML_CPU_SSE2 | GGML_CPU_AVX512)   # AVX-512 sits on the AVX2 set: no AVX2, no AVX-512
    assert lib.fmt_simd_name() == b"sse2"
    lib.fmt_init_simd(0)
    assert lib.fmt_simd_name() == b"ref"
    lib.fmt_init_simd(ALL512)
    assert lib.fmt_simd_name() == b"avx512"


@pytest.mark.parametrize("t", [Q.Q8_0, Q.Q8_1, Q.Q8_K], ids=lambda t: t.name)
def test_quantize_avx512_bit_exact(lib, t):
    rng = np.random.default_rng(5100 + int(t))
    bs = 256 if t == Q.Q8_K else 32
    inputs = [activations(rng, n) for n in ([256, 4096, 256 * 5] if bs == 256 else [32, 64, 32 * 37, 4096, 576])]
    inputs.append(random_floats(rng, (bs * 9,)).reshape(-1))
    inputs.append(special_rows(rng, bs))
    for x in inputs:
        with np.errstate(all="ignore"):
            fast, ref = c_quant(lib, t, x, ref=0), c_quant(lib, t, x, ref=1)
        assert np.array_equal(fast, ref), (t.name, x.size)


def bad_scale_rows(rng, t, raw):
    """copies of raw with inf/NaN fp16 scales in some blocks (d, and m for Q4_1/Q5_1)"""
    out = []
    for bad in [0x7C00, 0xFC00, 0x7E00, 0x7C01]:
        r = raw.copy()
        ts = 36 if t == Q.Q8_1 else GGML_QUANT_SIZES[t][1]   # gguf has an older Q8_1 block size
        nblk = r.shape[-1] // ts
        for blk in {0, nblk // 2, nblk - 1}:
            off = ts * blk + (2 if t in (Q.Q4_1, Q.Q5_1) and blk % 2 else 0)
            r[..., off:off + 2] = np.array([bad], np.uint16).view(np.uint8)
        out.append(r)
    return out


@pytest.mark.parametrize("t", TYPES, ids=lambda t: t.name)
def test_vec_dot_avx512_bit_exact(lib, t):
    rng = np.random.default_rng(5200 + int(t))
    for nblk in BLOCK_COUNTS:
        cols = 32 * nblk
        raw, _ = weights(rng, t, 2, cols)
        raw2 = random_blocks(rng, t, 2 * nblk).reshape(2, -1)   # every bit pattern of the blocks
        if t == Q.Q8_0:
            raw2[0, 2:34] = 0x80   # int8 -128 weights (the x + 128 trick must hold for them)
        rows = [raw[0], raw[1], raw2[0], raw2[1]] + [r[0] for r in bad_scale_rows(rng, t, raw)]
        yq = c_quant(lib, ACT_TYPE[t], activations(rng, cols))
        yq_bad = bad_scale_rows(rng, ACT_TYPE[t], yq[None, :])[1][0]   # -inf activation scale
        for y in [yq, yq_bad]:
            for row in rows:
                row = np.ascontiguousarray(row)
                fast, ref = c_dot(lib, t, cols, row, y, ref=0), c_dot(lib, t, cols, row, y, ref=1)
                assert same_float(fast, ref), (nblk, fast, ref)


@pytest.mark.parametrize("t", K_TYPES, ids=lambda t: t.name)
def test_vec_dot_avx512_kquants_bit_exact(lib, t):
    rng = np.random.default_rng(5600 + int(t))
    for cols in [256, 512, 256 * 3, 256 * 6]:
        raw, _ = weights(rng, t, 3, cols)
        raw2 = random_blocks(rng, t, 3 * cols // 256).reshape(3, -1)   # every bit pattern (finite d, dmin)
        yq = c_quant(lib, Q.Q8_K, activations(rng, cols))
        for row in list(raw) + list(raw2):
            row = np.ascontiguousarray(row)
            fast, ref = c_dot(lib, t, cols, row, yq, ref=0), c_dot(lib, t, cols, row, yq, ref=1)
            assert same_float(fast, ref), (cols, fast, ref)
    # every quant and scale bit set, activations at -127/127: the largest int32 sums
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


@pytest.mark.parametrize("t", TYPES, ids=lambda t: t.name)
def test_vec_dot_rows_avx512_bit_exact(lib, t):
    """ggml_vec_dot_rows (8 rows per pass, leftovers) equals the row-by-row references, rows back to back and
    rows further apart than their size, with an inf scale in one row."""
    rng = np.random.default_rng(5300 + int(t))
    ts = GGML_QUANT_SIZES[t][1]
    for nblk in [1, 3, 18, 48]:
        cols = 32 * nblk
        yq = c_quant(lib, ACT_TYPE[t], activations(rng, cols))
        for nr in [1, 3, 4, 7, 8, 9, 15, 16, 17, 33]:
            for pad in [0, 3 * ts]:
                raw = np.zeros((nr, nblk * ts + pad), np.uint8)
                raw[:, :nblk * ts] = weights(rng, t, nr, cols)[0]
                if nr >= 4:
                    raw[1, 0:2] = np.array([0x7C00], np.uint16).view(np.uint8)
                out = np.empty(nr, dtype=np.float32)
                assert lib.fmt_vec_dot_rows(int(t), cols, nr, ptr(out), ptr(raw), raw.shape[1], ptr(yq)) == 0
                for r in range(nr):
                    ref = c_dot(lib, t, cols, np.ascontiguousarray(raw[r, :nblk * ts]), yq, ref=1)
                    assert same_float(out[r], ref), (nblk, nr, pad, r, out[r], ref)


@pytest.mark.parametrize("t", TYPES, ids=lambda t: t.name)
def test_tiles_avx512_bit_exact(lib, t):
    """llm/matmul.c with the 4x4 AVX-512 tiles (and the 8-row kernels for leftover tokens/rows) equals the
    row-by-row references for every (token, row), also with inf/NaN scales in weights and activations."""
    rng = np.random.default_rng(5400 + int(t))
    for n_rows, nblk, n_tok in [(4, 1, 4), (9, 3, 7), (13, 18, 9), (8, 5, 16), (6, 2, 5), (16, 48, 4)]:
        cols = 32 * nblk
        raw = np.ascontiguousarray(weights(rng, t, n_rows, cols)[0])
        raw = np.ascontiguousarray(bad_scale_rows(rng, t, raw)[0]) if n_rows % 2 else raw
        yqs = [c_quant(lib, ACT_TYPE[t], activations(rng, cols)) for _ in range(n_tok)]
        if n_tok > 5:
            yqs[5] = bad_scale_rows(rng, ACT_TYPE[t], yqs[5][None, :])[2][0]   # NaN activation scale
        out = np.full((n_tok, n_rows), np.nan, dtype=np.float32)
        yq = np.ascontiguousarray(np.concatenate(yqs))
        assert lib.fmt_matmul(int(t), n_rows, cols, ptr(raw), ptr(yq), n_tok, ptr(out)) == 0
        for ti in range(n_tok):
            for r in range(n_rows):
                ref = c_dot(lib, t, cols, np.ascontiguousarray(raw[r]), yqs[ti], ref=1)
                assert same_float(out[ti, r], ref), (n_rows, nblk, n_tok, ti, r, out[ti, r], ref)


@pytest.mark.parametrize("t", K_TYPES, ids=lambda t: t.name)
def test_vec_dot_rows_avx512_kquants_bit_exact(lib, t):
    """ggml_vec_dot_rows (4 rows per pass, leftovers) equals the row-by-row references, rows back to back and
    rows further apart than their size."""
    rng = np.random.default_rng(5700 + int(t))
    ts = GGML_QUANT_SIZES[t][1]
    assert lib.fmt_kernel_kind(int(t)) == 1
    for nsb in [1, 3, 16]:
        cols = 256 * nsb
        for yq in k_act_rows(lib, rng, 3, cols):
            for nr in [1, 3, 4, 5, 7, 8, 9, 13]:
                for pad in [0, 3 * ts]:
                    raw = np.zeros((nr, nsb * ts + pad), np.uint8)
                    raw[:, :nsb * ts] = k_weight_rows(rng, t, nr, cols)
                    out = np.empty(nr, dtype=np.float32)
                    assert lib.fmt_vec_dot_rows(int(t), cols, nr, ptr(out), ptr(raw), raw.shape[1], ptr(yq)) == 0
                    for r in range(nr):
                        ref = c_dot(lib, t, cols, np.ascontiguousarray(raw[r, :nsb * ts]), yq, ref=1)
                        assert same_float(out[r], ref), (nsb, nr, pad, r, out[r], ref)


@pytest.mark.parametrize("t", K_TYPES, ids=lambda t: t.name)
def test_tiles_avx512_kquants_bit_exact(lib, t):
    """llm/matmul.c with the K-quant 4x4 AVX-512 tiles (and the rows kernels for leftover tokens/rows) equals
    the row-by-row references for every (token, row)."""
    rng = np.random.default_rng(5800 + int(t))
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
