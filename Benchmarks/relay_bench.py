#!/usr/bin/env python3
"""End-to-end benchmark (not a test): Veil against Postfix as the anonymizing
relay, on loopback, one after the other in the same run on the same machine
(issues 6 and 17).

  1. direct: the load generator straight into smtp-sink, the physical limit;
  2. Veil: the release `veil` (scrub mode "allowlist", the default), routing
     example.org to an smtp-sink;
  2b. Veil signing every message with an RSA-2048 and an Ed25519 DKIM key
     (issue 15), otherwise the same;
  3. Postfix: a private instance in a temporary directory (bench_relays.Postfix),
     relaying everything to an smtp-sink, header_checks removing Received,
     X-Mailer, X-Originating-IP and User-Agent, queue files fsynced as usual.
Both relays keep their default delivery settings (Veil: 10 connections per
destination, Postfix: 20) and fsync each message before its 250.

Load, as an Exchange send connector sends to a smart host: N 10 KB messages
(N = $BENCH_MESSAGES, default 20 000; Exchange's header fields, about 3 KB) from
`veil-bench load` (LoadGenerator.swift: PIPELINING, BDAT when offered), 20
concurrent clients, at 1 and at 20 messages per connection; a fresh relay and
sink for each run. Then one 50 MB message sent with smtplib to a fresh relay.
Veil's spool and Postfix's queue are in a temporary directory under
$BENCH_TMPDIR (default /var/tmp; a warning when that is a tmpfs). Printed for
each run (bench_load.Cell):
  - accepted msg/s: N / the time the load generator took;
  - end-to-end msg/s: N / the time until the sink had received N messages
    (smtp-sink -c counts them);
  - CPU ms per message: user + system CPU of the relay's processes (Veil: its one
    process; Postfix: the master and all its children, including the ones that
    exited during the run; bench_proc.tree_cpu_seconds) from the start of the run
    until the relay had logged every message as delivered, divided by N;
  - context switches per message over the same time: counted by perf (every
    thread of the relay's processes and of those they started, including the
    ones that exited; bench_perf), and summed from /proc/PID/task/*/status
    (processes alive at the end only: for Postfix the difference is its recycled
    smtpd and cleanup processes);
  - fsyncs per message: fsync, fdatasync, sync_file_range, ... calls of the
    relay's processes, counted by perf's syscall tracepoints (bench_perf);
  - device flushes per message: cache flushes completed by the disk of the spool
    (/sys/block/DEV/stat), whole system: what the fsyncs cost the disk;
  - accept latency p50 and p99: from the end of a message's text to its 250,
    measured by the load generator;
  - outbound messages per connection: what the sink saw (connection reuse);
  - peak RSS (VmHWM) of the largest process and summed over the processes alive
    together (bench_proc.PeakRSS), during the run and during the 50 MB message;
then the Veil/Postfix ratios and the targets of issue 17, each "met" or "NOT
met". perf needs root; without it those rows print "-".

Needs root (Postfix's master; smtp-sink -u root) and the Debian package postfix
(postfix, postconf, smtp-sink). The system's Postfix configuration and queue are
not used. Run with `make bench` (it builds the release binaries first);
VEIL_BIN=path benchmarks another binary, VEIL_BENCH_BIN=path another generator.
`make bench-long` (bench_long.py) is the long run; `make bench-profile`
(BENCH_PROFILE=file) runs Veil at 20 messages per connection only, under perf
record."""

from __future__ import annotations

import os
import shutil
import smtplib
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import bench_perf
from bench_load import LOAD, TIMEOUT, Cell, measure_direct, measure_relay, running
from bench_relays import SINK_HOST, VEIL, Postfix, Sink, Veil, VeilDKIM

COUNT = int(os.environ.get("BENCH_MESSAGES", "20000"))
# Veil's spool and Postfix's queue go here (not /tmp, often a tmpfs, where fsync is free).
SCRATCH = os.environ.get("BENCH_TMPDIR", "/var/tmp")
PER_CONNECTION = (1, 20)  # messages per connection: one, and as an Exchange send connector reuses it
RELAYS = {"veil": Veil, "veil+dkim": VeilDKIM, "postfix": Postfix}
SENDER, RECIPIENT = "a@corp.example", "b@example.org"

# Issue 17: Veil end to end >= 4x Postfix's msg/s at 1 and at 20 messages per
# connection; <= 0.5 ms CPU per message; <= 0.2 fsync per message at 20 clients;
# accept latency p99 <= 20 ms; peak RSS <= 64 MB in the 20 000-message run; a 50 MB
# message end to end in <= 1.5x the direct time, with peak RSS <= 64 MB.
TARGET_SPEEDUP, TARGET_CPU_MS, TARGET_FSYNCS, TARGET_P99_MS = 4.0, 0.5, 0.2, 20
TARGET_RSS_MB, TARGET_BIG_RATIO, TARGET_BIG_RSS_MB = 64, 1.5, 64


