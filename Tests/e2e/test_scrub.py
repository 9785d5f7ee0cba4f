# Longer than 300 lines: the Exchange corpus and every [scrub] key, each checked at the receiving MTA.
"""Scrubbing: real Exchange 2016/2019 messages through the real binary (swaks), and the
[scrub] options (received, message_id, remove/keep, max_hops, secret_file, scrub.key).
The corpus and what does not depend on the mode run in both modes (MODES): the
allowlist, Veil's default since issue 12, and the denylist with the exchange profile
(SCRUB); Rules models both. test_allowlist has the allowlist's own cases.

The corpus lives in Tests/e2e/corpus: NN-name.eml (CRLF, as Exchange hands it to its
smart host) and NN-name.secrets (one string a line that must not survive scrubbing:
internal host names and addresses, build numbers, internal message-id left parts, the
removed header names themselves, Exchange's MIME boundaries, which name the server).
The secrets are checked case-insensitively against the whole spool file and against
Veil's log.

Longer than 300 lines: besides its tests it holds the independent model of the rules
(Rules, scrub_fields, rewrite_ids) that test_mime and test_allowlist check Veil
against, next to the corpus it was written for.

The body passes byte for byte except for what the MIME walker (issue 7) changes:
boundaries (in Content-Type fields and delimiter lines) and the header blocks of
embedded messages and (issue 12) of MIME parts. mime_expect.rewrite() computes that
independently.

swaks, fed a file with --data, sends it unchanged (CRLF kept, headers re-joined with
CRLF, leading dots stuffed) and then "\\r\\n.\\r\\n": for a file that ends with CRLF the
message Veil receives is the file plus one empty line. `transmitted()` models that.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import os
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

import mime_expect
from harness import DEFAULT_SCRUB, HOSTNAME, queue_id, swaks, wait_until

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
CORPUS = sorted(CORPUS_DIR.glob("*.eml"))
CORPUS_IDS = [p.stem for p in CORPUS]

# The denylist with the exchange profile (mode = "denylist", as before issue 12) ...
SCRUB = {"mode": "denylist", "profile": "exchange", "message_id": "rewrite", "received": "anonymous"}
# ... and the allowlist, Veil's default mode (no mode, no profile in the file).
ALLOW = {"mode": None, "profile": None, "message_id": "rewrite", "received": "anonymous"}
MODES = {"denylist": SCRUB, "allowlist": ALLOW}

# The fields that must reach the recipient byte for byte (folding included; in
# Content-Type the boundary's value is replaced, issue 7).
KEPT = ["from", "to", "cc", "subject", "date", "mime-version", "content-type"]
ID_FIELDS = ["message-id", "in-reply-to", "references"]
# Mapped like the Message-ID, every id (docs/scrubbing.md), in a message's header block.
OWN_ID_FIELDS = ["content-id", "resent-message-id"]

SENDER = "mailer@contoso.com"
RECIPIENT = "rcpt@fabrikam.example"
HELO = "client.test"

RFC5322_DATE = r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}"
MAPPED_ID_RE = re.compile(rb"<[a-z2-7]{52}@" + re.escape(HOSTNAME.encode()) + rb">")
ANGLE_ID_RE = re.compile(rb"<([^<>\r\n]+)>")


# --------------------------------------------------------------------------------------
# Message parsing (independent of Veil's parser)
# --------------------------------------------------------------------------------------

class Field:
    def __init__(self, raw: bytes):
        self.raw = raw                                    # the field's bytes, folding and CRLFs included
        name = raw.split(b":", 1)[0]
        self.name = name.rstrip(b" \t").decode("ascii").lower()   # obs-optional "Name :" spacing

    def value(self) -> bytes:
        return self.raw.split(b":", 1)[1]

    @property
    def leaving(self) -> bytes:
        """The field as Veil writes it: the obsolete blanks between name and colon
        (RFC 5322 4.5.4) taken out, the rest byte for byte."""
        name, rest = self.raw.split(b":", 1)
        return name.rstrip(b" \t") + b":" + rest

    def ids(self) -> list[bytes]:
        return ANGLE_ID_RE.findall(self.value())

    def __repr__(self):
        return f"Field({self.raw!r})"


def split_message(data: bytes) -> tuple[list[Field], bytes]:
    """(header fields, body); the body is everything after the first empty line."""
    if data.startswith(b"\r\n"):
        header, body = b"", data[2:]
    else:
        end = data.find(b"\r\n\r\n")
        assert end >= 0, f"no empty line after the header block: {data[:300]!r}"
        header, body = data[:end + 2], data[end + 4:]
    fields: list[Field] = []
    for line in header.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            assert fields, f"continuation line with nothing to continue: {line!r}"
            fields[-1] = Field(fields[-1].raw + line)
        else:
            assert b":" in line, f"header line without a colon: {line!r}"
            fields.append(Field(line))
    return fields, body


def named(fields: list[Field], name: str) -> list[Field]:
    return [f for f in fields if f.name == name]


def transmitted(data: bytes) -> bytes:
    """The message Veil receives when swaks sends `data` with --data @file."""
    assert data.endswith(b"\r\n") and not data.endswith(b"\r\n.\r\n")
    return data + b"\r\n"


def mapped_id(key: bytes, original: bytes) -> bytes:
    """<BASE32(HMAC-SHA256(key, left@right))@hostname>, base32 lower-case unpadded."""
    digest = hmac.new(key, original, hashlib.sha256).digest()
    return b"<" + base64.b32encode(digest).rstrip(b"=").lower() + b"@" + HOSTNAME.encode() + b">"


# Right-hand sides that only exist inside an organization (docs/scrubbing.md).
INTERNAL_SUFFIXES = (b".local", b".internal", b".lan", b".localdomain", b".corp", b".home.arpa",
                     b".intranet", b".localhost")


def right_hand_side(message_id: bytes) -> bytes | None:
    if b"@" not in message_id or message_id.endswith(b"@"):
        return None
    return message_id.rsplit(b"@", 1)[1].lower().rstrip(b".")


def organization_domains(own_message_id: bytes | None) -> list[bytes]:
    """The right-hand side of the message's own Message-ID, and its parent domain."""
    right = right_hand_side(own_message_id) if own_message_id else None
    if not right:
        return []
    parent = right.split(b".", 1)[1] if b"." in right else b""
    return [right, parent] if b"." in parent else [right]


