"""A queue entry damaged on disk (message file cut short or gone, an address in the
index edited) is never delivered: it is moved to SPOOL/quarantine with a log line,
and the daemon goes on."""

import json
import sqlite3

import pytest

from harness import send_message


def queue_one(veil, subject):
    qid = send_message(veil, ["b@example.org"], subject)
    veil.wait_event("deferred", queue_id=qid)      # the smarthost port is closed
    return qid


def flush(veil):
    done = veil.queue("flush")
    assert done.returncode == 0, done


def truncate(veil, qid):
    path = veil.spool_file(qid)
    path.write_bytes(path.read_bytes()[:20])


def remove(veil, qid):
    veil.spool_file(qid).unlink()


def edit_address(veil, qid):
    with sqlite3.connect(veil.spool / "queue.sqlite") as db:
        db.execute("UPDATE recipients SET address = ? WHERE message_id = ?",
                   ("b@example.org>\r\nRCPT TO:<victim@elsewhere.example", qid))


@pytest.mark.parametrize("damage, reason", [(truncate, "bytes, the queue recorded"),
                                            (remove, "message file missing"),
                                            (edit_address, "address in the index is not valid")])
def test_damaged_entry_is_quarantined(make_veil, damage, reason):
    veil = make_veil()
    broken = queue_one(veil, "to be damaged")
    intact = queue_one(veil, "stays fine")
    veil.stop()
    damage(veil, broken)
    veil.start()
    flush(veil)
    event = veil.wait_event("quarantined", queue_id=broken)[0]
    assert reason in event["reason"]
    veil.wait_event("deferred", queue_id=intact, attempt="2")
    assert [m["id"] for m in veil.messages()] == [intact]
    folder = veil.spool / "quarantine"
    record = json.loads((folder / f"{broken}.json").read_text())
    assert reason in record["reason"]
    assert record["entry"]["id"] == broken
    assert (folder / broken).exists() == (damage is not remove)
    assert not veil.events("deferred", queue_id=broken, attempt="2")
    assert veil.alive()
