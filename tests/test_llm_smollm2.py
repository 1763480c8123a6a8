"""SmolLM2-135M-Instruct Q4_1 (models/fetch.py) on the host: the C engine's greedy continuations equal the numpy
reference's (tests/reference/llama_ref.py, rounding activations and the fp16 KV cache as the engine does).

Both compute in float32 with different summation orders, and in a 30-layer model a last-bit difference can move
an activation across a quantization boundary: logits then differ by up to ~1 (of a ~55 range), which decides
near-ties either way. So the exact-continuation prompts are ones where the reference's top-2 logit gap stays above
TIE_GAP at every step (asserted, so a changed reference cannot silently weaken the test), and a teacher-forced check
over free-form prompts compares the argmax at every step whose gap is above TIE_GAP."""
import sys
import time
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "host" / "llm"))
sys.path.insert(0, str(HERE / "reference"))
sys.path.insert(0, str(HERE.parent / "models"))
import llm_lib  # noqa: E402
from llama_ref import LlamaRef  # noqa: E402

N_PREDICT = 32
TIE_GAP = 1.0            # logits: a smaller top-2 gap is a near-tie that the float32 noise (~0.4 seen, batched pass
                         # against token by token) may decide either way
EXACT_PROMPTS = ["1, 2, 3, 4,", "a, b, c, d, e,", "10, 20, 30, 40,"]
FORCED_PROMPTS = ["The capital of France is", "<|im_start|>user\nWrite a haiku about the sea.<|im_end|>\n"
                  "<|im_start|>assistant\n"]


@pytest.fixture(scope="module")
def model_path():
    import fetch
    return fetch.smollm2_path()


@pytest.fixture(scope="module")
def engine(model_path):
    eng = llm_lib.Engine(llm_lib.Lib(), model_path, n_ctx=256, n_batch=64, kv_f16=1)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def ref(model_path):
    return LlamaRef(model_path, act_quant=True, kv_f16=True)


@pytest.fixture(scope="module")
def ref_runs(engine, ref):
    """prompt text -> (prompt ids, the reference's greedy continuation, its logits at each step)."""
    cache = {}

    def get(text):
        if text not in cache:
            ids = engine.tokenize(text)
            steps = []
            out = ref.generate_greedy(ids, N_PREDICT, steps=steps, ban=engine.eog_ids())
            cache[text] = (ids, out, np.array(steps))
        return cache[text]
    return get


def top2_gap(logits):
    top2 = np.sort(logits, axis=-1)[..., -2:]
    return top2[..., 1] - top2[..., 0]


def test_metadata(engine):
    i = engine.info
    assert (i["n_vocab"], i["n_embd"], i["n_layer"], i["n_head"], i["n_head_kv"], i["n_ff"]) == \
        (49152, 576, 30, 9, 3, 1536)
    assert i["tied"] == 1 and i["eos"] == 2


def test_prompt_tokens_match_hf_tokenizers(engine, model_path):
    import gguf
    from tokenizers import Tokenizer, models, pre_tokenizers
    r = gguf.GGUFReader(model_path)
    toks = r.fields["tokenizer.ggml.tokens"].contents()
    merges = [tuple(m.split(" ", 1)) for m in r.fields["tokenizer.ggml.merges"].contents()]
    hf = Tokenizer(models.BPE({t: i for i, t in enumerate(toks)}, merges))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    for p in EXACT_PROMPTS + FORCED_PROMPTS[:1]:  # plain text: this BPE knows no special tokens
        assert engine.tokenize(p) == hf.encode(p).ids


@pytest.mark.parametrize("text", EXACT_PROMPTS)
def test_greedy_continuation_equals_reference(engine, ref_runs, text):
    ids, want, steps = ref_runs(text)
    assert top2_gap(steps).min() >= TIE_GAP, "the reference has a near-tie on this prompt: choose another"
    t0 = time.perf_counter()
    got, stop = engine.generate(ids, N_PREDICT, ignore_eos=True)
    dt = time.perf_counter() - t0
    print(f"\n{text!r} -> {engine.detokenize(got).decode(errors='replace')!r} "
          f"({len(ids)} prompt + {N_PREDICT} tokens in {dt:.2f} s)")
    assert got == want and stop == "limit"


def test_teacher_forced_argmax(engine, ref_runs):
    """Along the reference's continuation, the C argmax equals the reference's wherever that is not a near-tie."""
    checked = 0
    for text in FORCED_PROMPTS:
        ids, out, steps = ref_runs(text)
        c = engine.forward(ids + out, 0, all_logits=True)[len(ids) - 1:-1]
        c[:, engine.eog_ids()] = -np.inf   # the reference's continuation bans them (ignore_eos)
        clear = top2_gap(steps) >= TIE_GAP
        agree = c.argmax(1) == steps.argmax(1)
        assert agree[clear].all(), (text, np.flatnonzero(~agree), top2_gap(steps)[~agree])
        checked += int(clear.sum())
    assert checked >= 0.4 * len(FORCED_PROMPTS) * N_PREDICT


ROPE_TEXT = ("The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. It is named "
             "after the engineer Gustave Eiffel, whose company designed and built the tower from 1887 to 1889.")


def test_rope_mode_is_adjacent_pairs(engine, model_path):
    """GGUF llama Q/K weights are permuted for rotation of adjacent pairs (x[2i], x[2i+1]): with that the reference
    predicts real text far better than when it rotates (x[i], x[i + n_rot/2]) pairs (HF's layout)."""
    ids = engine.tokenize(ROPE_TEXT)

    def nll(neox):
        l = LlamaRef(model_path, act_quant=False, rope_neox=neox).forward(ids).astype(np.float64)[:-1]
        lse = l.max(1) + np.log(np.exp(l - l.max(1, keepdims=True)).sum(1))
        return float(np.mean(lse - l[np.arange(len(l)), ids[1:]]))
    right, wrong = nll(False), nll(True)
    print(f"\nmean NLL per token: adjacent pairs {right:.2f}, half-split pairs {wrong:.2f}")
    assert right < 3.0 and wrong > right + 1.0


def test_stops_at_end_of_turn(engine):
    """A chat prompt: the model ends its answer with <|im_end|> (an EOG token), which stops generation."""
    ids = engine.tokenize("<|im_start|>user\nSay hi.<|im_end|>\n<|im_start|>assistant\n")
    got, stop = engine.generate(ids, 64)
    assert stop == "eos" and 0 < len(got) < 64
    assert 2 not in got


def test_generation_speed(engine):
    """Not a target (speed is issue 6): prints the scalar-reference tokens/s for the report."""
    ids = engine.tokenize("Once upon a time,")
    t0 = time.perf_counter()
    engine.forward(list(range(1000, 1064)), 0)
    pp = 64 / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    got, _ = engine.generate(ids, 32, ignore_eos=True)
    tg = len(got) / (time.perf_counter() - t0)
    print(f"\nSmolLM2 Q4_1 host, scalar kernels, 1 thread: prefill {pp:.1f} tok/s, generation {tg:.1f} tok/s")
    assert len(got) == 32
