"""SMTP TLS reports (RFC 8460) end to end: Veil delivers a day's mix of outcomes
through real TLS policies, counts each session under its policy domain, and
`veil tls report` sends each domain that publishes a _smtp._tls record its report:

  mx.ee.veilsec     DANE (dnssec.py's signed zone, a DANE-EE record): 1 success;
                    rua=mailto: the report comes as mail through Veil's own queue
  mixed.veiltest    MTA-STS enforce, MX 10 without STARTTLS, MX 20 with a valid
                    certificate: each message fails on the first (starttls-not-
                    supported) and goes through the second; rua=mailto:
  good.veiltest     MTA-STS enforce, 1 success; rua=https: the gzipped report is
                    POSTed to the policy server fixture (mta_sts.py)
  testing.veiltest  MTA-STS testing, an MX whose certificate does not name it:
                    delivered all the same, reported as certificate-host-mismatch
  unlisted.veiltest MTA-STS enforce, an MX the policy does not list: never
                    connected to, reported as validation-failure without a sending
                    address

The report mail goes to reports.veiltest's MX, a ScriptedMTA on loopback; it is
parsed as MIME, its attachment gunzipped and validated against RFC 8460's JSON
schema (tlsrpt-schema.json, with format checks), its DKIM signature checked with
dkimpy. Counting the sessions is the delivery side's part (the queue database's
tls_results); the test waits for the counts before it asks for the reports."""

from __future__ import annotations

import email
import email.policy
import gzip
import json
import subprocess
from pathlib import Path

import dkim
import jsonschema
import pytest

from dnssec import tlsa
from harness import HOSTNAME, VEIL_BIN, send_message, wait_until
from mta_sts import policy_text, sts_records, tlsrpt_txt
from scripted_mta import Script, ScriptedMTA
from test_dkim import make_rsa_key

RECEIVER = "127.0.0.25"   # STARTTLS, a certificate from the test CA for every MX name below
POLICY_HOST = "127.0.0.26"  # MTA-STS policies, and the https rua reports.veiltest
REPORT_SINK = "127.0.0.27"  # reports.veiltest's MX: takes the report mail
PLAIN = "127.0.0.28"      # mx1.mixed.veiltest: no STARTTLS
MX_NAMES = ["mx.ee.veilsec", "mx2.mixed.veiltest", "mx.good.veiltest"]
MAILTO = "mailto:tlsrpt@reports.veiltest"
HTTPS_RUA = "https://reports.veiltest/tlsrpt"
SCHEMA = json.loads((Path(__file__).parent / "tlsrpt-schema.json").read_text())


@pytest.fixture
def receiver(tmp_path, test_ca):
    cert, key = test_ca.issue(MX_NAMES, tmp_path / "mx")
    with ScriptedMTA(RECEIVER, 25, Script(starttls=(str(cert), str(key)), fault_sessions=0)) as mta:
        mta.certificate = cert
        yield mta


@pytest.fixture
def plain():
    with ScriptedMTA(PLAIN, 25, Script(fault_sessions=0)) as mta:
        yield mta


@pytest.fixture
def report_sink():
    with ScriptedMTA(REPORT_SINK, 25, Script(fault_sessions=0)) as mta:
        yield mta


@pytest.fixture
def policies(make_policy_server):
    return make_policy_server(POLICY_HOST, {"mixed.veiltest": policy_text(["*.mixed.veiltest"]),
                                            "good.veiltest": policy_text(["mx.good.veiltest"]),
                                            "testing.veiltest": policy_text(["mx.testing.veiltest"], mode="testing"),
                                            "unlisted.veiltest": policy_text(["mx.elsewhere.veiltest"])},
                              report_hosts=("reports.veiltest",))


@pytest.fixture
def dkim_key(tmp_path):
    return make_rsa_key(tmp_path, "tlsrpt")


