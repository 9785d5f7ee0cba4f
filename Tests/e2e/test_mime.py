# Longer than 300 lines: the MIME walker round trips that need the real binary, one per structure, sharing the expectation model.
"""The MIME walker (issue 7) through the real binary: boundaries replaced by keyed
hashes in Content-Type fields and delimiter lines, header blocks of attached messages
and (issue 12) of MIME parts scrubbed, everything else byte for byte, malformed and
deep structures passed without losing a byte. Tests about what the walker reads run
in both scrub modes (allowlist, the default, and the exchange denylist). What the
walker cannot read (a malformed or oversized header block, one not ended by an empty
line, nesting deeper than 32 levels) passes in denylist mode, and refuses the message
in allowlist mode, which cannot tell what would leave (UNREADABLE).

These are the round trips through the daemon: the Exchange corpus, an attached
message, a refusal with its reply, the delivered copies. The walker's cases on their
own (malformed structures, digests, reports, part header blocks, signed parts,
nesting, header blocks over the limit, a big attachment) are Swift tests in
Tests/MessageRewriterTests (MIMEContractTests, PartHeaderBlockTests), which run in
milliseconds; they read the same hand-made messages, kept once in corpus/mime:
malformed/ (read and passed in both modes), unreadable/ (the allowlist refuses
them), digest, report, part-headers, oversized/.

Longer than 300 lines: the model check (test_expected_rewrite_model) runs the model
over every hand-made message the daemon tests send, so they share this module.

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
import re
from dataclasses import dataclass

import pytest

import mime_expect
from harness import accepted, first_difference, queue_id, routed, send_data, wait_until
from mime_expect import check_same_but_boundaries, shape, tree
from sink import delivered_message
from test_scrub import (ALLOW, CORPUS, CORPUS_DIR, HELO, MODES, RECIPIENT, SCRUB, SENDER, daemon_log, eml,
                        expected_mime, leaked, mapped_id, named, scrub_key, secrets_of, send_file, split_message,
                        transmitted)

NEW_BOUNDARY_RE = re.compile(rb'boundary="=_veil_[a-z2-7]{32}"')
EXCHANGE = ["08-exchange-multipart", "09-forwarded-internal"]
MIME_CASES = CORPUS_DIR / "mime"


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
    it is). Its queue id."""
    chunks = None if bdat_split is None else [bdat_split, len(data) - bdat_split]
    return queue_id(send_data(veil, data, SENDER, RECIPIENT, HELO, chunks))


UNREADABLE = ("554 5.6.0 Error: MIME structure that cannot be scrubbed (a part header block that is malformed, "
              "too large or not ended by an empty line, or nesting deeper than 32 levels)")


def send_refused(veil, data: bytes, bdat_split: int | None = None, reply: str = UNREADABLE):
    """Sends like send(); the message must be refused at the end of the data with
    exactly `reply`, and nothing queued (the queue holds what it held before)."""
    before = (veil.messages(), veil.spool_files(), len(veil.events("accepted")))
    chunks = None if bdat_split is None else [bdat_split, len(data) - bdat_split]
    r = send_data(veil, data, SENDER, RECIPIENT, HELO, chunks, expect=None)
    assert r.lines == [reply], f"expected {reply!r}, got {r.lines}"
    wait_until(lambda: veil.incoming_files() == [], what="no incoming files")
    assert (veil.messages(), veil.spool_files(), len(veil.events("accepted"))) == before, "something was queued"


def received_text(data: bytes, bdat: bool = False) -> bytes:
    """What Veil stores before rewriting: DATA text ends with CRLF; bare CR and LF
    become CRLF (bare_newline = "normalize")."""
    if not bdat and not data.endswith(b"\r\n"):
        data += b"\r\n"
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


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


def body_of(message: bytes) -> bytes:
    return split_message(message)[1]


def delimiter_lines(data: bytes) -> list[bytes]:
    return re.findall(rb"(?m)^--[^\r\n]*", data)


# --------------------------------------------------------------------------------------
# Hand-made messages (corpus/mime, read by the Swift tests too)
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


# The attached header block of the digest, the report and the oversized messages
# carries these (Received, Message-ID, X-MS-Exchange-*, X-Originating-IP).
EMBEDDED_SECRETS = ["MBX02", "ad.contoso.com", "10.1.4.22", "10.20.31.7", "5a6b7c8d9e0f41a2b3c4d5e6f7a8b9c0",
                    "X-MS-Exchange-", "X-Originating-IP", "Microsoft SMTP Server"]


