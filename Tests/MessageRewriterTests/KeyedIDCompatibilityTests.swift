import Testing
@testable import MessageRewriter

/// Ids and boundaries made by Veil before HMAC came from swift-crypto (its own
/// SHA-256, up to 0.x): the same input must still give the same output, or replies
/// to mail sent before an upgrade would no longer thread.
@Suite struct KeyedIDCompatibilityTests {
    static let key = HMACKey((0..<32).map { UInt8($0) })
    /// A key longer than the HMAC block (64 bytes), which is hashed first.
    static let longKey = HMACKey((0..<100).map { UInt8(truncatingIfNeeded: $0 * 7) })

    static func mapped(_ id: String, key: HMACKey = key) -> String {
        let field = Array("Message-ID: <\(id)>\r\n".utf8)
        let mapping = MessageIDMapping(key: key, hostname: "relay.example", ownMessageID: nil)
        return String(decoding: mapping.rewrite(field[...], kind: .own) ?? field, as: UTF8.self)
    }

    /// Made by Veil's own SHA-256 (commit 18aeb74).
    @Test func messageIDsMapAsBefore() {
        #expect(Self.mapped("1f2e3d4c5b6a@EXCH01.corp.local")
                == "Message-ID: <k3ya3oyfonvixemmx5fuj5hb2st4oaipy2u6psqa6gwgh3j5dwbq@relay.example>\r\n")
        #expect(Self.mapped("AM0PR01MB1234.eurprd01.prod.exchangelabs.com@contoso.example")
                == "Message-ID: <o4bbxol34vmsvohg33jksyu5xnjg445hxuhszqvdy4x32ydpgv7q@relay.example>\r\n")
        #expect(Self.mapped("x@y", key: Self.longKey)
                == "Message-ID: <gi4qdduquryhy2sal2m6i4wyt7nkt5yaxjwdpxlliiaths6z6kpq@relay.example>\r\n")
    }

    @Test func boundariesMapAsBefore() {
        let boundary = Boundary.replacement(for: Array("_000_AM0PR01MB1234_".utf8)[...], key: Self.key)
        #expect(String(decoding: boundary, as: UTF8.self) == "=_veil_f6ihrnucy5psyev5ag2xlplfwng5wgls")
    }
}
