"""`veil serve` refuses to run as root (issue 13): the daemon handles mail and TLS
from the network and belongs to an unprivileged user (systemd/veil.service has
User=veil). VEIL_ALLOW_ROOT=1 is the development switch that the harness sets for
every other test; here it is taken away. The tests run as root (CI, containers)."""

import os
import socket

import pytest

from harness import parse_logfmt, serve_once

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def config(write_config):
    return write_config()


def without_switch(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "VEIL_ALLOW_ROOT"}
    env.update(extra)
    return env


@pytest.mark.parametrize("value", [None, "0", "yes"])
def test_root_is_refused(config, tmp_path, value):
    env = without_switch() if value is None else without_switch(VEIL_ALLOW_ROOT=value)
    p = serve_once(config, env=env)
    assert p.returncode not in (0, None), f"exit {p.returncode}:\n{p.stderr}"
    assert "refusing to run as root" in p.stderr, p.stderr
    # It says what to do instead.
    assert "User=veil" in p.stderr and "VEIL_ALLOW_ROOT=1" in p.stderr, p.stderr
    # Refused before anything is touched: no spool made, nothing logged as started.
    assert not (tmp_path / "spool").exists()
    assert "event=" not in p.stderr, p.stderr


def test_root_is_refused_under_systemd_without_user(config, tmp_path):
    """A unit without User= starts the daemon as root, with systemd's environment
    (INVOCATION_ID, NOTIFY_SOCKET): refused the same way, and systemd never hears
    READY=1."""
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.setblocking(False)
    try:
        p = serve_once(config, env=without_switch(NOTIFY_SOCKET=str(tmp_path / "notify"),
                                                  INVOCATION_ID="0123456789abcdef0123456789abcdef"))
        assert p.returncode not in (0, None), f"exit {p.returncode}:\n{p.stderr}"
        assert "refusing to run as root" in p.stderr, p.stderr
        messages = []
        while True:     # the process has exited: everything it sent is queued
            try:
                messages.append(notify.recv(4096).decode())
            except BlockingIOError:
                break
        assert not any("READY=1" in m for m in messages), messages
    finally:
        notify.close()


def test_root_with_the_development_switch_starts_and_says_so(make_veil):
    veil = make_veil()      # the harness sets VEIL_ALLOW_ROOT=1
    assert os.environ.get("VEIL_ALLOW_ROOT") == "1"
    # Logged at start-up, before event=ready (which start() waited for).
    events = [parse_logfmt(line) for line in veil.run_lines()]
    warnings = [ev for ev in events if ev.get("event") == "running_as_root"]
    assert len(warnings) == 1, veil.log_text()
    assert warnings[0].get("level") == "warning" and "VEIL_ALLOW_ROOT=1" in warnings[0].get("note", ""), warnings
