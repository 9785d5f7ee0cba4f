#!/usr/bin/env python3
"""End-to-end benchmark (not a test): the release `veil` between Postfix's
smtp-source and smtp-sink on loopback, with the exchange scrub profile.

  1. 20 000 x 10 KB messages from `smtp-source -s 20` through Veil to smtp-sink:
     messages per second (accepted and delivered) and Veil's CPU ms per message;
  2. one 50 MB message end to end: time and Veil's peak RSS.

Run with `make bench` (it builds the release binary first)."""

from __future__ import annotations

import os
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VEIL = os.environ.get("VEIL_BIN", str(REPO / ".build" / "release" / "veil"))
COUNT = int(os.environ.get("BENCH_MESSAGES", "20000"))


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else float("nan")


class Veil:
    def __init__(self, workdir: Path, sink_port: int):
        self.config = workdir / "veil.toml"
        self.config.write_text(f"""hostname = "bench.veil.test"
spool_dir = "{workdir / 'spool'}"
[[listener]]
name = "plain"
address = "127.0.0.1:0"
tls = "none"
auth = "off"
relay_networks = ["127.0.0.0/8"]
[limits]
max_connections_per_ip = 1000
max_message_size = "64MB"
[scrub]
profile = "exchange"
[delivery]
mode = "mx"
retry = ["1s"]
[[delivery.domain]]
domain = "example.org"
route = "[127.0.0.8]:{sink_port}"
[log]
level = "info"
""")
        self.proc = subprocess.Popen([VEIL, "serve", "--config", str(self.config)], stderr=subprocess.PIPE, text=True)
        self.port = None
        self.delivered = 0
        self.ready = threading.Event()
        self.done = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(30):
            sys.exit("veil did not start")

    def _read(self):
        for line in self.proc.stderr:
            if "event=listening" in line:
                self.port = int(re.search(r"address=127\.0\.0\.1:(\d+)", line).group(1))
            elif "event=ready" in line:
                self.ready.set()
            elif "event=delivered" in line:
                with self.done:
                    self.delivered += 1
                    self.done.notify_all()

    def wait_delivered(self, count: int, timeout: float):
        end = time.monotonic() + timeout
        with self.done:
            while self.delivered < count:
                left = end - time.monotonic()
                if left <= 0:
                    sys.exit(f"only {self.delivered} of {count} delivered")
                self.done.wait(left)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


def main():
    for tool in ("smtp-source", "smtp-sink"):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            sys.exit(f"{tool} missing (Debian package postfix)")
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        sink_port = free_port("127.0.0.8")
        sink = subprocess.Popen(["smtp-sink", "-u", "root", f"127.0.0.8:{sink_port}", "512"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        veil = Veil(workdir, sink_port)
        try:
            cpu0, start = cpu_seconds(veil.proc.pid), time.monotonic()
            subprocess.run(["smtp-source", "-s", "20", "-m", str(COUNT), "-l", "10240", "-f", "a@corp.example",
                            "-t", "b@example.org", f"127.0.0.1:{veil.port}"], check=True, timeout=1800)
            accepted = time.monotonic() - start
            veil.wait_delivered(COUNT, timeout=1800)
            total = time.monotonic() - start
            cpu = cpu_seconds(veil.proc.pid) - cpu0
            print(f"veil relay bench: {COUNT} x 10 KB messages, smtp-source -s 20 -> veil -> smtp-sink")
            print(f"  accepted:  {COUNT / accepted:8.0f} messages/s ({accepted:.1f} s)")
            print(f"  delivered: {COUNT / total:8.0f} messages/s end to end ({total:.1f} s)")
            print(f"  veil CPU:  {cpu * 1000 / COUNT:8.2f} ms per message")

            body = ("x" * 76 + "\r\n") * (50 * 1024 * 1024 // 78)
            big = f"From: a@corp.example\r\nTo: b@example.org\r\nSubject: big\r\n\r\n{body}"
            start = time.monotonic()
            with smtplib.SMTP("127.0.0.1", veil.port, timeout=600) as client:
                client.sendmail("a@corp.example", ["b@example.org"], big)
            veil.wait_delivered(COUNT + 1, timeout=600)
            print(f"  50 MB message: {time.monotonic() - start:.1f} s end to end; veil peak RSS {peak_rss_mb(veil.proc.pid):.0f} MB")
        finally:
            veil.stop()
            sink.terminate()


if __name__ == "__main__":
    main()
