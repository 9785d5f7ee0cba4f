"""The MIME walker (issue 7) through the real binary: boundaries replaced by keyed
hashes in Content-Type fields and delimiter lines, header blocks of attached messages
and (issue 12) of MIME parts scrubbed, everything else byte for byte, malformed and
deep structures passed without losing a byte. Tests about what the walker reads run
in both scrub modes (allowlist, the default, and the exchange denylist). What the
walker cannot read (a malformed or oversized header block, one not ended by an empty
line, nesting deeper than 32 levels) passes in denylist mode, and refuses the message
in allowlist mode, which cannot tell what would leave (UNREADABLE).

mime_expect.rewrite() computes the expected body independently (the contract is in
its docstring); test_expected_rewrite_model checks that model against Python's email
parser without a daemon, so that a failure in the daemon tests points at Veil. The
corpus helpers (sending with swaks, secrets, id mapping) come from test_scrub.
"""

from __future__ import annotations

import base64
import email
import hashlib
import hmac
import random
import re
from dataclasses import dataclass

import pytest

import mime_expect
from harness import queue_id, wait_until
from mime_expect import check_same_but_boundaries, shape, tree
from sink import Sink
from test_scrub import (ALLOW, CORPUS, HELO, MODES, RECIPIENT, SCRUB, SENDER, daemon_log, eml, expected_mime, leaked,
                        mapped_id, named, scrub_key, secrets_of, send_file, split_message, transmitted)

NEW_BOUNDARY_RE = re.compile(rb'boundary="=_veil_[a-z2-7]{32}"')
EXCHANGE = ["08-exchange-multipart", "09-forwarded-internal"]


def keyed_boundary(key: bytes, old: bytes) -> bytes:
    """Written out here once more, independent of mime_expect."""
    digest = hmac.new(key, b"boundary:" + old, hashlib.sha256).digest()
    return b"=_veil_" + base64.b32encode(digest[:20]).decode().rstrip("=").lower().encode()


# --------------------------------------------------------------------------------------
# Sending and reading back
# --------------------------------------------------------------------------------------

def send(veil, data: bytes, bdat_split: int | None = None) -> str:
    """One message with the raw client: DATA (Veil receives `data`, plus CRLF if it
    does not end with one), or BDAT in two chunks split at `bdat_split` (received as
    it is)."""
    with veil.connect("plain") as c:
        c.ehlo(HELO)
        c.mail(SENDER)
        c.rcpt(RECIPIENT)
        if bdat_split is None:
            r = c.data(data, expect="250 2.0.0")
        else:
            c.bdat(data[:bdat_split], expect="250")
            r = c.bdat(data[bdat_split:], last=True, expect="250 2.0.0")
        c.quit()
    return queue_id(r)


UNREADABLE = ("554 5.6.0 Error: MIME structure that cannot be scrubbed (a part header block that is malformed, "
              "too large or not ended by an empty line, or nesting deeper than 32 levels)")


def send_refused(veil, data: bytes, bdat_split: int | None = None, reply: str = UNREADABLE):
    """Sends like send(); the message must be refused at the end of the data with
    exactly `reply`, and nothing queued (the queue holds what it held before)."""
    before = (veil.messages(), veil.spool_files(), len(veil.events("accepted")))
    with veil.connect("plain") as c:
        c.ehlo(HELO)
        c.mail(SENDER)
        c.rcpt(RECIPIENT)
        if bdat_split is None:
            r = c.data(data, expect=None)
        else:
            c.bdat(data[:bdat_split], expect="250")
            r = c.bdat(data[bdat_split:], last=True, expect=None)
        c.quit()
    assert r.lines == [reply], f"expected {reply!r}, got {r.lines}"
    wait_until(lambda: veil.incoming_files() == [], what="no incoming files")
    assert (veil.messages(), veil.spool_files(), len(veil.events("accepted"))) == before, "something was queued"


def received_text(data: bytes, bdat: bool = False) -> bytes:
    """What Veil stores before rewriting: DATA text ends with CRLF; bare CR and LF
    become CRLF (bare_newline = "normalize")."""
    if not bdat and not data.endswith(b"\r\n"):
        data += b"\r\n"
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


def accepted(veil, qid: str) -> dict:
    return veil.wait_event("accepted", queue_id=qid)[0]


def check_spooled(veil, qid: str, sent: bytes, embedded: bool = True, skipped: bool | None = None,
                  scrub: dict = SCRUB, max_header_size: int = mime_expect.MAX_HEADER_SIZE
                  ) -> tuple[mime_expect.Expected, bytes]:
    """The spooled body and top-level Content-Type are what the contract says (under
    the rules of `scrub`, the daemon's scrub= override, and max_header_size), and the
    accepted line counts them and has mime_skipped when `skipped` (None: when the
    contract says a part was not read); returns (expected, spooled message)."""
    got = veil.spool_bytes(qid)
    want = expected_mime(sent, scrub_key(veil), embedded, scrub=scrub, max_header_size=max_header_size)
    fields, body = split_message(got)
    assert [f.raw for f in named(fields, "content-type")] == want.content_type
    assert body == want.body, "body differs from the expected MIME rewrite\n" + first_difference(body, want.body)
    event = accepted(veil, qid)
    assert event.get("mime_rewritten") == str(want.count), (event, want.count)
    skipped = want.skipped if skipped is None else skipped
    assert ("mime_skipped" in event) == skipped, event
    if skipped:
        assert event["mime_skipped"], event
    return want, got


def first_difference(a: bytes, b: bytes) -> str:
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    around = slice(max(0, n - 80), n + 80)
    return f"first difference at byte {n}: got {a[around]!r}\n   expected {b[around]!r}"


def body_of(message: bytes) -> bytes:
    return split_message(message)[1]


def delimiter_lines(data: bytes) -> list[bytes]:
    return re.findall(rb"(?m)^--[^\r\n]*", data)


# The delivered copy: smtp-sink writes its own X-* lines and Received field, then the
# message with LF line ends, then one more LF.

@pytest.fixture
def sink(tmp_path):
    s = Sink(tmp_path / "sink")
    yield s
    s.stop()


def routed(make_veil, sink, scrub=SCRUB, **overrides):
    return make_veil(delivery={"mode": "mx", "smarthost": None, "retry": ["1s"]},
                     routes=[{"domain": RECIPIENT.split("@")[1], "route": sink.route}], scrub=scrub, **overrides)


