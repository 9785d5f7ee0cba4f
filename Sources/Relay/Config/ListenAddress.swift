import Connections

/// Where a listener or the metrics endpoint listens: an IP address and a port,
/// written `IPv4:port` or `[IPv6]:port`.
struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    var host: String
    var port: Int

    /// `192.0.2.1:25` or `[2001:db8::1]:25`; the host must be an IP address, the
    /// port 0 (any free port) to 65535.
    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard CIDR.bytes(of: host) != nil else { return nil }
        self.init(host: host, port: port)
    }

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

extension Configuration.Listener {
    /// `address`: ``host`` and ``port`` as one value.
    var address: ListenAddress {
        get { ListenAddress(host: host, port: port) }
        set { (host, port) = (newValue.host, newValue.port) }
    }
}

extension Configuration.Metrics {
    /// `address`: ``host`` and ``port`` as one value; nil: no endpoint.
    var address: ListenAddress? {
        get { host.map { ListenAddress(host: $0, port: port) } }
        set {
            host = newValue?.host
            if let newValue { port = newValue.port }
        }
    }
}
