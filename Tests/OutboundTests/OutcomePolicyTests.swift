import Foundation
@testable import MailQueue
import SMTPCore
import Testing
@testable import Outbound

/// What a next hop's replies mean for each recipient, without sockets: every
/// outcome the end-to-end suite checks through a real daemon.
@Suite struct OutcomePolicyTests {
    static let received = Date(timeIntervalSince1970: 1_800_000_000)
    static let policy = OutcomePolicy(retrySchedule: [60, 300, 3600], maximumLifetime: 5 * 86400)

    static func job(sender: String = "alice@corp.example", _ recipients: [(address: String, notify: String?, attempts: Int)]) -> DeliveryJob {
        DeliveryJob(queueID: "01TEST", sender: sender, size: 100, body: nil, smtpUTF8: false, ret: nil, envelopeID: nil,
                    receivedAt: received,
                    recipients: recipients.enumerated().map { index, recipient in
                        .init(rowID: Int64(index + 1), address: recipient.address, notify: recipient.notify.flatMap { Notify($0) },
                              originalRecipient: nil, attempts: recipient.attempts)
                    })
    }

    static func decide(_ job: DeliveryJob, _ results: [SMTPClientStateMachine.RecipientResult]?, after seconds: Double = 10,
                       failure: String = "connection refused", relay: String = "mx.example.org[192.0.2.25]:25",
                       dsn: Bool = false, jitter: Double = 1.0) -> [OutcomePolicy.Decision] {
        policy.decide(job, results: results, sessionFailure: failure, relay: relay,
                      nextHopTakesDSN: dsn, now: received.addingTimeInterval(seconds), jitter: jitter)
    }

    static let ok = SMTPReply(250, "2.0.0", "Ok: queued as 4Q7XH2")
    static let greylisted = SMTPReply(451, "4.7.1", "Greylisted, try again later")
    static let unknown = SMTPReply(550, "5.1.1", "User unknown")

    @Test func partialRecipientsEachGetTheirOwnOutcome() {
        let job = Self.job([("bob@example.org", nil, 0), ("dan@example.org", nil, 0), ("eve@example.org", nil, 0)])
        let decisions = Self.decide(job, [.accepted(Self.ok), .transientFailure(Self.greylisted), .permanentFailure(Self.unknown)])
        #expect(decisions.map(\.event) == [.delivered, .deferred, .bounced])
        #expect(decisions.map(\.rowID) == [1, 2, 3])
        #expect(decisions.map(\.reply) == ["250 2.0.0 Ok: queued as 4Q7XH2", "451 4.7.1 Greylisted, try again later",
                                           "550 5.1.1 User unknown"])
        // Only the bounce is reported, with the server that refused.
        #expect(decisions.map { $0.notice?.action } == [nil, nil, .failed])
        #expect(decisions[2].notice?.status == "5.1.1" && decisions[2].notice?.remoteMTA == "mx.example.org[192.0.2.25]:25")
        #expect(decisions[2].retryIfUnreported == Self.received.addingTimeInterval(10 + 60))
    }

    @Test func aDeferralFollowsTheScheduleWithItsJitter() {
        let job = Self.job([("a@example.org", nil, 0), ("b@example.org", nil, 1), ("c@example.org", nil, 7)])
        let now = Self.received.addingTimeInterval(10)
        let decisions = Self.decide(job, nil, jitter: 1.1)
        #expect(decisions.map(\.event) == [.deferred, .deferred, .deferred])
        #expect(decisions.map(\.nextAttempt) == [now.addingTimeInterval(66), now.addingTimeInterval(330), now.addingTimeInterval(3960)])
        // Without results the session's failure is the reply.
        #expect(decisions.allSatisfy { $0.reply == "connection refused" && $0.notice == nil && $0.retryIfUnreported == nil })
    }

    @Test func pastMaxLifetimeATemporaryFailureExpires() {
        let job = Self.job([("a@example.org", nil, 30), ("b@example.org", nil, 30)])
        let decisions = Self.decide(job, [.transientFailure(Self.greylisted), .accepted(Self.ok)], after: 5 * 86400 + 1)
        #expect(decisions.map(\.event) == [.expired, .delivered])
        #expect(decisions[0].reply == "expired after max_lifetime; last: 451 4.7.1 Greylisted, try again later")
        // The report names the last reply, with 4.x status, and no remote MTA.
        #expect(decisions[0].notice == .init(address: "a@example.org", originalRecipient: nil, action: .failed, status: "4.7.1",
                                             remoteMTA: nil, diagnostic: "451 4.7.1 Greylisted, try again later"))
        #expect(Self.decide(job, nil, after: 5 * 86400 + 1, failure: "connection timed out")[0].notice?.status == "4.4.7")
    }

    @Test func aPermanentFailureBouncesAtOnceEvenOnTheFirstAttempt() {
        let decisions = Self.decide(Self.job([("a@example.org", nil, 0)]), [.permanentFailure(Self.unknown)], after: 1)
        #expect(decisions.map(\.event) == [.bounced])
    }

    @Test func theNullSenderGetsNoReport() {
        let job = Self.job(sender: "", [("a@example.org", nil, 0), ("b@example.org", "SUCCESS", 30)])
        let decisions = Self.decide(job, [.permanentFailure(Self.unknown), .accepted(Self.ok)])
        #expect(decisions.map(\.event) == [.bounced, .delivered])
        #expect(decisions.allSatisfy { $0.notice == nil && $0.retryIfUnreported == nil })
    }

    /// RFC 3461 §4.1 and §5.2.2, NOTIFY by NOTIFY, with a next hop that does and
    /// one that does not offer DSN.
    @Test(arguments: [
        (nil as String?, false, [nil, nil, .failed] as [DSNAction?]),
        ("NEVER", false, [nil, nil, nil]),
        ("FAILURE", false, [nil, nil, .failed]),
        ("SUCCESS", false, [.relayed, nil, nil]),
        ("SUCCESS,FAILURE", false, [.relayed, nil, .failed]),
        ("SUCCESS,FAILURE", true, [nil, nil, .failed]),
        ("DELAY", false, [nil, nil, nil]),
    ])
    func notifyDecidesWhatIsReported(notify: String?, nextHopTakesDSN: Bool, actions: [DSNAction?]) {
        let job = Self.job([("a@example.org", notify, 0), ("b@example.org", notify, 0), ("c@example.org", notify, 0)])
        let decisions = Self.decide(job, [.accepted(Self.ok), .transientFailure(Self.greylisted), .permanentFailure(Self.unknown)],
                                    dsn: nextHopTakesDSN)
        #expect(decisions.map { $0.notice?.action } == actions)
        if actions[0] == .relayed {
            #expect(decisions[0].notice?.status == "2.0.0" && decisions[0].notice?.remoteMTA == "mx.example.org[192.0.2.25]:25")
        }
    }

    @Test func aBounceWithoutARelayNamesNoRemoteMTA() {
        let refused = SMTPReply(550, "5.1.2", "Recipient address rejected: domain nowhere.example not found")
        let decisions = Self.decide(Self.job([("a@nowhere.example", nil, 0)]), [.permanentFailure(refused)], relay: "none")
        #expect(decisions[0].notice?.remoteMTA == nil && decisions[0].notice?.status == "5.1.2")
    }
}
