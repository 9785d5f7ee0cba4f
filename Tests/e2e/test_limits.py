"""Limits and protocol errors: sizes, recipients, line length, junk commands, HTTP."""

import pytest

from harness import message, proxied_connect, proxy_v1, queue_id, run_dialogue, wait_until

SMALL = {"limits": {"max_message_size": "10KB"}}


@pytest.mark.veil(**SMALL)
def test_size_advertised(veil):
    with veil.connect("plain") as c:
        kw = c.ehlo().keywords()
        assert "SIZE 10240" in kw, kw
        c.quit()


@pytest.mark.veil(**SMALL)
def test_size_parameter_over_limit_552_at_mail(veil):
    with veil.connect("plain") as c:
        c.ehlo()
        run_dialogue(c, [
            ("MAIL FROM:<a@corp.example> SIZE=10241", "552 5.3.4"),
            ("MAIL FROM:<a@corp.example> SIZE=10240", "250 2.1.0"),
        ])
        c.quit()


@pytest.mark.veil(**SMALL)
def test_real_oversize_552_after_dot_and_session_in_step(veil):
    big = message("big", body="") + (b"y" * 98 + b"\r\n") * 10000   # ~1 MB, limit 10 KB
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        c.data(big, expect="552 5.3.4")
        c.cmd("NOOP", "250")
        # The session is still usable for a normal message.
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        r = c.data(message("small after big"))
        c.quit()
    assert [m["id"] for m in veil.messages()] == [queue_id(r)]
    assert veil.incoming_files() == [], "incoming/ not cleaned after the oversize message"


@pytest.mark.veil(**SMALL)
def test_bdat_oversize_552(veil):
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        c.bdat(b"Subject: big\r\n\r\n" + b"z" * 8000 + b"\r\n", expect="250")
        c.bdat(b"z" * 8000 + b"\r\n", last=True, expect="552 5.3.4")
        c.cmd("NOOP", "250")
        c.quit()
    assert veil.messages() == []


@pytest.mark.veil(limits={"max_recipients": 2})
def test_too_many_recipients_452(veil):
    with veil.connect("plain") as c:
        c.ehlo()
        run_dialogue(c, [
            ("MAIL FROM:<a@corp.example>", "250"),
            ("RCPT TO:<r1@example.org>", "250 2.1.5"),
            ("RCPT TO:<r2@example.org>", "250 2.1.5"),
            ("RCPT TO:<r3@example.org>", "452 4.5.3"),
        ])
        r = c.data(message("two recipients"))
        c.quit()
    assert len(veil.recipients(queue_id(r))) == 2


@pytest.mark.veil(limits={"max_header_size": "1KB"})
def test_header_block_too_big_554(veil):
    headers = b"".join(b"X-Filler-%03d: %s\r\n" % (i, b"h" * 60) for i in range(40))
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        c.data(headers + b"\r\nbody\r\n", expect="554 5.6.0")
        c.cmd("NOOP", "250")
        c.quit()
    assert veil.messages() == []


def test_nul_in_headers_554(veil):
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        c.data(b"Subject: nul\x00here\r\n\r\nbody\r\n", expect="554 5.6.0")
        c.quit()
    assert veil.messages() == []


def test_command_errors(veil):
    with veil.connect("plain") as c:
        run_dialogue(c, [
            ("MAIL FROM:<a@corp.example>", "503 5.5.1"),     # no EHLO yet
            ("EHLO client.test", "250"),
            ("FOOBAR", "500 5.5.2"),
            ("NOOP " + "a" * 600, "500 5.5.6"),
        ])
    with veil.connect("plain") as c:
        run_dialogue(c, [
            ("EHLO client.test", "250"),
            ("VRFY postmaster", "252 2.5.0"),
            ("HELP", "214 2.0.0"),
            ("NOOP", "250 2.0.0"),
            ("RSET", "250 2.0.0"),
            ("RCPT TO:<b@example.org>", "503 5.5.1"),
            ("DATA", "503 5.5.1"),
            ("MAIL FROM:<a@corp.example>", "250 2.1.0"),
            ("MAIL FROM:<a@corp.example>", "503 5.5.1"),
            ("DATA", "503 5.5.1"),
            ("RSET", "250"),
            ("MAIL FROM:<a@corp.example> FOO=BAR", "555 5.5.4"),
            ("MAIL FROM:<a@corp.example>", "250 2.1.0"),
            ("RCPT TO:<b@example.org> BAR=BAZ", "555 5.5.4"),
            ("RCPT TO:b@example.org", "501"),
            ("QUIT", "221 2.0.0"),
        ])
        assert c.is_closed()


