"""Content of MIME parts (issue 12) through the real binary, delivered to a real MTA
(Postfix's smtp-sink): TNEF refused or removed, the PRODID of calendar parts replaced,
encoded attached messages (base64 / quoted-printable message/rfc822 and
message/global) decoded, scrubbed and re-encoded with the same encoding.

Every message is built here from realistic Exchange 2016/2019 and Outlook 16 parts.
Each delivery test sends its messages to a destination that is not listening yet, so
that the spool file can be read after the first (refused) attempt; then the sink is
started and the delivered copies are read. Secrets are checked case-insensitively in
the spool file, the delivered copy and Veil's log.

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

from harness import queue_id, wait_until
from mime_expect import lines_of, new_boundary, tree
from sink import Sink
from test_scrub import HELO, RECIPIENT, SENDER, daemon_log, leaked, mapped_id, named, scrub_key, split_message

SCRUB_REJECT = {"mode": "allowlist", "message_id": "rewrite", "received": "anonymous", "tnef": "reject"}
SCRUB_REMOVE = dict(SCRUB_REJECT, tnef="remove")

VEIL_PRODID = b"PRODID:-//Veil//Veil//EN"
DELIVERY_DEADLINE = 60.0


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


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


def first_difference(a: bytes, b: bytes) -> str:
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    around = slice(max(0, n - 100), n + 100)
    return f"first difference at byte {n} (lengths {len(a)}, {len(b)}):\n  got {a[around]!r}\n want {b[around]!r}"


# --------------------------------------------------------------------------------------
# Realistic content
# --------------------------------------------------------------------------------------

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
# What the TNEF carries; in the message also its name and type (an Exchange fingerprint,
# which Veil's log or reply may name in general terms).
TNEF_CONTENT_SECRETS = ["FYDIBOHF23SPDLT", "EXCHANGE ADMINISTRATIVE GROUP", "/O=CONTOSO/OU=", "CN=RECIPIENTS",
                        "EXMBX02", "EXMBX02.corp.example", "IPM.Microsoft Mail.Note"]
TNEF_SECRETS = TNEF_CONTENT_SECRETS + ["winmail.dat", "ms-tnef"]
CALENDAR_SECRETS = ["Microsoft Corporation", "Outlook 16.0", "Exchange Server 2010", "MIMEDIR"]


def exchange_message(subject: str, tag: str, content_type: bytes, body: bytes, build: str = "15.1.2507.6") -> bytes:
    """A message as Exchange 2016 hands it to its smart host: internal Received chain,
    Outlook and Exchange stamps; the tag makes the Message-ID's left part."""
    return crlf(f"""\
Received: from EXCH01.corp.internal (10.20.30.5) by EXCH02.corp.internal
 (10.20.30.6) with Microsoft SMTP Server (version=TLS1_2,
 cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id {build}; Mon, 20 Nov 2023
 10:00:01 +0100
Received: from EXCH01.corp.internal ([fe80::1c2d:3eff:fe4f:5a6b]) by
 EXCH01.corp.internal ([fe80::1c2d:3eff:fe4f:5a6b%12]) with mapi id
 15.02.1118.007; Mon, 20 Nov 2023 10:00:00 +0100
From: Alice Martin <alice.martin@contoso.com>
To: Bob Keller <bob.keller@fabrikam.example>
Subject: {subject}
Thread-Topic: {subject}
Thread-Index: AdobQk2f1b0P9mQ3R0u7Zl4cV8nH2g==
Date: Mon, 20 Nov 2023 09:00:00 +0000
Message-ID: <{tag}@EXCH01.corp.internal>
Accept-Language: en-US
Content-Language: en-US
X-MS-Has-Attach: yes
X-MS-TNEF-Correlator: <{tag}@EXCH01.corp.internal>
X-MS-Exchange-Organization-AuthSource: EXCH01.corp.internal
X-MS-Exchange-Organization-AuthAs: Internal
X-Originating-IP: [10.20.30.40]
X-Mailer: Microsoft Outlook 16.0
""") + content_type + b"\r\nMIME-Version: 1.0\r\n\r\n" + body


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
    if encoding == "base64":
        content = b64_lines(data)
    elif encoding == "quoted-printable":
        content = qp_encode(data) + b"\r\n"
    else:
        content = data + b"\r\n"
    return header.encode() + content


def tnef_part(content_type: str = "application/ms-tnef", name: str = "winmail.dat", encoding: str = "base64",
              data: bytes = WINMAIL) -> bytes:
    """Exchange writes its TNEF part without Content-Description/size."""
    header = (f'Content-Type: {content_type}; name="{name}"\r\n'
              f'Content-Disposition: attachment; filename="{name}"\r\n'
              f"Content-Transfer-Encoding: {encoding}\r\n\r\n").encode()
    if encoding == "base64":
        return header + b64_lines(data)
    if encoding == "quoted-printable":
        return header + qp_encode(data) + b"\r\n"
    return header + data + b"\r\n"


PLAIN_TEXT = """\
Hi Bob,

please find the updated price list attached. The new prices apply to all
orders from 1 January 2024.

Best regards,
Alice

Alice Martin | Key Account Management
Contoso Ltd.
"""


# ---- calendars -----------------------------------------------------------------------

