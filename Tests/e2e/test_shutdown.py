"""SIGTERM (systemctl stop): idle sessions get 421 4.3.2 at once, a transaction in
flight finishes with its 250 (the message is kept), nobody new gets in, the
daemon exits 0."""

import signal
import socket

import pytest

from harness import ConnectionClosed, message, send_message, wait_until


def test_idle_session_gets_421_and_the_daemon_exits_0(make_veil):
    veil = make_veil()
    with veil.connect("plain") as c:
        c.ehlo()
        veil.proc.send_signal(signal.SIGTERM)
        reply = c.reply()          # unsolicited: RFC 5321 §3.8
        assert reply.is_("421 4.3.2"), reply
    assert veil.proc.wait(timeout=15) == 0
    assert veil.wait_event("stopped")


def test_transaction_in_flight_finishes_then_the_session_ends(make_veil):
    veil = make_veil()
    port = veil.port("plain")
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        assert c.cmd("DATA").is_(354)
        c.send(b"Subject: half\r\n")
        veil.proc.send_signal(signal.SIGTERM)
        veil.wait_event("stopping")
        # No new connections while the transaction drains.
        wait_until(lambda: _refused(port), what="listener closed")
        c.send(message("in flight during sigterm") + b"\r\n.\r\n")
        reply = c.reply()
        assert reply.is_("250"), reply
        qid = reply.text.split()[-1]
        # That reply was the session's last.
        with pytest.raises(ConnectionClosed):
            c.cmd("NOOP")
    assert veil.proc.wait(timeout=15) == 0
    veil.stop()
    veil.start()
    assert [m["id"] for m in veil.messages()] == [qid]


def test_new_command_in_a_transaction_is_answered_421_after_the_transaction(make_veil):
    """RSET ends the transaction in flight: its 250 is the last reply."""
    veil = make_veil()
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        veil.proc.send_signal(signal.SIGTERM)
        veil.wait_event("stopping")
        assert c.cmd("RCPT TO:<b@example.org>").is_(250)
        assert c.cmd("RSET").is_(250)
        with pytest.raises(ConnectionClosed):
            c.cmd("MAIL FROM:<a@corp.example>")
    assert veil.proc.wait(timeout=15) == 0


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


def test_stop_while_a_delivery_hangs(make_veil):
    """A next hop that never answers: on SIGTERM the listeners close at once, idle
    sessions get 421 at once, and the delivery is cut off after shutdown_grace
    (its message stays queued for the next start)."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)          # accepts, never greets
    veil = make_veil(limits={"shutdown_grace": "2s"},
                     delivery={"mode": "mx", "smarthost": None, "retry": ["1h"]},
                     routes=[{"domain": "example.org", "route": f"[127.0.0.1]:{silent.getsockname()[1]}"}])
    port = veil.port("plain")
    qid = send_message(veil, ["b@example.org"], "stuck delivery")
    wait_until(lambda: silent.accept(), what="the delivery connects")
    with veil.connect("plain") as idle:
        idle.ehlo()
        veil.proc.send_signal(signal.SIGTERM)
        assert idle.reply().is_("421 4.3.2")
        wait_until(lambda: _refused(port), what="listener closed")
    assert veil.proc.wait(timeout=15) == 0
    veil.start()
    assert [m["id"] for m in veil.messages()] == [qid]
    silent.close()