def is_organization_id(message_id: bytes, domains: list[bytes]) -> bool:
    """An id of the sender's organization (mapped in In-Reply-To/References); ids of
    outside correspondents and ids Veil made are left alone."""
    right = right_hand_side(message_id)
    if right is None or right == HOSTNAME.encode():
        return False
    return (right in domains or any(right.endswith(b"." + d) for d in domains)
            or b"." not in right or right.startswith(b"[")
            or any(right.endswith(s) and len(right) > len(s) for s in INTERNAL_SUFFIXES))


def rewrite_ids(raw: bytes, key: bytes, own_message_id: bytes | None = None) -> bytes:
    """The field as Veil should spool it: in Message-ID, Resent-Message-ID and
    Content-ID every id is mapped (unless Veil made it); in In-Reply-To and References only the
    organization's ids. Name, spaces and folding unchanged."""
    name, value = raw.split(b":", 1)
    own = name.rstrip(b" \t").lower().decode() in ["message-id"] + OWN_ID_FIELDS
    domains = organization_domains(own_message_id)

    def one(m):
        message_id = m.group(1)
        if right_hand_side(message_id) == HOSTNAME.encode():
            return m.group(0)
        if own or is_organization_id(message_id, domains):
            return mapped_id(key, message_id)
        return m.group(0)
    return name + b":" + ANGLE_ID_RE.sub(one, value)


def own_id(fields: list[Field]) -> bytes | None:
    mids = named(fields, "message-id")
    ids = mids[0].ids() if mids else []
    return ids[0] if ids else None


# The exchange profile's removals in mode = "denylist" (docs/scrubbing.md, issue 12),
# written out here independently of Sources/MessageRewriter/ExchangeProfile.swift: a
# trailing * is a prefix, names match in any case.
EXCHANGE_PROFILE = [
    "Received", "X-Received", "Return-Path", "X-Originating-IP", "X-Originating-Client", "X-Source*",
    "X-Mailer", "User-Agent", "X-MimeOLE", "X-MS-Exchange-*", "X-Microsoft-Exchange-*", "X-MS-Office365-*",
    "X-MS-Has-Attach", "X-MS-TNEF-Correlator", "X-MS-PublicTrafficType", "X-MS-TrafficTypeDiagnostic",
    "X-EOPAttributedMessage", "X-EOPTenantAttributedMessage", "X-MS-Oob-*", "X-LD-Processed",
    "X-Microsoft-Antispam*", "X-Exchange-Antispam*", "X-Forefront-*", "X-CrossPremisesHeaders*",
    "X-OrganizationHeadersPreserved", "X-OriginatorOrg", "Thread-Index", "Thread-Topic", "Accept-Language",
    "msip_labels", "X-Auto-Response-Suppress",
    # Issue 12: frontends, internal verdicts and signatures, gateways and signature tools.
    "X-ClientProxiedBy", "Received-SPF", "Authentication-Results", "ARC-*", "DKIM-Signature",
    "DomainKey-Signature", "X-Forwarded-For", "X-TM-*", "X-Exclaimer-*", "X-CodeTwo-*", "X-Virus-Scanned",
    "X-Spam-*",
]

# The only fields that leave in mode = "allowlist", the default (issue 12), besides
# Veil's own trace field and the Date and Message-ID it adds.
ALLOWLIST = [
    "From", "Sender", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
    "Comments", "Keywords", "Resent-Date", "Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc",
    "Resent-Message-ID", "MIME-Version", "Content-*", "List-*", "Auto-Submitted", "Disposition-Notification-To",
    "Importance", "Priority", "X-Priority", "Sensitivity", "Autocrypt", "Precedence",
]

# Never leave, in either mode, whatever `keep` says: they name the blind recipients.
NEVER_LEAVE = ["Bcc", "Resent-Bcc"]


def matches(name: str, patterns) -> bool:
    name = name.lower()
    return any(name.startswith(p[:-1].lower()) if p.endswith("*") else name == p.lower() for p in patterns)


def removed_by_profile(name: str) -> bool:
    return matches(name, EXCHANGE_PROFILE)


@dataclass(frozen=True)
class Rules:
    """Which fields of a header block leave Veil ([scrub] mode, profile, keep, remove)."""
    mode: str = "allowlist"
    profile: str = "exchange"
    keep: tuple = ()
    remove: tuple = ()
    map_ids: bool = True                 # message_id = "rewrite"

    @classmethod
    def of(cls, scrub: dict) -> "Rules":
        """The rules of a test's scrub= override (harness.render_config merges it into
        the harness's default section; None removes a key, and Veil's defaults apply)."""
        config = {k: v for k, v in {**DEFAULT_SCRUB, **scrub}.items() if v is not None}
        return cls(config.get("mode", "allowlist"), config.get("profile", "exchange"),
                   tuple(config.get("keep", ())), tuple(config.get("remove", ())),
                   config.get("message_id", "rewrite") == "rewrite")

    def removes(self, name: str) -> bool:
        if matches(name, NEVER_LEAVE):
            return True
        if self.mode == "allowlist":          # remove wins over keep
            return not matches(name, ALLOWLIST + list(self.keep)) or matches(name, self.remove)
        listed = (EXCHANGE_PROFILE if self.profile == "exchange" else []) + list(self.remove)
        return matches(name, listed) and not matches(name, self.keep)   # keep wins


