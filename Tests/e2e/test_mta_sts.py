"""MTA-STS (RFC 8461) end to end: recipient domains publish `_mta-sts` TXT records in
unbound and their policies on an HTTPS policy host on loopback (mta_sts.py), whose
certificate, like the receiving MTA's, comes from the test CA given to Veil as
`tls_ca_file`. In mode enforce Veil sends only to the MX hosts the policy lists,
over TLS with a certificate valid for their names, and otherwise defers without a
word in plain text; in mode testing it delivers as usual. Policies live in the queue
database: a restart fetches nothing, a new id in the TXT record fetches again."""

from __future__ import annotations

import pytest

from dns import DNSServer
from harness import send_message, tls_check
from mta_sts import Answer, policy_text, sts_records
from scripted_mta import Script, ScriptedMTA

RECEIVER = "127.0.0.23"    # STARTTLS, a certificate for the mx.*.veiltest names below
PLAIN = "127.0.0.24"       # no STARTTLS
POLICY_HOST = "127.0.0.42"
DOMAINS = ["good", "listed", "plain", "testing", "unnamed", "redirect", "cached"]

RECORDS = [record for name in DOMAINS for record in [
    f"{name}.veiltest. MX 10 mx.{name}.veiltest.",
    f"mx.{name}.veiltest. A {PLAIN if name == 'plain' else RECEIVER}",
    *sts_records(f"{name}.veiltest", "20261207a", POLICY_HOST)]]


@pytest.fixture
def receiver(tmp_path, test_ca):
    cert, key = test_ca.issue([f"mx.{name}.veiltest" for name in DOMAINS if name != "unnamed"], tmp_path / "mx")
    with ScriptedMTA(RECEIVER, 25, Script(starttls=(str(cert), str(key)), fault_sessions=0)) as mta:
        yield mta


@pytest.fixture
def plain_receiver():
    with ScriptedMTA(PLAIN, 25, Script(fault_sessions=0)) as mta:
        yield mta


@pytest.fixture
def policies(make_policy_server):
    return make_policy_server(POLICY_HOST, {
        "good.veiltest": policy_text(["mx.good.veiltest"]),
        "listed.veiltest": policy_text(["*.other.veiltest", "mx.elsewhere.veiltest"]),
        "plain.veiltest": policy_text(["mx.plain.veiltest"]),
        "testing.veiltest": policy_text(["mx.elsewhere.veiltest"], mode="testing"),
        "unnamed.veiltest": policy_text(["mx.unnamed.veiltest"], mode="testing"),
        "redirect.veiltest": Answer.redirect("https://mta-sts.good.veiltest/.well-known/mta-sts.txt"),
        "cached.veiltest": policy_text(["*.cached.veiltest"], max_age=604800),
    })


def sender(make_veil, dns, test_ca, **delivery):
    return make_veil(dns={"servers": [dns.server]},
                     delivery={"mode": "mx", "smarthost": None, "retry": ["1h"], "tls_ca_file": str(test_ca.cert),
                               "allow_networks": [f"{RECEIVER}/32", f"{PLAIN}/32", f"{POLICY_HOST}/32"], **delivery})


def outcome(veil, event: str, to: str) -> dict:
    qid = send_message(veil, [to], "mta-sts")
    return veil.wait_event(event, queue_id=qid)[0]


def test_enforce_delivers_to_a_listed_mx_with_a_valid_certificate(make_veil, dns, test_ca, receiver, policies):
    event = outcome(sender(make_veil, dns, test_ca), "delivered", "b@good.veiltest")
    assert event["tls_policy"] == "mta-sts" and event["tls"].endswith(" verified"), event
    assert receiver.script.received[0].tls
    [fetch] = policies.fetches("good.veiltest")
    assert fetch.sni == "mta-sts.good.veiltest"


def test_enforce_defers_an_mx_the_policy_does_not_list(make_veil, dns, test_ca, receiver, policies):
    event = outcome(sender(make_veil, dns, test_ca), "deferred", "b@listed.veiltest")
    assert "mta-sts: mx.listed.veiltest is not an MX host of the domain's policy" in event["reply"], event
    assert receiver.script.sessions == 0


