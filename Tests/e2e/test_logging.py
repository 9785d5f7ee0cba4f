"""Logging: one line per event, JSON format, no message content or passwords."""

import json

import pytest

from harness import send_message


def send_one(veil, subject="log test", body="hello\r\n"):
    return send_message(veil, ["b@example.org"], subject, body=body)


def test_connect_and_accepted_lines(veil):
    mark = veil.mark()
    qid = send_one(veil)
    veil.wait_event("connect", since=mark, listener="plain", client="127.0.0.1")
    ev = veil.wait_event("accepted", since=mark, queue_id=qid)[0]
    assert ev.get("from", "").strip("<>") == "a@corp.example", ev
    assert ev.get("rcpt_count") == "1", ev
    assert int(ev.get("size", "-1")) == veil.message(qid)["size"], ev
    assert ev.get("client", "").startswith("127.0.0.1"), ev


def test_message_content_never_logged(veil):
    marker = "Zebra-Quokka-Content-4711"
    send_one(veil, subject=f"subject {marker}", body=f"body {marker}\r\n")
    veil.wait_event("accepted")
    assert marker not in veil.log_text()


def test_rejected_line_has_code(veil):
    mark = veil.mark()
    with veil.connect("plain") as c:
        c.send(b"GET / HTTP/1.1\r\n\r\n")
        c.reply()
    ev = veil.wait_event("rejected", since=mark, client="127.0.0.1")[0]
    assert ev.get("code") == "554", ev
    assert ev.get("reason"), ev


@pytest.mark.veil(log={"format": "json"})
def test_json_format(veil):
    qid = send_one(veil)
    veil.wait_event("accepted", queue_id=qid)
    for line in veil.run_lines()[1:]:   # [0] is the harness's own marker line
        d = json.loads(line)
        assert isinstance(d, dict) and d.get("event") and d.get("ts") and d.get("level"), line
