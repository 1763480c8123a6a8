"""Every damaged GGUF in tests/bad_gguf/ (made by make_corpus.py, one kind of damage per file) stops
`cllm build` before anything is compiled: exit 1, one line naming the file and the problem, no traceback,
no image left behind; each with its own message. The undamaged baseline is accepted, also by gguf.GGUFReader."""
import glob
import os

import gguf
import pytest

import make_corpus
from conftest import ROOT

CORPUS = sorted(glob.glob(str(ROOT / "tests" / "bad_gguf" / "*.gguf")))

# What each message must say (the damage, in words): file name -> fragment
EXPECTED = {
    "empty.gguf": "empty file",
    "truncated_header.gguf": "truncated header",
    "bad_magic.gguf": "bad magic",
    "bad_version.gguf": "unsupported GGUF version 99",
    "huge_tensor_count.gguf": "tensor count 1152921504606846976 is larger than the file can hold",
    "huge_kv_count.gguf": "metadata count 1152921504606846976 is larger than the file can hold",
    "string_past_end.gguf": "string length 1099511627776",
    "string_not_utf8.gguf": "not valid UTF-8",
    "unknown_value_type.gguf": "unknown value type 99",
    "unknown_tensor_type.gguf": "tensor 'blk.0.attn_q.weight': unknown tensor type 1234",
    "unsupported_tensor_type.gguf": "tensor 'output_norm.weight': type IQ2_XS is not supported",
    "tensor_out_of_bounds.gguf": "tensor 'blk.0.ffn_down.weight': data [",
    "truncated_data.gguf": "lies outside the file",
    "misaligned_offset.gguf": "is not aligned to 32",
    "overlapping_tensors.gguf": "overlaps tensor",
    "duplicate_tensor_name.gguf": "duplicate tensor name 'output_norm.weight'",
    "duplicate_metadata_key.gguf": "duplicate metadata key 'general.name'",
    "dims_overflow.gguf": "overflow",
    "too_many_dims.gguf": "6 dimensions",
    "bad_alignment.gguf": "general.alignment 3 is not a power of two",
    "non_llama_arch.gguf": "architecture 'gpt2' is not supported",
    "missing_architecture.gguf": "missing required metadata 'general.architecture'",
    "missing_block_count.gguf": "missing required metadata 'llama.block_count'",
    "missing_tensor.gguf": "missing tensor 'blk.0.ffn_up.weight'",
}


def test_corpus_is_complete_and_current():
    names = {os.path.basename(p) for p in CORPUS}
    assert names == set(EXPECTED), "run tests/bad_gguf/make_corpus.py and update EXPECTED"
    for name, data in make_corpus.corpus().items():
        assert (ROOT / "tests" / "bad_gguf" / name).read_bytes() == data, f"{name} is stale: rerun make_corpus.py"


def test_baseline_is_valid(tmp_path, cli, mini_kernel):
    p = tmp_path / "valid.gguf"
    p.write_bytes(make_corpus.build_valid())
    r = gguf.GGUFReader(str(p))                      # the reference reader accepts it
    assert len(r.tensors) == len(make_corpus.base_tensors())
    res = cli(["build", "--model", p, "--out", tmp_path / "out", "--kernel-dir", mini_kernel])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("path", CORPUS, ids=os.path.basename)
def test_bad_gguf_rejected(path, tmp_path, cli):
    out = tmp_path / "out"
    r = cli(["build", "--model", path, "--out", out])
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    assert lines[0].startswith(f"cllm: error: {path}: ")
    assert EXPECTED[os.path.basename(path)] in lines[0]
    assert "Traceback" not in r.output
    assert not (out / "cllm.elf").exists() and not (out / "cllm.elf.tmp").exists()
    assert not (out / "obj").exists()                  # nothing was compiled


def test_messages_are_distinct(cli, tmp_path):
    msgs = {}
    for path in CORPUS:
        r = cli(["build", "--model", path, "--out", tmp_path / "o"])
        msgs[path] = r.output.strip().split(": ", 3)[-1]
    assert len(set(msgs.values())) == len(msgs), msgs


def test_reference_reader_rejects_or_we_do_first(tmp_path):
    """Files gguf.GGUFReader itself cannot read are caught by the header walk with a precise message before the
    reader runs (the reader's own errors are then only a second line of defence)."""
    from cllm_build.errors import CllmError
    from cllm_build.model import check_model
    for path in CORPUS:
        with pytest.raises(CllmError) as e:
            check_model(path)
        assert "GGUFReader" not in str(e.value), str(e.value)


def test_random_damage_never_crashes(tmp_path):
    """Random byte flips and truncations of the baseline: check_model either accepts the file or raises
    CllmError with one line naming it (deterministic seed; the fuzzing in miniature)."""
    import random
    from cllm_build.errors import CllmError
    from cllm_build.model import check_model
    rng = random.Random(1234)
    base = make_corpus.build_valid()
    p = tmp_path / "f.gguf"
    outcomes = {"ok": 0, "rejected": 0}
    for i in range(400):
        data = bytearray(base)
        if i % 4 == 0:
            data = data[:rng.randrange(len(data))]
        for _ in range(rng.randrange(1, 4)):
            if data:
                pos = rng.randrange(min(len(data), 700))   # mostly the header
                data[pos] = rng.randrange(256)
        p.write_bytes(bytes(data))
        try:
            check_model(str(p), hash_file=False)
            outcomes["ok"] += 1
        except CllmError as e:
            msg = str(e)
            assert msg.startswith(f"{p}: ") and "\n" not in msg
            outcomes["rejected"] += 1
    assert outcomes["rejected"] > 100
