"""The C forward pass (kernel/llm/llama.c, built for the host) against the numpy reference
(tests/reference/llama_ref.py, weights dequantized by gguf.quants) on tiny synthetic models of every supported
weight type (models/make_tiny.py), with and without output.weight; batched prefill against token-by-token."""
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "host" / "llm"))
sys.path.insert(0, str(HERE / "reference"))
sys.path.insert(0, str(HERE.parent / "models"))
import llm_lib  # noqa: E402
from llama_ref import LlamaRef  # noqa: E402
from make_tiny import TYPES, make_tiny  # noqa: E402

# Tolerances, as fractions of the reference's logit range (max - min over the compared positions).
# Against the reference that rounds activations as ggml does, positions agree to float32 rounding (~1e-6) until
# some activation lands on the other side of a quantization rounding boundary (the float32 sums of C and numpy
# differ in the last bit): that activation moves by one quantization step, and through the KV cache so do the
# later positions. TOL_FLIP bounds that (measured: up to ~1e-2 for 4-bit types, 2 layers).
TOL_FLIP = 3e-2
# Against the pure float model the whole activation-quantization error shows.
TOL_FLOAT = 5e-2
# The argmax (greedy token) agrees at nearly every position (a flip can swap a near-tie).
MIN_ARGMAX_AGREE = 0.9
N_TOKENS = 24


@pytest.fixture(scope="module")
def lib():
    return llm_lib.Lib()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny-llm")
    cache = {}

    def get(qtype, tied=False):
        key = (qtype, tied)
        if key not in cache:
            cache[key] = make_tiny(str(d / f"tiny-{qtype}{'-tied' if tied else ''}.gguf"), qtype, tied=tied,
                                   seed=TYPES.index(qtype))
        return cache[key]
    return get


def prompt(n_vocab, n=N_TOKENS, seed=1):
    return [int(t) for t in np.random.default_rng(seed).integers(0, n_vocab, n)]


def rel_error(c, r):
    return float(np.abs(c - r).max() / (r.max() - r.min()))


CASES = [(t, False) for t in TYPES] + [("q8_0", True), ("q4_k", True), ("f16", True)]


@pytest.mark.parametrize("qtype,tied", CASES, ids=[f"{t}{'-tied' if tied else ''}" for t, tied in CASES])
def test_logits_match_reference(lib, models, qtype, tied):
    path = models(qtype, tied)
    eng = llm_lib.Engine(lib, path, n_ctx=128, n_batch=8, kv_f16=0)
    assert eng.info["tied"] == int(tied)
    toks = prompt(eng.n_vocab)
    c = eng.forward(toks, 0, all_logits=True)
    eng.close()
    ref_q = LlamaRef(path, act_quant=True).forward(toks)
    ref_f = LlamaRef(path, act_quant=False).forward(toks)
    flip, full = rel_error(c, ref_q), rel_error(c, ref_f)
    agree = float((c.argmax(1) == ref_q.argmax(1)).mean())
    print(f"{qtype}{'-tied' if tied else ''}: max |diff| / range vs ggml-rounding ref {flip:.1e}, "
          f"vs float ref {full:.1e}; argmax agreement {agree:.2f}")
    assert flip <= TOL_FLIP, f"{qtype}: max error {flip:.2e}"
    assert full <= TOL_FLOAT, f"{qtype}: error vs float model {full:.2e}"
    assert agree >= MIN_ARGMAX_AGREE


@pytest.mark.parametrize("qtype", ["q4_1", "q6_k"])
def test_kv_f16_matches_reference(lib, models, qtype):
    path = models(qtype)
    eng = llm_lib.Engine(lib, path, n_ctx=128, n_batch=8, kv_f16=1)
    toks = prompt(eng.n_vocab, seed=2)
    c = eng.forward(toks, 0, all_logits=True)
    eng.close()
    assert rel_error(c, LlamaRef(path, act_quant=True, kv_f16=True).forward(toks)) <= TOL_FLIP


@pytest.mark.parametrize("qtype", ["f32", "q4_0", "q5_1", "q3_k", "bf16"])
@pytest.mark.parametrize("kv_f16", [0, 1])
def test_batched_prefill_equals_token_by_token(lib, models, qtype, kv_f16):
    """Each token's arithmetic does not depend on its batch: logits are bit-identical, so greedy tokens are too."""
    path = models(qtype)
    toks = prompt(100, n=30, seed=3)
    one = llm_lib.Engine(lib, path, n_ctx=128, n_batch=1, kv_f16=kv_f16)
    many = llm_lib.Engine(lib, path, n_ctx=128, n_batch=16, kv_f16=kv_f16)
    a = one.forward(toks, 0, all_logits=True)
    b = many.forward(toks, 0, all_logits=True)
    assert np.array_equal(a, b)
    ga, sa = one.generate(toks, 16, ignore_eos=True)
    gb, sb = many.generate(toks, 16, ignore_eos=True)
    assert ga == gb and len(ga) == 16 and sa == sb == "limit"
    one.close()
    many.close()


