"""perf(1) for Benchmarks/relay_bench.py: counts of the system calls that flush a
file to disk and of context switches, for a relay's processes, and a CPU profile.

perf attaches to every thread of the given processes, and its counters are
inherited by the threads and processes they start later and summed back when
these exit: Postfix's smtpd and cleanup processes, forked and reaped by the
master during the run, are counted, as the CPU figure counts them (checked here
with a shell that forked 50 processes that fsynced once each: 50). Needs root or
kernel.perf_event_paranoid <= -1 for the syscall tracepoints."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

# What "fsyncs" counts: every system call that asks for a file's data on disk.
FLUSH_CALLS = ("fsync", "fdatasync", "sync_file_range", "syncfs", "sync", "msync")
EVENTS = [f"syscalls:sys_enter_{call}" for call in FLUSH_CALLS] + ["context-switches"]


def unavailable() -> str | None:
    """Why perf cannot count these events here, or None when it can."""
    try:
        done = subprocess.run(["perf", "stat", "-x,", "-e", ",".join(EVENTS), "--", "true"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60)
    except FileNotFoundError:
        return "perf is not installed"
    if done.returncode != 0 or "<not supported>" in done.stderr or "not counted" in done.stderr:
        return f"perf stat fails: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
    return None


class _Controlled:
    """A perf command attached to running processes with its events off at first
    (-D -1), turned on through its control pipe; the constructor returns once
    perf has acknowledged, so nothing from then on is missed. stop() ends it with
    SIGINT, as ^C would."""

    def __init__(self, argv: list[str]):
        control_read, self._control = os.pipe()
        self._ack, ack_write = os.pipe()
        self.proc = subprocess.Popen([*argv[:2], "-D", "-1", f"--control=fd:{control_read},{ack_write}", *argv[2:]],
                                     pass_fds=(control_read, ack_write),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(control_read)
        os.close(ack_write)
        os.write(self._control, b"enable\n")
        if not os.read(self._ack, 16).startswith(b"ack"):
            self.proc.kill()
            raise RuntimeError(f"{' '.join(argv[:2])} did not acknowledge 'enable'")

    def _end(self):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(120)
        os.close(self._control)
        os.close(self._ack)


class PerfStat(_Controlled):
    """`perf stat -p PIDS` for EVENTS, from the constructor's return until stop()."""

    def __init__(self, pids: list[int], output: Path):
        self.output = output
        super().__init__(["perf", "stat", "-x,", "-o", str(output), "-e", ",".join(EVENTS),
                          "-p", ",".join(map(str, pids))])

    def stop(self) -> dict[str, int]:
        """Counts per event name ('fsync', ..., 'context-switches')."""
        self._end()
        counts = {}
        for line in self.output.read_text().splitlines():
            fields = line.split(",")
            if len(fields) > 2 and fields[2] in EVENTS:
                name = fields[2].removeprefix("syscalls:sys_enter_")
                counts[name] = int(fields[0]) if fields[0].isdigit() else 0
        return counts


def flush_calls(counts: dict[str, int]) -> int:
    return sum(counts.get(call, 0) for call in FLUSH_CALLS)


class Profile(_Controlled):
    """`perf record -F 999 -g -p PID` (call graphs) into the file DATA, from the
    constructor's return until report()."""

    def __init__(self, pid: int, data: Path):
        self.data = data
        super().__init__(["perf", "record", "-F", "999", "-g", "-o", str(data), "-p", str(pid)])

    def report(self, output: Path):
        """Stops recording; writes the report with call graphs (self time, no
        children's share, all threads together) to OUTPUT. perf follows frame
        pointers: stacks through libc (built without them) end in a stray address."""
        self._end()
        report = subprocess.run(["perf", "report", "--stdio", "--no-children", "--sort", "dso,symbol",
                                 "-i", str(self.data)],
                                check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
        output.write_text("\n".join(_tidy(line) for line in _demangled(report).splitlines()) + "\n")


def top_functions(data: Path, count: int) -> list[str]:
    """The COUNT functions with the most samples of their own in a perf.data file,
    all threads together."""
    report = subprocess.run(["perf", "report", "--stdio", "--no-children", "-g", "none", "--sort", "dso,symbol",
                             "-i", str(data)],
                            check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    return [_tidy(line) for line in _demangled(report).splitlines() if line.strip() and not line.startswith("#")][:count]


def _tidy(line: str) -> str:
    """A report line without the padding perf puts after long symbol names."""
    line = line.rstrip()
    return line.removesuffix("-      -").rstrip() if line.endswith("-      -") else line


def _demangled(text: str) -> str:
    """Swift names readable, when `swift demangle` is there."""
    try:
        return subprocess.run(["swift", "demangle", "--simplified"], input=text, check=True,
                              stdout=subprocess.PIPE, text=True).stdout
    except (FileNotFoundError, subprocess.CalledProcessError):
        return text
