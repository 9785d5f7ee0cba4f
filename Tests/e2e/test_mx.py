"""MX delivery with a real DNS server (unbound, local-data) and a real MTA
(smtp-sink on 127.0.0.4:25): preference and fallback, implicit MX, null MX and
NXDOMAIN bounces with a report back to the sender, DNS trouble deferred, MX hosts
in internal networks never connected to (issue 13).

Loopback is internal: the tests name the addresses their MX hosts use in
[delivery] allow_networks; 127.0.0.5 stays outside it."""

import email
import socket

import pytest

from dns import DNSServer
from harness import send_message

RECORDS = [
    "dest.veiltest. MX 10 mx1.dest.veiltest.",
    "dest.veiltest. MX 20 mx2.dest.veiltest.",
    "mx1.dest.veiltest. A 127.0.0.3",        # nothing listens there: refused
    "mx2.dest.veiltest. A 127.0.0.4",
    "implicit.veiltest. A 127.0.0.4",        # no MX: the A record is the implicit MX
    "nullmx.veiltest. MX 0 .",
    "corp.veiltest. MX 10 mx2.dest.veiltest.",  # the senders' domain, for bounce reports
    "v6.veiltest. MX 10 mx6.v6.veiltest.",
    "mx6.v6.veiltest. A 127.0.0.3",          # refused, then the IPv6 address
    "mx6.v6.veiltest. AAAA ::1",
    "internal.veiltest. MX 10 mx.internal.veiltest.",   # an MX into the internal network
    "mx.internal.veiltest. A 127.0.0.5",
    "mixed.veiltest. MX 10 mx.internal.veiltest.",      # internal first, then a usable one
    "mixed.veiltest. MX 20 mx2.dest.veiltest.",
    "mapped.veiltest. MX 10 mx.mapped.veiltest.",       # the same address, IPv4-mapped IPv6
    "mx.mapped.veiltest. AAAA ::ffff:127.0.0.5",
]

# The MX addresses of these tests; 127.0.0.5 (mx.internal.veiltest) is not one.
ALLOW = ["127.0.0.3/32", "127.0.0.4/32", "::1/128"]


@pytest.fixture
def mx(make_sink):
    return make_sink("mx", port=25, host="127.0.0.4").start()


@pytest.fixture
def internal_sink(make_sink):
    """An MTA in the internal network, where no mail may go."""
    return make_sink("internal", port=25, host="127.0.0.5").start()


@pytest.fixture
def veil(make_veil, dns):
    return make_veil(dns={"servers": [dns.server]},
                     delivery={"mode": "mx", "smarthost": None, "retry": ["1s"], "allow_networks": ALLOW})


def send(veil, to):
    return send_message(veil, [to], "mx test", sender="a@corp.veiltest")


def test_preferred_mx_refuses_so_the_next_one_gets_it(veil, mx):
    qid = send(veil, "b@dest.veiltest")
    event = veil.wait_event("delivered", queue_id=qid)[0]
    assert event["relay"] == "mx2.dest.veiltest[127.0.0.4]:25"
    [dump] = mx.messages()
    assert b"X-Rcpt-Args: <b@dest.veiltest>" in dump


def test_implicit_mx(veil, mx):
    qid = send(veil, "b@implicit.veiltest")
    assert veil.wait_event("delivered", queue_id=qid)[0]["relay"] == "implicit.veiltest[127.0.0.4]:25"


@pytest.mark.parametrize("domain,status", [("nullmx.veiltest", "5.1.10"), ("nosuch.veiltest", "5.1.2")])
def test_null_mx_and_nxdomain_bounce_with_a_report(veil, mx, domain, status):
    qid = send(veil, f"b@{domain}")
    bounced = veil.wait_event("bounced", queue_id=qid)[0]
    assert status in bounced["reply"]
    report_id = veil.wait_event("bounce_queued", original_queue_id=qid)[0]["queue_id"]
    veil.wait_event("delivered", queue_id=report_id)
    [dump] = mx.messages()
    report = email.message_from_bytes(dump)
    assert report.get_content_type() == "multipart/report"
    assert f"Status: {status}" in report.get_payload()[1].as_string()


def test_dns_trouble_defers(make_veil, tmp_path):
    # A forwarder that does not answer: SERVFAIL/timeout, so the mail waits.
    dead = DNSServer(tmp_path / "dead", RECORDS)     # never started
    veil = make_veil(dns={"servers": [dead.server]},
                     delivery={"mode": "mx", "smarthost": None, "retry": ["1m"], "allow_networks": ALLOW})
    qid = send(veil, "b@dest.veiltest")
    deferred = veil.wait_event("deferred", queue_id=qid, timeout=60)[0]
    assert "lookup" in deferred["reply"]
    assert [m["id"] for m in veil.messages()] == [qid]


def test_ipv4_refused_then_ipv6(veil, make_sink):
    """Each address of an MX host in turn (RFC 5321 §5.1): IPv4 refuses, the
    host's IPv6 address takes the message."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback (::1) on this machine")
    sink = make_sink("mx6", port=25, host="::1").start()
    qid = send(veil, "b@v6.veiltest")
    assert veil.wait_event("delivered", queue_id=qid)[0]["relay"] == "mx6.v6.veiltest[::1]:25"
    assert len(sink.messages()) == 1


@pytest.mark.parametrize("domain", ["internal.veiltest", "mapped.veiltest", "localhost"])
def test_mx_in_an_internal_network_bounces_and_gets_nothing(make_veil, dns, mx, internal_sink, domain):
    """An MX (or, for localhost, the implicit MX 127.0.0.1 and ::1) in an internal
    network, outside allow_networks, is never connected to: the recipient bounces
    at once with 5.4.4, the report reaches the sender, the internal MTA receives
    nothing."""
    veil = make_veil(dns={"servers": [dns.server]},
                     delivery={"mode": "mx", "smarthost": None, "retry": ["1s"], "allow_networks": ALLOW[:2]})
    qid = send(veil, f"b@{domain}")
    bounced = veil.wait_event("bounced", queue_id=qid)[0]
    assert "5.4.4" in bounced["reply"] and "private network" in bounced["reply"]
    assert veil.events("deferred", queue_id=qid) == []
    report_id = veil.wait_event("bounce_queued", original_queue_id=qid)[0]["queue_id"]
    veil.wait_event("delivered", queue_id=report_id)
    [dump] = mx.messages()
    assert "Status: 5.4.4" in email.message_from_bytes(dump).get_payload()[1].as_string()
    assert internal_sink.messages() == []


def test_an_internal_mx_is_skipped_for_the_next_one(veil, mx, internal_sink):
    qid = send(veil, "b@mixed.veiltest")
    assert veil.wait_event("delivered", queue_id=qid)[0]["relay"] == "mx2.dest.veiltest[127.0.0.4]:25"
    assert len(mx.messages()) == 1 and internal_sink.messages() == []


def test_allow_networks_opens_an_internal_mx(make_veil, dns, internal_sink):
    veil = make_veil(dns={"servers": [dns.server]},
                     delivery={"mode": "mx", "smarthost": None, "retry": ["1s"], "allow_networks": ["127.0.0.5/32"]})
    qid = send(veil, "b@internal.veiltest")
    assert veil.wait_event("delivered", queue_id=qid)[0]["relay"] == "mx.internal.veiltest[127.0.0.5]:25"
    assert len(internal_sink.messages()) == 1
