"""What Veil's MIME walker should make of a message, computed independently in Python.

Longer than 300 lines: the model has to read Content-Type (RFC 2045 with RFC 5322
comments and folding) and walk nested multiparts on its own, without Veil's code.

The contract (issue 7), in short:

- every `boundary` parameter of every Content-Type field (top level, MIME parts,
  embedded messages) is replaced by `"=_veil_" + base32(HMAC-SHA256(key,
  "boundary:" + old)[:20])` (lower case, unpadded), always written quoted; the rest of
  the field keeps its bytes. `old` is the value unquoted (`\\\\` and `\\"` resolved),
  or unquoted up to the next `;`, trailing spaces and tabs removed; an empty value
  or one longer than 1000 bytes is left alone;
- a body line of at most 1024 bytes `"--" old ["--"] *(SP / HTAB) (CRLF / LF / end
  of message)` for an active boundary (innermost first, then the enclosing ones) becomes `"--" new` and
  the same suffix; nothing else in the body changes;
- the header block of a message/rfc822 or message/global part whose transfer
  encoding is absent, 7bit, 8bit or binary (and of a text/rfc822-headers or
  message/global-headers part) is scrubbed like the top level, with no trace field,
  Date or Message-ID added (an mbox "From " line before it is kept);
- the own header block of every MIME part that is read (issue 12) loses the fields
  the rules do not let out (in allowlist mode all but Content-* and the few other
  allowlisted names; in denylist mode the profile's and `remove`'s), its ids are not
  mapped (the HTML's cid: links name its Content-ID); in a
  multipart/digest a part without Content-Type is message/rfc822; the parts of
  multipart/signed and multipart/encrypted are not read (only their delimiters
  change, and mime_skipped is logged); with
  `[scrub] embedded_messages = false` such a part passes as it is, its own boundaries
  included (docs/scrubbing.md), the enclosing ones still replaced;
- a part header block ends at the empty line, at a delimiter line, or at a line that
  is not a header field (which then belongs to the part's content); a line starting
  with space or tab is a field line even as the block's first;
- a header block that cannot be split into fields (its first line a continuation, a
  NUL byte) passes as it is and its entity is body text; so does one larger than
  `max_header_size` (the lines read before the limit pass as they were, the line
  that crossed it is body text);
- at most 32 levels (the message is level 1; a multipart part or an embedded message
  is one deeper): deeper entities pass untouched, their header block not read;
- `unreadable` lists what `[scrub] mode = "allowlist"` refuses the message for (554
  5.6.0): a header block that is malformed, larger than `max_header_size` or ended by
  a line that is neither the empty line nor a delimiter, and nesting deeper than 32
  levels. In denylist mode these pass as above, and `mime_skipped` is logged for all
  but the block ended by another line;
- `mime_rewritten` = boundary parameters replaced + delimiter lines replaced + fields
  of embedded header blocks removed or rewritten + fields of part header blocks
  removed.

`rewrite()` models that line by line (the top-level header block only for its
Content-Type: the caller checks the other top-level fields). It knows nothing of
Veil's sources; the tests compare Veil's output with it byte for byte.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Callable

MAX_DEPTH = 32
MAX_HEADER_SIZE = 256 * 1024          # [limits] max_header_size, Veil's default
PREFIX = b"=_veil_"

# A header scrubber for embedded header blocks (or a part's own header block): the
# block's fields (raw bytes, folding and line ends included) in, the fields that stay
# (rewritten where needed) and the number of fields removed or rewritten out.
HeaderScrubber = Callable[[list[bytes]], tuple[list[bytes], int]]


def new_boundary(key: bytes, old: bytes) -> bytes:
    digest = hmac.new(key, b"boundary:" + old, hashlib.sha256).digest()[:20]
    return PREFIX + base64.b32encode(digest).rstrip(b"=").lower()


# --------------------------------------------------------------------------------------
# Lines and header fields
# --------------------------------------------------------------------------------------

LINE_RE = re.compile(rb"[^\n]*\n|[^\n]+\Z")


def lines_of(data: bytes) -> list[bytes]:
    """Lines with their line ends (LF or CRLF); the last one may have none."""
    return LINE_RE.findall(data)


def is_empty_line(line: bytes) -> bool:
    return line in (b"\r\n", b"\n")


def group_fields(lines: list[bytes]) -> list[bytes]:
    """Header lines -> fields (a line starting with space or tab continues the field)."""
    fields: list[bytes] = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields


FIELD_START_RE = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")


def is_header_line(line: bytes, continuing: bool) -> bool:
    """A line of a header block: a field's first line, or (after one) a continuation."""
    return bool(FIELD_START_RE.match(line)) or (continuing and line[:1] in (b" ", b"\t"))


