"""The DNSSEC fixture (dnssec.py) does what the DANE tests rely on, checked with a real
validator: unbound-host, i.e. libunbound with the trust anchor file Veil is given,
forwarding to the fixture's unbound. Signed answers are secure, and so are the
denials of a missing TLSA record; the insecure child zone and veiltest. are insecure,
not bogus; the bogus and expired RRsets, and the whole zone under a wrong anchor,
fail validation. tlsa() agrees with openssl."""

import subprocess

import pytest

from dnssec import tlsa, tlsa_data, validate

HEX = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"

SIGNED_RECORDS = [
    "dane.veilsec. MX 10 mx.dane.veilsec.",
    "mx.dane.veilsec. A 127.0.0.5",
    "bad.veilsec. MX 10 mx.bad.veilsec.",
    "mx.bad.veilsec. A 127.0.0.5",
    "old.veilsec. MX 10 mx.old.veilsec.",
    "mx.old.veilsec. A 127.0.0.5",
    "insecure.veilsec. MX 10 mx.insecure.veilsec.",
    "mx.insecure.veilsec. A 127.0.0.6",
    f"_25._tcp.mx.insecure.veilsec. TLSA 3 1 1 {HEX}",
]
BOGUS_RECORDS = [f"_25._tcp.mx.bad.veilsec. TLSA 3 1 1 {HEX}"]
EXPIRED_RECORDS = ["old.veilsec. MX 10 mx.old.veilsec."]
RECORDS = ["plain.veiltest. MX 10 mx.plain.veiltest.", "mx.plain.veiltest. A 127.0.0.7"]


def openssl(*args: str, data: bytes = b"") -> bytes:
    return subprocess.run(["openssl", *args], input=data, check=True, capture_output=True, timeout=30).stdout


def test_tlsa_data_matches_openssl(certs):
    cert, _ = certs
    spki = openssl("pkey", "-pubin", "-outform", "DER", data=openssl("x509", "-in", str(cert), "-noout", "-pubkey"))
    der = openssl("x509", "-in", str(cert), "-outform", "DER")
    assert tlsa("mx.dane.veilsec", cert) == \
        f"_25._tcp.mx.dane.veilsec. TLSA 3 1 1 {openssl('dgst', '-sha256', '-hex', '-r', data=spki)[:64].decode()}"
    assert tlsa_data(cert.read_text(), selector=0, matching=1) == openssl("dgst", "-sha256", "-r", data=der)[:64].decode()
    assert tlsa_data(cert.read_bytes(), selector=1, matching=0) == spki.hex()
    assert tlsa_data(cert, selector=0, matching=2) == openssl("dgst", "-sha512", "-r", data=der)[:128].decode()


def test_signed_answers_are_secure(make_signed_dns, certs):
    cert, _ = certs
    ee, ta = tlsa("mx.dane.veilsec.", cert), tlsa("mx.dane.veilsec.", cert, usage=2, selector=0)
    server = make_signed_dns(SIGNED_RECORDS + [ee, ta])
    check = lambda name, rtype: validate(server, server.trust_anchor, name, rtype)

    answer = check("_25._tcp.mx.dane.veilsec.", "TLSA")
    assert answer.status == "secure", answer.output
    assert sorted(a.split(" has TLSA record ")[1] for a in answer.answers) == \
        sorted(r.split(" TLSA ")[1].upper() for r in (ee, ta))
    answer = check("dane.veilsec.", "MX")
    assert (answer.status, answer.answers) == ("secure", ["dane.veilsec. mail is handled by 10 mx.dane.veilsec."])
    answer = check("mx.dane.veilsec.", "A")
    assert (answer.status, answer.answers) == ("secure", ["mx.dane.veilsec. has address 127.0.0.5"])
    # Proven absence: no TLSA for an MX (NXDOMAIN), no AAAA at a name that exists (NODATA).
    answer = check("_25._tcp.mx.old.veilsec.", "TLSA")
    assert (answer.status, answer.rcode, answer.answers) == ("secure", "NXDOMAIN", []), answer.output
    answer = check("mx.dane.veilsec.", "AAAA")
    assert (answer.status, answer.rcode, answer.answers) == ("secure", "NODATA", []), answer.output

    # The anchor as the KSK's DNSKEY does as well as its DS.
    answer = validate(server, server.keys.trust_anchor_dnskey, "_25._tcp.mx.dane.veilsec.", "TLSA")
    assert answer.status == "secure" and len(answer.answers) == 2, answer.output


def test_insecure_names_are_not_bogus(signed_dns):
    check = lambda name, rtype: validate(signed_dns, signed_dns.trust_anchor, name, rtype)
    # The delegation without DS is proven by the signed parent, so the child is insecure.
    answer = check("insecure.veilsec.", "DS")
    assert (answer.status, answer.rcode) == ("secure", "NODATA"), answer.output
    answer = check("insecure.veilsec.", "MX")
    assert (answer.status, answer.answers) == ("insecure", ["insecure.veilsec. mail is handled by 10 mx.insecure.veilsec."])
    answer = check("mx.insecure.veilsec.", "A")
    assert (answer.status, answer.answers) == ("insecure", ["mx.insecure.veilsec. has address 127.0.0.6"])
    answer = check("_25._tcp.mx.insecure.veilsec.", "TLSA")
    assert answer.status == "insecure" and HEX.upper() in answer.answers[0], answer.output
    # Outside the anchor (veiltest. local-data): insecure.
    answer = check("plain.veiltest.", "MX")
    assert (answer.status, answer.answers) == ("insecure", ["plain.veiltest. mail is handled by 10 mx.plain.veiltest."])


def test_bogus_answers_fail_validation(signed_dns):
    check = lambda name, rtype: validate(signed_dns, signed_dns.trust_anchor, name, rtype)
    answer = check("_25._tcp.mx.bad.veilsec.", "TLSA")
    assert answer.status == "bogus" and "signature verification failed" in answer.why, answer.output
    answer = check("old.veilsec.", "MX")
    assert answer.status == "bogus" and "signature expired" in answer.why, answer.output
    # Only those RRsets: their neighbours stay secure.
    for name, rtype in (("bad.veilsec.", "MX"), ("mx.bad.veilsec.", "A"), ("mx.old.veilsec.", "A")):
        answer = check(name, rtype)
        assert answer.status == "secure" and answer.answers, answer.output


@pytest.mark.parametrize("name, rtype", [("dane.veilsec.", "MX"), ("_25._tcp.mx.old.veilsec.", "TLSA")])
def test_wrong_trust_anchor_makes_the_zone_bogus(signed_dns, name, rtype):
    answer = validate(signed_dns, signed_dns.keys.wrong_trust_anchor, name, rtype)
    assert answer.status == "bogus" and answer.why, answer.output
    assert validate(signed_dns, None, name, rtype).status == "insecure"