def delivered_message(dump: bytes) -> bytes:
    lines = dump.split(b"\n")
    index = 0
    while lines[index].startswith(b"X-"):              # X-Client-Addr ... X-Rcpt-Args
        index += 1
    assert lines[index].startswith(b"Received: "), dump[:600]
    index += 1
    while lines[index][:1] in (b" ", b"\t"):
        index += 1
    assert b"smtp-sink" in b"\n".join(lines[:index]), dump[:600]
    text = b"\n".join(lines[index:])
    assert text.endswith(b"\n\n"), text[-200:]
    return text[:-1].replace(b"\n", b"\r\n")


# --------------------------------------------------------------------------------------
# Hand-made messages
# --------------------------------------------------------------------------------------

def mime_message(content_type: bytes, body: bytes, subject: str = "mime test", extra: bytes = b"") -> bytes:
    """A top-level header block that survives scrubbing but for the Message-ID."""
    tag = subject.replace(" ", "-").encode()
    return (b"From: Alice Martin <alice.martin@contoso.com>\r\n"
            b"To: Bob Keller <bob.keller@fabrikam.example>\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"Date: Mon, 20 Nov 2023 10:00:00 +0000\r\n"
            b"Message-ID: <" + tag + b"@EXCH01.corp.internal>\r\n" + extra +
            b"MIME-Version: 1.0\r\n" + content_type + b"\r\n\r\n" + body)


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


EMBEDDED_HEADER = crlf("""\
Received: from MBX02.ad.contoso.com (10.1.4.22) by EXCH01.corp.internal
 (192.168.10.21) with Microsoft SMTP Server id 15.2.1258.12; Thu, 16 Nov 2023
 18:40:07 +0100
From: Dave Novak <dave.novak@contoso.com>
To: Carol Diaz <carol.diaz@contoso.com>
Subject: Northwind figures
Date: Thu, 16 Nov 2023 17:40:06 +0000
Message-ID: <5a6b7c8d9e0f41a2b3c4d5e6f7a8b9c0@MBX02.ad.contoso.com>
X-MS-Exchange-Organization-AuthSource: MBX02.ad.contoso.com
X-Originating-IP: [10.20.31.7]
""")
EMBEDDED_SECRETS = ["MBX02", "ad.contoso.com", "10.1.4.22", "10.20.31.7", "5a6b7c8d9e0f41a2b3c4d5e6f7a8b9c0",
                    "X-MS-Exchange-", "X-Originating-IP", "Microsoft SMTP Server"]


@dataclass
class Case:
    name: str
    message: bytes
    bdat_split: int | None = None    # sent with BDAT, in two chunks split there
    tree: bool = True                # Python's email parser reads this input as the contract does
    refused: bool = False            # the allowlist refuses it (UNREADABLE); the denylist passes it

    @property
    def received(self) -> bytes:
        return received_text(self.message, bdat=self.bdat_split is not None)


