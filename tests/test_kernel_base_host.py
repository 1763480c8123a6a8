"""Kernel base modules built for the host: the heap (core/heap.c, randomized alloc/free with overlap,
alignment and full-coalescing checks), the Multiboot info parser (core/mboot.c, structures packed here with
struct from the spec, including malformed ones) and the command line with base64 (core/cmdline.c, against
Python's base64)."""
import base64
import ctypes
import pathlib
import random
import struct
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent / "host" / "lib"))
import hostbuild  # noqa: E402

MAGIC = 0x2BADB002


@pytest.mark.parametrize("seed,ops,sanitize", [(1, 60000, False), (2, 60000, False), (3, 8000, True)])
def test_heap_random(seed, ops, sanitize):
    extra = ["-fsanitize=address,undefined", "-fno-sanitize-recover"] if sanitize else []
    exe = hostbuild.build("heap_check" + ("_asan" if sanitize else ""),
                          ["tests/host/core/heap_check.c", "kernel/core/heap.c"], extra=extra)
    r = subprocess.run([str(exe), str(seed), str(ops)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    last = r.stdout.strip().splitlines()[-1]
    assert last.endswith(" 0 failed") and int(last.split()[0]) > ops


@pytest.fixture(scope="module")
def mboot_dump():
    return hostbuild.build("mboot_dump", ["tests/host/core/mboot_dump.c", "kernel/core/mboot.c",
                                          "kernel/core/cmdline.c", "kernel/lib/parse.c"])


class Mem:
    """Fake physical memory: a bytearray where offset == physical address."""

    def __init__(self, size=1 << 20):
        self.b = bytearray(size)

    def put(self, addr, data):
        self.b[addr:addr + len(data)] = data


def info_struct(flags, mem_lower=0, mem_upper=0, cmdline=0, mods_count=0, mods_addr=0, mmap_length=0,
                mmap_addr=0, loader=0):
    """The Multiboot 1 info structure (spec 3.3), 88 bytes through the VBE fields."""
    b = bytearray(88)
    struct.pack_into("<III", b, 0, flags, mem_lower, mem_upper)
    struct.pack_into("<IIII", b, 16, cmdline, mods_count, mods_addr, 0)
    struct.pack_into("<II", b, 44, mmap_length, mmap_addr)
    struct.pack_into("<I", b, 64, loader)
    return bytes(b)


def mmap_entries(entries, size=20):
    return b"".join(struct.pack("<IQQI", size, base, length, typ) + bytes(size - 20)
                    for base, length, typ in entries)


def run_dump(exe, mem, magic, info_addr, tmp_path):
    img = tmp_path / "phys.bin"
    img.write_bytes(bytes(mem.b))
    r = subprocess.run([str(exe), str(img), str(magic), str(info_addr)], capture_output=True, text=True,
                       timeout=30, check=True)
    out = {"mmap": [], "reserved": [], "arg": []}
    for line in r.stdout.splitlines():
        key, _, rest = line.partition(" ")
        if key in ("mmap", "reserved"):
            out[key].append(tuple(int(x) for x in rest.split()))
        elif key == "arg":
            out["arg"].append(rest)
        else:
            out[key] = rest
    return out


E820 = [(0, 0x9fc00, 1), (0x9fc00, 0x400, 2), (0xf0000, 0x10000, 2), (0x100000, 0x7fee0000, 1),
        (0x7ffe0000, 0x20000, 2), (0xfffc0000, 0x40000, 2), (0x100000000, 0x80000000, 1)]


def test_mboot_full_info(mboot_dump, tmp_path):
    mem = Mem()
    prompt = "Hello, wörld! \"quoted\" and spaces"
    cmd = f"prompt={base64.b64encode(prompt.encode()).decode()} n_predict=32 debug".encode() + b"\0"
    mem.put(0x9000, info_struct(flags=(1 << 0) | (1 << 2) | (1 << 6) | (1 << 9), mem_lower=639,
                                mem_upper=2096000, cmdline=0x9400, mmap_length=24 * len(E820), mmap_addr=0x9200,
                                loader=0x9600))
    mem.put(0x9200, mmap_entries(E820))
    mem.put(0x9400, cmd)
    mem.put(0x9600, b"qemu\0")
    out = run_dump(mboot_dump, mem, MAGIC, 0x9000, tmp_path)
    assert out["result"].split()[:3] == ["0", "valid", "1"]
    assert out["mem"] == "639 2096000"
    assert out["mmap"] == E820
    assert out["loader"] == "qemu"
    assert out["warnings"] == "0"
    assert (0x9000, 88) in out["reserved"] and (0x9200, 24 * len(E820)) in out["reserved"]
    assert (0x9400, len(cmd) - 1 + 1) in out["reserved"]
    assert out["arg"][1:] == ["n_predict=32", "debug="]
    n, hexdata = out["prompt"].split()
    assert bytes.fromhex(hexdata).decode() == prompt and int(n) == len(prompt.encode())


def test_mboot_bad_magic_and_unreadable_info(mboot_dump, tmp_path):
    mem = Mem()
    mem.put(0x9000, info_struct(flags=1, mem_lower=1, mem_upper=2))
    assert run_dump(mboot_dump, mem, 0x1BADB002, 0x9000, tmp_path)["result"].startswith("-1 valid 0")
    assert run_dump(mboot_dump, mem, MAGIC, len(mem.b) - 10, tmp_path)["result"].startswith("-1 valid 0")
    assert run_dump(mboot_dump, mem, MAGIC, 0xFFFFFFF0, tmp_path)["result"].startswith("-1 valid 0")


@pytest.mark.parametrize("damage", ["entry_size_small", "entry_size_huge", "map_out_of_memory", "map_too_long",
                                    "zero_length_entry", "wrapping_entry", "cmdline_unterminated",
                                    "cmdline_out_of_memory", "flags_off", "bigger_entry_size"])
def test_mboot_malformed(mboot_dump, tmp_path, damage):
    mem = Mem()
    good = [(0, 0x9fc00, 1), (0x100000, 0x1000000, 1)]
    flags = (1 << 0) | (1 << 2) | (1 << 6)
    mmap = mmap_entries(good)
    mmap_addr, mmap_len, cmd_addr = 0x9200, len(mmap), 0x9400
    expect_mmap, expect_warn = good, 0
    mem.put(cmd_addr, b"a=1\0")
    if damage == "entry_size_small":
        mmap = struct.pack("<IQQI", 12, 0, 0x9fc00, 1) + mmap
        mmap_len, expect_mmap, expect_warn = len(mmap), [], 1
    elif damage == "entry_size_huge":
        mmap = mmap_entries(good[:1]) + struct.pack("<IQQI", 0xFFFFFF00, 0x100000, 0x1000, 1)
        mmap_len, expect_mmap, expect_warn = len(mmap), good[:1], 1
    elif damage == "map_out_of_memory":
        mmap_addr, expect_mmap, expect_warn = len(mem.b) - 8, [], 1
    elif damage == "map_too_long":
        mmap_len, expect_mmap, expect_warn = 0x7FFFFFFF, [], 1
    elif damage == "zero_length_entry":
        mmap = mmap_entries([good[0], (0x200000, 0, 1), good[1]])
        mmap_len = len(mmap)  # QEMU itself lists empty entries: skipped, no warning
    elif damage == "wrapping_entry":
        mmap = mmap_entries([good[0], (0xFFFFFFFFFFFFF000, 0x2000, 1), good[1]])
        mmap_len, expect_warn = len(mmap), 1
    elif damage == "cmdline_unterminated":
        cmd_addr = len(mem.b) - 4
        mem.put(cmd_addr, b"abcd")
    elif damage == "cmdline_out_of_memory":
        cmd_addr, expect_warn = 0x7FFFFFFF, 1
    elif damage == "flags_off":
        flags, expect_mmap = 0, []
    elif damage == "bigger_entry_size":  # entries may be larger than 20 bytes: size says where the next is
        mmap = mmap_entries(good, size=28)
        mmap_len = len(mmap)
    mem.put(mmap_addr if mmap_addr + len(mmap) <= len(mem.b) else 0x9200, mmap)
    mem.put(0x9000, info_struct(flags=flags, mem_lower=639, mem_upper=16384, cmdline=cmd_addr,
                                mmap_length=mmap_len, mmap_addr=mmap_addr))
    out = run_dump(mboot_dump, mem, MAGIC, 0x9000, tmp_path)
    assert out["result"].startswith("0 valid 1")
    assert out["mmap"] == expect_mmap
    assert int(out["warnings"]) == expect_warn
    if damage == "cmdline_unterminated":
        assert out["cmdline"] == "1 abcd"  # stops at the end of readable memory, no overrun
    if damage == "flags_off":
        assert out["mem"] == "0 0" and out["cmdline"] == "0 "


@pytest.fixture(scope="module")
def cmdlib():
    so = hostbuild.build("libcmdline.so", ["kernel/core/cmdline.c", "kernel/lib/parse.c"], shared=True)
    lib = ctypes.CDLL(str(so))
    lib.base64_decode.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
    lib.base64_decode.restype = ctypes.c_long
    return lib


def b64(lib, text, cap=4096):
    out = ctypes.create_string_buffer(cap)
    n = lib.base64_decode(text, len(text), out, cap)
    return None if n < 0 else out.raw[:n]


def test_base64_against_python(cmdlib):
    rng = random.Random(5)
    for _ in range(3000):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
        enc = base64.b64encode(data)
        assert b64(cmdlib, enc) == data
        assert b64(cmdlib, enc.rstrip(b"=")) == data  # padding optional
        assert b64(cmdlib, base64.urlsafe_b64encode(data)) == data
    for bad in [b"a", b"abcde", b"ab=c", b"ab===", b"a===", b"ab!d", b"ab c", b"abc=d", b"=abc", b"QQ==QQ==",
                b"QR=="]:  # QR==: non-zero leftover bits
        assert b64(cmdlib, bad) is None, bad
    assert b64(cmdlib, base64.b64encode(b"x" * 100), cap=99) is None  # too small: error, no overrun
    assert b64(cmdlib, b"") == b""
