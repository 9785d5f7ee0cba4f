"""The MTA-STS fixture (mta_sts.py) does what the MTA-STS and TLSRPT tests rely on,
checked with Python's own https client trusting only the test CA: the policy host
answers each domain by SNI with its own certificate, serves what it is told (the
policy, or a redirect, a 404, a body over 64 KiB, another content type, a stall), lets
the policy change while it runs, records every request, keeps POSTed reports, and
stops cleanly with a response still stalled. Its DNS records resolve through unbound."""

import gzip
import http.client
import socket
import ssl
import threading

import pytest

from harness import IO_TIMEOUT, make_test_ca
from mta_sts import (MAX_POLICY_BYTES, WELL_KNOWN, Answer, https_connection, policy_text, sts_records,
                     tlsrpt_txt)

ADDRESS, OTHER_ADDRESS = "127.0.0.40", "127.0.0.41"
DOMAIN, SECOND = "sts.veiltest", "second.veiltest"
HOST = f"mta-sts.{DOMAIN}"
POLICY = policy_text(["mx1.sts.veiltest", "*.backup.sts.veiltest"], max_age=604800)
REPORTS = "reports.sts.veiltest"

RECORDS = [*sts_records(DOMAIN, "20240501T120000", ADDRESS),
           tlsrpt_txt(DOMAIN, [f"https://{REPORTS}/tlsrpt", "mailto:tlsrpt@sts.veiltest"])]


def get(address, host, ca, path=WELL_KNOWN, method="GET", **kw):
    """(status, headers, body) of one request to address:443 as https://HOST/PATH."""
    conn = https_connection(address, host, ca)
    try:
        conn.request(method, path, **kw)
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def test_records_resolve(dns):
    assert dns.lookup_txt(f"_mta-sts.{DOMAIN}") == [b"v=STSv1; id=20240501T120000"]
    assert dns.lookup_txt(f"_smtp._tls.{DOMAIN}") == \
        [f"v=TLSRPTv1; rua=https://{REPORTS}/tlsrpt,mailto:tlsrpt@sts.veiltest".encode()]
    reply = dns.query(HOST, 1)
    assert int.from_bytes(reply[6:8], "big") == 1 and socket.inet_ntoa(reply[-4:]) == ADDRESS


def test_each_domain_is_served_by_sni_with_its_own_certificate(make_policy_server, test_ca):
    second = policy_text("mx.second.veiltest", mode="testing")
    server = make_policy_server(ADDRESS, {DOMAIN: POLICY, SECOND: second})
    for domain, text in ((DOMAIN, POLICY), (SECOND, second)):
        conn = https_connection(ADDRESS, f"mta-sts.{domain}", test_ca)
        conn.connect()
        assert conn.sock.getpeercert()["subjectAltName"] == (("DNS", f"mta-sts.{domain}"),)
        conn.request("GET", WELL_KNOWN)
        response = conn.getresponse()
        assert (response.status, response.headers["Content-Type"]) == (200, "text/plain")
        assert response.read().decode() == text
        conn.close()
    [first], [other] = server.fetches(DOMAIN), server.fetches(SECOND)
    assert (first.sni, first.host, first.path, first.method) == (HOST, HOST, WELL_KNOWN, "GET")
    assert (other.sni, other.host) == (f"mta-sts.{SECOND}", f"mta-sts.{SECOND}")
    assert first.at <= other.at
    # Another path, or a host the server does not serve: 404, and recorded all the same.
    assert get(ADDRESS, HOST, test_ca, "/mta-sts.txt")[0] == 404
    assert len(server.requests) == 3 and server.fetches(DOMAIN) == [first]


def test_untrusted_clients_and_wrong_certificates_fail(make_policy_server, test_ca, tmp_path):
    server = make_policy_server(ADDRESS, {DOMAIN: POLICY})
    stranger = make_test_ca(tmp_path / "stranger-ca")
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        get(ADDRESS, HOST, None)                     # the system's CAs only
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        get(ADDRESS, HOST, stranger)
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        get(ADDRESS, f"mta-sts.{SECOND}", test_ca)   # not served: the first domain's certificate
    errors = server.wait_handshake_errors(3)
    assert server.requests == [] and len(errors) == 3 and all("ALERT" in e for e in errors), errors

    # A server whose certificate a client must refuse: another CA, another name.
    other = make_policy_server(OTHER_ADDRESS, {DOMAIN: POLICY, SECOND: POLICY}, ca=stranger,
                               cert_names={f"mta-sts.{SECOND}": ["mx.second.veiltest"]})
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        get(OTHER_ADDRESS, HOST, test_ca)
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        get(OTHER_ADDRESS, f"mta-sts.{SECOND}", stranger)
    assert get(OTHER_ADDRESS, HOST, stranger)[2] == POLICY.encode()
    assert [r.sni for r in other.requests] == [HOST]