def _malformed_cases() -> list[Case]:
    cases = []

    def add(name, content_type, body, **kw):
        cases.append(Case(name, mime_message(crlf(content_type), crlf(body), subject=f"case {name}"), **kw))

    add("missing-close-delimiter", 'Content-Type: multipart/mixed; boundary="outer-1"', """\
This is a multi-part message in MIME format.
--outer-1
Content-Type: text/plain

first part
--outer-1
Content-Type: text/plain

second part, and the message ends without a close delimiter
""")
    add("boundary-never-appears", 'Content-Type: multipart/alternative; boundary="nowhere-2"', """\
A multipart whose boundary never comes:
--nowhere
--nowhere-2x
 --nowhere-2
--nowhere-2-
""")
    add("delimiters-with-trailing-space", 'Content-Type: multipart/mixed; boundary="ws-3"', """\
--ws-3 \t
Content-Type: text/plain

padded delimiters; the next lines are not delimiters and stay:
 --ws-3
--ws-3x
--ws-3--x
--WS-3
--ws-3\t
Content-Type: text/plain

second
--ws-3--  \t
epilogue
""")
    add("part-header-ended-by-delimiter", 'Content-Type: multipart/mixed; boundary="hdr-4"', """\
--hdr-4
Content-Type: text/plain; charset=us-ascii
--hdr-4
Content-Type: multipart/alternative; boundary="hdr-4-inner"
--hdr-4--
""")
    lf = mime_message(b'Content-Type: multipart/mixed; boundary="lf-5"', b"", subject="case lf-line-ends")
    cases.append(Case("lf-line-ends", lf + b"preamble\n--lf-5\nContent-Type: text/plain\n\nLF only\n"
                                           b"--lf-5  \r\nContent-Type: text/plain\r\n\r\nCRLF\r\n"
                                           b"--lf-5\nContent-Type: text/plain\r\n\nmixed\r\n--lf-5--\n"))
    eom = mime_message(b'Content-Type: multipart/mixed; boundary="eom-6"', crlf("""\
--eom-6
Content-Type: text/plain

the last line has no line end
--eom-6--"""), subject="case end-of-message")
    cases.append(Case("close-delimiter-at-end-of-message", eom, bdat_split=len(eom) - 5))
    add("inner-closed-by-outer", 'Content-Type: multipart/mixed; boundary="out-7"', """\
--out-7
Content-Type: multipart/alternative; boundary="in-7"

--in-7
Content-Type: text/plain

the inner multipart never closes
--out-7
Content-Type: text/plain

after it
--out-7--
""")
    add("delimiter-lookalikes-outside-their-multipart", 'Content-Type: multipart/mixed; boundary="a-8"', """\
--a-8-inner
--a-8
Content-Type: multipart/mixed; boundary="a-8-inner"

--a-8-inner
Content-Type: text/plain

x
--a-8-inner--
--a-8-inner
--a-8--
--a-8
""")
    add("content-type-variants", 'Content-type: Multipart/Mixed; charset="us-ascii" (ignored);\n'
                                 '\tBOUNDARY = tok_9.x ;\n\tformat=flowed', """\
--tok_9.x
Content-Type: multipart/alternative;
 boundary="q\\"uo\\\\ted  "

--q"uo\\ted
Content-Type: text/plain

quoted pairs and trailing spaces
--q"uo\\ted--
--tok_9.x
Content-Type: multipart/mixed; boundary=""

an empty boundary is left alone
--tok_9.x
Content-Type: multipart/mixed; boundary="first-9"; boundary="second-9"

--first-9
Content-Type: text/plain

two boundary parameters: both replaced, the first one counts
--first-9--
--tok_9.x--
""")
    add("comment-before-boundary", 'Content-Type: multipart/mixed; (Exchange) boundary="cmt-10" (sic)', """\
--cmt-10
Content-Type: text/plain

comments around a parameter
--cmt-10--
""", tree=False)   # Python reads the comments as part of the parameter
    add("innermost-first", 'Content-Type: multipart/mixed; boundary="x11"', """\
--x11
Content-Type: multipart/mixed; boundary="x11--"

--x11--
Content-Type: text/plain

"--x11--" is a delimiter of the inner multipart, not the outer one's close
--x11----
--x11--
""", tree=False)   # Python tries the outer boundary first
    add("mbox-from-line-before-attached-header", 'Content-Type: multipart/mixed; boundary="mb-13"', """\
--mb-13
Content-Type: message/rfc822

From MAILER-DAEMON Mon Nov 20 10:00:00 2023
From: Dave Novak <dave.novak@contoso.com>
Subject: an mbox From line before the header block is no field and stays

attached
--mb-13--
""", tree=False)   # Python reads the From line as the attached message's envelope

    # Header blocks the walker cannot read: the denylist passes them (a malformed
    # block as it is, mime_skipped; a block ended by another line is read up to it,
    # the fields after it are body text), the allowlist refuses the message.
    add("part-header-ended-by-text", 'Content-Type: multipart/mixed; boundary="tx-20"', """\
--tx-20
Content-Type: text/plain
Content-Disposition: inline
this line is no header field and starts the content
--tx-20--
""", refused=True)
    add("rfc822-part-header-without-empty-line", 'Content-Type: multipart/mixed; boundary="rf-12"', """\
--rf-12
Content-Type: message/rfc822
this line is no header field and the attached message has no header block
Received: from a.corp.internal (so this is its body text)
--rf-12--
""", refused=True)
    add("part-header-line-without-colon-in-the-middle", 'Content-Type: multipart/mixed; boundary="nc-21"', """\
--nc-21
Content-Type: text/plain
X-Note this line has no colon
X-Contoso-Workflow-Server: APP07.corp.example
Content-Disposition: inline

text
--nc-21--
""", refused=True)
    add("part-header-ended-by-a-colon-line", 'Content-Type: multipart/mixed; boundary="co-22"', """\
--co-22
Content-Type: text/plain
:
Content-Disposition: inline

text
--co-22--
""", refused=True, tree=False)   # Python reads ":" as a field with an empty name
    add("part-header-starts-with-a-continuation-line", 'Content-Type: multipart/mixed; boundary="ct-23"', """\
--ct-23
 folded, with no field above it
Content-Type: text/plain

text
--ct-23--
""", refused=True)
    add("attached-header-ended-by-from-line", 'Content-Type: multipart/mixed; boundary="fr-24"', """\
--fr-24
Content-Type: message/rfc822

From: Dave Novak <dave.novak@contoso.com>
Subject: a From line after the fields
From x
Received: from a.corp.internal by b.corp.internal; Mon, 20 Nov 2023 10:00:00 +0100

attached
--fr-24--
""", refused=True, tree=False)   # Python skips the From line and reads on
    add("rfc822-headers-part-ended-by-text", 'Content-Type: multipart/report; report-type=delivery-status;'
        ' boundary="rh-25"', """\
--rh-25
Content-Type: text/plain

Your message could not be delivered.
--rh-25
Content-Type: text/rfc822-headers

Subject: returned
not a field
Received: from a.corp.internal by b.corp.internal; Mon, 20 Nov 2023 10:00:00 +0100

--rh-25--
""", refused=True)
    nul = mime_message(b'Content-Type: multipart/mixed; boundary="nul-26"', crlf("""\
--nul-26
Content-Type: text/plain
Content-Description: a NUL byte: \0 in a part header

text
--nul-26--
"""), subject="case part-header-with-nul")
    cases.append(Case("part-header-with-nul", nul, refused=True))
    nul_attached = mime_message(b'Content-Type: multipart/mixed; boundary="nul-27"', crlf("""\
--nul-27
Content-Type: message/rfc822

From: Dave Novak <dave.novak@contoso.com>
Subject: a NUL byte: \0 in an attached header block

attached
--nul-27--
"""), subject="case attached-header-with-nul")
    cases.append(Case("attached-header-with-nul", nul_attached, refused=True))
    return cases


MALFORMED = _malformed_cases()


def nested_message(levels: int = 40) -> bytes:
    """Multiparts `levels` deep (the message is level 1, boundary lvl01), text at the
    bottom, and a second part of the top multipart after the deep one."""
    def entity(k: int) -> bytes:
        if k > levels:
            return b"Content-Type: text/plain\r\n\r\ndeep down\r\n"
        return b'Content-Type: multipart/mixed; boundary="lvl%02d"\r\n\r\n%s' % (k, content(k))

    def content(k: int) -> bytes:
        return b"--lvl%02d\r\n%s--lvl%02d--\r\n" % (k, entity(k + 1), k)

    body = (b"--lvl01\r\n" + entity(2) + b"--lvl01\r\nContent-Type: text/plain\r\n\r\nafter the deep part\r\n"
            b"--lvl01--\r\n")
    return mime_message(b'Content-Type: multipart/mixed; boundary="lvl01"', body, subject="deep")


def part_headers_message() -> bytes:
    """Parts whose own header blocks carry more than Content-*: a signature tool's
    stamp, an in-house workflow field, a webmail attachment id, an Exchange stamp on
    the part of an attached message; an inline image whose Content-ID the HTML
    names; an attached message with its own internal header block."""
    return mime_message(b'Content-Type: multipart/mixed;\r\n\tboundary="_004_partsEXCH01corpinternal_"', crlf("""\
--_004_partsEXCH01corpinternal_
Content-Type: multipart/alternative;
\tboundary="_000_partsEXCH01corpinternal_"
X-MS-Exchange-Organization-AuthSource: EXCH01.corp.internal

--_000_partsEXCH01corpinternal_
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable
X-Exclaimer-MD-Config: 8c10826d-4052-4c5c-a3b7-4e7d5c9e2f11

The chart is below.
--_000_partsEXCH01corpinternal_
content-type : text/html; charset="us-ascii"
X-Contoso-Workflow-Server: APP07.corp.example
Content-Transfer-Encoding: quoted-printable

<p>The chart is below.</p><img src=3D"cid:image001.png@01DA1B2C.3D4E5F60">
--_000_partsEXCH01corpinternal_--

--_004_partsEXCH01corpinternal_
Content-Type: image/png; name="image001.png"
Content-Description: image001.png
Content-Disposition: inline; filename="image001.png"; size=8
Content-ID: <image001.png@01DA1B2C.3D4E5F60>
X-Attachment-Id: f_lp0x1abc0
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--_004_partsEXCH01corpinternal_
Content-Type: message/rfc822
X-MS-Exchange-Organization-OriginalClientIPAddress: 10.20.31.7
Content-Disposition: attachment

""") + EMBEDDED_HEADER + b"X-Contoso-Workflow-Server: APP07.corp.example\r\n" + crlf("""\

attached body
--_004_partsEXCH01corpinternal_--
"""), subject="part headers")


