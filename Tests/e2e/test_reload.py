"""SIGHUP (systemctl reload): the users file, the TLS certificate and the config are
read again without dropping connections; a broken config is refused and the old
one stays in force."""

import re
import ssl
import subprocess

from harness import VEIL_BIN, crypt_sha512, make_certificate, message, queue_id


def test_new_user_works_after_reload_and_open_sessions_stay(make_veil, tmp_path, users_file):
    users = tmp_path / "users"
    users.write_text(users_file.read_text())
    veil = make_veil(auth={"users_file": str(users)})
    with veil.connect("smtps") as before:
        before.ehlo()
        before.auth_plain("newuser", "n3w-Secret", expect="535")
        users.write_text(users.read_text() + f"newuser:{crypt_sha512('n3w-Secret')}\n")
        veil.reload()
        # The session opened before the reload goes on.
        before.auth_plain("demo", "demo")
        before.mail("a@corp.example")
        before.rcpt("b@example.org")
        assert queue_id(before.data(message("across a reload")))
    with veil.connect("smtps") as after:
        after.ehlo()
        after.auth_plain("newuser", "n3w-Secret")


def test_new_certificate_for_new_connections(make_veil, tmp_path):
    cert, key = make_certificate(tmp_path)
    veil = make_veil(tls={"certificate": str(cert), "private_key": str(key)})

    def served() -> bytes:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        import socket
        with socket.create_connection(("127.0.0.1", veil.port("smtps")), timeout=15) as raw:
            with context.wrap_socket(raw) as tls:
                return tls.getpeercert(binary_form=True)

    first = served()
    replacement = tmp_path / "new"
    replacement.mkdir()
    new_cert, new_key = make_certificate(replacement)
    cert.write_bytes(new_cert.read_bytes())
    key.write_bytes(new_key.read_bytes())
    veil.reload()
    assert served() != first
    assert served() == ssl.PEM_cert_to_DER_cert(new_cert.read_text())


def test_broken_config_is_refused_and_the_old_one_stays(make_veil):
    veil = make_veil()
    good = veil.config_path.read_text()
    veil.config_path.write_text(good + "\nbogus_key = 1\n")
    event = veil.reload(event="reload_failed")
    assert "bogus_key" in event["error"] and "veil.toml:" in event["error"]
    with veil.connect("plain") as c:
        c.ehlo()
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        assert queue_id(c.data(message("old config still works")))
    assert veil.alive()


def test_listener_address_change_needs_a_restart(make_veil):
    veil = make_veil()
    text = veil.config_path.read_text()
    veil.config_path.write_text(text.replace('address = "127.0.0.1:0"', 'address = "127.0.0.1:1"', 1))
    veil.reload()
    assert "listener.address" in veil.wait_event("reload_incomplete")[0]["keys"]


def test_tls_listeners_keep_their_certificate_when_a_reload_drops_tls(make_veil):
    """The file loses its TLS listeners and [tls]: they stay bound until a restart,
    and keep serving TLS with the certificate they started with."""
    veil = make_veil()
    text = veil.config_path.read_text()
    plain_only = text.split("[[listener]]")
    # Keep the first listener (plain) only, and drop [tls].
    new = "[[listener]]".join(plain_only[:2])
    rest = "[" + plain_only[-1].split("\n[", 1)[1]
    rest = re.sub(r"\[tls\]\n(?:[^\[\n].*\n)*", "", rest)
    veil.config_path.write_text(new + rest)
    assert "[tls]" not in veil.config_path.read_text() and "smtps" not in veil.config_path.read_text()
    veil.reload()
    assert "listener.address" in veil.wait_event("reload_incomplete")[0]["keys"]
    with veil.connect("submission") as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        c.auth_plain("demo", "demo")
    with veil.connect("smtps") as c:
        c.ehlo()
    assert veil.alive()


def test_veil_passwd_hash_works_in_the_users_file(make_veil, tmp_path, users_file):
    made = subprocess.run([VEIL_BIN, "passwd"], input="Pa55-word\n", capture_output=True, text=True, timeout=30)
    assert made.returncode == 0 and made.stdout.startswith("$y$"), made
    users = tmp_path / "users"
    users.write_text(users_file.read_text() + f"fresh:{made.stdout.strip()}\n")
    veil = make_veil(auth={"users_file": str(users)})
    with veil.connect("smtps") as c:
        c.ehlo()
        c.auth_plain("fresh", "Pa55-word")
    empty = subprocess.run([VEIL_BIN, "passwd"], input="", capture_output=True, text=True, timeout=30)
    assert empty.returncode == 1 and "no password" in empty.stderr
