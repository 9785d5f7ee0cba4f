"""STARTTLS (RFC 3207) and implicit TLS: injection, state reset, AUTH advertisement."""

import re
import socket
import ssl
import warnings

import pytest

from harness import HOSTNAME, tls_context


def test_starttls_injection_is_never_answered(veil):
    """CVE-2011-0411: bytes pipelined after STARTTLS must be discarded, not answered in TLS."""
    with veil.connect("submission") as c:
        c.ehlo()
        c.send(b"STARTTLS\r\nNOOP\r\n")
        c.check(c.reply(), "220")
        assert c.buf == b"", f"plaintext after the 220: {c.buf!r}"
        c._wrap_tls()
        c.send(b"EHLO client.test\r\n")
        first = c.reply()
        # The EHLO reply is multi-line and starts with the hostname; an answered NOOP
        # would be a single "250 2.0.0" line read here first.
        assert first.code == 250 and len(first.lines) > 1, \
            "first reply inside TLS is not the EHLO reply (injected NOOP answered?)\n" + c.dialogue()
        assert first.lines[0].startswith(f"250-{HOSTNAME}"), c.dialogue()
        c.cmd("NOOP", "250")
        c.send(b"QUIT\r\n")
        rest = c.replies_until_close()
        assert [r.code for r in rest] == [221], c.dialogue()


def test_starttls_injection_of_mail_transaction(veil):
    with veil.connect("submission") as c:
        c.ehlo()
        c.send(b"STARTTLS\r\nMAIL FROM:<a@corp.example>\r\nRCPT TO:<b@example.org>\r\n")
        c.check(c.reply(), "220")
        c._wrap_tls()
        c.send(b"QUIT\r\n")
        rest = c.replies_until_close()
        assert [r.code for r in rest] == [221], c.dialogue()
    assert veil.messages() == []


def test_ehlo_required_again_after_starttls(veil):
    with veil.connect("submission") as c:
        c.ehlo()
        c.starttls()
        c.cmd("MAIL FROM:<a@corp.example>", "503 5.5.1")
        c.ehlo()
        c.auth_plain("demo", "demo")
        c.mail("a@corp.example", expect="250 2.1.0")
        c.quit()


@pytest.mark.veil(extra_listeners=[{"name": "starttls_relay", "tls": "starttls", "auth": "optional",
                                     "relay_networks": ["127.0.0.0/8"]}])
def test_envelope_forgotten_after_starttls(veil):
    # STARTTLS inside a transaction may be refused (503); if it is accepted, the envelope
    # given in clear text must be gone.
    with veil.connect("starttls_relay") as c:
        c.ehlo()
        c.mail("a@corp.example", expect="250")
        c.rcpt("b@example.org", expect="250")
        r = c.cmd("STARTTLS")
        if r.code == 503:
            c.quit()
            return
        c.check(r, "220")
        c._wrap_tls()
        c.ehlo()
        c.cmd("DATA", "503 5.5.1")
        c.cmd("RCPT TO:<b@example.org>", "503 5.5.1")
        c.quit()
    assert veil.messages() == []


def test_mail_before_tls_on_submission_is_530(veil):
    with veil.connect("submission") as c:
        c.ehlo()
        c.cmd("MAIL FROM:<a@corp.example>", "530 5.7.0")
        c.quit()


def test_second_starttls_refused(veil):
    with veil.connect("submission") as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        c.cmd("STARTTLS", "503 5.5.1")
        c.cmd("NOOP", "250")
        c.quit()


def test_starttls_not_offered_on_implicit_tls(veil):
    with veil.connect("smtps") as c:
        assert c.greeting.is_("220")
        kw = c.ehlo().keywords()
        assert "STARTTLS" not in kw, kw
        assert any(k.startswith("AUTH") and "PLAIN" in k and "LOGIN" in k for k in kw), kw
        c.cmd("STARTTLS", "503")
        c.quit()


def test_auth_advertised_only_after_tls(veil):
    with veil.connect("submission") as c:
        kw = c.ehlo().keywords()
        assert "STARTTLS" in kw, kw
        assert not any(k.startswith("AUTH") for k in kw), f"AUTH advertised before TLS: {kw}"
        c.starttls()
        kw = c.ehlo().keywords()
        assert "STARTTLS" not in kw, kw
        assert any(k.startswith("AUTH") and "PLAIN" in k and "LOGIN" in k for k in kw), kw
        c.quit()


def test_auth_before_tls_is_538(veil):
    with veil.connect("submission") as c:
        c.ehlo()
        c.cmd("AUTH PLAIN AGRlbW8AZGVtbw==", "538 5.7.11")
        c.cmd("AUTH LOGIN", "538 5.7.11")
        c.quit()


def handshake_version(port: int, version: ssl.TLSVersion) -> str | None:
    """Implicit-TLS handshake pinned to one protocol version; the negotiated version or None."""
    ctx = tls_context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = version
        ctx.maximum_version = version
    if version < ssl.TLSVersion.TLSv1_2:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    raw = socket.create_connection(("127.0.0.1", port), timeout=15)
    try:
        s = ctx.wrap_socket(raw, server_hostname="localhost")
    except (ssl.SSLError, ConnectionResetError, OSError):
        return None
    finally:
        raw.close()
    v = s.version()
    s.close()
    return v


def test_tls_1_1_refused_1_2_accepted(veil):
    port = veil.port("smtps")
    assert handshake_version(port, ssl.TLSVersion.TLSv1_1) is None
    assert handshake_version(port, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    # TLS 1.3 only with max_version = "1.3" (test_tls_policy.py, docs/exchange.md).
    assert handshake_version(port, ssl.TLSVersion.TLSv1_3) is None


@pytest.mark.veil(tls={"min_version": "1.3"})
def test_tls_min_version_1_3(veil):
    port = veil.port("smtps")
    assert handshake_version(port, ssl.TLSVersion.TLSv1_2) is None
    assert handshake_version(port, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"


def test_tls_logged(veil):
    with veil.connect("smtps") as c:
        c.ehlo()
        c.quit()
    ev = veil.wait_event("tls", listener="smtps", client="127.0.0.1")[0]
    assert re.fullmatch(r"TLSv1\.[23]", ev.get("protocol", "")), f"contract: protocol=TLSv1.3 ... {ev}"
    assert ev.get("cipher"), f"contract: the tls line carries the cipher: {ev}"
