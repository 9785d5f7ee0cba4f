#!/usr/bin/env python3
"""The long run (not a test; `make bench-long`): BENCH_LONG messages (default
500 000) of 10 KB through Veil alone, from `veil-bench load` with 20 clients and
20 messages per connection, into an smtp-sink. Every BENCH_LONG_STEP messages
(default 50 000) that have reached the sink, and once more when Veil has logged
every delivery, it prints Veil's resident memory (VmRSS, and the peak VmHWM so
far) and the spool's disk use: the blocks of everything under the spool directory
(du), the sizes of queue.sqlite, its -wal and -shm files, and the messages/
files queued at that moment. Flat memory and a spool that shrinks back once the
queue drains are what issue 17 asks to see.

Needs root (smtp-sink -u root) and the release builds of veil and veil-bench
(make bench-long builds them). BENCH_TMPDIR as for relay_bench.py."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from bench_load import LOAD, TIMEOUT, load_report, run_load, running
from bench_proc import hwm_kb, rss_kb
from bench_relays import VEIL, Veil, wait_until

COUNT = int(os.environ.get("BENCH_LONG", "500000"))
STEP = int(os.environ.get("BENCH_LONG_STEP", "50000"))
SCRATCH = os.environ.get("BENCH_TMPDIR", "/var/tmp")
MB = 1024 * 1024


def disk_use(path: Path) -> int:
    """Bytes of the blocks allocated to PATH and everything below it (as du counts)."""
    total = 0
    for root, directories, files in os.walk(path):
        for name in [*directories, *files, "."]:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                pass  # removed since it was listed (a delivered message)
    return total


def size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def queued_files(spool: Path) -> int:
    try:
        return sum(1 for _ in os.scandir(spool / "messages"))
    except FileNotFoundError:
        return 0


class Samples:
    """The printed lines, kept for the summary."""

    def __init__(self, pid: int, spool: Path):
        self.pid, self.spool, self.rows = pid, spool, []
        self.start = self.last_time = time.monotonic()
        self.last_count = 0
        print(f"{'messages':>10}{'msg/s':>8}{'RSS MB':>9}{'HWM MB':>9}{'spool du MB':>13}{'db MB':>8}"
              f"{'wal MB':>8}{'shm MB':>8}{'queued':>8}")

    def take(self, label: str, count: int):
        now = time.monotonic()
        rate = (count - self.last_count) / (now - self.last_time) if now > self.last_time else 0
        self.last_time, self.last_count = now, count
        row = (rss_kb(self.pid) / 1024, hwm_kb(self.pid) / 1024, disk_use(self.spool) / MB)
        self.rows.append(row)
        database = self.spool / "queue.sqlite"
        print(f"{label:>10}{rate:>8.0f}{row[0]:>9.1f}{row[1]:>9.1f}{row[2]:>13.1f}{size(database) / MB:>8.1f}"
              f"{size(Path(f'{database}-wal')) / MB:>8.1f}{size(Path(f'{database}-shm')) / MB:>8.1f}"
              f"{queued_files(self.spool):>8}", flush=True)

    def summary(self):
        rss = [row[0] for row in self.rows[1:-1]] or [self.rows[-1][0]]
        half = rss[len(rss) // 2:]
        disk = [row[2] for row in self.rows]
        print(f"RSS: {rss[0]:.1f} MB after the first {STEP}, {rss[-1]:.1f} MB after the last;"
              f" {half[-1] - half[0]:+.1f} MB over the second half; peak {max(r[1] for r in self.rows):.1f} MB")
        print(f"spool: {disk[0]:.1f} MB at the start, at most {max(disk):.1f} MB during the run,"
              f" {disk[-1]:.1f} MB once every message was delivered")


def main():
    if os.geteuid() != 0:
        sys.exit("bench_long.py needs root (smtp-sink -u root)")
    for binary in (VEIL, LOAD):
        if not Path(binary).exists():
            sys.exit(f"{binary} missing (swift build -c release, or make bench-long)")
    os.environ["PATH"] = os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"
    print(f"long run: {COUNT} x 10 KB messages through Veil, 20 clients x 20 messages per connection;"
          f" spool in {SCRATCH}", flush=True)
    with tempfile.TemporaryDirectory(prefix="veil-bench-long-", dir=SCRATCH) as directory:
        with running(Veil, Path(directory), "long") as (relay, sink, _):
            samples = Samples(relay.pid, Path(directory) / "veil-long" / "spool")
            samples.take("start", 0)
            load = run_load(relay.port, COUNT, 20, wait=False)
            report = None  # the generator's, once it has ended
            for mark in range(STEP, COUNT + 1, STEP):
                if report and report["messages"] < mark:
                    break
                wait_until(lambda: sink.count() >= mark or (report is None and load.poll() is not None), TIMEOUT,
                           f"{mark} messages at the sink", interval=0.1)
                if sink.count() < mark:  # the generator ended first: Veil refused messages
                    report = load_report(load, strict=False)
                    if report["messages"] < mark:
                        break
                    wait_until(lambda: sink.count() >= mark, TIMEOUT, f"{mark} messages at the sink", interval=0.1)
                samples.take(str(mark), mark)
            report = report or load_report(load, strict=False)
            accepted = report["messages"]
            wait_until(lambda: relay.delivered() >= accepted, TIMEOUT, "Veil to log every delivery", interval=0.1)
            samples.take("drained", accepted)
    print(f"accepted {accepted / report['seconds']:.0f} msg/s, accept latency p50 {report['p50_milliseconds']:.2f} ms,"
          f" p99 {report['p99_milliseconds']:.2f} ms")
    if report["failed"]:
        print(f"NOT accepted: {report['failed']} messages (the rest of their connections too); first reply:"
              f" {report['error']}")
    samples.summary()


if __name__ == "__main__":
    main()