@pytest.mark.parametrize("qtype", ["q8_0", "q4_k"])
def test_greedy_generation_matches_reference(lib, models, qtype):
    path = models(qtype)
    eng = llm_lib.Engine(lib, path, n_ctx=128, n_batch=8, kv_f16=0)
    toks = prompt(eng.n_vocab, n=10, seed=4)
    got, stop = eng.generate(toks, 24, ignore_eos=True)
    ref = LlamaRef(path, act_quant=True)
    want = ref.generate_greedy(toks, 24, ban=eng.eog_ids())
    assert got == want and stop == "limit"
    eng.close()


def test_incremental_positions_and_slots(lib, models):
    """Evaluating a prompt in pieces at increasing positions, in two slots, equals one pass."""
    path = models("q5_0")
    eng = llm_lib.Engine(lib, path, n_ctx=64, n_batch=8, n_slots=2, kv_f16=0)
    toks = prompt(eng.n_vocab, n=20, seed=5)
    full = eng.forward(toks, 0, all_logits=True, slot=0)
    other = prompt(eng.n_vocab, n=20, seed=6)
    eng.forward(other, 0, slot=1)  # a second sequence does not disturb the first
    parts = [eng.forward(toks[i:i + 3], i, all_logits=True, slot=1) for i in range(0, 20, 3)]
    assert np.array_equal(np.concatenate(parts), full)
    eng.close()


def test_bad_arguments_are_errors(lib, models):
    path = models("q8_0")
    eng = llm_lib.Engine(lib, path, n_ctx=16, n_batch=4, kv_f16=0)
    with pytest.raises(ValueError):
        eng.forward([eng.n_vocab], 0)           # token out of range
    with pytest.raises(ValueError):
        eng.forward([1, 2], 15)                 # past the context
    with pytest.raises(ValueError):
        eng.forward([1], 0, slot=1)             # no such slot
    toks, stop = eng.generate([1, 2, 3], 100, ignore_eos=True)
    assert stop == "context" and len(toks) == 16 - 3 + 1
    eng.close()


def test_hyperparameters_from_metadata(lib, tmp_path):
    path = make_tiny(str(tmp_path / "odd.gguf"), "q8_0", n_embd=96, n_head=6, n_head_kv=3, n_layer=3, n_ff=160,
                     n_ctx=48, rope_base=5000.0)
    eng = llm_lib.Engine(lib, path, n_ctx=4096, n_batch=8, kv_f16=0)
    i = eng.info
    assert (i["n_embd"], i["n_head"], i["n_head_kv"], i["n_layer"], i["n_ff"], i["head_dim"]) == (96, 6, 3, 3, 160, 16)
    assert i["n_ctx"] == 48  # capped by the model's training context
    toks = prompt(eng.n_vocab, n=12, seed=7)
    assert rel_error(eng.forward(toks, 0, all_logits=True), LlamaRef(path).forward(toks)) <= TOL_FLIP
    eng.close()


def test_rope_linear_scaling(lib, tmp_path):
    path = make_tiny(str(tmp_path / "scaled.gguf"), "q8_0", rope_linear_factor=4.0)
    plain = make_tiny(str(tmp_path / "plain.gguf"), "q8_0")
    toks = prompt(384, n=40, seed=8)
    c = llm_lib.Engine(lib, path, n_ctx=64, n_batch=16, kv_f16=0).forward(toks, 0, all_logits=True)
    ref = LlamaRef(path)
    assert ref.freq_scale == 0.25
    assert rel_error(c, ref.forward(toks)) <= TOL_FLIP
    p = llm_lib.Engine(lib, plain, n_ctx=64, n_batch=16, kv_f16=0).forward(toks, 0, all_logits=True)
    assert rel_error(p, c) > 3 * TOL_FLIP   # the scaling changed the result


def test_missing_tensor_is_reported(lib, tmp_path):
    import gguf
    src = make_tiny(str(tmp_path / "full.gguf"), "f32")
    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(str(tmp_path / "broken.gguf"), "llama")
    for f in r.fields.values():
        if f.name.startswith("GGUF.") or f.name == "general.architecture":
            continue
        vt = f.types[0]
        if vt == gguf.GGUFValueType.ARRAY:
            w.add_key_value(f.name, f.contents(), vt, sub_type=f.types[-1])
        else:
            w.add_key_value(f.name, f.contents(), vt)
    for t in r.tensors:
        if t.name != "blk.1.attn_k.weight":
            w.add_tensor(t.name, np.array(t.data))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(RuntimeError, match="blk.1.attn_k.weight"):
        llm_lib.Engine(lib, str(tmp_path / "broken.gguf"))


