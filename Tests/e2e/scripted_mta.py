"""A small receiving MTA with scripted misbehaviour, for what smtp-sink cannot do:
refuse one recipient of several, drop the connection in the middle of DATA, take
the text in BDAT chunks (RFC 3030), offer SMTPUTF8 (RFC 6531). It records every
message it accepted (envelope, text as received on the wire, how it came) and
every session.

Destination faults (issue 6) apply to the first `fault_sessions` sessions only, so
that a retry finds a healthy server: a refused greeting, a refusal at one command,
silence (never greets, or never answers one command), reply lines nobody asked for,
a failed TLS handshake after the 220 to STARTTLS. Command names are the SMTP verbs,
"CONNECT" for the greeting and "." for the end of the text (as smtp-sink's)."""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass, field


@dataclass
class Received:
    sender: str
    recipients: list[str]
    text: bytes
    commands: list[str] = field(default_factory=list)   # DATA, or one "BDAT n [LAST]" per chunk
    tls: bool = False                                    # came over STARTTLS
    session: int = 0                                     # 1 for the first session, ...


# The step whose reply comes just before each command: an unsolicited reply "before
# EHLO" is sent right after the greeting, and so on.
_PREVIOUS = {"EHLO": "CONNECT", "HELO": "CONNECT", "MAIL": "EHLO", "RCPT": "MAIL", "DATA": "RCPT"}


@dataclass
class Script:
    refuse: set[str] = field(default_factory=set)     # RCPT addresses answered 550 5.1.1
    drop_in_data: int = 0                             # sessions that lose the connection mid-DATA
    chunking: bool = False                            # offer CHUNKING (and PIPELINING with it)
    smtputf8: bool = False                            # offer SMTPUTF8 (RFC 6531)
    refuse_chunk: int = 0                             # first BDAT chunks (not LAST) answered 452
    sessions: int = 0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # ---- faults of the first `fault_sessions` sessions (later sessions behave) ----
    fault_sessions: int = 1
    greeting: str | None = None                       # instead of the 220, e.g. "421 4.3.2 busy"
    fail_at: dict[str, str] = field(default_factory=dict)   # "MAIL"/"RCPT"/"DATA"/"." -> reply instead
    silent: bool = False                              # accepts the connection, never greets
    silent_at: str | None = None                      # never answers this command ("." : the text)
    stall_in_data: bool = False                       # answers 354, then reads nothing more
    extra_after: dict[str, str] = field(default_factory=dict)          # command -> line sent with its reply (one write)
    unsolicited_before: dict[str, str] = field(default_factory=dict)   # command -> line sent before it arrives
    starttls: tuple[str, str] | None = None           # (certificate, key): offer STARTTLS
    tls_failure: str | None = None                    # after the 220 to STARTTLS: "garbage" or "close"
    log: list[tuple[int, bool, str]] = field(default_factory=list)     # (session, over TLS, line) of every command
    stopped: threading.Event = field(default_factory=threading.Event)  # set when the server stops

    def faulty(self, session: int) -> bool:
        return session <= self.fault_sessions

    def plain_commands(self) -> list[str]:
        """Commands of a mail transaction that came in plain text."""
        with self.lock:
            return [line for _, tls, line in self.log
                    if not tls and line[:4].upper() in ("MAIL", "RCPT", "DATA", "BDAT")]


class _Writer:
    """wfile over the TLS socket (as socketserver's own writer: sendall per write)."""
    closed = False

    def __init__(self, sock):
        self.sock = sock

    def write(self, data: bytes):
        self.sock.sendall(data)

    def flush(self):
        pass

    def close(self):
        self.closed = True


