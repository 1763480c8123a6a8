"""The tiled prefill product (kernel/llm/matmul.c, matmul_q) against the row-by-row scalar references (n_tok * n_rows
calls of vec_dot from quant_ref.c) and against numpy float64 on the dequantized operands, with the SIMD sets the
host allows (AVX-512 VNNI 4x4 tile kernels for Q4_0..Q8_0 and Q4_K/Q5_K/Q6_K, AVX2 for Q4_1/Q8_0/Q4_K/Q5_K/Q6_K),
with SSE2 only (4x4 tiles and 4-row kernels for every type) and with the references only (the plain loop). Odd shapes: row counts and token
counts that leave 1..3 leftover rows/tokens, more than one 64-token block, single-block rows. With every set (and
with the references) every product is bit-identical to the reference, whatever the batch shape."""
import pathlib
import sys

import numpy as np
import pytest
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType as Q

sys.path.insert(0, str(pathlib.Path(__file__).parent / "host" / "llm_formats"))
sys.path.insert(0, str(pathlib.Path(__file__).parent))
import fmtlib  # noqa: E402
from test_llm_quant import (ACT_TYPE, act_dequant, activations, c_dot, c_quant, dot_same_operands, ptr,  # noqa: E402
                            weights)
from test_llm_quant_sse2 import magnitude  # noqa: E402
from test_llm_simd_avx2 import ALL, GGML_CPU_SSE2, TOL_SIMD_VS_REF_PER_BLOCK, host_has_avx2  # noqa: E402
from test_llm_simd_avx512 import ALL512, host_has_avx512  # noqa: E402

# numpy float64 on the same dequantized operands (as test_llm_quant.TOL_DOT_SAME_OPERANDS)
TOL_SAME_OPERANDS = 2e-6
FEATURES = [pytest.param(ALL512, id="avx512",
                          marks=pytest.mark.skipif(not host_has_avx512(), reason="no AVX-512 F/BW/VL/VNNI")),
            pytest.param(ALL, id="avx2", marks=pytest.mark.skipif(not host_has_avx2(), reason="no AVX2/FMA/F16C")),
            pytest.param(GGML_CPU_SSE2, id="sse2"), pytest.param(0, id="ref")]
TYPES = [Q.Q4_1, Q.Q8_0, Q.Q4_0, Q.Q5_0, Q.Q5_1, Q.Q4_K, Q.Q5_K, Q.Q6_K]
SHAPES = [(7, 64, 1), (13, 576, 5), (4, 32, 4), (9, 96, 67), (16, 256, 3), (21, 512, 9), (8, 576, 16), (12, 64, 12),
          (5, 1536, 8)]


@pytest.fixture(scope="module")
def lib():
    lib = fmtlib.load()
    yield lib
    lib.fmt_init_simd(0)


def c_matmul(lib, t, raw, n_rows, n_cols, yq, n_tok):
    out = np.full((n_tok, n_rows), np.nan, dtype=np.float32)
    assert lib.fmt_matmul(int(t), n_rows, n_cols, ptr(raw), ptr(yq), n_tok, ptr(out)) == 0
    return out


@pytest.mark.parametrize("features", FEATURES)
@pytest.mark.parametrize("t", TYPES, ids=lambda t: t.name)
def test_matmul_vs_row_by_row_ref(lib, t, features):
    lib.fmt_init_simd(features)
    bs, _ = GGML_QUANT_SIZES[t]
    rng = np.random.default_rng(2000 + int(t))
    worst_ref, worst_np = 0.0, 0.0
    for n_rows, n_cols, n_tok in SHAPES:
        if n_cols % bs:
            continue
        raw, xw = weights(rng, t, n_rows, n_cols)
        raw = np.ascontiguousarray(raw)
        ys = [activations(rng, n_cols) for _ in range(n_tok)]
        yqs = [c_quant(lib, ACT_TYPE[t], y, ref=1) for y in ys]
        yq = np.ascontiguousarray(np.concatenate(yqs))
        out = c_matmul(lib, t, raw, n_rows, n_cols, yq, n_tok)
        assert np.all(np.isfinite(out)), "every output written"
        for ti in range(n_tok):
            yd = act_dequant(ACT_TYPE[t], yqs[ti], n_cols)
            for r in range(n_rows):
                ref = c_dot(lib, t, n_cols, np.ascontiguousarray(raw[r]), yqs[ti], ref=1)
                mag = magnitude(t, raw[r], xw[r], ys[ti], yqs[ti]) if bs == 32 else \
                    float(np.sum(np.abs(xw[r].astype(np.float64) * yd))) + 1e-30
                worst_ref = max(worst_ref, abs(float(out[ti, r]) - ref) / mag / (n_cols // 32))
                exact = dot_same_operands(t, raw[r], xw[r].astype(np.float64), yqs[ti], yd)
                worst_np = max(worst_np, abs(float(out[ti, r]) - exact) / mag)
    print(f"{t.name}: matmul vs ref {worst_ref:.2e} per block (tol {TOL_SIMD_VS_REF_PER_BLOCK:.2e}), "
          f"vs numpy {worst_np:.2e} (tol {TOL_SAME_OPERANDS})")
    assert worst_ref == 0   # every kernel set (AVX-512, AVX2, SSE2, refs) is bit-identical to the references
    assert worst_np <= TOL_SAME_OPERANDS


@pytest.mark.parametrize("features", FEATURES)
def test_matmul_equals_vec_dot_rows_of_live_table(lib, features):
    """Tiles and the 4-row kernel cover the same products: a 576 x 576-shaped Q4_1 block with 64+3 tokens gives
    the row-by-row live vec_dot within the tolerance, and n_tok = 1 is the matrix-vector case."""
    lib.fmt_init_simd(features)
    rng = np.random.default_rng(2100)
    t, n_rows, n_cols = Q.Q4_1, 61, 576
    raw, xw = weights(rng, t, n_rows, n_cols)
    raw = np.ascontiguousarray(raw)
    for n_tok in [1, 67]:
        ys = [activations(rng, n_cols) for _ in range(n_tok)]
        yqs = [c_quant(lib, Q.Q8_1, y) for y in ys]
        out = c_matmul(lib, t, raw, n_rows, n_cols, np.ascontiguousarray(np.concatenate(yqs)), n_tok)
        for ti in range(0, n_tok, 5):
            for r in range(n_rows):
                live = c_dot(lib, t, n_cols, np.ascontiguousarray(raw[r]), yqs[ti], ref=0)
                mag = magnitude(t, raw[r], xw[r], ys[ti], yqs[ti])
                assert abs(float(out[ti, r]) - live) / mag / (n_cols // 32) <= 2 * TOL_SIMD_VS_REF_PER_BLOCK
