"""GGUF model checks and the memory plan.

check_model() walks the GGUF header with one bounds-checked cursor (64-bit sizes; every length is checked against
what is left of the file before it is used), so a damaged file is rejected with one line naming the field or tensor;
then gguf.GGUFReader (the reference reader) must accept it too. plan_memory() says how guest RAM will be used.
The kernel's own reader is kernel/llm/gguf.c; inspect.py prints what this module reads."""
import hashlib
import mmap
import os
import struct
from dataclasses import dataclass, field

import gguf
from gguf import GGMLQuantizationType as QT

from .errors import CllmError

SUPPORTED_VERSIONS = (2, 3)
SUPPORTED_TYPES = [QT.F32, QT.F16, QT.BF16, QT.Q8_0, QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1,
                   QT.Q2_K, QT.Q3_K, QT.Q4_K, QT.Q5_K, QT.Q6_K]
MAX_DIMS = 4

# GGUF value types (gguf spec): id -> (name, struct format or None for string/array)
_VT = gguf.GGUFValueType
_SCALAR = {_VT.UINT8: "<B", _VT.INT8: "<b", _VT.UINT16: "<H", _VT.INT16: "<h", _VT.UINT32: "<I",
           _VT.INT32: "<i", _VT.FLOAT32: "<f", _VT.BOOL: "<?", _VT.UINT64: "<Q", _VT.INT64: "<q",
           _VT.FLOAT64: "<d"}
_MIN_KV = 8 + 4 + 1          # smallest metadata entry: empty key, type, one byte of value
_MIN_TENSOR_INFO = 8 + 4 + 4 + 8  # empty name, n_dims 0, type, offset

REQUIRED_KEYS = ["llama.block_count", "llama.embedding_length", "llama.feed_forward_length",
                 "llama.attention.head_count", "llama.context_length"]
LAYER_TENSORS = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up",
                 "ffn_down"]
GLOBAL_TENSORS = ["token_embd", "output_norm"]


@dataclass
class TensorInfo:
    name: str
    type: QT
    shape: tuple          # GGUF order: ne[0] (row length) first
    offset: int           # absolute file offset of the data
    n_bytes: int

    @property
    def n_elements(self):
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass
class ModelInfo:
    path: str
    file_size: int
    version: int
    alignment: int
    data_offset: int
    metadata: dict                         # key -> python value (arrays as lists)
    metadata_types: dict                   # key -> type name ("string", "array[string]", ...)
    tensors: list = field(default_factory=list)
    hparams: dict = field(default_factory=dict)
    sha256: str = ""


class _Bad(Exception):
    pass


class _Cursor:
    def __init__(self, buf, size):
        self.buf, self.size, self.pos = buf, size, 0

    def need(self, n, what):
        if n > self.size - self.pos:
            raise _Bad(f"{what} at offset {self.pos} runs past the end of the file "
                       f"(needs {n} bytes, {self.size - self.pos} left)")

    def unpack(self, fmt, what):
        n = struct.calcsize(fmt)
        self.need(n, what)
        v = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += n
        return v

    def string(self, what):
        n = self.unpack("<Q", what + " length")
        if n > self.size - self.pos:
            raise _Bad(f"{what}: string length {n} at offset {self.pos - 8} runs past the end of the file "
                       f"({self.size - self.pos} bytes left)")
        raw = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Bad(f"{what}: string at offset {self.pos - n} is not valid UTF-8") from None


def _type_name(t):
    try:
        return _VT(t).name.lower()
    except ValueError:
        return str(t)


def _read_string_array(cur, count, what):
    """The hot path (vocabularies hold ~50k strings): same checks as _Cursor.string, inlined."""
    buf, size, pos = cur.buf, cur.size, cur.pos
    out = []
    unpack = struct.Struct("<Q").unpack_from
    for i in range(count):
        if size - pos < 8:
            cur.pos = pos
            cur.need(8, f"{what}[{i}] length")
        n = unpack(buf, pos)[0]
        pos += 8
        if n > size - pos:
            raise _Bad(f"{what}[{i}]: string length {n} at offset {pos - 8} runs past the end of the file "
                       f"({size - pos} bytes left)")
        try:
            out.append(str(buf[pos:pos + n], "utf-8"))
        except UnicodeDecodeError:
            raise _Bad(f"{what}[{i}]: string at offset {pos} is not valid UTF-8") from None
        pos += n
    cur.pos = pos
    return out


