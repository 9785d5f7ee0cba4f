import NIOConcurrencyHelpers

/// Counts open connections, in total and per client IP, against `max_connections`
/// and `max_connections_per_ip`.
final class ConnectionLimiter: Sendable {
    private struct Counts {
        var total = 0
        var perAddress: [String: Int] = [:]
    }

    private let maximumTotal: Int
    private let maximumPerAddress: Int
    private let counts = NIOLockedValueBox(Counts())

    init(maximumTotal: Int, maximumPerAddress: Int) {
        self.maximumTotal = maximumTotal
        self.maximumPerAddress = maximumPerAddress
    }

    /// Takes a slot for `address`; false (and nothing taken) when a limit is reached.
    func acquire(_ address: String) -> Bool {
        counts.withLockedValue { counts in
            let current = counts.perAddress[address, default: 0]
            guard counts.total < maximumTotal, current < maximumPerAddress else { return false }
            counts.total += 1
            counts.perAddress[address] = current + 1
            return true
        }
    }

    func release(_ address: String) {
        counts.withLockedValue { counts in
            counts.total -= 1
            let remaining = counts.perAddress[address, default: 1] - 1
            counts.perAddress[address] = remaining > 0 ? remaining : nil
        }
    }
}
