"""Delivery when the destination misbehaves (a scripted MTA on 127.0.0.7), and when
Veil itself is killed during delivery: nothing lost, nothing sent twice after a
saved 2xx."""

from harness import routed, send_message, wait_until
from scripted_mta import ScriptedMTA, Script


def send(veil, recipients, subject="fault test"):
    return send_message(veil, recipients, subject)


def test_one_recipient_refused_the_other_delivered(make_veil):
    with ScriptedMTA(script=Script(refuse={"nobody@example.org"})) as mta:
        veil = routed(make_veil, mta)
        qid = send(veil, ["b@example.org", "nobody@example.org"])
        veil.wait_event("delivered", queue_id=qid, to="<b@example.org>")
        assert "5.1.1" in veil.wait_event("bounced", queue_id=qid, to="<nobody@example.org>")[0]["reply"]
        wait_until(lambda: qid not in [m["id"] for m in veil.messages()], what="message leaves the queue")
        assert [r.recipients for r in mta.script.received] == [["b@example.org"]]


def test_connection_dropped_during_data_is_retried_and_delivered_once(make_veil):
    with ScriptedMTA(script=Script(drop_in_data=1)) as mta:
        veil = routed(make_veil, mta)
        qid = send(veil, ["b@example.org"])
        veil.wait_event("deferred", queue_id=qid)
        veil.wait_event("delivered", queue_id=qid, timeout=30)
        wait_until(lambda: veil.messages() == [], what="message leaves the queue")
        assert len(mta.script.received) == 1
        assert b"Subject: fault test" in mta.script.received[0].text


def test_chunking_server_gets_the_text_in_bdat_chunks(make_veil):
    """RFC 3030: a next hop offering CHUNKING gets BDAT chunks, no DATA, no dot
    stuffing; a text larger than one chunk arrives whole and unchanged."""
    body = "".join(f".line {n} starts with a dot\r\n" for n in range(20000))   # ~600 KB
    with ScriptedMTA(script=Script(chunking=True)) as mta:
        veil = routed(make_veil, mta)
        qid = send_message(veil, ["b@example.org"], "chunked", body=body)
        veil.wait_event("delivered", queue_id=qid)
        [received] = mta.script.received
        assert received.commands[-1].endswith(" LAST") and len(received.commands) >= 3
        assert not any(c == "DATA" for c in received.commands)
        assert received.text.endswith(body.encode())
        assert b"..line" not in received.text


def test_refused_chunk_leaves_the_next_message_intact(make_veil):
    """A refused BDAT chunk ends that transaction; the next message on the same
    connection carries its own text, and the refused one is delivered later."""
    with ScriptedMTA() as mta:
        port = mta.port
    veil = routed(make_veil, mta, delivery={"concurrency_per_domain": 1})
    big = "".join(f"line {n} of the big one\r\n" for n in range(30000))    # ~700 KB: several chunks
    ids = []
    for subject, body in (("big", big), ("small", "just the small one\r\n")):
        ids.append(send_message(veil, ["b@example.org"], subject, body=body))
    veil.wait_event("deferred", count=2)
    veil.kill9()
    with ScriptedMTA(port=port, script=Script(chunking=True, refuse_chunk=1)) as mta:
        veil.restart()     # both due at once: one session
        for qid in ids:
            veil.wait_event("delivered", queue_id=qid, timeout=30)
        by_subject = {r.text.split(b"Subject: ")[1].split(b"\r\n")[0]: r.text for r in mta.script.received}
        assert sorted(by_subject) == [b"big", b"small"]
        assert by_subject[b"small"].endswith(b"\r\n\r\njust the small one\r\n")
        assert by_subject[b"big"].endswith(big.encode())


def test_kill9_during_delivery_loses_nothing(make_veil):
    """Mail accepted while the destination is down, Veil killed while it retries,
    destination up, Veil restarted: every message arrives."""
    with ScriptedMTA() as mta:
        port = mta.port
    veil = routed(make_veil, mta)
    ids = [send(veil, ["b@example.org"], subject=f"kill {n}") for n in range(10)]
    veil.wait_event("deferred", count=10)
    veil.kill9()
    with ScriptedMTA(port=port) as mta:
        veil.restart()
        for qid in ids:
            veil.wait_event("delivered", queue_id=qid, timeout=30)
        wait_until(lambda: veil.messages() == [], what="queue drained")
        subjects = sorted(r.text.split(b"Subject: ")[1].split(b"\r\n")[0] for r in mta.script.received)
        assert subjects == sorted(f"kill {n}".encode() for n in range(10))


def test_messages_to_one_destination_share_connections(make_veil):
    """Twenty queued messages for one destination go out over few connections:
    a pass packs them into sessions of messages_per_connection, and a running
    session takes mail that falls due meanwhile instead of a new connection."""
    with ScriptedMTA() as mta:
        port = mta.port
    veil = routed(make_veil, mta, delivery={"concurrency_per_domain": 2})
    ids = [send(veil, ["b@example.org"], subject=f"batch {n}") for n in range(20)]
    veil.wait_event("deferred", count=20)
    veil.kill9()
    with ScriptedMTA(port=port) as mta:
        veil.restart()     # everything is due at once now
        for qid in ids:
            veil.wait_event("delivered", queue_id=qid, timeout=30)
        assert len(mta.script.received) == 20
        assert mta.script.sessions <= 2, f"{mta.script.sessions} connections for 20 messages"
