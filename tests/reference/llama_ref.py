"""Numpy reference of the llama forward pass, independent of the C engine (kernel/llm/llama.c).

Weights are dequantized with gguf.quants; the maths follows the llama architecture as GGUF stores it:
RMSNorm, RoPE in llama.cpp's "normal" mode (adjacent pairs (x[2i], x[2i+1]): GGUF llama Q/K weights are
permuted at conversion so that this mode equals HF's rotate-half), grouped-query causal attention, SwiGLU,
output head tied to token_embd when output.weight is absent, rope base / linear scaling / rope_freqs from the
metadata.

act_quant=True additionally rounds each matrix product's input the way ggml does before a quantized dot product
(Q8_0 for Q4_0/Q5_0/Q8_0; Q8_1 for Q4_1/Q5_1: the same values as Q8_0 plus the block sum s = fp16(d * sum(q))
that multiplies the weight block's min; Q8_K for the K-quants; fp16/bf16 for F16/BF16),
so the C engine's logits can be held to a tight tolerance; act_quant=False is the pure float model.
kv_f16=True rounds cached K/V to fp16 as a CLLM_KV_F16 build does.
"""
from __future__ import annotations

import ctypes
import glob
import os

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT



def _blas_single_thread() -> None:
    """This reference does many small matrix-vector products: OpenBLAS's spinning threads make them ~10x slower
    on a busy 2-core machine. Ask numpy's bundled OpenBLAS for one thread (best effort)."""
    libdir = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for lib in glob.glob(os.path.join(libdir, "libscipy_openblas*.so")) + glob.glob(os.path.join(libdir, "libopenblas*.so")):
        try:
            dll = ctypes.CDLL(lib)
        except OSError:
            continue
        for name in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_",
                     "openblas_set_num_threads"):
            fn = getattr(dll, name, None)
            if fn is not None:
                fn(ctypes.c_int(1))
                return


_blas_single_thread()

_Q8_0_ACT = {QT.Q4_0, QT.Q5_0, QT.Q8_0, QT.Q4_1, QT.Q5_1}
_Q8_1_ACT = {QT.Q4_1, QT.Q5_1}  # their block min m multiplies Q8_1's stored s = fp16(d * sum(q))
_Q8_K_ACT = {QT.Q2_K, QT.Q3_K, QT.Q4_K, QT.Q5_K, QT.Q6_K}


def _field(r: gguf.GGUFReader, key: str, default=None):
    f = r.fields.get(key)
    if f is None:
        return default
    return f.contents()


def quantize_act_q8_k(x: np.ndarray) -> np.ndarray:
    """Round rows of x (n % 256 == 0) through ggml's Q8_K: per 256 block, the value of largest magnitude v
    (first on ties) gives iscale = -127 / v, q = min(127, round-half-even(iscale * x)), x' = q / iscale (f32)."""
    shape = x.shape
    b = x.astype(np.float32).reshape(-1, 256)
    idx = np.argmax(np.abs(b), axis=1)
    vmax = b[np.arange(b.shape[0]), idx]
    out = np.zeros_like(b)
    nz = vmax != 0
    iscale = (np.float32(-127.0) / vmax[nz]).astype(np.float32)
    q = np.minimum(np.rint(b[nz] * iscale[:, None]), 127).astype(np.float32)
    d = (np.float32(1.0) / iscale).astype(np.float32)
    out[nz] = q * d[:, None]
    return out.reshape(shape)


