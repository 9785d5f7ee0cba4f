import NIOCore

/// Parses the HAProxy PROXY protocol header (versions 1 and 2) that a load balancer
/// puts in front of the client's bytes, to learn the real client address.
/// Spec: https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt
public enum ProxyHeaderParser {
    public enum Result: Equatable, Sendable {
        case needMoreData
        case invalid
        /// `source` is nil for `PROXY UNKNOWN` and v2 LOCAL (health checks): the
        /// connection's own peer address applies.
        case header(source: ClientAddress?, length: Int)
    }

    public struct ClientAddress: Equatable, Sendable {
        public var address: String
        public var port: Int
    }

    /// v1 lines are at most 107 bytes including CRLF (spec §2.1).
    static let maximumV1Length = 107
    /// `\r\n\r\n\0\r\nQUIT\n` (spec §2.2).
    static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    static let v1Prefix = Array("PROXY ".utf8)

    public static func parse(_ bytes: ByteBufferView) -> Result {
        if startsLike(bytes, v2Signature) {
            return bytes.count < 16 ? .needMoreData : parseV2(Array(bytes))
        }
        if startsLike(bytes, v1Prefix) {
            return bytes.count < v1Prefix.count ? .needMoreData : parseV1(bytes)
        }
        return .invalid
    }

    /// The bytes so far agree with `prefix` (as far as either goes).
    private static func startsLike(_ bytes: ByteBufferView, _ prefix: [UInt8]) -> Bool {
        let count = min(bytes.count, prefix.count)
        return bytes.prefix(count).elementsEqual(prefix.prefix(count))
    }

    /// `PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n` or `PROXY UNKNOWN ...\r\n`.
    private static func parseV1(_ bytes: ByteBufferView) -> Result {
        guard let lf = bytes.firstIndex(of: 0x0A) else {
            return bytes.count >= maximumV1Length ? .invalid : .needMoreData
        }
        let length = lf - bytes.startIndex + 1
        guard length <= maximumV1Length, length >= 2, bytes[lf - 1] == 0x0D,
              let line = String(validating: bytes[bytes.startIndex..<(lf - 1)], as: UTF8.self) else { return .invalid }
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        if fields.count >= 2 && fields[1] == "UNKNOWN" { return .header(source: nil, length: length) }
        guard fields.count == 6, fields[1] == "TCP4" || fields[1] == "TCP6",
              let port = Int(fields[4]), (0...65535).contains(port), Int(fields[5]).map({ (0...65535).contains($0) }) == true,
              let source = try? SocketAddress(ipAddress: String(fields[2]), port: port),
              (try? SocketAddress(ipAddress: String(fields[3]), port: 0)) != nil
        else { return .invalid }
        let isV4: Bool
        if case .v4 = source { isV4 = true } else { isV4 = false }
        guard isV4 == (fields[1] == "TCP4"), let text = source.ipAddress else { return .invalid }
        return .header(source: ClientAddress(address: text, port: port), length: length)
    }

    /// Binary header: signature, version/command, family/protocol, length, addresses.
    private static func parseV2(_ bytes: [UInt8]) -> Result {
        let versionCommand = bytes[12]
        guard versionCommand >> 4 == 2 else { return .invalid }
        let addressLength = Int(bytes[14]) << 8 | Int(bytes[15])
        let length = 16 + addressLength
        guard bytes.count >= length else { return .needMoreData }
        switch versionCommand & 0x0F {
        case 0x0:
            return .header(source: nil, length: length)
        case 0x1:
            break
        default:
            return .invalid
        }
        let body = bytes[16..<length]
        let addressSize: Int
        switch bytes[13] {
        case 0x11 where addressLength >= 12: addressSize = 4    // TCP over IPv4
        case 0x21 where addressLength >= 36: addressSize = 16   // TCP over IPv6
        case 0x00: return .header(source: nil, length: length)  // AF_UNSPEC
        default: return .invalid
        }
        let portIndex = body.startIndex + 2 * addressSize
        let port = Int(body[portIndex]) << 8 | Int(body[portIndex + 1])
        guard let source = try? SocketAddress(packedIPAddress: ByteBuffer(bytes: body.prefix(addressSize)), port: port),
              let text = source.ipAddress else { return .invalid }
        return .header(source: ClientAddress(address: text, port: port), length: length)
    }
}
