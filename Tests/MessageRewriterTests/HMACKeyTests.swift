import Testing
@testable import MessageRewriter

@Suite struct HMACKeyTests {
    func hex(_ bytes: [UInt8]) -> String { bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }

    func hmac(key: [UInt8], _ message: String) -> String {
        hex(Array(message.utf8).withUnsafeBytes { HMACKey(key).authenticate($0) })
    }

    /// RFC 4231 §4.2, §4.3, §4.7 (a key longer than the block).
    @Test func hmacVectors() {
        #expect(hmac(key: [UInt8](repeating: 0x0b, count: 20), "Hi There")
            == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(hmac(key: Array("Jefe".utf8), "what do ya want for nothing?")
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(hmac(key: [UInt8](repeating: 0xaa, count: 131), "Test Using Larger Than Block-Size Key - Hash Key First")
            == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func base32() {
        #expect(Base32.encode(Array("foobar".utf8)) == "mzxw6ytboi")
        #expect(Base32.encode([]) == "")
        #expect(Base32.encode(Array("f".utf8)) == "my")
    }
}
