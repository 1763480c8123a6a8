"""Chat templates for a kernel without Jinja: derive the kernel's representation (kernel/api/chat_template.h: per-role
prefix and suffix strings, a generation prompt, an optional default system message, an add-BOS flag and a
system-folded-into-the-first-user-turn flag) from a GGUF's `tokenizer.chat_template`, check it, and emit it as the
CLLM_CHAT_* defines of cllm_config.h (templates/config.h.j2, via build.py).

How: the template is rendered with jinja2 (sandboxed, with the helpers chat templates use: raise_exception,
strftime_now, bos_token/eos_token from the vocabulary, add_generation_prompt) on probe conversations whose contents are
unique marker strings; the text between the markers gives the strings. Then the derived representation, rendered
with the kernel's algorithm (ChatTemplate.render, a line-for-line twin of chat_template_render in
kernel/api/chat_template.c), must equal jinja2's rendering of the original template for a set of conversations
(with and without a system message, several lengths, contents with newlines, surrounding spaces, non-ASCII and
template-looking text); otherwise the build stops with one line saying what the template does that the kernel
cannot. The kernel always renders with add_generation_prompt (chat completions, /apply-template), so that is what
is checked; conversations that end with an assistant message are checked too, but a template that renders those its
own way (Qwen3's empty think block, no generation prompt after an assistant turn) still builds, with a note in the
build summary. A model without a template gets ChatML. Tests: tests/test_chat_template*.py, tests/host/chat/."""
import datetime
import json
from dataclasses import dataclass, field

import jinja2
import jinja2.ext
import jinja2.nodes
import jinja2.sandbox

from .errors import CllmError

SYSTEM, USER, ASSISTANT = "system", "user", "assistant"
ROLES = (SYSTEM, USER, ASSISTANT)

# The kernel's default (no defines), as Jinja for /props when the model has no template.
CHATML_JINJA = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
                "'<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
                "{% endif %}")
MAX_CANDIDATES = 40         # derivations verified before giving up (each renders ~10 conversations)
LITERAL_CHUNK = 72          # bytes of source text per line of a split C string literal


@dataclass
class ChatTemplate:
    prefix: dict                       # role -> text before the content
    suffix: dict                       # role -> text after it
    generation_prompt: str
    default_system: str = ""           # "" = none
    add_bos: bool = False
    system_in_user: bool = False
    bos_text: str = ""                 # the vocabulary's BOS token text (the kernel takes it from the tokenizer)
    source: str = CHATML_JINJA         # the Jinja text (/props)
    summary: str = ""                  # one line for the build summary
    notes: list = field(default_factory=list)

    def render(self, messages, add_generation_prompt=True):
        """The kernel's algorithm (kernel/api/chat_template.c chat_template_render), for the verification."""
        sys_content, first = None, 0
        if messages and messages[0]["role"] == SYSTEM:
            sys_content, first = messages[0]["content"], 1
        elif self.default_system:
            sys_content = self.default_system
        if any(m["role"] == SYSTEM for m in messages[first:]):
            raise ValueError("a system message may only come first")
        out = []
        if self.add_bos and self.bos_text:
            out.append(self.bos_text)
        pending = sys_content is not None
        if pending and (not self.system_in_user or first == len(messages)):
            out += [self.prefix[SYSTEM], sys_content, self.suffix[SYSTEM]]
            pending = False
        for m in messages[first:]:
            out.append(self.prefix[m["role"]])
            if pending and m["role"] == USER:
                out += [self.prefix[SYSTEM], sys_content, self.suffix[SYSTEM]]
                pending = False
            out += [m["content"], self.suffix[m["role"]]]
        if add_generation_prompt:
            out.append(self.generation_prompt)
        return "".join(out)

    def defines(self):
        """(NAME, value text, comment) for templates/config.h.j2."""
        d = []
        for role in ROLES:
            d.append((f"CLLM_CHAT_{role.upper()}_PREFIX", c_literal(self.prefix[role]), None))
            d.append((f"CLLM_CHAT_{role.upper()}_SUFFIX", c_literal(self.suffix[role]), None))
        d += [
            ("CLLM_CHAT_GENERATION_PROMPT", c_literal(self.generation_prompt), None),
            ("CLLM_CHAT_DEFAULT_SYSTEM", c_literal(self.default_system), "\"\" = none"),
            ("CLLM_CHAT_ADD_BOS", "1" if self.add_bos else "0", "prompt starts with the BOS token"),
            ("CLLM_CHAT_SYSTEM_IN_USER", "1" if self.system_in_user else "0", "system folded into the first user turn"),
            ("CLLM_CHAT_TEMPLATE", c_literal(self.source), "the model's Jinja chat template (/props)"),
        ]
        return d

    def fields(self):
        """The representation as plain data (build.json, tests)."""
        return {"prefix": dict(self.prefix), "suffix": dict(self.suffix), "generation_prompt": self.generation_prompt,
                "default_system": self.default_system, "add_bos": self.add_bos,
                "system_in_user": self.system_in_user}


