"""A small receiving MTA with scripted misbehaviour, for what smtp-sink cannot do:
refuse one recipient of several, drop the connection in the middle of DATA, take
the text in BDAT chunks (RFC 3030). It records every message it accepted
(envelope, text as received on the wire, how it came) and every session."""

from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass, field


@dataclass
class Received:
    sender: str
    recipients: list[str]
    text: bytes
    commands: list[str] = field(default_factory=list)   # DATA, or one "BDAT n [LAST]" per chunk


@dataclass
class Script:
    refuse: set[str] = field(default_factory=set)     # RCPT addresses answered 550 5.1.1
    drop_in_data: int = 0                             # sessions that lose the connection mid-DATA
    chunking: bool = False                            # offer CHUNKING (and PIPELINING with it)
    refuse_chunk: int = 0                             # first BDAT chunks (not LAST) answered 452
    sessions: int = 0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def reply(self, line: str):
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        script: Script = self.server.script
        with script.lock:
            script.sessions += 1
        self.reply("220 scripted.test ESMTP")
        sender, recipients, chunks, commands = None, [], b"", []
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            command = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250-scripted.test")
                if script.chunking:
                    self.reply("250-PIPELINING")
                    self.reply("250-CHUNKING")
                self.reply("250 8BITMIME")
            elif verb == "MAIL":
                sender, recipients, chunks, commands = command.split(":", 1)[1].strip(), [], b"", []
                self.reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                address = command.split(":", 1)[1].strip().strip("<>").split(">")[0]
                if address in script.refuse:
                    self.reply("550 5.1.1 No such user here")
                else:
                    recipients.append(address)
                    self.reply("250 2.1.5 Ok")
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
                        script.received.append(Received(sender, recipients, chunks, commands))
                    sender, recipients, chunks, commands = None, [], b"", []
                    self.reply("250 2.0.0 Ok: queued")
                else:
                    self.reply(f"250 2.0.0 {size} octets received")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                text = b""
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
                with script.lock:
                    script.received.append(Received(sender, recipients, text[:-5], ["DATA"]))
                self.reply("250 2.0.0 Ok: queued")
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
        self.server.shutdown()
        self.server.server_close()