def quantize_act(x: np.ndarray, wtype: QT) -> np.ndarray:
    """x (rows, n) float32 as ggml hands it to vec_dot for a weight of type wtype (dequantized back to f32)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if wtype == QT.F32:
        return x
    if wtype == QT.F16:
        return x.astype(np.float16).astype(np.float32)
    if wtype == QT.BF16:
        return gguf.quants.dequantize(gguf.quants.quantize(x, QT.BF16), QT.BF16)
    if wtype in _Q8_0_ACT:
        return gguf.quants.dequantize(gguf.quants.quantize(x, QT.Q8_0), QT.Q8_0)
    if wtype in _Q8_K_ACT:
        return quantize_act_q8_k(x)
    raise ValueError(f"no activation type for {wtype.name}")


class Weight:
    """A dequantized (rows, cols) float32 matrix and its GGUF type."""

    def __init__(self, t: gguf.ReaderTensor):
        self.type = QT(t.tensor_type)
        data = np.asarray(t.data)
        if data.dtype == np.float32:
            w = data
        else:
            w = gguf.quants.dequantize(data, self.type)
        cols = int(t.shape[0])
        self.w = np.ascontiguousarray(w.reshape(-1, cols), dtype=np.float32)
        self.m = None
        if self.type in _Q8_1_ACT:  # per-block min m (f16 at byte 2 of every Q4_1 / Q5_1 block)
            bsz, tsz = gguf.GGML_QUANT_SIZES[self.type]
            blocks = np.asarray(t.data).view(np.uint8).reshape(-1, tsz)
            self.m = blocks[:, 2:4].copy().view(np.float16).astype(np.float32).reshape(self.w.shape[0], -1)


def q8_1_sum_correction(x: np.ndarray) -> np.ndarray:
    """(rows, n_blocks): s - fp16(d) * sum(q) per 32-block of Q8_1, the part of m * s that the dequantized
    Q8_0 values miss."""
    b = x.astype(np.float32).reshape(x.shape[0], -1, 32)
    d = (np.abs(b).max(axis=2) / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        idv = np.where(d == 0, np.float32(0), (np.float32(1) / d).astype(np.float32))
    q = gguf.quants.np_roundf(b * idv[:, :, None])
    sq = q.sum(axis=2).astype(np.float32)
    s = (sq * d).astype(np.float16).astype(np.float32)
    return s - d.astype(np.float16).astype(np.float32) * sq


class LlamaRef:
    def __init__(self, path: str, act_quant: bool = True, kv_f16: bool = False, rope_neox: bool = False):
        r = gguf.GGUFReader(path)
        arch = _field(r, "general.architecture")
        if arch != "llama":
            raise ValueError(f"unsupported architecture {arch}")
        g = lambda k, d=None: _field(r, f"llama.{k}", d)  # noqa: E731
        self.n_embd = int(g("embedding_length"))
        self.n_layer = int(g("block_count"))
        self.n_ff = int(g("feed_forward_length"))
        self.n_head = int(g("attention.head_count"))
        self.n_head_kv = int(g("attention.head_count_kv", self.n_head))
        self.head_dim = int(g("attention.key_length", self.n_embd // self.n_head))
        self.n_rot = int(g("rope.dimension_count", self.head_dim))
        self.eps = float(g("attention.layer_norm_rms_epsilon", 1e-5))
        self.rope_base = float(g("rope.freq_base", 10000.0))
        scaling = g("rope.scaling.type", "none")
        factor = float(g("rope.scaling.factor", 0.0) or 0.0)
        self.freq_scale = 1.0 / factor if scaling == "linear" and factor > 0 else 1.0
        self.n_ctx_train = int(g("context_length", 2048))
        self.act_quant = act_quant
        self.kv_f16 = kv_f16
        self.rope_neox = rope_neox  # the wrong mode for GGUF llama (pairs (i, i + n_rot/2)): for tests that show it
        self.bos = _field(r, "tokenizer.ggml.bos_token_id")
        self.eos = _field(r, "tokenizer.ggml.eos_token_id")

        t = {x.name: x for x in r.tensors}
        self.tok_embd = Weight(t["token_embd.weight"])
        self.n_vocab = self.tok_embd.w.shape[0]
        self.output_norm = Weight(t["output_norm.weight"]).w.reshape(-1)
        self.output = Weight(t["output.weight"]) if "output.weight" in t else self.tok_embd
        self.rope_freqs = Weight(t["rope_freqs.weight"]).w.reshape(-1) if "rope_freqs.weight" in t else None
        self.layers = []
        for il in range(self.n_layer):
            p = f"blk.{il}."
            L = {k: Weight(t[p + k + ".weight"]) for k in
                 ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")}
            L["attn_norm"] = Weight(t[p + "attn_norm.weight"]).w.reshape(-1)
            L["ffn_norm"] = Weight(t[p + "ffn_norm.weight"]).w.reshape(-1)
            self.layers.append(L)
        self.reset()

    def reset(self) -> None:
        kv = self.n_head_kv * self.head_dim
        self.k_cache = [np.zeros((0, kv), np.float32) for _ in range(self.n_layer)]
        self.v_cache = [np.zeros((0, kv), np.float32) for _ in range(self.n_layer)]
        self.n_past = 0

    # -- building blocks --
    def matmul(self, x: np.ndarray, W: Weight) -> np.ndarray:
        if not self.act_quant:
            return x @ W.w.T
        out = quantize_act(x, W.type) @ W.w.T
        if W.m is not None:
            out = out + q8_1_sum_correction(x) @ W.m.T
        return out

    def rmsnorm(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        x64 = x.astype(np.float64)
        ms = np.mean(x64 * x64, axis=-1, keepdims=True)
        return (x64 / np.sqrt(ms + self.eps) * w).astype(np.float32)

    def rope(self, x: np.ndarray, pos: np.ndarray, n_heads: int) -> np.ndarray:
        """x (n, n_heads * head_dim); rotates adjacent pairs of the first n_rot dims of each head."""
        n = x.shape[0]
        x = x.reshape(n, n_heads, self.head_dim).astype(np.float64)
        i = np.arange(self.n_rot // 2, dtype=np.float64)
        inv = self.rope_base ** (-2.0 * i / self.n_rot)
        if self.rope_freqs is not None:
            inv = inv / self.rope_freqs[: self.n_rot // 2].astype(np.float64)
        theta = (pos.astype(np.float64) * self.freq_scale)[:, None] * inv[None, :]  # (n, n_rot/2)
        c, s = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]
        if self.rope_neox:
            i0, i1 = slice(0, self.n_rot // 2), slice(self.n_rot // 2, self.n_rot)
        else:
            i0, i1 = slice(0, self.n_rot, 2), slice(1, self.n_rot, 2)
        x0 = x[:, :, i0].copy()
        x1 = x[:, :, i1].copy()
        x[:, :, i0] = x0 * c - x1 * s
        x[:, :, i1] = x0 * s + x1 * c
        return x.reshape(n, n_heads * self.head_dim).astype(np.float32)

    # -- the model --
    def embed(self, tokens) -> np.ndarray:
        return self.tok_embd.w[np.asarray(tokens, dtype=np.int64)].copy()

    def forward(self, tokens, all_logits: bool = True) -> np.ndarray:
        """Evaluate tokens at positions n_past.. (appending to the cache); logits (n, vocab) or (vocab,)."""
        tokens = list(tokens)
        n = len(tokens)
        pos = np.arange(self.n_past, self.n_past + n)
        hd, nh, nkv = self.head_dim, self.n_head, self.n_head_kv
        group = nh // nkv
        x = self.embed(tokens)
        for il, L in enumerate(self.layers):
            h = self.rmsnorm(x, L["attn_norm"])
            q = self.rope(self.matmul(h, L["attn_q"]), pos, nh)
            k = self.rope(self.matmul(h, L["attn_k"]), pos, nkv)
            v = self.matmul(h, L["attn_v"])
            if self.kv_f16:
                k = k.astype(np.float16).astype(np.float32)
                v = v.astype(np.float16).astype(np.float32)
            self.k_cache[il] = np.concatenate([self.k_cache[il], k])
            self.v_cache[il] = np.concatenate([self.v_cache[il], v])
            K = self.k_cache[il].reshape(-1, nkv, hd).astype(np.float64)
            V = self.v_cache[il].reshape(-1, nkv, hd).astype(np.float64)
            T = K.shape[0]
            qh = q.reshape(n, nh, hd).astype(np.float64)
            att_out = np.zeros((n, nh, hd))
            mask = np.arange(T)[None, :] > pos[:, None]  # (n, T): future positions
            for hh in range(nh):
                kh = hh // group
                sc = qh[:, hh, :] @ K[:, kh, :].T / np.sqrt(hd)
                sc[mask] = -np.inf
                sc -= sc.max(axis=1, keepdims=True)
                p = np.exp(sc)
                p /= p.sum(axis=1, keepdims=True)
                att_out[:, hh, :] = p @ V[:, kh, :]
            x = x + self.matmul(att_out.reshape(n, nh * hd).astype(np.float32), L["attn_output"])
            h = self.rmsnorm(x, L["ffn_norm"])
            gate = self.matmul(h, L["ffn_gate"]).astype(np.float64)
            up = self.matmul(h, L["ffn_up"]).astype(np.float64)
            act = (gate / (1.0 + np.exp(-gate)) * up).astype(np.float32)
            x = x + self.matmul(act, L["ffn_down"])
        self.n_past += n
        if not all_logits:
            x = x[-1:]
        h = self.rmsnorm(x, self.output_norm)
        logits = self.matmul(h, self.output)
        return logits if all_logits else logits[0]

    def generate_greedy(self, prompt, n_predict: int, stop_at_eos: bool = False, steps: list | None = None,
                        ban=()) -> list[int]:
        """Greedy continuation (token by token after the prompt); steps, when given, receives each step's logits.
        Tokens in ban are never chosen (llama.cpp's ignore_eos bans the end-of-generation tokens)."""
        self.reset()
        ban = list(ban)
        logits = self.forward(prompt, all_logits=False)
        out = []
        for _ in range(n_predict):
            if ban:
                logits = logits.copy()
                logits[ban] = -np.inf
            if steps is not None:
                steps.append(logits)
            t = int(np.argmax(logits))
            out.append(t)
            if stop_at_eos and t == self.eos:
                break
            logits = self.forward([t], all_logits=False)
        return out