def calendar(prodid: str, location: str = "Room 4.12", method: str = "REQUEST") -> bytes:
    """An Outlook 16 / Exchange meeting request (RFC 5545 text, CRLF). `prodid` is
    the PRODID line(s), folded lines included."""
    return crlf(f"""\
BEGIN:VCALENDAR
METHOD:{method}
{prodid}
VERSION:2.0
BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
ORGANIZER;CN=Alice Martin:mailto:alice.martin@contoso.com
ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Bob Keller:
 mailto:bob.keller@fabrikam.example
DESCRIPTION;LANGUAGE=en-US:Agenda: Q1 price list\\, delivery schedule Hambur
 g.\\n\\n
UID:040000008200E00074C5B7101A82E00800000000A0B6C3D91A1BDA01000000000000000
 010000000E3F0C7A8A4B2C54D9A2F0E9F8C7B6A5D
SUMMARY;LANGUAGE=en-US:Q1 planning
DTSTART;TZID=W. Europe Standard Time:20231127T100000
DTEND;TZID=W. Europe Standard Time:20231127T110000
CLASS:PUBLIC
PRIORITY:5
DTSTAMP:20231120T090000Z
TRANSP:OPAQUE
STATUS:CONFIRMED
SEQUENCE:0
LOCATION;LANGUAGE=en-US:{location}
X-MICROSOFT-CDO-APPT-SEQUENCE:0
X-MICROSOFT-CDO-OWNERAPPTID:2121857414
X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE
X-MICROSOFT-CDO-INTENDEDSTATUS:BUSY
X-MICROSOFT-CDO-ALLDAYEVENT:FALSE
X-MICROSOFT-CDO-IMPORTANCE:1
X-MICROSOFT-CDO-INSTTYPE:0
X-MICROSOFT-DONOTFORWARDMEETING:FALSE
X-MICROSOFT-DISALLOW-COUNTER:FALSE
X-MICROSOFT-LOCATIONS:[{{"DisplayName":"{location}","LocationAnnotation":"","
 LocationUri":"","LocationStreet":"","LocationCity":"","LocationState":"","L
 ocationCountry":"","LocationPostalCode":"","LocationFullAddress":""}}]
BEGIN:VALARM
DESCRIPTION:REMINDER
TRIGGER;RELATED=START:-PT15M
ACTION:DISPLAY
END:VALARM
END:VEVENT
END:VCALENDAR
""")


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
    if encoding == "base64":
        content = b64_lines(cal)
    elif encoding == "quoted-printable":
        content = qp_encode(cal) + b"\r\n"
    else:
        content = cal + b"\r\n"
    return header.encode() + content


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
    return crlf(f"""\
Received: from EXCH01.corp.internal (10.20.30.5) by EXCH02.corp.internal
 (10.20.30.6) with Microsoft SMTP Server (version=TLS1_2,
 cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.2.1118.7; Thu, 16 Nov 2023
 18:40:07 +0100
Received: from EXCH01.corp.internal ([fe80::1c2d:3eff:fe4f:5a6b]) by
 EXCH01.corp.internal ([fe80::1c2d:3eff:fe4f:5a6b%12]) with mapi id
 15.02.1118.007; Thu, 16 Nov 2023 18:40:06 +0100
From: Dave Novak <dave.novak@contoso.com>
To: Carol Diaz <carol.diaz@contoso.com>
CC: Bob Keller <bob.keller@fabrikam.example>
Subject: {subject}
Thread-Topic: Northwind figures
Thread-Index: AdobQk2f1b0P9mQ3R0u7Zl4cV8nH2g==
Date: Thu, 16 Nov 2023 17:40:06 +0000
Message-ID: <{INNER_ID.decode()}>
References: <{FABRIKAM_ID.decode()}>
 <{INNER_PARENT_ID.decode()}>
In-Reply-To: <{INNER_PARENT_ID.decode()}>
Accept-Language: en-US
Content-Language: en-US
X-MS-Has-Attach: yes
X-MS-TNEF-Correlator:
X-MS-Exchange-Organization-AuthSource: EXCH01.corp.internal
X-MS-Exchange-Organization-AuthAs: Internal
X-MS-Exchange-Organization-OriginalClientIPAddress: 10.20.30.40
X-Originating-IP: [10.20.30.40]
X-Mailer: Microsoft Outlook 16.0
""") + content_type + b"\r\nMIME-Version: 1.0\r\n\r\n"


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
    content = b64_lines(inner) if encoding == "base64" else qp_encode(inner) + b"\r\n"
    return (f"Content-Type: {content_type}\r\nContent-Disposition: attachment;\r\n"
            f'\tfilename="Northwind figures.eml"\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n').encode() + content


# --------------------------------------------------------------------------------------
# Sending, and reading the spool and the delivered copies
# --------------------------------------------------------------------------------------

@pytest.fixture
def sink(tmp_path):
    s = Sink(tmp_path / "sink")
    yield s
    s.stop()


def routed(make_veil, sink, scrub, **overrides):
    """A Veil that delivers fabrikam.example to the sink (not started yet)."""
    return make_veil(delivery={"mode": "mx", "smarthost": None, "retry": ["1s"]},
                     routes=[{"domain": RECIPIENT.split("@")[1], "route": sink.route}], scrub=scrub, **overrides)


def send(veil, data: bytes, chunks: list[int] | None = None, expect="250 2.0.0"):
    """One message over the plain listener: DATA, or BDAT with the given chunk sizes
    (the last chunk sent with LAST). Returns the reply of the end of the text."""
    with veil.connect("plain") as c:
        c.ehlo(HELO)
        c.mail(SENDER)
        c.rcpt(RECIPIENT)
        if chunks is None:
            r = c.data(data, expect=expect)
        else:
            r = send_chunks(c, data, chunks, expect)
        c.quit()
    return r


