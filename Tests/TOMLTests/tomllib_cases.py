"""The documents of the differential test of Veil's TOML reader (TOMLDifferentialTests).

    python3 Tests/TOMLTests/tomllib_cases.py OUTDIR [COUNT]

writes OUTDIR/NNNN.toml and OUTDIR/cases.json. Each case names its file and what
Python's tomllib (the reference TOML 1.0 parser of the standard library) read from
those same bytes: the tree in toml-test's tagged JSON ({"type": "integer", "value":
"42"} for a scalar, objects for tables, lists for arrays), or null when tomllib
refuses the document. The documents are

- the shipped configurations (config/*.toml) and configurations rendered by the
  end-to-end harness (Tests/e2e/harness.py) with the options the tests use,
- COUNT (default 400) random documents from a fixed seed: random trees written in
  random TOML style (header tables in any order, implicit parents, dotted and
  quoted keys, inline tables, arrays of tables both ways, every string form and
  escape, integers in all bases with underscores, floats, comments everywhere,
  also inside multi-line arrays, CRLF, trailing blanks),
- COUNT random one-edit mutations of those (most invalid, some still valid),
- hand-written edge cases, valid and invalid.

Where TOML 1.0 leaves room and Veil's reader is stricter than tomllib (dates and
times, integers beyond 64 bits), the case says "veil_refuses" with the reason:
Veil must refuse it.

Longer than 300 lines: it is a data file, the documents themselves, one per case.
"""

from __future__ import annotations

import datetime
import json
import math
import random
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEED = 20261130


# --------------------------------------------------------------------------------------
# What tomllib read, as tagged JSON
# --------------------------------------------------------------------------------------

class Refused(Exception):
    """tomllib accepts it, Veil's reader refuses it on purpose."""


