# Longer than 300 lines: one test per allowlist rule and per Exchange field family, each a real round trip; split further they would repeat their fixtures.
"""Scrub by allowlist (issue 12), through the real binary to a real receiving MTA.

`[scrub] mode = "allowlist"`, the default, lets out of every header block (the
message's, an attached message's, a MIME part's) only the fields on one documented
list, plus `keep`, minus `remove`; `mode = "denylist"` removes the exchange profile's
list (grown by issue 12: X-ClientProxiedBy, Received-SPF, Authentication-Results,
ARC-*, DKIM-Signature, DomainKey-Signature, X-Forwarded-For, X-TM-*, X-Exclaimer-*,
X-CodeTwo-*, X-Virus-Scanned, X-Spam-*). Bcc and Resent-Bcc never leave. More than
one From is refused (550 5.6.0); a user limited to sender domains is held to them in
Sender and Resent-From too (550 5.7.1).

Longer than 300 lines: every relayed message here is a hand-written variant of corpus
10 (stamps, Bcc, trace fields, S/MIME, two Froms), kept next to the test that sends it.

Each relayed message is checked three times: the spool file (read while the
destination is still down, so the first attempt is deferred), the copy smtp-sink
received once it is up, and Veil's log. The expected spool is computed in Python
(test_scrub.Rules, mime_expect), independently of Veil's sources: the fields the
mode lets out, byte for byte (ids mapped), and the body but for boundaries.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import DEFAULT_SCRUB, HOSTNAME, crlf, first_difference, queue_id, routed
from sink import Relayed, spool_then_deliver
from test_check_config import assert_error, check_config, line_of
from test_mime import send
from test_scrub import (ALLOW, HELO, MODES, RECIPIENT, RFC5322_DATE, SCRUB, SENDER, assert_nothing_queued,
                        daemon_log, eml, expected_mime, expected_top, leaked, mapped_id, named, scrub_key,
                        secrets_of, smtp_send, split_message)

DOMAIN = RECIPIENT.split("@")[1]


# --------------------------------------------------------------------------------------
# Relaying and checking
# --------------------------------------------------------------------------------------

def relay(make_veil, sink, messages: list[bytes], scrub: dict) -> tuple[object, list[Relayed]]:
    """Sends each message (unique Subjects) through a Veil routed to `sink`, which
    starts only once every message has been deferred (connection refused) and its
    spool file read; then every message must be delivered."""
    veil = routed(make_veil, sink, DOMAIN, scrub=scrub)
    relayed = [Relayed(message, send(veil, message)) for message in messages]
    return veil, spool_then_deliver(veil, sink, relayed)


TRACE_RE = re.compile(rb"Received: by " + re.escape(HOSTNAME.encode()) + rb" \(Veil\) with ESMTP id (\w+); "
                      + RFC5322_DATE.encode() + rb"\r\n")


def check_relayed(veil, r: Relayed, scrub: dict) -> int:
    """The spooled and the delivered message are exactly what the rules say: Veil's
    trace field, the top-level fields the mode lets out (ids mapped), the body with
    new boundaries and scrubbed part and attached header blocks. Returns the
    expected scrubbed=N, after checking it and mime_rewritten=N against the log."""
    key = scrub_key(veil)
    mime = expected_mime(r.sent, key, scrub=scrub)
    fields, changed = expected_top(mime, key, scrub)
    if {**DEFAULT_SCRUB, **scrub}.get("received") == "none":
        got = r.spool
    else:
        m = TRACE_RE.match(r.spool)
        assert m and m.group(1).decode() == r.qid, r.spool[:200]
        got = r.spool[m.end():]
    want = b"".join(fields) + mime.separator + mime.body
    assert got == want, "spooled message differs from the expected one\n" + first_difference(got, want)
    assert r.delivered == r.spool, "delivered copy differs from the spool\n" + first_difference(
        r.delivered, r.spool)
    accepted = veil.wait_event("accepted", queue_id=r.qid)[0]
    assert accepted.get("scrubbed") == str(changed), (accepted, changed)
    assert accepted.get("mime_rewritten") == str(mime.count), (accepted, mime.count)
    return changed


def check_no_leak(veil, relayed: list[Relayed], secrets: list[str]):
    for r in relayed:
        for what, data in (("delivered", r.delivered), ("spooled", r.spool)):
            bad = leaked(secrets, data)
            assert not bad, f"secrets in the {what} copy of {r.qid}: {bad}\n{data.decode('utf-8', 'replace')}"
    bad = leaked(secrets, daemon_log(veil))
    assert not bad, f"secrets in the log: {bad}"


def names(message: bytes) -> list[str]:
    return [f.name for f in split_message(message)[0]]


# --------------------------------------------------------------------------------------
# Exchange 2016/2019 with gateways and tools: corpus 10 and variants
# --------------------------------------------------------------------------------------

STAMPS = eml("10-gateway-stamps").read_bytes()
STAMP_SECRETS = secrets_of(eml("10-gateway-stamps"))
# In-house fields no list can know: a workflow server's name, and CodeTwo's
# processing flag, whose name is outside "X-CodeTwo-*".
IN_HOUSE = b"X-Contoso-Workflow-Server: APP07.corp.example\r\nX-CodeTwoProcessed: true\r\n"
IN_HOUSE_SECRETS = ["X-Contoso-Workflow-Server", "APP07", "X-CodeTwoProcessed"]


def with_in_house(message: bytes) -> bytes:
    at = message.index(b"X-Forwarded-For: ")
    return message[:at] + IN_HOUSE + message[at:]


def forwarded_stamps() -> bytes:
    """Alice forwards the stamped message as an attachment (message/rfc822, 7bit), from
    the same servers: the stamps at the top, in the attached message's header block
    and (signature tool, gateway, frontend) in the text part's header block."""
    fields, _ = split_message(with_in_house(STAMPS))
    top = []
    for f in fields:
        if f.name in ("subject", "thread-topic"):
            top.append(f.raw.replace(b": ", b": FW: ", 1))
        elif f.name == "message-id":
            top.append(b"Message-ID: <c4f1a9e2b7d34c8e9f0a1b2c3d4e5f60@EXMBX02.corp.example>\r\n")
        elif f.name == "content-type":
            top.append(b'Content-Type: multipart/mixed;\r\n\tboundary="_004_c4f1a9e2b7d34c8e9f0a1b2c3d4e5f60'
                       b'EXMBX02corpexample_"\r\n')
        else:
            top.append(f.raw)
    boundary = b"_004_c4f1a9e2b7d34c8e9f0a1b2c3d4e5f60EXMBX02corpexample_"
    return (b"".join(top) + b"\r\n--" + boundary + b"\r\n" + crlf("""\
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: 7bit
X-Exclaimer-MD-Config: 8c10826d-4052-4c5c-a3b7-4e7d5c9e2f11
X-TM-AS-Product-Ver: SMEX-14.0.0.3197-9.1.1006-27984.005
X-Forwarded-For: 10.9.8.7
X-ClientProxiedBy: EXCAS01.corp.example (10.1.2.3) To EXMBX02.corp.example
 (10.1.2.4)
X-Contoso-Workflow-Server: APP07.corp.example

Bob, the schedule as it went out, for your records.

""") + b"--" + boundary + b"\r\n" + crlf("""\
Content-Type: message/rfc822
Content-Transfer-Encoding: 7bit
Content-Disposition: attachment
X-TM-AS-Result: No--9.362-7.0-31-10

""") + with_in_house(STAMPS) + b"\r\n--" + boundary + b"--\r\n")