def test_eog_tokens(lib, models):
    eng = llm_lib.Engine(lib, models("q8_0"), n_ctx=32)
    assert eng.info["eos"] == 2
    assert eng.eog_ids() == [0, 2]   # <|endoftext|>, <|im_end|>
    eng.close()


def test_ignore_eos_never_samples_eog(lib, tmp_path):
    """With ignore_eos the end-of-generation tokens are banned (llama.cpp sets their logit to -inf); without it,
    generation stops at the first one. In this model only hidden dimension 0 reaches the head, and the two EOG
    tokens' head weights on it are +-10 (larger than any other): one of them is always the argmax."""
    import gguf
    src = make_tiny(str(tmp_path / "src.gguf"), "f32", tied=False)
    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(str(tmp_path / "eos.gguf"), "llama")
    for f in r.fields.values():
        if f.name.startswith("GGUF.") or f.name == "general.architecture":
            continue
        vt = f.types[0]
        if vt == gguf.GGUFValueType.ARRAY:
            w.add_key_value(f.name, f.contents(), vt, sub_type=f.types[-1])
        else:
            w.add_key_value(f.name, f.contents(), vt)
    for t in r.tensors:
        a = np.array(t.data)
        if t.name == "output_norm.weight":
            a = np.zeros_like(a)
            a[0] = 1.0
        if t.name == "output.weight":
            a = a.copy()
            a[2, 0], a[0, 0] = 10.0, -10.0
        w.add_tensor(t.name, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    path = str(tmp_path / "eos.gguf")
    eng = llm_lib.Engine(lib, path, n_ctx=64, kv_f16=0)
    toks = prompt(eng.n_vocab, n=6, seed=9)
    ref = LlamaRef(path)
    assert ref.generate_greedy(toks, 1)[0] in (0, 2)
    got, stop = eng.generate(toks, 40)
    assert stop == "eos" and got == []
    banned, stop2 = eng.generate(toks, 40, ignore_eos=True)
    assert stop2 == "limit" and 0 not in banned and 2 not in banned
    assert banned == ref.generate_greedy(toks, 40, ban=[0, 2])
    eng.close()


def test_seeded_sampling_is_repeatable(lib, models):
    eng = llm_lib.Engine(lib, models("q4_0"), n_ctx=128, kv_f16=0)
    toks = prompt(eng.n_vocab, n=8, seed=10)
    a, _ = eng.generate(toks, 24, ignore_eos=True, temp=0.9, seed=42)
    b, _ = eng.generate(toks, 24, ignore_eos=True, temp=0.9, seed=42)
    c, _ = eng.generate(toks, 24, ignore_eos=True, temp=0.9, seed=43)
    assert a == b and a != c
    eng.close()


def test_greedy_with_repeat_penalty_counts_the_prompt(lib, models):
    """Greedy decoding with penalties (llama.cpp: prompt tokens enter the window too) against the reference's
    logits penalized in numpy. F32 weights: C and numpy agree to float rounding, so no near-tie flips."""
    path = models("f32")
    eng = llm_lib.Engine(lib, path, n_ctx=128, kv_f16=0)
    toks = prompt(eng.n_vocab, n=12, seed=11)
    kw = dict(repeat_penalty=3.0, presence=2.0, frequency=1.0, last_n=32)
    got, _ = eng.generate(toks, 20, ignore_eos=True, temp=0.0, **kw)
    ref = LlamaRef(path)
    ban = eng.eog_ids()
    hist, out = list(toks), []
    logits = ref.forward(toks, all_logits=False)
    for _ in range(20):
        l = logits.astype(np.float32).copy()
        window = hist[-kw["last_n"]:]
        for t in set(window):
            c = window.count(t)
            l[t] = l[t] * kw["repeat_penalty"] if l[t] <= 0 else l[t] / kw["repeat_penalty"]
            l[t] -= c * kw["frequency"] + kw["presence"]
        l[ban] = -np.inf
        t = int(np.argmax(l))
        out.append(t)
        hist.append(t)
        logits = ref.forward([t], all_logits=False)
    assert got == out
    plain, _ = eng.generate(toks, 20, ignore_eos=True, temp=0.0)
    assert plain != got      # the penalties changed the continuation
    eng.close()
