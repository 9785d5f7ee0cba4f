import Testing
import TLSReporting

@Suite struct GzipTests {
    @Test(arguments: [0, 1, 17, 100_000])
    func roundTrip(count: Int) throws {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let compressed = try Gzip.compress(bytes)
        #expect(inflate(compressed) == bytes)
    }

    /// RFC 1952 §2.3: ID1 ID2 CM=8 (deflate), no flags (no file name), MTIME 0;
    /// the trailer is the CRC-32 and the length, little-endian.
    @Test func gzipHeaderAndTrailer() throws {
        let text = Array(String(repeating: "policy-string ", count: 500).utf8)
        let compressed = try Gzip.compress(text)
        #expect(compressed.prefix(8) == [0x1f, 0x8b, 8, 0, 0, 0, 0, 0])
        #expect(compressed.suffix(4) == [0x58, 0x1b, 0, 0])   // 7000 bytes (0x1b58)
        #expect(compressed.count < text.count / 10)
        #expect(inflate(compressed) == text)
        #expect(try Gzip.compress(text) == compressed)
    }

    /// The helper the tests trust is not fooled by a cut or altered stream.
    @Test func inflateRejectsDamage() throws {
        let compressed = try Gzip.compress(Array("hello".utf8))
        #expect(inflate(Array(compressed.dropLast())) == nil)
        var altered = compressed
        altered[altered.count - 5] ^= 1   // CRC-32
        #expect(inflate(altered) == nil)
    }
}
