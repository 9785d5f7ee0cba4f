"""Delivery through [[delivery.domain]] routes to a real MTA (smtp-sink on
127.0.0.2): delivered, deferred and retried, bounced, refused connections, TLS
required. The queue index and Veil's log are checked as an admin would."""

from harness import message, queue_id, routed, send_message, wait_until

# The exchange profile, ids rewritten, an anonymous trace field.
SCRUB = {"profile": "exchange", "message_id": "rewrite", "received": "anonymous"}


def send(veil, to="b@example.org", subject="delivery test"):
    return send_message(veil, [to], subject)


def test_delivered_scrubbed_and_removed_from_the_queue(make_veil, sink):
    sink.start()
    veil = routed(make_veil, sink, scrub=SCRUB)
    qid = send(veil)
    event = veil.wait_event("delivered", queue_id=qid)[0]
    assert event["to"] == "<b@example.org>" and event["relay"] == sink.route and event["reply"].startswith("250")
    wait_until(lambda: veil.messages() == [] and veil.spool_files() == [], what="message leaves the queue")
    [dump] = sink.messages()
    assert b"X-Rcpt-Args: <b@example.org>" in dump
    assert f"Received: by veil.test (Veil) with ESMTP id {qid};".encode() in dump
    assert b"Subject: delivery test" in dump


def test_4xx_is_deferred_then_delivered_on_retry(make_veil, sink):
    sink.start("-r", "RCPT")
    veil = routed(make_veil, sink, scrub=SCRUB)
    qid = send(veil)
    deferred = veil.wait_event("deferred", queue_id=qid)[0]
    assert deferred["reply"].startswith("4") and deferred["next_attempt"]
    [row] = veil.recipients(qid)
    assert row["state"] == "deferred" and row["attempts"] >= 1 and row["last_reply"].startswith("4")
    sink.stop()
    sink.start()
    veil.wait_event("delivered", queue_id=qid, timeout=30)
    wait_until(lambda: veil.messages() == [], what="message leaves the queue")
    assert len(sink.messages()) == 1


def test_5xx_is_bounced_and_leaves_the_queue(make_veil, sink):
    sink.start("-f", "RCPT")
    veil = routed(make_veil, sink, scrub=SCRUB)
    qid = send(veil)
    bounced = veil.wait_event("bounced", queue_id=qid)[0]
    assert bounced["reply"].startswith("5")
    # The original leaves the queue; the report to a@corp.example (no route here) waits.
    wait_until(lambda: qid not in [m["id"] for m in veil.messages()], what="message leaves the queue")
    assert not veil.spool_file(qid).exists()
    assert sink.messages() == []


def test_bounce_report_goes_back_to_the_sender(make_veil, make_sink, sink):
    """5xx at the destination: the sender gets an RFC 3464 report from <>, with the
    failed recipient, its status and the server's reply, and the original headers."""
    import email
    sink.start("-f", "RCPT")
    home = make_sink("home").start()
    veil = routed(make_veil, sink, home=home)
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example", params="ENVID=case42")
        c.rcpt("b@example.org", params="ORCPT=rfc822;b@example.org")
        c.rcpt("c@example.org", params="NOTIFY=NEVER")
        qid = queue_id(c.data(message("will bounce", to="b@example.org")))
        c.quit()
    queued = veil.wait_event("bounce_queued", original_queue_id=qid)[0]
    assert queued["recipients"] == "1"   # NOTIFY=NEVER: no report for c@
    veil.wait_event("delivered", queue_id=queued["queue_id"])
    [dump] = home.messages()
    assert b"X-Mail-Args: <>" in dump and b"X-Rcpt-Args: <a@corp.example>" in dump
    report = email.message_from_bytes(dump)   # smtp-sink's X-* lines are just more header fields
    assert report.get_content_type() == "multipart/report"
    parts = report.get_payload()
    status = parts[1].as_string()
    assert "Final-Recipient: rfc822; b@example.org" in status
    assert "Original-Recipient: rfc822;b@example.org" in status
    assert "Original-Envelope-Id: case42" in status
    assert "Action: failed" in status and "Status: 5." in status
    assert "c@example.org" not in status
    assert parts[2].get_content_type() == "text/rfc822-headers"
    assert "Subject: will bounce" in parts[2].as_string()


def test_refused_connection_is_deferred(make_veil, sink):
    veil = routed(make_veil, sink, scrub=SCRUB)        # the sink is not started: nothing listens
    qid = send(veil)
    deferred = veil.wait_event("deferred", queue_id=qid)[0]
    assert "connect" in deferred["reply"]
    assert [m["id"] for m in veil.messages()] == [qid]


def test_required_tls_never_sends_in_plain_text(make_veil, sink):
    sink.start()                          # smtp-sink offers no STARTTLS
    veil = routed(make_veil, sink, delivery={"tls": "required"}, scrub=SCRUB)
    qid = send(veil)
    veil.wait_event("deferred", queue_id=qid)
    assert sink.messages() == []
    assert [m["id"] for m in veil.messages()] == [qid]


def test_notify_success_gets_a_relayed_report_when_the_next_hop_has_no_dsn(make_veil, make_sink):
    """smtp-sink offers no DSN, so Veil cannot pass NOTIFY=SUCCESS on: it tells the
    sender itself that the message was relayed (RFC 3461 §5.2.2)."""
    import email
    dest = make_sink("dest").start("-N")        # -N: no DSN announced
    home = make_sink("home", host="127.0.0.3").start()
    veil = routed(make_veil, dest, home=home)
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org", params="NOTIFY=SUCCESS,FAILURE")
        c.rcpt("c@example.org")
        qid = queue_id(c.data(message("tell me", to="b@example.org")))
        c.quit()
    report_id = veil.wait_event("report_queued", original_queue_id=qid)[0]["queue_id"]
    veil.wait_event("delivered", queue_id=report_id)
    [dump] = home.messages()
    status = email.message_from_bytes(dump).get_payload()[1].as_string()
    assert "Final-Recipient: rfc822; b@example.org" in status and "Action: relayed" in status
    assert "c@example.org" not in status


def test_notify_success_is_passed_on_when_the_next_hop_has_dsn(make_veil, sink):
    sink.start()                                      # smtp-sink announces DSN
    veil = routed(make_veil, sink, scrub=SCRUB)
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org", params="NOTIFY=SUCCESS")
        qid = queue_id(c.data(message("pass it on")))
        c.quit()
    veil.wait_event("delivered", queue_id=qid)
    assert b"X-Rcpt-Args: <b@example.org> NOTIFY=SUCCESS" in sink.messages()[0]
    assert veil.events("report_queued") == []
