"""A real receiving MTA for the delivery tests: Postfix's smtp-sink on a loopback
address, dumping every message it accepts to a folder."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from harness import wait_listening

SINK_HOST = "127.0.0.2"


def free_port(host: str = SINK_HOST) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Sink:
    """smtp-sink -d DIR/msg- HOST:PORT; `options` e.g. ["-r", "RCPT"] (4xx) or ["-f", "RCPT"] (5xx)."""

    def __init__(self, directory: Path, port: int | None = None, host: str = SINK_HOST):
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or free_port(host)
        self.proc: subprocess.Popen | None = None

    @property
    def route(self) -> str:
        return f"[{self.host}]:{self.port}"

    def start(self, *options: str) -> "Sink":
        binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        self.proc = subprocess.Popen([binary, *options, "-u", "root", "-d", str(self.directory / "msg-%H%M%S."),
                                      f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}", "128"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_listening(self.host, self.port, f"smtp-sink on {self.route}")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def messages(self) -> list[bytes]:
        """The messages received. smtp-sink opens a dump file at MAIL: a transaction
        refused before its text leaves an empty one, which is no message."""
        dumps = (p.read_bytes() for p in sorted(self.directory.glob("msg-*")))
        return [dump for dump in dumps if dump]