def tag(value):
    if isinstance(value, dict):
        return {k: tag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [tag(v) for v in value]
    if isinstance(value, bool):
        return {"type": "bool", "value": "true" if value else "false"}
    if isinstance(value, int):
        if not -2**63 <= value < 2**63:
            raise Refused("integer beyond 64 bits")
        return {"type": "integer", "value": str(value)}
    if isinstance(value, float):
        return {"type": "float", "value": repr(value)}
    if isinstance(value, str):
        return {"type": "string", "value": value}
    if isinstance(value, (datetime.date, datetime.time)):
        raise Refused("date or time")
    raise TypeError(type(value))


def reference(data: bytes) -> dict:
    """What tomllib makes of the bytes, as tomllib.load(binary file) reads them."""
    try:
        tree = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        return {"expected": None, "tomllib_error": str(error)}
    try:
        return {"expected": tag(tree)}
    except Refused as reason:
        return {"expected": None, "veil_refuses": str(reason)}


# --------------------------------------------------------------------------------------
# Random trees
# --------------------------------------------------------------------------------------

BARE_KEYS = ["a", "b", "name", "key", "x_y", "with-dash", "_", "-", "1", "123", "true", "inf", "nan",
             "A", "Z9", "listener", "tls", "limits"]
QUOTED_KEYS = ["a.b", "with space", "", "é", "ключ", "quote\"d", "back\\slash", "tab\there", "new\nline",
               "#hash", "=eq", "[x]", "'single'", "\u0001ctl", "emoji \U0001F600", "1.2"]
STRING_POOL = ["", "plain", "with space", "quote \" inside", "back \\ slash", "tab\there", "line\nbreak",
               "cr\rlf\r\n", "é ü ß", "中文", "\U0001F600", "\u0000nul", "\u007fdel", "\u001bescape",
               "'single'", "'''", '"""', "#not a comment", "trailing space ", "  leading", "\\n literal",
               "a=b", "[x]", "{y}", "\u2028separator", "\ufeffbom inside"]


class Generator:
    def __init__(self, rng: random.Random):
        self.rng = rng

    # ---- the tree ------------------------------------------------------------------

    def key(self) -> str:
        return self.rng.choice(BARE_KEYS if self.rng.random() < 0.7 else QUOTED_KEYS)

    def string(self) -> str:
        r = self.rng.random()
        if r < 0.5:
            return self.rng.choice(STRING_POOL)
        if r < 0.8:
            return "".join(self.rng.choice(STRING_POOL) for _ in range(self.rng.randint(1, 3)))
        alphabet = "ab \t\"'\\\n\r#=.,[]{}é\u0001\u007f\U0001F600"
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randint(0, 12)))

    def scalar(self):
        kind = self.rng.choice(["string", "string", "integer", "integer", "float", "bool"])
        if kind == "string":
            return ("string", self.string())
        if kind == "integer":
            value = self.rng.choice([0, 1, -1, 42, 2**63 - 1, -2**63, self.rng.randint(-10**6, 10**6),
                                     self.rng.randint(-2**63, 2**63 - 1)])
            return ("integer", value)
        if kind == "float":
            return ("float", self.float_text())
        return ("bool", self.rng.random() < 0.5)

    def float_text(self) -> str:
        """A float as TOML text (the value is what float() makes of it)."""
        if self.rng.random() < 0.15:
            return self.rng.choice(["inf", "+inf", "-inf", "nan", "+nan", "-nan", "-0.0", "+0.0", "0.0", "0e0",
                                    "1e400", "-1e400", "5e-324", "1e-400", "1.7976931348623157e308"])
        sign = self.rng.choice(["", "", "+", "-"])
        integer = self.digits(self.rng.choice(["0", str(self.rng.randint(1, 10**self.rng.randint(1, 8)))]))
        fraction = "." + self.digits(str(self.rng.randint(0, 10**self.rng.randint(1, 12))).zfill(self.rng.randint(1, 4))) \
            if self.rng.random() < 0.7 else ""
        exponent = ""
        if not fraction or self.rng.random() < 0.4:
            exponent = self.rng.choice("eE") + self.rng.choice(["", "+", "-"]) + \
                self.digits(str(self.rng.randint(0, 320)).zfill(self.rng.randint(1, 3)))
        return sign + integer + fraction + exponent

    def digits(self, text: str) -> str:
        """Underscores between some digits."""
        if len(text) < 2 or self.rng.random() < 0.6:
            return text
        return "".join(c + ("_" if i < len(text) - 1 and self.rng.random() < 0.3 else "") for i, c in enumerate(text))

    def value(self, depth: int):
        r = self.rng.random()
        if depth < 3 and r < 0.15:
            return ("array", [self.value(depth + 1) for _ in range(self.rng.randint(0, 4))])
        if depth < 3 and r < 0.32:
            return ("table", self.table(depth + 1))
        if depth < 3 and r < 0.40:
            return ("tables", [self.table(depth + 1) for _ in range(self.rng.randint(1, 3))])
        return self.scalar()

    def table(self, depth: int) -> dict:
        table = {}
        for _ in range(self.rng.randint(1 if depth == 0 else 0, 8 if depth == 0 else 4)):
            table[self.key()] = self.value(depth)
        return table

    # ---- written as TOML ------------------------------------------------------------

    def blank(self) -> str:
        return self.rng.choice(["", "", "", " ", "\t", "  \t"])

    def comment(self) -> str:
        if self.rng.random() < 0.7:
            return ""
        return self.blank() + "#" + self.rng.choice(["", " comment", " é ü 中文 \U0001F600", " \"quoted\" = [1,",
                                                     "#", "\ttab", " ]} ''' \"\"\""])

    def write_key_part(self, key: str) -> str:
        bare = key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
        if bare and self.rng.random() < 0.85:
            return key
        literal_ok = "'" not in key and "\n" not in key and "\r" not in key and \
            all(c == "\t" or not (ord(c) < 0x20 or ord(c) == 0x7F) for c in key)
        if literal_ok and self.rng.random() < 0.4:
            return "'" + key + "'"
        return self.basic(key)

    def write_key(self, path: list[str]) -> str:
        return (self.blank() + "." + self.blank()).join(self.write_key_part(k) for k in path)

    def escape(self, c: str, multiline: bool) -> str:
        if c == '"':
            return '\\"'
        if c == "\\":
            return "\\\\"
        if c == "\n" and multiline and self.rng.random() < 0.8:
            return "\n"
        short = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
        if c in short and (c != "\t" or self.rng.random() < 0.5):
            return short[c]
        if ord(c) < 0x20 or ord(c) == 0x7F or (ord(c) > 0x7F and self.rng.random() < 0.3):
            return "\\u%04X" % ord(c) if ord(c) <= 0xFFFF and self.rng.random() < 0.7 else "\\U%08x" % ord(c)
        return c

    def basic(self, text: str) -> str:
        return '"' + "".join(self.escape(c, False) for c in text) + '"'

    def write_string(self, text: str) -> str:
        forms = ["basic", "ml_basic"]
        controls = any(ord(c) < 0x20 and c not in "\t\n" or ord(c) == 0x7F for c in text)
        if "'" not in text and "\n" not in text and "\r" not in text and not controls:
            forms.append("literal")
        if "'''" not in text and "\r" not in text and not controls and not text.endswith("'"):
            forms.append("ml_literal")
        form = self.rng.choice(forms)
        if form == "basic":
            return self.basic(text)
        if form == "literal":
            return "'" + text + "'"
        newline = "\n" if self.rng.random() < 0.5 else ""
        if form == "ml_literal":
            if text.startswith("\n") and not newline:
                newline = "\n"   # a first newline right after ''' is trimmed
            return "'''" + newline + text + "'''"
        body = ""
        for i, c in enumerate(text):
            if i and not c.isspace() and self.rng.random() < 0.1:
                body += "\\" + self.rng.choice(["", " ", "\t"]) + "\n" + self.rng.choice(["", "  ", "\t", "\n  "])
            body += self.escape(c, True)
        if body.startswith("\n") and not newline:
            newline = "\n"
        return '"""' + newline + body + '"""'

    def write_integer(self, value: int) -> str:
        if value >= 0 and self.rng.random() < 0.4:
            base = self.rng.choice(["x", "o", "b"])
            digits = {"x": "%x", "o": "%o", "b": "{:b}"}[base]
            text = digits.format(value) if base == "b" else digits % value
            if base == "x" and self.rng.random() < 0.5:
                text = text.upper()
            if self.rng.random() < 0.2:
                text = "0" * self.rng.randint(1, 3) + text
            return "0" + base + self.digits(text)
        sign = "+" if value >= 0 and self.rng.random() < 0.2 else ""
        return sign + ("-" + self.digits(str(-value)) if value < 0 else self.digits(str(value)))

    def write_value(self, value, indent: str) -> str:
        kind, content = value
        if kind == "string":
            return self.write_string(content)
        if kind == "integer":
            return self.write_integer(content)
        if kind == "float":
            return content
        if kind == "bool":
            return "true" if content else "false"
        if kind == "table":
            return self.write_inline_table(content, indent)
        items = content if kind == "array" else [("table", t) for t in content]
        return self.write_array(items, indent)

    def write_array(self, items, indent: str) -> str:
        if not items:
            return "[" + self.blank() + "]"
        if self.rng.random() < 0.5:
            text = "[" + ("," + self.blank()).join(self.blank() + self.write_value(v, indent) for v in items)
            return text + ("," if self.rng.random() < 0.3 else "") + self.blank() + "]"
        # Over several lines, with comments and blank lines between the values.
        newline = self.newline
        text = "[" + self.comment() + newline
        for i, item in enumerate(items):
            if self.rng.random() < 0.2:
                text += indent + self.comment().strip() + newline
            comma = "," if i < len(items) - 1 or self.rng.random() < 0.5 else ""
            text += indent + "  " + self.write_value(item, indent + "  ") + self.blank() + comma + self.comment() + newline
        return text + indent + "]"

    def write_inline_table(self, table: dict, indent: str) -> str:
        if not table:
            return "{" + self.blank() + "}"
        parts = []
        for key, value in table.items():
            for path, leaf in self.flatten([key], value, inline=True):
                parts.append(self.write_key(path) + self.blank() + "=" + self.blank() + self.write_value(leaf, indent))
        return "{" + self.blank() + ("," + self.blank()).join(parts) + self.blank() + "}"

    def flatten(self, path: list[str], value, inline: bool):
        """key/value pairs for a value: a table may become dotted keys."""
        kind, content = value
        if kind == "table" and content and self.rng.random() < 0.4:
            pairs = []
            for key, inner in content.items():
                pairs += self.flatten(path + [key], inner, inline)
            return pairs
        return [(path, value)]

    def document(self, tree: dict) -> str:
        self.newline = "\r\n" if self.rng.random() < 0.25 else "\n"
        root_lines, units = self.section([], tree)
        lines = root_lines + [line for unit in self.order(units) for line in unit[1]]
        text = ""
        for line in lines:
            text += line + self.blank() + self.newline
            if self.rng.random() < 0.1:
                text += self.blank() + self.comment().strip() + self.newline
        if self.rng.random() < 0.2:
            text = text.rstrip("\r\n")
        return text

    def section(self, path: list[str], table: dict):
        """The key/value lines of one table and the sections under it, as units:
        (group, lines); elements of one array of tables share a group and keep
        their order, everything else may go anywhere after the root lines."""
        lines, units = [], []
        indent = self.rng.choice(["", "", "  ", "\t"])
        items = list(table.items())
        self.rng.shuffle(items)
        for key, value in items:
            kind, content = value
            if kind == "table" and self.rng.random() < 0.5:
                child_lines, child_units = self.section(path + [key], content)
                units += child_units
                if child_lines or not child_units or self.rng.random() < 0.5:
                    header = "[" + self.blank() + self.write_key(path + [key]) + self.blank() + "]"
                    units.append((object(), [indent[:-1] + header + self.comment()] + child_lines))
                continue
            if kind == "tables" and self.rng.random() < 0.6:
                group = object()
                for element in content:
                    child_lines, child_units = self.section(path + [key], element)
                    header = "[[" + self.blank() + self.write_key(path + [key]) + self.blank() + "]]"
                    block = [header + self.comment()] + child_lines
                    block += [line for unit in self.order(child_units) for line in unit[1]]
                    units.append((group, block))
                continue
            for key_path, leaf in self.flatten([key], value, inline=False):
                lines.append(indent + self.write_key(key_path) + self.blank() + "=" + self.blank() +
                             self.write_value(leaf, indent) + self.comment())
        return lines, units

    def order(self, units):
        """Shuffled, but the elements of each array of tables in their order."""
        shuffled = list(units)
        self.rng.shuffle(shuffled)
        queues = {}
        for group, block in units:
            queues.setdefault(id(group), []).append(block)
        return [(group, queues[id(group)].pop(0)) for group, _ in shuffled]

    # ---- one-edit mutations ---------------------------------------------------------

    def mutate(self, text: str) -> str:
        if not text:
            return "="
        i = self.rng.randrange(len(text))
        edit = self.rng.choice(["delete", "insert", "insert", "duplicate_line", "swap_lines", "truncate"])
        if edit == "delete":
            return text[:i] + text[i + 1:]
        if edit == "insert":
            c = self.rng.choice(list("=[]{}\"'#,.\\ _0xe+-:\n\r\t") + ["\u0001", "\u007f", "é", "1979-05-27", "]]", "[["])
            return text[:i] + c + text[i:]
        lines = text.split("\n")
        if edit == "duplicate_line":
            j = self.rng.randrange(len(lines))
            lines.insert(j, lines[j])
        elif edit == "swap_lines" and len(lines) > 1:
            j, k = self.rng.sample(range(len(lines)), 2)
            lines[j], lines[k] = lines[k], lines[j]
        else:
            return text[:i]
        return "\n".join(lines)


