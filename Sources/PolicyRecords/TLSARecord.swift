/// A TLSA record (RFC 6698 §2.1): which certificate or key of a server's chain
/// must match, how it is matched, and the data to match.
public struct TLSARecord: Sendable, Equatable, CustomStringConvertible {
    /// RFC 7218 §2.1 names; RFC 7672 §3.1 uses only DANE-TA(2) and DANE-EE(3) for SMTP.
    public enum Usage: UInt8, Sendable {
        case pkixTA = 0, pkixEE = 1, daneTA = 2, daneEE = 3
    }

    /// RFC 6698 §2.1.2: the whole certificate, or its SubjectPublicKeyInfo.
    public enum Selector: UInt8, Sendable {
        case certificate = 0, publicKey = 1
    }

    /// RFC 6698 §2.1.3: the data itself, or its SHA-256 or SHA-512 hash.
    public enum Matching: UInt8, Sendable {
        case exact = 0, sha256 = 1, sha512 = 2
    }

    /// Raw values, as published: a record with values Veil does not know is not
    /// usable (RFC 7672 §3.1.3), but it is still a TLSA record that exists.
    public var usage: UInt8
    public var selector: UInt8
    public var matching: UInt8
    public var data: [UInt8]

    /// The rdata of a TLSA record (RFC 6698 §2.1): three octets and the data; nil
    /// when it is too short.
    public init?(rdata: [UInt8]) {
        guard rdata.count >= 4 else { return nil }
        usage = rdata[0]
        selector = rdata[1]
        matching = rdata[2]
        data = Array(rdata[3...])
    }

    public init(usage: Usage, selector: Selector, matching: Matching, data: [UInt8]) {
        self.usage = usage.rawValue
        self.selector = selector.rawValue
        self.matching = matching.rawValue
        self.data = data
    }

    /// RFC 7672 §3.1: only DANE-TA(2) and DANE-EE(3), with a known selector and
    /// matching type, and data of the length the matching type makes (§3.1.3:
    /// "unusable" records are ignored).
    public var isUsable: Bool {
        guard let usage = Usage(rawValue: usage), usage == .daneTA || usage == .daneEE,
              Selector(rawValue: selector) != nil, let matching = Matching(rawValue: matching) else { return false }
        switch matching {
        case .exact: return !data.isEmpty
        case .sha256: return data.count == 32
        case .sha512: return data.count == 64
        }
    }

    /// `3 1 1 3b6c...`, as in a zone file and in log lines.
    public var description: String {
        "\(usage) \(selector) \(matching) " + data.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
