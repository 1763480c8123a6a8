"""Compile and link the kernel: every kernel/**/*.c and kernel/**/*.S plus the generated sections, with gcc,
incrementally (gcc -MMD dependency files; a flags change rebuilds everything) and in parallel; link with ld into
OUT/cllm64.elf (64-bit, symbols for gdb) and convert with objcopy into OUT/cllm.elf.tmp (ELF32, what QEMU's
Multiboot loader accepts). build.py verifies the result (elf.py) before renaming it into place."""
import glob
import os
import sys
from multiprocessing.pool import ThreadPool

from . import ROOT
from .errors import CllmError
from .tools import log, run_tool

KERNEL_DIR = os.path.join(ROOT, "kernel")
CFLAGS = ["-m64", "-ffreestanding", "-fno-builtin", "-nostdlib", "-fno-pic", "-fno-pie", "-mno-red-zone",
          "-fno-stack-protector", "-fno-tree-loop-distribute-patterns", "-ffp-contract=off", "-mcmodel=small",
          "-msse2", "-fno-omit-frame-pointer", "-fno-asynchronous-unwind-tables", "-Wall", "-Wextra"]
OPT_RELEASE = ["-O2", "-g"]
OPT_DEBUG = ["-Og", "-g", "-DCLLM_DEBUG=1"]
LDFLAGS = ["-m", "elf_x86_64", "-nostdlib", "-z", "max-page-size=4096", "-z", "noexecstack", "--no-relax"]


def kernel_sources(kernel_dir=KERNEL_DIR):
    srcs = glob.glob(os.path.join(kernel_dir, "**", "*.c"), recursive=True)
    srcs += glob.glob(os.path.join(kernel_dir, "**", "*.S"), recursive=True)
    return sorted(srcs)


def compile_flags(gen_dir, debug, kernel_dir=KERNEL_DIR):
    return CFLAGS + (OPT_DEBUG if debug else OPT_RELEASE) + ["-I" + kernel_dir, "-I" + gen_dir]


def _deps(dep_path):
    """Prerequisites listed in a gcc -MMD file (None when it is missing or unreadable)."""
    try:
        with open(dep_path, encoding="utf-8") as f:
            text = f.read().replace("\\\n", " ")
    except OSError:
        return None
    out = []
    for line in text.splitlines():
        if ":" not in line:
            continue
        target, _, rest = line.partition(": ")
        if not rest and target.endswith(":"):
            continue  # -MP phony targets "hdr.h:"
        rest = rest.replace("\\ ", "\0")
        out += [p.replace("\0", " ") for p in rest.split()]
    return out


def _stale(src, obj, dep):
    try:
        t = os.path.getmtime(obj)
    except OSError:
        return True
    deps = _deps(dep)
    if deps is None:
        return True
    for d in [src] + deps:
        try:
            if os.path.getmtime(d) > t:
                return True
        except OSError:
            return True
    return False


def _object_path(obj_dir, src, kernel_dir, gen_dir):
    if src.startswith(gen_dir + os.sep):
        rel = os.path.join("gen", os.path.relpath(src, gen_dir))
    else:
        rel = os.path.relpath(src, kernel_dir)
    return os.path.join(obj_dir, rel + ".o")


def compile_all(out_dir, gen_srcs, debug=False, kernel_dir=KERNEL_DIR, jobs=None):
    """Compile what is stale; return (objects, n_compiled)."""
    gen_dir = os.path.join(out_dir, "gen")
    obj_dir = os.path.join(out_dir, "obj")
    os.makedirs(obj_dir, exist_ok=True)
    flags = compile_flags(gen_dir, debug, kernel_dir)
    stamp = os.path.join(obj_dir, "flags.txt")
    flags_text = " ".join(flags) + "\n"
    try:
        old = open(stamp, encoding="utf-8").read()
    except OSError:
        old = None
    force = old != flags_text
    srcs = kernel_sources(kernel_dir)
    if not srcs:
        raise CllmError(f"no kernel sources under {kernel_dir}")
    srcs += list(gen_srcs)
    jobs_list = []
    objs = []
    for src in srcs:
        obj = _object_path(obj_dir, src, kernel_dir, gen_dir)
        dep = obj[:-2] + ".d"
        objs.append(obj)
        if force or _stale(src, obj, dep):
            jobs_list.append((src, obj, dep))

    def one(job):
        src, obj, dep = job
        os.makedirs(os.path.dirname(obj), exist_ok=True)
        argv = ["gcc"] + flags + ["-MMD", "-MP", "-MF", dep, "-c", src, "-o", obj]
        p = run_tool(argv, check=False)
        return src, obj, p

    failures = []
    if jobs_list:
        with ThreadPool(jobs or os.cpu_count() or 1) as pool:
            for src, obj, p in pool.imap_unordered(one, jobs_list):
                msg = (p.stderr or "") + (p.stdout or "")
                if msg.strip():
                    sys.stderr.write(msg)
                if p.returncode != 0:
                    for path in (obj,):
                        if os.path.exists(path):
                            os.unlink(path)
                    failures.append((src, msg))
    if failures:
        src, msg = sorted(failures)[0]
        first = next((l for l in msg.splitlines() if "error" in l), msg.strip().splitlines()[0] if msg.strip() else "")
        raise CllmError(f"gcc failed on {len(failures)} file(s); first: {os.path.relpath(src, ROOT)}: {first.strip()}")
    with open(stamp, "w", encoding="utf-8") as f:
        f.write(flags_text)
    log(f"compiled {len(jobs_list)} of {len(srcs)} sources")
    return objs, len(jobs_list)


def link(out_dir, objs, linker_script):
    """ld into OUT/cllm64.elf when anything changed; return (path, relinked)."""
    elf64 = os.path.join(out_dir, "cllm64.elf")
    list_path = os.path.join(out_dir, "obj", "link.txt")
    listing = "\n".join(objs + [linker_script]) + "\n"
    try:
        same_list = open(list_path, encoding="utf-8").read() == listing
        t = os.path.getmtime(elf64)
        fresh = same_list and all(os.path.getmtime(p) <= t for p in objs + [linker_script])
    except OSError:
        fresh = False
    if fresh:
        return elf64, False
    tmp = elf64 + ".tmp"
    try:
        run_tool(["ld"] + LDFLAGS + ["-T", linker_script, "-o", tmp] + objs, what="ld")
        os.replace(tmp, elf64)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    with open(list_path, "w", encoding="utf-8") as f:
        f.write(listing)
    return elf64, True


def to_elf32(elf64, dest_tmp):
    """objcopy the 64-bit image into an ELF32 container (debug info stays in the 64-bit file)."""
    run_tool(["objcopy", "-O", "elf32-i386", "--strip-debug", elf64, dest_tmp], what="objcopy")
    return dest_tmp
