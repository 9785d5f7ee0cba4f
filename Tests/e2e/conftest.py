"""pytest fixtures for the Veil end-to-end suite.

    veil          a running daemon with the default three listeners (plain / submission / smtps);
                  configure it per test with
                  @pytest.mark.veil(limits={...}, auth={...}, extra_listeners=[{...}], ...)
                  (keyword arguments of harness.render_config)
    make_veil     factory: make_veil(**config_overrides) -> started Veil (several per test ok)
    write_config  factory: write_config(edit=None, name="veil.toml", users=..., **config_overrides)
                  -> Path of a config file that is not started (for check-config and refusals)
    certs         (cert_path, key_path), a self-signed certificate shared by the session
    users_file    the users file (demo/demo, limited/limited restricted to corp.example, carol)
    dns           unbound answering the test module's RECORDS (local-data lines)
    dnssec_keys   dnssec.ZoneKeys: the KSK/ZSK of the signed zone veilsec. and its trust
                  anchor files, made once per session
    make_signed_dns  factory: make_signed_dns(records, bogus=(), expired=(), unsigned=())
                  -> started dnssec.SignedDNS (veilsec. signed, insecure.veilsec. not,
                  `unsigned` as veiltest. local-data); stopped after the test
    signed_dns    make_signed_dns from the test module's SIGNED_RECORDS, BOGUS_RECORDS,
                  EXPIRED_RECORDS and RECORDS (all but the first optional)
    make_sink     factory: make_sink(name="sink", host=..., port=...) -> sink.Sink, not started
                  (.start(*smtp-sink options)); every one is stopped after the test
    sink          make_sink("sink"): smtp-sink on 127.0.0.2, a free port, not started
    test_ca       harness.CertificateAuthority shared by the session: .cert to trust,
                  .issue(names, directory, key_type="rsa") -> (cert, key) for servers
    make_policy_server  factory: make_policy_server(address, policies, report_hosts=(),
                  report_path="/tlsrpt", cert_names=None, ca=test_ca) -> started
                  mta_sts.PolicyServer on address:443 serving {domain: policy text or
                  Answer} at https://mta-sts.DOMAIN/.well-known/mta-sts.txt; stopped
                  after the test
    small_spool   a tmpfs spool folder of @pytest.mark.small_spool("4m") (default "2m");
                  the test is skipped where mounting is not allowed

Plain helpers (routes to a peer, PROXY sessions, raw transactions) are in harness.py,
the round trip to smtp-sink in sink.py.

On failure the daemon's captured log is printed in the test report.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dns import DNSServer  # noqa: E402
from dnssec import SignedDNS, ZoneKeys, make_zone_keys  # noqa: E402
from harness import (CertificateAuthority, Veil, make_certificate, make_test_ca, make_users_file,  # noqa: E402
                     render_config, small_tmpfs)
from mta_sts import PolicyServer  # noqa: E402
from sink import Sink  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "veil(**overrides): configuration overrides for the `veil` fixture "
                   "(see harness.render_config)")
    config.addinivalue_line("markers", "small_spool(size): the size of the `small_spool` tmpfs (default 2m)")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def users_file(tmp_path_factory):
    return make_users_file(tmp_path_factory.mktemp("users") / "users")


@pytest.fixture
def make_veil(request, tmp_path, certs, users_file):
    started: list[Veil] = []

    def factory(**overrides) -> Veil:
        workdir = tmp_path / f"veil{len(started)}"
        workdir.mkdir()
        cert, key = certs
        text = render_config(workdir / "spool", cert, key, users_file, **overrides)
        v = Veil(workdir, text)
        started.append(v)
        return v.start()

    yield factory

    failed = any(getattr(request.node, "rep_" + w, None) is not None
                 and getattr(request.node, "rep_" + w).failed for w in ("setup", "call"))
    for v in started:
        status = v.stop()
        if failed:
            print(f"\n===== veil log ({v.config_path}), exit status {status} =====")
            print(v.config_path.read_text())
            print(v.log_text())


@pytest.fixture
def write_config(tmp_path, certs, users_file):
    """`edit(lines)` may change the list of lines in place before the file is written."""
    def write(edit=None, name="veil.toml", **overrides):
        cert, key = certs
        text = render_config(tmp_path / "spool", cert, key, overrides.pop("users", users_file), **overrides)
        lines = text.splitlines()
        if edit:
            edit(lines)
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n")
        return path
    return write


@pytest.fixture
def veil(request, make_veil) -> Veil:
    marker = request.node.get_closest_marker("veil")
    overrides = dict(marker.kwargs) if marker else {}
    return make_veil(**overrides)


@pytest.fixture
def dns(request, tmp_path):
    server = DNSServer(tmp_path / "dns", request.module.RECORDS).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dnssec_keys(tmp_path_factory) -> ZoneKeys:
    return make_zone_keys(tmp_path_factory.mktemp("dnssec-keys"))


@pytest.fixture
def make_signed_dns(tmp_path, dnssec_keys):
    made: list[SignedDNS] = []

    def factory(records, bogus=(), expired=(), unsigned=()) -> SignedDNS:
        made.append(SignedDNS(tmp_path / f"signed-dns{len(made)}", dnssec_keys, records, bogus, expired, unsigned))
        return made[-1].start()

    yield factory
    for server in made:
        server.stop()


@pytest.fixture
def signed_dns(request, make_signed_dns) -> SignedDNS:
    module = request.module
    return make_signed_dns(module.SIGNED_RECORDS, getattr(module, "BOGUS_RECORDS", ()),
                           getattr(module, "EXPIRED_RECORDS", ()), getattr(module, "RECORDS", ()))


@pytest.fixture
def make_sink(tmp_path):
    made: list[Sink] = []

    def factory(name: str = "sink", **kw) -> Sink:
        made.append(Sink(tmp_path / name, **kw))
        return made[-1]

    yield factory
    for s in made:
        s.stop()


@pytest.fixture
def sink(make_sink) -> Sink:
    return make_sink("sink")


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory) -> CertificateAuthority:
    return make_test_ca(tmp_path_factory.mktemp("test-ca"))


@pytest.fixture
def make_policy_server(tmp_path, test_ca):
    made: list[PolicyServer] = []

    def factory(address: str, policies: dict, ca: CertificateAuthority | None = None, **kw) -> PolicyServer:
        made.append(PolicyServer(tmp_path / f"policy-server{len(made)}", address, ca or test_ca, policies, **kw))
        return made[-1].start()

    yield factory
    stuck = []
    for server in made:
        try:
            server.stop()
        except AssertionError as e:      # threads left running: stop the others all the same
            stuck.append(e)
    assert not stuck, stuck


@pytest.fixture
def small_spool(request, tmp_path):
    marker = request.node.get_closest_marker("small_spool")
    with small_tmpfs(tmp_path / "small-spool", marker.args[0] if marker else "2m") as mountpoint:
        yield mountpoint
