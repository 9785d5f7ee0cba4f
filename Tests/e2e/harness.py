"""End-to-end harness for Veil: starts the real binary, talks SMTP to it, reads its spool.

Everything here uses the standard library only. Synchronisation is always "wait for a
log line / a reply / a condition, with a deadline" — never a fixed sleep.

Longer than 300 lines on purpose: it is the one module every test imports (config
files, the daemon, the raw SMTP client, sending, routes and PROXY sessions), in
sections that stand alone; the peers (sink.py, dns.py, scripted_mta.py) and the
fixtures (conftest.py) are apart.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VEIL_BIN = os.environ.get("VEIL_BIN", str(REPO / ".build" / "debug" / "veil"))
# The tests run as root (CI, containers), and `veil serve` refuses root unless this
# development switch is set; every process the tests start inherits it.
# test_root.py checks the refusal itself with the variable removed.
os.environ["VEIL_ALLOW_ROOT"] = "1"

HOSTNAME = "veil.test"
STARTUP_DEADLINE = 30.0
STOP_DEADLINE = 10.0
IO_TIMEOUT = 15.0

# Users: name -> (password, allowed domains or None)
USERS = {
    "demo": ("demo", None),
    "limited": ("limited", ["corp.example"]),
    # A password that cannot be confused with a user name, to check it never reaches the log.
    "carol": ("C4rr0t-Cake-Secret-91", None),
}


# --------------------------------------------------------------------------------------
# Files: certificate, users file, config
# --------------------------------------------------------------------------------------

def make_certificate(directory: Path, key_type: str = "rsa") -> tuple[Path, Path]:
    """A self-signed certificate for CN=localhost with an RSA 2048 or ("ec") P-256 key."""
    prefix = "" if key_type == "rsa" else f"{key_type}-"
    cert, key = directory / f"{prefix}cert.pem", directory / f"{prefix}key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", *_new_key(key_type), "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


_CA_CONFIG = """[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $ENV::VEIL_TEST_SAN
"""


def _new_key(key_type: str) -> list[str]:
    return ["rsa:2048"] if key_type == "rsa" else ["ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]


@dataclass(frozen=True)
class CertificateAuthority:
    """A test CA (make_test_ca): `cert` is the file to trust (a tls_ca_file, an
    SSLContext's cafile); issue() makes server certificates signed by it."""
    directory: Path
    cert: Path
    key: Path

    def issue(self, names: str | list[str], directory: Path, key_type: str = "rsa") -> tuple[Path, Path]:
        """(cert, key) in `directory` for `names` (one DNS name or several): CN the first,
        subjectAltName DNS: each, a serverAuth leaf valid for two days, RSA 2048 or ("ec")
        P-256. Files are named after the first name; issuing it again replaces them."""
        names = [names] if isinstance(names, str) else list(names)
        directory.mkdir(parents=True, exist_ok=True)
        base = names[0].rstrip(".").replace("*", "_star")
        cert, key, csr = (directory / f"{base}.{ext}" for ext in ("pem", "key", "csr"))
        run = lambda *args: subprocess.run(
            ["openssl", *args], check=True, capture_output=True, timeout=60,
            env={**os.environ, "VEIL_TEST_SAN": ",".join(f"DNS:{n.rstrip('.')}" for n in names)})
        run("req", "-new", "-newkey", *_new_key(key_type), "-nodes", "-keyout", str(key), "-out", str(csr),
            "-subj", f"/CN={names[0].rstrip('.')}", "-config", str(self.directory / "ca.cnf"))
        run("x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key),
            "-set_serial", str(int.from_bytes(os.urandom(15), "big")), "-days", "2", "-out", str(cert),
            "-extfile", str(self.directory / "ca.cnf"), "-extensions", "leaf")
        csr.unlink()
        return cert, key


def make_test_ca(directory: Path, name: str = "Veil Test CA") -> CertificateAuthority:
    """A self-signed RSA CA in `directory` (ca.pem, ca.key), for the peers that Veil must
    verify: receiving MTAs (test_outbound_tls.py), MTA-STS policy hosts (mta_sts.py)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.cnf").write_text(_CA_CONFIG)
    ca = CertificateAuthority(directory, directory / "ca.pem", directory / "ca.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca.key),
                    "-out", str(ca.cert), "-days", "2", "-subj", f"/CN={name}", "-config", str(directory / "ca.cnf"),
                    "-extensions", "ca"], check=True, capture_output=True, timeout=60,
                   env={**os.environ, "VEIL_TEST_SAN": "DNS:unused"})
    return ca


def crypt_sha512(password: str) -> str:
    out = subprocess.run(["openssl", "passwd", "-6", password],
                         check=True, capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


def make_users_file(path: Path) -> Path:
    lines = ["# Veil e2e test users", ""]
    for user, (password, domains) in USERS.items():
        line = f"{user}:{crypt_sha512(password)}"
        if domains:
            line += ":" + ",".join(domains)
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    return path


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def default_listeners() -> list[dict]:
    return [
        {"name": "plain", "address": "127.0.0.1:0", "tls": "none", "auth": "off",
         "relay_networks": ["127.0.0.0/8"]},
        {"name": "submission", "address": "127.0.0.1:0", "tls": "starttls", "auth": "required"},
        {"name": "smtps", "address": "127.0.0.1:0", "tls": "implicit", "auth": "required"},
    ]


# The [scrub] section of every test config unless a test overrides it: scrubbing off.
DEFAULT_SCRUB = {"mode": "denylist", "profile": "none", "message_id": "keep", "received": "none"}


def render_config(spool_dir: Path, cert: Path, key: Path, users: Path,
                  listeners=None, extra_listeners=(), tls=None, auth=None, limits=None,
                  log=None, top=None, scrub=None, delivery=None, routes=(), dns=None, metrics=None,
                  dkim=(), tls_report=None) -> str:
    """Build a TOML config. Section dicts override/extend the defaults; a value of None
    removes a key. Scrubbing is off by default (the denylist with no list, ids kept, no
    trace field: Veil's own default is the allowlist) so that the SMTP tests can compare
    the spool with what they sent; the scrubbing tests turn it on with scrub={...}
    (scrub={"mode": None, ...} for the default mode). Bcc and Resent-Bcc never leave,
    in any mode: a test message that compares the spool with what it sent has none.
    `routes` and `dkim` are lists of dicts, one [[delivery.domain]] or [[dkim]] table each."""
    top_keys = {"hostname": HOSTNAME, "spool_dir": str(spool_dir)}
    top_keys.update(top or {})
    sections = {
        "tls": {"certificate": str(cert), "private_key": str(key)},
        "auth": {"users_file": str(users)},
        "limits": {},
        "scrub": dict(DEFAULT_SCRUB),
        # Tests that only look at acceptance keep mail in the queue: everything goes to
        # a smarthost on a closed port (refused at once, retried in an hour). The
        # delivery tests override mode/routes.
        "delivery": {"mode": "smarthost", "smarthost": "[127.0.0.1]:9", "retry": ["1h"]},
        "dns": {"trust_anchor_file": ""},   # no DNSSEC but for the DANE tests (signed_dns)
        "log": {"level": "info"},
        "metrics": {},
        "tls_report": {},
    }
    for name, over in (("tls", tls), ("auth", auth), ("limits", limits), ("scrub", scrub), ("delivery", delivery),
                       ("dns", dns), ("log", log), ("metrics", metrics), ("tls_report", tls_report)):
        sections[name].update(over or {})
    out = []
    for k, v in top_keys.items():
        if v is not None:
            out.append(f"{k} = {toml_value(v)}")
    for lst in list(listeners if listeners is not None else default_listeners()) + list(extra_listeners):
        out.append("")
        out.append("[[listener]]")
        lst = dict(lst)
        lst.setdefault("address", "127.0.0.1:0")
        for k, v in lst.items():
            if v is not None:
                out.append(f"{k} = {toml_value(v)}")
    for name, keys in sections.items():
        keys = {k: v for k, v in keys.items() if v is not None}
        if not keys:
            continue
        out.append("")
        out.append(f"[{name}]")
        for k, v in keys.items():
            out.append(f"{k} = {toml_value(v)}")
    for route in routes:   # [[delivery.domain]]: {"domain": ..., "route": "[127.0.0.2]:PORT", "tls": ...}
        out.append("")
        out.append("[[delivery.domain]]")
        for k, v in route.items():
            out.append(f"{k} = {toml_value(v)}")
    for signer in dkim:    # [[dkim]]: {"domain": ..., "selector": ..., "private_key": PATH, ...}
        out.append("")
        out.append("[[dkim]]")
        for k, v in signer.items():
            if v is not None:
                out.append(f"{k} = {toml_value(v)}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------
# The daemon
# --------------------------------------------------------------------------------------

ADDRESS_RE = re.compile(r"(\[[^\]]+\]|[^\s:]+):(\d+)")


class VeilError(AssertionError):
    pass


LOGFMT_RE = re.compile(r'([\w.\-]+)=("(?:[^"\\]|\\.)*"|[^\s]*)')


def parse_logfmt(line: str) -> dict:
    """Parse one log line (logfmt, or JSON with log.format = "json") into a dict of strings."""
    if line.startswith("{"):
        try:
            d = json.loads(line)
        except ValueError:
            return {}
        if isinstance(d, dict):
            flat = dict(d.pop("metadata", {}) if isinstance(d.get("metadata"), dict) else {})
            flat.update(d)
            return {k: v if isinstance(v, str) else json.dumps(v) for k, v in flat.items()}
        return {}
    out = {}
    for k, v in LOGFMT_RE.findall(line):
        if v.startswith('"') and v.endswith('"') and len(v) >= 2:
            v = re.sub(r'\\(.)', lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m[1], m[1]), v[1:-1])
        out.setdefault(k, v)
    return out


def event_matcher(event: str, fields: dict):
    """A predicate on log lines: event=EVENT and every field equal (str) or matching (re.Pattern)."""
    def match(line: str) -> bool:
        if event not in line:
            return False
        d = parse_logfmt(line)
        if d.get("event") != event:
            return False
        for k, want in fields.items():
            got = d.get(k)
            if got is None:
                return False
            if isinstance(want, re.Pattern):
                if not want.search(got):
                    return False
            elif got != str(want):
                return False
        return True
    return match


def serve_once(config_path, env=None, deadline: float = STARTUP_DEADLINE) -> subprocess.CompletedProcess:
    """`veil serve` for a test that expects it to refuse: its exit status and output
    (stdout and stderr together, in .stderr) when it exits before it is ready. A daemon
    that logs event=ready instead is stopped at once and reported with returncode None,
    so a test of a refusal fails without waiting for any timeout."""
    proc = subprocess.Popen([VEIL_BIN, "serve", "--config", str(config_path)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    watchdog = threading.Timer(deadline, proc.kill)   # neither ready nor gone: a hang
    watchdog.start()
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if parse_logfmt(line).get("event") == "ready":
                proc.terminate()
                proc.wait(timeout=STOP_DEADLINE)
                return subprocess.CompletedProcess(proc.args, None, "", "".join(lines))
        return subprocess.CompletedProcess(proc.args, proc.wait(timeout=STOP_DEADLINE), "", "".join(lines))
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class Veil:
    """One Veil daemon (possibly restarted several times on the same spool)."""

    def __init__(self, workdir: Path, config_text: str):
        self.workdir = workdir
        self.config_path = workdir / "veil.toml"
        self.config_path.write_text(config_text)
        self.spool = workdir / "spool"
        self.proc: subprocess.Popen | None = None
        self.lines: list[str] = []          # all output lines, across restarts
        self.run_start = 0                   # index in self.lines where the current run begins
        self.ports: dict[str, int] = {}
        self._cond = threading.Condition()
        self._eof = True
        self._reader: threading.Thread | None = None
        # As systemd starts it: extra environment (NOTIFY_SOCKET, WATCHDOG_USEC) and
        # listening sockets passed as fd 3, 4, ... with LISTEN_FDS/LISTEN_PID.
        self.extra_env: dict[str, str] = {}
        self.passed_sockets: list[socket.socket] = []

    # ---- process control -----------------------------------------------------------

    def start(self, deadline: float = STARTUP_DEADLINE) -> "Veil":
        if not os.path.exists(VEIL_BIN):
            raise VeilError(f"veil binary not found at {VEIL_BIN} (set VEIL_BIN or build first)")
        with self._cond:
            self.run_start = len(self.lines)
            self.lines.append(f"---- harness: starting {VEIL_BIN} serve --config {self.config_path}")
            self._eof = False
        self.ports = {}
        argv = [VEIL_BIN, "serve", "--config", str(self.config_path)]
        env = {**os.environ, **self.extra_env}
        descriptors = [s.fileno() for s in self.passed_sockets]

        def hand_over_sockets():
            for number, descriptor in enumerate(descriptors):
                os.dup2(descriptor, 3 + number)     # dup2 clears close-on-exec

        if descriptors:
            # LISTEN_PID must be the daemon's own pid: the shell's, kept by exec.
            env["LISTEN_FDS"] = str(len(descriptors))
            argv = ["sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"', *argv]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            cwd=str(self.workdir), env=env, preexec_fn=hand_over_sockets if descriptors else None,
            pass_fds=range(3, 3 + len(descriptors)) if descriptors else (),
        )
        self._reader = threading.Thread(target=self._read_output, args=(self.proc,), daemon=True)
        self._reader.start()
        self.wait_for(event_matcher("ready", {}), timeout=deadline, what="event=ready")
        for line in self.run_lines():
            ev = parse_logfmt(line)
            if ev.get("event") == "listening":
                m = ADDRESS_RE.fullmatch(ev.get("address", ""))
                if m:
                    self.ports[ev.get("listener", "")] = int(m.group(2))
        if not self.ports:
            raise VeilError("veil is ready but logged no event=listening line\n" + self.log_text())
        return self

    def _read_output(self, proc: subprocess.Popen):
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def stop(self, deadline: float = STOP_DEADLINE) -> int | None:
        """SIGTERM, then SIGKILL after the deadline. Returns the exit status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=deadline)
            except subprocess.TimeoutExpired:
                with self._cond:
                    self.lines.append("---- harness: SIGTERM deadline passed, sending SIGKILL")
                proc.kill()
                proc.wait(timeout=deadline)
        self._join_reader()
        self.proc = None
        return proc.returncode

    def kill9(self):
        """kill -9 the daemon and wait until it is gone."""
        proc = self.proc
        assert proc is not None, "veil is not running"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=STOP_DEADLINE)
        self._join_reader()
        with self._cond:
            self.lines.append("---- harness: killed with SIGKILL")
        self.proc = None

    def restart(self) -> "Veil":
        """Start again on the same config and spool (ports change: they are ephemeral)."""
        if self.proc is not None:
            self.stop()
        return self.start()

    def reload(self, text: str | None = None, event: str = "reloaded") -> dict:
        """SIGHUP (systemctl reload), after writing `text` as the new config if given;
        waits for `event` (reloaded, or reload_failed for a config Veil refuses)
        logged after the signal, and returns it parsed."""
        mark = self.mark()
        if text is not None:
            self.config_path.write_text(text)
        assert self.proc is not None, "veil is not running"
        self.proc.send_signal(signal.SIGHUP)
        return self.wait_event(event, since=mark)[0]

    def queue(self, command: str, *args: str) -> subprocess.CompletedProcess:
        """`veil queue COMMAND --config PATH ARGS`, as the administrator runs it."""
        return subprocess.run([VEIL_BIN, "queue", command, "--config", str(self.config_path), *args],
                              capture_output=True, text=True, timeout=60)

    def _join_reader(self):
        if self._reader is not None:
            self._reader.join(timeout=STOP_DEADLINE)
            self._reader = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ---- log access ----------------------------------------------------------------

    def run_lines(self) -> list[str]:
        with self._cond:
            return list(self.lines[self.run_start:])

    def log_text(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def mark(self) -> int:
        """Current position in the log, for wait_for(..., since=mark)."""
        with self._cond:
            return len(self.lines)

    def lines_matching(self, pattern, since: int = 0) -> list[str]:
        pred = _predicate(pattern)
        with self._cond:
            return [l for l in self.lines[since:] if pred(l)]

    def events(self, event: str, since: int = 0, **fields) -> list[dict]:
        """Parsed log lines of one event (optionally filtered by field values)."""
        return [parse_logfmt(l) for l in self.lines_matching(event_matcher(event, fields), since)]

    def wait_event(self, event: str, since: int | None = None, count: int = 1,
                   timeout: float = IO_TIMEOUT, **fields) -> list[dict]:
        """Wait for `count` log lines `event=EVENT` whose fields match (str: equal,
        re.Pattern: search). Returns them parsed."""
        desc = f"event={event} " + " ".join(f"{k}={v.pattern if isinstance(v, re.Pattern) else v}"
                                             for k, v in fields.items())
        lines = self.wait_for(event_matcher(event, fields), since=since, count=count,
                              timeout=timeout, what=desc)
        return [parse_logfmt(l) for l in lines]

    def wait_for(self, pattern, since: int | None = None, timeout: float = IO_TIMEOUT,
                 count: int = 1, what: str | None = None) -> list[str]:
        """Wait until `count` lines matching `pattern` appeared after `since`
        (default: the start of the current run). Fails with the log on timeout or exit."""
        pred = _predicate(pattern)
        what = what or getattr(pattern, "pattern", pattern)
        start = self.run_start if since is None else since
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [l for l in self.lines[start:] if pred(l)]
                if len(found) >= count:
                    return found
                if self._eof:
                    try:
                        status = self.proc.wait(timeout=5) if self.proc else None
                    except subprocess.TimeoutExpired:
                        status = None
                    raise VeilError(f"veil exited (status {status}) before logging "
                                    f"{what!r}\n--- log ---\n" + "\n".join(self.lines))
                left = end - time.monotonic()
                if left <= 0:
                    raise VeilError(f"timed out after {timeout}s waiting for {what!r} "
                                    f"(x{count})\n--- log ---\n" + "\n".join(self.lines))
                self._cond.wait(left)

    # ---- spool / queue -------------------------------------------------------------

    @property
    def queue_db(self) -> Path:
        return self.spool / "queue.sqlite"

    def _query(self, sql: str, args=()) -> list[dict]:
        if not self.queue_db.exists():
            return []
        con = sqlite3.connect(f"file:{self.queue_db}?mode=rw", uri=True, timeout=10)
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute(sql, args).fetchall()]
        finally:
            con.close()

    def messages(self) -> list[dict]:
        return self._query("SELECT * FROM messages ORDER BY id")

    def message(self, queue_id: str) -> dict | None:
        rows = self._query("SELECT * FROM messages WHERE id = ?", (queue_id,))
        return rows[0] if rows else None

    def recipients(self, queue_id: str | None = None) -> list[dict]:
        if queue_id is None:
            return self._query("SELECT * FROM recipients ORDER BY message_id, rowid")
        return self._query("SELECT * FROM recipients WHERE message_id = ? ORDER BY rowid", (queue_id,))

    def spool_file(self, queue_id: str) -> Path:
        return self.spool / "messages" / queue_id

    def spool_bytes(self, queue_id: str) -> bytes:
        return self.spool_file(queue_id).read_bytes()

    def spool_files(self) -> list[Path]:
        d = self.spool / "messages"
        return sorted(p for p in d.iterdir() if p.is_file()) if d.is_dir() else []

    def incoming_files(self) -> list[Path]:
        d = self.spool / "incoming"
        return sorted(p for p in d.iterdir()) if d.is_dir() else []

    # ---- convenience ----------------------------------------------------------------

    def port(self, listener: str) -> int:
        if listener not in self.ports:
            raise VeilError(f"no listener {listener!r} in {self.ports}\n" + self.log_text())
        return self.ports[listener]

    def connect(self, listener: str = "plain", **kw) -> "SMTPClient":
        tls = kw.pop("tls", None)
        if tls is None:
            tls = listener == "smtps"
        return SMTPClient(self.port(listener), tls=tls, **kw)


def _predicate(pattern):
    if callable(pattern):
        return pattern
    rx = re.compile(pattern) if isinstance(pattern, str) else pattern
    return lambda line: rx.search(line) is not None


class PeerProcess:
    """A test peer that runs as a program of its own (smtp-sink, unbound): started,
    then waited for until it listens; stopped with SIGTERM."""

    proc: subprocess.Popen | None = None

    def spawn(self, program: str, argv: list[str], host: str, port: int, what: str):
        binary = shutil.which(program) or f"/usr/sbin/{program}"
        self.proc = subprocess.Popen([binary, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_listening(host, port, what)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


def wait_listening(host: str, port: int, what: str):
    """Wait until a TCP server accepts connections (a test peer just started)."""
    def listening() -> bool:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_until(listening, what=what)


def wait_until(predicate, timeout: float = IO_TIMEOUT, interval: float = 0.02, what: str = "condition"):
    """Poll a condition (e.g. a file appearing) with a deadline."""
    end = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------
# SMTP client
# --------------------------------------------------------------------------------------

class ConnectionClosed(Exception):
    pass


@dataclass
class Reply:
    code: int
    lines: list[str] = field(default_factory=list)   # raw lines, e.g. "250-veil.test"

    @property
    def text(self) -> str:
        return "\n".join(l[4:] for l in self.lines)

    @property
    def enhanced(self) -> str:
        parts = self.lines[0][4:].split(" ", 1) if self.lines else [""]
        return parts[0] if re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", parts[0]) else ""

    def is_(self, expected) -> bool:
        """expected: 250, "553", "553 5.1.3", or a class like "5xx"."""
        if isinstance(expected, int):
            return self.code == expected
        exp = str(expected)
        code_s, _, enh = exp.partition(" ")
        if code_s.endswith("xx"):
            ok = str(self.code).startswith(code_s[0])
        else:
            ok = self.code == int(code_s)
        return ok and (not enh or self.enhanced == enh)

    def keywords(self) -> list[str]:
        """EHLO keywords (upper-case lines after the first)."""
        return [l[4:].upper() for l in self.lines[1:]]

    def __str__(self):
        return "\n".join(self.lines)


def tls_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def b64(s) -> str:
    if isinstance(s, str):
        s = s.encode()
    return base64.b64encode(s).decode()


def dot_stuff(body: bytes) -> bytes:
    """DATA transparency (RFC 5321 4.5.2); body must use CRLF line endings."""
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    if body.startswith(b"."):
        body = b"." + body
    return body.replace(b"\r\n.", b"\r\n..")


class SMTPClient:
    """A raw SMTP client over a socket; keeps a transcript for failure messages."""

    def __init__(self, port: int, tls: bool = False, timeout: float = IO_TIMEOUT,
                 read_greeting: bool = True, host: str = "127.0.0.1"):
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.transcript: list[str] = []
        self.greeting: Reply | None = None
        if tls:
            self._wrap_tls()
        if read_greeting:
            self.greeting = self.reply()

    # ---- low level -------------------------------------------------------------------

    def _wrap_tls(self):
        self.sock = tls_context().wrap_socket(self.sock, server_hostname="localhost")
        self.transcript.append(f"-- TLS established ({self.sock.version()})")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        shown = data if len(data) <= 300 else data[:300] + b"...(%d bytes)" % len(data)
        self.transcript.append(f"C: {shown!r}")
        self.sock.sendall(data)

    def _fill(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            chunk = b""
        if not chunk:
            return False
        self.buf += chunk
        return True

    def readline(self) -> bytes:
        while b"\n" not in self.buf:
            if not self._fill():
                line, self.buf = self.buf, b""
                return line
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def reply(self) -> Reply:
        """Read one complete (possibly multi-line) reply. Raises ConnectionClosed on EOF."""
        lines: list[str] = []
        while True:
            raw = self.readline()
            if not raw.endswith(b"\n"):
                self.transcript.append(f"S: <closed>{(' partial ' + repr(raw)) if raw else ''}")
                raise ConnectionClosed("connection closed by server after "
                                       f"{len(lines)} reply line(s)\n" + self.dialogue())
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self.transcript.append(f"S: {line}")
            lines.append(line)
            if not re.match(r"\d{3}", line):
                raise AssertionError(f"malformed reply line {line!r}\n" + self.dialogue())
            if line[3:4] != "-":
                return Reply(int(line[:3]), lines)

    def reply_or_none(self) -> Reply | None:
        try:
            return self.reply()
        except ConnectionClosed:
            return None

    def replies_until_close(self, limit: int = 100) -> list[Reply]:
        out = []
        for _ in range(limit):
            r = self.reply_or_none()
            if r is None:
                break
            out.append(r)
        return out

    def is_closed(self, timeout: float = IO_TIMEOUT) -> bool:
        """True if the server closes the connection (EOF or reset) within the timeout,
        without sending anything more."""
        old = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        try:
            if self.buf:
                return False
            try:
                return not self._fill()
            except (socket.timeout, TimeoutError):
                return False
        finally:
            try:
                self.sock.settimeout(old)
            except OSError:
                pass

    def dialogue(self) -> str:
        return "\n".join(self.transcript)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- commands --------------------------------------------------------------------

    def cmd(self, line, expect=None) -> Reply:
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r\n")
        r = self.reply()
        if expect is not None:
            self.check(r, expect)
        return r

    def check(self, r: Reply, expect):
        if not r.is_(expect):
            raise AssertionError(f"expected {expect}, got {r.lines}\n--- dialogue ---\n" + self.dialogue())
        return r

    def ehlo(self, name: str = "client.test", expect=250) -> Reply:
        return self.cmd(f"EHLO {name}", expect)

    def starttls(self) -> Reply:
        r = self.cmd("STARTTLS", "220")
        assert self.buf == b"", f"server sent data after the STARTTLS 220: {self.buf!r}"
        self._wrap_tls()
        return r

    def auth_plain(self, user: str, password: str, expect="235 2.7.0") -> Reply:
        return self.cmd(f"AUTH PLAIN {b64(chr(0) + user + chr(0) + password)}", expect)

    def auth_login(self, user: str, password: str, initial: bool = False, expect="235 2.7.0") -> Reply:
        if initial:
            self.cmd(f"AUTH LOGIN {b64(user)}", "334")
        else:
            self.cmd("AUTH LOGIN", "334")
            self.cmd(b64(user), "334")
        return self.cmd(b64(password), expect)

    def mail(self, addr: str, params: str = "", expect="250") -> Reply:
        return self.cmd(f"MAIL FROM:<{addr}>" + (f" {params}" if params else ""), expect)

    def rcpt(self, addr: str, params: str = "", expect="250") -> Reply:
        return self.cmd(f"RCPT TO:<{addr}>" + (f" {params}" if params else ""), expect)

    def data(self, body: bytes, expect="250 2.0.0") -> Reply:
        self.cmd("DATA", "354")
        self.send(dot_stuff(body) + b".\r\n")
        r = self.reply()
        if expect is not None:
            self.check(r, expect)
        return r

    def bdat(self, chunk: bytes, last: bool = False, expect="250") -> Reply:
        self.send(f"BDAT {len(chunk)}{' LAST' if last else ''}\r\n".encode() + chunk)
        r = self.reply()
        if expect is not None:
            self.check(r, expect)
        return r

    def bdat_chunks(self, data: bytes, chunks: list[int], expect="250 2.0.0") -> Reply:
        """`data` in BDAT chunks of the given sizes, the last one with LAST; the reply
        to that one (checked against `expect` unless it is None)."""
        assert sum(chunks) == len(data) and all(n > 0 for n in chunks), chunks
        offset = 0
        for n in chunks[:-1]:
            self.bdat(data[offset:offset + n], expect="250")
            offset += n
        return self.bdat(data[offset:], last=True, expect=expect)

    def quit(self):
        try:
            self.cmd("QUIT")
        except (ConnectionClosed, OSError):
            pass
        self.close()


QUEUED_RE = re.compile(r"queued as ([0-9A-Za-z]+)")


def queue_id(reply_or_text) -> str:
    text = str(reply_or_text)
    m = QUEUED_RE.search(text)
    assert m, f"no 'queued as ID' in {text!r}"
    return m.group(1)


def run_dialogue(client: SMTPClient, table):
    """table: list of (line to send, expected reply) — expected like 250, "553 5.1.3", "5xx"."""
    replies = []
    for line, expect in table:
        replies.append(client.cmd(line, expect))
    return replies


# Date and Message-ID for hand-made messages: Veil adds them when they are missing,
# so messages that carry both are spooled exactly as sent (with scrubbing off).
STAMP = b"Date: Mon, 30 Nov 2026 00:00:00 +0000\r\nMessage-ID: <stamp@client.test>\r\n"


def message(subject: str = "e2e test", body: str = "Hello from the e2e suite.\r\n",
            sender: str = "a@corp.example", to: str = "b@example.org") -> bytes:
    return (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            f"Date: Mon, 30 Nov 2026 00:00:00 +0000\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@client.test>\r\n\r\n{body}").encode()


def tls_check(veil, domain: str) -> str:
    """`veil tls check DOMAIN` on the daemon's config: its output (exit status 0)."""
    done = subprocess.run([VEIL_BIN, "tls", "check", "--config", str(veil.config_path), domain],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def send_message(veil, recipients, subject: str = "e2e test", sender: str = "a@corp.example",
                 body: str = "Hello from the e2e suite.\r\n") -> str:
    """One message() to `recipients` through the plain listener; its queue id."""
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail(sender)
        for r in recipients:
            c.rcpt(r)
        qid = queue_id(c.data(message(subject, body, sender=sender, to=recipients[0])))
        c.quit()
    return qid


def send_data(veil, data: bytes, sender: str = "a@corp.example", to: str = "b@example.org",
              helo: str = "client.test", chunks: list[int] | None = None, expect="250 2.0.0") -> Reply:
    """One transaction with the raw client on the plain listener, for a test that
    needs the exact reply: DATA (Veil receives `data`, plus CRLF if it does not end
    with one), or BDAT with the given chunk sizes, the last sent with LAST (received
    as it is). Returns the reply to the end of the text, checked against `expect`
    unless that is None."""
    with veil.connect("plain") as c:
        c.ehlo(helo)
        c.mail(sender)
        c.rcpt(to)
        r = c.data(data, expect=expect) if chunks is None else c.bdat_chunks(data, chunks, expect)
        c.quit()
    return r


def accepted(veil, qid: str) -> dict:
    """The `accepted` log line of a message, parsed (scrubbed, mime_rewritten, ...)."""
    return veil.wait_event("accepted", queue_id=qid)[0]


def crlf(text: str) -> bytes:
    """A hand-written message or part: LF line ends become CRLF."""
    return text.replace("\n", "\r\n").encode()


def first_difference(a: bytes, b: bytes) -> str:
    """Where two byte strings part, with 100 bytes around it: for assertion messages."""
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    around = slice(max(0, n - 100), n + 100)
    return f"first difference at byte {n} (lengths {len(a)}, {len(b)}):\n  got {a[around]!r}\n want {b[around]!r}"


# --------------------------------------------------------------------------------------
# Routes to a test peer, PROXY headers
# --------------------------------------------------------------------------------------

def routed(make_veil, peer, domain: str = "example.org", tls: str | None = None, home=None,
           delivery: dict | None = None, **overrides) -> Veil:
    """A Veil that delivers `domain` to `peer` (a sink.Sink or a
    scripted_mta.ScriptedMTA: anything with a .route, started or not) and, with
    `home`, the senders' corp.example to that one (for bounce reports). [delivery] is
    mode = "mx" with no smarthost and a retry every second, updated by `delivery`;
    `tls` is the route's own policy; other keywords go to make_veil (scrub=, limits=)."""
    route = {"domain": domain, "route": peer.route}
    if tls:
        route["tls"] = tls
    routes = [route] + ([{"domain": "corp.example", "route": home.route}] if home else [])
    return make_veil(delivery={"mode": "mx", "smarthost": None, "retry": ["1s"], **(delivery or {})},
                     routes=routes, **overrides)


# A listener that takes AUTH from clients behind a load balancer on loopback (PROXY
# header required): where AUTH tests get many client addresses on one machine.
PROXIED_AUTH = {"name": "proxied", "tls": "none", "auth": "required", "auth_without_tls": True,
                "proxy_protocol": True, "proxy_networks": ["127.0.0.0/8"]}


def proxy_v1(src: str, dst: str | None = None, sport: int = 40000, dport: int = 25) -> bytes:
    """A PROXY protocol v1 header for client address `src` (TCP4 or TCP6 as the address
    says; the destination defaults to loopback of the same family)."""
    v6 = ":" in src
    dst = dst or ("::1" if v6 else "127.0.0.1")
    return f"PROXY {'TCP6' if v6 else 'TCP4'} {src} {dst} {sport} {dport}\r\n".encode()


def proxied_connect(veil, header: bytes, listener: str = "proxied") -> SMTPClient:
    """A connection to a proxy_protocol listener that starts with `header`; the
    greeting (or refusal) is not read yet."""
    c = SMTPClient(veil.port(listener), read_greeting=False)
    c.send(header)
    return c


def proxied_session(veil, src: str | None = None, header: bytes | None = None, ehlo: bool = True,
                    listener: str = "proxied") -> SMTPClient:
    """A session whose client address is `src` (from a PROXY v1 header; or the header
    is given whole): greeted with 220, then EHLO unless ehlo=False."""
    c = proxied_connect(veil, header if header is not None else proxy_v1(src), listener)
    c.greeting = c.check(c.reply(), "220")
    if ehlo:
        c.ehlo()
    return c


def swaks(*args, timeout: float = 60) -> subprocess.CompletedProcess:
    assert shutil.which("swaks"), "swaks is not installed"
    return subprocess.run(["swaks", "--timeout", "20", *args],
                          capture_output=True, text=True, timeout=timeout)


@contextlib.contextmanager
def small_tmpfs(directory: Path, size: str):
    """A tmpfs of `size` ("2m") mounted at `directory`, for disk-full tests; the
    test is skipped where mounting is not allowed (it needs root)."""
    directory.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(directory)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {result.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)
