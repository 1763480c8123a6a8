"""A short libFuzzer run (~20 s, clang -fsanitize=fuzzer,address,undefined) of tests/fuzz/gguf_fuzz.c: the C GGUF
reader and the dequantize/vec_dot kernels on mutated files, seeded with the damaged corpus (tests/bad_gguf_c) and
valid files from make_bad.py and gguf.GGUFWriter. The command for a run of hours is in gguf_fuzz.c's header."""
import pathlib
import shutil
import subprocess
import sys

import gguf
import numpy as np
import pytest

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE / "host" / "llm_formats"))
sys.path.insert(0, str(HERE / "bad_gguf_c"))
import fmtlib  # noqa: E402
import make_bad  # noqa: E402

FUZZ_SECONDS = 20


def small_writer_file(path):
    rng = np.random.default_rng(3)
    w = gguf.GGUFWriter(str(path), arch="llama")
    w.add_uint32("llama.block_count", 1)
    w.add_float32("llama.rope.freq_base", 10000.0)
    w.add_bool("tokenizer.ggml.add_bos_token", True)
    w.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "a", "b"])
    w.add_array("tokenizer.ggml.scores", [0.0, -1.0, -2.0, -3.0])
    w.add_tensor("f16.weight", rng.standard_normal((2, 8)).astype(np.float16))
    for qt in [gguf.GGMLQuantizationType.Q4_1, gguf.GGMLQuantizationType.Q4_K]:
        _, ts = gguf.GGML_QUANT_SIZES[qt]
        w.add_tensor(qt.name.lower() + ".weight", rng.integers(0, 256, size=(2, ts), dtype=np.uint8), raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_fuzz_gguf_open(tmp_path):
    exe = fmtlib.build("gguf_fuzz", ["tests/fuzz/gguf_fuzz.c", "tests/host/shim.c", "kernel/lib/fmt.c",
                                     "kernel/lib/parse.c", *fmtlib.LLM_SOURCES], cc="clang",
                       extra=["-fsanitize=fuzzer,address,undefined", "-O1", "-Wno-unused-command-line-argument"])
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for p in (HERE / "bad_gguf_c").glob("*.gguf"):
        shutil.copy(p, seeds / p.name)
    (seeds / "valid.gguf").write_bytes(make_bad.valid())
    small_writer_file(seeds / "writer.gguf")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    r = subprocess.run([str(exe), f"-max_total_time={FUZZ_SECONDS}", "-timeout=10", "-max_len=16384", "-seed=1",
                        f"-dict={HERE / 'fuzz' / 'gguf.dict'}", f"-artifact_prefix={tmp_path}/",
                        str(corpus), str(seeds)], capture_output=True, text=True, timeout=FUZZ_SECONDS + 120)
    tail = r.stderr[-6000:]
    assert r.returncode == 0, tail
    done = [l for l in r.stderr.splitlines() if l.startswith("Done ")]
    assert done and int(done[-1].split()[1]) > 10000, tail
    print(done[-1])
