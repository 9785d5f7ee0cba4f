"""The daemon under systemd, with systemd's side played by the test: the notify
socket (READY=1, STATUS=, WATCHDOG=1, RELOADING=1, STOPPING=1) and socket
activation (LISTEN_FDS/LISTEN_PID with a socket bound beforehand)."""

import signal
import socket
import time

import pytest

from harness import IO_TIMEOUT, VeilError, message, queue_id, send_message


class NotifySocket:
    """A datagram socket like systemd's NOTIFY_SOCKET; collects the messages."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(IO_TIMEOUT)
        self.path = str(path)
        self.received: list[str] = []

    def wait_for(self, prefix: str) -> str:
        """The next message with a line starting with `prefix` (earlier ones kept)."""
        for text in self.received:
            for line in text.splitlines():
                if line.startswith(prefix):
                    self.received.remove(text)
                    return line
        end = time.monotonic() + IO_TIMEOUT
        while time.monotonic() < end:
            text = self.sock.recv(4096).decode()
            for line in text.splitlines():
                if line.startswith(prefix):
                    return line
            self.received.append(text)
        raise AssertionError(f"no {prefix} from the daemon; got {self.received}")


def test_notify_ready_status_watchdog_reload_stopping(make_veil, tmp_path):
    veil = make_veil()
    veil.stop()
    notify = NotifySocket(tmp_path / "notify")
    veil.extra_env = {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"}
    veil.start()
    assert notify.wait_for("READY=1") == "READY=1"
    assert notify.wait_for("STATUS=").startswith("STATUS=accepting mail")
    # Half of WatchdogSec: several pings within a second or two.
    for _ in range(3):
        assert notify.wait_for("WATCHDOG=1") == "WATCHDOG=1"
    veil.proc.send_signal(signal.SIGHUP)
    assert notify.wait_for("RELOADING=1") == "RELOADING=1"
    assert notify.wait_for("READY=1") == "READY=1"
    veil.proc.send_signal(signal.SIGTERM)
    assert notify.wait_for("STOPPING=1") == "STOPPING=1"
    assert veil.proc.wait(timeout=15) == 0


def test_status_line_counts_the_queue(make_veil, tmp_path):
    veil = make_veil()
    send_message(veil, ["b@example.org"], "for the status line")
    veil.wait_event("deferred")
    veil.stop()
    notify = NotifySocket(tmp_path / "notify")
    veil.extra_env = {"NOTIFY_SOCKET": notify.path}
    veil.start()
    assert "queue: 1 messages (1 deferred recipients, 0 held)" in notify.wait_for("STATUS=accepting mail; queue")


def test_socket_activation_uses_the_passed_socket(make_veil):
    veil = make_veil()
    veil.stop()
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(16)
    port = listening.getsockname()[1]
    text = veil.config_path.read_text()
    # The plain listener's address is the pre-bound socket's.
    veil.config_path.write_text(text.replace('address = "127.0.0.1:0"', f'address = "127.0.0.1:{port}"', 1))
    veil.passed_sockets = [listening]
    veil.start()
    [event] = [e for e in veil.events("listening", since=veil.run_start) if e["listener"] == "plain"]
    assert event["socket"] == "systemd" and event["address"] == f"127.0.0.1:{port}"
    listening.close()        # only the daemon holds it now
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        assert queue_id(c.data(message("through systemd's socket")))
    assert all(e["socket"] == "bound" for e in veil.events("listening", since=veil.run_start) if e["listener"] != "plain")


def test_a_passed_socket_without_a_listener_stops_the_start(make_veil):
    """systemd would accept connections on it that nobody answers: refuse to start."""
    veil = make_veil()
    veil.stop()
    stray = socket.socket()
    stray.bind(("127.0.0.1", 0))
    stray.listen(4)
    veil.passed_sockets = [stray]
    with pytest.raises(VeilError):
        veil.start()
    assert veil.proc.wait(timeout=15) == 1
    assert f"systemd passed a listening socket for 127.0.0.1:{stray.getsockname()[1]}" in veil.log_text()
    assert "listener.address" in veil.log_text()