@pytest.mark.parametrize("mode", MODES)
def test_gateway_and_in_house_stamps(make_veil, sink, mode):
    """The frontend (X-ClientProxiedBy), internal verdicts (Received-SPF,
    Authentication-Results, ARC-*), an internal DKIM signature, Trend Micro, Exclaimer,
    CodeTwo, a proxy's X-Forwarded-For, scanner stamps: gone in both modes, from the
    top level, the attached message and the part header. The in-house
    X-Contoso-Workflow-Server and X-CodeTwoProcessed are on no list: the allowlist
    removes them, the denylist cannot. Everything that stays is byte for byte."""
    scrub = MODES[mode]
    veil, relayed = relay(make_veil, sink, [with_in_house(STAMPS), forwarded_stamps()], scrub)
    check_no_leak(veil, relayed, STAMP_SECRETS + (IN_HOUSE_SECRETS if mode == "allowlist" else []))
    for r in relayed:
        check_relayed(veil, r, scrub)
    plain, forwarded = relayed

    # Counted by hand for the plain one: 3 Received, DKIM-Signature, 3 ARC-*,
    # Authentication-Results, Received-SPF, Thread-*, Accept-Language, X-MS-Has-Attach,
    # X-MS-TNEF-Correlator, X-ClientProxiedBy, 2 x-ms-exchange-*, x-originating-ip,
    # 5 X-TM-AS-*, 2 X-Exclaimer-*, X-CodeTwo-MessageID, X-Forwarded-For,
    # X-Virus-Scanned, 2 X-Spam-*: 30 removed; the Message-ID rewritten; the allowlist
    # removes the 2 in-house fields too.
    accepted = veil.wait_event("accepted", queue_id=plain.qid)[0]
    if mode == "allowlist":
        assert accepted["scrubbed"] == "33", accepted
        assert names(plain.delivered) == ["received", "from", "to", "subject", "date", "message-id",
                                          "content-language", "content-type", "mime-version"]
    else:
        assert accepted["scrubbed"] == "31", accepted
        for r, count in ((plain, 1), (forwarded, 3)):
            assert r.delivered.count(b"\r\nX-Contoso-Workflow-Server: APP07.corp.example\r\n") == count
        assert forwarded.delivered.count(b"\r\nX-CodeTwoProcessed: true\r\n") == 2
    # What stays, in both: the sender, the recipients, the subject, the date, the
    # language, the MIME structure.
    for r in relayed:
        fields, _ = split_message(r.delivered)
        for name in ("from", "to", "date", "content-language", "mime-version"):
            assert [f.raw for f in named(fields, name)] == [f.raw for f in named(split_message(r.sent)[0], name)]