def chatml():
    t = ChatTemplate(prefix={r: f"<|im_start|>{r}\n" for r in ROLES}, suffix={r: "<|im_end|>\n" for r in ROLES},
                     generation_prompt="<|im_start|>assistant\n")
    t.summary = "ChatML (the model has no tokenizer.chat_template)"
    return t


def c_literal(s):
    """C string literal(s) for s: quotes, backslashes and every byte outside printable ASCII escaped as three-digit
    octal (so a following digit cannot extend the escape), '?' too (no trigraphs), split into adjacent literals of
    LITERAL_CHUNK bytes and after runs of newlines, continued with backslash-newline inside a #define."""
    pieces, cur, n = [], [], 0
    raw = s.encode("utf-8")
    for i, b in enumerate(raw):
        c = chr(b)
        if c in '"\\':
            cur.append("\\" + c)
        elif 0x20 <= b < 0x7f and c != "?":
            cur.append(c)
        elif c == "\n":
            cur.append("\\n")
        else:
            cur.append("\\%03o" % b)
        n += 1
        if (c == "\n" and raw[i + 1:i + 2] != b"\n") or n >= LITERAL_CHUNK:
            pieces.append('"' + "".join(cur) + '"')
            cur, n = [], 0
    if cur or not pieces:
        pieces.append('"' + "".join(cur) + '"')
    return " \\\n    ".join(pieces)


# ---------------------------------------------------------------------------------------------------------------
# jinja2 rendering of the original template

def _raise_exception(msg):
    raise jinja2.exceptions.TemplateError(msg)


def _strftime_now(fmt):
    return datetime.datetime.now().strftime(fmt)


def _tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