# Veil's own trace field, from an earlier pass through the same Veil: it stays in
# every mode, so that a loop through Veil gains a hop each time (docs/scrubbing.md).
# Only exactly the field Veil writes (RFC 3848 protocol, queue id, RFC 5322 date in
# UTC): one that starts the same and goes on otherwise is any other trace field.
OWN_TRACE_RE = re.compile(rb"(?i)Received: by " + re.escape(HOSTNAME.encode())
                          + rb" \(Veil\) with ESMTP(?:S|A|SA)? id [0-9A-Za-z]{1,64}; "
                          + RFC5322_DATE.encode() + rb"\r\n")


def is_own_trace(raw: bytes) -> bool:
    return OWN_TRACE_RE.fullmatch(raw) is not None


def scrub_fields(raw_fields: list[bytes], key: bytes, rules: Rules, message: bool = True) -> tuple[list[bytes], int]:
    """A header block's fields as Veil should write them, and how many were removed or
    rewritten. message=True (the top level, an attached message): ids mapped, with
    the block's own Message-ID deciding the organization. message=False (a MIME
    part's own header block): fields removed only, ids (Content-ID: the HTML's cid:
    links name it) as they are."""
    fields = [Field(raw) for raw in raw_fields]
    own = own_id(fields)
    kept, changed = [], 0
    for f in fields:
        if rules.removes(f.name) and not (message and is_own_trace(f.raw)):
            changed += 1
            continue
        raw = f.leaving  # the current syntax is not counted as a change
        if message and rules.map_ids and f.name in ID_FIELDS + OWN_ID_FIELDS:
            mapped = rewrite_ids(raw, key, own)
            changed += mapped != raw
            raw = mapped
        kept.append(raw)
    return kept, changed


def embedded_scrubber(key: bytes, rules: Rules | None = None):
    """The top level's rules for an embedded header block (message/rfc822 part,
    text/rfc822-headers): fields removed, ids mapped with the embedded message's own
    Message-ID deciding the organization; nothing added. For mime_expect.rewrite()."""
    rules = rules or Rules.of(SCRUB)
    return lambda raw_fields: scrub_fields(raw_fields, key, rules)


def part_scrubber(key: bytes, rules: Rules | None = None):
    """The rules for a MIME part's own header block: fields removed, nothing mapped."""
    rules = rules or Rules.of(SCRUB)
    return lambda raw_fields: scrub_fields(raw_fields, key, rules, message=False)


def expected_mime(data: bytes, key: bytes, embedded: bool = True, scrub: dict | None = None,
                  max_header_size: int = mime_expect.MAX_HEADER_SIZE) -> mime_expect.Expected:
    """The MIME walker's part of the output (top level: only Content-Type), under the
    rules of `scrub` (a scrub= override; default SCRUB, the denylist) and [limits]
    max_header_size."""
    scrub = SCRUB if scrub is None else scrub
    rules = Rules.of(scrub)
    embedded = embedded and scrub.get("embedded_messages", True)
    return mime_expect.rewrite(data, key, embedded_scrubber(key, rules) if embedded else None,
                               part_scrub=part_scrubber(key, rules), max_header_size=max_header_size)


def expected_top(mime: mime_expect.Expected, key: bytes, scrub: dict) -> tuple[list[bytes], int]:
    """The top-level fields Veil should spool after its own trace field (none added:
    for a message with Date and Message-ID), and the accepted line's scrubbed=N."""
    return scrub_fields(mime.header_fields, key, Rules.of(scrub))


def secrets_of(eml: Path) -> list[str]:
    lines = eml.with_suffix(".secrets").read_text().splitlines()
    return [s for s in (l.strip() for l in lines) if s and not s.startswith("#")]


def leaked(secrets: list[str], data: bytes | str) -> list[str]:
    """The secrets found in `data`, case-insensitively, as it is and unfolded (a folded
    "via Frontend\r\n Transport" still counts)."""
    text = (data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data).lower()
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", text)
    return [s for s in secrets if s.lower() in text or s.lower() in unfolded]


def daemon_log(veil) -> str:
    """What the daemon wrote (without the harness's own lines, which name temp paths)."""
    return "\n".join(l for l in veil.log_text().splitlines() if not l.startswith("---- harness"))


# --------------------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------------------

def send_file(veil, path: Path, sender: str = SENDER, to: str = RECIPIENT) -> str:
    p = swaks("--server", f"127.0.0.1:{veil.port('plain')}", "--helo", HELO,
              "--from", sender, "--to", to, "--data", f"@{path}")
    assert p.returncode == 0 and "250 2.0.0 Ok: queued as " in p.stdout, p.stdout + p.stderr
    return queue_id(p.stdout)


def send_bytes(veil, tmp_path: Path, data: bytes, name: str = "msg.eml") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return send_file(veil, path)


def smtp_send(veil, data: bytes, expect: str):
    """Sends with the raw client (to see the exact reply of a refused message)."""
    with veil.connect("plain") as c:
        c.ehlo(HELO)
        c.mail(SENDER)
        c.rcpt(RECIPIENT)
        r = c.data(data, expect=expect)
        c.quit()
    return r


def scrub_key(veil) -> bytes:
    return (veil.spool / "scrub.key").read_bytes()


