"""`veil queue list|show|flush|hold|release|delete|bounce`, as a mail administrator
uses them on a live relay: what the listing says matches the queue index, and each
change does what it says (log events, queue rows, spool files, mail sent or not).

Longer than 300 lines: one test module for the one `veil queue` command and its seven
subcommands, which share the listing helpers and the two misbehaving peers below.

By default the harness delivers to a smarthost on a closed port with a one-hour
retry, so accepted mail sits deferred after one attempt: only `flush` (or
`release`) makes Veil try again within a test."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import threading
from datetime import datetime, timedelta, timezone

from harness import routed, send_message, wait_until

NOT_RUNNING = "veil is not running"
SUMMARY_RE = re.compile(r"^-- (\d+) message\(s\)(?:, (\d+) held)?; recipients: (\d+) queued, (\d+) deferred, "
                        r"(\d+) delivered, (\d+) bounced$")
RECIPIENT_RE = re.compile(r'^    <(?P<address>[^>]*)>  (?P<state>\w+)(?:  attempts=(?P<attempts>\d+))?'
                          r'(?:  next=(?P<next>\S+))?(?:  last="(?P<last>.*)")?$')


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------

def queue(veil, command: str, *args: str) -> subprocess.CompletedProcess:
    """`veil queue COMMAND --config ... ARGS`, as the administrator runs it (Veil.queue)."""
    return veil.queue(command, *args)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"{result.args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def listing(veil) -> list[dict]:
    return json.loads(ok(queue(veil, "list", "--json")).stdout)


def entry(veil, qid: str) -> dict:
    [found] = [e for e in listing(veil) if e["id"] == qid]
    return found


def send(veil, recipients=("b@example.org",), subject="queue admin test") -> str:
    return send_message(veil, recipients, subject)


def send_deferred(veil, recipients=("b@example.org",), subject="queue admin test") -> str:
    """Accepted, tried once (refused: the smarthost port is closed), deferred for an hour."""
    qid = send(veil, recipients, subject)
    veil.wait_event("deferred", queue_id=qid, attempt="1", count=len(recipients))
    return qid


def attempts_rows(veil, qid: str) -> list[dict]:
    return veil._query("SELECT * FROM attempts WHERE message_id = ?", (qid,))


def parse_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def control_socket(veil):
    return os.path.join(os.environ.get("RUNTIME_DIRECTORY") or str(veil.spool), "veil.sock")


# --------------------------------------------------------------------------------------
# list and show
# --------------------------------------------------------------------------------------

def test_list_and_show_a_deferred_message(make_veil):
    veil = make_veil()
    qid = send(veil, ["b@example.org", "c@example.org"], subject="quarterly report")
    events = {e["to"]: e for e in veil.wait_event("deferred", queue_id=qid, count=2)}
    row = veil.message(qid)

    # JSON: the index, as stored.
    [e] = listing(veil)
    assert e["id"] == qid and e["sender"] == "a@corp.example" and e["held"] is False
    assert e["size"] == row["size"] and e["created"] == row["received_at"]
    db = {r["address"]: r for r in veil.recipients(qid)}
    assert [r["address"] for r in e["recipients"]] == ["b@example.org", "c@example.org"]
    for r in e["recipients"]:
        assert r["state"] == "deferred" and r["attempts"] == 1
        assert r["next_attempt"] == db[r["address"]]["next_attempt"] == events[f"<{r['address']}>"]["next_attempt"]
        assert r["last_reply"] == db[r["address"]]["last_reply"] == events[f"<{r['address']}>"]["reply"]
        assert "refused" in r["last_reply"].lower()
        # retry = 1h: the next attempt is not before the hour is nearly up
        assert parse_rfc3339(r["next_attempt"]) > datetime.now(timezone.utc) + timedelta(minutes=50)

    # Text: the same facts.
    text = ok(queue(veil, "list")).stdout.splitlines()
    assert len(text) == 4, text
    head = text[0].split("  ")
    assert head[0] == qid and head[1] == f"{row['size']} B" and re.fullmatch(r"\d+s|\d+m", head[2])
    assert head[3] == "<a@corp.example>" and "HELD" not in text[0]
    by_text = {}
    for line in text[1:3]:
        m = RECIPIENT_RE.match(line)
        assert m, line
        by_text[m["address"]] = m
    for r in e["recipients"]:
        m = by_text[r["address"]]
        assert (m["state"], int(m["attempts"]), m["next"], m["last"]) == \
            (r["state"], r["attempts"], r["next_attempt"], r["last_reply"])
    assert SUMMARY_RE.match(text[3]).groups() == ("1", None, "0", "2", "0", "0"), text[3]

    # show: envelope, history of the failed attempt, headers as they will be sent.
    shown = ok(queue(veil, "show", qid)).stdout.splitlines()
    assert f"queue id:   {qid}" in shown
    assert "sender:     <a@corp.example>" in shown
    assert f"size:       {row['size']} bytes" in shown
    assert "held:       no" in shown
    for r in e["recipients"]:
        ev = events[f"<{r['address']}>"]
        i = shown.index(f"  <{r['address']}>  deferred, 1 attempt(s), next {r['next_attempt']}")
        assert re.fullmatch(r"    \d{4}-\d\d-\d\dT\S+  deferred  via " + re.escape(f"{ev['relay']}: {ev['reply']}"),
                            shown[i + 1]), shown[i + 1]
    h = shown.index("headers (as they will be sent):")
    headers = shown[h + 1:]
    assert "  Subject: quarterly report" in headers
    assert "  From: <a@corp.example>" in headers and "  To: <b@example.org>" in headers
    assert all(line == "" or line.startswith("  ") for line in headers), headers
    assert not any("Hello from the e2e suite" in line for line in shown), "the body is not shown"


def test_list_and_show_work_without_the_daemon(make_veil):
    veil = make_veil()
    qid = send_deferred(veil, subject="read while stopped")
    before = listing(veil)
    shown_before = ok(queue(veil, "show", qid)).stdout
    assert veil.stop() == 0
    assert listing(veil) == before
    shown_after = ok(queue(veil, "show", qid)).stdout

    def no_age(text):
        return [l for l in text.splitlines() if not l.startswith("received:")]
    assert no_age(shown_after) == no_age(shown_before)
    assert qid in ok(queue(veil, "list")).stdout


def test_empty_queue(make_veil):
    veil = make_veil()
    assert listing(veil) == []
    assert ok(queue(veil, "list")).stdout.strip() == \
        "-- 0 message(s); recipients: 0 queued, 0 deferred, 0 delivered, 0 bounced"


# --------------------------------------------------------------------------------------
# hold, flush, release
# --------------------------------------------------------------------------------------

def test_held_message_is_not_tried_when_flushed_until_released(make_veil):
    veil = make_veil()
    held = send_deferred(veil, subject="hold me")
    other = send_deferred(veil, subject="keep going")

    r = ok(queue(veil, "hold", held))
    assert r.stdout.splitlines()[0].startswith(f"{held}: held")
    veil.wait_event("queue_held", queue_id=held)
    assert veil.message(held)["held"] == 1 and veil.message(other)["held"] == 0
    assert [(e["id"], e["held"]) for e in listing(veil)] == sorted([(held, True), (other, False)])
    text = ok(queue(veil, "list")).stdout.splitlines()
    assert [l for l in text if l.startswith(held)][0].endswith("  HELD")
    assert not [l for l in text if l.startswith(other)][0].endswith("HELD")
    assert SUMMARY_RE.match(text[-1]).group(2) == "1", text[-1]
    assert "held:       yes (no delivery until released)" in ok(queue(veil, "show", held)).stdout

    # Flush both by id: only the one not held is tried again.
    mark = veil.mark()
    r = ok(queue(veil, "flush", held, other))
    assert re.fullmatch(r"\d+ deferred recipient\(s\) to be tried now\n", r.stdout), r.stdout
    veil.wait_event("queue_flushed", since=mark)
    veil.wait_event("deferred", since=mark, queue_id=other, attempt="2")
    # Barrier: the session that tried `other` has ended once it can be tried again.
    ok(queue(veil, "flush", other))
    veil.wait_event("deferred", since=mark, queue_id=other, attempt="3")
    ok(queue(veil, "flush"))
    veil.wait_event("deferred", since=mark, queue_id=other, attempt="4")
    assert veil.events("deferred", since=mark, queue_id=held) == []
    assert veil.events("delivered", since=mark, queue_id=held) == []
    assert [r["attempts"] for r in entry(veil, held)["recipients"]] == [1]
    assert [r["attempts"] for r in veil.recipients(held)] == [1]

    # Released (and flushed): tried again. The flush while held already made its
    # recipient due, so the release alone may start the attempt; either way the
    # second attempt follows.
    mark = veil.mark()
    r = ok(queue(veil, "release", held))
    assert r.stdout == f"{held}: released\n"
    veil.wait_event("queue_released", since=mark, queue_id=held)
    ok(queue(veil, "flush", held))
    veil.wait_event("deferred", since=mark, queue_id=held, attempt="2")
    e = entry(veil, held)
    assert e["held"] is False and e["recipients"][0]["attempts"] >= 2
    assert "HELD" not in ok(queue(veil, "list")).stdout


def test_flush_makes_a_deferred_message_go_now(make_veil, sink):
    """The destination was down; it is back. Without flush the retry is an hour
    away; with flush the message is delivered at once."""
    # The sink is not started: the first attempt is refused.
    veil = routed(make_veil, sink, delivery={"retry": ["1h"]})
    qid = send(veil, subject="flush me")
    first = veil.wait_event("deferred", queue_id=qid)[0]
    assert first["relay"] == sink.route
    [r] = entry(veil, qid)["recipients"]
    assert parse_rfc3339(r["next_attempt"]) > datetime.now(timezone.utc) + timedelta(minutes=50)

    sink.start()
    assert sink.messages() == []
    mark = veil.mark()
    r = ok(queue(veil, "flush"))
    assert r.stdout == "1 deferred recipient(s) to be tried now\n"
    flushed = veil.wait_event("queue_flushed", since=mark)[0]
    assert flushed["ids"] == "all" and flushed["recipients"] == "1"
    delivered = veil.wait_event("delivered", since=mark, queue_id=qid)[0]
    assert delivered["attempt"] == "2" and delivered["relay"] == sink.route
    wait_until(lambda: veil.messages() == [] and veil.spool_files() == [], what="message leaves the queue")
    [dump] = sink.messages()
    assert b"Subject: flush me" in dump and b"X-Rcpt-Args: <b@example.org>" in dump
    assert listing(veil) == []


# --------------------------------------------------------------------------------------
# delete and bounce
# --------------------------------------------------------------------------------------

def test_delete_removes_the_message_without_a_bounce(make_veil):
    veil = make_veil()
    qid = send_deferred(veil, ["b@example.org", "c@example.org"], subject="delete me")
    keep = send_deferred(veil, subject="keep me")
    assert veil.spool_file(qid).exists() and attempts_rows(veil, qid)

    mark = veil.mark()
    r = ok(queue(veil, "delete", qid))
    assert r.stdout == f"{qid}: deleted\n"
    veil.wait_event("queue_deleted", since=mark, queue_id=qid)
    assert veil.message(qid) is None and veil.recipients(qid) == [] and attempts_rows(veil, qid) == []
    assert not veil.spool_file(qid).exists()
    assert [m["id"] for m in veil.messages()] == [keep]
    assert [e["id"] for e in listing(veil)] == [keep]
    assert veil.spool_files() == [veil.spool_file(keep)]

    # No report to the sender: after a full pass of the runner, still nothing queued.
    ok(queue(veil, "flush", keep))
    veil.wait_event("deferred", since=mark, queue_id=keep, attempt="2")
    assert veil.events("bounce_queued", since=mark) == [] and veil.events("bounced", since=mark) == []
    assert [m["id"] for m in veil.messages()] == [keep]

    # It is gone for the tools too.
    gone = queue(veil, "show", qid)
    assert gone.returncode == 1 and "not in the queue" in gone.stderr
    again = queue(veil, "delete", qid)
    assert again.returncode == 1 and again.stdout == f"{qid}: not in the queue\n"


def test_bounce_returns_the_message_to_the_sender(make_veil):
    veil = make_veil()
    qid = send_deferred(veil, ["b@example.org", "c@example.org"], subject="bounce me")

    mark = veil.mark()
    r = ok(queue(veil, "bounce", qid))
    assert r.stdout == f"{qid}: bounced to the sender\n"
    bounced = veil.wait_event("bounced", since=mark, queue_id=qid, count=2)
    assert sorted(b["to"] for b in bounced) == ["<b@example.org>", "<c@example.org>"]
    assert all("5.0.0" in b["reply"] and b["reply"].startswith("5") for b in bounced)
    queued = veil.wait_event("bounce_queued", since=mark, original_queue_id=qid)[0]
    assert queued["to"] == "<a@corp.example>" and queued["recipients"] == "2"
    dsn = queued["queue_id"]

    wait_until(lambda: qid not in [m["id"] for m in veil.messages()], what="original leaves the queue")
    assert not veil.spool_file(qid).exists() and veil.recipients(qid) == []

    # The report waits in the queue, from <> to the sender.
    assert veil.message(dsn)["sender"] == ""
    assert [r["address"] for r in veil.recipients(dsn)] == ["a@corp.example"]
    [e] = listing(veil)
    assert e["id"] == dsn and e["sender"] == "" and [r["address"] for r in e["recipients"]] == ["a@corp.example"]
    assert f"{dsn}  " in ok(queue(veil, "list")).stdout and "  <>" in ok(queue(veil, "list")).stdout
    report = veil.spool_bytes(dsn)
    assert b"multipart/report" in report
    assert b"Final-Recipient: rfc822; b@example.org" in report and b"Final-Recipient: rfc822; c@example.org" in report
    assert b"Status: 5.0.0" in report
    assert b"Subject: bounce me" in report           # the original's headers

    # Bouncing the report itself (null sender): gone, and no report about a report.
    mark = veil.mark()
    r = ok(queue(veil, "bounce", dsn))
    assert r.stdout == f"{dsn}: bounced to the sender\n"
    veil.wait_event("bounced", since=mark, queue_id=dsn)
    wait_until(lambda: veil.messages() == [] and veil.spool_files() == [], what="queue empty")
    assert veil.events("bounce_queued", since=mark) == []


def test_held_message_can_be_bounced(make_veil):
    veil = make_veil()
    qid = send_deferred(veil, subject="held then bounced")
    ok(queue(veil, "hold", qid))
    mark = veil.mark()
    ok(queue(veil, "bounce", qid))
    veil.wait_event("bounced", since=mark, queue_id=qid)
    dsn = veil.wait_event("bounce_queued", since=mark, original_queue_id=qid)[0]["queue_id"]
    wait_until(lambda: [m["id"] for m in veil.messages()] == [dsn], what="only the report left")


# --------------------------------------------------------------------------------------
# a message in the middle of a delivery
# --------------------------------------------------------------------------------------

class StalledServer:
    """Accepts connections and never greets: a delivery to it stays in progress
    until the test closes the connections."""

    def __init__(self, host="127.0.0.8"):
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.host, self.port = self.sock.getsockname()
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def route(self):
        return f"[{self.host}]:{self.port}"

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections.append(conn)

    def count(self):
        with self.lock:
            return len(self.connections)

    def hang_up(self):
        with self.lock:
            for c in self.connections:
                c.close()

    def close(self):
        self.hang_up()
        self.sock.close()


def test_message_being_delivered_cannot_be_deleted_but_can_be_held(make_veil):
    server = StalledServer()
    try:
        veil = make_veil(delivery={"mode": "mx", "smarthost": None, "retry": ["1s"]},
                         routes=[{"domain": "example.org", "route": server.route}])
        qid = send(veil, subject="in flight")
        wait_until(lambda: server.count() == 1, what="Veil connects to the stalled server")

        for command in ("delete", "bounce"):
            r = queue(veil, command, qid)
            assert r.returncode == 1, (command, r.stdout, r.stderr)
            assert r.stdout.startswith(f"{qid}: being delivered right now"), r.stdout
        assert veil.message(qid) is not None and veil.spool_file(qid).exists()
        assert veil.events("queue_deleted") == [] and veil.events("bounced") == []

        r = ok(queue(veil, "hold", qid))
        assert r.stdout.startswith(f"{qid}: held")
        mark = veil.mark()
        server.hang_up()
        veil.wait_event("deferred", since=mark, queue_id=qid, attempt="1")
        # Held: even flushed (retry is 1 s anyway), it is not taken into a new
        # session, so the delete now succeeds and no second connection was made.
        ok(queue(veil, "flush", qid))
        r = ok(queue(veil, "delete", qid))
        assert r.stdout == f"{qid}: deleted\n"
        assert server.count() == 1
        assert veil.messages() == [] and not veil.spool_file(qid).exists()
    finally:
        server.close()


# --------------------------------------------------------------------------------------
# the daemon is not running; the control socket
# --------------------------------------------------------------------------------------

CHANGES = (("flush",), ("flush", "{id}"), ("hold", "{id}"), ("release", "{id}"), ("delete", "{id}"), ("bounce", "{id}"))


def assert_changes_refused(veil, qid):
    for command, *args in CHANGES:
        r = queue(veil, command, *(a.format(id=qid) for a in args))
        assert r.returncode == 1, (command, r.returncode, r.stdout, r.stderr)
        assert NOT_RUNNING in r.stderr, (command, r.stderr)
        assert r.stdout == "", (command, r.stdout)


def test_changes_need_the_daemon_and_list_still_works(make_veil):
    veil = make_veil()
    qid = send_deferred(veil, subject="daemon stopped")
    before = veil.recipients(qid)
    assert os.path.exists(control_socket(veil))
    assert veil.stop() == 0
    assert not os.path.exists(control_socket(veil)), "the socket is removed on a clean stop"

    assert_changes_refused(veil, qid)
    # Nothing changed.
    assert veil.message(qid)["held"] == 0 and veil.recipients(qid) == before and veil.spool_file(qid).exists()
    assert [e["id"] for e in listing(veil)] == [qid]
    assert qid in ok(queue(veil, "list")).stdout
    assert f"queue id:   {qid}" in ok(queue(veil, "show", qid)).stdout


def test_stale_socket_after_a_crash(make_veil):
    """kill -9 leaves the socket file behind: the tools still say the daemon is not
    running, and the daemon starts again on it."""
    veil = make_veil()
    qid = send_deferred(veil, subject="crash")
    veil.kill9()
    assert os.path.exists(control_socket(veil))
    assert_changes_refused(veil, qid)
    veil.restart()
    mode = os.stat(control_socket(veil)).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    r = ok(queue(veil, "hold", qid))
    assert r.stdout.startswith(f"{qid}: held")
    veil.wait_event("queue_held", queue_id=qid)
    assert veil.message(qid)["held"] == 1


def test_control_socket_is_owner_only(make_veil):
    veil = make_veil()
    st = os.stat(control_socket(veil))
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert st.st_uid == os.getuid()
    assert not os.path.exists(control_socket(veil) + ".new")


def test_control_socket_path_from_the_config(make_veil, tmp_path):
    path = tmp_path / "admin.sock"
    veil = make_veil(top={"control_socket": str(path)})
    qid = send_deferred(veil, subject="custom socket")
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert not (veil.spool / "veil.sock").exists()
    r = ok(queue(veil, "hold", qid))
    assert r.stdout.startswith(f"{qid}: held")
    veil.stop()
    assert not path.exists()
    r = queue(veil, "release", qid)
    assert r.returncode == 1 and NOT_RUNNING in r.stderr and str(path) in r.stderr


# --------------------------------------------------------------------------------------
# unknown ids
# --------------------------------------------------------------------------------------

def test_unknown_ids_are_reported_and_the_others_still_processed(make_veil):
    veil = make_veil()
    qid = send_deferred(veil, subject="known")

    r = queue(veil, "hold", qid, "NOSUCHID1")
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"{qid}: held") and lines[1] == "NOSUCHID1: not in the queue"
    veil.wait_event("queue_held", queue_id=qid)
    assert veil.message(qid)["held"] == 1

    r = queue(veil, "release", "NOSUCHID2", qid)
    assert r.returncode == 1 and r.stdout.splitlines() == ["NOSUCHID2: not in the queue", f"{qid}: released"]
    veil.wait_event("queue_released", queue_id=qid)
    assert veil.message(qid)["held"] == 0
    assert veil.events("queue_held", queue_id="NOSUCHID1") == []

    for command in ("delete", "bounce"):
        r = queue(veil, command, "NOSUCHID3")
        assert r.returncode == 1 and r.stdout == "NOSUCHID3: not in the queue\n", (command, r.stdout)
    r = queue(veil, "show", "NOSUCHID4")
    assert r.returncode == 1 and "not in the queue" in r.stderr and r.stdout == ""

    # The real message is untouched by all this.
    assert [m["id"] for m in veil.messages()] == [qid] and veil.spool_file(qid).exists()
    assert veil.events("queue_deleted") == [] and veil.events("bounce_queued") == []


def test_flush_of_an_unknown_id_says_so(make_veil):
    """Like the other commands: an id that is not queued is named, exit status 1."""
    veil = make_veil()
    qid = send_deferred(veil, subject="flush known")
    mark = veil.mark()
    r = queue(veil, "flush", qid, "NOSUCHID5")
    veil.wait_event("deferred", since=mark, queue_id=qid, attempt="2")   # the known one is still flushed
    assert "NOSUCHID5: not in the queue" in r.stdout.splitlines(), r.stdout
    assert r.returncode == 1


# --------------------------------------------------------------------------------------
# output from clients and remote servers is shown escaped
# --------------------------------------------------------------------------------------

class RudeServer:
    """Answers RCPT with a 4xx reply carrying terminal escape sequences."""

    REPLY = b"450 4.2.0 \x1b]0;owned\x07mailbox \x1b[2Jbusy\x7f\r\n"

    def __init__(self, host="127.0.0.9"):
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.host, self.port = self.sock.getsockname()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def route(self):
        return f"[{self.host}]:{self.port}"

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn, conn.makefile("rb") as f:
            conn.sendall(b"220 rude.test ESMTP\r\n")
            for line in f:
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250 rude.test\r\n")
                elif verb == b"RCPT":
                    conn.sendall(self.REPLY)
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")

    def close(self):
        self.sock.close()


def test_control_characters_are_shown_escaped(make_veil):
    server = RudeServer()
    try:
        veil = make_veil(delivery={"mode": "mx", "smarthost": None, "retry": ["1h"]},
                         routes=[{"domain": "example.org", "route": server.route}])
        qid = send(veil, subject="hello \x1b[31mred\x1b[0m")
        veil.wait_event("deferred", queue_id=qid)
        [r] = veil.recipients(qid)
        raw_reply = r["last_reply"]
        assert "\x1b]0;owned\x07" in raw_reply      # the queue keeps what the server said
        for command, args in (("list", ()), ("list", ("--json",)), ("show", (qid,))):
            out = ok(queue(veil, command, *args)).stdout
            # JSON must escape C0 controls (RFC 8259 §7); the text also DEL and C1.
            controls = r"[\x00-\x08\x0b-\x1f]" if "--json" in args else r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]"
            assert not re.search(controls, out.replace("\n", "")), (command, repr(out))
            if "--json" not in args:
                assert "\\x1b]0;owned\\x07mailbox \\x1b[2Jbusy\\x7f" in out, (command, out)
        shown = ok(queue(veil, "show", qid)).stdout
        assert "  Subject: hello \\x1b[31mred\\x1b[0m" in shown.splitlines(), shown
        # JSON carries the text itself, escaped by JSON.
        [e] = listing(veil)
        assert e["recipients"][0]["last_reply"] == raw_reply
    finally:
        server.close()
