"""The C GGUF reader (kernel/llm/gguf.c) on valid files against gguf.GGUFReader (gguf-py, an independent
reader): files written by gguf.GGUFWriter (v3) with every metadata type, arrays of every element type, tensors of
every supported type and 1..4 dimensions, default and custom alignment; the same files relabelled v2; hand-made
files with empty arrays; llama.cpp's vocab-only GGUFs; and SmolLM2-135M-Instruct Q4_1. Every key, value, array
element, tensor shape, type, offset, size and data byte must agree. Also: the typed getters refuse other types."""
import ctypes
import pathlib
import struct
import sys

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q, GGUFValueType as V

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE / "host" / "llm_formats"))
sys.path.insert(0, str(HERE / "bad_gguf_c"))
sys.path.insert(0, str(HERE.parent / "models"))
import fmtlib  # noqa: E402
import make_bad  # noqa: E402

GETTERS = {V.UINT8: ("u8", ctypes.c_uint8), V.INT8: ("i8", ctypes.c_int8), V.UINT16: ("u16", ctypes.c_uint16),
           V.INT16: ("i16", ctypes.c_int16), V.UINT32: ("u32", ctypes.c_uint32), V.INT32: ("i32", ctypes.c_int32),
           V.UINT64: ("u64", ctypes.c_uint64), V.INT64: ("i64", ctypes.c_int64), V.FLOAT32: ("f32", ctypes.c_float),
           V.FLOAT64: ("f64", ctypes.c_double)}
NP_OF = {V.UINT8: np.uint8, V.INT8: np.int8, V.UINT16: np.uint16, V.INT16: np.int16, V.UINT32: np.uint32,
         V.INT32: np.int32, V.UINT64: np.uint64, V.INT64: np.int64, V.FLOAT32: np.float32, V.FLOAT64: np.float64,
         V.BOOL: np.uint8}
INTEGER = {V.UINT8, V.INT8, V.UINT16, V.INT16, V.UINT32, V.INT32, V.UINT64, V.INT64}
E_NOT_FOUND, E_TYPE = -20, -21


@pytest.fixture(scope="module")
def lib():
    return fmtlib.load()