def out_id(veil, qid: str, name: str = "message-id") -> list[bytes]:
    fields, _ = split_message(veil.spool_bytes(qid))
    return [b"<" + i + b">" for f in named(fields, name) for i in f.ids()]


def assert_nothing_queued(veil):
    assert veil.messages() == [], veil.messages()
    assert veil.spool_files() == [], veil.spool_files()
    assert wait_until(lambda: veil.incoming_files() == []), veil.incoming_files()
    assert veil.events("accepted") == []


def eml(stem: str) -> Path:
    path = CORPUS_DIR / f"{stem}.eml"
    assert path.is_file(), path
    return path


# --------------------------------------------------------------------------------------
# The corpus itself (no daemon): a secret that also stays legitimately would make the
# scrub tests fail for the wrong reason; a secret absent from the input tests nothing.
# --------------------------------------------------------------------------------------

def test_corpus_is_well_formed():
    assert len(CORPUS) >= 6, CORPUS
    features = Counter()
    for path in CORPUS:
        data = path.read_bytes()
        assert re.fullmatch(r"\d\d-[a-z0-9-]+", path.stem), path
        assert b"\n" not in data.replace(b"\r\n", b""), f"{path.name}: bare LF"
        assert b"\r" not in data.replace(b"\r\n", b""), f"{path.name}: bare CR"
        fields, body = split_message(data)
        secrets = secrets_of(path)
        assert secrets, f"{path.name}: no secrets"
        missing = [s for s in secrets if s not in leaked([s], data)]
        assert not missing, f"{path.name}: secrets that are not in the message: {missing}"
        # What stays: the kept fields and the body, as the MIME walker leaves them
        # (boundaries replaced, embedded header blocks scrubbed; any key will do).
        expected = expected_mime(data, bytes(32))
        kept = (b"".join(f.raw for f in split_message(b"".join(expected.header_fields) + b"\r\n")[0]
                         if f.name in KEPT) + expected.body)
        clash = leaked(secrets, kept)
        assert not clash, f"{path.name}: secrets in fields that stay or in the body: {clash}"
        for name in ("from", "to", "subject", "date", "message-id", "mime-version", "content-type"):
            assert len(named(fields, name)) == 1, f"{path.name}: {name}"
        ctype = named(fields, "content-type")[0].value().lower()
        if b"multipart/mixed" in ctype and b"content-transfer-encoding: base64" in body.lower():
            features["multipart/mixed with a base64 attachment"] += 1
        if re.search(rb"=\?utf-8\?[bq]\?", named(fields, "subject")[0].value(), re.I):
            features["RFC 2047 UTF-8 subject"] += 1
        if any(f.raw.count(b"\r\n") >= 4 for f in fields if f.name in KEPT + ID_FIELDS):
            features["a kept or rewritten field folded over 4+ lines"] += 1
        if len(named(fields, "received")) >= 2:
            features["internal Received chain"] += 1
        if any(b"corpinternal_" in old or b"adcontosocom_" in old for old in expected.boundaries):
            features["Exchange boundary naming the server"] += 1
        if re.search(rb"(?im)^content-type:\s*multipart/alternative", expected.body):
            features["nested multipart/alternative"] += 1
        if expected.scrubbed_fields:
            features["embedded message with an internal header block"] += 1
        if all(named(fields, n) for n in ("x-clientproxiedby", "received-spf", "arc-seal", "dkim-signature")):
            features["frontend, verdict, signature and gateway stamps"] += 1
    for feature in ("multipart/mixed with a base64 attachment", "RFC 2047 UTF-8 subject",
                    "a kept or rewritten field folded over 4+ lines", "Exchange boundary naming the server",
                    "nested multipart/alternative", "embedded message with an internal header block",
                    "frontend, verdict, signature and gateway stamps"):
        assert features[feature], f"no corpus message has {feature}"
    assert features["internal Received chain"] >= 5
    # The threading pair: 02 answers 01.
    original, _ = split_message(eml("01-plain-text").read_bytes())
    reply, _ = split_message(eml("02-reply").read_bytes())
    assert named(reply, "in-reply-to")[0].ids() == named(original, "message-id")[0].ids()