@dataclass
class Big:
    seconds: float                # the 50 MB message, until the sink had it
    rss: tuple | None = None      # (largest process, sum) MB


def big_message() -> bytes:
    body = ("x" * 76 + "\r\n") * (50 * 1024 * 1024 // 78)
    return f"From: {SENDER}\r\nTo: {RECIPIENT}\r\nSubject: big\r\n\r\n{body}".encode()


def send_big(host: str, port: int, sink: Sink, message: bytes) -> float:
    """One 50 MB message with smtplib; seconds until the sink had it."""
    before = sink.count()
    start = time.monotonic()
    with smtplib.SMTP(host, port, timeout=600) as client:
        client.sendmail(SENDER, [RECIPIENT], message)
    return sink.wait_count(before + 1, 600) - start


def big_direct(workdir: Path, message: bytes) -> Big:
    sink = Sink(workdir, "direct-big")
    try:
        return Big(send_big(SINK_HOST, sink.port, sink, message))
    finally:
        sink.close()


def big_relay(relay_class, workdir: Path, message: bytes) -> tuple[Big, bool]:
    """The 50 MB message to a freshly started relay, so that its peak RSS is the
    message's and not what a 10 KB run left behind."""
    with running(relay_class, workdir, "big") as (relay, sink, rss):
        seconds = send_big("127.0.0.1", relay.port, sink, message)
        return Big(seconds, rss.result_mb()), rss.since_start


def report(cells: dict, bigs: dict, since_start: bool, perf_note: str | None):
    """CELLS: (column, messages per connection) -> Cell; BIGS: column -> Big."""
    columns = ["direct", *RELAYS]

    def row(label, values, fmt):
        cells_text = "".join(f"{'-' if v is None else format(v, fmt):>10}" for v in values)
        veil, postfix = values[1], values[3]
        ratio = f"{veil / postfix:>13.2f}x" if None not in (veil, postfix) and postfix else ""
        print(f"  {label:<46}{cells_text}{ratio}")

    peak = " (since start)" if since_start else ""
    print(f"relay bench: {COUNT} x 10 KB Exchange-style messages from 20 clients (veil-bench load: PIPELINING,"
          f" BDAT), a fresh relay and smtp-sink per run; then one 50 MB message (smtplib)")
    print(f"  {'':<46}{''.join(f'{c:>10}' for c in columns)}{'veil/postfix':>14}")
    for per in PER_CONNECTION:
        print(f"{per} message{'s' if per > 1 else ''} per connection")
        figures = [cells[(column, per)] for column in columns]
        relays = [None, *figures[1:]]
        row("accepted, msg/s", [f.accepted for f in figures], ".0f")
        row("end to end, msg/s", [f.end_to_end for f in figures], ".0f")
        row("CPU, ms per message", [f and f.cpu_ms for f in relays], ".2f")
        row("context switches per message (perf)", [f and f.switches for f in relays], ".1f")
        row("  from /proc, processes alive at the end", [f and f.switches_proc for f in relays], ".1f")
        row("fsyncs per message (perf)", [f and f.fsyncs for f in relays], ".2f")
        row("disk cache flushes per message (whole system)", [f and f.device_flushes for f in relays], ".2f")
        row("accept latency p50, ms", [f.p50_ms for f in figures], ".2f")
        row("accept latency p99, ms", [f.p99_ms for f in figures], ".2f")
        row("messages per outbound connection", [f.outbound_per_session for f in figures], ".1f")
        row(f"peak RSS, MB, largest{peak}", [f and f.rss[0] for f in relays], ".1f")
        row("peak RSS, MB, sum", [f and f.rss[1] for f in relays], ".1f")
    print("50 MB message, to a fresh relay")
    row("end to end, s", [bigs[c].seconds for c in columns], ".2f")
    row(f"peak RSS, MB, largest{peak}", [bigs[c].rss and bigs[c].rss[0] for c in columns], ".1f")
    row("peak RSS, MB, sum", [bigs[c].rss and bigs[c].rss[1] for c in columns], ".1f")
    print("  (sum: the VmHWM of the processes alive at the same time added up; shared library pages count"
          " once per process)")
    transfers = ", ".join(f"{c} {cells[(c, PER_CONNECTION[0])].transfer}" for c in columns)
    print(f"  text sent as: {transfers} (BDAT where CHUNKING is offered)")
    if perf_note:
        print(f"  perf rows not measured: {perf_note}")
    dkim = [cells[("veil+dkim", p)].cpu_ms - cells[("veil", p)].cpu_ms for p in PER_CONNECTION]
    print(f"  veil+dkim: every message signed with RSA-2048 and Ed25519 (DKIM, issue 15); signing costs"
          f" {' / '.join(f'{d:.2f}' for d in dkim)} ms CPU per message at {' / '.join(map(str, PER_CONNECTION))}"
          f" per connection (veil-bench: each key alone)")

    def target(text, value, ok):
        print(f"  {text:<64}{value:<12}{'-' if ok is None else 'met' if ok else 'NOT met'}")

    print("targets (issue 17), Veil without DKIM:")
    for per in PER_CONNECTION:
        veil, postfix = cells[("veil", per)], cells[("postfix", per)]
        speedup = veil.end_to_end / postfix.end_to_end
        target(f"end to end >= {TARGET_SPEEDUP:g}x Postfix msg/s, {per}/connection", f"{speedup:.2f}x",
               speedup >= TARGET_SPEEDUP)
        target(f"CPU <= {TARGET_CPU_MS:g} ms per message, {per}/connection", f"{veil.cpu_ms:.2f} ms",
               veil.cpu_ms <= TARGET_CPU_MS)
        target(f"fsyncs <= {TARGET_FSYNCS:g} per message at 20 clients, {per}/connection",
               "-" if veil.fsyncs is None else f"{veil.fsyncs:.2f}",
               None if veil.fsyncs is None else veil.fsyncs <= TARGET_FSYNCS)
        target(f"accept latency p99 <= {TARGET_P99_MS:g} ms, {per}/connection", f"{veil.p99_ms:.2f} ms",
               veil.p99_ms <= TARGET_P99_MS)
    rss = max(cells[("veil", per)].rss[0] for per in PER_CONNECTION)
    target(f"peak RSS <= {TARGET_RSS_MB} MB in the {COUNT}-message runs"
           f"{'' if COUNT == 20000 else ' (the target: 20000)'}", f"{rss:.1f} MB", rss <= TARGET_RSS_MB)
    big_ratio = bigs["veil"].seconds / bigs["direct"].seconds
    target(f"50 MB end to end <= {TARGET_BIG_RATIO:g}x direct ({bigs['direct'].seconds:.2f} s)",
           f"{big_ratio:.2f}x", big_ratio <= TARGET_BIG_RATIO)
    target(f"peak RSS during the 50 MB message <= {TARGET_BIG_RSS_MB} MB", f"{bigs['veil'].rss[0]:.1f} MB",
           bigs["veil"].rss[0] <= TARGET_BIG_RSS_MB)


def check_prerequisites():
    for tool in ("smtp-sink", "postfix", "postconf"):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            sys.exit(f"{tool} missing (Debian package postfix)")
    for binary in (VEIL, LOAD):
        if not Path(binary).exists():
            sys.exit(f"{binary} missing (swift build -c release, or make bench)")
    if os.geteuid() != 0:
        sys.exit("relay_bench.py needs root (the Postfix master, smtp-sink -u root)")
    os.environ["PATH"] = os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"


def filesystem(path: str) -> str:
    """The type of the file system that holds PATH (longest mount point of /proc/mounts)."""
    path, best = os.path.realpath(path), ("", "?")
    for line in Path("/proc/mounts").read_text().splitlines():
        point, kind = line.split()[1:3]
        if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) > len(best[0]):
            best = (point, kind)
    return best[1]


