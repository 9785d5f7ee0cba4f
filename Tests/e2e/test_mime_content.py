# Longer than 300 lines: one case per content type the walker rewrites (calendars, TNEF, attached messages, encodings), each a real round trip.
"""Content of MIME parts (issue 12) through the real binary, delivered to a real MTA
(Postfix's smtp-sink): TNEF refused or removed, the PRODID of calendar parts replaced,
encoded attached messages (base64 / quoted-printable message/rfc822 and
message/global) decoded, scrubbed and re-encoded with the same encoding.

These are the round trips through the daemon: TNEF refused with its reply while the
session goes on, calendar PRODIDs, base64 and quoted-printable attached messages,
and BDAT against DATA. The rewriter's cases on their own (TNEF removed wherever it
is, or refused where removing it would leave nothing; other attachments byte for
byte; calendars at the top level or folded inside the name; attached messages
inside encoded ones; encoded digest parts; unreadable attached header blocks; big
attachments) are Swift tests in Tests/MessageRewriterTests (TNEFTests,
EncodedPartTests), which build the same kinds of messages from the same texts
(corpus/mime/parts) and run in milliseconds.

Every message is built here from realistic Exchange 2016/2019 and Outlook 16 parts.
Each delivery test sends its messages to a destination that is not listening yet, so
that the spool file can be read after the first (refused) attempt; then the sink is
started and the delivered copies are read. Secrets are checked case-insensitively in
the spool file, the delivered copy and Veil's log.

Longer than 300 lines: the builders of realistic parts (winmail.dat, calendars,
attached messages) and the raw MIME readers the checks need are written out here,
independent of Veil's sources; the texts they fill in are in corpus/mime/parts.

The raw MIME helpers below (splitting at delimiter lines, decoding base64 and
quoted-printable the RFC 2045 way, CRLF kept) are independent of Veil's sources and
of mime_expect's walk model; Python's email package is used for the decoded trees.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import random
import re
import struct
from dataclasses import dataclass

import pytest

from harness import crlf, first_difference, queue_id, routed, send_data, wait_until
from mime_expect import lines_of, new_boundary
from sink import Relayed, spool_then_deliver
from test_scrub import (CORPUS_DIR, HELO, RECIPIENT, SENDER, daemon_log, leaked, mapped_id, named, scrub_key,
                        split_message)

SCRUB_REJECT = {"mode": "allowlist", "message_id": "rewrite", "received": "anonymous", "tnef": "reject"}
DOMAIN = RECIPIENT.split("@")[1]
VEIL_PRODID = b"PRODID:-//Veil//Veil//EN"


# --------------------------------------------------------------------------------------
# Encodings (RFC 2045 6.7 / 6.8), written out here: CRLF stays CRLF
# --------------------------------------------------------------------------------------

def b64_lines(data: bytes) -> bytes:
    """base64 in lines of 76 characters, CRLF, as Exchange writes attachments."""
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def qp_encode(data: bytes) -> bytes:
    """Quoted-printable of a text with CRLF line breaks (hard breaks stay CRLF, soft
    breaks `=` CRLF, lines of at most 76 characters). Binary data without CR/LF is one
    long 'line' broken softly."""
    out_lines = []
    for line in data.split(b"\r\n"):
        tokens = []
        for i, byte in enumerate(line):
            c = bytes([byte])
            last = i == len(line) - 1
            if (33 <= byte <= 126 and byte != 61) or (byte in (9, 32) and not last):
                tokens.append(c)
            else:
                tokens.append(b"=%02X" % byte)
        current = b""
        for token in tokens:
            if len(current) + len(token) > 75:
                out_lines.append(current + b"=")
                current = b""
            current += token
        out_lines.append(current)
    return b"\r\n".join(out_lines)


QP_LINE_RE = re.compile(rb"(?:[\x21-\x3c\x3e-\x7e \t]|=[0-9A-F]{2})*=?")


def check_qp(encoded: bytes, what: str):
    """Valid quoted-printable: CRLF lines of at most 76 characters, only printable
    ASCII, `=` only as =XX (upper case) or a soft line break, no trailing white space."""
    for number, line in enumerate(encoded.split(b"\r\n"), 1):
        assert len(line) <= 76, f"{what}: QP line {number} has {len(line)} characters: {line!r}"
        assert QP_LINE_RE.fullmatch(line), f"{what}: QP line {number} is not quoted-printable: {line!r}"
        assert not line.endswith((b" ", b"\t")), f"{what}: QP line {number} ends in white space: {line!r}"


def qp_decode(encoded: bytes) -> bytes:
    """RFC 2045 6.7, strict: a line ending in `=` is joined to the next, other line
    breaks are CRLF; trailing white space of a line is transport padding."""
    out = bytearray()
    lines = encoded.split(b"\r\n")
    for index, line in enumerate(lines):
        line = line.rstrip(b" \t")
        soft = line.endswith(b"=")
        if soft:
            line = line[:-1]
        out += re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m[1], 16)]), line)
        if not soft and index < len(lines) - 1:
            out += b"\r\n"
    return bytes(out)


def check_base64(encoded: bytes, what: str):
    for number, line in enumerate(encoded.split(b"\r\n"), 1):
        assert len(line) <= 76, f"{what}: base64 line {number} has {len(line)} characters"
        assert re.fullmatch(rb"[A-Za-z0-9+/]*={0,2}", line), f"{what}: base64 line {number}: {line!r}"


# --------------------------------------------------------------------------------------
# Raw MIME: entities, parts at delimiter lines, transfer decoding
# --------------------------------------------------------------------------------------

def split_entity(data: bytes) -> tuple[bytes, bytes]:
    """(header block with its empty line, content); CRLF or LF-only line ends."""
    m = re.search(rb"(?:^|\n)(\r?\n)", data)
    assert m, f"no empty line after the header block: {data[:300]!r}"
    return data[:m.end()], data[m.end():]


def header_of(header: bytes) -> email.message.Message:
    return email.message_from_bytes(header, policy=email.policy.compat32)


def cte_of(header: bytes) -> str:
    return (header_of(header).get("content-transfer-encoding") or "7bit").strip().lower()


@dataclass
class Split:
    preamble: bytes
    parts: list[bytes]          # each part's lines after its delimiter line, up to the next
    epilogue: bytes
    delimiters: list[bytes]     # the delimiter lines as they are


def split_multipart(body: bytes, boundary: bytes) -> Split:
    rx = re.compile(rb"--" + re.escape(boundary) + rb"(--)?[ \t]*\r?\n?")
    pre, parts, epi, delimiters = [], [], [], []
    current, closed = None, False
    for line in lines_of(body):
        if closed:
            epi.append(line)
            continue
        m = rx.fullmatch(line)
        if m:
            delimiters.append(line)
            if current is not None:
                parts.append(b"".join(current))
            current = None if m.group(1) else []
            closed = bool(m.group(1))
        elif current is None:
            pre.append(line)
        else:
            current.append(line)
    if current is not None:
        parts.append(b"".join(current))
    return Split(b"".join(pre), parts, b"".join(epi), delimiters)


def content_of(raw: bytes) -> bytes:
    """A part's content without the line end that belongs to the next delimiter line."""
    return raw[:-2] if raw.endswith(b"\r\n") else raw[:-1] if raw.endswith(b"\n") else raw