# --------------------------------------------------------------------------------------
# The model, without a daemon
# --------------------------------------------------------------------------------------

def test_expected_rewrite_model():
    """mime_expect.rewrite() keeps the MIME tree Python's email package sees, loses
    no byte, and counts as the contract says on messages counted by hand."""
    key = bytes(range(32))
    for path in CORPUS:
        data = transmitted(path.read_bytes())
        want = expected_mime(data, key)
        if not email.message_from_bytes(data).defects:   # 06's obsolete "Name :" fields end
            assert tree(want.message) == tree(data), path.name   # Python's header block early
        if not want.scrubbed_fields:
            check_same_but_boundaries(want.message, data, want.boundaries)
        # The corpus's part header blocks hold only Content-*: the modes differ at
        # most in attached header blocks, which hold nothing outside both lists.
        assert want.part_fields == 0, path.name
        assert expected_mime(data, key, scrub=MODES["allowlist"]).body == want.body, path.name
    assert expected_mime(transmitted(eml(EXCHANGE[0]).read_bytes()), key).count == 2 + 6
    # 09: 3 parameters, 9 delimiter lines, and in the attached header block 13
    # fields removed (2 Received, Thread-*, Accept-Language, X-MS-*, X-Originating-IP)
    # and 3 rewritten (Message-ID, References, In-Reply-To).
    nine = expected_mime(transmitted(eml(EXCHANGE[1]).read_bytes()), key)
    assert (nine.parameters, nine.delimiters, nine.scrubbed_fields, nine.count) == (3, 9, 16, 28)
    for case in MALFORMED:
        want = expected_mime(case.received, key)
        check_same_but_boundaries(want.message, case.received, want.boundaries)
        if case.tree:
            assert tree(want.message) == tree(case.received), case.name
        # The table says which cases the allowlist refuses; the contract agrees.
        assert bool(want.unreadable) == case.refused, (case.name, want.unreadable)
        assert bool(expected_mime(case.received, key, scrub=MODES["allowlist"]).unreadable) == case.refused
    deep = expected_mime(nested_message(), key)
    assert deep.skipped and (deep.parameters, deep.delimiters) == (32, 65)
    assert tree(deep.message) == tree(nested_message())
    # 31 nested multiparts put the text at level 32, the deepest read; 32 put it at 33.
    assert [bool(expected_mime(nested_message(n), key).unreadable) for n in (31, 32, 40)] == [False, True, True]
    assert not expected_mime(nested_message(31), key).skipped
    for message in oversized_header_messages().values():
        assert expected_mime(message, key, max_header_size=16 * 1024).unreadable == [
            "a header block over max_header_size"]
        assert not expected_mime(message, key).unreadable
    for message, scrubbed in ((digest_message(), 8), (report_message(), 4)):
        want = expected_mime(message, key)
        assert want.scrubbed_fields == scrubbed
        assert tree(want.message) == tree(message)
    # Part header blocks (issue 12), counted by hand. Allowlist: X-MS-Exchange-*,
    # X-Exclaimer-*, X-Contoso-*, X-Attachment-Id, X-MS-Exchange-* out of 5 part
    # blocks; the attached block loses Received, X-MS-Exchange-*, X-Originating-IP,
    # X-Contoso-* and has its Message-ID mapped. Denylist: the in-house X-Contoso-*
    # and X-Attachment-Id stay. Both: the Content-ID of a part is not mapped.
    parts = part_headers_message()
    for mode, part_fields, scrubbed in (("allowlist", 5, 5), ("denylist", 3, 4)):
        want = expected_mime(parts, key, scrub=MODES[mode])
        assert (want.part_fields, want.scrubbed_fields, want.parameters, want.delimiters) == \
            (part_fields, scrubbed, 2, 7), mode
        assert want.count == 2 + 7 + part_fields + scrubbed
        assert b"Content-ID: <image001.png@01DA1B2C.3D4E5F60>\r\n" in want.body
        assert b"content-type : text/html" in want.body
        assert (b"X-Contoso-Workflow-Server" in want.body) == (mode == "denylist")
        assert shape(tree(want.message)) == shape(tree(parts))
    nine_off = expected_mime(transmitted(eml(EXCHANGE[1]).read_bytes()), key, embedded=False)
    assert (nine_off.count, nine_off.scrubbed_fields) == (8, 0)
    check_same_but_boundaries(nine_off.message, transmitted(eml(EXCHANGE[1]).read_bytes()), nine_off.boundaries)
    assert keyed_boundary(key, b"abc") == mime_expect.new_boundary(key, b"abc")


# --------------------------------------------------------------------------------------
# Through the daemon
# --------------------------------------------------------------------------------------

@pytest.mark.veil(scrub=SCRUB)
def test_boundary_is_replaced_by_a_keyed_hash(veil):
    """Exact bytes for a small message: the Content-Type value and the delimiter
    lines replaced, written quoted, nothing else changed; mime_rewritten = 1
    parameter + 3 delimiter lines. The same boundary maps the same way again."""
    old = b"_000_0f1e2d3c4b5a49687766554433221100EXCH01corpinternal_"
    body = (b"--" + old + b"\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\n\r\nhello\r\n"
            b"--" + old + b"\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n"
            b"--" + old + b"--\r\n")
    message = mime_message(b"Content-Type: multipart/alternative;\r\n\tboundary=" + old, body)
    qid = send(veil, message)
    key = scrub_key(veil)
    new = keyed_boundary(key, old)
    assert len(new) == 39 and re.fullmatch(rb"=_veil_[a-z2-7]{32}", new), new
    fields, got_body = split_message(veil.spool_bytes(qid))
    assert [f.raw for f in named(fields, "content-type")] == [
        b'Content-Type: multipart/alternative;\r\n\tboundary="' + new + b'"\r\n']
    assert got_body == body.replace(b"--" + old, b"--" + new)
    assert accepted(veil, qid)["mime_rewritten"] == "4"
    assert old.lower() not in veil.spool_bytes(qid).lower() and old.decode() not in daemon_log(veil)

    # Deterministic under one key: the same old boundary gets the same new one,
    # another old boundary another.
    again = send(veil, message.replace(b"Subject: mime test", b"Subject: again"))
    assert body_of(veil.spool_bytes(again)) == got_body
    other = send(veil, message.replace(old, old[:-2] + b"X_"))
    assert new not in veil.spool_bytes(other) and keyed_boundary(key, old[:-2] + b"X_") in veil.spool_bytes(other)
    # A message without MIME parts: nothing to do, and the log says so.
    plain = send(veil, mime_message(b"Content-Type: text/plain", b"--" + old + b"\r\nno multipart\r\n"))
    assert body_of(veil.spool_bytes(plain)) == b"--" + old + b"\r\nno multipart\r\n"
    assert accepted(veil, plain)["mime_rewritten"] == "0"