def test_helo_works(veil):
    with veil.connect("plain") as c:
        run_dialogue(c, [
            ("HELO client.test", "250"),
            ("MAIL FROM:<a@corp.example>", "250"),
            ("RCPT TO:<b@example.org>", "250"),
        ])
        c.data(message("helo"))
        c.quit()


@pytest.mark.parametrize("request_line", [
    "GET / HTTP/1.1", "POST /submit HTTP/1.0", "CONNECT example.org:443 HTTP/1.1", "HEAD / HTTP/1.1",
])
def test_http_request_554_and_close(veil, request_line):
    with veil.connect("plain") as c:
        c.send(f"{request_line}\r\nHost: localhost\r\n\r\n".encode())
        r = c.reply()
        assert r.is_("554"), c.dialogue()
        assert c.is_closed(), "connection left open after an HTTP request\n" + c.dialogue()


@pytest.mark.veil(limits={"max_errors": 3})
def test_too_many_errors_421(veil):
    with veil.connect("plain") as c:
        c.ehlo()
        codes = []
        for _ in range(5):
            r = c.cmd("FOOBAR")
            codes.append(r.code)
            if r.code == 421:
                c.check(r, "421 4.7.0")
                break
        assert codes[:3] == [500, 500, 500] or 421 in codes, c.dialogue()
        assert codes[-1] == 421, c.dialogue()
        assert c.is_closed(), c.dialogue()


@pytest.mark.veil(limits={"max_connections_per_ip": 2})
def test_too_many_connections_per_ip_421(veil):
    a, b = veil.connect("plain"), veil.connect("plain")
    try:
        c = veil.connect("plain", read_greeting=False)
        r = c.reply()
        c.check(r, "421 4.7.0")
        c.close()
    finally:
        a.quit()
        b.quit()


# Connections through a PROXY header: the way to have many distinct IPv6 client
# addresses on one loopback machine.
PROXIED = {"name": "proxied", "tls": "none", "auth": "off", "proxy_protocol": True,
           "proxy_networks": ["127.0.0.0/8"]}


@pytest.mark.veil(limits={"max_connections_per_ip": 2}, extra_listeners=[PROXIED])
def test_connections_per_ip_count_an_ipv6_slash_64_together(veil):
    open_ = []
    try:
        for src in ("2001:db8:1:2::1", "2001:db8:1:2:ffff::2"):
            c = proxied_connect(veil, proxy_v1(src))
            c.check(c.reply(), "220")
            open_.append(c)
        # A third address in the same /64 is one client too many ...
        c = proxied_connect(veil, proxy_v1("2001:db8:1:2::3"))
        c.check(c.reply(), "421 4.7.0")
        c.close()
        # ... another /64 and an IPv4 client are not.
        for src in ("2001:db8:1:3::1", "192.0.2.7"):
            c = proxied_connect(veil, proxy_v1(src))
            c.check(c.reply(), "220")
            open_.append(c)
    finally:
        for c in open_:
            c.quit()


@pytest.mark.veil(limits={"max_connections_per_ip": 2, "ipv6_prefix": 128}, extra_listeners=[PROXIED])
def test_ipv6_prefix_128_counts_each_address(veil):
    open_ = []
    try:
        for src in ("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2::3"):
            c = proxied_connect(veil, proxy_v1(src))
            c.check(c.reply(), "220")
            open_.append(c)
    finally:
        for c in open_:
            c.quit()


@pytest.mark.veil(limits={"max_connections": 2})
def test_too_many_connections_total_421(veil):
    a, b = veil.connect("plain"), veil.connect("submission")
    try:
        c = veil.connect("plain", read_greeting=False)
        c.check(c.reply(), "421 4.7.0")
        c.close()
    finally:
        a.quit()
        b.quit()


@pytest.mark.veil(limits={"command_timeout": "1s"})
def test_command_timeout_421(veil):
    with veil.connect("plain") as c:
        c.ehlo()
        r = c.reply()          # say nothing: the server must give up on us
        c.check(r, "421 4.4.2")
        assert c.is_closed(), c.dialogue()


@pytest.mark.veil(limits={"data_timeout": "1s"})
def test_data_timeout_421_and_nothing_queued(veil):
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        c.cmd("DATA", "354")
        c.send(b"Subject: stalled\r\n\r\nhalf a message\r\n")
        c.check(c.reply(), "421 4.4.2")
        assert c.is_closed(), c.dialogue()
    assert veil.messages() == []
    assert wait_until(lambda: veil.incoming_files() == [], timeout=10), veil.incoming_files()
