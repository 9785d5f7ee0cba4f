import NIOCore
import Testing
@testable import SMTPNIO

@Suite struct ProxyHeaderParserTests {
    func parse(_ bytes: [UInt8]) -> ProxyHeaderParser.Result {
        ProxyHeaderParser.parse(ByteBuffer(bytes: bytes).readableBytesView)
    }

    @Test func version1() {
        let line = Array("PROXY TCP4 192.0.2.7 127.0.0.1 40000 25\r\nEHLO".utf8)
        #expect(parse(line) == .header(source: .init(address: "192.0.2.7", port: 40000), length: line.count - 4))
        let v6 = Array("PROXY TCP6 2001:db8::1 ::1 40000 25\r\n".utf8)
        #expect(parse(v6) == .header(source: .init(address: "2001:db8::1", port: 40000), length: v6.count))
        #expect(parse(Array("PROXY UNKNOWN\r\n".utf8)) == .header(source: nil, length: 15))
    }

    @Test func version1Errors() {
        #expect(parse(Array("PROXY TCP4 192.0.2.7 127.0.0.1 40000".utf8)) == .needMoreData)
        #expect(parse(Array("PRO".utf8)) == .needMoreData)
        #expect(parse(Array("EHLO x\r\n".utf8)) == .invalid)
        #expect(parse(Array("PROXY TCP4 2001:db8::1 ::1 1 2\r\n".utf8)) == .invalid)
        #expect(parse(Array("PROXY TCP4 192.0.2.7 127.0.0.1 99999 25\r\n".utf8)) == .invalid)
        #expect(parse(Array("PROXY TCP4 192.0.2.7 127.0.0.1 1 25\n".utf8)) == .invalid)
        #expect(parse(Array(("PROXY " + String(repeating: "x", count: 120)).utf8)) == .invalid)
    }

    static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    @Test func version2() {
        let ipv4 = Self.signature + [0x21, 0x11, 0, 12, 192, 0, 2, 7, 127, 0, 0, 1, 0x9C, 0x40, 0, 25]
        #expect(parse(ipv4 + [0x16]) == .header(source: .init(address: "192.0.2.7", port: 40000), length: 28))
        #expect(parse(Array(ipv4.prefix(20))) == .needMoreData)
        let local = Self.signature + [0x20, 0x00, 0, 0]
        #expect(parse(local) == .header(source: nil, length: 16))
        var ipv6 = Self.signature + [0x21, 0x21, 0, 36]
        ipv6 += [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [1]
        ipv6 += [UInt8](repeating: 0, count: 15) + [1] + [0x9C, 0x40, 0, 25]
        #expect(parse(ipv6) == .header(source: .init(address: "2001:db8::1", port: 40000), length: 52))
        #expect(parse(Self.signature + [0x11, 0x11, 0, 0]) == .invalid)
    }
}
