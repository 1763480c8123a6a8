"""Short libFuzzer run (15 s) of tests/host/tokenizer/tok_fuzz.c under ASan+UBSan: arbitrary bytes (invalid
UTF-8 included) through encode / pieces / the streaming detokenizer on four vocabularies (SmolLM2's BPE,
llama.cpp's llama-spm, gpt-2 and gemma-4 test vocabularies), with round-trip and size-contract checks.
Long run:  FUZZ_SECONDS=3600 python3 -m pytest -q tests/test_tokenizer_fuzz.py
Crashes land in tests/.build/tokenizer/crash-*; replay one with
  TOK_FUZZ_VOCABS=<the four dumps in tests/.build/tokenizer/fuzz_vocabs> tests/.build/tokenizer/tok_fuzz <file>."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "host", "tokenizer"))
import tok_ctypes as tc  # noqa: E402

SEEDS = [b"\x00Hello world", b"\x01 I'm  fine\t\n\n", b"\x02\xff\xfe\xc3", b"\x30<|im_start|>x<|im_end|>",
         "\x11日本語 😀 ١٢٣ ½ ".encode(), b"\x21<s>a</s> <unk>", b"\x52\xe2\x82\xf0\x9f\x98", b"\x40   \r\n  x"]


def test_tokenizer_fuzz_short_run():
    exe = tc.build_fuzzer()
    vocab_dir = tc.BUILD / "fuzz_vocabs"
    vocab_dir.mkdir(parents=True, exist_ok=True)
    dumps = []
    for name, path in [("smollm2", tc.smollm2_gguf()),
                       ("llama-spm", tc.llama_vocab_dir() / "ggml-vocab-llama-spm.gguf"),
                       ("gpt-2", tc.llama_vocab_dir() / "ggml-vocab-gpt-2.gguf"),
                       ("gemma-4", tc.llama_vocab_dir() / "ggml-vocab-gemma-4.gguf")]:
        dump = vocab_dir / f"{name}.vocab"
        if not dump.exists():
            tc.write_vocab_dump(tc.vocab_from_gguf(path), dump)
        dumps.append(str(dump))
    corpus = tc.BUILD / "fuzz_corpus"
    corpus.mkdir(exist_ok=True)
    for i, s in enumerate(SEEDS):
        (corpus / f"seed{i:03d}").write_bytes(s)
    seconds = int(os.environ.get("FUZZ_SECONDS", 15))
    env = dict(os.environ, TOK_FUZZ_VOCABS=":".join(dumps))
    p = subprocess.run([str(exe), f"-max_total_time={seconds}", "-max_len=2048", "-timeout=10",
                        "-rss_limit_mb=2048", f"-artifact_prefix={tc.BUILD}/", "-print_final_stats=1",
                        str(corpus)], cwd=tc.BUILD, env=env, capture_output=True, text=True)
    log = p.stderr[-3000:]
    assert p.returncode == 0, log
    assert "Done" in log
    runs = [int(line.split()[-1]) for line in p.stderr.splitlines() if line.startswith("stat::number_of_executed_units")]
    assert runs and runs[0] > 1000, log
