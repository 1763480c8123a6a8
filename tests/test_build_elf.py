"""`cllm build` end to end on a minimal kernel (conftest.write_mini_kernel) with a tiny model: the image is
checked independently (pyelftools, struct, hashlib, gguf.GGUFReader), the build is incremental, verification
rejects tampered images, failures leave no half-written ELF."""
import hashlib
import json
import os
import shutil
import struct

import gguf
import pytest
from elftools.elf.elffile import ELFFile

from cllm_build.elf import verify_image
from cllm_build.errors import CllmError
from cllm_build.render import mb_checksum, MB_FLAGS, MB_MAGIC


def build(cli, model, out, kdir, *extra):
    r = cli(["build", "--model", model, "--out", out, "--kernel-dir", kdir, *extra])
    assert r.exit_code == 0, r.output
    return r


def compiled_count(output):
    return int(output.split(" sources compiled")[0].rsplit("(", 1)[1])


def test_multiboot_checksum_arithmetic():
    assert (MB_MAGIC + MB_FLAGS + mb_checksum(MB_MAGIC, MB_FLAGS)) % 2**32 == 0
    assert mb_checksum(0x1BADB002, 0x3) == 0xE4524FFB   # 2^32 - 0x1BADB005, worked out by hand


def test_image_is_what_the_spec_wants(cli, tmp_path, tiny_gguf, mini_kernel):
    out = tmp_path / "out"
    r = build(cli, tiny_gguf, out, mini_kernel)
    elf = out / "cllm.elf"
    raw = elf.read_bytes()
    model = open(tiny_gguf, "rb").read()
    # Multiboot header: magic, flags, checksum, 4-byte aligned, in the first 8 KiB (Multiboot spec 3.1.1)
    hits = [o for o in range(0, 8192 - 12, 4) if struct.unpack_from("<I", raw, o)[0] == 0x1BADB002]
    assert len(hits) == 1
    magic, flags, csum = struct.unpack_from("<III", raw, hits[0])
    assert (magic + flags + csum) & 0xFFFFFFFF == 0 and flags & 2 and not flags & (1 << 16)
    with open(elf, "rb") as f:
        e = ELFFile(f)
        assert e.elfclass == 32 and e["e_machine"] == "EM_386"
        sec = e.get_section_by_name(".model")
        assert sec.data() == model and sec["sh_addr"] % 4096 == 0
        assert any(s["p_type"] == "PT_LOAD" and s["p_vaddr"] <= sec["sh_addr"] and
                   sec["sh_addr"] + sec["sh_size"] <= s["p_vaddr"] + s["p_filesz"] for s in e.iter_segments())
        baked = json.loads(e.get_section_by_name(".cllm_config").data().rstrip(b"\0"))
        entry = e["e_entry"]
    with open(out / "cllm64.elf", "rb") as f:
        e64 = ELFFile(f)
        assert e64.elfclass == 64 and e64["e_machine"] == "EM_X86_64"
        syms = {s.name: s["st_value"] for s in e64.get_section_by_name(".symtab").iter_symbols()}
    assert entry == syms["_start"]
    assert syms["__model_end"] - syms["__model_start"] == len(model)
    assert syms["__bss_start"] <= syms["__bss_end"] <= syms["__kernel_end"] <= syms["__model_start"]
    assert syms["__model_end"] <= syms["__image_end"]
    assert baked["model"]["sha256"] == hashlib.sha256(model).hexdigest()
    record = json.loads((out / "build.json").read_text())
    assert record["config"] == baked["config"] and record["model_path"] == os.path.abspath(tiny_gguf)
    # summary: sizes and the memory plan, KV cache recomputed from the reference reader's metadata
    rd = gguf.GGUFReader(tiny_gguf)
    f = {k: rd.fields[k].contents() for k in rd.fields if k.startswith("llama.")}
    head_dim = f["llama.embedding_length"] // f["llama.attention.head_count"]
    kv = f["llama.block_count"] * 2048 * f["llama.attention.head_count_kv"] * head_dim * 2 * 2
    assert record["memory_plan"]["kv_cache"] == kv
    assert f"KV cache {kv / 2**20:.1f} MiB" in " ".join(r.output.split())
    assert "text" in r.output and "bss" in r.output and f"{len(model)} B" in r.output


