import MessageRewriter
import SMTPCore
import Testing
@testable import Relay

@Suite struct FromHeaderCheckTests {
    func domains(_ field: String) -> [String] {
        AddressField.domains(in: Array(field.utf8))
    }

    @Test func addressForms() {
        #expect(domains("From: a@Corp.Example\r\n") == ["corp.example"])
        #expect(domains("From: \"Smith, John\" <john@corp.example>\r\n") == ["corp.example"])
        #expect(domains("From: Alice (at home, sometimes) <alice@home.example>, bob@corp.example\r\n")
            == ["home.example", "corp.example"])
        #expect(domains("From: \"a@evil.example\" <ceo@corp.example>\r\n") == ["corp.example"])
        #expect(domains("From:\r\n <folded@corp.example>\r\n") == ["corp.example"])
        #expect(domains("From: undisclosed\r\n").isEmpty)
        // Groups (RFC 6854): the name before the colon is not an address.
        #expect(domains("From: Ops: alice@contoso.example, Bob <bob@corp.example>;\r\n") == ["contoso.example", "corp.example"])
        #expect(domains("From: \"Team: a@b\" <x@corp.example>\r\n") == ["corp.example"])
        #expect(domains("From: undisclosed-recipients:;\r\n").isEmpty)
    }

    @Test func restrictedUsersOnly() {
        let limited = AuthenticatedUser(name: "l", allowedDomains: ["corp.example", "*.corp.example"])
        let free = AuthenticatedUser(name: "f", allowedDomains: nil)
        #expect(FromHeaderCheck.allows([Array("From: <a@corp.example>\r\n".utf8)], for: limited))
        #expect(FromHeaderCheck.allows([Array("From: <a@eu.corp.example>\r\n".utf8)], for: limited))
        #expect(!FromHeaderCheck.allows([Array("From: <ceo@bank.example>\r\n".utf8)], for: limited))
        #expect(!FromHeaderCheck.allows([Array("From: a@corp.example, ceo@bank.example\r\n".utf8)], for: limited))
        #expect(!FromHeaderCheck.allows([Array("From: nobody\r\n".utf8)], for: limited))
        #expect(FromHeaderCheck.allows([], for: limited))
        #expect(FromHeaderCheck.allows([Array("From: <ceo@bank.example>\r\n".utf8)], for: free))
        // Sender and Resent-From name a sender too: each one is checked.
        let from = Array("From: <a@corp.example>\r\n".utf8)
        #expect(FromHeaderCheck.allows([from, Array("Sender: <b@eu.corp.example>\r\n".utf8)], for: limited))
        #expect(!FromHeaderCheck.allows([from, Array("Sender: <ceo@bank.example>\r\n".utf8)], for: limited))
        #expect(!FromHeaderCheck.allows([from, Array("Resent-From: <ceo@bank.example>\r\n".utf8)], for: limited))
    }
}
