"""A real DNS server for the delivery tests: unbound on 127.0.0.1:PORT answering
from local-data, which Veil's [dns] servers points at ("127.0.0.1@PORT").

TXT records (DKIM keys) are made with txt(): unbound refuses a TXT string over 255
characters, so the value is split into several quoted strings of one record, and a
record that holds double quotes is written in single quotes. DNSServer.lookup_txt()
asks the server for one (a verifier's lookup: dnspython cannot be imported in this
suite, whose module named dns hides its package).

auth_zones serves zone files as unbound auth-zones next to the local-data (the
DNSSEC-signed zone of dnssec.py)."""

from __future__ import annotations

import random
import socket
import struct
from pathlib import Path

from harness import PeerProcess

ZONE = "veiltest"   # not one of libunbound's built-in local zones (test., invalid., ...)


def txt(name: str, value: str) -> str:
    """A TXT record for DNSServer's records: `value` in quoted strings of at most 255
    characters (a resolver joins them again), as in a zone file."""
    assert '"' not in value and "\\" not in value, value
    strings = [value[i:i + 255] for i in range(0, len(value), 255)] or [""]
    return f"{name} TXT " + " ".join(f'"{s}"' for s in strings)


def local_data(record: str) -> str:
    """The unbound.conf line for one record: in double quotes, or in single quotes
    when the record holds double quotes itself (TXT)."""
    quote = "'" if '"' in record else '"'
    assert quote not in record, record
    return f"  local-data: {quote}{record}{quote}"


class DNSServer(PeerProcess):
    def __init__(self, directory: Path, records: list[str], zones: tuple[str, ...] = (ZONE,),
                 auth_zones: tuple[tuple[str, Path], ...] = ()):
        """records: local-data lines such as "dest.veiltest. MX 10 mx1.dest.veiltest."
        or txt(...); zones: the domains unbound answers for alone (static: a name
        without a record is NXDOMAIN at once, never asked upstream); auth_zones:
        (zone, zone file) pairs answered as an authoritative server would, with the
        RRSIGs of a signed file to a query that sets DO (none of these zones may be
        in `zones` or `records`: local data wins over auth-zones)."""
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        data = "\n".join(local_data(r) for r in records)
        static = "\n".join(f'  local-zone: "{z.rstrip(".")}." static' for z in zones)
        auth = "".join(f'auth-zone:\n  name: "{z.rstrip(".")}."\n  zonefile: "{f}"\n'
                       f'  for-downstream: yes\n  for-upstream: no\n' for z, f in auth_zones)
        (directory / "unbound.conf").write_text(f"""server:
  interface: 127.0.0.1
  port: {self.port}
  do-daemonize: no
  use-syslog: no
  logfile: ""
  chroot: ""
  username: ""
  directory: "{directory}"
  pidfile: "{directory}/unbound.pid"
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
{static}
{data}
{auth}""")

    @property
    def server(self) -> str:
        return f"127.0.0.1@{self.port}"

    def start(self) -> "DNSServer":
        self.spawn("unbound", ["-d", "-c", str(self.directory / "unbound.conf")], "127.0.0.1", self.port,
                   f"unbound on {self.server}")
        return self

    def lookup_txt(self, name: str, timeout: float = 5.0) -> list[bytes] | None:
        """The strings of the first TXT record of `name` (a plain query over TCP), or
        None when there is none (NXDOMAIN, or no TXT record)."""
        reply = self.query(name, 16, timeout)
        _, flags, questions, answers, _, _ = struct.unpack("!6H", reply[:12])
        if flags & 0xF == 3:
            return None
        assert flags & 0xF == 0, f"DNS error {flags & 0xF} for {name}"
        at = 12
        for _ in range(questions):
            at = _skip_name(reply, at) + 4
        for _ in range(answers):
            at = _skip_name(reply, at)
            rtype, _, _, length = struct.unpack("!HHIH", reply[at:at + 10])
            rdata, at = reply[at + 10:at + 10 + length], at + 10 + length
            if rtype == 16:
                strings, i = [], 0
                while i < len(rdata):
                    strings.append(rdata[i + 1:i + 1 + rdata[i]])
                    i += 1 + rdata[i]
                return strings
        return None

    def query(self, name: str, rtype: int, timeout: float = 5.0) -> bytes:
        """The server's reply to one plain query (RD set, no EDNS) over TCP."""
        qid = random.randrange(1 << 16)
        labels = name.rstrip(".").encode("ascii").split(b".")
        query = (struct.pack("!6H", qid, 0x0100, 1, 0, 0, 0)
                 + b"".join(bytes([len(l)]) + l for l in labels) + b"\0" + struct.pack("!2H", rtype, 1))
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(struct.pack("!H", len(query)) + query)
            reply = _read(s, struct.unpack("!H", _read(s, 2))[0])
        assert struct.unpack("!H", reply[:2])[0] == qid, "DNS reply to another query"
        return reply


def _read(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "DNS server closed the connection"
        data += chunk
    return data


def _skip_name(message: bytes, at: int) -> int:
    """The offset after a (possibly compressed) domain name in a DNS message."""
    while message[at] != 0:
        if message[at] & 0xC0 == 0xC0:
            return at + 2
        at += 1 + message[at]
    return at + 1
