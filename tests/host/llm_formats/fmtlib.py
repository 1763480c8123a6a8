"""Builds and loads the tensor-formats library (kernel/llm gguf + ggml_types + quant_ref, with
tests/host/llm_formats/formats_api.c) for the pytest files test_llm_gguf*.py and test_llm_quant*.py.
Output: tests/.build/llm_formats/, rebuilt when any input is newer."""
import ctypes
import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[3]
BUILD = ROOT / "tests" / ".build" / "llm_formats"
CFLAGS = ["-DCLLM_HOST", "-I" + str(ROOT / "kernel"), "-I" + str(ROOT / "tests/host/include"),
          "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off", "-msse2"]
LLM_SOURCES = ["kernel/llm/gguf.c", "kernel/llm/ggml_types.c", "kernel/llm/quant_ref.c", "kernel/llm/quant_sse2.c",
               "kernel/llm/quant_avx2.c", "kernel/llm/quant_avx512.c", "kernel/llm/matmul.c"]
SOURCES = ["tests/host/shim.c", "kernel/lib/fmt.c", "kernel/lib/parse.c", *LLM_SOURCES,
           "tests/host/llm_formats/formats_api.c"]
HEADER_DIRS = ["kernel/llm", "kernel/lib", "kernel/core", "tests/host/include"]


def _newest(sources):
    t = max((ROOT / s).stat().st_mtime for s in sources)
    for d in HEADER_DIRS:
        for h in (ROOT / d).glob("*.h"):
            t = max(t, h.stat().st_mtime)
    return t


def build(name, sources, shared=False, cc="gcc", extra=()):
    """Compile sources (repo-relative) into tests/.build/llm_formats/NAME unless it is up to date."""
    BUILD.mkdir(parents=True, exist_ok=True)
    out = BUILD / name
    stamp = BUILD / (name + ".cmd")
    cmd = [cc, *CFLAGS, *extra, *(["-shared", "-fPIC"] if shared else []), *[str(ROOT / s) for s in sources]]
    if (out.exists() and stamp.exists() and stamp.read_text() == " ".join(cmd)
            and out.stat().st_mtime >= _newest(sources)):
        return out
    tmp = f"{out}.{os.getpid()}.tmp"
    subprocess.run([*cmd, "-o", tmp], check=True, cwd=ROOT)
    os.replace(tmp, out)
    stamp.write_text(" ".join(cmd))
    return out


class GgufTensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("name_len", ctypes.c_uint32), ("n_dims", ctypes.c_uint32),
                ("ne", ctypes.c_int64 * 4), ("type", ctypes.c_int), ("offset", ctypes.c_uint64),
                ("data", ctypes.c_void_p), ("size", ctypes.c_uint64), ("n_elements", ctypes.c_int64)]


class GgufFile(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("size", ctypes.c_uint64), ("version", ctypes.c_uint32),
                ("alignment", ctypes.c_uint64), ("data_offset", ctypes.c_uint64), ("n_kv", ctypes.c_int64),
                ("kv", ctypes.c_void_p), ("n_tensors", ctypes.c_int64), ("tensors", ctypes.POINTER(GgufTensor)),
                ("kv_hash", ctypes.c_void_p), ("tensor_hash", ctypes.c_void_p), ("kv_hash_mask", ctypes.c_uint64),
                ("tensor_hash_mask", ctypes.c_uint64), ("names", ctypes.c_void_p),
                ("str_offsets", ctypes.c_void_p)]


