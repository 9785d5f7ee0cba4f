"""DANE for SMTP (RFC 7672) end to end: Veil validates a DNSSEC-signed zone
(dnssec.py: ldns-signzone, served by unbound, its trust anchor given to Veil as
[dns] trust_anchor_file), looks up the TLSA records of each secure MX host, and
delivers to a receiving MTA with STARTTLS on loopback (scripted_mta.py) only when a
usable record authenticates its certificate. Everything that DANE must stop is
deferred and never sent in plain text: a TLSA mismatch, a stripped STARTTLS, a bogus
signature. Insecure destinations fall back to opportunistic TLS under "dane", and
get nothing under "dane-only"."""

from __future__ import annotations

import pytest

from dns import DNSServer
from dnssec import tlsa
from harness import send_message, serve_once, tls_check
from scripted_mta import Script, ScriptedMTA

RECEIVER = "127.0.0.21"   # STARTTLS with the CA-issued chain
STRIPPER = "127.0.0.22"   # no STARTTLS offered (as if an attacker removed it)
HEX = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
MX_NAMES = ["mx.ee.veilsec", "mx.ta.veilsec", "mx.wrong.veilsec", "mx.unusable.veilsec", "mx.bogus.veilsec",
            "mx.insecure.veilsec"]


@pytest.fixture(scope="module")
def chain(tmp_path_factory, test_ca):
    """A certificate from the test CA for every MX name; chain.pem holds it and the CA
    (DANE-TA needs the anchor in the chain the server sends, RFC 7672 §3.1.2)."""
    d = tmp_path_factory.mktemp("dane")
    cert, key = test_ca.issue(MX_NAMES, d, key_type="ec")
    (d / "mx.pem").write_bytes(cert.read_bytes())
    (d / "mx.key").write_bytes(key.read_bytes())
    (d / "ca.pem").write_bytes(test_ca.cert.read_bytes())
    (d / "chain.pem").write_bytes(cert.read_bytes() + test_ca.cert.read_bytes())
    return d


def signed_records(chain) -> list[str]:
    records = []
    for name in ["ee", "ta", "unnamed", "wrong", "unusable", "bogus", "expired", "stripped"]:
        records += [f"{name}.veilsec. MX 10 mx.{name}.veilsec.",
                    f"mx.{name}.veilsec. A {STRIPPER if name == 'stripped' else RECEIVER}"]
    return records + [
        tlsa("mx.ee.veilsec", chain / "mx.pem"),                                    # DANE-EE SPKI SHA-256
        tlsa("mx.ta.veilsec", chain / "ca.pem", usage=2, selector=0),              # DANE-TA cert SHA-256
        tlsa("mx.unnamed.veilsec", chain / "ca.pem", usage=2, selector=0),         # not in the certificate
        f"_25._tcp.mx.wrong.veilsec. TLSA 3 1 1 {HEX}",                             # names another key
        f"_25._tcp.mx.unusable.veilsec. TLSA 1 1 1 {HEX}",                          # PKIX-EE: not for SMTP
        tlsa("mx.stripped.veilsec", chain / "mx.pem"),
        # An MX host that is an alias: its TLSA records are those of the target
        # (RFC 7672 §2.2.2).
        "alias.veilsec. MX 10 mx.alias.veilsec.",
        "mx.alias.veilsec. CNAME mx.ee.veilsec.",
        # In the unsigned child zone: present, but proved by nothing.
        "insecure.veilsec. MX 10 mx.insecure.veilsec.",
        f"mx.insecure.veilsec. A {RECEIVER}",
        tlsa("mx.insecure.veilsec", chain / "mx.pem"),
    ]


@pytest.fixture
def receiver(chain):
    with ScriptedMTA(RECEIVER, 25, Script(starttls=(str(chain / "chain.pem"), str(chain / "mx.key")),
                                          fault_sessions=0)) as mta:
        yield mta


@pytest.fixture
def stripper():
    with ScriptedMTA(STRIPPER, 25, Script(fault_sessions=0)) as mta:
        yield mta


@pytest.fixture
def sender(make_veil, make_signed_dns, chain):
    def start(tls: str = "dane"):
        dns = make_signed_dns(signed_records(chain), bogus=[tlsa("mx.bogus.veilsec", chain / "mx.pem")],
                              expired=["expired.veilsec. MX 10 mx.expired.veilsec."])
        return make_veil(dns={"servers": [dns.server], "trust_anchor_file": str(dns.trust_anchor)},
                         delivery={"mode": "mx", "smarthost": None, "retry": ["1h"], "tls": tls,
                                   "allow_networks": [f"{RECEIVER}/32", f"{STRIPPER}/32"]})
    return start


def delivered(veil, to: str) -> dict:
    qid = send_message(veil, [to], "dane")
    return veil.wait_event("delivered", queue_id=qid)[0]


def deferred(veil, to: str) -> dict:
    qid = send_message(veil, [to], "dane")
    return veil.wait_event("deferred", queue_id=qid)[0]


def test_dane_ee_authenticates_the_server(sender, receiver):
    event = delivered(sender(), "b@ee.veilsec")
    assert event["tls_policy"] == "dane" and event["tls"].endswith(" dane-ee"), event
    assert event["relay"] == f"mx.ee.veilsec[{RECEIVER}]:25"
    [message] = receiver.script.received
    assert message.tls and message.recipients == ["b@ee.veilsec"]