def field_name(raw: bytes) -> bytes:
    return raw.split(b":", 1)[0].rstrip(b" \t").lower() if b":" in raw else b""


def split_top(data: bytes) -> tuple[list[bytes], bytes, bytes]:
    """(top-level header fields, the empty line ending them or b"", body)."""
    lines = lines_of(data)
    for index, line in enumerate(lines):
        if is_empty_line(line):
            return group_fields(lines[:index]), line, b"".join(lines[index + 1:])
    return group_fields(lines), b"", b""


# --------------------------------------------------------------------------------------
# Content-Type (RFC 2045 5.1, comments and folding as RFC 5322 CFWS)
# --------------------------------------------------------------------------------------

TSPECIALS = b'()<>@,;:\\"/[]?='


def _token_byte(byte: int) -> bool:
    return 32 < byte < 127 and byte not in TSPECIALS


class _Scanner:
    def __init__(self, data: bytes, index: int):
        self.data, self.i = data, index

    def cfws(self):
        depth = 0
        while self.i < len(self.data):
            c = self.data[self.i]
            if c == ord("("):
                depth += 1
            elif c == ord(")") and depth:
                depth -= 1
            elif c == ord("\\") and depth:
                self.i += 1
            elif not depth and c not in b" \t\r\n":
                return
            self.i += 1

    def token(self) -> bytes:
        start = self.i
        while self.i < len(self.data) and _token_byte(self.data[self.i]):
            self.i += 1
        return self.data[start:self.i]

    def value(self) -> bytes:
        """Up to the next ";" (trailing white space not included), or a quoted-string
        unquoted (\\\\ and \\" resolved, folding CRLFs dropped)."""
        if self.i >= len(self.data) or self.data[self.i] != ord('"'):
            start = self.i
            while self.i < len(self.data) and self.data[self.i] != ord(";"):
                self.i += 1
            while self.i > start and self.data[self.i - 1] in b" \t\r\n":
                self.i -= 1
            return self.data[start:self.i]
        self.i += 1
        out = bytearray()
        while self.i < len(self.data):
            c = self.data[self.i]
            self.i += 1
            if c == ord('"'):
                break
            if c == ord("\\") and self.i < len(self.data) and self.data[self.i] in b'\\"':
                out.append(self.data[self.i])
                self.i += 1
            elif c not in b"\r\n":
                out.append(c)
        return bytes(out)

    def next_parameter(self) -> bool:
        while self.i < len(self.data):
            c = self.data[self.i]
            if c == ord(";"):
                self.i += 1
                return True
            if c == ord('"'):
                self.value()
            elif c == ord("("):
                self.cfws()
            else:
                self.i += 1
        return False


@dataclass
class ContentType:
    media_type: bytes | None                 # lower-case type/subtype, None if unreadable
    boundary: bytes | None                   # the first non-empty boundary, as parsers read it
    spans: list[tuple[int, int, bytes]]      # (start, end, old) of every non-empty boundary value

    @property
    def is_multipart(self) -> bool:
        return bool(self.media_type and self.media_type.startswith(b"multipart/"))


