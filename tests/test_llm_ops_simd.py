"""The float kernels' SIMD twins (kernel/llm/ops_sse2.c, ops_avx2.c, ops_avx512.c, attn_sse2.c, attn_avx2.c,
attn_avx512.c; scalar references in kernel/llm/ops.c), built for the host (tests/host/llm/llm_lib.py):
bit-identical to the references on random data, odd sizes and special values (k_expf's range edges, NaN,
infinities); the references themselves against numpy (RMSNorm in float64, RoPE, attention, k_expf's exp);
the row-range forms the parallel jobs use (RoPE, KV-cache stores) against the whole-vector ones; and the forward
pass with every job split into small chunks run in reverse order on alternating CPU indices (what the booted
kernel's worker pool may do) equal to the unsplit pass, bit for bit. Speed: tests/host/llm/ops_bench.c."""
import ctypes
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

needs_avx2 = pytest.mark.skipif(not host_has_avx2(), reason="host CPU lacks AVX2/FMA/F16C")


def host_has_avx512():
    try:
        flags = set(open("/proc/cpuinfo").read().split())
    except OSError:
        return False
    return {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags


needs_avx512 = pytest.mark.skipif(not host_has_avx512(), reason="host CPU lacks AVX-512 F/BW/VL/DQ")
GGML_CPU_AVX512 = 16
_FP = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
_I, _F, _P = ctypes.c_int, ctypes.c_float, ctypes.c_void_p
ODD = [1, 3, 7, 8, 9, 15, 16, 17, 31, 64, 100, 257, 1536]
RMSNORMS = ("ops_rmsnorm_ref", "ops_rmsnorm_sse2", "ops_rmsnorm_avx2", "ops_rmsnorm_avx512")
ROPES = ("ops_rope_range_ref", "ops_rope_range_sse2", "ops_rope_range_avx2", "ops_rope_range_avx512")


@pytest.fixture(scope="module")
def L():
    lib = llm_lib.Lib()
    L = lib.lib
    L.k_expf.restype = _F
    L.k_expf.argtypes = [_F]
    L.ops_expf8_avx2.argtypes = [_FP, _FP]
    L.ops_expf16_avx512.argtypes = [_FP, _FP]
    L.ops_expf4_sse2.argtypes = [_FP, _FP]
    L.ops_softmax_sse2.argtypes = [_FP, _I]
    L.ops_swiglu_sse2.argtypes = [_FP, _FP, _I]
    L.ops_softmax_rows_avx512.argtypes = [_FP, _I, _I]
    L.ops_swiglu_avx512.argtypes = [_FP, _FP, _I]
    for f in ("ops_softmax_ref", "ops_softmax_avx2"):
        getattr(L, f).argtypes = [_FP, _I]
    L.ops_softmax_rows_avx2.argtypes = [_FP, _I, _I]
    for f in ("ops_swiglu_ref", "ops_swiglu_avx2"):
        getattr(L, f).argtypes = [_FP, _FP, _I]
    L.ops_attention_head.argtypes = [_FP, _FP, _P, _P, ctypes.c_size_t, _I, _I, _I, _F, _FP]
    L.attention_heads_avx2.argtypes = [_FP, _FP, _I, _P, _P, ctypes.c_size_t, _I, _I, _I, _F, _FP]
    L.attention_kv_prepare_avx2.argtypes = [_FP, _P, _P, _P, ctypes.c_size_t, _I, _I, _I, _I, _I]
    L.attention_heads_kt_avx2.argtypes = [_FP, _FP, _I, _FP, _P, ctypes.c_size_t, _I, _I, _F, _FP]
    L.attention_kv_prepare_sse2.argtypes = [_FP, _P, _P, _P, ctypes.c_size_t, _I, _I, _I, _I, _I]
    L.attention_heads_kt_sse2.argtypes = [_FP, _FP, _I, _FP, _P, ctypes.c_size_t, _I, _I, _F, _FP]
    L.ops_attention_kt_ok.argtypes = [_I]
    L.ops_attention_kv_prepare.argtypes = [_FP, _P, _P, _P, ctypes.c_size_t, _I, _I, _I, _I, _I]
    L.ops_attention_heads_kt.argtypes = [_FP, _FP, _I, _FP, _P, ctypes.c_size_t, _I, _I, _F, _FP]
    L.ops_rope.argtypes = [_FP, _I, _I, _I, _FP]
    L.ops_rope_range.argtypes = [_FP, _I, _I, _FP, ctypes.c_int64, ctypes.c_int64]
    L.workers_host_set_split.argtypes = [_I]
    for f in RMSNORMS + ("ops_rmsnorm",):
        getattr(L, f).argtypes = [_FP, _FP, _FP, _I, _F]
    for f in RMSNORMS:
        g = getattr(L, f.replace("rmsnorm", "rmsnorm_sumsq"))
        g.argtypes, g.restype = [_FP, _I], ctypes.c_double
    for f in ROPES:
        getattr(L, f).argtypes = [_FP, _I, _I, _FP, ctypes.c_int64, ctypes.c_int64]
    L.attention_heads_sse2.argtypes = [_FP, _FP, _I, _P, _P, ctypes.c_size_t, _I, _I, _I, _F, _FP]
    L.ops_attention_heads.argtypes = [_FP, _FP, _I, _P, _P, ctypes.c_size_t, _I, _I, _I, _F, _FP]
    L.host = lib
    yield L
    L.h_init_simd(0)
    L.workers_host_set_split(0)


def bits(a):
    return np.ascontiguousarray(a, np.float32).view(np.uint32)


def special_values():
    return np.array([0.0, -0.0, 1.0, -1.0, 88.72, 88.73, 89.0, 89.00001, 100.0, -87.3, -103.9, -104.0, -104.00001,
                     -150.0, 1e-30, -1e-30, np.inf, -np.inf, np.nan, 1e30, -1e30, 0.5, -0.5, 20.0], np.float32)


@needs_avx2
def test_expf8_bit_identical_to_k_expf(L):
    rng = np.random.default_rng(1)
    x = np.concatenate([special_values(), rng.uniform(-110, 95, 40000).astype(np.float32),
                        rng.normal(0, 3, 20000).astype(np.float32),
                        np.linspace(-104.5, 89.5, 20000, dtype=np.float32)])
    x = np.concatenate([x, np.zeros((-len(x)) % 8, np.float32)])
    y = np.zeros_like(x)
    for i in range(0, len(x), 8):
        c = np.ascontiguousarray(x[i:i + 8])
        o = np.zeros(8, np.float32)
        L.ops_expf8_avx2(c, o)
        y[i:i + 8] = o
    ref = np.array([L.k_expf(float(v)) for v in x], np.float32)
    assert np.array_equal(bits(y), bits(ref))
    # and k_expf itself is exp rounded to float within 1 ulp where it is finite and normal
    ok = np.isfinite(x) & (x > -87) & (x < 88)
    want = np.exp(x[ok].astype(np.float64)).astype(np.float32)
    assert np.max(np.abs(bits(ref[ok]).astype(np.int64) - bits(want).astype(np.int64))) <= 1


def test_sse2_expf_softmax_swiglu_bit_identical(L):
    rng = np.random.default_rng(3)
    x = np.concatenate([special_values(), rng.uniform(-110, 95, 20000).astype(np.float32),
                        np.linspace(-104.5, 89.5, 8000, dtype=np.float32)])
    x = np.concatenate([x, np.zeros((-len(x)) % 4, np.float32)])
    y = np.zeros_like(x)
    for i in range(0, len(x), 4):
        o = np.zeros(4, np.float32)
        L.ops_expf4_sse2(np.ascontiguousarray(x[i:i + 4]), o)
        y[i:i + 4] = o
    ref = np.array([L.k_expf(float(v)) for v in x], np.float32)
    assert np.array_equal(bits(y), bits(ref))
    for n in ODD:
        v = rng.normal(0, 6, n).astype(np.float32)
        a, b = v.copy(), v.copy()
        L.ops_softmax_ref(a, n)
        L.ops_softmax_sse2(b, n)
        assert np.array_equal(bits(a), bits(b)), n
        g = np.resize(np.concatenate([special_values(), v]), n).astype(np.float32)
        up = rng.normal(0, 1, n).astype(np.float32)
        a, b = g.copy(), g.copy()
        L.ops_swiglu_ref(a, up, n)
        L.ops_swiglu_sse2(b, up, n)
        assert np.array_equal(bits(a), bits(b)), n


@needs_avx512
def test_expf16_bit_identical_to_k_expf(L):
    rng = np.random.default_rng(2)
    x = np.concatenate([special_values(), rng.uniform(-110, 95, 40000).astype(np.float32),
                        np.linspace(-104.5, 89.5, 20000, dtype=np.float32)])
    x = np.concatenate([x, np.zeros((-len(x)) % 16, np.float32)])
    y = np.zeros_like(x)
    for i in range(0, len(x), 16):
        o = np.zeros(16, np.float32)
        L.ops_expf16_avx512(np.ascontiguousarray(x[i:i + 16]), o)
        y[i:i + 16] = o
    ref = np.array([L.k_expf(float(v)) for v in x], np.float32)
    assert np.array_equal(bits(y), bits(ref))


@needs_avx512
@pytest.mark.parametrize("n", ODD)
def test_avx512_softmax_rows_and_swiglu_bit_identical(L, n):
    rng = np.random.default_rng(100 + n)
    for rows in [1, 3, 5]:
        x = rng.normal(0, 6, rows * n).astype(np.float32)
        want = x.copy()
        for r in range(rows):
            row = np.ascontiguousarray(want[r * n:(r + 1) * n])
            L.ops_softmax_ref(row, n)
            want[r * n:(r + 1) * n] = row
        got = x.copy()
        L.ops_softmax_rows_avx512(got, rows, n)
        assert np.array_equal(bits(got), bits(want)), (rows, n)
    g = np.resize(np.concatenate([special_values(), rng.normal(0, 5, n).astype(np.float32)]), n).astype(np.float32)
    up = rng.normal(0, 1, n).astype(np.float32)
    a, b = g.copy(), g.copy()
    L.ops_swiglu_ref(a, up, n)
    L.ops_swiglu_avx512(b, up, n)
    assert np.array_equal(bits(a), bits(b))


@needs_avx2
@pytest.mark.parametrize("n", ODD)
def test_softmax_and_swiglu_bit_identical(L, n):
    rng = np.random.default_rng(n)
    for scale in (0.1, 5.0, 40.0):
        x = (rng.normal(0, scale, n)).astype(np.float32)
        if n > 3:
            x[rng.integers(0, n, 2)] = special_values()[rng.integers(0, 16, 2)]   # finite edge values
        a, b = x.copy(), x.copy()
        L.ops_softmax_ref(a, n)
        L.ops_softmax_avx2(b, n)
        assert np.array_equal(bits(a), bits(b)), (n, scale)
        assert abs(float(a.astype(np.float64).sum()) - 1.0) < 1e-5
        g, up = x.copy(), rng.normal(0, 1, n).astype(np.float32)
        g2 = g.copy()
        L.ops_swiglu_ref(g, up, n)
        L.ops_swiglu_avx2(g2, up, n)
        assert np.array_equal(bits(g), bits(g2)), (n, scale)
        want = x.astype(np.float64) / (1 + np.exp(-x.astype(np.float64))) * up
        fin = np.isfinite(want)
        assert np.allclose(g[fin], want[fin], rtol=1e-5, atol=1e-30)


@needs_avx2
@pytest.mark.parametrize("rows", [1, 2, 3, 4, 5, 8, 9])
def test_softmax_rows_bit_identical(L, rows):
    rng = np.random.default_rng(rows)
    for n in [1, 7, 8, 9, 33, 200]:
        x = rng.normal(0, 4, rows * n).astype(np.float32)
        want = x.copy()
        for r in range(rows):
            row = np.ascontiguousarray(want[r * n:(r + 1) * n])
            L.ops_softmax_ref(row, n)
            want[r * n:(r + 1) * n] = row
        got = x.copy()
        L.ops_softmax_rows_avx2(got, rows, n)
        assert np.array_equal(bits(got), bits(want)), (rows, n)


@needs_avx2
def test_swiglu_special_values(L):
    x = np.resize(special_values(), 40).astype(np.float32)
    up = np.resize(np.array([1.0, -2.0, 0.5, 3.0], np.float32), 40)
    a, b = x.copy(), x.copy()
    L.ops_swiglu_ref(a, up, 40)
    L.ops_swiglu_avx2(b, up, 40)
    assert np.array_equal(bits(a), bits(b))


def f16_bits(a):
    return np.ascontiguousarray(a.astype(np.float16)).view(np.uint16)


@needs_avx2
@pytest.mark.parametrize("head_dim", [8, 16, 64, 72, 128])
@pytest.mark.parametrize("kv_f16", [0, 1])
@pytest.mark.parametrize("features", [ALL, ALL | GGML_CPU_AVX512], ids=["avx2", "avx512"])
def test_attention_heads_bit_identical(L, head_dim, kv_f16, features):
    """attention_heads_avx2 (and its AVX-512 value pass when that set is installed) against the reference."""
    if features & GGML_CPU_AVX512 and not host_has_avx512():
        pytest.skip("host CPU lacks AVX-512")
    L.h_init_simd(features)
    rng = np.random.default_rng(head_dim * 2 + kv_f16)
    n_kv_heads, stride_extra = 2, 3
    for nq in [1, 2, 3, 4, 5, 8]:
        for n_pos in [1, 5, 8, 13, 64, 97]:
            stride = n_kv_heads * head_dim + stride_extra
            kf = rng.normal(0, 1, (n_pos, stride)).astype(np.float32)
            vf = rng.normal(0, 1, (n_pos, stride)).astype(np.float32)
            if kv_f16:
                kbuf, vbuf = np.ascontiguousarray(f16_bits(kf)), np.ascontiguousarray(f16_bits(vf))
            else:
                kbuf, vbuf = kf, vf
            koff = head_dim * kbuf.itemsize        # the second KV head's slice
            kp, vp = kbuf.ctypes.data + koff, vbuf.ctypes.data + koff
            q = rng.normal(0, 1, nq * head_dim).astype(np.float32)
            scale = np.float32(1 / np.sqrt(head_dim))
            ref, sc = np.zeros(nq * head_dim, np.float32), np.zeros(n_pos, np.float32)
            for h in range(nq):
                o = np.zeros(head_dim, np.float32)
                L.ops_attention_head(o, np.ascontiguousarray(q[h * head_dim:(h + 1) * head_dim]), kp, vp, stride,
                                     kv_f16, n_pos, head_dim, scale, sc)
                ref[h * head_dim:(h + 1) * head_dim] = o
            got, sc2 = np.zeros(nq * head_dim, np.float32), np.zeros(nq * n_pos, np.float32)
            L.attention_heads_avx2(got, q, nq, kp, vp, stride, kv_f16, n_pos, head_dim, scale, sc2)
            assert np.array_equal(bits(got), bits(ref)), (nq, n_pos)
            # and the reference is attention (numpy, float64)
            kk = (kbuf.view(np.float16).astype(np.float64) if kv_f16 else kf.astype(np.float64))
            vv = (vbuf.view(np.float16).astype(np.float64) if kv_f16 else vf.astype(np.float64))
            kk, vv = kk[:, head_dim:2 * head_dim], vv[:, head_dim:2 * head_dim]
            s = q.reshape(nq, head_dim).astype(np.float64) @ kk.T * float(scale)
            p = np.exp(s - s.max(1, keepdims=True))
            want = (p / p.sum(1, keepdims=True)) @ vv
            assert np.allclose(ref.reshape(nq, head_dim), want, atol=1e-4)


@needs_avx2
@pytest.mark.parametrize("kv_f16", [0, 1])
@pytest.mark.parametrize("features", [ALL, ALL | GGML_CPU_AVX512], ids=["avx2", "avx512"])
def test_attention_prepared_kv_bit_identical(L, kv_f16, features):
    """The prefill form: keys transposed to f32 blocks and values converted once (in pieces of blocks, as the
    workers do), then each (position count, head group) equals the reference on the cache itself."""
    if features & GGML_CPU_AVX512 and not host_has_avx512():
        pytest.skip("host CPU lacks AVX-512")
    L.h_init_simd(features)
    rng = np.random.default_rng(40 + kv_f16)
    head_dim, n_kv_heads, n_pos = 64, 3, 61
    stride = n_kv_heads * head_dim
    kf = rng.normal(0, 1, (n_pos, stride)).astype(np.float32)
    vf = rng.normal(0, 1, (n_pos, stride)).astype(np.float32)
    kbuf, vbuf = (f16_bits(kf), f16_bits(vf)) if kv_f16 else (kf, vf)
    n_blk = (n_pos + 7) // 8
    g = 2
    off = g * head_dim * kbuf.itemsize
    kt = np.full(n_blk * head_dim * 8, np.nan, np.float32)
    v32 = np.full(n_pos * stride, np.nan, np.float32)
    for b0, b1 in [(5, 8), (0, 2), (2, 5)]:          # pieces in any order
        L.attention_kv_prepare_avx2(kt, v32.ctypes.data + g * head_dim * 4 if kv_f16 else None,
                                    kbuf.ctypes.data + off, vbuf.ctypes.data + off, stride, kv_f16, head_dim,
                                    n_pos, b0, b1)
    vsrc = v32.ctypes.data + g * head_dim * 4 if kv_f16 else vbuf.ctypes.data + off
    scale = np.float32(0.125)
    for nq in [1, 3, 5]:
        q = rng.normal(0, 1, nq * head_dim).astype(np.float32)
        for n in [1, 7, 8, 9, 40, n_pos]:
            ref, sc = np.zeros(nq * head_dim, np.float32), np.zeros(n_pos, np.float32)
            for h in range(nq):
                o = np.zeros(head_dim, np.float32)
                L.ops_attention_head(o, np.ascontiguousarray(q[h * head_dim:(h + 1) * head_dim]),
                                     kbuf.ctypes.data + off, vbuf.ctypes.data + off, stride, kv_f16, n, head_dim,
                                     scale, sc)
                ref[h * head_dim:(h + 1) * head_dim] = o
            got, sc2 = np.zeros(nq * head_dim, np.float32), np.zeros(nq * n_pos, np.float32)
            L.attention_heads_kt_avx2(got, q, nq, kt, vsrc, stride, n, head_dim, scale, sc2)
            assert np.array_equal(bits(got), bits(ref)), (nq, n)


@pytest.mark.parametrize("head_dim,n_rot", [(64, 64), (16, 8), (12, 12)])
def test_rope_range_pieces_equal_whole(L, head_dim, n_rot):
    rng = np.random.default_rng(head_dim)
    n_heads = 5
    x = rng.normal(0, 1, n_heads * head_dim).astype(np.float32)
    cs = rng.normal(0, 1, n_rot).astype(np.float32)
    whole = x.copy()
    L.ops_rope(whole, n_heads, head_dim, n_rot, cs)
    for step in [2, 4, 6, 16, 18]:
        y = x.copy()
        for e0 in range(0, n_heads * head_dim, step):
            L.ops_rope_range(y, head_dim, n_rot, cs, e0, min(e0 + step, n_heads * head_dim))
        assert np.array_equal(bits(y), bits(whole)), step
    # against numpy: pairs (2i, 2i+1) rotated by (cos, sin) = cs[2i], cs[2i+1], the rest untouched
    h = x.reshape(n_heads, head_dim).astype(np.float64).copy()
    c, s = cs[0::2].astype(np.float64), cs[1::2].astype(np.float64)
    a, b = h[:, 0:n_rot:2].copy(), h[:, 1:n_rot:2].copy()
    h[:, 0:n_rot:2], h[:, 1:n_rot:2] = a * c - b * s, a * s + b * c
    assert np.allclose(whole, h.reshape(-1), atol=1e-6)


@pytest.mark.parametrize("qtype", ["q4_1", "q8_0", "q4_k", "f16"])
@pytest.mark.parametrize("features", [0, GGML_CPU_SSE2, ALL, ALL | GGML_CPU_AVX512])
def test_forward_split_jobs_bit_identical(L, tmp_path, qtype, features):
    """Every parallel job of llama_forward split into chunks of 1 or 3 alignment units, run last-first with cpu
    indices 0/1 (each with its own attention scratch): the logits, for a batch of 1 and of 16, equal the
    unsplit pass bit for bit, so the booted kernel's result cannot depend on how its CPUs shared the rows."""
    if features and not host_has_avx2():
        pytest.skip("host CPU lacks AVX2/FMA/F16C")
    if features & GGML_CPU_AVX512 and not host_has_avx512():
        pytest.skip("host CPU lacks AVX-512")
    path = make_tiny(str(tmp_path / f"tiny-{qtype}.gguf"), qtype, seed=11)
    toks = [int(t) for t in np.random.default_rng(3).integers(0, 200, 37)]
    L.h_init_simd(features)

    def run(split, n_batch, kv_f16):
        L.workers_host_set_split(split)
        eng = llm_lib.Engine(L.host, path, n_ctx=64, n_batch=n_batch, kv_f16=kv_f16)
        try:
            return eng.forward(toks, 0, all_logits=True)
        finally:
            eng.close()
            L.workers_host_set_split(0)
    for kv_f16 in [0, 1]:
        whole = run(0, 16, kv_f16)
        for split in [1, 3]:
            for n_batch in [1, 16]:
                got = run(split, n_batch, kv_f16)
                assert np.array_equal(bits(got), bits(whole)), (split, n_batch, kv_f16)


@pytest.mark.parametrize("n", [1, 3, 7, 8, 9, 15, 16, 17, 100, 49152])
@pytest.mark.parametrize("twin", ["ops_argmax_sse2", "ops_argmax_avx2"])
def test_argmax_matches_reference_and_numpy(L, n, twin):
    if twin.endswith("avx2") and not host_has_avx2():
        pytest.skip("host CPU lacks AVX2/FMA/F16C")
    L.ops_argmax_ref.argtypes = getattr(L, twin).argtypes = [_FP, _I]
    rng = np.random.default_rng(n)
    cases = [rng.normal(0, 3, n).astype(np.float32)]
    x = rng.integers(-3, 3, n).astype(np.float32)       # many ties: the first index wins
    cases.append(x)
    y = rng.normal(0, 1, n).astype(np.float32)
    y[rng.integers(0, n, max(1, n // 10))] = np.nan       # NaNs never win
    y[0] = 0.0
    cases.append(y)
    z = np.full(n, -np.inf, np.float32)
    cases.append(z)
    if n > 2:
        w = np.zeros(n, np.float32)
        w[1] = -0.0
        w[n - 1] = -0.0
        cases.append(w)
    for pos in {0, n // 2, n - 1}:              # the maximum in the first, a middle, the last (tail) element
        t = rng.normal(0, 1, n).astype(np.float32)
        t[pos] = 10.0
        cases.append(t)
    for c in cases:
        a, b = L.ops_argmax_ref(c, n), getattr(L, twin)(c, n)
        assert a == b
        assert a == int(np.nanargmax(np.where(np.isnan(c), -np.inf, c))) or np.all(c == -np.inf)


def twins(names):
    """The SIMD twins of a reference the host CPU can run (SSE2 always: x86-64)"""
    out = [names[1]]
    if host_has_avx2():
        out.append(names[2])
    if host_has_avx512():
        out.append(names[3])
    return out


def wide_floats(rng, n):
    """Normal values spread over many binades, so a different summation order changes the rounding"""
    return (rng.normal(0, 1, n) * np.exp(rng.uniform(-8, 8, n))).astype(np.float32)


RMS_N = [1, 2, 3, 7, 8, 9, 15, 16, 17, 18, 31, 32, 33, 47, 64, 100, 257, 576, 1536]


@pytest.mark.parametrize("n", RMS_N)
def test_rmsnorm_reference_against_numpy(L, n):
    """ops_rmsnorm_ref against float64 numpy: the sum of squares to double rounding (|error| <= n ulp of the
    sum), the output to a few float ulps; also values whose sum of squares overflows float but not its mean
    (the sum is in double; the mean is rounded to float, as ggml)."""
    rng = np.random.default_rng(500 + n)
    for x in [rng.normal(0, 1, n).astype(np.float32), wide_floats(rng, n),
              (rng.choice([-1.0, 1.0], n) * rng.uniform(0.5, 1, n) * 1.5e19).astype(np.float32)]:
        w = rng.normal(1, 0.5, n).astype(np.float32)
        x64 = x.astype(np.float64)
        exact = float(np.sum(x64 * x64))                      # numpy's own (pairwise) order
        assert abs(L.ops_rmsnorm_sumsq_ref(x, n) - exact) <= n * 2.3e-16 * exact
        out = np.zeros(n, np.float32)
        L.ops_rmsnorm_ref(out, x, w, n, np.float32(1e-5))
        want = x64 / np.sqrt(exact / n + 1e-5) * w.astype(np.float64)
        assert np.all(np.isfinite(out))
        assert np.allclose(out, want, rtol=3e-6, atol=0), n


def rms_special(rng, n):
    sp = np.array([0.0, -0.0, 1e-45, -1e-45, 1e-38, 3e38, -3e38, 1.0, -1.0, 65504.0], np.float32)
    x = wide_floats(rng, n)
    x[rng.integers(0, n, max(1, n // 8))] = sp[rng.integers(0, len(sp), max(1, n // 8))]
    return x


@pytest.mark.parametrize("n", RMS_N)
def test_rmsnorm_twins_bit_identical(L, n):
    """Every SIMD twin (and the dispatch under each kernel set) equals ops_rmsnorm_ref bit for bit, and its sum
    of squares ops_rmsnorm_sumsq_ref's: random data over many binades, special values (zeros, denormals, squares that overflow float, inf, NaN), in place."""
    rng = np.random.default_rng(n)
    # the double sums themselves (a different order of additions shows here; after the rounding of the mean to
    # float it rarely would)
    for _ in range(30):
        x = wide_floats(rng, n)
        want = L.ops_rmsnorm_sumsq_ref(x, n)
        for f in twins(RMSNORMS):
            got = getattr(L, f.replace("rmsnorm", "rmsnorm_sumsq"))(x, n)
            assert np.float64(got).view(np.uint64) == np.float64(want).view(np.uint64), (f, n)
    cases = [wide_floats(rng, n), rms_special(rng, n), np.zeros(n, np.float32)]
    inf = wide_floats(rng, n)
    inf[n // 2] = np.inf
    nan = wide_floats(rng, n)
    nan[n - 1] = np.nan
    cases += [inf, nan]
    for x in cases:
        w = wide_floats(rng, n)
        w[rng.integers(0, n)] = -0.0
        want = np.zeros(n, np.float32)
        L.ops_rmsnorm_ref(want, x, w, n, np.float32(1e-6))
        for f in twins(RMSNORMS):
            got = np.full(n, np.nan, np.float32)
            getattr(L, f)(got, x, w, n, np.float32(1e-6))
            assert np.array_equal(bits(got), bits(want)), (f, n)
            inplace = x.copy()
            getattr(L, f)(inplace, inplace, w, n, np.float32(1e-6))
            assert np.array_equal(bits(inplace), bits(want)), (f, n)
    features = [0, GGML_CPU_SSE2] + ([ALL] if host_has_avx2() else []) + \
        ([ALL | GGML_CPU_AVX512] if host_has_avx512() else [])
    x, w = cases[0], wide_floats(rng, n)
    want = np.zeros(n, np.float32)
    L.ops_rmsnorm_ref(want, x, w, n, np.float32(1e-5))
    for feat in features:
        L.h_init_simd(feat)
        got = np.zeros(n, np.float32)
        L.ops_rmsnorm(got, x, w, n, np.float32(1e-5))
        assert np.array_equal(bits(got), bits(want)), feat
    L.h_init_simd(0)


ROPE_SHAPES = [(64, 64), (64, 32), (64, 6), (64, 10), (16, 14), (12, 12), (128, 128), (130, 66), (34, 2)]


@pytest.mark.parametrize("head_dim,n_rot", ROPE_SHAPES)
def test_rope_twins_bit_identical(L, head_dim, n_rot):
    """ops_rope_range's twins against ops_rope_range_ref, bit for bit: whole rows and ranges [e0, e1) starting
    and ending mid-head (inside and past the rotated part), n_rot < head_dim with an odd number of pairs (the
    loader rejects odd n_rot, llm/llama.c), special values in x and in cos/sin."""
    rng = np.random.default_rng(head_dim * 1000 + n_rot)
    n_heads = 9
    total = n_heads * head_dim
    ranges = [(0, total), (0, 2), (total - 2, total), (head_dim - 2, head_dim + 2)]
    for _ in range(40):
        a, b = sorted(2 * rng.integers(0, total // 2 + 1, 2))
        if a < b:
            ranges.append((int(a), int(b)))
    for e0, e1 in ranges:
        for special in (False, True):
            x = rng.normal(0, 2, total).astype(np.float32)
            cs = rng.uniform(-1, 1, n_rot).astype(np.float32)
            if special:
                sp = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-45, 3e38], np.float32)
                x[rng.integers(0, total, 6)] = sp[rng.integers(0, len(sp), 6)]
                cs[rng.integers(0, n_rot)] = sp[rng.integers(0, len(sp))]
            want = x.copy()
            L.ops_rope_range_ref(want, head_dim, n_rot, cs, e0, e1)
            for f in twins(ROPES):
                got = x.copy()
                getattr(L, f)(got, head_dim, n_rot, cs, e0, e1)
                assert np.array_equal(bits(got), bits(want)), (f, e0, e1, special)
            # outside [e0, e1) and past n_rot in each head nothing moved
            idx = np.arange(total)
            keep = (idx < e0) | (idx >= e1) | (idx % head_dim >= n_rot)
            assert np.array_equal(bits(want[keep]), bits(x[keep]))


def special_halves(rng, shape):
    """Random f16 cache rows with subnormal halves, signed zeros and the smallest normal half mixed in (every half,
    inf and NaN included, goes through test_attention_sse2_f16_special_halves)"""
    a = rng.normal(0, 1, shape).astype(np.float32)
    flat = a.reshape(-1)
    k = max(1, flat.size // 20)
    sp = np.array([0.0, -0.0, 6e-8, -6e-8, 3e-6, -1e-5, 6.1035156e-5], np.float32)
    flat[rng.integers(0, flat.size, k)] = sp[rng.integers(0, len(sp), k)]
    return a


@pytest.mark.parametrize("head_dim", [4, 8, 12, 36, 64, 72, 128])
@pytest.mark.parametrize("kv_f16", [0, 1])
def test_attention_heads_sse2_bit_identical(L, head_dim, kv_f16):
    """attention_heads_sse2 (llm/attn_sse2.c) against ops_attention_head for every head of a group, f32 and f16
    caches (the f16 ones with subnormal halves: the integer conversion), head slices inside a wider stride."""
    L.h_init_simd(GGML_CPU_SSE2)
    rng = np.random.default_rng(700 + head_dim * 2 + kv_f16)
    n_kv_heads, stride_extra = 2, 3
    try:
        for nq in [1, 2, 3, 4, 5, 8]:
            for n_pos in [1, 2, 3, 4, 5, 13, 64, 97]:
                stride = n_kv_heads * head_dim + stride_extra
                kf, vf = special_halves(rng, (n_pos, stride)), special_halves(rng, (n_pos, stride))
                if kv_f16:
                    kbuf, vbuf = np.ascontiguousarray(f16_bits(kf)), np.ascontiguousarray(f16_bits(vf))
                else:
                    kbuf, vbuf = kf, vf
                koff = head_dim * kbuf.itemsize        # the second KV head's slice
                kp, vp = kbuf.ctypes.data + koff, vbuf.ctypes.data + koff
                q = rng.normal(0, 1, nq * head_dim).astype(np.float32)
                scale = np.float32(1 / np.sqrt(head_dim))
                ref, sc = np.zeros(nq * head_dim, np.float32), np.zeros(n_pos, np.float32)
                for h in range(nq):
                    o = np.zeros(head_dim, np.float32)
                    L.ops_attention_head(o, np.ascontiguousarray(q[h * head_dim:(h + 1) * head_dim]), kp, vp, stride,
                                         kv_f16, n_pos, head_dim, scale, sc)
                    ref[h * head_dim:(h + 1) * head_dim] = o
                got, sc2 = np.full(nq * head_dim, np.nan, np.float32), np.zeros(nq * n_pos, np.float32)
                L.attention_heads_sse2(got, q, nq, kp, vp, stride, kv_f16, n_pos, head_dim, scale, sc2)
                assert np.array_equal(bits(got), bits(ref)), (nq, n_pos)
                kk = (kbuf.view(np.float16).astype(np.float64) if kv_f16 else kf.astype(np.float64))
                vv = (vbuf.view(np.float16).astype(np.float64) if kv_f16 else vf.astype(np.float64))
                kk, vv = kk[:, head_dim:2 * head_dim], vv[:, head_dim:2 * head_dim]
                s = q.reshape(nq, head_dim).astype(np.float64) @ kk.T * float(scale)
                p = np.exp(s - s.max(1, keepdims=True))
                want = (p / p.sum(1, keepdims=True)) @ vv
                assert np.allclose(ref.reshape(nq, head_dim), want, rtol=1e-4, atol=1e-4)
                got2 = np.zeros(nq * head_dim, np.float32)     # the dispatch under the SSE2 set
                L.ops_attention_heads(got2, q, nq, kp, vp, stride, kv_f16, n_pos, head_dim, scale, sc2)
                assert np.array_equal(bits(got2), bits(ref))
    finally:
        L.h_init_simd(0)


@pytest.mark.parametrize("head_dim", [4, 12, 64, 72])
@pytest.mark.parametrize("kv_f16", [0, 1])
def test_attention_prepared_kv_sse2_bit_identical(L, head_dim, kv_f16):
    """The SSE2 prefill form (llm/attn_sse2.c): keys transposed to f32 blocks of 8 positions and values converted
    once, in pieces of blocks as the workers do, the blocks' unused positions zero; then every (position count,
    head group) equals the reference on the cache itself, bit for bit (f16 caches with subnormal halves), directly
    and through ops.c's dispatch under the SSE2 set. head_dim 4 and 12: 8-position blocks of 4-dimension steps."""
    L.h_init_simd(GGML_CPU_SSE2)
    try:
        assert L.ops_attention_kt_ok(head_dim) == 1 and L.ops_attention_kt_ok(head_dim + 2) == 0
        rng = np.random.default_rng(900 + head_dim * 2 + kv_f16)
        n_kv_heads, n_pos = 3, 61
        stride = n_kv_heads * head_dim + 4
        kf, vf = special_halves(rng, (n_pos, stride)), special_halves(rng, (n_pos, stride))
        kbuf, vbuf = (f16_bits(kf), f16_bits(vf)) if kv_f16 else (kf, vf)
        n_blk = (n_pos + 7) // 8
        g = 2
        off = g * head_dim * kbuf.itemsize
        kp, vp = kbuf.ctypes.data + off, vbuf.ctypes.data + off
        kt = np.full(n_blk * head_dim * 8, np.nan, np.float32)
        v32 = np.full(n_pos * stride, np.nan, np.float32)
        v32p = v32.ctypes.data + g * head_dim * 4 if kv_f16 else None
        for b0, b1 in [(5, 8), (0, 2), (2, 5)]:          # pieces in any order
            L.attention_kv_prepare_sse2(kt, v32p, kp, vp, stride, kv_f16, head_dim, n_pos, b0, b1)
        # the layout: kt[(b * head_dim + i) * 8 + j] = key of position 8b + j, dim i; zero past n_pos
        keys = (kbuf.view(np.float16).astype(np.float32) if kv_f16 else kf)[:, g * head_dim:(g + 1) * head_dim]
        want_kt = np.zeros((n_blk * 8, head_dim), np.float32)
        want_kt[:n_pos] = keys
        want_kt = want_kt.reshape(n_blk, 8, head_dim).transpose(0, 2, 1).reshape(-1)
        assert np.array_equal(bits(kt), bits(want_kt))
        if kv_f16:      # the values of the head, exactly converted; the rest of the rows untouched
            vrows = v32.reshape(n_pos, stride)
            want_v = vbuf.view(np.float16).astype(np.float32)[:, g * head_dim:(g + 1) * head_dim]
            assert np.array_equal(bits(vrows[:, g * head_dim:(g + 1) * head_dim]), bits(want_v))
            assert np.isnan(vrows[:, :g * head_dim]).all() and np.isnan(vrows[:, (g + 1) * head_dim:]).all()
        if head_dim % 8 == 0 and host_has_avx2():   # the AVX2 kernel writes the same blocks (a shared layout)
            kt2 = np.full_like(kt, np.nan)
            L.attention_kv_prepare_avx2(kt2, None, kp, vp, stride, kv_f16, head_dim, n_pos, 0, n_blk)
            assert np.array_equal(bits(kt2), bits(kt))
        vsrc = v32.ctypes.data + g * head_dim * 4 if kv_f16 else vp
        scale = np.float32(1 / np.sqrt(head_dim))
        for nq in [1, 2, 3, 4, 5, 8, 9]:
            q = rng.normal(0, 1, nq * head_dim).astype(np.float32)
            for n in [1, 3, 4, 5, 7, 8, 9, 12, 40, n_pos]:
                ref, sc = np.zeros(nq * head_dim, np.float32), np.zeros(n_pos, np.float32)
                for h in range(nq):
                    o = np.zeros(head_dim, np.float32)
                    L.ops_attention_head(o, np.ascontiguousarray(q[h * head_dim:(h + 1) * head_dim]), kp, vp,
                                         stride, kv_f16, n, head_dim, scale, sc)
                    ref[h * head_dim:(h + 1) * head_dim] = o
                got, sc2 = np.full(nq * head_dim, np.nan, np.float32), np.zeros(nq * n_pos, np.float32)
                L.attention_heads_kt_sse2(got, q, nq, kt, vsrc, stride, n, head_dim, scale, sc2)
                assert np.array_equal(bits(got), bits(ref)), (nq, n)
                got2 = np.full(nq * head_dim, np.nan, np.float32)     # the dispatch under the SSE2 set
                L.ops_attention_heads_kt(got2, q, nq, kt, vsrc, stride, n, head_dim, scale, sc2)
                assert np.array_equal(bits(got2), bits(ref)), (nq, n)
        # ops.c's prepare under the SSE2 set is this one
        kt3 = np.full_like(kt, np.nan)
        L.ops_attention_kv_prepare(kt3, None, kp, vp, stride, kv_f16, head_dim, n_pos, 0, n_blk)
        assert np.array_equal(bits(kt3), bits(kt))
    finally:
        L.h_init_simd(0)


def test_attention_sse2_f16_special_halves(L):
    """Every one of the 65536 halves through the SSE2 conversion: a key row of all halves (inf and NaN payloads
    included) against one position of the value cache, compared with the reference bit for bit (NaN outputs by
    NaN-ness: which NaN wins a sum is not the kernel's choice)."""
    head_dim, n_pos = 64, 1024          # 65536 halves as values of 1024 positions
    allh = np.arange(65536, dtype=np.uint16).reshape(n_pos, head_dim)
    keys = np.ascontiguousarray(f16_bits(np.random.default_rng(9).normal(0, 0.1, (n_pos, head_dim))))
    q = np.random.default_rng(8).normal(0, 1, head_dim).astype(np.float32)
    ref, sc = np.zeros(head_dim, np.float32), np.zeros(n_pos, np.float32)
    L.ops_attention_head(ref, q, keys.ctypes.data, allh.ctypes.data, head_dim, 1, n_pos, head_dim,
                         np.float32(0.125), sc)
    got, sc2 = np.zeros(head_dim, np.float32), np.zeros(n_pos, np.float32)
    L.attention_heads_sse2(got, q, 1, keys.ctypes.data, allh.ctypes.data, head_dim, 1, n_pos, head_dim,
                           np.float32(0.125), sc2)
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    ok = ~np.isnan(ref)
    assert np.array_equal(bits(got[ok]), bits(ref[ok]))
    # one position at a time with p = 1: out equals the half itself (exact conversion, numpy's), NaN stays NaN
    for t in range(n_pos):
        k1 = np.ascontiguousarray(keys[t:t + 1])
        v1 = np.ascontiguousarray(allh[t:t + 1])
        out = np.zeros(head_dim, np.float32)
        L.attention_heads_sse2(out, q, 1, k1.ctypes.data, v1.ctypes.data, head_dim, 1, 1, head_dim,
                               np.float32(0.125), sc2)
        want = v1.view(np.float16).astype(np.float32).reshape(-1)
        fin = ~np.isnan(want)
        want[fin] += np.float32(0.0)          # out starts at +0.0: 0.0 + 1.0 * -0.0 is +0.0
        assert np.array_equal(bits(out[fin]), bits(want[fin])), t
        assert np.all(np.isnan(out[~fin]))
