import NIOCore

/// An IPv4 or IPv6 network such as `10.0.0.0/8` or `2001:db8::/32`.
public struct CIDR: Sendable, Equatable, CustomStringConvertible {
    public let network: [UInt8]
    public let prefixLength: Int
    public let description: String

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = Self.bytes(of: String(parts[0])) else { return nil }
        let maximum = address.count * 8
        let length = parts.count == 2 ? Int(parts[1]) : maximum
        guard let length, (0...maximum).contains(length) else { return nil }
        network = address
        prefixLength = length
        description = text
    }

    /// True when `address` (text form, IPv4-mapped IPv6 allowed) is inside.
    public func contains(_ address: String) -> Bool {
        guard let bytes = Self.bytes(of: address) else { return false }
        return contains(bytes)
    }

    /// The same for an address's 4 or 16 bytes.
    public func contains(_ address: [UInt8]) -> Bool {
        var bytes = address
        if bytes.count == 16 && network.count == 4 && bytes.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] {
            bytes = Array(bytes.suffix(4))
        }
        guard bytes.count == network.count else { return false }
        var remaining = prefixLength
        for (have, want) in zip(bytes, network) where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if have & mask != want & mask { return false }
            remaining -= bits
        }
        return true
    }

    /// True for a network that holds every IPv4 address (`0.0.0.0/0`; `::ffff:0:0/96`
    /// or any wider IPv6 network around it, which matches IPv4 clients of a dual-stack
    /// socket) or every IPv6 address (`::/0`).
    public var coversAFamily: Bool {
        if prefixLength == 0 { return true }
        let mapped: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]
        return network.count == 16 && contains(mapped + [0, 0, 0, 0]) && contains(mapped + [0xFF, 0xFF, 0xFF, 0xFF])
    }

    public static func bytes(of address: String) -> [UInt8]? {
        guard let socketAddress = try? SocketAddress(ipAddress: address, port: 0) else { return nil }
        switch socketAddress {
        case .v4(let v4):
            return withUnsafeBytes(of: v4.address.sin_addr.s_addr) { Array($0) }
        case .v6(let v6):
            return withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        default:
            return nil
        }
    }
}
