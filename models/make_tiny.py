#!/usr/bin/env python3
"""Tiny synthetic llama GGUFs for tests: random weights from a fixed seed, a small real byte-level BPE vocab
(trained here on a built-in corpus), ChatML chat template, one weight type per file, with or without
`output.weight` (tied embeddings).  The numpy reference is tests/reference/llama_ref.py; SmolLM2 comes from
models/fetch.py.

    python models/make_tiny.py --type q4_1 --out x.gguf [--tied] [--seed 0] [--n-embd 256] ...

Stable interface (other tests use it): make_tiny(path, qtype="q4_1", tied=False, seed=0, **dims) -> path,
TYPES (the supported type names), DEFAULT_DIMS.

Weight types with a quantizer in gguf.quants (F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1) quantize random float
matrices; the K-quants (no quantizer in gguf.quants) are random valid blocks whose fp16 scales are set so the
dequantized weights have the wanted spread: either way `gguf.quants.dequantize` of the stored bytes is the truth.
Norm weights are always F32 (as in real quantized models); every 2-D matrix, the embedding included, has the type.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import Counter

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT

TYPES = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k"]

# K-quants need rows that are a multiple of 256: n_embd and n_ff are.
DEFAULT_DIMS = dict(n_embd=256, n_head=4, n_head_kv=2, n_layer=2, n_ff=512, n_ctx=256, n_merges=125,
                    rope_base=10000.0, rms_eps=1e-5, rope_linear_factor=0.0)

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]  # ids 0, 1, 2 as in SmolLM2

CORPUS = """The quick brown fox jumps over the lazy dog. Once upon a time there was a little robot who
wanted to learn how to read. It read books about the sea, the sky and the mountains, and it asked the
people in the town what the words meant. def main(): print("hello, world") return 0
for (int i = 0; i < n; i++) { sum += a[i] * b[i]; } The capital of France is Paris. The capital of Italy
is Rome. Numbers: 1 2 3 10 42 100 2024. What is the answer? The answer is that the model is tiny and the
weights are random, so the text it writes will not mean anything at all, but the tokens are real."""


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode character map (from the published GPT-2 encoder design)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


def train_bpe(text: str, n_merges: int) -> tuple[list[str], list[str]]:
    """A small byte-level BPE: returns (merged token strings in merge order, merges as 'a b')."""
    b2u = bytes_to_unicode()
    words = Counter(re.findall(r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+", text))
    seqs = {w: [b2u[b] for b in w.encode("utf-8")] for w in words}
    merges, tokens = [], []
    for _ in range(n_merges):
        pairs: Counter = Counter()
        for w, n in words.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]  # deterministic tie-break
        merges.append(best[0] + " " + best[1])
        tokens.append(best[0] + best[1])
        for w in words:
            s, i, out = seqs[w], 0, []
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    return tokens, merges


def build_vocab(n_merges: int) -> tuple[list[str], list[int], list[str]]:
    b2u = bytes_to_unicode()
    merged, merges = train_bpe(CORPUS, n_merges)
    tokens = list(SPECIALS) + [b2u[b] for b in range(256)] + merged
    types = [int(gguf.TokenType.CONTROL)] * len(SPECIALS) + [int(gguf.TokenType.NORMAL)] * (256 + len(merged))
    return tokens, types, merges


# Random K-quant blocks: byte offsets of the fp16 fields and, for the asymmetric types, dmin / d so the
# dequantized weights are centred (dmin * mean(min) ~ d * mean(scale) * mean(q)).
_KQ_FIELDS = {
    QT.Q2_K: dict(d=80, dmin=82, dmin_ratio=1.5),
    QT.Q3_K: dict(d=108),
    QT.Q4_K: dict(d=0, dmin=2, dmin_ratio=7.5),
    QT.Q5_K: dict(d=0, dmin=2, dmin_ratio=15.5),
    QT.Q6_K: dict(d=208),
}


def _random_kquant(rng: np.random.Generator, rows: int, cols: int, qt: QT, std: float) -> np.ndarray:
    block, tsize = gguf.GGML_QUANT_SIZES[qt]
    nb = rows * cols // block
    f = _KQ_FIELDS[qt]
    raw = rng.integers(0, 256, size=(nb, tsize), dtype=np.uint8)
    scale = rng.uniform(0.5, 1.5, size=nb).astype(np.float32)

    def put(s: np.ndarray) -> None:
        raw[:, f["d"]:f["d"] + 2] = s.astype(np.float16).view(np.uint8).reshape(nb, 2)
        if "dmin" in f:
            raw[:, f["dmin"]:f["dmin"] + 2] = (s * f["dmin_ratio"]).astype(np.float16).view(np.uint8).reshape(nb, 2)

    put(scale)
    got = gguf.quants.dequantize(raw, qt).std()
    put(scale * np.float32(std / got))
    return raw.reshape(rows, cols // block * tsize)


def _matrix(rng: np.random.Generator, rows: int, cols: int, qt: QT, std: float) -> np.ndarray:
    """One (rows, cols) weight in type qt: float32/float16 arrays or raw uint8 block bytes."""
    if qt in _KQ_FIELDS:
        return _random_kquant(rng, rows, cols, qt, std)
    w = (rng.standard_normal((rows, cols)) * std).astype(np.float32)
    if qt == QT.F32:
        return w
    if qt == QT.F16:
        return w.astype(np.float16)
    return gguf.quants.quantize(w, qt)


def make_tiny(path: str, qtype: str = "q4_1", tied: bool = False, seed: int = 0, pre: str = "gpt-2",
              **dims) -> str:
    d = dict(DEFAULT_DIMS)
    unknown = set(dims) - set(d)
    if unknown:
        raise ValueError(f"unknown dimension(s): {sorted(unknown)}")
    d.update(dims)
    qt = QT[qtype.upper()]
    if qtype.lower() not in TYPES:
        raise ValueError(f"unsupported type {qtype}")
    n_embd, n_head, n_head_kv, n_layer, n_ff = d["n_embd"], d["n_head"], d["n_head_kv"], d["n_layer"], d["n_ff"]
    head_dim = n_embd // n_head
    block = gguf.GGML_QUANT_SIZES[qt][0]
    if n_embd % block or n_ff % block:
        raise ValueError(f"{qtype}: n_embd and n_ff must be multiples of {block}")

    tokens, types, merges = build_vocab(d["n_merges"])
    n_vocab = len(tokens)
    rng = np.random.default_rng(seed)

    w = gguf.GGUFWriter(path, "llama")
    w.add_name(f"tiny-llama-{qtype.lower()}{'-tied' if tied else ''}")
    w.add_context_length(d["n_ctx"])
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(d["rope_base"])
    w.add_layer_norm_rms_eps(d["rms_eps"])
    if d["rope_linear_factor"] > 0:  # llama.cpp: positions divided by the factor
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(d["rope_linear_factor"])
    w.add_vocab_size(n_vocab)
    w.add_file_type(int(gguf.LlamaFileType.ALL_F32) if qt == QT.F32 else 1)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_pad_token_id(2)
    w.add_add_bos_token(False)
    w.add_chat_template(CHATML)

    def mat(name: str, rows: int, cols: int, std: float) -> None:
        a = _matrix(rng, rows, cols, qt, std)
        w.add_tensor(name, a, raw_dtype=qt if a.dtype == np.uint8 else None)

    def norm(name: str, n: int) -> None:
        w.add_tensor(name, (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32))

    mat("token_embd.weight", n_vocab, n_embd, 1.0)
    for il in range(n_layer):
        p = f"blk.{il}."
        norm(p + "attn_norm.weight", n_embd)
        mat(p + "attn_q.weight", n_head * head_dim, n_embd, 1.5 / np.sqrt(n_embd))
        mat(p + "attn_k.weight", n_head_kv * head_dim, n_embd, 1.5 / np.sqrt(n_embd))
        mat(p + "attn_v.weight", n_head_kv * head_dim, n_embd, 1.0 / np.sqrt(n_embd))
        mat(p + "attn_output.weight", n_embd, n_head * head_dim, 1.0 / np.sqrt(n_embd))
        norm(p + "ffn_norm.weight", n_embd)
        mat(p + "ffn_gate.weight", n_ff, n_embd, 1.0 / np.sqrt(n_embd))
        mat(p + "ffn_up.weight", n_ff, n_embd, 1.0 / np.sqrt(n_embd))
        mat(p + "ffn_down.weight", n_embd, n_ff, 1.0 / np.sqrt(n_ff))
    norm("output_norm.weight", n_embd)
    if not tied:
        mat("output.weight", n_vocab, n_embd, 3.0 / np.sqrt(n_embd))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--type", default="q4_1", choices=TYPES)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tied", action="store_true", help="no output.weight: the head reuses token_embd")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pre", default="gpt-2", help="tokenizer.ggml.pre value")
    for k, v in DEFAULT_DIMS.items():
        ap.add_argument("--" + k.replace("_", "-"), type=type(v), default=v)
    a = ap.parse_args(argv)
    dims = {k: getattr(a, k) for k in DEFAULT_DIMS}
    try:
        make_tiny(a.out, a.type, tied=a.tied, seed=a.seed, pre=a.pre, **dims)
    except ValueError as e:
        print(f"make_tiny: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
