"""Fault injection at the destination (issue 6): the next hop refuses the greeting,
answers 4xx at MAIL, RCPT, DATA or after the text, refuses one recipient with 5xx,
drops the connection in the middle of the text, never answers, fails the TLS
handshake, or sends more than it was asked for.

Each case ends as delivery promises: 4xx and connection trouble are deferred and
tried again (with retry = ["1s"], delivered once the fault is gone), 5xx is bounced
with a report to the sender, nothing is lost (the message stays queued until every
recipient is final), nothing is sent twice after a committed 2xx (the destination
holds exactly one copy per recipient), and nothing goes in plain text after a
failed TLS handshake.

The destinations are smtp-sink (its -Q/-r fault options) and the scripted MTA of
scripted_mta.py, whose faults last for its first `fault_sessions` sessions."""

import time
from collections import Counter

import pytest

from harness import routed, send_message, wait_until
from scripted_mta import Script, ScriptedMTA

RECIPIENTS = ["b@example.org", "c@example.org"]
SENDER = "a@corp.example"


def send(veil, recipients=RECIPIENTS, subject="destination fault"):
    return send_message(veil, recipients, subject, sender=SENDER)


def queued(veil, qid) -> bool:
    return veil.message(qid) is not None


def copies(mta) -> Counter:
    """Recipient -> how many copies the destination took."""
    with mta.script.lock:
        return Counter(r for received in mta.script.received for r in received.recipients)


def deferred_then_delivered_once(veil, mta, qid, recipients=RECIPIENTS, faulty=1, reply=None, timeout=15):
    """The first `faulty` sessions defer every recipient (nothing is taken in them,
    the message stays queued); the next one delivers each recipient exactly once.
    Returns the deferred events of the first session."""
    first = veil.wait_event("deferred", queue_id=qid, count=len(recipients), timeout=timeout)
    assert queued(veil, qid), "a deferred message must stay in the queue"
    assert {e["to"] for e in first} == {f"<{r}>" for r in recipients}
    assert all(e["attempt"] == "1" and e["next_attempt"] for e in first), first
    if reply is not None:
        assert all(e["reply"].startswith(reply) for e in first), first
    delivered = veil.wait_event("delivered", queue_id=qid, count=len(recipients), timeout=timeout + 10 * faulty)
    assert sorted(e["to"] for e in delivered) == sorted(f"<{r}>" for r in recipients), delivered
    assert all(e["reply"].startswith("250") for e in delivered), delivered
    # Each failed session counted as an attempt (recipients deferred together fall
    # due together: one retry jitter per transaction).
    for e in delivered:
        tries = len(veil.events("deferred", queue_id=qid, to=e["to"]))
        assert 1 <= tries <= faulty and e["attempt"] == str(tries + 1), (e, tries)
    wait_until(lambda: not queued(veil, qid) and not veil.spool_file(qid).exists(), what="message leaves the queue")
    with mta.script.lock:
        assert [r.session for r in mta.script.received if r.session <= faulty] == [], \
            "a faulty session took a message"
    assert copies(mta) == Counter(recipients), f"one copy per recipient expected: {copies(mta)}"
    assert veil.events("bounced", queue_id=qid) == []
    return first


# ---- refused greeting -------------------------------------------------------------------

def test_greeting_421_is_deferred_then_delivered_once(make_veil):
    with ScriptedMTA(script=Script(greeting="421 4.3.2 busy, come back later", fault_sessions=2)) as mta:
        veil = routed(make_veil, mta)
        qid = send(veil)
        deferred_then_delivered_once(veil, mta, qid, faulty=2, reply="421 4.3.2")
        # After a refused greeting nothing but (at most) QUIT is said.
        with mta.script.lock:
            said = [line for session, _, line in mta.script.log if session <= 2]
        assert set(said) <= {"QUIT"}, said


# ---- 4xx at MAIL, RCPT, DATA (instead of 354) and after the text ------------------------