class _Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def reply(self, line: str):
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def answer(self, lines: list[str], step: str):
        """The reply to `step`, with the scripted faults around it: extra lines in
        the same write, then an unsolicited reply before the next command."""
        extra = self.script.extra_after.get(step) if self.faulty else None
        if extra is None:
            for line in lines:          # one write per line, as always
                self.reply(line)
        else:
            self.wfile.write("".join(l + "\r\n" for l in lines + extra.split("\n")).encode())
            self.wfile.flush()
        if self.faulty:
            for verb, line in self.script.unsolicited_before.items():
                if _PREVIOUS.get(verb) == step and verb not in self.unsolicited_sent:
                    self.unsolicited_sent.add(verb)
                    self.reply(line)

    def readline(self, limit: int = 4096) -> bytes:
        line = self.rfile.readline(limit)
        if line:
            with self.script.lock:
                self.script.log.append((self.session, self.tls,
                                        line.decode("utf-8", "replace").rstrip("\r\n")))
        return line

    def drain(self):
        """Says nothing more; reads (and logs) whatever comes until the client closes."""
        while self.readline():
            pass

    def handle(self):
        try:
            self.converse()
        except OSError:
            pass                    # the client went away, or failed its handshake

    def start_tls(self) -> bool:
        script: Script = self.script
        self.answer(["220 2.0.0 Ready to start TLS"], "STARTTLS")
        if self.faulty and script.tls_failure:
            self.request.recv(4096)             # the ClientHello
            if script.tls_failure == "garbage":
                self.wfile.write(b"HTTP/1.1 400 Bad Request\r\nThis is not TLS at all.\r\n\r\n")
                self.drain()
            return False
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*script.starttls)
        self.request = self.connection = context.wrap_socket(self.request, server_side=True)
        self.rfile = self.request.makefile("rb")
        self.wfile = _Writer(self.request)
        self.tls = True
        return True

    def converse(self):
        script: Script = self.server.script
        self.script = script
        with script.lock:
            script.sessions += 1
            self.session = script.sessions
        self.faulty = script.faulty(self.session)
        self.tls = False
        self.unsolicited_sent: set[str] = set()
        fail_at = script.fail_at if self.faulty else {}
        silent_at = script.silent_at if self.faulty else None
        if self.faulty and script.silent:
            self.drain()
            return
        if self.faulty and script.greeting is not None:
            self.reply(script.greeting)         # refused: only QUIT is answered
            while line := self.readline():
                if line[:4].upper() == b"QUIT":
                    self.reply("221 2.0.0 Bye")
                    return
                self.reply("503 5.5.1 Bad sequence of commands")
            return
        self.answer(["220 scripted.test ESMTP"], "CONNECT")
        sender, recipients, chunks, commands = None, [], b"", []
        while True:
            line = self.readline()
            if not line:
                return
            command = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = command[:4].upper()
            if verb == silent_at:
                self.drain()
                return
            if verb in fail_at and verb != "DATA":
                if verb == "MAIL":
                    sender, recipients, chunks, commands = None, [], b"", []
                self.answer([fail_at[verb]], verb)
            elif verb in ("EHLO", "HELO"):
                lines = ["250-scripted.test"]
                if script.chunking:
                    lines += ["250-PIPELINING", "250-CHUNKING"]
                if script.starttls and not self.tls:
                    lines.append("250-STARTTLS")
                if script.smtputf8:
                    lines.append("250-SMTPUTF8")
                self.answer(lines + ["250 8BITMIME"], verb)
            elif verb == "STAR" and command.upper() == "STARTTLS" and script.starttls and not self.tls:
                if not self.start_tls():
                    return
                sender, recipients, chunks, commands = None, [], b"", []
            elif verb == "MAIL":
                sender, recipients, chunks, commands = command.split(":", 1)[1].strip(), [], b"", []
                self.answer(["250 2.1.0 Ok"], verb)
            elif verb == "RCPT":
                address = command.split(":", 1)[1].strip().strip("<>").split(">")[0]
                if address in script.refuse:
                    self.answer(["550 5.1.1 No such user here"], verb)
                else:
                    recipients.append(address)
                    self.answer(["250 2.1.5 Ok"], verb)
            elif verb == "BDAT" and script.chunking:
                words = command.split()
                size = int(words[1])
                chunk = self.rfile.read(size)
                if len(chunk) < size:
                    return
                chunks += chunk
                commands.append(command)
                last = len(words) > 2 and words[2].upper() == "LAST"
                with script.lock:
                    refuse = not last and script.refuse_chunk > 0
                    if refuse:
                        script.refuse_chunk -= 1
                if refuse:
                    sender, recipients, chunks, commands = None, [], b"", []
                    self.reply("452 4.3.1 Insufficient system storage")
                elif last:
                    with script.lock:
                        script.received.append(Received(sender, recipients, chunks, commands, self.tls, self.session))
                    sender, recipients, chunks, commands = None, [], b"", []
                    self.answer(["250 2.0.0 Ok: queued"], ".")
                else:
                    self.reply(f"250 2.0.0 {size} octets received")
            elif verb == "DATA":
                if "DATA" in fail_at:
                    self.answer([fail_at["DATA"]], "DATA")
                    continue
                self.answer(["354 End data with <CR><LF>.<CR><LF>"], "DATA")
                if self.faulty and script.stall_in_data:
                    # Stops reading: the client's writes block once the buffers are full.
                    self.request.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                    script.stopped.wait(60)
                    return
                text = bytearray()      # grows in place: big texts are read in linear time
                with script.lock:
                    drop = script.drop_in_data > 0
                    if drop:
                        script.drop_in_data -= 1
                while not text.endswith(b"\r\n.\r\n"):
                    chunk = self.rfile.readline(65536)
                    if not chunk:
                        return
                    text += chunk
                    if drop and len(text) > 10:
                        return        # the connection goes away in the middle of the text
                if silent_at == ".":
                    self.drain()      # the text is not kept: no reply, no commitment
                    return
                if "." in fail_at:
                    sender, recipients, chunks, commands = None, [], b"", []
                    self.answer([fail_at["."]], ".")
                    continue
                with script.lock:
                    script.received.append(Received(sender, recipients, bytes(text[:-5]), ["DATA"], self.tls, self.session))
                self.answer(["250 2.0.0 Ok: queued"], ".")
            elif verb == "RSET":
                sender, recipients, chunks, commands = None, [], b"", []
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 Not here")


class ScriptedMTA:
    def __init__(self, host: str = "127.0.0.7", port: int = 0, script: Script | None = None):
        self.script = script or Script()
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer((host, port), _Handler)
        self.server.daemon_threads = True
        self.server.script = self.script
        self.host, self.port = self.server.server_address
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def route(self) -> str:
        return f"[{self.host}]:{self.port}"

    def __enter__(self) -> "ScriptedMTA":
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.script.stopped.set()
        self.server.shutdown()
        self.server.server_close()