# --------------------------------------------------------------------------------------
# Every corpus message through the real binary
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", CORPUS, ids=CORPUS_IDS)
def test_corpus_message_scrubbed(make_veil, path, mode):
    """Every corpus message, in both modes: the allowlist (the default) and the
    denylist with the exchange profile. The expected output is computed field by
    field from the rules (Rules), the MIME walker's part by mime_expect."""
    scrub = MODES[mode]
    veil = make_veil(scrub=scrub)
    sent = path.read_bytes()
    secrets = secrets_of(path)
    start = time.time()
    qid = send_file(veil, path)
    got = veil.spool_bytes(qid)

    # 1. No secret anywhere in the spooled message.
    bad = leaked(secrets, got)
    assert not bad, f"secrets in the spooled message: {bad}\n{got.decode('utf-8', 'replace')}"

    in_fields, in_body = split_message(transmitted(sent))
    out_fields, out_body = split_message(got)
    key = scrub_key(veil)

    # 2. The body passes byte for byte, but for the MIME walker's changes: boundaries
    #    replaced by keyed hashes, embedded and part header blocks scrubbed (mime_expect).
    mime = expected_mime(transmitted(sent), key, scrub=scrub)
    assert out_body == mime.body, "body differs from the expected MIME rewrite"
    assert not [old for old in mime.boundaries if old.lower() in got.lower()], "an old boundary is left"
    # Only Content-Type changes among the top-level fields the walker looks at.
    expect_in = [Field(raw) for raw in mime.header_fields]
    assert [f.name for f in expect_in] == [f.name for f in in_fields]

    # 3. Veil's own trace field, first and only.
    received = named(out_fields, "received")
    assert len(received) == 1, received
    assert out_fields[0] is received[0], f"Veil's Received is not the first field: {out_fields[:2]}"
    trace = received[0].raw.decode()
    m = re.fullmatch(rf"Received: by {re.escape(HOSTNAME)} \(Veil\) with ESMTP id {qid}; "
                     rf"({RFC5322_DATE})\r\n", trace)
    assert m, trace
    stamped = email.utils.parsedate_to_datetime(m.group(1)).timestamp()
    assert start - 120 <= stamped <= time.time() + 120, trace
    for client in ("127.0.0.1", HELO, "from "):
        assert client not in trace, f"{client!r} in {trace!r}"

    # 4. The fields a recipient needs are unchanged, folding included (Content-Type:
    #    but for the boundary's value).
    rest = out_fields[1:]
    for name in KEPT:
        assert [f.raw for f in named(rest, name)] == [f.leaving for f in named(expect_in, name)], name

    # 5. Message-ID, In-Reply-To, References: the organization's ids mapped with the
    #    spool's key; ids of outside correspondents (04, 05) left as they are.
    own = own_id(in_fields)
    for name in ID_FIELDS:
        want = [rewrite_ids(f.raw, key, own) for f in named(in_fields, name)]
        have = [f.raw for f in named(out_fields, name)]
        assert have == want, name
    assert MAPPED_ID_RE.fullmatch(named(out_fields, "message-id")[0].value().strip())

    # 6. The rest is exactly the input's fields that the mode lets out, in the input's
    #    order, byte for byte but for the mapped ids: nothing is added (the corpus has
    #    Date and Message-ID), no kept field is altered.
    want_fields, changed = expected_top(mime, key, scrub)
    assert [f.raw for f in rest] == want_fields, (
        f"top-level fields differ\n got: {[f.name for f in rest]}\nwant: {[Field(r).name for r in want_fields]}")
    assert not [f for f in rest if f.name.startswith(("x-ms-", "x-microsoft-", "thread-"))], rest

    # 7. The log: scrubbed=N counts the removed and rewritten top-level fields (a
    #    replaced boundary is not among them); mime_rewritten=N what the MIME walker
    #    changed; never a secret.
    accepted = veil.wait_event("accepted", queue_id=qid)[0]
    assert accepted.get("scrubbed", "").isdigit(), accepted
    assert int(accepted["scrubbed"]) == changed > 0, (accepted, changed)
    assert accepted.get("mime_rewritten") == str(mime.count), (accepted, mime.count)
    assert "mime_skipped" not in accepted, accepted
    bad = leaked(secrets, daemon_log(veil))
    assert not bad, f"secrets in the log: {bad}"


@pytest.mark.parametrize("mode", MODES)
def test_threads_stay_threaded(make_veil, mode):
    """Same input id -> same output id in separate sends; the reply's In-Reply-To and
    References point at the Message-ID the recipient got for the original."""
    veil = make_veil(scrub=MODES[mode])
    first = send_file(veil, eml("01-plain-text"))
    again = send_file(veil, eml("01-plain-text"))
    reply = send_file(veil, eml("02-reply"))
    later = send_file(veil, eml("04-long-references"))

    original_id = out_id(veil, first)
    assert len(original_id) == 1 and MAPPED_ID_RE.fullmatch(original_id[0]), original_id
    assert out_id(veil, again) == original_id
    assert out_id(veil, reply, "in-reply-to") == original_id
    assert out_id(veil, reply, "references") == original_id
    reply_id = out_id(veil, reply)
    assert reply_id != original_id
    # 04's References name 01 and 02 first.
    assert out_id(veil, later, "references")[:2] == original_id + reply_id
    assert len(set(out_id(veil, later, "references"))) == 5


@pytest.mark.veil(scrub=SCRUB)
@pytest.mark.parametrize("listener,args,protocol", [
    ("submission", ["--tls", "--auth", "PLAIN", "--auth-user", "demo", "--auth-password", "demo"], "ESMTPSA"),
    ("smtps", ["--tlsc", "--auth", "LOGIN", "--auth-user", "demo", "--auth-password", "demo"], "ESMTPSA"),
], ids=["starttls-auth", "implicit-tls-auth"])
def test_trace_field_names_the_protocol_only(veil, listener, args, protocol):
    """RFC 3848 protocol names; still no client name, address or user."""
    p = swaks("--server", f"127.0.0.1:{veil.port(listener)}", "--helo", HELO, *args,
              "--from", SENDER, "--to", RECIPIENT, "--data", f"@{eml('01-plain-text')}")
    assert p.returncode == 0, p.stdout + p.stderr
    qid = queue_id(p.stdout)
    got = veil.spool_bytes(qid)
    fields, _ = split_message(got)
    trace = named(fields, "received")
    assert len(trace) == 1 and fields[0] is trace[0], fields[:2]
    assert re.fullmatch(rf"Received: by {re.escape(HOSTNAME)} \(Veil\) with {protocol} id {qid}; "
                        rf"{RFC5322_DATE}\r\n", trace[0].raw.decode()), trace
    for client in ("127.0.0.1", HELO, "demo"):
        assert client not in trace[0].raw.decode()
    assert not leaked(secrets_of(eml("01-plain-text")), got)