@pytest.mark.parametrize("command", ["MAIL", "RCPT", "DATA", "."])
def test_4xx_is_deferred_then_delivered_once(make_veil, command):
    with ScriptedMTA(script=Script(fail_at={command: "451 4.3.0 try later"})) as mta:
        veil = routed(make_veil, mta)
        qid = send(veil)
        deferred_then_delivered_once(veil, mta, qid, reply="451 4.3.0")
        # Deferred together, retried together: one transaction, one copy of the text.
        with mta.script.lock:
            assert [sorted(r.recipients) for r in mta.script.received] == [sorted(RECIPIENTS)]


def test_421_at_rcpt_then_the_server_behaves(make_veil):
    with ScriptedMTA(script=Script(fail_at={"RCPT": "421 4.7.0 too many errors"})) as mta:
        veil = routed(make_veil, mta)
        qid = send(veil)
        deferred_then_delivered_once(veil, mta, qid, reply="421 4.7.0")


# ---- smtp-sink's own fault options --------------------------------------------------------

@pytest.mark.parametrize("options, reply", [
    (["-Q", "CONNECT"], "421 "),          # greeting 421, then the connection is closed
    (["-r", "MAIL"], "450 4.3.0"),
    (["-r", "RCPT"], "450 4.3.0"),
    (["-r", "DATA"], "450 4.3.0"),
    (["-r", "."], "450 4.3.0"),
], ids=["greeting-421", "mail-4xx", "rcpt-4xx", "data-4xx", "dot-4xx"])
def test_smtp_sink_4xx_is_deferred_then_delivered_once(make_veil, make_sink, options, reply):
    faulty = make_sink("faulty").start(*options)
    healthy = make_sink("healthy", port=faulty.port)
    veil = routed(make_veil, faulty)
    qid = send(veil)
    events = veil.wait_event("deferred", queue_id=qid, count=2)
    assert all(e["reply"].startswith(reply) for e in events), events
    assert queued(veil, qid)
    faulty.stop()
    healthy.start()                   # the fault is gone: same address, a healthy server
    veil.wait_event("delivered", queue_id=qid, count=2, timeout=30)
    wait_until(lambda: not queued(veil, qid), what="message leaves the queue")
    # Recipients fall due one by one (retry jitter): one copy each, in one
    # transaction or two.
    dumps = b"".join(healthy.messages())
    assert dumps.count(b"X-Rcpt-Args: <b@example.org>") == 1 and dumps.count(b"X-Rcpt-Args: <c@example.org>") == 1


# ---- 5xx: bounced, with a report to the sender ------------------------------------------

def test_5xx_at_rcpt_for_one_recipient_bounces_it_and_reports_to_the_sender(make_veil):
    with ScriptedMTA(script=Script(refuse={"nobody@example.org"})) as mta, \
            ScriptedMTA(script=Script()) as home:
        veil = routed(make_veil, mta, home=home)
        qid = send(veil, ["b@example.org", "nobody@example.org"])
        veil.wait_event("delivered", queue_id=qid, to="<b@example.org>")
        bounced = veil.wait_event("bounced", queue_id=qid, to="<nobody@example.org>")[0]
        assert bounced["reply"].startswith("550 5.1.1")
        report = veil.wait_event("bounce_queued", original_queue_id=qid)[0]
        assert report["to"] == f"<{SENDER}>" and report["recipients"] == "1"
        wait_until(lambda: not queued(veil, qid), what="message leaves the queue")
        veil.wait_event("delivered", queue_id=report["queue_id"], to=f"<{SENDER}>")
        assert copies(mta) == Counter(["b@example.org"])
        [dsn] = home.script.received
        assert dsn.sender == "<>" and dsn.recipients == [SENDER]
        assert b"nobody@example.org" in dsn.text and b"Action: failed" in dsn.text
        assert b"b@example.org" not in dsn.text.split(b"Content-Type: text/rfc822-headers")[0]
        assert veil.events("deferred", queue_id=qid) == []


