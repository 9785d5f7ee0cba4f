"""SMTP AUTH: LOGIN and PLAIN, failures, lockout, what gets logged."""

import re

import pytest

from harness import PROXIED_AUTH, USERS, b64, proxied_session, run_dialogue

def tls_session(veil, listener="submission"):
    c = veil.connect(listener)
    c.ehlo()
    if listener == "submission":
        c.starttls()
        c.ehlo()
    return c


def test_auth_login_without_initial_response(veil):
    with tls_session(veil) as c:
        r1 = c.cmd("AUTH LOGIN", "334")
        r2 = c.cmd(b64("demo"), "334")
        c.cmd(b64("demo"), "235 2.7.0")
        assert (r1.text, r2.text) == ("VXNlcm5hbWU6", "UGFzc3dvcmQ6"), c.dialogue()
        c.mail("a@corp.example", expect="250 2.1.0")
        c.quit()
    veil.wait_event("auth_ok", client="127.0.0.1", user="demo", mechanism="LOGIN")


def test_auth_login_with_initial_response(veil):
    with tls_session(veil) as c:
        c.auth_login("demo", "demo", initial=True)
        c.mail("a@corp.example", expect="250 2.1.0")
        c.quit()


def test_auth_plain_initial_response_on_smtps(veil):
    with tls_session(veil, "smtps") as c:
        c.auth_plain("demo", "demo")
        c.mail("a@corp.example", expect="250 2.1.0")
        c.quit()
    veil.wait_event("auth_ok", client="127.0.0.1", user="demo", mechanism="PLAIN")


def test_auth_plain_without_initial_response(veil):
    with tls_session(veil) as c:
        c.cmd("AUTH PLAIN", "334")
        c.cmd(b64("\0demo\0demo"), "235 2.7.0")
        c.quit()


def test_auth_plain_authzid(veil):
    with tls_session(veil) as c:
        c.cmd(f"AUTH PLAIN {b64('limited' + chr(0) + 'demo' + chr(0) + 'demo')}", "5xx")
        c.cmd(f"AUTH PLAIN {b64('demo' + chr(0) + 'demo' + chr(0) + 'demo')}", "235 2.7.0")
        c.quit()


def test_auth_password_never_logged(veil):
    user, (password, _) = "carol", USERS["carol"]
    with tls_session(veil) as c:
        c.auth_login(user, password)
        c.quit()
    assert not veil.lines_matching(password) and not veil.lines_matching(b64(password))


@pytest.mark.parametrize("user,password", [("demo", "Wrong-Pass-123"), ("nobody", "Wrong-Pass-456"),
                                           ("limited", "demo")])
def test_auth_bad_credentials_535(veil, user, password):
    with tls_session(veil) as c:
        c.auth_plain(user, password, expect="535 5.7.8")
        c.auth_login(user, password, expect="535 5.7.8")
        c.cmd("MAIL FROM:<a@corp.example>", "530 5.7.0")
        c.auth_plain("demo", "demo")   # the session can still authenticate
        c.quit()


def test_auth_protocol_errors(veil):
    with tls_session(veil) as c:
        run_dialogue(c, [
            ("AUTH CRAM-MD5", "504 5.5.4"),
            ("AUTH PLAIN %%%not-base64%%%", "501 5.5.2"),
            ("AUTH LOGIN", "334"),
            ("*", "501 5.7.0"),
            ("AUTH PLAIN", "334"),
            ("*", "501 5.7.0"),
            ("NOOP", "250"),
            (f"AUTH PLAIN {b64(chr(0) + 'demo' + chr(0) + 'demo')}", "235 2.7.0"),
            (f"AUTH PLAIN {b64(chr(0) + 'demo' + chr(0) + 'demo')}", "503 5.5.1"),
        ])
        c.quit()


def test_auth_line_longer_than_512_is_allowed(veil):
    # AUTH lines may be up to 12 KiB: a long (wrong) credential is a 535, not a 500.
    with tls_session(veil) as c:
        c.auth_plain("demo", "x" * 3000, expect="535 5.7.8")
        c.quit()