@pytest.mark.parametrize("mode", MODES)
def test_exchange_corpus_keeps_the_mime_tree(make_veil, mode):
    """08 (mixed > alternative + base64 attachment) and 09 (a forwarded internal
    message): Python sees the same tree in the spool as in the input, every
    boundary is `=_veil_` + the keyed hash of the old one, no old boundary and no
    internal name is left anywhere, nor in the log."""
    veil = make_veil(scrub=MODES[mode])
    key = scrub_key(veil)
    for stem in EXCHANGE:
        sent = transmitted(eml(stem).read_bytes())
        qid = send_file(veil, eml(stem))
        want, got = check_spooled(veil, qid, sent, scrub=MODES[mode])
        assert tree(got) == tree(sent), stem
        assert len(want.boundaries) == (2 if stem.startswith("08") else 3)
        for old, new in want.boundaries.items():
            assert new == keyed_boundary(key, old)
            assert old.lower() not in got.lower(), (stem, old)
            assert got.count(b'boundary="' + new + b'"') == 1, (stem, new)
        assert len(NEW_BOUNDARY_RE.findall(got)) == len(want.boundaries)
        # Every delimiter line names a new boundary (other lines may start with "--",
        # such as the "--></style>" of Outlook's HTML).
        news = set(want.boundaries.values())
        lines = delimiter_lines(body_of(got))
        ours = [line for line in lines if line.startswith(b"--=_veil_")]
        assert all(line[2:].rstrip(b"-") in news for line in ours), (stem, ours)
        assert len(ours) == want.delimiters
        assert not [line for line in lines if line.startswith((b"--_00", b"--_01"))], stem
        bad = leaked(secrets_of(eml(stem)), got)
        assert not bad, f"{stem}: secrets in the spooled message: {bad}"
    bad = leaked(secrets_of(eml(EXCHANGE[0])) + secrets_of(eml(EXCHANGE[1])), daemon_log(veil))
    assert not bad, f"secrets in the log: {bad}"


def embedded_part(message: bytes, outer: bytes) -> tuple[bytes, bytes]:
    """09: (part header block, attached message) of the message/rfc822 part, the
    third piece between the delimiter lines of `outer`."""
    pieces = message.split(b"\r\n--" + outer)
    part = pieces[2].split(b"\r\n", 1)[1]           # after the rest of the delimiter line
    header, attached = part.split(b"\r\n\r\n", 1)
    return header + b"\r\n\r\n", attached


@pytest.mark.parametrize("mode", MODES)
def test_attached_message_header_block_is_scrubbed(make_veil, mode):
    """09's message/rfc822 part: its Received chain, X-MS-Exchange-*, X-Originating-IP,
    Thread-*, Accept-Language are gone; its Message-ID is mapped; In-Reply-To and
    References map the ids of the attached message's own organization (ad.contoso.com,
    which is not the outer message's) and keep Fabrikam's; nothing is added (no trace
    field, Date or Message-ID of Veil's); the rest keeps its bytes and order."""
    veil = make_veil(scrub=MODES[mode])
    path = eml(EXCHANGE[1])
    sent = transmitted(path.read_bytes())
    qid = send_file(veil, path)
    key = scrub_key(veil)
    got = veil.spool_bytes(qid)
    outer = b"_004_2d9c4b7a1e3f4a6b8c0d2e4f6a8b0c1dEXCH01corpinternal_"
    in_part, in_attached = embedded_part(sent, outer)
    out_part, out_attached = embedded_part(got, keyed_boundary(key, outer))
    assert out_part == in_part, "the MIME part's own header block (Content-* only) changed"
    in_fields, in_body = split_message(in_attached)
    out_fields, out_body = split_message(out_attached)

    names = [f.name for f in out_fields]
    assert names == ["from", "to", "subject", "date", "message-id", "references", "in-reply-to",
                     "content-language", "content-type", "mime-version"], names
    for name in ("from", "to", "subject", "date", "content-language", "mime-version"):
        assert named(out_fields, name)[0].raw == named(in_fields, name)[0].raw, name
    inner_id = b"9e8d7c6b5a4f4e3d2c1b0a9f8e7d6c5b@MBX02.ad.contoso.com"
    earlier = mapped_id(key, b"4f3e2d1c0b9a48f7e6d5c4b3a2f1e0d9@MBX01.ad.contoso.com")
    fabrikam = b"<CAK7xQ2p9vJ4mZr8Lw3nTy6bH1dFs5Ge0uXc+nw7@mail.fabrikam.example>"
    assert named(out_fields, "message-id")[0].raw == b"Message-ID: " + mapped_id(key, inner_id) + b"\r\n"
    assert named(out_fields, "references")[0].raw == b"References: " + fabrikam + b"\r\n " + earlier + b"\r\n"
    assert named(out_fields, "in-reply-to")[0].raw == b"In-Reply-To: " + earlier + b"\r\n"
    inner = b"_000_9e8d7c6b5a4f4e3d2c1b0a9f8e7d6c5bMBX02adcontosocom_"
    assert named(out_fields, "content-type")[0].raw == (b'Content-Type: multipart/alternative;\r\n\tboundary="'
                                                        + keyed_boundary(key, inner) + b'"\r\n')
    assert out_body == in_body.replace(b"--" + inner, b"--" + keyed_boundary(key, inner))
    assert not [s for s in EMBEDDED_SECRETS + ["MBX01", "adcontosocom", "Thread-Index"] if s.lower() in
                out_attached.decode().lower()]
    # The top level is scrubbed as before: one trace field, one Date, one Message-ID.
    top, _ = split_message(got)
    assert [len(named(top, n)) for n in ("received", "date", "message-id")] == [1, 1, 1]
    assert accepted(veil, qid)["mime_rewritten"] == "28"
    assert tree(got) == tree(sent)