def send_chunks(c, data: bytes, chunks: list[int], expect):
    assert sum(chunks) == len(data) and all(n > 0 for n in chunks)
    offset = 0
    for n in chunks[:-1]:
        c.bdat(data[offset:offset + n], expect="250")
        offset += n
    return c.bdat(data[offset:], last=True, expect=expect)


def delivered_message(dump: bytes) -> bytes:
    """smtp-sink's dump: its own X-* lines and Received field, then the message with
    LF line ends, then one more LF. Returns the message with CRLF."""
    lines = dump.split(b"\n")
    index = 0
    while lines[index].startswith(b"X-"):
        index += 1
    assert lines[index].startswith(b"Received: "), dump[:600]
    index += 1
    while lines[index][:1] in (b" ", b"\t"):
        index += 1
    text = b"\n".join(lines[index:])
    assert text.endswith(b"\n\n"), text[-200:]
    return text[:-1].replace(b"\n", b"\r\n")


@dataclass
class Copy:
    sent: bytes          # what Veil received
    qid: str
    spool: bytes = b""
    delivered: bytes = b""


def spool_then_deliver(veil, sink, copies: list[Copy]):
    """Each message's first delivery attempt fails (nothing listens yet): read its
    spool file; then start the sink and collect the delivered copies (matched by the
    queue id in Veil's trace field)."""
    for copy in copies:
        veil.wait_event("deferred", queue_id=copy.qid, timeout=DELIVERY_DEADLINE)
        copy.spool = veil.spool_bytes(copy.qid)
    sink.start()
    for copy in copies:
        veil.wait_event("delivered", queue_id=copy.qid, timeout=DELIVERY_DEADLINE)
    wait_until(lambda: len(sink.messages()) >= len(copies), timeout=DELIVERY_DEADLINE,
               what=f"{len(copies)} messages at the sink")
    delivered = [delivered_message(d) for d in sink.messages()]
    for copy in copies:
        mine = [d for d in delivered if f" id {copy.qid};".encode() in d.split(b"\r\n", 1)[0]]
        assert len(mine) == 1, f"{copy.qid}: {len(mine)} delivered copies"
        copy.delivered = mine[0]


def both(copy: Copy):
    """The spooled and the delivered message: the same checks hold for both."""
    return (("spool", copy.spool), ("delivered", copy.delivered))


def check_each(cases, copies: list[Copy], check):
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


def check_no_secrets(veil, copies: list[Copy], secrets: list[str], log_secrets: list[str] | None = None):
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


def accepted(veil, qid: str) -> dict:
    return veil.wait_event("accepted", queue_id=qid)[0]


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
                r = send_chunks(c, message, chunks, expect=None)
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


def test_tnef_parts_are_removed(make_veil, sink):
    """tnef = "remove": the TNEF part (delimiter line, header, content) is dropped,
    the rest is delivered byte for byte but for the boundaries; Python sees the other
    parts with the same decoded payloads; the accepted line says tnef_removed=N; no
    TNEF byte, no winmail.dat, no legacy DN or server name is left in the spool, the
    delivered copy or the log."""
    veil = routed(make_veil, sink, SCRUB_REMOVE)
    key = scrub_key(veil)
    cases = tnef_cases()
    copies = [Copy(case.message, queue_id(send(veil, case.message, case.chunks))) for case in cases]
    spool_then_deliver(veil, sink, copies)
    failures = []
    for case, copy in zip(cases, copies):
        new = new_boundary(key, case.boundary)
        kept = [p for i, p in enumerate(case.parts) if i not in case.tnef]
        want_body = multipart_body(new, kept)
        without = exchange_message("x", "y", multipart_type("mixed", case.boundary), multipart_body(case.boundary, kept))
        try:
            event = accepted(veil, copy.qid)
            assert event.get("tnef_removed") == str(len(case.tnef)), f"accepted line: {event}"
            for where, got in both(copy):
                assert body_of(got) == want_body, f"{where}: " + first_difference(body_of(got), want_body)
                assert leaf_payloads(got) == leaf_payloads(without), f"{where}: the remaining parts changed"
                assert tree(got)["parts"] == tree(without)["parts"], f"{where}: the MIME tree changed"
                assert not [h for h, c in leaves(got) if decode_content(h, c).startswith(TNEF_SIGNATURE)], \
                    f"{where}: a part with TNEF content is left"
                assert LEGACY_DN.lower() not in all_decoded(got).lower(), f"{where}: the legacy DN is left"
                tnef_lines = [line for i in case.tnef for line in split_entity(case.parts[i])[1].split(b"\r\n")
                              if len(line) > 20 and not any(line in p for p in kept)]
                assert not [line for line in tnef_lines if line in got], f"{where}: TNEF content left"
        except AssertionError as e:
            failures.append(f"--- {case.name} ({copy.qid}): {e}")
    assert not failures, "\n".join(failures)
    check_no_secrets(veil, copies, TNEF_SECRETS + EXCHANGE_SECRETS, TNEF_CONTENT_SECRETS + EXCHANGE_SECRETS)


def decoded_leaves(message: bytes) -> list[tuple[bytes, bytes]]:
    """(header, decoded content) of every leaf, encoded attached messages opened."""
    out = []
    for header, content in leaves(message):
        decoded = decode_content(header, content)
        if header_of(header).get_content_maintype() == "message" and cte_of(header) not in ("7bit", "8bit", "binary"):
            out += decoded_leaves(decoded)
        else:
            out.append((header, decoded))
    return out


def attached_message(message: bytes, boundary: bytes, index: int) -> bytes:
    """The decoded attached message of top-level part `index`."""
    header, content = split_entity(split_multipart(body_of(message), boundary).parts[index])
    return decode_content(header, content)


