"""Internationalised recipient domains (issue 13, point 5): looked up in their
UTS #46 ASCII form (libidn2: non-transitional, NFC), whatever the spelling, with
a real DNS server (unbound, local-data) and an MTA that offers SMTPUTF8 on
127.0.0.13:25; names IDNA refuses bounce at once with the reason, never looked up
and never retried."""

import email

import pytest

from harness import message, queue_id, wait_until
from scripted_mta import Script, ScriptedMTA

MX_HOST = "127.0.0.13"
# The MTA is on loopback, an internal network: MX delivery there must be allowed.
DELIVERY = {"mode": "mx", "smarthost": None, "retry": ["1s"], "allow_networks": [f"{MX_HOST}/32"]}

RECORDS = [
    # bücher.veiltest in its ASCII form: the only name Veil may look up for it.
    "xn--bcher-kva.veiltest. MX 10 mx.idn.veiltest.",
    "mx.idn.veiltest. A " + MX_HOST,
    "corp.veiltest. MX 10 mx.idn.veiltest.",    # the sender's domain, for bounce reports
    # What the hand-written Punycode of earlier versions made of refused names
    # (IDNA2003 style): mail there would reach the MTA instead of bouncing.
    "xn--ls8h.veiltest. MX 10 mx.idn.veiltest.",
    "xn--ab-m1t.veiltest. MX 10 mx.idn.veiltest.",
]


@pytest.fixture
def mta():
    with ScriptedMTA(host=MX_HOST, port=25, script=Script(smtputf8=True)) as server:
        yield server


@pytest.fixture
def veil(make_veil, dns):
    return make_veil(dns={"servers": [dns.server]}, delivery=DELIVERY)


def send_utf8(veil, recipients) -> str:
    sender = "a@corp.veiltest"
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail(sender, "SMTPUTF8")
        for r in recipients:
            c.rcpt(r)
        qid = queue_id(c.data(message("idna test", sender=sender, to=recipients[0])))
        c.quit()
    return qid


def ascii_lower(address: str) -> str:
    """As Veil keeps an address: the domain's ASCII letters lower-cased, the rest as sent."""
    local, domain = address.rsplit("@", 1)
    return local + "@" + "".join(ch.lower() if ch.isascii() else ch for ch in domain)


def received_by(mta, address):
    with mta.script.lock:
        return [m for m in mta.script.received if address in m.recipients]


# One message per spelling: recipients of one message whose domains are the same
# Unicode text (Swift compares strings by canonical equivalence) share a session,
# and the decomposed spelling must be looked up on its own.
@pytest.mark.parametrize("address", [
    "c@b\u00fccher.veiltest",
    "d@bu\u0308cher.veiltest",            # u + COMBINING DIAERESIS
    "u@B\u00dcCHER.veiltest",
    "v@BU\u0308CHER.veiltest",
], ids=["composed", "decomposed", "upper-case", "upper-case-decomposed"])
def test_every_spelling_of_an_idn_reaches_its_mx(veil, mta, address):
    qid = send_utf8(veil, [address])
    stored = ascii_lower(address)
    [event] = veil.wait_event("delivered", queue_id=qid, to=f"<{stored}>")
    assert event["relay"] == f"mx.idn.veiltest[{MX_HOST}]:25"
    # Passed on as the client wrote it (RFC 6531): only the lookup uses the A-label.
    assert len(received_by(mta, stored)) == 1
    assert veil.events("bounced", queue_id=qid) == []


@pytest.mark.parametrize("label,reason", [
    ("\U0001F4A9", "string contains a disallowed character"),           # emoji: not in IDNA2008
    ("a\u200db", "string contains a forbidden context-j character"),    # ZWJ outside its CONTEXTJ rule
])
def test_a_name_idna_refuses_bounces_at_once_with_the_reason(veil, mta, label, reason):
    address = f"x@{label}.veiltest"
    qid = send_utf8(veil, [address])
    [bounced] = veil.wait_event("bounced", queue_id=qid)
    # (The log escapes invisible characters such as the ZWJ: the domain is not compared.)
    assert bounced["reply"].startswith("553 5.1.2 Recipient address rejected: "), bounced
    assert bounced["reply"].endswith(f".veiltest is not a valid domain name: {reason}"), bounced
    assert bounced["relay"] == "none"
    # The report goes back to the sender, through the same MX.
    report_id = veil.wait_event("bounce_queued", original_queue_id=qid)[0]["queue_id"]
    veil.wait_event("delivered", queue_id=report_id)
    [report] = received_by(mta, "a@corp.veiltest")
    dsn = email.message_from_bytes(report.text)
    assert dsn.get_content_type() == "multipart/report"
    status = dsn.get_payload()[1].as_string()
    assert "Status: 5.1.2" in status and reason in status
    # Permanent: not deferred, not retried, and never sent anywhere.
    assert veil.events("deferred", queue_id=qid) == []
    assert received_by(mta, address) == []
    wait_until(lambda: veil.message(qid) is None, what="the bounced message leaves the queue")


def test_a_route_for_an_idn_takes_every_spelling(make_veil, dns, mta):
    """[[delivery.domain]] routes are compared in the ASCII form: a route written
    in Unicode takes mail to the upper-case spelling (before, that mail missed
    the route and went to the public MX)."""
    with ScriptedMTA(host=MX_HOST, script=Script(smtputf8=True)) as routed:
        veil = make_veil(dns={"servers": [dns.server]}, delivery=DELIVERY,
                         routes=[{"domain": "b\u00fccher.veiltest", "route": routed.route}])
        address = "u@B\u00dcCHER.veiltest"
        qid = send_utf8(veil, [address])
        [event] = veil.wait_event("delivered", queue_id=qid)
        assert event["relay"] == routed.route
        assert len(received_by(routed, ascii_lower(address))) == 1
        assert received_by(mta, ascii_lower(address)) == []
