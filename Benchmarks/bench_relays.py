# Longer than 300 lines: the three relays under test (smtp-sink, Veil, a private Postfix) and their logs, each set up the way the benchmark compares them.
"""The processes of Benchmarks/relay_bench.py: smtp-sink (the receiving end),
Veil, and a private Postfix instance, each in a temporary directory and each
stopped by close() (also after a failed start)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VEIL = os.environ.get("VEIL_BIN", str(REPO / ".build" / "release" / "veil"))
SINK_HOST = "127.0.0.8"  # a loopback address nobody else listens on
DKIM_DOMAIN = "corp.example"  # the benchmarks' senders' domain (a@corp.example)
# The fields both relays remove (Veil: none of them is on its allowlist).
SCRUBBED_FIELDS = ("Received", "X-Mailer", "X-Originating-IP", "User-Agent")


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(condition, timeout: float, what: str, interval: float = 0.005) -> float:
    """Poll `condition` until it is true; returns time.monotonic() at that moment."""
    end = time.monotonic() + timeout
    while True:
        now = time.monotonic()
        if condition():
            return now
        if now > end:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class LogFile:
    """A log file that a relay writes, read incrementally: counts the lines that
    contain `marker` (only whole lines, the last one may still be being written)."""

    def __init__(self, path: Path, marker: str):
        self.path, self.marker = path, marker.encode()
        self.offset = self.matches = 0

    def count(self) -> int:
        try:
            with open(self.path, "rb") as log:
                log.seek(self.offset)
                data = log.read()
        except FileNotFoundError:
            return 0
        end = data.rfind(b"\n") + 1
        self.offset += end
        self.matches += sum(self.marker in line for line in data[:end].splitlines())
        return self.matches

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


class Sink:
    """`smtp-sink -c` on SINK_HOST: accepts and discards mail, and prints a running
    "sess=S quit=Q mesg=M" counter (CR-separated, flushed per message) to a file;
    count() is the last M, the number of messages received so far."""

    def __init__(self, workdir: Path, name: str):
        self.port = free_port(SINK_HOST)
        self.output = workdir / f"sink-{name}.out"
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(["smtp-sink", "-c", "-u", "root", f"{SINK_HOST}:{self.port}", "512"],
                                         stdout=out, stderr=subprocess.DEVNULL)
        wait_until(self._listening, 10, "smtp-sink to listen", interval=0.05)

    def _listening(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"smtp-sink exited with status {self.proc.returncode}")
        with socket.socket() as probe:  # counts as a session, not as a message
            return probe.connect_ex((SINK_HOST, self.port)) == 0

    def counts(self) -> tuple[int, int]:
        """(sessions, messages) so far."""
        with open(self.output, "rb") as out:
            out.seek(max(0, out.seek(0, os.SEEK_END) - 128))
            counts = re.findall(rb"sess=(\d+) .*?mesg=(\d+)", out.read())
        return (int(counts[-1][0]), int(counts[-1][1])) if counts else (0, 0)

    def count(self) -> int:
        return self.counts()[1]

    def open_sessions(self) -> int:
        """Connections to the sink that it has not closed yet (ESTABLISHED or
        CLOSE_WAIT on its side, in /proc/net/tcp). smtp-sink counts a session when
        it ends, so its session count is final once this is 0."""
        local = f"{socket.inet_aton(SINK_HOST)[::-1].hex().upper()}:{self.port:04X}"
        sockets = (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
        return sum(1 for fields in sockets if fields[1] == local and fields[3] in ("01", "08"))

    def wait_count(self, count: int, timeout: float) -> float:
        """Time (monotonic) at which the sink had received `count` messages."""
        return wait_until(lambda: self.count() >= count, timeout, f"{count} messages at the sink")

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)


class Veil:
    """The release `veil serve` with the default scrubbing (allowlist) and a route for
    example.org to the sink; its log (stderr) goes to veil.log."""

    # Subclasses sign: (selector, `veil dkim keygen --algorithm`) per key.
    dkim_keys: tuple = ()

    def __init__(self, workdir: Path, sink: Sink):
        dkim = ""
        for selector, algorithm in self.dkim_keys:
            key = workdir / f"{selector}.pem"
            subprocess.run([VEIL, "dkim", "keygen", "--domain", DKIM_DOMAIN, "--selector", selector,
                            "--algorithm", algorithm, "--out", str(key)], check=True, stdout=subprocess.DEVNULL)
            dkim += f'[[dkim]]\ndomain = "{DKIM_DOMAIN}"\nselector = "{selector}"\nprivate_key = "{key}"\n'
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
mode = "allowlist"
[delivery]
mode = "mx"
retry = ["1s"]
[[delivery.domain]]
domain = "example.org"
route = "[{SINK_HOST}]:{sink.port}"
[log]
level = "info"
{dkim}""")
        self.log = LogFile(workdir / "veil.log", "event=delivered")
        with open(self.log.path, "wb") as log:
            # `make bench` runs as root: allowed for this measurement only (RootGuard).
            self.proc = subprocess.Popen([VEIL, "serve", "--config", str(self.config)], stderr=log,
                                         env={**os.environ, "VEIL_ALLOW_ROOT": "1"})
        self.pid = self.proc.pid
        try:
            wait_until(self._ready, 30, "veil to start", interval=0.05)
            listening = re.search(r"event=listening .*address=127\.0\.0\.1:(\d+)", self.log.path.read_text())
            self.port = int(listening.group(1))
        except Exception:
            print(self.log.tail(), file=sys.stderr)
            self.close()
            raise

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"veil exited with status {self.proc.returncode}")
        return "event=ready" in self.log.path.read_text()

    def delivered(self) -> int:
        """Messages Veil has logged as delivered (event=delivered)."""
        return self.log.count()

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class VeilDKIM(Veil):
    """Veil signing every message twice (DKIM, RFC 6376 and RFC 8463): an RSA-2048
    and an Ed25519 key for the senders' domain."""

    dkim_keys = (("rsa", "rsa-2048"), ("ed", "ed25519"))


