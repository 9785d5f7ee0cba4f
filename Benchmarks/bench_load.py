"""One measured run of Benchmarks/relay_bench.py: COUNT messages from
`veil-bench load` (20 clients, M messages per connection) into a freshly started
relay that passes them on to its own smtp-sink, or straight into an smtp-sink
("direct"), and what that cost the relay."""

from __future__ import annotations

import json
import os
import subprocess
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import bench_perf
from bench_proc import PeakRSS, device_flushes, tree_context_switches, tree_cpu_seconds, tree_pids
from bench_relays import REPO, SINK_HOST, Sink, wait_until

LOAD = os.environ.get("VEIL_BENCH_BIN", str(REPO / ".build" / "release" / "veil-bench"))
CLIENTS, SIZE = 20, 10240
TIMEOUT = 1800  # seconds, for any one step


@dataclass
class Cell:
    """The figures of one run; per message means divided by the messages sent."""
    accepted: float                       # msg/s: N / the time veil-bench load took
    end_to_end: float                     # msg/s: N / the time until the sink had N
    p50_ms: float                         # accept latency (end of the text to its 250)
    p99_ms: float
    outbound_per_session: float           # messages per connection that the sink saw
    transfer: str                         # how the generator sent the text: BDAT or DATA
    cpu_ms: float | None = None           # relay CPU (bench_proc.tree_cpu_seconds)
    switches: float | None = None         # context switches, perf (exited processes too)
    switches_proc: float | None = None    # the same from /proc (live processes only)
    fsyncs: float | None = None           # fsync, fdatasync, ... calls (perf)
    device_flushes: float | None = None   # cache flushes of the spool's disk, whole system
    rss: tuple | None = None              # (largest process, sum) MB, bench_proc.PeakRSS


def run_load(port: int, count: int, per_connection: int, host: str = "127.0.0.1", wait: bool = True):
    """`veil-bench load`; its JSON report (wait=True), or the running process."""
    argv = [LOAD, "load", "--host", host, "--port", str(port), "--clients", str(CLIENTS),
            "--per-connection", str(per_connection), "--count", str(count), "--size", str(SIZE)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    return load_report(proc) if wait else proc


def load_report(proc: subprocess.Popen, strict: bool = True) -> dict:
    """The JSON report of a `veil-bench load` run started with wait=False. STRICT:
    an error when a message was not accepted; else only when there is no report."""
    output, _ = proc.communicate(timeout=TIMEOUT)
    lines = output.strip().splitlines()
    report = json.loads(lines[-1]) if lines else {}
    if not report or (strict and (proc.returncode != 0 or report.get("failed"))):
        raise RuntimeError(f"veil-bench load failed ({proc.returncode}): {report.get('failed')} messages not"
                           f" accepted, first error: {report.get('error')}")
    return report


def sink_reuse(sink: Sink) -> float:
    """Messages per session the sink saw, once every session has ended (call it
    after the sender has stopped: a relay keeps idle connections open for a
    while, and smtp-sink counts a session only when it ends)."""
    wait_until(lambda: sink.open_sessions() == 0, 60, "the sink's sessions to end", interval=0.05)
    sessions, messages = sink.counts()
    return messages / max(1, sessions - 1)  # less the probe made while waiting for it to listen


def measure_direct(workdir: Path, count: int, per_connection: int) -> Cell:
    sink = Sink(workdir, f"direct-{per_connection}")
    try:
        start = time.monotonic()
        load = run_load(sink.port, count, per_connection, host=SINK_HOST)
        accepted = time.monotonic() - start
        total = sink.wait_count(count, TIMEOUT) - start
        return Cell(count / accepted, count / total, load["p50_milliseconds"], load["p99_milliseconds"],
                    sink_reuse(sink), load["transfer"])
    finally:
        sink.close()


@contextmanager
def running(relay_class, workdir: Path, step: str):
    """A fresh relay (Veil or Postfix) with its own sink and directory
    (WORKDIR/veil-load1, ...); yields (relay, sink, PeakRSS reset just now); stops
    them all afterwards, also on failure."""
    with ExitStack() as stack:
        name = f"{relay_class.__name__.lower()}-{step}"
        sink = Sink(workdir, name)
        stack.callback(sink.close)
        (workdir / name).mkdir()
        relay = relay_class(workdir / name, sink)
        stack.callback(relay.close)
        rss = PeakRSS(relay.pid)
        stack.callback(rss.close)
        rss.reset()
        yield relay, sink, rss


def measure_relay(relay_class, workdir: Path, count: int, per_connection: int, use_perf: bool,
                  profile: Path | None = None) -> tuple[Cell, bool]:
    """COUNT messages through a fresh relay, until it has logged every delivery.
    The second value is True when the RSS peaks could not be reset after start.
    With PROFILE, the report of a perf record call graph profile of the relay's
    main process during the run goes to that file (perf.data in WORKDIR)."""
    with running(relay_class, workdir, f"load{per_connection}") as (relay, sink, rss):
        perf = bench_perf.PerfStat(tree_pids(relay.pid), workdir / f"{relay_class.__name__}-{per_connection}.perf") \
            if use_perf else None
        recording = bench_perf.Profile(relay.pid, workdir / "veil.perf.data") if profile else None
        cpu, switches, flushes = tree_cpu_seconds(relay.pid), tree_context_switches(relay.pid), device_flushes(workdir)
        start = time.monotonic()
        load = run_load(relay.port, count, per_connection)
        accepted = time.monotonic() - start
        total = sink.wait_count(count, TIMEOUT) - start
        wait_until(lambda: relay.delivered() >= count, TIMEOUT, "the relay to log every delivery", interval=0.05)
        counts = perf.stop() if perf else {}
        if recording:
            recording.report(profile)
        cpu = tree_cpu_seconds(relay.pid) - cpu
        switches = tree_context_switches(relay.pid) - switches
        flushes_after = device_flushes(workdir)
        cell = Cell(count / accepted, count / total, load["p50_milliseconds"], load["p99_milliseconds"],
                    0, load["transfer"], cpu * 1000 / count,
                    counts["context-switches"] / count if counts else None, switches / count,
                    bench_perf.flush_calls(counts) / count if counts else None,
                    (flushes_after[1] - flushes[1]) / count if flushes and flushes_after else None,
                    rss.result_mb())
        relay.close()  # its idle outbound connections end now
        cell.outbound_per_session = sink_reuse(sink)
        return cell, rss.since_start
