"""SMTP smuggling (SEC Consult, 2023): DATA ends only at CRLF.CRLF.

Each vector is a fake end-of-data. It is followed by a smuggled transaction whose own
terminator, "\\r\\n.\\r\\n", is the first real end-of-data of the legitimate message. A
vulnerable server answers two "queued as"; Veil must queue at most one message, and with
bare_newline = "normalize" exactly one, holding the smuggled commands as body text.
"""

import pytest

from harness import STAMP, queue_id

VECTORS = [
    b"\n.\n", b"\n.\r", b"\r.\n", b"\r.\r", b"\n.\r\n", b"\r.\r\n", b"\r\n.\n", b"\r\n.\r",
    b"\r\n\x00.\r\n", b"\r\n.\x00\r\n", b"\r\n.\r\r\n", b"\r\r\n.\r\r\n",
]
IDS = [repr(v)[2:-1] for v in VECTORS]

LEGIT = STAMP + b"From: <a@corp.example>\r\nTo: <b@example.org>\r\nSubject: smuggling test\r\n\r\nlegit body"
SMUGGLED = (b"MAIL FROM:<x@corp.example>\r\nRCPT TO:<y@example.org>\r\nDATA\r\n"
            b"smuggled\r\n.\r\n")


def has_bare_newline(data: bytes) -> bool:
    s = data.replace(b"\r\n", b"")
    return b"\r" in s or b"\n" in s


def smuggle(veil, vector: bytes):
    """One session: a legit transaction whose body carries the vector and the smuggled
    transaction, then QUIT, all in one write after the 354. Returns the replies after 354."""
    c = veil.connect("plain")
    c.ehlo()
    c.mail("a@corp.example")
    c.rcpt("b@example.org")
    c.cmd("DATA", "354")
    try:
        c.send(LEGIT + vector + SMUGGLED + b"QUIT\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    replies = c.replies_until_close()
    c.close()
    return c, replies


def assert_not_smuggled(veil, c, replies):
    queued = [r for r in replies if "queued as" in r.text]
    assert len(queued) <= 1, "second message queued!\n" + c.dialogue()
    msgs = veil.messages()
    assert len(msgs) <= 1, f"{len(msgs)} messages queued: {msgs}\n" + c.dialogue()
    assert not any(m["sender"].strip("<>") == "x@corp.example" for m in msgs), msgs
    for f in veil.spool_files():
        assert not f.read_bytes().startswith(b"smuggled"), f"smuggled message spooled as {f.name}"
    return queued, msgs


@pytest.mark.veil(limits={"bare_newline": "reject"})
@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_smuggling_reject(veil, vector):
    c, replies = smuggle(veil, vector)
    queued, msgs = assert_not_smuggled(veil, c, replies)
    if has_bare_newline(vector):
        # A bare CR or LF in DATA: refused, connection closed, nothing queued.
        assert not queued and not msgs, c.dialogue()
        assert replies and replies[0].is_("5xx"), c.dialogue()
        assert replies[-1].code != 221, "connection should be closed by Veil, not by QUIT\n" + c.dialogue()
    else:
        # Only NULs: one message, the vector and smuggled commands are body text.
        assert [r.code for r in replies] == [250, 221], c.dialogue()
        assert len(msgs) == 1
        body = veil.spool_bytes(queue_id(replies[0]))
        assert b"legit body" in body and b"MAIL FROM:<x@corp.example>" in body, body


@pytest.mark.veil(limits={"bare_newline": "normalize"})
@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_smuggling_normalize(veil, vector):
    c, replies = smuggle(veil, vector)
    queued, msgs = assert_not_smuggled(veil, c, replies)
    assert [r.code for r in replies] == [250, 221], c.dialogue()
    assert len(queued) == 1 and len(msgs) == 1, c.dialogue()
    qid = queue_id(queued[0])
    assert msgs[0]["id"] == qid
    body = veil.spool_bytes(qid)
    assert body.startswith(STAMP + b"From: <a@corp.example>\r\n"), body
    assert b"legit body" in body, body
    assert b"MAIL FROM:<x@corp.example>\r\nRCPT TO:<y@example.org>\r\nDATA\r\nsmuggled\r\n" in body, body
    assert not has_bare_newline(body), f"normalize must leave only CRLF line ends: {body!r}"


@pytest.mark.veil(limits={"bare_newline": "reject"})
def test_bare_lf_in_data_is_554_and_close(veil):
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        c.cmd("DATA", "354")
        c.send(b"Subject: bare\r\n\r\nline one\nline two\r\n.\r\n")
        c.check(c.reply(), "554 5.5.2")
        assert c.is_closed(), c.dialogue()
    assert veil.messages() == []


@pytest.mark.veil(limits={"bare_newline": "reject"})
def test_bare_lf_in_command_is_rejected(veil):
    with veil.connect("plain") as c:
        c.ehlo()
        c.send(b"NOOP\nNOOP\r\n")
        r = c.reply()
        assert r.is_("5xx"), c.dialogue()
        assert c.is_closed(), c.dialogue()


@pytest.mark.veil(limits={"bare_newline": "normalize"})
def test_normalize_rewrites_bare_newlines(veil):
    with veil.connect("plain") as c:
        c.ehlo()
        c.send(b"NOOP\nNOOP\r\n")
        assert [c.reply().code, c.reply().code] == [250, 250], c.dialogue()
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        c.cmd("DATA", "354")
        c.send(STAMP + b"Subject: bare\r\n\r\none\ntwo\rthree\r\n.\r\n")
        r = c.check(c.reply(), "250 2.0.0")
        c.quit()
    assert veil.spool_bytes(queue_id(r)) == STAMP + b"Subject: bare\r\n\r\none\r\ntwo\r\nthree\r\n"