# --------------------------------------------------------------------------------------
# keep, remove, Bcc
# --------------------------------------------------------------------------------------

KEEP_REMOVE_MESSAGE = crlf("""\
Received: from APP07.corp.example (10.1.9.7) by EXMBX02.corp.example (10.1.2.4)
 with Microsoft SMTP Server id 15.1.2507.35; Tue, 14 Nov 2023 11:40:00 +0100
From: ERP Workflow <erp@corp.example>
To: Bob Keller <bob.keller@fabrikam.example>
Bcc: Dave Novak <dave.novak@corp.example>,
 audit-archive@corp.example
Resent-Bcc: legal-hold@corp.example
Subject: Cost center report November
Date: Tue, 14 Nov 2023 10:40:00 +0000
Message-ID: <0a1b2c3d4e5f46a7b8c9d0e1f2a3b4c5@APP07.corp.example>
Keywords: cost center, billing
Comments: generated by the ERP workflow
X-Contoso-Workflow-Server: APP07.corp.example
X-Contoso-Cost-Center: 4711-internal-billing
x-contoso-ticket: INC0012345
  folded-ticket-line
X-Contosonian: not a prefix match
X-Mailer: Contoso ERP Mailer 4.2
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="erp-report-1"

--erp-report-1
Content-Type: text/plain; charset="us-ascii"
X-Contoso-Workflow-Server: APP07.corp.example
X-Contoso-Cost-Center: 4711-internal-billing

The report for November is attached.
--erp-report-1
Content-Type: text/csv; name="report.csv"
Content-Disposition: attachment; filename="report.csv"

center;amount
4711;1200
--erp-report-1--
""")


def test_keep_and_remove_in_allowlist_mode(make_veil, sink):
    """keep adds names (a prefix pattern, any case, in part headers too), remove takes
    names away, also allowlisted ones, and wins over keep; Bcc and Resent-Bcc never
    leave even when kept."""
    scrub = dict(ALLOW, keep=["X-Contoso-*", "Keywords", "Bcc", "Resent-Bcc"],
                 remove=["Keywords", "Comments", "X-Contoso-Cost-*"])
    veil, [r] = relay(make_veil, sink, [KEEP_REMOVE_MESSAGE], scrub)
    changed = check_relayed(veil, r, scrub)
    # Removed: Received, Bcc, Resent-Bcc, Keywords, Comments, X-Contoso-Cost-Center,
    # X-Contosonian, X-Mailer; rewritten: Message-ID.
    assert changed == 9
    assert names(r.delivered) == ["received", "from", "to", "subject", "date", "message-id",
                                  "x-contoso-workflow-server", "x-contoso-ticket", "mime-version", "content-type"]
    assert b"x-contoso-ticket: INC0012345\r\n  folded-ticket-line\r\n" in r.delivered
    body = split_message(r.delivered)[1]
    assert b"X-Contoso-Workflow-Server: APP07.corp.example\r\n" in body      # keep: part headers too
    check_no_leak(veil, [r], ["dave.novak", "audit-archive", "legal-hold", "4711-internal-billing",
                              "cost center, billing", "generated by the ERP workflow", "X-Contosonian",
                              "Contoso ERP Mailer", "10.1.9.7"])
    assert veil.wait_event("accepted", queue_id=r.qid)[0]["mime_rewritten"] == str(1 + 3 + 1)


BCC_MESSAGE = crlf("""\
From: Alice Martin <alice.martin@corp.example>
To: Bob Keller <bob.keller@fabrikam.example>
BCC : Dave Novak <dave.novak@corp.example>,
\taudit-archive@corp.example
Subject: Blind copies
Date: Tue, 14 Nov 2023 12:00:00 +0000
Message-ID: <bcc-test@EXMBX02.corp.example>
resent-bcc: legal-hold@corp.example
MIME-Version: 1.0
Content-Type: text/plain; charset="us-ascii"

Bob, see you on Friday.
""")


