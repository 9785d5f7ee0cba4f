import NIOConcurrencyHelpers

/// Counts open connections, in total and per client (``ClientKey``: an IPv4 address,
/// an IPv6 /64 by default), against `max_connections` and `max_connections_per_ip`.
final class ConnectionLimiter: Sendable {
    private struct Counts {
        var total = 0
        var perAddress: [ClientKey: Int] = [:]
    }

    private let maximumTotal: Int
    private let maximumPerAddress: Int
    private let ipv6PrefixLength: Int
    private let counts = NIOLockedValueBox(Counts())

    init(maximumTotal: Int, maximumPerAddress: Int, ipv6PrefixLength: Int = ClientKey.defaultIPv6Prefix) {
        self.maximumTotal = maximumTotal
        self.maximumPerAddress = maximumPerAddress
        self.ipv6PrefixLength = ipv6PrefixLength
    }

    /// Takes a slot for `address`; false (and nothing taken) when a limit is reached.
    func acquire(_ address: String) -> Bool {
        let address = ClientKey(address: address, ipv6PrefixLength: ipv6PrefixLength)
        return counts.withLockedValue { counts in
            let current = counts.perAddress[address, default: 0]
            guard counts.total < maximumTotal, current < maximumPerAddress else { return false }
            counts.total += 1
            counts.perAddress[address] = current + 1
            return true
        }
    }

    func release(_ address: String) {
        let address = ClientKey(address: address, ipv6PrefixLength: ipv6PrefixLength)
        counts.withLockedValue { counts in
            counts.total -= 1
            let remaining = counts.perAddress[address, default: 1] - 1
            counts.perAddress[address] = remaining > 0 ? remaining : nil
        }
    }
}