def test_enforce_never_sends_in_plain_text(make_veil, dns, test_ca, plain_receiver, policies):
    event = outcome(sender(make_veil, dns, test_ca), "deferred", "b@plain.veiltest")
    assert event["tls_policy"] == "mta-sts" and "STARTTLS" in event["reply"], event
    assert plain_receiver.script.received == [] and plain_receiver.script.plain_commands() == []


def test_enforce_needs_a_certificate_valid_for_the_mx(make_veil, dns, receiver, policies, test_ca):
    # Without the test CA, the receiver's certificate is not trusted; nor is the
    # policy host's: no policy, so opportunistic TLS delivers.
    veil = sender(make_veil, dns, test_ca, tls_ca_file=None)
    event = outcome(veil, "delivered", "b@good.veiltest")
    assert event["tls_policy"] == "opportunistic", event
    failure = veil.wait_event("mta_sts_failed", domain="good.veiltest")[0]
    assert failure["reason"].startswith("https://mta-sts.good.veiltest: TLS") and failure["cached_policy"] == "none"


def test_testing_mode_delivers_as_usual(make_veil, dns, test_ca, receiver, policies):
    veil = sender(make_veil, dns, test_ca)
    # An MX host the policy does not list, but a valid certificate: checked, noted.
    event = outcome(veil, "delivered", "b@testing.veiltest")
    assert event["tls_policy"] == "opportunistic" and event["tls"].endswith(" verified"), event
    assert len(policies.fetches("testing.veiltest")) == 1
    # A certificate that does not name the host: delivered all the same.
    event = outcome(veil, "delivered", "b@unnamed.veiltest")
    assert event["tls_policy"] == "opportunistic" and event["tls"].endswith(" unverified"), event


def test_a_redirect_is_not_followed(make_veil, dns, test_ca, receiver, policies):
    veil = sender(make_veil, dns, test_ca)
    assert outcome(veil, "delivered", "b@redirect.veiltest")["tls_policy"] == "opportunistic"
    assert "HTTP status 301" in veil.wait_event("mta_sts_failed", domain="redirect.veiltest")[0]["reason"]
    assert policies.fetches("good.veiltest") == []


def test_mta_sts_off(make_veil, dns, test_ca, receiver, policies):
    veil = sender(make_veil, dns, test_ca, mta_sts=False)
    assert outcome(veil, "delivered", "b@listed.veiltest")["tls_policy"] == "opportunistic"
    assert policies.requests == []


def test_the_policy_is_kept_across_restarts_and_fetched_again_for_a_new_id(make_veil, dns, test_ca, receiver,
                                                                          policies, tmp_path):
    veil = sender(make_veil, dns, test_ca)
    assert outcome(veil, "delivered", "b@cached.veiltest")["tls_policy"] == "mta-sts"
    veil.restart()
    assert outcome(veil, "delivered", "c@cached.veiltest")["tls_policy"] == "mta-sts"
    assert len(policies.fetches("cached.veiltest")) == 1
    # A new id: the policy is fetched again, and the new one applies.
    policies.set_policy("cached.veiltest", policy_text(["mx.elsewhere.veiltest"]))
    renewed = DNSServer(tmp_path / "dns-renewed", [r.replace("20261207a", "20261207b") for r in RECORDS]).start()
    try:
        veil.config_path.write_text(veil.config_path.read_text().replace(dns.server, renewed.server))
        veil.restart()
        event = outcome(veil, "deferred", "d@cached.veiltest")
        assert "not an MX host of the domain's policy" in event["reply"], event
        assert len(policies.fetches("cached.veiltest")) == 2
    finally:
        renewed.stop()


def test_tls_check_shows_the_policy(make_veil, dns, test_ca, policies):
    out = tls_check(sender(make_veil, dns, test_ca), "good.veiltest")
    assert "MTA-STS: id=20261207a, mode enforce, max_age 86400s, mx mx.good.veiltest" in out, out
    assert "Veil requires: STARTTLS, a certificate for mx.good.veiltest from a trusted root (tls_policy=mta-sts)" in out
    assert "Veil does not use this host: mta-sts: mx.listed.veiltest" in tls_check(sender(make_veil, dns, test_ca),
                                                                                   "listed.veiltest")