class Postfix:
    """A private Postfix instance, the same setup as a hardened relay: everything
    for example.org goes to the sink (relayhost), header_checks remove the
    SCRUBBED_FIELDS, queue files are fsynced as always. Its own directories under
    WORKDIR: etc/ (main.cf, master.cf, header_checks), queue/, data/, maillog.
    Every postfix/postconf command gets `-c WORKDIR/etc`, so the system's
    /etc/postfix and /var/spool/postfix are never used.

    Needs root: the master starts as root and runs its daemons as `postfix`."""

    def __init__(self, workdir: Path, sink: Sink):
        self.root = workdir
        self.etc, self.queue = workdir / "etc", workdir / "queue"
        self.port = free_port("127.0.0.1")
        self.log = LogFile(workdir / "maillog", ": removed")  # qmgr's last word on a message
        self.pid = self.pgid = None
        try:
            self._configure(sink)
            self._postfix("check")  # creates queue/ and data/ (post-install create-missing)
            self._postfix("start")
            self._find_master()
            if self.pid is None:
                raise RuntimeError(f"postfix started, but no master process in {self.queue}/pid/master.pid")
        except Exception:
            self.close()
            raise

    def _configure(self, sink: Sink):
        # The daemons run as `postfix`: the directories above the queue must be
        # searchable by it (mkdtemp makes 0700 directories).
        self.root.chmod(0o755)
        self.etc.mkdir(mode=0o755)
        self.queue.mkdir(mode=0o755)
        (self.etc / "header_checks").write_text(f"/^({'|'.join(SCRUBBED_FIELDS)}):/ IGNORE\n")
        (self.etc / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.root / 'data'}
mail_owner = postfix
myhostname = bench.postfix.test
mydomain = postfix.test
mydestination =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [{SINK_HOST}]:{sink.port}
header_checks = regexp:{self.etc / 'header_checks'}
message_size_limit = {64 * 1024 * 1024}
mailbox_size_limit = 0
smtputf8_enable = no
# No DNS at all: the relayhost is an address, clients are not looked up (Veil
# does no reverse lookups either).
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_peername_lookup = no
# No syslog here: postlogd writes the log (master.cf has its postlog service).
maillog_file = {self.log.path}
maillog_file_prefixes = {self.root}
""")
        shutil.copy("/etc/postfix/master.cf", self.etc / "master.cf")
        # No chroot (the chroot would need copies of /etc files in the queue
        # directory), and the TCP listeners (smtp on port 25, maybe submission...)
        # replaced by one smtpd on our port.
        self._postconf("-F", "*/*/chroot=n")
        for service in self._postconf("-M").splitlines():
            if service.split()[1:2] == ["inet"]:
                self._postconf("-MX", f"{service.split()[0]}/inet")
        self._postconf("-Me", f"127.0.0.1:{self.port}/inet=127.0.0.1:{self.port} inet n - n - - smtpd")

    def _env(self) -> dict:
        return {**os.environ, "MAIL_CONFIG": str(self.etc)}

    def _postconf(self, *args: str) -> str:
        return subprocess.run(["postconf", "-c", str(self.etc), *args], env=self._env(), check=True,
                              stdout=subprocess.PIPE, text=True).stdout

    def _postfix(self, command: str, timeout: float = 60):
        """`postfix -c ETC COMMAND`. The postfix command writes its errors to stderr
        only when that is a terminal (else to syslog, which may not exist), so it
        runs under `script`, which gives it one, and the output is kept for the
        error message."""
        argv = ["postfix", "-c", str(self.etc), command]
        if shutil.which("script"):
            argv = ["script", "-qec", shlex.join(argv), "/dev/null"]
        done = subprocess.run(argv, env=self._env(), timeout=timeout, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        if done.returncode != 0:
            raise RuntimeError(f"postfix {command} failed ({done.returncode}): {done.stdout.strip()}\n"
                               f"maillog:\n{self.log.tail()}")

    def _find_master(self):
        """The master's pid (queue/pid/master.pid). The master calls setsid(), so
        it leads a process group that holds all of Postfix's processes."""
        pid_file = self.queue / "pid" / "master.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text().split()[0])
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.split(" (", 1)[1].startswith("master)"):
            self.pid = pid
            pgid = int(stat.rsplit(")", 1)[1].split()[2])
            if pgid == pid and pgid != os.getpgrp():
                self.pgid = pgid

    def delivered(self) -> int:
        """Messages that Postfix has delivered and removed from its queue."""
        return self.log.count()

    def close(self):
        """`postfix stop`, then SIGKILL to whatever is left of the master's process
        group after 10 s (also when start failed halfway)."""
        if self.pid is None:
            try:
                self._find_master()
            except (OSError, ValueError, IndexError):
                pass
        if self.pid is None:
            return
        try:
            self._postfix("stop", timeout=30)
        except Exception as error:
            print(f"postfix stop: {error}", file=sys.stderr)
        if self.pgid is not None:
            try:
                wait_until(lambda: not _group_alive(self.pgid), 10, "postfix to stop", interval=0.1)
            except TimeoutError:
                os.killpg(self.pgid, signal.SIGKILL)
        self.pid = None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False