def test_tnef_is_removed_wherever_it_is(make_veil, sink):
    """tnef = "remove" deeper down: a winmail.dat in a nested multipart/mixed (exact
    bytes: only it and the boundaries change), in an attached message/rfc822, and in
    a base64-encoded attached message (removed inside, re-encoded): tnef_removed=1,
    the other parts keep their decoded payloads, no TNEF anywhere."""
    veil = routed(make_veil, sink, SCRUB_REMOVE)
    key = scrub_key(veil)
    text, inner_text = text_part(PLAIN_TEXT), text_part("Forwarded rich text.\n")
    pdf = attachment_part("application/pdf", "pricelist.pdf", PDF)
    nested = b"nested-inner-1"

    def nested_part(boundary: bytes, drop: bool) -> bytes:
        parts = [inner_text] + ([] if drop else [tnef_part()]) + [pdf]
        return multipart_type("mixed", boundary) + b"\r\n\r\n" + multipart_body(boundary, parts)

    def attached(drop: bool) -> bytes:
        return inner_header(multipart_type("mixed", INNER_MIXED)) + multipart_body(
            INNER_MIXED, [inner_text] + ([] if drop else [tnef_part()]) + [pdf])

    cases = {}
    for name, part, without in (
            ("nested-multipart", nested_part(nested, False), nested_part(nested, True)),
            ("attached-message", b"Content-Type: message/rfc822\r\n\r\n" + attached(False),
             b"Content-Type: message/rfc822\r\n\r\n" + attached(True)),
            ("base64-attached-message", encoded_message_part(attached(False), "base64"),
             encoded_message_part(attached(True), "base64"))):
        tag = hashlib.sha256(name.encode()).hexdigest()[:32]
        boundary = boundary_for(tag)
        message = exchange_message(f"TNEF deeper {name}", tag, multipart_type("mixed", boundary),
                                   multipart_body(boundary, [text, part]))
        cases[name] = (message, boundary, part, without)
    copies = [Copy(message, queue_id(send(veil, message))) for message, *_ in cases.values()]
    spool_then_deliver(veil, sink, copies)
    failures = []
    for (name, (message, boundary, part, without)), copy in zip(cases.items(), copies):
        new = new_boundary(key, boundary)
        try:
            assert accepted(veil, copy.qid).get("tnef_removed") == "1", accepted(veil, copy.qid)
            for where, got in both(copy):
                assert not [h for h, c in decoded_leaves(got) if c.startswith(TNEF_SIGNATURE)], f"{where}: TNEF left"
                assert not leaked(TNEF_SECRETS, all_decoded(got)), f"{where}: {leaked(TNEF_SECRETS, all_decoded(got))}"
                if name == "nested-multipart":
                    want = multipart_body(new, [text, nested_part(new_boundary(key, nested), True)])
                    assert body_of(got) == want, f"{where}: " + first_difference(body_of(got), want)
                elif name == "attached-message":
                    expected = message.replace(part, without)
                    assert tree(got)["parts"] == tree(expected)["parts"], f"{where}: the MIME tree changed"
                else:
                    inner = attached_message(got, new, 1)
                    assert leaf_payloads(inner) == leaf_payloads(attached(True)), f"{where}: the attached parts changed"
                    assert not leaked(INNER_SECRETS, inner), f"{where}: {leaked(INNER_SECRETS, inner)}"
                    header, content = split_entity(split_multipart(body_of(got), new).parts[1])
                    assert cte_of(header) == "base64"
                    check_base64(content_of(content).rstrip(b"\r\n"), where)
        except AssertionError as e:
            failures.append(f"--- {name} ({copy.qid}): {e}")
    assert not failures, "\n".join(failures)
    check_no_secrets(veil, copies, TNEF_SECRETS + EXCHANGE_SECRETS + INNER_SECRETS,
                     TNEF_CONTENT_SECRETS + EXCHANGE_SECRETS + INNER_SECRETS)


@pytest.mark.veil(scrub=SCRUB_REMOVE)
def test_top_level_tnef_is_refused_even_in_remove_mode(veil):
    """A message whose whole body is TNEF has nothing left to deliver: refused in
    remove mode too (by type, and by content only), nothing queued."""
    for name, message in (("by-type", tnef_top_level("application/ms-tnef", "winmail.dat", "t3" * 16)),
                          ("content-only", tnef_top_level("application/octet-stream", "data.bin", "t4" * 16))):
        r = send(veil, message, expect=None)
        check_tnef_refusal(r, name)
        assert_queue_holds(veil, [])
    qid = queue_id(send(veil, clean_message(99)))
    assert_queue_holds(veil, [qid])
    assert "tnef_removed" not in accepted(veil, qid) or accepted(veil, qid)["tnef_removed"] == "0"


def test_non_tnef_attachments_pass_byte_for_byte(make_veil, sink):
    """Attachments that are not TNEF pass untouched in remove mode: a PDF, an octet
    stream with the TNEF signature at offset 1 (base64 and quoted-printable), a file
    whose name only contains winmail.dat, a text file that mentions it."""
    veil = routed(make_veil, sink, SCRUB_REMOVE)
    key = scrub_key(veil)
    boundary = boundary_for("9a8b7c6d5e4f40312233445566778899")
    parts = [text_part(PLAIN_TEXT),
             attachment_part("application/pdf", "pricelist.pdf", PDF),
             attachment_part("application/octet-stream", "offset1.bin", NOT_TNEF),
             attachment_part("application/octet-stream", "offset1-qp.bin", NOT_TNEF, encoding="quoted-printable"),
             attachment_part("application/octet-stream", "winmail.dat.pdf", PDF),
             attachment_part("text/plain", "notes.txt", b"winmail.dat came again\r\nfrom the old client\r\n")]
    message = exchange_message("not TNEF", "9a8b7c6d5e4f40312233445566778899", multipart_type("mixed", boundary),
                               multipart_body(boundary, parts))
    copy = Copy(message, queue_id(send(veil, message)))
    spool_then_deliver(veil, sink, [copy])
    want = multipart_body(new_boundary(key, boundary), parts)
    for where, got in both(copy):
        assert body_of(got) == want, f"{where}: " + first_difference(body_of(got), want)
        assert leaf_payloads(got) == leaf_payloads(message)
    assert accepted(veil, copy.qid).get("tnef_removed", "0") == "0"