@pytest.fixture
def veil(make_veil, make_signed_dns, test_ca, receiver, dkim_key):
    dns = make_signed_dns([
        "ee.veilsec. MX 10 mx.ee.veilsec.",
        f"mx.ee.veilsec. A {RECEIVER}",
        tlsa("mx.ee.veilsec", receiver.certificate),
        tlsrpt_txt("mx.ee.veilsec", MAILTO),
    ], unsigned=[
        "mixed.veiltest. MX 10 mx1.mixed.veiltest.",
        "mixed.veiltest. MX 20 mx2.mixed.veiltest.",
        f"mx1.mixed.veiltest. A {PLAIN}",
        f"mx2.mixed.veiltest. A {RECEIVER}",
        *sts_records("mixed.veiltest", "20261207a", POLICY_HOST),
        tlsrpt_txt("mixed.veiltest", MAILTO),
        "good.veiltest. MX 10 mx.good.veiltest.",
        f"mx.good.veiltest. A {RECEIVER}",
        *sts_records("good.veiltest", "20261207a", POLICY_HOST),
        tlsrpt_txt("good.veiltest", HTTPS_RUA),
        "testing.veiltest. MX 10 mx.testing.veiltest.",
        f"mx.testing.veiltest. A {RECEIVER}",
        *sts_records("testing.veiltest", "20261207a", POLICY_HOST),
        tlsrpt_txt("testing.veiltest", MAILTO),
        "unlisted.veiltest. MX 10 mx.unlisted.veiltest.",
        f"mx.unlisted.veiltest. A {RECEIVER}",
        *sts_records("unlisted.veiltest", "20261207a", POLICY_HOST),
        tlsrpt_txt("unlisted.veiltest", MAILTO),
        "reports.veiltest. MX 10 sink.reports.veiltest.",
        f"sink.reports.veiltest. A {REPORT_SINK}",
        f"reports.veiltest. A {POLICY_HOST}",
    ])
    return make_veil(
        dns={"servers": [dns.server], "trust_anchor_file": str(dns.trust_anchor)},
        delivery={"mode": "mx", "smarthost": None, "retry": ["1h"], "tls_ca_file": str(test_ca.cert),
                  "allow_networks": [f"{a}/32" for a in (RECEIVER, POLICY_HOST, REPORT_SINK, PLAIN)]},
        tls_report={"organization": "Veil E2E"},
        dkim=[{"domain": HOSTNAME, "selector": dkim_key.selector, "private_key": str(dkim_key.path)}])


def deliver(veil, to: str) -> dict:
    qid = send_message(veil, [to], "tlsrpt")
    return veil.wait_event("delivered", queue_id=qid)[0]


def counted(veil) -> int:
    return sum(row["count"] for row in veil._query("SELECT count FROM tls_results"))


def tls_report(veil) -> subprocess.CompletedProcess:
    return subprocess.run([VEIL_BIN, "tls", "report", "--config", str(veil.config_path)],
                          capture_output=True, text=True, timeout=120)