@pytest.mark.parametrize("mode", MODES)
def test_attached_message_with_obsolete_field_spacing_is_scrubbed(make_veil, mode):
    """06 (a scanner relay: `received :`, `Received<TAB>:`, `Subject :`) forwarded as
    an attachment. The top level reads the obsolete spacing (RFC 5322 4.5.3), so the
    attached header block must too: a block cut short at `received :` would pass the
    rest of the internal Received chain and the X-MS-Exchange-* fields as body text.
    (No tree comparison: Python's parser itself stops the header block there.)"""
    veil = make_veil(scrub=MODES[mode])
    inner = eml("06-scanner-relay").read_bytes()
    message = mime_message(b'Content-Type: multipart/mixed; boundary="fwd-06"', crlf("""\
--fwd-06
Content-Type: text/plain

Forwarded from the scanner relay.
--fwd-06
Content-Type: message/rfc822

""") + inner + b"--fwd-06--\r\n", subject="forwarded scan")
    qid = send(veil, message)
    want, got = check_spooled(veil, qid, message, scrub=MODES[mode])
    # Removed: 3 Received, X-MimeOLE, User-Agent, 2 X-Source-*, 5 X-MS-Exchange-*;
    # rewritten: Message-Id.
    assert want.scrubbed_fields == 13
    bad = leaked(secrets_of(eml("06-scanner-relay")), got)
    assert not bad, f"secrets of the attached message left: {bad}"
    assert b"Subject : Scan from MFP 3rd floor\r\n" in got


@pytest.mark.veil(scrub=dict(SCRUB, embedded_messages=False))
def test_embedded_messages_false_leaves_attached_messages_alone(veil):
    """[scrub] embedded_messages = false: the attached message passes byte for byte,
    its header block and its own boundaries included; the enclosing boundaries and
    the top level are still rewritten."""
    path = eml(EXCHANGE[1])
    sent = transmitted(path.read_bytes())
    qid = send_file(veil, path)
    key = scrub_key(veil)
    want, got = check_spooled(veil, qid, sent, embedded=False)
    outer = b"_004_2d9c4b7a1e3f4a6b8c0d2e4f6a8b0c1dEXCH01corpinternal_"
    assert embedded_part(got, keyed_boundary(key, outer)) == embedded_part(sent, outer)
    assert sorted(want.boundaries) == sorted([outer, b"_000_2d9c4b7a1e3f4a6b8c0d2e4f6a8b0c1dEXCH01corpinternal_"])
    assert accepted(veil, qid)["mime_rewritten"] == str(2 + 6)
    top, _ = split_message(got)
    assert len(named(top, "received")) == 1 and not named(top, "x-originating-ip")
    assert b"_000_9e8d7c6b5a4f4e3d2c1b0a9f8e7d6c5bMBX02adcontosocom_" in got
    assert tree(got) == tree(sent)


SIGNED_PART = crlf("""\
Content-Type: multipart/alternative;
\tboundary="_000_5a6b7c8dEXCH01corpinternal_"
X-MS-Exchange-Organization-AuthSource: EXCH01.corp.internal

--_000_5a6b7c8dEXCH01corpinternal_
Content-Type: text/plain; charset="us-ascii"
X-Mailer: Microsoft Outlook 16.0

Signed text.
--_000_5a6b7c8dEXCH01corpinternal_--
""")


@pytest.mark.parametrize("mode", MODES)
def test_signed_parts_are_left_intact(make_veil, mode):
    """S/MIME (RFC 1847): the signature covers the first part byte for byte, so it
    passes as it is (its own boundaries and its header fields that neither mode lets
    out elsewhere included); the multipart/signed boundary, outside the signed data,
    is replaced, and the log says parts were left alone. (test_allowlist verifies a
    real signature after Veil.)"""
    veil = make_veil(scrub=MODES[mode])
    message = mime_message(
        b'Content-Type: multipart/signed; protocol="application/pkcs7-signature";\r\n'
        b'\tmicalg=sha-256; boundary="----=_NextPart_000_0001_01DA1B2C.3D4E5F60"',
        b"This is a multipart message in MIME format.\r\n\r\n"
        b"------=_NextPart_000_0001_01DA1B2C.3D4E5F60\r\n" + SIGNED_PART +
        b"\r\n------=_NextPart_000_0001_01DA1B2C.3D4E5F60\r\n" + crlf("""\
Content-Type: application/pkcs7-signature; name="smime.p7s"
Content-Transfer-Encoding: base64

MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAKCCA
------=_NextPart_000_0001_01DA1B2C.3D4E5F60--
"""), subject="signed")
    qid = send(veil, message)
    want, got = check_spooled(veil, qid, message, skipped=True, scrub=MODES[mode])
    new = keyed_boundary(scrub_key(veil), b"----=_NextPart_000_0001_01DA1B2C.3D4E5F60")
    parts = body_of(got).split(b"--" + new)
    assert len(parts) == 4 and parts[1] == b"\r\n" + SIGNED_PART + b"\r\n", parts[1]
    assert want.count == 1 + 3
    assert tree(got) == tree(message)


def digest_message() -> bytes:
    return mime_message(b'Content-Type: multipart/digest; boundary="digest-1"', crlf("""\
--digest-1

""") + EMBEDDED_HEADER + crlf("""\

first digested message
--digest-1
Content-Type: message/rfc822

""") + EMBEDDED_HEADER.replace(b"5a6b7c8d", b"6b7c8d9e") + crlf("""\

second, typed
--digest-1
Content-Type: text/plain

Received: from typed.corp.internal - text/plain in a digest is not a message
--digest-1
Content-Type: multipart/mixed; boundary="mixed-in-digest"

--mixed-in-digest

Received: from default.corp.internal - in multipart/mixed no type means text/plain
--mixed-in-digest--
--digest-1--
"""), subject="digest")


def report_message() -> bytes:
    return mime_message(b'Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="report-1"',
                        crlf("""\
--report-1
Content-Type: text/plain

Your message could not be delivered.
--report-1
Content-Type: text/rfc822-headers

""") + EMBEDDED_HEADER + crlf("""\

--report-1--
"""), subject="report")


