"""The C tokenizers against llama.cpp's own tokenizer test vectors: the vocab-only GGUFs in llama.cpp's models/
folder with their .inp/.out files (llama-cpp-python 0.3.36 sdist, extracted to ~/.cache/cllm/llama-vocabs).
Vocabularies are read with the `gguf` package and tokenized like llama.cpp's test-tokenizer-0
(add_special=false, parse_special=false); every input of every supported vocabulary must match exactly."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "host", "tokenizer"))
import tok_ctypes as tc  # noqa: E402

# Every llama.cpp test vocabulary whose tokenizer model (llama = SPM, gpt2 and gemma4 = BPE) and pre-tokenizer
# this module implements. Not supported: bert-bge (WordPiece).
SUPPORTED = ["gpt-2", "llama-bpe", "llama-spm", "phi-3", "qwen2", "qwen35", "starcoder", "refact",
             "command-r", "mpt", "falcon", "deepseek-llm", "deepseek-coder", "gemma-4"]
UNSUPPORTED = ["bert-bge"]


@pytest.fixture(scope="module")
def vocab_dir():
    return tc.llama_vocab_dir()


def test_every_vocab_with_vectors_is_classified(vocab_dir):
    names = sorted(p.name[len("ggml-vocab-"):-len(".gguf.inp")] for p in vocab_dir.glob("ggml-vocab-*.gguf.inp"))
    assert names == sorted(SUPPORTED + UNSUPPORTED)


@pytest.mark.parametrize("name", SUPPORTED)
def test_llama_cpp_vectors(vocab_dir, name):
    tok = tc.tokenizer_from_gguf(vocab_dir / f"ggml-vocab-{name}.gguf")
    vectors = tc.read_test_vectors(vocab_dir, name)
    assert len(vectors) >= 40
    bad = []
    for text, expected in vectors:
        got = tok.encode(text, add_special=False, parse_special=False)
        if got != expected:
            bad.append((text, expected, got))
    assert not bad, f"{len(bad)}/{len(vectors)} differ, first: {bad[0]!r}"


@pytest.mark.parametrize("name", SUPPORTED)
def test_llama_cpp_vectors_detokenize(vocab_dir, name):
    """The expected tokens' pieces give back the input (what llama.cpp's test checks after decoding),
    up to SPM's added leading space."""
    tok = tc.tokenizer_from_gguf(vocab_dir / f"ggml-vocab-{name}.gguf")
    for text, expected in tc.read_test_vectors(vocab_dir, name):
        out = tok.decode(expected)
        if tok.add_space_prefix and text:
            assert out == b" " + text
        else:
            assert out == text


@pytest.mark.parametrize("name", UNSUPPORTED)
def test_unsupported_vocab_is_refused(vocab_dir, name):
    model = tc.read_gguf_metadata(vocab_dir / f"ggml-vocab-{name}.gguf")["tokenizer.ggml.model"].decode()
    with pytest.raises(ValueError):
        tc.Tokenizer([b"a", b"b"], model=model)


def test_unknown_pre_tokenizer_is_refused():
    with pytest.raises(ValueError):
        tc.Tokenizer([b"a", b"b"], model="gpt2", pre="no-such-pre", merges=[b"a b"])


def test_add_special_per_metadata(vocab_dir):
    # llama-spm: add_bos_token true, add_eos_token false, BOS 1
    spm = tc.tokenizer_from_gguf(vocab_dir / "ggml-vocab-llama-spm.gguf")
    assert spm.encode("Hello", add_special=True)[0] == 1
    assert spm.encode("Hello", add_special=True)[1:] == spm.encode("Hello")
    assert spm.encode("", add_special=True) == [1]
    # llama-bpe: no add_bos key, llama.cpp's llama3 default adds BOS 128000
    l3 = tc.tokenizer_from_gguf(vocab_dir / "ggml-vocab-llama-bpe.gguf")
    assert l3.encode("Hello", add_special=True) == [128000] + l3.encode("Hello")
    # gpt-2: no BOS by default
    g2 = tc.tokenizer_from_gguf(vocab_dir / "ggml-vocab-gpt-2.gguf")
    assert g2.encode("Hello", add_special=True) == g2.encode("Hello")