def profile_only(workdir: Path, output: Path):
    """BENCH_PROFILE=file: Veil alone at 20 messages per connection, under perf
    record; the report with call graphs goes to the file, its top 30 functions
    (self time) are printed."""
    cell, _ = measure_relay(Veil, workdir, COUNT, 20, use_perf=False, profile=output)
    print(f"veil at 20 messages per connection under perf record -g: {cell.end_to_end:.0f} msg/s end to end,"
          f" {cell.cpu_ms:.2f} ms CPU per message; call graphs in {output}; the top functions:")
    print("\n".join(bench_perf.top_functions(workdir / "veil.perf.data", 30)))


def main():
    check_prerequisites()
    kind = filesystem(SCRATCH)
    print(f"load average before the run: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs);"
          f" spool and queue in {SCRATCH} ({kind})", flush=True)
    if kind == "tmpfs":
        print("  warning: fsync costs nothing on tmpfs; set BENCH_TMPDIR to a disk", flush=True)
    with tempfile.TemporaryDirectory(prefix="veil-bench-", dir=SCRATCH) as directory:
        workdir = Path(directory)
        workdir.chmod(0o755)  # Postfix's daemons (user postfix) must reach its queue below
        if os.environ.get("BENCH_PROFILE"):
            return profile_only(workdir, Path(os.environ["BENCH_PROFILE"]))
        perf_note = bench_perf.unavailable()
        cells, since_start = {}, False
        for per in PER_CONNECTION:
            cells[("direct", per)] = measure_direct(workdir, COUNT, per)
            for name, relay_class in RELAYS.items():
                cells[(name, per)], reset_failed = measure_relay(relay_class, workdir, COUNT, per, perf_note is None)
                since_start |= reset_failed
        message = big_message()
        bigs = {"direct": big_direct(workdir, message)}
        for name, relay_class in RELAYS.items():
            bigs[name], reset_failed = big_relay(relay_class, workdir, message)
            since_start |= reset_failed
    report(cells, bigs, since_start, perf_note)


if __name__ == "__main__":
    main()
