"""The whole forward pass (host build of kernel/llm, tests/host/llm/llm_lib.py) with the SIMD kernels installed as
the booted kernel installs them (ggml_types_init_simd): with AVX2 (and with AVX-512 VNNI on top) the quantized
kernels, the activation quantizers, the tiled prefill product (llm/matmul.c via ops_matmul) and the attention
(llm/attn_avx2.c, f32 and f16 KV cache) are bit-identical to the scalar references, so the
logits equal the reference table's bit for bit, for a batch of 1 and of 16 (4x4 tiles plus leftovers); with SSE2
only, each token's logits still do not depend on its batch. Tiny models (models/make_tiny.py), every quantized
weight type the AVX2 set covers."""
import pathlib
import sys

import numpy as np
import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "host" / "llm"))
sys.path.insert(0, str(HERE.parent / "models"))
sys.path.insert(0, str(HERE))
import llm_lib  # noqa: E402
from make_tiny import make_tiny  # noqa: E402
from test_llm_simd_avx2 import ALL, GGML_CPU_SSE2, host_has_avx2  # noqa: E402
from test_llm_simd_avx512 import ALL512, host_has_avx512  # noqa: E402

AVX2_EXACT = ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q4_k", "q5_k", "q6_k"]


@pytest.fixture(scope="module")
def lib():
    lib = llm_lib.Lib()
    yield lib
    lib.lib.h_init_simd(0)   # the library is shared with the other llm test modules of this process


def logits(lib, path, features, n_batch, toks, kv_f16=0):
    lib.lib.h_init_simd(features)
    eng = llm_lib.Engine(lib, path, n_ctx=64, n_batch=n_batch, kv_f16=kv_f16)
    try:
        return eng.forward(toks, 0, all_logits=True)
    finally:
        eng.close()


SETS = [pytest.param(ALL, id="avx2",
                     marks=pytest.mark.skipif(not host_has_avx2(), reason="host CPU lacks AVX2/FMA/F16C")),
        pytest.param(ALL512, id="avx512",
                     marks=pytest.mark.skipif(not host_has_avx512(), reason="host CPU lacks AVX-512 F/BW/VL/VNNI"))]


@pytest.mark.parametrize("features", SETS)
@pytest.mark.parametrize("qtype", AVX2_EXACT)
def test_simd_forward_bit_identical_to_references(lib, tmp_path, qtype, features):
    path = make_tiny(str(tmp_path / f"tiny-{qtype}.gguf"), qtype, tied=(qtype == "q8_0"), seed=7)
    toks = [int(t) for t in np.random.default_rng(5).integers(0, 200, 43)]
    for kv_f16 in [0, 1]:   # attention (llm/attn_avx2.c) over an f32 and an f16 KV cache, 8 positions per vector
        ref = logits(lib, path, 0, 16, toks, kv_f16)
        assert np.all(np.isfinite(ref))
        for n_batch in [1, 16]:
            got = logits(lib, path, features, n_batch, toks, kv_f16)
            assert np.array_equal(got.view(np.uint32), ref.view(np.uint32)), (qtype, n_batch, kv_f16)


@pytest.mark.parametrize("qtype", ["q4_1", "q8_0", "q4_k"])
def test_sse2_forward_batch_invariant(lib, tmp_path, qtype):
    path = make_tiny(str(tmp_path / f"tiny-{qtype}.gguf"), qtype, seed=8)
    toks = [int(t) for t in np.random.default_rng(6).integers(0, 200, 21)]
    one = logits(lib, path, GGML_CPU_SSE2, 1, toks)
    many = logits(lib, path, GGML_CPU_SSE2, 16, toks)
    assert np.array_equal(one.view(np.uint32), many.view(np.uint32))
