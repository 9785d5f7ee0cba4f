#!/usr/bin/env python3
"""End-to-end benchmark (not a test): Veil against Postfix as the anonymizing
relay, on loopback, one after the other on the same machine (issue 6).

  1. direct: smtp-source and smtplib straight into smtp-sink, the physical limit;
  2. Veil: the release `veil` (scrub mode "allowlist", the default), routing example.org to
     an smtp-sink;
  2b. Veil signing every message with an RSA-2048 and an Ed25519 DKIM key
     (issue 15), otherwise the same;
  3. Postfix: a private instance in a temporary directory (bench_relays.Postfix),
     relaying everything to an smtp-sink, header_checks removing Received,
     X-Mailer, X-Originating-IP and User-Agent, queue files fsynced as usual.
Both relays keep their default delivery settings (Veil: 10 connections per
destination, Postfix: 20) and fsync each message before its 250.

Against each: N x 10 KB messages from `smtp-source -s 20` (N = $BENCH_MESSAGES,
default 20 000), then one 50 MB message sent with smtplib. Veil's spool and
Postfix's queue are in a temporary directory under $BENCH_TMPDIR (default
/var/tmp; a warning when that is a tmpfs). Printed for each:
  - accepted msg/s: N / the time smtp-source took;
  - end-to-end msg/s: N / the time until the sink had received N messages
    (smtp-sink -c counts them);
  - CPU ms per message: user + system CPU of the relay's processes (Veil: its one
    process; Postfix: the master and all its children, including the ones that
    exited during the run; bench_proc.tree_cpu_seconds) from the start of the run
    until the relay had logged every message as delivered, divided by N;
  - peak RSS (VmHWM) during the 10 KB run and during the 50 MB message, of the
    largest process and summed over the processes alive together
    (bench_proc.PeakRSS);
  - the 50 MB message, sent to a freshly started relay: time until the sink had
    it;
then the Veil/Postfix ratios and the targets of issue 6, each "met" or "NOT met".

Needs root (Postfix's master; smtp-sink -u root) and the Debian package postfix
(postfix, postconf, smtp-source, smtp-sink). The system's Postfix configuration and
queue are not used. Run with `make bench` (it builds the release binary first);
VEIL_BIN=path benchmarks another binary."""

from __future__ import annotations

import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench_proc import PeakRSS, tree_cpu_seconds
from bench_relays import SINK_HOST, VEIL, Postfix, Sink, Veil, VeilDKIM, wait_until

COUNT = int(os.environ.get("BENCH_MESSAGES", "20000"))
# Veil's spool and Postfix's queue go here (not /tmp, often a tmpfs, where fsync is free).
SCRATCH = os.environ.get("BENCH_TMPDIR", "/var/tmp")
TIMEOUT = 1800  # seconds, for any one step
SENDER, RECIPIENT = "a@corp.example", "b@example.org"

# Issue 6: Veil end to end >= 4x Postfix's msg/s; <= 0.5 ms CPU per message; a 50 MB
# message end to end in <= 1.5x the direct time, with peak RSS <= 64 MB.
TARGET_SPEEDUP, TARGET_CPU_MS, TARGET_BIG_RATIO, TARGET_BIG_RSS_MB = 4.0, 0.5, 1.5, 64


@dataclass
class Figures:
    accepted: float                     # msg/s, N / smtp-source's time
    end_to_end: float                   # msg/s, N / time until the sink had N
    big_seconds: float                  # the 50 MB message, until the sink had it
    cpu_ms: float | None = None         # relay CPU per message (not for direct)
    rss_load: tuple | None = None       # (largest process, sum) MB, 10 KB run
    rss_big: tuple | None = None        # the same during the 50 MB message


