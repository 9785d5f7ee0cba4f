"""Bounces under stress (issue 13, point 6): an MX name from DNS that is no host
name never reaches a report, and a report that cannot be queued (disk full) leaves
the original message queued and deferred instead of bounced without a report, and
a RET=FULL report of a 50 MB message is streamed from the spool (point 6.5)."""

import email
import hashlib
import re
from pathlib import Path

import pytest

from harness import message, queue_id, routed, send_message

# An MX whose name carries CR LF, a field of its own and a UTF-8 "é": DNS labels may
# hold any byte (unbound's \DDD escapes are decimal).
EVIL_MX = r"mx\013\010Injected:\032yes\195\169.evil.veiltest."
RECORDS = [
    f"evil.veiltest. MX 10 {EVIL_MX}",
    f"{EVIL_MX} A 127.0.0.3",
    "corp.veiltest. MX 10 mx.corp.veiltest.",   # the sender's domain: the report goes there
    "mx.corp.veiltest. A 127.0.0.4",
]


def test_an_mx_name_that_is_no_host_name_stays_out_of_the_report(make_veil, make_sink, dns):
    make_sink("refusing", port=25, host="127.0.0.3").start("-f", "RCPT")
    senders_mx = make_sink("senders-mx", port=25, host="127.0.0.4").start()
    veil = make_veil(dns={"servers": [dns.server]},
                     delivery={"mode": "mx", "smarthost": None, "retry": ["1h"],
                               "allow_networks": ["127.0.0.3/32", "127.0.0.4/32"]})
    qid = send_message(veil, ["b@evil.veiltest"], "evil mx", sender="a@corp.veiltest")
    veil.wait_event("bounced", queue_id=qid)
    report_id = veil.wait_event("bounce_queued", original_queue_id=qid)[0]["queue_id"]
    veil.wait_event("delivered", queue_id=report_id)
    [dump] = senders_mx.messages()
    start = dump.index(b"Reporting-MTA:")
    status = dump[start:dump.index(b"--", start)]
    print("delivery-status part:", status)
    # smtp-sink dumps lines with LF ends.
    assert b"\nRemote-MTA: dns; [127.0.0.3]:25\n" in status
    assert b"injected" not in dump.lower()
    # 7-bit, no stray CR: nothing of the name broke a line or brought UTF-8 in.
    assert all(byte < 0x80 for byte in dump)
    assert b"\r" not in dump
    report = email.message_from_bytes(dump)
    assert report.get_content_type() == "multipart/report"


@pytest.mark.small_spool("4m")
def test_a_bounce_that_cannot_be_queued_leaves_the_message_deferred(make_veil, make_sink, small_spool):
    """The spool (4 MB) holds the message (RET=FULL, 1.2 MB) and a filler (2.2 MB),
    not the report with the whole message in it as well: the recipient the next hop
    refuses is deferred, not bounced, and the message stays. Once there is room
    again, the next try queues the report."""
    refusing = make_sink("refusing").start("-f", "RCPT")
    veil = make_veil(top={"spool_dir": str(small_spool)}, limits={"max_message_size": "20MB", "min_free_space": "0"},
                     delivery={"mode": "smarthost", "smarthost": "[127.0.0.1]:9", "retry": ["1h"]},
                     routes=[{"domain": "example.org", "route": refusing.route}])
    veil.spool = small_spool
    filler = small_spool / "filler"
    filler.write_bytes(b"f" * 2_200_000)
    big = message("big", body="x" * 998 + "\r\n") + (b"y" * 998 + b"\r\n") * 1200   # ~1.2 MB
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example", "RET=FULL")
        c.rcpt("b@example.org")
        qid = queue_id(c.data(big))
        c.quit()
    [outcome] = veil.wait_for(re.compile(rf"event=(bounced|deferred) queue_id={qid} "))
    print("outcome:", outcome)
    assert "event=deferred" in outcome, "bounced without a report"
    error = veil.events("queue_error", queue_id=qid)[0]["error"]
    print("queue_error:", error)
    assert "bounce not queued" in error and "deferred" in error
    [recipient] = veil.recipients(qid)
    assert recipient["state"] == "deferred"
    assert veil.spool_file(qid).exists()
    assert veil.incoming_files() == [], "a half-written report was left behind"
    assert veil.events("bounce_queued") == []

    # Room again: the next try refuses again, and now the report is queued.
    filler.unlink()
    done = veil.queue("flush", qid)
    assert done.returncode == 0, done
    veil.wait_event("bounced", queue_id=qid)
    veil.wait_event("bounce_queued", original_queue_id=qid)


def peak_rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in kB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def test_a_full_bounce_of_a_50_mb_message_streams_from_the_spool(make_veil, make_sink):
    """RET=FULL of a 50 MB message: the report returns it whole, byte for byte, and
    Veil's peak memory while queueing and sending the report grows by far less than
    the message (the report is copied from the spool file in pieces, not built in
    memory). The first try finds nothing listening (deferred), so the peak is reset
    before the try that bounces."""
    refusing = make_sink("refusing")          # started only once the peak is reset
    home = make_sink("home").start()          # the sender's domain: the report goes there
    veil = routed(make_veil, refusing, home=home, delivery={"retry": ["1h"]}, limits={"max_message_size": "100MB"})
    line = b"%07d " + bytes(range(0x41, 0x5b)) * 3 + b"\r\n"      # 88 bytes, numbered
    body = b"".join(line % n for n in range(600_000))              # ~50 MB
    original = message("big bounce", body="") + body
    size = len(original)
    with veil.connect("plain", timeout=120) as c:
        c.ehlo()
        c.mail("a@corp.example", "RET=FULL")
        c.rcpt("b@example.org")
        qid = queue_id(c.data(original))
        c.quit()
    veil.wait_event("deferred", queue_id=qid, timeout=60)

    refusing.start("-f", "RCPT")
    pid = veil.proc.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")            # VmHWM := VmRSS
    rss_before, _ = peak_rss_kb(pid)
    done = veil.queue("flush", qid)
    assert done.returncode == 0, done
    veil.wait_event("bounced", queue_id=qid, timeout=60)
    report_id = veil.wait_event("bounce_queued", original_queue_id=qid, timeout=60)[0]["queue_id"]
    veil.wait_event("delivered", queue_id=report_id, timeout=120)
    _, peak = peak_rss_kb(pid)
    growth = (peak - rss_before) * 1024
    print(f"message {size} bytes; peak RSS growth while bouncing: {growth / 1e6:.1f} MB")

    [dump] = home.messages()
    boundary = re.search(rb'boundary="([^"]+)"', dump[:8192]).group(1)
    third = b"\n--" + boundary + b"\nContent-Type: message/rfc822\n\n"   # smtp-sink dumps LF ends
    start = dump.index(third) + len(third)
    returned = dump[start:dump.rindex(b"\n--" + boundary + b"--\n")]
    expected = original.replace(b"\r\n", b"\n")
    assert (len(returned), hashlib.sha256(returned).hexdigest()) == \
           (len(expected), hashlib.sha256(expected).hexdigest())
    # The old way held three copies (150 MB); one copy would already be over this.
    assert growth < size // 4, f"peak RSS grew by {growth} bytes for a {size}-byte message"
