"""Read and verify built images with pyelftools: the Multiboot header, the entry point, the baked .model
section (size and sha256 against the input GGUF), the baked build configuration (.cllm_config) and the
kernel's section sizes. build.py calls verify_image(); inspect.py calls read_image()."""
import hashlib
import json
import struct

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from .errors import CllmError

MB_MAGIC = 0x1BADB002
MB_SEARCH = 8192
MB_AOUT_KLUDGE = 1 << 16
REQUIRED_SYMBOLS = ["_start", "__bss_start", "__bss_end", "__kernel_end", "__model_start", "__model_end",
                    "__image_end"]


def find_multiboot(data):
    """(offset, flags) of a valid Multiboot 1 header in data (the file's first 8 KiB), else None."""
    for off in range(0, min(len(data), MB_SEARCH) - 11, 4):
        magic, flags, csum = struct.unpack_from("<III", data, off)
        if magic == MB_MAGIC and (magic + flags + csum) & 0xFFFFFFFF == 0:
            return off, flags
    return None


def _section_sha256(f, sec):
    h = hashlib.sha256()
    f.seek(sec["sh_offset"])
    left = sec["sh_size"]
    while left:
        chunk = f.read(min(left, 1 << 20))
        if not chunk:
            break
        h.update(chunk)
        left -= len(chunk)
    return h.hexdigest()


def read_image(path):
    """Everything `cllm inspect` and verify_image need from an ELF: a dict."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise CllmError(f"{path}: cannot read: {e.strerror}") from None
    with f:
        head = f.read(MB_SEARCH)
        f.seek(0)
        try:
            elf = ELFFile(f)
            info = {"path": path, "class": elf.elfclass, "machine": elf["e_machine"], "entry": elf["e_entry"],
                    "sections": [], "segments": [], "symbols": {}}
            for s in elf.iter_sections():
                if not s.name:
                    continue
                info["sections"].append({"name": s.name, "type": s["sh_type"], "addr": s["sh_addr"],
                                         "offset": s["sh_offset"], "size": s["sh_size"],
                                         "alloc": bool(s["sh_flags"] & SH_FLAGS.SHF_ALLOC),
                                         "exec": bool(s["sh_flags"] & SH_FLAGS.SHF_EXECINSTR),
                                         "write": bool(s["sh_flags"] & SH_FLAGS.SHF_WRITE)})
            for seg in elf.iter_segments():
                if seg["p_type"] == "PT_LOAD":
                    info["segments"].append({"vaddr": seg["p_vaddr"], "paddr": seg["p_paddr"],
                                             "filesz": seg["p_filesz"], "memsz": seg["p_memsz"],
                                             "flags": seg["p_flags"]})
            symtab = elf.get_section_by_name(".symtab")
            if symtab is not None:
                for sym in symtab.iter_symbols():
                    if sym.name in REQUIRED_SYMBOLS or sym.name == "kmain":
                        info["symbols"][sym.name] = sym["st_value"]
            model = elf.get_section_by_name(".model")
            info["model"] = None
            if model is not None:
                info["model"] = {"addr": model["sh_addr"], "size": model["sh_size"],
                                 "sha256": _section_sha256(f, model)}
            cfg = elf.get_section_by_name(".cllm_config")
            info["config"] = None
            if cfg is not None:
                raw = cfg.data().rstrip(b"\0")
                try:
                    info["config"] = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    raise CllmError(f"{path}: .cllm_config section does not hold valid JSON") from None
        except ELFError as e:
            raise CllmError(f"{path}: not a valid ELF file: {e}") from None
        except (struct.error, ValueError, KeyError) as e:
            raise CllmError(f"{path}: damaged ELF file: {e}") from None
    mb = find_multiboot(head)
    info["multiboot"] = None if mb is None else {"offset": mb[0], "flags": mb[1]}
    info["sizes"] = section_sizes(info["sections"])
    return info


def section_sizes(sections):
    """Kernel text/data/bss in bytes (the .model section apart)."""
    text = data = bss = 0
    for s in sections:
        if not s["alloc"] or s["name"] == ".model":
            continue
        if s["type"] == "SHT_NOBITS":
            bss += s["size"]
        elif s["exec"] or not s["write"]:
            text += s["size"]
        else:
            data += s["size"]
    return {"text": text, "data": data, "bss": bss}


def verify_image(path, model_size, model_sha256, expect_config=None):
    """Check a built ELF32 image; return read_image()'s dict or raise CllmError naming the problem."""
    info = read_image(path)
    if info["class"] != 32 or info["machine"] != "EM_386":
        raise CllmError(f"{path}: expected an ELF32 i386 container for the Multiboot loader, "
                        f"got ELF{info['class']} {info['machine']}")
    mb = info["multiboot"]
    if mb is None:
        raise CllmError(f"{path}: no valid Multiboot header (magic 0x1BADB002 + checksum) in the first 8 KiB, "
                        "4-byte aligned")
    if mb["flags"] & MB_AOUT_KLUDGE:
        raise CllmError(f"{path}: Multiboot header asks for the a.out kludge (flag bit 16); cllm images are ELF")
    entry = info["entry"]
    if not any(seg["vaddr"] <= entry < seg["vaddr"] + seg["memsz"] and seg["flags"] & 1
               for seg in info["segments"]):
        raise CllmError(f"{path}: entry point {entry:#x} is not inside an executable loaded segment")
    model = info["model"]
    if model is None:
        raise CllmError(f"{path}: no .model section")
    if model["addr"] % 4096:
        raise CllmError(f"{path}: .model section at {model['addr']:#x} is not page-aligned")
    after = [sec["name"] for sec in info["sections"] if sec["alloc"] and sec["size"] and sec["name"] != ".model"
             and sec["addr"] + sec["size"] > model["addr"]]
    if after:
        raise CllmError(f"{path}: section(s) {', '.join(after)} lie at or after .model (the model must be last; "
                        "place them in templates/linker.ld.j2)")
    if model["size"] != model_size:
        raise CllmError(f"{path}: .model section holds {model['size']} bytes, the model has {model_size}")
    if model["sha256"] != model_sha256:
        raise CllmError(f"{path}: .model section sha256 {model['sha256'][:16]}... differs from the model's "
                        f"{model_sha256[:16]}...")
    end = max((seg["paddr"] + seg["memsz"] for seg in info["segments"]), default=0)
    if end > 0xFFFFFFFF:
        raise CllmError(f"{path}: image ends at {end:#x}, above 4 GiB (the Multiboot loader is 32-bit)")
    if expect_config is not None and info["config"] != expect_config:
        raise CllmError(f"{path}: baked configuration differs from the build's")
    return info


def read_baked_config(path):
    """The .cllm_config JSON of an image (None when absent), without hashing the model."""
    try:
        with open(path, "rb") as f:
            sec = ELFFile(f).get_section_by_name(".cllm_config")
            if sec is None:
                return None
            return json.loads(sec.data().rstrip(b"\0").decode("utf-8"))
    except OSError as e:
        raise CllmError(f"{path}: cannot read: {e.strerror}") from None
    except (ELFError, struct.error, ValueError, KeyError) as e:
        raise CllmError(f"{path}: cannot read the baked configuration: {e}") from None
