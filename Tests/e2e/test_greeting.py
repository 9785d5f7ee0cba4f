"""greeting_delay: a client that talks before the 220 is refused (554 5.5.0); one
that waits is greeted normally. The delay is long (5 s) so that the early client's
bytes certainly arrive inside it; the test waits on replies, never on a clock."""

import pytest

from harness import SMTPClient


@pytest.mark.veil(limits={"greeting_delay": "5s"})
def test_client_talking_before_the_greeting_is_refused(veil):
    c = SMTPClient(veil.port("plain"), read_greeting=False)
    try:
        c.send(b"EHLO early.test\r\n")
        replies = c.replies_until_close(limit=3)
    finally:
        c.close()
    assert [r.code for r in replies] == [554], c.dialogue()
    assert replies[0].enhanced == "5.5.0"
    veil.wait_event("rejected", code="554", client="127.0.0.1")


@pytest.mark.veil(limits={"greeting_delay": "1s"})
def test_patient_client_is_greeted(veil):
    with veil.connect("plain") as c:
        assert c.greeting.code == 220
        c.ehlo()
        c.quit()