@pytest.mark.parametrize("scrub", [
    dict(ALLOW, keep=["Bcc", "Resent-Bcc"]),
    dict(SCRUB, keep=["Bcc", "Resent-Bcc"]),
    dict(SCRUB, profile="none", keep=["B*", "Resent-*"]),
    {},                                            # the harness's default: denylist, no list
], ids=["allowlist-keep", "denylist-keep", "denylist-no-profile-keep", "scrubbing-off"])
def test_bcc_never_leaves(make_veil, sink, scrub):
    veil, [r] = relay(make_veil, sink, [BCC_MESSAGE], scrub)
    check_relayed(veil, r, scrub)
    for data in (r.spool, r.delivered):
        assert not [n for n in names(data) if n in ("bcc", "resent-bcc")], names(data)
    check_no_leak(veil, [r], ["dave.novak", "audit-archive", "legal-hold"])
    assert [f.raw for f in named(split_message(r.delivered)[0], "to")] == [
        b"To: Bob Keller <bob.keller@fabrikam.example>\r\n"]


# --------------------------------------------------------------------------------------
# Veil's own trace field, and fields that only look like it
# --------------------------------------------------------------------------------------

# From an earlier pass through this Veil (HOSTNAME is veil.test), as Veil writes it.
OWN_TRACE = b"Received: by veil.test (Veil) with ESMTPSA id 01M8N2JN2CQWDJ; Mon, 30 Nov 2026 02:20:00 +0000\r\n"
# They start like it and go on with an internal host: trace fields like any other.
LOOKALIKE_TRACES = [
    b"Received: by veil.test (Veil) from EXCH01.corp.internal (10.1.2.3); Mon, 30 Nov 2026 02:19:59 +0000\r\n",
    b"Received: by veil.test (Veil) with ESMTPSA id 01M8N2JN2CQWDK (EXCH01.corp.internal [10.1.2.3]);\r\n"
    b" Mon, 30 Nov 2026 02:19:58 +0000\r\n",
    b"Received: by veil.test (Veil) with ESMTP id 01M8N2JN2CQWDL; Mon, 30 Nov 2026 02:19:57 +0000\r\n"
    b"\t(from EXCH01.corp.internal [10.1.2.3])\r\n",
    b"Received: by veil.test (Veil) via EXCH01.corp.internal with ESMTPA id 01M8N2JN2CQWDM;\r\n"
    b" Mon, 30 Nov 2026 02:19:56 +0000\r\n",
    b"received: BY VEIL.TEST (veil) with esmtps id 10.1.2.3; Mon, 30 Nov 2026 02:19:55 +0000\r\n",
]
OWN_TRACE_MESSAGE = OWN_TRACE + b"".join(LOOKALIKE_TRACES) + crlf("""\
From: Alice Martin <alice.martin@corp.example>
To: Bob Keller <bob.keller@fabrikam.example>
Subject: Back through Veil
Date: Tue, 14 Nov 2023 12:00:00 +0000
Message-ID: <own-trace@EXMBX02.corp.example>
MIME-Version: 1.0
Content-Type: text/plain; charset="us-ascii"

Bob, this came back through Veil.
""")


@pytest.mark.parametrize("mode", MODES)
def test_only_veils_exact_trace_field_is_kept(make_veil, sink, mode):
    """A trace field exactly as this Veil writes it (an earlier pass) stays, after
    Veil's new one, in both modes: a loop through Veil gains a hop each pass. Fields
    that start like it ("Received: by veil.test (Veil) ") and name an internal host
    (a from clause, a comment, a fold, "via", an id that is an address) are removed
    like any other trace field: no EXCH01 or 10.1.2.3 in the spool, the delivered
    copy or the log."""
    scrub = MODES[mode]
    veil, [r] = relay(make_veil, sink, [OWN_TRACE_MESSAGE], scrub)
    assert check_relayed(veil, r, scrub) == len(LOOKALIKE_TRACES) + 1      # and the Message-ID rewritten
    received = [f.raw for f in named(split_message(r.delivered)[0], "received")]
    assert len(received) == 2 and TRACE_RE.fullmatch(received[0]) and received[1] == OWN_TRACE, received
    check_no_leak(veil, [r], ["EXCH01", "10.1.2.3", "corp.internal"])
    # Both are counted on the next pass: two hops are more than max_hops = 1.
    looped = make_veil(scrub=dict(scrub, max_hops=1))
    smtp_send(looped, r.delivered, expect="554 5.4.6")
    assert_nothing_queued(looped)


# --------------------------------------------------------------------------------------
# The allowlist does not break what users need
# --------------------------------------------------------------------------------------

LIST_MESSAGE = crlf("""\
Received: from APP07.corp.example (10.1.9.7) by EXMBX02.corp.example (10.1.2.4)
 with Microsoft SMTP Server id 15.1.2507.35; Wed, 15 Nov 2023 08:00:01 +0100
From: Contoso Product News <news@lists.corp.example>
Sender: news-bounces@lists.corp.example
Reply-To: Contoso Support <support@corp.example>
To: subscribers@lists.corp.example
Subject: Contoso product news, November
Date: Wed, 15 Nov 2023 07:00:00 +0000
Message-ID: <20231115070000.8f3a9c@lists.corp.example>
List-Id: Contoso product news <news.lists.corp.example>
List-Unsubscribe: <https://lists.corp.example/u/8f3a9c?l=news>,
 <mailto:news-unsubscribe-8f3a9c@lists.corp.example>
List-Unsubscribe-Post: List-Unsubscribe=One-Click
LIST-POST : NO
list-help: <mailto:news-help@lists.corp.example>
List-Archive: <https://lists.corp.example/archive/news/>
Precedence: list
X-Mailer: Contoso Mailer 4.2 (build 1187)
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit

This month: the new price list.
""")

