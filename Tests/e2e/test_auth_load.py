"""AUTH under load: parallel guesses count against the lockout, the global AUTH rate
answers 454 4.7.0, and a flood of AUTH attempts does not hold up mail (hashing has
its own threads, apart from the ones that commit messages)."""

import statistics
import threading
import time

import pytest

from harness import PROXIED_AUTH, SMTPClient, b64, proxied_session


def guess_all_at_once(sessions: list[SMTPClient], password: str = "Wrong-Password") -> list[str]:
    """Sends one AUTH PLAIN on every session before reading any reply; the replies' codes."""
    for c in sessions:
        c.send(f"AUTH PLAIN {b64(chr(0) + 'demo' + chr(0) + password)}\r\n")
    codes = [f"{r.code} {r.enhanced}" for r in (c.reply() for c in sessions)]
    for c in sessions:
        c.close()
    return codes


@pytest.mark.veil(auth={"max_failures": 3}, extra_listeners=[PROXIED_AUTH])
def test_guesses_in_flight_count_against_the_lockout(veil):
    mark = veil.mark()
    codes = guess_all_at_once([proxied_session(veil, "192.0.2.7") for _ in range(12)])
    # However the 12 checks interleave, max_failures of them are checked; the others
    # wait for their turn, and the lockout refuses them.
    assert sorted(codes) == ["454 4.7.0"] * 9 + ["535 5.7.8"] * 3, codes
    veil.wait_event("auth_lockout", since=mark, client="192.0.2.7")
    veil.wait_event("auth_failed", since=mark, client="192.0.2.7", reason="locked_out", count=9)
    # The lockout holds for the right password too; another client is not affected.
    with proxied_session(veil, "192.0.2.7") as c:
        c.auth_plain("demo", "demo", expect="454 4.7.0")
    with proxied_session(veil, "192.0.2.8") as c:
        c.auth_plain("demo", "demo")


@pytest.mark.veil(auth={"max_failures": 3}, extra_listeners=[PROXIED_AUTH])
def test_parallel_logins_of_one_client_all_succeed(veil):
    # An MTA opening 20 connections at once: the checks beyond max_failures wait
    # for their turn instead of being refused.
    codes = guess_all_at_once([proxied_session(veil, "192.0.2.9") for _ in range(20)], password="demo")
    assert codes == ["235 2.7.0"] * 20, codes


@pytest.mark.veil(auth={"max_failures": 1000, "max_attempts_per_second": 1}, extra_listeners=[PROXIED_AUTH])
def test_the_global_auth_rate_answers_454(veil):
    mark = veil.mark()
    # Ten clients at once, one attempt each: one second's worth (one) is checked.
    codes = guess_all_at_once([proxied_session(veil, f"198.51.100.{i}") for i in range(10)])
    assert codes.count("454 4.7.0") >= 5 and "535 5.7.8" in codes, codes
    veil.wait_event("auth_failed", since=mark, reason="rate_limited", count=codes.count("454 4.7.0"))


def timed_login(veil) -> float:
    """Seconds from AUTH to 235 for one right password (one hash, unloaded)."""
    with proxied_session(veil, "192.0.2.200") as c:
        started = time.monotonic()
        c.auth_plain("demo", "demo")
        return time.monotonic() - started


def send_timed(c: SMTPClient, n: int) -> float:
    """Sends message n; seconds from the end of the data to the 250."""
    c.mail("sender@corp.example")
    c.rcpt("rcpt@remote.example")
    c.cmd("DATA", "354")
    c.send(f"Subject: load {n}\r\n\r\nbody {n}\r\n".encode())
    started = time.monotonic()
    c.send(b".\r\n")
    c.check(c.reply(), "250 2.0.0")
    return time.monotonic() - started


@pytest.mark.veil(auth={"max_failures": 5, "max_attempts_per_second": 100000}, extra_listeners=[PROXIED_AUTH])
def test_an_auth_flood_does_not_hold_up_mail(veil):
    messages = 20
    with veil.connect("plain") as c:
        c.ehlo()
        unloaded = [send_timed(c, n) for n in range(messages)]
        c.quit()

    one_hash = min(timed_login(veil) for _ in range(5))
    stop = threading.Event()
    attempts = {"sent": 0, "454": 0, "535": 0, "errors": 0}
    lock = threading.Lock()

    def flood(worker: int):
        n = 0
        while not stop.is_set():
            n += 1
            # A new address each time: no lockout slows the flood down.
            src = f"10.{worker}.{n // 250 % 250}.{n % 250 + 1}"
            try:
                with proxied_session(veil, src) as s:
                    reply = s.cmd(f"AUTH PLAIN {b64(chr(0) + 'demo' + chr(0) + 'Flood-' + str(n))}")
            except Exception:   # counted: a flood that fails does not test anything
                with lock:
                    attempts["errors"] += 1
                continue
            with lock:
                attempts["sent"] += 1
                attempts[str(reply.code)] = attempts.get(str(reply.code), 0) + 1

    workers = [threading.Thread(target=flood, args=(w,), daemon=True) for w in range(24)]
    for w in workers:
        w.start()
    try:
        # The flood is on before the mail goes.
        veil.wait_event("auth_failed", count=50)
        with lock:
            before = attempts["sent"]
        with veil.connect("plain") as c:
            c.ehlo()
            loaded = [send_timed(c, n) for n in range(messages)]
            c.quit()
        with lock:
            during = attempts["sent"] - before
    finally:
        stop.set()
        for w in workers:
            w.join()

    print(f"\nAUTH flood ({attempts}, {during} while the mail went): 250 after the data, median/max: "
          f"unloaded {statistics.median(unloaded) * 1000:.1f}/{max(unloaded) * 1000:.1f} ms, "
          f"under the flood {statistics.median(loaded) * 1000:.1f}/{max(loaded) * 1000:.1f} ms; "
          f"one hash (an unloaded AUTH round trip) {one_hash * 1000:.1f} ms")
    assert len(loaded) == messages
    assert during >= messages and attempts["errors"] == 0, attempts
