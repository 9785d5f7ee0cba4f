import Connections
import NIOCore

/// The key under which Veil keeps per-client state (the AUTH failure lockout and the
/// per-IP connection count): an IPv4 address as it is, an IPv4-mapped IPv6 address
/// (`::ffff:192.0.2.1`, a dual-stack socket's IPv4 client) as its IPv4 address, and any
/// other IPv6 address masked to its first `ipv6PrefixLength` bits (`[limits]
/// ipv6_prefix`, 64 by default: one site usually gets a whole /64 or more, so keying
/// by the full address would let a single client count as 2^64 clients).
/// Text that is no IP address (`"unknown"`) is its own key.
public struct ClientKey: Sendable, Hashable, CustomStringConvertible {
    public static let ipv6PrefixRange = 32...128
    public static let defaultIPv6Prefix = 64

    /// `192.0.2.1`, or the network in its usual form: `2001:db8:1:2::/64`.
    public let description: String

    /// True for an IPv6 network (of more than one address).
    public var isNetwork: Bool { description.contains("/") && !description.hasSuffix("/128") }

    public init(address: String, ipv6PrefixLength: Int = ClientKey.defaultIPv6Prefix) {
        guard let bytes = CIDR.bytes(of: address) else {
            description = address
            return
        }
        if bytes.count == 4 {
            description = bytes.map(String.init).joined(separator: ".")
            return
        }
        if bytes.prefix(12).elementsEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]) {
            description = bytes.suffix(4).map(String.init).joined(separator: ".")
            return
        }
        let length = min(max(ipv6PrefixLength, 0), 128)
        var masked = bytes
        for index in masked.indices {
            let bits = min(8, max(0, length - index * 8))
            masked[index] &= UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
        }
        let text = (try? SocketAddress(packedIPAddress: ByteBuffer(bytes: masked), port: 0))?.ipAddress
        description = (text ?? masked.map { String($0, radix: 16) }.joined(separator: ".")) + "/\(length)"
    }
}
