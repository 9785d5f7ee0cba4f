import Foundation
import Outbound
import Testing
@testable import MailQueue
@testable import Relay

/// How due mail is packed into sessions and transactions, without sockets.
@Suite struct RouterTests {
    static func router(_ extra: String = "") throws -> Router {
        let path = NSTemporaryDirectory() + "veil-router-\(UUID().uuidString).toml"
        FileManager.default.createFile(atPath: path, contents: Data((ConfigurationTests.minimal + """

            [delivery]
            mode = "mx"

            """ + extra).utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return Router(try RoutingTable(configuration: Configuration.load(path: path)))
    }

    static func job(_ id: String, _ addresses: [String]) -> DeliveryJob {
        DeliveryJob(queueID: id, sender: "a@corp.example", size: 100, body: nil, smtpUTF8: false, ret: nil, envelopeID: nil,
                    receivedAt: Timestamp.parse("2026-11-30T00:00:00Z")!,
                    recipients: addresses.enumerated().map { index, address in
                        .init(rowID: Int64(index), address: address, notify: nil, originalRecipient: nil, attempts: 0)
                    })
    }

    @Test func recipientsAreGroupedPerDomainInTransactionsOfAtMostAThousand() throws {
        let router = try Self.router()
        let many = (0..<2500).map { "user\($0)@example.org" }
        let sessions = router.sessions(for: [Self.job("A", many + ["x@other.example"]), Self.job("B", ["y@example.org"])],
                                       messagesPerConnection: 100, perHop: 2)
        #expect(sessions.map(\.hop.description) == ["mx:example.org", "mx:other.example"])
        #expect(sessions[0].jobs.map(\.queueID) == ["A", "A", "A", "B"])
        #expect(sessions[0].jobs.map(\.recipients.count) == [1000, 1000, 500, 1])
        #expect(sessions[1].jobs.map(\.recipients.count) == [1])
    }

    @Test func routesAndSessionLimits() throws {
        let router = try Self.router("""
            [[delivery.domain]]
            domain = "partner.example"
            route = "[192.0.2.1]:2525"
            tls = "verify"
            """)
        let jobs = (0..<5).map { Self.job("M\($0)", ["b@partner.example"]) }
        let sessions = router.sessions(for: jobs, messagesPerConnection: 2, perHop: 2)
        // Two sessions of two messages; the fifth waits for the next pass.
        #expect(sessions.map(\.jobs.count) == [2, 2])
        #expect(sessions.allSatisfy { $0.hop == .fixed(host: "192.0.2.1", port: 2525) && $0.policy == .verify })
    }

    @Test func routesMatchEverySpellingOfAnInternationalisedDomain() throws {
        let router = try Self.router("""
            [[delivery.domain]]
            domain = "Bücher.example"
            route = "[192.0.2.1]:2525"
            """)
        for domain in ["bücher.example", "BÜCHER.example", "bu\u{308}cher.example", "xn--bcher-kva.example", "XN--BCHER-KVA.example"] {
            #expect(router.hop(for: domain).0 == .fixed(host: "192.0.2.1", port: 2525), "\(domain)")
        }
        // Another name (nontransitional: ß is not ss), and one with no ASCII form.
        #expect(router.hop(for: "bücher.example.org").0 == .mx(domain: "bücher.example.org"))
        #expect(router.hop(for: "b\u{1F4A9}.example").0 == .mx(domain: "b\u{1F4A9}.example"))
    }
}