def decode_content(header: bytes, content: bytes) -> bytes:
    """The decoded content of a part (content as split_entity gives it)."""
    cte = cte_of(header)
    content = content_of(content)
    if cte == "base64":
        try:
            return base64.b64decode(b"".join(content.split()), validate=True)
        except ValueError as e:
            raise AssertionError(f"not base64 ({e}): {content[:200]!r}") from None
    if cte == "quoted-printable":
        return qp_decode(content)
    return content


def top_boundary(message: bytes) -> bytes:
    header, _ = split_entity(message)
    b = header_of(header).get_boundary()
    assert b, f"no boundary in {header[:500]!r}"
    return b.encode()


def leaves(entity: bytes, depth: int = 0) -> list[tuple[bytes, bytes]]:
    """(header, content) of every non-multipart entity, depth first; identity-encoded
    message/* parts are walked into, encoded ones are leaves."""
    header, content = split_entity(entity)
    h = header_of(header)
    if h.get_content_maintype() == "multipart" and h.get_boundary():
        out = []
        for part in split_multipart(content, h.get_boundary().encode()).parts:
            out += leaves(part, depth + 1)
        return out
    if h.get_content_type() in ("message/rfc822", "message/global") and cte_of(header) in ("7bit", "8bit", "binary"):
        return leaves(content, depth + 1)
    return [(header, content)]


def all_decoded(message: bytes) -> bytes:
    """The message and every leaf decoded (encoded attached messages opened too), for
    looking for secrets in whatever a mail program could show."""
    out = [message]
    for header, content in leaves(message):
        decoded = decode_content(header, content)
        out.append(decoded)
        if header_of(header).get_content_maintype() == "message" and cte_of(header) not in ("7bit", "8bit", "binary"):
            out.append(all_decoded(decoded))
    return b"\r\n".join(out)


def body_of(message: bytes) -> bytes:
    return split_entity(message)[1]


# --------------------------------------------------------------------------------------
# Realistic content
# --------------------------------------------------------------------------------------

# The texts of the Exchange header blocks, the meeting request and the message text,
# shared with the Swift tests (Tests/MessageRewriterTests/Support/ExchangeParts.swift).
PARTS = CORPUS_DIR / "mime" / "parts"


def template(name: str, **values: str) -> bytes:
    """A text of corpus/mime/parts with each @KEY@ replaced by its value, CRLF line ends."""
    text = (PARTS / name).read_text()
    for key, value in values.items():
        text = text.replace(f"@{key.upper()}@", value)
    return crlf(text)


LEGACY_DN = b"/O=CONTOSO/OU=EXCHANGE ADMINISTRATIVE GROUP (FYDIBOHF23SPDLT)/CN=RECIPIENTS/CN=ALICE"
TNEF_SERVER = b"EXMBX02.corp.example"
TNEF_SIGNATURE = b"\x78\x9f\x3e\x22"