RECEIPT_MESSAGE = crlf("""\
Received: from EXMBX02.corp.example ([fe80::7d2c:1aff:fe4b:9e02]) by
 EXMBX02.corp.example ([fe80::7d2c:1aff:fe4b:9e02%12]) with mapi id
 15.01.2507.035; Wed, 15 Nov 2023 09:00:01 +0100
From: Alice Martin <alice.martin@corp.example>
To: Bob Keller <bob.keller@fabrikam.example>
Cc: Carol Diaz <carol.diaz@corp.example>
Subject: Signed contract needed today
Thread-Topic: Signed contract needed today
Thread-Index: AdoXa1b2c3d4e5f6a7b8c9d0e1f2a3==
Date: Wed, 15 Nov 2023 08:00:00 +0000
Message-ID: <5e6f7a8b9c0d41e2f3a4b5c6d7e8f9a0@EXMBX02.corp.example>
Disposition-Notification-To: Alice Martin <alice.martin@corp.example>
Importance: high
Priority: urgent
X-Priority: 1 (Highest)
Sensitivity\t: Company-Confidential
Comments: Contract 2023-117, second reminder
Keywords: contract, Northwind
Autocrypt: addr=alice.martin@corp.example; prefer-encrypt=mutual; keydata=
 mDMEZVOOfhYJKwYBBAHaRw8BAQdAc5sWFr0Yzr3B2Zdf9pp1TrpR9yvH1XGrlKGpJAZ7bvK0
 G0FsaWNlIE1hcnRpbiA8YWxpY2UubWFydGluQGNvcnAuZXhhbXBsZT4=
X-MS-Exchange-Organization-AuthSource: EXMBX02.corp.example
X-MS-Has-Attach:
x-originating-ip: [10.20.30.41]
MIME-Version: 1.0
Content-Type: text/plain; charset="us-ascii"

Bob, please send the signed contract back today.
""")

AUTO_REPLY_MESSAGE = crlf("""\
Received: from EXMBX03.corp.example (10.1.2.5) by EXMBX02.corp.example (10.1.2.4)
 with Microsoft SMTP Server id 15.1.2507.35; Wed, 15 Nov 2023 10:00:01 +0100
From: Dave Novak <dave.novak@corp.example>
To: "accounts@supplier.example" <accounts@supplier.example>
Subject: Automatic reply: Invoice 2023-4471
Date: Wed, 15 Nov 2023 09:00:00 +0000
Message-ID: <3c4d5e6f7a8b49c0d1e2f3a4b5c6d7e8@EXMBX03.corp.example>
In-Reply-To: <20231115085744.4471.invoices@mx1.supplier.example>
References: <20231115085744.4471.invoices@mx1.supplier.example>
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
X-MS-Exchange-Inbox-Rules-Loop: dave.novak@corp.example
X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent
Content-Type: text/plain; charset="us-ascii"
MIME-Version: 1.0

I am out of the office until 20 November.
""")

RESENT_MESSAGE = crlf("""\
Resent-From: Carol Diaz <carol.diaz@corp.example>
Resent-Sender: Helpdesk <helpdesk@corp.example>
Resent-Date: Wed, 15 Nov 2023 11:12:00 +0000
Resent-To: Bob Keller <bob.keller@fabrikam.example>
Resent-Cc: legal@fabrikam.example
Resent-Bcc: ceo-office@corp.example
Resent-Message-ID: <e4d3c2b1a0f94e8d7c6b5a4f3e2d1c0b@EXMBX02.corp.example>
Received: from EXMBX03.corp.example (10.1.2.5) by EXMBX02.corp.example (10.1.2.4)
 with Microsoft SMTP Server id 15.1.2507.35; Wed, 15 Nov 2023 12:12:01 +0100
From: Dave Novak <dave.novak@corp.example>
To: Carol Diaz <carol.diaz@corp.example>
Subject: Site survey results
Date: Tue, 14 Nov 2023 16:30:00 +0000
Message-ID: <7f8e9d0c1b2a43f5e6d7c8b9a0f1e2d3@EXMBX03.corp.example>
In-Reply-To: <CAK7xQ2p9vJ4mZr8Lw3nTy6bH1dFs5Ge0uXc+sv1@mail.fabrikam.example>
References: <CAK7xQ2p9vJ4mZr8Lw3nTy6bH1dFs5Ge0uXc+sv1@mail.fabrikam.example>
MIME-Version: 1.0
Content-Type: text/plain; charset="us-ascii"

The survey results are below.
""")