def test_an_mx_alias_is_authenticated_by_the_tlsa_records_of_its_target(sender, receiver):
    event = delivered(sender(), "b@alias.veilsec")
    assert event["tls_policy"] == "dane" and event["tls"].endswith(" dane-ee"), event
    assert event["relay"] == f"mx.alias.veilsec[{RECEIVER}]:25"


def test_dane_ta_validates_the_chain_to_the_named_ca(sender, receiver):
    event = delivered(sender(), "b@ta.veilsec")
    assert event["tls_policy"] == "dane" and event["tls"].endswith(" dane-ta"), event
    assert receiver.script.received[0].tls


def test_dane_ta_needs_the_mx_name_in_the_certificate(sender, receiver):
    event = deferred(sender(), "b@unnamed.veilsec")
    assert "does not validate for mx.unnamed.veilsec" in event["reply"], event
    assert receiver.script.received == [] and receiver.script.plain_commands() == []


def test_a_tlsa_mismatch_defers_and_sends_nothing(sender, receiver):
    event = deferred(sender(), "b@wrong.veilsec")
    assert event["tls_policy"] == "dane" and "DANE: no TLSA record matches" in event["reply"], event
    assert receiver.script.received == [] and receiver.script.plain_commands() == []


def test_a_stripped_starttls_defers_and_sends_nothing(sender, stripper):
    event = deferred(sender(), "b@stripped.veilsec")
    assert event["tls_policy"] == "dane" and "STARTTLS" in event["reply"], event
    assert stripper.script.received == [] and stripper.script.plain_commands() == []


def test_a_bogus_tlsa_signature_defers(sender, receiver):
    event = deferred(sender(), "b@bogus.veilsec")
    assert "TLSA lookup for _25._tcp.mx.bogus.veilsec: DNSSEC validation failed" in event["reply"], event
    assert receiver.script.sessions == 0


def test_an_expired_mx_signature_defers(sender, receiver):
    event = deferred(sender(), "b@expired.veilsec")
    assert "MX lookup for expired.veilsec: DNSSEC validation failed" in event["reply"], event
    assert receiver.script.sessions == 0


def test_tlsa_records_none_usable_still_require_tls(sender, receiver):
    event = delivered(sender(), "b@unusable.veilsec")
    assert event["tls_policy"] == "dane" and event["tls"].endswith(" unverified"), event
    assert receiver.script.received[0].tls


def test_an_insecure_zone_falls_back_to_opportunistic(sender, receiver):
    event = delivered(sender(), "b@insecure.veilsec")
    assert event["tls_policy"] == "opportunistic" and event["tls"].endswith(" unverified"), event


def test_dane_only_refuses_an_insecure_zone(sender, receiver):
    veil = sender("dane-only")
    event = deferred(veil, "b@insecure.veilsec")
    assert "dane-only" in event["reply"] and "not DNSSEC-signed" in event["reply"], event
    assert receiver.script.sessions == 0
    assert delivered(veil, "b@ee.veilsec")["tls"].endswith(" dane-ee")



def test_tls_check_shows_what_dane_requires(sender):
    veil = sender()
    out = tls_check(veil, "ee.veilsec")
    assert f"MX mx.ee.veilsec: {RECEIVER}; DNSSEC secure" in out, out
    assert "TLSA _25._tcp.mx.ee.veilsec: 3 1 1 " in out
    assert "Veil requires: STARTTLS, a certificate matched by a TLSA record (tls_policy=dane)" in out
    out = tls_check(veil, "insecure.veilsec")
    assert "DNSSEC insecure" in out and "(tls_policy=opportunistic)" in out, out
    assert "TLSA lookup for _25._tcp.mx.bogus.veilsec: DNSSEC validation failed" in tls_check(veil, "bogus.veilsec")


def test_resolvers_that_strip_dnssec_turn_validation_off_with_a_warning(make_veil, write_config, dnssec_keys, chain,
                                                                         tmp_path, receiver):
    # The same names, served without signatures (a forwarder that strips them):
    # validation would find every answer bogus, and all mail would wait.
    stripping = DNSServer(tmp_path / "stripping", [r for r in signed_records(chain) if " TLSA " not in r],
                          zones=("veilsec",)).start()
    try:
        dns = {"servers": [stripping.server], "trust_anchor_file": str(dnssec_keys.trust_anchor)}
        delivery = {"mode": "mx", "smarthost": None, "retry": ["1h"], "allow_networks": [f"{RECEIVER}/32"]}
        veil = make_veil(dns=dns, delivery=delivery)
        warning = veil.wait_event("config_warning")[0]["warning"]
        assert "veilsec. DNSKEY" in warning and "DANE is not used" in warning, warning
        event = delivered(veil, "b@ee.veilsec")
        assert event["tls_policy"] == "opportunistic", event
        out = tls_check(veil, "ee.veilsec")
        assert "DANE is not used" in out and "DNSSEC validation off" in out, out
        # Under dane-only nothing could ever be delivered: Veil does not start.
        refused = serve_once(write_config(dns=dns, delivery={**delivery, "tls": "dane-only"}))
        assert refused.returncode == 1 and "\"dane-only\" cannot work" in refused.stderr, refused.stderr
    finally:
        stripping.stop()