@pytest.mark.veil(auth={"max_failures": 3})
def test_lockout_after_max_failures(veil):
    wrong = ["Bad-Secret-One", "Bad-Secret-Two", "Bad-Secret-Three"]
    mark = veil.mark()
    for i, pw in enumerate(wrong):
        with tls_session(veil, "submission" if i % 2 == 0 else "smtps") as c:
            if i == 1:
                c.auth_plain("demo", pw, expect="535 5.7.8")
            else:
                c.auth_login("demo", pw, expect="535 5.7.8")
            c.quit()
    failed = veil.wait_event("auth_failed", since=mark, count=3)
    assert len(failed) == 3, failed
    for ev in failed:
        assert ev["client"] == "127.0.0.1" and ev["user"] == "demo", ev

    # Locked out: the right password is refused too, on every listener.
    with tls_session(veil) as c:
        c.auth_plain("demo", "demo", expect="454 4.7.0")
        c.quit()
    with tls_session(veil, "smtps") as c:
        c.auth_plain("carol", USERS["carol"][0], expect="454 4.7.0")
        c.quit()

    log = veil.log_text()
    for secret in wrong + [USERS["carol"][0]]:
        assert secret not in log, f"password {secret!r} in the log"
        assert b64(secret) not in log, f"base64 of password {secret!r} in the log"
    for secret in wrong:
        assert b64("\0demo\0" + secret) not in log


@pytest.mark.veil(auth={"max_failures": 3}, extra_listeners=[PROXIED_AUTH])
def test_lockout_counts_an_ipv6_slash_64_together(veil):
    mark = veil.mark()
    # Three failures, each from a different address of one /64.
    for src in ("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:aaaa:bbbb:cccc:dddd"):
        with proxied_session(veil, src) as c:
            c.auth_plain("demo", "Wrong-Password", expect="535 5.7.8")
            c.quit()
    veil.wait_event("auth_lockout", since=mark, client="2001:db8:1:2:aaaa:bbbb:cccc:dddd", network="2001:db8:1:2::/64")
    # Any address of that /64 is locked out, even with the right password ...
    with proxied_session(veil, "2001:db8:1:2::99") as c:
        c.auth_plain("demo", "demo", expect="454 4.7.0")
        c.quit()
    # ... another /64 is not.
    with proxied_session(veil, "2001:db8:1:3::1") as c:
        c.auth_plain("demo", "demo")
        c.quit()


def test_auth_failed_log_lines(veil):
    mark = veil.mark()
    with tls_session(veil) as c:
        c.auth_login("demo", "Not-The-Password-7", expect="535 5.7.8")
        c.auth_plain("nosuchuser", "Not-The-Password-8", expect="535 5.7.8")
        c.quit()
    evs = veil.wait_event("auth_failed", since=mark, count=2)
    assert len(evs) == 2, evs
    assert (evs[0]["client"], evs[0]["user"], evs[0].get("mechanism")) == ("127.0.0.1", "demo", "LOGIN"), evs
    assert (evs[1]["client"], evs[1]["user"], evs[1].get("mechanism")) == ("127.0.0.1", "nosuchuser", "PLAIN"), evs
    log = veil.log_text()
    assert "Not-The-Password" not in log
    assert b64("Not-The-Password-7") not in log


def test_auth_failed_username_is_escaped(veil):
    # A user name carrying a newline and a forged log line must stay on one escaped line.
    evil = 'x" level=info\nts=FORGED level=info event=auth_ok client=6.6.6.6 user=root'
    mark = veil.mark()
    with tls_session(veil) as c:
        c.cmd(f"AUTH PLAIN {b64(chr(0) + evil + chr(0) + 'pw')}", "535 5.7.8")
        c.quit()
    ev = veil.wait_event("auth_failed", since=mark)[0]
    assert "6.6.6.6" in ev["user"], f"user name not kept in the user field: {ev}"
    new = veil.run_lines()
    assert not any(l.startswith("ts=FORGED") for l in new), new
    assert all("event=auth_failed" in l for l in new if "6.6.6.6" in l), new
    assert veil.events("auth_ok", since=mark) == []
