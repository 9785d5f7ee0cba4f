"""MTA-STS (RFC 8461) peers for the outbound tests: a policy host and its DNS records.

PolicyServer is an HTTPS server in this process (http.server + ssl, a thread per
connection) on ADDRESS:443, as RFC 8461 3.3 requires, with a certificate from the test
CA for mta-sts.DOMAIN of each policy domain it serves, chosen by SNI. What it answers at
/.well-known/mta-sts.txt is an Answer per domain, changeable while it runs: a policy
(200 text/plain) or a fault (redirect, 404, a body over 64 KiB, another content type,
a body that stalls until the server stops). POSTs to `report_path` (RFC 8460 TLS
reports over https) are kept with their headers. Every request is recorded (Host, SNI,
path, time) for "fetched once" / "fetched again" assertions.

The DNS helpers give dns.py local-data lines: _mta-sts TXT, the policy host's A record,
_smtp._tls TXT. Tests get servers from conftest's `make_policy_server`, which stops
them after the test. Addresses: 127.0.0.40-127.0.0.49 are for policy servers
(test_mta_sts_fixture.py uses .40 and .41).

Longer than 300 lines on purpose: one peer, the policy host, whole: its answers, the
server, the records that point at it and a client to check it with; split, each part
would import the others.
"""

from __future__ import annotations

import http.client
import http.server
import socket
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dns import txt
from harness import IO_TIMEOUT, CertificateAuthority

WELL_KNOWN = "/.well-known/mta-sts.txt"
MAX_POLICY_BYTES = 64 * 1024          # RFC 8461 3.3: a client may refuse a larger policy
MAX_REPORT_BYTES = 16 * 1024 * 1024


def policy_text(mx: list[str] | str, mode: str = "enforce", max_age: int = 86400) -> str:
    """A policy body (RFC 8461 3.2), CRLF lines: version, mode, one mx line each, max_age."""
    mx = [mx] if isinstance(mx, str) else mx
    return "".join(f"{line}\r\n" for line in
                   ["version: STSv1", f"mode: {mode}", *(f"mx: {m}" for m in mx), f"max_age: {max_age}"])


# ------------------------------------------------------------------- DNS records

def sts_txt(domain: str, policy_id: str, extra: str = "") -> str:
    """_mta-sts.DOMAIN TXT "v=STSv1; id=ID" (RFC 8461 3.1), `extra` appended as is."""
    return txt(f"_mta-sts.{domain.rstrip('.')}.", f"v=STSv1; id={policy_id}{extra}")


def policy_host_a(domain: str, address: str) -> str:
    """mta-sts.DOMAIN A ADDRESS: where the policy is fetched."""
    return f"mta-sts.{domain.rstrip('.')}. A {address}"


def sts_records(domain: str, policy_id: str, address: str) -> list[str]:
    """The two records a domain with a policy on a PolicyServer at `address` needs."""
    return [sts_txt(domain, policy_id), policy_host_a(domain, address)]


def tlsrpt_txt(domain: str, rua: str | list[str]) -> str:
    """_smtp._tls.DOMAIN TXT "v=TLSRPTv1; rua=URI[,URI]" (RFC 8460 3): mailto: or https:."""
    rua = [rua] if isinstance(rua, str) else rua
    return txt(f"_smtp._tls.{domain.rstrip('.')}.", f"v=TLSRPTv1; rua={','.join(rua)}")


# ------------------------------------------------------------------- answers

@dataclass(frozen=True)
class Answer:
    """One HTTP response. `stall`: send the head and body[:stall_after], then wait until
    the server stops. `declare_length`: send Content-Length (else the body ends at close)."""
    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()
    declare_length: bool = True
    stall: bool = False
    stall_after: int = 0

    @classmethod
    def policy(cls, text: str) -> "Answer":
        return cls(body=text.encode())

    @classmethod
    def redirect(cls, location: str, status: int = 301) -> "Answer":
        return cls(status, b"moved\r\n", headers=(("Location", location),))

    @classmethod
    def not_found(cls) -> "Answer":
        return cls(404, b"not found\r\n")

    @classmethod
    def oversize(cls, text: str, size: int = MAX_POLICY_BYTES + 1, declare_length: bool = True) -> "Answer":
        """`text` then lines of an unknown field (which a client must ignore, RFC 8461
        3.2) up to `size` bytes: too long is its only fault."""
        body = text.encode()
        pad = b"x-padding: " + b"x" * 60 + b"\r\n"
        body += pad * ((size - len(body)) // len(pad) + 1)
        return cls(body=body[:size - 2] + b"\r\n", declare_length=declare_length)

    @classmethod
    def typed(cls, text: str, content_type: str | None) -> "Answer":
        """The policy with another Content-Type (None: no such header)."""
        return cls(body=text.encode(), content_type=content_type)

    @classmethod
    def stalled(cls, text: str, stall_after: int = 0) -> "Answer":
        """200 text/plain declaring the whole length, but only stall_after bytes sent."""
        return cls(body=text.encode(), stall=True, stall_after=stall_after)


@dataclass
class Request:
    """One request as the server saw it: `host` is the Host header without port, `sni`
    the TLS server name (None: none sent), `at` time.monotonic()."""
    method: str
    path: str
    host: str
    sni: str | None
    headers: http.client.HTTPMessage
    body: bytes = b""
    at: float = field(default_factory=time.monotonic)


# ------------------------------------------------------------------- the server

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IO_TIMEOUT

    def do_GET(self):
        self.server.owner._get(self)

    def do_POST(self):
        self.server.owner._post(self)

    def log_message(self, *args):
        pass


class _HTTPServer(http.server.HTTPServer):
    allow_reuse_address = True

    def __init__(self, owner: "PolicyServer", address: tuple[str, int]):
        self.owner = owner
        super().__init__(address, _Handler)

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)      # not HTTPServer's: no reverse lookup
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request, client_address):
        self.owner._spawn(self, request, client_address)