@pytest.mark.parametrize("mode", MODES)
def test_digest_parts_and_rfc822_headers_are_scrubbed(make_veil, mode):
    """In a multipart/digest a part without Content-Type is a message (RFC 2046
    5.1.5): its header block is scrubbed like an explicit message/rfc822 one. A
    text/plain part of the digest and an untyped part of a multipart/mixed are text.
    A text/rfc822-headers part (a report's returned header block) is scrubbed too."""
    veil = make_veil(scrub=MODES[mode])
    key = scrub_key(veil)
    digest = digest_message()
    qid = send(veil, digest)
    want, got = check_spooled(veil, qid, digest, scrub=MODES[mode])
    # Two attached header blocks: Received, X-MS-Exchange-*, X-Originating-IP removed,
    # Message-ID rewritten: 4 fields each.
    assert want.scrubbed_fields == 8
    for mid in (b"5a6b7c8d9e0f41a2b3c4d5e6f7a8b9c0", b"6b7c8d9e9e0f41a2b3c4d5e6f7a8b9c0"):
        assert mapped_id(key, mid + b"@MBX02.ad.contoso.com") in got
    assert b"Received: from typed.corp.internal" in got and b"Received: from default.corp.internal" in got
    assert got.count(b"Received:") == 3          # Veil's own + the two text ones
    assert not leaked(EMBEDDED_SECRETS, got)
    assert tree(got) == tree(digest)

    report = report_message()
    qid = send(veil, report)
    want, got = check_spooled(veil, qid, report, scrub=MODES[mode])
    assert want.scrubbed_fields == 4
    assert b"Subject: Northwind figures\r\n" in got
    assert not leaked(EMBEDDED_SECRETS, got)
    assert tree(got) == tree(report)


@pytest.mark.parametrize("mode", MODES)
def test_part_header_blocks_are_scrubbed(make_veil, mode):
    """Issue 12: a MIME part's own header block goes through the mode's rules too.
    Allowlist: every part keeps only its Content-* fields (in any spelling), and the
    attached message's block only allowlisted ones; denylist: the profile's fields go
    from both, the in-house ones stay. A part's Content-ID is not mapped (the HTML's
    cid: link must still find the image); mime_rewritten counts the removed fields."""
    veil = make_veil(scrub=MODES[mode])
    message = part_headers_message()
    qid = send(veil, message)
    want, got = check_spooled(veil, qid, message, scrub=MODES[mode])
    body = body_of(got)
    assert b"Content-ID: <image001.png@01DA1B2C.3D4E5F60>\r\n" in body
    assert b'src=3D"cid:image001.png@01DA1B2C.3D4E5F60"' in body
    assert b"content-type : text/html" in body and b"Content-Description: image001.png\r\n" in body
    gone = ["X-MS-Exchange-", "EXCH01", "X-Exclaimer", "8c10826d", "10.20.31.7", "10.1.4.22", "MBX02"]
    assert not leaked(gone, got), leaked(gone, got)
    in_house = ["X-Contoso-Workflow-Server", "APP07", "X-Attachment-Id", "f_lp0x1abc0"]
    if mode == "allowlist":
        assert not leaked(in_house, got), leaked(in_house, got)
        assert accepted(veil, qid)["mime_rewritten"] == str(2 + 7 + 5 + 5)
    else:
        assert body.count(b"X-Contoso-Workflow-Server: APP07.corp.example\r\n") == 2
        assert b"X-Attachment-Id: f_lp0x1abc0\r\n" in body
        assert accepted(veil, qid)["mime_rewritten"] == str(2 + 7 + 3 + 4)
    assert shape(tree(got)) == shape(tree(message))
    image = email.message_from_bytes(got).get_payload()[1]
    assert image.get_payload(decode=True) == base64.b64decode(b"iVBORw0KGgo=")


@pytest.mark.parametrize("mode", MODES)
def test_malformed_mime_loses_no_byte(make_veil, mode):
    """Each malformed case is accepted and spooled as the contract says: recognised
    delimiters rewritten, everything else byte for byte (mapping the new boundaries
    back gives the input), Python's parser sees the same tree, mime_skipped when a
    header block could not be read. LF-only line ends reach the walker as CRLF
    (bare_newline = "normalize"), so the LF case checks the normalized text. In
    allowlist mode the cases with a header block the walker cannot read (malformed:
    a continuation line first, a NUL byte; ended by a line that is neither empty nor
    a delimiter: text, a line without colon, ":", "From x") are refused with
    UNREADABLE and nothing is queued; the others pass as in denylist mode. All cases
    run on one daemon; every failure is reported."""
    veil = make_veil(scrub=MODES[mode], limits={"bare_newline": "normalize"})
    failures = []
    for case in MALFORMED:
        try:
            if case.refused and mode == "allowlist":
                send_refused(veil, case.message, bdat_split=case.bdat_split)
                continue
            qid = send(veil, case.message, bdat_split=case.bdat_split)
            want, got = check_spooled(veil, qid, case.received, scrub=MODES[mode])
            check_same_but_boundaries(body_of(got), body_of(case.received), want.boundaries)
            if case.tree:
                assert tree(got) == tree(case.received), "the MIME tree changed"
        except AssertionError as e:
            failures.append(f"--- {case.name}: {e}")
    assert not failures, "\n".join(failures)


@pytest.mark.veil(scrub=SCRUB)
def test_nesting_deeper_than_32_levels_passes_untouched(veil):
    """Denylist: 40 nested multiparts: levels 1-32 get new boundaries, their delimiter
    lines too; the parts below level 32 pass untouched (their boundaries lvl33..lvl40
    stay); the message is accepted and mime_skipped says why; the tree is intact."""
    message = nested_message(40)
    qid = send(veil, message)
    want, got = check_spooled(veil, qid, message, skipped=True)
    assert want.count == 32 + 65
    key = scrub_key(veil)
    for k in range(1, 41):
        old = b"lvl%02d" % k
        if k <= 32:
            assert b'boundary="' + old + b'"' not in got and b"--" + old + b"\r\n" not in got, k
            assert b'boundary="' + keyed_boundary(key, old) + b'"' in got, k
        else:
            assert b'boundary="' + old + b'"' in got and b"--" + old + b"--\r\n" in got, k
    check_same_but_boundaries(body_of(got), body_of(message), want.boundaries)
    assert tree(got) == tree(message)


@pytest.mark.veil(scrub=ALLOW)
def test_nesting_deeper_than_32_levels_is_refused_by_the_allowlist(veil):
    """Allowlist: parts below level 32 cannot be scrubbed, so 40 and 33 levels (32
    nested multiparts, the text at level 33) are refused with UNREADABLE, nothing
    queued; 32 levels (the text at level 32) are read to the bottom: accepted, every
    boundary replaced, no mime_skipped."""
    for levels in (40, 32):
        send_refused(veil, nested_message(levels))
    message = nested_message(31)
    qid = send(veil, message)
    want, got = check_spooled(veil, qid, message, skipped=False, scrub=ALLOW)
    assert (want.parameters, want.delimiters) == (31, 2 * 31 + 1)
    key = scrub_key(veil)
    for k in range(1, 32):
        assert b'boundary="' + keyed_boundary(key, b"lvl%02d" % k) + b'"' in got, k
    assert tree(got) == tree(message)


