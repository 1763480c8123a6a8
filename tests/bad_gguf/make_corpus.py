#!/usr/bin/env python3
"""Generate the damaged-GGUF corpus in this folder: one small file per kind of damage, each built from the same
tiny valid llama model (F32, n_embd 4) written byte by byte here from the GGUF spec, with exactly one thing
broken. tests/test_build_bad_gguf.py globs the *.gguf files and expects each to be rejected with its own message.

    python tests/bad_gguf/make_corpus.py        # rewrites every *.gguf here

build_valid() is the undamaged baseline (the test checks that it is accepted, by us and by gguf.GGUFReader)."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ALIGN = 32
T_U32, T_I32, T_F32, T_STRING, T_ARRAY, T_U64 = 4, 5, 6, 8, 9, 10
GGML_F32, GGML_IQ2_XS = 0, 17

N_EMBD, N_FF, N_VOCAB = 4, 8, 6


def s(text):
    b = text.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value):
    head = s(key) + struct.pack("<I", vtype)
    if vtype == T_STRING:
        return head + s(value)
    if vtype == T_U32:
        return head + struct.pack("<I", value)
    if vtype == T_F32:
        return head + struct.pack("<f", value)
    if vtype == T_ARRAY:  # array of strings
        return head + struct.pack("<IQ", T_STRING, len(value)) + b"".join(s(v) for v in value)
    raise ValueError(vtype)


def base_metadata():
    return [
        ("general.architecture", T_STRING, "llama"),
        ("general.name", T_STRING, "corpus-tiny"),
        ("llama.block_count", T_U32, 1),
        ("llama.context_length", T_U32, 64),
        ("llama.embedding_length", T_U32, N_EMBD),
        ("llama.feed_forward_length", T_U32, N_FF),
        ("llama.attention.head_count", T_U32, 2),
        ("llama.attention.head_count_kv", T_U32, 1),
        ("llama.attention.layer_norm_rms_epsilon", T_F32, 1e-5),
        ("tokenizer.ggml.model", T_STRING, "gpt2"),
        ("tokenizer.ggml.tokens", T_ARRAY, ["a", "b", "c", "d", "e", "f"]),
    ]


def base_tensors():
    """(name, dims in GGUF order, ggml type)"""
    t = [("token_embd.weight", [N_EMBD, N_VOCAB]), ("output_norm.weight", [N_EMBD]),
         ("blk.0.attn_norm.weight", [N_EMBD]), ("blk.0.attn_q.weight", [N_EMBD, N_EMBD]),
         ("blk.0.attn_k.weight", [N_EMBD, N_EMBD // 2]), ("blk.0.attn_v.weight", [N_EMBD, N_EMBD // 2]),
         ("blk.0.attn_output.weight", [N_EMBD, N_EMBD]), ("blk.0.ffn_norm.weight", [N_EMBD]),
         ("blk.0.ffn_gate.weight", [N_EMBD, N_FF]), ("blk.0.ffn_up.weight", [N_EMBD, N_FF]),
         ("blk.0.ffn_down.weight", [N_FF, N_EMBD])]
    return [(n, d, GGML_F32) for n, d in t]


def pad(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


def build(metadata=None, tensors=None, version=3, n_tensors=None, n_kv=None, offsets=None, magic=b"GGUF",
          raw_kv=None):
    """A GGUF file as bytes; every argument can be overridden to damage one thing."""
    metadata = base_metadata() if metadata is None else metadata
    tensors = base_tensors() if tensors is None else tensors
    kvs = raw_kv if raw_kv is not None else b"".join(kv(*m) for m in metadata)
    sizes = []
    for _, dims, _ in tensors:
        n = 4
        for d in dims:
            n *= d
        sizes.append(n)
    if offsets is None:
        offsets, off = [], 0
        for n in sizes:
            offsets.append(off)
            off = pad(off + n)
    infos = b""
    for (name, dims, gtype), off in zip(tensors, offsets):
        infos += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        infos += struct.pack("<IQ", gtype, off)
    head = magic + struct.pack("<IQQ", version, len(tensors) if n_tensors is None else n_tensors,
                               len(metadata) if n_kv is None else n_kv) + kvs + infos
    data_start = pad(len(head))
    out = bytearray(head + b"\0" * (data_start - len(head)))
    # data for the tensors that fit in a small file (the damaged ones may point far away on purpose)
    end = max((o + n for o, n in zip(offsets, sizes) if o + n <= 1 << 16), default=0)
    data = bytearray(pad(end))
    for i, ((_, _, _), o, n) in enumerate(zip(tensors, offsets, sizes)):
        if o + n <= len(data):
            data[o:o + n] = struct.pack("<f", 0.01 * (i + 1)) * (n // 4)
    return bytes(out + data)


def build_valid():
    return build()


def _meta_without(key):
    return [m for m in base_metadata() if m[0] != key]


def corpus():
    """file name -> bytes"""
    valid = build_valid()
    tens = base_tensors()
    c = {}
    c["empty.gguf"] = b""
    c["truncated_header.gguf"] = valid[:12]
    c["bad_magic.gguf"] = build(magic=b"GGML")
    c["bad_version.gguf"] = build(version=99)
    c["huge_tensor_count.gguf"] = build(n_tensors=1 << 60)
    c["huge_kv_count.gguf"] = build(n_kv=1 << 60)
    c["string_past_end.gguf"] = build(raw_kv=struct.pack("<Q", 1 << 40) + b"general.architecture")
    c["unknown_value_type.gguf"] = build(raw_kv=s("general.architecture") + struct.pack("<I", 99) + s("llama"),
                                         metadata=[("x", 0, 0)])
    c["unknown_tensor_type.gguf"] = build(tensors=[(n, d, 1234 if n == "blk.0.attn_q.weight" else t)
                                                   for n, d, t in tens])
    c["unsupported_tensor_type.gguf"] = build(tensors=[(n, d, GGML_IQ2_XS if n == "output_norm.weight" else t)
                                                       for n, d, t in tens])
    n = len(tens)
    c["tensor_out_of_bounds.gguf"] = build(offsets=[i * 128 for i in range(n - 1)] + [1 << 20])
    c["misaligned_offset.gguf"] = build(offsets=[i * 128 for i in range(n - 1)] + [(n - 1) * 128 + 4])
    c["overlapping_tensors.gguf"] = build(offsets=[i * 128 for i in range(n - 1)] + [(n - 2) * 128])
    c["duplicate_tensor_name.gguf"] = build(tensors=tens[:-1] + [(tens[1][0], tens[1][1], GGML_F32)])
    c["dims_overflow.gguf"] = build(tensors=tens[:-1] + [(tens[-1][0], [1 << 40, 1 << 40], GGML_F32)],
                                    offsets=[i * 128 for i in range(n)])
    c["too_many_dims.gguf"] = build(tensors=tens[:-1] + [(tens[-1][0], [1, 1, 1, 1, 8, 4], GGML_F32)])
    c["non_llama_arch.gguf"] = build(metadata=[(k, t, "gpt2" if k == "general.architecture" else v)
                                               for k, t, v in base_metadata()])
    c["missing_architecture.gguf"] = build(metadata=_meta_without("general.architecture"))
    c["missing_block_count.gguf"] = build(metadata=_meta_without("llama.block_count"))
    c["missing_tensor.gguf"] = build(tensors=[t for t in tens if t[0] != "blk.0.ffn_up.weight"])
    c["truncated_data.gguf"] = valid[:len(valid) - 100]
    c["duplicate_metadata_key.gguf"] = build(metadata=base_metadata() + [("general.name", T_STRING, "again")])
    c["bad_alignment.gguf"] = build(metadata=base_metadata() + [("general.alignment", T_U32, 3)])
    c["string_not_utf8.gguf"] = build(raw_kv=s("general.architecture") + struct.pack("<I", T_STRING)
                                      + struct.pack("<Q", 2) + b"\xff\xfe", metadata=[("x", 0, 0)])
    return c


def main():
    for old in os.listdir(HERE):
        if old.endswith(".gguf"):
            os.unlink(os.path.join(HERE, old))
    for name, data in corpus().items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(corpus())} files to {HERE}")


if __name__ == "__main__":
    main()