def _read_value(cur, vtype, what, depth=0):
    if vtype in _SCALAR:
        return cur.unpack(_SCALAR[vtype], what)
    if vtype == _VT.STRING:
        return cur.string(what)
    if vtype == _VT.ARRAY:
        if depth > 2:
            raise _Bad(f"{what}: arrays nested too deeply")
        itype = cur.unpack("<I", what + " array item type")
        count = cur.unpack("<Q", what + " array length")
        if itype in _SCALAR:
            isz = struct.calcsize(_SCALAR[itype])
            if count > (cur.size - cur.pos) // isz:
                raise _Bad(f"{what}: array of {count} items runs past the end of the file")
            fmt = "<%d%s" % (count, _SCALAR[itype][1])
            vals = list(struct.unpack_from(fmt, cur.buf, cur.pos))
            cur.pos += isz * count
            return vals
        if itype not in (_VT.STRING, _VT.ARRAY):
            raise _Bad(f"{what}: unknown array item type {itype}")
        if count > (cur.size - cur.pos) // 8:
            raise _Bad(f"{what}: array of {count} items runs past the end of the file")
        if itype == _VT.STRING:
            return _read_string_array(cur, count, what)
        return [_read_value(cur, itype, f"{what}[{i}]", depth + 1) for i in range(count)]
    raise _Bad(f"{what}: unknown value type {vtype}")


