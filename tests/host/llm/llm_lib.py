"""Builds the inference engine (kernel/llm + the pure kernel libs + tests/host/shim.c + llm_host.c) for the host
as a shared library and wraps it with ctypes. Used by tests/test_llm_*.py. Output: tests/.build/llm/."""
from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "tests" / ".build" / "llm"
LLM = ["gguf", "ggml_types", "matmul", "attn_sse2", "attn_avx2", "ops", "ops_sse2", "ops_avx2", "ops_avx512", "attn_avx512", "prof", "kv_cache", "llama", "sampler", "engine", "tokenizer",
       "tokenizer_bpe", "tokenizer_spm", "pretokenize", "unicode", "unicode_tables"]
SOURCES = (["tests/host/llm/llm_host.c", "tests/host/llm/workers_host.c", "tests/host/shim.c", "kernel/lib/fmt.c", "kernel/lib/math.c",
            "kernel/lib/parse.c"] + [f"kernel/llm/{m}.c" for m in LLM] +
           # the type table links every quantized kernel (references and SIMD twins)
           sorted(str(p.relative_to(ROOT)) for p in (ROOT / "kernel" / "llm").glob("quant_*.c")))
CFLAGS = ["-DCLLM_HOST", "-I" + str(ROOT / "kernel"), "-I" + str(ROOT / "tests/host/include"), "-O2", "-g",
          "-Wall", "-Wextra", "-ffp-contract=off", "-shared", "-fPIC"]

_F, _I, _U64 = ctypes.c_float, ctypes.c_int, ctypes.c_uint64
_P = ctypes.c_void_p
_FP = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
_IP = np.ctypeslib.ndpointer(np.int32, flags="C_CONTIGUOUS")

STOP = {0: "none", 1: "eos", 2: "limit", 3: "context", 4: "caller", 5: "error"}


def build(extra_flags: tuple[str, ...] = ()) -> Path:
    srcs = list(SOURCES)
    h = hashlib.sha256(" ".join(CFLAGS + list(extra_flags)).encode())
    for s in srcs:
        h.update((ROOT / s).read_bytes())
    for d in ("kernel/llm", "kernel/lib", "kernel/core", "tests/host/include"):
        for p in sorted((ROOT / d).glob("*.h")):
            h.update(p.read_bytes())
    out = BUILD / f"libllm-{h.hexdigest()[:16]}.so"
    if not out.exists():
        BUILD.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        subprocess.run(["gcc", *CFLAGS, *extra_flags, "-o", str(tmp), *[str(ROOT / s) for s in srcs], "-lm"],
                       check=True)
        os.replace(tmp, out)
    return out


class Lib:
    def __init__(self, extra_flags: tuple[str, ...] = ()):
        self.path = build(extra_flags)
        L = self.lib = ctypes.CDLL(str(self.path))
        L.h_engine_open.restype = _P
        L.h_engine_open.argtypes = [ctypes.c_char_p, _I, _I, _I, _I, ctypes.c_char_p, _I]
        L.h_engine_close.argtypes = [_P]
        L.h_engine_info.argtypes = [_P, _IP]
        L.h_forward.argtypes = [_P, _I, _IP, _I, _I, _FP, _I]
        L.h_token_is_eog.argtypes = [_P, _I]
        L.h_generate.argtypes = [_P, _IP, _I, _I, _I, _F, _I, _F, _F, _F, _F, _F, _I, _U64, _IP,
                                 ctypes.POINTER(_I)]
        L.h_tokenize.argtypes = [_P, ctypes.c_char_p, _I, _I, _I, _IP, _I]
        L.h_detokenize.argtypes = [_P, _IP, _I, _I, ctypes.c_char_p, _I]
        L.h_sampler_new.restype = _P
        L.h_sampler_new.argtypes = [_I, _F, _I, _F, _F, _F, _F, _F, _I, _U64, _I]
        L.h_sampler_free.argtypes = [_P]
        L.h_sampler_accept.argtypes = [_P, ctypes.c_int32]
        L.h_sampler_sample.argtypes = [_P, _FP]
        L.h_sampler_sample.restype = ctypes.c_int32
        L.h_sampler_top_probs.argtypes = [_P, _I, _IP, _FP]
        L.h_sampler_histogram.argtypes = [_P, _FP, _I, _IP]
        ctypes.c_int.in_dll(L, "host_log_quiet").value = 1


INFO_KEYS = ["n_vocab", "n_ctx_train", "n_embd", "n_layer", "n_head", "n_head_kv", "head_dim", "n_rot", "n_ff",
             "n_ctx", "n_batch", "tied", "bos", "eos", "eot"]