@pytest.mark.parametrize("mode", MODES)
def test_top_level_content_id_is_mapped(make_veil, tmp_path, mode):
    """A Content-ID in the top-level header block is mapped like a Message-ID (in
    both modes: Content-* is on the allowlist)."""
    veil = make_veil(scrub=MODES[mode])
    message = (b"From: Alice Martin <alice.martin@contoso.com>\r\n"
               b"To: <b@fabrikam.example>\r\nSubject: chart\r\n"
               b"Date: Mon, 6 Nov 2023 08:14:21 +0000\r\n"
               b"Message-ID: <11112222333344445555666677778888@EXCH01.corp.internal>\r\n"
               b"Content-ID: <chart-4711@EXCH01.corp.internal>\r\n"
               b"MIME-Version: 1.0\r\nContent-Type: image/png\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n")
    qid = send_bytes(veil, tmp_path, message)
    fields, body = split_message(veil.spool_bytes(qid))
    key = scrub_key(veil)
    assert [f.raw for f in named(fields, "content-id")] == [
        b"Content-ID: " + mapped_id(key, b"chart-4711@EXCH01.corp.internal") + b"\r\n"]
    assert body == b"iVBORw0KGgo=\r\n\r\n"


# --------------------------------------------------------------------------------------
# [scrub] options
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_received_none_adds_no_trace_field(make_veil, mode):
    veil = make_veil(scrub=dict(MODES[mode], received="none"))
    path = eml("01-plain-text")
    qid = send_file(veil, path)
    got = veil.spool_bytes(qid)
    fields, body = split_message(got)
    assert named(fields, "received") == [], fields
    assert not re.search(rb"(?im)^received\s*:", got.split(b"\r\n\r\n", 1)[0])
    in_fields, in_body = split_message(transmitted(path.read_bytes()))
    # The first field is now the first field of the input that stays (From).
    assert fields[0].raw == named(in_fields, "from")[0].raw
    assert body == in_body
    assert not leaked(secrets_of(path), got)


@pytest.mark.parametrize("mode", MODES)
def test_message_id_keep_leaves_ids_alone(make_veil, mode):
    veil = make_veil(scrub=dict(MODES[mode], message_id="keep"))
    path = eml("02-reply")
    qid = send_file(veil, path)
    got = veil.spool_bytes(qid)
    fields, _ = split_message(got)
    in_fields, _ = split_message(transmitted(path.read_bytes()))
    for name in ID_FIELDS:
        assert [f.raw for f in named(fields, name)] == [f.raw for f in named(in_fields, name)], name
    assert len(named(fields, "received")) == 1
    assert named(fields, "received")[0].raw.startswith(f"Received: by {HOSTNAME} (Veil)".encode())
    # Everything but the ids is still scrubbed.
    id_text = b"".join(f.raw for f in in_fields if f.name in ID_FIELDS).decode().lower()
    other = [s for s in secrets_of(path) if s.lower() not in id_text]
    assert other and not leaked(other, got), leaked(other, got)
    accepted = veil.wait_event("accepted", queue_id=qid)[0]
    assert int(accepted["scrubbed"]) == len(in_fields) - (len(fields) - 1)


REMOVE_KEEP_MESSAGE = (
    b"Received: from EXCH01.corp.internal (192.168.10.21) by EDGE01.dmz.corp.internal\r\n"
    b" (192.168.50.5) with Microsoft SMTP Server id 15.1.2507.6; Mon, 6 Nov 2023\r\n"
    b" 09:14:22 +0100\r\n"
    b"From: Alice Martin <alice.martin@contoso.com>\r\n"
    b"To: Bob Keller <bob.keller@fabrikam.example>\r\n"
    b"Subject: Custom headers\r\n"
    b"Date: Mon, 6 Nov 2023 08:14:21 +0000\r\n"
    b"Message-ID: <c0ffee00c0ffee00c0ffee00c0ffee00@EXCH01.corp.internal>\r\n"
    b"Thread-Topic: Custom headers\r\n"
    b"Thread-Index: AdoQj5Yq3v7m2a1bT0K0Jq8nW3xYzA==\r\n"
    b"X-Mailer: Microsoft Outlook 16.0\r\n"
    b"User-Agent: Microsoft-MacOutlook/16.78.23100802\r\n"
    b"X-Custom-Cost-Center: 4711-internal-billing\r\n"
    b"x-custom-trace: hop=erp-app01.corp.internal\r\n"
    b"X-CUSTOM-Ticket: INC0012345\r\n"
    b"  folded-ticket-line\r\n"
    b"X-Customer: Northwind\r\n"
    b"X-MS-Exchange-Organization-SCL: -1\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=\"us-ascii\"\r\n"
    b"\r\n"
    b"Custom headers test.\r\n"
)


@pytest.mark.veil(scrub=dict(SCRUB, remove=["X-Custom-*"], keep=["X-Mailer", "Thread-*"]))
def test_remove_and_keep(veil, tmp_path):
    """The denylist's remove and keep (test_allowlist has the allowlist's)."""
    qid = send_bytes(veil, tmp_path, REMOVE_KEEP_MESSAGE)
    got = veil.spool_bytes(qid)
    fields, body = split_message(got)
    in_fields, _ = split_message(REMOVE_KEEP_MESSAGE)
    raw = {f.name: f.raw for f in in_fields}
    names = [f.name for f in fields]
    # remove = ["X-Custom-*"]: a prefix, any case, folding removed with its field ...
    for gone in ("x-custom-cost-center", "x-custom-trace", "x-custom-ticket"):
        assert gone not in names, fields
    assert b"folded-ticket-line" not in got and b"4711-internal-billing" not in got
    # ... but only that prefix: X-Customer does not start with "X-Custom-".
    assert named(fields, "x-customer")[0].raw == raw["x-customer"]
    # keep = ["X-Mailer", "Thread-*"] exempts them from the profile, byte for byte.
    for kept in ("x-mailer", "thread-topic", "thread-index"):
        assert [f.raw for f in named(fields, kept)] == [raw[kept]], kept
    # The rest of the profile still applies.
    for gone in ("user-agent", "x-ms-exchange-organization-scl"):
        assert gone not in names, fields
    assert len(named(fields, "received")) == 1 and b"corp.internal" not in got
    accepted = veil.wait_event("accepted", queue_id=qid)[0]
    # Received, User-Agent, 3 X-Custom-*, X-MS-Exchange-*: removed; Message-ID: rewritten.
    assert accepted["scrubbed"] == "7", accepted