def big_message() -> bytes:
    body = ("x" * 76 + "\r\n") * (50 * 1024 * 1024 // 78)
    return f"From: {SENDER}\r\nTo: {RECIPIENT}\r\nSubject: big\r\n\r\n{body}".encode()


def send_load(host: str, port: int, sink: Sink) -> tuple[float, float]:
    """N x 10 KB with `smtp-source -s 20` (one message per connection); returns
    (seconds until smtp-source was done, seconds until the sink had N)."""
    start = time.monotonic()
    subprocess.run(["smtp-source", "-s", "20", "-m", str(COUNT), "-l", "10240", "-f", SENDER,
                    "-t", RECIPIENT, f"{host}:{port}"], check=True, timeout=TIMEOUT, stdout=subprocess.DEVNULL)
    accepted = time.monotonic() - start
    return accepted, sink.wait_count(COUNT, TIMEOUT) - start


def send_big(host: str, port: int, sink: Sink, message: bytes) -> float:
    """One 50 MB message with smtplib; seconds until the sink had it."""
    before = sink.count()
    start = time.monotonic()
    with smtplib.SMTP(host, port, timeout=600) as client:
        client.sendmail(SENDER, [RECIPIENT], message)
    return sink.wait_count(before + 1, 600) - start


def bench_direct(workdir: Path, message: bytes) -> Figures:
    sink = Sink(workdir, "direct")
    try:
        accepted, total = send_load(SINK_HOST, sink.port, sink)
        return Figures(COUNT / accepted, COUNT / total, send_big(SINK_HOST, sink.port, sink, message))
    finally:
        sink.close()


@contextmanager
def running(relay_class, workdir: Path, step: str):
    """A fresh relay (Veil or Postfix) with its own sink and directory
    (WORKDIR/veil-load, ...); yields (relay, sink, PeakRSS reset just now); stops
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


def bench_relay(relay_class, workdir: Path, message: bytes) -> tuple[Figures, bool]:
    """The 10 KB run, then the 50 MB message against a freshly started relay, so
    that its peak RSS is the message's and not what the 10 KB run left behind.
    The second value is True when the RSS peaks could not be reset after start."""
    with running(relay_class, workdir, "load") as (relay, sink, rss):
        cpu_before = tree_cpu_seconds(relay.pid)
        accepted, total = send_load("127.0.0.1", relay.port, sink)
        wait_until(lambda: relay.delivered() >= COUNT, TIMEOUT, "the relay to log every delivery", interval=0.05)
        cpu = tree_cpu_seconds(relay.pid) - cpu_before
        rss_load, since_start = rss.result_mb(), rss.since_start
    with running(relay_class, workdir, "big") as (relay, sink, rss):
        big = send_big("127.0.0.1", relay.port, sink, message)
        rss_big, since_start = rss.result_mb(), since_start or rss.since_start
    return Figures(COUNT / accepted, COUNT / total, big, cpu * 1000 / COUNT, rss_load, rss_big), since_start


def report(direct: Figures, veil: Figures, signing: Figures, postfix: Figures, rss_since_start: bool):
    def row(label, values, fmt, ratio=True):
        cells = "".join(f"{'-' if v is None else format(v, fmt):>10}" for v in values)
        extra = f"{values[1] / values[3]:>13.2f}x" if ratio and None not in (values[1], values[3]) and values[3] else ""
        print(f"  {label:<38}{cells}{extra}")

    peak = " (since start)" if rss_since_start else ""
    print(f"relay bench: {COUNT} x 10 KB messages (smtp-source -s 20), then one 50 MB message (smtplib);"
          f" loopback, each into its own smtp-sink")
    print(f"  {'':<38}{'direct':>10}{'veil':>10}{'veil+dkim':>10}{'postfix':>10}{'veil/postfix':>14}")
    figures = (direct, veil, signing, postfix)
    row("accepted, msg/s", [f.accepted for f in figures], ".0f")
    row("end to end, msg/s", [f.end_to_end for f in figures], ".0f")
    row("CPU, ms per message", [f.cpu_ms for f in figures], ".2f")
    row(f"peak RSS 10 KB run, MB, largest{peak}", [f.rss_load and f.rss_load[0] for f in figures], ".1f")
    row("peak RSS 10 KB run, MB, sum", [f.rss_load and f.rss_load[1] for f in figures], ".1f")
    row("50 MB message end to end, s", [f.big_seconds for f in figures], ".2f")
    row(f"peak RSS 50 MB message, MB, largest{peak}", [f.rss_big and f.rss_big[0] for f in figures], ".1f")
    row("peak RSS 50 MB message, MB, sum", [f.rss_big and f.rss_big[1] for f in figures], ".1f")
    print("  (sum: the VmHWM of the processes alive at the same time added up; shared library pages count"
          " once per process)")
    print(f"  veil+dkim: every message signed with RSA-2048 and Ed25519 (DKIM, issue 15); signing costs"
          f" {signing.cpu_ms - veil.cpu_ms:.2f} ms CPU per message end to end (veil-bench: each key alone)")

    def target(text, value, ok):
        print(f"  {text:<50}{value:<16}{'met' if ok else 'NOT met'}")

    speedup = veil.end_to_end / postfix.end_to_end
    big_ratio = veil.big_seconds / direct.big_seconds
    print("targets (issue 6):")
    target(f"Veil end to end >= {TARGET_SPEEDUP:g}x Postfix msg/s", f"{speedup:.2f}x", speedup >= TARGET_SPEEDUP)
    target(f"Veil CPU <= {TARGET_CPU_MS:g} ms per message", f"{veil.cpu_ms:.2f} ms", veil.cpu_ms <= TARGET_CPU_MS)
    target(f"50 MB end to end <= {TARGET_BIG_RATIO:g}x direct ({direct.big_seconds:.2f} s)",
           f"{big_ratio:.2f}x", big_ratio <= TARGET_BIG_RATIO)
    target(f"Veil peak RSS during the 50 MB message <= {TARGET_BIG_RSS_MB} MB", f"{veil.rss_big[0]:.1f} MB",
           veil.rss_big[0] <= TARGET_BIG_RSS_MB)


def check_prerequisites():
    for tool in ("smtp-source", "smtp-sink", "postfix", "postconf"):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            sys.exit(f"{tool} missing (Debian package postfix)")
    if not Path(VEIL).exists():
        sys.exit(f"{VEIL} missing (make release)")
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


def main():
    check_prerequisites()
    kind = filesystem(SCRATCH)
    print(f"load average before the run: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs);"
          f" spool and queue in {SCRATCH} ({kind})", flush=True)
    if kind == "tmpfs":
        print("  warning: fsync costs nothing on tmpfs; set BENCH_TMPDIR to a disk", flush=True)
    message = big_message()
    with tempfile.TemporaryDirectory(prefix="veil-bench-", dir=SCRATCH) as directory:
        workdir = Path(directory)
        workdir.chmod(0o755)  # Postfix's daemons (user postfix) must reach its queue below
        direct = bench_direct(workdir, message)
        veil, veil_since_start = bench_relay(Veil, workdir, message)
        signing, signing_since_start = bench_relay(VeilDKIM, workdir, message)
        postfix, postfix_since_start = bench_relay(Postfix, workdir, message)
    report(direct, veil, signing, postfix, veil_since_start or signing_since_start or postfix_since_start)


if __name__ == "__main__":
    main()
