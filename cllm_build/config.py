"""Build configuration (`cllm.json`): the one schema, its defaults, loading and validation, and the
precedence defaults < config file < command-line flags. The README's "Configuration" section documents every key;
templates/config.h.j2 receives the result as #defines (see config_defines)."""
import ipaddress
import json
import math

from .errors import CllmError

LOG_LEVELS = ["error", "warn", "info", "debug"]


class Int:
    def __init__(self, lo, hi, doc, unit=""):
        self.lo, self.hi, self.doc, self.unit = lo, hi, doc, unit

    def check(self, path, v):
        if isinstance(v, bool) or not isinstance(v, int) or not self.lo <= v <= self.hi:
            raise CllmError(f"{path}: expected integer {self.lo}..{self.hi}, got {json.dumps(v)}")
        return v

    def describe(self):
        return f"integer {self.lo}..{self.hi}"


class Float:
    def __init__(self, lo, hi, doc):
        self.lo, self.hi, self.doc = lo, hi, doc

    def check(self, path, v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or not self.lo <= v <= self.hi:
            raise CllmError(f"{path}: expected number {self.lo}..{self.hi}, got {json.dumps(v)}")
        return float(v)

    def describe(self):
        return f"number {self.lo}..{self.hi}"


class Choice:
    def __init__(self, choices, doc):
        self.choices, self.doc = choices, doc

    def check(self, path, v):
        if v not in self.choices:
            raise CllmError(f"{path}: expected one of {', '.join(json.dumps(c) for c in self.choices)}, "
                            f"got {json.dumps(v)}")
        return v

    def describe(self):
        return " | ".join(json.dumps(c) for c in self.choices)


class Ipv4:
    def __init__(self, doc):
        self.doc = doc

    def check(self, path, v):
        try:
            if not isinstance(v, str):
                raise ValueError
            return str(ipaddress.IPv4Address(v))
        except ValueError:
            raise CllmError(f"{path}: expected an IPv4 address \"a.b.c.d\", got {json.dumps(v)}") from None

    def describe(self):
        return "IPv4 address string"


class Str:
    def __init__(self, doc, nullable=True, maxlen=128):
        self.doc, self.nullable, self.maxlen = doc, nullable, maxlen

    def check(self, path, v):
        if v is None and self.nullable:
            return None
        if not isinstance(v, str) or not 0 < len(v) <= self.maxlen or not v.isprintable():
            raise CllmError(f"{path}: expected a printable string of 1..{self.maxlen} characters"
                            f"{' or null' if self.nullable else ''}, got {json.dumps(v)}")
        return v

    def describe(self):
        return "string or null" if self.nullable else "string"


# key -> (spec, default) or key -> nested dict. Order is the README's order.
SCHEMA = {
    "memory_mb": (Int(32, 3072, "guest RAM (QEMU -m) the memory plan is checked against", "MiB"), 1024),
    "smp": (Int(1, 64, "vCPUs (QEMU -smp); worker CPUs for matrix products"), 1),
    "n_ctx": (Int(16, 131072, "context length per slot", "tokens"), 2048),
    "kv_type": (Choice(["f16", "f32"], "element type of the KV cache"), "f16"),
    "n_slots": (Int(1, 64, "concurrent generation slots (each has its own KV cache)"), 1),
    "n_batch": (Int(1, 4096, "prompt tokens evaluated per forward pass (prefill chunk)", "tokens"), 64),
    "network": {
        "mode": (Choice(["dhcp", "static"], "how the guest gets its IPv4 address"), "dhcp"),
        "ip": (Ipv4("guest address when mode is static"), "10.0.2.15"),
        "gateway": (Ipv4("default gateway when mode is static"), "10.0.2.2"),
        "netmask": (Ipv4("netmask when mode is static"), "255.255.255.0"),
        "http_port": (Int(1, 65535, "guest TCP port of the HTTP server"), 8080),
    },
    "log_level": (Choice(LOG_LEVELS, "kernel log verbosity on the serial console"), "info"),
    "sampling": {
        "temperature": (Float(0.0, 100.0, "default temperature (0 = greedy)"), 0.8),
        "top_k": (Int(0, 1 << 20, "default top-k (0 = off)"), 40),
        "top_p": (Float(0.0, 1.0, "default nucleus top-p (1 = off)"), 0.95),
        "min_p": (Float(0.0, 1.0, "default min-p (0 = off)"), 0.05),
        "repeat_penalty": (Float(0.0, 100.0, "default repetition penalty (1 = off)"), 1.0),
        "repeat_last_n": (Int(-1, 1 << 20, "tokens the repetition penalty looks back (-1 = context)"), 64),
        "seed": (Int(-1, 0xFFFFFFFF, "default RNG seed (-1 = from the clock)"), -1),
        "n_predict": (Int(-1, 1 << 20, "default tokens to generate (-1 = until end of generation or context)"), -1),
    },
    "limits": {
        "max_body_bytes": (Int(1024, 1 << 30, "largest accepted HTTP request body, larger gets 413", "bytes"),
                           1 << 20),
        "max_n_predict": (Int(1, 1 << 20, "upper bound a request's n_predict/max_tokens is clamped to"), 4096),
    },
    "model_alias": (Str("model id reported by /v1/models (null = the GGUF file name without .gguf)"), None),
}


def defaults(schema=SCHEMA):
    out = {}
    for k, v in schema.items():
        out[k] = defaults(v) if isinstance(v, dict) else v[1]
    return out


def _merge(base, layer, schema, path):
    if not isinstance(layer, dict):
        raise CllmError(f"{path or 'config'}: expected an object, got {json.dumps(layer)}")
    for k, v in layer.items():
        p = f"{path}.{k}" if path else k
        if k not in schema:
            raise CllmError(f"{p}: unknown key (known: {', '.join(schema)})")
        spec = schema[k]
        if isinstance(spec, dict):
            _merge(base[k], v, spec, p)
        else:
            base[k] = spec[0].check(p, v)


def load_config(path=None, overrides=None):
    """Return the effective configuration: defaults, then the JSON file at `path` (if any), then `overrides`
    (a dict of dotted key paths -> value from command-line flags; None values are ignored)."""
    cfg = defaults()
    if path is not None:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise CllmError(f"{path}: cannot read: {e.strerror}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise CllmError(f"{path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
        try:
            _merge(cfg, data, SCHEMA, "")
        except CllmError as e:
            raise CllmError(f"{path}: {e}") from None
    for dotted, v in (overrides or {}).items():
        if v is None:
            continue
        layer = v
        for part in reversed(dotted.split(".")):
            layer = {part: layer}
        _merge(cfg, layer, SCHEMA, "")
    return cfg


def iter_keys(schema=SCHEMA, path=""):
    """(dotted key, spec, default) for every leaf key: used by the README table and the tests."""
    for k, v in schema.items():
        p = f"{path}.{k}" if path else k
        if isinstance(v, dict):
            yield from iter_keys(v, p)
        else:
            yield p, v[0], v[1]


def ip_to_host_u32(s):
    return int(ipaddress.IPv4Address(s))


def c_string(s):
    """A C string literal for s (escaped byte by byte, so any UTF-8 survives)."""
    out = []
    for b in s.encode("utf-8"):
        c = chr(b)
        if c in '"\\':
            out.append("\\" + c)
        elif 0x20 <= b < 0x7f and c != "?":
            out.append(c)
        else:
            out.append("\\%03o" % b)
    return '"' + "".join(out) + '"'


def c_float(x):
    r = repr(float(x))
    if "e" not in r and "." not in r:
        r += ".0"
    return r + "f"


def model_alias(cfg, model_file):
    name = model_file.rsplit("/", 1)[-1]
    if name.endswith(".gguf"):
        name = name[:-5]
    return cfg["model_alias"] or name


def config_defines(cfg, model_file, hparams=None):
    """The #defines of cllm_config.h: (NAME, value text, comment). hparams: the model's hyper-parameters
    (model.ModelInfo.hparams) become CLLM_MODEL_* defines."""
    net, smp, lim = cfg["network"], cfg["sampling"], cfg["limits"]
    d = [
        ("CLLM_MEMORY_MB", str(cfg["memory_mb"]), "guest RAM the build was planned for, MiB"),
        ("CLLM_SMP", str(cfg["smp"]), "vCPUs"),
        ("CLLM_N_CTX", str(cfg["n_ctx"]), "tokens of context per slot"),
        ("CLLM_KV_F16", "1" if cfg["kv_type"] == "f16" else "0", "KV cache element: 1 f16, 0 f32"),
        ("CLLM_N_SLOTS", str(cfg["n_slots"]), "concurrent generation slots"),
        ("CLLM_N_BATCH", str(cfg["n_batch"]), "prompt tokens per forward pass"),
        ("CLLM_NET_DHCP", "1" if net["mode"] == "dhcp" else "0", "1 DHCP, 0 static address below"),
        ("CLLM_NET_IP", "0x%08xu" % ip_to_host_u32(net["ip"]), net["ip"] + ", host byte order"),
        ("CLLM_NET_GATEWAY", "0x%08xu" % ip_to_host_u32(net["gateway"]), net["gateway"] + ", host byte order"),
        ("CLLM_NET_NETMASK", "0x%08xu" % ip_to_host_u32(net["netmask"]), net["netmask"] + ", host byte order"),
        ("CLLM_HTTP_PORT", str(net["http_port"]), "guest TCP port of the HTTP server"),
        ("CLLM_LOG_LEVEL", str(LOG_LEVELS.index(cfg["log_level"])), "0 error, 1 warn, 2 info, 3 debug"),
        ("CLLM_HTTP_MAX_BODY", str(lim["max_body_bytes"]), "bytes of request body before 413"),
        ("CLLM_MAX_N_PREDICT", str(lim["max_n_predict"]), "tokens a request may ask for at most"),
        ("CLLM_DEFAULT_TEMPERATURE", c_float(smp["temperature"]), None),
        ("CLLM_DEFAULT_TOP_K", str(smp["top_k"]), None),
        ("CLLM_DEFAULT_TOP_P", c_float(smp["top_p"]), None),
        ("CLLM_DEFAULT_MIN_P", c_float(smp["min_p"]), None),
        ("CLLM_DEFAULT_REPEAT_PENALTY", c_float(smp["repeat_penalty"]), None),
        ("CLLM_DEFAULT_REPEAT_LAST_N", str(smp["repeat_last_n"]), None),
        ("CLLM_DEFAULT_SEED", "(%dLL)" % smp["seed"], "-1: from the clock"),
        ("CLLM_DEFAULT_N_PREDICT", str(smp["n_predict"]), "-1: until end of generation"),
        ("CLLM_MODEL_ALIAS", c_string(model_alias(cfg, model_file)), "id in /v1/models"),
        ("CLLM_MODEL_FILE", c_string(model_file.rsplit("/", 1)[-1]), "GGUF file name baked in"),
    ]
    for k, v in (hparams or {}).items():
        d.append(("CLLM_MODEL_" + k.upper(), str(v), "from the GGUF metadata"))
    return d