@pytest.mark.parametrize("answer, status, headers, size", [
    (Answer.redirect(f"https://{HOST}/moved.txt"), 301, {"Location": f"https://{HOST}/moved.txt"}, None),
    (Answer.not_found(), 404, {}, None),
    (Answer.oversize(POLICY), 200, {"Content-Type": "text/plain",
                                    "Content-Length": str(MAX_POLICY_BYTES + 1)}, MAX_POLICY_BYTES + 1),
    (Answer.oversize(POLICY, size=100_000, declare_length=False), 200, {"Content-Length": None}, 100_000),
    (Answer.typed(POLICY, "text/html"), 200, {"Content-Type": "text/html"}, len(POLICY)),
    (Answer.typed(POLICY, "text/plain; charset=utf-8"), 200,
     {"Content-Type": "text/plain; charset=utf-8"}, len(POLICY)),
    (Answer.typed(POLICY, None), 200, {"Content-Type": None}, len(POLICY)),
], ids=["redirect", "404", "oversize", "oversize-unannounced", "html", "charset", "no-type"])
def test_faults_answer_as_configured(make_policy_server, test_ca, answer, status, headers, size):
    server = make_policy_server(ADDRESS, {DOMAIN: answer})
    got_status, got_headers, body = get(ADDRESS, HOST, test_ca)
    assert got_status == status
    assert {name: got_headers[name] for name in headers} == headers
    if size is not None:
        assert len(body) == size and body.startswith(POLICY.encode())
        assert all(line.startswith(b"x-padding: ") for line in body[len(POLICY):].splitlines())
    assert len(server.fetches(DOMAIN)) == 1


def test_a_redirect_target_can_serve_a_policy(make_policy_server, test_ca):
    """So that following a redirect would succeed: a client that does not follow it
    is seen not to ask for the target."""
    server = make_policy_server(ADDRESS, {DOMAIN: Answer.redirect(f"https://{HOST}/moved.txt")})
    server.set_response(DOMAIN, POLICY, path="/moved.txt")
    assert get(ADDRESS, HOST, test_ca)[0] == 301
    assert get(ADDRESS, HOST, test_ca, "/moved.txt")[2] == POLICY.encode()
    assert [r.path for r in server.requests] == [WELL_KNOWN, "/moved.txt"]


def test_set_policy_changes_what_is_served(make_policy_server, test_ca):
    server = make_policy_server(ADDRESS, {DOMAIN: POLICY})
    assert get(ADDRESS, HOST, test_ca)[2] == POLICY.encode()
    changed = policy_text("mx2.sts.veiltest", mode="none")
    server.set_policy(DOMAIN, changed)
    assert get(ADDRESS, HOST, test_ca)[2] == changed.encode()
    first, second = server.wait_fetches(DOMAIN, count=2, timeout=0)
    assert first.at <= second.at
    server.set_response(DOMAIN, Answer.not_found())
    assert get(ADDRESS, HOST, test_ca)[0] == 404
    with pytest.raises(AssertionError, match="4 fetch"):
        server.wait_fetches(DOMAIN, count=4, timeout=0)


def test_a_stalled_response_does_not_block_stop(make_policy_server, test_ca):
    server = make_policy_server(ADDRESS, {DOMAIN: Answer.stalled(POLICY, stall_after=10)})
    conn = https_connection(ADDRESS, HOST, test_ca)
    conn.request("GET", WELL_KNOWN)
    response = conn.getresponse()                    # the head has come
    assert (response.status, response.headers["Content-Length"]) == (200, str(len(POLICY)))
    assert response.read(10) == POLICY.encode()[:10]
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(_read_rest(response)))
    reader.start()                                   # blocked: nothing more is sent
    server.stop()                                    # asserts its threads have ended
    reader.join(IO_TIMEOUT)
    assert not reader.is_alive() and outcome == ["incomplete"], outcome
    conn.close()
    server.stop()                                    # again, as the fixture will: a no-op


def _read_rest(response) -> str:
    try:
        response.read()
        return "complete"
    except (http.client.IncompleteRead, OSError):
        return "incomplete"


def test_a_stalled_response_is_left_to_the_fixture(make_policy_server, test_ca):
    """The client gives up; the server's answer stays stalled until teardown stops it."""
    server = make_policy_server(ADDRESS, {DOMAIN: Answer.stalled(POLICY)})
    conn = https_connection(ADDRESS, HOST, test_ca)
    conn.request("GET", WELL_KNOWN)
    assert conn.getresponse().status == 200
    conn.close()
    server.wait_fetches(DOMAIN)


def test_posted_reports_are_kept(make_policy_server, test_ca):
    server = make_policy_server(ADDRESS, {DOMAIN: POLICY}, report_hosts=(REPORTS,))
    report = gzip.compress(b'{"organization-name": "veil", "policies": []}')
    headers = {"Content-Type": "application/tlsrpt+gzip"}
    assert get(ADDRESS, REPORTS, test_ca, "/tlsrpt", "POST", body=report, headers=headers)[0] == 200
    chunks = [report[:7], report[7:]]
    assert get(ADDRESS, REPORTS, test_ca, "/tlsrpt", "POST", body=iter(chunks), headers=headers,
               encode_chunked=True)[0] == 200
    assert get(ADDRESS, REPORTS, test_ca, "/elsewhere", "POST", body=b"x")[0] == 404
    server.report_answer = Answer(503, b"busy\r\n")
    assert get(ADDRESS, REPORTS, test_ca, "/tlsrpt", "POST", body=report, headers=headers)[0] == 503

    reports = server.wait_reports(count=3, timeout=0)
    assert [gzip.decompress(r.body) for r in reports] == [gzip.decompress(report)] * 3
    assert [r.headers["Content-Type"] for r in reports] == ["application/tlsrpt+gzip"] * 3
    assert reports[1].headers["Transfer-Encoding"] == "chunked"
    assert {(r.sni, r.host) for r in reports} == {(REPORTS, REPORTS)}
    assert len(server.requests) == 4 and server.fetches(DOMAIN) == []
