"""`cllm inspect`: a GGUF's metadata and tensor table agree with gguf.GGUFReader; a built image shows its
sections, the baked model's sha256 (hashlib of the input) and the baked configuration."""
import hashlib
import re

import gguf

import make_corpus


def test_inspect_gguf(cli, tiny_gguf):
    r = cli(["inspect", "--all-tensors", tiny_gguf])
    assert r.exit_code == 0, r.output
    rd = gguf.GGUFReader(tiny_gguf)
    assert f"{len(rd.tensors)} tensors" in r.output
    assert "general.architecture (string) = \"llama\"" in r.output
    for t in rd.tensors:     # every row: name, type, shape (GGUF order), bytes
        shape = "x".join(str(int(d)) for d in t.shape)
        assert re.search(rf"^  {re.escape(t.name)}\s+{t.tensor_type.name}\s+{shape}\s+{t.n_bytes}$", r.output, re.M), t.name
    n_tok = len(rd.fields["tokenizer.ggml.tokens"].data)
    assert re.search(rf"tokenizer\.ggml\.tokens \(array\[string\]\) = \[.*, \.\.\.\] \({n_tok} items\)", r.output)


def test_inspect_gguf_limits_tensor_rows(cli, tiny_gguf):
    r = cli(["inspect", tiny_gguf])
    rd = gguf.GGUFReader(tiny_gguf)
    if len(rd.tensors) > 40:
        assert f"... {len(rd.tensors) - 40} more (--all-tensors)" in r.output


def test_inspect_elf(cli, mini_build, tiny_gguf):
    r = cli(["inspect", mini_build.elf])
    assert r.exit_code == 0, r.output
    sha = hashlib.sha256(open(tiny_gguf, "rb").read()).hexdigest()
    assert f"sha256 {sha}" in r.output and "[sha256 matches]" in r.output
    assert "multiboot: header at file offset" in r.output
    for sec in (".text", ".bss", ".model", ".cllm_config"):
        assert re.search(rf"^  {re.escape(sec)}\s", r.output, re.M)
    assert '"http_port": 8080' in r.output and '"memory_mb": 1024' in r.output


def test_inspect_rejects_other_files(cli, tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"hello")
    r = cli(["inspect", p])
    assert r.exit_code == 1 and r.output.strip() == f"cllm: error: {p}: neither a GGUF file nor an ELF image (magic b'hell')"
    p.write_bytes(make_corpus.build_valid()[:300])
    r = cli(["inspect", p])
    assert r.exit_code == 1 and "runs past the end of the file" in r.output and len(r.output.strip().splitlines()) == 1
