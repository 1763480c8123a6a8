#!/usr/bin/env python3
"""Generate the damaged-GGUF corpus for the C reader (kernel/llm/gguf.c): one file per kind of damage, each
written byte by byte from the GGUF specification with exactly one thing broken, and MANIFEST listing for each
file the error gguf_open must return (gguf_strerror name) and a fragment its message must contain (the field or
tensor it names). tests/test_llm_gguf_bad.py globs the *.gguf files; tests/fuzz uses them as seeds.

    python tests/bad_gguf_c/make_bad.py        # rewrites every *.gguf and MANIFEST here

valid() is the undamaged baseline (accepted by the C reader and by gguf.GGUFReader)."""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
SCALAR_FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<B",
              U64: "<Q", I64: "<q", F64: "<d"}
G_F32, G_F16, G_Q4_0, G_Q8_0, G_Q8_K = 0, 1, 2, 8, 15
TYPE_SIZE = {G_F32: (1, 4), G_F16: (1, 2), G_Q4_0: (32, 18), G_Q8_0: (32, 34)}


def gstr(text):
    b = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(b)) + b


def value(vtype, v):
    if vtype == STR:
        return gstr(v)
    if vtype == ARR:
        etype, items = v
        return struct.pack("<IQ", etype, len(items)) + b"".join(value(etype, x) for x in items)
    return struct.pack(SCALAR_FMT[vtype], v)


def kv(key, vtype, v):
    return gstr(key) + struct.pack("<I", vtype) + value(vtype, v)


def tensor_info(name, dims, gtype, offset):
    return gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims) + \
        struct.pack("<IQ", gtype, offset)


def nbytes(dims, gtype):
    """Bytes of a tensor; 0 for shapes/types the damaged files make up."""
    if not dims or gtype not in TYPE_SIZE:
        return 0
    bs, ts = TYPE_SIZE[gtype]
    n = dims[0] // bs * ts
    for d in dims[1:]:
        n *= d
    return n


def base_kvs():
    return [
        ("general.architecture", STR, "llama"),
        ("general.name", STR, "bad-gguf-c"),
        ("test.u8", U8, 200), ("test.i8", I8, -5), ("test.u16", U16, 60000), ("test.i16", I16, -300),
        ("test.u32", U32, 4000000000), ("test.i32", I32, -7), ("test.f32", F32, 0.5), ("test.bool", BOOL, 1),
        ("test.u64", U64, 1 << 40), ("test.i64", I64, -(1 << 40)), ("test.f64", F64, 0.25),
        ("tokenizer.ggml.tokens", ARR, (STR, ["a", "b", "<s>"])),
        ("tokenizer.ggml.scores", ARR, (F32, [0.0, -1.0, -2.0])),
    ]


def base_tensors():
    """(name, dims, type); offsets are assigned in order, aligned."""
    return [("token_embd.weight", [32, 3], G_Q8_0), ("output_norm.weight", [32], G_F32),
            ("blk.0.attn_q.weight", [64, 2], G_Q4_0), ("blk.0.ffn_norm.weight", [8], G_F16)]