def test_control_tokens_only_with_parse_special(vocab_dir):
    l3 = tc.tokenizer_from_gguf(vocab_dir / "ggml-vocab-llama-bpe.gguf")
    text = "<|begin_of_text|>Hi<|eot_id|>"
    special = l3.encode(text, parse_special=True)
    assert special[0] == 128000 and special[-1] == 128009
    assert special[1:-1] == l3.encode("Hi")
    plain = l3.encode(text, parse_special=False)
    assert 128000 not in plain and 128009 not in plain
    assert l3.decode(plain) == text.encode()
    assert l3.is_eog(128009) and l3.is_eog(128001) and not l3.is_eog(128000)
    # SPM puts a space prefix on the text after a special token
    spm = tc.tokenizer_from_gguf(vocab_dir / "ggml-vocab-llama-spm.gguf")
    ids = spm.encode("<s>Hi", parse_special=True)
    assert ids == [1] + spm.encode("Hi")


@pytest.mark.parametrize("name,eog_texts", [
    ("llama-bpe", {b"<|end_of_text|>", b"<|eot_id|>"}),
    ("qwen2", {b"<|endoftext|>", b"<|im_end|>", b"</s>"}),  # </s>: llama.cpp (paddleocr) takes it everywhere
    ("phi-3", {b"</s>", b"<|endoftext|>", b"<|end|>"}),
    ("gemma-4", {b"<eos>", b"<|tool_response>", b"<turn|>"}),
    ("deepseek-llm", {"<｜end▁of▁sentence｜>".encode()}),
])
def test_end_of_generation_tokens(vocab_dir, name, eog_texts):
    """llama.cpp's end-of-generation set: EOS/EOT plus tokens it recognises by their text."""
    kw = tc.vocab_from_gguf(vocab_dir / f"ggml-vocab-{name}.gguf")
    tok = tc.tokenizer_from_gguf(vocab_dir / f"ggml-vocab-{name}.gguf")
    found = {kw["tokens"][i] for i in range(tok.n_tokens) if tok.is_eog(i)}
    assert found == eog_texts


def test_smollm2_metadata():
    kw = tc.vocab_from_gguf(tc.smollm2_gguf())
    tok = tc.tokenizer_from_gguf(tc.smollm2_gguf())
    assert (kw["pre"], tok.bos, tok.eos, tok.add_bos, tok.add_eos) == ("smollm", 1, 2, False, False)
    found = {kw["tokens"][i] for i in range(tok.n_tokens) if tok.is_eog(i)}
    assert found == {b"<|endoftext|>", b"<|im_end|>", b"<reponame>"}
    assert tok.nl == 198 and kw["tokens"][198] == "\u010a".encode()


def test_default_special_ids():
    """llama.cpp's defaults when the GGUF names no BOS/EOS: 11/11 for gpt2 (Falcon's), none for chatglm and
    gemma4, 1/2 (and UNK 0) for llama; out-of-range ids from the file are ignored."""
    toks = [b"<%d>" % i for i in range(16)]
    assert (tc.Tokenizer(toks, model="gpt2", pre="gpt-2").bos, tc.Tokenizer(toks, model="gpt2").eos) == (11, 11)
    assert tc.Tokenizer(toks, model="gpt2", pre="chatglm-bpe").bos == -1
    assert tc.Tokenizer(toks, model="gpt2", pre="chatglm-bpe", bos=3).bos == 3
    assert tc.Tokenizer(toks, model="gemma4", add_bos=0, bos=2).add_bos  # llama.cpp forces BOS for Gemma 4
    spm = tc.Tokenizer(toks, model="llama", eos=99)
    assert (spm.bos, spm.eos, spm.unk, spm.add_bos, spm.add_space_prefix) == (1, 2, 0, True, True)
