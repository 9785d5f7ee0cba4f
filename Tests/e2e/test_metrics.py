"""[metrics] address: a Prometheus endpoint whose figures follow the mail flow."""

import re
import urllib.error
import urllib.request

import pytest

from harness import message, queue_id, routed, send_message
from sink import free_port


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=15) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_figures_follow_the_mail_flow(make_veil, sink):
    sink.start()
    port = free_port("127.0.0.1")
    veil = routed(make_veil, sink, delivery={"retry": ["1h"]}, metrics={"address": f"127.0.0.1:{port}"})
    before = scrape(port)
    assert before.get("veil_queue_messages") == 0

    with veil.connect("smtps") as c:
        c.ehlo()
        c.auth_plain("demo", "wrong", expect="535")
        c.auth_plain("demo", "demo")
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        qid = queue_id(c.data(message("metrics")))
    veil.wait_event("delivered", queue_id=qid)
    with veil.connect("plain") as c:
        c.ehlo()
        assert c.cmd("RCPT TO:<x@example.org>").code == 503

    after = scrape(port)
    assert after['veil_connections_total{listener="smtps"}'] == 1
    assert after['veil_connections_total{listener="plain"}'] == 1
    assert after['veil_auth_total{result="failure"}'] == 1
    assert after['veil_auth_total{result="success"}'] == 1
    assert after["veil_messages_accepted_total"] == 1
    assert after["veil_bytes_received_total"] > 100
    assert after['veil_recipients_total{result="delivered"}'] == 1
    assert after["veil_bytes_sent_total"] == after["veil_bytes_received_total"]
    assert after["veil_delivery_latency_seconds_count"] == 1
    assert any(re.fullmatch(r'veil_tls_sessions_total\{direction="inbound",protocol="TLSv1\.[23]"\}', k) for k in after)
    assert any(k.startswith('veil_rejected_total{code="503"') for k in after)
    assert any(k.startswith('veil_rejected_total{code="535"') for k in after)
    assert after["veil_queue_messages"] == 0


def test_queue_gauges_and_unknown_paths(make_veil):
    port = free_port("127.0.0.1")
    veil = make_veil(metrics={"address": f"127.0.0.1:{port}"})     # delivery to a closed port: deferred
    qid = send_message(veil, ["b@example.org", "c@example.org"], "stays queued")
    veil.wait_event("deferred", queue_id=qid, count=2)
    values = scrape(port)
    assert values["veil_queue_messages"] == 1
    assert values['veil_queue_recipients{state="deferred"}'] == 2
    assert values['veil_recipients_total{result="deferred"}'] == 2
    assert values["veil_queue_oldest_message_age_seconds"] >= 0
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=15)
    assert refused.value.code == 404