def parse_content_type(raw: bytes) -> ContentType:
    # The field's own line end is never part of a value (an unterminated quoted
    # string stops before it).
    raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1] if raw.endswith(b"\n") else raw
    s = _Scanner(raw, raw.index(b":") + 1 if b":" in raw else len(raw))
    s.cfws()
    kind = s.token()
    s.cfws()
    media = None
    if kind and s.i < len(raw) and raw[s.i] == ord("/"):
        s.i += 1
        s.cfws()
        sub = s.token()
        if sub:
            media = (kind + b"/" + sub).lower()
    spans = []
    while s.next_parameter():
        s.cfws()
        attribute = s.token().lower()
        s.cfws()
        if s.i >= len(raw) or raw[s.i] != ord("="):
            continue
        s.i += 1
        s.cfws()
        start = s.i
        value = s.value().rstrip(b" \t")
        if attribute == b"boundary" and s.i > start and value and len(value) <= 1000:
            spans.append((start, s.i, value))
    return ContentType(media, spans[0][2] if spans else None, spans)


def replace_boundaries(raw: bytes, key: bytes) -> tuple[bytes, list[bytes]]:
    """The field with every boundary value replaced (quoted); the old values."""
    ct = parse_content_type(raw)
    out, copied = b"", 0
    for start, end, old in ct.spans:
        out += raw[copied:start] + b'"' + new_boundary(key, old) + b'"'
        copied = end
    return out + raw[copied:], [old for _, _, old in ct.spans]


def transfer_encoding_is_identity(fields: list[bytes]) -> bool:
    cte = [f for f in fields if field_name(f) == b"content-transfer-encoding"]
    if not cte:
        return True
    s = _Scanner(cte[0], cte[0].index(b":") + 1)
    s.cfws()
    return s.token().lower() in (b"", b"7bit", b"8bit", b"binary")


# --------------------------------------------------------------------------------------
# The walk
# --------------------------------------------------------------------------------------

DELIMITER_SUFFIX_RE = re.compile(rb"(?:--)?[ \t]*(?:\r?\n)?")


@dataclass
class _Active:
    old: bytes
    new: bytes
    depth: int          # level of the multipart entity the boundary belongs to
    digest: bool
    left_alone: bool    # multipart/signed or multipart/encrypted: parts not read


@dataclass
class Expected:
    header_fields: list[bytes]           # top-level fields, only Content-Type changed
    separator: bytes                     # the empty line after the top-level header block
    body: bytes
    count: int                           # mime_rewritten
    skipped: bool                        # some entity was not read (mime_skipped)
    boundaries: dict[bytes, bytes] = field(default_factory=dict)   # old -> new, every one replaced
    delimiters: int = 0                  # delimiter lines replaced
    parameters: int = 0                  # boundary parameters replaced
    scrubbed_fields: int = 0             # fields of embedded header blocks removed or rewritten
    part_fields: int = 0                 # fields of part header blocks removed
    unreadable: list[str] = field(default_factory=list)   # why the allowlist refuses it (empty: it does not)

    @property
    def content_type(self) -> list[bytes]:
        return [f for f in self.header_fields if field_name(f) == b"content-type"]

    @property
    def message(self) -> bytes:
        return b"".join(self.header_fields) + self.separator + self.body