def only_tnef_cases() -> dict[str, bytes]:
    """Multiparts each of whose parts is TNEF: removing them would leave a multipart
    without parts (RFC 2046 5.1.1 wants at least one)."""
    alternative = b"_000_only-tnef-alternativeEXCH01corpinternal_"
    unclosed = tnef_message("only-winmail-unclosed", [tnef_part()], [0])
    return {
        "mixed-only-winmail": tnef_message("mixed-only-winmail", [tnef_part()], [0]).message,
        "mixed-only-tnef-by-content": tnef_message("mixed-only-tnef-by-content",
                                                   [tnef_part("application/octet-stream", "data.bin")], [0]).message,
        "mixed-two-tnef-parts": tnef_message("mixed-two-tnef-parts", [
            tnef_part(), tnef_part("application/vnd.ms-tnef", "message.tnef")], [0, 1]).message,
        "mixed-only-winmail-no-close-delimiter": unclosed.message.replace(b"--" + unclosed.boundary + b"--\r\n", b""),
        # The outer multipart keeps its text part; the inner alternative would be empty.
        "nested-alternative-only-tnef": tnef_message("nested-alternative-only-tnef", [
            text_part(PLAIN_TEXT),
            multipart_type("alternative", alternative) + b"\r\n\r\n" + multipart_body(alternative, [tnef_part()])],
            [1]).message,
    }


@pytest.mark.veil(scrub=SCRUB_REMOVE)
def test_tnef_removal_never_leaves_an_empty_multipart(veil):
    """tnef = "remove": a multipart whose every part is TNEF (a multipart/mixed of
    winmail.dat alone, by type or by content, two TNEF parts, one without its close
    delimiter; a nested multipart/alternative of TNEF alone) is refused with the TNEF
    reply, nothing queued. A nested alternative of text and TNEF loses its TNEF part
    and is delivered."""
    for name, message in only_tnef_cases().items():
        r = send(veil, message, expect=None)
        check_tnef_refusal(r, name)
        assert_queue_holds(veil, [])
    alternative = b"_000_text-and-tnefEXCH01corpinternal_"
    kept = text_part("Forwarded rich text.\n")
    message = tnef_message("nested-alternative-text-and-tnef", [text_part(PLAIN_TEXT), multipart_type(
        "alternative", alternative) + b"\r\n\r\n" + multipart_body(alternative, [kept, tnef_part()])], [1]).message
    qid = queue_id(send(veil, message))
    assert_queue_holds(veil, [qid])
    assert accepted(veil, qid).get("tnef_removed") == "1", accepted(veil, qid)
    want = multipart_body(new_boundary(scrub_key(veil), alternative), [kept])
    assert want in veil.spool_bytes(qid), body_of(veil.spool_bytes(qid))


# More than TNEFSniffer's 4096 bytes of content before the first base64 character:
# empty lines decode to nothing, so only then does the content show what it is.
LATE = b"\r\n" * 2100