def test_incremental(cli, tmp_path, tiny_gguf, corpus_gguf, mini_kernel):
    out = tmp_path / "out"
    r = build(cli, tiny_gguf, out, mini_kernel)
    assert compiled_count(r.output) == 6                  # boot.S mini.c other.c + 3 generated
    elf_mtime = os.path.getmtime(out / "cllm.elf")
    r = build(cli, tiny_gguf, out, mini_kernel)
    assert compiled_count(r.output) == 0
    os.utime(os.path.join(mini_kernel, "core", "mini.h"))  # a header: only its includer recompiles
    assert compiled_count(build(cli, tiny_gguf, out, mini_kernel).output) == 1
    cfg = tmp_path / "c.json"
    cfg.write_text('{"network": {"http_port": 9999}}')     # config header: boot.S and mini.c include it
    r = build(cli, tiny_gguf, out, mini_kernel, "--config", cfg)
    assert compiled_count(r.output) == 3                   # boot.S, mini.c, cllm_config.S (baked JSON)
    assert "#define CLLM_HTTP_PORT 9999" in (out / "gen" / "cllm_config.h").read_text()
    r = build(cli, corpus_gguf, out, mini_kernel, "--config", cfg)   # another model
    with open(out / "cllm.elf", "rb") as f:
        assert ELFFile(f).get_section_by_name(".model").data() == open(corpus_gguf, "rb").read()
    assert os.path.getmtime(out / "cllm.elf") >= elf_mtime
    r = build(cli, corpus_gguf, out, mini_kernel, "--config", cfg, "--debug")
    assert compiled_count(r.output) == 6                   # other flags: everything


def test_verbose_logs_commands(cli, tmp_path, corpus_gguf, mini_kernel):
    r = cli(["-v", "build", "--model", corpus_gguf, "--out", tmp_path / "o", "--kernel-dir", mini_kernel])
    assert r.exit_code == 0, r.output
    for tool in ("+ gcc -m64 -ffreestanding", "+ ld -m elf_x86_64", "+ objcopy -O elf32-i386"):
        assert tool in r.output   # CliRunner mixes stderr (where -v logs) into output


def tampered(src, dst, fn):
    shutil.copy(src, dst)
    data = bytearray(open(dst, "rb").read())
    fn(data)
    open(dst, "wb").write(bytes(data))
    return str(dst)


def test_verify_rejects_tampered_images(mini_build, tmp_path, tiny_gguf):
    model = open(tiny_gguf, "rb").read()
    sha = hashlib.sha256(model).hexdigest()
    good = mini_build.elf
    verify_image(good, len(model), sha)
    with open(good, "rb") as f:
        model_off = ELFFile(f).get_section_by_name(".model")["sh_offset"]
    raw = open(good, "rb").read()
    mb_off = raw.index(struct.pack("<I", 0x1BADB002))

    def flip(off):
        def fn(d):
            d[off] ^= 0xFF
        return fn

    cases = {
        "sha256": flip(model_off + 1000),
        "no valid Multiboot header": flip(mb_off + 8),        # checksum byte
        "not a valid ELF": lambda d: d.__setitem__(slice(0, 4), b"\0ELF"),
    }
    for msg, fn in cases.items():
        bad = tampered(good, tmp_path / "bad.elf", fn)
        with pytest.raises(CllmError, match=msg):
            verify_image(bad, len(model), sha)
    with pytest.raises(CllmError, match="holds .* bytes"):
        verify_image(good, len(model) + 1, sha)


def test_compile_error_leaves_old_image(cli, tmp_path, corpus_gguf, mini_kernel):
    out = tmp_path / "out"
    build(cli, corpus_gguf, out, mini_kernel)
    before = (out / "cllm.elf").read_bytes()
    with open(os.path.join(mini_kernel, "core", "broken.c"), "w") as f:
        f.write("int broken(void) { return undeclared_thing; }\n")
    os.utime(os.path.join(mini_kernel, "core", "mini.h"))
    r = cli(["build", "--model", corpus_gguf, "--out", out, "--kernel-dir", mini_kernel])
    assert r.exit_code == 1
    assert "cllm: error: gcc failed on 1 file(s); first:" in r.output and "broken.c" in r.output
    assert (out / "cllm.elf").read_bytes() == before
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


def test_memory_plan_stops_early(cli, tmp_path, tiny_gguf, mini_kernel):
    r = cli(["build", "--model", tiny_gguf, "--out", tmp_path / "o", "--kernel-dir", mini_kernel,
             "--memory", 32, "--n-ctx", 131072])
    assert r.exit_code == 1
    assert "model does not fit in memory_mb 32" in r.output and "KV cache" in r.output
    assert not (tmp_path / "o" / "obj").exists()


def test_missing_model_file(cli, tmp_path):
    r = cli(["build", "--model", tmp_path / "nope.gguf", "--out", tmp_path / "o"])
    assert r.exit_code == 1 and r.output.strip() == f"cllm: error: {tmp_path / 'nope.gguf'}: no such model file"
