import Foundation
import LogEvents
import Logging
import MailQueue
import NIOPosix
import SMTPCore
import SMTPNIO
import Testing
@testable import Relay

/// Components log ``VeilEvent``s, asserted as events; the handler writes them as
/// the lines of docs/admin-guide.md §7.
@Suite struct LogEventTests {
    @Test func authFailuresThenTheLockoutNamingTheIPv6Network() async throws {
        let recorder = LogRecorder()
        let pool = PasswordCheckPool(threadCount: 1)
        let authenticator = Authenticator(
            users: UsersFile(users: ["exchange": .init(name: "exchange", hash: PasswordHash.dummyHash, allowedDomains: nil)]),
            failures: AuthFailureTracker(maximumFailures: 2, window: .seconds(60), lockout: .seconds(60)),
            rate: AuthRateLimiter(attemptsPerSecond: 100), pool: pool, logger: recorder.logger)
        let client = ClientInfo(address: "2001:db8:1:2::7", port: 50312, listener: "submission")
        func attempt(_ user: String) async throws -> SMTPServerStateMachine.AuthenticationResult {
            try await authenticator.authenticate(Credentials(username: user, password: "guess"), mechanism: .login,
                                                 client: client, eventLoop: MultiThreadedEventLoopGroup.singleton.next()).get()
        }
        #expect(try await attempt("nobody") == .invalidCredentials)
        #expect(try await attempt("exchange") == .invalidCredentials)
        #expect(try await attempt("exchange") == .lockedOut)
        try await pool.shutdown()

        func failed(_ user: String, _ reason: VeilEvent.AuthFailure) -> VeilEvent {
            .authFailed(client: client.address, listener: "submission", user: user, mechanism: "LOGIN", reason: reason)
        }
        #expect(recorder.logged([
            failed("nobody", .unknownUser),
            failed("exchange", .badPassword),
            .authLockout(client: client.address, listener: "submission", network: "2001:db8:1:2::/64"),
            failed("exchange", .lockedOut),
        ]))
    }

    @Test func freeSpaceIsLoggedWhenItChangesNotAtEachRefusal() throws {
        let recorder = LogRecorder()
        let directory = NSTemporaryDirectory()
        let freeSpace = FreeSpaceGuard(directory: directory, logger: recorder.logger)
        #expect(freeSpace.refusal(minimum: .max) != nil)
        #expect(freeSpace.refusal(minimum: .max) != nil)
        #expect(freeSpace.refusal(minimum: 1) == nil)
        // The free space is the file system's: read back from the lines.
        let free = try recorder.lines.map { try #require($0.metadata["free"].flatMap { Int("\($0)") }) }
        try #require(free.count == 2)
        #expect(recorder.logged([
            .diskSpaceLow(spool: directory, free: free[0], minimum: .max),
            .diskSpaceOK(spool: directory, free: free[1], minimum: 1),
        ]))
    }

    /// The delivery fields: `to` in brackets, `delay` with one decimal, and
    /// `next_attempt` (deferred only) written as `ts` is.
    @Test func deliveryLinesAsTheAdminGuideShowsThem() throws {
        let attempt = VeilEvent.DeliveryAttempt(
            queueID: "01M8N2JN2CQWDJ", recipient: "dan@example.org", relay: "mx.example.org[192.0.2.25]:25",
            tls: "TLSv1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 unverified", attempt: 1, delay: 0.8,
            reply: "451 4.7.1 Greylisted, try again later")
        let nextAttempt = try #require(Timestamp.parse("2026-11-30T09:15:05.250Z"))
        #expect(Self.line(.deferred(attempt, nextAttempt: nextAttempt)) == """
            ts=2026-11-30T09:14:03.120Z level=notice event=deferred queue_id=01M8N2JN2CQWDJ attempt=1 delay=0.8s \
            next_attempt=2026-11-30T09:15:05.250Z relay=mx.example.org[192.0.2.25]:25 \
            reply="451 4.7.1 Greylisted, try again later" tls="TLSv1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 unverified" \
            to=<dan@example.org>

            """)
        var bounced = attempt
        (bounced.tls, bounced.reply) = (nil, "550 5.1.1 User unknown")
        #expect(Self.line(.bounced(bounced)) == """
            ts=2026-11-30T09:14:03.120Z level=notice event=bounced queue_id=01M8N2JN2CQWDJ attempt=1 delay=0.8s \
            relay=mx.example.org[192.0.2.25]:25 reply="550 5.1.1 User unknown" tls=none to=<dan@example.org>

            """)
    }

    /// Optional fields are left out, not written empty: no `code` for a PROXY
    /// refusal, no `mime_skipped` or `tnef_removed` unless they happened; `user=""`
    /// without AUTH.
    @Test func optionalFieldsAppearOnlyWhenSet() {
        #expect(Self.line(.rejected(code: nil, reason: "PROXY header from a peer outside proxy_networks"), json: true) == """
            {"ts":"2026-11-30T09:14:03.120Z","level":"notice","event":"rejected",\
            "reason":"PROXY header from a peer outside proxy_networks"}

            """)
        let accepted = VeilEvent.accepted(
            queueID: "01M8N2JN2CQWDJ", client: "10.20.0.15", listener: "relay", from: "", recipients: 2, size: 8214,
            user: nil, helo: "EXCH01.corp.internal", scrubbed: 19, mimeRewritten: 8, mimeSkipped: nil, tnefRemoved: 0,
            dkim: ["contoso.example/rsa2026", "contoso.example/ed2026"])
        #expect(Self.line(accepted) == """
            ts=2026-11-30T09:14:03.120Z level=info event=accepted listener=relay client=10.20.0.15 queue_id=01M8N2JN2CQWDJ \
            dkim=contoso.example/rsa2026,contoso.example/ed2026 from=<> helo=EXCH01.corp.internal mime_rewritten=8 rcpt_count=2 \
            scrubbed=19 size=8214 user=""

            """)
    }

    static func line(_ event: VeilEvent, json: Bool = false) -> String {
        let logged = LogEvent(level: event.level, message: "\(event.name)", metadata: event.metadata, source: nil,
                              file: #fileID, function: #function, line: #line)
        return LogfmtLogHandler(level: .trace, json: json).line(logged, time: "2026-11-30T09:14:03.120Z")
    }
}
