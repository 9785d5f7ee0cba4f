"""A real DNS server for the delivery tests: unbound on 127.0.0.1:PORT answering
from local-data, which Veil's [dns] servers points at ("127.0.0.1@PORT")."""

from __future__ import annotations

import socket
from pathlib import Path

from harness import PeerProcess

ZONE = "veiltest"   # not one of libunbound's built-in local zones (test., invalid., ...)


class DNSServer(PeerProcess):
    def __init__(self, directory: Path, records: list[str]):
        """records: local-data lines such as "dest.veiltest. MX 10 mx1.dest.veiltest."."""
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        data = "\n".join(f'  local-data: "{r}"' for r in records)
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
  local-zone: "{ZONE}." static
{data}
""")

    @property
    def server(self) -> str:
        return f"127.0.0.1@{self.port}"

    def start(self) -> "DNSServer":
        self.spawn("unbound", ["-d", "-c", str(self.directory / "unbound.conf")], "127.0.0.1", self.port,
                   f"unbound on {self.server}")
        return self