def oversized_header_messages() -> dict[str, bytes]:
    """A header block of ~22 KB (over max_header_size = "16KB") read by the walker: a
    message/rfc822 part's own block (the attached message behind it is not opened),
    an attached message's block and a text/rfc822-headers part's block."""
    filler = b"".join(b"\t%s\r\n" % (b"x" * 70) for _ in range(300))
    head = crlf("""\
--big-header
Content-Type: text/plain

before
--big-header
""")
    return {
        "part": mime_message(b'Content-Type: multipart/mixed; boundary="big-header"', head + crlf("""\
Content-Type: message/rfc822
Content-Description: a header block over the limit
""") + filler + b"\r\n" + EMBEDDED_HEADER + crlf("""\

attached body
--big-header--
"""), subject="big part header"),
        "attached message": mime_message(b'Content-Type: multipart/mixed; boundary="big-header"', head + crlf("""\
Content-Type: message/rfc822

X-Contoso-Filler: the attached header block is over the limit
""") + filler + EMBEDDED_HEADER + crlf("""\

attached body
--big-header--
"""), subject="big attached header"),
        "rfc822-headers": mime_message(b'Content-Type: multipart/report; report-type=delivery-status;\r\n'
                                       b'\tboundary="big-header"', head + crlf("""\
Content-Type: text/rfc822-headers

X-Contoso-Filler: the returned header block is over the limit
""") + filler + EMBEDDED_HEADER + crlf("""\

--big-header--
"""), subject="big returned header"),
    }


@pytest.mark.parametrize("mode", MODES)
def test_header_block_over_the_limit(make_veil, mode):
    """docs/scrubbing.md: a header block the walker reads that is larger than
    max_header_size is not read. Denylist: it passes as it is (the attached message
    behind a part's block is not opened), the message is accepted, the enclosing
    boundary still replaced, mime_skipped says so. Allowlist: the message is refused
    with UNREADABLE, nothing queued."""
    veil = make_veil(scrub=MODES[mode], limits={"max_header_size": "16KB"})
    for name, message in oversized_header_messages().items():
        if mode == "allowlist":
            send_refused(veil, message)
            continue
        qid = send(veil, message)
        want, got = check_spooled(veil, qid, message, skipped=True, scrub=MODES[mode], max_header_size=16 * 1024)
        new = keyed_boundary(scrub_key(veil), b"big-header")
        assert body_of(got) == body_of(message).replace(b"--big-header", b"--" + new), name
        assert accepted(veil, qid)["mime_rewritten"] == "4", name


@pytest.mark.veil(scrub=SCRUB)
def test_big_attachment_streams_through(veil):
    """A 5 MB attachment (base64, ~7 MB of text) between Exchange boundaries: the
    tree is intact, the attachment decodes to the same bytes, only the 4 boundary
    places changed."""
    data = random.Random(20231116).randbytes(5 * 1024 * 1024)
    old = b"_004_4c3b2a1908f7e6d5c4b3a29180f7e6d5EXCH01corpinternal_"
    head = crlf("""\
--%s
Content-Type: text/plain; charset="us-ascii"

The backup image is attached.
--%s
Content-Type: application/octet-stream; name="backup.img"
Content-Disposition: attachment; filename="backup.img"
Content-Transfer-Encoding: base64

""" % (old.decode(), old.decode()))
    attachment = base64.encodebytes(data).replace(b"\n", b"\r\n")
    message = mime_message(b'Content-Type: multipart/mixed;\r\n\tboundary="' + old + b'"',
                           head + attachment + b"\r\n--" + old + b"--\r\n", subject="big attachment")
    qid = send(veil, message)
    want, got = check_spooled(veil, qid, message)
    assert want.count == 4
    assert len(body_of(got)) == len(body_of(message)) + 3 * (39 - len(old))
    parsed = email.message_from_bytes(got)
    assert [p.get_content_type() for p in parsed.get_payload()] == ["text/plain", "application/octet-stream"]
    attachment = parsed.get_payload()[1].get_payload(decode=True)
    assert hashlib.sha256(attachment).digest() == hashlib.sha256(data).digest()
    assert old.lower() not in got.lower()


@pytest.mark.parametrize("mode", MODES)
def test_delivered_copies_keep_the_tree(make_veil, sink, mode):
    """What the destination receives (smtp-sink's dump, LF line ends turned back into
    CRLF): for 08, 09 and every malformed case the mode accepts, the body is the
    expected rewrite and Python sees the input's tree; no old Exchange boundary or
    internal name arrives."""
    sink.start()
    veil = routed(make_veil, sink, scrub=MODES[mode], limits={"bare_newline": "normalize"})
    key = scrub_key(veil)
    # queue id -> (the text Veil received, compare trees, sent with BDAT, secrets)
    sent: dict[str, tuple[bytes, bool, bool, list[str]]] = {}
    for stem in EXCHANGE:
        qid = send_file(veil, eml(stem))
        sent[qid] = (transmitted(eml(stem).read_bytes()), True, False, secrets_of(eml(stem)))
    for case in MALFORMED:
        if case.refused and mode == "allowlist":
            continue                    # refused: test_malformed_mime_loses_no_byte
        qid = send(veil, case.message, bdat_split=case.bdat_split)
        sent[qid] = (case.received, case.tree, case.bdat_split is not None, [])
    for qid in sent:
        veil.wait_event("delivered", queue_id=qid)
    wait_until(lambda: len(sink.messages()) == len(sent), what=f"{len(sent)} messages at the sink")
    delivered = [delivered_message(d) for d in sink.messages()]

    failures = []
    for qid, (text, check_tree, bdat, secrets) in sent.items():
        subject = named(split_message(text)[0], "subject")[0].raw
        copies = [d for d in delivered if subject in d]
        try:
            assert len(copies) == 1, f"{len(copies)} delivered copies"
            got = copies[0]
            want = expected_mime(text, key, scrub=MODES[mode])
            expected_body = want.body if want.body.endswith(b"\r\n") or not bdat else want.body + b"\r\n"
            assert body_of(got) == expected_body, first_difference(body_of(got), expected_body)
            assert [f.raw for f in named(split_message(got)[0], "content-type")] == want.content_type
            if check_tree:
                assert tree(got) == tree(text), "the MIME tree changed"
            assert not leaked(secrets, got), f"secrets delivered: {leaked(secrets, got)}"
            if secrets:
                assert not [old for old in want.boundaries if old.lower() in got.lower()], "old boundary delivered"
        except AssertionError as e:
            failures.append(f"--- {subject.decode().strip()} ({qid}): {e}")
    assert not failures, "\n".join(failures)
