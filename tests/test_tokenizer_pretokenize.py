"""The pre-tokenizers of kernel/llm/pretokenize.c against the third-party `regex` module running the published
pre-tokenizer regexes (GPT-2, Llama 3, Qwen2, Qwen3.5) and, for the multi-regex ones (StarCoder/SmolLM,
Falcon, DeepSeek LLM/Coder, default), the same regexes applied one after the other the way llama.cpp does
(every match and every gap between matches becomes a segment the next regex splits further). Random strings
from characters whose classes are the same in every Unicode version involved."""
import os
import random
import sys

import pytest
import regex

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "host", "tokenizer"))
import tok_ctypes as tc  # noqa: E402

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN35 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*"
          r"|\s*[\r\n]+|\s+(?!\S)|\s+")
# The sequences llama.cpp uses (llama-vocab.cpp); the GPT-2 expression written without its final \s+, as there
GPT2_LLAMA = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"


def llama_cpp_regexes(pre_type: str) -> list[str]:
    """The regex_exprs llama.cpp lists for a LLAMA_VOCAB_PRE_TYPE_* in src/llama-vocab.cpp (from the sdist)."""
    import ast
    src = tc.llama_cpp_source("src/llama-vocab.cpp").decode()
    block = src[src.index(f"case LLAMA_VOCAB_PRE_TYPE_{pre_type}:"):]
    block = block[block.index("regex_exprs = {"):block.index("};")]
    return [ast.literal_eval(lit) for lit in regex.findall(r'^\s*("(?:[^"\\]|\\.)*"),', block, flags=regex.M)]


SEQUENCES = {
    "starcoder": [r"\p{N}", GPT2_LLAMA],
    "falcon": [r"[\p{P}\$\+<=>\^~\|`]+", GPT2_LLAMA, r"[0-9][0-9][0-9]"],
    "default": [r"[\p{P}\$\+<=>\^~\|]+", GPT2_LLAMA, r"\p{N}+", r"[0-9][0-9][0-9]"],
    "deepseek-llm": None,  # read from llama.cpp's source: its letter class is long
    "bloom": None,
    "viking": None,
    "tekken": None,
    "gpt-4o": None,
    "deepseek-coder": [r"[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", r"[一-龥ࠀ-一가-퟿]+", r"\p{N}"],
}

POOL = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") * 2
        + list("     \t\n\r\n\r\x0b\x0c'\"!?.,;:-_()[]{}<>/\\|@#$%^&*+=~`")
        + list("éüßøñÅÆŒΑβγΔЖжЯяשלוםمرحباไทย中文字日本語カタカナ한국어ÀÖ") + list("²³½ⅧⅫ٣४０１")
        + list("\u0301\u0308\u093f\u0e31") + ["\u00a0", "\u3000", "\u2003", "\u2028", "\u0085"]
        + list("€£¥©®°±×÷→∀∑√∞♥☕😀👍🏽") + list("。、！？「」（）：；，…।۔،")
        + ["HTTPServer", "camelCase", "ÀBcÉ", "xÉY", "ABCdef", "aBC", "ÑANDÚ", "İstanbul"]
        + ["'s", "'S", "'ll", "'LL", "'Re", "'ve", "'d", "'m", "'t", " 's", "  ", "\n\n", "\r\n", "   \n "])


def random_texts(seed, n=600):
    rng = random.Random(seed)
    return ["".join(rng.choice(POOL) for _ in range(rng.randint(0, 24))) for _ in range(n)]


def regex_words(pattern, text):
    words = regex.findall(pattern, text)
    assert "".join(words) == text
    return words


def sequence_words(patterns, text):
    """llama.cpp's unicode_regex_split over std::regex: each regex splits every current segment into its
    matches and the gaps between them. std::regex does not know non-ASCII white space, so llama.cpp hands it
    the text with each such character replaced by '\v' (one character for one: the splits map back)."""
    view = "".join("\x0b" if ord(c) > 0x7F and regex.match(r"\s", c) else c for c in text)
    segments = [view] if view else []
    for pat in patterns:
        rx = regex.compile(pat)
        out = []
        for seg in segments:
            pos = 0
            for m in rx.finditer(seg):
                if m.start() > pos:
                    out.append(seg[pos:m.start()])
                out.append(m.group())
                pos = m.end()
            if pos < len(seg):
                out.append(seg[pos:])
        segments = out
    words, pos = [], 0
    for seg in segments:
        words.append(text[pos:pos + len(seg)])
        pos += len(seg)
    return words


@pytest.mark.parametrize("pre,pattern", [("gpt-2", GPT2), ("llama-bpe", LLAMA3), ("qwen2", QWEN2),
                                         ("qwen35", QWEN35)])
def test_single_regex_pretokenizers(pre, pattern):
    for text in random_texts(hash(pre) & 0xffff):
        assert tc.pretokenize(pre, text) == regex_words(pattern, text), repr(text)


@pytest.mark.parametrize("pre", sorted(SEQUENCES))
def test_regex_sequence_pretokenizers(pre):
    patterns = SEQUENCES[pre] or llama_cpp_regexes({"deepseek-llm": "DEEPSEEK_LLM", "bloom": "BLOOM",
                                                     "viking": "VIKING", "tekken": "TEKKEN",
                                                     "gpt-4o": "GPT4O"}[pre])
    assert patterns
    for text in random_texts(len(pre)):
        assert tc.pretokenize(pre, text) == sequence_words(patterns, text), repr(text)


def test_aliases():
    for text in random_texts(99, 100):
        assert tc.pretokenize("smollm", text) == tc.pretokenize("starcoder", text)
        assert tc.pretokenize("llama3", text) == tc.pretokenize("llama-bpe", text)
        assert tc.pretokenize("chatglm-bpe", text) == tc.pretokenize("llama-bpe", text)
        assert tc.pretokenize("poro-chat", text) == tc.pretokenize("bloom", text)


def test_unknown_name():
    with pytest.raises(ValueError):
        tc.pretokenize("no-such-pre", "x")