class Engine:
    def __init__(self, lib: Lib, path: str, n_ctx: int = 0, n_batch: int = 0, n_slots: int = 0, kv_f16: int = -1):
        self.L = lib.lib
        err = ctypes.create_string_buffer(256)
        self.h = self.L.h_engine_open(str(path).encode(), n_ctx, n_batch, n_slots, kv_f16, err, 256)
        if not self.h:
            raise RuntimeError(err.value.decode())
        hp = np.zeros(len(INFO_KEYS), np.int32)
        self.L.h_engine_info(self.h, hp)
        self.info = dict(zip(INFO_KEYS, (int(x) for x in hp)))
        self.n_vocab = self.info["n_vocab"]

    def eog_ids(self) -> list[int]:
        """The end-of-generation tokens (what ignore_eos bans)."""
        return [t for t in range(self.n_vocab) if self.L.h_token_is_eog(self.h, t)]

    def close(self) -> None:
        if self.h:
            self.L.h_engine_close(self.h)
            self.h = None

    def __del__(self):
        self.close()

    def forward(self, tokens, pos0: int, all_logits: bool = False, slot: int = 0) -> np.ndarray:
        """llama_forward over tokens at pos0.., in passes of at most n_batch tokens."""
        t = np.ascontiguousarray(tokens, np.int32)
        nb, outs = self.info["n_batch"], []
        for i in range(0, len(t), nb):
            c = np.ascontiguousarray(t[i:i + nb])
            out = np.zeros((len(c) if all_logits else 1) * self.n_vocab, np.float32)
            rc = self.L.h_forward(self.h, slot, c, len(c), pos0 + i, out, int(all_logits))
            if rc != 0:
                raise ValueError(f"llama_forward failed ({rc})")
            outs.append(out.reshape(-1, self.n_vocab))
        return np.concatenate(outs) if all_logits else outs[-1][0]

    def tokenize(self, text: str | bytes, add_special: bool = True, parse_special: bool = True) -> list[int]:
        b = text.encode() if isinstance(text, str) else text
        out = np.zeros(3 * len(b) + 16, np.int32)
        n = self.L.h_tokenize(self.h, b, len(b), int(add_special), int(parse_special), out, len(out))
        if n < 0:
            raise ValueError(f"tokenize failed ({n})")
        return [int(x) for x in out[:n]]

    def detokenize(self, tokens, render_special: bool = False) -> bytes:
        t = np.ascontiguousarray(tokens, np.int32)
        cap = 256 * len(t) + 16
        buf = ctypes.create_string_buffer(cap)
        n = self.L.h_detokenize(self.h, t, len(t), int(render_special), buf, cap)
        if n < 0:
            raise ValueError("detokenize failed")
        return buf.raw[:n]

    def generate(self, prompt, n_predict: int, ignore_eos: bool = False, temp: float = 0.0, top_k: int = 40,
                 top_p: float = 0.95, min_p: float = 0.05, repeat_penalty: float = 1.0, presence: float = 0.0,
                 frequency: float = 0.0, last_n: int = 64, seed: int = 0):
        t = np.ascontiguousarray(prompt, np.int32)
        out = np.zeros(max(n_predict, 1), np.int32)
        n = _I(0)
        rc = self.L.h_generate(self.h, t, len(t), n_predict, int(ignore_eos), temp, top_k, top_p, min_p,
                               repeat_penalty, presence, frequency, last_n, seed, out, ctypes.byref(n))
        return [int(x) for x in out[: n.value]], STOP.get(rc, str(rc))


class Sampler:
    def __init__(self, lib: Lib, n_vocab: int, temp: float = 0.8, top_k: int = 40, top_p: float = 0.95,
                 min_p: float = 0.05, repeat_penalty: float = 1.0, presence: float = 0.0, frequency: float = 0.0,
                 last_n: int = 64, seed: int = 0, n_probs: int = 0):
        self.L = lib.lib
        self.n_vocab = n_vocab
        self.h = self.L.h_sampler_new(n_vocab, temp, top_k, top_p, min_p, repeat_penalty, presence, frequency,
                                      last_n, seed, n_probs)
        if not self.h:
            raise ValueError("sampler_init failed")

    def __del__(self):
        if self.h:
            self.L.h_sampler_free(self.h)

    def accept(self, t: int) -> None:
        self.L.h_sampler_accept(self.h, t)

    def sample(self, logits) -> int:
        return int(self.L.h_sampler_sample(self.h, np.ascontiguousarray(logits, np.float32)))

    def top_probs(self, n: int):
        ids = np.zeros(n, np.int32)
        probs = np.zeros(n, np.float32)
        k = self.L.h_sampler_top_probs(self.h, n, ids, probs)
        return ids[:k].tolist(), probs[:k].tolist()

    def histogram(self, logits, n: int) -> np.ndarray:
        counts = np.zeros(self.n_vocab, np.int32)
        self.L.h_sampler_histogram(self.h, np.ascontiguousarray(logits, np.float32), n, counts)
        return counts