def model(value):
    """What tomllib should read for a generated value (to check the generator)."""
    kind, content = value
    if kind == "table":
        return {k: model(v) for k, v in content.items()}
    if kind == "tables":
        return [model(("table", t)) for t in content]
    if kind == "array":
        return [model(v) for v in content]
    if kind == "float":
        return float(content.replace("_", ""))
    return content


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


# --------------------------------------------------------------------------------------
# Configurations and hand-written cases
# --------------------------------------------------------------------------------------

def configurations() -> list[tuple[str, bytes]]:
    cases = [(f"config/{p.name}", p.read_bytes()) for p in sorted((REPO / "config").glob("*.toml"))]
    sys.path.insert(0, str(REPO / "Tests" / "e2e"))
    from harness import render_config  # noqa: E402  (standard library only)
    spool, cert, key, users = Path("/tmp/spool"), Path("/tmp/cert.pem"), Path("/tmp/key.pem"), Path("/tmp/users")
    variants = [
        {},
        {"limits": {"max_message_size": "10MB", "max_recipients": 10, "bare_newline": "normalize"}},
        {"scrub": {"mode": None, "remove": ["X-Foo", "X-Bar-*"], "keep": ["X-Keep"], "message_id": "rewrite"}},
        {"delivery": {"mode": "mx", "retry": ["1s", "2s"], "tls": "verify"},
         "routes": [{"domain": "a.example", "route": "[127.0.0.2]:2525", "tls": "none"},
                    {"domain": "b.example", "route": "[127.0.0.3]:2526"}]},
        {"dns": {"servers": ["127.0.0.1@5353"]}, "metrics": {"address": "127.0.0.1:0"}, "log": {"format": "json"}},
        {"listeners": [{"name": "proxy", "tls": "none", "auth": "off", "proxy_protocol": True,
                        "proxy_networks": ["127.0.0.0/8", "::1/128"], "relay_networks": []}]},
        {"top": {"hostname": 'quote"and\\backslash.test', "control_socket": "/tmp/x y/veil.sock"}},
    ]
    for number, options in enumerate(variants):
        text = render_config(spool, cert, key, users, **options)
        cases.append((f"harness-{number}", text.encode()))
    return cases


