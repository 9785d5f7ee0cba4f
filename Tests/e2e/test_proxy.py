"""PROXY protocol v1/v2 on listeners with proxy_protocol = true: the proxied client
address is the one used for relay_networks, the queue and the logs."""

import socket
import struct

import pytest

from harness import SMTPClient, message, proxied_session, proxy_v1, queue_id

PROXIED = {"name": "proxied", "tls": "none", "auth": "off",
           "relay_networks": ["127.0.0.0/8"], "proxy_protocol": True, "proxy_networks": ["127.0.0.0/8"]}
pytestmark = pytest.mark.veil(extra_listeners=[PROXIED])

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(src: str, dst: str = "127.0.0.1", sport: int = 40000, dport: int = 25) -> bytes:
    addrs = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return V2_SIG + bytes([0x21, 0x11]) + struct.pack("!H", len(addrs)) + addrs


@pytest.mark.parametrize("make", [proxy_v1, v2], ids=["v1", "v2"])
def test_proxied_address_outside_relay_networks_is_refused(veil, make):
    with proxied_session(veil, header=make("192.0.2.7"), ehlo=False) as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org", expect="554 5.7.1")
        c.quit()
    assert veil.messages() == []
    veil.wait_event("connect", listener="proxied", client="192.0.2.7")


@pytest.mark.parametrize("make", [proxy_v1, v2], ids=["v1", "v2"])
def test_proxied_address_inside_relay_networks_is_used(veil, make):
    with proxied_session(veil, header=make("127.0.0.9"), ehlo=False) as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        qid = queue_id(c.data(message("proxied")))
        c.quit()
    assert veil.message(qid)["client_address"].startswith("127.0.0.9"), veil.message(qid)


def test_missing_proxy_header_is_refused(veil):
    c = SMTPClient(veil.port("proxied"), read_greeting=False)
    try:
        c.send(b"EHLO client.test\r\n")
        replies = c.replies_until_close(limit=5)
    except (ConnectionResetError, BrokenPipeError, TimeoutError):
        replies = []   # reset, or still waiting for a header: either way no SMTP
    finally:
        c.close()
    assert not any(r.code == 250 for r in replies), c.dialogue()


def test_proxy_header_ignored_on_normal_listener(veil):
    # On a listener without proxy_protocol, a PROXY line is just a bad command.
    with veil.connect("plain") as c:
        r = c.cmd(proxy_v1("192.0.2.7").rstrip(b"\r\n"))
        assert r.is_("5xx"), c.dialogue()


UNTRUSTED = {"name": "untrusted", "tls": "none", "auth": "off", "relay_networks": ["127.0.0.0/8"],
             "proxy_protocol": True, "proxy_networks": ["192.0.2.0/24"]}


@pytest.mark.veil(extra_listeners=[PROXIED, UNTRUSTED])
def test_proxy_header_from_outside_proxy_networks_is_refused(veil):
    # 127.0.0.1 is not a trusted load balancer here: whatever the header claims, the
    # connection is closed before any SMTP.
    c = SMTPClient(veil.port("untrusted"), read_greeting=False)
    try:
        c.send(proxy_v1("127.0.0.9"))
        replies = c.replies_until_close(limit=3)
    except (ConnectionResetError, BrokenPipeError):
        replies = []
    finally:
        c.close()
    assert replies == [], c.dialogue()
    veil.wait_event("rejected", listener="untrusted", client="127.0.0.1")


def test_health_check_header_never_relays(veil):
    # PROXY UNKNOWN (a load balancer's health check) keeps the peer's address,
    # 127.0.0.1, which is in relay_networks; it must still not relay.
    with proxied_session(veil, header=b"PROXY UNKNOWN\r\n", ehlo=False) as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org", expect="554 5.7.1")
        c.quit()
    assert veil.messages() == []