NEEDED = {
    # message: the fields that must reach the recipient byte for byte
    LIST_MESSAGE: ["from", "sender", "reply-to", "to", "subject", "date", "list-id", "list-unsubscribe",
                   "list-unsubscribe-post", "list-post", "list-help", "list-archive", "precedence", "mime-version",
                   "content-type", "content-transfer-encoding"],
    RECEIPT_MESSAGE: ["from", "to", "cc", "subject", "date", "disposition-notification-to", "importance",
                      "priority", "x-priority", "sensitivity", "comments", "keywords", "autocrypt"],
    AUTO_REPLY_MESSAGE: ["from", "to", "subject", "date", "in-reply-to", "references", "auto-submitted"],
    RESENT_MESSAGE: ["resent-from", "resent-sender", "resent-date", "resent-to", "resent-cc", "from", "to",
                     "subject", "date", "in-reply-to", "references"],
}


def test_what_users_need_is_kept(make_veil, sink):
    """In the default mode: a mailing list's List-* fields (RFC 2369, 2919, 8058; in
    any spelling), a read-receipt request, priority and sensitivity, an Autocrypt
    key, an auto-reply's Auto-Submitted and a resent block reach the recipient byte
    for byte (Resent-Message-ID mapped like a Message-ID, Resent-Bcc gone); the
    internal stamps around them do not."""
    veil, relayed = relay(make_veil, sink, list(NEEDED), ALLOW)
    key = scrub_key(veil)
    for r in relayed:
        check_relayed(veil, r, ALLOW)
        sent_fields, _ = split_message(r.sent)
        got_fields, _ = split_message(r.delivered)
        for name in NEEDED[r.sent]:
            want = [f.leaving for f in named(sent_fields, name)]
            assert want and [f.raw for f in named(got_fields, name)] == want, name
        assert not [f for f in got_fields[1:] if f.name in ("received", "x-mailer", "thread-index", "thread-topic",
                                                            "resent-bcc", "x-auto-response-suppress",
                                                            "x-originating-ip")
                    or f.name.startswith("x-ms-")], got_fields
    resent = relayed[list(NEEDED).index(RESENT_MESSAGE)]
    assert [f.raw for f in named(split_message(resent.delivered)[0], "resent-message-id")] == [
        b"Resent-Message-ID: " + mapped_id(key, b"e4d3c2b1a0f94e8d7c6b5a4f3e2d1c0b@EXMBX02.corp.example") + b"\r\n"]
    check_no_leak(veil, relayed, ["EXMBX02", "EXMBX03", "10.1.2.4", "10.1.2.5", "10.1.9.7", "10.20.30.41",
                                  "Contoso Mailer", "Mailbox Rules Agent", "ceo-office", "AdoXa1b2c3d4e5f6a7b8",
                                  "fe80::7d2c:1aff:fe4b:9e02", "e4d3c2b1a0f94e8d7c6b5a4f3e2d1c0b"])


# --------------------------------------------------------------------------------------
# S/MIME: a signature made before Veil still verifies after it
# --------------------------------------------------------------------------------------

SIGNED_ENTITY = crlf("""\
Content-Type: multipart/mixed;
\tboundary="----=_NextPart_001_0002_01DA17C4.5E6F7A80"
X-Contoso-Classification: internal

This is a multipart message in MIME format.

------=_NextPart_001_0002_01DA17C4.5E6F7A80
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: 7bit
X-Contoso-Workflow-Step: legal-review

Bob,

the signed offer is attached.

Alice

------=_NextPart_001_0002_01DA17C4.5E6F7A80
Content-Type: text/csv; name="offer.csv"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="offer.csv"

aXRlbTtwcmljZQ0Kd2lkZ2V0OzEyLjUwDQo=

------=_NextPart_001_0002_01DA17C4.5E6F7A80--
""")

SIGNED_TOP = crlf("""\
Received: from EXCH01.corp.internal (192.168.10.21) by EDGE01.dmz.corp.internal
 (192.168.50.5) with Microsoft SMTP Server (version=TLS1_2,
 cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.2.1258.12; Thu, 16 Nov
 2023 10:02:19 +0100
Received: from EXCH01.corp.internal ([fe80::5e1d:c3ff:fe9a:4b20]) by
 EXCH01.corp.internal ([fe80::5e1d:c3ff:fe9a:4b20%11]) with mapi id
 15.02.1258.012; Thu, 16 Nov 2023 10:02:18 +0100
From: Alice Martin <alice.martin@corp.example>
To: Bob Keller <bob.keller@fabrikam.example>
Subject: Signed offer
Thread-Topic: Signed offer
Thread-Index: AdoYrW4kT2n9c0xQS8mE1bZ7p3yKfwBB
Date: Thu, 16 Nov 2023 09:02:18 +0000
Message-ID: <a1b2c3d4e5f647a8b9c0d1e2f3a4b5c6@EXCH01.corp.internal>
Accept-Language: en-US
Content-Language: en-US
X-MS-Has-Attach: yes
X-MS-Exchange-Organization-AuthSource: EXCH01.corp.internal
X-MS-Exchange-Organization-AuthAs: Internal
x-originating-ip: [10.20.30.44]
""")


