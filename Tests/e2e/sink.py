"""A real receiving MTA for the delivery tests: Postfix's smtp-sink on a loopback
address, dumping every message it accepts to a folder; and the round trip through
Veil to it (spool_then_deliver). Tests get sinks from conftest's `sink` and
`make_sink` fixtures, which stop them after the test."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path

from harness import PeerProcess, wait_until

SINK_HOST = "127.0.0.2"


def free_port(host: str = SINK_HOST) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Sink(PeerProcess):
    """smtp-sink -d DIR/msg- HOST:PORT; `options` e.g. ["-r", "RCPT"] (4xx) or ["-f", "RCPT"] (5xx)."""

    def __init__(self, directory: Path, port: int | None = None, host: str = SINK_HOST):
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or free_port(host)

    @property
    def route(self) -> str:
        return f"[{self.host}]:{self.port}"

    def start(self, *options: str) -> "Sink":
        address = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        self.spawn("smtp-sink", [*options, "-u", "root", "-d", str(self.directory / "msg-%H%M%S."), address, "128"],
                   self.host, self.port, f"smtp-sink on {self.route}")
        return self

    def messages(self) -> list[bytes]:
        """The messages received. smtp-sink opens a dump file at MAIL: a transaction
        refused before its text leaves an empty one, which is no message."""
        dumps = (p.read_bytes() for p in sorted(self.directory.glob("msg-*")))
        return [dump for dump in dumps if dump]


def delivered_message(dump: bytes) -> bytes:
    """The message in one of smtp-sink's dumps, as Veil sent it: the dump is smtp-sink's
    own X-* lines and Received field, then the message with LF line ends, then one
    more LF. Returns the message with CRLF line ends."""
    lines = dump.split(b"\n")
    index = 0
    while lines[index].startswith(b"X-"):              # X-Client-Addr ... X-Rcpt-Args
        index += 1
    assert lines[index].startswith(b"Received: "), dump[:600]
    index += 1
    while lines[index][:1] in (b" ", b"\t"):
        index += 1
    assert b"smtp-sink" in b"\n".join(lines[:index]), dump[:600]
    text = b"\n".join(lines[index:])
    assert text.endswith(b"\n\n"), text[-200:]
    return text[:-1].replace(b"\n", b"\r\n")


@dataclass
class Relayed:
    """One message through Veil to a sink: what Veil received, its queue id, its spool
    file and the copy the sink got (CRLF line ends restored)."""
    sent: bytes
    qid: str
    spool: bytes = b""
    delivered: bytes = b""


SUBJECT_RE = re.compile(rb"(?im)^subject:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*")


def spool_then_deliver(veil, sink: Sink, relayed: list[Relayed], timeout: float = 60.0) -> list[Relayed]:
    """The round trip of messages Veil routes to `sink`, which is not started yet: the
    first attempt of each is refused (deferred), so its spool file is read as it
    stays; then the sink starts, and each must be delivered exactly once. Copies are
    told apart by the queue id in Veil's trace field, or by Subject where Veil writes
    none ([scrub] received = "none"). Fills in .spool and .delivered."""
    for r in relayed:
        veil.wait_event("deferred", queue_id=r.qid, timeout=timeout)
        r.spool = veil.spool_bytes(r.qid)
    sink.start()
    for r in relayed:
        veil.wait_event("delivered", queue_id=r.qid, timeout=timeout)
    wait_until(lambda: len(sink.messages()) >= len(relayed), timeout=timeout,
               what=f"{len(relayed)} messages at the sink")
    delivered = [delivered_message(dump) for dump in sink.messages()]
    for r in relayed:
        mine = [d for d in delivered if f" id {r.qid};".encode() in d.split(b"\r\n", 1)[0]]
        if not mine:
            subject = SUBJECT_RE.search(r.sent)
            mine = [d for d in delivered if subject and (m := SUBJECT_RE.search(d)) and m[0] == subject[0]]
        assert len(mine) == 1, f"{r.qid}: {len(mine)} delivered copies"
        r.delivered = mine[0]
    return relayed
