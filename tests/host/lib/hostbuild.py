"""Build host test programs and shared libraries from kernel sources (the lib/ and core/ tests use it).

Compiles with the flags of the team brief (-DCLLM_HOST, include root kernel/, -ffp-contract=off) into
tests/.build/, rebuilding only when a source or header under kernel/ or tests/host/ is newer than the output.
"""
import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[3]
BUILD = ROOT / "tests" / ".build"
CFLAGS = ["-DCLLM_HOST", "-I" + str(ROOT / "kernel"), "-I" + str(ROOT / "tests/host/include"),
          "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off"]
LIB_SOURCES = ["kernel/lib/fmt.c", "kernel/lib/math.c", "kernel/lib/parse.c"]


def _newest_input(sources):
    newest = 0.0
    for s in sources:
        newest = max(newest, (ROOT / s).stat().st_mtime)
    for d in ("kernel/lib", "kernel/core", "tests/host/include"):
        for h in (ROOT / d).glob("*.h"):
            newest = max(newest, h.stat().st_mtime)
    return newest


def build(name, sources, shared=False, extra=()):
    """Compile sources (paths relative to the repo) into tests/.build/NAME; returns the output path."""
    BUILD.mkdir(parents=True, exist_ok=True)
    out = BUILD / name
    if out.exists() and out.stat().st_mtime >= _newest_input(sources):
        return out
    cmd = ["gcc", *CFLAGS, *extra]
    if shared:
        cmd += ["-shared", "-fPIC"]
    tmp = f"{out}.{os.getpid()}.tmp"  # parallel test runs may build the same output: last rename wins
    cmd += ["-o", tmp, *[str(ROOT / s) for s in sources], "-lm"]
    subprocess.run(cmd, check=True, cwd=ROOT)
    os.replace(tmp, out)
    return out