def openssl(*args, input: bytes | None = None) -> subprocess.CompletedProcess:
    assert shutil.which("openssl"), "openssl is not installed"
    return subprocess.run(["openssl", *args], input=input, capture_output=True, timeout=60)


def smime_verify(path: Path, cert: Path) -> subprocess.CompletedProcess:
    return openssl("smime", "-verify", "-in", str(path), "-CAfile", str(cert), "-purpose", "any")


def signed_message(directory: Path) -> tuple[bytes, Path]:
    """SIGNED_ENTITY signed by Alice (openssl smime, multipart/signed, detached) under
    SIGNED_TOP; the message (CRLF) and Alice's certificate."""
    key, cert = directory / "alice.key", directory / "alice.pem"
    p = openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=Alice Martin/emailAddress=alice.martin@corp.example",
                "-keyout", str(key), "-out", str(cert))
    assert p.returncode == 0, p.stderr
    (directory / "entity").write_bytes(SIGNED_ENTITY)
    p = openssl("smime", "-sign", "-in", str(directory / "entity"), "-signer", str(cert), "-inkey", str(key))
    assert p.returncode == 0, p.stderr
    signed = p.stdout.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    head, body = signed.split(b"\r\n\r\n", 1)
    assert b"multipart/signed" in head and SIGNED_ENTITY in body, signed[:400]
    return SIGNED_TOP + head + b"\r\n\r\n" + body, cert


@pytest.mark.parametrize("mode", MODES)
def test_smime_signature_still_verifies(make_veil, sink, tmp_path, mode):
    """Veil removes the internal top-level fields and replaces the multipart/signed
    boundary (outside the signed data), but leaves the signed entity byte for byte,
    its own header fields and boundary included: the delivered message verifies."""
    message, cert = signed_message(tmp_path)
    (tmp_path / "sent.eml").write_bytes(message)
    assert smime_verify(tmp_path / "sent.eml", cert).returncode == 0
    veil, [r] = relay(make_veil, sink, [message], MODES[mode])
    check_relayed(veil, r, MODES[mode])
    assert veil.wait_event("accepted", queue_id=r.qid)[0].get("mime_skipped"), "signed parts not reported"
    delivered = tmp_path / "delivered.eml"
    delivered.write_bytes(r.delivered)
    p = smime_verify(delivered, cert)
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout.replace(b"\r\n", b"\n") == SIGNED_ENTITY.replace(b"\r\n", b"\n")
    assert SIGNED_ENTITY in r.delivered
    check_no_leak(veil, [r], ["EXCH01", "EDGE01", "corp.internal", "192.168.10.21", "10.20.30.44", "fe80::5e1d",
                              "15.2.1258.12", "with mapi", "X-MS-Exchange-", "Thread-Index", "Accept-Language",
                              "AdoYrW4kT2n9c0xQS8mE1bZ7p3yKfwBB", "a1b2c3d4e5f647a8b9c0d1e2f3a4b5c6"])
    # The check can fail: one changed byte in the signed text and it does not verify.
    tampered = tmp_path / "tampered.eml"
    tampered.write_bytes(r.delivered.replace(b"the signed offer", b"the signed 0ffer"))
    assert smime_verify(tampered, cert).returncode != 0


# --------------------------------------------------------------------------------------
# Refused at the end of data
# --------------------------------------------------------------------------------------

def two_froms(second: bytes) -> bytes:
    return (b"From: Alice Martin <alice.martin@corp.example>\r\nTo: Bob Keller <bob.keller@fabrikam.example>\r\n"
            b"Subject: two authors\r\nDate: Tue, 14 Nov 2023 12:00:00 +0000\r\n"
            b"Message-ID: <two-froms@EXMBX02.corp.example>\r\n" + second + b"\r\nbody\r\n")


ONE_FROM_AND_AN_ATTACHED_TWO = crlf("""\
From: Alice Martin <alice.martin@corp.example>, Carol Diaz <carol.diaz@corp.example>
Sender: Alice Martin <alice.martin@corp.example>
To: Bob Keller <bob.keller@fabrikam.example>
Subject: one From field, two authors
Date: Tue, 14 Nov 2023 12:00:00 +0000
Message-ID: <one-from@EXMBX02.corp.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="fwd-2"

--fwd-2
Content-Type: message/rfc822

From: Mallory <mallory@other.example>
From: Mallory again <mallory@other.example>
Subject: an attached message is not checked

attached
--fwd-2--
""")