def validated(report_json: bytes) -> dict:
    report = json.loads(report_json)
    jsonschema.validate(report, SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return report


def report_of_mail(text: bytes) -> tuple[email.message.EmailMessage, dict]:
    """The mail as RFC 8460 5.3 shapes it, and its gunzipped, validated report."""
    message = email.message_from_bytes(text, policy=email.policy.default)
    assert message.get_content_type() == "multipart/report" and message.get_param("report-type") == "tlsrpt"
    [attachment] = [p for p in message.iter_parts() if p.get_content_type() == "application/tlsrpt+gzip"]
    assert attachment.get_filename().endswith(".json.gz")
    return message, validated(gzip.decompress(attachment.get_payload(decode=True)))


def test_a_days_mix_is_reported_to_each_policy_domain(veil, receiver, plain, report_sink, policies, dkim_key):
    assert deliver(veil, "b@ee.veilsec")["tls"].endswith(" dane-ee")
    for to in ("b@mixed.veiltest", "c@mixed.veiltest"):
        assert deliver(veil, to)["relay"] == f"mx2.mixed.veiltest[{RECEIVER}]:25"
    assert deliver(veil, "b@good.veiltest")["tls_policy"] == "mta-sts"
    assert deliver(veil, "b@testing.veiltest")["tls"].endswith(" unverified")
    # 1 DANE success, 2 failures and 2 successes under mixed's policy, 1 under
    # good's, 1 failure under testing's, 1 under unlisted's.
    qid = send_message(veil, ["b@unlisted.veiltest"], "tlsrpt")
    assert "not an MX host of the domain's policy" in veil.wait_event("deferred", queue_id=qid)[0]["reply"]
    wait_until(lambda: counted(veil) >= 8, what="8 sessions counted in tls_results")

    done = tls_report(veil)
    assert done.returncode == 0, done.stderr + done.stdout
    lines = done.stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        f"good.veiltest: 1 session(s) reported to {HTTPS_RUA}",
        f"mixed.veiltest: 4 session(s) reported to {MAILTO}",
        f"mx.ee.veilsec: 1 session(s) reported to {MAILTO}",
        f"testing.veiltest: 1 session(s) reported to {MAILTO}",
        f"unlisted.veiltest: 1 session(s) reported to {MAILTO}",
    ], done.stdout
    sent = veil.wait_event("tls_report_sent", count=5)
    assert {e["domain"]: e["sessions"] for e in sent} == {"good.veiltest": "1", "mixed.veiltest": "4", "mx.ee.veilsec": "1",
                                                          "testing.veiltest": "1", "unlisted.veiltest": "1"}

    # mailto: four mails through Veil's queue to reports.veiltest's MX.
    wait_until(lambda: len(report_sink.script.received) >= 4, what="4 report mails at the sink")
    mails = {}
    for received in report_sink.script.received:
        assert received.sender == f"<postmaster@{HOSTNAME}>" and received.recipients == ["tlsrpt@reports.veiltest"]
        text = received.text.replace(b"\r\n..", b"\r\n.") + b"\r\n"
        message, report = report_of_mail(text)
        assert message["TLS-Report-Submitter"] == HOSTNAME and message["TLS-Required"] == "No"
        assert report["report-id"] in str(message["Subject"]) and report["organization-name"] == "Veil E2E"
        assert report["contact-info"] == f"postmaster@{HOSTNAME}"
        record = f"v=DKIM1; k=rsa; p={dkim_key.p}".encode()
        assert dkim.verify(text, dnsfunc=lambda name, timeout=5: record), "the report's DKIM signature"
        h = message["DKIM-Signature"].replace(" ", "").replace("\t", "").replace("\r\n", "")
        assert "tls-report-domain" in h and "tls-report-submitter" in h
        mails[str(message["TLS-Report-Domain"])] = report

    [mixed] = mails["mixed.veiltest"]["policies"]
    assert mixed["policy"]["policy-type"] == "sts" and mixed["policy"]["policy-domain"] == "mixed.veiltest"
    assert mixed["policy"]["mx-host"] == ["*.mixed.veiltest"]
    assert "mode: enforce" in mixed["policy"]["policy-string"]
    assert mixed["summary"] == {"total-successful-session-count": 2, "total-failure-session-count": 2}
    [failure] = mixed["failure-details"]
    assert failure["result-type"] == "starttls-not-supported" and failure["failed-session-count"] == 2
    assert failure["receiving-mx-hostname"] == "mx1.mixed.veiltest" and failure["receiving-ip"] == PLAIN

    [dane] = mails["mx.ee.veilsec"]["policies"]
    assert dane["policy"]["policy-type"] == "tlsa" and dane["policy"]["policy-domain"] == "mx.ee.veilsec"
    assert dane["summary"] == {"total-successful-session-count": 1, "total-failure-session-count": 0}
    assert dane["failure-details"] == []

    [testing] = mails["testing.veiltest"]["policies"]
    assert testing["policy"]["policy-type"] == "sts" and "mode: testing" in testing["policy"]["policy-string"]
    assert testing["summary"] == {"total-successful-session-count": 0, "total-failure-session-count": 1}
    [mismatch] = testing["failure-details"]
    assert mismatch["result-type"] == "certificate-host-mismatch" and mismatch["receiving-ip"] == RECEIVER

    [unlisted] = mails["unlisted.veiltest"]["policies"]
    [ruled_out] = unlisted["failure-details"]
    assert ruled_out["result-type"] == "validation-failure" and "sending-mta-ip" not in ruled_out
    assert ruled_out["receiving-mx-hostname"] == "mx.unlisted.veiltest" and ruled_out["receiving-ip"] == RECEIVER

    # https: one POST of the gzipped JSON (RFC 8460 5.4).
    [post] = policies.wait_reports(1)
    assert post.headers["Content-Type"] == "application/tlsrpt+gzip" and post.sni == "reports.veiltest"
    [good] = validated(gzip.decompress(post.body))["policies"]
    assert good["policy"]["policy-domain"] == "good.veiltest"
    assert good["summary"] == {"total-successful-session-count": 1, "total-failure-session-count": 0}

    # Reported sessions are no longer counted (the report mails' own sessions may be).
    assert veil._query("SELECT session FROM tls_results WHERE session LIKE '%mixed.veiltest%'") == []


def test_reports_are_off_without_an_organization_or_an_mx_lookup(make_veil):
    done = tls_report(make_veil(delivery={"mode": "mx", "smarthost": None}))
    assert done.returncode == 1 and "TLS reports are off: [tls_report] organization is not set" in done.stdout
    done = tls_report(make_veil(tls_report={"organization": "Veil E2E"}))
    assert done.returncode == 1 and 'TLS reports need [delivery] mode = "mx"' in done.stdout