def mime_case(name: str) -> bytes:
    return (MIME_CASES / name).read_bytes()


def digest_message() -> bytes:
    """A multipart/digest: an untyped part (a message), a message/rfc822 part, a
    text/plain part and a multipart/mixed with an untyped (text) part."""
    return mime_case("digest.eml")


def report_message() -> bytes:
    """A delivery report whose text/rfc822-headers part returns an internal header block."""
    return mime_case("report.eml")


def part_headers_message() -> bytes:
    """Parts whose own header blocks carry more than Content-*: a signature tool's
    stamp, an in-house workflow field, a webmail attachment id, an Exchange stamp on
    the part of an attached message; an inline image whose Content-ID the HTML
    names; an attached message with its own internal header block."""
    return mime_case("part-headers.eml")


def oversized_header_messages() -> dict[str, bytes]:
    """A header block of ~22 KB (over max_header_size = "16KB") read by the walker: a
    message/rfc822 part's own block (the attached message behind it is not opened),
    an attached message's block and a text/rfc822-headers part's block."""
    return {path.stem: path.read_bytes() for path in sorted((MIME_CASES / "oversized").glob("*.eml"))}


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


# Where Python's email parser reads the input otherwise than the contract.
NOT_PYTHONS_TREE = {
    "comment-before-boundary",                # Python reads the comments as part of the parameter
    "innermost-first",                        # Python tries the outer boundary first
    "mbox-from-line-before-attached-header",  # Python reads the From line as the envelope
    "part-header-ended-by-a-colon-line",      # Python reads ":" as a field with an empty name
    "attached-header-ended-by-from-line",     # Python skips the From line and reads on
}
# Sent with BDAT, the last chunk the close delimiter without a line end.
BDAT_SPLIT = {"close-delimiter-at-end-of-message": -5}


def malformed_cases() -> list[Case]:
    """malformed/: structures the walker reads and passes in both modes, every byte
    kept (missing close delimiters, look-alike and padded delimiter lines, LF line
    ends, odd Content-Type spellings, an mbox From line). unreadable/: header blocks
    the walker cannot read (ended by text, a line without colon, ":" or "From x"; a
    first continuation line; a NUL byte): the denylist passes them, the allowlist
    refuses the message."""
    cases = []
    for folder in ("malformed", "unreadable"):
        for path in sorted((MIME_CASES / folder).glob("*.eml")):
            data = path.read_bytes()
            split = BDAT_SPLIT.get(path.stem)
            cases.append(Case(path.stem, data, None if split is None else len(data) + split,
                              tree=path.stem not in NOT_PYTHONS_TREE, refused=folder == "unreadable"))
    return cases


MALFORMED = malformed_cases()


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
        assert b"content-type: text/html" in want.body  # "content-type :" leaves as "content-type:"
        assert (b"X-Contoso-Workflow-Server" in want.body) == (mode == "denylist")
        # Python's parser reads the obsolete "content-type :" as no Content-Type at
        # all (text/plain); what leaves Veil has "content-type:".
        assert shape(tree(want.message)) == shape(tree(parts.replace(b"content-type : ", b"content-type: ")))
    nine_off = expected_mime(transmitted(eml(EXCHANGE[1]).read_bytes()), key, embedded=False)
    assert (nine_off.count, nine_off.scrubbed_fields) == (8, 0)
    check_same_but_boundaries(nine_off.message, transmitted(eml(EXCHANGE[1]).read_bytes()), nine_off.boundaries)
    assert keyed_boundary(key, b"abc") == mime_expect.new_boundary(key, b"abc")


# --------------------------------------------------------------------------------------
# Through the daemon
# --------------------------------------------------------------------------------------

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


@pytest.mark.parametrize("mode", MODES)
def test_delivered_copies_keep_the_tree(make_veil, sink, mode):
    """What the destination receives (smtp-sink's dump, LF line ends turned back into
    CRLF): for 08, 09 and every malformed case the mode accepts, the body is the
    expected rewrite and Python sees the input's tree; no old Exchange boundary or
    internal name arrives."""
    sink.start()
    veil = routed(make_veil, sink, RECIPIENT.split("@")[1], scrub=MODES[mode], limits={"bare_newline": "normalize"})
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
