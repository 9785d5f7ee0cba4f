"""Durability: kill -9 after the 250 keeps the message; kill -9 during DATA leaves nothing."""

from harness import STAMP, message, queue_id, send_message, wait_until


def test_kill9_after_250_keeps_message(veil):
    msg = message("durable", body="must survive kill -9\r\n")
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org", "NOTIFY=FAILURE")
        r = c.data(msg)
        veil.kill9()                      # immediately after the 250, before QUIT
    qid = queue_id(r)
    veil.restart()
    ids = [m["id"] for m in veil.messages()]
    assert ids == [qid], ids
    assert veil.spool_bytes(qid) == msg
    rc = veil.recipients(qid)
    assert [x["address"].strip("<>") for x in rc] == ["b@example.org"], rc
    # The restarted daemon still accepts mail.
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        r2 = c.data(message("after restart"))
        c.quit()
    assert sorted(m["id"] for m in veil.messages()) == sorted([qid, queue_id(r2)])


def test_kill9_after_bdat_last_keeps_message(veil):
    chunk = STAMP + b"Subject: bdat durable\r\n\r\nbody\r\n"
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        r = c.bdat(chunk, last=True, expect="250 2.0.0")
        veil.kill9()
    veil.restart()
    qid = queue_id(r)
    assert [m["id"] for m in veil.messages()] == [qid]
    assert veil.spool_bytes(qid) == chunk


def test_kill9_during_data_leaves_nothing(veil):
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        c.cmd("DATA", "354")
        c.send(message("interrupted") + b"partial line\r\n" * 5000)   # ~75 KB, no terminator
        # The message streams to incoming/ as it arrives; wait until it shows up there.
        seen = wait_until(veil.incoming_files, timeout=10)
        veil.kill9()
    assert seen, "no file appeared in incoming/ while DATA was streaming"
    veil.restart()
    assert veil.incoming_files() == [], f"leftovers in incoming/: {veil.incoming_files()}"
    assert veil.messages() == []
    assert veil.recipients() == []
    assert veil.spool_files() == []


def test_kill9_during_bdat_leaves_nothing(veil):
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        c.bdat(b"Subject: bdat interrupted\r\n\r\n" + b"x" * 60000 + b"\r\n", expect="250")
        c.send(b"BDAT 100000 LAST\r\n" + b"y" * 1000)
        veil.kill9()
    veil.restart()
    assert veil.incoming_files() == []
    assert veil.messages() == []
    assert veil.spool_files() == []


def test_sigterm_keeps_queue(veil):
    qid = send_message(veil, ["b@example.org"], "before sigterm")
    status = veil.stop()
    assert status == 0, f"exit status after SIGTERM: {status}"
    veil.start()
    assert [m["id"] for m in veil.messages()] == [qid]
