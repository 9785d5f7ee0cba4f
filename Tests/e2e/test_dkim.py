# Longer than 300 lines: every point of issue 15 (corpus, message shapes, key formats, tampering, rotation, keygen, check, check-config) against one set of DNS and verifier fixtures.
"""DKIM signing after scrubbing (issue 15), checked the way a receiving site checks
it: messages go through Veil to a real MTA (smtp-sink), and dkimpy verifies every
DKIM-Signature of the copy the sink received, with the selectors' TXT records
served by unbound (the test's own DNS server, zones contoso.com, corp.example and
veiltest).

  * the Exchange corpus and hand-made messages (multipart, 8-bit body and UTF-8
    header fields, long folded fields, odd white space, an empty body) and a 50 MB
    attachment: RSA-SHA256 and Ed25519-SHA256 signatures side by side, both valid,
    at the top of the message, d= and s= as configured, relaxed/relaxed, From
    oversigned; every key format Veil takes (RSA 1024-4096 in PKCS#1 and PKCS#8,
    Ed25519 PKCS#8) signs mail that verifies;
  * a changed byte in the body or a signed field breaks both signatures; what
    relaxed canonicalisation allows (re-folding, trailing blanks) and a field a
    receiver adds do not;
  * the accepted log line names the signatures (dkim=DOMAIN/SELECTOR,...) or says
    dkim=none: mail from a domain without a key leaves unsigned;
  * a DKIM-Signature the client's message carried (an internal signer) never
    reaches the receiver, in every scrub mode;
  * subdomains = true signs From: sub.contoso.com with d=contoso.com, false does not;
  * a new selector in the configuration, reloaded with SIGHUP, signs the next message;
  * `veil dkim keygen` writes a key (0600, never over an existing file) and prints a
    zone-file record that, served by unbound, makes `veil dkim check` say ok (and a
    record of another key makes it fail);
  * `veil check-config` refuses keys it cannot use with PATH:LINE: dkim.private_key
    and warns about RSA keys under 2048 bits.

Keys are made with openssl and python `cryptography`, independently of Veil's own
keygen (used only in the keygen tests). dkimpy checks only the topmost signature in
dkim.verify(): every signature is checked here with DKIM(msg).verify(idx=i), its
TXT lookups answered by the test's unbound (DNSServer.lookup_txt: the suite's own
module named dns hides dnspython, which dkimpy would use otherwise).

Longer than 300 lines: the signing, keygen and check-config tests share the keys,
the DNS server and the verifier, which live here and nowhere else.
"""

from __future__ import annotations

import base64
import email.utils
import logging
import random
import re
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from dkim.util import parse_tag_value

from dns import DNSServer, txt
from harness import VEIL_BIN, accepted, queue_id, routed, serve_once, toml_value, wait_until
from test_check_config import assert_error, check_config
from test_scrub import ALLOW, CORPUS, CORPUS_DIR, HELO, RECIPIENT, SCRUB, SENDER, split_message

DOMAIN = "contoso.com"              # the corpus's From: domain (SENDER's too)
CORP = "corp.example"               # the From: domain of 10-gateway-stamps
UNSIGNED = "tailspin.example"       # no [[dkim]] for it
ZONES = ("veiltest", DOMAIN, CORP)
DESTINATION = RECIPIENT.split("@")[1]

# The scrub modes: the allowlist (Veil's default), the denylist with the exchange
# profile, and the denylist with no list at all.
SCRUB_MODES = {
    "allowlist": ALLOW,
    "denylist-exchange": SCRUB,
    "denylist-none": {"mode": "denylist", "profile": "none", "message_id": "rewrite", "received": "anonymous"},
}

# The fields Veil signs when the message has them (From once more: oversigned).
SIGNED = ["from", "to", "cc", "subject", "date", "message-id", "in-reply-to", "references", "reply-to",
          "mime-version", "content-type", "content-transfer-encoding", "list-unsubscribe",
          "list-unsubscribe-post"]

LOG = logging.getLogger("dkimpy")   # dkimpy's reasons show in the report of a failed test


# --------------------------------------------------------------------------------------
# Keys (made once per session) and their DNS records
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Key:
    selector: str
    path: Path
    k: str          # the DNS record's k= (rsa, ed25519)
    p: str          # the public key as the record publishes it (base64)

    @property
    def a(self) -> str:
        return "rsa-sha256" if self.k == "rsa" else "ed25519-sha256"

    def record(self, domain: str = DOMAIN, selector: str | None = None) -> str:
        """Its TXT record (under another selector's name if given)."""
        return txt(f"{selector or self.selector}._domainkey.{domain}.", f"v=DKIM1; k={self.k}; p={self.p}")

    def signer(self, domain: str = DOMAIN, **extra) -> dict:
        """A [[dkim]] table for harness.render_config."""
        return {"domain": domain, "selector": self.selector, "private_key": str(self.path), **extra}