VALID = [
    # Comments inside multi-line arrays, inline tables, quoted keys, tables in any order.
    'a = [\n  1, # one\n  # a whole line\n  2,\n]\n',
    'a = [ # c\n]\n',
    'a = [\n\n]\n',
    '[x.y.z]\nq = 1\n[x]\np = 2\n',
    '[a.b]\n[a]\n[a.c]\n',
    '"quoted key" = 1\n\'literal key\' = 2\n"" = 3\n"a.b" = 4\n"\\u00e9" = 5\n',
    'site."google.com" = true\n',
    'fruit . color = "yellow"\nfruit.flavor="banana"\n',
    't = { a = 1, b.c = 2, "d e" = [1, {f = 3}] }\n',
    't = {}\nu = { }\n',
    'points = [ { x = 1, y = 2 }, { x = 7, y = 8 } ]\n',
    'arr = [\n  { a = 1 },\n  { a = [\n    2, # inside an inline table\n  ] },\n]\n',
    '[[p]]\nname = "a"\n[p.sub]\nx = 1\n[[p.list]]\ny = 1\n[[p]]\nname = "b"\n[[p.list]]\n',
    '[fruit]\napple.color = "red"\napple.taste.sweet = true\n[fruit.apple.texture]\nsmooth = true\n',
    '[a.b.c]\nz = 9\n[a]\nb.d = 1\n',
    'a.b = 1\n[a.c]\n',
    '[[a.b]]\n[a]\nc = 1\n',
    # Strings.
    's = "\\b\\t\\n\\f\\r\\"\\\\\\u00E9\\U0001F600"\n',
    's = """\nfirst line trimmed"""\n',
    's = """a\\\n   \n  b"""\n',
    's = """a\\   \n  b"""\n',
    's = """""a"""""\n',
    's = \'\'\'\'\'a\'\'\'\'\'\n',
    's = """"""\n',
    "s = '''\nraw \\n and \"quotes\"\n'''\n",
    's = "tab\tinside"\n',
    "s = 'C:\\\\Users\\\\x'\n",
    's = """\r\ncrlf\r\nbody"""\r\n',
    's = "\\u0000"\n',
    # Numbers and booleans.
    'i = [+99, 42, 0, -17, 1_000, 5_349_221, 1_2_3_4_5, -0, +0, 9223372036854775807, -9223372036854775808]\n',
    'h = [0xDEADBEEF, 0xdeadbeef, 0xdead_beef, 0o01234567, 0o755, 0b11010110, 0x7FFFFFFFFFFFFFFF, 0x00]\n',
    'f = [+1.0, 3.1415, -0.01, 5e+22, 1e06, -2E-2, 6.626e-34, 224_617.445_991_228, 0.0, -0.0, 1e-0]\n',
    'f = [inf, +inf, -inf, nan, +nan, -nan]\n',
    'b = [true, false]\n',
    'mixed = [1, "a", 2.5, true, [1, 2], {a = 1}]\n',
    # Blanks, CRLF, no final newline.
    '\t a = 1 \t\r\n [ t ] \t# c\r\n\tb = 2',
    '# only a comment',
    '',
    '\n\n\n',
    'a=1#no space',
    '["a b".\'c\'  .   d]\nx = 1\n',
    '[[ a ]]\n[[a]]\n',
    '1234 = 1\n',
    '3.14159 = "pi"\n',
    'true = 1\ninf = 2\n',
    'a = "# not a comment"\n',
    'a = [[1, 2], [3, [4, [5]]]]\n',
    '"é" = 1\n',
]

