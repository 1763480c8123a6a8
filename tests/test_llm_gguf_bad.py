"""The damaged-GGUF corpus (tests/bad_gguf_c/, one file per kind of damage, made by make_bad.py) against the C
reader (kernel/llm/gguf.c): each file is rejected with its expected error code and a message naming the field or
tensor; the undamaged baseline is accepted by the C reader and by gguf.GGUFReader; the committed files are what
the script generates; every prefix of a valid file is rejected without reading out of bounds (ASan build)."""
import pathlib
import subprocess
import sys

import gguf
import pytest

HERE = pathlib.Path(__file__).parent
CORPUS = HERE / "bad_gguf_c"
sys.path.insert(0, str(HERE / "host" / "llm_formats"))
sys.path.insert(0, str(CORPUS))
import fmtlib  # noqa: E402
import make_bad  # noqa: E402


def manifest():
    rows = {}
    for line in (CORPUS / "MANIFEST").read_text().splitlines():
        if line and not line.startswith("#"):
            name, code, frag = line.split("\t")
            rows[name] = (code, frag)
    return rows


MANIFEST = manifest()
FILES = sorted(p.name for p in CORPUS.glob("*.gguf"))


@pytest.fixture(scope="module")
def lib():
    return fmtlib.load()


def test_corpus_is_what_the_script_generates():
    gen = make_bad.corpus()
    assert sorted(n + ".gguf" for n in gen) == FILES == sorted(MANIFEST)
    for name, (data, code, frag) in gen.items():
        assert (CORPUS / (name + ".gguf")).read_bytes() == data, name
        assert MANIFEST[name + ".gguf"] == (code, frag)


def test_every_error_code_is_exercised():
    codes = {c for c, _ in MANIFEST.values()}
    for want in ["truncated", "magic", "version", "count", "value_type", "nested", "bool", "empty_name", "dup_key",
                 "dup_tensor", "name", "alignment", "dims", "overflow", "tensor_type", "block", "offset", "bounds",
                 "overlap"]:
        assert want in codes


def test_baseline_is_valid(lib, tmp_path):
    data = make_bad.valid()
    with fmtlib.OpenGguf(lib, data) as g:
        assert g.rc == 0, g.err
        assert g.f.n_tensors == 4 and g.f.n_kv == 15
    p = tmp_path / "valid.gguf"
    p.write_bytes(data)
    r = gguf.GGUFReader(str(p))
    assert len(r.tensors) == 4


@pytest.mark.parametrize("name", FILES)
def test_damaged_file_rejected(lib, name):
    code, frag = MANIFEST[name]
    with fmtlib.OpenGguf(lib, (CORPUS / name).read_bytes()) as g:
        assert g.rc < 0, f"{name} accepted"
        assert g.code == code, f"{name}: {g.code}: {g.err}"
        assert frag in g.err, f"{name}: message {g.err!r} lacks {frag!r}"
        assert not g.f.kv and not g.f.tensors and not g.f.names  # nothing left allocated


def test_every_prefix_rejected_under_asan(tmp_path):
    """Every truncation of the baseline (and of a file with a big string array) fails cleanly; built with
    AddressSanitizer + UBSan so an out-of-bounds read would abort."""
    exe = fmtlib.build("gguf_prefixes_asan", ["tests/host/shim.c", "kernel/lib/fmt.c", "kernel/lib/parse.c",
                                              *fmtlib.LLM_SOURCES, "tests/host/llm_formats/gguf_prefixes.c"],
                       extra=["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-O1"])
    files = []
    for i, data in enumerate([make_bad.valid(), make_bad.build(kvs=make_bad.base_kvs() + [
            ("big.strs", make_bad.ARR, (make_bad.STR, [f"t{i}" * (i % 5) for i in range(300)]))])]):
        p = tmp_path / f"f{i}.gguf"
        p.write_bytes(data)
        files.append(str(p))
    r = subprocess.run([str(exe), *files], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert "prefixes rejected" in r.stdout
