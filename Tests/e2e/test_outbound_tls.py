"""Outbound TLS and smarthost AUTH against a real TLS-capable MTA: a second Veil
acting as the receiving server (STARTTLS, a certificate from a test CA, AUTH).
MX lookups go to a real unbound with local-data."""

import pytest

from harness import send_message

RECORDS = [
    "tls.veiltest. MX 10 mx.tls.veiltest.",
    "mx.tls.veiltest. A 127.0.0.5",
    "wrongname.veiltest. MX 10 mx.wrongname.veiltest.",
    "mx.wrongname.veiltest. A 127.0.0.5",    # same server, but its certificate names mx.tls.veiltest
]


@pytest.fixture(scope="module")
def mx_cert(test_ca, tmp_path_factory):
    """(cert, key) for mx.tls.veiltest from the session's test CA (conftest's test_ca)."""
    return test_ca.issue("mx.tls.veiltest", tmp_path_factory.mktemp("mx"))


@pytest.fixture
def receiver(make_veil, mx_cert):
    """The destination MTA: STARTTLS on 127.0.0.5:25, relays for loopback."""
    return make_veil(top={"hostname": "mx.veiltest"},
                     tls={"certificate": str(mx_cert[0]), "private_key": str(mx_cert[1])},
                     listeners=[{"name": "in", "address": "127.0.0.5:25", "tls": "starttls", "auth": "off",
                                 "relay_networks": ["127.0.0.0/8"]}])


def send(veil, to):
    return send_message(veil, [to], "outbound tls")


def sender(make_veil, dns, **delivery):
    # The receiver is an MX on loopback, an internal network (issue 13): allowed here.
    return make_veil(dns={"servers": [dns.server]},
                     delivery={"mode": "mx", "smarthost": None, "retry": ["1h"], "allow_networks": ["127.0.0.5/32"],
                               **delivery})


def test_verified_starttls(make_veil, dns, receiver, test_ca):
    veil = sender(make_veil, dns, tls="verify", tls_ca_file=str(test_ca.cert))
    qid = send(veil, "b@tls.veiltest")
    event = veil.wait_event("delivered", queue_id=qid)[0]
    assert event["tls"].startswith("TLSv1.") and event["tls"].endswith(" verified"), event
    assert event["relay"] == "mx.tls.veiltest[127.0.0.5]:25"
    receiver.wait_event("tls", listener="in")
    [received] = receiver.messages()
    assert receiver.recipients(received["id"])[0]["address"] == "b@tls.veiltest"


def test_verify_with_the_wrong_name_defers(make_veil, dns, receiver, test_ca):
    veil = sender(make_veil, dns, tls="verify", tls_ca_file=str(test_ca.cert))
    qid = send(veil, "b@wrongname.veiltest")
    veil.wait_event("deferred", queue_id=qid)
    assert receiver.messages() == []


def test_verify_without_the_ca_defers(make_veil, dns, receiver):
    veil = sender(make_veil, dns, tls="verify")
    qid = send(veil, "b@tls.veiltest")
    veil.wait_event("deferred", queue_id=qid)
    assert receiver.messages() == []


def test_opportunistic_starttls_is_encrypted_but_unverified(make_veil, dns, receiver):
    veil = sender(make_veil, dns)
    qid = send(veil, "b@tls.veiltest")
    event = veil.wait_event("delivered", queue_id=qid)[0]
    assert event["tls"].endswith(" unverified") and "TLS_" in event["tls"], event


def test_smarthost_with_auth(make_veil, mx_cert, tmp_path):
    smarthost = make_veil(top={"hostname": "smarthost.veiltest"},
                          tls={"certificate": str(mx_cert[0]), "private_key": str(mx_cert[1])},
                          listeners=[{"name": "submission", "address": "127.0.0.6:0", "tls": "starttls",
                                      "auth": "required"}])
    password = tmp_path / "smarthost-password"
    password.write_text("demo\n")
    veil = make_veil(delivery={"mode": "smarthost", "smarthost": f"[127.0.0.6]:{smarthost.port('submission')}",
                               "smarthost_user": "demo", "smarthost_password_file": str(password), "retry": ["1h"]})
    qid = send(veil, "b@anywhere.example")
    assert veil.wait_event("delivered", queue_id=qid)[0]["tls"] != "none"
    smarthost.wait_event("auth_ok", user="demo", mechanism="PLAIN")
    [received] = smarthost.messages()
    assert received["auth_user"] == "demo"


def test_a_route_back_to_a_relay_of_the_same_name_is_a_loop(make_veil):
    """The next hop greets with Veil's own host name (the route leads back to this
    relay or a twin of it): nothing is sent, the message is deferred and the log
    says why."""
    twin = make_veil(listeners=[{"name": "in", "address": "127.0.0.6:0", "tls": "none", "auth": "off",
                                 "relay_networks": ["127.0.0.0/8"]}])
    veil = make_veil(delivery={"mode": "mx", "smarthost": None, "retry": ["1h"]},
                     routes=[{"domain": "example.org", "route": f"[127.0.0.6]:{twin.port('in')}"}])
    qid = send(veil, "b@example.org")
    assert "loops back to myself" in veil.wait_event("deferred", queue_id=qid)[0]["reply"]
    assert twin.messages() == []


def test_a_route_back_to_a_relay_named_like_our_hostname_is_a_loop(make_veil):
    """With a helo_name of its own, Veil still knows its hostname: a next hop that
    greets with it (the twin below has Veil's hostname and no helo_name) is this
    relay, so the message is deferred, not sent round in a loop (issue 13)."""
    twin = make_veil(listeners=[{"name": "in", "address": "127.0.0.6:0", "tls": "none", "auth": "off",
                                 "relay_networks": ["127.0.0.0/8"]}])
    veil = make_veil(delivery={"mode": "mx", "smarthost": None, "retry": ["1h"], "helo_name": "out.example.net"},
                     routes=[{"domain": "example.org", "route": f"[127.0.0.6]:{twin.port('in')}"}])
    qid = send(veil, "b@example.org")
    reply = veil.wait_event("deferred", queue_id=qid)[0]["reply"]
    assert "loops back to myself" in reply and "calls itself veil.test" in reply
    assert twin.messages() == []