@pytest.mark.parametrize("mode", MODES)
def test_more_than_one_from_is_refused(make_veil, mode):
    """RFC 5322 section 3.6: one From field at most. Two (in any spelling) are refused
    with 550 5.6.0 at the end of data, nothing is queued, and the session goes on. A
    From with two addresses is one field; an attached message is not checked."""
    veil = make_veil(scrub=MODES[mode])
    with veil.connect("plain") as c:
        c.ehlo(HELO)
        for second in (b"From: Mallory <mallory@other.example>\r\n",
                       b"FROM : Alice Martin <alice.martin@corp.example>\r\n",
                       b"from:\r\n Mallory <mallory@other.example>\r\n"):
            c.mail(SENDER)
            c.rcpt(RECIPIENT)
            r = c.data(two_froms(second), expect="550 5.6.0")
            assert "from" in r.text.lower(), r
            assert_nothing_queued(veil)
        c.mail(SENDER)
        c.rcpt(RECIPIENT)
        accepted = [c.data(ONE_FROM_AND_AN_ATTACHED_TWO, expect="250 2.0.0")]
        c.mail(SENDER)
        c.rcpt(RECIPIENT)
        accepted.append(c.data(two_froms(b""), expect="250 2.0.0"))
        c.quit()
    assert sorted(m["id"] for m in veil.messages()) == sorted(queue_id(a) for a in accepted)
    # The log is read by a thread of the harness: wait for the lines, then count.
    veil.wait_event("accepted", count=2)
    assert len(veil.events("accepted")) == 2


def limited_message(extra: bytes, subject: str) -> bytes:
    return (b"From: Alice Martin <alice.martin@corp.example>\r\nTo: <b@example.org>\r\n" + extra
            + b"Subject: " + subject.encode() + b"\r\nDate: Tue, 14 Nov 2023 12:00:00 +0000\r\n"
            b"Message-ID: <" + subject.replace(" ", "-").encode() + b"@EXMBX02.corp.example>\r\n\r\nbody\r\n")


@pytest.mark.parametrize("extra, expect", [
    (b"Sender: Mallory <x@other.example>\r\n", "550 5.7.1"),
    (b"sender :\r\n \"Other, Mallory\" <x@other.example>\r\n", "550 5.7.1"),
    (b"Resent-From: x@other.example\r\n", "550 5.7.1"),
    (b"Resent-From: Carol Diaz <carol.diaz@corp.example>, x@other.example\r\n", "550 5.7.1"),
    (b"Sender: Helpdesk <helpdesk@corp.example>\r\nResent-From: carol.diaz@CORP.example\r\n", "250 2.0.0"),
], ids=["sender", "sender-obsolete-spacing", "resent-from", "resent-from-list", "all-allowed"])
def test_limited_user_sender_and_resent_from(veil, extra, expect):
    """A user limited to corp.example (users file) cannot name another domain's
    address in Sender or Resent-From either, as with From: 550 5.7.1 at the end of
    data, nothing queued. An unlimited user can."""
    message = limited_message(extra, "limited user")
    r = submit_as(veil, "limited", message, expect)
    if expect.startswith("550"):
        assert_nothing_queued(veil)
        r = submit_as(veil, "demo", message, "250 2.0.0")
    assert [m["id"] for m in veil.messages()] == [queue_id(r)]


def submit_as(veil, user: str, message: bytes, expect: str):
    """`message` from a@corp.example to b@example.org on the submission listener,
    over STARTTLS and AUTH as `user` (password = user name); the reply to the data."""
    with veil.connect("submission") as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        c.auth_plain(user, user)
        c.mail("a@corp.example")
        c.rcpt("b@example.org")
        r = c.data(message, expect=expect)
        c.quit()
    return r


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------

def scrub_section(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("[scrub]")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    return [line.strip() for line in lines[start + 1:end]]


def test_mode_is_checked_and_shown(write_config):
    """mode = "bogus" is a configuration error naming the file, the line and the key;
    the effective configuration shows the mode, the allowlist when none is given
    (profile = "exchange" is allowed and ignored with it)."""
    path = write_config(scrub={"mode": "bogus"})
    p = check_config(path)
    assert_error(p, path, line_of(path, r'^mode = "bogus"'), "mode")
    assert "allowlist" in p.stderr and "denylist" in p.stderr, p.stderr     # the choices, as for profile

    for scrub, mode in (({"mode": None, "profile": "exchange"}, "allowlist"),
                        ({"mode": "allowlist", "profile": "exchange"}, "allowlist"),
                        ({"mode": "denylist"}, "denylist")):
        path = write_config(scrub=scrub)
        p = check_config(path)
        assert p.returncode == 0, p.stderr + p.stdout
        assert f'mode = "{mode}"' in scrub_section(p.stdout), p.stdout