def _scan(buf, size, path):
    cur = _Cursor(buf, size)
    if size < 24:
        raise _Bad(f"truncated header: {size} bytes, a GGUF header needs at least 24")
    magic = bytes(buf[0:4])
    if magic != b"GGUF":
        raise _Bad(f"bad magic {magic!r} (expected b'GGUF'): not a GGUF file")
    cur.pos = 4
    version = cur.unpack("<I", "version")
    if version not in SUPPORTED_VERSIONS:
        raise _Bad(f"unsupported GGUF version {version} (supported: {', '.join(map(str, SUPPORTED_VERSIONS))})")
    n_tensors = cur.unpack("<Q", "tensor count")
    n_kv = cur.unpack("<Q", "metadata count")
    left = size - cur.pos
    if n_kv > left // _MIN_KV:
        raise _Bad(f"metadata count {n_kv} is larger than the file can hold ({left} bytes left)")
    if n_tensors > left // _MIN_TENSOR_INFO:
        raise _Bad(f"tensor count {n_tensors} is larger than the file can hold ({left} bytes left)")
    meta, mtypes = {}, {}
    for i in range(n_kv):
        key = cur.string(f"metadata key #{i}")
        vtype = cur.unpack("<I", f"metadata '{key}' type")
        if key in meta:
            raise _Bad(f"duplicate metadata key '{key}'")
        start = cur.pos
        val = _read_value(cur, vtype, f"metadata '{key}'")
        meta[key] = val
        mtypes[key] = _type_name(vtype)
        if vtype == _VT.ARRAY:  # "array[string]": the item type is the first field of the value
            mtypes[key] = f"array[{_type_name(struct.unpack_from('<I', buf, start)[0])}]"
    infos = []
    names = set()
    for i in range(n_tensors):
        name = cur.string(f"tensor #{i} name")
        if name in names:
            raise _Bad(f"duplicate tensor name '{name}'")
        names.add(name)
        n_dims = cur.unpack("<I", f"tensor '{name}' dimension count")
        if not 1 <= n_dims <= MAX_DIMS:
            raise _Bad(f"tensor '{name}': {n_dims} dimensions (supported: 1..{MAX_DIMS})")
        shape = tuple(cur.unpack("<Q", f"tensor '{name}' dimension") for _ in range(n_dims))
        n_el = 1
        for d in shape:
            n_el *= d
        if 0 in shape or n_el >= 1 << 62:
            raise _Bad(f"tensor '{name}': dimensions {list(shape)} overflow (or are zero)")
        raw_type = cur.unpack("<I", f"tensor '{name}' type")
        offset = cur.unpack("<Q", f"tensor '{name}' offset")
        try:
            qt = QT(raw_type)
        except ValueError:
            raise _Bad(f"tensor '{name}': unknown tensor type {raw_type}") from None
        if qt not in SUPPORTED_TYPES:
            raise _Bad(f"tensor '{name}': type {qt.name} is not supported "
                       f"(supported: {' '.join(t.name for t in SUPPORTED_TYPES)})")
        block, tsize = gguf.GGML_QUANT_SIZES[qt]
        if shape[0] % block:
            raise _Bad(f"tensor '{name}': row length {shape[0]} is not a multiple of the {qt.name} block size {block}")
        infos.append((name, qt, shape, offset, n_el // block * tsize))
    alignment = meta.get("general.alignment", 32)
    if "general.alignment" in meta:
        if mtypes["general.alignment"] != "uint32" or alignment == 0 or alignment & (alignment - 1):
            raise _Bad(f"general.alignment {alignment!r} is not a power of two (uint32)")
    data_offset = (cur.pos + alignment - 1) // alignment * alignment
    tensors = []
    for name, qt, shape, off, nb in infos:
        if off % alignment:
            raise _Bad(f"tensor '{name}': data offset {off} is not aligned to {alignment}")
        if data_offset + off + nb > size:
            raise _Bad(f"tensor '{name}': data [{data_offset + off}, {data_offset + off + nb}) lies outside the file "
                       f"({size} bytes)")
        tensors.append(TensorInfo(name, qt, shape, data_offset + off, nb))
    by_off = sorted(tensors, key=lambda t: t.offset)
    for a, b in zip(by_off, by_off[1:]):
        if a.offset + a.n_bytes > b.offset:
            raise _Bad(f"tensor '{a.name}' overlaps tensor '{b.name}' in the file")
    return ModelInfo(path, size, version, alignment, data_offset, meta, mtypes, tensors)


def _llama_hparams(info):
    m = info.metadata
    arch = m.get("general.architecture")
    if arch is None:
        raise _Bad("missing required metadata 'general.architecture'")
    if arch != "llama":
        raise _Bad(f"architecture '{arch}' is not supported (supported: llama)")
    for k in REQUIRED_KEYS:
        if k not in m:
            raise _Bad(f"missing required metadata '{k}'")
        if not isinstance(m[k], int) or isinstance(m[k], bool) or m[k] <= 0:
            raise _Bad(f"metadata '{k}': expected a positive integer, got {m[k]!r}")
    n_head = m["llama.attention.head_count"]
    n_head_kv = m.get("llama.attention.head_count_kv", n_head)
    n_embd = m["llama.embedding_length"]
    if not isinstance(n_head_kv, int) or n_head_kv <= 0 or n_head % n_head_kv:
        raise _Bad(f"metadata 'llama.attention.head_count_kv': {n_head_kv!r} does not divide head_count {n_head}")
    head_dim = m.get("llama.attention.key_length", n_embd // n_head if n_embd % n_head == 0 else 0)
    if not isinstance(head_dim, int) or head_dim <= 0:
        raise _Bad(f"metadata 'llama.embedding_length' {n_embd} is not a multiple of head_count {n_head}")
    names = {t.name: t for t in info.tensors}
    tok = names.get("token_embd.weight")
    n_vocab = len(m["tokenizer.ggml.tokens"]) if isinstance(m.get("tokenizer.ggml.tokens"), list) \
        else (tok.shape[1] if tok is not None and len(tok.shape) > 1 else 0)
    n_layer = m["llama.block_count"]
    for g in GLOBAL_TENSORS:
        if g + ".weight" not in names:
            raise _Bad(f"missing tensor '{g}.weight'")
    for i in range(n_layer):
        for t in LAYER_TENSORS:
            if f"blk.{i}.{t}.weight" not in names:
                raise _Bad(f"missing tensor 'blk.{i}.{t}.weight' (block_count is {n_layer})")
    if tok.shape[0] != n_embd:
        raise _Bad(f"tensor 'token_embd.weight': shape {list(tok.shape)} does not match embedding_length {n_embd}")
    return {"n_layer": n_layer, "n_embd": n_embd, "n_ff": m["llama.feed_forward_length"], "n_head": n_head,
            "n_head_kv": n_head_kv, "head_dim": head_dim, "n_ctx_train": m["llama.context_length"],
            "n_vocab": n_vocab}


def _reference_reader_check(path, info):
    """gguf.GGUFReader must read the file the same way (tensor names and offsets)."""
    try:
        r = gguf.GGUFReader(path)
        theirs = {t.name: t.data_offset for t in r.tensors}
    except Exception as e:  # the reader raises anything on garbage: report it in one line
        raise _Bad(f"gguf.GGUFReader rejects the file: {type(e).__name__}: {e}".splitlines()[0]) from None
    ours = {t.name: t.offset for t in info.tensors}
    if theirs != ours:
        raise _Bad("gguf.GGUFReader reads different tensor offsets than the header walk")


def check_model(path, hash_file=True):
    """Read and check the GGUF at path; return ModelInfo or raise CllmError('<path>: <problem>')."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            if size == 0:
                raise _Bad("empty file")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                info = _scan(buf, size, path)
                info.hparams = _llama_hparams(info)
                if hash_file:
                    info.sha256 = hashlib.sha256(buf).hexdigest()
    except _Bad as e:
        raise CllmError(f"{path}: {e}") from None
    except OSError as e:
        raise CllmError(f"{path}: cannot read: {e.strerror}") from None
    except Exception as e:  # a check this walk forgot: still one line, never a traceback
        raise CllmError(f"{path}: malformed GGUF ({type(e).__name__}: {e})".splitlines()[0]) from None
    try:
        _reference_reader_check(path, info)
    except _Bad as e:
        raise CllmError(f"{path}: {e}") from None
    return info


def read_gguf(path):
    """Structural read only (no llama checks), for `cllm inspect` of any GGUF."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            if size == 0:
                raise _Bad("empty file")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _scan(buf, size, path)
    except _Bad as e:
        raise CllmError(f"{path}: {e}") from None
    except OSError as e:
        raise CllmError(f"{path}: cannot read: {e.strerror}") from None
    except Exception as e:
        raise CllmError(f"{path}: malformed GGUF ({type(e).__name__}: {e})".splitlines()[0]) from None


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


MIB = 1 << 20
HEAP_SLACK = 16 * MIB    # allocator overhead, tokenizer tables, network buffers, connection state


def plan_memory(hp, cfg, model_bytes, kernel_bytes):
    """Guest memory use in bytes: weights (the baked GGUF, used in place), KV cache, scratch, kernel image.
    Scratch mirrors the run state of kernel/llm/llama.c (one forward pass of n_batch tokens, shared by the
    slots) and engine.c/sampler.c (per slot: tokens, logits, sampler candidates). Returns a dict; 'fits' says
    whether it all fits in cfg['memory_mb']."""
    bpe = 2 if cfg["kv_type"] == "f16" else 4
    n_kv = hp["n_head_kv"] * hp["head_dim"]
    n_q = hp["n_head"] * hp["head_dim"]
    kv = hp["n_layer"] * cfg["n_ctx"] * n_kv * 2 * bpe * cfg["n_slots"]
    nb = cfg["n_batch"]
    per_token = 4 * (hp["n_embd"] + max(n_q, hp["n_embd"]) + n_q + 2 * n_kv + 2 * hp["n_ff"] + hp["head_dim"] + 2)
    activations = 3 * 4 * nb * max(hp["n_ff"], hp["n_embd"], n_q)  # quantized inputs: 3 areas (LLAMA_QBUF_AREAS)
    scores = 4 * cfg["n_ctx"] * (hp["n_head"] // hp["n_head_kv"]) * max(1, cfg.get("smp", 1))   # per CPU, per KV group
    kv_f32 = 2 * 4 * ((cfg["n_ctx"] + 7) // 8 * 8) * n_kv if nb >= 4 else 0   # a batch's keys/values as f32
    per_slot = 4 * cfg["n_ctx"] + 4 * hp["n_vocab"] + 12 * hp["n_vocab"]
    scratch = nb * per_token + scores + activations + kv_f32 + cfg["n_slots"] * per_slot + HEAP_SLACK
    low = 1 * MIB  # below the load address: BIOS, Multiboot info
    total = model_bytes + kv + scratch + kernel_bytes + low
    ram = cfg["memory_mb"] * MIB
    return {"weights": model_bytes, "kv_cache": kv, "scratch": scratch, "kernel": kernel_bytes + low,
            "total": total, "ram": ram, "fits": total <= ram}


def format_plan(plan):
    def mib(n):
        return f"{n / MIB:9.1f} MiB"
    rows = [("weights (baked GGUF)", plan["weights"]), ("KV cache", plan["kv_cache"]),
            ("scratch (estimate)", plan["scratch"]), ("kernel + low memory", plan["kernel"]),
            ("total", plan["total"]), ("guest RAM", plan["ram"])]
    return "\n".join(f"  {k:<22}{mib(v)}" for k, v in rows)