INVALID = [
    # Redefinitions (TOML 1.0 §Keys, §Table, §Inline Table, §Array of Tables).
    'a = 1\na = 2\n',
    'a = 1\n"a" = 2\n',
    'a.b = 1\na.b = 2\n',
    'a = 1\na.b = 2\n',
    'a.b = 1\na = 2\n',
    '[a]\n[a]\n',
    '[a]\nb = 1\n[a.b]\n',
    '[a]\nb.c = 1\n[a.b]\n',
    '[a.b]\n[a]\nb.c = 1\n',
    '[a]\n[a.b]\n[a]\n',
    '[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n',
    '[a.b.c]\n[a]\nb.d = 1\n[a.b]\n',
    'a = {}\n[a]\n',
    'a = {}\n[a.b]\n',
    'a = {b = 1}\na.c = 2\n',
    't = {a = 1, a = 2}\n',
    't = {a = {b = 1}, a.c = 2}\n',
    't = {a.b = 1, a.b.c = 2}\n',
    'a = []\n[[a]]\n',
    'a = [{}]\n[a.b]\n',
    '[a]\n[[a]]\n',
    '[[a]]\n[a]\n',
    '[[a]]\nb = 1\n[a.b]\n',
    '[[a]]\n[[a.b]]\n[a.b]\n',
    '[a]\nb = 1\n[[a.b]]\n',
    '[a.b]\n[[a]]\n',
    # Inline tables stay on one line, with no trailing comma.
    't = {a = 1,}\n',
    't = {\na = 1 }\n',
    't = {a = 1\n}\n',
    't = {a = 1 b = 2}\n',
    't = {,}\n',
    # Arrays.
    'a = [1,,2]\n',
    'a = [,]\n',
    'a = [1 2]\n',
    'a = [1,\n',
    'a = [\n1\n',
    # Keys and lines.
    '= 1\n',
    'a\n',
    'a = \n',
    'a = 1 b = 2\n',
    'a.= 1\n',
    '.a = 1\n',
    'a..b = 1\n',
    '[a\n',
    '[]\n',
    '[a.]\n',
    '[[a]\n',
    '[ [a]]\n',
    '[[a] ]\n',
    'a b = 1\n',
    '"""a""" = 1\n',
    'k\u00e9 = 1\n',
    # Strings.
    's = "unterminated\n',
    "s = 'unterminated\n",
    's = """unterminated\n',
    's = "\\x41"\n',
    's = "\\e"\n',
    's = "\\uD800"\n',
    's = "\\U00110000"\n',
    's = "\\u12"\n',
    's = "a\u0001b"\n',
    's = "a\u007fb"\n',
    "s = 'a\u0000b'\n",
    's = """a\\ b"""\n',
    's = """""""""\n',
    "s = '''a''''''\n",
    's = "a\rb"\n',
    's = """a\rb"""\n',
    # Numbers.
    'i = 01\n', 'i = -01\n', 'i = 1__0\n', 'i = _1\n', 'i = 1_\n', 'i = 0X1F\n', 'i = 0x\n', 'i = 0x_1\n',
    'i = -0x1\n', 'i = +0o7\n', 'i = 0o8\n', 'i = 0b2\n', 'i = 1e\n', 'i = 1.\n', 'i = .1\n', 'i = 1.e2\n',
    'i = 1._2\n', 'i = 1e_2\n', 'i = 00.1\n', 'i = Inf\n', 'i = NaN\n', 'i = infinity\n', 'i = 1.2.3\n',
    'i = ++1\n', 'i = 0xg\n', 'i = 1 000\n',
    # Booleans and bare words.
    'b = True\n', 'b = yes\n', 'b = truee\n', 's = bare\n',
    # Comments and line ends.
    'a = 1 # \u0001\n',
    'a = 1 # \u007f\n',
    'a = 1\rb = 2\n',
    'a = 1\r',
    '# comment\r\n\r',
]

