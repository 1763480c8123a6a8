"""The C BPE tokenizer on SmolLM2's vocabulary against Hugging Face `tokenizers` built from the same GGUF
vocabulary and merges with SmolLM2's published pipeline (Digits(individual_digits) + ByteLevel pre-tokenizer,
ByteLevel BPE, its special tokens as added tokens): the committed corpus tests/data/tokenizer_corpus.txt
(code, Unicode scripts, CJK, emoji, whitespace runs, numbers, contractions, special tokens), and a few
hundred random strings drawn from the same kinds of characters."""
import os
import random
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "host", "tokenizer"))
import tok_ctypes as tc  # noqa: E402

CORPUS = os.path.join(os.path.dirname(__file__), "data", "tokenizer_corpus.txt")
SEP = "\n__sample__\n"


@pytest.fixture(scope="module")
def smollm2():
    path = tc.smollm2_gguf()
    kw = tc.vocab_from_gguf(path)
    assert kw["model"] == "gpt2" and kw["pre"] == "smollm"
    return kw


@pytest.fixture(scope="module")
def ours(smollm2):
    return tc.Tokenizer(**smollm2)


@pytest.fixture(scope="module")
def hf(smollm2):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    vocab = {t.decode("utf-8"): i for i, t in enumerate(smollm2["tokens"])}
    merges = [tuple(m.decode("utf-8").split(" ", 1)) for m in smollm2["merges"]]
    tk = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tk.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tk.decoder = decoders.ByteLevel()
    specials = [t.decode() for t, ty in zip(smollm2["tokens"], smollm2["types"]) if ty == 3]
    tk.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tk


def corpus_samples():
    with open(CORPUS, encoding="utf-8", newline="") as f:
        return f.read().split(SEP)


def test_corpus_sample_by_sample(ours, hf):
    samples = corpus_samples()
    assert len(samples) >= 25
    for text in samples:
        expected = hf.encode(text, add_special_tokens=False).ids
        assert ours.encode(text, parse_special=True) == expected, repr(text)


def test_corpus_whole(ours, hf):
    text = SEP.join(corpus_samples())
    assert ours.encode(text, parse_special=True) == hf.encode(text, add_special_tokens=False).ids


def test_corpus_decodes_like_hf(ours, hf):
    for text in corpus_samples():
        ids = hf.encode(text, add_special_tokens=False).ids
        assert ours.decode(ids).decode("utf-8") == hf.decode(ids, skip_special_tokens=False) == text


# character kinds for random strings: all assigned in Unicode 14 (Python, Rust) and 15.1 (llama.cpp's tables)
POOL = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") * 3
        + list(" " * 30 + "\t\n\r" * 4 + "'\"!?.,;:-_()[]{}<>/\\|@#$%^&*+=~`")
        + list("éüßøñçÅÆŒĳ ΑβγΔЖжЯяשלוםمرحباहिन्दीไทย中文字日本語カタカナ한국어") + ["\u00a0", "\u3000", "\u2003"]
        + list("²³½ⅧⅫ٣४０１") + ["😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "\u200d", "\u0301"]
        + ["'s", "'ll", "'RE", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "    ", "\n\n", "\r\n"])


def test_random_strings(ours, hf):
    rng = random.Random(1234)
    for _ in range(400):
        text = "".join(rng.choice(POOL) for _ in range(rng.randint(0, 40)))
        expected = hf.encode(text, add_special_tokens=False).ids
        assert ours.encode(text, parse_special=True) == expected, repr(text)


def test_init_and_throughput(ours):
    """Init of the 49k-token, 48.9k-merge vocabulary and encode speed (reported; loose bounds only, the
    machine is shared)."""
    assert ours.n_tokens == 49152
    text = SEP.join(corpus_samples()).encode()
    reps = 20
    ms, n = ours.bench(text, reps)
    assert n > 1000
    tok_per_s = n * reps / (ms / 1e3)
    print(f"\nSmolLM2 tokenizer: init {ours.init_ms:.1f} ms, encode {tok_per_s / 1e6:.2f} M tokens/s "
          f"({len(text) * reps / (ms / 1e3) / 1e6:.1f} MB/s)")
    assert ours.init_ms < 2000
    assert tok_per_s > 50_000
