import Testing
@testable import Delivery

@Suite struct MXParsingTests {
    @Test func mxRdata() {
        let rdata: [UInt8] = [0, 10, 3] + Array("mx1".utf8) + [7] + Array("example".utf8) + [0]
        #expect(MXResolver.parseMX(rdata) == .init(preference: 10, name: "mx1.example"))
        #expect(MXResolver.parseMX([0, 0, 0]) == .init(preference: 0, name: ""))          // null MX
        #expect(MXResolver.parseMX([0, 10, 5, 65]) == nil)                                   // truncated
        #expect(MXResolver.parseMX([0, 10, 0xC0, 12]) == nil)                                // compression pointer
    }

    @Test func preferenceOrder() {
        let exchanges: [MXResolver.Exchange] = [.init(preference: 20, name: "b"), .init(preference: 10, name: "a1"),
                                                .init(preference: 10, name: "a2"), .init(preference: 30, name: "c")]
        for _ in 0..<20 {
            let ordered = MXResolver.ordered(exchanges).map(\.name)
            #expect(Set(ordered.prefix(2)) == ["a1", "a2"])
            #expect(Array(ordered.suffix(2)) == ["b", "c"])
        }
    }

    @Test func addresses() {
        #expect(MXResolver.formatAddress([192, 0, 2, 7]) == "192.0.2.7")
        #expect(MXResolver.formatAddress([0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]) == "2001:db8::1")
        #expect(MXResolver.formatAddress([1, 2, 3]) == nil)
    }
}