class _GenerationTag(jinja2.ext.Extension):
    """`{% generation %}...{% endgeneration %}` (marks assistant text for training masks in some templates): renders
    its body unchanged."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.Scope(body, lineno=lineno)


def jinja_renderer(source, bos_token="", eos_token=""):
    """A function(messages, add_generation_prompt) -> str rendering the template as chat front ends do (sandboxed,
    trim_blocks and lstrip_blocks, loop controls, {% generation %}, raise_exception, strftime_now, tojson)."""
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                       extensions=[jinja2.ext.loopcontrols, _GenerationTag])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    try:
        tpl = env.from_string(source)
    except jinja2.exceptions.TemplateError as e:
        raise CllmError(_line(f"chat template: not valid Jinja: {e}")) from None

    def render(messages, add_generation_prompt=True):
        return tpl.render(messages=[dict(m) for m in messages], add_generation_prompt=add_generation_prompt,
                          bos_token=bos_token, eos_token=eos_token)
    return render


def _line(s, limit=300):
    s = " ".join(str(s).split("\n"))
    return s if len(s) <= limit else s[:limit - 3] + "..."


def _q(s, limit=60):
    """A short quoted excerpt for error lines."""
    r = json.dumps(s, ensure_ascii=False)
    return r if len(r) <= limit else r[:limit - 4] + '..."'


# ---------------------------------------------------------------------------------------------------------------
# Derivation

def _msg(role, content):
    return {"role": role, "content": content}


def _mark(role, i):
    return f"QZ{role[0].upper()}{i}MARK"


class _Unrepresentable(Exception):
    pass


def _split(text, marks, what):
    """Text between consecutive markers: [before m0, m0..m1, ..., after the last]."""
    parts, pos = [], 0
    for m in marks:
        i = text.find(m, pos)
        if i < 0:
            role = {"S": "system", "U": "user", "A": "assistant"}[m[2]]
            raise _Unrepresentable(f"the {role} message's content does not appear verbatim in the rendering "
                                   f"({what})")
        parts.append(text[pos:i])
        pos = i + len(m)
    parts.append(text[pos:])
    return parts


def _common_prefix(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _common_suffix(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[len(a) - 1 - n] == b[len(b) - 1 - n]:
        n += 1
    return a[len(a) - n:]


def _split_points(between, end, tail, eos):
    """Where a turn's suffix may end inside `between` (suffix + next prefix) given `end` (suffix + generation
    prompt): every common prefix of the two, best first: the template's own end of turn (`tail`, the rendering's
    end when it stops after that turn without a generation prompt, or that without a trailing EOS), then cuts after
    a newline, longest first. Any split renders the same between turns; only the end of the prompt tells."""
    lcp = _common_prefix(between, end)
    out = []
    for t in (tail, tail[:-len(eos)] if eos and tail.endswith(eos) else None):
        if t is not None and lcp.startswith(t) and t not in out:
            out.append(t)
    for k in sorted(range(len(lcp) + 1), key=lambda k: (not (k == 0 or lcp[k - 1] == "\n"), -k)):
        if lcp[:k] not in out:
            out.append(lcp[:k])
    return out


def derive(source, bos_token="", eos_token=""):
    """The kernel representation of the Jinja template `source`, checked against jinja2; raises CllmError with one
    line when the kernel cannot represent it."""
    J = jinja_renderer(source, bos_token, eos_token)

    def render(conv, agp=True, what="a user/assistant conversation"):
        try:
            return J(conv, agp)
        except Exception as e:  # noqa: BLE001 - a template can raise anything; one line, never a traceback
            raise CllmError(_line(f"chat template: jinja2 fails on {what}: {type(e).__name__}: {e}")) from None

    try:
        return _derive(source, J, render, bos_token, eos_token)
    except _Unrepresentable as e:
        raise CllmError(_line(f"chat template: {e}")) from None


def _derive(source, J, render, bos, eos):
    u = [_mark(USER, i) for i in range(4)]
    a = [_mark(ASSISTANT, i) for i in range(4)]
    s0 = _mark(SYSTEM, 0)

    # Turns without a system message: H u1 X a1 Y u2 X a2 Y u3 T
    conv3 = [_msg(USER, u[1]), _msg(ASSISTANT, a[1]), _msg(USER, u[2]), _msg(ASSISTANT, a[2]), _msg(USER, u[3])]
    H, X1, Y1, X2, Y2, T = _split(render(conv3), [u[1], a[1], u[2], a[2], u[3]], "multi-turn conversation")
    if X1 != X2:
        raise _Unrepresentable(f"the text between a user and an assistant message depends on its position "
                               f"({_q(X1)} then {_q(X2)})")
    if Y1 != Y2:
        raise _Unrepresentable(f"assistant turns render differently depending on position "
                               f"({_q(Y1)} then {_q(Y2)})")
    X, Y = X1, Y1
    # Ends of turns without a generation prompt (which split of X and Y matches the template's own turns)
    tail_u = _split(render([_msg(USER, u[1])], False), [u[1]], "one user message")[1]
    # (a template may refuse to end with an assistant message: then only the loose splits below apply)
    tail_a, Ta = "", None
    try:
        ua = [_msg(USER, u[1]), _msg(ASSISTANT, a[1])]
        tail_a = _split(J(ua, False), [u[1], a[1]], "user and assistant messages")[2]
        Ta = _split(J(ua, True), [u[1], a[1]], "user and assistant messages")[2]
    except Exception:  # noqa: BLE001
        pass
    H1 = _split(render([_msg(USER, u[1])]), [u[1]], "one user message")[0]
    if H1 != H:
        raise _Unrepresentable(f"the text before the first user message depends on the conversation's length "
                               f"({_q(H1)} vs {_q(H)})")

    # Splits of X = user suffix + assistant prefix and Y = assistant suffix + user prefix. Strict: the generation
    # prompt is the same after a user turn (T = su + gen) and after an assistant turn (Ta = sa + gen). Loose (for
    # templates that add no generation prompt after an assistant message, or render the last one differently):
    # only conversations that end with a user message can match. Either way the user prefix must end the text
    # before the first message (H: BOS, default system, user prefix).
    strict, loose = [], []
    for su in _split_points(X, T, tail_u, eos) if Ta is not None else []:
        for sa in _split_points(Y, Ta, tail_a, eos):
            if T[len(su):] == Ta[len(sa):] and H.endswith(Y[len(sa):]):
                strict.append((su, sa))
    for su in _split_points(X, T, tail_u, eos)[:4]:
        for sa in _split_points(Y, Y, tail_a, eos):
            if H.endswith(Y[len(sa):]) and (su, sa) not in strict:
                loose.append((su, sa))

    # The system message: its own turn, folded into the first user turn, or not supported
    sys_conv = [_msg(SYSTEM, s0), _msg(USER, u[1]), _msg(ASSISTANT, a[1]), _msg(USER, u[2])]
    notes = []
    try:
        rs = J(sys_conv, True)
        if s0 not in rs:
            rs = None
            notes.append("the template drops system messages")
    except Exception as e:  # noqa: BLE001 - raise_exception or anything else: no system role
        rs = None
        notes.append(f"the template rejects system messages ({_line(e, 80)})")
    if rs is not None and u[1] in rs and rs.index(u[1]) < rs.index(s0):
        raise _Unrepresentable("the system message is placed after the first user message (the kernel puts it "
                               "first or inside the first user turn)")

    empty_system = []
    def candidates(splits):
        for su, sa in splits:
            pu, pa, gen = Y[len(sa):], X[len(su):], T[len(su):]
            for bo in ([""] + ([bos] if bos else [])):
                if not H.startswith(bo):
                    continue
                if rs is not None:
                    A, B, _ = _split(rs, [s0, u[1]], "system and user messages")
                    if not A.startswith(bo):
                        continue
                    A = A[len(bo):]
                    shapes = []
                    if B.endswith(pu):                     # own turn: A = ps, B = ss + pu
                        shapes.append((False, A, B[:len(B) - len(pu)]))
                    if A.startswith(pu):                   # folded: A = pu + ps, B = ss
                        shapes.append((True, A[len(pu):], B))
                else:                                      # no system role: fold it in, separated by a blank line
                    shapes = [(True, "", "\n\n")]
                for fold, ps, ss in shapes:
                    rest = H[len(bo):]
                    dflt = None
                    if rest == pu:
                        dflt = ""
                    elif rs is not None and not fold and rest.startswith(ps) and rest.endswith(ss + pu):
                        dflt = rest[len(ps):len(rest) - len(ss + pu)] if len(rest) >= len(ps + ss + pu) else None
                    elif rs is not None and fold and rest.startswith(pu + ps) and rest.endswith(ss):
                        dflt = rest[len(pu + ps):len(rest) - len(ss)] if len(rest) >= len(pu + ps + ss) else None
                    if dflt == "" and rest != pu:
                        empty_system.append(True)          # a system turn with empty content: no default to hold it
                        dflt = None
                    if dflt is None:
                        continue
                    yield ChatTemplate(
                        prefix={SYSTEM: ps, USER: pu, ASSISTANT: pa}, suffix={SYSTEM: ss, USER: su, ASSISTANT: sa},
                        generation_prompt=gen, default_system=dflt, add_bos=bo != "", system_in_user=fold,
                        bos_text=bos, source=source, notes=list(notes))

    with_system = rs is not None

    def tail_mismatch(c):
        """None when conversations ending with an assistant message render as the template does, else how not."""
        for _, conv in _tail_conversations(with_system):
            try:
                want = J(conv, True)
            except Exception as e:  # noqa: BLE001
                return f"the template refuses them: {_line(e, 80)}"
            got = c.render(conv, True)
            if got != want:
                i = len(_common_prefix(want, got))
                return (f"the template gives {_q(want[max(0, i - 12):i + 24], 48)} where the kernel gives "
                        f"{_q(got[max(0, i - 12):i + 24], 48)}")
        return None

    first_err, partial, tried = None, None, 0
    for c in candidates(strict):
        tried += 1
        if tried > MAX_CANDIDATES:
            break
        err = _verify(c, render, _conversations(with_system))
        if err is None:
            how = tail_mismatch(c)
            if how is None:
                c.summary = _summary(c)
                return c
            partial = partial or (c, how)
        first_err = first_err or err
    if partial is None:
        tried = 0
        for c in candidates(loose):
            tried += 1
            if tried > MAX_CANDIDATES:
                break
            err = _verify(c, render, _conversations(with_system))
            if err is None:
                partial = (c, tail_mismatch(c))
                break
            first_err = first_err or err
    if partial is not None:
        c, how = partial
        if how is not None:
            c.notes.append(f"conversations ending with an assistant message render differently ({how})")
        c.summary = _summary(c)
        return c
    if first_err is None:
        if empty_system:
            raise _Unrepresentable("the template renders an empty system turn when there is no system message "
                                   "(the kernel's default system message cannot be empty)")
        pu = _common_suffix(Y, H)
        if pu and pu != H:
            raise _Unrepresentable(f"the prompt starts with {_q(H[:len(H) - len(pu)])} before the first user turn, "
                                   f"which is neither the BOS token nor a default system message in the system "
                                   f"turn's format")
        raise _Unrepresentable(f"the text before the first user message ({_q(H)}) is not BOS, a default system "
                               f"turn and the user prefix ({_q(Y)} between turns)")
    raise _Unrepresentable(_diagnose(J, first_err))


# Verification conversations: (description, messages). Contents exercise newlines, surrounding spaces, quotes and
# backslashes, non-ASCII, and text that looks like Jinja or like the template's own markup.
_TEXTS = ["Hello!", "line one\nline two\n\nline four", "  spaced out  ", "{{ messages }} {% if x %}y{% endif %}",
          "<|im_start|>assistant\n[INST] <s> </s>", "caf\u00e9 \u2603 \u65e5\u672c ??= \"q\" \\n \\", "4",
          "Tell me more.", "\n", "x" * 300]


def _conversations(with_system):
    t = _TEXTS
    convs = [
        ("a single user message", [_msg(USER, t[0])]),
        ("a three-turn conversation", [_msg(USER, t[1]), _msg(ASSISTANT, t[6]), _msg(USER, t[2])]),
        ("a conversation with template-looking text", [_msg(USER, t[3]), _msg(ASSISTANT, t[4]), _msg(USER, t[5])]),
        ("a seven-turn conversation", [_msg(USER if i % 2 == 0 else ASSISTANT, t[(i + 3) % len(t)])
                                       for i in range(7)]),
        ("a user message with surrounding whitespace", [_msg(USER, t[2])]),
    ]
    if with_system:
        convs += [
            ("a system and a user message", [_msg(SYSTEM, t[7]), _msg(USER, t[0])]),
            ("a system message and three turns", [_msg(SYSTEM, t[1]), _msg(USER, t[5]), _msg(ASSISTANT, t[8]),
                                                  _msg(USER, t[9])]),
            ("a system message and seven turns", [_msg(SYSTEM, t[4])] + [
                _msg(USER if i % 2 == 0 else ASSISTANT, t[(i + 5) % len(t)]) for i in range(7)]),
            ("a system message with surrounding whitespace", [_msg(SYSTEM, t[2]), _msg(USER, t[0])]),
        ]
    return convs


def _tail_conversations(with_system):
    """Conversations that end with an assistant message (a client continuing a reply): checked, but a template
    that renders them its own way is still accepted, with a note in the build summary."""
    t = _TEXTS
    convs = [("a conversation ending with an assistant message", [_msg(USER, t[3]), _msg(ASSISTANT, t[4])]),
             ("a longer conversation ending with an assistant message",
              [_msg(USER, t[0]), _msg(ASSISTANT, t[6]), _msg(USER, t[1]), _msg(ASSISTANT, t[7])])]
    if with_system:
        convs.append(("a system message and a conversation ending with an assistant message",
                      [_msg(SYSTEM, t[7]), _msg(USER, t[0]), _msg(ASSISTANT, t[5])]))
    return convs


def _verify(c, render, convs):
    for what, conv in convs:
        want = render(conv, True, what)
        got = c.render(conv, True)
        if got != want:
            return what, conv, want, got
    return None


def _diagnose(J, failure):
    what, conv, want, got = failure
    # Trimmed content: a marker with spaces around it loses them.
    m = " \n QZTRIMMARK \n "
    try:
        r = J([_msg(USER, m)], True)
        if m not in r and m.strip() in r:
            return "message content is trimmed (strip/trim); the kernel inserts content verbatim"
    except Exception:  # noqa: BLE001
        pass
    try:
        r = J([_msg(SYSTEM, m), _msg(USER, "QZU1MARK")], True)
        if m not in r and m.strip() in r:
            return "system message content is trimmed (strip/trim); the kernel inserts content verbatim"
    except Exception:  # noqa: BLE001
        pass
    try:
        r = J([_msg(USER, "QZU1MARK"), _msg(ASSISTANT, m), _msg(USER, "QZU2MARK")], True)
        if m not in r and m.strip() in r:
            return "assistant message content is trimmed (strip/trim); the kernel inserts content verbatim"
    except Exception:  # noqa: BLE001
        pass
    i = len(_common_prefix(want, got))
    return (f"the kernel's rendering of {what} differs from jinja2's at byte {i}: template "
            f"{_q(want[max(0, i - 10):i + 30])}, kernel {_q(got[max(0, i - 10):i + 30])}")


def _summary(c):
    if c.source == CHATML_JINJA or (c.prefix == chatml().prefix and c.suffix == chatml().suffix
                                     and c.generation_prompt == chatml().generation_prompt):
        kind = "ChatML"
    else:
        kind = f"user {_q(c.prefix[USER], 40)} ... {_q(c.suffix[USER], 30)}, generation prompt " \
               f"{_q(c.generation_prompt, 40)}"
    bits = ["from the GGUF (" + kind + ")"]
    if c.add_bos:
        bits.append("starts with BOS")
    if c.system_in_user:
        bits.append("system folded into the first user turn")
    if c.default_system:
        bits.append(f"default system message {_q(c.default_system, 50)}")
    if c.default_system and "strftime_now" in c.source:
        bits.append("the default system message holds the build date (strftime_now)")
    bits += c.notes
    if not c.notes:
        bits.append("checked against jinja2")
    return "; ".join(bits)


def for_metadata(meta):
    """The kernel representation for a GGUF's metadata (model.ModelInfo.metadata)."""
    source = meta.get("tokenizer.chat_template")
    if not isinstance(source, str) or not source.strip():
        return chatml()
    tokens = meta.get("tokenizer.ggml.tokens")

    def token(key):
        i = meta.get(key)
        if isinstance(tokens, list) and isinstance(i, int) and 0 <= i < len(tokens):
            return tokens[i]
        return ""
    return derive(source, token("tokenizer.ggml.bos_token_id"), token("tokenizer.ggml.eos_token_id"))


def for_model(path):
    from .model import read_gguf
    return for_metadata(read_gguf(path).metadata)
