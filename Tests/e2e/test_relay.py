"""Relay policy: no open relay (nmap smtp-open-relay style probes), address rules."""

import pytest

from harness import message, queue_id, run_dialogue

OPEN = {"name": "open", "tls": "none", "auth": "optional", "auth_without_tls": True}       # no relay_networks
RELAY_CFG = dict(extra_listeners=[OPEN], limits={"max_errors": 1000})

# Senders and recipients used by nmap's smtp-open-relay script (domain/IP substituted).
SENDERS = ["<>", "<antispam@example.org>", "<antispam@localhost>", "<antispam@[127.0.0.1]>"]
PROBES = [
    "<user@example.org>",
    "<user%example.org@localhost>",
    "<user%example.org@[127.0.0.1]>",
    '<"user@example.org">',
    '<"user%example.org">',
    '<"user@example.org"@localhost>',
    "<user@example.org@localhost>",
    "<user@example.org@[127.0.0.1]>",
    "<@localhost:user@example.org>",
    "<@[127.0.0.1]:user@example.org>",
    "<example.org!user>",
    "<example.org!user@localhost>",
    "<user@[1.2.3.4]>",
    "<user@@example.org>",
    "<postmaster@example.org>",
]


def probe(c, sender):
    """MAIL with `sender` (may itself be refused), then every probe RCPT: all must be 5xx."""
    accepted = []
    c.cmd(f"MAIL FROM:{sender}")
    for rcpt in PROBES:
        r = c.cmd(f"RCPT TO:{rcpt}")
        if not r.is_("5xx"):
            accepted.append((rcpt, r.lines))
    c.cmd("RSET", "250")
    assert not accepted, f"relay probes not refused: {accepted}\n--- dialogue ---\n" + c.dialogue()


@pytest.mark.veil(**RELAY_CFG)
@pytest.mark.parametrize("sender", SENDERS)
def test_open_listener_refuses_unauthenticated_relay(veil, sender):
    with veil.connect("open") as c:
        c.ehlo()
        probe(c, sender)
        c.quit()
    assert veil.messages() == []


@pytest.mark.veil(**RELAY_CFG)
def test_open_listener_rcpt_is_554_5_7_1(veil):
    with veil.connect("open") as c:
        c.ehlo()
        run_dialogue(c, [
            ("MAIL FROM:<a@corp.example>", "250"),
            ("RCPT TO:<b@example.org>", "554 5.7.1"),
            ("DATA", "503"),
        ])
        c.quit()
    assert veil.messages() == []


@pytest.mark.veil(**RELAY_CFG)
def test_open_listener_data_after_refused_rcpt_sends_nothing(veil):
    # Pipelined: the DATA is refused and the body lines are read as (bad) commands.
    with veil.connect("open") as c:
        c.ehlo()
        c.send(b"MAIL FROM:<a@corp.example>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
               b"Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        replies = c.replies_until_close()
    assert not any("queued as" in r.text for r in replies), c.dialogue()
    assert veil.messages() == []


@pytest.mark.veil(**RELAY_CFG)
@pytest.mark.parametrize("sender", SENDERS)
def test_submission_without_auth_refuses_relay(veil, sender):
    with veil.connect("submission") as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        probe(c, sender)
        c.quit()
    assert veil.messages() == []


@pytest.mark.veil(**RELAY_CFG)
def test_smtps_without_auth_is_530(veil):
    with veil.connect("smtps") as c:
        c.ehlo()
        run_dialogue(c, [
            ("MAIL FROM:<a@corp.example>", "530 5.7.0"),
            ("RCPT TO:<b@example.org>", "5xx"),
        ])
        c.quit()
    assert veil.messages() == []


# Even an authenticated user (or a relay_networks client) cannot use routing tricks.
BAD_ADDRESSES = [
    "user%example.org@localhost",
    "example.org!user",
    "user!x@example.org",
    "@localhost:user@example.org",
    "@a.example,@b.example:user@example.org",
    "user@[1.2.3.4]",
    "user@[IPv6:::1]",
    "user@@example.org",
    "user@example.org@localhost",
    '"user@example.org"@example.com',
    '"user%example.org"@example.com',
    '"user!x"@example.com',
]


def authenticated(veil, user="demo", password="demo"):
    c = veil.connect("submission")
    c.ehlo()
    c.starttls()
    c.ehlo()
    c.auth_plain(user, password)
    return c


@pytest.mark.parametrize("addr", BAD_ADDRESSES)
def test_authenticated_bad_recipient_553(veil, addr):
    with authenticated(veil) as c:
        c.mail("a@corp.example", expect="250 2.1.0")
        c.cmd(f"RCPT TO:<{addr}>", "553 5.1.3")
        c.rcpt("ok@example.org", expect="250 2.1.5")
        c.quit()


@pytest.mark.parametrize("addr", BAD_ADDRESSES)
def test_authenticated_bad_sender_553(veil, addr):
    with authenticated(veil) as c:
        c.cmd(f"MAIL FROM:<{addr}>", "553 5.1.3")
        c.quit()


@pytest.mark.parametrize("addr", BAD_ADDRESSES[:4] + BAD_ADDRESSES[7:9])
def test_relay_network_bad_recipient_553(veil, addr):
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.cmd(f"RCPT TO:<{addr}>", "553 5.1.3")
        c.quit()


def test_authenticated_good_addresses(veil):
    with authenticated(veil) as c:
        run_dialogue(c, [
            ("MAIL FROM:<a@corp.example>", "250 2.1.0"),
            ("RCPT TO:<user@example.org>", "250 2.1.5"),
            ('RCPT TO:<"john doe"@example.org>', "250 2.1.5"),
            ("RCPT TO:<first.last+tag@sub.example.org>", "250 2.1.5"),
        ])
        c.quit()


@pytest.mark.veil(**RELAY_CFG)
def test_open_listener_relays_after_auth(veil):
    with veil.connect("open") as c:
        kw = c.ehlo().keywords()
        assert any(k.startswith("AUTH") for k in kw), f"tls=none + auth=optional must advertise AUTH: {kw}"
        c.auth_plain("demo", "demo")
        c.mail("a@corp.example")
        c.rcpt("b@example.org", expect="250 2.1.5")
        c.quit()


def test_limited_user_sender_domains(veil):
    with authenticated(veil, "limited", "limited") as c:
        run_dialogue(c, [
            ("MAIL FROM:<a@corp.example>", "250 2.1.0"),
            ("RSET", "250"),
            ("MAIL FROM:<a@CORP.example>", "250 2.1.0"),
            ("RSET", "250"),
            ("MAIL FROM:<a@other.example>", "553 5.7.1"),
            ("MAIL FROM:<a@sub.corp.example>", "553 5.7.1"),
            ("MAIL FROM:<a@corp.example.evil>", "553 5.7.1"),
            ('MAIL FROM:<"a@other.example"@corp.example>', "553 5.1.3"),
            ("MAIL FROM:<a@corp.example>", "250 2.1.0"),
            ("RCPT TO:<anyone@example.org>", "250 2.1.5"),
        ])
        c.quit()


def test_limited_user_from_header_must_match(veil):
    """DESIGN: the From: header's domain is checked too (550 5.7.1 at the end of data),
    so a restricted account cannot show someone else's address to the recipient."""
    with veil.connect("submission") as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        c.auth_plain("limited", "limited")
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        c.data(message(sender="ceo@bank.example"), expect="550 5.7.1")
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        qid = queue_id(c.data(message(sender="a@corp.example")))
        c.quit()
    assert [m["id"] for m in veil.messages()] == [qid]
