import Connections

/// Addresses that mail for other people's domains is never delivered to: a domain
/// whose MX (or implicit MX) points at them would make Veil, which usually sits in a
/// DMZ, talk SMTP to hosts of the internal network (its own loopback, RFC 1918
/// servers, a cloud metadata service) on behalf of whoever publishes the record.
///
/// Routes (`[[delivery.domain]] route`) and the smarthost are the admin's own choice
/// and are not checked; `[delivery] allow_networks` opens ranges for MX delivery too.
public struct InternalNetworks: Sendable {
    /// Networks an MX address may be in although it is internal.
    public let allowed: [CIDR]

    public init(allowed: [CIDR]) {
        self.allowed = allowed
    }

    /// True when delivery may connect to `address` (text form) found through DNS.
    public func mayConnect(to address: String) -> Bool {
        !Self.isInternal(address) || allowed.contains { $0.contains(address) }
    }

    /// Loopback, private, shared, link-local, unspecified, multicast, reserved and
    /// broadcast IPv4 (RFC 6890); unspecified, loopback, unique local, link- and
    /// site-local and multicast IPv6 (RFC 4291, RFC 4193); and IPv6 forms that
    /// carry an IPv4 address (mapped, compatible, NAT64 RFC 6052, 6to4 RFC 3056),
    /// judged by that address. An address that cannot be read is internal.
    static func isInternal(_ address: String) -> Bool {
        guard let bytes = CIDR.bytes(of: address) else { return true }
        if bytes.count == 4 { return internalIPv4.contains { $0.contains(bytes) } }
        if let embedded = embeddedIPv4(bytes) { return internalIPv4.contains { $0.contains(embedded) } }
        return internalIPv6.contains { $0.contains(bytes) }
    }

    /// The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible
    /// (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d) or 6to4 (2002:AABB:CCDD::) address.
    static func embeddedIPv4(_ bytes: [UInt8]) -> [UInt8]? {
        let zeros = [UInt8](repeating: 0, count: 10)
        if bytes.prefix(10).elementsEqual(zeros) && (bytes[10...11].elementsEqual([0xFF, 0xFF]) || bytes[10...11].elementsEqual([0, 0])) {
            // :: and ::1 are IPv6's own unspecified and loopback addresses.
            return bytes[10] == 0 && bytes[12...14].allSatisfy({ $0 == 0 }) && bytes[15] <= 1 ? nil : Array(bytes[12...15])
        }
        if bytes.prefix(12).elementsEqual([0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0]) { return Array(bytes[12...15]) }
        if bytes[0] == 0x20 && bytes[1] == 0x02 { return Array(bytes[2...5]) }
        return nil
    }

    static let internalIPv4 = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
    ].map { CIDR($0)! }

    static let internalIPv6 = ["::/128", "::1/128", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8"].map { CIDR($0)! }
}
