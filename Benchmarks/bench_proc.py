"""CPU time and peak memory of a process tree, read from /proc (Linux), for
Benchmarks/relay_bench.py. Veil is one process (many threads); Postfix is a master
process with short- and long-lived children (smtpd, cleanup, qmgr, smtp,
trivial-rewrite, anvil, postlogd, ...), so both are measured as "a root process
and all its descendants"."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (field 3 is index 0),
    or None when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def tree_pids(root: int) -> list[int]:
    """ROOT and every live process below it (by parent pid; one scan of /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


def tree_cpu_seconds(root: int) -> float:
    """CPU time (user + system, all threads) used so far by ROOT and its descendants.

    For each live process of the tree: utime + stime, plus cutime + cstime, the
    times of its children that have exited and been reaped (which already include
    *their* reaped children). The Postfix master reaps every child it started (an
    smtpd that reached max_use, a cleanup or smtp that was idle too long), so a
    process that lived and died between two readings is in the master's cutime and
    cstime at the second one, and one still alive is counted on its own. The
    difference of two readings is therefore all the CPU the tree used in between.
    Read it when the relay is idle: a child that exits during the /proc scan can be
    missed or counted twice. Resolution: one clock tick (1/CLK_TCK s) per process."""
    ticks = 0
    for pid in tree_pids(root):
        fields = _stat(pid)
        if fields:  # utime, stime, cutime, cstime are stat fields 14 to 17
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / CLK_TCK


def tree_context_switches(root: int) -> int:
    """Context switches (voluntary + nonvoluntary) so far of every thread of ROOT
    and of its live descendants: /proc/PID/task/TID/status, since /proc/PID/status
    has the main thread's only. Unlike the CPU times, Linux keeps no total of the
    reaped children's switches that another process could read, so a process that
    exited in between is missing from a difference of two readings (Postfix's smtpd
    and cleanup processes, recycled after max_use; not Veil, one process whose
    threads live as long as it does). bench_perf.PerfStat's count includes them."""
    switches = 0
    for pid in tree_pids(root):
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            continue
        for tid in tasks:
            try:
                status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            switches += sum(int(n) for n in re.findall(r"^(?:non)?voluntary_ctxt_switches:\s+(\d+)", status, re.M))
    return switches


def device_flushes(path: str) -> tuple[str, int] | None:
    """(device name, flush requests it has completed so far) for the block device
    that holds PATH: field 16 of /sys/dev/block/MAJ:MIN/stat (Linux 5.5+). These are
    the cache flushes that fsync and fdatasync cause, counted for the whole system.
    None when the file system has no block device (tmpfs, overlay) or the kernel no
    such field."""
    device = os.stat(path).st_dev
    sys_path = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}")
    try:
        fields = (sys_path / "stat").read_text().split()
    except FileNotFoundError:
        return None
    return (sys_path.resolve().name, int(fields[15])) if len(fields) >= 17 else None


def rss_kb(pid: int) -> int | None:
    """The resident memory of PID now (VmRSS), in kB."""
    try:
        match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(match.group(1)) if match else None


def hwm_kb(pid: int) -> int | None:
    try:
        match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(match.group(1)) if match else None


class PeakRSS:
    """Peak resident memory (VmHWM) of a process tree, sampled every `interval`
    seconds by a background thread, so that processes that exit during a run are
    seen too. Two figures: the largest VmHWM of any one process, and the largest
    sum of the VmHWM of the processes alive at one sample (each process counts the
    shared library pages it touched, so for Postfix the sum overstates what its
    processes use together; for Veil both figures are the same).

    reset() starts a new measurement: it also resets the kernel's high-water mark
    of every process of the tree (`echo 5 > /proc/PID/clear_refs`, Linux 4.0+), so
    the figures belong to what runs after it. When that is not allowed, the
    figures are peaks since each process started, and `since_start` is True."""

    def __init__(self, root: int, interval: float = 0.2):
        self.root, self.interval = root, interval
        self.since_start = False
        self._lock = threading.Lock()
        self._largest = self._sum = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self):
        marks = [mark for mark in map(hwm_kb, tree_pids(self.root)) if mark]
        with self._lock:
            self._largest = max([self._largest, *marks])
            self._sum = max(self._sum, sum(marks))

    def reset(self):
        with self._lock:
            for pid in tree_pids(self.root):
                try:
                    Path(f"/proc/{pid}/clear_refs").write_text("5")
                except FileNotFoundError:
                    pass
                except OSError:
                    self.since_start = True
            self._largest = self._sum = 0

    def result_mb(self) -> tuple[float, float]:
        """(largest single process, largest sum) in MB, with a last sample now."""
        self.sample()
        with self._lock:
            return self._largest / 1024, self._sum / 1024

    def close(self):
        self._stop.set()
        self._thread.join()