def load():
    so = build("libllmformats.so", SOURCES, shared=True)
    lib = ctypes.CDLL(str(so))
    P, I64, U64, I = ctypes.c_void_p, ctypes.c_int64, ctypes.c_uint64, ctypes.c_int
    sig = {
        "fmt_info": (I, [I, ctypes.POINTER(I64), ctypes.POINTER(I64), ctypes.POINTER(I), ctypes.POINTER(I),
                         ctypes.POINTER(I)]),
        "fmt_to_float": (I, [I, I, P, P, I64]),
        "fmt_from_float": (I, [I, I, P, P, I64]),
        "fmt_vec_dot": (I, [I, I, I64, ctypes.POINTER(ctypes.c_float), P, P]),
        "fmt_row_size": (U64, [I, I64]),
        "fmt_vec_dot_rows": (I, [I, I64, I64, P, P, U64, P]),
        "fmt_init_simd": (None, [ctypes.c_uint32]),
        "fmt_uses_ref": (I, [I]),
        "fmt_matmul": (I, [I, I64, I64, P, P, I, P]),
        "fmt_kernel_kind": (I, [I]),
        "fmt_from_is_ref": (I, [I]),
        "fmt_simd_name": (ctypes.c_char_p, []),
        "fmt_sizeof_gguf_file": (U64, []),
        "fmt_sizeof_gguf_tensor": (U64, []),
        "fmt_arr_str_dump": (I64, [ctypes.POINTER(GgufFile), I64, P, P, U64]),
        "gguf_open": (I, [ctypes.POINTER(GgufFile), P, U64, ctypes.c_char_p, ctypes.c_size_t]),
        "gguf_free": (None, [ctypes.POINTER(GgufFile)]),
        "gguf_strerror": (ctypes.c_char_p, [I]),
        "gguf_find_key": (I64, [ctypes.POINTER(GgufFile), ctypes.c_char_p]),
        "gguf_get_key": (ctypes.c_char_p, [ctypes.POINTER(GgufFile), I64]),
        "gguf_get_kv_type": (I, [ctypes.POINTER(GgufFile), I64]),
        "gguf_get_str": (I, [ctypes.POINTER(GgufFile), I64, ctypes.POINTER(P), ctypes.POINTER(U64)]),
        "gguf_get_int": (I, [ctypes.POINTER(GgufFile), I64, ctypes.POINTER(I64)]),
        "gguf_get_bool": (I, [ctypes.POINTER(GgufFile), I64, ctypes.POINTER(I)]),
        "gguf_get_arr": (I, [ctypes.POINTER(GgufFile), I64, ctypes.POINTER(ctypes.c_uint32), ctypes.POINTER(U64),
                             ctypes.POINTER(P)]),
        "gguf_get_arr_str": (I, [ctypes.POINTER(GgufFile), I64, U64, ctypes.POINTER(P), ctypes.POINTER(U64)]),
        "gguf_get_arr_f32": (I, [ctypes.POINTER(GgufFile), I64, U64, ctypes.POINTER(ctypes.c_float)]),
        "gguf_get_arr_i32": (I, [ctypes.POINTER(GgufFile), I64, U64, ctypes.POINTER(ctypes.c_int32)]),
        "gguf_get_arr_int": (I, [ctypes.POINTER(GgufFile), I64, U64, ctypes.POINTER(I64)]),
        "gguf_find_tensor": (ctypes.POINTER(GgufTensor), [ctypes.POINTER(GgufFile), ctypes.c_char_p]),
        "gguf_get_tensor": (ctypes.POINTER(GgufTensor), [ctypes.POINTER(GgufFile), I64]),
    }
    for name, ctype in [("u8", ctypes.c_uint8), ("i8", ctypes.c_int8), ("u16", ctypes.c_uint16),
                        ("i16", ctypes.c_int16), ("u32", ctypes.c_uint32), ("i32", ctypes.c_int32),
                        ("u64", ctypes.c_uint64), ("i64", ctypes.c_int64), ("f32", ctypes.c_float),
                        ("f64", ctypes.c_double)]:
        sig["gguf_get_" + name] = (I, [ctypes.POINTER(GgufFile), I64, ctypes.POINTER(ctype)])
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    assert lib.fmt_sizeof_gguf_file() == ctypes.sizeof(GgufFile)
    assert lib.fmt_sizeof_gguf_tensor() == ctypes.sizeof(GgufTensor)
    return lib


class OpenGguf:
    """gguf_open over a bytes object kept alive with the parsed file; .rc, .err, .f (GgufFile)."""

    def __init__(self, lib, data: bytes):
        self.lib = lib
        self.buf = ctypes.create_string_buffer(data, len(data))  # keeps the bytes alive and addressable
        self.f = GgufFile()
        err = ctypes.create_string_buffer(256)
        self.rc = lib.gguf_open(ctypes.byref(self.f), self.buf, len(data), err, 256)
        self.err = err.value.decode("utf-8", "replace")
        self.code = lib.gguf_strerror(self.rc).decode()

    def close(self):
        self.lib.gguf_free(ctypes.byref(self.f))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
