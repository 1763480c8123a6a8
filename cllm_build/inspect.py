"""`cllm inspect PATH`: what a GGUF file (metadata, tensor table) or a built image (sections, baked model size and
sha256, baked build configuration) holds. Reads through model.py and elf.py; returns text."""
import json

from .elf import read_image
from .errors import CllmError
from .model import read_gguf

ARRAY_SHOWN = 8   # array items printed before "... (N items)"


def _fmt_value(v):
    if isinstance(v, list):
        if len(v) > ARRAY_SHOWN:
            return f"[{', '.join(_short(x) for x in v[:ARRAY_SHOWN])}, ...] ({len(v)} items)"
        return "[" + ", ".join(_short(x) for x in v) + "]"
    return _short(v, 200)


def _short(v, n=40):
    s = json.dumps(v, ensure_ascii=False) if isinstance(v, str) else repr(v)
    return s if len(s) <= n else s[:n - 3] + "..."


def inspect_gguf(path, max_tensors=40):
    info = read_gguf(path)
    out = [f"{path}: GGUF v{info.version}, {info.file_size} bytes, {len(info.metadata)} metadata keys, "
           f"{len(info.tensors)} tensors, alignment {info.alignment}, data at offset {info.data_offset}",
           "", "metadata:"]
    for k, v in info.metadata.items():
        out.append(f"  {k} ({info.metadata_types[k]}) = {_fmt_value(v)}")
    out += ["", f"  {'tensor':<32} {'type':<6} {'shape':<20} {'bytes':>12}"]
    counts = {}
    for i, t in enumerate(info.tensors):
        counts[t.type.name] = counts.get(t.type.name, 0) + 1
        if max_tensors is None or i < max_tensors:
            out.append(f"  {t.name:<32} {t.type.name:<6} {'x'.join(map(str, t.shape)):<20} {t.n_bytes:>12}")
    if max_tensors is not None and len(info.tensors) > max_tensors:
        out.append(f"  ... {len(info.tensors) - max_tensors} more (--all-tensors)")
    out.append("tensor types: " + ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())))
    out.append(f"tensor data: {sum(t.n_bytes for t in info.tensors)} bytes")
    return "\n".join(out)


def inspect_elf(path):
    info = read_image(path)
    out = [f"{path}: ELF{info['class']} {info['machine']}, entry {info['entry']:#x}"]
    mb = info["multiboot"]
    out.append(f"multiboot: header at file offset {mb['offset']:#x}, flags {mb['flags']:#x}" if mb
               else "multiboot: no header in the first 8 KiB")
    s = info["sizes"]
    out.append(f"kernel: text {s['text']} B, data {s['data']} B, bss {s['bss']} B")
    out += ["", f"  {'section':<16} {'addr':>10} {'offset':>10} {'size':>12}  flags"]
    for sec in info["sections"]:
        fl = ("A" if sec["alloc"] else "-") + ("W" if sec["write"] else "-") + ("X" if sec["exec"] else "-")
        out.append(f"  {sec['name']:<16} {sec['addr']:>#10x} {sec['offset']:>#10x} {sec['size']:>12}  {fl}")
    m = info["model"]
    out.append("")
    out.append(f"model: {m['size']} bytes at {m['addr']:#x}, sha256 {m['sha256']}" if m else "model: no .model section")
    cfg = info["config"]
    if cfg:
        mi = cfg.get("model", {})
        out.append(f"model file: {mi.get('file')} (alias {mi.get('alias')!r})"
                   + (" [sha256 matches]" if m and mi.get("sha256") == m["sha256"] else " [sha256 MISMATCH]"))
        out.append(f"hyper-parameters: {json.dumps(mi.get('hparams', {}))}")
        out.append(f"debug build: {cfg.get('debug')}")
        out.append("build configuration:")
        out += ["  " + line for line in json.dumps(cfg.get("config", {}), indent=2, sort_keys=False).splitlines()]
    else:
        out.append("build configuration: none baked (.cllm_config missing)")
    return "\n".join(out)


def inspect_path(path, max_tensors=40):
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise CllmError(f"{path}: cannot read: {e.strerror}") from None
    if magic == b"GGUF":
        return inspect_gguf(path, max_tensors)
    if magic == b"\x7fELF":
        return inspect_elf(path)
    raise CllmError(f"{path}: neither a GGUF file nor an ELF image (magic {magic!r})")