@pytest.mark.parametrize("command, reply", [("MAIL", "550 5.7.1 sender refused"),
                                            (".", "554 5.6.0 content refused")])
def test_5xx_for_the_whole_message_bounces_every_recipient(make_veil, command, reply):
    with ScriptedMTA(script=Script(fail_at={command: reply}, fault_sessions=100)) as mta, \
            ScriptedMTA(script=Script()) as home:
        veil = routed(make_veil, mta, home=home)
        qid = send(veil)
        bounced = veil.wait_event("bounced", queue_id=qid, count=2)
        assert all(e["reply"] == reply for e in bounced), bounced
        report = veil.wait_event("bounce_queued", original_queue_id=qid)[0]
        assert report["recipients"] == "2"
        wait_until(lambda: not queued(veil, qid), what="message leaves the queue")
        veil.wait_event("delivered", queue_id=report["queue_id"])
        assert mta.script.received == []
        assert len(home.script.received) == 1
        assert veil.events("deferred", queue_id=qid) == [] and veil.events("delivered", queue_id=qid) == []


# ---- the connection goes away, or the server falls silent ---------------------------------

def test_connection_closed_in_the_middle_of_data(make_veil):
    with ScriptedMTA(script=Script(drop_in_data=1)) as mta:
        veil = routed(make_veil, mta)
        qid = send(veil)
        first = deferred_then_delivered_once(veil, mta, qid)
        assert all("closed" in e["reply"] for e in first), first


def test_server_that_never_greets_times_out(make_veil):
    with ScriptedMTA(script=Script(silent=True)) as mta:
        veil = routed(make_veil, mta, delivery={"command_timeout": "2s"})
        started = time.monotonic()
        qid = send(veil)
        first = deferred_then_delivered_once(veil, mta, qid, reply="timeout", timeout=8)
        assert time.monotonic() - started < 12
        assert first[0]["relay"] == mta.route


def test_server_that_never_answers_mail_times_out(make_veil):
    with ScriptedMTA(script=Script(silent_at="MAIL")) as mta:
        veil = routed(make_veil, mta, delivery={"command_timeout": "2s"})
        qid = send(veil)
        deferred_then_delivered_once(veil, mta, qid, reply="timeout", timeout=8)


def test_server_that_never_answers_the_text_times_out_after_data_timeout(make_veil):
    """The reply to the end of the text is awaited for data_timeout, not
    command_timeout (here much longer)."""
    with ScriptedMTA(script=Script(silent_at=".")) as mta:
        veil = routed(make_veil, mta, delivery={"command_timeout": "60s", "data_timeout": "2s"})
        qid = send(veil)
        deferred_then_delivered_once(veil, mta, qid, reply="timeout", timeout=8)


def test_server_that_stops_reading_the_text_times_out(make_veil):
    """The server answers 354 and then reads nothing: once the socket buffers are
    full Veil's writes make no progress, and command_timeout ends the session
    (data_timeout is short too, in case a host's buffers take the whole text)."""
    body = "".join(f"line {n:07d} of a message too big for the socket buffers\r\n" for n in range(140_000))   # ~8 MB
    with ScriptedMTA(script=Script(stall_in_data=True)) as mta:
        veil = routed(make_veil, mta, delivery={"command_timeout": "2s", "data_timeout": "2s"})
        qid = send_message(veil, RECIPIENTS, "stalled", sender=SENDER, body=body)
        deferred_then_delivered_once(veil, mta, qid, reply="timeout", timeout=10)
        # DATA: the last CRLF belongs to the end mark.
        assert all(r.text.endswith(body.encode()[:-2]) for r in mta.script.received)


# ---- a server that sends more than it should ----------------------------------------------