def rsa_published(key: rsa.RSAPrivateKey) -> str:
    """p= of an RSA key: its SubjectPublicKeyInfo, as `openssl rsa -pubout` writes it."""
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def ed25519_published(key: ed25519.Ed25519PrivateKey) -> str:
    """p= of an Ed25519 key: the raw 32-byte public key (RFC 8463)."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def write_key(path: Path, pem: bytes) -> Path:
    path.write_bytes(pem)
    path.chmod(0o600)
    return path


def make_rsa_key(directory: Path, selector: str, bits: int = 2048, pkcs8: bool = False) -> Key:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    form = serialization.PrivateFormat.PKCS8 if pkcs8 else serialization.PrivateFormat.TraditionalOpenSSL
    pem = key.private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption())
    return Key(selector, write_key(directory / f"{selector}.pem", pem), "rsa", rsa_published(key))


def openssl_genpkey(path: Path, *args: str) -> Path:
    subprocess.run(["openssl", "genpkey", *args, "-out", str(path)], check=True, capture_output=True, timeout=120)
    path.chmod(0o600)
    return path


def make_ed25519_key(directory: Path, selector: str) -> Key:
    """As an administrator makes one: `openssl genpkey -algorithm ed25519` (PKCS#8 PEM)."""
    path = openssl_genpkey(directory / f"{selector}.pem", "-algorithm", "ed25519")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    return Key(selector, path, "ed25519", ed25519_published(key))


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> dict[str, Key]:
    """The test keys by selector: rsa (2048, PKCS#1), ed (Ed25519), pkcs8 (RSA 2048,
    PKCS#8), rsa1024, rsa4096, and veil2026/veil2027 for the rotation."""
    d = tmp_path_factory.mktemp("dkim-keys")
    made = [make_rsa_key(d, "rsa"), make_ed25519_key(d, "ed"), make_rsa_key(d, "pkcs8", pkcs8=True),
            make_rsa_key(d, "rsa1024", bits=1024), make_rsa_key(d, "rsa4096", bits=4096),
            make_rsa_key(d, "veil2026"), make_rsa_key(d, "veil2027", pkcs8=True)]
    return {k.selector: k for k in made}


@pytest.fixture
def make_dns(tmp_path):
    """Factory: make_dns(records, zones=ZONES) -> a started DNSServer, stopped after the test."""
    started: list[DNSServer] = []

    def start(records: list[str], zones=ZONES) -> DNSServer:
        server = DNSServer(tmp_path / f"dns{len(started)}", records, zones).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def key_dns(make_dns, keys) -> DNSServer:
    """unbound publishing every test key under contoso.com and corp.example."""
    return make_dns([key.record(domain) for key in keys.values() for domain in (DOMAIN, CORP)])


# --------------------------------------------------------------------------------------
# The receiving side: dkimpy with the test's DNS server
# --------------------------------------------------------------------------------------

def dnsfunc_for(server: DNSServer):
    """dkimpy's TXT lookup (dnsfunc), asking the test's unbound; the strings of a
    record are joined, as a verifier does."""
    def dnsfunc(name: bytes, timeout: float = 5):
        strings = server.lookup_txt(name.decode("ascii"), timeout)
        return None if strings is None else b"".join(strings)
    return dnsfunc


@dataclass
class Signature:
    """One DKIM-Signature field of a delivered message, and what dkimpy says of it."""
    tags: dict[str, str]
    valid: bool
    reason: str = ""

    @property
    def d(self) -> str:
        return self.tags.get("d", "")

    @property
    def s(self) -> str:
        return self.tags.get("s", "")

    @property
    def signed_fields(self) -> list[str]:
        return [n.strip().lower() for n in re.sub(r"\s+", "", self.tags.get("h", "")).split(":") if n.strip()]


def signatures(message: bytes, server: DNSServer) -> list[Signature]:
    """Every DKIM-Signature of `message`, topmost first, each verified by dkimpy (its
    default minimum key size, 1024 bits)."""
    checker = dkim.DKIM(message, logger=LOG)
    fields = [value for name, value in checker.headers if name.lower() == b"dkim-signature"]
    out = []
    for index, value in enumerate(fields):
        tags = {k.decode(): re.sub(r"\s+", "", v.decode()) if k in (b"b", b"bh", b"h") else v.decode().strip()
                for k, v in parse_tag_value(value).items()}
        try:
            valid, reason = bool(checker.verify(idx=index, dnsfunc=dnsfunc_for(server))), ""
        except dkim.DKIMException as e:
            valid, reason = False, f"{type(e).__name__}: {e}"
        out.append(Signature(tags, valid, reason or ("" if valid else "signature does not verify")))
    return out


def verdicts(message: bytes, server: DNSServer) -> dict[str, bool]:
    """{"d/s": valid} of every signature."""
    return {f"{sig.d}/{sig.s}": sig.valid for sig in signatures(message, server)}


def field_names(message: bytes) -> list[str]:
    return [f.name for f in split_message(message)[0]]


def assert_signed_on_top(message: bytes, count: int):
    """`count` DKIM-Signature fields, the first fields of the message, and no other."""
    names = field_names(message)
    assert names[:count] == ["dkim-signature"] * count and names.count("dkim-signature") == count, names


def from_domain(data: bytes) -> str:
    [field] = [f for f in split_message(data)[0] if f.name == "from"]
    address = email.utils.parseaddr(field.value().decode("utf-8", "replace"))[1]
    return address.rsplit("@", 1)[1].lower()


# --------------------------------------------------------------------------------------
# Through Veil to the sink
# --------------------------------------------------------------------------------------

@dataclass
class Delivery:
    qid: str
    dkim: str           # the accepted line's dkim= field
    message: bytes      # as the sink received it (CRLF line ends)


def signing_veil(make_veil, sink, dns_server, signers: list[dict], scrub: dict = ALLOW, **overrides):
    """A Veil that signs with `signers` ([[dkim]] tables), resolves with the test's
    DNS server and delivers fabrikam.example to the sink (started here if it is not)."""
    if sink.proc is None:
        sink.start()
    return routed(make_veil, sink, domain=DESTINATION, dkim=signers, scrub=scrub,
                  dns={"servers": [dns_server.server]}, **overrides)


def relay(veil, sink, data: bytes, sender: str = SENDER, params: str = "", timeout: float = 60) -> Delivery:
    """One message through Veil (plain listener) to the sink; waits for its delivery
    and returns the copy the sink received."""
    before = set(sink.directory.glob("msg-*"))
    with veil.connect("plain", timeout=timeout) as c:
        c.ehlo(HELO)
        c.mail(sender, params)
        c.rcpt(RECIPIENT)
        qid = queue_id(c.data(data))
        c.quit()
    return delivered(veil, sink, qid, before, timeout)


def delivered(veil, sink, qid: str, before: set, timeout: float) -> Delivery:
    field = accepted(veil, qid).get("dkim")
    veil.wait_event("delivered", queue_id=qid, timeout=timeout)
    new = wait_until(lambda: [p for p in sink.directory.glob("msg-*") if p not in before and p.stat().st_size],
                     timeout=timeout, what=f"the sink's copy of {qid}")
    assert len(new) == 1, new
    return Delivery(qid, field, sink_copy(new[0]))


SINK_PREFIX_RE = re.compile(rb"(?:X-[^\n]*\n)*Received: [^\n]*\n(?:[ \t][^\n]*\n)*")


def sink_copy(dump: Path) -> bytes:
    """The message in one of smtp-sink's dumps, CRLF line ends restored: as
    sink.delivered_message, without splitting a 50 MB dump into a list of lines."""
    data = dump.read_bytes()
    prefix = SINK_PREFIX_RE.match(data)
    assert prefix and b"smtp-sink" in prefix[0], data[:600]
    assert data.endswith(b"\n\n"), data[-200:]
    return data[prefix.end():-1].replace(b"\n", b"\r\n")


def message_from(sender: str, subject: str = "dkim test", body: str = "Hello from the DKIM tests.\n",
                 extra: str = "") -> bytes:
    """A small hand-written message (LF written, CRLF sent)."""
    text = (f"From: Alice Martin <{sender}>\nTo: Bob Keller <{RECIPIENT}>\nSubject: {subject}\n"
            f"Date: Tue, 14 Nov 2023 10:20:04 +0000\nMessage-ID: <{subject.replace(' ', '-')}@contoso.com>\n"
            f"{extra}MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n{body}")
    return text.replace("\n", "\r\n").encode()


def dkim_field(configured: list[Key], domain: str = DOMAIN) -> set[str]:
    return {f"{domain}/{k.selector}" for k in configured}


def assert_signed_by(delivery: Delivery, server: DNSServer, configured: list[Key], domain: str = DOMAIN):
    """Signed once per configured key, at the top, all valid; the log names them."""
    sigs = signatures(delivery.message, server)
    assert sorted((s.d, s.s, s.valid, s.reason) for s in sigs) == sorted((domain, k.selector, True, "")
                                                                          for k in configured), sigs
    assert_signed_on_top(delivery.message, len(configured))
    assert {s.s: s.tags["a"] for s in sigs} == {k.selector: k.a for k in configured}, sigs
    assert set(delivery.dkim.split(",")) == dkim_field(configured, domain), delivery.dkim
    return sigs


# --------------------------------------------------------------------------------------
# Signing: corpus, message shapes, key formats, 50 MB
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["allowlist", "denylist-exchange"])
@pytest.mark.parametrize("eml", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus_messages_carry_valid_rsa_and_ed25519_signatures(make_veil, sink, key_dns, keys, eml, mode):
    """Each Exchange message, scrubbed in each mode, arrives with an RSA-SHA256 and an
    Ed25519-SHA256 signature of its From: domain, on top, both valid at the
    receiver (c=relaxed/relaxed, t=, From oversigned); the log names both."""
    both = [keys["rsa"], keys["ed"]]
    veil = signing_veil(make_veil, sink, key_dns, [k.signer(d) for d in (DOMAIN, CORP) for k in both],
                        scrub=SCRUB_MODES[mode])
    data = eml.read_bytes()
    domain = from_domain(data)
    delivery = relay(veil, sink, data)
    sigs = assert_signed_by(delivery, key_dns, both, domain)
    for sig in sigs:
        assert sig.tags["v"] == "1" and sig.tags["c"] == "relaxed/relaxed", sig.tags
        assert re.fullmatch(r"\d+", sig.tags.get("t", "")), sig.tags
        assert sig.signed_fields.count("from") >= 2, sig.signed_fields
    assert b"exch-internal-2019" not in delivery.message          # 10-gateway-stamps' own signature


def multipart_message() -> bytes:
    return f"""From: Alice Martin <alice.martin@{DOMAIN}>
To: Bob Keller <{RECIPIENT}>
Subject: Plans, with an attachment
Date: Tue, 14 Nov 2023 10:20:04 +0000
Message-ID: <multipart@contoso.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

This is a multi-part message in MIME format.

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=us-ascii

The plans are attached.

--inner
Content-Type: text/html; charset=us-ascii

<p>The plans are attached.</p>

--inner--

--outer
Content-Type: application/octet-stream; name="plans.bin"
Content-Disposition: attachment; filename="plans.bin"
Content-Transfer-Encoding: base64

{base64.encodebytes(bytes(range(256)) * 8).decode()}
--outer--
""".replace("\n", "\r\n").encode()


def utf8_message() -> bytes:
    """UTF-8 in header fields (RFC 6532) and an 8-bit body."""
    return f"""From: Jonas Müller <jonas.mueller@{DOMAIN}>
To: Zoë Ångström <{RECIPIENT}>
Subject: Grüße aus Köln – Überblick für Q4 ✓
Date: Tue, 14 Nov 2023 10:20:04 +0000
Message-ID: <utf8@contoso.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Schöne Grüße, Jonas — ½ € für die Kaffeekasse.
""".replace("\n", "\r\n").encode()


def folded_message() -> bytes:
    """Long fields folded over many lines, with tabs and runs of blanks."""
    to = ",\r\n\t".join(f"Person Number {n} <person{n}@{DESTINATION}>" for n in range(30))
    refs = "\r\n ".join(f"<thread-{n}-{'x' * 40}@contoso.com>" for n in range(40))
    subject = "A very long subject line\r\n that goes on\r\n\t and  on   over several\r\n     lines"
    return (f"From: Alice Martin <alice.martin@{DOMAIN}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: Tue, 14 Nov 2023 10:20:04 +0000\r\nMessage-ID: <folded@contoso.com>\r\n"
            f"In-Reply-To: <thread-39-{'x' * 40}@contoso.com>\r\nReferences: {refs}\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain;\r\n\tcharset=us-ascii\r\n\r\nSee the thread.\r\n").encode()


SHAPES = {
    "plain-text": lambda: message_from(f"alice.martin@{DOMAIN}"),
    "multipart": multipart_message,
    "utf8-headers-8bit-body": utf8_message,
    "long-folded-fields": folded_message,
    # Relaxed body canonicalisation: trailing blanks, runs of blanks, empty lines at the end.
    "blanks-in-body": lambda: message_from(f"alice.martin@{DOMAIN}", "blanks",
                                           "trailing blanks  \t\nruns   of\t\tblanks\n\n \n\n\n"),
    "empty-body": lambda: message_from(f"alice.martin@{DOMAIN}", "empty", ""),
    "from-domain-in-capitals": lambda: message_from("Alice.Martin@CONTOSO.COM", "capitals"),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_message_shapes_are_signed_and_verify(make_veil, sink, key_dns, keys, shape):
    """Plain text, multipart with an attachment, UTF-8 header fields with an 8-bit
    body (SMTPUTF8, BODY=8BITMIME), long folded fields, blanks relaxed
    canonicalisation trims, an empty body, and a From: domain in capitals: each
    arrives with both signatures valid, d=contoso.com."""
    both = [keys["rsa"], keys["ed"]]
    veil = signing_veil(make_veil, sink, key_dns, [k.signer() for k in both])
    data = SHAPES[shape]()
    params = "SMTPUTF8 BODY=8BITMIME" if shape == "utf8-headers-8bit-body" else ""
    delivery = relay(veil, sink, data, params=params)
    assert_signed_by(delivery, key_dns, both)
    if shape == "utf8-headers-8bit-body":
        assert "Subject: Grüße aus Köln – Überblick für Q4 ✓\r\n".encode() in delivery.message


@pytest.mark.parametrize("selector", ["rsa", "pkcs8", "rsa1024", "rsa4096", "ed"],
                         ids=["rsa-2048-pkcs1", "rsa-2048-pkcs8", "rsa-1024", "rsa-4096", "ed25519-pkcs8"])
def test_every_key_format_signs_mail_that_verifies(make_veil, sink, key_dns, keys, selector):
    """RSA keys of 1024 to 4096 bits in PKCS#1 and PKCS#8 PEM, and an Ed25519 key as
    openssl genpkey writes it: the signature (a=rsa-sha256 / ed25519-sha256) verifies."""
    key = keys[selector]
    veil = signing_veil(make_veil, sink, key_dns, [key.signer()])
    delivery = relay(veil, sink, message_from(f"alice.martin@{DOMAIN}", f"format {selector}"))
    assert delivery.dkim == f"{DOMAIN}/{selector}"
    assert_signed_by(delivery, key_dns, [key])


def test_signed_fields(make_veil, sink, key_dns, keys):
    """h= lists every field of the list once more than the message has it (RFC 6376
    section 8.15: none can be added on top, nor a missing one put in); X-* and
    Keywords stay unsigned. A `headers` override signs the fields it names."""
    extra = ("Cc: Carol Diaz <carol.diaz@fabrikam.example>\nReply-To: <team@contoso.com>\n"
             "In-Reply-To: <earlier@fabrikam.example>\nReferences: <earlier@fabrikam.example>\n"
             "List-Unsubscribe: <mailto:unsubscribe@contoso.com>\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\n"
             "Keywords: plans\nX-Priority: 3\n")
    data = message_from(f"alice.martin@{DOMAIN}", "signed fields", extra=extra)
    data = data.replace(b"MIME-Version: 1.0\r\n", b"MIME-Version: 1.0\r\nContent-Transfer-Encoding: 7bit\r\n")
    veil = signing_veil(make_veil, sink, key_dns, [keys["rsa"].signer()])
    [sig] = assert_signed_by(relay(veil, sink, data), key_dns, [keys["rsa"]])
    assert sorted(sig.signed_fields) == sorted(SIGNED * 2), sig.signed_fields

    # Without Cc, Reply-To and the list fields: each listed once, signing its absence.
    sink.stop()
    veil = signing_veil(make_veil, sink, key_dns, [keys["rsa"].signer()])
    [sig] = assert_signed_by(relay(veil, sink, message_from(f"alice.martin@{DOMAIN}", "fewer fields")), key_dns, [keys["rsa"]])
    for name in ("cc", "reply-to", "list-unsubscribe", "list-unsubscribe-post"):
        assert sig.signed_fields.count(name) == 1, sig.signed_fields

    sink.stop()
    veil = signing_veil(make_veil, sink, key_dns, [keys["ed"].signer(headers=["From", "Subject", "Keywords"])])
    [sig] = assert_signed_by(relay(veil, sink, data), key_dns, [keys["ed"]])
    assert set(sig.signed_fields) == {"from", "subject", "keywords"}, sig.signed_fields


def big_attachment_lines(size: int):
    """Base64 lines (76 characters and CRLF) of pseudo-random data, at least `size`
    bytes in all, in pieces of about 1.3 MB."""
    rng = random.Random(15)
    sent = 0
    while sent < size:
        piece = base64.encodebytes(rng.randbytes(57 * 17_000)).replace(b"\n", b"\r\n")
        sent += len(piece)
        yield piece


def test_a_50_mb_attachment_is_signed_and_verifies(make_veil, sink, key_dns, keys):
    """A message with a 50 MB attachment (sent as it is made, never whole in the
    test's memory before it arrives): both signatures valid at the receiver."""
    both = [keys["rsa"], keys["ed"]]
    veil = signing_veil(make_veil, sink, key_dns, [k.signer() for k in both], limits={"max_message_size": "100MB"})
    head = f"""From: Alice Martin <alice.martin@{DOMAIN}>
To: Bob Keller <{RECIPIENT}>
Subject: The 50 MB archive
Date: Tue, 14 Nov 2023 10:20:04 +0000
Message-ID: <big@contoso.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="big-boundary"

--big-boundary
Content-Type: text/plain; charset=us-ascii

The archive is attached.

--big-boundary
Content-Type: application/octet-stream; name="archive.bin"
Content-Disposition: attachment; filename="archive.bin"
Content-Transfer-Encoding: base64

""".replace("\n", "\r\n").encode()
    before = set(sink.directory.glob("msg-*"))
    sent = 0
    with veil.connect("plain", timeout=600) as c:
        c.ehlo(HELO)
        c.mail(SENDER)
        c.rcpt(RECIPIENT)
        c.cmd("DATA", "354")
        c.send(head)
        for piece in big_attachment_lines(50 << 20):     # base64 has no dots: nothing to stuff
            c.send(piece)
            sent += len(piece)
        c.send(b"\r\n--big-boundary--\r\n.\r\n")
        qid = queue_id(c.check(c.reply(), "250 2.0.0"))
        c.quit()
    assert sent >= 50 << 20
    delivery = delivered(veil, sink, qid, before, timeout=600)
    assert len(delivery.message) > 50 << 20
    assert_signed_by(delivery, key_dns, both)


# --------------------------------------------------------------------------------------
# What breaks a signature, and what does not
# --------------------------------------------------------------------------------------

def swap_case_after(data: bytes, start: int) -> bytes:
    """`data` with the first ASCII letter at or after `start` in the other case."""
    m = re.compile(rb"[A-Za-z]").search(data, start)
    assert m, data[start:start + 200]
    return data[:m.start()] + m[0].swapcase() + data[m.end():]


def swap_last_letter(data: bytes) -> bytes:
    """`data` with its last ASCII letter in the other case."""
    tail = len(data) - 4000
    *_, last = re.compile(rb"[A-Za-z]").finditer(data, tail)
    return data[:last.start()] + last[0].swapcase() + data[last.end():]


def field_value_start(message: bytes, name: str) -> int:
    m = re.search(rb"(?im)^" + name.encode() + rb":[ \t]*", message[:message.index(b"\r\n\r\n")])
    assert m, name
    return m.end()


def body_start(message: bytes) -> int:
    return message.index(b"\r\n\r\n") + 4


def refold_subject(message: bytes) -> bytes:
    start = field_value_start(message, "subject")
    space = message.index(b" ", start)
    return message[:space] + b"\r\n\t" + message[space + 1:]


def trailing_blanks_in_body(message: bytes) -> bytes:
    end = message.index(b"\r\n", body_start(message))
    return message[:end] + b" \t " + message[end:] + b"\r\n\r\n"


CHANGES = {
    # name: (change to the delivered message, still valid)
    "nothing": (lambda m: m, True),
    "a letter of the body": (lambda m: swap_case_after(m, body_start(m)), False),
    "the last letter of the body": (swap_last_letter, False),
    "a letter of Subject": (lambda m: swap_case_after(m, field_value_start(m, "subject")), False),
    "a letter of From": (lambda m: swap_case_after(m, field_value_start(m, "from")), False),
    "a letter of Date": (lambda m: swap_case_after(m, field_value_start(m, "date")), False),
    "a second From added": (lambda m: b"From: Mallory <mallory@contoso.com>\r\n" + m, False),
    # RFC 6376 section 8.15: a replayed copy with a field put on top (read first by
    # mail programs) or a missing one put in.
    "a second Subject added": (lambda m: b"Subject: URGENT: new bank details\r\n" + m, False),
    "a Reply-To put in": (lambda m: b"Reply-To: <mallory@evil.example>\r\n" + m, False),
    "a field the receiver adds": (lambda m: b"Authentication-Results: mx.fabrikam.example; spf=pass\r\n" + m, True),
    "Subject folded anew": (refold_subject, True),
    "trailing blanks and empty lines in the body": (trailing_blanks_in_body, True),
}


def test_a_changed_byte_breaks_both_signatures(make_veil, sink, key_dns, keys):
    """On the delivered copy of a multipart corpus message: a letter changed in the
    body (the first or the last) or in a signed field (Subject, From, Date), a second
    From or Subject, or a Reply-To put in makes both signatures fail; a field added by the receiver, a Subject folded
    anew and trailing blanks or empty lines in the body (relaxed/relaxed) do not."""
    both = [keys["rsa"], keys["ed"]]
    veil = signing_veil(make_veil, sink, key_dns, [k.signer() for k in both])
    delivery = relay(veil, sink, (CORPUS_DIR / "08-exchange-multipart.eml").read_bytes())
    names = sorted(dkim_field(both))
    got = {change: verdicts(edit(delivery.message), key_dns) for change, (edit, _) in CHANGES.items()}
    want = {change: dict.fromkeys(names, valid) for change, (_, valid) in CHANGES.items()}
    assert got == want


# --------------------------------------------------------------------------------------
# Which mail is signed: other domains, subdomains, internal signatures, rotation
# --------------------------------------------------------------------------------------

INTERNAL_SIGNATURES = (
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=contoso.com;\n"
    "\ts=exch-internal-2023; t=1699957204; h=From:To:Subject:Date;\n"
    "\tbh=SW50ZXJuYWxCb2R5SGFzaA==;\n"
    "\tb=SW50ZXJuYWxTaWduYXR1cmVPZlRoZUV4Y2hhbmdlU2VydmVy\n"
    "dkim-signature: v=1; a=ed25519-sha256; d=mail.contoso.com; s=gateway-ed; h=from; bh=R2F0ZXdheQ==;\n"
    " b=R2F0ZXdheVNpZ25hdHVyZQ==\n"
)
INTERNAL_TRACES = [b"exch-internal-2023", b"SW50ZXJuYWxTaWduYXR1cmVPZlRoZUV4Y2hhbmdlU2VydmVy", b"gateway-ed",
                   b"R2F0ZXdheVNpZ25hdHVyZQ=="]


@pytest.mark.parametrize("domain", [UNSIGNED, "notcontoso.com"])
def test_mail_from_a_domain_without_a_key_leaves_unsigned(make_veil, sink, key_dns, keys, domain):
    """From: a domain with no [[dkim]] (also one that merely ends in the signing
    domain's name): no DKIM-Signature reaches the receiver, not even the one the
    client's message carried, and the accepted line says dkim=none."""
    veil = signing_veil(make_veil, sink, key_dns, [keys["rsa"].signer(), keys["ed"].signer()])
    data = message_from(f"someone@{domain}", "unsigned", extra=INTERNAL_SIGNATURES)
    delivery = relay(veil, sink, data, sender=f"someone@{domain}")
    assert delivery.dkim == "none"
    assert "dkim-signature" not in field_names(delivery.message)
    assert [t for t in INTERNAL_TRACES if t in delivery.message] == []


@pytest.mark.parametrize("mode", SCRUB_MODES)
def test_an_internal_signature_never_reaches_the_receiver(make_veil, sink, key_dns, keys, mode):
    """The client's own DKIM-Signature fields (an internal signer's, any case of the
    name) are removed in every scrub mode: the receiver sees Veil's signature only,
    and it is valid."""
    veil = signing_veil(make_veil, sink, key_dns, [keys["rsa"].signer()], scrub=SCRUB_MODES[mode])
    data = message_from(f"alice.martin@{DOMAIN}", "internal signature", extra=INTERNAL_SIGNATURES)
    delivery = relay(veil, sink, data)
    assert_signed_by(delivery, key_dns, [keys["rsa"]])
    assert [t for t in INTERNAL_TRACES if t in delivery.message] == []


@pytest.mark.parametrize("subdomains", [None, True, False], ids=["default", "true", "false"])
def test_subdomains(make_veil, sink, key_dns, keys, subdomains):
    """From: sales.contoso.com and eu.sales.contoso.com are signed with
    d=contoso.com when subdomains = true (the default), and leave unsigned
    (dkim=none) when it is false; contoso.com itself is signed either way."""
    veil = signing_veil(make_veil, sink, key_dns, [keys["rsa"].signer(subdomains=subdomains)])
    for domain in ("sales.contoso.com", "eu.sales.contoso.com", DOMAIN):
        delivery = relay(veil, sink, message_from(f"alice@{domain}", f"from {domain}"), sender=f"alice@{domain}")
        if domain == DOMAIN or subdomains is not False:
            assert_signed_by(delivery, key_dns, [keys["rsa"]])
        else:
            assert delivery.dkim == "none", domain
            assert "dkim-signature" not in field_names(delivery.message), domain


def with_signers(text: str, signers: list[dict]) -> str:
    """A configuration text (harness.render_config writes [[dkim]] last) with its
    [[dkim]] tables replaced."""
    head = text.split("\n[[dkim]]\n", 1)[0].rstrip("\n") + "\n"
    tables = ["\n[[dkim]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in s.items() if v is not None)
              for s in signers]
    return head + "".join(tables)


def test_keys_rotated_by_sighup(make_veil, sink, key_dns, keys):
    """Selector veil2026, then veil2027 added in its place and reloaded (SIGHUP): the
    next message is signed with veil2027 and verifies, as the one before still does
    with veil2026; with the [[dkim]] table removed and reloaded, mail leaves unsigned."""
    old, new = keys["veil2026"], keys["veil2027"]
    veil = signing_veil(make_veil, sink, key_dns, [old.signer()])
    first = relay(veil, sink, message_from(f"alice.martin@{DOMAIN}", "before the rotation"))
    assert_signed_by(first, key_dns, [old])

    veil.reload(with_signers(veil.config_path.read_text(), [new.signer()]))
    second = relay(veil, sink, message_from(f"alice.martin@{DOMAIN}", "after the rotation"))
    assert_signed_by(second, key_dns, [new])
    assert verdicts(first.message, key_dns) == {f"{DOMAIN}/veil2026": True}

    veil.reload(with_signers(veil.config_path.read_text(), []))
    third = relay(veil, sink, message_from(f"alice.martin@{DOMAIN}", "keys removed"))
    assert third.dkim == "none"
    assert "dkim-signature" not in field_names(third.message)


# --------------------------------------------------------------------------------------
# veil dkim keygen / veil dkim check
# --------------------------------------------------------------------------------------

KEYGEN_DOMAIN = "keygen.veiltest"
RECORD_RE = re.compile(r'(?P<name>\S+) TXT (?P<strings>"[^"]{1,255}"(?: "[^"]{1,255}")*)')


def veil_dkim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([VEIL_BIN, "dkim", *args], capture_output=True, text=True, timeout=120)


def keygen(out: Path, algorithm: str | None, selector: str = "s2026") -> subprocess.CompletedProcess:
    return veil_dkim("keygen", "--domain", KEYGEN_DOMAIN, "--selector", selector,
                     *(["--algorithm", algorithm] if algorithm else []), "--out", str(out))


def record_tags(line: str) -> tuple[str, dict[str, str]]:
    """The name and the tags of a printed record; its strings are at most 255 characters."""
    m = RECORD_RE.fullmatch(line)
    assert m, f"not a zone-file TXT record of quoted strings of 1-255 characters: {line!r}"
    value = "".join(re.findall(r'"([^"]*)"', m["strings"]))
    tags = dict(tag.strip().split("=", 1) for tag in value.split(";") if tag.strip())
    return m["name"], tags


def made_by_keygen(tmp_path: Path, algorithm: str | None, selector: str = "s2026") -> tuple[Path, str]:
    out = tmp_path / f"{selector}.pem"
    p = keygen(out, algorithm, selector)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 1, p.stdout
    return out, lines[0]


ALGORITHMS = {None: "rsa", "rsa-2048": "rsa", "ed25519": "ed25519"}


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=["default", "rsa-2048", "ed25519"])
def test_keygen_writes_a_private_key_and_prints_its_record(tmp_path, algorithm):
    """The key file is PEM of mode 0600 that standard tools read (RSA 2048 by default);
    the one printed line is `S._domainkey.D. TXT "..." ...` with k= the algorithm and
    p= the key's public half (RSA: DER, base64; Ed25519: the raw 32 bytes, base64)."""
    out, line = made_by_keygen(tmp_path, algorithm)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600, oct(out.stat().st_mode)
    name, tags = record_tags(line)
    assert name == f"s2026._domainkey.{KEYGEN_DOMAIN}."
    assert tags["v"] == "DKIM1" and tags["k"] == ALGORITHMS[algorithm], tags
    key = serialization.load_pem_private_key(out.read_bytes(), password=None)
    published = base64.b64decode(tags["p"], validate=True)
    if ALGORITHMS[algorithm] == "rsa":
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
        assert len(line) > 255 + 40, "a 2048-bit record needs more than one string"
        assert serialization.load_der_public_key(published).public_numbers() == key.public_key().public_numbers()
    else:
        assert isinstance(key, ed25519.Ed25519PrivateKey)
        assert out.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")
        assert tags["p"] == ed25519_published(key) and len(published) == 32


def test_keygen_never_overwrites_a_file(tmp_path):
    """An existing --out file (another selector's key, say) is left as it was: keygen
    fails and prints no record."""
    out = tmp_path / "existing.pem"
    out.write_text("the key of another selector\n")
    p = keygen(out, None)
    assert p.returncode != 0, p.stdout + p.stderr
    assert out.read_text() == "the key of another selector\n"
    assert "TXT" not in p.stdout, p.stdout


def check_config_for(write_config, server: DNSServer, signers: list[dict]) -> Path:
    return write_config(dkim=signers, dns={"servers": [server.server]})


def check_lines(p: subprocess.CompletedProcess) -> dict[str, str]:
    """`veil dkim check`'s lines by domain/selector."""
    out = {}
    for line in p.stdout.splitlines():
        name, sep, verdict = line.partition(": ")
        assert sep and "/" in name, f"unexpected line {line!r} in:\n{p.stdout}"
        out[name] = verdict
    return out


@pytest.mark.parametrize("algorithm", ["rsa-2048", "ed25519"])
def test_keygen_record_served_by_dns_makes_dkim_check_ok(tmp_path, write_config, make_dns, algorithm):
    """The printed line, put into unbound as it is (local-data), is the record `veil
    dkim check` finds through Veil's resolver: "D/S: ok", exit status 0."""
    out, line = made_by_keygen(tmp_path, algorithm)
    server = make_dns([line])
    config = check_config_for(write_config, server, [{"domain": KEYGEN_DOMAIN, "selector": "s2026",
                                                      "private_key": str(out)}])
    p = veil_dkim("check", "--config", str(config))
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines() == [f"{KEYGEN_DOMAIN}/s2026: ok"], p.stdout


@pytest.mark.parametrize("algorithm", ["rsa-2048", "ed25519"])
def test_dkim_check_fails_for_the_record_of_another_key(tmp_path, write_config, make_dns, keys, algorithm):
    """The selector's record publishes another key of the same kind: `veil dkim
    check` says it does not match, exit status 1."""
    out, _ = made_by_keygen(tmp_path, algorithm)
    other = keys["rsa"] if algorithm == "rsa-2048" else keys["ed"]
    server = make_dns([other.record(KEYGEN_DOMAIN, selector="s2026")])
    config = check_config_for(write_config, server, [{"domain": KEYGEN_DOMAIN, "selector": "s2026",
                                                      "private_key": str(out)}])
    p = veil_dkim("check", "--config", str(config))
    assert p.returncode == 1, p.stdout + p.stderr
    verdict = check_lines(p)[f"{KEYGEN_DOMAIN}/s2026"]
    assert verdict != "ok" and "match" in verdict, p.stdout


def test_dkim_check_names_every_entry(tmp_path, write_config, make_dns, keys):
    """One line per [[dkim]] table: ok, no record, not a DKIM key record, a record of
    another key; exit status 1 because not all are ok."""
    out, line = made_by_keygen(tmp_path, "ed25519")
    server = make_dns([line,
                       txt(f"spf._domainkey.{KEYGEN_DOMAIN}.", "v=spf1 -all"),
                       keys["rsa"].record(KEYGEN_DOMAIN, selector="stale")])
    signers = [{"domain": KEYGEN_DOMAIN, "selector": s, "private_key": str(out)}
               for s in ("s2026", "missing", "spf", "stale")]
    p = veil_dkim("check", "--config", str(check_config_for(write_config, server, signers)))
    assert p.returncode == 1, p.stdout + p.stderr
    lines = check_lines(p)
    assert list(lines) == [f"{KEYGEN_DOMAIN}/{s}" for s in ("s2026", "missing", "spf", "stale")], p.stdout
    assert lines[f"{KEYGEN_DOMAIN}/s2026"] == "ok"
    assert "no record" in lines[f"{KEYGEN_DOMAIN}/missing"], p.stdout
    assert "not a DKIM key record" in lines[f"{KEYGEN_DOMAIN}/spf"], p.stdout
    assert "match" in lines[f"{KEYGEN_DOMAIN}/stale"], p.stdout


@pytest.mark.parametrize("algorithm", ["rsa-2048", "ed25519"])
def test_a_keygen_key_signs_mail_that_verifies_with_the_printed_record(tmp_path, make_veil, sink, make_dns, algorithm):
    """The whole set-up an administrator does: keygen, the record into DNS, the key
    into [[dkim]]; mail from that domain verifies at the receiver."""
    out, line = made_by_keygen(tmp_path, algorithm)
    server = make_dns([line])
    veil = signing_veil(make_veil, sink, server, [{"domain": KEYGEN_DOMAIN, "selector": "s2026",
                                                   "private_key": str(out)}])
    delivery = relay(veil, sink, message_from(f"alice@{KEYGEN_DOMAIN}", "keygen"), sender=f"alice@{KEYGEN_DOMAIN}")
    assert delivery.dkim == f"{KEYGEN_DOMAIN}/s2026"
    assert verdicts(delivery.message, server) == {f"{KEYGEN_DOMAIN}/s2026": True}


# --------------------------------------------------------------------------------------
# veil check-config
# --------------------------------------------------------------------------------------

def private_key_line(path: Path) -> int:
    """The line of private_key in the (first) [[dkim]] table ([tls] has one too)."""
    lines = path.read_text().splitlines()
    start = lines.index("[[dkim]]")
    return next(i + 1 for i in range(start, len(lines)) if lines[i].startswith("private_key = "))


def unusable_key(tmp_path: Path, kind: str, certs) -> Path:
    path = tmp_path / f"{kind}.pem"
    if kind == "missing":
        return path
    if kind == "directory":
        path.mkdir()
    elif kind == "garbage":
        path.write_text("this is not a key\n")
    elif kind == "garbage-pem":
        path.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n")
    elif kind == "certificate":
        path.write_bytes(certs[0].read_bytes())
    elif kind == "rsa-768":
        # python cryptography refuses to make keys under 1024 bits; openssl 3 does not.
        openssl_genpkey(path, "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:768")
    elif kind == "x25519":
        openssl_genpkey(path, "-algorithm", "x25519")
    elif kind == "encrypted":
        openssl_genpkey(path, "-algorithm", "ed25519", "-aes-256-cbc", "-pass", "pass:secret")
    return path


@pytest.mark.parametrize("kind", ["missing", "directory", "garbage", "garbage-pem", "certificate", "rsa-768",
                                  "x25519", "encrypted"])
def test_check_config_refuses_a_key_it_cannot_use(tmp_path, write_config, certs, kind):
    """A missing or unreadable key file, text that is no key, a PEM that holds
    something else (a certificate, an X25519 key, an encrypted key) and an RSA key
    under 1024 bits are refused at the private_key line: `PATH:LINE:
    dkim.private_key: problem`, exit 1; `veil serve` refuses to start the same way."""
    key = unusable_key(tmp_path, kind, certs)
    path = write_config(dkim=[{"domain": DOMAIN, "selector": "sel", "private_key": str(key)}])
    line = private_key_line(path)
    assert_error(check_config(path), path, line, "dkim.private_key")
    assert_error(serve_once(path), path, line, "dkim.private_key")


def test_check_config_warns_about_an_rsa_key_under_2048_bits(write_config, keys):
    """A 1024-bit RSA key is taken, with a warning on stderr that names
    dkim.private_key and 2048."""
    path = write_config(dkim=[keys["rsa1024"].signer()])
    p = check_config(path)
    assert p.returncode == 0, p.stderr
    assert [l for l in p.stderr.splitlines() if "dkim.private_key" in l and "2048" in l], p.stderr


def test_check_config_takes_good_keys_without_a_word(write_config, keys):
    """RSA 2048 (PKCS#1, PKCS#8) and 4096, Ed25519, several for one domain: exit 0,
    no warning about a key."""
    path = write_config(dkim=[keys[s].signer() for s in ("rsa", "pkcs8", "rsa4096", "ed")])
    p = check_config(path)
    assert p.returncode == 0, p.stderr
    assert "dkim.private_key" not in p.stderr, p.stderr
