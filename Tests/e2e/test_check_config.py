"""`veil check-config`: valid files pass; errors are `PATH:LINE: KEY: problem`, exit 1.

Longer than 300 lines: one short test per configuration key that can be wrong, each
naming the line it expects in the error."""

import re
import subprocess

import pytest

from harness import VEIL_BIN, crypt_sha512, serve_once


def check_config(path) -> subprocess.CompletedProcess:
    return subprocess.run([VEIL_BIN, "check-config", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)


def line_of(path, pattern, nth=0) -> int:
    """1-based number of the nth line matching the regex."""
    hits = [i + 1 for i, l in enumerate(path.read_text().splitlines()) if re.search(pattern, l)]
    return hits[nth]


def insert_after(pattern, new_line, nth=0):
    def edit(lines):
        hits = [i for i, l in enumerate(lines) if re.search(pattern, l)]
        lines.insert(hits[nth] + 1, new_line)
    return edit


def replace_line(pattern, new_line, nth=0):
    def edit(lines):
        hits = [i for i, l in enumerate(lines) if re.search(pattern, l)]
        lines[hits[nth]] = new_line
    return edit


def assert_error(p, path, line, key=None):
    out = p.stderr
    assert p.returncode == 1, f"exit {p.returncode}, stderr:\n{out}\nstdout:\n{p.stdout}"
    where = re.escape(str(path)) + f":{line}: "
    if key is None:
        rx = where
    else:
        # The key may be printed bare or with its table path (limits.x, listener[1].x, ...).
        rx = where + r"(?:[\w\[\]\.\"-]*\.)?" + re.escape(key) + ":"
    assert re.search(rx, out), f"expected /{rx}/ in stderr:\n{out}\n--- config ---\n{path.read_text()}"


def test_valid_config(write_config):
    path = write_config()
    p = check_config(path)
    assert p.returncode == 0, p.stdout + p.stderr


def test_version():
    p = subprocess.run([VEIL_BIN, "version"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stdout.strip(), p


def test_unknown_top_level_key(write_config):
    path = write_config(insert_after(r"^spool_dir", "bogus_key = 1"))
    assert_error(check_config(path), path, line_of(path, r"^bogus_key"), "bogus_key")


def test_unknown_key_in_section(write_config):
    path = write_config(insert_after(r"^\[limits\]", 'max_bananas = "3"'),
                        limits={"max_recipients": 10})
    assert_error(check_config(path), path, line_of(path, r"^max_bananas"), "max_bananas")


def test_unknown_key_in_listener(write_config):
    path = write_config(insert_after(r'^name = "submission"', "colour = \"blue\""))
    assert_error(check_config(path), path, line_of(path, r"^colour"), "colour")


def test_unknown_section(write_config):
    path = write_config(lambda lines: lines.extend(["", "[frobnicate]", "x = 1"]))
    p = check_config(path)
    assert p.returncode == 1, p
    line = line_of(path, r"^\[frobnicate\]")
    assert re.search(re.escape(str(path)) + rf":({line}|{line + 1}): ", p.stderr), p.stderr


def test_bad_tls_value(write_config):
    path = write_config(replace_line(r'^tls = "starttls"', 'tls = "sometimes"'))
    assert_error(check_config(path), path, line_of(path, r'^tls = "sometimes"'), "tls")


def test_bad_size_value(write_config):
    path = write_config(limits={"max_message_size": "10XB"})
    assert_error(check_config(path), path, line_of(path, r"^max_message_size"), "max_message_size")


def test_bad_duration_value(write_config):
    path = write_config(auth={"lockout": "forever"})
    assert_error(check_config(path), path, line_of(path, r"^lockout"), "lockout")


def test_bad_bare_newline_value(write_config):
    path = write_config(limits={"bare_newline": "ignore"})
    assert_error(check_config(path), path, line_of(path, r"^bare_newline"), "bare_newline")


def test_missing_certificate_names_certificate_line(write_config, tmp_path):
    path = write_config(tls={"certificate": str(tmp_path / "no-such-cert.pem")})
    assert_error(check_config(path), path, line_of(path, r"^certificate"), "certificate")


def test_missing_users_file_names_users_file_line(write_config, tmp_path):
    path = write_config(auth={"users_file": str(tmp_path / "no-such-users")})
    assert_error(check_config(path), path, line_of(path, r"^users_file"), "users_file")


def test_duplicate_listener_name(write_config):
    path = write_config(replace_line(r'^name = "smtps"', 'name = "submission"'))
    p = check_config(path)
    assert p.returncode == 1, p
    assert re.search(re.escape(str(path)) + r":\d+: ", p.stderr), p.stderr
    assert "name" in p.stderr or "submission" in p.stderr, p.stderr


def test_toml_syntax_error(write_config):
    path = write_config(insert_after(r"^\[limits\]", "max_recipients = [unclosed"),
                        limits={"max_errors": 20})
    p = check_config(path)
    assert p.returncode == 1, p
    assert re.search(re.escape(str(path)) + rf":{line_of(path, r'unclosed')}: ", p.stderr), p.stderr


def test_weak_hash_in_users_file(write_config, tmp_path):
    users = tmp_path / "weak-users"
    md5 = subprocess.run(["openssl", "passwd", "-1", "demo"], capture_output=True, text=True,
                         check=True).stdout.strip()
    users.write_text(f"# users\ndemo:{crypt_sha512('demo')}\nold:{md5}\n")
    path = write_config(users=users)
    p = check_config(path)
    assert p.returncode == 1, p
    assert f"{users}:3:" in p.stderr, p.stderr


def test_serve_refuses_bad_config(write_config):
    path = write_config(insert_after(r"^spool_dir", "bogus_key = 1"))
    p = subprocess.run([VEIL_BIN, "serve", "--config", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, p
    assert f"{path}:{line_of(path, r'^bogus_key')}: " in p.stderr, p.stderr


def test_tls_policy_is_printed(write_config):
    """Without max_version and ciphers: TLS 1.2 only (Exchange, docs/exchange.md), ECDHE
    with AEAD; the suites a cipher string enables are listed."""
    p = check_config(write_config())
    assert p.returncode == 0, p.stderr
    assert 'max_version = "1.2"' in p.stdout, p.stdout
    suites = re.search(r"^# TLS 1\.2 suites: (.*)$", p.stdout, re.M)
    assert suites and set(suites[1].split()) == {
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"}, p.stdout
    p = check_config(write_config(tls={"min_version": "1.3"}))
    assert p.returncode == 0 and 'max_version = "1.3"' in p.stdout, p.stdout + p.stderr


@pytest.mark.parametrize("ciphers, problem", [
    ("ECDHE+AESGCM:NOT-A-SUITE", '"NOT-A-SUITE"'),
    ("ALL:!ECDHE-RSA-AES128-SHA1", '"ECDHE-RSA-AES128-SHA1"'),      # a typo must not leave CBC on
    ("!ALL", "enables no TLS 1.2 cipher suite"),
    ("", "empty"),
    ("TLS_AES_128_GCM_SHA256", "TLS 1.3"),
    ("HIGH:@SECLEVEL=2", "@SECLEVEL"),
])
def test_bad_tls_ciphers(write_config, ciphers, problem):
    """A cipher string BoringSSL refuses would stop the process inside NIOSSL (a
    precondition): it must be a configuration error at check-config and serve."""
    path = write_config(tls={"ciphers": ciphers})
    line = line_of(path, r"^ciphers = ")
    for command in ("check-config", "serve"):
        p = subprocess.run([VEIL_BIN, command, "--config", str(path)], capture_output=True, text=True, timeout=60)
        assert_error(p, path, line, "tls.ciphers")
        assert problem in p.stderr and "unknown key" not in p.stderr, p.stderr


def test_bad_tls_max_version(write_config):
    path = write_config(tls={"max_version": "1.1"})
    p = check_config(path)
    assert_error(p, path, line_of(path, r"^max_version"), "tls.max_version")
    assert '"1.2", "1.3"' in p.stderr, p.stderr
    path = write_config(tls={"min_version": "1.3", "max_version": "1.2"})
    p = check_config(path)
    assert_error(p, path, line_of(path, r"^max_version"), "tls.max_version")
    assert "below min_version" in p.stderr, p.stderr


def test_shipped_example_config_is_valid(tmp_path, certs, users_file):
    """config/veil.toml documents every key with its default: it must load as it is,
    once its /etc paths point at real files."""
    from harness import REPO
    cert, key = certs
    text = (REPO / "config" / "veil.toml").read_text()
    text = (text.replace("/etc/veil/tls/fullchain.pem", str(cert)).replace("/etc/veil/tls/privkey.pem", str(key))
                .replace("/etc/veil/users", str(users_file)).replace("/var/lib/veil", str(tmp_path / "spool"))
                .replace("/run/veil/veil.sock", str(tmp_path / "veil.sock")))
    path = tmp_path / "veil.toml"
    path.write_text(text)
    result = check_config(path)
    assert result.returncode == 0, result.stderr
    for section in ("[tls]", "[auth]", "[limits]", "[scrub]", "[delivery]", "[log]"):
        assert section in result.stdout


@pytest.mark.parametrize("mode", ["allowlist", "denylist"])
@pytest.mark.parametrize("remove, field", [
    (["Content-*"], "Content-Type"),
    (["mime-version"], "MIME-Version"),
    (["X-Mailer", "content-transfer-encoding"], "Content-Transfer-Encoding"),
    (["C*"], "Content-Type"),
    (["MIME-*", "Content-Type"], "MIME-Version"),
    (["Content-Class"], None),
    (["Content-Class", "Content-Language", "X-*"], None),
], ids=["content-star", "mime-version", "cte", "c-star", "mime-star", "content-class", "content-class-language"])
def test_scrub_remove_cannot_remove_what_mime_needs(write_config, remove, field, mode):
    """[scrub] remove entries that would take out MIME-Version, Content-Type or
    Content-Transfer-Encoding (names or prefixes, any case) are a configuration
    error at the remove line, naming the field; other Content-* names are fine."""
    path = write_config(scrub={"mode": mode, "remove": remove})
    p = check_config(path)
    if field is None:
        assert p.returncode == 0, p.stderr + p.stdout
        return
    line = line_of(path, r"^remove = ")
    assert_error(p, path, line, "remove")
    assert f"{path}:{line}: scrub.remove: would remove {field}, without which mail programs cannot read MIME " \
           "messages" in p.stderr, p.stderr


# ---- TOML 1.0 (issue 13, point 8) --------------------------------------------------------

def toml_1_0_config(tmp_path, certs, users_file) -> str:
    """A configuration that uses what TOML 1.0 allows and the first reader refused:
    comments inside multi-line arrays, inline tables and an array of inline tables,
    quoted and dotted keys, tables in any order, hex and underscored integers,
    literal and multi-line strings, CRLF line ends and trailing blanks."""
    cert, key = certs
    return "\r\n".join([
        "# Veil written in TOML 1.0 ",
        "\"hostname\" = 'veil.test'\t",
        f"spool_dir = '{tmp_path / 'spool'}'",
        "log.level = \"debug\"                     # a dotted key",
        "limits = { max_recipients = 0x64, max_message_size = \"10MB\", 'max_errors' = 1_0 }",
        "listener = [",
        "  # an array of inline tables, with comments between them",
        "  { name = \"plain\", address = \"127.0.0.1:0\", tls = \"none\", auth = \"off\", relay_networks = [",
        "      \"127.0.0.0/8\",   # loopback",
        "      # a whole comment line",
        "      \"10.0.0.0/8\",",
        "  ] },",
        "  { name = \"submission\", address = \"127.0.0.1:0\" },",
        "]",
        "",
        "[[delivery.domain]]                      # before [delivery]",
        "domain = \"partner.example\"",
        "route = \"[192.0.2.5]:25\"",
        "",
        "[auth]",
        f"users_file = \"\"\"\n{users_file}\"\"\"",
        "",
        "[delivery]",
        "mode = \"smarthost\"",
        "smarthost = \"[127.0.0.1]:9\"",
        "retry = [ # first try after a minute",
        "  \"1m\",",
        "  \"1h\", # then every hour",
        "]",
        "",
        "[scrub]",
        "mode = \"denylist\"",
        "remove = ['X-Internal-*', \"X-\\u0041ntivirus\"]",
        "",
        "[tls]",
        f"certificate = '{cert}'",
        f"private_key = '''{key}'''",
        "",
    ])


def test_toml_1_0_config_is_read_as_written(tmp_path, certs, users_file):
    import tomllib
    path = tmp_path / "veil.toml"
    path.write_bytes(toml_1_0_config(tmp_path, certs, users_file).encode())
    p = check_config(path)
    assert p.returncode == 0, p.stderr
    # check-config prints the effective configuration as TOML.
    effective = tomllib.loads(p.stdout)
    assert effective["hostname"] == "veil.test"
    assert effective["log"]["level"] == "debug"
    assert effective["limits"]["max_recipients"] == 100
    assert effective["limits"]["max_message_size"] == 10 << 20
    assert effective["limits"]["max_errors"] == 10
    assert [l["name"] for l in effective["listener"]] == ["plain", "submission"]
    assert effective["listener"][0]["relay_networks"] == ["127.0.0.0/8", "10.0.0.0/8"]
    assert effective["listener"][1]["tls"] == "starttls"
    assert effective["delivery"]["retry"] == ["60s", "3600s"]
    assert effective["delivery"]["domain"] == [{"domain": "partner.example", "route": "[192.0.2.5]:25",
                                                "tls": "opportunistic"}]
    assert effective["scrub"]["remove"] == ["X-Internal-*", "X-Antivirus"]
    assert effective["auth"]["users_file"] == str(users_file)
    assert effective["tls"]["private_key"] == str(certs[1])


def test_duplicate_key_names_its_line_and_key(write_config):
    path = write_config(insert_after(r"^max_recipients", "max_recipients = 20"), limits={"max_recipients": 10})
    p = check_config(path)
    assert_error(p, path, line_of(path, r"^max_recipients", nth=1), "max_recipients")
    assert f"limits.max_recipients: defined twice (first on line {line_of(path, r'^max_recipients')})" in p.stderr


def test_table_defined_twice_names_its_line(write_config):
    path = write_config(lambda lines: lines.extend(["", "[limits]", "max_errors = 3"]), limits={"max_recipients": 10})
    p = check_config(path)
    assert_error(p, path, line_of(path, r"^\[limits\]", nth=1), "limits")
    first = line_of(path, r"^\[limits\]")
    assert f"already defined as a table on line {first}" in p.stderr


def test_value_of_the_wrong_type_names_its_key(write_config):
    path = write_config(limits={"max_recipients": 10},
                        edit=replace_line(r"^max_recipients", "max_recipients = 2.5  # a float"))
    p = check_config(path)
    assert_error(p, path, line_of(path, r"^max_recipients"), "max_recipients")
    assert "must be an integer, not a float" in p.stderr


def test_bad_item_of_a_multi_line_array_names_the_item_line(write_config):
    def edit(lines):
        at = next(i for i, l in enumerate(lines) if l.startswith("relay_networks"))
        lines[at:at + 1] = ["relay_networks = [", "  # the office", '  "10.0.0.0/8",', '  "10.0.0.0/33",  # a typo', "]"]
    path = write_config(edit)
    p = check_config(path)
    assert_error(p, path, line_of(path, r"10\.0\.0\.0/33"), "relay_networks")


# Issue 13: settings that open the relay or hand out passwords in clear are errors in
# check-config and serve alike, with the line and key at fault.

def assert_refused_everywhere(path, line, key, *problems):
    for p in (check_config(path), serve_once(path)):
        assert_error(p, path, line, key)
        for problem in problems:
            assert problem in p.stderr, p.stderr


@pytest.mark.parametrize("everything", ["0.0.0.0/0", "::/0"])
def test_relay_networks_with_every_address_is_refused(write_config, everything):
    path = write_config(replace_line(r"^relay_networks = ", f'relay_networks = ["127.0.0.0/8", "{everything}"]'))
    assert_refused_everywhere(path, line_of(path, r"^relay_networks = "), "relay_networks",
                              f'"{everything}"', "open relay")


def test_relay_networks_item_on_its_own_line(write_config):
    def edit(lines):
        at = next(i for i, l in enumerate(lines) if l.startswith("relay_networks"))
        lines[at:at + 1] = ["relay_networks = [", '  "10.0.0.0/8",', '  "::/0",  # "everyone", by mistake', "]"]
    path = write_config(edit)
    assert_refused_everywhere(path, line_of(path, r'^  "::/0"'), "relay_networks")


@pytest.mark.parametrize("auth", ["required", "optional"])
def test_auth_on_a_listener_without_tls_is_refused(write_config, auth):
    path = write_config(replace_line(r'^auth = "off"', f'auth = "{auth}"'))
    assert_refused_everywhere(path, line_of(path, rf'^auth = "{auth}"'), "auth",
                              "clear text", "auth_without_tls")


def test_auth_left_at_its_default_on_a_listener_without_tls_is_refused(write_config):
    """No `auth` key means auth = "required": the error names the [[listener]] line."""
    path = write_config(replace_line(r'^auth = "off"', "# auth left out"))
    assert_refused_everywhere(path, line_of(path, r"^\[\[listener\]\]"), "auth", "clear text")


def test_auth_without_tls_is_an_explicit_choice(write_config):
    path = write_config(lambda lines: (replace_line(r'^auth = "off"', 'auth = "optional"')(lines),
                                       insert_after(r'^auth = "optional"', "auth_without_tls = true")(lines)))
    p = check_config(path)
    assert p.returncode == 0, p.stderr
    plain = p.stdout.split("[[listener]]")[1]
    assert 'auth = "optional"' in plain and "auth_without_tls = true" in plain, p.stdout
    assert "auth_without_tls = false" in p.stdout.split("[[listener]]")[2], p.stdout


def test_proxy_protocol_needs_explicit_proxy_networks(write_config):
    path = write_config(insert_after(r"^relay_networks = ", "proxy_protocol = true"))
    assert_refused_everywhere(path, line_of(path, r"^proxy_protocol = true"), "proxy_protocol", "proxy_networks")


def test_proxy_networks_with_every_address_is_refused(write_config):
    path = write_config(insert_after(r"^relay_networks = ", 'proxy_protocol = true\nproxy_networks = ["0.0.0.0/0"]'))
    assert_refused_everywhere(path, line_of(path, r"^proxy_networks = "), "proxy_networks", '"0.0.0.0/0"')


def test_proxy_protocol_with_proxy_networks_is_accepted(write_config):
    path = write_config(insert_after(r"^relay_networks = ", 'proxy_protocol = true\nproxy_networks = ["192.0.2.10/32"]'))
    p = check_config(path)
    assert p.returncode == 0, p.stderr
    assert 'proxy_networks = ["192.0.2.10/32"]' in p.stdout, p.stdout


def test_ipv6_prefix_default_and_set(write_config):
    import tomllib
    p = check_config(write_config())
    assert p.returncode == 0, p.stderr
    assert tomllib.loads(p.stdout)["limits"]["ipv6_prefix"] == 64
    p = check_config(write_config(limits={"ipv6_prefix": 56}))
    assert p.returncode == 0, p.stderr
    assert tomllib.loads(p.stdout)["limits"]["ipv6_prefix"] == 56


@pytest.mark.parametrize("value", ["31", "129", "0", '"64"', "64.0"])
def test_ipv6_prefix_out_of_range_or_not_an_integer(write_config, value):
    path = write_config(insert_after(r"^\[limits\]", f"ipv6_prefix = {value}"), limits={"max_errors": 20})
    p = check_config(path)
    assert_error(p, path, line_of(path, r"^ipv6_prefix"), "ipv6_prefix")
    assert ("between 32 and 128" in p.stderr) or ("integer" in p.stderr), p.stderr