@pytest.mark.parametrize("command", ["CONNECT", "EHLO", "MAIL", "RCPT"])
def test_extra_reply_line_ends_the_session(make_veil, command):
    """An additional reply line after the reply to `command` (in the same packet):
    the server is out of step, the session ends, nothing is sent in it."""
    with ScriptedMTA(script=Script(extra_after={command: "250 unexpected"})) as mta:
        veil = routed(make_veil, mta)
        qid = send(veil)
        deferred_then_delivered_once(veil, mta, qid)
        with mta.script.lock:
            said = [line for session, _, line in mta.script.log if session == 1]
        assert "DATA" not in said, said


@pytest.mark.parametrize("command", ["EHLO", "MAIL", "RCPT", "DATA"])
def test_unsolicited_reply_before_the_command_ends_the_session(make_veil, command):
    """A reply sent before `command` arrives (right after the previous reply, in a
    packet of its own): whether Veil sees it before or after it sent the command,
    it must notice that the replies are out of step, take no 2xx from it for
    the text, and send the message later, once."""
    with ScriptedMTA(script=Script(unsolicited_before={command: "250 hello"})) as mta:
        veil = routed(make_veil, mta)
        qid = send(veil)
        deferred_then_delivered_once(veil, mta, qid)


@pytest.mark.parametrize("chunking", [False, True], ids=["data", "bdat"])
def test_extra_line_after_the_final_2xx_does_not_send_the_message_twice(make_veil, chunking):
    """The destination took the message (250 after the text, or to BDAT LAST) and
    says more in the same packet. That 2xx committed the message: the session may
    end, but the message must not be sent again."""
    with ScriptedMTA(script=Script(extra_after={".": "250 unexpected"}, chunking=chunking)) as mta:
        veil = routed(make_veil, mta)
        qid = send(veil)
        wait_until(lambda: not queued(veil, qid), timeout=15, what="message leaves the queue")
        assert copies(mta) == Counter(RECIPIENTS), \
            f"sent again after a committed 250: {len(mta.script.received)} copies; " \
            f"events: {veil.events('deferred', queue_id=qid) + veil.events('delivered', queue_id=qid)}"


# ---- TLS handshake failure ---------------------------------------------------------------

@pytest.mark.parametrize("policy", ["required", "opportunistic"])
@pytest.mark.parametrize("failure", ["garbage", "close"])
def test_failed_tls_handshake_is_deferred_and_never_sent_in_plain(make_veil, certs, policy, failure):
    """The server offers STARTTLS, answers 220, then answers the ClientHello with
    bytes that are not TLS (or closes). Either policy defers: a failed handshake is
    no reason to fall back to plain text. The retry goes over TLS."""
    cert, key = certs
    with ScriptedMTA(script=Script(starttls=(str(cert), str(key)), tls_failure=failure)) as mta:
        veil = routed(make_veil, mta, tls=policy)
        qid = send(veil)
        first = deferred_then_delivered_once(veil, mta, qid)
        assert all("handshake" in e["reply"] for e in first), first
        assert mta.script.plain_commands() == [], "mail commands in plain text"
        assert all(r.tls for r in mta.script.received)
        assert all(e["tls"].startswith("TLSv1.") for e in veil.events("delivered", queue_id=qid))


@pytest.mark.parametrize("policy", ["required", "opportunistic"])
def test_data_after_the_220_to_starttls_is_deferred_and_never_sent_in_plain(make_veil, certs, policy):
    """RFC 3207 §4: bytes following the 220 to STARTTLS, before the handshake,
    could be an injected reply; the session ends."""
    cert, key = certs
    with ScriptedMTA(script=Script(starttls=(str(cert), str(key)),
                                   extra_after={"STARTTLS": "250 injected"})) as mta:
        veil = routed(make_veil, mta, tls=policy)
        qid = send(veil)
        deferred_then_delivered_once(veil, mta, qid)
        assert mta.script.plain_commands() == []
        assert all(r.tls for r in mta.script.received)