def build(kvs=None, tensors=None, version=3, align=32, n_kv=None, n_tensors=None, offsets=None,
          magic=b"GGUF", data_cut=0, header_cut=None, raw_kvs=None, raw_tensors=None):
    """A GGUF file; every argument overrides one part of the valid baseline."""
    kvs = base_kvs() if kvs is None else kvs
    tensors = base_tensors() if tensors is None else tensors
    if offsets is None:
        offsets, off = [], 0
        for _, dims, gt in tensors:
            offsets.append(off)
            off += -(-nbytes(dims, gt) // align) * align
    kv_bytes = raw_kvs if raw_kvs is not None else b"".join(kv(*x) for x in kvs)
    ti_bytes = raw_tensors if raw_tensors is not None else \
        b"".join(tensor_info(n, d, t, o) for (n, d, t), o in zip(tensors, offsets))
    head = magic + struct.pack("<IQQ", version, len(tensors) if n_tensors is None else n_tensors,
                               len(kvs) if n_kv is None else n_kv)
    out = head + kv_bytes + ti_bytes
    if header_cut is not None:
        return out[:header_cut]
    out += b"\0" * (-len(out) % align)
    data = bytearray()
    for (_, dims, gt), o in zip(tensors, offsets):
        n = nbytes(dims, gt)
        if n > 1 << 20 or o > 1 << 20:
            continue
        data += b"\0" * max(0, o - len(data))
        data += bytes((i * 7 + 1) & 0x3f for i in range(n))   # small values: finite fp16/f32 patterns
    data += b"\0" * (-len(data) % align)
    out += bytes(data)
    return out[:len(out) - data_cut] if data_cut else out


def kvs_only(raw, n_kv):
    """A file that ends right after the raw key/value bytes (no tensors)."""
    return build(kvs=[None] * n_kv, tensors=[], raw_kvs=raw, header_cut=24 + len(raw))


def valid():
    return build()


def with_kv(extra):
    return build(kvs=base_kvs() + [extra])


def with_tensor(extra):
    return build(tensors=base_tensors() + [extra])


def corpus():
    """name -> (bytes, expected error, fragment of the message)"""
    ok = valid()
    header_len = len(build(header_cut=10 ** 9))
    kvs_len = len(b"".join(kv(*x) for x in base_kvs()))
    c = {
        "empty": (b"", "truncated", "too short for the magic"),
        "short_magic": (b"GG", "truncated", "too short for the magic"),
        "bad_magic": (b"GGUX" + ok[4:], "magic", "not \"GGUF\""),
        "ggml_magic": (b"lmgg" + ok[4:], "magic", "not \"GGUF\""),
        "short_header": (ok[:20], "truncated", "24-byte header"),
        "version_1": (build(version=1), "version", "version 1"),
        "version_4": (build(version=4), "version", "version 4"),
        "big_endian": (ok[:4] + struct.pack(">I", 3) + ok[8:], "version", "big-endian"),
        "kv_count_huge": (build(n_kv=1 << 62), "count", "key count"),
        "kv_count_past_end": (kvs_only(b"".join(kv(*x) for x in base_kvs()), len(base_kvs()) + 1), "truncated",
                              "key #15: length runs past the end"),
        "tensor_count_huge": (build(n_tensors=1 << 61), "count", "tensor count"),
        "tensor_count_past_end": (build(n_tensors=len(base_tensors()) + 1, header_cut=header_len), "truncated",
                                  "tensor #4"),
        "key_len_past_end": (build(raw_kvs=struct.pack("<Q", 1 << 40) + b"general.x"), "truncated", "key #0"),
        "key_empty": (with_kv(("", U32, 1)), "empty_name", "empty key"),
        "key_with_nul": (with_kv(("general.name\0x", STR, "shadow")), "name", "key #15 ('general.name?x')"),
        "tensor_name_with_nul": (with_tensor(("output_norm.weight\0", [32], G_F32)), "name",
                                 "tensor #4 ('output_norm.weight?')"),
        "key_unknown_type": (build(raw_kvs=b"".join(kv(*x) for x in base_kvs()[:-1]) + gstr("bad.type") +
                                   struct.pack("<II", 13, 0) + b"\0" * 64),
                             "value_type", "'bad.type': unknown value type 13"),
        "key_type_past_end": (kvs_only(gstr("general.architecture") + b"\x08\0", 1), "truncated",
                              "'general.architecture': value type runs past"),
        "scalar_past_end": (kvs_only(gstr("x.u64") + struct.pack("<I", U64) + b"\1\2\3", 1), "truncated",
                            "'x.u64': value runs past"),
        "string_len_past_end": (build(raw_kvs=b"".join(kv(*x) for x in base_kvs()[:1]) + gstr("general.name") +
                                      struct.pack("<IQ", STR, 1 << 50) + b"abc"),
                                "truncated", "string value of key #1"),
        "bool_value_2": (with_kv(("test.bool2", BOOL, 2)), "bool", "'test.bool2'"),
        "bool_array_value_7": (with_kv(("test.bools", ARR, (BOOL, [0, 1, 7]))), "bool", "element 2"),
        "array_nested": (with_kv(("test.nested", ARR, (ARR, []))), "nested", "'test.nested'"),
        "array_unknown_type": (build(raw_kvs=b"".join(kv(*x) for x in base_kvs()[:-1]) + gstr("test.arr") +
                                     struct.pack("<IIQ", ARR, 77, 1) + b"\0" * 64),
                               "value_type", "'test.arr': unknown array element type 77"),
        "array_count_huge": (build(raw_kvs=b"".join(kv(*x) for x in base_kvs()[:-1]) + gstr("test.arr") +
                                   struct.pack("<IIQ", ARR, U32, 1 << 60) + b"\0" * 64),
                             "count", "'test.arr'"),
        "array_count_bytes_overflow": (build(raw_kvs=b"".join(kv(*x) for x in base_kvs()[:-1]) + gstr("test.arr") +
                                             struct.pack("<IIQ", ARR, U64, (1 << 61) + 1) + b"\0" * 64),
                                       "count", "'test.arr'"),
        "string_array_count_huge": (build(raw_kvs=b"".join(kv(*x) for x in base_kvs()[:-1]) + gstr("test.strs") +
                                          struct.pack("<IIQ", ARR, STR, 1 << 59) + gstr("a") * 4),
                                    "count", "'test.strs'"),
        "string_array_elem_past_end": (build(raw_kvs=b"".join(kv(*x) for x in base_kvs()[:-1]) +
                                             gstr("test.strs") + struct.pack("<IIQ", ARR, STR, 3) + gstr("a") +
                                             struct.pack("<Q", 1 << 33) + b"xyz"),
                                       "truncated", "string 1 of 3"),
        "dup_key": (with_kv(("general.name", STR, "again")), "dup_key", "'general.name'"),
        "alignment_not_pow2": (with_kv(("general.alignment", U32, 48)), "alignment", "48 is not a power of two"),
        "alignment_zero": (with_kv(("general.alignment", U32, 0)), "alignment", "0 is not a power of two"),
        "alignment_wrong_type": (with_kv(("general.alignment", U64, 32)), "alignment", "expected uint32"),
        "tensor_name_empty": (with_tensor(("", [32], G_F32)), "empty_name", "tensor #4"),
        "tensor_name_past_end": (build(raw_tensors=struct.pack("<Q", 1 << 40) + b"tok", n_tensors=1,
                                       tensors=base_tensors()[:1]), "truncated", "tensor #0"),
        "tensor_ndims_0": (with_tensor(("zero.weight", [], G_F32)), "dims", "'zero.weight': n_dims 0"),
        "tensor_ndims_5": (with_tensor(("five.weight", [32, 1, 1, 1, 1], G_F32)), "dims", "n_dims 5"),
        "tensor_dim_negative": (with_tensor(("neg.weight", [32, (1 << 64) - 2], G_F32)), "dims", "negative"),
        "tensor_elements_overflow": (with_tensor(("big.weight", [1 << 32, 1 << 32, 1 << 32], G_F32)), "overflow",
                                     "'big.weight'"),
        "tensor_bytes_overflow": (with_tensor(("big.weight", [1 << 62], G_F32)), "overflow", "'big.weight'"),
        "tensor_type_unknown": (with_tensor(("odd.weight", [32], 4)), "tensor_type", "type 4"),
        "tensor_type_99": (with_tensor(("odd.weight", [32], 99)), "tensor_type", "type 99"),
        "tensor_type_q8_K": (with_tensor(("act.weight", [256], G_Q8_K)), "tensor_type", "'act.weight': type 15"),
        "tensor_row_not_block_multiple": (with_tensor(("q.weight", [33, 2], G_Q4_0)), "block",
                                          "row length 33 is not a multiple of the q4_0 block size 32"),
        "tensor_offset_unaligned": (build(offsets=[0, 128, 256, 352 + 4]), "offset",
                                    "'blk.0.ffn_norm.weight': offset 356"),
        "tensor_offset_huge": (build(offsets=[0, 128, 256, 1 << 63]), "bounds", "'blk.0.ffn_norm.weight'"),
        "tensor_data_past_end": (build(data_cut=32), "bounds", "'blk.0.ffn_norm.weight'"),
        "tensor_overlap": (build(offsets=[0, 128, 128, 352]), "overlap", "'blk.0.attn_q.weight': data overlaps "
                           "tensor 'output_norm.weight'"),
        "dup_tensor": (with_tensor(("output_norm.weight", [32], G_F32)), "dup_tensor", "'output_norm.weight'"),
        "tensor_info_cut": (build(header_cut=header_len - 5), "truncated", "'blk.0.ffn_norm.weight'"),
        "data_section_missing": (build(header_cut=header_len), "truncated", "data section"),
        "kvs_cut_in_array": (ok[:24 + kvs_len - 3], "count", "'tokenizer.ggml.scores': 3 elements"),
        "kvs_cut_in_key": (ok[:24 + kvs_len - len(kv(*base_kvs()[-1])) + 12], "truncated", "key #14: length 21"),
    }
    return c


def main():
    for f in os.listdir(HERE):
        if f.endswith(".gguf"):
            os.remove(os.path.join(HERE, f))
    lines = []
    for name, (data, code, frag) in sorted(corpus().items()):
        with open(os.path.join(HERE, name + ".gguf"), "wb") as fh:
            fh.write(data)
        lines.append(f"{name}.gguf\t{code}\t{frag}")
    with open(os.path.join(HERE, "MANIFEST"), "w") as fh:
        fh.write("# file\texpected gguf_strerror name\tfragment of the message (generated by make_bad.py)\n")
        fh.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