def tnef_attribute(level: int, attribute: int, data: bytes) -> bytes:
    """[MS-OXTNEF] 2.1.3.3: level, attribute id (type << 16 | id), length, data, checksum."""
    return struct.pack("<BII", level, attribute, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def mapi_string(tag: int, value: bytes) -> bytes:
    """A PT_STRING8 property of an attMsgProps stream: tag, one value, its length, the
    bytes NUL-terminated and padded to 4."""
    value += b"\0"
    return struct.pack("<III", tag, 1, len(value)) + value + b"\0" * (-len(value) % 4)


def winmail_dat() -> bytes:
    """An Outlook rich-text message as Exchange 2016 wraps it for a remote domain with
    TNEFEnabled: signature 0x223E9F78, legacy key, message attributes (version, code
    page, class, MAPI properties naming the sender's legacy Exchange DN and mailbox
    server) and one attached file."""
    properties = [
        mapi_string(0x0C1E001E, b"EX"),                     # PR_SENDER_ADDRTYPE
        mapi_string(0x0C1F001E, LEGACY_DN),                 # PR_SENDER_EMAIL_ADDRESS
        mapi_string(0x0065001E, LEGACY_DN),                 # PR_SENT_REPRESENTING_EMAIL_ADDRESS
        mapi_string(0x1035001E, b"<3c2d1e0f9a8b47c6@" + TNEF_SERVER + b">"),   # PR_INTERNET_MESSAGE_ID
        mapi_string(0x5D01001E, TNEF_SERVER),               # server name (PR_SENDER_SMTP_ADDRESS-ish)
    ]
    msg_props = struct.pack("<I", len(properties)) + b"".join(properties)
    rendering = struct.pack("<HIIIH", 1, 0xFFFFFFFF, 0, 0, 0)   # attAttachRendData
    attached = b"%PDF-1.4\x20% internal price list\x20" + bytes(range(0x20, 0x7f)) * 3
    blob = (struct.pack("<IH", 0x223E9F78, 0x1F3C)
            + tnef_attribute(1, 0x00089006, struct.pack("<I", 0x00010000))     # attTnefVersion
            + tnef_attribute(1, 0x00069007, struct.pack("<II", 1252, 0))       # attOemCodepage
            + tnef_attribute(1, 0x00078008, b"IPM.Microsoft Mail.Note\0")      # attMessageClass
            + tnef_attribute(1, 0x00069003, msg_props)                         # attMsgProps
            + tnef_attribute(2, 0x00069002, rendering)                         # attAttachRendData
            + tnef_attribute(2, 0x00018010, b"pricelist.pdf\0")                # attAttachTitle
            + tnef_attribute(2, 0x0006800F, attached))                         # attAttachData
    return blob


WINMAIL = winmail_dat()

# A PDF-ish attachment that is not TNEF (it has the signature, but not at the start).
PDF = (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
       + TNEF_SIGNATURE + b" not at the start\n" + bytes(range(256)) * 8 + b"\n%%EOF\n")
NOT_TNEF = b"\x00" + WINMAIL          # the signature at offset 1: not TNEF


EXCHANGE_SECRETS = [
    "EXCH01", "EXCH02", "corp.internal", "corpinternal", "10.20.30.40", "10.20.30.5", "10.20.30.6",
    "15.2.1118.7", "15.02.1118.007", "15.1.2507.6", "fe80::1c2d:3eff:fe4f:5a6b", "Microsoft SMTP Server",
    "with mapi", "X-MS-Exchange", "X-Originating-IP", "Thread-Index", "Thread-Topic", "Accept-Language",
    "X-MS-Has-Attach", "X-MS-TNEF-Correlator", "X-Mailer", "Microsoft Outlook 16.0", "AdobQk2f1b0P9mQ3",
]
# What the TNEF carries (Veil's log or reply may name TNEF in general terms).
TNEF_CONTENT_SECRETS = ["FYDIBOHF23SPDLT", "EXCHANGE ADMINISTRATIVE GROUP", "/O=CONTOSO/OU=", "CN=RECIPIENTS",
                        "EXMBX02", "EXMBX02.corp.example", "IPM.Microsoft Mail.Note"]
CALENDAR_SECRETS = ["Microsoft Corporation", "Outlook 16.0", "Exchange Server 2010", "MIMEDIR"]


def exchange_message(subject: str, tag: str, content_type: bytes, body: bytes, build: str = "15.1.2507.6") -> bytes:
    """A message as Exchange 2016 hands it to its smart host: internal Received chain,
    Outlook and Exchange stamps; the tag makes the Message-ID's left part."""
    return (template("exchange-header.txt", subject=subject, tag=tag, build=build) + content_type
            + b"\r\nMIME-Version: 1.0\r\n\r\n" + body)


def encoded(data: bytes, encoding: str) -> bytes:
    """A part's content in its transfer encoding, ending with CRLF."""
    if encoding == "base64":
        return b64_lines(data)
    if encoding == "quoted-printable":
        return qp_encode(data) + b"\r\n"
    return data + b"\r\n"


def multipart_body(boundary: bytes, parts: list[bytes], preamble: bytes = b"", epilogue: bytes = b"") -> bytes:
    """Parts (header, empty line, content, each ending in CRLF) between delimiter lines."""
    return (preamble + b"".join(b"--" + boundary + b"\r\n" + p for p in parts)
            + b"--" + boundary + b"--\r\n" + epilogue)


def multipart_type(subtype: str, boundary: bytes) -> bytes:
    return b"Content-Type: multipart/" + subtype.encode() + b";\r\n\tboundary=\"" + boundary + b"\""


def boundary_for(tag: str, kind: str = "004") -> bytes:
    """Exchange's boundaries: the Message-ID's left part and the server name."""
    return f"_{kind}_{tag}EXCH01corpinternal_".encode()


def text_part(text: str, charset: str = "us-ascii") -> bytes:
    return (f'Content-Type: text/plain; charset="{charset}"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
            .encode() + qp_encode(crlf(text)) + b"\r\n")


def html_part(html: str) -> bytes:
    return (b'Content-Type: text/html; charset="us-ascii"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
            + qp_encode(crlf(html)) + b"\r\n")


def attachment_part(content_type: str, name: str, data: bytes, disposition: str | None = "attachment",
                    encoding: str = "base64") -> bytes:
    header = f'Content-Type: {content_type}; name="{name}"\r\n'
    if disposition:
        header += f'Content-Description: {name}\r\nContent-Disposition: {disposition}; filename="{name}"; size={len(data)};\r\n' \
                  f'\tcreation-date="Mon, 20 Nov 2023 09:00:00 GMT";\r\n\tmodification-date="Mon, 20 Nov 2023 09:00:00 GMT"\r\n'
    header += f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    return header.encode() + encoded(data, encoding)


def tnef_part(content_type: str = "application/ms-tnef", name: str = "winmail.dat", encoding: str = "base64",
              data: bytes = WINMAIL) -> bytes:
    """Exchange writes its TNEF part without Content-Description/size."""
    header = (f'Content-Type: {content_type}; name="{name}"\r\n'
              f'Content-Disposition: attachment; filename="{name}"\r\n'
              f"Content-Transfer-Encoding: {encoding}\r\n\r\n").encode()
    return header + encoded(data, encoding)


PLAIN_TEXT = (PARTS / "price-list.txt").read_text()

# ---- calendars -----------------------------------------------------------------------

def calendar(prodid: str, location: str = "Room 4.12", method: str = "REQUEST") -> bytes:
    """An Outlook 16 / Exchange meeting request (RFC 5545 text, CRLF). `prodid` is
    the PRODID line(s), folded lines included."""
    return template("meeting-request.ics", prodid=prodid, location=location, method=method)


OUTLOOK_PRODID = "PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN"
EXCHANGE_PRODID = "PRODID:Microsoft Exchange Server 2010"
# Folded (RFC 5545 3.1): a continuation line starts with a space or a tab.
FOLDED_OUTLOOK_PRODID = "PRODID:-//Microsoft Corporation//Outlook 1\n 6.0 MIMEDIR//E\n\tN"
# Folded inside the name (a space or a tab continues it), the value too.
NAME_FOLDED_PRODIDS = ["PRO\n DID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
                       "PROD\n\tID:-//Microsoft Corporation//Outlook 1\n 6.0 MIMEDIR//EN"]


def large_calendar() -> bytes:
    attendees = b"".join(b"ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Person %d:\r\n"
                         b" mailto:person%d@fabrikam.example\r\n" % (n, n) for n in range(3000))
    return calendar(OUTLOOK_PRODID).replace(b"BEGIN:VALARM\r\n", attendees + b"BEGIN:VALARM\r\n")


def replace_prodid(text: bytes) -> bytes:
    """The calendar as Veil should leave it: the PRODID content line (with its
    continuation lines; RFC 5545 3.1 folds anywhere, inside the name too) is exactly
    `PRODID:-//Veil//Veil//EN`, nothing else changes."""
    out, lines, index = [], lines_of(text), 0
    while index < len(lines):
        end = index + 1
        while end < len(lines) and lines[end][:1] in (b" ", b"\t"):
            end += 1
        physical = lines[index:end]
        unfolded = physical[0].rstrip(b"\r\n") + b"".join(line[1:].rstrip(b"\r\n") for line in physical[1:])
        if re.match(rb"(?i)PRODID[:;]", unfolded):
            out.append(VEIL_PRODID + physical[0][len(physical[0].rstrip(b"\r\n")):])
        else:
            out += physical
        index = end
    return b"".join(out)


def calendar_part(cal: bytes, encoding: str, content_type: str = 'text/calendar; charset="utf-8"; method=REQUEST',
                  disposition: str | None = None) -> bytes:
    header = f"Content-Type: {content_type}\r\n"
    if disposition:
        header += f"Content-Disposition: {disposition}\r\n"
    header += f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    return header.encode() + encoded(cal, encoding)


MEETING_HTML = """\
<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=us-ascii">
<meta name="Generator" content="Microsoft Exchange Server">
<!-- converted from rtf -->
<style><!-- .EmailQuote { margin-left: 1pt; padding-left: 4pt; border-left: #800000 2px solid; } --></style>
</head>
<body>
<font face="Calibri" size="2"><span style="font-size:11pt;">
<div>Agenda: Q1 price list, delivery schedule Hamburg.</div>
</span></font>
</body>
</html>
"""


# ---- attached messages ---------------------------------------------------------------

INNER_ID = b"a1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d@EXCH01.corp.internal"
INNER_PARENT_ID = b"0f1e2d3c4b5a46978877665544332211@EXCH01.corp.internal"
FABRIKAM_ID = b"CAK7xQ2p9vJ4mZr8Lw3nTy6bH1dFs5Ge0uXc+nw7@mail.fabrikam.example"
INNER_SECRETS = ["a1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d", "0f1e2d3c4b5a46978877665544332211", "_000_a1b2c3d4",
                 "_004_a1b2c3d4", "10.20.30.40", "15.2.1118.7", "EXCH01.corp.internal", "X-MS-Exchange"]

# The fields of the attached header block below that the allowlist keeps.
INNER_KEPT = ["from", "to", "cc", "subject", "date", "message-id", "references", "in-reply-to",
              "content-language", "content-type", "mime-version"]


def inner_header(content_type: bytes, subject: str = "Northwind figures") -> bytes:
    return template("inner-header.txt", subject=subject) + content_type + b"\r\nMIME-Version: 1.0\r\n\r\n"


INNER_ALT = boundary_for("a1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d", "000")
INNER_MIXED = boundary_for("a1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d", "004")


def inner_message(subject: str = "Northwind figures") -> bytes:
    """An internal message with an alternative body, as forwarded as attachment."""
    return inner_header(multipart_type("alternative", INNER_ALT), subject) + multipart_body(INNER_ALT, [
        text_part("Carol,\n\nthe Northwind figures for Q3 are below; the file server path is\n"
                  "\\\\fs01\\finance\\northwind = the usual place.\n\nDave\n"),
        html_part("<html><body><p>Carol,</p><p>the Northwind figures for Q3 are below.</p></body></html>\n"),
    ])


def nested_inner_message() -> bytes:
    """An attached message whose body is multipart/mixed: text, a PDF attachment and
    a meeting request (text/calendar, 7bit, Outlook's PRODID)."""
    return inner_header(multipart_type("mixed", INNER_MIXED), "Northwind review meeting") + multipart_body(INNER_MIXED, [
        text_part("Carol,\n\nthe review meeting and the figures.\n\nDave\n"),
        attachment_part("application/pdf", "northwind-q3.pdf", PDF),
        calendar_part(calendar(OUTLOOK_PRODID), "7bit"),
    ])


def encoded_message_part(inner: bytes, encoding: str, content_type: str = "message/rfc822") -> bytes:
    content = encoded(inner, encoding)
    return (f"Content-Type: {content_type}\r\nContent-Disposition: attachment;\r\n"
            f'\tfilename="Northwind figures.eml"\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n').encode() + content


# --------------------------------------------------------------------------------------
# Sending, and reading the spool and the delivered copies
# --------------------------------------------------------------------------------------

def send(veil, data: bytes, chunks: list[int] | None = None, expect="250 2.0.0"):
    """One message over the plain listener: DATA, or BDAT with the given chunk sizes
    (the last chunk sent with LAST). Returns the reply of the end of the text."""
    return send_data(veil, data, SENDER, RECIPIENT, HELO, chunks, expect)


def both(copy: Relayed):
    """The spooled and the delivered message: the same checks hold for both."""
    return (("spool", copy.spool), ("delivered", copy.delivered))


def check_each(cases, copies: list[Relayed], check):
    """check(case, copy, what) on the spooled and the delivered copy of each case;
    every failure is reported, not only the first."""
    failures = []
    for case, copy in zip(cases, copies):
        for where, got in both(copy):
            try:
                check(case, got, f"{case.name} {where}")
            except AssertionError as e:
                failures.append(f"--- {case.name} {where} ({copy.qid}): {e}")
    assert not failures, "\n".join(failures)


def check_no_secrets(veil, copies: list[Relayed], secrets: list[str], log_secrets: list[str] | None = None):
    """Secrets in the spool files and the delivered copies (as they are and every part
    decoded), and in Veil's log (`log_secrets`, default the same)."""
    failures = []
    for copy in copies:
        for where, data in both(copy):
            bad = leaked(secrets, data) + leaked(secrets, all_decoded(data))
            if bad:
                failures.append(f"{copy.qid} {where}: {sorted(set(bad))}")
    bad = leaked(secrets if log_secrets is None else log_secrets, daemon_log(veil))
    if bad:
        failures.append(f"Veil's log: {bad}")
    assert not failures, "secrets left:\n" + "\n".join(failures)


def assert_queue_holds(veil, qids: list[str]):
    """Exactly these messages are queued; nothing half-written is left."""
    assert sorted(m["id"] for m in veil.messages()) == sorted(qids), veil.messages()
    assert sorted(p.name for p in veil.spool_files()) == sorted(qids), veil.spool_files()
    wait_until(lambda: veil.incoming_files() == [], what="no incoming files")


def leaf_payloads(message: bytes) -> list[tuple[str, bytes]]:
    """(content type, decoded payload) of the leaves Python's email package sees."""
    out = []
    for part in email.message_from_bytes(message, policy=email.policy.compat32).walk():
        if not part.is_multipart():
            out.append((part.get_content_type(), part.get_payload(decode=True)))
    return out


# --------------------------------------------------------------------------------------
# The fixtures themselves, without a daemon
# --------------------------------------------------------------------------------------

def test_fixtures_are_what_they_claim():
    """The winmail.dat starts with the TNEF signature and carries the legacy DN and the
    server name as plain ASCII (no CR or LF bytes, so it can also travel unencoded);
    the encoders round-trip; replace_prodid changes only the PRODID line; the secrets
    are really in the inputs."""
    assert WINMAIL[:4] == TNEF_SIGNATURE and struct.unpack("<I", WINMAIL[:4])[0] == 0x223E9F78
    assert LEGACY_DN in WINMAIL and TNEF_SERVER in WINMAIL
    assert b"\r" not in WINMAIL and b"\n" not in WINMAIL
    assert not PDF.startswith(TNEF_SIGNATURE) and not NOT_TNEF.startswith(TNEF_SIGNATURE)
    for data in (WINMAIL, PDF, calendar(FOLDED_OUTLOOK_PRODID), inner_message()):
        encoded = qp_encode(data)
        check_qp(encoded, "fixture")
        assert qp_decode(encoded) == data
        check_base64(b64_lines(data).rstrip(b"\r\n"), "fixture")
    for prodid in (OUTLOOK_PRODID, EXCHANGE_PRODID, FOLDED_OUTLOOK_PRODID, *NAME_FOLDED_PRODIDS):
        cal = calendar(prodid)
        want = replace_prodid(cal)
        assert want == cal.replace(crlf(prodid), VEIL_PRODID), prodid
        assert want.count(b"\r\n") == cal.count(b"\r\n") - prodid.count("\n")
        assert not leaked(CALENDAR_SECRETS, want) and leaked(CALENDAR_SECRETS, cal)
    assert all(b"Ser=\r\nver 2010" in case.message for case in calendar_cases() if case.name == "quoted-printable")
    # Python reads the hand-made messages as the tests expect.
    for message, types in ((tnef_cases()[0].message, ["text/plain", "application/ms-tnef"]),
                           (meeting_request(), ["text/plain", "text/html", "text/calendar"])):
        assert [t for t, _ in leaf_payloads(message)] == types
    assert leaked(["/O=CONTOSO/OU="], all_decoded(tnef_cases()[0].message))
    nested = encoded_messages()[3].message
    assert leaked(INNER_SECRETS + ["Outlook 16.0"], all_decoded(nested)) != []


# --------------------------------------------------------------------------------------
# TNEF
# --------------------------------------------------------------------------------------

@dataclass
class TnefCase:
    name: str
    message: bytes
    parts: list[bytes]            # the top-level parts (for the expected removal)
    tnef: list[int]               # indexes of the TNEF parts
    boundary: bytes
    chunks: list[int] | None = None   # BDAT chunk sizes, None: DATA


def tnef_message(name: str, parts: list[bytes], tnef: list[int], chunks_of=None) -> TnefCase:
    tag = hashlib.sha256(name.encode()).hexdigest()[:32]
    boundary = boundary_for(tag)
    message = exchange_message(f"TNEF {name}", tag, multipart_type("mixed", boundary), multipart_body(boundary, parts))
    return TnefCase(name, message, parts, tnef, boundary, chunks_of(message) if chunks_of else None)


def thirds(message: bytes) -> list[int]:
    n = len(message) // 3
    return [n, n, len(message) - 2 * n]


def tnef_cases() -> list[TnefCase]:
    text = text_part(PLAIN_TEXT)
    pdf = attachment_part("application/pdf", "pricelist.pdf", PDF)
    return [
        # Exchange 2016 to a remote domain with TNEFEnabled: text + winmail.dat.
        tnef_message("by-type", [text, tnef_part()], [1]),
        tnef_message("by-vnd-type", [text, tnef_part("application/vnd.ms-tnef", "message.tnef"), pdf], [1]),
        # Found by the file name only (octet-stream, name= and filename= in any case).
        tnef_message("name-only", [text, tnef_part("application/octet-stream", "WinMail.DAT"), pdf], [1]),
        tnef_message("content-type-name-only", [text, b'Content-Type: application/octet-stream; name="winmail.dat"\r\n'
                     b"Content-Transfer-Encoding: base64\r\n\r\n" + b64_lines(WINMAIL)], [1]),
        # Found by the content only: the signature at the start of the decoded bytes.
        tnef_message("content-only-base64", [tnef_part("application/octet-stream", "data.bin"), text], [0]),
        tnef_message("content-only-quoted-printable",
                     [text, tnef_part("application/octet-stream", "data.bin", "quoted-printable")], [1]),
        tnef_message("content-only-binary", [text, tnef_part("application/octet-stream", "data.bin", "binary")], [1],
                     chunks_of=thirds),
        # Two TNEF parts, one by type, one by content; sent with BDAT.
        tnef_message("two-parts", [tnef_part(), text, tnef_part("application/octet-stream", "x.bin"), pdf], [0, 2],
                     chunks_of=thirds),
        # Each rule on its own: the content does not start with the signature.
        tnef_message("type-only", [text, tnef_part("application/ms-tnef", "message.bin", data=NOT_TNEF)], [1]),
        tnef_message("type-only-no-name", [text, b"Content-Type: Application/VND.MS-TNEF\r\n"
                                           b"Content-Transfer-Encoding: base64\r\n\r\n" + b64_lines(NOT_TNEF)], [1]),
        tnef_message("name-only-not-tnef-content",
                     [text, tnef_part("application/octet-stream", "winmail.dat", data=NOT_TNEF)], [1]),
        tnef_message("filename-only-unquoted", [text, b"Content-Type: application/octet-stream\r\n"
                     b"Content-Disposition: attachment; filename=WINMAIL.DAT\r\n"
                     b"Content-Transfer-Encoding: base64\r\n\r\n" + b64_lines(NOT_TNEF), pdf], [1]),
        # The signature split by the encoding: a soft line break after its first byte,
        # base64 in lines of 4 characters.
        tnef_message("quoted-printable-soft-break-in-signature", [text, b'Content-Type: application/octet-stream; '
                     b'name="data.bin"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx=\r\n'
                     + qp_encode(WINMAIL[1:]) + b"\r\n"], [1]),
        tnef_message("base64-short-lines", [text, b'Content-Type: application/octet-stream; name="data.bin"\r\n'
                     b"Content-Transfer-Encoding: base64\r\n\r\n"
                     + re.sub(rb"(.{4})", rb"\1\r\n", base64.b64encode(WINMAIL)).rstrip(b"\r\n") + b"\r\n"], [1]),
    ]


def tnef_top_level(content_type: str, name: str, tag: str) -> bytes:
    return exchange_message(f"TNEF top level {tag}", tag, f'Content-Type: {content_type}; name="{name}"\r\n'
                            f'Content-Disposition: attachment; filename="{name}"\r\n'
                            "Content-Transfer-Encoding: base64".encode(), b64_lines(WINMAIL))


def tnef_in_encoded_message() -> bytes:
    """A winmail.dat inside a base64 message/rfc822: TNEF all the same."""
    inner = inner_header(multipart_type("mixed", INNER_MIXED)) + multipart_body(INNER_MIXED, [
        text_part("Forwarded rich text.\n"), tnef_part()])
    boundary = boundary_for("5e6f7a8b9c0d41e2f3a4b5c6d7e8f9a0")
    return exchange_message("TNEF in an attached message", "5e6f7a8b9c0d41e2f3a4b5c6d7e8f9a0",
                            multipart_type("mixed", boundary),
                            multipart_body(boundary, [text_part("See the attached message.\n"),
                                                      encoded_message_part(inner, "base64")]))


def check_tnef_refusal(r, what: str):
    assert r.is_("554 5.6.0"), f"{what}: expected 554 5.6.0, got {r.lines}"
    assert "tnef" in r.text.lower(), f"{what}: the reply does not say TNEF was found: {r.lines}"
    assert "Set-RemoteDomain" in r.text and "-TNEFEnabled $false" in r.text, f"{what}: {r.lines}"


def clean_message(n: int) -> bytes:
    tag = f"c{n:031d}"
    boundary = boundary_for(tag)
    return exchange_message(f"clean {n}", tag, multipart_type("mixed", boundary), multipart_body(
        boundary, [text_part(PLAIN_TEXT), attachment_part("application/pdf", "pricelist.pdf", PDF)]))


@pytest.mark.veil(scrub=SCRUB_REJECT)
def test_tnef_is_refused_and_the_session_goes_on(veil):
    """tnef = "reject": every TNEF variant (by type, by file name, by content in
    base64, quoted-printable and binary, at the top level, inside a base64 attached
    message; DATA and BDAT LAST) is refused with 554 5.6.0 naming TNEF and the
    Exchange command that turns it off; nothing is queued; the next message on the
    same connection is accepted, and a PDF attachment passes."""
    cases = [(c.name, c.message, c.chunks) for c in tnef_cases()]
    cases += [("top-level-by-type", tnef_top_level("application/ms-tnef", "winmail.dat", "t1" * 16), None),
              ("top-level-content-only", tnef_top_level("application/octet-stream", "data.bin", "t2" * 16),
               [7, 300, 5]),
              ("in-base64-attached-message", tnef_in_encoded_message(), None)]
    queued: list[str] = []
    failures = []
    with veil.connect("plain") as c:
        c.ehlo(HELO)
        for number, (name, message, chunks) in enumerate(cases):
            c.mail(SENDER)
            c.rcpt(RECIPIENT)
            if chunks is None:
                r = c.data(message, expect=None)
            else:
                if sum(chunks) != len(message):
                    chunks = chunks[:-1] + [len(message) - sum(chunks[:-1])]
                r = c.bdat_chunks(message, chunks, expect=None)
            try:
                check_tnef_refusal(r, name)
                assert_queue_holds(veil, queued)
            except AssertionError as e:
                failures.append(f"--- {name}: {e}")
                if r.code == 250:
                    queued.append(queue_id(r))
            # The session goes on: the next message on the same connection is accepted.
            c.mail(SENDER)
            c.rcpt(RECIPIENT)
            clean = clean_message(number)
            qid = queue_id(c.data(clean, expect="250 2.0.0"))
            queued.append(qid)
            assert_queue_holds(veil, queued)
            got = veil.spool_bytes(qid)
            key = scrub_key(veil)
            old = top_boundary(clean)
            assert body_of(got) == body_of(clean).replace(b"--" + old, b"--" + new_boundary(key, old)), \
                first_difference(body_of(got), body_of(clean))
        c.quit()
    assert not failures, "\n".join(failures)
    bad = leaked(TNEF_CONTENT_SECRETS + EXCHANGE_SECRETS, daemon_log(veil))
    assert not bad, f"secrets in the log: {bad}"


# --------------------------------------------------------------------------------------
# Calendars
# --------------------------------------------------------------------------------------

def meeting_request(prodid: str = EXCHANGE_PRODID, tag: str = "7c6b5a4f3e2d41c0b9a8f7e6d5c4b3a2") -> bytes:
    """How Outlook/Exchange send a meeting request: multipart/alternative of
    text/plain, text/html and text/calendar; method=REQUEST (base64)."""
    boundary = boundary_for(tag, "000")
    return exchange_message("Q1 planning", tag, multipart_type("alternative", boundary), multipart_body(boundary, [
        text_part("Agenda: Q1 price list, delivery schedule Hamburg.\n"),
        html_part(MEETING_HTML),
        calendar_part(calendar(prodid), "base64"),
    ]))


@dataclass
class CalendarCase:
    name: str
    message: bytes
    calendars: int = 1


def calendar_cases() -> list[CalendarCase]:
    def mixed(name: str, tag: str, parts: list[bytes]) -> CalendarCase:
        boundary = boundary_for(tag)
        return CalendarCase(name, exchange_message(f"calendar {name}", tag, multipart_type("mixed", boundary),
                                                   multipart_body(boundary, parts)))
    text = text_part("The meeting for Q1.\n")
    return [
        CalendarCase("meeting-request-base64", meeting_request()),
        mixed("7bit", "1a" * 16, [text, calendar_part(calendar(OUTLOOK_PRODID), "7bit")]),
        mixed("8bit-folded", "2b" * 16, [text, calendar_part(calendar(FOLDED_OUTLOOK_PRODID,
                                                                      "Besprechungsraum München 4.12"), "8bit")]),
        # The soft line break of the QP text falls inside the PRODID line.
        mixed("quoted-printable", "3c" * 16, [text, calendar_part(calendar(EXCHANGE_PRODID), "quoted-printable")
                                               .replace(b"PRODID:Microsoft Exchange Server 2010\r\n",
                                                        b"PRODID:Microsoft Exchange Ser=\r\nver 2010\r\n")]),
        mixed("quoted-printable-folded", "4d" * 16, [text, calendar_part(
            calendar(FOLDED_OUTLOOK_PRODID, "Raum =12 für 8"), "quoted-printable")]),
        mixed("application-ics", "5e" * 16, [text, calendar_part(
            calendar(FOLDED_OUTLOOK_PRODID, method="PUBLISH"), "base64", 'application/ics; name="invite.ics"',
            'attachment; filename="invite.ics"')]),
        mixed("two-calendars", "6f" * 16, [calendar_part(calendar(OUTLOOK_PRODID), "base64"), text,
                                            calendar_part(calendar(EXCHANGE_PRODID), "7bit")]),
        # A meeting with 3000 attendees (~350 KB of calendar), base64 and quoted-printable.
        mixed("large-base64", "7a" * 16, [text, calendar_part(large_calendar(), "base64")]),
        mixed("large-quoted-printable", "8b" * 16, [text, calendar_part(large_calendar(), "quoted-printable")]),
        # Property names are case-insensitive (RFC 5545 3.1); a PRODID with a parameter.
        mixed("lower-case-name", "9c" * 16, [text, calendar_part(calendar(
            "prodid:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN"), "quoted-printable")]),
        mixed("parameter", "ad" * 16, [text, calendar_part(calendar(
            "PRODID;X-ORIGIN=client:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN"), "7bit")]),
        # LF line ends inside base64 (written by a program on a Unix host): kept.
        mixed("lf-base64", "be" * 16, [text, calendar_part(calendar(OUTLOOK_PRODID).replace(b"\r\n", b"\n"),
                                                           "base64")]),
    ]


def is_calendar(header: bytes) -> bool:
    return header_of(header).get_content_type() in ("text/calendar", "application/ics")


def check_calendars(sent: bytes, got: bytes, key: bytes, what: str):
    """Leaf by leaf: calendar parts keep their header block and transfer encoding and
    decode to the original with only the PRODID replaced (identity-encoded ones are
    that byte for byte; base64 lines of at most 76 characters, valid QP); every other
    leaf is byte for byte the same; boundaries are the keyed ones."""
    sent_leaves, got_leaves = leaves(sent), leaves(got)
    assert len(got_leaves) == len(sent_leaves), f"{what}: {len(got_leaves)} leaves, sent {len(sent_leaves)}"
    calendars = 0
    for (sh, sc), (gh, gc) in zip(sent_leaves, got_leaves):
        if not is_calendar(sh):
            assert (gh, gc) == (sh, sc), f"{what}: a non-calendar part changed: " + first_difference(gh + gc, sh + sc)
            continue
        calendars += 1
        assert gh == sh, f"{what}: the calendar part's header block changed: {gh!r}"
        cte = cte_of(sh)
        assert cte_of(gh) == cte
        want = replace_prodid(decode_content(sh, sc))
        decoded = decode_content(gh, gc)
        assert decoded == want, f"{what}: decoded calendar " + first_difference(decoded, want)
        if cte == "base64":
            check_base64(content_of(gc).rstrip(b"\r\n"), what)
        elif cte == "quoted-printable":
            check_qp(content_of(gc), what)
        else:
            assert gc == replace_prodid(sc), f"{what}: " + first_difference(gc, replace_prodid(sc))
        assert decoded.count(VEIL_PRODID) == 1
        assert b"X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE" in decoded and b"BEGIN:VTIMEZONE" in decoded
        assert not leaked(CALENDAR_SECRETS, decoded), f"{what}: {leaked(CALENDAR_SECRETS, decoded)}"
    assert calendars, what
    # Boundaries: the keyed ones, and the MIME tree is the same.
    for old in {top_boundary(sent)}:
        assert b"--" + new_boundary(key, old) in got and old.lower() not in got.lower(), what
    assert [t for t, _ in leaf_payloads(got)] == [t for t, _ in leaf_payloads(sent)], what


def test_calendar_prodid_is_replaced(make_veil, sink):
    """Meeting requests as Outlook and Exchange send them (base64 in a
    multipart/alternative; 7bit, 8bit, quoted-printable with a soft break inside the
    PRODID, folded PRODID lines, an application/ics attachment, two calendars): the
    PRODID is exactly PRODID:-//Veil//Veil//EN, everything else in the calendar is
    unchanged; no Outlook or Exchange version is left in the spool, the delivered
    copy, any decoded part or the log."""
    veil = routed(make_veil, sink, DOMAIN, scrub=SCRUB_REJECT)
    key = scrub_key(veil)
    cases = calendar_cases()
    copies = [Relayed(case.message, queue_id(send(veil, case.message))) for case in cases]
    spool_then_deliver(veil, sink, copies)
    check_each(cases, copies, lambda case, got, what: check_calendars(case.message, got, key, what))
    check_no_secrets(veil, copies, CALENDAR_SECRETS + EXCHANGE_SECRETS)


# --------------------------------------------------------------------------------------
# Encoded attached messages
# --------------------------------------------------------------------------------------

@dataclass
class EncodedCase:
    name: str
    message: bytes
    inner: bytes           # the attached message, decoded
    encoding: str
    index: int             # the attached message's part among the top-level parts
    boundary: bytes


def encoded_messages() -> list[EncodedCase]:
    cases = []
    for name, inner, encoding, ctype in (
            ("rfc822-base64", inner_message(), "base64", "message/rfc822"),
            ("rfc822-quoted-printable", inner_message(), "quoted-printable", "message/rfc822"),
            ("global-base64", inner_message("Zahlen für München"), "base64", "message/global"),
            ("nested-base64", nested_inner_message(), "base64", "message/rfc822")):
        tag = hashlib.sha256(name.encode()).hexdigest()[:32]
        boundary = boundary_for(tag)
        parts = [text_part("Carol,\n\nsee the attached message.\n\nAlice\n"),
                 encoded_message_part(inner, encoding, ctype),
                 attachment_part("application/pdf", "pricelist.pdf", PDF)]
        message = exchange_message(f"FW: {name}", tag, multipart_type("mixed", boundary), multipart_body(boundary, parts),
                                   build="15.2.1118.7")
        cases.append(EncodedCase(name, message, inner, encoding, 1, boundary))
    return cases


def check_attached(case: EncodedCase, got: bytes, key: bytes, what: str):
    new = new_boundary(key, case.boundary)
    sent_split = split_multipart(body_of(case.message), case.boundary)
    got_split = split_multipart(body_of(got), new)
    assert len(got_split.parts) == len(sent_split.parts), f"{what}: {len(got_split.parts)} parts"
    for i, (g, s) in enumerate(zip(got_split.parts, sent_split.parts)):
        if i != case.index:
            assert g == s, f"{what}: part {i} changed: " + first_difference(g, s)
    header, content = split_entity(got_split.parts[case.index])
    sent_header, _ = split_entity(sent_split.parts[case.index])
    assert header == sent_header, f"{what}: the part's header block changed: {header!r}"
    assert cte_of(header) == case.encoding
    if case.encoding == "base64":
        check_base64(content_of(content).rstrip(b"\r\n"), what)
    else:
        check_qp(content_of(content), what)
    inner = decode_content(header, content)

    # The attached header block: the allowlist, ids mapped, nothing added.
    fields, _ = split_message(inner)
    sent_fields, _ = split_message(case.inner)
    names = [f.name for f in fields]
    assert names == [f.name for f in sent_fields if f.name in INNER_KEPT], f"{what}: fields {names}"
    for name in ("from", "to", "cc", "subject", "date", "content-language", "mime-version"):
        assert named(fields, name)[0].raw == named(sent_fields, name)[0].raw, f"{what}: {name}"
    assert named(fields, "message-id")[0].raw == b"Message-ID: " + mapped_id(key, INNER_ID) + b"\r\n", what
    assert named(fields, "in-reply-to")[0].raw == b"In-Reply-To: " + mapped_id(key, INNER_PARENT_ID) + b"\r\n", what
    assert named(fields, "references")[0].raw == (b"References: <" + FABRIKAM_ID + b">\r\n "
                                                  + mapped_id(key, INNER_PARENT_ID) + b"\r\n"), what
    old_inner = top_boundary(case.inner)
    assert top_boundary(inner) == new_boundary(key, old_inner), f"{what}: inner boundary {top_boundary(inner)!r}"
    bad = leaked(INNER_SECRETS + EXCHANGE_SECRETS, inner)
    assert not bad, f"{what}: left in the attached message: {bad}"

    # Its body: the same parts with the same decoded payloads (a calendar's PRODID replaced).
    want = [(t, replace_prodid(p) if t == "text/calendar" else p) for t, p in leaf_payloads(case.inner)]
    assert leaf_payloads(inner) == want, f"{what}: the attached message's parts changed"
    assert b"--" + old_inner not in inner
    if case.name.startswith("nested"):
        assert [t for t, _ in want] == ["text/plain", "application/pdf", "text/calendar"]
        assert not leaked(CALENDAR_SECRETS, inner)


def test_encoded_attached_messages_are_scrubbed(make_veil, sink):
    """message/rfc822 and message/global parts sent base64 or quoted-printable: the
    delivered part has the same transfer encoding (base64 lines <= 76, valid QP);
    decoded, its header block is the allowlist's (Received, X-MS-Exchange-*,
    X-Originating-IP, Thread-* gone, ids mapped), its boundaries are the keyed ones,
    its parts decode to the original payloads (a nested calendar gets Veil's PRODID);
    the outer message's other parts are byte for byte the same."""
    veil = routed(make_veil, sink, DOMAIN, scrub=SCRUB_REJECT)
    key = scrub_key(veil)
    cases = encoded_messages()
    copies = [Relayed(case.message, queue_id(send(veil, case.message))) for case in cases]
    spool_then_deliver(veil, sink, copies)
    check_each(cases, copies, lambda case, got, what: check_attached(case, got, key, what))
    check_no_secrets(veil, copies, INNER_SECRETS + EXCHANGE_SECRETS)


# --------------------------------------------------------------------------------------
# Streaming and bounds
# --------------------------------------------------------------------------------------

def odd_chunks(message: bytes, seed: int) -> list[int]:
    """BDAT chunk sizes that split the message inside every QP escape (`=` `X` `X`),
    soft line break (`=` CR LF) and CRLF of the attached message, and elsewhere at
    random points."""
    rng = random.Random(seed)
    start = message.index(b"Content-Type: message/rfc822")
    end = message.index(b"Content-Type: application/pdf")
    cuts = set()
    for m in re.finditer(rb"=|\r\n", message[start:end]):
        cuts.update((start + m.start() + 1, start + m.start() + 2))
    position = 0
    while position < len(message):
        position += rng.randint(1, 97)
        cuts.add(position)
    cuts = sorted(c for c in cuts if 0 < c < len(message))
    sizes, last = [], 0
    for c in cuts + [len(message)]:
        sizes.append(c - last)
        last = c
    return sizes


def test_bdat_small_chunks_give_the_same_message_as_data(make_veil, sink):
    """A quoted-printable attached message sent once with DATA and once with BDAT in
    hundreds of small chunks cut inside QP escapes, soft line breaks and CRLFs: the
    delivered copies are the same bytes (but for Veil's trace field, which names the
    queue id), and both are scrubbed."""
    veil = routed(make_veil, sink, DOMAIN, scrub=SCRUB_REJECT)
    key = scrub_key(veil)
    case = encoded_messages()[1]
    assert case.encoding == "quoted-printable"
    chunks = odd_chunks(case.message, 3030)
    assert len(chunks) > 200
    copies = [Relayed(case.message, queue_id(send(veil, case.message))),
              Relayed(case.message, queue_id(send(veil, case.message, chunks=chunks)))]
    spool_then_deliver(veil, sink, copies)

    def without_trace(message: bytes) -> bytes:
        first, rest = message.split(b"\r\n", 1)
        assert first.startswith(b"Received: by veil.test (Veil)"), first
        return rest

    data, bdat = copies
    assert without_trace(bdat.delivered) == without_trace(data.delivered), \
        first_difference(without_trace(bdat.delivered), without_trace(data.delivered))
    assert without_trace(bdat.spool) == without_trace(data.spool)
    check_attached(case, bdat.delivered, key, "bdat delivered")
    check_no_secrets(veil, copies, INNER_SECRETS + EXCHANGE_SECRETS)
