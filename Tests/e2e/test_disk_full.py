"""Disk full: the spool on a 2 MB tmpfs. A message that does not fit gets
452 4.3.1 after its data, nothing of it stays in the spool, and the session goes
on: the next (small) message is accepted once the space is free again."""

from harness import message, queue_id


def test_disk_full_gets_452_and_leaves_nothing(make_veil, small_spool):
    veil = make_veil(top={"spool_dir": str(small_spool)}, limits={"max_message_size": "20MB", "min_free_space": "0"})
    veil.spool = small_spool
    big = message("big", body="x" * 998 + "\r\n") + (b"y" * 998 + b"\r\n") * 3000   # ~3 MB
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        c.data(big, expect="452 4.3.1")
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        kept = queue_id(c.data(message("small")))
        c.quit()
    assert [m["id"] for m in veil.messages()] == [kept]
    assert [p.name for p in veil.spool_files()] == [kept]
    assert veil.incoming_files() == []
    veil.wait_event("spool_error")
