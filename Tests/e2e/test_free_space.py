"""[limits] min_free_space: while the spool's file system has less free, new mail
gets 452 4.3.1 at MAIL, and what is already queued is still delivered and
bounced. The tests move the minimum (by reload) rather than fill a disk."""

import subprocess

from harness import VEIL_BIN, message, queue_id, send_message, wait_until

UNREACHABLE = 'min_free_space = "1000000GB"'


def test_below_min_free_space_mail_gets_452_while_delivery_and_bounces_go_on(make_veil, make_sink):
    refusing = make_sink("refusing").start("-f", "RCPT")
    senders = make_sink("senders").start()
    veil = make_veil(limits={"min_free_space": "1MB"},
                     delivery={"mode": "smarthost", "smarthost": "[127.0.0.1]:9", "retry": ["1h"]},
                     routes=[{"domain": "corp.example", "route": senders.route}])
    qid = send_message(veil, ["b@example.org"], "queued while there was room")
    veil.wait_event("deferred", queue_id=qid)

    # Less free than the minimum; example.org now refuses the recipient.
    roomy = veil.config_path.read_text()
    veil.reload(roomy.replace('min_free_space = "1MB"', UNREACHABLE)
           + f'\n[[delivery.domain]]\ndomain = "example.org"\nroute = "{refusing.route}"\n')
    with veil.connect("plain") as c:
        c.ehlo()
        c.cmd("MAIL FROM:<a@corp.example>", "452 4.3.1")
        c.cmd("RCPT TO:<b@example.org>", "503 5.5.1")
        c.cmd("MAIL FROM:<a@corp.example>", "452 4.3.1")
        c.quit()
    low = veil.wait_event("disk_space_low")
    assert len(low) == 1 and int(low[0]["free"]) < int(low[0]["min_free_space"]), low

    # Delivery goes on, and so does the bounce it leads to.
    flushed = veil.queue("flush", qid)
    assert flushed.returncode == 0, flushed
    veil.wait_event("bounced", queue_id=qid)
    bounce = veil.wait_event("bounce_queued", original_queue_id=qid)[0]["queue_id"]
    veil.wait_event("delivered", queue_id=bounce)
    wait_until(lambda: senders.messages(), what="the bounce at the sender's domain")
    assert b"Undelivered Mail Returned to Sender" in senders.messages()[0]

    # Room again: mail is taken.
    veil.reload(roomy)
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        assert queue_id(c.data(message("room again")))
        c.quit()
    veil.wait_event("disk_space_ok")


def test_min_free_space_is_checked_by_check_config(make_veil):
    veil = make_veil(limits={"max_errors": 20})
    veil.config_path.write_text(veil.config_path.read_text().replace("[limits]", '[limits]\nmin_free_space = "lots"'))
    checked = subprocess.run([VEIL_BIN, "check-config", "--config", str(veil.config_path)],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode != 0
    assert "limits.min_free_space" in checked.stderr and '"lots" is not a size' in checked.stderr, checked.stderr