def rewrite(data: bytes, key: bytes, scrub: HeaderScrubber | None = None,
            max_depth: int = MAX_DEPTH, part_scrub: HeaderScrubber | None = None,
            max_header_size: int = MAX_HEADER_SIZE) -> Expected:
    """The message as Veil's MIME walker should leave it (top-level fields other than
    Content-Type as they were). `scrub` scrubs embedded header blocks; None: embedded
    messages pass as they are, boundaries included (`embedded_messages = false`).
    `part_scrub` scrubs the own header blocks of MIME parts; None: they keep every
    field. `max_header_size` is [limits] max_header_size."""
    top_fields, separator, body = split_top(data)
    result = Expected([], separator, b"", 0, False)
    stack: list[_Active] = []
    out: list[bytes] = []

    def boundary_fields(fields: list[bytes]) -> list[bytes]:
        done = []
        for f in fields:
            if field_name(f) == b"content-type":
                f, olds = replace_boundaries(f, key)
                for old in olds:
                    result.boundaries[old] = new_boundary(key, old)
                result.parameters += len(olds)
            done.append(f)
        return done

    # What follows a header block (of the entity at `depth`, its fields as they came):
    # ("body",) or ("header", depth, kind, default type).
    def after_header(fields: list[bytes], depth: int, default: bytes):
        types = [parse_content_type(f) for f in fields if field_name(f) == b"content-type"]
        ct = types[0] if types else None
        media = (ct.media_type or b"text/plain") if ct else default
        if media.startswith(b"multipart/") and ct and ct.boundary:
            left_alone = media in (b"multipart/signed", b"multipart/encrypted")
            result.skipped |= left_alone
            stack.append(_Active(ct.boundary, new_boundary(key, ct.boundary), depth, media == b"multipart/digest",
                                 left_alone))
            return ("body",)
        if scrub is None:
            return ("body",)
        if media in (b"message/rfc822", b"message/global") and transfer_encoding_is_identity(fields):
            if depth + 1 > max_depth:
                too_deep()
                return ("body",)
            return ("header", depth + 1, "message", b"text/plain")
        if media in (b"text/rfc822-headers", b"message/global-headers") and transfer_encoding_is_identity(fields):
            if depth + 1 > max_depth:
                too_deep()
                return ("body",)
            return ("header", depth + 1, "headers", b"")
        return ("body",)

    def too_deep():
        result.skipped = True
        result.unreadable.append("nesting deeper than 32 levels")

    def finish_header(lines: list[bytes], mode) -> tuple:
        _, depth, kind, default = mode
        if lines and (lines[0][:1] in (b" ", b"\t") or any(b"\0" in line for line in lines)):
            # Not header fields: the block passes as it is, what follows is body text.
            out.extend(lines)
            result.skipped = True
            result.unreadable.append("a malformed header block")
            return ("body",)
        fields = group_fields(lines)
        if kind in ("message", "headers"):
            fields, n = scrub(fields)
            result.scrubbed_fields += n
        elif part_scrub is not None:
            fields, n = part_scrub(fields)
            result.part_fields += n
        out.extend(boundary_fields(fields))
        return ("body",) if kind == "headers" else after_header(fields, depth, default)

    def delimiter(line: bytes):
        if not line.startswith(b"--") or len(line) > 1024:
            return None
        for level in range(len(stack) - 1, -1, -1):
            old = stack[level].old
            if line.startswith(b"--" + old) and DELIMITER_SUFFIX_RE.fullmatch(line, 2 + len(old)):
                return level
        return None

    result.header_fields = boundary_fields(top_fields)
    mode = after_header(top_fields, 1, b"text/plain") if separator else ("body",)
    pending: list[bytes] = []

    def feed(line: bytes):
        nonlocal mode, pending
        level = delimiter(line)
        if mode[0] == "header" and sum(map(len, pending)) + len(line) > max_header_size:
            # Too large to read: the lines so far pass as they were; this line and
            # what follows are body text.
            out.extend(pending)
            pending = []
            result.skipped = True
            result.unreadable.append("a header block over max_header_size")
            mode = ("body",)
        if mode[0] == "header":
            if level is None and is_header_line(line, True):
                pending.append(line)
                return
            if mode[2] == "message" and not pending and line.startswith(b"From "):
                out.append(line)         # an mbox From line before the header block
                return
            mode = finish_header(pending, mode)
            pending = []
            if is_empty_line(line):      # the empty line ending the block
                out.append(line)
                return
            if level is None:
                # Not a header line: the block ended without its empty line, and
                # this is the first line of what follows (perhaps the header block
                # of an embedded message), read with the boundaries now active.
                result.unreadable.append("a header block ended by a line that is not empty")
                feed(line)
                return
            # A delimiter ends the block too (it was matched before the block's
            # own boundary, if any, became active).
        if level is None:
            out.append(line)
            return
        active = stack[level]
        del stack[level + 1:]
        suffix = line[2 + len(active.old):]
        out.append(b"--" + active.new + suffix)
        result.delimiters += 1
        if suffix.startswith(b"--"):
            del stack[level]
            mode = ("body",)
        elif active.left_alone:
            mode = ("body",)
        elif active.depth + 1 > max_depth:
            too_deep()
            mode = ("body",)
        else:
            mode = ("header", active.depth + 1, "part",
                    b"message/rfc822" if active.digest else b"text/plain")

    for line in lines_of(body):
        feed(line)
    if mode[0] == "header" and pending:
        finish_header(pending, mode)
    result.body = b"".join(out)
    result.count = result.parameters + result.delimiters + result.scrubbed_fields + result.part_fields
    return result


