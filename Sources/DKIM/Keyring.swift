/// The configured signing keys (`[[dkim]]`), and which of them sign a message:
/// those of its From: domain, or, for a subdomain, of the closest parent domain
/// whose entries allow subdomains. Several keys of one domain each add a
/// signature (RSA and Ed25519 side by side, RFC 8463 §1).
public struct Keyring: Sendable {
    public struct Entry: Sendable {
        /// In lower-case ASCII (A-labels for an internationalized name, RFC 8616 §5).
        public var domain: String
        public var selector: String
        public var key: SigningKey
        /// Also signs mail From: a subdomain, with `d=` this domain (DMARC relaxed
        /// alignment, RFC 7489 §3.1.1).
        public var subdomains: Bool
        /// Lower-case names of the fields to sign, each once; `from` is always among them.
        public var headers: [String]

        public init(domain: String, selector: String, key: SigningKey, subdomains: Bool, headers: [String]? = nil) {
            self.domain = domain.lowercased()
            self.selector = selector
            self.key = key
            self.subdomains = subdomains
            var seen = Set<String>()
            self.headers = (headers ?? Self.defaultHeaders).map { $0.lowercased() }.filter { seen.insert($0).inserted }
        }

        /// RFC 6376 §5.4.1's recommendations that a relay's mail carries, and
        /// List-Unsubscribe (RFC 8058 §4 requires both list fields signed).
        public static let defaultHeaders = [
            "from", "to", "cc", "subject", "date", "message-id", "in-reply-to", "references", "reply-to",
            "mime-version", "content-type", "content-transfer-encoding", "list-unsubscribe", "list-unsubscribe-post",
        ]
    }

    public let entries: [Entry]
    /// The ASCII form of a From: domain (IDNA), nil when it has none.
    let asciiDomain: @Sendable (String) -> String?

    public init(entries: [Entry], asciiDomain: @escaping @Sendable (String) -> String?) {
        self.entries = entries
        self.asciiDomain = asciiDomain
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// A field name that may go into `h=` (RFC 5322 §3.6.8 ftext, without the `;`
    /// that would end the tag).
    public static func isValidFieldName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { (33...126).contains($0) && $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: ";") }
    }

    /// A selector (RFC 6376 §3.1): dot-separated labels of letters, digits and
    /// hyphens, 63 characters at most each (RFC 1035 §2.3.4).
    public static func isValidSelector(_ selector: String) -> Bool {
        selector.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D
            }
        }
    }

    /// The entries that sign mail From: `domain`, in configuration order.
    func entries(forFromDomain domain: String) -> [Entry] {
        guard let ascii = asciiDomain(domain)?.lowercased() else { return [] }
        let exact = entries.filter { $0.domain == ascii }
        if !exact.isEmpty { return exact }
        let parents = entries.filter { $0.subdomains && ascii.hasSuffix("." + $0.domain) }
        guard let closest = parents.map(\.domain).max(by: { $0.count < $1.count }) else { return [] }
        return parents.filter { $0.domain == closest }
    }
}