INVALID_BYTES = [
    b'a = "\xff"\n',
    b'a = 1 # \xc3\x28\n',
    b'\xef\xbb\xbfa = 1\n',       # byte order mark: tomllib refuses it, so does Veil
    b'a = "\xed\xa0\x80"\n',      # an encoded surrogate
    b'a = "\xc0\xaf"\n',          # overlong
]

REFUSED_BY_VEIL = [
    'd = 1979-05-27\n',
    'd = 1979-05-27T07:32:00Z\n',
    'd = 1979-05-27 07:32:00-08:00\n',
    'd = 07:32:00\n',
    'd = [1979-05-27]\n',
    'i = 9223372036854775808\n',
    'i = -9223372036854775809\n',
    'i = 0xFFFFFFFFFFFFFFFF\n',
]


def main() -> None:
    out = Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    generator = Generator(rng)
    documents: list[tuple[str, bytes]] = configurations()
    generated = []
    for number in range(count):
        tree = generator.table(0)
        text = generator.document(tree)
        parsed = tomllib.loads(text)
        if not same(parsed, {k: model(v) for k, v in tree.items()}):
            sys.exit(f"generator bug in document {number}:\n{text}")
        generated.append(text)
        documents.append((f"generated-{number}", text.encode()))
    for number in range(count):
        documents.append((f"mutated-{number}", generator.mutate(rng.choice(generated)).encode()))
    documents += [(f"valid-{n}", t.encode()) for n, t in enumerate(VALID)]
    documents += [(f"invalid-{n}", t.encode()) for n, t in enumerate(INVALID)]
    documents += [(f"invalid-bytes-{n}", b) for n, b in enumerate(INVALID_BYTES)]
    documents += [(f"refused-{n}", t.encode()) for n, t in enumerate(REFUSED_BY_VEIL)]

    cases = []
    for number, (name, data) in enumerate(documents):
        file = f"{number:04d}.toml"
        (out / file).write_bytes(data)
        case = {"name": name, "file": file, **reference(data)}
        if name.startswith("valid-") and case["expected"] is None:
            sys.exit(f"{name} should be valid TOML: {case}")
        if name.startswith("invalid") and (case["expected"] is not None or "veil_refuses" in case):
            sys.exit(f"{name} should be invalid TOML")
        if name.startswith("refused-") and "veil_refuses" not in case:
            sys.exit(f"{name} should be accepted by tomllib and refused by Veil: {case}")
        cases.append(case)
    (out / "cases.json").write_text(json.dumps(cases, indent=1))


if __name__ == "__main__":
    main()