class PolicyServer:
    """An MTA-STS policy host (and https TLSRPT endpoint) on ADDRESS:443, a loopback
    address of its own. Made by conftest's make_policy_server; start() and stop() here."""

    def __init__(self, directory: Path, address: str, ca: CertificateAuthority,
                 policies: dict[str, str | Answer], report_hosts: tuple[str, ...] = (),
                 report_path: str = "/tlsrpt", cert_names: dict[str, list[str]] | None = None):
        """policies: policy domain -> policy text or Answer (the domains are fixed: each
        gets a certificate for mta-sts.DOMAIN from `ca`); report_hosts: more names that
        get a certificate (an https rua's host); cert_names: host -> the names its
        certificate holds instead (a wrong name for a test)."""
        self.address, self.port, self.report_path = address, 443, report_path
        self.report_answer = Answer(200, b"", content_type=None)
        self._answers: dict[tuple[str, str], Answer] = {}
        self._requests: list[Request] = []
        self._cond = threading.Condition()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._conns: set[ssl.SSLSocket] = set()
        self._threads: list[threading.Thread] = []
        self._handshake_errors: list[str] = []
        self._contexts: dict[str, ssl.SSLContext] = {}
        hosts = [h.lower() for h in [*(f"mta-sts.{d.rstrip('.')}" for d in policies), *report_hosts]]
        assert hosts, "a policy server serves at least one domain"
        for host in hosts:
            names = (cert_names or {}).get(host, [host])
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*ca.issue(names, directory))
            self._contexts[host] = ctx
        self._context = self._contexts[hosts[0]]      # for no SNI or an unknown one
        self._context.sni_callback = self._select
        for domain, answer in policies.items():
            self.set_response(domain, answer)
        self._httpd: _HTTPServer | None = None
        self._serving: threading.Thread | None = None

    # --- configuration, any time

    def set_response(self, domain: str, answer: str | Answer, path: str = WELL_KNOWN):
        """What GET `path` at mta-sts.DOMAIN answers (text: a policy)."""
        answer = Answer.policy(answer) if isinstance(answer, str) else answer
        with self._lock:
            self._answers[(f"mta-sts.{domain.rstrip('.')}".lower(), path)] = answer

    def set_policy(self, domain: str, text: str):
        self.set_response(domain, Answer.policy(text))

    # --- what happened

    @property
    def requests(self) -> list[Request]:
        with self._cond:
            return list(self._requests)

    def fetches(self, domain: str) -> list[Request]:
        host = f"mta-sts.{domain.rstrip('.')}".lower()
        return [r for r in self.requests if r.method == "GET" and r.host == host and r.path == WELL_KNOWN]

    @property
    def reports(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST" and urlsplit(r.path).path == self.report_path]

    @property
    def handshake_errors(self) -> list[str]:
        """The TLS handshakes that failed, e.g. "...: [SSL: TLSV1_ALERT_UNKNOWN_CA] ..."."""
        with self._cond:
            return list(self._handshake_errors)

    def wait_handshake_errors(self, count: int = 1, timeout: float = IO_TIMEOUT) -> list[str]:
        """A client refuses the certificate after its own side of the handshake fails:
        the server learns it a moment later."""
        return self._wait(lambda: self.handshake_errors, count, timeout, f"{count} failed handshake(s)")

    def wait_fetches(self, domain: str, count: int = 1, timeout: float = IO_TIMEOUT) -> list[Request]:
        return self._wait(lambda: self.fetches(domain), count, timeout, f"{count} fetch(es) for {domain}")

    def wait_reports(self, count: int = 1, timeout: float = IO_TIMEOUT) -> list[Request]:
        return self._wait(lambda: self.reports, count, timeout, f"{count} report(s)")

    def _wait(self, found, count: int, timeout: float, what: str) -> list:
        with self._cond:
            if not self._cond.wait_for(lambda: len(found()) >= count, timeout):
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} at "
                                     f"{self.address}:443; requests: {self._requests}")
        return found()

    # --- life

    def start(self) -> "PolicyServer":
        self._httpd = _HTTPServer(self, (self.address, self.port))
        self._serving = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                         name=f"policy-server {self.address}", daemon=True)
        self._serving.start()
        return self

    def stop(self, timeout: float = IO_TIMEOUT):
        """Wake stalled answers, close every connection, join every thread (bounded).
        Idempotent."""
        with self._lock:
            self._stopping.set()
            conns = list(self._conns)
        for conn in conns:
            self._shut(conn)
        if self._httpd:
            self._httpd.shutdown()
            self._serving.join(timeout)
            self._httpd.server_close()
            self._httpd = None
        end = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))
        left = [t.name for t in self._threads if t.is_alive()]
        assert not left, f"policy server threads still running: {left}"

    @staticmethod
    def _shut(conn: socket.socket):
        try:
            socket.socket.shutdown(conn, socket.SHUT_RDWR)   # the TCP socket under TLS
        except OSError:
            pass

    def _spawn(self, httpd: _HTTPServer, request: socket.socket, client_address):
        thread = threading.Thread(target=self._connection, args=(httpd, request, client_address), daemon=True,
                                  name=f"policy-server {self.address} <- {client_address}")
        self._threads.append(thread)
        thread.start()

    def _connection(self, httpd: _HTTPServer, request: socket.socket, client_address):
        request.settimeout(IO_TIMEOUT)
        with self._lock:
            if self._stopping.is_set():
                request.close()
                return
            conn = self._context.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
            conn.sni = None
            self._conns.add(conn)
        try:
            try:
                conn.do_handshake()
            except OSError as e:         # ssl.SSLError too: the client refused our certificate
                with self._cond:
                    self._handshake_errors.append(f"{client_address}: {e}")
                    self._cond.notify_all()
                return
            try:
                _Handler(conn, client_address, httpd)
            except OSError:
                pass                     # the client went away, or stop() shut the connection
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def _select(self, conn: ssl.SSLSocket, server_name: str | None, _context):
        conn.sni = server_name
        if server_name and server_name.lower() in self._contexts:
            conn.context = self._contexts[server_name.lower()]

    # --- answering

    def _record(self, handler: _Handler, body: bytes = b"") -> Request:
        host = (handler.headers.get("Host") or "").rsplit(":", 1)[0].rstrip(".").lower()
        request = Request(handler.command, handler.path, host, handler.connection.sni, handler.headers, body)
        with self._cond:
            self._requests.append(request)
            self._cond.notify_all()
        return request

    def _get(self, handler: _Handler):
        request = self._record(handler)
        with self._lock:
            answer = self._answers.get((request.host, urlsplit(request.path).path), Answer.not_found())
        self._send(handler, answer)

    def _post(self, handler: _Handler):
        body = self._read_body(handler)
        request = self._record(handler, body)
        ok = urlsplit(request.path).path == self.report_path
        self._send(handler, self.report_answer if ok else Answer.not_found())

    @staticmethod
    def _read_body(handler: _Handler) -> bytes:
        if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
            body = b""
            while (size := int(handler.rfile.readline().split(b";")[0], 16)) and len(body) < MAX_REPORT_BYTES:
                body += handler.rfile.read(size)
                handler.rfile.readline()
            while handler.rfile.readline() not in (b"\r\n", b"\n", b""):     # trailers
                pass
            return body
        return handler.rfile.read(min(int(handler.headers.get("Content-Length") or 0), MAX_REPORT_BYTES))

    def _send(self, handler: _Handler, answer: Answer):
        handler.send_response(answer.status)
        if answer.content_type is not None:
            handler.send_header("Content-Type", answer.content_type)
        for name, value in answer.headers:
            handler.send_header(name, value)
        if answer.declare_length:
            handler.send_header("Content-Length", str(len(answer.body)))
        handler.send_header("Connection", "close")
        handler.close_connection = True
        handler.end_headers()
        if answer.stall:
            handler.wfile.write(answer.body[:answer.stall_after])
            self._stopping.wait()
            return
        handler.wfile.write(answer.body)


def https_connection(address: str, host: str, ca: CertificateAuthority | None = None,
                     timeout: float = IO_TIMEOUT) -> http.client.HTTPSConnection:
    """A client connection to address:443 as https://HOST/ (SNI, Host and the name
    checked are HOST), trusting only `ca` (None: the system's CAs)."""
    context = ssl.create_default_context(cafile=str(ca.cert) if ca else None)
    conn = http.client.HTTPSConnection(host, 443, context=context, timeout=timeout)
    conn._create_connection = lambda _, *args: socket.create_connection((address, 443), *args)
    return conn