def unmap(data: bytes, boundaries: dict[bytes, bytes]) -> bytes:
    """Every new boundary replaced by its old one."""
    for old, new in boundaries.items():
        data = data.replace(new, old)
    return data


BOUNDARY_PARAMETER_RE = re.compile(rb'(?i)(boundary[ \t]*=[ \t]*)("(?:[^"\\]|\\.)*"|[^\s;()"]+)')


def check_same_but_boundaries(output: bytes, original: bytes, boundaries: dict[bytes, bytes]):
    """Independent of rewrite(): `output` has the lines of `original`, where each line
    that differs is the same once its new boundaries are mapped back (delimiter lines,
    plain quoted parameters) or once the boundary parameter's value is blanked out
    (a value that was a token, had quoted pairs or trailing spaces). For messages
    without embedded or part header fields to scrub: nothing lost, nothing else
    changed."""
    out_lines, in_lines = lines_of(output), lines_of(original)
    assert len(out_lines) == len(in_lines), f"{len(out_lines)} lines, expected {len(in_lines)}"
    for number, (got, was) in enumerate(zip(out_lines, in_lines), 1):
        if got == was or unmap(got, boundaries) == was:
            continue
        blank = lambda line: BOUNDARY_PARAMETER_RE.sub(rb"\1B", line)
        assert PREFIX in got and blank(got) == blank(was), f"line {number}: {got!r}, was {was!r}"


# --------------------------------------------------------------------------------------
# The MIME tree as Python's email package sees it
# --------------------------------------------------------------------------------------

def tree(data: bytes | email.message.Message, compare_headers: bool = False):
    """A nested description of the MIME tree: content type, parameters other than the
    boundary, preamble, epilogue, children or the decoded payload (but for
    text/rfc822-headers, which Python reads as text and Veil scrubs). With
    compare_headers, the part's fields other than Content-Type too (the top level and
    embedded messages are scrubbed, so they are not compared; MIME part headers lose
    only fields other than Content-*, which the messages compared this way have none
    of)."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32) if isinstance(data, bytes) else data
    params = [(k.lower(), v) for k, v in (msg.get_params() or [])[1:] if k.lower() != "boundary"]
    node = {"type": msg.get_content_type(), "params": params}
    if compare_headers:
        node["fields"] = [(k.lower(), v) for k, v in msg.items() if k.lower() != "content-type"]
    if msg.is_multipart():
        embedded = msg.get_content_maintype() == "message"
        node["preamble"], node["epilogue"] = msg.preamble, msg.epilogue
        node["parts"] = [tree(p, compare_headers=not embedded) for p in msg.get_payload()]
    elif msg.get_content_type() != "text/rfc822-headers":   # a header block: scrubbed
        node["payload"] = msg.get_payload(decode=True)
    return node


def shape(node) -> list:
    """Only the content types, nested: for messages whose embedded headers differ."""
    return [node["type"], [shape(p) for p in node.get("parts", [])]]
