"""Round trips and API contracts of the C tokenizer: pieces of encode(text) give text back for valid UTF-8
(SPM: after its added leading space), the streaming detokenizer gives the same bytes and never cuts a UTF-8
sequence, invalid UTF-8 becomes U+FFFD as in llama.cpp, and size errors come back as values."""
import os
import random
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "host", "tokenizer"))
import tok_ctypes as tc  # noqa: E402

CORPUS = os.path.join(os.path.dirname(__file__), "data", "tokenizer_corpus.txt")
LLAMA_VOCABS = ["llama-spm", "llama-bpe", "qwen2", "deepseek-llm", "gpt-2", "gemma-4"]


@pytest.fixture(scope="module", params=["smollm2"] + LLAMA_VOCABS)
def tok(request):
    if request.param == "smollm2":
        return tc.tokenizer_from_gguf(tc.smollm2_gguf())
    return tc.tokenizer_from_gguf(tc.llama_vocab_dir() / f"ggml-vocab-{request.param}.gguf")


def random_text(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(0, 30)):
        r = rng.random()
        if r < 0.5:
            out.append(rng.choice("abcXYZ 019\t\n'.,!?"))
        elif r < 0.8:
            out.append(chr(rng.randint(0x80, 0x2FFF)))
        else:
            # up to plane 3: SmolLM2's vocabulary has no token for the UTF-8 lead bytes F1..F7 (planes 4+),
            # and llama.cpp (like this tokenizer) drops bytes it has no token for
            cp = rng.randint(0x3000, 0x3FFFF)
            out.append(chr(cp if not 0xD800 <= cp <= 0xDFFF else 0x4E00))
    return "".join(out)


def texts():
    with open(CORPUS, encoding="utf-8", newline="") as f:
        samples = f.read().split("\n__sample__\n")
    rng = random.Random(7)
    return samples + [random_text(rng) for _ in range(300)]


def expected_text(tok, text: bytes) -> bytes:
    return (b" " + text) if (tok.add_space_prefix and text) else text


def test_roundtrip(tok):
    for text in texts():
        data = text.encode()
        ids = tok.encode(data)
        assert all(0 <= i < tok.n_tokens for i in ids)
        assert tok.decode(ids) == expected_text(tok, data), repr(text)


def is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_stream_never_splits_utf8(tok):
    split_somewhere = False
    for text in texts():
        data = text.encode()
        ids = tok.encode(data)
        out, ends = tok.stream(ids)
        assert out == tok.decode(ids)
        prev = 0
        for i, end in enumerate(ends):
            assert is_utf8(out[:end]), (text, i)
            piece = tok.piece(ids[i])
            if end - prev != len(piece):
                split_somewhere = True   # a piece was held back or released later
            prev = end
        assert ends == [] or ends[-1] == len(out)
    assert split_somewhere  # the corpus has characters that BPE/byte fallback cut across tokens


def test_stream_holds_back_partial_character(tok):
    ids = tok.encode("€")  # E2 82 AC: some vocabularies need several tokens
    out, ends = tok.stream(ids)
    assert out == expected_text(tok, "€".encode())
    for end in ends:
        assert is_utf8(out[:end])


def test_invalid_utf8_is_replacement_char():
    """llama.cpp decodes each bad byte to U+FFFD before BPE (unicode_cpts_from_utf8)."""
    smol = tc.tokenizer_from_gguf(tc.smollm2_gguf())
    for bad, good in [(b"a\xffb", "a\ufffdb"), (b"\xe2\x82", "\ufffd\ufffd"), (b"x\xc3", "x\ufffd"),
                      (b"\xf5\x80\x80\x80", "\ufffd" * 4), (b"\x80\x80 ok", "\ufffd\ufffd ok")]:
        assert smol.encode(bad) == smol.encode(good), bad


def test_bytes_without_token_are_dropped_like_llama_cpp():
    """U+70ECE is F1 B0 BB 8E; SmolLM2 has no token for the byte F1 (llama.cpp then drops it)."""
    smol = tc.tokenizer_from_gguf(tc.smollm2_gguf())
    ids = smol.encode("b\U00070ece")
    assert smol.decode(ids) == b"b\xb0\xbb\x8e"


def test_stream_passes_invalid_bytes_through():
    spm = tc.tokenizer_from_gguf(tc.llama_vocab_dir() / "ggml-vocab-llama-spm.gguf")
    data = b"a\xff\xfeb\xe2\x82"  # SPM keeps raw bytes as <0xXX> tokens
    ids = spm.encode(data)
    out, ends = spm.stream(ids)
    assert out == b" " + data
    assert ends[-1] == len(out) - 2  # the cut-off E2 82 stays pending until the flush


def test_nospace_and_piece_sizes():
    smol = tc.tokenizer_from_gguf(tc.smollm2_gguf())
    text = "Hello world, this is a test.".encode()
    n = len(smol.encode(text))
    assert smol.encode_raw(text, n) == n
    assert smol.encode_raw(text, n - 1) == -2  # TOKENIZER_ERR_NOSPACE
    assert smol.encode_raw(b"", 0) == 0
    tid = smol.encode(" world")[0]
    assert smol.piece(tid) == b" world"
    assert smol.piece_rc(tid, 3) == -6
    assert smol.piece_rc(tid, 6) == 6
    assert smol.piece_rc(-1, 10) == 0 and smol.piece_rc(smol.n_tokens, 10) == 0


def test_render_special():
    smol = tc.tokenizer_from_gguf(tc.smollm2_gguf())
    ids = smol.encode("<|im_start|>hi<|im_end|>", parse_special=True)
    assert ids[0] == 1 and ids[-1] == 2
    assert smol.decode(ids, special=True) == b"<|im_start|>hi<|im_end|>"
    assert smol.decode(ids, special=False) == b"hi"
    assert smol.stream(ids, special=False)[0] == b"hi"