def write_all_types(path, alignment=None):
    """A GGUF v3 file from gguf.GGUFWriter: every scalar type, arrays of every element type, tensors of every
    supported type with 1..4 dimensions."""
    rng = np.random.default_rng(5)
    w = gguf.GGUFWriter(str(path), arch="llama")
    if alignment:
        w.add_custom_alignment(alignment)
    w.add_uint8("t.u8", 255)
    w.add_int8("t.i8", -128)
    w.add_uint16("t.u16", 65535)
    w.add_int16("t.i16", -32768)
    w.add_uint32("t.u32", 4294967295)
    w.add_int32("t.i32", -2147483648)
    w.add_uint64("t.u64", 2 ** 64 - 1)
    w.add_uint64("t.u64small", 12345)
    w.add_int64("t.i64", -2 ** 63)
    w.add_float32("t.f32", -1.5e-7)
    w.add_float64("t.f64", 3.141592653589793)
    w.add_bool("t.true", True)
    w.add_bool("t.false", False)
    w.add_string("t.str", "h\u00e9llo \u4e16\u754c \U0001F600 tab\t nul\0 end")
    w.add_string("t.empty_str", "")
    w.add_string("t.long_str", "x" * 100000)
    for vt in [V.UINT8, V.INT8, V.UINT16, V.INT16, V.UINT32, V.INT32, V.UINT64, V.INT64]:
        info = np.iinfo(NP_OF[vt])
        vals = [int(v) for v in rng.integers(info.min, info.max, size=37, dtype=NP_OF[vt], endpoint=True)]
        w.add_key_value(f"a.{vt.name.lower()}", vals, V.ARRAY, sub_type=vt)
    w.add_key_value("a.float32", [float(v) for v in rng.standard_normal(41).astype(np.float32)], V.ARRAY,
                    sub_type=V.FLOAT32)
    w.add_key_value("a.float64", [float(v) for v in rng.standard_normal(13)], V.ARRAY, sub_type=V.FLOAT64)
    w.add_key_value("a.bool", [True, False, True, True], V.ARRAY, sub_type=V.BOOL)
    w.add_array("a.string", ["", "a", "\u00e9\u00e8", "\U0001F600" * 3, "line\nbreak", "x" * 1000] +
                [f"tok{i}" for i in range(2000)])

    w.add_tensor("f32.1d", rng.standard_normal(7).astype(np.float32))
    w.add_tensor("f32.4d", rng.standard_normal((2, 3, 4, 5)).astype(np.float32))
    w.add_tensor("f16.3d", rng.standard_normal((3, 2, 8)).astype(np.float16))
    for qt in [Q.BF16, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0, Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K]:
        bs, ts = gguf.GGML_QUANT_SIZES[qt]
        rows, blocks = (3, 2) if bs > 1 else (5, 64)
        raw = rng.integers(0, 256, size=(rows, blocks * ts), dtype=np.uint8)
        w.add_tensor(f"{qt.name.lower()}.2d", raw, raw_dtype=qt)
    w.add_tensor("q8_0.3d", rng.integers(0, 256, size=(2, 3, 2 * 34), dtype=np.uint8), raw_dtype=Q.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def c_value(lib, g, k, vt):
    f = ctypes.byref(g.f)
    if vt in GETTERS:
        name, ct = GETTERS[vt]
        out = ct()
        assert getattr(lib, "gguf_get_" + name)(f, k, ctypes.byref(out)) == 0
        return out.value
    if vt == V.BOOL:
        out = ctypes.c_int()
        assert lib.gguf_get_bool(f, k, ctypes.byref(out)) == 0
        return bool(out.value)
    if vt == V.STRING:
        p, n = ctypes.c_void_p(), ctypes.c_uint64()
        assert lib.gguf_get_str(f, k, ctypes.byref(p), ctypes.byref(n)) == 0
        return ctypes.string_at(p, n.value) if n.value else b""
    raise AssertionError(vt)


def compare_with_reader(lib, data, path):
    """Opens data with the C reader and checks it against gguf.GGUFReader(path) field by field."""
    r = gguf.GGUFReader(str(path))
    with fmtlib.OpenGguf(lib, data) as g:
        assert g.rc == 0, g.err
        f = ctypes.byref(g.f)
        fields = {k: v for k, v in r.fields.items() if not k.startswith("GGUF.")}
        assert g.f.n_kv == len(fields)
        assert g.f.version == int(r.fields["GGUF.version"].parts[0][0])
        for key, fld in fields.items():
            k = lib.gguf_find_key(f, key.encode())
            assert k >= 0, key
            assert lib.gguf_get_key(f, k) == key.encode()
            vt = fld.types[0]
            assert lib.gguf_get_kv_type(f, k) == int(vt), key
            if vt == V.ARRAY:
                et, n, p = ctypes.c_uint32(), ctypes.c_uint64(), ctypes.c_void_p()
                assert lib.gguf_get_arr(f, k, ctypes.byref(et), ctypes.byref(n), ctypes.byref(p)) == 0
                if len(fld.types) == 1:   # gguf-py records no element type for an empty array
                    assert n.value == 0 and len(fld.data) == 0, key
                    et_want = struct.unpack_from("<I", data, fld.offset + 8 + len(key.encode()) + 4)[0]
                    assert et.value == et_want, key
                    continue
                assert et.value == int(fld.types[-1]) and n.value == len(fld.data), key
                if fld.types[-1] == V.STRING:
                    # every element through gguf_get_arr_str (one C call for the whole array)
                    want = [fld.parts[di].tobytes() for di in fld.data]
                    lens = np.zeros(len(want), dtype=np.uint64)
                    total = sum(len(w) for w in want)
                    buf = ctypes.create_string_buffer(total + 1)
                    assert lib.fmt_arr_str_dump(f, k, lens.ctypes.data, buf, total) == total, key
                    assert lens.tolist() == [len(w) for w in want], key
                    assert buf.raw[:total] == b"".join(want), key
                    sp, sn = ctypes.c_void_p(), ctypes.c_uint64()
                    assert lib.gguf_get_arr_str(f, k, n.value, ctypes.byref(sp), ctypes.byref(sn)) == E_NOT_FOUND
                else:
                    want = b"".join(fld.parts[di].tobytes() for di in fld.data)
                    assert (ctypes.string_at(p, len(want)) if want else b"") == want, key
                    for i in sorted({0, len(fld.data) // 2, len(fld.data) - 1}) if fld.data else []:
                        wv = fld.parts[fld.data[i]][0]
                        if fld.types[-1] in INTEGER:
                            out = ctypes.c_int64()
                            rc = lib.gguf_get_arr_int(f, k, i, ctypes.byref(out))
                            if fld.types[-1] == V.UINT64 and int(wv) >= 2 ** 63:
                                assert rc == E_TYPE
                            else:
                                assert rc == 0 and out.value == int(wv), (key, i)
                        if fld.types[-1] == V.FLOAT32:
                            out = ctypes.c_float()
                            assert lib.gguf_get_arr_f32(f, k, i, ctypes.byref(out)) == 0
                            assert np.float32(out.value).tobytes() == wv.tobytes()
                        if fld.types[-1] == V.INT32:
                            out = ctypes.c_int32()
                            assert lib.gguf_get_arr_i32(f, k, i, ctypes.byref(out)) == 0 and out.value == int(wv)
            else:
                got = c_value(lib, g, k, vt)
                want = fld.parts[fld.data[0]]
                if vt == V.STRING:
                    assert got == want.tobytes(), key
                elif vt in (V.FLOAT32, V.FLOAT64):
                    assert np.array([got], dtype=want.dtype).tobytes() == want.tobytes(), key
                elif vt == V.BOOL:
                    assert got == bool(want[0]), key
                else:
                    assert got == int(want[0]), key
        assert g.f.n_tensors == len(r.tensors)
        align = r.alignment
        assert g.f.alignment == align
        for t in r.tensors:
            ct = lib.gguf_find_tensor(f, t.name.encode())
            assert ct, t.name
            ct = ct.contents
            assert ct.name == t.name.encode() and ct.name_len == len(t.name.encode())
            assert ct.n_dims == len(t.shape)
            assert list(ct.ne) == [int(x) for x in t.shape] + [1] * (4 - len(t.shape)), t.name
            assert ct.type == int(t.tensor_type)
            assert g.f.data_offset + ct.offset == t.data_offset, t.name
            assert ct.size == t.n_bytes and ct.n_elements == t.n_elements
            assert ct.data == ctypes.addressof(g.buf) + t.data_offset
            assert (g.f.data_offset + ct.offset) % align == 0
            assert ctypes.string_at(ct.data, ct.size) == data[t.data_offset:t.data_offset + t.n_bytes]
        assert not lib.gguf_find_tensor(f, b"no.such.tensor")
        assert lib.gguf_find_key(f, b"no.such.key") == -1
        return g.f.n_kv, g.f.n_tensors


@pytest.mark.parametrize("alignment", [None, 64, 1, 4096])
def test_writer_file_matches_reader(lib, tmp_path, alignment):
    p = write_all_types(tmp_path / "all.gguf", alignment)
    n_kv, n_t = compare_with_reader(lib, p.read_bytes(), p)
    assert n_kv >= 28 and n_t == 15


def test_version_2_reads_the_same(lib, tmp_path):
    data = bytearray(write_all_types(tmp_path / "all.gguf").read_bytes())
    assert struct.unpack_from("<I", data, 4)[0] == 3
    struct.pack_into("<I", data, 4, 2)   # v2 and v3 share the little-endian layout (v3 added big-endian)
    p2 = tmp_path / "v2.gguf"
    p2.write_bytes(bytes(data))
    compare_with_reader(lib, bytes(data), p2)


def test_empty_arrays_and_no_tensors(lib, tmp_path):
    """Empty arrays of every element type (GGUFWriter refuses them, so written by hand), and a file without
    tensors whose data section is empty (llama.cpp's vocab-only files)."""
    kvs = [("general.architecture", make_bad.STR, "llama")]
    kvs += [(f"e.{t}", make_bad.ARR, (t, [])) for t in range(13) if t != make_bad.ARR]
    for tensors in ([], make_bad.base_tensors()):
        data = make_bad.build(kvs=kvs, tensors=tensors)
        p = tmp_path / "empty.gguf"
        p.write_bytes(data)
        compare_with_reader(lib, data, p)


def test_typed_getters_refuse_other_types(lib, tmp_path):
    p = write_all_types(tmp_path / "all.gguf")
    with fmtlib.OpenGguf(lib, p.read_bytes()) as g:
        f = ctypes.byref(g.f)
        scalar_keys = {"t.u8": V.UINT8, "t.i8": V.INT8, "t.u16": V.UINT16, "t.i16": V.INT16, "t.u32": V.UINT32,
                       "t.i32": V.INT32, "t.u64": V.UINT64, "t.i64": V.INT64, "t.f32": V.FLOAT32,
                       "t.f64": V.FLOAT64, "t.true": V.BOOL, "t.str": V.STRING, "a.int32": V.ARRAY}
        for key, vt in scalar_keys.items():
            k = lib.gguf_find_key(f, key.encode())
            for gt, (name, ct) in GETTERS.items():
                out = ct()
                rc = getattr(lib, "gguf_get_" + name)(f, k, ctypes.byref(out))
                assert rc == (0 if gt == vt else E_TYPE), (key, name)
                assert getattr(lib, "gguf_get_" + name)(f, g.f.n_kv, ctypes.byref(out)) == E_NOT_FOUND
                assert getattr(lib, "gguf_get_" + name)(f, -1, ctypes.byref(out)) == E_NOT_FOUND
            b = ctypes.c_int()
            assert lib.gguf_get_bool(f, k, ctypes.byref(b)) == (0 if vt == V.BOOL else E_TYPE)
            sp, sn = ctypes.c_void_p(), ctypes.c_uint64()
            assert lib.gguf_get_str(f, k, ctypes.byref(sp), ctypes.byref(sn)) == (0 if vt == V.STRING else E_TYPE)
            et, n, dp = ctypes.c_uint32(), ctypes.c_uint64(), ctypes.c_void_p()
            assert lib.gguf_get_arr(f, k, ctypes.byref(et), ctypes.byref(n), ctypes.byref(dp)) == \
                (0 if vt == V.ARRAY else E_TYPE)
            iv = ctypes.c_int64()
            rc = lib.gguf_get_int(f, k, ctypes.byref(iv))
            if vt in INTEGER and key != "t.u64":
                assert rc == 0 and iv.value == c_value(lib, g, k, vt), key
            else:
                assert rc == E_TYPE, key      # floats, bools, strings, arrays, and a u64 above INT64_MAX
        k = lib.gguf_find_key(f, b"t.u64small")
        iv = ctypes.c_int64()
        assert lib.gguf_get_int(f, k, ctypes.byref(iv)) == 0 and iv.value == 12345
        # string accessor on a numeric array, f32 accessor on an int array, i32 accessor on a string array
        k = lib.gguf_find_key(f, b"a.int32")
        sp, sn = ctypes.c_void_p(), ctypes.c_uint64()
        assert lib.gguf_get_arr_str(f, k, 0, ctypes.byref(sp), ctypes.byref(sn)) == E_TYPE
        fv = ctypes.c_float()
        assert lib.gguf_get_arr_f32(f, k, 0, ctypes.byref(fv)) == E_TYPE
        k = lib.gguf_find_key(f, b"a.string")
        i32 = ctypes.c_int32()
        assert lib.gguf_get_arr_i32(f, k, 0, ctypes.byref(i32)) == E_TYPE
        assert lib.gguf_get_arr_int(f, k, 0, ctypes.byref(iv)) == E_TYPE
        k = lib.gguf_find_key(f, b"a.float32")
        assert lib.gguf_get_arr_int(f, k, 0, ctypes.byref(iv)) == E_TYPE
        assert lib.gguf_get_tensor(f, g.f.n_tensors).__bool__() is False
        assert lib.gguf_get_tensor(f, -1).__bool__() is False


def walk_kvs(data):
    """A plain struct walk of a GGUF's keys (for files too big for gguf.GGUFReader in a quick test):
    {key: (type, value)}; arrays as (element type, list)."""
    scal = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "B", 10: "Q", 11: "q", 12: "d"}
    pos = 24
    n_kv = struct.unpack_from("<Q", data, 16)[0]

    def one(t):
        nonlocal pos
        if t == 8:
            n = struct.unpack_from("<Q", data, pos)[0]
            pos += 8 + n
            return data[pos - n:pos]
        v = struct.unpack_from("<" + scal[t], data, pos)[0]
        pos += struct.calcsize(scal[t])
        return v
    out = {}
    for _ in range(n_kv):
        key = one(8).decode()
        t = struct.unpack_from("<I", data, pos)[0]
        pos += 4
        if t == 9:
            et, n = struct.unpack_from("<IQ", data, pos)
            pos += 12
            out[key] = (t, (et, [one(et) for _ in range(n)]))
        else:
            out[key] = (t, one(t))
    return out


def vocab_files():
    import fetch
    return sorted(pathlib.Path(fetch.vocab_dir()).glob("ggml-vocab-*.gguf"))


def test_llama_cpp_vocab_files(lib):
    """llama.cpp's own vocab-only GGUFs (written by its converter; no tensors). The small ones field by field
    against gguf.GGUFReader; every one (up to 262k-token vocabularies, one of them v2) against a plain struct walk."""
    files = vocab_files()
    assert len(files) >= 10
    small = [p for p in files if p.name in ("ggml-vocab-bert-bge.gguf", "ggml-vocab-llama-spm.gguf")]
    assert len(small) == 2   # gguf.GGUFReader takes ~5 s per vocabulary here: two of them
    assert any(struct.unpack_from("<I", p.open("rb").read(8), 4)[0] == 2 for p in files)   # aquila is a real v2 file
    for p in small:
        compare_with_reader(lib, p.read_bytes(), p)
    for p in files:
        data = p.read_bytes()
        want = walk_kvs(data)
        with fmtlib.OpenGguf(lib, data) as g:
            assert g.rc == 0, (p.name, g.err)
            f = ctypes.byref(g.f)
            assert g.f.n_kv == len(want) and g.f.n_tensors == 0
            for key, (t, v) in want.items():
                k = lib.gguf_find_key(f, key.encode())
                assert k >= 0 and lib.gguf_get_kv_type(f, k) == t, (p.name, key)
                if t == 9 and v[0] == 8:
                    total = sum(len(x) for x in v[1])
                    lens = np.zeros(len(v[1]), dtype=np.uint64)
                    buf = ctypes.create_string_buffer(total + 1)
                    assert lib.fmt_arr_str_dump(f, k, lens.ctypes.data, buf, total) == total
                    assert lens.tolist() == [len(x) for x in v[1]] and buf.raw[:total] == b"".join(v[1])
                elif t == 9:
                    et, n, dp = ctypes.c_uint32(), ctypes.c_uint64(), ctypes.c_void_p()
                    assert lib.gguf_get_arr(f, k, ctypes.byref(et), ctypes.byref(n), ctypes.byref(dp)) == 0
                    assert (et.value, n.value) == (v[0], len(v[1]))
                elif t == 8:
                    assert c_value(lib, g, k, V.STRING) == v


def test_smollm2(lib):
    """The real model: 36 keys (two arrays of ~49k strings), 272 tensors (Q4_1, Q8_0, F32)."""
    import fetch
    p = pathlib.Path(fetch.smollm2_path())
    n_kv, n_t = compare_with_reader(lib, p.read_bytes(), p)
    assert (n_kv, n_t) == (33, 272)