def hops_message(received_lines: list[bytes]) -> bytes:
    return (b"".join(received_lines)
            + b"From: <a@contoso.com>\r\nTo: <b@fabrikam.example>\r\nSubject: hops\r\n"
              b"Date: Mon, 6 Nov 2023 08:14:21 +0000\r\nMessage-ID: <hops@EXCH01.corp.internal>\r\n"
              b"\r\nbody\r\n")


HOPS = [
    b"Received: from a.corp.internal by b.corp.internal; Mon, 6 Nov 2023 09:14:20 +0100\r\n",
    b"RECEIVED: from b.corp.internal by c.corp.internal;\r\n Mon, 6 Nov 2023 09:14:21 +0100\r\n",
    b"received : from c.corp.internal by d.corp.internal; Mon, 6 Nov 2023 09:14:22 +0100\r\n",
    b"Received\t: from d.corp.internal by e.corp.internal; Mon, 6 Nov 2023 09:14:23 +0100\r\n",
]


@pytest.mark.parametrize("mode", MODES)
def test_max_hops_refuses_a_loop(make_veil, mode):
    veil = make_veil(scrub=dict(MODES[mode], max_hops=3))
    # Four Received fields (any spelling counts) with max_hops = 3: a loop.
    r = smtp_send(veil, hops_message(HOPS), expect="554 5.4.6")
    assert "hop" in r.text.lower(), r
    assert_nothing_queued(veil)
    # Three is still fine: the limit is "more than max_hops".
    mark = veil.mark()
    r = smtp_send(veil, hops_message(HOPS[:3]), expect="250 2.0.0")
    qid = queue_id(r)
    fields, _ = split_message(veil.spool_bytes(qid))
    assert len(named(fields, "received")) == 1
    assert veil.wait_event("accepted", since=mark, queue_id=qid)


@pytest.mark.parametrize("mode", MODES)
def test_a_loop_through_veil_is_caught(make_veil, mode):
    """A forwarding loop: Exchange -> Veil -> the partner's MX -> back into Exchange
    (not through Veil) -> Veil again ... Each round adds two Exchange hops and one
    outside hop to what Veil spooled. The hop limit exists for this loop (RFC 5321
    section 6.3), so Veil must refuse it with 554 5.4.6 within max_hops + 1 rounds:
    in allowlist mode too, where Received is not on the list but Veil's own stays."""
    veil = make_veil(scrub=dict(MODES[mode], max_hops=5))
    message = hops_message([])
    refused_in = None
    for round_ in range(1, 7):
        looped = (b"Received: from EXCH01.corp.internal (192.168.10.21) by EDGE01.dmz.corp.internal\r\n"
                  b" (192.168.50.5) with Microsoft SMTP Server id 15.1.2507.6; Mon, 6 Nov 2023\r\n"
                  b" 09:14:22 +0100\r\n"
                  b"Received: from mx.contoso.com (203.0.113.25) by EXCH01.corp.internal\r\n"
                  b" (192.168.10.21) with Microsoft SMTP Server id 15.1.2507.6; Mon, 6 Nov 2023\r\n"
                  b" 09:14:21 +0100\r\n"
                  b"Received: from mx1.fabrikam.example (mx1.fabrikam.example [198.51.100.9])\r\n"
                  b"\tby mx.contoso.com with ESMTPS; Mon, 6 Nov 2023 09:14:20 +0100\r\n"
                  + message)
        with veil.connect("plain") as c:
            c.ehlo(HELO)
            c.mail(SENDER)
            c.rcpt(RECIPIENT)
            r = c.data(looped, expect=None)
            c.quit()
        if r.is_("554 5.4.6"):
            refused_in = round_
            break
        assert r.is_("250 2.0.0"), r
        message = veil.spool_bytes(queue_id(r))
    assert refused_in is not None, (
        "a message that went round through Veil 6 times was never refused: each pass "
        "removes the Received fields of the earlier ones, so the count never grows\n"
        + message.decode("utf-8", "replace"))


@pytest.mark.veil(scrub=SCRUB)
def test_header_line_without_colon_is_refused(veil):
    bad = (b"From: <a@contoso.com>\r\nTo: <b@fabrikam.example>\r\n"
           b"This line has no colon\r\nSubject: broken\r\n\r\nbody\r\n")
    with veil.connect("plain") as c:
        c.ehlo(HELO)
        c.mail(SENDER)
        c.rcpt(RECIPIENT)
        c.data(bad, expect="554 5.6.0")
        assert_nothing_queued(veil)
        # The session goes on: the next message on the same connection is accepted.
        c.mail(SENDER)
        c.rcpt(RECIPIENT)
        qid = queue_id(c.data(bad.replace(b"This line has no colon\r\n", b""), expect="250 2.0.0"))
        c.quit()
    assert [m["id"] for m in veil.messages()] == [qid]