def late_part(data: bytes) -> bytes:
    return (b'Content-Type: application/octet-stream; name="data.bin"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n" + LATE + b64_lines(data))


@pytest.mark.parametrize("scrub", [SCRUB_REJECT, SCRUB_REMOVE], ids=["reject", "remove"])
def test_tnef_found_late_in_the_content_is_refused(make_veil, sink, scrub):
    """A part whose content shows the TNEF signature only after 4200 bytes (2100
    empty lines, then base64 of winmail.dat) has been written on before it is
    found, so it cannot be removed: refused with the TNEF reply in both tnef modes
    (as a part of a multipart/mixed and as a whole body), nothing queued. The same
    part with other content (the signature at offset 1, a PDF) is delivered byte
    for byte."""
    veil = routed(make_veil, sink, scrub)
    text = text_part(PLAIN_TEXT)
    refused = {
        "part": tnef_message("late-part", [text, late_part(WINMAIL)], [1]).message,
        "part-before-text": tnef_message("late-part-first", [late_part(WINMAIL), text], [0]).message,
        "whole-body": exchange_message("late whole body", "1a7e" * 8,
                                       b'Content-Type: application/octet-stream; name="data.bin"\r\n'
                                       b"Content-Transfer-Encoding: base64", LATE + b64_lines(WINMAIL)),
    }
    for name, message in refused.items():
        check_tnef_refusal(send(veil, message, expect=None), name)
        assert_queue_holds(veil, [])
    parts = [text, late_part(NOT_TNEF), late_part(PDF)]
    clean = tnef_message("late-not-tnef", parts, [])
    copy = Copy(clean.message, queue_id(send(veil, clean.message)))
    spool_then_deliver(veil, sink, [copy])
    want = multipart_body(new_boundary(scrub_key(veil), clean.boundary), parts)
    for where, got in both(copy):
        assert body_of(got) == want, f"{where}: " + first_difference(body_of(got), want)
    assert accepted(veil, copy.qid).get("tnef_removed", "0") == "0"
    check_no_secrets(veil, [copy], [], TNEF_CONTENT_SECRETS + EXCHANGE_SECRETS)


def tnef_attached_message(name: str, part: bytes) -> bytes:
    tag = hashlib.sha256(name.encode()).hexdigest()[:32]
    boundary = boundary_for(tag)
    return exchange_message(f"TNEF attached {name}", tag, multipart_type("mixed", boundary),
                            multipart_body(boundary, [text_part("See the attached message.\n"), part]))


def tnef_bodied_message(content_type: bytes) -> bytes:
    """An attached message whose own body is TNEF (not one of its parts)."""
    return inner_header(content_type + b"\r\nContent-Transfer-Encoding: base64") + b64_lines(WINMAIL)


@pytest.mark.parametrize("scrub", [SCRUB_REJECT, SCRUB_REMOVE], ids=["reject", "remove"])
def test_attached_message_whose_body_is_tnef_is_refused(make_veil, scrub):
    """A message/rfc822 part whose attached message is all TNEF (its Content-Type
    application/ms-tnef, or its content starting with the signature): removing it
    would leave an attached message without a body, so it is refused with the TNEF
    reply in both tnef modes, as it is (7bit) and base64 or quoted-printable
    encoded, also when the signature comes after 4096 bytes; nothing queued."""
    veil = make_veil(scrub=scrub)
    by_type = tnef_bodied_message(b'Content-Type: application/ms-tnef; name="winmail.dat"')
    by_content = tnef_bodied_message(b'Content-Type: application/octet-stream; name="data.bin"')
    late = (inner_header(b'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64')
            + LATE + b64_lines(WINMAIL))
    cases = {
        "7bit-by-type": b"Content-Type: message/rfc822\r\n\r\n" + by_type,
        "7bit-by-content": b"Content-Type: message/rfc822\r\n\r\n" + by_content,
        "7bit-late": b"Content-Type: message/rfc822\r\n\r\n" + late,
        "base64-by-type": encoded_message_part(by_type, "base64"),
        "base64-by-content": encoded_message_part(by_content, "base64"),
        "base64-late": encoded_message_part(late, "base64"),
        "quoted-printable-by-type": encoded_message_part(by_type, "quoted-printable"),
    }
    failures = []
    for name, part in cases.items():
        r = send(veil, tnef_attached_message(name, part), expect=None)
        try:
            check_tnef_refusal(r, name)
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "\n".join(failures)
    assert_queue_holds(veil, [])


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
    veil = routed(make_veil, sink, SCRUB_REJECT)
    key = scrub_key(veil)
    cases = calendar_cases()
    copies = [Copy(case.message, queue_id(send(veil, case.message))) for case in cases]
    spool_then_deliver(veil, sink, copies)
    check_each(cases, copies, lambda case, got, what: check_calendars(case.message, got, key, what))
    check_no_secrets(veil, copies, CALENDAR_SECRETS + EXCHANGE_SECRETS)


def test_calendar_prodid_folded_inside_its_name_is_replaced(make_veil, sink):
    """`PRO` CRLF ` DID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN` is one
    content line (RFC 5545 3.1 folds anywhere): replaced by PRODID:-//Veil//Veil//EN
    like an unfolded one, in 7bit, base64 and quoted-printable calendar parts;
    everything else unchanged, no Outlook version left anywhere."""
    veil = routed(make_veil, sink, SCRUB_REJECT)
    key = scrub_key(veil)
    text = text_part("The meeting for Q1.\n")
    cases = []
    for number, (prodid, encoding) in enumerate([(NAME_FOLDED_PRODIDS[0], "7bit"), (NAME_FOLDED_PRODIDS[0], "base64"),
                                                 (NAME_FOLDED_PRODIDS[1], "base64"),
                                                 (NAME_FOLDED_PRODIDS[1], "quoted-printable")]):
        tag = f"f{number}" * 16
        boundary = boundary_for(tag)
        name = f"name-folded-{number}-{encoding}"
        cases.append(CalendarCase(name, exchange_message(f"calendar {name}", tag, multipart_type("mixed", boundary),
                                                         multipart_body(boundary, [text, calendar_part(
                                                             calendar(prodid), encoding)]))))
    copies = [Copy(case.message, queue_id(send(veil, case.message))) for case in cases]
    spool_then_deliver(veil, sink, copies)
    check_each(cases, copies, lambda case, got, what: check_calendars(case.message, got, key, what))
    check_no_secrets(veil, copies, CALENDAR_SECRETS + EXCHANGE_SECRETS)


@pytest.mark.veil(scrub=SCRUB_REJECT)
def test_top_level_calendar_prodid_is_replaced(veil):
    """A message that is only a calendar (Content-Type: text/calendar at the top level,
    as Outlook sends meeting responses): the same rule."""
    for encoding in ("base64", "7bit", "quoted-printable"):
        cal = calendar(OUTLOOK_PRODID, method="REPLY")
        body = b64_lines(cal) if encoding == "base64" else qp_encode(cal) + b"\r\n" if encoding != "7bit" else cal
        message = exchange_message(f"Accepted: Q1 planning {encoding}", f"{encoding[:2]}" * 16,
                                   b'Content-Type: text/calendar; charset="utf-8"; method=REPLY\r\n'
                                   b"Content-Transfer-Encoding: " + encoding.encode(), body)
        got = veil.spool_bytes(queue_id(send(veil, message)))
        header, content = split_entity(got)
        assert cte_of(header) == encoding
        decoded = decode_content(header, content)
        want = replace_prodid(decode_content(split_entity(message)[0], split_entity(message)[1]))
        assert decoded == want, f"{encoding}: " + first_difference(decoded, want)
        assert not leaked(CALENDAR_SECRETS, got + decoded), encoding


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
    veil = routed(make_veil, sink, SCRUB_REJECT)
    key = scrub_key(veil)
    cases = encoded_messages()
    copies = [Copy(case.message, queue_id(send(veil, case.message))) for case in cases]
    spool_then_deliver(veil, sink, copies)
    check_each(cases, copies, lambda case, got, what: check_attached(case, got, key, what))
    check_no_secrets(veil, copies, INNER_SECRETS + EXCHANGE_SECRETS)


def check_attached_header(inner: bytes, key: bytes, what: str):
    """The header block of an attached message made by inner_header(), scrubbed."""
    fields, _ = split_message(inner.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    assert [f.name for f in fields] == INNER_KEPT, \
        f"{what}: fields {[f.name for f in fields]}"
    assert named(fields, "message-id")[0].raw == b"Message-ID: " + mapped_id(key, INNER_ID) + b"\r\n", what
    bad = leaked(INNER_SECRETS + EXCHANGE_SECRETS, inner)
    assert not bad, f"{what}: left in the attached message: {bad}"


def test_attached_messages_inside_encoded_ones_lf_and_large(make_veil, sink):
    """An encoded attached message inside an encoded attached message (quoted-printable
    around base64): both header blocks scrubbed, both encodings kept, the innermost
    parts intact. An attached message with LF-only line ends inside base64: scrubbed.
    A base64 attached message carrying a 3 MB attachment: scrubbed, the attachment
    decodes to the same SHA-256."""
    veil = routed(make_veil, sink, SCRUB_REJECT)
    key = scrub_key(veil)
    level2 = b"dbl-level2-1"
    double = inner_header(multipart_type("mixed", level2), "FW: Northwind figures") + multipart_body(level2, [
        text_part("Dave,\n\nsee below.\n"), encoded_message_part(inner_message(), "base64")])
    data = random.Random(1118).randbytes(3 * 1024 * 1024)
    big = b"big-inner-1"
    large = inner_header(multipart_type("mixed", big), "Northwind backup") + multipart_body(big, [
        text_part("The backup.\n"), attachment_part("application/octet-stream", "backup.img", data)])
    cases = {"double": (double, "quoted-printable"),
             "lf-only": (inner_message().replace(b"\r\n", b"\n"), "base64"),
             "large": (large, "base64")}
    messages = {}
    for name, (inner, encoding) in cases.items():
        tag = hashlib.sha256(name.encode()).hexdigest()[:32]
        boundary = boundary_for(tag)
        messages[name] = (exchange_message(f"FW: {name}", tag, multipart_type("mixed", boundary), multipart_body(
            boundary, [text_part("See the attached message.\n"), encoded_message_part(inner, encoding)])), boundary)
    copies = [Copy(message, queue_id(send(veil, message))) for message, _ in messages.values()]
    spool_then_deliver(veil, sink, copies)
    failures = []
    for (name, (message, boundary)), copy in zip(messages.items(), copies):
        new = new_boundary(key, boundary)
        for where, got in both(copy):
            what = f"{name} {where}"
            try:
                header, content = split_entity(split_multipart(body_of(got), new).parts[1])
                assert cte_of(header) == cases[name][1], what
                inner = decode_content(header, content)
                check_attached_header(inner, key, what)
                if name == "double":
                    check_qp(content_of(content), what)
                    innermost = attached_message(inner, new_boundary(key, level2), 1)
                    check_attached_header(innermost, key, what + " (innermost)")
                    assert leaf_payloads(innermost) == leaf_payloads(inner_message()), f"{what}: innermost parts"
                elif name == "lf-only":
                    normalized = inner.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                    assert leaf_payloads(normalized) == leaf_payloads(inner_message()), f"{what}: parts changed"
                else:
                    payloads = leaf_payloads(inner)
                    assert hashlib.sha256(payloads[1][1]).digest() == hashlib.sha256(data).digest(), what
                    check_base64(content_of(content).rstrip(b"\r\n"), what)
            except AssertionError as e:
                failures.append(f"--- {what} ({copy.qid}): {e}")
    assert not failures, "\n".join(failures)
    check_no_secrets(veil, copies, INNER_SECRETS + EXCHANGE_SECRETS)


@pytest.mark.parametrize("mode", ["allowlist", "denylist"])
def test_encoded_digest_parts_without_content_type_are_messages(make_veil, sink, mode):
    """RFC 2046 5.1.5: in a multipart/digest a part without Content-Type is a
    message/rfc822, also when it is sent base64 or quoted-printable: decoded, its
    header block scrubbed (Received, X-MS-Exchange-* gone, Message-ID mapped), its
    parts intact, encoded again with the same encoding, its own part header block
    unchanged. A digest part typed text/plain is text: byte for byte."""
    scrub = SCRUB_REJECT if mode == "allowlist" else dict(SCRUB_REJECT, mode="denylist", profile="exchange")
    veil = routed(make_veil, sink, scrub)
    key = scrub_key(veil)
    tag = "d19e5700d19e5700d19e5700d19e5700"
    boundary = boundary_for(tag)
    inner = inner_message()
    parts = [b"Content-Transfer-Encoding: base64\r\n\r\n" + b64_lines(inner),
             b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + qp_encode(inner) + b"\r\n",
             b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64_lines(inner)]
    message = exchange_message("FW: digest", tag, multipart_type("digest", boundary), multipart_body(boundary, parts))
    copy = Copy(message, queue_id(send(veil, message)))
    spool_then_deliver(veil, sink, [copy])
    failures = []
    for where, got in both(copy):
        got_parts = split_multipart(body_of(got), new_boundary(key, boundary)).parts
        try:
            assert len(got_parts) == 3, f"{len(got_parts)} parts"
            for index, encoding in ((0, "base64"), (1, "quoted-printable")):
                what = f"{where} part {index} ({encoding})"
                header, content = split_entity(got_parts[index])
                assert header == split_entity(parts[index])[0], f"{what}: header block {header!r}"
                if encoding == "base64":
                    check_base64(content_of(content).rstrip(b"\r\n"), what)
                else:
                    check_qp(content_of(content), what)
                decoded = decode_content(header, content)
                check_attached_header(decoded, key, what)
                assert top_boundary(decoded) == new_boundary(key, INNER_ALT), what
                assert leaf_payloads(decoded) == leaf_payloads(inner), f"{what}: the attached parts changed"
            assert got_parts[2] == parts[2], f"{where}: the text/plain part changed"
        except AssertionError as e:
            failures.append(f"--- {where} ({copy.qid}): {e}")
    assert not failures, "\n".join(failures)
    bad = leaked(INNER_SECRETS + EXCHANGE_SECRETS, daemon_log(veil))
    assert not bad, f"secrets in the log: {bad}"


UNREADABLE = ("554 5.6.0 Error: MIME structure that cannot be scrubbed (a part header block that is malformed, "
              "too large or not ended by an empty line, or nesting deeper than 32 levels)")


@pytest.mark.parametrize("mode", ["allowlist", "denylist"])
def test_encoded_attached_message_with_an_unreadable_header_block(make_veil, mode):
    """A base64 attached message whose header block the walker cannot read (it starts
    with a continuation line; it ends at a line that is no field): the allowlist
    refuses the message with the 554 5.6.0 MIME reply, nothing queued; the denylist
    delivers it (re-encoded, the same message when decoded; mime_skipped for the
    malformed block)."""
    scrub = SCRUB_REJECT if mode == "allowlist" else dict(SCRUB_REJECT, mode="denylist", profile="exchange")
    veil = make_veil(scrub=scrub)
    key = scrub_key(veil)
    cases = {"continuation-first": (b" folded, with no field above it\r\n" + inner_message(), True),
             "ended-by-text": (inner_message().replace(b"Subject: Northwind figures\r\n",
                                                       b"Subject: Northwind figures\r\nnot a field\r\n"), False)}
    queued = []
    for name, (inner, malformed) in cases.items():
        message = tnef_attached_message(name, encoded_message_part(inner, "base64"))
        if mode == "allowlist":
            r = send(veil, message, expect=None)
            assert r.lines == [UNREADABLE], (name, r.lines)
            assert_queue_holds(veil, [])
            continue
        qid = queue_id(send(veil, message))
        queued.append(qid)
        assert_queue_holds(veil, queued)
        assert ("mime_skipped" in accepted(veil, qid)) == malformed, (name, accepted(veil, qid))
        got = veil.spool_bytes(qid)
        decoded = attached_message(got, new_boundary(key, top_boundary(message)), 1)
        if malformed:
            assert decoded == inner, name + ": " + first_difference(decoded, inner)
        else:                       # read up to the line: the fields above it scrubbed
            assert decoded.startswith(b"From: Dave Novak") and b"\r\nnot a field\r\n" in decoded, decoded[:400]


# --------------------------------------------------------------------------------------
# Streaming and bounds
# --------------------------------------------------------------------------------------

def test_big_attachment_next_to_a_calendar(make_veil, sink):
    """A 5 MB base64 attachment next to a meeting request: the attachment decodes to
    the same SHA-256, the calendar gets Veil's PRODID."""
    veil = routed(make_veil, sink, SCRUB_REJECT)
    data = random.Random(20231120).randbytes(5 * 1024 * 1024)
    tag = "8e7d6c5b4a3f42e1d0c9b8a7f6e5d4c3"
    boundary = boundary_for(tag)
    parts = [text_part("The backup image and the meeting.\n"),
             calendar_part(calendar(OUTLOOK_PRODID), "base64"),
             attachment_part("application/octet-stream", "backup.img", data)]
    message = exchange_message("big attachment and a meeting", tag, multipart_type("mixed", boundary),
                               multipart_body(boundary, parts))
    copy = Copy(message, queue_id(send(veil, message)))
    spool_then_deliver(veil, sink, [copy])
    digest = hashlib.sha256(data).hexdigest()
    for where, got in both(copy):
        payloads = leaf_payloads(got)
        assert [t for t, _ in payloads] == ["text/plain", "text/calendar", "application/octet-stream"], where
        assert hashlib.sha256(payloads[2][1]).hexdigest() == digest, where
        assert payloads[1][1] == replace_prodid(calendar(OUTLOOK_PRODID)), where
        assert not leaked(CALENDAR_SECRETS, payloads[1][1]), where
    check_no_secrets(veil, [copy], CALENDAR_SECRETS + EXCHANGE_SECRETS)


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
    veil = routed(make_veil, sink, SCRUB_REJECT)
    key = scrub_key(veil)
    case = encoded_messages()[1]
    assert case.encoding == "quoted-printable"
    chunks = odd_chunks(case.message, 3030)
    assert len(chunks) > 200
    copies = [Copy(case.message, queue_id(send(veil, case.message))),
              Copy(case.message, queue_id(send(veil, case.message, chunks=chunks)))]
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