@pytest.mark.parametrize("mode", MODES)
def test_missing_date_and_message_id_are_added(make_veil, tmp_path, mode):
    veil = make_veil(scrub=MODES[mode])
    bare = (b"From: Alice Martin <alice.martin@contoso.com>\r\nTo: <b@fabrikam.example>\r\n"
            b"Subject: no date, no id\r\n\r\nbody\r\n")
    start = time.time()
    ids = []
    for n in range(2):
        qid = send_bytes(veil, tmp_path, bare, f"bare{n}.eml")
        fields, body = split_message(veil.spool_bytes(qid))
        assert body == b"body\r\n\r\n"
        dates = named(fields, "date")
        assert len(dates) == 1, fields
        m = re.fullmatch(rf"Date: ({RFC5322_DATE})\r\n", dates[0].raw.decode())
        assert m, dates
        assert start - 120 <= email.utils.parsedate_to_datetime(m.group(1)).timestamp() <= time.time() + 120
        mids = named(fields, "message-id")
        assert len(mids) == 1, fields
        assert re.fullmatch(rf"Message-ID: <[0-9a-z]+@{re.escape(HOSTNAME)}>\r\n", mids[0].raw.decode()), mids
        ids.append(mids[0].raw)
    assert ids[0] != ids[1], "generated Message-IDs must be unique"

    # Only the Message-ID missing: the Date stays as it was, one Message-ID is added.
    dated = bare.replace(b"Subject:", b"Date: Mon, 6 Nov 2023 08:14:21 +0000\r\nSubject:")
    qid = send_bytes(veil, tmp_path, dated, "dated.eml")
    fields, _ = split_message(veil.spool_bytes(qid))
    assert [f.raw for f in named(fields, "date")] == [b"Date: Mon, 6 Nov 2023 08:14:21 +0000\r\n"]
    assert len(named(fields, "message-id")) == 1


@pytest.mark.veil(scrub=SCRUB)
def test_key_file_is_private_and_survives_restart(veil):
    path = veil.spool / "scrub.key"
    assert path.is_file()
    assert path.stat().st_mode & 0o777 == 0o600, oct(path.stat().st_mode)
    key = path.read_bytes()
    assert len(key) == 32
    original = named(split_message(eml("01-plain-text").read_bytes())[0], "message-id")[0].ids()[0]

    before = out_id(veil, send_file(veil, eml("01-plain-text")))
    assert before == [mapped_id(key, original)]
    veil.restart()
    assert path.read_bytes() == key
    assert path.stat().st_mode & 0o777 == 0o600
    after = out_id(veil, send_file(veil, eml("01-plain-text")))
    assert after == before
    # And the reply sent after the restart still points at the original.
    assert out_id(veil, send_file(veil, eml("02-reply")), "in-reply-to") == before


def test_secret_file_replaces_the_key_file(make_veil, tmp_path):
    secret = tmp_path / "veil-scrub.secret"
    secret.write_bytes(os.urandom(32))
    secret.chmod(0o600)
    config = dict(scrub=dict(SCRUB, secret_file=str(secret)))
    one, two = make_veil(**config), make_veil(**config)
    assert one.spool != two.spool
    own = make_veil(scrub=SCRUB)   # no secret_file: its own random scrub.key

    original = named(split_message(eml("02-reply").read_bytes())[0], "message-id")[0].ids()[0]
    results = {}
    for name, v in (("one", one), ("two", two), ("own", own)):
        qid = send_file(v, eml("02-reply"))
        results[name] = (out_id(v, qid), out_id(v, qid, "in-reply-to"))
    assert results["one"] == results["two"]
    assert results["one"][0] == [mapped_id(secret.read_bytes(), original)]
    assert results["own"][0] != results["one"][0]
    assert not (one.spool / "scrub.key").exists() and not (two.spool / "scrub.key").exists()
    assert (own.spool / "scrub.key").is_file()


@pytest.mark.veil(scrub=SCRUB)
def test_ids_of_outsiders_and_of_veil_are_not_mapped(veil, tmp_path):
    """Alice sends A (Bob gets A' = map(A)); Bob answers from outside (his mail
    reaches Exchange directly, not through Veil); Alice answers Bob. Her References
    hold A', already Veil's, and Bob's own id: both must reach Bob unchanged, or his
    client cannot put her answer under the messages it knows. Her own Message-ID is
    mapped."""
    a = out_id(veil, send_file(veil, eml("01-plain-text")))[0]
    bob = b"<CAK7xQ2p9vJ4mZr8Lw3nTy6bH1dFs5Ge0uXc+bob1@mail.fabrikam.example>"
    answer = (b"From: Alice Martin <alice.martin@contoso.com>\r\n"
              b"To: Bob Keller <bob.keller@fabrikam.example>\r\n"
              b"Subject: RE: Q3 figures for the Northwind account\r\n"
              b"Date: Thu, 9 Nov 2023 10:00:00 +0000\r\n"
              b"Message-ID: <d1e2f3a4b5c64d7e8f9a0b1c2d3e4f5a@EXCH01.corp.internal>\r\n"
              b"References: <5f3c9a7e1d2b4c6a8e0f1a2b3c4d5e6f@EXCH01.corp.internal>\r\n"
              b" " + a + b"\r\n " + bob + b"\r\n"
              b"In-Reply-To: " + bob + b"\r\n"
              b"\r\nsee below\r\n")
    qid = send_bytes(veil, tmp_path, answer)
    key = scrub_key(veil)
    references = out_id(veil, qid, "references")
    # The internal original is mapped (to A' again), Veil's A' and Bob's id stay.
    assert references == [a, a, bob], references
    assert out_id(veil, qid, "in-reply-to") == [bob]
    assert out_id(veil, qid) == [mapped_id(key, b"d1e2f3a4b5c64d7e8f9a0b1c2d3e4f5a@EXCH01.corp.internal")]
    assert b"corp.internal" not in veil.spool_bytes(qid)
